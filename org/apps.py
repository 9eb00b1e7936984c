from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    default = True
    name = "org"
    verbose_name = _("Organisation")


class GridGovAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "org.admin_site.GridGovAdminSite"
