"""IB's message monitor: every outbound message, its attempts, and resending a failed one
(per message with a confirmation, or several at once as a list action; both through
``services.resend``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from solo.admin import SingletonModelAdmin

from msdportaal.core.admin import (
    AccessibleFormsMixin,
    PortalModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
)

from . import services
from .models import (
    MessageState,
    OutboundAttempt,
    OutboundMessage,
    TransportConfiguration,
    TrustedClient,
)


class AttemptInline(ReadOnlyInline):
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


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """Read-only: the application writes every field. IB resends a failed message."""

    # Status first, then what IB acts on. The kind and the moments are filters (and on the
    # message's own page), so at 1280 px the whole row fits beside the menu and the
    # filters (browser test).
    list_display = (
        "state_label",
        "attempts",
        "next_attempt_at",
        "referentie",
        "gemeente",
        "bestandsnaam",
    )
    list_display_links = ("referentie",)
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
    change_form_template = "admin/transport/outboundmessage/change_form.html"
    # stored_name, gb_token and the lease (lease_until, lease_holder, lease_token) are
    # deliberately absent: the way to the file and the worker's lease are no business of
    # the admin.
    fieldsets = (
        (
            _("Bericht"),
            {
                "fields": (
                    "referentienummer_bericht",
                    "municipality",
                    "kind",
                    "bestandsnaam",
                    "content_type",
                    "size",
                    "sha256",
                    "source",
                )
            },
        ),
        (
            _("Verzending"),
            {
                "fields": (
                    "state",
                    "waiting",
                    "attempts",
                    "next_attempt_at",
                    "window_started_at",
                    "triggered_at",
                    "created_at",
                    "delivered_at",
                    "failed_at",
                    "last_error",
                )
            },
        ),
        (
            _("Envelop (StUF-GGk)"),
            {
                "fields": (
                    "referentienummer",
                    "tijdstip_bericht",
                    "functie",
                    "zender_applicatie",
                    "zender_administratie",
                    "applicatie_versie",
                    "applicatie_subversie",
                    "functie_versie",
                    "functie_subversie",
                )
            },
        ),
        (_("Grote Berichten"), {"fields": ("gb_expires_at", "gb_announced_expiry")}),
    )
    readonly_fields = [field for _name, options in fieldsets for field in options["fields"]]

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

    @admin.display(description=_("status"), ordering="state")
    def state_label(self, obj: OutboundMessage) -> str:
        label = obj.get_state_display()
        if getattr(obj, "_waits", False):
            return format_html("{}<br>{}", label, _("wacht op eerdere aanlevering"))
        if obj.state == MessageState.FAILED:
            return format_html("<strong>{}</strong>", label)
        return label

    @admin.display(description=_("referentie"), ordering="referentienummer_bericht")
    def referentie(self, obj: OutboundMessage) -> str:
        return obj.referentienummer_bericht

    @admin.display(description=_("gemeente"), ordering="municipality__name")
    def gemeente(self, obj: OutboundMessage) -> str:
        return obj.municipality.name

    @admin.display(description=_("wacht op"))
    def waiting(self, obj: OutboundMessage) -> str:
        return str(_("eerdere aanlevering")) if getattr(obj, "_waits", False) else "—"

    # -- resending ---------------------------------------------------------------------

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """The model's change permission: the page is read-only, resending is the one
        change IB makes to a message."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Mislukte berichten opnieuw versturen"), permissions=["resend"])
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

    def get_urls(self) -> list[URLPattern]:
        resend = path(
            "<path:object_id>/opnieuw-versturen/",
            self.admin_site.admin_view(self.resend_view),
            name="transport_outboundmessage_resend",
        )
        return [resend, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        message = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_resend": message is not None
            and message.state == MessageState.FAILED
            and self.has_resend_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A confirmation page (GET), then the resend (POST, CSRF-protected by the
        admin): the same message again, with an audit entry (``services.resend``)."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        message = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = reverse("admin:transport_outboundmessage_change", args=[message.pk])
        if request.method == "POST":
            if services.resend(message, request):
                self.message_user(
                    request,
                    _g(
                        "Bericht %(reference)s staat opnieuw in de wachtrij; het gaat met "
                        "hetzelfde referentienummer naar RINIS."
                    )
                    % {"reference": message.referentienummer_bericht},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    _g(
                        "Bericht %(reference)s is niet opnieuw verstuurd: het is niet (meer) "
                        "mislukt."
                    )
                    % {"reference": message.referentienummer_bericht},
                    messages.WARNING,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _g("Bericht opnieuw versturen"),
            "message": message,
            "can_resend": message.state == MessageState.FAILED,
            "change_url": change_url,
        }
        return TemplateResponse(
            request, "admin/transport/outboundmessage/resend_confirmation.html", context
        )


@admin.register(TransportConfiguration)
class TransportConfigurationAdmin(AccessibleFormsMixin, SingletonModelAdmin):
    pass


@admin.register(TrustedClient)
class TrustedClientAdmin(PortalModelAdmin):
    list_display = ("name", "oin", "fingerprint_sha256", "purposes", "active")
