from functools import update_wrapper

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import Role


class GridGovAdminSite(admin.AdminSite):
    """Django's admin, open to people holding the Administrator role and to no one else."""

    site_header = _("GridGov administration")
    site_title = _("GridGov administration")
    index_title = _("Administration")

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or user.has_role(Role.ADMINISTRATOR))

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def wrapper(request, *args, **kwargs):
            # A signed-in person without the role is refused outright rather than
            # bounced to a login page they have already passed.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return update_wrapper(wrapper, view)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            raise PermissionDenied
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(next_url, settings.LOGIN_URL)
