"""``manage.py private_files``: the admin's certificates and keys in the privates storage.

- ``list``: every file a certificate (or another private-media field) points to, and
  whether the privates storage has it.
- ``import DIR``: after switching to object storage (``MSD_S3_BUCKET``), copies the files
  the database points to from the old local folder (``<MSD_VAR_DIR>/private-media`` of the
  node that stored them) into the privates storage, encrypted, under the same names.
  Files the storage already has are left alone, so it can be run again.
- ``rotate``: re-encrypts every stored file with the first key of
  ``MSD_PRIVATE_KEY_ENCRYPTION_KEY`` (put the new key first, keep the old one behind it
  until this has run, then remove it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser
from privates.storages import private_media_storage

from msdportaal.core.private_storage import EncryptedPrivateStorage, referenced_names


class Command(BaseCommand):
    help = "Certificaten en sleutels van het certificaatbeheer: tonen, importeren, hersleutelen."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="wat de database noemt, en of de opslag het heeft")
        importing = sub.add_parser("import", help="uit de oude lokale map naar de opslag")
        importing.add_argument("directory", type=Path)
        sub.add_parser("rotate", help="alles opnieuw versleutelen met de eerste sleutel")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "import":
            self._import(options["directory"])
        else:
            self._rotate()

    def _list(self) -> None:
        missing = 0
        for label, name in referenced_names():
            present = private_media_storage.exists(name)
            missing += not present
            self.stdout.write(f"{'aanwezig' if present else 'ONTBREEKT'}  {label}  {name}")
        if missing:
            raise CommandError(f"{missing} bestand(en) ontbreken in de opslag.")

    def _import(self, directory: Path) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is geen map.")
        copied = present = 0
        not_found: list[str] = []
        for _label, name in referenced_names():
            if private_media_storage.exists(name):
                present += 1
                continue
            source = (directory / name).resolve()
            if directory.resolve() not in source.parents or not source.is_file():
                not_found.append(name)
                continue
            saved = private_media_storage.save(name, ContentFile(source.read_bytes()))
            if saved != name:
                raise CommandError(f"{name} is opgeslagen als {saved}; controleer de opslag.")
            copied += 1
        self.stdout.write(f"{copied} gekopieerd, {present} waren er al.")
        if not_found:
            raise CommandError(
                f"{len(not_found)} niet gevonden in {directory}: {', '.join(not_found[:10])}"
            )

    def _rotate(self) -> None:
        storage = storages["privates"]
        if not isinstance(storage, EncryptedPrivateStorage):
            raise CommandError(
                "De privates-opslag is niet versleuteld (alleen met MSD_S3_BUCKET); "
                "er valt niets te hersleutelen."
            )
        count = 0
        for _label, name in referenced_names():
            if storage.exists(name):
                storage.rotate(name)
                count += 1
        self.stdout.write(f"{count} bestand(en) opnieuw versleuteld met de eerste sleutel.")
