"""`c42 serve` as a service (SPEC §7): the issuer is the served address unless C42_ISSUER says
otherwise; configuration errors are one `c42: error:` line and exit status 2 (production
refuses a plain-http public issuer and a missing or placeholder secret); SIGTERM lets in-flight
requests finish (for at most 10 s) and exits 0."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from c42 import accounts
from c42.cli import serve
from c42.cli.main import main
from c42.db import Database
from c42.migrate import upgrade
from c42.settings import get_settings
from tests.ops.processes import Served, environment, free_port, own_database, run

METADATA = "/.well-known/oauth-authorization-server"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def place(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with own_database(tmp_path) as url:
        upgrade(url)
        yield tmp_path, url


def _issuer_of(served: Served) -> str:
    metadata = httpx.get(served.url + METADATA, timeout=10)
    assert metadata.status_code == 200, metadata.text
    issuer: str = metadata.json()["issuer"]
    return issuer


def test_issuer_defaults_to_the_served_address(place: tuple[Path, str]) -> None:
    root, url = place
    served = Served(root, environment(root, url))
    try:
        served.wait_ready()
        assert _issuer_of(served) == f"http://127.0.0.1:{served.port}"  # not the 8042 default
        login = httpx.get(served.url + "/accounts/login/", timeout=10)
        assert login.status_code == 200
        assert served.terminate() == 0
    finally:
        served.stop()
    assert f"C42 Platform on http://127.0.0.1:{served.port}/" in served.output()


def test_issuer_set_by_the_operator_wins(place: tuple[Path, str]) -> None:
    root, url = place
    served = Served(root, environment(root, url, C42_ISSUER="https://c42.example"))
    try:
        served.wait_ready()
        assert _issuer_of(served) == "https://c42.example"
    finally:
        served.stop()


def test_production_serves_with_a_real_secret_on_loopback(place: tuple[Path, str]) -> None:
    """The refusals below are refusals of their one setting: this production configuration
    (loopback http issuer from the serve address, a real secret) starts."""
    root, url = place
    served = Served(root, environment(root, url, C42_ENVIRONMENT="production"))
    try:
        served.wait_ready()
        assert _issuer_of(served) == f"http://127.0.0.1:{served.port}"
    finally:
        served.stop()


STRONG = "a-real-production-secret-" + "z" * 24
REFUSED = [
    pytest.param(
        {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": ""},
        [],
        "C42_SECRET_KEY",
        id="no-secret",
    ),
    pytest.param(
        {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": "changeme"},
        [],
        "placeholder",
        id="placeholder-secret",
    ),
    pytest.param(
        {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": "short-but-not-listed"},
        [],
        "placeholder",
        id="short-secret",
    ),
    pytest.param(
        {
            "C42_ENVIRONMENT": "production",
            "C42_SECRET_KEY": STRONG,
            "C42_ISSUER": "http://c42.example",
        },
        [],
        "C42_ISSUER must be the public https address",
        id="http-issuer",
    ),
    pytest.param(
        {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": STRONG},
        ["--host", "0.0.0.0"],  # noqa: S104 - the issuer would be http://0.0.0.0:P
        "C42_ISSUER must be the public https address",
        id="http-issuer-from-serve-address",
    ),
    pytest.param({"C42_ENVIRONMENT": "prod"}, [], "C42_ENVIRONMENT", id="unknown-environment"),
    pytest.param({"C42_ISSUER": "c42.example"}, [], "C42_ISSUER", id="issuer-not-a-url"),
    pytest.param({"C42_ISSUER": "https://c42.example/?x=1"}, [], "C42_ISSUER", id="issuer-query"),
    pytest.param({"C42_ISSUER": "https://c42.example:99999"}, [], "C42_ISSUER", id="issuer-port"),
    pytest.param({"C42_ISSUER": "https://u:p@c42.example"}, [], "C42_ISSUER", id="issuer-user"),
    pytest.param({"C42_RATE_LIMIT_LOGIN": "ten"}, [], "C42_RATE_LIMIT_LOGIN", id="bad-rate"),
    pytest.param(
        {"C42_ACCESS_TOKEN_LIFETIME": "1h"}, [], "C42_ACCESS_TOKEN_LIFETIME", id="bad-int"
    ),
    pytest.param({"C42_DATABASE_URL": "nonsense"}, [], "C42_DATABASE_URL", id="bad-db-url"),
    pytest.param({"C42_LOG_FORMAT": "xml"}, [], "C42_LOG_FORMAT", id="bad-log-format"),
    pytest.param(
        {"C42_METRICS_TOKEN": "too-short"}, [], "C42_METRICS_TOKEN", id="short-metrics-token"
    ),
    pytest.param(
        {}, ["--forwarded-allow-ips", "10.0.0.1"], "--proxy-headers", id="allow-ips-alone"
    ),
    pytest.param(
        {},
        ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.1,proxy.local"],
        "proxy.local",
        id="allow-ips-not-an-address",
    ),
    pytest.param({}, ["--port", "0"], "--port", id="port-zero"),
]


@pytest.fixture
def in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, str], list[str]], int]]:
    """`c42 ARGS` in this process with these variables (a process start imports the whole
    app: seconds each). Serving itself is not expected: reaching uvicorn fails the test."""

    def must_not_serve(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the configuration was accepted")

    def main_with(variables: dict[str, str], args: list[str]) -> int:
        url = f"sqlite:///{tmp_path / 'c42.sqlite3'}"
        for name, value in environment(tmp_path, url, **variables).items():
            if name.startswith("C42_"):
                monkeypatch.setenv(name, value)
        if "C42_ISSUER" not in variables:
            monkeypatch.setenv("C42_ISSUER", "")  # restored afterwards, whatever serve sets
            monkeypatch.delenv("C42_ISSUER")
        get_settings.cache_clear()
        return main(args)

    monkeypatch.setattr(serve.uvicorn, "run", must_not_serve)
    monkeypatch.chdir(tmp_path)
    yield main_with
    get_settings.cache_clear()


@pytest.mark.parametrize(("variables", "args", "message"), REFUSED)
def test_configuration_errors_are_one_line_and_exit_2(
    in_process: Callable[[dict[str, str], list[str]], int],
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    status = in_process(variables, ["serve", "--port", str(free_port()), *args])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert out == ""  # refused before serving anything
    assert err.startswith("c42: error: "), err
    assert err.count("\n") == 1, err  # one line
    assert message in err
    secret = variables.get("C42_SECRET_KEY")
    if secret:
        assert secret not in err  # never echoed


@pytest.mark.parametrize(
    ("variables", "args", "message"),
    [
        pytest.param(
            {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": ""},
            ["serve"],
            "c42: error: C42_SECRET_KEY must be set in production",
            id="serve-no-secret",
        ),
        pytest.param(
            {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": STRONG},
            ["serve", "--host", "0.0.0.0"],  # noqa: S104 - its issuer would be http://0.0.0.0:P
            "c42: error: C42_ISSUER must be the public https address in production",
            id="serve-http-issuer",
        ),
        pytest.param(
            {"C42_ENVIRONMENT": "production", "C42_SECRET_KEY": ""},
            ["migrate"],
            "c42: error: C42_SECRET_KEY must be set in production",
            id="migrate-no-secret",
        ),
        pytest.param(
            {"C42_PURGE_RETENTION_DAYS": "0"},
            ["purge", "--dry-run"],
            "c42: error: C42_PURGE_RETENTION_DAYS:",
            id="purge-no-retention",
        ),
    ],
)
def test_the_process_exits_2_with_one_line(
    tmp_path: Path, variables: dict[str, str], args: list[str], message: str
) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'c42.sqlite3'}", **variables)
    if args[0] == "serve":
        args = [*args, "--port", str(free_port())]
    done = run(tmp_path, env, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.startswith(message), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # no traceback


def _send_head(port: int, body: bytes) -> socket.socket:
    """A login request whose body is still on its way: headers and the first byte only."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        "POST /api/v2/user-tokens/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:1])
    return sock


