"""The API's read side: what is expected, what was delivered, reports, consent, messages.

Views stay thin: each lets the request act for the gemeente in its URL (only under a
ketenmachtiging, else 404 — as another gemeente's objects are on the web pages), then
reads through the same selectors and the same scoping helper as the web pages.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from msdportaal.consent.selectors import FormStatus, latest_submission, open_form_states
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.selectors import deliveries as delivery_selector
from msdportaal.notifications.models import Notification
from msdportaal.organisations.scoping import (
    for_acting_municipality,
    get_for_acting_municipality_or_404,
)
from msdportaal.overview.selectors import period_overview
from msdportaal.periods.services import open_half_years
from msdportaal.reports.models import Report
from msdportaal.reports.selectors import SetOutcome, outcome_of
from msdportaal.reports.services import download_response
from msdportaal.transport.models import MessageState

from . import serializers
from .authentication import ClientCertificateAuthentication
from .models import Ketenmachtiging
from .problems import Problem
from .throttling import PerCertificateThrottle

GEMEENTE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, description="CBS-gemeentecode, vier cijfers."
)


class SystemAPIView(APIView):
    authentication_classes = [ClientCertificateAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PerCertificateThrottle]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # A gemeente's data: never in a shared cache (as on the web pages).
        response["Cache-Control"] = "private, no-store"
        return response


class GemeenteAPIView(SystemAPIView):
    """A view about one gemeente, named by its code in the URL."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.act_for_gemeente(request, kwargs.get("code"))

    def act_for_gemeente(self, request: Request, code: str | None) -> None:
        machtiging = (
            Ketenmachtiging.objects.select_related("municipality")
            .filter(client=request.auth, municipality__code=code)
            .first()
        )
        if machtiging is None:
            raise Http404
        # The one attribute the scoping helper reads, as on the web pages.
        request._request.acting_municipality = machtiging.municipality  # type: ignore[attr-defined]


