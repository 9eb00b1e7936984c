from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

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

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = login_guard.locked_for(username, login_guard.client_address(self.request))
        if wait:
            raise forms.ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"minutes": (wait + 59) // 60},
            )
        return super().clean()
