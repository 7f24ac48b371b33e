"""The API fuzzed through its own OpenAPI document (issue 10): Schemathesis generates valid and
invalid requests for every documented operation, sent with each kind of credential to the live
server. Whatever it sends: no 5xx; every 4xx is JSON in the C42 error envelope (SPEC §4) and
wrote nothing.

Every answer must also be one the document tells (c42/resources/openapi.py): a documented
status code, the documented content type and a body of the documented schema (the envelope,
or the error envelope) - so the document cannot claim less, or other, than the API does.
Path ids are sometimes those of real objects, and bodies sometimes a valid body with generated
fields laid over it, so that the cases reach past "not found" and "field required".
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from c42.db import Database
from tests.conftest import LiveServer
from tests.fuzz.bounds import FUZZ_MARKS, budget
from tests.fuzz.conftest import FuzzWorld, People
from tests.fuzz.raw import by_http_server
from tests.fuzz.strategies import authorization, header_safe, values
from tests.resources.checks import fingerprint

pytestmark = FUZZ_MARKS

# Generated cases per operation and generation mode (valid / invalid data), per credential.
EXAMPLES = {"user": 10, "action": 3, "bearer": 3, "none": 2}
CHECKS = [
    not_a_server_error,
    status_code_conformance,  # no undocumented status
    content_type_conformance,  # no undocumented content type
    response_schema_conformance,  # every documented response conforms
]
DOCUMENTED_OPERATIONS = 30  # the document lists at least these; fewer means a lost route


@pytest.fixture(scope="session")
def api_schema(server: LiveServer) -> Any:
    config = schemathesis.Config.from_dict(
        {"seed": 42, "generation": {"deterministic": True, "database": "none"}}
    )
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", config=config)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_api_never_answers_5xx(
    kind: str, api_schema: Any, fuzz_world: FuzzWorld, db: Database
) -> None:
    loaded = list(api_schema.get_all_operations())
    operations = [result.ok() for result in loaded]  # raises on an operation it cannot read
    assert len(operations) >= DOCUMENTED_OPERATIONS
    failures: list[str] = []
    with requests.Session() as session:
        sender = _Sender(fuzz_world, kind, db, session)
        for operation in operations:
            for mode in _modes(operation):
                try:
                    sender.fuzz(operation, mode, EXAMPLES[kind])
                except Unsatisfiable:
                    # Nothing in this operation's document can be made invalid: the valid
                    # cases cover it.
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (AssertionError, FailureGroup) as exc:  # a 5xx, a bad envelope, a write
                    failures.append(f"{operation.label} ({mode.value}, {kind}): {exc}")
    assert not failures, "\n\n".join(failures)


def _modes(operation: Any) -> list[GenerationMode]:
    """Invalid data needs something with a constraint: a body or a query parameter. (A free
    string in the path cannot be made invalid; the valid cases already send any string.)"""
    locations = {parameter.location for parameter in operation.iter_parameters()}
    if operation.get_request_payload_content_types() or "query" in locations:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


class _Sender:
    def __init__(
        self, world: FuzzWorld, kind: str, db: Database, session: requests.Session
    ) -> None:
        self.world = world
        self.headers = world.people.credentials[kind]
        self.db = db
        self.session = session

    def fuzz(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        @given(case=operation.as_strategy(mode), data=st.data())
        @settings(budget(examples))
        def run(case: Any, data: st.DataObject) -> None:
            self.steer(case, data)
            before = fingerprint(self.db)
            response = case.call(session=self.session, headers=self.headers, timeout=30)
            reproducer = case.as_curl_command(headers=self.headers)
            case.validate_response(response, checks=CHECKS)
            if 400 <= response.status_code < 500:
                content_type = response.headers.get("content-type", [""])[0]  # lower-case names
                _assert_error_envelope(
                    response.status_code, content_type, response.text, reproducer
                )
                assert fingerprint(self.db) == before, f"a refused request wrote: {reproducer}"

        run()

    def steer(self, case: Any, data: st.DataObject) -> None:
        """Now and then a real object's id, or a valid body under the generated fields."""
        if "id" in case.path_parameters:
            real = self.world.ids.get(case.path.split("{")[0], [])
            if real and data.draw(st.booleans(), label="real id"):
                case.path_parameters["id"] = data.draw(st.sampled_from(real), label="id")
        valid = self.world.valid_bodies.get(f"{case.method.upper()} {case.path}")
        generated = case.body
        if valid and isinstance(generated, dict) and data.draw(st.booleans(), label="valid"):
            keep = data.draw(st.sets(st.sampled_from(sorted(generated) or [""])), label="keep")
            case.body = {**valid, **{k: v for k, v in generated.items() if k in keep}}


def test_api_credentials_never_5xx(server: LiveServer, fuzz_people: People) -> None:
    """Random Authorization headers (every scheme, spoiled real tokens, random bytes) and
    `access_token` query values: 401/400 in the envelope, or the real owner's answer."""
    tokens = [
        headers["Authorization"].split(" ", 1)[1]
        for headers in fuzz_people.credentials.values()
        if headers
    ]
    schemes = st.sampled_from(("Token", "token", "ActionToken", "Bearer", "BEARER", "Basic", ""))
    scheme_and_value = st.builds(
        lambda scheme, value, gap: scheme.encode() + gap + value.encode(),
        schemes,
        values(tokens),
        st.sampled_from((b" ", b"  ", b"\t", b"")),
    )
    header = st.one_of(scheme_and_value.map(header_safe), authorization(tokens, tokens))
    query = st.lists(st.tuples(st.just("access_token"), values(tokens)), max_size=3)

    with httpx.Client(base_url=server.url, timeout=30) as http:

        @given(header=header, query=query, path=st.sampled_from(CREDENTIAL_PATHS))
        @settings(budget(60))
        def run(header: bytes | None, query: list[tuple[str, str]], path: str) -> None:
            headers = {"Authorization": header} if header is not None else {}
            answer = http.get(path, params=query, headers=headers)
            where = f"GET {path}?{urlencode(query)[:1500]} Authorization: {header!r}"
            assert answer.status_code < 500, where
            if answer.status_code >= 400 and not by_http_server(answer.status_code, answer.content):
                content_type = answer.headers.get("content-type", "")
                _assert_error_envelope(answer.status_code, content_type, answer.text, where)

        run()


CREDENTIAL_PATHS = ("/api/v2/events/", "/api/v2/calendars/", "/api/v2/user-tokens/")


def _assert_error_envelope(status: int, content_type: str, text: str, where: str) -> None:
    """SPEC §4: {"error": {"status_code", "code", "message"}} as JSON."""
    where = f"{status} {text[:300]!r} for {where}"
    assert content_type.startswith("application/json"), where
    body = json.loads(text)
    assert isinstance(body, dict) and set(body) == {"error"}, where
    error = body["error"]
    assert error.get("status_code") == status, where
    assert isinstance(error.get("code"), str) and error["code"], where
    assert isinstance(error.get("message"), str) and error["message"], where
