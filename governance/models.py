from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last time a background process proved it was alive.

    Beat enqueues ``record_heartbeat`` every minute and a worker runs it, so a fresh
    ``worker`` row shows both are up; administrators see it on their home page.
    """

    name = models.CharField(_("process"), max_length=40, unique=True)
    hostname = models.CharField(_("host"), max_length=200, blank=True)
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.hostname}"
