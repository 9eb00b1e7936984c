import datetime
import os
import subprocess
import sys
import uuid

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.db.models import ProtectedError
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import timezone

from governance.db import version_token
from keys.models import ApiKey, ApiRequestLog, CredentialsVersion, PersonalToken
from org.models import Membership, Role, RoleGrant, User
from tests.api.base import reset_login_throttle
from tests.base import PASSWORD, BaseTestCase, make_person
from tests.grids.helpers import make_areas

AREAS = reverse("grids_api:areas")
TOKEN = reverse("keys_api:token")
REVOKE = reverse("keys_api:token-revoke")


class KeyTestCase(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.service = make_person("hotline-12345", Role.DISPATCHER, full_name="12345 热线")

    def setUp(self):
        reset_login_throttle()

    def issue(self, **fields):
        fields = {"name": "12345 hotline", "user": self.service, "all_areas": True, **fields}
        return ApiKey.issue(**fields)

    def get(self, url, **headers):
        return self.client.get(url, HTTP_ACCEPT_LANGUAGE="en", **headers)


class ApiKeyTestCase(KeyTestCase):
    def test_it_stores_only_a_digest_of_the_secret(self):
        key, raw = self.issue()
        self.assertTrue(raw.startswith(f"ggk_{key.prefix}."))
        secret = raw.partition(".")[2]
        stored = ApiKey.objects.filter(pk=key.pk).values().get()
        self.assertNotIn(secret, str(stored))
        self.assertEqual(ApiKey.objects.authenticate(raw), key)

    def test_it_refuses_a_wrong_or_malformed_key(self):
        key, raw = self.issue()
        for wrong in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), "", "ggk_", raw.split(".")[0]):
            with self.subTest(wrong=wrong):
                self.assertIsNone(ApiKey.objects.authenticate(wrong))
        self.assertIsNone(ApiKey.objects.authenticate("ggt_" + raw[4:]))

    def test_it_refuses_an_inactive_expired_or_orphan_key(self):
        key, raw = self.issue()
        ApiKey.objects.filter(pk=key.pk).update(is_active=False)
        self.assertIsNone(ApiKey.objects.authenticate(raw))
        ApiKey.objects.filter(pk=key.pk).update(
            is_active=True, expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
        self.assertIsNone(ApiKey.objects.authenticate(raw))
        ApiKey.objects.filter(pk=key.pk).update(expires_at=None)
        self.service.is_active = False
        self.service.save()
        self.assertIsNone(ApiKey.objects.authenticate(raw))

    def test_it_authenticates_by_header_query_and_form(self):
        key, raw = self.issue()
        self.assertEqual(self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code, 200)
        self.assertEqual(self.get(f"{AREAS}?api_key={raw}").status_code, 200)
        key.refresh_from_db()
        self.assertIsNotNone(key.last_used_at)

    def test_it_answers_401_in_json_for_a_bad_key(self):
        response = self.get(AREAS, HTTP_AUTHORIZATION="Api-Key ggk_nothing.here")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], 'Token realm="api"')
        self.assertEqual(response.json()["field"], None)
        self.assertIn("not valid", response.json()["detail"])

    def test_it_acts_only_with_the_service_accounts_roles(self):
        bare = make_person("bare-service")
        _, raw = self.issue(user=bare)
        response = self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {raw}")
        self.assertEqual(response.status_code, 403)
        self.assertIn("no role", response.json()["detail"])

    def test_it_limits_requests_per_minute_with_a_json_429(self):
        _, raw = self.issue(rate_limit=3)
        statuses = [
            self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code for _ in range(5)
        ]
        self.assertEqual(statuses, [200, 200, 200, 429, 429])
        response = self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {raw}")
        self.assertIn("throttled", response.json()["detail"])
        self.assertTrue(response["Retry-After"])
        # Another key has its own count.
        _, other = self.issue(name="other", rate_limit=3)
        self.assertEqual(self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {other}").status_code, 200)


class CredentialsKeptTestCase(KeyTestCase):
    """A process keeps the credentials it checked, with their people's roles,
    departments and areas, while ``CredentialsVersion`` holds: one small read per
    request, and every change is seen by the next request."""

    def test_each_change_reaches_the_next_request_and_last_use_changes_nothing(self):
        key, raw = self.issue(scopes=["cases:read"], all_areas=False, areas=[])
        first = ApiKey.objects.authenticate(raw)
        self.assertIn(Role.DISPATCHER, first.user.roles)
        with self.assertNumQueries(1):  # the token; the last use was just written
            again = ApiKey.objects.authenticate(raw)
            self.assertEqual((again.scopes, again.area_ids), (["cases:read"], frozenset()))
            self.assertIn(Role.DISPATCHER, again.user.roles)
        # Each request has its own copy of what is kept.
        self.assertIsNot(again, first)
        again.user.full_name = "改过"
        self.assertEqual(ApiKey.objects.authenticate(raw).user.full_name, "12345 热线")

        before = version_token(CredentialsVersion)
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        self.assertEqual(version_token(CredentialsVersion), before)

        ApiKey.objects.filter(pk=key.pk).update(scopes=["cases:read", "cases:create"])
        self.assertEqual(ApiKey.objects.authenticate(raw).scopes, ["cases:read", "cases:create"])
        _district, area, _community = make_areas()
        key.areas.set([area])
        self.assertEqual(ApiKey.objects.authenticate(raw).area_ids, frozenset([area.pk]))
        RoleGrant.objects.filter(user=self.service).delete()
        self.assertEqual(ApiKey.objects.authenticate(raw).user.roles, frozenset())
        RoleGrant.objects.create(user=self.service, role=Role.SHIFT_LEADER)
        Membership.objects.create(user=self.service, department=self.sanitation)
        kept = ApiKey.objects.authenticate(raw)
        self.assertEqual(kept.user.roles, frozenset([Role.SHIFT_LEADER]))
        self.assertEqual(kept.user.department_ids, frozenset([self.sanitation.pk]))
        User.objects.filter(pk=self.service.pk).update(is_active=False)
        self.assertIsNone(ApiKey.objects.authenticate(raw))
        User.objects.filter(pk=self.service.pk).update(is_active=True)
        self.assertIsNotNone(ApiKey.objects.authenticate(raw))
        ApiKey.objects.filter(pk=key.pk).update(is_active=False)
        self.assertIsNone(ApiKey.objects.authenticate(raw))

    def test_an_expiry_is_checked_on_every_request(self):
        key, raw = self.issue(expires_at=timezone.now() + datetime.timedelta(seconds=1))
        self.assertIsNotNone(ApiKey.objects.authenticate(raw))
        ApiKey.objects.filter(pk=key.pk).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
        self.assertIsNone(ApiKey.objects.authenticate(raw))

    def test_a_revoked_personal_token_ends_at_once(self):
        token, raw = PersonalToken.issue(user=self.zhou)
        self.assertEqual(PersonalToken.objects.authenticate(raw).user, self.zhou)
        PersonalToken.objects.filter(pk=token.pk).update(is_active=False)
        self.assertIsNone(PersonalToken.objects.authenticate(raw))


class ApiKeyAdminTestCase(KeyTestCase):
    def test_it_shows_a_new_key_once_to_an_administrator(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:keys_apikey_add"),
            {
                "name": "Sanitation contractor",
                "user": self.service.pk,
                "scopes": ["cases:read", "cases:act:accept"],
                "all_areas": "on",
                "rate_limit": 60,
                "is_active": "on",
            },
        )
        self.assertEqual(response.status_code, 200, response.content[:2000])
        key = ApiKey.objects.get(name="Sanitation contractor")
        self.assertEqual(key.scopes, ["cases:read", "cases:act:accept"])
        raw = response.context["raw_key"]
        self.assertContains(response, raw)
        self.assertIn("no-store", response["Cache-Control"])
        self.assertEqual(ApiKey.objects.authenticate(raw), key)
        page = self.client.get(reverse("admin:keys_apikey_change", args=[key.pk]))
        self.assertNotContains(page, raw.partition(".")[2])

    def test_it_keeps_keys_from_everyone_but_administrators(self):
        for role, person in self.personas.items():
            if role == Role.ADMINISTRATOR:
                continue
            with self.subTest(role=role):
                self.client.force_login(person)
                response = self.client.get(reverse("admin:keys_apikey_changelist"))
                self.assertEqual(response.status_code, 403)

    def test_a_key_that_acted_is_revoked_not_deleted(self):
        used, raw = self.issue(name="12345 hotline")
        unused, _raw = self.issue(name="made by mistake")
        self.client.post(REVOKE, HTTP_AUTHORIZATION=f"Api-Key {raw}")  # logged, with the key
        self.client.force_login(self.ada)
        change = self.client.get(reverse("admin:keys_apikey_change", args=[used.pk]))
        self.assertNotContains(change, reverse("admin:keys_apikey_delete", args=[used.pk]))
        delete = self.client.post(
            reverse("admin:keys_apikey_delete", args=[used.pk]), {"post": "yes"}
        )
        self.assertEqual(delete.status_code, 403)
        changelist = self.client.get(reverse("admin:keys_apikey_changelist"))
        actions = [
            name for name, _label in changelist.context["action_form"].fields["action"].choices
        ]
        self.assertIn("issue_new_secret", actions)
        self.assertNotIn("delete_selected", actions)
        # Nor through the ORM: the log keeps naming the key.
        with self.assertRaises(ProtectedError):
            used.delete()
        self.assertEqual(ApiRequestLog.objects.get().api_key, used)
        # Revoking it: the next request with it is refused.
        self.client.post(
            reverse("admin:keys_apikey_change", args=[used.pk]),
            {"name": used.name, "user": self.service.pk, "all_areas": "on", "rate_limit": 60},
        )
        used.refresh_from_db()
        self.assertFalse(used.is_active)
        self.assertEqual(self.get(AREAS, HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code, 401)
        # A key that never acted may go.
        change = self.client.get(reverse("admin:keys_apikey_change", args=[unused.pk]))
        self.assertContains(change, reverse("admin:keys_apikey_delete", args=[unused.pk]))
        self.client.post(reverse("admin:keys_apikey_delete", args=[unused.pk]), {"post": "yes"})
        self.assertFalse(ApiKey.objects.filter(pk=unused.pk).exists())


class PersonalTokenTestCase(KeyTestCase):
    def obtain(self, username="zhou", password=PASSWORD):
        return self.client.post(
            TOKEN,
            {"username": username, "password": password},
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    def test_it_gives_a_token_for_a_password_and_acts_as_the_person(self):
        response = self.obtain()
        self.assertEqual(response.status_code, 201, response.content)
        raw = response.json()["token"]
        self.assertEqual(PersonalToken.objects.get().user, self.zhou)
        for scheme in ("Token", "Bearer"):
            reply = self.get(AREAS, HTTP_AUTHORIZATION=f"{scheme} {raw}")
            self.assertEqual(reply.status_code, 200)

    def test_it_refuses_a_wrong_password_or_a_person_without_role(self):
        response = self.obtain(password="wrong")
        self.assertEqual(response.status_code, 401)
        self.assertIn("Wrong user name or password", response.json()["detail"])
        self.assertEqual(self.obtain(username="nobody").status_code, 403)
        response = self.client.post(TOKEN, {}, content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "username")
        self.assertFalse(PersonalToken.objects.exists())

    def test_it_revokes_the_token(self):
        raw = self.obtain().json()["token"]
        auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
        self.assertEqual(self.client.post(REVOKE, **auth).status_code, 204)
        self.assertEqual(self.get(AREAS, **auth).status_code, 401)

    def test_sessions_keep_working(self):
        self.client.force_login(self.zhou)
        self.assertEqual(self.get(AREAS).status_code, 200)

    def test_it_logs_writes_with_who_and_which_key(self):
        self.obtain()
        entry = ApiRequestLog.objects.get()
        self.assertEqual((entry.method, entry.path, entry.status), ("POST", TOKEN, 201))
        _, raw = self.issue()
        self.client.post(REVOKE, HTTP_AUTHORIZATION=f"Api-Key {raw}")
        entry = ApiRequestLog.objects.latest("id")
        self.assertEqual(entry.user, self.service)
        self.assertEqual(entry.api_key.name, "12345 hotline")
        self.assertEqual(entry.status, 400)


class SharedCacheTestCase(SimpleTestCase):
    def test_rate_counts_are_shared_between_processes(self):
        """gunicorn runs several processes: a count made in one is seen by the others
        (Redis with REDIS_URL, else files in var/; never per-process memory)."""
        name = f"shared-{uuid.uuid4().hex}"
        script = (
            "import django; django.setup(); from django.core.cache import cache; "
            f"cache.set({name!r}, 41, 60); cache.incr({name!r})"
        )
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings"}
        subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=settings.BASE_DIR)
        self.assertEqual(cache.get(name), 42)
        expected = RedisCache if settings.REDIS_URL else FileBasedCache
        self.assertIsInstance(caches["default"], expected)
