from django.urls import path

from . import api

app_name = "grids_api"

urlpatterns = [
    path("areas/", api.AreaList.as_view(), name="areas"),
    path("grids/", api.GridList.as_view(), name="grids"),
    path("locate/", api.Locate.as_view(), name="locate"),
]
