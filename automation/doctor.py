"""``relay doctor``: the readiness checks (automation/readiness.py) plus the configuration an operator gets
wrong — session and encryption keys left generated in production, active workflows that no longer
validate, connections whose secrets no configured key opens — as a ✓/✗ checklist. Details name workflows
and connections, never a secret or a key."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from automation.config import Settings
from automation.models import Connection, Workflow, Workspace, db
from automation.readiness import CheckFailed, CheckResult, run_check, run_checks
from automation.secret_box import SecretsUnreadable, secret_box
from automation.workflow_checks import active_workflow_health

PRODUCTION = "production"
MIN_SECRET_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
PLACEHOLDERS = ("changeme", "change-me", "change_me", "example", "placeholder", "default")
SHOWN = 5


def diagnose(app: Flask, settings: Settings) -> list[CheckResult]:
    """Every readiness check, then the configuration checks; those reading the database are skipped with a
    failed result when the database check failed (it may hang, and the reason is already on its line)."""
    results = run_checks(app)
    database_ok = next(result.ok for result in results if result.name == "database")
    checks: list[tuple[str, Callable[[], str], bool]] = [
        ("secret_key", lambda: secret_key_check(settings), False),
        ("secret_keys", lambda: secret_keys_check(settings), False),
        ("workflows", workflows_check, True),
        ("connections", connections_check, True),
    ]
    for name, check, needs_database in checks:
        if needs_database and not database_ok:
            results.append(CheckResult(name, False, "not checked: database is failing", 0))
        else:
            results.append(_in_session(app, name, check))
    return results


def secret_key_check(settings: Settings) -> str:
    value = settings.SECRET_KEY
    if settings.RELAY_ENV != PRODUCTION:
        return "set" if value else "generated into the instance folder (set SECRET_KEY when RELAY_ENV=production)"
    if not value:
        raise CheckFailed("SECRET_KEY is not set (RELAY_ENV=production): a key generated into the instance folder "
                          "differs per machine and signs everyone out when it is lost; set SECRET_KEY to a long "
                          "random value, e.g. python -c 'import secrets; print(secrets.token_hex(32))'")
    if len(value) < MIN_SECRET_KEY_LENGTH or len(set(value)) < MIN_DISTINCT_CHARACTERS \
            or any(word in value.lower() for word in PLACEHOLDERS):
        raise CheckFailed(f"SECRET_KEY looks like a placeholder or is shorter than {MIN_SECRET_KEY_LENGTH} "
                          "characters; set a long random value, e.g. python -c 'import secrets; "
                          "print(secrets.token_hex(32))'")
    return "set"


def secret_keys_check(settings: Settings) -> str:
    value = settings.RELAY_SECRET_KEYS
    count = len([key for key in (value or "").split(",") if key.strip()])
    if value and count:
        return f"{count} key(s) set"
    if settings.RELAY_ENV == PRODUCTION:
        raise CheckFailed("RELAY_SECRET_KEYS is not set (RELAY_ENV=production): connection secrets are encrypted "
                          "with a key generated into this machine's instance folder; set the same keys on every "
                          "machine (`relay keys generate`)")
    return "generated into the instance folder (set RELAY_SECRET_KEYS when RELAY_ENV=production)"


def workflows_check() -> str:
    health = active_workflow_health()
    if not health.invalid:
        return f"all {health.checked} active workflow(s) validate"
    names = dict(db.session.execute(sa.select(Workflow.id, Workflow.name).where(Workflow.id.in_(health.invalid))).all())
    lines = [f"workflow {workflow_id} {names.get(workflow_id, '')!r}: " + "; ".join(str(p) for p in problems[:3])
             for workflow_id, problems in sorted(health.invalid.items())]
    raise CheckFailed(f"{len(health.invalid)} of {health.checked} active workflow(s) no longer validate; their "
                      "runs will fail:\n" + _listed(lines))


def connections_check() -> str:
    box = secret_box()
    rows = db.session.execute(
        sa.select(Connection.id, Connection.name, Connection.secrets, Workspace.name)
        .join(Workspace, Workspace.id == Connection.workspace_id)
        .where(Connection.secrets.is_not(None))
        .order_by(Workspace.name, Connection.name)
    ).all()
    unreadable = []
    for connection_id, name, secrets, workspace in rows:
        try:
            box.decrypt(secrets)
        except SecretsUnreadable:
            unreadable.append(f"connection {name!r} (id {connection_id}) in workspace {workspace!r}")
    if unreadable:
        raise CheckFailed(f"{len(unreadable)} of {len(rows)} connection(s) cannot be decrypted with any key in "
                          "RELAY_SECRET_KEYS; add back the key they were saved with, or enter their secrets "
                          "again:\n" + _listed(unreadable))
    return f"all {len(rows)} connection(s) with secrets decrypt"


def render(results: list[CheckResult]) -> str:
    """The checklist: one ✓/✗ line per check, a failure's further lines indented under it, then a summary."""
    width = max(len(result.name) for result in results)
    lines = []
    for result in results:
        first, *more = result.detail.splitlines() or [""]
        lines.append(f"{'✓' if result.ok else '✗'} {result.name.ljust(width)}  {first}")
        lines.extend(f"    {line}" for line in more)
    failed = [result.name for result in results if not result.ok]
    lines.append(f"{len(results) - len(failed)} of {len(results)} checks passed"
                 + (f"; needs attention: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def _in_session(app: Flask, name: str, check: Callable[[], str]) -> CheckResult:
    result = run_check(app, name, lambda _app: check())
    # A failed query leaves the session unusable for the next check.
    db.session.rollback()
    return result


def _listed(lines: list[str]) -> str:
    shown = lines[:SHOWN]
    if len(lines) > SHOWN:
        shown.append(f"... and {len(lines) - SHOWN} more")
    return "\n".join(shown)
