"""Seeds the 342 gemeenten of 2026 from CBS's list, so every database starts complete.

Later changes go through ``manage.py import_gemeenten``, which never deletes.
"""

import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parents[1] / "data" / "gemeenten-2026.csv"


def load(apps, schema_editor):
    Municipality = apps.get_model("organisations", "Municipality")
    with CSV.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    existing = set(Municipality.objects.values_list("code", flat=True))
    Municipality.objects.bulk_create(
        Municipality(code=row["gemeentecode"][2:], name=row["naam"], province=row["provincie"])
        for row in rows
        if row["gemeentecode"][2:] not in existing
    )


class Migration(migrations.Migration):
    dependencies = [("organisations", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
