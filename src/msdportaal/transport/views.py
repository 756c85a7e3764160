from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import get_resolver
from django.utils import timezone

from msdportaal.core.storage import open_stored

from .client_certs import identify
from .models import ClientPurpose, OutboundMessage
from .ranges import ranged_file_response


def gb_download(request: HttpRequest, token: str) -> HttpResponse:
    """Digikoppeling Grote Berichten (pull): RINIS fetches a large file here.

    Only a registered RINIS certificate gets anything; everyone else — and RINIS after
    the expiry — gets the same 404, so the URL gives nothing away.
    """
    # Django logs every 4xx/5xx answer as "<reason>: <path>", which would put the token (a
    # capability) in the log; marked as logged, only the request line the request-id
    # middleware writes remains, and that has the token replaced by "***".
    if request.method not in ("GET", "HEAD"):
        response: HttpResponse = HttpResponseNotAllowed(["GET", "HEAD"])
    else:
        try:
            response = _gb_download(request, token)
        except Http404 as exc:  # the portal's own 404 page
            response = get_resolver().resolve_error_handler(404)(request, exception=exc)
    if response.status_code >= 400:
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _gb_download(request: HttpRequest, token: str) -> HttpResponse:
    if identify(request, ClientPurpose.GB_DOWNLOAD) is None:
        raise Http404
    try:
        message = OutboundMessage.objects.get(gb_token=token)
    except OutboundMessage.DoesNotExist as exc:
        raise Http404 from exc
    if message.gb_expires_at is None or message.gb_expires_at <= timezone.now():
        raise Http404
    try:
        handle = open_stored(message.stored_name)
    except FileNotFoundError as exc:  # removed at the end of its retention term
        raise Http404 from exc
    return ranged_file_response(
        request,
        handle,
        size=message.size,
        etag=message.sha256,
        content_type=message.content_type,
        filename=message.bestandsnaam,
    )
