"""Notifications at city scale: 20,000 people and 1,000,000 notifications (50 each, one in
twenty unread), plus one person with 5,000 unread. Measured in the same run:

* the header's unread count, the query every signed-in page runs (the context processor's
  own function), against the same SQL as a server-side prepared statement (the floor);
* a digest sweep with nothing due (what beat runs every few minutes), against the raw
  query that finds the people due;
* a digest sweep sending 10,000 people one e-mail each (Django's in-memory mail backend),
  against the raw claim (UPDATE ... RETURNING of the same rows, rolled back).
"""

import os
import random
import time

import psycopg
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import RequestFactory

from bench import median_ms, percentile, report, timed
from notifications.context_processors import unread_notifications
from notifications.digest import digests_send
from notifications.models import Notification
from org.models import User

PEOPLE = 20_000
PER_PERSON = 50
HEAVY_UNREAD = 5_000
DUE_PEOPLE = 10_000
SAMPLES = 2_000
SEED = 20_261_129
PREFIX = "nb-"

USERS_SQL = """
INSERT INTO org_user (password, is_superuser, username, first_name, last_name, email,
                      is_staff, is_active, date_joined, full_name, phone)
SELECT '!', false, %s || i, '', '', %s || i || '@example.org', false, true, now(), '', ''
FROM generate_series(1, %s) i
"""
NOTIFICATIONS_SQL = """
INSERT INTO notifications_notification (recipient_id, kind, title, body, url, dedup_key,
                                        created_at, read_at, emailed_at)
SELECT u.id, 'bench', 'Bench notice ' || n, '', '', 'bench:' || n,
       now() - n * interval '10 minutes',
       CASE WHEN n %% 20 = 0 THEN NULL ELSE now() END, now()
FROM org_user u CROSS JOIN generate_series(1, %s) n
WHERE u.username LIKE %s
"""
HEAVY_SQL = """
INSERT INTO notifications_notification (recipient_id, kind, title, body, url, dedup_key,
                                        created_at, emailed_at)
SELECT %s, 'bench', 'Heavy ' || n, '', '', 'heavy:' || n, now() - n * interval '1 second', now()
FROM generate_series(1, %s) n
"""
COUNT_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM notifications_notification"
    " WHERE recipient_id = %s AND read_at IS NULL"
    " AND (not_before IS NULL OR not_before <= now()) LIMIT 100) s"
)
DUE_SQL = (
    "SELECT DISTINCT recipient_id FROM notifications_notification"
    " WHERE read_at IS NULL AND emailed_at IS NULL"
    " AND (not_before IS NULL OR not_before <= now()) ORDER BY recipient_id LIMIT 200"
)
CLAIM_SQL = (
    "UPDATE notifications_notification SET emailed_at = now() WHERE id IN ("
    " SELECT id FROM notifications_notification"
    " WHERE read_at IS NULL AND emailed_at IS NULL"
    " AND (not_before IS NULL OR not_before <= now()) FOR UPDATE SKIP LOCKED)"
    " RETURNING id, recipient_id, title"
)


def ensure_data() -> str:
    if Notification.objects.filter(kind="bench").exists():
        return "reused"
    begin = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(USERS_SQL, [PREFIX, PREFIX, PEOPLE])
        cursor.execute(NOTIFICATIONS_SQL, [PER_PERSON, PREFIX + "%"])
        heavy = User.objects.get(username=f"{PREFIX}1")
        cursor.execute(HEAVY_SQL, [heavy.pk, HEAVY_UNREAD])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_notification")
        cursor.execute("ANALYZE org_user")
    return f"built in {time.perf_counter() - begin:.0f} s"


def raw_connection():
    s = settings.DATABASES["default"]
    return psycopg.connect(
        host=s["HOST"],
        port=s["PORT"] or 5432,
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        prepare_threshold=0,
        autocommit=True,
    )


def header_count(user) -> int:
    request = RequestFactory().get("/")
    request.user = user
    return unread_notifications(request)["unread_notifications"]()


