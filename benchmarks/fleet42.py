"""fleet42: an independent benchmark data generator for a retail / e-commerce fleet ("ShopMart").

Every event is written by jwtobs itself from a real validation: keys are generated at run time, tokens are
signed with PyJWT, key sets are served by a real ``http.server`` on 127.0.0.1 (port 0), simulated time is moved
with ``time_machine`` (``travel(tick=False)`` then ``move_to`` before each validation) and each replica of each
API writes its own events file through ``jwtobs.configure(events_path=..., service=<api>)``.

Issuers (``ISSUERS``)
  customer   ``https://login.shopmart.example/`` (Auth0-like) RS256, ``typ: at+jwt``, 1 h access tokens, ``azp``
             = the app (shop-ios, shop-android, shop-web: many devices per client id); also issues ID tokens
             (``typ: JWT``, ``aud`` = client id, ``nonce``) and JWT refresh tokens (``typ: rt+jwt``).
  workforce  ``https://shopmart.okta.example/oauth2/default`` (Okta-like) RS256, no ``typ``, 1 h, ``cid`` =
             device group (pos-east, pos-central, pos-west, scanner-east, ...).
  seller     ``https://auth.sellers.shopmart.example`` marketplace OAuth server, client credentials, RS256,
             ``typ: at+jwt``, 15 or 30 min per seller, ``client_id`` = mkt-seller-NNNN (50 sellers).
  payments   ``https://issuer.paypartner.example`` payments partner, ES256, 5 min, ``azp``.
  internal   ``https://sts.internal.shopmart.example`` service tokens self-signed by each internal service with
             its own ES256 key (kid per service), stamped with the service host's clock, 10 min.

APIs (``APIS``; each its own ``service`` and profile, several replicas, one events file per replica)
  storefront-api  jwtobs.wrap(own fn, pyjwt) + PyJWKClient (default 300 s lifespan), leeway 30, 3 + 3 autoscaled
  cart-api        Verifier(pyjwt backend) + JwksSource, at+jwt, leeway 10, 2 + 2 autoscaled
  checkout-api    Verifier(joserfc backend) + JwksSource, at+jwt, leeway 0, 2
  edge-gateway    Verifier(jwcrypto backend) + JwksSource with 1 h minimum TTL, at+jwt, leeway 30, 8 edge POPs
                  (region-sticky), each isolate restarted (cold cache) every 1-4 h
  loyalty-api     VerifierSet(customer at+jwt, workforce) authlib backend, leeway 30, 2
  store-ops-api   jwtobs.wrap(python-jose) with the app's own key cache (1 h, keys named by kid, the whole set
                  when the kid is unknown), leeway 120, 2
  seller-api      jwtobs.wrap(joserfc decode + JWTClaimsRegistry) own KeySet cache (10 min), leeway 10, 2
  pricing-api     jwtobs.wrap(own fn, pyjwt) + PyJWKClient(lifespan 3600), seller tokens, leeway 0, 2
  payments-api    jwtobs.wrap(Authlib decode + validate) own key cache, ES256, leeway 0, 2
  inventory-api   jwtobs.wrap(jwcrypto JWT.deserialize) own JWKSet cache, internal tokens, leeway 60, 2

Background in every timeline (quiet ones too)
  - shopper sessions in 3 time zones (UTC-5/-6/-8, 40/25/35 %), diurnal + weekly curve; devices keep tokens
    between sessions; 30 % of mobile apps present the stored token first and refresh after the 401; browser
    clocks off (3 % of web devices by 2-30 min, 0.5 % of mobile); proactive refresh 60 s before exp (own clock)
  - one flash sale per day (12 h incident timelines: one): 5-10x sessions for 20-60 min, plus a push
    notification that resumes ~8 % of the device pool within 5 min (stale tokens -> some JWT_EXPIRED, not an
    incident); storefront and cart autoscale (cold caches) for the surge
  - POS terminals and handheld scanners (15 stores, open 08-22 local): per-device clock drift, 8 % boot with a
    wrong clock until NTP syncs (5-15 min), 1-2 store network outages per day (20-90 min) after which queued
    requests are flushed with the token held during the outage
  - sellers polling (60-900 s) with proactive / lazy-after-401 / retry-same-token-with-backoff / duplicate
    sends / new-token-per-call integrations, hourly price-feed batches to pricing-api
  - payments partner calls proportional to shopping, settlement batches every 30 min
  - internal jobs (inventory sync, order router, price feed, POS bridge, nightly reconcile whose cached token
    from the night before is presented once then replaced) with cached self-signed tokens
  - scanners / credential-stuffing bots: 1-3 garbage tokens/min (alg none, random kid, typ JWT without client id,
    tampered real tokens, truncated tokens, 70 KB tokens, HS256 with the public key, years-expired tokens)
  - healthy key rotations with overlap (customer, workforce, seller, payments, internal per-service keys)
  - JWKS blips (20-90 s of 503 / connection reset) and a CDN serving the customer key set as of 2 h before
    (during an overlap, harmless), rolling deploys, crashes (2-4 min down), autoscaling

Incidents (incident timelines inc-1..inc-4, 12 h each; ``INCIDENTS``), each kind 3-4 times, some during the surge:
  kid_before_publish, key_removed_early, jwks_outage, signature_spike, clock_skew (device groups and services,
  ahead/behind, constant/drifting), server_clock_skew (issuer clocks; one edge POP's and one cart replica's clock),
  issuer_stalled (token endpoint down: clients keep presenting what they hold), audience_misconfig (an API
  deployed wrong; one seller requesting the wrong audience), type_confusion (ID / refresh tokens sent to at+jwt
  APIs), attack_burst.

Labels: ``<out>/<timeline>/labels.json`` as the scorer expects; requests carry the ids of the incidents that
could make them fail (token-level tags stop 15 min after the token's exp; window tags by issuer, client,
api/replica); events are matched to requests by order within each replica file; a rejection counts when it has
the tag and a reason the kind causes. ``summary.json`` has counts, reasons, wall time, mismatches and the
injected incidents without any counted rejection.

Usage: ``python benchmarks/fleet42.py --out DIR [--only NAME,...] [--seed-base N] [--scale F] [--workers 2]``
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import hashlib
import http.server
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import types
import urllib.request
import warnings

DAY = 86400.0
HOUR = 3600.0
MIN = 60.0
GENERATOR = "fleet42"

ISSUERS = {
    "customer": {"url": "https://login.shopmart.example/", "alg": "RS256", "ttl": 3600, "max_age": 600},
    "workforce": {"url": "https://shopmart.okta.example/oauth2/default", "alg": "RS256", "ttl": 3600, "max_age": 900},
    "seller": {"url": "https://auth.sellers.shopmart.example", "alg": "RS256", "ttl": 1800, "max_age": 600},
    "payments": {"url": "https://issuer.paypartner.example", "alg": "ES256", "ttl": 300, "max_age": 300},
    "internal": {"url": "https://sts.internal.shopmart.example", "alg": "ES256", "ttl": 600, "max_age": 300},
}
AUD = {
    "customer": "https://api.shopmart.example",
    "workforce": "api://shopmart-stores",
    "seller": "https://sellers.shopmart.example/api",
    "payments": "https://payments.shopmart.example",
}
APIS = {
    "storefront-api": {"kind": "pyjwt", "lifespan": 300, "iss": ["customer"], "leeway": 30, "n": 3, "surge": 3},
    "cart-api": {"kind": "verifier", "backend": "pyjwt", "iss": ["customer"], "leeway": 10, "n": 2, "surge": 2},
    "checkout-api": {"kind": "verifier", "backend": "joserfc", "iss": ["customer"], "leeway": 0, "n": 2},
    "edge-gateway": {"kind": "verifier", "backend": "jwcrypto", "iss": ["customer"], "leeway": 30, "n": 8, "edge": 1},
    "loyalty-api": {"kind": "verifier", "backend": "authlib", "iss": ["customer", "workforce"], "leeway": 30, "n": 2},
    "store-ops-api": {"kind": "jose", "iss": ["workforce"], "leeway": 120, "n": 2},
    "seller-api": {"kind": "joserfc", "iss": ["seller"], "leeway": 10, "n": 2},
    "pricing-api": {"kind": "pyjwt", "lifespan": 3600, "iss": ["seller"], "leeway": 0, "n": 2},
    "payments-api": {"kind": "authlib", "iss": ["payments"], "leeway": 0, "n": 2},
    "inventory-api": {"kind": "jwcrypto", "iss": ["internal"], "leeway": 60, "n": 2},
}
TZ = {"east": -5, "central": -6, "west": -8}
EDGE_POPS = {"east": (0, 1, 2), "central": (3, 4), "west": (5, 6, 7)}
SHOP_CURVE = [0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.55, 0.8, 0.95, 1.05, 1.2]
SHOP_CURVE += [1.35, 1.3, 1.2, 1.15, 1.2, 1.35, 1.55, 1.75, 1.85, 1.6, 1.1, 0.6]
_m = sum(SHOP_CURVE) / 24
SHOP_CURVE = [v / _m for v in SHOP_CURVE]
WEEKDAY = [0.95, 0.95, 1.0, 1.0, 1.1, 1.25, 1.15]
SERVICES = ["svc-inventory-sync", "svc-order-router", "svc-price-feed", "svc-pos-bridge", "svc-nightly-reconcile"]

REASONS_OF = {
    "kid_before_publish": {"JWT_UNKNOWN_KID", "JWT_BAD_SIGNATURE"},
    "key_removed_early": {"JWT_UNKNOWN_KID", "JWT_BAD_SIGNATURE"},
    "jwks_outage": {"JWT_JWKS_UNAVAILABLE"},
    "signature_spike": {"JWT_BAD_SIGNATURE"},
    "clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "server_clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "issuer_stalled": {"JWT_EXPIRED"},
    "audience_misconfig": {"JWT_AUDIENCE_MISMATCH"},
    "type_confusion": {"JWT_TYPE_MISMATCH", "JWT_AUDIENCE_MISMATCH"},
    "attack_burst": None,  # any rejection
}
TIMELINES = {
    "quiet-1": ("2026-03-02T00:00:00", 24, True),
    "quiet-2": ("2026-03-05T00:00:00", 24, True),
    "quiet-3": ("2026-03-07T00:00:00", 24, True),
    "quiet-4": ("2026-03-15T00:00:00", 24, True),
    "inc-1": ("2026-03-10T11:00:00", 12, False),
    "inc-2": ("2026-03-12T11:00:00", 12, False),
    "inc-3": ("2026-03-14T11:00:00", 12, False),
    "inc-4": ("2026-03-17T11:00:00", 12, False),
}
# (timeline, kind, offset hours into the timeline (None: during the flash sale), params); ``_jit`` varies them by seed
INCIDENTS = [
    ("inc-1", "kid_before_publish", 1.5, {"iss": "customer", "delay": 20}),
    ("inc-1", "clock_skew", 2.0, {"client": "scanner-east", "offset": -900, "drift": 0, "dur": 180}),
    ("inc-1", "audience_misconfig", 4.0, {"api": "seller-api", "dur": 25}),
    ("inc-1", "attack_burst", None, {"rate": 150, "dur": 20}),
    ("inc-1", "jwks_outage", 8.0, {"iss": "seller", "dur": 40, "restart": "seller-api"}),
    ("inc-1", "type_confusion", 6.5, {"client": "shop-android", "tok": "id", "api": "cart-api", "dur": 60}),
    ("inc-1", "server_clock_skew", 10.0, {"iss": "payments", "offset": 240, "dur": 60}),
    ("inc-2", "key_removed_early", 2.0, {"iss": "customer", "after": 10}),
    ("inc-2", "signature_spike", 3.5, {"svc": "svc-pos-bridge", "dur": 20}),
    ("inc-2", "issuer_stalled", 5.0, {"iss": "seller", "dur": 30}),
    ("inc-2", "clock_skew", 7.0, {"client": "svc-order-router", "offset": 180, "drift": 180, "dur": 90}),
    ("inc-2", "server_clock_skew", 1.0, {"api": "edge-gateway", "rep": 1, "offset": 1200, "dur": 45}),
    ("inc-2", "audience_misconfig", 8.5, {"client": "mkt-seller-0017", "dur": 120}),
    ("inc-2", "attack_burst", 10.5, {"rate": 40, "dur": 10}),
    ("inc-3", "kid_before_publish", 1.0, {"iss": "workforce", "delay": 6}),
    ("inc-3", "jwks_outage", None, {"iss": "customer", "dur": 45}),
    ("inc-3", "signature_spike", None, {"iss": "customer", "dur": 10, "lead": 20}),
    ("inc-3", "issuer_stalled", 3.0, {"iss": "workforce", "dur": 40}),
    ("inc-3", "type_confusion", 9.0, {"client": "shop-web", "tok": "refresh", "api": "checkout-api", "dur": 40}),
    ("inc-3", "clock_skew", 4.5, {"client": "mkt-seller-0009", "offset": 0, "drift": -2400, "dur": 120}),
    ("inc-3", "server_clock_skew", 10.5, {"iss": "workforce", "offset": -4200, "dur": 30}),
    ("inc-4", "key_removed_early", 2.5, {"iss": "seller", "after": 5}),
    ("inc-4", "signature_spike", 4.0, {"iss": "payments", "dur": 15}),
    ("inc-4", "jwks_outage", 5.5, {"iss": "workforce", "dur": 20, "restart": "store-ops-api"}),
    ("inc-4", "issuer_stalled", None, {"iss": "customer", "dur": 25, "lead": 5}),
    ("inc-4", "audience_misconfig", 9.5, {"api": "cart-api", "rep": 0, "dur": 15}),
    ("inc-4", "type_confusion", 7.0, {"client": "shop-ios", "tok": "id", "api": "edge-gateway", "dur": 30}),
    ("inc-4", "attack_burst", 10.0, {"rate": 300, "dur": 30}),
    ("inc-4", "server_clock_skew", 1.5, {"api": "cart-api", "rep": 1, "offset": -600, "dur": 50}),
    ("inc-4", "clock_skew", 8.0, {"client": "svc-inventory-sync", "offset": -720, "drift": 0, "dur": 45}),
    ("inc-4", "kid_before_publish", 3.0, {"svc": "svc-price-feed", "delay": 12}),
]


# ----------------------------------------------------------------------------------------------- helpers


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    lim, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= lim:
            return k
        k += 1


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# ------------------------------------------------------------------------------------------------ keys

KEYS: dict[str, object] = {}  # key id (material name) -> private key object (generated at run time)


def gen_key(name: str, alg: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg.startswith("RS") or alg.startswith("PS"):
        KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        KEYS[name] = ec.generate_private_key(ec.SECP256R1())


def public_jwk(name: str, kid: str, alg: str) -> dict:
    import jwt

    k = KEYS[name].public_key()
    algo = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    j = json.loads(algo.to_jwk(k))
    j.update({"kid": kid, "alg": alg, "use": "sig"})
    return j


# --------------------------------------------------------------------------------------------- planning


class Tok:
    __slots__ = ("at", "exp", "idx", "iss", "tags")

    def __init__(self, idx: int, exp: float, iss: str, tags: tuple, at: float) -> None:
        self.idx, self.exp, self.iss, self.tags, self.at = idx, exp, iss, tags, at


class Plan:
    """One timeline: issuers' key schedules, faults, incidents, token specs and routed requests."""

    def __init__(self, name: str, seed: int, scale: float) -> None:
        start_s, hours, quiet = TIMELINES[name]
        self.name, self.seed, self.scale, self.quiet = name, seed, scale, quiet
        self.t0 = dt.datetime.fromisoformat(start_s).replace(tzinfo=dt.UTC).timestamp()
        self.t1 = self.t0 + hours * HOUR
        self.rng = random.Random(seed)
        self.tokens: list[tuple] = []  # specs
        self.reqs: dict[tuple, list] = collections.defaultdict(list)  # (api, rep) -> [(t, tok, tags)]
        self.keysched: dict[str, list[dict]] = {i: [] for i in ISSUERS}  # issuer -> keys
        self.faults: dict[str, list[tuple]] = {i: [] for i in ISSUERS}  # issuer -> (s, e, mode, arg)
        self.epochs: dict[tuple, list] = collections.defaultdict(list)  # (api, rep) -> [(t, overrides)]
        self.down: dict[tuple, list] = collections.defaultdict(list)  # (api, rep) -> [(s, e)]
        self.alive: dict[tuple, tuple] = {}  # (api, rep) -> (s, e)
        self.clockwin: dict[tuple, list] = collections.defaultdict(list)  # (api, rep) -> [(s, e, off0, off1, id)]
        self.incidents: list[dict] = []
        self.win: list[tuple] = []  # window tags: (kind-of-match, key, s, e, id)
        self.stalls: dict[str, list] = collections.defaultdict(list)
        self.iss_skew: dict[str, list] = collections.defaultdict(list)  # issuer -> (s, e, off, id)
        self.sign_override: dict[str, list] = collections.defaultdict(list)  # issuer/svc -> (s, e, kid, mat, id)
        self.dev_skew: dict[str, list] = collections.defaultdict(list)  # client -> (s, e, off0, off1, frac, id)
        self.wrong_aud: dict[str, list] = collections.defaultdict(list)  # client -> (s, e, id)
        self.confusion: dict[str, list] = collections.defaultdict(list)  # client -> (s, e, tok, api, frac, id)
        self.fingerprint_key = hashlib.sha256(f"fleet42-{seed}".encode()).hexdigest()
        self.surges: list[tuple] = []
        self.audwin: dict[tuple, list] = collections.defaultdict(list)  # (api, rep) -> [(s, e, wrong aud)]
        self.n_req = 0

    # --- time helpers
    def jit(self, v: float, frac: float = 0.25) -> float:
        return v * (1 + self.rng.uniform(-frac, frac))

    def shop_rate(self, t: float, tz: str) -> float:
        local = t + TZ[tz] * HOUR
        d = dt.datetime.fromtimestamp(local, dt.UTC)
        h = d.hour + d.minute / 60
        i = int(h) % 24
        f = h - int(h)
        v = SHOP_CURVE[i] * (1 - f) + SHOP_CURVE[(i + 1) % 24] * f
        v *= WEEKDAY[d.weekday()]
        for s, e, mult in self.surges:
            if s <= t < e:
                v *= mult
        return v

    def local_hour(self, t: float, tz: str) -> float:
        d = dt.datetime.fromtimestamp(t + TZ[tz] * HOUR, dt.UTC)
        return d.hour + d.minute / 60

    # --- keys
    def add_key(self, iss: str, kid: str, mat: str, pub_from: float, pub_until: float, sign_from: float, sign_until):
        alg = ISSUERS[iss]["alg"]
        if mat not in KEYS:
            gen_key(mat, alg)
        self.keysched[iss].append(
            {"kid": kid, "mat": mat, "alg": alg, "pub": (pub_from, pub_until), "sign": (sign_from, sign_until)}
        )

    def signing_key(self, iss: str, t: float, svc: str | None = None) -> dict:
        best = None
        for k in self.keysched[iss]:
            if svc is not None and k.get("svc") != svc:
                continue
            if k["sign"][0] <= t < k["sign"][1] and (best is None or k["sign"][0] > best["sign"][0]):
                best = k
        if best is None:
            raise RuntimeError(f"no signing key for {iss}/{svc} at {iso(t)}")
        return best

    # --- tokens
    def new_token(self, spec: tuple, exp: float, iss: str, tags: tuple, at: float) -> Tok:
        self.tokens.append(spec)
        return Tok(len(self.tokens) - 1, exp, iss, tags, at)

    def stalled(self, iss: str, t: float) -> bool:
        return any(s <= t < e for s, e, _ in self.stalls[iss])

    def issue(self, iss: str, t: float, client: str, sub: str, kind: str = "access", aud=None, ttl=None):
        """Token from an issuer's token endpoint at (real) time t, or None when the endpoint is down."""
        if self.stalled(iss, t):
            return None
        tags: list = []
        stamp = t
        for s, e, off, iid in self.iss_skew[iss]:
            if s <= t < e:
                stamp = t + off
                tags.append(iid)
        key = self.signing_key(iss, t)
        kid, mat = key["kid"], key["mat"]
        tags.extend(key.get("tags", ()))
        for s, e, okid, omat, iid in self.sign_override[iss]:
            if s <= t < e and okid == kid:
                mat = omat
                tags.append(iid)
        ttl = ttl or ISSUERS[iss]["ttl"]
        iat = int(stamp)
        exp = iat + ttl
        jti = f"{self.name}-{len(self.tokens)}"
        hdr: dict = {"kid": kid}
        if iss == "customer":
            if kind == "access":
                hdr["typ"] = "at+jwt"
                claims = {"iss": ISSUERS[iss]["url"], "sub": sub, "aud": aud or AUD[iss], "azp": client}
                claims.update({"scope": "openid profile cart:write orders:read", "iat": iat, "exp": exp, "jti": jti})
            elif kind == "id":
                hdr["typ"] = "JWT"
                claims = {"iss": ISSUERS[iss]["url"], "sub": sub, "aud": client, "nonce": jti[-8:], "iat": iat}
                at_hash = b64u(hashlib.sha256(jti.encode()).digest()[:16])
                claims.update({"exp": exp, "auth_time": iat - 30, "at_hash": at_hash})
            else:  # refresh token issued as a JWT
                hdr["typ"] = "rt+jwt"
                exp = iat + 30 * 86400
                claims = {"iss": ISSUERS[iss]["url"], "sub": sub, "aud": ISSUERS[iss]["url"], "azp": client}
                claims.update({"iat": iat, "exp": exp, "jti": jti})
        elif iss == "workforce":
            claims = {"ver": 1, "jti": "AT." + jti, "iss": ISSUERS[iss]["url"], "aud": aud or AUD[iss], "iat": iat}
            claims.update({"exp": exp, "cid": client, "uid": sub, "scp": ["pos", "inventory.read"], "sub": sub})
        elif iss == "seller":
            hdr["typ"] = "at+jwt"
            claims = {"iss": ISSUERS[iss]["url"], "sub": client, "aud": aud or AUD[iss], "client_id": client}
            claims.update({"scope": "orders.read listings.write", "iat": iat, "exp": exp, "jti": jti})
        else:  # payments
            hdr["typ"] = "at+jwt"
            claims = {"iss": ISSUERS[iss]["url"], "sub": client, "aud": AUD[iss], "azp": client, "iat": iat}
            claims.update({"nbf": iat, "exp": exp, "jti": jti})
        return self.new_token(("sign", mat, key["alg"], hdr, claims), exp, iss, tuple(tags), t)

    def self_sign(self, svc: str, t: float, local: float, aud: str, tags=()) -> Tok:
        """Internal service token, signed by the service with its own key, stamped with its own clock."""
        key = self.signing_key("internal", t, svc=svc)
        kid, mat = key["kid"], key["mat"]
        tags = list(tags) + list(key.get("tags", ()))
        for s, e, _kid, omat, iid in self.sign_override[svc]:
            if s <= t < e:
                mat = omat
                tags.append(iid)
        iat = int(local)
        claims = {"iss": ISSUERS["internal"]["url"], "sub": svc, "azp": svc, "aud": aud, "iat": iat, "nbf": iat}
        claims.update({"exp": iat + 600, "jti": f"{self.name}-{len(self.tokens)}"})
        spec = ("sign", mat, "ES256", {"kid": kid, "typ": "JWT"}, claims)
        return self.new_token(spec, iat + 600, "internal", tuple(tags), t)

    # --- routing / requests
    def replicas(self, api: str, t: float) -> list[int]:
        out = []
        for (a, r), (s, e) in self.alive.items():
            if a == api and s <= t < e and not any(ds <= t < de for ds, de in self.down[(a, r)]):
                out.append(r)
        return out

    def send(self, t: float, api: str, tok: Tok | int, sticky=None, extra_tags=(), client=None, iss=None):
        if not (self.t0 <= t < self.t1):
            return
        reps = self.replicas(api, t)
        if not reps:
            return
        if APIS[api].get("edge"):
            pops = [r for r in reps if r in EDGE_POPS[sticky[0]]] if sticky else []
            rep = pops[hash_int(sticky[1]) % len(pops)] if pops else reps[hash_int(str(sticky)) % len(reps)]
        else:
            rep = self.rng.choice(reps)
        tags = list(extra_tags)
        if isinstance(tok, Tok):
            if t <= tok.exp + 900:
                tags.extend(tok.tags)
            iss = tok.iss
            idx = tok.idx
        else:
            idx = tok
        for kind, key, s, e, iid in self.win:
            if s <= t < e and (
                (kind == "iss" and key == iss)
                or (kind == "client" and key == client)
                or (kind == "api" and key == api)
                or (kind == "rep" and key == (api, rep))
            ):
                tags.append(iid)
        self.reqs[(api, rep)].append((t, idx, tuple(sorted(set(tags)))))
        self.n_req += 1


