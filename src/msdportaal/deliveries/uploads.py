"""Streaming upload handling: never hold an upload in memory (DESIGN.md §7)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class HashedUploadedFile(TemporaryUploadedFile):
    sha256: str


class HashingUploadHandler(FileUploadHandler):
    """Writes each file to a temporary file on the media disk as the chunks arrive.

    SHA-256 and size are computed on the way in, so the file is read once. A file that
    grows past ``MSD_UPLOAD_MAX_BYTES`` is dropped at that moment (the rest of its bytes
    are read and discarded) and its name is put on ``request.upload_refusals``, so the
    view can say what happened instead of failing the whole request.
    """

    chunk_size = 1024 * 1024

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        if request is not None and not hasattr(request, "upload_refusals"):
            request.upload_refusals = []

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.hasher = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > settings.MSD_UPLOAD_MAX_BYTES:
            self.file.close()  # removes the temporary file
            if self.request is not None:
                self.request.upload_refusals.append(("too_large", self.file_name))
            raise SkipFile
        self.hasher.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.hasher.hexdigest()
        return self.file
