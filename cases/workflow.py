"""The closed loop as a table of transitions, and the one function that performs them.

Each ``Transition`` says from which stages an action may be taken, into which stage it
leads, which roles may take it, on which cases (scope), under which condition (guard), what
input it needs and what else it changes (effect). ``perform`` executes one in a single
transaction: it locks the case, checks all of that, writes the immutable ``CaseEvent``,
saves the case and enqueues side effects on commit. The case page's buttons, the API's
"allowed actions" and the tests all read this table.
"""

import datetime
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from governance.db import unsaved, update_rows
from org.models import Department, Role

from .models import (
    OPEN_STAGES,
    Case,
    CaseEvent,
    CaseReporter,
    CaseRequest,
    Photo,
    Source,
    Stage,
    Supervision,
)


class TransitionError(Exception):
    """An action that cannot be taken, with a message for the person who tried."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotAllowed(TransitionError):
    pass


class CaseChanged(TransitionError):
    pass


class InvalidInput(TransitionError):
    pass


@dataclass(frozen=True)
class PhotoUpload:
    """A photo already checked, oriented and stripped of metadata (see cases.photos)."""

    content: bytes
    width: int
    height: int
    exif_point: object = None
    taken_at: datetime.datetime | None = None


class Batch:
    """What the transitions of one transaction share (``perform`` takes one, and
    ``perform_many`` many): rows read once, and the officer chooser, whose moved pointers
    are written when the batch is saved."""

    def __init__(self, dispatches: dict[int, int] | None = None, routing=None):
        self._found: dict = {}
        self._assigner = None
        # Cases per department this batch expects to dispatch (the chooser claims as
        # many turns at once).
        self.dispatches = dispatches or {}
        # A routing task's rows kept in memory (``routing.Held``): the departments, and
        # their policies and officers for the chooser.
        self.routing = routing
        if routing is not None:
            self._found.update(
                (("department", pk), department) for pk, department in routing.departments.items()
            )

    def once(self, key, read: Callable[[], object]):
        if key not in self._found:
            self._found[key] = read()
        return self._found[key]

    @property
    def assigner(self):
        if self._assigner is None:
            from .routing import Assigner

            self._assigner = Assigner(expected=dict(self.dispatches), held=self.routing)
        return self._assigner

    def save(self) -> None:
        if self._assigner is not None:
            self._assigner.save()


@dataclass
class Context:
    case: Case
    user: object
    reason: str
    data: dict
    photos: Sequence[PhotoUpload]
    payload: dict = field(default_factory=dict)
    target: str | None = None
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    batch: Batch = field(default_factory=Batch)


# ---------------------------------------------------------------------------- scopes


def anyone(case: Case, user) -> bool:
    return True


def in_department(case: Case, user) -> bool:
    return case.department_id is not None and case.department_id in user.department_ids


def on_site(case: Case, user) -> bool:
    """The grid worker asked to go, or any worker covering the case's grid today."""
    if case.field_worker_id == user.pk:
        return True
    if case.grid_id is None:
        return False
    from grids.models import UnitGrid

    return UnitGrid.objects.covered_by(user).filter(pk=case.grid_id).exists()


# ---------------------------------------------------------------------------- guards


def pending_kinds(case: Case) -> frozenset[str]:
    """Kinds of the case's pending requests, read once per case instance: the page asks
    every transition's guard, and each would otherwise query again."""
    if not hasattr(case, "_pending_kinds"):
        case._pending_kinds = frozenset(
            case.requests.filter(status=CaseRequest.Status.PENDING).values_list("kind", flat=True)
        )
    return case._pending_kinds


def pending(kind: str) -> Callable[[Case, object], str | None]:
    def guard(case: Case, user) -> str | None:
        if kind not in pending_kinds(case):
            return str(_("There is no pending request to decide."))
        return None

    return guard


