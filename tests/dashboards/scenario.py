"""A real jwtobs process for the Prometheus integration test (run as a subprocess, not collected by pytest).

It validates real tokens, signed at run time with keys generated at start, through ``jwtobs.wrap`` around
PyJWT, and exports its metrics with the OpenTelemetry Prometheus exporter on 127.0.0.1 (a free port, printed
as the first line of stdout: ``{"metrics_port": N, "jwks_url": ...}``). A local JWKS endpoint serves the
gateway's keys; halfway it publishes a second key and the issuer starts signing with it (a key rotation with
overlap). When :class:`jwtobs.JwksSource` exists it also validates through ``jwtobs.Verifier`` against
that endpoint, plus a second issuer whose JWKS endpoint fails; when ``jwtobs.redact`` exists it logs
bearer tokens through a redacting logging handler.

Every round (``ROUND_S``) validates a fixed mix of good and bad tokens, so every counter keeps increasing
while Prometheus scrapes. The process stops when its stdin closes or after ``--max-seconds``.

With ``--healthy-replica`` it is a second replica of the same service (its own keys, JWKS endpoint and metrics
port; Prometheus scrapes both under one job): the same
validators but the failing issuer's, good tokens only, fewer per round. Against it the first process is the one
replica that rejects alone (``JwtobsInstanceRejectsAlone``).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import start_http_server

import jwtobs

GATEWAY_ISS = "https://issuer.test"
INTERNAL_ISS = "https://internal.test"
BROKEN_ISS = "https://broken.test"
AUD = "billing-api"
ROUND_S = 0.5
#: round after which the issuer publishes k2 and signs with it
ROTATE_AT = 6


def has_jwks_source() -> bool:
    return hasattr(jwtobs, "JwksSource") and hasattr(jwtobs, "Verifier")


def has_redact() -> bool:
    try:
        from jwtobs import redact  # noqa: F401
    except ImportError:
        return False
    return True


class Jwks:
    """The keys the issuer publishes (mutable: rotation adds k2)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[str, rsa.RSAPrivateKey] = {}

    def document(self) -> bytes:
        with self.lock:
            items = list(self.keys.items())
        keys = []
        for kid, key in items:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
            keys.append(jwk)
        return json.dumps({"keys": keys}).encode()


