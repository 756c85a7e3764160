"""Serving a stored file with HTTP Range, If-Range and ETag (RFC 9110 §14), streamed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
BLOCK = 256 * 1024


def _stream(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            block = handle.read(min(BLOCK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()


def ranged_file_response(
    request: HttpRequest,
    handle: BinaryIO,
    *,
    size: int,
    etag: str,
    content_type: str,
    filename: str,
) -> HttpResponse:
    """200 with the whole file, 206 with one range, or 416; HEAD supported.

    Only single ranges are served (what a resuming downloader asks); a multi-range
    request gets the whole file, which RFC 9110 allows.
    """
    quoted_etag = f'"{etag}"'
    start, end = 0, size - 1
    status = 200
    requested = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    match = _RANGE.match(requested.strip()) if requested else None
    if match and (if_range is None or if_range == quoted_etag):
        first, last = match.groups()
        if first == "" and last == "":
            match = None
        elif first == "":
            start = max(0, size - int(last))
        else:
            start = int(first)
            end = min(size - 1, int(last)) if last else size - 1
        if match is not None:
            if start >= size or start > end:
                handle.close()
                response = HttpResponse(status=416)
                response["Content-Range"] = f"bytes */{size}"
                return response
            status = 206
    length = end - start + 1 if size else 0
    if request.method == "HEAD":
        handle.close()
        response: HttpResponse = HttpResponse(status=status)
    else:
        response = StreamingHttpResponse(_stream(handle, start, length), status=status)
    response["Content-Type"] = content_type
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = quoted_etag
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
