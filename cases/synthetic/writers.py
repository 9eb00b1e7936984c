"""Writing the generated cases: binary COPY on PostgreSQL, ``bulk_create`` elsewhere."""

import json
import struct
import time
from dataclasses import dataclass, field

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Max

from governance.db import insert_rows

from .. import bulk
from ..models import (
    OPEN_STAGES,
    Case,
    CaseEvent,
    CaseNumberCounter,
    CaseReporter,
    CaseRequest,
    Stage,
)
from .life import Record
from .world import utc

# A case on hold has a paused clock: no deadline runs until it resumes.
OPEN = frozenset(OPEN_STAGES) - {Stage.ON_HOLD}
EWKB_POINT = struct.Struct("<BIIdd")  # little-endian, Point with SRID, the SRID, x, y
EWKB_POINT_TYPE = 0x20000001
CASE_COLUMNS = (
    "id", "number", "source", "citizen_name", "citizen_phone", "point", "address",
    "description", "urgency", "stage", "deadline", "supervision", "rework_count",
    "return_count", "reported_at", "filed_at", "closed_at", "version", "assignee_id",
    "community_id", "department_id", "district_id", "field_worker_id", "grid_id",
    "merged_into_id", "reporter_id", "street_id", "category_id", "condition_id",
    "needs_routing", "routing_rule_id", "warn_at", "due_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "case_id", "at", "action", "from_stage", "to_stage", "actor_id", "reason", "payload",
)  # fmt: skip
REPORTER_COLUMNS = (
    "case_id", "user_id", "citizen_name", "citizen_phone", "source", "original_case_id",
    "joined_at",
)  # fmt: skip
REQUEST_COLUMNS = (
    "id", "case_id", "kind", "status", "payload", "requested_by_id", "requested_at",
    "decided_by_id", "decided_at", "decision_note", "reason",
)  # fmt: skip
CASE_TABLES = [Case, CaseEvent, CaseReporter, CaseRequest]
COLUMNS = {
    Case._meta.db_table: CASE_COLUMNS,
    CaseEvent._meta.db_table: EVENT_COLUMNS,
    CaseReporter._meta.db_table: REPORTER_COLUMNS,
    CaseRequest._meta.db_table: REQUEST_COLUMNS,
}
# The Stats field that counts each table's rows (cases are counted per batch).
COUNTED = {
    CaseEvent._meta.db_table: "events",
    CaseReporter._meta.db_table: "reporters",
    CaseRequest._meta.db_table: "requests",
}
EMPTY_JSONB = bulk.JSONB_VERSION + "{}"


def request_rows(rec: Record):
    """(id, kind, status, payload, requested_by, requested_at, decided_by, decided_at,
    note, reason) of the case's approval requests; the reason is the request event's."""
    for pk, kind, status, payload, by, at, decided_by, decided_at, note in rec.requests:
        reason = next(
            (e[5] for e in rec.events if e[1] == f"request_{kind}" and f'"request": {pk}' in e[6]),
            "",
        )
        yield pk, kind, status, payload, by, at, decided_by, decided_at, note, reason


def wire_payload(payload: str) -> str:
    return EMPTY_JSONB if payload == "{}" else bulk.JSONB_VERSION + payload


def due(rec: Record) -> int | None:
    """The nearest open deadline (``Case.due_at``): the case's own while it is open."""
    return rec.deadline if rec.stage in OPEN else None


def case_rows(records: list[Record]):
    t = bulk.wire_time
    return (
        (
            rec.id, rec.number, rec.source, rec.citizen_name, rec.citizen_phone,
            EWKB_POINT.pack(1, EWKB_POINT_TYPE, 4326, rec.x, rec.y), rec.address,
            rec.description, rec.urgency, rec.stage, t(rec.deadline),
            rec.supervision, rec.rework, rec.returns, t(rec.reported), t(rec.filed),
            t(rec.closed), rec.version, rec.assignee, rec.grid.community_id,
            rec.department, rec.grid.district_id, rec.field_worker, rec.grid.id,
            rec.merged_into, rec.reporter, rec.grid.street_id, rec.category.id,
            rec.condition.id if rec.number is not None else None, False,
            rec.routing_rule, t(rec.warn), t(due(rec)),
        )
        for rec in records
    )  # fmt: skip


