"""Event feeds: which events reach which subscription, the signed body, and one attempt
to send a delivery.

Signature (what a receiver checks; README "Event feeds"): the header
``X-GridGov-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is HMAC-SHA256, keyed
with the subscription's secret, of ``"<t>.<body>"`` (the raw request body, as bytes).
"""

import datetime
import functools
import hashlib
import hmac
import http.client
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .models import RESPONSE_EXCERPT, Attempt, Cursor, Delivery, Subscription, retry_delay

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-GridGov-Signature"
USER_AGENT = "GridGov-Feeds/1"


# ---------------------------------------------------------------------------- events


def event_departments(case, payload: dict) -> set[int]:
    """Departments an event concerns: the case's department once the event happened, and
    any the event names (a dispatch to it, a return from it, an escalation to it)."""
    ids = {case.department_id} if case.department_id else set()
    for key in ("department", "from_department", "to_department"):
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
    for value in payload.get("departments") or ():
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
    return ids


def snapshot(event) -> dict[str, Any]:
    """What the body says about the case, read at the moment of the event from the case
    instance the transition holds (no query): stage, department and deadline as they were."""
    case = event.case
    return {
        "event": event.pk,
        "action": event.action,
        "departments": sorted(event_departments(case, event.payload or {})),
        "case": case.pk,
        "number": case.number,
        "department": case.department_id,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "urgency": case.urgency,
        "supervision": case.supervision,
    }


def on_case_event(sender, instance, created, raw=False, using="default", **kwargs):
    """post_save of a CaseEvent: once the transition commits, create its deliveries.
    A rolled-back transition sends nothing; bulk inserts send no signal (see
    ``on_case_events``)."""
    if created and not raw:
        on_case_events([instance], using)


def on_case_events(events, using: str = "default") -> None:
    """Once the transition (or a batch of them, written in one bulk insert) commits, create
    the deliveries of its events. The subscriptions are read now, once for all of them, so
    that a transition nobody listens to leaves no work for after the commit."""
    captured = []
    for event in events:
        try:
            captured.append(snapshot(event))
        except Exception:  # noqa: BLE001 - a feed must never break a transition
            log.exception("Could not read case event %s for the feeds.", event.pk)
    departments = {pk for one in captured for pk in one["departments"]}
    if not departments:
        return
    active = list(
        Subscription.objects.using(using).filter(is_active=True, department_id__in=departments)
    )
    for one in captured:
        mine = [s for s in active if s.department_id in one["departments"]]
        if any(s.wants(one["action"]) for s in mine):
            transaction.on_commit(
                functools.partial(deliveries_create, one, mine), using=using, robust=True
            )


def event_body(event, captured: dict[str, Any], *, personal: bool) -> str:
    """The JSON body of one event. Citizens' names and phone numbers only when allowed."""
    from cases.workflow import INTERNAL_PAYLOAD
    from org.models import Department

    case = event.case
    department = (
        Department.objects.filter(pk=captured["department"]).values("id", "code", "name").first()
        if captured["department"]
        else None
    )
    # Not the routing trace, nor what GridGov keeps for itself (workflow.INTERNAL_PAYLOAD).
    hidden = INTERNAL_PAYLOAD | {"trace"}
    payload = {k: v for k, v in (event.payload or {}).items() if k not in hidden}
    body: dict[str, Any] = {
        "id": event.pk,
        "type": event.action,
        "time": event.at.isoformat(),
        "from_stage": event.from_stage,
        "to_stage": event.to_stage,
        "reason": event.reason,
        "data": payload,
        "case": {
            "id": case.pk,
            "number": captured["number"],
            "stage": event.to_stage,
            "department": department,
            "deadline": captured["deadline"],
            "urgency": captured["urgency"],
            "supervision": captured["supervision"],
            "category": case.category.full_code,
            "source": case.source,
            "address": case.address,
            "point": [case.point.x, case.point.y],
            "description": case.description,
            "reported_at": case.reported_at.isoformat(),
            "link": settings.SITE_URL.rstrip("/") + reverse("cases:detail", args=[case.pk]),
        },
    }
    if personal:
        body["case"]["citizen"] = {"name": case.citizen_name, "phone": case.citizen_phone}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def deliveries_create(
    captured: dict[str, Any], active: list[Subscription] | None = None
) -> list[int]:
    """Create one delivery per interested subscription and enqueue them. Running it twice
    for one event creates nothing more (unique subscription × event). ``active``: the
    active subscriptions, when the caller has read them already."""
    from cases.models import CaseEvent

    if active is None:
        active = list(
            Subscription.objects.filter(is_active=True, department_id__in=captured["departments"])
        )
    subscriptions = [
        s
        for s in active
        if s.department_id in captured["departments"] and s.wants(captured["action"])
    ]
    if not subscriptions:
        return []
    event = CaseEvent.objects.select_related("case__category").get(pk=captured["event"])
    existing = set(
        Delivery.objects.filter(event=event, subscription__in=subscriptions).values_list(
            "subscription_id", flat=True
        )
    )
    subscriptions = [s for s in subscriptions if s.pk not in existing]
    if not subscriptions:
        return []
    bodies: dict[bool, str] = {}
    now = timezone.now()
    rows = []
    for subscription in subscriptions:
        personal = subscription.include_personal_data
        if personal not in bodies:
            bodies[personal] = event_body(event, captured, personal=personal)
        rows.append(
            Delivery(
                subscription=subscription,
                event=event,
                action=event.action,
                body=bodies[personal],
                next_attempt_at=now,
            )
        )
    # A concurrent run for the same event (there should be none) loses quietly.
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        Delivery.objects.filter(event=event, subscription__in=subscriptions).values_list(
            "pk", flat=True
        )
    )
    for delivery_id in ids:
        enqueue(delivery_id)
    return ids


