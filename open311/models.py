"""What an Open311 client sent with a report, kept beside the case it became."""

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_token() -> str:
    return secrets.token_hex(16)


class ServiceRequest(models.Model):
    """One GeoReport v2 POST: the case it created and what the case has no field for.

    The citizen's name and phone go to the case's own citizen fields; the e-mail address
    and the client's device and account ids stay here. None of them is ever written to an
    Open311 response.
    """

    case = models.OneToOneField(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="open311"
    )
    # For batch services (GET tokens/<token>); every service is realtime today, so the
    # POST answers with the case id and never shows the token.
    token = models.CharField(_("token"), max_length=32, unique=True, default=new_token)
    # The key it came with (the case's reporter is the key's service account).
    api_key = models.ForeignKey(
        "keys.ApiKey",
        verbose_name=_("API key"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.EmailField(_("citizen's e-mail"), blank=True)
    device_id = models.CharField(_("device id"), max_length=100, blank=True)
    account_id = models.CharField(_("account id"), max_length=100, blank=True)
    address_id = models.CharField(_("address id"), max_length=100, blank=True)
    # {"urgency": "urgent", "SIZE": ["big", "deep"]}: the answers to the service definition.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Links to media given by the client (media_url, possibly repeated).
    media_urls = models.JSONField(_("media links"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")

    def __str__(self) -> str:
        return f"{self.case} ({self.token[:8]})"
