"""CBS's reports arrive through RINIS and land in exactly the right gemeente's inbox."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.reports.models import Report, ReportKind
from msdportaal.transport.models import ReceivedMessage, TrustedClient

from .helpers import SAMPLE_PDF, cert_headers, di01, du01

pytestmark = pytest.mark.django_db
INBOUND = "/rinis/ggk/"


@pytest.fixture
def rinis(dev_certs, settings) -> dict[str, str]:
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN)
    return cert_headers(dev_certs)


def post(client: Client, body_and_action: tuple[bytes, str], headers: dict[str, str]):
    body, action = body_and_action
    return client.generic(
        "POST",
        INBOUND,
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **headers,
    )


def nothing_stored() -> bool:
    return not Report.objects.exists() and not ReceivedMessage.objects.exists()


def test_a_report_for_a_delivery_lands_in_the_inbox_linked_both_ways(client_a: Client, rinis):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    response = post(
        Client(),
        du01(
            "0363",
            cross_refnummer=message.referentienummer,
            cross_refnummer_bericht=delivery.reference,
        ),
        rinis,
    )
    assert response.status_code == 200, response.content.decode()
    assert b"Bv03Bericht" in response.content
    report = Report.objects.get()
    assert (report.kind, report.delivery, report.period_code) == (
        ReportKind.IN_ORDER,
        delivery,
        CURRENT,
    )
    assert report.sha256 == hashlib.sha256(SAMPLE_PDF).hexdigest()

    inbox = client_a.get(reverse("reports:inbox")).content.decode()
    assert "Inhoudelijk rapport: op orde" in inbox
    assert delivery.reference in inbox
    assert "Nieuw" in inbox
    download = client_a.get(reverse("reports:download", args=[report.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert download["Cache-Control"] == "private, no-store"
    assert download["Content-Disposition"] == 'attachment; filename="rapport-op-orde.pdf"'
    assert b"".join(download.streaming_content) == SAMPLE_PDF
    assert AuditEntry.objects.filter(action=AuditAction.DOWNLOAD, object_id=str(report.pk)).exists()
    assert "Nieuw" not in client_a.get(reverse("reports:inbox")).content.decode()
    detail = client_a.get(reverse("deliveries:detail", args=[delivery.reference])).content.decode()
    assert "rapport-op-orde.pdf" in detail


def test_an_unsolicited_di01_report_is_stored_unlinked(client_a: Client, rinis):
    response = post(Client(), di01("0363"), rinis)
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.kind == ReportKind.ERROR
    assert report.delivery is None


def test_a_report_for_a_delivery_we_do_not_know_is_stored_not_linked(rinis, municipality_a):
    response = post(
        Client(),
        du01(
            "0363",
            cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f",
            cross_refnummer_bericht="20260101-000000-001",
        ),
        rinis,
    )
    assert response.status_code == 200
    assert Report.objects.get().delivery is None


def test_a_report_never_links_to_another_gemeentes_delivery(
    client_a: Client, rinis, municipality_b
):
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    post(Client(), du01("0344", cross_refnummer=delivery.outbound_message.referentienummer), rinis)
    report = Report.objects.get()
    assert report.municipality == municipality_b
    assert report.delivery is None


def test_the_same_message_twice_is_stored_once_and_answered_bv03_again(rinis, municipality_a):
    message = du01("0363", cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f")
    first, second = post(Client(), message, rinis), post(Client(), message, rinis)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # the same Bv03
    assert Report.objects.count() == 1


def test_the_same_referentienummer_with_other_content_is_stuf016(rinis, municipality_a):
    ref = "5d4b4b66-7a8f-4e6d-8c9b-1b2c3d4e5f60"
    cross = "4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f"
    post(Client(), du01("0363", cross_refnummer=cross, referentienummer=ref), rinis)
    response = post(
        Client(),
        du01("0363", cross_refnummer=cross, referentienummer=ref, pdf=SAMPLE_PDF + b"%changed"),
        rinis,
    )
    assert response.status_code == 500
    assert b"StUF016" in response.content
    assert Report.objects.count() == 1


def test_unknown_gemeente_is_stuf010(rinis, db):
    response = post(
        Client(), du01("9999", cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f"), rinis
    )
    assert response.status_code == 500
    assert b"StUF010" in response.content
    assert nothing_stored()


def test_schema_invalid_is_stuf055(rinis, db):
    body, action = du01("0363", cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f")
    broken = body.replace(
        b"<StUF:berichtcode>Du01</StUF:berichtcode>", b"<StUF:berichtcode>Xx99</StUF:berichtcode>"
    )
    response = post(Client(), (broken, action), rinis)
    assert response.status_code == 500
    assert b"StUF055" in response.content
    assert nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        b"dit is geen xml",
        b"",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
        b"]><l>&d;&d;&d;&d;&d;&d;&d;&d;</l>",
    ],
    ids=["garbage", "empty", "xxe", "billion-laughs"],
)
def test_malformed_and_hostile_xml_is_refused_and_nothing_stored(rinis, db, body):
    response = post(Client(), (body, "x"), rinis)
    assert response.status_code == 500
    assert b"Fo03Bericht" in response.content
    assert b"root:" not in response.content
    assert nothing_stored()


def test_oversized_body_is_refused(rinis, db, settings):
    settings.MSD_INBOUND_MAX_BYTES = 2000
    response = post(
        Client(),
        du01("0363", cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f", pdf=SAMPLE_PDF * 50),
        rinis,
    )
    assert response.status_code == 500
    assert b"groter dan toegestaan" in response.content
    assert nothing_stored()


def test_no_or_wrong_certificate_is_refused(rinis, dev_certs, municipality_a):
    message = du01("0363", cross_refnummer="4c3a3a55-6f7e-4d5c-9b8a-0a1b2c3d4e5f")
    assert post(Client(), message, {}).status_code == 403
    assert post(Client(), message, cert_headers(dev_certs, "portal_client")).status_code == 403
    assert post(Client(), message, {**rinis, "REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    assert nothing_stored()


def test_another_gemeentes_user_gets_404_on_the_report(client_a: Client, rinis, user_b):
    post(Client(), di01("0363"), rinis)
    report = Report.objects.get()
    client_b = Client()
    client_b.force_login(user_b, backend=MUNICIPAL_BACKEND)
    assert client_b.get(reverse("reports:download", args=[report.pk])).status_code == 404
    assert "foutrapport.pdf" not in client_b.get(reverse("reports:inbox")).content.decode()
    assert client_a.get(reverse("reports:download", args=[report.pk])).status_code == 200


def test_the_server_stays_responsive_after_hostile_input(rinis, db):
    """Billion laughs must not tie up the worker: a normal request right after is answered."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "'
        + b"a" * 1000
        + b'">]><l>'
        + b"&a;" * 10000
        + b"</l>"
    )
    assert post(Client(), (bomb, "x"), rinis).status_code == 500
    assert post(Client(), di01("0363"), rinis).status_code == 200