def hash_int(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "big")


# ----------------------------------------------------------------------------------- background building


def build_infra(p: Plan) -> None:
    rng = p.rng
    t0, t1 = p.t0, p.t1
    far = t1 + DAY
    pre = t0 - 3 * DAY
    # key schedules: one current key per issuer, some healthy rotations with overlap
    for iss in ("customer", "workforce", "seller", "payments"):
        rot = iss == "customer" and p.name in ("quiet-2", "quiet-4")
        rot = rot or (iss == "workforce" and p.name == "quiet-3")
        rot = rot or (iss == "seller" and p.name in ("quiet-1", "inc-3"))
        rot = rot or (iss == "payments" and p.name in ("quiet-4", "inc-2"))
        a = f"{iss}-{p.name}-a"
        if rot:
            pub_b = t0 + rng.uniform(0.08, 0.25) * (t1 - t0)
            sign_b = pub_b + rng.uniform(2.0, 2.5) * HOUR  # after every cache TTL (edge 1 h, PyJWKClient 1 h)
            rm_a = sign_b + ISSUERS[iss]["ttl"] + rng.uniform(1, 2) * HOUR
            p.add_key(iss, f"{iss[:4]}-2026-02", a, pre, rm_a, pre, sign_b)
            p.add_key(iss, f"{iss[:4]}-2026-03", f"{iss}-{p.name}-b", pub_b, far, sign_b, far)
        else:
            p.add_key(iss, f"{iss[:4]}-2026-02", a, pre, far, pre, far)
    for svc in SERVICES:
        mat = f"{svc}-{p.name}-1"
        if rng.random() < 0.5:  # healthy per-service rotation: publish, wait 15 min, switch, remove 70 min later
            pub = t0 + rng.uniform(0.1, 0.7) * (t1 - t0)
            sw = pub + 15 * MIN
            p.add_key("internal", f"{svc}-k1", mat, pre, sw + 70 * MIN, pre, sw)
            p.add_key("internal", f"{svc}-k2", f"{svc}-{p.name}-2", pub, far, sw, far)
        else:
            p.add_key("internal", f"{svc}-k1", mat, pre, far, pre, far)
    for k in p.keysched["internal"]:
        k["svc"] = k["kid"].rsplit("-", 1)[0]
    # JWKS blips (20-90 s of 503 / reset) and one stale CDN window for the customer key set
    for iss in ISSUERS:
        for _ in range(rng.randint(1, 3)):
            s = rng.uniform(t0, t1)
            p.faults[iss].append((s, s + rng.uniform(20, 90), rng.choice(["503", "502", "reset"]), None))
    s = rng.uniform(t0 + HOUR, t1 - HOUR)
    p.faults["customer"].append((s, s + rng.uniform(10, 30) * MIN, "stale", 2 * HOUR))
    # flash sale(s)
    days = max(1, round((t1 - t0) / DAY))
    for d in range(days):
        base = t0 + d * DAY
        s = base + rng.uniform(16.5, 23.5) * HOUR if p.quiet else t0 + rng.uniform(5.5, 7.0) * HOUR
        s = min(s, t1 - 1.2 * HOUR)
        p.surges.append((s, s + rng.uniform(20, 60) * MIN, rng.uniform(5, 10)))
    # replicas: alive windows, rolling deploys, crashes, autoscaling, edge isolate recycling
    for api, cfg in APIS.items():
        for r in range(cfg["n"]):
            p.alive[(api, r)] = (t0, t1)
            p.epochs[(api, r)].append((t0, {}))
        for r in range(cfg["n"], cfg["n"] + cfg.get("surge", 0)):
            for s, e, _ in p.surges:
                p.alive[(api, r)] = (s - 5 * MIN, e + 20 * MIN)
                p.epochs[(api, r)].append((s - 5 * MIN, {}))
        dep = t0 + rng.uniform(0.2, 0.9) * (t1 - t0)
        for r in range(cfg["n"]):  # rolling deploy: one replica after another, each down ~1 min
            ts = dep + r * 3 * MIN
            p.down[(api, r)].append((ts, ts + 60))
            p.epochs[(api, r)].append((ts + 60, {}))
        for _ in range(rng.randint(0, 1)):  # a crash
            r = rng.randrange(cfg["n"])
            ts = rng.uniform(t0, t1)
            p.down[(api, r)].append((ts, ts + rng.uniform(120, 240)))
            p.epochs[(api, r)].append((p.down[(api, r)][-1][1], {}))
        if cfg.get("edge"):
            for r in range(cfg["n"]):
                ts = t0 + rng.uniform(1, 4) * HOUR
                while ts < t1:
                    p.epochs[(api, r)].append((ts, {}))
                    ts += rng.uniform(1, 4) * HOUR


