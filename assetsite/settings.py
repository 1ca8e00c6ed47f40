"""Settings for assetsite, all read from the environment (see the README's Configuration table)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from assetsite.env import env_bool, env_float, env_int, env_list, env_ports, env_str, parse_label_thresholds

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    # One machine without SECRET_KEY: keep a random key under var/ so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "media.apps.MediaConfig",
    "albums.apps.AlbumsConfig",
    "tagging.apps.TaggingConfig",
    "search.apps.SearchConfig",
    "review.apps.ReviewConfig",
    "library.apps.LibraryConfig",
    "integrations.apps.IntegrationsConfig",
]

MIDDLEWARE = [
    # First: an oversized API body is refused before anything reads it.
    "assetsite.body_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "assetsite.urls"
WSGI_APPLICATION = "assetsite.wsgi.application"

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
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so a real worker process started by the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
# Parallel query workers per search (PostgreSQL's max_parallel_workers_per_gather). 0 by default: on a
# small host shared with the detection workers, starting parallel workers cost more than they saved
# (bench/search.py: label+confidence, box size and mixed-filter searches 2-10x slower under load).
# Empty keeps the server's setting.
DATABASE_PARALLEL_WORKERS = env_str("DATABASE_PARALLEL_WORKERS", "0").strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_PARALLEL_WORKERS:
    if not DATABASE_PARALLEL_WORKERS.isdigit():
        raise ImproperlyConfigured(
            f"DATABASE_PARALLEL_WORKERS must be a whole number or empty, not {DATABASE_PARALLEL_WORKERS!r}."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c max_parallel_workers_per_gather={int(DATABASE_PARALLEL_WORKERS)}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Celery worker processes keep their connection this long (seconds; None: for ever) instead of the web's
# value: connecting again for every task costs time per image (assetsite/celery.py).
WORKER_CONN_MAX_AGE = env_int("WORKER_CONN_MAX_AGE", 600, minimum=0)

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Fails open: a Redis outage turns cache reads into misses (throttling pauses) instead of 500s, so
    # uploads keep being accepted while the broker is down. Short timeouts: a partitioned Redis must
    # not hold requests.
    CACHES = {
        "default": {
            "BACKEND": "assetsite.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

# --- auth ---------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The lockout check runs first: a locked-out username or address is refused before any password hashing.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "library"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static and uploaded files ------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files live outside every Python package; they are served only through owner-checked views.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "/media-files/"  # never routed: files go through views that check the owner
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
STORAGES = {
    "default": {"BACKEND": STORAGE_BACKEND},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
if STORAGE_BACKEND.startswith("storages."):
    # django-storages reads its AWS_* settings; pass through the ones set in the environment.
    for _name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_S3_REGION_NAME",
        "AWS_LOCATION",
        "AWS_S3_ADDRESSING_STYLE",  # "path" for most self-hosted S3 servers (SeaweedFS, MinIO)
    ):
        if env_str(_name):
            globals()[_name] = env_str(_name)
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_S3_FILE_OVERWRITE = False
    from botocore.config import Config as _BotoConfig

    # Short timeouts and few retries: an unreachable bucket must become a quick 503, not a minute-long hang.
    AWS_S3_CLIENT_CONFIG = _BotoConfig(
        connect_timeout=env_float("STORAGE_CONNECT_TIMEOUT", 5.0, low=0.1, high=120.0),
        read_timeout=env_float("STORAGE_READ_TIMEOUT", 60.0, low=0.1, high=600.0),
        retries={"max_attempts": env_int("STORAGE_RETRIES", 3, minimum=1), "mode": "standard"},
        s3={"addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or "auto"},
        signature_version="s3v4",  # presigned URLs too (SigV2 is refused by newer stores and AWS regions)
    )
# Object storage only: signed file URLs and file views answer 302 to a presigned URL of the bucket
# (after the same owner / share-link / signature check), so the bytes do not pass through Django.
FILE_REDIRECT_TO_STORAGE = env_bool("FILE_REDIRECT_TO_STORAGE", False)
FILE_REDIRECT_LIFETIME = env_int("FILE_REDIRECT_LIFETIME", 300, minimum=1)
# The bucket's address as browsers reach it, when it differs from AWS_S3_ENDPOINT_URL (compose: http://s3:8333
# for the site, http://localhost:8333 for browsers). Empty: AWS_S3_ENDPOINT_URL.
FILE_REDIRECT_ENDPOINT_URL = env_str("FILE_REDIRECT_ENDPOINT_URL")
# Stored files whose asset row does not exist (an upload or deletion cut short by an outage) are deleted
# by a periodic sweep once older than this; younger ones may belong to an upload in progress.
STORAGE_ORPHAN_GRACE_HOURS = env_int("STORAGE_ORPHAN_GRACE_HOURS", 24, minimum=1)
STORAGE_ORPHAN_SWEEP_INTERVAL = env_int("STORAGE_ORPHAN_SWEEP_INTERVAL", 6 * 3600, minimum=60)

ASSET_MAX_BYTES = env_int("ASSET_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
ASSET_MAX_PIXELS = env_int("ASSET_MAX_PIXELS", 100_000_000, minimum=1)
ASSET_MAX_FRAMES = env_int("ASSET_MAX_FRAMES", 5000, minimum=1)
ASSET_MAX_ANIMATION_PIXELS = env_int("ASSET_MAX_ANIMATION_PIXELS", 1_000_000_000, minimum=1)
ASSET_STRIP_GPS = env_bool("ASSET_STRIP_GPS", True)
# Decoding memory (media/decoding.py): a decoded frame costs up to 4 bytes per pixel whatever the file size.
# Pixels of decoded frames in flight at once per process (one frame over it still decodes, alone)...
ASSET_DECODE_PIXEL_BUDGET = env_int("ASSET_DECODE_PIXEL_BUDGET", ASSET_MAX_PIXELS, minimum=1)
# ...and decodes of at least ASSET_HEAVY_DECODE_PIXELS at once per machine (flock slots in the lock
# directory, shared by every process using it); 0 slots: no cap. Whoever waits longer than
# ASSET_DECODE_WAIT seconds is answered 503 server_busy with Retry-After.
ASSET_HEAVY_DECODE_PIXELS = env_int("ASSET_HEAVY_DECODE_PIXELS", 16_000_000, minimum=1)
ASSET_HEAVY_DECODE_SLOTS = env_int("ASSET_HEAVY_DECODE_SLOTS", 2, minimum=0)
ASSET_DECODE_WAIT = env_float("ASSET_DECODE_WAIT", 10.0, low=0.0, high=600.0)
ASSET_DECODE_LOCK_DIR = Path(env_str("ASSET_DECODE_LOCK_DIR", str(VAR_DIR / "locks"))).resolve()
# Signed file URLs (media.signing): how long they work by default, and at most when a client asks.
FILE_URL_LIFETIME = env_int("FILE_URL_LIFETIME", 3600, minimum=1)
FILE_URL_MAX_LIFETIME = env_int("FILE_URL_MAX_LIFETIME", 7 * 24 * 3600, minimum=1)
# Renditions (media.renditions): the largest side asked for, and how many each asset keeps cached.
RENDITION_MAX_SIDE = env_int("RENDITION_MAX_SIDE", 4096, minimum=16)
RENDITION_CACHE_PER_ASSET = env_int("RENDITION_CACHE_PER_ASSET", 32, minimum=1)
# The site's public address (https://photos.example.com), for links sent without a request: webhooks.
SITE_URL = env_str("SITE_URL", "")
ASSET_THUMBNAIL_SIZES = {"small": 256, "large": 1024}
# Videos (recognised by content) have limits of their own; ASSET_MAX_BYTES stays the images' limit.
VIDEO_MAX_BYTES = env_int("VIDEO_MAX_BYTES", 4 * 1024**3, minimum=1)
VIDEO_MAX_SECONDS = env_float("VIDEO_MAX_SECONDS", 1800.0, low=1.0)
VIDEO_MAX_PIXELS = env_int("VIDEO_MAX_PIXELS", 8192 * 4320, minimum=1)  # 8K (DCI)
VIDEO_MAX_FPS = env_float("VIDEO_MAX_FPS", 240.0, low=1.0)
FILE_UPLOAD_HANDLERS = [
    "media.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 200, minimum=1)
# Largest JSON or form-encoded API body (assetsite/body_limits.py): 413 before it is read. Bulk requests
# of BULK_MAX_ASSETS ids take about 40 bytes per id; uploads (multipart) and COCO imports have their own.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

# --- clients behind proxies ---------------------------------------------------------------------

# How many reverse proxies (each appending one X-Forwarded-For entry) stand between clients and gunicorn.
# 0: none, the header is ignored. Throttles and the login lockout read the client's address this way, so a
# forged X-Forwarded-For cannot make a client look like someone new.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)

# --- login lockout (django-axes) ----------------------------------------------------------------

AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
# Failed logins within LOGIN_LOCKOUT_MINUTES of each other that lock a username (from any address)...
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
# ...and that lock an address (for every username): higher, since offices share one address.
LOGIN_FAILURE_LIMIT_PER_IP = env_int("LOGIN_FAILURE_LIMIT_PER_IP", 20, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# Counts per username and per address with their own limits (axes itself has one limit for both).
AXES_HANDLER = "assetsite.login_lockout.LockoutHandler"
AXES_LOCKOUT_CALLABLE = "assetsite.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "assetsite.clientip.client_ip"
# Attempts during a lockout are refused without being counted, so the lockout ends when the page says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the address's count: one valid account must not reset an attacker's budget.
AXES_RESET_ON_SUCCESS = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# --- Content-Security-Policy (django-csp) -------------------------------------------------------

# Scripts only from this site's files: no inline scripts, no eval. Inline style *attributes* are allowed
# (label colours and box positions are computed per object on the server); <style> elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],  # only for browsers without CSP 3's -elem/-attr below
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env_str("CSP_REPORT_URI"):  # a collector of your own that browsers report violations to
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env_str("CSP_REPORT_URI")]

# --- REST API -----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: unauthenticated requests then get 401 with "WWW-Authenticate: Token".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "assetsite.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "assetsite.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "assetsite.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "assetsite.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    # Only X-Forwarded-For entries added by our own proxies count (see NUM_PROXIES below).
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER", "6000/min"),
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
        # Bulk actions and COCO imports/exports: few requests, each touching many assets.
        "bulk": env_str("API_THROTTLE_BULK", "60/min"),
        # Single actions that make a worker busy, from the API and the pages alike: re-tag one asset, a
        # webhook test delivery (it can hold the webhook worker for up to 3 x WEBHOOK_TIMEOUT).
        "retag": env_str("API_THROTTLE_RETAG", "30/min"),
        "pings": env_str("API_THROTTLE_PINGS", "10/min"),
        # File downloads (originals, thumbnails, renditions, crops), signed URLs included: a page of
        # thumbnails is many requests.
        "files": env_str("API_THROTTLE_FILES", "3000/min"),
        # Renditions that are not cached yet (each is a decode and an encode).
        "renditions": env_str("API_THROTTLE_RENDITIONS", "120/min"),
    },
}
# API tokens (integrations.models.ApiToken): how many per user, and the longest life (0: no limit).
API_TOKEN_MAX_PER_USER = env_int("API_TOKEN_MAX_PER_USER", 20, minimum=1)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 0, minimum=0)
SPECTACULAR_SETTINGS = {
    "TITLE": "assetsite API",
    "DESCRIPTION": "Upload images, read their automatically detected objects, search the library.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from validator.swagger.io: the reference pages load nothing from other sites.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are documented as JSON (the upload as multipart): one content type per body keeps
    # generated clients simple. Form-encoded bodies are still accepted.
    "PARSER_WHITELIST": ["assetsite.parsers.JSONParser"],
    # Stable enum names in generated clients (instead of hashed ones where two fields share a name).
    "ENUM_NAME_OVERRIDES": {
        "ReviewStateEnum": "tagging.models.ReviewState",
        "DetectionSourceEnum": "tagging.models.DetectionSource",
        "TaggingStatusEnum": "media.models.TaggingStatus",
        # What a person can say of a detection or a whole track (PATCH bodies): not the stored state.
        "ReviewVerdictEnum": ["accepted", "rejected"],
    },
}

# --- Celery -------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # One machine without Redis: a real worker process reads messages from files under var/celery/, one
    # folder per queue, written atomically, polled every 50 ms when idle and every 5 ms while a task runs
    # (kombu's own transport sleeps 1 s after every task). See assetsite/filequeue.py.
    CELERY_BROKER_TRANSPORT = "assetsite.filequeue:Transport"
    (VAR_DIR / "celery" / "queues").mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder": str(VAR_DIR / "celery" / "queues"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        # Messages left by the earlier transport (kombu's, one folder) are moved into the queues' folders.
        "legacy_folder": str(VAR_DIR / "celery" / "queue"),
        "polling_interval": env_float("CELERY_FILE_POLLING_INTERVAL", 0.05, low=0.001, high=10.0),
        "busy_polling_interval": 0.005,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A message a dead worker held is delivered again after this long.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
        "socket_timeout": 5,
        "socket_connect_timeout": 3,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# Publishing happens inside web requests: give up fast when the broker is down; the sweeper re-sends.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Detection tasks' queue; GPU fleets give theirs a name of its own (e.g. detection-gpu).
TAGGING_QUEUE = env_str("TAGGING_QUEUE", "detection")
# Bulk re-tags' queue (the bulk lane's tokens; see tagging/lanes.py). Workers consume both queues; one
# started with -Q detection-bulk alone serves bulk work (and takes fresh work first when there is any).
TAGGING_BULK_QUEUE = env_str("TAGGING_BULK_QUEUE", "detection-bulk")
# Webhook deliveries wait on other people's servers (up to three addresses × WEBHOOK_TIMEOUT each): they
# get a queue and a worker of their own, so a slow receiver never holds up detection.
WEBHOOK_QUEUE = env_str("WEBHOOK_QUEUE", "webhooks")
# Large COCO imports run in a worker (database work, no model): by default on the default queue, which
# the CPU worker serves; give them a queue (and a worker) of their own with COCO_IMPORT_QUEUE.
COCO_IMPORT_QUEUE = env_str("COCO_IMPORT_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = {
    "tagging.tasks.detect_objects": {"queue": TAGGING_QUEUE},
    "integrations.tasks.import_coco": {"queue": COCO_IMPORT_QUEUE},  # exact names win over the pattern
    "tagging.tasks.tag_next": {"queue": TAGGING_BULK_QUEUE},
    "integrations.tasks.*": {"queue": WEBHOOK_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Children load the detector when they start; give that time before Celery gives up on them.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 180
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection before and after every task (a new PostgreSQL
# backend per image) unless this is set: then it closes every 1000 tasks, and assetsite/celery.py closes
# a connection that broke or outlived WORKER_CONN_MAX_AGE, as Django does between requests.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- tagging ------------------------------------------------------------------------------------

TAGGING_MODEL = env_str("TAGGING_MODEL", "")
TAGGING_DEVICE = env_str("TAGGING_DEVICE", "auto")
TAGGING_WEIGHTS_DIR = Path(env_str("TAGGING_WEIGHTS_DIR", str(VAR_DIR / "weights"))).resolve()
TAGGING_ALLOW_DOWNLOAD = env_bool("TAGGING_ALLOW_DOWNLOAD", True)
TAGGING_SCORE_THRESHOLD = env_float("TAGGING_SCORE_THRESHOLD", 0.5, low=0.0, high=1.0)
TAGGING_LABEL_THRESHOLDS = parse_label_thresholds(env_str("TAGGING_LABEL_THRESHOLDS"))
TAGGING_MAX_DETECTIONS = env_int("TAGGING_MAX_DETECTIONS", 100, minimum=1)
TAGGING_MIN_BOX_SIZE = env_int("TAGGING_MIN_BOX_SIZE", 4, minimum=0)
TAGGING_BATCH_SIZE = env_int("TAGGING_BATCH_SIZE", 0, minimum=0)  # 0: 1 on CPU, 8 on GPU
TAGGING_TORCH_THREADS = env_int("TAGGING_TORCH_THREADS", 0, minimum=0)  # 0: cores / worker concurrency
TAGGING_FP16 = env_bool("TAGGING_FP16", True)
# A worker writes one image's result in a background thread while it detects the next (tagging/result_writer.py).
TAGGING_WRITE_BEHIND = env_bool("TAGGING_WRITE_BEHIND", True)
TAGGING_MAX_ATTEMPTS = env_int("TAGGING_MAX_ATTEMPTS", 3, minimum=1)
TAGGING_SOFT_TIME_LIMIT = env_int("TAGGING_SOFT_TIME_LIMIT", 300, minimum=1)
TAGGING_TIME_LIMIT = env_int("TAGGING_TIME_LIMIT", 360, minimum=2)
TAGGING_SWEEP_INTERVAL = env_int("TAGGING_SWEEP_INTERVAL", 60, minimum=1)
# Pending assets that never reached the broker are sent again after this many seconds...
TAGGING_UNQUEUED_GRACE = env_int("TAGGING_UNQUEUED_GRACE", 30, minimum=0)
# ...and ones that did, but are still pending, after this many (a long backlog is not a loss).
TAGGING_REQUEUE_AFTER = env_int("TAGGING_REQUEUE_AFTER", 3600, minimum=1)
# Bulk-lane messages in flight at once: at least the worker processes that take bulk work, so none
# waits idle; few, so fresh uploads and other users' turns are never stuck behind a long line.
TAGGING_BULK_IN_FLIGHT = env_int("TAGGING_BULK_IN_FLIGHT", 4, minimum=1)
TAGGING_PROCESSING_TIMEOUT = env_int("TAGGING_PROCESSING_TIMEOUT", TAGGING_TIME_LIMIT + 60, minimum=1)
# Videos in the worker: frames sampled per second (plus scene cuts), how often progress is saved,
# how long one run works before it saves and sends the rest of the video to the queue again, and
# the tracker's gap (seconds an object may be unseen and stay one track) and minimum samples per track.
VIDEO_SAMPLE_FPS = env_float("VIDEO_SAMPLE_FPS", 2.0, low=0.1, high=30.0)
VIDEO_SCENE_CUTS = env_bool("VIDEO_SCENE_CUTS", True)
VIDEO_CHECKPOINT_SECONDS = env_float("VIDEO_CHECKPOINT_SECONDS", 15.0, low=0.0)
VIDEO_RUN_SECONDS = env_float("VIDEO_RUN_SECONDS", TAGGING_SOFT_TIME_LIMIT * 0.8, low=0.1)
VIDEO_TRACK_MAX_GAP = env_float("VIDEO_TRACK_MAX_GAP", 1.5, low=0.0)
VIDEO_TRACK_MIN_HITS = env_int("VIDEO_TRACK_MIN_HITS", 2, minimum=1)
VIDEO_TRACKS_IN_ASSET = env_int("VIDEO_TRACKS_IN_ASSET", 50, minimum=0)
# Web-playable proxies of videos browsers cannot play as uploaded (HEVC, MOV, MKV; media/video_proxy.py),
# made by the worker on the default queue after tagging: longest side, and the task's time limit.
VIDEO_PROXY_MAX_SIDE = env_int("VIDEO_PROXY_MAX_SIDE", 1280, minimum=16)
VIDEO_PROXY_TIME_LIMIT = env_int("VIDEO_PROXY_TIME_LIMIT", 3600, minimum=10)
# Tagged videos still without a proxy this long after its task's time limit are sent again (a lost
# task, or a video tagged before proxies): a sweep every TAGGING_SWEEP_INTERVAL, 100 videos at a time.
VIDEO_PROXY_SWEEP_GRACE = env_int("VIDEO_PROXY_SWEEP_GRACE", 600, minimum=0)
if VIDEO_RUN_SECONDS >= TAGGING_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("VIDEO_RUN_SECONDS must be below TAGGING_SOFT_TIME_LIMIT.")
if TAGGING_TIME_LIMIT <= TAGGING_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("TAGGING_TIME_LIMIT must be larger than TAGGING_SOFT_TIME_LIMIT.")

CELERY_BEAT_SCHEDULE = {
    "sweep-stale-assets": {"task": "tagging.tasks.sweep_stale_assets", "schedule": float(TAGGING_SWEEP_INTERVAL)},
}

# --- integrations: webhooks, COCO ---------------------------------------------------------------

# Off in production: a hook could otherwise make the server call into its own network.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
# Ports a hook may use: the web's own. Without a list, a hook could make the server speak HTTP at a mail,
# cache or database port of a public host; "*" allows any port (receivers inside your own network, tests).
WEBHOOK_ALLOWED_PORTS = env_ports("WEBHOOK_ALLOWED_PORTS", frozenset({80, 443, 8080, 8443}))
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0, low=0.1, high=120.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
# Attempt n+1 waits WEBHOOK_RETRY_BASE * 4**(n-1) seconds, at most WEBHOOK_RETRY_MAX: 30 s, 2 min, 8 min, ...
WEBHOOK_RETRY_BASE = env_int("WEBHOOK_RETRY_BASE", 30, minimum=1)
WEBHOOK_RETRY_MAX = env_int("WEBHOOK_RETRY_MAX", 6 * 3600, minimum=1)
WEBHOOK_MAX_PER_USER = env_int("WEBHOOK_MAX_PER_USER", 20, minimum=1)
WEBHOOK_RESPONSE_EXCERPT = 2000
# Deliveries not sent this long after they were due (broker down, worker died) are sent again.
WEBHOOK_SWEEP_GRACE = env_int("WEBHOOK_SWEEP_GRACE", 120, minimum=1)
# Payloads carry signed file URLs (the receiver has no token); they must outlive the retries (~3 h).
WEBHOOK_FILE_URL_LIFETIME = env_int("WEBHOOK_FILE_URL_LIFETIME", 24 * 3600, minimum=60)
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "integrations.tasks.sweep_webhook_deliveries",
    "schedule": float(TAGGING_SWEEP_INTERVAL),
}
COCO_IMPORT_MAX_BYTES = env_int("COCO_IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
COCO_IMPORT_MAX_ANNOTATIONS = env_int("COCO_IMPORT_MAX_ANNOTATIONS", 50_000, minimum=1)
# Detections one asset may have after an import (visible ones plus the document's boxes for it).
COCO_IMPORT_MAX_BOXES_PER_ASSET = env_int("COCO_IMPORT_MAX_BOXES_PER_ASSET", 10_000, minimum=1)
# Imports with more annotations than this are checked in the request, then written by a worker: 202
# and a job to poll (GET /api/import/coco/jobs/{id}/), so no web process is held by a big one.
COCO_IMPORT_BACKGROUND_ANNOTATIONS = env_int("COCO_IMPORT_BACKGROUND_ANNOTATIONS", 1000, minimum=0)
# A background import's soft time limit (the hard one is a minute later); past it the job ends "stopped".
COCO_IMPORT_TIME_LIMIT = env_int("COCO_IMPORT_TIME_LIMIT", 1800, minimum=60)
# Queued jobs not started this long after they were made are sent again (their message was lost).
COCO_IMPORT_SWEEP_GRACE = env_int("COCO_IMPORT_SWEEP_GRACE", 600, minimum=1)
CELERY_BEAT_SCHEDULE["sweep-coco-imports"] = {
    "task": "integrations.tasks.sweep_coco_imports",
    "schedule": float(TAGGING_SWEEP_INTERVAL),
}
COCO_EXPORT_MAX_ASSETS = env_int("COCO_EXPORT_MAX_ASSETS", 10_000, minimum=1)
BULK_MAX_ASSETS = env_int("BULK_MAX_ASSETS", 1000, minimum=1)

# --- the library: trash, zip downloads, share links ----------------------------------------------

# Deleting moves an asset to the trash; the sweeper deletes it for good (files too) this many days later.
TRASH_DAYS = env_int("TRASH_DAYS", 30, minimum=1)
TRASH_PURGE_INTERVAL = env_int("TRASH_PURGE_INTERVAL", 3600, minimum=1)
CELERY_BEAT_SCHEDULE["purge-trash"] = {"task": "media.tasks.purge_trash", "schedule": float(TRASH_PURGE_INTERVAL)}
CELERY_BEAT_SCHEDULE["sweep-storage-orphans"] = {
    "task": "media.tasks.sweep_storage_orphans", "schedule": float(STORAGE_ORPHAN_SWEEP_INTERVAL)
}
CELERY_BEAT_SCHEDULE["sweep-video-proxies"] = {
    "task": "media.tasks.sweep_video_proxies", "schedule": float(TAGGING_SWEEP_INTERVAL)
}
# One zip download (a selection, a search, a collection, a shared collection) holds at most this many
# originals and this many bytes of them; more is a 400 that says to narrow it down.
ZIP_MAX_ASSETS = env_int("ZIP_MAX_ASSETS", 1000, minimum=1)
ZIP_MAX_BYTES = env_int("ZIP_MAX_BYTES", 4 * 1024**3, minimum=1)
# A share link lives at most this many days (0: links may be made without an end).
SHARE_LINK_MAX_DAYS = env_int("SHARE_LINK_MAX_DAYS", 0, minimum=0)

# --- security (production when DEBUG is off) ----------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("USE_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Production: load balancers and container healthchecks probe /health/ over plain HTTP inside the
    # network; redirecting them to HTTPS would fail every probe.
    SECURE_REDIRECT_EXEMPT = [r"^health/"]

# /health/ tells anyone ok/degraded/down; details go to staff and to monitors sending X-Health-Token with
# this value (empty: staff only). The worker ping's result is shared for this many seconds.
HEALTH_TOKEN = env_str("HEALTH_TOKEN", "")
HEALTH_WORKER_CACHE_SECONDS = env_float("HEALTH_WORKER_CACHE_SECONDS", 5.0, low=0.0, high=300.0)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "plain")  # "json" for one JSON object per line
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', got {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "assetsite.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # axes logs every login at INFO; its warnings (failures, lockouts) are the ones worth keeping.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
# Workers log through the same configuration (and format) as the web processes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = not env_bool("CELERY_USE_DJANGO_LOGGING", LOG_FORMAT == "json")
