"""ZIPs that lie in their headers, built byte by byte and posted through the upload form.

CBS's unzipper reads local headers; other readers follow the ZIP64 locator; Python 3.13.0's
zipfile looks just before it. Each archive here reads differently depending on who reads
it, so each must be refused with a Dutch message and leave nothing behind.
"""

from __future__ import annotations

import io
import re
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest
from django.test import Client

from msdportaal.deliveries.archives import list_csv_entries
from msdportaal.deliveries.models import Delivery

from .factories import CURRENT, csv_bytes, zip_bytes, zip_file
from .test_upload import assert_refused, upload, upload_and_confirm

pytestmark = pytest.mark.django_db
OWN = f"MSD_WMO-BASIS_0363_{CURRENT}.csv".encode()
OTHER = f"MSD_WMO-BASIS_0518_{CURRENT}.csv".encode()
U32 = 0xFFFFFFFF


def local_header(
    name: bytes, data: bytes, *, size: int | None = None, extra: bytes = b"", flags: int = 0
) -> bytes:
    size = len(data) if size is None else size
    crc = zlib.crc32(data)
    return (
        struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            flags,
            0,
            0,
            0x21,
            crc,
            size,
            size,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def central_header(
    name: bytes,
    data: bytes,
    offset: int,
    *,
    size: int | None = None,
    extra: bytes = b"",
    flags: int = 0,
) -> bytes:
    size = len(data) if size is None else size
    return (
        struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            20,
            20,
            flags,
            0,
            0,
            0x21,
            zlib.crc32(data),
            size,
            size,
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            offset,
        )
        + name
        + extra
    )


def end_record(count: int, cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return (
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment)
        )
        + comment
    )


def zip64_end(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset
    )


def zip64_locator(offset: int) -> bytes:
    return struct.pack("<4sIQI", b"PK\x06\x07", 0, offset, 1)


def archive(
    entries: list[tuple[bytes, bytes]], *, prefix: bytes = b"", central_names: list[bytes] = ()
) -> bytes:
    """A stored ZIP; ``central_names`` overrides the names the central directory gives."""
    body = bytearray(prefix)
    directory = bytearray()
    for i, (name, data) in enumerate(entries):
        offset = len(body)
        body += local_header(name, data) + data
        directory += central_header(central_names[i] if central_names else name, data, offset)
    return bytes(body + directory + end_record(len(entries), len(directory), len(body)))


def refused(client: Client, content: bytes, message: str) -> None:
    assert_refused(client, zip_file("aanlevering.zip", content=content), message)


def test_the_byte_by_byte_builder_makes_an_archive_we_accept(client_a: Client):
    (delivery,) = upload_and_confirm(
        client_a, zip_file("aanlevering.zip", content=archive([(OWN, csv_bytes())]))
    )
    assert list(delivery.files.values_list("file_name", flat=True)) == [OWN.decode()]


def test_local_name_of_another_gemeente_is_refused(client_a: Client):
    content = archive([(OTHER, csv_bytes())], central_names=[OWN])
    assert zipfile.ZipFile(io.BytesIO(content)).namelist() == [OWN.decode()]  # zipfile is fooled
    refused(client_a, content, "heeft in het ZIP-bestand zelf een andere naam („MSD_WMO-BASIS_0518")


def test_local_name_with_a_path_is_refused(client_a: Client):
    refused(
        client_a,
        archive([(b"../x.csv", csv_bytes())], central_names=[OWN]),
        "heeft in het ZIP-bestand zelf een andere naam („../x.csv”)",
    )


def test_central_directory_without_local_headers_or_data_is_refused(client_a: Client):
    directory = central_header(OWN, csv_bytes(), 0)
    refused(
        client_a,
        directory + end_record(1, len(directory), 0),
        "de bestanden uit de inhoudsopgave ontbreken",
    )


def test_central_directory_pointing_past_its_data_is_refused(client_a: Client):
    data = csv_bytes()
    body = local_header(OWN, data)  # the header, but not the data
    directory = central_header(OWN, data, 0)
    refused(
        client_a,
        body + directory + end_record(1, len(directory), len(body)),
        "geeft voor „MSD_WMO-BASIS_0363_2026HJ01.csv” een grootte op die niet kan kloppen",
    )


