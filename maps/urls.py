from django.urls import path

from . import views

app_name = "maps"

urlpatterns = [
    path("", views.map_page, name="map"),
    path("tiles/<int:z>/<int:x>/<int:y>.mvt", views.tile, name="tile"),
    path("features/", views.features, name="features"),
    path("heat/", views.heat, name="heat"),
    path("version/", views.version, name="version"),
    path("cases/<int:pk>/", views.case_summary, name="case"),
]
