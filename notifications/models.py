"""Notifications: one row per person and event, read in the in-app inbox and sent as one
e-mail digest per person. A deduplication key makes sending the same news twice a no-op."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class NotificationQuerySet(models.QuerySet):
    def delivered(self, now=None) -> "NotificationQuerySet":
        """Past their ``not_before``: visible in the inbox and due for e-mail."""
        now = now or timezone.now()
        return self.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))

    def unread(self) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True)

    def inbox(self, user, now=None) -> "NotificationQuerySet":
        return self.filter(recipient=user).delivered(now)

    def due_for_email(self, now=None) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True, emailed_at__isnull=True).delivered(now)


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
        # The unique (recipient, dedup_key) constraint and the indexes below lead with it.
        db_index=False,
    )
    # What happened, for filtering and icons: "case_closed", "escalation_breach", ...
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(pgettext_lazy("notification", "title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    url = models.CharField(_("link"), max_length=500, blank=True)
    # For GridGov's own notifications, what their words are written from (notifications.
    # wording): the wording's name under "wording", and its values. Empty for others.
    params = models.JSONField(_("wording"), default=dict, blank=True)
    dedup_key = models.CharField(_("deduplication key"), max_length=200)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Delivery deferred until then (e.g. outside working hours): hidden from the inbox,
    # the unread count and e-mail.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Set when the digest claimed it: sent, or not wanted (no address, digest turned off).
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"], name="notification_once_per_key"
            ),
        ]
        indexes = [
            # The inbox page: my notifications, newest first.
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            # The header's unread count on every page: small, only unread rows.
            models.Index(
                fields=["recipient", "not_before"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
            # The digest sweep: only rows still waiting for e-mail.
            models.Index(
                fields=["not_before", "recipient"],
                condition=Q(read_at__isnull=True, emailed_at__isnull=True),
                name="notification_email_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        """Where the notification leads: its own link, else its case."""
        if self.url:
            return self.url
        if self.case_id:
            return reverse("cases:detail", args=[self.case_id])
        return ""

    def _worded(self) -> tuple[str, str] | None:
        from .wording import WORDINGS, worded

        name = (self.params or {}).get("wording")
        if name not in WORDINGS:
            return None
        try:
            return worded(name, self.params)
        except (KeyError, TypeError, ValueError):
            return None  # kept by an older release: its stored words

    @property
    def shown_title(self) -> str:
        """The title in the reader's language where it can be written again, else as stored."""
        found = self._worded()
        return found[0] if found else self.title

    @property
    def shown_body(self) -> str:
        found = self._worded()
        return found[1] if found else self.body

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A person's choices about notifications; without a row the defaults apply."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    email_digest = models.BooleanField(
        _("e-mail digest"),
        default=True,
        help_text=_("Send unread notifications by e-mail, several in one message."),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)
