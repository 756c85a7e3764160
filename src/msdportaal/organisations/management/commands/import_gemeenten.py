import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from msdportaal.organisations.services import GEMEENTEN_CSV, GemeentenFileError, import_gemeenten


class Command(BaseCommand):
    help = (
        "Werkt de gemeentelijst bij uit een CBS-bestand (gemeentecode;naam;provincie). "
        "Gemeenten die niet meer in de lijst staan worden inactief, nooit verwijderd."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, default=GEMEENTEN_CSV)
        parser.add_argument(
            "--inactive-from",
            type=datetime.date.fromisoformat,
            default=None,
            help="Datum (JJJJ-MM-DD) vanaf wanneer verdwenen gemeenten inactief zijn "
            "(standaard: vandaag).",
        )

    def handle(
        self, *args: Any, path: Path, inactive_from: datetime.date | None, **options: Any
    ) -> None:
        if not path.is_file():
            raise CommandError(f"Bestand niet gevonden: {path}")
        try:
            result = import_gemeenten(path, inactive_from=inactive_from)
        except GemeentenFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{len(result.created)} nieuw, {len(result.updated)} gewijzigd, "
            f"{len(result.deactivated)} inactief gemaakt, {len(result.reactivated)} weer actief."
        )
        for code in result.deactivated:
            self.stdout.write(f"  inactief: GM{code}")
