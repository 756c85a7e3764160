from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from msdportaal.core.admin import PortalModelAdmin, PortalTabularInline

from .models import DataSet, DeadlineExtension, ReportingPeriod


@admin.register(DataSet)
class DataSetAdmin(PortalModelAdmin):
    """The sets CBS asks for come with the migrations and are referred to by deliveries
    and consent: IB changes them, never adds or removes one."""

    list_display = ("name", "code", "file_kind", "frequency", "naming_mode", "order")
    list_editable = ("naming_mode",)
    readonly_fields = ("code",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeadlineExtensionInline(PortalTabularInline):
    model = DeadlineExtension
    extra = 0
    fields = ("municipality", "deadline", "reason", "granted_at")
    readonly_fields = ("granted_at",)
    autocomplete_fields = ("municipality",)


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(PortalModelAdmin):
    """Periods are made from the calendar (periods.services.generate_periods): IB moves
    their dates or closes one, never adds or deletes one."""

    list_display = ("code", "window_opens", "deadline", "consent_opens", "closed_at")
    readonly_fields = ("code",)
    inlines = [DeadlineExtensionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(DeadlineExtension)
class DeadlineExtensionAdmin(PortalModelAdmin):
    """Every extension in one list (the start page links here for today's); granted
    on the period's page or here."""

    list_display = ("municipality", "period", "deadline", "reason", "granted_at")
    list_filter = ("period", "granted_at")
    search_fields = ("municipality__name", "municipality__code", "reason")
    list_select_related = ("municipality", "period")
    autocomplete_fields = ("municipality",)
    fields = ("period", "municipality", "deadline", "reason", "granted_at")
    readonly_fields = ("granted_at",)
    ordering = ("-granted_at", "municipality__name")
