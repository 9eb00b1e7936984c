"""A real HTTP receiver for event feed tests, and short retry delays for the worker.

The worker process reads FEEDS_* from its environment when it starts; the defaults below
are set while conftests are collected, before any test starts the run's worker.
"""

import os
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FEEDS_TEST_ENV = {
    # Tries at 0, 0.5, 1.5, 3.5, 5.5 and 7.5 s; failed after the sixth.
    "FEEDS_RETRY_DELAYS": "0.5,1,2",
    "FEEDS_MAX_ATTEMPTS": "6",
    "FEEDS_TIMEOUT_SECONDS": "3",
    "FEEDS_SWEEP_GRACE_SECONDS": "1",
}
for name, value in FEEDS_TEST_ENV.items():
    os.environ.setdefault(name, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    at: float
    headers: object  # http.client.HTTPMessage: names are case-insensitive
    body: bytes
    status: int


class Receiver:
    """An HTTP server in a thread that records every POST and answers with the next status
    of ``statuses`` (then 200). ``hold`` makes it keep requests waiting until released."""

    def __init__(self, port: int | None = None, statuses=()):
        self.port = port or free_port()
        self.statuses = list(statuses)
        self.requests: list[Received] = []
        self.hold = threading.Event()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gridgov/events"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(Received(time.monotonic(), self.headers, body, status))
                while receiver.hold.is_set():
                    time.sleep(0.05)
                reply = b"stored" if status < 300 else b"database unavailable"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.hold.clear()
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def event_ids(self) -> list[int]:
        return [int(r.headers["X-GridGov-Event"]) for r in self.requests]


@pytest.fixture
def receiver():
    started = []

    def make(port: int | None = None, statuses=(), start: bool = True) -> Receiver:
        made = Receiver(port, statuses)
        if start:
            made.start()
        started.append(made)
        return made

    yield make
    for made in started:
        made.stop()
