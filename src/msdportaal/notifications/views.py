from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import (
    for_acting_municipality,
    get_for_acting_municipality_or_404,
)

from .forms import ContactForm
from .models import Contact, Event, Notification

#: The link under a notification says where it goes (not "Bekijken" everywhere).
LINK_TEXTS = {
    Event.WINDOW_OPENS: gettext_lazy("Naar Aanleveren"),
    Event.DEADLINE_REMINDER: gettext_lazy("Naar Aanleveren"),
    Event.REPORT: gettext_lazy("Naar het rapport"),
    Event.CONSENT_OPEN: gettext_lazy("Naar het toestemmingsformulier"),
    Event.CONSENT_REMINDER: gettext_lazy("Naar het toestemmingsformulier"),
    Event.CONSENT_REQUIRED_AGAIN: gettext_lazy("Naar het toestemmingsformulier"),
}


@acting_municipality_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Opening the list reads it: what was unread is marked "Ongelezen" on this visit only,
    and the menu's count is gone (the menu is rendered after the update)."""
    notifications = list(for_acting_municipality(Notification.objects.all(), request)[:200])
    unread = [n.pk for n in notifications if n.read_at is None]
    if unread:
        Notification.objects.filter(pk__in=unread, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    items = [
        (n, n.pk in unread, str(LINK_TEXTS.get(n.event) or _("Bekijken"))) for n in notifications
    ]
    return render(request, "notifications/inbox.html", {"items": items})


@acting_municipality_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    for_acting_municipality(Notification.objects.filter(read_at__isnull=True), request).update(
        read_at=timezone.now()
    )
    messages.success(request, _("Alle meldingen zijn als gelezen gemarkeerd."))
    return redirect("notifications:inbox")


@acting_municipality_required
@require_http_methods(["GET", "POST"])
def contacts(request: HttpRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                Contact.objects.create(
                    municipality=request.acting_municipality,  # type: ignore[attr-defined]
                    name=form.cleaned_data["name"],
                    email=form.cleaned_data["email"].lower(),
                    events=form.cleaned_data["events"],
                    added_by=request.user.email,
                )
        except IntegrityError:
            form.add_error("email", _("Dit e-mailadres staat al in de lijst."))
        else:
            messages.success(
                request,
                _("%(email)s ontvangt nu meldingen.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("notifications:contacts")
    people = for_acting_municipality(Contact.objects.all(), request)
    return render(request, "notifications/contacts.html", {"form": form, "contacts": people})


@acting_municipality_required
@require_http_methods(["GET", "POST"])
def edit_contact(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_for_acting_municipality_or_404(Contact.objects.all(), request, pk=pk)
    if request.method == "POST" and "remove" in request.POST:
        contact.delete()
        messages.success(
            request, _("%(email)s ontvangt geen meldingen meer.") % {"email": contact.email}
        )
        return redirect("notifications:contacts")
    form = ContactForm(
        request.POST or None,
        initial={"name": contact.name, "email": contact.email, "events": contact.events},
    )
    if request.method == "POST" and form.is_valid():
        contact.name, contact.events = form.cleaned_data["name"], form.cleaned_data["events"]
        contact.email = form.cleaned_data["email"].lower()
        try:
            with transaction.atomic():
                contact.save()
        except IntegrityError:
            form.add_error("email", _("Dit e-mailadres staat al in de lijst."))
        else:
            messages.success(request, _("De keuzes zijn opgeslagen."))
            return redirect("notifications:contacts")
    return render(request, "notifications/contact_edit.html", {"form": form, "contact": contact})
