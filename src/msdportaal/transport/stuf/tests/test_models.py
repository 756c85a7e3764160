"""Field validation of the outbound message value objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from msdportaal.transport.stuf import (
    Systeem,
    WsAddressing,
    format_tijdstip,
    new_message_id,
    new_referentienummer,
)

from .helpers import di01, du01


def test_defaults_address_cbs_ggk() -> None:
    message = di01()
    assert message.ontvanger == Systeem(organisatie="CBS", applicatie="GGk")
    assert message.zender.administratie == "Gemeente Amsterdam"
    assert message.berichtcode == "Di01"


def test_messages_are_frozen() -> None:
    message = di01()
    with pytest.raises(AttributeError):
        message.functie = "X"  # type: ignore[misc]


@pytest.mark.parametrize(
    "name",
    ["a.csv", "A-b_c.9.zip", "x" * 255, "20270115-093512-001.zip", "_x"],
)
def test_valid_bestandsnaam(name: str) -> None:
    assert di01(bestandsnaam=name).bestandsnaam == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 256, "met spatie.csv", "café.csv", "dir/file.csv", "..", "a\\b", "a:b", "a\n"],
)
def test_invalid_bestandsnaam(name: str) -> None:
    with pytest.raises(ValueError, match="bestandsnaam"):
        di01(bestandsnaam=name)


@pytest.mark.parametrize(
    "value",
    [
        "9c0f7b90-5c69-11e5-a837-0800200c9a66",  # v1 (the official example)
        "0B6F7C0E-3F0A-4A8E-9D1C-2A4B6C8D0E1F",  # not canonical lower case
        "0b6f7c0e3f0a4a8e9d1c2a4b6c8d0e1f",  # no hyphens
        "20270115-093512-001",
        "",
    ],
)
def test_referentienummer_must_be_uuid4(value: str) -> None:
    with pytest.raises(ValueError, match="referentienummer"):
        di01(referentienummer=value)


def test_new_referentienummer_is_accepted() -> None:
    assert di01(referentienummer=new_referentienummer())
    assert new_message_id().startswith("urn:uuid:")


@pytest.mark.parametrize(
    "value", ["20270115093512", "202701150935121234", "20271315093512123", "2027011509351212x"]
)
def test_tijdstip_must_be_17_digit_moment(value: str) -> None:
    with pytest.raises(ValueError, match="tijdstip_bericht"):
        di01(tijdstip_bericht=value)


@pytest.mark.parametrize("field", ["applicatie_versie", "functie_subversie"])
@pytest.mark.parametrize("value", ["1", "00001", "00a1", ""])
def test_versions_are_four_digits(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        di01(**{field: value})


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"zender_applicatie": "AB"}, "zender_applicatie"),
        ({"zender_applicatie": "x" * 51}, "zender_applicatie"),
        ({"zender_organisatie": ""}, "zender_organisatie"),
        ({"zender_administratie": "x" * 51}, "zender_administratie"),
        ({"zender_administratie": "tab\there"}, "control"),
        ({"functie": "F" * 31}, "functie"),
        ({"functie": " MSD"}, "whitespace"),
        ({"referentienummer_bericht": "x" * 41}, "referentienummer_bericht"),
        ({"content_type": "csv"}, "content_type"),
        ({"content_type": "text/csv\r\nX: y"}, "content_type"),
    ],
)
def test_other_field_limits(overrides: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        di01(**overrides)


def test_content_type_with_parameter_is_allowed() -> None:
    assert di01(content_type="text/csv; charset=utf-8").content_type.startswith("text/csv")


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError):
        di01(applicatie_versie=1)


def test_du01_requires_uuid4_cross_refnummer() -> None:
    assert du01().cross_refnummer
    with pytest.raises(ValueError, match="cross_refnummer"):
        du01(cross_refnummer="20270115-093512-001")


def test_format_tijdstip_uses_amsterdam_time() -> None:
    winter = datetime(2027, 1, 15, 8, 35, 12, 123456, tzinfo=UTC)
    summer = datetime(2027, 7, 1, 22, 0, 0, tzinfo=timezone(timedelta(hours=-2)))
    assert format_tijdstip(winter) == "20270115093512123"
    assert format_tijdstip(summer) == "20270702020000000"
    assert di01(tijdstip_bericht=format_tijdstip(winter))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_tijdstip(datetime(2027, 1, 1))


def test_ws_addressing_fields() -> None:
    addressing = WsAddressing(to="https://x.example", from_address="https://y.example")
    assert addressing.message_id.startswith("urn:uuid:")
    assert addressing != WsAddressing(to="https://x.example", from_address="https://y.example")
    with pytest.raises(ValueError, match="control"):
        WsAddressing(to="https://x.example\n")
