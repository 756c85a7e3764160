import datetime

import django.db.models.deletion
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import migrations, models


def fill_dates(apps, schema_editor):
    ReportingPeriod = apps.get_model("periods", "ReportingPeriod")
    for period in ReportingPeriod.objects.all():
        year, half = int(period.code[:4]), 1 if period.code.endswith("HJ01") else 2
        opens = datetime.date(year, 7, 1) if half == 1 else datetime.date(year + 1, 1, 1)
        period.window_opens = opens
        period.deadline = opens + relativedelta(months=settings.MSD_DELIVERY_WINDOW_MONTHS) - datetime.timedelta(days=1)
        period.consent_opens = opens + relativedelta(months=settings.MSD_CONSENT_OPENS_AFTER_MONTHS)
        period.save()


class Migration(migrations.Migration):
    dependencies = [
        ("organisations", "0002_load_gemeenten"),
        ("periods", "0002_default_data_sets"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportingperiod",
            name="window_opens",
            field=models.DateField(default=datetime.date(2000, 1, 1), verbose_name="aanleverperiode opent",
                                   help_text="Standaard de eerste dag van de maand na het einde van de periode."),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="reportingperiod",
            name="deadline",
            field=models.DateField(default=datetime.date(2000, 1, 1), verbose_name="deadline",
                                   help_text="Laatste dag van de aanleverperiode. Verschuiven geldt voor alle gemeenten."),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="reportingperiod",
            name="consent_opens",
            field=models.DateField(default=datetime.date(2000, 1, 1), verbose_name="toestemmingsformulier opent",
                                   help_text="Vanaf deze dag kunnen gemeenten met een op-orde-rapport toestemming geven."),
            preserve_default=False,
        ),
        migrations.RunPython(fill_dates, migrations.RunPython.noop),
        migrations.CreateModel(
            name="DeadlineExtension",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("deadline", models.DateField(verbose_name="deadline voor deze gemeente")),
                ("reason", models.CharField(blank=True, max_length=200, verbose_name="reden")),
                ("municipality", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="deadline_extensions",
                                                   to="organisations.municipality", verbose_name="gemeente")),
                ("period", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="extensions",
                                             to="periods.reportingperiod", verbose_name="verslagperiode")),
            ],
            options={"verbose_name": "uitstel", "verbose_name_plural": "uitstel per gemeente"},
        ),
        migrations.AddConstraint(
            model_name="deadlineextension",
            constraint=models.UniqueConstraint(fields=("period", "municipality"), name="one_extension_per_period"),
        ),
    ]
