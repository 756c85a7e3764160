"""PDF documents (the receipts) from a template, with WeasyPrint.

The HTML is one of our own templates; the PDF is tagged (PDF/A-2a: an archival PDF
whose structure, reading order and language a screen reader can follow) and carries the
fonts it uses, so it looks the same on every machine. WeasyPrint needs Debian's Pango
(``libpango-1.0-0``, ``libpangoft2-1.0-0``, ``libharfbuzz-subset0``; README).

WeasyPrint would fetch any URL the HTML or CSS names. :class:`StaticFilesOnly` lets it
read our static files and nothing else: no network, no local file outside them, so text
a user wrote (a file name) can never make the server fetch something.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

#: The made-up origin the templates' relative URLs resolve against.
BASE_URL = "https://pdf.msd-portaal.invalid/"
PDF_VARIANT = "pdf/a-2a"


class StaticFilesOnly(URLFetcher):
    """Answers ``/static/…`` from the static files (collected, or the finders' in
    development and tests); refuses every other URL."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        prefix = BASE_URL.rstrip("/") + settings.STATIC_URL
        if not url.startswith(prefix):
            raise ValueError(f"not a static file: {url[:200]}")
        name = unquote(urlsplit(url).path.removeprefix(urlsplit(prefix).path))
        if not name or ".." in name.split("/") or name.startswith("/"):
            raise ValueError(f"not a static file: {url[:200]}")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        path = finders.find(name) if settings.WHITENOISE_USE_FINDERS else None
        if path:
            with open(path, "rb") as handle:
                body = handle.read()
        else:
            with staticfiles_storage.open(name) as handle:
                body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    html = render_to_string(template_name, context)
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesOnly())
    return document.write_pdf(pdf_variant=PDF_VARIANT)


def pdf_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
