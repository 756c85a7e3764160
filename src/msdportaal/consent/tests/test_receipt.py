"""The receipt of a submitted consent form: the page to print, the PDF, the e-mail's link."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from pypdf import PdfReader

from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.notifications.models import EmailLedger
from msdportaal.notifications.tasks import send_stored_email

from .factories import CURRENT, FORMS_URL, PREVIOUS, fill_in, report, submit

pytestmark = pytest.mark.django_db


def _flat_pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def test_the_pdf_receipt_holds_the_reference_answers_and_sha256(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS, {"KOSTEN_JW": "nee"})
    response = client_a.get(f"/toestemming/{form.pk}/ontvangstbewijs.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = _flat_pdf_text(response.content)
    assert form.reference in text
    assert form.sha256 in text
    assert form.file_name in text
    assert f"{form.size}bytes" in text
    assert "Amsterdam(GM0363)" in text
    assert "Verslagperiode2025,2ehalfjaar(2025HJ02)" in text
    assert "BesluitgenomendoorFatimadeVries" in text
    assert "Bevestigdop29november2026om" in text
    # Five sets asked in an HJ02 period, each with its answer: the yearly cost sets as
    # 2025JJ00, jeugdwet "nee" and sociaal beleid "ja".
    assert text.count("2025HJ02Ja") == 3
    assert text.count("2025JJ00") == 2
    assert "2025JJ00Nee" in text
    assert "2025JJ00Ja" in text


def test_the_receipt_page_and_where_it_is_linked(client_a: Client, municipality_a):
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    receipt = f"/toestemming/{form.pk}/ontvangstbewijs/"
    page = client_a.get(receipt).content.decode()
    assert "Ontvangstbewijs toestemming" in page
    assert form.reference in page
    assert form.sha256 in page
    assert f'href="/toestemming/{form.pk}/ontvangstbewijs.pdf"' in page
    confirmation = client_a.get(f"/toestemming/{form.pk}/bevestiging/").content.decode()
    assert f'href="{receipt}"' in confirmation
    history = client_a.get(FORMS_URL).content.decode()
    assert f'href="{receipt}"' in history


def test_a_draft_has_no_receipt(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    check_url = fill_in(client_a, CURRENT)["Location"]
    form_id = check_url.split("/")[2]
    assert client_a.get(f"/toestemming/{form_id}/ontvangstbewijs/").status_code == 404
    assert client_a.get(f"/toestemming/{form_id}/ontvangstbewijs.pdf").status_code == 404


def test_another_gemeente_gets_a_404(client_a: Client, municipality_a, user_b):
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    other = Client()
    other.force_login(user_b, backend=MUNICIPAL_BACKEND)
    for suffix in ("ontvangstbewijs/", "ontvangstbewijs.pdf"):
        assert other.get(f"/toestemming/{form.pk}/{suffix}").status_code == 404


def test_the_confirmation_email_links_to_the_receipt(
    client_a: Client, municipality_a, mailbox, settings
):
    settings.MSD_PUBLIC_URL = "https://portaal.example.nl"
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    for stored in EmailLedger.objects.values_list("pk", flat=True):
        send_stored_email(stored)
    (message,) = mailbox.to(form.email)
    link = f"https://portaal.example.nl/toestemming/{form.pk}/ontvangstbewijs/"
    assert link in message.get_body(("plain",)).get_content()
    assert f'href="{link}"' in message.get_body(("html",)).get_content()
