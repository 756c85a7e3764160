"""Systems that deliver without a browser: who they are and what they may do.

A system proves who it is with its services certificate (PKIoverheid in production),
which IB registers here. A gemeente's own system acts for that gemeente; a supplier
(a shared-service organisation, a software vendor) acts for every gemeente it holds a
ketenmachtiging of, each recorded with when and on what basis it was granted.

Every system has a service account (:class:`~msdportaal.organisations.models.User`
without a password or eHerkenning identity, so it cannot log in to the web pages). The
deliveries it confirms carry that account, exactly as a person's carry theirs: one set of
services, no second rulebook.
"""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SystemClient(models.Model):
    name = models.CharField(
        _("organisatie"),
        max_length=200,
        help_text=_("De gemeente of leverancier die dit systeem beheert."),
    )
    certificate = models.ForeignKey(
        "simple_certmanager.Certificate",
        verbose_name=_("certificaat"),
        on_delete=models.PROTECT,
        help_text=_("Het services-certificaat (PKIoverheid) waarmee het systeem zich meldt."),
    )
    fingerprint_sha256 = models.CharField(
        _("SHA-256-vingerafdruk"), max_length=64, unique=True, editable=False
    )
    municipalities = models.ManyToManyField(
        "organisations.Municipality",
        through="Ketenmachtiging",
        verbose_name=_("gemeenten"),
        related_name="system_clients",
    )
    contact_email = models.EmailField(
        _("e-mailadres voor ontvangstbevestigingen"),
        help_text=_("Hierheen gaan de ontvangstbevestigingen van aanleveringen via dit systeem."),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("serviceaccount"),
        on_delete=models.PROTECT,
        editable=False,
        related_name="system_client",
    )
    active = models.BooleanField(_("actief"), default=True)
    revoked_at = models.DateTimeField(_("ingetrokken op"), null=True, blank=True)
    created_at = models.DateTimeField(_("geregistreerd op"), auto_now_add=True)

    class Meta:
        verbose_name = _("systeemkoppeling")
        verbose_name_plural = _("systeemkoppelingen")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.fingerprint_sha256 = self.certificate.certificate.fingerprint(hashes.SHA256()).hex()
        with transaction.atomic():
            if self.user_id is None:
                self.user = _service_account(self)
            else:
                self.user.email = self.contact_email
                self.user.first_name = str(self.display_name)[:150]
                self.user.save(update_fields=["email", "first_name"])
            super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def display_name(self) -> str:
        return _("Systeemkoppeling %(name)s") % {"name": self.name}

    @property
    def usable(self) -> bool:
        return self.active and self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


def _service_account(client: SystemClient):  # type: ignore[no-untyped-def]
    from msdportaal.organisations.models import User

    user = User(
        username=f"systeem-{uuid.uuid4().hex[:12]}",
        email=client.contact_email,
        first_name=str(client.display_name)[:150],
    )
    user.set_unusable_password()
    user.save()
    return user


class Ketenmachtiging(models.Model):
    """The right of a system to act for one gemeente."""

    client = models.ForeignKey(SystemClient, on_delete=models.CASCADE, related_name="machtigingen")
    municipality = models.ForeignKey(
        "organisations.Municipality", verbose_name=_("gemeente"), on_delete=models.CASCADE
    )
    basis = models.CharField(
        _("grondslag"),
        max_length=200,
        blank=True,
        help_text=_("Bijvoorbeeld het kenmerk van de ketenmachtiging of de eigen gemeente."),
    )
    granted_at = models.DateTimeField(_("verleend op"), default=timezone.now)

    class Meta:
        verbose_name = _("ketenmachtiging")
        verbose_name_plural = _("ketenmachtigingen")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "municipality"], name="one_machtiging_per_gemeente"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} → {self.municipality}"


class TusUpload(models.Model):
    """A resumable upload (tus 1.0.0) on its way in: its bytes wait in ``MSD_TUS_DIR``.

    When the last byte arrives the file goes through the same checks as a web upload
    (:func:`msdportaal.deliveries.services.stage_upload`) and waits in a batch for
    confirmation; the partial file is then removed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    municipality = models.ForeignKey("organisations.Municipality", on_delete=models.CASCADE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    file_name = models.CharField(max_length=255)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    #: While a PATCH writes, nobody else may (a lease: a request that died frees it later).
    writing_until = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        "deliveries.UploadBatch", null=True, blank=True, on_delete=models.SET_NULL
    )
    refusals = models.JSONField(default=list, blank=True)
    #: A system's upload is checked the moment it is complete; the web page's uploads wait
    #: until all files of one choice are in, and are then checked together, in one batch.
    staged_on_completion = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("hervatbare upload")
        verbose_name_plural = _("hervatbare uploads")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.offset}/{self.length})"
