"""Business-time arithmetic on a working calendar.

A ``Calendar`` is read from a ``WorkingCalendar`` row: working periods per weekday in the
calendar's own time zone, national holidays and make-up working days (调休) when it follows
them, and its own closures. Periods are wall-clock times of that zone, so a working day
across a daylight-saving change is still 08:30-17:30 local time.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from .calendar_seed import STANDARD_PERIODS
from .models import CalendarDay, DepartmentPolicy, LimitUnit, WorkingCalendar

Period = tuple[datetime.time, datetime.time]


def parse_periods(raw: dict) -> dict[int, tuple[Period, ...]]:
    periods = {}
    for weekday in range(7):
        spans = []
        for start, end in raw.get(str(weekday), []):
            begin, finish = datetime.time.fromisoformat(start), datetime.time.fromisoformat(end)
            if finish <= begin:
                raise ValueError(f"Working period {start}-{end} ends before it starts.")
            spans.append((begin, finish))
        periods[weekday] = tuple(sorted(spans))
    return periods


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    periods: dict[int, tuple[Period, ...]]
    # date -> "holiday" | "workday" | "closure"
    exceptions: dict[datetime.date, str] = field(default_factory=dict)

    @classmethod
    def from_model(cls, calendar: WorkingCalendar) -> "Calendar":
        national = CalendarDay.objects.filter(calendar__isnull=True)
        if calendar.pk is None:
            days = national if calendar.follows_national else CalendarDay.objects.none()
        elif calendar.follows_national:
            days = CalendarDay.objects.filter(Q(calendar=calendar) | Q(calendar__isnull=True))
        else:
            days = CalendarDay.objects.filter(calendar=calendar)
        exceptions: dict[datetime.date, str] = {}
        # National rows first, then the calendar's own, which win.
        for day, kind, own in days.values_list("day", "kind", "calendar_id").order_by(
            "calendar_id"
        ):
            if own is None or own == calendar.pk:
                exceptions[day] = kind
        return cls(ZoneInfo(calendar.time_zone), parse_periods(calendar.periods), exceptions)

    def working_periods(self, day: datetime.date) -> tuple[Period, ...]:
        kind = self.exceptions.get(day)
        if kind in (CalendarDay.Kind.HOLIDAY, CalendarDay.Kind.CLOSURE):
            return ()
        if kind == CalendarDay.Kind.WORKDAY and not self.periods[day.weekday()]:
            # A make-up working day on a weekend keeps ordinary weekday hours.
            return next((p for p in self.periods.values() if p), ())
        return self.periods[day.weekday()]

    def is_working_day(self, day: datetime.date) -> bool:
        return bool(self.working_periods(day))

    def is_working_time(self, moment: datetime.datetime) -> bool:
        local = moment.astimezone(self.zone)
        return any(begin <= local.time() < end for begin, end in self.working_periods(local.date()))

    def _spans(self, start: datetime.datetime):
        """Working spans (aware, in the calendar's zone) from ``start`` on, in order."""
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(3 * 366):
            for begin, end in self.working_periods(day):
                span_start = max(datetime.datetime.combine(day, begin, self.zone), local)
                span_end = datetime.datetime.combine(day, end, self.zone)
                if span_start < span_end:
                    yield span_start, span_end
            day += datetime.timedelta(days=1)

    def add(self, start: datetime.datetime, amount: datetime.timedelta) -> datetime.datetime:
        """The moment ``amount`` of working time after ``start``."""
        return self.walk(start).add(amount)

    def walk(self, start: datetime.datetime) -> "Walk":
        """The working spans from ``start`` on, for adding several amounts to it."""
        return Walk(self._utc_spans(start))

    def _utc_spans(self, start: datetime.datetime):
        """``_spans`` as (start in UTC, working time): a span across a DST change is
        shorter or longer than its wall-clock length, and the real length is what counts."""
        for span_start, span_end in self._spans(start):
            begin = span_start.astimezone(datetime.UTC)
            yield begin, span_end.astimezone(datetime.UTC) - begin

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.timedelta:
        """Working time from ``start`` to ``end``."""
        total = datetime.timedelta()
        if end <= start:
            return total
        for span_start, span_end in self._spans(start):
            if span_start >= end:
                break
            total += min(span_end, end).astimezone(datetime.UTC) - span_start.astimezone(
                datetime.UTC
            )
        return total

    @property
    def day_length(self) -> datetime.timedelta:
        """A working day's length: that of the first weekday that has working periods."""
        periods = next((p for p in self.periods.values() if p), ())
        return sum(
            (
                datetime.datetime.combine(datetime.date.min, end)
                - datetime.datetime.combine(datetime.date.min, begin)
                for begin, end in periods
            ),
            datetime.timedelta(),
        )


class Walk:
    """Working spans from one start, laid out as far as the amounts added so far reach
    and kept: adding several amounts to the same start reads each span once."""

    def __init__(self, spans):
        self._spans = spans
        self._seen: list[tuple[datetime.datetime, datetime.timedelta]] = []

    def add(self, amount: datetime.timedelta) -> datetime.datetime:
        """The moment ``amount`` of working time after the start."""
        remaining = amount
        for begin, available in self._each():
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError("No working time within three years.")

    def _each(self):
        yield from self._seen
        for span in self._spans:
            self._seen.append(span)
            yield span


def calendar_for(department=None) -> Calendar:
    """The department's calendar, or the default one (``department``: a Department or its
    id)."""
    calendar = None
    if department is not None:
        policy = (
            DepartmentPolicy.objects.filter(department=department)
            .select_related("calendar")
            .first()
        )
        calendar = policy.calendar if policy else None
    if calendar is None:
        calendar = (
            WorkingCalendar.objects.filter(is_default=True).first()
            or WorkingCalendar.objects.first()
        )
    if calendar is None:
        # Every calendar was deleted: keep deadlines coming on the standard week.
        calendar = WorkingCalendar(time_zone=settings.TIME_ZONE, periods=STANDARD_PERIODS)
    return Calendar.from_model(calendar)


class DepartmentCalendars:
    """Each department's calendar (the default one for None or 0), read once per run: a
    recalculation of clocks, a batch of the escalation sweep, a roll-up run."""

    def __init__(self):
        self._found: dict[int | None, Calendar] = {}

    def __call__(self, department_id: int | None) -> Calendar:
        key = department_id or None
        if key not in self._found:
            self._found[key] = calendar_for(key)
        return self._found[key]


def limit_to_deadline(
    start: datetime.datetime, value: Decimal, unit: str, calendar: Calendar
) -> datetime.datetime:
    amount = float(value)
    if unit == LimitUnit.URGENT_HOURS:
        return start + datetime.timedelta(hours=amount)
    if unit == LimitUnit.CALENDAR_DAYS:
        return start + datetime.timedelta(days=amount)
    if unit == LimitUnit.WORKING_HOURS:
        return calendar.add(start, datetime.timedelta(hours=amount))
    if unit == LimitUnit.WORKING_DAYS:
        return calendar.add(start, calendar.day_length * amount)
    raise ValueError(f"Unknown limit unit {unit!r}")
