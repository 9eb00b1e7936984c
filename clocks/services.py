"""Clocks and escalation: keeping a case's clocks up to date inside its transitions,
recomputing open clocks after a calendar or limit change, and firing and delivering the
escalation steps that came due."""

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.clock import DepartmentCalendars
from cases.models import (
    OPEN_STAGES,
    WARN_SHARE,
    Case,
    CaseEvent,
    FilingCondition,
    Supervision,
    Urgency,
)
from governance.db import unsaved, update_rows, version_token
from maps.models import bump_version
from org.models import Department, Role, User

from .engine import measure, replay
from .models import (
    Clock,
    ClockKind,
    ClockStep,
    EscalationStep,
    Recalculation,
    RulesVersion,
    StageLimit,
)

log = logging.getLogger(__name__)


class Rules:
    """The stage limits and the active ladder, read once per recomputation."""

    def __init__(self):
        self.limits = {(s.stage, s.urgency): s for s in StageLimit.objects.all()}
        self.ladder = list(EscalationStep.objects.filter(is_active=True).order_by("level"))
        # Each category's active filing conditions, the first one first (filing).
        self.conditions: dict[int, list[FilingCondition]] = defaultdict(list)
        for condition in FilingCondition.objects.filter(is_active=True).order_by("id"):
            self.conditions[condition.category_id].append(condition)

    def limit(self, kind: str, case: Case):
        if kind in (ClockKind.HANDLE, ClockKind.CASE) and case.condition_id is not None:
            condition = case.condition
            return condition.limit_value, condition.limit_unit
        row = self.limits.get((kind, case.urgency)) or self.limits.get((kind, ""))
        return (row.limit_value, row.limit_unit) if row else None

    def steps_for(self, kind: str) -> list[EscalationStep]:
        return [step for step in self.ladder if step.clock_kind in ("", kind)]


_rules_in_memory: tuple[str, Rules, DepartmentCalendars] | None = None
# Inside ``rules_read_once``: the token to use (None: read it) and the rules read first.
_rules_of_block: ContextVar[dict | None] = ContextVar("clock_rules_of_block", default=None)


def current_rules() -> tuple[Rules, DepartmentCalendars]:
    """The stage limits, the ladder, the filing conditions and the departments'
    calendars, kept in this process for as long as the token of ``RulesVersion`` stays
    the one they were read under (one query instead of seven or eight per transition).
    Read the token inside the transaction that holds the case's row lock: a change
    committed before it is seen, and a recalculation asked by a later change waits for
    the lock and computes again. Inside ``rules_read_once`` the token is read once for
    the whole block (or given to it)."""
    global _rules_in_memory
    box = _rules_of_block.get()
    if box is not None and box["rules"] is not None:
        return box["rules"]
    token = box["token"] if box is not None and box["token"] is not None else None
    if token is None:
        token = version_token(RulesVersion)
    held = _rules_in_memory
    if held is None or held[0] != token:
        # Read after the token: rules newer than the token are kept under it at worst,
        # and replaced as soon as the token moves on.
        held = _rules_in_memory = (token, Rules(), DepartmentCalendars())
    if box is not None:
        box["rules"] = (held[1], held[2])
    return held[1], held[2]


@contextmanager
def rules_read_once(token: str | None = None) -> Iterator[None]:
    """One transaction's steps (filing a case as it is reported, say) share the rules
    read by the first of them: one token read, not one per step. Enter it inside the
    transaction; a nested block shares the outer one's rules. ``token``: the token read
    already in this request (``governance.db.request_tokens``), for a block that holds
    no case's row lock (a new case): then none is read."""
    if _rules_of_block.get() is not None:
        yield
        return
    reset = _rules_of_block.set({"token": token, "rules": None})
    try:
        yield
    finally:
        _rules_of_block.reset(reset)


