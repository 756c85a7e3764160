"""Dutch everywhere: a browser that asks for English still gets Dutch pages and dates."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm

pytestmark = pytest.mark.django_db

ENGLISH = "en-US,en;q=0.9"
#: A date written the English way: "30 September 2026", "3 Dec 2026", "December 3, 2026".
ENGLISH_DATE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2}\b"
    r"|\b\d{1,2} (January|February|March|April|May|June|July|August|September|October"
    r"|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
)


def test_the_overview_is_dutch_for_a_browser_that_asks_for_english(client_a):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    response = client_a.get(reverse("overview:index"), HTTP_ACCEPT_LANGUAGE=ENGLISH)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="nl"' in page
    # The deadline of 2026HJ01 (30 September) and the upload of today (29 November):
    # Dutch month names in lower case, written out as in every table ("29 november 2026
    # 10:00", core's msd_datetime), never the "29 Nov 2026" of Django's "M".
    assert "De deadline was 30 september 2026." in page
    assert "29 november 2026 10:0" in page
    assert delivery.reference in page
    assert not ENGLISH_DATE.search(page), ENGLISH_DATE.search(page)


@pytest.mark.parametrize(
    "accept_language", ["en", "en-GB,en;q=0.8", "de-DE,de;q=0.9,en;q=0.8", "fr", "*"]
)
def test_no_accept_language_or_language_cookie_gives_anything_but_dutch(client_a, accept_language):
    client_a.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client_a.get(reverse("overview:index"), HTTP_ACCEPT_LANGUAGE=accept_language)
    html = page.content.decode()
    assert "De deadline was 30 september 2026." in html
    assert not ENGLISH_DATE.search(html)
    # Django's own texts (here a form error from its catalogue) are Dutch too.
    profile = client_a.post(
        reverse("organisations:profile"),
        {"first_name": "x" * 151, "last_name": "V", "email": "f@example.org", "phone": "020"},
        HTTP_ACCEPT_LANGUAGE=accept_language,
    ).content.decode()
    assert "Zorg dat deze waarde niet meer dan 150 tekens bevat (het zijn er nu 151)." in profile
    assert "Ensure this value" not in profile


def test_an_english_url_prefix_does_not_exist(client_a):
    assert client_a.get("/en/overzicht/", HTTP_ACCEPT_LANGUAGE=ENGLISH).status_code == 404
    assert client_a.get("/i18n/setlang/").status_code == 404
