"""The acceptance test of Aanleveren, in a real browser with axe on every page."""

from __future__ import annotations

import pytest

from msdportaal.deliveries.models import DeliveredFile, Delivery

from .factories import CURRENT, csv_bytes, zip_bytes

pytestmark = [pytest.mark.browser]


def test_upload_two_csvs_and_a_zip_of_three(logged_in_page, tmp_path):
    loose = [f"MSD_WMO-BASIS_0363_{CURRENT}.csv", f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"]
    for name in loose:
        (tmp_path / name).write_bytes(csv_bytes(2000))
    zipped = {
        "MSD_WMO-BASIS_0363_2025HJ02.csv": csv_bytes(),
        "MSD_WMO-FACULTATIEF_0363_2025HJ02.csv": csv_bytes(),
        "MSD_KOSTEN-JW_0363_2025JJ00.csv": csv_bytes(),
    }
    (tmp_path / "correctie-2025.zip").write_bytes(zip_bytes(zipped))

    page = logged_in_page.goto("/aanleveren/")
    assert page.title() == "Aanleveren — MSD Portaal"
    page.get_by_label("Bestanden (CSV of ZIP)").set_input_files(
        [tmp_path / name for name in [*loose, "correctie-2025.zip"]]
    )
    page.get_by_role("button", name="Bestanden uploaden en controleren").click()
    page.wait_for_url("**/controleren/")
    logged_in_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Controleer uw aanlevering"
    table = page.get_by_role("table").inner_text()
    for name in [*loose, *zipped, "correctie-2025.zip"]:
        assert name in table
    assert "Eerste aanlevering" in table

    page.get_by_role("button", name="Bevestigen en aanleveren").click()
    page.wait_for_url("**/bevestiging/")
    logged_in_page.axe()
    zip_delivery = Delivery.objects.get(kind="zip")
    csv_references = list(DeliveredFile.objects.values_list("reference", flat=True))
    references = [zip_delivery.reference, *csv_references]
    assert len(references) == 6  # the ZIP and five CSVs
    confirmation = page.get_by_role("table").inner_text()
    for reference in references:
        assert reference in confirmation
    assert f"{zip_delivery.reference}-3" in confirmation

    page.get_by_role("link", name="Naar Mijn aanleveringen").click()
    page.wait_for_url("**/aanleveringen/")
    logged_in_page.axe()
    history = page.get_by_role("table").inner_text()
    for reference in DeliveredFile.objects.values_list("reference", flat=True):
        assert reference in history
    page.get_by_role("link", name=zip_delivery.reference + "-1").click()
    page.wait_for_url(f"**/aanleveringen/{zip_delivery.reference}/")
    logged_in_page.axe()
    assert zip_delivery.sha256 in page.content()


def test_refused_upload_shows_the_reason(logged_in_page, tmp_path):
    bad = tmp_path / "gegevens 2026.csv"
    bad.write_bytes(csv_bytes())
    page = logged_in_page.goto("/aanleveren/")
    page.get_by_label("Bestanden (CSV of ZIP)").set_input_files(bad)
    page.get_by_role("button", name="Bestanden uploaden en controleren").click()
    alert = page.get_by_role("alert").filter(has_text="Er is niets aangeleverd")
    alert.wait_for()
    logged_in_page.axe()
    assert "bevat tekens die niet zijn toegestaan (spatie)" in alert.inner_text()
    assert not Delivery.objects.exists()