def inject(p: Plan) -> None:
    """Incidents of this timeline: fills the plan's schedules and tags."""
    rng = p.rng
    n = 0
    for tl, kind, at, prm in INCIDENTS:
        if tl != p.name:
            continue
        n += 1
        iid = f"{p.name}-{n:02d}-{kind}"
        s0 = p.surges[0][0] - prm.get("lead", 0) * MIN + rng.uniform(0, 8) * MIN if at is None else p.t0 + at * HOUR
        s0 += rng.uniform(-10, 10) * MIN if at is not None else 0
        dur = p.jit(prm.get("dur", 30)) * MIN
        e0 = s0 + dur
        inc = {"id": iid, "kind": kind, "issuer": None, "kid": None, "client_id": None, "profile": None}
        if kind == "kid_before_publish":
            delay = p.jit(prm["delay"]) * MIN
            if "svc" in prm:
                svc = prm["svc"]
                for k in p.keysched["internal"]:
                    if k.get("svc") == svc and k["sign"][1] > s0:
                        k["sign"] = (k["sign"][0], s0)
                        k["pub"] = (k["pub"][0], max(k["pub"][1], s0 + 2 * HOUR))
                kid = f"{svc}-k9"
                p.add_key("internal", kid, f"{svc}-{p.name}-9", s0 + delay, p.t1 + DAY, s0, p.t1 + DAY)
                p.keysched["internal"][-1]["svc"] = svc
            else:
                iss = prm["iss"]
                for k in p.keysched[iss]:
                    if k["sign"][1] > s0:
                        k["sign"] = (k["sign"][0], s0)
                        k["pub"] = (k["pub"][0], max(k["pub"][1], s0 + 3 * HOUR))
                kid = f"{iss[:4]}-2026-03x"
                p.add_key(iss, kid, f"{iss}-{p.name}-x", s0 + delay, p.t1 + DAY, s0, p.t1 + DAY)
            p.keysched["internal" if "svc" in prm else prm["iss"]][-1]["tags"] = (iid,)
            # tokens signed with the new kid carry the tag (issued before publish + 10 min)
            p.keysched["internal" if "svc" in prm else prm["iss"]][-1]["tag_until"] = s0 + delay + 10 * MIN
            inc.update(kid=kid, detail=f"signing with {kid} from {iso(s0)}, published {delay / 60:.0f} min later")
        elif kind == "key_removed_early":
            iss = prm["iss"]
            old = next(k for k in p.keysched[iss] if k["sign"][1] > s0)
            old["sign"] = (old["sign"][0], s0)
            rm = s0 + p.jit(prm["after"]) * MIN
            old["pub"] = (old["pub"][0], rm)
            old["tags"] = (iid,)
            old["tag_from"] = s0 - ISSUERS[iss]["ttl"]
            newkid = f"{iss[:4]}-2026-03r"
            p.add_key(iss, newkid, f"{iss}-{p.name}-r", s0 - 2 * HOUR, p.t1 + DAY, s0, p.t1 + DAY)
            inc.update(kid=old["kid"], detail=f"{old['kid']} removed {(rm - s0) / 60:.0f} min after the switch")
        elif kind == "jwks_outage":
            iss = prm["iss"]
            p.faults[iss].append((s0, e0, "503" if rng.random() < 0.7 else "reset", None))
            p.win.append(("iss", iss, s0, e0 + 5 * MIN, iid))
            if "restart" in prm:
                api = prm["restart"]
                ts = s0 + dur * 0.4
                p.down[(api, 0)].append((ts, ts + 90))
                p.epochs[(api, 0)].append((ts + 90, {}))
            inc.update(issuer=ISSUERS[iss]["url"], detail=f"key set of {iss} failing for {dur / 60:.0f} min")
        elif kind == "signature_spike":
            if "svc" in prm:
                svc = prm["svc"]
                mat = f"{svc}-{p.name}-bad"
                gen_key(mat, "ES256")
                kid = p.signing_key("internal", s0, svc=svc)["kid"]
                p.sign_override[svc].append((s0, e0, kid, mat, iid))
            else:
                iss = prm["iss"]
                mat = f"{iss}-{p.name}-bad"
                gen_key(mat, ISSUERS[iss]["alg"])
                kid = p.signing_key(iss, s0)["kid"]
                p.sign_override[iss].append((s0, e0, kid, mat, iid))
            inc.update(kid=kid, detail=f"{kid} signed with other key material for {dur / 60:.0f} min")
        elif kind == "clock_skew":
            c = prm["client"]
            p.dev_skew[c].append((s0, e0, prm["offset"], prm["offset"] + prm["drift"], prm.get("frac", 1.0), iid))
            p.win.append(("client", c, s0, e0 + 10 * MIN, iid))
            inc.update(client_id=c, detail=f"clock {prm['offset']:+d} s drifting {prm['drift']:+d} s")
        elif kind == "server_clock_skew":
            if "iss" in prm:
                iss = prm["iss"]
                p.iss_skew[iss].append((s0, e0, prm["offset"], iid))
                inc.update(issuer=ISSUERS[iss]["url"], detail=f"issuer clock {prm['offset']:+d} s")
            else:
                api, rep = prm["api"], prm["rep"]
                p.clockwin[(api, rep)].append((s0, e0, prm["offset"], iid))
                p.win.append(("rep", (api, rep), s0, e0, iid))
                inc.update(profile=api, detail=f"replica {rep} clock {prm['offset']:+d} s")
        elif kind == "issuer_stalled":
            iss = prm["iss"]
            p.stalls[iss].append((s0, e0, iid))
            p.win.append(("iss", iss, s0, e0 + 10 * MIN, iid))
            inc.update(issuer=ISSUERS[iss]["url"], detail=f"token endpoint down {dur / 60:.0f} min")
        elif kind == "audience_misconfig":
            if "api" in prm:
                api = prm["api"]
                reps = [prm["rep"]] if "rep" in prm else range(APIS[api]["n"])
                for r in reps:
                    p.audwin[(api, r)].append((s0, e0, "https://api.staging.shopmart.example"))
                    p.win.append(("rep", (api, r), s0, e0, iid))
                inc.update(profile=api, detail="deployed with the staging audience")
            else:
                c = prm["client"]
                p.wrong_aud[c].append((s0, e0, iid))
                inc.update(client_id=c, detail="client requests tokens for the v2 audience")
        elif kind == "type_confusion":
            c = prm["client"]
            p.confusion[c].append((s0, e0, prm["tok"], prm["api"], 0.35, iid))
            inc.update(client_id=c, detail=f"{prm['tok']} tokens sent to {prm['api']}")
        elif kind == "attack_burst":
            inc.update(detail=f"{prm['rate']}/min for {dur / 60:.0f} min")
            inc["_burst"] = (s0, e0, prm["rate"])
        inc["_window"] = (s0, e0)
        p.incidents.append(inc)
    # per-key tag windows
    for ks in p.keysched.values():
        for k in ks:
            if "tag_until" in k or "tag_from" in k:
                k["_tagwin"] = (k.get("tag_from", -1e18), k.get("tag_until", 1e18))


