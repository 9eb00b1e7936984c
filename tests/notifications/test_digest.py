import datetime
import threading

from django.core import mail
from django.db import connection, transaction
from django.test import TransactionTestCase, skipUnlessDBFeature
from django.utils import timezone

from notifications.digest import claim_digests, deliver, digests_send
from notifications.models import Notification, Preference
from notifications.services import notify
from tests.base import BaseTestCase, PersonasMixin


def with_emails(*people):
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])


class DigestTestCase(BaseTestCase):
    def setUp(self):
        with_emails(self.chen, self.zhou, self.li)

    def test_it_sends_one_email_per_person(self):
        for key in "abc":
            notify([self.chen, self.zhou], kind="t", title=f"Notice {key}", dedup_key=key)
        notify([self.li], kind="t", title="Notice d", dedup_key="d")
        self.assertEqual(digests_send(), 3)
        by_address = {tuple(m.to): m for m in mail.outbox}
        self.assertEqual(
            sorted(by_address), [("chen@example.org",), ("li@example.org",), ("zhou@example.org",)]
        )
        chen = by_address[("chen@example.org",)]
        for key in "abc":
            self.assertIn(f"Notice {key}", chen.body)
        self.assertNotIn("Notice d", chen.body)
        self.assertIn("3", chen.subject)
        self.assertEqual(Notification.objects.filter(emailed_at__isnull=True).count(), 0)

    def test_it_never_sends_a_notification_twice(self):
        notify([self.chen], kind="t", title="Once", dedup_key="a")
        self.assertEqual(digests_send(), 1)
        self.assertEqual(digests_send(), 0)
        notify([self.chen], kind="t", title="Later news", dedup_key="b")
        self.assertEqual(digests_send(), 1)
        self.assertEqual(len(mail.outbox), 2)
        self.assertNotIn("Once", mail.outbox[1].body)
        self.assertIn("Later news", mail.outbox[1].body)

    def test_it_skips_people_without_an_address_or_who_turned_it_off(self):
        Preference.objects.create(user=self.zhou, email_digest=False)
        notify([self.chen, self.zhou, self.wang], kind="t", title="x", dedup_key="a")
        self.assertEqual(digests_send(), 1)
        self.assertEqual([m.to for m in mail.outbox], [["chen@example.org"]])
        # Settled, so the sweep does not read them again every run.
        self.assertEqual(Notification.objects.due_for_email().count(), 0)
        # Still in their inboxes.
        self.assertEqual(Notification.objects.inbox(self.wang).unread().count(), 1)

    def test_it_skips_what_was_read_in_the_app(self):
        notify([self.chen], kind="t", title="x", dedup_key="a")
        Notification.objects.update(read_at=timezone.now())
        self.assertEqual(digests_send(), 0)
        self.assertEqual(mail.outbox, [])

    def test_a_deferred_notification_waits_for_its_time(self):
        later = timezone.now() + datetime.timedelta(hours=1)
        notify([self.chen], kind="t", title="Deferred", dedup_key="a", not_before=later)
        self.assertEqual(digests_send(), 0)
        self.assertEqual(digests_send(now=later + datetime.timedelta(seconds=1)), 1)
        self.assertIn("Deferred", mail.outbox[0].body)

    def test_it_links_to_the_notification(self):
        notify([self.chen], kind="t", title="x", url="/cases/", dedup_key="a")
        notice = Notification.objects.get()
        digests_send()
        self.assertIn(f"/notifications/{notice.pk}/", mail.outbox[0].body)

    def test_a_failed_send_is_retried_by_the_next_run(self):
        notify([self.chen, self.zhou], kind="t", title="x", dedup_key="a")
        with self.settings(EMAIL_BACKEND="tests.notifications.failing_mail.EmailBackend"):
            with self.assertRaises(OSError):
                digests_send()
        self.assertEqual(Notification.objects.due_for_email().count(), 2)
        self.assertEqual(digests_send(), 2)


@skipUnlessDBFeature("has_select_for_update_skip_locked")
class DigestRaceTestCase(PersonasMixin, TransactionTestCase):
    """Two workers sending digests at once: rows one has claimed are skipped by the other."""

    def setUp(self):
        self.make_personas()
        with_emails(self.chen, self.zhou)

    def test_a_claimed_notification_is_skipped_by_a_second_worker(self):
        notify([self.chen], kind="t", title="Notice alpha", dedup_key="a")
        notify([self.chen], kind="t", title="Notice beta", dedup_key="b")
        locked, release = threading.Event(), threading.Event()
        sent = []

        def first_worker():
            # A run that has claimed Chen's digest and not yet committed.
            try:
                now = timezone.now()
                with transaction.atomic():
                    digests, _people = claim_digests(now)
                    locked.set()
                    release.wait(30)
                sent.append(deliver(digests, now)[0])
            finally:
                connection.close()

        thread = threading.Thread(target=first_worker)
        thread.start()
        try:
            self.assertTrue(locked.wait(30))
            # The second run skips Chen, whose notifications are all claimed by the first.
            self.assertEqual(digests_send(), 0)
        finally:
            release.set()
            thread.join()
        self.assertEqual(sent, [1])
        self.assertEqual(digests_send(), 0)
        self.assertEqual(len(mail.outbox), 1)
        # One e-mail with both: the first run claimed the person, not single rows.
        self.assertIn("Notice alpha", mail.outbox[0].body)
        self.assertIn("Notice beta", mail.outbox[0].body)
