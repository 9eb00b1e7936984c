"""The dashboard in real Chromium, as a supervisor: it refreshes by itself when a case comes
in, narrows to a place and a period, and drills down to the cases and to one case."""

import re

import pytest
from django.urls import reverse

from stats import rollup
from tests.cases.test_browser_loop import sign_in
from tests.stats.history import END, START, HistoryMixin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(transactional_db):
    class History(HistoryMixin):
        pass

    History.make_history()
    rollup.catch_up_all()
    return History


def number(page, figure: str) -> int:
    return int(page.locator(f"#fig-{figure} .n").inner_text())


def test_the_dashboard_in_chromium(live_server, browser, history, screenshot):
    ctx, page = sign_in(browser, live_server, "zhou")
    page.goto(live_server.url + reverse("stats:dashboard"))
    # The default period ends today, still counting: each line's last step is dashed.
    assert page.locator("#chart-daily polyline:not(.partial)").count() == 3
    assert page.locator("#chart-daily polyline.partial").count() == 3
    reported = number(page, "reported")
    screenshot(page, "1-dashboard")

    # A new case comes in; the periodic catch-up (run here as beat would) reads it, and the
    # open page shows it without being reloaded.
    page.evaluate("window.notReloaded = true")
    case = history().report()
    rollup.catch_up()
    page.wait_for_function(
        f"document.querySelector('#fig-reported .n').textContent.trim() === '{reported + 1}'",
        timeout=10_000,
    )
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "2-refreshed")

    # Narrow down district → street → community, then to the week of the history.
    community = history.community
    for area in (community.parent.parent, community.parent, community):
        page.select_option("#narrow", label=area.name)
        page.wait_for_url(re.compile(rf"area={area.pk}"))
    assert page.locator("#place-name").inner_text() == community.name
    page.fill("#id_start", START.isoformat())
    page.fill("#id_end", END.isoformat())
    page.click("#apply")
    page.wait_for_url(re.compile(rf"start={START.isoformat()}"))
    assert number(page, "reported") == 6
    assert number(page, "closed") == 4
    assert page.locator("#rate-closure").inner_text().count("75.0 %") == 1
    screenshot(page, "3-filtered")

    # The figure drills down to its cases, and a case to its page.
    page.click("#fig-closed")
    page.wait_for_url(re.compile(r"/stats/cases/\?.*figure=closed"))
    assert page.locator("#drill-count").inner_text() == "4"
    assert page.locator(".case-row").count() == 4
    screenshot(page, "4-closed-cases")
    first = page.locator(".case-row a").first
    first.click()
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    shown = int(re.search(r"/cases/(\d+)/$", page.url).group(1))
    assert shown in {history.cases[n].pk for n in "ABCH"}
    assert shown != case.pk
    screenshot(page, "5-case")
    ctx.close()
