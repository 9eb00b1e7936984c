from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MapsConfig(AppConfig):
    name = "maps"
    verbose_name = _("Case map")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from cases.models import Case, CaseEvent

        from .models import case_written

        for model in (Case, CaseEvent):
            post_save.connect(case_written, sender=model, dispatch_uid=f"maps-{model.__name__}")
            post_delete.connect(
                case_written, sender=model, dispatch_uid=f"maps-del-{model.__name__}"
            )
