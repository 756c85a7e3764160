"""The audit trail becomes a hash chain (audit/chain.py): existing entries are chained in
the order they were written, and the chain's head row is created."""

import django.utils.timezone
from django.db import migrations, models


def chain_existing_entries(apps, schema_editor):
    # The canonical form is fixed for good (chain.CANONICAL_VERSION), so using it here is safe.
    from msdportaal.audit.chain import GENESIS, entry_hash

    AuditEntry = apps.get_model("audit", "AuditEntry")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    previous_hash, last_id = GENESIS, None
    for entry in AuditEntry.objects.order_by("pk").iterator(chunk_size=2000):
        entry.previous_hash = previous_hash
        entry.entry_hash = entry_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(
            previous_hash=entry.previous_hash, entry_hash=entry.entry_hash
        )
        previous_hash, last_id = entry.entry_hash, entry.pk
    AuditChainHead.objects.update_or_create(
        pk=1, defaults={"last_hash": previous_hash, "last_entry_id": last_id}
    )


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_retention_purge_action"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("last_hash", models.CharField(max_length=64)),
                ("last_entry_id", models.BigIntegerField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "einde van de audittrail",
            },
        ),
        migrations.AddField(
            model_name="auditentry",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="hash vorige regel"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="hash"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="timestamp",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name="tijdstip"),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(choices=[("login", "Ingelogd"), ("login_failed", "Inloggen mislukt"), ("login_locked_out", "Inloggen geblokkeerd (te veel pogingen)"), ("logout", "Uitgelogd"), ("municipality_chosen", "Gemeente gekozen"), ("profile_updated", "Profiel gewijzigd"), ("admin_addition", "Beheer: toegevoegd"), ("admin_change", "Beheer: gewijzigd"), ("admin_deletion", "Beheer: verwijderd"), ("municipalities_imported", "Gemeentelijst bijgewerkt"), ("upload", "Bestand aangeleverd"), ("upload_refused", "Aanlevering geweigerd"), ("download", "Bestand gedownload"), ("submission", "Formulier ingediend"), ("message_resent", "Bericht opnieuw verstuurd"), ("retention_purge", "Bestand verwijderd (bewaartermijn)")], db_index=True, max_length=40, verbose_name="actie"),
        ),
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop, elidable=False),
    ]
