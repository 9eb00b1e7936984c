from django.contrib.auth.backends import ModelBackend

from .models import Role


class RoleBackend(ModelBackend):
    """Model permissions follow the Administrator role; nobody else edits through the admin."""

    def has_perm(self, user_obj, perm, obj=None):
        if user_obj.is_active and (user_obj.is_superuser or user_obj.has_role(Role.ADMINISTRATOR)):
            return True
        return False

    def has_module_perms(self, user_obj, app_label):
        return self.has_perm(user_obj, f"{app_label}.*")
