import time

from django.core.management.base import BaseCommand

from cases import demo as cases_demo
from cases.models import Case
from cases.synthetic import generate_cases
from clocks.demo import replay_escalations
from clocks.services import clocks_recompute
from grids import demo as grids_demo
from org import demo as org_demo
from org.models import User

# The demo's history: enough for the map, the dashboards and the overdue lists to show
# something on a first run, written in a few seconds on SpatiaLite.
HISTORY_MONTHS = 2


class Command(BaseCommand):
    help = (
        "Load the demo district, its departments and one demo person per role (idempotent);"
        " with --cases, a history of synthetic cases the first time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cases",
            type=int,
            default=0,
            help=(
                f"synthetic cases reported over the last {HISTORY_MONTHS} months, added only"
                " when there is no case yet (make run: 3000)"
            ),
        )

    def handle(self, *args, cases, **options):
        started = time.monotonic()
        people = org_demo.load()
        geography = grids_demo.load()
        geography["routing rules"] = cases_demo.load()
        summary = ", ".join(f"{count} {what}" for what, count in geography.items())
        self.stdout.write(f"Dongcheng district: {summary} ({time.monotonic() - started:.1f} s).")
        if cases > 0 and not Case.objects.exists():
            started = time.monotonic()
            stats = generate_cases(cases=cases, months=HISTORY_MONTHS, parallel=False)
            # The open ones get their clocks and escalation steps, as filed cases do: the
            # overdue lists and escalations agree with the dashboards' figures.
            clocked = clocks_recompute()
            # The ladder's sweeps of those months, at the minutes they would have run.
            escalated = replay_escalations()
            calls = cases_demo.hotline_calls(
                User.objects.get(username="dispatcher"), User.objects.get(username="worker")
            )
            self.stdout.write(
                f"Demo history: {stats.cases:,} cases over the last {HISTORY_MONTHS} months,"
                f" {clocked:,} of them open with their clocks, {escalated:,} escalation"
                f" steps fired on the way; {len(calls)} hotline calls"
                f" waiting for the grid worker's on-site check"
                f" ({time.monotonic() - started:.1f} s)."
            )
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Demo logins:"))
        for line in org_demo.login_lines(people):
            self.stdout.write(line)
