"""The receipt of a confirmed upload: the page to print, the PDF to keep, the e-mail's link."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from pypdf import PdfReader

from msdportaal.deliveries.models import DeliveredFile, Delivery
from msdportaal.notifications.models import EmailLedger
from msdportaal.notifications.tasks import send_stored_email
from msdportaal.organisations.models import Municipality

from .factories import CURRENT, PREVIOUS, csv_bytes, csv_file, zip_file
from .test_upload import upload, upload_and_confirm

pytestmark = pytest.mark.django_db


def _upload_csv_and_zip(client: Client) -> list[Delivery]:
    return upload_and_confirm(
        client,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", csv_bytes(300)),
        zip_file(
            "correctie-2025.zip",
            {
                f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv": csv_bytes(),
                f"MSD_WMO-FACULTATIEF_0363_{PREVIOUS}.csv": csv_bytes(),
                "MSD_KOSTEN-JW_0363_2025JJ00.csv": csv_bytes(),
            },
        ),
    )


def _pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    # Text extraction may break a long word (a SHA-256) over lines: join them back.
    return "\n".join(page.extract_text() for page in reader.pages)


def _without_whitespace(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_receipt_holds_every_reference_and_sha256(client_a: Client):
    deliveries = _upload_csv_and_zip(client_a)
    batch_id = deliveries[0].batch_id
    response = client_a.get(f"/aanleveren/{batch_id}/ontvangstbewijs.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('inline; filename="ontvangstbewijs-GM0363-')
    body = response.content
    text = _pdf_text(body)
    flat = _without_whitespace(text)
    references = [d.reference for d in deliveries] + list(
        DeliveredFile.objects.filter(delivery__in=deliveries).values_list("reference", flat=True)
    )
    assert len(references) == 6  # a CSV, a ZIP and the ZIP's three CSVs
    for reference in references:
        assert reference in flat, reference
    for delivery in deliveries:
        assert delivery.sha256 in flat, delivery.sha256
        assert delivery.file_name in flat
        assert f"{delivery.size}bytes" in flat
    assert "Amsterdam(GM0363)" in flat
    assert "Bevestigdop29november2026om" in flat  # the moment, in Dutch
    assert "BevestigddoorFatimadeVries" in flat
    assert "ZIP-bestandmet3CSV-bestanden" in flat

    reader = PdfReader(io.BytesIO(body))
    # Tagged, with its language and title: a screen reader can read it (PDF/A-2a).
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "nl"
    assert reader.metadata.title.startswith("Ontvangstbewijs aanlevering Amsterdam")
    assert reader.metadata.author == "MSD Portaal — Inlichtingenbureau"


def test_the_receipt_page_shows_the_same_facts(client_a: Client):
    deliveries = _upload_csv_and_zip(client_a)
    response = client_a.get(f"/aanleveren/{deliveries[0].batch_id}/ontvangstbewijs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h1 class="utrecht-heading-1">Ontvangstbewijs aanlevering</h1>' in page
    for delivery in deliveries:
        assert delivery.reference in page
        assert delivery.sha256 in page
        for file in delivery.files.all():
            assert file.reference in page
    assert "Fatima de Vries" in page
    assert f'href="/aanleveren/{deliveries[0].batch_id}/ontvangstbewijs.pdf"' in page


def test_the_confirmation_and_the_detail_link_to_the_receipt(client_a: Client):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    receipt = f"/aanleveren/{delivery.batch_id}/ontvangstbewijs/"
    confirmation = client_a.get(f"/aanleveren/{delivery.batch_id}/bevestiging/").content.decode()
    assert f'href="{receipt}"' in confirmation
    detail = client_a.get(f"/aanleveringen/{delivery.reference}/").content.decode()
    assert f'href="{receipt}"' in detail


def test_no_receipt_before_the_confirmation(client_a: Client):
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    batch_id = response["Location"].split("/")[2]
    assert client_a.get(f"/aanleveren/{batch_id}/ontvangstbewijs/").status_code == 404
    assert client_a.get(f"/aanleveren/{batch_id}/ontvangstbewijs.pdf").status_code == 404


def test_another_gemeente_gets_a_404(client_a: Client, client: Client, user_b):
    from msdportaal.conftest import MUNICIPAL_BACKEND

    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    other = Client()
    other.force_login(user_b, backend=MUNICIPAL_BACKEND)
    assert Municipality.objects.get(code="0344") in user_b.municipalities.all()
    for suffix in ("ontvangstbewijs/", "ontvangstbewijs.pdf"):
        assert other.get(f"/aanleveren/{delivery.batch_id}/{suffix}").status_code == 404


def test_the_receipt_email_links_to_the_receipt(client_a: Client, mailbox, settings):
    settings.MSD_PUBLIC_URL = "https://portaal.example.nl"
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    for stored in EmailLedger.objects.values_list("pk", flat=True):
        send_stored_email(stored)
    (message,) = mailbox.to("medewerker-a@example.org")
    link = f"https://portaal.example.nl/aanleveren/{delivery.batch_id}/ontvangstbewijs/"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert link in text
    assert f'href="{link}"' in html


def test_rendering_fetches_nothing_but_our_static_files():
    from weasyprint import HTML

    from msdportaal.core.pdf import BASE_URL, StaticFilesOnly

    fetcher = StaticFilesOnly()
    assert fetcher.fetch(BASE_URL + "static/css/receipt-pdf.css").status == 200
    for url in (
        "https://example.org/x.css",
        "file:///etc/passwd",
        BASE_URL + "static/../../etc/passwd",
        BASE_URL + "media/uploads/x.csv",
    ):
        with pytest.raises(ValueError, match="not a static file"):
            fetcher.fetch(url)
    # An image a file name might smuggle in would not be fetched (and nothing breaks).
    html = '<img src="http://127.0.0.1:9/secret"><p>x</p>'
    assert HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()


def test_the_pdf_receipt_with_productions_collected_static_files(
    client_a: Client, settings, tmp_path
):
    """In production the fonts and the stylesheet come from collectstatic's output under
    their hashed names (no finders): the PDF still has them."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.management import call_command

    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    assert staticfiles_storage.stored_name("css/receipt-pdf.css") != "css/receipt-pdf.css"
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    body = client_a.get(f"/aanleveren/{delivery.batch_id}/ontvangstbewijs.pdf").content
    reader = PdfReader(io.BytesIO(body))
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
        if "/BaseFont" in font.get_object()
    }
    # The portal's fonts, embedded (subsets): text and headings.
    assert {f.split("+")[1] for f in fonts} == {"Noto-Sans", "Noto-Sans-Bold", "Noto-Serif-Bold"}
    assert delivery.sha256 in _without_whitespace(_pdf_text(body))
