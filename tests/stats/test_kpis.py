"""Every figure of the dashboard on the hand-made history of ``history.py``, against numbers
worked out by hand; by the incremental catch-up and by the rebuild alike."""

import datetime

from django.db import connection
from django.test import TestCase

from cases.clock import calendar_for
from cases.models import OPEN_STAGES, Case
from grids.models import GridAssignment
from stats import rollup
from stats.figures import (
    FIGURES,
    Period,
    Scope,
    dashboard,
    drill,
    place_of_area,
    place_of_grid,
    scope_for,
    shift_month,
)
from stats.models import CaseFact, RollupState
from tests.base import make_person
from tests.stats.history import END, NOW, START, HistoryMixin

PERIOD = Period(START, END)
ALL = Scope()
# By hand, for the week, everywhere (see history.py).
EXPECTED = {
    "reported": 6,  # A B C D E F
    "filed": 5,  # A B C D E
    "public_filed": 1,  # B
    "due": 4,  # A B C E (D voided)
    "due_closed": 3,  # A B C
    "due_on_time": 1,  # A
    "closed": 4,  # A B C H
    "closed_on_time": 2,  # A H
    "wall_seconds": 7200 + 64800 + 21000 + 235800,
    "work_seconds": 7200 + 10800 + 15600 + 9000,
    "disposed": 5,  # A, B twice, C, H
    "reworks": 1,  # B
    "dispatched": 6,  # A B C C D E
    "returns": 1,  # C
    "voided": 1,  # D
}
CASES_BEHIND = {
    "reported": "ABCDEF",
    "filed": "ABCDE",
    "public_filed": "B",
    "due": "ABCE",
    "due_closed": "ABC",
    "due_on_time": "A",
    "closed": "ABCH",
    "closed_on_time": "AH",
    "disposed": "ABCH",
    "reworks": "B",
    "dispatched": "ABCDE",
    "returns": "C",
    "voided": "D",
    "backlog": "EG",
    "overdue": "E",
}


