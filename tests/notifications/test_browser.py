"""The bell in the header and the inbox in real Chromium, on a phone-sized screen."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notify
from tests.base import PASSWORD, PersonasMixin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(transactional_db):
    PersonasMixin.make_personas()
    return PersonasMixin


def test_an_officer_reads_notifications_from_the_header(live_server, browser, people, screenshot):
    for key, title in (("a", "Case E0102 is overdue"), ("b", "Supervision order issued")):
        notify([people.chen], kind="t", title=title, body="东华门大街南侧", dedup_key=key)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "chen")
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(live_server.url + reverse("cases:inbox"))
    assert page.locator("#unread-count").inner_text() == "2"
    screenshot(page, "1-header")

    page.click("#bell")
    page.wait_for_url(live_server.url + reverse("notifications:inbox"))
    assert page.locator("#notifications li.unread").count() == 2
    assert page.locator("#notifications li").first.inner_text().count("Supervision order") == 1
    screenshot(page, "2-inbox")

    page.locator("#notifications li.unread button").first.click()
    page.wait_for_load_state()
    assert page.locator("#unread-count").inner_text() == "1"
    page.click("#read-all")
    page.wait_for_load_state()
    assert page.locator("#unread-count").inner_text() == ""
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    screenshot(page, "3-all-read")

    page.click('button[name="language"][value="zh-hans"]')
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("通知")
    screenshot(page, "4-chinese")
    context.close()
