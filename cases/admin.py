from django.contrib.gis import admin

from .models import Case, CaseEvent, Category, FilingCondition


class ConditionInline(admin.StackedInline):
    model = FilingCondition
    extra = 0
    autocomplete_fields = ["default_department"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "full_code",
        "name",
        "name_en",
        "kind",
        "parent",
        "default_department",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "parent"]
    search_fields = ["full_code", "name", "name_en"]
    autocomplete_fields = ["parent", "default_department"]
    list_select_related = ["parent", "default_department"]
    inlines = [ConditionInline]


@admin.register(FilingCondition)
class FilingConditionAdmin(admin.ModelAdmin):
    list_display = [
        "category",
        "condition",
        "limit_value",
        "limit_unit",
        "default_department",
        "is_active",
    ]
    list_filter = ["limit_unit", "is_active"]
    search_fields = ["category__full_code", "category__name", "condition"]
    autocomplete_fields = ["category", "default_department"]
    list_select_related = ["category", "default_department"]


class EventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "from_stage", "to_stage", "actor", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.GISModelAdmin):
    """Read-only: cases change only through the workflow, which records who and why."""

    list_display = ["reference", "category", "stage", "department", "deadline", "reported_at"]
    list_filter = ["stage", "source", "urgency", "department"]
    search_fields = ["number", "description", "address"]
    list_select_related = ["category", "department"]
    inlines = [EventInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
