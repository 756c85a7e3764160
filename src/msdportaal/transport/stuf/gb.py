"""Digikoppeling Grote Berichten (pull) metadata, and how it rides in a Di01.

Placement decision — why the GB metadata goes *base64-encoded inside*
``parameters/bericht`` with ``xmime:contentType="application/xml"``:

* ggk0310_msg.xsd leaves no other place in the message. ``stuurgegevens`` and
  ``parameters`` are closed ``xs:restriction`` sequences without ``xs:any`` or
  ``xs:anyAttribute``, and ``bericht`` (``BinaireInhoud-basis_ggkberichten``) is an
  ``xs:base64Binary`` with only ``StUF:bestandsnaam`` and ``xmime:contentType``. Any
  extra element or attribute makes the Di01 schema-invalid, which RINIS refuses.
* A SOAP header block would be schema-valid but is hop-by-hop: RINIS routes the Di01 on
  to CBS and has no reason to keep an unknown header. The body is the only part that is
  guaranteed to travel and that every party validates.
* The Logius GB standard sends the metadata as the content of an ordinary Digikoppeling
  message; here that content is the ``bericht``. The metadata document itself is the
  standard ``digikoppeling-external-data-references`` (profile ``digikoppeling-gb-1.0``)
  and is validated against gb-pull.xsd both when we build it and when we parse it.
* ``StUF:bestandsnaam`` keeps the *real* file name (DESIGN.md §4) — it is how CBS names
  the file — while ``content/filename`` in the metadata holds the same name made into an
  ``xs:NCName`` (see :func:`gb_filename`). ``content/@contentType`` holds the real media
  type (``text/csv``, ``application/zip``).
* A receiver recognises the GB case by ``xmime:contentType = application/xml`` plus the
  decoded root element ``{http://www.logius.nl/digikoppeling/gb/2010/10}
  digikoppeling-external-data-references``. Our real payloads are only CSV and ZIP, so
  this is unambiguous in this chain; the interface description must state it. If RINIS
  and CBS agree on a dedicated media type instead, only :data:`GB_CONTENT_TYPE` changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, get_args
from urllib.parse import urlsplit

from lxml import etree

from .constants import GB_CONTENT_TYPE, GB_PROFILE, NS_GB
from .envelope import SupportsRead, iter_di01_soap, soap_body_length
from .errors import GbMetadataError, InvalidXmlError
from .models import Di01Message, WsAddressing, check_content_type, check_text
from .xmlsafe import gb_pull_schema, safe_fromstring, schema_errors

ChecksumType = Literal["MD5", "SHA1", "SHA256", "SHA384", "SHA512"]
_HEX_LENGTH: Final[dict[str, int]] = {
    "MD5": 32,
    "SHA1": 40,
    "SHA256": 64,
    "SHA384": 96,
    "SHA512": 128,
}
_NCNAME = re.compile(r"[^\W\d][\w.\-]*")
_HEX = re.compile(r"[0-9a-f]*")
_MAX_UNSIGNED_LONG: Final = 2**64 - 1
#: A GB metadata document is a few hundred bytes; refuse anything silly.
_MAX_GB_DOCUMENT_BYTES: Final = 64 * 1024


def _q(name: str) -> str:
    return f"{{{NS_GB}}}{name}"


def gb_filename(bestandsnaam: str) -> str:
    """Turn a StUF bestandsnaam into the ``xs:NCName`` gb-pull.xsd requires.

    Our names come from ``[0-9A-Za-z._-]``; of those only the first character can break
    an NCName (a digit, ``.`` or ``-``, e.g. ``20270115-093512-001.zip``). Such names get
    an ``_`` prefix; every other name is returned unchanged.
    """
    if _NCNAME.fullmatch(bestandsnaam):
        return bestandsnaam
    candidate = f"_{bestandsnaam}"
    if not _NCNAME.fullmatch(candidate):
        raise ValueError(f"cannot make an NCName of {bestandsnaam!r}")
    return candidate


def file_digest(fileobj: SupportsRead, *, chunk_size: int = 1024 * 1024) -> tuple[int, str]:
    """Return ``(size, sha256 hex)`` of a binary stream, reading it in chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(chunk_size):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _format_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_datetime(text: str) -> datetime:
    # xs:dateTime allows any number of fraction digits; Python takes at most six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_aware(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class GbMetadata:
    """One Grote Berichten pull reference (gb-pull.xsd ``data-reference``).

    ``filename`` must already be an NCName (use :func:`gb_filename`); ``checksum`` is
    lower-case hex of ``checksum_type`` (SHA-256 as the standard recommends, MD006);
    ``sender_url`` is the unique per-file portal URL RINIS downloads from (MD002/MD010);
    ``context_id`` lets the downloader relate the transfer to the message (we use the
    Di01 referentienummer).
    """

    filename: str
    size: int
    checksum: str
    content_type: str
    sender_url: str
    checksum_type: ChecksumType = "SHA256"
    creation_time: datetime | None = None
    expiration_time: datetime | None = None
    context_id: str | None = None

    def __post_init__(self) -> None:
        check_text("filename", self.filename, max_length=1024)
        if not _NCNAME.fullmatch(self.filename):
            raise ValueError(f"filename must be an xs:NCName, got {self.filename!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError("size must be an int")
        if not 0 <= self.size <= _MAX_UNSIGNED_LONG:
            raise ValueError("size out of range")
        if self.checksum_type not in get_args(ChecksumType):
            raise ValueError(f"unknown checksum_type {self.checksum_type!r}")
        if not isinstance(self.checksum, str):
            raise TypeError("checksum must be a str")
        object.__setattr__(self, "checksum", self.checksum.lower())
        if (
            not _HEX.fullmatch(self.checksum)
            or len(self.checksum) != _HEX_LENGTH[self.checksum_type]
        ):
            raise ValueError(f"checksum is not a {self.checksum_type} hex digest")
        check_content_type("content_type", self.content_type)
        check_text("sender_url", self.sender_url, max_length=2048)
        url = urlsplit(self.sender_url)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError(f"sender_url must be an absolute http(s) URL: {self.sender_url!r}")
        _check_aware("creation_time", self.creation_time)
        _check_aware("expiration_time", self.expiration_time)
        check_text("context_id", self.context_id, max_length=200, optional=True)

    @property
    def sha256(self) -> str | None:
        """The SHA-256 hex digest, or ``None`` if another checksum type is used."""
        return self.checksum if self.checksum_type == "SHA256" else None


def _to_element(metadata: GbMetadata) -> etree._Element:
    root = etree.Element(_q("digikoppeling-external-data-references"), nsmap={"gb": NS_GB})
    root.set("profile", GB_PROFILE)
    ref = etree.SubElement(root, _q("data-reference"))
    if metadata.context_id is not None:
        ref.set("contextId", metadata.context_id)
    lifetime = etree.SubElement(ref, _q("lifetime"))
    for tag, moment in (
        ("creationTime", metadata.creation_time),
        ("expirationTime", metadata.expiration_time),
    ):
        if moment is not None:
            node = etree.SubElement(lifetime, _q(tag), type="xs:dateTime")
            node.text = _format_datetime(moment)
    content = etree.SubElement(ref, _q("content"), contentType=metadata.content_type)
    etree.SubElement(content, _q("filename")).text = metadata.filename
    checksum = etree.SubElement(content, _q("checksum"), type=metadata.checksum_type)
    checksum.text = metadata.checksum
    etree.SubElement(content, _q("size")).text = str(metadata.size)
    location = etree.SubElement(etree.SubElement(ref, _q("transport")), _q("location"))
    etree.SubElement(location, _q("senderUrl"), type="xs:anyURI").text = metadata.sender_url
    return root


def build_gb_metadata(metadata: GbMetadata) -> bytes:
    """Serialise ``metadata`` as a gb-pull.xsd-valid UTF-8 XML document."""
    root = _to_element(metadata)
    errors = schema_errors(gb_pull_schema(), root)
    if errors:  # pragma: no cover - the dataclass checks should make this unreachable
        raise GbMetadataError("GB metadata does not validate: " + "; ".join(errors))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def is_gb_metadata_document(data: bytes) -> bool:
    """Cheap check whether ``data`` is a GB external-data-references document."""
    if len(data) > _MAX_GB_DOCUMENT_BYTES:
        return False
    try:
        root = safe_fromstring(data)
    except InvalidXmlError:
        return False
    return root.tag == _q("digikoppeling-external-data-references")


def parse_gb_metadata(data: bytes) -> GbMetadata:
    """Parse and validate a GB pull metadata document holding exactly one reference."""
    try:
        root = safe_fromstring(data, max_bytes=_MAX_GB_DOCUMENT_BYTES)
    except InvalidXmlError as exc:
        raise GbMetadataError(str(exc)) from exc
    errors = schema_errors(gb_pull_schema(), root)
    if errors:
        raise GbMetadataError("GB metadata does not validate: " + "; ".join(errors))
    refs = root.findall(_q("data-reference"))
    if len(refs) != 1:
        raise GbMetadataError(f"expected exactly one data-reference, found {len(refs)}")
    ref = refs[0]
    sender_url = ref.findtext(f"{_q('transport')}/{_q('location')}/{_q('senderUrl')}")
    if sender_url is None:
        raise GbMetadataError("pull metadata must have a senderUrl")
    content = ref.find(_q("content"))
    checksum = content.find(_q("checksum")) if content is not None else None
    lifetime = ref.find(_q("lifetime"))
    if content is None or checksum is None or lifetime is None:  # pragma: no cover - schema
        raise GbMetadataError("content, checksum or lifetime missing")
    creation = lifetime.findtext(_q("creationTime"))
    expiration = lifetime.findtext(_q("expirationTime"))
    try:
        return GbMetadata(
            filename=(content.findtext(_q("filename")) or "").strip(),
            size=int((content.findtext(_q("size")) or "").strip()),
            checksum=(checksum.text or "").strip(),
            checksum_type=checksum.get("type", ""),  # type: ignore[arg-type]
            content_type=content.get("contentType", ""),
            sender_url=sender_url.strip(),
            creation_time=_parse_datetime(creation) if creation is not None else None,
            expiration_time=_parse_datetime(expiration) if expiration is not None else None,
            context_id=ref.get("contextId"),
        )
    except (TypeError, ValueError) as exc:
        raise GbMetadataError(f"unusable GB metadata: {exc}") from exc


def gb_di01_message(message: Di01Message, metadata: GbMetadata) -> Di01Message:
    """The Di01 that announces ``metadata`` instead of carrying the file inline.

    Same stuurgegevens and parameters (so the referentienummer stays the delivery's),
    ``bestandsnaam`` unchanged, ``contentType`` = :data:`GB_CONTENT_TYPE`. Refuses a
    metadata document that describes another file than ``message``.
    """
    if metadata.filename != gb_filename(message.bestandsnaam):
        raise ValueError("GB filename does not belong to the message's bestandsnaam")
    if metadata.content_type != message.content_type:
        raise ValueError("GB content type differs from the message's content type")
    return dataclasses.replace(message, content_type=GB_CONTENT_TYPE)


def iter_di01_gb_soap(
    message: Di01Message, metadata: GbMetadata, *, wsa: WsAddressing
) -> Iterator[bytes]:
    """Stream the SOAP body of a Di01 that carries GB metadata instead of the file.

    ``message`` is the Di01 as it would be sent inline (content type of the real file).
    """
    document = build_gb_metadata(metadata)
    return iter_di01_soap(
        gb_di01_message(message, metadata),
        io.BytesIO(document),
        wsa=wsa,
        expected_size=len(document),
    )


def di01_gb_soap_length(message: Di01Message, metadata: GbMetadata, *, wsa: WsAddressing) -> int:
    """Exact byte length of :func:`iter_di01_gb_soap` for the same arguments."""
    document = build_gb_metadata(metadata)
    return soap_body_length(gb_di01_message(message, metadata), len(document), wsa=wsa)
