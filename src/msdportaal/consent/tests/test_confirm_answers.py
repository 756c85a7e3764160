"""A consent submission that committed always shows its confirmation page with the
reference, whatever fails afterwards (saving the session), and a second submit shows the
same page, not a second submission."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.consent.models import ConsentForm
from msdportaal.deliveries.tests import session_faults
from msdportaal.notifications.models import EmailLedger
from msdportaal.transport.models import OutboundMessage

from .factories import PREVIOUS, fill_in, report

pytestmark = pytest.mark.django_db
FAILING_SESSIONS = "msdportaal.deliveries.tests.session_faults"


def same_browser(client: Client) -> Client:
    other = Client()
    other.cookies = client.cookies
    return other


def assert_confirmation(response: Any, form: ConsentForm) -> None:
    page = response.content.decode()
    assert response.status_code == 200, page[:2000]
    assert "Toestemming doorgegeven" in page
    assert form.reference in page


def test_a_submission_whose_session_cannot_be_saved_still_shows_the_reference(
    client_a: Client, municipality_a: Any, settings: Any, fixed_today: Any
) -> None:
    report(municipality_a, PREVIOUS)
    check_url = fill_in(client_a, PREVIOUS)["Location"]
    # The answers are read for a while: the confirm is the request that refreshes the
    # session (core/sessions.py), so it has a session to save.
    fixed_today.shift(datetime.timedelta(seconds=settings.MSD_SESSION_REFRESH_SECONDS + 1))
    settings.SESSION_ENGINE = FAILING_SESSIONS  # the database goes away after the commit
    browser = same_browser(client_a)
    refused = session_faults.SessionStore.saves_refused

    response = browser.post(check_url, {"confirm": "1"})

    assert session_faults.SessionStore.saves_refused > refused
    form = ConsentForm.objects.get(submitted_at__isnull=False)
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:confirmation", args=[form.pk])
    assert_confirmation(browser.get(response["Location"]), form)
    # A second submit (the back button, a retried request) shows the same page.
    assert_confirmation(browser.post(check_url, {"confirm": "1"}, follow=True), form)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert_confirmation(same_browser(client_a).post(check_url, {"confirm": "1"}, follow=True), form)
    assert ConsentForm.objects.filter(submitted_at__isnull=False).count() == 1
    assert OutboundMessage.objects.count() == 1
    assert EmailLedger.objects.filter(key=f"consent-confirmation:{form.pk}").count() == 1
