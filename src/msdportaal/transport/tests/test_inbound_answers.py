"""The inbound endpoint answers every request in StUF: Bv03, or a Fo03 RINIS can act on.

Issue 18: a wrong Content-Type or a missing SOAPAction is refused (plek=client).
Issue 15: any failure inside the endpoint (the database away) is a Fo03 StUF046
plek=server with HTTP 500, never an HTML page, so RINIS retries. StUF 03.01 §4.4.3: the
Fo03's zender and ontvanger are those of the refused message, swapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

from msdportaal.reports.models import Report
from msdportaal.reports.tests.helpers import cert_headers, di01
from msdportaal.transport.models import ReceivedMessage, TrustedClient
from msdportaal.transport.stuf import Fo03, Systeem, parse_answer

pytestmark = pytest.mark.django_db
INBOUND = "/rinis/ggk/"
SOAP_11 = "text/xml; charset=utf-8"


@pytest.fixture
def rinis(dev_certs: Any, settings: Any) -> dict[str, str]:
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.get_or_create(oin=RINIS_OIN, defaults={"name": "RINIS"})
    return cert_headers(dev_certs)


def post(
    rinis: dict[str, str],
    body: bytes,
    *,
    content_type: str = SOAP_11,
    soap_action: str | None = None,
) -> Any:
    extra = {} if soap_action is None else {"HTTP_SOAPACTION": soap_action}
    return Client().generic("POST", INBOUND, body, content_type=content_type, **extra, **rinis)


def fo03(response: Any) -> Fo03:
    assert response.status_code == 500, response.content[:500]
    assert response["Content-Type"].startswith("text/xml")
    assert b"<html" not in response.content.lower()
    answer = parse_answer(response.status_code, response["Content-Type"], response.content)
    assert isinstance(answer, Fo03), answer
    return answer


def referentienummer(body: bytes) -> str:
    start = body.index(b"<StUF:referentienummer>") + len(b"<StUF:referentienummer>")
    return body[start : body.index(b"</StUF:referentienummer>", start)].decode()


def nothing_stored() -> bool:
    return not Report.objects.exists() and not ReceivedMessage.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/soap+xml; charset=utf-8",  # SOAP 1.2
        "application/json",
        "text/plain; charset=utf-8",
        "text/xml; charset=iso-8859-1",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_wrong_content_type_is_refused_stuf055_client(rinis, content_type: str) -> None:
    body, action = di01("0363")
    answer = fo03(post(rinis, body, content_type=content_type, soap_action=f'"{action}"'))
    assert (answer.code, answer.plek) == ("StUF055", "client")
    assert "text/xml" in answer.omschrijving
    # Addressed to the refused message: zender and ontvanger swapped, crossRefnummer set.
    assert answer.zender == Systeem(organisatie="0363", applicatie="MSDPortaal")
    assert answer.ontvanger == Systeem(organisatie="CBS", applicatie="GGk")
    assert answer.cross_refnummer == referentienummer(body)
    assert nothing_stored()


@pytest.mark.parametrize("content_type", ["text/xml", "TEXT/XML; Charset=UTF-8"])
def test_text_xml_in_any_spelling_is_accepted(rinis, content_type: str) -> None:
    body, action = di01("0363")
    response = post(rinis, body, content_type=content_type, soap_action=f'"{action}"')
    assert response.status_code == 200, response.content.decode()
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "soap_action",
    [None, '""', '"http://www.egem.nl/StUF/StUF0301/Bv03"', "urn:iets-anders"],
    ids=["missing", "empty", "another-operation", "unknown"],
)
def test_a_missing_or_wrong_soapaction_is_refused_stuf022_client(
    rinis, soap_action: str | None
) -> None:
    body, _action = di01("0363")
    answer = fo03(post(rinis, body, soap_action=soap_action))
    assert (answer.code, answer.plek) == ("StUF022", "client")
    assert "SOAPAction" in answer.omschrijving
    assert answer.zender == Systeem(organisatie="0363", applicatie="MSDPortaal")
    assert answer.ontvanger == Systeem(organisatie="CBS", applicatie="GGk")
    assert nothing_stored()


def test_the_soapaction_without_quotes_is_accepted(rinis) -> None:
    body, action = di01("0363")
    assert post(rinis, body, soap_action=action).status_code == 200
    assert Report.objects.count() == 1


def test_an_unknown_gemeente_is_answered_in_its_own_name(rinis) -> None:
    body, action = di01("0363")
    body = body.replace(b"<StUF:organisatie>0363<", b"<StUF:organisatie>9998<")
    answer = fo03(post(rinis, body, soap_action=f'"{action}"'))
    assert (answer.code, answer.plek) == ("StUF010", "client")
    assert answer.zender == Systeem(organisatie="9998", applicatie="MSDPortaal")
    assert answer.ontvanger == Systeem(organisatie="CBS", applicatie="GGk")
    assert answer.cross_refnummer == referentienummer(body)


def test_an_unreadable_message_is_answered_in_our_own_name(rinis) -> None:
    answer = fo03(post(rinis, b"dit is geen xml", soap_action='"x"'))
    assert (answer.code, answer.plek) == ("StUF055", "client")
    assert answer.zender == Systeem(organisatie="IB", applicatie="MSDPortaal")


def _failing(when: Callable[[str], bool]) -> Callable[..., Any]:
    """A database that is gone, as the driver reports it, for the statements *when* picks."""

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if when(sql):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, *args)

    return wrapper


def test_the_database_away_from_the_start_is_a_server_fo03_not_html(rinis) -> None:
    body, action = di01("0363")
    with connection.execute_wrapper(_failing(lambda sql: True)):
        answer = fo03(post(rinis, body, soap_action=f'"{action}"'))
    assert (answer.code, answer.plek) == ("StUF046", "server")
    assert answer.retryable
    assert answer.zender == Systeem(organisatie="IB", applicatie="MSDPortaal")
    assert nothing_stored()


def test_the_database_going_away_while_storing_is_a_server_fo03_and_stores_nothing(
    rinis,
) -> None:
    body, action = di01("0363")
    with connection.execute_wrapper(
        _failing(lambda sql: sql.lstrip().upper().startswith("INSERT"))
    ):
        answer = fo03(post(rinis, body, soap_action=f'"{action}"'))
    assert (answer.code, answer.plek) == ("StUF046", "server")
    assert answer.zender == Systeem(organisatie="0363", applicatie="MSDPortaal")
    assert answer.ontvanger == Systeem(organisatie="CBS", applicatie="GGk")
    assert answer.cross_refnummer == referentienummer(body)
    assert nothing_stored()
    # RINIS retries and, with the database back, the same message is stored once.
    response = post(rinis, body, soap_action=f'"{action}"')
    assert response.status_code == 200, response.content.decode()
    assert Report.objects.count() == 1


def test_the_database_away_while_looking_up_the_gemeente_is_a_server_fo03(rinis) -> None:
    body, action = di01("0363")
    with connection.execute_wrapper(
        _failing(lambda sql: "organisations_municipality" in sql and "trusted" not in sql)
    ):
        answer = fo03(post(rinis, body, soap_action=f'"{action}"'))
    assert (answer.code, answer.plek) == ("StUF046", "server")
    assert answer.zender == Systeem(organisatie="0363", applicatie="MSDPortaal")
    assert nothing_stored()
