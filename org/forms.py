from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import login_guard


class LoginForm(AuthenticationForm):
    """Django's log-in form, saying so when wrong passwords have locked the account or the
    address (``login_guard``) rather than calling a right password wrong."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many wrong passwords: log-ins for this account or from this address are "
            "refused for %(minutes)d more minutes. An administrator can unlock the account."
        ),
    }
    # Warn from this many tries left: a person who mistyped twice learns it before the lock.
    WARN_LEFT = 2

    def clean(self):
        username = self.cleaned_data.get("username")
        address = login_guard.client_address(self.request)
        self.raise_if_locked(username, address)
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code != "invalid_login" or not username:
                raise
            # This wrong password may be the one that locked the account or the address.
            self.raise_if_locked(username, address)
            left = settings.LOGIN_FAILURES - login_guard.failures(username)
            if 0 < left <= self.WARN_LEFT:
                message = ngettext(
                    "Please enter a correct user name and password. %(left)d more wrong "
                    "password locks this account for %(minutes)d minutes.",
                    "Please enter a correct user name and password. %(left)d more wrong "
                    "passwords lock this account for %(minutes)d minutes.",
                    left,
                )
                raise forms.ValidationError(
                    message,
                    code="invalid_login",
                    params={"left": left, "minutes": settings.LOGIN_LOCK_MINUTES},
                ) from None
            raise

    def raise_if_locked(self, username, address) -> None:
        wait = login_guard.locked_for(username, address)
        if wait:
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": (wait + 59) // 60},
            )
