import datetime
from io import StringIO

from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from cases.demo import CALLS
from cases.models import OPEN_STAGES, Case, CaseEvent, Category
from cases.routing import router, routing_dry_run
from clocks.models import Clock, ClockStep
from clocks.services import escalations_fire
from grids.models import UnitGrid, locate
from notifications.models import Notification
from org.demo import DEMO_PEOPLE
from org.models import ROLE_HOME, Department, Membership, RoleGrant, User


class DemoDataTestCase(TestCase):
    def test_it_loads_once_and_every_demo_person_lands_home(self):
        out = StringIO()
        call_command("load_demo", stdout=out)
        counts = (Department.objects.count(), User.objects.count(), RoleGrant.objects.count())
        call_command("load_demo", stdout=StringIO())
        self.assertEqual(
            (Department.objects.count(), User.objects.count(), RoleGrant.objects.count()), counts
        )
        self.assertEqual(Department.objects.filter(kind="street_office").count(), 17)
        self.assertFalse(Department.objects.filter(head=None).exists())
        self.assertEqual(Membership.objects.filter(user__username="worker").count(), 1)
        self.assertIn("17 streets, 169 communities", out.getvalue())
        # Every current grid has its responsible worker; the demo worker patrols 4-6 grids.
        current = UnitGrid.objects.current()
        self.assertGreater(current.count(), 300)
        self.assertFalse(current.exclude(assignments__duty="responsible").exists())
        mine = current.covered_by(User.objects.get(username="worker"))
        self.assertTrue(4 <= mine.filter(assignments__duty="responsible").count() <= 6)
        self.assertTrue(locate(mine.first().boundary.point_on_surface).covered)
        # The demo's routing rules own garbage in every street: sanitation gets it.
        where, decision = routing_dry_run(
            point=mine.first().boundary.point_on_surface,
            category=Category.objects.get(full_code="E0102"),
            urgency="normal",
        )
        self.assertEqual(decision.department.code, "dc-sanitation")
        self.assertIn("routing rules", out.getvalue())

        for person in DEMO_PEOPLE:
            with self.subTest(person=person.username):
                self.assertIn(f"{person.username:<12} {person.password}", out.getvalue())
                self.client.logout()
                response = self.client.post(
                    reverse("login"),
                    {"username": person.username, "password": person.password},
                    follow=True,
                )
                self.assertRedirects(response, reverse(ROLE_HOME[person.roles[0]]))

    def test_it_keeps_a_changed_password(self):
        call_command("load_demo", stdout=StringIO())
        officer = User.objects.get(username="officer")
        officer.set_password("a new secret 2026")
        officer.save()
        out = StringIO()
        call_command("load_demo", stdout=out)
        officer.refresh_from_db()
        self.assertTrue(officer.check_password("a new secret 2026"))
        self.assertIn("officer      (changed by an administrator)", out.getvalue())


class DemoHistoryTestCase(TestCase):
    def test_the_past_escalations_fired_when_they_fell_due_not_all_at_load_time(self):
        before = timezone.now()
        out = StringIO()
        call_command("load_demo", cases=400, stdout=out)
        fired = ClockStep.objects.filter(fired_at__isnull=False)
        events = CaseEvent.objects.filter(action="escalate")
        self.assertIn(f"{events.count():,} escalation steps fired on the way", out.getvalue())
        self.assertTrue(fired.exists())
        self.assertFalse(
            ClockStep.objects.filter(fired_at__isnull=True, fire_at__lte=before).exists()
        )
        # At the first minute after it fell due, as the beat's sweep would have; a step
        # made by a recomputation of its clock (after a supervision order, a return) with
        # its moment already past fires in the sweep that made it.
        late = 0
        for step in fired:
            self.assertLess(step.fire_at, step.fired_at)
            self.assertLess(step.fired_at, before)
            self.assertEqual(step.notified_at, step.fired_at)
            late += step.fired_at - step.fire_at > datetime.timedelta(minutes=1)
        self.assertLess(late, fired.count() / 10)
        self.assertEqual(
            set(events.values_list("at", flat=True)), set(fired.values_list("fired_at", flat=True))
        )
        system = router()
        for order in CaseEvent.objects.filter(action="supervise", actor=system):
            self.assertTrue(events.filter(case=order.case, at=order.at).exists())
        # Notifications are dated when they were sent; those older than a day were read.
        notes = Notification.objects.filter(kind__startswith="escalation_")
        self.assertTrue(notes.exists())
        self.assertFalse(notes.filter(created_at__gte=before).exists())
        day_ago = timezone.now() - datetime.timedelta(days=1)
        self.assertFalse(
            notes.filter(
                created_at__lt=day_ago - datetime.timedelta(minutes=5), read_at=None
            ).exists()
        )
        self.assertFalse(notes.filter(created_at__gte=day_ago, read_at__isnull=False).exists())
        # Nothing is left for the first sweep of the new installation.
        self.assertEqual(escalations_fire(), 0)

    def test_a_first_load_adds_a_history_whose_open_cases_have_their_clocks(self):
        out = StringIO()
        call_command("load_demo", cases=400, stdout=out)
        self.assertIn("Demo history: 400 cases over the last 2 months", out.getvalue())
        self.assertIn("2 hotline calls waiting for the grid worker's on-site check", out.getvalue())
        self.assertEqual(Case.objects.count(), 402)
        open_filed = Case.objects.filter(stage__in=OPEN_STAGES, filed_at__isnull=False)
        self.assertTrue(open_filed.exists())
        self.assertFalse(open_filed.filter(clocks=None).exists())
        # Some are overdue: the overdue lists have what the dashboards count.
        running = Clock.objects.filter(state=Clock.State.RUNNING)
        self.assertTrue(running.filter(deadline__lt=timezone.now()).exists())
        self.assertTrue(ClockStep.objects.filter(clock__in=running).exists())
        # The demo grid worker has the two calls to verify on her task list.
        calls = Case.objects.filter(description__in=[text for _code, text in CALLS])
        self.assertEqual(calls.count(), 2)
        self.assertEqual(set(calls.values_list("stage", flat=True)), {"verifying"})
        self.client.force_login(User.objects.get(username="worker"))
        tasks = self.client.get(reverse("cases:tasks"))
        for call in calls:
            self.assertContains(tasks, call.number or call.reference)
        # Only the first time: a second make run keeps the data as it is.
        again = StringIO()
        call_command("load_demo", cases=400, stdout=again)
        self.assertNotIn("Demo history", again.getvalue())
        self.assertEqual(Case.objects.count(), 402)
