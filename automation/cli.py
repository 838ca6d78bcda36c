"""The ``relay`` command: up, worker, scheduler, doctor, db, workspaces, users, tokens, workflows, templates, keys,
retention.

Every command builds the app through ``create_app`` (settings from the environment); a bad setting
prints one line naming the variable and exits 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn

import click
from flask import Flask

from automation.config import ConfigError


def _app() -> Flask:
    from app import create_app  # noqa: PLC0415 - keeps `relay --help` free of app start-up

    return create_app()


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"relay: {message}", err=True)
    sys.exit(code)


def with_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Build the app and run the command inside its context; a database failure is one line, not a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

        app = _app()
        with app.app_context():
            try:
                return command(app, *args, **kwargs)
            except DBAPIError as exc:
                _fail(_database_problem(exc))

    return wrapper


def _database_problem(exc: Exception) -> str:
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    # SQLite says "no such table", PostgreSQL "relation ... does not exist" (UndefinedTable).
    if "no such table" in first_line or type(cause).__name__ == "UndefinedTable":
        return f"the database has no Relay schema yet ({first_line}); run `relay db upgrade` first"
    return f"the database refused the command: {first_line}"


@click.group()
def cli() -> None:
    """Relay: workflow automation. Run `relay up` to start everything locally."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address the web server listens on")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def up(host: str, port: int) -> None:
    """Start web, worker and scheduler together (SQLite and an embedded Redis unless configured)."""
    from automation.supervisor import run_all  # noqa: PLC0415

    sys.exit(run_all(host, port))


@cli.command()
@click.option("--burst", is_flag=True, help="stop when the queue is empty")
def worker(burst: bool) -> None:
    """Run an RQ worker that executes workflow runs."""
    from automation.worker import run_worker  # noqa: PLC0415

    run_worker(_app(), burst=burst)


@cli.command()
def scheduler() -> None:
    """Run the scheduler: fires schedules and puts stranded runs back on the queue."""
    from automation.scheduler import run_scheduler  # noqa: PLC0415

    run_scheduler(_app())


@cli.command()
@with_app
def doctor(app: Flask) -> None:
    """Check readiness and configuration: a ✓/✗ checklist; exit 0 when healthy, 1 when something needs attention."""
    from automation.config import Settings  # noqa: PLC0415
    from automation.doctor import diagnose, render  # noqa: PLC0415

    results = diagnose(app, Settings.from_env())
    click.echo(render(results))
    sys.exit(0 if all(result.ok for result in results) else 1)


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command()
@with_app
def upgrade(app: Flask) -> None:
    """Bring the database schema up to date."""
    from flask_migrate import upgrade as alembic_upgrade  # noqa: PLC0415

    from app import MIGRATIONS  # noqa: PLC0415

    alembic_upgrade(directory=MIGRATIONS)
    click.echo("database schema is up to date")


@db.command()
@with_app
def current(app: Flask) -> None:
    """Show the schema revision the database is at."""
    from flask_migrate import current as alembic_current  # noqa: PLC0415

    from app import MIGRATIONS  # noqa: PLC0415

    alembic_current(directory=MIGRATIONS)


@db.command()
@click.argument("revision", default="-1")
@with_app
def downgrade(app: Flask, revision: str) -> None:
    """Undo migrations: one step by default, or down to REVISION (`base` empties the database)."""
    from flask_migrate import downgrade as alembic_downgrade  # noqa: PLC0415

    from app import MIGRATIONS  # noqa: PLC0415

    alembic_downgrade(directory=MIGRATIONS, revision=revision)
    click.echo("database schema went back one migration" if revision == "-1" else f"database schema is at {revision}")


# Who the audit trail names for changes made from the shell (there is no signed-in person).
CLI_ACTOR = "relay cli"


@cli.group()
def workspaces() -> None:
    """Workspaces (tenants): each has its own workflows, connections and members."""


@workspaces.command("create")
@click.argument("name")
@with_app
def create_workspace(app: Flask, name: str) -> None:
    """Create an empty workspace; add people with `relay users create EMAIL --workspace NAME`."""
    from automation.members import MemberError  # noqa: PLC0415
    from automation.members import create_workspace as create  # noqa: PLC0415

    try:
        workspace = create(name, owner=None, actor_label=CLI_ACTOR)
    except MemberError as exc:
        _fail(str(exc))
    click.echo(f"created workspace {workspace.name!r}")


@workspaces.command("list")
@with_app
def list_workspaces(app: Flask) -> None:
    """Every workspace with its number of members (the first one is where commands act by default)."""
    from automation.members import all_workspaces  # noqa: PLC0415

    for workspace, count in all_workspaces():
        click.echo(f"{workspace.name}\t{count} member{'' if count == 1 else 's'}")


@cli.group()
def users() -> None:
    """People who sign in to Relay."""


@users.command("create")
@click.argument("email")
@click.option("--role", default="owner", show_default=True,
              type=click.Choice(["owner", "editor", "viewer", "approver"]))
@click.option("--password", help="prompted for (hidden) when omitted; not asked for a user who already has an account")
@click.option("--name", default="", help="display name")
@click.option("--workspace", default=None, help="workspace name (default: the first workspace)")
@with_app
def create_user(app: Flask, email: str, role: str, password: str | None, name: str, workspace: str | None) -> None:
    """Create a user with a role in a workspace, or add an existing user to another workspace."""
    import sqlalchemy as sa  # noqa: PLC0415

    from automation.accounts import AccountError  # noqa: PLC0415
    from automation.accounts import create_user as create  # noqa: PLC0415
    from automation.models import User, db  # noqa: PLC0415

    existing = db.session.scalar(sa.select(User.id).where(User.email == email.strip().lower())) is not None
    if password is None and not existing:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create(email, password or "", role, name=name, workspace=workspace, actor_label=CLI_ACTOR)
    except AccountError as exc:
        _fail(str(exc))
    where = f" in workspace {workspace!r}" if workspace else ""
    if existing:
        click.echo(f"added {user.email} ({role}){where}; their password is unchanged")
    else:
        click.echo(f"created {user.email} ({role}){where}")