def step_share(step: EscalationStep, allowed: datetime.timedelta) -> float:
    if step.percent is not None:
        return step.percent / 100
    if not allowed:
        return 1.0
    return 1 + datetime.timedelta(hours=float(step.offset_hours)) / allowed


def clocks_update(
    case: Case,
    *,
    rules: Rules | None = None,
    calendars: DepartmentCalendars | None = None,
    now=None,
) -> None:
    """Bring the case's clocks, their scheduled escalation steps and the case's deadline
    fields in line with its events. Call inside the transaction that holds the case's row
    lock (``workflow.perform`` does, through ``effects.after_transition``)."""
    clocks_update_many([case], rules=rules, calendars=calendars, now=now)


def clocks_update_many(
    cases: Sequence[Case],
    *,
    rules: Rules | None = None,
    calendars: DepartmentCalendars | None = None,
    now=None,
) -> None:
    """``clocks_update`` for several cases at once, each under its row lock: the events,
    clocks and steps of all of them are read in three queries and written in a few (a
    batch of routings costs about what one does). A case not written yet takes
    ``clocks_of_new_case``."""
    if not cases:
        return
    now = now or timezone.now()
    if rules is None or calendars is None:
        held_rules, held_calendars = current_rules()
        rules, calendars = rules or held_rules, calendars or held_calendars
    events = defaultdict(list)
    clocks = defaultdict(dict)
    steps = defaultdict(list)
    ids = [case.pk for case in cases]
    for event in (
        CaseEvent.objects.filter(case_id__in=ids)
        .order_by("case_id", "at", "id")
        .only("case", "at", "action", "to_stage", "payload")
    ):
        events[event.case_id].append(event)
    clock_ids = []
    for clock in Clock.objects.filter(case_id__in=ids):
        clocks[clock.case_id][(clock.kind, clock.seq)] = clock
        clock_ids.append(clock.pk)
    # By the clocks' ids, not by a join on the case: the plan cannot go wrong (with
    # stale statistics PostgreSQL chose to scan every step), and no clock, no query.
    if clock_ids:
        for row in ClockStep.objects.filter(clock_id__in=clock_ids).order_by("id"):
            steps[row.clock_id].append(row)
    writes = _ClockWrites()
    for case in cases:
        _measure_case(case, events[case.pk], clocks[case.pk], rules, calendars, writes)
    writes.save(steps, rules, now)
    changed = [case for case in cases if _case_fields_changed(case, clocks[case.pk].values())]
    if changed:
        update_rows(changed, CASE_CLOCK_FIELDS)


def clocks_of_new_case(
    case: Case, events: Sequence[CaseEvent], *, now=None
) -> tuple[list[Clock], list[ClockStep]]:
    """The clocks and scheduled escalation steps of a case not written yet (reported in
    this transaction), from its whole history in order, as ``clocks_update`` would write
    them; the case's deadline fields are set. Unsaved: the caller writes them with the
    case. Nothing is read but the rules (once inside ``rules_read_once``)."""
    now = now or timezone.now()
    rules, calendars = current_rules()
    writes = _ClockWrites()
    existing: dict = {}
    _measure_case(case, list(events), existing, rules, calendars, writes)
    steps: list[ClockStep] = []
    for clock, measured in writes.reconcile:
        _reconcile_steps(clock, [], measured, rules, now, [], steps)
    _case_fields_changed(case, existing.values())
    return writes.new_clocks, steps


