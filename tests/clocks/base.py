"""A world for clock tests: cases driven through the workflow at chosen moments."""

import datetime
from zoneinfo import ZoneInfo

import time_machine

from cases.models import Case, Category, Stage
from cases.workflow import perform
from clocks import seed
from clocks.models import Clock, EscalationStep, StageLimit
from grids.models import GridAssignment, UnitGrid
from org.models import Department, Role
from tests.base import make_person
from tests.cases.base import CaseWorldMixin, photo

BEIJING = ZoneInfo("Asia/Shanghai")


def at(year, month, day, hour, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=BEIJING)


class ClockWorldMixin(CaseWorldMixin):
    """The case world, with department heads, a street office named after its street
    (how escalation finds it) and the default ladder."""

    @classmethod
    def make_clock_world(cls):
        cls.make_world()
        # The tests travel back to November 2026: the grids and their workers were there.
        UnitGrid.objects.update(valid_from=datetime.date(2026, 1, 1))
        GridAssignment.objects.update(start=datetime.date(2026, 1, 1))
        seed.load(StageLimit, EscalationStep)
        cls.he = make_person("he", Role.OFFICER, department=cls.sanitation, full_name="何主任")
        cls.sanitation.head = cls.he
        cls.sanitation.save()
        cls.street.code = f"street-{cls.community.parent.code}"
        cls.street.head = make_person("ma", department=cls.street, full_name="马主任")
        cls.street.save()
        cls.centre.head = cls.zhou
        cls.centre.save()
        cls.cover = Category.objects.get(full_code="C0101")  # 2 urgent clock hours

    def at(self, moment, case, action, person, **kwargs):
        with time_machine.travel(moment, tick=False):
            perform(case, action, person, **kwargs)
        case.refresh_from_db()
        return case

    def filed_at(self, moment, **overrides) -> Case:
        """Reported and filed at ``moment``."""
        with time_machine.travel(moment, tick=False):
            case = self.report(**overrides)
            perform(case, "file", self.li)
        case.refresh_from_db()
        return case

    def handled_from(self, moment, department=None, **overrides) -> Case:
        """Reported, filed, dispatched and accepted at ``moment``."""
        department = department or self.sanitation
        officer = self.chen if department == self.sanitation else self.sun
        with time_machine.travel(moment, tick=False):
            case = self.report(**overrides)
            perform(case, "file", self.li)
            perform(case, "dispatch", self.li, data={"department": department.pk})
            perform(case, "accept", officer)
        case.refresh_from_db()
        assert case.stage == Stage.IN_PROGRESS
        return case

    def clock(self, case, kind, seq=1) -> Clock:
        return Clock.objects.get(case=case, kind=kind, seq=seq)

    def checking(self, moment, case):
        with time_machine.travel(moment, tick=False):
            perform(case, "report_done", self.chen, photos=[photo()])
        case.refresh_from_db()
        return case


def local(moment):
    return moment.astimezone(BEIJING) if moment else None


def department(code) -> Department:
    return Department.objects.get(code=code)
