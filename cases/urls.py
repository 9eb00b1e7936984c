from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("desk/", views.desk, name="desk"),
    path("approvals/", views.approvals, name="approvals"),
    path("inbox/", views.inbox, name="inbox"),
    path("overview/", views.overview, name="overview"),
]
