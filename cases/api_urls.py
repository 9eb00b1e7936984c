from django.urls import path

from . import api

app_name = "cases_api"

urlpatterns = [
    path("cases/", api.CaseList.as_view(), name="cases"),
    path("cases/<int:pk>/", api.CaseDetail.as_view(), name="case"),
    path("cases/<int:pk>/events/", api.CaseTimeline.as_view(), name="events"),
    path("cases/<int:pk>/actions/", api.CaseActions.as_view(), name="actions"),
    path("cases/<int:pk>/actions/<slug:action>/", api.CaseAct.as_view(), name="act"),
    path("categories/", api.CategoryList.as_view(), name="categories"),
    path("departments/", api.DepartmentList.as_view(), name="departments"),
]
