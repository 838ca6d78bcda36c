"""docker-compose.yml read as a specification, and its services' commands run through the image's entrypoint
script as a container would run them (release first; Docker signals PID 1 only) until /ready answers 200,
the image's HEALTHCHECK passes, a run succeeds and each service stops within its stop_grace_period."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import yaml

from automation.durations import parse_duration
from tests.deploy.dockerfile import stages
from tests.deploy.stack import PROJECT_DIR, run_manual_execution, wait_until_ready

RELAY_SERVICES = ("release", "web", "worker", "scheduler")
ENTRYPOINT = str(PROJECT_DIR / "scripts" / "docker-entrypoint.sh")
DOCKER_STOP_GRACE = "10s"  # what `docker stop` gives a container that does not say otherwise


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def test_compose_runs_relay_with_postgresql_and_redis():
    found = services()

    assert set(found) == {*RELAY_SERVICES, "postgres", "redis"}
    assert found["postgres"]["image"] == "postgres:16"
    assert found["redis"]["image"] == "redis:7"


def test_relay_services_share_one_image_and_differ_by_command():
    found = services()

    assert {(found[name]["build"], found[name]["image"]) for name in RELAY_SERVICES} == {(".", "relay:latest")}
    assert {name: found[name]["command"] for name in RELAY_SERVICES} == {name: [name] for name in RELAY_SERVICES}


def test_web_worker_and_scheduler_wait_for_the_release_to_succeed():
    found = services()

    for name in ("web", "worker", "scheduler"):
        assert found[name]["depends_on"]["release"] == {"condition": "service_completed_successfully"}
    assert found["release"]["restart"] == "no"
    assert "release" not in found["release"]["depends_on"]


def test_relay_services_start_once_postgresql_and_redis_are_healthy():
    found = services()

    for name in RELAY_SERVICES:
        assert found[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert found[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "pg_isready" in " ".join(found["postgres"]["healthcheck"]["test"])
    assert found["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_databases_keep_their_data_in_named_volumes():
    found = services()

    assert set(compose()["volumes"]) == {"postgres-data", "redis-data"}
    assert "postgres-data:/var/lib/postgresql/data" in found["postgres"]["volumes"]
    assert "redis-data:/data" in found["redis"]["volumes"]


def test_settings_come_from_the_env_file_and_secrets_from_nowhere_else():
    found = services()

    for name in RELAY_SERVICES:
        assert found[name]["env_file"] == ".env"
        assert "${POSTGRES_PASSWORD:?" in found[name]["environment"]["DATABASE_URL"]
        assert not {"SECRET_KEY", "RELAY_SECRET_KEYS"} & set(found[name]["environment"])
    assert found["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_only_web_keeps_the_images_http_health_check():
    found = services()

    assert "healthcheck" not in found["web"]
    for name in ("release", "worker", "scheduler"):
        assert found[name]["healthcheck"] == {"disable": True}


def test_entrypoint_commands_start_reach_ready_run_an_execution_and_stop_within_their_grace_period(
    process_set, deploy_env, port, base_url
):
    found = services()
    container = process_set(signal_group=False)
    (health_check,) = stages()[-1].all("HEALTHCHECK")

    container.run("release", [ENTRYPOINT, *found["release"]["command"]])
    for name in ("web", "worker", "scheduler"):
        container.start(name, [ENTRYPOINT, *found[name]["command"]])
    ready = wait_until_ready(base_url, container)
    healthy = subprocess.run(health_check.exec_form(), env={**os.environ, "PORT": str(port)}, timeout=10)
    # `docker compose run --rm web relay ...`: anything else runs as given.
    execution = run_manual_execution(base_url, container, [ENTRYPOINT, "relay"])
    exits = container.stop(timeout=max(_grace(found[name]) for name in ("web", "worker", "scheduler")))

    assert ready["status"] == "ready"
    assert healthy.returncode == 0
    assert execution["status"] == "succeeded", execution
    for name, stopped in exits.items():
        assert stopped.returncode == 0, f"{name}: {stopped}\n{container.output()}"
        assert stopped.seconds < _grace(found[name]), f"{name}: {stopped}"


def _grace(service: dict[str, Any]) -> float:
    return parse_duration(service.get("stop_grace_period", DOCKER_STOP_GRACE)).total_seconds()
