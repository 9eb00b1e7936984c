"""Evaluation scores on the hand-made week of tests/stats/history.py, worked out by hand.

Week totals (see tests/stats/test_kpis.py): filed 5, from the public 1, due 4, of which
closed 3 and on time 1; disposed 5, reworks 1; dispatched 6, returns 1; voided 1. Every
case of the week belongs to sanitation (C ends there after its return).

Default weights (evaluation/migrations/0002): area public 10, closure 30, on-time 40:
  public rate 1/5 → 80; closure 3/4 → 75; on time 1/4 → 25
  (10×80 + 30×75 + 40×25) / 80 = 4050 / 80 = 50.625 → D (≥ 40).
Sanitation: closure 30, on time 30, rework 30, return 10:
  (30×75 + 30×25 + 30×(100 − 20) + 10×(100 − 100/6)) / 100
  = (2250 + 750 + 2400 + 833.33…) / 100 = 62.333… → C.
Posts: grid worker, missed-report rate 1/5 → 80 → B; dispatcher, accurate dispatch 5/6 →
83.333… → B; shift leader, accurate filing 4/5 → 80 (40) and on time 25 (35):
  (3200 + 875) / 75 = 54.333… → D.
"""

from django.test import TestCase
from django.urls import reverse

from evaluation.models import Grade, KpiWeight
from evaluation.scoring import Result, evaluate, ranked
from stats import rollup
from stats.figures import Period, Scope, place_of_area
from tests.base import PASSWORD
from tests.stats.history import END, START, HistoryMixin

PERIOD = Period(START, END)
WEEK = {"start": START.isoformat(), "end": END.isoformat()}


class ScoreTestCase(HistoryMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_history()
        rollup.catch_up_all()

    def test_scores_match_the_hand_worked_numbers(self):
        found = evaluate(Scope(), PERIOD, "community")
        [area] = found["areas"]
        self.assertEqual(area.key, self.community.pk)
        self.assertAlmostEqual(area.score, 50.625)
        self.assertEqual(area.grade, "D")
        [street] = evaluate(Scope(), PERIOD, "street")["areas"]
        self.assertEqual(street.key, self.community.parent.pk)
        self.assertAlmostEqual(street.score, 50.625)
        [department] = found["departments"]
        self.assertEqual(department.key, self.sanitation.pk)
        self.assertAlmostEqual(department.score, (2250 + 750 + 2400 + 1000 * 5 / 6) / 100)
        self.assertEqual(department.grade, "C")
        posts = {p.key: (round(p.score, 3), p.grade) for p in found["posts"]}
        self.assertEqual(
            posts,
            {
                "grid_worker": (80.0, "B"),
                "dispatcher": (round(500 / 6, 3), "B"),
                "shift_leader": (round(4075 / 75, 3), "D"),
            },
        )

    def test_grids_by_hand(self):
        # G1 in the week: A (closed on time), B (hotline, closed late, one rework), E (open).
        # filed 3, public 1, due 3, closed 2, on time 1:
        # (10×(100 − 33.33…) + 30×66.66… + 40×33.33…) / 80 = (666.67 + 2000 + 1333.33) / 80 = 50.
        # G2: C (closed late), D (voided): filed 2, public 0, due 1, closed 1, on time 0:
        # (10×100 + 30×100 + 40×0) / 80 = 50.
        areas = {a.key: a for a in evaluate(Scope(), PERIOD, "grid")["areas"]}
        self.assertAlmostEqual(areas[self.g1.pk].score, 50)
        self.assertAlmostEqual(areas[self.g2.pk].score, 50)
        self.assertEqual(areas[self.g1.pk].values["on_time"], 1 / 3)
        self.assertEqual(areas[self.g2.pk].values["closure"], 1)
        # Equal scores share the first rank, in name order.
        ranks = [(a.name, a.rank) for a in evaluate(Scope(), PERIOD, "grid")["areas"]]
        self.assertEqual(ranks, [(self.g1.code, 1), (self.g2.code, 1)])

    def test_cases_outside_every_area_are_no_area_to_rank(self):
        from stats.models import DailyFact

        # A day's facts for cases no grid covers: at every level, place key 0.
        for level in range(4):
            DailyFact.objects.create(day=START, level=level, filed=2, due=2, department=0)
        for level in ("street", "community", "grid"):
            with self.subTest(level=level):
                keys = [a.key for a in evaluate(Scope(), PERIOD, level)["areas"]]
                self.assertTrue(keys)
                self.assertNotIn(0, keys)

    def test_rows_are_ranked_best_first_ties_sharing_the_unscored_last(self):
        def result(name, score):
            return Result("area", name, name, {}, {}, score, "")

        rows = ranked(
            [
                result("乙", 90.04),
                result("丙", None),
                result("丁", 80),
                result("甲", 95.2),
                result("戊", 89.96),  # 90.0 as shown: the same as 乙
            ]
        )
        self.assertEqual(
            [(r.name, r.rank) for r in rows],
            [("甲", 1), ("乙", 2), ("戊", 2), ("丁", 4), ("丙", None)],
        )

    def test_an_officer_of_another_department_has_nothing_to_evaluate(self):
        found = evaluate(Scope(departments=frozenset({self.landscaping.pk})), PERIOD, "street")
        self.assertEqual(found["departments"], [])
        self.assertEqual(found["areas"], [])
        self.assertIsNone(found["posts"][0].score)
        self.assertEqual(found["posts"][0].grade, "—")

    def test_weights_and_grades_set_by_an_administrator_change_the_result(self):
        self.client.login(username=self.ada.username, password=PASSWORD)
        weight = KpiWeight.objects.get(subject="area", kpi="on_time")
        response = self.client.post(
            reverse("admin:evaluation_kpiweight_change", args=[weight.pk]),
            {"subject": "area", "kpi": "on_time", "weight": "0"},
        )
        self.assertEqual(response.status_code, 302, response.content[:2000])
        # (10×80 + 30×75) / 40 = 76.25 → B.
        [area] = evaluate(Scope(), PERIOD, "community")["areas"]
        self.assertAlmostEqual(area.score, 76.25)
        self.assertEqual(area.grade, "B")
        grade = Grade.objects.get(letter="B")
        response = self.client.post(
            reverse("admin:evaluation_grade_change", args=[grade.pk]),
            {"letter": "B", "minimum": "80"},
        )
        self.assertEqual(response.status_code, 302)
        [area] = evaluate(Scope(), PERIOD, "community")["areas"]
        self.assertEqual(area.grade, "C")
        # The page shows the same.
        self.client.login(username=self.zhou.username, password=PASSWORD)
        response = self.client.get(reverse("evaluation:evaluation"), {**WEEK, "level": "community"})
        self.assertContains(response, '<td class="score">76.3</td>', html=False)

    def test_the_place_helper_agrees(self):
        self.assertEqual(place_of_area(self.community).id, self.community.pk)
