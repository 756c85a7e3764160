"""In a real browser: the Dutch error pages pass axe and the strict CSP, the 503 page
included, with the live server's database really unreachable."""

from __future__ import annotations

import pytest

from msdportaal.conftest import AccessiblePage

from .test_error_pages import ERROR_URLS, database_unreachable

pytestmark = [pytest.mark.browser]


def heading(page: AccessiblePage) -> str:
    return page.page.get_by_role("heading", level=1).inner_text()


def test_404_page_in_a_browser(browser_page: AccessiblePage) -> None:
    response = browser_page.page.goto(browser_page.base_url + "/bestaat-niet/")
    browser_page.axe()
    assert response.status == 404
    assert heading(browser_page) == "Pagina niet gevonden"
    browser_page.page.get_by_role("link", name="Ga naar de startpagina van het MSD Portaal").click()
    browser_page.page.wait_for_url("**/inloggen/**")
    browser_page.axe()


def test_404_page_for_a_logged_in_user(logged_in_page: AccessiblePage) -> None:
    response = logged_in_page.page.goto(logged_in_page.base_url + "/bestaat-niet/")
    logged_in_page.axe()
    assert response.status == 404
    assert heading(logged_in_page) == "Pagina niet gevonden"
    assert logged_in_page.page.get_by_role("navigation", name="Hoofdmenu").is_visible()


@pytest.mark.urls(ERROR_URLS)
def test_500_and_503_pages_in_a_browser(browser_page: AccessiblePage) -> None:
    page = browser_page.page
    response = page.goto(browser_page.base_url + "/test-fout/")
    browser_page.axe()
    assert response.status == 500
    assert heading(browser_page) == "Er is een probleem met de dienst"

    with database_unreachable():
        response = page.goto(browser_page.base_url + "/overzicht/")
        browser_page.axe()
    assert response.status == 503
    assert response.headers["retry-after"] == "60"
    assert heading(browser_page) == "De dienst is tijdelijk niet beschikbaar"

    # The database is back: the portal answers again.
    page.goto(browser_page.base_url + "/overzicht/")
    page.wait_for_url("**/inloggen/**")
    browser_page.axe()
