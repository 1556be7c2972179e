"""Django settings for IM-Suite.

Everything deployment-specific comes from the environment. With neither DATABASE_URL nor
REDIS_URL set the server runs "embedded": a SQLite file and the in-memory channel layer, which
is what `make run` gives a newcomer. Setting them switches to PostgreSQL and channels-redis.
"""

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean flag the way shell users write them (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# REDIS_URL names one Redis server, or with REDIS_CLUSTER=true one or more nodes of a Redis Cluster
# (comma-separated URLs; the client finds the rest): imsuite.redis_nodes.
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", False)
# What every key IM-Suite keeps in Redis starts with: deployments (and test runs) sharing a Redis
# stay apart.
REDIS_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "imsuite")
EMBEDDED = not DATABASE_URL and not REDIS_URL

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL or REDIS_URL is set.")
    # Development default for the embedded mode only; never used once a real database is configured.
    SECRET_KEY = "embedded-development-only-key-do-not-use-in-production"

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Networks the outbound address guard (imsuite/outbound.py) lets through although they are not public
# (loopback, private, link-local...): none in production; development and the tests allow loopback.
OUTBOUND_ALLOWED_NETWORKS = env_list("OUTBOUND_ALLOWED_NETWORKS", "")
# Direct peers whose X-Forwarded-For/-Proto and X-Real-IP are believed (imsuite/proxy_headers.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "imsuite",
    "accounts",
    "chats",
    "groups",
    "calls",
    "bots",
    "media",
    "push",
    "sso",
    "twofactor",
    "lifecycle",
    "reports",
    "previews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First after it, so that static files (WhiteNoise) and every other answer get a policy too.
    "imsuite.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the web client: the django_language cookie (set_language), else Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "imsuite.middleware.AuditSourceMiddleware",
]

ROOT_URLCONF = "imsuite.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sso.context.sign_in_provider",
            ],
        },
    },
]

ASGI_APPLICATION = "imsuite.asgi.application"
WSGI_APPLICATION = None

DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        # A connection pool (psycopg_pool): under ASGI every request runs in a fresh thread, so
        # per-thread persistent connections were never reused and each REST request paid for a
        # new PostgreSQL connection (a third of a history page's time).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": int(os.environ.get("DB_POOL_SIZE", "32")),
            # How long a request waits for a connection: while PostgreSQL is down, it is how long a
            # request waits for its SERVICE_UNAVAILABLE (imsuite.db_outage).
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "3")),
            # psycopg_pool retries a failed connection with a doubling delay for reconnect_timeout
            # (5 minutes by default), so service came back up to 16 s after PostgreSQL did. Giving
            # up after a second leaves the reconnection to the next request, which tries at once.
            "reconnect_timeout": float(os.environ.get("DB_POOL_RECONNECT_SECONDS", "1")),
        }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # An unreachable host (not a refusal) must not hold a pool worker for the TCP timeout.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", int(os.environ.get("DB_CONNECT_TIMEOUT", "3"))
        )
    else:  # kept per thread for DB_CONN_MAX_AGE seconds
        DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "60"))
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # SQLITE_PATH overrides the file; the end-to-end tests point a daphne subprocess at the test DB.
            "NAME": Path(os.environ.get("SQLITE_PATH") or DATA_DIR / "imsuite.sqlite3"),
            # WAL lets readers work while a message is being written; IMMEDIATE avoids
            # "database is locked" upgrades when two writers start a transaction at once.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory, so that a real daphne process started by the end-to-end tests
            # sees the same test database.
            "TEST": {"NAME": os.environ.get("SQLITE_TEST_NAME") or DATA_DIR / "test.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The channel layer carries events between the hubs of the embedded process (imsuite.hub), at
# most HUB_CAPACITY batches waiting for one. With Redis, events are routed through Redis streams
# (imsuite.event_routes) and the layer carries nothing.
HUB_CAPACITY = 10_000
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": HUB_CAPACITY}}
}
# redis-py caps a connection pool (and raises MaxConnectionsError in a burst of connects): allow a
# burst of a thousand.
REDIS_MAX_CONNECTIONS = int(os.environ.get("REDIS_MAX_CONNECTIONS", "1000"))

