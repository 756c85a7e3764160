"""Grote Berichten: large files are announced in the Di01 and fetched by RINIS with Range."""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from lxml import etree

from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.transport.models import OutboundMessage, TransportConfiguration, TrustedClient
from msdportaal.transport.stuf import parse_gb_metadata

pytestmark = pytest.mark.django_db


@pytest.fixture
def gb_message(client_a: Client, settings) -> tuple[OutboundMessage, bytes]:
    config = TransportConfiguration.get_solo()
    config.gb_threshold_bytes = 100_000  # so a small test file goes by Grote Berichten
    config.save()
    content = bytes(range(256)) * 1000  # 256 000 bytes, every byte value
    (delivery,) = upload_and_confirm(
        client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", content)
    )
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    return delivery.outbound_message, content


def cert_headers(certs, stem: str = "rinis_client") -> dict[str, str]:
    pem = Path(getattr(certs, stem).cert).read_text()
    return {
        "HTTP_X_SSL_CLIENT_CERT": quote(pem, safe=""),
        "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
        "HTTP_X_MSD_PROXY_SECRET": settings.MSD_PROXY_SECRET,
    }


@pytest.fixture
def rinis(dev_certs) -> dict[str, str]:
    from rinis_simulator.devcerts import RINIS_OIN

    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN)
    return cert_headers(dev_certs)


def url(message: OutboundMessage) -> str:
    return f"/rinis/gb/{message.gb_token}/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_large_message_carries_gb_metadata_instead_of_the_file(gb_message, settings):
    message, content = gb_message
    assert message.uses_grote_berichten
    from msdportaal.transport import client as rinis_client

    di01, wsa = rinis_client.di01_for(message), rinis_client.addressing(message)
    metadata = rinis_client.gb_metadata_for(message)
    from msdportaal.transport.stuf import iter_di01_gb_soap

    soap = etree.fromstring(b"".join(iter_di01_gb_soap(di01, metadata, wsa=wsa)))
    bericht = soap.find(".//{http://www.stufstandaarden.nl/sectormodel/ggk/0210}bericht")
    parsed = parse_gb_metadata(base64.b64decode(bericht.text))
    assert parsed.size == len(content)
    assert parsed.checksum == hashlib.sha256(content).hexdigest()
    assert parsed.sender_url == f"{settings.MSD_RINIS_FACING_URL}/rinis/gb/{message.gb_token}/"
    assert parsed.content_type == "text/csv"


def test_rinis_downloads_the_whole_file(client: Client, gb_message, rinis):
    message, content = gb_message
    response = client.get(url(message), **rinis)
    assert response.status_code == 200
    assert body(response) == content
    assert response["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert response["Accept-Ranges"] == "bytes"


def test_a_broken_download_resumes_with_range(client: Client, gb_message, rinis):
    message, content = gb_message
    etag = f'"{message.sha256}"'
    response = client.get(url(message), HTTP_RANGE="bytes=100000-", HTTP_IF_RANGE=etag, **rinis)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100000-{len(content) - 1}/{len(content)}"
    assert body(response) == content[100000:]
    response = client.get(url(message), HTTP_RANGE="bytes=10-19", **rinis)
    assert body(response) == content[10:20]
    response = client.get(url(message), HTTP_RANGE="bytes=-5", **rinis)
    assert body(response) == content[-5:]


def test_if_range_with_another_etag_gets_the_whole_file(client: Client, gb_message, rinis):
    message, content = gb_message
    response = client.get(url(message), HTTP_RANGE="bytes=5-", HTTP_IF_RANGE='"stale"', **rinis)
    assert response.status_code == 200
    assert body(response) == content


def test_unsatisfiable_range(client: Client, gb_message, rinis):
    message, content = gb_message
    response = client.get(url(message), HTTP_RANGE=f"bytes={len(content)}-", **rinis)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(content)}"


def test_only_the_registered_rinis_certificate_gets_the_file(
    client: Client, gb_message, rinis, dev_certs, settings
):
    message, _content = gb_message
    assert client.get(url(message)).status_code == 404  # no certificate at all
    assert client.get(url(message), **cert_headers(dev_certs, "portal_client")).status_code == 404
    unverified = {**rinis, "HTTP_X_SSL_CLIENT_VERIFY": "FAILED:unknown CA"}
    assert client.get(url(message), **unverified).status_code == 404
    assert (
        client.get(url(message), REMOTE_ADDR="10.1.2.3", **rinis).status_code == 404
    )  # not via proxy
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = False
    assert client.get(url(message), **rinis).status_code == 404
    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    assert client.get("/rinis/gb/wrong-token/", **rinis).status_code == 404
    assert client.get(url(message), **rinis).status_code == 200


@pytest.mark.parametrize("secret", [None, "", "a-guess"], ids=["none", "empty", "guess"])
def test_certificate_headers_without_the_proxy_secret_get_no_file(
    client: Client, gb_message, rinis, secret
):
    message, _content = gb_message
    headers = {k: v for k, v in rinis.items() if k != "HTTP_X_MSD_PROXY_SECRET"}
    if secret is not None:
        headers["HTTP_X_MSD_PROXY_SECRET"] = secret
    response = client.get(url(message), **headers)
    assert response.status_code == 404
    assert b"".join(getattr(response, "streaming_content", [response.content])) != _content


def test_no_download_after_expiry(client: Client, gb_message, rinis, fixed_today):
    message, _content = gb_message
    fixed_today.shift(datetime.timedelta(days=8))
    assert client.get(url(message), **rinis).status_code == 404


def test_head_tells_size_and_etag(client: Client, gb_message, rinis):
    message, content = gb_message
    response = client.head(url(message), **rinis)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(content))
    assert response.content == b""


def test_no_answer_puts_the_token_in_the_log(client: Client, gb_message, rinis):
    """Not the 200, nor Django's "Not Found: <path>" / "Method Not Allowed" lines."""
    import io
    import logging

    from msdportaal.operations import logs

    message, content = gb_message
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        assert client.get(url(message), **rinis).status_code == 200
        assert client.get(url(message)).status_code == 404  # no certificate
        assert client.post(url(message), **rinis).status_code == 405
        unsatisfiable = client.get(url(message), HTTP_RANGE=f"bytes={len(content)}-", **rinis)
        assert unsatisfiable.status_code == 416
        assert client.get("/rinis/gb/guessed-token-0123/", **rinis).status_code == 404
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    text = stream.getvalue()
    assert text.count("/rinis/gb/***/") >= 5, text
    assert message.gb_token not in text
    assert "guessed-token-0123" not in text