def _measure_case(
    case: Case,
    history: list[CaseEvent],
    existing: dict,
    rules: Rules,
    calendars: DepartmentCalendars,
    writes: "_ClockWrites",
) -> None:
    """Measure the case's clocks from its events (in order): new clocks and changed ones
    go to ``writes``; ``existing``, the case's clocks by (kind, seq), gains the new ones."""
    for replayed in replay(history, filed_at=case.filed_at):
        row = existing.get((replayed.kind, replayed.seq))
        if row is not None and row.state == Clock.State.STOPPED:
            continue  # a closed clock keeps its snapshot
        limit = rules.limit(replayed.kind, case)
        if limit is None:
            continue
        measured = measure(replayed, *limit, calendars)
        values = {
            "department_id": replayed.department_id,
            "state": replayed.state,
            "limit_value": limit[0],
            "limit_unit": limit[1],
            "allowed": measured.allowed,
            "used": measured.used,
            "running_since": measured.running_since,
            "started_at": replayed.started_at,
            "stopped_at": replayed.stopped_at,
            "deadline": measured.moment(1.0),
            "warn_at": measured.moment(WARN_SHARE),
        }
        if row is None:
            row = unsaved(Clock, case=case, kind=replayed.kind, seq=replayed.seq, **values)
            existing[(row.kind, row.seq)] = row
            writes.new_clocks.append(row)
        else:
            moved = (row.deadline, row.state) != (values["deadline"], values["state"])
            if moved or any(getattr(row, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                if moved:
                    row.deadline_version += 1
                writes.changed_clocks.append(row)
        writes.reconcile.append((row, measured))


class _ClockWrites:
    """What a batch of clock updates writes, in as few statements as the rows allow."""

    def __init__(self):
        self.new_clocks: list[Clock] = []
        self.changed_clocks: list[Clock] = []
        self.reconcile: list[tuple[Clock, object]] = []

    def save(self, steps: dict[int, list[ClockStep]], rules: Rules, now) -> None:
        if self.new_clocks:
            Clock.objects.bulk_create(self.new_clocks)
        if self.changed_clocks:
            update_rows(self.changed_clocks, CLOCK_FIELDS)
        stale, new = [], []
        for clock, measured in self.reconcile:
            _reconcile_steps(clock, steps.get(clock.pk, []), measured, rules, now, stale, new)
        if stale:
            ClockStep.objects.filter(pk__in=stale).delete()
        if new:
            ClockStep.objects.bulk_create(new)


CLOCK_FIELDS = [
    "department",
    "state",
    "limit_value",
    "limit_unit",
    "allowed",
    "used",
    "running_since",
    "started_at",
    "stopped_at",
    "deadline",
    "warn_at",
    "deadline_version",
]
CASE_CLOCK_FIELDS = ["deadline", "warn_at", "due_at"]


def _reconcile_steps(
    clock: Clock,
    rows: list[ClockStep],
    measured,
    rules: Rules,
    now,
    stale: list[int],
    new: list[ClockStep],
) -> None:
    """Unfired steps of older deadline versions go; each applicable step gets a row for the
    current version: due at its moment, or, when an earlier version already fired it and
    the moment is still past, carried over as fired (a moved deadline does not repeat a
    warning that still holds, but a step whose moment moved into the future fires again
    when reached). Adds the ids to delete to ``stale`` and the rows to create to ``new``."""
    fired = {}
    for row in rows:
        if row.fired_at is not None:
            fired.setdefault(row.step_id, row)
    running = clock.state == Clock.State.RUNNING
    steps = {step.pk: step for step in rules.steps_for(clock.kind)} if running else {}
    stale.extend(
        row.pk
        for row in rows
        if row.fired_at is None
        and (row.deadline_version != clock.deadline_version or row.step_id not in steps)
    )
    current = {row.step_id: row for row in rows if row.deadline_version == clock.deadline_version}
    for step in steps.values():
        fire_at = measured.moment(step_share(step, measured.allowed))
        if fire_at is None:
            continue
        row = current.get(step.pk)
        if row is not None:
            if row.fired_at is None and row.fire_at != fire_at:
                ClockStep.objects.filter(pk=row.pk, fired_at__isnull=True).update(fire_at=fire_at)
            continue
        earlier = fired.get(step.pk)
        carried = {}
        if earlier is not None and fire_at <= now:
            carried = {
                "fired_at": earlier.fired_at,
                "notify_at": earlier.notify_at,
                "notified_at": earlier.notified_at or now,
            }
        new.append(
            unsaved(
                ClockStep,
                clock=clock,
                step=step,
                deadline_version=clock.deadline_version,
                fire_at=fire_at,
                **carried,
            )
        )


def _case_fields_changed(case: Case, clocks) -> bool:
    """Set the case's deadline fields from its clocks; whether they changed."""
    whole = next((c for c in clocks if c.kind == ClockKind.CASE), None)
    open_deadlines = [c.deadline for c in clocks if c.is_open and c.deadline is not None]
    fields = {
        "deadline": whole.deadline if whole else case.deadline,
        "warn_at": whole.warn_at if whole else None,
        "due_at": min(open_deadlines) if open_deadlines else None,
    }
    if all(getattr(case, key) == value for key, value in fields.items()):
        return False
    for key, value in fields.items():
        setattr(case, key, value)
    return True


def clocks_recompute(*, chunk: int = 500) -> int:
    """Recompute every case with an open clock (or filed and open without clocks yet),
    each under its row lock, in chunks; returns the number of cases recomputed."""
    last, done = 0, 0
    while True:
        last, count = clocks_recompute_chunk(after=last, size=chunk)
        done += count
        if last is None:
            return done


# Cases recomputed under one transaction: their events, clocks and steps are read and
# written together, 0.45-0.57 ms a case on the bench database against 3.8-4.4 ms one by one,
# so their row locks are held some 25 ms (an officer acting on one of them waits that long).
RECOMPUTE_BATCH = 50


def clocks_recompute_chunk(*, after: int, size: int) -> tuple[int | None, int]:
    """Recompute the next ``size`` open cases with an id above ``after``, under their row
    locks, RECOMPUTE_BATCH to a transaction, with the settings as they are now. Returns the
    last id reached (None when no open case is left above ``after``) and how many were
    recomputed."""
    rules, calendars = Rules(), DepartmentCalendars()
    ids = list(
        Case.objects.filter(pk__gt=after, stage__in=OPEN_STAGES)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return None, 0
    done = 0
    for start in range(0, len(ids), RECOMPUTE_BATCH):
        with transaction.atomic():
            cases = list(
                Case.objects.select_for_update(of=("self",))
                .select_related("condition")
                .filter(pk__in=ids[start : start + RECOMPUTE_BATCH], stage__in=OPEN_STAGES)
                .order_by("pk")  # locks taken in one order by every batch
            )
            clocks_update_many(cases, rules=rules, calendars=calendars)
            done += len(cases)
    return ids[-1], done


def request_recalculation() -> int:
    """Number a new recalculation of the open clocks; the sweeps of earlier numbers stop
    at their next chunk."""
    with transaction.atomic():
        Recalculation.objects.get_or_create(pk=1)
        row = Recalculation.objects.select_for_update().get(pk=1)
        row.requested += 1
        row.reached, row.moved_at, row.finished_at = 0, timezone.now(), None
        row.save()
        return row.requested


def recalculation_step(number: int, after: int, size: int) -> int | None:
    """One chunk of sweep ``number``, going on from case id ``after``: the id to continue
    after, or None when this sweep goes no further (it is done, a newer change asked for a
    sweep of its own, or another task of the same sweep already moved past ``after``)."""
    sweep = Recalculation.objects.filter(pk=1, requested=number, reached=after)
    if not sweep.filter(finished_at__isnull=True).exists():
        return None
    last, _count = clocks_recompute_chunk(after=after, size=size)
    now = timezone.now()
    moved = sweep.update(
        reached=last if last is not None else after,
        moved_at=now,
        finished_at=None if last is not None else now,
    )
    return last if moved else None


def stalled_recalculation(after: datetime.timedelta) -> tuple[int, int] | None:
    """(number, reached) of an unfinished sweep that has not moved for ``after``, or None."""
    return (
        Recalculation.objects.filter(
            pk=1, requested__gt=0, finished_at__isnull=True, moved_at__lt=timezone.now() - after
        )
        .values_list("requested", "reached")
        .first()
    )


# ---------------------------------------------------------------------------- escalation


def _system_user() -> User:
    from cases.routing import router

    return router()


def escalations_fire(*, now=None, batch: int | None = None, deliver: bool = True) -> int:
    """Fire every step that is due, in batches each in its own transaction; returns how many
    fired. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` together with their case's row
    (PostgreSQL; SQLite serialises writers), so sweeps running side by side share the work
    and never wait for, nor fire, the same row; a transition holding a case's lock simply
    leaves that case's steps to the next sweep. Each batch asks a worker to deliver its
    notifications, unless ``deliver`` is false (the caller delivers them itself)."""
    batch = batch or settings.ESCALATION_BATCH
    fired, after = 0, None
    while True:
        with transaction.atomic():
            count, after = _fire_batch(now or timezone.now(), batch, after, deliver)
        if count is None:
            break
        fired += count
    if fired:
        # The events went in with bulk SQL, which sends no signals: the case version that
        # open maps and lists poll is raised here, once for the whole sweep.
        bump_version()
    return fired


class _Due(NamedTuple):
    """A claimed step with what firing it reads of its clock and case."""

    pk: int
    clock_id: int
    step_id: int
    deadline_version: int
    fire_at: datetime.datetime
    kind: str
    state: str
    deadline: datetime.datetime | None
    clock_version: int
    department_id: int | None
    case_id: int
    stage: str = ""
    urgency: str = ""
    supervision: int = 0


_DUE_COLUMNS = (
    "pk", "clock_id", "step_id", "deadline_version", "fire_at", "clock__kind", "clock__state",
    "clock__deadline", "clock__deadline_version", "clock__department_id", "clock__case_id",
)  # fmt: skip

# The events of a batch in one statement on PostgreSQL: the rows as arrays of plain
# values, the step's name and payload filled in from the ladder's row (building and
# sending 1,000 payloads from Python was half of a sweep's time).
_RECORD_ESCALATIONS = """
INSERT INTO cases_caseevent (case_id, actor_id, at, action, from_stage, to_stage, reason, payload)
SELECT due.case_id, %(actor)s, %(now)s, 'escalate', due.stage, due.stage, step.name,
    jsonb_build_object('step', step.key, 'level', step.level, 'clock', due.clock_id,
        'clock_kind', due.kind, 'deadline_version', due.version, 'deadline', due.deadline,
        'scheduled', due.id)
FROM unnest(%(ids)s::bigint[], %(cases)s::bigint[], %(stages)s::text[], %(steps)s::bigint[],
        %(clocks)s::bigint[], %(kinds)s::text[], %(versions)s::integer[], %(deadlines)s::text[])
    WITH ORDINALITY AS due(id, case_id, stage, step_id, clock_id, kind, version, deadline, n)
JOIN clocks_escalationstep step ON step.id = due.step_id
ORDER BY due.n
"""


def _fire_batch(now, batch: int, after, deliver: bool) -> tuple[int | None, tuple | None]:
    due = ClockStep.objects.filter(fired_at__isnull=True, fire_at__lte=now)
    if after is not None:
        # Go on from the last row claimed: the index entries of rows fired by earlier
        # batches stay until vacuum, and rescanning them made every batch slower.
        due = due.filter(fire_at__gte=after[0]).exclude(fire_at=after[0], pk__lte=after[1])
    # Plain rows, not model instances (three per row): the sweep reads a few columns.
    claimed = [
        _Due(*row)
        for row in due.select_for_update(skip_locked=True, of=("self",))
        .order_by("fire_at", "id")
        .values_list(*_DUE_COLUMNS)[:batch]
    ]
    if not claimed:
        return None, after
    after = (claimed[-1].fire_at, claimed[-1].pk)
    # Their cases, locked too; the steps of a case a transition holds are left to the
    # next sweep.
    cases = {
        pk: rest
        for pk, *rest in Case.objects.select_for_update(skip_locked=True)
        .filter(pk__in={row.case_id for row in claimed})
        .values_list("pk", "stage", "urgency", "supervision")
    }
    claimed = [
        row._replace(stage=stage, urgency=urgency, supervision=supervision)
        for row in claimed
        if row.case_id in cases
        for stage, urgency, supervision in [cases[row.case_id]]
    ]
    steps = {step.pk: step for step in EscalationStep.objects.all()}
    live, stale = [], []
    for row in claimed:
        if (
            row.state == Clock.State.RUNNING
            and row.deadline_version == row.clock_version
            and row.stage in OPEN_STAGES
            and steps[row.step_id].is_active
        ):
            live.append(row)
        else:
            stale.append(row.pk)
    if stale:
        # Left behind by a change the recomputation has not reached yet.
        ClockStep.objects.filter(pk__in=stale, fired_at__isnull=True).delete()
    if not live:
        return 0, after
    system = _system_user()
    _record_escalations(live, steps, system, now)
    # Notifications of a working-hours-only step wait for the next working moment of the
    # calendar the clock runs on; the step itself is recorded now.
    by_notify_at = defaultdict(list)
    calendars = DepartmentCalendars()
    for row in live:
        step = steps[row.step_id]
        notify_at = now
        if step.working_hours_only:
            notify_at = calendars(row.department_id).add(now, datetime.timedelta())
        by_notify_at[notify_at].append(row.pk)
    for notify_at, ids in by_notify_at.items():
        ClockStep.objects.filter(pk__in=ids).update(fired_at=now, notify_at=notify_at)

    # The case rows are left alone (rewriting 10,000 of them was most of a sweep's time):
    # a case's escalation level is read from its fired steps (``escalation_levels``).
    urgent, supervise = set(), {}
    for row in live:
        step = steps[row.step_id]
        if step.raise_urgency and row.urgency != Urgency.URGENT:
            urgent.add(row.case_id)
        if step.supervision > max(row.supervision, supervise.get(row.case_id, 0)):
            supervise[row.case_id] = step.supervision
    if urgent:
        Case.objects.filter(pk__in=urgent).update(urgency=Urgency.URGENT)
    for case_id, level in supervise.items():
        _supervise(case_id, level, system, now)
    if deliver:
        transaction.on_commit(_enqueue_delivery, robust=True)
    return len(live), after


def _record_escalations(live: list[_Due], steps: dict, system: User, now) -> None:
    """One "escalate" event per fired step, on its case: who (the system), the step, its
    clock and the deadline it was measured against."""
    deadlines = [row.deadline.isoformat() if row.deadline else None for row in live]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_ESCALATIONS,
                {
                    "actor": system.pk,
                    "now": now,
                    "ids": [row.pk for row in live],
                    "cases": [row.case_id for row in live],
                    "stages": [row.stage for row in live],
                    "steps": [row.step_id for row in live],
                    "clocks": [row.clock_id for row in live],
                    "kinds": [row.kind for row in live],
                    "versions": [row.deadline_version for row in live],
                    "deadlines": deadlines,
                },
            )
        return
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=row.case_id,
                actor=system,
                at=now,
                action="escalate",
                from_stage=row.stage,
                to_stage=row.stage,
                reason=steps[row.step_id].name,
                payload={
                    "step": steps[row.step_id].key,
                    "level": steps[row.step_id].level,
                    "clock": row.clock_id,
                    "clock_kind": row.kind,
                    "deadline_version": row.deadline_version,
                    "deadline": deadline,
                    "scheduled": row.pk,
                },
            )
            for row, deadline in zip(live, deadlines, strict=True)
        ],
        batch_size=2000,
    )


