"""`make run`'s last step, `manage.py serve`, on a new embedded installation of its own:
the web server, a Celery worker and beat start; the console shows the address and the demo
logins and stays quiet; a case filed through the API is routed by that worker; Ctrl-C
stops all three."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")),
    reason="the embedded default is the embedded run's",
)

MANAGE = [sys.executable, str(ROOT / "manage.py")]
# A point in one of the demo grid worker's grids and the garbage category, from the demo.
WHERE = """
import json
from cases.models import Category
from grids.models import UnitGrid
from org.models import User
grid = UnitGrid.objects.current().covered_by(User.objects.get(username="worker")).first()
point = grid.boundary.point_on_surface
category = Category.objects.get(full_code="E0102").pk
print(json.dumps({"lon": point.x, "lat": point.y, "category": category}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def processes_in_group(group: int) -> list[str]:
    """The command lines of the live processes (not zombies) in a process group."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != group or fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                found.append(cmdline.read().replace(b"\0", b" ").decode())
        except (OSError, IndexError):
            continue  # ended meanwhile
    return found


def test_serve_starts_all_three_prints_the_logins_stays_quiet_and_stops_on_ctrl_c(tmp_path):
    # A user's environment: none of the test run's settings (its broker folder above all,
    # which the run's own worker reads: it would take this installation's tasks).
    test_run = ("DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in test_run and not key.startswith(("GRIDGOV_", "FEEDS_"))
    }
    env["GRIDGOV_VAR_DIR"] = str(tmp_path / "var")
    # As make run prepares it (with a shorter history).
    for command in (
        ["migrate", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
        ["load_demo", "--cases", "300"],
    ):
        done = subprocess.run(
            [*MANAGE, *command], env=env, cwd=ROOT, check=True, capture_output=True
        )
    assert "Demo history: 300 cases over the last 2 months" in done.stdout.decode()
    where = subprocess.run(
        [*MANAGE, "shell", "-c", WHERE], env=env, cwd=ROOT, check=True, capture_output=True
    )
    place = json.loads(where.stdout.decode().strip().splitlines()[-1])

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        serve = subprocess.Popen(
            [*MANAGE, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while "GridGov is running at" not in log.read_text():
            assert serve.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        banner = log.read_text().split("GridGov is running at", 1)[1]
        assert banner.startswith(f" {url}/")
        assert "Demo logins" in banner
        assert "dispatcher   demo-dispatcher" in banner
        assert "supervisor   demo-supervisor" in banner
        commands = processes_in_group(serve.pid)
        for name in ("gunicorn", " worker ", " beat "):
            assert any(name in command for command in commands), (name, commands)

        # The pages' icon, also where browsers look for it unasked.
        with urllib.request.urlopen(f"{url}/login/", timeout=10) as response:
            assert 'rel="icon" href="/static/favicon.svg"' in response.read().decode()
        with urllib.request.urlopen(f"{url}/favicon.ico", timeout=10) as response:
            assert response.url == f"{url}/static/favicon.svg"
            assert response.headers["Content-Type"].startswith("image/svg+xml")

        # A case filed through the API is routed to sanitation by the worker serve started.
        token = call(
            f"{url}/api/v1/auth/token/", {"username": "dispatcher", "password": "demo-dispatcher"}
        )["token"]
        case = call(
            f"{url}/api/v1/cases/",
            {**place, "description": "垃圾堆放", "source": "leader", "file": True},
            token,
        )
        assert case["stage"] == "filed"
        deadline = time.monotonic() + 30
        while (seen := call(f"{url}/api/v1/cases/{case['id']}/", token=token))["stage"] == "filed":
            assert time.monotonic() < deadline, f"not routed in 30 s:\n{log.read_text()}"
            time.sleep(0.3)
        assert seen["stage"] == "dispatched"
        assert seen["department"]["name"] == "东城区环境卫生服务中心"

        # Quiet: beat sends a task every few seconds, and none of it reaches the console.
        time.sleep(4)
        after = log.read_text().split("LOG_LEVEL=INFO make run", 1)[1]
        assert "succeeded in" not in after and "Sending due task" not in after, after
        assert "GET /api/v1/cases" not in after, after  # no access log either
    finally:
        serve.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise
    assert serve.returncode == 0, log.read_text()
    assert "Stopped the web server, the worker and beat." in log.read_text()
    deadline = time.monotonic() + 10
    while (left := processes_in_group(serve.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/healthz", timeout=2)
