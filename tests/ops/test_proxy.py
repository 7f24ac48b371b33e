"""Behind a reverse proxy (SPEC §7): Debian's nginx with deploy/nginx/c42-proxy.conf, as it is,
terminating TLS in front of a real `c42 serve --proxy-headers --forwarded-allow-ips 127.0.0.1`.
The client IP of rate limits, logs and sessions is the one nginx forwards, nobody else's
forwarded headers are believed, and https is recognised (Secure cookie, HSTS, https redirects).

Clients take distinct loopback source addresses (127.0.0.2, .3, ...) so that nginx sees
different clients. Skipped when nginx is not installed (`make nginx-deps`)."""

from __future__ import annotations

import datetime
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from c42 import accounts
from c42.db import Database
from c42.migrate import upgrade
from c42.models import BrowserSession
from tests.ops.processes import environment, free_port, own_database, serving
from tests.ratelimit_windows import wait_for_fresh_window
from tests.web.helpers import csrf_from

REPO = Path(__file__).resolve().parents[2]
SNIPPET = REPO / "deploy" / "nginx" / "c42-proxy.conf"
SITE = REPO / "deploy" / "nginx" / "c42.conf"
PASSWORD = "correct horse battery staple"
LOGINS = "/api/v2/user-tokens/"
LIMIT = 3  # C42_RATE_LIMIT_LOGIN attempts per WINDOW seconds
# Windows are fixed and aligned to the clock: a test's attempts straddled a minute boundary
# once on a loaded machine (the count restarted, the 429 never came). An hour, entered fresh.
WINDOW = 3600


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.skip("nginx is not installed (make nginx-deps: apt-get install nginx-light)")
    return found


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _main_config(prefix: Path, http_block: str) -> str:
    """nginx.conf for one foreground process under `prefix` (never the system service)."""
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
    {temp}
    {http_block}
}}
"""


@dataclass
class Proxy:
    url: str  # https://127.0.0.1:PORT: nginx
    app_url: str  # http://127.0.0.1:PORT: c42 serve itself
    db: Database
    served_output: Callable[[], str]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = _nginx()
    root = tmp_path_factory.mktemp("proxy")
    prefix = root / "nginx"
    prefix.mkdir()
    cert, key = _certificate(prefix)
    with own_database(root) as url:
        upgrade(url)
        db = Database(url)
        env = environment(root, url, C42_RATE_LIMIT_LOGIN=f"{LIMIT}/{WINDOW}")
        args = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
        with serving(root, env, *args) as served:
            port = free_port()
            server = f"""
    upstream c42 {{ server 127.0.0.1:{served.port}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name 127.0.0.1;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ include {SNIPPET}; }}
    }}"""
            config = prefix / "nginx.conf"
            config.write_text(_main_config(prefix, server))
            command = [nginx, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                _wait_for(f"https://127.0.0.1:{port}/health", process, prefix)
                yield Proxy(f"https://127.0.0.1:{port}", served.url, db, served.output)
            finally:
                process.send_signal(signal.SIGQUIT)  # nginx: graceful stop
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
                db.dispose()


def _wait_for(url: str, process: subprocess.Popen[bytes], prefix: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url, verify=False, timeout=1).status_code == 200:  # noqa: S501
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = (prefix / "error.log").read_text(errors="replace") if prefix.exists() else ""
            pytest.fail(f"nginx did not start: {log[-2000:]}")
        time.sleep(0.1)


def _client(base_url: str, source: str) -> httpx.Client:
    """A client connecting from the loopback address `source` (self-signed TLS accepted)."""
    transport = httpx.HTTPTransport(local_address=source, verify=False)
    return httpx.Client(base_url=base_url, transport=transport, timeout=30)


def _login(client: httpx.Client, email: str, password: str, **headers: str) -> int:
    body = {"email": email, "password": password}
    return client.post(LOGINS, json=body, headers=headers).status_code


def test_the_login_limit_counts_the_forwarded_client(proxy: Proxy) -> None:
    # Each attempt names another account: only the per-IP counter can run out.
    wait_for_fresh_window(WINDOW, 30)
    with _client(proxy.url, "127.0.0.2") as first, _client(proxy.url, "127.0.0.3") as second:
        for attempt in range(LIMIT):
            assert _login(first, f"nobody-{attempt}@example.com", "wrong") == 401
        assert _login(first, "nobody-x@example.com", "wrong") == 429
        # Another client behind the same proxy is not limited (without --proxy-headers every
        # client would be nginx's 127.0.0.1, sharing one counter)...
        assert _login(second, "nobody-y@example.com", "wrong") == 401
        # ...and cannot pass for anyone else: nginx replaces the X-Forwarded-For it sends.
        forged = {"X-Forwarded-For": "127.0.0.2"}
        assert _login(second, "nobody-z@example.com", "wrong", **forged) == 401
        forged = {"X-Forwarded-For": "198.51.100.7"}
        assert _login(second, "nobody-w@example.com", "wrong", **forged) == 401
        assert _login(first, "nobody-v@example.com", "wrong", **forged) == 429


def test_forwarded_headers_from_anyone_but_the_proxy_are_ignored(proxy: Proxy) -> None:
    """A client reaching c42 directly is its own address, whatever it claims."""
    claims = {"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"}
    wait_for_fresh_window(WINDOW, 30)
    with _client(proxy.app_url, "127.0.0.6") as direct:
        for attempt in range(LIMIT):
            assert _login(direct, f"direct-{attempt}@example.com", "wrong", **claims) == 401
        assert _login(direct, "direct-x@example.com", "wrong", **claims) == 429
        page = direct.get("/accounts/login/", headers=claims)
        assert "secure" not in page.headers["set-cookie"].lower()  # not https
        assert "strict-transport-security" not in page.headers


def test_the_forwarded_client_is_in_the_log_and_the_session(proxy: Proxy) -> None:
    email = f"proxied-{time.monotonic_ns()}@example.com"
    with proxy.db.session() as s:
        user_id = accounts.create_user(s, email, PASSWORD).id
    with _client(proxy.url, "127.0.0.4") as browser:
        page = browser.get("/accounts/login/")
        assert page.status_code == 200
        form = {"csrf_token": csrf_from(page.text), "email": email, "password": PASSWORD}
        answer = browser.post("/accounts/login/", data=form)
        assert answer.status_code == 303, answer.text
    with proxy.db.session(write=False) as s:
        ips = s.scalars(select(BrowserSession.ip).where(BrowserSession.user_id == user_id)).all()
    assert ips == ["127.0.0.4"]  # the sessions page shows where a login came from

    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in proxy.served_output().splitlines() if "/accounts/login/" in line]
        clients = {ip for line in lines for ip in re.findall(r"\b127\.0\.0\.\d+\b", line)}
        if "127.0.0.4" in clients or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "127.0.0.4" in clients, lines
    assert "127.0.0.1" not in clients, lines  # never the proxy's own address


def test_https_at_the_proxy_is_recognised(proxy: Proxy) -> None:
    with _client(proxy.url, "127.0.0.5") as browser:
        page = browser.get("/accounts/login/")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("c42_session=")
        assert "; secure" in cookie.lower()  # SPEC §6: Secure when served over HTTPS
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        # Redirects the app builds itself point at the https address the browser used.
        moved = browser.get("/accounts/login", follow_redirects=False)
        assert moved.status_code == 307
        assert moved.headers["location"] == f"{proxy.url}/accounts/login/"


def test_the_example_site_is_valid_nginx(proxy: Proxy, tmp_path: Path) -> None:
    """deploy/nginx/c42.conf as an operator installs it (only paths replaced) passes nginx -t."""
    cert, key = _certificate(tmp_path)
    site = SITE.read_text()
    site = site.replace("/etc/nginx/snippets/c42-proxy.conf", str(SNIPPET))
    site = site.replace("/etc/letsencrypt/live/c42.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/c42.example.com/privkey.pem", str(key))
    config = tmp_path / "nginx.conf"
    config.write_text(_main_config(tmp_path, site))
    checked = subprocess.run(
        [_nginx(), "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
