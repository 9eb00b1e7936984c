from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

# The HTTP request has its own timeout (per connect and per read); the soft limit stops a
# receiver trickling bytes, and is recorded as a failed attempt. The delivery's lease
# (services.claim) outlives the hard limit.
TIME_LIMIT = settings.FEEDS_TIMEOUT_SECONDS + 5


@shared_task(
    queue="feeds",
    acks_late=True,
    # A database hiccup is retried by Celery; a receiver's failure is not an exception
    # here: it is recorded and the next try is scheduled from the delivery row.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=TIME_LIMIT,
    time_limit=TIME_LIMIT + 10,
)
def deliver(delivery_id: int) -> int | None:
    """Try one delivery now if it is due and nobody else holds it; safe to run twice."""
    from .services import delivery_attempt

    attempt = delivery_attempt(delivery_id)
    return attempt.status_code if attempt else None


@shared_task(queue="feeds")
def ensure_deliveries_sent() -> int:
    """Create the deliveries of events written in bulk (escalations), then re-enqueue
    pending deliveries whose task was lost (broker down, worker killed)."""
    from .models import Delivery
    from .services import bulk_events_catch_up, due_deliveries, enqueue

    bulk_events_catch_up()
    ids = list(due_deliveries().order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
    # Pushed forward so that the next sweep leaves them alone while this task runs.
    Delivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)
