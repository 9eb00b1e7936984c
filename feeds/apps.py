from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedsConfig(AppConfig):
    name = "feeds"
    verbose_name = _("Event feeds")

    def ready(self):
        from django.db.models.signals import post_save

        from cases.models import CaseEvent

        from .services import on_case_event

        post_save.connect(on_case_event, sender=CaseEvent, dispatch_uid="feeds_on_case_event")
