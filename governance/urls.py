import datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import last_modified
from django.views.decorators.vary import vary_on_headers
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from cases.api_routing import RoutingDryRun
from org import views as org_views
from org.forms import LoginForm


def healthz(request):
    """Liveness for a load balancer: answers without touching the session."""
    return JsonResponse({"status": "ok"})


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the API's JSON)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def _catalogue_changed() -> datetime.datetime:
    """When the JavaScript translations last changed: the newest compiled catalogue of the
    project's and the installed apps' locale folders."""
    folders = [Path(p) for p in settings.LOCALE_PATHS]
    folders += [Path(config.path) / "locale" for config in apps.get_app_configs()]
    newest = max(
        (f.stat().st_mtime for d in folders for f in d.glob("*/LC_MESSAGES/djangojs.mo")),
        default=0,
    )
    return datetime.datetime.fromtimestamp(int(newest), tz=datetime.UTC)


# The pages of people on the street load this on every page: a browser asks whether it
# changed (Last-Modified) and is answered 304 with no body until a release changes it.
# It depends on the language, from the Accept-Language header or the language cookie.
_CATALOGUE_CHANGED = _catalogue_changed()
javascript_catalogue = vary_on_headers("Accept-Language", "Cookie")(
    cache_control(private=True, no_cache=True)(
        last_modified(lambda request: _CATALOGUE_CHANGED)(JavaScriptCatalog.as_view())
    )
)


@csrf_exempt
def api_not_found(request, rest=""):
    """Under /api/ even an unknown address answers in JSON, the API's one error shape."""
    return JsonResponse({"detail": _("Not found."), "field": None}, status=404)


# The JSON API, version 1: each app adds its own routes here.
api_v1 = [
    path("", include("grids.api_urls")),
    path("routing/dry-run", RoutingDryRun.as_view(), name="routing-dry-run"),
    path("", include("keys.api_urls")),
    path("", include("cases.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The browsable reference, rendered by the vendored Redoc from the schema above.
    path(
        "docs/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/docs.html"),
        name="api-docs",
    ),
    # Last: e.g. /api/v1/cases/-1/ matches no route above.
    re_path(r"^(?P<rest>.*)$", api_not_found),
]

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="org/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("no-role/", org_views.no_role, name="no_role"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", javascript_catalogue, name="javascript-catalog"),
    path("org/", include("org.urls")),
    path("grids/", include("grids.urls")),
    path("cases/", include("cases.urls")),
    path("notifications/", include("notifications.urls")),
    path("stats/", include("stats.urls")),
    path("maps/", include("maps.urls")),
    path("evaluation/", include("evaluation.urls")),
    path("api/v1/", include(api_v1)),
    # Doubled slashes are tolerated: Open311 clients build URLs by concatenation.
    re_path(r"^open311/+", include("open311.urls")),
    path("admin/", admin.site.urls),
]
