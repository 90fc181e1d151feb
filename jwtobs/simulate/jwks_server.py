"""The issuers' JWKS endpoints, served over HTTP on 127.0.0.1 (never any other address).

One server thread answers ``GET /<issuer-slug>/jwks.json`` with the document the simulation last published
for that issuer (``Cache-Control: max-age``), ``503`` while the issuer's endpoint is down, ``404`` otherwise.
The simulation thread waits for each response, so what a validator sees depends only on simulated time.

A minimal HTTP/1.0 responder on a plain socket rather than ``http.server``: a simulated day makes a few
thousand fetches and ``BaseHTTPRequestHandler`` doubles their cost (header parsing through ``email``).
"""

from __future__ import annotations

import socket
import threading

__all__ = ["JwksServer"]

_MAX_REQUEST = 16 * 1024
_STATUS = {200: b"200 OK", 404: b"404 Not Found", 503: b"503 Service Unavailable", 400: b"400 Bad Request"}


def _response(status: int, body: bytes, max_age: int) -> bytes:
    ctype = b"application/jwk-set+json" if status == 200 else b"application/json"
    head = (
        b"HTTP/1.0 " + _STATUS[status] + b"\r\nContent-Type: " + ctype
        + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nCache-Control: max-age=" + str(max_age).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    return head + body


class JwksServer:
    """Context manager: ``url(slug)``, ``publish(slug, body)``, ``down(slug, bool)``; counts ``requests``."""

    def __init__(self, max_age: int) -> None:
        self.max_age = int(max_age)
        self.requests = 0
        self._responses: dict[bytes, bytes] = {}  # request path -> full response
        self._bodies: dict[str, bytes] = {}
        self._down: set[str] = set()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="jwtobs-sim-jwks", daemon=True)
        self._not_found = _response(404, b'{"error":"not_found"}', self.max_age)

    def url(self, slug: str) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}/{slug}/jwks.json"

    def _set(self, slug: str) -> None:
        path = f"/{slug}/jwks.json".encode()
        if slug in self._down:
            self._responses[path] = _response(503, b'{"error":"unavailable"}', self.max_age)
        else:
            self._responses[path] = _response(200, self._bodies.get(slug, b'{"keys":[]}'), self.max_age)

    def publish(self, slug: str, body: bytes) -> None:
        self._bodies[slug] = body
        self._set(slug)

    def down(self, slug: str, is_down: bool) -> None:
        if is_down:
            self._down.add(slug)
        else:
            self._down.discard(slug)
        self._set(slug)

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5.0)
                    data = b""
                    while b"\r\n\r\n" not in data and len(data) < _MAX_REQUEST:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    parts = data.split(b" ", 2)
                    self.requests += 1
                    if len(parts) < 3 or parts[0] != b"GET":
                        conn.sendall(_response(400, b"{}", self.max_age))
                    else:
                        conn.sendall(self._responses.get(parts[1], self._not_found))
                except OSError:
                    pass

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self._sock.close()
