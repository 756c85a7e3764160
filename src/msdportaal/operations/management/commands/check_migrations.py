"""``manage.py check_migrations``: are the migrations since the previous release rolling-safe?

The previous release is ``docs/release-migrations.json`` (``operations/upgrades.py`` has
the rules). Exit code 1 when a new migration breaks a rule and is not ``reviewed`` there.
``make lint`` and CI run it, after ``makemigrations --check``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from msdportaal.operations.upgrades import check, load_release


class Command(BaseCommand):
    help = "Controleert of de migraties sinds de vorige release een rolling upgrade toelaten."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        release = load_release()
        findings = check(release)
        unreviewed = [f for f in findings if not f.reviewed]
        for finding in findings:
            status = "beoordeeld" if finding.reviewed else "NIET IN ORDE"
            self.stdout.write(f"{status}: {finding.migration}")
            for problem in finding.problems:
                self.stdout.write(f"  - {problem}")
            if finding.reviewed:
                self.stdout.write(f"  reden: {finding.reviewed}")
        if unreviewed:
            raise CommandError(
                f"{len(unreviewed)} migratie(s) sinds {release.name} zijn niet veilig voor een "
                "rolling upgrade: pas ze aan, of leg in docs/release-migrations.json onder "
                "'reviewed' uit waarom het toch kan (docs/operations.md, Upgrades)."
            )
        reviewed = f" ({len(findings)} beoordeeld: lees de redenen)" if findings else ""
        self.stdout.write(
            f"Migraties sinds {release.name}: niets dat een rolling upgrade breekt zonder "
            f"beoordeling{reviewed}."
        )
