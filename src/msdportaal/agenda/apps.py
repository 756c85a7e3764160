from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgendaConfig(AppConfig):
    """The gemeente's dates in its own calendar: a subscription feed per user and
    gemeente, and a single deadline as an .ics download."""

    name = "msdportaal.agenda"
    label = "agenda"
    verbose_name = _("Agenda")

    def ready(self) -> None:
        from msdportaal.organisations import profile_sections

        from .views import profile_section

        profile_sections.register(profile_section)
