"""Seed the reference database: `python -m dot_project.seed < spec.json` (from
bench/reference/, with var/reference/venv's python; bench/reference/dot.py runs it).

Migrates, creates one user and, per entry of the spec's "apps", one confidential application
(authorization-code grant, client_secret_basic) and one AccessToken + RefreshToken pair per
given refresh token, through DOT's own models. The secrets come on stdin, never in argv.

    {"apps": [{"name": ..., "client_id": ..., "client_secret": ..., "hashed": false,
               "refresh_tokens": [...]}]}
"""

import json
import os
import sys
import uuid
from datetime import timedelta

import django

REDIRECT_URI = "https://bench.dot.test/callback"
SCOPE = "read"
BATCH = 2000


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_project.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    spec = json.load(sys.stdin)
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        user = get_user_model().objects.create_user("bench")  # unusable password: no hashing
        for app in spec["apps"]:
            _seed_app(app, user)


def _seed_app(app: dict, user: object) -> None:
    from django.conf import settings
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, Application, RefreshToken
    from oauthlib.common import generate_token  # DOT's default token generator

    application = Application.objects.create(
        name=app["name"],
        user=user,
        client_id=app["client_id"],
        client_secret=app["client_secret"],  # hashed on save when hash_client_secret is set
        hash_client_secret=app["hashed"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
    )
    lifetime = timedelta(seconds=settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"])
    expires = timezone.now() + lifetime
    tokens = app["refresh_tokens"]
    for start in range(0, len(tokens), BATCH):
        chunk = tokens[start : start + BATCH]
        access = AccessToken.objects.bulk_create(  # token_checksum is derived on save
            AccessToken(
                user=user,
                application=application,
                token=generate_token(),
                expires=expires,
                scope=SCOPE,
            )
            for _ in chunk
        )
        RefreshToken.objects.bulk_create(
            RefreshToken(
                user=user,
                application=application,
                token=value,
                access_token=pair,
                token_family=uuid.uuid4(),  # as a first issuance from a code would set it
            )
            for value, pair in zip(chunk, access, strict=True)
        )


if __name__ == "__main__":
    main()
