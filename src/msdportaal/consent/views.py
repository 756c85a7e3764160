from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from msdportaal.core.pdf import pdf_response
from msdportaal.core.sessions import mark_committed
from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import get_for_acting_municipality_or_404

from . import receipts, selectors, services
from .forms import ConsentAnswersForm, set_field_name
from .models import ConsentForm
from .selectors import FormState, FormStatus, SetQuestion

SIDE_LABELS = (gettext_lazy("Huidige verslagperiode"), gettext_lazy("Vorige verslagperiode"))


@dataclass
class Side:
    state: FormState
    label: str
    form: ConsentAnswersForm | None
    #: Every set of the period with its own outcome (the blocked ones are shown with why).
    questions: list[SetQuestion]

    @property
    def blocked(self) -> list[SetQuestion]:
        return [q for q in self.questions if not q.can_answer]


def _consent_form_or_404(request: HttpRequest, form_id: uuid.UUID | str) -> ConsentForm:
    return get_for_acting_municipality_or_404(
        ConsentForm.objects.select_related("period", "municipality", "outbound_message"),
        request,
        pk=form_id,
    )


def _draft_to_change(request: HttpRequest) -> ConsentForm | None:
    """``?concept=<id>``: the draft whose answers "Wijzig uw antwoorden" brings back."""
    value = request.GET.get("concept")
    if not value:
        return None
    try:
        form_id = uuid.UUID(value)
    except ValueError as exc:
        raise Http404 from exc
    draft = _consent_form_or_404(request, form_id)
    return None if draft.is_submitted else draft


def _initial(
    request: HttpRequest,
    state: FormState,
    questions: list[SetQuestion],
    draft: ConsentForm | None,
) -> dict[str, Any]:
    """The profile's contact details; the answers of the draft being changed, or of the
    submission in force (not when a correction asks for a fresh decision)."""
    user = request.user
    source = draft if draft is not None and draft.period_id == state.period.pk else None
    if source is None and state.status == FormStatus.SUBMITTED:
        source = state.latest
    initial: dict[str, Any] = {
        "name": user.get_full_name(),  # type: ignore[union-attr]
        "email": user.email,  # type: ignore[union-attr]
        "phone": user.phone,  # type: ignore[union-attr]
    }
    if source is not None:
        answers = {c.data_set_id: c.conclusion for c in source.consents.all()}
        for question in questions:
            if question.data_set.pk in answers:
                initial[set_field_name(question)] = answers[question.data_set.pk]
        if source is draft:
            initial.update(name=draft.name, email=draft.email, phone=draft.phone)
    return initial


@acting_municipality_required
@require_http_methods(["GET", "POST"])
def consent_forms(request: HttpRequest) -> HttpResponse:
    """The split screen: the current period left, the previous period right."""
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    states = selectors.open_form_states(municipality, timezone.localdate())
    posted = request.POST.get("periode", "") if request.method == "POST" else None
    draft = _draft_to_change(request)
    sides = []
    for label, state in zip(SIDE_LABELS, states, strict=True):
        form = None
        questions = [SetQuestion(outcome) for outcome in state.sets]
        if state.can_submit:
            code = state.period.code
            if posted == code:
                form = ConsentAnswersForm(request.POST, prefix=code, questions=questions)
                if form.is_valid():
                    saved = services.save_draft(
                        request,
                        state,
                        form.questions,
                        form.answers(),
                        name=form.cleaned_data["name"],
                        email=form.cleaned_data["email"],
                        phone=form.cleaned_data["phone"],
                    )
                    return redirect("consent:check", form_id=saved.pk)
            else:
                asked = [q for q in questions if q.can_answer]
                initial = _initial(request, state, asked, draft)
                form = ConsentAnswersForm(prefix=code, questions=questions, initial=initial)
        sides.append(Side(state, str(label), form, questions))
    if posted is not None and not any(s.form and s.form.is_bound for s in sides):
        refused = next((s.state for s in sides if s.state.period.code == posted), None)
        messages.error(
            request,
            services.refusal_message(refused)
            if refused
            else _("Dit formulier hoort niet bij een open verslagperiode."),
        )
        return redirect("consent:forms")
    history = selectors.submissions(request)
    return render(
        request,
        "consent/forms.html",
        {"sides": sides, "history": history, "municipality": municipality},
        status=400 if posted is not None else 200,
    )


@acting_municipality_required
@require_http_methods(["GET", "POST"])
def check(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    form = _consent_form_or_404(request, form_id)
    if form.is_submitted:
        # A double submit, the back button, a retried request: the same confirmation.
        mark_committed(request)
        return redirect("consent:confirmation", form_id=form.pk)
    if request.method == "POST":
        try:
            services.submit(request, form)
        except services.ConsentRefused as refusal:
            messages.error(request, refusal.message)
            return redirect("consent:forms")
        # Committed: the confirmation page is found from the database alone (the form in
        # its URL), and nothing after this may turn the answer into an error.
        mark_committed(request)
        return redirect("consent:confirmation", form_id=form.pk)
    return render(
        request,
        "consent/check.html",
        {"form": form, "consents": form.consents.select_related("data_set")},
    )


@acting_municipality_required
def confirmation(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    form = _consent_form_or_404(request, form_id)
    if not form.is_submitted:
        return redirect("consent:check", form_id=form.pk)
    mark_committed(request)  # what it shows is committed: a session hiccup must not hide it
    return render(
        request,
        "consent/confirmation.html",
        {"form": form, "consents": form.consents.select_related("data_set")},
    )


def _submitted_or_404(request: HttpRequest, form_id: uuid.UUID) -> ConsentForm:
    form = _consent_form_or_404(request, form_id)
    if not form.is_submitted:
        raise Http404  # a draft has no receipt
    return form


@acting_municipality_required
@require_safe
def receipt(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    """The receipt to print (print styles in portal.css)."""
    form = _submitted_or_404(request, form_id)
    return render(request, "consent/receipt.html", receipts.receipt_context(form))


@acting_municipality_required
@require_safe
def receipt_pdf(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    body, filename = receipts.receipt_pdf(_submitted_or_404(request, form_id))
    return pdf_response(body, filename)
