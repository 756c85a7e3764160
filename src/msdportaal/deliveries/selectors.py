"""Reading deliveries, always through the scoping helper."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from msdportaal.organisations.scoping import for_acting_municipality

from .models import DeliveredFile, Delivery


def delivered_files(
    request: HttpRequest, period_code: str | None = None
) -> QuerySet[DeliveredFile]:
    qs = for_acting_municipality(DeliveredFile.objects.all(), request)
    if period_code:
        qs = qs.filter(reporting_period__code=period_code)
    return qs.select_related(
        "delivery__outbound_message", "data_set", "reporting_period", "replaced_by"
    ).order_by("-reporting_period__code", "data_set__order", "-delivery__uploaded_at", "position")


def deliveries(request: HttpRequest) -> QuerySet[Delivery]:
    return for_acting_municipality(Delivery.objects.all(), request)


def periods_with_deliveries(request: HttpRequest) -> list[str]:
    return list(
        for_acting_municipality(DeliveredFile.objects.all(), request)
        .order_by("-reporting_period__code")
        .values_list("reporting_period__code", flat=True)
        .distinct()
    )
