"""ecosystem.config.js, loaded by node as PM2 loads it: the three apps, their restart, stop and log settings,
and their commands started as PM2 starts them (script and args, the app's env over the caller's, the app's
instances) until /ready answers 200, a run succeeds and SIGTERM stops each within its kill_timeout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.stack import PROJECT_DIR, run_manual_execution, wait_until_ready

SECRET_NAMES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "RELAY_SECRET_KEYS")


def load_apps(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    script = "process.stdout.write(JSON.stringify(require(process.argv[1])))"
    loaded = subprocess.run(["node", "-e", script, str(PROJECT_DIR / "ecosystem.config.js")], env=env,
                            capture_output=True, text=True, check=True, timeout=30)
    return {app["name"]: app for app in json.loads(loaded.stdout)["apps"]}


def test_ecosystem_declares_web_worker_and_scheduler():
    apps = load_apps()

    assert list(apps) == ["relay-web", "relay-worker", "relay-scheduler"]
    assert {app["cwd"] for app in apps.values()} == {str(PROJECT_DIR)}
    assert apps["relay-web"]["script"] == "gunicorn"
    assert apps["relay-web"]["args"][-1] == "app:app"
    assert [apps["relay-worker"]["script"], *apps["relay-worker"]["args"]] == ["relay", "worker"]
    assert [apps["relay-scheduler"]["script"], *apps["relay-scheduler"]["args"]] == ["relay", "scheduler"]


def test_every_app_restarts_with_exponential_backoff():
    for app in load_apps().values():
        assert app["autorestart"] is True
        assert app["exp_backoff_restart_delay"] > 0


def test_every_app_is_stopped_with_sigterm_and_given_time_to_finish():
    apps = load_apps()

    assert {app["kill_signal"] for app in apps.values()} == {"SIGTERM"}
    # A worker finishes the run in flight: at least a couple of step timeouts (30 s each by default).
    assert apps["relay-worker"]["kill_timeout"] >= 60_000
    # Longer than gunicorn's graceful timeout, so requests in flight are answered.
    web_args = apps["relay-web"]["args"]
    assert apps["relay-web"]["kill_timeout"] > int(web_args[web_args.index("--graceful-timeout") + 1]) * 1000


def test_every_app_logs_to_its_own_files_in_the_instance_folder():
    for name, app in load_apps().items():
        assert Path(app["out_file"]) == PROJECT_DIR / "instance" / "logs" / f"{name}.out.log"
        assert Path(app["error_file"]) == PROJECT_DIR / "instance" / "logs" / f"{name}.err.log"


def test_worker_instances_follow_relay_workers():
    env = {k: v for k, v in os.environ.items() if k != "RELAY_WORKERS"}

    assert load_apps({**env, "RELAY_WORKERS": "3"})["relay-worker"]["instances"] == 3
    assert load_apps(env)["relay-worker"]["instances"] == 1


def test_no_setting_or_secret_is_written_into_the_file():
    for app in load_apps().values():
        assert not set(app["env"]) & set(SECRET_NAMES)
        assert app["interpreter"] == "none"


def test_pm2_commands_start_reach_ready_run_an_execution_and_stop_within_their_kill_timeout(
    process_set, deploy_env, base_url
):
    apps = load_apps({**deploy_env, "RELAY_WORKERS": "2"})
    # PM2 kills the whole process tree of an app, as a signal to the process group does.
    pm2 = process_set(signal_group=True)

    pm2.run("release", ["relay", "db", "upgrade"])
    for name, app in apps.items():
        for instance in range(app["instances"]):
            pm2.start(f"{name}-{instance}", [app["script"], *app["args"]], env=app["env"])
    ready = wait_until_ready(base_url, pm2)
    execution = run_manual_execution(base_url, pm2, ["relay"])
    exits = pm2.stop(timeout=max(app["kill_timeout"] for app in apps.values()) / 1000)

    assert ready["status"] == "ready"
    assert execution["status"] == "succeeded", execution
    assert set(exits) == {"relay-web-0", "relay-worker-0", "relay-worker-1", "relay-scheduler-0"}
    for name, stopped in exits.items():
        assert stopped.returncode == 0, f"{name}: {stopped}\n{pm2.output()}"
        assert stopped.seconds < apps[name.rsplit("-", 1)[0]]["kill_timeout"] / 1000
