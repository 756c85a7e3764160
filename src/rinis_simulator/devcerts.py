"""Development PKI: a private CA plus the certificates the portal and simulator need.

Digikoppeling requires two-sided TLS with PKIoverheid certificates. In development and
in tests we cannot use those, but we still want the *same* code paths (client
certificates, CA pinning, OIN in the subject), so this module creates a small dev CA
and signs everything with it:

============================  ==========================================================
file                           use
============================  ==========================================================
``ca.pem`` / ``ca-key.pem``    the development CA (trust anchor for every party)
``simulator.pem`` (+ key)      server certificate of the simulator (SAN 127.0.0.1, ::1,
                               localhost)
``portal-client.pem`` (+ key)  client certificate of the portal (CN=MSDPortaal) when it
                               calls the simulator
``rinis-client.pem`` (+ key)   client certificate of "RINIS" (CN=RINIS, serialNumber =
                               OIN-like number) when the simulator calls the portal
                               (Grote Berichten download, inbound reports)
``gemeente-system.pem`` (+ key) a gemeente's own delivering system (API, docs/api.md)
``supplier-system.pem`` (+ key) a supplier's system acting for several gemeenten (API)
``portal-server.pem`` (+ key)  server certificate for the portal's own HTTPS listener
============================  ==========================================================

Generation is idempotent: files that exist, belong to the current CA, still match
their specification and are not about to expire are reused, so ``make run``, the
simulator and the test suite can all call :func:`ensure_dev_certs` on the same directory
(concurrent callers are serialised with a lock file). Keys are RSA 2048 (what
PKIoverheid uses) and written with mode 0600.

CLI: ``python -m rinis_simulator.devcerts <dir> [--force]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: OIN-like number (20 digits) in the subject serialNumber of the RINIS client
#: certificate. Made up for development; the portal authorises RINIS on it, as
#: Digikoppeling prescribes authorisation on the OIN of the client certificate.
RINIS_OIN = "00000001999999990000"
#: OIN-like number of the portal (IB) client certificate.
PORTAL_OIN = "00000001999999991000"

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=825)
DEFAULT_RENEW_BEFORE = dt.timedelta(days=30)
DEFAULT_HOSTNAMES: tuple[str, ...] = ("localhost",)
DEFAULT_IPS: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class LeafSpec:
    """What one leaf certificate must look like; a stored one that differs is replaced."""

    stem: str
    common_name: str
    organisation: str
    serial_number: str | None
    server: bool
    client: bool
    with_san: bool


LEAVES: tuple[LeafSpec, ...] = (
    LeafSpec(
        "simulator",
        "rinis-simulator",
        "RINIS simulator (ontwikkeling)",
        None,
        server=True,
        client=False,
        with_san=True,
    ),
    LeafSpec(
        "portal-client",
        "MSDPortaal",
        "MSD Portaal (ontwikkeling)",
        PORTAL_OIN,
        server=False,
        client=True,
        with_san=False,
    ),
    LeafSpec(
        "rinis-client",
        "RINIS",
        "RINIS (ontwikkeling)",
        RINIS_OIN,
        server=False,
        client=True,
        with_san=False,
    ),
    # Systems that deliver through the API (docs/api.md): a gemeente's own, a supplier's.
    LeafSpec(
        "gemeente-system",
        "Aanleversysteem gemeente",
        "Gemeente (ontwikkeling)",
        None,
        server=False,
        client=True,
        with_san=False,
    ),
    LeafSpec(
        "supplier-system",
        "Aanleversysteem leverancier",
        "Leverancier (ontwikkeling)",
        None,
        server=False,
        client=True,
        with_san=False,
    ),
    LeafSpec(
        "portal-server",
        "msdportaal.localhost",
        "MSD Portaal (ontwikkeling)",
        None,
        server=True,
        client=False,
        with_san=True,
    ),
)


@dataclass(frozen=True)
class CertPair:
    """Paths of one certificate and its private key (PEM)."""

    cert: Path
    key: Path

    def as_tuple(self) -> tuple[str, str]:
        """Return ``(cert, key)`` as strings, the form ``requests``' ``cert=`` takes."""
        return (str(self.cert), str(self.key))


