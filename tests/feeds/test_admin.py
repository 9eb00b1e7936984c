"""Subscriptions and deliveries in the admin: administrators only; the secret shown once;
deliveries with their attempts; replay."""

from django.test import TestCase
from django.urls import reverse

from cases.models import CaseEvent
from feeds.models import Attempt, Delivery, Subscription
from org.models import Role
from tests.feeds.base import FeedWorldMixin


class FeedAdminTestCase(FeedWorldMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()
        cls.make_feeds()
        case = cls().to_sanitation()
        cls.event = CaseEvent.objects.get(case=case, action="dispatch")
        cls.delivery = Delivery.objects.create(
            subscription=cls.sanitation_feed,
            event=cls.event,
            action="dispatch",
            body=f'{{"id": {cls.event.pk}}}',
            status=Delivery.Status.FAILED,
            tries=6,
        )
        Attempt.objects.create(
            delivery=cls.delivery,
            status_code=502,
            response="<html>Bad gateway from the sanitation proxy</html>",
            error="HTTP 502",
            duration_ms=41,
            ok=False,
        )

    def pages(self):
        return [
            reverse("admin:feeds_subscription_changelist"),
            reverse("admin:feeds_subscription_add"),
            reverse("admin:feeds_subscription_change", args=[self.sanitation_feed.pk]),
            reverse("admin:feeds_subscription_secret", args=[self.sanitation_feed.pk]),
            reverse("admin:feeds_delivery_changelist"),
            reverse("admin:feeds_delivery_change", args=[self.delivery.pk]),
        ]

    def test_only_administrators_reach_the_feed_admin(self):
        for role, person in [*self.personas.items(), ("none", self.nobody)]:
            self.client.force_login(person)
            expected = 200 if role == Role.ADMINISTRATOR else 403
            for url in self.pages():
                with self.subTest(role=role, url=url):
                    self.assertEqual(self.client.get(url).status_code, expected)

    def test_other_roles_cannot_replay_or_regenerate(self):
        for role, person in self.personas.items():
            if role == Role.ADMINISTRATOR:
                continue
            self.client.force_login(person)
            with self.subTest(role=role):
                response = self.client.post(
                    reverse("admin:feeds_delivery_changelist"),
                    {"action": "replay", "_selected_action": [self.delivery.pk]},
                )
                self.assertEqual(response.status_code, 403)
                response = self.client.post(
                    reverse("admin:feeds_subscription_secret", args=[self.sanitation_feed.pk])
                )
                self.assertEqual(response.status_code, 403)
        self.delivery.refresh_from_db()
        self.assertEqual(self.delivery.status, Delivery.Status.FAILED)
        secret = self.sanitation_feed.secret
        self.sanitation_feed.refresh_from_db()
        self.assertEqual(self.sanitation_feed.secret, secret)

    def test_an_administrator_adds_a_subscription_and_sees_its_secret_once(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:feeds_subscription_add"),
            {
                "department": self.landscaping.pk,
                "name": "园林养护平台",
                "url": "https://yuanlin.example.gov.cn/hooks/gridgov",
                "events": ["dispatch", "escalate"],
                "is_active": "on",
            },
        )
        feed = Subscription.objects.get(name="园林养护平台")
        secret_page = reverse("admin:feeds_subscription_secret", args=[feed.pk])
        self.assertRedirects(response, secret_page, fetch_redirect_response=False)
        self.assertEqual(feed.events, ["dispatch", "escalate"])
        self.assertFalse(feed.include_personal_data)
        self.assertTrue(feed.secret.startswith("whsec_"))
        self.assertContains(self.client.get(secret_page), feed.secret)
        again = self.client.get(secret_page)
        self.assertNotContains(again, feed.secret)
        self.assertContains(again, feed.secret_hint)
        change = self.client.get(reverse("admin:feeds_subscription_change", args=[feed.pk]))
        self.assertNotContains(change, feed.secret)
        self.assertContains(change, feed.secret_hint)

    def test_a_new_secret_replaces_the_old_and_is_shown_once(self):
        self.client.force_login(self.ada)
        old = self.sanitation_feed.secret
        page = reverse("admin:feeds_subscription_secret", args=[self.sanitation_feed.pk])
        self.assertRedirects(self.client.post(page), page, fetch_redirect_response=False)
        self.sanitation_feed.refresh_from_db()
        self.assertNotEqual(self.sanitation_feed.secret, old)
        self.assertContains(self.client.get(page), self.sanitation_feed.secret)
        self.assertNotContains(self.client.get(page), self.sanitation_feed.secret)

    def test_the_event_choices_come_from_the_transition_table(self):
        self.client.force_login(self.ada)
        response = self.client.get(reverse("admin:feeds_subscription_add"))
        for action in ("dispatch", "accept", "report_done", "check_pass", "check_fail"):
            self.assertContains(response, f'value="{action}"')
        self.assertContains(response, 'value="approve_return"')
        self.assertContains(response, 'value="escalate"')
        self.assertContains(response, "X-GridGov-Signature")

    def test_bad_input_is_refused_with_a_message(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:feeds_subscription_add"),
            {
                "department": self.landscaping.pk,
                "name": "x",
                "url": "ftp://files.example.gov.cn/",
                "events": ["teleport"],
            },
        )
        self.assertEqual(response.status_code, 200)
        form = response.context["adminform"].form
        self.assertIn("events", form.errors)
        self.assertIn("url", form.errors)
        self.assertFalse(Subscription.objects.filter(name="x").exists())

    def test_a_delivery_shows_its_body_and_attempts_and_cannot_be_edited(self):
        self.client.force_login(self.ada)
        url = reverse("admin:feeds_delivery_change", args=[self.delivery.pk])
        response = self.client.get(url)
        self.assertContains(response, "Bad gateway from the sanitation proxy")
        self.assertContains(response, "HTTP 502")
        self.assertContains(response, "41")
        self.assertNotContains(response, 'name="_save"')
        self.assertEqual(self.client.post(url, {"status": "delivered"}).status_code, 403)
        self.delivery.refresh_from_db()
        self.assertEqual(self.delivery.status, Delivery.Status.FAILED)

    def test_deliveries_read_in_the_admins_language_and_time(self):
        from django.utils import timezone

        self.client.force_login(self.ada)
        listing = self.client.get(
            reverse("admin:feeds_delivery_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
        self.assertNotContains(listing, "Event id")
        self.assertNotContains(listing, "EVENT ID")
        # The event type by its name (in the rows and the filter), not the action's code.
        self.assertContains(listing, "派遣")
        self.assertNotContains(listing, ">dispatch<")
        filtered = self.client.get(
            reverse("admin:feeds_delivery_changelist"), {"action": "dispatch"}
        )
        self.assertEqual(list(filtered.context["cl"].queryset), [self.delivery])
        filtered = self.client.get(reverse("admin:feeds_delivery_changelist"), {"action": "close"})
        self.assertEqual(list(filtered.context["cl"].queryset), [])
        # An attempt's title is in the city's time, as the time beside it.
        attempt = self.delivery.attempts.get()
        page = self.client.get(reverse("admin:feeds_delivery_change", args=[self.delivery.pk]))
        self.assertContains(page, f"{timezone.localtime(attempt.at):%Y-%m-%d %H:%M:%S}")

    def test_the_subscription_list_counts_in_one_query(self):
        self.client.force_login(self.ada)
        url = reverse("admin:feeds_subscription_changelist")
        response = self.client.get(url)
        self.assertContains(response, "环卫派单系统")
        Subscription.objects.create(
            department=self.landscaping, name="第三个", url="https://x.example/", events=[]
        )
        # Session, person, roles, the department filter, two counts, then the rows with
        # their delivery counts: the same however many subscriptions there are.
        with self.assertNumQueries(7):
            self.client.get(url)

    def test_an_administrator_replays_the_failed_deliveries_of_a_subscription(self):
        self.client.force_login(self.ada)
        response = self.client.post(
            reverse("admin:feeds_subscription_changelist"),
            {"action": "replay_failed", "_selected_action": [self.sanitation_feed.pk]},
        )
        self.assertEqual(response.status_code, 302)
        self.delivery.refresh_from_db()
        self.assertEqual(self.delivery.status, Delivery.Status.PENDING)

    def test_an_administrator_replays_a_failed_delivery(self):
        self.client.force_login(self.ada)
        with self.captureOnCommitCallbacks() as callbacks:
            response = self.client.post(
                reverse("admin:feeds_delivery_changelist"),
                {"action": "replay", "_selected_action": [self.delivery.pk]},
            )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(len(callbacks), 1)  # the send is enqueued once committed
        self.delivery.refresh_from_db()
        self.assertEqual((self.delivery.status, self.delivery.tries), (Delivery.Status.PENDING, 0))
        self.assertIsNotNone(self.delivery.replayed_at)
        self.assertEqual(Delivery.objects.filter(event=self.event).count(), 1)