def event_rows(records: list[Record]):
    return (
        (rec.id, (at - bulk.EPOCH_2000) * 1_000_000, action, from_stage, to_stage,
         actor, reason, wire_payload(payload))
        for rec in records
        for at, action, from_stage, to_stage, actor, reason, payload in rec.events
    )  # fmt: skip


def reporter_rows(records: list[Record]):
    t = bulk.wire_time
    return (
        (rec.id, user, name, phone, source, original, t(joined))
        for rec in records
        for user, name, phone, source, original, joined in rec.reporters
    )


def request_rows_of(records: list[Record]):
    t = bulk.wire_time
    return (
        (pk, rec.id, kind, status, wire_payload(payload), by, t(at), decided_by,
         t(decided_at), note, reason)
        for rec in records
        if rec.requests
        for pk, kind, status, payload, by, at, decided_by, decided_at, note, reason
        in request_rows(rec)
    )  # fmt: skip


@dataclass
class Stats:
    """What a run wrote, and how long each step took."""

    mode: str = ""
    cases: int = 0
    events: int = 0
    reporters: int = 0
    requests: int = 0
    # Seconds per step: "simulate", then "cases: copy", "cases: indexes", "cases: keys" and
    # the same for "events" (events, reporters and requests together).
    steps: dict[str, float] = field(default_factory=dict)
    seconds_total: float = 0.0
    loaded_demo: bool = False
    notes: list[str] = field(default_factory=list)

    def add(self, step: str, seconds: float) -> None:
        self.steps[step] = self.steps.get(step, 0.0) + seconds

    def seconds(self, prefix: str) -> float:
        return sum(v for k, v in self.steps.items() if k.startswith(prefix))

    @property
    def cases_per_second(self) -> float:
        """Cases over the time that made them: the simulation (which also decides each
        case's history) and the case rows, indexes and keys included."""
        return self.cases / max(1e-9, self.seconds("simulate") + self.seconds("cases"))

    @property
    def events_per_second(self) -> float:
        return self.events / max(1e-9, self.seconds("events"))

    @property
    def overall_per_second(self) -> float:
        return self.cases / max(1e-9, self.seconds_total)


