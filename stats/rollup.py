"""Keeping the figures current: one function computes what a case contributes, from the case
row and its events; the incremental catch-up and the nightly rebuild both use it.

Incremental: a periodic task reads the CaseEvent ids past a stored high-water mark, and
recomputes the cases they belong to, taking out each case's old contribution and adding
its new one. Recomputing a case from its whole history is idempotent, which is what makes
this safe: a case read twice changes nothing. The mark lives in the database, not in the
broker, so a broker or worker that was down loses nothing; the next run reads everything
past the mark. Ids are taken when a transaction inserts, not when it commits, so an event
can become visible below a mark already passed; each run therefore also looks again at
events stamped within ``RECHECK`` of the previous run (cheap: a few cases), and the nightly
rebuild makes good anything older, counting the cases where it found a difference.
"""

import datetime
import functools
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from cases.clock import DepartmentCalendars
from cases.models import (
    OPEN_STAGES,
    SOURCES_NEEDING_VERIFICATION,
    Case,
    CaseEvent,
    Stage,
)
from governance.db import delete_rows, insert_rows

from .models import (
    GRID,
    CaseFact,
    CategoryDay,
    DailyFact,
    GridDay,
    HandlingDay,
    RollupState,
)

RECHECK = datetime.timedelta(seconds=120)
# Counters a case adds to the row of one day (DailyFact columns).
COUNTERS = (
    "reported", "filed", "public_filed", "due", "due_closed", "due_on_time", "closed",
    "closed_on_time", "wall_seconds", "work_seconds", "disposed", "reworks", "dispatched",
    "returns", "voided",
)  # fmt: skip
# Events counted on the day they happen, by action.
EVENT_COUNTERS = {
    "report_done": "disposed",
    "check_fail": "reworks",
    "dispatch": "dispatched",
    "approve_return": "returns",
    "approve_void": "voided",
}
NOT_DUE = (Stage.VOIDED, Stage.MERGED)
# Handling-time histogram: 8 buckets per doubling of seconds, so a percentile read from it is
# at most 9 % (2 ** (1 / 8)) above the true value.
BUCKETS_PER_DOUBLING = 8
CASE_FIELDS = (
    "id", "district_id", "street_id", "community_id", "grid_id", "category_id",
    "department_id", "source", "stage", "reported_at", "deadline",
)  # fmt: skip
EVENT_FIELDS = ("id", "case_id", "at", "action", "from_stage", "to_stage")
# The tables a rebuild writes anew.
ROLLUP_MODELS = (CaseFact, DailyFact, CategoryDay, GridDay, HandlingDay)


@functools.lru_cache(maxsize=100_000)
def _local_day(quarter: int, zone: str) -> datetime.date:
    return datetime.datetime.fromtimestamp(quarter * 900, ZoneInfo(zone)).date()


