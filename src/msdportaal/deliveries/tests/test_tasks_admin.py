from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.deliveries.models import Delivery, StagedFile, UploadBatch
from msdportaal.deliveries.tasks import discard_unconfirmed_batches

from .factories import CURRENT, csv_file
from .test_upload import upload, upload_and_confirm

pytestmark = pytest.mark.django_db


def test_unconfirmed_uploads_are_removed_after_a_day(client_a: Client, fixed_today):
    upload(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    upload_and_confirm(client_a, csv_file(f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"))
    staged = StagedFile.objects.get(batch__confirmed_at__isnull=True)
    from django.core.files.storage import default_storage

    assert default_storage.exists(staged.stored_name)
    assert discard_unconfirmed_batches() == 0  # not yet
    fixed_today.shift(datetime.timedelta(hours=25))
    assert discard_unconfirmed_batches() == 1
    assert not default_storage.exists(staged.stored_name)
    assert UploadBatch.objects.count() == 1  # the confirmed one stays
    assert Delivery.objects.count() == 1


def test_admin_shows_metadata_but_no_way_to_the_file(client: Client, client_a: Client, admin_user):
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    client.force_login(admin_user)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.get().persistent_id
    session.save()
    page = client.get(f"/beheer/deliveries/delivery/{delivery.pk}/change/").content.decode()
    assert delivery.sha256 in page
    assert delivery.reference in page
    assert delivery.stored_name not in page
    assert "Opslaan" not in page  # read-only