def serve_jwks(jwks: Jwks) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jwks.json":
                body = jwks.document()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=300")
            else:  # /broken/jwks.json and anything else: the endpoint is down
                body = b'{"error": "unavailable"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=150.0)
    parser.add_argument("--events-dir", help="also write the validation events here (rolled, partitioned)")
    parser.add_argument("--healthy-replica", action="store_true", help="a peer replica: good tokens only")
    args = parser.parse_args()

    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "jwtobs-scenario"}))
    jwtobs.configure(
        meter_provider=provider,
        fingerprint_key=os.urandom(32),
        service="jwtobs-scenario",
        issuers=[GATEWAY_ISS, INTERNAL_ISS, BROKEN_ISS],
        events_dir=args.events_dir,
        from_env=False,
    )
    metrics_server, _ = start_http_server(0, addr="127.0.0.1")

    k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hmac_key = os.urandom(32)
    jwks = Jwks()
    jwks.keys["k1"] = k1
    jwks_server = serve_jwks(jwks)
    base_url = f"http://127.0.0.1:{jwks_server.server_address[1]}"
    jwks_url = f"{base_url}/jwks.json"

    # -- validators -----------------------------------------------------------------------------------
    internal = jwtobs.wrap(jwt.decode, profile="internal")
    # a short refresh cooldown (PyJWT default 30 s) so the rotation is picked up within the test
    jwk_client = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=2, cooldown_duration=1.0)

    def gateway_verify(token: str) -> dict[str, Any]:
        signing_key = jwk_client.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, signing_key.key, algorithms=["RS256"], audience=AUD, issuer=GATEWAY_ISS
        )
        return claims

    gateway = jwtobs.wrap(gateway_verify, library="pyjwt", profile="gateway")

    verifiers: list[Any] = []
    if has_jwks_source():  # pragma: no cover - depends on the JwksSource having landed
        for iss, url, name in (
            (GATEWAY_ISS, jwks_url, "billing-api"),
            (BROKEN_ISS, f"{base_url}/broken/jwks.json", "partner-api"),
        )[: 1 if args.healthy_replica else 2]:
            profile = jwtobs.Profile(name=name, issuer=iss, audience=AUD, algorithms=("RS256",))
            verifiers.append(jwtobs.Verifier(profile, keys=jwtobs.JwksSource(url, cooldown=1.0), backend="pyjwt"))

    log: logging.Logger | None = None
    if has_redact() and not args.healthy_replica:  # pragma: no cover - depends on jwtobs.redact having landed
        from jwtobs import redact

        log = logging.getLogger("scenario.app")
        handler = logging.StreamHandler(io.StringIO())
        handler.addFilter(redact.LoggingRedactor())
        log.addHandler(handler)
        log.propagate = False
        log.setLevel(logging.INFO)

    print(json.dumps({"metrics_port": metrics_server.server_port, "jwks_url": jwks_url}), flush=True)

    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    # -- tokens ---------------------------------------------------------------------------------------
    def gw_claims(**over: Any) -> dict[str, Any]:
        now = int(time.time())
        c: dict[str, Any] = {"iss": GATEWAY_ISS, "aud": AUD, "sub": "svc-1", "iat": now - 5, "exp": now + 600}
        c.update(over)
        return c

    def rs(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})

    def hs(**over: Any) -> str:
        now = int(time.time())
        c: dict[str, Any] = {"iss": INTERNAL_ISS, "sub": "job-7", "iat": now - 5, "exp": now + 600}
        c.update(over)
        return jwt.encode(c, hmac_key, algorithm="HS256", headers={"kid": "hs1"})

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    # a real internal token tampered to alg none (its kid kept, as jwt_tool does): aimed at a key in use
    unsigned = b64({"alg": "none", "typ": "JWT", "kid": "hs1"}) + "." + b64({"iss": INTERNAL_ISS, "sub": "admin"}) + "."
    # an internet scanner's alg none without a kid, at most 0.5/s: a sweep, on the dashboard but no alert
    sweep = b64({"alg": "none", "typ": "JWT"}) + "." + b64({"sub": "admin"}) + "."
    forged = rs(gw_claims(exp=int(time.time()) + 3600), attacker, "k1")  # trusted kid, wrong key
    wrong_aud = rs(gw_claims(aud="other-api", exp=int(time.time()) + 3600), k1, "k1")
    rs_at_internal = rs(gw_claims(exp=int(time.time()) + 3600), k1, "k1")  # RS256 where HS256 is expected
    rogue = [rs(gw_claims(exp=int(time.time()) + 3600), attacker, f"rogue-{i}") for i in range(12)]

    def attempt(fn: Any, token: str, *a: Any, **kw: Any) -> None:
        try:
            fn(token, *a, **kw)
        except Exception:  # rejections are the point; jwtobs recorded them
            pass

    deadline = time.monotonic() + args.max_seconds
    n = 0
    while not stop.is_set() and time.monotonic() < deadline:
        t0 = time.monotonic()
        if n == ROTATE_AT:  # publish k2 first, then sign with it (rotation with overlap)
            with jwks.lock:
                jwks.keys["k2"] = k2
        signing, kid = (k2, "k2") if n >= ROTATE_AT else (k1, "k1")
        good = rs(gw_claims(), signing, kid)
        for _ in range(3 if args.healthy_replica else 10):
            attempt(gateway, good)
            attempt(internal, hs(), hmac_key, algorithms=["HS256"])
        if not args.healthy_replica:
            for _ in range(3):
                attempt(gateway, forged)
            for token in rogue:  # unknown-kid burst
                attempt(gateway, token)
            attempt(gateway, wrong_aud)
            expired_now = hs(exp=int(time.time()) - 10, iat=int(time.time()) - 610)  # just past exp: clock skew
            for _ in range(5):
                attempt(internal, expired_now, hmac_key, algorithms=["HS256"])
            old = hs(exp=int(time.time()) - 7200, iat=int(time.time()) - 7800)
            for token in (old, unsigned, rs_at_internal, "not.a.jwt"):
                attempt(internal, token, hmac_key, algorithms=["HS256"])
            if n % 4 == 0:
                attempt(gateway, sweep)
        mix = (good,) if args.healthy_replica else (good, rogue[n % len(rogue)], forged)
        for verifier in verifiers:  # pragma: no cover - depends on JwksSource
            for token in mix:
                attempt(verifier.verify, token)
        if log is not None:  # pragma: no cover - depends on jwtobs.redact
            log.info("upstream call with Authorization: Bearer %s", good)
        n += 1
        stop.wait(max(0.0, ROUND_S - (time.monotonic() - t0)))
    metrics_server.shutdown()
    jwks_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
