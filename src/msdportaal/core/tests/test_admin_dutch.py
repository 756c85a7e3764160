"""The IB admin speaks Dutch on every list and form, third-party apps included, and offers
no add, change or delete where IB must not (records the application writes)."""

from __future__ import annotations

import datetime
import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import AdminReadonlyField
from django.contrib.admin.templatetags.admin_list import result_headers
from django.core.exceptions import FieldDoesNotExist
from django.test import Client
from django.urls import reverse
from django.utils.text import capfirst

from msdportaal.consent.tests.factories import PREVIOUS, report, submit
from msdportaal.core.tests.admin_helpers import ib_administrator, ib_client
from msdportaal.deliveries.tests.factories import CURRENT, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.notifications.models import EmailLedger, Notification
from msdportaal.organisations.models import Municipality
from msdportaal.periods.models import DataSet, DeadlineExtension, ReportingPeriod
from msdportaal.transport.models import OutboundMessage

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "nl" / "LC_MESSAGES"

#: Field names that are Dutch words already, so their automatic label is Dutch too.
DUTCH_AS_IS = {"code", "deadline", "functie", "bestandsnaam", "details", "status", "token", "link"}


@pytest.fixture
def ib(client_a: Client, django_capture_on_commit_callbacks) -> Client:
    """An administrator, with a delivery, its message, the receipt in the e-mail log and
    a notification, so that every list has a row and every kind of page can be opened."""
    with django_capture_on_commit_callbacks(execute=True):
        upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert EmailLedger.objects.exists()
    Notification.objects.create(
        municipality=Municipality.objects.get(code="0363"),
        event="report",
        key="test",
        title="Nieuw rapport",
        body="Er staat een rapport klaar.",
    )
    ib = ib_client(ib_administrator())  # first: a successful login clears the failures
    # A wrong password at the admin login: django-axes records the attempt.
    Client().post(
        "/beheer/login/",
        {
            "admin_login_view-current_step": "auth",
            "auth-username": "ib-beheerder",
            "auth-password": "fout",
        },
    )
    assert AccessAttempt.objects.exists()
    return ib


