"""Rail Studio settings: 12-factor, every value from the environment with a safe default."""

import os

import dj_database_url

from railstudio import env

BASE_DIR = env.BASE_DIR
VAR_DIR = env.VAR_DIR
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.secret_key()
DEBUG = env.flag("DEBUG")
ALLOWED_HOSTS = env.csv_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env.csv_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "railstudio",
    "planner",
    "clusters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "railstudio.middleware.LoginRequiredMiddleware",
    "railstudio.middleware.QueueUnavailableMiddleware",
]

ROOT_URLCONF = "railstudio.urls"

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
                "railstudio.context.roles",
                "railstudio.context.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "railstudio.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'railstudio.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Bind parameters on the server: client-side binding quotes every string with a regex,
    # which takes seconds for the megabytes of JSON an inspection snapshot writes.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo writes from several processes at once (web, worker, beat, the lab registering).
    # WAL lets readers and a writer go on together; IMMEDIATE takes the write lock when a
    # transaction begins, so a writer waits its turn (timeout) instead of failing with "database
    # is locked" when a read transaction would have to upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
    )
    # A file, not shared-cache memory: test threads (live server, Celery worker) then wait for
    # locks instead of failing with "table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-railstudio-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated request gets 401 with WWW-Authenticate: Token.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["railstudio.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "railstudio.api_errors.exception_handler",
    # ?format= is ours (yaml|json on export and manifests), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rail Studio API",
    "DESCRIPTION": "Plan rail IP space, render NADs and pods, roll out and inspect multi-rail RDMA networks.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Celery: Redis when REDIS_URL is set, otherwise a filesystem broker under var/ so a real worker
# still runs on a machine with no Redis.
CELERY_BROKER_URL = env.broker_url()
if env.is_filesystem_broker(CELERY_BROKER_URL):
    _broker_dir = env.filesystem_broker_dir()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task whose worker died is redelivered after visibility_timeout; keep it above the
    # longest rollout. Tests shorten it to see redelivery quickly.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
        "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", "60")),
        "unacked_restore_throttle": 1,
    }
# How many independent calls one rollout sends to its cluster at once (reads, then each pass of
# writes); each costs a round trip to a cluster that may be far away.
ROLLOUT_PARALLEL_CALLS = int(os.environ.get("ROLLOUT_PARALLEL_CALLS", "8"))
# Clusters whose pods a worker process remembers between refreshes, so that a refresh reads
# again only the pods that changed (see clusters.inspect.PodReader).
INSPECT_REMEMBERED_CLUSTERS = int(os.environ.get("INSPECT_REMEMBERED_CLUSTERS", "4"))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "railstudio")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Each cluster sets its own refresh interval; this only looks for clusters that are due.
    "pod-inspection": {"task": "clusters.tasks.refresh_due_clusters", "schedule": 5.0},
    "drift": {
        "task": "clusters.tasks.check_drift_all",
        "schedule": float(os.environ.get("DRIFT_CHECK_SECONDS", "60")),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
