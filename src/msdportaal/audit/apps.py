from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "msdportaal.audit"
    label = "audit"
    verbose_name = _("Audittrail")

    def ready(self) -> None:
        from . import signals  # noqa: F401