def _supervise(case_id: int, level: int, system: User, now) -> None:
    """A supervision order through the workflow, as the system account, at the sweep's
    moment."""
    from cases.workflow import TransitionError, perform

    try:
        perform(
            case_id,
            "supervise",
            system,
            reason=_("Automatic escalation: %(level)s") % {"level": Supervision(level).label},
            data={"level": level},
            at=now,
        )
    except TransitionError as error:
        log.info("No supervision order for case %s: %s", case_id, error.message)


def _enqueue_delivery() -> None:
    from .tasks import deliver_escalations

    try:
        deliver_escalations.delay()
    except Exception:  # noqa: BLE001 - the next sweep delivers what is left
        log.warning("Could not enqueue escalation notifications.", exc_info=True)


# ---------------------------------------------------------------------------- recipients


def command_centre() -> Department | None:
    return (
        Department.objects.filter(kind=Department.Kind.COMMAND_CENTRE, is_active=True)
        .order_by("parent_id", "pk")
        .first()
    )


def street_office(case: Case) -> Department | None:
    """The street office of the case's street (departments ``street-<street code>``)."""
    if case.street_id is None:
        return None
    return Department.objects.filter(
        kind=Department.Kind.STREET_OFFICE, code=f"street-{case.street.code}", is_active=True
    ).first()


