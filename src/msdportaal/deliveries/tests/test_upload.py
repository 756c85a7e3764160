"""Uploading files: the naming convention, ZIPs, refusals, integral replacement, references."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import stored_files
from msdportaal.deliveries.models import DeliveredFile, Delivery, StagedFile, UploadBatch
from msdportaal.notifications.models import EmailLedger
from msdportaal.notifications.tasks import send_stored_email
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DataSet, NamingMode, ReportingPeriod

from .factories import (
    CURRENT,
    PREVIOUS,
    csv_bytes,
    csv_file,
    encrypted_zip_bytes,
    random_bytes,
    zip_bytes,
    zip_file,
)

pytestmark = pytest.mark.django_db
UPLOAD = "/aanleveren/"
REFERENCE = re.compile(r"^\d{8}-\d{6}-\d{3}$")


def upload(client: Client, *files):
    return client.post(UPLOAD, {"files": list(files)})


def upload_and_confirm(client: Client, *files) -> list[Delivery]:
    response = upload(client, *files)
    assert response.status_code == 302, response.content.decode()[:3000]
    check_url = response["Location"]
    response = client.post(check_url, {"confirm": "1"})
    assert response.status_code == 302
    batch_id = check_url.split("/")[2]
    return list(Delivery.objects.filter(batch_id=batch_id).order_by("reference"))


def assert_refused(client: Client, upload_file, message: str) -> None:
    from django.conf import settings

    before = (Delivery.objects.count(), StagedFile.objects.count(), UploadBatch.objects.count())
    response = upload(client, upload_file)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Er is niets aangeleverd" in page
    assert message in page, page[page.find("Er is niets") :][:1500]
    assert (
        Delivery.objects.count(),
        StagedFile.objects.count(),
        UploadBatch.objects.count(),
    ) == before
    assert stored_files(settings.MEDIA_ROOT) == []
    assert stored_files(settings.FILE_UPLOAD_TEMP_DIR) == []  # no temporary file left behind
    assert AuditEntry.objects.filter(action=AuditAction.UPLOAD_REFUSED).exists()


def test_csv_upload_check_and_confirm(
    client_a: Client, mailbox, user_a, django_capture_on_commit_callbacks
):
    content = csv_bytes(500)
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content))
    assert response.status_code == 302
    check = client_a.get(response["Location"])
    page = check.content.decode()
    assert "Controleer uw aanlevering" in page
    assert f"MSD_WMO-BASIS_0363_{CURRENT}.csv" in page
    assert "WMO basisset" in page
    assert "Eerste aanlevering" in page
    assert not Delivery.objects.exists()  # nothing is delivered before confirming

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(response["Location"], {"confirm": "1"}, follow=True)
    page = response.content.decode()
    delivery = Delivery.objects.get()
    assert REFERENCE.match(delivery.reference)
    assert "Aanlevering ontvangen" in page
    assert delivery.reference in page
    assert delivery.sha256 == hashlib.sha256(content).hexdigest()
    assert delivery.size == len(content)
    file = delivery.files.get()
    assert (file.reference, file.data_set.code, file.period_code) == (
        delivery.reference,
        "WMO_BASIS",
        CURRENT,
    )
    # Stored byte for byte, under a generated name (never the user's).
    with default_storage.open(delivery.stored_name) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == hashlib.sha256(content).hexdigest()
    assert "MSD_" not in delivery.stored_name
    # Receipt by e-mail through the SMTP server, sent by the task the commit triggered.
    (queued,) = EmailLedger.objects.filter(key=f"receipt:{delivery.batch_id}")
    send_stored_email(queued.pk)
    (receipt,) = mailbox.to(user_a.email)
    assert "Ontvangstbevestiging aanlevering Amsterdam" in receipt["Subject"]
    assert delivery.reference in receipt.get_body(("plain",)).get_content()
    assert (
        AuditEntry.objects.get(action=AuditAction.UPLOAD).details["reference"] == delivery.reference
    )


def test_an_upload_works_after_the_nodes_temporary_folder_was_removed(client_a: Client, settings):
    import shutil
    from pathlib import Path

    # The folder for uploads in progress is node-local; a cleaned node makes it again.
    shutil.rmtree(settings.FILE_UPLOAD_TEMP_DIR)
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert delivery.reference
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []


def test_zip_gets_its_reference_and_each_csv_a_numbered_one(client_a: Client):
    entries = {
        f"MSD_WMO-BASIS_0363_{CURRENT}.csv": csv_bytes(),
        f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv": csv_bytes(),
        f"MSD_KOSTEN-JW_0363_{PREVIOUS[:4]}JJ00.csv": csv_bytes(),
    }
    content = zip_bytes(entries)
    (delivery,) = upload_and_confirm(client_a, zip_file("aanlevering.zip", content=content))
    refs = list(delivery.files.order_by("position").values_list("reference", "file_name"))
    assert refs == [(f"{delivery.reference}-{i}", name) for i, name in enumerate(entries, start=1)]
    with default_storage.open(delivery.stored_name) as stored:
        assert stored.read() == content  # the ZIP itself, unchanged
    jw = delivery.files.get(data_set__code="KOSTEN_JW")
    assert jw.reporting_period.code == PREVIOUS  # 2025JJ00 is delivered in 2025HJ02


def test_a_new_delivery_replaces_the_earlier_one_which_stays_visible(client_a: Client):
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    (first,) = upload_and_confirm(client_a, csv_file(name))
    response = upload(client_a, csv_file(name, csv_bytes(99)))
    check = client_a.get(response["Location"]).content.decode()
    assert f"{first.reference} van" in check  # the check page says what it replaces
    client_a.post(response["Location"], {"confirm": "1"})
    second = Delivery.objects.exclude(pk=first.pk).get()
    old, new = first.files.get(), second.files.get()
    assert new.replaces == old
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert first.reference in history
    assert second.reference in history
    assert "Vervangen" in history


def test_confirming_twice_creates_one_delivery(client_a: Client):
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    check_url = response["Location"]
    first = client_a.post(check_url, {"confirm": "1"})
    second = client_a.post(check_url, {"confirm": "1"})  # double click / back button / retry
    assert first["Location"] == second["Location"]
    assert Delivery.objects.count() == 1
    assert DeliveredFile.objects.count() == 1


def test_cancelling_removes_the_staged_files(client_a: Client):
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    stored = StagedFile.objects.get().stored_name
    client_a.post(response["Location"], {"cancel": "1"})
    assert not UploadBatch.objects.exists()
    assert not default_storage.exists(stored)
    assert not Delivery.objects.exists()


def test_refused_name_against_the_convention(client_a: Client):
    assert_refused(
        client_a,
        csv_file(f"WMO_basis_0363_{CURRENT}.csv"),
        "Uit de naam „WMO_basis_0363_2026HJ01.csv” kunnen we niet opmaken welke set dit is.",
    )
    assert_refused(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.CSV"),
        "volgt de naamconventie voor de WMO basisset niet. "
        "Verwacht: MSD_WMO-BASIS_0363_2026HJ01.csv.",
    )


def test_advise_mode_accepts_a_deviating_name_with_a_warning(client_a: Client):
    DataSet.objects.filter(code="WMO_BASIS").update(naming_mode=NamingMode.ADVISE)
    response = upload(client_a, csv_file(f"msd_wmo-basis_0363_{CURRENT}.csv"))
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "De naam wijkt af van de naamconventie" in page


def test_refused_another_gemeentes_code(client_a: Client):
    assert_refused(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0344_{CURRENT}.csv"),
        "is voor gemeentecode 0344, maar u levert aan namens Amsterdam (0363)",
    )


def test_refused_closed_and_future_periods(client_a: Client):
    assert_refused(
        client_a,
        csv_file("MSD_WMO-BASIS_0363_2025HJ01.csv"),
        "Verslagperiode 2025HJ01 is gesloten.",
    )
    assert_refused(
        client_a,
        csv_file("MSD_WMO-BASIS_0363_2026HJ02.csv"),
        "Verslagperiode 2026HJ02 is nog niet open voor aanlevering; dat kan vanaf 01-01-2027.",
    )
    period = ReportingPeriod.objects.for_half_year(HalfYear.from_code(PREVIOUS))
    period.closed_at = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
    period.save()
    assert_refused(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv"),
        "Verslagperiode 2025HJ02 is door IB gesloten; aanleveren kan niet meer.",
    )


def test_refused_wrong_period_kind_for_the_set(client_a: Client):
    assert_refused(
        client_a,
        csv_file("MSD_KOSTEN-JW_0363_2025HJ02.csv"),
        "de Kosten jeugdwet wordt eens per jaar aangeleverd",
    )


def test_refused_empty_file(client_a: Client):
    assert_refused(
        client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", b""), "is leeg (0 bytes)"
    )


def test_refused_too_large_while_streaming(client_a: Client, settings):
    settings.MSD_UPLOAD_MAX_BYTES = 1_000_000
    assert_refused(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", random_bytes(2_500_000)),
        "is groter dan 1 MB, de grootste toegestane omvang",
    )


def test_refused_corrupt_zip(client_a: Client):
    broken = zip_bytes({f"MSD_WMO-BASIS_0363_{CURRENT}.csv": csv_bytes()})[:-30]
    assert_refused(
        client_a, zip_file("kapot.zip", content=broken), "„kapot.zip” is geen geldig ZIP-bestand"
    )
    assert_refused(
        client_a,
        zip_file("nep.zip", content=b"dit is geen zip"),
        "„nep.zip” is geen geldig ZIP-bestand",
    )


def test_refused_empty_zip(client_a: Client):
    assert_refused(client_a, zip_file("leeg.zip", {}), "Het ZIP-bestand „leeg.zip” is leeg.")


def test_refused_zip_with_a_folder(client_a: Client):
    assert_refused(
        client_a,
        zip_file("map.zip", {f"map/MSD_WMO-BASIS_0363_{CURRENT}.csv": csv_bytes()}),
        "Het ZIP-bestand „map.zip” bevat een map",
    )


def test_refused_zip_with_a_non_csv(client_a: Client):
    assert_refused(
        client_a,
        zip_file(
            "x.zip", {f"MSD_WMO-BASIS_0363_{CURRENT}.csv": csv_bytes(), "leesmij.txt": b"hallo"}
        ),
        "bevat „leesmij.txt”, en dat is geen CSV-bestand",
    )


def test_refused_zip_with_a_symlink(client_a: Client):
    assert_refused(
        client_a,
        zip_file("link.zip", content=zip_bytes({}, symlink="MSD_WMO-BASIS_0363_2026HJ01.csv")),
        "bevat een snelkoppeling",
    )


def test_refused_encrypted_zip(client_a: Client):
    assert_refused(
        client_a,
        zip_file("geheim.zip", content=encrypted_zip_bytes(f"MSD_WMO-BASIS_0363_{CURRENT}.csv")),
        "Het ZIP-bestand „geheim.zip” is versleuteld",
    )


def test_refused_zip_entry_against_the_convention(client_a: Client):
    assert_refused(
        client_a,
        zip_file("z.zip", {"gegevens.csv": csv_bytes()}),
        "Uit de naam „gegevens.csv” kunnen we niet opmaken welke set dit is.",
    )


def test_refused_name_with_a_space(client_a: Client):
    assert_refused(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT} (1).csv"),
        "bevat tekens die niet zijn toegestaan (spatie, „(”, „)”)",
    )


def test_refused_other_file_types(client_a: Client):
    assert_refused(
        client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.xlsx"), "is geen CSV- of ZIP-bestand"
    )


def test_no_files_chosen(client_a: Client):
    response = client_a.post(UPLOAD, {})
    assert response.status_code == 400
    assert "Kies een of meer bestanden om aan te leveren." in response.content.decode()


def test_one_bad_file_does_not_stop_the_good_ones(client_a: Client):
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"), csv_file("fout.csv"))
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "Deze bestanden zijn geweigerd en worden niet aangeleverd" in page
    assert "„fout.csv”" in page
    assert StagedFile.objects.count() == 1


def test_same_set_twice_in_one_upload_is_refused(client_a: Client):
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    response = upload(client_a, csv_file(name), zip_file("z.zip", {name: csv_bytes()}))
    page = client_a.get(response["Location"]).content.decode()
    assert "bevat dezelfde set en periode" in page
    assert StagedFile.objects.count() == 1


def test_references_are_unique_within_one_second(client_a: Client):
    files = [
        csv_file(f"MSD_WMO-{s}_0363_{CURRENT}.csv") for s in ("BASIS", "KOSTEN", "FACULTATIEF")
    ]
    deliveries = upload_and_confirm(client_a, *files)
    refs = [d.reference for d in deliveries]
    assert len(set(refs)) == 3
    assert [r[-3:] for r in refs] == ["001", "002", "003"]
    assert len({r[:15] for r in refs}) == 1


def test_overview_shows_what_is_delivered_and_what_is_still_missing(client_a: Client):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    page = client_a.get(reverse("overview:index")).content.decode()
    assert "Verslagperiode 2026, 1e halfjaar (2026HJ01)" in page
    assert "Deadline 30 september 2026" not in page  # a past deadline is not shown as days left
    assert "De deadline was 30 september 2026." in page
    assert delivery.reference in page
    assert "Verslagperiode 2025, 2e halfjaar (2025HJ02)" in page
    assert "2025JJ00" in page  # the yearly cost sets are due in the HJ02 period
    assert (
        page.count("Nog niet aangeleverd") == 2 + 5
    )  # 2 WMO sets for 2026HJ01, all 5 for 2025HJ02


def test_an_upload_without_refusals_writes_no_session(client_a: Client):
    """Uploading and confirming answer without a session write (one commit each less on
    the deadline day); the check page still shows nothing refused."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client_a.get("/overzicht/")  # the session's periodic refresh is done now
    with CaptureQueriesContext(connection) as posted:
        response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", csv_bytes(50)))
    assert response.status_code == 302
    page = client_a.get(response["Location"]).content.decode()
    assert "Controleer uw aanlevering" in page
    assert "worden niet aangeleverd" not in page
    with CaptureQueriesContext(connection) as confirmed:
        assert client_a.post(response["Location"], {"confirm": "1"}).status_code == 302
    for captured in (posted, confirmed):
        writes = [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]]
        assert not [sql for sql in writes if not sql.startswith("SELECT")], writes
