"""The business rules of giving consent: drafts, submitting once, the CSV for CBS."""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.dispatch import Signal
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from msdportaal.audit.models import AuditAction
from msdportaal.audit.services import record
from msdportaal.core.references import allocate_reference
from msdportaal.transport.models import MessageKind
from msdportaal.transport.services import enqueue

from .models import Consent, ConsentForm
from .selectors import FormState, FormStatus, SetQuestion, form_state

if TYPE_CHECKING:
    from django.http import HttpRequest

    from msdportaal.organisations.models import User

logger = logging.getLogger(__name__)

#: Sent inside the submission's transaction (``form``: the ConsentForm); notifications
#: listens and queues the confirmation e-mail in its ledger, so the e-mail commits or rolls
#: back with the submission. Receivers only write rows; anything external goes in
#: ``transaction.on_commit``. A receiver that raises undoes the submission, on purpose.
consent_submitted = Signal()

#: Drafts nobody confirmed are removed after this long (whenever a new draft is made).
DRAFT_LIFETIME = datetime.timedelta(days=1)

CSV_CONTENT_TYPE = "text/csv"
_SAFE_NAME = re.compile(r"^[0-9A-Za-z._-]{1,255}$")


class ConsentRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the CSV (DESIGN.md §3.5) -----------------------------------------------------------


def csv_header() -> list[str]:
    return [
        "Naam organisatie",
        settings.MSD_CONSENT_CSV_PERIOD_HEADER,
        "naam verzoek",
        "conclusie",
        "datumconclusie",
        "naam van gebruiker",
        "emailadres",
        "telefoonnummer",
    ]


#: A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: A phone number as the profile form accepts it: no letters, so no function or cell
#: reference, only a leading ``+``: passed on unchanged.
_PLAIN_PHONE = re.compile(r"\+?[0-9][0-9 \-]*")


def neutralise_formula(value: str) -> str:
    """``'`` before a value a spreadsheet would run as a formula (``=HYPERLINK(…)``)."""
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_PHONE.fullmatch(value):
        return "'" + value
    return value


