"""A real Celery worker process for the benchmarks, on the benchmark database and broker,
started as tests/conftest.py starts the tests' worker (and with the benchmark's tasks)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def start(name: str = "bench", concurrency: int = 2) -> subprocess.Popen:
    log_path = Path(settings.VAR_DIR) / f"{name}-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "governance",
                "worker",
                "--include",
                "bench.tasks",
                "--queues",
                ",".join(settings.GRIDGOV_QUEUES),
                "--concurrency",
                str(concurrency),
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"{name}@%h",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
