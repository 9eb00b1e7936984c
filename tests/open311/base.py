"""An Open311 test world: the case world of tests/cases, and readers for both formats."""

import json
from xml.etree import ElementTree

from django.test import Client, TestCase

from tests.cases.base import CaseWorldMixin

BASE = "/open311/v2"
# The citizen of the hotline case that case_in(VERIFYING) makes.
CITIZEN = ("张三", "13800000000")


class EnglishClient(Client):
    """Asks for English, as the tests read messages in English; without the header
    GridGov answers in its default language (Chinese)."""

    def __init__(self, *args, **defaults):
        defaults.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
        super().__init__(*args, **defaults)


class Open311Mixin(CaseWorldMixin):
    client_class = EnglishClient

    def get(self, path: str, fmt: str = "json", expect: int = 200, **params):
        response = self.client.get(f"{BASE}/{path}.{fmt}", params)
        self.assertEqual(response.status_code, expect, response.content[:500])
        return response

    def get_json(self, path: str, expect: int = 200, **params):
        response = self.get(path, "json", expect, **params)
        self.assertTrue(response["Content-Type"].startswith("application/json"))
        return json.loads(response.content)

    def get_xml(self, path: str, expect: int = 200, **params) -> ElementTree.Element:
        response = self.get(path, "xml", expect, **params)
        return self.parse_xml(response)

    def parse_xml(self, response) -> ElementTree.Element:
        """Open311's XML: the declaration, no namespace, no attribute anywhere."""
        self.assertTrue(response["Content-Type"].startswith("text/xml"))
        self.assertTrue(
            response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>'),
            response.content[:80],
        )
        root = ElementTree.fromstring(response.content)
        for element in root.iter():
            self.assertNotIn("}", element.tag, "namespaced element")
            self.assertEqual(element.attrib, {}, f"attributes on <{element.tag}>")
        return root

    def assertNoPersonalData(self, response) -> None:
        body = response.content.decode()
        for secret in (*CITIZEN, "zhang@example.org", "李四", "13911112222", "王芳", "李军"):
            self.assertNotIn(secret, body)


class Open311TestCase(Open311Mixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()


def children(element: ElementTree.Element) -> list[str]:
    return [child.tag for child in element]


class CatalogueTestCase(Open311Mixin, TestCase):
    """Only the categories that the migrations seed: enough for discovery and services."""

    @classmethod
    def setUpTestData(cls):
        from cases.models import Category

        cls.category = Category.objects.get(full_code="E0102")
