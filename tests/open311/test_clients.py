"""Independently written Open311 clients from PyPI against a live GridGov server.

georeport 0.3.1 reads services, definitions and requests in JSON and in XML (through
xmltodict); civicbot 0.4.0 validates a report against the live service definition and
posts it as a form. A multipart upload is sent the way the Python clients that post
photos send it (requests' ``files={"media": ...}``).
"""

import pytest
import requests
from civicbot.http import HttpError, HttpTransport, RateLimiter
from civicbot.open311 import CONFIRM_TOKEN, Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

from cases.models import Case, Source, Stage
from keys.models import SCOPE_CASES_CREATE, ApiKey
from org.models import Role
from tests.base import make_person
from tests.cases.base import CaseWorldMixin, jpeg

pytestmark = pytest.mark.django_db(transaction=True)

JURISDICTION = "dongcheng.example"


@pytest.fixture
def world(transactional_db):
    class World(CaseWorldMixin):
        pass

    World.make_world()
    World.app = make_person("city-app", Role.SYSTEM, full_name="市民热线应用")
    World.key, World.raw = ApiKey.issue(
        name="civic app", user=World.app, scopes=[SCOPE_CASES_CREATE], all_areas=True
    )
    return World


def base_url(live_server) -> str:
    return live_server.url + "/open311/v2"


def civicbot(live_server) -> Open311Client:
    endpoint = Endpoint(id="gridgov", name="GridGov", base_url=base_url(live_server), write=True)
    # No politeness delay against our own test server.
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport=transport, jurisdiction_id=JURISDICTION)


def test_civicbot_validates_against_the_definition_and_posts(live_server, world):
    client = civicbot(live_server)
    sent = client.create_request(
        "E0102",
        dry_run=False,
        confirm=CONFIRM_TOKEN,
        api_key=world.raw,
        validate_remote=True,
        lat=39.9105,
        lng=116.4005,
        address_string="东华门大街 12 号",
        description="人行道上有一堆生活垃圾",
        attributes={"urgency": "urgent"},
        first_name="四",
        last_name="李",
        phone="13911112222",
        email="zhang@example.org",
    )
    assert isinstance(sent.response, list) and len(sent.response) == 1
    case = Case.objects.get(pk=int(sent.response[0]["service_request_id"]))
    assert (case.source, case.stage, case.urgency) == (Source.PUBLIC, Stage.VERIFYING, "urgent")
    assert case.grid is not None and case.reporter == world.app

    # Its own validation refuses a value the live definition does not list.
    from civicbot.open311 import ValidationError

    with pytest.raises(ValidationError, match="urgency"):
        client.create_request(
            "E0102",
            dry_run=False,
            confirm=CONFIRM_TOKEN,
            api_key=world.raw,
            validate_remote=True,
            lat=39.9105,
            lng=116.4005,
            attributes={"urgency": "panic"},
        )

    # Reads: one request, a list by ids, the token, all without personal data.
    one = client.get_request(case.pk)
    assert one["service_request_id"] == str(case.pk) and one["status"] == "open"
    listed = client.list_requests(service_request_ids=[case.pk], status="open")
    assert [r["service_request_id"] for r in listed] == [str(case.pk)]
    token = client.get_token(case.open311.token)
    assert token == [{"service_request_id": str(case.pk), "token": case.open311.token}]
    body = requests.get(f"{base_url(live_server)}/requests.json", timeout=10).text
    assert "13911112222" not in body and "zhang@example.org" not in body and "李" not in body

    # A wrong key: the server's 403 and Open311 error body reach the client.
    with pytest.raises(HttpError) as refused:
        client.create_request(
            "E0102", dry_run=False, confirm=CONFIRM_TOKEN, api_key="ggk_no.key", lat=39.9, lng=116.4
        )
    assert refused.value.status == 403
    assert '"code": 403' in refused.value.body

    # Outside every unit grid: accepted, and waiting at the dispatch desk.
    far = client.create_request(
        "E0102", dry_run=False, confirm=CONFIRM_TOKEN, api_key=world.raw, lat=40.0, lng=116.27
    )
    far_case = Case.objects.get(pk=int(far.response[0]["service_request_id"]))
    assert (far_case.grid, far_case.stage) == (None, Stage.REPORTED)


def test_georeport_reads_json_and_xml(live_server, world):
    # A report with a photo, posted multipart as the photo-posting Python clients do.
    with requests.Session() as session:
        response = session.post(
            f"{base_url(live_server)}/requests.json",
            data={
                "api_key": world.raw,
                "service_code": "E0102",
                "lat": "39.9105",
                "long": "116.4005",
                "description": "带照片的上报",
            },
            files={"media": ("pothole.jpg", jpeg(640, 480).read(), "image/jpeg")},
            timeout=20,
        )
    assert response.status_code == 200, response.text
    case_id = response.json()[0]["service_request_id"]

    for fmt in ("json", "xml"):
        client = GeoReport(base_url(live_server), jurisdiction=JURISDICTION, output_format=fmt)
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert "E0102" in codes
        garbage = services[codes.index("E0102")]
        assert garbage["metadata"] in (True, "true")
        assert garbage["type"] == "realtime"

        definition = client.get_service_definition("E0102")
        assert definition["service_code"] == "E0102"
        if fmt == "json":
            attributes = definition["attributes"]
        else:
            attribute = definition["attributes"]["attribute"]
            attributes = attribute if isinstance(attribute, list) else [attribute]
        assert "urgency" in [a["code"] for a in attributes]

        one = client.get_service_request(case_id)
        assert one["service_request_id"] == case_id
        assert one["status"] == "open"
        assert one["service_code"] == "E0102"
        assert float(one["lat"]) == 39.9105

        found = client.get_service_requests(
            service_code="E0102", status="open", start_date="2000-01-01T00:00:00Z"
        )
        # xmltodict gives a dict for a single <request>, a list for several.
        found = found if isinstance(found, list) else [found]
        assert case_id in [r["service_request_id"] for r in found]

        # The photo is published by the server, without its metadata.
        media = requests.get(one["media_url"], timeout=10)
        assert media.status_code == 200 and media.headers["Content-Type"] == "image/jpeg"