def key_tags(p: Plan) -> None:
    """Turn key tag windows into tags applied by ``signing_key`` (token issued within the window)."""
    orig = p.signing_key

    def signing_key(iss, t, svc=None):
        k = orig(iss, t, svc)
        if "_tagwin" in k:
            lo, hi = k["_tagwin"]
            if not (lo <= t < hi):
                k = dict(k)
                k["tags"] = ()
        return k

    p.signing_key = signing_key


# ---------------------------------------------------------------------------------------------- populations


class Device:
    __slots__ = ("alt", "client", "id", "lazy", "skew", "tok", "tz")

    def __init__(self, id_, client, tz, skew, lazy):
        self.id, self.client, self.tz, self.skew, self.lazy = id_, client, tz, skew, lazy
        self.tok = None
        self.alt = {}


def dev_offset(p: Plan, dev: Device, t: float) -> tuple[float, str | None]:
    for s, e, o0, o1, frac, iid in p.dev_skew.get(dev.client, ()):
        if s <= t < e and hash_int(dev.id) % 100 < frac * 100:
            return o0 + (o1 - o0) * (t - s) / (e - s), iid
    return dev.skew, None


def present(p: Plan, dev: Device, t: float, api: str, iss: str, margin: float, sub: str, aud=None, ttl=None):
    """The token a device presents at t (refreshing by its own clock), or None when it has none."""
    leeway = APIS[api]["leeway"]
    off, _ = dev_offset(p, dev, t)
    local = t + off
    tok = dev.tok
    need = tok is None or tok.at > t  # (a token obtained later by the same device: another device's state)
    if not need:
        if dev.lazy:
            need = tok.exp + leeway < t and dev.alt.get("_401") == tok.idx
            if tok.exp + leeway < t and not need:
                dev.alt["_401"] = tok.idx  # this one is rejected, the next request refreshes
        else:
            need = local >= tok.exp - margin
    if need:
        new = p.issue(iss, t, dev.client, sub, aud=aud, ttl=ttl)
        if new is not None:
            dev.tok = tok = new
    return tok


