from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from .models import Municipality

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 \-]{8,18}$",
    _("Vul een geldig telefoonnummer in, bijvoorbeeld 030 123 45 67 of +31 30 123 45 67."),
)


class TelInput(forms.TextInput):
    """``type="tel"``: the phone keypad on a phone, and the purpose for WCAG 1.3.5."""

    input_type = "tel"


class DevLoginForm(forms.Form):
    municipality = forms.ModelChoiceField(
        label=_("Gemeente"),
        queryset=Municipality.objects.active(),
        empty_label=_("Kies een gemeente"),
        error_messages={"required": _("Kies de gemeente waarvoor u wilt inloggen.")},
    )
    extra_codes = forms.CharField(
        label=_("Ook handelen namens (optioneel)"),
        required=False,
        help_text=_(
            "Voor het testen van ketenmachtiging: CBS-codes van andere gemeenten, "
            "gescheiden door komma's, bijvoorbeeld 0344, 0599."
        ),
    )
    name = forms.CharField(
        label=_("Uw naam"),
        max_length=150,
        error_messages={"required": _("Vul uw naam in.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("E-mailadres"),
        error_messages={
            "required": _("Vul uw e-mailadres in."),
            "invalid": _("Vul een geldig e-mailadres in, zoals naam@gemeente.nl."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_extra_codes(self) -> list[str]:
        raw = self.cleaned_data["extra_codes"]
        codes = [
            c.strip().upper().removeprefix("GM")
            for c in raw.replace(";", ",").split(",")
            if c.strip()
        ]
        known = set(
            Municipality.objects.active().filter(code__in=codes).values_list("code", flat=True)
        )
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise forms.ValidationError(
                _("Onbekende gemeentecode(s): %(codes)s."), params={"codes": ", ".join(unknown)}
            )
        return codes


class ChooseMunicipalityForm(forms.Form):
    municipality = forms.ModelChoiceField(
        label=_("Gemeente"),
        queryset=Municipality.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": _("Kies de gemeente waarvoor u nu wilt handelen."),
            "invalid_choice": _("U mag niet handelen namens deze gemeente."),
        },
    )

    def __init__(self, *args: Any, municipalities: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["municipality"].queryset = municipalities


class ProfileForm(forms.Form):
    first_name = forms.CharField(
        label=_("Voornaam"),
        max_length=150,
        error_messages={"required": _("Vul uw voornaam in.")},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Achternaam"),
        max_length=150,
        error_messages={"required": _("Vul uw achternaam in.")},
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("E-mailadres"),
        help_text=_("Hierheen sturen we ontvangstbevestigingen en meldingen."),
        error_messages={
            "required": _("Vul uw e-mailadres in."),
            "invalid": _("Vul een geldig e-mailadres in, zoals naam@gemeente.nl."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Telefoonnummer"),
        max_length=20,
        validators=[phone_validator],
        help_text=_("CBS belt u hierop als er vragen zijn over een aanlevering."),
        error_messages={"required": _("Vul uw telefoonnummer in.")},
        widget=TelInput(attrs={"autocomplete": "tel"}),
    )
