"""Reading a ZIP's headers — never its contents (DESIGN.md §3.1, docs/security.md "ZIP-bestanden").

IB does not look inside municipal files, and nothing is ever extracted or decompressed.
We read the archive's structure ourselves, without :mod:`zipfile` (whose choice of central
directory differs between Python releases, CVE-2025-8291), and accept only an archive that
every unzipper must read the same way: one end record, one central directory, each entry's
local header saying exactly what the central directory says, and every byte of the file
accounted for (local entries from offset 0, then the directory, then the end records).
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from .naming import NameRefused

EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record
ZIP64_LOCATOR = struct.Struct("<4sIQI")
ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
LOCAL = struct.Struct("<4sHHHHHIIIHH")
EOCD_SIG, LOCATOR_SIG, ZIP64_SIG = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
CENTRAL_SIG, LOCAL_SIG, DESCRIPTOR_SIG = b"PK\x01\x02", b"PK\x03\x04", b"PK\x07\x08"
MAX_COMMENT = 0xFFFF
U16, U32 = 0xFFFF, 0xFFFFFFFF
# Flag bits: 0 encrypted, 6 strong encryption, 13 encrypted central directory.
ENCRYPTED = 0x1 | 0x40 | 0x2000
DATA_DESCRIPTOR = 0x8
UTF8 = 0x800
STORED, DEFLATED = 0, 8
# Deflate cannot compress better than about 1032:1; a larger declared size is a lie.
DEFLATE_MAX_RATIO = 1032
UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP's "use this name instead": a second name we refuse


def max_entries() -> int:
    return int(settings.MSD_ZIP_MAX_ENTRIES)


@dataclass(frozen=True)
class ArchiveEntry:
    position: int  # 1-based, in central-directory order
    name: str
    size: int  # as declared (uncompressed), checked to be plausible


@dataclass(frozen=True)
class _Central:
    position: int
    raw_name: bytes
    name: str
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    mode: int


class _Broken(Exception):
    """The archive's structure is not what one unambiguous ZIP looks like."""


def _invalid(archive_name: str, reason: str) -> NameRefused:
    return NameRefused(
        _(
            "„%(name)s” is geen geldig ZIP-bestand of is beschadigd: %(reason)s. Maak het "
            "ZIP-bestand opnieuw met een gewoon ZIP-programma en lever het nog eens aan."
        )
        % {"name": archive_name, "reason": reason}
    )


def _read_at(fileobj: BinaryIO, offset: int, size: int) -> bytes:
    fileobj.seek(offset)
    data = fileobj.read(size)
    if len(data) != size:
        raise _Broken(_("het bestand houdt te vroeg op"))
    return data


