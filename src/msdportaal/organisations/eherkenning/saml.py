"""The SAML side: the AuthnRequest and the artifact resolution, on django-digid-eherkenning.

What we change in the library's ``eHerkenningClient`` (everything else is the library's):

* **AuthnRequest IDs live in the user's session**, not in the Django cache. The ACS only
  accepts a response to a request this browser started (no login CSRF, no replayed
  artifact), each ID works once, and it works with any number of web nodes without a
  shared cache.
* **The ArtifactResolve call has timeouts and a configurable CA bundle**
  (``MSD_EHERKENNING_TIMEOUT``, ``MSD_EHERKENNING_CA_BUNDLE``); python3-saml posts without
  a timeout. It still presents our SP certificate for mutual TLS.
* **A non-success status is reported as such** (:class:`IdentityProviderStatusError`, with
  all status codes), so a cancelled login can be told apart from a broken one.
* **A signed ArtifactResponse is verified** against the broker's certificate from the
  metadata; python3-saml only checks the signature on the Response/Assertion inside.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from digid_eherkenning.saml2.base import create_saml2_request
from digid_eherkenning.saml2.eherkenning import eHerkenningClient
from digid_eherkenning.utils import get_client_ip
from django.conf import settings
from django.http import HttpRequest
from onelogin.saml2.artifact_resolve import Artifact_Resolve_Request
from onelogin.saml2.artifact_response import Artifact_Response
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.ssl_adapter import SSLAdapter
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

logger = logging.getLogger(__name__)

SESSION_KEY = "eherkenning_authn_requests"
#: How long an AuthnRequest may stay unanswered (the library's cache kept them an hour).
REQUEST_MAX_AGE_SECONDS = 60 * 60
#: Outstanding requests per session (a user may start a login in more than one tab).
MAX_OUTSTANDING = 5

STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"


class IdentityProviderStatusError(Exception):
    """The broker answered, but not with Success (cancelled, refused, failed)."""

    def __init__(self, codes: list[str], message: str = "") -> None:
        self.codes = codes
        self.message = message
        super().__init__(", ".join(codes) + (f" ({message})" if message else ""))

    @property
    def short_codes(self) -> set[str]:
        return {code.removeprefix(STATUS_PREFIX) for code in self.codes}


class SessionAuthnRequestStorage:
    """Drop-in for the library's cache-backed ``AuthnRequestStorage``."""

    def __init__(self, request: HttpRequest) -> None:
        self.session = request.session

    def store(self, request_id: str, client_ip_address: str | None) -> None:
        pending = self._fresh()
        pending[request_id] = {"client_ip_address": client_ip_address, "at": time.time()}
        # Keep only the newest few.
        newest = sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_OUTSTANDING:]
        self.session[SESSION_KEY] = dict(newest)

    def get(self, request_id: str | None) -> dict[str, Any] | None:
        """The stored request, removed: an AuthnRequest ID can be answered once."""
        pending = self._fresh()
        found = pending.pop(request_id, None) if request_id else None
        self.session[SESSION_KEY] = pending
        return found

    def _fresh(self) -> dict[str, dict[str, Any]]:
        now = time.time()
        stored = self.session.get(SESSION_KEY) or {}
        return {
            key: value
            for key, value in stored.items()
            if isinstance(value, dict) and now - value.get("at", 0) <= REQUEST_MAX_AGE_SECONDS
        }


class _PortalSaml2Auth(OneLogin_Saml2_Auth):
    def artifact_resolve(self, saml_art: str) -> OneLogin_Saml2_Response:
        resolve_request = Artifact_Resolve_Request(self._settings, saml_art)
        if resolve_request.soap_endpoint is None:
            raise OneLogin_Saml2_ValidationError(
                "The artifact names an artifact resolution service index that is not in "
                "the identity provider's metadata."
            )
        http_response = _post_artifact_resolve(self._settings, resolve_request)
        if http_response.status_code != 200:
            raise OneLogin_Saml2_ValidationError(
                f"Received HTTP {http_response.status_code} when resolving the artifact."
            )
        content = http_response.content
        artifact_response = Artifact_Response(self._settings, content)
        if not artifact_response.is_valid(resolve_request.get_id()):
            raise OneLogin_Saml2_ValidationError(
                f"The ArtifactResponse is not valid: {artifact_response.get_error()}"
            )
        _verify_artifact_response_signature(self._settings, content)

        saml2_response = OneLogin_Saml2_Response(
            self._settings, artifact_response.get_response_xml()
        )
        status = OneLogin_Saml2_Utils.get_status(saml2_response.document)
        codes = status.get("codes") or []
        if not codes or codes[0] != OneLogin_Saml2_Constants.STATUS_SUCCESS:
            raise IdentityProviderStatusError(codes, status.get("msg") or "")
        try:
            saml2_response.is_valid(self._request_data, raise_exceptions=True)
        except OneLogin_Saml2_ValidationError as exc:
            raise OneLogin_Saml2_ValidationError(
                f"The Response is not valid: {saml2_response.get_error()}", code=exc.code
            ) from exc
        return saml2_response


def _post_artifact_resolve(
    saml_settings: Any, resolve_request: Artifact_Resolve_Request
) -> requests.Response:
    """Like ``Artifact_Resolve_Request.send()``, with timeouts and our CA bundle."""
    security = saml_settings.get_security_data()
    idp = saml_settings.get_idp_data()
    url = resolve_request.soap_endpoint["url"]
    timeout = settings.MSD_EHERKENNING_TIMEOUT
    with requests.Session() as session:
        session.mount(
            url,
            SSLAdapter(
                security["soapClientCert"],
                security["soapClientKey"],
                security.get("soapClientPassphrase"),
            ),
        )
        return session.post(
            url,
            data=resolve_request.get_soap_request(),
            headers={"content-type": idp["resolveArtifactBindingContentType"]},
            timeout=(timeout, timeout),
            verify=settings.MSD_EHERKENNING_CA_BUNDLE or True,
            allow_redirects=False,
        )


def _verify_artifact_response_signature(saml_settings: Any, content: bytes) -> None:
    document = OneLogin_Saml2_XML.to_etree(content)
    xpath = "/soap:Envelope/soap:Body/samlp:ArtifactResponse/ds:Signature"
    if not OneLogin_Saml2_XML.query(document, xpath):
        # Allowed: the Response or Assertion inside carries the signature, which
        # python3-saml checks, and the message came over TLS from the broker.
        return
    idp = saml_settings.get_idp_data()
    multicerts = (idp.get("x509certMulti") or {}).get("signing") or None
    if not OneLogin_Saml2_Utils.validate_sign(
        content,
        cert=saml_settings.get_idp_cert(),
        xpath=xpath,
        multicerts=multicerts,
    ):
        raise OneLogin_Saml2_ValidationError(
            "The signature of the ArtifactResponse is not valid.",
            OneLogin_Saml2_ValidationError.INVALID_SIGNATURE,
        )


class PortalEherkenningClient(eHerkenningClient):
    """The library's client with the session storage and the resolution above."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__()
        self.authn_storage = SessionAuthnRequestStorage(request)  # type: ignore[assignment]

    def artifact_resolve(self, request: HttpRequest, saml_art: str) -> OneLogin_Saml2_Response:
        saml2_request = create_saml2_request(self.conf["base_url"], request)
        auth = _PortalSaml2Auth(saml2_request, old_settings=self.saml2_settings)
        response = auth.artifact_resolve(saml_art)
        self.verify_saml2_response(response, get_client_ip(request))
        return response
