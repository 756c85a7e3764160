"""Retention: contents go after their term, metadata and the audit trail stay.

The suite's day is 2026-11-29 (``fixed_today``); the tests travel forward from there.
"""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.deliveries.models import DeliveredFile, Delivery
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.operations.retention import purge_expired
from msdportaal.operations.tasks import apply_retention
from msdportaal.reports.models import Report
from msdportaal.reports.tests.helpers import SAMPLE_PDF, du01
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, OutboundMessage, TransportConfiguration

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def log_in_again(client: Client, user) -> None:
    """After travelling days ahead, the session has long timed out."""
    client.force_login(user, backend=MUNICIPAL_BACKEND)


def purges() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditAction.RETENTION_PURGE).order_by("pk"))


@pytest.fixture
def delivered(client_a: Client, simulator) -> Delivery:
    """A CSV that RINIS accepted (Bv03 from the simulator, over HTTPS) on 2026-11-29."""
    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert services.attempt_send(delivery.outbound_message.pk) == MessageState.DELIVERED
    delivery.refresh_from_db()
    return delivery


def receive_report(rinis_headers: dict[str, str], delivery: Delivery) -> Report:
    body, action = du01(
        "0363",
        cross_refnummer=delivery.outbound_message.referentienummer,
        cross_refnummer_bericht=delivery.reference,
    )
    response = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **rinis_headers,
    )
    assert response.status_code == 200, response.content.decode()
    return Report.objects.get()


def test_a_delivered_file_goes_30_days_after_rinis_accepted_it(
    delivered: Delivery, client_a: Client, user_a, fixed_today
):
    name, sha256, size = delivered.stored_name, delivered.sha256, delivered.size
    csv_references = list(delivered.files.values_list("reference", flat=True))
    uploads = AuditEntry.objects.filter(action=AuditAction.UPLOAD).count()
    assert default_storage.exists(name)

    fixed_today.shift(29 * DAY)
    assert purge_expired().total == 0
    assert default_storage.exists(name)

    fixed_today.shift(1 * DAY + datetime.timedelta(minutes=1))
    result = purge_expired()
    assert result.deliveries == [delivered.reference]
    assert not default_storage.exists(name)

    # The metadata stays: the row, its size and hash, the CSV references, the message.
    delivery = Delivery.objects.get(pk=delivered.pk)
    assert delivery.purged_at is not None
    assert (delivery.size, delivery.sha256) == (size, sha256)
    assert list(delivery.files.values_list("reference", flat=True)) == csv_references
    assert DeliveredFile.objects.filter(delivery=delivery).count() == len(csv_references)
    assert delivery.outbound_message.state == MessageState.DELIVERED
    # ...and so does the audit trail, with the purge added to it.
    assert AuditEntry.objects.filter(action=AuditAction.UPLOAD).count() == uploads
    (entry,) = purges()
    assert entry.object_type == "deliveries.Delivery"
    assert entry.object_id == str(delivery.pk)
    assert entry.municipality == delivery.municipality
    assert entry.details["sha256"] == sha256
    assert entry.details["size"] == size
    assert entry.user is None

    # The gemeente sees why the file is gone; everything else is still there.
    log_in_again(client_a, user_a)
    page = client_a.get(reverse("deliveries:detail", args=[delivery.reference])).content.decode()
    assert "bestand verwijderd op 29 december 2026 (bewaartermijn)" in page
    assert sha256 in page
    assert "Doorgestuurd naar CBS" in page


def test_running_twice_changes_nothing(delivered: Delivery, fixed_today):
    fixed_today.shift(31 * DAY)
    assert purge_expired().total == 1
    purged_at = Delivery.objects.get(pk=delivered.pk).purged_at
    audit = list(AuditEntry.objects.values_list("pk", flat=True))

    fixed_today.shift(1 * DAY)
    assert purge_expired().total == 0
    assert apply_retention.apply().get() == 0  # the Celery task, as beat runs it
    assert Delivery.objects.get(pk=delivered.pk).purged_at == purged_at
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == audit


def test_a_file_already_missing_is_purged_all_the_same(delivered: Delivery, fixed_today):
    default_storage.delete(delivered.stored_name)  # e.g. a run that died after deleting
    fixed_today.shift(31 * DAY)
    assert purge_expired().deliveries == [delivered.reference]
    assert len(purges()) == 1


