"""One settings object, read from `C42_`-prefixed environment variables, fail-closed."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "please-change"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="C42_", extra="ignore")

    environment: str = "development"  # "production" refuses placeholder secrets
    database_url: str = f"sqlite:///{VAR_DIR / 'c42.sqlite3'}"
    issuer: str = "http://127.0.0.1:8042"
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
    allow_query_access_token: bool = True  # C42 compat; RFC 6750 §2.3 discourages it

    token_cache_seconds: float = Field(1.0, ge=0, le=1.0)  # revocation visible within this time
    rate_limit_login: str = "10/60"  # attempts per seconds, per IP and per account
    rate_limit_token: str = "120/60"
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = Field(20, ge=1, le=500)  # PostgreSQL connections kept per process
    db_max_overflow: int = Field(10, ge=0, le=500)
    access_log: bool = True  # one redacted line per request on the c42.access logger

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        # Accept the common spellings; we always talk to PostgreSQL through psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            if self.environment == "production" and self.secret_key.lower() in _PLACEHOLDERS:
                raise RuntimeError("C42_SECRET_KEY is a placeholder; set a real secret")
            return self.secret_key
        if self.environment == "production":
            raise RuntimeError("C42_SECRET_KEY must be set in production")
        key_file = VAR_DIR / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
