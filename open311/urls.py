"""Every route tolerates doubled slashes (clients build URLs by concatenation); anything
else under /open311/ answers 404 with an Open311 error body, never Django's HTML page."""

from django.urls import re_path

from . import views

app_name = "open311"

FMT = r"\.(?P<fmt>json|xml)$"
V2 = r"^v2/+"

urlpatterns = [
    re_path(r"^(?:discovery\.html)?$", views.discovery_page, name="index"),
    re_path(r"^discovery" + FMT, views.discovery, name="discovery"),
    re_path(V2 + r"discovery" + FMT, views.discovery, name="discovery-v2"),
    re_path(V2 + r"services" + FMT, views.service_list, name="services"),
    re_path(V2 + r"services/+(?P<code>[^/]+?)" + FMT, views.service_definition, name="service"),
    re_path(V2 + r"requests" + FMT, views.requests, name="requests"),
    re_path(V2 + r"requests/+(?P<pk>[^/]+?)" + FMT, views.request_detail, name="request"),
    re_path(V2 + r"servicerequestupdates" + FMT, views.request_updates, name="updates"),
    re_path(V2 + r"tokens/+(?P<token>[^/]+?)" + FMT, views.token, name="token"),
    re_path(V2 + r"media/(?P<pk>[0-9]+)\.jpg$", views.media, name="media"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="not-found"),
]
