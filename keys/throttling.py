"""Each API key's own rate limit, counted in the shared cache.

The count lives in the default cache, which is Redis in production and a file cache in
the embedded default: every gunicorn process must see the same count, so a per-process
memory cache would multiply the limit by the number of processes.
"""

import time

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from governance.cache import redis_key

from .models import ApiKey

WINDOW = 60


class ApiKeyRateThrottle(BaseThrottle):
    """At most ``ApiKey.rate_limit`` requests per calendar minute. A fixed window with an
    atomic increment (on Redis) rather than DRF's list of timestamps, read and rewritten
    by every request, which loses counts when processes race."""

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        now = time.time()
        window = int(now // WINDOW)
        count = _count(f"throttle:apikey:{key.prefix}:{window}")
        self.wait_seconds = (window + 1) * WINDOW - now
        return count <= key.rate_limit

    def wait(self) -> float:
        return self.wait_seconds


def _count(name: str) -> int:
    """Add one to the window's count and return it: on Redis an INCR and an EXPIRE (when
    the count is new) sent together, one round trip; elsewhere the cache's add and incr."""
    found = redis_key(name)
    if found is not None:
        client, key = found
        pipeline = client.pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, WINDOW * 2, nx=True)
        return pipeline.execute()[0]
    cache.add(name, 0, WINDOW * 2)
    try:
        return cache.incr(name)
    except ValueError:
        # Evicted between add and incr: count this request as the first.
        cache.set(name, 1, WINDOW * 2)
        return 1