def local_day(moment: datetime.datetime) -> datetime.date:
    """The date of ``moment`` in the site's time zone (TIME_ZONE). Every time zone's offset
    is a multiple of 15 minutes, so the date is the same for a whole quarter-hour, and is
    read from a cache (the rebuild asks this for millions of events)."""
    return _local_day(int(moment.timestamp()) // 900, settings.TIME_ZONE)


def bucket_of(seconds: int) -> int:
    return int(BUCKETS_PER_DOUBLING * math.log2(max(seconds, 1)))


def bucket_top(bucket: int) -> float:
    """The upper bound, in seconds, of a histogram bucket."""
    return 2 ** ((bucket + 1) / BUCKETS_PER_DOUBLING)


def on_time(closed_at, deadline) -> bool | None:
    """Closed by the deadline. The one definition, shared by every figure and list."""
    if closed_at is None or deadline is None:
        return None
    return closed_at <= deadline


# ---------------------------------------------------------------------------- one case


def case_fact(case: dict, events: list[tuple], calendars: DepartmentCalendars) -> CaseFact:
    """The fact of one case: its dimensions (as they are now), its timeline from the events,
    and the counts it adds per day."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    filed_at = closed_at = ended_at = None
    holds: list[tuple] = []
    hold_start = None
    for _pk, _case, at, action, from_stage, to_stage in events:
        day = local_day(at).isoformat()
        if action == "file" and filed_at is None:
            filed_at = at
        counter = EVENT_COUNTERS.get(action)
        if counter:
            counts[day][counter] += 1
        if to_stage == Stage.ON_HOLD and from_stage != Stage.ON_HOLD:
            hold_start = at
        elif from_stage == Stage.ON_HOLD and to_stage != Stage.ON_HOLD and hold_start:
            holds.append((hold_start, at))
            hold_start = None
        if to_stage not in OPEN_STAGES and from_stage in [*OPEN_STAGES, ""] and ended_at is None:
            ended_at = at
            if to_stage == Stage.CLOSED:
                closed_at = at
    department = case["department_id"] or 0
    fact = CaseFact(
        case_id=case["id"],
        district=case["district_id"] or 0,
        street=case["street_id"] or 0,
        community=case["community_id"] or 0,
        grid=case["grid_id"] or 0,
        category=case["category_id"],
        department=department,
        source=case["source"],
        stage=case["stage"],
        reported_at=case["reported_at"],
        filed_at=filed_at,
        closed_at=closed_at,
        ended_at=ended_at,
        deadline=case["deadline"] if filed_at else None,
        events=len(events),
    )
    counts[local_day(fact.reported_at).isoformat()]["reported"] += 1
    fact.on_time = on_time(closed_at, fact.deadline)
    if filed_at is not None:
        filed_day = counts[local_day(filed_at).isoformat()]
        filed_day["filed"] += 1
        if fact.source in SOURCES_NEEDING_VERIFICATION:
            filed_day["public_filed"] += 1
        if fact.stage not in NOT_DUE:
            filed_day["due"] += 1
            if closed_at is not None:
                filed_day["due_closed"] += 1
                filed_day["due_on_time"] += int(bool(fact.on_time))
    if closed_at is not None and filed_at is not None:
        calendar = calendars(department)
        held_wall = sum(((end - start) for start, end in holds), datetime.timedelta())
        held_work = sum(
            (calendar.between(start, end) for start, end in holds), datetime.timedelta()
        )
        fact.wall_seconds = int(((closed_at - filed_at) - held_wall).total_seconds())
        fact.work_seconds = int((calendar.between(filed_at, closed_at) - held_work).total_seconds())
        closed_day = counts[local_day(closed_at).isoformat()]
        closed_day["closed"] += 1
        closed_day["closed_on_time"] += int(bool(fact.on_time))
        closed_day["wall_seconds"] += fact.wall_seconds
        closed_day["work_seconds"] += fact.work_seconds
    fact.counts = {
        day: {k: v for k, v in sorted(c.items()) if v} for day, c in sorted(counts.items())
    }
    return fact


def signature(fact: CaseFact) -> tuple:
    """Everything of a fact that figures depend on."""
    return (
        fact.district, fact.street, fact.community, fact.grid, fact.category, fact.department,
        fact.source, fact.stage, fact.reported_at, fact.filed_at, fact.closed_at,
        fact.ended_at, fact.deadline, fact.on_time, fact.wall_seconds, fact.work_seconds,
        fact.counts,
    )  # fmt: skip


def places(fact: CaseFact) -> list[tuple]:
    """(level, district, street, community, grid) of each row the fact adds to."""
    ids = (fact.district, fact.street, fact.community, fact.grid)
    return [(level, *ids[: level + 1], *([0] * (3 - level))) for level in range(GRID + 1)]


class Deltas:
    """Changes to the daily rows, summed over many cases, written in one go."""

    def __init__(self):
        self.daily: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        self.hist: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        # The same histograms, every department together (HandlingDay).
        self.handling: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
        self.category: dict[tuple, int] = defaultdict(int)
        self.grid: dict[tuple, int] = defaultdict(int)

    def add(self, fact: CaseFact, sign: int) -> None:
        rows = places(fact)
        for day_text, counts in fact.counts.items():
            day = datetime.date.fromisoformat(day_text)
            for place in rows:
                row = self.daily[(day, *place, fact.department)]
                for counter, n in counts.items():
                    row[counter] += sign * n
        if fact.wall_seconds is not None:
            day = local_day(fact.closed_at)
            buckets = (
                ("wall", bucket_of(fact.wall_seconds)),
                ("work", bucket_of(fact.work_seconds)),
            )
            for place in rows:
                # The department's row, and the row of every department together.
                for hist in (
                    self.hist[(day, *place, fact.department)],
                    self.handling[(day, *place)],
                ):
                    for bucket in buckets:
                        hist[bucket] += sign
        day = local_day(fact.reported_at)
        for place in rows:
            self.category[(day, *place, fact.department, fact.category)] += sign
        self.grid[(day, *rows[GRID][1:])] += sign

    def __bool__(self) -> bool:
        return bool(self.daily or self.category or self.grid)


KEY_FIELDS = ("day", "level", "district", "street", "community", "grid", "department")
GRID_DAY_FIELDS = ("day", "district", "street", "community", "grid")
HANDLING_FIELDS = ("day", "level", "district", "street", "community", "grid")
# The key of each table of counts.
KEYS = {
    DailyFact: KEY_FIELDS,
    CategoryDay: (*KEY_FIELDS, "category"),
    GridDay: GRID_DAY_FIELDS,
    HandlingDay: HANDLING_FIELDS,
}


def merge_hist(hist: dict, changes: dict) -> dict:
    merged = {kind: dict(buckets) for kind, buckets in hist.items()}
    for (kind, bucket), n in changes.items():
        buckets = merged.setdefault(kind, {})
        value = buckets.get(str(bucket), 0) + n
        if value:
            buckets[str(bucket)] = value
        else:
            buckets.pop(str(bucket), None)
    return {
        kind: dict(sorted(b.items(), key=lambda kv: int(kv[0]))) for kind, b in merged.items() if b
    }


# Keys looked up per query: 1,000 keys of 8 values stay below SQLite's 32,766 variables;
# PostgreSQL takes them as arrays, a parameter per column.
LOOKUP_CHUNK = 1000
ARRAY_CHUNK = 10_000


def existing_rows(model, keys: Iterable[tuple]) -> dict[tuple, object]:
    """The rows of ``model`` for exactly these keys: each chunk of keys joined as arrays
    (PostgreSQL) or a VALUES list (reading a superset of days, places and departments and
    filtering it here read most of the table for a catch-up spread over months)."""
    fields = KEYS[model]
    columns = ", ".join(fields)
    table = model._meta.db_table
    keys = list(set(keys))
    found = {}
    if connection.vendor == "postgresql":
        # The keys travel as one array per column (a VALUES list sent a placeholder per
        # value, which psycopg parsed again for each long statement); one probe of the
        # unique key's index per key: joined, PostgreSQL hashed the whole table instead
        # (half a second per chunk at a million cases).
        arrays = ", ".join(f"%s::{model._meta.get_field(f).db_type(connection)}[]" for f in fields)
        match = " AND ".join(f"t.{f} = k.{f}" for f in fields)
        sql = (
            f"SELECT t.* FROM unnest({arrays}) AS k ({columns}) CROSS JOIN LATERAL"
            f" (SELECT * FROM {table} t WHERE {match} LIMIT 1) t"
        )
        for begin in range(0, len(keys), ARRAY_CHUNK):
            chunk = keys[begin : begin + ARRAY_CHUNK]
            for row in model.objects.raw(
                sql, [list(column) for column in zip(*chunk, strict=True)]
            ):
                found[tuple(getattr(row, f) for f in fields)] = row
        return found
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for begin in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[begin : begin + LOOKUP_CHUNK]
        sql = (
            f"WITH k ({columns}) AS (VALUES {', '.join([row_sql] * len(chunk))})"
            f" SELECT t.* FROM {table} t JOIN k USING ({columns})"
        )
        for row in model.objects.raw(sql, [value for key in chunk for value in key]):
            found[tuple(getattr(row, f) for f in fields)] = row
    return found


def replace_rows(model, create: list, update: list, delete: list[int]) -> None:
    """Write the changed daily rows: the changed and emptied ones deleted, the changed and
    new ones inserted (by COPY on PostgreSQL), a statement or two each (an UPDATE per row,
    or bulk_update's one CASE per column and row, took seconds for a few thousand rows)."""
    delete_rows(model, delete + [row.pk for row in update])
    for row in update:
        row.pk = None
    insert_rows(model, [*update, *create])


def apply(deltas: Deltas) -> None:
    """Add the deltas to the daily rows; rows that fall to nothing are deleted, so that the
    tables hold exactly what a rebuild would write."""
    keys = set(deltas.daily) | set(deltas.hist)
    rows = existing_rows(DailyFact, keys)
    create, update, delete = [], [], []
    for key in keys:
        row = rows.get(key) or DailyFact(**dict(zip(KEY_FIELDS, key, strict=True)))
        for counter, n in deltas.daily.get(key, {}).items():
            setattr(row, counter, getattr(row, counter) + n)
        if key in deltas.hist:
            row.hist = merge_hist(row.hist, deltas.hist[key])
        empty = not row.hist and not any(getattr(row, c) for c in COUNTERS)
        if row.pk is None:
            if not empty:
                create.append(row)
        elif empty:
            delete.append(row.pk)
        else:
            update.append(row)
    replace_rows(DailyFact, create, update, delete)

    add_counts(CategoryDay, "reported", deltas.category)
    add_counts(GridDay, "reported", deltas.grid)

    rows = existing_rows(HandlingDay, deltas.handling)
    create, update, delete = [], [], []
    for key, changes in deltas.handling.items():
        row = rows.get(key) or HandlingDay(**dict(zip(HANDLING_FIELDS, key, strict=True)))
        row.hist = merge_hist(row.hist, changes)
        if row.pk is None:
            if row.hist:
                create.append(row)
        elif row.hist:
            update.append(row)
        else:
            delete.append(row.pk)
    replace_rows(HandlingDay, create, update, delete)


def add_counts(model, counter: str, changes: dict[tuple, int]) -> None:
    """Add the changes to the one counter of ``model``'s rows (by their key); rows that fall
    to nothing are deleted."""
    changes = {k: n for k, n in changes.items() if n}
    fields = KEYS[model]
    rows = existing_rows(model, changes)
    create, update, delete = [], [], []
    for key, n in changes.items():
        row = rows.get(key)
        if row is None:
            create.append(model(**dict(zip(fields, key, strict=True)), **{counter: n}))
        elif getattr(row, counter) + n:
            setattr(row, counter, getattr(row, counter) + n)
            update.append(row)
        else:
            delete.append(row.pk)
    replace_rows(model, create, update, delete)


def compute_facts(case_ids: Iterable[int], calendars: DepartmentCalendars) -> dict[int, CaseFact]:
    ids = sorted(set(case_ids))
    facts = {}
    for begin in range(0, len(ids), 2000):
        chunk = ids[begin : begin + 2000]
        events = defaultdict(list)
        for row in (
            CaseEvent.objects.filter(case_id__in=chunk)
            .order_by("case_id", "at", "id")
            .values_list(*EVENT_FIELDS)
        ):
            events[row[1]].append(row)
        for case in Case.objects.filter(pk__in=chunk).values(*CASE_FIELDS):
            facts[case["id"]] = case_fact(case, events[case["id"]], calendars)
    return facts


def recompute(case_ids: Iterable[int], calendars: DepartmentCalendars | None = None) -> int:
    """Bring the facts of these cases up to date; the number of cases that changed.
    Call inside a transaction holding the state row."""
    calendars = calendars or DepartmentCalendars()
    new = compute_facts(case_ids, calendars)
    old = CaseFact.objects.in_bulk(list(new))
    deltas = Deltas()
    changed = []
    for case_id, fact in new.items():
        before = old.get(case_id)
        if before is not None and signature(before) == signature(fact):
            continue
        if before is not None:
            deltas.add(before, -1)
        deltas.add(fact, +1)
        changed.append(fact)
    if not changed:
        return 0
    apply(deltas)
    delete_rows(CaseFact, [f.case_id for f in changed])
    insert_rows(CaseFact, changed)
    return len(changed)


# ---------------------------------------------------------------------------- runs


def locked_state() -> RollupState | None:
    """The state row, locked for this transaction; None if another run holds it."""
    RollupState.objects.get_or_create(pk=1)
    return RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def catch_up(*, limit: int = 20_000) -> int:
    """Read up to ``limit`` new events and update the figures; the number of cases changed.
    Several runs at once are harmless: all but one find the state row locked and return."""
    with transaction.atomic():
        state = locked_state()
        if state is None:
            return 0
        started = timezone.now()
        new = list(
            CaseEvent.objects.filter(pk__gt=state.high_water)
            .order_by("pk")
            .values_list("pk", "case_id")[:limit]
        )
        case_ids = {case_id for _pk, case_id in new}
        if state.caught_up_at is not None:
            # Events that committed after a later id had already been read.
            case_ids.update(
                CaseEvent.objects.filter(
                    at__gte=state.caught_up_at - RECHECK, pk__lte=state.high_water
                ).values_list("case_id", flat=True)
            )
        changed = recompute(case_ids) if case_ids else 0
        if new:
            state.high_water = new[-1][0]
        if changed:
            state.version += 1
        state.caught_up_at = started
        state.save()
    return changed


def catch_up_all(*, limit: int = 20_000) -> int:
    """Catch up until no event is left (the rebuild's alternative, for tests and benches)."""
    total = 0
    while True:
        high_water = RollupState.objects.filter(pk=1).values_list("high_water", flat=True).first()
        total += catch_up(limit=limit)
        now = RollupState.objects.filter(pk=1).values_list("high_water", flat=True).first()
        if now == high_water:
            return total


def rebuild(*, chunk: int = 20_000) -> RollupState:
    """Recompute every fact and daily row from the whole history, replacing them. Gives the
    same numbers as the incremental path; counts the cases where it found a difference.

    Facts are written chunk by chunk as they are computed; only the daily sums stay in
    memory, and those grow with days and places, not with cases (the facts of ten million
    cases would not fit in memory). The open cases come first, so that their facts lie
    together in the table (the dashboard reads them at every view). One transaction: the
    dashboard goes on reading the previous figures until the rebuild commits."""
    started = time.perf_counter()
    with transaction.atomic():
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
        high_water = CaseEvent.objects.aggregate(top=Max("pk"))["top"] or 0
        calendars = DepartmentCalendars()
        deltas = Deltas()
        # Facts of cases that no longer exist, as an anti-join: NOT IN (subquery) over a
        # million ids ran as a loop over the whole list per fact once the list outgrew
        # work_mem (over ten minutes).
        gone = CaseFact.objects.filter(~Exists(Case.objects.filter(pk=OuterRef("case_id"))))
        differences = gone.count()
        gone.delete()
        for model in ROLLUP_MODELS:
            if model is not CaseFact:
                model.objects.all().delete()
        # Read once: a case that closes while the rebuild runs is then still read once.
        open_ids = sorted(
            Case.objects.filter(stage__in=OPEN_STAGES).values_list("pk", flat=True).order_by()
        )
        cases = 0
        for ids in _chunks_of_cases(open_ids, chunk):
            found, changed = _rebuild_facts(ids, calendars, deltas)
            cases += found
            differences += changed
        write_rebuilt(deltas)
        state.high_water = high_water
        state.version += 1
        state.rebuilt_at = timezone.now()
        state.rebuild_seconds = time.perf_counter() - started
        state.rebuild_cases = cases
        state.rebuild_differences = differences
        state.caught_up_at = state.caught_up_at or state.rebuilt_at
        state.save()
    tidy()
    return state


def _chunks_of_cases(open_ids: list[int], chunk: int) -> Iterable[list[int]]:
    """The open cases' ids, then every other case's, ``chunk`` at a time, in id order."""
    for begin in range(0, len(open_ids), chunk):
        yield open_ids[begin : begin + chunk]
    first = set(open_ids)
    last = 0
    while True:
        ids = list(
            Case.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return
        last = ids[-1]
        yield [pk for pk in ids if pk not in first]


def _rebuild_facts(ids: list[int], calendars: DepartmentCalendars, deltas: Deltas) -> tuple:
    """Recompute and write anew the facts of these cases, adding them to ``deltas``; (cases
    found, cases whose stored fact differed)."""
    if not ids:
        return 0, 0
    new = compute_facts(ids, calendars)
    old = CaseFact.objects.in_bulk(ids)
    differences = 0
    for case_id, fact in new.items():
        before = old.get(case_id)
        if before is None or signature(before) != signature(fact):
            differences += 1
        deltas.add(fact, +1)
    # A case deleted meanwhile has an old fact but no new one.
    CaseFact.objects.filter(case_id__in=ids).delete()
    insert_rows(CaseFact, [new[case_id] for case_id in sorted(new)])
    return len(new), differences + len(set(old) - set(new))


def tidy() -> None:
    """After a rebuild wrote the tables anew: statistics for the planner (without them it
    sorted the hot grids' 80,000 rows on disk), and on PostgreSQL outside a transaction a
    vacuum, so that the open facts' covering index answers without reading the table."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(model._meta.db_table for model in ROLLUP_MODELS)
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM (ANALYZE) {tables}")


def write_rebuilt(deltas: Deltas) -> None:
    """The daily rows, written in the order the dashboard reads them: by level and day (a
    month of grid rows is then a few thousand pages in a row, not one page per row: 16
    against 97 ms for the hot grids at a million cases)."""

    def daily_rows():
        for key in sorted(set(deltas.daily) | set(deltas.hist), key=daily_order):
            row = DailyFact(**dict(zip(KEY_FIELDS, key, strict=True)))
            for counter, n in deltas.daily.get(key, {}).items():
                setattr(row, counter, n)
            if key in deltas.hist:
                row.hist = merge_hist({}, deltas.hist[key])
            yield row

    # One row at a time: the rows of a whole history, as model instances, took a gigabyte.
    insert_rows(DailyFact, daily_rows())
    insert_rows(
        CategoryDay,
        (
            CategoryDay(**dict(zip(KEY_FIELDS, key[:7], strict=True)), category=key[7], reported=n)
            for key, n in sorted(deltas.category.items(), key=lambda item: daily_order(item[0]))
            if n
        ),
    )
    insert_rows(
        GridDay,
        (
            GridDay(**dict(zip(GRID_DAY_FIELDS, key, strict=True)), reported=n)
            for key, n in sorted(deltas.grid.items())
            if n
        ),
    )
    insert_rows(
        HandlingDay,
        (
            HandlingDay(**dict(zip(HANDLING_FIELDS, key, strict=True)), hist=hist)
            for key, changes in sorted(
                deltas.handling.items(), key=lambda item: daily_order(item[0])
            )
            if (hist := merge_hist({}, changes))
        ),
    )


def daily_order(key: tuple) -> tuple:
    """(level, day, the rest) of a daily key (day, level, ...)."""
    return (key[1], key[0], *key[2:])


def snapshot() -> dict:
    """Every figure the roll-ups hold, comparable between two runs (for tests)."""
    daily = {
        tuple(row[f] for f in KEY_FIELDS): {**{c: row[c] for c in COUNTERS}, "hist": row["hist"]}
        for row in DailyFact.objects.values(*KEY_FIELDS, *COUNTERS, "hist")
    }
    category = {
        (*(row[f] for f in KEY_FIELDS), row["category"]): row["reported"]
        for row in CategoryDay.objects.values(*KEY_FIELDS, "category", "reported")
    }
    grid = {
        tuple(row[f] for f in GRID_DAY_FIELDS): row["reported"]
        for row in GridDay.objects.values(*GRID_DAY_FIELDS, "reported")
    }
    handling = {
        tuple(row[f] for f in HANDLING_FIELDS): row["hist"]
        for row in HandlingDay.objects.values(*HANDLING_FIELDS, "hist")
    }
    facts = {f.case_id: signature(f) for f in CaseFact.objects.all()}
    return {
        "daily": daily, "category": category, "grid": grid, "handling": handling, "facts": facts,
    }  # fmt: skip