def head_of(department: Department | None) -> list[User]:
    """The department's head, or the nearest head up the tree."""
    chain = [department, *department.ancestors()] if department else []
    for node in chain:
        if node.head_id:
            return [node.head]
    return []


def heads_and_supervisors(department: Department | None) -> list[User]:
    if department is None:
        return []
    supervisors = User.objects.filter(
        memberships__department=department, role_grants__role=Role.SUPERVISOR
    )
    return [*head_of(department), *supervisors]


def recipients(step: EscalationStep, clock: Clock) -> list[User]:
    """Whom a step tells, resolved from the organisation as it is when the step fires."""
    case = clock.case
    people: list[User] = []
    if step.notify_assignee:
        if clock.kind in (ClockKind.VERIFY, ClockKind.CHECK):
            people += [case.field_worker] if case.field_worker_id else []
        elif clock.kind in (ClockKind.FILE, ClockKind.DISPATCH) or case.department_id is None:
            people += User.objects.filter(role_grants__role=Role.DISPATCHER)
        elif case.assignee_id:
            people.append(case.assignee)
        else:
            people += User.objects.filter(
                memberships__department=case.department_id, role_grants__role=Role.OFFICER
            )
    if step.notify_head:
        people += head_of(
            case.department if clock.kind in (ClockKind.HANDLE, ClockKind.CASE) else None
        ) or head_of(command_centre())
    if step.notify_street:
        people += heads_and_supervisors(street_office(case) or command_centre())
    if step.notify_centre:
        people += heads_and_supervisors(command_centre())
    unique = {}
    for person in people:
        if person is not None and person.is_active and not person.has_role(Role.SYSTEM):
            unique.setdefault(person.pk, person)
    return list(unique.values())


