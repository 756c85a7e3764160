"""Reading a ZIP's central directory — never its contents (DESIGN.md §3.1).

IB does not look inside municipal files, and nothing is ever extracted: we only read
the list of entries the archive declares, which is enough to know every CSV's name.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.translation import gettext as _

from .naming import NameRefused

MAX_ENTRIES = 100


@dataclass(frozen=True)
class ArchiveEntry:
    position: int  # 1-based, in central-directory order
    name: str
    size: int  # as declared (uncompressed)


def list_csv_entries(fileobj: BinaryIO, archive_name: str) -> list[ArchiveEntry]:
    """The archive's entries, or :class:`NameRefused` when it is not a plain ZIP of CSVs."""
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise NameRefused(
            _(
                "„%(name)s” is geen geldig ZIP-bestand of is beschadigd. Maak het ZIP-bestand "
                "opnieuw en lever het nog eens aan."
            )
            % {"name": archive_name}
        ) from exc
    if not infos:
        raise NameRefused(_("Het ZIP-bestand „%(name)s” is leeg.") % {"name": archive_name})
    if len(infos) > MAX_ENTRIES:
        raise NameRefused(
            _("Het ZIP-bestand „%(name)s” bevat %(n)d bestanden; het maximum is %(max)d.")
            % {"name": archive_name, "n": len(infos), "max": MAX_ENTRIES}
        )
    entries = []
    for position, info in enumerate(infos, start=1):
        if info.flag_bits & 0x1:
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” is versleuteld (met een wachtwoord beveiligd). "
                    "Lever het aan zonder wachtwoord."
                )
                % {"name": archive_name}
            )
        mode = info.external_attr >> 16
        if info.is_dir() or "/" in info.filename or "\\" in info.filename:
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat een map (%(entry)s). Zet alle CSV-bestanden "
                    "direct in het ZIP-bestand, zonder mappen."
                )
                % {"name": archive_name, "entry": info.filename}
            )
        if stat.S_ISLNK(mode):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat een snelkoppeling (%(entry)s); alleen "
                    "CSV-bestanden zijn toegestaan."
                )
                % {"name": archive_name, "entry": info.filename}
            )
        if not info.filename.lower().endswith(".csv"):
            raise NameRefused(
                _(
                    "Het ZIP-bestand „%(name)s” bevat „%(entry)s”, en dat is geen CSV-bestand. "
                    "Een ZIP-bestand mag alleen CSV-bestanden bevatten."
                )
                % {"name": archive_name, "entry": info.filename}
            )
        entries.append(ArchiveEntry(position, info.filename, info.file_size))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise NameRefused(
            _("Het ZIP-bestand „%(name)s” bevat hetzelfde bestand twee keer.")
            % {"name": archive_name}
        )
    return entries
