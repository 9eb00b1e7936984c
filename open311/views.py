"""Open311 GeoReport v2 at /open311/v2/ and discovery at /open311/discovery.{json,xml}.

Plain Django views rather than DRF: the protocol fixes its own URLs, formats, content
types, error bodies and status codes (200 for a POST), and outside clients post forms
without a CSRF token or a session, so DRF's negotiation, authentication and exception
handling would each have to be undone.
"""

import functools
import json
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from cases.models import Photo
from cases.photos import process_photo
from keys.models import SCOPE_CASES_CREATE, SCOPE_PERSONAL_DATA, ApiKey
from keys.throttling import ApiKeyRateThrottle

from . import formats, services
from .services import Open311Error, ReportInput

MAX_MEDIA = 5


def open311_view(methods=("GET", "HEAD")):
    """Open311 errors in the URL's format; no CSRF (outside clients hold no session)."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, fmt="json", **kwargs):
            if request.method not in methods:
                response = formats.errors(
                    fmt, 405, _("Use %(methods)s here.") % {"methods": " or ".join(methods)}
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as error:
                return formats.errors(fmt, error.status, *error.descriptions)

        return wrapper

    return decorator


def _endpoint_url(request) -> str:
    """The v2 base, from the host the client used, with no trailing slash."""
    services_url = reverse("open311:services", kwargs={"fmt": "json"})
    return request.build_absolute_uri(services_url.rsplit("/", 1)[0])


def _media_url(request):
    def absolute(pk: int) -> str:
        return request.build_absolute_uri(reverse("open311:media", kwargs={"pk": pk}))

    return absolute


def _discovery(request) -> dict:
    changeset = formats.w3c(services.CHANGESET)
    url = _endpoint_url(request)
    endpoint_formats = list(formats.BARE_CONTENT_TYPES[f] for f in ("xml", "json"))
    return {
        "changeset": changeset,
        "contact": _("GridGov dispatch centre"),
        "key_service": _("Ask the city's GridGov administrator for an API key."),
        # This server is the production endpoint; a test endpoint (a staging GridGov,
        # where a partner may file cases that no one acts on) only when one is set up.
        # Announcing this server as "test" had partners testing on real cases.
        "endpoints": [
            {
                "specification": services.SPECIFICATION,
                "url": where,
                "changeset": changeset,
                "type": kind,
                "formats": endpoint_formats,
            }
            for kind, where in (("production", url), ("test", settings.OPEN311_TEST_URL))
            if where
        ],
    }


@open311_view()
def discovery(request, fmt):
    return formats.render(fmt, "discovery", _discovery(request), bare=True)


def discovery_page(request):
    """The human-readable discovery the specification recommends."""
    context = {"discovery": _discovery(request), "services": services.service_list()}
    return render(request, "open311/discovery.html", context)


@open311_view()
def service_list(request, fmt):
    return formats.render(fmt, "services", services.service_list())


@open311_view()
def service_definition(request, code, fmt):
    return formats.render(fmt, "service_definition", services.service_definition(code))


def _report_input(request) -> ReportInput:
    """Form, multipart or JSON body; api_key and jurisdiction_id may also come in the
    query string (node-open311 and PyPI open311 put them there). Photos are read later,
    once the key is known to be good."""
    values: dict[str, list[str]] = {}
    content_type = request.content_type or ""
    try:
        if content_type.endswith("json"):
            values = _json_values(request.body)
        else:
            values = {key: list(items) for key, items in request.POST.lists()}
    except (RequestDataTooBig, MultiPartParserError):
        raise Open311Error(400, _("The request body is too large or malformed.")) from None
    for key, items in request.GET.lists():
        values.setdefault(key, list(items))
    return ReportInput(values=values)


def _json_values(raw: bytes) -> dict[str, list[str]]:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise Open311Error(400, _("The JSON body could not be read.")) from None
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise Open311Error(400, _("The JSON body must be an object."))
    values: dict[str, list[str]] = {}
    for key, value in body.items():
        if key == "attribute" and isinstance(value, dict):
            for code, answer in value.items():
                answers = answer if isinstance(answer, list) else [answer]
                values[f"attribute[{code}]"] = [str(a) for a in answers if a is not None]
        elif isinstance(value, list):
            values[key] = [str(v) for v in value if v is not None]
        elif value is not None:
            values[key] = [str(value).lower() if isinstance(value, bool) else str(value)]
    return values


def _photos(request) -> list:
    uploads = request.FILES.getlist("media")
    if len(uploads) > MAX_MEDIA:
        raise Open311Error(400, _("Send at most %(n)d photos.") % {"n": MAX_MEDIA})
    photos = []
    for upload in uploads:
        try:
            photos.append(process_photo(upload))
        except ValidationError as error:
            raise Open311Error(400, *error.messages) from None
    return photos


def _api_key(request, raw: str) -> ApiKey | None:
    """The active key the request names (api_key in the body or query, or an
    ``Authorization: Api-Key`` header), or None."""
    if not raw:
        scheme, _space, credential = request.headers.get("Authorization", "").partition(" ")
        raw = credential.strip() if scheme.lower() == "api-key" else ""
    return ApiKey.objects.authenticate(raw) if raw else None


def _within_rate(key: ApiKey) -> tuple[bool, float]:
    throttle = ApiKeyRateThrottle()
    allowed = throttle.allow_request(SimpleNamespace(auth=key), None)
    return allowed, throttle.wait()


def _create(request, fmt):
    data = _report_input(request)
    key = _api_key(request, data.get("api_key"))
    if key is None:
        raise Open311Error(403, _("Invalid api_key received: can't create a service request."))
    # Seen by the API request log, which records who acted and with which key.
    request.api_key, request.user = key, key.user
    if not key.has_scope(SCOPE_CASES_CREATE):
        raise Open311Error(403, _("This api_key may not create service requests."))
    allowed, wait = _within_rate(key)
    if not allowed:
        response = formats.errors(
            fmt, 429, _("Too many requests with this api_key: wait a minute.")
        )
        response["Retry-After"] = str(max(1, int(wait)))
        return response
    data.photos = _photos(request)
    record = services.request_create(data=data, reporter=key.user, key=key)
    answer = {
        "service_request_id": str(record.case_id),
        "service_notice": services.service_notice(record.case),
        "account_id": record.account_id or None,
    }
    # 200, not 201: the spec's example and the clients that follow it.
    return formats.render(fmt, "service_requests", [answer])


def _wants_extensions(request) -> bool:
    return (request.GET.get("extensions") or "").strip().lower() == "true"


@open311_view(methods=("GET", "HEAD", "POST"))
def requests(request, fmt):
    if request.method == "POST":
        return _create(request, fmt)
    query = services.parse_query(request.GET)
    found = services.find_requests(query, extensions=_wants_extensions(request))
    return _requests_response(request, fmt, found)


def _requests_response(request, fmt, cases) -> HttpResponse:
    writer = services.RequestWriter(
        absolute=_media_url(request),
        extensions=_wants_extensions(request),
        personal=_personal_reader(request),
    )
    return formats.render(fmt, "service_requests", [writer.write(case) for case in cases])


def _personal_reader(request):
    """Citizens' contact is shown to no one, except with ``extensions=true`` to a key that
    holds the personal-data scope, and then only for cases in the key's areas. A GET
    needs no key, so an unknown key just reads the public view."""
    if not _wants_extensions(request):
        return lambda case: False
    key = _api_key(request, (request.GET.get("api_key") or "").strip())
    if key is None or not key.has_scope(SCOPE_PERSONAL_DATA):
        return lambda case: False
    return key.may_see_case


@open311_view()
def request_detail(request, pk, fmt):
    case = services.find_request(pk, extensions=_wants_extensions(request))
    return _requests_response(request, fmt, [case])


@open311_view()
def request_updates(request, fmt):
    """FixMyStreet's ``servicerequestupdates``: each change of stage as an update."""
    events = services.find_updates(services.parse_query(request.GET))
    body = [services.update_out(event) for event in events]
    return formats.render(fmt, "service_request_updates", body)


@open311_view()
def token(request, token, fmt):
    record = services.find_token(token)
    body = [{"service_request_id": str(record.case_id), "token": record.token}]
    return formats.render(fmt, "service_requests", body)


def media(request, pk):
    """A photo a citizen sent through Open311 (already stripped of its metadata)."""
    photo = get_object_or_404(
        Photo.objects.select_related("case"),
        pk=pk,
        kind=Photo.Kind.BEFORE,
        case__open311__isnull=False,
    )
    if photo.uploaded_by_id != photo.case.reporter_id:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type="image/jpeg")


@csrf_exempt
def not_found(request, rest=""):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return formats.errors(
        fmt,
        404,
        _("No such Open311 resource. Use /open311/v2/<resource>.json or .xml."),
    )
