"""Who may see which evaluation and download which export, as every role."""

import csv
import io
from unittest import skipUnless

from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from cases.models import Source, Stage
from evaluation.models import ExportJob
from org.models import Role
from stats import rollup
from tests.base import PASSWORD
from tests.stats.history import END, START, HistoryMixin

WEEK = {"start": START.isoformat(), "end": END.isoformat()}


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


class EvaluationPagesTestCase(HistoryMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_history()
        rollup.catch_up_all()
        for case in cls.cases.values():
            case.number = f"N{case.pk:05d}"
            case.save(update_fields=["number"])

    def setUp(self):
        self.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def login(self, user):
        self.client.login(username=user.username, password=PASSWORD)

    def test_who_may_see_the_evaluation(self):
        url = reverse("evaluation:evaluation")
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")
        expected = {
            Role.ADMINISTRATOR: 200,
            Role.SUPERVISOR: 200,
            Role.OFFICER: 200,
            Role.SHIFT_LEADER: 403,
            Role.DISPATCHER: 403,
            Role.GRID_WORKER: 403,
        }
        for role, person in self.personas.items():
            self.login(person)
            with self.subTest(role=role):
                self.assertEqual(self.client.get(url, WEEK).status_code, expected[role])
                printable = self.client.get(url, {**WEEK, "print": 1})
                self.assertEqual(printable.status_code, expected[role])
        self.login(self.nobody)
        self.assertEqual(self.client.get(url, WEEK).status_code, 403)

    def test_the_supervisor_sees_every_department_and_an_officer_only_theirs(self):
        self.login(self.zhou)
        response = self.client.get(reverse("evaluation:evaluation"), WEEK)
        self.assertContains(response, f'<tr data-key="{self.sanitation.pk}">')
        self.assertContains(response, "62.3")
        # Chen works in sanitation: sees it. An officer of landscaping sees nothing of it.
        self.login(self.chen)
        response = self.client.get(reverse("evaluation:evaluation"), WEEK)
        self.assertContains(response, f'<tr data-key="{self.sanitation.pk}">')
        self.assertContains(response, "Your department")
        other = self.make_officer_of_landscaping()
        self.login(other)
        response = self.client.get(reverse("evaluation:evaluation"), WEEK)
        self.assertNotContains(response, f'<tr data-key="{self.sanitation.pk}">')
        self.assertNotContains(response, "62.3")

    def make_officer_of_landscaping(self):
        from tests.base import make_person

        return make_person("landscaper", Role.OFFICER, department=self.landscaping)

    @skipUnless(connection.vendor == "postgresql", "PostgreSQL plans")
    def test_the_scores_are_read_with_plans_for_their_own_period(self):
        self.login(self.zhou)
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(
                self.client.get(reverse("evaluation:evaluation"), WEEK).status_code, 200
            )
        sql = [q["sql"] for q in queries.captured_queries]
        first = next(i for i, s in enumerate(sql) if "stats_" in s)
        self.assertIn("SET LOCAL plan_cache_mode = force_custom_plan", sql[:first])

    def test_the_printable_report_has_print_css_and_no_page_chrome(self):
        self.login(self.zhou)
        response = self.client.get(reverse("evaluation:evaluation"), {**WEEK, "print": 1})
        self.assertContains(response, "evaluation/evaluation.css")
        self.assertContains(response, "window.print()")
        self.assertNotContains(response, "<header")

    def test_the_evaluation_table_exports_to_csv_and_xlsx(self):
        self.login(self.zhou)
        url = reverse("evaluation:evaluation")
        rows = read_csv(self.client.get(url, {**WEEK, "level": "community", "format": "csv"}))
        self.assertEqual(rows[0][:5], ["Evaluated", "Rank", "Name", "Score", "Grade"])
        by_name = {r[2]: r for r in rows[1:]}
        self.assertEqual(
            by_name[self.community.name][1:5], ["1", self.community.name, "50.62", "D"]
        )
        self.assertEqual(by_name[self.sanitation.name][3:5], ["62.33", "C"])
        self.assertEqual(by_name["Grid worker post"][1], "")  # posts are not ranked
        response = self.client.get(url, {**WEEK, "level": "community", "format": "xlsx"})
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        values = list(sheet.iter_rows(values_only=True))
        self.assertEqual(len(values), len(rows))
        self.assertEqual({r[2]: r[4] for r in values[1:]}[self.sanitation.name], "C")

    def test_a_small_case_export_streams_the_filtered_cases(self):
        self.login(self.zhou)
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "due", "format": "csv"}
        )
        self.assertEqual(response.status_code, 200)
        rows = read_csv(response)
        self.assertEqual({r[0] for r in rows[1:]}, {self.cases[n].number for n in "ABCE"})
        self.assertFalse(ExportJob.objects.exists())

    def test_a_grid_worker_exports_only_what_they_may_see(self):
        from tests.base import make_person

        # Wang covers both grids: every case reported in the week.
        self.login(self.wang)
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "reported", "format": "csv"}
        )
        numbers = {r[0] for r in read_csv(response)[1:]}
        self.assertEqual(numbers, {self.cases[n].number for n in "ABCDEF"})
        # A grid worker covering no grid today and who reported nothing: no rows.
        self.login(make_person("qin", Role.GRID_WORKER))
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "reported", "format": "csv"}
        )
        self.assertEqual(len(read_csv(response)), 1)
        # A shift leader sees no dashboard, so exports nothing.
        self.login(self.zhao)
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "reported", "format": "csv"}
        )
        self.assertEqual(response.status_code, 403)
        self.login(self.nobody)
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "reported", "format": "csv"}
        )
        self.assertEqual(response.status_code, 403)

    def test_bad_filters_are_refused_with_a_message(self):
        self.login(self.zhou)
        response = self.client.post(
            reverse("evaluation:export_cases"),
            {"start": END, "end": START, "figure": "reported", "format": "pdf"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "The period must start before it ends.", status_code=400)

    @override_settings(GRIDGOV_EXPORT_STREAM_LIMIT=2)
    def test_a_large_export_becomes_a_job_that_only_its_owner_sees(self):
        self.login(self.zhou)
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "reported", "format": "xlsx"}
        )
        job = ExportJob.objects.get()
        self.assertRedirects(response, reverse("evaluation:job", args=[job.pk]))
        self.assertEqual((job.owner, job.total, job.status), (self.zhou, 6, "queued"))
        page = self.client.get(reverse("evaluation:job", args=[job.pk]))
        self.assertContains(page, 'id="export-progress" max="100" value="0"')
        status = self.client.get(reverse("evaluation:job_status", args=[job.pk])).json()
        self.assertEqual((status["status"], status["percent"], status["total"]), ("queued", 0, 6))
        # Not ready yet: no download.
        download = reverse("evaluation:job_download", args=[job.pk])
        self.assertEqual(self.client.get(download).status_code, 404)
        # Anyone else, whatever their role, is refused the page, the status and the file.
        for role, person in self.personas.items():
            if person == self.zhou:
                continue
            self.login(person)
            with self.subTest(role=role):
                for name in ("job", "job_status", "job_download"):
                    url = reverse(f"evaluation:{name}", args=[job.pk])
                    self.assertEqual(self.client.get(url).status_code, 404)
        self.client.logout()
        self.assertEqual(self.client.get(download).status_code, 302)
        # Expired: refused to its owner too.
        ExportJob.objects.filter(pk=job.pk).update(status="done", expires_at=timezone.now())
        self.login(self.zhou)
        self.assertEqual(self.client.get(download).status_code, 404)

    def test_the_pages_in_chinese(self):
        self.login(self.zhou)
        self.client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
        response = self.client.get(reverse("evaluation:evaluation"), WEEK)
        self.assertContains(response, "<h1>综合评价</h1>", html=True)
        self.assertContains(response, "按期结案率")
        self.assertContains(response, "岗位")
        response = self.client.get(reverse("evaluation:export_cases"))
        self.assertContains(response, "导出案卷")
        # The export reads in Chinese too: the stage and the source by their names.
        response = self.client.post(
            reverse("evaluation:export_cases"), {**WEEK, "figure": "due", "format": "csv"}
        )
        rows = read_csv(response)
        column = {name: i for i, name in enumerate(rows[0])}
        a = {r[0]: r for r in rows[1:]}[self.cases["A"].number]
        with translation.override("zh-hans"):
            self.assertEqual(a[column["环节"]], str(Stage.CLOSED.label))
            self.assertEqual(a[column["来源"]], str(Source(self.cases["A"].source).label))
        self.assertEqual(a[column["类别名称"]], self.cases["A"].category.name)
