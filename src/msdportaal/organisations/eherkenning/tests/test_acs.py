"""The eHerkenning artifact flow end to end, with signed answers from a real test broker.

Only the network is local: our signed AuthnRequest goes to the test broker, the
ArtifactResolve goes over HTTPS with our SP certificate as client certificate, and the
broker answers a signed ArtifactResponse with a signed Assertion whose identifiers are
encrypted for us.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.organisations.models import Municipality, User

from .conftest import AMSTERDAM_KVK
from .idp import (
    AUTHN_FAILED,
    NO_AUTHN_CONTEXT,
    REQUEST_DENIED,
    RESPONDER,
    Scenario,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:onelogin.saml2.utils"),
]

PSEUDONYM = Scenario().acting_subject_id


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _logged_in_user(client: Client) -> User | None:
    from django.contrib.auth import get_user

    user = get_user(client)
    return user if user.is_authenticated else None


# --- success -----------------------------------------------------------------------------


def test_gemeente_with_registered_kvk_logs_in_and_sees_its_overview(
    client: Client, log_in_with, amsterdam_registered, eherkenning
):
    response = log_in_with(Scenario(branch_number="000012345678"))
    assert response.status_code == 302
    assert response["Location"] == reverse("overview:index")

    user = User.objects.get()
    assert user.identity_pseudonym == PSEUDONYM
    assert user.username == f"eherkenning:{PSEUDONYM}"
    assert list(user.municipalities.all()) == [amsterdam_registered]
    assert client.session["login_organisation"] == "Gemeente Amsterdam"
    assert client.session["login_intermediary"] == ""
    assert _logged_in_user(client) == user

    # First login: the profile comes first, then the overview of the right gemeente.
    profile = client.get(reverse("overview:index"))
    assert profile["Location"].startswith(reverse("organisations:profile"))
    client.post(
        reverse("organisations:profile"),
        {
            "first_name": "Fatima",
            "last_name": "de Vries",
            "email": "fatima@example.org",
            "phone": "020 123 45 67",
        },
    )
    overview = client.get(reverse("overview:index"))
    assert overview.status_code == 200
    assert "Overzicht Amsterdam" in overview.content.decode()

    # The audit trail shows how, for whom and at what level.
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN)
    assert entry.user == user
    assert entry.details["method"] == "eherkenning"
    assert entry.details["kvk_number"] == AMSTERDAM_KVK
    assert entry.details["vestigingsnummer"] == "000012345678"
    assert entry.details["loa"] == "EH3"
    assert entry.details["intermediary"] == ""

    # The ArtifactResolve went to the broker with our SP certificate (mutual TLS).
    (resolve,) = eherkenning.resolves
    subject = dict(part[0] for part in resolve["client_cert"]["subject"])
    assert subject["commonName"] == "MSD Portaal SP"


def test_a_login_works_with_the_key_pair_encrypted_in_the_bucket(
    private_s3, client: Client, log_in_with, amsterdam_registered
):
    """With MSD_S3_BUCKET the SP key pair is in the bucket, encrypted: the AuthnRequest is
    signed and the ArtifactResolve's mutual TLS done with the key decrypted in memory."""
    from simple_certmanager.models import Certificate

    certificate = Certificate.objects.get()
    raw = private_s3.client.get_object(
        Bucket=private_s3.name, Key=f"private/{certificate.private_key.name}"
    )["Body"].read()
    assert b"PRIVATE KEY" not in raw

    response = log_in_with(Scenario())
    assert response.status_code == 302
    assert response["Location"] == reverse("overview:index")
    assert _logged_in_user(client) is not None


def test_the_next_page_survives_the_round_trip(client: Client, log_in_with, amsterdam_registered):
    response = log_in_with(Scenario(), next_url="/aanleveringen/")
    assert response["Location"] == "/aanleveringen/"


def test_a_returning_person_is_the_same_user(client: Client, log_in_with, amsterdam_registered):
    log_in_with(Scenario())
    client.post(reverse("organisations:logout"))
    log_in_with(Scenario())
    assert User.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN).count() == 2


