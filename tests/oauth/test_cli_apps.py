"""`c42 app create` and the demo's apps against the test database, then used against the live
server. One test runs the installed console script; the others call the same `main()`
in-process (a fresh interpreter costs seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from c42.cli.main import main
from c42.settings import Settings, get_settings
from tests.oauth.helpers import App, Browser, exchange, pkce

C42 = str(Path(sys.executable).parent / "c42")


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "C42_DATABASE_URL": settings.database_url,
        "C42_SECRET_KEY": settings.secret_key,
    }
    return subprocess.run(
        [C42, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """`c42 ...` through `c42.cli.main.main`, with the test database's settings."""
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["c42", *args], code, out, err)

    yield run
    get_settings.cache_clear()


def test_create_confidential_app_and_use_it(
    settings: Settings, service_id: str, browser: Browser, client: httpx.Client
) -> None:
    created = _json(
        _run(
            settings,
            "app", "create", "--service", service_id, "--name", "CLI web",
            "--redirect-uri", "https://cli.example/cb", "--redirect-uri", "https://cli.example/2",
            "--json",
        )
    )  # fmt: skip
    assert set(created) == {"client_id", "client_secret", "service_id"}
    assert created["service_id"] == service_id and created["client_secret"]
    app = App("", created["client_id"], created["client_secret"], service_id,
              ["https://cli.example/cb"])  # fmt: skip
    answer = exchange(client, app, browser.code(app))
    assert answer.status_code == 200, answer.text


def test_create_public_app(
    cli: Callable[..., Any], service_id: str, browser: Browser, client: httpx.Client
) -> None:
    created = _json(
        cli(
            "app", "create", "--service", service_id, "--name", "CLI native", "--public",
            "--redirect-uri", "http://127.0.0.1/cb", "--cors-origin", "https://cli.example",
            "--json",
        )
    )  # fmt: skip
    assert created["client_secret"] is None
    app = App("", created["client_id"], None, service_id, ["http://127.0.0.1:9999/cb"])
    verifier, challenge = pkce()
    answer = exchange(client, app, browser.code(app, challenge=challenge), verifier)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--public", "--silent"], "Only confidential apps"),
        (["--cors-origin", "https://x.example"], "CORS origins are for public"),
        (["--redirect-uri", "http://plain.example/cb"], "plain http"),
        (["--redirect-uri", "https://x.example/cb#frag"], "fragment"),
    ],
    ids=["public-silent", "confidential-cors", "plain-http", "fragment"],
)
def test_refusals(cli: Callable[..., Any], service_id: str, extra: list[str], message: str) -> None:
    args = ["app", "create", "--service", service_id, "--name", "Bad"]
    if "--redirect-uri" not in extra:
        args += ["--redirect-uri", "https://x.example/cb"]
    result = cli(*args, *extra)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_service(cli: Callable[..., Any]) -> None:
    result = cli(
        "app", "create", "--service", "nope", "--name", "X",
        "--redirect-uri", "https://x.example/cb",
    )  # fmt: skip
    assert result.returncode != 0 and "No service" in result.stderr


def test_demo_apps_are_stable_and_work(
    cli: Callable[..., Any], server: Any, client: httpx.Client
) -> None:
    first = _json(cli("demo", "--json"))
    second = _json(cli("demo", "--json"))
    assert first["apps"] == second["apps"]  # reruns print the same working values
    apps = first["apps"]
    assert set(apps["web"]) == {"client_id", "client_secret", "redirect_uris"}
    assert "http://localhost:8080/code/" in apps["web"]["redirect_uris"]
    assert set(apps["native"]) == {"client_id", "redirect_uris"}
    assert "http://127.0.0.1/callback" in apps["native"]["redirect_uris"]
    assert set(apps["silent"]) == {"client_id", "client_secret", "redirect_uris"}
    # The demo's web app and its printed secret work against the server.
    b = Browser(httpx.Client(base_url=server.url, follow_redirects=False, timeout=30))
    b.login(
        type("P", (), {"email": first["user"]["email"], "password": first["user"]["password"]})()
    )  # type: ignore[arg-type]
    web = App("", apps["web"]["client_id"], apps["web"]["client_secret"], first["service"]["id"],
              ["http://localhost:8080/code/"])  # fmt: skip
    answer = exchange(client, web, b.code(web))
    assert answer.status_code == 200, answer.text
    calendars = client.get(
        "/api/v2/calendars/", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    ).json()["data"]
    assert [c["name"] for c in calendars] == ["Team"]  # only the demo service's calendar
    b.http.close()


