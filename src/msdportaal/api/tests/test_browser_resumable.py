"""The upload page sends each file as a resumable upload (tus-js-client) and survives a
dropped connection; without JavaScript it posts the plain form (test_browser_upload)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from msdportaal.api.models import TusUpload
from msdportaal.conftest import stored_files
from msdportaal.deliveries.models import Delivery, StagedFile
from msdportaal.deliveries.tests.factories import CURRENT, csv_bytes, random_bytes

pytestmark = [pytest.mark.browser]
PATCH_URL = "**/aanleveren/hervatbaar/*/"


def _choose_and_send(page: Any, *paths: Any) -> None:
    page.get_by_label("Bestanden (CSV of ZIP)").set_input_files(list(paths))
    page.get_by_role("button", name="Bestanden uploaden en controleren").click()


def test_files_go_as_resumable_uploads_and_are_checked_together(logged_in_page, tmp_path):
    paths = []
    for name in ("BASIS", "KOSTEN"):
        path = tmp_path / f"MSD_WMO-{name}_0363_{CURRENT}.csv"
        path.write_bytes(csv_bytes(3000))
        paths.append(path)
    page = logged_in_page.goto("/aanleveren/")
    patches: list[str] = []
    page.on(
        "request",
        lambda r: (
            patches.append(r.headers.get("upload-offset", "")) if r.method == "PATCH" else None
        ),
    )
    _choose_and_send(page, *paths)
    page.wait_for_url("**/controleren/")
    logged_in_page.axe()
    assert len(patches) >= 2  # one tus upload per file
    table = page.get_by_role("table").inner_text()
    for path in paths:
        assert path.name in table
    (staged_batch,) = {s.batch_id for s in StagedFile.objects.all()}  # one batch, as the form
    assert StagedFile.objects.filter(batch_id=staged_batch).count() == 2
    assert not TusUpload.objects.exists()  # consumed; the parts removed
    assert not [f for f in stored_files(_media()) if "/tus/" in f or f.startswith("tus/")]
    page.get_by_role("button", name="Bevestigen en aanleveren").click()
    page.wait_for_url("**/bevestiging/")
    logged_in_page.axe()
    for path in paths:
        delivery = Delivery.objects.get(file_name=path.name)
        assert delivery.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def _media() -> str:
    from django.conf import settings

    return settings.MEDIA_ROOT


def test_a_dropped_connection_resumes_where_it_stopped(logged_in_page, tmp_path, settings):
    settings.MSD_TUS_CHUNK_MB = 1
    path = tmp_path / f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    content = csv_bytes(10) + random_bytes(3 * 1024 * 1024).hex().encode()[: 3 * 1024 * 1024]
    path.write_bytes(content)
    page = logged_in_page.goto("/aanleveren/")
    offsets: list[int] = []
    dropped: list[int] = []

    def cut_the_second_part(route: Any) -> None:
        request = route.request
        if request.method == "PATCH":
            offset = int(request.headers["upload-offset"])
            offsets.append(offset)
            if offset > 0 and not dropped:
                dropped.append(offset)
                route.abort("connectionreset")  # the network goes away mid-upload
                return
        route.continue_()

    page.route(PATCH_URL, cut_the_second_part)
    _choose_and_send(page, path)
    page.wait_for_url("**/controleren/")
    logged_in_page.axe()
    assert dropped == [1024 * 1024]
    # After the drop it went on from the same part, never from the start again.
    assert offsets[: offsets.index(dropped[0]) + 2] == [0, dropped[0], dropped[0]]
    assert offsets.count(0) == 1
    staged = StagedFile.objects.get()
    assert staged.sha256 == hashlib.sha256(content).hexdigest()


def test_a_wrong_name_is_refused_with_the_form_s_own_message(logged_in_page, tmp_path):
    bad = tmp_path / "gegevens 2026.csv"
    bad.write_bytes(csv_bytes())
    page = logged_in_page.goto("/aanleveren/")
    _choose_and_send(page, bad)
    alert = page.get_by_role("alert").filter(has_text="Er is niets aangeleverd")
    alert.wait_for()
    logged_in_page.axe()
    assert "bevat tekens die niet zijn toegestaan (spatie)" in alert.inner_text()
    assert not TusUpload.objects.exists()
    assert not Delivery.objects.exists()