def _extras(extra: bytes) -> dict[int, bytes]:
    """An extra field's blocks by id; a block running past the field is a broken archive."""
    blocks: dict[int, bytes] = {}
    pos = 0
    while pos < len(extra):
        if pos + 4 > len(extra):
            raise _Broken(_("een extra veld is afgebroken"))
        block_id, length = struct.unpack_from("<HH", extra, pos)
        if pos + 4 + length > len(extra):
            raise _Broken(_("een extra veld is langer dan de ruimte ervoor"))
        if block_id in blocks:
            raise _Broken(_("een extra veld komt twee keer voor"))
        blocks[block_id] = extra[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return blocks


def _zip64_values(blocks: dict[int, bytes], wanted: list[bool]) -> list[int]:
    """The ZIP64 extra's 8-byte values for the fields whose header value is the marker."""
    count = sum(wanted)
    if not count:
        return []
    data = blocks.get(0x0001)
    if data is None or len(data) < 8 * count:
        raise _Broken(_("de ZIP64-gegevens van een bestand ontbreken"))
    return list(struct.unpack_from(f"<{count}Q", data))


def _decode(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & UTF8 else "cp437", errors="strict")


def _find_end(fileobj: BinaryIO, file_size: int) -> tuple[int, int, int, int]:
    """Where the central directory starts and ends, its entry count, and where it must end.

    Returns (count, cd_offset, cd_size, cd_end). Everything is checked against the file's
    own size before a single entry is read.
    """
    if file_size < EOCD.size:
        raise _Broken(_("het is te kort voor een ZIP-bestand"))
    tail_start = max(0, file_size - EOCD.size - MAX_COMMENT)
    tail = _read_at(fileobj, tail_start, file_size - tail_start)
    candidates = []
    pos = tail.find(EOCD_SIG)
    while pos != -1:
        if pos + EOCD.size <= len(tail):
            comment = struct.unpack_from("<H", tail, pos + 20)[0]
            if pos + EOCD.size + comment == len(tail):
                candidates.append(pos)
        pos = tail.find(EOCD_SIG, pos + 1)
    if not candidates:
        raise _Broken(_("het einde van de inhoudsopgave ontbreekt"))
    if len(candidates) > 1 or EOCD_SIG in tail[candidates[-1] + EOCD.size :]:
        raise _Broken(_("er staat meer dan één einde van een inhoudsopgave in"))
    eocd_pos = tail_start + candidates[0]
    _sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, _comment = EOCD.unpack_from(
        tail, candidates[0]
    )
    if disk or cd_disk or on_disk != count:
        raise _Broken(_("het is verdeeld over meerdere delen"))
    cd_end = eocd_pos
    locator_pos = eocd_pos - ZIP64_LOCATOR.size
    if locator_pos >= 0 and _read_at(fileobj, locator_pos, 4) == LOCATOR_SIG:
        _sig, zip64_disk, zip64_pos, disks = ZIP64_LOCATOR.unpack(
            _read_at(fileobj, locator_pos, ZIP64_LOCATOR.size)
        )
        # The ZIP64 record must lie right before its locator, without extensible data:
        # readers that follow the locator and readers that look just before it then agree.
        if zip64_disk or disks != 1 or zip64_pos != locator_pos - ZIP64_EOCD.size:
            raise _Broken(_("de ZIP64-verwijzing wijst naar een andere inhoudsopgave"))
        (
            sig,
            record_size,
            _made,
            _needed,
            disk64,
            cd_disk64,
            on_disk64,
            count64,
            cd_size64,
            cd_offset64,
        ) = ZIP64_EOCD.unpack(_read_at(fileobj, zip64_pos, ZIP64_EOCD.size))
        if sig != ZIP64_SIG or record_size != ZIP64_EOCD.size - 12:
            raise _Broken(_("de ZIP64-verwijzing wijst naar een andere inhoudsopgave"))
        if disk64 or cd_disk64 or on_disk64 != count64:
            raise _Broken(_("het is verdeeld over meerdere delen"))
        for plain, wide, marker in (
            (count, count64, U16),
            (cd_size, cd_size64, U32),
            (cd_offset, cd_offset64, U32),
        ):
            if plain not in (wide, marker):
                raise _Broken(_("de ZIP64-gegevens en het einde van de inhoudsopgave verschillen"))
        count, cd_size, cd_offset, cd_end = count64, cd_size64, cd_offset64, zip64_pos
    return count, cd_offset, cd_size, cd_end


def _check_name(archive_name: str, name: str) -> None:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” bevat een bestandsnaam met een onzichtbaar teken "
                "(%(entry)s). Geef het CSV-bestand een naam volgens de naamconventie, zonder "
                "zulke tekens, en maak het ZIP-bestand opnieuw."
            )
            % {"name": archive_name, "entry": name.encode("unicode_escape").decode("ascii")}
        )
    parts = name.replace("\\", "/").split("/")
    if ".." in parts or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” bevat een bestandsnaam met een pad (%(entry)s). "
                "Zet alle CSV-bestanden direct in het ZIP-bestand, zonder mappen of paden."
            )
            % {"name": archive_name, "entry": name}
        )
    if "/" in name or "\\" in name:
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” bevat een map (%(entry)s). Zet alle CSV-bestanden "
                "direct in het ZIP-bestand, zonder mappen."
            )
            % {"name": archive_name, "entry": name}
        )


def _refuse_encrypted(archive_name: str, flags: int) -> None:
    if flags & ENCRYPTED:
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” is versleuteld (met een wachtwoord beveiligd). "
                "Lever het aan zonder wachtwoord."
            )
            % {"name": archive_name}
        )


def _implausible(archive_name: str, entry: str) -> NameRefused:
    return NameRefused(
        _(
            "Het ZIP-bestand „%(name)s” geeft voor „%(entry)s” een grootte op die niet kan "
            "kloppen: zo veel past niet in dit ZIP-bestand. Maak het ZIP-bestand opnieuw met "
            "een gewoon ZIP-programma en lever het nog eens aan."
        )
        % {"name": archive_name, "entry": entry}
    )


