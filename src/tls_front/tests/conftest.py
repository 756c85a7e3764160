"""Fixtures: a throwaway PKI, an echo upstream and proxies in front of it.

None of these touch the database, so pytest-django stays out of the way.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tls_front import ProxyHandle, start_in_thread

from .pki import Pki, make_pki
from .upstream import EchoServer


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("tls_front_pki")))


@pytest.fixture(scope="session")
def upstream() -> Iterator[EchoServer]:
    server = EchoServer().start()
    yield server
    server.stop()


#: What the default proxy sends upstream in X-MSD-Proxy-Secret.
PROXY_SECRET = "tls-front-test-secret-0123456789abcdef"


def _proxy(pki: Pki, upstream: str, verify_client: str, proxy_secret: str = "") -> ProxyHandle:
    return start_in_thread(
        "127.0.0.1",
        0,
        upstream,
        pki.server_cert,
        pki.server_key,
        pki.ca,
        verify_client,  # type: ignore[arg-type]
        proxy_secret=proxy_secret,
    )


@pytest.fixture
def proxy(pki: Pki, upstream: EchoServer) -> Iterator[ProxyHandle]:
    """The default set-up: client certificates optional."""
    with _proxy(pki, upstream.address, "optional", PROXY_SECRET) as handle:
        yield handle


@pytest.fixture
def proxy_without_secret(pki: Pki, upstream: EchoServer) -> Iterator[ProxyHandle]:
    with _proxy(pki, upstream.address, "optional") as handle:
        yield handle


@pytest.fixture
def proxy_required(pki: Pki, upstream: EchoServer) -> Iterator[ProxyHandle]:
    with _proxy(pki, upstream.address, "required") as handle:
        yield handle


@pytest.fixture
def proxy_to_nowhere(pki: Pki) -> Iterator[ProxyHandle]:
    """A proxy whose upstream port is bound but not listening: connections are refused."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{blocker.getsockname()[1]}"
        with _proxy(pki, address, "optional") as handle:
            yield handle
