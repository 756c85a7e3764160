"""What a system reads: the same facts the web pages show, through the same scoping."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.consent.tests.factories import CURRENT, PREVIOUS, report, submit
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import Event
from msdportaal.notifications.services import Message, notify
from msdportaal.reports.models import ReportKind
from msdportaal.transport import services as transport
from msdportaal.transport.models import MessageState, OutboundMessage

from .conftest import SystemApiClient

pytestmark = pytest.mark.django_db
A = "/api/v1/gemeenten/0363"


def test_expected_shows_the_open_periods_and_each_set_as_the_overview_does(
    system_a: SystemApiClient, client_a: Client
):
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    periods = system_a.get(f"{A}/verwacht/").json()
    assert [p["periode"] for p in periods] == [CURRENT, PREVIOUS]
    current = periods[0]
    assert current["deadline"]
    sets = {s["set"]: s for s in current["sets"]}
    assert sets["WMO_BASIS"]["aangeleverd"] is True
    assert sets["WMO_BASIS"]["doorsturen"] == "ontvangen"
    assert sets["WMO_KOSTEN"]["aangeleverd"] is False
    assert sets["WMO_KOSTEN"]["voorbeeld_bestandsnaam"] == f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"
    assert sets["WMO_KOSTEN"]["naam"] in current["volgende_stap"]  # still to deliver
    assert (sets["WMO_BASIS"]["uitkomst"], sets["WMO_KOSTEN"]["uitkomst"]) == (
        "wacht-op-cbs",
        "niet-aangeleverd",
    )
    assert sets["WMO_BASIS"]["uitkomst_rapport"] is None


def test_the_outcome_is_cbs_verdict_on_the_csvs_own_report(
    system_a: SystemApiClient, client_a: Client, municipality_a
):
    basis, kosten = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    rejected = report(municipality_a, CURRENT, kind=ReportKind.ERROR, delivery=basis)
    report(municipality_a, CURRENT, delivery=kosten)
    OutboundMessage.objects.filter(pk=kosten.outbound_message_id).update(state=MessageState.FAILED)
    (current, _previous) = system_a.get(f"{A}/verwacht/").json()
    sets = {s["set"]: s for s in current["sets"]}
    assert (sets["WMO_BASIS"]["uitkomst"], sets["WMO_BASIS"]["uitkomst_rapport"]) == (
        "afgekeurd",
        rejected.pk,
    )
    assert sets["WMO_KOSTEN"]["uitkomst"] == "op-orde"  # its report came before the failure
    one = system_a.get(f"{A}/aanleveringen/{basis.reference}/").json()
    assert [f["uitkomst"] for f in one["bestanden"]] == ["afgekeurd"]


def test_a_file_the_outbox_gave_up_on_is_not_waiting_for_cbs(
    system_a: SystemApiClient, client_a: Client
):
    (basis,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    OutboundMessage.objects.filter(pk=basis.outbound_message_id).update(state=MessageState.FAILED)
    (current, _previous) = system_a.get(f"{A}/verwacht/").json()
    sets = {s["set"]: s for s in current["sets"]}
    assert sets["WMO_BASIS"]["uitkomst"] == "niet-doorgestuurd"
    assert sets["WMO_BASIS"]["doorsturen"] == "mislukt"
    one = system_a.get(f"{A}/aanleveringen/{basis.reference}/").json()
    assert [f["uitkomst"] for f in one["bestanden"]] == ["niet-doorgestuurd"]


def test_a_delivery_has_its_timeline_and_reports(
    system_a: SystemApiClient, client_a: Client, municipality_a, simulator
):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert transport.attempt_send(delivery.outbound_message_id) == "delivered"
    cbs = report(municipality_a, CURRENT, kind=ReportKind.ERROR, file_name="fouten.pdf")
    cbs.delivery = delivery
    cbs.save()
    (listed,) = system_a.get(f"{A}/aanleveringen/").json()
    one = system_a.get(f"{A}/aanleveringen/{delivery.reference}/").json()
    assert listed == one
    assert one["referentie"] == delivery.reference
    assert one["sha256"] == delivery.sha256
    assert one["status"] == "afgeleverd"
    assert [e["stap"] for e in one["tijdlijn"]] == ["ontvangen", "doorgestuurd", "afgeleverd"]
    assert [(r["soort"], r["bestandsnaam"]) for r in one["rapporten"]] == [
        ("foutrapport", "fouten.pdf")
    ]
    assert [f["set"] for f in one["bestanden"]] == ["WMO_BASIS"]
    assert system_a.get(f"{A}/aanleveringen/?periode={PREVIOUS}").json() == []


def test_a_report_downloads_byte_identical_and_audited(system_a: SystemApiClient, municipality_a):
    cbs = report(municipality_a, CURRENT)
    (listed,) = system_a.get(f"{A}/rapporten/").json()
    assert listed["sha256"] == cbs.sha256
    response = system_a.get(listed["download"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    with default_storage.open(cbs.stored_name) as stored:
        assert body == stored.read()
    assert hashlib.sha256(body).hexdigest() == cbs.sha256
    assert response["Content-Disposition"].startswith("attachment")
    entry = AuditEntry.objects.get(action=AuditAction.DOWNLOAD)
    assert entry.municipality == municipality_a
    assert "systeemkoppeling" in entry.message


def test_a_purged_report_is_gone_with_410(system_a: SystemApiClient, municipality_a):
    cbs = report(municipality_a, CURRENT)
    cbs.purged_at = timezone.now()
    cbs.save()
    response = system_a.get(f"{A}/rapporten/{cbs.pk}/download/")
    assert response.status_code == 410
    assert response.json()["code"] == "bewaartermijn-verstreken"


def test_consent_status_per_period_and_set_is_read_only(
    system_a: SystemApiClient, client_a: Client, municipality_a
):
    report(municipality_a, PREVIOUS)
    submit(client_a, PREVIOUS)
    periods = {p["periode"]: p for p in system_a.get(f"{A}/toestemming/").json()}
    previous = periods[PREVIOUS]
    assert previous["status"] == "ingediend"
    assert previous["referentie"]
    assert {s["set"] for s in previous["sets"]} >= {"WMO_BASIS"}
    assert all(s["toestemming"] in (True, False) for s in previous["sets"])
    assert periods[CURRENT]["status"] in ("nog-niet-open", "wacht-op-rapport")
    assert system_a.post(f"{A}/toestemming/").status_code == 405


def test_notifications_since_a_moment(system_a: SystemApiClient, municipality_a, fixed_today):
    def note(key: str) -> None:
        notify(municipality_a, Message(Event.REPORT, key, f"Melding {key}", "Tekst."))

    note("een")
    fixed_today.shift(datetime.timedelta(minutes=5))
    moment = timezone.now()
    fixed_today.shift(datetime.timedelta(minutes=5))
    note("twee")
    everything = system_a.get(f"{A}/meldingen/").json()
    assert [n["titel"] for n in everything] == ["Melding een", "Melding twee"]
    since = system_a.get(f"{A}/meldingen/", {"sinds": moment.isoformat()}).json()
    assert [n["titel"] for n in since] == ["Melding twee"]
    wrong = system_a.get(f"{A}/meldingen/", {"sinds": "gisteren"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "ongeldig-moment"
