from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """Running the portal: health and readiness, metrics, structured logs, retention."""

    name = "msdportaal.operations"
    label = "operations"
    verbose_name = _("Beheer en bewaking")

    def ready(self) -> None:
        from . import signals  # noqa: F401