@dataclass(frozen=True)
class DevCerts:
    """The full set of development certificates in one directory."""

    directory: Path
    ca: CertPair
    simulator: CertPair
    portal_client: CertPair
    rinis_client: CertPair
    gemeente_system: CertPair
    supplier_system: CertPair
    portal_server: CertPair

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: pass it as ``verify=`` / ``cafile``."""
        return self.ca.cert

    @classmethod
    def at(cls, directory: Path) -> DevCerts:
        """Describe the predictable file names in *directory* (does not create anything)."""
        directory = Path(directory)

        def pair(stem: str) -> CertPair:
            return CertPair(directory / f"{stem}.pem", directory / f"{stem}-key.pem")

        return cls(
            directory=directory,
            ca=pair("ca"),
            simulator=pair("simulator"),
            portal_client=pair("portal-client"),
            rinis_client=pair("rinis-client"),
            gemeente_system=pair("gemeente-system"),
            supplier_system=pair("supplier-system"),
            portal_server=pair("portal-server"),
        )

    def pair(self, stem: str) -> CertPair:
        """Look a pair up by its file stem (``"rinis-client"``)."""
        return getattr(self, stem.replace("-", "_"))


def ensure_dev_certs(
    directory: Path | str,
    *,
    renew_before: dt.timedelta = DEFAULT_RENEW_BEFORE,
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
    ips: Sequence[str] = DEFAULT_IPS,
    force: bool = False,
) -> DevCerts:
    """Create (or reuse) the development CA and certificates in *directory*.

    Safe to call from several processes at once and cheap when everything is already
    in place, so callers (``make run``, the simulator, pytest fixtures) simply call it
    every time instead of keeping track of whether certificates exist.
    """
    certs = DevCerts.at(Path(directory))
    certs.directory.mkdir(parents=True, exist_ok=True)
    with _locked(certs.directory / ".devcerts.lock"):
        now = _now()
        ca_cert, ca_key, ca_new = _ensure_ca(certs.ca, now, renew_before, force)
        for spec in LEAVES:
            _ensure_leaf(
                certs.pair(spec.stem),
                spec,
                ca_cert,
                ca_key,
                now,
                renew_before,
                force or ca_new,
                tuple(hostnames),
                tuple(ips),
            )
    return certs


def create_ca(
    common_name: str = "MSD Portaal ontwikkel-CA",
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Create a self-signed CA in memory (tests use it for a "foreign" CA, too)."""
    now = _now()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MSD Portaal ontwikkeling"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
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
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_leaf(
    spec: LeafSpec,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    *,
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
    ips: Sequence[str] = DEFAULT_IPS,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Issue one leaf certificate for *spec*, signed by the given CA."""
    now = _now()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_after = min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc)
    usages = []
    if spec.server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if spec.client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_leaf_name(spec))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
    )
    if spec.with_san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_san_entries(hostnames, ips)), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


# --------------------------------------------------------------------------- internals


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise generation between processes sharing the directory."""
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _leaf_name(spec: LeafSpec) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name),
    ]
    if spec.serial_number:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, spec.serial_number))
    return x509.Name(attributes)


def _san_entries(hostnames: Sequence[str], ips: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    entries += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    return entries


def _load(pair: CertPair) -> tuple[x509.Certificate, rsa.RSAPrivateKey] | None:
    """Load a stored pair, or ``None`` when missing, unreadable or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        return None
    return cert, key


def _fresh(cert: x509.Certificate, now: dt.datetime, renew_before: dt.timedelta) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - renew_before > now


def _signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    if cert.issuer != ca_cert.subject:
        return False
    public_key = ca_cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert cert.signature_hash_algorithm is not None
    try:
        public_key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    except InvalidSignature:
        return False
    return True


def _matches(
    cert: x509.Certificate, spec: LeafSpec, hostnames: tuple[str, ...], ips: tuple[str, ...]
) -> bool:
    if cert.subject != _leaf_name(spec):
        return False
    if not spec.with_san:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(san) == set(_san_entries(hostnames, ips))


def _ensure_ca(
    pair: CertPair, now: dt.datetime, renew_before: dt.timedelta, force: bool
) -> tuple[x509.Certificate, rsa.RSAPrivateKey, bool]:
    loaded = None if force else _load(pair)
    if loaded is not None and _fresh(loaded[0], now, renew_before):
        return loaded[0], loaded[1], False
    cert, key = create_ca()
    _write_pair(pair, cert, key)
    return cert, key, True


def _ensure_leaf(
    pair: CertPair,
    spec: LeafSpec,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    now: dt.datetime,
    renew_before: dt.timedelta,
    force: bool,
    hostnames: tuple[str, ...],
    ips: tuple[str, ...],
) -> None:
    loaded = None if force else _load(pair)
    if (
        loaded is not None
        and _fresh(loaded[0], now, renew_before)
        and _signed_by(loaded[0], ca_cert)
        and _matches(loaded[0], spec, hostnames, ips)
    ):
        return
    cert, key = issue_leaf(spec, ca_cert, ca_key, hostnames=hostnames, ips=ips)
    _write_pair(pair, cert, key)


def _write_pair(pair: CertPair, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> None:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(pair.key, key_pem, 0o600)
    _atomic_write(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a reader never sees half a PEM."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: create or refresh the development certificates in a directory."""
    parser = argparse.ArgumentParser(
        prog="python -m rinis_simulator.devcerts",
        description="Maak (of hergebruik) de ontwikkel-CA en certificaten.",
    )
    parser.add_argument("directory", type=Path, help="doelmap, bijv. var/certs")
    parser.add_argument("--force", action="store_true", help="alles opnieuw aanmaken")
    args = parser.parse_args(argv)
    certs = ensure_dev_certs(args.directory, force=args.force)
    for label, pair in (
        ("CA", certs.ca),
        ("simulator (server)", certs.simulator),
        ("portal (client)", certs.portal_client),
        ("RINIS (client)", certs.rinis_client),
        ("portal (server)", certs.portal_server),
    ):
        print(f"{label:20} {pair.cert}  {pair.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
