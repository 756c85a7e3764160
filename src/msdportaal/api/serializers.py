"""What the API answers, field by field (also the OpenAPI document's schemas)."""

from __future__ import annotations

from rest_framework import serializers

#: The steps of a delivery on its way to CBS (``status`` and the timeline's ``stap``).
DELIVERY_STEPS = ["ontvangen", "doorgestuurd", "nieuwe-poging", "afgeleverd", "mislukt"]
UPLOAD_STATES = ["bezig", "geweigerd", "klaar-om-te-bevestigen", "bevestigd", "vervallen"]
#: CBS's verdict per CSV (reports.selectors.SetOutcome.code); "niet-doorgestuurd": the
#: outbox gave up, CBS has not got the file and IB is on it.
OUTCOMES = ["niet-aangeleverd", "wacht-op-cbs", "op-orde", "afgekeurd", "niet-doorgestuurd"]
CONSENT_STATES = [
    "gesloten",
    "nog-niet-open",
    "wacht-op-rapport",
    "open",
    "ingediend",
    "opnieuw-nodig",
]


class GemeenteSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="CBS-gemeentecode, vier cijfers.")
    naam = serializers.CharField()
    grondslag = serializers.CharField(help_text="Waarop de ketenmachtiging berust.")


class ExpectedSetSerializer(serializers.Serializer):
    set = serializers.CharField(help_text="Code van de set, bijvoorbeeld WMO_BASIS.")
    naam = serializers.CharField()
    periodecode = serializers.CharField()
    voorbeeld_bestandsnaam = serializers.CharField()
    aangeleverd = serializers.BooleanField()
    referentie = serializers.CharField(allow_null=True)
    doorsturen = serializers.CharField(allow_null=True, help_text="Stand van het doorsturen.")
    rapport = serializers.CharField(allow_null=True, help_text="Soort van het laatste rapport.")
    uitkomst = serializers.ChoiceField(
        choices=OUTCOMES,
        help_text="Wat CBS van de set vond, volgens het eigen laatste rapport van deze CSV "
        "(foutrapport of op-orde-rapport): zoals de kolom Uitkomst in het portaal.",
    )
    uitkomst_rapport = serializers.IntegerField(
        allow_null=True, help_text="Id van het rapport waarop de uitkomst rust."
    )


class ExpectedPeriodSerializer(serializers.Serializer):
    periode = serializers.CharField()
    naam = serializers.CharField()
    venster_open = serializers.DateField()
    deadline = serializers.DateField(help_text="Met het uitstel van deze gemeente, als dat er is.")
    dagen_over = serializers.IntegerField()
    volgende_stap = serializers.CharField()
    sets = ExpectedSetSerializer(many=True)


class ReportSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    soort = serializers.CharField()
    bestandsnaam = serializers.CharField()
    ontvangen_op = serializers.DateTimeField()
    download = serializers.CharField(help_text="Pad om het rapport te downloaden.")


class TimelineEventSerializer(serializers.Serializer):
    stap = serializers.ChoiceField(choices=DELIVERY_STEPS)
    moment = serializers.DateTimeField(allow_null=True)
    toelichting = serializers.CharField(allow_blank=True)


class DeliveredFileSerializer(serializers.Serializer):
    referentie = serializers.CharField()
    bestandsnaam = serializers.CharField()
    set = serializers.CharField()
    periodecode = serializers.CharField()
    grootte = serializers.IntegerField()
    vervangen = serializers.BooleanField()
    uitkomst = serializers.ChoiceField(choices=OUTCOMES[1:], help_text="Zie de verwachte sets.")


class DeliverySerializer(serializers.Serializer):
    referentie = serializers.CharField()
    bestandsnaam = serializers.CharField()
    soort = serializers.CharField()
    grootte = serializers.IntegerField()
    sha256 = serializers.CharField()
    ontvangen_op = serializers.DateTimeField()
    aangeleverd_door = serializers.CharField()
    na_deadline = serializers.BooleanField()
    status = serializers.ChoiceField(choices=DELIVERY_STEPS)
    bestanden = DeliveredFileSerializer(many=True)
    tijdlijn = TimelineEventSerializer(many=True)
    rapporten = ReportSummarySerializer(many=True)


class ReportSerializer(ReportSummarySerializer):
    periodecode = serializers.CharField(allow_blank=True)
    grootte = serializers.IntegerField()
    sha256 = serializers.CharField()
    aanlevering = serializers.CharField(allow_null=True, help_text="Referentie, als bekend.")


class ConsentSetSerializer(serializers.Serializer):
    set = serializers.CharField()
    periodecode = serializers.CharField()
    toestemming = serializers.BooleanField(allow_null=True)


class ConsentPeriodSerializer(serializers.Serializer):
    periode = serializers.CharField()
    status = serializers.ChoiceField(
        choices=[
            "gesloten",
            "nog-niet-open",
            "wacht-op-rapport",
            "open",
            "ingediend",
            "opnieuw-nodig",
        ]
    )
    formulier_open_vanaf = serializers.DateField()
    ingediend_op = serializers.DateTimeField(allow_null=True)
    referentie = serializers.CharField(allow_null=True)
    sets = ConsentSetSerializer(many=True)


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    soort = serializers.CharField()
    titel = serializers.CharField()
    tekst = serializers.CharField()
    moment = serializers.DateTimeField()


class RefusalSerializer(serializers.Serializer):
    bestandsnaam = serializers.CharField()
    melding = serializers.CharField()


class StagedEntrySerializer(serializers.Serializer):
    bestandsnaam = serializers.CharField()
    set = serializers.CharField()
    periodecode = serializers.CharField()
    grootte = serializers.IntegerField()
    na_deadline = serializers.BooleanField()
    waarschuwing = serializers.CharField(allow_blank=True)
    vervangt = serializers.CharField(allow_null=True, help_text="Referentie die dit vervangt.")


class UploadStatusSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bestandsnaam = serializers.CharField()
    lengte = serializers.IntegerField()
    ontvangen = serializers.IntegerField(help_text="Bytes ontvangen (Upload-Offset).")
    status = serializers.ChoiceField(choices=UPLOAD_STATES)
    verloopt_op = serializers.DateTimeField()
    inhoud = StagedEntrySerializer(many=True)
    weigeringen = RefusalSerializer(many=True)
    aanleveringen = serializers.ListField(child=serializers.CharField())


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
