from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class PerCertificateThrottle(SimpleRateThrottle):
    """``MSD_API_RATE`` requests per registered system (not per address: a supplier's
    systems may share one, and one system may use several)."""

    scope = "systeemkoppeling"

    def get_rate(self) -> str:
        return settings.MSD_API_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        client = getattr(request, "auth", None)
        if client is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.pk}
