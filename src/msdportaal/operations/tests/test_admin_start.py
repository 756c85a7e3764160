"""IB's start page: every number is right, and links to a list that shows exactly those
rows (the list's own filter, not a second count)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from msdportaal.consent.tests.factories import report
from msdportaal.core.tests.admin_helpers import ib_administrator, ib_client
from msdportaal.deliveries.tests.factories import CURRENT, PREVIOUS, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DeadlineExtension
from msdportaal.periods.services import get_period
from msdportaal.reports.models import ReportKind
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, OutboundMessage, TransportConfiguration

pytestmark = pytest.mark.django_db


def count(page: str, key: str) -> tuple[int, str]:
    """The number shown for *key* and the list it links to."""
    match = re.search(rf'<a href="([^"]+)" data-count="{re.escape(key)}"[^>]*>(\d+)</a>', page)
    assert match, key
    return int(match.group(2)), match.group(1).replace("&amp;", "&")


def listed(ib: Client, url: str) -> set[int]:
    """The primary keys of every row the list at *url* shows (all pages)."""
    response = ib.get(url)
    assert response.status_code == 200, url
    changelist = response.context["cl"]
    assert not response.context.get("errors"), url
    return set(changelist.queryset.values_list("pk", flat=True))


@pytest.fixture
def outbox(client_a: Client) -> dict[str, OutboundMessage]:
    """Amsterdam delivered every set of the current period: one message failed, one waits
    for a retry, one is still queued (the oldest waiting one is the retrying one)."""
    deliveries = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv"),
    )
    failed, retrying, queued = (d.outbound_message for d in deliveries)
    # Real attempts at the test settings' RINIS address, where nothing listens; messages
    # of one gemeente go in order, so the oldest first.
    config = TransportConfiguration.get_solo()
    config.retry_window_hours = 0
    config.save()
    assert services.attempt_send(failed.pk) == MessageState.FAILED
    config.retry_window_hours = 72
    config.save()
    assert services.attempt_send(retrying.pk) == MessageState.RETRYING
    return {"failed": failed, "retrying": retrying, "queued": queued}


def test_outbox_counts_link_to_exactly_those_messages(outbox):
    ib = ib_client(ib_administrator())
    page = ib.get("/beheer/").content.decode()
    assert "Berichten aan RINIS" in page

    failed, failed_url = count(page, "outbox-1")
    retrying, retrying_url = count(page, "outbox-2")
    assert (failed, retrying) == (1, 1)
    assert listed(ib, failed_url) == {outbox["failed"].pk}
    assert listed(ib, retrying_url) == {outbox["retrying"].pk}

    # The oldest message not yet sent: the retrying one (created before the queued one).
    oldest = re.search(r'data-oldest-waiting="(\d+)"', page)
    assert oldest
    assert int(oldest.group(1)) == outbox["retrying"].pk
    assert outbox["retrying"].referentienummer_bericht in page


def test_nothing_waiting_says_so():
    page = ib_client(ib_administrator()).get("/beheer/").content.decode()
    assert count(page, "outbox-1")[0] == 0
    assert "geen: alles is verstuurd" in page


def test_gemeenten_missing_a_set_against_their_own_deadline(outbox, fixed_today):
    """Amsterdam delivered every set of 2026HJ01. Utrecht has an extension into December
    (still in time), Rotterdam one that already ran out; everyone else is past the
    deadline of 30 September."""
    period = get_period(HalfYear.from_code(CURRENT))
    utrecht = Municipality.objects.get(code="0344")
    rotterdam = Municipality.objects.get(code="0599")
    DeadlineExtension.objects.create(
        period=period, municipality=utrecht, deadline=datetime.date(2026, 12, 15), reason="Ziekte"
    )
    DeadlineExtension.objects.create(
        period=period, municipality=rotterdam, deadline=datetime.date(2026, 11, 1)
    )
    active = set(Municipality.objects.active().values_list("pk", flat=True))
    amsterdam = Municipality.objects.get(code="0363").pk

    ib = ib_client(ib_administrator())
    page = ib.get("/beheer/").content.decode()
    assert f"Aanleveringen {CURRENT} (deadline 30 september 2026)" in page

    missing, missing_url = count(page, f"{CURRENT}-1")
    overdue, overdue_url = count(page, f"{CURRENT}-2")
    in_time, in_time_url = count(page, f"{CURRENT}-3")
    assert missing == len(active) - 1
    assert listed(ib, missing_url) == active - {amsterdam}
    assert overdue == len(active) - 2
    assert listed(ib, overdue_url) == active - {amsterdam, utrecht.pk}
    assert rotterdam.pk in listed(ib, overdue_url)  # its extension ran out
    assert in_time == 1
    assert listed(ib, in_time_url) == {utrecht.pk}

    # The previous period: nobody delivered anything.
    assert count(page, f"{PREVIOUS}-1")[0] == len(active)
    assert listed(ib, count(page, f"{PREVIOUS}-2")[1]) == active


def test_gemeenten_with_a_set_cbs_rejected(client_a: Client, municipality_a, fixed_today):
    """A foutrapport on one of Amsterdam's CSVs: counted, and the link lists Amsterdam.
    A later op-orde report on the same CSV takes it off again."""
    basis, _kosten = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    report(municipality_a, CURRENT, delivery=basis, kind=ReportKind.ERROR)
    ib = ib_client(ib_administrator())
    page = ib.get("/beheer/").content.decode()
    assert "Gemeenten met een set die CBS afkeurde" in page
    rejected, url = count(page, f"{CURRENT}-4")
    assert rejected == 1
    assert listed(ib, url) == {municipality_a.pk}
    assert count(page, f"{PREVIOUS}-4")[0] == 0

    report(municipality_a, CURRENT, delivery=basis)
    assert count(ib.get("/beheer/").content.decode(), f"{CURRENT}-4")[0] == 0


def test_extensions_granted_today(fixed_today):
    period = get_period(HalfYear.from_code(CURRENT))
    a, b, c = (Municipality.objects.get(code=code) for code in ("0363", "0344", "0599"))
    fixed_today.shift(datetime.timedelta(days=-1))
    yesterday = DeadlineExtension.objects.create(
        period=period, municipality=c, deadline=datetime.date(2026, 12, 1)
    )
    fixed_today.shift(datetime.timedelta(days=1))
    first = DeadlineExtension.objects.create(
        period=period, municipality=a, deadline=datetime.date(2026, 12, 1)
    )
    second = DeadlineExtension.objects.create(
        period=period, municipality=b, deadline=datetime.date(2026, 12, 8)
    )
    # A new reason is no new extension; a later deadline is.
    yesterday.reason = "Toelichting aangevuld"
    yesterday.save()
    assert yesterday.granted_at < timezone.now() - datetime.timedelta(hours=12)

    ib = ib_client(ib_administrator())
    page = ib.get("/beheer/").content.decode()
    today, url = count(page, "extensions-today")
    assert today == 2
    assert listed(ib, url) == {first.pk, second.pk}
    assert "Vandaag" in ib.get(url).content.decode()  # the list's own date filter

    yesterday.deadline = datetime.date(2026, 12, 20)
    yesterday.save()
    page = ib.get("/beheer/").content.decode()
    assert count(page, "extensions-today")[0] == 3


def test_the_start_page_keeps_the_list_of_everything(outbox):
    page = ib_client(ib_administrator()).get("/beheer/").content.decode()
    assert "Gemeenten en gebruikers" in page
    assert "Uitgaande berichten" in page


def test_only_administrators_see_it(client_a: Client, outbox):
    response = client_a.get("/beheer/")
    assert response.status_code == 302
    assert "/beheer/login/" in response["Location"]
