"""Discovery, the service list and service definitions, in JSON and XML."""

import datetime
import json

from django.utils import timezone

from cases.models import Category, FilingCondition
from tests.open311.base import BASE, CatalogueTestCase, children

SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]


class DiscoveryTestCase(CatalogueTestCase):
    def test_it_is_served_at_both_places_in_both_formats(self):
        for path in ("/open311/discovery", f"{BASE}/discovery"):
            response = self.client.get(f"{path}.json")
            self.assertEqual(response.status_code, 200)
            # SeeClickFix compares these exactly.
            self.assertEqual(response["Content-Type"], "application/json")
            response = self.client.get(f"{path}.xml")
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response["Content-Type"], "text/xml")

    def test_it_lists_this_server_as_production_and_a_test_endpoint_only_when_set(self):
        body = json.loads(self.client.get("/open311/discovery.json").content)
        self.assertEqual(set(body), {"changeset", "contact", "key_service", "endpoints"})
        changeset = datetime.datetime.fromisoformat(body["changeset"])
        self.assertLess(changeset, timezone.now())
        self.assertTrue(body["changeset"].endswith("Z"))
        # Not this server as "test": a partner testing there would file real cases.
        self.assertEqual([e["type"] for e in body["endpoints"]], ["production"])
        staging = "https://test.gridgov.example.org/open311/v2"
        with self.settings(OPEN311_TEST_URL=staging):
            both = json.loads(self.client.get("/open311/discovery.json").content)
        self.assertEqual(
            [(e["type"], e["url"]) for e in both["endpoints"]],
            [("production", "http://testserver/open311/v2"), ("test", staging)],
        )
        for endpoint in body["endpoints"]:
            self.assertEqual(endpoint["url"], "http://testserver/open311/v2")
            self.assertEqual(endpoint["specification"], "http://wiki.open311.org/GeoReport_v2")
            self.assertEqual(endpoint["formats"], ["text/xml", "application/json"])
            # The endpoint it announces works.
            self.assertEqual(self.client.get(endpoint["url"] + "/services.xml").status_code, 200)

    def test_it_builds_the_url_from_the_host_asked(self):
        body = json.loads(
            self.client.get("/open311/discovery.json", HTTP_HOST="localhost:8000").content
        )
        self.assertEqual(body["endpoints"][0]["url"], "http://localhost:8000/open311/v2")

    def test_people_get_an_html_version(self):
        for path in ("/open311/", "/open311/discovery.html"):
            response = self.client.get(path)
            self.assertEqual(response.status_code, 200)
            self.assertTrue(response["Content-Type"].startswith("text/html"))
            self.assertContains(response, "http://testserver/open311/v2")
            self.assertContains(response, "<code>E0102</code>", html=False)

    def test_its_xml_has_the_spec_structure(self):
        with self.settings(OPEN311_TEST_URL="https://test.gridgov.example.org/open311/v2"):
            response = self.client.get("/open311/discovery.xml")
        root = self.parse_xml(response)
        self.assertEqual(root.tag, "discovery")
        self.assertEqual(children(root), ["changeset", "contact", "key_service", "endpoints"])
        endpoints = root.find("endpoints")
        self.assertEqual(children(endpoints), ["endpoint", "endpoint"])
        endpoint = endpoints[0]
        self.assertEqual(
            children(endpoint), ["specification", "url", "changeset", "type", "formats"]
        )
        self.assertEqual(
            [f.text for f in endpoint.find("formats").findall("format")],
            ["text/xml", "application/json"],
        )


