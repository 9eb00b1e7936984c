"""Writing many rows in few statements, where Django's own bulk methods are slow; and how
statements are planned."""

import contextlib
import datetime
import decimal
import functools
import json
import struct
import uuid
from collections.abc import Callable
from typing import NamedTuple

from django.contrib.gis.geos import Point
from django.db import connections, models, router, transaction


def update_rows(objs: list, fields: list[str], *, batch: int = 500) -> None:
    """Save ``fields`` of each object in ``objs`` (rows of one model, by primary key): one
    ``UPDATE … FROM (VALUES …)`` per ``batch`` rows. ``bulk_update`` builds a CASE per
    column and row, which costs about 0.3 ms of Python per row and field (a batch of
    routings spent most of its time there). Values that are expressions (``F("n") + 1``)
    are left to ``bulk_update``."""
    if not objs or not fields:
        return
    model = type(objs[0])
    meta = model._meta
    using = router.db_for_write(model)
    if any(hasattr(getattr(obj, meta.get_field(f).attname), "resolve_expression")
           for obj in objs for f in fields):  # fmt: skip
        model.objects.bulk_update(objs, fields, batch_size=batch)
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    postgres = connection.vendor == "postgresql"
    # PostgreSQL types the VALUES columns from the casts; SQLite needs none.
    cells = [f"%s::{field.db_type(connection)}" if postgres else "%s" for field in columns]
    row_sql = "(" + ", ".join(cells) + ")"
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    table = quote(meta.db_table)
    assignments = ", ".join(
        f"{quote(field.column)} = v.c{i}" for i, field in enumerate(columns) if i
    )
    with connection.cursor() as cursor:
        for begin in range(0, len(objs), batch):
            chunk = objs[begin : begin + batch]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection)
                for obj in chunk
                for field in columns
            ]
            cursor.execute(
                f"WITH v ({names}) AS (VALUES {', '.join([row_sql] * len(chunk))})"
                f" UPDATE {table} SET {assignments} FROM v"
                f" WHERE {table}.{quote(meta.pk.column)} = v.c0",
                params,
            )


def delete_rows(model, pks: list, *, batch: int = 10_000) -> None:
    """Delete rows of ``model`` by primary key, without signals or cascades (for tables
    nothing refers to). On PostgreSQL one ``= ANY(array)`` per batch: an ``IN`` list
    sends a placeholder per key, which psycopg parses again for every long statement."""
    if not pks:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        for begin in range(0, len(pks), batch):
            model.objects.filter(pk__in=pks[begin : begin + batch]).delete()
        return
    meta = model._meta
    quote = connection.ops.quote_name
    statement = f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = ANY(%s)"
    with connection.cursor() as cursor:
        for begin in range(0, len(pks), batch):
            cursor.execute(statement, [pks[begin : begin + batch]])


# Fields whose Python values SQLite takes as they are; the others are prepared by the field.
_AS_IS = (models.IntegerField, models.CharField, models.TextField, models.BooleanField)


