"""Resumable uploads for people: the upload page sends its files with tus-js-client.

The same tus endpoints as systems get (:mod:`.tus`), authenticated by the portal session
(with its CSRF token) instead of a certificate, for the gemeente the session acts for.
Each file is sent on its own and may resume after a dropped connection; when all files
of one choice are in, the page posts their ids to :func:`finish`, which checks them
together, in one batch, through the upload page's own answer
(:func:`msdportaal.deliveries.views.respond_to_upload`). Without JavaScript the page
posts the plain multipart form, as before.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from msdportaal.deliveries.views import _upload_context, respond_to_upload
from msdportaal.organisations.decorators import acting_municipality_required
from msdportaal.organisations.scoping import for_acting_municipality
from msdportaal.organisations.services import needs_profile

from . import uploads
from .models import TusUpload
from .tus import UploadCreateView, UploadView


class MunicipalSession(BasePermission):
    """A logged-in gemeente user with a completed profile and a chosen gemeente."""

    message = _("Log in op het portaal en kies een gemeente om aan te leveren.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user is not None
            and user.is_authenticated
            and not user.is_staff
            and not needs_profile(user)
            and getattr(request._request, "acting_municipality", None) is not None
        )


class WebTusMixin:
    authentication_classes = [SessionAuthentication]  # with Django's CSRF check
    permission_classes = [MunicipalSession]
    throttle_classes: list[Any] = []
    staged_on_completion = False
    schema = None  # the page's own endpoints, not part of the API document

    def act_for_gemeente(self, request: Request, code: str | None) -> None:
        """The session's own gemeente (organisations' middleware has set it)."""

    def location(self, upload: TusUpload, code: str) -> str:
        return reverse("api:web_upload", kwargs={"upload_id": upload.pk})

    def uploads(self, request: Request) -> Any:
        # A person resumes only their own uploads, not a colleague's.
        return TusUpload.objects.filter(created_by=request.user, staged_on_completion=False)


class WebUploadCreateView(WebTusMixin, UploadCreateView):  # type: ignore[misc]
    pass


class WebUploadView(WebTusMixin, UploadView):  # type: ignore[misc]
    pass


def _ids(values: list[str]) -> set[uuid.UUID]:
    ids = set()
    for value in values:
        try:
            ids.add(uuid.UUID(value))
        except ValueError:
            continue
    return ids


@acting_municipality_required
@require_POST
def finish(request: HttpRequest) -> HttpResponse:
    """All files of one choice are in: check them together, as the plain form would."""
    ids = _ids(request.POST.getlist("uploads"))
    with transaction.atomic():
        found = list(
            for_acting_municipality(TusUpload.objects.select_for_update(), request).filter(
                pk__in=ids,
                created_by=request.user,
                staged_on_completion=False,
                completed_at__isnull=False,
            )
        )
        if not ids or len(found) != len(ids):
            return render(
                request,
                "deliveries/upload.html",
                _upload_context(
                    request,
                    error=_(
                        "Niet alle bestanden zijn helemaal aangekomen, of ze zijn al verwerkt. "
                        "Er is niets aangeleverd. Kies de bestanden opnieuw en upload ze nog eens."
                    ),
                ),
                status=400,
            )
        files = [uploads.assemble(upload) for upload in found]
        try:
            response = respond_to_upload(request, files, [])
        finally:
            for file in files:
                file.close()
        for upload in found:
            TusUpload.objects.filter(pk=upload.pk).delete()  # keeps upload.pk for its parts
    for upload in found:
        uploads.remove_parts(upload)
    return response
