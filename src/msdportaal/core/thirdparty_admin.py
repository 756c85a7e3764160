"""The third-party apps' admin pages, re-registered with Dutch labels and the portal's
accessible forms (called from :meth:`msdportaal.core.apps.CoreConfig.ready`, after the
admin registered the apps' own classes). Each class keeps everything of the app's own
class (its views, actions, permissions) and only renames and labels.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from digid_eherkenning.admin import ConfigCertificateAdmin
from digid_eherkenning.models import ConfigCertificate
from django.contrib import admin, messages
from django.db.models import Model
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin, StaticTokenInline
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from privates.views import PrivateMediaView
from simple_certmanager.admin import CertificateAdmin, SigningRequestAdmin
from simple_certmanager.models import Certificate, SigningRequest

from .admin import AccessibleFormsMixin, DutchLabelsMixin

#: django-otp's device fields (otp_static and otp_totp share them).
DEVICE_LABELS = {
    "user": _("gebruiker"),
    "name": _("naam"),
    "confirmed": _("bevestigd"),
    "created_at": _("aangemaakt op"),
    "last_used_at": _("laatst gebruikt op"),
    "throttling_failure_timestamp": _("laatste mislukte poging"),
    "throttling_failure_count": _("mislukte pogingen op rij"),
}
DEVICE_HELP_TEXTS = {
    "user": _("De beheerder van wie deze tweede factor is."),
    "name": _("Een herkenbare naam."),
    "confirmed": _("Klaar voor gebruik."),
    "created_at": _("Wanneer deze tweede factor is aangemaakt."),
    "last_used_at": _("Wanneer deze tweede factor voor het laatst is gebruikt."),
    "throttling_failure_timestamp": _(
        "Wanneer de laatste mislukte poging was; daarna moet de beheerder even wachten."
    ),
    "throttling_failure_count": _("Hoeveel pogingen achter elkaar mislukten."),
}
DEVICE_FIELDSETS = {
    "Identity": _("Identiteit"),
    "Timestamps": _("Tijdstippen"),
    "Configuration": _("Instellingen"),
    "State": _("Toestand"),
    "Throttling": _("Wachttijd na mislukte pogingen"),
}
#: django-otp's English help text under the search box, gone: it also took the search
#: box's name (axe label-title-only); the list's filter names the user.
USER_SEARCH_HELP = None


class DutchStaticTokenInline(AccessibleFormsMixin, StaticTokenInline):
    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("labels", {"token": _("Backuptoken")})
        return super().get_formset(request, obj, **kwargs)


class DutchStaticDeviceAdmin(AccessibleFormsMixin, DutchLabelsMixin, StaticDeviceAdmin):
    labels = DEVICE_LABELS
    help_texts = DEVICE_HELP_TEXTS
    fieldset_names = DEVICE_FIELDSETS
    search_help_text = USER_SEARCH_HELP
    inlines = [DutchStaticTokenInline]


class DutchTOTPDeviceAdmin(AccessibleFormsMixin, DutchLabelsMixin, TOTPDeviceAdmin):
    labels = {
        **DEVICE_LABELS,
        "key": _("geheime sleutel"),
        "step": _("tijdstap (seconden)"),
        "t0": _("begin van de telling (t0)"),
        "digits": _("aantal cijfers"),
        "tolerance": _("speling (tijdstappen)"),
        "drift": _("afwijking van de klok (tijdstappen)"),
        "last_t": _("laatst gebruikte tijdstap"),
    }
    help_texts = {
        **DEVICE_HELP_TEXTS,
        "key": _("Hexadecimaal, hooguit 40 bytes."),
        "step": _("Hoe lang een code geldt."),
        "t0": _("Unix-tijd vanaf wanneer de tijdstappen tellen."),
        "digits": _("Hoeveel cijfers een code heeft."),
        "tolerance": _("Hoeveel tijdstappen een code te vroeg of te laat mag zijn."),
        "drift": _("Hoeveel tijdstappen de klok van de app bekend afwijkt."),
        "last_t": _("Een volgende code moet bij een latere tijdstap horen."),
    }
    fieldset_names = DEVICE_FIELDSETS
    search_help_text = USER_SEARCH_HELP

    @admin.display(description=_("QR-code"))
    def qrcode_link(self, device: TOTPDevice) -> str:
        return super().qrcode_link(device)


class DutchSigningRequestAdmin(AccessibleFormsMixin, DutchLabelsMixin, SigningRequestAdmin):
    labels = {
        "common_name": _("common name (CN)"),
        "organization_name": _("organisatie (O)"),
        "country_name": _("land (C)"),
        "state_or_province_name": _("provincie (ST)"),
        "locality_name": _("plaats (L)"),
        "email_address": _("e-mailadres"),
        "private_key": _("privésleutel"),
        "public_certificate": _("certificaat"),
    }

    @admin.display(description=_("aanvraag (CSR)"))
    def csr_link(self, obj: SigningRequest) -> str:
        return super().csr_link(obj)


class LookOnlyMixin:
    """Every field is written by django-axes: IB looks, and deletes an attempt to lift a
    lockout early; nothing to change, so the page is "… bekijken"."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DutchAccessFailureLogAdmin(LookOnlyMixin, AccessFailureLogAdmin):
    pass


class DutchAccessAttemptAdmin(LookOnlyMixin, AccessAttemptAdmin):
    @admin.action(description=_("Verlopen inlogpogingen opruimen"))
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: Any) -> None:
        count = self.handler.clean_expired_user_attempts(request=request)
        self.message_user(
            request,
            ngettext(
                "%d verlopen inlogpoging opgeruimd.", "%d verlopen inlogpogingen opgeruimd.", count
            )
            % count,
            messages.SUCCESS,
        )


class DutchConfigCertificateAdmin(AccessibleFormsMixin, ConfigCertificateAdmin):
    pass


class StoredPrivateMediaView(PrivateMediaView):
    """django-privates' permission check, then the file read through its storage.

    The library sends a path under SENDFILE_ROOT, which exists only on the local disk of
    the node that stored the file; with S3 the certificate is in the bucket, encrypted
    (``core/private_storage.py``), and any node reads it from there.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> FileResponse:
        field = getattr(self.get_object(), self.file_field)
        return FileResponse(
            field.storage.open(field.name, "rb"),
            as_attachment=True,
            filename=field.name.rsplit("/", 1)[-1],
            content_type="application/x-pem-file",
        )


class StoredCertificateAdmin(CertificateAdmin):
    private_media_view_class = StoredPrivateMediaView


def _replace(model: type[Model], model_admin: type[admin.ModelAdmin]) -> None:
    if not admin.site.is_registered(model):
        raise RuntimeError(f"{model.__name__} is not in the admin (yet): nothing to replace")
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


def register() -> None:
    _replace(StaticDevice, DutchStaticDeviceAdmin)
    _replace(TOTPDevice, DutchTOTPDeviceAdmin)
    _replace(SigningRequest, DutchSigningRequestAdmin)
    _replace(AccessAttempt, DutchAccessAttemptAdmin)
    _replace(AccessFailureLog, DutchAccessFailureLogAdmin)
    _replace(ConfigCertificate, DutchConfigCertificateAdmin)
    _replace(Certificate, StoredCertificateAdmin)
    # Successful logins are in the audit trail (AXES_DISABLE_ACCESS_LOG): this list would
    # always be empty.
    if admin.site.is_registered(AccessLog):
        admin.site.unregister(AccessLog)
