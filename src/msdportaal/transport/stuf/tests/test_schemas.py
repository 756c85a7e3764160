"""The schema copies and the offline, cached validators."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from msdportaal.transport.stuf import SchemaResolutionError, gb_pull_schema, ggk_schema
from msdportaal.transport.stuf.xmlsafe import (
    GB_PULL_XSD,
    GGK_MSG_XSD,
    SCHEMA_DIR,
    load_schema_document,
)

PACKAGE_DIR = Path(__file__).resolve().parents[2]


def test_schemas_live_inside_the_package() -> None:
    assert SCHEMA_DIR == PACKAGE_DIR / "schemas"
    for path in (
        GGK_MSG_XSD,
        GB_PULL_XSD,
        SCHEMA_DIR / "stuf-ggk/ggk0310_21/ggkberichten/ggk0310_msg_stuf.xsd",
        SCHEMA_DIR / "stuf-ggk/ggk0310_21/ggkberichten/ggk0310_OntvangAsynchroon.wsdl",
        SCHEMA_DIR / "stuf-ggk/0301/stuf0301.xsd",
        SCHEMA_DIR / "stuf-ggk/0301/stuf0301mtom.xsd",
        SCHEMA_DIR / "stuf-ggk/0301/stuf0301_types.wsdl",
        SCHEMA_DIR / "stuf-ggk/xmlmime/xmlmime.xsd",
        SCHEMA_DIR / "stuf-ggk/LICENCE-EUPL.md",
        SCHEMA_DIR / "stuf-ggk/README.md",
        SCHEMA_DIR / "digikoppeling-gb/gb-push.xsd",
        SCHEMA_DIR / "digikoppeling-gb/README.md",
    ):
        assert path.is_file(), path


def test_no_code_depends_on_the_shared_spec_folder() -> None:
    needle = "/".join(("", "work", "shared"))  # not spelled out, or this file would match
    for path in PACKAGE_DIR.rglob("*.py"):
        assert needle not in path.read_text(encoding="utf-8"), path


def test_validators_are_cached_per_thread() -> None:
    assert ggk_schema() is ggk_schema()
    assert gb_pull_schema() is gb_pull_schema()
    other: list[etree.XMLSchema] = []
    thread = threading.Thread(target=lambda: other.append(ggk_schema()))
    thread.start()
    thread.join()
    assert other
    assert other[0] is not ggk_schema()


def test_ggk_schema_knows_the_stuf_answers() -> None:
    schema = ggk_schema()
    bad = etree.fromstring(b"<StUF:Bv03Bericht xmlns:StUF='http://www.egem.nl/StUF/StUF0301'/>")
    assert not schema.validate(bad)
    log = str(schema.error_log)
    assert "No matching global declaration" not in log  # the element itself is known
    assert "Missing child element" in log


def test_remote_schema_imports_are_refused() -> None:
    document = etree.ElementTree(
        etree.fromstring(
            b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
            b'<xs:import namespace="urn:o" schemaLocation="http://example.invalid/o.xsd"/>'
            b"</xs:schema>",
            etree.XMLParser(no_network=True),
            base_url=str(SCHEMA_DIR / "probe.xsd"),
        )
    )
    with pytest.raises(SchemaResolutionError, match=r"example\.invalid"):
        load_schema_document(document)


def test_imports_outside_the_schema_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "o.xsd"
    outside.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o"/>'
    )
    document = etree.ElementTree(
        etree.fromstring(
            b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
            b'<xs:import namespace="urn:o" schemaLocation="' + str(outside).encode() + b'"/>'
            b"</xs:schema>",
            etree.XMLParser(no_network=True),
            base_url=str(SCHEMA_DIR / "probe.xsd"),
        )
    )
    with pytest.raises(SchemaResolutionError, match="outside"):
        load_schema_document(document)