def _read_central(
    fileobj: BinaryIO, archive_name: str, count: int, cd_offset: int, cd_size: int
) -> list[_Central]:
    directory = _read_at(fileobj, cd_offset, cd_size)
    entries = []
    pos = 0
    for position in range(1, count + 1):
        if pos + CENTRAL.size > len(directory):
            raise _Broken(_("de inhoudsopgave is korter dan opgegeven"))
        (
            sig,
            _made,
            _needed,
            flags,
            method,
            _time,
            _date,
            crc,
            compressed,
            size,
            name_len,
            extra_len,
            comment_len,
            disk,
            _internal,
            external,
            offset,
        ) = CENTRAL.unpack_from(directory, pos)
        if sig != CENTRAL_SIG:
            raise _Broken(_("de inhoudsopgave is beschadigd"))
        end = pos + CENTRAL.size + name_len + extra_len + comment_len
        if end > len(directory):
            raise _Broken(_("de inhoudsopgave is korter dan opgegeven"))
        raw_name = directory[pos + CENTRAL.size : pos + CENTRAL.size + name_len]
        extra = directory[pos + CENTRAL.size + name_len : pos + CENTRAL.size + name_len + extra_len]
        pos = end
        _refuse_encrypted(archive_name, flags)
        try:
            name = _decode(raw_name, flags)
        except UnicodeDecodeError as exc:
            raise _Broken(_("een bestandsnaam is geen geldige tekst")) from exc
        _check_name(archive_name, name)
        blocks = _extras(extra)
        if UNICODE_PATH_EXTRA in blocks:
            raise _Broken(_("bestand „%(entry)s” heeft een tweede naam") % {"entry": name})
        wide = _zip64_values(blocks, [size == U32, compressed == U32, offset == U32, disk == U16])
        values = iter(wide)
        size = next(values) if size == U32 else size
        compressed = next(values) if compressed == U32 else compressed
        offset = next(values) if offset == U32 else offset
        disk = next(values) if disk == U16 else disk
        if disk:
            raise _Broken(_("het is verdeeld over meerdere delen"))
        # Sizes bounded by the archive itself: the data must fit before the directory, and
        # the uncompressed size must be reachable from it.
        if compressed > cd_offset or offset > cd_offset:
            raise _implausible(archive_name, name)
        if method == STORED and size != compressed:
            raise _implausible(archive_name, name)
        if method == DEFLATED and size > compressed * DEFLATE_MAX_RATIO + 64:
            raise _implausible(archive_name, name)
        if method not in (STORED, DEFLATED):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” is gemaakt met een compressiemethode die wij "
                    "niet doorsturen. Maak het opnieuw als gewoon ZIP-bestand (Deflate, de "
                    "standaard van Windows, macOS en 7-Zip) en lever het nog eens aan."
                )
                % {"name": archive_name}
            )
        entries.append(
            _Central(
                position,
                raw_name,
                name,
                flags,
                method,
                crc,
                compressed,
                size,
                offset,
                external >> 16,
            )
        )
    if pos != len(directory):
        raise _Broken(_("er staat meer in de inhoudsopgave dan de opgegeven bestanden"))
    return entries


def _check_local(fileobj: BinaryIO, entry: _Central) -> int:
    """Compare the entry's local header with the central directory; where its data ends."""
    (sig, _needed, flags, method, _time, _date, crc, compressed, size, name_len, extra_len) = (
        LOCAL.unpack(_read_at(fileobj, entry.offset, LOCAL.size))
    )
    if sig != LOCAL_SIG:
        raise _Broken(
            _("bestand %(n)d uit de inhoudsopgave staat niet in het ZIP-bestand")
            % {"n": entry.position}
        )
    raw_name = _read_at(fileobj, entry.offset + LOCAL.size, name_len)
    if raw_name != entry.raw_name:
        raise _Broken(
            _("bestand „%(entry)s” heeft in het ZIP-bestand zelf een andere naam („%(local)s”)")
            % {
                "entry": entry.name,
                "local": raw_name.decode("utf-8", "replace").encode("unicode_escape").decode(),
            }
        )
    if flags != entry.flags or method != entry.method:
        raise _Broken(
            _("de kopregels van bestand „%(entry)s” spreken elkaar tegen") % {"entry": entry.name}
        )
    blocks = _extras(_read_at(fileobj, entry.offset + LOCAL.size + name_len, extra_len))
    if UNICODE_PATH_EXTRA in blocks:
        raise _Broken(_("bestand „%(entry)s” heeft een tweede naam") % {"entry": entry.name})
    zip64 = 0x0001 in blocks
    values = iter(_zip64_values(blocks, [size == U32, compressed == U32]))
    size = next(values) if size == U32 else size
    compressed = next(values) if compressed == U32 else compressed
    data_start = entry.offset + LOCAL.size + name_len + extra_len
    data_end = data_start + entry.compressed
    if flags & DATA_DESCRIPTOR:
        if method == STORED:
            # A streaming unzipper cannot find the end of stored data without its size.
            raise _Broken(
                _("bestand „%(entry)s” is niet gecomprimeerd en zijn grootte staat er niet bij")
                % {"entry": entry.name}
            )
        width = 8 if zip64 else 4
        head = _read_at(fileobj, data_end, 4)
        start = data_end + 4 if head == DESCRIPTOR_SIG else data_end
        descriptor = _read_at(fileobj, start, 4 + 2 * width)
        d_crc, d_compressed, d_size = struct.unpack("<IQQ" if width == 8 else "<III", descriptor)
        if (d_crc, d_compressed, d_size) != (entry.crc, entry.compressed, entry.size):
            raise _Broken(
                _("de kopregels van bestand „%(entry)s” spreken elkaar tegen")
                % {"entry": entry.name}
            )
        return start + len(descriptor)
    if (crc, compressed, size) != (entry.crc, entry.compressed, entry.size):
        raise _Broken(
            _("de kopregels van bestand „%(entry)s” spreken elkaar tegen") % {"entry": entry.name}
        )
    return data_end


