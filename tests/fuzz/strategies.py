"""Hypothesis strategies for hostile request input: parameter values with control characters,
NUL, non-ASCII text and digits, very long values; parameter lists with known and random names,
dropped, replaced and repeated parameters; random Authorization headers."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from hypothesis import strategies as st

# Characters that have broken parsers before: quoting and escaping, TAB, DEL, NUL, CR/LF,
# non-ASCII letters and digits (Arabic-Indic, fullwidth), a right-to-left override, the
# replacement character, and an astral-plane emoji.
NASTY = ('"', "\\", "\t", "\x7f", "\x00", "\r\n", "é", "\u0663", "\uff11", "\u202e", "\ufffd", "😀")
_LONG_UNITS = ("a", "é", "%", "\x00", "+", "&")
_HEADER_BYTES = bytes([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])  # what h11 sends


def long_values() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, count: unit * count, st.sampled_from(_LONG_UNITS), st.integers(500, 4000)
    )


def values(known: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Any text a parameter could carry, the known good values and those with junk added."""
    junk = st.one_of(
        st.text(max_size=24),
        st.sampled_from(NASTY),
        st.lists(st.sampled_from(NASTY), min_size=1, max_size=6).map("".join),
    )
    junk = st.one_of(junk, junk, junk, long_values())
    if not known:
        return junk
    good = st.sampled_from(list(known))
    spoiled = st.builds(
        lambda value, extra, front: extra + value if front else value + extra,
        good,
        junk,
        st.booleans(),
    )
    return st.one_of(good, good, spoiled, junk)


def names(known: Sequence[str]) -> st.SearchStrategy[str]:
    random_names = st.text(max_size=12)
    return st.one_of(st.sampled_from(list(known)), random_names) if known else random_names


@st.composite
def params(
    draw: st.DrawFn,
    base: Sequence[tuple[str, str]],
    known_values: Sequence[str],
    extra_names: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """`base` (a request the endpoint accepts) with a few of its parameters dropped, given a
    hostile value or repeated, and a few random parameters added (known names and random
    ones), in any order. Few changes at a time, so that most cases get past the first check;
    shrinking leads back to `base`."""
    pairs = list(base)
    known_names = [name for name, _ in base] + list(extra_names)
    edited: list[int] = []
    if pairs and draw(st.booleans()):
        edited = draw(st.lists(st.integers(0, len(pairs) - 1), min_size=1, max_size=3))
    for index in edited:
        name, value = pairs[index]
        change = draw(st.sampled_from(("value", "drop", "repeat")))
        if change == "value":
            pairs[index] = (name, draw(values(known_values)))
        elif change == "drop":
            pairs[index] = ("", "")  # dropped below; indices stay valid
        else:
            pairs.append((name, draw(st.one_of(st.just(value), values(known_values)))))
    pairs = [pair for pair in pairs if pair != ("", "")]
    if draw(st.booleans()):
        extra = st.tuples(names(known_names), values(known_values))
        pairs += draw(st.lists(extra, min_size=1, max_size=3))
    if draw(st.booleans()):
        pairs = list(draw(st.permutations(pairs)))
    return pairs


def _basic(user_pass: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user_pass)


def header_safe(raw: bytes) -> bytes:
    """`raw` without what an HTTP client refuses to send in a header value (controls but TAB,
    surrounding blanks); the raw socket cases send those."""
    return bytes(b for b in raw if b in _HEADER_BYTES).strip(b" \t")


def header_values() -> st.SearchStrategy[bytes]:
    return st.binary(max_size=80).map(header_safe)


def authorization(client_ids: Sequence[str], secrets: Sequence[str]) -> st.SearchStrategy:
    """None (no header) or an Authorization value: Basic with random bytes or with known and
    spoiled client credentials, Bearer junk, a random scheme."""
    text_bytes = values([*client_ids, *secrets]).map(lambda t: t.encode())
    pair = st.builds(
        lambda user, password, sep: user + sep + password,
        text_bytes,
        text_bytes,
        st.sampled_from((b":", b"::", b"", b"%3A")),
    )
    spelled = st.one_of(
        st.binary(max_size=64).map(_basic),
        pair.map(_basic),
        header_values().map(lambda junk: b"Bearer " + junk),
        header_values(),
        st.sampled_from((b"Basic", b"Basic  ", b"Basic ===", b"basic Og==", b"Basic Og==")),
    )
    return st.one_of(st.none(), spelled.map(header_safe))
