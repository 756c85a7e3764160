"""Confirm and cancel on a batch that is gone or already handled never answer 500 (issue 18)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client

from msdportaal.deliveries import services
from msdportaal.deliveries.models import Delivery, StagedFile, UploadBatch

from .factories import CURRENT, csv_file
from .test_upload import upload

pytestmark = pytest.mark.django_db
GONE = "Aanlevering niet meer beschikbaar"


def staged(client: Client) -> str:
    response = upload(client, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert response.status_code == 302
    return response["Location"]


def assert_gone_page(response) -> None:
    page = response.content.decode()
    assert response.status_code == 404
    assert GONE in page
    assert "Er is niets doorgestuurd" in page
    assert 'href="/aanleveren/"' in page


def test_confirm_after_cancel_answers_a_calm_page(client_a: Client):
    check_url = staged(client_a)
    client_a.post(check_url, {"cancel": "1"})
    assert_gone_page(client_a.post(check_url, {"confirm": "1"}))
    assert_gone_page(client_a.post(check_url, {"cancel": "1"}))
    assert_gone_page(client_a.get(check_url))  # the back button
    assert not Delivery.objects.exists()


def _on_second_batch_read(action: Callable[[], None]) -> Callable[..., Any]:
    """Runs *action* (the racing request) just before the view's second read of the batch."""
    reads = 0

    def wrapper(execute, sql, params, many, context):
        nonlocal reads
        if sql.lstrip().upper().startswith("SELECT") and '"deliveries_uploadbatch"' in sql:
            reads += 1
            if reads == 2:
                action()
        return execute(sql, params, many, context)

    return wrapper


def test_cancel_racing_a_confirm_leaves_the_confirm_calm(client_a: Client):
    check_url = staged(client_a)
    batch = UploadBatch.objects.get()
    stored = StagedFile.objects.get().stored_name
    # The cancel lands after the confirm has read the batch but before it locks it.
    with connection.execute_wrapper(
        _on_second_batch_read(lambda: UploadBatch(pk=batch.pk).delete())
    ):
        response = client_a.post(check_url, {"confirm": "1"})
    assert_gone_page(response)
    assert not Delivery.objects.exists()
    default_storage.delete(stored)


def test_cancel_after_confirm_shows_the_confirmation(client_a: Client):
    check_url = staged(client_a)
    client_a.post(check_url, {"confirm": "1"})
    response = client_a.post(check_url, {"cancel": "1"}, follow=True)
    assert response.status_code == 200
    assert "Aanlevering ontvangen" in response.content.decode()
    assert Delivery.objects.count() == 1


def test_a_cancel_that_loses_the_race_keeps_the_confirmed_delivery(client_a: Client):
    check_url = staged(client_a)
    stale = UploadBatch.objects.get()  # what the cancelling request read
    client_a.post(check_url, {"confirm": "1"})
    assert services.discard_batch(stale) is False
    (delivery,) = Delivery.objects.all()
    assert default_storage.exists(delivery.stored_name)
