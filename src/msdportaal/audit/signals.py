"""Logins, logouts, failed logins and admin changes go into the audit trail by signal."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AuditAction
from .services import record

_ADMIN_ACTIONS = {
    ADDITION: AuditAction.ADMIN_ADDITION,
    CHANGE: AuditAction.ADMIN_CHANGE,
    DELETION: AuditAction.ADMIN_DELETION,
}


_RECORD_ARGUMENTS = {"action", "request", "user", "municipality", "target", "message", "backend"}


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    backend = request.session.get("_auth_user_backend", "") if request is not None else ""
    # A login method may say more (MunicipalIdentityBackend: method, organisation, ...).
    details = getattr(user, "login_audit_details", None) or {}
    record(
        AuditAction.LOGIN,
        request=request,
        user=user,
        municipality=None,
        backend=backend,
        **{key: value for key, value in details.items() if key not in _RECORD_ARGUMENTS},
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(AuditAction.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    record(AuditAction.LOGIN_FAILED, request=request, user=None, username=username)


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    """django-axes refused a password login: too many failures (settings: MSD_LOGIN_*)."""
    record(
        AuditAction.LOGIN_LOCKED_OUT,
        request=request,
        user=None,
        municipality=None,
        username=str(username or "")[:150],
    )


@receiver(post_save, sender=LogEntry)
def _admin_change(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    record(
        _ADMIN_ACTIONS.get(instance.action_flag, AuditAction.ADMIN_CHANGE),
        user=instance.user,
        message=f"{instance.content_type} {instance.object_repr}"[:500]
        if instance.content_type
        else instance.object_repr,
        content_type=str(instance.content_type) if instance.content_type else "",
        object_id=instance.object_id or "",
        change_message=instance.get_change_message(),
    )