def none_pending(kind: str) -> Callable[[Case, object], str | None]:
    def guard(case: Case, user) -> str | None:
        if kind in pending_kinds(case):
            return str(_("A request of this kind is already waiting for a decision."))
        return None

    return guard


def no_guard(case: Case, user) -> None:
    return None


# ---------------------------------------------------------------------------- effects


def save_photos(ctx: Context, kind: str, *, required: bool) -> None:
    if required and not ctx.photos:
        raise InvalidInput(_("Add at least one photo."), field="photos")
    from django.core.files.base import ContentFile

    for index, upload in enumerate(ctx.photos):
        photo = Photo(
            case=ctx.case,
            kind=kind,
            width=upload.width,
            height=upload.height,
            exif_point=upload.exif_point,
            taken_at=upload.taken_at,
            uploaded_by=ctx.user,
        )
        photo.image.save(
            f"{ctx.case.pk}-{kind}-{index}.jpg", ContentFile(upload.content), save=False
        )
        photo.save()
    if ctx.photos:
        ctx.payload["photos"] = len(ctx.photos)


def confirm_verified(ctx: Context) -> None:
    save_photos(ctx, Photo.Kind.CHECK, required=False)
    ctx.case.field_worker = None


def file_case(ctx: Context) -> None:
    from clocks.services import current_rules

    from .services import case_deadline, next_case_number

    case = ctx.case
    condition_id = ctx.data.get("condition")
    # The conditions' limits set the deadline: they are kept with the clocks' rules.
    conditions = current_rules()[0].conditions.get(case.category_id, [])
    if condition_id:
        condition = next((c for c in conditions if str(c.pk) == str(condition_id)), None)
        if condition is None:
            raise InvalidInput(
                _("Choose a filing condition of this case's category."), field="condition"
            )
    else:
        condition = conditions[0] if conditions else None
        if condition is None:
            raise InvalidInput(
                _("This category has no filing condition: an administrator must add one."),
                field="condition",
            )
    now = timezone.now()
    case.condition = condition
    case.filed_at = now
    case.number = next_case_number(case.category, timezone.localdate(now))
    case.deadline = case_deadline(condition, now)
    # Routing runs after commit, in a task; until it has, the row says so.
    case.needs_routing = True
    ctx.payload.update(
        number=case.number, condition=condition.pk, deadline=case.deadline.isoformat()
    )


def dispatch_case(ctx: Context) -> None:
    department_id = ctx.data.get("department")
    department = (
        ctx.batch.once(
            ("department", department_id),
            lambda: Department.objects.filter(pk=department_id, is_active=True).first(),
        )
        if department_id
        else None
    )
    if department is None:
        raise InvalidInput(_("Choose the department that owns this problem."), field="department")
    ctx.case.department = department
    ctx.case.assignee = ctx.batch.assigner.choose(department)
    ctx.case.needs_routing = False
    ctx.case.routing_rule_id = ctx.data.get("rule")
    ctx.payload.update(
        department=department.pk,
        assignee=ctx.case.assignee_id,
        **{key: ctx.data[key] for key in ("rule", "trace") if ctx.data.get(key) is not None},
    )


def no_route(ctx: Context) -> None:
    ctx.case.needs_routing = False
    ctx.payload["trace"] = ctx.data.get("trace", [])


def accept_case(ctx: Context) -> None:
    ctx.case.assignee = ctx.user


def report_done(ctx: Context) -> None:
    save_photos(ctx, Photo.Kind.AFTER, required=True)
    ctx.case.field_worker = ctx.case.field_worker_for_check()


def check_pass(ctx: Context) -> None:
    save_photos(ctx, Photo.Kind.CHECK, required=True)
    ctx.case.closed_at = timezone.now()
    ctx.case.field_worker = None


def check_fail(ctx: Context) -> None:
    save_photos(ctx, Photo.Kind.CHECK, required=True)
    # Rework goes back to the same department, which must accept it again.
    ctx.case.rework_count = F("rework_count") + 1
    ctx.case.field_worker = None


