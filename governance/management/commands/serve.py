import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from org import demo


def web_workers() -> int:
    """Two sync workers per core, at most eight: a worker waits on PostgreSQL and Redis for
    about a third of a case's creation, and a second one per core uses that time
    (bench/bench_api.py on 2 cores: 203-216 requests/s with 2 workers, 232-238 with 4)."""
    return min(2 * (os.cpu_count() or 1), 8)


class Command(BaseCommand):
    help = (
        "Run the web server, one Celery worker and Celery beat together; Ctrl-C stops all"
        " three. The console shows warnings and errors; LOG_LEVEL=INFO shows every request"
        " and task as well."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", web_workers()))
        )

    def handle(self, *args, host, port, web_workers, **options):
        bin_dir = os.path.dirname(sys.executable)
        # Quiet by default: beat sends a task every few seconds and a page polls as often,
        # and at INFO their lines push the address and the logins off the screen at once.
        level = os.environ.get("LOG_LEVEL", "WARNING").upper()
        detailed = level in ("DEBUG", "INFO")
        celery = [os.path.join(bin_dir, "celery"), "-A", "governance"]
        if not detailed:
            celery.append("--quiet")  # no start-up banner
        commands = {
            # Sync workers: the fastest choice for this CPU-bound work.
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "governance.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--log-level",
                level.lower(),
                *(["--access-logfile", "-"] if detailed else []),
            ],
            "worker": [
                *celery,
                "worker",
                "--queues",
                ",".join(settings.GRIDGOV_QUEUES),
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                level,
            ],
            "beat": [
                *celery,
                "beat",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
                "--loglevel",
                level,
            ],
        }
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            environment = {**os.environ, "LOG_LEVEL": level}
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, env=environment)
            people = demo.logins()  # while the servers start
            url = f"http://{host}:{port}/"
            if not self.wait_for(url, processes["web"]):
                raise CommandError(f"The web server did not answer at {url}.")
            self.stdout.write(
                self.style.SUCCESS(f"\nGridGov is running at {url}  (Ctrl-C stops it)")
            )
            if people:
                self.stdout.write("Demo logins (user name, password, person):")
                for line in demo.login_lines(people):
                    self.stdout.write(line)
            if not detailed:
                self.stdout.write(
                    "Warnings and errors show here; LOG_LEVEL=INFO make run shows every request"
                    " and task."
                )
            self.stdout.write("", ending="\n")
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        raise CommandError(
                            f"The {name} process stopped (exit {process.returncode})."
                        )
                time.sleep(0.5)
        finally:
            self.stop_all(processes)

    @staticmethod
    def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                time.sleep(0.3)
        return False

    def stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.stdout.write("Stopped the web server, the worker and beat.")
