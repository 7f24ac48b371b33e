"""Small helpers shared by the account pages: reading form fields, app state, sending mail
after the response."""

from __future__ import annotations

import contextlib

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request

from c42.db import Database
from c42.mail import MailError, send_mail
from c42.settings import Settings
from c42.text import is_accepted
from c42.web.account_flows import Mail


def text_field(form: FormData, name: str, max_length: int, *, strip: bool = True) -> str | None:
    """A field's text; "" when absent; None when too long, not accepted text (SPEC §6,
    c42.text: a control character) or a file, so the page can say so and write nothing."""
    value = form.get(name, "")
    if not isinstance(value, str) or not is_accepted(value):
        return None
    if strip:
        value = value.strip()
    return value if len(value) <= max_length else None


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def mail_after_response(settings: Settings, mail: Mail | None) -> BackgroundTask | None:
    """Send once the response has gone out: the answer's timing and content are the same
    whether or not a mail is sent (no account enumeration), and a slow SMTP server does not
    hold the page."""
    if mail is None:
        return None
    return BackgroundTask(_send_quietly, settings, mail)


def _send_quietly(settings: Settings, mail: Mail) -> None:
    with contextlib.suppress(MailError):  # send_mail logged it; the person can ask again
        send_mail(settings, mail.to, mail.subject, mail.body)
