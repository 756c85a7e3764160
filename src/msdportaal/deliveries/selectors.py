"""Reading deliveries, always through the scoping helper."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest

from msdportaal.organisations.models import Municipality
from msdportaal.organisations.scoping import for_acting_municipality
from msdportaal.periods.models import DataSet
from msdportaal.transport.models import MessageState, OutboundMessage
from msdportaal.transport.services import older_unfinished

from .models import DeliveredFile, Delivery, UploadBatch


def delivered_files(
    request: HttpRequest, period_code: str | None = None
) -> QuerySet[DeliveredFile]:
    qs = for_acting_municipality(DeliveredFile.objects.all(), request)
    if period_code:
        qs = qs.filter(reporting_period__code=period_code)
    # The message comes with "waits for an earlier one" answered in the same query, so a
    # list of queued deliveries costs no query per row (transport.services.waits_for_earlier).
    messages = OutboundMessage.objects.annotate(
        waits_for_earlier=older_unfinished(MessageState.RETRYING)
    )
    # Newest first, as the history's caption says; the CSVs of one ZIP in their order.
    return (
        qs.select_related("delivery", "data_set", "reporting_period", "replaced_by")
        .prefetch_related(Prefetch("delivery__outbound_message", queryset=messages))
        .order_by("-delivery__uploaded_at", "-delivery__reference", "position")
    )


def deliveries(request: HttpRequest) -> QuerySet[Delivery]:
    return for_acting_municipality(Delivery.objects.all(), request)


def periods_with_deliveries(request: HttpRequest) -> list[str]:
    return list(
        for_acting_municipality(DeliveredFile.objects.all(), request)
        .order_by("-reporting_period__code")
        .values_list("reporting_period__code", flat=True)
        .distinct()
    )


def staged_files(batch: UploadBatch) -> list[dict[str, object]]:
    """What the check page shows per file: each CSV with its set and what it replaces, and
    the delivery it replaces byte for byte (same SHA-256), if it does."""
    data_sets = {ds.code: ds for ds in DataSet.objects.all()}
    result = []
    for staged in batch.files.all():
        members = [
            {
                **member,
                "data_set": data_sets[member["data_set"]],
                "replaces": current_file(
                    batch.municipality, member["data_set"], member["period_code"]
                ),
            }
            for member in staged.members
        ]
        replaced = [m["replaces"].delivery for m in members if m["replaces"] is not None]
        identical = next((d for d in replaced if d.sha256 == staged.sha256), None)
        result.append({"staged": staged, "members": members, "identical_to": identical})
    return result


def identical_predecessor(delivery: Delivery) -> Delivery | None:
    """The delivery this one replaced that had exactly the same bytes (same SHA-256)."""
    return (
        Delivery.objects.filter(
            municipality=delivery.municipality_id,
            sha256=delivery.sha256,
            files__replaced_by__delivery=delivery,
        )
        .exclude(pk=delivery.pk)
        .order_by("-uploaded_at")
        .first()
    )


def current_file(
    municipality: Municipality, data_set: DataSet | str, period_code: str
) -> DeliveredFile | None:
    """The CSV that is in force now for this gemeente, set and period (not replaced)."""
    lookup = {"data_set__code": data_set} if isinstance(data_set, str) else {"data_set": data_set}
    return (
        DeliveredFile.objects.filter(
            municipality=municipality, period_code=period_code, replaced_by__isnull=True, **lookup
        )
        .select_related("delivery")
        .order_by("-delivery__uploaded_at", "-pk")
        .first()
    )
