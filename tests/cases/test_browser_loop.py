"""The closed loop in real Chromium, by four people, the grid worker on a phone."""

import re

import pytest
from django.urls import reverse

from cases.models import Case, Stage
from tests.base import PASSWORD
from tests.cases.base import INSIDE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def sign_in(browser, live_server, username, **context):
    ctx = browser.new_context(locale="en-US", **context)
    page = ctx.new_page()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_load_state()
    return ctx, page


def sign_in_on_the_street(browser, live_server, username, **context):
    """A grid worker on her phone, whose GPS puts her at INSIDE."""
    return sign_in(
        browser,
        live_server,
        username,
        **PHONE,
        geolocation={"latitude": INSIDE.y, "longitude": INSIDE.x},
        permissions=["geolocation"],
        **context,
    )


def act(page, action, fill=None, select=None, photo=None):
    """Open an action on the case page, fill it in and submit it."""
    page.click(f'summary[data-action="{action}"]')
    form = page.locator(f'form[action$="/act/{action}/"]')
    for selector, value in (fill or {}).items():
        form.locator(selector).fill(value)
    for selector, label in (select or {}).items():
        form.locator(selector).select_option(label=label)
    if photo:
        form.locator('input[type="file"]').set_input_files(photo)
    # Sent through the outbox script (a fetch, then the case page) for the roles that
    # have it, as a plain form post for the others: either way a navigation follows.
    with page.expect_navigation():
        form.locator("button.primary").click()


def test_the_closed_loop_in_chromium(live_server, browser, world, photo_file, screenshot):
    # 1. The grid worker files a case from the street, on a phone, where the GPS says.
    ctx, page = sign_in_on_the_street(browser, live_server, "wang")
    page.goto(live_server.url + reverse("cases:report"))
    page.wait_for_function("document.getElementById('id_lat').value !== ''")
    page.set_input_files("#id_photos", photo_file("before.jpg"))
    page.fill("#category-search", "E0102")
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "东华门大街南侧人行道上有一堆生活垃圾")
    screenshot(page, "1-worker-reports")
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    case = Case.objects.get()
    assert case.grid == world.grids[2]
    assert page.locator("#case-stage").inner_text() == "Reported"
    screenshot(page, "2-reported")
    ctx.close()

    # 2. The dispatcher files it and dispatches it to sanitation.
    ctx, page = sign_in(browser, live_server, "li", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("cases:desk"))
    page.click(f'li[data-case="{case.pk}"] a')
    act(page, "file")
    assert page.locator("#case-stage").inner_text() == "Filed"
    number = page.locator("#case-number").inner_text()
    assert re.fullmatch(r"E0102\d{8}0001", number)
    act(page, "dispatch", select={"select": "环卫中心"})
    assert page.locator("#case-stage").inner_text() == "Dispatched"
    screenshot(page, "3-dispatched")
    ctx.close()

    # 3. The sanitation officer accepts it and reports it done with an after-photo.
    ctx, page = sign_in(browser, live_server, "chen", viewport={"width": 1280, "height": 900})
    assert page.url.endswith(reverse("cases:inbox"))
    page.click(f'li[data-case="{case.pk}"] a')
    act(page, "accept")
    assert page.locator("#case-stage").inner_text() == "Being handled"
    act(page, "report_done", fill={"textarea": "已清运"}, photo=photo_file("after.jpg"))
    assert page.locator("#case-stage").inner_text() == "Awaiting on-site check"
    screenshot(page, "4-done")
    ctx.close()

    # 4. The grid worker checks it on site and closes it.
    ctx, page = sign_in(browser, live_server, "wang", **PHONE)
    page.goto(live_server.url + reverse("cases:tasks"))
    page.click(f'li[data-case="{case.pk}"] a')
    act(page, "check_pass", photo=photo_file("check.jpg"))
    assert page.locator("#case-stage").inner_text() == "Closed"
    assert page.locator("#case-number").inner_text() == number
    steps = page.locator("#timeline li .event-action").all_inner_texts()
    assert steps == ["Reported", "File", "Dispatch", "Accept", "Report done", "Fixed: close"]
    assert page.locator(".photo-strip img").count() == 3
    screenshot(page, "5-closed")
    ctx.close()

    case.refresh_from_db()
    assert case.stage == Stage.CLOSED
