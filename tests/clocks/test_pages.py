"""The clocks on the case page, the inbox order and the supervisor's overview."""

import re

import time_machine
from django.urls import reverse

from cases.models import Case, Stage
from cases.routing import ROUTER_NAME
from clocks.models import ClockKind
from org.models import Role

from .base import at
from .test_clocks import ClockTestCase
from .test_escalation import sweep


class OverviewTestCase(ClockTestCase):
    def setUp(self):
        # Monday 09:00, 4 working hours; by Tuesday 09:31 every step has fired.
        self.red = self.handled_from(at(2026, 11, 23, 9))
        sweep(at(2026, 11, 24, 9, 31))
        self.quiet = self.handled_from(at(2026, 11, 24, 9))
        self.late = self.handled_from(at(2026, 11, 24, 9, 5))
        # Overdue, but the sweep has not come round yet.
        Case.objects.filter(pk=self.late.pk).update(deadline=at(2026, 11, 24, 9, 10))

    def test_the_supervisor_sees_cases_by_level(self):
        self.client.force_login(self.zhou)
        with time_machine.travel(at(2026, 11, 24, 9, 20), tick=False):
            response = self.client.get(reverse("cases:overview"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 200)
        sections = {s["key"]: [c.pk for c in s["cases"]] for s in response.context["sections"]}
        self.assertEqual(sections["red"], [self.red.pk])
        self.assertEqual(sections["yellow"], [])
        self.assertEqual(sections["overdue"], [self.late.pk])
        self.assertNotIn(self.quiet.pk, sum(sections.values(), []))
        self.assertContains(response, f'href="{reverse("cases:detail", args=[self.red.pk])}"')
        # The ladder's steps by their names in the reader's language.
        self.assertContains(response, "Red-card supervision")
        # Why its figures differ from the dashboard's and the map's, said on the page.
        self.assertContains(response, "The dashboard's overdue figure counts")
        with time_machine.travel(at(2026, 11, 24, 9, 20), tick=False):
            chinese = self.client.get(reverse("cases:overview"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(chinese, "红牌督办")

    def test_every_other_role_is_refused(self):
        for role, person in self.personas.items():
            if role == Role.SUPERVISOR:
                continue
            with self.subTest(role=role):
                self.client.force_login(person)
                self.assertEqual(self.client.get(reverse("cases:overview")).status_code, 403)
        self.client.force_login(self.nobody)
        self.assertEqual(self.client.get(reverse("cases:overview")).status_code, 403)
        self.client.logout()
        response = self.client.get(reverse("cases:overview"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])

    def test_the_case_page_shows_each_clock_and_the_escalations(self):
        self.client.force_login(self.zhou)
        response = self.client.get(
            reverse("cases:detail", args=[self.red.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(response, 'id="clocks"')
        kinds = [row["clock"].kind for row in response.context["clocks"]]
        self.assertEqual(kinds, ["case", "file", "dispatch", "handle"])
        self.assertContains(response, 'data-clock="case-1" data-light="red"')
        self.assertContains(response, 'data-clock="file-1" data-light=""')
        self.assertContains(response, '<span class="event-action">Escalated</span>', count=6)
        # Each says which clock its step fired on, and who fired it.
        lines = re.findall(
            r'<strong>([^<]+)</strong> · <span class="event-action">Escalated</span>'
            r' · <span class="event-clock">([^<]+)</span>',
            response.content.decode(),
        )
        fired = {
            (e.payload["clock_kind"], e.reason) for e in self.red.events.filter(action="escalate")
        }
        self.assertEqual(len(lines), 6)
        self.assertEqual({who for who, _ in lines}, {ROUTER_NAME})
        self.assertEqual(
            sorted(clock for _, clock in lines),
            sorted(f"{ClockKind(kind).label} clock" for kind, _ in fired),
        )
        self.assertEqual({kind for kind, _ in fired}, {"case", "handle"})

    def test_the_inbox_lists_the_nearest_open_clock_deadline_first(self):
        self.client.force_login(self.chen)
        response = self.client.get(reverse("cases:inbox"))
        listed = [c.pk for c in response.context["cases"]]
        self.assertEqual(listed, [self.red.pk, self.quiet.pk, self.late.pk])
        self.assertEqual(
            [c.due_at for c in response.context["cases"]],
            sorted(c.due_at for c in Case.objects.filter(stage=Stage.IN_PROGRESS)),
        )