def open_request(kind: str) -> Callable[[Context], None]:
    def effect(ctx: Context) -> None:
        payload = {}
        if kind == CaseRequest.Kind.EXTENSION:
            try:
                hours = Decimal(str(ctx.data.get("hours", "")))
            except ArithmeticError:
                hours = Decimal(0)
            if not Decimal(0) < hours <= Decimal(2000):
                raise InvalidInput(_("Give the extra time in hours, more than 0."), field="hours")
            payload["hours"] = str(hours)
        request = CaseRequest.objects.create(
            case=ctx.case, kind=kind, reason=ctx.reason, payload=payload, requested_by=ctx.user
        )
        ctx.payload.update(request=request.pk, **payload)

    return effect


def decide_request(
    kind: str, approve: bool, then: Callable[[Context, CaseRequest], None] | None = None
):
    def effect(ctx: Context) -> None:
        request = ctx.case.requests.select_for_update().get(
            kind=kind, status=CaseRequest.Status.PENDING
        )
        request.status = CaseRequest.Status.APPROVED if approve else CaseRequest.Status.REJECTED
        request.decided_by = ctx.user
        request.decided_at = timezone.now()
        request.decision_note = ctx.reason
        request.save()
        ctx.payload["request"] = request.pk
        if approve and then is not None:
            then(ctx, request)

    return effect


def apply_return(ctx: Context, request: CaseRequest) -> None:
    ctx.payload["department"] = ctx.case.department_id
    ctx.case.department = None
    ctx.case.assignee = None
    ctx.case.return_count = F("return_count") + 1


def apply_extension(ctx: Context, request: CaseRequest) -> None:
    from .services import extend_deadline

    old = ctx.case.deadline
    ctx.case.deadline = extend_deadline(ctx.case, Decimal(request.payload["hours"]))
    ctx.payload.update(
        hours=request.payload["hours"],
        old_deadline=old.isoformat() if old else None,
        deadline=ctx.case.deadline.isoformat(),
    )


def apply_void(ctx: Context, request: CaseRequest) -> None:
    ctx.case.closed_at = timezone.now()
    ctx.case.field_worker = None


def archive_self_handled(ctx: Context) -> None:
    ctx.case.closed_at = timezone.now()


def supervise(ctx: Context) -> None:
    try:
        level = Supervision(int(ctx.data.get("level", 0)))
    except ValueError:
        level = Supervision.NONE
    if level == Supervision.NONE:
        raise InvalidInput(_("Choose a supervision level."), field="level")
    ctx.payload.update(old_level=ctx.case.supervision, level=int(level))
    ctx.case.supervision = level


def join_case(ctx: Context) -> None:
    """Another report of the same problem: a grid worker's own, or a call the centre
    registers for a citizen (their name and phone kept as the first report's are, never in
    the event). ``submission``: the report form's key, so that the form sent again leads
    to this case (``CaseQuerySet.submitted``)."""
    citizen_name = (ctx.data.get("citizen_name") or "").strip()
    citizen_phone = (ctx.data.get("citizen_phone") or "").strip()
    if not (citizen_name or citizen_phone) and ctx.case.reporters.filter(user=ctx.user).exists():
        raise NotAllowed(_("You already reported this case."))
    source = ctx.data.get("source") or Source.PATROL
    CaseReporter.objects.create(
        case=ctx.case,
        user=ctx.user,
        citizen_name=citizen_name,
        citizen_phone=citizen_phone,
        source=source,
        submission=ctx.data.get("submission"),
    )
    ctx.payload["source"] = source
    save_photos(ctx, Photo.Kind.BEFORE, required=False)


