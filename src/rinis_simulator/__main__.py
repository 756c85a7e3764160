"""Command line: ``python -m rinis_simulator serve|certs``.

Every ``serve`` option has an environment variable (``RINIS_SIM_<OPTION>``, e.g.
``RINIS_SIM_PORT=9443``) so ``make run`` / Procfiles can configure it without flags;
a flag wins over the environment. The process stops cleanly on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .config import AUTO_REPORT_MODES, SimulatorConfig

ENV_PREFIX = "RINIS_SIM_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "ja", "on")


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from the environment, then from the config."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m rinis_simulator",
        description="RINIS/CBS-simulator voor MSD Portaal (StUF-GGk Di01 → Bv03/Fo03).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start de simulator")
    serve.add_argument("--host", default=_env("HOST", defaults.host))
    serve.add_argument("--port", type=int, default=int(_env("PORT", str(defaults.port))))
    serve.add_argument(
        "--control-host",
        default=_env("CONTROL_HOST", defaults.control_host),
        help="alleen loopback-adressen",
    )
    serve.add_argument(
        "--control-port", type=int, default=int(_env("CONTROL_PORT", str(defaults.control_port)))
    )
    serve.add_argument("--soap-path", default=_env("SOAP_PATH", defaults.soap_path))
    serve.add_argument(
        "--certs-dir",
        type=Path,
        default=Path(_env("CERTS_DIR", str(defaults.certs_dir))),
        help="map met ontwikkelcertificaten (aangemaakt indien nodig)",
    )
    serve.add_argument(
        "--cert",
        type=Path,
        default=_optional_path(_env("CERT")),
        help="servercertificaat (PEM); standaard <certs-dir>/simulator.pem",
    )
    serve.add_argument("--key", type=Path, default=_optional_path(_env("KEY")))
    serve.add_argument(
        "--ca",
        type=Path,
        default=_optional_path(_env("CA")),
        help="CA voor clientcertificaten; standaard <certs-dir>/ca.pem",
    )
    serve.add_argument(
        "--no-generate-certs", action="store_true", default=not _env_bool("GENERATE_CERTS", True)
    )
    serve.add_argument("--storage", type=Path, default=Path(_env("STORAGE", str(defaults.storage))))
    serve.add_argument(
        "--xsd", type=Path, default=Path(_env("XSD", str(defaults.xsd))), help="ggk0310_msg.xsd"
    )
    serve.add_argument("--gb-xsd", type=Path, default=Path(_env("GB_XSD", str(defaults.gb_xsd))))
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(_env("MAX_BODY_BYTES", str(defaults.max_body_bytes))),
    )
    serve.add_argument(
        "--functies",
        default=_env("FUNCTIES", ",".join(defaults.functies)),
        help="bekende stuurgegevens.functie-waarden, komma-gescheiden",
    )
    serve.add_argument(
        "--gb-client-cert",
        type=Path,
        default=_optional_path(_env("GB_CLIENT_CERT")),
        help="clientcertificaat voor Grote Berichten; standaard rinis-client.pem",
    )
    serve.add_argument("--gb-client-key", type=Path, default=_optional_path(_env("GB_CLIENT_KEY")))
    serve.add_argument("--gb-ca", type=Path, default=_optional_path(_env("GB_CA")))
    serve.add_argument(
        "--gb-max-attempts",
        type=int,
        default=int(_env("GB_MAX_ATTEMPTS", str(defaults.gb_max_attempts))),
    )
    serve.add_argument(
        "--portal-url",
        default=_env("PORTAL_URL", defaults.portal_url),
        help="inbound-endpoint van het portaal voor CBS-rapporten (Du01/Di01); "
        f"standaard {defaults.portal_url}",
    )
    serve.add_argument(
        "--report-client-cert",
        type=Path,
        default=_optional_path(_env("REPORT_CLIENT_CERT")),
        help="clientcertificaat voor rapporten; standaard <certs-dir>/rinis-client.pem",
    )
    serve.add_argument(
        "--report-client-key", type=Path, default=_optional_path(_env("REPORT_CLIENT_KEY"))
    )
    serve.add_argument(
        "--report-ca",
        type=Path,
        default=_optional_path(_env("REPORT_CA")),
        help="CA voor het servercertificaat van het portaal; standaard <certs-dir>/ca.pem",
    )
    serve.add_argument(
        "--auto-report",
        choices=AUTO_REPORT_MODES,
        default=_env("AUTO_REPORT", defaults.auto_report),
        help="rapport terugsturen na elke geaccepteerde aanlevering (alternate: "
        "foutrapport, op_orde, foutrapport, …)",
    )
    serve.add_argument(
        "--auto-report-delay",
        type=float,
        default=float(_env("AUTO_REPORT_DELAY", str(defaults.auto_report_delay_seconds)) or 0),
        help="seconden tussen Bv03 (of voltooide GB-download) en het rapport",
    )
    serve.add_argument(
        "--report-max-attempts",
        type=int,
        default=int(_env("REPORT_MAX_ATTEMPTS", str(defaults.report_max_attempts)) or 1),
    )
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))

    certs = sub.add_parser("certs", help="maak/hergebruik de ontwikkelcertificaten")
    certs.add_argument(
        "directory", type=Path, nargs="?", default=Path(_env("CERTS_DIR", str(defaults.certs_dir)))
    )
    certs.add_argument("--force", action="store_true")
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Translate parsed ``serve`` options into a :class:`SimulatorConfig`."""
    functies = tuple(f.strip() for f in args.functies.split(",") if f.strip())
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        control_host=args.control_host,
        control_port=args.control_port,
        soap_path=args.soap_path,
        certs_dir=args.certs_dir,
        generate_certs=not args.no_generate_certs,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        storage=args.storage,
        xsd=args.xsd,
        gb_xsd=args.gb_xsd,
        max_body_bytes=args.max_body_bytes,
        functies=functies,
        gb_client_cert=args.gb_client_cert,
        gb_client_key=args.gb_client_key,
        gb_ca=args.gb_ca,
        gb_max_attempts=args.gb_max_attempts,
        portal_url=args.portal_url or None,
        report_client_cert=args.report_client_cert,
        report_client_key=args.report_client_key,
        report_ca=args.report_ca,
        auto_report=args.auto_report,
        auto_report_delay_seconds=args.auto_report_delay,
        report_max_attempts=args.report_max_attempts,
    )


def serve(config: SimulatorConfig) -> int:
    """Run until SIGINT/SIGTERM."""
    from .server import Simulator  # imported here so ``certs`` stays light

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("rinis_simulator").info(
            "Signaal %s: stoppen", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    simulator = Simulator(config).start()
    print(
        f"RINIS-simulator klaar: soap={simulator.soap_url} control={simulator.control_url} "
        f"opslag={config.storage} portaal={config.portal_url or '-'} "
        f"auto-rapport={config.auto_report}",
        flush=True,
    )
    try:
        while not stop.wait(3600):
            pass
    finally:
        simulator.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m rinis_simulator``."""
    args = build_parser().parse_args(argv)
    if args.command == "certs":
        from .devcerts import main as certs_main

        return certs_main([str(args.directory), *(["--force"] if args.force else [])])
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
        config.check()
    except ValueError as exc:
        print(f"Ongeldige configuratie: {exc}", file=sys.stderr)
        return 2
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