def escalations_deliver(*, batch: int = 200) -> int:
    """Send the notifications of fired steps, once each (a row is marked delivered in the
    transaction that creates its notifications, and each notification carries a dedup
    key, so a delivery cut short and run again sends nothing twice)."""
    from notifications.services import notify
    from notifications.wording import worded

    delivered = 0
    while True:
        with transaction.atomic():
            rows = list(
                ClockStep.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(fired_at__isnull=False, notified_at__isnull=True)
                .select_related(
                    "step",
                    "clock__case__department",
                    "clock__case__assignee",
                    "clock__case__field_worker",
                    "clock__case__street",
                )
                .order_by("fired_at", "id")[:batch]
            )
            if not rows:
                return delivered
            for row in rows:
                case = row.clock.case
                values = {
                    "step": row.step.name,
                    "step_en": row.step.name_en,
                    "case": case.reference,
                    "clock_kind": row.clock.kind,
                    "deadline": timezone.localtime(row.clock.deadline).strftime("%Y-%m-%d %H:%M")
                    if row.clock.deadline
                    else "-",
                }
                title, body = worded("escalation", values)
                notify(
                    recipients(row.step, row.clock),
                    kind=f"escalation_{row.step.key}",
                    title=title,
                    body=body,
                    case=case,
                    url=reverse("cases:detail", args=[case.pk]),
                    dedup_key=f"escalation:{row.clock_id}:{row.step_id}:{row.deadline_version}",
                    not_before=row.notify_at
                    if row.notify_at and row.notify_at > row.fired_at
                    else None,
                    wording=("escalation", values),
                )
            ClockStep.objects.filter(pk__in=[row.pk for row in rows]).update(
                notified_at=timezone.now()
            )
            delivered += len(rows)


