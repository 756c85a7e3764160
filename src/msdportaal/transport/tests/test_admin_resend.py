"""IB resends one failed message from its page: a confirmation first (POST, CSRF), then
the same message goes back in the queue with an audit entry, through services.resend —
the same rule as the list action."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.core.tests.admin_helpers import ib_administrator, ib_client
from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.organisations.models import User
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, OutboundMessage, TransportConfiguration

pytestmark = pytest.mark.django_db


def fail(message: OutboundMessage) -> OutboundMessage:
    """A real attempt at the test settings' RINIS address, where nothing listens; with no
    retry window left the message fails at once."""
    config = TransportConfiguration.get_solo()
    config.retry_window_hours = 0
    config.save()
    assert services.attempt_send(message.pk) == MessageState.FAILED
    message.refresh_from_db()
    return message


@pytest.fixture
def failed(client_a: Client) -> list[OutboundMessage]:
    deliveries = upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
    )
    return [fail(d.outbound_message) for d in deliveries]


def page_url(message: OutboundMessage, suffix: str = "change/") -> str:
    return f"/beheer/transport/outboundmessage/{message.pk}/{suffix}"


def test_a_failed_message_is_resent_after_confirmation_with_an_audit_entry(
    failed, django_capture_on_commit_callbacks
):
    admin = ib_administrator()
    ib = ib_client(admin)
    first, second = failed

    page = ib.get(page_url(first)).content.decode()
    assert "uitgaand bericht bekijken" in page  # read-only: never "wijzigen"
    assert "wijzigen" not in re.search(r"<h1>.*?</h1>", page, re.S).group(0)
    assert 'value="Opslaan"' not in page
    resend_url = page_url(first, "opnieuw-versturen/")
    assert f'href="{resend_url}"' in page
    assert ">Opnieuw versturen<" in page

    confirmation = ib.get(resend_url)
    text = confirmation.content.decode()
    assert confirmation.status_code == 200
    assert "Bericht opnieuw versturen" in text
    assert first.referentienummer_bericht in text
    assert 'method="post"' in text
    assert "csrfmiddlewaretoken" in text
    assert "Ja, opnieuw versturen" in text
    first.refresh_from_db()
    assert first.state == MessageState.FAILED  # looking is not resending
    assert not AuditEntry.objects.filter(action=AuditAction.MESSAGE_RESENT).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = ib.post(resend_url)
    assert response.status_code == 302
    assert response["Location"] == page_url(first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == MessageState.QUEUED
    assert first.failed_at is None
    assert first.triggered_at is not None  # handed to the worker
    assert second.state == MessageState.FAILED  # exactly that message
    (entry,) = AuditEntry.objects.filter(action=AuditAction.MESSAGE_RESENT)
    assert entry.user == admin
    assert entry.object_id == str(first.pk)
    assert first.referentienummer_bericht in entry.message

    after = ib.get(response["Location"]).content.decode()
    assert "staat opnieuw in de wachtrij" in after
    assert f'href="{resend_url}"' not in after  # no longer failed: no button


def test_a_message_that_did_not_fail_cannot_be_resent(failed):
    ib = ib_client(ib_administrator())
    message = failed[0]
    assert services.resend(message)  # queued again
    page = ib.get(page_url(message)).content.decode()
    assert "Opnieuw versturen" not in page
    confirmation = ib.get(page_url(message, "opnieuw-versturen/")).content.decode()
    assert "kan niet opnieuw worden verstuurd" in confirmation
    assert "Ja, opnieuw versturen" not in confirmation
    ib.post(page_url(message, "opnieuw-versturen/"))
    assert AuditEntry.objects.filter(action=AuditAction.MESSAGE_RESENT).count() == 1  # ours


def test_resending_needs_a_post_with_the_csrf_token(failed):
    message = failed[0]
    ib = ib_client(ib_administrator(), enforce_csrf_checks=True)
    assert ib.post(page_url(message, "opnieuw-versturen/")).status_code == 403
    message.refresh_from_db()
    assert message.state == MessageState.FAILED


def test_an_administrator_who_may_only_look_gets_no_button(failed):
    message = failed[0]
    viewer = User.objects.create_user("kijker", "kijker@ib.nl", "x" * 20, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboundmessage"))
    ib = ib_client(viewer)
    page = ib.get(page_url(message))
    assert page.status_code == 200
    assert "Opnieuw versturen" not in page.content.decode()
    assert ib.post(page_url(message, "opnieuw-versturen/")).status_code == 403
    message.refresh_from_db()
    assert message.state == MessageState.FAILED


def test_the_list_action_resends_only_the_failed_ones_of_the_selection(failed, client_a):
    ib = ib_client(ib_administrator())
    (queued,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-FACULTATIEF_0363_{CURRENT}.csv"))
    chosen = [failed[0].pk, queued.outbound_message.pk]
    response = ib.post(
        "/beheer/transport/outboundmessage/",
        {"action": "resend_failed", "_selected_action": chosen},
        follow=True,
    )
    assert "1 bericht opnieuw in de wachtrij gezet." in response.content.decode()
    states = dict(OutboundMessage.objects.values_list("pk", "state"))
    assert states[failed[0].pk] == MessageState.QUEUED
    assert states[failed[1].pk] == MessageState.FAILED  # not selected
    assert AuditEntry.objects.filter(action=AuditAction.MESSAGE_RESENT).count() == 1


def test_the_outbox_list_leads_with_the_status(failed):
    ib = ib_client(ib_administrator())
    page = ib.get("/beheer/transport/outboundmessage/").content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
    assert headers[:3] == ["state_label", "attempts", "next_attempt_at"]
    assert "<strong>Mislukt</strong>" in page
    assert "Selecteer uitgaand bericht om te bekijken" in page
    assert "/beheer/transport/outboundmessage/add/" not in page
