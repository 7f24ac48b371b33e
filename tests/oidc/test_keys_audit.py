"""`c42 keys rotate|retire` are audited like every operator command (SPEC §8): `admin.key_rotate`
and `admin.key_retire`, the operator at the console as the actor, the key's id, never key
material; a refused command records nothing (issue 15)."""

from __future__ import annotations

import getpass
import json

from sqlalchemy import select

from c42.auth.oidc import keys
from c42.db import Database
from c42.models import AuditEvent, OIDCSigningKey
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.oidc.test_keys import _c42, _c42_json, _jwks


def _key_records(db: Database, kid: str) -> list[AuditEvent]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.type.startswith("admin.key_"))
            .order_by(AuditEvent.time, AuditEvent.id)
        )
        return [row for row in rows if row.detail.get("kid") == kid]


def _from_the_console(record: AuditEvent) -> None:
    assert record.actor_id is None and record.user_id is None
    assert record.detail["via"] == "cli"
    assert record.detail["os_user"] == getpass.getuser()
    assert record.ip is None and record.user_agent is None


def test_key_rotation_and_retirement_are_audited(
    server: LiveServer, settings: Settings, db: Database
) -> None:
    _jwks(server)  # a key signs already (the first is made on first use)
    upcoming = _c42_json(settings, "keys", "rotate", "--json")
    made = _c42_json(settings, "keys", "rotate", "--alg", "ES256", "--now", "--json")

    (rotated,) = _key_records(db, upcoming["kid"])
    assert rotated.type == "admin.key_rotate"
    _from_the_console(rotated)
    assert rotated.detail["alg"] == "RS256" and rotated.detail["immediate"] is False
    assert rotated.detail["active_from"] == upcoming["active_from"]
    (at_once,) = _key_records(db, made["kid"])
    assert at_once.type == "admin.key_rotate"
    assert at_once.detail["alg"] == "ES256" and at_once.detail["immediate"] is True

    # Refused (the signing key cannot be retired): nothing recorded.
    refused = _c42(settings, "keys", "retire", "--", made["kid"])  # `--`: a kid may start with "-"
    assert refused.returncode != 0
    assert [r.type for r in _key_records(db, made["kid"])] == ["admin.key_rotate"]

    keys.forget()
    listed = _c42_json(settings, "keys", "list", "--json")
    previous = next(row["kid"] for row in listed if row["status"] == "published")
    done = _c42(settings, "keys", "retire", "--", previous)
    assert done.returncode == 0, done.stderr
    keys.forget()
    retired = [r for r in _key_records(db, previous) if r.type == "admin.key_retire"]
    assert len(retired) == 1
    _from_the_console(retired[0])
    assert retired[0].detail["alg"] in keys.ALGORITHMS

    # Ids only: no sealed private key in any record.
    with db.session(write=False) as session:
        sealed = [row.sealed_private_key for row in session.scalars(select(OIDCSigningKey))]
        text = json.dumps([r.detail for r in session.scalars(select(AuditEvent))], default=str)
    assert sealed and not any(str(value) in text for value in sealed)
