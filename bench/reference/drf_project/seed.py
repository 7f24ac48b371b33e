"""Prepare the copy of C42's benchmark database for the DRF project: `python -m
drf_project.seed < spec.json` (from bench/reference/, with var/reference/venv's python;
bench/reference/drf.py runs it).

`migrate` adds Django's own tables (auth, contenttypes, authtoken, oauth2_provider) beside
C42's, which the unmanaged models only read. Then one Django user per given C42 user
(`username` = the C42 user id, no usable password), a DRF token for each, and a Bearer access
token (django-oauth-toolkit) of one of them. The tokens come on stdin, never in argv.

    {"users": [{"id": ..., "token": ...}], "bearer": {"user": ..., "token": ...}}
"""

import json
import os
import sys
from datetime import timedelta

import django

SCOPE = "read"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_project.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    spec = json.load(sys.stdin)
    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            user_model(username=one["id"], password=make_password(None))  # unusable
            for one in spec["users"]
        )
        Token.objects.bulk_create(
            Token(key=one["token"], user=user)
            for one, user in zip(spec["users"], users, strict=True)
        )
        bearer = spec["bearer"]
        _access_token(user_model.objects.get(username=bearer["user"]), bearer["token"])


def _access_token(user: object, token: str) -> None:
    from django.conf import settings
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application
    from oauthlib.common import generate_token

    application = Application.objects.create(
        name="drf_events_list_bearer",
        user=user,
        client_secret=generate_token(),  # never used: the access token is made here
        hash_client_secret=False,  # no PBKDF2 on save
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://bench.drf.test/callback",
    )
    lifetime = timedelta(seconds=settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"])
    AccessToken.objects.create(  # create, not bulk_create: save() derives token_checksum
        user=user,
        application=application,
        token=token,
        expires=timezone.now() + lifetime,
        scope=SCOPE,
    )


if __name__ == "__main__":
    main()