def test_html_before_the_first_local_header_is_refused(client_a: Client):
    html = b"<html><body><script>alert(1)</script></body></html>\n"
    refused(
        client_a,
        archive([(OWN, csv_bytes())], prefix=html),
        "er staan gegevens vóór het eerste bestand",
    )
    # zipfile corrects for prepended bytes itself; we do not.
    refused(
        client_a,
        html + zip_bytes({OWN.decode(): csv_bytes()}),
        "er staan gegevens vóór het eerste bestand",
    )


def test_bytes_between_the_last_entry_and_the_directory_are_refused(client_a: Client):
    data = csv_bytes()
    body = local_header(OWN, data) + data + b"<verstopt>"
    directory = central_header(OWN, data, 0)
    refused(
        client_a,
        body + directory + end_record(1, len(directory), len(body)),
        "er staan onverklaarde gegevens vóór de inhoudsopgave",
    )


def test_bytes_after_the_end_record_are_refused(client_a: Client):
    refused(
        client_a,
        archive([(OWN, csv_bytes())]) + b"extra",
        "het einde van de inhoudsopgave ontbreekt",
    )


def test_nul_in_a_name_is_refused(client_a: Client):
    name = f"MSD_WMO-BASIS_0363_{CURRENT}\x00.csv".encode()
    refused(
        client_a,
        archive([(name, csv_bytes())]),
        f"bevat een bestandsnaam met een onzichtbaar teken (MSD_WMO-BASIS_0363_{CURRENT}\\x00.csv)",
    )


def test_control_character_and_absolute_path_and_backslash_are_refused(client_a: Client):
    tab = f"MSD_WMO-BASIS_0363_{CURRENT}\t.csv".encode()
    refused(client_a, archive([(tab, csv_bytes())]), "onzichtbaar teken")
    refused(
        client_a,
        archive([(b"/etc/" + OWN, csv_bytes())]),
        "bevat een bestandsnaam met een pad (/etc/MSD_WMO-BASIS_0363",
    )
    refused(client_a, archive([(b"..\\" + OWN, csv_bytes())]), "bevat een bestandsnaam met een pad")
    refused(client_a, archive([(b"C:" + OWN, csv_bytes())]), "bevat een bestandsnaam met een pad")
    refused(client_a, archive([(b"map\\" + OWN, csv_bytes())]), "bevat een map (map\\MSD_WMO")


@pytest.mark.parametrize("declared", [2**63, 2**64 - 1])
def test_zip64_size_beyond_the_archive_is_refused_in_dutch(client_a: Client, declared: int):
    data = csv_bytes()
    extra = struct.pack("<HHQQ", 1, 16, declared, declared)
    body = local_header(OWN, data, size=U32, extra=extra) + data
    directory = central_header(OWN, data, 0, size=U32, extra=extra)
    content = body + directory + end_record(1, len(directory), len(body))
    refused(client_a, content, "een grootte op die niet kan kloppen")
    page = upload(client_a, zip_file("a.zip", content=content)).content.decode()
    assert not re.search(r"\d\s*PB\b", page)  # no "8192,0 PB" (a CSRF token may hold "PB")


def test_zip64_extra_field_shorter_than_declared_is_refused(client_a: Client):
    data = csv_bytes()
    extra = struct.pack("<HHI", 1, 4, 7)  # says 4 bytes, one 8-byte size is needed
    body = local_header(OWN, data) + data
    directory = central_header(OWN, data, 0, size=U32, extra=extra)
    refused(
        client_a,
        body + directory + end_record(1, len(directory), len(body)),
        "de ZIP64-gegevens van een bestand ontbreken",
    )


