"""Operations on cases that span models: reporting a case, numbering, deadlines,
duplicates. State changes of an existing case go through ``cases.workflow.perform``."""

import datetime
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from decimal import Decimal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, connections, router, transaction
from django.utils import timezone

from clocks.services import clocks_of_new_case
from governance.db import execute_unflushed, insert_together, unsaved
from grids.models import locate
from grids.services import within_metres

from . import effects
from .clock import calendar_for, limit_to_deadline
from .models import (
    SOURCES_NEEDING_VERIFICATION,
    Case,
    CaseEvent,
    CaseNumberCounter,
    CaseReporter,
    Category,
    FilingCondition,
    Photo,
    Stage,
    Urgency,
)
from .workflow import Context, InvalidInput, PhotoUpload, perform_on_new, save_photos


def next_case_number(category: Category, day: datetime.date) -> str:
    """C|E + major + minor + yyyymmdd + a 4-digit daily sequence, e.g. E0102202611230007.

    The counter row is raised by one UPDATE: two filings never get the same number. In a
    transaction its row lock is held until the filing commits. Outside one (a case
    reported and filed in one statement, ``new_case``) the counter commits at once,
    without waiting for the disk: a case that is then not written leaves a gap in the
    day's sequence, never a number given twice (a case written durably flushes the log
    past the counter's change, which a crash cannot undo).
    """
    prefix = category.full_code[:5]
    last = _counter_next(prefix, day)
    if last is None:
        try:
            with transaction.atomic():
                CaseNumberCounter.objects.create(prefix=prefix, day=day, last=1)
            last = 1
        except IntegrityError:
            # Another filing created today's counter first.
            last = _counter_next(prefix, day)
    return f"{prefix}{day:%Y%m%d}{last:04d}"


def _counter_next(prefix: str, day: datetime.date) -> int | None:
    """Raise the day's counter and return its new value (None if there is no row yet):
    one UPDATE … RETURNING, which PostgreSQL and SQLite both have."""
    quote = connection.ops.quote_name
    rows = execute_unflushed(
        f"UPDATE {quote(CaseNumberCounter._meta.db_table)} SET {quote('last')} ="
        f" {quote('last')} + 1 WHERE {quote('prefix')} = %s AND {quote('day')} = %s"
        f" RETURNING {quote('last')}",
        [prefix, connection.ops.adapt_datefield_value(day)],
        returning=True,
    )
    return rows[0][0] if rows else None


def case_deadline(
    condition: FilingCondition, start: datetime.datetime, department=None
) -> datetime.datetime:
    from clocks.services import current_rules

    calendars = current_rules()[1]
    department_id = getattr(department, "pk", department)
    return limit_to_deadline(
        start, condition.limit_value, condition.limit_unit, calendars(department_id)
    )


def extend_deadline(case: Case, hours: Decimal) -> datetime.datetime:
    """Working hours on the department's calendar, from the current deadline."""
    base = case.deadline or timezone.now()
    return calendar_for(case.department).add(base, datetime.timedelta(hours=float(hours)))