def shoppers(p: Plan) -> None:
    rng = p.rng
    pools: dict[str, list[Device]] = {}
    for tz, share in (("east", 0.4), ("central", 0.25), ("west", 0.35)):
        pool = []
        for i in range(int(1600 * share / 0.4)):
            c = rng.choices(["shop-ios", "shop-android", "shop-web"], [0.35, 0.3, 0.35])[0]
            if c == "shop-web":
                skew = rng.uniform(-1800, 1800) if rng.random() < 0.03 else rng.gauss(0, 3)
            else:
                skew = rng.uniform(-900, 900) if rng.random() < 0.005 else rng.gauss(0, 1)
            d = Device(f"{tz}-{c}-{i}", c, tz, skew, c != "shop-web" and rng.random() < 0.3)
            if rng.random() < 0.5:  # left over from a session earlier in the week
                d.tok = p.issue("customer", p.t0 - rng.uniform(1, 72) * HOUR, c, f"user-{tz}-{i}")
            pool.append(d)
        pools[tz] = pool
    base = 1.8 * p.scale / 60  # sessions per second at curve 1.0 (all zones)
    weights = [("edge-gateway", 0.42), ("storefront-api", 0.25), ("cart-api", 0.15), ("loyalty-api", 0.08)]
    weights.append(("checkout-api", 0.10))
    names, w = zip(*weights, strict=True)
    sessions = []
    t = p.t0
    while t < p.t1:
        for tz, share in (("east", 0.4), ("central", 0.25), ("west", 0.35)):
            for _ in range(poisson(rng, base * share * p.shop_rate(t, tz) * 60)):
                sessions.append((t + rng.uniform(0, 60), tz))
        t += 60
    for s, _e, _ in p.surges:  # push notification: resumed apps, some with stale tokens
        for tz, pool in pools.items():
            for d in rng.sample(pool, int(len(pool) * 0.08)):
                sessions.append((s + rng.expovariate(1 / 90), tz, d))
    sessions.sort(key=lambda x: x[0])
    for sess in sessions:
        s, tz = sess[0], sess[1]
        dev = sess[2] if len(sess) > 2 else rng.choice(pools[tz])
        sub = f"user-{dev.id}"
        dur = min(45 * MIN, rng.lognormvariate(math.log(6 * MIN), 0.8))
        t = s
        first = True
        while t < s + dur:
            api = rng.choices(names, w)[0] if not first else rng.choice(["edge-gateway", "storefront-api"])
            first = False
            tok = present(p, dev, t, api, "customer", 60, sub)
            if tok is not None:
                send_tok = tok
                for cs, ce, kind, capi, frac, iid in p.confusion.get(dev.client, ()):
                    if cs <= t < ce and api == capi and hash_int(dev.id) % 100 < frac * 100:
                        alt = dev.alt.get(kind)
                        if alt is None or alt.exp < t + 60:
                            alt = p.issue("customer", t, dev.client, sub, kind=kind)
                            if alt is not None:
                                alt.tags = (*alt.tags, iid)
                                dev.alt[kind] = alt
                        send_tok = alt or tok
                p.send(t, api, send_tok, sticky=(tz, dev.id), client=dev.client)
            t += rng.expovariate(1 / 22)


