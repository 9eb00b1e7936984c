"""E-mail digests: each person gets one message with their notifications that are due,
unread and not yet e-mailed, instead of one message per event.

A run claims rows and marks them e-mailed in one short transaction (``SELECT ... FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer serialises claims), then sends
after the commit: two workers never claim the same notification, so nobody gets it twice,
and no lock is held while a mail server is slow. A failed send releases its claim for the
next run. A worker killed between the commit and the send loses that e-mail only; the
notification itself stays in the person's inbox.
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from org.models import User

from .models import Notification, Preference

log = logging.getLogger(__name__)

# People per claim: bounds one transaction and one batch of messages.
PEOPLE_PER_BATCH = 200


@dataclass
class Digest:
    person: User
    notifications: list[Notification]


def digests_send(*, now: datetime.datetime | None = None) -> int:
    """Send every due digest; returns how many e-mails went out."""
    now = now or timezone.now()
    sent = 0
    failure: Exception | None = None
    while True:
        digests, claimed_people = claim_digests(now)
        if not claimed_people:
            break
        batch_sent, batch_failure = deliver(digests, now)
        sent += batch_sent
        failure = failure or batch_failure
        if claimed_people < PEOPLE_PER_BATCH:
            break
    if failure is not None:
        # Claims of the failed messages were released; the task's retry sends them.
        raise failure
    return sent


def claim_digests(now: datetime.datetime) -> tuple[list[Digest], int]:
    """Claim the due notifications of up to PEOPLE_PER_BATCH people: mark them e-mailed and
    return the digests to send (people without an address, inactive, or who turned the
    digest off are marked too, and get nothing). Also returns how many people were claimed."""
    # Rows created during this run wait for the next: a person gets one message per run.
    due = Notification.objects.due_for_email(now).filter(created_at__lte=now)
    with transaction.atomic():
        people = list(
            due.order_by("recipient_id")
            .values_list("recipient_id", flat=True)
            .distinct()[:PEOPLE_PER_BATCH]
        )
        if not people:
            return [], 0
        # Claim whole people, not single rows: rows claimed one by one let two runs split a
        # person's notifications between them, and the person got two e-mails. A person
        # another run holds is skipped; that run sends their digest.
        people = list(
            User.objects.filter(pk__in=people)
            .select_for_update(skip_locked=True, no_key=True)
            .values_list("pk", flat=True)
        )
        if not people:
            return [], 0
        rows = list(
            due.filter(recipient_id__in=people)
            .select_for_update(of=("self",))
            .select_related("recipient", "case")
            .order_by("recipient_id", "created_at", "id")
        )
        if not rows:
            # Another run sent them between our two reads.
            return [], 0
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
        opted_out = set(
            Preference.objects.filter(user_id__in=people, email_digest=False).values_list(
                "user_id", flat=True
            )
        )
    by_person: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        by_person[row.recipient_id].append(row)
    digests = [
        Digest(items[0].recipient, items)
        for person_id, items in by_person.items()
        if items[0].recipient.email and items[0].recipient.is_active and person_id not in opted_out
    ]
    return digests, len(people)


def deliver(digests: list[Digest], claimed_at: datetime.datetime) -> tuple[int, Exception | None]:
    """Send each digest; release the claim of any that could not be sent."""
    if not digests:
        return 0, None
    sent, failure = 0, None
    with get_connection(fail_silently=False) as connection:
        for digest in digests:
            try:
                digest_message(digest, connection).send()
            except Exception as error:  # noqa: BLE001 - any mail failure: send next run
                log.warning("Could not e-mail a digest to %s", digest.person.pk, exc_info=True)
                Notification.objects.filter(
                    pk__in=[n.pk for n in digest.notifications], emailed_at=claimed_at
                ).update(emailed_at=None)
                failure = failure or error
            else:
                sent += 1
    return sent, failure


def digest_message(digest: Digest, connection) -> EmailMessage:
    with translation.override(settings.LANGUAGE_CODE):
        count = len(digest.notifications)
        subject = ngettext(
            "GridGov: %(count)d new notification", "GridGov: %(count)d new notifications", count
        ) % {"count": count}
        items = [
            {
                "notification": n,
                "link": settings.SITE_URL + reverse("notifications:open", args=[n.pk])
                if n.get_absolute_url()
                else "",
            }
            for n in digest.notifications
        ]
        body = render_to_string(
            "notifications/digest.txt",
            {
                "person": digest.person,
                "items": items,
                "inbox": settings.SITE_URL + reverse("notifications:inbox"),
            },
        )
    return EmailMessage(subject, body, None, [digest.person.email], connection=connection)
