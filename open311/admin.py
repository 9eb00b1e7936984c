from django.contrib import admin

from .models import ServiceRequest


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):
    """Read-only: what an outside client sent, kept as it came."""

    list_display = ["case", "received_at", "api_key", "account_id"]
    search_fields = ["case__number", "token", "account_id"]
    list_select_related = ["case", "api_key"]
    readonly_fields = [
        "case",
        "token",
        "api_key",
        "email",
        "device_id",
        "account_id",
        "address_id",
        "attributes",
        "media_urls",
        "received_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
