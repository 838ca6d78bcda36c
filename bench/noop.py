"""The baseline job for bench/worker_throughput.py: an RQ job that does nothing."""


def noop() -> None:
    return None
