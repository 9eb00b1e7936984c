from django.contrib import admin

from .models import ExportJob, Grade, KpiWeight


@admin.register(KpiWeight)
class KpiWeightAdmin(admin.ModelAdmin):
    list_display = ("subject", "kpi", "weight")
    list_editable = ("weight",)
    list_filter = ("subject",)


@admin.register(Grade)
class GradeAdmin(admin.ModelAdmin):
    list_display = ("letter", "minimum")


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "kind", "format", "status", "rows", "total", "created_at")
    list_filter = ("status", "format")
    readonly_fields = [f.name for f in ExportJob._meta.fields]
