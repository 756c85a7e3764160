"""The five sets CBS asks for, with the default naming convention (DESIGN.md §3.2)."""

from django.db import migrations

HALF = r"(?P<periode>\d{4}HJ0[12])"
YEAR = r"(?P<periode>\d{4}JJ00)"
SETS = [
    ("WMO_BASIS", "WMO basisset", "iWMO", "halfjaarlijks", "WMO-BASIS", HALF, 1),
    ("WMO_KOSTEN", "WMO kostenset", "iWMO", "halfjaarlijks", "WMO-KOSTEN", HALF, 2),
    ("WMO_FACULTATIEF", "WMO facultatieve set", "iWMO", "halfjaarlijks", "WMO-FACULTATIEF", HALF, 3),
    ("KOSTEN_JW", "Kosten jeugdwet", "Kosten JW", "jaarlijks", "KOSTEN-JW", YEAR, 4),
    ("KOSTEN_SBO", "Kosten SBO", "Kosten SBO", "jaarlijks", "KOSTEN-SBO", YEAR, 5),
]
QUESTION = "Geeft u CBS toestemming om de cijfers van uw gemeente over de {name} te publiceren?"


def create(apps, schema_editor):
    DataSet = apps.get_model("periods", "DataSet")
    for code, name, kind, frequency, token, period, order in SETS:
        DataSet.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "file_kind": kind,
                "frequency": frequency,
                "file_name_token": token,
                "naming_pattern": rf"^MSD_{token}_(?P<gemeentecode>\d{{4}})_{period}\.csv$",
                "naming_mode": "enforce",
                "consent_question": QUESTION.format(name=name),
                "order": order,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("periods", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
