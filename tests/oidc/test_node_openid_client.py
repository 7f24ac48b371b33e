"""A second, strict relying party: Node's `openid-client` (installed into var/node_modules by
`make node-deps`, which `make test` runs), driven step by step by tests/oidc/node_rp.mjs:
discovery, code + PKCE + nonce + state, id_token validation, UserInfo, refresh, a key
rotation between two logins, RP-initiated logout. Skipped without node or the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c42.auth.oidc import keys
from c42.db import Database
from c42.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factory, Person
from tests.oauth.helpers import _HIDDEN, PASSWORD, App, Browser, make_app, new_browser

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "var" / "node_modules"
SCRIPT = Path(__file__).with_name("node_rp.mjs")
LOGGED_OUT = "https://client.example/logged-out"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_MODULES / "openid-client").is_dir(),
    reason="node or openid-client missing (make node-deps)",
)


class NodeRP:
    """The openid-client relying party process; each call is one step."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"C42_NODE_MODULES": str(NODE_MODULES), "PATH": "/usr/bin:/bin"},
        )

    def __call__(self, op: str, **values: Any) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"op": op, **values}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(self.process.stderr.read() if self.process.stderr else "")
        answer: dict[str, Any] = json.loads(line)
        assert "error" not in answer, (op, answer)
        return answer

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def node_rp() -> Iterator[NodeRP]:
    rp = NodeRP()
    yield rp
    rp.close()


@pytest.fixture
def rp_app(db: Database, settings: Settings, service_id: str) -> App:
    return make_app(db, settings, service_id, post_logout_redirect_uris=[LOGGED_OUT])


@pytest.fixture
def lin(server: LiveServer, factory: Factory) -> Iterator[tuple[Person, Browser]]:
    person = factory.user(password=PASSWORD, first_name="Lin", last_name="Hua")
    browser = new_browser(server.url)
    browser.login(person)
    yield person, browser
    browser.http.close()


def _log_in_with(rp: NodeRP, browser: Browser, app: App, scope: str) -> dict[str, Any]:
    url = rp("authorize", redirect_uri=app.redirect_uri, scope=scope)["url"]
    answer = browser.http.get(url)
    if answer.status_code == 200:
        answer = browser.consent(answer, "allow")
    assert answer.status_code == 302, answer.text
    return rp("callback", url=answer.headers["location"])


def test_openid_client_relying_party(
    server: LiveServer,
    db: Database,
    settings: Settings,
    node_rp: NodeRP,
    lin: tuple[Person, Browser],
    rp_app: App,
) -> None:
    person, browser = lin
    discovered = node_rp(
        "discover",
        issuer=server.url,
        client_id=rp_app.client_id,
        client_secret=rp_app.client_secret,
    )
    assert discovered["issuer"] == server.url
    # A key published now signs a few seconds later (c42 keys rotate; ACTIVATION_SECONDS in
    # production): the RP's copy of the JWKS, fetched at the first login, already has it.
    with db.session() as session:
        upcoming = keys.create(session, settings.resolved_secret_key(), "ES256", activate_in=4)
        upcoming_kid = upcoming.kid
    first = _log_in_with(node_rp, browser, rp_app, "openid profile email")
    claims = first["claims"]
    assert claims["sub"] == person.id and claims["email"] == person.email
    assert claims["name"] == "Lin Hua" and claims["aud"] == rp_app.client_id
    info = node_rp("userinfo")
    assert info["sub"] == person.id and info["given_name"] == "Lin"
    refreshed = node_rp("refresh")["claims"]
    assert refreshed["auth_time"] == claims["auth_time"]
    time.sleep(4.5)  # the new key signs from now on
    second = _log_in_with(node_rp, browser, rp_app, "openid email")
    assert second["claims"]["sub"] == person.id
    assert "name" not in second["claims"]
    with db.session(write=False) as session:
        signing = keys.signing_kid(keys.live(session))
    assert signing == upcoming_kid  # and openid-client verified its signature
    # RP-initiated logout with the library's end-session URL.
    logout = node_rp("logout", post_logout_redirect_uri=LOGGED_OUT)
    page = browser.http.get(logout["url"])
    assert page.status_code == 200, page.text
    form = dict(_HIDDEN.findall(page.text))
    done = browser.http.post("/oauth2/logout/", data=form)
    assert done.status_code == 303
    assert done.headers["location"] == f"{LOGGED_OUT}?state={logout['state']}"
    assert browser.http.get("/accounts/").status_code != 200  # logged out
