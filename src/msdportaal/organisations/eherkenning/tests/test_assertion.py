"""Reading an eHerkenning assertion (as python3-saml hands it over) and the levels."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning

from msdportaal.organisations.eherkenning.assertion import (
    IncompleteAssertionError,
    loa_at_least,
    loa_label,
    parse_loa,
    read_login,
)
from msdportaal.organisations.eherkenning.checks import check_eherkenning_settings


def name_id(qualifier: str, value: str) -> dict:
    return {"NameID": {"Format": None, "NameQualifier": qualifier, "value": value}}


KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"
ACTING = {"urn:etoegang:core:ActingSubjectID": [name_id("urn:etoegang:EJ:x:entities:1", "p-1")]}
LOA3 = ["urn:etoegang:core:assurance-class:loa3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("urn:etoegang:core:assurance-class:loa3", "loa3"),
        ("loa2plus", "loa2plus"),
        ("EH2+", "loa2plus"),
        (" eh4 ", "loa4"),
        ("loa5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_loa(value, expected):
    assert parse_loa(value) == expected


def test_levels_are_ordered():
    assert loa_at_least("loa4", "loa3")
    assert loa_at_least("loa3", "loa3")
    assert not loa_at_least("loa2plus", "loa3")
    assert not loa_at_least(None, "loa2")
    assert loa_label("loa2plus") == "EH2+"


def test_legal_subject_with_kvk_and_rsin():
    login = read_login(
        {
            **ACTING,
            "urn:etoegang:core:LegalSubjectID": [
                name_id(KVK, "12345678"),
                name_id(RSIN, "002220647"),
            ],
        },
        authn_contexts=LOA3,
    )
    assert (login.acting_subject_id, login.kvk_number, login.rsin) == (
        "p-1",
        "12345678",
        "002220647",
    )
    assert login.loa == "loa3"
    assert not login.has_intermediary


def test_kvk_number_in_the_pre_1_13_attribute():
    login = read_login({**ACTING, KVK: ["12345678"]}, authn_contexts=LOA3)
    assert login.kvk_number == "12345678"


def test_intermediary_as_identifier_in_another_attribute():
    login = read_login(
        {
            **ACTING,
            "urn:etoegang:core:LegalSubjectID": [name_id(KVK, "12345678")],
            "urn:etoegang:core:IntermediateSubjectID": [
                name_id("urn:etoegang:1.9:IntermediateEntityID:KvKnr", "87654321")
            ],
            "urn:etoegang:1.13:attribute-intermediate:CompanyName": ["Leverancier B.V."],
        },
        authn_contexts=LOA3,
    )
    assert login.intermediary_display == "Leverancier B.V. (KvK 87654321)"


def test_intermediary_as_plain_attribute():
    login = read_login(
        {
            **ACTING,
            "urn:etoegang:core:LegalSubjectID": [name_id(KVK, "12345678")],
            "urn:etoegang:1.9:IntermediateEntityID:KvKnr": ["87654321"],
        },
        authn_contexts=LOA3,
    )
    assert login.intermediary_display == "KvK 87654321"


def test_two_different_kvk_numbers_are_refused():
    with pytest.raises(IncompleteAssertionError, match="more than one KvK number"):
        read_login(
            {
                **ACTING,
                "urn:etoegang:core:LegalSubjectID": [name_id(KVK, "12345678"), name_id(KVK, "1")],
            }
        )


def test_no_legal_subject_is_refused():
    with pytest.raises(IncompleteAssertionError, match="no LegalSubjectID"):
        read_login(ACTING, authn_contexts=LOA3)


def test_no_acting_subject_is_refused_and_a_transient_subject_does_not_count():
    attributes = {"urn:etoegang:core:LegalSubjectID": [name_id(KVK, "12345678")]}
    transient = {"Value": "abc", "Format": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"}
    with pytest.raises(IncompleteAssertionError, match="no ActingSubjectID"):
        read_login(attributes, subject_name_id=transient)
    persistent = {"Value": "abc", "Format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}
    assert read_login(attributes, subject_name_id=persistent).acting_subject_id == "abc"


def test_unknown_level_is_kept_for_the_message():
    login = read_login(
        {**ACTING, KVK: ["12345678"]}, authn_contexts=["urn:oasis:names:tc:SAML:2.0:ac:classes:X"]
    )
    assert login.loa is None
    assert login.loa_reported == "urn:oasis:names:tc:SAML:2.0:ac:classes:X"


def test_settings_check(settings):
    settings.MSD_EHERKENNING_MIN_LOA = "loa3"
    assert check_eherkenning_settings() == []
    settings.MSD_EHERKENNING_MIN_LOA = "loa2plus"
    assert [type(p) for p in check_eherkenning_settings()] == [Warning]
    settings.MSD_EHERKENNING_MIN_LOA = "EH9"
    assert [type(p) for p in check_eherkenning_settings()] == [Error]
