"""/gezond/ (liveness) and /gereed/ (readiness): no login, no secrets, 503 naming what fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from msdportaal.conftest import s3_suite, stored_files
from msdportaal.operations import health

pytestmark = pytest.mark.django_db


def test_liveness_answers_ok_without_a_login_or_the_database(
    client: Client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/gezond/")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_liveness_does_not_depend_on_the_database(client: Client, monkeypatch):
    def broken(*args, **kwargs):
        raise AssertionError("liveness touched the database")

    monkeypatch.setattr(health, "check_database", broken)
    from django.db.backends.base.base import BaseDatabaseWrapper

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", broken)
    assert client.get("/gezond/").status_code == 200


def test_readiness_all_ok(client: Client, settings):
    response = client.get("/gereed/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["broker"]["detail"] in {"filesystem", "redis"}
    # The storage probe cleans up after itself.
    assert stored_files(settings.MEDIA_ROOT) == []


def test_readiness_is_503_naming_the_broker_when_it_is_unreachable(client: Client, settings):
    settings.CELERY_BROKER_URL = "redis://:s3cr3t-broker-password@127.0.0.1:1/0"
    settings.MSD_HEALTH_TIMEOUT_SECONDS = 1.0
    response = client.get("/gereed/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"]["status"] == "error"
    assert "broker" in body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["storage"]["status"] == "ok"
    # Nothing from the URL or the exception text goes out.
    text = response.content.decode()
    for secret in ("s3cr3t", "127.0.0.1", "redis://", ":1/"):
        assert secret not in text


def test_readiness_names_the_storage_when_it_cannot_write(client: Client, settings, tmp_path: Path):
    if s3_suite():  # MSD_TEST_S3=1: a bucket that does not exist
        default = settings.STORAGES["default"]
        options = {**default["OPTIONS"], "bucket_name": "msd-does-not-exist"}
        settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
    elif os.geteuid() == 0:
        # root writes anywhere; point the storage at a file instead of a folder.
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("x")
        settings.MEDIA_ROOT = blocker
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        settings.MEDIA_ROOT = locked
    response = client.get("/gereed/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["storage"]["status"] == "error"
    assert checks["database"]["status"] == checks["broker"]["status"] == "ok"
    assert str(tmp_path) not in response.content.decode()


def test_readiness_names_the_database_when_it_fails(client: Client, monkeypatch):
    def down() -> str:
        raise ConnectionError("could not connect to server at db.internal port 5432 user msd")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/gereed/")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "error"
    assert "db.internal" not in response.content.decode()


def test_a_filesystem_broker_without_its_folder_is_not_ready(client: Client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    missing = str(tmp_path / "no-such-queue")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": missing,
        "data_folder_out": missing,
    }
    response = client.get("/gereed/")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "error"


def test_probes_are_not_redirected_to_https(client: Client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/gezond/").status_code == 200
    assert client.get("/gereed/").status_code == 200
    assert client.get("/overzicht/").status_code == 301
