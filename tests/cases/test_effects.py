from django.core import mail
from django.urls import reverse

from cases.models import Stage
from cases.tasks import inform_reporters
from cases.workflow import perform
from notifications.digest import digests_send
from notifications.models import Notification
from tests.cases.base import CaseTestCase, photo


def case_effects(callbacks) -> list:
    """The after-commit callbacks the case workflow itself queued (other apps, such as event
    feeds and the map's cache, queue their own on the same commit)."""
    return [callback for callback in callbacks if callback.__module__ == "cases.effects"]


class InformReportersTestCase(CaseTestCase):
    def test_closing_enqueues_the_notice_after_commit_and_it_reaches_every_reporter(self):
        self.wang.email = "wang@example.org"
        self.wang.save()
        self.qian.email = "qian@example.org"
        self.qian.save()
        case = self.case_in(Stage.CHECKING)
        perform(case, "join", self.qian)
        with self.captureOnCommitCallbacks() as callbacks:
            event = perform(case, "check_pass", self.wang, photos=[photo()])
        self.assertEqual(len(case_effects(callbacks)), 1)
        # The task body, as the worker runs it: a notification for each reporter, once.
        self.assertEqual(inform_reporters(event.pk), 2)
        self.assertEqual(inform_reporters(event.pk), 0)
        notices = Notification.objects.filter(case=case, kind="case_closed")
        self.assertEqual(
            sorted(notices.values_list("recipient__username", flat=True)), ["qian", "wang"]
        )
        self.assertIn(case.number, notices[0].title)
        # Stored in the server's language (the e-mail's); each reader's inbox writes it in
        # theirs.
        self.assertEqual(notices[0].title, f"案件 {case.number} 已结案")
        self.client.force_login(self.qian)
        inbox = self.client.get(reverse("notifications:inbox"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(inbox, f"Case {case.number} is closed")
        self.assertContains(inbox, "The problem you reported was fixed and checked on site")
        inbox = self.client.get(reverse("notifications:inbox"), HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(inbox, f"案件 {case.number} 已结案")
        # E-mail goes out with each reporter's digest: one message each, to them alone.
        self.assertEqual(digests_send(), 2)
        self.assertEqual(
            sorted(message.to for message in mail.outbox),
            [["qian@example.org"], ["wang@example.org"]],
        )
        self.assertIn(case.number, mail.outbox[0].body)

    def test_other_transitions_enqueue_nothing(self):
        case = self.case_in(Stage.FILED)
        with self.captureOnCommitCallbacks() as callbacks:
            perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        self.assertEqual(case_effects(callbacks), [])
