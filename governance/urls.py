from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from org import views as org_views


def healthz(request):
    """Liveness for a load balancer: answers without touching the session."""
    return JsonResponse({"status": "ok"})


# The JSON API, version 1: each app adds its own routes here.
api_v1 = [
    path("", include("grids.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="org/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("no-role/", org_views.no_role, name="no_role"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("org/", include("org.urls")),
    path("grids/", include("grids.urls")),
    path("cases/", include("cases.urls")),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]
