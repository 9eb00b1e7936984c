from django.contrib.auth.backends import ModelBackend

from . import login_guard
from .models import Role


class RoleBackend(ModelBackend):
    """Model permissions follow the Administrator role; nobody else edits through the admin.
    Every password checked here is counted by ``login_guard``: a locked account or address
    is refused without its password being looked at."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        address = login_guard.client_address(request)
        if username is not None and login_guard.locked_for(username, address):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if username is not None and password is not None:
            if user is None:
                login_guard.failed(username, address)
            else:
                login_guard.succeeded(username)
        return user

    def has_perm(self, user_obj, perm, obj=None):
        if user_obj.is_active and (user_obj.is_superuser or user_obj.has_role(Role.ADMINISTRATOR)):
            return True
        return False

    def has_module_perms(self, user_obj, app_label):
        return self.has_perm(user_obj, f"{app_label}.*")
