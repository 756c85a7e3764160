"""The outbox: every message to RINIS, with its state, in the database (DESIGN.md §6).

The database is the source of truth. A message is created in the same transaction as
the thing it carries (a delivery, a consent CSV); Celery tasks only trigger sending,
and a periodic sweeper picks up whatever a lost task or a crashed worker left behind.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from solo.models import SingletonModel


class MessageKind(models.TextChoices):
    DELIVERY = "aanlevering", _("Aanlevering")
    CONSENT = "toestemming", _("Toestemming")


class MessageState(models.TextChoices):
    QUEUED = "queued", _("In de wachtrij")
    SENDING = "sending", _("Wordt verstuurd")
    DELIVERED = "delivered", _("Afgeleverd (Bv03)")
    RETRYING = "retrying", _("Nieuwe poging gepland")
    FAILED = "failed", _("Mislukt")


class TransportConfiguration(SingletonModel):
    """What IB can change in the admin without a deployment."""

    application_name = models.CharField(
        _("applicatienaam (zender.applicatie)"), max_length=50, default="MSDPortaal"
    )
    application_version = models.CharField(_("applicatieVersie"), max_length=4, default="0001")
    application_subversion = models.CharField(
        _("applicatieSubversie"), max_length=4, default="0000"
    )
    function_version = models.CharField(_("functieVersie"), max_length=4, default="0001")
    function_subversion = models.CharField(_("functieSubversie"), max_length=4, default="0000")
    functie_delivery = models.CharField(
        _("functie voor aanleveringen"), max_length=30, default="MSDAANLEVERING"
    )
    functie_consent = models.CharField(
        _("functie voor toestemmingen"), max_length=30, default="MSDTOESTEMMING"
    )
    retry_window_hours = models.PositiveIntegerField(
        _("opnieuw proberen gedurende (uren)"),
        default=72,
        help_text=_("Daarna geldt een bericht als mislukt en wordt IB ingelicht."),
    )
    gb_threshold_bytes = models.PositiveBigIntegerField(
        _("grens voor Grote Berichten (bytes)"),
        default=20 * 1024 * 1024,
        help_text=_("Een bericht dat groter zou worden, gaat via Digikoppeling Grote Berichten."),
    )
    gb_lifetime_hours = models.PositiveIntegerField(
        _("downloadtermijn Grote Berichten (uren)"), default=7 * 24
    )
    ib_alert_email = models.EmailField(
        _("e-mailadres IB voor alarmeringen"),
        blank=True,
        help_text=_("Hierheen gaat een bericht als een verzending definitief mislukt."),
    )
    client_certificate = models.ForeignKey(
        "simple_certmanager.Certificate",
        verbose_name=_("clientcertificaat richting RINIS"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Leeg: het certificaat uit MSD_RINIS_CLIENT_CERT / MSD_RINIS_CLIENT_KEY."),
    )
    server_ca_certificate = models.ForeignKey(
        "simple_certmanager.Certificate",
        verbose_name=_("CA-certificaat van RINIS"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Leeg: de CA-bundel uit MSD_RINIS_CA_BUNDLE."),
    )

    class Meta:
        verbose_name = _("instellingen berichtenverkeer")

    def __str__(self) -> str:
        return str(_("Instellingen berichtenverkeer"))

    def functie_for(self, kind: str) -> str:
        return self.functie_consent if kind == MessageKind.CONSENT else self.functie_delivery


class OutboundMessage(models.Model):
    """One StUF-GGk Di01 to RINIS. Every envelope field is fixed when the message is
    created, so a resend is byte-for-byte the same message (StUF 03.01 §4.4.3)."""

    kind = models.CharField(_("soort"), max_length=20, choices=MessageKind.choices)
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.PROTECT,
        related_name="outbound_messages",
    )
    # Envelope fields, frozen at creation.
    referentienummer = models.CharField(_("referentienummer (UUID)"), max_length=36, unique=True)
    tijdstip_bericht = models.CharField(_("tijdstipBericht"), max_length=17)
    functie = models.CharField(_("functie"), max_length=30)
    zender_applicatie = models.CharField(_("zender: applicatie"), max_length=50)
    zender_administratie = models.CharField(_("zender: administratie"), max_length=200)
    applicatie_versie = models.CharField(_("applicatieversie"), max_length=4)
    applicatie_subversie = models.CharField(_("applicatiesubversie"), max_length=4)
    functie_versie = models.CharField(_("functieversie"), max_length=4)
    functie_subversie = models.CharField(_("functiesubversie"), max_length=4)
    referentienummer_bericht = models.CharField(_("ons referentienummer"), max_length=40)
    bestandsnaam = models.CharField(_("bestandsnaam"), max_length=255)
    content_type = models.CharField(_("contenttype"), max_length=50)
    # The file, as stored by whoever handed it over (never copied).
    stored_name = models.CharField(_("opslaglocatie"), max_length=255)
    size = models.BigIntegerField(_("grootte (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Grote Berichten: set when the message is too big to carry the file inline.
    gb_token = models.CharField(
        _("token Grote Berichten"), max_length=64, unique=True, null=True, blank=True
    )
    gb_expires_at = models.DateTimeField(_("GB beschikbaar tot"), null=True, blank=True)
    #: The expiry announced in the message: fixed, so a resend is byte-identical even when
    #: IB's resend keeps the file available longer (``gb_expires_at``).
    gb_announced_expiry = models.DateTimeField(
        _("GB-vervaldatum in het bericht"), null=True, blank=True
    )
    # State machine.
    state = models.CharField(
        _("status"),
        max_length=10,
        choices=MessageState.choices,
        default=MessageState.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(_("pogingen"), default=0)
    next_attempt_at = models.DateTimeField(_("volgende poging"), null=True, blank=True)
    lease_until = models.DateTimeField(_("in behandeling tot"), null=True, blank=True)
    #: The process that holds the lease (``transport.leases``): a worker on the same machine
    #: can tell that it died and end its lease at once.
    lease_holder = models.CharField(
        _("in behandeling bij"), max_length=200, blank=True, db_default=""
    )
    #: Unique per claim: the outcome is written only by the attempt that still holds it.
    lease_token = models.CharField(max_length=32, blank=True, db_default="")
    #: When a task was last put on the broker for it: the sweeper leaves it to that task
    #: for a while instead of queuing a duplicate every sweep.
    triggered_at = models.DateTimeField(
        _("laatst aangeboden aan de wachtrij"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("aangemaakt"), auto_now_add=True)
    #: Retries go on until this moment plus the retry window; a manual resend restarts it.
    window_started_at = models.DateTimeField(_("pogingen sinds"), default=timezone.now)
    delivered_at = models.DateTimeField(_("afgeleverd op"), null=True, blank=True)
    failed_at = models.DateTimeField(_("mislukt op"), null=True, blank=True)
    last_error = models.TextField(_("laatste fout"), blank=True)
    source = models.CharField(_("bron"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("uitgaand bericht")
        verbose_name_plural = _("uitgaande berichten")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            # The ordering rule (services.claim) asks, per claim, whether an older message
            # of the same zender is unfinished: a small partial index answers that.
            models.Index(
                fields=["municipality", "tijdstip_bericht"],
                condition=models.Q(state__in=["queued", "sending", "retrying"]),
                name="outbox_unfinished_per_zender",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referentienummer_bericht} {self.bestandsnaam} ({self.get_state_display()})"

    @property
    def uses_grote_berichten(self) -> bool:
        return self.gb_token is not None


class AttemptOutcome(models.TextChoices):
    ACCEPTED = "bv03", _("Geaccepteerd (Bv03)")
    REFUSED = "fo03", _("Geweigerd (Fo03)")
    ERROR = "error", _("Fout")


class OutboundAttempt(models.Model):
    message = models.ForeignKey(
        OutboundMessage,
        verbose_name=_("bericht"),
        on_delete=models.CASCADE,
        related_name="attempt_log",
    )
    number = models.PositiveIntegerField(_("poging"))
    started_at = models.DateTimeField(_("begonnen"))
    finished_at = models.DateTimeField(_("klaar"), null=True, blank=True)
    outcome = models.CharField(
        _("uitkomst"), max_length=5, choices=AttemptOutcome.choices, blank=True
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP-status"), null=True, blank=True)
    stuf_code = models.CharField(_("StUF-foutcode"), max_length=10, blank=True)
    detail = models.TextField(_("toelichting"), blank=True)

    class Meta:
        verbose_name = _("verzendpoging")
        verbose_name_plural = _("verzendpogingen")
        ordering = ["message", "number"]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.number} {self.outcome}"


class ClientPurpose(models.TextChoices):
    GB_DOWNLOAD = "gb", _("Grote Berichten ophalen")
    INBOUND = "inbound", _("Berichten afleveren (rapporten)")


class TrustedClient(models.Model):
    """A party allowed to call us with its certificate (RINIS), registered by IB."""

    name = models.CharField(_("naam"), max_length=100)
    fingerprint_sha256 = models.CharField(
        _("SHA-256-vingerafdruk"),
        max_length=95,
        blank=True,
        help_text=_("Van het clientcertificaat, hexadecimaal (met of zonder dubbele punten)."),
    )
    oin = models.CharField(
        _("OIN"),
        max_length=20,
        blank=True,
        help_text=_("Of: het OIN in het serialNumber van het certificaat (PKIoverheid)."),
    )
    purposes = models.CharField(
        _("mag"),
        max_length=50,
        default="gb,inbound",
        help_text=_(
            "Komma-gescheiden: gb (Grote Berichten ophalen), inbound (rapporten afleveren)."
        ),
    )
    active = models.BooleanField(_("actief"), default=True)

    class Meta:
        verbose_name = _("vertrouwde partij")
        verbose_name_plural = _("vertrouwde partijen")

    def __str__(self) -> str:
        return self.name


class ReceivedMessage(models.Model):
    """Every Di01/Du01 RINIS delivered to us and we answered Bv03 (stored once).

    The same message again (same zender and referentienummer, same content) is answered
    Bv03 again without storing anything; the same referentienummer with other content is
    refused (StUF016).
    """

    zender_organisatie = models.CharField(_("zender"), max_length=20)
    referentienummer = models.CharField(_("referentienummer"), max_length=40)
    fingerprint = models.CharField(max_length=64)
    berichtcode = models.CharField(_("berichtcode"), max_length=4)
    functie = models.CharField(_("functie"), max_length=30)
    municipality = models.ForeignKey(
        "organisations.Municipality",
        verbose_name=_("gemeente"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    cross_refnummer = models.CharField(_("crossRefnummer"), max_length=40, blank=True)
    cross_refnummer_bericht = models.CharField(
        _("crossRefnummerBericht"), max_length=40, blank=True
    )
    bestandsnaam = models.CharField(_("bestandsnaam"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("ontvangen op"), auto_now_add=True)
    #: Our answer's referentienummer, so a repeated message gets the same Bv03.
    answer_referentienummer = models.CharField(max_length=40)
    answer_tijdstip = models.CharField(max_length=17)

    class Meta:
        verbose_name = _("ontvangen bericht")
        verbose_name_plural = _("ontvangen berichten")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["zender_organisatie", "referentienummer"], name="received_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.berichtcode} {self.referentienummer} → {self.municipality}"
