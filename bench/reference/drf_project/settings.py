"""Settings of the DRF reference project: the DOT project's (dot_project/settings.py: DEBUG
off, SQLite with WAL, `synchronous=NORMAL`, a connection kept per worker) plus Django REST
framework, its token app and the unmanaged models of C42's planning tables.

bench/reference/drf.py passes the secret key and the database (a copy of C42's benchmark
database) in the environment, under the DOT project's variable names.
"""

from dot_project.settings import *  # noqa: F403 (the DOT project's settings, extended)
from dot_project.settings import INSTALLED_APPS

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "rest_framework",
    "rest_framework.authtoken",  # DRF's TokenAuthentication: one 40-hex key per user
    "drf_project.planning",
]
ROOT_URLCONF = "drf_project.urls"
WSGI_APPLICATION = "drf_project.wsgi.application"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",  # Authorization: Token <key>
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",  # Authorization: Bearer
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],  # an API: no HTML
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "drf_project.planning.pagination.EventsPagination",
    "PAGE_SIZE": 10,
    "UNAUTHENTICATED_USER": None,  # no django.contrib.auth AnonymousUser machinery needed
}
