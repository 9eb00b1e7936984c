"""Shared fixtures: a real Celery worker process on the test database, and real Chromium."""

import os
import shutil
import signal
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


def start_worker(name: str = "test", **env_overrides) -> subprocess.Popen:
    """Start a real `celery worker` process on the test database and this run's broker
    (Redis when REDIS_URL is set, else the filesystem transport); wait until it is ready."""
    from django.conf import settings
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict),
        **env_overrides,
    }
    log_path = Path(settings.VAR_DIR) / f"{name}-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
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
                f"{name}@%h",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class WorkerHandle:
    """The run's worker; a test that kills it starts it again with ``restart()``."""

    def __init__(self):
        self.process = start_worker()

    def poll(self):
        return self.process.poll()

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as an OOM killer would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self) -> None:
        if self.process.poll() is None:
            stop_worker(self.process)
        self.process = start_worker()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """One real worker for the whole run."""
    from governance.celery import purge_queues

    # Tasks left over from an earlier, interrupted run would act on a database that is gone.
    purge_queues()
    handle = WorkerHandle()
    yield handle
    stop_worker(handle.process)


def wait_for(condition, seconds: float = 30, message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {seconds} s waiting for {message}.")
        time.sleep(0.2)


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


def pytest_configure(config):
    """Passwords are hashed with a fast hasher in the test run: Django's PBKDF2 spends a
    third of a second per password on purpose, and the suite makes and checks thousands
    of them. The product's own hasher is checked in tests/governance/test_settings.py."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


@pytest.fixture(autouse=True)
def messages_in_english():
    """Tests read domain messages in English; pages still follow each request's language
    (LocaleMiddleware activates it per request)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def no_failed_logins_counted():
    """Each test starts with no wrong password counted (tests/env.py keeps the counts in
    the process's memory)."""
    from django.core.cache import caches

    caches["local"].clear()


@pytest.fixture(scope="session", autouse=True)
def claims_connection_closed(django_db_setup):
    """Routing claims round-robin turns on a connection of its own (PostgreSQL): closed
    before the test database is dropped, which an open connection would prevent."""
    yield
    from cases.routing import close_claims_connections

    close_claims_connections()
