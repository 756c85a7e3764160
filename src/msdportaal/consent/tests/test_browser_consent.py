"""The acceptance test of Toestemming in a real browser: keyboard only, axe on every page,
at desktop and at mobile width."""

from __future__ import annotations

import re

import pytest

from msdportaal.consent.models import ConsentForm

from .factories import CURRENT, PREVIOUS, report

pytestmark = [pytest.mark.browser]


def tab_to(page, selector: str, limit: int = 200) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
    pytest.fail(f"{selector} cannot be reached with the Tab key")


def side(code: str) -> str:
    return f'section[data-period="{code}"]'


@pytest.mark.parametrize("width", [1280, 375], ids=["desktop", "mobile"])
def test_give_consent_for_the_previous_period_with_the_keyboard(
    logged_in_page, municipality_a, width: int
):
    report(municipality_a, CURRENT)
    report(municipality_a, PREVIOUS)
    logged_in_page.page.set_viewport_size({"width": width, "height": 900})

    page = logged_in_page.goto("/toestemming/")
    assert page.title() == "Toestemming — MSD Portaal"
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert "Verslagperiode 2026, 1e halfjaar (2026HJ01)" in headings
    assert "Verslagperiode 2025, 2e halfjaar (2025HJ02)" in headings
    left = page.locator(side(CURRENT)).bounding_box()
    right = page.locator(side(PREVIOUS)).bounding_box()
    if width >= 768:  # two columns from 48em: current left, previous right
        assert abs(left["y"] - right["y"]) < 1
        assert left["x"] + left["width"] <= right["x"]
    else:  # stacked: current first
        assert right["y"] >= left["y"] + left["height"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    # Sending the right-hand form without answers: a clear error summary.
    tab_to(page, f'{side(PREVIOUS)} button[type="submit"]')
    page.keyboard.press("Enter")
    page.locator(f"{side(PREVIOUS)} .msd-error-summary").wait_for()
    logged_in_page.axe()
    summary = page.locator(f"{side(PREVIOUS)} .msd-error-summary").inner_text()
    assert "Er is een probleem" in summary
    assert summary.count("Kies ja of nee voor de ") == 5
    assert "Kies ja of nee voor de Kosten SBO." in summary  # short: not the whole question
    assert "Geeft u CBS" not in summary
    # The focus moved to the summary.
    assert page.evaluate("document.activeElement.classList.contains('msd-error-summary')")
    assert not ConsentForm.objects.exists()

    # Ja for every set but Kosten jeugdwet (Space picks the first option, ArrowDown the next).
    for code in ("WMO_BASIS", "WMO_KOSTEN", "WMO_FACULTATIEF", "KOSTEN_JW", "KOSTEN_SBO"):
        tab_to(page, f"#id_{PREVIOUS}-set_{code}_0")
        page.keyboard.press("Space")
        if code == "KOSTEN_JW":
            page.keyboard.press("ArrowDown")
    assert page.locator(f"#id_{PREVIOUS}-set_KOSTEN_JW_1").is_checked()
    assert page.locator(f"#id_{PREVIOUS}-set_KOSTEN_SBO_0").is_checked()
    # The profile filled in the contact details; change the phone number.
    assert page.locator(f"#id_{PREVIOUS}-name").input_value() == "Fatima de Vries"
    tab_to(page, f"#id_{PREVIOUS}-phone")
    page.keyboard.press("Control+A")
    page.keyboard.type("030 765 43 21")
    tab_to(page, f'{side(PREVIOUS)} button[type="submit"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/controleren/(#.*)?$"))
    logged_in_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Controleer uw antwoorden"
    content = page.locator("main").inner_text()
    assert "verslagperiode 2025, 2e halfjaar (2025HJ02)" in content
    # Check-answers order: the question, the answer, "Wijzigen".
    assert re.search(
        r"over de Kosten jeugdwet te publiceren\?\s+Kosten jeugdwet, 2025JJ00\s+Nee\s+Wijzigen",
        content,
    )
    assert re.search(r"over de Kosten SBO te publiceren\?\s+Kosten SBO, 2025JJ00\s+Ja", content)
    assert "030 765 43 21" in content
    assert not ConsentForm.objects.submitted().exists()

    tab_to(page, 'button[name="confirm"]')
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r".*/bevestiging/(#.*)?$"))
    logged_in_page.axe()
    form = ConsentForm.objects.submitted().get()
    assert form.period.code == PREVIOUS
    assert form.phone == "030 765 43 21"
    assert {c.data_set.code: c.conclusion for c in form.consents.all()} == {
        "WMO_BASIS": "ja",
        "WMO_KOSTEN": "ja",
        "WMO_FACULTATIEF": "ja",
        "KOSTEN_JW": "nee",
        "KOSTEN_SBO": "ja",
    }
    assert page.locator("[data-reference]").inner_text() == form.reference

    tab_to(page, 'a[href="/toestemming/"].utrecht-button-link')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/toestemming/(#.*)?$"))
    logged_in_page.axe()
    assert f"referentienummer {form.reference}" in page.locator(side(PREVIOUS)).inner_text()
    history = page.get_by_role("table").inner_text()
    assert form.reference in history
    assert "Kosten jeugdwet (2025JJ00): nee" in history
    # The current period's form is still there, untouched.
    assert page.locator(f"{side(CURRENT)} form").count() == 1
