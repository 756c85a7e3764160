"""A test eHerkenning broker (herkenningsmakelaar): keys, metadata, signed answers, servers.

Everything a real broker does in the artifact flow, small:

* a PKI made in the test with ``cryptography`` (a CA, our SP key pair, the broker's
  signing key pair and its TLS server certificate);
* IdP metadata XML naming the broker's SSO and artifact resolution endpoints;
* the SSO endpoint (plain HTTP, the browser's hop): takes our signed AuthnRequest,
  remembers it, and redirects back to our ACS with a SAML artifact;
* the artifact resolution endpoint (HTTPS with mutual TLS, the server-to-server hop):
  checks the signature on our ArtifactResolve and answers a signed ArtifactResponse
  holding a Response with a signed Assertion — identifiers encrypted for our SP
  certificate, as eHerkenning sends them.

What the broker answers is a :class:`Scenario`: who logs in, for which organisation, at
which level, through which intermediary — or a status such as AuthnFailed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"

BROKER_ENTITY_ID = "urn:etoegang:HM:00000003520354760000:entities:9632"
SP_ENTITY_ID = "urn:etoegang:DV:00000001999999992000:entities:9052"
SP_OIN = "00000001999999992000"
BROKER_OIN = "00000003520354760000"

# --- PKI -------------------------------------------------------------------------------

# Valid over the real clock (TLS) and the suite's travelled clock (SAML) alike.
NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str
    key_file: Path
    cert_file: Path

    @property
    def cert_base64(self) -> str:
        der = x509.load_pem_x509_certificate(self.cert_pem.encode()).public_bytes(
            serialization.Encoding.DER
        )
        return base64.b64encode(der).decode()


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    sp: KeyPair
    broker_signing: KeyPair
    broker_tls: KeyPair
    #: A key pair the broker's metadata does not know (for forged answers).
    stranger: KeyPair


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MSD Portaal test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(directory: Path, stem: str, key: Any, cert: x509.Certificate) -> KeyPair:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_file, cert_file = directory / f"{stem}-key.pem", directory / f"{stem}.pem"
    key_file.write_text(key_pem)
    key_file.chmod(0o600)
    cert_file.write_text(cert_pem)
    return KeyPair(key_pem, cert_pem, key_file, cert_file)


def make_pki(directory: Path) -> Pki:
    ca_key = _key()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test CA"))
        .issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Python 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers are required.
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(stem: str, common_name: str, *, server: bool = False, issuer: bool = True) -> KeyPair:
        key = _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_cert.subject if issuer else _name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        if issuer:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        cert = builder.sign(ca_key if issuer else key, hashes.SHA256())
        return _write(directory, stem, key, cert)

    return Pki(
        ca_file=ca_file,
        sp=leaf("sp", "MSD Portaal SP"),
        broker_signing=leaf("broker-signing", "Test broker signing"),
        broker_tls=leaf("broker-tls", "127.0.0.1", server=True),
        stranger=leaf("stranger", "Not the broker", issuer=False),
    )


# --- what the broker answers -----------------------------------------------------------


@dataclass
class Scenario:
    acting_subject_id: str = "b3a1c0de5e5e4f0c9a7d2e1f00000001"
    kvk_number: str | None = "12345678"
    rsin: str | None = None
    branch_number: str | None = None
    company_name: str | None = "Gemeente Amsterdam"
    intermediary_kvk_number: str | None = None
    intermediary_name: str | None = None
    loa: str = "urn:etoegang:core:assurance-class:loa3"
    #: Top-level and second-level status codes; Success means an assertion follows.
    status: tuple[str, ...] = (SUCCESS,)
    #: Who signs the Assertion and the ArtifactResponse (``None``: not signed).
    assertion_signer: str | None = "broker"
    artifact_response_signer: str | None = "broker"


@dataclass
class Pending:
    request_id: str
    acs_url: str
    scenario: Scenario


@dataclass
class TestBroker:
    pki: Pki
    sso_url: str = ""
    ars_url: str = ""
    entity_id: str = BROKER_ENTITY_ID
    #: What the SSO endpoint answers next (the browser flow).
    next_scenario: Scenario = field(default_factory=Scenario)
    pending: dict[str, Pending] = field(default_factory=dict)
    #: Every ArtifactResolve we received, with the client certificate that came with it.
    resolves: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    __test__ = False  # not a pytest test class

    # -- metadata --

    def metadata(self) -> str:
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
      WantAuthnRequestsSigned="true">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{self.pki.broker_signing.cert_base64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
        Location="{self.ars_url}" index="0"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{self.sso_url}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{self.sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""

    # -- the browser's hop: AuthnRequest in, artifact out --

    def issue_artifact(self, saml_request: str, scenario: Scenario | None = None) -> str:
        """Read our (signed, POST-binding) AuthnRequest and hand out an artifact for it."""
        xml = base64.b64decode(saml_request)
        assert OneLogin_Saml2_Utils.validate_sign(
            xml,
            cert=self.pki.sp.cert_pem,
            xpath="/samlp:AuthnRequest/ds:Signature",
            raise_exceptions=True,
        ), "the AuthnRequest is not signed with the SP key"
        request = etree.fromstring(xml)
        assert request.get("ProtocolBinding") == (
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
        )
        message_handle = secrets.token_bytes(20)
        artifact = base64.b64encode(
            b"\x00\x04"  # type code: SAML 2.0 artifact
            + (0).to_bytes(2, "big")  # endpoint index of the ArtifactResolutionService
            + hashlib.sha1(self.entity_id.encode()).digest()  # noqa: S324 (SAML prescribes SHA-1)
            + message_handle
        ).decode()
        with self.lock:
            self.pending[artifact] = Pending(
                request_id=request.get("ID"),
                acs_url=request.get("AssertionConsumerServiceURL"),
                scenario=scenario or self.next_scenario,
            )
        return artifact

    # -- the server-to-server hop: ArtifactResolve in, ArtifactResponse out --

    def resolve(self, body: bytes, client_cert: dict[str, Any] | None) -> bytes:
        assert OneLogin_Saml2_Utils.validate_sign(
            body,
            cert=self.pki.sp.cert_pem,
            xpath="/soap:Envelope/soap:Body/samlp:ArtifactResolve/ds:Signature",
            raise_exceptions=True,
        ), "the ArtifactResolve is not signed with the SP key"
        envelope = etree.fromstring(body)
        resolve = envelope.find("soap:Body/samlp:ArtifactResolve", NS)
        artifact = resolve.findtext("samlp:Artifact", namespaces=NS)
        with self.lock:
            self.resolves.append({"artifact": artifact, "client_cert": client_cert})
            pending = self.pending.pop(artifact, None)  # an artifact resolves once
        if pending is None:
            return self._envelope(
                self._artifact_response(resolve.get("ID"), "", None), signer="broker"
            )
        response = self._response(pending)
        return self._envelope(
            self._artifact_response(resolve.get("ID"), response, pending.scenario),
            signer=pending.scenario.artifact_response_signer,
        )

    # -- building the XML --

    def _key_pair(self, signer: str) -> KeyPair:
        return {"broker": self.pki.broker_signing, "stranger": self.pki.stranger}[signer]

    def _sign(self, xml: str, signer: str | None) -> str:
        if signer is None:
            return xml
        pair = self._key_pair(signer)
        signed = OneLogin_Saml2_Utils.add_sign(xml, pair.key_pem, pair.cert_pem)
        return signed.decode() if isinstance(signed, bytes) else signed

    def _encrypted_id(self, value: str, qualifier: str) -> str:
        return OneLogin_Saml2_Utils.generate_name_id(
            value,
            sp_nq=None,
            nq=qualifier,
            sp_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            cert=self.pki.sp.cert_pem,
        )

    @staticmethod
    def _attribute(name: str, *values: str) -> str:
        return (
            f"<saml:Attribute Name={quoteattr(name)}>"
            + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
        )

    @staticmethod
    def _string(value: str) -> str:
        return escape(value)

    def _assertion(self, pending: Pending, now: dt.datetime) -> str:
        s = pending.scenario
        legal = []
        if s.kvk_number:
            legal.append(
                self._encrypted_id(s.kvk_number, "urn:etoegang:1.9:EntityConcernedID:KvKnr")
            )
        if s.rsin:
            legal.append(self._encrypted_id(s.rsin, "urn:etoegang:1.9:EntityConcernedID:RSIN"))
        attributes = [
            self._attribute(
                "urn:etoegang:core:ServiceID",
                self._string(f"urn:etoegang:DV:{SP_OIN}:services:9052"),
            ),
            self._attribute(
                "urn:etoegang:core:ActingSubjectID",
                self._encrypted_id(
                    s.acting_subject_id, f"urn:etoegang:EJ:{BROKER_OIN}:entities:9113"
                ),
            ),
            self._attribute("urn:etoegang:core:LegalSubjectID", *legal),
        ]
        if s.branch_number:
            attributes.append(
                self._attribute(
                    "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr",
                    self._string(s.branch_number),
                )
            )
        if s.company_name:
            attributes.append(
                self._attribute(
                    "urn:etoegang:1.11:attribute-represented:CompanyName",
                    self._string(s.company_name),
                )
            )
        if s.intermediary_kvk_number:
            attributes.append(
                self._attribute(
                    "urn:etoegang:1.9:IntermediateEntityID:KvKnr",
                    self._encrypted_id(
                        s.intermediary_kvk_number, "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
                    ),
                )
            )
        if s.intermediary_name:
            attributes.append(
                self._attribute(
                    "urn:etoegang:1.13:attribute-intermediate:CompanyName",
                    self._string(s.intermediary_name),
                )
            )
        until = _instant(now + dt.timedelta(minutes=5))
        assertion = f"""<saml:Assertion xmlns:saml="{NS["saml"]}" ID="_{uuid.uuid4().hex}" IssueInstant="{_instant(now)}" Version="2.0"><saml:Issuer>{self.entity_id}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">{uuid.uuid4()}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{pending.request_id}" NotOnOrAfter="{until}" Recipient={quoteattr(pending.acs_url)}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{_instant(now - dt.timedelta(minutes=1))}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{SP_ENTITY_ID}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{_instant(now)}"><saml:AuthnContext><saml:AuthnContextClassRef>{escape(s.loa)}</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>urn:etoegang:EH:{BROKER_OIN}:entities:9113</saml:AuthenticatingAuthority></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{"".join(attributes)}</saml:AttributeStatement></saml:Assertion>"""  # noqa: E501
        return self._sign(assertion, s.assertion_signer)

    def _response(self, pending: Pending) -> str:
        now = dt.datetime.now(dt.UTC)
        s = pending.scenario
        status = _status(s.status)
        assertion = self._assertion(pending, now) if s.status == (SUCCESS,) else ""
        return (
            f'<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}"'
            f' ID="_{uuid.uuid4().hex}" InResponseTo="{pending.request_id}" Version="2.0"'
            f' IssueInstant="{_instant(now)}" Destination={quoteattr(pending.acs_url)}>'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>{status}{assertion}</samlp:Response>"
        )

    def _artifact_response(self, resolve_id: str, response: str, scenario: Scenario | None) -> str:
        now = dt.datetime.now(dt.UTC)
        return (
            f'<samlp:ArtifactResponse xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}"'
            f' ID="_{uuid.uuid4().hex}" InResponseTo="{resolve_id}" Version="2.0"'
            f' IssueInstant="{_instant(now)}"><saml:Issuer>{self.entity_id}</saml:Issuer>'
            f"{_status((SUCCESS,))}{response}</samlp:ArtifactResponse>"
        )

    def _envelope(self, artifact_response: str, *, signer: str | None) -> bytes:
        signed = self._sign(artifact_response, signer)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{NS["soap"]}"><soapenv:Body>'
            f"{signed}</soapenv:Body></soapenv:Envelope>"
        ).encode()


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(codes: tuple[str, ...]) -> str:
    inner = ""
    for code in reversed(codes):
        inner = f'<samlp:StatusCode Value="{code}">{inner}</samlp:StatusCode>'
    return f"<samlp:Status>{inner}</samlp:Status>"