# ---------------------------------------------------------------------------- pages


def clock_light(used: datetime.timedelta, allowed: datetime.timedelta) -> str:
    if not allowed or used > allowed:
        return "red"
    return "yellow" if used >= allowed * WARN_SHARE else "green"


def case_clocks(case: Case, now=None) -> list[dict]:
    """Each clock of the case with its light and the time used so far, for the case page."""
    from .engine import WALL, WORKING_UNITS

    now = now or timezone.now()
    calendars = DepartmentCalendars()
    rows = []
    clocks = sorted(
        case.clocks.select_related("department"),
        key=lambda c: (c.kind != ClockKind.CASE, c.started_at, c.pk),
    )
    for clock in clocks:
        used = clock.used
        if clock.state == Clock.State.RUNNING and clock.running_since:
            working = clock.limit_unit in WORKING_UNITS
            calendar = calendars(clock.department_id) if working else WALL
            used += calendar.between(clock.running_since, now)
        rows.append(
            {
                "clock": clock,
                "light": clock_light(used, clock.allowed) if clock.is_open else None,
                "met": used <= clock.allowed,
                "used_hours": used.total_seconds() / 3600,
                "allowed_hours": clock.allowed.total_seconds() / 3600,
                "percent": round(100 * used / clock.allowed) if clock.allowed else None,
            }
        )
    return rows


