"""What happens after a transition commits: tasks enqueued with on_commit, so that a
rolled-back transition sends nothing."""

import logging

from django.db import transaction

from .models import Case, CaseEvent, Stage

log = logging.getLogger(__name__)


def enqueue_routing(case_id: int) -> None:
    """Hand a filed case to the routing queue. With the broker down the filing still
    stands: the case row says it needs routing and the periodic sweep routes it later."""
    from .tasks import route_case

    try:
        route_case.delay(case_id)
    except Exception:  # noqa: BLE001 - any broker failure is made good by the sweep
        log.warning(
            "Could not enqueue routing of case %s; the sweep will route it.", case_id, exc_info=True
        )


def after_transition(case: Case, event: CaseEvent) -> None:
    """Inside the transition's transaction (the case row locked): the clocks follow the
    event at once; everything else is enqueued for after the commit."""
    from clocks.services import clocks_update

    from . import tasks

    clocks_update(case)

    if event.action == "file":
        transaction.on_commit(lambda: enqueue_routing(case.pk), robust=True)
    if case.stage == Stage.CLOSED and event.from_stage != Stage.CLOSED:
        transaction.on_commit(lambda: tasks.inform_reporters.delay(event.pk), robust=True)


def after_transitions(cases: list[Case], events: list[CaseEvent]) -> None:
    """``after_transition`` for a batch written in bulk (``workflow.perform_many``), which
    sends no post_save: the map's version and the departments' feeds are told here, once
    for the batch."""
    from clocks.services import clocks_update_many
    from feeds.services import on_case_events
    from maps.models import case_written

    from . import tasks

    clocks_update_many(cases)
    case_written(CaseEvent, None)
    on_case_events(events)
    for case, event in zip(cases, events, strict=True):
        if event.action == "file":
            transaction.on_commit(lambda pk=case.pk: enqueue_routing(pk), robust=True)
        if case.stage == Stage.CLOSED and event.from_stage != Stage.CLOSED:
            transaction.on_commit(lambda pk=event.pk: tasks.inform_reporters.delay(pk), robust=True)