def run() -> None:
    if connection.vendor != "postgresql":
        print(f"notifications: skipped, needs PostGIS; this run is on {connection.vendor}\n")
        return
    how = ensure_data()
    total = Notification.objects.count()
    load = os.getloadavg()[0]
    print(f"data: {how}; {total:,} notifications; load average {load:.1f} on {os.cpu_count()} CPUs")
    ids = list(User.objects.filter(username__startswith=PREFIX).values_list("pk", flat=True))
    rng = random.Random(SEED)
    sample = [rng.choice(ids) for _ in range(SAMPLES)]
    users = {u.pk: u for u in User.objects.filter(pk__in=set(sample))}
    heavy = User.objects.get(username=f"{PREFIX}1")

    # 1. The header's count, person by person, the three methods taking turns.
    orm, bare, raw = [], [], []
    with raw_connection() as conn, conn.cursor() as cur, connection.cursor() as django_cursor:

        def bare_count(pk):
            django_cursor.execute(COUNT_SQL, [pk])
            return django_cursor.fetchone()

        for pk in sample[:200]:  # warm-up
            header_count(users[pk])
            bare_count(pk)
            cur.execute(COUNT_SQL, [pk], prepare=True)
        for pk in sample:
            orm += timed(lambda pk=pk: header_count(users[pk]), 1)
            bare += timed(lambda pk=pk: bare_count(pk), 1)
            raw += timed(lambda pk=pk: cur.execute(COUNT_SQL, [pk], prepare=True).fetchone(), 1)
        heavy_orm = timed(lambda: header_count(heavy), 200)
        heavy_raw = timed(lambda: cur.execute(COUNT_SQL, [heavy.pk], prepare=True).fetchone(), 200)
    assert str(header_count(heavy)) == "99+"
    report(
        "header unread count per page (20,000 people, 1,000,000 notifications)",
        goal="one query per page, p95 < 5 ms",
        figure=f"median {median_ms(orm):.2f} ms, p95 {percentile(orm, 95) * 1000:.2f} ms; "
        f"person with 5,000 unread: median {median_ms(heavy_orm):.2f} ms",
        floor=f"same SQL through Django's cursor: median {median_ms(bare):.2f} ms, "
        f"p95 {percentile(bare, 95) * 1000:.2f} ms; as a prepared statement (psycopg): "
        f"median {median_ms(raw):.2f} ms, p95 {percentile(raw, 95) * 1000:.2f} ms, "
        f"5,000 unread {median_ms(heavy_raw):.2f} ms",
        ok=percentile(orm, 95) < 0.005,
    )

    # 2. A sweep with nothing due.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    Notification.objects.filter(kind="bench-due").delete()
    digests_send()  # settles anything left from an earlier run
    empty = timed(digests_send, 20)
    with raw_connection() as conn, conn.cursor() as cur:
        empty_raw = timed(lambda: cur.execute(DUE_SQL).fetchall(), 20)
    report(
        "digest sweep with nothing due",
        goal="< 50 ms",
        figure=f"median {median_ms(empty):.2f} ms",
        floor=f"raw query for the people due: median {median_ms(empty_raw):.2f} ms",
        ok=median_ms(empty) < 50,
    )

    # 3. A sweep sending 10,000 people one digest each.
    due = ids[:DUE_PEOPLE]
    rows = [
        Notification(recipient_id=pk, kind="bench-due", title="Due", dedup_key=f"due:{SEED}")
        for pk in due
    ]
    Notification.objects.bulk_create(rows, batch_size=2000)
    with raw_connection() as conn:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            begin = time.perf_counter()
            claimed = len(cur.execute(CLAIM_SQL).fetchall())
            floor = time.perf_counter() - begin
    mail.outbox = []
    begin = time.perf_counter()
    sent = digests_send()
    figure = time.perf_counter() - begin
    assert sent == len(mail.outbox) == claimed == DUE_PEOPLE, (sent, claimed)
    assert digests_send() == 0
    report(
        "digest sweep e-mailing 10,000 people (in-memory mail backend)",
        goal="< 60 s, a fifth of the 300 s between sweeps (one message per person, once)",
        figure=f"{figure:.2f} s ({figure / DUE_PEOPLE * 1000:.2f} ms per person)",
        floor=f"raw claim of the same rows (UPDATE ... RETURNING, rolled back): {floor:.2f} s",
        ok=figure < 60,
    )
    Notification.objects.filter(kind="bench-due").delete()
