"""Rail Studio settings: 12-factor, every value from the environment with a safe default."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from railstudio import env

BASE_DIR = env.BASE_DIR
VAR_DIR = env.VAR_DIR  # created at start (railstudio.startup), not here: importing writes nothing

SECRET_KEY = env.secret_key()
DEBUG = env.flag("DEBUG")
ALLOWED_HOSTS = env.csv_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env.csv_list("CSRF_TRUSTED_ORIGINS", "")

# A malformed key refuses here, at start (web, worker, manage.py), not at the first rollout.
_credentials_key = os.environ.get("RAILSTUDIO_CREDENTIALS_KEY", "").strip()
if _credentials_key and (_problem := env.fernet_keys_error(_credentials_key)):
    raise ImproperlyConfigured(f"RAILSTUDIO_CREDENTIALS_KEY: {_problem}")

# One limit for every request body: API parsers, page forms and uploads (413 above it).
MAX_BODY_BYTES = env.integer("RAILSTUDIO_MAX_BODY_BYTES", 10 * 1024 * 1024, low=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# Inventory imports of a bigger file run in a worker (planner.import_jobs): 202 and a job to poll.
INVENTORY_SYNC_BYTES = env.integer("RAILSTUDIO_SYNC_IMPORT_BYTES", 64 * 1024)
PLAN_WARM_MIN_NICS = env.integer("RAILSTUDIO_WARM_MIN_NICS", 4096)

# Behind HTTPS (RAILSTUDIO_HTTPS=1): HSTS, secure cookies, redirect http -> https.
HTTPS = env.flag("RAILSTUDIO_HTTPS")
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes speak plain HTTP inside the pod network
    SECURE_HSTS_SECONDS = env.integer("RAILSTUDIO_HSTS_SECONDS", 31_536_000, low=1)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
if env.flag("RAILSTUDIO_TRUST_X_FORWARDED_PROTO"):
    # Only behind a proxy that sets the header itself (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

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
    "axes",
    "csp",
    "railstudio",
    "planner",
    "clusters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "railstudio.middleware.BodySizeLimitMiddleware",
    "railstudio.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "railstudio.middleware.PageMessagesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "railstudio.middleware.LoginRequiredMiddleware",
    "railstudio.middleware.QueueUnavailableMiddleware",
    "planner.warming.WarmChangedPlansMiddleware",
    "railstudio.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username/address first
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: LOGIN_FAILURE_LIMIT wrong passwords for one username from one address lock
# that pair out for LOGIN_LOCKOUT_MINUTES; a good login resets the count.
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5, low=1)
AXES_COOLOFF_TIME = env.integer("LOGIN_LOCKOUT_MINUTES", 15, low=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy: scripts and styles only from our own static files (htmx included);
# no inline script anywhere. Inline style attributes (bar widths) are allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

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
        conn_max_age=env.integer("DB_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django's backend with a health check that asks the socket instead of the server.
    DATABASES["default"]["ENGINE"] = "railstudio.postgresql"
    # Bind parameters on the server: client-side binding quotes every string with a regex,
    # which takes seconds for the megabytes of JSON an inspection snapshot writes.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    # Plans kept per connection for queries run more than this often: planning cost more than
    # running for most of the API's queries (the token lookup: 1.9 ms planned, 0.2 ms run).
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.prepare_threshold(
        "DB_PREPARE_THRESHOLD", 1
    )
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
# Outside var/ in the image (RAILSTUDIO_STATIC_ROOT): var/ is a volume that outlives upgrades.
STATIC_ROOT = Path(os.environ.get("RAILSTUDIO_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
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
        "railstudio.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["railstudio.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["railstudio.filters.StrictFilterBackend"],
    "DEFAULT_PARSER_CLASSES": ["railstudio.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "railstudio.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "railstudio.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "railstudio.api_errors.exception_handler",
    # ?format= is ours (yaml|json on export and manifests), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "ClusterModeEnum": "clusters.models.ClusterMode",
        "ValidationModeEnum": "clusters.models.ValidationMode",
        "RolloutStateEnum": "clusters.models.RolloutState",
        "ValidationStateEnum": "clusters.models.ValidationState",
    },
    "TITLE": "Rail Studio API",
    "DESCRIPTION": "Plan rail IP space, render NADs and pods, roll out and inspect multi-rail RDMA networks.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "railstudio.openapi.add_error_responses",
    ],
    # The schema is for logged-in users and token holders, as every page is.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "railstudio.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# Results computed from a whole plan (planner.plancache), keyed by the plan's revision: Redis
# when REDIS_URL is set, else files under var/cache/, which every process of the demo shares.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "railstudio",
            "OPTIONS": env.redis_transport_options(),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 2000},
        }
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
    # longest rollout. Tests shorten it to see redelivery quickly. A frozen or unreachable
    # Redis fails a send within CELERY_BROKER_TIMEOUT seconds (env.redis_transport_options).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.integer("CELERY_VISIBILITY_TIMEOUT", 3600, low=1),
        "unacked_restore_interval": env.integer("CELERY_UNACKED_RESTORE_INTERVAL", 60, low=1),
        "unacked_restore_throttle": 1,
        **env.redis_transport_options(),
    }
# A send that fails is not retried behind the request: the page or API answers 503 at once.
CELERY_BROKER_CONNECTION_TIMEOUT = env.broker_timeout()
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
# What a registered kubeconfig may hold (clusters.kubeconfig_policy): exec credential plugins
# run only when their absolute path is listed here; http servers, insecure-skip-tls-verify and
# servers outside RAILSTUDIO_CLUSTER_SERVERS (hosts, *.suffix, CIDRs; empty: any) are refused.
RAILSTUDIO_EXEC_PLUGINS = env.csv_list("RAILSTUDIO_EXEC_PLUGINS", "")
RAILSTUDIO_EXEC_PLUGIN_ENV = env.csv_list("RAILSTUDIO_EXEC_PLUGIN_ENV", "")
RAILSTUDIO_EXEC_PLUGIN_TIMEOUT = env.number("RAILSTUDIO_EXEC_PLUGIN_TIMEOUT", 20.0, low=0.1)
RAILSTUDIO_ALLOW_HTTP_SERVERS = env.flag("RAILSTUDIO_ALLOW_HTTP_SERVERS")
RAILSTUDIO_ALLOW_INSECURE_TLS = env.flag("RAILSTUDIO_ALLOW_INSECURE_TLS")
RAILSTUDIO_CLUSTER_SERVERS = env.csv_list("RAILSTUDIO_CLUSTER_SERVERS", "")
# How many independent calls one rollout sends to its cluster at once (reads, then each pass of
# writes); each costs a round trip to a cluster that may be far away.
ROLLOUT_PARALLEL_CALLS = env.integer("ROLLOUT_PARALLEL_CALLS", 8, low=1)
# Clusters whose pods a worker process remembers between refreshes, so that a refresh reads
# again only the pods that changed (see clusters.inspect.PodReader).
INSPECT_REMEMBERED_CLUSTERS = env.integer("INSPECT_REMEMBERED_CLUSTERS", 4)
# Rail validation (clusters.validation): the probe DaemonSet's images, how many execs a run
# sends at once, how long probes may take to become Ready, GPUDirect RDMA (one GPU per rail in
# the probe), the full mode's bound on RDMA peers per node, pings in flight per pod.
VALIDATION_PROBE_IMAGE = os.environ.get(
    "VALIDATION_PROBE_IMAGE", "docker.io/mellanox/rping-test:latest"
)
VALIDATION_AGENT_IMAGE = os.environ.get("VALIDATION_AGENT_IMAGE", "railstudio:latest")
VALIDATION_PARALLEL_EXECS = env.integer("VALIDATION_PARALLEL_EXECS", 16, low=1)
VALIDATION_READY_SECONDS = env.integer("VALIDATION_READY_SECONDS", 180, low=1)
VALIDATION_GPUDIRECT = env.flag("VALIDATION_GPUDIRECT", True)
VALIDATION_RDMA_PEERS = env.integer("VALIDATION_RDMA_PEERS", 16, low=1)
VALIDATION_PING_PARALLEL = env.integer("VALIDATION_PING_PARALLEL", 64, low=1)
VALIDATION_MAX_NODES = env.integer("VALIDATION_MAX_NODES", 4096, low=1)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "railstudio")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# A running rollout whose worker wrote no heartbeat for this long lost its worker: it is marked
# interrupted and its cluster unlocked (on requests, and by beat).
ROLLOUT_STALE_SECONDS = env.number("ROLLOUT_STALE_SECONDS", 60.0, low=1.0)
CELERY_BEAT_SCHEDULE = {
    # Each cluster sets its own refresh interval; this only looks for clusters that are due.
    "pod-inspection": {"task": "clusters.tasks.refresh_due_clusters", "schedule": 5.0},
    "stale-rollouts": {
        "task": "clusters.tasks.reap_stale_rollouts",
        "schedule": max(1.0, ROLLOUT_STALE_SECONDS / 4),
    },
    "drift": {
        "task": "clusters.tasks.check_drift_all",
        "schedule": env.number("DRIFT_CHECK_SECONDS", 60.0, low=1.0),
    },
    # Each cluster may have a validation schedule; this starts the ones that are due.
    "validation-schedules": {"task": "clusters.tasks.run_due_validations", "schedule": 60.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
