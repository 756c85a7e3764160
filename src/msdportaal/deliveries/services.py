"""The business rules of delivering files (DESIGN.md §3, §4)."""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.core.references import allocate_reference
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DataSet
from msdportaal.periods.services import check_open_for_delivery, open_half_years
from msdportaal.transport.models import MessageKind
from msdportaal.transport.services import enqueue

from .archives import list_csv_entries
from .models import DeliveredFile, Delivery, FileKind, StagedFile, UploadBatch
from .naming import STUF_NAME_CHARS, NameRefused, check_stuf_name, parse_csv_name
from .selectors import current_file
from .signals import batch_confirmed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.organisations.models import Municipality, User

    from .uploads import HashedUploadedFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    file_name: str
    message: str


@dataclass
class StagingResult:
    batch: UploadBatch | None = None
    refusals: list[Refusal] = field(default_factory=list)


def too_large_message(name: str) -> str:
    from django.conf import settings

    limit_mb = settings.MSD_UPLOAD_MAX_BYTES / 1_000_000
    return _(
        "„%(name)s” is groter dan %(limit)s MB, de grootste toegestane omvang. Neem contact op "
        "met IB als u een groter bestand moet aanleveren."
    ) % {"name": name, "limit": f"{limit_mb:g}"}


_CHAR_NAMES = {
    "\0": "NUL-teken",
    "\n": "regeleinde",
    "\r": "regeleinde",
    "\t": "tab",
    " ": "spatie",
    "\u200b": "onzichtbare spatie (U+200B)",
    "\ufeff": "onzichtbaar teken (U+FEFF)",
}


def _visible(name: str) -> str:
    """*name* with its invisible characters written out, so the user can find them."""
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in name)


def name_changed_message(name: str, municipality: Municipality, data_sets: list[DataSet]) -> str:
    bad = sorted({c for c in name if not STUF_NAME_CHARS.fullmatch(c)})
    shown = ", ".join(
        _CHAR_NAMES.get(c) or (f"„{c}”" if c.isprintable() else f"teken U+{ord(c):04X}")
        for c in bad
    )
    return _(
        "De bestandsnaam „%(name)s” bevat tekens die onderweg weggelaten of veranderd zouden "
        "worden (%(chars)s), zoals een map, een HTML-code of een onzichtbaar teken. We sturen "
        "een bestand alleen door onder precies de naam die u verstuurt. Geef het bestand een "
        "naam volgens het patroon MSD_<SET>_<gemeentecode>_<periode>.csv (of .zip), "
        "bijvoorbeeld %(example)s, en lever het opnieuw aan."
    ) % {
        "name": _visible(name),
        "chars": shown or _("tekens"),
        "example": _example_name(municipality, data_sets),
    }


def _example_name(municipality: Municipality | None, data_sets: list[DataSet]) -> str:
    """A correct file name for this gemeente in the current period, for refusal messages."""
    if municipality is None or not data_sets:
        return ""
    current, _previous = open_half_years()
    return data_sets[0].example_file_name(municipality.code, current)


def body_refused(request: HttpRequest, failure: str) -> str:
    """The Dutch message for a request body refused as a whole; nothing was kept."""
    from django.conf import settings
    from django.http.multipartparser import MAX_TOTAL_HEADER_SIZE

    from . import uploads

    messages = {
        uploads.TOO_MANY_FILES: _(
            "U heeft meer dan %(max)d bestanden tegelijk gekozen. Er is niets aangeleverd. "
            "Lever hoogstens %(max)d bestanden in één keer aan (of bundel ze in een ZIP-bestand) "
            "en lever de rest daarna aan."
        )
        % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FILES},
        uploads.TOO_MANY_FIELDS: _(
            "Het formulier bevat meer dan %(max)d velden. Er is niets aangeleverd. Gebruik het "
            "formulier op deze pagina zonder aanpassingen en probeer het opnieuw."
        )
        % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
        uploads.FIELD_TOO_BIG: _(
            "Een formulierveld is groter dan %(max)s MB; alleen bestanden mogen zo groot zijn. "
            "Er is niets aangeleverd. Kies uw bestanden in het bestandsveld van het formulier op "
            "deze pagina en probeer het opnieuw."
        )
        % {"max": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024:g}".replace(".", ",")},
        uploads.PART_HEADER_TOO_BIG: _(
            "De naam van een bestand is te lang: de naam en de andere gegevens bij één "
            "bestand mogen samen hoogstens %(max)d tekens zijn. Er is niets aangeleverd. Geef "
            "het bestand een naam volgens het patroon MSD_<SET>_<gemeentecode>_<periode>.csv "
            "(of .zip), bijvoorbeeld %(example)s, en lever het opnieuw aan."
        )
        % {
            "max": MAX_TOTAL_HEADER_SIZE,
            "example": _example_name(
                getattr(request, "acting_municipality", None), list(DataSet.objects.all())
            ),
        },
        uploads.BROKEN: _(
            "De upload is niet compleet aangekomen (de verbinding is onderbroken of het "
            "verzoek is beschadigd). Er is niets aangeleverd. Kies de bestanden opnieuw en "
            "probeer het nog eens."
        ),
    }
    message = messages[failure]
    record(AuditAction.UPLOAD_REFUSED, request=request, message=message, file_name="")
    return message


