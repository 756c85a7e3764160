"""``manage.py verify_audit_trail``: walks the audit trail's hash chain (audit/chain.py).

Exit code 0 and the head hash when every link holds; otherwise the first broken link and
exit code 1. Keep the printed head hash somewhere outside the database (a log collector):
a later run that ends in another hash for the same entry means the past was rewritten.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from msdportaal.audit.chain import verify


class Command(BaseCommand):
    help = "Controleert de hashketen van de audittrail en meldt de eerste verbroken schakel."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if result.broken is not None:
            broken = result.broken
            where = f"regel {broken.entry_id}" if broken.entry_id else "de audittrail"
            if broken.timestamp is not None:
                when = timezone.localtime(broken.timestamp).strftime("%Y-%m-%d %H:%M:%S")
                where += f" ({when})"
            raise CommandError(
                f"Audittrail NIET in orde: {where} {broken.reason}. "
                f"{result.checked} regel(s) ervoor zijn in orde."
            )
        self.stdout.write(
            f"Audittrail in orde: {result.checked} regel(s), laatste hash {result.head_hash}."
        )
