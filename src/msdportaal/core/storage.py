"""Reading stored files (deliveries, CBS reports, consent CSVs) as a stream.

The default storage is the local disk (``MEDIA_ROOT``) or S3-compatible object storage
(``MSD_S3_BUCKET``, see ``conf/s3.py``). Every place that hands a stored file on — the
envelope to RINIS, the Grote Berichten download with Range, a report download — opens
it with :func:`open_stored` and reads it in blocks.

On S3, django-storages' own file object downloads the *whole* object into a temporary
file before the first byte can be read. :class:`S3ObjectReader` instead reads straight
from the response of a ranged GET, so memory stays flat, the first byte goes out at once,
and seeking (a resumed Grote Berichten download) costs one new request from that offset
instead of downloading everything before it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.core.files.storage import Storage, default_storage

if TYPE_CHECKING:
    from collections.abc import Buffer

#: Bytes buffered per read from object storage.
S3_READ_BUFFER = 256 * 1024


def ensure_upload_temp_dir() -> Path:
    """``FILE_UPLOAD_TEMP_DIR``, created if it is not there (any more).

    A request's temporary file (an upload while it streams in, a report while RINIS
    delivers it) lives on the node that handles the request and only for that request:
    node-local by design. The folder itself may go (a node cleaned or replaced, a reaper
    of ``MSD_VAR_DIR``); the next request makes it again instead of failing.
    """
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    return folder


def is_s3(storage: Storage) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a dependency
        return False
    return isinstance(storage, S3Storage)  # also through default_storage's lazy proxy


def open_stored(name: str, storage: Storage | None = None) -> BinaryIO:
    """A binary, seekable, closeable file object for a stored file; the caller closes it.

    Raises :class:`FileNotFoundError` when the file does not exist.
    """
    storage = default_storage if storage is None else storage
    if is_s3(storage):
        return io.BufferedReader(S3ObjectReader(storage, name), buffer_size=S3_READ_BUFFER)
    return storage.open(name, "rb")  # type: ignore[return-value]


class S3ObjectReader(io.RawIOBase):
    """A read-only, seekable view of one S3 object that streams.

    ``open`` does a HEAD (size, ETag, and a :class:`FileNotFoundError` now rather than
    halfway). The first read from a position does ``GET`` with ``Range: bytes=<pos>-``
    and ``If-Match: <etag>`` (so a replaced object can never be mixed with the old one)
    and reads the response body in the caller's block size; a seek elsewhere drops that
    response, and the next read starts a new one. Nothing holds more than one block.
    """

    def __init__(self, storage: Any, name: str) -> None:
        from botocore.exceptions import ClientError
        from storages.utils import clean_name

        super().__init__()
        self._body: Any = None  # before anything can fail: close() runs on a failed open too
        self.name = name
        self._object = storage.bucket.Object(storage._normalize_name(clean_name(name)))
        try:
            self._object.load()
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from exc
            raise
        self.size: int = self._object.content_length
        self._etag: str = self._object.e_tag
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._position:
            self._drop_body()
            self._position = target
        return self._position

    def readinto(self, buffer: Buffer) -> int:
        target = memoryview(buffer).cast("B")
        if self._position >= self.size or not len(target):
            return 0
        if self._body is None:
            self._body = self._object.get(Range=f"bytes={self._position}-", IfMatch=self._etag)[
                "Body"
            ]
        data = self._body.read(len(target))
        if not data:
            raise OSError(f"{self.name}: the object ended at byte {self._position} of {self.size}")
        target[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()

    def close(self) -> None:
        self._drop_body()
        super().close()
