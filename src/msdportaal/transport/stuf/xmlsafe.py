"""Safe XML parsing and the cached, offline XSD validators.

Why a custom parser: everything we parse comes from outside (RINIS answers, CBS
reports, GB metadata), so it must be immune to XXE, billion laughs and network fetches.
We therefore parse with ``resolve_entities=False, no_network=True, load_dtd=False,
huge_tree=False`` *and* refuse any document that has a DOCTYPE at all — SOAP 1.1 forbids
one anyway (§3), and without a DTD no entity other than the five predefined ones can
exist. The DOCTYPE is refused from the parser's SAX callback, i.e. before a single
entity declaration is read.

Why a parser *target*: libxml2's tree builder refuses text nodes over 10 MB unless
``huge_tree`` is on, but a legal 25 MB Di01 carries ~25 MB of base64 in one text node.
Building the tree from SAX events with :class:`lxml.etree.TreeBuilder` keeps every
libxml2 safety limit on (``huge_tree=False``) while text of any size is joined in
Python. The result is an ordinary lxml tree that XMLSchema can validate.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

from lxml import etree

from .errors import InvalidXmlError, SchemaResolutionError

#: Hard upper bound for any document we parse: a maximal inline Di01 (25 MB) plus SOAP
#: headers fits easily; anything bigger is refused before libxml2 sees it.
MAX_XML_BYTES: Final = 48 * 1024 * 1024

#: Folder with the copied official schemas (see its README files).
SCHEMA_DIR: Final = Path(__file__).resolve().parent.parent / "schemas"
GGK_MSG_XSD: Final = SCHEMA_DIR / "stuf-ggk" / "ggk0310_21" / "ggkberichten" / "ggk0310_msg.xsd"
GB_PULL_XSD: Final = SCHEMA_DIR / "digikoppeling-gb" / "gb-pull.xsd"


class _GuardedTreeTarget:
    """Parser target that builds an lxml tree and refuses any DOCTYPE.

    Comments and processing instructions are dropped (no ``comment``/``pi`` methods):
    nothing we read needs them.
    """

    def __init__(self) -> None:
        self._builder = etree.TreeBuilder()
        self.doctype_seen = False

    def start(
        self, tag: str, attrib: dict[str, str], nsmap: dict[str | None, str] | None = None
    ) -> etree._Element:
        return self._builder.start(tag, attrib, nsmap)

    def end(self, tag: str) -> etree._Element:
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        self.doctype_seen = True
        raise InvalidXmlError("DOCTYPE is not allowed")

    def close(self) -> etree._Element:
        return self._builder.close()


def safe_fromstring(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, or raise :class:`InvalidXmlError`.

    The returned root is a normal lxml element (no comments/PIs, no DTD).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("XML input must be bytes")
    if len(data) > max_bytes:
        raise InvalidXmlError(f"document too large ({len(data)} > {max_bytes} bytes)")
    if not data.strip():
        raise InvalidXmlError("empty document")
    target = _GuardedTreeTarget()
    parser = etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(bytes(data), parser)
    except InvalidXmlError:
        raise
    except (etree.XMLSyntaxError, etree.ParserError, ValueError, TypeError) as exc:
        if target.doctype_seen:
            raise InvalidXmlError("DOCTYPE is not allowed") from exc
        raise InvalidXmlError(f"not well-formed XML: {exc}") from exc
    if target.doctype_seen:  # pragma: no cover - the callback already raised
        raise InvalidXmlError("DOCTYPE is not allowed")
    if not isinstance(root, etree._Element):  # pragma: no cover - defensive
        raise InvalidXmlError("no root element")
    return root


class _LocalOnlyResolver(etree.Resolver):
    """Refuse every schema import/include that would leave the local schema folder.

    lxml turns an exception raised here into a generic schema parse error, so refusals
    are also recorded in :attr:`refused` to report them properly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def resolve(self, system_url: str, public_id: str | None, context: Any) -> Any:
        if "://" in system_url and not system_url.startswith("file://"):
            self.refused.append(system_url)
            raise SchemaResolutionError(f"schema reference not available offline: {system_url}")
        path = Path(system_url.removeprefix("file://")).resolve()
        if not path.is_relative_to(SCHEMA_DIR):
            self.refused.append(system_url)
            raise SchemaResolutionError(f"schema reference outside the schema folder: {path}")
        return None  # local file inside SCHEMA_DIR: let libxml2 load it normally


def load_schema_document(document: etree._ElementTree) -> etree.XMLSchema:
    """Compile a schema document whose imports must all resolve inside SCHEMA_DIR."""
    resolver = _LocalOnlyResolver()
    # lxml resolves xs:import/xs:include through the resolvers of the parser that read
    # the schema document, so attaching ours there covers the whole include chain.
    parser = document.parser
    if parser is not None:
        parser.resolvers.add(resolver)
    try:
        return etree.XMLSchema(document)
    except etree.XMLSchemaParseError as exc:
        if resolver.refused:
            raise SchemaResolutionError(
                f"schema import not available offline: {', '.join(resolver.refused)}"
            ) from exc
        raise


def _load_schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    return load_schema_document(etree.parse(str(path), parser))


_local = threading.local()


def _cached(path: Path) -> etree.XMLSchema:
    # Per-thread cache: an XMLSchema object keeps its error_log on itself, so sharing
    # one between threads would mix up the error reports of concurrent validations.
    cache: dict[Path, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    schema = cache.get(path)
    if schema is None:
        schema = cache[path] = _load_schema(path)
    return schema


def ggk_schema() -> etree.XMLSchema:
    """The ggk0310_msg.xsd validator (also knows every StUF 03.01 global element)."""
    return _cached(GGK_MSG_XSD)


def gb_pull_schema() -> etree.XMLSchema:
    """The Digikoppeling GB pull (gb-pull.xsd) validator."""
    return _cached(GB_PULL_XSD)


def schema_errors(schema: etree.XMLSchema, element: etree._Element) -> list[str]:
    """Validate ``element`` (may be a sub-element) and return readable error messages."""
    if schema.validate(element):
        return []
    return [f"{err.path}: {err.message}" if err.path else err.message for err in schema.error_log]
