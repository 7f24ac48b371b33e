"""Request-scoped dependencies: the unit of work and the authenticated caller.

The session is opened around the endpoint function (`scope="function"`): committed after the
endpoint returns and before the response is sent, rolled back on any error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from c42 import cors, write_retry
from c42.auth import authenticate as authn
from c42.auth.dpop.proofs import ProofChecker, request_url
from c42.auth.oauth import metadata
from c42.auth.subject import AuthSubject, CredentialKind
from c42.db import Database
from c42.errors import APIError, Unauthorized
from c42.ops import metrics

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PROOF_CHECKED = "c42_dpop_proof_checked"  # scope state: this request's proof passed


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _session(request: Request) -> AsyncIterator[Session]:
    db = get_db(request)
    session = db.new_session(request.method not in SAFE_METHODS)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, False)
        raise
    # Reads commit too: a read-only transaction's COMMIT changes nothing, and psycopg drops
    # every prepared statement of the connection on ROLLBACK (see Database.read).
    await run_in_threadpool(_end, session, True)


def _end(session: Session, succeeded: bool) -> None:
    """Commit (or roll back) and close in one threadpool hop."""
    try:
        if succeeded:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_session, scope="function")]


async def authenticated(request: Request) -> AuthSubject:
    """Any valid credential, Action Tokens checked against their grants for this route. Each
    outcome is counted by credential kind and reason (SPEC §7 metrics). A 401 names the API's
    protected resource metadata (RFC 9728 §5.1)."""
    try:
        return await _authenticated(request)
    except APIError as exc:
        url = metadata.protected_resource_url(request.app.state.settings.issuer)
        raise authn.with_resource_metadata(exc, url) from None


async def _authenticated(request: Request) -> AuthSubject:
    settings = request.app.state.settings
    query_token = None
    if settings.allow_query_access_token and request.method in ("GET", "HEAD"):
        query_token = request.query_params.get("access_token")  # C42 compat, RFC 6750 §2.3
    try:
        credential = authn.parse_authorization(
            request.headers.getlist("authorization"), query_token
        )
    except APIError as exc:
        metrics.auth_outcome("unknown", exc.code)
        raise
    if credential is None:
        metrics.auth_outcome("none", "not_authenticated")
        raise Unauthorized(
            "Authentication credentials were not provided.",
            code="not_authenticated",
            headers={"WWW-Authenticate": authn.CHALLENGE},
        )
    try:
        subject = await _caller(request, credential)
    except APIError as exc:
        metrics.auth_outcome(credential.scheme, exc.code)
        raise
    metrics.auth_outcome(credential.scheme, "ok")
    request.state.subject = subject
    return subject


async def _caller(request: Request, credential: authn.Credential) -> AuthSubject:
    authenticator: authn.Authenticator = request.app.state.authenticator
    settings = request.app.state.settings
    if credential.from_query:
        request.state.no_store = True  # SPEC §5.3: responses carry Cache-Control: no-store
    key, entry = authenticator.cached(credential)
    if entry is None:
        entry = await run_in_threadpool(authenticator.load, key, credential.kind)
    subject = authn.check(entry, credential.kind, dpop=credential.dpop)
    authn.check_binding(subject, credential)  # RFC 9449 §7.2: bound tokens only as DPoP
    authn.check_origin(subject, cors.foreign_origin(request.scope, settings.issuer))
    if credential.dpop:
        await _check_proof(request, subject, credential)  # every time: never cached
    if subject.kind is CredentialKind.ACTION_TOKEN:
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method  # HEAD is a bodiless GET
        authn.check_grants(subject, method, getattr(route, "path", None), request.path_params)
        if subject.max_uses is not None:
            await run_in_threadpool(authenticator.consume_use, subject)
            write_retry.mark_unsafe(request.scope)  # the use is spent: never re-run
    return subject


async def _check_proof(
    request: Request, subject: AuthSubject, credential: authn.Credential
) -> None:
    """RFC 9449 §7.1: the request's DPoP proof, for the method and the URL as sent (§4.3:
    htu without the query; the raw path, so percent-encoding is compared as sent)."""
    checker: ProofChecker | None = request.app.state.oauth_config.dpop
    if checker is None:
        raise authn.unauthorized(
            subject.kind, "invalid_token", "DPoP is not enabled on this server.", dpop=True
        )
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    url = request_url(request.app.state.settings.issuer, path)
    proofs = request.headers.getlist("dpop")
    if checker.require_nonce:
        # RFC 9449 §9: every answer to a DPoP request gives the nonce to use next (c42.middleware
        # adds the header), so a client rarely meets use_dpop_nonce after its first request.
        request.state.dpop_nonce = checker.nonces.current()
    # c42.write_retry re-runs a write that lost a database race with the same scope: the proof
    # was checked, and its jti spent, by the first run, so the re-run must not take it for a
    # replay (RFC 9449 §11.1 is about another request presenting it).
    state = request.scope.setdefault("state", {})
    checked = (credential.secret, tuple(proofs), request.method, url)
    if state.get(_PROOF_CHECKED) == checked:
        return
    # On the event loop: one signature verification (CPU, cheaper than a thread hop) and the
    # replay cache's SET (in process, or Redis awaited on the loop).
    await authn.check_proof(checker, subject, credential, proofs, method=request.method, url=url)
    state[_PROOF_CHECKED] = checked
