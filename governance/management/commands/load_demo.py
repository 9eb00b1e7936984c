import time

from django.core.management.base import BaseCommand

from cases import demo as cases_demo
from grids import demo as grids_demo
from org import demo as org_demo


class Command(BaseCommand):
    help = "Load the demo district, its departments and one demo person per role (idempotent)."

    def handle(self, *args, **options):
        started = time.monotonic()
        people = org_demo.load()
        geography = grids_demo.load()
        geography["routing rules"] = cases_demo.load()
        summary = ", ".join(f"{count} {what}" for what, count in geography.items())
        self.stdout.write(f"Dongcheng district: {summary} ({time.monotonic() - started:.1f} s).")
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Demo logins:"))
        for line in org_demo.login_lines(people):
            self.stdout.write(line)
