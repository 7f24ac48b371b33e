"""Outgoing mail: a real SMTP server (aiosmtpd) in plain, STARTTLS and implicit-TLS modes,
and the outbox used when no SMTP server is configured."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from c42.db import Database
from c42.mail import MailError, parse_smtp_url, send_mail
from c42.settings import Settings
from tests.conftest import LiveServer, _free_port
from tests.factories import unique_email
from tests.web.helpers import PASSWORD, browser, is_logged_in, link_in, path_of, submit

SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret/with:odd@chars"


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def _start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_authenticator,
        auth_require_tls=False,
        **kwargs,
    )
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = _start(inbox)
    yield inbox, controller.port
    controller.stop()


def _settings(settings: Settings, smtp_url: str | None, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"smtp_url": smtp_url, "outbox_dir": tmp_path / "outbox"})


@pytest.fixture
def smtp_server(
    smtp: tuple[Inbox, int], settings: Settings, db: Database, tmp_path: Path
) -> Iterator[tuple[LiveServer, Inbox, Settings]]:
    inbox, port = smtp
    url = f"smtp://{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}@127.0.0.1:{port}"
    mail_settings = _settings(settings, url, tmp_path)
    live = LiveServer(mail_settings, db)
    live.start()
    yield live, inbox, mail_settings
    live.stop()


def _wait(inbox: Inbox, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(inbox.messages) < count:
        assert time.monotonic() < deadline, "no mail reached the SMTP server"
        time.sleep(0.05)


def test_registration_mail_goes_through_smtp_and_its_link_works(
    smtp_server: tuple[LiveServer, Inbox, Settings],
) -> None:
    live, inbox, mail_settings = smtp_server
    email = unique_email("smtp")
    with browser(live.url) as client:
        data = {"email": email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
        assert submit(client, "/accounts/register/", data).status_code == 200
        _wait(inbox)
        recipients, message = inbox.messages[0]
        assert recipients == [email]
        assert message["To"] == email
        assert message["From"] == mail_settings.mail_from
        assert message["Subject"] == "Confirm your e-mail address for C42"
        assert message["Auto-Submitted"] == "auto-generated"
        assert client.get(path_of(link_in(message))).status_code == 303
        assert is_logged_in(client)
    assert not (Path(mail_settings.outbox_dir)).exists()  # SMTP set: no outbox files


def test_smtp_authentication_failure_is_a_mail_error(
    smtp: tuple[Inbox, int], settings: Settings, tmp_path: Path
) -> None:
    inbox, port = smtp
    bad = _settings(settings, f"smtp://{SMTP_USER}:wrong@127.0.0.1:{port}", tmp_path)
    with pytest.raises(MailError):
        send_mail(bad, "x@example.com", "Subject", "body")
    assert inbox.messages == []


def test_unreachable_smtp_is_a_mail_error_and_the_page_still_answers(
    settings: Settings, db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = _settings(settings, f"smtp://127.0.0.1:{_free_port()}", tmp_path)
    with pytest.raises(MailError):
        send_mail(down, "x@example.com", "Subject", "secret-link-body")
    live = LiveServer(down, db)
    live.start()
    try:
        with browser(live.url) as client:
            data = {"email": unique_email("down"), "password": PASSWORD, "first_name": "A"}
            response = submit(client, "/accounts/register/", {**data, "last_name": ""})
        assert response.status_code == 200
    finally:
        live.stop()
    assert "secret-link-body" not in caplog.text


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_modes_verify_the_server_certificate(
    mode: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    inbox = Inbox()
    if mode == "starttls":
        controller = _start(inbox, tls_context=server_context, require_starttls=True)
        url = f"smtp://{SMTP_USER}:x@localhost:{controller.port}?starttls=1"
    else:
        controller = _start(inbox, ssl_context=server_context)
        url = f"smtps://{SMTP_USER}:x@localhost:{controller.port}"
    url = url.replace(":x@", ":" + quote(SMTP_PASSWORD, safe="") + "@")
    tls_settings = _settings(settings, url, tmp_path)
    try:
        # An untrusted (self-signed) certificate: refused, nothing is sent.
        with pytest.raises(MailError):
            send_mail(tls_settings, "ann@example.com", "Hello", "body")
        assert inbox.messages == []
        # Trusted: delivered over TLS.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
        send_mail(tls_settings, "ann@example.com", "Hello", "body over tls")
        _wait(inbox)
        assert inbox.messages[0][1].get_content().strip() == "body over tls"
    finally:
        controller.stop()


def test_parse_smtp_url() -> None:
    plain = parse_smtp_url("smtp://mail.example:2525")
    assert (plain.host, plain.port, plain.starttls, plain.implicit_tls) == (
        "mail.example",
        2525,
        False,
        False,
    )
    assert plain.username is None
    tls = parse_smtp_url("smtp://u%40x:p%2Fw@mail.example:587?starttls=1")
    assert (tls.username, tls.password, tls.starttls) == ("u@x", "p/w", True)
    implicit = parse_smtp_url("smtps://mail.example")
    assert (implicit.port, implicit.implicit_tls, implicit.starttls) == (465, True, False)
    for bad in ("http://mail.example", "smtp://", "mail.example:25"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)


def test_outbox_files_are_unique_private_and_complete(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox_settings = _settings(settings, None, tmp_path)
    caplog.set_level(logging.INFO, logger="c42.mail")
    for number in range(5):
        send_mail(outbox_settings, "ann@example.com", f"Mail {number}", f"token-{number}")
    files = sorted(Path(outbox_settings.outbox_dir).iterdir())
    assert len(files) == 5 and all(f.suffix == ".eml" for f in files)  # no temp files left
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)  # links inside are secrets
    bodies = {
        message_from_bytes(f.read_bytes(), policy=policy.default).get_content().strip()
        for f in files
    }  # type: ignore[attr-defined]
    assert bodies == {f"token-{n}" for n in range(5)}
    assert "mail sent to ann@example.com" in caplog.text
    assert "token-" not in caplog.text  # the body is never logged


def test_header_injection_is_refused(settings: Settings, tmp_path: Path) -> None:
    outbox_settings = _settings(settings, None, tmp_path)
    with pytest.raises(MailError):
        send_mail(outbox_settings, "ann@example.com", "Hi\r\nBcc: eve@example.com", "body")
    assert not list(Path(outbox_settings.outbox_dir).glob("*.eml"))
