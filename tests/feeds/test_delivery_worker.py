"""Event feeds through the real broker and a real worker process, to a real HTTP receiver
started by the test: signed, retried with back-off, never lost, never a different event."""

import json
import time
from collections import defaultdict

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import CaseEvent
from feeds.models import Attempt, Delivery, Subscription
from feeds.tasks import ensure_deliveries_sent
from tests.conftest import wait_for
from tests.feeds.base import HANDLING_EVENTS, FeedWorldMixin, receiver_verifies

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    class World(FeedWorldMixin):
        pass

    World.make_world()
    return World()


def subscribe(department, url: str, **extra) -> Subscription:
    return Subscription.objects.create(
        department=department,
        name=f"{department.code} system",
        url=url,
        events=HANDLING_EVENTS,
        **extra,
    )


def all_delivered(count: int):
    def check():
        rows = list(Delivery.objects.order_by("event_id"))
        if len(rows) == count and all(r.status == Delivery.Status.DELIVERED for r in rows):
            return rows
        return None

    return check


def one_body_per_event(requests) -> dict[int, bytes]:
    """Every request carrying an event id carries the very same body: nothing arrives
    twice as a different event."""
    bodies = defaultdict(set)
    for request in requests:
        event_id = int(request.headers["X-GridGov-Event"])
        assert json.loads(request.body)["id"] == event_id
        assert request.headers["Idempotency-Key"] == f"gridgov-event-{event_id}"
        bodies[event_id].add(request.body)
    assert all(len(distinct) == 1 for distinct in bodies.values()), bodies
    return {event_id: distinct.pop() for event_id, distinct in bodies.items()}


def test_a_delivery_arrives_signed_with_the_subscriptions_secret(
    celery_worker_process, world, receiver
):
    endpoint = receiver()
    feed = subscribe(world.sanitation, endpoint.url)
    case = world.to_sanitation()
    [delivery] = wait_for(all_delivered(1), message="the dispatch to be delivered")

    [request] = endpoint.requests
    event = CaseEvent.objects.get(case=case, action="dispatch")
    assert request.headers["X-GridGov-Event"] == str(event.pk)
    assert request.headers["X-GridGov-Event-Type"] == "dispatch"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body == delivery.body.encode()
    signature = request.headers["X-GridGov-Signature"]
    assert receiver_verifies(feed.secret, signature, request.body, time.time())
    assert not receiver_verifies("whsec_another", signature, request.body, time.time())
    assert not receiver_verifies(feed.secret, signature, request.body + b" ", time.time())
    # Replayed by an eavesdropper ten minutes later: outside the window.
    assert not receiver_verifies(feed.secret, signature, request.body, time.time() + 600)

    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert (attempt.status_code, attempt.ok, attempt.response) == (200, True, "stored")
    assert attempt.duration_ms < 3000


def test_a_receiver_returning_500_gets_retries_then_succeeds_with_the_same_event_id(
    celery_worker_process, world, receiver
):
    endpoint = receiver(statuses=[500, 500])
    feed = subscribe(world.sanitation, endpoint.url)
    world.to_sanitation()
    # Sweeps racing the retries must not add a send.
    for _ in range(3):
        ensure_deliveries_sent.delay()
        time.sleep(0.3)
    [delivery] = wait_for(all_delivered(1), message="delivery after two 500s")
    time.sleep(1.5)

    assert [r.status for r in endpoint.requests] == [500, 500, 200]
    assert set(endpoint.event_ids()) == {delivery.event_id}
    one_body_per_event(endpoint.requests)
    for request in endpoint.requests:
        assert receiver_verifies(
            feed.secret, request.headers["X-GridGov-Signature"], request.body, time.time()
        )
    assert [r.headers["X-GridGov-Attempt"] for r in endpoint.requests] == ["1", "2", "3"]
    # Back-off: 0.5 s, then 1 s (FEEDS_RETRY_DELAYS in tests/feeds/conftest.py).
    first, second, third = (r.at for r in endpoint.requests)
    assert 0.4 <= second - first < 5
    assert 0.9 <= third - second < 6
    attempts = list(Attempt.objects.filter(delivery=delivery))
    assert [(a.status_code, a.ok, a.error) for a in attempts] == [
        (500, False, "HTTP 500"),
        (500, False, "HTTP 500"),
        (200, True, ""),
    ]
    assert attempts[0].response == "database unavailable"


