"""Outgoing e-mail: SMTP when `C42_SMTP_URL` is set, otherwise `.eml` files in the outbox.

`C42_SMTP_URL` forms: `smtp://host:25`, `smtp://user:password@host:587?starttls=1`,
`smtps://user:password@host:465` (TLS from the first byte). Bodies carry single-use links
(verification, password reset), so they are never logged; the log names only the recipient
and the subject.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from c42.logs import get_logger
from c42.settings import Settings

log = get_logger("c42.mail")
SMTP_TIMEOUT = 15  # seconds


class MailError(Exception):
    """The message could not be handed over (SMTP refused or unreachable, outbox unwritable)."""


@dataclass(frozen=True)
class SMTPTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SMTPTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("C42_SMTP_URL must look like smtp://host:port or smtps://host:port")
    implicit_tls = parts.scheme == "smtps"
    flag = parse_qs(parts.query).get("starttls", ["0"])[-1].lower()
    return SMTPTarget(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls,
        starttls=not implicit_tls and flag in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(settings: Settings, to: str, subject: str, text_body: str) -> EmailMessage:
    message = EmailMessage()  # the default policy refuses CR/LF in headers (no injection)
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2].strip("> "))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5
    # Plain 7bit keeps links on one line in the outbox files; non-ASCII text needs QP.
    message.set_content(text_body, cte="7bit" if text_body.isascii() else "quoted-printable")
    return message


def send_mail(settings: Settings, to: str, subject: str, text_body: str) -> None:
    """Send one plain-text message; raises MailError when it could not be handed over."""
    try:
        message = build_message(settings, to, subject, text_body)  # CR/LF in a header: ValueError
        if settings.smtp_url:
            _send_smtp(parse_smtp_url(settings.smtp_url), message)
        else:
            _write_outbox(Path(settings.outbox_dir), message)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("mail to %s subject %r failed: %s", to, subject, type(exc).__name__)
        raise MailError(type(exc).__name__) from None
    log.info("mail sent to %s subject %r", to, subject)


def _send_smtp(target: SMTPTarget, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.implicit_tls:
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    with smtp:
        if target.starttls:
            smtp.starttls(context=context)
        if target.username:
            smtp.login(target.username, target.password or "")
        smtp.send_message(message)


def _write_outbox(directory: Path, message: EmailMessage) -> None:
    """Write `<time>-<random>.eml` atomically: readers never see a half-written file."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")  # not *.eml
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp: mode 0600, links inside are secrets
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
