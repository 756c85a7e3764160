"""CLI: ``python -m tls_front --listen 127.0.0.1:8001 --upstream 127.0.0.1:8000 ...``.

``--upstream`` may be given more than once: requests are then balanced round-robin, and an
upstream that does not accept the connection is skipped (like an nginx ``upstream``).

Kept separate from :mod:`tls_front.proxy` so importing the proxy (tests, fixtures) never
touches logging configuration or signal handlers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from .proxy import ProxyConfig, build_server_context, install_signal_stop, parse_address, serve

logger = logging.getLogger("tls_front")


def _address(value: str) -> tuple[str, int]:
    try:
        return parse_address(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="python -m tls_front",
        description=(
            "TLS-terminating reverse proxy for development: verifies client certificates "
            "and passes them to the upstream in X-SSL-Client-Cert / X-SSL-Client-Verify, "
            "like the production nginx. The shared secret the portal expects in "
            "X-MSD-Proxy-Secret is read from the environment variable MSD_PROXY_SECRET "
            "(not an argument, so it does not show in the process list)."
        ),
    )
    parser.add_argument("--listen", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument(
        "--upstream",
        type=_address,
        required=True,
        action="append",
        metavar="HOST:PORT",
        help="the portal; give it more than once for round-robin with fail-over",
    )
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server private key (PEM)")
    parser.add_argument("--ca", type=Path, required=True, help="CA for client certificates")
    parser.add_argument(
        "--verify-client",
        choices=("optional", "required"),
        default="optional",
        help="like nginx ssl_verify_client (default: optional)",
    )
    parser.add_argument("--log-level", default="INFO", help="default: INFO")
    return parser


async def _run(config: ProxyConfig) -> None:
    stop = asyncio.Event()
    remove = install_signal_stop(stop)
    try:
        await serve(config, stop)
    finally:
        remove()


def _config(args: argparse.Namespace, proxy_secret: str) -> ProxyConfig:
    (listen_host, listen_port) = args.listen
    (upstream_host, upstream_port), *more = args.upstream
    return ProxyConfig(
        listen_host=listen_host,
        listen_port=listen_port,
        upstream_host=upstream_host,
        upstream_port=upstream_port,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        verify_client=args.verify_client,
        proxy_secret=proxy_secret,
        more_upstreams=tuple(more),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, check the certificate files, and serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    proxy_secret = os.environ.get("MSD_PROXY_SECRET", "")
    if not proxy_secret:
        logger.warning("MSD_PROXY_SECRET is not set: the portal will ignore client certificates")
    try:
        config = _config(args, proxy_secret)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    try:  # fail fast, with a readable message, on missing or mismatched files
        build_server_context(config.cert, config.key, config.ca, config.verify_client)
    except (OSError, ssl.SSLError) as exc:
        logger.error("cannot load certificates: %s", exc)
        return 2
    try:
        asyncio.run(_run(config))
    except OSError as exc:  # e.g. address already in use
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
