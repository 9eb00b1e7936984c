"""GridGov settings, all from environment variables.

With no variables set GridGov runs embedded: SpatiaLite in ``var/gridgov.sqlite3`` and a
Celery broker in ``var/broker/`` (kombu's filesystem transport), so the web server, the
worker and beat are real separate processes without any server. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostGIS and Redis.
"""

import math
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false.")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    message = f"{name}={value!r} is not a number."
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(message) from None
    # float() accepts "nan" and "inf", which would silently disable a tolerance.
    if not math.isfinite(number):
        raise ImproperlyConfigured(message)
    return number


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATABASE_URL_FORMS = (
    "postgis://USER:PASSWORD@HOST:PORT/NAME (HOST may be %2F…, a Unix socket's directory)"
    " or spatialite:///PATH"
)


def parse_database_url(url: str) -> dict:
    """Turn a DATABASE_URL into a Django DATABASES entry, or say clearly what is wrong."""

    def bad(reason: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(
            f"DATABASE_URL {url!r} is malformed: {reason}. Expected {DATABASE_URL_FORMS}."
        )

    parts = urlsplit(url)
    if parts.scheme == "spatialite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise bad("a SpatiaLite URL needs a file path after three slashes")
        # spatialite:///var/db.sqlite3 is relative to the project; four slashes are absolute.
        name = Path(path[1:])
        if not name.is_absolute():
            name = BASE_DIR / name
        return {
            "ENGINE": "django.contrib.gis.db.backends.spatialite",
            "NAME": str(name),
            "OPTIONS": {
                # Web, worker and beat share one file: readers do not block the writer
                # (WAL), a writer takes its lock up front (IMMEDIATE) and waits for it.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    if parts.scheme in ("postgis", "postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        if not name or "/" in name:
            raise bad("the database name is missing")
        host = parts.hostname
        written = parts.netloc.rpartition("@")[2]
        if written[:3].upper() == "%2F":
            # The directory of the server's Unix socket, percent-encoded as in libpq's own
            # URLs (postgis://USER@%2Fvar%2Frun%2Fpostgresql/NAME): a server on the same
            # machine, without the TCP stack's cost on each of a request's round trips.
            host = unquote(written.partition(":")[0])
        if not host:
            raise bad("the host is missing")
        try:
            port = parts.port
        except ValueError:
            raise bad("the port is not a number") from None
        return {
            "ENGINE": "django.contrib.gis.db.backends.postgis",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(port or ""),
            # Persistent connections: opening one costs ~15 ms per request on PostGIS.
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            # Parameters bound by the server, and statements run often prepared by psycopg
            # (from the 5th run): the server parses and plans the workflow's few dozen
            # statements once per connection, not per request (PostgreSQL's CPU for a case
            # created through the API fell from 6-8 ms to 4.3-4.9 ms). Turn it off behind a
            # pooler in transaction mode, where prepared statements do not survive.
            # No JIT compilation: PostgreSQL compiles any statement it estimates above
            # jit_above_cost, and at ten million cases its estimates for the figures'
            # reads crossed it: 25-110 ms of compiling for statements that ran in 50.
            "OPTIONS": {
                "server_side_binding": envbool("DB_SERVER_SIDE_BINDING", True),
                "prepare_threshold": envint("DB_PREPARE_THRESHOLD", 5),
                "options": "-c jit=on" if envbool("DB_JIT", False) else "-c jit=off",
                **dict(parse_qsl(parts.query)),
            },
        }
    raise bad(f"unknown scheme {parts.scheme!r}" if parts.scheme else "no scheme")


def read_or_create_secret(path: Path) -> str:
    """The embedded default keeps a generated key in var/ so sessions survive restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


VAR_DIR = Path(envstr("GRIDGOV_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or read_or_create_secret(VAR_DIR / "secret_key")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", False)

INSTALLED_APPS = [
    "org.apps.GridGovAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "governance",
    "org",
    "grids",
    "cases",
    "clocks",
    "notifications",
    "feeds",
    "stats",
    "keys",
    "open311",
    "maps",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "keys.middleware.ApiRequestLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "org.context_processors.roles",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        envstr("DATABASE_URL", f"spatialite:///{VAR_DIR / 'gridgov.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"].endswith("spatialite"):
    # Tests use a file, not memory, so that a worker process can open the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-gridgov.sqlite3")}
elif os.environ.get("TEST_DATABASE_NAME"):
    # Lets two test runs share one PostgreSQL server.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
# Debian 12 ships GDAL 3.6, which cannot block file and network access from spatial
# reference strings; GridGov only reads SRS from uploaded files' own metadata.
# SQLite ignores an index's INCLUDE columns (models.W040), which only save PostgreSQL's
# figures and map tiles a visit to the table: the embedded default works without them.
SILENCED_SYSTEM_CHECKS = ["gis.W001", "models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
AUTHENTICATION_BACKENDS = ["org.backends.RoleBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Wrong passwords (org/login_guard.py): an account is refused for LOGIN_LOCK_MINUTES after
# LOGIN_FAILURES of them within that time, an address after LOGIN_ADDRESS_FAILURES (set it
# high when every log-in reaches GridGov from one proxy's address).
LOGIN_FAILURES = envint("LOGIN_FAILURES", 5)
LOGIN_ADDRESS_FAILURES = envint("LOGIN_ADDRESS_FAILURES", 30)
LOGIN_LOCK_MINUTES = envint("LOGIN_LOCK_MINUTES", 15)
# A session ends this many hours after its log-in: a shift, not the two weeks Django keeps.
SESSION_COOKIE_AGE = envint("SESSION_HOURS", 12) * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese first: city staff use GridGov in Chinese; a browser asking for English gets English.
LANGUAGE_CODE = envstr("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "Asia/Shanghai")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known time zone.") from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
WHITENOISE_USE_FINDERS = DEBUG

REDIS_URL = envstr("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL {REDIS_URL!r} must start with redis:// or rediss://.")

# Celery: the CELERY_ namespace is read by governance/celery.py.
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran: a worker killed mid-task leaves it on the queue.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django support closes every database connection before and after each task
# unless told to keep them for a number of tasks. Each routing then opened a PostgreSQL
# connection of its own: a new server process with cold caches (planning its first
# statements took 2-3 ms each) and no prepared statements. Kept for this many tasks;
# between tasks governance/celery.py closes them as Django does between requests
# (CONN_MAX_AGE, health checks, a connection that had an error).
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 10_000)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues by purpose, so that a flood of notifications cannot delay routing.
# Event feeds have their own queue: a slow receiver must not hold up people's notifications.
GRIDGOV_QUEUES = ["default", "routing", "clocks", "notifications", "feeds"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    BROKER_DIR = Path(envstr("GRIDGOV_BROKER_DIR", str(VAR_DIR / "broker")))
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport, with messages written atomically (governance/broker.py).
    CELERY_BROKER_TRANSPORT = "governance.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    for folder in ("queue", "control", "processed"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    # The filesystem transport has no broadcast channel for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where django.core.mail.backends.filebased.EmailBackend writes, when chosen.
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "gridgov@localhost")
# Where people and other systems reach this GridGov: links in e-mails and event feeds.
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must start with http:// or https://.")
# How often unread notifications go out by e-mail, one message per person.
NOTIFICATION_DIGEST_SECONDS = envint("NOTIFICATION_DIGEST_SECONDS", 300)
if NOTIFICATION_DIGEST_SECONDS < 10:
    raise ImproperlyConfigured("NOTIFICATION_DIGEST_SECONDS must be at least 10.")

# Shared by every web process: API keys' rate limits are counted here, so the count must
# not be per process (Django's default local-memory cache would multiply each limit by the
# number of gunicorn workers). Redis when there is one; else files in var/, which every
# process on this machine shares (its increments are not atomic: a limit may be exceeded
# by a few requests under a race, acceptable for the embedded single-machine default).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "governance.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gridgov",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The cache the log-in counts live in. "local" (the test run) keeps them in each process,
# where a test can clear them without touching the broker's Redis database.
LOGIN_GUARD_CACHE = envstr("LOGIN_GUARD_CACHE", "default")
if LOGIN_GUARD_CACHE == "local":
    CACHES["local"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "login-guard",
    }

# The JSON API under /api/v1/: personal tokens, API keys for other systems (keys/), or a
# signed-in session. Errors are JSON {"detail": ..., "field": ...} (governance/api.py).
REST_FRAMEWORK = {
    # The first class names the scheme a 401 asks for.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "keys.authentication.PersonalTokenAuthentication",
        "keys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "governance.api.HoldsARole",
        "keys.permissions.KeyHasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["keys.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"login": envstr("API_LOGIN_RATE", "20/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "governance.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GridGov API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"],
    "DESCRIPTION": (
        "The GridGov API. Authenticate with a personal token (`Authorization: Token …`, "
        "from `POST /api/v1/auth/token/`), an API key issued by an administrator "
        "(`Authorization: Api-Key …`), or a signed-in session. Every error is JSON "
        '`{"detail": …, "field": …}`.'
    ),
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "governance.api.document_errors",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# Every periodic task, in one place.
CELERY_BEAT_SCHEDULE = {
    # Proves beat and a worker are alive; shown to administrators.
    "heartbeat": {"task": "governance.tasks.record_heartbeat", "schedule": 60.0},
    # Routes filed cases whose routing task was lost (broker down, worker killed mid-task).
    "ensure-cases-routed": {"task": "cases.tasks.ensure_cases_routed", "schedule": 60.0},
    # Fires the escalation steps that came due (each exactly once); due times are rows in
    # clocks_clockstep, so a missed tick or a flushed broker only delays them a minute.
    "fire-escalations": {"task": "clocks.tasks.fire_escalations", "schedule": 60.0},
    # Closes GIS imports whose worker died mid-run, so the page stops showing "running".
    "ensure-imports-finish": {"task": "grids.tasks.ensure_imports_finish", "schedule": 600.0},
    # One e-mail per person with their unread notifications: often enough to be timely,
    # seldom enough that a burst of events becomes one message, not a flood.
    "send-notification-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": float(NOTIFICATION_DIGEST_SECONDS),
    },
    # Sends event feed deliveries that are due but whose task was lost (broker, worker).
    "ensure-deliveries-sent": {"task": "feeds.tasks.ensure_deliveries_sent", "schedule": 60.0},
    # Reads new case events into the dashboard's figures, so a new case shows within seconds;
    # a run that finds nothing new costs one indexed query. Expires rather than piling up.
    "ensure-figures-current": {
        "task": "stats.tasks.ensure_figures_current",
        "schedule": 3.0,
        "options": {"expires": 30},
    },
    # Deletes finished exports past their expiry, so downloads do not pile up on disk.
    "delete-expired-exports": {
        "task": "evaluation.tasks.delete_expired_exports",
        "schedule": 3600.0,
    },
    # Recomputes every figure from the whole history at night, when few cases move; it
    # gives the same numbers and counts any case where the incremental path differed.
    "rebuild-figures": {
        "task": "stats.tasks.rebuild_figures",
        "schedule": crontab(hour=2, minute=30),
    },
}
# An import still "running" after this long is taken to have lost its worker.
IMPORT_STALL_SECONDS = envint("IMPORT_STALL_SECONDS", 3600)
# Escalation steps fired per transaction by the sweep. Each batch holds its cases' rows
# until it commits (about 0.3 s for 2,000 at a million open cases); larger batches fire a
# backlog a little faster (10,000 due: 1.6-2.2 s in batches of 1,000, 1.4-1.7 s of 5,000).
ESCALATION_BATCH = envint("ESCALATION_BATCH", 2000)
# Open cases recomputed per task after a calendar or limit changes: a few seconds of work,
# so that routing and the other tasks run between the chunks of a long recalculation.
CLOCKS_RECALCULATION_CHUNK = envint("CLOCKS_RECALCULATION_CHUNK", 500)
# A filed case is swept up for routing when its task has not run within this time.
ROUTING_GRACE_SECONDS = envint("ROUTING_GRACE_SECONDS", 30)
# A routing task takes the other cases waiting along with its own, up to this many: under
# load one transaction routes a batch, and the rows they share are read once.
ROUTING_BATCH = envint("ROUTING_BATCH", 100)
# A wake-up task sent to a queue is trusted to be waiting there for this long; after it, the
# next piece of work sends another (governance/wake.py).
WAKE_SECONDS = envint("WAKE_SECONDS", 30)
# With the broker down, give up publishing quickly: the request that filed a case must not
# hang, and the sweep enqueues the task again later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2

# Unit grid codes: community code + a 2- or 3-digit sequence (DOMAIN.md §4).
GRID_SEQUENCE_DIGITS = envint("GRID_SEQUENCE_DIGITS", 3)
if GRID_SEQUENCE_DIGITS not in (2, 3):
    raise ImproperlyConfigured("GRID_SEQUENCE_DIGITS must be 2 or 3.")

# Maps. The base layer under the grids: "none" (a plain background, works offline),
# "osm" (XYZ tiles from MAP_TILE_URL) or "tianditu" (China's national map, TIANDITU_KEY).
MAP_BASE_LAYER = envstr("MAP_BASE_LAYER", "none")
MAP_TILE_URL = envstr("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
TIANDITU_KEY = envstr("TIANDITU_KEY", "")
if MAP_BASE_LAYER not in ("none", "osm", "tianditu"):
    raise ImproperlyConfigured(
        f"MAP_BASE_LAYER={MAP_BASE_LAYER!r} is not one of: none, osm, tianditu."
    )
if MAP_BASE_LAYER == "tianditu" and not TIANDITU_KEY:
    raise ImproperlyConfigured("MAP_BASE_LAYER=tianditu needs TIANDITU_KEY.")
# A map response holds at most this many features; past it the map asks to zoom in.
MAP_MAX_FEATURES = envint("MAP_MAX_FEATURES", 5000)
# GIS imports: a unit grid may stick out of its community by this fraction of its own area,
# and two grids of one community may overlap by this many m² (digitising noise).
GRID_IMPORT_OUTSIDE_TOLERANCE = envfloat("GRID_IMPORT_OUTSIDE_TOLERANCE", 0.01)
if not 0 <= GRID_IMPORT_OUTSIDE_TOLERANCE < 1:
    raise ImproperlyConfigured("GRID_IMPORT_OUTSIDE_TOLERANCE must be a fraction from 0 to 1.")
GRID_IMPORT_OVERLAP_TOLERANCE_M2 = envfloat("GRID_IMPORT_OVERLAP_TOLERANCE_M2", 1.0)
if GRID_IMPORT_OVERLAP_TOLERANCE_M2 < 0:
    raise ImproperlyConfigured("GRID_IMPORT_OVERLAP_TOLERANCE_M2 must not be negative.")
GRID_IMPORT_MAX_BYTES = envint("GRID_IMPORT_MAX_BYTES", 50 * 1024 * 1024)

# Duplicate reports: open cases of the same category this close and this recent.
DUPLICATE_RADIUS_M = envint("DUPLICATE_RADIUS_M", 50)
# A report placed farther than this outside the box around the city's districts is refused
# on the report page as a slip of the pin (nearer, outside every grid, it goes to triage).
REPORT_MAX_KM_OUTSIDE = envint("REPORT_MAX_KM_OUTSIDE", 20)
DUPLICATE_WINDOW_DAYS = envint("DUPLICATE_WINDOW_DAYS", 7)
# Photos: larger uploads are refused; kept photos are scaled down to this many pixels.
PHOTO_MAX_BYTES = envint("PHOTO_MAX_BYTES", 15 * 1024 * 1024)
PHOTO_MAX_SIDE = envint("PHOTO_MAX_SIDE", 2560)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Event feeds (feeds/): after the n-th failed attempt the next waits the n-th delay, in
# seconds (the last one repeats); after FEEDS_MAX_ATTEMPTS the delivery is marked failed and
# can be replayed from the admin. The defaults keep trying for about 15 hours.
FEEDS_RETRY_DELAYS_MESSAGE = "FEEDS_RETRY_DELAYS must be comma-separated seconds, e.g. 10,30,120."
try:
    FEEDS_RETRY_DELAYS = [
        float(delay) for delay in envlist("FEEDS_RETRY_DELAYS", "10,30,120,600,1800,3600")
    ]
except ValueError:
    raise ImproperlyConfigured(FEEDS_RETRY_DELAYS_MESSAGE) from None
if not FEEDS_RETRY_DELAYS or not all(0 <= delay <= 86400 for delay in FEEDS_RETRY_DELAYS):
    raise ImproperlyConfigured(FEEDS_RETRY_DELAYS_MESSAGE)
FEEDS_MAX_ATTEMPTS = envint("FEEDS_MAX_ATTEMPTS", 20)
# Open311 discovery announces this server as the production endpoint, and this URL (a
# staging GridGov's /open311/v2) as the test endpoint when set.
OPEN311_TEST_URL = envstr("OPEN311_TEST_URL", "")
FEEDS_TIMEOUT_SECONDS = envfloat("FEEDS_TIMEOUT_SECONDS", 10.0)
if FEEDS_MAX_ATTEMPTS < 1 or not 0 < FEEDS_TIMEOUT_SECONDS <= 300:
    raise ImproperlyConfigured(
        "FEEDS_MAX_ATTEMPTS must be at least 1 and FEEDS_TIMEOUT_SECONDS from 0 to 300."
    )
# A due delivery whose task has not run within this time is enqueued again by the sweep.
FEEDS_SWEEP_GRACE_SECONDS = envint("FEEDS_SWEEP_GRACE_SECONDS", 60)
# Case events written with bulk_create send no signal; the sweep finds them by time (the
# escalation engine records fired steps that way), looking back this far for late commits.
FEEDS_BULK_ACTIONS = envlist("FEEDS_BULK_ACTIONS", "escalate")
FEEDS_BULK_OVERLAP_SECONDS = envint("FEEDS_BULK_OVERLAP_SECONDS", 300)
