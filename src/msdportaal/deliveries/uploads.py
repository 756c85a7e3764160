"""Streaming upload handling: never hold an upload in memory (DESIGN.md §7).

Two rules beyond Django's own parsing (docs/security.md, "Uploads: exact names, nothing
left behind"):

- A file is forwarded under exactly the name the user's browser sent. Django's parser
  strips folders, unescapes HTML entities and drops non-printable characters; a name that
  would be changed that way is refused, never rewritten.
- Whatever goes wrong while a body is read (a limit, a broken body, a cut connection), no
  temporary file stays behind, and the view gets to say in Dutch what happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse, QueryDict, UnreadablePostError
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict

from msdportaal.core.storage import ensure_upload_temp_dir

# What went wrong with the body as a whole, for the view (request.upload_failure).
TOO_MANY_FILES = "too_many_files"
TOO_MANY_FIELDS = "too_many_fields"
FIELD_TOO_BIG = "field_too_big"
BROKEN = "broken"
PART_HEADER_TOO_BIG = "part_header_too_big"

# Django refuses a part whose headers (the file name among them) exceed
# django.http.multipartparser.MAX_TOTAL_HEADER_SIZE with a plain MultiPartParserError;
# only its text tells it from a broken body.
_PART_HEADER_TOO_BIG_TEXT = "Request max total header size exceeded."

_FAILURES: dict[type[BaseException], str] = {
    TooManyFilesSent: TOO_MANY_FILES,
    TooManyFieldsSent: TOO_MANY_FIELDS,
    RequestDataTooBig: FIELD_TOO_BIG,
    MultiPartParserError: BROKEN,
    UnreadablePostError: BROKEN,
}


def django_sanitised(name: str) -> str | None:
    """The name Django's parser would hand on for *name* (it does not use ``self``)."""
    return MultiPartParser.sanitize_file_name(cast(MultiPartParser, None), name)


class HashedUploadedFile(TemporaryUploadedFile):
    sha256: str


class ExactNameMultiPartParser(MultiPartParser):
    """Hands file names on exactly as sent; :class:`HashingUploadHandler` judges them."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        return file_name or None


class HashingUploadHandler(FileUploadHandler):
    """Writes each file to a temporary file on the media disk as the chunks arrive.

    SHA-256 and size are computed on the way in, so the file is read once. A file that
    grows past ``MSD_UPLOAD_MAX_BYTES`` is dropped at that moment (the rest of its bytes
    are read and discarded), as is a file whose name Django would have changed, and a
    file whose body ends before its closing boundary. Each goes on
    ``request.upload_refusals`` as ``(reason, name)``, so the view can say what happened
    instead of failing the whole request.
    """

    chunk_size = 1024 * 1024

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        if request is not None and not hasattr(request, "upload_refusals"):
            request.upload_refusals = []

    def _refuse(self, reason: str, name: str) -> None:
        if self.request is not None:
            self.request.upload_refusals.append((reason, name))

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        # The previous file, if any, is complete and belongs to the parser now.
        self.__dict__.pop("file", None)
        if django_sanitised(self.file_name) != self.file_name:
            self._refuse("name_changed", self.file_name)
            raise SkipFile  # before any byte is written: no temporary file
        ensure_upload_temp_dir()
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.hasher = hashlib.sha256()
        self.received = 0
        self.max_bytes = settings.MSD_UPLOAD_MAX_BYTES

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.discard()
            self._refuse("too_large", self.file_name)
            raise SkipFile
        self.hasher.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        file = self.file
        del self.file  # the parser owns it now; discard() must not remove it
        file.seek(0)
        file.size = file_size
        file.sha256 = self.hasher.hexdigest()
        return file

    def upload_interrupted(self) -> None:
        """The body ended inside a file (no closing boundary, or the client went away)."""
        if hasattr(self, "file"):
            self.discard()
            self._refuse("incomplete", self.file_name)

    def discard(self) -> None:
        """Removes the file being received, if any (closing a temporary file deletes it)."""
        file = self.__dict__.pop("file", None)
        if file is not None:
            file.close()


def receives_uploads[V: Callable[..., Any]](view: V) -> V:
    """Marks a view whose multipart body :class:`UploadParsingMiddleware` parses."""
    view.receives_uploads = True  # type: ignore[attr-defined]
    return view


class UploadParsingMiddleware:
    """Parses the multipart body for a view marked with :func:`receives_uploads`, using
    :class:`ExactNameMultiPartParser`, before CSRF reads it.

    A body Django refuses as a whole (too many files or fields, a field too large, a broken
    body) leaves no temporary file and an empty ``request.FILES``; ``request.upload_failure``
    says why. Only the CSRF token parsed before the failure is kept, so the CSRF check
    still decides whether the request is answered at all.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], *args: Any) -> None:
        if (
            getattr(view_func, "receives_uploads", False)
            and request.method == "POST"
            and request.content_type == "multipart/form-data"
        ):
            self._parse(request)

    def _parse(self, request: HttpRequest) -> None:
        handlers = request.upload_handlers
        parser: ExactNameMultiPartParser | None = None
        try:
            parser = ExactNameMultiPartParser(request.META, request, handlers, request.encoding)
            post, files = parser.parse()  # closes (removes) completed files when it fails
        except BaseException as exc:
            for handler in handlers:
                if isinstance(handler, HashingUploadHandler):
                    handler.discard()
            failure = next((v for k, v in _FAILURES.items() if isinstance(exc, k)), None)
            if failure == BROKEN and str(exc) == _PART_HEADER_TOO_BIG_TEXT:
                failure = PART_HEADER_TOO_BIG
            if failure is None:
                raise
            _refuse_body(request, failure, getattr(parser, "_post", None), MultiValueDict())
            return
        if any(reason == "incomplete" for reason, _name in request.upload_refusals):
            # An aborted request delivers nothing, not even the files that did arrive whole.
            _refuse_body(request, BROKEN, post, files)
            return
        request._post, request._files = post, files  # type: ignore[attr-defined]


def _refuse_body(
    request: HttpRequest, failure: str, post: QueryDict | None, files: MultiValueDict
) -> None:
    for _field, uploads in files.lists():
        for upload in uploads:
            upload.close()
    request.upload_failure = failure  # type: ignore[attr-defined]
    kept = QueryDict(mutable=True)
    if post is not None and "csrfmiddlewaretoken" in post:
        kept["csrfmiddlewaretoken"] = post["csrfmiddlewaretoken"]
    request._post, request._files = kept, MultiValueDict()  # type: ignore[attr-defined]
