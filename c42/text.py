"""The text the service accepts from a request (SPEC §6: bad input is a clear 4xx).

Every string read from a query, a form, a JSON body or a credential is Unicode without
control characters — C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F) — and without
lone surrogates (a JSON `\\ud800` escape decodes to one; no database or encoder takes it).
Only free text in JSON bodies (`multiline=True`: descriptions, messages) may hold TAB, LF and
CR. PostgreSQL refuses NUL in text; the other control characters are refused with it, so
that no stored name, parameter or log line can carry invisible or terminal-controlling text.
Each reader of input applies this rule at its edge and answers its own 4xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROLS = "\x00-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"
_REFUSED = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_REFUSED_IN_FREE_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_SURROGATES}]")


def is_accepted(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` is text the service accepts (see the module docstring)."""
    pattern = _REFUSED_IN_FREE_TEXT if multiline else _REFUSED
    return pattern.search(value) is None


def refused_name(pairs: Iterable[tuple[str, str]]) -> str | None:
    """The name of the first (name, value) pair whose name or value is not accepted text,
    or None when every pair is."""
    for name, value in pairs:
        if not (is_accepted(name) and is_accepted(value)):
            return name
    return None
