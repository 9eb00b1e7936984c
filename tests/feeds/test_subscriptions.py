"""Which events reach which subscription, once, with what body (no worker needed: the
deliveries are created on commit; sending is tested in test_delivery_worker)."""

import json
import re
import time
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import TestCase

from cases.models import CaseEvent, Source, Stage
from cases.workflow import InvalidInput, perform
from feeds.models import Delivery, Subscription
from feeds.services import (
    bulk_events_catch_up,
    deliveries_create,
    signature_header,
    snapshot,
    verify_signature,
)
from tests.cases.base import photo
from tests.feeds.base import FeedWorldMixin, body_of, delivered_actions, receiver_verifies


class FeedTestCase(FeedWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()
        cls.make_feeds()

    def act(self, function, *args, **kwargs):
        """Run a transition and the work it leaves for after the commit."""
        with self.captureOnCommitCallbacks(execute=True):
            return function(*args, **kwargs)


class MatchingTestCase(FeedTestCase):
    def test_it_delivers_the_departments_subscribed_events_once_each(self):
        case = self.act(self.to_sanitation)
        self.act(self.close, case)
        self.assertEqual(
            delivered_actions(self.sanitation_feed),
            ["dispatch", "accept", "report_done", "check_pass"],
        )
        events = CaseEvent.objects.filter(
            case=case, action__in=delivered_actions(self.sanitation_feed)
        )
        self.assertEqual(
            set(Delivery.objects.values_list("event_id", flat=True)),
            set(events.values_list("pk", flat=True)),
        )

    def test_events_of_other_departments_are_not_delivered(self):
        self.act(self.to_sanitation)
        self.assertEqual(delivered_actions(self.landscaping_feed), [])

    def test_events_before_the_case_reached_the_department_are_not_delivered(self):
        self.sanitation_feed.events = ["report", "file", "dispatch"]
        self.sanitation_feed.save()
        self.act(self.to_sanitation)
        self.assertEqual(delivered_actions(self.sanitation_feed), ["dispatch"])

    def test_unsubscribed_event_types_are_not_delivered(self):
        self.sanitation_feed.events = ["check_pass"]
        self.sanitation_feed.save()
        case = self.act(self.to_sanitation)
        self.act(self.close, case)
        self.assertEqual(delivered_actions(self.sanitation_feed), ["check_pass"])

    def test_an_inactive_subscription_gets_nothing(self):
        Subscription.objects.filter(pk=self.sanitation_feed.pk).update(is_active=False)
        self.act(self.to_sanitation)
        self.assertFalse(Delivery.objects.exists())

    def test_a_return_reaches_the_department_the_case_leaves_and_not_later_events(self):
        case = self.act(self.to_sanitation)
        self.act(perform, case, "request_return", self.chen, reason="井盖属于自来水公司")
        self.act(perform, case, "approve_return", self.li)
        self.act(perform, case, "dispatch", self.li, data={"department": self.landscaping.pk})
        self.act(perform, case, "accept", self.sun)
        self.assertEqual(delivered_actions(self.sanitation_feed), ["dispatch", "approve_return"])
        self.assertEqual(delivered_actions(self.landscaping_feed), ["dispatch", "accept"])

    def test_rework_and_escalation_reach_the_department(self):
        case = self.act(self.to_sanitation)
        self.act(perform, case, "accept", self.chen)
        self.act(perform, case, "report_done", self.chen, photos=[photo()])
        self.act(perform, case, "check_fail", self.wang, reason="垃圾还在", photos=[photo()])
        # What the escalation engine records when a step fires.
        self.act(
            CaseEvent.objects.create,
            case=case,
            action="escalate",
            from_stage=Stage.DISPATCHED,
            to_stage=Stage.DISPATCHED,
            payload={"step": 2, "level": "breach"},
        )
        self.assertEqual(delivered_actions(self.sanitation_feed)[-2:], ["check_fail", "escalate"])
        escalation = Delivery.objects.get(action="escalate")
        self.assertEqual(body_of(escalation)["data"], {"step": 2, "level": "breach"})

    def test_an_escalation_naming_a_department_reaches_it(self):
        case = self.act(self.to_sanitation)
        self.act(
            CaseEvent.objects.create,
            case=case,
            action="escalate",
            from_stage=Stage.DISPATCHED,
            to_stage=Stage.DISPATCHED,
            payload={"step": 4, "level": "red", "department": self.landscaping.pk},
        )
        self.assertEqual(delivered_actions(self.landscaping_feed), ["escalate"])

    def test_escalations_written_in_bulk_are_found_by_the_sweep(self):
        ours = self.act(self.to_sanitation)
        theirs = self.act(self.report)
        self.act(perform, theirs, "file", self.li)
        self.act(perform, theirs, "dispatch", self.li, data={"department": self.landscaping.pk})
        # As the escalation engine writes fired steps: bulk_create sends no post_save.
        with self.captureOnCommitCallbacks(execute=True):
            CaseEvent.objects.bulk_create(
                [
                    CaseEvent(
                        case=case,
                        action="escalate",
                        from_stage=Stage.DISPATCHED,
                        to_stage=Stage.DISPATCHED,
                        payload={"step": "breach", "level": 2},
                    )
                    for case in (ours, theirs)
                ]
            )
        self.assertEqual(delivered_actions(self.sanitation_feed), ["dispatch"])
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(bulk_events_catch_up(), 2)
        self.assertEqual(delivered_actions(self.sanitation_feed), ["dispatch", "escalate"])
        self.assertEqual(delivered_actions(self.landscaping_feed), ["dispatch", "escalate"])
        escalation = Delivery.objects.get(subscription=self.sanitation_feed, action="escalate")
        self.assertEqual(body_of(escalation)["case"]["id"], ours.pk)
        self.assertEqual(body_of(escalation)["data"], {"step": "breach", "level": 2})
        # The next sweep looks at them again and adds nothing.
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(bulk_events_catch_up(), 0)
        self.assertEqual(Delivery.objects.filter(action="escalate").count(), 2)

    def test_a_rolled_back_transition_delivers_nothing(self):
        case = self.act(self.to_sanitation)
        self.act(perform, case, "accept", self.chen)
        before = Delivery.objects.count()
        with self.assertRaises(InvalidInput), self.captureOnCommitCallbacks(execute=True):
            perform(case, "report_done", self.chen)  # no photo: refused
        with self.captureOnCommitCallbacks(execute=True):
            with transaction.atomic():
                perform(case, "report_done", self.chen, photos=[photo()])
                transaction.set_rollback(True)
        self.assertEqual(Delivery.objects.count(), before)

    def test_creating_the_deliveries_of_an_event_again_creates_nothing(self):
        case = self.act(self.to_sanitation)
        event = CaseEvent.objects.get(case=case, action="dispatch")
        delivery = Delivery.objects.get()
        self.assertEqual(deliveries_create(snapshot(event)), [])
        self.assertEqual(list(Delivery.objects.all()), [delivery])

    def test_the_database_refuses_a_second_delivery_of_an_event(self):
        self.act(self.to_sanitation)
        delivery = Delivery.objects.get()
        with self.assertRaises(IntegrityError), transaction.atomic():
            Delivery.objects.create(
                subscription=delivery.subscription,
                event=delivery.event,
                action="dispatch",
                body="{}",
            )

    def test_bulk_inserted_events_send_nothing(self):
        case = self.act(self.to_sanitation)
        before = Delivery.objects.count()
        with self.captureOnCommitCallbacks(execute=True):
            CaseEvent.objects.bulk_create(
                [CaseEvent(case=case, action="accept", from_stage="dispatched", to_stage="x")]
            )
        self.assertEqual(Delivery.objects.count(), before)


class BodyTestCase(FeedTestCase):
    def test_the_body_describes_the_event_and_the_case_as_it_was(self):
        case = self.act(self.to_sanitation)
        event = CaseEvent.objects.get(case=case, action="dispatch")
        self.act(perform, case, "accept", self.chen)
        body = body_of(Delivery.objects.get(event=event))
        case.refresh_from_db()
        self.assertEqual(body["id"], event.pk)
        self.assertEqual(body["type"], "dispatch")
        self.assertEqual(body["time"], event.at.isoformat())
        self.assertEqual(body["case"]["id"], case.pk)
        self.assertEqual(body["case"]["number"], case.number)
        # The stage at the event, not the stage now.
        self.assertEqual(body["case"]["stage"], Stage.DISPATCHED)
        self.assertEqual(case.stage, Stage.IN_PROGRESS)
        self.assertEqual(body["case"]["department"]["code"], "sanitation")
        self.assertEqual(body["case"]["deadline"], case.deadline.isoformat())
        self.assertEqual(body["case"]["category"], "E0102")
        self.assertEqual(body["case"]["link"], f"{settings.SITE_URL}/cases/{case.pk}/")

    def hotline_case(self):
        case = self.case_in(Stage.VERIFYING)
        perform(case, "verify_confirm", self.wang)
        return case

    def test_citizens_personal_data_is_absent_by_default(self):
        case = self.act(self.to_sanitation, self.hotline_case())
        self.assertEqual(case.source, Source.HOTLINE)
        delivery = Delivery.objects.get()
        self.assertNotIn("张三", delivery.body)
        self.assertNotIn("13800000000", delivery.body)
        self.assertNotIn("citizen", body_of(delivery)["case"])

    def test_a_subscription_allowed_personal_data_gets_it(self):
        Subscription.objects.filter(pk=self.sanitation_feed.pk).update(include_personal_data=True)
        self.act(self.to_sanitation, self.hotline_case())
        body = body_of(Delivery.objects.get())
        self.assertEqual(body["case"]["citizen"], {"name": "张三", "phone": "13800000000"})


class SignatureTestCase(TestCase):
    body = json.dumps({"id": 7, "type": "dispatch"}).encode()

    def test_a_receiver_verifies_the_signature_with_the_secret(self):
        header = signature_header("whsec_right", self.body)
        self.assertTrue(receiver_verifies("whsec_right", header, self.body, time.time()))
        self.assertTrue(verify_signature("whsec_right", header, self.body))

    def test_another_secret_or_an_altered_body_fails(self):
        header = signature_header("whsec_right", self.body)
        self.assertFalse(receiver_verifies("whsec_wrong", header, self.body, time.time()))
        self.assertFalse(verify_signature("whsec_wrong", header, self.body))
        self.assertFalse(verify_signature("whsec_right", header, self.body + b" "))

    def test_an_old_signature_is_refused_outside_the_window(self):
        header = signature_header("whsec_right", self.body, timestamp=int(time.time()) - 301)
        self.assertFalse(verify_signature("whsec_right", header, self.body))
        self.assertFalse(receiver_verifies("whsec_right", header, self.body, time.time()))

    def test_the_readme_recipe_verifies_a_delivery(self):
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
        recipe = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
        namespace: dict = {}
        exec(recipe, namespace)  # noqa: S102 - our own documentation
        header = signature_header("whsec_right", self.body)
        self.assertTrue(namespace["verify"]("whsec_right", header, self.body))
        self.assertFalse(namespace["verify"]("whsec_wrong", header, self.body))
        old = signature_header("whsec_right", self.body, timestamp=int(time.time()) - 400)
        self.assertFalse(namespace["verify"]("whsec_right", old, self.body))

    def test_a_malformed_header_is_refused(self):
        for header in ("", "v1=abc", "t=x,v1=abc", "garbage"):
            with self.subTest(header=header):
                self.assertFalse(verify_signature("whsec_right", header, self.body))
