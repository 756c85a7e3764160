"""The default consent question named the set in lower case ("over de wmo basisset"); it
now keeps the set's own name ("over de WMO basisset"). Questions IB changed stay as they are."""

from django.db import migrations

QUESTION = "Geeft u CBS toestemming om de cijfers van uw gemeente over de {name} te publiceren?"


def keep_set_names(apps, schema_editor):
    DataSet = apps.get_model("periods", "DataSet")
    for data_set in DataSet.objects.all():
        if data_set.consent_question == QUESTION.format(name=data_set.name.lower()):
            data_set.consent_question = QUESTION.format(name=data_set.name)
            data_set.save(update_fields=["consent_question"])


class Migration(migrations.Migration):
    dependencies = [("periods", "0004_deadlineextension_granted_at")]
    operations = [migrations.RunPython(keep_set_names, migrations.RunPython.noop)]
