"""Lists of cases keep themselves current in real Chromium: a case dispatched to a
department appears in its officers' open inbox, and an escalated one on the supervisor's
overview, without a reload."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Stage
from clocks.services import escalations_fire
from tests.cases.test_browser_loop import sign_in
from tests.clocks.base import ClockWorldMixin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_open_inbox_shows_a_newly_dispatched_case(live_server, browser, world):
    ctx, page = sign_in(browser, live_server, "chen", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:inbox"))
    assert page.locator("#live-list li[data-case]").count() == 0
    page.evaluate("window.notReloaded = true")

    case = world().case_in(Stage.DISPATCHED)
    assert case.department == world.sanitation
    page.locator(f'#live-list li[data-case="{case.pk}"]').wait_for(timeout=15_000)
    assert page.evaluate("window.notReloaded") is True

    ctx.close()


@pytest.fixture
def clock_world(transactional_db):
    class World(ClockWorldMixin):
        pass

    World.make_clock_world()
    return World


def test_the_supervisors_overview_shows_an_escalated_case(live_server, browser, clock_world):
    world = clock_world
    ctx, page = sign_in(browser, live_server, "zhou", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:overview"))
    assert page.locator("#live-list li[data-case]").count() == 0
    page.evaluate("window.notReloaded = true")

    case = world().case_in(Stage.DISPATCHED)
    # A month on, the ladder has fired on it (the sweep beat runs every minute).
    assert escalations_fire(now=timezone.now() + datetime.timedelta(days=30)) > 0
    page.locator(f'#live-list li[data-case="{case.pk}"]').wait_for(timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    ctx.close()
