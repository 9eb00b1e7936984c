"""Routing in batches: one routing task takes the other cases waiting with its own, and
``workflow.perform_many`` takes their actions in one transaction. Each case must end
exactly as routing it alone would leave it."""

import threading
from unittest import mock

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import close_old_connections, connection
from django.test import TestCase

from cases.models import Case, CaseEvent, Category, DepartmentPolicy, RoutingRule, Stage, Urgency
from cases.routing import case_route, cases_route
from cases.workflow import CaseChanged, NotAllowed, Order, perform, perform_many
from clocks.models import Clock, ClockStep
from clocks.services import clocks_update
from feeds.models import Delivery
from governance.db import update_rows
from grids.models import Area
from maps.models import MapVersion
from org.models import Role
from tests.base import make_person
from tests.cases.base import CaseWorldMixin
from tests.cases.test_routing import WORKING
from tests.feeds.base import FeedWorldMixin

PARK = Point(116.4001, 39.9101, srid=4326)


class BatchWorldMixin(FeedWorldMixin):
    @classmethod
    def make_rules(cls):
        cls.zheng = make_person("zheng", Role.OFFICER, department=cls.sanitation)
        cls.feng = make_person("feng", Role.OFFICER, department=cls.sanitation)
        RoutingRule.objects.create(
            name="紧急案件", priority=10, urgency=Urgency.URGENT, department=cls.centre
        )
        RoutingRule.objects.create(
            name="公园",
            priority=20,
            department=cls.landscaping,
            shape=MultiPolygon(
                Polygon.from_bbox((116.4000, 39.9100, 116.4003, 39.9103)), srid=4326
            ),
        )
        RoutingRule.objects.create(
            name="街道市容",
            priority=50,
            category=Category.objects.get(full_code="E01"),
            area=Area.objects.get(code="110101001"),
            department=cls.sanitation,
        )

    def filed(self, **overrides) -> Case:
        case = self.report(**overrides)
        perform(case, "file", self.li)
        return case

    def mix(self) -> list[Case]:
        """Cases for every kind of decision: street rule (three of them), park, urgent,
        and one no rule owns."""
        return [
            self.filed(),
            self.filed(point=PARK),
            self.filed(),
            self.filed(urgency=Urgency.URGENT),
            self.filed(category=Category.objects.get(full_code="C0101")),
            self.filed(),
        ]


def outcome(case: Case) -> tuple:
    """What routing left on a case, apart from times: its row, its routing event, and
    the shape of its clocks and scheduled steps."""
    case.refresh_from_db()
    event = CaseEvent.objects.get(case=case, action__in=("dispatch", "route_none"))
    clocks = [
        (c.kind, c.seq, c.state, c.department_id, c.limit_value, c.limit_unit, c.allowed)
        for c in Clock.objects.filter(case=case).order_by("kind", "seq")
    ]
    steps = sorted(
        ClockStep.objects.filter(clock__case=case).values_list(
            "clock__kind", "step__key", "deadline_version", "fired_at"
        )
    )
    return (
        case.stage,
        case.department_id,
        case.routing_rule_id,
        case.needs_routing,
        case.version,
        event.action,
        event.actor.username,
        event.reason,
        event.from_stage,
        event.to_stage,
        {k: v for k, v in event.payload.items() if k != "assignee"},
        clocks,
        steps,
    )


def clock_rows(case: Case) -> list[tuple]:
    return [
        tuple(getattr(c, f) for f in ("kind", "seq", "state", "deadline", "warn_at", "used"))
        for c in Clock.objects.filter(case=case).order_by("kind", "seq")
    ] + sorted(
        ClockStep.objects.filter(clock__case=case).values_list("clock_id", "step_id", "fire_at")
    )


