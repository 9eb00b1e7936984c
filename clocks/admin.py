from django.contrib import admin

from .models import Clock, ClockStep, EscalationStep, StageLimit


@admin.register(StageLimit)
class StageLimitAdmin(admin.ModelAdmin):
    list_display = ["stage", "urgency", "limit_value", "limit_unit"]
    list_filter = ["stage", "limit_unit"]


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = [
        "level",
        "name",
        "clock_kind",
        "percent",
        "offset_hours",
        "supervision",
        "raise_urgency",
        "working_hours_only",
        "is_active",
    ]
    list_editable = ["is_active"]


class ReadOnly(admin.ModelAdmin):
    """Computed from the case history: shown, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Clock)
class ClockAdmin(ReadOnly):
    list_display = ["case", "kind", "seq", "state", "department", "deadline", "deadline_version"]
    list_filter = ["kind", "state"]
    raw_id_fields = ["case"]


@admin.register(ClockStep)
class ClockStepAdmin(ReadOnly):
    list_display = ["clock", "step", "deadline_version", "fire_at", "fired_at", "notified_at"]
    list_filter = ["step"]
    raw_id_fields = ["clock"]
