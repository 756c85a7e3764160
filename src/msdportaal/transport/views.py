from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from msdportaal.core.storage import open_stored

from .client_certs import identify
from .models import ClientPurpose, OutboundMessage
from .ranges import ranged_file_response


@require_http_methods(["GET", "HEAD"])
def gb_download(request: HttpRequest, token: str) -> HttpResponse:
    """Digikoppeling Grote Berichten (pull): RINIS fetches a large file here.

    Only a registered RINIS certificate gets anything; everyone else — and RINIS after
    the expiry — gets the same 404, so the URL gives nothing away.
    """
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
