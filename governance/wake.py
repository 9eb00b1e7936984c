"""One queued task wakes a worker for many requests.

Some work is kept in the database, not in the broker: a filed case carries
``needs_routing`` until it is routed, and a routing task takes every case waiting, a batch
at a time. Such a task is only a wake-up, and while one waits in its queue, not yet started,
a second adds nothing. So the request that made the work sends a task only when none is
waiting: one ``SET NX`` in the cache (Redis in production) in place of a Celery publish,
which costs several times more; under load most requests find a wake-up already queued.

The task calls ``woken`` as it starts, before it reads the waiting work: work written from
then on sends the next wake-up, and no work is left without one. A wake-up lost with the
broker (flushed, down) is trusted for ``WAKE_SECONDS`` only; the periodic sweeps that make
good lost tasks send their tasks straight to the queue.
"""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache

from .cache import redis_key


def _key(queue: str) -> str:
    return f"wake:{queue}"


def wake(queue: str, send: Callable[[], object]) -> bool:
    """Call ``send`` (which enqueues the wake-up task on ``queue``) unless a wake-up is
    already waiting there. Returns whether it sent one; a failure to send is raised, and
    leaves no mark that would hold back the next request's wake-up."""
    key = _key(queue)
    found = redis_key(key)
    if found is not None:
        client, full = found
        added = client.set(full, 1, nx=True, ex=settings.WAKE_SECONDS)
    else:
        added = cache.add(key, 1, settings.WAKE_SECONDS)
    if not added:
        return False
    try:
        send()
    except BaseException:
        cache.delete(key)
        raise
    return True


def woken(queue: str) -> None:
    """The wake-up task has started: the next piece of work sends another."""
    cache.delete(_key(queue))


def forget(queues: Iterable[str]) -> None:
    """The queues were purged: the wake-ups they held are gone."""
    cache.delete_many([_key(queue) for queue in queues])
