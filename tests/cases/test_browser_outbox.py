"""Reports that survive the street's connection, in real Chromium on a phone-sized screen:
a report made with no connection is kept on the phone and sent when the connection
returns; photos chosen survive the form coming back with a warning; a second tap makes no
second case."""

import re

import pytest
from django.urls import reverse

from cases.models import Case, CaseReporter, Source, Stage
from cases.services import case_report
from cases.workflow import perform
from tests.base import PASSWORD
from tests.cases.base import INSIDE
from tests.cases.test_browser_loop import PHONE, sign_in, sign_in_on_the_street

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The report page's service worker is left out but where it is tested: with it, Chromium's
# offline emulation sometimes lets a request out through the worker while the page sees
# it fail (an answer lost, which the outbox handles by sending again, but which would make
# "nothing reached the server yet" untrue).
NO_WORKER = {"service_workers": "block"}


def outbox_says(page, text):
    """The outbox list under the header reads ``text``: waited for, as the list is drawn
    after the form says it is kept (a read from the phone's storage)."""
    page.locator("#outbox", has_text=text).wait_for()
    assert page.locator("#outbox").inner_text() == text


def fill_report(page, live_server, world, photo):
    page.goto(live_server.url + reverse("cases:report"))
    page.wait_for_function("document.getElementById('id_lat').value !== ''")
    page.set_input_files("#id_photos", photo)
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "井盖缺失，行人有跌落危险")


def act_offline(ctx, page, live_server, case, action, photo, note=None):
    """Open the case page, fill ``action`` in with a photo (and a note), lose the
    connection and send it: it is kept on the phone. Returns the action's form."""
    page.goto(live_server.url + reverse("cases:detail", args=[case.pk]))
    page.click(f'summary[data-action="{action}"]')
    form = page.locator(f'form[action$="/act/{action}/"]')
    if note is not None:
        form.locator("textarea").fill(note)
    form.locator('input[type="file"]').set_input_files(photo)
    ctx.set_offline(True)
    form.locator("button.primary").click()
    form.locator("p.hint", has_text="No connection: this is kept on this phone").wait_for()
    return form


def test_a_report_made_offline_is_kept_and_sent_when_the_connection_returns(
    live_server,
    browser,
    world,
    photo_file,
    screenshot,
):
    ctx, page = sign_in_on_the_street(browser, live_server, "wang", **NO_WORKER)
    fill_report(page, live_server, world, photo_file("manhole.jpg"))
    key = page.input_value("input[name=submission]")
    ctx.set_offline(True)
    page.click("#submit-report")
    page.locator("#kept-offline").wait_for()
    assert page.locator("#report-form").is_hidden()
    outbox_says(
        page, "1 report is kept on this phone and will be sent when the connection returns."
    )
    assert not Case.objects.exists()
    screenshot(page, "kept-offline")

    # Still offline, the next report starts in the same page, with a key of its own.
    page.click("#report-another")
    assert page.input_value("#id_description") == ""
    assert page.input_value("#id_lat") != ""  # she is still where she was
    second = page.input_value("input[name=submission]")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", second
    )
    assert second != key
    page.set_input_files("#id_photos", photo_file("lamp.jpg"))
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "路灯不亮")
    page.click("#submit-report")
    page.locator("#outbox", has_text="2 reports are kept on this phone").wait_for()
    assert not Case.objects.exists()

    ctx.set_offline(False)
    sent = page.locator("#outbox li", has_text="A kept report was sent")
    sent.wait_for(timeout=45_000)  # the online event, or the retry every 30 s
    first = Case.objects.get()
    assert sent.inner_text() == f"A kept report was sent: case {first.reference}."
    assert sent.locator("a").get_attribute("href") == reverse("cases:detail", args=[first.pk])
    assert str(CaseReporter.objects.get(case=first).submission) == key
    assert (first.reporter.username, first.grid, first.photos.count()) == (
        "wang",
        world.grids[2],
        1,
    )
    assert first.description == "井盖缺失，行人有跌落危险"
    # The second, of the same category at the same spot, meets the first as a possible
    # duplicate: it waits for her to decide.
    refused = page.locator("#outbox li", has_text="A kept report was not accepted")
    refused.wait_for()
    assert (
        refused.inner_text() == "A kept report was not accepted: open it to correct it · discard it"
    )
    screenshot(page, "kept-sent")

    refused.locator("a").click()
    page.locator("#photos-kept", has_text="1 photo kept from the last try.").wait_for()
    assert page.input_value("#id_description") == "路灯不亮"
    assert page.input_value("input[name=submission]") == second
    assert page.evaluate("document.getElementById('id_photos').files[0].name") == "lamp.jpg"
    page.click("#submit-report")
    # Back with the nearby first case; the photo is put back once more.
    page.locator("#submit-report", has_text="File as a new case anyway").wait_for()
    page.locator("#photos-kept", has_text="1 photo kept from the last try.").wait_for()
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    other = Case.objects.exclude(pk=first.pk).get()
    assert (str(CaseReporter.objects.get(case=other).submission), other.photos.count()) == (
        second,
        1,
    )

    # Nothing is left to send: the next page shows no outbox and sends nothing again.
    page.goto(live_server.url + reverse("cases:mine"))
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '0'")
    assert page.locator("#outbox").is_hidden()
    assert Case.objects.count() == 2
    ctx.close()


