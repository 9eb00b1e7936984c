import datetime
from unittest import mock

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.urls import reverse
from django.utils import timezone, translation

from cases.models import (
    CalendarDay,
    Case,
    CaseEvent,
    Category,
    DepartmentPolicy,
    RoutingRule,
    Stage,
    Urgency,
    WorkingCalendar,
)
from cases.routing import case_route, choose_assignee, routing_dry_run, routing_gaps, unrouted_cases
from cases.workflow import perform
from grids.models import Area, GridAssignment
from org.models import Leave, Role
from tests.base import make_person
from tests.cases.base import INSIDE, CaseTestCase

# A Tuesday morning in Beijing, inside working hours.
WORKING = datetime.datetime(
    2026, 11, 24, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
)
NIGHT = datetime.datetime(
    2026, 11, 24, 22, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
)


class RoutingTestCase(CaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.city = Category.objects.get(full_code="E01")
        cls.street_area = Area.objects.get(code="110101001")
        # Sanitation owns city-appearance events in this street; landscaping everything
        # inside the drawn park; urgent cases go to the centre.
        cls.rule_urgent = RoutingRule.objects.create(
            name="紧急案件", priority=10, urgency=Urgency.URGENT, department=cls.centre
        )
        cls.rule_park = RoutingRule.objects.create(
            name="公园",
            priority=20,
            department=cls.landscaping,
            shape=MultiPolygon(
                Polygon.from_bbox((116.4000, 39.9100, 116.4003, 39.9103)), srid=4326
            ),
        )
        cls.rule_street = RoutingRule.objects.create(
            name="街道市容",
            priority=50,
            category=cls.city,
            area=cls.street_area,
            department=cls.sanitation,
        )

    def file(self, **overrides):
        case = self.report(**overrides)
        perform(case, "file", self.li)
        return case

    def test_the_first_matching_rule_wins_and_is_written_on_the_event(self):
        case = self.file()
        event = case_route(case.pk)
        case.refresh_from_db()
        self.assertEqual(
            (case.stage, case.department, case.routing_rule),
            (Stage.DISPATCHED, self.sanitation, self.rule_street),
        )
        self.assertFalse(case.needs_routing)
        self.assertEqual((event.action, event.actor.username), ("dispatch", "gridgov-router"))
        self.assertEqual(event.payload["rule"], self.rule_street.pk)
        self.assertIn("街道市容", event.reason)
        self.assertEqual([t["matched"] for t in event.payload["trace"]], [False, False, True])

    def test_a_drawn_area_and_urgency_take_precedence_by_priority(self):
        in_park = self.file(point=Point(116.4001, 39.9101, srid=4326))
        case_route(in_park.pk)
        in_park.refresh_from_db()
        self.assertEqual(in_park.department, self.landscaping)
        urgent = self.file(urgency=Urgency.URGENT)
        case_route(urgent.pk)
        urgent.refresh_from_db()
        self.assertEqual(urgent.department, self.centre)

    @translation.override("en")
    def test_no_matching_rule_leaves_the_case_to_the_dispatchers(self):
        component = self.file(category=Category.objects.get(full_code="C0101"))
        event = case_route(component.pk)
        component.refresh_from_db()
        self.assertEqual(
            (component.stage, component.department, component.needs_routing),
            (Stage.FILED, None, False),
        )
        self.assertEqual(event.action, "route_none")
        self.assertIn("No routing rule matches", event.reason)

    def test_routing_twice_routes_once(self):
        case = self.file()
        self.assertIsNotNone(case_route(case.pk))
        self.assertIsNone(case_route(case.pk))
        self.assertEqual(CaseEvent.objects.filter(case=case, action="dispatch").count(), 1)

    def test_a_case_no_longer_filed_is_not_routed(self):
        case = self.file()
        perform(case, "dispatch", self.li, data={"department": self.landscaping.pk})
        Case.objects.filter(pk=case.pk).update(needs_routing=True)
        self.assertIsNone(case_route(case.pk))
        case.refresh_from_db()
        self.assertEqual((case.department, case.needs_routing), (self.landscaping, False))

    @translation.override("en")
    def test_the_dry_run_explains_each_rule(self):
        where, decision = routing_dry_run(
            point=INSIDE, category=self.category, urgency=Urgency.NORMAL
        )
        self.assertEqual(where.grid, self.grids[2])
        self.assertEqual(decision.rule, self.rule_street)
        self.assertEqual(
            [(rule.name, matched) for rule, matched, _ in decision.trace],
            [("紧急案件", False), ("公园", False), ("街道市容", True)],
        )
        self.assertIn("urgency is not", str(decision.trace[0][2]))
        self.assertIn("outside the drawn area", str(decision.trace[1][2]))

    def test_the_gap_check_finds_unowned_and_doubly_owned_pairs(self):
        gaps = routing_gaps()
        unowned = {
            (g["category"].full_code, g["street"].code) for g in gaps if g["problem"] == "none"
        }
        self.assertIn(("C0101", "110101001"), unowned)
        self.assertNotIn(("E0102", "110101001"), unowned)
        RoutingRule.objects.create(
            name="又一条",
            priority=50,
            category=self.category,
            area=self.street_area,
            department=self.landscaping,
        )
        several = [g for g in routing_gaps() if g["problem"] == "several"]
        self.assertEqual(
            [(g["category"].full_code, g["street"].code) for g in several], [("E0102", "110101001")]
        )

    def test_filing_marks_the_case_for_routing_and_the_sweep_finds_it(self):
        case = self.file()
        self.assertTrue(Case.objects.get(pk=case.pk).needs_routing)
        self.assertNotIn(case, unrouted_cases())  # still within its grace time
        Case.objects.filter(pk=case.pk).update(
            filed_at=timezone.now() - datetime.timedelta(minutes=5)
        )
        self.assertIn(case, unrouted_cases())


class AssignmentTestCase(CaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.zheng = make_person("zheng", Role.OFFICER, department=cls.sanitation)
        cls.feng = make_person("feng", Role.OFFICER, department=cls.sanitation)
        cls.officers = [cls.chen, cls.zheng, cls.feng]

    def test_round_robin_takes_turns_and_keeps_its_pointer(self):
        picks = [choose_assignee(self.sanitation, WORKING) for _ in range(4)]
        self.assertEqual(picks, [self.chen, self.zheng, self.feng, self.chen])
        self.assertEqual(
            DepartmentPolicy.objects.get(department=self.sanitation).last_assigned, self.chen
        )

    def test_people_on_leave_are_skipped(self):
        Leave.objects.create(user=self.zheng, start=WORKING.date(), end=WORKING.date())
        picks = [choose_assignee(self.sanitation, WORKING) for _ in range(3)]
        self.assertEqual(picks, [self.chen, self.feng, self.chen])

    def test_least_open_cases(self):
        DepartmentPolicy.objects.create(
            department=self.sanitation, chooser=DepartmentPolicy.Chooser.LEAST_OPEN
        )
        for officer in (self.chen, self.chen, self.zheng):
            case = self.case_in(Stage.DISPATCHED)
            Case.objects.filter(pk=case.pk).update(assignee=officer)
        self.assertEqual(choose_assignee(self.sanitation, WORKING), self.feng)

    def test_nobody_is_assigned_off_duty(self):
        self.assertIsNone(choose_assignee(self.sanitation, NIGHT))

    def test_nobody_is_assigned_on_a_holiday_and_everybody_on_a_make_up_day(self):
        CalendarDay.objects.create(day=WORKING.date(), kind=CalendarDay.Kind.HOLIDAY)
        self.assertIsNone(choose_assignee(self.sanitation, WORKING))
        saturday = WORKING + datetime.timedelta(days=4)
        self.assertIsNone(choose_assignee(self.sanitation, saturday))
        CalendarDay.objects.create(day=saturday.date(), kind=CalendarDay.Kind.WORKDAY)
        self.assertEqual(choose_assignee(self.sanitation, saturday), self.chen)

    def test_a_calendar_of_its_own_decides_over_national_days(self):
        own = WorkingCalendar.objects.create(
            name="环卫",
            periods={str(d): [["06:00", "22:00"]] for d in range(7)},
            follows_national=True,
        )
        DepartmentPolicy.objects.create(department=self.sanitation, calendar=own)
        CalendarDay.objects.create(day=WORKING.date(), kind=CalendarDay.Kind.HOLIDAY)
        self.assertIsNone(choose_assignee(self.sanitation, WORKING))
        # The department works through this holiday; and it closes on a normal day.
        CalendarDay.objects.create(calendar=own, day=WORKING.date(), kind=CalendarDay.Kind.WORKDAY)
        self.assertEqual(choose_assignee(self.sanitation, WORKING), self.chen)
        closed = WORKING + datetime.timedelta(days=1)
        CalendarDay.objects.create(calendar=own, day=closed.date(), kind=CalendarDay.Kind.CLOSURE)
        self.assertIsNone(choose_assignee(self.sanitation, closed))
        # One that ignores national holidays works on them.
        own.follows_national = False
        own.save()
        CalendarDay.objects.filter(calendar=own).delete()
        self.assertEqual(choose_assignee(self.sanitation, WORKING), self.zheng)

    def test_dispatch_assigns_an_officer(self):
        case = self.case_in(Stage.FILED)
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            perform(case, "dispatch", self.li, data={"department": self.sanitation.pk})
        self.assertEqual(case.assignee, self.chen)


class FieldWorkerTestCase(CaseTestCase):
    def test_the_deputy_checks_while_the_worker_is_on_leave(self):
        deputy = make_person("deputy", Role.GRID_WORKER)
        for grid in self.grids:
            GridAssignment.objects.create(grid=grid, worker=deputy, duty="deputy")
        today = timezone.localdate()
        Leave.objects.create(user=self.wang, start=today, end=today + datetime.timedelta(days=3))
        case = self.case_in(Stage.VERIFYING)
        self.assertEqual(case.field_worker, deputy)


class RoutingPageTestCase(RoutingTestCase):
    def test_the_dry_run_page_explains_the_decision(self):
        url = reverse("cases:routing")
        query = {
            "lon": INSIDE.x,
            "lat": INSIDE.y,
            "category": self.category.pk,
            "urgency": "normal",
        }
        self.client.force_login(self.li)
        response = self.client.get(url, query, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(response, "Rule “街道市容” (priority 50)")
        self.assertIsNone(response.context["gaps"])
        self.client.force_login(self.ada)
        response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        self.assertGreater(response.context["gap_count"], 0)
        self.assertContains(response, "no department owns it")
        for person in (self.wang, self.zhao, self.chen, self.zhou, self.nobody):
            self.client.force_login(person)
            self.assertEqual(self.client.get(url, query).status_code, 403)

    def test_bad_input_is_explained(self):
        self.client.force_login(self.li)
        response = self.client.get(
            reverse("cases:routing"), {"lon": "east", "lat": 39.9}, HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(response, "Enter a number")
        self.assertIsNone(response.context["result"])