if REDIS_URL:
    CACHES = {
        "default": {
            # Django's own knows no cluster (imsuite.redis_cache says what differs)
            "BACKEND": "imsuite.redis_cache.RedisClusterCache"
            if REDIS_CLUSTER
            else "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
# Passwords, and single sign-on's callback (sso.provider: it answers only the call with a nonce).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "sso.provider.ProviderBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "UTC"
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
with contextlib.suppress(OSError):  # WhiteNoise warns about a missing directory; a read-only image has it
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.sessions.SessionJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["imsuite.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "imsuite.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("JWT_ACCESS_SECONDS", "900"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("JWT_REFRESH_SECONDS", str(14 * 86400)))),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "IM-Suite API",
    "DESCRIPTION": "REST API of IM-Suite. Real-time events are described in docs/protocol.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's files ship with the package: the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # /api/health's three fields share one choice set; one name for it instead of three.
    "ENUM_NAME_OVERRIDES": {
        "HealthStateEnum": ["ok", "error"],
        "RoleEnum": ["owner", "admin", "member"],
        "AssignableRoleEnum": ["admin", "member"],
        # used by more than one output shape (a chat in the list and in a search result; a message
        # and a search result), which drf-spectacular cannot name after one of them
        "ChatTypeEnum": ["private", "group"],
        "MessageTypeEnum": ["text", "image", "file", "video", "voice", "system"],
        "PushKindEnum": ["webpush", "unifiedpush"],  # media's `kind` is KindEnum
        "ReportKindEnum": "reports.models.Report.Kind",
    },
}

# Product rules; each is a setting so that operators can tune them.
IMSUITE = {
    "MESSAGE_MAX_LENGTH": int(os.environ.get("MESSAGE_MAX_LENGTH", "4000")),
    "MESSAGE_EDIT_WINDOW_SECONDS": int(os.environ.get("MESSAGE_EDIT_WINDOW_SECONDS", str(48 * 3600))),
    "MAX_BOTS_PER_USER": int(os.environ.get("MAX_BOTS_PER_USER", "20")),
    "PRESENCE_TTL_SECONDS": int(os.environ.get("PRESENCE_TTL_SECONDS", "90")),
    "WS_IDLE_SECONDS": float(os.environ.get("WS_IDLE_SECONDS", "90")),
    "TYPING_THROTTLE_SECONDS": int(os.environ.get("TYPING_THROTTLE_SECONDS", "3")),
    "TYPING_EXPIRY_SECONDS": float(os.environ.get("TYPING_EXPIRY_SECONDS", "6")),
    "RATE_LIMIT_MESSAGES": int(os.environ.get("RATE_LIMIT_MESSAGES", "30")),
    "RATE_LIMIT_WINDOW_SECONDS": int(os.environ.get("RATE_LIMIT_WINDOW_SECONDS", "10")),
    "CALL_RING_SECONDS": int(os.environ.get("CALL_RING_SECONDS", "45")),
    "CALL_GRACE_SECONDS": int(os.environ.get("CALL_GRACE_SECONDS", "15")),
    "CALL_SDP_MAX_BYTES": 64 * 1024,
    "CALL_MAX_ICE_CANDIDATES": 50,
    # Threads that run the WebSocket adapters' database work, each with its own connection.
    "DB_THREADS": int(os.environ.get("DB_THREADS", "16")),
    # How many WebSocket connections of a process set up or clean up at once: a burst of
    # (re)connections waits its turn instead of exhausting the Redis and database pools.
    "WS_SETUP_CONCURRENCY": int(os.environ.get("WS_SETUP_CONCURRENCY", "32")),
    # How often each process re-reads from the database whether its connections may stay open
    # (active user, session not signed out, bot token live): the fallback for lost events.
    "RIGHTS_CHECK_SECONDS": float(os.environ.get("RIGHTS_CHECK_SECONDS", "5")),
    # After the database failed to answer, for how long queued sends and connection set-ups are
    # refused at once (SERVICE_UNAVAILABLE) instead of each waiting out DB_POOL_TIMEOUT in turn.
    "DB_FAIL_FAST_SECONDS": float(os.environ.get("DB_FAIL_FAST_SECONDS", "1")),
    # Bytes a WebSocket may have waiting to go out before the server closes it as a slow consumer.
    "WS_SEND_BUFFER_MAX_BYTES": int(os.environ.get("WS_SEND_BUFFER_MAX_BYTES", str(4 * 1024 * 1024))),
    # Connections a listening socket queues before the process accepts them (twisted's own is 50):
    # a restarted process's clients reconnecting at once are not dropped to a second's retry.
    "LISTEN_BACKLOG": int(os.environ.get("LISTEN_BACKLOG", "2048")),
    # Frames of one WebSocket being handled (or waiting unread) before the server stops reading it.
    "WS_MAX_IN_FLIGHT": int(os.environ.get("WS_MAX_IN_FLIGHT", "64")),
    # On SIGTERM or SIGINT, how long a process may take to close its connections, let what they
    # sent be stored and acknowledged, and leave the hub, before it stops regardless (imsuite.shutdown).
    "SHUTDOWN_GRACE_SECONDS": float(os.environ.get("SHUTDOWN_GRACE_SECONDS", "10")),
    "RATE_LIMIT_SYNCS": int(os.environ.get("RATE_LIMIT_SYNCS", "30")),
    # How long a bot's events are kept for it to resume from (?since= or a reverse endpoint's
    # last cursor); an older cursor is told it missed events (bots.stream).
    "BOT_EVENT_RETENTION_SECONDS": int(os.environ.get("BOT_EVENT_RETENTION_SECONDS", str(24 * 3600))),
    # Hostile input (imsuite.safe_json): the deepest JSON any door parses, and the largest
    # WebSocket frame (bigger ones are refused by the transport before they are buffered whole).
    "JSON_MAX_DEPTH": int(os.environ.get("JSON_MAX_DEPTH", "32")),
    "WS_MAX_FRAME_BYTES": int(os.environ.get("WS_MAX_FRAME_BYTES", str(64 * 1024))),
    # A bot peer's frames IM-Suite cannot use (no action, not JSON, an unknown action) within a
    # minute: past the first number each waits 0.5 s, past the second the peer is closed (bots.protocol).
    "BOT_UNUSABLE_FRAMES_FREE": int(os.environ.get("BOT_UNUSABLE_FRAMES_FREE", "10")),
    "BOT_UNUSABLE_FRAMES_LIMIT": int(os.environ.get("BOT_UNUSABLE_FRAMES_LIMIT", "100")),
}

# Media (media/): uploads, where their bytes are kept, and how long the links handed out live.
IMSUITE.update(
    {
        "UPLOAD_MAX_BYTES": int(os.environ.get("UPLOAD_MAX_BYTES", str(25 * 1024 * 1024))),
        # Uploads a process works on at once (parse, pictures, storage); others wait for a slot
        # (imsuite.upload_slots: with the GIL, more at once only slows the frames of everyone else).
        "UPLOAD_CONCURRENCY": int(os.environ.get("UPLOAD_CONCURRENCY", "1")),
        # What one person's files may take in all (uploads not yet removed by retention).
        "UPLOAD_QUOTA_BYTES": int(os.environ.get("UPLOAD_QUOTA_BYTES", str(2 * 1024 * 1024 * 1024))),
        "RATE_LIMIT_UPLOADS": int(os.environ.get("RATE_LIMIT_UPLOADS", "20")),
        "RATE_LIMIT_UPLOADS_WINDOW_SECONDS": int(os.environ.get("RATE_LIMIT_UPLOADS_WINDOW_SECONDS", "60")),
        # A picture with more pixels is refused before it is decoded (a decompression bomb).
        "UPLOAD_MAX_PIXELS": int(os.environ.get("UPLOAD_MAX_PIXELS", str(50_000_000))),
        "MESSAGE_MAX_ATTACHMENTS": int(os.environ.get("MESSAGE_MAX_ATTACHMENTS", "10")),
        "FORWARD_MAX_CHATS": int(os.environ.get("FORWARD_MAX_CHATS", "10")),  # chats one forward reaches
        "PINS_PER_CHAT_MAX": int(os.environ.get("PINS_PER_CHAT_MAX", "50")),
        # A signed media link lives at least this long (rounded up to a quarter of it, so that a
        # link stays the same for a while and browsers cache the file).
        "MEDIA_URL_TTL_SECONDS": int(os.environ.get("MEDIA_URL_TTL_SECONDS", "3600")),
        # Retention (media.retention, run by runtimers): an upload no message took is removed this
        # long after it was made; a recalled message's files this long after the recall (a
        # moderator's recall removes them at once); with MEDIA_RETENTION_DAYS set, the files of
        # messages older than that many days (unset or 0: kept for ever).
        "UPLOAD_UNATTACHED_SECONDS": int(os.environ.get("UPLOAD_UNATTACHED_SECONDS", "86400")),
        "MEDIA_DELETED_GRACE_SECONDS": int(os.environ.get("MEDIA_DELETED_GRACE_SECONDS", "86400")),
        "MEDIA_RETENTION_DAYS": int(os.environ.get("MEDIA_RETENTION_DAYS") or 0) or None,  # 0 = unset
    }
)
# Abuse throttling (imsuite.ratelimit), counted in the shared cache so that every process agrees.
# Per user: RATE_LIMIT_<NAME> uses per RATE_LIMIT_<NAME>_WINDOW_SECONDS (every attempt counts).
IMSUITE.update(
    {
        f"RATE_LIMIT_{name}{suffix}": int(os.environ.get(f"RATE_LIMIT_{name}{suffix}", default))
        for name, uses, window in [
            ("FRIEND_REQUESTS", "30", "3600"),
            ("JOIN_REQUESTS", "30", "3600"),
            ("CALLS", "20", "600"),
            ("REPORTS", "20", "3600"),  # ready for reports (issue 21): rate_limit_named("REPORTS", ...)
            ("REGISTRATIONS", "10", "3600"),  # per client address, not per user
            # per account: two-factor codes, and passwords re-entered to confirm a step (twofactor)
            ("TWO_FACTOR", "10", "600"),
            ("DATA_EXPORTS", "3", "86400"),  # export requests (lifecycle)
            # Password reset requests per client address; reset mails per account (past it, none
            # is sent, silently: the answer must not tell which accounts exist)
            ("PASSWORD_RESETS", "10", "3600"),
            ("PASSWORD_RESET_MAILS", "3", "3600"),
            ("EMAIL_CHANGES", "5", "3600"),  # per user: each sends a verification mail
            ("DRAFTS", "120", "60"),  # draft saves per user (the web client saves at most once a second)
            ("REACTIONS", "120", "60"),  # reactions added or removed per user (chats.reactions)
        ]
        for suffix, default in (("", uses), ("_WINDOW_SECONDS", window))
    }
)
# Sign-in (accounts.services.signin_*): failures counted per (account, address), per address and
# per account; past its free failures each counter makes the next attempt wait
# SIGNIN_DELAY_SECONDS, doubling with each failure, at most SIGNIN_DELAY_MAX_SECONDS. An
# (account, address) pair that signed in within SIGNIN_KNOWN_ADDRESS_DAYS answers to its own
# counter only. Counts are forgotten SIGNIN_FAILURE_WINDOW_SECONDS after their first failure.
IMSUITE.update(
    {
        "SIGNIN_FREE_FAILURES": int(os.environ.get("SIGNIN_FREE_FAILURES", "5")),
        "SIGNIN_ADDRESS_FREE_FAILURES": int(os.environ.get("SIGNIN_ADDRESS_FREE_FAILURES", "20")),
        "SIGNIN_ACCOUNT_FREE_FAILURES": int(os.environ.get("SIGNIN_ACCOUNT_FREE_FAILURES", "10")),
        "SIGNIN_DELAY_SECONDS": float(os.environ.get("SIGNIN_DELAY_SECONDS", "1")),
        "SIGNIN_DELAY_MAX_SECONDS": float(os.environ.get("SIGNIN_DELAY_MAX_SECONDS", "300")),
        "SIGNIN_FAILURE_WINDOW_SECONDS": int(os.environ.get("SIGNIN_FAILURE_WINDOW_SECONDS", "86400")),
        "SIGNIN_KNOWN_ADDRESS_DAYS": int(os.environ.get("SIGNIN_KNOWN_ADDRESS_DAYS", "90")),
    }
)
# Two-factor sign-in (twofactor/): how long the challenge a right password earns stays usable,
# and whether staff must have a second factor (off by default: turning it on keeps staff without one
# out of the admin site until they enrol in the web client).
IMSUITE.update(
    {
        "TWO_FACTOR_CHALLENGE_SECONDS": int(os.environ.get("TWO_FACTOR_CHALLENGE_SECONDS", "300")),
        "TWO_FACTOR_REQUIRED_FOR_STAFF": env_bool("TWO_FACTOR_REQUIRED_FOR_STAFF", False),
    }
)
# Leaving (lifecycle/): a deletion is carried out ACCOUNT_DELETION_GRACE_DAYS after it was asked
# for (signing in meanwhile cancels it; a fraction of a day is allowed); a data export is kept for
# download DATA_EXPORT_TTL_HOURS and holds at most DATA_EXPORT_MAX_BYTES of files.
IMSUITE.update(
    {
        "ACCOUNT_DELETION_GRACE_DAYS": float(os.environ.get("ACCOUNT_DELETION_GRACE_DAYS", "7")),
        "DATA_EXPORT_TTL_HOURS": float(os.environ.get("DATA_EXPORT_TTL_HOURS", "48")),
        "DATA_EXPORT_MAX_BYTES": int(os.environ.get("DATA_EXPORT_MAX_BYTES", str(1024 * 1024 * 1024))),
    }
)
# Push (push/): the pusher in the timers process tells devices of people who are not connected.
IMSUITE.update(
    {
        # At most one push per person and chat this often; the next carries how many came meanwhile.
        "PUSH_COALESCE_SECONDS": float(os.environ.get("PUSH_COALESCE_SECONDS", "5")),
        # False: no push carries message text, whatever each device asked for.
        "PUSH_PREVIEWS": env_bool("PUSH_PREVIEWS", True),
        "PUSH_MAX_SUBSCRIPTIONS": int(os.environ.get("PUSH_MAX_SUBSCRIPTIONS", "20")),  # per person
        "PUSH_TIMEOUT_SECONDS": float(os.environ.get("PUSH_TIMEOUT_SECONDS", "10")),  # per request
        "PUSH_THREADS": int(os.environ.get("PUSH_THREADS", "8")),  # requests to endpoints at once
        # A failing endpoint is tried again after 30 s, doubling with each failure, up to this.
        "PUSH_BACKOFF_MAX_SECONDS": int(os.environ.get("PUSH_BACKOFF_MAX_SECONDS", "3600")),
    }
)
# Link previews (previews/): the timers process fetches the pages that messages link to.
IMSUITE.update(
    {
        "LINK_PREVIEWS_ENABLED": env_bool("LINK_PREVIEWS_ENABLED", True),
        # Each request (a page, each redirect, the page's image) in all, and what is read of one.
        "LINK_PREVIEW_TIMEOUT_SECONDS": float(os.environ.get("LINK_PREVIEW_TIMEOUT_SECONDS", "5")),
        "LINK_PREVIEW_MAX_BYTES": int(os.environ.get("LINK_PREVIEW_MAX_BYTES", str(1024 * 1024))),
        # A URL's preview (or its failure) is reused this long before the page is fetched again.
        "LINK_PREVIEW_TTL_SECONDS": int(os.environ.get("LINK_PREVIEW_TTL_SECONDS", "86400")),
    }
)
# Absolute links for clients that need them (bots, push); empty: links are relative to this server.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
# Email (accounts.mail): address verification and password reset links. With EMAIL_HOST set, mail
# goes out through that SMTP server; without it (the embedded mode, development) each mail is
# printed to the log. Mails are sent by a background worker, never by the request that asked for
# them, and each connection attempt gives up after EMAIL_TIMEOUT seconds.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "IM-Suite <noreply@localhost>")
# How long a password reset link works (Django's token generator; one use: the password it
# changes is part of its hash) and how long an address verification link works.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", "3600"))
EMAIL_VERIFICATION_TIMEOUT = int(os.environ.get("EMAIL_VERIFICATION_TIMEOUT", str(3 * 86400)))
# Web Push (push/vapid.py): the VAPID private key (PEM, or the urlsafe base64 of the raw 32-byte key;
# `manage.py vapid_key` makes one). Unset in the embedded mode: one is made once and kept in the
# database. Unset with DATABASE_URL set: Web Push is off (a warning says so), never a key made silently.
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
# Who push services may contact about this server's pushes (a mailto: or https: URL, RFC 8292).
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:admin@localhost")
MEDIA_ROOT = DATA_DIR / "media"
# Where uploaded files' bytes live: "filesystem" (MEDIA_ROOT; embedded mode, or one host behind
# nginx) or "s3" (any S3-compatible object store; the bucket stays private, clients get presigned links).
MEDIA_STORAGE = os.environ.get("MEDIA_STORAGE", "filesystem")
# Filesystem storage behind nginx: the internal location that serves MEDIA_ROOT (README), so that
# the bytes go out through nginx (X-Accel-Redirect) and not through Python; empty: Django sends them.
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "").rstrip("/")
if MEDIA_STORAGE == "filesystem":
    MEDIA_STORAGE_CONFIG = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