class ServiceListTestCase(CatalogueTestCase):
    def test_it_is_a_bare_array_of_active_leaf_categories(self):
        services = self.get_json("services")
        self.assertIsInstance(services, list)
        codes = [s["service_code"] for s in services]
        expected = list(
            Category.objects.filter(is_active=True, children__isnull=True, parent__isnull=False)
            .order_by("full_code")
            .values_list("full_code", flat=True)
        )
        self.assertEqual(codes, expected)
        self.assertIn("E0102", codes)
        self.assertNotIn("E01", codes)  # a major class is a group, not a service

    def test_each_service_has_the_spec_fields_and_types(self):
        for service in self.get_json("services"):
            self.assertEqual(list(service), SERVICE_FIELDS)
            self.assertIsInstance(service["service_code"], str)
            self.assertIs(service["metadata"], True)
            self.assertEqual(service["type"], "realtime")
            for name in ("service_name", "description", "keywords", "group"):
                self.assertIsInstance(service[name], str)
                self.assertTrue(service[name], f"{name} empty in {service}")

    def test_the_group_is_the_major_class(self):
        garbage = next(s for s in self.get_json("services") if s["service_code"] == "E0102")
        major = Category.objects.get(full_code="E01")
        self.assertEqual(garbage["group"], major.name_en)
        self.assertEqual(garbage["service_name"], self.category.name_en)

    def test_it_answers_in_chinese_unless_asked_otherwise(self):
        response = self.client.get(f"{BASE}/services.json", HTTP_ACCEPT_LANGUAGE="")
        garbage = next(s for s in json.loads(response.content) if s["service_code"] == "E0102")
        self.assertEqual(garbage["service_name"], self.category.name)
        self.assertEqual(garbage["group"], Category.objects.get(full_code="E01").name)
        # Bytes on the wire are UTF-8, not \u escapes.
        self.assertIn(self.category.name.encode(), response.content)

    def test_an_inactive_category_is_not_offered(self):
        Category.objects.filter(full_code="E0102").update(is_active=False)
        codes = [s["service_code"] for s in self.get_json("services")]
        self.assertNotIn("E0102", codes)
        self.get_json("services/E0102", expect=404)

    def test_its_xml_is_services_of_service(self):
        root = self.get_xml("services")
        self.assertEqual(root.tag, "services")
        self.assertEqual(set(children(root)), {"service"})
        first = root[0]
        self.assertEqual(children(first), SERVICE_FIELDS)
        self.assertEqual(first.find("metadata").text, "true")
        self.assertEqual(len(root), len(self.get_json("services")))

    def test_a_jurisdiction_id_is_ignored(self):
        self.assertEqual(
            self.get_json("services", jurisdiction_id="anything.example"), self.get_json("services")
        )


class ServiceDefinitionTestCase(CatalogueTestCase):
    def test_it_asks_urgency_of_every_service(self):
        definition = self.get_json("services/E0102")
        self.assertEqual(list(definition), ["service_code", "attributes"])
        self.assertEqual(definition["service_code"], "E0102")
        urgency = definition["attributes"][-1]
        self.assertEqual(urgency["code"], "urgency")
        self.assertEqual(urgency["datatype"], "singlevaluelist")
        self.assertIs(urgency["variable"], True)
        self.assertIs(urgency["required"], False)
        self.assertEqual([v["key"] for v in urgency["values"]], ["normal", "urgent"])

    def test_it_asks_which_filing_condition_when_there_are_several(self):
        extra = FilingCondition.objects.create(
            category=self.category,
            condition="主干道两侧暴露垃圾",
            limit_value=2,
            limit_unit="working_hours",
            closing_condition="垃圾已清运",
        )
        attributes = self.get_json("services/E0102")["attributes"]
        self.assertEqual([a["code"] for a in attributes], ["condition", "urgency"])
        self.assertEqual([a["order"] for a in attributes], [1, 2])
        condition = attributes[0]
        self.assertIn({"key": str(extra.pk), "name": "主干道两侧暴露垃圾"}, condition["values"])
        for attribute in attributes:
            self.assertIsInstance(attribute["order"], int)
            self.assertTrue(attribute["description"])
            self.assertTrue(attribute["datatype_description"])

    def test_its_xml_nests_attributes_and_values(self):
        root = self.get_xml("services/E0102")
        self.assertEqual(root.tag, "service_definition")
        self.assertEqual(children(root), ["service_code", "attributes"])
        attribute = root.find("attributes/attribute")
        self.assertEqual(
            children(attribute),
            [
                "variable",
                "code",
                "datatype",
                "required",
                "datatype_description",
                "order",
                "description",
                "values",
            ],
        )
        self.assertEqual(attribute.find("variable").text, "true")
        self.assertEqual(attribute.find("required").text, "false")
        value = attribute.find("values/value")
        self.assertEqual(children(value), ["key", "name"])

    def test_an_unknown_service_is_404_in_the_open311_error_format(self):
        errors = self.get_json("services/X9999", expect=404)
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["code"], 404)
        self.assertIn("X9999", errors[0]["description"])
        root = self.get_xml("services/X9999", expect=404)
        self.assertEqual(root.tag, "errors")
        self.assertEqual(children(root[0]), ["code", "description"])
        self.assertEqual(root.find("error/code").text, "404")
