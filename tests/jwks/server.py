"""A JWKS endpoint on 127.0.0.1 that the test controls (keys, status, delay, body, headers)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class RsaKey:
    """An RSA signing key with its kid; signs real tokens and publishes its public JWK."""

    def __init__(self, kid: str, bits: int = 2048) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=bits)

    def jwk(self) -> dict[str, Any]:
        d: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        d.update(kid=self.kid, use="sig", alg="RS256")
        return d

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        h = {"kid": self.kid, "typ": "at+jwt", **headers}
        # PyJWS: any JSON payload (jwt.encode refuses some invalid claims we need to send)
        return jwt.PyJWS().encode(json.dumps(claims).encode(), self.private, algorithm="RS256", headers=h)


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        self.body: bytes | None = None
        self.headers: dict[str, str] = {"Cache-Control": "max-age=300"}
        self.content_type: str | None = "application/json"
        self.redirect_to: str | None = None
        self.trickle = 0.0  # seconds between body bytes (a slow-loris endpoint)
        self.requests = 0
        self._lock = threading.Lock()
        self.release = threading.Event()  # set to cut a delay short when the test ends
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.requests += 1
                if outer.delay:
                    outer.release.wait(outer.delay)
                if outer.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", outer.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.body if outer.body is not None else json.dumps({"keys": outer.keys}).encode()
                self.send_response(outer.status)
                if outer.content_type is not None:
                    self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in outer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    if outer.trickle:
                        for i in range(len(body)):
                            if outer.release.wait(outer.trickle):
                                return
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def publish(self, *keys: RsaKey) -> None:
        self.keys = [k.jwk() for k in keys]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


ISS, AUD, NOW = "https://idp.example", "api", 1_800_000_000


def claims(**over: Any) -> dict[str, Any]:
    """Claims of a valid access token for ISS/AUD at NOW (valid one hour); ``over`` replaces any of them."""
    c: dict[str, Any] = {"iss": ISS, "sub": "u", "aud": AUD, "exp": NOW + 3600, "iat": NOW}
    c.update(over)
    return c


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
