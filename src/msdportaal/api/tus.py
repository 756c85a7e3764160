"""tus 1.0.0 over HTTP, with the creation, termination, checksum and expiration
extensions (https://tus.io/protocols/resumable-upload). The rules are in :mod:`.uploads`.

``/api/v1/gemeenten/<code>/uploads/`` creates; ``…/uploads/<id>/`` answers HEAD (how far),
PATCH (more bytes), DELETE (stop) and, outside tus, GET: the checks' outcome as JSON,
like the web's check page. ``…/uploads/<id>/bevestigen/`` confirms, like its button.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.http import http_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from msdportaal.deliveries.models import UploadBatch
from msdportaal.deliveries.selectors import staged_files
from msdportaal.deliveries.services import BatchGone, confirm_batch
from msdportaal.organisations.scoping import get_for_acting_municipality_or_404

from . import serializers, uploads
from .models import TusUpload
from .problems import Problem
from .views import GEMEENTE, GemeenteAPIView

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,checksum,expiration"
TUS_HEADERS = [
    OpenApiParameter("Tus-Resumable", str, OpenApiParameter.HEADER, required=True, enum=["1.0.0"])
]


def _expires(upload: TusUpload) -> str:
    return http_date(upload.expires_at.timestamp())


class TusView(GemeenteAPIView):
    staged_on_completion = True

    def location(self, upload: TusUpload, code: str) -> str:
        # Path-absolute (tus allows it): the scheme and host are the proxy's, not ours.
        return reverse("api:upload", kwargs={"code": code, "upload_id": upload.pk})

    def uploads(self, request: Request) -> Any:
        # A system sees its own uploads: not another system's, nor a person's from the page.
        return TusUpload.objects.filter(created_by=request.user, staged_on_completion=True)

    @staticmethod
    def require_tus(request: Request) -> None:
        """After the access checks, so a stranger learns nothing from a 412."""
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise Problem(
                412,
                "tus-versie",
                _("Stuur de kopregel Tus-Resumable: 1.0.0 mee; deze server spreekt tus 1.0.0."),
            )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if response.status_code == 412:
            response["Tus-Version"] = TUS_VERSION
        return response

    def _upload(self, request: Request, upload_id: Any, *, tus: bool = True) -> TusUpload:
        upload = get_for_acting_municipality_or_404(
            self.uploads(request), request._request, pk=upload_id
        )
        if tus:
            self.require_tus(request)
        if upload.completed_at is None and upload.expires_at < _now():
            raise Problem(410, "upload-vervallen", _("Deze upload is verlopen; begin opnieuw."))
        return upload


def _now():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return timezone.now()


class UploadCreateView(TusView):
    @extend_schema(
        summary="tus: wat deze server ondersteunt",
        parameters=[GEMEENTE],
        responses={204: OpenApiResponse(description="Tus-Version, Tus-Extension, Tus-Max-Size")},
    )
    def options(self, request: Request, code: str = "") -> Response:
        return Response(
            status=204,
            headers={
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(settings.MSD_UPLOAD_MAX_BYTES),
                "Tus-Checksum-Algorithm": "sha256,sha1",
            },
        )

    @extend_schema(
        summary="tus: een upload beginnen",
        description=(
            "Upload-Length is de grootte in bytes; Upload-Metadata bevat `filename` (base64) "
            "met precies de bestandsnaam volgens de naamgevingsconventie. Een verkeerde naam "
            "of grootte wordt geweigerd voordat er een byte is verstuurd."
        ),
        parameters=[
            GEMEENTE,
            *TUS_HEADERS,
            OpenApiParameter("Upload-Length", int, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("Upload-Metadata", str, OpenApiParameter.HEADER, required=True),
        ],
        request=None,
        responses={
            201: OpenApiResponse(description="Location: de URL van de upload; Upload-Expires"),
            400: serializers.ProblemSerializer,
            413: serializers.ProblemSerializer,
        },
    )
    def post(self, request: Request, code: str = "") -> Response:
        self.require_tus(request)
        try:
            length = int(request.headers.get("Upload-Length", ""))
        except ValueError:
            length = -1
        if length < 0:
            raise Problem(
                400, "upload-length", _("Stuur Upload-Length mee: de grootte van het bestand.")
            )
        metadata = uploads.parse_metadata(request.headers.get("Upload-Metadata", ""))
        name = metadata.get("filename", "")
        if not name:
            raise Problem(
                400,
                "bestandsnaam-ontbreekt",
                _("Zet de bestandsnaam in Upload-Metadata als filename (base64)."),
            )
        upload = uploads.create(
            request.acting_municipality,
            request.user,
            name,
            length,
            staged_on_completion=self.staged_on_completion,
        )
        location = self.location(upload, code)
        return Response(
            status=201,
            headers={"Location": location, "Upload-Expires": _expires(upload)},
        )


def _status(upload: TusUpload) -> dict[str, object]:
    batch: UploadBatch | None = upload.batch
    if upload.completed_at is None:
        state = "bezig"
    elif batch is None:
        state = "geweigerd"
    elif batch.confirmed_at is None:
        state = "klaar-om-te-bevestigen"
    else:
        state = "bevestigd"
    entries = []
    if batch is not None:
        for staged in staged_files(batch):
            for member in staged["members"]:  # type: ignore[union-attr]
                replaces = member["replaces"]
                entries.append(
                    {
                        "bestandsnaam": member["name"],
                        "set": member["data_set"].code,
                        "periodecode": member["period_code"],
                        "grootte": member["size"],
                        "na_deadline": member["late"],
                        "waarschuwing": member["warning"],
                        "vervangt": replaces.reference if replaces else None,
                    }
                )
    return {
        "id": upload.pk,
        "bestandsnaam": upload.file_name,
        "lengte": upload.length,
        "ontvangen": upload.offset,
        "status": state,
        "verloopt_op": upload.expires_at,
        "inhoud": entries,
        "weigeringen": upload.refusals,
        "aanleveringen": list(
            batch.deliveries.order_by("reference").values_list("reference", flat=True)
        )
        if batch is not None
        else [],
    }


class UploadView(TusView):
    @extend_schema(
        summary="De stand van een upload en de uitkomst van de controles",
        parameters=[GEMEENTE],
        responses=serializers.UploadStatusSerializer,
    )
    def get(self, request: Request, code: str = "", upload_id: Any = None) -> Response:
        upload = self._upload(request, upload_id, tus=False)  # outside tus: plain JSON
        return Response(serializers.UploadStatusSerializer(_status(upload)).data)

    @extend_schema(
        summary="tus: hoeveel bytes er zijn",
        parameters=[GEMEENTE, *TUS_HEADERS],
        responses={200: OpenApiResponse(description="Upload-Offset, Upload-Length")},
    )
    def head(self, request: Request, code: str = "", upload_id: Any = None) -> Response:
        upload = self._upload(request, upload_id)
        return Response(
            status=200,
            headers={
                "Upload-Offset": str(upload.offset),
                "Upload-Length": str(upload.length),
                "Upload-Expires": _expires(upload),
            },
        )

    @extend_schema(
        summary="tus: de volgende bytes",
        description=(
            "Content-Type: application/offset+octet-stream; Upload-Offset moet gelijk zijn aan "
            "wat HEAD zegt. Met Upload-Checksum (sha256, base64) wordt het deel gecontroleerd. "
            "Na de laatste byte wordt het bestand gecontroleerd zoals in het portaal; GET geeft "
            "de uitkomst."
        ),
        parameters=[
            GEMEENTE,
            *TUS_HEADERS,
            OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("Upload-Checksum", str, OpenApiParameter.HEADER),
        ],
        request={"application/offset+octet-stream": bytes},
        responses={
            204: OpenApiResponse(description="Upload-Offset: de nieuwe stand"),
            409: serializers.ProblemSerializer,
            460: serializers.ProblemSerializer,
        },
    )
    def patch(self, request: Request, code: str = "", upload_id: Any = None) -> Response:
        upload = self._upload(request, upload_id)
        if request.content_type != "application/offset+octet-stream":
            raise Problem(
                415,
                "content-type",
                _("Stuur de bytes met Content-Type: application/offset+octet-stream."),
            )
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
            length = int(request.headers.get("Content-Length", ""))
        except ValueError as exc:
            raise Problem(
                400,
                "upload-offset",
                _("Stuur Upload-Offset en Content-Length mee (hele getallen)."),
            ) from exc
        checksum = uploads.parse_checksum(request.headers.get("Upload-Checksum", ""))
        new_offset = uploads.append(upload, offset, request._request.read, length, checksum)
        if new_offset == upload.length:
            uploads.finish(request._request, upload)
        return Response(
            status=204,
            headers={"Upload-Offset": str(new_offset), "Upload-Expires": _expires(upload)},
        )

    @extend_schema(
        summary="tus: een upload stoppen en weggooien",
        parameters=[GEMEENTE, *TUS_HEADERS],
        responses={204: None},
    )
    def delete(self, request: Request, code: str = "", upload_id: Any = None) -> Response:
        upload = get_for_acting_municipality_or_404(
            self.uploads(request), request._request, pk=upload_id
        )
        self.require_tus(request)
        if upload.batch is not None and upload.batch.confirmed_at is not None:
            raise Problem(409, "al-bevestigd", _("Deze upload is al bevestigd als aanlevering."))
        uploads.discard(upload)
        return Response(status=204)


class UploadConfirmView(TusView):
    @extend_schema(
        summary="Een gecontroleerde upload bevestigen: dan wordt het een aanlevering",
        description="Opnieuw bevestigen verandert niets en geeft dezelfde referenties.",
        parameters=[GEMEENTE],
        request=None,
        responses={
            200: serializers.UploadStatusSerializer,
            409: serializers.ProblemSerializer,
        },
    )
    def post(self, request: Request, code: str = "", upload_id: Any = None) -> Response:
        upload = get_for_acting_municipality_or_404(
            self.uploads(request).select_related("batch"), request._request, pk=upload_id
        )
        if upload.completed_at is None:
            raise Problem(
                409,
                "upload-niet-compleet",
                _("De upload is nog niet compleet; stuur eerst alle bytes."),
            )
        if upload.batch is None:
            raise Problem(
                409,
                "upload-geweigerd",
                _("Deze upload is geweigerd en kan niet worden bevestigd; zie 'weigeringen'."),
                weigeringen=upload.refusals,
            )
        try:
            confirm_batch(request._request, upload.batch)
        except BatchGone as exc:
            raise Http404 from exc
        upload.batch.refresh_from_db()
        return Response(serializers.UploadStatusSerializer(_status(upload)).data)