def csv_value(value: str) -> str:
    """Formulas neutralised, then quoted only when it holds ``;``, ``"`` or a line break;
    quotes inside are doubled."""
    value = neutralise_formula(value)
    if any(char in value for char in ';"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 without BOM, ``;``-separated, every line (the last too) ending in CRLF."""
    lines = [csv_header(), *rows]
    return "".join(";".join(csv_value(v) for v in line) + "\r\n" for line in lines).encode()


def csv_rows(form: ConsentForm) -> list[list[str]]:
    """One row per set, in the order the sets were asked."""
    assert form.decided_on is not None
    return [
        [
            form.municipality.name,
            consent.period_code,
            consent.request_name,
            consent.conclusion,
            form.decided_on.isoformat(),
            form.name,
            form.email,
            form.phone,
        ]
        for consent in form.consents.order_by("position")
    ]


def csv_file_name(form: ConsentForm) -> str:
    """``MSD_TOESTEMMING_<gemeentecode>_<periode>_<referentie>.csv``: StUF-safe."""
    name = f"MSD_TOESTEMMING_{form.municipality.code}_{form.period.code}_{form.reference}.csv"
    if not _SAFE_NAME.match(name):  # a code or reference that breaks the rule is a bug
        raise ValueError(f"unsafe file name {name!r}")
    return name


def _storage_name(moment: datetime.datetime) -> str:
    """A generated path, never derived from user input."""
    return f"consent/{moment:%Y/%m}/{uuid.uuid4().hex}"


# --- references ------------------------------------------------------------------------


def _assign_reference(form: ConsentForm, moment: datetime.datetime) -> str:
    """``YYYYMMDD-HHMMSS-NNN`` in the same series as deliveries (core.references)."""
    reference = allocate_reference(moment, "toestemming")
    ConsentForm.objects.filter(pk=form.pk).update(reference=reference)
    return reference


# --- refusals --------------------------------------------------------------------------


def refusal_message(state: FormState) -> str:
    code = state.period.code
    if state.status == FormStatus.CLOSED:
        return _("Verslagperiode %(code)s is gesloten; toestemming geven kan niet meer.") % {
            "code": code
        }
    if state.status == FormStatus.NOT_YET_OPEN:
        return _("Het toestemmingsformulier voor %(code)s is beschikbaar vanaf %(date)s.") % {
            "code": code,
            "date": formats.date_format(state.opens_on, "j F Y"),
        }
    return _(
        "Voor verslagperiode %(code)s heeft CBS nog geen set van u op orde bevonden. Daarom "
        "kunt u nog geen toestemming geven. Onder Overzicht ziet u per set wat CBS ervan vond."
    ) % {"code": code}


def blocked_message(question: SetQuestion) -> str:
    return _(
        "U kunt voor de %(set)s (%(code)s) geen toestemming geven: %(reason)s. Vul het "
        "formulier opnieuw in; het vraagt alleen naar de sets die CBS op orde heeft bevonden."
    ) % {"set": question.data_set.name, "code": question.period_code, "reason": question.reason}


def refuse_blocked(state: FormState, data_set_ids: Iterable[int]) -> None:
    """Consent only for sets whose own latest report is op orde (checked again on submit:
    a foutrapport may have arrived since the draft)."""
    by_set = {o.data_set.pk: o for o in state.sets}
    for data_set_id in data_set_ids:
        outcome = by_set.get(data_set_id)
        if outcome is not None and not outcome.can_consent:
            raise ConsentRefused(blocked_message(SetQuestion(outcome)))
        if outcome is None:
            raise ConsentRefused(
                _("Deze set hoort niet bij verslagperiode %(code)s.") % {"code": state.period.code}
            )


# --- drafts and submissions -------------------------------------------------------------


def save_draft(
    request: HttpRequest,
    state: FormState,
    questions: Sequence[SetQuestion],
    answers: dict[str, bool],
    *,
    name: str,
    email: str,
    phone: str,
) -> ConsentForm:
    """Keeps the answers for "Controleer uw antwoorden"; nothing goes to CBS yet.

    ``answers`` maps a set's code to True (ja) or False (nee) for every question.
    """
    if not state.can_submit:
        raise ConsentRefused(refusal_message(state))
    refuse_blocked(state, [q.data_set.pk for q in questions])
    with transaction.atomic():
        ConsentForm.objects.drafts().filter(created_at__lt=timezone.now() - DRAFT_LIFETIME).delete()
        form = ConsentForm.objects.create(
            municipality=state.municipality,
            period=state.period,
            created_by=request.user if request.user.is_authenticated else None,
            name=name,
            email=email,
            phone=phone,
        )
        Consent.objects.bulk_create(
            Consent(
                form=form,
                data_set=question.data_set,
                period_code=question.period_code,
                request_name=question.data_set.name,
                question=question.question,
                given=answers[question.data_set.code],
                position=position,
            )
            for position, question in enumerate(questions, start=1)
        )
    return form


def submit(
    request: HttpRequest, form: ConsentForm, today: datetime.date | None = None
) -> ConsentForm:
    """Submits a draft once: reference, CSV in storage, outbound message, audit entry, all
    in one transaction. A second call (double click, back button, retried request) finds
    the form submitted and changes nothing."""
    stored_name = ""
    committed: list[bool] = []
    try:
        with transaction.atomic():
            form = (
                ConsentForm.objects.select_for_update(of=("self",))
                .select_related("municipality", "period")
                .get(pk=form.pk)
            )
            if form.submitted_at is not None:
                return form
            state = form_state(form.municipality, form.period, today)
            if not state.can_submit:
                raise ConsentRefused(refusal_message(state))
            refuse_blocked(state, form.consents.values_list("data_set_id", flat=True))
            user: User = request.user  # type: ignore[assignment]
            now = timezone.now()
            form.reference = _assign_reference(form, now)
            form.submitted_at = now
            form.decided_on = timezone.localdate(now)
            form.submitted_by_name = user.display_name
            content = csv_bytes(csv_rows(form))
            form.file_name = csv_file_name(form)
            stored_name = default_storage.save(_storage_name(now), ContentFile(content))
            # Runs first of the commit callbacks: from then on the file belongs to the form.
            transaction.on_commit(lambda: committed.append(True))
            form.stored_name = stored_name
            form.size = len(content)
            form.sha256 = hashlib.sha256(content).hexdigest()
            form.outbound_message = enqueue(
                kind=MessageKind.CONSENT,
                municipality=form.municipality,
                administratie=form.municipality.name,
                stored_name=form.stored_name,
                bestandsnaam=form.file_name,
                content_type=CSV_CONTENT_TYPE,
                size=form.size,
                sha256=form.sha256,
                referentienummer_bericht=form.reference,
                source=f"toestemming {form.reference}",
            )
            form.save()
            consents = list(form.consents.select_related("data_set"))
            record(
                AuditAction.SUBMISSION,
                request=request,
                municipality=form.municipality,
                target=form,
                message=f"toestemming {form.reference} {form.period.code}",
                reference=form.reference,
                period=form.period.code,
                answers={c.data_set.code: c.conclusion for c in consents},
                file_name=form.file_name,
                sha256=form.sha256,
            )
            consent_submitted.send(ConsentForm, form=form)
    except BaseException:
        if stored_name and not committed:  # rolled back: nothing may point at the file
            default_storage.delete(stored_name)
        raise
    logger.info("consent %s submitted for %s", form.reference, form.period.code)
    return form
