"""A small hand-made history, with every figure worked out by hand below.

The week of Monday 2 November 2026 (Asia/Shanghai; an ordinary working week, 08:30-12:00
and 13:30-17:30), one community cut into grids G1 (first grid) and G2 (second grid):

A  patrol, G1. Filed Mon 09:00, due Mon 12:00; sanitation; done 10:30; closed Mon 11:00.
   On time. Wall 2 h (7,200 s); working 2 h (7,200 s).
B  hotline, G1. Reported Mon 15:00, verified 15:30, filed Mon 16:00, due Tue 09:00;
   sanitation; done Tue 08:40; check failed Tue 09:00 (rework); done again 09:40; closed
   Tue 10:00. Late. Wall 18 h (64,800 s); working 16:00-17:30 + 08:30-10:00 = 3 h (10,800 s).
C  patrol, G2, other category. Filed Wed 09:10, due Wed 17:00; landscaping, returned Wed
   10:30, re-dispatched to sanitation 10:40; on hold Wed 13:00 to Thu 13:00; done 14:00;
   closed Thu 15:00. Late. Wall 29 h 50 min less 24 h on hold = 21,000 s; working
   Wed 09:10-12:00, 13:30-17:30, Thu 08:30-12:00, 13:30-15:00 = 11 h 50 min (42,600 s)
   less the hold's Wed 13:30-17:30 and Thu 08:30-12:00 = 7 h 30 min (27,000 s) = 15,600 s.
D  patrol, G2. Filed Thu 10:05, sanitation, voided Thu 15:00.
E  patrol, G1. Filed Fri 09:05, due Fri 11:00, sanitation, accepted; still open.
F  public, G2. Reported Sat 10:00, waiting for verification (never filed).
G  patrol, G1. Filed Fri 30 October 10:10, due 20 November; landscaping; still open.
H  patrol, G2. Filed Fri 30 October 16:30, due Mon 12:00; sanitation; done Mon 09:00;
   closed Mon 2 November 10:00. On time. Wall 65 h 30 min (235,800 s); working Fri
   16:30-17:30 + Mon 08:30-10:00 = 2 h 30 min (9,000 s).

"Now" is Saturday 7 November 12:00.
"""

import datetime
from zoneinfo import ZoneInfo

from cases.models import Case, CaseEvent, Category, Source, Stage
from tests.cases.base import INSIDE, CaseWorldMixin

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 7, 12, 0, tzinfo=ZONE)
START, END = datetime.date(2026, 11, 2), datetime.date(2026, 11, 8)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=ZONE)


