"""What happens after a transition commits: tasks enqueued with on_commit, so that a
rolled-back transition sends nothing."""

import logging

from django.db import transaction

from .models import Case, CaseEvent, Stage

log = logging.getLogger(__name__)


def enqueue_routing(case_id: int) -> None:
    """Wake the routing queue for a filed case, unless a routing task already waits there:
    that task takes this case with the others (``tasks.route_case``). With the broker down
    the filing still stands: the case row says it needs routing and the periodic sweep
    routes it later."""
    from governance.wake import wake

    from .tasks import route_case

    try:
        wake("routing", lambda: route_case.delay(case_id))
    except Exception:  # noqa: BLE001 - any broker failure is made good by the sweep
        log.warning(
            "Could not enqueue routing of case %s; the sweep will route it.", case_id, exc_info=True
        )


def after_transition(case: Case, event: CaseEvent) -> None:
    """Inside the transition's transaction (the case row locked): the clocks follow the
    event at once; everything else is enqueued for after the commit."""
    from clocks.services import clocks_update

    clocks_update(case)
    _after_commit(case, event)


def after_transitions(cases: list[Case], events: list[CaseEvent]) -> None:
    """``after_transition`` for a batch written in bulk (``workflow.perform_many``), which
    sends no post_save: the map's version and the departments' feeds are told here, once
    for the batch."""
    from clocks.services import clocks_update_many

    clocks_update_many(cases)
    _written_in_bulk(cases, events)


def after_new_case(case: Case, events: list[CaseEvent]) -> None:
    """What follows a case reported (and perhaps filed) by ``services.NewCase``, whose
    rows were written without signals and whose clocks were written with them."""
    _written_in_bulk([case] * len(events), events)


def _written_in_bulk(cases: list[Case], events: list[CaseEvent]) -> None:
    """Each event's case beside it: the map's version and the departments' feeds, told
    once for all of them; routing and the reporters' news after the commit."""
    from feeds.services import on_case_events
    from maps.models import case_written

    case_written(CaseEvent, None)
    on_case_events(events)
    for case, event in zip(cases, events, strict=True):
        _after_commit(case, event)


def _after_commit(case: Case, event: CaseEvent) -> None:
    """Once committed: a filed case goes to routing; a closed one's reporters hear of it."""
    from . import tasks

    if event.action == "file":
        transaction.on_commit(lambda pk=case.pk: enqueue_routing(pk), robust=True)
    if case.stage == Stage.CLOSED and event.from_stage != Stage.CLOSED:
        transaction.on_commit(lambda pk=event.pk: tasks.inform_reporters.delay(pk), robust=True)
