"""Races on one case, on the real database: one action wins, the other is told to reload."""

import threading

import pytest
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import translation

from cases.models import Case, CaseEvent, Stage
from cases.workflow import CaseChanged, TransitionError, perform
from tests.cases.base import CaseWorldMixin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world():
    class World(CaseWorldMixin):
        pass

    World.make_world()
    return World()


def race(*calls):
    """Run the calls at the same moment in threads, each on its own connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            # Translation is per thread: read the messages in English here too.
            with translation.override("en"):
                results[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test reads
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_people_acting_on_one_case_at_once(world):
    case = world.case_in(Stage.DISPATCHED)
    seen = case.version
    before = CaseEvent.objects.filter(case=case).count()
    results = race(
        lambda: perform(case.pk, "accept", world.chen, version=seen),
        lambda: perform(case.pk, "request_return", world.chen, version=seen, reason="不归我们管"),
    )
    winners = [r for r in results if isinstance(r, CaseEvent)]
    losers = [r for r in results if isinstance(r, TransitionError)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], CaseChanged), results
    assert "This case changed" in str(losers[0])
    assert CaseEvent.objects.filter(case=case).count() == before + 1
    assert Case.objects.get(pk=case.pk).version == seen + 1


def test_the_same_action_twice_at_once_is_written_once(world):
    case = world.case_in(Stage.IN_PROGRESS)
    results = race(
        *[lambda: perform(case.pk, "request_hold", world.chen, reason="等待产权单位")] * 2
    )
    assert sum(isinstance(r, CaseEvent) for r in results) == 1, results
    assert CaseEvent.objects.filter(case=case, action="request_hold").count() == 1


def test_numbers_filed_at_once_are_all_different(world):
    cases = [world.report() for _ in range(6)]
    results = race(*[(lambda c=c: perform(c.pk, "file", world.li)) for c in cases])
    assert all(isinstance(r, CaseEvent) for r in results), results
    numbers = list(
        Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("number", flat=True)
    )
    assert len(set(numbers)) == 6
    assert sorted(n[-4:] for n in numbers) == ["0001", "0002", "0003", "0004", "0005", "0006"]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="enforced by a PostgreSQL trigger")
def test_the_database_refuses_to_change_or_delete_a_case_event(world):
    case = world.case_in(Stage.FILED)
    event = case.events.first()
    for statement in (
        "UPDATE cases_caseevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM cases_caseevent WHERE id = %s",
    ):
        with pytest.raises((IntegrityError, DatabaseError), match="case events are immutable"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [event.pk])
    with pytest.raises((IntegrityError, DatabaseError)):
        with transaction.atomic():
            CaseEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    assert CaseEvent.objects.get(pk=event.pk).reason == ""
