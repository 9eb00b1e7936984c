from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClocksConfig(AppConfig):
    name = "clocks"
    verbose_name = _("Clocks and escalation")

    def ready(self):
        from . import triggers

        triggers.connect()
