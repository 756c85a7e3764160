"""Test files: CSVs and ZIPs built in the test, named as the user would name them."""

from __future__ import annotations

import io
import os
import stat
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

CURRENT = "2026HJ01"  # on 2026-11-29 (DESIGN.md §3.4)
PREVIOUS = "2025HJ02"


def csv_bytes(rows: int = 20) -> bytes:
    lines = ["clientnummer;postcode;bedrag"] + [f"{i};1011AB;{i * 10}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def csv_file(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes() if content is None else content, "text/csv")


def zip_bytes(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def encrypted_zip_bytes(name: str) -> bytes:
    """A ZIP whose entry has the 'encrypted' flag set (as a password-protected ZIP has)."""
    data = bytearray(zip_bytes({name: csv_bytes()}))
    # Set general-purpose bit 0 in the local header (offset 6) and the central directory.
    data[6] |= 0x1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def zip_file(
    name: str, entries: dict[str, bytes] | None = None, content: bytes | None = None
) -> SimpleUploadedFile:
    if content is None:
        content = zip_bytes(entries or {})
    return SimpleUploadedFile(name, content, "application/zip")


def random_bytes(size: int) -> bytes:
    return os.urandom(size)
