"""Liveness, readiness and metrics: for the orchestrator and Prometheus, not for people."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from . import health, metrics


@never_cache
@require_GET
def liveness(request: HttpRequest) -> HttpResponse:
    """The process answers. Touches nothing else (no database): a database outage must
    not get every web process restarted."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def readiness(request: HttpRequest) -> HttpResponse:
    """Database, broker and storage reachable: 200, else 503 naming what is not."""
    results = health.run_checks()
    ok = all(result.ok for result in results)
    body = {
        "status": "ok" if ok else "error",
        "checks": {result.name: result.as_dict() for result in results},
    }
    return JsonResponse(body, status=200 if ok else 503)


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in allowed if entry)


def metrics_allowed(request: HttpRequest) -> bool:
    """Only from MSD_METRICS_ALLOWED_IPS (addresses or networks), by REMOTE_ADDR: like the
    audit trail, X-Forwarded-For is never trusted (docs/operations.md)."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.MSD_METRICS_ALLOWED_IPS)))


@never_cache
@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404
    # Prometheus text 0.0.4 by default, OpenMetrics when the scraper asks for it.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics.registry()), content_type=content_type)