def _members_for(
    upload: HashedUploadedFile, municipality: Municipality, data_sets: list[DataSet]
) -> tuple[FileKind, list[dict[str, object]]]:
    """What an upload holds, checked against every rule, or :class:`NameRefused`."""
    name = upload.name or ""
    check_stuf_name(name)
    if upload.size == 0:
        raise NameRefused(
            _(
                "„%(name)s” is leeg (0 bytes). Kies het bestand opnieuw: controleer dat het "
                "gegevens bevat en dat u het goede bestand hebt gekozen."
            )
            % {"name": name}
        )
    current, previous = open_half_years()
    lower = name.lower()
    if lower.endswith(".zip"):
        kind = FileKind.ZIP
        entries = [(e.name, e.size) for e in list_csv_entries(upload.file, name)]
    elif lower.endswith(".csv"):
        kind = FileKind.CSV
        entries = [(name, upload.size)]
    else:
        raise NameRefused(
            _(
                "„%(name)s” is geen CSV- of ZIP-bestand. U kunt alleen .csv- en .zip-bestanden "
                "aanleveren."
            )
            % {"name": name}
        )
    members = []
    for entry_name, size in entries:
        parsed = parse_csv_name(entry_name, data_sets, municipality.code, current)
        if parsed.municipality_code != municipality.code:
            raise NameRefused(
                _(
                    "„%(name)s” is voor gemeentecode %(code)s, maar u levert aan namens "
                    "%(municipality)s (%(own)s). Lever alleen bestanden van %(municipality)s aan, "
                    "of wissel eerst van gemeente."
                )
                % {
                    "name": entry_name,
                    "code": parsed.municipality_code,
                    "municipality": municipality.name,
                    "own": municipality.code,
                }
            )
        check = check_open_for_delivery(parsed.half_year, municipality=municipality)
        if check.period is None:
            raise NameRefused(f"„{entry_name}”: {check.error}")
        members.append(
            {
                "name": entry_name,
                "size": size,
                "data_set": parsed.data_set.code,
                "period_code": parsed.period_code,
                "warning": parsed.warning,
                "late": check.late,
                # The previous period is open for corrections (DESIGN.md §3.4): shown to
                # the gemeente as a correction, not as "na de deadline".
                "correction": parsed.half_year == previous,
            }
        )
    return kind, members


def _refuse_repeats(
    members: list[dict[str, object]], seen: dict[tuple[object, object], str]
) -> None:
    """One set and period once per upload: a delivery replaces the previous one whole.

    Only a file that is accepted claims its sets and periods in ``seen``.
    """
    claimed: dict[tuple[object, object], str] = {}
    for member in members:
        key = (member["data_set"], member["period_code"])
        other = seen.get(key) or claimed.get(key)
        if other is not None:
            raise NameRefused(
                _(
                    "„%(name)s” bevat dezelfde set en periode als „%(other)s” in deze "
                    "aanlevering. Een aanlevering vervangt de vorige in zijn geheel: lever "
                    "elk bestand één keer aan."
                )
                % {"name": member["name"], "other": other}
            )
        claimed[key] = str(member["name"])
    seen.update(claimed)


def stage_upload(
    request: HttpRequest,
    uploads: list[HashedUploadedFile],
    dropped: list[tuple[str, str]],
) -> StagingResult:
    """Checks every uploaded file; the accepted ones wait in a batch for confirmation.

    *dropped* holds the ``(reason, name)`` of files the upload handler refused while they
    streamed in. A refused file is not kept: its temporary file is removed and nothing is
    stored.
    """
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    data_sets = list(DataSet.objects.all())
    result = StagingResult(
        refusals=[
            Refusal(
                name,
                too_large_message(name)
                if reason == "too_large"
                else name_changed_message(name, municipality, data_sets),
            )
            for reason, name in dropped
        ]
    )
    accepted: list[tuple[HashedUploadedFile, FileKind, list[dict[str, object]]]] = []
    seen: dict[tuple[object, object], str] = {}  # (set, period) → the file that has it
    for upload in uploads:
        try:
            kind, members = _members_for(upload, municipality, data_sets)
            _refuse_repeats(members, seen)
        except NameRefused as refusal:
            result.refusals.append(Refusal(upload.name or "", refusal.message))
            upload.close()
            continue
        accepted.append((upload, kind, members))
    for refusal in result.refusals:
        record(
            AuditAction.UPLOAD_REFUSED,
            request=request,
            message=refusal.message,
            file_name=refusal.file_name,
        )
    if not accepted:
        return result
    now = timezone.now()
    with transaction.atomic():
        batch = UploadBatch.objects.create(municipality=municipality, uploaded_by=request.user)
        for position, (upload, kind, members) in enumerate(accepted, start=1):
            stored_name = default_storage.save(_storage_name(now), upload)
            StagedFile.objects.create(
                batch=batch,
                position=position,
                file_name=upload.name,
                kind=kind,
                size=upload.size,
                sha256=upload.sha256,
                stored_name=stored_name,
                received_at=now,
                members=members,
            )
    result.batch = batch
    return result