def test_a_report_on_a_zip_names_its_sets_and_one_on_a_csv_only_that_one(
    client_a: Client, rinis, municipality_a, django_capture_on_commit_callbacks
):
    from msdportaal.deliveries.tests.factories import csv_bytes, zip_file
    from msdportaal.notifications.models import Event, Notification

    names = [f"MSD_WMO-{s}_0363_{CURRENT}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    (delivery,) = upload_and_confirm(client_a, zip_file("wmo.zip", {n: csv_bytes() for n in names}))
    message = delivery.outbound_message.referentienummer
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), du01("0363", cross_refnummer=message), rinis)
        post(
            Client(),
            du01(
                "0363",
                cross_refnummer=message,
                cross_refnummer_bericht=f"{delivery.reference}-3",
                functie="MSDFOUTRAPPORT",
            ),
            rinis,
        )
    whole, one = Report.objects.order_by("pk")
    assert whole.delivered_file is None
    assert [f.file_name for f in whole.files] == names
    assert one.delivered_file.file_name == names[2]
    assert [f.file_name for f in one.files] == [names[2]]

    inbox = client_a.get(reverse("reports:inbox")).content.decode()
    rows = dict(re.findall(r'<tr[^>]*id="rapport-(\d+)"[^>]*>(.*?)</tr>', inbox, re.S))
    for name in ("WMO basisset", "WMO kostenset", "WMO facultatieve set", *names):
        assert name in rows[str(whole.pk)]
    assert "over het hele ZIP-bestand wmo.zip" in rows[str(whole.pk)]
    assert "WMO facultatieve set" in rows[str(one.pk)]
    assert "WMO basisset" not in rows[str(one.pk)]
    assert f"{delivery.reference}-3" in rows[str(one.pk)]

    # The notification goes to that very report.
    links = set(Notification.objects.filter(event=Event.REPORT).values_list("link", flat=True))
    assert links == {f"/rapporten/#rapport-{whole.pk}", f"/rapporten/#rapport-{one.pk}"}


def test_a_named_csv_of_another_delivery_does_not_count(client_a: Client, rinis):
    first, second = upload_and_confirm(
        client_a,
        make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        make_csv(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    post(
        Client(),
        du01(
            "0363",
            cross_refnummer=first.outbound_message.referentienummer,
            cross_refnummer_bericht=second.reference,  # disagrees: the message id wins
        ),
        rinis,
    )
    report = Report.objects.get()
    assert (report.delivery, report.delivered_file) == (first, first.files.get())
