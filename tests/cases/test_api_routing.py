from django.urls import reverse

from cases.models import Category, DepartmentPolicy, RoutingRule, Urgency, WorkingCalendar
from grids.models import Area
from org.models import Role
from tests.base import make_person
from tests.cases.base import INSIDE, CaseTestCase

DRY_RUN = reverse("routing-dry-run")
OUTSIDE = (116.30, 39.80)


class DryRunApiTestCase(CaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.rule_urgent = RoutingRule.objects.create(
            name="紧急案件", priority=10, urgency=Urgency.URGENT, department=cls.centre
        )
        cls.rule_street = RoutingRule.objects.create(
            name="街道市容",
            priority=50,
            category=Category.objects.get(full_code="E01"),
            area=Area.objects.get(code="110101001"),
            department=cls.sanitation,
        )
        cls.zheng = make_person("zheng", Role.OFFICER, department=cls.sanitation)
        # Round the clock, so that an officer is on duty whenever the test runs.
        cls.always = WorkingCalendar.objects.create(
            name="24小时",
            periods={str(d): [["00:00", "23:59:59.999999"]] for d in range(7)},
            follows_national=False,
        )
        DepartmentPolicy.objects.create(department=cls.sanitation, calendar=cls.always)

    def query(self, **overrides):
        params = {"lon": INSIDE.x, "lat": INSIDE.y, "category": self.category.full_code}
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}

    def get(self, person=None, **overrides):
        if person is not False:
            self.client.force_login(person or self.li)
        return self.client.get(DRY_RUN, self.query(**overrides), HTTP_ACCEPT_LANGUAGE="en")

    def assertBadRequest(self, response, field):
        self.assertEqual(response.status_code, 400, response.content)
        self.assertEqual(response["Content-Type"], "application/json")
        body = response.json()
        self.assertEqual(body["field"], field, body)
        self.assertTrue(body["detail"])
        return body["detail"]

    def test_it_gives_the_rule_department_assignee_and_reasons(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(
            body["rule"],
            {
                "id": self.rule_street.pk,
                "name": "街道市容",
                "priority": 50,
                "scope": ["category E01 and below", "in Street 东华门街道"],
            },
        )
        self.assertEqual(body["department"], {"id": self.sanitation.pk, "name": "环卫中心"})
        self.assertEqual(body["assignee"], {"id": self.chen.pk, "name": "陈杰"})
        self.assertIsNone(body["assignee_note"])
        self.assertIn("街道市容", body["why"])
        self.assertEqual(
            [(r["rule"]["name"], r["matched"]) for r in body["reasons"]],
            [("紧急案件", False), ("街道市容", True)],
        )
        self.assertEqual(body["reasons"][0]["why"], "urgency is not Urgent")
        self.assertTrue(body["location"]["covered"])
        self.assertEqual(body["location"]["street"]["code"], "110101001")

    def test_it_is_the_same_decision_as_the_page(self):
        self.client.force_login(self.li)
        page = self.client.get(
            reverse("cases:routing"),
            {"lon": INSIDE.x, "lat": INSIDE.y, "category": self.category.pk, "urgency": "urgent"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        decision = page.context["result"]["decision"]
        body = self.get(urgency="urgent", category=str(self.category.pk)).json()
        self.assertEqual(body["rule"]["id"], decision.rule.pk)
        self.assertEqual(body["department"]["id"], decision.department.pk)
        self.assertEqual(
            [(r["rule"]["id"], r["matched"], r["why"]) for r in body["reasons"]],
            [(rule.pk, ok, str(why)) for rule, ok, why in decision.trace],
        )

    def test_a_dry_run_does_not_move_the_round_robin(self):
        first = self.get().json()["assignee"]
        second = self.get().json()["assignee"]
        self.assertEqual(first, second)
        self.assertIsNone(DepartmentPolicy.objects.get(department=self.sanitation).last_assigned)

    def test_it_says_why_nobody_would_be_assigned(self):
        DepartmentPolicy.objects.filter(department=self.sanitation).update(
            calendar=WorkingCalendar.objects.create(name="never", periods={})
        )
        body = self.get().json()
        self.assertIsNone(body["assignee"])
        self.assertIn("Off duty", body["assignee_note"])

    def test_no_rule_means_the_dispatchers_queue(self):
        body = self.get(lon=OUTSIDE[0], lat=OUTSIDE[1]).json()
        self.assertEqual((body["rule"], body["department"], body["assignee"]), (None, None, None))
        self.assertIn("waits for a dispatcher", body["why"])
        self.assertFalse(body["location"]["covered"])
        self.assertEqual([r["matched"] for r in body["reasons"]], [False, False])

    def test_dispatchers_and_administrators_may_ask(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                response = self.get(person)
                if role in (Role.DISPATCHER, Role.ADMINISTRATOR):
                    self.assertEqual(response.status_code, 200)
                else:
                    self.assertEqual(response.status_code, 403)
                    self.assertEqual(response["Content-Type"], "application/json")
                    self.assertIn("dispatchers and administrators", response.json()["detail"])

    def test_it_refuses_people_without_a_role_and_anonymous_callers(self):
        self.assertEqual(self.get(self.nobody).status_code, 403)
        self.client.logout()
        # No credentials: 401, naming the scheme to use.
        response = self.get(False)
        self.assertEqual(response.status_code, 401)
        self.assertIn("credentials were not provided", response.json()["detail"])
        self.assertTrue(response.has_header("WWW-Authenticate"))
        self.li.is_active = False
        self.li.save()
        self.assertEqual(self.get(self.li).status_code, 401)

    def test_bad_input_names_its_field(self):
        self.assertIn("valid number", self.assertBadRequest(self.get(lon="east"), "lon"))
        self.assertBadRequest(self.get(lat=95), "lat")
        self.assertIn("required", self.assertBadRequest(self.get(category=None), "category"))
        self.assertIn("no category", self.assertBadRequest(self.get(category="E9999"), "category"))
        # A major class is not something a case is filed under.
        self.assertBadRequest(self.get(category="E01"), "category")
        self.assertBadRequest(self.get(urgency="very"), "urgency")
        self.assertIn("Unknown parameter", self.assertBadRequest(self.get(radius=5), "radius"))

    def test_it_is_in_the_openapi_schema(self):
        self.client.force_login(self.li)
        response = self.client.get(reverse("api-schema"), {"format": "json"})
        self.assertEqual(response.status_code, 200)
        operation = response.json()["paths"]["/api/v1/routing/dry-run"]["get"]
        self.assertEqual(
            {p["name"] for p in operation["parameters"]}, {"lon", "lat", "category", "urgency"}
        )
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        self.assertIn("DryRun", schema["$ref"])
