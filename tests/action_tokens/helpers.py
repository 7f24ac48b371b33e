"""Helpers for the Action Token tests: create tokens over HTTP, send raw requests."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.factories import Person

BASE = "/api/v2/action-tokens/"
EVENT = "/api/v2/events/{id}/"
EVENTS = "/api/v2/events/"
ESUB = "/api/v2/event-subscriptions/{id}/"


def grant(method: str, route: str, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = {"method": method, "route": route}
    if params:
        body["params"] = params
    return body


def create_token(
    client: httpx.Client, creator: Person, grants: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    """POST /api/v2/action-tokens/ and return the created object (asserting a 201)."""
    response = client.post(BASE, json={"grants": grants, **fields}, headers=creator.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"][0]
    return data


def action(token: str) -> dict[str, str]:
    return {"Authorization": f"ActionToken {token}"}


def error_code(response: httpx.Response) -> str:
    """The C42 error envelope's code (asserting the envelope's shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status_code"] == response.status_code, body
    code: str = body["error"]["code"]
    return code


def raw_request(
    base_url: str, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """Send one request line exactly as written (no client-side normalisation of the path)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def raw_body(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]