@cli.group()
def tokens() -> None:
    """API tokens for /api/v1."""


@tokens.command("create")
@click.argument("email")
@click.option("--workspace", default=None, help="workspace name (default: the first workspace)")
@click.option("--name", default="", help="what the token is for")
@click.option("--read-only", is_flag=True, help="the token may only read")
@with_app
def create_token(app: Flask, email: str, workspace: str | None, name: str, read_only: bool) -> None:
    """Print a new bearer token for the user (shown this once only)."""
    from automation.accounts import AccountError, create_api_token  # noqa: PLC0415

    try:
        token = create_api_token(email, workspace=workspace, name=name, read_only=read_only, actor_label=CLI_ACTOR)
    except AccountError as exc:
        _fail(str(exc))
    click.echo(token)
    click.echo("Keep this token: it is not shown again. Use it as 'Authorization: Bearer <token>'.", err=True)


@cli.group()
def workflows() -> None:
    """Workflows as files: export and import (connections by name, never secrets)."""


@workflows.command("export")
@click.argument("workflow_id", type=int)
@click.option("--format", "file_format", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--workspace", default=None, help="workspace name (default: the first workspace)")
@with_app
def export_workflow(app: Flask, workflow_id: int, file_format: str, workspace: str | None) -> None:
    """Print the workflow's latest version as a file to import elsewhere."""
    import sqlalchemy as sa  # noqa: PLC0415

    from automation.accounts import AccountError, find_workspace  # noqa: PLC0415
    from automation.models import Workflow, db  # noqa: PLC0415
    from automation.workflow_files import dump, export_data  # noqa: PLC0415

    try:
        ws = find_workspace(workspace)
    except AccountError as exc:
        _fail(str(exc))
    workflow = db.session.scalar(
        sa.select(Workflow).where(Workflow.id == workflow_id, Workflow.workspace_id == ws.id))
    if workflow is None:
        _fail(f"no workflow {workflow_id} in workspace {ws.name!r}")
    click.echo(dump(export_data(workflow), file_format), nl=False)


@workflows.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--workspace", default=None, help="workspace name (default: the first workspace)")
@click.option("--name", default=None, help="name of the new workflow (default: the file's)")
@with_app
def import_workflow(app: Flask, file: Any, workspace: str | None, name: str | None) -> None:
    """Create a draft workflow from an exported file (`-` reads standard input)."""
    from automation.accounts import AccountError, find_workspace  # noqa: PLC0415
    from automation.definitions import DefinitionError  # noqa: PLC0415
    from automation.workflow_files import import_data, parse_file  # noqa: PLC0415

    try:
        ws = find_workspace(workspace)
        workflow = import_data(ws.id, parse_file(file.read()), name=name)
    except AccountError as exc:
        _fail(str(exc))
    except DefinitionError as exc:
        _fail("the file is not a valid workflow:\n" + "\n".join(f"  {p}" for p in exc.problems))
    except UnicodeDecodeError:
        _fail("the file is not UTF-8 text")
    click.echo(f"imported workflow {workflow.id} ({workflow.name}) as a draft; publish it to run it")


@cli.group()
def templates() -> None:
    """The template library (templates_library/)."""


@templates.command("validate")
def validate_templates() -> None:
    """Check every template: its fields, its parameters' examples and defaults, and its definition."""
    from automation.template_checks import check_library  # noqa: PLC0415

    reports = check_library()
    for report in reports:
        click.echo(f"{'✗' if report.problems else '✓'} {report.key}")
        for problem in report.problems:
            click.echo(f"    {problem}")
    failed = sum(1 for report in reports if report.problems)
    click.echo(f"{len(reports) - failed} of {len(reports)} templates are valid")
    if failed:
        sys.exit(1)


@cli.group()
def keys() -> None:
    """Fernet keys that encrypt connection secrets (RELAY_SECRET_KEYS)."""


@keys.command("generate")
def generate_key() -> None:
    """Print a new key: put it first in RELAY_SECRET_KEYS, keep the old ones after it, then rotate."""
    from automation.secret_box import generate_key as new_key  # noqa: PLC0415

    click.echo(new_key())


@keys.command("rotate")
@with_app
def rotate_keys(app: Flask) -> None:
    """Re-encrypt every connection's secrets under the first key of RELAY_SECRET_KEYS."""
    from automation.connections import rotate_all  # noqa: PLC0415
    from automation.secret_box import secret_box  # noqa: PLC0415

    rotated, unreadable = rotate_all(secret_box())
    click.echo(f"re-encrypted {rotated} connection(s) under the first key")
    if unreadable:
        _fail(f"{len(unreadable)} connection(s) could not be decrypted with any key and were left as they are: "
              + ", ".join(unreadable))


@cli.group()
def retention() -> None:
    """Deleting finished runs, schedule fires and audit entries past their retention (RELAY_RETENTION_DAYS)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="only count what would be deleted")
@with_app
def run_retention(app: Flask, dry_run: bool) -> None:
    """Delete now what the scheduler's daily retention pass would delete, and say how much it was."""
    from automation.retention import run  # noqa: PLC0415

    click.echo(run(dry_run=dry_run).describe())


def main() -> None:
    """Entry point of the ``relay`` console script."""
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        _fail(str(exc), code=2)


if __name__ == "__main__":
    main()
