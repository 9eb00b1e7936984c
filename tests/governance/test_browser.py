"""Log-in and language switch in real Chromium, on a phone-sized screen."""

import pytest
from django.urls import reverse

from org.models import Role
from tests.base import PASSWORD, PersonasMixin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def personas(transactional_db):
    PersonasMixin.make_personas()
    return PersonasMixin.personas


def test_a_grid_worker_logs_in_on_a_phone_and_switches_language(
    live_server, browser, personas, screenshot
):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server.url + reverse("login"))
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("#id_username", personas[Role.GRID_WORKER].username)
    page.fill("#id_password", PASSWORD)
    screenshot(page, "1-login")
    page.click("button.primary")
    page.wait_for_url(live_server.url + reverse("grids:mine"))
    assert page.locator("h1").inner_text() == "My grids"
    screenshot(page, "2-my-grids")

    page.click('button[name="language"][value="zh-hans"]')
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "我的网格"
    screenshot(page, "3-chinese")

    page.click("#logout")
    page.wait_for_url(live_server.url + reverse("login"))
    context.close()