def merge_case(ctx: Context) -> None:
    target = (
        Case.objects.select_for_update()
        .filter(pk=ctx.data.get("into"), stage__in=OPEN_STAGES)
        .exclude(pk=ctx.case.pk)
        .first()
    )
    if target is None:
        raise InvalidInput(_("Choose an open case to merge this one into."), field="into")
    moved = 0
    for reporter in ctx.case.reporters.all():
        CaseReporter.objects.create(
            case=target,
            user=reporter.user,
            citizen_name=reporter.citizen_name,
            citizen_phone=reporter.citizen_phone,
            source=reporter.source,
            original_case=ctx.case,
        )
        moved += 1
    ctx.case.merged_into = target
    ctx.case.closed_at = timezone.now()
    ctx.payload.update(into=target.pk, reporters=moved)
    CaseEvent.objects.create(
        case=target,
        actor=ctx.user,
        action="absorb",
        from_stage=target.stage,
        to_stage=target.stage,
        reason=ctx.reason,
        payload={"case": ctx.case.pk, "reporters": moved},
    )
    Case.objects.filter(pk=target.pk).update(version=F("version") + 1)


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    scope: Callable[[Case, object], bool] = anyone
    guard: Callable[[Case, object], str | None] = no_guard
    effect: Callable[[Context], None] | None = None
    needs_reason: bool = False
    # What the form asks for besides a reason: "photos", "condition", "department", ...
    inputs: tuple[str, ...] = ()
    danger: bool = False


def T(action, label, sources, target, roles, **kwargs) -> Transition:
    return Transition(action, label, frozenset(sources), target, frozenset(roles), **kwargs)


CENTRE = (Role.DISPATCHER, Role.SHIFT_LEADER)
HANDLING = (Stage.DISPATCHED, Stage.IN_PROGRESS)
FILED_OPEN = (Stage.FILED, Stage.DISPATCHED, Stage.IN_PROGRESS, Stage.ON_HOLD, Stage.CHECKING)

