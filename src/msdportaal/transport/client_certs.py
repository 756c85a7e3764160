"""Who is calling? The client certificate a TLS-terminating proxy verified.

In production nginx ends TLS, checks the certificate against the PKIoverheid CA and
passes it on (``$ssl_client_escaped_cert``, ``$ssl_client_verify``). The application
then accepts only the certificates IB registered: by SHA-256 fingerprint, or by the OIN
in the subject's serialNumber.

Why a shared secret as well as the proxy's address: any process on the proxy's host
reaches gunicorn from 127.0.0.1 too, and could send the two headers itself with a
self-made certificate carrying RINIS's OIN. Only the proxy knows ``MSD_PROXY_SECRET`` and
sends it in ``X-MSD-Proxy-Secret`` (after dropping any copy the client sent); without the
right value the certificate headers are ignored, so such a request is nobody.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.http import HttpRequest

from .models import TrustedClient

CERT_HEADER = "HTTP_X_SSL_CLIENT_CERT"
VERIFY_HEADER = "HTTP_X_SSL_CLIENT_VERIFY"
SECRET_HEADER = "HTTP_X_MSD_PROXY_SECRET"  # noqa: S105 - a header name


@dataclass(frozen=True)
class ClientIdentity:
    fingerprint: str
    subject: str
    oin: str
    trusted: TrustedClient


def from_proxy(request: HttpRequest) -> bool:
    """Whether the request carries the secret only the TLS-terminating proxy knows."""
    expected = settings.MSD_PROXY_SECRET
    if not settings.MSD_TRUST_CLIENT_CERT_HEADERS or not expected:
        return False
    if request.META.get("REMOTE_ADDR") not in settings.MSD_TRUSTED_PROXIES:
        return False
    sent = request.META.get(SECRET_HEADER, "")
    return hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("utf-8"))


def presented_certificate(request: HttpRequest) -> x509.Certificate | None:
    if not from_proxy(request):
        return None
    if request.META.get(VERIFY_HEADER) != "SUCCESS":
        return None
    pem = unquote(request.META.get(CERT_HEADER, ""))
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def subject_oin(certificate: x509.Certificate) -> str:
    values = certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else ""


def identify(request: HttpRequest, purpose: str) -> ClientIdentity | None:
    """The registered party behind the request's certificate, or None."""
    certificate = presented_certificate(request)
    if certificate is None:
        return None
    digest, oin = fingerprint(certificate), subject_oin(certificate)
    candidates = TrustedClient.objects.filter(active=True, purposes__contains=purpose)
    for trusted in candidates:
        if (
            trusted.fingerprint_sha256
            and trusted.fingerprint_sha256.replace(":", "").lower() == digest
        ):
            return ClientIdentity(digest, certificate.subject.rfc4514_string(), oin, trusted)
        if trusted.oin and oin and trusted.oin == oin:
            return ClientIdentity(digest, certificate.subject.rfc4514_string(), oin, trusted)
    return None
