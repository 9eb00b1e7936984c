"""The shared case map in real Chromium: cases drawn from the tiles (vector tiles on
PostGIS, GeoJSON on SpatiaLite), a filter, a popup that leads to the case, counts per area
when zoomed out, a new case appearing by itself, and a grid worker's phone."""

import pytest
from django.urls import reverse

from tests.base import PASSWORD, PersonasMixin
from tests.maps.base import MapWorldMixin, centre_of, make_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class World(MapWorldMixin, PersonasMixin):
    pass


@pytest.fixture
def world(transactional_db):
    from django.core.cache import cache

    cache.clear()
    World.make_personas()
    World.make_map_world()
    return World


def log_in(page, live_server, user):
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server.url + user.home_url())


def shown_cases(page) -> list[int]:
    return page.evaluate("window.caseMap.shown().cases")


def wait_for_cases(page, ids, timeout=15_000):
    expected = sorted(ids)
    page.wait_for_function(
        "([ids]) => { const el = document.getElementById('case-map');"
        " return el.dataset.state === 'loaded'"
        " && JSON.stringify(window.caseMap.shown().cases) === JSON.stringify(ids); }",
        arg=[expected],
        timeout=timeout,
    )


# Zoom 15 over the three communities: every case of the world is in view.
VIEW = "#15/39.9150/116.4060"


def test_a_supervisor_filters_the_map_and_opens_a_case(live_server, browser, world, screenshot):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, world.zhou)
    page.goto(live_server.url + reverse("maps:map") + VIEW)
    page.wait_for_selector("#case-map[data-state=loaded]")

    # Open cases by default: every one but d (closed), each drawn as a path.
    wait_for_cases(page, world.ids("a", "b", "c", "e", "f"))
    assert page.locator("path.case-point").count() >= 5
    assert page.locator("path.case-point.light-red").count() >= 2  # c and f
    assert page.locator("path.case-point.light-yellow").count() >= 1  # b
    assert page.locator("#case-map-status").inner_text() == "5 cases in view."
    screenshot(page, "1-open-cases")

    page.select_option("#id_department", str(world.sanitation.pk))
    wait_for_cases(page, world.ids("a", "b"))
    assert f"department={world.sanitation.pk}" in page.url
    screenshot(page, "2-sanitation")

    # a is the only green case left: click it, read the popup, follow its link.
    page.locator("path.case-point.light-green").first.click()
    popup = page.locator(".case-popup")
    popup.locator(".ref").wait_for()
    assert popup.locator(".ref").inner_text() == world.a.reference
    assert "环卫中心" in popup.inner_text()
    screenshot(page, "3-popup")
    popup.locator("a.case-link").click()
    page.wait_for_url(live_server.url + reverse("cases:detail", args=(world.a.pk,)))
    assert page.locator("#case-number").inner_text() == world.a.reference
    screenshot(page, "4-case-page")

    # Zoomed out: one street holding the five open cases, shaded.
    page.goto(live_server.url + reverse("maps:map") + "?stage=open#11/39.9150/116.4060")
    page.wait_for_function(
        "() => document.getElementById('case-map').dataset.state === 'loaded'"
        " && Object.keys(window.caseMap.shown().areas).length > 0"
    )
    assert page.evaluate("window.caseMap.shown().areas") == {str(world.street.pk): 5}
    assert page.locator("path.case-area").count() >= 1
    assert "5 cases in 1 areas" in page.locator("#case-map-status").inner_text()
    screenshot(page, "5-per-street")

    # A case outside every community is in no area's count: it is drawn as itself.
    from django.contrib.gis.geos import Point

    outside = make_case(point=Point(116.4100, 39.9250, srid=4326))
    page.reload()
    page.wait_for_function(
        "([id]) => document.getElementById('case-map').dataset.state === 'loaded'"
        " && window.caseMap.shown().cases.includes(id)",
        arg=[outside.pk],
    )
    assert page.evaluate("window.caseMap.shown().areas") == {str(world.street.pk): 5}
    assert (
        page.locator("#case-map-status")
        .inner_text()
        .endswith("1 case outside every grid is shown as a point.")
    )
    screenshot(page, "6-outside-every-grid")
    assert errors == []
    context.close()


def test_a_new_case_appears_on_an_open_map_by_itself(live_server, browser, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    log_in(page, live_server, world.li)
    page.goto(live_server.url + reverse("maps:map") + VIEW)
    wait_for_cases(page, world.ids("a", "b", "c", "e", "f"))
    version = int(page.locator("#case-map").get_attribute("data-version"))

    new = make_case(point=centre_of(world.east_grids[1]), department=world.sanitation)
    # Polled every few seconds: the new case shows without any reload by the person.
    wait_for_cases(page, world.ids("a", "b", "c", "e", "f") | {new.pk}, timeout=10_000)
    assert int(page.locator("#case-map").get_attribute("data-version")) > version
    context.close()


def test_a_grid_worker_sees_their_grids_cases_on_a_phone(live_server, browser, world, screenshot):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, world.wang)
    page.click(f".quicknav a[href='{reverse('maps:map')}']")
    page.wait_for_selector("#case-map[data-state=loaded]")
    # The map opens over Wang's own grids, close enough for single cases.
    assert int(page.locator("#case-map").get_attribute("data-zoom")) >= 14
    wait_for_cases(page, world.ids("a", "b", "f"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "1-phone")

    page.locator("path.case-point.light-yellow").first.tap()
    page.locator(".case-popup .ref").wait_for()
    assert page.locator(".case-popup .ref").inner_text() == world.b.reference
    screenshot(page, "2-phone-popup")
    assert errors == []
    context.close()
