"""The admin's certificates and keys with object storage: in the bucket, encrypted.

Against an S3 API server (moto) on 127.0.0.1 with the storage as ``settings.py`` builds it
when ``MSD_S3_BUCKET`` is set (fixture ``private_s3``). The RINIS client really sends over
mutual TLS to the simulator with the key it decrypted from the bucket.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_certmanager.constants import CertificateTypes
from simple_certmanager.models import Certificate

from msdportaal.conftest import PRIVATE_TEST_KEY, S3Bucket
from msdportaal.core.private_storage import PrivateFileError
from msdportaal.deliveries.tests.factories import CURRENT
from msdportaal.deliveries.tests.factories import csv_file as make_csv
from msdportaal.deliveries.tests.test_upload import upload_and_confirm
from msdportaal.transport import client as rinis_client
from msdportaal.transport import services
from msdportaal.transport.models import MessageState, TransportConfiguration

pytestmark = pytest.mark.django_db


@pytest.fixture
def ib(admin_user: Any) -> Client:
    client = Client()
    device = TOTPDevice.objects.create(user=admin_user, name="default", confirmed=True)
    client.force_login(admin_user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def private_objects(bucket: S3Bucket) -> dict[str, bytes]:
    """Every object under private/ in the bucket, as stored (what a backup holds)."""
    listing = bucket.client.list_objects_v2(Bucket=bucket.name, Prefix="private/")
    return {
        item["Key"]: bucket.client.get_object(Bucket=bucket.name, Key=item["Key"])["Body"].read()
        for item in listing.get("Contents", [])
    }


def upload_in_admin(ib: Client, label: str, cert: Path, key: Path | None) -> Certificate:
    fields: dict[str, Any] = {
        "label": label,
        "type": CertificateTypes.key_pair if key else CertificateTypes.cert_only,
        "private_key_passphrase": "",
        "_save": "Opslaan",
    }
    with cert.open("rb") as cert_file:
        fields["public_certificate"] = cert_file
        if key is None:
            response = ib.post(reverse("admin:simple_certmanager_certificate_add"), fields)
        else:
            with key.open("rb") as key_file:
                fields["private_key"] = key_file
                response = ib.post(reverse("admin:simple_certmanager_certificate_add"), fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Certificate.objects.get(label=label)


def test_a_key_pair_uploaded_in_the_admin_is_in_the_bucket_encrypted(
    ib: Client, private_s3: S3Bucket, dev_certs, settings
):
    certificate = upload_in_admin(
        ib, "RINIS-client", dev_certs.portal_client.cert, dev_certs.portal_client.key
    )

    stored = private_objects(private_s3)
    assert sorted(stored) == sorted(
        f"private/{name}"
        for name in (certificate.public_certificate.name, certificate.private_key.name)
    )
    key_pem = Path(dev_certs.portal_client.key).read_bytes()
    cert_pem = Path(dev_certs.portal_client.cert).read_bytes()
    raw_key = stored[f"private/{certificate.private_key.name}"]
    # What the bucket (and every replica and backup of it) holds is not the PEM ...
    assert b"PRIVATE KEY" not in raw_key
    assert b"-----BEGIN" not in raw_key
    assert key_pem[40:80] not in raw_key
    assert b"-----BEGIN" not in stored[f"private/{certificate.public_certificate.name}"]
    # ... but the PEM encrypted with the key from the environment.
    assert Fernet(PRIVATE_TEST_KEY).decrypt(raw_key) == key_pem
    # The admin reads it back: the list shows a valid key pair, the download the certificate.
    listing = ib.get(reverse("admin:simple_certmanager_certificate_changelist"))
    assert "RINIS-client" in listing.content.decode()
    assert certificate.is_valid_key_pair() is True
    download = ib.get(
        reverse("admin:simple_certmanager_certificate_public_certificate", args=[certificate.pk])
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == cert_pem
    assert "attachment" in download["Content-Disposition"]
    # Nothing on this node's disk.
    local = Path(settings.VAR_DIR) / "private-media"
    assert not (local / certificate.private_key.name).exists()
    assert not (local / certificate.public_certificate.name).exists()


def test_rinis_is_reached_with_the_admin_certificate_decrypted_in_memory(
    ib: Client, client_a: Client, private_s3: S3Bucket, dev_certs, simulator, settings
):
    client_certificate = upload_in_admin(
        ib, "RINIS-client", dev_certs.portal_client.cert, dev_certs.portal_client.key
    )
    ca = upload_in_admin(ib, "RINIS-CA", dev_certs.ca_cert, None)
    config = TransportConfiguration.get_solo()
    config.client_certificate, config.server_ca_certificate = client_certificate, ca
    config.save()
    # Nothing from the environment: only the admin's certificate can get us in.
    settings.MSD_RINIS_CLIENT_CERT = settings.MSD_RINIS_CLIENT_KEY = ""
    settings.MSD_RINIS_CA_BUNDLE = ""

    files = rinis_client.tls_files(TransportConfiguration.get_solo())
    # OpenSSL gets paths to anonymous memory files, not to files on a disk.
    for path in (files.cert, files.key, files.ca_bundle):
        assert path.startswith("/proc/self/fd/")
        assert os.readlink(path).startswith("/memfd:")
    assert Path(files.key).read_bytes() == Path(dev_certs.portal_client.key).read_bytes()

    (delivery,) = upload_and_confirm(client_a, make_csv(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    assert services.attempt_send(delivery.outbound_message_id) == MessageState.DELIVERED


def test_a_file_encrypted_with_another_key_is_refused_and_rotation_re_encrypts(
    private_s3: S3Bucket, settings
):
    storage = storages["privates"]
    name = storage.save("ssl_certs_keys/key.pem", ContentFile(b"-----BEGIN PRIVATE KEY-----\n"))
    new_key = Fernet.generate_key().decode()
    options = settings.STORAGES["privates"]["OPTIONS"]

    def with_keys(keys: str) -> None:
        settings.STORAGES = {
            **settings.STORAGES,
            "privates": {**settings.STORAGES["privates"], "OPTIONS": {**options, "keys": keys}},
        }

    with_keys(new_key)
    with pytest.raises(PrivateFileError, match=r"ssl_certs_keys/key\.pem: cannot be decrypted"):
        storages["privates"].open(name).read()

    # The new key first, the old one behind it: both read; rotate re-encrypts with the new.
    with_keys(f"{new_key},{PRIVATE_TEST_KEY}")
    Certificate.objects.create(label="x", type=CertificateTypes.cert_only, public_certificate=name)
    call_command("private_files", "rotate")
    raw = private_objects(private_s3)[f"private/{name}"]
    assert Fernet(new_key).decrypt(raw) == b"-----BEGIN PRIVATE KEY-----\n"
    with_keys(new_key)
    assert storages["privates"].open(name).read() == b"-----BEGIN PRIVATE KEY-----\n"


def test_certificates_from_the_old_local_folder_are_imported_encrypted(
    private_s3: S3Bucket, dev_certs, tmp_path: Path, settings
):
    # Before: the privates storage was a folder on one node's disk.
    old = FileSystemStorage(location=tmp_path / "private-media")
    cert_name = old.save("ssl_certs_keys/2026/11/29/client.pem", ContentFile(b"CERT"))
    key_name = old.save("ssl_certs_keys/2026/11/29/client-key.pem", ContentFile(b"KEY"))
    Certificate.objects.bulk_create(
        [
            Certificate(
                label="oud",
                type=CertificateTypes.key_pair,
                public_certificate=cert_name,
                private_key=key_name,
            )
        ]
    )
    with pytest.raises(CommandError, match="2 bestand"):
        call_command("private_files", "list")

    call_command("private_files", "import", str(tmp_path / "private-media"))
    call_command("private_files", "import", str(tmp_path / "private-media"))  # again: no-op

    stored = private_objects(private_s3)
    assert sorted(stored) == [f"private/{key_name}", f"private/{cert_name}"]
    assert Fernet(PRIVATE_TEST_KEY).decrypt(stored[f"private/{key_name}"]) == b"KEY"
    certificate = Certificate.objects.get(label="oud")
    assert certificate.private_key.read() == b"KEY"
    call_command("private_files", "list")


def _production_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MSD_", "DJANGO_"))}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.STORAGES['privates']['BACKEND'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "msdportaal.conf.settings",
            "DJANGO_SECRET_KEY": "x",
            "DJANGO_ALLOWED_HOSTS": "portaal.example.nl",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
            "MSD_VAR_DIR": os.environ["MSD_VAR_DIR"],
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_object_storage_without_an_encryption_key_does_not_start():
    missing = _production_settings(MSD_S3_BUCKET="msdportaal")
    assert missing.returncode != 0
    assert "MSD_PRIVATE_KEY_ENCRYPTION_KEY must be set with MSD_S3_BUCKET" in missing.stderr
    malformed = _production_settings(
        MSD_S3_BUCKET="msdportaal", MSD_PRIVATE_KEY_ENCRYPTION_KEY="geheim"
    )
    assert malformed.returncode != 0
    assert "every key must be a Fernet key" in malformed.stderr
    ok = _production_settings(
        MSD_S3_BUCKET="msdportaal",
        MSD_PRIVATE_KEY_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{PRIVATE_TEST_KEY}",
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split()[-1] == "msdportaal.core.private_storage.EncryptedPrivateStorage"
    local = _production_settings()
    assert local.stdout.split()[-1] == "django.core.files.storage.FileSystemStorage"
