"""No gemeente ever sees another's deliveries (DESIGN.md §7), tested per URL."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.conftest import MUNICIPAL_BACKEND

from .factories import CURRENT, csv_file
from .test_upload import upload, upload_and_confirm

pytestmark = pytest.mark.django_db


def test_gemeente_b_gets_404_on_every_url_of_gemeente_a(client_a: Client, user_b):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    pending = upload(client_a, csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"))["Location"]
    batch_id = pending.split("/")[2]
    urls_of_a = [
        reverse("deliveries:detail", args=[delivery.reference]),
        reverse("deliveries:check", args=[batch_id]),
        reverse("deliveries:confirmation", args=[delivery.batch_id]),
    ]
    for url in urls_of_a:
        assert client_a.get(url).status_code in (200, 302), url

    client_b = Client()
    client_b.force_login(user_b, backend=MUNICIPAL_BACKEND)
    for url in urls_of_a:
        assert client_b.get(url).status_code == 404, url
        assert client_b.post(url, {"confirm": "1"}).status_code in (404, 405), url
    history_b = client_b.get(reverse("deliveries:history")).content.decode()
    assert delivery.reference not in history_b
    assert "U heeft nog niets aangeleverd." in history_b
    # B's attempt to confirm A's pending upload changed nothing.
    assert delivery.municipality.deliveries.count() == 1
