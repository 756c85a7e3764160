from django.contrib import admin

from msdportaal.core.admin import PortalModelAdmin, ReadOnlyAdminMixin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """Read-only: nobody edits or deletes audit entries through the application."""

    list_display = ("timestamp", "action", "user_repr", "municipality", "ip_address", "message")
    list_filter = ("action", "timestamp")
    search_fields = (
        "user_repr",
        "message",
        "object_id",
        "municipality__name",
        "municipality__code",
    )
    date_hierarchy = "timestamp"
    list_select_related = ("municipality",)
