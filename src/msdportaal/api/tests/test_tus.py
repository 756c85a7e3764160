"""Resumable uploads through the real TLS front, with tuspy as an independent client."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from msdportaal.api.models import TusUpload
from msdportaal.conftest import stored_files, wait_for
from msdportaal.deliveries.models import Delivery, StagedFile, UploadBatch
from msdportaal.deliveries.tests.factories import csv_bytes, zip_bytes
from msdportaal.notifications.models import EmailLedger
from msdportaal.notifications.tasks import send_stored_email

from .conftest import register

CURRENT = "2026HJ01"
NAME = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
UPLOADS = "/api/v1/gemeenten/0363/uploads/"


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture
def front(rinis_facing: str, dev_certs: Any, municipality_a: Any, monkeypatch: Any) -> str:
    """Gemeente A's system reaches the portal through tls_front with its certificate."""
    register(dev_certs.gemeente_system.cert, "Gemeente A systeem", municipality_a)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(dev_certs.ca_cert))
    return rinis_facing


@pytest.fixture
def cert(dev_certs: Any) -> tuple[str, str]:
    return dev_certs.gemeente_system.as_tuple()


def tus_client(front: str, cert: tuple[str, str]) -> TusClient:
    return TusClient(front + UPLOADS, client_cert=cert)


