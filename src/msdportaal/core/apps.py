from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "msdportaal.core"
    label = "core"
    verbose_name = _("Kern")

    def ready(self) -> None:
        from . import thirdparty_admin

        # After the admin registered every app's own classes (django.contrib.admin comes
        # first in INSTALLED_APPS): the third-party pages with Dutch labels.
        thirdparty_admin.register()
