"""Synthetic cases (``manage.py generate_cases``): real places, real numbers, real histories."""

import datetime
import re
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO
from unittest import mock

from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F, Max
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from cases import demo as cases_demo
from cases.clock import calendar_for, limit_to_deadline
from cases.models import (
    OPEN_STAGES,
    Case,
    CaseEvent,
    CaseNumberCounter,
    CaseReporter,
    CaseRequest,
    RoutingRule,
    Stage,
)
from cases.services import next_case_number
from cases.synthetic import generate_cases, months_back
from cases.synthetic.mix import MAJOR_SHARE
from cases.workflow import BY_ACTION
from grids.models import Area, GridAssignment, locate
from grids.services import grids_generate
from org import demo as org_demo
from org.models import Department, Membership, Role, RoleGrant, User
from tests.grids.helpers import bbox

CASES = 400
NUMBER = re.compile(r"^([CE]\d{4})(\d{8})(\d{4})$")


def make_small_district() -> None:
    """The demo organisation, and two communities of Dongcheng in two streets, cut into
    100 m grids with a responsible worker and a deputy each, and the demo routing rules (the
    real demo district takes too long to build for a test)."""
    org_demo.load()
    district = Area.objects.create(
        code="110101", name="东城区", level="district", boundary=bbox(116.39, 39.90, 116.42, 39.93)
    )
    for street_code, name, x in (
        ("110101001", "东华门街道", 116.400),
        ("110101002", "景山街道", 116.41),
    ):
        street = Area.objects.create(
            code=street_code,
            name=name,
            level="street",
            parent=district,
            boundary=bbox(x, 39.91, x + 0.006, 39.915),
        )
        community = Area.objects.create(
            code=f"{street_code}001",
            name=f"{name[:2]}社区",
            level="community",
            parent=street,
            boundary=bbox(x, 39.91, x + 0.005, 39.914),
        )
        workers = []
        for number in (1, 2):
            worker = User.objects.create(username=f"gw-{community.code}-{number}")
            RoleGrant.objects.create(user=worker, role=Role.GRID_WORKER)
            workers.append(worker)
        for index, grid in enumerate(grids_generate(community=community, cell_size=100)):
            responsible, deputy = workers[index % 2], workers[(index + 1) % 2]
            GridAssignment.objects.create(grid=grid, worker=responsible, duty="responsible")
            GridAssignment.objects.create(grid=grid, worker=deputy, duty="deputy")
    cases_demo.load()


class GenerateCasesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_small_district()
        cls.stats = generate_cases(cases=CASES, months=6, seed=7, batch=150)

    def cases(self):
        return Case.objects.select_related("category", "grid", "condition")

    def test_it_makes_cases_in_every_stage(self):
        self.assertEqual(Case.objects.count(), CASES)
        stages = Counter(Case.objects.values_list("stage", flat=True))
        self.assertEqual(set(stages), set(Stage.values))
        # Most are closed, a few per cent are open.
        self.assertGreater(stages[Stage.CLOSED], 0.8 * CASES)
        open_cases = sum(stages[stage] for stage in OPEN_STAGES)
        self.assertTrue(0.01 * CASES < open_cases < 0.1 * CASES, stages)
        self.assertEqual(self.stats.cases, CASES)
        self.assertEqual(self.stats.events, CaseEvent.objects.count())
        if connection.vendor == "postgresql":
            # An empty table is rebuilt, and the batches simulated by a second process.
            self.assertEqual(self.stats.mode, "COPY, indexes rebuilt, simulated in parallel")

    def test_it_reports_over_the_months_before_now(self):
        now = timezone.now()
        first = months_back(timezone.localdate(), 6)
        times = list(Case.objects.values_list("reported_at", flat=True))
        self.assertTrue(all(t <= now for t in times))
        self.assertGreaterEqual(timezone.localdate(min(times)), first - datetime.timedelta(days=1))
        months = {(t.year, t.month) for t in times}
        self.assertGreaterEqual(len(months), 6)
        self.assertFalse(CaseEvent.objects.filter(at__gt=now).exists())

    def test_it_numbers_filed_cases_uniquely_in_the_real_format(self):
        issued = defaultdict(int)
        for case in self.cases():
            filed = any(e == "file" for e in case.events.values_list("action", flat=True))
            if not filed:
                self.assertIsNone(case.number)
                self.assertIsNone(case.filed_at)
                continue
            match = NUMBER.match(case.number)
            self.assertIsNotNone(match, case.number)
            prefix, day, sequence = match.groups()
            self.assertEqual(prefix, case.category.full_code[:5])
            self.assertEqual(day, f"{timezone.localdate(case.filed_at):%Y%m%d}")
            key = (prefix, timezone.localdate(case.filed_at))
            issued[key] = max(issued[key], int(sequence))
        numbers = list(Case.objects.exclude(number=None).values_list("number", flat=True))
        self.assertEqual(len(numbers), len(set(numbers)))
        # The counters say what was issued, so that a filing today continues the sequence.
        counters = {(c.prefix, c.day): c.last for c in CaseNumberCounter.objects.all()}
        self.assertEqual(counters, dict(issued))

    def test_it_places_each_case_in_the_grid_that_contains_it(self):
        for case in Case.objects.select_related("grid__community__parent"):
            where = locate(case.point)
            self.assertEqual(where.grid, case.grid, case.pk)
            self.assertEqual(
                (case.community_id, case.street_id, case.district_id),
                (where.community.pk, where.street.pk, where.district.pk),
            )
            self.assertTrue(case.grid.code.startswith("110101"))

    def assert_histories_follow_the_workflow(self, cases) -> None:
        roles = defaultdict(set)
        for user_id, role in RoleGrant.objects.values_list("user_id", "role"):
            roles[user_id].add(role)
        rules = dict(RoutingRule.objects.values_list("pk", "department_id"))
        events = defaultdict(list)
        for event in CaseEvent.objects.filter(case__in=cases).order_by("at", "id"):
            events[event.case_id].append(event)
        for case in cases:
            history = events[case.pk]
            self.assertEqual(history[0].action, "report")
            self.assertEqual(history[0].from_stage, "")
            stage = ""
            for event in history:
                self.assertEqual(event.from_stage, stage, (case.pk, event.action))
                stage = event.to_stage
                if event.action in ("report", "absorb"):
                    continue
                transition = BY_ACTION[event.action]
                self.assertIn(event.from_stage, transition.sources, (case.pk, event.action))
                self.assertEqual(event.to_stage, transition.target or event.from_stage)
                self.assertTrue(roles[event.actor_id] & transition.roles, (case.pk, event.action))
                if event.action == "dispatch" and Role.SYSTEM in roles[event.actor_id]:
                    # The router dispatched by a rule, to that rule's department.
                    self.assertEqual(rules[event.payload["rule"]], event.payload["department"])
            self.assertEqual(stage, case.stage, case.pk)
            self.assertEqual(case.version, len(history))
            times = [event.at for event in history]
            self.assertEqual(times, sorted(times))
            self.assertEqual(history[0].at, case.reported_at)
            if case.department_id is not None:
                last = [e for e in history if e.action == "dispatch"][-1]
                self.assertEqual(last.payload["department"], case.department_id)
                self.assertEqual(last.payload.get("rule"), case.routing_rule_id)

    def test_each_history_is_a_path_of_the_workflow(self):
        self.assert_histories_follow_the_workflow(Case.objects.all())
        # Every category has a demo rule: the router dispatched, routing never came up empty.
        routed = CaseEvent.objects.filter(action="dispatch", actor__username="gridgov-router")
        self.assertTrue(routed.exists())
        self.assertFalse(CaseEvent.objects.filter(action="route_none").exists())

    def test_timestamps_follow_the_stage(self):
        closing = {Stage.CLOSED, Stage.VOIDED, Stage.ARCHIVED, Stage.INVALID, Stage.MERGED}
        for case in Case.objects.all():
            if case.filed_at is not None:
                self.assertGreaterEqual(case.filed_at, case.reported_at)
            if case.stage in closing:
                self.assertIsNotNone(case.closed_at, case.pk)
                self.assertGreaterEqual(case.closed_at, case.filed_at or case.reported_at)
            else:
                self.assertIsNone(case.closed_at, case.pk)
            if case.stage == Stage.CLOSED:
                self.assertLessEqual(case.reported_at, case.filed_at)
                self.assertLessEqual(case.filed_at, case.closed_at)

    def test_deadlines_come_from_the_filing_condition(self):
        calendar = calendar_for(None)
        extended = set(
            CaseEvent.objects.filter(action="approve_extension").values_list("case_id", flat=True)
        )
        checked = 0
        for case in self.cases().exclude(filed_at=None):
            expected = limit_to_deadline(
                case.filed_at, case.condition.limit_value, case.condition.limit_unit, calendar
            )
            filing = case.events.get(action="file")
            self.assertEqual(filing.payload["deadline"], expected.isoformat())
            if case.pk not in extended:
                self.assertEqual(case.deadline, expected)
                # The whole-case clock turns yellow at 80 % of the working time allowed.
                warn = limit_to_deadline(
                    case.filed_at,
                    case.condition.limit_value * Decimal("0.8"),
                    case.condition.limit_unit,
                    calendar,
                )
                self.assertEqual(case.warn_at, warn)
                checked += 1
            self.assertLess(case.warn_at, case.deadline)
            # The inbox's order: the nearest running deadline, none once closed or on hold.
            running = case.stage in OPEN_STAGES and case.stage != Stage.ON_HOLD
            self.assertEqual(case.due_at, case.deadline if running else None, case.stage)
        self.assertGreater(checked, 0.8 * CASES)

    def test_departments_own_the_categories_and_reporters_patrol_the_grid(self):
        from cases.seed import department_kinds

        kinds = department_kinds()
        for case in self.cases().select_related("department", "street").exclude(department=None):
            kind = kinds[case.category.full_code[:5]]
            expected = f"street-{case.street.code}" if kind == "street" else f"dc-{kind}"
            if case.return_count == 0:  # a returned case went on to another department
                self.assertEqual(case.department.code, expected, case.pk)
        for case in self.cases().filter(source="patrol").exclude(stage=Stage.MERGED):
            workers = set(
                GridAssignment.objects.filter(grid=case.grid).values_list("worker_id", flat=True)
            )
            self.assertIn(case.reporter_id, workers)

    def test_every_case_has_its_reporters_and_merges_are_absorbed(self):
        per_case = Counter(CaseReporter.objects.values_list("case_id", flat=True))
        self.assertEqual(set(per_case), set(Case.objects.values_list("pk", flat=True)))
        merged = Case.objects.filter(stage=Stage.MERGED)
        self.assertTrue(merged.exists())
        for case in merged:
            target = case.merged_into
            self.assertIn(target.stage, Stage.values)
            absorb = target.events.get(action="absorb", payload__case=case.pk)
            self.assertEqual(absorb.at, case.closed_at)
            self.assertTrue(
                target.reporters.filter(original_case=case, user_id=case.reporter_id).exists()
            )
            self.assertEqual(target.category_id, case.category_id)
        for event in CaseEvent.objects.filter(action__startswith="request_"):
            request = CaseRequest.objects.get(pk=event.payload["request"])
            self.assertEqual(
                (request.case_id, f"request_{request.kind}"), (event.case_id, event.action)
            )
            self.assertEqual(request.requested_at, event.at)
            decision = CaseEvent.objects.filter(
                case_id=event.case_id, payload__request=request.pk
            ).exclude(pk=event.pk)
            if request.status == CaseRequest.Status.PENDING:
                # Asked recently: the decision is still to come.
                self.assertFalse(decision.exists())
                self.assertIn(request.case.stage, OPEN_STAGES)
            else:
                self.assertEqual(decision.get().at, request.decided_at)

    def test_categories_come_in_the_intended_proportions(self):
        majors = Counter(
            code[:3] for code in Case.objects.values_list("category__full_code", flat=True)
        )
        total = sum(MAJOR_SHARE.values())
        for major in ("E01", "E05"):
            share = 100 * majors[major] / CASES
            self.assertAlmostEqual(share, 100 * MAJOR_SHARE[major] / total, delta=8, msg=major)
        components = sum(n for code, n in majors.items() if code.startswith("C"))
        self.assertLess(components, 0.12 * CASES)

    def test_the_command_adds_more_and_filing_continues_the_numbers(self):
        # Without routing rules, routing finds none and dispatchers dispatch.
        RoutingRule.objects.all().delete()
        before = Case.objects.aggregate(last=Max("pk"))["last"]
        out = StringIO()
        call_command(
            "generate_cases",
            "--cases",
            "120",
            "--seed",
            "2",
            "--keep-indexes",
            "--one-process",
            stdout=out,
        )
        self.assertIn("120 cases", out.getvalue())
        self.assertIn("cases/s", out.getvalue())
        self.assertEqual(Case.objects.count(), CASES + 120)
        added = Case.objects.filter(pk__gt=before)
        self.assert_histories_follow_the_workflow(added)
        self.assertTrue(CaseEvent.objects.filter(case__in=added, action="route_none").exists())
        self.assertFalse(added.exclude(routing_rule=None).exists())
        numbers = list(Case.objects.exclude(number=None).values_list("number", flat=True))
        self.assertEqual(len(numbers), len(set(numbers)))
        # A case filed now on a day the generator used takes the next number.
        latest = Case.objects.exclude(number=None).order_by("-number").first()
        day = timezone.localdate(latest.filed_at)
        last = CaseNumberCounter.objects.get(prefix=latest.number[:5], day=day).last
        number = next_case_number(latest.category, day)
        self.assertEqual(number, f"{latest.number[:5]}{day:%Y%m%d}{last + 1:04d}")
        self.assertFalse(Case.objects.filter(number=number).exists())

    def test_the_inbox_lists_the_departments_cases_nearest_deadline_first(self):
        from cases.views import INBOX_STAGES

        # An officer of every department sees every case being handled.
        officer = User.objects.get(username="officer")
        for department in Department.objects.exclude(members=officer):
            Membership.objects.create(user=officer, department=department)
        expected = list(
            Case.objects.filter(department__in=officer.departments.all(), stage__in=INBOX_STAGES)
            .order_by(F("due_at").asc(nulls_last=True), "id")
            .values_list("id", flat=True)
        )
        self.assertEqual(len(expected), Case.objects.filter(stage__in=INBOX_STAGES).count())
        self.assertGreaterEqual(len(expected), len(INBOX_STAGES))
        self.client.force_login(officer)
        with self.assertNumQueries(5):  # 4, and the header's unread count
            response = self.client.get(reverse("cases:inbox"))
        self.assertEqual([case.pk for case in response.context["cases"]], expected[:200])

    def test_a_second_process_makes_the_same_cases(self):
        if connection.vendor != "postgresql":
            self.skipTest("the second process runs with a PostgreSQL rebuild")

        now = timezone.now()

        def histories(parallel: bool) -> tuple[str, list]:
            # Both runs at the same moment, so that the same lives stop at the same step.
            with transaction.atomic(), mock.patch.object(timezone, "now", return_value=now):
                before = Case.objects.aggregate(last=Max("pk"))["last"]
                stats = generate_cases(
                    cases=200, seed=3, batch=70, rebuild_indexes=True, parallel=parallel
                )
                added = Case.objects.filter(pk__gt=before).order_by("pk")
                self.assert_histories_follow_the_workflow(added)
                made = [
                    (
                        case.reported_at, case.stage, case.category_id, case.grid_id,
                        case.number, case.deadline, case.assignee_id, case.version,
                        [
                            (e.at, e.action, e.to_stage, e.actor_id, e.reason)
                            for e in case.events.order_by("at", "id")
                        ],
                    )
                    for case in added
                ]  # fmt: skip
                transaction.set_rollback(True)
            return stats.mode, made

        alone_mode, alone = histories(parallel=False)
        pipelined_mode, pipelined = histories(parallel=True)
        self.assertEqual(alone_mode, "COPY, indexes rebuilt")
        self.assertEqual(pipelined_mode, "COPY, indexes rebuilt, simulated in parallel")
        self.assertEqual(len(pipelined), 200)
        self.assertEqual(pipelined, alone)