def stores(p: Plan) -> None:
    rng = p.rng
    devices = []
    for tz in TZ:
        for st in range(5):
            for kind, n, period in (("pos", 3, 150), ("scanner", 3, 300)):
                for i in range(n):
                    d = Device(f"{tz}-s{st}-{kind}{i}", f"{kind}-{tz}", tz, rng.gauss(0, 4), False)
                    devices.append((d, st, period, rng.uniform(-2, 2)))  # drift s/h
    outages = []
    for _ in range(max(1, round((p.t1 - p.t0) / DAY * rng.uniform(1, 2)))):
        tz = rng.choice(list(TZ))
        s = rng.uniform(p.t0, p.t1)
        outages.append((tz, rng.randrange(5), s, s + rng.uniform(20, 90) * MIN))
    for d, st, period, drift in devices:
        t = p.t0
        boot_err = rng.choice([-7200, -3600, 3600, 86400]) if rng.random() < 0.08 else 0
        day_open = None
        queued = 0
        while t < p.t1:
            h = p.local_hour(t, d.tz)
            if not (8 <= h < 22):
                t += 15 * MIN
                day_open = None
                continue
            if day_open is None:
                day_open = t
                sync_after = rng.uniform(5, 15) * MIN
            hours_open = (t - day_open) / HOUR
            d.skew = drift * hours_open + (boot_err if t - day_open < sync_after else 0)
            off = [o for o in outages if o[0] == d.tz and o[1] == st and o[2] <= t < o[3]]
            if off:
                queued += 1
                t += rng.expovariate(1 / period)
                continue
            sub = f"staff-{d.id}"
            n = 1 + (min(queued, 20) if queued else 0)
            for k in range(n):
                tq = t + k * rng.uniform(0.5, 3)
                api = "store-ops-api" if d.client.startswith("scanner") or rng.random() < 0.75 else "loyalty-api"
                tok = (
                    d.tok
                    if (queued and k < n - 1 and d.tok is not None)
                    else present(p, d, tq, api, "workforce", 300, sub)
                )
                if tok is not None:
                    p.send(tq, api, tok, client=d.client)
            queued = 0
            t += rng.expovariate(1 / period)


def sellers(p: Plan) -> None:
    rng = p.rng
    for i in range(50):
        cid = f"mkt-seller-{i:04d}"
        period = math.exp(rng.uniform(math.log(60), math.log(900))) / max(p.scale, 0.05)
        style = rng.choices(["proactive", "lazy", "retry", "dup", "pertoken"], [0.6, 0.15, 0.1, 0.1, 0.05])[0]
        if cid in p.dev_skew:
            style = "proactive"  # its refresh decisions follow its own (wrong) clock
        ttl = rng.choice([900, 1800])
        always = rng.random() < 0.6
        feed = rng.random() < 0.4
        d = Device(cid, cid, rng.choice(list(TZ)), rng.gauss(0, 2), style in ("lazy", "retry"))
        t = p.t0 + rng.uniform(0, period)
        next_feed = p.t0 + rng.uniform(0, HOUR)
        while t < p.t1:
            if always or 7 <= p.local_hour(t, d.tz) < 20:
                aud = None
                for s, e, _ in p.wrong_aud.get(cid, ()):
                    if s <= t < e:
                        aud = AUD["seller"] + "/v2"
                if style == "pertoken":
                    d.tok = None
                tok = present(p, d, t, "seller-api", "seller", 60, cid, aud=aud, ttl=ttl)
                if tok is not None:
                    if aud is not None:
                        for s, e, iid in p.wrong_aud[cid]:
                            if s <= t < e and iid not in tok.tags:
                                tok.tags = (*tok.tags, iid)
                    p.send(t, "seller-api", tok, client=cid)
                    if style == "dup":
                        p.send(t + rng.uniform(0.2, 2), "seller-api", tok, client=cid)
                    if style == "retry" and tok.exp + 10 < t:
                        for b in (5, 20):
                            p.send(t + b, "seller-api", tok, client=cid)
                if feed and t >= next_feed:
                    next_feed += HOUR
                    for k in range(rng.randint(5, 20)):
                        tk = present(p, d, t + k * 2, "pricing-api", "seller", 60, cid, ttl=ttl)
                        if tk is not None:
                            p.send(t + k * 2, "pricing-api", tk, client=cid)
            t += period * rng.uniform(0.9, 1.1)


def partners(p: Plan) -> None:
    rng = p.rng
    gw = Device("paypartner-gw", "paypartner-gw", "east", 0.5, False)
    st = Device("paypartner-settlement", "paypartner-settlement", "east", -1.0, False)
    t = p.t0
    while t < p.t1:
        lam = 0.06 * p.scale * sum(p.shop_rate(t, z) for z in TZ) / 3 * 60
        for tq in sorted(t + rng.uniform(0, 60) for _ in range(poisson(rng, lam))):
            tok = present(p, gw, tq, "payments-api", "payments", 30, "paypartner-gw")
            if tok is not None:
                p.send(tq, "payments-api", tok, client=gw.client)
        if int((t - p.t0) / 60) % 30 == 0:
            for k in range(int(20 * p.scale) + 1):
                tok = present(p, st, t + k, "payments-api", "payments", 30, "paypartner-settlement")
                if tok is not None:
                    p.send(t + k, "payments-api", tok, client=st.client)
        t += 60


def internal(p: Plan) -> None:
    rng = p.rng
    sched = {
        "svc-inventory-sync": ("burst", 300, 15),
        "svc-order-router": ("steady", 20, 1),
        "svc-price-feed": ("burst", 900, 10),
        "svc-pos-bridge": ("steady", 60, 1),
        "svc-nightly-reconcile": ("night", 5, 1),
    }
    for svc, (mode, period, n) in sched.items():
        d = Device(svc, svc, "east", rng.gauss(0, 1.5), False)
        period = period / max(p.scale, 0.05)
        t = p.t0 + rng.uniform(0, period)
        cached_from_last_night = True
        while t < p.t1:
            if mode == "night" and not (2 <= p.local_hour(t, "east") < 2.5):
                t += 10 * MIN
                continue
            for k in range(n):
                tq = t + k * rng.uniform(0.2, 1.5)
                off, iid = dev_offset(p, d, tq)
                local = tq + off
                if mode == "night" and cached_from_last_night:
                    # the reconcile job reads yesterday's cached token once before replacing it
                    d.tok = p.self_sign(svc, tq - DAY, tq - DAY + off, "inventory-api")
                    cached_from_last_night = False
                elif d.tok is None or local >= d.tok.exp - 60:
                    d.tok = p.self_sign(svc, tq, local, "inventory-api", tags=(iid,) if iid else ())
                p.send(tq, "inventory-api", d.tok, client=svc)
            t += period * rng.uniform(0.95, 1.05) if mode != "burst" else period
        d.tok = None


GARBAGE = ["alg_none", "random_kid", "typ_jwt_noclient", "tampered", "truncated", "huge", "hs256_pub", "ancient"]


