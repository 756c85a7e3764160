"""The RINIS client: one SOAP 1.1 POST per attempt, over mutual TLS, streamed."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from django.conf import settings

from msdportaal.core.storage import open_stored

from .stuf import (
    SOAP_ACTION_DI01,
    SOAP_CONTENT_TYPE,
    Answer,
    Di01Message,
    GbMetadata,
    ProtocolError,
    WsAddressing,
    di01_gb_soap_length,
    gb_filename,
    iter_di01_gb_soap,
    iter_di01_soap,
    parse_answer,
    soap_body_length,
)

if TYPE_CHECKING:
    from .models import OutboundMessage, TransportConfiguration

#: An answer larger than this is not a StUF answer.
MAX_ANSWER_BYTES = 1024 * 1024


class UploadTimeout(TimeoutError):
    """The body did not reach RINIS within its allowance (see :func:`timeouts_for`)."""


class IterStream(io.RawIOBase):
    """A read()-able view of a byte iterator with a known length.

    ``requests`` streams a file-like body block by block and sends our Content-Length
    instead of falling back to chunked transfer encoding (which some gateways refuse).
    With a *deadline* (``time.monotonic()``), reading on after it raises
    :class:`UploadTimeout`, which ends the attempt.
    """

    def __init__(self, chunks: Iterator[bytes], length: int, deadline: float | None = None) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._length = length
        self._position = 0
        self._deadline = deadline

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        # requests subtracts this from len(); without it, it falls back to chunked.
        return self._position

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise UploadTimeout(
                    f"the body was not sent within its time ({self._position} of "
                    f"{self._length} bytes)"
                )
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self._position += size
        return size


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    ca_bundle: str


def tls_files(config: TransportConfiguration) -> TlsFiles:
    cert, key, ca = (
        settings.MSD_RINIS_CLIENT_CERT,
        settings.MSD_RINIS_CLIENT_KEY,
        settings.MSD_RINIS_CA_BUNDLE,
    )
    if config.client_certificate is not None:
        cert = config.client_certificate.public_certificate.path
        key = config.client_certificate.private_key.path
    if config.server_ca_certificate is not None:
        ca = config.server_ca_certificate.public_certificate.path
    return TlsFiles(cert, key, ca)


def di01_for(message: OutboundMessage) -> Di01Message:
    return Di01Message(
        zender_organisatie=message.municipality.code,
        zender_applicatie=message.zender_applicatie,
        zender_administratie=message.zender_administratie[:50] or None,
        referentienummer=message.referentienummer,
        tijdstip_bericht=message.tijdstip_bericht,
        functie=message.functie,
        referentienummer_bericht=message.referentienummer_bericht,
        applicatie_versie=message.applicatie_versie,
        applicatie_subversie=message.applicatie_subversie,
        functie_versie=message.functie_versie,
        functie_subversie=message.functie_subversie,
        bestandsnaam=message.bestandsnaam,
        content_type=message.content_type,
    )


def gb_metadata_for(message: OutboundMessage) -> GbMetadata:
    from django.urls import reverse

    if not (message.gb_token and message.gb_expires_at):
        raise ValueError("not a Grote Berichten message")
    return GbMetadata(
        filename=gb_filename(message.bestandsnaam),
        size=message.size,
        checksum=message.sha256,
        content_type=message.content_type,
        sender_url=settings.MSD_RINIS_FACING_URL
        + reverse("transport:gb_download", args=[message.gb_token]),
        expiration_time=message.gb_announced_expiry or message.gb_expires_at,
        context_id=message.referentienummer,
    )


#: Stands in for an unset MSD_RINIS_URL when only the envelope's size is needed.
UNCONFIGURED_URL = "https://rinis.invalid/"


def addressing(message: OutboundMessage) -> WsAddressing:
    # The MessageID follows the StUF referentienummer, so a resend is recognisably the same.
    return WsAddressing(
        to=settings.MSD_RINIS_URL or UNCONFIGURED_URL,
        from_address=settings.MSD_RINIS_FROM_ADDRESS,
        action=SOAP_ACTION_DI01,
        message_id=f"urn:uuid:{message.referentienummer}",
    )


def envelope_length(message: OutboundMessage) -> int:
    """Bytes of the SOAP body if the file travels inline."""
    return soap_body_length(di01_for(message), message.size, wsa=addressing(message))


def request_length(message: OutboundMessage) -> int:
    """Bytes of the SOAP body this message is sent as (inline or as a GB reference)."""
    di01, wsa = di01_for(message), addressing(message)
    if message.uses_grote_berichten:
        return di01_gb_soap_length(di01, gb_metadata_for(message), wsa=wsa)
    return soap_body_length(di01, message.size, wsa=wsa)


@dataclass(frozen=True)
class Timeouts:
    """How long one attempt may take, in seconds.

    - ``connect``: to open the TCP and TLS connection;
    - ``upload``: to send the whole body;
    - ``read``: for RINIS's answer once the body is sent (between two bytes, as
      ``requests`` counts it).

    Upload and read get the same allowance, ``MSD_RINIS_READ_TIMEOUT`` plus
    ``MSD_RINIS_READ_SECONDS_PER_MB`` per MB of body: RINIS stores and checks the whole
    body before it answers, so a 25 MB Di01 may take longer than a 10 KB one, and a small
    one is not left waiting two minutes for an answer that will not come.
    """

    connect: float
    upload: float
    read: float

    @property
    def longest_attempt(self) -> float:
        return self.connect + self.upload + self.read


def timeouts_for(message: OutboundMessage) -> Timeouts:
    megabytes = request_length(message) / 1_000_000
    allowance = settings.MSD_RINIS_READ_TIMEOUT + settings.MSD_RINIS_READ_SECONDS_PER_MB * megabytes
    return Timeouts(connect=settings.MSD_RINIS_CONNECT_TIMEOUT, upload=allowance, read=allowance)


def send(
    message: OutboundMessage, config: TransportConfiguration, timeouts: Timeouts | None = None
) -> Answer:
    """POST the message to RINIS and classify the answer; connection trouble is a
    :class:`ProtocolError` (retryable), never an exception."""
    if not settings.MSD_RINIS_URL:
        return ProtocolError(
            reason="MSD_RINIS_URL is not configured", status_code=0, content_type="", excerpt=""
        )
    di01, wsa = di01_for(message), addressing(message)
    files = tls_files(config)
    timeouts = timeouts or timeouts_for(message)
    # The connection is opened before the first block is read.
    upload_deadline = time.monotonic() + timeouts.connect + timeouts.upload
    handle = None
    try:
        if message.uses_grote_berichten:
            metadata = gb_metadata_for(message)
            body = IterStream(
                iter_di01_gb_soap(di01, metadata, wsa=wsa),
                di01_gb_soap_length(di01, metadata, wsa=wsa),
                upload_deadline,
            )
        else:
            handle = open_stored(message.stored_name)
            body = IterStream(
                iter_di01_soap(
                    di01, handle, wsa=wsa, chunk_size=192 * 1024, expected_size=message.size
                ),
                soap_body_length(di01, message.size, wsa=wsa),
                upload_deadline,
            )
        response = requests.post(
            settings.MSD_RINIS_URL,
            data=body,
            headers={
                "Content-Type": SOAP_CONTENT_TYPE,
                "SOAPAction": f'"{SOAP_ACTION_DI01}"',
                "Content-Length": str(len(body)),
            },
            cert=(files.cert, files.key) if files.cert else None,
            verify=files.ca_bundle or True,
            timeout=(timeouts.connect, timeouts.read),
            stream=True,
        )
        with response:
            content = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
            return parse_answer(
                response.status_code,
                response.headers.get("Content-Type", ""),
                content,
                expected_cross_ref=message.referentienummer,
            )
    except (requests.RequestException, UploadTimeout) as exc:
        return ProtocolError(
            reason=f"{type(exc).__name__}: {exc}"[:500], status_code=0, content_type="", excerpt=""
        )
    finally:
        if handle is not None:
            handle.close()