class KpiTestCase(HistoryMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_history()

    def ids(self, names: str) -> set[int]:
        return {self.cases[n].pk for n in names}

    def figures(self, place=None, scope=ALL, period=PERIOD):
        return dashboard(place, scope, period, now=NOW)

    def assert_the_week(self, f):
        self.assertEqual(f["totals"], EXPECTED)
        self.assertEqual(f["rates"]["closure"], 3 / 4)
        self.assertEqual(f["rates"]["on_time"], 1 / 4)
        self.assertEqual(f["rates"]["public"], 1 / 5)
        self.assertEqual(f["rates"]["rework"], 1 / 5)
        self.assertEqual(f["rates"]["return"], 1 / 6)
        handling = f["handling"]
        self.assertEqual(handling["avg_wall"], 328800 / 4)
        self.assertEqual(handling["avg_work"], 42600 / 4)
        # P90 of four cases is the longest; read from the histogram, at most 9 % above.
        self.assertGreaterEqual(handling["p90_wall"], 235800)
        self.assertLessEqual(handling["p90_wall"], 235800 * 1.0905)
        self.assertGreaterEqual(handling["p90_work"], 15600)
        self.assertLessEqual(handling["p90_work"], 15600 * 1.0905)
        # At Saturday noon: E filed Friday 09:05 (1-3 days), G filed 30 October (7-30 days).
        self.assertEqual(f["backlog"]["total"], 2)
        self.assertEqual([n for _, n in f["backlog"]["ages"]], [0, 1, 0, 1, 0])
        self.assertEqual(f["overdue"], [(self.sanitation.pk, self.sanitation.name, 1)])
        daily = {
            row["day"].day: (row["reported"], row["filed"], row["closed"]) for row in f["daily"]
        }
        self.assertEqual(
            daily,
            {2: (2, 2, 2), 3: (0, 0, 1), 4: (1, 1, 0), 5: (1, 1, 1), 6: (1, 1, 0), 7: (1, 0, 0),
             8: (0, 0, 0)},
        )  # fmt: skip
        # Monday to Sunday is one week.
        self.assertEqual(
            [(w["day"], w["reported"], w["filed"], w["closed"]) for w in f["weekly"]],
            [(START, 6, 5, 4)],
        )
        self.assertEqual(
            [(code, n) for _, code, n in f["hot_grids"]], [(self.g1.code, 3), (self.g2.code, 3)]
        )
        self.assertEqual(
            [(c.full_code, n) for _, c, n in f["hot_categories"]], [("E0102", 5), ("E0101", 1)]
        )

    def test_the_week_is_an_ordinary_working_week(self):
        calendar = calendar_for(None)
        day = datetime.date(2026, 10, 30)
        while day <= END:
            self.assertEqual(calendar.is_working_day(day), day.weekday() < 5, day)
            day += datetime.timedelta(days=1)

    def test_it_computes_every_figure_incrementally(self):
        self.assertEqual(rollup.catch_up_all(), 8)
        self.assert_the_week(self.figures())

    def test_the_rebuild_gives_the_same_figures(self):
        state = rollup.rebuild()
        self.assertEqual(state.rebuild_cases, 8)
        # Nothing was caught up before: every case counts as a difference.
        self.assertEqual(state.rebuild_differences, 8)
        self.assert_the_week(self.figures())
        rollup.catch_up_all()  # nothing new
        self.assertEqual(rollup.rebuild().rebuild_differences, 0)

    def test_the_rebuild_writes_chunk_by_chunk_with_the_open_cases_first(self):
        rollup.catch_up_all()
        # A stored fact that went wrong, and the fact of a case that no longer exists.
        CaseFact.objects.filter(case_id=self.cases["A"].pk).update(counts={})
        ghost = CaseFact.objects.get(case_id=self.cases["B"].pk)
        ghost.case_id = 10**9
        ghost.save()  # a copy under an id no case has
        state = rollup.rebuild(chunk=3)
        self.assertEqual(state.rebuild_cases, 8)
        self.assertEqual(state.rebuild_differences, 2)
        self.assertFalse(CaseFact.objects.filter(case_id=10**9).exists())
        self.assertEqual(CaseFact.objects.count(), 8)
        self.assert_the_week(self.figures())
        if connection.vendor == "postgresql":
            # The open cases' facts lie together, before the others, in the table.
            with connection.cursor() as cursor:
                cursor.execute("SELECT case_id FROM stats_casefact ORDER BY ctid")
                stored = [case_id for (case_id,) in cursor.fetchall()]
            open_ids = set(Case.objects.filter(stage__in=OPEN_STAGES).values_list("pk", flat=True))
            self.assertTrue(0 < len(open_ids) < 8)
            # Together, not in id order: the server may put a row of the same write into
            # an earlier page with room (ctid [800, 801, 799] was seen).
            self.assertEqual(set(stored[: len(open_ids)]), open_ids)
            self.assertEqual(len(stored), len(set(stored)))

    def test_it_compares_with_last_month_and_last_year(self):
        rollup.catch_up_all()
        mom, yoy = self.figures()["compare"]
        self.assertEqual(
            mom["period"], Period(datetime.date(2026, 10, 2), datetime.date(2026, 10, 8))
        )
        self.assertEqual(
            yoy["period"], Period(datetime.date(2025, 11, 2), datetime.date(2025, 11, 8))
        )
        self.assertEqual(mom["reported"], (0, None))
        # The month before holds G and H (30 October) when it reaches them.
        october = self.figures(
            period=Period(datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
        )
        self.assertEqual(october["totals"]["reported"], 2)
        self.assertEqual(october["totals"]["filed"], 2)
        self.assertEqual(shift_month(datetime.date(2026, 3, 31), -1), datetime.date(2026, 2, 28))
        month = Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
        november = dashboard(None, ALL, month, now=NOW)
        self.assertEqual(november["compare"][0]["reported"], (2, 6 / 2 - 1))

    def test_each_place_level_sums_the_same(self):
        rollup.catch_up_all()
        for place in (
            place_of_area(self.community.parent.parent),
            place_of_area(self.community.parent),
            place_of_area(self.community),
        ):
            self.assertEqual(self.figures(place)["totals"], EXPECTED, place)
        g1 = self.figures(place_of_grid(self.g1))
        self.assertEqual(g1["totals"]["reported"], 3)  # A B E
        self.assertEqual(g1["totals"]["closed"], 2)  # A B
        self.assertEqual(g1["backlog"]["total"], 2)  # E G
        g2 = self.figures(place_of_grid(self.g2))
        self.assertEqual(g2["totals"]["reported"], 3)  # C D F
        self.assertEqual(g2["totals"]["closed"], 2)  # C H
        self.assertEqual(g2["backlog"]["total"], 0)

    def test_each_list_holds_the_cases_its_figure_counts(self):
        rollup.catch_up_all()
        f = self.figures()
        for figure in FIGURES:
            found = set(drill(figure, None, ALL, PERIOD, now=NOW).values_list("case_id", flat=True))
            self.assertEqual(found, self.ids(CASES_BEHIND[figure]), figure)
            if figure in rollup.EVENT_COUNTERS.values() or figure in ("backlog", "overdue"):
                continue
            self.assertEqual(len(found), f["totals"][figure], figure)
        self.assertEqual(
            set(
                drill("backlog", None, ALL, PERIOD, age=1, now=NOW).values_list(
                    "case_id", flat=True
                )
            ),
            self.ids("E"),
        )
        self.assertEqual(
            set(
                drill("reported", None, ALL, PERIOD, category=self.other_category.pk).values_list(
                    "case_id", flat=True
                )
            ),
            self.ids("C"),
        )

    def test_a_change_moves_the_case_between_departments(self):
        rollup.catch_up_all()
        version = RollupState.objects.get().version
        # G is returned: it leaves landscaping and waits for a dispatcher again.
        from cases.models import Case, CaseEvent

        g = self.cases["G"]
        CaseEvent.objects.create(
            case=g, actor=self.li, action="approve_return", from_stage="in_progress",
            to_stage="filed", at=NOW,
        )  # fmt: skip
        Case.objects.filter(pk=g.pk).update(department=None, stage="filed")
        self.assertEqual(rollup.catch_up(), 1)
        self.assertGreater(RollupState.objects.get().version, version)
        landscaping = Scope(departments=frozenset([self.landscaping.pk]))
        self.assertEqual(self.figures(scope=landscaping)["backlog"]["total"], 0)
        self.assertEqual(self.figures()["totals"]["returns"], 2)
        before = rollup.snapshot()
        rollup.rebuild()
        self.assertEqual(rollup.snapshot(), before)


class ScopeTestCase(HistoryMixin, TestCase):
    """Officers count their department's cases, grid workers their grids'."""

    @classmethod
    def setUpTestData(cls):
        cls.make_history()
        GridAssignment.objects.create(grid=cls.g2, worker=cls.qian, duty="deputy")
        rollup.catch_up_all()

    def test_each_role_gets_its_scope(self):
        self.assertEqual(scope_for(self.zhou), Scope())
        self.assertEqual(scope_for(self.ada), Scope())
        self.assertEqual(scope_for(self.chen), Scope(departments=frozenset([self.sanitation.pk])))
        self.assertEqual(scope_for(self.wang), Scope(grids=frozenset(g.pk for g in self.grids)))
        self.assertEqual(scope_for(self.qian), Scope(grids=frozenset([self.g2.pk])))
        self.assertIsNone(scope_for(self.li))
        self.assertIsNone(scope_for(self.zhao))
        self.assertIsNone(scope_for(self.nobody))

    def test_an_officer_counts_only_their_department(self):
        chen = dashboard(None, scope_for(self.chen), PERIOD, now=NOW)
        self.assertEqual(chen["totals"]["reported"], 5)  # A B C D E (F has none, G landscaping)
        self.assertEqual(chen["totals"]["closed"], 4)  # A B C H
        self.assertEqual(chen["backlog"]["total"], 1)  # E
        sun = dashboard(None, scope_for(self.sun), PERIOD, now=NOW)
        self.assertEqual(sun["totals"]["reported"], 0)
        self.assertEqual(sun["backlog"]["total"], 1)  # G
        self.assertEqual(sun["overdue"], [])
        listed = set(
            drill("backlog", None, scope_for(self.sun), PERIOD, now=NOW).values_list(
                "case_id", flat=True
            )
        )
        self.assertEqual(listed, {self.cases["G"].pk})

    def test_a_grid_worker_counts_only_their_grids(self):
        qian = dashboard(None, scope_for(self.qian), PERIOD, now=NOW)
        self.assertEqual(qian["totals"]["reported"], 3)  # C D F
        self.assertEqual(qian["totals"]["closed"], 2)  # C H
        self.assertEqual([code for _, code, _ in qian["hot_grids"]], [self.g2.code])
        wang = dashboard(None, scope_for(self.wang), PERIOD, now=NOW)
        self.assertEqual(wang["totals"], EXPECTED)
        outsider = make_person("wu", "grid_worker")
        empty = dashboard(None, scope_for(outsider), PERIOD, now=NOW)
        self.assertEqual(empty["totals"]["reported"], 0)
        self.assertEqual(empty["backlog"]["total"], 0)
