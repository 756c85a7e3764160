"""Dutch names for the third-party apps in the IB admin (listed in INSTALLED_APPS instead
of the apps' own AppConfigs).

An app's name in the admin is its AppConfig's ``verbose_name`` ("Otp_Static" by default),
so it is set here. A model whose name the app does not mark for translation ("static
device", "TOTP device", "signing request") gets a Dutch name in ``ready()``: only the
name shown, not the model's Meta as migrations see it (``Options.original_attrs``), so no
migration of the app changes. Names the apps do mark for translation are in
``msdportaal/locale/nl``; field labels in the admin classes of ``thirdparty_admin.py``.
"""

from __future__ import annotations

from axes.apps import AppConfig as AxesAppConfig
from django.db.models import Model
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticAppConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpAppConfig
from simple_certmanager.apps import SimpleCertmanagerConfig


def rename(model: type[Model], singular: Promise, plural: Promise) -> None:
    model._meta.verbose_name = singular
    model._meta.verbose_name_plural = plural


class AxesConfig(AxesAppConfig):
    verbose_name = _("Inlogblokkades")


class OtpStaticConfig(OtpStaticAppConfig):
    verbose_name = _("Tweede factor: backuptokens")

    def ready(self) -> None:
        super().ready()
        rename(self.get_model("StaticDevice"), _("set backuptokens"), _("sets backuptokens"))
        rename(self.get_model("StaticToken"), _("backuptoken"), _("backuptokens"))


class OtpTotpConfig(OtpTotpAppConfig):
    verbose_name = _("Tweede factor: authenticator-apps")

    def ready(self) -> None:
        super().ready()
        rename(
            self.get_model("TOTPDevice"),
            _("authenticator-app (TOTP)"),
            _("authenticator-apps (TOTP)"),
        )


class CertManagerConfig(SimpleCertmanagerConfig):
    verbose_name = _("Certificaten")

    def ready(self) -> None:
        super().ready()
        rename(
            self.get_model("SigningRequest"),
            _("certificaataanvraag (CSR)"),
            _("certificaataanvragen (CSR)"),
        )
