from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = _("API access")

    def ready(self):
        from . import schema  # noqa: F401 - registers the OpenAPI descriptions
