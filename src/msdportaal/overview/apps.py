from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OverviewConfig(AppConfig):
    """The start page: what a gemeente has done and what is still expected of it."""

    name = "msdportaal.overview"
    label = "overview"
    verbose_name = _("Overzicht")