def escalation_levels(case_ids=None) -> dict[int, int]:
    """Open cases' escalation level: the highest step fired for their clocks' current
    deadlines (a step fired before an extension no longer counts once the new deadline
    has not reached it)."""
    fired = ClockStep.objects.filter(
        fired_at__isnull=False,
        deadline_version=F("clock__deadline_version"),
        clock__case__stage__in=OPEN_STAGES,
    )
    if case_ids is not None:
        fired = fired.filter(clock__case__in=case_ids)
    return dict(fired.values_list("clock__case").order_by().annotate(level=Max("step__level")))


def overview_sections(cases, *, limit: int = 100, now=None) -> list[dict]:
    """Open cases by escalation level, highest first, then overdue ones the ladder has not
    reached yet; ``cases`` is what the person may see."""
    now = now or timezone.now()
    open_cases = cases.open().with_light(now)
    levels = escalation_levels()
    by_level = defaultdict(list)
    for case_id, level in levels.items():
        by_level[level].append(case_id)
    sections = []
    for step in EscalationStep.objects.order_by("-level"):
        chosen = open_cases.filter(pk__in=by_level.get(step.level, []))
        sections.append({"step": step, "cases": chosen, "key": step.key})
    sections.append(
        {
            "step": None,
            "key": "overdue",
            "cases": open_cases.filter(deadline__lt=now).exclude(pk__in=list(levels)),
        }
    )
    for section in sections:
        section["count"] = section["cases"].count()
        section["cases"] = (
            section["cases"]
            .select_related("category", "department", "grid", "community")
            .defer("description", "point", "grid__boundary", "community__boundary")
            .order_by("due_at", "pk")[:limit]
        )
    return sections
