"""Shared admin building blocks."""

from __future__ import annotations

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For records only the application writes (deliveries, reports, audit): IB looks,
    never edits or deletes."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
