"""Routing through the real broker and a real worker process: no filed case is lost or
routed twice, whatever happens to the broker or the worker."""

import datetime
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kombu import pools

from cases.models import (
    Case,
    CaseEvent,
    Category,
    DepartmentPolicy,
    RoutingRule,
    Stage,
    WorkingCalendar,
)
from cases.tasks import ensure_cases_routed, route_case
from cases.workflow import perform
from governance.celery import app, purge_queues
from tests.cases.base import CaseWorldMixin
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    class World(CaseWorldMixin):
        pass

    World.make_world()
    RoutingRule.objects.create(
        name="市容环境",
        priority=10,
        category=Category.objects.get(full_code="E01"),
        department=World.sanitation,
    )
    # Round the clock, so that an officer is assigned whatever time the test runs.
    always = WorkingCalendar.objects.create(
        name="24小时",
        periods={str(d): [["00:00", "23:59:59.999999"]] for d in range(7)},
        follows_national=False,
    )
    DepartmentPolicy.objects.create(department=World.sanitation, calendar=always)
    return World


def dispatches(case) -> int:
    return CaseEvent.objects.filter(case=case, action="dispatch").count()


def routed(case):
    return Case.objects.filter(pk=case.pk, stage=Stage.DISPATCHED).first()


def sweep_now(case):
    """Age the case past its grace time and run the sweep through the broker."""
    Case.objects.filter(pk=case.pk).update(filed_at=timezone.now() - datetime.timedelta(minutes=5))
    ensure_cases_routed.delay()


def test_a_filed_case_is_routed_and_assigned_by_the_worker(celery_worker_process, world):
    case = world().report()
    perform(case, "file", world.li)
    done = wait_for(lambda: routed(case), message="the worker to route the case")
    assert (done.department, done.assignee) == (world.sanitation, world.chen)
    event = CaseEvent.objects.get(case=case, action="dispatch")
    assert event.actor.username == "gridgov-router"
    assert "市容环境" in event.reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, 10, "redis-server")
    return process


def use_broker(url: str) -> None:
    """Point this process's producer at another broker (the worker has its own)."""
    app.conf.broker_url = url
    app.pool.force_close_all()
    # kombu keeps producer pools per broker process-wide; drop them all.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.skipif(
    not settings.REDIS_URL, reason="the embedded broker is a folder: it cannot stop"
)
def test_filing_survives_a_stopped_broker(world):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port)
    worker = start_worker("broker-down", REDIS_URL=url)
    original = app.conf.broker_url
    try:
        use_broker(url)
        redis.terminate()
        redis.wait()

        case = world().report()
        began = time.monotonic()
        perform(case, "file", world.li)  # commits; enqueueing fails and is logged
        assert time.monotonic() - began < 10, "filing must not hang on a dead broker"
        case.refresh_from_db()
        assert (case.stage, case.needs_routing) == (Stage.FILED, True)
        time.sleep(1)
        assert not routed(case)

        redis = start_redis(port)
        sweep_now(case)
        wait_for(lambda: routed(case), 60, "routing after the broker came back")
        assert dispatches(case) == 1
    finally:
        stop_worker(worker)
        redis.terminate()
        redis.wait()
        use_broker(original)


def block_routing_and_kill(worker, case, world) -> None:
    """File the case while another session holds what routing needs, so that the routing
    task starts and waits inside the worker; then SIGKILL the worker."""
    if connection.vendor == "postgresql":
        # The department's assignment row is held: routing waits inside its transaction,
        # after it has locked the case and chosen the rule.
        policy = DepartmentPolicy.objects.get(department=world.sanitation)
        blocker = connection.copy()
        blocker.connect()
        blocker.set_autocommit(False)
        try:
            with blocker.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM cases_departmentpolicy WHERE id = %s FOR UPDATE", [policy.pk]
                )
            perform(case, "file", world.li)

            def waiting():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                    return cursor.fetchone()[0] > 0

            wait_for(waiting, 30, "the worker to block mid-routing")
            worker.kill()
        finally:
            blocker.rollback()
            blocker.close()
        return
    # SQLite: this test's own transaction holds the write lock while the routing task,
    # sent from inside it, starts and waits for the lock in the worker.
    with transaction.atomic():
        perform(case, "file", world.li)
        route_case.delay(case.pk)
        log = settings.VAR_DIR / "test-worker.log"
        wait_for(lambda: "route_case[" in log.read_text(), 30, "the routing task to start")
        time.sleep(1)
        worker.kill()


def test_a_worker_killed_mid_routing_routes_the_case_exactly_once(celery_worker_process, world):
    case = world().report()
    block_routing_and_kill(celery_worker_process, case, world)
    assert not routed(case)
    assert Case.objects.get(pk=case.pk).needs_routing

    celery_worker_process.restart()
    sweep_now(case)
    wait_for(lambda: routed(case), 60, "routing after the worker restarted")
    # Whatever the broker redelivers later finds nothing left to do.
    route_case.delay(case.pk)
    time.sleep(2)
    assert dispatches(case) == 1


def queued(queue: str) -> int:
    """Messages waiting in a queue of this run's broker (Redis or the filesystem)."""
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue).message_count


def test_filings_share_one_wake_up_and_each_task_sends_the_next_batch(celery_worker_process, world):
    """With no worker running, five filings leave one routing task in the queue, not
    five; a worker routing two at a time (ROUTING_BATCH=2) routes them all, each task
    sending the next while cases wait, each case once."""
    celery_worker_process.kill()
    purge_queues()
    cases = [world().report() for _ in range(5)]
    for case in cases:
        perform(case, "file", world.li)
    assert queued("routing") == 1
    worker = start_worker("batches", ROUTING_BATCH="2")
    try:
        wait_for(lambda: all(routed(case) for case in cases), 60, "the worker to route all five")
        assert [dispatches(case) for case in cases] == [1] * 5
        wait_for(lambda: queued("routing") == 0, 30, "the last task to find nothing waiting")
        log = (Path(settings.VAR_DIR) / "batches-worker.log").read_text()
        routed_by_task = [
            int(n) for n in re.findall(r"route_case\[[^\]]+\] succeeded in [\d.]+s: (\d+)", log)
        ]
        assert sum(routed_by_task) == 5 and len(routed_by_task) >= 3, log[-3000:]
    finally:
        stop_worker(worker)
        celery_worker_process.restart()
