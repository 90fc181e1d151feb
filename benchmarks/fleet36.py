#!/usr/bin/env python
"""fleet36: an independent benchmark data generator for jwtobs's incident detectors (written blind).

Written blind: without reading ``jwtobs/analysis/``, ``jwtobs/simulate/``, ``docs/analysis.md`` or any other
generator in ``benchmarks/``; only README.md, docs/contract.md, docs/core.md, docs/verifier.md, docs/jwks.md,
docs/libraries.md (how to wrap each library), ``jwtobs/kinds.py`` and the public API were read.

What is modelled: "StreamCast / PlayNet", a consumer streaming + gaming platform in three regions (us: UTC-5,
eu: UTC+1, apac: UTC+8) with evening peaks, running 8 APIs (2-4 replicas each, every replica a separate OS
process writing its own event file through ``jwtobs.configure(events_path=..., service=<api>)``):

- playback-api (4)      ``jwtobs.VerifierSet`` (backend pyjwt) over ``JwksSource``: consumer IdP (ES256, typ at+jwt
                        required) + partner IdP (PS256)
- catalog-api (3)       ``jwtobs.wrap(fn, library="pyjwt")`` around ``PyJWKClient`` + ``jwt.decode`` (consumer)
- billing-api (2)       authlib wrapped (consumer + partner), own key cache without last-known-good
- entitlements-api (2)  ``VerifierSet`` (backend joserfc): consumer + internal workload STS (EdDSA)
- matchmaking-api (3)   python-jose wrapped (gaming IdP RS256; websocket sessions, sticky routing)
- leaderboard-api (2)   joserfc wrapped (gaming IdP)
- partner-gateway (2)   pyjwt wrapped with ``PyJWKClient`` (partner IdP PS256)
- ingest-api (2)        jwcrypto wrapped (workload STS EdDSA), own key cache with last-known-good

Four issuers with keys generated here, each serving its JWKS "as of simulated time" from a real HTTP server on
127.0.0.1 (a thread inside each replica process that reads the simulated true time), with healthy rotations
(pre-publication before signing, removal after the longest token lifetime): consumer IdP ES256 (daily), gaming
IdP RS256 (12 h), partner IdP PS256 (daily), workload STS EdDSA (4 h; tokens are minted by a node-local agent, so
the client node's clock stamps iat/nbf/exp).  Real tokens are signed with PyJWT and validated by the real
jwtobs paths; simulated time is moved with ``time_machine`` (``travel(tick=False)``, ``move_to`` before every
validation; ``JwksSource(clock=time.time)``, PyJWKClient's cache clock pointed at ``time.time``).

Background in every timeline: diurnal regional session starts; client apps with different token lifetimes
(workloads 2/5 min, gaming 5 min, web 15 min, mobile/console/partner 1 h, smart TV 24 h); many devices per
client_id, each with its own clock (a few % minutes off, smart TVs/consoles with clocks hours or days off);
app resumes and TVs waking presenting cached tokens (lateness minutes to days; some so old their kid has been
removed), clients that refresh on 401; workload restarts replaying their cached token; websocket reconnect storms
after a regional network blip (every client of the region at once, many with tokens that expired during the
blip); internet scanners at 1-3 garbage tokens/min (alg none, random kids, typ JWT without client id, HS256
confusion, tampered real tokens, junk); a staging load test; live-event spikes; rolling restarts of every API
(a restart is a new OS process appending to the replica's file, with cold caches).

Incident timelines (12 h) inject every kind of ``jwtobs.kinds.KIND_INFO``; quiet timelines (24 h) inject
nothing.

Label rules.  Every generated request carries the ids of the incidents that could make it fail (token-level
tags: replaced signing material, issuer clock offset, wrong audience requested, ID token; request-level tags:
kid of a kid incident in its window, the issuer of an outage in its window (+10 min tail), a client clock
incident's client presenting a token invalid at true time, a device presenting a token it could not refresh
while its issuer stalled, a request routed to a skewed or misconfigured replica while it was so, an attack
burst's requests).  Token-level and kid tags of kid_before_publish, key_removed_early, signature_spike,
audience_misconfig and type_confusion apply only while the token is unexpired (+60 s): a token resumed from a
cache hours later would have failed anyway; an issuer_stalled tag applies until 10 min after the stall.
After validation, events are matched to requests by order within each replica's event file
(one validation event per request; ``jwks.keyset_changed`` records are skipped).  A rejection counts for an
incident when it carries the tag and its reason is one the incident causes: JWT_UNKNOWN_KID (kid_before_publish,
key_removed_early), JWT_JWKS_UNAVAILABLE (jwks_outage), JWT_BAD_SIGNATURE (signature_spike), JWT_EXPIRED /
JWT_NOT_YET_VALID (clock_skew, server_clock_skew, issuer_stalled), JWT_AUDIENCE_MISMATCH (audience_misconfig),
JWT_TYPE_MISMATCH or JWT_AUDIENCE_MISMATCH (type_confusion), any rejection (attack_burst).  An incident's
start/end are the event ``time`` of its first/last counted rejection (a skewed replica stamps its events with its
own clock, as in production); incidents with no counted rejection are left out of labels.json (and reported in
summary.json).  ``profile`` is the API's service name, which is also the wrap/Verifier profile name.

CLI::

    python benchmarks/fleet36.py --out DIR [--only NAME[,NAME]] [--seed-base N] [--scale F] [--score]
    python benchmarks/fleet36.py --out DIR --score-only      # score what is in DIR (jwtobs's detectors)

Written in session 36 by a helper given the issue's text and jwtobs's public API only, generated once (8
timelines at ``--scale 0.8``, 6.4 min on one core of a loaded host, 454 MB), then scored. ``--score``/
``--score-only`` were added afterwards, by someone who had read the detectors: they score the timelines as
``benchmarks/fleet22.py`` does; nothing else here knows the detectors.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import heapq
import http.server
import json
import math
import os
import random
import sys
import threading
import time
import types
import urllib.request
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

warnings.filterwarnings("ignore")

import jwt  # noqa: E402
import jwt.api_jwk  # noqa: E402
import jwt.jwk_set_cache  # noqa: E402
import jwt.jwks_client  # noqa: E402
import time_machine  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm  # noqa: E402

import jwtobs  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import authlib.jose  # noqa: F401  (deprecated module, still what billing-api uses)

GENERATOR = "fleet36"
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
FP_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"fleet36-fingerprint-key").digest()).decode().rstrip("=")

REGIONS = {"us": (-5, 0.45), "eu": (1, 0.35), "apac": (8, 0.20)}

ISSUERS = {
    "consumer": dict(
        iss="https://id.streamcast.tv",
        alg="ES256",
        aud="https://api.streamcast.tv",
        period=DAY,
        phase=4 * HOUR,
        prepublish=3 * HOUR,
        retain=DAY + 12 * HOUR,
        prefix="stc",
    ),
    "gaming": dict(
        iss="https://accounts.playnet.gg",
        alg="RS256",
        aud="playnet-game-services",
        period=12 * HOUR,
        phase=3 * HOUR,
        prepublish=HOUR,
        retain=2 * HOUR,
        prefix="pn",
    ),
    "partner": dict(
        iss="https://partners.streamcast.tv/oauth2",
        alg="PS256",
        aud="https://partner-api.streamcast.tv",
        period=DAY,
        phase=11 * HOUR,
        prepublish=6 * HOUR,
        retain=7 * HOUR,
        prefix="ptn",
    ),
    "workload": dict(
        iss="https://sts.internal.streamcast.net",
        alg="EdDSA",
        aud="spiffe://streamcast.internal/apis",
        period=4 * HOUR,
        phase=1 * HOUR,
        prepublish=30 * MIN,
        retain=40 * MIN,
        prefix="sts",
    ),
}

# kind, replicas, issuers, extra
APIS = {
    "playback-api": dict(kind="verifierset", backend="pyjwt", replicas=4, issuers=["consumer", "partner"], leeway=30),
    "catalog-api": dict(kind="pyjwt", replicas=3, issuers=["consumer"], leeway=10),
    "billing-api": dict(kind="authlib", replicas=2, issuers=["consumer", "partner"], leeway=15, stale_ok=False),
    "entitlements-api": dict(
        kind="verifierset", backend="joserfc", replicas=2, issuers=["consumer", "workload"], leeway=60, max_stale=1800
    ),
    "matchmaking-api": dict(kind="jose", replicas=3, issuers=["gaming"], leeway=0, sticky=True),
    "leaderboard-api": dict(kind="joserfc", replicas=2, issuers=["gaming"], leeway=20),
    "partner-gateway": dict(kind="pyjwt", replicas=2, issuers=["partner"], leeway=0),
    "ingest-api": dict(kind="jwcrypto", replicas=2, issuers=["workload"], leeway=60, stale_ok=True),
}


@dataclass
class ClientSpec:
    cid: str
    issuer: str
    kind: str  # session | backend | workload
    lifetime: float
    apis: list  # [(api, weight)]
    margin: float = 60.0
    refresh_on_401: bool = True
    resume_try: float = 0.0  # P(app resume presents its cached token without checking)
    retry_same: float = 0.0  # P(retry middleware re-sends a rejected token 1-2 times before refreshing)
    bad_clock: float = 0.03  # share of devices minutes off
    wild_clock: float = 0.0  # share of devices hours/days off
    sessions_per_day: float = 0.0
    session_min: float = 35.0
    interval: float = 75.0
    pool: int = 500
    rate: float = 0.0  # backend/workload requests per minute per instance
    instances: int = 1
    typ: str = "at+jwt"
    group: str = "consumer"


CLIENTS = [
    ClientSpec(
        "web-player",
        "consumer",
        "session",
        15 * MIN,
        [("playback-api", 5), ("catalog-api", 3), ("entitlements-api", 1.5), ("billing-api", 0.5)],
        resume_try=0.5,
        sessions_per_day=1100,
        retry_same=0.3,
        session_min=30,
        interval=80,
        pool=700,
        bad_clock=0.04,
    ),
    ClientSpec(
        "ios-app",
        "consumer",
        "session",
        HOUR,
        [("playback-api", 5), ("catalog-api", 3), ("entitlements-api", 1.5), ("billing-api", 0.5)],
        resume_try=0.45,
        sessions_per_day=650,
        retry_same=0.2,
        session_min=25,
        interval=90,
        pool=450,
    ),
    ClientSpec(
        "android-app",
        "consumer",
        "session",
        HOUR,
        [("playback-api", 5), ("catalog-api", 3), ("entitlements-api", 1.5), ("billing-api", 0.5)],
        resume_try=0.55,
        sessions_per_day=750,
        retry_same=0.45,
        session_min=25,
        interval=90,
        pool=520,
        bad_clock=0.05,
    ),
    ClientSpec(
        "smart-tv-app",
        "consumer",
        "session",
        DAY,
        [("playback-api", 7), ("catalog-api", 3)],
        resume_try=0.75,
        sessions_per_day=420,
        session_min=70,
        interval=150,
        pool=900,
        retry_same=0.6,
        bad_clock=0.06,
        wild_clock=0.04,
        margin=300,
    ),
    ClientSpec(
        "console-app",
        "consumer",
        "session",
        HOUR,
        [("playback-api", 7), ("catalog-api", 3)],
        resume_try=0.7,
        sessions_per_day=200,
        retry_same=0.5,
        session_min=60,
        interval=150,
        pool=140,
        bad_clock=0.05,
        wild_clock=0.03,
    ),
    ClientSpec(
        "game-client-pc",
        "gaming",
        "session",
        5 * MIN,
        [("matchmaking-api", 8), ("leaderboard-api", 2)],
        resume_try=0.4,
        sessions_per_day=520,
        retry_same=0.3,
        session_min=40,
        interval=70,
        pool=380,
        typ="JWT",
        group="gaming",
        margin=30,
    ),
    ClientSpec(
        "game-client-console",
        "gaming",
        "session",
        5 * MIN,
        [("matchmaking-api", 8), ("leaderboard-api", 2)],
        resume_try=0.5,
        sessions_per_day=380,
        retry_same=0.3,
        session_min=45,
        interval=70,
        pool=260,
        typ="JWT",
        group="gaming",
        margin=30,
        bad_clock=0.05,
    ),
    ClientSpec(
        "partner-telco-sync",
        "partner",
        "backend",
        HOUR,
        [("partner-gateway", 8), ("billing-api", 2)],
        refresh_on_401=False,
        rate=2.5,
        instances=2,
        bad_clock=0.0,
        margin=120,
        group="partner",
    ),
    ClientSpec(
        "partner-isp-bundle",
        "partner",
        "backend",
        HOUR,
        [("partner-gateway", 7), ("billing-api", 3)],
        refresh_on_401=False,
        rate=3.0,
        instances=1,
        bad_clock=0.0,
        margin=120,
        group="partner",
    ),
    ClientSpec(
        "partner-hotel-tv",
        "partner",
        "backend",
        HOUR,
        [("partner-gateway", 5), ("playback-api", 5)],
        refresh_on_401=False,
        rate=1.2,
        instances=2,
        bad_clock=0.0,
        margin=120,
        group="partner",
    ),
    ClientSpec(
        "svc-transcoder",
        "workload",
        "workload",
        5 * MIN,
        [("ingest-api", 1)],
        rate=1.6,
        instances=4,
        bad_clock=0.0,
        margin=30,
        typ="JWT",
        group="workload",
    ),
    ClientSpec(
        "svc-ingest-worker",
        "workload",
        "workload",
        5 * MIN,
        [("ingest-api", 1)],
        rate=1.3,
        instances=3,
        bad_clock=0.0,
        margin=30,
        typ="JWT",
        group="workload",
    ),
    ClientSpec(
        "svc-recommender",
        "workload",
        "workload",
        2 * MIN,
        [("entitlements-api", 1)],
        rate=1.5,
        instances=4,
        bad_clock=0.0,
        margin=20,
        typ="JWT",
        group="workload",
    ),
    ClientSpec(
        "svc-billing-batch",
        "workload",
        "workload",
        2 * MIN,
        [("entitlements-api", 1)],
        rate=1.5,
        instances=2,
        bad_clock=0.0,
        margin=20,
        typ="JWT",
        group="workload",
    ),
]
CLIENT_BY_ID = {c.cid: c for c in CLIENTS}


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def ts(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def diurnal(local_h: float) -> float:
    def bump(c, w):
        d = min(abs(local_h - c), 24 - abs(local_h - c))
        return math.exp(-d * d / (2 * w * w))

    return 0.12 + 1.0 * bump(21.0, 2.4) + 0.35 * bump(13.0, 2.5) + 0.15 * bump(8.0, 1.2)


DIURNAL_MEAN = sum(diurnal(h / 10) for h in range(240)) / 240


# ----------------------------------------------------------------------------------------------------- issuers


@dataclass
class Key:
    kid: str
    priv: object
    jwk: dict
    sign_from: float
    sign_until: float
    publish_at: float
    remove_at: float
    alt_priv: object = None  # replaced material (signature_spike)


def gen_priv(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def pub_jwk(priv, alg: str, kid: str) -> dict:
    pub = priv.public_key()
    if alg == "ES256":
        d = ECAlgorithm.to_jwk(pub, as_dict=True)
    elif alg in ("RS256", "PS256"):
        d = RSAAlgorithm.to_jwk(pub, as_dict=True)
    else:
        d = OKPAlgorithm.to_jwk(pub, as_dict=True)
    d = dict(d)
    d.update(kid=kid, alg=alg, use="sig")
    return d


class Issuer:
    def __init__(self, name: str, start: float, end: float, rng: random.Random):
        spec = ISSUERS[name]
        self.name, self.iss, self.alg, self.aud = name, spec["iss"], spec["alg"], spec["aud"]
        self.keys: list[Key] = []
        self.outages: list[tuple[float, float]] = []
        self.stalls: list[tuple[float, float, str]] = []
        self.clock: list[tuple[float, float, float, str]] = []  # (s, e, offset, inc)
        self.spikes: list[tuple[float, float, float, str, str]] = []  # (s, e, fraction, kid, inc)
        self.rng = rng
        period, phase = spec["period"], spec["phase"]
        first = math.floor((start - 4 * DAY - phase) / period) * period + phase
        i = 0
        t = first
        while t < end + DAY:
            kid = f"{spec['prefix']}-{dt.datetime.fromtimestamp(t, dt.UTC):%Y%m%d%H}-{rng.randrange(16**4):04x}"
            priv = gen_priv(self.alg)
            self.keys.append(
                Key(
                    kid,
                    priv,
                    pub_jwk(priv, self.alg, kid),
                    t,
                    t + period,
                    t - spec["prepublish"],
                    t + period + spec["retain"],
                )
            )
            t += period
            i += 1
        self.spec = spec

    def signer(self, t: float) -> Key:
        best = None
        for k in self.keys:
            if k.sign_from <= t < k.sign_until:
                best = k
        return best if best is not None else self.keys[-1]

    def rotate_at(self, t: float, publish_at: float, prev_remove_at: float | None = None) -> tuple[Key, Key]:
        """An unscheduled rotation at t: the current key stops signing, a new key signs until the current key's
        scheduled end.  Returns (previous, new)."""
        prev = self.signer(t)
        kid = f"{self.spec['prefix']}-{dt.datetime.fromtimestamp(t, dt.UTC):%Y%m%d%H%M}-{self.rng.randrange(16**4):04x}"
        priv = gen_priv(self.alg)
        new = Key(kid, priv, pub_jwk(priv, self.alg, kid), t, prev.sign_until, publish_at, prev.remove_at)
        prev.sign_until = t
        if prev_remove_at is not None:
            prev.remove_at = prev_remove_at
        self.keys.append(new)
        return prev, new

    def jwks_at(self, t: float) -> dict:
        return {"keys": [k.jwk for k in self.keys if k.publish_at <= t < k.remove_at]}

    def down(self, t: float) -> bool:
        return any(s <= t < e for s, e in self.outages)

    def stalled(self, t: float):
        for s, e, inc in self.stalls:
            if s <= t < e:
                return inc
        return None

    def clock_off(self, t: float):
        for s, e, off, inc in self.clock:
            if s <= t < e:
                return off, inc
        return 0.0, None


# ----------------------------------------------------------------------------------------------------- tokens


@dataclass
class Tok:
    raw: str
    issuer: str
    kid: str
    iat: float
    exp: float
    tags: tuple = ()
    issued_true: float = 0.0


@dataclass
class Device:
    idx: int
    client: ClientSpec
    region: str
    clock: float
    token: Tok | None = None
    last_issue: float = -1e18
    stall_inc: str | None = None
    sub: str = ""
    next_reconnect: bool = False


@dataclass
class Incident:
    id: str
    kind: str
    issuer: str | None = None
    kid: str | None = None
    client_id: str | None = None
    profile: str | None = None
    detail: str = ""
    window: tuple = (0.0, 0.0)
    extra: dict = field(default_factory=dict)


REASONS = {
    "kid_before_publish": {"JWT_UNKNOWN_KID"},
    "key_removed_early": {"JWT_UNKNOWN_KID"},
    "jwks_outage": {"JWT_JWKS_UNAVAILABLE"},
    "signature_spike": {"JWT_BAD_SIGNATURE"},
    "clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "server_clock_skew": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "issuer_stalled": {"JWT_EXPIRED", "JWT_NOT_YET_VALID"},
    "audience_misconfig": {"JWT_AUDIENCE_MISMATCH"},
    "type_confusion": {"JWT_TYPE_MISMATCH", "JWT_AUDIENCE_MISMATCH"},
    "attack_burst": None,  # any rejection
}


class World:
    """One timeline: issuers, clients, devices, incidents, and the request plan per replica."""

    def __init__(self, name: str, start: float, hours: float, seed: int, scale: float, quiet: bool):
        self.name, self.start, self.end, self.seed, self.scale, self.quiet = (
            name,
            start,
            start + hours * HOUR,
            seed,
            scale,
            quiet,
        )
        self.rng = random.Random(seed)
        self.issuers = {
            n: Issuer(n, self.start, self.end, random.Random(seed * 100 + i)) for i, n in enumerate(ISSUERS)
        }
        self.incidents: list[Incident] = []
        self.client_clock: dict[str, list] = {}  # cid -> [(s, e, f(t)->offset, inc)]
        self.client_aud: dict[str, list] = {}  # cid -> [(s, e, aud, inc)]
        self.client_idtok: dict[str, list] = {}  # cid -> [(s, e, inc)]
        self.replica_clock: dict[tuple, list] = {}  # (api, r) -> [(s, e, off, inc)]
        self.replica_aud: dict[tuple, list] = {}  # (api, r) -> [(s, e, aud, inc)]
        self.kid_incs: list[tuple] = []  # (issuer, kid, s, e, inc, min_exp)
        self.outage_incs: list[tuple] = []  # (issuer, s, e, inc)
        self.blips: list[tuple] = []  # (region, s, e)
        self.live: list[tuple] = []  # (region, t, mult, dur)
        self.loadtests: list[tuple] = []  # (api, s, e, per_min)
        self.attacks: list[tuple] = []  # (apis, s, e, per_min, mix, inc)
        self.restarts: dict[tuple, list] = {}  # (api, r) -> sorted restart times
        self.requests: dict[tuple, list] = {(a, r): [] for a, s in APIS.items() for r in range(s["replicas"])}
        self.seq = 0
        self.heap: list = []
        self.devices: list[Device] = []
        self.signed = 0
        self.real_pool: list[str] = []

    # ------------------------------------------------------------------ incident helpers
    def add(self, inc: Incident) -> Incident:
        self.incidents.append(inc)
        return inc

    def h(self, hh: float) -> float:
        return self.start + hh * HOUR

    # ------------------------------------------------------------------ token issuance
    def dev_off(self, d: Device, t: float) -> tuple[float, str | None]:
        off, inc = d.clock, None
        for s, e, f, i in self.client_clock.get(d.client.cid, ()):
            if s <= t < e:
                off += f(t)
                inc = i
        return off, inc

    def issue(self, d: Device, t: float) -> Tok | None:
        c = d.client
        iss = self.issuers[c.issuer]
        if iss.stalled(t):
            return None
        tags = []
        if c.kind == "workload":  # minted by the node-local agent with the node's clock
            off, inc = self.dev_off(d, t)
            stamp = t + off
        else:
            off, inc = iss.clock_off(t)
            stamp = t + off
        if inc:
            tags.append(inc)
        key = iss.signer(t)
        priv = key.priv
        for s, e, frac, kid, sinc in iss.spikes:
            if s <= t < e and kid == key.kid and self.rng.random() < frac:
                priv = key.alt_priv
                tags.append(sinc)
        iat = int(stamp)
        exp = iat + int(c.lifetime)
        aud = iss.aud
        for s, e, a, ainc in self.client_aud.get(c.cid, ()):
            if s <= t < e:
                aud = a
                tags.append(ainc)
        idtok = None
        for s, e, tinc in self.client_idtok.get(c.cid, ()):
            if s <= t < e:
                idtok = tinc
        jti = b64(self.rng.randbytes(12))
        if idtok:
            claims = {
                "iss": iss.iss,
                "sub": d.sub,
                "aud": c.cid,
                "iat": iat,
                "exp": iat + 3600,
                "auth_time": iat - 30,
                "nonce": b64(self.rng.randbytes(9)),
                "email_verified": True,
            }
            typ = "JWT"
            exp = iat + 3600
            tags.append(idtok)
        elif c.issuer == "consumer":
            claims = {
                "iss": iss.iss,
                "sub": d.sub,
                "aud": aud,
                "azp": c.cid,
                "scope": "playback catalog profile",
                "iat": iat,
                "nbf": iat,
                "exp": exp,
                "jti": jti,
                "region": d.region,
            }
            typ = "at+jwt"
        elif c.issuer == "gaming":
            claims = {
                "iss": iss.iss,
                "sub": d.sub,
                "aud": aud,
                "client_id": c.cid,
                "iat": iat,
                "exp": exp,
                "jti": jti,
                "platform": "pc" if "pc" in c.cid else "console",
            }
            typ = "JWT"
        elif c.issuer == "partner":
            claims = {
                "iss": iss.iss,
                "sub": c.cid,
                "aud": aud,
                "client_id": c.cid,
                "iat": iat,
                "exp": exp,
                "jti": jti,
                "scope": "partner.read partner.write",
            }
            typ = "at+jwt"
        else:
            claims = {"iss": iss.iss, "sub": d.sub, "aud": aud, "azp": c.cid, "iat": iat, "nbf": iat, "exp": exp}
            typ = "JWT"
        raw = jwt.encode(claims, priv, algorithm=iss.alg, headers={"kid": key.kid, "typ": typ})
        self.signed += 1
        if self.rng.random() < 0.01:
            if len(self.real_pool) < 200:
                self.real_pool.append(raw)
            else:
                self.real_pool[self.rng.randrange(200)] = raw
        d.last_issue = t
        return Tok(raw, c.issuer, key.kid, iat, exp, tuple(tags), t)

    def issue_old(self, d: Device, t_issue: float) -> Tok:
        """A token issued before the timeline (a device's cache)."""
        c = d.client
        iss = self.issuers[c.issuer]
        key = iss.signer(t_issue)
        iat = int(t_issue)
        exp = iat + int(c.lifetime)
        claims = {
            "iss": iss.iss,
            "sub": d.sub,
            "aud": iss.aud,
            "iat": iat,
            "exp": exp,
            "jti": b64(self.rng.randbytes(12)),
        }
        claims["azp" if c.issuer in ("consumer", "workload") else "client_id"] = c.cid
        if c.issuer == "consumer":
            claims["nbf"] = iat
        raw = jwt.encode(claims, key.priv, algorithm=iss.alg, headers={"kid": key.kid, "typ": c.typ})
        self.signed += 1
        return Tok(raw, c.issuer, key.kid, iat, exp, (), t_issue)

    # ------------------------------------------------------------------ intents
    def push(self, t: float, dev: int, api: str, flag: int) -> None:
        if self.start <= t < self.end:
            self.seq += 1
            heapq.heappush(self.heap, (t, self.seq, dev, api, flag))

    def blipped(self, region: str, t: float):
        for r, s, e in self.blips:
            if r == region and s <= t < e:
                return (s, e)
        return None

    def build_devices_and_intents(self) -> None:
        rng = self.rng
        sc = self.scale
        for c in CLIENTS:
            if c.kind == "session":
                pools = {}
                for reg, (_tz, w) in REGIONS.items():
                    pools[reg] = []
                    for _ in range(max(5, int(c.pool * w * max(sc, 0.2)))):
                        clock = rng.gauss(0, 2.0)  # seconds: NTP-synced devices
                        u = rng.random()
                        if u < c.bad_clock:
                            clock = rng.choice([-1, 1]) * rng.uniform(60, 420)
                        elif u < c.bad_clock + c.wild_clock:
                            clock = rng.choice([-1, -1, 1]) * rng.uniform(2 * HOUR, 4 * DAY)
                        d = Device(
                            len(self.devices),
                            c,
                            reg,
                            clock,
                            sub=f"user:{rng.randrange(10**8)}"
                            if c.group == "consumer"
                            else f"player:{rng.randrange(10**8)}",
                        )
                        if rng.random() < 0.35:  # a token cached from before the timeline
                            age = (
                                rng.expovariate(1 / (6 * HOUR))
                                if c.lifetime < DAY
                                else rng.expovariate(1 / (30 * HOUR))
                            )
                            d.token = self.issue_old(d, self.start - min(age, 5 * DAY) - 60)
                        self.devices.append(d)
                        pools[reg].append(d)
                # sessions
                t = self.start - 2 * HOUR
                while t < self.end:
                    for reg, (tz, w) in REGIONS.items():
                        lam = c.sessions_per_day * sc * w * diurnal(((t / HOUR) + tz) % 24) / DIURNAL_MEAN / 1440.0
                        for lr, lt, mult, dur in self.live:
                            if lr == reg and lt - 5 * MIN <= t < lt + dur:
                                lam *= mult
                        n = poisson(rng, lam)
                        for _ in range(n):
                            self.session(rng.choice(pools[reg]), t + rng.uniform(0, MIN))
                    t += MIN
            else:
                for k in range(c.instances):
                    d = Device(
                        len(self.devices),
                        c,
                        "us" if k % 2 == 0 else "eu",
                        rng.gauss(0, 0.5),
                        sub=f"spiffe://streamcast.internal/ns/prod/sa/{c.cid}" if c.kind == "workload" else c.cid,
                    )
                    if rng.random() < 0.7:
                        d.token = self.issue_old(d, self.start - rng.uniform(0, c.lifetime))
                    self.devices.append(d)
                    # restarts (deploys) of the client's instances, with stale cached tokens replayed
                    downs = []
                    if c.kind == "workload":
                        for _ in range(rng.choice([1, 2, 3]) * max(1, round((self.end - self.start) / DAY))):
                            dt0 = rng.uniform(self.start, self.end)
                            downs.append((dt0, dt0 + rng.choice([20, 45, 90, 240, 600, 1500])))
                    t = self.start + rng.expovariate(c.rate * sc / MIN)
                    while t < self.end:
                        hour_local = ((t / HOUR) - 5) % 24
                        mult = 0.6 + 0.4 * diurnal(hour_local) / DIURNAL_MEAN if c.kind == "workload" else 1.0
                        down = next((x for x in downs if x[0] <= t < x[1]), None)
                        if down:
                            t = down[1] + rng.uniform(0, 5)
                            self.push(t, d.idx, pick(rng, c.apis), 2)  # replays its cached token
                        else:
                            self.push(t, d.idx, pick(rng, c.apis), 0)
                        t += rng.expovariate(c.rate * sc * mult / MIN)

    def session(self, d: Device, t0: float) -> None:
        rng = self.rng
        c = d.client
        dur = rng.lognormvariate(math.log(c.session_min * MIN), 0.8)
        t = t0
        first = True
        reconnected = set()
        while t < t0 + dur and t < self.end:
            b = self.blipped(d.region, t) if c.group == "gaming" or c.cid == "web-player" else None
            if b:
                if b not in reconnected:
                    reconnected.add(b)
                    # websocket reconnect storm: everyone reconnects within seconds of the end of the blip
                    api = "matchmaking-api" if c.group == "gaming" else "playback-api"
                    self.push(b[1] + rng.expovariate(1 / 8.0), d.idx, api, 2)
                t = b[1] + rng.uniform(5, c.interval)
                continue
            flag = 1 if first and rng.random() < c.resume_try else 0
            self.push(t, d.idx, pick(rng, c.apis), flag)
            first = False
            t += rng.expovariate(1 / c.interval)

    # ------------------------------------------------------------------ processing
    def route(self, api: str, dev: int | None) -> int:
        n = APIS[api]["replicas"]
        if dev is not None and APIS[api].get("sticky"):
            return (dev * 2654435761 >> 7) % n
        return self.rng.randrange(n)

    def req_tags(self, tok: Tok, d: Device, t: float, api: str, r: int) -> list:
        # token-level tags of kinds whose rejection an expired token would have had anyway count only while the
        # token is unexpired (a cached token resumed hours later is not the incident's)
        live = t < tok.exp + 60
        kinds = self.inc_kinds
        tags = [x for x in tok.tags if live or kinds[x] not in VALID_ONLY]
        for issuer, kid, s, e, inc, min_exp in self.kid_incs:
            if tok.issuer == issuer and tok.kid == kid and s <= t < e and tok.exp > min_exp and live:
                tags.append(inc)
        for issuer, s, e, inc in self.outage_incs:
            if tok.issuer == issuer and s <= t < e + 10 * MIN:
                tags.append(inc)
        bad_time = t >= tok.exp - 1 or tok.iat > t + 1
        if bad_time:
            _off, inc = self.dev_off(d, t)
            if inc and d.client.kind != "workload":
                tags.append(inc)
            if d.stall_inc and tok.issued_true < t and t < self.stall_end[d.stall_inc] + 10 * MIN:
                tags.append(d.stall_inc)
        for s, e, _off, inc in self.replica_clock.get((api, r), ()):
            if s <= t < e and not bad_time:
                tags.append(inc)
        for s, e, _aud, inc in self.replica_aud.get((api, r), ()):
            if s <= t < e:
                tags.append(inc)
        return tags

    def process(self) -> None:
        rng = self.rng
        self.inc_kinds = {i.id: i.kind for i in self.incidents}
        self.stall_end = {inc: e for iss in self.issuers.values() for s, e, inc in iss.stalls}
        loop_guard = 0
        while self.heap:
            loop_guard += 1
            if loop_guard > 5_000_000:
                raise RuntimeError("plan loop bound exceeded")
            t, _, di, api, flag = heapq.heappop(self.heap)
            d = self.devices[di]
            c = d.client
            off, _ = self.dev_off(d, t)
            dev_now = t + off
            tok = d.token
            if flag in (1, 2) and tok is not None:
                pass  # resume / reconnect / restarted worker: present the cached token as is
            elif tok is None or dev_now >= tok.exp - c.margin:
                if t - d.last_issue >= 5:
                    new = self.issue(d, t)
                    if new is not None:
                        d.token, d.stall_inc = new, None
                    else:
                        d.stall_inc = self.issuers[c.issuer].stalled(t)
            tok = d.token
            if tok is None:
                continue
            r = self.route(api, di if c.kind == "session" else None)
            tags = self.req_tags(tok, d, t, api, r)
            self.requests[(api, r)].append((t, tok.raw, tuple(tags), c.cid, "client"))
            if (t >= tok.exp or tok.iat > t + 60) and c.refresh_on_401 and flag != 3:
                # 401: the client's retry middleware may re-send the same token, then it drops its token,
                # refreshes and retries once
                if rng.random() < c.retry_same:
                    tr = t
                    for _ in range(rng.choice([1, 1, 2])):
                        tr += rng.uniform(0.2, 2.0)
                        self.requests[(api, r)].append((tr, tok.raw, tuple(tags), c.cid, "client"))
                d.token = None
                if d.stall_inc is None and not self.issuers[c.issuer].stalled(t):
                    self.push(t + rng.uniform(0.3, 3.0), di, api, 3)
                else:
                    d.token = tok  # cannot refresh: keeps it
            elif flag == 3 and (t >= tok.exp or tok.iat > t + 60):
                pass

    # ------------------------------------------------------------------ background without devices
    def scanners_and_extras(self) -> None:
        rng = self.rng
        public = ["playback-api", "catalog-api", "partner-gateway", "billing-api", "matchmaking-api", "leaderboard-api"]
        t = self.start
        while t < self.end:
            t += rng.expovariate(2.0 / MIN)
            if t >= self.end:
                break
            api = rng.choice(public)
            self.requests[(api, self.route(api, None))].append(
                (t, self.forged(rng.choice(SCANNER_MIX)), (), None, "scanner")
            )
        for api, s, e, per_min in self.loadtests:
            toks = []
            iss = self.issuers["consumer"]
            for i in range(40):
                k = iss.signer(s)
                toks.append(
                    jwt.encode(
                        {
                            "iss": iss.iss,
                            "sub": f"user:loadtest-{i}",
                            "aud": iss.aud,
                            "azp": "loadtest-staging-k6",
                            "iat": int(s) - 60,
                            "nbf": int(s) - 60,
                            "exp": int(s) + 2 * HOUR,
                            "jti": b64(rng.randbytes(12)),
                        },
                        k.priv,
                        algorithm=iss.alg,
                        headers={"kid": k.kid, "typ": "at+jwt"},
                    )
                )
            t = s
            while t < e:
                t += rng.expovariate(per_min * self.scale / MIN)
                if self.start <= t < min(e, self.end):
                    self.requests[(api, self.route(api, None))].append(
                        (t, rng.choice(toks), (), "loadtest-staging-k6", "loadtest")
                    )
        for apis, s, e, per_min, mix, inc in self.attacks:
            t = s
            while t < e:
                t += rng.expovariate(per_min / MIN)
                if self.start <= t < min(e, self.end):
                    api = rng.choice(apis)
                    self.requests[(api, self.route(api, None))].append(
                        (t, self.forged(rng.choice(mix)), (inc,), None, "attack")
                    )

    def forged(self, kind: str) -> str:
        rng = self.rng
        now = int(self.start)
        iss = rng.choice(list(self.issuers.values()))
        if kind == "none":
            h = {"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}
            p = {"sub": "admin", "iss": iss.iss, "role": "admin", "exp": now + DAY}
            return f"{b64(json.dumps(h).encode())}.{b64(json.dumps(p).encode())}."
        if kind == "randkid":
            h = {
                "alg": iss.alg if rng.random() < 0.8 else "RS256",
                "kid": b64(rng.randbytes(rng.choice([6, 12, 16]))),
                "typ": rng.choice(["JWT", "at+jwt", "at+jwt"]),
            }
            p = {"sub": f"user:{rng.randrange(10**6)}", "iss": iss.iss, "aud": iss.aud, "exp": now + DAY, "iat": now}
            return f"{b64(json.dumps(h).encode())}.{b64(json.dumps(p).encode())}.{b64(rng.randbytes(64))}"
        if kind == "typjwt":
            k = rng.choice(iss.keys)
            h = {"alg": iss.alg, "kid": k.kid, "typ": "JWT"}
            p = {"sub": "test", "iss": iss.iss, "exp": now + DAY}
            return f"{b64(json.dumps(h).encode())}.{b64(json.dumps(p).encode())}.{b64(rng.randbytes(256))}"
        if kind == "hs256":
            k = rng.choice(iss.keys)
            h = {"alg": "HS256", "kid": k.kid, "typ": "JWT"}
            p = {"sub": "admin", "iss": iss.iss, "aud": iss.aud, "exp": now + DAY}
            return f"{b64(json.dumps(h).encode())}.{b64(json.dumps(p).encode())}.{b64(rng.randbytes(32))}"
        if kind == "tamper" and self.real_pool:
            raw = rng.choice(self.real_pool)
            h, p, s = raw.split(".")
            claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            claims["sub"] = "user:1"
            claims["scope"] = "admin"
            return f"{h}.{b64(json.dumps(claims).encode())}.{s}"
        junk = [
            "",
            "null",
            "undefined",
            "Bearer",
            "eyJhbGciOiJIUzI1NiJ9",
            "' OR 1=1 --",
            "a.b.c",
            b64(rng.randbytes(40)),
            "../../etc/passwd",
            "eyJ0eXAiOiJKV1QifQ.e30.",
        ]
        return rng.choice(junk)

    # ------------------------------------------------------------------ rolling restarts
    def plan_restarts(self) -> None:
        rng = self.rng
        for api, spec in APIS.items():
            n_deploys = max(1, round((self.end - self.start) / DAY * rng.choice([1, 2, 2, 3])))
            for _ in range(n_deploys):
                t0 = rng.uniform(self.start + 20 * MIN, self.end - 40 * MIN)
                for r in range(spec["replicas"]):
                    self.restarts.setdefault((api, r), []).append(t0 + r * rng.uniform(90, 240))
        for (api, r), lst in self.replica_aud.items():  # a config change is a deploy: a new process
            for s, e, _, _ in lst:
                self.restarts.setdefault((api, r), []).extend([s, e])
        for k in self.restarts:
            self.restarts[k] = sorted(x for x in self.restarts[k] if self.start < x < self.end)


VALID_ONLY = {"kid_before_publish", "key_removed_early", "signature_spike", "audience_misconfig", "type_confusion"}
SCANNER_MIX = ["none", "randkid", "randkid", "typjwt", "hs256", "tamper", "junk", "junk"]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    L, k, p = math.exp(-lam), 0, 1.0
    while k < 1000:
        p *= rng.random()
        if p <= L:
            return k
        k += 1
    return k


def pick(rng: random.Random, weighted: list) -> str:
    tot = sum(w for _, w in weighted)
    x = rng.uniform(0, tot)
    for a, w in weighted:
        x -= w
        if x <= 0:
            return a
    return weighted[-1][0]


# ----------------------------------------------------------------------------------------------------- timelines


def timeline_specs(seed_base: int) -> dict:
    return {
        "q1": dict(start="2026-03-02T00:00:00Z", hours=24, seed=seed_base + 1, quiet=True, setup=setup_q1),
        "q2": dict(start="2026-03-09T00:00:00Z", hours=24, seed=seed_base + 2, quiet=True, setup=setup_q2),
        "q3": dict(start="2026-03-16T00:00:00Z", hours=24, seed=seed_base + 3, quiet=True, setup=setup_q3),
        "q4": dict(start="2026-03-23T00:00:00Z", hours=24, seed=seed_base + 4, quiet=True, setup=setup_q4),
        "i1": dict(start="2026-04-06T08:00:00Z", hours=12, seed=seed_base + 11, quiet=False, setup=setup_i1),
        "i2": dict(start="2026-04-13T06:00:00Z", hours=12, seed=seed_base + 12, quiet=False, setup=setup_i2),
        "i3": dict(start="2026-04-20T10:00:00Z", hours=12, seed=seed_base + 13, quiet=False, setup=setup_i3),
        "i4": dict(start="2026-04-27T04:00:00Z", hours=12, seed=seed_base + 14, quiet=False, setup=setup_i4),
    }


def setup_q1(w: World) -> None:
    w.loadtests.append(("catalog-api", w.h(14), w.h(14.5), 220))
    w.live.append(("eu", w.h(19.75), 5.0, 15 * MIN))
    w.blips.append(("apac", w.h(12.5), w.h(12.5) + 5 * MIN))


def setup_q2(w: World) -> None:
    w.live.append(("us", w.h(1.0), 6.0, 12 * MIN))
    w.blips.append(("eu", w.h(20.2), w.h(20.2) + 7 * MIN))
    w.loadtests.append(("playback-api", w.h(10), w.h(10.4), 300))


def setup_q3(w: World) -> None:
    w.blips.append(("us", w.h(2.0), w.h(2.0) + 4 * MIN))
    w.blips.append(("eu", w.h(21.0), w.h(21.0) + 3 * MIN))
    w.live.append(("apac", w.h(12.0), 4.0, 10 * MIN))


def setup_q4(w: World) -> None:
    w.loadtests.append(("catalog-api", w.h(16), w.h(16.75), 260))
    w.live.append(("apac", w.h(12.5), 5.0, 15 * MIN))
    w.live.append(("eu", w.h(20.0), 4.0, 10 * MIN))
    w.blips.append(("us", w.h(0.5), w.h(0.5) + 10 * MIN))


def inc_kid_before_publish(w, iid, issuer, at, gap, detail):
    iss = w.issuers[issuer]
    _prev, new = iss.rotate_at(at, publish_at=at + gap)
    w.kid_incs.append((issuer, new.kid, at, at + gap + 15 * MIN, iid, -1))
    return w.add(
        Incident(
            iid,
            "kid_before_publish",
            issuer=iss.iss,
            kid=new.kid,
            window=(at, at + gap),
            detail=f"{detail}: {issuer} IdP signs with {new.kid} from {iso(at)} but publishes it "
            f"{gap / MIN:.0f} min later",
        )
    )


def inc_key_removed_early(w, iid, issuer, at, removed_after, detail, which="prev"):
    iss = w.issuers[issuer]
    if which == "prev":
        prev, _new = iss.rotate_at(at, publish_at=at - HOUR, prev_remove_at=at + removed_after)
        victim, rem = prev, at + removed_after
    else:  # the key retired at the last scheduled rotation, removed before the longest tokens expired
        victim = max((k for k in iss.keys if k.sign_until <= at), key=lambda k: k.sign_until)
        victim.remove_at = at
        rem = at
    w.kid_incs.append((issuer, victim.kid, rem, w.end + HOUR, iid, rem))
    return w.add(
        Incident(
            iid,
            "key_removed_early",
            issuer=iss.iss,
            kid=victim.kid,
            window=(rem, w.end),
            detail=f"{detail}: {victim.kid} left the {issuer} key set at {iso(rem)} while tokens "
            f"signed with it were still valid",
        )
    )


def inc_outage(w, iid, issuer, s, dur, detail):
    iss = w.issuers[issuer]
    iss.outages.append((s, s + dur))
    w.outage_incs.append((issuer, s, s + dur, iid))
    return w.add(
        Incident(
            iid,
            "jwks_outage",
            issuer=iss.iss,
            window=(s, s + dur),
            detail=f"{detail}: {issuer} JWKS endpoint answers 503 for {dur / MIN:.0f} min",
        )
    )


def inc_sigspike(w, iid, issuer, s, dur, frac, detail):
    iss = w.issuers[issuer]
    key = iss.signer(s)
    key.alt_priv = gen_priv(iss.alg)
    iss.spikes.append((s, s + dur, frac, key.kid, iid))
    return w.add(
        Incident(
            iid,
            "signature_spike",
            issuer=iss.iss,
            kid=key.kid,
            window=(s, s + dur),
            detail=f"{detail}: {frac:.0%} of {issuer} signer nodes sign under {key.kid} with replaced "
            f"key material for {dur / MIN:.0f} min (JWKS unchanged)",
        )
    )


def inc_client_clock(w, iid, cid, s, e, f, detail):
    w.client_clock.setdefault(cid, []).append((s, e, f, iid))
    return w.add(Incident(iid, "clock_skew", client_id=cid, window=(s, e), detail=detail))


def inc_issuer_clock(w, iid, issuer, s, e, off, detail):
    iss = w.issuers[issuer]
    iss.clock.append((s, e, off, iid))
    return w.add(
        Incident(
            iid,
            "server_clock_skew",
            issuer=iss.iss,
            window=(s, e),
            detail=f"{detail}: {issuer} IdP clock {off / MIN:+.0f} min",
        )
    )


def inc_replica_clock(w, iid, api, r, s, e, off, detail):
    w.replica_clock.setdefault((api, r), []).append((s, e, off, iid))
    return w.add(
        Incident(
            iid,
            "server_clock_skew",
            profile=api,
            window=(s, e),
            detail=f"{detail}: {api} replica r{r} clock {off / MIN:+.0f} min",
        )
    )


def inc_stall(w, iid, issuer, s, dur, detail):
    iss = w.issuers[issuer]
    iss.stalls.append((s, s + dur, iid))
    return w.add(
        Incident(
            iid,
            "issuer_stalled",
            issuer=iss.iss,
            window=(s, s + dur),
            detail=f"{detail}: {issuer} token endpoint down {dur / MIN:.0f} min, key set up",
        )
    )


def inc_api_aud(w, iid, api, s, e, wrong, detail, replicas=None):
    n = APIS[api]["replicas"]
    for r in replicas if replicas is not None else range(n):
        w.replica_aud.setdefault((api, r), []).append((s + r * 150, e, wrong, iid))
    return w.add(
        Incident(
            iid,
            "audience_misconfig",
            profile=api,
            window=(s, e),
            detail=f"{detail}: {api} deployed expecting audience {wrong!r} (rolling, then rolled back)",
        )
    )


def inc_client_aud(w, iid, cid, s, e, wrong, detail):
    w.client_aud.setdefault(cid, []).append((s, e, wrong, iid))
    return w.add(
        Incident(
            iid,
            "audience_misconfig",
            client_id=cid,
            window=(s, e),
            detail=f"{detail}: {cid} requests tokens for audience {wrong!r}",
        )
    )


def inc_idtok(w, iid, cid, s, e, detail):
    w.client_idtok.setdefault(cid, []).append((s, e, iid))
    return w.add(
        Incident(
            iid,
            "type_confusion",
            client_id=cid,
            window=(s, e),
            detail=f"{detail}: {cid} sends its OIDC ID tokens as bearer tokens",
        )
    )


def inc_attack(w, iid, apis, s, dur, per_min, mix, detail):
    w.attacks.append((apis, s, s + dur, per_min, mix, iid))
    return w.add(
        Incident(
            iid,
            "attack_burst",
            window=(s, s + dur),
            detail=f"{detail}: {per_min}/min for {dur / MIN:.0f} min at {', '.join(apis)}",
        )
    )


def setup_i1(w: World) -> None:  # 08:00-20:00Z
    w.blips.append(("eu", w.h(11.3), w.h(11.3) + 4 * MIN))
    w.live.append(("eu", w.h(11.0), 4.0, 12 * MIN))
    inc_kid_before_publish(w, "inc1-a", "consumer", w.h(2.0), 25 * MIN, "emergency rotation, publish job lagging")
    inc_outage(w, "inc1-b", "partner", w.h(4.5), 40 * MIN, "partner IdP CDN misconfiguration")
    inc_client_clock(
        w,
        "inc1-c",
        "partner-telco-sync",
        w.h(0.5),
        w.h(12),
        lambda t: -9 * MIN,
        "partner-telco-sync backend clock 9 min behind (fixed), keeps 1 h tokens past exp",
    )
    inc_attack(w, "inc1-d", ["playback-api"], w.h(7.2), 15 * MIN, 70, ["randkid"], "random-kid flood against one API")
    inc_idtok(w, "inc1-e", "web-player", w.h(8.5), w.h(9.6), "web-player release 5.2 SDK regression")


def setup_i2(w: World) -> None:  # 06:00-18:00Z
    w.loadtests.append(("catalog-api", w.h(3.0), w.h(3.4), 200))
    w.blips.append(("apac", w.h(5.0), w.h(5.0) + 6 * MIN))
    inc_key_removed_early(w, "inc2-a", "partner", w.h(1.5), 10 * MIN, "partner IdP rotation script pruned old key")
    inc_sigspike(w, "inc2-b", "gaming", w.h(3.5), 20 * MIN, 1.0, "gaming IdP HSM migration")
    inc_client_clock(
        w,
        "inc2-c",
        "svc-billing-batch",
        w.h(6.0),
        w.h(7.5),
        lambda t: +4 * MIN,
        "svc-billing-batch node clock 4 min ahead (fixed): iat/nbf in the future",
    )
    inc_issuer_clock(w, "inc2-d", "consumer", w.h(8.0), w.h(8.6), +4 * MIN, "consumer IdP NTP misstep")
    inc_api_aud(
        w, "inc2-e", "catalog-api", w.h(9.3), w.h(9.8), "https://api.streamcast.tv/catalog", "catalog-api config change"
    )
    inc_attack(
        w,
        "inc2-f",
        ["playback-api", "catalog-api", "partner-gateway", "billing-api", "leaderboard-api"],
        w.h(10.5),
        10 * MIN,
        150,
        ["none", "hs256", "tamper", "randkid", "junk", "typjwt"],
        "forged-token burst across the public APIs",
    )


def setup_i3(w: World) -> None:  # 10:00-22:00Z
    w.live.append(("eu", w.h(9.5), 5.0, 15 * MIN))
    w.blips.append(("us", w.h(3.0), w.h(3.0) + 5 * MIN))
    inc_stall(w, "inc3-a", "consumer", w.h(1.0), 30 * MIN, "consumer IdP token endpoint database failover")
    inc_replica_clock(w, "inc3-b", "matchmaking-api", 1, w.h(4.0), w.h(5.0), +12 * MIN, "host lost NTP")
    s, e = w.h(2.0), w.h(12.0)
    inc_client_clock(
        w,
        "inc3-c",
        "partner-isp-bundle",
        s,
        e,
        lambda t: -(t - s) / (e - s) * 35 * MIN,
        "partner-isp-bundle VM clock drifting behind, 0 to -35 min over 10 h",
    )
    inc_client_aud(
        w,
        "inc3-d",
        "ios-app",
        w.h(6.0),
        w.h(7.0),
        "https://api-staging.streamcast.tv",
        "ios-app 8.1 shipped with the staging audience",
    )
    inc_kid_before_publish(w, "inc3-e", "workload", w.h(8.0), 4 * MIN, "STS rotated signing key before its JWKS sync")
    inc_outage(w, "inc3-f", "consumer", w.h(9.0), 15 * MIN, "consumer IdP JWKS origin down")
    inc_attack(
        w,
        "inc3-g",
        ["ingest-api"],
        w.h(10.5),
        12 * MIN,
        45,
        ["randkid", "none", "junk"],
        "scan of the internal ingest API from a compromised pod",
    )


def setup_i4(w: World) -> None:  # 04:00-16:00Z
    w.blips.append(("eu", w.h(10.0), w.h(10.0) + 5 * MIN))
    w.loadtests.append(("playback-api", w.h(1.0), w.h(1.3), 250))
    inc_stall(w, "inc4-a", "gaming", w.h(2.0), 12 * MIN, "gaming IdP token service overloaded")
    inc_key_removed_early(
        w, "inc4-b", "consumer", w.h(3.0), 0, "consumer IdP pruned the previous key a day early", which="retired"
    )
    inc_sigspike(
        w, "inc4-c", "consumer", w.h(5.0), 30 * MIN, 0.33, "one of three consumer IdP signer nodes got a new key"
    )
    inc_issuer_clock(w, "inc4-d", "gaming", w.h(6.5), w.h(7.0), -8 * MIN, "gaming IdP clock stepped back")
    inc_idtok(w, "inc4-e", "partner-hotel-tv", w.h(8.0), w.h(9.0), "hotel TV integration switched to the OIDC flow")
    inc_api_aud(
        w,
        "inc4-f",
        "ingest-api",
        w.h(2.1),
        w.h(2.5),
        "spiffe://streamcast.internal/ingest",
        "ingest-api canary with the new audience",
        replicas=[0],
    )
    inc_attack(
        w,
        "inc4-g",
        ["matchmaking-api", "leaderboard-api"],
        w.h(9.5),
        20 * MIN,
        25,
        ["randkid", "tamper", "none"],
        "credential-stuffing bot on the game APIs",
    )
    inc_client_clock(
        w,
        "inc4-h",
        "svc-transcoder",
        w.h(10.5),
        w.h(11.5),
        lambda t: -7 * MIN,
        "svc-transcoder nodes' clock 7 min behind: minted 5-min tokens already expired",
    )


# ----------------------------------------------------------------------------------------------------- replicas

TRUE_T = [0.0]


class JwksHandler(http.server.BaseHTTPRequestHandler):
    world: World = None

    hits: ClassVar[list[int]] = [0]

    def do_GET(self):
        self.hits[0] += 1
        name = self.path.strip("/").split("/")[0]
        iss = self.world.issuers.get(name)
        t = TRUE_T[0]
        if iss is None or iss.down(t):
            body = b'{"error":"service unavailable"}'
            self.send_response(404 if iss is None else 503)
        else:
            body = json.dumps(iss.jwks_at(t)).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def peek_header(token) -> dict:
    try:
        h = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
    except Exception:
        return {}


def peek_iss(token):
    try:
        p = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))).get("iss")
    except Exception:
        return None


