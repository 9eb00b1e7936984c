"""The dashboard and the lists behind its figures, as every role."""

import datetime
import re
from unittest import skipUnless

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.models import GridAssignment
from org.models import Role
from stats import rollup
from tests.base import PASSWORD
from tests.stats.history import END, START, HistoryMixin

WEEK = {"start": START.isoformat(), "end": END.isoformat()}


def figure(response, name: str) -> int:
    found = re.search(
        rf'id="fig-{name}"[^>]*><span class="n">(\d+)</span>', response.content.decode()
    )
    return int(found.group(1))


class PagesTestCase(HistoryMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_history()
        GridAssignment.objects.create(grid=cls.g2, worker=cls.qian, duty="deputy")
        rollup.catch_up_all()

    def setUp(self):
        # Pages in English, unless a test chooses Chinese.
        self.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def login(self, user):
        self.client.login(username=user.username, password=PASSWORD)

    def test_it_lets_in_supervisors_administrators_officers_and_grid_workers(self):
        url = reverse("stats:dashboard")
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")
        allowed = {Role.SUPERVISOR, Role.ADMINISTRATOR, Role.OFFICER, Role.GRID_WORKER}
        for role, person in self.personas.items():
            self.login(person)
            for name in ("stats:dashboard", "stats:version"):
                response = self.client.get(reverse(name), WEEK)
                self.assertEqual(
                    response.status_code, 200 if role in allowed else 403, (role, name)
                )
            response = self.client.get(reverse("stats:cases"), {**WEEK, "figure": "reported"})
            self.assertEqual(response.status_code, 200 if role in allowed else 403, role)
        self.login(self.nobody)
        self.assertEqual(self.client.get(reverse("stats:dashboard")).status_code, 403)

    def test_the_supervisor_sees_every_figure_with_its_denominator(self):
        self.login(self.zhou)
        response = self.client.get(reverse("stats:dashboard"), WEEK)
        self.assertEqual(figure(response, "reported"), 6)
        self.assertEqual(figure(response, "filed"), 5)
        self.assertEqual(figure(response, "closed"), 4)
        self.assertContains(response, "75.0 %")  # closure rate 3 / 4
        self.assertContains(response, "cases filed in the period and due to close")
        self.assertContains(response, "dispatches in the period")
        self.assertContains(response, 'id="chart-daily"')
        self.assertContains(response, self.g1.code)
        # The link in the header.
        self.assertContains(response, f'href="{reverse("stats:dashboard")}"')

    def test_weeks_cut_by_the_period_and_today_are_drawn_dashed_and_said(self):
        self.login(self.zhou)
        url = reverse("stats:dashboard")
        whole = self.client.get(url, WEEK)  # Monday to Sunday, in the past
        for name in ("daily_chart", "weekly_chart"):
            self.assertFalse(whole.context[name]["partial"])
        self.assertNotContains(whole, "<figcaption")
        self.assertNotContains(whole, ' partial"')  # no line or dot drawn as partial

        # Wednesday to the next Wednesday: five days of one week and three of the next.
        cut = {
            "start": (START + datetime.timedelta(days=2)).isoformat(),
            "end": (END + datetime.timedelta(days=3)).isoformat(),
        }
        response = self.client.get(url, cut)
        weekly = response.context["weekly_chart"]
        self.assertEqual([w["days"] for w in response.context["figures"]["weekly"]], [5, 3])
        self.assertEqual([dot[2] for dot in weekly["lines"][0]["dots"]], [True, True])
        self.assertEqual([segment["dashed"] for segment in weekly["lines"][0]["segments"]], [True])
        self.assertContains(response, "a week only partly in the period")
        self.assertContains(response, 'class="line key-reported partial"')
        self.assertNotContains(response, "today, still counting")

        today = timezone.localdate()
        response = self.client.get(
            url, {"start": (today - datetime.timedelta(days=9)).isoformat(), "end": today}
        )
        dots = response.context["daily_chart"]["lines"][0]["dots"]
        self.assertEqual([dot[2] for dot in dots], [False] * 9 + [True])
        self.assertContains(response, "today, still counting")
        # The week that holds today is still going, however many of its days are in.
        self.assertTrue(response.context["weekly_chart"]["lines"][0]["dots"][-1][2])

    def test_the_period_taken_by_default_shows_in_the_date_fields(self):
        self.login(self.zhou)
        today = timezone.localdate()
        response = self.client.get(reverse("stats:dashboard"))
        start = (today - datetime.timedelta(days=29)).isoformat()
        self.assertContains(response, f'name="start" value="{start}"')
        self.assertContains(response, f'name="end" value="{today.isoformat()}"')
        # A date typed wrongly stays in its field, to be put right there.
        response = self.client.get(
            reverse("stats:dashboard"), {"start": "2026-02-30", "area": self.community.pk}
        )
        self.assertContains(response, "Enter a valid date.", status_code=400)
        self.assertContains(response, 'name="start" value="2026-02-30"', status_code=400)
        self.assertContains(response, f'name="end" value="{today.isoformat()}"', status_code=400)
        self.assertContains(response, f'name="area" value="{self.community.pk}"', status_code=400)

    def test_a_place_narrows_the_figures(self):
        self.login(self.zhou)
        response = self.client.get(reverse("stats:dashboard"), {**WEEK, "grid": self.g1.pk})
        self.assertEqual(figure(response, "reported"), 3)
        self.assertContains(response, self.community.name)  # in the breadcrumbs
        response = self.client.get(reverse("stats:dashboard"), {**WEEK, "area": self.community.pk})
        self.assertEqual(figure(response, "reported"), 6)
        self.assertContains(response, f'<option value="{self.g2.pk}">{self.g2.code}</option>')
        self.assertEqual(
            self.client.get(reverse("stats:dashboard"), {**WEEK, "area": 999999}).status_code, 404
        )

    def test_bad_periods_are_refused_with_a_message(self):
        self.login(self.zhou)
        response = self.client.get(reverse("stats:dashboard"), {"start": END, "end": START})
        self.assertContains(response, "The period must start before it ends.", status_code=400)
        response = self.client.get(reverse("stats:dashboard"), {"start": "2020-01-01"})
        self.assertContains(response, "at most 400 days", status_code=400)
        response = self.client.get(reverse("stats:cases"), {"figure": "nonsense"})
        self.assertEqual(response.status_code, 400)

    def test_an_officer_and_a_grid_worker_see_their_own_figures(self):
        self.login(self.chen)
        response = self.client.get(reverse("stats:dashboard"), WEEK)
        self.assertEqual(figure(response, "reported"), 5)
        self.assertContains(response, "Figures of your department")
        self.login(self.qian)
        response = self.client.get(reverse("stats:dashboard"), WEEK)
        self.assertEqual(figure(response, "reported"), 3)
        # A grid outside their grids is not theirs to look at.
        response = self.client.get(reverse("stats:dashboard"), {**WEEK, "grid": self.g1.pk})
        self.assertEqual(response.status_code, 404)

    def test_each_list_shows_the_cases_behind_its_figure(self):
        self.login(self.zhou)
        response = self.client.get(reverse("stats:cases"), {**WEEK, "figure": "closed"})
        listed = {int(pk) for pk in re.findall(r'data-case="(\d+)"', response.content.decode())}
        self.assertEqual(listed, {self.cases[n].pk for n in "ABCH"})
        self.assertContains(response, '<span id="drill-count">4</span>', html=False)
        self.assertContains(response, reverse("cases:detail", args=[self.cases["A"].pk]))
        self.assertNotContains(response, 'id="drill-events"')
        # A figure of events (reworks) says why its list of cases may be shorter.
        response = self.client.get(reverse("stats:cases"), {**WEEK, "figure": "reworks"})
        self.assertContains(response, 'id="drill-events"')
        # The officer's list leaves out the other department's case.
        self.login(self.sun)
        response = self.client.get(reverse("stats:cases"), {**WEEK, "figure": "backlog"})
        listed = {int(pk) for pk in re.findall(r'data-case="(\d+)"', response.content.decode())}
        self.assertEqual(listed, {self.cases["G"].pk})

    def test_the_list_runs_a_fixed_number_of_queries(self):
        self.login(self.zhou)
        self.client.get(reverse("stats:cases"), {**WEEK, "figure": "reported"})
        # session, user, roles, the count, the page of cases, with the header's unread
        # count; on PostgreSQL in a transaction that plans them for their own values.
        with self.assertNumQueries(6 + 3 * (connection.vendor == "postgresql")):
            self.client.get(reverse("stats:cases"), {**WEEK, "figure": "reported"})

    @skipUnless(connection.vendor == "postgresql", "PostgreSQL plans")
    def test_the_figures_are_read_with_plans_for_their_own_values(self):
        self.login(self.zhou)
        for url, params in (
            (reverse("stats:dashboard"), WEEK),
            (reverse("stats:cases"), {**WEEK, "figure": "closed"}),
        ):
            for _ in range(2):  # prepared statements come into play from the 5th run
                self.client.get(url, params)
            with self.subTest(url=url), CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(url, params).status_code, 200)
            sql = [q["sql"] for q in queries.captured_queries]
            first = next(i for i, s in enumerate(sql) if "stats_" in s or "cases_case" in s)
            self.assertIn("SET LOCAL plan_cache_mode = force_custom_plan", sql[:first])

    def test_the_version_changes_when_figures_do(self):
        self.login(self.zhou)
        before = self.client.get(reverse("stats:version")).json()["version"]
        self.report()  # a new case, through the workflow
        self.assertEqual(self.client.get(reverse("stats:version")).json()["version"], before)
        rollup.catch_up()
        self.assertEqual(self.client.get(reverse("stats:version")).json()["version"], before + 1)

    def test_the_page_speaks_chinese(self):
        self.login(self.zhou)
        self.client.post(reverse("set_language"), {"language": "zh-hans"})
        response = self.client.get(reverse("stats:dashboard"), WEEK)
        self.assertContains(response, "结案率")
        self.assertContains(response, "分母：统计期内立案且应结案的案件")
        self.assertContains(response, "高发网格")
