from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EherkenningConfig(AppConfig):
    name = "msdportaal.organisations.eherkenning"
    label = "msd_eherkenning"
    verbose_name = _("eHerkenning")

    def ready(self) -> None:
        from digid_eherkenning.models import DigidConfiguration
        from digid_eherkenning.models.digid import MockDigidUser
        from django.contrib import admin

        from . import checks  # noqa: F401  (registers the system checks)

        # The portal uses eHerkenning only: keep DigiD out of the IB admin.
        for model in (DigidConfiguration, MockDigidUser):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
