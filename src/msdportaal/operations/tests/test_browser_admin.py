"""IB's morning in a real browser at 1280 px: log in with a second factor, the start page,
the failed message from its count to its page, resend it after the confirmation, then the
period and set pages, the e-mail log and the audit trail. Every page passes axe, nothing
is blocked by the Content-Security-Policy, and everything IB reads is Dutch."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.conftest import MUNICIPAL_BACKEND, AccessiblePage, make_municipal_user
from msdportaal.core.tests.admin_helpers import PASSWORD, ib_administrator
from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import Municipality
from msdportaal.periods.calendar import HalfYear
from msdportaal.periods.models import DataSet, DeadlineExtension
from msdportaal.periods.services import get_period
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, OutboundMessage, TransportConfiguration

pytestmark = [pytest.mark.browser]

# Runs before any page script; collects what the policy blocked in the page itself.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def morning() -> dict[str, Any]:
    """Amsterdam delivered two sets: one message failed for good, one waits for a retry.
    Utrecht got an extension today."""
    municipal = Client()
    municipal.force_login(
        make_municipal_user(Municipality.objects.get(code="0363"), username="medewerker-a"),
        backend=MUNICIPAL_BACKEND,
    )
    first, second = upload_and_confirm(
        municipal,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    config = TransportConfiguration.get_solo()
    config.retry_window_hours = 0
    config.save()
    # Real attempts at the test settings' RINIS address, where nothing listens.
    assert services.attempt_send(first.outbound_message.pk) == MessageState.FAILED
    config.retry_window_hours = 72
    config.save()
    assert services.attempt_send(second.outbound_message.pk) == MessageState.RETRYING
    period = get_period(HalfYear.from_code(CURRENT))
    DeadlineExtension.objects.create(
        period=period,
        municipality=Municipality.objects.get(code="0344"),
        deadline=datetime.date(2026, 12, 15),
        reason="Overstap naar een nieuw systeem",
    )
    return {"failed": first.outbound_message, "period": period}


def log_in(browser_page: AccessiblePage) -> None:
    """The admin's own login: password, then the TOTP code."""
    admin = ib_administrator()
    # two_factor's default device is the one named "default".
    device = TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    page = browser_page.goto("/beheer/login/")
    page.get_by_label("Gebruikersnaam").fill(admin.username)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_label("Wachtwoord").press("Enter")
    page.locator("input[name='token-otp_token']").wait_for()
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Inloggen: code uit uw authenticator-app"
    )
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.locator("input[name='token-otp_token']").fill(f"{token:06d}")
    page.locator("input[name='token-otp_token']").press("Enter")
    page.wait_for_url(f"{browser_page.base_url}/beheer/")