class BatchRoutingTestCase(BatchWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()
        cls.make_feeds()
        cls.make_rules()

    def test_a_batch_leaves_each_case_as_routing_it_alone_does(self):
        alone, together = self.mix(), self.mix()
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            for case in alone:
                case_route(case.pk)
            events = cases_route(together[0].pk, also=10)
        self.assertEqual(set(events), {case.pk for case in together})
        self.assertEqual([outcome(case) for case in together], [outcome(case) for case in alone])
        # The clocks, steps and deadlines written in bulk are those the one-case
        # computation gives from the same events: computing again changes nothing.
        for case in together:
            before = (clock_rows(case), case.deadline, case.warn_at, case.due_at)
            clocks_update(Case.objects.select_related("condition").get(pk=case.pk))
            case.refresh_from_db()
            self.assertEqual(before, (clock_rows(case), case.deadline, case.warn_at, case.due_at))
            self.assertTrue(Clock.objects.filter(case=case, kind="dispatch").exists())

    def test_round_robin_takes_turns_across_the_batch_and_keeps_its_pointer(self):
        cases = [self.filed() for _ in range(4)]
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            cases_route(cases[0].pk, also=10)
        assignees = [Case.objects.get(pk=case.pk).assignee for case in cases]
        self.assertEqual(assignees, [self.chen, self.zheng, self.feng, self.chen])
        policy = DepartmentPolicy.objects.get(department=self.sanitation)
        self.assertEqual(policy.last_assigned, self.chen)
        # The next routing goes on from there.
        case = self.filed()
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            event = case_route(case.pk)
        self.assertEqual(
            (event.action, event.payload.get("assignee")),
            ("dispatch", self.zheng.pk),
            (event.payload, event.reason),
        )

    def test_least_open_cases_counts_the_batchs_own_assignments(self):
        DepartmentPolicy.objects.create(
            department=self.sanitation, chooser=DepartmentPolicy.Chooser.LEAST_OPEN
        )
        cases = [self.filed() for _ in range(6)]
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            cases_route(cases[0].pk, also=10)
        loads = sorted(
            Case.objects.filter(pk__in=[c.pk for c in cases]).values_list(
                "assignee__username", flat=True
            )
        )
        self.assertEqual(loads, ["chen", "chen", "feng", "feng", "zheng", "zheng"])

    def test_the_other_cases_own_tasks_find_nothing_left(self):
        cases = [self.filed() for _ in range(3)]
        self.assertEqual(len(cases_route(cases[0].pk, also=10)), 3)
        for case in cases:
            self.assertEqual(cases_route(case.pk, also=10), {})
            self.assertEqual(
                CaseEvent.objects.filter(case=case, action__in=("dispatch", "route_none")).count(),
                1,
            )

    def test_also_limits_the_batch_oldest_first_and_its_own_case_first(self):
        cases = [self.filed() for _ in range(4)]
        self.assertEqual(set(cases_route(cases[3].pk, also=1)), {cases[3].pk, cases[0].pk})
        self.assertEqual(list(Case.objects.filter(needs_routing=True).order_by("pk")), cases[1:3])

    def test_feeds_and_the_map_hear_of_a_batch(self):
        cases = [self.filed() for _ in range(3)] + [self.filed(point=PARK)]
        version = MapVersion.objects.filter(pk=1).values_list("value", flat=True).first() or 0
        with self.captureOnCommitCallbacks(execute=True):
            cases_route(cases[0].pk, also=10)
        self.assertEqual(
            sorted(
                Delivery.objects.filter(subscription=self.sanitation_feed).values_list(
                    "event__case_id", "action"
                )
            ),
            [(case.pk, "dispatch") for case in cases[:3]],
        )
        self.assertEqual(
            list(
                Delivery.objects.filter(subscription=self.landscaping_feed).values_list(
                    "event__case_id", flat=True
                )
            ),
            [cases[3].pk],
        )
        self.assertGreater(MapVersion.objects.get(pk=1).value, version)

    def test_a_batch_is_all_or_nothing(self):
        good, moved = self.filed(), self.filed()
        perform(moved, "dispatch", self.li, data={"department": self.landscaping.pk})
        router = make_person("batch-router", Role.SYSTEM)
        seen = Case.objects.get(pk=good.pk).version
        orders = [
            Order(good.pk, "dispatch", "规则", {"department": self.sanitation.pk}),
            Order(moved.pk, "dispatch", "规则", {"department": self.sanitation.pk}),
        ]
        with self.assertRaises(NotAllowed):
            perform_many(orders, router)
        good.refresh_from_db()
        self.assertEqual((good.stage, good.version, good.department), (Stage.FILED, seen, None))
        self.assertFalse(CaseEvent.objects.filter(case=good, action="dispatch").exists())

    def test_a_refused_batch_is_routed_case_by_case(self):
        cases = [self.filed() for _ in range(3)] + [self.filed(point=PARK)]

        def refused(orders, user, **kwargs):
            raise CaseChanged("one of them changed")

        with mock.patch("cases.workflow.perform_many", refused):
            events = cases_route(cases[0].pk, also=10)
        self.assertEqual(set(events), {case.pk for case in cases})
        for case in cases:
            self.assertEqual(CaseEvent.objects.filter(case=case, action="dispatch").count(), 1)
        self.assertEqual(Case.objects.get(pk=cases[3].pk).department, self.landscaping)

    def test_update_rows_writes_each_rows_own_values(self):
        cases = [self.filed() for _ in range(3)]
        cases[0].deadline, cases[1].deadline = WORKING, None
        cases[2].deadline = WORKING.replace(hour=12)
        for case in cases:
            case.needs_routing = case is cases[1]
            case.description = f"第{case.pk}号"
        update_rows(cases, ["deadline", "needs_routing", "description"])
        got = list(
            Case.objects.filter(pk__in=[c.pk for c in cases])
            .order_by("pk")
            .values_list("deadline", "needs_routing", "description")
        )
        self.assertEqual(
            got,
            [
                (c.deadline, c.needs_routing, f"第{c.pk}号")
                for c in sorted(cases, key=lambda c: c.pk)
            ],
        )


@pytest.mark.django_db(transaction=True)
def test_two_routings_racing_over_a_backlog_route_each_case_once():
    class World(BatchWorldMixin):
        pass

    World.make_world()
    World.make_rules()
    world = World()
    cases = [world.filed() for _ in range(12)]
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(index):
        try:
            barrier.wait()
            results[index] = cases_route(cases[index * 6].pk, also=20)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test reads
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, dict) for r in results), results
    routed = [pk for result in results for pk in result]
    assert sorted(routed) == sorted(case.pk for case in cases)
    for case in cases:
        assert (
            CaseEvent.objects.filter(case=case, action__in=("dispatch", "route_none")).count() == 1
        )


class PerformManyInputTestCase(CaseWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()

    def test_a_case_twice_or_an_unknown_action_is_refused(self):
        case = self.report()
        perform(case, "file", self.li)
        with self.assertRaisesMessage(Exception, "Each case at most once"):
            perform_many([Order(case.pk, "route_none"), Order(case.pk, "route_none")], self.li)
        with self.assertRaisesMessage(Exception, "Unknown action"):
            perform_many([Order(case.pk, "fly")], self.li)
