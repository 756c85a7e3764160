"""Grote Berichten (pull): the simulator fetches the file, resuming a broken transfer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from rinis_simulator.devcerts import RINIS_OIN, DevCerts
from rinis_simulator.server import Simulator

from .conftest import ControlClient, SoapClient, wait_until
from .fileserver import FileSpec, RangeFileServer
from .messages import NS, build_di01, fo03_code, fo03_of, gb_metadata

FILE_NAME = "MSD_WMO-BASIS_0363_2026HJ01.csv"


@pytest.fixture
def content() -> bytes:
    """A file big enough to be interrupted halfway (the real ones are > 20 MiB)."""
    return os.urandom(700 * 1024 + 13)


@pytest.fixture
def file_server(certs: DevCerts, content: bytes) -> Iterator[RangeFileServer]:
    """The portal's GB download endpoint, played by a small Range-aware server."""
    server = RangeFileServer(certs, FileSpec(content)).start()
    try:
        yield server
    finally:
        server.stop()


def announce(client: SoapClient, content: bytes, url: str, **overrides: Any) -> str:
    """Send a Di01 whose payload is GB metadata for *content*; return its reference."""
    metadata = gb_metadata(
        filename=overrides.pop("filename", FILE_NAME),
        size=overrides.pop("size", len(content)),
        sha256=overrides.pop("sha256", hashlib.sha256(content).hexdigest()),
        sender_url=url,
        **overrides,
    )
    message = build_di01(metadata, content_type="application/xml", bestandsnaam=FILE_NAME)
    response = client.post(message.body)
    assert response.status_code == 200, response.text
    return message.referentienummer


def gb_done(control: ControlClient, ref: str) -> dict[str, Any] | None:
    """meta.json once the download finished (either way), else None."""
    meta = control.get(f"messages/{ref}")
    return meta if meta["gb"]["status"] in ("complete", "failed") else None


def test_gb_download_resumes_with_range_after_a_break(
    client: SoapClient,
    control: ControlClient,
    simulator: Simulator,
    file_server: RangeFileServer,
    content: bytes,
) -> None:
    break_at = 300 * 1024 + 5
    control.post("gb-break", {"after_bytes": break_at})
    ref = announce(client, content, file_server.url)

    meta = wait_until(lambda: gb_done(control, ref), message="GB download")
    assert meta["gb"]["status"] == "complete", meta["gb"]
    assert meta["complete"] is True
    directory = simulator.config.storage / ref
    assert (directory / FILE_NAME).read_bytes() == content
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["size"] == len(content)
    assert meta["file"]["name"] == FILE_NAME
    assert (directory / "gb-reference.xml").read_bytes().startswith(b"<?xml")
    assert (directory / "envelope.xml").exists()
    assert not list(directory.glob("*.part"))

    first, second = file_server.requests[:2]
    assert first.range is None
    assert first.status == 200
    assert first.client_serial == RINIS_OIN  # the simulator uses the RINIS certificate
    assert second.range == f"bytes={break_at}-"
    assert second.if_range == '"v1"'
    assert second.status == 206
    assert len(file_server.requests) == 2
    assert meta["gb"]["attempts"] == 2


def test_bv03_comes_before_the_download_finishes(
    client: SoapClient,
    control: ControlClient,
    file_server: RangeFileServer,
    content: bytes,
) -> None:
    ref = announce(client, content, file_server.url)
    meta = control.get(f"messages/{ref}")
    assert meta["kind"] == "gb"
    assert meta["gb"]["reference"]["size"] == len(content)
    done = wait_until(lambda: gb_done(control, ref), message="GB download")
    assert done["complete"] is True
    assert done["gb"]["attempts"] == 1


def test_changed_file_is_fetched_again_from_the_start(
    client: SoapClient,
    control: ControlClient,
    simulator: Simulator,
    file_server: RangeFileServer,
    content: bytes,
) -> None:
    """If-Range protects against mixing two versions: a new ETag means a full 200."""
    control.post("gb-break", {"after_bytes": 1000})
    file_server.spec.next_etag = '"v2"'  # the portal replaces the file after request 1
    ref = announce(client, content, file_server.url)
    meta = wait_until(lambda: gb_done(control, ref), message="GB download")
    assert meta["gb"]["status"] == "complete"
    first, second = file_server.requests
    assert (first.status, second.status) == (200, 200)
    assert second.if_range == '"v1"'  # asked to resume, got the whole new version
    assert (simulator.config.storage / ref / FILE_NAME).read_bytes() == content


def test_checksum_mismatch_fails_and_keeps_no_file(
    client: SoapClient,
    control: ControlClient,
    simulator: Simulator,
    file_server: RangeFileServer,
    content: bytes,
) -> None:
    ref = announce(client, content, file_server.url, sha256="0" * 64)
    meta = wait_until(lambda: gb_done(control, ref), timeout=20, message="GB failure")
    assert meta["gb"]["status"] == "failed"
    assert "GB015" in meta["gb"]["last_error"]
    assert meta["complete"] is False
    assert not (simulator.config.storage / ref / FILE_NAME).exists()
    assert len(file_server.requests) == simulator.config.gb_max_attempts
    assert control.get("status")["messages"]["gb_failed"] == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"url": "http://127.0.0.1:1/bestand"}, "moet https zijn"),
        ({"expiration": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "verlopen"),
        ({"sha256": "abc"}, "Checksum"),
        ({"filename": "1-begint-met-cijfer.csv"}, "gb-pull.xsd"),
    ],
)
def test_bad_gb_metadata_is_refused_at_once(
    client: SoapClient,
    control: ControlClient,
    content: bytes,
    overrides: dict[str, Any],
    fragment: str,
) -> None:
    url = overrides.pop("url", "https://127.0.0.1:1/bestand")
    metadata = gb_metadata(
        filename=overrides.pop("filename", FILE_NAME),
        size=len(content),
        sha256=overrides.pop("sha256", hashlib.sha256(content).hexdigest()),
        sender_url=url,
        **overrides,
    )
    response = client.post(build_di01(metadata, content_type="application/xml").body)
    assert response.status_code == 500
    assert fo03_code(response.content) == ("StUF055", "client")
    details = fo03_of(response.content).findtext("StUF:body/StUF:details", namespaces=NS)
    assert fragment in (details or "")
    assert control.get("status")["messages"]["stored"] == 0


def test_ordinary_xml_payload_is_just_a_file(client: SoapClient, simulator: Simulator) -> None:
    payload = b"<?xml version='1.0'?><rapport>geen GB</rapport>"
    message = build_di01(payload, content_type="application/xml", bestandsnaam="rapport.xml")
    assert client.post(message.body).status_code == 200
    stored = simulator.config.storage / message.referentienummer / "rapport.xml"
    assert stored.read_bytes() == payload
