"""What every API view shares: who may call it and what an error looks like."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings


class HoldsARole(permissions.BasePermission):
    """A signed-in person with at least one role: someone without one reaches no page
    of GridGov either, so the API is no way around that."""

    message = _("You hold no role in GridGov; ask an administrator.")

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "roles", None))


def first_error(detail, field: str | None = None) -> tuple[str | None, str]:
    """The first (field, message) of a ValidationError's nested detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                name = field
            else:
                name = f"{field}.{key}" if field else str(key)
            return first_error(value, name)
        return field, ""
    if isinstance(detail, list):
        return first_error(detail[0], field) if detail else (field, "")
    return field, str(detail)


def exception_handler(exc, context):
    """DRF's handler, with validation errors flattened to {"detail": ..., "field": ...}
    like every other error, so a client reads one shape."""
    # Imported here: rest_framework.views reads REST_FRAMEWORK, which names this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        field, message = first_error(exc.detail)
        response.data = {"detail": message, "field": field}
    return response
