import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.context_processors import unread_count
from notifications.models import Notification, Preference
from notifications.services import notify
from tests.base import BaseTestCase
from tests.cases.base import CaseTestCase

INBOX = reverse("notifications:inbox")
HOUR = datetime.timedelta(hours=1)


def unread_count_queries(queries) -> list[str]:
    table = Notification._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"]]


class InboxTestCase(BaseTestCase):
    def tell(self, person, key, **extra):
        notify([person], kind="test", title=f"Notice {key}", dedup_key=key, **extra)
        return Notification.objects.get(recipient=person, dedup_key=key)

    def get(self, url, person, **params):
        self.client.force_login(person)
        return self.client.get(url, params, HTTP_ACCEPT_LANGUAGE="en")

    def test_it_lists_my_notifications_newest_first(self):
        older = self.tell(self.chen, "a")
        Notification.objects.filter(pk=older.pk).update(
            created_at=timezone.now() - datetime.timedelta(hours=1)
        )
        newer = self.tell(self.chen, "b")
        self.tell(self.zhou, "c")
        response = self.get(INBOX, self.chen)
        self.assertEqual(response.status_code, 200)
        self.assertEqual([n.pk for n in response.context["page"]], [newer.pk, older.pk])
        self.assertNotContains(response, "Notice c")

    def test_every_signed_in_person_has_one(self):
        for person in [*self.personas.values(), self.nobody]:
            with self.subTest(person=person.username):
                self.tell(person, f"hello-{person.pk}")
                response = self.get(INBOX, person)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, f"Notice hello-{person.pk}")

    def test_anonymous_visitors_are_sent_to_log_in(self):
        response = self.client.get(INBOX)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])

    def test_a_notification_is_its_owners_alone(self):
        notice = self.tell(self.chen, "mine")
        for person in [p for p in self.personas.values() if p != self.chen] + [self.nobody]:
            with self.subTest(person=person.username):
                self.client.force_login(person)
                self.assertEqual(
                    self.client.get(reverse("notifications:open", args=[notice.pk])).status_code,
                    404,
                )
                self.assertEqual(
                    self.client.post(reverse("notifications:read", args=[notice.pk])).status_code,
                    404,
                )
                self.client.post(reverse("notifications:read_all"))
        notice.refresh_from_db()
        self.assertIsNone(notice.read_at)

    def test_a_link_never_leaves_the_site(self):
        notice = self.tell(self.chen, "away", url="https://evil.example/")
        self.client.force_login(self.chen)
        response = self.client.get(reverse("notifications:open", args=[notice.pk]))
        self.assertRedirects(response, INBOX, fetch_redirect_response=False)

    def test_it_marks_one_and_all_read(self):
        first, second, third = (self.tell(self.chen, key) for key in "abc")
        other = self.tell(self.zhou, "z")
        self.client.force_login(self.chen)
        self.client.post(reverse("notifications:read", args=[first.pk]))
        self.assertEqual(
            set(Notification.objects.filter(read_at__isnull=False).values_list("pk", flat=True)),
            {first.pk},
        )
        response = self.client.post(reverse("notifications:read_all"), {"next": INBOX})
        self.assertRedirects(response, INBOX, fetch_redirect_response=False)
        self.assertEqual(Notification.objects.filter(recipient=self.chen).unread().count(), 0)
        other.refresh_from_db()
        self.assertIsNone(other.read_at)

    def test_marking_read_needs_a_post(self):
        notice = self.tell(self.chen, "a")
        self.assertEqual(
            self.get(reverse("notifications:read", args=[notice.pk]), self.chen).status_code, 405
        )
        self.assertEqual(self.get(reverse("notifications:read_all"), self.chen).status_code, 405)

    def test_a_deferred_notification_is_hidden_until_due(self):
        later = timezone.now() + datetime.timedelta(hours=1)
        notice = self.tell(self.chen, "later", not_before=later)
        response = self.get(INBOX, self.chen)
        self.assertNotContains(response, "Notice later")
        self.assertEqual(response.context["unread_notifications"](), 0)
        self.assertEqual(
            self.client.get(reverse("notifications:open", args=[notice.pk])).status_code, 404
        )
        # Mark all read does not swallow what the person has not seen yet.
        self.client.post(reverse("notifications:read_all"))
        Notification.objects.filter(pk=notice.pk).update(
            not_before=timezone.now() - datetime.timedelta(seconds=1)
        )
        response = self.get(INBOX, self.chen)
        self.assertContains(response, "Notice later")
        self.assertEqual(response.context["unread_notifications"](), 1)

    def test_it_saves_the_email_digest_preference(self):
        self.client.force_login(self.chen)
        self.client.post(reverse("notifications:preferences"), {})
        self.assertFalse(Preference.objects.get(user=self.chen).email_digest)
        self.client.post(reverse("notifications:preferences"), {"email_digest": "on"})
        self.assertTrue(Preference.objects.get(user=self.chen).email_digest)


