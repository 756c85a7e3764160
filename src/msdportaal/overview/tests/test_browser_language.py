"""A browser set to English gets the overview in Dutch, dates included, and it passes axe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from msdportaal.conftest import (
    MUNICIPAL_BACKEND,
    AccessiblePage,
    accessible_page,
    make_municipal_user,
    restore_reference_data,
)
from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality

from .test_language import ENGLISH, ENGLISH_DATE

pytestmark = [pytest.mark.browser]


@pytest.fixture
def english_browser(
    browser: Any, live_server: Any, transactional_db: None
) -> Iterator[AccessiblePage]:
    restore_reference_data()
    with accessible_page(
        browser, live_server.url, locale="en-US", extra_http_headers={"Accept-Language": ENGLISH}
    ) as page:
        yield page


def test_overview_in_an_english_browser_shows_dutch_dates(english_browser: AccessiblePage):
    user = make_municipal_user(Municipality.objects.get(code="0363"))
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    (delivery,) = upload_and_confirm(client, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    english_browser.page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": english_browser.base_url,
            }
        ]
    )
    # The browser really asks for English.
    assert english_browser.page.evaluate("navigator.language") == "en-US"

    page = english_browser.goto("/overzicht/")
    assert page.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    assert page.locator("html").get_attribute("lang") == "nl"
    text = page.locator("main").inner_text()
    assert "De deadline was 30 september 2026." in text
    row = page.get_by_role("row").filter(has_text=delivery.reference)
    assert "29 november 2026" in row.inner_text()
    assert not ENGLISH_DATE.search(text), ENGLISH_DATE.search(text)
