"""IB sees metadata only: name, size, SHA-256, status — never a file's contents."""

from __future__ import annotations

from django.contrib import admin

from msdportaal.core.admin import PortalModelAdmin, ReadOnlyAdminMixin, ReadOnlyInline

from .models import DeliveredFile, Delivery


class DeliveredFileInline(ReadOnlyInline):
    model = DeliveredFile
    fields = ("reference", "file_name", "size", "data_set", "period_code", "replaces")
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    list_display = (
        "reference",
        "municipality",
        "file_name",
        "kind",
        "size",
        "late",
        "uploaded_at",
        "outbound_message",
    )
    list_filter = ("outbound_message__state", "late", "kind", "files__reporting_period")
    search_fields = ("reference", "file_name", "sha256", "municipality__name", "municipality__code")
    date_hierarchy = "uploaded_at"
    list_select_related = ("municipality",)
    inlines = [DeliveredFileInline]
    # stored_name is deliberately absent: the admin offers no way to the file itself.
    fields = (
        "reference",
        "municipality",
        "file_name",
        "kind",
        "size",
        "sha256",
        "outbound_message",
        "late",
        "uploaded_by_name",
        "uploaded_at",
        "confirmed_at",
    )
    readonly_fields = fields
