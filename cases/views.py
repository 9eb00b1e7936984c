import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Replace
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clocks.models import ClockKind, EscalationStep
from clocks.services import case_clocks, overview_sections
from grids.models import UnitGrid, city_extent
from grids.serializers import GridFeatureSerializer, grid_features, with_current_assignments
from grids.views import base_layers
from org.decorators import role_required
from org.models import Department, Membership, Role

from .forms import ActionForm, DryRunForm, ReportForm, leaf_categories
from .models import (
    Case,
    CaseReporter,
    CaseRequest,
    Category,
    Photo,
    Source,
    Stage,
    Supervision,
)
from .routing import ROUTER_USERNAME, decision_reason, routing_dry_run, routing_gaps
from .routing_explain import department_explanation
from .services import case_report, duplicates_near
from .workflow import (
    BY_ACTION,
    CaseChanged,
    InvalidInput,
    TransitionError,
    allowed_actions,
    done_since,
    perform,
)

# Columns a case list needs; the description is long and not shown.
LIST_RELATED = ["category", "category__parent", "department", "grid", "community"]
CENTRE_ROLES = (Role.DISPATCHER, Role.SHIFT_LEADER)
# From these zooms on, a pin map outlines the communities, then the unit grids in view
# (about 150 and 300 grids of 100 m on a phone's screen).
PIN_MAP_COMMUNITY_ZOOM = 13
PIN_MAP_GRID_ZOOM = 15
# Events that are not transitions of the table.
EVENT_LABELS = {
    "report": gettext_lazy("Reported"),
    "absorb": gettext_lazy("Took in a duplicate case"),
    "escalate": gettext_lazy("Escalated"),
}


def get_case_for_user(request, pk: int) -> Case:
    """The case if the person may see it; 404 otherwise (not 403: its existence is private)."""
    return get_object_or_404(
        Case.objects.visible_to(request.user).select_related(*LIST_RELATED), pk=pk
    )


def case_list(queryset):
    return queryset.select_related(*LIST_RELATED).defer("description")


# ---------------------------------------------------------------------------- reporting


# Sent by the outbox script (static/js/outbox.js) with a report or a case page's action:
# "page" for a form sent as it is submitted, "kept" for one kept on the phone while there
# was no connection and sent later.
OUTBOX_HEADER = "X-GridGov-Outbox"


@role_required(Role.GRID_WORKER, Role.DISPATCHER)
def report(request):
    """File a report from the street (grid worker) or register a call (centre). The form
    carries its own key (``submission``): the same report sent again, by a double tap or
    by a phone that lost the answer to the first, leads to the case the first one made."""
    centre = not request.user.has_role(Role.GRID_WORKER)
    duplicates = []
    if request.method == "POST":
        received = _already_received(request)
        if received is not None:
            return received
        joining = request.POST.get("join", "")
        form = ReportForm(request.POST, request.FILES, centre=centre, joining=bool(joining))
        if form.is_valid() and joining:
            joined = _join(request, form, joining)
            if joined is not None:
                return joined
        elif form.is_valid():
            data = form.cleaned_data
            duplicates = duplicates_near(data["point"], data["category"])
            if duplicates and not data["confirm_new"]:
                messages.warning(
                    request, _("Open cases like this one are nearby. Join one, or file a new case.")
                )
                form.data = form.data.copy()
                form.data["confirm_new"] = "on"
            else:
                try:
                    case = case_report(
                        reporter=request.user,
                        source=data.get("source") or Source.PATROL,
                        point=data["point"],
                        category=data["category"],
                        description=data["description"],
                        urgency=data["urgency"],
                        address=data["address"],
                        citizen_name=data.get("citizen_name", ""),
                        citizen_phone=data.get("citizen_phone", ""),
                        self_handled=data.get("self_handled", False),
                        photos=data["photos"],
                        submission=data["submission"],
                    )
                except InvalidInput as error:
                    form.add_error(
                        error.field if error.field in form.fields else None, error.message
                    )
                except IntegrityError:
                    # A second copy that passed the check above while the first was written.
                    received = _already_received(request)
                    if received is None:
                        raise
                    return received
                else:
                    return _answered(
                        request,
                        case,
                        _("Case %(ref)s is reported.") % {"ref": case.reference},
                        status=201,
                    )
    else:
        draft = request.GET.get("draft", "")
        form = ReportForm(centre=centre, initial={"submission": _uuid(draft) or uuid.uuid4()})
    return render(
        request,
        "cases/report.html",
        {
            "form": form,
            "centre": centre,
            "duplicates": duplicates,
            "categories": leaf_categories(),
            "map_config": pin_map_config(
                request.user, own_grids=not centre, ask_position=not centre
            ),
        },
        status=400 if form.errors else 200,
    )