def test_files_rinis_has_not_accepted_are_never_purged(client_a: Client, fixed_today):
    queued, retrying, failed = upload_and_confirm(
        client_a,
        make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        make_csv(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
        make_csv(f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv"),
    )
    OutboundMessage.objects.filter(pk=retrying.outbound_message_id).update(
        state=MessageState.RETRYING, attempts=7
    )
    OutboundMessage.objects.filter(pk=failed.outbound_message_id).update(
        state=MessageState.FAILED, attempts=12
    )
    fixed_today.shift(1000 * DAY)
    assert purge_expired().total == 0
    for delivery in (queued, retrying, failed):
        assert default_storage.exists(delivery.stored_name)
        assert Delivery.objects.get(pk=delivery.pk).purged_at is None
    assert purges() == []


def test_the_term_is_configurable(delivered: Delivery, fixed_today, settings):
    settings.MSD_RETENTION_DELIVERED_DAYS = 7
    fixed_today.shift(6 * DAY)
    assert purge_expired().total == 0
    fixed_today.shift(1 * DAY + datetime.timedelta(minutes=1))
    assert purge_expired().deliveries == [delivered.reference]


def test_a_report_goes_after_13_months_and_its_download_says_so(
    delivered: Delivery, client_a: Client, user_a, rinis_headers, fixed_today
):
    report = receive_report(rinis_headers, delivered)
    download = reverse("reports:download", args=[report.pk])
    response = client_a.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == SAMPLE_PDF
    downloads = AuditEntry.objects.filter(action=AuditAction.DOWNLOAD).count()

    fixed_today.shift(394 * DAY)
    result = purge_expired()
    assert result.reports == []
    assert result.deliveries == [delivered.reference]  # long gone by now
    assert default_storage.exists(report.stored_name)

    fixed_today.shift(1 * DAY + datetime.timedelta(minutes=1))
    assert purge_expired().reports == [report.pk]
    assert not default_storage.exists(report.stored_name)
    report.refresh_from_db()
    assert report.purged_at is not None
    assert report.sha256 == hashlib.sha256(SAMPLE_PDF).hexdigest()
    assert report.size == len(SAMPLE_PDF)
    assert [e.object_type for e in purges()] == ["deliveries.Delivery", "reports.Report"]

    log_in_again(client_a, user_a)
    response = client_a.get(download)
    assert response.status_code == 410
    page = response.content.decode()
    assert (
        "Dit rapport is na 13 maanden verwijderd volgens de bewaartermijn; "
        "de gegevens erover blijven bewaard."
    ) in page
    assert report.sha256 in page
    # Asking for a file that is gone is not a download.
    assert AuditEntry.objects.filter(action=AuditAction.DOWNLOAD).count() == downloads

    inbox = client_a.get(reverse("reports:inbox")).content.decode()
    assert "bestand verwijderd op" in inbox
    assert download not in inbox
    detail = client_a.get(reverse("deliveries:detail", args=[delivered.reference])).content.decode()
    assert download not in detail
    assert "rapport-op-orde.pdf" in detail


def test_another_gemeente_still_gets_404_for_a_purged_report(
    delivered: Delivery, rinis_headers, fixed_today, client: Client, user_b
):
    report = receive_report(rinis_headers, delivered)
    fixed_today.shift(400 * DAY)
    purge_expired()
    client.force_login(user_b, backend=MUNICIPAL_BACKEND)
    assert client.get(reverse("reports:download", args=[report.pk])).status_code == 404


def test_the_grote_berichten_download_of_a_purged_file_is_404(
    client_a: Client, client: Client, rinis_headers, fixed_today
):
    config = TransportConfiguration.get_solo()
    config.gb_threshold_bytes = 100_000
    config.gb_lifetime_hours = 24 * 365  # longer than the retention term, for the test
    config.save()
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", bytes(range(256)) * 1000)
    )
    message = delivery.outbound_message
    assert message.uses_grote_berichten
    url = f"/rinis/gb/{message.gb_token}/"
    assert client.get(url, **rinis_headers).status_code == 200
    OutboundMessage.objects.filter(pk=message.pk).update(
        state=MessageState.DELIVERED, attempts=1, delivered_at=message.created_at
    )
    fixed_today.shift(31 * DAY)
    assert purge_expired().deliveries == [delivery.reference]
    assert client.get(url, **rinis_headers).status_code == 404


def test_the_daily_task_is_scheduled():
    entry = django_settings.CELERY_BEAT_SCHEDULE["apply-retention"]
    assert entry["task"] == apply_retention.name


def test_a_consent_csv_goes_30_days_after_rinis_accepted_it(
    client_a: Client, municipality_a, simulator, fixed_today
):
    from msdportaal.consent.models import ConsentForm
    from msdportaal.consent.tests.factories import PREVIOUS, report, submit

    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    assert services.attempt_send(form.outbound_message.pk) == MessageState.DELIVERED
    name = form.stored_name
    answers = list(form.consents.values_list("data_set__code", "given"))
    assert default_storage.exists(name)

    fixed_today.shift(29 * DAY)
    assert purge_expired().total == 0
    assert default_storage.exists(name)

    fixed_today.shift(2 * DAY)
    assert purge_expired().consent_forms == [form.reference]
    assert not default_storage.exists(name)
    kept = ConsentForm.objects.get(pk=form.pk)
    assert kept.purged_at is not None
    assert (kept.reference, kept.sha256, kept.size) == (form.reference, form.sha256, form.size)
    assert list(kept.consents.values_list("data_set__code", "given")) == answers
    (entry,) = purges()
    assert entry.details["sha256"] == form.sha256
    assert purge_expired().total == 0  # once only


def test_a_consent_csv_rinis_has_not_accepted_is_kept(
    client_a: Client, municipality_a, fixed_today
):
    from msdportaal.consent.tests.factories import PREVIOUS, report, submit

    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)  # RINIS is not reachable here: never accepted
    fixed_today.shift(400 * DAY)
    assert purge_expired().consent_forms == []
    assert default_storage.exists(form.stored_name)
