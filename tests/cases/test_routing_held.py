"""What routing keeps in a worker's memory (``cases.routing.held_for_routing``): read
again after any write to the tables it comes from, whatever wrote it, and only then; a
routing after such a write decides from the new rows."""

import datetime
from unittest import mock

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import routing
from cases.models import (
    CalendarDay,
    Case,
    Category,
    DepartmentPolicy,
    RoutingRule,
    RoutingVersion,
    WorkingCalendar,
)
from cases.routing import cases_route, held_for_routing
from grids.models import Area
from org.models import Department, Leave, Membership, Role, RoleGrant, User
from tests.base import make_person
from tests.cases.test_routing_batch import BatchWorldMixin

from .test_round_robin import WORKING


def token() -> str:
    return RoutingVersion.objects.filter(pk=1).values_list("token", flat=True).first() or ""


class HeldTestCase(BatchWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()
        cls.make_rules()
        routing.router()  # the account routing acts as, created once

    def test_the_same_token_reuses_the_rows_without_reading_them(self):
        first = held_for_routing()
        with self.assertNumQueries(1):
            again = held_for_routing()
        self.assertIs(again, first)
        self.assertEqual([rule[1] for rule in first.rules], ["紧急案件", "公园", "街道市容"])
        self.assertEqual(first.router.username, routing.ROUTER_USERNAME)
        self.assertIn(self.sanitation.pk, first.departments)

    def test_every_kind_of_write_to_every_table_gives_a_new_token(self):
        calendar = WorkingCalendar.objects.first()
        writes = {
            "rule update": lambda: RoutingRule.objects.filter(priority=50).update(priority=40),
            "rule created": lambda: RoutingRule.objects.create(
                name="兜底", priority=90, department=self.centre
            ),
            "category update": lambda: Category.objects.filter(full_code="E01").update(
                is_active=False
            ),
            "department update": lambda: Department.objects.filter(pk=self.landscaping.pk).update(
                is_active=False
            ),
            "area renamed": lambda: Area.objects.filter(code="110101001").update(name="新名"),
            "policy created": lambda: DepartmentPolicy.objects.create(department=self.sanitation),
            "policy chooser": lambda: DepartmentPolicy.objects.update(
                chooser=DepartmentPolicy.Chooser.LEAST_OPEN
            ),
            "policy calendar": lambda: DepartmentPolicy.objects.update(calendar=calendar),
            "calendar update": lambda: WorkingCalendar.objects.update(follows_national=True),
            "day created": lambda: CalendarDay.objects.create(
                day=datetime.date(2030, 1, 2), kind=CalendarDay.Kind.HOLIDAY
            ),
            "officer deactivated": lambda: User.objects.filter(pk=self.zheng.pk).update(
                is_active=False
            ),
            "membership deleted": lambda: Membership.objects.filter(user=self.feng).delete(),
            "role granted": lambda: RoleGrant.objects.create(user=self.wang, role=Role.OFFICER),
            "leave in bulk": lambda: Leave.objects.bulk_create(
                [Leave(user=self.chen, start=WORKING.date(), end=WORKING.date())]
            ),
        }
        for name, write in writes.items():
            with self.subTest(name):
                before = token()
                write()
                self.assertNotEqual(token(), before)

    def test_moving_the_pointer_and_signing_in_keep_the_token(self):
        DepartmentPolicy.objects.create(department=self.sanitation)
        held = held_for_routing()
        DepartmentPolicy.objects.update(last_assigned=self.chen)
        User.objects.filter(pk=self.chen.pk).update(last_login=timezone.now())
        self.assertIs(held_for_routing(), held)

    def test_a_rule_switched_off_behind_the_models_back_is_not_used(self):
        first = self.filed()
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            cases_route(first.pk)
        self.assertEqual(Case.objects.get(pk=first.pk).department, self.sanitation)
        RoutingRule.objects.filter(name="街道市容").update(is_active=False)
        second = self.filed()
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            event = cases_route(second.pk)[second.pk]
        self.assertEqual(event.action, "route_none")
        self.assertEqual([line["name"] for line in event.payload["trace"]], ["紧急案件", "公园"])

    def test_the_router_account_created_in_a_rolled_back_transaction_is_not_kept(self):
        from django.db import transaction

        User.objects.filter(username=routing.ROUTER_USERNAME).delete()
        routing._held = None
        with transaction.atomic():
            created = held_for_routing().router
            transaction.set_rollback(True)
        self.assertFalse(User.objects.filter(pk=created.pk).exists())
        self.assertTrue(User.objects.filter(pk=held_for_routing().router.pk).exists())


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="the officers are kept in memory where turns are claimed aside (PostgreSQL)",
)
def test_officers_kept_in_memory_follow_leave_and_new_officers():
    class World(BatchWorldMixin):
        pass

    World.make_world()
    World.make_rules()
    world = World()
    DepartmentPolicy.objects.create(department=world.sanitation)
    routing.router()  # the account routing acts as, created once
    # Routed here, not by a worker the session may have started.
    no_tasks = mock.patch("cases.effects.enqueue_routing")
    no_tasks.start()

    def route(case):
        with mock.patch("cases.routing.timezone.now", return_value=WORKING):
            cases_route(case.pk)
        return Case.objects.get(pk=case.pk).assignee

    assert route(world.filed()) == world.chen
    day = timezone.localdate(WORKING)
    assert (world.sanitation.pk, day) in routing._held.assignable
    # Kept: the next routing reads neither the policy nor the officers.
    kept = routing._held
    case = world.filed()
    with (
        CaptureQueriesContext(connection) as queries,
        mock.patch("cases.routing.timezone.now", return_value=WORKING),
    ):
        cases_route(case.pk)
    assert Case.objects.get(pk=case.pk).assignee == world.zheng
    assert routing._held is kept
    # Neither the policy, the officers, nor the default calendar and its day were read.
    read = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    for table in (
        "cases_departmentpolicy",
        "org_user",
        "cases_workingcalendar",
        "cases_calendarday",
    ):
        assert not [sql for sql in read if f'FROM "{table}"' in sql], table
    # Feng, next in turn, goes on leave; a new officer joins.
    Leave.objects.create(user=world.feng, start=day, end=day)
    wu = make_person("wu", Role.OFFICER, department=world.sanitation)
    assert [route(world.filed()) for _ in range(3)] == [wu, world.chen, world.zheng]
    assert routing._held is not kept
    # The next day's routing keeps that day's officers only.
    case = world.filed()
    with mock.patch(
        "cases.routing.timezone.now", return_value=WORKING + datetime.timedelta(days=1)
    ):
        cases_route(case.pk)
    assert Case.objects.get(pk=case.pk).assignee is not None
    assert list(routing._held.assignable) == [
        (world.sanitation.pk, day + datetime.timedelta(days=1))
    ]
    no_tasks.stop()
