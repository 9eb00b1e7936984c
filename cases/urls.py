from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/offline.js", views.report_offline, name="report_offline"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("mine/", views.my_reports, name="mine"),
    path("tasks/", views.tasks, name="tasks"),
    path("desk/", views.desk, name="desk"),
    path("search/", views.search, name="search"),
    path("approvals/", views.approvals, name="approvals"),
    path("inbox/", views.inbox, name="inbox"),
    path("overview/", views.overview, name="overview"),
    path("routing/", views.routing, name="routing"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/act/<slug:action>/", views.act, name="act"),
    path("photos/<int:pk>/", views.photo, name="photo"),
]
