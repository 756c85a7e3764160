from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransportConfig(AppConfig):
    name = "msdportaal.transport"
    label = "transport"
    verbose_name = _("Berichtenverkeer met RINIS")

    def ready(self) -> None:
        from . import checks  # noqa: F401
