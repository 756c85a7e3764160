"""The overview says, per period and set, what CBS made of it and everything still to do."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.consent.tests.factories import PREVIOUS, report
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, csv_file, zip_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DeadlineExtension, ReportingPeriod
from msdportaal.reports.models import Report, ReportKind
from msdportaal.reports.selectors import Outcome, period_outcomes
from msdportaal.reports.tests.helpers import du01
from msdportaal.transport.models import MessageState

pytestmark = pytest.mark.django_db
WMO = ("BASIS", "KOSTEN", "FACULTATIEF")


def overview(client) -> str:
    return client.get(reverse("overview:index")).content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def period_section(page: str, code: str) -> str:
    match = re.search(rf'<section[^>]*data-period="{code}".*?</section>', page, re.S)
    assert match, f"no section for {code}"
    return match.group(0)


def actions(page: str, code: str) -> str:
    match = re.search(
        r"<div[^>]*data-actions.*?</div></div>\s*</div>", period_section(page, code), re.S
    )
    assert match
    return match.group(0)


def row(page: str, code: str, data_set: str) -> str:
    match = re.search(
        rf'<tr[^>]*data-set="{data_set}"[^>]*>.*?</tr>', period_section(page, code), re.S
    )
    assert match, f"no row for {data_set}"
    return match.group(0)


def post_report(body_and_action: tuple[bytes, str], headers: dict[str, str]) -> None:
    body, action = body_and_action
    response = Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **headers,
    )
    assert response.status_code == 200, response.content.decode()


def test_missing_sets_are_actions_with_the_file_name_to_deliver(client_a):
    page = overview(client_a)
    box = actions(page, CURRENT)
    assert "Wat u nu moet doen" in box
    assert "utrecht-alert--ok" not in box  # never a green box for something to do
    assert "utrecht-alert--error" in box  # the deadline has passed
    words = text(box)
    assert "Lever de WMO basisset nog aan (MSD_WMO-BASIS_0363_2026HJ01.csv)." in words
    assert "De deadline van 30 september 2026 is verstreken" in words
    assert 'href="/aanleveren/"' in box
    assert "WMO basisset aanleveren" in words  # a link text of its own per set
    assert 'data-outcome="niet_aangeleverd"' in row(page, CURRENT, "WMO_BASIS")


def test_a_foutrapport_on_one_set_of_a_zip_rejects_exactly_that_set(
    client_a, municipality_a, rinis_headers
):
    """Acceptance: CBS names the second CSV of a ZIP; only that set is afgekeurd."""
    names = [f"MSD_WMO-{s}_0363_{CURRENT}.csv" for s in WMO]
    (delivery,) = upload_and_confirm(
        client_a, zip_file("wmo.zip", {name: csv_bytes() for name in names})
    )
    kosten = delivery.files.get(position=2)
    assert kosten.reference == f"{delivery.reference}-2"
    # CBS: the whole ZIP is in order, then a foutrapport on its second CSV.
    message = delivery.outbound_message.referentienummer
    post_report(du01("0363", cross_refnummer=message), rinis_headers)
    post_report(
        du01(
            "0363",
            cross_refnummer=message,
            cross_refnummer_bericht=kosten.reference,
            functie="MSDFOUTRAPPORT",
            bestandsnaam="foutrapport-kosten.pdf",
        ),
        rinis_headers,
    )
    whole, error = Report.objects.order_by("pk")
    assert (whole.delivered_file, error.delivered_file) == (None, kosten)

    period = ReportingPeriod.objects.get(code=CURRENT)
    outcomes = {o.data_set.code: o for o in period_outcomes(municipality_a, period)}
    assert {code: o.status for code, o in outcomes.items()} == {
        "WMO_BASIS": Outcome.IN_ORDER,
        "WMO_KOSTEN": Outcome.REJECTED,
        "WMO_FACULTATIEF": Outcome.IN_ORDER,
    }
    assert outcomes["WMO_KOSTEN"].report == error
    assert outcomes["WMO_BASIS"].report == whole

    page = overview(client_a)
    kosten_row = row(page, CURRENT, "WMO_KOSTEN")
    assert "Afgekeurd — opnieuw aanleveren" in kosten_row
    assert f'href="/rapporten/#rapport-{error.pk}"' in kosten_row  # linked to the foutrapport
    for other in ("WMO_BASIS", "WMO_FACULTATIEF"):
        assert "Op orde" in row(page, CURRENT, other)
        assert "Afgekeurd" not in row(page, CURRENT, other)
    box = actions(page, CURRENT)
    assert "utrecht-alert--error" in box
    words = text(box)
    assert (
        "CBS heeft MSD_WMO-KOSTEN_0363_2026HJ01.csv (uit wmo.zip) afgekeurd (WMO kostenset). "
        "Lees het foutrapport, verbeter het bestand en lever MSD_WMO-KOSTEN_0363_2026HJ01.csv "
        "opnieuw aan." in words
    )
    assert "MSD_WMO-KOSTEN_0363_2026HJ01.csv opnieuw aanleveren" in words
    assert words.count("afgekeurd") == 1  # exactly that set

    # The history and the detail page say the same.
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert re.search(rf'data-reference="{kosten.reference}" data-outcome="afgekeurd"', history)
    assert re.search(rf'data-reference="{delivery.reference}-1" data-outcome="op_orde"', history)
    detail = client_a.get(reverse("deliveries:detail", args=[delivery.reference])).content
    detail = text(detail.decode())
    assert "WMO kostenset (2026HJ01) Afgekeurd — opnieuw aanleveren" in detail
    assert "WMO basisset (2026HJ01) Op orde" in detail

    # Delivering that CSV again clears the action; the new CSV waits for CBS.
    upload_and_confirm(client_a, csv_file("MSD_WMO-KOSTEN_0363_2026HJ01.csv"))
    page = overview(client_a)
    assert "Wacht op CBS" in row(page, CURRENT, "WMO_KOSTEN")
    assert "afgekeurd" not in text(actions(page, CURRENT))


def test_the_report_beside_a_set_is_its_own(client_a, municipality_a):
    basis, kosten = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    in_order = report(municipality_a, CURRENT, delivery=basis, file_name="basis-op-orde.pdf")
    page = overview(client_a)
    assert f"#rapport-{in_order.pk}" in row(page, CURRENT, "WMO_BASIS")
    assert "rapport-" not in row(page, CURRENT, "WMO_KOSTEN").replace("Rapport van CBS", "")
    assert "Wacht op CBS" in row(page, CURRENT, "WMO_KOSTEN")
    assert "Nog niet ontvangen" in row(page, CURRENT, "WMO_KOSTEN")
    assert kosten.files.get().reference in row(page, CURRENT, "WMO_KOSTEN")


def test_an_other_report_changes_no_outcome(client_a, municipality_a):
    (basis,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    report(municipality_a, CURRENT, delivery=basis)
    report(municipality_a, CURRENT, delivery=basis, kind=ReportKind.OTHER)
    assert "Op orde" in row(overview(client_a), CURRENT, "WMO_BASIS")


def test_a_failed_forward_is_an_action(client_a):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    message = delivery.outbound_message
    message.state = MessageState.FAILED
    message.save()
    words = text(actions(overview(client_a), CURRENT))
    assert (
        f"MSD_WMO-BASIS_0363_2026HJ01.csv (referentienummer {delivery.reference}) kon niet naar "
        "CBS worden doorgestuurd." in words
    )
    assert f"Aanlevering {delivery.reference} bekijken" in words
    # No report can come, so the outcome does not say it waits for one.
    basis = text(row(overview(client_a), CURRENT, "WMO_BASIS"))
    assert "Niet bij CBS aangekomen" in basis
    assert "Wacht op CBS" not in basis
    history = text(client_a.get(reverse("deliveries:history")).content.decode())
    assert "Niet bij CBS aangekomen" in history
    assert "Wacht op CBS" not in history


def test_consent_to_give_is_an_action_once_the_sets_are_in_order(client_a, municipality_a):
    names = [f"MSD_WMO-{s}_0363_{PREVIOUS}.csv" for s in WMO]
    names += [f"MSD_KOSTEN-{s}_0363_2025JJ00.csv" for s in ("JW", "SBO")]
    for delivery in upload_and_confirm(client_a, *[csv_file(n) for n in names]):
        report(municipality_a, PREVIOUS, delivery=delivery)
    page = overview(client_a)
    assert "Het formulier staat klaar en is nog niet ingevuld." in page
    box = actions(page, PREVIOUS)
    assert "utrecht-alert--warning" in box
    assert "Geef aan of CBS de cijfers over 2025HJ02 mag publiceren." in text(box)
    assert 'href="/toestemming/#periode-2025HJ02"' in box


def test_nothing_to_do_is_said_calmly_never_in_green(client_a, municipality_a):
    for code in (CURRENT, PREVIOUS):
        report(municipality_a, code, kind=ReportKind.OTHER)  # every set delivered, no verdict
    page = overview(client_a)
    box = actions(page, CURRENT)
    assert "utrecht-alert--info" in box
    assert "Alles is aangeleverd. U krijgt een melding zodra CBS de rapporten stuurt." in text(box)
    assert "utrecht-alert--ok" not in page


def test_a_warning_banner_counts_down_from_14_days_before_the_extended_deadline(
    client_a, municipality_a, fixed_today
):
    period = ReportingPeriod.objects.for_half_year(HalfYear.from_code(CURRENT))
    DeadlineExtension.objects.create(
        period=period, municipality=municipality_a, deadline=datetime.date(2026, 12, 1)
    )
    for page in (overview(client_a), client_a.get(reverse("deliveries:upload")).content.decode()):
        match = re.search(r'<div[^>]*data-deadline-warning="2026HJ01".*?</div></div>', page, re.S)
        assert match, "no deadline warning"
        words = text(match.group(0))
        assert "utrecht-alert--warning" in match.group(0)
        assert "Nog 2 dagen tot de deadline voor 2026HJ01." in words
        assert "uitstel gekregen tot en met 1 december 2026" in words
        assert "30 september 2026" in words
    # Fifteen days ahead: no banner yet.
    DeadlineExtension.objects.filter(period=period).update(deadline=datetime.date(2026, 12, 14))
    assert "data-deadline-warning" not in overview(client_a)
    # On the day itself.
    DeadlineExtension.objects.filter(period=period).update(deadline=datetime.date(2026, 11, 29))
    assert "Vandaag is de deadline voor 2026HJ01." in text(overview(client_a))
