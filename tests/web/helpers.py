"""Helpers for the page tests: a cookie-keeping browser-like client, CSRF tokens from the
forms, and the outbox."""

from __future__ import annotations

import base64
import json
import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
from itsdangerous import TimestampSigner

from c42.auth import browser_sessions
from c42.db import Database
from c42.settings import Settings
from c42.web.session import COOKIE_NAME, derive_key

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+")
PASSWORD = "correct horse battery"


def browser(base_url: str) -> httpx.Client:
    """A client that keeps cookies and, like a test of a page, does not follow redirects."""
    return httpx.Client(
        base_url=base_url, timeout=30, follow_redirects=False, headers={"Accept": "text/html"}
    )


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no csrf_token input"
    return match.group(1)


def get_form(client: httpx.Client, path: str) -> str:
    """GET a page and return its CSRF token (the session cookie is kept by the client)."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_from(response.text)


def submit(
    client: httpx.Client, path: str, data: dict[str, str], *, page: str | None = None
) -> httpx.Response:
    """Fill the form shown at `page` (default: `path`) and POST it to `path`."""
    token = get_form(client, page or path)
    return client.post(path, data={**data, "csrf_token": token})


def log_in(
    client: httpx.Client, email: str, password: str, next_url: str | None = None
) -> httpx.Response:
    page = "/accounts/login/" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    data = {"email": email, "password": password}
    if next_url:
        data["next"] = next_url
    return submit(client, "/accounts/login/", data, page=page)


def is_logged_in(client: httpx.Client) -> bool:
    response = client.get("/accounts/")
    return response.status_code == 200


def read_mail(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def mails_to(outbox: Path, address: str) -> list[EmailMessage]:
    if not outbox.exists():
        return []
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = read_mail(path)
        if message["To"] == address:
            found.append(message)
    return found


def wait_for_mail(
    outbox: Path, address: str, subject: str = "", count: int = 1, timeout: float = 10
) -> EmailMessage:
    """The `count`-th mail to `address` whose subject contains `subject` (mails are sent
    after the response, so they may arrive a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        matching = [m for m in mails_to(outbox, address) if subject in str(m["Subject"])]
        if len(matching) >= count:
            return matching[count - 1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail {subject!r} #{count} to {address} in {outbox}")
        time.sleep(0.05)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def link_in(message: EmailMessage) -> str:
    match = _LINK.search(body_of(message))
    assert match, "mail has no link"
    return match.group(0)


def path_of(url: str) -> str:
    parsed = httpx.URL(url)
    return parsed.raw_path.decode()


def session_cookie(settings: Settings, data: dict[str, str]) -> str:
    """A correctly signed session cookie holding `data`, as Starlette's SessionMiddleware
    writes it (for tests that plant or forge sessions)."""
    payload = base64.b64encode(json.dumps(data).encode())
    return TimestampSigner(derive_key(settings, "session")).sign(payload).decode()


def planted_session(db: Database, settings: Settings, user_id: str) -> str:
    """A cookie for a server-side session row made directly for `user_id`, bypassing the
    login form (what a bug elsewhere, or an attacker with write access, could produce)."""
    with db.session() as session:
        started = browser_sessions.start(session, user_id)
    return session_cookie(settings, {"sid": started.secret})


def cookie_payload(cookie: str) -> dict[str, str]:
    """What a session cookie holds (its signed payload, base64 JSON)."""
    payload: dict[str, str] = json.loads(base64.b64decode(cookie.split(".")[0]))
    return payload


def logged_in_with(base_url: str, cookie: str) -> bool:
    """Whether a fresh client sending only this raw `Cookie` header is logged in."""
    with browser(base_url) as client:
        response = client.get("/accounts/", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
    return response.status_code == 200
