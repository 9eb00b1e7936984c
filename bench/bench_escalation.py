"""One escalation sweep over a million open clocks (PostGIS).

Every stored case (bench_cases.ensure_stored: 1,000,000 generated cases) gets a running
whole-case clock with the ladder's four steps scheduled, written with bulk SQL once and
kept: 1,000,000 open clocks and 4,000,000 scheduled steps. One case in a hundred of the
first million is past its deadline and being handled: its warning has fired and its breach
is due, 10,000 due steps in all, however many cases the other benchmarks added since. The
sweep (clocks.services.escalations_fire, what the beat task runs) then fires them: claims
them with their cases (FOR UPDATE SKIP LOCKED), writes 10,000 "escalate" events and marks
the rows fired. The floors, in the same transaction: the bare claim (SELECT ... FOR UPDATE
SKIP LOCKED of the same due rows), and claim + mark + events as a single SQL statement. All
of it is rolled back, so the run can be repeated. The due steps are breaches (notifications
follow in their own task); yellow and red cards, which issue supervision orders through the
workflow case by case, are weeks away for every clock.
"""

import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bench import report
from bench.bench_cases import STORED, ensure_stored
from cases.models import CaseEvent
from clocks.models import Clock, ClockStep
from clocks.services import escalations_fire

GOAL_S = 2.0
DUE_EVERY = 100  # one clock in a hundred is due

SETUP_SQL = [
    """INSERT INTO clocks_clock (case_id, kind, seq, department_id, state, limit_value,
           limit_unit, allowed, used, running_since, started_at, deadline, warn_at,
           deadline_version, computed_at)
       SELECT id, 'case', 1, department_id, 'running', 4, 'working_hours', interval '4 hours',
           interval '0', now() - interval '1 day', now() - interval '1 day',
           CASE WHEN {is_due} THEN now() - interval '1 hour'
                ELSE now() + interval '60 days' + (id % 300) * interval '1 day' END,
           CASE WHEN {is_due} THEN now() - interval '2 hours'
                ELSE now() + interval '59 days' + (id % 300) * interval '1 day' END,
           1, now()
       FROM cases_case""",
    # The ladder: warning (fired for the due clocks), breach (due), yellow and red cards.
    """INSERT INTO clocks_clockstep (clock_id, step_id, deadline_version, fire_at, fired_at,
           notify_at, notified_at)
       SELECT c.id, s.id, 1,
           CASE s.key WHEN 'warn' THEN c.warn_at WHEN 'breach' THEN c.deadline
                ELSE c.deadline + (s.level - 2) * interval '30 days' END,
           CASE WHEN s.key = 'warn' AND c.deadline < now() THEN c.warn_at END,
           CASE WHEN s.key = 'warn' AND c.deadline < now() THEN c.warn_at END,
           CASE WHEN s.key = 'warn' AND c.deadline < now() THEN c.warn_at END
       FROM clocks_clock c CROSS JOIN clocks_escalationstep s
       WHERE s.key IN ('warn', 'breach', 'yellow', 'red')""",
    # The cases whose breach is due are being handled. (The others keep the generator's
    # stages: the sweep never reads a case whose steps are not due, and rewriting a million
    # case rows and their indexes costs a quarter of an hour on this machine.)
    """UPDATE cases_case SET stage = 'in_progress', closed_at = NULL,
           deadline = now() - interval '1 hour', warn_at = now() - interval '2 hours',
           due_at = now() - interval '1 hour'
       WHERE {is_due}""",
]

CLAIM = """
    SELECT s.id FROM clocks_clockstep s
    JOIN clocks_clock c ON c.id = s.clock_id JOIN cases_case k ON k.id = c.case_id
    WHERE s.fired_at IS NULL AND s.fire_at <= %(now)s
    ORDER BY s.fire_at, s.id LIMIT %(limit)s
    FOR UPDATE OF s, k SKIP LOCKED
"""
CLAIM_MARK_RECORD = f"""
    WITH due AS (
        SELECT s.id, s.clock_id, s.step_id, s.deadline_version, c.case_id, k.stage
        FROM clocks_clockstep s
        JOIN clocks_clock c ON c.id = s.clock_id JOIN cases_case k ON k.id = c.case_id
        WHERE s.fired_at IS NULL AND s.fire_at <= %(now)s
        ORDER BY s.fire_at, s.id LIMIT %(limit)s
        FOR UPDATE OF s, k SKIP LOCKED
    ), marked AS (
        UPDATE clocks_clockstep s SET fired_at = %(now)s FROM due WHERE s.id = due.id
        RETURNING due.*
    )
    INSERT INTO {CaseEvent._meta.db_table}
        (case_id, at, action, from_stage, to_stage, reason, payload)
    SELECT case_id, %(now)s, 'escalate', stage, stage, '',
        jsonb_build_object('clock', clock_id, 'step', step_id, 'deadline_version',
                           deadline_version)
    FROM marked
"""


