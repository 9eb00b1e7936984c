"""DRF authentication for API keys (other systems) and personal tokens (people).

``Authorization: Api-Key <key>`` or, for Open311 clients, an ``api_key`` query or form
parameter; ``Authorization: Token <token>`` (or ``Bearer``) for a person's token.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from governance.db import request_tokens

from .models import ApiKey, PersonalToken

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def credentials_token(request) -> str:
    """``CredentialsVersion``'s token, read with the request's other version tokens."""
    return request_tokens(request)["keys.CredentialsVersion"]


def _header(request) -> tuple[str, str] | None:
    """(scheme, credential) of the Authorization header, or None when absent."""
    header = get_authorization_header(request)
    if not header:
        return None
    try:
        parts = header.decode("latin-1").split()
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    if len(parts) != 2:
        return (parts[0].lower(), "") if parts else None
    return parts[0].lower(), parts[1]


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = self.raw_key(request)
        if raw is None:
            return None
        key = ApiKey.objects.authenticate(raw, credentials_token(request))
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid: unknown, revoked or expired.")
            )
        # Seen by the request log middleware, which has only Django's request.
        request._request.api_key = key
        return key.user, key

    @staticmethod
    def raw_key(request) -> str | None:
        header = _header(request)
        if header is not None and header[0] == "api-key":
            if not header[1]:
                raise exceptions.AuthenticationFailed(_("Give the key after “Api-Key ”."))
            return header[1]
        if header is not None:
            return None
        if "api_key" in request.query_params:
            return request.query_params["api_key"]
        # Open311 clients send the key with the form fields of a POST.
        content_type = request.content_type or ""
        if request.method == "POST" and content_type.startswith(FORM_TYPES):
            return request._request.POST.get("api_key")
        return None

    def authenticate_header(self, request) -> str:
        return 'Api-Key realm="api"'


class PersonalTokenAuthentication(BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = _header(request)
        if header is None or header[0] not in self.keywords:
            return None
        if not header[1]:
            raise exceptions.AuthenticationFailed(_("Give the token after “Token ”."))
        token = PersonalToken.objects.authenticate(header[1], credentials_token(request))
        if token is None:
            raise exceptions.AuthenticationFailed(
                _("This token is not valid: unknown, revoked or expired.")
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'
