"""Bookwell settings: one module; everything that differs by deployment comes from the environment.

BOOKWELL_ENV=production turns on the production profile: it refuses to start without its
secrets and passes `bookwell check --deploy --fail-level WARNING`.
"""

from __future__ import annotations

import base64
import importlib.util
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
ENVIRONMENT = env("BOOKWELL_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("BOOKWELL_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
DATA_DIR = Path(env("BOOKWELL_DATA_DIR", "var")).resolve()

DEBUG = env_bool("BOOKWELL_DEBUG", False) and not PRODUCTION


def _secret_key() -> str:
    key = env("BOOKWELL_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured(
            "BOOKWELL_SECRET_KEY is not set. Production refuses to start without it; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
    # Development: generated once into the data dir, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _master_keys() -> list[tuple[str, bytes]]:
    """Operator master keys (P14, P16): `id:base64key,...`; the first one wraps new data keys.

    Errors name the problem and the key id, never the key.
    """
    raw = env("BOOKWELL_MASTER_KEYS")
    if not raw:
        if PRODUCTION:
            raise ImproperlyConfigured(
                "BOOKWELL_MASTER_KEYS is not set. Production refuses to start without a master "
                "key; generate one with: bookwell keys generate-master"
            )
        path = DATA_DIR / "master_keys"
        if not path.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("dev1:" + base64.b64encode(secrets.token_bytes(32)).decode())
        raw = path.read_text().strip()
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(raw.split(","), start=1):
        key_id, sep, encoded = entry.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", key_id):
            raise ImproperlyConfigured(
                f"BOOKWELL_MASTER_KEYS entry {position} is malformed: expected id:base64key"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ImproperlyConfigured(
                f"BOOKWELL_MASTER_KEYS entry {position} (id {key_id!r}) is not a base64-encoded "
                "256-bit key"
            )
        if any(existing == key_id for existing, _ in keys):
            raise ImproperlyConfigured(f"BOOKWELL_MASTER_KEYS names id {key_id!r} twice")
        keys.append((key_id, key))
    return keys


MASTER_KEYS = _master_keys()

ALLOWED_HOSTS = env_list(
    "BOOKWELL_ALLOWED_HOSTS",
    [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env_list("BOOKWELL_CSRF_TRUSTED_ORIGINS", [])
BASE_URL = env("BOOKWELL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "bookwell.core",
    "bookwell.tenancy",
    "bookwell.accounts",
    "bookwell.clients",
    "bookwell.scheduling",
    "bookwell.bookings",
    "bookwell.notifications",
    "bookwell.integrations",
    "bookwell.audit",
    "bookwell.telemetry",
    "bookwell.privacy",
    "bookwell.payments",
    "ninja",  # the API's documentation page and its assets, served from the package
    "django_tasks_db",
]

MIDDLEWARE = [
    "bookwell.core.middleware.proxy_headers_from_proxies_only",
    "bookwell.core.middleware.request_metrics",
    "django.middleware.security.SecurityMiddleware",
    "bookwell.audit.middleware.request_context",
    "bookwell.core.middleware.security_headers",
    "bookwell.integrations.middleware.api_problems",  # /api/: problem+json, smaller bodies
    "bookwell.core.middleware.request_size_limit",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "bookwell.core.middleware.drop_empty_sessions",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bookwell.accounts.middleware.session_timeouts",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "bookwell.urls"
WSGI_APPLICATION = "bookwell.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% url %} with remembered results, on every template (core.urlcache).
            "builtins": ["bookwell.core.templatetags.cached_url"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "bookwell.tenancy.context_processors.clinic_nav",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------------
# DATABASE_URL is the runtime connection. On PostgreSQL it must be a role that is not superuser,
# has no BYPASSRLS and owns no table (P1). Migrations run as the owning role given by
# DATABASE_OWNER_URL (`bookwell migrate` switches to it by itself).
_db_url = env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'bookwell.sqlite3'}"
# Schema commands (migrate...) sign in as the owner on purpose; the runtime-role check
# (tenancy.checks, bookwell.E010) then has nothing to say.
DB_AS_OWNER = env_bool("BOOKWELL_DB_AS_OWNER") and bool(env("DATABASE_OWNER_URL"))
if DB_AS_OWNER:
    _db_url = env("DATABASE_OWNER_URL")
# Connections are kept between requests (a new PostgreSQL connection costs more than a whole
# calendar page; on SQLite each one re-runs the PRAGMAs below) and checked before reuse. The
# clinic scope a connection carries is tracked and re-applied per query (core.db.postgresql).
_default_db = dj_database_url.parse(
    _db_url,
    conn_max_age=env_int("BOOKWELL_DB_CONN_MAX_AGE", 300),
    conn_health_checks=True,
)
if _default_db["ENGINE"] == "django.db.backends.postgresql":
    # Our backend re-asserts the clinic context on the connection before queries (RLS, P1).
    _default_db["ENGINE"] = "bookwell.core.db.postgresql"
elif _default_db["ENGINE"] == "django.db.backends.sqlite3":
    if _default_db["NAME"] and _default_db["NAME"] != ":memory:":
        Path(_default_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _default_db["OPTIONS"] = {
        # BEGIN IMMEDIATE: a transaction takes the write lock up front, so concurrent writers
        # wait (busy_timeout) instead of failing half-way through.
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA busy_timeout=10000;",
    }
else:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL or SQLite")
_default_db["ATOMIC_REQUESTS"] = True
_default_db["TEST"] = {"NAME": env("BOOKWELL_TEST_DB_NAME") or None}
if _default_db["ENGINE"] == "django.db.backends.sqlite3" and not _default_db["TEST"]["NAME"]:
    # A file, not shared memory: concurrency tests need SQLite's real locking (busy_timeout
    # applies to file locks, not to shared-cache table locks).
    _default_db["TEST"]["NAME"] = str(DATA_DIR / f"test-{os.getpid()}.sqlite3")
DATABASES = {"default": _default_db}
# The availability reads before every booking run as server-side prepared statements on
# PostgreSQL (planned once per connection; core.db.postgresql.fetch_prepared). Turn off only
# behind a connection pooler that cannot keep them (PgBouncer before 1.21 in transaction mode).
DB_PREPARED_STATEMENTS = env_bool("BOOKWELL_DB_PREPARED_STATEMENTS", default=True)
DB_APP_ROLE = env("BOOKWELL_DB_APP_ROLE")
# `bookwell backup` / `restore` on PostgreSQL: a role that row-level security does not filter
# (a superuser, or one with BYPASSRLS) and that may create the schema's objects; the restored
# objects keep their owners (docs/deploy.md). Unset: DATABASE_OWNER_URL, else DATABASE_URL.
DATABASE_BACKUP_URL = env("DATABASE_BACKUP_URL") or env("DATABASE_OWNER_URL") or env("DATABASE_URL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that hangs must not hold every request: a second, then the rate
            # limits let requests through (core.ratelimit).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Drawn calendar grids (bookings.grid_cache): always this process's memory, never Redis,
# because they hold client names. Correctness does not depend on the timeout (a database
# stamp keys them); it only bounds memory.
CACHES["calendar"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "bookwell-calendar",
    "OPTIONS": {"MAX_ENTRIES": 200},
}
# Whole calendar pages (grid_cache.cached_page), one per viewer and address: a cache of their
# own, so many front-desk screens never push the shared grids out.
CACHES["calendar_pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "bookwell-calendar-pages",
    "OPTIONS": {"MAX_ENTRIES": 100},
}
CALENDAR_CACHE_SECONDS = env_int("BOOKWELL_CALENDAR_CACHE_SECONDS", 300)

# --- Audit (P5, P6) -----------------------------------------------------------------------------
# Address-hashing keys older than this are destroyed (a new key every day).
AUDIT_IP_KEY_DAYS = env_int("BOOKWELL_AUDIT_IP_KEY_DAYS", 7)
# Full addresses of sign-ins are kept this long, for security only, then purged daily (P6).
AUDIT_RAW_IP_DAYS = env_int("BOOKWELL_AUDIT_RAW_IP_DAYS", 7)

# --- Retention (P20) ----------------------------------------------------------------------------
# How long each kind of record is kept once it is finished; a daily job deletes what is older
# (privacy.retention). Full addresses and audit events: AUDIT_RAW_IP_DAYS above, and the plan.
RETENTION_DELIVERY_DAYS = env_int("BOOKWELL_RETENTION_DELIVERY_DAYS", 365)  # messages, webhooks
RETENTION_OFFER_DAYS = env_int("BOOKWELL_RETENTION_OFFER_DAYS", 30)  # expired waitlist offers
RETENTION_EXPIRED_HOLD_DAYS = env_int("BOOKWELL_RETENTION_EXPIRED_HOLD_DAYS", 30)  # unpaid holds
RETENTION_REQUEST_DAYS = env_int("BOOKWELL_RETENTION_REQUEST_DAYS", 3 * 365)  # answered P17

# --- Payments (issue 10) -------------------------------------------------------------------------
# Stripe's API (tests point it at a local fake server). Each clinic brings its own keys.
STRIPE_API_BASE = env("BOOKWELL_STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env_int("BOOKWELL_STRIPE_TIMEOUT_SECONDS", 10)
# Where clients pay: the public booking pages' forms may lead there (CSP form-action).
STRIPE_CHECKOUT_ORIGIN = env("BOOKWELL_STRIPE_CHECKOUT_ORIGIN", "https://checkout.stripe.com")

# --- The platform's privacy notice (P19, P22) ----------------------------------------------------
# Who runs this installation: named on /privacy/ as the processor for clinics and the
# controller for staff accounts.
OPERATOR_NAME = env("BOOKWELL_OPERATOR_NAME", "The operator of this Bookwell service")
OPERATOR_CONTACT = env("BOOKWELL_OPERATOR_CONTACT", "")
# Notices of failed background work and of actors refused again and again (every 15 minutes):
# to these addresses, or else to the operator accounts.
OPERATOR_ALERT_EMAILS = env_list("BOOKWELL_OPERATOR_ALERT_EMAILS", [])
OPERATOR_DENIALS_PER_ACTOR = env_int("BOOKWELL_OPERATOR_DENIALS_PER_ACTOR", 20)

# --- A clinic's own data (P15, P16) -------------------------------------------------------------
# Export archives are written here, sealed under the clinic's data key; with more than one
# worker host this must be shared storage. A download link lasts EXPORT_LINK_HOURS, then the
# file is deleted.
EXPORT_DIR = Path(env("BOOKWELL_EXPORT_DIR", str(DATA_DIR / "exports"))).resolve()
EXPORT_LINK_HOURS = env_int("BOOKWELL_EXPORT_LINK_HOURS", 24)
# Secrets that, with the master key, unwrap each clinic's data keys (tenancy.keystore): kept
# outside the database so that deleting a clinic makes its data unreadable in database
# backups too. Shared by every web and worker process; back it up apart from the database.
KEYSTORE_DIR = Path(env("BOOKWELL_KEYSTORE_DIR", str(DATA_DIR / "keystore"))).resolve()
# A clinic asked to be deleted is purged this many days later, unless the owner cancels.
DELETION_GRACE_DAYS = env_int("BOOKWELL_DELETION_GRACE_DAYS", 14)

# --- Usage telemetry (P8) -----------------------------------------------------------------------
# Feature counts are kept per day this long, then summed into months (whole months at a time).
TELEMETRY_DAILY_DAYS = env_int("BOOKWELL_TELEMETRY_DAILY_DAYS", 90)

# --- Plans (P9) -----------------------------------------------------------------------------------
# What each plan allows; None is no limit. Months and days are UTC. BOOKWELL_PLANS_FILE names a
# JSON file of the same shape that replaces these; operators assign plans to clinics
# (/operator/clinics/), new clinics get BOOKWELL_DEFAULT_PLAN.
PLANS: dict[str, dict[str, object]] = {
    "trial": {
        "name": "Trial",
        "staff_seats": 3,
        "bookings_per_month": 300,
        "sms_per_month": 50,
        "api_calls_per_day": 2_000,
        "audit_retention_days": 90,
    },
    "standard": {
        "name": "Standard",
        "staff_seats": 25,
        "bookings_per_month": 10_000,
        "sms_per_month": 2_000,
        "api_calls_per_day": 100_000,
        "audit_retention_days": 365,
    },
    "unlimited": {
        "name": "Unlimited",
        "staff_seats": None,
        "bookings_per_month": None,
        "sms_per_month": None,
        "api_calls_per_day": None,
        "audit_retention_days": 730,
    },
}
if env("BOOKWELL_PLANS_FILE"):
    PLANS = json.loads(Path(env("BOOKWELL_PLANS_FILE")).read_text(encoding="utf-8"))
DEFAULT_PLAN = env("BOOKWELL_DEFAULT_PLAN") or "trial"
if DEFAULT_PLAN not in PLANS:
    raise ImproperlyConfigured(f"BOOKWELL_DEFAULT_PLAN {DEFAULT_PLAN!r} is not one of the plans")
# Platform events (sign-ins outside a clinic...) are kept this long.
AUDIT_PLATFORM_RETENTION_DAYS = env_int("BOOKWELL_AUDIT_PLATFORM_RETENTION_DAYS", 365)

# --- Accounts and sessions (P3) ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["bookwell.accounts.backends.Backend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",  # Argon2id
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:signin"
LOGIN_REDIRECT_URL = "tenancy:choose"
PASSWORD_RESET_TIMEOUT = env_int("BOOKWELL_PASSWORD_RESET_TIMEOUT", 60 * 60)
INVITATION_TTL = env_int("BOOKWELL_INVITATION_TTL", 7 * 24 * 60 * 60)

SESSION_ENGINE = "bookwell.accounts.backends"
# Idle timeout: the session expires this many seconds after the last request.
SESSION_IDLE_TIMEOUT = env_int("BOOKWELL_SESSION_IDLE_TIMEOUT", 30 * 60)
# Absolute timeout: however active, sign in again after this many seconds.
SESSION_ABSOLUTE_TIMEOUT = env_int("BOOKWELL_SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
# Activity extends the session, written at most once a minute (not on every request: that
# was a database write per page view). The idle timeout is therefore exact to a minute.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_EVERY = 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # the token reaches htmx through hx-headers, not the cookie
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "bookwell.core.views.csrf_failure"
# Flash messages live in the session: no third cookie (P19).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Sign-in throttling: per account+network, per network, and per account across networks.
SIGNIN_WINDOW = env_int("BOOKWELL_SIGNIN_WINDOW", 15 * 60)
# The public booking page, per IP network (a /24 or /48): page views per minute, and
# bookings or waitlist sign-ups per ten minutes.
BOOK_PAGE_LIMIT_PER_MINUTE = env_int("BOOKWELL_BOOK_PAGE_LIMIT_PER_MINUTE", 240)
BOOK_POST_LIMIT_PER_10_MINUTES = env_int("BOOKWELL_BOOK_POST_LIMIT_PER_10_MINUTES", 20)
SIGNIN_MAX_FAILURES = env_int("BOOKWELL_SIGNIN_MAX_FAILURES", 5)
SIGNIN_MAX_FAILURES_PER_NETWORK = env_int("BOOKWELL_SIGNIN_MAX_FAILURES_PER_NETWORK", 50)
SIGNIN_MAX_FAILURES_PER_ACCOUNT = env_int("BOOKWELL_SIGNIN_MAX_FAILURES_PER_ACCOUNT", 20)
SIGNIN_TRUSTED_NETWORK_DAYS = env_int("BOOKWELL_SIGNIN_TRUSTED_NETWORK_DAYS", 30)
MFA_PENDING_TTL = 5 * 60

# --- Security headers (P14, P19) --------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=(), browsing-topics=()"
)

# Behind a proxy, the client address comes from X-Forwarded-For as set by these proxies only.
BEHIND_PROXY = env_bool("BOOKWELL_BEHIND_PROXY", PRODUCTION)


def env_networks(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of addresses or networks; anything else stops start-up."""
    networks = env_list(name, default)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name} has an entry that is not an address or network: {network!r}"
            ) from exc
    return networks


TRUSTED_PROXIES = env_networks(
    "BOOKWELL_TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"] if BEHIND_PROXY else []
)

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("BOOKWELL_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("BOOKWELL_HSTS_PRELOAD", True)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]  # an explicit operator choice
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies: Secure, path /, no Domain: they cannot be set by a sibling subdomain.
    SESSION_COOKIE_NAME = "__Host-bookwell_session"
    CSRF_COOKIE_NAME = "__Host-bookwell_csrf"
    if BEHIND_PROXY:
        # The TLS-terminating proxy (nginx) overwrites this header; gunicorn listens only where
        # the proxy can reach it (see README), so no client can set it.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
else:
    SESSION_COOKIE_NAME = "bookwell_session"
    CSRF_COOKIE_NAME = "bookwell_csrf"

# --- Background work (django.tasks on the database; `bookwell worker` runs it) ---------------
TASKS = {
    "default": {
        "BACKEND": env("BOOKWELL_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# How long a worker holds a delivery it took; after that another worker may send it.
NOTIFY_LEASE_SECONDS = env_int("BOOKWELL_NOTIFY_LEASE_SECONDS", 120)
NOTIFY_MAX_ATTEMPTS = env_int("BOOKWELL_NOTIFY_MAX_ATTEMPTS", 6)
# SMS: "console" (development: written to the log without the text) or "twilio".
SMS_PROVIDER = env("BOOKWELL_SMS_PROVIDER", "console")
TWILIO_ACCOUNT_SID = env("BOOKWELL_TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env("BOOKWELL_TWILIO_AUTH_TOKEN")
TWILIO_FROM = env("BOOKWELL_TWILIO_FROM")

# --- Email ------------------------------------------------------------------------------------


def anymail_mailer(provider: str, environ: Mapping[str, str]) -> dict[str, object]:
    """django-anymail's backend for `provider` (postmark, sendgrid, mailgun, amazon_ses...),
    its options from BOOKWELL_ANYMAIL_<OPTION> variables (BOOKWELL_ANYMAIL_SERVER_TOKEN for
    Postmark's server_token, BOOKWELL_ANYMAIL_API_KEY for most others)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", provider) or provider in {"base", "test"}:
        raise ImproperlyConfigured(f"No django-anymail provider named {provider!r}")
    if importlib.util.find_spec(f"anymail.backends.{provider}") is None:
        raise ImproperlyConfigured(f"No django-anymail provider named {provider!r}")
    prefix = "BOOKWELL_ANYMAIL_"
    options = {
        k.removeprefix(prefix).lower(): v for k, v in environ.items() if k.startswith(prefix)
    }
    return {"BACKEND": f"anymail.backends.{provider}.EmailBackend", "OPTIONS": options}


DEFAULT_FROM_EMAIL = env("BOOKWELL_FROM_EMAIL", "Bookwell <no-reply@bookwell.invalid>")
# Production sends through SMTP; development writes each message to a file under the data dir.
_mail_backend = env("BOOKWELL_EMAIL_BACKEND", "smtp" if PRODUCTION else "file")
EMAIL_DELIVERY = _mail_backend  # named in the privacy notice's list of sub-processors
# Who delivers the mail, as the privacy notice names it (the SMTP host stays private).
EMAIL_PROVIDER_NAME = env("BOOKWELL_EMAIL_PROVIDER_NAME", "")
if _mail_backend == "smtp":
    _mailer: dict[str, object] = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env("BOOKWELL_EMAIL_HOST", "localhost"),
            "port": env_int("BOOKWELL_EMAIL_PORT", 587),
            "username": env("BOOKWELL_EMAIL_USER"),
            "password": env("BOOKWELL_EMAIL_PASSWORD"),
            "use_tls": env_bool("BOOKWELL_EMAIL_TLS", True),
            # A hung server must not hold a worker (and its lease) for ever.
            "timeout": env_int("BOOKWELL_EMAIL_TIMEOUT", 30),
        },
    }
elif _mail_backend == "file":
    _mailer = {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(DATA_DIR / "outbox")},
    }
elif _mail_backend == "console":
    _mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
elif _mail_backend.startswith("anymail:"):
    _mailer = anymail_mailer(_mail_backend.removeprefix("anymail:"), os.environ)
else:
    raise ImproperlyConfigured(
        "BOOKWELL_EMAIL_BACKEND must be smtp, file, console or anymail:<provider>"
    )
MAILERS = {"default": _mailer}

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Django's and whitenoise's storages, remembering each file's URL (core.staticfiles).
        "BACKEND": "bookwell.core.staticfiles.ProductionStorage"
        if PRODUCTION
        else "bookwell.core.staticfiles.DevStorage"
    },
}

GUNICORN_WORKERS = env_int("BOOKWELL_WORKERS", 2)
# /metrics (Prometheus): open to a scraper that sends this token (Authorization: Bearer), or
# from these networks (the client address as resolved behind trusted proxies). Neither set:
# the endpoint answers 404 to everyone.
METRICS_TOKEN = env("BOOKWELL_METRICS_TOKEN")
METRICS_DIR = env("BOOKWELL_METRICS_DIR", str(DATA_DIR / "metrics"))
METRICS_ALLOWED_NETWORKS = env_networks("BOOKWELL_METRICS_ALLOWED_NETWORKS", [])
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("BOOKWELL_METRICS_TOKEN must be at least 24 characters")
# /readyz: a worker must have stamped its heartbeat within this many seconds.
WORKER_HEARTBEAT_MAX_AGE_S = env_int("BOOKWELL_WORKER_HEARTBEAT_MAX_AGE", 60)
# Requests per minute one API token may make (429 with Retry-After beyond); one number for
# now, to be tied to plan allowances.
API_RATE_PER_MINUTE = env_int("BOOKWELL_API_RATE_PER_MINUTE", 600)
API_MAX_BODY_BYTES = env_int("BOOKWELL_API_MAX_BODY_BYTES", 256 * 1024)
# Webhooks go to public https addresses only (SSRF). Tests and local development may allow
# private addresses (a receiver on this machine) and plain http.
WEBHOOKS_ALLOW_PRIVATE = env_bool("BOOKWELL_WEBHOOKS_ALLOW_PRIVATE", False) and not PRODUCTION
WEBHOOKS_ALLOW_HTTP = env_bool("BOOKWELL_WEBHOOKS_ALLOW_HTTP", True) and not PRODUCTION
WEBHOOKS_TIMEOUT = env_int("BOOKWELL_WEBHOOKS_TIMEOUT", 5)  # seconds per request
WEBHOOKS_MAX_ATTEMPTS = env_int("BOOKWELL_WEBHOOKS_MAX_ATTEMPTS", 10)  # ~4 h of backoff
# Failed attempts in a row after which an endpoint is switched off (the clinic is told).
WEBHOOKS_DISABLE_AFTER = env_int("BOOKWELL_WEBHOOKS_DISABLE_AFTER", 15)
# Largest request body accepted (CSV imports are the largest: 10 MB of file).
MAX_REQUEST_BYTES = env_int("BOOKWELL_MAX_REQUEST_BYTES", 12 * 1024 * 1024)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
TIME_ZONE = "UTC"
USE_I18N = True
# Our own translations (German is complete for the public booking flow). The compiled .mo
# files are committed, so a fresh machine needs no gettext tools.
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["bookwell.formats"]
USE_TZ = True

# --- Logging: no personal data (P7). Request paths can carry tokens, so django.request's
# per-request warnings are not logged; errors are, without the request.
LOG_FORMAT = env("BOOKWELL_LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("BOOKWELL_LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line goes through the scrubber first: personal attributes dropped, email, phone
    # and IP patterns masked (bookwell.core.logformat).
    "filters": {"scrub": {"()": "bookwell.core.logformat.Scrubber"}},
    "formatters": {
        "json": {"()": "bookwell.core.logformat.JsonLines"},
        "plain": {
            "()": "bookwell.core.logformat.PlainWithFields",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["scrub"],
        }
    },
    "root": {"handlers": ["console"], "level": env("BOOKWELL_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (a console when DEBUG, mail to ADMINS) bypass the scrubber:
        # its loggers go to ours instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"level": "ERROR"},
        "django.security": {"level": "ERROR"},
        # The task worker logs every poll at INFO; its warnings and errors are what matter.
        "django_tasks_db": {"level": "WARNING"},
        # Twilio's client logs request URLs and headers at INFO; nothing of a message belongs
        # in our logs (P7, P12).
        "twilio": {"level": "WARNING"},
    },
}