elif MEDIA_STORAGE == "s3":
    if not os.environ.get("S3_BUCKET"):
        raise ImproperlyConfigured("S3_BUCKET must be set when MEDIA_STORAGE=s3.")
    if os.environ.get("S3_ADDRESSING_STYLE", "") not in {"", "auto", "path", "virtual"}:
        raise ImproperlyConfigured("S3_ADDRESSING_STYLE must be auto, path or virtual.")
    MEDIA_STORAGE_CONFIG = {
        # django-storages' S3Storage, presigning against S3_PUBLIC_ENDPOINT_URL when it is set.
        "BACKEND": "media.s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["S3_BUCKET"],
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,  # None: AWS
            "public_endpoint_url": os.environ.get("S3_PUBLIC_ENDPOINT_URL") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            "addressing_style": os.environ.get("S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            # Private objects: readable only through presigned links, which live minutes (the
            # signed /media/ link in front of them is what lasts MEDIA_URL_TTL_SECONDS).
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            # Names are random; a clash must never replace someone else's file.
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be filesystem or s3, not {MEDIA_STORAGE!r}.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "media": MEDIA_STORAGE_CONFIG,
}

# What of an upload Django keeps in memory: past this its multipart parser writes the file part to a
# temporary file, and a body it reads from daphne's messages is spooled to one (Django's default,
# 2.5 MB, let each upload in flight hold that much). A body twisted kept in a file Django reads from
# that file (imsuite.http_handler, imsuite.daphne_tuning).
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# The largest HTTP request body; a larger one is answered 413 before it is read (imsuite.body_limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("REQUEST_MAX_BYTES", str(1024 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused Host header or another suspicious request is one line, not a traceback per request.
    "filters": {
        "no_security_tracebacks": {"()": "imsuite.log_filters.NoSecurityTracebacks"},
        "outage_answers": {"()": "imsuite.db_outage.OutageAnswers"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_security_tracebacks"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # psycopg_pool logs every failed reconnection; imsuite.db_outage logs an outage once.
    "loggers": {
        "django.request": {"level": "ERROR", "filters": ["outage_answers"]},
        "psycopg.pool": {"level": "ERROR"},
    },
}

# Security headers (docs/architecture.md, "Security headers"): the Content-Security-Policy comes from
# imsuite.security_headers, the rest from Django's SecurityMiddleware and XFrameOptionsMiddleware.
# BEHIND_TLS_PROXY says that browsers reach the server over HTTPS through a proxy in TRUSTED_PROXIES
# (which alone is believed about the scheme): cookies become Secure, plain HTTP is redirected to
# HTTPS and HSTS is sent. Never set it for a server that is reached over plain HTTP.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = BEHIND_TLS_PROXY
# The container's health check asks daphne itself, over plain HTTP, past the proxy.
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 86400))) if BEHIND_TLS_PROXY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links in messages lead to other sites: they learn nothing of the page they were followed from.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# check --deploy asks for includeSubDomains and preload. Both bind every other host of the operator's
# domain to HTTPS (preload for good, through the browsers' built-in list): a decision about more than
# this server, left to the operator (HSTS_INCLUDE_SUBDOMAINS, HSTS_PRELOAD), not a default.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

# Single sign-on with an OpenID provider (README, "Single sign-on"): off unless OIDC_ISSUER and
# OIDC_CLIENT_ID are set. The endpoints come from the issuer's discovery document.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "OpenID")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
# Where mobile apps may be sent back to, with their one-time code (docs/protocol.md, "Single sign-on").
OIDC_APP_REDIRECT_URIS = env_list("OIDC_APP_REDIRECT_URIS", "")
OIDC_PROXY = None
OIDC_USE_PKCE = True  # besides state and nonce, which mozilla-django-oidc always uses
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc-callback"
