"""Systems identify with their certificate, which the TLS-terminating proxy verified.

The certificate reaches us exactly as RINIS's does (``transport.client_certs``): only
from the proxy, which proves itself with ``MSD_PROXY_SECRET``. It must be registered as a
:class:`~msdportaal.api.models.SystemClient` (by SHA-256 fingerprint) and not revoked.
Which gemeente a request is for is in its URL; :mod:`msdportaal.api.views` lets the
request act for it only under a ketenmachtiging, through the same scoping helper as the
web pages.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.transport.client_certs import fingerprint, presented_certificate

from .models import SystemClient


class CertificateRevoked(exceptions.PermissionDenied):
    default_detail = _(
        "Het certificaat van dit systeem is ingetrokken of de koppeling staat uit. Neem contact "
        "op met IB om de koppeling te herstellen."
    )
    default_code = "certificaat-ingetrokken"


def _refused(request: Request, message: str, **details: Any) -> None:
    record(
        AuditAction.LOGIN_FAILED,
        request=request._request,
        municipality=None,
        message=f"systeemkoppeling: {message}",
        channel="api",
        **details,
    )


class ClientCertificateAuthentication(BaseAuthentication):
    """The registered system behind the request's certificate: ``request.auth``."""

    def authenticate(self, request: Request) -> tuple[Any, SystemClient]:
        certificate = presented_certificate(request._request)
        if certificate is None:
            _refused(request, "geen certificaat")
            raise exceptions.NotAuthenticated(
                _(
                    "Geen geldig clientcertificaat ontvangen. Meld u met het services-certificaat "
                    "dat IB voor uw systeem heeft geregistreerd."
                )
            )
        digest = fingerprint(certificate)
        client = SystemClient.objects.select_related("user").filter(fingerprint_sha256=digest)
        found = client.first()
        if found is None:
            _refused(request, "onbekend certificaat", fingerprint=digest)
            raise exceptions.AuthenticationFailed(
                _(
                    "Dit certificaat is niet geregistreerd voor MSD Portaal. Vraag IB het te "
                    "registreren (vingerafdruk SHA-256: %(digest)s)."
                )
                % {"digest": digest}
            )
        if not found.usable:
            _refused(request, "ingetrokken certificaat", fingerprint=digest, client=found.name)
            raise CertificateRevoked()
        return found.user, found

    def authenticate_header(self, request: Request) -> str:
        # A 401 needs a challenge; there is no standard scheme for mutual TLS.
        return 'Certificate realm="MSD Portaal"'


class MutualTlsScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document says a system authenticates (loaded by drf-spectacular)."""

    target_class = "msdportaal.api.authentication.ClientCertificateAuthentication"
    name = "servicesCertificaat"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "mutualTLS",
            "description": (
                "Het services-certificaat (PKIoverheid) van het systeem, door IB geregistreerd "
                "als systeemkoppeling met de gemeenten waarvoor het mag handelen."
            ),
        }