TRANSITIONS: list[Transition] = [
    # Verification of public and hotline reports (核实).
    T(
        "verify_confirm",
        _("Confirm on site"),
        [Stage.VERIFYING],
        Stage.REPORTED,
        [Role.GRID_WORKER],
        scope=on_site,
        effect=confirm_verified,
        inputs=("photos",),
    ),
    T(
        "verify_reject",
        _("Not found on site"),
        [Stage.VERIFYING],
        Stage.NOT_ACCEPTED,
        [Role.GRID_WORKER],
        scope=on_site,
        needs_reason=True,
        danger=True,
    ),
    # Filing (立案) and dispatch (派遣).
    T(
        "file",
        _("File"),
        [Stage.REPORTED],
        Stage.FILED,
        CENTRE,
        effect=file_case,
        inputs=("condition",),
    ),
    T(
        "not_accept",
        _("Do not accept"),
        [Stage.REPORTED],
        Stage.NOT_ACCEPTED,
        CENTRE,
        needs_reason=True,
        danger=True,
    ),
    T(
        "dispatch",
        _("Dispatch"),
        [Stage.FILED],
        Stage.DISPATCHED,
        [Role.DISPATCHER, Role.SYSTEM],
        effect=dispatch_case,
        inputs=("department",),
    ),
    # Routing found no rule: the case stays in the dispatchers' queue. Only routing says so.
    T(
        "route_none",
        _("No routing rule matched"),
        [Stage.FILED],
        None,
        [Role.SYSTEM],
        effect=no_route,
    ),
    T(
        "merge",
        _("Merge into another case"),
        [Stage.VERIFYING, Stage.REPORTED, Stage.FILED],
        Stage.MERGED,
        CENTRE,
        effect=merge_case,
        needs_reason=True,
        inputs=("into",),
    ),
    # Handling (处置) and feedback (反馈).
    T(
        "accept",
        _("Accept"),
        [Stage.DISPATCHED],
        Stage.IN_PROGRESS,
        [Role.OFFICER],
        scope=in_department,
        effect=accept_case,
    ),
    T(
        "report_done",
        _("Report done"),
        [Stage.IN_PROGRESS],
        Stage.CHECKING,
        [Role.OFFICER],
        scope=in_department,
        effect=report_done,
        inputs=("photos",),
    ),
    # On-site check (核查) and closing (结案), or rework (返工) to the same department.
    T(
        "check_pass",
        _("Fixed: close"),
        [Stage.CHECKING],
        Stage.CLOSED,
        [Role.GRID_WORKER],
        scope=on_site,
        effect=check_pass,
        inputs=("photos",),
    ),
    T(
        "check_fail",
        _("Not fixed: rework"),
        [Stage.CHECKING],
        Stage.DISPATCHED,
        [Role.GRID_WORKER],
        scope=on_site,
        effect=check_fail,
        needs_reason=True,
        inputs=("photos",),
        danger=True,
    ),
    # Return to the dispatcher as the wrong department (回退).
    T(
        "request_return",
        _("Ask to return: wrong department"),
        HANDLING,
        None,
        [Role.OFFICER],
        scope=in_department,
        guard=none_pending("return"),
        effect=open_request("return"),
        needs_reason=True,
    ),
    T(
        "approve_return",
        _("Approve the return"),
        HANDLING,
        Stage.FILED,
        [Role.DISPATCHER],
        guard=pending("return"),
        effect=decide_request("return", True, apply_return),
    ),
    T(
        "reject_return",
        _("Refuse the return"),
        HANDLING,
        None,
        [Role.DISPATCHER],
        guard=pending("return"),
        effect=decide_request("return", False),
        needs_reason=True,
    ),
    # Deadline extension (延期).
    T(
        "request_extension",
        _("Ask for more time"),
        HANDLING,
        None,
        [Role.OFFICER],
        scope=in_department,
        guard=none_pending("extension"),
        effect=open_request("extension"),
        needs_reason=True,
        inputs=("hours",),
    ),
    T(
        "approve_extension",
        _("Approve the extension"),
        HANDLING,
        None,
        [Role.DISPATCHER],
        guard=pending("extension"),
        effect=decide_request("extension", True, apply_extension),
    ),
    T(
        "reject_extension",
        _("Refuse the extension"),
        HANDLING,
        None,
        [Role.DISPATCHER],
        guard=pending("extension"),
        effect=decide_request("extension", False),
        needs_reason=True,
    ),
    # Hold (挂账): the clock stops until the case is resumed.
    T(
        "request_hold",
        _("Ask to put on hold"),
        [Stage.IN_PROGRESS],
        None,
        [Role.OFFICER],
        scope=in_department,
        guard=none_pending("hold"),
        effect=open_request("hold"),
        needs_reason=True,
    ),
    T(
        "approve_hold",
        _("Approve the hold"),
        [Stage.IN_PROGRESS],
        Stage.ON_HOLD,
        [Role.DISPATCHER],
        guard=pending("hold"),
        effect=decide_request("hold", True),
    ),
    T(
        "reject_hold",
        _("Refuse the hold"),
        [Stage.IN_PROGRESS],
        None,
        [Role.DISPATCHER],
        guard=pending("hold"),
        effect=decide_request("hold", False),
        needs_reason=True,
    ),
    T(
        "resume",
        _("Resume"),
        [Stage.ON_HOLD],
        Stage.IN_PROGRESS,
        [Role.DISPATCHER],
        needs_reason=True,
    ),
    # Void (作废): asked by the centre or the department, approved by the shift leader.
    T(
        "request_void",
        _("Ask to void"),
        [Stage.REPORTED, *FILED_OPEN],
        None,
        [Role.DISPATCHER, Role.OFFICER],
        scope=lambda case, user: user.has_role(Role.DISPATCHER) or in_department(case, user),
        guard=none_pending("void"),
        effect=open_request("void"),
        needs_reason=True,
        danger=True,
    ),
    T(
        "approve_void",
        _("Approve voiding"),
        [Stage.REPORTED, *FILED_OPEN],
        Stage.VOIDED,
        [Role.SHIFT_LEADER],
        guard=pending("void"),
        effect=decide_request("void", True, apply_void),
        danger=True,
    ),
    T(
        "reject_void",
        _("Refuse voiding"),
        [Stage.REPORTED, *FILED_OPEN],
        None,
        [Role.SHIFT_LEADER],
        guard=pending("void"),
        effect=decide_request("void", False),
        needs_reason=True,
    ),
    # Self-handled by the grid worker (自处置), audited by the centre.
    T(
        "approve_self",
        _("Archive as self-handled"),
        [Stage.SELF_HANDLED],
        Stage.ARCHIVED,
        CENTRE,
        effect=archive_self_handled,
    ),
    T(
        "invalidate_self",
        _("Mark invalid"),
        [Stage.SELF_HANDLED],
        Stage.INVALID,
        CENTRE,
        effect=archive_self_handled,
        needs_reason=True,
        danger=True,
    ),
    # Supervision order (督办).
    T(
        "supervise",
        _("Issue a supervision order"),
        FILED_OPEN,
        None,
        # The system account issues the escalation ladder's yellow and red cards.
        [Role.SUPERVISOR, Role.SYSTEM],
        effect=supervise,
        needs_reason=True,
        inputs=("level",),
    ),
    # Another reporter of the same problem joins the case instead of filing a duplicate.
    T(
        "join",
        _("Report this too"),
        OPEN_STAGES,
        None,
        [Role.GRID_WORKER, Role.DISPATCHER],
        # The centre registers every caller's report; a grid worker reports a case once.
        guard=lambda case, user: (
            str(_("You already reported this case."))
            if not user.has_role(Role.DISPATCHER) and case.reporters.filter(user=user).exists()
            else None
        ),
        effect=join_case,
        inputs=("photos",),
    ),
]

