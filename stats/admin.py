from django.contrib import admin

from .models import RollupState


@admin.register(RollupState)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = [
        "high_water", "version", "caught_up_at", "rebuilt_at", "rebuild_seconds",
        "rebuild_cases", "rebuild_differences",
    ]  # fmt: skip
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False