def test_level_above_the_minimum_is_accepted(client: Client, log_in_with, amsterdam_registered):
    response = log_in_with(Scenario(loa="urn:etoegang:core:assurance-class:loa4"))
    assert response.status_code == 302
    assert AuditEntry.objects.get(action=AuditAction.LOGIN).details["loa"] == "EH4"


def test_rsin_is_used_when_ib_registered_no_kvk_number(client: Client, log_in_with, municipality_b):
    municipality_b.rsin = "002220647"
    municipality_b.save()
    response = log_in_with(Scenario(kvk_number="87654321", rsin="002220647"))
    assert response.status_code == 302
    assert list(User.objects.get().municipalities.all()) == [municipality_b]


def test_kvk_number_wins_over_a_conflicting_rsin(
    client: Client, log_in_with, amsterdam_registered, municipality_b
):
    municipality_b.rsin = "002220647"
    municipality_b.save()
    log_in_with(Scenario(kvk_number=AMSTERDAM_KVK, rsin="002220647"))
    assert list(User.objects.get().municipalities.all()) == [amsterdam_registered]


def test_one_kvk_number_for_two_gemeenten_lets_the_user_choose(
    client: Client, log_in_with, amsterdam_registered, municipality_b
):
    municipality_b.kvk_number = AMSTERDAM_KVK
    municipality_b.save()
    log_in_with(Scenario(company_name="Werkorganisatie"))
    user = User.objects.get()
    assert set(user.municipalities.all()) == {amsterdam_registered, municipality_b}
    user.profile_completed_at = user.date_joined
    user.save()
    assert client.get(reverse("overview:index"))["Location"].startswith(
        reverse("organisations:choose")
    )


# --- intermediary (ketenmachtiging) ------------------------------------------------------


def test_intermediary_acts_for_the_represented_gemeente(
    client: Client, log_in_with, amsterdam_registered, municipality_b
):
    # The supplier's own KvK number happens to be registered for Utrecht: it must not count.
    municipality_b.kvk_number = "87654321"
    municipality_b.save()
    response = log_in_with(
        Scenario(
            acting_subject_id="supplier-employee-1",
            intermediary_kvk_number="87654321",
            intermediary_name="Softwareleverancier B.V.",
        )
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert list(user.municipalities.all()) == [amsterdam_registered]
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN)
    assert entry.details["intermediary"] == "Softwareleverancier B.V. (KvK 87654321)"
    assert entry.details["intermediary_kvk_number"] == "87654321"
    assert entry.details["organisation"] == "Gemeente Amsterdam"

    user.profile_completed_at = user.date_joined
    user.save()
    overview = client.get(reverse("overview:index")).content.decode()
    assert "Overzicht Amsterdam" in overview
    # The banner says through whom this login acts.
    assert "via Softwareleverancier B.V. (KvK 87654321)" in overview


def test_the_same_supplier_employee_logging_in_for_another_gemeente_switches(
    client: Client, log_in_with, amsterdam_registered, municipality_b
):
    """One login = one represented gemeente: the next login is for the next gemeente."""
    municipality_b.kvk_number = "30280353"
    municipality_b.save()
    supplier = {"acting_subject_id": "supplier-employee-1", "intermediary_kvk_number": "87654321"}
    log_in_with(Scenario(**supplier))
    client.post(reverse("organisations:logout"))
    log_in_with(Scenario(kvk_number="30280353", company_name="Gemeente Utrecht", **supplier))
    user = User.objects.get()
    user.profile_completed_at = user.date_joined
    user.save()
    page = client.get(reverse("overview:index")).content.decode()
    assert "Overzicht Utrecht" in page
    assert "Wissel van gemeente" not in page  # this login is for Utrecht only
    logins = AuditEntry.objects.filter(action=AuditAction.LOGIN).order_by("pk")
    assert [entry.details["gemeenten"] for entry in logins] == [["0363"], ["0344"]]


