from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import login_guard
from .models import Department, Membership, RoleGrant, User


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 1
    fields = ["role"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["department"]


class DepartmentMemberInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "full_name", "phone", "role_list", "is_active"]
    list_filter = ["is_active", "role_grants__role", "memberships__department"]
    search_fields = ["username", "full_name", "phone", "email"]
    inlines = [RoleGrantInline, MembershipInline]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Person"), {"fields": ["full_name", "phone", "email"]}),
        (_("Status"), {"fields": ["is_active", "last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "full_name", "password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    actions = ["unlock_log_in"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("role_grants")

    @admin.action(description=_("Unlock log-in after wrong passwords"))
    def unlock_log_in(self, request, queryset):
        users = list(queryset)
        for user in users:
            login_guard.unlock(username=user.username)
            # In the account's history: who unlocked it, and when.
            self.log_change(request, user, gettext("Unlocked log-in after wrong passwords."))
        self.message_user(
            request,
            ngettext(
                "%(count)d account may log in again.",
                "%(count)d accounts may log in again.",
                len(users),
            )
            % {"count": len(users)},
        )

    @admin.display(description=_("roles"))
    def role_list(self, obj):
        return ", ".join(grant.get_role_display() for grant in obj.role_grants.all())


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "head", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "head"]
    inlines = [DepartmentMemberInline]
    list_select_related = ["parent", "head"]