def _storage_name(moment: datetime.datetime) -> str:
    """A generated path: never the user's file name."""
    return f"deliveries/{moment:%Y/%m}/{uuid.uuid4().hex}"


class BatchGone(Exception):
    """The batch was cancelled or expired (perhaps by a request racing this one)."""


def confirm_batch(request: HttpRequest, batch: UploadBatch) -> list[Delivery]:
    """Turns a checked batch into deliveries, once; a repeated confirm changes nothing.

    Raises :class:`BatchGone` when the batch no longer exists.
    """
    with transaction.atomic():
        batch = _locked(batch)
        if batch.confirmed_at is not None:
            return list(batch.deliveries.order_by("reference"))
        # One confirmation at a time per gemeente, so "replaces" is decided in order.
        type(batch.municipality).objects.select_for_update().get(pk=batch.municipality_id)
        data_sets = {ds.code: ds for ds in DataSet.objects.all()}
        user: User = request.user  # type: ignore[assignment]
        deliveries = []
        for staged in batch.files.all():
            delivery = Delivery.objects.create(
                reference=allocate_reference(staged.received_at, "aanlevering"),
                municipality=batch.municipality,
                batch=batch,
                kind=staged.kind,
                file_name=staged.file_name,
                size=staged.size,
                sha256=staged.sha256,
                stored_name=staged.stored_name,
                uploaded_by=user,
                uploaded_by_name=user.display_name,
                uploaded_at=staged.received_at,
                late=any(m["late"] for m in staged.members),
            )
            for index, member in enumerate(staged.members, start=1):
                data_set = data_sets[member["data_set"]]
                half_year = HalfYear.from_code(member["period_code"])
                check = check_open_for_delivery(half_year, municipality=batch.municipality)
                if check.period is None:
                    raise NameRefused(f"„{member['name']}”: {check.error}")
                in_zip = staged.kind == FileKind.ZIP
                DeliveredFile.objects.create(
                    delivery=delivery,
                    reference=f"{delivery.reference}-{index}" if in_zip else delivery.reference,
                    position=index if in_zip else 0,
                    file_name=member["name"],
                    size=member["size"],
                    municipality=batch.municipality,
                    data_set=data_set,
                    period_code=member["period_code"],
                    reporting_period=check.period,
                    replaces=current_file(batch.municipality, data_set, member["period_code"]),
                    naming_warning=member["warning"],
                )
            delivery.outbound_message = enqueue(
                kind=MessageKind.DELIVERY,
                municipality=batch.municipality,
                administratie=batch.municipality.name,
                stored_name=delivery.stored_name,
                bestandsnaam=delivery.file_name,
                content_type=delivery.content_type,
                size=delivery.size,
                sha256=delivery.sha256,
                referentienummer_bericht=delivery.reference,
                source=f"aanlevering {delivery.reference}",
            )
            delivery.save(update_fields=["outbound_message"])
            record(
                AuditAction.UPLOAD,
                request=request,
                municipality=batch.municipality,
                target=delivery,
                message=f"{delivery.reference} {delivery.file_name}",
                reference=delivery.reference,
                sha256=delivery.sha256,
                size=delivery.size,
            )
            deliveries.append(delivery)
        batch.confirmed_at = timezone.now()
        batch.save(update_fields=["confirmed_at"])
        batch_confirmed.send(UploadBatch, batch=batch)  # the receipt is queued in this transaction
    return deliveries


def _locked(batch: UploadBatch) -> UploadBatch:
    try:
        return UploadBatch.objects.select_for_update().get(pk=batch.pk)
    except UploadBatch.DoesNotExist as exc:
        raise BatchGone from exc


def discard_batch(batch: UploadBatch) -> bool:
    """Drops an unconfirmed batch and its stored files (user cancelled or it expired).

    False when it was confirmed meanwhile, and so stays; a batch already gone is fine.
    """
    with transaction.atomic():
        try:
            batch = _locked(batch)
        except BatchGone:
            return True
        if batch.confirmed_at is not None:
            return False
        names = list(batch.files.values_list("stored_name", flat=True))
        batch.delete()
    for name in names:
        default_storage.delete(name)
    return True
