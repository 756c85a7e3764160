"""The client's address, also behind the reverse proxy (nginx, or tls_front in development).

``X-Forwarded-For`` is honoured only when the request comes straight from a proxy listed in
``MSD_TRUSTED_PROXIES``; from any other peer the header is ignored, so nobody can choose the
address that the audit trail records or that the login lockout counts. One proxy layer: the
address taken is the hop the trusted proxy itself saw (the right-most entry, which it set or
appended), whatever a client put further left. The header is parsed by python-ipware (through
django-ipware), not by hand.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(peer: str) -> bool:
    address = _address(peer)
    trusted = _networks(tuple(settings.MSD_TRUSTED_PROXIES))
    return address is not None and any(address in network for network in trusted)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the address it forwarded.

    Also AXES_CLIENT_IP_CALLABLE, so the lockout counts the same address the audit shows.
    """
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not peer or not forwarded or not is_trusted_proxy(peer):
        return peer or None
    # The peer is the chain's last hop, and the one trusted proxy: what stands before it is
    # the address the proxy saw. A malformed header (strict) gives nothing: then the peer.
    chained = HttpRequest()
    chained.META = {"HTTP_X_FORWARDED_FOR": f"{forwarded}, {peer}"}
    address, _routable = get_client_ip(
        chained,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        proxy_trusted_ips=[peer],
        strict=False,
    )
    return address or peer
