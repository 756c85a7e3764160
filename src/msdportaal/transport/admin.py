"""IB's message monitor: every outbound message, its attempts, and a resend button."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from solo.admin import SingletonModelAdmin

from . import services
from .models import (
    MessageState,
    OutboundAttempt,
    OutboundMessage,
    TransportConfiguration,
    TrustedClient,
)


class AttemptInline(admin.TabularInline):
    model = OutboundAttempt
    fields = (
        "number",
        "started_at",
        "finished_at",
        "outcome",
        "http_status",
        "stuf_code",
        "detail",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = (
        "referentienummer_bericht",
        "municipality",
        "kind",
        "bestandsnaam",
        "size",
        "state",
        "waiting",
        "attempts",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("state", "kind", "municipality__province", "created_at")
    search_fields = (
        "referentienummer",
        "referentienummer_bericht",
        "bestandsnaam",
        "municipality__name",
        "municipality__code",
    )
    list_select_related = ("municipality",)
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["resend_failed"]
    exclude = ("stored_name", "gb_token", "lease_until")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboundMessage]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _waits=ExpressionWrapper(
                    Q(state__in=services.SENDABLE)
                    & services.older_unfinished(MessageState.RETRYING),
                    output_field=BooleanField(),
                )
            )
        )

    @admin.display(description=_("wacht op"), boolean=False)
    def waiting(self, obj: OutboundMessage) -> str:
        return str(_("wacht op eerdere aanlevering")) if getattr(obj, "_waits", False) else ""

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in OutboundMessage._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Mislukte berichten opnieuw versturen"))
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        count = sum(services.resend(m, request) for m in queryset.filter(state=MessageState.FAILED))
        self.message_user(
            request,
            ngettext(
                "%d bericht opnieuw in de wachtrij gezet.",
                "%d berichten opnieuw in de wachtrij gezet.",
                count,
            )
            % count,
            messages.SUCCESS if count else messages.WARNING,
        )


admin.site.register(TransportConfiguration, SingletonModelAdmin)


@admin.register(TrustedClient)
class TrustedClientAdmin(admin.ModelAdmin):
    list_display = ("name", "oin", "fingerprint_sha256", "purposes", "active")
