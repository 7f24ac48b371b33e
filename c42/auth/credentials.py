"""An operator's view of a user's credentials: find one by id, revoke one, revoke them all.

Each revocation goes through the repository function the API uses (`user_tokens.revoke`,
`action_tokens.revoke`, `tokens.revoke_for_user`) and returns the eviction messages
(`c42.auth.evictions`) to publish once the transaction has committed, so a revoked credential
stops working in every serving process at once, not after the cache time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from c42.auth import browser_sessions, evictions
from c42.auth.action_tokens import repository as action_tokens
from c42.auth.oauth import tokens as oauth_tokens
from c42.auth.subject import CredentialKind
from c42.auth.user_tokens import repository as user_tokens
from c42.errors import NotFound
from c42.models import ActionToken, UserToken


@dataclass
class Revoked:
    """What a revocation ended, and the evictions to publish after commit."""

    user_tokens: int = 0
    action_tokens: int = 0
    oauth_tokens: int = 0
    browser_sessions: int = 0
    evictions: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "user_tokens": self.user_tokens,
            "action_tokens": self.action_tokens,
            "oauth_tokens": self.oauth_tokens,
            "browser_sessions": self.browser_sessions,
        }


def live_user_tokens(session: Session, user_id: str) -> list[UserToken]:
    return user_tokens.list_for_user(session, user_id)


def live_action_tokens(session: Session, user_id: str) -> list[ActionToken]:
    """The live Action Tokens the user holds or created (both may revoke them)."""
    rows, _count = action_tokens.list_for(session, user_id, limit=10_000, offset=0)
    return rows


def revoke_user_token(session: Session, token_id: str, *, of_user: str | None = None) -> str:
    """Revoke a live User Token by id (of `of_user`, when given); returns the eviction
    message. NotFound otherwise."""
    owner = session.scalar(select(UserToken.user_id).where(UserToken.id == token_id))
    if of_user is not None and owner != of_user:
        owner = None  # another user's token: not found here
    digest = user_tokens.revoke(session, owner, token_id) if owner else None
    if digest is None:
        raise NotFound(f"No live User Token with id {token_id}.")
    return evictions.key(CredentialKind.USER_TOKEN, digest)


def revoke_action_token(session: Session, token_id: str, *, of_user: str | None = None) -> str:
    """Revoke a live Action Token by id (one `of_user` holds or created, when given); returns
    the eviction message. NotFound otherwise."""
    holder = of_user or session.scalar(
        select(ActionToken.user_id).where(ActionToken.id == token_id)
    )
    digest = action_tokens.revoke(session, holder, token_id) if holder else None
    if digest is None:
        raise NotFound(f"No live Action Token with id {token_id}.")
    return evictions.key(CredentialKind.ACTION_TOKEN, digest)


def revoke_all(session: Session, user_id: str) -> Revoked:
    """Every credential of the account: its User Tokens, the Action Tokens it holds or
    created, its OAuth access and refresh tokens (every app) and its browser sessions."""
    done = Revoked()
    for user_token in live_user_tokens(session, user_id):
        done.evictions.append(revoke_user_token(session, user_token.id))
        done.user_tokens += 1
    for action_token in live_action_tokens(session, user_id):
        done.evictions.append(revoke_action_token(session, action_token.id))
        done.action_tokens += 1
    digests = oauth_tokens.revoke_for_user(session, user_id)
    done.oauth_tokens = len(digests)
    done.evictions += [evictions.key(CredentialKind.OAUTH, digest) for digest in digests]
    done.browser_sessions = browser_sessions.end_sessions(session, user_id)
    done.evictions.append(evictions.user(user_id))
    return done
