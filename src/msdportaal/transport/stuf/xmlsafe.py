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

Why structural limits: :class:`lxml.etree.TreeBuilder` adds each attribute and namespace
declaration through libxml2 calls that first scan the element's existing ones, so one
element with *n* attributes costs O(n²) (issue 18: 40 000 attributes took 12 s, 200 000
froze a web process for 7.5 minutes), and every element costs a Python callback.
libxml2's own SAX parse is linear, so the target counts elements, depth, attributes and
namespace declarations *before* handing an element to the builder and stops the parse
at the first one over a limit; :func:`_feed` refuses a tag over ``MAX_TAG_BYTES`` before
it is even complete. The limits are far above anything a StUF-GGk message needs (an
envelope has ~25 elements, at most 2 attributes and 4 namespace declarations on one
element). docs/security.md ("XML") lists them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final, NoReturn

from lxml import etree

from .errors import InvalidXmlError, SchemaResolutionError

#: Hard upper bound for any document we parse: a maximal inline Di01 (25 MB) plus SOAP
#: headers fits easily; anything bigger is refused before libxml2 sees it.
MAX_XML_BYTES: Final = 48 * 1024 * 1024

#: Structural limits checked while parsing (see the module docstring). An element over a
#: per-element limit is refused before it is built, so the quadratic cost of building
#: one element is bounded by the per-element limits and the total by the document limits.
MAX_ELEMENTS: Final = 10_000
MAX_DEPTH: Final = 64
MAX_ATTRIBUTES_PER_ELEMENT: Final = 50
MAX_ATTRIBUTES: Final = 10_000
MAX_NAMESPACES_PER_ELEMENT: Final = 50
MAX_NAMESPACES: Final = 1_000

#: One tag, name plus attributes (a StUF tag is under 1 KB), see :func:`_feed`.
MAX_TAG_BYTES: Final = 1_000_000

_FEED_CHUNK: Final = 1 << 16

#: Folder with the copied official schemas (see its README files).
SCHEMA_DIR: Final = Path(__file__).resolve().parent.parent / "schemas"
GGK_MSG_XSD: Final = SCHEMA_DIR / "stuf-ggk" / "ggk0310_21" / "ggkberichten" / "ggk0310_msg.xsd"
GB_PULL_XSD: Final = SCHEMA_DIR / "digikoppeling-gb" / "gb-pull.xsd"


class _GuardedTreeTarget:
    """Parser target that builds an lxml tree, refuses any DOCTYPE and enforces the
    structural limits (``MAX_ELEMENTS`` … ``MAX_NAMESPACES``).

    Comments and processing instructions are dropped (no ``comment``/``pi`` methods):
    nothing we read needs them.
    """

    def __init__(self) -> None:
        self._builder = etree.TreeBuilder()
        #: The first refusal raised from a callback: lxml may replace it with its own error
        #: (e.g. "missing toplevel element" from close()), so it is re-raised from here.
        self.refusal: InvalidXmlError | None = None
        self._depth = 0
        self._elements = 0
        self._attributes = 0
        self._namespaces = 0
        #: Callbacks so far: :func:`_feed` watches this to see the parser making progress.
        self.events = 0

    def start(
        self, tag: str, attrib: dict[str, str], nsmap: dict[str | None, str] | None = None
    ) -> etree._Element:
        # lxml passes only the namespaces *declared* on this element in nsmap.
        self.events += 1
        attributes = len(attrib)
        namespaces = len(nsmap) if nsmap else 0
        self._depth += 1
        self._elements += 1
        self._attributes += attributes
        self._namespaces += namespaces
        if attributes > MAX_ATTRIBUTES_PER_ELEMENT:
            self.refuse(
                f"too many attributes on one element ({attributes} > {MAX_ATTRIBUTES_PER_ELEMENT})"
            )
        if namespaces > MAX_NAMESPACES_PER_ELEMENT:
            self.refuse(
                "too many namespace declarations on one element "
                f"({namespaces} > {MAX_NAMESPACES_PER_ELEMENT})"
            )
        if self._depth > MAX_DEPTH:
            self.refuse(f"elements nested too deeply (more than {MAX_DEPTH} levels)")
        if self._elements > MAX_ELEMENTS:
            self.refuse(f"too many elements (more than {MAX_ELEMENTS})")
        if self._attributes > MAX_ATTRIBUTES:
            self.refuse(f"too many attributes (more than {MAX_ATTRIBUTES})")
        if self._namespaces > MAX_NAMESPACES:
            self.refuse(f"too many namespace declarations (more than {MAX_NAMESPACES})")
        return self._builder.start(tag, attrib, nsmap)

    def end(self, tag: str) -> etree._Element:
        self.events += 1
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self.events += 1
        self._builder.data(data)

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        self.refuse("DOCTYPE is not allowed")

    def close(self) -> etree._Element:
        if self.refusal is not None:
            raise InvalidXmlError(str(self.refusal))
        return self._builder.close()

    def refuse(self, reason: str) -> NoReturn:
        if self.refusal is None:
            self.refusal = InvalidXmlError(reason)
        raise self.refusal


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
        _feed(parser, target, bytes(data))
        root = parser.close()
    except InvalidXmlError:
        raise
    except (etree.XMLSyntaxError, etree.ParserError, ValueError, TypeError) as exc:
        if target.refusal is not None:
            raise InvalidXmlError(str(target.refusal)) from exc
        raise InvalidXmlError(f"not well-formed XML: {exc}") from exc
    if target.refusal is not None:  # pragma: no cover - the callback already raised
        raise target.refusal
    if not isinstance(root, etree._Element):  # pragma: no cover - defensive
        raise InvalidXmlError("no root element")
    return root


def _feed(parser: etree.XMLParser, target: _GuardedTreeTarget, raw: bytes) -> None:
    """Feed ``raw`` in chunks, stopping at the first refusal.

    Chunks, not one ``fromstring``: after a refusal libxml2 would still tokenise the
    rest of a 48 MB document with its callbacks switched off. While the parser makes no
    callback (text is reported as it arrives) it is inside one construct. If that is a
    tag (the last ``<`` is not ``<!`` or ``<?``; attribute values cannot contain ``<``)
    longer than ``MAX_TAG_BYTES`` it is refused before libxml2 completes it and lxml
    turns it into a dict of up to millions of attributes (the push parser does not apply
    libxml2's 10 MB limit to a tag; comments, PIs and CDATA keep that limit).
    """
    quiet = 0
    tag_checked = False
    events = target.events
    for offset in range(0, len(raw), _FEED_CHUNK):
        chunk = raw[offset : offset + _FEED_CHUNK]
        parser.feed(chunk)
        if target.refusal is not None:
            return
        if target.events != events:
            events, quiet, tag_checked = target.events, 0, False
            continue
        quiet += len(chunk)
        if quiet > MAX_TAG_BYTES and not tag_checked:
            tag_checked = True  # one backward scan per quiet run keeps this linear
            opening = raw.rfind(b"<", 0, offset + len(chunk))
            if raw[opening + 1 : opening + 2] not in (b"!", b"?"):
                target.refuse(f"a tag is larger than {MAX_TAG_BYTES} bytes")


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
