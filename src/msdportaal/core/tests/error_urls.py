"""The real URLs plus views that fail, for the error page tests."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from msdportaal import urls as real_urls

# The handlers belong to the URLconf in use.
handler400 = real_urls.handler400
handler403 = real_urls.handler403
handler404 = real_urls.handler404
handler500 = real_urls.handler500


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("een fout in de code")


def reads_database(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok")


urlpatterns = [
    path("test-fout/", broken),
    path("test-database/", reads_database),
    *real_urls.urlpatterns,
]
