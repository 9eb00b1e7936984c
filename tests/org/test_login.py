from django.urls import reverse

from org.models import ROLE_HOME, Role, RoleGrant
from tests.base import PASSWORD, BaseTestCase


class LoginTestCase(BaseTestCase):
    def test_it_logs_in_and_lands_on_the_role_page(self):
        response = self.client.post(
            reverse("login"), {"username": "chen", "password": PASSWORD}, follow=True
        )
        self.assertRedirects(response, reverse("cases:inbox"))
        self.assertTrue(response.context["user"].is_authenticated)

    def test_it_refuses_a_wrong_password_with_a_message(self):
        response = self.client.post(
            reverse("login"),
            {"username": "chen", "password": "wrong"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Please enter a correct")
        # What was typed is kept, so the person only retypes the password.
        self.assertContains(response, 'value="chen"')
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_logs_out(self):
        self.client.force_login(self.chen)
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"))
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertRedirects(
            self.client.get(reverse("cases:inbox")),
            reverse("login") + "?next=" + reverse("cases:inbox"),
        )

    def test_it_does_not_log_out_on_get(self):
        self.client.force_login(self.chen)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        self.assertIn("_auth_user_id", self.client.session)

    def test_it_sends_each_role_home(self):
        for role, person in self.personas.items():
            with self.subTest(role=role):
                self.client.force_login(person)
                response = self.client.get(reverse("home"))
                self.assertRedirects(response, reverse(ROLE_HOME[role]))

    def test_it_shows_a_person_without_roles_what_to_do(self):
        self.client.force_login(self.nobody)
        response = self.client.get(reverse("home"), follow=True, HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "Ask an administrator", status_code=403)

    def test_it_lands_a_person_with_two_roles_on_the_first_and_offers_both(self):
        RoleGrant.objects.create(user=self.li, role=Role.SHIFT_LEADER)
        self.client.force_login(self.li)
        response = self.client.get(reverse("home"), follow=True)
        self.assertRedirects(response, reverse("cases:approvals"))
        self.assertContains(response, f'href="{reverse("cases:desk")}"')
        self.assertContains(response, f'href="{reverse("cases:approvals")}"')


class RolePagesTestCase(BaseTestCase):
    def test_each_role_page_admits_its_role_only(self):
        for page_role, url_name in ROLE_HOME.items():
            url = reverse(url_name)
            for role, person in self.personas.items():
                with self.subTest(page=url_name, as_role=role):
                    self.client.force_login(person)
                    expected = 200 if role == page_role else 403
                    self.assertEqual(self.client.get(url).status_code, expected)
            with self.subTest(page=url_name, as_role="none"):
                self.client.force_login(self.nobody)
                self.assertEqual(self.client.get(url).status_code, 403)

    def test_each_role_page_sends_strangers_to_log_in(self):
        for url_name in ROLE_HOME.values():
            url = reverse(url_name)
            with self.subTest(page=url_name):
                self.assertRedirects(self.client.get(url), reverse("login") + "?next=" + url)

    def test_an_inactive_person_loses_their_roles(self):
        self.chen.is_active = False
        self.chen.save()
        self.assertFalse(self.chen.has_role(Role.OFFICER))