def insert_rows(model, objs, *, batch: int = 5000, keys: bool = False) -> None:
    """Insert new rows of ``model`` (instances whose values are set; an automatic primary
    key is left to the database and not set on them, unless ``keys``: then the objects'
    own keys are written). No ``pre_save``: values are written as they are set.

    On PostgreSQL by ``COPY``: the figures' nightly rebuild spent 980 s of 1,300 at a
    million cases in ``bulk_create``, most of it preparing 52 million values one by one in
    Python. Elsewhere (SQLite) one ``executemany`` per batch, each value prepared by its
    field only where SQLite cannot take it as it is (``bulk_create`` was most of a
    catch-up there); a model with a geometry, which goes in through a function of its
    own, is left to ``bulk_create``."""
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    fields = [
        f
        for f in meta.concrete_fields
        if keys or not (f.primary_key and isinstance(f, models.AutoField))
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    attnames = [f.attname for f in fields]
    if connection.vendor != "postgresql":
        if any(hasattr(f, "get_placeholder") for f in fields):
            model.objects.bulk_create(objs, batch_size=batch)
            return
        prepare = [
            (i, field.get_db_prep_save)
            for i, field in enumerate(fields)
            if not isinstance(field, _AS_IS) or field.choices
        ]
        statement = (
            f"INSERT INTO {quote(meta.db_table)} ({columns})"
            f" VALUES ({', '.join(['%s'] * len(fields))})"
        )
        rows = []
        with connection.cursor() as cursor:
            for obj in objs:
                row = [getattr(obj, name) for name in attnames]
                for i, prep in prepare:
                    row[i] = prep(row[i], connection)
                rows.append(row)
                if len(rows) == batch:
                    cursor.executemany(statement, rows)
                    rows = []
            if rows:
                cursor.executemany(statement, rows)
        return
    from psycopg.types.json import Jsonb

    json = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                row = [getattr(obj, name) for name in attnames]
                for i in json:
                    row[i] = Jsonb(row[i])
                copy.write_row(row)


def insert_together(objs: list, using: str = "default") -> None:
    """Write new rows (no primary key yet) of several models, parents before children,
    as ``bulk_create`` would (``pre_save``: ``auto_now`` and the like; foreign keys to
    parents written with them get the parents' new keys) but without signals; the new
    keys are set on the objects.

    On PostgreSQL in one statement: each model's rows travel as one JSON parameter
    (``json_populate_recordset`` types them as the table's columns), their keys are taken
    from the table's sequence inside the statement, in the order given, and a child names
    a parent of the same statement by its place; the foreign keys are checked at commit.
    One statement is atomic by itself: outside a transaction it needs none. Elsewhere
    one ``bulk_create`` per model, in order, each reading back its new keys (call it
    inside a transaction)."""
    groups: dict = {}
    for obj in objs:
        if obj.pk is not None:
            raise ValueError(f"{obj!r} already has a primary key.")
        groups.setdefault(type(obj), []).append(obj)
    connection = connections[using]
    if connection.vendor != "postgresql":
        for model, rows in groups.items():
            model.objects.using(using).bulk_create(rows)
        return
    # Where each object is: its group's number and its place in the group (from 1).
    place = {
        id(obj): (g, o) for g, rows in enumerate(groups.values()) for o, obj in enumerate(rows, 1)
    }
    plans = [_json_insert(model, connection) for model in groups]
    params, links = [], []
    for plan, rows in zip(plans, groups.values(), strict=True):
        records = []
        for obj in rows:
            record = {}
            for column in plan.fields:
                if column.relation:
                    parent = _batch_parent(obj, column.field, place)
                    if parent is not None:
                        # The parent's place, negative: read as "the key of that row".
                        record[column.name] = -parent[1]
                        links.append((obj, column.field, parent))
                        continue
                value = (
                    getattr(obj, column.attname)
                    if column.plain
                    else column.field.pre_save(obj, True)
                )
                record[column.name] = value if column.convert is None else column.convert(value)
            records.append(record)
        params.append(json.dumps(records, separators=(",", ":")))
    shape = (connection.alias, *((model, len(rows)) for model, rows in groups.items()))
    statement = _statements.get(shape)
    if statement is None:
        if len(_statements) > 500:
            _statements.clear()
        statement = _statements[shape] = _insert_statement(plans, groups)
    with connection.cursor() as cursor:
        cursor.execute(statement, [plan.sequence for plan in plans] + params)
        found = cursor.fetchall()
    rows_of = list(groups.values())
    for g, o, pk in found:
        obj = rows_of[g][o - 1]
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using
    for obj, field, (g, o) in links:
        parent = rows_of[g][o - 1]
        setattr(obj, field.attname, parent.pk)  # which forgets the parent: keep it
        field.set_cached_value(obj, parent)


def _insert_statement(plans: list, groups: dict) -> str:
    """The statement that writes ``groups`` (rows by model, in order): a key per row from
    each table's sequence, and an insert per table reading its rows from a JSON parameter,
    a parent's negative place read as that parent's new key."""
    order = {model: g for g, model in enumerate(groups)}
    keys, inserts = [], []
    for g, (plan, rows) in enumerate(zip(plans, groups.values(), strict=True)):
        keys.append(
            f"k{g} AS MATERIALIZED (SELECT nextval(%s::regclass) AS id, o"
            f" FROM generate_series(1, {len(rows)}) AS o)"
        )
        columns = []
        for column in plan.fields:
            field = column.field
            target = field.related_model if field.is_relation else None
            value = f"j.{plan.quote(column.name)}"
            if target in order:
                k = f"k{order[target]}"
                columns.append(
                    f"CASE WHEN {value} < 0 THEN (SELECT id FROM {k} WHERE o = -{value})"
                    f" ELSE {value} END"
                )
            else:
                columns.append(value)
        inserts.append(
            f"w{g} AS (INSERT INTO {plan.table} ({plan.pk}, {plan.columns})"
            f" SELECT k{g}.id, {', '.join(columns)}"
            f" FROM json_populate_recordset(NULL::{plan.table}, %s::json) WITH ORDINALITY"
            f" AS j JOIN k{g} ON k{g}.o = j.ordinality)"
        )
    result = " UNION ALL ".join(f"SELECT {g}, o, id FROM k{g}" for g in range(len(groups)))
    return f"WITH {', '.join(keys + inserts)} {result}"


def unsaved(model, **values):
    """``model(**values)``, built as Django builds the rows it reads: every field's value
    in order, passed by position. For the rows a request creates by the dozen (a new
    case, its events, clocks and steps), where the keyword form spent a tenth of the
    request's CPU trying each field's name and then its column's, and setting related
    objects through their descriptors. A related object given by the field's name is
    kept as its cached value and its key as the column's, as the keyword form does; a
    field not given takes its default; anything but a field is refused."""
    plan = _builds.get(model)
    if plan is None:
        plan = _builds[model] = [
            (field, field.name, field.attname, field.many_to_one)
            for field in model._meta.concrete_fields
        ]
    args, related = [], []
    for field, name, attname, many_to_one in plan:
        if many_to_one and name in values:
            parent = values.pop(name)
            args.append(None if parent is None else getattr(parent, field.target_field.attname))
            related.append((field, parent))
        elif attname in values:
            args.append(values.pop(attname))
        else:
            args.append(field.get_default())
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(values)}.")
    instance = model(*args)
    for field, parent in related:
        field.set_cached_value(instance, parent)
    return instance