def meet_a_nearby_case(live_server, browser, world, photo_file):
    """Qian reports, with a photo, the heap Wang already reported: the form comes back with
    the nearby case, the photo still chosen. Returns the case, the context and the page."""
    existing = case_report(
        reporter=world.wang,
        source=Source.PATROL,
        point=INSIDE,
        category=world.category,
        description="人行道上有一堆生活垃圾",
    )
    ctx, page = sign_in_on_the_street(browser, live_server, "qian", **NO_WORKER)
    fill_report(page, live_server, world, photo_file("rubbish.jpg"))
    page.click("#submit-report")
    page.locator("#photos-kept", has_text="1 photo kept from the last try.").wait_for()
    return existing, ctx, page


def test_photos_survive_a_duplicate_warning_and_a_second_tap_makes_no_second_case(
    live_server,
    browser,
    world,
    photo_file,
    screenshot,
):
    existing, ctx, page = meet_a_nearby_case(live_server, browser, world, photo_file)
    assert page.evaluate("document.getElementById('id_photos').files[0].name") == "rubbish.jpg"
    assert page.locator(f'#duplicates a[href*="/cases/{existing.pk}/"]').count() >= 1
    assert page.input_value("#id_description") == "井盖缺失，行人有跌落危险"
    button = page.locator("#submit-report")
    assert button.inner_text() == "File as a new case anyway"
    screenshot(page, "photos-kept")

    button.dblclick()
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    assert Case.objects.count() == 2
    case = Case.objects.exclude(pk=existing.pk).get()
    assert page.url.endswith(reverse("cases:detail", args=[case.pk]))
    assert page.locator(".message", has_text=f"Case {case.reference} is reported.").count() == 1
    assert case.photos.count() == 1
    ctx.close()


def test_report_this_too_adds_her_report_and_photo_to_the_case_already_open(
    live_server,
    browser,
    world,
    photo_file,
    screenshot,
):
    existing, ctx, page = meet_a_nearby_case(live_server, browser, world, photo_file)
    key = page.input_value("input[name=submission]")
    screenshot(page, "report-this-too")
    join = page.locator(f'#duplicates button[name="join"][value="{existing.pk}"]').first
    join.dblclick()
    page.wait_for_url(re.compile(rf"/cases/{existing.pk}/$"))
    assert (
        page.locator(
            ".message", has_text=f"Your report is added to case {existing.reference}."
        ).count()
        == 1
    )
    assert Case.objects.count() == 1
    joined = CaseReporter.objects.get(case=existing, user=world.qian)
    assert (str(joined.submission), joined.source) == (key, Source.PATROL)
    assert existing.photos.get().kind == "before"
    assert existing.events.get(action="join").reason == "井盖缺失，行人有跌落危险"
    assert page.locator("#reporters li").count() == 2
    ctx.close()


def test_a_kept_report_waits_for_its_author_through_a_lost_session_and_another_log_in(
    live_server, browser, world, photo_file
):
    ctx, page = sign_in_on_the_street(browser, live_server, "wang", **NO_WORKER)
    fill_report(page, live_server, world, photo_file("manhole.jpg"))
    ctx.set_offline(True)
    page.click("#submit-report")
    page.locator("#kept-offline").wait_for()
    page.close()

    # Her session ends (12 hours, or a new log-in elsewhere) before the connection returns.
    ctx.clear_cookies()
    ctx.set_offline(False)
    page = ctx.new_page()
    page.goto(live_server.url + reverse("login"))
    # Another grid worker logs in on the same phone: her report is neither shown nor sent.
    page.fill("#id_username", "qian")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '0'")
    assert page.locator("#outbox").is_hidden()
    assert not Case.objects.exists()
    page.click("#logout")
    page.wait_for_load_state()

    page.fill("#id_username", "wang")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    sent = page.locator("#outbox li", has_text="A kept report was sent")
    sent.wait_for()
    case = Case.objects.get()
    assert (case.reporter.username, case.photos.count()) == ("wang", 1)
    ctx.close()


