"""The real `c42` console script, run as a process against a temporary SQLite database (SPEC
§3): every `create` prints JSON with `--json`; errors go to stderr with a non-zero exit; what
the commands make works against the app served on that database."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from c42.cli.main import main
from c42.db import Database
from c42.models import ServiceSubscription, User
from c42.settings import Settings, get_settings


def _console_script() -> str:
    found = Path(sys.executable).parent / "c42"
    if found.exists():
        return str(found)
    on_path = shutil.which("c42")
    assert on_path, "the c42 console script is not installed"
    return on_path


@dataclass
class Cli:
    root: Path
    url: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_console_script(), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode != 0, (args, done.stdout)
        assert done.stderr.strip(), "errors go to stderr"
        assert "Traceback" not in done.stderr, done.stderr
        return done.stderr

    def settings(self) -> Settings:
        return Settings(
            database_url=self.url,
            secret_key=self.env["C42_SECRET_KEY"],
            outbox_dir=self.root / "outbox",
        )


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{root / 'cli.sqlite3'}"
    env = {
        **os.environ,
        "C42_DATABASE_URL": url,
        "C42_SECRET_KEY": "cli-test-secret-" + "k" * 32,
        "C42_OUTBOX_DIR": str(root / "outbox"),
    }
    env.pop("C42_TEST_DATABASE_URL", None)
    tool = Cli(root, url, env)
    assert "migrated" in tool.ok("migrate")
    return tool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(cli: Cli) -> Iterator[str]:
    """`c42 serve` as a real process on a free port."""
    port = _free_port()
    process = subprocess.Popen(
        [_console_script(), "serve", "--port", str(port), "--no-access-log"],
        env=cli.env,
        cwd=cli.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "c42 serve exited"
            assert time.monotonic() < deadline, "c42 serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def api(served: str) -> Iterator[httpx.Client]:
    """A client of `c42 serve` on the CLI's database."""
    with httpx.Client(base_url=served, timeout=30) as client:
        yield client