def _preflight_allows(client: httpx.Client, origin: str) -> bool:
    answer = client.options(
        "/api/v2/events/",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    return answer.headers.get("access-control-allow-origin") == origin


def _eventually(check: Callable[[], bool]) -> bool:
    """Origins are re-read within the credential cache time (1 s)."""
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_update_origins_and_show(
    cli: Callable[..., Any], service_id: str, client: httpx.Client
) -> None:
    created = _json(
        cli(
            "app", "create", "--service", service_id, "--name", "CLI spa", "--public",
            "--redirect-uri", "https://old-spa.example/cb", "--origin", "https://Old-Spa.example",
            "--json",
        )
    )  # fmt: skip
    client_id = created["client_id"]
    assert _eventually(lambda: _preflight_allows(client, "https://old-spa.example"))

    updated = _json(
        cli(
            "app", "update", client_id, "--name", "CLI spa 2",
            "--origin", "https://new-spa.example:443/", "--origin", "http://127.0.0.1:5173",
            "--json",
        )
    )  # fmt: skip
    assert updated["origins"] == ["https://new-spa.example", "http://127.0.0.1:5173"]
    assert updated["name"] == "CLI spa 2"
    assert updated["redirect_uris"] == ["https://old-spa.example/cb"]  # not given: kept
    assert _eventually(lambda: _preflight_allows(client, "https://new-spa.example"))
    assert _eventually(lambda: not _preflight_allows(client, "https://old-spa.example"))

    shown = _json(cli("app", "show", client_id, "--json"))
    assert shown == updated
    assert "secret" not in json.dumps(shown)

    cleared = _json(cli("app", "update", client_id, "--no-origins", "--json"))
    assert cleared["origins"] == []
    assert _eventually(lambda: not _preflight_allows(client, "https://new-spa.example"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--origin", "https://*.example"], "wildcard"),
        (["--origin", "http://plain.example"], "loopback"),
        (["--origin", "https://spa.example/app"], "no path"),
        (["--redirect-uri", "http://plain.example/cb"], "plain http"),
    ],
    ids=["wildcard", "plain-http-origin", "path", "plain-http-redirect"],
)
def test_update_refusals_change_nothing(
    cli: Callable[..., Any], service_id: str, args: list[str], message: str
) -> None:
    created = _json(
        cli(
            "app", "create", "--service", service_id, "--name", "CLI spa", "--public",
            "--redirect-uri", "https://spa.example/cb", "--origin", "https://spa.example",
            "--json",
        )
    )  # fmt: skip
    result = cli("app", "update", created["client_id"], *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""
    shown = _json(cli("app", "show", created["client_id"], "--json"))
    assert shown["origins"] == ["https://spa.example"]
    assert shown["redirect_uris"] == ["https://spa.example/cb"]


def test_update_unknown_app(cli: Callable[..., Any]) -> None:
    result = cli("app", "update", "no-such-client", "--name", "X")
    assert result.returncode == 1 and "No app" in result.stderr  # not found: 1, usage: 2
    assert cli("app", "show", "no-such-client").returncode == 1


def test_disable_and_enable(
    cli: Callable[..., Any], service_id: str, browser: Browser, client: httpx.Client
) -> None:
    """A disabled app is no client anywhere: its tokens are refused, the token and authorize
    endpoints do not know it, its origin gets no CORS; enabling brings it back."""
    origin = "https://disabled-spa.example"
    created = _json(
        cli(
            "app", "create", "--service", service_id, "--name", "CLI disabled", "--public",
            "--redirect-uri", "http://127.0.0.1/cb", "--origin", origin, "--json",
        )
    )  # fmt: skip
    app = App("", created["client_id"], None, service_id, ["http://127.0.0.1:9999/cb"])
    verifier, challenge = pkce()
    tokens = exchange(client, app, browser.code(app, challenge=challenge), verifier).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v2/events/", headers=bearer).status_code == 200
    assert _eventually(lambda: _preflight_allows(client, origin))

    shown = _json(cli("app", "disable", created["client_id"], "--json"))
    assert shown["disabled"] is True
    assert _eventually(lambda: client.get("/api/v2/events/", headers=bearer).status_code == 401)
    assert _eventually(lambda: not _preflight_allows(client, origin))
    refreshed = client.post(
        "/oauth2/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
        },
    )
    # RFC 6749 §5.2: invalid_client (401 only when the client used the Authorization header)
    assert refreshed.status_code in (400, 401), refreshed.text
    assert refreshed.json()["error"] == "invalid_client"
    _, challenge = pkce()
    authorize = browser.authorize(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    assert authorize.status_code == 400 and "location" not in authorize.headers  # no redirect

    assert _json(cli("app", "enable", created["client_id"], "--json"))["disabled"] is False
    assert _eventually(lambda: client.get("/api/v2/events/", headers=bearer).status_code == 200)
    assert _eventually(lambda: _preflight_allows(client, origin))
