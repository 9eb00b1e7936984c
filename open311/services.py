"""GeoReport v2 over GridGov's own data: our leaf categories are the services, our cases
are the service requests. Reports come in through ``cases.services.case_report``, like
every other report; nothing here changes a case after that.

What goes out is public: no citizen's name, phone or e-mail, no staff member's name, no
reason typed by staff (it may name people). Only a caller whose key holds the
personal-data scope gets the citizen's contact, and only with ``extensions=true``.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases.forms import leaf_categories
from cases.models import (
    OPEN_STAGES,
    Case,
    CaseEvent,
    Category,
    FilingCondition,
    Photo,
    Source,
    Stage,
    Urgency,
)
from cases.services import case_report
from cases.workflow import BY_ACTION, PhotoUpload
from grids.models import UnitGrid
from grids.services import within_metres

from .models import ServiceRequest

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed (discovery's "changeset").
CHANGESET = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
MAX_DESCRIPTION = 4000
# The spec's default volume: the last 90 days, at most 1000 requests.
DEFAULT_WINDOW = datetime.timedelta(days=90)
MAX_REQUESTS = 1000
# The largest circle of a lat/long/radius search, which is measured row by row.
MAX_RADIUS_M = 10_000


class Open311Error(Exception):
    """An answer other than 200: the HTTP status and the messages for the user."""

    def __init__(self, status: int, *descriptions: str):
        super().__init__("; ".join(str(d) for d in descriptions))
        self.status = status
        self.descriptions = [str(d) for d in descriptions]


# ---------------------------------------------------------------------------- services


def _majors() -> dict[str, Category]:
    return {c.full_code: c for c in Category.objects.filter(parent__isnull=True)}


def _conditions(categories) -> dict[int, list[FilingCondition]]:
    found: dict[int, list[FilingCondition]] = {}
    for condition in FilingCondition.objects.filter(category__in=categories, is_active=True):
        found.setdefault(condition.category_id, []).append(condition)
    return found


def service_attributes(conditions: list[FilingCondition]) -> list[dict]:
    """The questions a report of this service may answer, in spec order of fields.

    Which filing condition fits, when the category has several (the dispatcher sees the
    answer); how urgent it is, for every service (it becomes the case's urgency).
    """
    attributes: list[dict] = []
    if len(conditions) > 1:
        attributes.append(
            {
                "variable": True,
                "code": "condition",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": _("Choose the description that fits best."),
                "order": len(attributes) + 1,
                "description": _("Which of these describes the problem?"),
                "values": [{"key": str(c.pk), "name": c.condition} for c in conditions],
            }
        )
    attributes.append(
        {
            "variable": True,
            "code": "urgency",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": _("Urgent means a danger to people or traffic now."),
            "order": len(attributes) + 1,
            "description": _("How urgent is it?"),
            "values": [{"key": value, "name": str(label)} for value, label in Urgency.choices],
        }
    )
    return attributes


def _service(category: Category, major: Category | None, conditions) -> dict:
    above = major or category.parent
    group = above.display_name() if above is not None else category.display_name()
    description = "; ".join(c.condition for c in conditions) or category.display_name()
    keywords = [category.full_code, category.name, category.name_en, group]
    return {
        "service_code": category.full_code,
        "service_name": category.display_name(),
        "description": description,
        "metadata": bool(service_attributes(conditions)),
        "type": "realtime",
        "keywords": ", ".join(k for k in dict.fromkeys(keywords) if k),
        "group": group,
    }


def service_list() -> list[dict]:
    categories = list(leaf_categories())
    majors = _majors()
    conditions = _conditions(categories)
    return [_service(c, majors.get(c.full_code[:3]), conditions.get(c.pk, [])) for c in categories]


def service_for(code: str) -> Category:
    category = leaf_categories().filter(full_code=code).first()
    if category is None:
        raise Open311Error(404, _("There is no service “%(code)s”.") % {"code": code})
    return category


def service_definition(code: str) -> dict:
    category = service_for(code)
    conditions = _conditions([category]).get(category.pk, [])
    return {"service_code": category.full_code, "attributes": service_attributes(conditions)}


# ---------------------------------------------------------------------------- reports in


@dataclass
class ReportInput:
    """A POST, parsed: every value a list of strings, as a form sends them."""

    values: dict[str, list[str]]
    photos: list[PhotoUpload] = field(default_factory=list)

    def get(self, name: str) -> str:
        """The first non-empty value: the spec treats an empty parameter as absent."""
        for value in self.values.get(name, []):
            if value.strip():
                return value.strip()
        return ""

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, []) if v.strip()]

    def attributes(self) -> dict[str, list[str]]:
        """attribute[CODE]=v and attribute[CODE][]=v1&attribute[CODE][]=v2."""
        found: dict[str, list[str]] = {}
        for key in self.values:
            if key.startswith("attribute[") and "]" in key:
                code = key[len("attribute[") : key.index("]")]
                values = self.all(key)
                if code and values:
                    found.setdefault(code, []).extend(values)
        return found


def _float(text: str, name: str, low: float, high: float) -> float:
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise Open311Error(
            400,
            _("%(name)s must be a number from %(low)s to %(high)s.")
            % {"name": name, "low": low, "high": high},
        )
    return number


def _location(data: ReportInput) -> tuple[Point, str]:
    """The report's WGS84 point and the address to show; a point outside every unit grid
    is kept as it is (the dispatchers triage it)."""
    lat, lon = data.get("lat"), data.get("long")
    address = data.get("address_string")[:255]
    if lat or lon:
        if not (lat and lon):
            raise Open311Error(400, _("Give lat and long together."))
        point = Point(_float(lon, "long", -180, 180), _float(lat, "lat", -90, 90), srid=4326)
        return point, address
    address_id = data.get("address_id")
    if address_id:
        # Our addresses are unit grids: an address_id is a grid code.
        grid = UnitGrid.objects.current().filter(code=address_id).first()
        if grid is None:
            raise Open311Error(
                400, _("address_id “%(id)s” is not a unit grid code.") % {"id": address_id}
            )
        return grid.boundary.point_on_surface, address or grid.code
    if address:
        raise Open311Error(
            400,
            _("Give lat and long: GridGov cannot place an address_string on the map yet."),
        )
    raise Open311Error(400, _("Give a location: lat and long, or address_id."))


def _answers(data: ReportInput, definition: list[dict]) -> dict:
    given = data.attributes()
    answers: dict[str, str | list[str]] = {}
    problems = []
    for attribute in definition:
        code = attribute["code"]
        values = given.get(code, [])
        if not values:
            if attribute["required"]:
                problems.append(_("attribute %(code)s required") % {"code": code})
            continue
        allowed = {v["key"] for v in attribute.get("values", [])}
        if allowed and any(v not in allowed for v in values):
            problems.append(
                _("attribute %(code)s must be one of: %(keys)s")
                % {"code": code, "keys": ", ".join(sorted(allowed))}
            )
            continue
        if attribute["datatype"] == "multivaluelist":
            answers[code] = values
        else:
            answers[code] = values[0]
    if problems:
        raise Open311Error(400, *problems)
    return answers


def request_create(*, data: ReportInput, reporter, key=None) -> ServiceRequest:
    """A public report through the product's own path (``case_report``): it waits for a
    grid worker's on-site verification, or, outside every unit grid, for the dispatchers.

    A ``key`` limited to some areas may report only there; its unlimited keys may report
    anywhere, outside every grid too.
    """
    code = data.get("service_code")
    if not code:
        raise Open311Error(400, _("service_code is required."))
    category = service_for(code)
    conditions = _conditions([category]).get(category.pk, [])
    answers = _answers(data, service_attributes(conditions))
    point, address = _location(data)
    description = data.get("description")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(
            400, _("description may be at most %(max)d characters.") % {"max": MAX_DESCRIPTION}
        )
    if "condition" in answers:
        chosen = next(c for c in conditions if str(c.pk) == answers["condition"])
        # The dispatcher files against a condition: show them the reporter's choice, in
        # the city's language whatever the client's.
        with translation.override(settings.LANGUAGE_CODE):
            choice = _("Reporter's choice: %s") % chosen.condition
        description = "\n\n".join(p for p in (description, choice) if p)
    name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    email = data.get("email")[:254]
    media_urls = [
        url[:500] for url in data.all("media_url") if url.startswith(("http://", "https://"))
    ]
    with transaction.atomic():
        case = case_report(
            reporter=reporter,
            source=Source.PUBLIC,
            point=point,
            category=category,
            # Stored for staff, so in the city's own language whatever the client asked.
            description=description or category.name,
            urgency=answers.get("urgency", Urgency.NORMAL),
            address=address,
            citizen_name=name[:100],
            citizen_phone=data.get("phone")[:30],
            photos=data.photos,
        )
        if key is not None and not key.may_see_case(case):
            # Raised inside the transaction: the case and its effects are rolled back.
            raise Open311Error(403, _("This api_key may not report in this area."))
        return ServiceRequest.objects.create(
            case=case,
            api_key=key,
            email=email,
            device_id=data.get("device_id")[:100],
            account_id=data.get("account_id")[:100],
            address_id=data.get("address_id")[:100],
            attributes=answers,
            media_urls=media_urls,
        )


def service_notice(case: Case) -> str:
    if case.stage == Stage.VERIFYING:
        return _("A grid worker will check it on site, then the city files and dispatches it.")
    return _("It is outside our unit grids: the dispatch centre will review it.")


# ---------------------------------------------------------------------------- requests out


@dataclass
class RequestQuery:
    ids: list[int] | None = None
    codes: list[str] = field(default_factory=list)
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    statuses: set[str] = field(default_factory=set)
    updated_after: datetime.datetime | None = None
    updated_before: datetime.datetime | None = None
    # CitySDK: requests within ``radius`` metres of a WGS84 point.
    near: Point | None = None
    radius: float | None = None
    page: int = 1
    page_size: int = MAX_REQUESTS


def _last_event_at():
    return Subquery(
        CaseEvent.objects.filter(case=OuterRef("pk")).order_by("-at", "-id").values("at")[:1]
    )


def request_queryset(*, extensions: bool = False) -> QuerySet:
    cases = (
        Case.objects.select_related("category", "department", "grid", "community", "open311")
        .defer("grid__boundary", "community__boundary")
        .annotate(last_event_at=_last_event_at())
        .prefetch_related(
            Prefetch(
                "photos",
                queryset=Photo.objects.filter(kind=Photo.Kind.BEFORE).only("id", "case_id"),
                to_attr="before_photos",
            )
        )
    )
    if extensions:
        events = CaseEvent.objects.only("case_id", "at", "action", "from_stage", "to_stage")
        cases = cases.prefetch_related(Prefetch("events", queryset=events))
    return cases


def find_requests(query: RequestQuery, *, extensions: bool = False) -> list[Case]:
    cases = request_queryset(extensions=extensions)
    if query.ids is not None:
        # A list of ids overrides every other filter (spec), and all of them come back.
        return list(cases.filter(pk__in=query.ids[:MAX_REQUESTS]).order_by("-reported_at", "-id"))
    if query.codes:
        cases = cases.filter(category__full_code__in=query.codes)
    if query.statuses == {"open"}:
        cases = cases.filter(stage__in=OPEN_STAGES)
    elif query.statuses == {"closed"}:
        cases = cases.exclude(stage__in=OPEN_STAGES)
    start, end = query.start, query.end
    if start is None and end is None and query.updated_after is None:
        start = timezone.now() - DEFAULT_WINDOW
    elif start is None and end is not None:
        start = end - DEFAULT_WINDOW
    if start is not None:
        cases = cases.filter(reported_at__gte=start)
    if end is not None:
        cases = cases.filter(reported_at__lte=end)
    if query.updated_after is not None:
        cases = cases.filter(last_event_at__gte=query.updated_after)
    if query.updated_before is not None:
        cases = cases.filter(last_event_at__lte=query.updated_before)
    # Newest first: a window with more than a page of requests still shows fresh reports.
    offset = (query.page - 1) * query.page_size
    if query.near is not None and query.radius is not None:
        nearby = within_metres(cases, "point", query.near, query.radius)
        found = [case for case, _ in nearby if isinstance(case, Case)]
        found.sort(key=lambda case: (case.reported_at, case.pk), reverse=True)
        return found[offset : offset + query.page_size]
    return list(cases.order_by("-reported_at", "-id")[offset : offset + query.page_size])


def find_request(pk: str, *, extensions: bool = False) -> Case:
    cases = request_queryset(extensions=extensions)
    case = cases.filter(pk=int(pk)).first() if _is_id(pk) else None
    if case is None:
        raise Open311Error(404, _("There is no service request “%(id)s”.") % {"id": pk})
    return case


def find_token(token: str) -> ServiceRequest:
    found = ServiceRequest.objects.filter(token=token).first()
    if found is None:
        raise Open311Error(404, _("There is no token “%(token)s”.") % {"token": token})
    return found


def status_of(case: Case) -> str:
    return "open" if case.stage in OPEN_STAGES else "closed"


def _address(case: Case) -> str:
    if case.address:
        return case.address
    if case.grid is not None and case.community is not None:
        return f"{case.community.name} {case.grid.code}"
    if case.community is not None:
        return case.community.name
    return f"{case.point.y:.6f},{case.point.x:.6f}"


def _record(case: Case) -> ServiceRequest | None:
    try:
        return case.open311
    except ServiceRequest.DoesNotExist:
        return None


def media_urls(case: Case, absolute) -> list[str]:
    """Photos the citizen sent with the report (re-encoded without metadata), then their
    links. Photos taken by staff are not published."""
    record = _record(case)
    if record is None:
        return []
    photos = [absolute(photo.pk) for photo in getattr(case, "before_photos", case.photos.none())]
    return photos + list(record.media_urls)


class RequestWriter:
    """Writes ``request`` entries in spec order; with ``extensions``, the CitySDK/Chicago
    extras. ``absolute(photo_pk)`` gives a photo's public URL; ``personal(case)`` says
    whether the caller may read that case's citizen contact."""

    def __init__(self, *, absolute, extensions: bool = False, personal=lambda case: False):
        self.absolute = absolute
        self.extensions = extensions
        self.personal = personal
        self._definitions: dict[int, dict[str, dict]] = {}

    def write(self, case: Case) -> dict:
        media = media_urls(case, self.absolute)
        closed = case.stage not in OPEN_STAGES
        # Annotated by request_queryset().
        last_event_at = getattr(case, "last_event_at", None)
        updated = case.closed_at if closed and case.closed_at else last_event_at
        out = {
            "service_request_id": str(case.pk),
            "status": status_of(case),
            "status_notes": str(case.get_stage_display()),
            "service_name": case.category.display_name(),
            "service_code": case.category.full_code,
            "description": case.description,
            "agency_responsible": case.department.name if case.department is not None else None,
            "service_notice": None,
            "requested_datetime": case.reported_at,
            "updated_datetime": updated or case.reported_at,
            "expected_datetime": case.deadline,
            "address": _address(case),
            "address_id": case.grid.code if case.grid is not None else None,
            "zipcode": None,
            "lat": case.point.y,
            "long": case.point.x,
            "media_url": media[0] if media else None,
        }
        if self.extensions:
            out.update(self._extended(case, media))
        return out

    def _definition(self, category: Category) -> dict[str, dict]:
        if category.pk not in self._definitions:
            conditions = _conditions([category]).get(category.pk, [])
            self._definitions[category.pk] = {a["code"]: a for a in service_attributes(conditions)}
        return self._definitions[category.pk]

    def _extended(self, case: Case, media: list[str]) -> dict:
        record = _record(case)
        attributes = []
        if record is not None and record.attributes:
            definition = self._definition(case.category)
            for code, value in record.attributes.items():
                attribute = definition.get(code, {})
                names = {v["key"]: v["name"] for v in attribute.get("values", [])}
                for one in value if isinstance(value, list) else [value]:
                    attributes.append(
                        {
                            "label": attribute.get("description", code),
                            "name": names.get(one, one),
                            "value": one,
                            "code": code,
                        }
                    )
        extended: dict[str, object] = {
            "detailed_status": case.stage,
            "case_number": case.number,
            "channel": case.source,
            "urgency": case.urgency,
            "grid_cell": case.grid.code if case.grid is not None else None,
            "community": case.community.name if case.community is not None else None,
            "department": case.department.name if case.department is not None else None,
            "merged_into": str(case.merged_into_id) if case.merged_into_id else None,
            "media_urls": media,
        }
        if self.personal(case):
            extended["contact"] = {
                "name": case.citizen_name,
                "phone": case.citizen_phone,
                "email": record.email if record is not None else "",
            }
        # The history without who acted or why: reasons are typed by staff and may name
        # people.
        notes = []
        for event in case.events.all():
            transition = BY_ACTION.get(event.action)
            notes.append(
                {
                    "datetime": event.at,
                    "type": "status_change" if event.from_stage != event.to_stage else "update",
                    "summary": str(transition.label) if transition else _("Reported"),
                    "description": str(Stage(event.to_stage).label),
                }
            )
        return {"attributes": attributes, "extended_attributes": extended, "notes": notes}


def _is_id(text: str) -> bool:
    # Past 18 digits a number no longer fits the database's bigint.
    return text.isascii() and text.isdigit() and len(text) <= 18


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.split(","):
        part = part.strip()
        if part:
            if not _is_id(part):
                raise Open311Error(
                    400, _("service_request_id “%(id)s” is not a request id.") % {"id": part}
                )
            ids.append(int(part))
    return ids


def parse_query(get) -> RequestQuery:
    """The filters of GET requests, leniently (an empty parameter counts as absent)."""
    from .formats import parse_when

    def value(name: str) -> str:
        return (get.get(name) or "").strip()

    query = RequestQuery()
    problems = []
    if value("service_request_id"):
        query.ids = _ids(value("service_request_id"))
    query.codes = [c.strip() for c in value("service_code").split(",") if c.strip()]
    for name, attr, end in (
        ("start_date", "start", False),
        ("end_date", "end", True),
        ("updated_after", "updated_after", False),
        ("updated_before", "updated_before", True),
    ):
        if value(name):
            moment = parse_when(value(name), end=end)
            if moment is None:
                problems.append(
                    _("%(name)s “%(value)s” is not a date and time such as 2026-01-01T00:00:00Z.")
                    % {"name": name, "value": value(name)}
                )
            setattr(query, attr, moment)
    statuses = {s.strip().lower() for s in value("status").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        problems.append(_("status must be open, closed or both."))
    query.statuses = statuses
    if value("lat") and value("long") and value("radius"):
        try:
            lat, lon, radius = (float(value(n)) for n in ("lat", "long", "radius"))
        except ValueError:
            lat = lon = radius = float("nan")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= MAX_RADIUS_M):
            problems.append(
                _("lat, long and radius must be a WGS84 point and at most %(max)d metres.")
                % {"max": MAX_RADIUS_M}
            )
        else:
            query.near, query.radius = Point(lon, lat, srid=4326), radius
    for name, low, high in (("page", 1, 1_000_000), ("page_size", 1, MAX_REQUESTS)):
        if value(name):
            try:
                number = int(value(name))
            except ValueError:
                number = 0
            if not low <= number <= high:
                problems.append(
                    _("%(name)s must be a whole number from %(low)d to %(high)d.")
                    % {"name": name, "low": low, "high": high}
                )
            else:
                setattr(query, name, number)
    if problems:
        raise Open311Error(400, *problems)
    return query


# ---------------------------------------------------------------------------- updates

# FixMyStreet's extended statuses (lower case in GET output) for the stage a transition
# led to; some actions say more than their target stage.
UPDATE_STATUS = {
    Stage.VERIFYING: "investigating",
    Stage.REPORTED: "open",
    Stage.FILED: "open",
    Stage.DISPATCHED: "action_scheduled",
    Stage.IN_PROGRESS: "in_progress",
    Stage.ON_HOLD: "planned",
    Stage.CHECKING: "in_progress",
    Stage.CLOSED: "fixed",
    Stage.SELF_HANDLED: "fixed",
    Stage.ARCHIVED: "fixed",
    Stage.NOT_ACCEPTED: "no_further_action",
    Stage.VOIDED: "cancelled",
    Stage.INVALID: "no_further_action",
    Stage.MERGED: "duplicate",
}
ACTION_STATUS = {"check_fail": "reopen", "approve_return": "internal_referral"}


def find_updates(query: RequestQuery) -> list[CaseEvent]:
    """Changes of stage (not requests, orders or notes), oldest first, as FixMyStreet's
    ``servicerequestupdates`` reads them; the same default window and limit as requests."""
    start, end = query.start, query.end
    if start is None:
        start = (end or timezone.now()) - DEFAULT_WINDOW
    events = CaseEvent.objects.filter(at__gte=start).exclude(from_stage=F("to_stage"))
    if end is not None:
        events = events.filter(at__lte=end)
    return list(
        events.only("id", "case_id", "at", "action", "to_stage").order_by("at", "id")[:MAX_REQUESTS]
    )


def update_out(event: CaseEvent) -> dict:
    return {
        "update_id": str(event.pk),
        "service_request_id": str(event.case_id),
        "status": ACTION_STATUS.get(event.action) or UPDATE_STATUS[Stage(event.to_stage)],
        "updated_datetime": event.at,
        "description": str(Stage(event.to_stage).label),
        "media_url": None,
    }
