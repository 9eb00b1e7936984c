from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(queue="clocks", autoretry_for=(OperationalError, InterfaceError), retry_backoff=True)
def fire_escalations() -> int:
    """Beat, every minute: fire the escalation steps that came due. Safe to run on several
    workers at once (rows are claimed with SKIP LOCKED and fired once)."""
    from .models import ClockStep
    from .services import escalations_fire

    fired = escalations_fire()
    # Notifications a lost delivery task left behind go out with this tick.
    if (
        not fired
        and ClockStep.objects.filter(fired_at__isnull=False, notified_at__isnull=True).exists()
    ):
        deliver_escalations.delay()
    return fired


@shared_task(
    queue="notifications",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=8,
)
def deliver_escalations() -> int:
    """Notify the people each fired step names (after the firing committed)."""
    from .services import escalations_deliver

    return escalations_deliver()


@shared_task(queue="clocks", autoretry_for=(OperationalError, InterfaceError), retry_backoff=True)
def recompute_open_clocks() -> int:
    """After a calendar or limit changed: rebuild every open clock from its case's events.
    Stopped clocks keep their snapshot."""
    from .services import clocks_recompute

    return clocks_recompute()
