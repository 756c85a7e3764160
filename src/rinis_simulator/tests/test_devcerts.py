"""Development certificates: predictable names, idempotent, the right identities."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rinis_simulator.devcerts import PORTAL_OIN, RINIS_OIN, DevCerts, ensure_dev_certs

SRC = Path(__file__).resolve().parents[2]
EXPECTED = [
    "ca.pem",
    "ca-key.pem",
    "simulator.pem",
    "simulator-key.pem",
    "portal-client.pem",
    "portal-client-key.pem",
    "rinis-client.pem",
    "rinis-client-key.pem",
    "portal-server.pem",
    "portal-server-key.pem",
]


def load(path: Path) -> x509.Certificate:
    """Read one PEM certificate."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    """One attribute of the subject."""
    return str(cert.subject.get_attributes_for_oid(oid)[0].value)


def test_files_have_predictable_names_and_private_keys(certs: DevCerts) -> None:
    for name in EXPECTED:
        assert (certs.directory / name).is_file(), name
    for key in certs.directory.glob("*-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_all_leaves_are_signed_by_the_dev_ca(certs: DevCerts) -> None:
    ca = load(certs.ca_cert)
    for stem in ("simulator", "portal-client", "rinis-client", "portal-server"):
        leaf = load(certs.pair(stem).cert)
        leaf.verify_directly_issued_by(ca)


def test_identities(certs: DevCerts) -> None:
    rinis = load(certs.rinis_client.cert)
    assert subject(rinis, NameOID.COMMON_NAME) == "RINIS"
    serial = subject(rinis, NameOID.SERIAL_NUMBER)
    assert serial == RINIS_OIN
    assert len(serial) == 20
    assert serial.isdigit()
    portal = load(certs.portal_client.cert)
    assert subject(portal, NameOID.COMMON_NAME) == "MSDPortaal"
    assert subject(portal, NameOID.SERIAL_NUMBER) == PORTAL_OIN
    for client_cert in (rinis, portal):
        usage = client_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    for stem in ("simulator", "portal-server"):
        server = load(certs.pair(stem).cert)
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert set(san.get_values_for_type(x509.IPAddress)) == {
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        }


def test_second_call_reuses_everything(tmp_path: Path) -> None:
    ensure_dev_certs(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in EXPECTED}
    ensure_dev_certs(tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in EXPECTED} == before


def test_expiring_leaf_is_replaced_ca_kept(tmp_path: Path) -> None:
    ensure_dev_certs(tmp_path)
    ca_before = (tmp_path / "ca.pem").read_bytes()
    leaf_before = (tmp_path / "simulator.pem").read_bytes()
    # "expiring" = closer to its end than renew_before: ask for more than a leaf lives.
    ensure_dev_certs(tmp_path, renew_before=dt.timedelta(days=1000))
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    assert (tmp_path / "simulator.pem").read_bytes() != leaf_before


def test_new_ca_reissues_all_leaves(tmp_path: Path) -> None:
    ensure_dev_certs(tmp_path)
    (tmp_path / "ca-key.pem").unlink()
    certs = ensure_dev_certs(tmp_path)
    ca = load(certs.ca_cert)
    for stem in ("simulator", "portal-client", "rinis-client", "portal-server"):
        load(certs.pair(stem).cert).verify_directly_issued_by(ca)


def test_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rinis_simulator.devcerts", str(tmp_path / "c")],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "rinis-client.pem" in result.stdout
    assert (tmp_path / "c" / "ca.pem").is_file()
