"""The restore drill (``scripts/restore-drill``, ``make restore-drill``) on real data.

The portal's own paths make the data (uploads through the pages, a report through the
inbound endpoint, a consent form submitted, a certificate in the admin's certificate
management, a file removed by retention), in PostgreSQL and a versioned bucket on the S3
server. Then the script, as an operator runs it, backs up, restores into a new database
and bucket, and checks that everything is there, byte-identical, with the audit chain
intact; a point-in-time restore brings back a file deleted after the backup; and a
restored file that is not what arrived fails the check.

``MSD_TEST_DRILL_DELIVERIES`` and ``MSD_TEST_DRILL_FILE_BYTES`` make the data set larger
for measuring (docs/operations.md, *Restore drill*).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.utils import timezone
from simple_certmanager.constants import CertificateTypes
from simple_certmanager.models import Certificate

from msdportaal.conftest import (
    MUNICIPAL_BACKEND,
    PRIVATE_TEST_KEY,
    S3_TEST_KEY,
    S3Bucket,
    make_municipal_user,
    restore_reference_data,
)
from msdportaal.consent.tests.factories import PREVIOUS, report, submit
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, csv_file, zip_file
from msdportaal.deliveries.tests.test_upload import upload, upload_and_confirm
from msdportaal.operations.retention import purge_expired
from msdportaal.organisations.models import Municipality
from msdportaal.reports.models import Report
from msdportaal.reports.tests.helpers import du01
from msdportaal.transport.models import MessageState, OutboundMessage
from msdportaal.transport.tests.conftest import worker_database_url

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "restore-drill"
DELIVERIES = int(os.environ.get("MSD_TEST_DRILL_DELIVERIES", "4"))
FILE_BYTES = int(os.environ.get("MSD_TEST_DRILL_FILE_BYTES", "20000"))


#: The script on the test's clock: the S3 server runs in the test process (fixed_today), so
#: the moment T of a backup must be read from the same clock as the objects' LastModified.
ON_TEST_CLOCK = """\
import os, runpy, sys, time
import time_machine
time_machine.travel(time.time() + float(os.environ["MSD_TEST_CLOCK_OFFSET"]), tick=True).start()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def drill(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    offset = time.time() - time_machine.escape_hatch.time.time()
    done = subprocess.run(
        [sys.executable, "-c", ON_TEST_CLOCK, str(SCRIPT), *args],
        env={**env, "MSD_TEST_CLOCK_OFFSET": repr(offset)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    sys.stdout.write(done.stdout)  # the measured times, for `make restore-drill`
    return done


def client_for(municipality: Municipality, name: str) -> Client:
    client = Client()
    client.force_login(make_municipal_user(municipality, username=name), backend=MUNICIPAL_BACKEND)
    return client


@pytest.fixture
def versioned(private_s3: S3Bucket) -> S3Bucket:
    """The default and the privates storage in a new bucket, versioned as in production."""
    private_s3.client.put_bucket_versioning(
        Bucket=private_s3.name, VersioningConfiguration={"Status": "Enabled"}
    )
    return private_s3


@pytest.fixture
def restored_databases() -> Iterator[None]:
    """Drops what a failed run's restores left behind: the drill's names repeat on the
    test's fixed clock, and a leftover would make the next run fail for the wrong reason."""
    yield
    import psycopg

    prefix = f"{connection.settings_dict['NAME']}_restore_"
    url = worker_database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as admin:
        names = admin.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        ).fetchall()
        for (name,) in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.usefixtures("restored_databases")
def test_a_backup_restores_byte_identical_and_the_drill_notices_what_is_not(
    versioned: S3Bucket, s3_server: str, dev_certs: Any, rinis_headers: dict, tmp_path: Path
):
    restore_reference_data()
    amsterdam = Municipality.objects.get(code="0363")
    utrecht = Municipality.objects.get(code="0344")
    client_a, client_b = client_for(amsterdam, "drill-a"), client_for(utrecht, "drill-b")

    # Deliveries: CSVs and a ZIP, from two gemeenten; one staged upload not yet confirmed.
    sets = ["WMO-BASIS", "WMO-KOSTEN", "WMO-FACULTATIEF"]
    for number in range(DELIVERIES):
        content = csv_bytes(max(1, FILE_BYTES // 20)) + f"{number}\r\n".encode()
        name = f"MSD_{sets[number % 3]}_0363_{CURRENT}.csv"
        upload_and_confirm(client_a, csv_file(name, content))
    (zipped,) = upload_and_confirm(
        client_b,
        zip_file(
            f"MSD_WMO_0344_{CURRENT}.zip",
            {
                f"MSD_WMO-BASIS_0344_{CURRENT}.csv": csv_bytes(40),
                f"MSD_WMO-KOSTEN_0344_{CURRENT}.csv": csv_bytes(50),
            },
        ),
    )
    assert upload(client_b, csv_file(f"MSD_WMO-FACULTATIEF_0344_{CURRENT}.csv")).status_code == 302
    # A CBS report through the inbound endpoint, for Amsterdam's first delivery.
    first = Delivery.objects.filter(municipality=amsterdam).order_by("reference").first()
    assert first is not None
    body, action = du01(
        "0363",
        cross_refnummer=first.outbound_message.referentienummer,
        cross_refnummer_bericht=first.reference,
    )
    answer = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **rinis_headers,
    )
    assert b"Bv03Bericht" in answer.content
    # Consent: CBS's "op orde" report for the previous period opens the form; submitted.
    report(amsterdam, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    assert form.stored_name
    # A certificate in the admin's certificate management (encrypted in the bucket).
    Certificate.objects.create(
        label="RINIS-client",
        type=CertificateTypes.key_pair,
        public_certificate=ContentFile(Path(dev_certs.portal_client.cert).read_bytes(), "c.pem"),
        private_key=ContentFile(Path(dev_certs.portal_client.key).read_bytes(), "k.pem"),
    )
    # Retention removed the ZIP's contents long ago: its row stays, its file is gone.
    OutboundMessage.objects.filter(pk=zipped.outbound_message_id).update(
        state=MessageState.DELIVERED, delivered_at=timezone.now() - datetime.timedelta(days=40)
    )
    assert purge_expired().deliveries == [zipped.reference]

    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "MSD_S3_BUCKET": versioned.name,
        "MSD_S3_LOCATION": "",
        "MSD_S3_PRIVATE_BUCKET": "",
        "MSD_S3_ENDPOINT_URL": s3_server,
        "MSD_S3_ACCESS_KEY_ID": S3_TEST_KEY["access_key_id"],
        "MSD_S3_SECRET_ACCESS_KEY": S3_TEST_KEY["secret_access_key"],
        "MSD_S3_SSE": "AES256",
        "MSD_PRIVATE_KEY_ENCRYPTION_KEY": PRIVATE_TEST_KEY,
    }
    backup = tmp_path / "backup"

    # 1. The whole drill, as `make restore-drill` / an operator runs it.
    done = drill(env, "drill", "--dir", str(backup), "--keep")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((backup / "report.json").read_text())
    counts = result["counts"]
    # The CSVs, the ZIP, and the delivery the previous period's report is about.
    previous = Delivery.objects.get(municipality=amsterdam, file_name=f"MSD_0363_{PREVIOUS}.zip")
    previous_files = previous.files.count()
    assert previous_files > 0
    assert counts["deliveries"] == DELIVERIES + 2
    assert counts["delivered_files"] == DELIVERIES + 2 + previous_files
    assert (counts["reports"], counts["consent_forms"], counts["staged_files"]) == (2, 1, 1)
    assert counts["purged_deliveries"] == 1
    # Every live delivery (all but the purged ZIP), the two reports, the consent CSV, the
    # staged upload, the certificate and its key: each read back and hashed.
    assert result["files_checked"] == DELIVERIES + 1 + 2 + 1 + 1 + 2
    assert "Audittrail in orde" in result["audit"]
    assert "restore drill passed" in done.stdout
    restored = json.loads((backup / "restore.json").read_text())
    assert drill(env, "cleanup", "--from", str(backup)).returncode == 0

    # 2. After the backup a file goes missing and a new delivery arrives. A point-in-time
    #    restore (database at T, objects from the bucket's versions as of T) brings the
    #    file back and leaves the later delivery out.
    lost = Delivery.objects.filter(municipality=amsterdam).order_by("reference").last()
    assert lost is not None
    default_storage.delete(lost.stored_name)  # a delete marker, after T
    upload_and_confirm(client_b, csv_file(f"MSD_WMO-KOSTEN_0344_{CURRENT}.csv"))
    done = drill(env, "restore", "--from", str(backup), "--objects", "live")
    assert done.returncode == 0, done.stdout + done.stderr
    done = drill(env, "verify", "--from", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    target = json.loads((backup / "inventory-restored.json").read_text())
    assert lost.reference in target["deliveries"]
    assert target["counts"]["deliveries"] == DELIVERIES + 2  # not the one after T

    # 3. A restored file that is not the one that arrived: the drill fails, and says which.
    target_bucket = json.loads((backup / "restore.json").read_text())["buckets"][0]["bucket"]
    assert target_bucket != restored["buckets"][0]["bucket"]
    report_row = Report.objects.order_by("pk").first()
    assert report_row is not None
    versioned.client.put_object(
        Bucket=target_bucket, Key=report_row.stored_name, Body=b"%PDF-1.4 not the report"
    )
    done = drill(env, "verify", "--from", str(backup))
    assert done.returncode == 1
    assert f"reports {report_row.pk}: {report_row.stored_name} is niet het bestand" in done.stdout
    assert drill(env, "cleanup", "--from", str(backup)).returncode == 0
