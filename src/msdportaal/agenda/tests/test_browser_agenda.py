"""In a real browser with axe: "Zet in agenda" on the overview, the agenda link on Mijn
gegevens, the receipt page and its PDF, and what the overview, Mijn aanleveringen and
Rapporten look like on paper."""

from __future__ import annotations

import datetime
import io
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from icalendar import Calendar
from pypdf import PdfReader

from msdportaal.consent.tests.factories import report
from msdportaal.deliveries.models import DeliveredFile, Delivery
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DeadlineExtension, ReportingPeriod
from msdportaal.reports.models import ReportKind

pytestmark = [pytest.mark.browser]


def _get(url: str) -> tuple[int, bytes]:
    """As a calendar app: a plain HTTP GET, no cookies."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_zet_in_agenda_and_the_agenda_link(logged_in_page, municipality_a, live_server, settings):
    settings.MSD_PUBLIC_URL = live_server.url
    DeadlineExtension.objects.create(
        period=ReportingPeriod.objects.for_half_year(HalfYear.from_code(CURRENT)),
        municipality=municipality_a,
        deadline=datetime.date(2026, 12, 15),
    )
    page = logged_in_page.goto("/overzicht/")
    # Beside the (extended) deadline of the current period, and the next period's.
    link = page.get_by_role("link", name="Zet in agenda (deadline 2026HJ01, .ics-bestand)")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "msd-deadline-2026HJ01-GM0363.ics"
    (event,) = Calendar.from_ical(Path(download.path()).read_bytes()).events
    assert event.start.isoformat() == "2026-12-15T00:00:00+01:00"
    assert str(event["SUMMARY"]) == "MSD: deadline aanleveren 2026HJ01 (uitstel)"
    assert event.walk("VALARM")
    coming = page.get_by_role("link", name="Zet in agenda (deadline 2026HJ02, .ics-bestand)")
    assert coming.is_visible()
    # The previous period's deadline has passed: nothing to put in an agenda there.
    assert page.get_by_role("link", name=re.compile("deadline 2025HJ02")).count() == 0

    # Subscribing: from the overview to Mijn gegevens, make the link, copy it.
    subscribe = "Alle data in uw eigen agenda: abonneer u via Mijn gegevens"
    page.get_by_role("link", name=subscribe).click()
    page.wait_for_url("**/mijn-gegevens/#agenda")
    logged_in_page.axe()
    page.get_by_role("button", name="Agenda-link maken").click()
    page.get_by_role("status").filter(has_text="Uw agenda-link is gemaakt").wait_for()
    logged_in_page.axe()
    field = page.get_by_label("Uw persoonlijke agenda-link voor Amsterdam")
    old_url = field.input_value()
    assert old_url.startswith(live_server.url + "/agenda/")
    status, body = _get(old_url)
    assert status == 200
    assert len(Calendar.from_ical(body).events) == 12
    webcal = page.get_by_role("link", name="Openen in mijn agenda-app")
    assert webcal.get_attribute("href") == "webcal://" + old_url.split("://", 1)[1]

    # Renewing: the old link stops at once.
    page.get_by_role("button", name="Nieuwe agenda-link maken").click()
    page.get_by_role("status").filter(has_text="De vorige link werkt niet meer").wait_for()
    logged_in_page.axe()
    new_url = page.get_by_label("Uw persoonlijke agenda-link voor Amsterdam").input_value()
    assert new_url != old_url
    assert _get(old_url)[0] == 404
    assert _get(new_url)[0] == 200


def test_the_receipt_page_and_pdf(logged_in_page, tmp_path):
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    (tmp_path / name).write_bytes(csv_bytes(500))
    page = logged_in_page.goto("/aanleveren/")
    page.get_by_label("Bestanden (CSV of ZIP)").set_input_files(tmp_path / name)
    page.get_by_role("button", name="Bestanden uploaden en controleren").click()
    page.wait_for_url("**/controleren/")
    logged_in_page.axe()
    page.get_by_role("button", name="Bevestigen en aanleveren").click()
    page.wait_for_url("**/bevestiging/")
    logged_in_page.axe()
    page.get_by_role("link", name="Ontvangstbewijs bekijken").click()
    page.wait_for_url("**/ontvangstbewijs/")
    logged_in_page.axe()
    delivery = Delivery.objects.get()
    assert page.get_by_role("heading", level=1).inner_text() == "Ontvangstbewijs aanlevering"
    main = page.get_by_role("main").inner_text()
    for fact in (delivery.reference, delivery.sha256, name, "Fatima de Vries", "Amsterdam"):
        assert fact in main
    assert f"({delivery.size} bytes)" in main
    # The menu item it belongs to.
    assert (
        page.get_by_role("link", name="Mijn aanleveringen", exact=True).get_attribute(
            "aria-current"
        )
        == "page"
    )

    # On paper: the receipt without the portal's chrome, every fact on it.
    paper = _flat(_printed_text(page))
    for fact in (delivery.reference, delivery.sha256, name, "Amsterdam(GM0363)"):
        assert fact in paper
    for chrome in ("Meldingen", "Uitloggen", "DownloadalsPDF", "Directnaardeinhoud"):
        assert chrome not in paper

    pdf_link = page.get_by_role("link", name="Download als PDF")
    response = page.request.get(logged_in_page.base_url + pdf_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    text = _flat("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages))
    assert delivery.reference in text
    assert delivery.sha256 in text


def _printed_text(page) -> str:
    """What the browser prints (Chromium's own PDF, print styles applied)."""
    page.emulate_media(media="print")
    try:
        body = page.pdf(format="A4")
    finally:
        page.emulate_media(media="screen")
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)


def test_overview_history_and_reports_on_paper(logged_in_page, municipality_a, tmp_path):
    names = [f"MSD_{s}_0363_{CURRENT}.csv" for s in ("WMO-BASIS", "WMO-KOSTEN", "WMO-FACULTATIEF")]
    for name in names:
        (tmp_path / name).write_bytes(csv_bytes())
    page = logged_in_page.goto("/aanleveren/")
    page.get_by_label("Bestanden (CSV of ZIP)").set_input_files([tmp_path / n for n in names])
    page.get_by_role("button", name="Bestanden uploaden en controleren").click()
    page.wait_for_url("**/controleren/")
    logged_in_page.axe()
    page.get_by_role("button", name="Bevestigen en aanleveren").click()
    page.wait_for_url("**/bevestiging/")
    logged_in_page.axe()
    delivery = Delivery.objects.order_by("reference").first()
    report(municipality_a, CURRENT, kind=ReportKind.ERROR, file_name="foutrapport-0363.pdf")
    references = list(DeliveredFile.objects.values_list("reference", flat=True))

    logged_in_page.goto("/aanleveringen/")
    paper = _flat(_printed_text(page))
    for reference in references:
        assert reference in paper  # every column and row on the page, none cut off
    for name in names:
        assert name in paper
    for chrome in ("Meldingen", "Uitloggen", "Alleperiodes", "Toon"):
        assert chrome not in paper
    assert "Pagina1van1" in paper

    logged_in_page.goto("/overzicht/")
    paper = _flat(_printed_text(page))
    assert "OverzichtAmsterdam" in paper
    assert delivery.files.get().reference in paper
    assert "Zetinagenda" not in paper
    assert "Meldingen" not in paper

    logged_in_page.goto("/rapporten/")
    paper = _flat(_printed_text(page))
    assert "foutrapport-0363.pdf" in paper
    assert "Foutrapport(technischecontrole)" in paper
    assert "Uitloggen" not in paper
