"""Turnaround settings: one file, driven by environment variables.

Defaults are production-safe (DEBUG off, secure cookies, HSTS); `make run` turns DEBUG on for
local use. See README.md § Configuration for every variable.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Used to build absolute links to cards in emails and Slack messages.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    # Wraps the template loaders so "page.html#partial" resolves; TEMPLATES makes
    # {% partialdef %} a builtin so templates read like Django 6's built-in partials.
    "template_partials",
    "django_q",
    "axes",
    "csp",
    "simple_history",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tasks",
    "sla",
    "reports",
]

MIDDLEWARE = [
    # First: every log record of the request, even a redirect's, carries its id.
    "config.logs.RequestIdMiddleware",
    # Under /api/: the body size cap (413) and every error as problem details.
    "tasks.api.middleware.ApiProblems",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idempotency-Key on POSTs under /api/v1/ (after the session's user is known).
    "tasks.api.middleware.IdempotentPosts",
    # Every page requires login unless the view opts out (only the login page does).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Settings history (sla/history.py) records the request's user as who changed a setting.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tasks.middleware.ViewerTimezoneMiddleware",
    # Last: turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy: scripts and styles only from our own static files (no inline
# code, no style attributes; htmx's injected indicator style is off in base.html), images
# also as data: URIs (Pico's form icons), no framing, forms post only to us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
    },
}

ROOT_URLCONF = "config.urls"

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
                "sla.context_processors.navigation",
                "sla.health.staff_alarm",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
    {
        # Only the dashboards' rows and cards that htmx swaps (tasks/boards/jinja.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "tasks.boards.jinja.environment", "autoescape": True},
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the cluster writes; IMMEDIATE takes the write lock
    # at BEGIN so two writers queue (timeout) instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ModelBackend reading a user's permissions and role groups in one query (see the module).
# Sessions store their backend's path: sessions opened under ModelBackend log in again once.
# AxesStandaloneBackend comes first: it refuses a locked-out username+IP before any password
# is checked, and authenticates no one itself.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "tasks.auth_backend.RoleBackend",
]

# Settings history (sla/history.py): shown in admin, never reverted from there (a revert
# would skip what saving a policy or calendar sets off: re-targeting the running timers).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Login throttling (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES; an admin unlocks earlier by deleting
# the access attempt in admin. The lockout is our login page with a message (status 429).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.login.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.login.client_ip"
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The demo-login hint on the login page: `make run` sets it for the demo database only.
DEMO_LOGINS = env.bool("DEMO_LOGINS", default=False)

# The JSON API (tasks.api, docs/api.md): personal Bearer tokens (or the session, for the docs
# page), JSON only, read tokens refused on writes.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tasks.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "tasks.api.permissions.TokenScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Every error as RFC 9457 problem details (tasks.api.exceptions).
    "EXCEPTION_HANDLER": "tasks.api.exceptions.problem_handler",
    "DEFAULT_THROTTLE_CLASSES": ["tasks.api.limits.PerTokenThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tasks.api.limits.CursorPage",
    "PAGE_SIZE": 50,
}
# Requests per token (DRF rate: "600/min"); 429 with Retry-After beyond it.
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="600/min")
# The largest request body the API reads (413 beyond it): a card's description is 20 000
# characters, up to 4 bytes each in UTF-8, with room for the other fields.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=128 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "Turnaround API",
    "DESCRIPTION": "Cards, their moves, comments, SLA timers and history. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation documents the problem responses and Idempotency-Key (tasks.api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tasks.api.schema.add_problems",
        "tasks.api.schema.add_links",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set: the same set under several field names (a card's `status`, a
    # move's `to`), and several sets under one field name (`kind`), would otherwise get
    # generated names and a warning (which fails `check --deploy`).
    "ENUM_NAME_OVERRIDES": {
        "CardStatusEnum": "tasks.states.Status",
        "PriorityEnum": "tasks.states.Priority",
        "RelatedObjectKindEnum": "tasks.models.RelatedObject.Kind",
        "EventKindEnum": "tasks.models.TaskEvent.Kind",
        "TimerKindEnum": "sla.models.policy.TimerKind",
        "TimerStateEnum": "sla.models.timer.TimerState",
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: EMAIL_URL such as smtp://user:pass@host:587/?tls=True; console by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Turnaround <turnaround@localhost>")
# An unreachable mail server must fail a delivery attempt, not hang the delivery job.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Cards by email (docs/mail.md): `manage.py mail_intake --listen HOST:PORT [--lmtp]` behind
# the company's mail server. MAILBOX+TYPE@ (or TYPE@) names a request type by its mail alias
# or slugged name; the bare MAILBOX@ makes cards of MAIL_INTAKE_DEFAULT_TYPE. Card emails
# carry Reply-To: MAIL_INTAKE_ADDRESS (when set), so replies come back as comments.
MAIL_INTAKE_MAILBOX = env("MAIL_INTAKE_MAILBOX", default="cards")
MAIL_INTAKE_DOMAINS = env.list("MAIL_INTAKE_DOMAINS", default=[])  # empty: any domain
MAIL_INTAKE_DEFAULT_TYPE = env("MAIL_INTAKE_DEFAULT_TYPE", default="")
MAIL_INTAKE_ADDRESS = env("MAIL_INTAKE_ADDRESS", default="")
MAIL_INTAKE_MAX_BYTES = env.int("MAIL_INTAKE_MAX_BYTES", default=10 * 1024 * 1024)
# The Slack app (docs/slack.md): a bot token and the app's signing secret; requests from
# workspaces not listed in SLACK_TEAM_IDS (comma-separated team ids) are refused. Without a
# token no Slack app message is written. SLACK_API_URL points the Web API client elsewhere
# (the tests' local fake). SLACK_DEFAULT_REQUEST_TYPE names the request type of
# `/turnaround new` cards (empty: the first active one by name).
SLACK_BOT_TOKEN = env("SLACK_BOT_TOKEN", default="")
SLACK_SIGNING_SECRET = env("SLACK_SIGNING_SECRET", default="")
SLACK_API_URL = env("SLACK_API_URL", default="https://slack.com/api/")
SLACK_TEAM_IDS = env.list("SLACK_TEAM_IDS", default=[])
SLACK_DEFAULT_REQUEST_TYPE = env("SLACK_DEFAULT_REQUEST_TYPE", default="")

# Production-safe defaults when DEBUG is off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# django-q2: the database is the queue. Keep the longest job < timeout < retry, or a slow job
# is handed out twice. Checks work from state, so missed schedule slots are not replayed.
# A job that raises (or is killed at the timeout) is not acknowledged: it stays on the queue
# and runs again `retry` seconds after it was taken, up to `max_attempts` runs in all (every
# job is idempotent). With REDIS_URL the queue has no acknowledgements: there a failed job is
# retried by its schedule's next run only.
Q_CLUSTER = {
    "name": "turnaround",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "ack_failures": False,
    "catch_up": False,
    "orm": "default",
    "sync": env.bool("Q_SYNC", default=False),
    "save_limit": 1000,
}
# REDIS_URL (the `redis` extra: pip install .[redis]) makes Redis the job queue; results and
# schedules stay in the database.
if env("REDIS_URL", default=""):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = env("REDIS_URL")

# The cache holds the at-risk queue's HTML, its invalidation counter and health probes. The
# default is per process: several web processes each keep their own. CACHE_URL (e.g.
# redis://127.0.0.1:6379/1, Django's own Redis backend, the `redis` extra) shares one.
_cache_url = env("CACHE_URL", default="locmemcache://")
CACHES = {
    "default": env.cache_url_config(
        _cache_url,
        backend="django.core.cache.backends.redis.RedisCache"
        if _cache_url.startswith(("redis://", "rediss://"))
        else None,
    )
}

# Console logs, each record with its request's id; LOG_FORMAT=json: one JSON object per line.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT is plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Errors to Sentry (the `sentry` extra), only when SENTRY_DSN is set.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.logs import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
