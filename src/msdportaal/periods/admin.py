from django.contrib import admin

from .models import DataSet, ReportingPeriod


@admin.register(DataSet)
class DataSetAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "file_kind", "frequency", "naming_mode", "order")
    list_editable = ("naming_mode",)
    readonly_fields = ("code",)


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(admin.ModelAdmin):
    list_display = ("code", "deadline", "closed_at")
    readonly_fields = ("code",)

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
