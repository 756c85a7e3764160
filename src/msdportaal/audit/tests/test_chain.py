"""The audit trail is a hash chain: a change or removal behind the application's back
(raw SQL) is found by ``manage.py verify_audit_trail``."""

from __future__ import annotations

import io
import itertools
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import close_old_connections, connection, transaction

from msdportaal.audit.chain import GENESIS, entry_hash, verify
from msdportaal.audit.models import AuditAction, AuditChainHead, AuditEntry
from msdportaal.audit.services import record
from msdportaal.conftest import restore_reference_data

TABLE = AuditEntry._meta.db_table


def verify_command() -> str:
    out = io.StringIO()
    call_command("verify_audit_trail", stdout=out)
    return out.getvalue()


def broken_message() -> str:
    with pytest.raises(CommandError) as raised:
        verify_command()
    assert raised.value.returncode == 1  # manage.py exits non-zero
    return str(raised.value)


def sql(statement: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def trail(db, user_a, municipality_a, rf) -> list[AuditEntry]:
    """Five entries of different shapes: IPv6, accents, nested details, numbers."""
    request = rf.get("/", REMOTE_ADDR="2001:DB8::1")
    request.user = user_a
    entries = [
        record(AuditAction.LOGIN, request=request, municipality=None, backend="x"),
        record(
            AuditAction.UPLOAD,
            user=user_a,
            municipality=municipality_a,
            target=municipality_a,
            message="Bestand MSD_WMO-BASIS_0363_2026HJ01.csv aangeleverd — café ✓",
            references=["20261129-100000-001", "20261129-100000-001-1"],
            size=123456789,
            ratio=0.5,
            nested={"b": [1, 2, {"c": None}], "a": True},
        ),
        record(AuditAction.DOWNLOAD, user=user_a, municipality=municipality_a, message="rapport"),
        record(AuditAction.LOGOUT, request=request),
        record(AuditAction.MUNICIPALITIES_IMPORTED, message="gemeenten-2026.csv"),
    ]
    return [AuditEntry.objects.get(pk=e.pk) for e in entries]  # as stored


def test_each_entry_points_to_the_one_before(trail):
    earlier = AuditEntry.objects.filter(pk__lt=trail[0].pk).order_by("-pk").first()
    assert trail[0].previous_hash == (earlier.entry_hash if earlier else GENESIS)
    for before, after in itertools.pairwise(trail):
        assert after.previous_hash == before.entry_hash
    for entry in trail:
        # Recomputed from what the database gives back: the canonical form survives storage.
        assert entry_hash(entry) == entry.entry_hash
        assert len(entry.entry_hash) == 64
    assert AuditChainHead.objects.get().last_hash == trail[-1].entry_hash


def test_a_clean_chain_verifies(trail):
    output = verify_command()
    total = AuditEntry.objects.count()
    assert f"Audittrail in orde: {total} regel(s), laatste hash {trail[-1].entry_hash}." in output


def test_a_raw_sql_update_is_detected(trail):
    target = trail[2]
    sql(f"UPDATE {TABLE} SET message = %s WHERE id = %s", "niets gedownload", target.pk)  # noqa: S608
    message = broken_message()
    assert f"regel {target.pk}" in message
    assert "gewijzigd" in message


def test_an_update_that_also_rewrites_the_hash_is_detected_at_the_next_entry(trail):
    target = trail[1]
    target.message = "iets anders"
    forged = entry_hash(target)
    sql(
        f"UPDATE {TABLE} SET message = %s, entry_hash = %s WHERE id = %s",  # noqa: S608
        "iets anders",
        forged,
        target.pk,
    )
    message = broken_message()
    assert f"regel {trail[2].pk}" in message
    assert f"sluit niet aan op regel {target.pk}" in message


def test_a_deleted_entry_is_detected(trail):
    sql(f"DELETE FROM {TABLE} WHERE id = %s", trail[2].pk)  # noqa: S608
    message = broken_message()
    assert f"regel {trail[3].pk}" in message
    assert f"sluit niet aan op regel {trail[1].pk}" in message


def test_deleting_the_newest_entries_is_detected(trail):
    sql(f"DELETE FROM {TABLE} WHERE id >= %s", trail[3].pk)  # noqa: S608
    message = broken_message()
    assert f"de kop wijst naar regel {trail[4].pk}" in message
    assert f"de keten eindigt bij regel {trail[2].pk}" in message


def test_deleting_the_first_entry_is_detected(trail):
    first = AuditEntry.objects.order_by("pk").first()
    sql(f"DELETE FROM {TABLE} WHERE id = %s", first.pk)  # noqa: S608
    message = broken_message()
    assert "sluit niet aan op het begin van de audittrail" in message


def test_the_orm_still_refuses_changes(trail):
    from msdportaal.audit.models import AppendOnlyError

    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=trail[0].pk).update(message="x")
    # An entry created any other way joins the chain too.
    extra = AuditEntry.objects.create(action=AuditAction.LOGOUT, message="direct")
    assert extra.previous_hash == trail[-1].entry_hash
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    """Eight threads, each on its own database connection, append at the same time; each
    holds its transaction open a moment after appending. The chain stays one line."""
    restore_reference_data()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for i in range(8):
                with transaction.atomic():
                    record(AuditAction.LOGIN_FAILED, message=f"schrijver {number} nr {i}")
                    threading.Event().wait(0.002)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    entries = list(AuditEntry.objects.order_by("pk"))
    assert len(entries) == 64
    previous = [e.previous_hash for e in entries]
    assert len(set(previous)) == len(previous), "two entries share a predecessor: a fork"
    assert verify().ok
    assert verify().checked == 64
