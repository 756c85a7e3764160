"""IB sees metadata only; there is no way to a report's contents in the admin."""

from __future__ import annotations

from django.contrib import admin

from msdportaal.core.admin import PortalModelAdmin, ReadOnlyAdminMixin

from .models import Report, ReportKindMapping


@admin.register(ReportKindMapping)
class ReportKindMappingAdmin(PortalModelAdmin):
    list_display = ("functie", "kind")


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = (
        "received_at",
        "municipality",
        "kind",
        "file_name",
        "size",
        "delivery",
        "first_read_at",
    )
    list_filter = ("kind", "received_at")
    search_fields = ("file_name", "municipality__name", "municipality__code", "delivery__reference")
    list_select_related = ("municipality", "delivery")
    fields = (
        "municipality",
        "kind",
        "functie",
        "delivery",
        "period_code",
        "file_name",
        "content_type",
        "size",
        "sha256",
        "received_at",
        "first_read_at",
    )
    readonly_fields = fields
