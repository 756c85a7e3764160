"""Consent notifications: the form opens, reminders, and "required again" after a correction."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND
from msdportaal.consent.tests.factories import PREVIOUS, report, submit
from msdportaal.deliveries.tests.factories import csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import Contact, Event, Notification
from msdportaal.notifications.outbox import sweep_stored_emails
from msdportaal.notifications.schedule import run_daily

pytestmark = pytest.mark.django_db
ANNA = "anna@amsterdam.example"


def run_daily_and_send() -> None:
    """Beat's hourly run, then what the e-mail task (or the sweeper) does with its e-mails."""
    run_daily()
    sweep_stored_emails()


@pytest.fixture
def anna(municipality_a) -> Contact:
    return Contact.objects.create(
        municipality=municipality_a,
        name="Anna",
        email=ANNA,
        events=[e.value for e in Event if e != Event.IB_DIGEST],
    )


def subjects(mailbox) -> list[str]:
    return [m["Subject"] for m in mailbox.to(ANNA)]


def test_no_op_orde_report_no_consent_notification(anna, municipality_a, mailbox):
    report(municipality_a, PREVIOUS, kind="foutrapport")
    run_daily_and_send()
    assert not [s for s in subjects(mailbox) if "toestemming" in s.lower()]


def test_form_opens_then_reminders_then_silence_after_consent(
    anna, municipality_a, client_a, user_a, fixed_today, mailbox
):
    # 2025HJ02's consent form opened on 1 April 2026; the op-orde report arrives on 29 Nov 2026.
    report(municipality_a, PREVIOUS)
    run_daily_and_send()
    run_daily_and_send()
    assert subjects(mailbox) == ["MSD Portaal: Geef toestemming voor 2025HJ02"]
    fixed_today.shift(datetime.timedelta(days=14))
    run_daily_and_send()
    assert subjects(mailbox)[-1] == "MSD Portaal: Herinnering: toestemming voor 2025HJ02"

    # Consent given: no more reminders on day 28.
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)
    submit(client_a, PREVIOUS)
    mailbox.clear()
    fixed_today.shift(datetime.timedelta(days=14))
    run_daily_and_send()
    assert subjects(mailbox) == []


def test_a_correction_after_consent_asks_for_consent_again(
    anna, municipality_a, client_a, user_a, fixed_today, mailbox
):
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS)
    fixed_today.shift(datetime.timedelta(hours=1))
    client_a.force_login(user_a, backend=MUNICIPAL_BACKEND)
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv"))
    mailbox.clear()
    run_daily_and_send()
    run_daily_and_send()
    assert subjects(mailbox) == ["MSD Portaal: Opnieuw toestemming nodig voor 2025HJ02"]
    notification = Notification.objects.get(event=Event.CONSENT_REQUIRED_AGAIN)
    assert form.reference in notification.body


def test_an_op_orde_report_opens_the_form_at_once(
    anna, municipality_a, mailbox, rinis_headers, django_capture_on_commit_callbacks, client_a
):
    from msdportaal.reports.tests.helpers import du01

    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv"))
    body, action = du01(
        "0363", cross_refnummer=delivery.outbound_message.referentienummer, functie="MSDOPORDE"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().generic(
            "POST",
            "/rinis/ggk/",
            body,
            content_type="text/xml",
            HTTP_SOAPACTION=f'"{action}"',
            **rinis_headers,
        )
    assert response.status_code == 200
    sweep_stored_emails()
    assert sorted(subjects(mailbox)) == [
        "MSD Portaal: Geef toestemming voor 2025HJ02",
        "MSD Portaal: Rapport van CBS ontvangen: Inhoudelijk rapport: op orde",
    ]
