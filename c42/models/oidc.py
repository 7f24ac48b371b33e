"""OpenID Connect: id_token signing keys and the login context of `openid` grants (SPEC §10)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, utcnow


class OIDCSigningKey(Base):
    """One signing key. The newest key not retired whose `active_from` has come signs; every
    key not retired is published in the JWKS. The private key is stored only sealed
    (c42.auth.oidc.keys)."""

    __tablename__ = "oidc_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)  # RFC 7638 thumbprint
    alg: Mapped[str] = mapped_column(String(10))  # RS256 or ES256
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private_key: Mapped[str] = mapped_column(Text)  # AES-GCM, key from the server secret
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    active_from: Mapped[datetime] = mapped_column(DateTime)  # signs from then on
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)


class OIDCGrant(Base):
    """The login behind an `openid` token family, for the id_tokens of its refreshes (OIDC
    Core §12.2: same `sub`, same `auth_time`)."""

    __tablename__ = "oidc_grants"

    family_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # oauth_tokens.family_id
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(DateTime)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)  # c42 purge
