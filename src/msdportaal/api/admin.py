from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from msdportaal.core.admin import PortalModelAdmin, PortalTabularInline

from .models import Ketenmachtiging, SystemClient, TusUpload


class KetenmachtigingInline(PortalTabularInline):
    model = Ketenmachtiging
    extra = 1
    autocomplete_fields = ["municipality"]
    fields = ["municipality", "basis", "granted_at"]


@admin.register(SystemClient)
class SystemClientAdmin(PortalModelAdmin):
    list_display = ["name", "active", "revoked_at", "fingerprint_sha256", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "fingerprint_sha256", "machtigingen__municipality__name"]
    readonly_fields = ["fingerprint_sha256", "user", "revoked_at", "created_at"]
    fields = [
        "name",
        "certificate",
        "fingerprint_sha256",
        "contact_email",
        "active",
        "revoked_at",
        "user",
        "created_at",
    ]
    inlines = [KetenmachtigingInline]
    actions = ["revoke"]

    @admin.action(description=_("Certificaat intrekken (werkt meteen)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[SystemClient]) -> None:
        for client in queryset.filter(revoked_at__isnull=True):
            client.revoke()
        self.message_user(request, _("De certificaten zijn ingetrokken."), messages.SUCCESS)


@admin.register(TusUpload)
class TusUploadAdmin(PortalModelAdmin):
    list_display = ["file_name", "municipality", "offset", "length", "created_at", "expires_at"]
    readonly_fields = [f.name for f in TusUpload._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
