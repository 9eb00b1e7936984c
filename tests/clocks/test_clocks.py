"""Clocks rebuilt from the case history on the working calendars."""

import datetime
from unittest import mock

import time_machine
from django.test import TestCase

from cases.models import CalendarDay, Case, DepartmentPolicy, Stage, WorkingCalendar
from clocks import services as clocks_services
from clocks.models import Clock, ClockKind, ClockStep, Recalculation
from clocks.services import (
    clocks_recompute,
    clocks_recompute_chunk,
    clocks_update,
    recalculation_step,
    request_recalculation,
    stalled_recalculation,
)
from tests.base import PersonasMixin

from .base import ClockWorldMixin, at, local

HOUR = datetime.timedelta(hours=1)


class ClockTestCase(ClockWorldMixin, PersonasMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_clock_world()


class BusinessTimeTestCase(ClockTestCase):
    def test_it_runs_across_a_weekend(self):
        # Friday 16:00 + 4 working hours: 1.5 h on Friday, 2.5 h on Monday from 08:30.
        case = self.filed_at(at(2026, 11, 20, 16))
        self.assertEqual(local(case.deadline), at(2026, 11, 23, 11))
        # 80 %: 3.2 h, so 1.7 h into Monday.
        self.assertEqual(local(case.warn_at), at(2026, 11, 23, 10, 12))
        whole = self.clock(case, ClockKind.CASE)
        self.assertEqual((whole.state, whole.allowed), (Clock.State.RUNNING, 4 * HOUR))
        # Filing took no time; dispatch has its own clock now.
        self.assertEqual(self.clock(case, ClockKind.FILE).state, Clock.State.STOPPED)
        dispatch = self.clock(case, ClockKind.DISPATCH)
        self.assertEqual(local(dispatch.deadline), at(2026, 11, 20, 16, 30))
        self.assertEqual(case.due_at, dispatch.deadline)

    def test_it_skips_holidays_and_counts_make_up_days(self):
        # Wednesday 30 Sep 2026 17:00: half an hour that day, 1-7 October are holidays.
        case = self.filed_at(at(2026, 9, 30, 17))
        self.assertEqual(local(case.deadline), at(2026, 10, 8, 12))
        # Friday 9 Oct 16:00: Saturday 10 Oct is a make-up working day.
        case = self.filed_at(at(2026, 10, 9, 16))
        self.assertEqual(local(case.deadline), at(2026, 10, 10, 11))

    def test_clock_hours_ignore_the_calendar(self):
        case = self.filed_at(at(2026, 10, 1, 23), category=self.cover)
        self.assertEqual(local(case.deadline), at(2026, 10, 2, 1))

    def test_the_light_follows_the_case_clock_in_python_and_in_sql(self):
        case = self.filed_at(at(2026, 11, 23, 9))  # 09:00-12:00 and 13:30-14:30
        self.assertEqual(local(case.deadline), at(2026, 11, 23, 14, 30))
        for moment, light in [
            (at(2026, 11, 23, 10), "green"),
            (at(2026, 11, 23, 14), "yellow"),
            (at(2026, 11, 23, 14, 30), "yellow"),
            (at(2026, 11, 23, 14, 31), "red"),
        ]:
            with self.subTest(moment=moment):
                self.assertEqual(case.light(moment), light)
                annotated = Case.objects.with_light(moment).get(pk=case.pk)
                self.assertEqual(annotated.traffic_light, light)


class PauseTestCase(ClockTestCase):
    def test_a_hold_stops_every_running_clock_of_the_department(self):
        case = self.handled_from(at(2026, 11, 23, 9))
        self.at(at(2026, 11, 23, 10), case, "request_hold", self.chen, reason="等产权单位")
        self.at(at(2026, 11, 23, 10), case, "approve_hold", self.li)
        handle, whole = self.clock(case, ClockKind.HANDLE), self.clock(case, ClockKind.CASE)
        for clock in (handle, whole):
            self.assertEqual((clock.state, clock.used), (Clock.State.PAUSED, HOUR))
            self.assertIsNone(clock.deadline)
            self.assertFalse(clock.steps.filter(fired_at__isnull=True).exists())
        # On hold below 80 %: the light stays green however long the hold lasts.
        self.assertIsNone(case.deadline)
        self.assertEqual(case.light(at(2026, 12, 20, 10)), "green")

    def test_a_pause_survives_a_change_of_limit(self):
        """GLPI #6902: paused time must not be lost when the policy changes mid-hold."""
        case = self.handled_from(at(2026, 11, 23, 9))
        self.at(at(2026, 11, 23, 10), case, "request_hold", self.chen, reason="等产权单位")
        self.at(at(2026, 11, 23, 10), case, "approve_hold", self.li)
        # While on hold the administrator allows 6 working hours instead of 4.
        condition = case.condition
        condition.limit_value = 6
        with self.captureOnCommitCallbacks() as callbacks:
            condition.save()
        self.assertTrue(any(getattr(c, "clocks_recalculation", False) for c in callbacks))
        with time_machine.travel(at(2026, 11, 23, 15), tick=False):
            clocks_recompute()  # what the enqueued task runs
        self.at(at(2026, 11, 24, 9), case, "resume", self.li, reason="产权单位已确认")
        # 1 h used before the hold, 5 h left from Tuesday 09:00: 3 h to noon, 2 h after.
        self.assertEqual(local(case.deadline), at(2026, 11, 24, 15, 30))
        handle = self.clock(case, ClockKind.HANDLE)
        self.assertEqual((handle.allowed, handle.used), (6 * HOUR, HOUR))
        self.assertEqual(local(handle.running_since), at(2026, 11, 24, 9))

    def test_a_transfer_counts_each_department_on_its_own_calendar(self):
        """Sanitation works every day 08:00-20:00; landscaping the standard week."""
        every_day = WorkingCalendar.objects.create(
            name="环卫全周", periods={str(d): [["08:00", "20:00"]] for d in range(7)}
        )
        DepartmentPolicy.objects.update_or_create(
            department=self.sanitation, defaults={"calendar": every_day}
        )
        # Saturday 21 Nov 09:00: dispatched to sanitation, which works on Saturdays.
        case = self.handled_from(at(2026, 11, 21, 9))
        self.at(at(2026, 11, 21, 10), case, "request_return", self.chen, reason="属园林")
        self.at(at(2026, 11, 21, 11), case, "approve_return", self.li)
        self.at(
            at(2026, 11, 21, 11),
            case,
            "dispatch",
            self.li,
            data={"department": self.landscaping.pk},
        )
        first = self.clock(case, ClockKind.HANDLE, 1)
        self.assertEqual((first.state, first.used), (Clock.State.STOPPED, 2 * HOUR))
        self.assertEqual(first.department, self.sanitation)
        second = self.clock(case, ClockKind.HANDLE, 2)
        self.assertEqual(second.department, self.landscaping)
        # A fresh 4 working hours for landscaping from Monday 08:30.
        self.assertEqual(local(second.deadline), at(2026, 11, 23, 14))
        # The whole case used 2 h on sanitation's Saturday; 2 h remain on landscaping's
        # calendar: Monday 08:30-10:30.
        whole = self.clock(case, ClockKind.CASE)
        self.assertEqual((whole.used, whole.department), (2 * HOUR, self.landscaping))
        self.assertEqual(local(case.deadline), at(2026, 11, 23, 10, 30))
        self.assertEqual(self.clock(case, ClockKind.DISPATCH, 2).state, Clock.State.STOPPED)


class RecalculationTestCase(ClockTestCase):
    def test_open_clocks_move_with_the_calendar_and_closed_ones_keep_their_snapshot(self):
        closed = self.handled_from(at(2026, 11, 23, 9))
        self.checking(at(2026, 11, 23, 11), closed)
        from tests.cases.base import photo

        self.at(at(2026, 11, 23, 12), closed, "check_pass", self.wang, photos=[photo()])
        self.assertEqual(closed.stage, Stage.CLOSED)
        snapshot = list(Clock.objects.filter(case=closed).order_by("pk").values())
        self.assertTrue(all(row["state"] == "stopped" for row in snapshot))

        open_case = self.handled_from(at(2026, 11, 23, 16))  # due Tuesday 11:00
        self.assertEqual(local(open_case.deadline), at(2026, 11, 24, 11))
        version = self.clock(open_case, ClockKind.CASE).deadline_version
        # Tuesday becomes a closure of the default calendar.
        CalendarDay.objects.create(
            calendar=WorkingCalendar.objects.get(is_default=True),
            day=datetime.date(2026, 11, 24),
            kind="closure",
            name="停电",
        )
        with time_machine.travel(at(2026, 11, 23, 18), tick=False):
            self.assertEqual(clocks_recompute(), 1)
        open_case.refresh_from_db()
        self.assertEqual(local(open_case.deadline), at(2026, 11, 25, 11))
        whole = self.clock(open_case, ClockKind.CASE)
        self.assertEqual(whole.deadline_version, version + 1)
        self.assertEqual({row.deadline_version for row in whole.steps.all()}, {version + 1})
        self.assertEqual(list(Clock.objects.filter(case=closed).order_by("pk").values()), snapshot)


class RecalculationSweepTestCase(ClockTestCase):
    """The recalculation runs in chunks, one task each; a newer change takes over."""

    def setUp(self):
        # Three open cases due Tuesday 11:00, 12:00 and 13:00.
        self.cases = [self.handled_from(at(2026, 11, 23, 16 + n)) for n in range(3)]
        self.cases.sort(key=lambda case: case.pk)

    def close_tuesday(self):
        CalendarDay.objects.create(
            calendar=WorkingCalendar.objects.get(is_default=True),
            day=datetime.date(2026, 11, 24),
            kind="closure",
            name="停电",
        )

    def deadlines(self) -> list[datetime.date]:
        return [local(Case.objects.get(pk=case.pk).deadline).date() for case in self.cases]

    def test_a_sweep_goes_chunk_by_chunk_and_a_newer_change_takes_over(self):
        first = request_recalculation()
        # One case per chunk: the sweep reaches the first case.
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            reached = recalculation_step(first, 0, 1)
        self.assertEqual(reached, self.cases[0].pk)
        # The calendar changes and asks for a sweep of its own: the older one stops at
        # its next chunk, without touching the remaining cases.
        self.close_tuesday()
        second = request_recalculation()
        self.assertEqual(second, first + 1)
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            self.assertIsNone(recalculation_step(first, reached, 1))
        self.assertEqual(self.deadlines(), [datetime.date(2026, 11, 24)] * 3)
        # The newer sweep covers every open case from the start, with the new calendar.
        after, chunks = 0, 0
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            while after is not None:
                after = recalculation_step(second, after, 1)
                chunks += 1
        self.assertEqual(chunks, 4)  # three cases, then the chunk that finds none left
        self.assertEqual(self.deadlines(), [datetime.date(2026, 11, 25)] * 3)
        row = Recalculation.objects.get()
        self.assertEqual((row.requested, row.reached), (second, self.cases[-1].pk))
        self.assertIsNotNone(row.finished_at)
        # A finished sweep goes no further, and is not taken for a stalled one.
        self.assertIsNone(recalculation_step(second, self.cases[-1].pk, 1))
        self.assertIsNone(stalled_recalculation(datetime.timedelta(0)))

    def test_cases_recomputed_together_end_as_those_recomputed_one_by_one(self):
        """A chunk recomputes its cases RECOMPUTE_BATCH to a transaction (here two, then
        one); recomputing each alone afterwards finds nothing left to change."""
        self.close_tuesday()
        with (
            mock.patch.object(clocks_services, "RECOMPUTE_BATCH", 2),
            time_machine.travel(at(2026, 11, 23, 20), tick=False),
        ):
            self.assertEqual(clocks_recompute_chunk(after=0, size=10), (self.cases[-1].pk, 3))
        self.assertEqual(self.deadlines(), [datetime.date(2026, 11, 25)] * 3)

        def state():
            ids = [case.pk for case in self.cases]
            clocks = Clock.objects.filter(case__in=ids).order_by("pk").values()
            steps = ClockStep.objects.filter(clock__case__in=ids).order_by("pk").values()
            cases = Case.objects.filter(pk__in=ids).order_by("pk").values("deadline", "warn_at")
            return (
                [{k: v for k, v in row.items() if k != "computed_at"} for row in clocks],
                list(steps),
                list(cases),
            )

        together = state()
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            for case in self.cases:
                clocks_update(Case.objects.get(pk=case.pk))
        self.assertEqual(state(), together)
        for clock in Clock.objects.filter(case__in=self.cases, state=Clock.State.RUNNING):
            unfired = {step.deadline_version for step in clock.steps.filter(fired_at=None)}
            self.assertEqual(unfired, {clock.deadline_version})

    def test_a_stalled_sweep_is_found_and_a_second_chain_of_it_stops(self):
        number = request_recalculation()
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            reached = recalculation_step(number, 0, 1)
        moved_at = Recalculation.objects.get().moved_at
        # Its next task was lost: after two minutes without moving, the beat resumes it
        # from where it reached.
        with time_machine.travel(moved_at + datetime.timedelta(minutes=1), tick=False):
            self.assertIsNone(stalled_recalculation(datetime.timedelta(minutes=2)))
        with time_machine.travel(moved_at + datetime.timedelta(minutes=3), tick=False):
            self.assertEqual(
                stalled_recalculation(datetime.timedelta(minutes=2)), (number, reached)
            )
        # Two tasks continuing from the same point (the lost one turned up after all): the
        # first moves the sweep on, the second finds it moved and stops.
        with time_machine.travel(at(2026, 11, 23, 20), tick=False):
            self.assertEqual(recalculation_step(number, reached, 1), self.cases[1].pk)
            self.assertIsNone(recalculation_step(number, reached, 1))
        self.assertEqual(Recalculation.objects.get().reached, self.cases[1].pk)


class DeadlineVersionTestCase(ClockTestCase):
    def test_an_extension_recomputes_the_unfired_steps(self):
        case = self.handled_from(at(2026, 11, 23, 9))  # due 14:30
        whole = self.clock(case, ClockKind.CASE)
        before = {row.step.key: row.fire_at for row in whole.steps.select_related("step")}
        self.assertEqual(local(before["breach"]), at(2026, 11, 23, 14, 30))
        self.assertEqual(local(before["red"]), at(2026, 11, 24, 9, 30))
        self.at(
            at(2026, 11, 23, 10),
            case,
            "request_extension",
            self.chen,
            reason="需调车",
            data={"hours": "8"},
        )
        self.at(at(2026, 11, 23, 10), case, "approve_extension", self.li)
        whole.refresh_from_db()
        self.assertEqual(whole.deadline_version, 2)
        self.assertEqual(whole.allowed, 12 * HOUR)
        after = {row.step.key: row for row in whole.steps.select_related("step")}
        self.assertEqual({row.deadline_version for row in after.values()}, {2})
        # 4 + 8 working hours from Monday 09:00: 7 h on Monday, 3.5 h on Tuesday morning,
        # 1.5 h after lunch.
        self.assertEqual(local(case.deadline), at(2026, 11, 24, 15))
        self.assertEqual(local(after["breach"].fire_at), local(case.deadline))
        self.assertFalse(ClockStep.objects.filter(clock=whole, deadline_version=1).exists())
