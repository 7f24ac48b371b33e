"""A cookie-keeping browser for the merge tests: the normal authorization flow through the real
pages (login or register, the e-mailed verification link, the consent form)."""

from __future__ import annotations

import html
import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.silent.helpers import App, params, query_of

PASSWORD = "a long enough password 42"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_LINK = re.compile(r"https?://\S+")


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "page has no csrf_token input"
    return match.group(1)


class Browser:
    """Follows no redirect by itself: every step is checked."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, timeout=30, follow_redirects=False, headers={"Accept": "text/html"}
        )

    def close(self) -> None:
        self.http.close()

    def authorize(self, app: App, **extra: str) -> tuple[httpx.Response, dict[str, str]]:
        sent = params(app, None, **extra)
        return self.http.get("/oauth2/authorize/", params=sent), sent

    def register(self, next_url: str, email: str, password: str = PASSWORD) -> None:
        page = self.http.get("/accounts/register/", params={"next": next_url})
        assert page.status_code == 200 and 'id="register-form"' in page.text
        form = {
            "csrf_token": csrf_of(page.text),
            "email": email,
            "password": password,
            "first_name": "Ann",
            "last_name": "Smith",
            "next": next_url,
        }
        answer = self.http.post("/accounts/register/", data=form)
        assert answer.status_code == 200, answer.text

    def login(self, email: str, password: str = PASSWORD, next_url: str | None = None) -> str:
        page = self.http.get("/accounts/login/", params={"next": next_url} if next_url else None)
        form = {"csrf_token": csrf_of(page.text), "email": email, "password": password}
        if next_url:
            form["next"] = next_url
        answer = self.http.post("/accounts/login/", data=form)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def follow(self, location: str) -> httpx.Response:
        parts = urlsplit(location)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.http.get(path)

    def consent(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        assert page.status_code == 200, page.text
        assert 'id="consent-form"' in page.text
        form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
        form["decision"] = decision
        return self.http.post("/oauth2/authorize/", data=form)

    def code_for(self, app: App, **extra: str) -> str:
        """Authorize (consent page answered with Allow when shown) and return the code."""
        answer, sent = self.authorize(app, **extra)
        if answer.status_code == 200:
            answer = self.consent(answer)
        assert answer.status_code == 302, answer.text
        query = query_of(answer.headers["location"])
        assert query.get("state") == sent["state"] and "code" in query, query
        return query["code"]


def next_of(login_location: str) -> str:
    return parse_qs(urlsplit(login_location).query)["next"][0]


def wait_for_mail(outbox: Path, to: str, subject: str, timeout: float = 10) -> EmailMessage:
    """Mails are sent after the response: wait a moment for the file."""
    deadline = time.monotonic() + timeout
    while True:
        for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            assert isinstance(message, EmailMessage)
            if message["To"] == to and subject in str(message["Subject"]):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail {subject!r} to {to} in {outbox}")
        time.sleep(0.05)


def link_in(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    match = _LINK.search(str(part.get_content()))
    assert match, "mail has no link"
    return match.group(0)
