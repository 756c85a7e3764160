"""Every municipal page answers in a fixed number of queries, however much history there is.

Each page is counted twice: with one round of deliveries, reports and notifications, and
with four. The count may not grow with the rows (no query per row), and stays under a
ceiling, so a new query per request is a decision, not an accident (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from msdportaal.consent.tests.factories import CURRENT, PREVIOUS, report
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import Event
from msdportaal.notifications.services import Message, notify
from msdportaal.organisations.models import Municipality
from msdportaal.reports.models import ReportKind

pytestmark = pytest.mark.django_db

#: Page → the most queries it may make (sessions, user, acting gemeente and the page's own).
CEILINGS: dict[str, int] = {
    "/overzicht/": 24,
    "/aanleveren/": 12,
    "/aanleveringen/": 14,
    "detail": 18,
    "/rapporten/": 12,
    "/toestemming/": 30,
    "/meldingen/": 12,
    "/mijn-gegevens/": 8,
    "receipt": 10,
}


def _one_round(client: Client, municipality: Municipality, n: int) -> None:
    """One delivery per set in both open periods, each with a CBS report, and a notification."""
    current = [f"MSD_WMO-{s}_0363_{CURRENT}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    previous = [f"MSD_WMO-{s}_0363_{PREVIOUS}.csv" for s in ("BASIS", "KOSTEN", "FACULTATIEF")]
    previous += [f"MSD_KOSTEN-{s}_0363_2025JJ00.csv" for s in ("JW", "SBO")]
    for names, period in ((current, CURRENT), (previous, PREVIOUS)):
        for i, delivery in enumerate(upload_and_confirm(client, *[csv_file(n) for n in names])):
            kind = ReportKind.ERROR if i == 0 and n % 2 else ReportKind.IN_ORDER
            report(
                municipality, period, kind=kind, file_name=f"rapport-{n}-{i}.pdf", delivery=delivery
            )
        notify(
            municipality,
            Message(
                event=Event.REPORT,
                key=f"query-count-{period}-{n}",
                title="Nieuw rapport",
                body="CBS heeft een rapport gestuurd.",
                link="/rapporten/",
            ),
        )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def _pages() -> dict[str, Callable[[], str]]:
    def detail() -> str:
        return f"/aanleveringen/{Delivery.objects.order_by('-pk').first().reference}/"

    pages: dict[str, Callable[[], str]] = {url: (lambda url=url: url) for url in CEILINGS}
    pages["detail"] = detail
    pages["receipt"] = lambda: (
        f"/aanleveren/{Delivery.objects.order_by('-pk').first().batch_id}/ontvangstbewijs/"
    )
    return pages


@pytest.mark.parametrize("page", list(CEILINGS))
def test_a_page_makes_as_many_queries_with_much_history_as_with_little(
    client_a: Client, municipality_a: Municipality, page: str
):
    url = _pages()[page]
    _one_round(client_a, municipality_a, 1)
    _queries(client_a, url())  # a first visit may write (badge seen, session keys): not counted
    few = _queries(client_a, url())
    for n in (2, 3, 4):
        _one_round(client_a, municipality_a, n)
    _queries(client_a, url())
    many = _queries(client_a, url())
    assert many == few, f"{page}: {few} queries with one round, {many} with four (a query per row)"
    assert many <= CEILINGS[page], f"{page}: {many} queries, ceiling {CEILINGS[page]}"