# A two-dimensional point in little-endian EWKB.
_EWKB_POINT = struct.Struct("<BIIdd")
# Per model: its concrete fields as ``unsaved`` reads them.
_builds: dict = {}


def _batch_parent(obj, field, place) -> tuple[int, int] | None:
    """Where the object that ``field`` of ``obj`` refers to sits in the statement, when it
    is written by the same statement (not saved yet)."""
    if not field.is_cached(obj):
        return None
    parent = field.get_cached_value(obj)
    if parent is None or parent.pk is not None:
        return None
    return place.get(id(parent))


class _Column(NamedTuple):
    field: models.Field
    name: str  # the column
    attname: str
    relation: bool  # may name a parent written by the same statement
    plain: bool  # its value is the attribute's (no pre_save of its own)
    convert: Callable | None  # to what JSON carries, when the value is not that already


class _JsonInsert(NamedTuple):
    table: str
    pk: str
    columns: str
    sequence: str
    fields: list[_Column]
    quote: Callable[[str], str]


# Per database and model: the table, its columns and how each value is written.
_json_inserts: dict = {}
# Per database and shape (models and row counts, in order): the statement.
_statements: dict = {}
# Column types whose Python values JSON carries as they are.
_JSON_NATIVE = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallAutoField",
    "SmallIntegerField",
    "TextField",
    "URLField",
}


def _json_insert(model, connection) -> _JsonInsert:
    found = _json_inserts.get((connection.alias, model))
    if found is None:
        quote = connection.ops.quote_name
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.pk]
        table = quote(meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
            (sequence,) = cursor.fetchone()
        found = _json_inserts[connection.alias, model] = _JsonInsert(
            table=table,
            pk=quote(meta.pk.column),
            columns=", ".join(quote(f.column) for f in fields),
            sequence=sequence,
            fields=[_column(f) for f in fields],
            quote=quote,
        )
    return found


def _column(field) -> _Column:
    kind = _json_kind(field)
    native = kind in _JSON_NATIVE or (kind == "json" and field.encoder is None)
    return _Column(
        field=field,
        name=field.column,
        attname=field.attname,
        relation=field.is_relation,
        plain=type(field).pre_save is models.Field.pre_save,
        convert=None if native else functools.partial(_json_value, kind=kind, field=field),
    )


def _json_kind(field) -> str:
    if isinstance(field, models.JSONField):
        return "json"
    if getattr(field, "geom_type", None) is not None:
        return "geometry"
    return field.get_internal_type()


def _json_value(value, kind: str, field):
    """The value as JSON that PostgreSQL reads back exactly: text in the column type's
    input form where JSON has no such type (hex EWKB for geometries, in the column's
    SRID as Django's own insert would transform it)."""
    if value is not None and kind == "json" and field.encoder is not None:
        return json.loads(json.dumps(value, cls=field.encoder))
    if value is None or kind == "json":
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if kind == "geometry":
        if value.srid is not None and value.srid != field.srid:
            value = value.transform(field.srid, clone=True)
        if isinstance(value, Point) and value.srid and not value.hasz and not value.empty:
            # A case's point, the common case: its EWKB packed here (byte order, type 1
            # with the SRID flag, the SRID, x, y) rather than by GEOS's writer.
            return _EWKB_POINT.pack(1, 0x20000001, value.srid, *value.coords).hex()
        return value.hexewkb.decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return "\\x" + bytes(value).hex()
    return value


def version_triggers(
    connection, version_table: str, watched: dict[str, tuple[str, ...]], *, drop: bool = False
) -> None:
    """Create (or drop) triggers that give the one row of ``version_table`` (id 1, a
    ``token`` column) a fresh random token on every write to the ``watched`` tables, in
    the writing transaction. A table's columns, when given, limit its updates to those
    that set them (inserts and deletes always count). PostgreSQL: one trigger per
    statement; SQLite: per row."""
    name = f"{version_table}_changed"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in watched:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}_update ON {table}")
            if drop:
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
                return
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
                f" BEGIN INSERT INTO {version_table} (id, token)"
                " VALUES (1, replace(gen_random_uuid()::text, '-', ''))"
                " ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token; RETURN NULL; END $$"
            )
            for table, columns in watched.items():
                events = "INSERT OR DELETE OR TRUNCATE" + ("" if columns else " OR UPDATE")
                cursor.execute(
                    f"CREATE TRIGGER {name} AFTER {events} ON {table}"
                    f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
                )
                if columns:
                    cursor.execute(
                        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(columns)}"
                        f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
                    )
            return
        upsert = (
            f"INSERT INTO {version_table} (id, token) VALUES (1, lower(hex(randomblob(16))))"
            " ON CONFLICT(id) DO UPDATE SET token = excluded.token;"
        )
        for table, columns in watched.items():
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            for event in ("INSERT", "DELETE", update):
                trigger = f"{name}_{table}_{event.split()[0].lower()}"
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
                if not drop:
                    cursor.execute(
                        f"CREATE TRIGGER {trigger} AFTER {event} ON {table} BEGIN {upsert} END"
                    )


