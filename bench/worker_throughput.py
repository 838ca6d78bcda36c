"""How fast workers drain executions, as ratios against plain RQ no-op jobs measured in the same run.

    python -m bench.worker_throughput [--runs 200]

Uses DATABASE_URL / REDIS_URL when set, else a temporary SQLite file and an embedded Redis. Prints
executions per second for the forking Worker (Relay's default) and for SimpleWorker, each divided by
the no-op baseline of the same worker class, so a noisy machine changes both sides alike.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from rq import Queue, SimpleWorker, Worker

from app import create_app
from automation import ingest
from automation import worker as relay_worker
from automation.embedded_redis import EmbeddedRedis
from automation.models import Execution, ExecutionStatus, Workflow, WorkflowVersion, Workspace, db, utcnow
from automation.redis_client import get_redis

DEFINITION = {"trigger": {"type": "manual"}, "steps": [
    {"id": "a", "uses": "core.set", "with": {"doubled": "{{ trigger.body.n * 2 }}"}},
]}


def drain(queue: Queue, worker_class: type[Worker]) -> float:
    started = time.perf_counter()
    worker_class([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def baseline(app, worker_class: type[Worker], runs: int) -> float:
    queue = Queue(f"bench-noop-{uuid.uuid4().hex[:8]}", connection=get_redis(app))
    for _ in range(runs):
        queue.enqueue("bench.noop.noop", result_ttl=0)
    return runs / drain(queue, worker_class)


def executions(app, worker_class: type[Worker], runs: int) -> float:
    with app.app_context():
        workspace = db.session.query(Workspace).first()
        workflow = db.session.query(Workflow).first()
        ids = [ingest.start_execution(workflow, trigger_kind="manual", payload={"body": {"n": n}})[0].id
               for n in range(runs)]
        queue = Queue(app.config["RELAY_QUEUE"], connection=get_redis(app))
        relay_worker._app = app
        seconds = drain(queue, worker_class)
        done = db.session.query(Execution).filter(Execution.id.in_(ids),
                                                  Execution.status == ExecutionStatus.SUCCEEDED).count()
        assert done == runs, f"only {done} of {runs} executions succeeded"
        assert workspace is not None
    return runs / seconds


def prepare(app) -> None:
    with app.app_context():
        db.create_all()
        workspace = Workspace(name=f"Bench {uuid.uuid4().hex[:8]}")
        db.session.add(workspace)
        db.session.flush()
        workflow = Workflow(workspace_id=workspace.id, name="bench", status="active", hook_token=uuid.uuid4().hex,
                            latest_version_number=1)
        db.session.add(workflow)
        db.session.flush()
        version = WorkflowVersion(workspace_id=workspace.id, workflow_id=workflow.id, number=1,
                                  definition=DEFINITION, params={}, published_at=utcnow())
        db.session.add(version)
        db.session.flush()
        workflow.current_version_id = version.id
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    embedded = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded = EmbeddedRedis(folder / "redis").start()
        redis_url = embedded.url
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                      "RELAY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "WARNING"})
    try:
        prepare(app)
        print(f"{args.runs} runs each; database {database_url.split(':', 1)[0]}")
        for worker_class in (Worker, SimpleWorker):
            base = baseline(app, worker_class, args.runs)
            measured = executions(app, worker_class, args.runs)
            print(f"{worker_class.__name__:>12}: no-op jobs {base:7.1f}/s  executions {measured:7.1f}/s  "
                  f"ratio {measured / base:.2f}")
    finally:
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    main()
