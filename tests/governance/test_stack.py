"""The suite runs against the stack it claims: these fail if the backends were swapped."""

import os
import time

import pytest
from django.conf import settings
from django.db import connection

from governance.celery import app
from governance.models import Heartbeat
from governance.tasks import record_heartbeat


def test_it_uses_the_configured_spatial_database(db):
    url = os.environ.get("DATABASE_URL", "")
    with connection.cursor() as cursor:
        if url.startswith(("postgis", "postgres")):
            assert connection.vendor == "postgresql"
            cursor.execute("SELECT postgis_lib_version()")
            assert cursor.fetchone()[0].startswith("3.")
        else:
            assert not url
            assert connection.vendor == "sqlite"
            cursor.execute("SELECT spatialite_version()")
            assert cursor.fetchone()[0]


def test_it_uses_the_configured_broker():
    with app.connection_for_write() as conn:
        transport = conn.transport.driver_type
    assert transport == ("redis" if settings.REDIS_URL else "filesystem")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_runs_in_the_worker_process(celery_worker_process):
    record_heartbeat.delay()
    deadline = time.monotonic() + 30
    while not Heartbeat.objects.filter(name="worker").exists():
        assert time.monotonic() < deadline, "the worker did not run the task within 30 s"
        time.sleep(0.2)
    heartbeat = Heartbeat.objects.get(name="worker")
    # Written by the worker started for this run, not by this process.
    assert heartbeat.hostname.startswith("test@")
    assert celery_worker_process.poll() is None
