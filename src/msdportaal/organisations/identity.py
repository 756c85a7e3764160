"""The authentication seam: what a login method tells us about who is logging in.

eHerkenning (a later step) and the development login both produce a
:class:`MunicipalIdentity`; everything after that — finding or creating the user,
linking the gemeenten, the audit trail — is shared and lives in ``services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MunicipalIdentity:
    #: Stable identifier of the person (eHerkenning pseudonym; dev login: e-mail based).
    pseudonym: str
    #: The organisation that logged in: a gemeente, or an intermediary acting for several.
    organisation_name: str
    #: CBS codes of the gemeenten this login may act for.
    municipality_codes: tuple[str, ...]
    #: How the person logged in: ``eherkenning`` or ``ontwikkel-login``.
    method: str
    #: Name of the intermediary (ketenmachtiging), empty when the gemeente logs in itself.
    intermediary: str = ""
    #: What the login method knows of the person; eHerkenning usually knows nothing.
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    extra: dict[str, str] = field(default_factory=dict)
