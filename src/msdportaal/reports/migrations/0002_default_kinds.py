"""Default functie codes for CBS's reports; IB can change them in the admin."""

from django.db import migrations

DEFAULTS = {"MSDFOUTRAPPORT": "foutrapport", "MSDOPORDE": "op_orde", "MSDRAPPORT": "overig"}


def create(apps, schema_editor):
    Mapping = apps.get_model("reports", "ReportKindMapping")
    for functie, kind in DEFAULTS.items():
        Mapping.objects.get_or_create(functie=functie, defaults={"kind": kind})


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
