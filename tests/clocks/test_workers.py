"""Two real worker processes and several beat ticks racing over the same due steps: each
step fires exactly once."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from cases.models import CalendarDay, Case, CaseEvent, WorkingCalendar
from clocks.models import Clock, ClockStep, Recalculation
from clocks.services import escalation_levels
from clocks.tasks import fire_escalations
from governance.celery import purge_queues
from notifications.models import Notification
from tests.base import PersonasMixin
from tests.conftest import start_worker, stop_worker, wait_for

from .base import ClockWorldMixin, at, local

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CASES = 24


@pytest.fixture
def world(transactional_db, celery_worker_process):
    class World(ClockWorldMixin, PersonasMixin):
        pass

    # The run's shared worker would route the cases filed below at the real time while the
    # test files and dispatches them a week ago, adding clocks of its own: only this test's
    # two workers run while it does.
    celery_worker_process.kill()
    World.make_clock_world()
    yield World()
    celery_worker_process.restart()


def settled() -> bool:
    return (
        not ClockStep.objects.filter(
            fired_at__isnull=True, fire_at__lte=at(2026, 11, 28, 0)
        ).exists()
        and not ClockStep.objects.filter(fired_at__isnull=False, notified_at__isnull=True).exists()
    )


def test_two_workers_and_repeated_ticks_fire_each_step_once(world):
    # Filed and handled a week ago: every step of the ladder is long due.
    cases = [world.handled_from(at(2026, 11, 23, 9, minute)) for minute in range(CASES)]
    scheduled = {
        (row.clock_id, row.step.key, row.deadline_version): row.fire_at
        for row in ClockStep.objects.filter(fired_at__isnull=True).select_related("step")
    }
    due = len(scheduled)
    assert due == CASES * 6  # warning and breach on two clocks, two cards on the case

    purge_queues()
    # Small batches, so that the two workers' transactions interleave.
    workers = [start_worker(f"clocks-{name}", ESCALATION_BATCH="5") for name in "ab"]
    try:
        for _ in range(8):  # eight beat ticks in quick succession
            fire_escalations.delay()
        wait_for(settled, seconds=120, message="the workers to fire and deliver every step")
    finally:
        for worker in workers:
            stop_worker(worker)

    events = list(CaseEvent.objects.filter(action="escalate"))
    keys = [(e.payload["clock"], e.payload["step"], e.payload["deadline_version"]) for e in events]
    missing = sorted(set(scheduled) - set(keys))
    rows_now = list(
        ClockStep.objects.filter(clock_id__in=[clock for clock, _, _ in missing]).values(
            "clock_id", "step__key", "deadline_version", "fire_at", "fired_at", "notified_at"
        )
    )
    assert len(keys) == len(set(keys)) == due, (
        f"never fired: {missing}; scheduled at {[scheduled[m] for m in missing]}; "
        f"their clocks' steps now: {rows_now}; "
        f"clocks: {list(Clock.objects.filter(pk__in=[c for c, _, _ in missing]).values())}"
    )
    assert ClockStep.objects.filter(fired_at__isnull=False).count() == due
    assert escalation_levels() == {case.pk: 4 for case in cases}
    for case in cases:
        case.refresh_from_db()
        assert case.supervision == 3
        # Yellow, then red; or red alone when both came due in one batch.
        orders = case.events.filter(action="supervise").order_by("at", "id")
        assert [e.payload["level"] for e in orders][-1] == 3
    # One notification per person and step: the dedup key never repeats for a person.
    pairs = Notification.objects.values_list("recipient_id", "dedup_key")
    assert len(pairs) == len(set(pairs)) > 0
    by_key = itertools.groupby(sorted(k for _, k in pairs))
    assert len(list(by_key)) == due


def test_a_calendar_change_recomputes_open_clocks_chunk_by_chunk_on_a_worker(world):
    """A worker runs the recalculation one case per task (CLOCKS_RECALCULATION_CHUNK=1),
    each task sending the next; a sweep whose next task was lost is resumed by the beat."""
    cases = [world.handled_from(at(2026, 11, 23, 16, minute)) for minute in range(3)]
    assert {local(case.deadline).date() for case in cases} == {datetime.date(2026, 11, 24)}
    purge_queues()
    worker = start_worker("recalculation", CLOCKS_RECALCULATION_CHUNK="1")
    try:
        # Tuesday 24 November becomes a closure: the commit asks for a sweep and sends it.
        CalendarDay.objects.create(
            calendar=WorkingCalendar.objects.get(is_default=True),
            day=datetime.date(2026, 11, 24),
            kind="closure",
            name="停电",
        )

        def deadlines() -> set[datetime.date]:
            return {
                local(deadline).date()
                for deadline in Case.objects.filter(pk__in=[c.pk for c in cases]).values_list(
                    "deadline", flat=True
                )
            }

        def finished() -> bool:
            return Recalculation.objects.filter(finished_at__isnull=False).exists()

        wait_for(finished, seconds=60, message="the recalculation to finish")
        assert deadlines() == {datetime.date(2026, 11, 25)}
        first = Recalculation.objects.get()
        assert first.reached == max(case.pk for case in cases)
        log = (Path(settings.VAR_DIR) / "recalculation-worker.log").read_text()
        # One task per case, and one that found no case left.
        assert log.count("recompute_open_clocks") >= 2 * 4, log[-3000:]

        # Another change, whose task is lost: sent while no worker runs, then purged.
        stop_worker(worker)
        CalendarDay.objects.filter(day=datetime.date(2026, 11, 24)).delete()
        purge_queues()
        row = Recalculation.objects.get()
        assert (row.requested, row.reached, row.finished_at) == (first.requested + 1, 0, None)
        # Two minutes later the minute's beat finds the sweep stalled and sends it on.
        Recalculation.objects.update(moved_at=timezone.now() - datetime.timedelta(minutes=3))
        worker = start_worker("recalculation", CLOCKS_RECALCULATION_CHUNK="1")
        fire_escalations.delay()
        wait_for(finished, seconds=60, message="the beat to resume the stalled recalculation")
        assert deadlines() == {datetime.date(2026, 11, 24)}
    finally:
        stop_worker(worker)