def test_a_report_kept_when_the_session_ended_asks_to_log_in_again(
    live_server, browser, world, photo_file
):
    ctx, page = sign_in_on_the_street(browser, live_server, "wang", **NO_WORKER)
    fill_report(page, live_server, world, photo_file("manhole.jpg"))
    ctx.clear_cookies()  # the session ended while she was typing
    page.click("#submit-report")
    page.locator("#kept-login").wait_for()
    outbox_says(
        page,
        "1 report is kept on this phone and will be sent when the connection returns."
        " Log in again to send.",
    )
    assert not Case.objects.exists()
    page.click("#outbox a")
    page.fill("#id_username", "wang")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.locator("#outbox li", has_text="A kept report was sent").wait_for()
    assert Case.objects.get().reporter.username == "wang"
    ctx.close()


def test_the_report_page_opens_with_no_connection_and_its_report_is_kept(
    live_server, browser, world, photo_file, screenshot
):
    ctx, page = sign_in_on_the_street(browser, live_server, "wang")
    report = live_server.url + reverse("cases:report")
    page.goto(report)
    # The page's service worker keeps a copy of the page and its files.
    page.wait_for_function(
        "async () => (await navigator.serviceWorker.ready).active.state === 'activated'"
        " && navigator.serviceWorker.controller !== null"
    )
    kept = page.evaluate(
        "async () => (await (await caches.open('gridgov-report-1')).keys())"
        ".map(r => new URL(r.url).pathname)"
    )
    assert {reverse("cases:report"), "/static/js/report.js", "/static/js/outbox.js"} <= set(kept)
    used_key = page.input_value("input[name=submission]")
    page.goto(live_server.url + reverse("cases:mine"))

    ctx.set_offline(True)
    page.goto(report)  # no connection: the kept copy
    assert page.locator("h1").inner_text() == "Report a case"
    page.wait_for_function("document.getElementById('id_lat').value !== ''")
    assert page.input_value("input[name=submission]") != used_key  # a key of its own
    page.set_input_files("#id_photos", photo_file("drain.jpg"))
    page.select_option("#id_category", value=str(world.category.pk))
    page.fill("#id_description", "雨水篦子堵塞")
    page.click("#submit-report")
    page.locator("#kept-offline").wait_for()
    screenshot(page, "opened-offline")

    ctx.set_offline(False)
    page.locator("#outbox li", has_text="A kept report was sent").wait_for(timeout=45_000)
    case = Case.objects.get()  # one, however often it went out
    assert (case.description, case.photos.count()) == ("雨水篦子堵塞", 1)

    # Logging out deletes the copies: the next person on this phone cannot open this page.
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login/"))
    assert page.evaluate("caches.keys()") == []
    ctx.close()


def test_a_check_on_site_made_offline_is_kept_and_closes_the_case_when_sent(
    live_server, browser, world, photo_file, screenshot
):
    case = world().case_in(Stage.CHECKING)
    photos = case.photos.count()
    ctx, page = sign_in_on_the_street(browser, live_server, "wang", **NO_WORKER)
    act_offline(ctx, page, live_server, case, "check_pass", photo_file("fixed.jpg"))
    outbox_says(
        page,
        "1 action on a case is kept on this phone and will be sent when the connection returns.",
    )
    screenshot(page, "check-kept")
    case.refresh_from_db()
    assert case.stage == Stage.CHECKING

    ctx.set_offline(False)
    sent = page.locator("#outbox li", has_text="A kept action was sent")
    sent.wait_for(timeout=45_000)
    assert sent.inner_text() == f"A kept action was sent: case {case.reference}."
    case.refresh_from_db()
    assert (case.stage, case.photos.count()) == (Stage.CLOSED, photos + 1)
    assert case.events.filter(action="check_pass", actor=world.wang).count() == 1
    ctx.close()