BY_ACTION = {t.action: t for t in TRANSITIONS}
assert len(BY_ACTION) == len(TRANSITIONS), "duplicate action names"


def refusal(transition: Transition, case: Case, user) -> str | None:
    """Why ``user`` may not take ``transition`` on ``case`` now, or None if they may."""
    if case.stage not in transition.sources:
        return str(
            _("“%(action)s” is not possible while the case is “%(stage)s”.")
            % {"action": transition.label, "stage": case.get_stage_display()}
        )
    if (
        not user.is_authenticated
        or not user.has_role(*transition.roles)
        or not transition.scope(case, user)
    ):
        return str(
            _("Your role does not allow “%(action)s” on this case.") % {"action": transition.label}
        )
    return transition.guard(case, user)


def allowed_actions(case: Case, user) -> list[Transition]:
    return [t for t in TRANSITIONS if refusal(t, case, user) is None]


def perform(
    case: Case | int,
    action: str,
    user,
    *,
    version: int | None = None,
    reason: str = "",
    data: dict | None = None,
    photos: Sequence[PhotoUpload] = (),
    at: datetime.datetime | None = None,
) -> CaseEvent:
    """Take ``action`` on the case as ``user``, or raise ``TransitionError`` and change nothing.

    ``version`` is the version the person saw; when someone else acted since, the action
    is refused with ``CaseChanged`` rather than applied to a case they have not seen.
    ``at`` is for the system acting as of a moment (the escalation sweep run for its
    ``now``): the event's time; otherwise the event is dated as it is written.
    A case being reported, not written yet, takes ``perform_on_new``.
    """
    transition = BY_ACTION.get(action)
    if transition is None:
        raise InvalidInput(_("Unknown action."), field="action")
    reason = (reason or "").strip()
    if transition.needs_reason and not reason:
        raise InvalidInput(_("Give a reason."), field="reason")
    from clocks.services import rules_read_once

    case_id = case.pk if isinstance(case, Case) else case
    with transaction.atomic(), rules_read_once():
        locked = (
            Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=case_id)
        )
        if version is not None and locked.version != int(version):
            raise CaseChanged(
                _("This case changed while you were looking at it. Reload and check again.")
            )
        ctx, from_stage = _take(transition, locked, user, reason, data or {}, photos)
        if version is not None:
            ctx.payload[SENT] = sent_digest(reason, data or {}, photos)
        seen = locked.version
        locked.version = F("version") + 1
        locked.save()
        # The row is locked: its version is the one read plus one (no need to read the
        # whole row, geometry and all, back).
        locked.version = seen + 1
        event = CaseEvent.objects.create(
            case=locked,
            actor=user,
            action=action,
            from_stage=from_stage,
            to_stage=locked.stage,
            reason=reason,
            payload=ctx.payload,
            **({} if at is None else {"at": at}),
        )
        from . import effects

        effects.after_transition(locked, event)
    if isinstance(case, Case):
        case.refresh_from_db()
    return event


