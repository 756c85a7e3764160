from django.contrib import admin

from .models import DataSet, DeadlineExtension, ReportingPeriod


@admin.register(DataSet)
class DataSetAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "file_kind", "frequency", "naming_mode", "order")
    list_editable = ("naming_mode",)
    readonly_fields = ("code",)


class DeadlineExtensionInline(admin.TabularInline):
    model = DeadlineExtension
    extra = 0
    autocomplete_fields = ("municipality",)


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(admin.ModelAdmin):
    list_display = ("code", "window_opens", "deadline", "consent_opens", "closed_at")
    readonly_fields = ("code",)
    inlines = [DeadlineExtensionInline]

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