def test_a_kept_action_the_case_moved_past_waits_to_be_corrected_with_its_photo(
    live_server, browser, world, photo_file, screenshot
):
    case = world().case_in(Stage.IN_PROGRESS)
    ctx, page = sign_in(browser, live_server, "chen", **PHONE, **NO_WORKER)
    act_offline(ctx, page, live_server, case, "report_done", photo_file("after.jpg"), "已清运完毕")
    # Meanwhile the supervisor issues a supervision order: the case moved on.
    perform(case, "supervise", world.zhou, reason="群众反映强烈", data={"level": 1})

    ctx.set_offline(False)
    refused = page.locator("#outbox li", has_text="A kept action was not accepted")
    refused.wait_for(timeout=45_000)
    assert refused.inner_text() == (
        "A kept action was not accepted: open it to correct it · discard it"
    )
    case.refresh_from_db()
    assert case.stage == Stage.IN_PROGRESS
    refused.locator("a").click()
    form = page.locator('form[action$="/act/report_done/"]')
    form.locator("p.hint", has_text="1 photo kept from the last try.").wait_for()
    assert form.locator("textarea").input_value() == "已清运完毕"
    assert (
        page.locator('details:has(summary[data-action="report_done"])').get_attribute("open") == ""
    )
    screenshot(page, "action-reopened")
    form.locator("button.primary").click()
    page.wait_for_url(re.compile(rf"/cases/{case.pk}/$"))
    page.locator("#case-stage", has_text="Awaiting on-site check").wait_for()
    case.refresh_from_db()
    assert case.stage == Stage.CHECKING
    assert case.photos.filter(kind="after").count() == 1
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '0'")
    assert page.locator("#outbox").is_hidden()
    ctx.close()


def test_a_kept_action_no_longer_wanted_is_discarded_from_the_list(
    live_server, browser, world, photo_file
):
    case = world().case_in(Stage.IN_PROGRESS)
    ctx, page = sign_in(browser, live_server, "chen", **PHONE, **NO_WORKER)
    act_offline(ctx, page, live_server, case, "report_done", photo_file("after.jpg"))
    perform(case, "request_return", world.chen, reason="不归我们管")  # from another device

    ctx.set_offline(False)
    refused = page.locator("#outbox li", has_text="A kept action was not accepted")
    refused.wait_for(timeout=45_000)
    refused.locator("button", has_text="discard it").click()
    page.wait_for_function("document.getElementById('outbox').hidden")
    page.goto(live_server.url + reverse("cases:detail", args=[case.pk]))
    page.wait_for_function("document.getElementById('outbox').dataset.waiting === '0'")
    assert page.locator("#outbox").is_hidden()
    assert not case.photos.filter(kind="after").exists()
    ctx.close()


def test_an_action_refused_because_the_case_changed_is_sent_again_with_its_photo(
    live_server, browser, world, photo_file, screenshot
):
    case = world().case_in(Stage.IN_PROGRESS)
    ctx, page = sign_in(browser, live_server, "chen", **PHONE, **NO_WORKER)
    page.goto(live_server.url + reverse("cases:detail", args=[case.pk]))
    # While the officer fills the form in, the ladder (here the supervisor) moves the case.
    perform(case, "supervise", world.zhou, reason="群众反映强烈", data={"level": 1})
    page.click('summary[data-action="report_done"]')
    form = page.locator('form[action$="/act/report_done/"]')
    form.locator("textarea").fill("已清运完毕")
    form.locator('input[type="file"]').set_input_files(photo_file("after.jpg"))
    form.locator("button.primary").click()

    # Shown again on the case as it is now, with the note and the photo.
    again = page.locator('form[action$="/act/report_done/"]')
    again.locator(".error", has_text="check it as it is now, then send again").wait_for()
    again.locator("p.hint", has_text="1 photo kept from the last try.").wait_for()
    assert again.locator("textarea").input_value() == "已清运完毕"
    assert page.locator("#case-stage").inner_text() == Stage.IN_PROGRESS.label
    screenshot(page, "changed-send-again")
    with page.expect_navigation():
        again.locator("button.primary").click()
    page.locator(".message", has_text="Done: Report done.").wait_for()
    case.refresh_from_db()
    assert case.stage == Stage.CHECKING
    assert case.photos.filter(kind="after").count() == 1
    assert case.events.get(action="report_done").reason == "已清运完毕"
    # Nothing is left kept on the phone.
    assert page.locator("#outbox li").count() == 0
    ctx.close()


def test_a_file_refused_as_no_photo_is_not_put_back(
    live_server, browser, world, photo_file, tmp_path
):
    ctx, page = sign_in_on_the_street(browser, live_server, "wang", **NO_WORKER)
    not_a_photo = tmp_path / "doc.pdf"
    not_a_photo.write_bytes(b"%PDF-1.4 not a photo")
    fill_report(page, live_server, world, str(not_a_photo))
    page.click("#submit-report")
    page.locator(".error", has_text="“doc.pdf” is not a photo").wait_for()
    page.wait_for_function("window.gridgov && window.gridgov.outbox")
    page.wait_for_timeout(500)  # restore() has run by now
    assert page.evaluate("document.getElementById('id_photos').files.length") == 0
    assert page.locator("#photos-kept").inner_text() == ""
    assert page.input_value("#id_description") == "井盖缺失，行人有跌落危险"
    page.set_input_files("#id_photos", photo_file("manhole.jpg"))
    page.click("#submit-report")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    assert Case.objects.get().photos.count() == 1
    ctx.close()