class KeyCache:
    """An application's own JWKS cache for the wrapped libraries (TTL, refresh on unknown kid with a cooldown;
    last-known-good only when ``stale_ok``)."""

    def __init__(self, url, build, ttl=600.0, cooldown=60.0, stale_ok=True):
        self.url, self.build, self.ttl, self.cooldown, self.stale_ok = url, build, ttl, cooldown, stale_ok
        self.doc, self.obj, self.kids, self.expires, self.last_try = None, None, set(), 0.0, -1e18

    def _fetch(self, now, soft):
        self.last_try = now
        try:
            with urllib.request.urlopen(self.url, timeout=3) as r:
                doc = json.load(r)
        except Exception:
            if self.doc is not None and (soft or self.stale_ok):
                self.expires = now + self.cooldown
                return
            raise
        self.doc, self.obj = doc, self.build(doc)
        self.kids = {k.get("kid") for k in doc.get("keys", [])}
        self.expires = now + self.ttl

    def get(self, kid):
        now = time.time()
        if self.doc is None or now >= self.expires:
            if self.doc is None and now < self.last_try + self.cooldown and self.stale_ok is False:
                pass
            self._fetch(now, soft=False)
        elif kid is not None and kid not in self.kids and now >= self.last_try + self.cooldown:
            self._fetch(now, soft=True)
        return self.obj, self.doc


