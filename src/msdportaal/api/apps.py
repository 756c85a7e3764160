from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "msdportaal.api"
    label = "api"
    verbose_name = _("Systeemkoppeling (API)")
