"""Test messages: Di01s built from the StUF-GGk specification's own example.

``data/envelopHeenbericht-ggk_Di01_v21.xml`` is the published example (VNG Realisatie,
EUPL); the tests change only what the portal would fill in, so whatever the simulator
accepts here is what the standard describes, not what this repository's portal code
happens to produce.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from rinis_simulator.stuf import (
    GGK_NS,
    SOAP11_NS,
    SOAP_ACTION_DI01,
    STUF_NS,
    WSA_NS,
    XMIME_NS,
)

TEMPLATE = Path(__file__).parent / "data" / "envelopHeenbericht-ggk_Di01_v21.xml"
NS = {"StUF": STUF_NS, "GGK": GGK_NS, "soap": SOAP11_NS, "wsa": WSA_NS}
GB_NS = "http://www.logius.nl/digikoppeling/gb/2010/10"

SOAP_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": f'"{SOAP_ACTION_DI01}"',
}


@dataclass
class Di01:
    """A test Di01 and what went into it."""

    body: bytes
    referentienummer: str
    payload: bytes
    bestandsnaam: str


def _set(root: etree._Element, path: str, value: str | None) -> None:
    element = root.find(path, NS)
    assert element is not None, path
    if value is None:
        element.getparent().remove(element)
    else:
        element.text = value


def build_di01(
    payload: bytes = b"gemeentecode;periode;aantal\r\n0363;2026HJ01;42\r\n",
    *,
    referentienummer: str | None = None,
    functie: str = "MSDAANLEVERING",
    zender_organisatie: str = "0363",
    ontvanger_organisatie: str = "CBS",
    bestandsnaam: str = "MSD_WMO-BASIS_0363_2026HJ01.csv",
    content_type: str = "text/csv",
    referentienummer_bericht: str | None = "20270115-093512-001",
    tijdstip: str | None = None,
    wsa: dict[str, str | None] | None = None,
    applicatie_versie: str = "0001",
) -> Di01:
    """A SOAP 1.1 request holding a Di01 as the portal should send it."""
    ref = referentienummer or str(uuid.uuid4())
    di01 = etree.parse(str(TEMPLATE)).getroot()
    _set(di01, "GGK:stuurgegevens/StUF:zender/StUF:organisatie", zender_organisatie)
    _set(di01, "GGK:stuurgegevens/StUF:zender/StUF:applicatie", "MSDPortaal")
    _set(di01, "GGK:stuurgegevens/StUF:zender/StUF:administratie", "Amsterdam")
    _set(di01, "GGK:stuurgegevens/StUF:zender/StUF:gebruiker", None)
    _set(di01, "GGK:stuurgegevens/StUF:ontvanger/StUF:organisatie", ontvanger_organisatie)
    _set(di01, "GGK:stuurgegevens/StUF:ontvanger/StUF:administratie", None)
    _set(di01, "GGK:stuurgegevens/StUF:ontvanger/StUF:gebruiker", None)
    _set(di01, "GGK:stuurgegevens/StUF:referentienummer", ref)
    _set(
        di01,
        "GGK:stuurgegevens/StUF:tijdstipBericht",
        tijdstip or dt.datetime.now().strftime("%Y%m%d%H%M%S%f")[:17],
    )
    _set(di01, "GGK:stuurgegevens/StUF:functie", functie)
    _set(di01, "GGK:parameters/GGK:referentienummerBericht", referentienummer_bericht)
    _set(di01, "GGK:parameters/GGK:applicatieVersie", applicatie_versie)
    bericht = di01.find("GGK:parameters/GGK:bericht", NS)
    assert bericht is not None
    bericht.set(f"{{{STUF_NS}}}bestandsnaam", bestandsnaam)
    bericht.set(f"{{{XMIME_NS}}}contentType", content_type)
    bericht.text = base64.b64encode(payload).decode("ascii")
    return Di01(wrap_soap(di01, wsa), ref, payload, bestandsnaam)


def wrap_soap(di01: etree._Element, wsa: dict[str, str | None] | None = None) -> bytes:
    """Put a Di01 in a SOAP 1.1 envelope with the Digikoppeling WS-Addressing headers."""
    headers: dict[str, str | None] = {
        "To": "https://rinis.example/ggk",
        "Action": SOAP_ACTION_DI01,
        "MessageID": f"urn:uuid:{uuid.uuid4()}",
        "From": "https://msdportaal.example/?OIN=00000001999999991000",
    }
    headers.update(wsa or {})
    envelope = etree.Element(
        f"{{{SOAP11_NS}}}Envelope", nsmap={"soapenv": SOAP11_NS, "wsa": WSA_NS}
    )
    header = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Header")
    for name, value in headers.items():
        if value is None:
            continue
        element = etree.SubElement(header, f"{{{WSA_NS}}}{name}")
        if name == "From":
            etree.SubElement(element, f"{{{WSA_NS}}}Address").text = value
        else:
            element.text = value
    body = etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body")
    body.append(di01)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def gb_metadata(
    *,
    filename: str,
    size: int,
    sha256: str,
    sender_url: str,
    expiration: dt.datetime | None = None,
    checksum_type: str = "SHA256",
) -> bytes:
    """A Digikoppeling GB pull reference, shaped like the standard's own example."""
    expires = (expiration or dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<tns:digikoppeling-external-data-references profile="digikoppeling-gb-1.0"
    xmlns:tns="{GB_NS}">
  <tns:data-reference contextId="{uuid.uuid4()}">
    <tns:lifetime>
      <tns:creationTime type="xs:dateTime">{created}</tns:creationTime>
      <tns:expirationTime type="xs:dateTime">{expires}</tns:expirationTime>
    </tns:lifetime>
    <tns:content contentType="text/csv">
      <tns:filename>{filename}</tns:filename>
      <tns:checksum type="{checksum_type}">{sha256}</tns:checksum>
      <tns:size>{size}</tns:size>
    </tns:content>
    <tns:transport>
      <tns:location>
        <tns:senderUrl type="xs:anyURI">{sender_url}</tns:senderUrl>
      </tns:location>
    </tns:transport>
  </tns:data-reference>
</tns:digikoppeling-external-data-references>
""".encode()


def parse_answer(body: bytes) -> etree._Element:
    """The element in the SOAP Body of an answer (Bv03Bericht or Fault)."""
    envelope = etree.fromstring(body)
    assert envelope.tag == f"{{{SOAP11_NS}}}Envelope"
    soap_body = envelope.find("soap:Body", NS)
    assert soap_body is not None
    return soap_body[0]


def fo03_of(body: bytes) -> etree._Element:
    """The Fo03Bericht inside a SOAP Fault."""
    fault = parse_answer(body)
    assert fault.tag == f"{{{SOAP11_NS}}}Fault", fault.tag
    fo03 = fault.find("detail/StUF:Fo03Bericht", NS)
    assert fo03 is not None
    return fo03


def fo03_code(body: bytes) -> tuple[str, str]:
    """``(code, plek)`` of the Fo03 in a SOAP Fault."""
    fo03 = fo03_of(body)
    return (
        fo03.findtext("StUF:body/StUF:code", namespaces=NS) or "",
        fo03.findtext("StUF:body/StUF:plek", namespaces=NS) or "",
    )
