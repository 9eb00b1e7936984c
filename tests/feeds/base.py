"""Departments with feed subscriptions on top of the case world."""

import hashlib
import hmac
import json

from cases.models import Case
from cases.workflow import perform
from feeds.models import Delivery, Subscription
from tests.cases.base import CaseWorldMixin, photo

HANDLING_EVENTS = [
    "dispatch",
    "accept",
    "report_done",
    "check_pass",
    "check_fail",
    "approve_return",
    "escalate",
]


class FeedWorldMixin(CaseWorldMixin):
    """Sanitation's dispatch system and landscaping's both listen for their cases."""

    @classmethod
    def make_feeds(cls, url: str = "http://127.0.0.1:9/events", **extra) -> None:
        cls.sanitation_feed = Subscription.objects.create(
            department=cls.sanitation,
            name="环卫派单系统",
            url=url,
            events=HANDLING_EVENTS,
            **extra,
        )
        cls.landscaping_feed = Subscription.objects.create(
            department=cls.landscaping,
            name="园林工单系统",
            url=url,
            events=HANDLING_EVENTS,
        )

    def to_sanitation(self, case: Case | None = None) -> Case:
        case = case or self.report()
        perform(case, "file", self.li)
        perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        return case

    def close(self, case: Case) -> Case:
        perform(case, "accept", self.chen)
        perform(case, "report_done", self.chen, photos=[photo()])
        perform(case, "check_pass", self.wang, photos=[photo()])
        return case


def delivered_actions(subscription: Subscription) -> list[str]:
    return list(
        Delivery.objects.filter(subscription=subscription)
        .order_by("event_id")
        .values_list("action", flat=True)
    )


def receiver_verifies(secret: str, header: str, body: bytes, now: float) -> bool:
    """A receiver's check, written from the documentation alone (not GridGov's code)."""
    fields = {}
    for item in header.split(","):
        key, _, value = item.partition("=")
        fields.setdefault(key.strip(), []).append(value.strip())
    timestamp = int(fields["t"][0])
    if abs(now - timestamp) > 300:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


def body_of(delivery: Delivery) -> dict:
    return json.loads(delivery.body)
