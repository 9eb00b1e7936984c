"""The round-robin pointer on PostgreSQL: turns are claimed on a connection of their own
that commits at once, so routings of one department do not wait for each other's commit;
and each turn is given once."""

import datetime
import threading
from unittest import mock

import pytest
from django.db import close_old_connections, connection, transaction

from cases.models import Case, DepartmentPolicy
from cases.routing import Assigner, cases_route, choose_assignee, claim_turns
from org.models import Role
from tests.base import make_person
from tests.cases.base import CaseWorldMixin

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'", reason="SQLite writes one transaction at a time"
    ),
]

# A Tuesday morning in Beijing, inside working hours.
WORKING = datetime.datetime(
    2026, 11, 24, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
)


@pytest.fixture
def world():
    class World(CaseWorldMixin):
        pass

    World.make_world()
    world = World()
    world.zheng = make_person("zheng", Role.OFFICER, department=world.sanitation)
    world.feng = make_person("feng", Role.OFFICER, department=world.sanitation)
    DepartmentPolicy.objects.create(department=world.sanitation)
    return world


def pointer(world):
    return DepartmentPolicy.objects.get(department=world.sanitation).last_assigned


def lock_wait_at_most(seconds: float) -> None:
    """Inside a transaction: waiting longer for a row lock raises instead of hanging."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")


def test_a_routing_does_not_wait_for_another_to_commit(world):
    chose, may_end, picks = threading.Event(), threading.Event(), {}

    def first_routing():
        try:
            with transaction.atomic():
                picks["first"] = choose_assignee(world.sanitation, WORKING)
                chose.set()
                may_end.wait(20)  # still open while the second routing runs
                transaction.set_rollback(True)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=first_routing)
    thread.start()
    try:
        assert chose.wait(20)
        with transaction.atomic():
            lock_wait_at_most(2)  # the pointer's row held to the first one's commit: error
            picks["second"] = choose_assignee(world.sanitation, WORKING)
        # The second committed while the first is still open, and took the next turn.
        assert thread.is_alive()
        assert [picks["first"], picks["second"]] == [world.chen, world.zheng]
        assert pointer(world) == world.zheng
    finally:
        may_end.set()
        thread.join(20)
    # The first rolled back: its turn is used up all the same (Chen waits one round).
    assert pointer(world) == world.zheng
    assert choose_assignee(world.sanitation, WORKING) == world.feng


def test_a_batch_claims_its_turns_in_one_statement_and_claims_more_one_by_one(world):
    with transaction.atomic():
        assigner = Assigner(WORKING, expected={world.sanitation.pk: 3})
        picks = [assigner.choose(world.sanitation) for _ in range(3)]
        assert picks == [world.chen, world.zheng, world.feng]
        # This transaction wrote nothing: what it reads was committed aside.
        assert pointer(world) == world.feng
        assert assigner.choose(world.sanitation) == world.chen  # one more than expected
        assigner.save()
    assert pointer(world) == world.chen


def test_the_dry_run_reads_the_pointer_and_leaves_it(world):
    choose_assignee(world.sanitation, WORKING)
    with transaction.atomic():
        assert choose_assignee(world.sanitation, WORKING, claim=False) == world.zheng
        transaction.set_rollback(True)
    assert pointer(world) == world.chen
    assert choose_assignee(world.sanitation, WORKING) == world.zheng


def test_a_row_locked_by_the_routing_itself_falls_back_to_locking_it_there(world):
    with transaction.atomic():
        DepartmentPolicy.objects.select_for_update().get(department=world.sanitation)
        # The connection aside waits a second for the lock, then the routing takes the
        # turn under the lock it holds.
        assert choose_assignee(world.sanitation, WORKING) == world.chen
    assert pointer(world) == world.chen
    assert choose_assignee(world.sanitation, WORKING) == world.zheng


def test_two_routings_racing_never_give_the_same_turn(world):
    barrier, picks = threading.Barrier(4), []

    def routing():
        try:
            barrier.wait(20)
            with transaction.atomic():
                assigner = Assigner(WORKING, expected={world.sanitation.pk: 3})
                mine = [assigner.choose(world.sanitation) for _ in range(3)]
                assigner.save()
            picks.append(mine)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=routing) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Twelve turns among three officers: each batch three different officers, and each
    # officer four turns.
    assert len(picks) == 4
    assert all(len(set(mine)) == 3 for mine in picks)
    flat = [user for mine in picks for user in mine]
    assert {user: flat.count(user) for user in flat} == {
        world.chen: 4,
        world.zheng: 4,
        world.feng: 4,
    }


def test_a_routing_batch_takes_its_turns_aside_in_order():
    from tests.cases.test_routing_batch import BatchWorldMixin

    class World(BatchWorldMixin):
        pass

    World.make_world()
    World.make_rules()
    world = World()
    DepartmentPolicy.objects.create(department=world.sanitation)
    cases = [world.filed() for _ in range(5)]
    with (
        mock.patch("cases.routing.timezone.now", return_value=WORKING),
        mock.patch("cases.routing.claim_turns", wraps=claim_turns) as claims,
    ):
        routed = cases_route(cases[0].pk, also=10)
    # One claim for the five: one statement aside.
    assert [c.args[2] for c in claims.call_args_list] == [5]
    assert set(routed) == {case.pk for case in cases}
    assignees = [Case.objects.get(pk=case.pk).assignee for case in cases]
    assert assignees == [world.chen, world.zheng, world.feng, world.chen, world.zheng]
    assert DepartmentPolicy.objects.get(department=world.sanitation).last_assigned == world.zheng