def done_since(
    case: Case,
    action: str,
    user,
    version: int,
    *,
    reason: str = "",
    data: dict | None = None,
    photos: Sequence[PhotoUpload] = (),
) -> CaseEvent | None:
    """The event of ``user`` taking ``action`` if that is the case's one change since
    ``version`` and was asked with the same reason, choices and photos: the same request
    sent again (a double tap, an answer lost), which was done. Anything else is a change
    the person has not seen (``CaseChanged``): someone else's, or their own from another
    tab with another choice (a dispatch to another department is not "already done")."""
    if case.version != version + 1:
        return None
    last = case.events.order_by("-at", "-id").first()
    if last is None or (last.actor_id, last.action) != (user.pk, action):
        return None
    if last.payload.get(SENT) != sent_digest(reason, data or {}, photos):
        return None
    return last


# Payload keys kept for GridGov itself, never shown in the API or sent to event feeds: the
# digest of what a person sent (``sent_digest``).
SENT = "sent"
INTERNAL_PAYLOAD = frozenset({SENT})


def sent_digest(reason: str, data: dict, photos: Sequence[PhotoUpload]) -> str:
    """A short digest of what a person sent with an action (the reason as ``perform``
    keeps it, the choices, the photos' bytes), kept in its event's payload as ``SENT`` so
    that ``done_since`` tells the same request sent again from another one."""
    digest = hashlib.sha256()
    chosen = {name: str(getattr(value, "pk", value)) for name, value in data.items()}
    digest.update(
        json.dumps([(reason or "").strip(), chosen], sort_keys=True, ensure_ascii=False).encode()
    )
    for photo in photos:
        digest.update(hashlib.sha256(photo.content).digest())
    return digest.hexdigest()[:16]


def _take(
    transition: Transition,
    case: Case,
    user,
    reason: str,
    data: dict,
    photos: Sequence[PhotoUpload],
) -> tuple[Context, str]:
    """The transition's checks and its effect on ``case``, in memory: what ``perform`` and
    ``perform_on_new`` share. Returns the context (its payload) and the stage before."""
    problem = refusal(transition, case, user)
    if problem:
        raise NotAllowed(problem)
    ctx = Context(case=case, user=user, reason=reason, data=data, photos=photos)
    from_stage = case.stage
    if transition.effect is not None:
        transition.effect(ctx)
    ctx.batch.save()
    if transition.target is not None:
        case.stage = transition.target
    return ctx, from_stage


