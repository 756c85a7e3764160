"""Receipts counted against confirmed batches, the way the fault runs counted them.

The fault runs saw 873 confirmed batches and 868 receipts. Here gemeenten confirm 30
batches through a live server, several at once and some twice at the same moment, while
the mail server fails in all the ways a relay in trouble fails; real Celery workers send
the receipts and retry them, and a sweeper races them. Then the mail server recovers, and
every confirmed batch must have exactly one receipt.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.deliveries.models import Delivery, UploadBatch
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes
from msdportaal.notifications.models import DeliveryState, EmailLedger
from msdportaal.notifications.outbox import sweep_stored_emails
from msdportaal.notifications.tasks import sweep_emails
from msdportaal.organisations.models import Municipality
from msdportaal.transport.tests.conftest import wait_until

from .test_durable_emails import closed_port

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the workers and the live server commit
    pytest.mark.usefixtures("reference_data"),
]

#: What a relay in trouble answers, in turn: about the relay (421 and a 5xx to our
#: sender, as after a failover to a relay that does not know us yet), about the recipient
#: for now (451 to RCPT) and about the message for now (451 to DATA). One in five is taken.
FAULTS = ["mail-421", "mail-554", "ok", "rcpt-451", "data-451"]


@dataclass
class FlakyRelay:
    """An SMTP server that fails most transactions until it has ``recovered``."""

    messages: list[EmailMessage] = field(default_factory=list)
    served: Counter[str] = field(default_factory=Counter)
    recovered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    _turn: int = 0

    def _fault(self) -> str:
        with self.lock:
            if self.recovered:
                return "ok"
            fault = FAULTS[self._turn % len(FAULTS)]
            self._turn += 1
            self.served[fault] += 1
            return fault

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        session.fault = self._fault()
        if session.fault == "mail-421":
            return "421 4.3.2 Service not available, closing transmission channel"
        if session.fault == "mail-554":
            return "554 5.7.1 Relay access denied"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if getattr(session, "fault", "") == "rcpt-451":
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if getattr(session, "fault", "") == "data-451":
            return "451 4.3.0 Requested action aborted: local error in processing"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def flaky_relay(settings: Any) -> Iterator[FlakyRelay]:
    relay = FlakyRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=closed_port())
    controller.start()
    settings.EMAIL_PORT = controller.port  # the workers started after this use it too
    yield relay
    controller.stop()


@dataclass
class Gemeente:
    """One gemeente's employee, logged in in a browser of their own (a session cookie)."""

    code: str
    email: str
    session: str


def logged_in(municipality: Municipality) -> Gemeente:
    user = make_municipal_user(municipality, username=f"medewerker-{municipality.code}")
    client = Client()
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    return Gemeente(municipality.code, user.email, client.cookies["sessionid"].value)


def browser(base_url: str, gemeente: Gemeente) -> requests.Session:
    http = requests.Session()
    http.cookies.set("sessionid", gemeente.session)
    http.get(f"{base_url}/aanleveren/", timeout=60).raise_for_status()  # the CSRF cookie
    return http


def confirmation_page(http: requests.Session, base_url: str, check_url: str) -> requests.Response:
    return http.post(
        f"{base_url}{check_url}",
        data={"confirm": "1", "csrfmiddlewaretoken": http.cookies["csrftoken"]},
        timeout=60,
    )


def deliver(base_url: str, gemeente: Gemeente, number: int, twice: bool) -> str:
    """Upload and confirm one file (*twice*: two confirms of it at the same moment, as a
    double click that reached two web workers); returns the batch id."""
    http = browser(base_url, gemeente)
    name = f"MSD_WMO-BASIS_{gemeente.code}_{CURRENT}.csv"
    staged = http.post(
        f"{base_url}/aanleveren/",
        data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
        files={"files": (name, csv_bytes(10 + number), "text/csv")},
        allow_redirects=False,
        timeout=60,
    )
    assert staged.status_code == 302, staged.text[:2000]
    check_url = staged.headers["Location"]
    if twice:
        other = browser(base_url, gemeente)
        with ThreadPoolExecutor(2) as both:
            pages = list(
                both.map(lambda h: confirmation_page(h, base_url, check_url), (http, other))
            )
    else:
        pages = [confirmation_page(http, base_url, check_url)]
    batch_id = check_url.split("/")[2]
    for page in pages:
        assert page.status_code == 200, page.text[:2000]
        assert page.url.endswith(f"/aanleveren/{batch_id}/bevestiging/")
        assert "Aanlevering ontvangen" in page.text
    return batch_id