def bulk_events_catch_up(*, now=None, limit: int = 5000) -> int:
    """Create the deliveries of events written in bulk, which send no post_save: the
    escalation engine records each fired step that way (FEEDS_BULK_ACTIONS). Reads on from
    a cursor on the events' time, overlapping a few minutes for transactions that committed
    late; the unique delivery makes a second look harmless. The department is the case's
    own when the scan runs, at most a sweep interval after the event."""
    from cases.models import CaseEvent

    now = now or timezone.now()
    actions = settings.FEEDS_BULK_ACTIONS
    cursor, _ = Cursor.objects.get_or_create(name="bulk-events", defaults={"at": now})
    active = [
        s for s in Subscription.objects.filter(is_active=True) if set(s.events) & set(actions)
    ]
    if not active:
        Cursor.objects.filter(pk=cursor.pk).update(at=now)
        return 0
    overlap = datetime.timedelta(seconds=settings.FEEDS_BULK_OVERLAP_SECONDS)
    events = list(
        CaseEvent.objects.filter(action__in=actions, at__gte=cursor.at - overlap, at__lte=now)
        .select_related("case")
        .order_by("at", "id")[:limit]
    )
    seen = set(
        Delivery.objects.filter(event__in=events).values_list("event_id", flat=True).distinct()
    )
    created = 0
    for event in events:
        if event.pk not in seen:
            captured = snapshot(event)
            if captured["departments"]:
                created += len(deliveries_create(captured, active))
    reached = events[-1].at if len(events) == limit else now
    Cursor.objects.filter(pk=cursor.pk).update(at=max(reached, cursor.at))
    return created


def enqueue(delivery_id: int, countdown: float = 0) -> None:
    """Hand a delivery to the feeds queue; with the broker down the sweep does it later."""
    from .tasks import deliver

    try:
        deliver.apply_async((delivery_id,), countdown=countdown or None)
    except Exception:  # noqa: BLE001 - any broker failure is made good by the sweep
        log.warning("Could not enqueue delivery %s; the sweep will.", delivery_id, exc_info=True)


# ---------------------------------------------------------------------------- signing


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (in any language): parse t and v1, recompute the HMAC over
    "<t>.<body>", compare in constant time, and refuse a timestamp outside the window
    (a replayed old request). De-duplicate on the event id besides."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, value)
        for key, value in (item.split("=", 1) for item in header.split(","))
        if key == "v1"
    )


# ---------------------------------------------------------------------------- sending


