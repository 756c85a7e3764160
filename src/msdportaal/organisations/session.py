"""What one login is for, kept in that login's session.

A person can be logged in more than once at the same time (two browsers, two tabs in
different profiles), each time for another gemeente: a supplier's employee logs in once
per gemeente with eHerkenning. So everything that depends on *which login* lives in the
session, never on the user:

- the gemeenten this login may act for (``LOGIN_MUNICIPALITIES_KEY``);
- the organisation that logged in and the intermediary it acts through, if any;
- the gemeente chosen on "Wissel van gemeente" (``ACTING_MUNICIPALITY_KEY``).

On every request these are checked against the database: only active gemeenten that
are still linked to the person (``User.municipalities``, which IB can edit in the
admin) count. Taking a gemeente away from a person therefore ends it in every session
on the next request; a new login never changes what an older session may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from .models import Municipality, MunicipalityQuerySet

#: The gemeente chosen in this session (a primary key).
ACTING_MUNICIPALITY_KEY = "acting_municipality_id"
#: The gemeenten this login may act for (primary keys), set once at login.
LOGIN_MUNICIPALITIES_KEY = "login_municipality_ids"
#: The organisation that logged in (a gemeente, or the intermediary's client).
LOGIN_ORGANISATION_KEY = "login_organisation"
#: The intermediary (ketenmachtiging) this login acts through; empty for the gemeente itself.
LOGIN_INTERMEDIARY_KEY = "login_intermediary"


@dataclass(frozen=True)
class LoginGrant:
    """What a login method decided for this one login."""

    municipality_ids: tuple[int, ...]
    organisation: str = ""
    intermediary: str = ""


def start_login_session(session: SessionBase, grant: LoginGrant) -> None:
    """Called right after ``login()``: the new session is for this login only."""
    session.pop(ACTING_MUNICIPALITY_KEY, None)
    session[LOGIN_MUNICIPALITIES_KEY] = list(grant.municipality_ids)
    session[LOGIN_ORGANISATION_KEY] = grant.organisation
    session[LOGIN_INTERMEDIARY_KEY] = grant.intermediary


def _login_municipality_ids(request: HttpRequest) -> list[int]:
    session = request.session
    ids = session.get(LOGIN_MUNICIPALITIES_KEY)
    if ids is None:
        # A session that did not come through log_in_municipal_user (one from before
        # logins were kept per session, or a test's force_login): it is for the
        # gemeenten linked to the person now, and stays so from here on.
        ids = list(request.user.municipalities.values_list("pk", flat=True))  # type: ignore[union-attr]
        session[LOGIN_MUNICIPALITIES_KEY] = ids
    return [int(pk) for pk in ids]


def login_municipalities(request: HttpRequest) -> MunicipalityQuerySet:
    """The active gemeenten this session's login may act for, in name order."""
    user: Any = request.user
    return (
        Municipality.objects.active()
        .filter(pk__in=_login_municipality_ids(request), users=user)
        .order_by("name")
    )


def choose(request: HttpRequest, municipality: Municipality) -> None:
    request.session[ACTING_MUNICIPALITY_KEY] = municipality.pk


def chosen_municipality_id(request: HttpRequest) -> Any:
    return request.session.get(ACTING_MUNICIPALITY_KEY)


def login_intermediary(request: HttpRequest) -> str:
    return str(request.session.get(LOGIN_INTERMEDIARY_KEY, "") or "")


def login_organisation(request: HttpRequest) -> str:
    return str(request.session.get(LOGIN_ORGANISATION_KEY, "") or "")
