"""How GeoReport v2 looks on the wire: its JSON and XML, and the dates it accepts.

Both formats are written from one structure, ``(root, value)``: the XML keeps the root
element and names every list item by its container (``services`` → ``service``); the JSON
drops the root (the "Spark convention"), so a list of services is a bare array and a
service definition a bare object. DRF's XML renderer writes ``<root><list-item>``, which no
Open311 client reads, hence this module.
"""

import datetime
import json
import re
from xml.etree import ElementTree

from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

FORMATS = ("json", "xml")
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# SeeClickFix compares discovery's content type exactly, without a charset.
BARE_CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# Container → item element; any other plural container loses its final "s".
ITEM_NAMES = {
    "service_requests": "request",
    "service_request_updates": "request_update",
    "media_urls": "media_url",
}


def w3c(moment: datetime.datetime | None) -> str | None:
    """UTC with a Z and whole seconds: 2026-11-29T06:30:00Z."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return w3c(value) or ""
    return str(value)


def _item_name(container: str) -> str:
    if container in ITEM_NAMES:
        return ITEM_NAMES[container]
    return container[:-1] if container.endswith("s") else "item"


def _element(name: str, value) -> ElementTree.Element:
    element = ElementTree.Element(name)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list | tuple):
        item = _item_name(name)
        for child in value:
            element.append(_element(item, child))
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, value) -> str:
    """No namespace, no attributes, elements in the order given, empty for null."""
    body = ElementTree.tostring(
        _element(root, value), encoding="unicode", short_empty_elements=True
    )
    return XML_DECLARATION + body


def _jsonable(value):
    if isinstance(value, datetime.datetime):
        return w3c(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=_jsonable)


def render(fmt: str, root: str, value, *, status: int = 200, bare: bool = False) -> HttpResponse:
    body = to_xml(root, value) if fmt == "xml" else to_json(value)
    content_type = (BARE_CONTENT_TYPES if bare else CONTENT_TYPES)[fmt]
    response = HttpResponse(body.encode("utf-8"), status=status, content_type=content_type)
    # Public data that changes with every transition: caches must ask again.
    response["Cache-Control"] = "no-cache"
    return response


def errors(fmt: str, status: int, *descriptions: str) -> HttpResponse:
    """[{"code": 400, "description": "…"}] or <errors><error>…</error></errors>."""
    body = [{"code": status, "description": str(text)} for text in descriptions]
    return render(fmt if fmt in FORMATS else "json", "errors", body, status=status)


# A "+HH:MM" that reached us as " HH:MM" (an unencoded + in a query string is a space).
_SPACE_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+(\d{2}:?\d{2})$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(value: str, *, end: bool = False) -> datetime.datetime | None:
    """A W3C datetime read leniently, or None when it is not one.

    Accepts Z, ±HH:MM and ±HHMM offsets, fractions of a second, a + that arrived as a
    space, a space instead of the T, naive values (in the server's time zone) and bare
    dates: their start, or with ``end`` the start of the next day, so that an end date
    includes the whole day.
    """
    text = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
    moment: datetime.datetime | None
    try:
        if _DATE_ONLY.match(text):
            day = parse_date(text)
            if day is None:
                return None
            if end:
                day += datetime.timedelta(days=1)
            moment = datetime.datetime.combine(day, datetime.time())
        else:
            moment = parse_datetime(text)
    except (ValueError, OverflowError):
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
