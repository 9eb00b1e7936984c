"""A task that does nothing but note when it ran: the floor of the routing latency. The
benchmark's worker imports this module (``celery worker --include bench.tasks``)."""

import time

import redis
from celery import shared_task
from django.conf import settings

NOOP_KEY = "gridgov:bench:noop"
_client: list = []


def client() -> redis.Redis:
    if not _client:
        _client.append(redis.Redis.from_url(settings.REDIS_URL))
    return _client[0]


@shared_task(name="bench.noop", queue="routing", ignore_result=True)
def noop(sent: float) -> None:
    """Push (sent, now): how long the message took from the sender to a running task."""
    client().rpush(NOOP_KEY, f"{sent!r} {time.time()!r}")