def _response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_sigterm_lets_in_flight_requests_finish_then_exits_0(place: tuple[Path, str]) -> None:
    root, url = place
    db = Database(url)
    email = "graceful@example.com"
    with db.session() as s:
        accounts.create_user(s, email, PASSWORD)
    db.dispose()
    body = json.dumps({"email": email, "password": PASSWORD}).encode()

    served = Served(root, environment(root, url))
    try:
        served.wait_ready()
        slow = _send_head(served.port, body)  # finishes after the signal
        stalled = _send_head(served.port, body)  # never finishes: cut at the 10 s bound
        time.sleep(0.5)  # both requests are in the server's hands
        served.process.terminate()  # SIGTERM
        signalled = time.monotonic()

        time.sleep(1)
        assert served.process.poll() is None, "exited with requests in flight"
        with pytest.raises(OSError):  # no longer accepting
            socket.create_connection(("127.0.0.1", served.port), timeout=2).close()

        slow.sendall(body[1:])
        answer = _response(slow)
        slow.close()
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        token = json.loads(answer.split(b"\r\n\r\n", 1)[1])["data"][0]["token"]
        assert len(token) == 40

        status = served.process.wait(timeout=30)
        waited = time.monotonic() - signalled
        stalled.close()
        assert status == 0, served.output()
        assert 8 <= waited < 20, waited  # the stalled request was given its 10 s, no more
    finally:
        served.stop()