def test_two_central_directories_with_a_zip64_locator_pointing_elsewhere(client_a: Client):
    """CVE-2025-8291: 3.13.0's zipfile reads the record before the locator, unzip the other."""
    own, other = csv_bytes(), csv_bytes(5)
    body = bytearray(local_header(OWN, own) + own)
    second = len(body)
    body += local_header(OTHER, other) + other
    dir_a = central_header(OTHER, other, second)
    a_offset = len(body)
    zip64_a = len(body) + len(dir_a)
    tail = dir_a + zip64_end(1, len(dir_a), a_offset)
    dir_b = central_header(OWN, own, 0)
    b_offset = len(body) + len(tail)
    tail += dir_b + zip64_end(1, len(dir_b), b_offset)
    tail += zip64_locator(zip64_a) + end_record(0xFFFF, U32, U32)
    content = bytes(body + tail)
    refused(client_a, content, "de ZIP64-verwijzing wijst naar een andere inhoudsopgave")


def test_two_end_records_are_refused(client_a: Client):
    inner = archive([(OWN, csv_bytes())])
    # The comment holds a second, complete end record: two readers, two archives.
    end = inner[-22:]
    cd_size, cd_offset = struct.unpack_from("<II", end, 12)
    content = inner[:-22] + end_record(1, cd_size, cd_offset, comment=end)
    refused(client_a, content, "er staat meer dan één einde van een inhoudsopgave in")
    # Two archives one after the other: the first one's bytes are unexplained.
    second = archive([(OWN, csv_bytes())], prefix=archive([(OTHER, csv_bytes())]))
    refused(client_a, second, "er staan gegevens vóór het eerste bestand")


def three_million_declared() -> bytes:
    data = csv_bytes()
    body = local_header(OWN, data) + data
    directory = central_header(OWN, data, 0)
    zip64_at = len(body) + len(directory)
    return (
        body
        + directory
        + zip64_end(3_000_000, len(directory), len(body))
        + zip64_locator(zip64_at)
        + end_record(0xFFFF, U32, U32)
    )


def test_three_million_declared_entries_are_refused_on_the_end_record(client_a: Client):
    refused(
        client_a,
        three_million_declared(),
        "bevat 3000000 bestanden; het maximum is 100",
    )


def test_three_million_declared_entries_cost_milliseconds_and_no_memory():
    content = three_million_declared()
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(Exception, match="3000000 bestanden"):
        list_csv_entries(io.BytesIO(content), "groot.zip")
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.05
    assert peak < 200_000  # the tail of the file, not the directory


def test_a_directory_too_small_for_its_declared_entries_is_refused(client_a: Client):
    data = csv_bytes()
    body = local_header(OWN, data) + data
    directory = central_header(OWN, data, 0)
    refused(
        client_a,
        body + directory + end_record(50, len(directory), len(body)),
        "de inhoudsopgave past niet bij het aantal bestanden",
    )


def test_the_entry_limit_is_a_setting(client_a: Client, settings):
    many = {f"MSD_WMO-BASIS_0363_{CURRENT}_{i}.csv": b"x" for i in range(101)}
    refused(client_a, zip_bytes(many), "bevat 101 bestanden; het maximum is 100")
    settings.MSD_ZIP_MAX_ENTRIES = 2
    three = {f"MSD_WMO-BASIS_0363_{CURRENT}_{i}.csv": b"x" for i in range(3)}
    refused(client_a, zip_bytes(three), "bevat 3 bestanden; het maximum is 2")


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek in, so it writes data descriptors."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)


def test_ordinary_zips_from_zipfile_still_pass(client_a: Client):
    plain = zip_bytes({OWN.decode(): csv_bytes()})

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive_:
        archive_.writestr(OWN.decode(), csv_bytes(300))
    descriptors = bytes(stream.buffer)
    assert struct.unpack_from("<H", descriptors, 6)[0] & 0x8  # really a data descriptor

    forced, stream64 = io.BytesIO(), Unseekable()
    for target in (forced, stream64):
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive_:
            archive_.writestr(OWN.decode(), b"")  # keeps the next entry off offset 0
            with archive_.open(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv", "w", force_zip64=True) as e:
                e.write(csv_bytes(300))

    for content in (plain, descriptors, forced.getvalue(), bytes(stream64.buffer)):
        (delivery,) = upload_and_confirm(client_a, zip_file("aanlevering.zip", content=content))
        assert delivery.files.order_by("position").first().file_name == OWN.decode()
        assert delivery.size == len(content)
    assert Delivery.objects.count() == 4
