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
