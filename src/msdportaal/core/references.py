"""Reference numbers: the moment in Europe/Amsterdam time plus a 3-digit sequence."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IssuedReference


def format_reference(moment: datetime.datetime, sequence: int) -> str:
    local = timezone.localtime(moment)
    return f"{local:%Y%m%d-%H%M%S}-{sequence:03d}"


def allocate_reference(moment: datetime.datetime, issued_for: str) -> str:
    """The next free ``YYYYMMDD-HHMMSS-NNN`` for this moment, unique under concurrency.

    Runs inside the caller's transaction (a savepoint per try): a collision with a
    concurrent transaction is retried with the next number, and a full second moves on to
    the next second.
    """
    while True:
        prefix = format_reference(moment, 0)[:-3]
        last = (
            IssuedReference.objects.filter(reference__startswith=prefix)
            .order_by("-reference")
            .values_list("reference", flat=True)
            .first()
        )
        sequence = int(last[-3:]) + 1 if last else 1
        if sequence > 999:
            moment += datetime.timedelta(seconds=1)
            continue
        reference = format_reference(moment, sequence)
        try:
            with transaction.atomic():
                IssuedReference.objects.create(reference=reference, issued_for=issued_for)
        except IntegrityError:
            continue
        return reference
