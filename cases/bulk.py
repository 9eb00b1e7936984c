"""Bulk loading into PostgreSQL tables: binary COPY, and secondary indexes and foreign keys
dropped before a large load and rebuilt after it (PostgreSQL's "Populating a Database").

Binary COPY costs the server about 2.5 times less than text COPY of the same case rows
(no parsing of timestamps, numbers or hex geometry). Each value travels in its type's wire
format: a geometry as EWKB, a jsonb as a version byte and the JSON text, a timestamptz as
int64 microseconds since 2000-01-01 UTC (the only timestamp format since PostgreSQL 10), so
that the generator never builds a datetime object per row.
"""

from dataclasses import dataclass

from psycopg import adapt, postgres, pq

# psycopg formats binary COPY rows with this class (in C); it is not exported, but it is the
# only way to build the stream without a connection, in another process (pinned psycopg).
from psycopg._copy_base import BinaryFormatter

EPOCH_2000 = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds
# A jsonb value on the wire is a version byte, 1, then the JSON text. Sent as "text" (a str
# starting with this character), it goes through psycopg's C string dumper; its bytea dumper
# for binary COPY is written in Python and cost a second per million events.
JSONB_VERSION = "\x01"

# Column type (format_type) -> the psycopg type whose binary dumper writes that wire format.
WIRE_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "boolean": "bool",
    "text": "text",
    "character varying": "text",
    "date": "date",
    "timestamp with time zone": "int8",  # int64 µs since 2000-01-01: see wire_time()
    "geometry": "bytea",  # EWKB bytes
    "jsonb": "text",  # JSONB_VERSION + the JSON text
}


def wire_time(moment: int | None) -> int | None:
    """Unix seconds as a timestamptz on the wire."""
    return None if moment is None else (moment - EPOCH_2000) * 1_000_000


def wire_types(cursor, table: str, columns: tuple[str, ...]) -> list[str]:
    """The binary COPY types for ``columns``, read from the table itself so that a migrated
    column fails loudly here rather than as garbage on the wire."""
    cursor.execute(
        "SELECT attname, regexp_replace(format_type(atttypid, NULL), '\\(.*\\)', '')"
        " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
    )
    found = dict(cursor.fetchall())
    types = []
    for column in columns:
        kind = found.get(column)
        if kind not in WIRE_TYPES:
            raise ValueError(f"{table}.{column}: no binary COPY format for type {kind!r}")
        types.append(WIRE_TYPES[kind])
    return types


def copy_binary(cursor, table: str, columns: tuple[str, ...], types: list[str], rows) -> int:
    """COPY ``rows`` (tuples in wire form) into ``table``; returns how many."""
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    return count


def encode_binary(types: list[str], rows) -> tuple[bytearray, int]:
    """The binary COPY stream of ``rows`` (tuples in wire form), as ``copy_binary`` would
    send it, built without a connection; and how many rows. ``copy_stream`` sends it."""
    transformer = adapt.Transformer()
    transformer.set_dumper_types([postgres.types.get_oid(t) for t in types], pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    out = bytearray()
    count = 0
    write = formatter.write_row
    for row in rows:
        out += write(row)
        count += 1
    out += formatter.end()
    return out, count


def copy_stream(cursor, table: str, columns: tuple[str, ...], stream) -> None:
    """COPY a stream made by ``encode_binary`` into ``table``."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(stream)


@dataclass
class Secondary:
    """What a table had besides its primary key, as the statements that recreate it."""

    table: str
    indexes: list[str]  # CREATE INDEX and ADD CONSTRAINT ... UNIQUE
    foreign_keys: list[str]


def drop_secondary(cursor, table: str) -> Secondary:
    """Drop every index but the primary key, unique constraints and foreign keys of
    ``table``. Run it in a transaction with the load and ``restore``: should anything fail,
    the rollback brings them all back."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY conname",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS"
        "  (SELECT 1 FROM pg_constraint c"
        "   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
        " ORDER BY 1",
        [table],
    )
    indexes = cursor.fetchall()
    for name, _definition, _kind in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return Secondary(
        table=table,
        indexes=[definition for _name, definition in indexes]
        + [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, definition, kind in constraints
            if kind == "u"
        ],
        foreign_keys=[
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, definition, kind in constraints
            if kind == "f"
        ],
    )


def restore_indexes(cursor, secondary: Secondary) -> None:
    # Index builds sort in memory when they can; the server default (64 MB) spills to disk.
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for statement in secondary.indexes:
        cursor.execute(statement)


def restore_foreign_keys(cursor, secondary: Secondary) -> None:
    """Each key is checked over the whole table in one query, not row by row."""
    for statement in secondary.foreign_keys:
        cursor.execute(statement)
