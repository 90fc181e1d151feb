"""fleet32: an independent benchmark data generator for jwtobs's incident detectors.

Every event is written by jwtobs itself, from a real validation of a real signed token, in the replica process
that validated it. Nothing here knows how the detectors work; the labels come from this generator's own
bookkeeping of every validation.

What is modelled
----------------
Issuers (key sets served by a ``http.server.ThreadingHTTPServer`` on 127.0.0.1, port 0, one inside every replica
process; each document is computed from the *simulated* time, so every replica sees the same key-set history):

* ``https://login.acme-corp.example`` (ES256, access tokens of 1 h, ``typ: at+jwt``): healthy daily rotation
  (next key published hours before it signs, the old key removed hours after its last token expired).
* ``https://mesh-ca.shop.internal`` (EdDSA, service-mesh workload tokens of 15 min): rotation every 6 h,
  published 1 h before use, removed 1 h after the last token expired.
* ``https://idp.partners-hub.example/oauth2`` (RS256, partner client-credentials tokens of 1 h, ``typ: JWT``).
* ``https://login.staging.acme-corp.example``: a staging IdP whose tokens reach production (never trusted).
* JWKS blips: every issuer's endpoint answers 502/503/504 for 3-20 s a few times a day.

APIs, each replica its own OS process with its own ``jwtobs.configure(events_path=..., service=<api>)`` (default
deferred pipeline, ``jwtobs.flush()`` before exit); a restarted replica is a new process and a new file
``events/<api>.<slot>.<n>.jsonl``:

* ``edge-gateway`` (3 replicas in two regions): ``jwtobs.wrap(validate, library="pyjwt")`` around
  ``PyJWKClient`` + ``jwt.decode`` (audience, issuer, leeway 30 s), one wrap profile per backend route
  (``gw-storefront``, ``gw-orders``, ``gw-graphql``).
* ``inventory-svc`` (2 replicas): ``jwtobs.wrap`` + ``PyJWKClient`` for mesh tokens (EdDSA, leeway 10 s),
  profile ``inventory``.
* ``ledger-api`` (2 replicas): ``jwtobs.VerifierSet`` of two ``jwtobs.Verifier`` (profiles ``ledger`` for acme
  tokens, ``ledger-partners`` for partner tokens) on ``jwtobs.JwksSource(clock=time.time)``.
* ``telemetry-ingest`` (2 replicas): ``jwtobs.Verifier`` (profile ``telemetry``, leeway 120 s) on a
  ``JwksSource`` with ``max_stale=900``.

Simulated time: each replica runs ``time_machine.travel(..., tick=False)`` and moves to the request's time
(plus that replica's own clock error) before every validation. PyJWT's ``PyJWKClient`` cache reads
``time.monotonic``, which time_machine does not move: the modules' ``time`` reference is replaced by a shim whose
``monotonic`` is the (travelled) ``time.time``.

Background traffic (every timeline; none of it is an incident):

* mobile app (``shop-ios``/``shop-android``): ~900 devices, sessions following an evening-peaked diurnal curve
  (higher at weekends); ~4 % of devices have manually set clocks (3-90 min either way), so some send expired
  tokens, get a 401, refresh and retry; retries with backoff when a call falls into a JWKS blip.
* web SPA (``shop-web``) on GraphQL: each page load is a batch of 2-9 operations, each validated by the gateway
  within a fraction of a second; silent refresh 5 min before expiry.
* desktop app (``acme-desktop``): laptops that slept for hours or days; an old app version (a quarter of them)
  sends its stale token once on wake (expired, often signed by a key long gone), then refreshes.
* ``finance-portal`` SPA to ``ledger-api`` in business hours (Europe), ``globex-erp`` partner integration
  (business hours US East), ``initech-sync`` nightly batch with backoff retries.
* IoT thermostats (``iot-thermo``): websocket connections sticky to one ``telemetry-ingest`` replica, the token
  re-validated on every message, refreshed at 80 % of its life; ~4 % reboot per day and come back with their
  clock at the firmware epoch until NTP syncs (one expired token each, then a refresh); reconnect on deploys.
* mesh sidecars (``checkout`` x3 pods, ``search-indexer`` x2, ``billing-worker``) refreshing at 80 % of the
  token life; CronJobs (``nightly-reconcile`` at 02:00, ``hourly-export`` at :05).
* staging tokens sent to production by a QA session (``finance-portal-staging``, issuer mismatch) on weekdays.
* a decommissioned ``legacy-report-bot`` calling every 15 min with a 9-day-old token it cannot renew.
* internet scanners (a few requests an hour: garbage, ``alg: none``, random and injected kids, the jwt.io
  sample, HS256 signed with the public key, tampered copies of real tokens) and, on some days, a slow pentest
  session (~2/min for 20 min).
* rolling deploys (new processes, cold caches), crash restarts, and on one quiet day a region failover that
  moves the gateway's traffic to cold replicas for ~95 min.

Incidents (incident timelines only, 12 h each), ids and kinds from ``jwtobs/kinds.py``:

* ``inc1``: kid_before_publish (acme signs with a new kid ~25 min before its key set publishes it),
  clock_skew (``globex-erp``'s clock 11 min behind; it keeps using tokens past exp and never refreshes on 401),
  attack_burst (~40 forged tokens a minute for 18 min at the gateway and the ledger).
* ``inc2``: jwks_outage (acme's key set answers 503 for 25 min), type_confusion (``finance-portal`` sends ID
  tokens after a front-end release, 50 min), audience_misconfig API side (``inventory-svc`` deployed with
  audience ``inventory-svc`` instead of ``inventory``, rolled back after 35 min; profile ``inventory``).
* ``inc3``: key_removed_early (acme removes the old key 8 min after switching; its tokens live 1 h),
  server_clock_skew issuer side (the mesh CA's clock 4 min ahead for 50 min: tokens stamped in the future),
  audience_misconfig client side (``search-indexer`` requests tokens for ``inventory-api`` for 2.5 h).
* ``inc4``: signature_spike (the partner IdP republishes new key material under the same kid while its token
  service signs with the old one for 35 min), issuer_stalled (acme's token endpoint down 40 min: clients keep
  their expired tokens), server_clock_skew replica side (one ``ledger-api`` replica's clock 7 min behind for
  90 min: fresh tokens are not yet valid there; ``profile`` is set to ``ledger`` as kinds.py says for one API
  failing, ``issuer`` null).

Label rules
-----------
Every request is tagged, when generated, with the incidents that could make it fail (the kid of the token, the
client, the replica that got it, the window...; for the key kinds only tokens not yet expired). After validation, a
rejection counts for an incident when it carries one of its tags and its reason is one that incident causes (unknown
kid for the key kinds, JWKS unavailable for outages, bad signature for the spike, expired / not yet valid for the
clock kinds and the stall, audience mismatch for audience, type or audience mismatch for type confusion, any
rejection for the attack burst). ``count`` is the number of such rejections; ``start``/``end`` the times of the
first/last one as written in the event (the validating replica's clock, which differs from true time only on the
replica with a skewed clock). Quiet timelines have no incidents.

CLI::

    python benchmarks/fleet32.py --out DIR [--only NAME] [--seed-base N] [--jobs N] [--scale F] [--score]
    python benchmarks/fleet32.py --out DIR --score-only      # score what is in DIR (jwtobs's detectors)

(``--score``/``--score-only`` were added after the generator was written and run, by someone who had read the
detectors: they score the timelines as ``benchmarks/fleet22.py`` does; nothing else here knows the detectors.)
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import datetime as _dt
import hashlib
import hmac
import json
import math
import multiprocessing
import os
import pickle
import random
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

ACME = "https://login.acme-corp.example"
MESH = "https://mesh-ca.shop.internal"
PART = "https://idp.partners-hub.example/oauth2"
STAGING = "https://login.staging.acme-corp.example"
SLUG = {ACME: "acme", MESH: "mesh", PART: "partners", STAGING: "staging"}
FP_KEY = "fleet32-benchmark-fingerprint-key-shared-by-all-replicas"
DAY = 86400.0

# name, start (UTC), hours, quiet, extras
TIMELINES: list[tuple[str, str, float, bool]] = [
    ("q1-mon", "2026-03-02T00:00:00", 24, True),
    ("q2-wed-failover", "2026-03-04T00:00:00", 24, True),
    ("q3-sat", "2026-03-07T00:00:00", 24, True),
    ("q4-thu", "2026-03-12T00:00:00", 24, True),
    ("inc1", "2026-03-03T06:00:00", 12, False),
    ("inc2", "2026-03-05T06:00:00", 12, False),
    ("inc3", "2026-03-10T08:00:00", 12, False),
    ("inc4", "2026-03-13T06:00:00", 12, False),
]

# api -> (path, slots with routing weight, issuers it trusts)
APIS: dict[str, dict[str, Any]] = {
    "edge-gateway": {"path": "wrap", "slots": {"gw-eu-1": 0.35, "gw-eu-2": 0.35, "gw-us-1": 0.3}, "leeway": 30},
    "inventory-svc": {"path": "wrap", "slots": {"inv-a": 0.5, "inv-b": 0.5}, "leeway": 10},
    "ledger-api": {"path": "verifier", "slots": {"ledger-a": 0.5, "ledger-b": 0.5}, "leeway": 60},
    "telemetry-ingest": {"path": "verifier", "slots": {"tel-a": 0.5, "tel-b": 0.5}, "leeway": 120},
}
GW_AUD = {"storefront": "storefront-api", "orders": "orders-api", "graphql": "graphql-api"}

EXPECTED = {
    "kid_before_publish": {"JWT_UNKNOWN_KID"},
    "key_removed_early": {"JWT_UNKNOWN_KID"},
    "jwks_outage": {"JWT_JWKS_UNAVAILABLE"},
    "signature_spike": {"JWT_BAD_SIGNATURE"},
    "clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "server_clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "issuer_stalled": {"JWT_EXPIRED"},
    "audience_misconfig": {"JWT_AUDIENCE_MISMATCH"},
    "type_confusion": {"JWT_TYPE_MISMATCH", "JWT_AUDIENCE_MISMATCH"},
    "attack_burst": None,  # any rejection
}


def iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(s: str) -> float:
    return _dt.datetime.fromisoformat(s).replace(tzinfo=_dt.UTC).timestamp()


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jenc(obj: Any) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


# ---------------------------------------------------------------------------------------------- keys, tokens
class KeyMat:
    """A signing key (private part stays in the planner) and its public JWK."""

    def __init__(self, kid: str, alg: str, seed: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        self.kid, self.alg = kid, alg
        if alg == "ES256":
            n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
            d = int.from_bytes(hashlib.sha256(seed).digest(), "big") % (n - 1) + 1
            self.priv = ec.derive_private_key(d, ec.SECP256R1())
            pn = self.priv.public_key().public_numbers()
            self.jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64u(pn.x.to_bytes(32, "big")),
                "y": b64u(pn.y.to_bytes(32, "big")),
            }
        elif alg == "EdDSA":
            self.priv = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
            from cryptography.hazmat.primitives import serialization as s

            raw = self.priv.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
        else:  # RS256 (not derivable from a seed: generated per run)
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pn = self.priv.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "n": b64u(pn.n.to_bytes(256, "big")), "e": b64u(pn.e.to_bytes(3, "big"))}
        self.jwk.update({"kid": kid, "use": "sig", "alg": alg})

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization as s

        return self.priv.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        data = (jenc(header) + "." + jenc(claims)).encode()
        if self.alg == "ES256":
            try:
                der = self.priv.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            except Exception:  # older OpenSSL: randomised signatures
                der = self.priv.sign(data, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        elif self.alg == "EdDSA":
            sig = self.priv.sign(data)
        else:
            sig = self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return data.decode() + "." + b64u(sig)


@dataclass(frozen=True)
class Tok:
    s: str
    iss: str
    kid: str
    ver: int
    iat: int
    nbf: int | None
    exp: int
    aud: tuple[str, ...]
    typ: str
    client: str
    skewed: bool = False  # minted by an issuer with a skewed clock (incident)


@dataclass
class Life:
    name: str
    api: str
    slot: str
    start: float
    end: float
    weight: float
    audience: str | None = None  # API-side audience override (misconfiguration)
    offsets: list[tuple[float, float, float]] = field(default_factory=list)  # (from, to, seconds)
    reqs: list[tuple[float, str, str, tuple[str, ...]]] = field(default_factory=list)

    def offset(self, t: float) -> float:
        for a, b, o in self.offsets:
            if a <= t < b:
                return o
        return 0.0


@dataclass
class Incident:
    id: str
    kind: str
    detail: str
    issuer: str | None = None
    kid: str | None = None
    client_id: str | None = None
    profile: str | None = None
    p: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- the planner
class Holder:
    """A client's token store: proactive refresh by the client's own clock, forced refresh on a 401."""

    def __init__(
        self,
        P: Planner,
        iss: str,
        client: str,
        sub: str,
        aud: tuple[str, ...],
        life: int,
        margin: float,
        typ: str = "at+jwt",
        off: Any = 0.0,
        ttype: str = "at",
    ) -> None:
        self.P, self.iss, self.client, self.sub, self.aud, self.life = P, iss, client, sub, aud, life
        self.margin, self.typ, self.off, self.ttype = margin, typ, off, ttype
        self.tok: Tok | None = None
        self.stalled = False
        self.last_forced = -1e18
        self.reactive = True

    def local(self, t: float) -> float:
        return t + (self.off(t) if callable(self.off) else self.off)

    def get(self, t: float) -> Tok | None:
        tok = self.tok
        if tok is None or self.local(t) >= tok.exp - self.margin:
            self.refresh(t)
        return self.tok

    def refresh(self, t: float) -> bool:
        if not self.P.issuer_up(self.iss, t):
            self.stalled = self.tok is not None
            return False
        self.tok = self.P.mint(self.iss, t, self.client, self.sub, self.aud, self.life, self.typ, self.ttype)
        self.stalled = False
        return True


class Planner:
    def __init__(self, name: str, start: float, hours: float, quiet: bool, seed: int, scale: float) -> None:
        self.name, self.T0, self.T1, self.quiet, self.seed, self.scale = (
            name,
            start,
            start + hours * 3600,
            quiet,
            seed,
            scale,
        )
        self.D = self.T1 - self.T0
        self.rng = random.Random(seed)
        self.keys: dict[tuple[str, int], KeyMat] = {}
        self.pubs: dict[str, list[list[Any]]] = {i: [] for i in SLUG}  # [start, end, kid, ver]
        self.signing: dict[str, list[tuple[float, str, int]]] = {i: [] for i in SLUG}
        self.down: dict[str, list[tuple[float, float, int]]] = {i: [] for i in SLUG}
        self.max_age = {ACME: 300, MESH: 600, PART: 900, STAGING: 300}
        self.iss_skew: dict[str, list[tuple[float, float, float]]] = {i: [] for i in SLUG}
        self.iss_stall: dict[str, list[tuple[float, float]]] = {i: [] for i in SLUG}
        self.lives: dict[str, list[Life]] = {a: [] for a in APIS}
        self.incidents: list[Incident] = []
        self.sticky: dict[Any, Life] = {}
        self.tokcache: dict[tuple[Any, ...], Tok] = {}
        self.harvest: list[Tok] = []
        self.n_req = 0
        self.alg = {ACME: "ES256", MESH: "EdDSA", PART: "RS256", STAGING: "ES256"}

    # -- keys and key sets
    def key(self, iss: str, kid: str, ver: int = 1) -> KeyMat:
        k = self.keys.get((kid, ver))
        if k is None:
            k = KeyMat(kid, self.alg[iss], f"{self.seed}|{kid}|{ver}".encode())
            self.keys[(kid, ver)] = k
        return k

    def publish(self, iss: str, kid: str, a: float, b: float, ver: int = 1) -> None:
        self.key(iss, kid, ver)
        self.pubs[iss].append([a, b, kid, ver])

    def sign_from(self, iss: str, t: float, kid: str, ver: int = 1) -> None:
        self.key(iss, kid, ver)
        self.signing[iss].append((t, kid, ver))
        self.signing[iss].sort()

    def signer(self, iss: str, t: float) -> tuple[str, int]:
        lst = self.signing[iss]
        i = bisect.bisect_right(lst, (t, "\uffff", 99)) - 1
        _, kid, ver = lst[max(i, 0)]
        return kid, ver

    def published(self, iss: str, kid: str, t: float) -> int | None:
        for a, b, k, v in self.pubs[iss]:
            if k == kid and a <= t < b:
                return v
        return None

    def in_down(self, iss: str, t: float) -> bool:
        return any(a <= t < b for a, b, _ in self.down[iss])

    def issuer_up(self, iss: str, t: float) -> bool:
        return not any(a <= t < b for a, b in self.iss_stall[iss])

    def issuer_off(self, iss: str, t: float) -> float:
        for a, b, o in self.iss_skew[iss]:
            if a <= t < b:
                return o
        return 0.0

    # -- tokens
    def mint(
        self,
        iss: str,
        t: float,
        client: str,
        sub: str,
        aud: tuple[str, ...],
        life: int,
        typ: str,
        ttype: str = "at",
        kid_ver: tuple[str, int] | None = None,
    ) -> Tok:
        off = self.issuer_off(iss, t)
        iat = int(t + off)
        kid, ver = kid_ver or self.signer(iss, t)
        ck = (iss, client, sub, aud, iat, typ, kid, ver, ttype)
        tok = self.tokcache.get(ck)
        if tok is not None:
            return tok
        jti = hashlib.sha256(f"{self.seed}|{ck}".encode()).hexdigest()[:24]
        claims: dict[str, Any] = {
            "iss": iss,
            "sub": sub,
            "aud": list(aud) if len(aud) > 1 else aud[0],
            "iat": iat,
            "exp": iat + life,
            "jti": jti,
        }
        nbf: int | None = None
        if iss in (ACME, STAGING, MESH):
            nbf = iat
            claims["nbf"] = nbf
        if ttype == "id":
            claims.update(
                {
                    "azp": client,
                    "nonce": jti[:16],
                    "auth_time": iat - 40,
                    "at_hash": b64u(os.urandom(0) + jti[:16].encode())[:22],
                }
            )
        elif iss == MESH:
            claims["client_id"] = client
        elif iss == PART:
            claims.update({"client_id": client, "scope": "ledger.read ledger.write"})
        else:
            claims.update({"client_id": client, "scope": "openid profile api"})
        s = self.key(iss, kid, ver).sign({"alg": self.alg[iss], "kid": kid, "typ": typ}, claims)
        tok = Tok(s, iss, kid, ver, iat, nbf, iat + life, aud, typ, client, skewed=off != 0)
        self.tokcache[ck] = tok
        if len(self.harvest) < 400 and self.rng.random() < 0.05:
            self.harvest.append(tok)
        return tok

    # -- replicas
    def pick_life(self, api: str, t: float, sticky: Any = None) -> tuple[Life | None, bool]:
        if sticky is not None:
            lf = self.sticky.get(sticky)
            if lf is not None and lf.start <= t < lf.end:
                return lf, False
        alive = [lf for lf in self.lives[api] if lf.start <= t < lf.end]
        if not alive:
            return None, False
        lf = self.rng.choices(alive, weights=[x.weight for x in alive])[0]
        if sticky is not None:
            self.sticky[sticky] = lf
            return lf, True
        return lf, False

    def api_issuer(self, api: str, route: str) -> str:
        return {"edge-gateway": ACME, "inventory-svc": MESH, "telemetry-ingest": ACME}.get(api, ACME)

    def expected_aud(self, api: str, route: str, lf: Life) -> str:
        if lf.audience:
            return lf.audience
        if api == "edge-gateway":
            return GW_AUD[route]
        return {"inventory-svc": "inventory", "ledger-api": "ledger-api", "telemetry-ingest": "telemetry-ingest"}[api]

    def predict_reject(self, api: str, route: str, tok: Tok, t: float, lf: Life) -> bool:
        ts = t + lf.offset(t)
        lw = APIS[api]["leeway"]
        if api == "ledger-api":
            if tok.iss not in (ACME, PART):
                return True
            if tok.iss == ACME and tok.typ != "at+jwt":
                return True
        elif tok.iss != self.api_issuer(api, route):
            return True
        v = self.published(tok.iss, tok.kid, t)
        if v is None or v != tok.ver:
            return True
        if self.expected_aud(api, route, lf) not in tok.aud:
            return True
        if ts > tok.exp + lw:
            return True
        return ts < tok.iat - lw

    # -- requests
    def add(
        self,
        t: float,
        api: str,
        route: str,
        tok_s: str,
        tags: tuple[str, ...] = (),
        sticky: Any = None,
        tok: Tok | None = None,
    ) -> Life | None:
        if not (self.T0 <= t < self.T1):
            return None
        lf, fresh = self.pick_life(api, t, sticky)
        if lf is None:
            return None
        tags = tags + self.life_tags(lf, t)
        if fresh and tok is not None and sticky is not None:  # websocket (re)connect: the handshake validates too
            lf.reqs.append((t - 0.05, route, tok_s, tags))
            self.n_req += 1
        lf.reqs.append((t, route, tok_s, tags))
        self.n_req += 1
        return lf

    def life_tags(self, lf: Life, t: float) -> tuple[str, ...]:
        out = []
        for inc in self.incidents:
            if inc.kind == "server_clock_skew" and inc.p.get("life") == lf.name and lf.offset(t) != 0:
                out.append(inc.id)
            elif inc.kind == "audience_misconfig" and inc.profile and lf.audience:
                out.append(inc.id)
        return tuple(out)

    def tok_tags(self, tok: Tok, h: Holder | None, t: float, api: str) -> tuple[str, ...]:
        out = []
        for inc in self.incidents:
            k, p = inc.kind, inc.p
            if k == "kid_before_publish" and tok.kid == inc.kid:
                out.append(inc.id)
            elif (
                k == "key_removed_early"
                and tok.kid == inc.kid
                and t >= p["removed"]
                and t <= tok.exp + APIS[api]["leeway"]
            ):  # a token that had expired anyway is not its victim
                out.append(inc.id)
            elif (
                k == "signature_spike"
                and tok.kid == inc.kid
                and tok.ver == 1
                and t >= p["a"]
                and t <= tok.exp + APIS[api]["leeway"]
            ):
                out.append(inc.id)
            elif (
                k == "jwks_outage"
                and p["a"] <= t <= p["b"] + 240
                and (api in ("edge-gateway", "telemetry-ingest", "ledger-api") and tok.iss == ACME)
            ):
                out.append(inc.id)
            elif k == "clock_skew" and h is not None and h.client == inc.client_id and p["a"] <= t:
                out.append(inc.id)
            elif k == "server_clock_skew" and inc.issuer and tok.skewed and tok.iss == inc.issuer:
                out.append(inc.id)
            elif k == "issuer_stalled" and h is not None and h.stalled and tok.iss == inc.issuer:
                out.append(inc.id)
            elif k == "audience_misconfig" and inc.client_id and tok.client == inc.client_id and p["a"] <= t:
                out.append(inc.id)
            elif k == "type_confusion" and tok.client == inc.client_id and tok.typ == "JWT" and tok.iss == ACME:
                out.append(inc.id)
        return tuple(out)

    def call(
        self,
        h: Holder,
        t: float,
        api: str,
        route: str = "",
        sticky: Any = None,
        retry503: bool = False,
        tok: Tok | None = None,
    ) -> None:
        if tok is None:
            tok = h.get(t)
        if tok is None:
            return
        lf = self.add(t, api, route, tok.s, self.tok_tags(tok, h, t, api), sticky, tok)
        if lf is None:
            return
        if h.reactive and t - h.last_forced > 60 and self.predict_reject(api, route, tok, t, lf):
            h.last_forced = t
            if h.refresh(t) and h.tok is not None and h.tok.s != tok.s:
                t2 = t + self.rng.uniform(0.2, 1.5)
                self.add(t2, api, route, h.tok.s, self.tok_tags(h.tok, h, t2, api), sticky, h.tok)
        if retry503:
            iss = tok.iss
            for d in (1.0, 3.0, 7.0):
                if self.in_down(iss, t):
                    t2 = t + d * self.rng.uniform(0.8, 1.3)
                    self.add(t2, api, route, tok.s, self.tok_tags(tok, h, t2, api), sticky, tok)
                    t = t2
                else:
                    break

    # -- time shapes
    def hour(self, t: float, tz: float = 0.0) -> float:
        return ((t + tz * 3600) % DAY) / 3600.0

    def weekday(self, t: float, tz: float = 0.0) -> int:
        return _dt.datetime.fromtimestamp(t + tz * 3600, _dt.UTC).weekday()

    def consumer(self, t: float) -> float:
        h = self.hour(t, 1.0)
        base = 0.12 + 0.6 * max(0.0, math.sin(math.pi * (h - 6.5) / 17.0)) ** 1.3 if 6.5 <= h <= 23.5 else 0.12
        f = base + 0.55 * math.exp(-(((h - 20.5) / 1.8) ** 2)) + 0.2 * math.exp(-(((h - 12.5) / 1.0) ** 2))
        return f * (1.25 if self.weekday(t, 1.0) >= 5 else 1.0)

    def business(self, t: float, tz: float) -> float:
        h = self.hour(t, tz)
        if self.weekday(t, tz) >= 5:
            return 0.04
        if 8 <= h < 18:
            return 1.0 - 0.35 * math.exp(-(((h - 12.5) / 0.7) ** 2))
        return 0.05 if 7 <= h < 20 else 0.01

    def expected_count(self, f: Any, per_day: float) -> float:
        """per_day events at the average weekday density, scaled by the density inside [T0, T1)."""
        n = 96
        inside = sum(f(self.T0 + (i + 0.5) * self.D / n) for i in range(n)) * self.D / n
        day0 = self.T0 - (self.T0 % DAY)
        full = sum(f(day0 + (i + 0.5) * DAY / n) for i in range(n)) * DAY / n
        return per_day * inside / max(full, 1e-9)

    def sample_time(self, f: Any, fmax: float) -> float:
        for _ in range(2000):
            t = self.T0 + self.rng.random() * self.D
            if self.rng.random() * fmax <= f(t):
                return t
        return self.T0 + self.rng.random() * self.D

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        L, k, p = math.exp(-lam), 0, 1.0
        while k < 500:
            p *= self.rng.random()
            if p <= L:
                return k
            k += 1
        return k


# ---------------------------------------------------------------------------------------------- scenario
def build(name: str, start: float, hours: float, quiet: bool, seed: int, scale: float) -> Planner:
    P = Planner(name, start, hours, quiet, seed, scale)
    rng, T0, T1, D = P.rng, P.T0, P.T1, P.D
    day = _dt.datetime.fromtimestamp(T0, _dt.UTC)
    INF = 1e13

    def dname(days: int) -> str:
        return (day + _dt.timedelta(days=days)).strftime("%Y%m%d")

    inc_kinds = {
        "inc1": ["kid_before_publish", "clock_skew", "attack_burst"],
        "inc2": ["jwks_outage", "type_confusion", "audience_misconfig_api"],
        "inc3": ["key_removed_early", "server_clock_skew_issuer", "audience_misconfig_client"],
        "inc4": ["signature_spike", "issuer_stalled", "server_clock_skew_replica"],
    }.get(name, [])

    def at(frac_lo: float, frac_hi: float) -> float:
        return T0 + D * rng.uniform(frac_lo, frac_hi)

    # ---- acme keys: old ones (for stale tokens), the current, the next (healthy rotation unless an incident)
    k_old9, k_old2, k_prev, k_new = f"acme-{dname(-9)}", f"acme-{dname(-2)}", f"acme-{dname(-1)}", f"acme-{dname(0)}"
    for k in (k_old9, k_old2):
        P.key(ACME, k)
    P.sign_from(ACME, -INF, k_old2)
    P.sign_from(ACME, T0 - DAY + 3 * 3600, k_prev)
    if "kid_before_publish" in inc_kinds:
        s = at(0.3, 0.4)
        pub = s + rng.uniform(22, 28) * 60
        P.publish(ACME, k_prev, -INF, pub + 3 * 3600 + 3600)
        P.sign_from(ACME, s, k_new)
        P.publish(ACME, k_new, pub, INF)
        P.incidents.append(
            Incident(
                "inc1-kbp",
                "kid_before_publish",
                f"acme signs with {k_new} from {iso(s)}, its key set publishes it at {iso(pub)}",
                kid=k_new,
                p={"s": s, "pub": pub},
            )
        )
    elif "key_removed_early" in inc_kinds:
        p = at(0.05, 0.1)
        s = p + 2.5 * 3600
        r = s + 8 * 60
        P.publish(ACME, k_prev, -INF, r)
        P.publish(ACME, k_new, p, INF)
        P.sign_from(ACME, s, k_new)
        P.incidents.append(
            Incident(
                "inc3-kre",
                "key_removed_early",
                f"acme switched to {k_new} at {iso(s)} and removed "
                f"{k_prev} at {iso(r)}; its 1 h tokens were still in use",
                kid=k_prev,
                p={"removed": r},
            )
        )
    else:
        p = at(0.05, 0.35)
        s = p + rng.uniform(2.5, 4.0) * 3600 * (D / DAY) ** 0.5
        r = s + 3600 + rng.uniform(1.5, 3.0) * 3600
        P.publish(ACME, k_prev, -INF, r)
        P.publish(ACME, k_new, p, INF)
        P.sign_from(ACME, s, k_new)
    P.publish(ACME, k_old2, -INF, T0 - 20 * 3600)  # removed yesterday, long after its last token expired

    # ---- mesh: rotation every 6 h, published 1 h before use, removed 1 h after its last token expired
    period = 6 * 3600
    first = T0 - (T0 % period) - period
    kids = []
    t = first
    while t < T1 + period:
        kid = "mesh-" + _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y%m%d%H")
        kids.append((t, kid))
        t += period
    for i, (ts, kid) in enumerate(kids):
        P.sign_from(MESH, ts if i else -INF, kid)
        end = kids[i + 1][0] + 900 + 3600 if i + 1 < len(kids) else INF
        P.publish(MESH, kid, ts - 3600 if i else -INF, end)

    # ---- partners: one static RSA key
    pk = "ph-rsa-2025q4"
    P.sign_from(PART, -INF, pk)
    if "signature_spike" in inc_kinds:
        a = at(0.62, 0.66)
        b = a + 35 * 60
        P.publish(PART, pk, -INF, a, 1)
        P.publish(PART, pk, a, INF, 2)
        P.sign_from(PART, b, pk, 2)
        P.incidents.append(
            Incident(
                "inc4-sig",
                "signature_spike",
                f"partner IdP published new material under {pk} at "
                f"{iso(a)}; its token service signed with the old one until {iso(b)}",
                kid=pk,
                p={"a": a, "b": b},
            )
        )
    else:
        P.publish(PART, pk, -INF, INF)
    P.sign_from(STAGING, -INF, "stg-1")
    P.publish(STAGING, "stg-1", -INF, INF)

    # ---- JWKS blips (background) and the outage (incident)
    for iss in (ACME, MESH, PART):
        for _ in range(P.poisson(3.5 * D / DAY)):
            a = at(0, 1)
            P.down[iss].append((a, a + rng.uniform(3, 20), rng.choice([502, 503, 504])))
    if "jwks_outage" in inc_kinds:
        a = at(0.35, 0.45)
        b = a + 25 * 60
        P.down[ACME].append((a, b, 503))
        P.incidents.append(
            Incident(
                "inc2-out",
                "jwks_outage",
                f"acme JWKS endpoint 503 from {iso(a)} to {iso(b)}",
                issuer=ACME,
                p={"a": a, "b": b},
            )
        )

    # ---- replicas: lives, deploys, restarts, failover
    for api, spec in APIS.items():
        for slot, w in spec["slots"].items():
            P.lives[api].append(Life(f"{api}.{slot}.1", api, slot, T0 - 60, T1 + 60, w))

    def replace(
        api: str,
        slot: str,
        t: float,
        gap: float = 0.0,
        audience: str | None = None,
        weight: float | None = None,
        end: float | None = None,
    ) -> Life:
        cur = [lf for lf in P.lives[api] if lf.slot == slot and lf.start <= t < lf.end]
        w = APIS[api]["slots"].get(slot, 0.3)
        for lf in cur:
            lf.end = t
        n = sum(1 for lf in P.lives[api] if lf.slot == slot) + 1
        new = Life(
            f"{api}.{slot}.{n}",
            api,
            slot,
            t + gap,
            T1 + 60 if end is None else end,
            w if weight is None else weight,
            audience,
        )
        P.lives[api].append(new)
        return new

    def rolling(api: str, t: float, audience: str | None = None) -> None:
        for i, slot in enumerate(APIS[api]["slots"]):
            replace(api, slot, t + i * rng.uniform(60, 120), audience=audience)

    rolling("edge-gateway", at(0.3, 0.7))
    if rng.random() < 0.7:
        rolling("ledger-api", at(0.2, 0.8))
    if "audience_misconfig_api" in inc_kinds:
        a = at(0.55, 0.6)
        rolling("inventory-svc", a, audience="inventory-svc")
        b = a + 35 * 60
        rolling("inventory-svc", b)
        P.incidents.append(
            Incident(
                "inc2-aud",
                "audience_misconfig",
                f"inventory-svc v2 deployed at {iso(a)} with "
                "audience 'inventory-svc' (tokens say 'inventory'); rolled back at "
                f"{iso(b)}",
                profile="inventory",
                p={"a": a, "b": b},
            )
        )
    elif rng.random() < 0.8:
        rolling("inventory-svc", at(0.2, 0.8))
    if rng.random() < 0.6:  # a crash restart
        api = rng.choice(list(APIS))
        replace(api, rng.choice(list(APIS[api]["slots"])), at(0.1, 0.9), gap=rng.uniform(15, 60))
    if name.endswith("failover"):
        a = at(0.55, 0.65)
        for slot in ("gw-eu-1", "gw-eu-2"):
            for lf in P.lives["edge-gateway"]:
                if lf.slot == slot and lf.start <= a < lf.end:
                    lf.end = a
        for slot in ("gw-us-2", "gw-us-3"):
            lf = Life(f"edge-gateway.{slot}.1", "edge-gateway", slot, a + rng.uniform(15, 40), a + 100 * 60, 0.33)
            P.lives["edge-gateway"].append(lf)
        for slot in ("gw-eu-1", "gw-eu-2"):
            n = sum(1 for lf in P.lives["edge-gateway"] if lf.slot == slot) + 1
            P.lives["edge-gateway"].append(
                Life(f"edge-gateway.{slot}.{n}", "edge-gateway", slot, a + 95 * 60 + rng.uniform(0, 60), T1 + 60, 0.35)
            )
    if "server_clock_skew_replica" in inc_kinds:
        a = at(0.25, 0.3)
        b = a + 90 * 60
        lf = next(x for x in P.lives["ledger-api"] if x.slot == "ledger-b" and x.start <= a < x.end)
        if lf.end < b:  # keep the skewed window inside one life
            lf.end = b + 600
            for x in P.lives["ledger-api"]:
                if x.slot == "ledger-b" and x is not lf and x.start < b + 600:
                    x.start = b + 600
        lf.offsets.append((a, b, -420.0))
        P.incidents.append(
            Incident(
                "inc4-skr",
                "server_clock_skew",
                f"replica {lf.name} of ledger-api ran 7 min behind from {iso(a)} to {iso(b)} (NTP failure on its node)",
                profile="ledger",
                p={"life": lf.name},
            )
        )
    if "server_clock_skew_issuer" in inc_kinds:
        a = at(0.55, 0.6)
        P.iss_skew[MESH].append((a, a + 50 * 60, 240.0))
        P.incidents.append(
            Incident(
                "inc3-sks",
                "server_clock_skew",
                f"mesh CA clock 4 min ahead from {iso(a)} for 50 min: workload tokens stamped in the future",
                issuer=MESH,
            )
        )
    if "issuer_stalled" in inc_kinds:
        a = at(0.8, 0.84)
        P.iss_stall[ACME].append((a, a + 40 * 60))
        P.incidents.append(
            Incident(
                "inc4-stall",
                "issuer_stalled",
                f"acme token endpoint down from {iso(a)} for 40 min (key set up): clients keep their expired tokens",
                issuer=ACME,
            )
        )
    if "clock_skew" in inc_kinds:
        a = at(0.45, 0.5)
        P.incidents.append(
            Incident(
                "inc1-skew",
                "clock_skew",
                f"globex-erp host clock 11 min behind from {iso(a)}; "
                "it uses tokens until its own clock says 5 min before exp and retries 401s "
                "with the same token",
                client_id="globex-erp",
                p={"a": a},
            )
        )
    if "type_confusion" in inc_kinds:
        a = at(0.15, 0.22)
        P.incidents.append(
            Incident(
                "inc2-typ",
                "type_confusion",
                f"finance-portal release at {iso(a)} sends its ID token to ledger-api; rolled back after 50 min",
                client_id="finance-portal",
                p={"a": a, "b": a + 50 * 60},
            )
        )
    if "audience_misconfig_client" in inc_kinds:
        a = at(0.2, 0.25)
        P.incidents.append(
            Incident(
                "inc3-audc",
                "audience_misconfig",
                f"search-indexer config change at {iso(a)} requests tokens for 'inventory-api'; reverted after 2.5 h",
                client_id="spiffe://cluster.local/ns/search/sa/search-indexer",
                p={"a": a, "b": a + 150 * 60},
            )
        )
    if "attack_burst" in inc_kinds:
        a = at(0.75, 0.8)
        P.incidents.append(
            Incident(
                "inc1-atk",
                "attack_burst",
                f"forged-token burst at edge-gateway and ledger-api from {iso(a)}, ~40/min for 18 min",
                p={"a": a, "b": a + 18 * 60},
            )
        )
    incs = {i.kind + ("_c" if i.client_id and i.kind == "audience_misconfig" else ""): i for i in P.incidents}

    # ---- traffic
    sc = scale
    mobile(P, sc)
    web(P, sc)
    desktop(P, sc)
    finance(P, sc, incs.get("type_confusion"))
    partners(P, sc, incs.get("clock_skew"))
    iot(P, sc)
    mesh(P, sc, incs.get("audience_misconfig_c"))
    oddballs(P, sc)
    scanners(P, sc, incs.get("attack_burst"))
    return P


def gw_route(rng: random.Random) -> str:
    return rng.choices(["storefront", "orders", "graphql"], weights=[0.55, 0.3, 0.15])[0]


def mobile(P: Planner, sc: float) -> None:
    rng = P.rng
    lam = P.expected_count(P.consumer, 2.0)
    for d in range(int(900 * sc)):
        client = "shop-ios" if d % 5 < 3 else "shop-android"
        off = 0.0
        if rng.random() < 0.04:
            off = rng.choice([-1, 1]) * rng.uniform(3, 90) * 60
        # an older Android SDK never checks exp: it sends the stored token and refreshes on the 401
        margin = -1e12 if client == "shop-android" and rng.random() < 0.25 else 60
        h = Holder(
            P, ACME, client, f"user-{d:05d}", ("storefront-api", "orders-api", "graphql-api"), 3600, margin, off=off
        )
        # a token kept from the last session (maybe expired): the app checks it against its own clock
        h.tok = P.mint(ACME, P.T0 - rng.uniform(600, 40000), client, h.sub, h.aud, 3600, "at+jwt")
        starts = sorted(P.sample_time(P.consumer, 1.6) for _ in range(P.poisson(lam)))
        busy = -1e18
        for st in starts:
            t = max(st, busy + 60)
            for _ in range(rng.randint(3, 18)):
                P.call(h, t, "edge-gateway", gw_route(rng), retry503=True)
                t += rng.expovariate(1 / 25.0) + 1
            busy = t


def web(P: Planner, sc: float) -> None:
    rng = P.rng
    lam = P.expected_count(P.consumer, 1.5)
    for u in range(int(400 * sc)):
        h = Holder(
            P, ACME, "shop-web", f"user-{50000 + u:05d}", ("storefront-api", "orders-api", "graphql-api"), 3600, 300
        )
        busy = -1e18
        for st in sorted(P.sample_time(P.consumer, 1.6) for _ in range(P.poisson(lam))):
            t = max(st, busy + 60)
            for _ in range(rng.randint(2, 9)):  # page loads
                tok = h.get(t)
                for j in range(rng.randint(2, 9)):  # GraphQL batch: one validation per operation
                    P.call(h, t + j * rng.uniform(0.005, 0.05), "edge-gateway", "graphql", tok=tok)
                if rng.random() < 0.4:
                    P.call(h, t + 1.5, "edge-gateway", "storefront")
                t += rng.expovariate(1 / 70.0) + 5
            busy = t


def desktop(P: Planner, sc: float) -> None:
    rng = P.rng
    f = lambda t: P.business(t, 1.0)  # noqa: E731
    for d in range(int(80 * sc)):
        h = Holder(P, ACME, "acme-desktop", f"emp-{d:04d}", ("orders-api", "storefront-api"), 3600, 120)
        h.tok = P.mint(ACME, P.T0 - rng.uniform(10 * 3600, 3 * DAY), "acme-desktop", h.sub, h.aud, 3600, "at+jwt")
        old_version = rng.random() < 0.25
        n = P.poisson(P.expected_count(f, 2.0))
        busy = -1e18
        for i, st in enumerate(sorted(P.sample_time(f, 1.0) for _ in range(n))):
            t = max(st, busy + 300)
            if old_version and h.tok is not None and i == 0:
                P.call(h, t, "edge-gateway", "orders", tok=h.tok)  # stale token sent once on wake
                t += 2
            for _ in range(rng.randint(10, 40)):
                P.call(h, t, "edge-gateway", rng.choice(["orders", "storefront"]))
                t += rng.expovariate(1 / 150.0) + 10
            busy = t


def finance(P: Planner, sc: float, tc: Incident | None) -> None:
    rng = P.rng
    f = lambda t: P.business(t, 1.0)  # noqa: E731
    for u in range(int(80 * sc)):
        at = Holder(P, ACME, "finance-portal", f"fin-{u:04d}", ("ledger-api",), 3600, 300)
        idt = Holder(P, ACME, "finance-portal", f"fin-{u:04d}", ("finance-portal",), 3600, 300, typ="JWT", ttype="id")
        r1, r2 = rng.uniform(0, 600), rng.uniform(0, 900)  # when this user's browser loads the release / rollback
        busy = -1e18
        for st in sorted(P.sample_time(f, 1.0) for _ in range(P.poisson(P.expected_count(f, 1.6)))):
            t = max(st, busy + 120)
            for _ in range(rng.randint(15, 90)):
                buggy = tc is not None and tc.p["a"] + r1 <= t < tc.p["b"] + r2
                h = idt if buggy else at
                h.reactive = not buggy
                P.call(h, t, "ledger-api")
                t += rng.expovariate(1 / 45.0) + 3
            busy = t


def partners(P: Planner, sc: float, skew: Incident | None) -> None:
    rng = P.rng
    # globex-erp: business hours, US East
    off = (lambda t: -660.0 if t >= skew.p["a"] else 0.0) if skew is not None else 0.0
    h = Holder(P, PART, "globex-erp", "globex-erp", ("ledger-api",), 3600, 300, typ="JWT", off=off)
    t = P.T0
    while t < P.T1:
        f = P.business(t, -5.0)
        if rng.random() < f:
            h.reactive = not (skew is not None and t >= skew.p["a"])
            P.call(h, t, "ledger-api", retry503=True)
        t += rng.expovariate(1 / (20.0 / sc)) + 1
    # initech-sync: nightly batch 01:00-02:30 UTC
    h2 = Holder(P, PART, "initech-sync", "initech-sync", ("ledger-api",), 3600, 120, typ="JWT")
    day0 = P.T0 - (P.T0 % DAY)
    for dd in (0, 1):
        t = day0 + dd * DAY + 3600 + rng.uniform(0, 300)
        end = t + 5400 * sc
        while t < end:
            P.call(h2, t, "ledger-api", retry503=True)
            t += rng.uniform(1.5, 4.0)


def iot(P: Planner, sc: float) -> None:
    rng = P.rng
    for d in range(int(60 * sc)):
        reboots = []
        if rng.random() < 0.04 * P.D / DAY:
            tb = P.T0 + rng.uniform(0, P.D)
            reboots.append((tb, tb + rng.uniform(60, 180), tb + rng.uniform(3, 12) * 60))
        fw_epoch = 1735689600.0  # 2025-01-01: the firmware's build clock

        def off(t: float, reboots: list[tuple[float, float, float]] = reboots, fw_epoch: float = fw_epoch) -> float:
            for tb, _up, sync in reboots:
                if tb <= t < sync:
                    return (fw_epoch + (t - tb)) - t
            return 0.0

        h = Holder(P, ACME, "iot-thermo", f"dev-{d:05d}", ("telemetry-ingest",), 3600, 720, off=off)
        h.tok = P.mint(ACME, P.T0 - rng.uniform(0, 2400), "iot-thermo", h.sub, h.aud, 3600, "at+jwt")
        t = P.T0 + rng.uniform(0, 300)
        while t < P.T1:
            if any(tb <= t < up for tb, up, _ in reboots):
                t = next(up for tb, up, _ in reboots if tb <= t < up)
                P.sticky.pop(("iot", d), None)
                continue
            P.call(h, t, "telemetry-ingest", sticky=("iot", d))
            t += rng.uniform(300, 420) / sc


def mesh(P: Planner, sc: float, audc: Incident | None) -> None:
    rng = P.rng
    ns = {
        "checkout": "shop",
        "search-indexer": "search",
        "billing-worker": "billing",
        "nightly-reconcile": "ops",
        "hourly-export": "ops",
    }

    def holder(svc: str) -> Holder:
        cid = f"spiffe://cluster.local/ns/{ns[svc]}/sa/{svc}"
        return Holder(P, MESH, cid, cid, ("inventory",), 900, 180)

    def aud_for(h: Holder, t: float) -> None:
        if audc is not None and h.client == audc.client_id:
            want = ("inventory-api",) if audc.p["a"] <= t < audc.p["b"] else ("inventory",)
            if want != h.aud:
                h.aud = want
                h.tok = None

    pods = [("checkout", lambda t: P.consumer(t) * 0.03 * sc) for _ in range(3)]
    pods += [("search-indexer", lambda t: 0.025 * sc) for _ in range(2)]
    pods += [("billing-worker", lambda t: P.business(t, 1.0) * 0.02 * sc)]
    for svc, rate in pods:
        h = holder(svc)
        t = P.T0 + rng.uniform(0, 30)
        while t < P.T1:
            aud_for(h, t)
            r = rate(t)
            P.call(h, t, "inventory-svc")
            if audc is not None and h.client == audc.client_id and audc.p["a"] <= t < audc.p["b"]:
                for d in (0.5, 1.5, 3.5):  # the indexer's client retries with backoff
                    P.call(h, t + d, "inventory-svc")
            t += rng.expovariate(max(r, 1e-4)) if r > 0 else 60
    day0 = P.T0 - (P.T0 % DAY)
    for dd in (0, 1):
        t = day0 + dd * DAY + 2 * 3600 + rng.uniform(0, 20)
        h = holder("nightly-reconcile")
        end = t + 15 * 60 * sc
        while t < end:
            P.call(h, t, "inventory-svc")
            t += rng.uniform(0.8, 2.2)
    hr = P.T0 - (P.T0 % 3600)
    while hr < P.T1:
        h = holder("hourly-export")
        t = hr + 300 + rng.uniform(0, 10)
        for _ in range(int(40 * sc)):
            P.call(h, t, "inventory-svc")
            t += rng.uniform(1, 5)
        hr += 3600


def oddballs(P: Planner, sc: float) -> None:
    rng = P.rng
    # staging tokens sent to production by a QA session (weekdays)
    h = Holder(P, STAGING, "finance-portal-staging", "qa-tester-3", ("ledger-api",), 3600, 300)
    f = lambda t: P.business(t, 1.0)  # noqa: E731
    for st in sorted(P.sample_time(f, 1.0) for _ in range(P.poisson(P.expected_count(f, 3.0)))):
        t = st
        for _ in range(rng.randint(10, 40)):
            P.call(h, t, "ledger-api")
            t += rng.uniform(5, 40)
    # decommissioned bot with a 9-day-old token
    bot = Holder(P, ACME, "legacy-report-bot", "legacy-report-bot", ("ledger-api",), 3600, 60)
    k9 = [k for (k, _v) in P.keys if k.startswith("acme-")]
    tok = P.mint(
        ACME,
        P.T0 - 9 * DAY + 4000,
        "legacy-report-bot",
        "legacy-report-bot",
        ("ledger-api",),
        3600,
        "at+jwt",
        kid_ver=(sorted(k9)[0], 1),
    )
    bot.tok, bot.reactive = tok, False
    t = P.T0 + rng.uniform(0, 900)
    while t < P.T1:
        P.add(t, "ledger-api", "", tok.s)
        t += 900 + rng.uniform(-30, 30)


JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def forged(P: Planner, t: float, attacker: KeyMat) -> str:
    rng = P.rng
    kind = rng.choices(
        ["garbage", "none", "randkid", "jwtio", "tamper", "hs_pub", "inject", "jku"], weights=[2, 3, 3, 2, 4, 2, 1, 1]
    )[0]
    now = int(t)
    admin = {"iss": ACME, "sub": "admin", "aud": "ledger-api", "iat": now, "exp": now + 3600, "role": "admin"}
    if kind == "garbage":
        return rng.choice(
            [
                "null",
                "undefined",
                "Bearer",
                "' OR '1'='1",
                "eyJ",
                b64u(os.urandom(0) + rng.randbytes(48)),
                "a.b.c",
                "eyJhbGciOiJIUzI1NiJ9." + b64u(rng.randbytes(30)),
            ]
        )
    if kind == "none":
        return jenc({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}) + "." + jenc(admin) + "."
    if kind == "randkid":
        return attacker.sign({"alg": "ES256", "kid": b64u(rng.randbytes(9)), "typ": "at+jwt"}, admin)
    if kind == "jwtio":
        return JWT_IO
    seen = [x for x in P.harvest if x.iat <= t - 60]
    if kind in ("tamper", "hs_pub") and seen:
        real = rng.choice(seen)
        h, p, s = real.s.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        claims["sub"] = rng.choice(["admin", "root", "user-00001", "0"])
        claims["exp"] = now + 86400 * 365
        if kind == "tamper":
            return h + "." + jenc(claims) + "." + s
        pem = P.key(real.iss, real.kid, real.ver).public_pem()
        head = jenc({"alg": "HS256", "kid": real.kid, "typ": real.typ})
        body = jenc(claims)
        return head + "." + body + "." + b64u(hmac.new(pem, (head + "." + body).encode(), hashlib.sha256).digest())
    if kind == "inject":
        return attacker.sign(
            {
                "alg": "ES256",
                "kid": rng.choice(["../../../../dev/null", "' UNION SELECT 'k'--", "/proc/self/environ"]),
                "typ": "at+jwt",
            },
            admin,
        )
    return attacker.sign(
        {"alg": "ES256", "kid": "k1", "jku": "https://attacker.example/jwks.json", "typ": "at+jwt"}, admin
    )


def scanners(P: Planner, sc: float, burst: Incident | None) -> None:
    rng = P.rng
    attacker = KeyMat("attacker", "ES256", f"{P.seed}|attacker".encode())

    def hit(t: float, tags: tuple[str, ...] = ()) -> None:
        api = rng.choices(["edge-gateway", "ledger-api"], weights=[0.7, 0.3])[0]
        route = gw_route(rng) if api == "edge-gateway" else ""
        P.add(t, api, route, forged(P, t, attacker), tags)

    t = P.T0
    while t < P.T1:  # background scanners: a few requests an hour, sometimes a short series
        t += rng.expovariate(5.0 / 3600)
        for i in range(rng.choice([1, 1, 1, 2, 3, 6])):
            hit(t + i * rng.uniform(0.5, 4))
    if P.quiet and rng.random() < 0.6:  # a slow pentest session (~2/min for 20 min)
        t = P.sample_time(lambda x: P.business(x, 1.0), 1.0)
        for _ in range(45):
            hit(t)
            t += rng.uniform(10, 45)
    if burst is not None:
        t = burst.p["a"]
        while t < burst.p["b"]:
            hit(t, (burst.id,))
            t += rng.expovariate(40 / 60.0)


# ---------------------------------------------------------------------------------------------- planning task
def plan_task(args: tuple[str, str, float, bool, int, float, str]) -> dict[str, Any]:
    name, start, hours, quiet, seed, scale, out = args
    P = build(name, parse_utc(start), hours, quiet, seed, scale)
    tl = os.path.join(out, name)
    work = os.path.join(out, ".work", name)
    shutil.rmtree(tl, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(tl, "events"))
    os.makedirs(work)
    sched = {
        "pubs": {SLUG[i]: [tuple(x) for x in P.pubs[i]] for i in SLUG},
        "down": {SLUG[i]: P.down[i] for i in SLUG},
        "jwk": {f"{k}|{v}": km.jwk for (k, v), km in P.keys.items()},
        "max_age": {SLUG[i]: P.max_age[i] for i in SLUG},
    }
    with open(os.path.join(work, "schedule.pkl"), "wb") as f:
        pickle.dump(sched, f)
    tasks = []
    for api, lives in P.lives.items():
        for lf in lives:
            if not lf.reqs:
                continue
            lf.reqs.sort(key=lambda r: r[0])
            path = os.path.join(work, lf.name + ".pkl")
            with open(path, "wb") as f:
                pickle.dump({"reqs": lf.reqs, "offsets": lf.offsets}, f)
            tasks.append(
                {
                    "timeline": name,
                    "life": lf.name,
                    "api": api,
                    "audience": lf.audience,
                    "reqs": path,
                    "sched": os.path.join(work, "schedule.pkl"),
                    "events": os.path.join(tl, "events", lf.name + ".jsonl"),
                    "n": len(lf.reqs),
                }
            )
    meta = {
        "timeline": name,
        "quiet": quiet,
        "seed": seed,
        "start": iso(P.T0),
        "end": iso(P.T1),
        "generator": "fleet32",
        "incidents": [
            {
                "id": i.id,
                "kind": i.kind,
                "issuer": i.issuer,
                "kid": i.kid,
                "client_id": i.client_id,
                "profile": i.profile,
                "detail": i.detail,
            }
            for i in P.incidents
        ],
    }
    return {"meta": meta, "tasks": tasks, "n": P.n_req}


# ---------------------------------------------------------------------------------------------- replica task
def run_life(task: dict[str, Any]) -> dict[str, Any]:
    import http.server
    import types

    import jwt
    import jwt.jwk_set_cache
    import jwt.jwks_client
    import time_machine

    import jwtobs

    with open(task["sched"], "rb") as f:
        sched = pickle.load(f)
    with open(task["reqs"], "rb") as f:
        data = pickle.load(f)
    reqs, offsets = data["reqs"], data["offsets"]

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            now = time.time()  # simulated (time_machine)
            slug = self.path.strip("/").split("/")[0]
            status, body = 404, b'{"error":"not_found"}'
            if slug in sched["pubs"]:
                if any(a <= now < b for a, b, _ in sched["down"][slug]):
                    status = next(s for a, b, s in sched["down"][slug] if a <= now < b)
                    body = b'{"error":"upstream unavailable"}'
                else:
                    keys = [sched["jwk"][f"{k}|{v}"] for a, b, k, v in sched["pubs"][slug] if a <= now < b]
                    status, body = 200, json.dumps({"keys": keys}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 200:
                self.send_header("Cache-Control", f"public, max-age={sched['max_age'].get(slug, 300)}")
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"

    shim = types.SimpleNamespace(monotonic=lambda: time.time(), time=time.time, sleep=time.sleep)
    jwt.jwks_client.time = shim  # type: ignore[attr-defined]
    jwt.jwk_set_cache.time = shim  # type: ignore[attr-defined]

    jwtobs.configure(
        events_path=task["events"],
        service=task["api"],
        fingerprint_key=FP_KEY,
        issuers=[ACME, MESH, PART],
        from_env=False,
    )
    api = task["api"]
    fns: dict[str, Any] = {}
    if api == "edge-gateway":
        client = jwt.PyJWKClient(
            f"{base}/acme/jwks.json", cache_keys=False, lifespan=300, timeout=3, cooldown_duration=30
        )

        def validate(token: str, *, audience: str) -> dict[str, Any]:
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=["ES256"],
                audience=audience,
                issuer=ACME,
                leeway=30,
                options={"require": ["exp", "iat", "sub"]},
            )

        for route, aud in GW_AUD.items():
            w = jwtobs.wrap(validate, library="pyjwt", profile=f"gw-{route}", raise_as="jwtobs")
            fns[route] = (lambda w, aud: lambda tok: w(tok, audience=aud))(w, task["audience"] or aud)  # noqa: B023
    elif api == "inventory-svc":
        client = jwt.PyJWKClient(
            f"{base}/mesh/jwks.json", cache_keys=False, lifespan=600, timeout=3, cooldown_duration=30
        )
        aud = task["audience"] or "inventory"

        def validate_m(token: str) -> dict[str, Any]:
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=["EdDSA"],
                audience=aud,
                issuer=MESH,
                leeway=10,
                options={"require": ["exp", "iat", "sub"]},
            )

        fns[""] = jwtobs.wrap(validate_m, library="pyjwt", profile="inventory", raise_as="jwtobs")
    elif api == "ledger-api":
        v1 = jwtobs.Verifier(
            jwtobs.Profile(
                name="ledger", issuer=ACME, audience="ledger-api", algorithms=("ES256",), token_type="at+jwt", leeway=60
            ),
            keys=jwtobs.JwksSource(f"{base}/acme/jwks.json", clock=time.time, timeout=3),
            backend="pyjwt",
        )
        v2 = jwtobs.Verifier(
            jwtobs.Profile(
                name="ledger-partners",
                issuer=PART,
                audience="ledger-api",
                algorithms=("RS256",),
                token_type=None,
                leeway=60,
            ),
            keys=jwtobs.JwksSource(f"{base}/partners/jwks.json", clock=time.time, timeout=3),
            backend="pyjwt",
        )
        vs = jwtobs.VerifierSet([v1, v2])
        fns[""] = vs.verify
    else:
        v = jwtobs.Verifier(
            jwtobs.Profile(
                name="telemetry",
                issuer=ACME,
                audience="telemetry-ingest",
                algorithms=("ES256",),
                token_type="at+jwt",
                leeway=120,
            ),
            keys=jwtobs.JwksSource(f"{base}/acme/jwks.json", clock=time.time, timeout=3, max_stale=900),
            backend="pyjwt",
        )
        fns[""] = v.verify

    def off(t: float) -> float:
        for a, b, o in offsets:
            if a <= t < b:
                return o
        return 0.0

    reasons: collections.Counter[str] = collections.Counter()
    tagged: list[tuple[tuple[str, ...], str, float]] = []
    n = rej = 0
    with time_machine.travel(reqs[0][0] + off(reqs[0][0]), tick=False) as trv:
        for t, route, token, tags in reqs:
            tr = t + off(t)
            trv.move_to(tr)
            try:
                fns[route](token)
                reason = None
            except jwtobs.TokenRejected as exc:
                reason = exc.reason.value
            except Exception as exc:
                r = jwtobs.reason_of(exc)
                reason = r.value if r is not None else "JWT_VALIDATOR_ERROR"
            n += 1
            if reason is not None:
                rej += 1
                reasons[reason] += 1
                if tags:
                    tagged.append((tags, reason, tr))
        jwtobs.flush()
    jwtobs.flush()
    srv.shutdown()
    srv.server_close()
    return {
        "timeline": task["timeline"],
        "life": task["life"],
        "n": n,
        "rejected": rej,
        "reasons": dict(reasons),
        "tagged": tagged,
    }


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", action="append", help="timeline name (repeatable)")
    ap.add_argument("--seed-base", type=int, default=32000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", type=float, default=0.75)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args(argv)
    if a.score_only:
        return _score(a.out, a.only)
    jobs = max(1, min(2, a.jobs))
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    chosen = [(i, tl) for i, tl in enumerate(TIMELINES) if not a.only or tl[0] in a.only]
    if not chosen:
        print("no such timeline; known:", ", ".join(t[0] for t in TIMELINES), file=sys.stderr)
        return 2
    t0 = time.time()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["jwtobs", "jwt", "time_machine", "cryptography.hazmat.primitives.asymmetric.ec"])
    with ctx.Pool(jobs, maxtasksperchild=1) as pool:
        plans = pool.map(
            plan_task, [(n, s, h, q, a.seed_base + i, a.scale, out) for i, (n, s, h, q) in chosen], chunksize=1
        )
        print(f"planned {sum(p['n'] for p in plans)} validations in {time.time() - t0:.1f} s", flush=True)
        tasks = sorted((t for p in plans for t in p["tasks"]), key=lambda t: -t["n"])
        results = []
        for r in pool.imap_unordered(run_life, tasks, chunksize=1):
            results.append(r)
    by_tl: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in results:
        by_tl[r["timeline"]].append(r)
    summary = {}
    for p in plans:
        meta = p["meta"]
        name = meta["timeline"]
        kinds = {i["id"]: i["kind"] for i in meta["incidents"]}
        acc: dict[str, list[float]] = {}
        other: collections.Counter[str] = collections.Counter()
        other_by: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        tot = collections.Counter()
        reasons: collections.Counter[str] = collections.Counter()
        for r in by_tl[name]:
            tot["validations"] += r["n"]
            tot["rejected"] += r["rejected"]
            reasons.update(r["reasons"])
            for tags, reason, tr in r["tagged"]:
                for tag in tags:
                    exp = EXPECTED[kinds[tag]]
                    if exp is None or reason in exp:
                        acc.setdefault(tag, []).append(tr)
                        break
                else:
                    other[reason] += 1
                    for tag in tags:
                        other_by[tag][reason] += 1
        incs = []
        for inc in meta["incidents"]:
            ts = sorted(acc.get(inc["id"], []))
            if not ts:
                print(f"WARNING {name}: incident {inc['id']} caused no rejection; left out", file=sys.stderr)
                continue
            if inc["kind"] == "issuer_stalled" and other_by.get(inc["id"]):
                inc["detail"] += (
                    "; not counted: rejections of the same stale tokens for other reasons "
                    f"{dict(other_by[inc['id']])} (e.g. expired tokens whose key was already retired)"
                )
            incs.append(
                {
                    "id": inc["id"],
                    "kind": inc["kind"],
                    "start": iso(ts[0]),
                    "end": iso(ts[-1]),
                    "count": len(ts),
                    "issuer": inc["issuer"],
                    "kid": inc["kid"],
                    "client_id": inc["client_id"],
                    "profile": inc["profile"],
                    "detail": inc["detail"],
                }
            )
        labels = {k: meta[k] for k in ("timeline", "quiet", "seed", "start", "end", "generator")}
        labels["incidents"] = incs
        with open(os.path.join(out, name, "labels.json"), "w") as f:
            json.dump(labels, f, indent=2)
        summary[name] = {
            "validations": tot["validations"],
            "rejected": tot["rejected"],
            "replica_files": len(by_tl[name]),
            "reasons": dict(reasons.most_common()),
            "incidents": {i["id"]: (i["kind"], i["count"]) for i in incs},
            "tagged_rejections_other_reason": dict(other),
        }
    shutil.rmtree(os.path.join(out, ".work"), ignore_errors=True)
    with open(os.path.join(out, "fleet32-summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    for name, s in summary.items():
        print(
            f"{name}: {s['validations']} validations, {s['rejected']} rejected, {s['replica_files']} replica files, "
            f"incidents {s['incidents']}"
        )
    print(f"done in {time.time() - t0:.1f} s", flush=True)
    return _score(out, a.only) if a.score else 0


def _score(out: str, only: list[str] | None) -> int:
    """jwtobs's detectors over the generated timelines, scored as ``benchmarks/fleet22.py`` scores its own (a
    detection matches a label of its kind and entity overlapping it +-120 s; on a quiet day every detection is a
    false one)."""
    from pathlib import Path

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    names = [t[0] for t in TIMELINES if not only or t[0] in only]
    fleet22.report([fleet22.score(Path(out) / n) for n in names if (Path(out) / n / "labels.json").exists()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