def test_two_eherkenning_logins_of_one_person_keep_their_own_gemeente(
    client: Client, log_in_with, amsterdam_registered, municipality_b
):
    """A supplier's employee logged in for Amsterdam in one browser and for Utrecht in
    another: each browser stays with its own gemeente."""
    municipality_b.kvk_number = "30280353"
    municipality_b.save()
    supplier = {"acting_subject_id": "supplier-employee-1", "intermediary_kvk_number": "87654321"}
    log_in_with(Scenario(**supplier))
    User.objects.update(profile_completed_at=timezone.now())
    assert "Overzicht Amsterdam" in client.get(reverse("overview:index")).content.decode()

    other_browser = Client()
    log_in_with(
        Scenario(kvk_number="30280353", company_name="Gemeente Utrecht", **supplier),
        using=other_browser,
    )
    assert User.objects.count() == 1
    assert "Overzicht Utrecht" in other_browser.get(reverse("overview:index")).content.decode()
    first = client.get(reverse("overview:index")).content.decode()
    assert "Overzicht Amsterdam" in first
    assert "U handelt namens: <strong>Amsterdam</strong>" in first


# --- refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loa", "shown"),
    [
        ("urn:etoegang:core:assurance-class:loa2plus", "EH2+"),
        ("urn:etoegang:core:assurance-class:loa2", "EH2"),
        ("urn:etoegang:core:assurance-class:unknown", "urn:etoegang:core:assurance-class:unknown"),
    ],
)
def test_too_low_a_level_is_refused_with_a_clear_page(
    client: Client, log_in_with, amsterdam_registered, loa, shown
):
    response = log_in_with(Scenario(loa=loa))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Uw eHerkenningsmiddel is niet betrouwbaar genoeg" in page
    assert "betrouwbaarheidsniveau EH3 of hoger" in page
    assert f"U logde in met niveau {shown}." in page
    assert _logged_in_user(client) is None
    assert not User.objects.exists()
    failed = AuditEntry.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.details["username"].startswith("eherkenning: niveau")


def test_the_minimum_level_is_a_setting(
    client: Client, log_in_with, amsterdam_registered, settings
):
    settings.MSD_EHERKENNING_MIN_LOA = "EH4"
    response = log_in_with(Scenario())
    assert response.status_code == 403
    assert "betrouwbaarheidsniveau EH4 of hoger" in response.content.decode()
    settings.MSD_EHERKENNING_MIN_LOA = "loa2plus"
    assert (
        log_in_with(Scenario(loa="urn:etoegang:core:assurance-class:loa2plus")).status_code == 302
    )


def test_broker_saying_the_level_cannot_be_met_shows_the_level_page(
    client: Client, log_in_with, amsterdam_registered
):
    response = log_in_with(Scenario(status=(RESPONDER, NO_AUTHN_CONTEXT)))
    assert response.status_code == 403
    assert "Uw eHerkenningsmiddel is niet betrouwbaar genoeg" in response.content.decode()


