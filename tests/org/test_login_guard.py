"""Wrong passwords lock an account, and an address, for a while: on the log-in page and
through the API's token log-in alike; an administrator can unlock an account."""

import datetime

import time_machine
from django.contrib.admin.models import LogEntry
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from org import login_guard
from tests.base import PASSWORD, BaseTestCase

TOKEN = reverse("keys_api:token")
HERE, THERE = "10.0.0.1", "10.0.0.2"


class LoginGuardTestCase(BaseTestCase):
    def log_in(self, username, password, address=HERE):
        return self.client.post(
            reverse("login"),
            {"username": username, "password": password},
            REMOTE_ADDR=address,
            HTTP_ACCEPT_LANGUAGE="en",
        )

    def assertLoggedIn(self, response):
        self.assertEqual(response.status_code, 302, response.content[:300])
        self.assertIn("_auth_user_id", self.client.session)
        self.client.logout()

    def assertLocked(self, response, minutes=15):
        self.assertContains(response, "Too many wrong passwords")
        self.assertContains(response, f"refused for {minutes} more minutes")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(self):
        for _ in range(2):
            response = self.log_in("wang", "wrong")
            self.assertContains(response, "Please enter a correct")
            self.assertNotContains(response, "more wrong password")
        # The last two tries are counted down.
        self.assertContains(
            self.log_in("wang", "wrong"), "2 more wrong passwords lock this account for 15 minutes"
        )
        self.assertContains(self.log_in("wang", "wrong"), "1 more wrong password locks")
        self.assertLoggedIn(self.log_in("li", PASSWORD))  # others are not affected
        # The fifth says at once what it did.
        self.assertLocked(self.log_in("wang", "wrong"))
        self.assertLocked(self.log_in("wang", PASSWORD))
        # From another address too: the account is locked, not only the address.
        self.assertLocked(self.log_in("wang", PASSWORD, address=THERE))
        self.assertLoggedIn(self.log_in("li", PASSWORD, address=THERE))

    def test_a_right_password_starts_the_count_again(self):
        for _ in range(2):
            for _ in range(4):
                self.log_in("wang", "wrong")
            self.assertLoggedIn(self.log_in("wang", PASSWORD))

    def test_the_lock_ends_after_its_time(self):
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            for _ in range(5):
                self.log_in("wang", "wrong")
        with time_machine.travel(start + datetime.timedelta(minutes=10), tick=False):
            self.assertLocked(self.log_in("wang", PASSWORD), minutes=5)
        with time_machine.travel(start + datetime.timedelta(minutes=15, seconds=1), tick=False):
            self.assertLoggedIn(self.log_in("wang", PASSWORD))

    @override_settings(LOGIN_ADDRESS_FAILURES=3)
    def test_an_address_trying_password_after_password_on_every_account_is_locked(self):
        for username in ("wang", "li", "zhao"):
            self.log_in(username, "wrong", address=THERE)
        self.assertLocked(self.log_in("chen", PASSWORD, address=THERE))
        self.assertLoggedIn(self.log_in("chen", PASSWORD, address=HERE))

    def test_the_api_token_log_in_counts_and_is_refused_alike(self):
        def token(password):
            return self.client.post(
                TOKEN,
                {"username": "wang", "password": password},
                content_type="application/json",
                REMOTE_ADDR=HERE,
                HTTP_ACCEPT_LANGUAGE="en",
            )

        for _ in range(3):
            self.assertEqual(token("wrong").status_code, 401)
        for _ in range(2):
            self.log_in("wang", "wrong")  # the page and the API share the count
        response = token(PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many wrong passwords", response.json()["detail"])
        self.assertGreater(int(response["Retry-After"]), 14 * 60)
        self.assertLocked(self.log_in("wang", PASSWORD))

    def test_an_administrator_unlocks_an_account(self):
        for _ in range(5):
            self.log_in("wang", "wrong")
        self.assertLocked(self.log_in("wang", PASSWORD))
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:org_user_changelist"),
            {"action": "unlock_log_in", "_selected_action": [self.wang.pk]},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="en",
        )
        self.assertContains(response, "1 account may log in again.")
        entry = LogEntry.objects.get(object_id=str(self.wang.pk))
        self.assertEqual(entry.user, self.ada)
        self.assertIn("Unlocked log-in", entry.get_change_message())
        self.client.logout()
        self.assertLoggedIn(self.log_in("wang", PASSWORD))

    def test_a_session_lasts_a_shift(self):
        response = self.log_in("li", PASSWORD)
        self.assertEqual(response.cookies["sessionid"]["max-age"], 12 * 3600)


class LoginGuardCacheTestCase(BaseTestCase):
    """The counts in the cache the product uses (Redis, or files when embedded): what
    the page tests above do in memory, with that backend's add, incr and expiry."""

    @override_settings(LOGIN_GUARD_CACHE="default", LOGIN_FAILURES=3)
    def test_counts_and_locks_in_the_products_cache(self):
        # Any user name: spaces, other scripts, the longest the form takes.
        name = f"guard check 值班长 {self.id()}".ljust(150, "x")
        login_guard.unlock(username=name)
        try:
            for _ in range(2):
                login_guard.failed(name, None)
            self.assertEqual(login_guard.locked_for(name, None), 0)
            login_guard.failed(name, None)
            self.assertGreater(login_guard.locked_for(name, None), 14 * 60)
            login_guard.unlock(username=name)
            self.assertEqual(login_guard.locked_for(name, None), 0)
        finally:
            login_guard.unlock(username=name)
