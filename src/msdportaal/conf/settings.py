"""Settings for MSD Portaal, read entirely from environment variables (12-factor).

The defaults are the safe production ones (DEBUG off, secure cookies, a secret key and
allowed hosts required). Storage defaults are the embedded ones (SQLite, local disk,
Celery's filesystem broker) so that a single machine needs no servers. ``make run``
sets the development variables; every variable is documented in docs/configuration.md.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

SRC_DIR = Path(__file__).resolve().parents[2]
BASE_DIR = SRC_DIR.parent

env = environ.Env()

ENVIRONMENT = env.str("MSD_ENVIRONMENT", default="production")
if ENVIRONMENT not in {"production", "acceptance", "development", "test"}:
    raise ImproperlyConfigured(
        f"MSD_ENVIRONMENT={ENVIRONMENT!r}: kies production, acceptance, development of test."
    )
IS_PRODUCTION_LIKE = ENVIRONMENT in {"production", "acceptance"}

DEBUG = env.bool("DJANGO_DEBUG", default=False)
if DEBUG and IS_PRODUCTION_LIKE:
    raise ImproperlyConfigured("DJANGO_DEBUG may not be on when MSD_ENVIRONMENT is production.")

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

VAR_DIR = Path(env.str("MSD_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# The development login (pick a gemeente, no eHerkenning) exists for demos and tests only.
DEV_LOGIN_ENABLED = env.bool("MSD_DEV_LOGIN_ENABLED", default=False)
if DEV_LOGIN_ENABLED and IS_PRODUCTION_LIKE:
    raise ImproperlyConfigured(
        "MSD_DEV_LOGIN_ENABLED cannot be used with MSD_ENVIRONMENT=production or acceptance: "
        "the development login lets anyone act for any gemeente."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    # A line marked "Dutch": the app through an AppConfig of ours that gives it Dutch
    # names in the admin (msdportaal/core/thirdparty.py).
    "msdportaal.core.thirdparty.OtpStaticConfig",  # Dutch
    "msdportaal.core.thirdparty.OtpTotpConfig",  # Dutch
    "two_factor",
    "maykin_2fa",
    "msdportaal.core",
    "msdportaal.audit",
    "msdportaal.organisations",
    "msdportaal.periods",
    "solo",
    "privates",
    "msdportaal.core.thirdparty.CertManagerConfig",  # Dutch: simple_certmanager
    "msdportaal.transport",
    "msdportaal.deliveries",
    "msdportaal.reports",
    "msdportaal.consent",
    "msdportaal.notifications",
    "msdportaal.agenda",
    "msdportaal.overview",
    "msdportaal.operations",
    "msdportaal.api",
    "rest_framework",
    "drf_spectacular",
    "csp",
    "msdportaal.core.thirdparty.AxesConfig",  # Dutch: axes
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before the session and the user are loaded: a database that is away gives the Dutch
    # 503 page (core/middleware.py), not a stack trace.
    "msdportaal.core.middleware.DatabaseUnavailableMiddleware",
    "msdportaal.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "msdportaal.core.security.AdminHostMiddleware",
    # Django's, except that a response about work already committed (a confirm) stands
    # when saving the session fails after it (core/sessions.py).
    "msdportaal.core.sessions.SessionMiddleware",
    "msdportaal.core.sessions.SessionRefreshMiddleware",
    # No LocaleMiddleware: the portal is Dutch only, whatever the browser asks (LANGUAGES).
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which is the first to read a POST body (exact names, no leftovers).
    "msdportaal.deliveries.uploads.UploadParsingMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "msdportaal.core.security.PrivateCacheMiddleware",
    "maykin_2fa.middleware.OTPMiddleware",
    "msdportaal.core.security.AdminAreaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "msdportaal.organisations.middleware.ActingMunicipalityMiddleware",
    # Last, as django-axes asks: turns a lockout during login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "msdportaal.urls"
WSGI_APPLICATION = "msdportaal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Overrides of admin templates for every admin page (searched before the apps).
        "DIRS": [SRC_DIR / "msdportaal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "msdportaal.core.context_processors.portal",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server, worker and beat share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "organisations.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses every password login while the username or address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "msdportaal.organisations.backends.MunicipalIdentityBackend",
]
# Municipal users come in through eHerkenning (or the development login); the admin's
# second factor applies to username + password logins of IB staff only.
MAYKIN_2FA_ALLOW_MFA_BYPASS_BACKENDS = [
    "msdportaal.organisations.backends.MunicipalIdentityBackend",
]
if ENVIRONMENT == "development":
    # Demo convenience only: the IB admin without a second factor on a developer's machine.
    MAYKIN_2FA_ALLOW_MFA_BYPASS_BACKENDS.append("django.contrib.auth.backends.ModelBackend")
LOGIN_URL = "organisations:login"
LOGIN_REDIRECT_URL = "overview:index"
LOGOUT_REDIRECT_URL = "organisations:logged_out"
TWO_FACTOR_REMEMBER_COOKIE_AGE = 0

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Error pages (core/templates/errors/): where users can ask for help, and how long the 503
# page shown while the database is away asks clients to wait (Retry-After).
MSD_SUPPORT_EMAIL = env.str("MSD_SUPPORT_EMAIL", default="")
MSD_RETRY_AFTER_SECONDS = env.int("MSD_RETRY_AFTER_SECONDS", default=60)

# Sessions end after a period of inactivity; every request moves the deadline on.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("MSD_SESSION_IDLE_TIMEOUT_MINUTES", default=15)
# The session row is written at most once per this many seconds (core/sessions.py), so a
# session ends between the idle timeout and the idle timeout plus this after the last request.
MSD_SESSION_REFRESH_SECONDS = env.int("MSD_SESSION_REFRESH_SECONDS", default=60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_MINUTES * 60 + MSD_SESSION_REFRESH_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env.bool("MSD_SECURE_COOKIES", default=True)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env.bool("MSD_SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("MSD_BEHIND_TLS_PROXY", default=False) else None
)
SECURE_HSTS_SECONDS = env.int("MSD_HSTS_SECONDS", default=31536000 if IS_PRODUCTION_LIKE else 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Dutch only, whatever the browser sends in Accept-Language: there is no other catalogue,
# and a second language here would give English dates ("3 Dec 2026") on Dutch pages.
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Nederlands"))]
LOCALE_PATHS = [SRC_DIR / "msdportaal" / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("MSD_STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env.str("MSD_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Municipal files and CBS reports are never served from MEDIA_URL: only views that check
# who is asking hand them out.
MEDIA_URL = "/_no_public_media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or ENVIRONMENT == "test"
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MSD Portaal <noreply@msdportaal.nl>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: the database is the source of truth; a lost task is picked up by a sweeper.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's transport with whole files only (msdportaal.celery.FilesystemTransport).
    CELERY_BROKER_TRANSPORT = "msdportaal.celery:FilesystemTransport"
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        # Kombu looks for new tasks once a second by default; a delivery should not wait.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.2),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# While the broker is away, worker and beat try again every second (msdportaal.celery.
# BrokerConnection) for as long as it takes, instead of giving up after 100 attempts.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "discard-unconfirmed-uploads": {
        "task": "msdportaal.deliveries.tasks.discard_unconfirmed_batches",
        "schedule": 3600.0,
    },
}

LOG_LEVEL = env.str("MSD_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # PDF receipts (core/pdf.py): WeasyPrint logs each rendering step, fontTools each
        # font it decodes, at INFO; their warnings (a refused URL, a missing glyph) stay.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Where the IB admin lives (a later step can restrict it to a host as well).
MSD_ADMIN_PATH = env.str("MSD_ADMIN_PATH", default="beheer").strip("/")

# Delivery calendar (DESIGN.md §2): the window opens the first day of the month after the
# period ends and lasts this many months.
MSD_DELIVERY_WINDOW_MONTHS = env.int("MSD_DELIVERY_WINDOW_MONTHS", default=3)
# The consent form opens this many months after the delivery window opened.
MSD_CONSENT_OPENS_AFTER_MONTHS = env.int("MSD_CONSENT_OPENS_AFTER_MONTHS", default=3)
# Largest file a gemeente may upload, checked while the upload streams in.
MSD_UPLOAD_MAX_BYTES = env.int("MSD_UPLOAD_MAX_BYTES", default=500 * 1000 * 1000)
# Most entries a ZIP may declare; checked on its end record, before any entry is read.
MSD_ZIP_MAX_ENTRIES = env.int("MSD_ZIP_MAX_ENTRIES", default=100)
# Uploads land here while they stream in: the same disk as MEDIA_ROOT, so storing is a rename.
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "upload-tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_HANDLERS = ["msdportaal.deliveries.uploads.HashingUploadHandler"]
# A temporary upload file not written to for this long belongs to a request that died (a
# killed web worker): the periodic task remove_orphaned_upload_files removes it.
MSD_UPLOAD_TMP_MAX_IDLE_MINUTES = env.int("MSD_UPLOAD_TMP_MAX_IDLE_MINUTES", default=60)
if MSD_UPLOAD_TMP_MAX_IDLE_MINUTES < 5:
    raise ImproperlyConfigured("MSD_UPLOAD_TMP_MAX_IDLE_MINUTES must be at least 5.")
CELERY_BEAT_SCHEDULE["remove-orphaned-upload-files"] = {
    "task": "msdportaal.deliveries.tasks.remove_orphaned_upload_files",
    "schedule": 900.0,
}
FILE_UPLOAD_PERMISSIONS = 0o640

# --- System-to-system API (docs/api.md) ---------------------------------------------------
# The cache holds the API's request counters: Redis (redis://…) shares them across
# processes and nodes; the default keeps them per process.
CACHES = {"default": env.cache_url("MSD_CACHE_URL", default="locmemcache://")}
# Requests per registered system certificate (DRF rate syntax: "<n>/<second|minute|hour>").
MSD_API_RATE = env.str("MSD_API_RATE", default="600/minute")
# A resumable (tus) upload not finished this long after it began is removed with its parts.
MSD_TUS_EXPIRY_HOURS = env.int("MSD_TUS_EXPIRY_HOURS", default=24)
# The upload page sends each file in parts of this size: what a dropped connection costs.
MSD_TUS_CHUNK_MB = env.int("MSD_TUS_CHUNK_MB", default=8)
CELERY_BEAT_SCHEDULE["remove-expired-uploads"] = {
    "task": "msdportaal.api.remove_expired_uploads",
    "schedule": 3600.0,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "msdportaal.api.problems.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MSD Portaal — API voor systeemkoppelingen",
    "DESCRIPTION": (
        "Aanleveren, volgen en ophalen zonder browser. Systemen melden zich met hun "
        "services-certificaat (mutual TLS); elke fout is een problem document (RFC 9457)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    # 3.1: the first version with a security scheme for mutual TLS.
    "OAS_VERSION": "3.1.0",
    "ENUM_NAME_OVERRIDES": {
        "AanleverStapEnum": "msdportaal.api.serializers.DELIVERY_STEPS",
        "UploadStatusEnum": "msdportaal.api.serializers.UPLOAD_STATES",
        "ToestemmingStatusEnum": "msdportaal.api.serializers.CONSENT_STATES",
    },
}

# Consent CSV (DESIGN.md §3.5): the period column's header. The original example spells it
# "verslagperioode"; set that if CBS wants the typo literally.
MSD_CONSENT_CSV_PERIOD_HEADER = env.str("MSD_CONSENT_CSV_PERIOD_HEADER", default="verslagperiode")


# --- Transport to RINIS (DESIGN.md §5) -------------------------------------------------
# Where our Di01s go, and the files for mutual TLS (PEM). The admin's certificate settings
# (django-simple-certmanager) take precedence over the files when filled in.
MSD_RINIS_URL = env.str("MSD_RINIS_URL", default="")
MSD_RINIS_CLIENT_CERT = env.str("MSD_RINIS_CLIENT_CERT", default="")
MSD_RINIS_CLIENT_KEY = env.str("MSD_RINIS_CLIENT_KEY", default="")
MSD_RINIS_CA_BUNDLE = env.str("MSD_RINIS_CA_BUNDLE", default="")
# Time-outs of one attempt (transport.client.timeouts_for): a small connect time-out, and
# for sending the body and again for RINIS's answer the base plus an allowance per MB of
# body, so a 25 MB Di01 gets 80 s and a small one 30 s. The message's lease covers them.
MSD_RINIS_CONNECT_TIMEOUT = env.float("MSD_RINIS_CONNECT_TIMEOUT", default=5.0)
MSD_RINIS_READ_TIMEOUT = env.float("MSD_RINIS_READ_TIMEOUT", default=30.0)
MSD_RINIS_READ_SECONDS_PER_MB = env.float("MSD_RINIS_READ_SECONDS_PER_MB", default=2.0)
if min(MSD_RINIS_CONNECT_TIMEOUT, MSD_RINIS_READ_TIMEOUT) <= 0 or MSD_RINIS_READ_SECONDS_PER_MB < 0:
    raise ImproperlyConfigured(
        "MSD_RINIS_CONNECT_TIMEOUT and MSD_RINIS_READ_TIMEOUT must be more than 0, "
        "MSD_RINIS_READ_SECONDS_PER_MB at least 0."
    )
# WS-Addressing From: how RINIS knows us.
MSD_RINIS_FROM_ADDRESS = env.str("MSD_RINIS_FROM_ADDRESS", default="urn:msdportaal")
# First retry after this many seconds, doubling each time (with jitter) up to the maximum.
MSD_RINIS_RETRY_BASE_SECONDS = env.float("MSD_RINIS_RETRY_BASE_SECONDS", default=30.0)
MSD_RINIS_RETRY_MAX_SECONDS = env.float("MSD_RINIS_RETRY_MAX_SECONDS", default=3600.0)
# How often the sweeper looks for messages a lost task left behind (one indexed query).
MSD_OUTBOX_SWEEP_SECONDS = env.float("MSD_OUTBOX_SWEEP_SECONDS", default=5.0)
# After RINIS answers again: how many waiting messages may be in flight at once.
MSD_OUTBOX_RECOVERY_BATCH = env.int("MSD_OUTBOX_RECOVERY_BATCH", default=8)
# The portal's address as RINIS reaches it (mutual TLS at the proxy): Grote Berichten
# downloads and the inbound endpoint live under it.
MSD_RINIS_FACING_URL = env.str("MSD_RINIS_FACING_URL", default="").rstrip("/")
# Trust the client-certificate headers a TLS-terminating proxy sets (nginx:
# $ssl_client_escaped_cert / $ssl_client_verify). Only enable behind such a proxy.
MSD_TRUST_CLIENT_CERT_HEADERS = env.bool("MSD_TRUST_CLIENT_CERT_HEADERS", default=False)
# ...and only when the request comes from one of these addresses (the proxy itself). From
# them alone X-Forwarded-For also names the client, for the audit trail and the login
# lockout (msdportaal.core.client_ip); from any other peer it is ignored.
MSD_TRUSTED_PROXIES = env.list("MSD_TRUSTED_PROXIES", default=["127.0.0.1", "::1"])
# ...and only with this secret in X-MSD-Proxy-Secret, which only the proxy sets (any local
# process reaches gunicorn from 127.0.0.1). Empty: the certificate headers count for nothing.
MSD_PROXY_SECRET = env.str("MSD_PROXY_SECRET", default="")
# Largest message RINIS may deliver to our inbound endpoint (the SOAP body, base64 and all).
MSD_INBOUND_MAX_BYTES = env.int("MSD_INBOUND_MAX_BYTES", default=48 * 1024 * 1024)
# Largest report RINIS may announce by Grote Berichten (we fetch it before answering).
MSD_INBOUND_GB_MAX_BYTES = env.int("MSD_INBOUND_GB_MAX_BYTES", default=1024 * 1024 * 1024)

CELERY_BEAT_SCHEDULE["daily-notifications"] = {
    "task": "msdportaal.notifications.tasks.daily_notifications",
    "schedule": 3600.0,
}
# A mail server that hangs must not hold a worker (or a request) for ever.
EMAIL_TIMEOUT = 30
# Links in e-mails point here.
MSD_PUBLIC_URL = env.str("MSD_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

# How often beat sends the e-mails (receipts, confirmations, notifications, IB's alerts)
# whose trigger or retry was lost, or whose worker died (docs/operations.md).
MSD_EMAIL_SWEEP_SECONDS = env.float("MSD_EMAIL_SWEEP_SECONDS", default=30.0)
# An e-mail the mail server did not take is tried again after this, doubling each time up
# to an hour: 14 tries in all (about nine hours with the default).
MSD_EMAIL_RETRY_BASE_SECONDS = env.float("MSD_EMAIL_RETRY_BASE_SECONDS", default=60.0)
if MSD_EMAIL_SWEEP_SECONDS <= 0 or MSD_EMAIL_RETRY_BASE_SECONDS <= 0:
    raise ImproperlyConfigured(
        "MSD_EMAIL_SWEEP_SECONDS and MSD_EMAIL_RETRY_BASE_SECONDS must be more than 0."
    )
CELERY_BEAT_SCHEDULE["sweep-emails"] = {
    "task": "msdportaal.notifications.tasks.sweep_emails",
    "schedule": MSD_EMAIL_SWEEP_SECONDS,
}
CELERY_BEAT_SCHEDULE["sweep-outbox"] = {
    "task": "msdportaal.transport.tasks.sweep_outbox",
    "schedule": MSD_OUTBOX_SWEEP_SECONDS,
}

STORAGES["privates"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(VAR_DIR / "private-media"), "base_url": "/_private/"},
}
SENDFILE_BACKEND = "django_sendfile.backends.simple"
SENDFILE_ROOT = str(VAR_DIR / "private-media")
SENDFILE_URL = "/_private/"

# --- Operations: health, metrics, logs, retention (docs/operations.md) ------------------
# Log lines as JSON (one object per line, for a log collector) or for a human at a console.
MSD_LOG_FORMAT = env.str("MSD_LOG_FORMAT", default="json" if IS_PRODUCTION_LIKE else "console")
from celery.schedules import crontab as _crontab  # noqa: E402

from msdportaal.operations.logs import configure as _configure_logs  # noqa: E402

# Replaces the plain LOGGING above: structlog renders every line, with the request id, the
# Celery task id and the outbound message bound where they apply.
LOGGING = _configure_logs(MSD_LOG_FORMAT, LOG_LEVEL, loggers=LOGGING["loggers"])
# First, so every log line of a request carries its id (X-Request-ID in and out).
MIDDLEWARE.insert(0, "msdportaal.operations.middleware.RequestIdMiddleware")
# Probes and scrapes over plain HTTP from inside the cluster are not redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^gezond/$", r"^gereed/$", r"^metrics$"]
# How long a readiness check may wait for the broker.
MSD_HEALTH_TIMEOUT_SECONDS = env.float("MSD_HEALTH_TIMEOUT_SECONDS", default=2.0)
# Who may scrape /metrics (addresses or networks, by REMOTE_ADDR); anyone else gets 404.
MSD_METRICS_ALLOWED_IPS = env.list("MSD_METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Retention: a delivered file's contents go this many days after RINIS accepted it (Bv03),
# a CBS report's this many days after it arrived (395 ≈ 13 months). Rows, sizes, SHA-256
# and the audit trail stay. Files RINIS has not accepted are never removed.
MSD_RETENTION_DELIVERED_DAYS = env.int("MSD_RETENTION_DELIVERED_DAYS", default=30)
MSD_RETENTION_REPORT_DAYS = env.int("MSD_RETENTION_REPORT_DAYS", default=395)
if MSD_RETENTION_DELIVERED_DAYS < 1 or MSD_RETENTION_REPORT_DAYS < 1:
    raise ImproperlyConfigured("MSD_RETENTION_*_DAYS must be at least 1.")
CELERY_BEAT_SCHEDULE["apply-retention"] = {
    "task": "msdportaal.operations.tasks.apply_retention",
    "schedule": _crontab(hour=3, minute=17),
}

# --- Object storage: S3-compatible (docs/configuration.md, docs/operations.md) ----------
# With MSD_S3_BUCKET set, municipal files, CBS reports and consent CSVs go to a private
# bucket instead of MEDIA_ROOT, so every web and worker node reads what another stored.
# The certificates and keys of the admin's certificate management (the "privates"
# storage) go there too, under private/, encrypted with MSD_PRIVATE_KEY_ENCRYPTION_KEY
# (core/private_storage.py): no node keeps anything another node needs.
MSD_S3_BUCKET = env.str("MSD_S3_BUCKET", default="")
if MSD_S3_BUCKET:
    from msdportaal.conf.s3 import s3_storage as _s3_storage
    from msdportaal.core.private_storage import fernet_keys as _fernet_keys

    if env.str("MSD_S3_SSE", default="") not in {"", "AES256", "aws:kms"}:
        raise ImproperlyConfigured("MSD_S3_SSE must be empty, AES256 or aws:kms.")
    _s3_options = {
        "endpoint_url": env.str("MSD_S3_ENDPOINT_URL", default=""),
        "region": env.str("MSD_S3_REGION", default="eu-west-1"),
        "access_key_id": env.str("MSD_S3_ACCESS_KEY_ID", default=""),
        "secret_access_key": env.str("MSD_S3_SECRET_ACCESS_KEY", default=""),
        "sse": env.str("MSD_S3_SSE", default=""),
        "sse_kms_key_id": env.str("MSD_S3_SSE_KMS_KEY_ID", default=""),
        "addressing_style": env.str("MSD_S3_ADDRESSING_STYLE", default="path"),
        "ca_bundle": env.str("MSD_S3_CA_BUNDLE", default=""),
    }
    _s3_location = env.str("MSD_S3_LOCATION", default="").strip("/")
    STORAGES["default"] = _s3_storage(bucket=MSD_S3_BUCKET, location=_s3_location, **_s3_options)
    _private_key = env.str("MSD_PRIVATE_KEY_ENCRYPTION_KEY", default="")
    if not _private_key:
        raise ImproperlyConfigured(
            "MSD_PRIVATE_KEY_ENCRYPTION_KEY must be set with MSD_S3_BUCKET: the admin's "
            "certificates and private keys are stored in the bucket, encrypted with it."
        )
    _fernet_keys(_private_key)  # a malformed key stops start-up, not the first upload
    STORAGES["privates"] = {
        "BACKEND": "msdportaal.core.private_storage.EncryptedPrivateStorage",
        "OPTIONS": {
            "keys": _private_key,
            "backend": _s3_storage(
                bucket=env.str("MSD_S3_PRIVATE_BUCKET", default="") or MSD_S3_BUCKET,
                location="/".join(filter(None, [_s3_location, "private"])),
                **_s3_options,
            ),
        },
    }

# --- Hardening: security headers, login lockout, where the admin lives (docs/security.md)
# Content-Security-Policy (django-csp): only our own origin, nothing inline, no plugins, no
# framing. img-src data: because the NL Design System CSS draws its icons as data: SVGs.
# A view that must post or redirect elsewhere (an eHerkenning broker, say) widens the
# policy for itself only, with csp.decorators.csp_update.
import datetime as _datetime  # noqa: E402

from csp.constants import NONE as _CSP_NONE  # noqa: E402
from csp.constants import SELF as _CSP_SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF],
        "style-src": [_CSP_SELF],
        "img-src": [_CSP_SELF, "data:"],
        "font-src": [_CSP_SELF],
        "connect-src": [_CSP_SELF],
        "frame-ancestors": [_CSP_NONE],
        "form-action": [_CSP_SELF],
        "base-uri": [_CSP_NONE],
        "object-src": [_CSP_NONE],
    },
}
# Browser features the portal never uses (msdportaal.core.security.SecurityHeadersMiddleware).
MSD_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Lockout of password logins (django-axes): after MSD_LOGIN_FAILURE_LIMIT wrong passwords
# the login is refused, even with the right password, for MSD_LOGIN_LOCKOUT_MINUTES (0: until
# another administrator lifts it: `manage.py axes_reset_username <name>` or the admin).
# MSD_LOGIN_LOCKOUT_BY: username_or_ip (default: the account and the address each count),
# username_and_ip (only the pair), username, or ip. eHerkenning and the development login
# never count (msdportaal.core.lockout.is_not_a_password_login).
AXES_FAILURE_LIMIT = env.int("MSD_LOGIN_FAILURE_LIMIT", default=5)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("MSD_LOGIN_FAILURE_LIMIT must be at least 1.")
_lockout_minutes = env.int("MSD_LOGIN_LOCKOUT_MINUTES", default=30)
AXES_COOLOFF_TIME = _datetime.timedelta(minutes=_lockout_minutes) if _lockout_minutes > 0 else None
_LOCKOUT_BY = {
    "username_or_ip": ["username", "ip_address"],
    "username_and_ip": [["username", "ip_address"]],
    "username": ["username"],
    "ip": ["ip_address"],
}
_lockout_by = env.str("MSD_LOGIN_LOCKOUT_BY", default="username_or_ip")
if _lockout_by not in _LOCKOUT_BY:
    raise ImproperlyConfigured(
        f"MSD_LOGIN_LOCKOUT_BY={_lockout_by!r}: kies {', '.join(sorted(_LOCKOUT_BY))}."
    )
AXES_LOCKOUT_PARAMETERS = _LOCKOUT_BY[_lockout_by]
AXES_RESET_ON_SUCCESS = True
AXES_WHITELIST_CALLABLE = "msdportaal.core.lockout.is_not_a_password_login"
AXES_LOCKOUT_CALLABLE = "msdportaal.core.lockout.lockout_response"
# Only a password login resets the failure count (a municipal login must not wipe it).
AXES_HANDLER = "msdportaal.core.lockout.PasswordLoginHandler"
MSD_LOCKOUT_PASSWORD_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# The same client address as the audit trail (X-Forwarded-For from MSD_TRUSTED_PROXIES only).
AXES_CLIENT_IP_CALLABLE = "msdportaal.core.client_ip.client_ip"
# Successful logins are in the audit trail already; axes keeps only the failures.
AXES_DISABLE_ACCESS_LOG = True
AXES_COOLOFF_MESSAGE = _("Te veel mislukte inlogpogingen. Probeer het later opnieuw.")
AXES_PERMALOCK_MESSAGE = _(
    "Te veel mislukte inlogpogingen. Vraag een andere beheerder de blokkade op te heffen."
)

# The IB admin (MSD_ADMIN_PATH, with its 2FA pages) answers only on these hosts (as in
# DJANGO_ALLOWED_HOSTS; ".example.nl" includes subdomains); elsewhere it is a 404.
# Empty: every allowed host.
MSD_ADMIN_HOSTS = env.list("MSD_ADMIN_HOSTS", default=[])
for _admin_host in MSD_ADMIN_HOSTS:
    from django.http.request import validate_host as _validate_host

    if not _validate_host(_admin_host.lstrip("."), ALLOWED_HOSTS):
        raise ImproperlyConfigured(
            f"MSD_ADMIN_HOSTS: {_admin_host!r} is not in DJANGO_ALLOWED_HOSTS, so the admin "
            "could never be reached there."
        )

# --- eHerkenning (DESIGN.md §1; docs/architecture.md, "eHerkenning") --------------------
# SAML 2.0 with the artifact binding, through django-digid-eherkenning. Certificates, the
# broker's metadata, the SP metadata and the service catalogue are configured in the admin
# ("Eherkenning/eIDAS configuration"); only what the admin does not hold is set here.
INSTALLED_APPS += ["digid_eherkenning", "msdportaal.organisations.eherkenning"]
# The lowest level of assurance accepted: loa2, loa2plus, loa3 (= EH3, the default), loa4.
MSD_EHERKENNING_MIN_LOA = env.str("MSD_EHERKENNING_MIN_LOA", default="loa3")
# The ArtifactResolve call to the broker (server to server, mutual TLS with the SP
# certificate): CA bundle to verify the broker with (empty: the system's / certifi's), and
# the connect and read timeout in seconds.
MSD_EHERKENNING_CA_BUNDLE = env.str("MSD_EHERKENNING_CA_BUNDLE", default="")
MSD_EHERKENNING_TIMEOUT = env.float("MSD_EHERKENNING_TIMEOUT", default=10.0)
