"""Event feeds: a department's own system subscribes a URL to case events, and GridGov
delivers each event to it once, signed, retried until the receiver takes it.

A ``Delivery`` row is the source of truth for pending work: the broker only carries
"try this delivery now", so a flushed broker or a killed worker loses nothing (the periodic
sweep enqueues again what is due).
"""

import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def event_types() -> "list[tuple[str, StrOrPromise]]":
    """What a subscription may ask for: every action of the transition table, plus the
    events other parts of GridGov record (escalation, absorbing a merged case)."""
    from cases.workflow import TRANSITIONS

    types: list[tuple[str, StrOrPromise]] = [(t.action, t.label) for t in TRANSITIONS]
    types += [
        ("escalate", _("Deadline warning, breach or escalation")),
        ("absorb", _("Another case merged into this one")),
    ]
    return types


class Subscription(models.Model):
    """One receiving URL of one department, and the events it wants."""

    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="feed_subscriptions",
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("e.g. “Sanitation dispatch”"))
    url = models.URLField(_("receiving URL"), max_length=500)
    # Action names (see event_types()); a JSON list so that new actions need no migration.
    events = models.JSONField(_("events"), default=list)
    # Kept in clear because every delivery is signed with it; shown to a person once.
    secret = models.CharField(_("secret"), max_length=100, default=new_secret, editable=False)
    include_personal_data = models.BooleanField(
        _("include citizens' personal data"),
        default=False,
        help_text=_(
            "Send the name and phone number of citizens who reported the case. Only for "
            "systems that must call them back."
        ),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("An inactive subscription gets no new events; pending ones wait."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["department__code", "name"]
        verbose_name = _("feed subscription")
        verbose_name_plural = _("feed subscriptions")

    def __str__(self) -> str:
        return f"{self.department}: {self.name}"

    def wants(self, action: str) -> bool:
        return action in self.events

    @property
    def secret_hint(self) -> str:
        return f"…{self.secret[-4:]}"


class Delivery(models.Model):
    """One case event for one subscription. Its body is frozen when the event happens, so a
    retry or a replay sends the very same event (same id) that receivers de-duplicate."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("feed delivery", "Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.ForeignKey(
        "cases.CaseEvent", verbose_name=_("event"), on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("event type"), max_length=30)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # Attempts since the delivery was created or last replayed; decides the back-off.
    tries = models.PositiveIntegerField(_("tries"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Set while one worker sends it: another copy of the task finds it taken and stops.
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    replayed_at = models.DateTimeField(_("replayed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # An event reaches a subscription once: a retry or replay reuses this row.
            models.UniqueConstraint(fields=["subscription", "event"], name="delivery_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]),
                name="delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} #{self.event_id} {self.action}"


class Attempt(models.Model):
    """One HTTP request of a delivery, with what came back."""

    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempts"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    response = models.TextField(_("response (start)"), blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    ok = models.BooleanField(_("accepted"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")

    def __str__(self) -> str:
        # The city's time, as beside it on the delivery's page (not the stored UTC).
        at = timezone.localtime(self.at)
        return f"{self.delivery_id} {at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"


class Cursor(models.Model):
    """How far a periodic scan has read, e.g. the time of the last bulk-written event seen."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at}"


RESPONSE_EXCERPT = 500


def retry_delay(tries: int) -> float | None:
    """Seconds to wait after the ``tries``-th failed attempt, or None once they are spent."""
    if tries >= settings.FEEDS_MAX_ATTEMPTS:
        return None
    delays = settings.FEEDS_RETRY_DELAYS
    return delays[min(tries, len(delays)) - 1]
