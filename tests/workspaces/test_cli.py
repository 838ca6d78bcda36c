"""`relay workspaces create|list`, and `relay users create` / `relay tokens create` across workspaces, as a
person runs them in a shell against a migrated SQLite file."""

from __future__ import annotations

import sqlalchemy as sa

from automation.config import database_url
from tests.integration.conftest import run_relay, shell_env  # noqa: F401 - the shell fixture

PASSWORD = "correct horse battery"


def query(env: dict[str, str], sql: str) -> list[tuple]:
    engine = sa.create_engine(database_url(env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_workspaces_create_then_list_shows_each_with_its_member_count(shell_env):  # noqa: F811
    assert run_relay("users", "create", "ada@example.com", "--password", PASSWORD, env=shell_env).returncode == 0
    created = run_relay("workspaces", "create", "Acme", env=shell_env)

    assert (created.returncode, created.stdout.strip()) == (0, "created workspace 'Acme'")
    listed = run_relay("workspaces", "list", env=shell_env)
    assert listed.stdout.splitlines() == ["Default\t1 member", "Acme\t0 members"]


def test_creating_a_taken_workspace_name_fails_with_one_line(shell_env):  # noqa: F811
    run_relay("workspaces", "create", "Acme", env=shell_env)
    again = run_relay("workspaces", "create", "Acme", env=shell_env)

    assert (again.returncode, again.stderr.strip()) == (1, "relay: a workspace named 'Acme' already exists")


def test_users_create_adds_an_existing_user_to_another_workspace_without_asking_a_password(shell_env):  # noqa: F811
    run_relay("users", "create", "ada@example.com", "--password", PASSWORD, env=shell_env)
    run_relay("workspaces", "create", "Acme", env=shell_env)

    added = run_relay("users", "create", "ada@example.com", "--workspace", "Acme", "--role", "viewer", env=shell_env,
                      stdin="")

    assert added.returncode == 0, added.stderr
    assert "added ada@example.com (viewer) in workspace 'Acme'" in added.stdout
    assert query(shell_env, "SELECT w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id "
                            "ORDER BY w.id") == [("Default", "owner"), ("Acme", "viewer")]


def test_users_create_refuses_a_user_who_is_already_a_member_there(shell_env):  # noqa: F811
    run_relay("workspaces", "create", "Acme", env=shell_env)
    run_relay("users", "create", "ada@example.com", "--password", PASSWORD, "--workspace", "Acme", env=shell_env)

    again = run_relay("users", "create", "ada@example.com", "--workspace", "Acme", env=shell_env)

    assert (again.returncode, again.stderr.strip()) == (1, "relay: a user with email ada@example.com already exists")


def test_tokens_create_acts_in_the_named_workspace_and_is_audited_as_the_cli(shell_env):  # noqa: F811
    run_relay("users", "create", "ada@example.com", "--password", PASSWORD, env=shell_env)
    run_relay("workspaces", "create", "Acme", env=shell_env)
    run_relay("users", "create", "ada@example.com", "--workspace", "Acme", "--role", "editor", env=shell_env)

    issued = run_relay("tokens", "create", "ada@example.com", "--workspace", "Acme", "--name", "ci", env=shell_env)

    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert query(shell_env, "SELECT w.name, t.name FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id") == [
        ("Acme", "ci")]
    entries = query(shell_env, "SELECT action, actor FROM audit_log WHERE action IN "
                               "('token.create', 'member.join', 'workspace.create') ORDER BY id")
    assert entries == [("member.join", "relay cli"), ("workspace.create", "relay cli"),
                       ("member.join", "relay cli"), ("token.create", "relay cli")]
    assert token not in str(query(shell_env, "SELECT before, after FROM audit_log"))
