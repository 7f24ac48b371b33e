"""The curl walk-throughs of docs/device-and-dpop.md ("Try it on the demo", device grant and
PAR) run as written against a demo-seeded server: each command of the page's `sh` blocks is
read from the page and carried out by a small interpreter (`curl` as its HTTP request,
`jq -r` as a JSON lookup, `c42 demo --json` in process, `$(openssl ...)` through the shell),
and the person's part (log in, type the code, Allow) is done by a real browser session between
the numbered steps. A changed command, endpoint or answer in the page fails here."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from c42.cli.main import main
from c42.settings import Settings, get_settings
from tests.conftest import LiveServer
from tests.factories import Person
from tests.oauth.helpers import Browser, new_browser, query_of
from tests.oauth.test_rfc8628_device import decide

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-and-dpop.md"
_VARIABLE = re.compile(r"\$([A-Z_][A-Z0-9_]*)")
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


def steps_of(app: str) -> list[list[str]]:
    """The commands of the walk-through of the demo app `app` (the first `sh` block after the
    page names it in bold), split into the numbered steps of its comments (`# 1. ...`); the
    commands before step 1 come first."""
    text = DOC.read_text()
    start = text.index("### Try it on the demo\n\n`make run` (or `c42 demo`) registers a")
    start = text.index(f"**`{app}`**", start)
    block = text[text.index("```sh\n", start) + 6 :]
    block = block[: block.index("```")]
    steps: list[list[str]] = [[]]
    for line in block.splitlines():
        if re.match(r"^# \d+\.", line):
            steps.append([])
        elif line.strip() and not line.startswith("#"):
            steps[-1].append(line)
    return steps


@dataclass
class Terminal:
    """Runs the page's commands: variables, files written by `>`, HTTP over `http`."""

    http: httpx.Client
    c42: Callable[[list[str]], str]
    variables: dict[str, str]
    files: dict[str, Any] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)  # what jq -r and echo print
    answers: list[httpx.Response] = field(default_factory=list)

    def run(self, lines: list[str]) -> list[httpx.Response]:
        before = len(self.answers)
        for line in lines:
            self._one(line)
        return self.answers[before:]

    def _expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            assert match.group(1) in self.variables, f"${match.group(1)} is not set: {text}"
            return self.variables[match.group(1)]

        return _VARIABLE.sub(value, text)

    def _one(self, line: str) -> None:
        assigned = _ASSIGN.match(line)
        if assigned:
            name, value = assigned.groups()
            if name in self.variables and not value.startswith("$("):
                return  # set by the test: the server's address, the code the person copies
            self.variables[name] = self._value(value)
            return
        words = shlex.split(self._expand(line))
        if words[:3] == ["c42", "demo", "--json"] and words[3:4] == [">"]:
            self.files[words[4]] = json.loads(self.c42(["demo", "--json"]))
        elif words[:2] == ["jq", "-r"]:
            shown = self._jq(words[2], words[3])
            assert shown, line
            self.shown.append(shown)
        elif words[0] == "echo":
            self.shown.append(" ".join(words[1:]))
        elif words[0] == "curl":
            self._curl(words[1:])
        else:
            raise AssertionError(f"the walk-through has a command this test does not know: {line}")

    def _value(self, value: str) -> str:
        if not value.startswith("$("):
            assert "paste" not in value, f"the test must set this: {value}"
            return value
        command = value[2:-1]
        words = shlex.split(command)
        if words[:2] == ["jq", "-r"]:
            return self._jq(words[2], words[3])
        assert words[0] in ("openssl", "printf"), command
        assert shutil.which("openssl"), "openssl is not installed"
        done = subprocess.run(
            ["bash", "-c", command],
            env={"PATH": "/usr/bin:/bin", **self.variables},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    def _jq(self, path: str, file: str) -> str:
        found: Any = self.files[file]
        for key in path.strip(".").split("."):
            found = found[key]
        return str(found)

    def _curl(self, words: list[str]) -> None:
        data: list[str] = []
        headers: dict[str, str] = {}
        url, target = "", None
        pending = iter(words)
        for word in pending:
            if word == "-s":
                continue
            if word == "-d":
                data.append(next(pending))
            elif word == "-H":
                name, value = next(pending).split(":", 1)
                headers[name] = value.strip()
            elif word == "-u":
                pair = next(pending).encode()  # curl -u: HTTP Basic of user:password as given
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            elif word in ("-o", "-w"):
                next(pending)  # the status is what the test checks
            elif word == ">":
                target = next(pending)
            else:
                assert not word.startswith("-"), f"curl option not known here: {word}"
                url = word
        if data:  # curl -d: the bytes as given, form-encoded content type, POST
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            answer = self.http.post(url, content="&".join(data), headers=headers)
        else:
            answer = self.http.get(url, headers=headers)
        if target is not None:
            self.files[target] = answer.json()
        self.answers.append(answer)


@pytest.fixture
def c42(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[list[str]], str]]:
    monkeypatch.setenv("C42_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("C42_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()

    def run(args: list[str]) -> str:
        capsys.readouterr()
        assert main(args) == 0
        return capsys.readouterr().out

    yield run
    get_settings.cache_clear()


@pytest.fixture
def terminal(server: LiveServer, c42: Callable[[list[str]], str]) -> Iterator[Terminal]:
    with httpx.Client(timeout=30) as http:  # curl: no cookies kept, no redirects followed
        yield Terminal(http, c42, {"C42": server.url})


def _demo_browser(server: LiveServer, terminal: Terminal) -> Browser:
    user = terminal.files["demo.json"]["user"]
    browser = new_browser(server.url)
    browser.login(Person(user["id"], user["email"], user["token"], user["password"]))
    return browser


def test_device_grant_walkthrough(server: LiveServer, terminal: Terminal) -> None:
    preamble, asked, pending, tokens, used = steps_of("device")
    terminal.run(preamble)
    assert (
        terminal.variables["CLIENT_ID"]
        == terminal.files["demo.json"]["apps"]["device"]["client_id"]
    )

    [answer] = terminal.run(asked)
    assert answer.status_code == 200, answer.text
    user_code = terminal.files["device.json"]["user_code"]
    assert terminal.shown[-2:] == [user_code, terminal.files["device.json"]["verification_uri"]]

    [answer] = terminal.run(pending)
    assert answer.status_code == 400 and answer.json()["error"] == "authorization_pending"

    browser = _demo_browser(server, terminal)  # the person, on their phone
    try:
        assert decide(browser, user_code, "allow").status_code == 200
    finally:
        browser.http.close()

    token, calendars = terminal.run(tokens)
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer" and token.json()["scope"] == "service.read"
    assert calendars.status_code == 200, calendars.text
    assert [c["name"] for c in calendars.json()["data"]] == ["Team"]  # the demo service's

    [answer] = terminal.run(used)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_par_walkthrough(server: LiveServer, terminal: Terminal) -> None:
    preamble, refused, push, redeem, used = steps_of("par")
    terminal.run(preamble)
    demo_par = terminal.files["demo.json"]["apps"]["par"]
    assert terminal.variables["CLIENT_SECRET"] == demo_par["client_secret"]
    verifier = terminal.variables["VERIFIER"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert terminal.variables["CHALLENGE"] == challenge.decode()  # RFC 7636 §4.2, S256

    [answer] = terminal.run(refused)
    assert answer.status_code == 400 and "location" not in answer.headers

    [answer] = terminal.run(push)
    assert answer.status_code == 201, answer.text
    address = terminal.shown[-1]
    assert address.startswith(f"{server.url}/oauth2/authorize/?client_id=")

    browser = _demo_browser(server, terminal)  # the person, in a browser
    try:
        page = browser.http.get(address)
        if page.status_code == 200:  # not asked again once a confidential app was allowed
            page = browser.consent(page, "allow")
        assert page.status_code == 302, page.text
        location = page.headers["location"]
    finally:
        browser.http.close()
    assert location.startswith("http://localhost:8080/par/?")
    query = query_of(location)
    assert query["state"] == "demo-state"
    terminal.variables["CODE"] = query["code"]  # copied from the address bar

    token, calendars = terminal.run(redeem)
    assert token.status_code == 200, token.text
    assert calendars.status_code == 200, calendars.text
    assert [c["name"] for c in calendars.json()["data"]] == ["Team"]

    [answer] = terminal.run(used)
    assert answer.status_code == 400