def ensure_clocks() -> str:
    with connection.cursor() as cursor:
        # The last of the first STORED cases: the due ones are among those.
        cursor.execute(
            "SELECT max(id) FROM (SELECT id FROM cases_case ORDER BY id LIMIT %s) f", [STORED]
        )
        last = cursor.fetchone()[0]
        is_due = f"id % {DUE_EVERY} = 0 AND id <= {last}"
        cursor.execute(f"SELECT count(*) FROM cases_case WHERE {is_due}")
        expected = cursor.fetchone()[0]
    due = Clock.objects.filter(deadline__lt=timezone.now()).count()
    if Clock.objects.count() >= STORED and due == expected:
        return f"reused {Clock.objects.count():,} clocks"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE clocks_clockstep, clocks_clock")
        for sql in SETUP_SQL:
            cursor.execute(sql.format(is_due=is_due))
    with connection.cursor() as cursor:
        # What autovacuum does to a table soon after a bulk load (hint bits, visibility
        # map); without it the first reads of the fresh rows pay for writing them back.
        cursor.execute("VACUUM ANALYZE clocks_clockstep, clocks_clock, cases_case")
    return (
        f"built {Clock.objects.count():,} clocks and {ClockStep.objects.count():,} scheduled"
        f" steps with bulk SQL in {time.perf_counter() - started:.0f} s"
    )


def run() -> None:
    if connection.vendor != "postgresql":
        print(f"escalation sweep at 1M: skipped, needs PostGIS (this run: {connection.vendor})\n")
        return
    print(f"stored cases: {ensure_stored()}")
    print(f"clocks: {ensure_clocks()}")
    now = timezone.now()
    due = ClockStep.objects.filter(fired_at__isnull=True, fire_at__lte=now).count()
    open_clocks = Clock.objects.exclude(state=Clock.State.STOPPED).count()
    steps = ClockStep.objects.filter(fired_at__isnull=True).count()
    params = {"now": now, "limit": due}
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Warm-up, untimed: the same rows read once, so that neither figure pays for a
            # cold cache alone.
            point = transaction.savepoint()
            cursor.execute(CLAIM, params)
            cursor.fetchall()
            transaction.savepoint_rollback(point)

            point = transaction.savepoint()
            begin = time.perf_counter()
            cursor.execute(CLAIM, params)
            claimed = len(cursor.fetchall())
            bare = time.perf_counter() - begin
            transaction.savepoint_rollback(point)

            point = transaction.savepoint()
            begin = time.perf_counter()
            cursor.execute(CLAIM_MARK_RECORD, params)
            recorded = cursor.rowcount
            one_statement = time.perf_counter() - begin
            transaction.savepoint_rollback(point)

        begin = time.perf_counter()
        fired = escalations_fire(now=now)
        sweep = time.perf_counter() - begin
        written = CaseEvent.objects.filter(action="escalate", at=now).count()
        transaction.set_rollback(True)
    assert claimed == recorded == fired == written == due, (claimed, recorded, fired, due)
    report(
        f"escalation sweep: {open_clocks:,} open clocks, {steps:,} unfired steps, {due:,} due",
        goal=f"< {GOAL_S:.0f} s",
        figure=(
            f"{sweep:.2f} s to fire {fired:,} steps ({fired / sweep:,.0f} steps/s: claim with"
            f" their cases, {written:,} events, rows marked;"
            f" batches of {settings.ESCALATION_BATCH:,})"
        ),
        floor=(
            f"bare SELECT ... FOR UPDATE SKIP LOCKED of the same rows {bare:.2f} s;"
            f" claim + mark + events in one SQL statement {one_statement:.2f} s"
        ),
        ok=sweep < GOAL_S,
    )
