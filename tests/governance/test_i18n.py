import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase
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

    def test_the_javascript_catalogue_is_asked_again_and_answered_304_until_it_changes(self):
        url = reverse("javascript-catalog")
        sending = json.dumps("正在发送")[1:-1]  # as the catalogue writes it, escaped
        chinese = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN")
        self.assertContains(chinese, sending)
        self.assertEqual(chinese["Cache-Control"], "private, no-cache")
        self.assertIn("Accept-Language", chinese["Vary"])
        self.assertIn("Cookie", chinese["Vary"])
        since = chinese["Last-Modified"]
        again = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN", HTTP_IF_MODIFIED_SINCE=since)
        self.assertEqual((again.status_code, again.content), (304, b""))
        older = "Mon, 01 Jan 2001 00:00:00 GMT"
        english = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en", HTTP_IF_MODIFIED_SINCE=older)
        self.assertEqual(english.status_code, 200)
        self.assertNotContains(english, sending)

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


class CataloguesTestCase(SimpleTestCase):
    """Every string the interface marks for translation has its Chinese text, so a
    Chinese reader never meets English in the middle of a page or an error."""

    def test_every_marked_string_is_translated(self):
        root = Path(settings.BASE_DIR)
        with tempfile.TemporaryDirectory() as tmp:
            # A copy of the sources: the catalogues are refreshed there as `make messages`
            # refreshes them, and the checkout is left alone.
            copy = Path(tmp) / "src"
            shutil.copytree(
                root,
                copy,
                ignore=shutil.ignore_patterns(
                    ".venv",
                    "var",
                    ".git",
                    "__pycache__",
                    "tests",
                    "bench",
                    "vendor",
                    "*.mo",
                    "test-artifacts",
                ),
            )
            for domain, ignored in (("django", ("tests", "bench")), ("djangojs", ())):
                subprocess.run(
                    [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain,
                     "--ignore=.venv", "--ignore=var", *(f"--ignore={i}" for i in ignored)],
                    cwd=copy, check=True, capture_output=True,
                )  # fmt: skip
            missing = []
            for catalogue in sorted(copy.rglob("zh_Hans/LC_MESSAGES/*.po")):
                for only in ("--untranslated", "--only-fuzzy"):
                    found = subprocess.run(
                        ["msgattrib", only, "--no-obsolete", "--no-wrap", str(catalogue)],
                        check=True, capture_output=True, text=True,
                    ).stdout  # fmt: skip
                    missing += [
                        f"{catalogue.relative_to(copy)}: {line[len('msgid ') :]}"
                        for line in found.splitlines()
                        if line.startswith("msgid ") and line != 'msgid ""'
                    ]
        self.assertEqual(missing, [])