def within_viewport(page: Any, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.width > 0 && box.left >= 0 && box.right <= window.innerWidth;
        }""",
        selector,
    )


def no_page_violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_ib_morning_in_the_admin(browser_page: AccessiblePage):
    world = morning()
    page = browser_page.page
    page.context.add_init_script(COLLECT_VIOLATIONS)
    log_in(browser_page)

    # -- the start page ------------------------------------------------------------------
    browser_page.axe()
    assert page.title() == "Beheer | MSD Portaal beheer"
    start = page.locator(".msd-start")
    assert "Berichten aan RINIS" in start.text_content()
    assert f"Aanleveringen {CURRENT} (deadline 30 september 2026)" in start.text_content()
    assert page.locator("[data-count='outbox-1']").inner_text() == "1"  # failed
    assert page.locator("[data-count='outbox-2']").inner_text() == "1"  # retrying
    assert page.locator("[data-count='extensions-today']").inner_text() == "1"
    assert no_page_violations(page) == []

    # -- from the count to the failed message ----------------------------------------------
    page.locator("[data-count='outbox-1']").click()
    page.wait_for_load_state("load")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Selecteer uitgaand bericht om te bekijken"
    )
    headers = [h.strip() for h in page.locator("#result_list thead th").all_text_contents()]
    assert headers[1:4] == ["Status", "Pogingen", "Volgende poging"]
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    for column in ("state_label", "attempts", "next_attempt_at", "bestandsnaam"):
        assert within_viewport(page, f"#result_list th.column-{column}"), column
    # The whole row fits: nothing scrolls sideways, in the page or in the list.
    assert page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results');"
        " return r.scrollWidth <= r.clientWidth; })()"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert rows.first.locator("td.field-state_label").inner_text() == "Mislukt"

    failed = world["failed"]
    page.get_by_role("link", name=failed.referentienummer_bericht).click()
    page.wait_for_load_state("load")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "uitgaand bericht bekijken"
    assert page.get_by_role("button", name="Opslaan").count() == 0
    content = page.locator("#content-main").text_content()
    for label in ("Ons referentienummer", "GB-vervaldatum in het bericht", "Zender: applicatie"):
        assert label in content, label
    assert "Gb announced expiry" not in content
    assert "Verzendpogingen" in content

    # -- resend, after the confirmation --------------------------------------------------
    page.get_by_role("link", name="Opnieuw versturen").click()
    page.wait_for_load_state("load")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Bericht opnieuw versturen"
    failed.refresh_from_db()
    assert failed.state == MessageState.FAILED
    page.get_by_role("button", name="Ja, opnieuw versturen").click()
    page.wait_for_load_state("load")
    browser_page.axe()
    assert "staat opnieuw in de wachtrij" in page.locator(".messagelist").inner_text()
    failed.refresh_from_db()
    assert failed.state == MessageState.QUEUED  # for a worker (none runs in this test)
    assert failed.failed_at is None
    assert page.get_by_role("link", name="Opnieuw versturen").count() == 0

    # -- the period with its extensions, the sets ------------------------------------------
    period = world["period"]
    page = browser_page.goto(f"/beheer/periods/reportingperiod/{period.pk}/change/")
    assert page.get_by_role("heading", level=1).inner_text() == "verslagperiode wijzigen"
    assert page.get_by_label("Gesloten op: datum").count() == 1
    assert page.get_by_label("Deadline voor deze gemeente").first.input_value() == "15-12-2026"
    assert "Uitstel per gemeente" in page.locator("#content-main").text_content()
    # A new row of the sub-table, its gemeente still to be chosen: named too.
    page.locator("#extensions-group .add-row a").click()
    assert page.locator("#extensions-group tbody tr.form-row:not(.empty-form)").count() == 2
    browser_page.axe()

    page = browser_page.goto("/beheer/periods/dataset/")
    assert page.get_by_label("Handhaving naamconventie: WMO basisset").count() == 1
    assert page.get_by_role("link", name="Set toevoegen").count() == 0
    data_set = DataSet.objects.get(code="WMO_BASIS")
    page = browser_page.goto(f"/beheer/periods/dataset/{data_set.pk}/change/")
    assert "(?P<gemeentecode>…) en (?P<periode>…)" in page.locator("#content-main").inner_text()
    assert page.get_by_role("link", name="Verwijderen").count() == 0

    page = browser_page.goto("/beheer/periods/")
    assert page.get_by_role("heading", level=1).inner_text() == "Verslagperiodes en sets-beheer"

    # -- the e-mail log and the audit trail ----------------------------------------------
    page = browser_page.goto("/beheer/notifications/emailledger/")
    headers = [h.strip() for h in page.locator("#result_list thead th").all_text_contents()]
    assert headers[:3] == ["Aangemaakt op", "Status", "Ontvanger"]
    assert page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results');"
        " return r.scrollWidth <= r.clientWidth; })()"
    )
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_load_state("load")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "verstuurde e-mail bekijken"
    assert page.get_by_role("button", name="Opslaan").count() == 0

    page = browser_page.goto("/beheer/audit/auditentry/")
    assert "Bericht opnieuw verstuurd" in page.locator("#result_list").inner_text()
    entry = page.locator("#result_list tbody tr", has_text="Bericht opnieuw verstuurd")
    assert re.search(r"ib-beheerder", entry.inner_text())

    assert no_page_violations(page) == []
    assert OutboundMessage.objects.filter(state=MessageState.FAILED).count() == 0