def post(url: str, body: bytes, headers: dict[str, str], timeout: float):
    """POST once and return (status code or None, start of the response, error).

    http.client rather than urllib: header names go out as written, and a redirect is an
    answer (not followed, not accepted) instead of a re-sent or dropped body."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = None
    try:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(RESPONSE_EXCERPT * 4), ""
    except SoftTimeLimitExceeded:
        return None, b"", f"no complete answer within {timeout:g} s"
    except (OSError, ValueError, http.client.HTTPException) as error:
        return None, b"", f"{type(error).__name__}: {error}"[:RESPONSE_EXCERPT]
    finally:
        if connection is not None:
            connection.close()


def claim(delivery_id: int) -> Delivery | None:
    """Take a due delivery for one attempt; None if it is not due, done, or another worker
    holds it (a second copy of the task, from the sweep or a broker redelivery)."""
    now = timezone.now()
    # Longer than the task may live (feeds.tasks): while the lease holds, no second copy
    # of the task sends it; once it lapses, a worker that died mid-send is replaced.
    lease = datetime.timedelta(seconds=settings.FEEDS_TIMEOUT_SECONDS + 20)
    taken = Delivery.objects.filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now),
        pk=delivery_id,
        status=Delivery.Status.PENDING,
        subscription__is_active=True,
        next_attempt_at__lte=now + datetime.timedelta(seconds=1),
    ).update(leased_until=now + lease)
    if not taken:
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def delivery_attempt(delivery_id: int) -> Attempt | None:
    """Send a delivery once and record the outcome; schedule the next try after a failure,
    or mark it failed once the tries are spent. The HTTP request runs outside any
    transaction: a slow receiver holds no database lock."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    subscription = delivery.subscription
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-GridGov-Event": str(delivery.event_id),
        "X-GridGov-Event-Type": delivery.action,
        "Idempotency-Key": f"gridgov-event-{delivery.event_id}",
        "X-GridGov-Delivery": str(delivery.pk),
        "X-GridGov-Attempt": str(delivery.tries + 1),
        SIGNATURE_HEADER: signature_header(subscription.secret, body),
    }
    started = timezone.now()
    began = time.monotonic()
    status_code, excerpt, error = post(
        subscription.url, body, headers, settings.FEEDS_TIMEOUT_SECONDS
    )
    duration_ms = int((time.monotonic() - began) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not ok and not error:
        error = f"HTTP {status_code}"
    with transaction.atomic():
        attempt = Attempt.objects.create(
            delivery=delivery,
            at=started,
            status_code=status_code,
            response=excerpt.decode("utf-8", "replace")[:RESPONSE_EXCERPT],
            error=error,
            duration_ms=duration_ms,
            ok=ok,
        )
        tries = delivery.tries + 1
        now = timezone.now()
        changes: dict[str, Any] = {"tries": tries, "leased_until": None}
        delay = None
        if ok:
            changes.update(status=Delivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
        else:
            delay = retry_delay(tries)
            if delay is None:
                changes.update(status=Delivery.Status.FAILED, next_attempt_at=None)
            else:
                changes["next_attempt_at"] = now + datetime.timedelta(seconds=delay)
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
    if delay is not None:
        enqueue(delivery.pk, countdown=delay)
    return attempt


def due_deliveries(now=None):
    """Pending deliveries overdue by more than the grace time and held by no worker: their
    task was lost (broker flushed or down, worker killed)."""
    now = now or timezone.now()
    late = now - datetime.timedelta(seconds=settings.FEEDS_SWEEP_GRACE_SECONDS)
    return Delivery.objects.filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now),
        status=Delivery.Status.PENDING,
        subscription__is_active=True,
        next_attempt_at__lte=late,
    )


def deliveries_replay(*, deliveries) -> int:
    """Send these deliveries again, each with its own body (same event id), from the first
    try; delivered ones too (a receiver that lost its data asks for them again)."""
    now = timezone.now()
    ids = list(deliveries.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(
        status=Delivery.Status.PENDING,
        tries=0,
        next_attempt_at=now,
        leased_until=None,
        replayed_at=now,
    )

    def send_again() -> None:
        for delivery_id in ids:
            enqueue(delivery_id)

    transaction.on_commit(send_again, robust=True)
    return len(ids)


def secret_regenerate(*, subscription: Subscription) -> str:
    from .models import new_secret

    subscription.secret = new_secret()
    subscription.save(update_fields=["secret"])
    return subscription.secret
