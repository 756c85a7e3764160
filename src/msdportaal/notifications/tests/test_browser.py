"""The overview and the notification list in a real browser, with axe on every page."""

from __future__ import annotations

import re

import pytest

from msdportaal.conftest import browser_login
from msdportaal.notifications.schedule import run_daily

pytestmark = [pytest.mark.browser]


def test_overview_notifications_and_contacts(logged_in_page, user_a, fixed_today):
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    run_daily()
    browser_login(logged_in_page, user_a)  # the session from before the time travel expired
    page = logged_in_page.goto("/overzicht/")
    assert page.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    assert page.get_by_role(
        "heading", name="Verslagperiode 2026, 2e halfjaar (2026HJ02)"
    ).is_visible()
    assert "Wat u nu moet doen" in page.content()
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    assert "Meldingen 1 nieuw" in nav.inner_text().replace("\n", " ")

    nav.get_by_role("link", name="Meldingen").click()
    page.wait_for_url("**/meldingen/")
    logged_in_page.axe()
    assert page.get_by_role(
        "heading", name="Ongelezen Aanleveren voor 2026HJ02 kan vanaf vandaag"
    ).is_visible()
    # Opening the list read it: the menu's count is gone at once.
    assert "msd-badge" not in page.content()
    # The link says where it goes, with the notification's title for screen readers.
    page.get_by_role(
        "link", name=re.compile(r"^Naar Aanleveren\W+Aanleveren voor 2026HJ02 kan vanaf vandaag")
    ).click()
    page.wait_for_url("**/aanleveren/")
    logged_in_page.axe()
    nav.get_by_role("link", name="Meldingen").click()
    page.wait_for_url("**/meldingen/")
    logged_in_page.axe()
    assert "Ongelezen" not in page.content()

    page.get_by_role("link", name="Wie krijgt meldingen per e-mail?").click()
    page.wait_for_url("**/meldingen/ontvangers/")
    logged_in_page.axe()
    page.get_by_role("button", name="Toevoegen").click()
    logged_in_page.axe()
    assert page.get_by_text("Vul de naam in.").first.is_visible()
    page.get_by_label("Naam").fill("Collega")
    page.get_by_label("E-mailadres").fill("collega@amsterdam.example")
    page.get_by_role("button", name="Toevoegen").click()
    page.wait_for_url("**/meldingen/ontvangers/")
    logged_in_page.axe()
    assert "collega@amsterdam.example ontvangt nu meldingen." in page.content()