def _join(request, form: ReportForm, reference: str):
    """The report form sent with "Report this too" on a nearby open case: the report joins
    that case (a grid worker's own, or the caller the centre registers, with their name,
    phone, words and photos) instead of making a duplicate. The answer, or None with the
    form's error added."""
    data = form.cleaned_data
    case = Case.objects.filter(pk=int(reference)).first() if reference.isdigit() else None
    if case is None:
        form.add_error(None, _("That case no longer exists."))
        return None
    try:
        perform(
            case,
            "join",
            request.user,
            reason=data["description"],
            data={
                "source": data.get("source") or Source.PATROL,
                "citizen_name": data.get("citizen_name", ""),
                "citizen_phone": data.get("citizen_phone", ""),
                "submission": data["submission"],
            },
            photos=data["photos"],
        )
    except TransitionError as error:
        form.add_error(None, error.message)
        return None
    except IntegrityError:
        # The same form sent again while the first was written.
        received = _already_received(request)
        if received is None:
            raise
        return received
    return _answered(
        request,
        case,
        _("Your report is added to case %(ref)s.") % {"ref": case.reference},
        status=201,
    )


# The report page's service worker keeps its copies under this name; a new name (a new
# release of the page's files) makes it drop the old copies.
REPORT_OFFLINE_CACHE = "gridgov-report-1"


