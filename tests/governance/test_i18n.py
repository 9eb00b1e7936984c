from django.urls import reverse

from tests.base import BaseTestCase


class LanguageTestCase(BaseTestCase):
    def test_it_switches_to_chinese(self):
        self.client.post(reverse("set_language"), {"language": "en"})
        self.assertContains(self.client.get(reverse("login")), "Log in")
        response = self.client.post(
            reverse("set_language"), {"language": "zh-hans", "next": reverse("login")}, follow=True
        )
        self.assertContains(response, "登录")
        self.assertContains(response, 'lang="zh-hans"')
        self.assertNotContains(response, ">Log in<")

    def test_it_follows_the_browser_language(self):
        response = self.client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
        self.assertContains(response, "Log in")
        response = self.client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
        self.assertContains(response, "登录")

    def test_role_pages_are_translated(self):
        self.client.force_login(self.chen)
        self.client.post(reverse("set_language"), {"language": "zh-hans"})
        response = self.client.get(reverse("cases:inbox"))
        self.assertContains(response, "部门待办")
        self.assertContains(response, "退出")
