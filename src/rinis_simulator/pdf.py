"""A small, valid one-page PDF for the reports the simulator sends back as CBS.

Why hand-written: the portal stores and offers CBS's PDF for download, so what we send
must be a real PDF that a viewer opens (a "%PDF" prefix with garbage behind it would
hide mistakes in the portal's download path), yet the simulator must not grow a PDF
dependency for one page of text. PDF 1.4 with the standard 14 fonts needs no embedded
font data, so the whole file is a handful of objects plus an exact cross-reference
table, which is all written here.

Text uses Helvetica with ``WinAnsiEncoding`` so "—", "é" and friends come out right:
the strings are encoded as cp1252 (what WinAnsi is, for practical purposes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

#: A4 in points.
PAGE_WIDTH = 595
PAGE_HEIGHT = 842
_MARGIN = 72

KIND_TITLES = {
    "op_orde": "Inhoudelijk rapport: op orde",
    "foutrapport": "Foutrapport",
    "overig": "Rapport",
}

_KIND_BODY = {
    "op_orde": (
        "De aanlevering is technisch en inhoudelijk gecontroleerd.",
        "Er zijn geen bevindingen: de aanlevering is op orde.",
    ),
    "foutrapport": (
        "Bij de technische controle van de aanlevering zijn fouten gevonden:",
        "  - regel 2: kolom 'periode' heeft een onbekende waarde (gesimuleerd)",
        "  - regel 7: verplicht veld 'aantal' ontbreekt (gesimuleerd)",
        "Lever het bestand gecorrigeerd opnieuw aan.",
    ),
    "overig": ("Dit is een mededeling van het CBS over de Monitor Sociaal Domein.",),
}


@dataclass(frozen=True)
class ReportText:
    """What the page says; every field is printed as given (nothing is looked up)."""

    kind: str
    gemeente: str
    delivery_reference: str | None = None
    delivered_file: str | None = None
    message_reference: str | None = None
    report_file: str | None = None
    created: dt.datetime | None = None


def _pdf_string(text: str) -> bytes:
    """A PDF literal string: cp1252 bytes with ``\\``, ``(`` and ``)`` escaped."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _lines(report: ReportText) -> list[tuple[str, int, str]]:
    """``(font, size, text)`` per line, top to bottom; an empty text is a blank line."""
    created = report.created or dt.datetime.now().astimezone()
    lines: list[tuple[str, int, str]] = [
        ("F2", 18, "CBS — Monitor Sociaal Domein"),
        ("F2", 14, KIND_TITLES.get(report.kind, "Rapport")),
        ("F1", 11, ""),
        ("F1", 11, f"Gemeente: {report.gemeente}"),
        ("F1", 11, f"Aanlevering (referentie): {report.delivery_reference or '—'}"),
        ("F1", 11, f"Aangeleverd bestand: {report.delivered_file or '—'}"),
        ("F1", 11, f"Bericht (referentienummer): {report.message_reference or '—'}"),
        ("F1", 11, f"Rapportbestand: {report.report_file or '—'}"),
        ("F1", 11, f"Datum: {created.strftime('%d-%m-%Y %H:%M')}"),
        ("F1", 11, ""),
    ]
    lines.extend(("F1", 11, text) for text in _KIND_BODY.get(report.kind, _KIND_BODY["overig"]))
    lines.extend(
        [
            ("F1", 11, ""),
            ("F1", 9, "Gegenereerd door de RINIS/CBS-simulator voor ontwikkeling en tests;"),
            ("F1", 9, "dit is geen echt rapport van het CBS."),
        ]
    )
    return lines


def _content_stream(lines: Sequence[tuple[str, int, str]]) -> bytes:
    """Page content: one text object per line plus a rule under the title."""
    parts: list[bytes] = []
    y = PAGE_HEIGHT - _MARGIN
    for index, (font, size, text) in enumerate(lines):
        if text:
            parts.append(
                f"BT /{font} {size} Tf {_MARGIN} {y} Td ".encode() + _pdf_string(text) + b" Tj ET"
            )
        y -= int(size * 1.6)
        if index == 1:  # a thin line between the heading and the details
            parts.append(f"0.5 w {_MARGIN} {y + 8} m {PAGE_WIDTH - _MARGIN} {y + 8} l S".encode())
    return b"\n".join(parts) + b"\n"


def _info_date(moment: dt.datetime) -> str:
    offset = moment.strftime("%z") or "+0000"
    return f"D:{moment.strftime('%Y%m%d%H%M%S')}{offset[:3]}'{offset[3:]}'"


def build_report_pdf(report: ReportText) -> bytes:
    """Serialise the one-page PDF with a correct cross-reference table.

    Deterministic for a given :class:`ReportText` (including ``created``), which keeps
    a resent report byte-identical — the portal treats an identical resend as harmless.
    """
    created = report.created or dt.datetime.now().astimezone()
    report = replace(report, created=created)
    content = _content_stream(_lines(report))
    title = f"CBS {KIND_TITLES.get(report.kind, 'Rapport')} {report.gemeente}"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream",
        b"<< /Title "
        + _pdf_string(title)
        + b" /Producer (rinis_simulator) /CreationDate "
        + _pdf_string(_info_date(created))
        + b" >>",
    ]
    # The binary comment line tells transfer tools the file is not plain text.
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    # Every xref entry is exactly 20 bytes, the end-of-line included (PDF 1.4 §3.4.3).
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)