class NewCase:
    """A case being reported: the case, its reporter and its first event in memory, written
    at once by ``save`` with the clocks they start (and the photos). ``take`` applies a
    workflow action before it is written: a dispatcher files the call they register, one
    row and one statement instead of a row written and then rewritten. Use ``new_case``.

    Hotline and public reports wait for the grid worker's on-site verification; a grid
    worker's own report waits for filing; one the worker already fixed waits for audit.
    A point outside every grid is accepted and left for the dispatcher to triage: no grid
    worker covers it, so even a public report skips on-site verification and waits for
    filing (or refusal) at the dispatch desk.
    """

    def __init__(
        self,
        *,
        reporter,
        source: str,
        point: Point,
        category: Category,
        description: str,
        urgency: str = Urgency.NORMAL,
        address: str = "",
        citizen_name: str = "",
        citizen_phone: str = "",
        self_handled: bool = False,
        photos: Sequence[PhotoUpload] = (),
        submission: uuid.UUID | None = None,
    ):
        if point.srid is None:
            point = Point(point.x, point.y, srid=4326)
        if not category.is_active:
            raise InvalidInput("This category is no longer used.", field="category")
        where = locate(point)
        if source in SOURCES_NEEDING_VERIFICATION:
            stage = Stage.VERIFYING if where.covered else Stage.REPORTED
        elif self_handled:
            stage = Stage.SELF_HANDLED
        else:
            stage = Stage.REPORTED
        self.case = case = unsaved(
            Case,
            source=source,
            reporter=reporter,
            citizen_name=citizen_name,
            citizen_phone=citizen_phone,
            point=point,
            address=address,
            grid=where.grid,
            community=where.community,
            street=where.street,
            district=where.district,
            category=category,
            description=description,
            urgency=urgency,
            stage=stage,
        )
        if stage == Stage.VERIFYING:
            case.field_worker = case.field_worker_for_check()
        self.reporter = unsaved(
            CaseReporter,
            case=case,
            user=reporter,
            citizen_name=citizen_name,
            citizen_phone=citizen_phone,
            source=source,
            submission=submission,
        )
        self.photos = photos
        self.others: list = []
        self.events = [
            unsaved(
                CaseEvent,
                case=case,
                actor=reporter,
                action="report",
                from_stage="",
                to_stage=stage,
                payload={
                    "source": source,
                    "grid": where.grid.code if where.grid else None,
                    "photos": len(photos),
                    **({"self_handled": True} if self_handled else {}),
                },
            )
        ]

    def take(self, action: str, user, *, data: dict | None = None) -> CaseEvent:
        """The workflow's ``action`` on the unwritten case (``perform_on_new``)."""
        event = perform_on_new(self.case, action, user, data=data)
        self.events.append(event)
        return event

    def write_with(self, *rows) -> None:
        """Other new rows to write in the same statement (an API request's log line)."""
        self.others.extend(rows)

    def save(self) -> Case:
        """Write everything: on PostgreSQL the case, its reporter, events, clocks and
        escalation steps in one statement. Then the photos, and what follows a
        transition: the map's version, the feeds, routing once filed (after commit)."""
        case = self.case
        clocks, steps = clocks_of_new_case(case, self.events)
        insert_together([case, self.reporter, *self.events, *clocks, *steps, *self.others])
        save_photos(
            Context(case=case, user=self.reporter.user, reason="", data={}, photos=self.photos),
            Photo.Kind.BEFORE,
            required=False,
        )
        effects.after_new_case(case, self.events)
        return case


def _writing(report: dict):
    """How a new case is written: on PostgreSQL a case without photos takes one statement
    (``insert_together``), atomic by itself, so it needs no transaction of its own (two
    round trips fewer); elsewhere, or with photos (their files and rows follow the
    case), in a transaction. Inside the caller's transaction, in that one."""
    if connections[router.db_for_write(Case)].vendor == "postgresql" and not report.get("photos"):
        return nullcontext()
    return transaction.atomic()


@contextmanager
def new_case(*, rules_token: str | None = None, **report) -> Iterator[NewCase]:
    """Report a case (``NewCase``'s arguments): inside the block the caller may check it
    and take actions on it; it is written when the block ends. A block that raises
    writes no case (a number it took is not given back). The clock rules are read once
    for all of it, under ``rules_token`` when the request read it already (a new case
    holds no row lock that the token must be read under)."""
    from clocks.services import rules_read_once

    with _writing(report), rules_read_once(rules_token):
        new = NewCase(**report)
        yield new
        new.save()


def case_report(**report) -> Case:
    """Record a new report, placed in its unit grid, with its first event (``NewCase``)."""
    with new_case(**report) as new:
        pass
    return new.case


def duplicates_near(
    point: Point,
    category: Category,
    *,
    radius: float | None = None,
    days: int | None = None,
    exclude: Case | None = None,
) -> list[tuple[Case, float]]:
    """Open cases of the same category within ``radius`` metres reported in the last
    ``days`` days, nearest first with their distance in metres."""
    radius = settings.DUPLICATE_RADIUS_M if radius is None else radius
    days = settings.DUPLICATE_WINDOW_DAYS if days is None else days
    candidates = Case.objects.open().filter(
        category=category, reported_at__gte=timezone.now() - datetime.timedelta(days=days)
    )
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    return within_metres(candidates.select_related("category"), "point", point, radius)
