"""Rolling upgrades: which migrations are new since the previous release, and are they safe.

A rolling upgrade migrates the database once while the previous release keeps running on
the other nodes (docs/operations.md, *Upgrades*). That only works when the new
migrations leave the previous release's code working and do not lock a big table for
long. The previous release is the set of migration leaf nodes recorded in
``docs/release-migrations.json`` (committed, updated at release time with ``manage.py
release_migrations --write``), so the check works on a shallow clone without history.

:func:`problems` applies these rules to every migration that is not in the previous
release (PostgreSQL semantics, the production database):

- **contract operations** (``RemoveField``, ``DeleteModel``, ``RenameField``,
  ``RenameModel``, ``AlterModelTable``): the previous release still reads and writes that
  column or table. Drop it one release after the code stopped using it (two-release plan);
- **a NOT NULL column without a database default** (``AddField`` without ``null=True`` or
  ``db_default``): the previous release's INSERTs do not name the column and fail;
- **``AlterField`` that changes the column** on a big table (type, length, NULL, unique,
  index): a rewrite or a full scan under a lock; making a column NOT NULL fails the
  previous release's INSERTs anywhere;
- **index or constraint builds on a big table** (``AddIndex``, ``AddConstraint``,
  ``AlterUniqueTogether``, ``AlterIndexTogether``) lock writes while they build: use
  ``AddIndexConcurrently`` (``django.contrib.postgres.operations``, non-atomic migration);
- **``RunSQL`` / ``RunPython``** cannot be judged from here.

A migration that breaks a rule anyway is accepted when ``reviewed`` in the file names it
with the reason (for instance: deployed with the short stop, or the table was small).

:func:`migrate_to` and :func:`seed` build a database at the previous release's schema with
data in it, for the upgrade test (``operations/tests/test_upgrades.py``).
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.utils import timezone

RELEASE_FILE = Path(settings.BASE_DIR) / "docs" / "release-migrations.json"

CONTRACT = (
    ops.RemoveField,
    ops.DeleteModel,
    ops.RenameField,
    ops.RenameModel,
    ops.AlterModelTable,
)
LOCKING_BUILDS = (
    ops.AddIndex,
    ops.AddConstraint,
    ops.AlterUniqueTogether,
    ops.AlterIndexTogether,
)
#: Field attributes that never reach the database schema (Django keeps defaults in Python).
NOT_IN_SCHEMA = {
    "blank",
    "choices",
    "default",
    "editable",
    "error_messages",
    "help_text",
    "validators",
    "verbose_name",
    "db_comment",
    "limit_choices_to",
    "related_name",
    "related_query_name",
    "on_delete",
    "upload_to",
    "storage",
}


@dataclass(frozen=True)
class Release:
    name: str
    leaves: dict[str, str]
    big_tables: frozenset[str]
    reviewed: dict[str, str] = field(default_factory=dict)


def load_release(path: Path = RELEASE_FILE) -> Release:
    data = json.loads(path.read_text())
    return Release(
        name=data["release"],
        leaves=data["leaves"],
        big_tables=frozenset(data.get("big_tables", [])),
        reviewed=data.get("reviewed", {}),
    )


def current_leaves(loader: MigrationLoader | None = None) -> dict[str, str]:
    loader = loader or MigrationLoader(None, ignore_no_migrations=True)
    leaves: dict[str, str] = {}
    for app_label, name in loader.graph.leaf_nodes():
        leaves[app_label] = max(name, leaves.get(app_label, ""))
    return dict(sorted(leaves.items()))


def released_nodes(loader: MigrationLoader, release: Release) -> set[tuple[str, str]]:
    nodes: set[tuple[str, str]] = set()
    for app_label, name in release.leaves.items():
        key = (app_label, name)
        if key not in loader.graph.nodes:
            raise ValueError(
                f"{app_label}.{name} of release {release.name} is not in the migration graph "
                "(a migration was removed or renamed, or the file is wrong)"
            )
        nodes |= set(loader.graph.forwards_plan(key))
    return nodes


def new_migrations(loader: MigrationLoader, release: Release) -> list[tuple[str, str]]:
    """The migrations a database at the previous release still has to apply, in order."""
    done = released_nodes(loader, release)
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in done and node not in plan:
                plan.append(node)
    return plan


def _table(state: ProjectState, app_label: str, model_name: str) -> str:
    model = state.models[app_label, model_name.lower()]
    return model.options.get("db_table") or f"{app_label}_{model.name_lower}"


def _schema(field: models.Field) -> tuple[str, dict[str, Any]]:
    path, _args, kwargs = field.deconstruct()[1:]
    return path, {k: v for k, v in kwargs.items() if k not in NOT_IN_SCHEMA}


def _flatten(operations: Iterable[Any]) -> Iterator[Any]:
    for operation in operations:
        if isinstance(operation, ops.SeparateDatabaseAndState):
            yield from _flatten(operation.database_operations)
        else:
            yield operation


def operation_problems(
    operation: Any,
    app_label: str,
    state: ProjectState,
    big_tables: frozenset[str],
    released: set[tuple[str, str]] | None = None,
) -> list[str]:
    """What is wrong with one operation, given the project state just before it.

    *released*: the (app, model) pairs the previous release has; an operation on a model
    created since then cannot hurt it (only RunSQL and RunPython are still looked at).
    """
    name = type(operation).__name__
    model_name = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    if isinstance(operation, ops.RunSQL | ops.RunPython):
        return [f"{name}: cannot be checked automatically; review it"]
    if released is not None and model_name and (app_label, str(model_name).lower()) not in released:
        return []
    table = ""
    if model_name and (app_label, str(model_name).lower()) in state.models:
        table = _table(state, app_label, str(model_name))
    big = table in big_tables
    if isinstance(operation, CONTRACT):
        return [
            f"{name} on {table or model_name}: the previous release still uses it "
            "(drop it one release after the code stopped using it)"
        ]
    if isinstance(operation, ops.AddField):
        new = operation.field
        if (
            not new.many_to_many
            and not new.null
            and new.db_default is models.NOT_PROVIDED
            and not new.primary_key
        ):
            return [
                f"AddField {table}.{operation.name}: NOT NULL without db_default; the previous "
                "release's INSERTs do not name it and fail (null=True or db_default=...)"
            ]
        return []
    if isinstance(operation, ops.AlterField):
        old = state.models[app_label, operation.model_name_lower].fields[operation.name]
        new = operation.field
        found = []
        if old.null and not new.null:
            found.append(
                f"AlterField {table}.{operation.name}: NULL → NOT NULL; the previous release "
                "may still write NULL there (and the check scans the whole table)"
            )
        elif big and _schema(old) != _schema(new):
            found.append(
                f"AlterField {table}.{operation.name} on a big table changes the column: "
                "a rewrite or a scan under lock (add a new column instead)"
            )
        return found
    if isinstance(operation, LOCKING_BUILDS) and big and not _without_lock(operation):
        return [
            f"{name} on the big table {table}: locks writes while it builds "
            "(AddIndexConcurrently in a non-atomic migration)"
        ]
    return []


def _without_lock(operation: Any) -> bool:
    """PostgreSQL's CREATE INDEX CONCURRENTLY and ADD CONSTRAINT ... NOT VALID."""
    from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently

    return isinstance(operation, AddIndexConcurrently | AddConstraintNotValid)


