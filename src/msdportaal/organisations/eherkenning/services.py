"""The portal's rules for an eHerkenning login: configured?, level, which gemeente, identity."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from digid_eherkenning.exceptions import CertificateProblem
from digid_eherkenning.models import EherkenningConfiguration
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.urls import reverse

from ..identity import MunicipalIdentity
from ..models import Municipality
from .assertion import EherkenningLogin, loa_at_least, parse_loa

logger = logging.getLogger(__name__)

METHOD = "eherkenning"


def minimum_loa() -> str:
    """``MSD_EHERKENNING_MIN_LOA`` as ``loa3`` etc. (``EH3`` and the full URN work too)."""
    loa = parse_loa(settings.MSD_EHERKENNING_MIN_LOA)
    if loa is None:
        raise ImproperlyConfigured(
            f"MSD_EHERKENNING_MIN_LOA={settings.MSD_EHERKENNING_MIN_LOA!r}: "
            "kies loa2, loa2plus, loa3 of loa4 (of EH2, EH2+, EH3, EH4)."
        )
    return loa


def meets_minimum_loa(login: EherkenningLogin) -> bool:
    return loa_at_least(login.loa, minimum_loa())


def configuration() -> EherkenningConfiguration | None:
    """The admin configuration when it is complete enough to log in with, else ``None``.

    Never creates the singleton (``get_solo`` would, on the public login page).
    """
    config = EherkenningConfiguration.objects.first()
    if config is None or not (
        config.entity_id
        and config.base_url
        and config.idp_service_entity_id
        and config.idp_metadata_file
    ):
        return None
    try:
        config.select_certificates()
    except CertificateProblem:
        logger.warning("eHerkenning is configured without a usable certificate")
        return None
    return config


def is_configured() -> bool:
    return configuration() is not None


def login_url(next_url: str = "") -> str:
    """Where the "Inloggen met eHerkenning" button goes; empty when not configured."""
    if not is_configured():
        return ""
    url = reverse("eherkenning:login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def municipalities_for(login: EherkenningLogin) -> list[Municipality]:
    """The active gemeenten the represented organisation is, by the identifiers IB registered.

    The KvK number decides when it matches; the RSIN only when no gemeente has the KvK
    number; the OIN (if a broker ever delivers one) only when neither matches. One KvK
    number may be registered for several gemeenten (an organisation that is the
    eHerkenning identity of more than one): the user then chooses.
    An intermediary's own KvK number never counts: only the represented organisation
    (LegalSubjectID) says for whom the person acts.
    """
    active = Municipality.objects.active().order_by("name")
    for field, value in (
        ("kvk_number", login.kvk_number),
        ("rsin", login.rsin),
        ("oin", login.oin),
    ):
        if value:
            found = list(active.filter(Q(**{field: value})))
            if found:
                return found
    return []


def identity_for(login: EherkenningLogin, municipalities: list[Municipality]) -> MunicipalIdentity:
    organisation = login.company_name or ", ".join(m.name for m in municipalities)
    return MunicipalIdentity(
        pseudonym=login.acting_subject_id,
        organisation_name=organisation[:200],
        municipality_codes=tuple(m.code for m in municipalities),
        method=METHOD,
        intermediary=login.intermediary_display[:200],
        extra=login.audit_details(),
    )
