"""The overview says, per period, where things stand and the one thing to do next."""

from __future__ import annotations

import pytest
from django.urls import reverse

from msdportaal.consent.tests.factories import PREVIOUS, report
from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm

pytestmark = pytest.mark.django_db


def overview(client) -> str:
    return client.get(reverse("overview:index")).content.decode()


def test_missing_sets_come_first(client_a):
    page = overview(client_a)
    assert "Wat u nu moet doen:" in page
    assert "De deadline is verstreken, maar u kunt nog aanleveren: WMO basisset" in page


def test_a_foutrapport_asks_for_a_correction(client_a, municipality_a):
    files = [
        csv_file(f"MSD_WMO-{s}_0363_{CURRENT}.csv") for s in ("BASIS", "KOSTEN", "FACULTATIEF")
    ]
    deliveries = upload_and_confirm(client_a, *files)
    error = report(municipality_a, CURRENT, kind="foutrapport")
    error.delivery = deliveries[0]
    error.save()
    page = overview(client_a)
    assert "CBS vond fouten in: WMO basisset." in page


def test_consent_is_the_next_step_once_the_data_are_in_order(client_a, municipality_a):
    names = [f"MSD_WMO-{s}_0363_{PREVIOUS}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    names += [f"MSD_KOSTEN-{s}_0363_2025JJ00.csv" for s in ("JW", "SBO")]
    deliveries = upload_and_confirm(client_a, *[csv_file(n) for n in names])
    for delivery in deliveries:
        in_order = report(municipality_a, PREVIOUS)
        in_order.delivery = delivery
        in_order.save()
    page = overview(client_a)
    assert "Het formulier staat klaar en is nog niet ingevuld." in page
    assert "Geef aan of CBS de cijfers mag publiceren." in page
