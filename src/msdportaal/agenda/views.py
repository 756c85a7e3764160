from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import get_resolver, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from msdportaal.organisations.decorators import acting_municipality_required

from . import services

CALENDAR_TYPE = "text/calendar; charset=utf-8"


def _calendar_response(body: bytes, *, filename: str = "") -> HttpResponse:
    response = HttpResponse(body, content_type=CALENDAR_TYPE)
    # A capability URL: no cache anywhere keeps it (and a renewed token is gone at once).
    response["Cache-Control"] = "private, no-store"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The subscription feed: no session, the token in the URL is the credential.

    An unknown, renewed or no longer valid token gets the portal's plain 404, and like the
    Grote Berichten download the 4xx is not logged with its path (which holds the token);
    the request line of the request-id middleware has it as ``***``.
    """
    if request.method not in ("GET", "HEAD"):
        response: HttpResponse = HttpResponseNotAllowed(["GET", "HEAD"])
    else:
        subscription = services.subscription_for_token(token)
        if subscription is None:
            response = get_resolver().resolve_error_handler(404)(request, exception=Http404())
        else:
            response = _calendar_response(services.feed(subscription.municipality))
    if response.status_code >= 400:
        response._has_been_logged = True  # type: ignore[attr-defined]
    response["Cache-Control"] = "private, no-store"
    return response


@acting_municipality_required
@require_safe
def deadline_event(request: HttpRequest, code: str) -> HttpResponse:
    """ "Zet in agenda": one deadline of the acting gemeente as an .ics file."""
    municipality = request.acting_municipality  # type: ignore[attr-defined]
    event = services.deadline_event(municipality, code)
    if event is None:
        raise Http404
    body = services.to_ical([event], name=services.calendar_name(municipality))
    return _calendar_response(body, filename=f"msd-deadline-{code}-{municipality.gm_code}.ics")


@acting_municipality_required
@require_POST
def renew(request: HttpRequest) -> HttpResponse:
    had_one = services.own_subscription(request) is not None
    services.renew(request)
    if had_one:
        messages.success(
            request,
            _(
                "Er is een nieuwe agenda-link gemaakt. De vorige link werkt niet meer: "
                "abonneer u in uw agenda opnieuw met de nieuwe link."
            ),
        )
    else:
        messages.success(request, _("Uw agenda-link is gemaakt."))
    return redirect(reverse("organisations:profile") + "#agenda")


def profile_section(request: HttpRequest) -> str:
    """The "Agenda" section of Mijn gegevens (organisations.profile_sections)."""
    municipality = getattr(request, "acting_municipality", None)
    subscription = services.own_subscription(request) if municipality else None
    url = services.feed_url(subscription) if subscription else ""
    webcal = "webcal://" + url.split("://", 1)[1] if url else ""
    return render_to_string(
        "agenda/includes/profile_section.html",
        {
            "municipality": municipality,
            "subscription": subscription,
            "feed_url": url,
            "webcal_url": webcal,
        },
        request=request,
    )
