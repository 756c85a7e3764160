"""Exceptions of the StUF-GGk library.

Inbound errors carry the StUF 03.01 (table 4.1) code, ``plek`` and ``omschrijving`` the
endpoint should answer with, so the view never has to map exception types to codes
itself; they also carry whatever stuurgegevens could still be read, because a Fo03 has
to name the sender and the refused message (StUF 03.01 §4.4.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from .constants import STUF_CODE_BERICHTCODE_ONBEKEND, STUF_CODE_SCHEMA

if TYPE_CHECKING:
    from .models import Systeem


class StufError(Exception):
    """Base class for everything this library raises on purpose."""


class SchemaResolutionError(StufError):
    """A schema tried to load something that is not in the local schema folder.

    Raised instead of silently fetching it: the portal must never depend on the network
    (or on a shared folder) to validate a message.
    """


class InvalidXmlError(StufError):
    """Input is not acceptable XML: not well-formed, too large, or has a DTD.

    Shared by all parsers so callers of ``parse_answer`` and ``parse_inbound`` see the
    same unsafe-input behaviour.
    """


class GbMetadataError(StufError):
    """A Grote Berichten metadata document is invalid against gb-pull.xsd or unusable."""


class PayloadSizeMismatchError(StufError):
    """The streamed file did not have the size the Content-Length was computed from.

    Raised at the end of the stream so the HTTP request is aborted rather than sent with
    a body that does not match its header.
    """


class InboundMessageError(StufError):
    """An inbound SOAP request that must be refused with a Fo03 (plek ``client``).

    Attributes:
        stuf_code: StUF 03.01 table 4.1 code for the Fo03 body.
        omschrijving: Fo03 ``omschrijving`` (max 200 characters).
        zender, ontvanger, referentienummer: best-effort stuurgegevens of the refused
            message (``None`` when unreadable); a Fo03 swaps zender and ontvanger and
            puts the referentienummer in ``crossRefnummer``.
    """

    stuf_code: str = STUF_CODE_SCHEMA
    plek: Literal["client"] = "client"
    omschrijving: str = "Berichtbody is niet conform schema in sectormodel"

    def __init__(
        self,
        message: str,
        *,
        zender: Systeem | None = None,
        ontvanger: Systeem | None = None,
        referentienummer: str | None = None,
    ) -> None:
        super().__init__(message)
        self.zender = zender
        self.ontvanger = ontvanger
        self.referentienummer = referentienummer


class MalformedMessageError(InboundMessageError):
    """Not XML, not a SOAP 1.1 envelope, or refused for safety (DTD, entities, size)."""


class UnknownOperationError(InboundMessageError):
    """The SOAP Body holds something other than a ggk_Di01 or ggk_Du01 element."""

    stuf_code = STUF_CODE_BERICHTCODE_ONBEKEND
    omschrijving = "Berichtcode onbekend"


class SchemaValidationError(InboundMessageError):
    """The Di01/Du01 element does not validate against ggk0310_msg.xsd (→ StUF055)."""

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[str] = (),
        zender: Systeem | None = None,
        ontvanger: Systeem | None = None,
        referentienummer: str | None = None,
    ) -> None:
        super().__init__(
            message, zender=zender, ontvanger=ontvanger, referentienummer=referentienummer
        )
        self.errors: tuple[str, ...] = tuple(errors)
