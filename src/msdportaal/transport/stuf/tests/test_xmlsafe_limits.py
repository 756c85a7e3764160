"""Structural limits of :func:`safe_fromstring`: hostile shapes are refused in linear time.

Before these limits one element with 40 000 attributes took 12 s and 200 000 froze the
web process for minutes (lxml's TreeBuilder adds attributes in O(n²)). Every test
asserts a wall-clock bound far above what linear parsing needs, so a quadratic path
coming back fails here rather than in production.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import pytest
from django.test import Client

from msdportaal.reports.models import Report
from msdportaal.reports.tests.helpers import cert_headers, di01
from msdportaal.transport.models import ReceivedMessage, TrustedClient
from msdportaal.transport.stuf import InvalidXmlError, MalformedMessageError, parse_inbound
from msdportaal.transport.stuf.xmlsafe import (
    MAX_ATTRIBUTES_PER_ELEMENT,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_NAMESPACES_PER_ELEMENT,
    MAX_TAG_BYTES,
    safe_fromstring,
)

from .helpers import BILLION_LAUGHS

#: Generous: linear parsing of these documents takes well under 0.2 s even on a busy CI.
TIME_BOUND_SECONDS: Final = 2.0


def attributes(n: int) -> str:
    return " ".join(f'a{i}="x"' for i in range(n))


def namespaces(n: int, *, used: bool = False) -> str:
    return " ".join(f'xmlns:p{i}="urn:x:{i}"' + (f' p{i}:a="x"' if used else "") for i in range(n))


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def refused_quickly(data: bytes, match: str) -> None:
    def parse() -> None:
        with pytest.raises(InvalidXmlError, match=match):
            safe_fromstring(data)

    elapsed = timed(parse)
    assert elapsed < TIME_BOUND_SECONDS, f"refusal took {elapsed:.2f} s"


def test_many_attributes_on_one_element_are_refused_quickly() -> None:
    refused_quickly(f"<r {attributes(40_000)}/>".encode(), "too many attributes on one element")


def test_a_start_tag_with_200k_attributes_is_refused_before_it_is_built() -> None:
    data = f"<r {attributes(200_000)}/>".encode()
    assert len(data) > MAX_TAG_BYTES
    refused_quickly(data, "a tag is larger than")


def test_many_namespace_declarations_on_one_element_are_refused_quickly() -> None:
    refused_quickly(
        f"<r {namespaces(20_000)}/>".encode(), "too many namespace declarations on one element"
    )


def test_many_namespaced_attributes_are_refused_quickly() -> None:
    refused_quickly(f"<r {namespaces(20_000, used=True)}/>".encode(), "too many")


def test_many_namespace_declarations_in_total_are_refused_quickly() -> None:
    body = "".join(f'<e xmlns:p="urn:x:{i}" p:a="x"/>' for i in range(5_000))
    refused_quickly(f"<r>{body}</r>".encode(), r"too many namespace declarations \(more than")


def test_many_elements_with_a_few_attributes_each_are_refused_quickly() -> None:
    body = '<e a="1" b="2" c="3"/>' * 200_000
    refused_quickly(f"<r>{body}</r>".encode(), r"too many attributes \(more than")


def test_many_elements_are_refused_quickly() -> None:
    refused_quickly(b"<r>" + b"<e/>" * 2_000_000 + b"</r>", "too many elements")


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 1
    refused_quickly(b"<e>" * depth + b"</e>" * depth, "nested too deeply")


def test_a_44_mb_start_tag_is_refused_quickly() -> None:
    # Never completed, so the repeated name does not matter: refused after ~1 MB.
    refused_quickly(b"<r " + b'a="x" ' * 7_500_000, "a tag is larger than")


def test_cdata_and_comments_over_the_tag_limit_are_still_parsed() -> None:
    cdata = "Q" * (MAX_TAG_BYTES * 3)
    root = safe_fromstring(f"<r><!-- {'x' * MAX_TAG_BYTES * 2} --><![CDATA[{cdata}]]></r>".encode())
    assert root.text == cdata


def test_a_document_at_the_limits_is_parsed_quickly() -> None:
    one = f"<e {attributes(MAX_ATTRIBUTES_PER_ELEMENT)}/>"
    many = f"<e {namespaces(MAX_NAMESPACES_PER_ELEMENT, used=True)}/>"
    nested = "<n>" * (MAX_DEPTH - 2) + "</n>" * (MAX_DEPTH - 2)
    data = f"<r>{one * 150}{many * 10}{nested}</r>".encode()

    root = None

    def parse() -> None:
        nonlocal root
        root = safe_fromstring(data)

    assert timed(parse) < TIME_BOUND_SECONDS
    assert root is not None
    assert len(root[0].attrib) == MAX_ATTRIBUTES_PER_ELEMENT
    assert len(root[150].attrib) == MAX_NAMESPACES_PER_ELEMENT
    assert sum(1 for _ in root.iter()) < MAX_ELEMENTS


def test_large_text_is_still_parsed_quickly() -> None:
    # The base64 of a maximal Di01 is one text node over libxml2's 10 MB limit.
    payload = "QUJD" * 7_000_000
    root = None

    def parse() -> None:
        nonlocal root
        root = safe_fromstring(f"<r>{payload}</r>".encode())

    assert timed(parse) < TIME_BOUND_SECONDS * 2
    assert root is not None
    assert root.text == payload


def test_doctype_is_still_refused_first() -> None:
    with pytest.raises(InvalidXmlError, match="DOCTYPE"):
        safe_fromstring(BILLION_LAUGHS)


def test_parse_inbound_refuses_many_attributes_as_malformed() -> None:
    body, _ = di01("0363")
    hostile = body.replace(
        b"<soapenv:Envelope ", f"<soapenv:Envelope {attributes(200_000)} ".encode(), 1
    )
    with pytest.raises(MalformedMessageError, match="a tag is larger than"):
        parse_inbound(hostile)


# ----------------------------------------------------------------------------- endpoint


@pytest.fixture
def rinis(dev_certs, settings) -> dict[str, str]:
    from rinis_simulator.devcerts import RINIS_OIN

    settings.MSD_TRUST_CLIENT_CERT_HEADERS = True
    TrustedClient.objects.create(name="RINIS", oin=RINIS_OIN)
    return cert_headers(dev_certs)


def _post(body: bytes, action: str, headers: dict[str, str]):
    return Client().generic(
        "POST",
        "/rinis/ggk/",
        body,
        content_type="text/xml; charset=utf-8",
        HTTP_SOAPACTION=f'"{action}"',
        **headers,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [attributes(40_000), attributes(200_000), namespaces(20_000)],
    ids=["40k-attributes", "200k-attributes", "20k-namespaces"],
)
def test_endpoint_answers_fo03_quickly_and_stays_responsive(rinis, extra: str) -> None:
    body, action = di01("0363")
    hostile = body.replace(b"<soapenv:Envelope ", f"<soapenv:Envelope {extra} ".encode(), 1)
    assert hostile != body

    start = time.perf_counter()
    response = _post(hostile, action, rinis)
    elapsed = time.perf_counter() - start

    assert response.status_code == 500
    assert b"Fo03Bericht" in response.content
    assert b"StUF055" in response.content
    assert elapsed < TIME_BOUND_SECONDS, f"endpoint took {elapsed:.2f} s"
    assert not Report.objects.exists()
    assert not ReceivedMessage.objects.exists()
    # The same worker answers a normal message right after.
    assert _post(body, action, rinis).status_code == 200
