"""A world with cases in two streets, and helpers to call the API as a person or a key."""

import json

from django.contrib.gis.geos import Point
from django.core.cache import cache

from cases.models import Source
from cases.workflow import perform
from grids.models import Area, GridAssignment
from grids.services import grids_generate
from keys.models import ApiKey
from org.models import Role
from tests.base import make_person
from tests.cases.base import CaseWorldMixin, photo
from tests.grids.helpers import bbox


def reset_login_throttle() -> None:
    """Forget the test client's token requests. Not cache.clear(): on the services run the
    cache is the Redis database that also holds the Celery queues. API keys' counts need
    no reset: each key's count is named by its own random prefix."""
    cache.delete("throttle_login_127.0.0.1")


# Street B: another street of the same district, with one community of unit grids.
IN_STREET_B = Point(116.4105, 39.9205, srid=4326)


class ApiWorldMixin(CaseWorldMixin):
    """Case A lies in Wang's grids in street A and is dispatched to sanitation; case B lies
    in street B, reported by Qian and waiting to be filed; case H is a hotline report in
    street A with a citizen's name and phone."""

    @classmethod
    def make_api_world(cls):
        cls.make_world()
        cls.street_a = cls.community.parent
        cls.street_b = Area.objects.create(
            code="110101002",
            name="景山街道",
            level=Area.Level.STREET,
            parent=cls.street_a.parent,
            boundary=bbox(116.405, 39.915, 116.415, 39.925),
        )
        cls.community_b = Area.objects.create(
            code="110101002001",
            name="景山社区",
            level=Area.Level.COMMUNITY,
            parent=cls.street_b,
            boundary=bbox(116.410, 39.920, 116.412, 39.922),
        )
        cls.grids_b = grids_generate(community=cls.community_b, cell_size=100)
        for grid in cls.grids_b:
            GridAssignment.objects.create(grid=grid, worker=cls.qian, duty="responsible")
        cls.case_a = cls.case_in("dispatched")
        cls.case_b = cls.report(reporter=cls.qian, point=IN_STREET_B)
        cls.case_h = cls.report(
            source=Source.HOTLINE,
            reporter=cls.li,
            citizen_name="张三",
            citizen_phone="13800000000",
        )
        cls.hotline = make_person("hotline-12345", Role.DISPATCHER, full_name="12345 热线")
        cls.contractor = make_person(
            "sanitation-contractor",
            Role.OFFICER,
            department=cls.sanitation,
            full_name="环卫作业公司",
        )

    @classmethod
    def report(cls, **overrides):
        return CaseWorldMixin.report(cls, **overrides)

    @classmethod
    def case_in(cls, stage):
        return CaseWorldMixin.case_in(cls, stage)

    def setUp(self):
        reset_login_throttle()

    def key(self, *scopes, user=None, areas=None, **fields):
        """A key acting as the 12345 hotline's service account, in street A unless told."""
        name = fields.pop("name", "12345 hotline")
        if areas == "all":
            areas, fields["all_areas"] = [], True
        _, raw = ApiKey.issue(
            name=name,
            user=user or self.hotline,
            scopes=list(scopes),
            areas=[self.street_a] if areas is None else areas,
            **fields,
        )
        return raw

    def call(self, method, url, data=None, *, user=None, key=None, multipart=False, **extra):
        """A request as ``user`` (a session) or with API ``key``; JSON unless multipart."""
        self.client.logout()
        headers = {"HTTP_ACCEPT_LANGUAGE": "en", **extra}
        if key is not None:
            headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
        elif user is not None:
            self.client.force_login(user)
        handler = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return handler(url, data or {}, **headers)
        if multipart:
            return handler(url, data or {}, **headers)
        return handler(url, json.dumps(data or {}), content_type="application/json", **headers)

    def assertError(self, response, status, field=None, contains=""):
        self.assertEqual(response.status_code, status, response.content[:500])
        self.assertEqual(response["Content-Type"], "application/json")
        body = response.json()
        self.assertEqual(set(body), {"detail", "field"}, body)
        self.assertEqual(body["field"], field, body)
        self.assertIn(contains, body["detail"])
        return body


__all__ = ["ApiWorldMixin", "IN_STREET_B", "perform", "photo"]
