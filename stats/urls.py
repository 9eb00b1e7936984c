from django.urls import path

from . import views

app_name = "stats"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("version/", views.version, name="version"),
    path("cases/", views.cases_behind, name="cases"),
]
