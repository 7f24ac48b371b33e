"""One HTTP/1.1 request written byte for byte on a socket, for what an HTTP client refuses to
send: raw non-UTF-8 bytes, control characters, whitespace around header values."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RawAnswer:
    status: int
    head: bytes
    body: bytes


def send(port: int, request: bytes, timeout: float = 10) -> RawAnswer:
    """Send `request` (which should say `Connection: close`) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    assert answer.startswith(b"HTTP/1.1 "), f"no HTTP answer to {request[:300]!r}: {answer[:200]!r}"
    head, _, body = answer.partition(b"\r\n\r\n")
    return RawAnswer(int(head.split(b" ", 2)[1]), head, body)


def request(
    method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]] = (), body: bytes = b""
) -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if body or method == b"POST":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def by_http_server(status: int, body: bytes) -> bool:
    """uvicorn's own refusal of a request it cannot parse (raw bytes above 0x7F or controls in
    the target, a request head past 64 KiB): a plain-text 400 before the app sees anything."""
    return status == 400 and body == b"Invalid HTTP request received."