def test_tuspy_uploads_a_file_that_is_checked_and_confirmed_into_a_delivery(front, cert, mailbox):
    data = csv_bytes(50_000)
    uploader = tus_client(front, cert).uploader(
        file_stream=io.BytesIO(data),
        chunk_size=256 * 1024,
        metadata={"filename": NAME},
        upload_checksum=True,
    )
    uploader.__class__ = Sha256Uploader
    uploader.upload()
    status = requests.get(uploader.url, cert=cert, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    body = status.json()
    assert body["status"] == "klaar-om-te-bevestigen", body
    assert body["ontvangen"] == body["lengte"] == len(data)
    assert [(e["bestandsnaam"], e["set"]) for e in body["inhoud"]] == [(NAME, "WMO_BASIS")]
    assert not [f for f in stored_files(settings.MEDIA_ROOT) if f.startswith("tus/")]

    confirmed = requests.post(uploader.url + "bevestigen/", cert=cert, timeout=10).json()
    (reference,) = confirmed["aanleveringen"]
    delivery = Delivery.objects.get(reference=reference)
    assert delivery.sha256 == hashlib.sha256(data).hexdigest()
    assert delivery.uploaded_by_name == "Systeemkoppeling Gemeente A systeem"
    again = requests.post(uploader.url + "bevestigen/", cert=cert, timeout=10).json()
    assert again["aanleveringen"] == [reference]  # a repeated confirm changes nothing
    assert Delivery.objects.count() == 1
    # The receipt goes to the system's contact address, as a person's goes to theirs.
    (queued,) = EmailLedger.objects.filter(key=f"receipt:{delivery.batch_id}")
    send_stored_email(queued.pk)
    (receipt,) = mailbox.to("systeem@example.nl")
    assert reference in receipt.get_body(("plain",)).get_content()


def _cut_patch(
    front: str, cert: tuple[str, str], ca: str, url: str, data: bytes, upto: int
) -> None:
    """A PATCH announcing all of *data* whose connection dies after *upto* bytes."""
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(*cert)
    raw = socket.create_connection((target.hostname, target.port))
    sock = context.wrap_socket(raw, server_hostname="localhost")
    head = (
        f"PATCH {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + data[:upto])
    # The connection ends there (a FIN, not a reset: a reset could make the front drop
    # bytes it had received but not yet read, and the test would depend on timing).
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(30)
    try:
        while sock.recv(65536):  # until the front closes its side
            pass
    except OSError:
        pass
    sock.close()


def test_a_connection_cut_at_40_percent_resumes_where_it_stopped(front, cert, dev_certs):
    data = zip_bytes({NAME: csv_bytes(200_000)})
    name = f"MSD_WMO_0363_{CURRENT}.zip"
    create = requests.post(
        front + UPLOADS,
        cert=cert,
        timeout=10,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode(),
        },
    )
    assert create.status_code == 201, create.text
    url = front + create.headers["Location"]  # path-absolute, as tus allows
    cut = int(len(data) * 0.4)
    _cut_patch(front, cert, str(dev_certs.ca_cert), url, data, cut)

    def offset() -> int:
        head = requests.head(url, cert=cert, timeout=10, headers={"Tus-Resumable": "1.0.0"})
        upload = TusUpload.objects.get()
        return int(head.headers["Upload-Offset"]) if upload.writing_until is None else -1

    wait_for(lambda: offset() > 0, what="the bytes before the cut to be kept")
    kept = offset()
    assert 0 < kept <= cut
    uploader = tus_client(front, cert).uploader(
        file_stream=io.BytesIO(data), url=url, chunk_size=1024 * 1024
    )
    assert uploader.offset == kept  # tuspy asked the server where to go on
    uploader.upload()
    body = requests.get(url, cert=cert, timeout=10, headers={"Tus-Resumable": "1.0.0"}).json()
    assert body["status"] == "klaar-om-te-bevestigen", body
    staged = StagedFile.objects.get()
    assert staged.sha256 == hashlib.sha256(data).hexdigest()  # byte-identical after the resume


@pytest.mark.django_db
def test_a_wrong_name_is_refused_before_any_byte_and_leaves_nothing(system_a):
    before = (UploadBatch.objects.count(), TusUpload.objects.count())
    for name, code in [
        ("C:\\Users\\x\\" + NAME, "bestandsnaam-geweigerd"),
        (NAME.replace("0363", "03 63"), "bestandsnaam-geweigerd"),
        ("rapport.pdf", "bestandsnaam-geweigerd"),
    ]:
        response = system_a.post(
            UPLOADS,
            HTTP_TUS_RESUMABLE="1.0.0",
            HTTP_UPLOAD_LENGTH="10",
            HTTP_UPLOAD_METADATA="filename " + base64.b64encode(name.encode()).decode(),
        )
        assert response.status_code == 400, (name, response.content)
        assert response.json()["code"] == code
        assert response["Tus-Resumable"] == "1.0.0"
    too_big = system_a.post(
        UPLOADS,
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(settings.MSD_UPLOAD_MAX_BYTES + 1),
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(NAME.encode()).decode(),
    )
    assert too_big.status_code == 413
    assert (UploadBatch.objects.count(), TusUpload.objects.count()) == before
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.django_db
def test_a_chunk_with_a_wrong_checksum_is_not_kept(system_a):
    create = system_a.post(
        UPLOADS,
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH="100",
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(NAME.encode()).decode(),
    )
    url = create["Location"]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = system_a.patch(
        url,
        b"x" * 50,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
        HTTP_UPLOAD_CHECKSUM=f"sha256 {wrong}",
    )
    assert response.status_code == 460
    assert response.json()["code"] == "checksum-klopt-niet"
    head = system_a.head(url, HTTP_TUS_RESUMABLE="1.0.0")
    assert head["Upload-Offset"] == "0"
    stale = system_a.patch(
        url,
        b"x" * 10,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="5",
    )
    assert stale.status_code == 409
    assert system_a.delete(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 204
    assert system_a.head(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.django_db
def test_options_tells_what_the_server_supports_and_tus_resumable_is_required(system_a):
    options = system_a.options(UPLOADS)
    assert options.status_code == 204
    assert options["Tus-Version"] == "1.0.0"
    assert set(options["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "checksum",
        "expiration",
    }
    assert int(options["Tus-Max-Size"]) == settings.MSD_UPLOAD_MAX_BYTES
    refused = system_a.post(UPLOADS, HTTP_UPLOAD_LENGTH="10")
    assert refused.status_code == 412
    assert refused["Tus-Version"] == "1.0.0"


@pytest.mark.django_db
def test_the_periodic_task_removes_expired_partial_uploads_with_their_parts(system_a, fixed_today):
    import datetime

    from msdportaal.api.tasks import remove_expired_uploads

    def started(name: str) -> str:
        created = system_a.post(
            UPLOADS,
            HTTP_TUS_RESUMABLE="1.0.0",
            HTTP_UPLOAD_LENGTH="100",
            HTTP_UPLOAD_METADATA="filename " + base64.b64encode(name.encode()).decode(),
        )
        system_a.patch(
            created["Location"],
            b"x" * 40,
            content_type="application/offset+octet-stream",
            HTTP_TUS_RESUMABLE="1.0.0",
            HTTP_UPLOAD_OFFSET="0",
        )
        return created["Location"]

    old = started(NAME)
    fixed_today.shift(datetime.timedelta(hours=settings.MSD_TUS_EXPIRY_HOURS - 1))
    young = started(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv")
    assert len([f for f in stored_files(settings.MEDIA_ROOT) if "tus/" in f]) == 2
    fixed_today.shift(datetime.timedelta(hours=2))
    assert system_a.head(old, HTTP_TUS_RESUMABLE="1.0.0").status_code == 410  # expired
    assert remove_expired_uploads() == 1
    assert system_a.head(old, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
    assert system_a.head(young, HTTP_TUS_RESUMABLE="1.0.0")["Upload-Offset"] == "40"
    assert len([f for f in stored_files(settings.MEDIA_ROOT) if "tus/" in f]) == 1
    assert "remove-expired-uploads" in settings.CELERY_BEAT_SCHEDULE
