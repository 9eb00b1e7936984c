import datetime

from django.db import transaction
from django.test import TransactionTestCase
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notify
from tests.base import BaseTestCase, PersonasMixin


class NotifyTestCase(BaseTestCase):
    def test_it_creates_one_per_recipient(self):
        created = notify([self.chen, self.zhou], kind="test", title="Case overdue", dedup_key="k1")
        self.assertEqual(created, 2)
        self.assertEqual(
            sorted(Notification.objects.values_list("recipient__username", flat=True)),
            ["chen", "zhou"],
        )

    def test_it_deduplicates_per_recipient_and_key(self):
        self.assertEqual(notify([self.chen], kind="test", title="One", dedup_key="k1"), 1)
        self.assertEqual(
            notify([self.chen, self.zhou, self.chen], kind="test", title="Two", dedup_key="k1"),
            1,
        )
        self.assertEqual(notify([self.chen], kind="test", title="Three", dedup_key="k2"), 1)
        self.assertEqual(Notification.objects.filter(recipient=self.chen).count(), 2)
        # The first one stands: a repeat does not overwrite it.
        self.assertEqual(Notification.objects.get(recipient=self.chen, dedup_key="k1").title, "One")

    def test_it_skips_inactive_people(self):
        self.zhou.is_active = False
        self.zhou.save()
        self.assertEqual(notify([self.chen, self.zhou], kind="t", title="x", dedup_key="k"), 1)
        self.assertFalse(Notification.objects.filter(recipient=self.zhou).exists())

    def test_it_refuses_an_empty_key(self):
        with self.assertRaises(ValueError):
            notify([self.chen], kind="t", title="x", dedup_key="")
        # Too long for the column: PostgreSQL would refuse it, SQLite would keep it whole.
        with self.assertRaises(ValueError):
            notify([self.chen], kind="t", title="x", dedup_key="k" * 201)

    def test_it_keeps_every_field(self):
        later = timezone.now() + datetime.timedelta(hours=2)
        notify(
            [self.chen],
            kind="escalation",
            title="Title",
            body="Body text",
            url="/cases/1/",
            dedup_key="k",
            not_before=later,
        )
        row = Notification.objects.get()
        self.assertEqual(
            (row.kind, row.title, row.body, row.url, row.dedup_key),
            ("escalation", "Title", "Body text", "/cases/1/", "k"),
        )
        self.assertEqual(row.not_before, later)
        self.assertIsNone(row.read_at)
        self.assertIsNone(row.emailed_at)

    def test_it_hides_deferred_notifications_until_due(self):
        later = timezone.now() + datetime.timedelta(hours=2)
        notify([self.chen], kind="t", title="Deferred", dedup_key="k", not_before=later)
        self.assertFalse(Notification.objects.inbox(self.chen).exists())
        self.assertFalse(Notification.objects.due_for_email().exists())
        after = later + datetime.timedelta(seconds=1)
        self.assertTrue(Notification.objects.inbox(self.chen, now=after).exists())
        self.assertTrue(Notification.objects.due_for_email(now=after).exists())


class NotifyTransactionTestCase(PersonasMixin, TransactionTestCase):
    def setUp(self):
        self.make_personas()

    def test_it_rolls_back_with_the_caller(self):
        with self.assertRaises(RuntimeError), transaction.atomic():
            notify([self.chen], kind="t", title="x", dedup_key="k")
            raise RuntimeError
        self.assertFalse(Notification.objects.exists())
        self.assertEqual(notify([self.chen], kind="t", title="x", dedup_key="k"), 1)
