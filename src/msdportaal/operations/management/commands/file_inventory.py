"""``manage.py file_inventory``: every stored file the database points to, checked.

For every delivery, upload waiting for confirmation, CBS report and submitted consent
form whose file has not been removed by retention, and for every certificate and key of the admin's
certificate management, the file is read from its storage (S3 or local disk) and its
SHA-256 compared with the one the database recorded when it arrived. The JSON on stdout
(``--output`` for a file) lists them, with the row counts and the audit trail's head, so
two inventories can be compared (the restore drill compares the source's with the
restore's: ``scripts/restore-drill``).

Exit code 0 when every file is there and byte-identical to what the database recorded;
1 (with the problems on stderr) otherwise. This is step 5 of a restore
(docs/operations.md, *Restore to a moment T*).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from msdportaal.audit.chain import verify
from msdportaal.audit.models import AuditEntry
from msdportaal.consent.models import Consent, ConsentForm
from msdportaal.core.private_storage import referenced_names
from msdportaal.core.storage import open_stored
from msdportaal.deliveries.models import DeliveredFile, Delivery, StagedFile
from msdportaal.reports.models import Report
from msdportaal.transport.models import OutboundMessage, ReceivedMessage

BLOCK = 1024 * 1024


def stored_sha256(name: str) -> str | None:
    """SHA-256 of a file in the default storage, streamed; None when it is not there."""
    digest = hashlib.sha256()
    try:
        with open_stored(name) as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _files(rows: Iterable[tuple[Any, str, str, int | None]]) -> dict[str, dict[str, Any]]:
    return {
        str(key): {
            "stored_name": name,
            "sha256": sha256,
            "size": size,
            "stored_sha256": stored_sha256(name),
        }
        for key, name, sha256, size in rows
    }


def inventory() -> dict[str, Any]:
    live_deliveries = Delivery.objects.filter(purged_at__isnull=True).order_by("reference")
    live_reports = Report.objects.filter(purged_at__isnull=True).order_by("pk")
    live_forms = (
        ConsentForm.objects.filter(purged_at__isnull=True)
        .exclude(stored_name="")
        .order_by("reference")
    )
    private = storages["privates"]
    private_files = {}
    for _label, name in referenced_names():
        try:
            with private.open(name, "rb") as handle:
                private_files[name] = hashlib.sha256(handle.read()).hexdigest()
        except FileNotFoundError:
            private_files[name] = None
    chain = verify()
    return {
        "counts": {
            "deliveries": Delivery.objects.count(),
            "delivered_files": DeliveredFile.objects.count(),
            "staged_files": StagedFile.objects.filter(batch__confirmed_at__isnull=True).count(),
            "reports": Report.objects.count(),
            "consent_forms": ConsentForm.objects.count(),
            "consents": Consent.objects.count(),
            "outbound_messages": OutboundMessage.objects.count(),
            "received_messages": ReceivedMessage.objects.count(),
            "audit_entries": AuditEntry.objects.count(),
            "purged_deliveries": Delivery.objects.filter(purged_at__isnull=False).count(),
            "purged_reports": Report.objects.filter(purged_at__isnull=False).count(),
        },
        "deliveries": _files(
            live_deliveries.values_list("reference", "stored_name", "sha256", "size")
        ),
        # Uploads waiting for confirmation (a confirmed one's file is its delivery's).
        "staged_files": _files(
            StagedFile.objects.filter(batch__confirmed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "stored_name", "sha256", "size")
        ),
        "reports": _files(live_reports.values_list("pk", "stored_name", "sha256", "size")),
        "consent_forms": _files(
            live_forms.values_list("reference", "stored_name", "sha256", "size")
        ),
        "private_files": private_files,
        "audit": {
            "entries": chain.checked,
            "head_hash": chain.head_hash,
            "intact": chain.broken is None,
        },
    }


def problems(found: dict[str, Any]) -> list[str]:
    """What is missing or not byte-identical to what the database recorded."""
    out = []
    for kind in ("deliveries", "staged_files", "reports", "consent_forms"):
        for key, entry in found[kind].items():
            if entry["stored_sha256"] is None:
                out.append(f"{kind} {key}: {entry['stored_name']} ontbreekt")
            elif entry["stored_sha256"] != entry["sha256"]:
                out.append(
                    f"{kind} {key}: {entry['stored_name']} is niet het bestand dat binnenkwam "
                    f"(SHA-256 {entry['stored_sha256']}, verwacht {entry['sha256']})"
                )
    for name, sha256 in found["private_files"].items():
        if sha256 is None:
            out.append(f"certificaatbeheer: {name} ontbreekt")
    if not found["audit"]["intact"]:
        out.append("audittrail: de hashketen is verbroken (manage.py verify_audit_trail)")
    return out


class Command(BaseCommand):
    help = (
        "Leest elk opgeslagen bestand waar de database naar verwijst en vergelijkt de "
        "SHA-256 met wat bij ontvangst is vastgelegd."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="JSON hierheen in plaats van stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        found = inventory()
        text = json.dumps(found, indent=1, sort_keys=True)
        if options["output"]:
            options["output"].write_text(text + "\n")
        else:
            self.stdout.write(text)
        issues = problems(found)
        files = sum(len(found[k]) for k in ("deliveries", "staged_files", "reports"))
        files += len(found["consent_forms"]) + len(found["private_files"])
        if issues:
            raise CommandError(
                f"{len(issues)} van {files} bestand(en) niet in orde:\n" + "\n".join(issues)
            )
        self.stderr.write(
            f"{files} bestand(en) aanwezig en gelijk aan wat binnenkwam "
            f"(opslag: {type(default_storage._wrapped).__name__})."
        )
