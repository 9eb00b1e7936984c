"""The clock rules kept in memory (``clocks.services.current_rules``) are read again after
any write to the tables they come from, whatever wrote it, and only then."""

from django.db import transaction
from django.test import TestCase

from cases.models import CalendarDay, DepartmentPolicy, FilingCondition, WorkingCalendar
from clocks.models import ClockKind, EscalationStep, RulesVersion, StageLimit
from clocks.services import current_rules
from tests.base import PersonasMixin

from .base import ClockWorldMixin, at, local


def token() -> str:
    return RulesVersion.objects.filter(pk=1).values_list("token", flat=True).first() or ""


class RulesInMemoryTestCase(ClockWorldMixin, PersonasMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_clock_world()

    def test_the_same_token_reuses_the_rules_without_reading_them(self):
        first = current_rules()
        with self.assertNumQueries(1):
            again = current_rules()
        self.assertIs(again[0], first[0])
        self.assertIs(again[1], first[1])

    def test_every_kind_of_write_to_every_table_gives_a_new_token(self):
        calendar = WorkingCalendar.objects.first()
        writes = {
            "calendar save": lambda: calendar.save(),
            "calendar update": lambda: WorkingCalendar.objects.update(follows_national=True),
            "days in bulk": lambda: CalendarDay.objects.bulk_create(
                [CalendarDay(day=at(2030, 1, d, 0).date(), kind="holiday") for d in (2, 3)]
            ),
            "days deleted": lambda: CalendarDay.objects.filter(day__year=2030).delete(),
            "limit update": lambda: StageLimit.objects.update(limit_value=3),
            "ladder update": lambda: EscalationStep.objects.filter(level=1).update(is_active=False),
            "policy created": lambda: DepartmentPolicy.objects.create(department=self.sanitation),
            "policy calendar": lambda: DepartmentPolicy.objects.update(calendar=calendar),
            "condition update": lambda: FilingCondition.objects.update(limit_value=8),
            "condition created": lambda: FilingCondition.objects.create(
                category=self.category,
                condition="新条件",
                limit_value=1,
                limit_unit="working_hours",
            ),
        }
        for name, write in writes.items():
            with self.subTest(name):
                before = token()
                write()
                self.assertNotEqual(token(), before)

    def test_moving_the_round_robin_pointer_keeps_the_token(self):
        DepartmentPolicy.objects.create(department=self.sanitation)
        before = token()
        DepartmentPolicy.objects.update(last_assigned=self.chen)
        self.assertEqual(token(), before)

    def test_a_limit_changed_without_signals_reaches_the_next_transition(self):
        first = self.filed_at(at(2026, 11, 17, 9))
        dispatch = first.clocks.get(kind=ClockKind.DISPATCH)
        self.assertEqual(local(dispatch.deadline), at(2026, 11, 17, 9, 30))
        current_rules()  # the rules are in memory now
        StageLimit.objects.filter(stage=ClockKind.DISPATCH).update(limit_value=2)
        second = self.filed_at(at(2026, 11, 17, 9))
        dispatch = second.clocks.get(kind=ClockKind.DISPATCH)
        self.assertEqual(local(dispatch.deadline), at(2026, 11, 17, 11))

    def test_filing_reads_the_conditions_kept_with_the_rules_and_sees_a_change_at_once(self):
        FilingCondition.objects.create(
            category=self.category, condition="另一条件", limit_value=8, limit_unit="working_hours"
        )
        conditions = list(
            FilingCondition.objects.filter(category=self.category, is_active=True).order_by("id")
        )
        first = self.filed_at(at(2026, 11, 17, 9))
        self.assertEqual(first.condition_id, conditions[0].pk)
        current_rules()  # the rules are in memory now
        FilingCondition.objects.filter(pk=conditions[0].pk).update(is_active=False)
        FilingCondition.objects.filter(pk=conditions[1].pk).update(limit_value=1)
        second = self.filed_at(at(2026, 11, 17, 9))
        self.assertEqual(second.condition_id, conditions[1].pk)
        whole = second.clocks.get(kind=ClockKind.CASE)
        self.assertEqual(local(whole.deadline), at(2026, 11, 17, 10))

    def test_a_rolled_back_change_leaves_no_token_that_a_later_change_reuses(self):
        before = token()
        seen = set()
        for _ in range(3):
            try:
                with transaction.atomic():
                    StageLimit.objects.update(limit_value=77)
                    seen.add(token())
                    current_rules()  # kept under the token of the change, rolled back
                    raise RuntimeError
            except RuntimeError:
                pass
            self.assertEqual(token(), before)
        self.assertEqual(len(seen), 3)
        rules, _calendars = current_rules()
        self.assertNotIn(77, {row.limit_value for row in rules.limits.values()})
