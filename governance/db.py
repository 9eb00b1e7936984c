"""Writing many rows in few statements, where Django's own bulk methods are slow; and how
statements are planned."""

import contextlib

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


def insert_rows(model, objs, *, batch: int = 5000) -> None:
    """Insert new rows of ``model`` (instances whose values are set; an automatic primary
    key is left to the database and not set on them). On PostgreSQL by ``COPY``: the
    figures' nightly rebuild spent 980 s of 1,300 at a million cases in ``bulk_create``,
    most of it preparing 52 million values one by one in Python; elsewhere ``bulk_create``.
    """
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=batch)
        return
    from psycopg.types.json import Jsonb

    meta = model._meta
    fields = [
        f for f in meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    attnames = [f.attname for f in fields]
    json = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                row = [getattr(obj, name) for name in attnames]
                for i in json:
                    row[i] = Jsonb(row[i])
                copy.write_row(row)


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
