from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from msdportaal.organisations.forms import TelInput, phone_validator

from .selectors import SetQuestion

YES_NO = [("ja", _("Ja")), ("nee", _("Nee"))]


def no_control_characters(value: str) -> None:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError(_("Gebruik alleen gewone tekens, zonder regeleinden of tabs."))


def set_field_name(question: SetQuestion) -> str:
    return f"set_{question.data_set.code}"


def _describe(question: SetQuestion) -> str:
    """The description under a set's question: period code and the set's own report."""
    report = question.report
    assert report is not None  # only sets with their own op-orde report are asked
    return format_html(
        '{}, {} {}. {} <a class="utrecht-link" href="{}">{}<span class="msd-visually-hidden"> '
        "({})</span></a> ({}, {} {}).",
        question.data_set.name,
        _("periodecode"),
        question.period_code,
        _("Rapport van CBS over deze set:"),
        reverse("reports:download", args=[report.pk]),
        report.file_name,
        _("downloaden"),
        report.get_kind_display(),
        _("ontvangen"),
        formats.date_format(timezone.localtime(report.received_at), "j F Y"),
    )


class ConsentAnswersForm(forms.Form):
    """Per set ja/nee, then who decides. Built for the sets of one period."""

    name = forms.CharField(
        label=_("Naam"),
        max_length=200,
        validators=[no_control_characters],
        help_text=_("Van degene die namens de gemeente besluit."),
        error_messages={"required": _("Vul de naam in van degene die besluit.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("E-mailadres"),
        max_length=254,
        error_messages={
            "required": _("Vul een e-mailadres in."),
            "invalid": _("Vul een geldig e-mailadres in, zoals naam@gemeente.nl."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Telefoonnummer"),
        max_length=20,
        validators=[phone_validator],
        error_messages={"required": _("Vul een telefoonnummer in.")},
        widget=TelInput(attrs={"autocomplete": "tel"}),
    )

    def __init__(self, *args: Any, questions: Sequence[SetQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Only sets with their own op-orde report are asked; the rest are refused if posted.
        self.questions = [q for q in questions if q.can_answer]
        self.blocked = [q for q in questions if not q.can_answer]
        contact = {key: self.fields.pop(key) for key in ("name", "email", "phone")}
        for question in self.questions:
            self.fields[set_field_name(question)] = forms.ChoiceField(
                label=question.question,
                choices=YES_NO,
                widget=forms.RadioSelect,
                help_text=_describe(question),
                error_messages={
                    "required": _("Kies ja of nee voor de %(set)s.")
                    % {"set": question.data_set.name}
                },
            )
        self.fields.update(contact)

    def clean(self) -> dict[str, Any]:
        """An answer for a set that may not be answered is refused, whatever the page showed."""
        cleaned = super().clean()
        for question in self.blocked:
            if self.data.get(self.add_prefix(set_field_name(question))):
                raise ValidationError(
                    _(
                        "U kunt voor de %(set)s (%(code)s) geen toestemming geven: %(reason)s. "
                        "Geef alleen antwoord voor de sets die CBS op orde heeft bevonden."
                    ),
                    params={
                        "set": question.data_set.name,
                        "code": question.period_code,
                        "reason": question.reason,
                    },
                )
        return cleaned

    def set_fields(self) -> list[forms.BoundField]:
        return [self[set_field_name(q)] for q in self.questions]

    def contact_fields(self) -> list[forms.BoundField]:
        return [self["name"], self["email"], self["phone"]]

    def answers(self) -> dict[str, bool]:
        return {
            q.data_set.code: self.cleaned_data[set_field_name(q)] == "ja" for q in self.questions
        }