@role_required(Role.GRID_WORKER, Role.DISPATCHER)
def report_offline(request):
    """The report page's service worker (templates/cases/report_offline.js): the page and
    its files open with no connection. Served from the page's own folder, whose scope is
    that page alone; never cached by the browser's HTTP cache, so a new release reaches it."""
    response = render(
        request,
        "cases/report_offline.js",
        {"cache": REPORT_OFFLINE_CACHE},
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _already_received(request):
    """The answer to a report whose key made a case already (this person's), else None."""
    key = _uuid(request.POST.get("submission", ""))
    if key is None:
        return None
    case = Case.objects.submitted(request.user, key).first()
    if case is None:
        return None
    message = _("This report was already received as case %(ref)s.")
    return _answered(request, case, message % {"ref": case.reference})


def _answered(request, case: Case, message: str, *, status: int = 200):
    """To the case page, saying ``message``. The outbox script (outbox.js) is answered in
    JSON naming the case: it opens the page itself, or, for a form kept on the phone and
    sent later (header value "kept"), tells the person in its own words."""
    sender = request.headers.get(OUTBOX_HEADER)
    if sender != "kept":
        messages.success(request, message)
    if sender is None:
        return redirect("cases:detail", pk=case.pk)
    return JsonResponse(
        {
            "id": case.pk,
            "reference": case.reference,
            "url": reverse("cases:detail", args=[case.pk]),
        },
        status=status,
    )


def pin_map_config(user, *, own_grids: bool, ask_position: bool) -> dict:
    """What a pin map (static/js/pin_map.js) starts from. A grid worker reporting sees her
    own grids and starts on them; the centre, taking a call about any street, and the
    routing check start on the whole city and find a community by name. Without a base
    layer (the default) these outlines are all the map shows."""
    grids = None
    if own_grids:
        mine = list(grid_features(UnitGrid.objects.current().covered_by(user)))
        grids = GridFeatureSerializer(with_current_assignments(mine), many=True).data
    return {
        "base": base_layers(),
        "grids": grids,
        "extent": city_extent(),
        "askPosition": ask_position,
        "locateUrl": reverse("grids_api:locate"),
        "areasUrl": reverse("grids_api:areas"),
        "gridsUrl": reverse("grids_api:grids"),
        "communityZoom": PIN_MAP_COMMUNITY_ZOOM,
        "gridZoom": PIN_MAP_GRID_ZOOM,
    }


@login_required
def duplicates(request):
    """Open cases of a category near a point, as a fragment for the report page."""
    form = ReportForm(request.GET)
    try:
        point = (
            form.fields["lon"].clean(request.GET.get("lon")),
            form.fields["lat"].clean(request.GET.get("lat")),
        )
        category = Category.objects.get(pk=request.GET.get("category"))
    except Exception:  # noqa: BLE001 - any bad input means "nothing to show"
        return JsonResponse({"detail": _("Give lon, lat and category."), "html": ""}, status=400)
    found = duplicates_near(Point(point[0], point[1], srid=4326), category)
    html = render_to_string(
        "cases/snippets/duplicates.html", {"duplicates": found}, request=request
    )
    return JsonResponse({"count": len(found), "html": html})


# ---------------------------------------------------------------------------- work lists


@role_required(Role.GRID_WORKER)
def my_reports(request):
    cases = case_list(
        Case.objects.filter(Q(reporter=request.user) | Q(reporters__user=request.user)).distinct()
    )
    return render(request, "cases/list.html", {"title": _("My reports"), "cases": cases[:200]})


@role_required(Role.GRID_WORKER)
def tasks(request):
    """Verification and check tasks: asked of me, or in grids I cover today."""
    mine = Q(field_worker=request.user) | Q(grid__in=UnitGrid.objects.covered_by(request.user))
    cases = case_list(Case.objects.filter(mine, stage__in=[Stage.VERIFYING, Stage.CHECKING]))
    return render(
        request,
        "cases/list.html",
        {
            "title": _("My on-site tasks"),
            "cases": cases.order_by("reported_at")[:200],
            "tasks": True,
        },
    )


# Which cases a search finds, at most.
SEARCH_SIZE = 50


def phone_digits(field: str):
    """The phone number in ``field`` as SQL, without the spaces, "-", "+" and brackets a
    caller or a dispatcher types: "139 0000 1111" and "13900001111" compare equal."""
    value = F(field)
    for mark in (" ", "-", "+", "(", ")"):
        value = Replace(value, Value(mark), Value(""))
    return value


def search_match(query: str, *, personal: bool) -> Q | None:
    """The cases ``query`` names: a case number, or a provisional "#123"; and, for the
    centre (``personal``), a caller's phone number (its digits, the number's end is
    enough: "+86 139…" is "139…") or name, on the case or on any report joined to it."""
    query = query.strip()
    if not query:
        return None
    match = Q(number=query.upper())
    reference = query.lstrip("#")
    if reference.isdigit() and len(reference) < 19:
        match |= Q(pk=int(reference))
    if not personal:
        return match
    typed = "".join(ch for ch in query if ch not in " -+()")
    if typed.isdigit() and len(typed) >= 5:
        # Most cases carry no phone (a patrol's): those rows are passed over first.
        match |= Q(
            pk__in=Case.objects.exclude(citizen_phone="")
            .annotate(digits=phone_digits("citizen_phone"))
            .filter(digits__endswith=typed)
            .values("pk")
        ) | Q(
            pk__in=CaseReporter.objects.exclude(citizen_phone="")
            .annotate(digits=phone_digits("citizen_phone"))
            .filter(digits__endswith=typed)
            .values("case_id")
        )
    elif not any(ch.isdigit() for ch in query):
        match |= Q(citizen_name=query) | Q(
            pk__in=CaseReporter.objects.filter(citizen_name=query).values("case_id")
        )
    return match


@login_required
def search(request):
    """Find a case: by its number, for anyone who sees cases; the centre also by a
    caller's phone number or name, when a citizen calls back to ask how it stands."""
    query = request.GET.get("q", "").strip()[:100]
    personal = request.user.has_role(*CENTRE_ROLES)
    match = search_match(query, personal=personal)
    cases = None
    if match is not None:
        found = Case.objects.visible_to(request.user).filter(match)
        cases = list(case_list(found).order_by("-reported_at")[:SEARCH_SIZE])
    return render(
        request,
        "cases/search.html",
        {"query": query, "personal": personal, "cases": cases, "limit": SEARCH_SIZE},
    )


@role_required(Role.DISPATCHER)
def desk(request):
    pending = CaseRequest.objects.filter(
        status=CaseRequest.Status.PENDING,
        kind__in=[CaseRequest.Kind.RETURN, CaseRequest.Kind.EXTENSION, CaseRequest.Kind.HOLD],
    )
    sections = [
        (
            _("To file"),
            case_list(Case.objects.filter(stage=Stage.REPORTED)).order_by("reported_at"),
        ),
        (_("To dispatch"), case_list(Case.objects.filter(stage=Stage.FILED)).order_by("filed_at")),
        (_("Requests to decide"), case_list(Case.objects.filter(requests__in=pending).distinct())),
        (_("Self-handled, to audit"), case_list(Case.objects.filter(stage=Stage.SELF_HANDLED))),
        (_("Being verified on site"), case_list(Case.objects.filter(stage=Stage.VERIFYING))),
    ]
    return render(
        request,
        "cases/queues.html",
        {"title": _("Dispatch desk"), "sections": sections, "search": True},
    )


@role_required(Role.SHIFT_LEADER)
def approvals(request):
    voids = CaseRequest.objects.filter(
        status=CaseRequest.Status.PENDING, kind=CaseRequest.Kind.VOID
    )
    sections = [
        (_("Void requests"), case_list(Case.objects.filter(requests__in=voids).distinct())),
        (_("Self-handled, to audit"), case_list(Case.objects.filter(stage=Stage.SELF_HANDLED))),
        (
            _("To file"),
            case_list(Case.objects.filter(stage=Stage.REPORTED)).order_by("reported_at"),
        ),
    ]
    return render(request, "cases/queues.html", {"title": _("Approvals"), "sections": sections})


INBOX_STAGES = [Stage.DISPATCHED, Stage.IN_PROGRESS, Stage.ON_HOLD, Stage.CHECKING]
INBOX_SIZE = 200
# Cases sort by the nearest deadline of any of their open clocks (Case.due_at, kept by
# clocks.services.clocks_update). On PostgreSQL the inbox picks its cases with one ordered
# scan of the case_inbox index (department, stage, due_at) per department of the officer
# and per stage, each stopping after INBOX_SIZE rows, merged by the outer ORDER BY ...
# LIMIT. A plain filter on all four stages reads, joins and sorts every open case of the
# department instead: about 130 ms at 20,000 open cases, against about 5 ms (bench/bench_cases.py).
INBOX_IDS_SQL = f"""
    SELECT c.id FROM {Membership._meta.db_table} m
    CROSS JOIN unnest(%s::text[]) AS s(stage)
    CROSS JOIN LATERAL (
        SELECT id, due_at FROM {Case._meta.db_table}
        WHERE department_id = m.department_id AND stage = s.stage
        ORDER BY due_at, id LIMIT %s
    ) c
    WHERE m.user_id = %s
    ORDER BY c.due_at, c.id LIMIT %s
"""


@role_required(Role.OFFICER)
def inbox(request):
    """The department's open cases, nearest open-clock deadline first (none last)."""
    if connection.vendor == "postgresql":
        stages = [stage.value for stage in INBOX_STAGES]
        params = (stages, INBOX_SIZE, request.user.pk, INBOX_SIZE)
        mine = Q(pk__in=RawSQL(INBOX_IDS_SQL, params))
    else:
        mine = Q(department__in=request.user.departments.all(), stage__in=INBOX_STAGES)
    # Rows show no map: parsing 200 points and 400 boundaries cost ~15 ms a page.
    cases = (
        case_list(Case.objects.filter(mine).with_light())
        .defer("point", "grid__boundary", "community__boundary")
        .order_by(F("due_at").asc(nulls_last=True), "id")
    )
    return render(
        request,
        "cases/list.html",
        {"title": _("Department inbox"), "cases": cases[:INBOX_SIZE], "inbox": True},
    )


@role_required(Role.SUPERVISOR)
def overview(request):
    """Overdue and escalated cases the supervisor may see, by escalation level."""
    sections = overview_sections(Case.objects.visible_to(request.user))
    return render(request, "clocks/overview.html", {"sections": sections})


# ---------------------------------------------------------------------------- one case


def stage_reached(event) -> str:
    """The stage an event moved the case to, where it moved it. A report that leaves the
    case "Reported" says so in its own label; one that sends it to verification or audit
    names that stage, and so does a confirmation on site that brings it to "Reported"."""
    if event.to_stage == event.from_stage:
        return ""
    if event.action == "report" and event.to_stage == Stage.REPORTED:
        return ""
    return Stage(event.to_stage).label


def clock_of(event) -> str:
    """The clock an escalation step fired on: a case's own clock and its stage's clock
    both warn and both go overdue, and the two lines read alike without it."""
    if event.action != "escalate":
        return ""
    kind = (event.payload or {}).get("clock_kind")
    return ClockKind(kind).label if kind in ClockKind.values else ""


def reason_shown(event, steps: dict, departments: dict) -> str:
    """The event's reason in the reader's language where the system wrote it from what it
    keeps (a routing decision, an automatic supervision order): stored once in the
    language of the server, it read Chinese in the English pages. People's own words,
    and events written before the payload kept enough, as they were written. ``steps``
    and ``departments``: the ladder's steps by key and the departments' names by id,
    read once for the page (``system_names``)."""
    payload = event.payload or {}
    if event.actor_id is None or event.actor.username != ROUTER_USERNAME:
        return event.reason
    if event.action == "route_none":
        return decision_reason(None)
    if event.action == "dispatch" and "rule_name" in payload:
        return decision_reason(
            payload["rule_name"],
            payload.get("priority", 0),
            departments.get(payload.get("department"), ""),
        )
    if event.action == "escalate" and payload.get("step") in steps:
        # The step's name, as the ladder's administrators named it in each language.
        step = steps[payload["step"]]
        return step.display_name() if event.reason == step.name else event.reason
    if event.action == "supervise" and payload.get("level") in Supervision.values:
        level = Supervision(payload["level"]).label
        return _("Automatic escalation: %(level)s") % {"level": level}
    return event.reason


def system_names(history: list) -> tuple[dict, dict]:
    """What ``reason_shown`` needs for a case's events, in a query each at most: the
    escalation steps by key, and the names of the departments routing dispatched to."""
    written = [
        event for event in history if event.actor_id and event.actor.username == ROUTER_USERNAME
    ]
    steps = (
        {step.key: step for step in EscalationStep.objects.all()}
        if any(event.action == "escalate" for event in written)
        else {}
    )
    chosen = {
        (event.payload or {}).get("department") for event in written if event.action == "dispatch"
    }
    chosen.discard(None)
    departments = (
        dict(Department.objects.filter(pk__in=chosen).values_list("pk", "name")) if chosen else {}
    )
    return steps, departments


def detail_context(request, case: Case, failed: ActionForm | None = None) -> dict:
    actions = []
    for transition in allowed_actions(case, request.user):
        if failed is not None and failed.transition == transition:
            form = failed
        else:
            form = ActionForm(
                transition=transition,
                case=case,
                initial={"version": case.version},
                prefix=transition.action,
            )
        actions.append({"transition": transition, "form": form})
    history = list(case.events.select_related("actor"))
    steps, departments = system_names(history)
    events = [
        {
            "event": event,
            "label": EVENT_LABELS.get(event.action) or BY_ACTION[event.action].label,
            "stage": stage_reached(event),
            "clock": clock_of(event),
            "reason": reason_shown(event, steps, departments),
        }
        for event in history
    ]
    # A duplicate taken in names the case it was.
    absorbed = {
        (item["event"].payload or {}).get("case"): item
        for item in events
        if item["event"].action == "absorb"
    }
    for other in Case.objects.filter(pk__in=[pk for pk in absorbed if pk]).only("pk", "number"):
        absorbed[other.pk]["other"] = other
    photos = case.photos.all()
    return {
        "case": case,
        "actions": actions,
        "events": events,
        "photos": photos,
        "photos_by_kind": [
            (label, [p for p in photos if p.kind == kind]) for kind, label in Photo.Kind.choices
        ],
        "requests": case.requests.select_related("requested_by", "decided_by"),
        "reporters": case.reporters.select_related("user", "original_case").order_by(
            "joined_at", "id"
        ),
        # Citizens' contact details are for the centre, who call them back.
        "show_citizen": request.user.has_role(*CENTRE_ROLES),
        "light": case.light(),
        "clocks": case_clocks(case),
        "base_layers": base_layers(),
        "why_department": department_explanation(
            case, [item["event"] for item in events], request.user
        ),
    }


@login_required
def detail(request, pk: int):
    case = get_case_for_user(request, pk)
    return render(request, "cases/detail.html", detail_context(request, case))


@login_required
@require_POST
def act(request, pk: int, action: str):
    """An action on the case page. The same form sent twice (a double tap, or a phone that
    lost the answer and sends again) finds the case one version on, moved by this person's
    own action: it was done, and is not refused as a change made by someone else."""
    case = get_case_for_user(request, pk)
    transition = BY_ACTION.get(action)
    if transition is None:
        raise Http404
    form = ActionForm(request.POST, request.FILES, transition=transition, case=case, prefix=action)
    status = 400
    if form.is_valid():
        data = form.data_for_workflow()
        if "into" in form.cleaned_data:
            data["into"] = find_case_pk(request, form.cleaned_data["into"])
        version = form.cleaned_data["version"]
        try:
            perform(
                case,
                action,
                request.user,
                version=version,
                reason=form.cleaned_data["reason"],
                data=data,
                photos=form.cleaned_data.get("photos") or [],
            )
        except TransitionError as error:
            if isinstance(error, CaseChanged) and done_since(
                case,
                action,
                request.user,
                version,
                reason=form.cleaned_data["reason"],
                data=data,
                photos=form.cleaned_data.get("photos") or [],
            ):
                message = _("Already done: %(action)s.") % {"action": transition.label}
                return _answered(request, case, message)
            if isinstance(error, CaseChanged):
                form = _on_current_version(request, case, transition, form, version)
                status = 409
            else:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                messages.error(request, error.message)
                status = 400
        else:
            message = _("Done: %(action)s.") % {"action": transition.label}
            return _answered(request, case, message, status=201)
    case.refresh_from_db()
    return render(
        request, "cases/detail.html", detail_context(request, case, failed=form), status=status
    )


def _on_current_version(request, case: Case, transition, form: ActionForm, seen: int):
    """A form sent on a case that changed since (someone's action, the escalation ladder,
    or the person's own in another tab), shown again on the case as it is now: what was
    typed stays, the version becomes the current one, so that after a look at the page
    the same form may be sent again. ``stale_version`` tells the outbox which kept copy
    (and its photos) the form came from."""
    case.refresh_from_db()
    data = request.POST.copy()
    data[form.add_prefix("version")] = str(case.version)
    again = ActionForm(data, transition=transition, case=case, prefix=transition.action)
    # Only this message: what was sent was checked already (its photos are not sent again
    # here, and the field's "required" would be a false alarm; the outbox puts them back).
    again.errors.clear()
    message = _(
        "This case changed while you were looking at it: check it as it is now, then send again."
    )
    again.add_error(None, message)
    again.stale_version = seen
    messages.error(request, message)
    return again


def find_case_pk(request, reference: str) -> int | None:
    """A case number, or a provisional "#123" reference, among cases the person sees."""
    reference = reference.strip().lstrip("#")
    visible = Case.objects.visible_to(request.user)
    found = visible.filter(number=reference).values_list("pk", flat=True).first()
    if found is None and reference.isdigit():
        found = visible.filter(pk=int(reference)).values_list("pk", flat=True).first()
    return found


@login_required
def photo(request, pk: int):
    """Photos are served only to people who may see their case."""
    item = get_object_or_404(Photo.objects.select_related("case"), pk=pk)
    get_case_for_user(request, item.case_id)
    return FileResponse(item.image.open("rb"), content_type="image/jpeg")


@role_required(Role.DISPATCHER, Role.ADMINISTRATOR)
def routing(request):
    """Dry run: for this point and category, which rule and department, and why. For
    administrators also the category × street pairs no rule owns, or two rules do."""
    form = DryRunForm(request.GET or None)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        where, decision = routing_dry_run(
            point=Point(data["lon"], data["lat"], srid=4326),
            category=data["category"],
            urgency=data["urgency"],
        )
        result = {"where": where, "decision": decision}
    gaps = routing_gaps() if request.user.has_role(Role.ADMINISTRATOR) else None
    return render(
        request,
        "cases/routing.html",
        {
            "form": form,
            "result": result,
            "gaps": gaps[:300] if gaps else gaps,
            "gap_count": len(gaps or []),
            "map_config": pin_map_config(request.user, own_grids=False, ask_position=False),
        },
    )
