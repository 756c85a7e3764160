"""S3-compatible object storage: stored, forwarded and downloaded through the S3 API.

These tests always run, against an S3 API server (moto in server mode) on 127.0.0.1,
with the storage configured as in production (``conf/s3.py``: private objects,
server-side encryption). ``MSD_TEST_S3=1`` runs the rest of the suite on S3 as well.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from msdportaal.conftest import S3Bucket
from msdportaal.core.storage import S3ObjectReader, open_stored
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, TransportConfiguration

pytestmark = pytest.mark.django_db


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_an_upload_is_stored_byte_identical_private_and_encrypted(
    client_a: Client, s3_bucket: S3Bucket, settings
):
    writes: list[dict[str, str]] = []
    events = default_storage.connection.meta.client.meta.events
    record = events.register(
        "before-call.s3.CreateMultipartUpload",
        lambda params, **kwargs: writes.append(dict(params["headers"])),
    )
    # Larger than one multipart part (8 MB), so the upload goes in parts.
    content = os.urandom(9 * 1024 * 1024 + 123)
    try:
        (delivery,) = upload_and_confirm(
            client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
        )
    finally:
        events.unregister("before-call.s3.CreateMultipartUpload", record)

    assert delivery.sha256 == sha256(content)
    assert s3_bucket.sha256(delivery.stored_name) == sha256(content)
    head = s3_bucket.head(delivery.stored_name)
    assert head["ContentLength"] == len(content)
    assert head["ServerSideEncryption"] == "AES256"
    # No ACL is ever sent (the bucket's private policy applies), encryption always is.
    assert len(writes) == 1
    assert not [
        h for h in writes[0] if h.lower().startswith("x-amz-grant") or h.lower() == "x-amz-acl"
    ]
    assert writes[0]["x-amz-server-side-encryption"] == "AES256"
    # No public URL: anything that asks for one gets a signed URL valid for a minute.
    assert "X-Amz-Signature=" in default_storage.url(delivery.stored_name)
    # Nothing on this node's disk: not in MEDIA_ROOT, no temporary file left.
    assert not Path(settings.MEDIA_ROOT).exists()
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []


def test_a_delivery_is_forwarded_from_s3_to_rinis_byte_identical(
    client_a: Client, s3_bucket: S3Bucket, simulator
):
    content = os.urandom(300_000)
    name = f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"
    (delivery,) = upload_and_confirm(client_a, make_csv(name, content))
    message = delivery.outbound_message
    assert not message.uses_grote_berichten

    state = services.attempt_send(message.pk)
    assert state == MessageState.DELIVERED, message.attempt_log.get().detail
    received = Path(simulator.config.storage) / message.referentienummer / name
    assert sha256(received.read_bytes()) == sha256(content)


def test_grote_berichten_download_with_range_from_s3(
    client: Client, client_a: Client, s3_bucket: S3Bucket, rinis_headers
):
    config = TransportConfiguration.get_solo()
    config.gb_threshold_bytes = 100_000
    config.save()
    content = bytes(range(256)) * 2000  # 512 000 bytes, every byte value
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    message = delivery.outbound_message
    assert message.uses_grote_berichten
    url = reverse("transport:gb_download", args=[message.gb_token])
    etag = f'"{sha256(content)}"'

    whole = client.get(url, **rinis_headers)
    assert whole.status_code == 200
    assert whole["Content-Length"] == str(len(content))
    assert body(whole) == content

    resumed = client.get(url, HTTP_RANGE="bytes=300000-", HTTP_IF_RANGE=etag, **rinis_headers)
    assert resumed.status_code == 206
    assert resumed["Content-Range"] == f"bytes 300000-{len(content) - 1}/{len(content)}"
    assert body(resumed) == content[300000:]
    assert body(client.get(url, HTTP_RANGE="bytes=10-19", **rinis_headers)) == content[10:20]
    assert body(client.get(url, HTTP_RANGE="bytes=-7", **rinis_headers)) == content[-7:]
    head = client.head(url, **rinis_headers)
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(content))


def test_a_cbs_report_is_downloaded_from_s3(client_a: Client, s3_bucket: S3Bucket, municipality_a):
    from msdportaal.consent.tests.factories import report
    from msdportaal.reports.tests.helpers import SAMPLE_PDF

    stored = report(municipality_a, CURRENT)
    assert s3_bucket.sha256(stored.stored_name) == sha256(SAMPLE_PDF)
    response = client_a.get(reverse("reports:download", args=[stored.pk]))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(SAMPLE_PDF))
    assert body(response) == SAMPLE_PDF


def test_the_reader_streams_with_ranged_gets_and_never_downloads_the_whole_object(
    s3_bucket: S3Bucket,
):
    content = os.urandom(3 * 1024 * 1024)
    name = default_storage.save("deliveries/test/stream", ContentFile(content))
    requests: list[str] = []
    events = default_storage.connection.meta.client.meta.events
    hook = events.register(
        "before-call.s3.GetObject",
        lambda params, **kwargs: requests.append(params["headers"].get("Range", "")),
    )
    try:
        handle = open_stored(name)
        assert isinstance(handle.raw, S3ObjectReader)
        assert requests == []  # opening is a HEAD only
        handle.seek(2_000_000)
        assert handle.read(10) == content[2_000_000:2_000_010]
        assert requests == ["bytes=2000000-"]
        handle.seek(5)
        blocks = iter(lambda: handle.read(256 * 1024), b"")
        assert b"".join(blocks) == content[5:]
        assert requests == ["bytes=2000000-", "bytes=5-"]
        handle.seek(0, io.SEEK_END)
        assert handle.tell() == len(content)
        assert handle.read(10) == b""
        handle.close()
    finally:
        events.unregister("before-call.s3.GetObject", hook)
    with pytest.raises(FileNotFoundError):
        open_stored("deliveries/test/does-not-exist")
