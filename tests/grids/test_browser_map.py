"""The grid maps in real Chromium: polygons actually drawn, on a desk and on a phone."""

import pytest
from django.urls import reverse

from grids.models import UnitGrid
from tests.base import PASSWORD, PersonasMixin
from tests.grids.map_data import MapData

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class World(MapData, PersonasMixin):
    pass


@pytest.fixture
def world(transactional_db):
    World.make_personas()
    World.make_map_data()
    return World


def log_in(page, live_server, user):
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server.url + user.home_url())


def test_a_supervisor_sees_every_grid_drawn_on_the_map(live_server, browser, world, screenshot):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, world.zhou)
    page.goto(live_server.url + reverse("grids:map"))
    page.wait_for_selector("#grid-map[data-state=loaded]")

    current = UnitGrid.objects.current()
    unassigned = current.exclude(assignments__duty="responsible").count()
    assert page.locator("path.grid-boundary").count() == current.count()
    assert page.locator("path.grid-boundary.unassigned").count() == unassigned
    assert page.locator("path.community-boundary").count() == 3
    assert page.locator("#grid-map-status").inner_text() == f"{current.count()} unit grids in view."
    screenshot(page, "1-all-grids")

    # Grids are drawn in code order: the first is Wang's.
    page.locator("path.grid-boundary").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert world.east_grids[0].code in popup.inner_text()
    assert "王芳" in popup.inner_text()
    assert world.east.name in popup.inner_text()

    assert int(page.locator("#grid-map").get_attribute("data-zoom")) < 17
    assert page.locator(".leaflet-tooltip.grid-label").count() == 0

    # Close in (a view in the address), each grid carries its code.
    centre = world.east.boundary.centroid
    page.goto(f"{live_server.url}{reverse('grids:map')}#17/{centre.y:.5f}/{centre.x:.5f}")
    page.reload()  # a change of hash alone does not reload
    page.wait_for_selector("#grid-map[data-state=loaded][data-zoom='17']")
    shown = int(page.locator("#grid-map").get_attribute("data-features"))
    assert len(world.east_grids) <= shown < current.count()
    assert page.locator("path.grid-boundary").count() == shown
    labels = page.locator(".leaflet-tooltip.grid-label")
    assert labels.count() == shown
    assert world.east_grids[0].code in labels.all_inner_texts()
    screenshot(page, "2-labels")
    assert errors == []
    context.close()


def test_a_grid_worker_sees_their_grids_on_a_phone(live_server, browser, world, screenshot):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    log_in(page, live_server, world.wang)  # lands on "my grids"
    page.wait_for_selector("#my-grids-map[data-state=loaded]")

    assert page.locator("h1").inner_text() == "My grids"
    assert page.locator("path.grid-boundary").count() == 3
    assert page.locator(".leaflet-tooltip.grid-label").count() == 3
    cards = page.locator(".grid-card h2")
    assert {cards.nth(i).inner_text() for i in range(cards.count())} == world.wang_codes
    assert "Nothing here now." in page.locator("#open-cases").inner_text()
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "1-my-grids")

    page.locator("path.grid-boundary").first.tap()
    selected = page.locator(".grid-card.selected")
    selected.wait_for()
    assert selected.get_attribute("id") == f"grid-{world.east_grids[0].code}"
    assert errors == []
    context.close()
