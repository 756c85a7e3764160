"""Starting an eHerkenning login, and the assertion consumer service (ACS)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from msdportaal.core.security import local_path

from ..services import NoMunicipalityError, log_in_municipal_user
from . import services
from .assertion import EherkenningLogin, IncompleteAssertionError, loa_label, read_login
from .saml import IdentityProviderStatusError, PortalEherkenningClient

logger = logging.getLogger(__name__)

#: Second-level status codes with which a broker says the person stopped or was refused
#: (cancel button, no authorisation for this service).
CANCELLED = {"AuthnFailed", "RequestDenied"}
#: The person's means cannot reach the level the service asks for.
LEVEL_TOO_LOW = {"NoAuthnContext"}
#: SAML limits RelayState to 80 bytes.
RELAY_STATE_MAX = 80


def _back_to_login(request: HttpRequest) -> HttpResponse:
    return redirect("organisations:login")


def _audit_refusal(request: HttpRequest, reason: str) -> None:
    """A refused eHerkenning login goes into the audit trail as a failed login."""
    user_login_failed.send(
        sender=__name__, credentials={"username": f"eherkenning: {reason}"[:150]}, request=request
    )


@never_cache
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    """Sign an AuthnRequest and send the browser to the broker (HTTP-POST binding)."""
    config = services.configuration()
    if config is None:
        messages.error(
            request, _("Inloggen met eHerkenning is op deze omgeving nog niet ingericht.")
        )
        return _back_to_login(request)
    next_url = local_path(request, request.GET.get("next"))
    if len(next_url.encode()) > RELAY_STATE_MAX:
        next_url = ""
    client = PortalEherkenningClient(request)
    url, parameters = client.create_authn_request(
        request, attr_consuming_service_index=config.eh_attribute_consuming_service_index
    )
    response = render(
        request,
        "eherkenning/start.html",
        {"url": url, "saml_request": parameters["SAMLRequest"], "relay_state": next_url},
    )
    # This page alone may post elsewhere: to the broker, and (brokers redirect the posted
    # form on to their own pages or to an authentication service) to any HTTPS address.
    broker = urlsplit(url)
    response._csp_update = {  # type: ignore[attr-defined]  # django-csp's per-response hook
        "form-action": [f"{broker.scheme}://{broker.netloc}", "https:"]
    }
    return response


def _name_id(response: Any) -> dict[str, str] | None:
    try:
        return response.get_nameid_data()
    except Exception:  # no (usable) NameID in the Subject: the attribute must do
        return None


@never_cache
@require_GET
def acs(request: HttpRequest) -> HttpResponse:
    """The broker sends the browser here with a SAMLart; we resolve it and log in."""
    saml_art = request.GET.get("SAMLart", "")
    if not saml_art or not services.is_configured():
        messages.error(request, _("Inloggen met eHerkenning is niet gelukt. Probeer het opnieuw."))
        return _back_to_login(request)

    try:
        response = PortalEherkenningClient(request).artifact_resolve(request, saml_art)
        login = read_login(
            response.get_attributes(),
            subject_name_id=_name_id(response),
            authn_contexts=response.get_authn_contexts(),
        )
    except IdentityProviderStatusError as status:
        if status.short_codes & CANCELLED:
            logger.info("eHerkenning login cancelled or refused by the broker: %s", status)
            messages.warning(
                request,
                _(
                    "U bent niet ingelogd: het inloggen met eHerkenning is afgebroken. "
                    "Wilt u toch inloggen? Kies dan opnieuw „Inloggen met eHerkenning”. "
                    "Lukt het niet, controleer dan of uw eHerkenningsmiddel een machtiging "
                    "heeft voor MSD Portaal."
                ),
            )
            return _back_to_login(request)
        if status.short_codes & LEVEL_TOO_LOW:
            _audit_refusal(request, "betrouwbaarheidsniveau te laag")
            return _level_too_low(request, reported="")
        logger.warning("eHerkenning broker answered with status %s", status)
        return _technical_failure(request)
    except IncompleteAssertionError as problem:
        logger.warning("eHerkenning assertion without what the portal needs: %s", problem)
        return _technical_failure(request)
    except Exception:
        logger.exception("eHerkenning login failed: the artifact could not be resolved")
        return _technical_failure(request)

    if not services.meets_minimum_loa(login):
        _audit_refusal(
            request, f"niveau {loa_label(login.loa) or login.loa_reported or 'onbekend'}"
        )
        return _level_too_low(request, reported=loa_label(login.loa) or login.loa_reported)

    municipalities = services.municipalities_for(login)
    if not municipalities:
        _audit_refusal(request, f"onbekende organisatie {_identifiers(login)}")
        return render(
            request,
            "eherkenning/not_registered.html",
            {"login": login, "login_url": reverse("organisations:login")},
            status=403,
        )

    try:
        log_in_municipal_user(request, services.identity_for(login, municipalities))
    except NoMunicipalityError:
        # The account exists but is blocked, or belongs to IB staff.
        _audit_refusal(request, "account geblokkeerd")
        messages.error(
            request,
            _(
                "U kunt met dit eHerkenningsmiddel niet inloggen bij MSD Portaal. "
                "Neem contact op met het Inlichtingenbureau."
            ),
        )
        return _back_to_login(request)
    return redirect(local_path(request, request.GET.get("RelayState")) or "overview:index")


def _identifiers(login: EherkenningLogin) -> str:
    parts = [
        f"KvK {login.kvk_number}" if login.kvk_number else "",
        f"RSIN {login.rsin}" if login.rsin else "",
        f"OIN {login.oin}" if login.oin else "",
    ]
    return ", ".join(p for p in parts if p)


def _level_too_low(request: HttpRequest, *, reported: str) -> HttpResponse:
    return render(
        request,
        "eherkenning/level_too_low.html",
        {
            "required": loa_label(services.minimum_loa()),
            "reported": reported,
            "login_url": reverse("organisations:login"),
        },
        status=403,
    )


def _technical_failure(request: HttpRequest) -> HttpResponse:
    _audit_refusal(request, "technische fout")
    messages.error(
        request,
        _(
            "Inloggen met eHerkenning is niet gelukt door een technische fout. "
            "Probeer het over enkele minuten opnieuw."
        ),
    )
    return _back_to_login(request)
