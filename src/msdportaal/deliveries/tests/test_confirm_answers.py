"""A confirm that committed always shows its confirmation page, whatever fails afterwards.

Found during a PostgreSQL restart: the confirm committed, then saving the session failed,
and the gemeente got "Bad Request (400)" instead of its reference.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, restore_reference_data
from msdportaal.deliveries.models import Delivery, UploadBatch
from msdportaal.notifications.models import EmailLedger

from . import session_faults
from .factories import CURRENT, csv_file
from .test_upload import upload

FAILING_SESSIONS = "msdportaal.deliveries.tests.session_faults"


def staged(client: Client) -> str:
    response = upload(client, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert response.status_code == 302
    return response["Location"]


def same_browser(client: Client) -> Client:
    """A new client with *client*'s cookies: its middleware reads today's settings."""
    other = Client()
    other.cookies = client.cookies
    return other


def assert_confirmation(response: Any, delivery: Delivery) -> None:
    page = response.content.decode()
    assert response.status_code == 200, page[:2000]
    assert "Aanlevering ontvangen" in page
    assert delivery.reference in page


@pytest.mark.django_db
def test_a_confirm_whose_session_cannot_be_saved_still_shows_the_reference(
    client_a: Client, settings: Any
) -> None:
    # With a refused file beside it, so that the confirm writes the session (it drops the
    # refusals it kept for the check page); without one a confirm writes no session.
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"), csv_file("fout.csv"))
    assert response.status_code == 302
    check_url = response["Location"]
    settings.SESSION_ENGINE = FAILING_SESSIONS  # the database goes away after the commit
    browser = same_browser(client_a)
    refused = session_faults.SessionStore.saves_refused

    response = browser.post(check_url, {"confirm": "1"})

    assert session_faults.SessionStore.saves_refused > refused  # the save did fail
    (delivery,) = Delivery.objects.all()
    assert response.status_code == 302
    assert response["Location"] == f"/aanleveren/{delivery.batch_id}/bevestiging/"
    assert "sessionid" not in response.cookies  # no cookie for a session that was not saved
    # The confirmation page comes from the database alone, also while saves still fail.
    assert_confirmation(browser.get(response["Location"]), delivery)
    # And once the database is back, the same session goes on as before.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert_confirmation(same_browser(client_a).get(response["Location"]), delivery)


@pytest.mark.django_db
def test_other_pages_keep_djangos_answer_when_the_session_cannot_be_saved(
    client_a: Client, settings: Any
) -> None:
    """Only what has committed is answered regardless; the upload page is not pretending."""
    settings.SESSION_ENGINE = FAILING_SESSIONS
    assert same_browser(client_a).get("/aanleveren/").status_code == 400


@pytest.mark.django_db
def test_a_double_submit_shows_the_same_confirmation(client_a: Client, settings: Any) -> None:
    check_url = staged(client_a)
    first = client_a.post(check_url, {"confirm": "1"}, follow=True)
    again = client_a.post(check_url, {"confirm": "1"}, follow=True)  # double click, back
    settings.SESSION_ENGINE = FAILING_SESSIONS
    retried = same_browser(client_a).post(check_url, {"confirm": "1"}, follow=True)
    (delivery,) = Delivery.objects.all()
    for response in (first, again, retried):
        assert_confirmation(response, delivery)
    assert EmailLedger.objects.filter(key=f"receipt:{delivery.batch_id}").count() == 1


@pytest.fixture
def committed_reference_data(transactional_db: None) -> None:
    """The gemeenten and sets, committed: an earlier transactional test may have flushed them."""
    restore_reference_data()


@pytest.mark.django_db(transaction=True)
def test_two_confirms_at_once_make_one_delivery_and_the_same_page(
    committed_reference_data: None, live_server: Any, user_a: Any
) -> None:
    """Two tabs (or a double click that reached two web workers) confirm at the same moment."""
    import requests

    client = Client()
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    check_url = staged(client)
    session = {"sessionid": client.cookies["sessionid"].value}

    def confirm() -> requests.Response:
        with requests.Session() as http:
            http.cookies.update(session)
            token = http.get(f"{live_server.url}{check_url}", timeout=30).cookies.get(
                "csrftoken"
            ) or http.cookies.get("csrftoken")
            return http.post(
                f"{live_server.url}{check_url}",
                data={"confirm": "1", "csrfmiddlewaretoken": token},
                timeout=60,
            )

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: confirm(), range(2)))
    (delivery,) = Delivery.objects.all()
    for answer in answers:
        assert answer.status_code == 200, answer.text[:2000]
        assert answer.url.endswith(f"/aanleveren/{delivery.batch_id}/bevestiging/")
        assert delivery.reference in answer.text
    assert UploadBatch.objects.get().confirmed_at is not None
    assert EmailLedger.objects.filter(key=f"receipt:{delivery.batch_id}").count() == 1