def bots(p: Plan) -> None:
    rng = p.rng
    real = []  # recent real customer token indices to tamper with

    def garbage(t: float, tags=(), weights=None):
        kind = rng.choices(GARBAGE, weights or [3, 3, 3, 3, 2, 1, 1, 2])[0]
        api = rng.choices(["edge-gateway", "storefront-api", "seller-api", "checkout-api"], [5, 2, 1.5, 1.5])[0]
        ref = rng.choice(real) if real else None
        iss = ISSUERS["seller" if api == "seller-api" else "customer"]["url"]
        p.tokens.append(("garbage", kind, rng.getrandbits(32), ref, iss, int(t)))
        tz = rng.choice(list(TZ))
        p.send(t, api, len(p.tokens) - 1, sticky=(tz, f"bot{rng.getrandbits(16)}"), extra_tags=tags)

    for i in range(0, len(p.tokens), max(1, len(p.tokens) // 200)):
        if p.tokens[i][0] == "sign" and p.tokens[i][4].get("iss") == ISSUERS["customer"]["url"]:
            real.append(i)
    t = p.t0
    while t < p.t1:
        for _ in range(poisson(rng, rng.uniform(1, 3))):
            garbage(t + rng.uniform(0, 60))
        t += 60
    for inc in p.incidents:
        if "_burst" in inc:
            s, e, rate = inc.pop("_burst")
            t = s
            while t < e:
                for _ in range(poisson(rng, rate)):
                    garbage(t + rng.uniform(0, 60), (inc["id"],), [3, 4, 2, 4, 2, 1, 2, 1])
                t += 60


def make_plan(name: str, seed: int, scale: float) -> Plan:
    p = Plan(name, seed, scale)
    build_infra(p)
    inject(p)
    key_tags(p)
    shoppers(p)
    stores(p)
    sellers(p)
    partners(p)
    internal(p)
    bots(p)
    for k in p.reqs:
        p.reqs[k].sort(key=lambda r: r[0])
    return p


# ------------------------------------------------------------------------------------------- token signing

PLAN: Plan | None = None
TOKSTR: list[str] = []


def sign_chunk(bounds: tuple[int, int]) -> list:
    import jwt

    out = []
    for i in range(*bounds):
        spec = PLAN.tokens[i]
        if spec[0] == "sign":
            _, mat, alg, hdr, claims = spec
            out.append(jwt.encode(claims, KEYS[mat], algorithm=alg, headers=hdr))
        else:
            out.append(None)
    return out


ATTACKER: dict = {}


def make_garbage(spec: tuple, strs: list) -> str:
    import jwt

    _, kind, r, ref, iss, now = spec
    rr = random.Random(r)
    if "rsa" not in ATTACKER:
        gen_key("attacker", "RS256")
        ATTACKER["rsa"] = KEYS["attacker"]
    claims = {"iss": iss, "sub": f"admin{rr.randrange(100)}", "aud": AUD["customer"], "iat": now, "exp": now + 3600}
    if kind == "alg_none":
        h = b64u(json.dumps({"alg": rr.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
        return h + "." + b64u(json.dumps(claims).encode()) + "."
    if kind == "random_kid":
        return jwt.encode(claims, ATTACKER["rsa"], "RS256", headers={"kid": f"{rr.getrandbits(40):x}", "typ": "at+jwt"})
    if kind == "typ_jwt_noclient":
        return jwt.encode(claims, ATTACKER["rsa"], "RS256", headers={"kid": "cust-2026-02"})
    if kind == "hs256_pub":
        secret = b"-----BEGIN PUBLIC KEY-----MIIBIjANBgkqh" * 2
        return jwt.encode(claims, secret, "HS256", headers={"kid": "cust-2026-02"})
    if kind == "ancient":
        claims.update(iat=1500000000, exp=1500003600)
        return jwt.encode(claims, ATTACKER["rsa"], "RS256", headers={"kid": "cust-2019-01", "typ": "at+jwt"})
    base_tok = strs[ref] if ref is not None and strs[ref] else jwt.encode(claims, ATTACKER["rsa"], "RS256")
    if kind == "tampered":
        h, pl, sig = base_tok.split(".")
        c = json.loads(base64.urlsafe_b64decode(pl + "=" * (-len(pl) % 4)))
        c["sub"] = "admin"
        c["scope"] = "admin:*"
        return h + "." + b64u(json.dumps(c).encode()) + "." + sig
    if kind == "truncated":
        return base_tok[: rr.randrange(10, len(base_tok) - 5)]
    return base_tok[:60] + "A" * 70000  # huge


# ---------------------------------------------------------------------------------------------- validation

NOW = [0.0]  # true simulated time, for the key-set server


def keyset_at(p: Plan, iss: str, t: float) -> list[dict]:
    keys = []
    for k in p.keysched[iss]:
        if k["pub"][0] <= t < k["pub"][1]:
            keys.append(public_jwk(k["mat"], k["kid"], k["alg"]))
    return keys


_JWK_CACHE: dict = {}


class KeySetHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        p = PLAN
        iss = self.path.strip("/").split("/")[0]
        t = NOW[0]
        as_of, age = t, 0
        for s, e, mode, arg in p.faults.get(iss, ()):
            if s <= t < e:
                if mode == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "stale":
                    as_of, age = t - arg, int(min(arg, 300))
                    continue
                self.send_error(int(mode))
                return
        ck = (iss, tuple(k["kid"] for k in p.keysched[iss] if k["pub"][0] <= as_of < k["pub"][1]))
        body = _JWK_CACHE.get(ck)
        if body is None:
            body = _JWK_CACHE[ck] = json.dumps({"keys": keyset_at(p, iss, as_of)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", f"public, max-age={ISSUERS[iss]['max_age']}")
        if age:
            self.send_header("Age", str(age))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


SERVER: list = []


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a reset connection is intended
        pass


def base_url() -> str:
    if not SERVER:
        srv = QuietServer(("127.0.0.1", 0), KeySetHandler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        SERVER.append(srv)
    return f"http://127.0.0.1:{SERVER[0].server_port}"


class AppKeyCache:
    """An application's own key cache: refreshed every ``ttl`` s, refetched for an unknown kid at most once per
    ``cooldown`` s, stale keys kept when a fetch fails (the fetch error propagates only with no key at all)."""

    def __init__(self, url: str, ttl: float, cooldown: float, convert):
        self.url, self.ttl, self.cooldown, self.convert = url, ttl, cooldown, convert
        self.data = None
        self.obj = None
        self.fetched = -1e18
        self.tried = -1e18

    def _fetch(self):
        now = time.time()
        self.tried = now
        with urllib.request.urlopen(self.url, timeout=2) as r:
            data = json.loads(r.read())
        self.data = data
        self.obj = self.convert(data)
        self.fetched = now

    def get(self):
        now = time.time()
        if self.obj is None or now - self.fetched > self.ttl or now < self.fetched - 1:
            if self.obj is None or now - self.tried > 30 or now < self.tried:
                try:
                    self._fetch()
                except Exception:
                    if self.obj is None:
                        raise
        return self.obj

    def refresh_for_unknown(self) -> bool:
        now = time.time()
        if now - self.tried < self.cooldown and now >= self.tried:
            return False
        try:
            self._fetch()
        except Exception:
            return False
        return True


def build_validator(api: str, aud_override: str | None):
    import jwtobs

    cfg = APIS[api]
    base = base_url()
    iss_names = cfg["iss"]
    leeway = cfg["leeway"]

    def aud_of(iss):
        if aud_override:
            return aud_override
        return "inventory-api" if iss == "internal" else AUD[iss]

    iss0 = iss_names[0]
    url0 = f"{base}/{iss0}/jwks.json"
    issuer0 = ISSUERS[iss0]["url"]
    alg0 = ISSUERS[iss0]["alg"]
    kind = cfg["kind"]
    if kind == "verifier":
        vs = []
        for iss in iss_names:
            src = jwtobs.JwksSource(
                f"{base}/{iss}/jwks.json",
                clock=time.time,
                timeout=2.0,
                min_ttl=3600 if cfg.get("edge") else 60,
                max_ttl=86400,
            )
            prof = jwtobs.Profile(
                name=api,
                issuer=ISSUERS[iss]["url"],
                audience=aud_of(iss),
                algorithms=(ISSUERS[iss]["alg"],),
                token_type="at+jwt" if iss == "customer" else None,
                leeway=leeway,
            )
            vs.append(jwtobs.Verifier(prof, keys=src, backend=cfg["backend"]))
        v = vs[0] if len(vs) == 1 else jwtobs.VerifierSet(vs)
        return v.verify
    if kind == "pyjwt":
        import jwt

        client = jwt.PyJWKClient(url0, lifespan=cfg["lifespan"], timeout=2)

        def validate(token):
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=[alg0],
                audience=aud_of(iss0),
                issuer=issuer0,
                leeway=leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if kind == "jose":
        from jose import jwt as jjwt

        cache = AppKeyCache(url0, 3600, 300, lambda d: {k["kid"]: k for k in d["keys"]})

        def validate(token):
            hdr = jjwt.get_unverified_header(token)
            keys = cache.get()
            if hdr.get("kid") not in keys:
                cache.refresh_for_unknown()
                keys = cache.get()
            k = keys.get(hdr.get("kid"))
            keyset = {"keys": [k]} if k else {"keys": list(keys.values())}
            return jjwt.decode(
                token, keyset, algorithms=[alg0], audience=aud_of(iss0), issuer=issuer0, options={"leeway": leeway}
            )

        return jwtobs.wrap(validate, library="jose", profile=api)
    if kind == "joserfc":
        from joserfc import errors as jerr
        from joserfc import jwt as rjwt
        from joserfc.jwk import KeySet

        cache = AppKeyCache(url0, 600, 60, KeySet.import_key_set)
        registry = rjwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer0},
            aud={"essential": True, "value": aud_of(iss0)},
            sub={"essential": True},
            exp={"essential": True},
        )

        def validate(token):
            try:
                tok = rjwt.decode(token, cache.get(), algorithms=[alg0])
            except jerr.InvalidKeyIdError:
                if not cache.refresh_for_unknown():
                    raise
                tok = rjwt.decode(token, cache.get(), algorithms=[alg0])
            registry.validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if kind == "authlib":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, JsonWebToken

        ajwt = JsonWebToken([alg0])
        cache = AppKeyCache(url0, 900, 60, JsonWebKey.import_key_set)
        opts = {
            "iss": {"essential": True, "value": issuer0},
            "aud": {"essential": True, "value": aud_of(iss0)},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }

        def validate(token):
            try:
                claims = ajwt.decode(token, cache.get(), claims_options=opts)
            except ValueError as exc:
                if "Key not found" not in str(exc) or not cache.refresh_for_unknown():
                    raise
                claims = ajwt.decode(token, cache.get(), claims_options=opts)
            claims.validate(leeway=leeway)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        cache = AppKeyCache(url0, 600, 60, lambda d: cjwk.JWKSet.from_json(json.dumps(d)))
        checks = {"iss": issuer0, "aud": aud_of(iss0), "exp": None, "nbf": None}

        def once(token):
            t = cjwt.JWT(algs=[alg0], check_claims=checks)
            t.leeway = leeway
            t.deserialize(token, cache.get())
            return t

        def validate(token):
            try:
                return once(token)
            except Exception as exc:
                if type(exc).__name__ not in ("JWKeyNotFound", "JWTMissingKey") or not cache.refresh_for_unknown():
                    raise
                return once(token)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


def patch_pyjwt_clock() -> None:
    """PyJWKClient's cache reads ``time.monotonic``; make it follow simulated time (time.time under time_machine)."""
    import jwt.jwk_set_cache
    import jwt.jwks_client

    shim = types.SimpleNamespace(monotonic=lambda: time.time(), time=lambda: time.time())
    jwt.jwk_set_cache.time = shim
    jwt.jwks_client.time = shim


def run_unit(args: tuple) -> dict:
    out_dir, api, rep = args
    import time_machine

    import jwtobs

    warnings.simplefilter("ignore")
    patch_pyjwt_clock()
    p = PLAN
    reqs = p.reqs[(api, rep)]
    path = os.path.join(out_dir, "events", f"{api}.{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(events_path=path, service=api, fingerprint_key=p.fingerprint_key)
    epochs = sorted(p.epochs[(api, rep)], key=lambda e: e[0])
    audwin = p.audwin.get((api, rep), [])
    clock = p.clockwin.get((api, rep), [])
    ei = 0
    validate = None
    cur = {}
    wall = time.perf_counter()
    with time_machine.travel(reqs[0][0] if reqs else p.t0, tick=False) as tr:
        for t, idx, _tags in reqs:
            while ei < len(epochs) and epochs[ei][0] <= t:
                validate = None  # (re)start: a new validator, cold caches
                ei += 1
            aud = next((w for s, e, w in audwin if s <= t < e), None)
            if aud != cur.get("aud"):
                cur = {"aud": aud}
                validate = None  # a deploy with another audience (and back)
            off = 0.0
            for s, e, o, _ in clock:
                if s <= t < e:
                    off = o
            NOW[0] = t
            tr.move_to(t + off)
            if validate is None:
                validate = build_validator(api, cur.get("aud"))
            try:
                validate(TOKSTR[idx])
            except Exception:
                pass
        jwtobs.flush()
    return {"api": api, "rep": rep, "n": len(reqs), "wall": time.perf_counter() - wall}


# --------------------------------------------------------------------------------------------- labelling


def label(p: Plan, out_dir: str, wall: float) -> dict:
    kinds = {i["id"]: i["kind"] for i in p.incidents}
    stats = {i["id"]: {"count": 0, "first": None, "last": None} for i in p.incidents}
    reasons = collections.Counter()
    n_val = n_rej = 0
    mismatches = []
    for (api, rep), reqs in sorted(p.reqs.items()):
        path = os.path.join(out_dir, "events", f"{api}.{rep}.jsonl")
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    if "event" not in r:
                        evs.append(r)
        if len(evs) != len(reqs):
            mismatches.append({"file": f"{api}.{rep}.jsonl", "events": len(evs), "requests": len(reqs)})
        for ev, (_t, _idx, tags) in zip(evs, reqs, strict=False):
            n_val += 1
            if ev["outcome"] != "rejected":
                continue
            n_rej += 1
            reasons[ev["reason"]] += 1
            for iid in tags:
                ok = REASONS_OF[kinds[iid]]
                if ok is None or ev["reason"] in ok:
                    st = stats[iid]
                    st["count"] += 1
                    tt = parse_ts(ev["time"])
                    if st["first"] is None or tt < st["first"][0]:
                        st["first"] = (tt, ev["time"])
                    if st["last"] is None or tt > st["last"][0]:
                        st["last"] = (tt, ev["time"])
    labelled, unlabelled = [], []
    for inc in p.incidents:
        st = stats[inc["id"]]
        row = {k: inc.get(k) for k in ("id", "kind")}
        if st["count"]:
            row.update(start=st["first"][1], end=st["last"][1], count=st["count"])
        row.update({k: inc.get(k) for k in ("issuer", "kid", "client_id", "profile", "detail")})
        (labelled if st["count"] else unlabelled).append(row)
    labels = {
        "timeline": p.name,
        "quiet": p.quiet,
        "seed": p.seed,
        "start": iso(p.t0),
        "end": iso(p.t1),
        "generator": GENERATOR,
        "incidents": labelled,
    }
    with open(os.path.join(out_dir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    summary = {
        "timeline": p.name,
        "validations": n_val,
        "requests": sum(len(r) for r in p.reqs.values()),
        "rejections": n_rej,
        "rejection_rate": round(n_rej / max(n_val, 1), 4),
        "reasons": dict(reasons.most_common()),
        "incidents_injected": len(p.incidents),
        "incidents_labelled": len(labelled),
        "incidents_without_counted_rejection": unlabelled,
        "mismatches": mismatches,
        "tokens": len(p.tokens),
        "files": len(p.reqs),
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


# ----------------------------------------------------------------------------------------------------- main


def generate(name: str, out: str, seed: int, scale: float, workers: int) -> dict:
    global PLAN, TOKSTR
    t_start = time.perf_counter()
    out_dir = os.path.join(out, name)
    os.makedirs(os.path.join(out_dir, "events"), exist_ok=True)
    for f in os.listdir(os.path.join(out_dir, "events")):
        os.remove(os.path.join(out_dir, "events", f))
    PLAN = make_plan(name, seed, scale)
    n = len(PLAN.tokens)
    step = max(1, n // (workers * 4) + 1)
    chunks = [(i, min(n, i + step)) for i in range(0, n, step)]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        strs: list = []
        for part in pool.map(sign_chunk, chunks):
            strs.extend(part)
    for i, spec in enumerate(PLAN.tokens):
        if spec[0] == "garbage":
            strs[i] = make_garbage(spec, strs)
    TOKSTR = strs
    units = sorted(PLAN.reqs, key=lambda k: -len(PLAN.reqs[k]))
    with ctx.Pool(workers) as pool:
        list(pool.imap_unordered(run_unit, [(out_dir, a, r) for a, r in units]))
    s = label(PLAN, out_dir, time.perf_counter() - t_start)
    print(
        f"{name}: {s['validations']} validations, {s['rejection_rate']:.2%} rejected, "
        f"{s['incidents_labelled']}/{s['incidents_injected']} incidents labelled, {s['wall_s']} s",
        flush=True,
    )
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=4200)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args(argv)
    names = [n for n in TIMELINES if not a.only or n in a.only.split(",")]
    if a.score_only:
        return _score(a.out, names)
    t0 = time.perf_counter()
    summaries = []
    for i, name in enumerate(TIMELINES):
        if name in names:
            summaries.append(generate(name, a.out, a.seed_base + i, a.scale, max(1, a.workers)))
    total = {"wall_s": round(time.perf_counter() - t0, 1), "timelines": summaries}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(total, f, indent=1)
    print(f"total wall {total['wall_s']} s", flush=True)
    return _score(a.out, names) if a.score else 0


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


if __name__ == "__main__":
    sys.exit(main())