def _entries(fileobj: BinaryIO, archive_name: str) -> list[_Central]:
    fileobj.seek(0, 2)
    file_size = fileobj.tell()
    count, cd_offset, cd_size, cd_end = _find_end(fileobj, file_size)
    if count == 0:
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” is leeg. Zet de CSV-bestanden erin en lever het "
                "opnieuw aan, of lever de CSV-bestanden los aan."
            )
            % {"name": archive_name}
        )
    limit = max_entries()
    if count > limit:
        raise NameRefused(
            _(
                "Het ZIP-bestand „%(name)s” bevat %(n)d bestanden; het maximum is %(max)d. "
                "Verdeel de bestanden over meer ZIP-bestanden."
            )
            % {"name": archive_name, "n": count, "max": limit}
        )
    # Before reading a single entry: the directory must fill exactly the space before the
    # end records, and that space must fit the declared entries.
    if cd_offset + cd_size < cd_end:
        raise _Broken(_("er staan gegevens vóór het eerste bestand of vóór de inhoudsopgave"))
    if cd_offset + cd_size != cd_end:
        raise _Broken(_("er staat meer dan één inhoudsopgave in, of de inhoudsopgave ontbreekt"))
    if not CENTRAL.size * count <= cd_size <= count * (CENTRAL.size + 3 * U16):
        raise _Broken(_("de inhoudsopgave past niet bij het aantal bestanden"))
    if cd_offset < LOCAL.size * count:
        raise _Broken(_("de bestanden uit de inhoudsopgave ontbreken"))
    entries = _read_central(fileobj, archive_name, count, cd_offset, cd_size)
    # Every byte from 0 to the directory belongs to exactly one entry, in offset order.
    expected = 0
    for entry in sorted(entries, key=lambda e: e.offset):
        if entry.offset != expected:
            raise _Broken(
                _("er staan gegevens vóór het eerste bestand")
                if expected == 0
                else _("er staan onverklaarde gegevens tussen de bestanden")
            )
        expected = _check_local(fileobj, entry)
        if expected > cd_offset:
            raise _implausible(archive_name, entry.name)
    if expected != cd_offset:
        raise _Broken(_("er staan onverklaarde gegevens vóór de inhoudsopgave"))
    return entries


def list_csv_entries(fileobj: BinaryIO, archive_name: str) -> list[ArchiveEntry]:
    """The archive's entries, or :class:`NameRefused` when it is not a plain ZIP of CSVs."""
    try:
        centrals = _entries(fileobj, archive_name)
    except _Broken as exc:
        raise _invalid(archive_name, str(exc)) from exc
    except (OSError, ValueError, struct.error) as exc:
        raise _invalid(archive_name, _("het kan niet worden gelezen")) from exc
    finally:
        fileobj.seek(0)
    entries = []
    for central in centrals:
        if stat.S_ISDIR(central.mode):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat een map (%(entry)s). Zet alle CSV-bestanden "
                    "direct in het ZIP-bestand, zonder mappen."
                )
                % {"name": archive_name, "entry": central.name}
            )
        if stat.S_ISLNK(central.mode):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat een snelkoppeling (%(entry)s); alleen "
                    "CSV-bestanden zijn toegestaan."
                )
                % {"name": archive_name, "entry": central.name}
            )
        if not central.name.lower().endswith(".csv"):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat „%(entry)s”, en dat is geen CSV-bestand. "
                    "Een ZIP-bestand mag alleen CSV-bestanden bevatten."
                )
                % {"name": archive_name, "entry": central.name}
            )
        entries.append(ArchiveEntry(central.position, central.name, central.size))
    names = [e.name.lower() for e in entries]
    if len(set(names)) != len(names):
        raise NameRefused(
            _("Het ZIP-bestand „%(name)s” bevat hetzelfde bestand twee keer.")
            % {"name": archive_name}
        )
    return entries
