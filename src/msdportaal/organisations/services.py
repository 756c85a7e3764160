"""Logging in municipal users, choosing a gemeente, the profile, and the gemeenten list."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import authenticate, login
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record

from .identity import MunicipalIdentity
from .models import Municipality, User
from .session import LoginGrant, login_municipalities, start_login_session
from .session import choose as choose_in_session
from .signals import profile_completed

GEMEENTEN_CSV = Path(__file__).resolve().parent / "data" / "gemeenten-2026.csv"


class NoMunicipalityError(Exception):
    """The identity maps to no active gemeente: the person may not use the portal."""


def log_in_municipal_user(request: HttpRequest, identity: MunicipalIdentity) -> User:
    user = authenticate(request, identity=identity)
    if user is None:
        raise NoMunicipalityError(identity.organisation_name)
    grant: LoginGrant = user.login_grant  # type: ignore[attr-defined]
    login(request, user, backend="msdportaal.organisations.backends.MunicipalIdentityBackend")
    # After login(), which gave this login a session of its own (session.py).
    start_login_session(request.session, grant)
    return user


def choose_municipality(request: HttpRequest, municipality: Municipality) -> None:
    choose_in_session(request, municipality)
    request.acting_municipality = municipality  # type: ignore[attr-defined]
    record(AuditAction.MUNICIPALITY_CHOSEN, request=request, municipality=municipality)


def needs_profile(user: User) -> bool:
    return user.profile_completed_at is None


def update_profile(
    request: HttpRequest, user: User, *, first_name: str, last_name: str, email: str, phone: str
) -> None:
    user.first_name, user.last_name, user.email, user.phone = first_name, last_name, email, phone
    first_time = user.profile_completed_at is None
    user.profile_completed_at = user.profile_completed_at or timezone.now()
    user.save(update_fields=["first_name", "last_name", "email", "phone", "profile_completed_at"])
    record(AuditAction.PROFILE_UPDATED, request=request, target=user)
    if first_time:
        profile_completed.send(User, user=user, municipalities=list(login_municipalities(request)))


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GemeenteRow:
    code: str
    name: str
    province: str


class GemeentenFileError(ValueError):
    pass


def read_gemeenten_csv(path: Path) -> list[GemeenteRow]:
    """Reads CBS's list (``gemeentecode;naam;provincie``, codes as ``GM0363``)."""
    rows: list[GemeenteRow] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        expected = {"gemeentecode", "naam", "provincie"}
        if reader.fieldnames is None or not expected <= set(reader.fieldnames):
            raise GemeentenFileError(
                f"Kolommen {', '.join(sorted(expected))} verwacht, gevonden: {reader.fieldnames}"
            )
        for line_no, row in enumerate(reader, start=2):
            raw = (row["gemeentecode"] or "").strip().upper().removeprefix("GM")
            if not (len(raw) == 4 and raw.isdigit()):
                raise GemeentenFileError(
                    f"Regel {line_no}: ongeldige gemeentecode {row['gemeentecode']!r}"
                )
            rows.append(GemeenteRow(raw, row["naam"].strip(), (row["provincie"] or "").strip()))
    codes = [r.code for r in rows]
    if len(codes) != len(set(codes)):
        raise GemeentenFileError("Het bestand bevat dubbele gemeentecodes.")
    if not rows:
        raise GemeentenFileError("Het bestand bevat geen gemeenten.")
    return rows


@transaction.atomic
def import_gemeenten(
    path: Path = GEMEENTEN_CSV, *, inactive_from: datetime.date | None = None
) -> ImportResult:
    """Brings the gemeenten in line with a CBS list without breaking any link.

    New codes are added, names and provinces updated, and a gemeente missing from
    the list is marked inactive from ``inactive_from`` (default: today) — never deleted.
    """
    rows = read_gemeenten_csv(path)
    inactive_from = inactive_from or timezone.localdate()
    result = ImportResult()
    existing = {m.code: m for m in Municipality.objects.select_for_update()}
    for row in rows:
        municipality = existing.get(row.code)
        if municipality is None:
            Municipality.objects.create(code=row.code, name=row.name, province=row.province)
            result.created.append(row.code)
            continue
        changed = False
        if (municipality.name, municipality.province) != (row.name, row.province):
            municipality.name, municipality.province = row.name, row.province
            changed = True
            result.updated.append(row.code)
        if municipality.inactive_from is not None:
            municipality.inactive_from = None
            changed = True
            result.reactivated.append(row.code)
        if changed:
            municipality.save()
    listed = {row.code for row in rows}
    for code, municipality in existing.items():
        if code not in listed and municipality.inactive_from is None:
            municipality.inactive_from = inactive_from
            municipality.save(update_fields=["inactive_from"])
            result.deactivated.append(code)
    record(
        AuditAction.MUNICIPALITIES_IMPORTED,
        message=f"{path.name}: {len(result.created)} nieuw, {len(result.updated)} gewijzigd, "
        f"{len(result.deactivated)} inactief",
        created=result.created,
        updated=result.updated,
        deactivated=result.deactivated,
        reactivated=result.reactivated,
    )
    return result
