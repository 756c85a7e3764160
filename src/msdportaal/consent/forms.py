from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from msdportaal.organisations.forms import phone_validator

from .selectors import SetQuestion

YES_NO = [("ja", _("Ja")), ("nee", _("Nee"))]


def no_control_characters(value: str) -> None:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError(_("Gebruik alleen gewone tekens, zonder regeleinden of tabs."))


def set_field_name(question: SetQuestion) -> str:
    return f"set_{question.data_set.code}"


def _describe(question: SetQuestion) -> str:
    """The description under a set's question: period code and the report to read first."""
    report = question.report
    if report is None:
        return format_html(
            "{}, {} {}. {}",
            question.data_set.name,
            _("periodecode"),
            question.period_code,
            _("Er is nog geen rapport van CBS over deze set."),
        )
    return format_html(
        '{}, {} {}. {} <a class="utrecht-link" href="{}">{}</a> ({}, {} {}).',
        question.data_set.name,
        _("periodecode"),
        question.period_code,
        _("Meest recente rapport van CBS:"),
        reverse("reports:download", args=[report.pk]),
        report.file_name,
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
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args: Any, questions: Sequence[SetQuestion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        contact = {key: self.fields.pop(key) for key in ("name", "email", "phone")}
        for question in self.questions:
            self.fields[set_field_name(question)] = forms.ChoiceField(
                label=question.question,
                choices=YES_NO,
                widget=forms.RadioSelect,
                help_text=_describe(question),
                error_messages={"required": _("Kies ja of nee.")},
            )
        self.fields.update(contact)

    def set_fields(self) -> list[forms.BoundField]:
        return [self[set_field_name(q)] for q in self.questions]

    def contact_fields(self) -> list[forms.BoundField]:
        return [self["name"], self["email"], self["phone"]]

    def answers(self) -> dict[str, bool]:
        return {
            q.data_set.code: self.cleaned_data[set_field_name(q)] == "ja" for q in self.questions
        }
