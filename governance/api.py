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
    """DRF's handler, with every error as {"detail": ..., "field": ...} (the field is
    null when no one field is concerned), so a client reads one shape."""
    # Imported here: rest_framework.views reads REST_FRAMEWORK, which names this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        field, message = first_error(exc.detail)
        response.data = {"detail": message, "field": field}
    elif isinstance(response.data, dict) and "field" not in response.data:
        # A view may name the field an error is about (exc.field), e.g. "version" on a 409.
        field = getattr(exc, "field", None)
        response.data = {"detail": str(response.data.get("detail", "")), "field": field}
    return response


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, for a person to read."},
        "field": {
            "type": "string",
            "nullable": True,
            "description": "The input concerned (e.g. `photos`, `version`), or null.",
        },
    },
    "required": ["detail", "field"],
}
ERROR_RESPONSES = {
    "400": "Bad input: `field` names the parameter or body field.",
    "401": "No credentials, or credentials that are unknown, revoked or expired.",
    "403": "Your role, or your API key's scopes, do not allow this.",
    "404": "Not found, or not visible to you.",
    "429": "Too many requests for this API key; retry after `Retry-After` seconds.",
}


def document_errors(result, generator, request, public):
    """drf-spectacular post-processing: every operation may answer with the one error shape
    (governance.api.exception_handler); an action may also answer 409 on a stale version."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = dict(ERROR_RESPONSES)
            if method == "post" and "/actions/" in path:
                codes["409"] = "The case changed since the `version` you sent: reload it."
            for code, description in codes.items():
                responses.setdefault(code, {"description": description, "content": reference})
    return result
