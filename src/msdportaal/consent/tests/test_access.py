"""No gemeente sees another's consent forms (tested per URL); a double submit counts once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user, restore_reference_data
from msdportaal.consent.models import ConsentForm
from msdportaal.organisations.middleware import SESSION_KEY
from msdportaal.organisations.models import Municipality
from msdportaal.transport.models import OutboundMessage

from .factories import CURRENT, FORMS_URL, PREVIOUS, fill_in, report, submit


def consent_urls(submitted: ConsentForm, draft: ConsentForm) -> list[str]:
    return [
        reverse("consent:check", args=[draft.pk]),
        reverse("consent:confirmation", args=[submitted.pk]),
        # and the ones that redirect for the owner
        reverse("consent:check", args=[submitted.pk]),
        reverse("consent:confirmation", args=[draft.pk]),
        f"{FORMS_URL}?concept={draft.pk}",
    ]


@pytest.mark.django_db
def test_gemeente_b_gets_404_on_every_consent_url_of_gemeente_a(
    client_a: Client, municipality_a, user_b
):
    report(municipality_a, CURRENT)
    report(municipality_a, PREVIOUS)
    submitted = submit(client_a, PREVIOUS)
    fill_in(client_a, CURRENT)
    draft = ConsentForm.objects.drafts().get()
    urls = consent_urls(submitted, draft)
    for url in urls:
        assert client_a.get(url).status_code in (200, 302), url

    client_b = Client()
    client_b.force_login(user_b, backend=MUNICIPAL_BACKEND)
    for url in urls:
        assert client_b.get(url).status_code == 404, url
        assert client_b.post(url, {"confirm": "1"}).status_code in (404, 405), url
    page_b = client_b.get(FORMS_URL).content.decode()
    assert submitted.reference not in page_b
    assert "U heeft nog geen toestemming doorgegeven." in page_b
    # B's attempt to confirm A's draft changed nothing.
    draft.refresh_from_db()
    assert not draft.is_submitted
    assert ConsentForm.objects.submitted().count() == 1


@pytest.mark.django_db
def test_acting_for_another_gemeente_hides_the_first_ones_forms(client: Client, municipality_a):
    """A supplier acting for two gemeenten (ketenmachtiging) sees one gemeente at a time."""
    municipality_c = Municipality.objects.get(code="0599")  # Rotterdam
    user = make_municipal_user(municipality_a, municipality_c, username="leverancier")
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    session = client.session
    session[SESSION_KEY] = municipality_a.pk
    session.save()
    report(municipality_a, PREVIOUS)
    submitted = submit(client, PREVIOUS)
    fill_in(client, PREVIOUS)
    draft = ConsentForm.objects.drafts().get()

    session = client.session
    session[SESSION_KEY] = municipality_c.pk
    session.save()
    for url in consent_urls(submitted, draft):
        assert client.get(url).status_code == 404, url
    assert submitted.reference not in client.get(FORMS_URL).content.decode()


@pytest.mark.django_db
def test_a_double_submit_creates_one_submission(client_a: Client, municipality_a):
    report(municipality_a, CURRENT)
    check_url = fill_in(client_a, CURRENT)["Location"]
    first = client_a.post(check_url, {"confirm": "1"})
    second = client_a.post(check_url, {"confirm": "1"})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    form = ConsentForm.objects.submitted().get()
    assert OutboundMessage.objects.get() == form.outbound_message
    assert AuditEntry.objects.filter(action=AuditAction.SUBMISSION).count() == 1
    # The back button to the check page leads to the same confirmation.
    assert client_a.get(check_url)["Location"] == first["Location"]
    confirmation = client_a.get(first["Location"]).content.decode()
    assert form.reference in confirmation
    assert "Toestemming doorgegeven" in confirmation


@pytest.fixture
def reference_data(transactional_db: None) -> None:
    restore_reference_data()


def test_two_simultaneous_confirms_create_one_submission(reference_data, user_a, municipality_a):
    report(municipality_a, CURRENT)
    client = Client()
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    check_url = fill_in(client, CURRENT)["Location"]
    start, results = threading.Barrier(4), []

    def confirm() -> None:
        try:
            own = Client()
            own.force_login(user_a, backend=MUNICIPAL_BACKEND)
            start.wait()
            results.append(own.post(check_url, {"confirm": "1"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [302, 302, 302, 302]
    assert ConsentForm.objects.submitted().count() == 1
    assert OutboundMessage.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.SUBMISSION).count() == 1


@pytest.mark.django_db
def test_ib_staff_cannot_use_the_municipal_pages(client: Client, admin_user):
    client.force_login(admin_user)
    assert client.get(FORMS_URL).status_code == 403


@pytest.mark.django_db
def test_a_failure_while_submitting_leaves_nothing_behind(
    client_a: Client, municipality_a, media_root, monkeypatch
):
    from msdportaal.conftest import stored_files
    from msdportaal.consent import services

    report(municipality_a, CURRENT)
    check_url = fill_in(client_a, CURRENT)["Location"]
    before = stored_files(media_root)

    def broken(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(services, "enqueue", broken)
    client_a.raise_request_exception = False
    assert client_a.post(check_url, {"confirm": "1"}).status_code == 500
    assert stored_files(media_root) == before  # the CSV written before the failure is gone
    assert not ConsentForm.objects.submitted().exists()
    assert not OutboundMessage.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditAction.SUBMISSION).exists()

    monkeypatch.undo()
    assert client_a.post(check_url, {"confirm": "1"}).status_code == 302  # the draft is intact
    assert ConsentForm.objects.submitted().count() == 1


@pytest.mark.django_db
def test_a_period_closed_between_check_and_confirm_refuses(client_a: Client, municipality_a):
    from django.utils import timezone

    report(municipality_a, PREVIOUS)
    check_url = fill_in(client_a, PREVIOUS)["Location"]
    draft = ConsentForm.objects.get()
    draft.period.closed_at = timezone.now()
    draft.period.save()
    response = client_a.post(check_url, {"confirm": "1"})
    assert response["Location"] == FORMS_URL
    page = client_a.get(FORMS_URL).content.decode()
    assert "Verslagperiode 2025HJ02 is gesloten; toestemming geven kan niet meer." in page
    assert not ConsentForm.objects.submitted().exists()
    assert not OutboundMessage.objects.exists()