def parse_po(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    current: dict[str, str] = {}
    key = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgid ", "msgstr ")):
            key, _sep, rest = line.partition(" ")
            current[key] = rest[1:-1]
        elif line.startswith('"') and key:
            current[key] += line[1:-1]
        elif not line.strip() and current:
            if current.get("msgid"):
                entries[current["msgid"].replace('\\"', '"')] = current["msgstr"]
            current, key = {}, ""
    return entries


def test_the_compiled_catalogue_matches_its_source():
    """django.mo is committed next to django.po; after an edit, `make messages`."""
    source = parse_po(LOCALE / "django.po")
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert len(source) > 50
    assert {msgid: compiled.gettext(msgid) for msgid in source} == source


def test_the_index_names_every_app_and_model_in_dutch(ib: Client):
    page = ib.get("/beheer/").content.decode()
    for english in (
        "Access attempts",
        "Access failures",
        "Access logs",
        "Axes",
        "Otp_Static",
        "Otp_Totp",
        "Static devices",
        "TOTP devices",
        "Simple_Certmanager",
        "Signing requests",
    ):
        assert f">{english}<" not in page, english
    for dutch in (
        "Inlogblokkades",
        "Mislukte inlogpogingen",
        "Tweede factor: backuptokens",
        "Sets backuptokens",
        "Tweede factor: authenticator-apps",
        "Authenticator-apps (TOTP)",
        "Certificaten",
        "Certificaataanvragen (CSR)",
        "Verstuurde e-mails",
        "Uitstel per gemeente",
    ):
        assert f">{dutch}<" in page, dutch


def automatic(model: Any, name: Any) -> str | None:
    """The label Django makes up from a field's name when nobody gave it one."""
    if not isinstance(name, str):
        return None
    try:
        field = model._meta.get_field(name.split("__")[0])
    except FieldDoesNotExist:
        return None
    if not hasattr(field, "verbose_name") or name in DUTCH_AS_IS:
        return None
    made_up = field.name.replace("_", " ")
    return capfirst(made_up) if str(field.verbose_name) == made_up else None


def labels_on_form(response: Any) -> list[tuple[str, str]]:
    """(field name, label) for every field of a change or add form, read-only ones too."""
    found = []
    for fieldset in response.context["adminform"]:
        for line in fieldset:
            for field in line:
                if isinstance(field, AdminReadonlyField):
                    found.append((field.field["name"], str(field.field["label"])))
                else:
                    found.append((field.field.name, str(field.field.label)))
    return found


def test_no_list_or_form_shows_an_english_field_name(ib: Client):
    """Every column, filter and form label of every model in the admin; a field Django
    would label with its English name must have been given a Dutch one."""
    seen = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = ib.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        if "cl" not in changelist.context:  # a singleton: its list is its one page
            continue
        cl = changelist.context["cl"]
        for name, header in zip(cl.list_display, result_headers(cl), strict=True):
            english = automatic(model, name)
            assert english is None or str(header["text"]) != english, (opts.label, name)
        for spec in cl.filter_specs:
            field_path = getattr(spec, "field_path", None)
            english = automatic(model, field_path)
            assert english is None or capfirst(str(spec.title)) != english, (
                opts.label,
                field_path,
            )
        obj = model_admin.get_queryset(changelist.wsgi_request).first()
        urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_add")]
        if obj is not None:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        for url in urls:
            form = ib.get(url)
            if form.status_code != 200:
                continue  # no adding here (checked below)
            for name, label in labels_on_form(form):
                english = automatic(model, name)
                assert english is None or capfirst(label) != english, (url, name, label)
            seen += 1
    assert seen > 20


def test_the_outbox_message_and_the_e_mail_log_read_dutch(ib: Client):
    message = OutboundMessage.objects.get()
    page = ib.get(f"/beheer/transport/outboundmessage/{message.pk}/change/").content.decode()
    assert "GB-vervaldatum in het bericht" in page
    assert "Gb announced expiry" not in page
    assert "Zender: applicatie" in page
    log = ib.get("/beheer/notifications/emailledger/").content.decode()
    for header in ("Aangemaakt op", "Status", "Ontvanger", "Onderwerp", "Pogingen"):
        assert re.search(rf">\s*{header}\s*<", log), header
    assert ">Created at<" not in log
    assert ">State<" not in log


def test_third_party_pages_read_dutch(ib: Client):
    attempts = ib.get("/beheer/axes/accessattempt/").content.decode()
    for dutch in ("Tijdstip", "IP-adres", "Gebruikersnaam", "Mislukte pogingen", "Geblokkeerd"):
        assert dutch in attempts, dutch
    devices = ib.get("/beheer/otp_totp/totpdevice/").content.decode()
    for dutch in ("Gebruiker", "Naam", "Aangemaakt op", "Laatst gebruikt op", "Bevestigd"):
        assert re.search(rf">\s*{dutch}\s*<", devices), dutch
    from django_otp.plugins.otp_totp.models import TOTPDevice

    pk = TOTPDevice.objects.get().pk  # not 1 on PostgreSQL, whose sequences go on
    device = ib.get(f"/beheer/otp_totp/totpdevice/{pk}/change/").content.decode()
    for dutch in ("Identiteit", "Tijdstippen", "Instellingen", "Tijdstap (seconden)"):
        assert dutch in device, dutch
    requests = ib.get("/beheer/simple_certmanager/signingrequest/add/").content.decode()
    for dutch in ("Gegevens van de houder", "Common name (CN)", "Organisatie (O)"):
        assert dutch in requests, dutch


def test_the_naming_convention_help_text_names_its_groups(ib: Client):
    data_set = DataSet.objects.get(code="WMO_BASIS")
    page = ib.get(f"/beheer/periods/dataset/{data_set.pk}/change/").content.decode()
    assert "(?P&lt;gemeentecode&gt;…) en (?P&lt;periode&gt;…)" in page


@pytest.mark.parametrize(
    ("model", "add", "delete"),
    [
        ("periods/dataset", False, False),
        ("periods/reportingperiod", False, False),
        ("notifications/emailledger", False, False),
        ("notifications/notification", False, False),
        ("audit/auditentry", False, False),
        ("deliveries/delivery", False, False),
        ("transport/outboundmessage", False, False),
        ("organisations/municipality", True, False),
        ("periods/deadlineextension", True, True),
    ],
)
def test_no_add_or_delete_where_ib_must_not(
    ib: Client, municipality_a: Municipality, model: str, add: bool, delete: bool
):
    app_label, model_name = model.split("/")
    if model_name == "deadlineextension":
        DeadlineExtension.objects.create(
            period=ReportingPeriod.objects.get(code=CURRENT),
            municipality=municipality_a,
            deadline=datetime.date(2026, 12, 31),
        )
    obj = apps.get_model(app_label, model_name)._default_manager.order_by("pk").first()
    base = f"/beheer/{app_label}/{model_name}/"
    listing = ib.get(base).content.decode()
    assert (f'href="{base}add/"' in listing) is add
    assert ib.get(f"{base}add/").status_code == (200 if add else 403)
    assert ib.get(f"{base}{obj.pk}/delete/").status_code == (200 if delete else 403)


@pytest.mark.parametrize(
    "path",
    [
        "notifications/emailledger",
        "notifications/notification",
        "audit/auditentry",
        "deliveries/delivery",
        "transport/outboundmessage",
        "reports/report",
        "consent/consentform",
    ],
)
def test_read_only_records_are_looked_at_not_changed(
    ib: Client, client_a: Client, municipality_a: Municipality, path: str
):
    """Their pages are "… bekijken" with only "Sluiten": no Opslaan, no "wijzigen", no way
    to add another or delete."""
    app_label, model_name = path.split("/")
    if model_name in ("report", "consentform"):
        report(municipality_a, PREVIOUS)
    if model_name == "consentform":
        submit(client_a, PREVIOUS, {"KOSTEN_JW": "nee"})
    obj = apps.get_model(app_label, model_name)._default_manager.order_by("pk").first()
    assert obj is not None, path
    page = ib.get(f"/beheer/{path}/{obj.pk}/change/").content.decode()
    title = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert title.endswith("bekijken"), title
    assert "wijzigen" not in title
    assert 'value="Opslaan' not in page
    assert "Sluiten" in page
    content = re.search(r'<div id="content-main">.*', page, re.S).group(0)
    assert not re.search(r">[^<]*toevoegen[^<]*<", content)  # no "Nog een … toevoegen"
    assert 'class="addlink"' not in content
    assert f"/beheer/{path}/{obj.pk}/delete/" not in page
