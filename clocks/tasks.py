import datetime

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError


@shared_task(queue="clocks", autoretry_for=(OperationalError, InterfaceError), retry_backoff=True)
def fire_escalations() -> int:
    """Beat, every minute: fire the escalation steps that came due. Safe to run on several
    workers at once (rows are claimed with SKIP LOCKED and fired once)."""
    from .models import ClockStep
    from .services import escalations_fire

    fired = escalations_fire()
    resume_recalculation()
    # Notifications a lost delivery task left behind go out with this tick.
    if (
        not fired
        and ClockStep.objects.filter(fired_at__isnull=False, notified_at__isnull=True).exists()
    ):
        deliver_escalations.delay()
    return fired


def resume_recalculation() -> None:
    """A recalculation whose next chunk's task was lost (the broker was down when it was
    sent, or when the change asked for it) goes on from where it reached."""
    from .services import stalled_recalculation

    stalled = stalled_recalculation(STALLED)
    if stalled is not None:
        recompute_open_clocks.delay(*stalled)


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


# A sweep that has not moved for this long lost its next task (a chunk takes seconds).
STALLED = datetime.timedelta(minutes=2)


@shared_task(
    queue="clocks",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=8,
)
def recompute_open_clocks(number: int, after: int = 0) -> int | None:
    """After a calendar or limit changed: rebuild open clocks from their cases' events, one
    chunk per task, each task enqueueing the next, so that routing and the other tasks run
    between the chunks of a long recalculation. Stopped clocks keep their snapshot. Sweep
    ``number`` gives way when a newer change asks for a sweep of its own. Returns the id
    to continue after, or None when this sweep goes no further."""
    from .services import recalculation_step

    last = recalculation_step(number, after, settings.CLOCKS_RECALCULATION_CHUNK)
    if last is not None:
        recompute_open_clocks.delay(number, last)
    return last
