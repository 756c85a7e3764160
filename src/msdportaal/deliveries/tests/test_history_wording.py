"""What the delivery pages say: newest first, corrections as corrections, an identical
re-upload pointed out, one size and date format, a next step in every refusal."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.deliveries.models import Delivery
from msdportaal.notifications.models import EmailLedger

from .factories import CURRENT, PREVIOUS, csv_bytes, csv_file, zip_bytes, zip_file
from .test_upload import upload, upload_and_confirm

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_history_is_newest_first_as_its_caption_says(client_a: Client, fixed_today):
    import datetime

    names = [
        f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv",
        f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv",
        f"MSD_WMO-BASIS_0363_{CURRENT}.csv",
    ]
    references = []
    for name in names:
        (delivery,) = upload_and_confirm(client_a, csv_file(name))
        references.append(delivery.reference)
        fixed_today.shift(datetime.timedelta(minutes=5))
    page = client_a.get(reverse("deliveries:history")).content.decode()
    assert "Alle aanleveringen, nieuwste eerst" in page
    shown = re.findall(r'<tr class="utrecht-table__row" data-reference="([^"]+)"', page)
    assert shown == list(reversed(references))


def test_a_correction_is_not_flagged_after_the_deadline(client_a: Client):
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv"))
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{PREVIOUS}.csv", csv_bytes(30)))
    check = client_a.get(response["Location"]).content.decode()
    assert "Correctie" in check
    assert "Na de deadline" not in check
    client_a.post(response["Location"], {"confirm": "1"})
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert "Correctie" in history
    assert "Na de deadline" not in history
    # The current period after its deadline is late, and says so.
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert "Na de deadline" in client_a.get(reverse("deliveries:history")).content.decode()


def test_an_identical_re_upload_is_pointed_out(client_a: Client):
    content = csv_bytes(40)
    name = f"MSD_WMO-BASIS_0363_{CURRENT}.csv"
    (first,) = upload_and_confirm(client_a, csv_file(name, content))
    response = upload(client_a, csv_file(name, content))
    check = text(client_a.get(response["Location"]).content.decode())
    assert (
        f"{name} is precies hetzelfde (dezelfde SHA-256) als aanlevering {first.reference}" in check
    )
    client_a.post(response["Location"], {"confirm": "1"})
    second = Delivery.objects.exclude(pk=first.pk).get()
    detail = text(
        client_a.get(reverse("deliveries:detail", args=[second.reference])).content.decode()
    )
    assert f"precies hetzelfde (dezelfde SHA-256) als aanlevering {first.reference}" in detail
    # A different file gets no such note.
    response = upload(client_a, csv_file(name, csv_bytes(41)))
    assert "precies hetzelfde" not in client_a.get(response["Location"]).content.decode()


def test_one_size_unit_and_one_date_format(client_a: Client):
    (small,) = upload_and_confirm(
        client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", b"a;b\r\n" * 10)
    )
    detail = text(
        client_a.get(reverse("deliveries:detail", args=[small.reference])).content.decode()
    )
    assert "Grootte 50 bytes " in detail
    assert "(50 bytes)" not in detail
    (large,) = upload_and_confirm(
        client_a, csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv", csv_bytes(200))
    )
    detail = text(
        client_a.get(reverse("deliveries:detail", args=[large.reference])).content.decode()
    )
    size = large.size
    assert f"{size / 1000:.1f}".replace(".", ",") + f" kB ({size} bytes)" in detail
    history = client_a.get(reverse("deliveries:history")).content.decode()
    assert "29 november 2026 10:0" in history  # "3 december 2026 10:09", never "29 Nov 2026"
    assert "Nov 2026" not in history


def test_the_receipt_counts_the_csvs(client_a: Client, user_a, mailbox):
    from msdportaal.notifications.tasks import send_stored_email

    zipped = {
        f"MSD_WMO-{s}_0363_{PREVIOUS}.csv": csv_bytes() for s in ("BASIS", "KOSTEN", "FACULTATIEF")
    }
    upload_and_confirm(
        client_a,
        csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"),
        csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"),
        zip_file("correctie.zip", content=zip_bytes(zipped)),
    )
    send_stored_email(EmailLedger.objects.get().pk)
    (receipt,) = mailbox.to(user_a.email)
    assert receipt["Subject"] == "Ontvangstbevestiging aanlevering Amsterdam (5 CSV-bestanden)"


def test_an_empty_file_is_refused_with_a_next_step(client_a: Client):
    response = upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv", b""))
    assert response.status_code == 400
    page = response.content.decode()
    assert "is leeg (0 bytes). Kies het bestand opnieuw" in page
