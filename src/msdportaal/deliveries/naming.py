"""What a file's name tells us: set, gemeente and period (DESIGN.md §3.2).

The user never picks these: the name decides, and a name that does not say it clearly
is refused with the name we expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from msdportaal.periods.calendar import HalfYear, InvalidPeriodCode
from msdportaal.periods.models import DataSet, NamingMode

# StUF-GGk allows only these characters in a bestandsnaam, and at most 255 of them.
STUF_NAME_CHARS = re.compile(r"[0-9A-Za-z._-]")
STUF_NAME_MAX = 255
_LENIENT = re.compile(
    r"MSD[_-]?(?P<token>[A-Za-z]+(?:-[A-Za-z]+)?)[_-]+(?:GM)?(?P<gemeentecode>\d{4})[_-]+"
    r"(?P<periode>\d{4}(?:HJ0[12]|JJ00))",
    re.IGNORECASE,
)


class NameRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedName:
    data_set: DataSet
    municipality_code: str
    period_code: str
    warning: str = ""

    @property
    def half_year(self) -> HalfYear:
        return HalfYear.from_code(self.period_code)


def check_stuf_name(name: str) -> None:
    """The rule transport needs, enforced whatever the naming mode."""
    if not name:
        raise NameRefused(
            _("Het bestand heeft geen naam. Geef het een naam volgens de naamconventie.")
        )
    if len(name) > STUF_NAME_MAX:
        raise NameRefused(
            _(
                "De bestandsnaam is %(n)d tekens lang; het maximum is 255. Geef het bestand "
                "een naam volgens de naamconventie."
            )
            % {"n": len(name)}
        )
    bad = sorted({c for c in name if not STUF_NAME_CHARS.fullmatch(c)})
    if bad:
        shown = ", ".join("spatie" if c == " " else f"„{c}”" for c in bad)
        raise NameRefused(
            _(
                "De bestandsnaam „%(name)s” bevat tekens die niet zijn toegestaan (%(chars)s). "
                "Gebruik alleen letters, cijfers, punt (.), liggend streepje (_) en "
                "koppelteken (-)."
            )
            % {"name": name, "chars": shown}
        )


def parse_csv_name(
    name: str, data_sets: list[DataSet], municipality_code: str, current: HalfYear
) -> ParsedName:
    """Set, gemeente and period from a CSV's name, or :class:`NameRefused` saying why."""
    check_stuf_name(name)
    for data_set in data_sets:
        match = re.fullmatch(data_set.naming_pattern, name)
        if match:
            return _validated(data_set, match["gemeentecode"], match["periode"], name, "")
    lenient = _LENIENT.search(name)
    data_set = None
    if lenient:
        token = lenient["token"].upper()
        data_set = next((ds for ds in data_sets if ds.file_name_token.upper() == token), None)
    if (
        data_set is not None
        and data_set.naming_mode == NamingMode.ADVISE
        and name.lower().endswith(".csv")
    ):
        expected = data_set.example_file_name(municipality_code, current)
        warning = _(
            "De naam wijkt af van de naamconventie (verwacht bijvoorbeeld %(expected)s). Het "
            "bestand is wel geaccepteerd."
        ) % {"expected": expected}
        return _validated(
            data_set, lenient["gemeentecode"], lenient["periode"].upper(), name, warning
        )
    if data_set is not None:
        canonical = (
            f"MSD_{data_set.file_name_token}_{lenient['gemeentecode']}_{lenient['periode']}.csv"
        )
        if name == canonical:  # well formed, but a period code this set does not use
            _validated(data_set, lenient["gemeentecode"], lenient["periode"], name, "")
        raise NameRefused(
            _(
                "„%(name)s” volgt de naamconventie voor de %(set)s niet. Verwacht: "
                "%(expected)s. Geef het bestand die naam en lever het opnieuw aan."
            )
            % {
                "name": name,
                "set": data_set.name,
                "expected": data_set.example_file_name(municipality_code, current),
            }
        )
    raise NameRefused(
        _(
            "Uit de naam „%(name)s” kunnen we niet opmaken welke set dit is. Een bestandsnaam "
            "ziet er zo uit: MSD_<SET>_<gemeentecode>_<periode>.csv, bijvoorbeeld %(example)s."
        )
        % {"name": name, "example": data_sets[0].example_file_name(municipality_code, current)}
    )


def _validated(
    data_set: DataSet, municipality_code: str, period_code: str, name: str, warning: str
) -> ParsedName:
    try:
        half_year = HalfYear.from_code(period_code)
    except InvalidPeriodCode as exc:
        raise NameRefused(
            _(
                "„%(name)s”: %(code)s is geen geldige periodecode. Gebruik een code als "
                "2026HJ01 (halfjaar) of 2026JJ00 (jaar)."
            )
            % {"name": name, "code": period_code}
        ) from exc
    if data_set.period_code(half_year) != period_code:
        if data_set.is_yearly:
            message = _(
                "„%(name)s”: de %(set)s wordt eens per jaar aangeleverd, met periodecode "
                "JJJJJJ00 (bijvoorbeeld %(year)dJJ00), niet %(code)s."
            ) % {"name": name, "set": data_set.name, "year": half_year.year, "code": period_code}
        else:
            message = _(
                "„%(name)s”: de %(set)s wordt per halfjaar aangeleverd, met periodecode "
                "%(year)dHJ01 of %(year)dHJ02, niet %(code)s."
            ) % {"name": name, "set": data_set.name, "year": half_year.year, "code": period_code}
        raise NameRefused(message)
    return ParsedName(data_set, municipality_code, period_code, warning)
