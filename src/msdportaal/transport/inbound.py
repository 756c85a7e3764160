"""The inbound endpoint (the WSDL's OntvangAsynchroon port): RINIS delivers CBS's messages.

Transport checks who is calling, the size, the XML and the schema, finds the gemeente,
and makes a repeated message harmless. What a message *means* is up to the handler an
app registers (reports registers one); transport knows nothing of reports.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from msdportaal.organisations.models import Municipality

from .client_certs import identify
from .models import ClientPurpose, ReceivedMessage
from .stuf import (
    SOAP_CONTENT_TYPE,
    SOAP_FAULT_HTTP_STATUS,
    InboundMessage,
    InboundMessageError,
    Systeem,
    build_bv03,
    build_fo03_fault,
    format_tijdstip,
    new_referentienummer,
    parse_inbound,
)

logger = logging.getLogger(__name__)


class HandlerRefused(Exception):
    """A handler cannot take the message; answered as Fo03 with this code."""

    def __init__(self, code: str, omschrijving: str, plek: str = "server") -> None:
        super().__init__(omschrijving)
        self.code, self.omschrijving, self.plek = code, omschrijving, plek


@dataclass(frozen=True)
class Delivered:
    message: InboundMessage
    municipality: Municipality
    received: ReceivedMessage


Handler = Callable[[Delivered], None]
_handlers: list[Handler] = []


def register_handler(handler: Handler) -> None:
    """Called from an AppConfig.ready(); the handler runs inside the storing transaction
    and must store what it needs before returning (we answer Bv03 after that)."""
    if handler not in _handlers:
        _handlers.append(handler)


def _us() -> Systeem:
    """Who answers when the message does not say whom it was for (unreadable)."""
    from .models import TransportConfiguration

    try:
        application = TransportConfiguration.get_solo().application_name
    except Exception:  # the database is away: answer all the same
        application = TransportConfiguration._meta.get_field("application_name").default
    return Systeem(organisatie="IB", applicatie=application)


def _fault(code: str, plek: str, omschrijving: str, message: object = None) -> HttpResponse:
    """A Fo03 answering *message* (an InboundMessage, an InboundMessageError or None).

    StUF 03.01 §4.4.3: the answer's zender is the refused message's ontvanger and its
    ontvanger that message's zender, as in our Bv03; only when the message could not be
    read far enough to say whom it was for do we name ourselves.
    """
    received_zender = getattr(message, "zender", None)
    received_ontvanger = getattr(message, "ontvanger", None)
    try:
        body = build_fo03_fault(
            code,
            plek,
            omschrijving,
            zender=received_ontvanger if received_ontvanger is not None else _us(),
            ontvanger=received_zender,
            cross_refnummer=getattr(message, "referentienummer", None),
        )
    except ValueError:  # e.g. a referentienummer too long to repeat in crossRefnummer
        body = build_fo03_fault(code, plek, omschrijving, zender=_us())
    response = HttpResponse(body, status=SOAP_FAULT_HTTP_STATUS, content_type=SOAP_CONTENT_TYPE)
    # A Fo03 is an answer, not a crash: we log it ourselves at INFO, not as a server error.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _bv03(message: InboundMessage, received: ReceivedMessage) -> HttpResponse:
    body = build_bv03(
        zender=message.ontvanger,
        ontvanger=message.zender,
        cross_refnummer=message.referentienummer,
        referentienummer=received.answer_referentienummer,
        tijdstip_bericht=received.answer_tijdstip,
    )
    return HttpResponse(body, content_type=SOAP_CONTENT_TYPE)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _never_html(view: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Whatever fails in *view* (the database away, a bug) is a Fo03 StUF046 plek=server
    with HTTP 500, never Django's HTML error page: RINIS reads a server Fo03 as "try again"
    and keeps the message, where an HTML 500 may count as a refusal."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            return view(request)
        except Exception:
            logger.exception("Inbound endpoint failed; answered Fo03 StUF046 (server)")
            return _fault("StUF046", "server", "Het bericht kon nu niet worden verwerkt.")

    return wrapped


@csrf_exempt
@require_POST
@_never_html
def receive(request: HttpRequest) -> HttpResponse:
    if identify(request, ClientPurpose.INBOUND) is None:
        return HttpResponse(
            "Geen of geen geregistreerd clientcertificaat.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body = _read_body(request, settings.MSD_INBOUND_MAX_BYTES)
    if body is None:
        return _fault("StUF055", "client", "Bericht is groter dan toegestaan.")
    try:
        message = parse_inbound(
            body,
            soap_action=request.headers.get("SOAPAction"),
            max_bytes=settings.MSD_INBOUND_MAX_BYTES,
            content_type=request.META.get("CONTENT_TYPE", ""),
            require_soap_action=True,
        )
    except InboundMessageError as error:
        logger.info("inbound refused %s: %s", error.stuf_code, error.omschrijving)
        return _fault(error.stuf_code, error.plek, error.omschrijving, error)
    try:
        return _deliver(message)
    except Exception:  # storing failed: tell RINIS to try again later (StUF046, server)
        logger.exception("Storing inbound message %s failed", message.referentienummer)
        return _fault("StUF046", "server", "Het bericht kon nu niet worden opgeslagen.", message)


def _deliver(message: InboundMessage) -> HttpResponse:
    """Find the gemeente, make a repeat harmless, store and let the handlers run."""
    municipality = Municipality.objects.filter(code=message.ontvanger.organisatie).first()
    if municipality is None:
        return _fault(
            "StUF010",
            "client",
            f"Onbekende ontvanger: gemeente {message.ontvanger.organisatie!r}.",
            message,
        )
    fingerprint = message.fingerprint()
    known = ReceivedMessage.objects.filter(
        zender_organisatie=message.zender.organisatie, referentienummer=message.referentienummer
    ).first()
    if known is not None:
        return _answer_repeat(message, known, fingerprint)
    try:
        with transaction.atomic():
            received = ReceivedMessage.objects.create(
                zender_organisatie=message.zender.organisatie,
                referentienummer=message.referentienummer,
                fingerprint=fingerprint,
                berichtcode=message.berichtcode,
                functie=message.functie,
                municipality=municipality,
                cross_refnummer=message.cross_refnummer or "",
                cross_refnummer_bericht=message.cross_refnummer_bericht or "",
                bestandsnaam=message.bestandsnaam or "",
                answer_referentienummer=new_referentienummer(),
                answer_tijdstip=format_tijdstip(timezone.now()),
            )
            for handler in _handlers:
                handler(Delivered(message, municipality, received))
    except IntegrityError:
        # The same message arrived twice at the same moment and the other one stored it;
        # any other integrity error is a failure to store: RINIS should try again.
        known = ReceivedMessage.objects.filter(
            zender_organisatie=message.zender.organisatie, referentienummer=message.referentienummer
        ).first()
        if known is None:
            logger.exception("Storing inbound message %s failed", message.referentienummer)
            return _fault(
                "StUF046", "server", "Het bericht kon nu niet worden opgeslagen.", message
            )
        return _answer_repeat(message, known, fingerprint)
    except HandlerRefused as refusal:
        return _fault(refusal.code, refusal.plek, refusal.omschrijving, message)
    return _bv03(message, received)


def _answer_repeat(
    message: InboundMessage, known: ReceivedMessage, fingerprint: str
) -> HttpResponse:
    if known.fingerprint != fingerprint:
        return _fault(
            "StUF016", "client", "Referentienummer is al gebruikt voor een ander bericht.", message
        )
    return _bv03(message, known)
