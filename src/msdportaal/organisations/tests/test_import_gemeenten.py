from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from msdportaal.conftest import make_municipal_user
from msdportaal.organisations.models import Municipality
from msdportaal.organisations.services import GEMEENTEN_CSV

pytestmark = pytest.mark.django_db


def test_all_342_gemeenten_of_2026_are_there_from_the_start():
    assert Municipality.objects.count() == 342
    amsterdam = Municipality.objects.get(code="0363")
    assert (amsterdam.gm_code, amsterdam.name, amsterdam.province) == (
        "GM0363",
        "Amsterdam",
        "Noord-Holland",
    )


def test_a_newer_list_adds_renames_and_deactivates_without_deleting(tmp_path: Path):
    lines = GEMEENTEN_CSV.read_text(encoding="utf-8").splitlines()
    # A merger: Veendam (0047) disappears, a new gemeente 1999 appears, Almere is renamed.
    kept = [line for line in lines if not line.startswith("GM0047;")]
    kept = [line.replace("GM0034;Almere;", "GM0034;Almere-Stad;") for line in kept]
    newer = tmp_path / "gemeenten-2027.csv"
    newer.write_text("\n".join([*kept, "GM1999;Nieuwegemeente;Groningen"]) + "\n", encoding="utf-8")
    veendam = Municipality.objects.get(code="0047")
    user = make_municipal_user(veendam, username="veendam")

    call_command("import_gemeenten", str(newer), "--inactive-from", "2027-01-01")

    veendam.refresh_from_db()
    assert veendam.inactive_from == datetime.date(2027, 1, 1)
    assert list(user.municipalities.all()) == [veendam]  # the link holds
    assert Municipality.objects.get(code="0034").name == "Almere-Stad"
    assert Municipality.objects.get(code="1999").name == "Nieuwegemeente"
    assert Municipality.objects.count() == 343
    assert not veendam.is_active(datetime.date(2027, 1, 2))
    assert veendam.is_active(datetime.date(2026, 12, 31))

    # Running it again changes nothing.
    call_command("import_gemeenten", str(newer), "--inactive-from", "2027-02-01")
    veendam.refresh_from_db()
    assert veendam.inactive_from == datetime.date(2027, 1, 1)


def test_a_malformed_list_is_refused_and_changes_nothing(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code;naam\n0363;Amsterdam\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Kolommen gemeentecode, naam, provincie verwacht"):
        call_command("import_gemeenten", str(bad))
    assert Municipality.objects.filter(inactive_from__isnull=False).count() == 0
