"""``manage.py release_migrations``: the migration leaves of this code, for the release file.

Without options: prints the leaf migration of every app. ``--write``: records them in
``docs/release-migrations.json`` as the previous release (at release time, after tagging;
keeps ``big_tables``, clears ``reviewed``). ``--migrate-to-release`` (with ``--seed``):
brings the configured, empty database to the recorded release's schema (and fills every
table of the portal with rows), the start of the upgrade test.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from msdportaal.operations.upgrades import (
    RELEASE_FILE,
    current_leaves,
    load_release,
    migrate_to,
    seed,
)


class Command(BaseCommand):
    help = "Toont of bewaart de laatste migratie per app (de stand van een release)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", metavar="RELEASE", help="als vorige release vastleggen")
        parser.add_argument("--migrate-to-release", action="store_true")
        parser.add_argument("--seed", action="store_true", help="met --migrate-to-release")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["migrate_to_release"]:
            release = load_release()
            migrate_to(release.leaves)
            self.stdout.write(f"Database op het schema van {release.name}.")
            if options["seed"]:
                executor = MigrationExecutor(connection)
                state = executor.loader.project_state(list(release.leaves.items()))
                counts = seed(state.apps)
                self.stdout.write(json.dumps(counts, sort_keys=True))
            return
        leaves = current_leaves()
        if options["write"]:
            data = json.loads(RELEASE_FILE.read_text()) if RELEASE_FILE.exists() else {}
            data.update(release=options["write"], leaves=leaves, reviewed={})
            RELEASE_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"{RELEASE_FILE} bijgewerkt: {len(leaves)} apps.")
            return
        self.stdout.write(json.dumps(leaves, indent=2))