def sim_time_module():
    m = types.ModuleType("time_sim")
    for k in dir(time):
        if not k.startswith("__"):
            setattr(m, k, getattr(time, k))
    m.monotonic = lambda: time.time()
    return m


def build_validator(w: World, api: str, r: int, base: str):
    spec = APIS[api]
    kind = spec["kind"]
    L = spec["leeway"]
    url = {i: f"{base}/{i}/.well-known/jwks.json" for i in spec["issuers"]}

    def aud_for(issuer):
        t = TRUE_T[0]
        for s, e, a, _ in w.replica_aud.get((api, r), ()):
            if s <= t < e:
                return a
        return ISSUERS[issuer]["aud"]

    if kind == "verifierset":
        srcs = {
            i: jwtobs.JwksSource(
                url[i],
                clock=time.time,
                timeout=3.0,
                cooldown=30.0,
                min_ttl=60,
                default_ttl=300,
                max_stale=spec.get("max_stale", 86400),
            )
            for i in spec["issuers"]
        }

        def make(aud_map):
            return jwtobs.VerifierSet(
                [
                    jwtobs.Verifier(
                        jwtobs.Profile(
                            name=api,
                            issuer=ISSUERS[i]["iss"],
                            audience=aud_map[i],
                            algorithms=(ISSUERS[i]["alg"],),
                            token_type="at+jwt" if i in ("consumer", "partner") else None,
                            required_claims=("iss", "sub", "aud", "exp"),
                            leeway=L,
                        ),
                        keys=srcs[i],
                        backend=spec["backend"],
                    )
                    for i in spec["issuers"]
                ]
            )

        cache = {}

        def validate(token):
            key = tuple(aud_for(i) for i in spec["issuers"])
            vs = cache.get(key)
            if vs is None:
                vs = cache[key] = make(dict(zip(spec["issuers"], key, strict=True)))
            return vs.verify(token)

        return validate

    if kind == "pyjwt":
        issuer = spec["issuers"][0]
        client = jwt.PyJWKClient(url[issuer], lifespan=300, timeout=3)
        alg = ISSUERS[issuer]["alg"]

        def validate(token):
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=aud_for(issuer),
                issuer=ISSUERS[issuer]["iss"],
                leeway=L,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )

        return jwtobs.wrap(validate, library="pyjwt", profile=api)

    if kind == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken

        aj = JsonWebToken([ISSUERS[i]["alg"] for i in spec["issuers"]])
        caches = {
            ISSUERS[i]["iss"]: (i, KeyCache(url[i], JsonWebKey.import_key_set, stale_ok=spec["stale_ok"]))
            for i in spec["issuers"]
        }
        first = caches[ISSUERS[spec["issuers"][0]]["iss"]]

        def validate(token):
            i, kc = caches.get(peek_iss(token), first)
            ks, _ = kc.get(peek_header(token).get("kid"))
            opts = {
                "iss": {"essential": True, "value": ISSUERS[i]["iss"]},
                "aud": {"essential": True, "value": aud_for(i)},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }
            claims = aj.decode(token, ks, claims_options=opts)
            claims.validate(leeway=L)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)

    if kind == "jose":
        import jose.jwt

        issuer = spec["issuers"][0]
        kc = KeyCache(url[issuer], lambda doc: doc, stale_ok=True)

        def validate(token):
            kid = peek_header(token).get("kid")
            _, doc = kc.get(kid)
            key = next((k for k in doc["keys"] if k.get("kid") == kid), None) or doc
            return jose.jwt.decode(
                token,
                key,
                algorithms=[ISSUERS[issuer]["alg"]],
                audience=aud_for(issuer),
                issuer=ISSUERS[issuer]["iss"],
                options={"leeway": L},
            )

        return jwtobs.wrap(validate, library="jose", profile=api)

    if kind == "joserfc":
        from joserfc import jwt as fjwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        issuer = spec["issuers"][0]
        kc = KeyCache(url[issuer], KeySet.import_key_set, stale_ok=True, ttl=300)

        def validate(token):
            ks, _ = kc.get(peek_header(token).get("kid"))
            tok = fjwt.decode(token, ks, algorithms=[ISSUERS[issuer]["alg"]])
            JWTClaimsRegistry(
                leeway=L,
                iss={"essential": True, "value": ISSUERS[issuer]["iss"]},
                aud={"essential": True, "value": aud_for(issuer)},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=api)

    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        issuer = spec["issuers"][0]
        kc = KeyCache(url[issuer], lambda doc: cjwk.JWKSet.from_json(json.dumps(doc)), stale_ok=spec["stale_ok"])

        def validate(token):
            ks, _ = kc.get(peek_header(token).get("kid"))
            return cjwt.JWT(
                jwt=token,
                key=ks,
                algs=[ISSUERS[issuer]["alg"]],
                expected_type="JWS",
                check_claims={"iss": ISSUERS[issuer]["iss"], "aud": aud_for(issuer), "exp": None},
            )

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


