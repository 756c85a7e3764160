"""tls_front: a development stand-in for the nginx that terminates (mutual) TLS in production.

``make run`` and the test suite put it in front of the Django app so client-certificate
code paths run exactly as in production, where nginx passes the verified certificate on in
``X-SSL-Client-Cert`` / ``X-SSL-Client-Verify``. See :mod:`tls_front.proxy` for the header
contract and ``python -m tls_front --help`` for the CLI.
"""

from .proxy import (
    CERT_HEADER,
    FOR_HEADER,
    PROTO_HEADER,
    VERIFY_HEADER,
    ProxyConfig,
    ProxyHandle,
    TLSFrontProxy,
    build_server_context,
    serve,
    start_in_thread,
)

__all__ = [
    "CERT_HEADER",
    "FOR_HEADER",
    "PROTO_HEADER",
    "VERIFY_HEADER",
    "ProxyConfig",
    "ProxyHandle",
    "TLSFrontProxy",
    "build_server_context",
    "serve",
    "start_in_thread",
]
