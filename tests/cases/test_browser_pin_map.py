"""The pin maps (the report page, the routing check) in real Chromium: with no base map
(the default), the outlines and the line under the map tell where the pin is."""

import re

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse

from cases.models import Case
from grids.models import locate
from tests.cases.test_browser_loop import PHONE, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tap_map_centre(page, map_id="report-map"):
    box = page.locator(f"#{map_id}").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.getElementById('position-place').dataset.grid !== undefined")


def pinned(page) -> Point:
    return Point(float(page.input_value("#id_lon")), float(page.input_value("#id_lat")), srid=4326)


def test_a_grid_worker_sees_her_grids_and_the_grid_under_the_pin(
    live_server, browser, world, screenshot
):
    # No location access: she places the pin herself, on her own grids.
    ctx, page = sign_in(browser, live_server, "wang", **PHONE)
    page.goto(live_server.url + reverse("cases:report"))
    assert page.locator("#report-map path.grid-boundary.mine").count() == len(world.grids)
    page.wait_for_function("document.getElementById('report-map').dataset.context")
    communities, grids = page.locator("#report-map").get_attribute("data-context").split(",")
    assert (int(communities), int(grids)) == (1, len(world.grids))

    tap_map_centre(page)
    here = locate(pinned(page))
    assert here.grid in world.grids
    expected = f"Grid {here.grid.code}, {world.community.name}, {world.community.parent.name}"
    place = page.locator("#position-place")
    assert place.inner_text() == f"{expected} · grid worker 王芳"
    assert place.get_attribute("data-grid") == here.grid.code
    screenshot(page, "pinned")
    ctx.close()


def test_the_centre_finds_the_callers_community_and_registers_the_call_there(
    live_server, browser, world, screenshot
):
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:report"))
    assert page.locator("h1").inner_text() == "Register a call"
    assert page.locator("#position-text").inner_text().startswith("Find the place the caller")
    # Not placed yet: the pin is faint, and sending says what to do at a desk.
    pin = page.locator(".leaflet-marker-icon")
    assert float(pin.evaluate("e => getComputedStyle(e).opacity")) < 0.5
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "来电反映")
    page.click("#submit-report")
    page.locator(".error", has_text="find the place the caller names").wait_for()
    assert Case.objects.count() == 0
    # The page came back whole: its scripts (the place finder's) run once it has loaded.
    page.wait_for_load_state("load")
    pin = page.locator(".leaflet-marker-icon")
    pin.wait_for()

    page.fill("#place-search", world.community.name[-3:])
    result = page.locator(f'#place-results button[data-code="{world.community.code}"]')
    result.wait_for()
    page.fill("#place-search", "没有这个地方")
    page.locator("#place-results li.empty").wait_for()
    # The arrow keys walk the list; Enter on a match chooses it.
    page.fill("#place-search", "110101")
    result.wait_for()
    page.press("#place-search", "ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.code")
    assert focused == "110101"  # the district: larger areas first
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.code") == world.community.code
    page.keyboard.press("Escape")
    assert page.locator("#place-results").is_hidden()
    page.fill("#place-search", world.community.code)
    result.wait_for()
    page.press("#place-search", "Enter")  # the first match, not the form's submission
    assert Case.objects.count() == 0
    assert page.input_value("#place-search") == world.community.name
    assert page.input_value("#id_lat") == ""  # the middle of a community is not a spot
    assert page.locator("#position-text").inner_text().startswith("Drag the pin")

    assert float(pin.evaluate("e => getComputedStyle(e).opacity")) < 0.5
    tap_map_centre(page)
    here = locate(pinned(page))
    assert here.community == world.community
    assert float(pin.evaluate("e => getComputedStyle(e).opacity")) == 1
    assert page.locator("#position-place").inner_text().startswith(f"Grid {here.grid.code}")

    page.fill("#category-search", "E0102")
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "来电反映：胡同口有一堆建筑垃圾")
    page.fill("#id_citizen_name", "张三")
    page.fill("#id_citizen_phone", "13800000000")
    screenshot(page, "call")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    case = Case.objects.get()
    assert (case.grid, case.community, case.source) == (here.grid, world.community, "hotline")
    ctx.close()


def test_a_point_outside_every_grid_is_said_plainly(live_server, browser, world):
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:report"))
    # The city's extent is larger than the community with grids: its corner has none.
    box = page.locator("#report-map").bounding_box()
    page.mouse.click(box["x"] + 60, box["y"] + box["height"] - 30)
    page.wait_for_function("document.getElementById('position-place').dataset.grid !== undefined")
    assert locate(pinned(page)).grid is None
    assert page.locator("#position-place").inner_text() == (
        "Outside every unit grid: no grid worker covers it, and the dispatch desk decides."
    )
    assert page.locator("#position-place").get_attribute("data-grid") == ""
    ctx.close()


def test_the_routing_check_takes_its_point_from_the_map(live_server, browser, world):
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:routing"))
    page.fill("#place-search", world.community.code)
    page.locator(f'#place-results button[data-code="{world.community.code}"]').wait_for()
    page.press("#place-search", "Enter")
    tap_map_centre(page, "routing-map")
    here = locate(pinned(page))
    assert here.community == world.community
    page.select_option("#id_category", value=str(world.category.pk))
    page.click("#dry-run button.primary")
    page.wait_for_url(re.compile(r"\?lon="))
    result = page.locator("#dry-run-result").inner_text()
    assert f"grid {here.grid.code}" in result
    # The checked point stays on the map and in the fields, to be moved and checked again.
    assert locate(pinned(page)).grid == here.grid
    page.wait_for_function("document.getElementById('position-place').dataset.grid")
    assert page.locator("#position-place").get_attribute("data-grid") == here.grid.code
    # Typed coordinates move the pin and say where they fall.
    outside = world.community.parent.parent.boundary.extent[:2]
    page.fill("#id_lon", f"{outside[0] + 0.001:.6f}")
    page.fill("#id_lat", f"{outside[1] + 0.001:.6f}")
    page.press("#id_lat", "Tab")
    page.wait_for_function("document.getElementById('position-place').dataset.grid === ''")
    ctx.close()


def test_a_grid_is_found_by_its_code(live_server, browser, world):
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:report"))
    grid = world.grids[3]
    page.fill("#place-search", grid.code)
    result = page.locator(f'#place-results button[data-code="{grid.code}"]')
    result.wait_for()
    assert result.inner_text() == f"{grid.code} · {world.community.name}"
    page.press("#place-search", "Enter")
    tap_map_centre(page)
    assert locate(pinned(page)).grid == grid
    assert page.locator("#position-place").get_attribute("data-grid") == grid.code
    ctx.close()


def test_back_after_a_registered_call_shows_an_empty_form_not_the_last_caller(
    live_server, browser, world
):
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:report"))
    tap_map_centre(page)
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "来电反映：胡同口有一堆建筑垃圾")
    page.fill("#id_citizen_name", "张三")
    page.fill("#id_citizen_phone", "13800000000")
    key = page.input_value("input[name=submission]")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    page.go_back()
    page.wait_for_load_state()
    page.wait_for_timeout(300)
    # The next caller starts from an empty form with a key of its own.
    assert page.input_value("#id_citizen_name") == ""
    assert page.input_value("#id_citizen_phone") == ""
    assert page.input_value("#id_description") == ""
    assert page.input_value("input[name=submission]") not in ("", key)
    assert Case.objects.count() == 1
    ctx.close()
