"""Resumable uploads (tus 1.0.0): the rules, apart from HTTP.

Each PATCH's bytes are stored as one part in the default storage (object storage in
production), so any node can take the next PATCH and nothing lives on one node's disk
between requests. The last byte assembles the parts, once, into a request-scoped
temporary file that goes through exactly the web upload's checks
(:func:`msdportaal.deliveries.services.stage_upload`): same naming, ZIP and size rules,
same staging, same confirmation.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from msdportaal.core.storage import ensure_upload_temp_dir
from msdportaal.deliveries.naming import NameRefused, check_stuf_name
from msdportaal.deliveries.services import (
    name_changed_message,
    stage_upload,
    too_large_message,
)
from msdportaal.deliveries.uploads import HashedUploadedFile, django_sanitised
from msdportaal.periods.models import DataSet

from .models import TusUpload
from .problems import Problem

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.organisations.models import Municipality, User

CHUNK = 1024 * 1024
#: How long a PATCH may hold an upload before another may take it (a dead request's lease).
WRITE_LEASE = datetime.timedelta(minutes=10)


def part_prefix(upload: TusUpload) -> str:
    return f"tus/{upload.pk}/"


def _part_name(upload: TusUpload, offset: int) -> str:
    return f"{part_prefix(upload)}{offset:020d}"


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _sep, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(
                400,
                "ongeldige-metadata",
                _("Upload-Metadata is geen geldige tus-metadata (sleutel en base64-waarde)."),
            ) from exc
    return result


def create(
    municipality: Municipality,
    user: User,
    file_name: str,
    length: int,
    *,
    staged_on_completion: bool = True,
) -> TusUpload:
    """A new upload, or a refusal before any byte is sent (the name, the size)."""
    if django_sanitised(file_name) != file_name:
        raise Problem(
            400,
            "bestandsnaam-geweigerd",
            name_changed_message(file_name, municipality, list(DataSet.objects.all())),
        )
    try:
        check_stuf_name(file_name)
    except NameRefused as refusal:
        raise Problem(400, "bestandsnaam-geweigerd", refusal.message) from refusal
    if not file_name.lower().endswith((".csv", ".zip")):
        raise Problem(
            400,
            "bestandsnaam-geweigerd",
            _(
                "„%(name)s” is geen CSV- of ZIP-bestand. U kunt alleen .csv- en .zip-bestanden "
                "aanleveren."
            )
            % {"name": file_name},
        )
    if length == 0:
        raise Problem(400, "leeg-bestand", _("„%(name)s” is leeg (0 bytes).") % {"name": file_name})
    if length > settings.MSD_UPLOAD_MAX_BYTES:
        raise Problem(413, "te-groot", too_large_message(file_name))
    return TusUpload.objects.create(
        municipality=municipality,
        created_by=user,
        file_name=file_name,
        length=length,
        expires_at=timezone.now() + datetime.timedelta(hours=settings.MSD_TUS_EXPIRY_HOURS),
        staged_on_completion=staged_on_completion,
    )


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


#: tus requires sha1 of every server; sha256 is what we recommend (docs/api.md).
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def parse_checksum(header: str) -> Checksum | None:
    if not header:
        return None
    algorithm, _sep, value = header.partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise Problem(
            400,
            "checksum-algoritme",
            _("Upload-Checksum kan met sha256 (aanbevolen) of sha1; niet met %(name)s.")
            % {"name": algorithm[:20]},
        )
    try:
        return Checksum(algorithm, base64.b64decode(value, validate=True))
    except ValueError as exc:
        raise Problem(400, "checksum-ongeldig", _("Upload-Checksum is geen base64.")) from exc


def _take_lease(upload: TusUpload, offset: int) -> None:
    now = timezone.now()
    taken = TusUpload.objects.filter(
        Q(writing_until__isnull=True) | Q(writing_until__lt=now),
        pk=upload.pk,
        offset=offset,
        completed_at__isnull=True,
    ).update(writing_until=now + WRITE_LEASE)
    if taken:
        return
    upload.refresh_from_db()
    if upload.offset != offset:
        raise Problem(
            409,
            "offset-klopt-niet",
            _(
                "Upload-Offset is %(sent)d, maar de server heeft %(have)d bytes. Vraag de stand op "
                "met HEAD en ga daar verder."
            )
            % {"sent": offset, "have": upload.offset},
        )
    raise Problem(423, "upload-bezig", _("Er loopt al een verzoek voor deze upload."))


def append(
    upload: TusUpload,
    offset: int,
    read: Callable[[int], bytes],
    length: int,
    checksum: Checksum | None,
) -> int:
    """Stores the body's bytes as the next part; returns the new offset.

    A body that ends early keeps what arrived (tus: the client resumes from there), unless
    a checksum was sent: then nothing of it is kept, as it cannot be verified.
    """
    if upload.completed_at is not None:
        raise Problem(409, "upload-compleet", _("Deze upload is al compleet."))
    if offset + length > upload.length:
        raise Problem(
            413,
            "voorbij-lengte",
            _("Dit deel gaat voorbij de aangekondigde lengte (Upload-Length %(n)d).")
            % {"n": upload.length},
        )
    _take_lease(upload, offset)
    try:
        received = 0
        # Only a part with Upload-Checksum is hashed here; the file's SHA-256 is taken once,
        # when the parts are joined (assemble).
        digest = CHECKSUM_ALGORITHMS[checksum.algorithm]() if checksum else None
        with tempfile.TemporaryFile(dir=ensure_upload_temp_dir()) as part:
            complete = True
            while received < length:
                try:
                    chunk = read(min(CHUNK, length - received))
                except OSError:
                    chunk = b""
                if not chunk:
                    complete = False
                    break
                part.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                received += len(chunk)
            if digest is not None and (not complete or digest.digest() != checksum.digest):
                if complete:
                    raise Problem(
                        460,
                        "checksum-klopt-niet",
                        _(
                            "Het controlegetal (sha256) van dit deel klopt niet; het deel is niet "
                            "bewaard. Stuur het opnieuw."
                        ),
                    )
                received = 0
            if received:
                part.seek(0)
                default_storage.save(_part_name(upload, offset), File(part))
        new_offset = offset + received
        TusUpload.objects.filter(pk=upload.pk).update(offset=new_offset)
        upload.offset = new_offset
        return new_offset
    finally:
        TusUpload.objects.filter(pk=upload.pk).update(writing_until=None)


def _parts(upload: TusUpload) -> list[str]:
    try:
        _dirs, files = default_storage.listdir(part_prefix(upload).rstrip("/"))
    except FileNotFoundError:  # a file system storage before the first part
        return []
    return sorted(f"{part_prefix(upload)}{name}" for name in files)


def assemble(upload: TusUpload) -> HashedUploadedFile:
    """The parts as one temporary file (a web upload's kind), with its SHA-256."""
    ensure_upload_temp_dir()
    file = HashedUploadedFile(upload.file_name, "application/octet-stream", 0, None)
    digest, size = hashlib.sha256(), 0
    for name in _parts(upload):
        source: BinaryIO
        with default_storage.open(name, "rb") as source:
            while chunk := source.read(CHUNK):
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    file.seek(0)
    file.size = size
    file.sha256 = digest.hexdigest()
    return file


def finish(request: HttpRequest, upload: TusUpload) -> None:
    """The last byte is in: check and stage the file as the web upload does, once."""
    with transaction.atomic():
        upload = TusUpload.objects.select_for_update().get(pk=upload.pk)
        if upload.completed_at is not None or upload.offset != upload.length:
            return
        if not upload.staged_on_completion:  # the web page stages its files together
            upload.completed_at = timezone.now()
            upload.save(update_fields=["completed_at"])
            return
        file = assemble(upload)
        try:
            result = stage_upload(request, [file], [])
        finally:
            file.close()
        upload.completed_at = timezone.now()
        upload.batch = result.batch
        upload.refusals = [
            {"bestandsnaam": r.file_name, "melding": r.message} for r in result.refusals
        ]
        upload.save(update_fields=["completed_at", "batch", "refusals"])
    remove_parts(upload)


def remove_parts(upload: TusUpload) -> None:
    for name in _parts(upload):
        default_storage.delete(name)


def remove_expired(now: datetime.datetime | None = None) -> int:
    """Unfinished uploads past their expiry go, with their parts (a periodic task)."""
    now = now or timezone.now()
    expired = list(TusUpload.objects.filter(expires_at__lt=now, completed_at__isnull=True))
    for upload in expired:
        remove_parts(upload)
        upload.delete()
    return len(expired)


def discard(upload: TusUpload) -> None:
    """Termination: the parts and the row go; a staged, unconfirmed batch too."""
    from msdportaal.deliveries.services import discard_batch

    remove_parts(upload)
    if upload.batch is not None:
        discard_batch(upload.batch)
    upload.delete()
