"""CBS's outcome on every page, at desktop and phone width, in a real browser with axe.

At 375 px nothing may overflow: no table container is wider than the screen, tables are
stacked summaries, and the menu folds behind "Menu" (a <details>, no JavaScript needed).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.consent.tests.factories import CURRENT, PREVIOUS, report
from msdportaal.deliveries.tests.factories import csv_bytes, zip_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import Contact, Event
from msdportaal.notifications.services import Message, notify
from msdportaal.reports.models import ReportKind
from msdportaal.reports.selectors import report_url

pytestmark = [pytest.mark.browser]

COLUMNS = """() => [...document.querySelectorAll('thead th')].map(
  (th) => th.innerText + '=' + Math.round(th.getBoundingClientRect().width))"""

NO_OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('.utrecht-table-container, .msd-table-scroll')]
    .filter((el) => el.scrollWidth > el.clientWidth || el.getBoundingClientRect().right > width)
    .map((el) => (el.getAttribute('aria-labelledby') || el.className) + ': ' + el.scrollWidth);
  if (document.documentElement.scrollWidth > width) {
    wide.push('page: ' + document.documentElement.scrollWidth);
  }
  return wide;
}"""


@pytest.fixture
def history(user_a, municipality_a):
    """A ZIP of three WMO sets for the current period, CBS rejecting the second CSV; the
    previous period delivered and in order; a notification about the foutrapport."""
    client = Client()
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    names = [f"MSD_WMO-{s}_0363_{CURRENT}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    (delivery,) = upload_and_confirm(
        client, zip_file("wmo-2026hj01.zip", {name: csv_bytes() for name in names})
    )
    report(municipality_a, CURRENT, delivery=delivery)
    error = report(
        municipality_a,
        CURRENT,
        file=delivery.files.get(position=2),
        kind=ReportKind.ERROR,
        file_name="foutrapport-wmo-kosten.pdf",
    )
    report(municipality_a, PREVIOUS)
    Contact.objects.create(
        municipality=municipality_a,
        name="Fatima de Vries",
        email="fatima.de.vries@amsterdam.example",
        events=[Event.REPORT],
    )
    notify(
        municipality_a,
        Message(
            Event.REPORT,
            f"report:{error.pk}",
            "Rapport van CBS ontvangen: Foutrapport (technische controle)",
            "CBS heeft een rapport gestuurd over WMO kostenset.",
            report_url(error),
        ),
    )
    return delivery, error


def check(accessible, path: str | None = None):
    page = accessible.goto(path) if path else accessible.page
    if not path:
        accessible.axe()
    assert page.evaluate(NO_OVERFLOW) == [], f"overflow on {page.url}: {page.evaluate(COLUMNS)}"
    return page


@pytest.mark.parametrize("width", [1280, 375], ids=["desktop", "mobile"])
def test_the_outcome_leads_every_page_without_overflow(logged_in_page, history, width: int):
    delivery, error = history
    logged_in_page.page.set_viewport_size({"width": width, "height": 900})
    kosten = f"{delivery.reference}-2"

    page = check(logged_in_page, "/overzicht/")
    section = page.locator('section[data-period="2026HJ01"]')
    kosten_row = section.locator('tr[data-set="WMO_KOSTEN"]')
    assert "Afgekeurd — opnieuw aanleveren" in kosten_row.inner_text()
    assert kosten_row.is_visible()
    box = kosten_row.bounding_box()
    assert box["x"] >= 0  # the whole row on the screen
    assert box["x"] + box["width"] <= width
    assert "Op orde" in section.locator('tr[data-set="WMO_BASIS"]').inner_text()
    actions = section.locator("[data-actions]").inner_text()
    assert "MSD_WMO-KOSTEN_0363_2026HJ01.csv" in actions
    assert "afgekeurd" in actions

    page = check(logged_in_page, "/aanleveringen/")
    assert (
        "Afgekeurd — opnieuw aanleveren"
        in page.locator(f'tr[data-reference="{kosten}"]').inner_text()
    )

    page = check(logged_in_page, f"/aanleveringen/{delivery.reference}/")
    headline = page.locator("[data-headline]").inner_text()
    assert re.search(r"WMO kostenset \(2026HJ01\)\s+Afgekeurd — opnieuw aanleveren", headline)

    page = check(logged_in_page, "/rapporten/")
    row = page.locator(f'tr[data-report="{error.pk}"]').inner_text()
    assert "WMO kostenset" in row
    assert "MSD_WMO-KOSTEN_0363_2026HJ01.csv" in row

    page = check(logged_in_page, "/toestemming/")
    previous = page.locator('section[data-period="2025HJ02"]')
    assert previous.locator('input[type="radio"]').count() == 10
    current = page.locator('section[data-period="2026HJ01"]')
    assert current.locator('input[name="2026HJ01-set_WMO_KOSTEN"]').count() == 0
    assert "afgekeurd door CBS" in current.inner_text()

    check(logged_in_page, "/meldingen/ontvangers/")
    page = check(logged_in_page, "/aanleveren/")
    assert "Lever hier uw CSV-bestanden aan" in page.locator("main").inner_text()

    page = check(logged_in_page, "/meldingen/")
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    if width < 640:
        # The menu is folded: one button, the links behind it, opened without JavaScript.
        assert nav.get_by_role("link", name="Overzicht").is_hidden()
        nav.locator("summary").click()
        assert nav.get_by_role("link", name="Overzicht").is_visible()
        assert nav.get_by_role("link").count() == 7
    page.get_by_role("link", name=re.compile("^Naar het rapport")).click()
    page.wait_for_url(f"**/rapporten/#rapport-{error.pk}")
    check(logged_in_page)
    assert page.locator(f"#rapport-{error.pk}").is_visible()


def test_the_menu_takes_one_row_on_a_phone(logged_in_page):
    logged_in_page.page.set_viewport_size({"width": 375, "height": 800})
    page = logged_in_page.goto("/overzicht/")
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    toggle = nav.locator("summary")
    assert toggle.inner_text().startswith("Menu")
    assert nav.bounding_box()["height"] <= 60
    toggle.focus()
    page.keyboard.press("Enter")
    assert nav.get_by_role("link", name="Mijn aanleveringen").is_visible()
    nav.get_by_role("link", name="Mijn aanleveringen").click()
    page.wait_for_url("**/aanleveringen/")
    logged_in_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Mijn aanleveringen"
