"""Configuration of the simulator: one dataclass, filled from CLI options or RINIS_SIM_* env.

Defaults are chosen for ``make run`` from the repository root: HTTPS on 127.0.0.1:8443,
control on 127.0.0.1:8444, certificates in ``var/certs`` (generated when missing) and
received messages in ``var/simulator``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .devcerts import DevCerts

_SRC_DIR = Path(__file__).resolve().parent.parent

#: The project's copy of the StUF-GGk message schema. Only the *file* is used: the
#: simulator does not import anything from the portal.
DEFAULT_XSD = (
    _SRC_DIR
    / "msdportaal"
    / "transport"
    / "schemas"
    / "stuf-ggk"
    / "ggk0310_21"
    / "ggkberichten"
    / "ggk0310_msg.xsd"
)
#: The project's copy of the Digikoppeling Grote Berichten (pull) schema.
DEFAULT_GB_XSD = (
    _SRC_DIR / "msdportaal" / "transport" / "schemas" / "digikoppeling-gb" / "gb-pull.xsd"
)

#: StUF-GGk: a Di01 is at most 25 MB including the base64 payload; the extra 64 KiB
#: leaves room for the SOAP envelope and WS-Addressing headers around it.
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024 + 64 * 1024

DEFAULT_FUNCTIES = ("MSDAANLEVERING", "MSDTOESTEMMING")

#: Where ``make run`` serves the portal's inbound (OntvangAsynchroon) endpoint: behind
#: tls_front, which checks the client certificate as nginx does in production.
DEFAULT_PORTAL_URL = "https://127.0.0.1:8001/rinis/ggk/"

#: ``--auto-report``: what CBS answers to every accepted delivery (``alternate`` =
#: foutrapport, op_orde, foutrapport, …), or ``off``.
AUTO_REPORT_MODES = ("off", "op_orde", "foutrapport", "alternate")


@dataclass
class SimulatorConfig:
    """Everything the simulator can be told. Paths may be relative to the working dir."""

    host: str = "127.0.0.1"
    port: int = 8443
    control_host: str = "127.0.0.1"
    control_port: int = 8444
    soap_path: str = "/rinis/ggk"

    certs_dir: Path = Path("var/certs")
    #: Generate the dev certificates in ``certs_dir`` when missing or expiring. Only
    #: used for paths not given explicitly below.
    generate_certs: bool = True
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    storage: Path = Path("var/simulator")
    xsd: Path = DEFAULT_XSD
    gb_xsd: Path = DEFAULT_GB_XSD
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    #: stuurgegevens.functie values we know; anything else is StUF034.
    functies: tuple[str, ...] = DEFAULT_FUNCTIES
    #: Who we are: a Di01 addressed to anyone else is StUF010.
    ontvanger_organisatie: str = "CBS"
    ontvanger_applicatie: str = "GGk"
    #: zender.organisatie must be a 4-digit CBS gemeentecode (DESIGN §5); else StUF013.
    zender_organisatie_pattern: str = r"^[0-9]{4}$"
    #: DESIGN §4: the portal always carries its own reference in referentienummerBericht.
    require_referentienummer_bericht: bool = True

    #: Client certificate used to fetch Grote Berichten from the portal (RINIS's).
    gb_client_cert: Path | None = None
    gb_client_key: Path | None = None
    gb_ca: Path | None = None
    gb_max_attempts: int = 5
    gb_retry_base_seconds: float = 0.5
    gb_timeout_seconds: float = 30.0
    #: Decoded payloads up to this size are sniffed for Grote Berichten metadata.
    gb_sniff_max_bytes: int = 1024 * 1024

    #: The portal's inbound endpoint, where CBS's reports (Du01/Di01) are sent.
    portal_url: str | None = DEFAULT_PORTAL_URL
    #: Client certificate for sending reports (RINIS's) and the CA for the portal's
    #: server certificate; default the dev ``rinis-client.pem`` and ``ca.pem``.
    report_client_cert: Path | None = None
    report_client_key: Path | None = None
    report_ca: Path | None = None
    auto_report: str = "off"
    auto_report_delay_seconds: float = 3.0
    report_max_attempts: int = 4
    report_retry_base_seconds: float = 1.0
    report_timeout_seconds: float = 30.0

    handshake_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 120.0

    # ------------------------------------------------------------------ derived paths

    @property
    def dev_certs(self) -> DevCerts:
        """The predictable file names in ``certs_dir``."""
        return DevCerts.at(self.certs_dir)

    @property
    def needs_generated_certs(self) -> bool:
        """Whether any TLS file falls back to ``certs_dir`` (and may be generated)."""
        return self.generate_certs and None in (
            self.cert,
            self.key,
            self.ca,
            self.gb_client_cert,
            self.gb_client_key,
            self.gb_ca,
            self.report_client_cert,
            self.report_client_key,
            self.report_ca,
        )

    @property
    def server_cert(self) -> Path:
        """Server certificate of the SOAP endpoint."""
        return self.cert or self.dev_certs.simulator.cert

    @property
    def server_key(self) -> Path:
        """Private key of the SOAP endpoint."""
        return self.key or self.dev_certs.simulator.key

    @property
    def client_ca(self) -> Path:
        """CA that must have signed every client certificate."""
        return self.ca or self.dev_certs.ca.cert

    @property
    def gb_cert_pair(self) -> tuple[str, str]:
        """``(cert, key)`` the simulator presents when it downloads a Grote Bericht."""
        certs = self.dev_certs
        return (
            str(self.gb_client_cert or certs.rinis_client.cert),
            str(self.gb_client_key or certs.rinis_client.key),
        )

    @property
    def gb_verify(self) -> str:
        """CA used to verify the portal's server certificate during a GB download."""
        return str(self.gb_ca or self.client_ca)

    @property
    def report_cert_pair(self) -> tuple[str, str]:
        """``(cert, key)`` the simulator presents when it sends a report to the portal."""
        certs = self.dev_certs
        return (
            str(self.report_client_cert or certs.rinis_client.cert),
            str(self.report_client_key or certs.rinis_client.key),
        )

    @property
    def report_verify(self) -> str:
        """CA that must have signed the portal's (tls_front's) server certificate."""
        return str(self.report_ca or self.dev_certs.ca.cert)

    def check(self) -> None:
        """Refuse configurations that would make the simulator unsafe or useless."""
        if not _is_loopback(self.control_host):
            raise ValueError(
                f"control_host {self.control_host!r} is geen loopback-adres: de control-"
                "interface heeft geen authenticatie en mag alleen lokaal luisteren"
            )
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes moet positief zijn")
        if not self.functies:
            raise ValueError("er moet minstens één functie bekend zijn")
        if not self.soap_path.startswith("/"):
            raise ValueError("soap_path moet met / beginnen")
        if self.auto_report not in AUTO_REPORT_MODES:
            raise ValueError(
                f"auto_report {self.auto_report!r} onbekend; "
                f"kies uit {', '.join(AUTO_REPORT_MODES)}"
            )
        if self.auto_report_delay_seconds < 0:
            raise ValueError("auto_report_delay_seconds mag niet negatief zijn")
        if self.report_max_attempts < 1:
            raise ValueError("report_max_attempts moet minstens 1 zijn")
        if self.portal_url:
            parts = urlsplit(self.portal_url)
            # Reports travel over mutual TLS only: a plain-HTTP URL would skip the
            # client-certificate check the portal relies on.
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError(f"portal_url moet een https-URL zijn, niet {self.portal_url!r}")
        elif self.auto_report != "off":
            raise ValueError("auto_report vereist een portal_url")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
