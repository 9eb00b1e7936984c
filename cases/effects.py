"""What happens after a transition commits: tasks enqueued with on_commit, so that a
rolled-back transition sends nothing."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from .models import Case, CaseEvent, Stage

log = logging.getLogger(__name__)


class _Waiting:
    """The cases whose clocks wait for the end of a ``together`` block, by id (the latest
    copy of each), and the events of those reported inside it: their whole history."""

    def __init__(self):
        self.cases: dict[int, Case] = {}
        self.new: dict[int, list[CaseEvent]] = {}

    def add(self, case: Case, event: CaseEvent) -> None:
        self.cases[case.pk] = case
        if event.action == "report":
            self.new[case.pk] = []
        if case.pk in self.new:
            self.new[case.pk].append(event)


_clocks_waiting: ContextVar[_Waiting | None] = ContextVar("clocks_waiting", default=None)


@contextmanager
def together() -> Iterator[None]:
    """Several steps of one transaction taken as one: a case reported and filed in the
    same request, say. Inside, the clock rules are read once, the clocks of the cases
    changed are brought up to date once, when the block ends (still inside the
    transaction, so enter it inside ``transaction.atomic``), and the map's version is
    raised once. A block that raises updates nothing: its transaction is rolled back.
    Nested blocks join the outer one."""
    from clocks.services import clocks_update_many, rules_read_once
    from maps.models import one_bump

    if _clocks_waiting.get() is not None:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("effects.together() runs inside a transaction.")
    waiting = _Waiting()
    reset = _clocks_waiting.set(waiting)
    try:
        with rules_read_once(), one_bump():
            yield
            clocks_update_many(list(waiting.cases.values()), new=waiting.new)
    finally:
        _clocks_waiting.reset(reset)


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

    waiting = _clocks_waiting.get()
    if waiting is None:
        clocks_update(case)
    else:
        waiting.add(case, event)

    if event.action == "file":
        transaction.on_commit(lambda: enqueue_routing(case.pk), robust=True)
    if case.stage == Stage.CLOSED and event.from_stage != Stage.CLOSED:
        transaction.on_commit(lambda: tasks.inform_reporters.delay(event.pk), robust=True)


def after_transitions(cases: list[Case], events: list[CaseEvent]) -> None:
    """``after_transition`` for a batch written in bulk (``workflow.perform_many``), which
    sends no post_save: the map's version and the departments' feeds are told here, once
    for the batch."""
    from clocks.services import clocks_update_many

    waiting = _clocks_waiting.get()
    if waiting is None:
        clocks_update_many(cases)
    else:
        for case, event in zip(cases, events, strict=True):
            waiting.add(case, event)
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

    from . import tasks

    case_written(CaseEvent, None)
    on_case_events(events)
    for case, event in zip(cases, events, strict=True):
        if event.action == "file":
            transaction.on_commit(lambda pk=case.pk: enqueue_routing(pk), robust=True)
        if case.stage == Stage.CLOSED and event.from_stage != Stage.CLOSED:
            transaction.on_commit(lambda pk=event.pk: tasks.inform_reporters.delay(pk), robust=True)
