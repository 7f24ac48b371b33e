"""Django settings of the reference project: a small standard deployment of
django-oauth-toolkit (DOT) on SQLite, configured like C42's own benchmark server where the two
can be compared (WAL, `synchronous=NORMAL`, write transactions started with BEGIN IMMEDIATE).

bench/reference/dot.py passes the two values that change per run in the environment.
"""

import os

SECRET_KEY = os.environ["DOT_BENCH_SECRET_KEY"]  # fresh per run: nothing signed survives it
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",  # DOT's tokens belong to a user
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "dot_project.urls"
WSGI_APPLICATION = "dot_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DOT_BENCH_DATABASE"],
        "CONN_MAX_AGE": 600,  # one connection per sync worker, kept (as C42's pool keeps its)
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",  # writers queue instead of failing on upgrade
            "timeout": 30,  # seconds a writer waits for the lock (C42: busy_timeout 30000)
        },
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ROTATE_REFRESH_TOKEN": True,  # DOT's default, stated: each refresh spends its token
    "PKCE_REQUIRED": False,  # only the authorization-code leg asks for it; none runs here
    "SCOPES": {"read": "Reading scope"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # ERROR on the handler: Django's loggers pass their 4xx warnings up to the root's handlers
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},  # a 500's traceback, nothing else
}