def perform_on_new(case: Case, action: str, user, *, data: dict | None = None) -> CaseEvent:
    """``perform`` on a case being reported and not written yet (``services.NewCase``):
    the same checks and effect, applied to the instance, whose version
    goes up by one; the event is returned unsaved, to be written with the case. For
    actions whose effect writes nothing of its own (filing does not: its number comes
    from the day's counter), with no reason or photos."""
    transition = BY_ACTION.get(action)
    if transition is None:
        raise InvalidInput(_("Unknown action."), field="action")
    if transition.needs_reason:
        raise TypeError(f"{action} needs a reason: perform it once the case is written.")
    ctx, from_stage = _take(transition, case, user, "", data or {}, ())
    case.version += 1
    return unsaved(
        CaseEvent,
        case=case,
        actor=user,
        action=action,
        from_stage=from_stage,
        to_stage=case.stage,
        reason="",
        payload=ctx.payload,
    )


@dataclass(frozen=True)
class Order:
    """One action of ``perform_many``: on which case, why, with what input."""

    case_id: int
    action: str
    reason: str = ""
    data: dict = field(default_factory=dict)


def perform_many(
    orders: Sequence[Order], user, *, held: dict[int, Case] | None = None, routing=None
) -> list[CaseEvent]:
    """Take several actions, each on its own case, as ``user``, in one transaction: each
    exactly as ``perform`` would (the same table, checks and effects), but the rows they
    share are read once and the cases, events and clocks written in a few statements.
    Routing dispatches its batches this way.

    All or nothing: the first action that cannot be taken raises its ``TransitionError``
    and nothing is changed (the caller may then take them one by one). No photos; a case
    appears at most once. ``held``: the cases by id, whole rows that the caller's
    transaction has locked (with their conditions); they are changed in place instead of
    being read again, and hold half of the work when an action is refused. ``routing``:
    a routing task's rows kept in memory (``routing.Held``).
    """
    transitions = []
    for order in orders:
        transition = BY_ACTION.get(order.action)
        if transition is None:
            raise InvalidInput(_("Unknown action."), field="action")
        if transition.needs_reason and not order.reason.strip():
            raise InvalidInput(_("Give a reason."), field="reason")
        transitions.append(transition)
    if len({order.case_id for order in orders}) != len(orders):
        raise InvalidInput(_("Each case at most once."), field="case")
    from clocks.services import rules_read_once

    fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    with transaction.atomic(), rules_read_once():
        if held is None:
            locked = Case.objects.select_for_update(of=("self",)).select_related("condition")
            held = locked.in_bulk([order.case_id for order in orders])
        cases = held
        batch = Batch(
            Counter(o.data["department"] for o in orders if o.data.get("department") is not None),
            routing,
        )
        done, changed = [], {"stage", "version"}
        for order, transition in zip(orders, transitions, strict=True):
            case = cases.get(order.case_id)
            if case is None:
                raise CaseChanged(_("This case no longer exists."))
            problem = refusal(transition, case, user)
            if problem:
                raise NotAllowed(problem)
            before = {f.attname: getattr(case, f.attname) for f in fields}
            ctx = Context(
                case=case, user=user, reason=order.reason.strip(), data=order.data, photos=(),
                batch=batch,
            )  # fmt: skip
            from_stage = case.stage
            if transition.effect is not None:
                transition.effect(ctx)
            if transition.target is not None:
                case.stage = transition.target
            changed.update(f.name for f in fields if getattr(case, f.attname) != before[f.attname])
            done.append((case, ctx, order.action, from_stage, before["version"]))
        batch.save()
        # The rows are locked: each version is the one read plus one.
        for case, _ctx, _action, _from, seen in done:
            case.version = seen + 1
        update_rows([case for case, *_rest in done], sorted(changed))
        events = []
        for case, ctx, action, from_stage, _seen in done:
            events.append(
                CaseEvent(
                    case=case,
                    actor=user,
                    action=action,
                    from_stage=from_stage,
                    to_stage=case.stage,
                    reason=ctx.reason,
                    payload=ctx.payload,
                )
            )
        CaseEvent.objects.bulk_create(events)
        from . import effects

        effects.after_transitions([case for case, *_rest in done], events)
    return events
