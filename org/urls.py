from django.urls import path

from . import views

app_name = "org"

urlpatterns = [
    path("admin-home/", views.admin_home, name="admin_home"),
]
