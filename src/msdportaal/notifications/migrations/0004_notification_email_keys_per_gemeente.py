"""Notification e-mails go through the outbox like receipts (stored, retried by the
sweeper), under a key that names the gemeente too.

Rows of the old path (rendered when sent: no subject stored, no ``next_attempt_at``):

- sent ones get the new key, ``<gemeentecode>:<event key>``, so the hourly run does not
  send them again under it;
- unsent ones (*pending*/*failed*) hold nothing that can be sent: they are removed, and
  the hourly run queues the e-mail afresh while its event is still due.
"""

from django.db import migrations
from django.db.models import Q


def forwards(apps, schema_editor):
    EmailLedger = apps.get_model("notifications", "EmailLedger")
    old_path = EmailLedger.objects.filter(subject="", next_attempt_at__isnull=True)
    old_path.exclude(state="sent").delete()
    rows = []
    for row in (
        old_path.filter(state="sent", municipality__isnull=False)
        .select_related("municipality")
        .iterator(chunk_size=2000)
    ):
        row.key = f"{row.municipality.code}:{row.key}"[:150]
        rows.append(row)
        if len(rows) == 2000:
            EmailLedger.objects.bulk_update(rows, ["key"])
            rows = []
    EmailLedger.objects.bulk_update(rows, ["key"])


def backwards(apps, schema_editor):
    EmailLedger = apps.get_model("notifications", "EmailLedger")
    for row in EmailLedger.objects.filter(
        ~Q(municipality=None), subject="", next_attempt_at__isnull=True
    ).select_related("municipality"):
        prefix = f"{row.municipality.code}:"
        if row.key.startswith(prefix):
            row.key = row.key[len(prefix) :]
            row.save(update_fields=["key"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_admin_dutch_labels")]

    operations = [migrations.RunPython(forwards, backwards)]
