"""Names exactly as sent, nothing left behind, Django's limits in Dutch (issues 15 and 18).

The bodies are built by hand, so the raw name reaches the server as a browser (or anyone)
could send it; the client enforces CSRF, as the production middleware stack does.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from msdportaal.audit.models import AuditAction, AuditEntry
from msdportaal.conftest import MUNICIPAL_BACKEND, stored_files
from msdportaal.deliveries.models import Delivery, StagedFile, UploadBatch

from .factories import CURRENT, csv_bytes

pytestmark = pytest.mark.django_db
UPLOAD = "/aanleveren/"
BOUNDARY = "msd-test-boundary-7c1f"
GOOD = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
NOTHING = "Er is niets aangeleverd"


@pytest.fixture
def csrf_client(user_a) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    assert client.get(UPLOAD).status_code == 200  # sets the CSRF cookie, as the form does
    return client


def _token(client: Client) -> bytes:
    return client.cookies[settings.CSRF_COOKIE_NAME].value.encode()


def field_part(name: bytes, value: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value


def file_part(raw_name: bytes, content: bytes, field: bytes = b"files") -> bytes:
    return (
        b'Content-Disposition: form-data; name="' + field + b'"; filename="' + raw_name + b'"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content
    )


def body(client: Client, *parts: bytes, closed: bool = True) -> bytes:
    delimiter = b"--" + BOUNDARY.encode()
    out = b""
    for part in (field_part(b"csrfmiddlewaretoken", _token(client)), *parts):
        out += delimiter + b"\r\n" + part + b"\r\n"
    return out + delimiter + b"--\r\n" if closed else out.removesuffix(b"\r\n")


def post(client: Client, data: bytes, **extra):
    return client.generic(
        "POST", UPLOAD, data, content_type=f"multipart/form-data; boundary={BOUNDARY}", **extra
    )


@pytest.fixture
def unchanged():
    """Asserts that a refused upload left the database, media and upload temp folder as is."""
    before = (Delivery.objects.count(), StagedFile.objects.count(), UploadBatch.objects.count())
    yield
    after = (Delivery.objects.count(), StagedFile.objects.count(), UploadBatch.objects.count())
    assert after == before
    assert stored_files(settings.MEDIA_ROOT) == []
    assert stored_files(settings.FILE_UPLOAD_TEMP_DIR) == []


def assert_refused(response, *messages: str) -> str:
    page = response.content.decode()
    assert response.status_code == 400, page[:2000]
    assert NOTHING in page
    for message in messages:
        assert message in page, page[page.find(NOTHING) :][:2000]
    assert AuditEntry.objects.filter(action=AuditAction.UPLOAD_REFUSED).exists()
    return page


def test_a_hand_built_body_with_a_good_name_reaches_the_check_page(csrf_client: Client):
    response = post(csrf_client, body(csrf_client, file_part(GOOD.encode(), csv_bytes())))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StagedFile.objects.get().file_name == GOOD


RAW_NAMES = {
    "windows-path": (f"C:\\Users\\x\\{GOOD}".encode(), "„\\”"),
    "relative-path": (f"../../etc/{GOOD}".encode(), "„/”"),
    "html-entity": (f"MSD_WMO&#45;BASIS_0363_{CURRENT}.csv".encode(), "„&amp;”"),
    "nul": (GOOD.removesuffix(".csv").encode() + b"\x00.csv", "NUL-teken"),
    "zero-width-space": (
        f"MSD_WMO-BASIS\u200b_0363_{CURRENT}.csv".encode(),
        "onzichtbare spatie (U+200B)",
    ),
    "line-break": (GOOD.removesuffix(".csv").encode() + b"\n.csv", "regeleinde"),
}


@pytest.mark.parametrize("case", RAW_NAMES)
def test_a_name_that_sanitising_would_change_is_refused(csrf_client: Client, unchanged, case: str):
    raw, what = RAW_NAMES[case]
    response = post(csrf_client, body(csrf_client, file_part(raw, csv_bytes())))
    assert_refused(
        response,
        "onderweg weggelaten of veranderd",
        what,
        "MSD_&lt;SET&gt;_&lt;gemeentecode&gt;_&lt;periode&gt;.csv",
        f"bijvoorbeeld MSD_WMO-BASIS_0363_{CURRENT}.csv",
    )


def test_a_changed_name_does_not_stop_the_good_files(csrf_client: Client):
    data = body(
        csrf_client,
        file_part(f"../{GOOD}".encode(), csv_bytes()),
        file_part(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv".encode(), csv_bytes()),
    )
    response = post(csrf_client, data)
    assert response.status_code == 302
    assert [f.file_name for f in StagedFile.objects.all()] == [f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"]
    page = csrf_client.get(response["Location"]).content.decode()
    assert "onderweg weggelaten of veranderd" in page
    # Only the accepted file is on disk, in the media folder (not in the temp folder).
    assert stored_files(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_a_body_without_its_closing_boundary_delivers_nothing(csrf_client: Client, unchanged):
    data = body(
        csrf_client,
        file_part(GOOD.encode(), csv_bytes()),
        file_part(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv".encode(), csv_bytes()),
        closed=False,
    )
    assert_refused(post(csrf_client, data), "niet compleet aangekomen", "probeer het nog eens")


class CutStream:
    """A request body whose connection ends (or fails) after *cut* bytes."""

    def __init__(self, data: bytes, cut: int, error: bool) -> None:
        self.data, self.cut, self.error, self.pos = data, cut, error, 0

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.cut:
            if self.error:
                raise OSError("connection reset by peer")
            return b""
        end = self.cut if size is None or size < 0 else min(self.cut, self.pos + size)
        chunk, self.pos = self.data[self.pos : end], end
        return chunk

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - unused by the parser
        return self.read(size)


@pytest.mark.parametrize("error", [False, True], ids=["eof", "reset"])
def test_a_connection_cut_halfway_leaves_nothing(csrf_client: Client, unchanged, error: bool):
    data = body(csrf_client, file_part(GOOD.encode(), csv_bytes(20_000)))
    response = post(
        csrf_client,
        b"x",
        **{"wsgi.input": CutStream(data, len(data) // 2, error), "CONTENT_LENGTH": str(len(data))},
    )
    assert_refused(response, "niet compleet aangekomen")


def test_more_than_100_files_is_refused_in_dutch(csrf_client: Client, unchanged):
    parts = [
        file_part(f"MSD_WMO-BASIS_0363_{CURRENT}_{i}.csv".encode(), csv_bytes()) for i in range(101)
    ]
    assert_refused(
        post(csrf_client, body(csrf_client, *parts)),
        "meer dan 100 bestanden tegelijk",
        "Lever hoogstens 100 bestanden in één keer aan",
    )


def test_more_than_1000_fields_is_refused_in_dutch(csrf_client: Client, unchanged):
    parts = [field_part(f"f{i}".encode(), b"1") for i in range(1001)]
    parts.insert(0, file_part(GOOD.encode(), csv_bytes()))
    assert_refused(
        post(csrf_client, body(csrf_client, *parts)),
        "meer dan 1000 velden",
        "zonder aanpassingen en probeer het opnieuw",
    )


def test_an_oversized_form_field_is_refused_in_dutch(csrf_client: Client, unchanged):
    parts = [file_part(GOOD.encode(), csv_bytes()), field_part(b"note", b"x" * 2_700_000)]
    assert_refused(
        post(csrf_client, body(csrf_client, *parts)),
        "Een formulierveld is groter dan 2,5 MB",
        "Kies uw bestanden in het bestandsveld",
    )


def test_a_refused_body_without_a_csrf_token_is_still_a_csrf_failure(user_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_a, backend=MUNICIPAL_BACKEND)
    client.get(UPLOAD)
    parts = b"".join(
        b"--" + BOUNDARY.encode() + b"\r\n" + field_part(f"f{i}".encode(), b"1") + b"\r\n"
        for i in range(1001)
    )
    response = post(client, parts + b"--" + BOUNDARY.encode() + b"--\r\n")
    assert response.status_code == 403
    assert stored_files(settings.FILE_UPLOAD_TEMP_DIR) == []


@pytest.mark.parametrize("length", [1100, 5000])
def test_a_file_name_over_django_s_header_limit_is_refused_as_too_long(
    csrf_client: Client, unchanged, length: int
):
    """Django refuses a part header over 1 KB as a broken body; the user is told it is the name."""
    long_name = ("MSD_WMO-BASIS_0363_" + "x" * length + ".csv").encode()
    page = assert_refused(
        post(
            csrf_client,
            body(
                csrf_client,
                file_part(GOOD.encode(), csv_bytes()),
                file_part(long_name, csv_bytes()),
            ),
        ),
        "De naam van een bestand is te lang",
        "hoogstens 1024 tekens",
        f"bijvoorbeeld MSD_WMO-BASIS_0363_{CURRENT}.csv",
    )
    assert "niet compleet aangekomen" not in page