def test_every_confirmed_batch_gets_exactly_one_receipt_through_a_flaky_mail_server(
    live_server: Any, flaky_relay: FlakyRelay, start_worker: Any, settings: Any
) -> None:
    # Two workers send the receipts and retry them (after 0.5, 1, 2 … s here).
    workers = [start_worker(MSD_EMAIL_RETRY_BASE_SECONDS="0.5") for _ in range(2)]
    settings.MSD_EMAIL_RETRY_BASE_SECONDS = 0.5  # and the sweeper in this process
    gemeenten = [
        logged_in(m) for m in Municipality.objects.filter(code__in=["0363", "0344", "0599"])
    ]
    assert len(gemeenten) == 3
    jobs = [(gemeenten[n % 3], n, n % 6 == 5) for n in range(30)]

    with ThreadPoolExecutor(6) as pool:  # six people confirming at once
        batch_ids = list(pool.map(lambda job: deliver(live_server.url, *job), jobs))

    assert len(set(batch_ids)) == 30
    assert UploadBatch.objects.filter(confirmed_at__isnull=False).count() == 30
    assert Delivery.objects.count() == 30  # a confirm twice at once is one delivery
    assert EmailLedger.objects.count() == 30

    # The workers try every receipt at least once while the mail server is in trouble.
    wait_until(
        lambda: not EmailLedger.objects.filter(state=DeliveryState.QUEUED).exists(),
        timeout=90,
        what="a first try of every receipt",
        workers=workers,
        interval=0.3,
    )
    flaky_relay.recovered = True  # the mail server is back; beat's sweeper comes round
    sweep_emails.delay()

    def settled() -> bool:
        """Every receipt sent, or given up for good (which must not happen)."""
        sweep_stored_emails()  # the sweeper in this process too, racing the workers
        unsent = EmailLedger.objects.exclude(state=DeliveryState.SENT)
        return not unsent.exclude(state=DeliveryState.FAILED, next_attempt_at=None).exists()

    wait_until(settled, timeout=90, what="every receipt settled", workers=workers, interval=0.3)
    given_up = EmailLedger.objects.exclude(state=DeliveryState.SENT)
    assert list(given_up.values_list("key", "error")) == []

    receipts = [m for m in flaky_relay.messages if "Ontvangstbevestiging" in m["Subject"]]
    assert len(receipts) == 30
    assert len({m["Message-ID"] for m in receipts}) == 30
    addressed: dict[str, list[str]] = {}
    for message in receipts:
        text = message.get_body(("plain",)).get_content()
        for reference in set(re.findall(r"\d{8}-\d{6}-\d{3}", text)):
            addressed.setdefault(reference, []).append(message["To"])
    for delivery in Delivery.objects.select_related("batch__uploaded_by"):
        # One receipt per confirmed batch, to the person who confirmed it.
        assert addressed.get(delivery.reference) == [delivery.batch.uploaded_by.email]
    # The faults really happened, every kind of them, and the receipts survived them all.
    assert set(flaky_relay.served) == set(FAULTS)
    assert EmailLedger.objects.filter(attempts__gt=1).exists()


# --- a worker that dies while it sends ---------------------------------------------------


@dataclass
class StallingRelay:
    """Holds every message at DATA until released, then refuses it: the message never
    arrives, as when the sending worker dies mid-transaction."""

    at_data: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        self.at_data.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "451 4.3.0 Too late"


@pytest.fixture
def stalling_relay(settings: Any) -> Iterator[StallingRelay]:
    relay = StallingRelay()
    controller = Controller(relay, hostname="127.0.0.1", port=closed_port())
    controller.start()
    settings.EMAIL_PORT = controller.port
    yield relay
    relay.release.set()
    controller.stop()


def test_a_receipt_whose_worker_died_mid_send_goes_out_minutes_later_once(
    stalling_relay: StallingRelay,
    start_worker: Any,
    user_a: Any,
    smtp_server: Any,
    mailbox: Any,
    settings: Any,
    fixed_today: Any,
) -> None:
    """The row stays *pending* with the dead worker's claim. It used to wait 30 minutes
    for the sweeper (so a count made soon after a fault run missed it); now the claim is a
    lease of ten mail-server time-outs (5 minutes)."""
    from msdportaal.deliveries.tests.factories import csv_file
    from msdportaal.deliveries.tests.test_upload import upload_and_confirm

    worker = start_worker()
    client = Client()
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    (delivery,) = upload_and_confirm(client, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    wait_until(
        stalling_relay.at_data.is_set, timeout=60, what="the receipt at DATA", workers=[worker]
    )
    worker.kill()  # SIGKILL while the mail server holds the message
    row = EmailLedger.objects.get(key=f"receipt:{delivery.batch_id}")
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)

    settings.EMAIL_PORT = smtp_server[0].port  # a mail server that works, for the sweeper
    fixed_today.shift(datetime.timedelta(minutes=1))
    assert sweep_stored_emails() == 0  # a live worker might still be sending it
    fixed_today.shift(datetime.timedelta(minutes=5))  # the lease ran out (EMAIL_TIMEOUT × 10)
    assert sweep_stored_emails() == 1
    assert sweep_stored_emails() == 0
    (receipt,) = mailbox.to(user_a.email)
    assert delivery.reference in receipt.get_body(("plain",)).get_content()
