"""Creating notifications. Sending them by e-mail is the digest task's job (tasks.py), so
``notify`` is safe inside a transaction: a rollback takes the notifications with it and
nothing has left the building."""

import datetime
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from .models import Notification

DEDUP_KEY_MAX = Notification._meta.get_field("dedup_key").max_length
# Rows per INSERT statement: well under SQLite's limit on bound parameters.
INSERT_BATCH = 500


def notify(
    recipients: Iterable,
    *,
    kind: str,
    title: str,
    body: str = "",
    case=None,
    url: str = "",
    dedup_key: str,
    not_before: datetime.datetime | None = None,
    wording: tuple[str, dict] | None = None,
) -> int:
    """One in-app notification per active recipient, unless that person already has one
    with this ``dedup_key``. ``not_before`` defers delivery (inbox, unread count and
    e-mail) until then. ``wording``: the name (``notifications.wording``) and values the
    title and text were written from, so that each reader sees them in their language.
    Returns how many notifications were created."""
    if not dedup_key or len(dedup_key) > DEDUP_KEY_MAX:
        raise ValueError(f"notify() needs a dedup_key of 1 to {DEDUP_KEY_MAX} characters.")
    people = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not people:
        return 0
    values = {
        "kind": kind,
        "title": title[:200],
        "body": body,
        "case_id": case.pk if case is not None else None,
        "url": url,
        "dedup_key": dedup_key,
        "created_at": timezone.now(),
        "not_before": not_before,
        "params": {"wording": wording[0], **wording[1]} if wording else {},
    }
    return insert_ignoring_duplicates([{"recipient_id": pk, **values} for pk in sorted(people)])


def insert_ignoring_duplicates(rows: list[dict]) -> int:
    """INSERT ... ON CONFLICT (recipient, dedup_key) DO NOTHING, counting the rows really
    inserted (the statement's row count), which bulk_create(ignore_conflicts=True) does
    not report. Both PostgreSQL and SQLite (3.24+) speak this syntax. A concurrent
    transaction inserting the same key makes this one wait, then skip the row."""
    meta = Notification._meta
    columns = list(rows[0])
    fields = [meta.get_field(column.removesuffix("_id")) for column in columns]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(meta.db_table), ", ".join(quote(field.column) for field in fields)
    )
    tail = " ON CONFLICT ({}, {}) DO NOTHING".format(
        quote(meta.get_field("recipient").column), quote(meta.get_field("dedup_key").column)
    )
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    created = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start : start + INSERT_BATCH]
            params = [
                field.get_db_prep_save(row[column], connection)
                for row in batch
                for column, field in zip(columns, fields, strict=True)
            ]
            cursor.execute(head + ", ".join([placeholder] * len(batch)) + tail, params)
            created += cursor.rowcount
    return created
