"""A large export run by a real Celery worker process: the CSV and the XLSX it writes hold
exactly the filtered cases, and the progress reaches the page."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cases.models import Source
from evaluation.models import ExportJob
from stats import rollup
from tests.base import PASSWORD
from tests.conftest import wait_for
from tests.stats.history import END, START, HistoryMixin

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WEEK = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture
def history(transactional_db):
    class History(HistoryMixin):
        pass

    History.make_history()
    rollup.catch_up_all()
    for case in History.cases.values():
        case.number = f"N{case.pk:05d}"
        case.save(update_fields=["number"])
    return History


def run_job(client, fmt: str, figure: str) -> ExportJob:
    response = client.post(
        reverse("evaluation:export_cases"), {**WEEK, "figure": figure, "format": fmt}
    )
    job = ExportJob.objects.get(format=fmt, params__figure=figure)
    assert response.status_code == 302
    assert response["Location"] == reverse("evaluation:job", args=[job.pk])
    status_url = reverse("evaluation:job_status", args=[job.pk])
    status = wait_for(
        lambda: (s := client.get(status_url).json())["status"] in ("done", "failed") and s,
        seconds=60,
        message=f"the {fmt} export",
    )
    assert status["status"] == "done", status
    assert status["percent"] == 100
    assert status["download"] is True
    page = client.get(reverse("evaluation:job", args=[job.pk])).content.decode()
    assert 'id="export-progress" max="100" value="100"' in page
    return ExportJob.objects.get(pk=job.pk)


def test_the_worker_writes_csv_and_xlsx_holding_the_filtered_cases(
    celery_worker_process, history, settings
):
    settings.GRIDGOV_EXPORT_STREAM_LIMIT = 0
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=history.zhou.username, password=PASSWORD)
    expected_due = sorted(history.cases[n].number for n in "ABCE")

    job = run_job(client, "csv", "due")
    assert (job.rows, job.total) == (4, 4)
    download = client.get(reverse("evaluation:job_download", args=[job.pk]))
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["Case number", "Source", "Stage"]
    assert sorted(r[0] for r in rows[1:]) == expected_due
    by_number = {r[0]: r for r in rows[1:]}
    column = {name: i for i, name in enumerate(rows[0])}
    a = history.cases["A"]
    # As a reader reads them: names, not the codes kept inside.
    assert by_number[a.number][column["Stage"]] == "Closed"
    assert by_number[a.number][column["Source"]] == str(Source(a.source).label)
    assert by_number[a.number][column["Category"]] == a.category.full_code
    assert by_number[a.number][column["Category name"]] == (a.category.name_en or a.category.name)
    assert by_number[a.number][column["Grid"]] == history.g1.code

    job = run_job(client, "xlsx", "reported")
    download = client.get(reverse("evaluation:job_download", args=[job.pk]))
    content = b"".join(download.streaming_content)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Case number"
    assert sorted(r[0] for r in values[1:]) == sorted(history.cases[n].number for n in "ABCDEF")
    assert job.rows == 6
    # Moments are date-and-time cells, in the city's local time, to the second.
    at = values[0].index("Reported at")
    reported = {r[0]: r[at] for r in values[1:]}
    for case in (history.cases[n] for n in "ABCDEF"):
        local = timezone.localtime(case.reported_at).replace(tzinfo=None, microsecond=0)
        assert reported[case.number] == local

    # Another person's link is refused, even a supervisor's.
    other = Client()
    assert other.login(username=history.ada.username, password=PASSWORD)
    assert other.get(reverse("evaluation:job_download", args=[job.pk])).status_code == 404
