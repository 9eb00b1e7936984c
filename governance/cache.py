"""Django's Redis cache, keeping its Redis clients.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call;
building one sets up its table of some 170 response callbacks, which costs more than the
round trip to Redis it serves (a tenth of a millisecond and more, several times in every API
request: the rate limit's count, the routing queue's wake-up). A client is a thin handle on
its connection pool and safe to share between threads, so one per pool is kept.
"""

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends import redis


class KeptClients(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._pools.get(index) or self._pool_for(index)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client

    def _pool_for(self, index: int):
        self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return self._pools[index]


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = KeptClients


def redis_key(name: str):
    """The default cache's Redis client and the key it stores ``name`` under, for a
    command Django's cache API has no word for (or spends more on than the command):
    None when the cache is not Redis. The name is one of GridGov's own, not validated."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, redis.RedisCache):
        return None
    key = backend.make_key(name)
    return backend._cache.get_client(key, write=True), key
