"""Clocks rebuilt from a case's events (never from a running counter).

``replay`` walks the events in order and returns, for every clock the case has had, the
intervals during which it ran and in which department's hands (a hold is a gap; a transfer
starts a new handling instance and splits the whole-case clock). ``measure`` then lays a
clock's intervals on the working calendars, with the limits as they are now: the time used
is counted on the calendar that applied while it was used, and what remains is projected
on the current one. Replaying again after a change of limit, calendar or department gives
the right answer, which a counter of paused time cannot (GLPI #6902).
"""

import datetime
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from cases.models import OPEN_STAGES, LimitUnit, Stage

from .models import ClockKind

ZERO = datetime.timedelta()

STAGE_CLOCK = {
    Stage.VERIFYING: ClockKind.VERIFY,
    Stage.REPORTED: ClockKind.FILE,
    Stage.FILED: ClockKind.DISPATCH,
    Stage.DISPATCHED: ClockKind.HANDLE,
    Stage.IN_PROGRESS: ClockKind.HANDLE,
    Stage.ON_HOLD: ClockKind.HANDLE,
    Stage.CHECKING: ClockKind.CHECK,
}
PAUSED_STAGES = {Stage.ON_HOLD}
# Clocks on the department's calendar; the others run on the centre's (default) calendar.
DEPARTMENT_CLOCKS = {ClockKind.HANDLE, ClockKind.CASE}


@dataclass
class Segment:
    start: datetime.datetime
    end: datetime.datetime | None
    department_id: int | None


@dataclass
class Replayed:
    kind: str
    seq: int
    started_at: datetime.datetime
    stopped_at: datetime.datetime | None = None
    segments: list[Segment] = field(default_factory=list)
    # Approved extensions, in hours of the clock's own time.
    extra_hours: Decimal = Decimal(0)
    department_id: int | None = None

    @property
    def running(self) -> bool:
        return bool(self.segments) and self.segments[-1].end is None

    @property
    def state(self) -> str:
        if self.stopped_at is not None:
            return "stopped"
        return "running" if self.running else "paused"

    def move(self, at: datetime.datetime, *, paused: bool, department_id: int | None) -> None:
        if self.kind not in DEPARTMENT_CLOCKS:
            department_id = None
        running = self.running
        if running and (paused or self.segments[-1].department_id != department_id):
            self.segments[-1].end = at
            running = False
        if not paused and not running:
            self.segments.append(Segment(at, None, department_id))
        self.department_id = department_id

    def stop(self, at: datetime.datetime) -> None:
        if self.running:
            self.segments[-1].end = at
        self.stopped_at = at


def replay(events: Iterable, filed_at: datetime.datetime | None = None) -> list[Replayed]:
    """Every clock of the case, from its events in order (``at``, ``id``)."""
    clocks: list[Replayed] = []
    counts: Counter = Counter()
    stage_clock: Replayed | None = None
    whole: Replayed | None = None
    department_id = None
    extension_hours: dict[int, str] = {}
    for event in events:
        at, payload = event.at, event.payload or {}
        if event.action == "dispatch":
            department_id = payload.get("department")
        elif event.action == "approve_return":
            department_id = None
        elif event.action == "request_extension":
            extension_hours[payload.get("request")] = payload.get("hours", "0")
        paused = event.to_stage in PAUSED_STAGES
        kind = STAGE_CLOCK.get(event.to_stage)

        if stage_clock is not None and stage_clock.kind != kind:
            stage_clock.stop(at)
            stage_clock = None
        if kind is not None and stage_clock is None:
            counts[kind] += 1
            stage_clock = Replayed(kind, counts[kind], at)
            clocks.append(stage_clock)
        if stage_clock is not None:
            stage_clock.move(at, paused=paused, department_id=department_id)

        if whole is None and event.action == "file":
            # The whole case runs from filing, the moment the filing effect stamped.
            whole = Replayed(ClockKind.CASE, 1, min(filed_at or at, at))
            clocks.append(whole)
            whole.move(whole.started_at, paused=paused, department_id=department_id)
        elif whole is not None and whole.stopped_at is None:
            if event.to_stage not in OPEN_STAGES:
                whole.stop(at)
            else:
                whole.move(at, paused=paused, department_id=department_id)

        if event.action == "approve_extension":
            hours = Decimal(
                str(payload.get("hours") or extension_hours.get(payload.get("request"), "0"))
            )
            for clock in (stage_clock, whole):
                if clock is not None and clock.stopped_at is None:
                    clock.extra_hours += hours
    return clocks


class WallTime:
    """Clock hours and calendar days: every moment counts."""

    def add(self, start: datetime.datetime, amount: datetime.timedelta) -> datetime.datetime:
        return start + amount

    def between(self, start: datetime.datetime, end: datetime.datetime) -> datetime.timedelta:
        return max(end - start, ZERO)

    def is_working_time(self, moment: datetime.datetime) -> bool:
        return True


WALL = WallTime()
WORKING_UNITS = {LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS}


def allowed_time(value: Decimal, unit: str, calendar, extra_hours: Decimal) -> datetime.timedelta:
    if unit == LimitUnit.WORKING_DAYS:
        base = calendar.day_length * float(value)
    elif unit == LimitUnit.CALENDAR_DAYS:
        base = datetime.timedelta(days=float(value))
    else:
        base = datetime.timedelta(hours=float(value))
    return base + datetime.timedelta(hours=float(extra_hours))


@dataclass
class Measured:
    allowed: datetime.timedelta
    used: datetime.timedelta
    running_since: datetime.datetime | None
    # The moment the clock's use reaches ``share`` of the time allowed; None when paused
    # before reaching it (a stopped clock is projected as if it had gone on running).
    moment: Callable[[float], datetime.datetime | None]


def measure(
    clock: Replayed, value: Decimal, unit: str, calendar_of: Callable[[int | None], object]
) -> Measured:
    """Lay the clock's intervals on the calendars; ``calendar_of(department_id)`` gives the
    calendar (wall time for clock hours and calendar days)."""
    if unit not in WORKING_UNITS:
        calendar_of = lambda department_id: WALL  # noqa: E731
    segments = list(clock.segments)
    stopped = clock.stopped_at is not None
    current = calendar_of(clock.department_id)
    allowed = allowed_time(value, unit, current, clock.extra_hours)
    lengths = [
        None if s.end is None else calendar_of(s.department_id).between(s.start, s.end)
        for s in segments
    ]
    used = sum((length for length in lengths if length is not None), ZERO)
    running_since = segments[-1].start if segments and segments[-1].end is None else None
    # A clock's moments (its deadline, its warning, each escalation step) are added from
    # the same start: its working spans are laid out once for all of them.
    walks: dict = {}

    def add(calendar, start: datetime.datetime, amount: datetime.timedelta):
        walk = getattr(calendar, "walk", None)
        if walk is None:
            return calendar.add(start, amount)
        key = (id(calendar), start)
        found = walks.get(key)
        if found is None:
            found = walks[key] = walk(start)
        return found.add(amount)

    def moment(share: float) -> datetime.datetime | None:
        target = allowed * share
        spent = ZERO
        for index, segment in enumerate(segments):
            calendar = calendar_of(segment.department_id)
            last = index == len(segments) - 1
            if segment.end is None or (stopped and last):
                return add(calendar, segment.start, target - spent)
            length = lengths[index]
            if spent + length >= target:
                return add(calendar, segment.start, target - spent)
            spent += length
        if stopped and not segments:
            return add(calendar_of(clock.department_id), clock.started_at, target)
        return None

    return Measured(allowed, used, running_since, moment)
