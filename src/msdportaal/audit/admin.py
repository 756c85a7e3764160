from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
