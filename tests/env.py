"""Loaded with `-p tests.env` before Django reads its settings (pyproject's addopts)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The test run keeps its own broker folder, so a GridGov running from `make run` on the
# same checkout never takes the tests' tasks (and the other way round).
VAR_DIR = Path(os.environ.get("GRIDGOV_VAR_DIR", ROOT / "var"))
os.environ.setdefault("GRIDGOV_BROKER_DIR", str(VAR_DIR / "test-broker"))
# Playwright's sync API runs an event loop in the test thread; Django's ORM guard would
# refuse every query made while it runs, though nothing here is async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Failed log-ins are counted in each test process's memory, cleared before every test
# (tests/conftest.py), not in the Redis database the run's worker takes its tasks from.
os.environ.setdefault("LOGIN_GUARD_CACHE", "local")
