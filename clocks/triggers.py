"""Saving a calendar, a calendar day, a department's policy or a limit moves the deadlines
of open clocks: enqueue their recalculation once the change commits (once per transaction,
however many rows it saved). The recalculation itself is a task, not done here."""

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save

log = logging.getLogger(__name__)


def enqueue_recalculation() -> None:
    from cases.models import OPEN_STAGES, Case

    from .services import request_recalculation
    from .tasks import recompute_open_clocks

    if not Case.objects.filter(stage__in=OPEN_STAGES).exists():
        return  # nothing open, nothing to move (seeding a new city's calendars)
    number = request_recalculation()
    try:
        recompute_open_clocks.delay(number)
    except Exception:  # noqa: BLE001 - the broker is down: the minute's beat resumes it
        log.warning("Could not enqueue the recalculation of open clocks.", exc_info=True)


def _recalculate_after_commit(sender, instance=None, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    if sender.__name__ == "DepartmentPolicy" and not _calendar_may_change(instance, **kwargs):
        return  # the round-robin pointer moved: no deadline changes
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        getattr(callback, "clocks_recalculation", False)
        for _, callback, _ in connection.run_on_commit
    ):
        return
    callback = enqueue_recalculation

    def enqueue() -> None:
        callback()

    enqueue.clocks_recalculation = True
    transaction.on_commit(enqueue, robust=True)


def _calendar_may_change(policy, update_fields=None, created=False, **kwargs) -> bool:
    if update_fields is not None and "calendar" not in update_fields:
        return False
    return not (created and policy.calendar_id is None)


def connect() -> None:
    from cases.models import CalendarDay, DepartmentPolicy, FilingCondition, WorkingCalendar

    from .models import EscalationStep, StageLimit

    for model in (
        WorkingCalendar,
        CalendarDay,
        DepartmentPolicy,
        FilingCondition,
        StageLimit,
        EscalationStep,
    ):
        for signal in (post_save, post_delete):
            signal.connect(
                _recalculate_after_commit, sender=model, dispatch_uid=f"clocks-{model.__name__}"
            )
