"""A misbehaving JWKS endpoint on 127.0.0.1, written on a raw socket so it can break HTTP in the ways
``http.server`` cannot: truncated chunked bodies, 101 headers, a 70 KB header line, a garbled status line,
a status line and headers dripped one byte at a time, a dripped body, HTML, 500, a redirect loop, a TCP
reset, and a server that takes the connection but does not answer.

Every loop is bounded (byte counts, ``stop`` event); every connection gets its own daemon thread.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
from typing import Any, Final

#: the faults of the issue's matrix, in the order the docs list them
FAULTS: Final = (
    "truncated_chunked",
    "too_many_headers",
    "long_header_line",
    "garbled_status",
    "header_drip",
    "body_drip",
    "html",
    "http_500",
    "redirect",
    "reset",
    "slow_accept",
)
#: the ``error.type`` each fault is counted under (JwksSource.last_error / the fetches metric)
ERROR_TYPE: Final = {
    "truncated_chunked": "incomplete_body",
    "too_many_headers": "too_many_headers",
    "long_header_line": "headers_too_large",
    "garbled_status": "bad_status_line",
    "header_drip": "timeout",
    "body_drip": "timeout",
    "html": "content_type",
    "http_500": "http_500",
    "redirect": "redirect",
    "reset": "reset",
    "slow_accept": "timeout",
}
#: faults that hold the connection open: the client pays its whole timeout
SLOW: Final = frozenset({"header_drip", "body_drip", "slow_accept"})
DRIP_INTERVAL: Final = 0.02  # seconds between dripped bytes
SLOW_ACCEPT: Final = 5.0  # seconds before a slow_accept connection is read


class _LoopbackServer:
    """A raw-socket server on 127.0.0.1: one thread accepts (bounded by ``stop``), one thread per connection
    runs :meth:`_handle`. ``requests`` counts connections."""

    def __init__(self, backlog: int) -> None:
        self.requests = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def reset_count(self) -> None:
        with self._lock:
            self.requests = 0

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.requests += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class FaultServer(_LoopbackServer):
    """Serves ``body`` (a JWK set) correctly in mode ``"ok"``, else breaks the response as ``mode`` says.

    ``requests`` counts connections (the client makes one request per connection).
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(backlog=256)
        self.mode = "ok"
        self._tls = tls
        self.body = b'{"keys": []}'
        self.raw = b""  # mode "raw": these bytes are the whole response
        self.last_request = b""  # the request head last read
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/jwks.json"
        self._start()

    def publish(self, jwks: dict[str, Any]) -> None:
        self.body = json.dumps(jwks).encode()

    # -- server ---------------------------------------------------------------------------------------------
    def _handle(self, conn: socket.socket) -> None:
        self._serve(conn, self.mode)

    def _serve(self, conn: socket.socket, mode: str) -> None:
        try:
            conn.settimeout(10)
            if mode == "slow_accept" and self.stop.wait(SLOW_ACCEPT):
                return
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            self._read_request(conn)
            getattr(self, "_" + mode)(conn)
        except (OSError, ssl.SSLError):
            pass  # the client gave up (its deadline): expected for the slow faults
        finally:
            conn.close()

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        self.last_request = data

    def _head(self, status: str = "200 OK", ctype: str = "application/json", length: int | None = None) -> bytes:
        lines = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", "Cache-Control: max-age=300", "Connection: close"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n").encode()

    def _ok(self, conn: socket.socket) -> None:
        conn.sendall(self._head(length=len(self.body)) + b"\r\n" + self.body)

    def _raw(self, conn: socket.socket) -> None:
        conn.sendall(self.raw)

    def _early_hints(self, conn: socket.socket) -> None:
        """A CDN's ``103 Early Hints`` (and a ``102 Processing``) before the real response: a good fetch."""
        hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        conn.sendall(hints + b"HTTP/1.1 102 Processing\r\n\r\n" + self._head(length=len(self.body)) + b"\r\n")
        conn.sendall(self.body)

    def _hints_flood(self, conn: socket.socket) -> None:
        """Informational responses without end: a failed fetch, bounded."""
        for _ in range(50):
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\n\r\n")

    def _truncated_chunked(self, conn: socket.socket) -> None:
        head = self._head().replace(b"Connection: close\r\n", b"Transfer-Encoding: chunked\r\n")
        half = self.body[: len(self.body) // 2]
        # announces the whole body as one chunk, sends half of it, and closes
        conn.sendall(head + b"\r\n" + f"{len(self.body):x}\r\n".encode() + half)

    def _too_many_headers(self, conn: socket.socket) -> None:
        extra = b"".join(f"X-Filler-{i}: {i}\r\n".encode() for i in range(101))
        conn.sendall(self._head(length=len(self.body)) + extra + b"\r\n" + self.body)

    def _long_header_line(self, conn: socket.socket) -> None:
        extra = b"X-Long: " + b"a" * 70_000 + b"\r\n"
        conn.sendall(self._head(length=len(self.body)) + extra + b"\r\n" + self.body)

    def _garbled_status(self, conn: socket.socket) -> None:
        conn.sendall(
            self._head(length=len(self.body)).replace(b"HTTP/1.1 200 OK", b"HTTX/1.1 2OO 0K") + b"\r\n" + self.body
        )

    def _drip(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):  # bounded by the data; stops early when the client closes
            if self.stop.wait(DRIP_INTERVAL):
                return
            conn.sendall(data[i : i + 1])

    def _header_drip(self, conn: socket.socket) -> None:
        # the status line and every header byte by byte: each byte arrives well within any socket timeout
        self._drip(conn, self._head(length=len(self.body)) + b"X-Padding: " + b"p" * 2000 + b"\r\n\r\n" + self.body)

    def _chunk_drip(self, conn: socket.socket) -> None:
        # chunked: every chunk is one byte, and the chunk-size lines arrive one byte at a time too
        head = self._head().replace(b"Connection: close\r\n", b"Transfer-Encoding: chunked\r\n")
        conn.sendall(head + b"\r\n")
        self._drip(conn, b"".join(b"1\r\n" + self.body[i : i + 1] + b"\r\n" for i in range(len(self.body))))

    def _body_drip(self, conn: socket.socket) -> None:
        conn.sendall(self._head(length=len(self.body)) + b"\r\n")
        self._drip(conn, self.body)

    def _html(self, conn: socket.socket) -> None:
        page = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
        conn.sendall(self._head(ctype="text/html; charset=utf-8", length=len(page)) + b"\r\n" + page)

    def _http_500(self, conn: socket.socket) -> None:
        body = b'{"error": "internal"}'
        conn.sendall(self._head("500 Internal Server Error", length=len(body)) + b"\r\n" + body)

    def _redirect(self, conn: socket.socket) -> None:
        head = self._head("302 Found", length=0) + f"Location: {self.url}\r\n".encode()
        conn.sendall(head + b"\r\n")

    def _reset(self, conn: socket.socket) -> None:
        # SO_LINGER with a zero timeout: close() sends a TCP RST instead of a FIN
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _slow_accept(self, conn: socket.socket) -> None:
        self._ok(conn)  # after SLOW_ACCEPT seconds (when the client has long given up)


class ConnectProxy(_LoopbackServer):
    """An HTTP CONNECT proxy on 127.0.0.1 that only tunnels to 127.0.0.1 (anything else: 403).

    ``drip``: answer the CONNECT one byte per DRIP_INTERVAL (a proxy cannot stretch the fetch either).
    """

    def __init__(self, drip: bool = False) -> None:
        super().__init__(backlog=16)
        self.drip = drip
        self.connects: list[str] = []
        self.url = f"http://127.0.0.1:{self.port}"
        self._start()

    def _handle(self, conn: socket.socket) -> None:
        self._serve(conn)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = client.recv(1024)
                if not chunk:
                    return
                head += chunk
            target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[1]
            self.connects.append(target)
            host, _, port = target.rpartition(":")
            if host != "127.0.0.1":  # loopback only, whatever the client asks
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            upstream = socket.create_connection((host, int(port)), timeout=5)
            reply = b"HTTP/1.1 200 Connection established\r\n\r\n"
            if self.drip:
                for i in range(len(reply)):
                    if self.stop.wait(DRIP_INTERVAL):
                        return
                    client.sendall(reply[i : i + 1])
            else:
                client.sendall(reply)
            pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            pump.start()
            _pump(client, upstream)
            pump.join(timeout=5)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    for _ in range(100_000):  # bounded
        try:
            data = src.recv(65536)
        except OSError:
            return
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        try:
            dst.sendall(data)
        except OSError:
            return
