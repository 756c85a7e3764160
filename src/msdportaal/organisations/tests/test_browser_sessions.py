"""Two browsers of one person, each logged in through the development login for another
gemeente: each keeps its own gemeente, and its own report links keep working."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from msdportaal.conftest import AccessiblePage, accessible_page
from msdportaal.consent.tests.factories import CURRENT, report
from msdportaal.organisations.models import Municipality, User

pytestmark = [pytest.mark.browser]


@pytest.fixture
def second_browser(
    browser: Any, live_server: Any, browser_page: AccessiblePage
) -> Iterator[AccessiblePage]:
    """Another browser context: its own cookies, so its own session."""
    with accessible_page(browser, live_server.url) as page:
        yield page


def dev_login(browser_page: AccessiblePage, gemeente: str) -> Any:
    page = browser_page.goto("/ontwikkel-login/")
    page.get_by_label("Gemeente", exact=True).select_option(label=gemeente)
    page.get_by_label("Uw naam").fill("Fatima de Vries")
    page.get_by_label("E-mailadres").fill("fatima@example.org")  # the same person
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_load_state("load")
    browser_page.axe()
    return page


def banner(page: Any) -> str:
    return " ".join(page.get_by_role("banner").inner_text().split())


def test_two_browsers_of_one_person_keep_their_own_gemeente(
    browser_page: AccessiblePage, second_browser: AccessiblePage
):
    first = dev_login(browser_page, "Amsterdam (GM0363)")
    assert first.title() == "Mijn gegevens — MSD Portaal"  # the first time: the profile
    first.get_by_label("Voornaam").fill("Fatima")
    first.get_by_label("Achternaam").fill("de Vries")
    first.get_by_label("Telefoonnummer").fill("020 123 45 67")
    first.get_by_role("button", name="Opslaan").click()
    first.wait_for_url("**/overzicht/")
    browser_page.axe()
    assert first.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    amsterdam_report = report(
        Municipality.objects.get(code="0363"), CURRENT, file_name="rapport-amsterdam.pdf"
    )
    browser_page.goto("/rapporten/")
    assert first.get_by_role("link", name="rapport-amsterdam.pdf downloaden").is_visible()

    second = dev_login(second_browser, "Utrecht (GM0344)")
    assert second.get_by_role("heading", level=1).inner_text() == "Overzicht Utrecht"
    assert "U handelt namens: Utrecht (GM0344)" in banner(second)
    assert User.objects.count() == 1

    # Back in the first browser: still Amsterdam, and its report still downloads.
    browser_page.goto("/overzicht/")
    assert first.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    assert "U handelt namens: Amsterdam (GM0363)" in banner(first)
    browser_page.goto("/rapporten/")
    with first.expect_download() as download:
        first.get_by_role("link", name="rapport-amsterdam.pdf downloaden").click()
    assert download.value.suggested_filename == "rapport-amsterdam.pdf"
    assert download.value.failure() is None

    # The second browser does not get Amsterdam's report.
    response = second.request.get(
        f"{second_browser.base_url}/rapporten/{amsterdam_report.pk}/download/"
    )
    assert response.status == 404
    second_browser.goto("/rapporten/")
    assert "rapport-amsterdam.pdf" not in second.locator("main").inner_text()
