"""IB sees who decided what, per period, and who has not decided yet — metadata only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from msdportaal.core.admin import PortalModelAdmin, ReadOnlyAdminMixin, ReadOnlyInline
from msdportaal.periods.models import ReportingPeriod
from msdportaal.periods.services import open_half_years

from . import selectors
from .models import Consent, ConsentForm
from .selectors import FormStatus

STATUS_LABELS = {
    FormStatus.OPEN: _("Nog geen besluit"),
    FormStatus.REQUIRED_AGAIN: _("Opnieuw nodig (correctie na toestemming)"),
    FormStatus.SUBMITTED: _("Besloten"),
    FormStatus.NO_REPORT: _("Nog geen op-orde-rapport"),
    FormStatus.NOT_YET_OPEN: _("Formulier nog niet open"),
    FormStatus.CLOSED: _("Periode gesloten"),
}
#: The overview lists the gemeenten that still have to act first.
STATUS_ORDER = list(STATUS_LABELS)


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ("request_name", "period_code", "given", "question")
    readonly_fields = fields


@admin.register(ConsentForm)
class ConsentFormAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    change_list_template = "admin/consent/consentform/change_list.html"
    list_display = (
        "reference",
        "municipality",
        "period",
        "decided_on",
        "name",
        "answers",
        "forwarding",
    )
    list_filter = ("period", "consents__given", "outbound_message__state")
    search_fields = ("reference", "municipality__name", "municipality__code", "name", "email")
    date_hierarchy = "submitted_at"
    list_select_related = ("municipality", "period", "outbound_message")
    inlines = [ConsentInline]
    # stored_name is deliberately absent: the admin offers no way to the file itself.
    fields = (
        "reference",
        "municipality",
        "period",
        "decided_on",
        "submitted_at",
        "name",
        "email",
        "phone",
        "submitted_by_name",
        "file_name",
        "size",
        "sha256",
        "outbound_message",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).submitted().prefetch_related("consents").distinct()

    @admin.display(description=_("keuze per set"))
    def answers(self, obj: ConsentForm) -> str:
        return format_html_join(
            ", ", "{}: {}", ((c.request_name, c.conclusion) for c in obj.consents.all())
        )

    @admin.display(description=_("doorsturen"), ordering="outbound_message__state")
    def forwarding(self, obj: ConsentForm) -> str:
        message = obj.outbound_message
        return message.get_state_display() if message else "—"

    def get_urls(self) -> list[URLPattern]:
        overview = path(
            "overzicht/",
            self.admin_site.admin_view(self.overview_view),
            name="consent_consentform_overview",
        )
        return [overview, *super().get_urls()]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        """Per period: every active gemeente, its state, and its decision in force."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        current, _previous = open_half_years()
        periods = list(ReportingPeriod.objects.order_by("-code"))
        period = next((p for p in periods if p.code == request.GET.get("periode")), None)
        if period is None:
            period = ReportingPeriod.objects.for_half_year(current)
            if period not in periods:
                periods.insert(0, period)
        rows = selectors.period_overview(period)
        counts = Counter(row.status for row in rows)
        wanted = request.GET.get("status", "")
        if wanted in {status.value for status in FormStatus}:
            rows = [row for row in rows if row.status == wanted]
        else:
            wanted = ""
        rows.sort(key=lambda row: (STATUS_ORDER.index(row.status), row.municipality.name))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Toestemming per gemeente"),
            "period": period,
            "periods": periods,
            "rows": [(row, STATUS_LABELS[row.status]) for row in rows],
            "counts": [(status, STATUS_LABELS[status], counts[status]) for status in STATUS_ORDER],
            "wanted": wanted,
            "changelist_url": reverse("admin:consent_consentform_changelist"),
        }
        return TemplateResponse(request, "admin/consent/overview.html", context)
