"""Every acknowledgement survives: receipts and consent confirmations are in the ledger the
moment the event commits, and a mail server that is down or refuses only delays them."""

from __future__ import annotations

import datetime
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from msdportaal.consent.tests.factories import PREVIOUS, report, submit
from msdportaal.deliveries.models import Delivery
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, csv_file
from msdportaal.notifications.models import DeliveryState, EmailLedger
from msdportaal.notifications.outbox import sweep_stored_emails
from msdportaal.notifications.tasks import send_stored_email

pytestmark = pytest.mark.django_db
LATER = datetime.timedelta(minutes=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


class _Refusing:
    """A mail server that is there but refuses for now, as a full queue or greylisting does."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "451 4.3.0 Probeer het later opnieuw"


@pytest.fixture
def refusing_smtp() -> Iterator[Controller]:
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=closed_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture(params=["down", "refusing"])
def smtp_trouble(request: Any, settings: Any) -> Iterator[None]:
    """The mail server unreachable or refusing until the test restores the setting."""
    if request.param == "down":
        settings.EMAIL_PORT = closed_port()
        yield
    else:
        controller = request.getfixturevalue("refusing_smtp")
        settings.EMAIL_PORT = controller.port
        yield


def confirm(client: Client, content: bytes | None = None) -> Delivery:
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    response = client.post("/aanleveren/", {"files": [csv_file(name, content or csv_bytes())]})
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(response["Location"], {"confirm": "1"}, follow=True)
    assert response.status_code == 200
    assert "Aanlevering ontvangen" in response.content.decode()
    return Delivery.objects.latest("pk")


def receipts(mailbox: Any, address: str) -> list[str]:
    return [
        m.get_body(("plain",)).get_content()
        for m in mailbox.to(address)
        if "Ontvangstbevestiging" in m["Subject"]
    ]


def test_a_receipt_waits_for_the_mail_server_and_goes_out_once(
    client_a: Client,
    user_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    smtp_trouble: None,
    fixed_today: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        delivery = confirm(client_a)  # the confirm succeeds whatever the mail server does
    row = EmailLedger.objects.get(key=f"receipt:{delivery.batch_id}")
    assert row.state == DeliveryState.QUEUED
    assert delivery.reference in row.body

    assert send_stored_email(row.pk) is False  # what the triggered task does now
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 1)
    assert row.error
    assert receipts(mailbox, user_a.email) == []

    settings.EMAIL_PORT = smtp_server[0].port  # the mail server is back
    assert sweep_stored_emails() == 0  # the back-off is not over yet
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 1
    assert send_stored_email(row.pk) is False  # a late retry of the task sends nothing
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 0
    (receipt,) = receipts(mailbox, user_a.email)
    assert delivery.reference in receipt
    row.refresh_from_db()
    assert (row.state, row.attempts, row.error) == (DeliveryState.SENT, 2, "")


def test_receipts_match_confirmed_batches_through_trouble_and_lost_triggers(
    client_a: Client,
    user_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    fixed_today: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Six confirms: two while the mail server is down (their task fails), two whose trigger
    is lost (no commit callback runs, as when the broker is away), two in good order."""
    from msdportaal.deliveries.models import UploadBatch

    working_port = smtp_server[0].port
    references = []
    for number in range(6):
        settings.EMAIL_PORT = closed_port() if number in (1, 2) else working_port
        if number in (3, 4):
            delivery = confirm(client_a, csv_bytes(10 + number))  # trigger lost
        else:
            with django_capture_on_commit_callbacks(execute=True):
                delivery = confirm(client_a, csv_bytes(10 + number))
            send_stored_email(EmailLedger.objects.get(key=f"receipt:{delivery.batch_id}").pk)
        references.append(delivery.reference)
    settings.EMAIL_PORT = working_port
    assert len(receipts(mailbox, user_a.email)) == 2  # the two in good order, at once

    for _ in range(3):  # the sweeper runs every minute, more than once meanwhile
        fixed_today.shift(LATER)
        sweep_stored_emails()
    for row in EmailLedger.objects.all():  # and late duplicate triggers change nothing
        send_stored_email(row.pk)

    sent = receipts(mailbox, user_a.email)
    confirmed = UploadBatch.objects.filter(confirmed_at__isnull=False).count()
    assert len(sent) == confirmed == 6
    per_reference = Counter(ref for ref in references for body in sent if ref in body)
    assert per_reference == Counter({ref: 1 for ref in references})
    assert set(EmailLedger.objects.values_list("state", flat=True)) == {DeliveryState.SENT}


def test_the_consent_confirmation_waits_for_the_mail_server_and_goes_out_once(
    client_a: Client,
    municipality_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    smtp_trouble: None,
    fixed_today: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    report(municipality_a, PREVIOUS)
    address = "besluit@amsterdam.example"
    with django_capture_on_commit_callbacks(execute=True):
        form = submit(client_a, PREVIOUS, {"KOSTEN_SBO": "nee"}, email=address)
    row = EmailLedger.objects.get(key=f"consent-confirmation:{form.pk}")
    assert (row.recipient, row.state) == (address, DeliveryState.QUEUED)
    assert send_stored_email(row.pk) is False
    assert mailbox.to(address) == []

    settings.EMAIL_PORT = smtp_server[0].port
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 1
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 0
    (message,) = mailbox.to(address)
    assert message["Subject"] == f"Bevestiging toestemming Amsterdam voor {PREVIOUS}"
    body = message.get_body(("plain",)).get_content()
    assert form.reference in body
    decisions = [line.rsplit(": ", 1)[1] for line in body.splitlines() if line.startswith("- ")]
    assert decisions == ["ja", "ja", "ja", "ja", "nee"]
    assert "Beste Fatima de Vries" in body


def test_a_second_confirm_of_the_same_batch_queues_no_second_receipt(
    client_a: Client, user_a: Any, mailbox: Any
) -> None:
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    check_url = client_a.post("/aanleveren/", {"files": [csv_file(name, csv_bytes())]})["Location"]
    client_a.post(check_url, {"confirm": "1"})
    client_a.post(check_url, {"confirm": "1"})  # double click, back button, retried request
    assert EmailLedger.objects.count() == 1
    sweep_stored_emails()
    sweep_stored_emails()
    assert len(receipts(mailbox, user_a.email)) == 1


def test_an_address_the_mail_server_does_not_know_is_tried_once(
    client_a: Client, municipality_a: Any, mailbox: Any, fixed_today: Any
) -> None:
    """A 5xx answer will not change by retrying: the row stays failed, with the reason."""
    report(municipality_a, PREVIOUS)
    form = submit(client_a, PREVIOUS, email="bestaatniet@amsterdam.example")
    assert sweep_stored_emails() == 0
    fixed_today.shift(datetime.timedelta(hours=2))
    assert sweep_stored_emails() == 0
    row = EmailLedger.objects.get(key=f"consent-confirmation:{form.pk}")
    assert (row.state, row.attempts, row.next_attempt_at) == (DeliveryState.FAILED, 1, None)
    assert "5.1.1" in row.error
    assert mailbox.messages == []


# --- every other e-mail takes the same path --------------------------------------------


def contact(municipality: Any, email: str, events: list[str] | None = None) -> Any:
    from msdportaal.notifications.models import Contact, Event

    return Contact.objects.create(
        municipality=municipality,
        name=email.split("@")[0],
        email=email,
        events=[e.value for e in Event if e != Event.IB_DIGEST] if events is None else events,
    )


def subjects(mailbox: Any, address: str) -> list[str]:
    return [m["Subject"] for m in mailbox.to(address)]


def test_a_report_that_arrives_while_the_mail_server_is_away_is_announced_once_it_is_back(
    municipality_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    smtp_trouble: None,
    fixed_today: Any,
    rinis_headers: dict[str, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from msdportaal.notifications.models import Event, Notification
    from msdportaal.reports.tests.helpers import di01

    contact(municipality_a, "anna@amsterdam.example", [Event.REPORT])
    body, action = di01("0363")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().generic(
            "POST",
            "/rinis/ggk/",
            body,
            content_type="text/xml",
            HTTP_SOAPACTION=f'"{action}"',
            **rinis_headers,
        )
    assert response.status_code == 200  # RINIS hears "stored", whatever the mail server does
    notification = Notification.objects.get(municipality=municipality_a, event=Event.REPORT)
    row = EmailLedger.objects.get(recipient="anna@amsterdam.example")
    assert row.key == f"0363:{notification.key}"
    assert send_stored_email(row.pk) is False  # the triggered task, with the server away
    assert sweep_stored_emails() == 0  # and the sweeper during the back-off
    assert mailbox.to("anna@amsterdam.example") == []

    settings.EMAIL_PORT = smtp_server[0].port  # the mail server is back
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 1
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 0
    assert [s.strip() for s in subjects(mailbox, "anna@amsterdam.example")] == [
        "MSD Portaal: Rapport van CBS ontvangen: Foutrapport (technische controle)"
    ]


def test_a_reminder_due_while_the_mail_server_is_away_arrives_once_it_is_back(
    municipality_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    smtp_trouble: None,
    fixed_today: Any,
) -> None:
    from msdportaal.notifications.schedule import run_daily

    contact(municipality_a, "anna@amsterdam.example")
    # 14 days before the 2026HJ02 deadline (31 March 2027), nothing delivered yet.
    fixed_today.move_to("2027-03-17T07:00:00+01:00")
    run_daily()
    (row,) = EmailLedger.objects.filter(recipient="anna@amsterdam.example")
    assert row.key == "0363:reminder:2026HJ02:2027-03-31:14"
    assert row.subject == "MSD Portaal: Nog 14 dag(en) tot de deadline van 2026HJ02"
    assert sweep_stored_emails() == 0  # the mail server is away: it waits as "failed"
    row.refresh_from_db()
    assert row.state == DeliveryState.FAILED
    for _ in range(3):  # the hourly run comes again meanwhile, and the sweeper
        fixed_today.shift(datetime.timedelta(seconds=30))
        run_daily()
        sweep_stored_emails()
    assert mailbox.to("anna@amsterdam.example") == []

    settings.EMAIL_PORT = smtp_server[0].port  # the mail server is back
    fixed_today.shift(datetime.timedelta(minutes=10))
    run_daily()
    sweep_stored_emails()
    fixed_today.shift(datetime.timedelta(hours=1))
    run_daily()
    sweep_stored_emails()
    assert subjects(mailbox, "anna@amsterdam.example") == [
        "MSD Portaal: Nog 14 dag(en) tot de deadline van 2026HJ02"
    ]
    assert EmailLedger.objects.get(pk=row.pk).state == DeliveryState.SENT


def test_a_notification_whose_trigger_was_lost_is_sent_by_the_sweeper(
    municipality_a: Any, mailbox: Any, fixed_today: Any
) -> None:
    """The hourly run commits the notification and its e-mail; the worker that should send
    it dies (no task ever runs): the sweeper sends it."""
    from msdportaal.notifications.schedule import run_daily

    contact(municipality_a, "anna@amsterdam.example")
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    run_daily()  # outside a captured commit: the on-commit trigger never runs
    assert mailbox.to("anna@amsterdam.example") == []
    assert sweep_stored_emails() == 1
    assert sweep_stored_emails() == 0
    assert subjects(mailbox, "anna@amsterdam.example") == [
        "MSD Portaal: Aanleveren voor 2026HJ02 kan vanaf vandaag"
    ]


def test_a_contact_of_two_gemeenten_hears_about_each(
    municipality_a: Any, municipality_b: Any, mailbox: Any, fixed_today: Any
) -> None:
    """An intermediary delivering for Amsterdam and Utrecht is a contact of both: the same
    event (the window opens, a reminder) is one e-mail per gemeente, not one in all."""
    from msdportaal.notifications.schedule import run_daily

    for municipality in (municipality_a, municipality_b):
        contact(municipality, "leverancier@software.example")
    fixed_today.move_to("2027-03-24T07:00:00+01:00")  # 7 days before the deadline
    run_daily()
    run_daily()
    sweep_stored_emails()
    bodies = [
        m.get_body(("plain",)).get_content() for m in mailbox.to("leverancier@software.example")
    ]
    assert len(bodies) == 2
    assert sorted("Wat Amsterdam nog moet doen:" in b for b in bodies) == [False, True]
    assert sorted("Wat Utrecht nog moet doen:" in b for b in bodies) == [False, True]


def test_a_refusal_that_is_about_the_mail_server_is_retried(
    client_a: Client,
    user_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    fixed_today: Any,
) -> None:
    """A relay that does not accept our sender for now (5xx to MAIL FROM, as after a
    failover to a relay that does not know us yet) refuses every e-mail alike: that is an
    outage, not a refusal of this receipt. It used to be given up after one try."""
    controller = Controller(_RefusingSender(), hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        settings.EMAIL_PORT = controller.port
        delivery = confirm(client_a)
        assert sweep_stored_emails() == 0
        row = EmailLedger.objects.get(key=f"receipt:{delivery.batch_id}")
        assert row.state == DeliveryState.FAILED
        assert "5.7.1" in row.error
        assert row.next_attempt_at is not None  # to be tried again
    finally:
        controller.stop()
    settings.EMAIL_PORT = smtp_server[0].port
    fixed_today.shift(LATER)
    assert sweep_stored_emails() == 1
    (receipt,) = receipts(mailbox, user_a.email)
    assert delivery.reference in receipt


class _RefusingSender:
    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "554 5.7.1 Relay access denied"


def test_every_attempt_of_one_email_has_the_same_message_id(
    client_a: Client,
    user_a: Any,
    mailbox: Any,
    settings: Any,
    smtp_server: Any,
    fixed_today: Any,
) -> None:
    """The idempotency key as the receiving side sees it: if a copy ever arrives twice (the
    mail server took it but its answer was lost), both carry one Message-ID."""
    delivery = confirm(client_a)
    other = confirm(client_a, csv_bytes(99))
    sweep_stored_emails()
    ids = [m["Message-ID"] for m in mailbox.to(user_a.email)]
    assert len(ids) == len(set(ids)) == 2
    from msdportaal.notifications.outbox import message_id

    assert message_id(f"receipt:{delivery.batch_id}", user_a.email) in ids
    assert message_id(f"receipt:{other.batch_id}", user_a.email) in ids
    assert all(i.endswith("@msdportaal.nl>") for i in ids)


def test_a_subject_says_the_name_as_it_is(
    mailbox: Any, fixed_today: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """'s-Hertogenbosch in a subject, not &#x27;s-Hertogenbosch (subjects are text)."""
    from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
    from msdportaal.organisations.models import Municipality

    bosch = Municipality.objects.get(code="0796")
    user = make_municipal_user(bosch, username="medewerker-bosch")
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    name = f"MSD_WMO-BASIS_0796_{CURRENT}.csv"
    check_url = client.post("/aanleveren/", {"files": [csv_file(name, csv_bytes())]})["Location"]
    client.post(check_url, {"confirm": "1"})
    sweep_stored_emails()
    (message,) = mailbox.to(user.email)
    assert message["Subject"].strip() == (
        "Ontvangstbevestiging aanlevering 's-Hertogenbosch (1 CSV-bestand)"
    )


def test_after_the_upgrade_nothing_already_sent_is_sent_again(
    municipality_a: Any, mailbox: Any, fixed_today: Any
) -> None:
    """Notification e-mails sent before the outbox (no stored subject, the event's key
    alone) get the new key; one that had failed is queued afresh by the next run."""
    import importlib

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module(
        "msdportaal.notifications.migrations.0004_notification_email_keys_per_gemeente"
    )
    contact(municipality_a, "anna@amsterdam.example")
    contact(municipality_a, "bert@amsterdam.example")
    fixed_today.move_to("2027-01-01T08:00:00+01:00")
    before = (("anna@amsterdam.example", "sent"), ("bert@amsterdam.example", "failed"))
    for recipient, state in before:
        EmailLedger.objects.create(
            key="window:2026HJ02",
            recipient=recipient,
            municipality=municipality_a,
            state=state,
            attempts=1,
            claimed_at=timezone.now(),
        )
    migration.forwards(apps, None)

    from msdportaal.notifications.schedule import run_daily

    run_daily()
    sweep_stored_emails()
    assert mailbox.to("anna@amsterdam.example") == []  # she had it already
    assert subjects(mailbox, "bert@amsterdam.example") == [
        "MSD Portaal: Aanleveren voor 2026HJ02 kan vanaf vandaag"
    ]
    assert set(EmailLedger.objects.values_list("key", "recipient", "state")) == {
        ("0363:window:2026HJ02", "anna@amsterdam.example", "sent"),
        ("0363:window:2026HJ02", "bert@amsterdam.example", "sent"),
    }
