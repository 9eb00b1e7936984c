"""The incremental catch-up and the nightly rebuild agree on a generated history of
GRIDGOV_AGREEMENT_CASES cases, by default 100,000 (about 90 s on either database here)."""

import os

from django.db.models import Sum
from django.test import TestCase

from cases.models import Case, Stage
from cases.synthetic import generate_cases
from cases.workflow import perform
from org.models import Department, Role, User
from stats import rollup
from stats.models import DISTRICT, CaseFact, DailyFact, RollupState
from tests.cases.test_generate import make_small_district


def cases_to_generate() -> int:
    return int(os.environ.get("GRIDGOV_AGREEMENT_CASES", 100_000))


class AgreementTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_small_district()
        cls.stats = generate_cases(cases=cases_to_generate(), months=6, seed=11)

    def test_the_incremental_figures_equal_the_rebuilt_ones(self):
        total = self.stats.cases
        # Small runs, so that many cases are read in two parts and corrected later.
        while rollup.catch_up(limit=7_919):
            pass
        rollup.catch_up_all()
        self.assertEqual(CaseFact.objects.count(), total)

        # Then people work some cases through the workflow, and the catch-up follows.
        dispatcher = User.objects.filter(role_grants__role=Role.DISPATCHER).first()
        department = Department.objects.filter(kind=Department.Kind.FUNCTIONAL).first()
        moved = set()
        for case in Case.objects.filter(stage=Stage.FILED, department__isnull=True)[:40]:
            perform(case, "dispatch", dispatcher, data={"department": department.pk})
            moved.add(case.pk)
        for case in Case.objects.filter(stage=Stage.DISPATCHED).select_related("department")[:40]:
            officer = User.objects.filter(
                role_grants__role=Role.OFFICER, memberships__department=case.department
            ).first()
            if officer is not None:
                perform(case, "accept", officer)
                moved.add(case.pk)
        self.assertGreater(len(moved), 20)
        self.assertEqual(rollup.catch_up_all(), len(moved))

        incremental = rollup.snapshot()
        state = rollup.rebuild()
        self.assertEqual(state.rebuild_cases, total)
        self.assertEqual(state.rebuild_differences, 0)
        rebuilt = rollup.snapshot()
        self.assertEqual(len(incremental["facts"]), total)
        self.assertEqual(incremental["facts"], rebuilt["facts"])
        self.assertEqual(incremental["category"], rebuilt["category"])
        self.assertEqual(incremental["daily"], rebuilt["daily"])
        self.assertEqual(RollupState.objects.get().rebuild_differences, 0)

        # And both count what the case table says, counted another way.
        sums = DailyFact.objects.filter(level=DISTRICT).aggregate(
            reported=Sum("reported"), filed=Sum("filed"), closed=Sum("closed")
        )
        self.assertEqual(sums["reported"], total)
        self.assertEqual(sums["filed"], Case.objects.filter(filed_at__isnull=False).count())
        self.assertEqual(sums["closed"], Case.objects.filter(stage=Stage.CLOSED).count())
