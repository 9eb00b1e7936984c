"""Shared fixtures: a real Celery worker process on the test database, and real Chromium."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def database_url_for(settings_dict: dict) -> str:
    """A DATABASE_URL naming the test database that pytest-django created."""
    if settings_dict["ENGINE"].endswith("spatialite"):
        return f"spatialite:///{settings_dict['NAME']}"
    user = settings_dict["USER"]
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgis://{user}{password}@{settings_dict['HOST']}{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """One real `celery worker` process, started once, on the test database and the broker
    this run uses (Redis when REDIS_URL is set, else the filesystem transport)."""
    from django.conf import settings
    from django.db import connection

    from governance.celery import app

    # Tasks left over from an earlier, interrupted run would act on a database that is gone.
    with app.connection_for_write() as conn:
        for queue in settings.GRIDGOV_QUEUES:
            conn.default_channel.queue_purge(queue)
    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict)}
    log_path = Path(settings.VAR_DIR) / "test-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "governance",
            "worker",
            "--queues",
            ",".join(settings.GRIDGOV_QUEUES),
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            "test@%h",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; Playwright never downloads a browser here."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-gpu",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def screenshot(request):
    """Save a screenshot under test-artifacts/<test name>-<step>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
