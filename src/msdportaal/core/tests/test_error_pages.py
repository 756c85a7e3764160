"""The Dutch error pages (400, 403, 404, 500, 503) with DEBUG off, and the calm 503 while
the database is really unreachable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user, restore_reference_data
from msdportaal.organisations.models import Municipality, User

ERROR_URLS = "msdportaal.core.tests.error_urls"


@contextmanager
def database_unreachable() -> Iterator[None]:
    """Points the real connection somewhere nothing answers: a SQLite file in a folder that
    does not exist, a PostgreSQL port nothing listens on. Every thread's connection shares
    this settings dict, so a live server is cut off as well."""
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-msd-folder/db.sqlite3"
    else:
        settings_dict["HOST"] = "127.0.0.1"
        settings_dict["PORT"] = "1"
        settings_dict.setdefault("OPTIONS", {})
        settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], "connect_timeout": 2}
    try:
        yield
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(saved)


def title(response) -> str:
    match = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
    assert match, "page has no title"
    return match.group(1).strip()


def assert_portal_layout(response) -> None:
    html = response.content.decode()
    assert 'lang="nl"' in html
    assert "utrecht-component-library.css" in html
    assert 'class="msd-header' in html
    assert "Direct naar de inhoud" in html
    assert "Traceback" not in html
    assert "<style" not in html
    assert "style=" not in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_404_is_dutch_in_the_portal_layout(client: Client) -> None:
    response = client.get("/bestaat-niet/")
    assert response.status_code == 404
    assert title(response) == "Pagina niet gevonden — MSD Portaal"
    assert_portal_layout(response)
    assert "controleer dan of het klopt" in response.content.decode()
    assert "Neem contact op met het Inlichtingenbureau" in response.content.decode()


@pytest.mark.django_db
def test_404_for_a_logged_in_user_keeps_the_navigation(client_a: Client) -> None:
    response = client_a.get("/bestaat-niet/")
    assert response.status_code == 404
    html = response.content.decode()
    assert title(response) == "Pagina niet gevonden — MSD Portaal"
    assert 'aria-label="Hoofdmenu"' in html
    assert "Uitloggen" in html


@pytest.mark.django_db
def test_403_is_dutch_in_the_portal_layout(client: Client) -> None:
    # IB staff never see municipal pages: the portal refuses them with a 403.
    staff = User.objects.create(username="ib-beheerder", is_staff=True)
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/overzicht/")
    assert response.status_code == 403
    assert title(response) == "Geen toegang tot deze pagina — MSD Portaal"
    assert_portal_layout(response)
    assert "log opnieuw in" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.urls(ERROR_URLS)
def test_a_failing_view_gives_the_dutch_500(settings) -> None:
    settings.MSD_SUPPORT_EMAIL = "servicedesk@example.org"
    client = Client(raise_request_exception=False)
    response = client.get("/test-fout/")
    assert response.status_code == 500
    assert title(response) == "Er is een probleem met de dienst — MSD Portaal"
    assert_portal_layout(response)
    html = response.content.decode()
    assert "Probeer het later opnieuw" in html
    assert 'href="mailto:servicedesk@example.org"' in html
    # The request id, so the servicedesk finds the log lines.
    assert response["X-Request-ID"] in html
    assert "een fout in de code" not in html


def test_a_broken_request_gives_the_dutch_400() -> None:
    # A Host header that is not allowed: Django refuses it before any view runs.
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="kwaadaardig.example")
    assert response.status_code == 400
    assert title(response) == "Het verzoek kon niet worden verwerkt — MSD Portaal"
    assert_portal_layout(response)


def assert_service_unavailable(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert title(response) == "De dienst is tijdelijk niet beschikbaar — MSD Portaal"
    assert_portal_layout(response)
    html = response.content.decode()
    assert "Probeer het over een paar minuten opnieuw" in html
    assert "OperationalError" not in html
    assert "unable to open" not in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(ERROR_URLS)
def test_database_away_in_a_view_gives_the_dutch_503() -> None:
    client = Client(raise_request_exception=False)
    with database_unreachable():
        response = client.get("/test-database/")
    assert_service_unavailable(response)
    # And once the database is back, the same page works again.
    assert client.get("/test-database/").content == b"ok"


@pytest.mark.django_db(transaction=True)
def test_database_away_while_loading_the_session_gives_the_dutch_503() -> None:
    restore_reference_data()
    user_a = make_municipal_user(Municipality.objects.get(code="0363"))
    client = Client(raise_request_exception=False)
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    with database_unreachable():
        # The session and the user come from the database: the middlewares fail first.
        overview = client.get("/overzicht/")
        not_found = client.get("/bestaat-niet/")
        login_page = client.get("/inloggen/")
    assert_service_unavailable(overview)
    assert_service_unavailable(not_found)
    assert_service_unavailable(login_page)
    assert client.get("/overzicht/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_database_away_in_the_admin_gives_the_dutch_503(settings) -> None:
    client = Client(raise_request_exception=False)
    with database_unreachable():
        response = client.get(f"/{settings.MSD_ADMIN_PATH}/login/")
    assert_service_unavailable(response)


@pytest.mark.django_db(transaction=True)
def test_machines_never_get_the_html_pages() -> None:
    client = Client(raise_request_exception=False)
    with database_unreachable():
        readiness = client.get("/gereed/")
        inbound = client.post("/rinis/ggk/", data=b"<x/>", content_type="text/xml")
    assert readiness.status_code == 503
    assert readiness["Content-Type"] == "application/json"
    assert "Retry-After" not in inbound
    assert "text/html" not in inbound["Content-Type"]
    assert b"De dienst is tijdelijk" not in inbound.content
