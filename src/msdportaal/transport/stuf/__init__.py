"""StUF-GGk v2.1 message library for the transport app (pure Python, no Django).

Builds and parses everything that crosses the RINIS/CBS interface (DESIGN.md §5):

* outbound ``ggk_Di01`` (and ``ggk_Du01`` for the simulator) as a *streamed* SOAP 1.1
  body with the file inline as base64, plus its exact length up front
  (:func:`iter_di01_soap`, :func:`soap_body_length`, :func:`fits_inline`);
* the Digikoppeling Grote Berichten variant, where ``bericht`` carries a gb-pull.xsd
  metadata document instead of the file (:mod:`.gb`);
* the answers: :func:`parse_answer` → :class:`Bv03` / :class:`Fo03` /
  :class:`ProtocolError`, and :func:`build_bv03` / :func:`build_fo03_fault`;
* inbound requests: :func:`parse_inbound` → :class:`InboundMessage`.

All parsing goes through :mod:`.xmlsafe` (no DTD, no entities, no network) and all
validation uses the official schemas copied into ``transport/schemas``.
"""

from .answers import (
    ACTION_BV03,
    ACTION_FO03,
    Answer,
    Bv03,
    Fo03,
    ProtocolError,
    build_bv03,
    build_fo03_fault,
    parse_answer,
)
from .constants import (
    GB_CONTENT_TYPE,
    MAX_INLINE_MESSAGE_BYTES,
    SOAP_ACTION_DI01,
    SOAP_ACTION_DU01,
    SOAP_CONTENT_TYPE,
    SOAP_FAULT_HTTP_STATUS,
)
from .envelope import (
    DEFAULT_CHUNK_SIZE,
    SupportsRead,
    base64_length,
    fits_inline,
    iter_di01_soap,
    iter_du01_soap,
    iter_soap_body,
    soap_body_length,
)
from .errors import (
    GbMetadataError,
    InboundMessageError,
    InvalidXmlError,
    MalformedMessageError,
    PayloadSizeMismatchError,
    SchemaResolutionError,
    SchemaValidationError,
    StufError,
    UnknownOperationError,
)
from .gb import (
    GbMetadata,
    build_gb_metadata,
    di01_gb_soap_length,
    file_digest,
    gb_di01_message,
    gb_filename,
    iter_di01_gb_soap,
    parse_gb_metadata,
)
from .inbound import InboundMessage, ReceivedAddressing, parse_inbound
from .models import (
    Di01Message,
    Du01Message,
    EnvelopeMessage,
    Systeem,
    WsAddressing,
    format_tijdstip,
    new_message_id,
    new_referentienummer,
)
from .xmlsafe import gb_pull_schema, ggk_schema, safe_fromstring

__all__ = [
    "ACTION_BV03",
    "ACTION_FO03",
    "DEFAULT_CHUNK_SIZE",
    "GB_CONTENT_TYPE",
    "MAX_INLINE_MESSAGE_BYTES",
    "SOAP_ACTION_DI01",
    "SOAP_ACTION_DU01",
    "SOAP_CONTENT_TYPE",
    "SOAP_FAULT_HTTP_STATUS",
    "Answer",
    "Bv03",
    "Di01Message",
    "Du01Message",
    "EnvelopeMessage",
    "Fo03",
    "GbMetadata",
    "GbMetadataError",
    "InboundMessage",
    "InboundMessageError",
    "InvalidXmlError",
    "MalformedMessageError",
    "PayloadSizeMismatchError",
    "ProtocolError",
    "ReceivedAddressing",
    "SchemaResolutionError",
    "SchemaValidationError",
    "StufError",
    "SupportsRead",
    "Systeem",
    "UnknownOperationError",
    "WsAddressing",
    "base64_length",
    "build_bv03",
    "build_fo03_fault",
    "build_gb_metadata",
    "di01_gb_soap_length",
    "file_digest",
    "fits_inline",
    "format_tijdstip",
    "gb_di01_message",
    "gb_filename",
    "gb_pull_schema",
    "ggk_schema",
    "iter_di01_gb_soap",
    "iter_di01_soap",
    "iter_du01_soap",
    "iter_soap_body",
    "new_message_id",
    "new_referentienummer",
    "parse_answer",
    "parse_gb_metadata",
    "parse_inbound",
    "safe_fromstring",
    "soap_body_length",
]