def migration_problems(
    loader: MigrationLoader,
    key: tuple[str, str],
    big_tables: frozenset[str],
    released: set[tuple[str, str]] | None = None,
) -> list[str]:
    migration = loader.graph.nodes[key]
    state = loader.project_state(key, at_end=False)
    found: list[str] = []
    for operation in migration.operations:
        # A SeparateDatabaseAndState is judged by what it does to the database.
        for step in _flatten([operation]):
            found += operation_problems(step, key[0], state, big_tables, released)
        operation.state_forwards(key[0], state)
    return found


@dataclass
class Finding:
    migration: str
    problems: list[str]
    reviewed: str = ""


def check(release: Release | None = None) -> list[Finding]:
    """Every new migration with a problem; ``reviewed`` says why it was accepted."""
    release = release or load_release()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    released = set(loader.project_state(list(release.leaves.items())).models)
    findings = []
    for key in new_migrations(loader, release):
        found = migration_problems(loader, key, release.big_tables, released)
        if found:
            label = f"{key[0]}.{key[1]}"
            findings.append(Finding(label, found, release.reviewed.get(label, "")))
    return findings


# --- a database at the previous release's schema, with data ------------------------------


def migrate_to(leaves: dict[str, str]) -> None:
    """Apply exactly the migrations of a release (the apps it lists; no others)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = [(app, name) for app, name in leaves.items() if name]
    executor.migrate(targets, plan=executor.migration_plan(targets))


#: Apps whose rows the seed creates (the portal's own; the rest keep what migrations made).
SEEDED_APPS = (
    "core",
    "audit",
    "organisations",
    "periods",
    "transport",
    "deliveries",
    "reports",
    "consent",
    "notifications",
    "api",
    "agenda",
)


def _value(field: models.Field, number: int) -> Any:
    """A plausible, distinct value for a concrete, non-relational field."""
    if field.choices:
        flat = [value for value, _label in field.flatchoices]
        return flat[number % len(flat)]
    if isinstance(field, models.BooleanField):
        return number % 2 == 1
    if isinstance(field, models.DateTimeField):
        return timezone.now() - datetime.timedelta(minutes=number)
    if isinstance(field, models.DateField):
        return timezone.localdate() - datetime.timedelta(days=number)
    if isinstance(field, models.TimeField):
        return datetime.time(9, number % 60)
    if isinstance(field, models.DurationField):
        return datetime.timedelta(seconds=number)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {"seed": number}
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(number)
    if isinstance(field, models.FloatField):
        return float(number)
    if isinstance(field, models.IntegerField | models.BigIntegerField):
        return number + 1
    if isinstance(field, models.GenericIPAddressField):
        return f"192.0.2.{number + 1}"
    if isinstance(field, models.EmailField):
        return f"seed{number}@example.org"
    if isinstance(field, models.URLField):
        return f"https://example.org/{number}"
    if isinstance(field, models.BinaryField):
        return b""
    if isinstance(field, models.FileField):
        return f"seed/{number}"
    if isinstance(field, models.CharField | models.TextField):
        if field.max_length and field.max_length < 16:
            # "z" is no digit: never one of the codes the data migrations loaded.
            return ("z" + uuid.uuid4().hex)[: field.max_length]
        text = f"{field.name[:6]}-{uuid.uuid4().hex}"
        return text[: field.max_length] if field.max_length else text
    return None


def _order(models_: list[type[models.Model]]) -> list[type[models.Model]]:
    """Models after the models their non-null foreign keys point to."""
    ordered: list[type[models.Model]] = []
    pending = list(models_)
    while pending:
        for model in pending:
            needs = {
                f.related_model
                for f in model._meta.concrete_fields
                if f.is_relation and not f.null and f.related_model is not model
            }
            if all(n in ordered or n not in models_ for n in needs):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise ValueError(f"circular foreign keys among {pending}")
    return ordered


def seed(apps_registry: Any, rows: int = 3) -> dict[str, int]:
    """*rows* rows in every table of the portal's apps, with the historical models of
    *apps_registry* (the schema at that point), every field filled; returns the counts.

    The audit trail is chained afterwards exactly as its migration chains existing
    entries, so ``verify_audit_trail`` must still pass after the upgrade.
    """
    from importlib import import_module

    project = [
        m
        for m in apps_registry.get_models()
        if m._meta.app_label in SEEDED_APPS and m._meta.managed
    ]
    created: dict[type[models.Model], list[Any]] = {}
    for model in _order(project):
        if model._meta.label == "audit.AuditChainHead":
            continue
        for number in range(rows):
            instance = model(**_fields(model, number, rows, created))
            instance.save(force_insert=True)
            created.setdefault(model, []).append(instance)
    labels = {m._meta.label for m in project}
    if "audit.AuditChainHead" in labels:
        chain = import_module("msdportaal.audit.migrations.0004_hash_chain")
        chain.chain_existing_entries(apps_registry, None)
    return {m._meta.label: m._default_manager.count() for m in project}


def _fields(
    model: type[models.Model], number: int, rows: int, created: dict[Any, list[Any]]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.primary_key and (f.auto_created or isinstance(f, models.AutoField)):
            continue
        if f.is_relation:
            target = f.related_model
            if target is model:
                continue  # self-references stay empty
            candidates = created.get(target) or list(target._default_manager.order_by("pk")[:rows])
            if not candidates:
                if f.null:
                    continue
                raise ValueError(f"nothing for {model._meta.label}.{f.name} to point at")
            values[f.name] = candidates[number % len(candidates)]
            continue
        value = _value(f, number)
        if value is not None:
            values[f.name] = value
    return values
