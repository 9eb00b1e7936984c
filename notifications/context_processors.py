from functools import cache

from django.db import connection
from django.utils import timezone

from .models import Notification

# The header shows "99+" past this: counting is capped so that a person with thousands of
# unread notifications costs the same small index scan on every page.
UNREAD_CAP = 100
# Hand-written because it runs on every page: building it through the ORM cost more than
# the database spends answering it (bench/bench_notifications.py). The partial index
# notification_unread (recipient, not_before WHERE read_at IS NULL) serves it.
TABLE = Notification._meta.db_table
UNREAD_SQL = (
    f'SELECT count(*) FROM (SELECT 1 FROM "{TABLE}" WHERE recipient_id = %s AND read_at IS NULL'
    f" AND (not_before IS NULL OR not_before <= %s) LIMIT {UNREAD_CAP}) capped"
)


class UnreadCount(int):
    """An int that prints as "99+" once it reaches the cap."""

    def __str__(self) -> str:
        return f"{UNREAD_CAP - 1}+" if self >= UNREAD_CAP else super().__str__()


def unread_count(user) -> UnreadCount:
    """Delivered, unread notifications of ``user``, counted up to UNREAD_CAP; the same rows
    as ``Notification.objects.inbox(user).unread()``."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(UNREAD_SQL, [user.pk, now])
        return UnreadCount(cursor.fetchone()[0])


def unread_notifications(request):
    """The header's unread count: one capped COUNT, run only when a template shows it, and
    at most once per page (templates call a callable; the result is cached)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": cache(lambda: unread_count(user))}
