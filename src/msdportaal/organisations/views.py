from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from msdportaal.core.security import local_path

from . import profile_sections
from .decorators import municipal_user_required
from .eherkenning import services as eherkenning
from .forms import ChooseMunicipalityForm, DevLoginForm, ProfileForm
from .identity import MunicipalIdentity
from .services import choose_municipality, log_in_municipal_user, update_profile
from .session import login_municipalities


def _next_url(request: HttpRequest, default: str = "overview:index") -> str:
    """Where to go after this page: a local path from ``next``, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next")
    return local_path(request, candidate) or (reverse(default) if default else "")


def login_page(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and not request.user.is_staff:
        return redirect("overview:index")
    next_url = _next_url(request, default="")
    return render(
        request,
        "organisations/login.html",
        {
            "next": next_url,
            "dev_login_enabled": settings.DEV_LOGIN_ENABLED,
            "eherkenning_login_url": eherkenning.login_url(next_url),
        },
    )


@require_http_methods(["GET", "POST"])
def dev_login(request: HttpRequest) -> HttpResponse:
    """Development and demo only: log in as anyone for any gemeente, no eHerkenning."""
    if not settings.DEV_LOGIN_ENABLED:
        raise Http404
    form = DevLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        municipality = form.cleaned_data["municipality"]
        codes = (municipality.code, *form.cleaned_data["extra_codes"])
        email = form.cleaned_data["email"].lower()
        first, _sep, last = form.cleaned_data["name"].strip().partition(" ")
        identity = MunicipalIdentity(
            pseudonym="dev-" + hashlib.sha256(email.encode()).hexdigest()[:32],
            organisation_name=municipality.name,
            municipality_codes=codes,
            method="ontwikkel-login",
            intermediary="Intermediair (ontwikkel-login)" if len(codes) > 1 else "",
            first_name=first,
            last_name=last,
            email=email,
        )
        log_in_municipal_user(request, identity)
        return redirect(_next_url(request))
    return render(
        request, "organisations/dev_login.html", {"form": form, "next": _next_url(request, "")}
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("organisations:logged_out")


def logged_out(request: HttpRequest) -> HttpResponse:
    return render(request, "organisations/logged_out.html")


@municipal_user_required
@require_http_methods(["GET", "POST"])
def choose(request: HttpRequest) -> HttpResponse:
    # Only the gemeenten of this session's login, never those of another login.
    municipalities = login_municipalities(request)
    form = ChooseMunicipalityForm(
        request.POST or None,
        municipalities=municipalities,
        initial={"municipality": request.acting_municipality},
    )
    if request.method == "POST" and form.is_valid():
        choose_municipality(request, form.cleaned_data["municipality"])
        messages.success(
            request,
            _("U handelt nu namens %(name)s.") % {"name": form.cleaned_data["municipality"].name},
        )
        return redirect(_next_url(request))
    return render(
        request, "organisations/choose.html", {"form": form, "next": _next_url(request, "")}
    )


@municipal_user_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    first_time = user.profile_completed_at is None
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "phone": user.phone,
        },
    )
    if request.method == "POST" and form.is_valid():
        update_profile(request, user, **form.cleaned_data)
        messages.success(request, _("Uw gegevens zijn opgeslagen."))
        return redirect(_next_url(request))
    return render(
        request,
        "organisations/profile.html",
        {
            "form": form,
            "first_time": first_time,
            # eHerkenning gives no name or e-mail address, but a login method may (the
            # development login does): the intro never says fields are empty when they are not.
            "prefilled": any(form.initial.values()),
            "next": _next_url(request, ""),
            "sections": [] if first_time else profile_sections.render(request),
        },
    )