def run_segment(w: World, api: str, r: int, reqs: list, path: str) -> None:
    """Child process: one replica process's life (from start or a restart to the next restart)."""
    jwt.jwks_client.time = sim_time_module()
    jwt.jwk_set_cache.time = jwt.jwks_client.time
    jwt.api_jwk.time = jwt.jwks_client.time
    TRUE_T[0] = reqs[0][0]
    trav = time_machine.travel(reqs[0][0], tick=False).start()
    JwksHandler.world = w
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    jwtobs.configure(events_path=path, service=api, fingerprint_key=FP_KEY)
    validate = build_validator(w, api, r, base)
    skew = w.replica_clock.get((api, r), ())
    t0 = time.perf_counter()
    for t, raw, _tags, _cid, _src in reqs:
        off = 0.0
        for s, e, o, _ in skew:
            if s <= t < e:
                off = o
        TRUE_T[0] = t
        trav.move_to(t + off)
        try:
            validate(raw)
        except Exception:
            pass
    t1 = time.perf_counter()
    jwtobs.flush()
    if os.environ.get("FLEET36_DEBUG"):
        print(
            f"    flush {time.perf_counter() - t1:.2f}s jwks hits {JwksHandler.hits[0]} loop {t1 - t0:.2f}s",
            file=sys.stderr,
        )
    srv.shutdown()
    srv.server_close()