class HistoryMixin(CaseWorldMixin):
    @classmethod
    def make_history(cls):
        cls.make_world()
        cls.g1, cls.g2 = cls.grids[0], cls.grids[1]
        cls.other_category = Category.objects.get(full_code="E0101")
        s, la = cls.sanitation, cls.landscaping
        cls.cases = {}
        cls.live("A", cls.g1, s, Source.PATROL, at(2, 8, 50), at(2, 12), [
            ("file", Stage.FILED, at(2, 9)),
            ("dispatch", Stage.DISPATCHED, at(2, 9, 1)),
            ("accept", Stage.IN_PROGRESS, at(2, 9, 30)),
            ("report_done", Stage.CHECKING, at(2, 10, 30)),
            ("check_pass", Stage.CLOSED, at(2, 11)),
        ])  # fmt: skip
        cls.live("B", cls.g1, s, Source.HOTLINE, at(2, 15), at(3, 9), [
            ("verify_confirm", Stage.REPORTED, at(2, 15, 30)),
            ("file", Stage.FILED, at(2, 16)),
            ("dispatch", Stage.DISPATCHED, at(2, 16, 1)),
            ("accept", Stage.IN_PROGRESS, at(2, 16, 30)),
            ("report_done", Stage.CHECKING, at(3, 8, 40)),
            ("check_fail", Stage.DISPATCHED, at(3, 9)),
            ("accept", Stage.IN_PROGRESS, at(3, 9, 10)),
            ("report_done", Stage.CHECKING, at(3, 9, 40)),
            ("check_pass", Stage.CLOSED, at(3, 10)),
        ], first=Stage.VERIFYING)  # fmt: skip
        cls.live("C", cls.g2, s, Source.PATROL, at(4, 9), at(4, 17), [
            ("file", Stage.FILED, at(4, 9, 10)),
            ("dispatch", Stage.DISPATCHED, at(4, 9, 11)),
            ("request_return", Stage.DISPATCHED, at(4, 10)),
            ("approve_return", Stage.FILED, at(4, 10, 30)),
            ("dispatch", Stage.DISPATCHED, at(4, 10, 40)),
            ("accept", Stage.IN_PROGRESS, at(4, 11)),
            ("request_hold", Stage.IN_PROGRESS, at(4, 11, 30)),
            ("approve_hold", Stage.ON_HOLD, at(4, 13)),
            ("resume", Stage.IN_PROGRESS, at(5, 13)),
            ("report_done", Stage.CHECKING, at(5, 14)),
            ("check_pass", Stage.CLOSED, at(5, 15)),
        ], category=cls.other_category)  # fmt: skip
        cls.live("D", cls.g2, s, Source.PATROL, at(5, 10), at(6, 10, 5), [
            ("file", Stage.FILED, at(5, 10, 5)),
            ("dispatch", Stage.DISPATCHED, at(5, 10, 6)),
            ("request_void", Stage.DISPATCHED, at(5, 11)),
            ("approve_void", Stage.VOIDED, at(5, 15)),
        ])  # fmt: skip
        cls.live("E", cls.g1, s, Source.PATROL, at(6, 9), at(6, 11), [
            ("file", Stage.FILED, at(6, 9, 5)),
            ("dispatch", Stage.DISPATCHED, at(6, 9, 6)),
            ("accept", Stage.IN_PROGRESS, at(6, 9, 30)),
        ])  # fmt: skip
        cls.live("F", cls.g2, None, Source.PUBLIC, at(7, 10), None, [], first=Stage.VERIFYING)
        cls.live("G", cls.g1, la, Source.PATROL, at(30, 10, month=10), at(20, 10), [
            ("file", Stage.FILED, at(30, 10, 10, month=10)),
            ("dispatch", Stage.DISPATCHED, at(30, 10, 11, month=10)),
            ("accept", Stage.IN_PROGRESS, at(30, 11, month=10)),
        ])  # fmt: skip
        cls.live("H", cls.g2, s, Source.PATROL, at(30, 16, 20, month=10), at(2, 12), [
            ("file", Stage.FILED, at(30, 16, 30, month=10)),
            ("dispatch", Stage.DISPATCHED, at(30, 16, 31, month=10)),
            ("accept", Stage.IN_PROGRESS, at(30, 17, month=10)),
            ("report_done", Stage.CHECKING, at(2, 9)),
            ("check_pass", Stage.CLOSED, at(2, 10)),
        ])  # fmt: skip

    @classmethod
    def live(
        cls, name, grid, department, source, reported, deadline, steps, first=Stage.REPORTED,
        category=None,
    ) -> Case:  # fmt: skip
        """A case and its events, written directly with the chosen times."""
        filed = next((moment for action, _, moment in steps if action == "file"), None)
        closed = next((m for a, stage, m in steps if stage in (Stage.CLOSED, Stage.VOIDED)), None)
        stage = steps[-1][1] if steps else first
        case = Case.objects.create(
            source=source,
            reporter=cls.wang if source == Source.PATROL else cls.li,
            point=INSIDE,
            grid=grid,
            community=cls.community,
            street=cls.community.parent,
            district=cls.community.parent.parent,
            category=category or cls.category,
            description=f"case {name}",
            stage=stage,
            department=department,
            deadline=deadline if filed else None,
            reported_at=reported,
            filed_at=filed,
            closed_at=closed,
        )
        CaseEvent.objects.create(
            case=case, actor=case.reporter, action="report", from_stage="", to_stage=first,
            at=reported,
        )  # fmt: skip
        previous = first
        for action, to_stage, moment in steps:
            CaseEvent.objects.create(
                case=case, actor=cls.li, action=action, from_stage=previous, to_stage=to_stage,
                at=moment,
            )  # fmt: skip
            previous = to_stage
        cls.cases[name] = case
        return case