class PostgresWriter:
    """Binary COPY into the tables; with ``rebuild``, into tables stripped of their
    secondary indexes and foreign keys, which are rebuilt before the transaction ends."""

    def __init__(self, rebuild: bool):
        self.rebuild = rebuild
        self.dropped: list[tuple[type, bulk.Secondary]] = []
        self.types: dict[str, list[str]] = {}

    def take_ids(self, what: str, count: int) -> list[int]:
        """``count`` ids from the table's sequence. With a rebuild (the case tables are
        locked to the end of the transaction anyway): consecutive, in two calls of nextval,
        the sequence stepping by ``count - 1`` for the second and back to 1 (one nextval
        per id took half a second per 200,000); ALTER SEQUENCE makes other sessions'
        nextval wait for this transaction, so that none takes an id inside the range.
        Otherwise one nextval per id, so that filings going on meanwhile never wait."""
        table = {"case": Case, "request": CaseRequest}[what]._meta.db_table
        with connection.cursor() as cursor:
            if not self.rebuild:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s)", [sequence])
            first = cursor.fetchone()[0]
            if count > 1:
                cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY {count - 1}")
                cursor.execute("SELECT nextval(%s)", [sequence])
                last = cursor.fetchone()[0]
                cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 1")
                assert last == first + count - 1, (first, last, count)
            return list(range(first, first + count))

    def begin(self) -> None:
        with connection.cursor() as cursor:
            if self.rebuild:
                # Dropping or adding a foreign key alters the table it points to, which
                # PostgreSQL refuses while that table has deferred checks pending in this
                # transaction (rows a caller inserted before): run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for model, columns in (
                (Case, CASE_COLUMNS),
                (CaseEvent, EVENT_COLUMNS),
                (CaseReporter, REPORTER_COLUMNS),
                (CaseRequest, REQUEST_COLUMNS),
            ):
                table = model._meta.db_table
                self.types[table] = bulk.wire_types(cursor, table, columns)
                if self.rebuild:
                    self.dropped.append((model, bulk.drop_secondary(cursor, table)))

    def streams(self, records: list[Record]):
        """The batch as binary COPY streams, one per table: (table, stream, rows), built
        lazily. Needs no connection, so that a second process can build them."""
        for model, rows in (
            (Case, case_rows(records)),
            (CaseEvent, event_rows(records)),
            (CaseReporter, reporter_rows(records)),
            (CaseRequest, request_rows_of(records)),
        ):
            table = model._meta.db_table
            stream, count = bulk.encode_binary(self.types[table], rows)
            yield table, stream, count

    def send(self, streams, stats: Stats) -> None:
        """COPY the streams of a batch into their tables; the time to build a stream
        lazily counts as copying."""
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # the psycopg cursor: Django's wrapper has no copy()
            started = time.perf_counter()
            for table, stream, count in streams:
                bulk.copy_stream(cursor, table, COLUMNS[table], stream)
                done = time.perf_counter()
                if table == Case._meta.db_table:
                    stats.add("cases: copy", done - started)
                else:
                    stats.add("events: copy", done - started)
                    setattr(stats, COUNTED[table], getattr(stats, COUNTED[table]) + count)
                started = done

    def write(self, records: list[Record], stats: Stats) -> None:
        self.send(self.streams(records), stats)

    def finish(self, stats: Stats) -> None:
        """Indexes first, then foreign keys, once every table they point into is whole."""
        with connection.cursor() as cursor:
            for step, restore in (
                ("indexes", bulk.restore_indexes),
                ("keys", bulk.restore_foreign_keys),
            ):
                for model, secondary in self.dropped:
                    started = time.perf_counter()
                    restore(cursor, secondary)
                    group = "cases" if model is Case else "events"
                    stats.add(f"{group}: {step}", time.perf_counter() - started)
            # Back to deferred checks, as Django declares every foreign key.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def lock_counters(self) -> None:
        """Until the batch commits: ``next_case_number`` updates a counter row, and waits."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"LOCK TABLE {CaseNumberCounter._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"
            )

    def save_counters(self, counters: dict) -> None:
        if not counters:
            return
        table = CaseNumberCounter._meta.db_table
        keys = list(counters)
        # One statement for the batch's thousand or so (class, day) counters.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (prefix, day, last)"
                " SELECT * FROM unnest(%s::text[], %s::date[], %s::int[])"
                " ON CONFLICT (prefix, day) DO UPDATE"
                f" SET last = GREATEST({table}.last, EXCLUDED.last)",
                [
                    [prefix for prefix, _ in keys],
                    [day for _, day in keys],
                    [counters[key] for key in keys],
                ],
            )

    def analyze(self) -> None:
        with connection.cursor() as cursor:
            for model in [*CASE_TABLES, CaseNumberCounter]:
                cursor.execute(f"ANALYZE {model._meta.db_table}")


class OrmWriter:
    """``bulk_create`` for the cases and ``insert_rows`` for the rest, for SpatiaLite (and any
    other backend)."""

    rebuild = False

    def __init__(self):
        self.next_ids: dict[str, int] = {}

    def take_ids(self, what: str, count: int) -> list[int]:
        # The write transaction holds SQLite's lock, so nobody else takes these ids.
        model = {"case": Case, "request": CaseRequest}[what]
        if what not in self.next_ids:
            self.next_ids[what] = (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        first = self.next_ids[what]
        self.next_ids[what] = first + count
        return list(range(first, first + count))

    def begin(self) -> None:
        pass

    def lock_counters(self) -> None:
        pass  # SQLite lets one writer at a time

    def write(self, records: list[Record], stats: Stats) -> None:
        def aware(moment):
            return None if moment is None else utc(moment)

        started = time.perf_counter()
        Case.objects.bulk_create(
            [
                Case(
                    id=rec.id, number=rec.number, source=rec.source,
                    citizen_name=rec.citizen_name, citizen_phone=rec.citizen_phone,
                    point=Point(rec.x, rec.y, srid=4326), address=rec.address,
                    description=rec.description, urgency=rec.urgency, stage=rec.stage,
                    deadline=aware(rec.deadline), supervision=rec.supervision,
                    rework_count=rec.rework, return_count=rec.returns,
                    reported_at=aware(rec.reported), filed_at=aware(rec.filed),
                    closed_at=aware(rec.closed), version=rec.version, assignee_id=rec.assignee,
                    community_id=rec.grid.community_id, department_id=rec.department,
                    district_id=rec.grid.district_id, field_worker_id=rec.field_worker,
                    grid_id=rec.grid.id, merged_into_id=rec.merged_into,
                    reporter_id=rec.reporter, street_id=rec.grid.street_id,
                    category_id=rec.category.id,
                    condition_id=rec.condition.id if rec.number is not None else None,
                    needs_routing=False, routing_rule_id=rec.routing_rule,
                    warn_at=aware(rec.warn), due_at=aware(due(rec)),
                )
                for rec in records
            ],
            batch_size=500,
        )  # fmt: skip
        after_cases = time.perf_counter()
        events, reporters, requests = [], [], []
        for rec in records:
            for at, action, from_stage, to_stage, actor, reason, payload in rec.events:
                events.append(
                    CaseEvent(
                        case_id=rec.id, at=utc(at), action=action, from_stage=from_stage,
                        to_stage=to_stage, actor_id=actor, reason=reason,
                        payload=json.loads(payload),
                    )
                )  # fmt: skip
            for user, name, phone, source, original, joined in rec.reporters:
                reporters.append(
                    CaseReporter(
                        case_id=rec.id, user_id=user, citizen_name=name, citizen_phone=phone,
                        source=source, original_case_id=original, joined_at=utc(joined),
                    )
                )  # fmt: skip
            for (
                pk,
                kind,
                status,
                payload,
                by,
                at,
                decided_by,
                decided_at,
                note,
                reason,
            ) in request_rows(rec):
                requests.append(
                    CaseRequest(
                        id=pk, case_id=rec.id, kind=kind, status=status,
                        payload=json.loads(payload), requested_by_id=by, requested_at=utc(at),
                        decided_by_id=decided_by, decided_at=aware(decided_at),
                        decision_note=note, reason=reason,
                    )
                )  # fmt: skip
        insert_rows(CaseEvent, events)
        insert_rows(CaseReporter, reporters)
        insert_rows(CaseRequest, requests, keys=True)
        stats.add("cases: write", after_cases - started)
        stats.add("events: write", time.perf_counter() - after_cases)
        stats.events += len(events)
        stats.reporters += len(reporters)
        stats.requests += len(requests)

    def finish(self, stats: Stats) -> None:
        pass

    def save_counters(self, counters: dict) -> None:
        if not counters:
            return
        existing = {
            (c.prefix, c.day): c
            for c in CaseNumberCounter.objects.filter(
                day__in={day for _, day in counters}, prefix__in={p for p, _ in counters}
            )
        }
        new = []
        for key, last in counters.items():
            counter = existing.get(key)
            if counter is None:
                new.append(CaseNumberCounter(prefix=key[0], day=key[1], last=last))
            elif counter.last < last:
                counter.last = last
                counter.save(update_fields=["last"])
        CaseNumberCounter.objects.bulk_create(new, batch_size=1000)

    def analyze(self) -> None:
        pass
