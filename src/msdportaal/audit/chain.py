"""The audit trail as a hash chain: changing, removing or reordering an entry is evident.

Every entry stores the SHA-256 of the entry before it (``previous_hash``; the first entry
points to :data:`GENESIS`) and its own SHA-256 (``entry_hash``) over a canonical JSON of
its fields and that previous hash. The single :class:`~.models.AuditChainHead` row holds
the hash of the last entry, so removing the newest entries shows too.

Writers append under a row lock on that head (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite serialises writers itself, the portal's connections begin IMMEDIATE): two
concurrent writers can never both append to the same predecessor and fork the chain.

What this does not do: someone with write access to the database can recompute the whole
chain. ``verify_audit_trail`` prints the head hash; keeping that somewhere else (a log
collector, a daily e-mail) makes a rewrite evident as well.

The canonical form below is part of the stored data: never change it for version 1.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

GENESIS = "0" * 64
CANONICAL_VERSION = 1


def _ip(value: Any) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return str(value)


def _timestamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def canonical_bytes(entry: Any) -> bytes:
    """The entry's fields as the hash covers them (also for historical models in
    migrations, so only plain attributes are read).

    The ``user`` link is not covered: removing an account sets it to NULL by design.
    ``user_repr`` (name and username at the time) is covered.
    """
    fields = {
        "v": CANONICAL_VERSION,
        "timestamp": _timestamp(entry.timestamp),
        "action": entry.action,
        "user_repr": entry.user_repr,
        "municipality_id": entry.municipality_id,
        "ip_address": _ip(entry.ip_address),
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "message": entry.message,
        # As the database gives it back: JSON, whatever Python types went in.
        "details": json.loads(json.dumps(entry.details or {})),
        "previous_hash": entry.previous_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Any) -> str:
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def append(entry: Any) -> Any:
    """Stores a new :class:`~.models.AuditEntry` at the end of the chain."""
    from .models import AuditChainHead

    with transaction.atomic():
        head = _locked_head()
        entry.timestamp = timezone.now()
        entry.previous_hash = head.last_hash
        entry.entry_hash = entry_hash(entry)
        entry.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(
            last_hash=entry.entry_hash, last_entry_id=entry.pk
        )
    return entry


def _locked_head() -> Any:
    from .models import AuditChainHead, AuditEntry

    head = AuditChainHead.objects.select_for_update().filter(pk=AuditChainHead.SINGLETON).first()
    if head is not None:
        return head
    # Only on an empty database (the migration creates the head; tests flush tables).
    last = AuditEntry.objects.order_by("-pk").first()
    AuditChainHead.objects.get_or_create(
        pk=AuditChainHead.SINGLETON,
        defaults={
            "last_hash": last.entry_hash if last else GENESIS,
            "last_entry_id": last.pk if last else None,
        },
    )
    return AuditChainHead.objects.select_for_update().get(pk=AuditChainHead.SINGLETON)


@dataclass(frozen=True)
class Break:
    entry_id: int | None
    timestamp: datetime.datetime | None
    reason: str


@dataclass(frozen=True)
class Verification:
    checked: int
    head_hash: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(*, chunk_size: int = 2000) -> Verification:
    """Walks the chain from the first entry to the head; stops at the first broken link."""
    from .models import AuditChainHead, AuditEntry

    previous_hash, previous_id, checked = GENESIS, None, 0
    for entry in AuditEntry.objects.order_by("pk").iterator(chunk_size=chunk_size):
        if entry.previous_hash != previous_hash:
            after = f"regel {previous_id}" if previous_id else "het begin van de audittrail"
            return Verification(
                checked,
                previous_hash,
                Break(
                    entry.pk,
                    entry.timestamp,
                    f"sluit niet aan op {after}: daartussen is een regel verwijderd, "
                    "of de vorige regel is gewijzigd en opnieuw gehasht",
                ),
            )
        if entry_hash(entry) != entry.entry_hash:
            return Verification(
                checked,
                previous_hash,
                Break(entry.pk, entry.timestamp, "de inhoud klopt niet met de hash: gewijzigd"),
            )
        previous_hash, previous_id = entry.entry_hash, entry.pk
        checked += 1
    head = AuditChainHead.objects.filter(pk=AuditChainHead.SINGLETON).first()
    if head is None:
        if checked:
            return Verification(
                checked, previous_hash, Break(None, None, "de kop van de keten ontbreekt")
            )
        return Verification(checked, previous_hash, None)
    if head.last_hash != previous_hash:
        return Verification(
            checked,
            previous_hash,
            Break(
                head.last_entry_id,
                None,
                f"de kop wijst naar regel {head.last_entry_id}, maar de keten eindigt bij "
                f"{f'regel {previous_id}' if previous_id else 'het begin'}: de laatste "
                "regel(s) zijn verwijderd of gewijzigd",
            ),
        )
    return Verification(checked, previous_hash, None)
