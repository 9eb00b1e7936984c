from django.urls import path

from . import views

app_name = "grids"

urlpatterns = [
    path("mine/", views.my_grids, name="mine"),
    path("map/", views.grid_map, name="map"),
    path("imports/", views.imports, name="imports"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/columns/", views.import_columns, name="import_columns"),
    path("imports/<int:pk>/status/", views.import_status, name="import_status"),
]
