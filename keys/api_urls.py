from django.urls import path

from . import api

app_name = "keys_api"

urlpatterns = [
    path("auth/token/", api.TokenObtain.as_view(), name="token"),
    path("auth/token/revoke/", api.TokenRevoke.as_view(), name="token-revoke"),
]
