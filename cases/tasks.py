from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import translation
from django.utils.translation import gettext as _

from .models import CaseEvent


@shared_task(
    queue="routing",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def route_case(case_id: int) -> int:
    """Route a filed case, and with it the other cases waiting (up to
    ``ROUTING_BATCH``, oldest first): under load one task routes many, and their own
    tasks find nothing left to do. Safe to run twice. Returns how many it routed."""
    from .routing import cases_route

    return len(cases_route(case_id, also=settings.ROUTING_BATCH - 1))


@shared_task(queue="routing")
def ensure_cases_routed() -> int:
    """Re-enqueue filed cases whose routing task was lost (broker down, worker killed)."""
    from .routing import unrouted_cases

    ids = list(unrouted_cases().order_by("filed_at").values_list("pk", flat=True)[:1000])
    for case_id in ids:
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

    event = CaseEvent.objects.select_related("case").get(pk=event_id)
    case = event.case
    people = [r.user for r in case.reporters.select_related("user") if r.user is not None]
    with translation.override(settings.LANGUAGE_CODE):
        return notify(
            people,
            kind="case_closed",
            title=_("Case %(number)s is closed") % {"number": case.reference},
            body=_("The problem you reported was fixed and checked on site: %(description)s")
            % {"description": case.description[:200]},
            case=case,
            dedup_key=f"case-closed:{event.pk}",
        )
