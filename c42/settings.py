"""One settings object, read from `C42_`-prefixed environment variables, fail-closed."""

from __future__ import annotations

import ipaddress
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

VAR_DIR = Path("var")
_PLACEHOLDERS = {"", "changeme", "change-me", "changethis", "secret", "please-change"}
MIN_SECRET_KEY_LENGTH = 32  # production: shorter keys are refused as placeholders
_RATE = re.compile(r"[1-9][0-9]*(/[1-9][0-9]*)?")  # ATTEMPTS[/SECONDS], as ratelimit.parse_rate


class ConfigurationError(Exception):
    """A setting the process cannot run with; the CLI prints it as one line and exits 2."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="C42_", extra="ignore")

    # "production" refuses a missing or placeholder secret and a plain-http public issuer.
    environment: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{VAR_DIR / 'c42.sqlite3'}"
    issuer: str = "http://127.0.0.1:8042"  # `c42 serve` sets it to its own address when unset
    secret_key: str = ""  # generated and kept under ./var/ when unset
    redis_url: str | None = None
    smtp_url: str | None = None
    outbox_dir: Path = VAR_DIR / "outbox"
    mail_from: str = "C42 Platform <no-reply@c42.localhost>"  # From: of account e-mails

    access_token_lifetime: int = Field(3600, ge=60)  # seconds
    refresh_token_lifetime: int = Field(60 * 60 * 24 * 30, ge=3600)
    authorization_code_lifetime: int = Field(60, ge=1, le=60)  # RFC 6749 §4.1.2: max 10 min
    refresh_tokens_per_app_user: int = Field(25, ge=1)
    refresh_tokens_per_user: int = Field(100, ge=1)
    refresh_grace_seconds: int = Field(5, ge=0, le=60)
    """`C42_REFRESH_GRACE_SECONDS`: for this long after a refresh token is rotated, the same
    client presenting it again with the same scope gets the pair that rotation issued (while
    that pair is still live) instead of a family revocation, so that parallel refreshes (tabs,
    workers) and an immediate retry after a lost response leave the client a working token.
    0 turns it off. Kept short because within it a stolen just-rotated token is honoured too:
    5 s covers requests sent together (they reach the server within milliseconds, a second
    under load); Hydra and django-oauth-toolkit default to 0, Cognito allows up to 60 s."""
    # RFC 9449 §8, §9: every DPoP proof must carry a current server nonce (`DPoP-Nonce`); a
    # proof that sends one is always checked. Off by default: one more round trip per client.
    dpop_require_nonce: bool = False
    allow_query_access_token: bool = True  # C42 compat; RFC 6750 §2.3 discourages it

    token_cache_seconds: float = Field(1.0, ge=0, le=1.0)  # revocation visible within this time
    rate_limit_login: str = "10/60"  # attempts per seconds, per IP and per account
    rate_limit_token: str = "120/60"
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = Field(20, ge=1, le=500)  # PostgreSQL connections kept per process
    db_max_overflow: int = Field(10, ge=0, le=500)
    access_log: bool = True  # one redacted line per request on the c42.access logger
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line (c42 serve)
    # /metrics from non-loopback clients needs `Authorization: Bearer <this>`; unset: 404 there.
    metrics_token: str | None = Field(None, min_length=16)
    purge_retention_days: int = Field(30, ge=1)  # ended credentials are kept this long
    purge_interval: int = Field(3600, ge=0)  # seconds between `c42 serve`'s purges; 0: off
    audit_retention_days: int = Field(365, ge=0)  # audit records kept this long; 0: forever

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        # Accept the common spellings; we always talk to PostgreSQL through psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (sqlite:///PATH or postgresql://...)") from None
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_url(cls, value: str) -> str:
        # RFC 8414 §2: the issuer is a URL with a scheme and host, no query or fragment.
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host, e.g. https://c42.example")
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("must have no query or fragment")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must have no user name or password")
        try:
            parts.port  # noqa: B018  # urlsplit checks the port only when it is read
        except ValueError:
            raise ValueError("must have a port between 0 and 65535") from None
        return value

    @field_validator("rate_limit_login", "rate_limit_token")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not _RATE.fullmatch(value):
            raise ValueError("expected ATTEMPTS/SECONDS, both positive whole numbers")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment != "production":
            return self
        if not self.secret_key:
            raise ValueError("C42_SECRET_KEY must be set in production")
        weak = len(self.secret_key) < MIN_SECRET_KEY_LENGTH
        if weak or self.secret_key.lower() in _PLACEHOLDERS:
            raise ValueError(
                f"C42_SECRET_KEY is a placeholder; set a random secret of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters"
            )
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
            # RFC 6749 §3.1, §3.2: the endpoints require TLS; plain http only on loopback.
            raise ValueError(
                f"C42_ISSUER must be the public https address in production, got {self.issuer}"
                " (plain http only on loopback)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key  # production: checked by _production_rules
        key_file = VAR_DIR / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe(error: ValidationError) -> str:
    """One line naming each refused variable, never quoting its value (it may be a secret)."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"])
        problems.append(f"C42_{field.upper()}: {message}" if field else message)
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe(exc)) from None