def test_a_receiver_that_is_down_then_up_gets_everything(celery_worker_process, world, receiver):
    endpoint = receiver(start=False)
    subscribe(world.sanitation, endpoint.url)
    case = world.close(world.to_sanitation())
    expected = set(
        CaseEvent.objects.filter(case=case, action__in=HANDLING_EVENTS).values_list("pk", flat=True)
    )
    assert len(expected) == 4  # dispatch, accept, report done, check passed

    def all_refused_twice():
        return Delivery.objects.count() == 4 and all(
            d.attempts.filter(status_code=None).count() >= 2 for d in Delivery.objects.all()
        )

    wait_for(all_refused_twice, 30, "every delivery to be refused twice")
    assert "Connection refused" in Attempt.objects.first().error
    assert not endpoint.requests

    endpoint.start()
    rows = wait_for(all_delivered(4), 30, "every delivery once the receiver is up")
    assert {row.event_id for row in rows} == expected
    assert set(one_body_per_event(endpoint.requests)) == expected
    assert len(endpoint.requests) == 4


def test_events_reach_only_their_department_escalations_included(
    celery_worker_process, world, receiver
):
    sanitation, landscaping = receiver(), receiver()
    subscribe(world.sanitation, sanitation.url)
    subscribe(world.landscaping, landscaping.url)
    case = world.to_sanitation()
    wait_for(all_delivered(1), message="the dispatch to sanitation")
    # An escalation step as the escalation engine records it (bulk_create: no signal),
    # found by the periodic sweep in the worker.
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case=case,
                action="escalate",
                from_stage=case.stage,
                to_stage=case.stage,
                payload={"step": "warn", "level": 1},
            )
        ]
    )
    ensure_deliveries_sent.delay()
    wait_for(all_delivered(2), message="the escalation to sanitation")
    time.sleep(1)
    dispatch = CaseEvent.objects.get(case=case, action="dispatch")
    escalation = CaseEvent.objects.get(case=case, action="escalate")
    assert sorted(sanitation.event_ids()) == [dispatch.pk, escalation.pk]
    assert landscaping.requests == []


def test_retries_spent_mark_the_delivery_failed_and_the_admin_replays_it(
    celery_worker_process, world, receiver
):
    endpoint = receiver(statuses=[503] * 6)
    subscribe(world.sanitation, endpoint.url)
    world.to_sanitation()

    def failed():
        return Delivery.objects.filter(status=Delivery.Status.FAILED).first()

    delivery = wait_for(failed, 30, "the retries to be spent")
    assert delivery.tries == 6
    assert len(endpoint.requests) == 6
    time.sleep(1)
    assert len(endpoint.requests) == 6, "a failed delivery is not tried again by itself"

    admin = Client()
    admin.force_login(world.ada)
    response = admin.post(
        reverse("admin:feeds_delivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    [delivered] = wait_for(all_delivered(1), message="the replayed delivery")
    assert delivered.replayed_at is not None
    assert delivered.tries == 1
    assert len(endpoint.requests) == 7
    bodies = one_body_per_event(endpoint.requests)
    assert list(bodies) == [delivery.event_id]
    assert Attempt.objects.filter(delivery=delivery).count() == 7


def test_a_worker_killed_mid_delivery_loses_nothing(celery_worker_process, world, receiver):
    endpoint = receiver()
    endpoint.hold.set()  # the receiver keeps the first request waiting
    subscribe(world.sanitation, endpoint.url)
    world.to_sanitation()
    wait_for(lambda: endpoint.requests, 30, "the worker to start sending")
    celery_worker_process.kill()
    endpoint.hold.clear()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PENDING
    assert not delivery.attempts.exists()

    celery_worker_process.restart()

    def swept():
        # Beat's periodic sweep, through the broker; it waits for the dead worker's lease.
        ensure_deliveries_sent.delay()
        return all_delivered(1)()

    wait_for(swept, 60, "the sweep to deliver after the restart")
    assert set(endpoint.event_ids()) == {delivery.event_id}
    one_body_per_event(endpoint.requests)
