from django.contrib.gis import admin

from .models import Area, GridAssignment, ImportJob, UnitGrid


@admin.register(Area)
class AreaAdmin(admin.GISModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]
    list_select_related = ["parent"]


class AssignmentInline(admin.TabularInline):
    model = GridAssignment
    extra = 1
    autocomplete_fields = ["worker"]


@admin.register(UnitGrid)
class UnitGridAdmin(admin.GISModelAdmin):
    list_display = [
        "code",
        "community",
        "area_m2",
        "land_use",
        "management_level",
        "valid_from",
        "valid_to",
    ]
    list_filter = ["land_use", "management_level", "valid_to"]
    search_fields = ["code", "community__name"]
    autocomplete_fields = ["community"]
    list_select_related = ["community"]
    inlines = [AssignmentInline]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "kind",
        "status",
        "created",
        "replaced",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
