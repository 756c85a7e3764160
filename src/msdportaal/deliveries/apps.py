from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveriesConfig(AppConfig):
    name = "msdportaal.deliveries"
    label = "deliveries"
    verbose_name = _("Aanleveringen")

    def ready(self) -> None:
        from . import checks  # noqa: F401