def test_unknown_organisation_gets_a_page_that_says_what_to_do(
    client: Client, log_in_with, amsterdam_registered
):
    response = log_in_with(
        Scenario(kvk_number="99887766", company_name="Gemeente Nergenshuizen", rsin="001234567")
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "Uw organisatie is nog niet bekend in MSD Portaal" in page
    assert "<strong>99887766</strong>" in page
    assert "Gemeente Nergenshuizen" in page
    assert "Vraag het Inlichtingenbureau om het KvK-nummer hierboven te registreren" in page
    assert "ketenmachtiging" not in page
    assert _logged_in_user(client) is None
    assert not User.objects.exists()
    failed = AuditEntry.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.details["username"] == (
        "eherkenning: onbekende organisatie KvK 99887766, RSIN 001234567"
    )


def test_unknown_represented_organisation_through_an_intermediary_explains_the_machtiging(
    client: Client, log_in_with, amsterdam_registered
):
    response = log_in_with(Scenario(kvk_number="99887766", intermediary_kvk_number=AMSTERDAM_KVK))
    assert response.status_code == 403
    page = response.content.decode()
    assert "U logde in met een ketenmachtiging" in page
    assert f"KvK {AMSTERDAM_KVK}" in page


def test_an_inactive_gemeente_cannot_be_logged_in_for(
    client: Client, log_in_with, amsterdam_registered
):
    Municipality.objects.filter(pk=amsterdam_registered.pk).update(inactive_from="2020-01-01")
    response = log_in_with(Scenario())
    assert response.status_code == 403
    assert "nog niet bekend" in response.content.decode()


def test_a_blocked_account_is_refused(client: Client, log_in_with, amsterdam_registered):
    User.objects.create(username="x", identity_pseudonym=PSEUDONYM, is_active=False)
    response = log_in_with(Scenario())
    assert response["Location"] == reverse("organisations:login")
    assert "niet inloggen bij MSD Portaal" in _messages(response)[0]
    assert _logged_in_user(client) is None


# --- cancelled ---------------------------------------------------------------------------


@pytest.mark.parametrize("second_level", [AUTHN_FAILED, REQUEST_DENIED])
def test_cancelled_login_goes_back_to_the_login_page_with_a_message(
    client: Client, log_in_with, amsterdam_registered, second_level
):
    response = log_in_with(Scenario(status=(RESPONDER, second_level)))
    assert response.status_code == 302
    assert response["Location"] == reverse("organisations:login")
    (message,) = _messages(response)
    assert message.startswith("U bent niet ingelogd: het inloggen met eHerkenning is afgebroken.")
    assert _logged_in_user(client) is None
    assert not User.objects.exists()
    # A cancel is not a failure worth an audit line.
    assert not AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).exists()

    login_page = client.get(response["Location"])
    assert "het inloggen met eHerkenning is afgebroken" in login_page.content.decode()


def test_an_assertion_without_an_organisation_is_a_technical_failure(
    client: Client, log_in_with, amsterdam_registered
):
    response = log_in_with(Scenario(kvk_number=None, rsin=None))
    assert response["Location"] == reverse("organisations:login")
    assert "technische fout" in _messages(response)[0]
    assert _logged_in_user(client) is None


def test_other_broker_errors_are_a_technical_failure(
    client: Client, log_in_with, amsterdam_registered
):
    response = log_in_with(Scenario(status=(RESPONDER,)))
    assert response["Location"] == reverse("organisations:login")
    assert "technische fout" in _messages(response)[0]


# --- what must never log anyone in ------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"assertion_signer": "stranger"},
        {"assertion_signer": None, "artifact_response_signer": None},
        {"artifact_response_signer": "stranger"},
    ],
    ids=["assertion-signed-by-stranger", "nothing-signed", "artifact-response-by-stranger"],
)
def test_answers_not_signed_by_the_broker_are_refused(
    client: Client, log_in_with, amsterdam_registered, forged
):
    response = log_in_with(Scenario(**forged))
    assert response["Location"] == reverse("organisations:login")
    assert "technische fout" in _messages(response)[0]
    assert _logged_in_user(client) is None
    assert not User.objects.exists()


def test_an_artifact_for_another_browsers_request_is_refused(
    client: Client, eherkenning, amsterdam_registered
):
    """Login CSRF: an attacker's artifact fed to a victim's browser does not log it in."""
    attacker = Client()
    start = attacker.get(reverse("eherkenning:login"))
    artifact = eherkenning.issue_artifact(start.context["saml_request"], Scenario())
    client.get(reverse("eherkenning:login"))  # the victim has a session of its own
    response = client.get(reverse("eherkenning:acs"), {"SAMLart": artifact})
    assert response["Location"] == reverse("organisations:login")
    assert _logged_in_user(client) is None


def test_an_authn_request_is_answered_once(client: Client, eherkenning, amsterdam_registered):
    start = client.get(reverse("eherkenning:login"))
    first = eherkenning.issue_artifact(start.context["saml_request"], Scenario())
    second = eherkenning.issue_artifact(start.context["saml_request"], Scenario())
    assert client.get(reverse("eherkenning:acs"), {"SAMLart": first}).status_code == 302
    client.post(reverse("organisations:logout"))
    response = client.get(reverse("eherkenning:acs"), {"SAMLart": second})
    assert response["Location"] == reverse("organisations:login")
    assert _logged_in_user(client) is None


