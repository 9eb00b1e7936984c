from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from .models import ApiKey


def key_of(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class KeyHasScope(permissions.BasePermission):
    """An API key may call a view only with the scope the view names (``required_scope``,
    or ``required_scopes`` by HTTP method); people are limited by their roles alone."""

    message = _("This API key does not have the scope this request needs.")

    def has_permission(self, request, view) -> bool:
        key = key_of(request)
        if key is None:
            return True
        scope = getattr(view, "required_scopes", {}).get(request.method) or getattr(
            view, "required_scope", None
        )
        return scope is None or key.has_scope(scope)