class HeaderCountTestCase(BaseTestCase):
    def test_the_header_shows_my_unread_count_on_every_page(self):
        for key in "abc":
            notify([self.chen], kind="t", title=key, dedup_key=key)
        notify([self.zhou], kind="t", title="z", dedup_key="z")
        Notification.objects.filter(recipient=self.chen, dedup_key="a").update(
            read_at=timezone.now()
        )
        self.client.force_login(self.chen)
        for url in (reverse("cases:inbox"), INBOX):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
                self.assertContains(
                    response, '<span id="unread-count" class="badge">2</span>', html=False
                )
        self.client.force_login(self.zhou)
        response = self.client.get(reverse("cases:overview"))
        self.assertContains(response, '<span id="unread-count" class="badge">1</span>')

    def test_nothing_unread_shows_no_number(self):
        self.client.force_login(self.li)
        response = self.client.get(reverse("cases:desk"))
        self.assertContains(response, '<span id="unread-count"></span>')

    def test_it_costs_one_capped_query_per_page(self):
        notify([self.chen], kind="t", title="x", dedup_key="x")
        self.client.force_login(self.chen)
        with CaptureQueriesContext(connection) as queries:
            self.client.get(reverse("cases:inbox"))
        counts = unread_count_queries(queries.captured_queries)
        self.assertEqual(len(counts), 1, counts)
        self.assertIn("LIMIT 100", counts[0].upper())

    def test_it_caps_the_number(self):
        for n in range(120):
            notify([self.chen], kind="t", title="x", dedup_key=f"k{n}")
        self.client.force_login(self.chen)
        response = self.client.get(reverse("cases:inbox"))
        self.assertContains(response, '<span id="unread-count" class="badge">99+</span>')

    def test_signed_out_pages_count_nothing(self):
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse("login"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(unread_count_queries(queries.captured_queries), [])


class InboxCaseLinkTestCase(CaseTestCase):
    def test_opening_one_marks_it_read_and_leads_to_its_case(self):
        case = self.report()
        notify([self.chen], kind="test", title="About a case", case=case, dedup_key="case")
        notice = Notification.objects.get(recipient=self.chen)
        self.client.force_login(self.chen)
        page = self.client.get(INBOX)
        self.assertContains(page, case.reference)
        self.assertContains(page, reverse("notifications:open", args=[notice.pk]))
        response = self.client.get(reverse("notifications:open", args=[notice.pk]))
        self.assertRedirects(
            response, reverse("cases:detail", args=[case.pk]), fetch_redirect_response=False
        )
        notice.refresh_from_db()
        self.assertIsNotNone(notice.read_at)


class UnreadCountTestCase(BaseTestCase):
    def test_it_counts_what_the_inbox_shows_as_unread(self):
        now = timezone.now()
        notify([self.chen], kind="t", title="due", dedup_key="a")
        notify([self.chen], kind="t", title="later", dedup_key="b", not_before=now + HOUR)
        notify([self.chen], kind="t", title="was deferred", dedup_key="c", not_before=now - HOUR)
        notify([self.chen], kind="t", title="read", dedup_key="d")
        Notification.objects.filter(dedup_key="d").update(read_at=now)
        notify([self.zhou], kind="t", title="not mine", dedup_key="e")
        expected = Notification.objects.inbox(self.chen).unread().count()
        self.assertEqual(expected, 2)
        self.assertEqual(unread_count(self.chen), expected)
        self.assertEqual(str(unread_count(self.chen)), "2")
