"""Personal tokens: obtained with a user name and password, revoked by their holder."""

import datetime

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import (
    AuthenticationFailed,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from org import login_guard
from org.models import Role

from .models import PersonalToken

TOKEN_LIFETIME = datetime.timedelta(days=90)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("Shown once; send it as “Authorization: Token …”."))
    expires_at = serializers.DateTimeField()


class LoginRateThrottle(AnonRateThrottle):
    """Asking for tokens at all is limited per address; wrong passwords also lock the
    account and the address as on the log-in page (org/login_guard.py)."""

    scope = "login"


class TokenObtain(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    def get_authenticate_header(self, request) -> str:
        # A wrong password is a 401 that names the scheme the token is then used with.
        return 'Token realm="api"'

    @extend_schema(
        request=TokenRequestSerializer,
        responses={201: TokenSerializer},
        auth=[],
        summary="Obtain a personal token with a user name and password",
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wait = login_guard.locked_for(
            data.validated_data["username"], login_guard.client_address(request._request)
        )
        if wait:
            raise Throttled(
                wait,
                str(
                    _(
                        "Too many wrong passwords: log-ins for this account or from this "
                        "address are refused for a while. An administrator can unlock the "
                        "account."
                    )
                ),
            )
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise AuthenticationFailed(_("Wrong user name or password."))
        if not user.roles or user.has_role(Role.SYSTEM):
            raise PermissionDenied(_("You hold no role in GridGov; ask an administrator."))
        token, raw = PersonalToken.issue(
            user=user, name=data.validated_data["name"], lifetime=TOKEN_LIFETIME
        )
        return Response(
            TokenSerializer({"token": raw, "expires_at": token.expires_at}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenRevoke(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Revoke the token this request was made with",
    )
    def post(self, request):
        if not isinstance(request.auth, PersonalToken):
            raise ValidationError(
                {"token": _("Send this request with the token to revoke (Authorization: Token …).")}
            )
        PersonalToken.objects.filter(pk=request.auth.pk).update(is_active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)
