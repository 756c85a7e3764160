"""In a real browser: the eHerkenning flow from the login page to the overview, with axe.

The browser goes from our login page to the start page, which posts the signed
AuthnRequest to the test broker; the broker redirects back to our ACS with an artifact;
the ACS resolves it over mutual TLS at the broker and logs the person in.
"""

from __future__ import annotations

import re

import pytest

from msdportaal.organisations.models import Municipality

from .conftest import AMSTERDAM_KVK, configure_eherkenning
from .idp import Scenario

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:onelogin.saml2.utils"),
]


def test_eherkenning_login_lands_on_the_overview_of_the_gemeente(browser_page, broker):
    configure_eherkenning(broker, browser_page.base_url)
    Municipality.objects.filter(code="0363").update(kvk_number=AMSTERDAM_KVK)
    broker.next_scenario = Scenario(
        intermediary_kvk_number="87654321", intermediary_name="Softwareleverancier B.V."
    )

    page = browser_page.goto("/")
    assert page.title() == "Inloggen — MSD Portaal"
    # Without JavaScript the start page waits for a click: check it, then go on by keyboard.
    page.route("**/eherkenning/autosubmit.js", lambda route: route.abort())
    page.get_by_role("link", name="Inloggen met eHerkenning").click()
    page.wait_for_url(re.compile(r".*/eherkenning/inloggen/$"))
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "U gaat naar eHerkenning"
    page.get_by_role("button", name="Doorgaan naar eHerkenning").focus()
    page.keyboard.press("Enter")

    # First login: the profile, then the overview of the represented gemeente.
    page.wait_for_url("**/mijn-gegevens/**")
    browser_page.axe()
    page.get_by_label("Voornaam").fill("Fatima")
    page.get_by_label("Achternaam").fill("de Vries")
    page.get_by_label("E-mailadres").fill("fatima@example.org")
    page.get_by_label("Telefoonnummer").fill("020 123 45 67")
    page.get_by_role("button", name="Opslaan").click()
    page.wait_for_url("**/overzicht/")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    assert "U handelt namens: Amsterdam (GM0363)" in page.get_by_role("banner").inner_text()
    assert len(broker.resolves) == 1


def test_unknown_organisation_page_in_the_browser(browser_page, broker):
    configure_eherkenning(broker, browser_page.base_url)
    broker.next_scenario = Scenario(kvk_number="99887766")
    page = browser_page.goto("/")
    # With JavaScript the start page sends itself on to the broker at once.
    page.get_by_role("link", name="Inloggen met eHerkenning").click()
    page.wait_for_url(re.compile(r".*/eherkenning/acs/.*"))
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Uw organisatie is nog niet bekend in MSD Portaal"
    )
    assert "99887766" in page.locator("[data-kvk-number]").inner_text()
    page.get_by_role("link", name="Terug naar inloggen").click()
    page.wait_for_url("**/inloggen/")
    browser_page.axe()
