"""The idle timeout holds, with at most one session write a minute (core/sessions.py)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db
OVERVIEW = "/overzicht/"


def _session_writes(client: Client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(OVERVIEW)
    writes = sum(
        1
        for q in queries.captured_queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    )
    return response.status_code, writes


def test_pages_within_a_minute_do_not_write_the_session(client_a: Client, fixed_today):
    assert _session_writes(client_a) == (200, 1)  # the first page refreshes it
    for _ in range(3):
        fixed_today.shift(datetime.timedelta(seconds=15))
        assert _session_writes(client_a) == (200, 0)
    fixed_today.shift(datetime.timedelta(seconds=20))  # a minute after the refresh
    assert _session_writes(client_a) == (200, 1)


def test_a_user_stays_logged_in_for_the_idle_timeout_after_the_last_page(
    client_a: Client, fixed_today, settings
):
    assert client_a.get(OVERVIEW).status_code == 200  # refreshed now
    fixed_today.shift(datetime.timedelta(seconds=50))
    assert _session_writes(client_a) == (200, 0)  # not refreshed: the last page is later
    fixed_today.shift(datetime.timedelta(minutes=settings.SESSION_IDLE_TIMEOUT_MINUTES))
    assert client_a.get(OVERVIEW).status_code == 200  # 15 minutes after that page: still in


def test_a_session_idle_past_the_timeout_is_logged_out(client_a: Client, fixed_today, settings):
    assert client_a.get(OVERVIEW).status_code == 200
    idle = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + settings.MSD_SESSION_REFRESH_SECONDS
    fixed_today.shift(datetime.timedelta(seconds=idle + 1))
    response = client_a.get(OVERVIEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/inloggen/")


def test_ingelogd_blijven_always_writes_the_session(client_a: Client, fixed_today, settings):
    assert client_a.get(OVERVIEW).status_code == 200
    fixed_today.shift(datetime.timedelta(seconds=10))
    with CaptureQueriesContext(connection) as queries:
        assert client_a.post("/sessie/verlengen/").status_code == 204
    assert any("UPDATE" in q["sql"] and "django_session" in q["sql"] for q in queries)
    page = client_a.get(OVERVIEW).content.decode()
    # The page's countdown is the idle timeout, never longer than the server keeps the session.
    assert f'data-timeout-seconds="{settings.SESSION_IDLE_TIMEOUT_MINUTES * 60}"' in page
