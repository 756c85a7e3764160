from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from msdportaal.audit.admin import AuditEntryAdmin
from msdportaal.audit.models import AppendOnlyError, AuditAction, AuditEntry
from msdportaal.audit.services import record

pytestmark = pytest.mark.django_db


def test_entries_cannot_be_changed_or_deleted(user_a, municipality_a):
    entry = record(AuditAction.UPLOAD, user=user_a, municipality=municipality_a, message="x")
    entry.message = "rewritten history"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(message="y")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).message == "x"


def test_admin_shows_the_trail_read_only(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = AuditEntryAdmin(AuditEntry, site)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_failed_admin_login_is_recorded(client: Client, admin_user):
    client.post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "auth",
            "auth-username": admin_user.username,
            "auth-password": "wrong",
        },
    )
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_FAILED)
    assert entry.details["username"] == admin_user.username
