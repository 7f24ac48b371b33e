"""`c42 action-token create EMAIL --grant 'METHOD ROUTE[ NAME=VALUE]' ... --json` (SPEC §3):
JSON on stdout, errors on stderr with a non-zero exit, grants checked like the API does.

The success path runs the command as a separate process; the error cases call the same
`main()` in-process (each process start imports the whole app)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from c42.cli.main import main
from c42.settings import Settings, get_settings
from tests.action_tokens.helpers import action
from tests.factories import Factory, event


def _c42(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "c42.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def in_process(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI's settings at the test database for in-process calls of `main()`."""
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_create_prints_json_and_the_token_works(
    client: httpx.Client, factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    ann = factory.user()
    ev = event(client, ann)
    done = _c42(
        settings,
        tmp_path,
        "action-token",
        "create",
        ann.email.upper(),
        "--grant",
        f"GET /api/v2/events/{{id}}/ id={ev['id']}",
        "--grant",
        "PATCH  /api/v2/event-subscriptions/{id}",
        "--expires-in",
        "3600",
        "--max-uses",
        "3",
        "--name",
        "from the cli",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert re.fullmatch(r"[0-9a-f]{32}", data["id"])
    assert re.fullmatch(r"[0-9a-f]{40}", data["token"])
    assert data["user_id"] == data["creator_id"] == ann.id
    assert data["max_uses"] == 3 and data["name"] == "from the cli"
    assert data["grants"][1] == {
        "method": "PATCH",
        "route": "/api/v2/event-subscriptions/{id}/",
        "params": {},
    }
    assert "server token" in data["warning"]
    used = client.get(f"/api/v2/events/{ev['id']}/", headers=action(data["token"]))
    assert used.status_code == 200
    assert client.get("/api/v2/events/", headers=action(data["token"])).status_code == 403


@pytest.mark.parametrize(
    ("grant", "extra", "message"),
    [
        ("GET /api/v2/nothing/", [], "Unknown route"),
        ("GET /api/v2/user-tokens/", [], "token endpoints"),
        ("OPTIONS /api/v2/events/{id}/", [], "accepts only"),
        ("GET /api/v2/events/{id}/ id=xyz", [], "32-hex"),
        ("GET /api/v2/events/{id}/ event=" + "a" * 32, [], "no path parameter"),
        ("GET", [], "expected 'METHOD ROUTE"),
        ("GET /api/v2/events/{id}/ id", [], "NAME=VALUE"),
        ("GET /api/v2/events/", ["--max-uses", "0"], "--max-uses"),
        ("GET /api/v2/events/", ["--expires-in", "59"], "--expires-in"),
    ],
    ids=[
        "unknown-route",
        "token-route",
        "options",
        "bad-id",
        "unknown-param",
        "no-route",
        "param-without-value",
        "max-uses-0",
        "expires-too-short",
    ],
)
def test_errors_go_to_stderr_with_non_zero_exit(
    factory: Factory,
    in_process: None,
    capsys: pytest.CaptureFixture[str],
    grant: str,
    extra: list[str],
    message: str,
) -> None:
    ann = factory.user()
    code = main(["action-token", "create", ann.email, "--grant", grant, *extra, "--json"])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert message in err, err


def test_unknown_and_inactive_users_are_refused(
    factory: Factory, in_process: None, capsys: pytest.CaptureFixture[str]
) -> None:
    grant = "GET /api/v2/events/"
    assert main(["action-token", "create", "nobody@example.com", "--grant", grant]) != 0
    assert "No user" in capsys.readouterr().err
    sleeper = factory.user(active=False)
    assert main(["action-token", "create", sleeper.email, "--grant", grant]) != 0
    out, err = capsys.readouterr()
    assert out == "" and "not active" in err
