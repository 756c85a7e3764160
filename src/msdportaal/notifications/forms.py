from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CONTACT_EVENTS


class ContactForm(forms.Form):
    name = forms.CharField(
        label=_("Naam"), max_length=150, error_messages={"required": _("Vul de naam in.")}
    )
    email = forms.EmailField(
        label=_("E-mailadres"),
        error_messages={
            "required": _("Vul het e-mailadres in."),
            "invalid": _("Vul een geldig e-mailadres in, zoals naam@gemeente.nl."),
        },
    )
    events = forms.MultipleChoiceField(
        label=_("Welke meldingen?"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(e.value, e.label) for e in CONTACT_EVENTS],
        initial=[e.value for e in CONTACT_EVENTS],
    )
