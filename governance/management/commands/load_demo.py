from django.core.management.base import BaseCommand

from org import demo as org_demo


class Command(BaseCommand):
    help = "Load the demo district, its departments and one demo person per role (idempotent)."

    def handle(self, *args, **options):
        people = org_demo.load()
        self.stdout.write(self.style.SUCCESS("Demo data is loaded. Demo logins:"))
        for person, password_works in people:
            roles = ", ".join(str(role.label) for role in person.roles)
            password = person.password if password_works else "(changed by an administrator)"
            self.stdout.write(f"  {person.username:<12} {password:<20} {person.full_name}: {roles}")
