"""Shared builders and checks for the StUF library tests (plain functions, no Django)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, Final

from lxml import etree

from msdportaal.transport.stuf import Di01Message, Du01Message, WsAddressing, ggk_schema
from msdportaal.transport.stuf.constants import NS_SOAP_ENV

FIXTURES: Final = Path(__file__).resolve().parent / "fixtures"
REFERENTIENUMMER: Final = "0b6f7c0e-3f0a-4a8e-9d1c-2a4b6c8d0e1f"
OTHER_REFERENTIENUMMER: Final = "5d2c8e4a-7b1f-4c3d-8e9f-0a1b2c3d4e5f"

#: The classic entity-expansion bomb (~3 GB when expanded).
BILLION_LAUGHS: Final = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>"""


def di01(**overrides: Any) -> Di01Message:
    fields: dict[str, Any] = {
        "zender_organisatie": "0363",
        "zender_applicatie": "MSDPortaal",
        "zender_administratie": "Gemeente Amsterdam",
        "referentienummer": REFERENTIENUMMER,
        "tijdstip_bericht": "20270115093512123",
        "functie": "MSDAANLEVERING",
        "referentienummer_bericht": "20270115-093512-001",
        "applicatie_versie": "0001",
        "applicatie_subversie": "0002",
        "functie_versie": "0003",
        "functie_subversie": "0004",
        "bestandsnaam": "WMO_basis_2026Q4.csv",
        "content_type": "text/csv",
    }
    fields.update(overrides)
    return Di01Message(**fields)


def du01(**overrides: Any) -> Du01Message:
    fields: dict[str, Any] = {
        "zender_organisatie": "CBS",
        "zender_applicatie": "GGk",
        "ontvanger_organisatie": "0363",
        "ontvanger_applicatie": "MSDPortaal",
        "referentienummer": OTHER_REFERENTIENUMMER,
        "tijdstip_bericht": "20270116101500000",
        "cross_refnummer": REFERENTIENUMMER,
        "cross_refnummer_bericht": "20270115-093512-001",
        "functie": "MSDTECHNISCH",
        "referentienummer_bericht": "CBS-2027-000123",
        "applicatie_versie": "0001",
        "applicatie_subversie": "0000",
        "functie_versie": "0001",
        "functie_subversie": "0000",
        "bestandsnaam": "Rapport_0363_2026Q4.pdf",
        "content_type": "application/pdf",
    }
    fields.update(overrides)
    return Du01Message(**fields)


def wsa(**overrides: Any) -> WsAddressing:
    fields: dict[str, Any] = {
        "to": "https://rinis.example.nl/ggk/OntvangAsynchroon",
        "from_address": "https://msdportaal.example.nl/transport?OIN=00000001234567890000",
        "message_id": "urn:uuid:7f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
    }
    fields.update(overrides)
    return WsAddressing(**fields)


def body_child(soap: bytes) -> etree._Element:
    """The single element inside soapenv:Body (parsed with a plain, trusted parser)."""
    root = etree.fromstring(soap, etree.XMLParser(huge_tree=True, resolve_entities=False))
    assert root.tag == f"{{{NS_SOAP_ENV}}}Envelope"
    body = root.find(f"{{{NS_SOAP_ENV}}}Body")
    assert body is not None
    children = [child for child in body if isinstance(child.tag, str)]
    assert len(children) == 1
    return children[0]


def assert_valid(element: etree._Element) -> None:
    """Validate against ggk0310_msg.xsd, showing the schema errors on failure."""
    schema = ggk_schema()
    assert schema.validate(element), [str(e) for e in schema.error_log]


def replace(message: Any, **changes: Any) -> Any:
    return dataclasses.replace(message, **changes)


class ShortReads(io.RawIOBase):
    """A binary stream that returns at most ``step`` bytes per read (like a socket)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = len(self._data)
        n = min(size, self._step, len(self._data) - self._pos)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk


class PatternFile(io.RawIOBase):
    """A large file-like object generated on the fly (byte i is ``i % 251``).

    Never holds more than one read's worth of data, so memory measurements of the
    writer are not polluted by the test input itself.
    """

    _PERIOD: Final = 251

    def __init__(self, size: int) -> None:
        self._size = size
        self._pos = 0
        self._pattern = bytes(i % self._PERIOD for i in range(self._PERIOD * 2))

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = self._size - self._pos
        n = min(size, self._size - self._pos)
        if n <= 0:
            return b""
        start = self._pos % self._PERIOD
        repeats = (start + n) // self._PERIOD + 1
        chunk = (self._pattern[start : self._PERIOD] + self._pattern[: self._PERIOD] * repeats)[:n]
        self._pos += n
        return chunk
