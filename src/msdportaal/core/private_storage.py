"""The "privates" storage with object storage: certificates and keys, encrypted at rest.

django-simple-certmanager keeps the certificates and private keys that IB uploads in the
admin (the RINIS client certificate, RINIS's CA, eHerkenning's key pair) in the
``privates`` storage. On one machine that is a folder on local disk. With more than one
node it must be shared, so with ``MSD_S3_BUCKET`` it is the bucket, under the key prefix
``private/`` (``conf/settings.py``), and every file is **encrypted before it leaves the
process** with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under
``MSD_PRIVATE_KEY_ENCRYPTION_KEY``. The bucket, its replicas and its backups hold
ciphertext only; a private key is readable only by a process that has both the bucket
credentials and the key from the environment.

Why a subclass of :class:`~django.core.files.storage.FileSystemStorage` while nothing is
stored on the file system: OpenSSL, and so ``requests`` and python3-saml, load client
certificates and keys from a *path*, and django-digid-eherkenning only hands paths of a
``FileSystemStorage`` to them. :meth:`EncryptedPrivateStorage.path` therefore gives a
path to the **decrypted copy in an anonymous memory file** (``memfd_create``: no name in
any file system, gone with the process) instead of a file on disk. Everything else
(open, save, exists, delete, listing, sizes, times) goes to the inner storage.

Rotating the key: put the new key first in ``MSD_PRIVATE_KEY_ENCRYPTION_KEY`` (comma-
separated; the first encrypts, all decrypt), then ``manage.py private_files rotate``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages

#: Certificates and keys are a few KB; anything this large is not one.
MAX_PRIVATE_FILE_BYTES = 1024 * 1024


def fernet_keys(value: str | Iterable[str]) -> MultiFernet:
    """A MultiFernet from comma-separated (or listed) Fernet keys; the first encrypts."""
    keys = [k.strip() for k in (value.split(",") if isinstance(value, str) else value)]
    keys = [k for k in keys if k]
    if not keys:
        raise ImproperlyConfigured("MSD_PRIVATE_KEY_ENCRYPTION_KEY is empty.")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "MSD_PRIVATE_KEY_ENCRYPTION_KEY: every key must be a Fernet key (32 bytes, "
            "URL-safe base64; python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from exc


class DecryptedFile(ContentFile):
    """A decrypted private file in memory that can be reopened in another mode.

    ``FieldFile.open(mode)`` reopens the file it already has; on disk that rereads the
    path in the new mode, so the libraries open a certificate as ``"rb"`` once and as
    ``"r"`` (text) later. This does the same from the plaintext it holds.
    """

    def __init__(self, plaintext: bytes, name: str, mode: str = "rb") -> None:
        self._plaintext = plaintext
        super().__init__(plaintext, name=name)
        self.open(mode)

    def open(self, mode: str | None = None) -> DecryptedFile:
        self.mode = mode or getattr(self, "mode", "rb")
        if "b" in self.mode:
            self.file = io.BytesIO(self._plaintext)
        else:
            self.file = io.StringIO(self._plaintext.decode("utf-8"))
        return self


class PrivateFileError(OSError):
    """A stored private file that cannot be decrypted with any configured key."""


class EncryptedPrivateStorage(FileSystemStorage):
    """Encrypts on save and decrypts on open; the ciphertext lives in *backend*.

    *backend* is a ``STORAGES``-style entry (``{"BACKEND": ..., "OPTIONS": ...}``) for the
    inner storage, in production S3 (``conf/s3.py``). *keys*: the Fernet keys.
    """

    def __init__(self, *, backend: dict[str, Any], keys: str | list[str], **kwargs: Any) -> None:
        kwargs.setdefault("base_url", "/_private/")
        super().__init__(**kwargs)
        self.backend = backend
        self._fernet = fernet_keys(keys)
        self._inner: Storage | None = None

    # Nothing of ours is on the file system: django-privates' check compares this with
    # MEDIA_ROOT and SENDFILE_ROOT only when it is set.
    location = ""  # type: ignore[assignment]

    @property
    def inner(self) -> Storage:
        if self._inner is None:
            self._inner = storages.create_storage(self.backend)
        return self._inner

    # --- encryption ------------------------------------------------------------------

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, name: str, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise PrivateFileError(
                f"{name}: cannot be decrypted with MSD_PRIVATE_KEY_ENCRYPTION_KEY (another "
                "key, or not encrypted at all: manage.py private_files import)"
            ) from exc

    def rotate(self, name: str) -> None:
        """Re-encrypts one stored file with the first key, under the same name."""
        token = self._fernet.rotate(self._read_token(name))
        self.inner.delete(name)
        saved = self.inner.save(name, ContentFile(token))
        if saved != name:  # pragma: no cover - only if another process wrote the name
            raise PrivateFileError(f"{name}: stored again as {saved}")

    def _read_token(self, name: str) -> bytes:
        with self.inner.open(name, "rb") as handle:
            token = handle.read(MAX_PRIVATE_FILE_BYTES * 2)
        return token

    def read_plaintext(self, name: str) -> bytes:
        return self.decrypt(name, self._read_token(name))

    # --- the Storage API -------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File:
        if any(flag in mode for flag in "wa+"):
            raise ValueError("private files are written with save(), never opened for writing")
        return DecryptedFile(self.read_plaintext(name), name, mode)

    def _save(self, name: str, content: File) -> str:
        if hasattr(content, "seek"):
            with contextlib.suppress(OSError, ValueError):
                content.seek(0)
        data = content.read(MAX_PRIVATE_FILE_BYTES + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > MAX_PRIVATE_FILE_BYTES:
            raise SuspiciousFileOperation(
                f"{name}: a certificate or key file of more than 1 MB is not one"
            )
        return self.inner.save(name, ContentFile(self.encrypt(data)))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.inner.get_available_name(name, max_length=max_length)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def size(self, name: str) -> int:
        return len(self.read_plaintext(name))

    def get_accessed_time(self, name: str) -> Any:
        return self.inner.get_accessed_time(name)

    def get_created_time(self, name: str) -> Any:
        return self.inner.get_created_time(name)

    def get_modified_time(self, name: str) -> Any:
        return self.inner.get_modified_time(name)

    def path(self, name: str) -> str:
        """A path OpenSSL can open, to the decrypted file held in memory (see the module).

        The stored file is read and decrypted on every call (a few KB), so a certificate
        replaced under the same name is never served from an old copy.
        """
        return in_memory_path(self.read_plaintext(name))


def referenced_names() -> Iterator[tuple[str, str]]:
    """(``app.Model.field``, stored name) of every private-media file the database names."""
    from django.apps import apps
    from privates.fields import PrivateMediaFieldMixin

    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, PrivateMediaFieldMixin):
                label = f"{model._meta.label}.{field.name}"
                names = model._default_manager.exclude(**{field.name: ""}).values_list(
                    field.name, flat=True
                )
                for name in names.iterator():
                    if name:
                        yield label, name


# --- decrypted copies for OpenSSL -------------------------------------------------------

_memory_files: dict[str, str] = {}
_memory_lock = threading.Lock()
_fallback_dir: Path | None = None


def in_memory_path(content: bytes) -> str:
    """A path to a read-only file with *content* that lives in this process's memory.

    Linux: an anonymous, sealed ``memfd`` opened as ``/proc/self/fd/<n>`` (forked Celery
    and gunicorn workers inherit it). Elsewhere: a 0600 file in a 0700 temporary
    directory removed at exit. One file per distinct content, kept for the process's life
    (a handful: certificates change once a year).
    """
    digest = hashlib.sha256(content).hexdigest()
    with _memory_lock:
        existing = _memory_files.get(digest)
        if existing is not None and os.path.exists(existing):
            return existing
        path = _memfd(digest, content) if hasattr(os, "memfd_create") else _tempfile(content)
        _memory_files[digest] = path
        return path


def _memfd(digest: str, content: bytes) -> str:
    import fcntl

    fd = os.memfd_create(f"msd-private-{digest[:12]}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    return f"/proc/self/fd/{fd}"


def _tempfile(content: bytes) -> str:  # pragma: no cover - Linux has memfd_create
    global _fallback_dir
    if _fallback_dir is None:
        _fallback_dir = Path(tempfile.mkdtemp(prefix="msd-private-"))
        atexit.register(shutil.rmtree, _fallback_dir, True)
    fd, name = tempfile.mkstemp(dir=_fallback_dir)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return name