class GemeentenView(SystemAPIView):
    @extend_schema(
        summary="De gemeenten waarvoor dit systeem mag aanleveren",
        responses=serializers.GemeenteSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        machtigingen = Ketenmachtiging.objects.filter(client=request.auth).select_related(
            "municipality"
        )
        return Response(
            [
                {"code": m.municipality.code, "naam": m.municipality.name, "grondslag": m.basis}
                for m in machtigingen.order_by("municipality__code")
            ]
        )


STATUS_OF_MESSAGE = {
    None: "ontvangen",
    MessageState.QUEUED: "ontvangen",
    MessageState.SENDING: "doorgestuurd",
    MessageState.RETRYING: "nieuwe-poging",
    MessageState.DELIVERED: "afgeleverd",
    MessageState.FAILED: "mislukt",
}


class ExpectedView(GemeenteAPIView):
    @extend_schema(
        summary="Open periodes en wat er van de gemeente verwacht wordt",
        description="Dezelfde gegevens als het overzicht in het portaal.",
        parameters=[GEMEENTE],
        responses=serializers.ExpectedPeriodSerializer(many=True),
    )
    def get(self, request: Request, code: str) -> Response:
        municipality = request.acting_municipality
        half_years = {h.code: h for h in open_half_years()}
        result = []
        for status in period_overview(request._request):
            period = status.period
            sets = []
            for s in status.sets:
                message = s.current.delivery.outbound_message if s.current else None
                sets.append(
                    {
                        "set": s.data_set.code,
                        "naam": s.data_set.name,
                        "periodecode": s.period_code,
                        "voorbeeld_bestandsnaam": s.data_set.example_file_name(
                            municipality.code, half_years.get(period.code, period.half_year)
                        ),
                        "aangeleverd": s.current is not None,
                        "referentie": s.current.reference if s.current else None,
                        "doorsturen": STATUS_OF_MESSAGE[message.state if message else None]
                        if s.current
                        else None,
                        "rapport": s.report.kind if s.report else None,
                        "uitkomst": s.code,
                        "uitkomst_rapport": s.report.pk if s.report else None,
                    }
                )
            result.append(
                {
                    "periode": period.code,
                    "naam": period.label,
                    "venster_open": period.window_opens,
                    "deadline": status.deadline,
                    "dagen_over": status.days_left,
                    "volgende_stap": status.next_step.text if status.next_step else "",
                    "sets": sets,
                }
            )
        return Response(serializers.ExpectedPeriodSerializer(result, many=True).data)


def _timeline(delivery: Delivery) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [
        {"stap": "ontvangen", "moment": delivery.uploaded_at, "toelichting": ""}
    ]
    message = delivery.outbound_message
    if message is None:
        return events
    for attempt in message.attempt_log.order_by("number"):
        events.append(
            {
                "stap": "doorgestuurd",
                "moment": attempt.started_at,
                "toelichting": _("poging %(n)d") % {"n": attempt.number},
            }
        )
    if message.state == MessageState.RETRYING:
        events.append(
            {
                "stap": "nieuwe-poging",
                "moment": message.next_attempt_at,
                "toelichting": _("nieuwe poging gepland"),
            }
        )
    elif message.state == MessageState.DELIVERED:
        events.append({"stap": "afgeleverd", "moment": message.delivered_at, "toelichting": ""})
    elif message.state == MessageState.FAILED:
        events.append(
            {"stap": "mislukt", "moment": message.failed_at, "toelichting": _("IB is ingelicht")}
        )
    return events


def _report_summary(report: Report, code: str) -> dict[str, object]:
    return {
        "id": report.pk,
        "soort": report.kind,
        "bestandsnaam": report.file_name,
        "ontvangen_op": report.received_at,
        "download": f"/api/v1/gemeenten/{code}/rapporten/{report.pk}/download/",
    }


def _delivery(delivery: Delivery, code: str) -> dict[str, object]:
    message = delivery.outbound_message
    reports = sorted(delivery.reports.all(), key=lambda r: (r.received_at, r.pk))
    outcomes = {}
    for f in delivery.files.all():
        status, report = outcome_of(f, reports)
        outcomes[f.pk] = SetOutcome(f.data_set, f.period_code, f, report, status)
    return {
        "referentie": delivery.reference,
        "bestandsnaam": delivery.file_name,
        "soort": delivery.kind,
        "grootte": delivery.size,
        "sha256": delivery.sha256,
        "ontvangen_op": delivery.uploaded_at,
        "aangeleverd_door": delivery.uploaded_by_name,
        "na_deadline": delivery.late,
        "status": STATUS_OF_MESSAGE[message.state if message else None],
        "bestanden": [
            {
                "referentie": f.reference,
                "bestandsnaam": f.file_name,
                "set": f.data_set.code,
                "periodecode": f.period_code,
                "grootte": f.size,
                "vervangen": hasattr(f, "replaced_by"),
                "uitkomst": outcomes[f.pk].code,
            }
            for f in delivery.files.all()
        ],
        "tijdlijn": _timeline(delivery),
        "rapporten": [_report_summary(r, code) for r in reports],
    }


def _deliveries(request: Request):  # type: ignore[no-untyped-def]
    return (
        delivery_selector(request._request)
        .select_related("outbound_message")
        .prefetch_related("files__data_set", "files__replaced_by", "reports")
        .order_by("-uploaded_at", "-pk")
    )


class DeliveriesView(GemeenteAPIView):
    @extend_schema(
        summary="Aanleveringen, nieuwste eerst, met hun tijdlijn en rapporten",
        parameters=[
            GEMEENTE,
            OpenApiParameter("periode", str, description="Alleen deze periodecode."),
        ],
        responses=serializers.DeliverySerializer(many=True),
    )
    def get(self, request: Request, code: str) -> Response:
        rows = _deliveries(request)
        if period := request.query_params.get("periode"):
            rows = rows.filter(files__period_code=period).distinct()
        return Response(
            serializers.DeliverySerializer([_delivery(d, code) for d in rows], many=True).data
        )


class DeliveryView(GemeenteAPIView):
    @extend_schema(
        summary="Eén aanlevering met haar tijdlijn en rapporten",
        parameters=[GEMEENTE],
        responses=serializers.DeliverySerializer,
    )
    def get(self, request: Request, code: str, reference: str) -> Response:
        delivery = get_for_acting_municipality_or_404(
            _deliveries(request), request._request, reference=reference
        )
        return Response(serializers.DeliverySerializer(_delivery(delivery, code)).data)


def _report(report: Report, code: str) -> dict[str, object]:
    return {
        **_report_summary(report, code),
        "periodecode": report.period_code,
        "grootte": report.size,
        "sha256": report.sha256,
        "aanlevering": report.delivery.reference if report.delivery else None,
    }


class ReportsView(GemeenteAPIView):
    @extend_schema(
        summary="Rapporten van CBS, nieuwste eerst",
        parameters=[GEMEENTE],
        responses=serializers.ReportSerializer(many=True),
    )
    def get(self, request: Request, code: str) -> Response:
        reports = for_acting_municipality(Report.objects.all(), request._request)
        rows = reports.select_related("delivery").order_by("-received_at", "-pk")
        return Response(
            serializers.ReportSerializer([_report(r, code) for r in rows], many=True).data
        )


class ReportDownloadView(GemeenteAPIView):
    @extend_schema(
        summary="Een rapport downloaden, byte voor byte zoals CBS het stuurde",
        parameters=[GEMEENTE],
        responses={(200, "application/pdf"): bytes, 410: serializers.ProblemSerializer},
    )
    def get(self, request: Request, code: str, pk: int) -> FileResponse:
        report = get_for_acting_municipality_or_404(Report.objects.all(), request._request, pk=pk)
        if report.purged_at is not None:
            raise Problem(
                410,
                "bewaartermijn-verstreken",
                _("Dit rapport is verwijderd aan het eind van zijn bewaartermijn."),
            )
        return download_response(request._request, report, via=" (systeemkoppeling)")


CONSENT_STATUS = {
    FormStatus.CLOSED: "gesloten",
    FormStatus.NOT_YET_OPEN: "nog-niet-open",
    FormStatus.NO_REPORT: "wacht-op-rapport",
    FormStatus.OPEN: "open",
    FormStatus.SUBMITTED: "ingediend",
    FormStatus.REQUIRED_AGAIN: "opnieuw-nodig",
}


class ConsentView(GemeenteAPIView):
    @extend_schema(
        summary="Toestemming per periode en set (alleen lezen)",
        description="Toestemming geven gebeurt in het webformulier van het portaal.",
        parameters=[GEMEENTE],
        responses=serializers.ConsentPeriodSerializer(many=True),
    )
    def get(self, request: Request, code: str) -> Response:
        municipality = request.acting_municipality
        result = []
        for state in open_form_states(municipality):
            latest = latest_submission(municipality, state.period)
            result.append(
                {
                    "periode": state.period.code,
                    "status": CONSENT_STATUS[state.status],
                    "formulier_open_vanaf": state.opens_on,
                    "ingediend_op": latest.submitted_at if latest else None,
                    "referentie": latest.reference if latest else None,
                    "sets": [
                        {
                            "set": c.data_set.code,
                            "periodecode": c.period_code,
                            "toestemming": c.given,
                        }
                        for c in (latest.consents.select_related("data_set") if latest else [])
                    ],
                }
            )
        return Response(serializers.ConsentPeriodSerializer(result, many=True).data)


class NotificationsView(GemeenteAPIView):
    @extend_schema(
        summary="Meldingen, oudste eerst, eventueel pas vanaf een moment",
        parameters=[
            GEMEENTE,
            OpenApiParameter(
                "sinds", str, description="ISO 8601-moment; alleen meldingen ná dit moment."
            ),
        ],
        responses=serializers.NotificationSerializer(many=True),
    )
    def get(self, request: Request, code: str) -> Response:
        rows = for_acting_municipality(Notification.objects.all(), request._request)
        if since := request.query_params.get("sinds"):
            moment = parse_datetime(since)
            if moment is None:
                raise Problem(
                    400,
                    "ongeldig-moment",
                    _("'sinds' is geen ISO 8601-moment, zoals 2026-12-01T09:00:00+01:00."),
                )
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            rows = rows.filter(created_at__gt=moment)
        data = [
            {
                "id": n.pk,
                "soort": n.event,
                "titel": n.title,
                "tekst": n.body,
                "moment": n.created_at,
            }
            for n in rows.order_by("created_at", "pk")
        ]
        return Response(serializers.NotificationSerializer(data, many=True).data)
