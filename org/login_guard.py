"""Wrong passwords, counted per account and per address (China's MLPS 2.0 asks a system to
handle failed log-ins: limit the attempts, lock for a time).

After ``LOGIN_FAILURES`` wrong passwords for one account within ``LOGIN_LOCK_MINUTES``,
the account is refused for ``LOGIN_LOCK_MINUTES``, whatever password comes; an address
that gives ``LOGIN_ADDRESS_FAILURES`` wrong passwords, for whatever accounts, likewise (a
password tried on every account). A right password clears the account's count. The log-in
page, the API's token log-in and an administrator's "unlock" all go through here
(``org.backends.RoleBackend`` counts). Kept in the cache (Redis in production): every web
process sees the same counts.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import caches

log = logging.getLogger(__name__)


def _cache():
    return caches[settings.LOGIN_GUARD_CACHE]


def _keys(kind: str, value: str) -> tuple[str, str]:
    # A digest: a user name may hold spaces or any character, of any length up to 150.
    digest = hashlib.sha256(value.strip().encode()).hexdigest()
    return f"login-guard:{kind}:fails:{digest}", f"login-guard:{kind}:lock:{digest}"


def _subjects(username: str | None, address: str | None) -> list[tuple[str, str, int]]:
    subjects = []
    if username:
        subjects.append(("account", username, settings.LOGIN_FAILURES))
    if address:
        subjects.append(("address", address, settings.LOGIN_ADDRESS_FAILURES))
    return subjects


def locked_for(username: str | None, address: str | None) -> int:
    """Seconds until log-ins for this account, or from this address, are taken again;
    0 when they are."""
    cache, now, wait = _cache(), time.time(), 0
    for kind, value, _ in _subjects(username, address):
        until = cache.get(_keys(kind, value)[1])
        if until:
            wait = max(wait, int(until - now + 0.999))
    return wait


def failures(username: str) -> int:
    """Wrong passwords counted for the account since its last right one or lock."""
    return _cache().get(_keys("account", username)[0]) or 0


def failed(username: str | None, address: str | None) -> None:
    """One wrong password: counted for the account and the address; the count that
    reaches its limit locks."""
    cache, seconds = _cache(), settings.LOGIN_LOCK_MINUTES * 60
    for kind, value, limit in _subjects(username, address):
        fails, lock = _keys(kind, value)
        cache.add(fails, 0, timeout=seconds)
        try:
            count = cache.incr(fails)
        except ValueError:  # expired between the two calls
            cache.set(fails, 1, timeout=seconds)
            count = 1
        log.warning("Wrong password for %s %r (%d of %d)", kind, value, count, limit)
        if count >= limit:
            cache.set(lock, time.time() + seconds, timeout=seconds)
            cache.delete(fails)
            log.warning(
                "Log-ins for %s %r refused for %d minutes",
                kind,
                value,
                settings.LOGIN_LOCK_MINUTES,
            )


def succeeded(username: str) -> None:
    """A right password: the account's count starts again (the address's does not: one
    right password among many wrong ones is what trying every account looks like)."""
    _cache().delete(_keys("account", username)[0])


def unlock(username: str | None = None, address: str | None = None) -> None:
    """Forget the counts and locks of an account or an address (an administrator's
    unlock; the tests)."""
    for kind, value, _ in _subjects(username, address):
        _cache().delete_many(list(_keys(kind, value)))


def client_address(request) -> str | None:
    """The address a log-in came from, as the web server saw it."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
