from django.core import mail

from cases.models import Stage
from cases.tasks import inform_reporters
from cases.workflow import perform
from tests.cases.base import CaseTestCase, photo


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
        self.assertEqual(len(callbacks), 1)
        # The task body, as the worker runs it.
        self.assertEqual(inform_reporters(event.pk), 2)
        self.assertEqual(mail.outbox[0].to, ["qian@example.org", "wang@example.org"])
        self.assertIn(case.number, mail.outbox[0].subject)

    def test_other_transitions_enqueue_nothing(self):
        case = self.case_in(Stage.FILED)
        with self.captureOnCommitCallbacks() as callbacks:
            perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        self.assertEqual(callbacks, [])
