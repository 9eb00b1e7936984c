import datetime

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import translation

from .models import CaseEvent


@shared_task(
    queue="routing",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def route_case(case_id: int | None = None) -> int:
    """Route the cases waiting, a batch at a time (``ROUTING_BATCH``): the filed case that
    woke the queue first, then the others, oldest first. Sent only when no routing task
    waits in the queue (``effects.enqueue_routing``), so as it starts it lets the next
    filing wake the queue again. With more than a batch waiting it sends the next task
    before it routes its own, so that another worker process routes the next batch beside
    it (each skips the rows the other holds); and once done, another if cases still wait.
    Safe to run twice. Returns how many it routed."""
    from governance.wake import wake, woken

    from .routing import cases_route, unrouted_cases

    woken("routing")
    batch = settings.ROUTING_BATCH
    waiting = unrouted_cases(older_than=datetime.timedelta(0)).order_by("filed_at")
    if waiting[batch : batch + 1].exists():
        wake("routing", route_case.delay)
    routed = cases_route(case_id, also=batch - 1 if case_id is not None else batch)
    if waiting.exists():
        wake("routing", route_case.delay)
    return len(routed)


@shared_task(queue="routing")
def ensure_cases_routed() -> int:
    """Send routing tasks for the filed cases whose routing is late (its wake-up was lost
    with the broker, or the worker was killed): one task per batch, sent straight to the
    queue, whatever wake-up the cache believes is waiting. Returns how many are late."""
    from .routing import unrouted_cases

    ids = list(unrouted_cases().order_by("filed_at").values_list("pk", flat=True)[:1000])
    for case_id in ids[:: settings.ROUTING_BATCH]:
        route_case.delay(case_id)
    return len(ids)


@shared_task(
    queue="notifications",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def inform_reporters(event_id: int) -> int:
    """Tell everyone who reported the problem that it was fixed (merged cases included):
    a notification in their inbox, e-mailed with their next digest. Safe to run twice
    (one notification per reporter and closing event). Returns how many were created."""
    from notifications.services import notify
    from notifications.wording import worded

    event = CaseEvent.objects.select_related("case").get(pk=event_id)
    case = event.case
    people = [r.user for r in case.reporters.select_related("user") if r.user is not None]
    values = {"number": case.reference, "description": case.description[:200]}
    with translation.override(settings.LANGUAGE_CODE):
        title, body = worded("case_closed", values)
        return notify(
            people,
            kind="case_closed",
            title=title,
            body=body,
            case=case,
            dedup_key=f"case-closed:{event.pk}",
            wording=("case_closed", values),
        )
