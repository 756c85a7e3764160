"""Rolling upgrades: the migrations since the previous release (docs/release-migrations.json)
apply to a database at that release's schema with data in every table, and the rules that
keep the previous release working while they run (``operations/upgrades.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader

from msdportaal.operations.upgrades import (
    current_leaves,
    load_release,
    new_migrations,
    operation_problems,
)

REPO = Path(__file__).resolve().parents[4]
RELEASE = load_release()


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def fresh_database(tmp_path: Path) -> Any:
    """An empty database of the suite's kind: a SQLite file, or a new PostgreSQL database."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"
        return
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"{connection.settings_dict['NAME']}_upgrade"[:63]
    admin = urlunsplit(url._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(url._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrations_apply_to_the_previous_release_with_data_in_every_table(
    fresh_database: str, tmp_path: Path
):
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database,
        "MSD_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(REPO / "src"),
    }
    output = manage(env, "release_migrations", "--migrate-to-release", "--seed")
    seeded = json.loads(output.strip().splitlines()[-1])
    assert seeded["deliveries.Delivery"] == 3
    assert seeded["transport.OutboundMessage"] == 3
    assert seeded["audit.AuditEntry"] == 3

    applied = manage(env, "migrate", "--no-input")
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app_label, name in new_migrations(loader, RELEASE):
        assert f"Applying {app_label}.{name}... OK" in applied

    # Every seeded row is still there, and the audit chain still holds.
    checked = manage(
        env,
        "shell",
        "-c",
        "import json; from django.apps import apps; from django.core.management import "
        "call_command; call_command('verify_audit_trail'); "
        "print(json.dumps({m._meta.label: m._default_manager.count() for m in apps.get_models()}))",
    )
    after = json.loads(checked.strip().splitlines()[-1])
    # Rows survive, except where a (reviewed) data migration removes some on purpose
    # (notifications.0004 drops unsent e-mails of the old path): there, some must be left.
    reshaped = {
        app_label
        for app_label, name in new_migrations(loader, RELEASE)
        if any(
            isinstance(operation, ops.RunPython | ops.RunSQL)
            for operation in loader.graph.nodes[app_label, name].operations
        )
    }
    for label, count in seeded.items():
        if label.split(".")[0] in reshaped:
            assert 0 < after[label] <= count, label
        else:
            assert after[label] == count, label
    assert "Audittrail in orde: 3 regel(s)" in checked


def test_the_release_file_names_a_state_of_this_code(capsys):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert set(RELEASE.leaves) <= set(current_leaves(loader))
    assert new_migrations(loader, RELEASE)  # something to upgrade across, for the test above
    # What `make lint` runs: nothing new breaks a rule without a reviewed reason.
    call_command("check_migrations")
    assert "niets dat een rolling upgrade breekt" in capsys.readouterr().out


def _problems(operation: Any, app_label: str = "deliveries") -> list[str]:
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    return operation_problems(operation, app_label, state, RELEASE.big_tables)


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        (ops.RemoveField("delivery", "size"), "the previous release still uses it"),
        (ops.RenameField("delivery", "size", "bytes"), "the previous release still uses it"),
        (ops.DeleteModel("stagedfile"), "the previous release still uses it"),
        (
            ops.AddField("delivery", "checked", models.BooleanField(default=False)),
            "NOT NULL without db_default",
        ),
        (
            ops.AlterField("delivery", "file_name", models.CharField(max_length=500)),
            "on a big table changes the column",
        ),
        (
            ops.AlterField("delivery", "purged_at", models.DateTimeField()),
            "NULL → NOT NULL",
        ),
        (
            ops.AddIndex("delivery", models.Index(fields=["file_name"], name="d_file")),
            "locks writes while it builds",
        ),
        (ops.RunSQL("UPDATE deliveries_delivery SET size = size"), "review it"),
    ],
)
def test_what_would_break_the_previous_release_is_found(operation: Any, problem: str):
    (found,) = _problems(operation)
    assert problem in found


@pytest.mark.parametrize(
    "operation",
    [
        ops.AddField("delivery", "note", models.TextField(null=True)),
        ops.AddField("delivery", "checked", models.BooleanField(db_default=False)),
        ops.AlterField(
            "delivery",
            "file_name",
            models.CharField("bestandsnaam van de aanlevering", max_length=255),
        ),
        AddIndexConcurrently("delivery", models.Index(fields=["file_name"], name="d_file")),
        ops.CreateModel("Extra", [("id", models.BigAutoField(primary_key=True))]),
    ],
)
def test_what_the_previous_release_survives_is_accepted(operation: Any):
    assert _problems(operation) == []


def test_an_index_on_a_small_table_is_accepted():
    index = models.Index(fields=["name"], name="ds_name")
    assert _problems(ops.AddIndex("dataset", index), app_label="periods") == []


def test_a_table_created_since_the_previous_release_may_change_freely():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = loader.project_state()
    released = set(loader.project_state(list(RELEASE.leaves.items())).models)
    assert ("api", "tusupload") not in released  # the API came after the previous release
    new_column = ops.AddField("tusupload", "checked", models.BooleanField(default=False))
    assert operation_problems(new_column, "api", state, RELEASE.big_tables, released) == []
    on_released = ops.AddField("delivery", "checked", models.BooleanField(default=False))
    assert operation_problems(on_released, "deliveries", state, RELEASE.big_tables, released)
