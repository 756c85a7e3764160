from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from msdportaal.organisations.models import User

DEMO_ADMIN_USERNAME = "beheerder"
DEMO_ADMIN_PASSWORD = "beheerder-demo"  # noqa: S105 - development only, refused elsewhere


class Command(BaseCommand):
    help = "Laadt demogegevens voor de ontwikkelomgeving (idempotent). Weigert buiten development."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENVIRONMENT != "development":
            raise CommandError("Demogegevens laden kan alleen met MSD_ENVIRONMENT=development.")
        admin, created = User.objects.get_or_create(
            username=DEMO_ADMIN_USERNAME,
            defaults={
                "is_staff": True,
                "is_superuser": True,
                "first_name": "IB",
                "last_name": "Beheerder",
                "email": "beheer@example.org",
            },
        )
        if created:
            admin.set_password(DEMO_ADMIN_PASSWORD)
            admin.save()
        self._transport()
        self._systems()
        self.stdout.write(
            f"Beheer: /{settings.MSD_ADMIN_PATH}/ als {DEMO_ADMIN_USERNAME} / "
            f"{DEMO_ADMIN_PASSWORD} "
            "(tweede factor overgeslagen in development)"
        )

    def _transport(self) -> None:
        """The simulator plays RINIS: trust its development certificate (by OIN)."""
        from msdportaal.transport.models import TransportConfiguration, TrustedClient
        from rinis_simulator.devcerts import RINIS_OIN

        TrustedClient.objects.get_or_create(
            oin=RINIS_OIN, defaults={"name": "RINIS (simulator, ontwikkelcertificaat)"}
        )
        config = TransportConfiguration.get_solo()
        if not config.ib_alert_email:
            config.ib_alert_email = "functioneel-beheer@ib.example"
            config.save()

    def _systems(self) -> None:
        """The development certificates of a supplier and of Amsterdam's own system are
        registered systems, so ``msd-aanlever`` works against ``make run`` (docs/api.md)."""
        from pathlib import Path

        from django.core.files.base import ContentFile
        from simple_certmanager.constants import CertificateTypes
        from simple_certmanager.models import Certificate

        from msdportaal.api.models import Ketenmachtiging, SystemClient
        from msdportaal.organisations.models import Municipality

        certs = Path(settings.VAR_DIR) / "certs"
        for stem, name, codes in (
            ("supplier-system", "Leverancier (ontwikkeling)", ["0363", "0344", "0599"]),
            ("gemeente-system", "Gemeente Amsterdam (ontwikkeling)", ["0363"]),
        ):
            pem = certs / f"{stem}.pem"
            if not pem.exists() or SystemClient.objects.filter(name=name).exists():
                continue
            certificate = Certificate.objects.create(
                label=name,
                type=CertificateTypes.cert_only,
                public_certificate=ContentFile(pem.read_bytes(), name=f"{stem}.pem"),
            )
            client = SystemClient.objects.create(
                name=name, certificate=certificate, contact_email="systeem@example.org"
            )
            for municipality in Municipality.objects.filter(code__in=codes):
                Ketenmachtiging.objects.create(
                    client=client, municipality=municipality, basis="ontwikkeling"
                )
            self.stdout.write(f"Systeemkoppeling: {name} ({certs / stem}.pem)")
