"""The Dockerfile without a Docker daemon: hadolint, its stages read as a specification (a slim final stage
without compilers, a non-root user, a health check, no secrets), and its builder's install commands run in a
fresh virtualenv on a copy of the build context the .dockerignore lets through."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.deploy.dockerfile import copy_build_context, dockerignore, instructions, stages
from tests.deploy.stack import PROJECT_DIR

BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|libpq-dev|python3-dev)\b")
SECRET_NAMES = ("SECRET_KEY", "RELAY_SECRET_KEYS", "DATABASE_URL", "REDIS_URL", "SENTRY_DSN", "PASSWORD")


def test_hadolint_finds_nothing_to_fix():
    linted = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(PROJECT_DIR / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_builder_stage_comes_before_a_slim_python_final_stage():
    builder, final = stages()

    assert builder.name == "builder"
    assert re.fullmatch(r"python:3\.\d+-slim", final.base)
    assert final.base == builder.base, "the venv's interpreter must be the same Python in both stages"


def test_final_stage_takes_only_the_venv_and_the_app_from_the_builder():
    final = stages()[-1]

    copies = [i.args for i in final.all("COPY")]
    assert copies == ["--from=builder /opt/venv /opt/venv", "--from=builder /app /app"]
    assert not any(BUILD_TOOLS.search(run.args) for run in final.all("RUN"))
    assert not any("apt-get install" in run.args for run in final.all("RUN"))


def test_build_tools_are_installed_in_the_builder_only():
    builder = stages()[0]

    assert any(BUILD_TOOLS.search(run.args) for run in builder.all("RUN"))


def test_final_stage_runs_as_a_non_root_user():
    users = [i.args.split(":")[0] for i in stages()[-1].all("USER")]

    assert users and users[-1] not in ("root", "0")


def test_health_check_calls_health_with_pythons_urllib():
    (check,) = stages()[-1].all("HEALTHCHECK")
    command = check.exec_form()

    assert command[:2] == ["python", "-c"]
    assert "urllib.request.urlopen" in command[2] and "/health" in command[2]


def test_image_listens_on_8000_and_starts_through_the_entrypoint_script():
    final = stages()[-1]
    (entrypoint,) = final.all("ENTRYPOINT")

    assert [i.args for i in final.all("EXPOSE")] == ["8000"]
    assert final.env()["PORT"] == "8000"
    assert final.env()["PYTHONUNBUFFERED"] == "1"
    assert entrypoint.exec_form() == ["/app/scripts/docker-entrypoint.sh"]
    assert [i.exec_form() for i in final.all("CMD")] == [["web"]]
    assert os.access(PROJECT_DIR / "scripts" / "docker-entrypoint.sh", os.X_OK)


def test_no_secret_is_baked_into_the_image():
    for instruction in instructions():
        if instruction.keyword.upper() in ("ENV", "ARG"):
            assert not any(name in instruction.args for name in SECRET_NAMES), instruction


def test_build_context_leaves_out_secrets_tests_and_local_state():
    kept = [pattern[1:] for pattern in dockerignore() if pattern.startswith("!")]

    assert dockerignore()[0] == "*"
    assert not {".env", "instance", "tests", ".git", ".venv"} & {path.split("/")[0] for path in kept}
    assert "scripts/docker-entrypoint.sh" in kept and "migrations" in kept


def test_builder_commands_install_relay_into_a_fresh_virtualenv_pointing_at_the_app_folder(tmp_path):
    builder = stages()[0]
    (workdir,) = (Path(i.args) for i in builder.all("WORKDIR"))
    app_dir = tmp_path / workdir.relative_to("/")
    copy_build_context(app_dir)
    venv = tmp_path / "venv"
    # The machine's Python plays the base image's; the image keeps no pip cache, the test may use this one's.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_NO_CACHE_DIR")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in builder.env().items():
        if key != "PIP_NO_CACHE_DIR":
            env[key] = str(venv) if key == "VIRTUAL_ENV" else _expand(value, env)

    for run in builder.all("RUN"):
        if run.args.startswith("apt-get"):  # system packages of the base image
            continue
        done = subprocess.run(["sh", "-c", run.args], cwd=app_dir, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # Run from elsewhere: the venv itself must know where the app is, as the `relay` script does in the image.
    help_text = subprocess.run([str(venv / "bin" / "relay"), "--help"], capture_output=True, text=True,
                               cwd=venv, env=env, timeout=60)
    migrations = subprocess.run([str(venv / "bin" / "python"), "-c", "import app; print(app.MIGRATIONS)"],
                                capture_output=True, text=True, cwd=venv, env=env, timeout=60)
    assert help_text.returncode == 0 and "scheduler" in help_text.stdout, help_text.stderr
    assert migrations.stdout.strip() == str(app_dir / "migrations"), migrations.stderr
    assert (venv / "bin" / "gunicorn").exists()


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