# --- the servers -------------------------------------------------------------------------


class _SsoHandler(BaseHTTPRequestHandler):
    broker: TestBroker

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        pending_artifact = self.broker.issue_artifact(form["SAMLRequest"][0])
        acs_url = self.broker.pending[pending_artifact].acs_url
        query = {"SAMLart": pending_artifact}
        if form.get("RelayState"):
            query["RelayState"] = form["RelayState"][0]
        self.send_response(302)
        self.send_header("Location", f"{acs_url}?{urlencode(query)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ArsHandler(BaseHTTPRequestHandler):
    broker: TestBroker

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        client_cert = self.connection.getpeercert()  # type: ignore[attr-defined]
        answer = self.broker.resolve(body, client_cert)
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_broker(pki: Pki) -> Iterator[TestBroker]:
    """The broker's SSO (HTTP) and artifact resolution (HTTPS, client certificate
    required, issued by the test CA) endpoints on ephemeral ports of 127.0.0.1."""
    broker = TestBroker(pki)
    sso_handler = type("SsoHandler", (_SsoHandler,), {"broker": broker})
    ars_handler = type("ArsHandler", (_ArsHandler,), {"broker": broker})
    sso = ThreadingHTTPServer(("127.0.0.1", 0), sso_handler)
    ars = ThreadingHTTPServer(("127.0.0.1", 0), ars_handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.broker_tls.cert_file, pki.broker_tls.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca_file)
    ars.socket = context.wrap_socket(ars.socket, server_side=True)
    broker.sso_url = f"http://127.0.0.1:{sso.server_address[1]}/sso"
    broker.ars_url = f"https://127.0.0.1:{ars.server_address[1]}/ars"
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (sso, ars)]
    for thread in threads:
        thread.start()
    try:
        yield broker
    finally:
        for server in (sso, ars):
            server.shutdown()
            server.server_close()
