"""Fetching a Grote Berichten file that RINIS announced to us (Digikoppeling GB pull).

A broken transfer resumes with ``Range`` + ``If-Range`` (the server's ETag), so a large
report does not start over; size and SHA-256 are checked against the announcement.
"""

from __future__ import annotations

import hashlib
import logging
from typing import IO

import requests
from django.conf import settings

from .models import TransportConfiguration
from .stuf import GbMetadata

logger = logging.getLogger(__name__)
#: Small enough that a transfer cut short keeps most of what arrived (a partial block is lost).
BLOCK = 64 * 1024
MAX_TRIES = 4


class GbFetchError(Exception):
    """The file could not be fetched completely and intact."""


def fetch(metadata: GbMetadata, target: IO[bytes]) -> str:
    """Downloads into ``target`` and returns the SHA-256; raises :class:`GbFetchError`."""
    if not metadata.sender_url.startswith("https://"):
        raise GbFetchError("senderUrl must be https")
    if metadata.size > settings.MSD_INBOUND_GB_MAX_BYTES:
        raise GbFetchError(f"announced size {metadata.size} exceeds the limit")
    from .client import tls_files

    files = tls_files(TransportConfiguration.get_solo())
    session = requests.Session()
    session.trust_env = False  # our CA bundle, not whatever the environment says
    session.cert = (files.cert, files.key) if files.cert else None
    session.verify = files.ca_bundle or True
    received, etag, last_error = 0, None, ""
    for _try in range(MAX_TRIES):
        headers = {}
        if received and etag:
            headers = {"Range": f"bytes={received}-", "If-Range": etag}
        elif received:  # no validator: a partial range could mix two versions
            target.seek(0)
            target.truncate()
            received = 0
        try:
            with session.get(
                metadata.sender_url,
                headers=headers,
                stream=True,
                timeout=(settings.MSD_RINIS_CONNECT_TIMEOUT, settings.MSD_RINIS_READ_TIMEOUT),
            ) as response:
                if response.status_code == 200 and received:
                    target.seek(0)  # the server sent the whole file again
                    target.truncate()
                    received = 0
                elif response.status_code not in (200, 206):
                    raise GbFetchError(f"HTTP {response.status_code}")
                etag = response.headers.get("ETag") or etag
                for block in response.iter_content(BLOCK):
                    received += len(block)
                    if received > metadata.size:
                        raise GbFetchError("more data than announced")
                    target.write(block)
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            logger.info(
                "GB fetch of %s broke off at %d bytes: %s", metadata.filename, received, exc
            )
            continue
        if received == metadata.size:
            break
        last_error = f"incomplete: {received} of {metadata.size} bytes"
    else:
        raise GbFetchError(last_error or "gave up")
    target.seek(0)
    digest = hashlib.sha256()
    while block := target.read(BLOCK):
        digest.update(block)
    if digest.hexdigest() != metadata.checksum.lower():
        raise GbFetchError("SHA-256 differs from the announcement")
    target.seek(0)
    return digest.hexdigest()
