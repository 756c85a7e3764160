"""Small in-memory XML helpers shared by the answer builders and the parsers.

Answers (Bv03/Fo03) and parsed inbound stuurgegevens are a few hundred bytes, so they
are handled as ordinary lxml trees; only the Di01/Du01 *writer* needs streaming.
"""

from __future__ import annotations

from lxml import etree

from .constants import NS_SOAP_ENV, NS_STUF, NS_WSA
from .models import Systeem, WsAddressing


def q(namespace: str, name: str) -> str:
    """Clark notation ``{namespace}name``."""
    return f"{{{namespace}}}{name}"


def new_envelope(
    nsmap: dict[str | None, str], wsa: WsAddressing | None, action: str
) -> tuple[etree._Element, etree._Element]:
    """Create ``soapenv:Envelope`` (+ optional WS-A Header) and return it with its Body."""
    envelope = etree.Element(q(NS_SOAP_ENV, "Envelope"), nsmap=nsmap)
    if wsa is not None:
        header = etree.SubElement(envelope, q(NS_SOAP_ENV, "Header"))
        if wsa.to is not None:
            etree.SubElement(header, q(NS_WSA, "To")).text = wsa.to
        etree.SubElement(header, q(NS_WSA, "Action")).text = wsa.action or action
        etree.SubElement(header, q(NS_WSA, "MessageID")).text = wsa.message_id
        if wsa.relates_to is not None:
            etree.SubElement(header, q(NS_WSA, "RelatesTo")).text = wsa.relates_to
        if wsa.from_address is not None:
            sender = etree.SubElement(header, q(NS_WSA, "From"))
            etree.SubElement(sender, q(NS_WSA, "Address")).text = wsa.from_address
    body = etree.SubElement(envelope, q(NS_SOAP_ENV, "Body"))
    return envelope, body


def append_systeem(parent: etree._Element, name: str, systeem: Systeem) -> None:
    """Append ``StUF:<name>`` with the non-empty Systeem fields in schema order."""
    node = etree.SubElement(parent, q(NS_STUF, name))
    for field in ("organisatie", "applicatie", "administratie", "gebruiker"):
        value = getattr(systeem, field)
        if value is not None:
            etree.SubElement(node, q(NS_STUF, field)).text = value


def child_text(parent: etree._Element | None, namespace: str, name: str) -> str | None:
    """Stripped text of the first ``{namespace}name`` child, ``None`` if absent/empty."""
    if parent is None:
        return None
    value = parent.findtext(q(namespace, name))
    if value is None:
        return None
    value = value.strip()
    return value or None


def read_systeem(node: etree._Element | None) -> Systeem | None:
    """Best-effort Systeem from a StUF zender/ontvanger element; ``None`` if unusable."""
    if node is None:
        return None
    applicatie = child_text(node, NS_STUF, "applicatie")
    if applicatie is None:
        return None
    try:
        return Systeem(
            organisatie=child_text(node, NS_STUF, "organisatie"),
            applicatie=applicatie,
            administratie=child_text(node, NS_STUF, "administratie"),
            gebruiker=child_text(node, NS_STUF, "gebruiker"),
        )
    except (TypeError, ValueError):
        return None


def element_children(node: etree._Element) -> list[etree._Element]:
    """Element children only (the tree has no comments/PIs, but be explicit)."""
    return [child for child in node if isinstance(child.tag, str)]
