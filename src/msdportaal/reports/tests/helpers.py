"""Building CBS's messages the way RINIS delivers them, for the tests."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from msdportaal.transport.stuf import (
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
    Di01Message,
    Du01Message,
    WsAddressing,
    format_tijdstip,
    iter_di01_soap,
    iter_du01_soap,
)

SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def cert_headers(certs, stem: str = "rinis_client") -> dict[str, str]:
    """What the TLS-terminating proxy adds for a verified client certificate."""
    pem = Path(getattr(certs, stem).cert).read_text()
    return {
        "HTTP_X_SSL_CLIENT_CERT": quote(pem, safe=""),
        "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
        "HTTP_X_MSD_PROXY_SECRET": settings.MSD_PROXY_SECRET,
    }


def _common(gemeente: str, functie: str, bestandsnaam: str) -> dict:
    from django.utils import timezone

    return {
        "zender_organisatie": "CBS",
        "zender_applicatie": "GGk",
        "ontvanger_organisatie": gemeente,
        "ontvanger_applicatie": "MSDPortaal",
        "referentienummer": str(uuid.uuid4()),
        "tijdstip_bericht": format_tijdstip(timezone.now()),
        "functie": functie,
        "applicatie_versie": "0001",
        "applicatie_subversie": "0000",
        "functie_versie": "0001",
        "functie_subversie": "0000",
        "bestandsnaam": bestandsnaam,
        "content_type": "application/pdf",
    }


def du01(
    gemeente: str,
    *,
    cross_refnummer: str,
    cross_refnummer_bericht: str | None = None,
    functie: str = "MSDOPORDE",
    pdf: bytes = SAMPLE_PDF,
    bestandsnaam: str = "rapport-op-orde.pdf",
    referentienummer: str | None = None,
) -> tuple[bytes, str]:
    fields = _common(gemeente, functie, bestandsnaam)
    if referentienummer:
        fields["referentienummer"] = referentienummer
    message = Du01Message(
        **fields,
        cross_refnummer=cross_refnummer,
        cross_refnummer_bericht=cross_refnummer_bericht,
        referentienummer_bericht=str(uuid.uuid4())[:12],
    )
    wsa = WsAddressing(
        to="https://portaal.example/rinis/ggk/", from_address="urn:rinis", action=SOAP_ACTION_DU01
    )
    return b"".join(iter_du01_soap(message, io.BytesIO(pdf), wsa=wsa)), SOAP_ACTION_DU01


def di01(
    gemeente: str, *, functie: str = "MSDFOUTRAPPORT", pdf: bytes = SAMPLE_PDF
) -> tuple[bytes, str]:
    message = Di01Message(
        **_common(gemeente, functie, "foutrapport.pdf"), referentienummer_bericht="CBS-0001"
    )
    wsa = WsAddressing(
        to="https://portaal.example/rinis/ggk/", from_address="urn:rinis", action=SOAP_ACTION_DI01
    )
    return b"".join(iter_di01_soap(message, io.BytesIO(pdf), wsa=wsa)), SOAP_ACTION_DI01
