"""The demo's escalation history. A synthetic history gets its clocks and steps at once
(``clocks_recompute``); left there, the first sweep of a new installation would fire every
step of the past two months in the same second, and the people's inboxes would fill with
notifications of that second. Instead the ladder's sweeps are run as the beat would have
run them: at the first minute after each step fell due, up to now. What the delivery of
their notifications writes with the wall clock (the notifications, when they were
delivered) is set to that moment, and what people would have read by now (more than
READ_AFTER old) is marked read and e-mailed."""

import datetime

from django.db.models import F
from django.utils import timezone

from notifications.models import Notification

from .models import ClockStep
from .services import escalations_deliver, escalations_fire

READ_AFTER = datetime.timedelta(days=1)
READ_WITHIN = datetime.timedelta(hours=1)  # when those were read
MINUTE = datetime.timedelta(minutes=1)


def replay_escalations(until: datetime.datetime | None = None) -> int:
    """Fire the steps due by ``until`` (now) at the minutes the beat would have; returns
    how many fired."""
    until = until or timezone.now()
    started = timezone.now()
    fired = 0
    while True:
        due = (
            ClockStep.objects.filter(fired_at__isnull=True, fire_at__lte=until)
            .order_by("fire_at")
            .values_list("fire_at", flat=True)
            .first()
        )
        if due is None:
            break
        moment = min(due.replace(second=0, microsecond=0) + MINUTE, until)
        count = escalations_fire(now=moment, deliver=False)
        escalations_deliver()
        Notification.objects.filter(created_at__gte=started).update(created_at=moment)
        ClockStep.objects.filter(notified_at__gte=started).update(notified_at=moment)
        if not count:
            # Due but not fired (a stale step the sweep dropped, or its case held): the
            # next one is later.
            until_next = ClockStep.objects.filter(fired_at__isnull=True, fire_at__lte=moment)
            if until_next.exists():
                break
        fired += count
    Notification.objects.filter(
        created_at__lt=until - READ_AFTER, read_at__isnull=True, kind__startswith="escalation_"
    ).update(read_at=F("created_at") + READ_WITHIN, emailed_at=F("created_at"))
    return fired
