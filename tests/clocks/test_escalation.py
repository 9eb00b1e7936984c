"""The escalation ladder: each step fires once per clock and deadline version."""

import time_machine
from django.utils import translation

from cases.models import CaseEvent, Stage, Supervision, Urgency
from clocks.models import ClockKind, ClockStep
from clocks.services import escalation_levels, escalations_deliver, escalations_fire
from maps.models import current_version
from notifications.models import Notification

from .base import at, local
from .test_clocks import ClockTestCase


def sweep(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return escalations_fire()


def deliver(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return escalations_deliver()


class LadderTestCase(ClockTestCase):
    def recipients(self, case, step):
        keys = [
            f"escalation:{row.clock_id}:{row.step_id}:{row.deadline_version}"
            for row in ClockStep.objects.filter(clock__case=case, step__key=step)
        ]
        return {
            n.recipient.username
            for n in Notification.objects.filter(dedup_key__in=keys).select_related("recipient")
        }

    def test_each_step_fires_once_with_its_actions(self):
        # Monday 09:00, 4 working hours: warning 13:42, breach 14:30, yellow card at 150 %
        # 16:30 and red card at 200 % Tuesday 09:30 (the cards on the whole-case clock).
        case = self.handled_from(at(2026, 11, 23, 9))
        self.assertEqual(sweep(at(2026, 11, 23, 13, 41)), 0)
        self.assertEqual(sweep(at(2026, 11, 23, 13, 43)), 2)  # handling and whole case
        self.assertEqual(sweep(at(2026, 11, 23, 13, 44)), 0)  # the second tick: nothing
        self.assertEqual(sweep(at(2026, 11, 23, 14, 31)), 2)
        self.assertEqual(sweep(at(2026, 11, 23, 16, 31)), 1)
        case.refresh_from_db()
        self.assertEqual(case.supervision, Supervision.YELLOW)
        self.assertEqual(escalation_levels([case.pk]), {case.pk: 3})
        self.assertEqual(sweep(at(2026, 11, 24, 9, 31)), 1)
        self.assertEqual(sweep(at(2026, 11, 24, 9, 32)), 0)
        case.refresh_from_db()
        self.assertEqual((case.supervision, case.urgency), (Supervision.RED, Urgency.URGENT))
        self.assertEqual(escalation_levels([case.pk]), {case.pk: 4})

        events = list(case.events.filter(action="escalate"))
        fired = [(e.payload["clock_kind"], e.payload["step"]) for e in events]
        self.assertEqual(
            sorted(fired),
            sorted(
                [
                    (ClockKind.HANDLE, "warn"),
                    (ClockKind.CASE, "warn"),
                    (ClockKind.HANDLE, "breach"),
                    (ClockKind.CASE, "breach"),
                    (ClockKind.CASE, "yellow"),
                    (ClockKind.CASE, "red"),
                ]
            ),
        )
        self.assertTrue(all(e.actor.username == "gridgov-router" for e in events))
        self.assertEqual(events[0].payload["deadline_version"], 1)
        self.assertEqual(events[0].to_stage, Stage.IN_PROGRESS)
        # The whole event, as both databases write it (PostgreSQL in one statement).
        first = min(events, key=lambda e: (e.at, e.pk))
        row = ClockStep.objects.select_related("clock", "step").get(pk=first.payload["scheduled"])
        self.assertEqual(
            (first.reason, first.from_stage, first.at, first.payload),
            (
                row.step.name,
                Stage.IN_PROGRESS,
                row.fired_at,
                {
                    "step": "warn",
                    "level": row.step.level,
                    "clock": row.clock_id,
                    "clock_kind": row.clock.kind,
                    "deadline_version": 1,
                    "deadline": row.clock.deadline.isoformat(),
                    "scheduled": row.pk,
                },
            ),
        )
        orders = case.events.filter(action="supervise").order_by("at")
        self.assertEqual([e.payload["level"] for e in orders], [2, 3])

        self.assertEqual(deliver(at(2026, 11, 24, 9, 33)), 6)
        self.assertEqual(deliver(at(2026, 11, 24, 9, 34)), 0)
        self.assertEqual(self.recipients(case, "warn"), {"chen"})
        self.assertEqual(self.recipients(case, "breach"), {"chen", "he"})
        self.assertEqual(self.recipients(case, "yellow"), {"ma"})
        self.assertEqual(self.recipients(case, "red"), {"zhou"})
        # Every notification once: two clocks warned chen, under two keys.
        self.assertEqual(Notification.objects.filter(recipient=self.chen).count(), 4)

    def test_a_sweep_that_fired_raises_the_case_version_lists_and_maps_poll(self):
        # The warnings change no case row and go in with bulk SQL: no signal raises the
        # version, so the sweep does, once.
        self.handled_from(at(2026, 11, 23, 9))
        before = current_version()
        self.assertEqual(sweep(at(2026, 11, 23, 13, 41)), 0)
        self.assertEqual(current_version(), before)
        with self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(sweep(at(2026, 11, 23, 13, 43)), 2)
        self.assertEqual(current_version(), before + 1)

    def test_a_closed_case_does_not_escalate(self):
        case = self.handled_from(at(2026, 11, 23, 9))
        self.at(at(2026, 11, 23, 10), case, "request_void", self.chen, reason="重复")
        self.at(at(2026, 11, 23, 10), case, "approve_void", self.zhao)
        self.assertFalse(ClockStep.objects.filter(clock__case=case, fired_at=None).exists())
        self.assertEqual(sweep(at(2026, 11, 25, 9)), 0)

    def test_a_step_due_before_an_extension_is_not_repeated_and_a_new_one_is_scheduled(self):
        case = self.handled_from(at(2026, 11, 23, 9))
        self.assertEqual(sweep(at(2026, 11, 23, 13, 43)), 2)  # warned
        self.at(
            at(2026, 11, 23, 14),
            case,
            "request_extension",
            self.chen,
            reason="需调车",
            data={"hours": "1"},
        )
        self.at(at(2026, 11, 23, 14), case, "approve_extension", self.li)
        # 5 h now: 80 % is 4 h = 14:30, still in the future: the warning is due again
        # for the new deadline; the breach moves to 15:30.
        rows = {
            (r.clock.kind, r.step.key): r
            for r in ClockStep.objects.filter(clock__case=case, deadline_version=2).select_related(
                "clock", "step"
            )
        }
        self.assertIsNone(rows[(ClockKind.CASE, "warn")].fired_at)
        self.assertEqual(local(rows[(ClockKind.CASE, "warn")].fire_at), at(2026, 11, 23, 14, 30))
        self.assertEqual(local(rows[(ClockKind.CASE, "breach")].fire_at), at(2026, 11, 23, 15, 30))
        self.assertEqual(sweep(at(2026, 11, 23, 14, 20)), 0)
        self.assertEqual(sweep(at(2026, 11, 23, 15, 31)), 4)
        self.assertEqual(CaseEvent.objects.filter(case=case, action="escalate").count(), 6)


class WorkingHoursOnlyTestCase(ClockTestCase):
    def test_the_breach_is_recorded_at_once_and_the_warning_waits_for_working_time(self):
        # A missing manhole cover, 2 clock hours, filed on Friday at 23:00: the warning
        # (working hours only) falls at 00:36 on Saturday, the breach at 01:00.
        with time_machine.travel(at(2026, 11, 20, 23), tick=False):
            case = self.report(category=self.cover)
        self.at(at(2026, 11, 20, 23), case, "file", self.li)
        self.at(
            at(2026, 11, 20, 23), case, "dispatch", self.li, data={"department": self.sanitation.pk}
        )
        self.assertEqual(sweep(at(2026, 11, 21, 0, 40)), 2)
        self.assertEqual(sweep(at(2026, 11, 21, 1, 1)), 2)
        self.assertEqual(
            CaseEvent.objects.filter(case=case, action="escalate", payload__step="warn").count(), 2
        )
        deliver(at(2026, 11, 21, 1, 2))
        warning = Notification.objects.filter(case=case, kind="escalation_warn")
        breach = Notification.objects.filter(case=case, kind="escalation_breach")
        self.assertTrue(warning.exists() and breach.exists())
        # The warning reaches the department on Monday 08:30; the breach went out at once.
        self.assertEqual({local(n.not_before) for n in warning}, {at(2026, 11, 23, 8, 30)})
        self.assertEqual({n.not_before for n in breach}, {None})
        self.assertFalse(warning.delivered(at(2026, 11, 21, 9)).exists())
        self.assertTrue(warning.delivered(at(2026, 11, 23, 8, 30)).exists())
        # Each reader sees the clock's name and the words in the language of their pages.
        notice = breach.first()
        step, kind = notice.params["step"], notice.params["clock_kind"]
        self.assertEqual(step, "超期")  # the seeded breach step's name
        with translation.override("en"):
            clock = str(ClockKind(kind).label)
            self.assertEqual(notice.shown_title, f"Overdue: case {case.reference} ({clock})")
            self.assertTrue(notice.shown_body.startswith("Deadline "))
        with translation.override("zh-hans"):
            self.assertEqual(
                notice.shown_title, f"{step}：案件 {case.reference}（{ClockKind(kind).label}）"
            )
            self.assertTrue(notice.shown_body.startswith("截止时间"))
