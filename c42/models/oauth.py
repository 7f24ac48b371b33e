"""OAuth 2.0 apps, authorization codes, token pairs and consent records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from c42.models.base import Base, new_id, utcnow

# A refresh token that still works, unless expired (the predicate of a partial index below).
LIVE_REFRESH = "refresh_digest IS NOT NULL AND refresh_revoked_at IS NULL AND rotated_at IS NULL"


class OAuthApp(Base):
    __tablename__ = "oauth_apps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_digest: Mapped[str | None] = mapped_column(String(64))  # keyed HMAC-SHA256
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    allowed_scopes: Mapped[str] = mapped_column(String(200))  # c42.auth.scopes.join(...)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_silent: Mapped[bool] = mapped_column(Boolean, default=False)
    require_pkce: Mapped[bool] = mapped_column(Boolean, default=False)
    cors_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # A disabled app is unknown to every endpoint: no authorization, no token, its tokens
    # refused, its origins no longer answered (c42 app disable / enable).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # OpenID Connect RP-initiated logout 1.0: where /oauth2/logout/ may send the browser back
    # (exact match).
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # RFC 8628: the app may use the device authorization grant (c42 app create|update --device).
    allow_device: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # RFC 9126 §6: authorization requests only by request_uri (c42 app ... --require-par).
    require_par: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # RFC 9449: tokens only with a DPoP proof, always bound (c42 app ... --require-dpop).
    require_dpop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class OAuthAuthorizationCode(Base):
    __tablename__ = "oauth_authorization_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    redirect_uri_sent: Mapped[bool] = mapped_column(Boolean, default=True)
    scope: Mapped[str] = mapped_column(String(200))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # c42 purge
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # OpenID Connect: what the code's id_token says of the request and the login (SPEC §10).
    nonce: Mapped[str | None] = mapped_column(String(500))
    auth_time: Mapped[datetime | None] = mapped_column(DateTime)
    # RFC 9449 §10: the authorization request's dpop_jkt; the code is redeemed only with a
    # proof by that key.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class OAuthToken(Base):
    """One access token and (optionally) its refresh token. A rotation creates a new row
    in the same `family_id`; reuse of a rotated refresh token revokes the family."""

    __tablename__ = "oauth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(200))
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    code_id: Mapped[str | None] = mapped_column(String(32), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(DateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    access_revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    refresh_revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime)  # refresh token was used
    last_used: Mapped[datetime | None] = mapped_column(DateTime)  # access token, to the minute
    # RFC 9449 §6: the access token is bound to this key (RFC 7638 thumbprint); so is a public
    # app's refresh token of the same row (§5). None: a Bearer token.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # Live refresh tokens per user (the limits of SPEC §5.3, counted on every issuance):
        # only live rows are in it, so the count stays small however long the history.
        Index(
            "ix_oauth_tokens_live_refresh",
            "user_id",
            "app_id",
            "refresh_expires_at",
            sqlite_where=text(LIVE_REFRESH),
            postgresql_where=text(LIVE_REFRESH),
        ),
        # c42 purge (c42.ops.purge) finds ended pairs through these (a pair without a refresh
        # token has no refresh_expires_at); the revocation ones are partial, so issuing a pair
        # writes one more index entry, not three.
        Index(
            "ix_oauth_tokens_refresh_expires_at_access_expires_at",
            "refresh_expires_at",
            "access_expires_at",
        ),
        Index(
            "ix_oauth_tokens_refresh_revoked_at",
            "refresh_revoked_at",
            sqlite_where=text("refresh_revoked_at IS NOT NULL"),
            postgresql_where=text("refresh_revoked_at IS NOT NULL"),
        ),
        Index(
            "ix_oauth_tokens_refresh_expires_at_access_revoked_at",
            "refresh_expires_at",
            "access_revoked_at",
            sqlite_where=text("access_revoked_at IS NOT NULL"),
            postgresql_where=text("access_revoked_at IS NOT NULL"),
        ),
    )


class OAuthConsent(Base):
    __tablename__ = "oauth_consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("app_id", "user_id"),)


class OAuthDeviceCode(Base):
    """A device authorization (RFC 8628 §3.2): both codes stored only as digests; the user's
    decision (`approved`, `user_id`) made on /device/; redeemed once (`redeemed_at`, claimed by
    one conditional UPDATE)."""

    __tablename__ = "oauth_device_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # c42 purge
    interval: Mapped[int] = mapped_column(Integer)  # seconds; RFC 8628 §3.5 slow_down adds 5
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    approved: Mapped[bool | None] = mapped_column(Boolean)
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # OpenID Connect: when that user logged in (the browser session's login), for `auth_time`.
    auth_time: Mapped[datetime | None] = mapped_column(DateTime)


class OAuthPushedRequest(Base):
    """A pushed authorization request (RFC 9126 §2): the request_uri stored only as a digest;
    single use (`used_at`, claimed by one conditional UPDATE)."""

    __tablename__ = "oauth_pushed_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    uri_digest: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    params: Mapped[list[list[str]]] = mapped_column(JSON)  # the request's (name, value) pairs
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
