from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .models import ApiKey, ApiRequestLog, PersonalToken
from .scopes import scope_choices


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=scope_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = [
            "name",
            "owner",
            "user",
            "scopes",
            "all_areas",
            "areas",
            "rate_limit",
            "is_active",
            "expires_at",
        ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here; the raw key is shown once, on the page after saving."""

    form = ApiKeyForm
    list_display = ["name", "prefix", "owner", "user", "rate_limit", "is_active", "last_used_at"]
    list_filter = ["is_active", "owner"]
    search_fields = ["name", "prefix", "user__username"]
    autocomplete_fields = ["owner", "user", "areas"]
    readonly_fields = ["prefix", "last_used_at", "created_at"]
    actions = ["issue_new_secret"]

    def save_model(self, request, obj, form, change):
        if not change:
            request._new_api_key = obj.new_secret()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        return self.show_secret(request, obj, request._new_api_key)

    def show_secret(self, request, obj, raw):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key": obj,
            "raw_key": raw,
            "title": _("Copy the key now"),
        }
        response = TemplateResponse(request, "keys/admin/key_created.html", context)
        # The page holds a secret: no cache may keep it.
        response["Cache-Control"] = "no-store"
        return response

    def has_delete_permission(self, request, obj=None):
        """Only a key that never changed anything may go (one made by mistake): the
        request log names the key each write came with, so a key that has acted is
        revoked by clearing "active" instead."""
        if obj is not None and obj.requests.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # Deleting in bulk would not tell the keys that acted from the others.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Issue a new secret (the old one stops working)"))
    def issue_new_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one key."), level="error")
            return None
        key = queryset.get()
        raw = key.new_secret()
        key.save(update_fields=["prefix", "secret_hash"])
        return self.show_secret(request, key, raw)


@admin.register(PersonalToken)
class PersonalTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["user__username", "prefix", "name"]
    fields = ["user", "name", "prefix", "is_active", "expires_at", "created_at", "last_used_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        # A person obtains their own token through the API with their password.
        return False


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(admin.ModelAdmin):
    list_display = ["at", "method", "path", "status", "user", "api_key", "remote_addr"]
    list_filter = ["method", "status", "api_key"]
    search_fields = ["path", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["user", "api_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
