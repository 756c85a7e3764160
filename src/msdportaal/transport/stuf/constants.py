"""Namespaces, SOAP actions and size limits of the StUF-GGk / Digikoppeling interface.

Kept in one place so the writer, the parsers and the tests cannot drift apart: every
value here comes from the official schemas/WSDL in ``transport/schemas`` or from
DESIGN.md §5, and the comment next to it says which.
"""

from __future__ import annotations

from typing import Final

#: SOAP 1.1 envelope namespace (the WSDL binds with ``soap:binding`` = SOAP 1.1).
NS_SOAP_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
#: W3C WS-Addressing 1.0 (Digikoppeling WUS).
NS_WSA: Final = "http://www.w3.org/2005/08/addressing"
#: StUF 03.01 base namespace (stuurgegevens, Bv03Bericht, Fo03Bericht).
NS_STUF: Final = "http://www.egem.nl/StUF/StUF0301"
#: StUF-GGk sector model namespace (``targetNamespace`` of ggk0310_msg.xsd, v2.1.02).
NS_GGK: Final = "http://www.stufstandaarden.nl/sectormodel/ggk/0210"
#: xmime:contentType on ``parameters/bericht``.
NS_XMIME: Final = "http://www.w3.org/2005/05/xmlmime"
#: Digikoppeling Grote Berichten, pull profile ``digikoppeling-gb-1.0`` (gb-pull.xsd).
NS_GB: Final = "http://www.logius.nl/digikoppeling/gb/2010/10"

#: Prefixes we write. Receivers must not care, but stable prefixes keep our output
#: byte-for-byte reproducible, which the Content-Length computation relies on.
NSMAP: Final[dict[str, str]] = {
    "soapenv": NS_SOAP_ENV,
    "wsa": NS_WSA,
    "StUF": NS_STUF,
    "GGK": NS_GGK,
    "xmime": NS_XMIME,
}

#: ``soap:operation/@soapAction`` values from ggk0310_OntvangAsynchroon.wsdl.
SOAP_ACTION_DI01: Final = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Di01"
SOAP_ACTION_DU01: Final = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Du01"
SOAP_ACTION_FO01: Final = "http://www.egem.nl/StUF/StUF0301/Fo01"

#: Body element per WSDL operation.
OPERATION_DI01: Final = "ggk_Di01"
OPERATION_DU01: Final = "ggk_Du01"
ELEMENT_DI01: Final = "envelopHeenbericht-ggk_Di01"
ELEMENT_DU01: Final = "envelopRetourbericht-ggk_Du01"

#: Content type of a SOAP 1.1 request/answer (``Content-Type`` header).
SOAP_CONTENT_TYPE: Final = "text/xml; charset=utf-8"
#: HTTP status that carries a SOAP 1.1 Fault (SOAP 1.1 §6.2, WS-I BP 1.1 R1126).
SOAP_FAULT_HTTP_STATUS: Final = 500

#: Spec §3.2: a Di01 "inclusief deze base64 inhoud" is at most 25 MegaByte. Decimal
#: megabytes are the smaller reading, so using them can never exceed the limit.
MAX_INLINE_MESSAGE_BYTES: Final = 25_000_000

#: Di01 ``xmime:contentType`` when ``bericht`` carries Grote Berichten metadata instead
#: of the file itself (see :mod:`msdportaal.transport.stuf.gb`).
GB_CONTENT_TYPE: Final = "application/xml"
#: ``@profile`` of the GB metadata document (the only value gb-pull.xsd allows).
GB_PROFILE: Final = "digikoppeling-gb-1.0"

#: Fixed values for the CBS as receiver (DESIGN.md §5, spec §3.2).
CBS_ORGANISATIE: Final = "CBS"
GGK_APPLICATIE: Final = "GGk"

#: StUF 03.01 table 4.1 codes the portal uses when refusing a message.
STUF_CODE_ONTVANGER_ONBEKEND: Final = "StUF010"
STUF_CODE_ZENDER_ONBEKEND: Final = "StUF013"
STUF_CODE_REFERENTIENUMMER_NIET_UNIEK: Final = "StUF016"
STUF_CODE_BERICHTCODE_ONBEKEND: Final = "StUF022"
STUF_CODE_OPSLAAN_NIET_MOGELIJK: Final = "StUF046"
STUF_CODE_SCHEMA: Final = "StUF055"
