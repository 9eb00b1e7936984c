from django.urls import reverse

from org.models import Department, Role
from tests.base import BaseTestCase


class AdminAccessTestCase(BaseTestCase):
    def test_only_administrators_reach_the_admin(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                self.client.force_login(person)
                expected = 200 if role == Role.ADMINISTRATOR else 403
                self.assertEqual(self.client.get(reverse("admin:index")).status_code, expected)
                self.assertEqual(
                    self.client.get(reverse("admin:org_department_changelist")).status_code,
                    expected,
                )

    def test_a_stranger_is_sent_to_log_in(self):
        response = self.client.get(reverse("admin:index"), follow=True)
        self.assertRedirects(
            response,
            reverse("login") + "?next=" + reverse("admin:index"),
            fetch_redirect_response=False,
        )

    def test_an_administrator_edits_departments(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:org_department_add"),
            {
                "code": "landscaping",
                "name": "园林绿化局",
                "kind": Department.Kind.FUNCTIONAL,
                "parent": self.centre.pk,
                "is_active": "on",
                "memberships-TOTAL_FORMS": "0",
                "memberships-INITIAL_FORMS": "0",
            },
        )
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertEqual(Department.objects.get(code="landscaping").parent, self.centre)

    def test_an_officer_cannot_post_to_the_admin(self):
        self.client.force_login(self.chen)
        response = self.client.post(
            reverse("admin:org_department_add"),
            {"code": "x", "name": "x", "kind": Department.Kind.FUNCTIONAL},
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Department.objects.filter(code="x").exists())

    def test_the_admin_home_page_is_for_administrators(self):
        self.client.force_login(self.ada)
        response = self.client.get(reverse("org:admin_home"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(response, "never seen: start the Celery worker")
