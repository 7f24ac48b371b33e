"""Authlib's request and response shapes built from plain values (no web framework here).

The HTTP adapter (`c42.web.oauth_adapter`) reads the Starlette request — in async code — and
hands these plain values to a worker thread, where Authlib runs synchronously.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request

from c42.auth.dpop.proofs import Proof

Pairs = Iterable[tuple[str, str]]


class Params(dict[str, str]):
    """First value per name (what Authlib reads with `.get`), plus every value per name."""

    def __init__(self, pairs: Pairs) -> None:
        super().__init__()
        self.lists: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            self.lists[name].append(value)
            self.setdefault(name, value)

    def repeated(self) -> list[str]:
        return sorted(name for name, values in self.lists.items() if len(values) > 1)


class _Headers(dict[str, str]):
    """Case-insensitive header look-up (RFC 9110 §5.1); `getlist` sees every copy of a header
    sent more than once (a Starlette `Headers` lists each one in `items()`)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__()
        self._lists: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in headers.items():
            self._lists[name.lower()].append(value)
            self[name.lower()] = value

    def getlist(self, name: str) -> list[str]:
        return list(self._lists.get(name.lower(), ()))

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class _Payload(OAuth2Payload):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, params: Params) -> None:
        self._params = params

    @property
    def data(self) -> Params:
        return self._params

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._params.lists


class OAuthRequest(OAuth2Request):  # type: ignore[misc]  # Authlib is untyped
    """`payload` holds the protocol parameters (the query of a GET authorize; the form of a
    consent POST; the body of a token-endpoint POST — RFC 6749 §3.2 forbids the query there).
    """

    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], payload: Pairs, form: Pairs = ()
    ) -> None:
        super().__init__(method, uri, headers=_Headers(headers))  # refuses non-TLS, non-loopback
        self.payload = _Payload(Params(payload))
        self._form = Params(form)
        self.dpop: Proof | None = None  # RFC 9449: the checked DPoP proof (c42.auth.oauth.dpop)

    @property
    def args(self) -> Params:
        return self.payload.data

    @property
    def form(self) -> Params:
        return self._form


@dataclass
class OAuthResponse:
    """What Authlib answers: status, JSON body (a dict) or empty, and headers."""

    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == "location":
                return value
        return None

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(n, v) for n, v in self.headers if n.lower() != "location"]
        self.headers.append(("Location", value))
