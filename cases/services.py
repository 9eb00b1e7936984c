"""Operations on cases that span models: reporting a case, numbering, deadlines,
duplicates. State changes of an existing case go through ``cases.workflow.perform``."""

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

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
from .workflow import Context, InvalidInput, PhotoUpload, save_photos


def next_case_number(category: Category, day: datetime.date) -> str:
    """C|E + major + minor + yyyymmdd + a 4-digit daily sequence, e.g. E0102202611230007.

    The counter row is incremented with an UPDATE, whose row lock is held until the
    filing transaction commits: two filings never get the same number.
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
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(CaseNumberCounter._meta.db_table)} SET {quote('last')} ="
            f" {quote('last')} + 1 WHERE {quote('prefix')} = %s AND {quote('day')} = %s"
            f" RETURNING {quote('last')}",
            [prefix, connection.ops.adapt_datefield_value(day)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


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


def case_report(
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
) -> Case:
    """Record a new report, placed in its unit grid, with its first event.

    Hotline and public reports wait for the grid worker's on-site verification; a grid
    worker's own report waits for filing; one the worker already fixed waits for audit.
    A point outside every grid is accepted and left for the dispatcher to triage: no grid
    worker covers it, so even a public report skips on-site verification and waits for
    filing (or refusal) at the dispatch desk.
    """
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
    # No savepoint of its own: a failure here fails the caller's transaction anyway.
    # Together: the new case's clocks come from its one event, with nothing to read.
    with transaction.atomic(savepoint=False), effects.together():
        case = Case(
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
        case.save()
        CaseReporter.objects.create(
            case=case,
            user=reporter,
            citizen_name=citizen_name,
            citizen_phone=citizen_phone,
            source=source,
        )
        save_photos(
            Context(case=case, user=reporter, reason="", data={}, photos=photos),
            Photo.Kind.BEFORE,
            required=False,
        )
        event = CaseEvent.objects.create(
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
        effects.after_transition(case, event)
    return case


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