# ----------------------------------------------------------------------------------------------------- driver


def generate(name: str, spec: dict, out: str, scale: float) -> dict:
    t_wall = time.time()
    start = ts(spec["start"])
    w = World(name, start, spec["hours"], spec["seed"], scale, spec["quiet"])
    spec["setup"](w)
    w.plan_restarts()
    w.build_devices_and_intents()
    w.process()
    w.scanners_and_extras()
    t_plan = time.time() - t_wall
    tdir = os.path.join(out, name)
    edir = os.path.join(tdir, "events")
    os.makedirs(edir, exist_ok=True)
    for f in os.listdir(edir):
        os.unlink(os.path.join(edir, f))
    n_segments = 0
    all_matched = []  # (req, event)
    for (api, r), reqs in sorted(w.requests.items()):
        reqs.sort(key=lambda x: x[0])
        if not reqs:
            continue
        path = os.path.join(edir, f"{api}-r{r}.jsonl")
        bounds = w.restarts.get((api, r), [])
        segs, cur, bi = [], [], 0
        for q in reqs:
            while bi < len(bounds) and q[0] >= bounds[bi]:
                if cur:
                    segs.append(cur)
                    cur = []
                bi += 1
            cur.append(q)
        if cur:
            segs.append(cur)
        for seg in segs:
            n_segments += 1
            sys.stdout.flush()
            t_seg = time.time()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    run_segment(w, api, r, seg, path)
                except BaseException as exc:  # pragma: no cover
                    print(f"child {api} r{r} failed: {exc!r}", file=sys.stderr)
                    code = 1
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.environ.get("FLEET36_DEBUG"):
                print(f"  seg {api} r{r} n={len(seg)} {time.time() - t_seg:.2f}s", file=sys.stderr)
            if status != 0:
                raise RuntimeError(f"replica {api} r{r} failed ({status})")
        events = []
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if "event" in rec:
                    continue
                events.append(rec)
        if len(events) != len(reqs):
            raise RuntimeError(f"{api} r{r}: {len(events)} events for {len(reqs)} requests")
        all_matched.extend(zip(reqs, events, strict=False))
    # labels
    by_inc: dict[str, list] = {i.id: [] for i in w.incidents}
    kinds = {i.id: i.kind for i in w.incidents}
    reasons: dict[str, int] = {}
    rejected = 0
    src_counts: dict[str, int] = {}
    for q, ev in all_matched:
        src_counts[q[4]] = src_counts.get(q[4], 0) + 1
        if ev["outcome"] != "rejected":
            continue
        rejected += 1
        reasons[ev["reason"]] = reasons.get(ev["reason"], 0) + 1
        for tag in q[2]:
            ok = REASONS[kinds[tag]]
            if ok is None or ev["reason"] in ok:
                by_inc[tag].append(ev["time"])
    incidents, inc_summary = [], []
    for inc in w.incidents:
        times = sorted(by_inc[inc.id], key=ts)
        inc_summary.append(
            {
                "id": inc.id,
                "kind": inc.kind,
                "count": len(times),
                "issuer": inc.issuer,
                "kid": inc.kid,
                "client_id": inc.client_id,
                "profile": inc.profile,
                "injected": [iso(inc.window[0]), iso(inc.window[1])],
            }
        )
        if not times:
            continue
        incidents.append(
            {
                "id": inc.id,
                "kind": inc.kind,
                "start": times[0],
                "end": times[-1],
                "count": len(times),
                "issuer": inc.issuer,
                "kid": inc.kid,
                "client_id": inc.client_id,
                "profile": inc.profile,
                "detail": inc.detail,
            }
        )
    labels = {
        "timeline": name,
        "quiet": spec["quiet"],
        "seed": spec["seed"],
        "start": iso(w.start)[:-8] + "Z",
        "end": iso(w.end)[:-8] + "Z",
        "generator": GENERATOR,
        "incidents": incidents,
    }
    with open(os.path.join(tdir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    n = len(all_matched)
    summary = {
        "timeline": name,
        "seed": spec["seed"],
        "quiet": spec["quiet"],
        "start": labels["start"],
        "end": labels["end"],
        "validations": n,
        "rejections": rejected,
        "rejections_by_reason": dict(sorted(reasons.items(), key=lambda x: -x[1])),
        "expired_share": round(reasons.get("JWT_EXPIRED", 0) / max(n, 1), 5),
        "replicas": {f"{a}-r{r}": len(q) for (a, r), q in sorted(w.requests.items())},
        "process_segments": n_segments,
        "requests_by_source": src_counts,
        "tokens_signed": w.signed,
        "incidents": inc_summary,
        "background": {
            "blips": [(r, iso(s), iso(e)) for r, s, e in w.blips],
            "live_events": [(r, iso(t), m) for r, t, m, _ in w.live],
            "loadtests": [(a, iso(s), iso(e)) for a, s, e, _ in w.loadtests],
        },
        "wall_s": round(time.time() - t_wall, 1),
        "plan_s": round(t_plan, 1),
    }
    with open(os.path.join(tdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None)
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args(argv)
    if a.score_only:
        return _score(a.out, a.only.split(",") if a.only else None)
    specs = timeline_specs(a.seed_base)
    names = a.only.split(",") if a.only else list(specs)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    res = {}
    for n in names:
        s = generate(n, specs[n], a.out, a.scale)
        res[n] = {
            "validations": s["validations"],
            "rejections": s["rejections"],
            "expired_share": s["expired_share"],
            "wall_s": s["wall_s"],
            "incidents": [(i["id"], i["kind"], i["count"]) for i in s["incidents"]],
        }
        print(
            f"{n}: {s['validations']} validations, {s['rejections']} rejections, expired {s['expired_share']:.2%}, "
            f"{s['wall_s']} s",
            flush=True,
        )
    top = {
        "generator": GENERATOR,
        "scale": a.scale,
        "seed_base": a.seed_base,
        "wall_s": round(time.time() - t0, 1),
        "timelines": res,
    }
    path = os.path.join(a.out, "fleet36-summary.json")
    if a.only and os.path.exists(path):
        old = json.load(open(path))
        old["timelines"].update(res)
        old["wall_s_last_run"] = top["wall_s"]
        top = {**old, "scale": a.scale}
    with open(path, "w") as f:
        json.dump(top, f, indent=1)
    print(f"total wall {time.time() - t0:.1f} s")
    return _score(a.out, names) if a.score else 0


def _score(out: str, only: list[str] | None) -> int:
    """jwtobs's detectors over the generated timelines, scored as ``benchmarks/fleet22.py`` scores its own (a
    detection matches a label of its kind and entity overlapping it +-120 s; on a quiet day every detection is a
    false one). Added after the generator was written and run, by someone who had read the detectors."""
    from pathlib import Path

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    names = [n for n in timeline_specs(0) if not only or n in only]
    fleet22.report([fleet22.score(Path(out) / n) for n in names if (Path(out) / n / "labels.json").exists()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