def test_acs_without_an_artifact_goes_back_to_login(client: Client, eherkenning):
    response = client.get(reverse("eherkenning:acs"))
    assert response["Location"] == reverse("organisations:login")


def test_an_unreachable_broker_is_a_technical_failure(
    client: Client, log_in_with, amsterdam_registered, eherkenning, settings
):
    settings.MSD_EHERKENNING_CA_BUNDLE = "/nonexistent/ca.pem"
    response = log_in_with(Scenario())
    assert "technische fout" in _messages(response)[0]
    assert _logged_in_user(client) is None


def test_an_offsite_next_is_ignored(client: Client, log_in_with, amsterdam_registered):
    response = log_in_with(Scenario(), next_url="https://evil.example/")
    assert response["Location"] == reverse("overview:index")


# --- the login page, the start page, the metadata ---------------------------------------


def test_login_page_shows_the_button_only_when_configured(client: Client, db, broker):
    page = client.get(reverse("organisations:login")).content.decode()
    assert "Inloggen met eHerkenning</a>" not in page
    assert "nog niet ingericht" in page

    from .conftest import configure_eherkenning

    configure_eherkenning(broker, "https://msdportaal.example.nl")
    page = client.get(reverse("organisations:login"), {"next": "/aanleveringen/"}).content.decode()
    assert "Inloggen met eHerkenning</a>" in page
    assert 'href="/eherkenning/inloggen/?next=%2Faanleveringen%2F"' in page


def test_start_page_posts_the_signed_request_to_the_broker(client: Client, eherkenning):
    response = client.get(reverse("eherkenning:login"))
    page = response.content.decode()
    assert f'action="{eherkenning.sso_url}"' in page
    assert 'name="SAMLRequest"' in page
    assert "Doorgaan naar eHerkenning" in page
    # Only this page may post to the broker (django-csp widens form-action for it alone).
    broker_origin = eherkenning.sso_url.removesuffix("/sso")
    assert response._csp_update == {"form-action": [broker_origin, "https:"]}
    if "Content-Security-Policy" in response:
        assert f"form-action 'self' {broker_origin} https:" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_start_without_configuration_goes_back_to_login(client: Client, db):
    response = client.get(reverse("eherkenning:login"))
    assert response["Location"] == reverse("organisations:login")
    assert "nog niet ingericht" in _messages(response)[0]


def test_sp_metadata_and_service_catalogue_come_from_the_admin_configuration(
    client: Client, eherkenning
):
    metadata = client.get(reverse("metadata:eherkenning"))
    assert metadata.status_code == 200
    xml = metadata.content.decode()
    assert 'entityID="urn:etoegang:DV:00000001999999992000:entities:9052"' in xml
    assert "https://msdportaal.example.nl/eherkenning/acs/" in xml
    assert "HTTP-Artifact" in xml

    catalogue = client.get(reverse("metadata:eh-dienstcatalogus"))
    assert catalogue.status_code == 200
    xml = catalogue.content.decode()
    assert "urn:etoegang:core:assurance-class:loa3" in xml
    assert "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr" in xml
    assert "MSD Portaal" in xml


@pytest.mark.filterwarnings("ignore::django.utils.deprecation.RemovedInDjango60Warning")
def test_admin_shows_the_eherkenning_configuration_and_no_digid(
    client: Client, eherkenning, admin_user, settings
):
    # The second factor is tested elsewhere; here the admin pages themselves.
    backend = "django.contrib.auth.backends.ModelBackend"
    settings.MAYKIN_2FA_ALLOW_MFA_BYPASS_BACKENDS = [backend]
    admin_client = client
    admin_client.force_login(admin_user, backend=backend)
    index = admin_client.get(reverse("admin:index"))
    page = index.content.decode()
    assert reverse("admin:digid_eherkenning_eherkenningconfiguration_change") in page
    assert "digidconfiguration" not in page
    change = admin_client.get(reverse("admin:digid_eherkenning_eherkenningconfiguration_change"))
    assert change.status_code == 200
    assert reverse("metadata:eherkenning") in change.content.decode()
