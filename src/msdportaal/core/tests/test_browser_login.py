"""In a real browser: the development login, the profile, the overview — all passing axe."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]


def test_dev_login_to_overview_keyboard_and_axe(browser_page):
    page = browser_page.goto("/")
    assert page.title() == "Inloggen — MSD Portaal"
    page.get_by_role("link", name="Inloggen met de ontwikkel-login (zonder eHerkenning)").click()
    browser_page.axe()

    # Submitting an empty form shows Dutch errors and an error summary.
    page.get_by_role("button", name="Inloggen").click()
    browser_page.axe()
    assert page.get_by_role("alert").filter(has_text="Er is een probleem").is_visible()
    assert page.get_by_text("Kies de gemeente waarvoor u wilt inloggen.").first.is_visible()
    focused = "document.activeElement.classList.contains('msd-error-summary')"
    assert page.evaluate(focused), "the error summary has the focus after a failed submit"
    # The summary's links are the errors themselves, short, not "label: error".
    assert page.locator(".msd-error-summary a").first.inner_text() == (
        "Kies de gemeente waarvoor u wilt inloggen."
    )

    page.get_by_label("Gemeente", exact=True).select_option(label="Amsterdam (GM0363)")
    page.get_by_label("Uw naam").fill("Fatima de Vries")
    page.get_by_label("E-mailadres").fill("fatima@example.org")
    page.get_by_label("E-mailadres").press("Enter")  # keyboard submits the form
    page.wait_for_url("**/mijn-gegevens/**")
    browser_page.axe()
    assert page.title() == "Mijn gegevens — MSD Portaal"
    # The development login brought the name and e-mail address: the intro does not claim
    # the fields are empty.
    intro = page.locator(".utrecht-paragraph--lead").inner_text()
    assert "Controleer uw gegevens" in intro
    assert "geeft ons uw naam en e-mailadres niet door" not in intro
    # WCAG 1.3.5: every field about the user says what it is for; the phone is type=tel.
    autocomplete = {
        "Voornaam": "given-name",
        "Achternaam": "family-name",
        "E-mailadres": "email",
        "Telefoonnummer": "tel",
    }
    for label, purpose in autocomplete.items():
        assert page.get_by_label(label).get_attribute("autocomplete") == purpose
    assert page.get_by_label("Telefoonnummer").get_attribute("type") == "tel"

    page.get_by_role("button", name="Opslaan").click()  # no phone number yet
    browser_page.axe()
    assert page.evaluate(focused)
    assert "Vul uw telefoonnummer in." in page.locator(".msd-error-summary").inner_text()

    page.get_by_label("Voornaam").fill("Fatima")
    page.get_by_label("Achternaam").fill("de Vries")
    page.get_by_label("E-mailadres").fill("fatima@example.org")
    page.get_by_label("Telefoonnummer").fill("020 123 45 67")
    page.get_by_role("button", name="Opslaan").click()
    page.wait_for_url("**/overzicht/")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Overzicht Amsterdam"
    assert "U handelt namens: Amsterdam (GM0363)" in page.get_by_role("banner").inner_text()

    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Direct naar de inhoud"

    page.get_by_role("button", name="Uitloggen").click()
    page.wait_for_url("**/uitgelogd/")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "U bent uitgelogd"