def version_token(model, using: str = "default") -> str:
    """The token of a one-row version table (row 1, a ``token`` column, written by
    ``version_triggers``), or "" before its first change: one plain statement, read on
    every request that relies on what the token guards (the ORM's query took three times
    as long to build as to run)."""
    return version_tokens([model], using)[0]


def version_tokens(models_: list, using: str = "default") -> list[str]:
    """The tokens of several version tables, in one statement."""
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"(SELECT token FROM {quote(model._meta.db_table)} WHERE id = 1)" for model in models_
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}")
        return [token or "" for token in cursor.fetchone()]


# The version tables a request reads together (``request_tokens``).
REQUEST_VERSIONS = ("keys.CredentialsVersion", "clocks.RulesVersion", "cases.RoutingVersion")


def request_tokens(request) -> dict[str, str]:
    """The tokens of ``REQUEST_VERSIONS``, read in one statement at the request's first
    need and kept on the request: an API request checks its credentials, its category
    and a new case's clock rules against what this process keeps in memory, for one read.
    Not for a transition on an existing case, whose rules are read under its row lock."""
    request = getattr(request, "_request", request)
    tokens = getattr(request, "_version_tokens", None)
    if tokens is None:
        from django.apps import apps

        values = version_tokens([apps.get_model(label) for label in REQUEST_VERSIONS])
        tokens = request._version_tokens = dict(zip(REQUEST_VERSIONS, values, strict=True))
    return tokens


def execute_unflushed(
    sql: str, params=(), using: str = "default", *, returning: bool = False
) -> list | None:
    """Run one statement that may be lost in a crash of the database (a counter, a log
    line) without waiting for the disk: on PostgreSQL, outside a transaction, its own
    transaction commits with ``synchronous_commit`` off, set inside the same statement
    (one round trip; a flush here takes about 5 ms, and every such write waited for one).
    Inside a transaction, and elsewhere, it is a plain statement. ``returning``: the
    statement has a RETURNING clause; its rows are returned."""
    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        sql = (
            "WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true)),"
            f" written AS ({sql})"
            + (
                " SELECT written.* FROM written, unflushed"
                if returning
                else " SELECT * FROM unflushed"
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if returning else None


@contextlib.contextmanager
def custom_plans(using: str = "default"):
    """Plan every statement for its own values, in a transaction (PostgreSQL; elsewhere
    nothing). Statements run often are prepared (``DB_PREPARE_THRESHOLD``),
    and after five runs PostgreSQL may keep one generic plan for any values: right for the
    workflow's lookups by key, wrong for the figures' reads, whose best plan depends on the
    dates and places asked for (at ten million cases the generic plan of the officer's
    top categories read 38 ms where its own plan read 2). ``SET LOCAL`` ends with the
    transaction. Usable as a decorator."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield
