"""The DPoP proof check itself (c42.auth.dpop, RFC 9449 §4.3), below HTTP: every rule of §4.3
refuses on its own, htu normalisation (§4.3 (9), RFC 3986 §6.2.2-6.2.3), server nonces (§8),
and the jti replay cache shared through Redis by two "processes" (two caches), falling back to
in-process while Redis is away. The HTTP behaviour is in tests/oauth/test_rfc9449_*.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import signal
import time
import warnings
from collections.abc import Callable, Iterator

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwk
from joserfc.errors import SecurityWarning

from c42.auth.dpop.nonces import SLOT_SECONDS, Nonces
from c42.auth.dpop.proofs import (
    INVALID_PROOF,
    USE_NONCE,
    DPoPError,
    ProofChecker,
    normalise_url,
)
from c42.auth.dpop.replay import ReplayCache
from tests.deployment.services import PrivateRedis
from tests.dpop_helpers import ALGS, Key, ath, b64url, make_key, proof, thumbprint

URL = "https://c42.example/api/v2/events/"
SECRET = "dpop-unit-test-secret-key-0123456789abcdef"


@pytest.fixture
def checker() -> ProofChecker:
    return ProofChecker(SECRET, None, require_nonce=False)


@pytest.fixture(scope="module")
def key() -> Key:
    return make_key("ES256")


def refusal(checker: ProofChecker, value: str, **options: object) -> DPoPError:
    arguments: dict[str, object] = {"method": "GET", "url": URL, **options}
    with pytest.raises(DPoPError) as caught:
        checker.check([value], **arguments)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("alg", ALGS)
def test_every_offered_algorithm_is_accepted_once(checker: ProofChecker, alg: str) -> None:
    key = make_key(alg)
    value = proof(key, "GET", URL)
    assert checker.check([value], method="GET", url=URL).jkt == thumbprint(key)
    assert "already used" in refusal(checker, value).description  # §11.1


def test_ath_binds_the_proof_to_the_access_token(checker: ProofChecker, key: Key) -> None:
    good = proof(key, "GET", URL, ath=ath("the-token"))
    assert checker.check([good], method="GET", url=URL, access_token="the-token")
    for value in (proof(key, "GET", URL), proof(key, "GET", URL, ath=ath("another-token"))):
        assert "ath" in refusal(checker, value, access_token="the-token").description


def _bad_proofs(key: Key) -> dict[str, str]:
    other = make_key("ES256")
    now = time.time()
    return {
        "typ": proof(key, "GET", URL, typ="JWT"),
        "alg none": proof(key, "GET", URL, alg="none"),
        "alg HS256": proof(key, "GET", URL, alg="HS256"),
        "private jwk": proof(key, "GET", URL, jwk_member=key.jwk.as_dict(private=True)),
        "no jwk": proof(key, "GET", URL, header={"jwk": None}),
        "jwk for signing only": proof(
            key, "GET", URL, jwk_member={**key.public, "key_ops": ["sign"]}
        ),
        "jwk for encryption": proof(key, "GET", URL, jwk_member={**key.public, "use": "enc"}),
        "another key's signature": proof(key, "GET", URL, jwk_member=other.public),
        "htm": proof(key, "POST", URL),
        "htm case": proof(key, "get", URL),
        "htu path": proof(key, "GET", URL + "1/"),
        "htu host": proof(key, "GET", "https://evil.example/api/v2/events/"),
        "htu scheme": proof(key, "GET", "http://c42.example/api/v2/events/"),
        "stale iat": proof(key, "GET", URL, iat=now - 120),
        "future iat": proof(key, "GET", URL, iat=now + 60),
        "iat not a number": proof(key, "GET", URL, claims={"iat": "now"}),
        "iat true": proof(key, "GET", URL, claims={"iat": True}),
        "no jti": proof(key, "GET", URL, claims={"jti": None}),
        "jti not text": proof(key, "GET", URL, claims={"jti": 7}),
        "no htu": proof(key, "GET", URL, claims={"htu": None}),
    }


@pytest.mark.parametrize("case", list(_bad_proofs(make_key("ES256"))))
def test_each_rule_refuses_on_its_own(checker: ProofChecker, key: Key, case: str) -> None:
    value = _bad_proofs(key)[case]
    error = refusal(checker, value)
    assert error.code == INVALID_PROOF
    assert value not in error.description  # never echoed


def _with_signature(value: str, encode: Callable[[bytes], str]) -> str:
    """`value` with its signature's bytes encoded by `encode`."""
    head, _, signature = value.rpartition(".")
    return f"{head}.{encode(base64.urlsafe_b64decode(signature + '=' * (-len(signature) % 4)))}"


def _der(raw: bytes) -> str:
    return b64url(encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])))


def test_only_unpadded_base64url_and_raw_ecdsa_signatures(checker: ProofChecker, key: Key) -> None:
    """RFC 7515 §2: base64url without padding, nothing else; RFC 7518 §3.4: an ECDSA signature
    is R || S, not DER. Each variant of a good proof is refused, and the good proof is then
    accepted (no refused variant spent its jti)."""
    good = proof(key, "GET", URL)
    variants = {
        "padded": _with_signature(good, lambda raw: base64.urlsafe_b64encode(raw).decode()),
        "spaced": _with_signature(good, lambda raw: " ".join(b64url(raw))),
        "DER": _with_signature(good, _der),
        "short": _with_signature(good, lambda raw: b64url(raw[:-1])),
        "standard alphabet": _with_signature(
            good, lambda raw: b64url(raw).replace("-", "+").replace("_", "/")
        ),
    }
    for name, value in variants.items():
        if value == good:
            continue  # e.g. a signature with no '-' or '_' to swap
        assert refusal(checker, value).code == INVALID_PROOF, name
    assert checker.check([good], method="GET", url=URL).jkt == thumbprint(key)


def test_short_rsa_keys_and_keys_of_another_curve_are_refused(checker: ProofChecker) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc only warns: we refuse
        short = Key("RS256", jwk.RSAKey.generate_key(1024))
        value = proof(short, "GET", URL)
    assert "2048" in refusal(checker, value).description
    p384 = make_key("ES384").public
    assert refusal(checker, proof(make_key("ES256"), "GET", URL, jwk_member=p384)).code == (
        INVALID_PROOF  # an ES256 proof whose jwk is a P-384 key
    )


@pytest.mark.parametrize(
    "values",
    [[], ["a", "b"], [""], ["not-a-jwt"], ["a.b"], ["a.b.c.d"], ["x" * 9000 + ".a.b"]],
)
def test_header_shapes_are_refused(checker: ProofChecker, values: list[str]) -> None:
    with pytest.raises(DPoPError):
        checker.check(values, method="GET", url=URL)


@given(value=st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_header_text_is_a_refusal_never_a_crash(value: str) -> None:
    with pytest.raises(DPoPError):
        ProofChecker(SECRET, None, require_nonce=False).check([value], method="GET", url=URL)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_ES256 = make_key("ES256")


@given(
    extra=st.dictionaries(
        st.sampled_from(["key_ops", "use", "alg", "kid", "crv", "x", "y", "kty", "ext", "x5c"]),
        _JSON,
        max_size=3,
    )
)
@settings(max_examples=150, deadline=None)
def test_any_jwk_members_on_a_signed_proof_are_an_answer_never_a_crash(
    extra: dict[str, object],
) -> None:
    """A proof signed by its key, with its public JWK's members changed or added: accepted
    (e.g. a harmless kid) or refused with a DPoPError, never another exception (a 500)."""
    value = proof(_ES256, "GET", URL, jwk_member={**_ES256.public, **extra})
    checker = ProofChecker(SECRET, None, require_nonce=False)
    with contextlib.suppress(DPoPError):
        checker.check([value], method="GET", url=URL)


@pytest.mark.parametrize(
    ("sent", "same"),
    [
        ("https://C42.Example/api/v2/events/", True),  # host case
        ("HTTPS://c42.example/api/v2/events/", True),  # scheme case
        ("https://c42.example:443/api/v2/events/", True),  # default port
        ("https://c42.example/api/v2/%65vents/", True),  # unreserved percent-encoded
        ("https://c42.example/api/v2/events/?limit=5#top", True),  # query, fragment ignored
        ("https://c42.example:8443/api/v2/events/", False),
        ("https://c42.example/api/v2/Events/", False),  # the path is case-sensitive
        ("https://c42.example/api/v2/events", False),
        ("https://c42.example/api/v2/x/../events/", False),  # dot segments are not resolved
        ("c42.example/api/v2/events/", False),
        ("ftp://c42.example/api/v2/events/", False),
        ("https://c42.example:99999/", False),
        ("https://someone@c42.example/api/v2/events/", False),  # user information
    ],
)
def test_htu_normalisation(sent: str, same: bool) -> None:
    assert (normalise_url(sent) == normalise_url(URL)) is same
    assert normalise_url("https://[::1]:8042/a%2fb") == "https://[::1]:8042/a%2Fb"


def test_server_nonces(key: Key) -> None:
    checker = ProofChecker(SECRET, None, require_nonce=True)
    assert refusal(checker, proof(key, "GET", URL)).code == USE_NONCE
    nonces = Nonces(SECRET)
    now = time.time()
    assert checker.check([proof(key, "GET", URL, nonce=nonces.current())], method="GET", url=URL)
    previous = nonces.current(now - SLOT_SECONDS)
    assert nonces.valid(previous, now)
    assert not nonces.valid(nonces.current(now - 2 * SLOT_SECONDS), now)
    assert not Nonces("another server secret, another key").valid(nonces.current(now), now)
    for bad in ("x" * 24, "", None, 5):
        assert not nonces.valid(bad, now)
    # A nonce sent without being required is checked all the same (§9).
    lenient = ProofChecker(SECRET, None, require_nonce=False)
    assert refusal(lenient, proof(key, "GET", URL, nonce="y" * 24)).code == USE_NONCE


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


def test_replays_are_refused_across_processes_through_redis(
    private_redis: PrivateRedis, key: Key
) -> None:
    first = ProofChecker(SECRET, private_redis.url, require_nonce=False)
    second = ProofChecker(SECRET, private_redis.url, require_nonce=False)
    second.replays = ReplayCache(private_redis.url)  # its own cache: another process's
    value = proof(key, "GET", URL)
    assert first.check([value], method="GET", url=URL)
    assert "already used" in refusal(second, value).description
    # The same jti under another key is another proof (keys are per thumbprint).
    other = proof(make_key("ES256"), "GET", URL, jti=value and "shared-jti")
    assert second.check([other], method="GET", url=URL)


def test_while_redis_is_away_each_process_still_refuses_its_own_replays(key: Key) -> None:
    redis_server = PrivateRedis()  # started, then gone
    redis_server.start()
    checker = ProofChecker(SECRET, redis_server.url, require_nonce=False)
    redis_server.stop()
    value = proof(key, "GET", URL)
    assert checker.check([value], method="GET", url=URL)  # in-process fallback, no error
    assert "already used" in refusal(checker, value).description


def test_the_api_spends_jtis_in_redis_from_the_event_loop(
    private_redis: PrivateRedis, key: Key
) -> None:
    """The API's path (`check_async`, the SET awaited on the loop with that loop's client) and
    the token endpoint's (`check`, sync) share one cache: a proof spent by either is refused
    by the other, the key is in Redis, and the loop's client is closed at the end."""
    api = ProofChecker(SECRET, private_redis.url, require_nonce=False)
    token_endpoint = ProofChecker(SECRET, private_redis.url, require_nonce=False)
    token_endpoint.replays = ReplayCache(private_redis.url)  # another process's cache
    first, second = proof(key, "GET", URL), proof(key, "GET", URL)

    async def scenario() -> None:
        api.replays.open_loop_client()
        try:
            assert (await api.check_async([first], method="GET", url=URL)).jkt == thumbprint(key)
            assert "already used" in refusal(token_endpoint, first).description
            assert token_endpoint.check([second], method="GET", url=URL)
            with pytest.raises(DPoPError, match="already used"):
                await api.check_async([second], method="GET", url=URL)
        finally:
            await api.replays.close_loop_client()

    asyncio.run(scenario())
    stored = redis.Redis.from_url(private_redis.url).keys("c42:dpop:jti:*")
    assert len(stored) == 2  # one per proof, digests only (no proof content)
    assert all(len(name) == len("c42:dpop:jti:") + 64 for name in stored)
    # A loop the app's lifespan did not open a client for: the sync SET through a thread.
    third = proof(key, "GET", URL)
    assert asyncio.run(api.check_async([third], method="GET", url=URL))
    assert "already used" in refusal(token_endpoint, third).description


@pytest.mark.parametrize("redis_up", [True, False], ids=["redis", "redis-gone"])
def test_concurrent_proofs_on_one_loop_are_each_accepted_once(key: Key, redis_up: bool) -> None:
    """Requests of one loop whose SETs go together in one pipeline (`_LoopSets`): 40 proofs,
    10 of them sent three times at once, each accepted exactly once; with Redis gone mid-run
    too (the batch fails, every request falls back to the in-process cache, none hangs)."""
    redis_server = PrivateRedis()
    redis_server.start()
    checker = ProofChecker(SECRET, redis_server.url, require_nonce=False)
    values = [proof(key, "GET", URL) for _ in range(40)]
    sent = values + values[:10] * 2

    async def one(value: str) -> str | None:
        try:
            await checker.check_async([value], method="GET", url=URL)
        except DPoPError as exc:
            assert "already used" in exc.description
            return None
        return value

    async def scenario() -> list[str | None]:
        checker.replays.open_loop_client()
        try:
            assert await one(proof(key, "GET", URL))  # connected before the burst
            if not redis_up:
                redis_server.stop()
            return await asyncio.wait_for(asyncio.gather(*(one(v) for v in sent)), 10)
        finally:
            await checker.replays.close_loop_client()

    try:
        accepted = [v for v in asyncio.run(scenario()) if v is not None]
        if redis_up:  # all 41 spent in Redis, where the other processes look
            assert len(redis.Redis.from_url(redis_server.url).keys("c42:dpop:jti:*")) == 41
    finally:
        redis_server.stop()
    assert sorted(accepted) == sorted(values)


def test_requests_queued_behind_a_failing_batch_fall_back_without_a_second_timeout(
    key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis hangs (SIGSTOP: connections open, no answer): the batch in flight times out, and
    the requests that queued behind it fall back with the same failure instead of sending
    another batch into the same silence. Every proof is accepted once, in process."""
    redis_server = PrivateRedis()
    redis_server.start()
    checker = ProofChecker(SECRET, redis_server.url, require_nonce=False)
    link = checker.replays._link
    assert link is not None
    failures: list[BaseException] = []
    monkeypatch.setattr(link, "failed", failures.append)
    first, second = ([proof(key, "GET", URL) for _ in range(10)] for _ in range(2))

    async def one(value: str) -> bool:
        return bool(await checker.check_async([value], method="GET", url=URL))

    async def scenario() -> list[bool]:
        checker.replays.open_loop_client()
        try:
            assert await one(proof(key, "GET", URL))  # connected before the hang
            assert redis_server.process is not None
            redis_server.process.send_signal(signal.SIGSTOP)
            in_flight = asyncio.gather(*(one(v) for v in first))
            await asyncio.sleep(0.1)  # the first batch is on the wire, waiting
            queued = asyncio.gather(*(one(v) for v in second))
            return [*(await in_flight), *(await queued)]
        finally:
            await checker.replays.close_loop_client()

    try:
        assert asyncio.run(scenario()) == [True] * 20
    finally:
        if redis_server.process is not None:
            redis_server.process.send_signal(signal.SIGCONT)
        redis_server.stop()
    assert len(failures) == 20 and len({id(exc) for exc in failures}) == 1
    assert isinstance(failures[0], redis.TimeoutError)
    for value in first + second:  # spent in process: replays refused
        assert "already used" in refusal(checker, value).description


def test_while_redis_is_away_the_event_loop_path_refuses_its_own_replays(
    key: Key, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed mid-run: in-process fallback, one warning; restarted on the same port: the
    loop's client reconnects after the back-off and proofs are shared through Redis again."""
    redis_server = PrivateRedis()
    redis_server.start()
    checker = ProofChecker(SECRET, redis_server.url, require_nonce=False)
    link = checker.replays._link
    assert link is not None
    link.retry_seconds = 0.2  # the back-off, shortened for the test (2 s in production)
    values = [proof(key, "GET", URL) for _ in range(5)]

    async def scenario() -> None:
        checker.replays.open_loop_client()
        try:
            assert await checker.check_async([values[0]], method="GET", url=URL)
            redis_server.stop()
            for value in values[1:4]:  # in-process fallback: no error, no wait per request
                assert await checker.check_async([value], method="GET", url=URL)
                with pytest.raises(DPoPError, match="already used"):
                    await checker.check_async([value], method="GET", url=URL)
            redis_server.start()  # empty: a restart without persistence
            await asyncio.sleep(0.3)
            assert await checker.check_async([values[4]], method="GET", url=URL)
        finally:
            await checker.replays.close_loop_client()

    try:
        with caplog.at_level(logging.INFO, logger="c42.redis"):
            asyncio.run(scenario())
        stored = redis.Redis.from_url(redis_server.url).keys("c42:dpop:jti:*")
    finally:
        redis_server.stop()
    assert len(stored) == 1  # the proof after the restart went to Redis again
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("Redis unavailable") and messages[1].startswith("Redis is back")


def test_the_in_process_cache_is_bounded_and_refuses_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("c42.auth.dpop.replay._MAX_LOCAL", 3)
    cache = ReplayCache(None)
    assert all(cache.first_use("k", f"jti-{n}", 60) for n in range(3))
    assert not cache.first_use("k", "jti-new", 60)  # full of live proofs: refuse, never forget
    assert not cache.first_use("k", "jti-0", 60)
    expired = ReplayCache(None)
    assert all(expired.first_use("k", f"jti-{n}", 0) for n in range(3))
    assert expired.first_use("k", "jti-new", 60)  # expired entries make room
