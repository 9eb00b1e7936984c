from celery import shared_task
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from .models import CaseEvent


@shared_task(
    queue="routing",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def route_case(case_id: int) -> int | None:
    """Route one filed case; safe to run twice (the second run finds nothing to do)."""
    from .routing import case_route

    event = case_route(case_id)
    return event.pk if event else None


@shared_task(queue="routing")
def ensure_cases_routed() -> int:
    """Re-enqueue filed cases whose routing task was lost (broker down, worker killed)."""
    from .routing import unrouted_cases

    ids = list(unrouted_cases().order_by("filed_at").values_list("pk", flat=True)[:1000])
    for case_id in ids:
        route_case.delay(case_id)
    return len(ids)


@shared_task(queue="notifications", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def inform_reporters(event_id: int) -> int:
    """Tell everyone who reported the problem that it was fixed (merged cases included)."""
    event = CaseEvent.objects.select_related("case").get(pk=event_id)
    case = event.case
    addresses = sorted(
        {r.user.email for r in case.reporters.select_related("user") if r.user and r.user.email}
    )
    if addresses:
        send_mail(
            _("Case %(number)s is closed") % {"number": case.reference},
            _("The problem you reported was fixed and checked on site: %(description)s")
            % {"description": case.description[:200]},
            None,
            addresses,
        )
    return len(addresses)
