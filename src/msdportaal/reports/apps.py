from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "msdportaal.reports"
    label = "reports"
    verbose_name = _("Rapporten van CBS")

    def ready(self) -> None:
        from msdportaal.deliveries.outcomes import register_outcome_provider
        from msdportaal.transport.inbound import register_handler

        from .selectors import file_outcomes
        from .services import store_report

        register_handler(store_report)
        register_outcome_provider(file_outcomes)
