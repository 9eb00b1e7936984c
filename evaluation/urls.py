from django.urls import path

from . import views

app_name = "evaluation"

urlpatterns = [
    path("", views.evaluation_page, name="evaluation"),
    path("exports/", views.export_cases, name="export_cases"),
    path("exports/<int:pk>/", views.job_page, name="job"),
    path("exports/<int:pk>/status/", views.job_status, name="job_status"),
    path("exports/<int:pk>/download/", views.job_download, name="job_download"),
    path("exports/<int:pk>/delete/", views.job_delete, name="job_delete"),
]
