from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.base import BaseTestCase


class DocsTestCase(BaseTestCase):
    def test_the_reference_page_uses_the_vendored_redoc(self):
        self.client.force_login(self.wang)
        response = self.client.get(reverse("api-docs"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "vendor/redoc/redoc.standalone.js")
        self.assertContains(response, reverse("api-schema"))
        self.assertNotContains(response, "cdn.")
        self.assertNotContains(response, "googleapis")
        self.assertTrue(finders.find("vendor/redoc/redoc.standalone.js"))
        self.assertTrue(finders.find("vendor/redoc/LICENSE"))

    def test_the_schema_describes_credentials_and_errors(self):
        self.client.force_login(self.wang)
        schema = self.client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
        self.assertEqual(
            set(schema["components"]["securitySchemes"]),
            {"apiKey", "personalToken", "cookieAuth"},
        )
        self.assertEqual(schema["components"]["schemas"]["Error"]["required"], ["detail", "field"])
        act = schema["paths"]["/api/v1/cases/{id}/actions/{action}/"]["post"]
        self.assertIn("409", act["responses"])
        self.assertIn("multipart/form-data", act["requestBody"]["content"])
        for path in ("/api/v1/cases/", "/api/v1/categories/", "/api/v1/auth/token/"):
            self.assertIn(path, schema["paths"])

    def test_an_unknown_api_address_is_a_json_404(self):
        response = self.client.post("/api/v1/nothing/here/", HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"detail": "Not found.", "field": None})