@pytest.fixture
def in_process(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The same `main()` in this process, for the many error cases: a process start imports
    the whole app (seconds), and these cases test the command, not the process."""
    for name in ("C42_DATABASE_URL", "C42_SECRET_KEY", "C42_OUTBOX_DIR"):
        monkeypatch.setenv(name, cli.env[name])
    monkeypatch.chdir(cli.root)
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


def _works(api: httpx.Client, token: str) -> int:
    return api.get("/api/v2/events/", headers={"Authorization": f"Token {token}"}).status_code


def test_migrate_is_idempotent(cli: Cli) -> None:
    assert "migrated" in cli.ok("migrate")


def test_user_create_activate_deactivate(cli: Cli, api: httpx.Client) -> None:
    user = cli.json("user", "create", "Ann.CLI@Example.com", "--password", "cli-password-1")
    assert {"id", "email"} <= set(user)
    assert user["email"] == "ann.cli@example.com"
    assert len(user["id"]) == 32
    duplicate = cli.fails("user", "create", "ann.cli@example.com", "--json")
    assert "ann.cli@example.com" in duplicate
    assert "exists" in duplicate

    token = cli.json("token", "create", "ann.cli@example.com")["token"]
    assert _works(api, token) == 200
    assert "deactivated" in cli.ok("user", "deactivate", "ann.cli@example.com")
    time.sleep(1.1)  # the server caches a credential look-up for at most a second
    refused = api.get("/api/v2/events/", headers={"Authorization": f"Token {token}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "inactive_user"
    assert "activated" in cli.ok("user", "activate", "ann.cli@example.com")
    time.sleep(1.1)
    assert _works(api, token) == 200


def test_token_create(cli: Cli, api: httpx.Client, in_process: Any) -> None:
    assert in_process(["user", "create", "tok.cli@example.com"]) == 0
    created = cli.json(
        "token", "create", "tok.cli@example.com", "--name", "ci", "--expires-in", "600"
    )
    assert {"id", "token"} <= set(created)
    assert len(created["token"]) == 40
    assert created["token"] == created["token"].lower()
    assert _works(api, created["token"]) == 200
    listed = api.get(
        "/api/v2/user-tokens/", headers={"Authorization": f"Token {created['token']}"}
    ).json()["data"]
    mine = next(t for t in listed if t["id"] == created["id"])
    assert mine["name"] == "ci"
    assert mine["expires_at"] is not None


def test_service_create_and_subscribe(cli: Cli, in_process: Any) -> None:
    assert in_process(["user", "create", "admin.cli@example.com"]) == 0
    assert in_process(["user", "create", "member.cli@example.com"]) == 0
    service = cli.json("service", "create", "CLI Service", "--admin", "admin.cli@example.com")
    assert set(service) >= {"id", "name"}
    assert service["name"] == "CLI Service"
    cli.ok("service", "subscribe", service["id"], "Member.CLI@example.com", "--inactive")
    db = Database(cli.url)
    try:
        with db.session(write=False) as s:
            rows = {
                email: (sub.is_active, sub.is_admin)
                for email, sub in s.execute(
                    select(User.email, ServiceSubscription)
                    .join(ServiceSubscription, ServiceSubscription.user_id == User.id)
                    .where(ServiceSubscription.service_id == service["id"])
                ).all()
            }
    finally:
        db.dispose()
    assert rows == {
        "admin.cli@example.com": (True, True),
        "member.cli@example.com": (False, False),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "create", "dup.cli@example.com"), "exists"),  # created by the first run
        (("user", "create", "not an e-mail", "--json"), ""),
        (("user", "create", "a\x00b@example.com"), ""),
        (("user", "deactivate", "nobody@example.com"), "nobody@example.com"),
        (("user", "activate", "nobody@example.com"), "nobody@example.com"),
        (("token", "create", "nobody@example.com", "--json"), "nobody@example.com"),
        (("token", "create", "dup.cli@example.com", "--expires-in", "0"), "expires"),
        (("token", "create", "dup.cli@example.com", "--expires-in", "-5"), "expires"),
        (("token", "create", "inactive.cli@example.com"), "not active"),
        (("service", "create", "S", "--admin", "nobody@example.com", "--json"), "nobody"),
        (("service", "subscribe", "0" * 32, "dup.cli@example.com"), "service"),
        (("service", "subscribe", "not-an-id", "dup.cli@example.com"), "service"),
    ],
)
def test_errors_go_to_stderr_with_a_non_zero_exit(
    in_process: Any,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    main = in_process
    main(["user", "create", "dup.cli@example.com"])
    main(["user", "create", "inactive.cli@example.com", "--inactive"])
    capsys.readouterr()
    assert main(list(args)) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("c42: error:"), err
    assert message in err


@pytest.mark.parametrize(
    "args", [("frobnicate",), ("user",), ("user", "create"), ("token", "create"), ()]
)
def test_usage_errors_exit_non_zero(
    in_process: Any, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit) as exited:
        in_process(list(args))
    assert exited.value.code != 0
    assert "usage" in capsys.readouterr().err.lower()


def test_demo_is_idempotent_and_its_token_shows_its_events(cli: Cli, api: httpx.Client) -> None:
    first = cli.json("demo")
    second = cli.json("demo")
    assert first == second  # same users, token, service and apps on every run
    user = first["user"]
    assert {"id", "email", "password", "token"} <= set(user)
    assert {"id", "name"} <= set(first["service"])
    assert len(user["token"]) == 40
    headers = {"Authorization": f"Token {user['token']}"}
    events = api.get("/api/v2/events/", params={"limit": 100}, headers=headers)
    assert events.status_code == 200, events.text
    titles = [e["title"] for e in events.json()["data"]]
    assert {"Dentist", "Team stand-up", "Book flights"} <= set(titles)
    assert len(titles) == len(set(titles))  # seeded once, not twice
    # the friend logs in with the printed password and sees only what is shared
    friend = first["friend"]
    obtained = api.post(
        "/api/v2/user-tokens/", json={"email": friend["email"], "password": friend["password"]}
    )
    assert obtained.status_code == 201, obtained.text
    friend_headers = {"Authorization": f"Token {obtained.json()['data'][0]['token']}"}
    shared = api.get("/api/v2/events/", params={"limit": 100}, headers=friend_headers).json()
    shared_titles = {e["title"] for e in shared["data"]}
    assert "Team stand-up" in shared_titles
    assert "Dentist" not in shared_titles  # the demo user's personal calendar
    assert shared_titles < set(titles)
    assert all(e["permission"] == "subscribed_read" for e in shared["data"])
