"""In real Chromium, as a supervisor: the evaluation and its printable report, then a case
export started on the page, prepared by a real Celery worker while the progress bar moves,
and downloaded."""

import csv
import io
import re

import pytest
from django.urls import reverse

from evaluation import defaults
from evaluation.models import Grade, KpiWeight
from stats import rollup
from tests.cases.test_browser_loop import sign_in
from tests.conftest import ARTIFACTS
from tests.stats.history import END, START, HistoryMixin

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(transactional_db):
    class History(HistoryMixin):
        pass

    History.make_history()
    # The migration seeds them; flushes between transactional tests remove them.
    defaults.load(KpiWeight, Grade)
    rollup.catch_up_all()
    for case in History.cases.values():
        case.number = f"N{case.pk:05d}"
        case.save(update_fields=["number"])
    return History


def test_evaluation_and_an_export_in_chromium(
    live_server, browser, celery_worker_process, history, screenshot, settings
):
    settings.GRIDGOV_EXPORT_STREAM_LIMIT = 0  # every export goes to the worker
    ctx, page = sign_in(browser, live_server, "zhou")
    week = f"start={START.isoformat()}&end={END.isoformat()}"
    page.goto(f"{live_server.url}{reverse('evaluation:evaluation')}?{week}&level=community")
    row = page.locator(f'#eval-departments tr[data-key="{history.sanitation.pk}"]')
    assert row.locator(".score").inner_text() == "62.3"
    assert row.locator(".grade").inner_text() == "C"
    screenshot(page, "1-evaluation")
    page.click("#print-link")
    page.wait_for_url(re.compile(r"print=1"))
    page.emulate_media(media="print")
    assert page.locator(".no-print").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "test_evaluation_and_an_export_in_chromium-report.pdf"))
    screenshot(page, "2-printable")
    page.emulate_media(media="screen")

    page.goto(live_server.url + reverse("evaluation:export_cases"))
    page.select_option("#id_figure", "due")
    page.fill("#id_start", START.isoformat())
    page.fill("#id_end", END.isoformat())
    page.select_option("#id_format", "csv")
    page.click("#start-export")
    page.wait_for_url(re.compile(r"/evaluation/exports/\d+/$"))
    assert page.locator("#export-progress").count() == 1
    screenshot(page, "3-job")
    page.wait_for_selector("#export-download:not([hidden])", timeout=60_000)
    assert page.locator("#export-progress").evaluate("e => e.value") == 100
    assert page.locator("#export-rows").inner_text() == "4"
    screenshot(page, "4-ready")
    with page.expect_download() as info:
        page.click("#export-download")
    body = open(info.value.path(), encoding="utf-8-sig").read()
    numbers = sorted(r[0] for r in list(csv.reader(io.StringIO(body)))[1:])
    assert numbers == sorted(history.cases[n].number for n in "ABCE")
    ctx.close()
