"""The admin site: maykin-2fa's (a second factor for every administrator) with IB's start
page as its index."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from maykin_2fa.admin import MFARequired

from .dashboard import start_page


class PortalAdminSite(MFARequired):
    index_template = "admin/operations/start.html"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        return super().index(request, {"start": start_page(request), **(extra_context or {})})
