"""The yardstick for bench/upload: the least a WSGI app can do with an upload.

It reads ``wsgi.input`` in 1 MiB chunks and writes them to a file in
``RAW_WSGI_TMP_DIR`` (the same disk the portal writes to), then answers 200. No
multipart parsing, no hashing, no database: what is left is gunicorn, the socket and
the disk. The file is left in place (the portal also keeps its upload); bench/upload
removes it after the measurement.

Run: ``RAW_WSGI_TMP_DIR=/some/dir gunicorn raw_wsgi:application`` with bench/ on the path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

CHUNK = 1024 * 1024
TMP_DIR = os.environ.get("RAW_WSGI_TMP_DIR") or tempfile.gettempdir()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    received = 0
    if remaining:
        fd, _path = tempfile.mkstemp(prefix="raw-", dir=TMP_DIR)
        with os.fdopen(fd, "wb") as out:
            while remaining > 0:
                chunk = stream.read(min(CHUNK, remaining))
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                remaining -= len(chunk)
    body = f"ok {received}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
