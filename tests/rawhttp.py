"""Hand-written HTTP/1.1 over a plain socket, for requests an HTTP client library refuses to
send (control characters or non-UTF-8 bytes in the request line, huge headers). Reads each
answer by its Content-Length, so that a test can go on using the same connection and show
that the server neither reset nor dropped it."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last copy of a repeated header
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> RawResponse:
        """Send `data` and read one response (a ConnectionResetError fails the test)."""
        self.sock.sendall(data)
        return self.read_response()

    def read_response(self) -> RawResponse:
        head = self._read_until(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, headers, body)

    def closed_cleanly(self) -> bool:
        """True when the server closed the connection with a FIN (no reset, nothing more)."""
        try:
            return self.sock.recv(1) == b"" and not self.buffer
        except ConnectionResetError:
            return False

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += chunk


def request(
    target: bytes,
    *,
    method: bytes = b"GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> bytes:
    """The bytes of one HTTP/1.1 request, exactly as given (nothing is encoded or checked)."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers or []]
    if body or method == b"POST":
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
