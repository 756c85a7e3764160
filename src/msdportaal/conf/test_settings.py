"""Settings for the test suite: the real settings with test environment defaults.

``DATABASE_URL`` and ``CELERY_BROKER_URL`` from the environment still win, so the same
suite runs on SQLite + filesystem broker and on PostgreSQL + Redis.
"""

import os
import tempfile

os.environ.setdefault("MSD_ENVIRONMENT", "test")
# Playwright's sync API runs an event loop in the test thread; the ORM calls are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("MSD_DEV_LOGIN_ENABLED", "true")
os.environ.setdefault("MSD_SECURE_COOKIES", "false")
os.environ.setdefault("MSD_VAR_DIR", tempfile.mkdtemp(prefix="msdportaal-test-"))
# Nothing listens here; tests that send start the RINIS/CBS simulator and point at it.
os.environ.setdefault("MSD_RINIS_URL", "https://127.0.0.1:9/rinis/ggk")
os.environ.setdefault("MSD_RINIS_FACING_URL", "https://127.0.0.1:9")
# What tls_front (started by the rinis_facing fixture) and the header helpers send.
os.environ.setdefault("MSD_PROXY_SECRET", "test-only-proxy-secret-0123456789abcdef")
# MSD_TEST_S3=1: the whole suite stores files in S3-compatible object storage. Without an
# MSD_S3_ENDPOINT_URL of its own, the session fixture ``s3_server`` (conftest.py) starts an
# S3 API server (moto) on this port; each test gets its own key prefix (MSD_S3_LOCATION).
if os.environ.get("MSD_TEST_S3", "").lower() in {"1", "true", "yes", "on"}:
    import socket

    if not os.environ.get("MSD_S3_ENDPOINT_URL"):
        with socket.socket() as _sock:
            _sock.bind(("127.0.0.1", 0))
            os.environ["MSD_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{_sock.getsockname()[1]}"
        os.environ["MSD_TEST_S3_START_SERVER"] = "1"
    os.environ.setdefault("MSD_S3_BUCKET", "msdportaal-test")
    os.environ.setdefault("MSD_S3_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("MSD_S3_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("MSD_S3_SSE", "AES256")
    # The admin's certificates and keys go to the bucket encrypted (core/private_storage.py).
    os.environ.setdefault(
        "MSD_PRIVATE_KEY_ENCRYPTION_KEY", "PvSrKqCS9YOQiMRvGGqEEmeJvvbMIeC0S6-jqIKV7qM="
    )

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: worker subprocesses in the fault tests must see the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
