"""Shared admin building blocks.

Every ModelAdmin and inline of the portal builds on :class:`PortalModelAdmin` /
:class:`PortalTabularInline` (and on :class:`ReadOnlyAdminMixin` for what only the
application writes). Templates that apply to every admin page are in
``msdportaal/templates/admin/``; Django's and third-party wording IB sees is made Dutch in
``msdportaal/locale/nl`` and ``core/thirdparty.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.db import models
from django.forms.models import BaseModelFormSet
from django.http import HttpRequest
from django.utils.html import escape
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


def name_split_datetime(formfield: forms.Field | None) -> forms.Field | None:
    """The date and the time input of a date-and-time field each get an accessible name
    (Django labels the pair with a legend, which does not name the inputs: axe ``label``)."""
    if formfield is not None and isinstance(formfield.widget, AdminSplitDateTime):
        label = capfirst(formfield.label or "")
        date, time = formfield.widget.widgets
        date.attrs["aria-label"] = _("%(label)s: datum") % {"label": label}
        time.attrs["aria-label"] = _("%(label)s: tijd") % {"label": label}
    return formfield


class _NamedChangelistFormSet(BaseModelFormSet):
    """A field edited in the list (``list_editable``) has no label of its own; its name
    says which field of which row it is ("Handhaving naamconventie: WMO basisset")."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)
        for field in form.fields.values():
            if not field.widget.is_hidden:
                field.widget.attrs["aria-label"] = f"{capfirst(field.label or '')}: {form.instance}"
        return form


class NamedAutocompleteSelect(AutocompleteSelect):
    """Django's search-as-you-type choice (select2) with a placeholder: while nothing is
    chosen, the placeholder is the combobox's name (axe ``aria-input-field-name``); Django
    itself sets an empty one."""

    def __init__(self, *args: Any, placeholder: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placeholder = placeholder

    def build_attrs(self, base_attrs: Any, extra_attrs: Any = None) -> Any:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-placeholder"] = str(self.placeholder)
        return attrs


class AccessibleFormsMixin:
    """Accessible names where Django's admin renders inputs without a label."""

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):  # type: ignore[attr-defined]
            kwargs["widget"] = NamedAutocompleteSelect(
                db_field,
                self.admin_site,  # type: ignore[attr-defined]
                using=kwargs.get("using"),
                placeholder=_("%(label)s zoeken…") % {"label": capfirst(db_field.verbose_name)},
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_dbfield(
        self, db_field: models.Field, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        return name_split_datetime(
            super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        )

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("formset", _NamedChangelistFormSet)
        return super().get_changelist_formset(request, **kwargs)  # type: ignore[misc]


class PlainHelpTextMixin:
    """The portal's help texts are plain text. Django's admin renders a help text as
    HTML, so "(?P<gemeentecode>…)" in the naming convention's lost its group names: they
    are escaped."""

    def formfield_for_dbfield(
        self, db_field: models.Field, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if formfield is not None and formfield.help_text:
            formfield.help_text = escape(formfield.help_text)
        return formfield


class PortalModelAdmin(PlainHelpTextMixin, AccessibleFormsMixin, admin.ModelAdmin):
    """The base of every ModelAdmin of the portal."""


class PortalTabularInline(PlainHelpTextMixin, AccessibleFormsMixin, admin.TabularInline):
    """The base of every tabular inline of the portal (its template,
    ``templates/admin/edit_inline/tabular.html``, labels every input)."""


class ReadOnlyAdminMixin:
    """For records only the application writes (deliveries, reports, audit, e-mails, the
    outbox): IB looks, never adds, edits or deletes. Django then shows the page as
    "… bekijken" (``locale/nl``) with only a "Sluiten" button."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(PortalTabularInline):
    """Rows shown beside a record (attempts, files, answers): no adding, no deleting."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- Dutch names for fields a third-party app does not mark for translation -------------


def titled_filter(title: str) -> type[admin.FieldListFilter]:
    """A list filter on a field, of the kind Django would choose, with a Dutch title."""

    class Titled(admin.FieldListFilter):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            instance = admin.FieldListFilter.create(*args, **kwargs)
            instance.title = title
            return instance

    return Titled


class DutchLabelsMixin:
    """For a third-party model whose field names are English and not marked for
    translation (django-otp, simple-certmanager's signing requests): ``labels`` gives each
    field its Dutch name in the list's columns and filters and on the form (also where the
    field is read-only), ``help_texts`` its explanation, ``fieldset_names`` the sections."""

    labels: dict[str, str] = {}
    help_texts: dict[str, str] = {}
    fieldset_names: dict[str, str] = {}

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        labels = {name: capfirst(label) for name, label in self.labels.items()}
        kwargs = {"labels": labels, "help_texts": self.help_texts, **kwargs}
        return super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (self.fieldset_names.get(name, name) if name else name, options)
            for name, options in super().get_fieldsets(request, obj)  # type: ignore[misc]
        ]

    def get_list_display(self, request: HttpRequest) -> Any:
        return [self._column(name) for name in super().get_list_display(request)]  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [
            (name, titled_filter(self.labels[name]))
            if isinstance(name, str) and name in self.labels
            else name
            for name in super().get_list_filter(request)  # type: ignore[misc]
        ]

    def _column(self, name: Any) -> Any:
        if not isinstance(name, str) or name not in self.labels:
            return name
        columns: dict[str, Callable[[Any], Any]] = self.__dict__.setdefault("_columns", {})
        if name not in columns:
            field = self.model._meta.get_field(name)  # type: ignore[attr-defined]

            def column(obj: Any) -> Any:
                if field.choices:
                    return getattr(obj, f"get_{name}_display")()
                return getattr(obj, name)

            column.__name__ = name
            columns[name] = admin.display(
                description=self.labels[name],
                ordering=name,
                boolean=isinstance(field, models.BooleanField),
            )(column)
        return columns[name]
