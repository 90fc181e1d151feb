"""fleet38: a blind, independent benchmark data generator for jwtobs's incident detectors.

What is modelled
================
"VoltGrid", a connected-devices + open-banking company. Every event is written by jwtobs itself from a
REAL validation of a REAL signed token (keys generated at run time, tokens signed with PyJWT), in a fleet
of API replicas where each replica life is its own OS process with its own ``jwtobs.configure(events_path=
<out>/<timeline>/events/<api>.<replica>.jsonl, service=<api>)``; a restart (rolling deploy, crash,
blue/green, autoscaling) is a new process appending to the replica's file with cold caches. Simulated time
is moved with ``time_machine`` (``travel(..., tick=False)`` + ``move_to`` before each validation); key sets
are served by a real ``http.server`` on 127.0.0.1 (port 0) inside each replica process, computed from the
simulated (true) time; ``JwksSource(clock=time.time)`` and PyJWKClient's cache clock (its module's
``time.monotonic`` pointed at ``time.time``) run on the simulated clock.

Issuers: ``id.voltgrid.io`` (driver app IdP, RS256, two regions eu/us whose JWKS replicate with a lag of a
few minutes: healthy rotations pre-publish the new key hours before it signs), ``auth.voltgrid-bank.com``
(FAPI bank IdP, PS256, 5-minute at+jwt tokens), ``devices.voltgrid.io`` (device IdP, ES256, key set behind a
CDN with ``max-age=900`` and ``Age``, one edge per region), ``sso.fleetpartner.example`` (B2B partner SSO,
RS256).

APIs (profile = service name) and their validators:
  charge-api      Verifier + JwksSource (backend pyjwt), ES256, leeway 60, no typ check     (eu x2, us x1, autoscaled)
  meter-ingest    jwtobs.wrap(PyJWKClient + jwt.decode), leeway 30                         (eu x2, autoscaled)
  payments-api    Verifier + JwksSource (backend joserfc), PS256, leeway 0 (canary 5), typ at+jwt  (blue/green)
  accounts-api    jwtobs.wrap(joserfc decode + JWTClaimsRegistry), own key cache without last-good (eu x2 + canary)
  app-gateway     VerifierSet (idp + fleet SSO), backend authlib, typ at+jwt, leeway 30     (eu x2, us x2)
  fleet-portal    jwtobs.wrap(jwcrypto JWT with a JWKSet), own key cache                    (eu x2)
  notify-api      jwtobs.wrap(python-jose decode, key chosen by kid, else the whole set)    (eu x1)

Background in every timeline: EV chargers and smart meters (tens of thousands at scale 1 over a few
client_ids) that boot with a wrong clock (firmware build date, 2000, 1970) until NTP syncs, whose RTCs drift,
that renew by their own clock against ``exp`` (and renew after a 401), a DST-misconfigured subgroup one hour
behind from the start, store-and-forward replays of legacy meters after connectivity blips (tokens hours
old); driver-app users with several devices per client_id (iOS/Android renew by ``expires_in``, web by
``exp`` with browser clock errors); bank app sessions; a partner aggregator polling every account every five
minutes in bursts, with retries (exponential backoff + jitter, duplicates of the same token); a nightly
settlement batch at 00:00 Europe/Berlin with a cached token; fleet operators' integrations; canaries,
blue/green, rolling restarts, crashes and autoscaling; healthy key rotations with regional replication lag;
internet scanners (1-3 garbage tokens a minute: alg none, random kids, HS256 with default typ, no client
id, tampered real tokens, junk); diurnal and weekly traffic in three time zones.

Timelines: quiet-1..quiet-4 (24 h each, nothing injected) and inc-1..inc-4 (12 h each, 06:00-18:00Z)
injecting every kind of ``jwtobs.kinds.KIND_INFO`` two to four times (29 incidents). Apps resumed from the
background send their stale token once before refreshing (a diffuse JWT_EXPIRED background; after a healthy
key removal such long-expired tokens are JWT_UNKNOWN_KID, which is not an incident).

Labels
======
Each request carries the ids of the incidents that could make it fail. Events are matched to requests by
order within each replica's event file (records with an ``event`` key, e.g. ``jwks.keyset_changed``, are
skipped). A rejection counts for an incident when it carries the tag and its reason is one the kind causes:
  kid_before_publish, key_removed_early: JWT_UNKNOWN_KID (and JWT_BAD_SIGNATURE from python-jose, which
      tries every key of the set when the kid is not found)
  jwks_outage: JWT_JWKS_UNAVAILABLE;  signature_spike: JWT_BAD_SIGNATURE
  clock_skew, server_clock_skew: JWT_EXPIRED, JWT_NOT_YET_VALID;  issuer_stalled: JWT_EXPIRED
  audience_misconfig: JWT_AUDIENCE_MISMATCH;  type_confusion: JWT_TYPE_MISMATCH, JWT_AUDIENCE_MISMATCH
  attack_burst: any rejection.
Token-level tags (kid, signature, issuer clock, ID token, wrong audience) stop applying 15 minutes after the
token's ``exp``. An incident's start/end are the event ``time`` of its first/last counted rejection, count the
number of counted rejections; incidents without any are left out of labels.json (listed in summary.json).
Only the entity field of the kind's scope is set (kid / issuer / client_id / profile; fleet: none); for
audience_misconfig the culprit decides: ``profile`` for an API deployed with the wrong audience,
``client_id`` for one client requesting the wrong audience; server_clock_skew: ``issuer`` for an issuer's
clock, ``profile`` for a validator replica's clock.

CLI
===
  python benchmarks/fleet38.py --out DIR [--only NAME,...] [--seed-base N] [--scale F] [--workers 2]

Writes ``DIR/<timeline>/events/*.jsonl``, ``labels.json`` and ``summary.json``. At most ``--workers``
replica processes run at once.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import types
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from jwtobs.kinds import KIND_INFO

GENERATOR = "fleet38"
FP_KEY = "fleet38-fingerprint-key-0123456789abcdef"

IDP = "https://id.voltgrid.io"
BANK = "https://auth.voltgrid-bank.com/fapi"
DEV = "https://devices.voltgrid.io"
FLEET = "https://sso.fleetpartner.example"
ISS_URL = {"idp": IDP, "bank": BANK, "dev": DEV, "fleet": FLEET}
ISS_ALG = {"idp": "RS256", "bank": "PS256", "dev": "ES256", "fleet": "RS256"}
MAX_AGE = {"idp": 300, "bank": 300, "dev": 900, "fleet": 600}

LEEWAY = {
    "charge-api": 60,
    "meter-ingest": 30,
    "payments-api": 0,
    "accounts-api": 0,
    "app-gateway": 30,
    "fleet-portal": 60,
    "notify-api": 10,
}
GRACE = 900  # token-level tags stop applying this long after exp

TZ = {"eu": 1, "uk": 0, "us": -5}  # January: fixed offsets
SHAPES = {
    "home": [
        0.15,
        0.1,
        0.08,
        0.07,
        0.08,
        0.15,
        0.4,
        0.8,
        0.9,
        0.7,
        0.6,
        0.6,
        0.7,
        0.65,
        0.6,
        0.65,
        0.8,
        1.0,
        1.0,
        1.0,
        0.95,
        0.8,
        0.5,
        0.3,
    ],
    "business": [
        0.05,
        0.03,
        0.03,
        0.03,
        0.05,
        0.1,
        0.3,
        0.7,
        1.0,
        1.0,
        1.0,
        0.95,
        0.85,
        0.95,
        1.0,
        0.95,
        0.85,
        0.6,
        0.35,
        0.2,
        0.15,
        0.1,
        0.08,
        0.06,
    ],
    "charging": [
        0.3,
        0.25,
        0.2,
        0.2,
        0.25,
        0.35,
        0.6,
        0.9,
        0.8,
        0.6,
        0.55,
        0.55,
        0.6,
        0.6,
        0.6,
        0.7,
        0.9,
        1.0,
        1.0,
        0.95,
        0.85,
        0.7,
        0.5,
        0.4,
    ],
    "flat": [1.0] * 24,
}
WEEKEND = {"home": 1.1, "business": 0.3, "charging": 0.9, "flat": 1.0}

COUNTED = {
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
SCOPE_FIELD = {"kid": "kid", "issuer": "issuer", "client": "client_id", "profile": "profile", "fleet": None}

H = 3600.0
M = 60.0


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ----------------------------------------------------------------------------------------------- world


@dataclass
class Key:
    kid: str
    issuer: str
    priv: Any
    jwk: dict[str, Any]
    pub: dict[str, float]  # region -> publication time (origin)
    unpub: dict[str, float]  # region -> removal time (origin)
    sign_from: float
    sign_to: float


@dataclass
class Token:
    raw: str
    iss: str  # issuer short name
    kid: str
    client: str | None
    iat: float  # true issue time
    exp: float  # exp claim
    tags: tuple[str, ...] = ()
    bad_from: float = 0.0  # the client expects a 401 whatever the time within [bad_from, bad_until)
    bad_until: float = 0.0  # (wrong aud, bad signature, ID token, kid unknown to validators)


@dataclass
class Life:
    api: str
    replica: str
    region: str
    start: float
    end: float
    weight: float = 1.0
    cfg: dict[str, Any] = field(default_factory=dict)
    clock: list[tuple[float, float, float]] = field(default_factory=list)  # (a, b, offset)
    tags: list[tuple[float, float, str]] = field(default_factory=list)  # (a, b, incident id)
    why: str = "base"

    def offset(self, t: float) -> float:
        return sum(o for a, b, o in self.clock if a <= t < b)


@dataclass
class Incident:
    id: str
    kind: str
    detail: str
    entity: dict[str, str]
    window: tuple[float, float]


class World:
    """Everything a replica process needs (inherited through fork)."""

    def __init__(self, name: str, start: float, end: float, seed: int, quiet: bool, scale: float):
        self.name, self.start, self.end, self.seed, self.quiet, self.scale = name, start, end, seed, quiet, scale
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.keys: dict[str, list[Key]] = {i: [] for i in ISS_URL}
        self.outages: list[tuple[str, str, float, float, int]] = []  # (issuer, region|"*", a, b, status)
        self.issuer_skew: list[tuple[str, str, float, float, float, str]] = []  # iss, region, a, b, offset, inc
        self.stalls: list[tuple[str, str, float, float, str]] = []  # iss, region, a, b, inc
        self.badnode: list[tuple[str, float, float, float, Any, str]] = []  # iss, a, b, frac, wrong priv, inc
        self.lives: list[Life] = []
        self.incidents: list[Incident] = []
        self.requests: list[tuple[float, str, str, str, tuple[str, ...], str]] = []
        self.background: Counter[str] = Counter()
        self.token_pool: list[str] = []
        self.attacker_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.n_keys = 0
        self.kid_incidents: dict[str, tuple[str, float, float, float, float]] = {}
        self.pending_lives: list[tuple[str, str, float, float, float, str]] = []
        self.pending_tags: list[tuple[str, str, float, float, str]] = []
        self.pending_cfg: list[tuple[str, str, float, float, dict[str, Any], str]] = []
        self.extra_lives: list[tuple[str, str, str, float, float, str]] = []
        self.attacks: list[tuple[float, float, list[str], float, str]] = []
        self.outage_tags: list[tuple[str, str, float, float, str]] = []
        self.cfg: dict[str, Any] = {}
        self.plan_s = 0.0
        self.rotations: list[str] = []

    def cfg_get(self, k: str, d: Any) -> Any:
        return self.cfg.get(k, d)

    # -- keys
    def new_key(
        self,
        iss: str,
        pub: dict[str, float] | float,
        sign_from: float,
        sign_to: float = math.inf,
        unpub: dict[str, float] | float = math.inf,
        kid: str | None = None,
    ) -> Key:
        self.n_keys += 1
        if ISS_ALG[iss] == "ES256":
            priv = ec.generate_private_key(ec.SECP256R1())
            jwk_d = json.loads(ECAlgorithm.to_jwk(priv.public_key()))
        else:
            priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk_d = json.loads(RSAAlgorithm.to_jwk(priv.public_key()))
        stamp = dt.datetime.fromtimestamp(sign_from if math.isfinite(sign_from) else self.start, dt.UTC)
        kid = kid or f"{iss}-{stamp:%Y%m%d%H}-{self.n_keys}"
        jwk_d.update(kid=kid, alg=ISS_ALG[iss], use="sig")
        regions = ("eu", "us")
        pubd = pub if isinstance(pub, dict) else {r: pub for r in regions}
        unpubd = unpub if isinstance(unpub, dict) else {r: unpub for r in regions}
        k = Key(kid, iss, priv, jwk_d, pubd, unpubd, sign_from, sign_to)
        self.keys[iss].append(k)
        return k

    def published(self, iss: str, region: str, t: float) -> list[dict[str, Any]]:
        return [k.jwk for k in self.keys[iss] if k.pub.get(region, math.inf) <= t < k.unpub.get(region, math.inf)]

    def signing_key(self, iss: str, t: float) -> Key:
        cands = [k for k in self.keys[iss] if k.sign_from <= t < k.sign_to]
        return max(cands, key=lambda k: k.sign_from)

    # -- issuance
    def issuer_offset(self, iss: str, region: str, t: float) -> tuple[float, tuple[str, ...]]:
        off, tags = 0.0, ()
        for i, r, a, b, o, inc in self.issuer_skew:
            if i == iss and r in ("*", region) and a <= t < b:
                off += o
                tags += (inc,)
        return off, tags

    def stalled(self, iss: str, region: str, t: float) -> str | None:
        for i, r, a, b, inc in self.stalls:
            if i == iss and r in ("*", region) and a <= t < b:
                return inc
        return None

    def issue(
        self,
        iss: str,
        t: float,
        client: str | None,
        aud: Any,
        sub: str,
        region: str = "eu",
        lifetime: float = 3600,
        id_token: bool = False,
        extra_tags: tuple[str, ...] = (),
        bad: bool = False,
    ) -> Token:
        bad_from, bad_until = (-math.inf, math.inf) if bad or id_token else (0.0, 0.0)
        off, tags = self.issuer_offset(iss, region, t)
        now = int(t + off)
        key = self.signing_key(iss, t)
        priv = key.priv
        for i, a, b, frac, wrong, inc in self.badnode:
            if i == iss and a <= t < b and self.rng.random() < frac:
                priv = wrong
                bad_from, bad_until = -math.inf, math.inf
                tags += (inc,)
        for inc, (kid, a, b, bf, bu) in self.kid_incidents.items():
            if kid == key.kid and a <= t < b:
                tags += (inc,)
                bad_from, bad_until = bf, bu
        exp = now + int(lifetime)
        claims: dict[str, Any] = {
            "iss": ISS_URL[iss],
            "sub": sub,
            "iat": now,
            "exp": exp,
            "jti": b64(self.rng.randbytes(12)),
        }
        if id_token:
            claims.update(
                aud=client,
                nonce=b64(self.rng.randbytes(9)),
                at_hash=b64(self.rng.randbytes(16)),
                auth_time=now - self.rng.randint(0, 3000),
            )
            typ = "JWT"
        else:
            claims["aud"] = aud
            if client:
                claims["azp" if iss == "fleet" else "client_id"] = client
            if iss in ("bank", "dev"):
                claims["nbf"] = now
            if iss == "bank":
                claims.update(scope="accounts payments", acr="urn:openbanking:psd2:sca")
            elif iss == "idp":
                claims["scope"] = "charging profile"
            typ = "at+jwt"
        headers = {"kid": key.kid, "typ": typ}
        raw = jwt.encode(claims, priv, algorithm=ISS_ALG[iss], headers=headers)
        if not id_token and len(self.token_pool) < 400 and self.rng.random() < 0.01:
            self.token_pool.append(raw)
        return Token(raw, iss, key.kid, client, t, exp, tags + extra_tags, bad_from, bad_until)

    def emit(
        self, t: float, api: str, region: str, tok: Token | str, tags: tuple[str, ...] = (), pop: str = ""
    ) -> None:
        if not (self.start <= t < self.end):
            return
        if isinstance(tok, Token):
            ttags = tok.tags if t <= tok.exp + GRACE else ()
            self.requests.append((t, api, region, tok.raw, ttags + tags, pop))
        else:
            self.requests.append((t, api, region, tok, tags, pop))

    def incident(self, kind: str, a: float, b: float, entity: dict[str, str], detail: str) -> str:
        iid = f"{self.name}-{len(self.incidents) + 1:02d}-{kind}"
        self.incidents.append(Incident(iid, kind, detail, entity, (a, b)))
        return iid


# ------------------------------------------------------------------------------------------- traffic


def shape(t: np.ndarray | float, tz: str, kind: str) -> Any:
    local = np.asarray(t) / H + TZ[tz]
    h = np.floor(local) % 24
    frac = local - np.floor(local)
    tab = np.array(SHAPES[kind])
    hi = h.astype(int)
    v = tab[hi] * (1 - frac) + tab[(hi + 1) % 24] * frac
    dow = (np.floor(local / 24).astype(int) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return v * np.where(dow >= 5, WEEKEND[kind], 1.0)


def sample_times(
    w: World, per_day: float, tz: str, kind: str, a: float | None = None, b: float | None = None
) -> np.ndarray:
    a = w.start if a is None else a
    b = w.end if b is None else b
    peak = max(SHAPES[kind]) * max(1.0, WEEKEND[kind])
    mean_rate = per_day / 86400.0 / (sum(SHAPES[kind]) / 24)  # per_day is an average weekday's count
    n = w.np.poisson(mean_rate * peak * (b - a))
    ts = w.np.uniform(a, b, n)
    keep = w.np.uniform(0, peak, n) < shape(ts, tz, kind)
    return np.sort(ts[keep])


@dataclass
class Inst:
    client: str
    iss: str
    region: str
    sub: str
    aud: Any
    lifetime: float
    policy: str  # "exp" (own clock vs exp claim) or "expires_in" (own clock vs received + lifetime)
    margin: float
    retry401: bool = True
    resume_race: float = 0.0  # chance that an app resumed from the background sends its expired token once
    base_off: float = 0.0
    clock: list[tuple[float, float, float, str | None]] = field(default_factory=list)
    tok: Token | None = None
    recv_own: float = 0.0
    id_token: list[tuple[float, float, str]] = field(default_factory=list)
    wrong_aud: list[tuple[float, float, Any, str]] = field(default_factory=list)
    no_retry: list[tuple[float, float]] = field(default_factory=list)

    def off(self, t: float) -> tuple[float, tuple[str, ...]]:
        o, tags = self.base_off, ()
        for a, b, x, inc in self.clock:
            if a <= t < b:
                o += x
                if inc:
                    tags += (inc,)
        return o, tags


def predict_reject(tok: Token, t: float, api: str) -> bool:
    lw = LEEWAY.get(api, 0)
    return tok.bad_from <= t < tok.bad_until or t > tok.exp + lw or t + lw < tok.iat


def use(w: World, inst: Inst, t: float, api: str, pop: str, retry_delay: float = 1.5) -> bool:
    """The client at true time t sends one request to api with its token (renewing first when its own
    clock says so). Returns False when it had no token to send."""
    off, ctags = inst.off(t)
    own = t + off
    tok = inst.tok
    if tok is None:
        need = True
    elif inst.policy == "exp":
        need = own >= tok.exp - inst.margin
    else:
        need = own >= inst.recv_own + inst.lifetime - inst.margin
    stall_tag: tuple[str, ...] = ()
    if need and tok is not None and t > tok.exp and inst.resume_race and w.rng.random() < inst.resume_race:
        w.emit(t, api, inst.region, tok, ctags, pop)  # the refresh timer did not fire while suspended
        w.background["app_resume_stale_token"] += 1
        t += 0.3 + w.rng.random()
    if need:
        stall = w.stalled(inst.iss, inst.region, t)
        if stall is None:
            tok = new_token(w, inst, t)
        else:
            if tok is None:
                return False
            stall_tag = (stall,)
    assert tok is not None
    t = max(t, tok.iat + 0.05)  # a request never leaves before the token it carries was received
    w.emit(t, api, inst.region, tok, ctags + stall_tag, pop)
    if predict_reject(tok, t, api) and inst.retry401 and not any(a <= t < b for a, b in inst.no_retry):
        t2 = t + retry_delay * (0.5 + w.rng.random())
        if w.stalled(inst.iss, inst.region, t2) is None:
            tok2 = new_token(w, inst, t2)
            w.emit(t2, api, inst.region, tok2, inst.off(t2)[1], pop)
    return True


def new_token(w: World, inst: Inst, t: float) -> Token:
    aud, extra, idt = inst.aud, (), False
    for a, b, wa, inc in inst.wrong_aud:
        if a <= t < b:
            aud, extra = wa, (inc,)
    for a, b, inc in inst.id_token:
        if a <= t < b:
            idt, extra = True, (inc,)
    tok = w.issue(
        inst.iss,
        t,
        inst.client,
        aud,
        inst.sub,
        inst.region,
        inst.lifetime,
        id_token=idt,
        extra_tags=extra,
        bad=bool(extra),
    )
    inst.tok = tok
    inst.recv_own = t + inst.off(t)[0]
    return tok


def boots(w: World, insts: list[Inst], per_day: float) -> list[tuple[float, int]]:
    """Reboots: the clock restarts at the firmware build date, 2000-01-01 or 1970 until NTP syncs."""
    out = []
    days = (w.end - w.start) / 86400
    for idx in range(len(insts)):
        if w.rng.random() < per_day * days:
            tb = w.rng.uniform(w.start, w.end)
            sync = tb + w.rng.uniform(20, 900)
            r = w.rng.random()
            base = 1757894400.0 if r < 0.7 else (946684800.0 if r < 0.9 else 0.0)  # 2025-09-15, 2000, 1970
            insts[idx].clock.append((tb, sync, base - tb - insts[idx].base_off, None))
            out.append((tb, idx))
    w.background["device_boots"] += len(out)
    return out


def run_pop(w: World, events: list[tuple[float, int, str]], insts: list[Inst], pop: str) -> None:
    events.sort(key=lambda e: e[0])
    for t, idx, api in events:
        use(w, insts[idx], t, api, pop)


def chargers(w: World, s: float, cfg: dict[str, Any]) -> list[Inst]:
    specs = [("chg-ac22-eu", 600, "eu"), ("chg-dc150-eu", 250, "eu"), ("chg-ac11-us", 350, "us")]
    insts: list[Inst] = []
    for client, n, region in specs:
        for i in range(max(5, int(n * s))):
            inst = Inst(client, "dev", region, f"{client}-{i:05d}", "charge-api", 3600, "exp", 300)
            inst.base_off = w.rng.gauss(0, 4)
            r = w.rng.random()
            if r < 0.03:
                inst.base_off -= w.rng.uniform(90, 600)  # RTC drift
            elif client == "chg-ac11-us" and r < 0.07:
                inst.base_off -= 3600  # DST-misconfigured subgroup: one hour behind from the start
            insts.append(inst)
    w.background["chargers"] = len(insts)
    hook = cfg.get("chargers")
    if hook:
        hook(insts)
    ev: list[tuple[float, int, str]] = []
    for tz in ("eu", "us"):
        idxs = [i for i, x in enumerate(insts) if x.region == tz]
        ts = sample_times(w, 17 * len(idxs), tz, "charging")
        pick = w.np.integers(0, len(idxs), len(ts))
        ev += [(float(t), idxs[p], "charge-api") for t, p in zip(ts, pick, strict=True)]
    for tb, idx in boots(w, insts, 0.02):
        ev.append((tb + w.rng.uniform(5, 40), idx, "charge-api"))  # boot notification with the persisted token
    # warm start: tokens from before the timeline
    for x in insts:
        t0 = w.start - w.rng.uniform(0, 3000)
        x.tok = w.issue("dev", max(t0, w.start - 3500), x.client, x.aud, x.sub, x.region, 3600)
        x.recv_own = x.tok.iat
    run_pop(w, ev, insts, "chargers")
    return insts


def meters(w: World, s: float, cfg: dict[str, Any]) -> None:
    specs = [
        ("meter-gw-de", 3600, "eu"),
        ("meter-gw-nl", 2200, "eu"),
        ("meter-gw-uk", 2300, "uk"),
        ("meter-legacy-es", 1000, "eu"),
    ]
    insts: list[Inst] = []
    for client, n, tz in specs:
        for i in range(max(5, int(n * s))):
            inst = Inst(client, "dev", "eu", f"{client}-{i:05d}", "meter-ingest", 3600, "exp", 120)
            inst.base_off = w.rng.gauss(0, 3)
            if w.rng.random() < 0.02:
                inst.base_off -= w.rng.uniform(60, 400)
            inst.sub = f"{client}-{i:05d}@{tz}"
            insts.append(inst)
    w.background["meters"] = len(insts)
    hook = cfg.get("meters")
    if hook:
        hook(insts)
    ev: list[tuple[float, int, str]] = []
    period = 6 * H
    for idx in range(len(insts)):
        phase = w.rng.uniform(0, period)
        t = w.start - period + phase
        while t < w.end:
            if t >= w.start:
                ev.append((t + w.rng.uniform(0, 120), idx, "meter-ingest"))
            t += period * w.rng.uniform(0.97, 1.03)
        if w.rng.random() < 0.3:  # an extra on-demand read
            ev.append((w.rng.uniform(w.start, w.end), idx, "meter-ingest"))
    for tb, idx in boots(w, insts, 0.01):
        ev.append((tb + w.rng.uniform(30, 300), idx, "meter-ingest"))
    # connectivity blips (store-and-forward): a cell area offline for 1-5 h
    blips = []
    for _ in range(max(1, round((w.end - w.start) / 86400 * 2.5))):
        a = w.rng.uniform(w.start, w.end - 2 * H)
        b = a + w.rng.uniform(1, 5) * H
        client = w.rng.choice([c for c, _, _ in specs])
        members = [i for i, x in enumerate(insts) if x.client == client]
        area = set(w.rng.sample(members, max(2, int(len(members) * 0.03))))
        blips.append((a, b, area, client))
    w.background["connectivity_blips"] += len(blips)
    ev.sort(key=lambda e: e[0])
    held: dict[int, Token | None] = {}
    buffered: dict[int, list[tuple[float, Token | None]]] = defaultdict(list)
    for x in insts:
        x.tok = w.issue("dev", w.start - w.rng.uniform(100, 3400), x.client, x.aud, x.sub, x.region, 3600)
    for t, idx, api in ev:
        x = insts[idx]
        off_blip = next(((a, b) for a, b, area, _ in blips if idx in area and a <= t < b), None)
        if off_blip:
            if idx not in held:
                held[idx] = x.tok
            buffered[idx].append((t, held[idx]))
            continue
        if buffered.get(idx):
            # back online: legacy firmware replays the stored requests with their original tokens
            for _tb, tok in buffered.pop(idx):
                tr = t + w.rng.uniform(0.5, 40)
                if x.client == "meter-legacy-es" and tok is not None:
                    w.emit(tr, api, "eu", tok, (), "meter-replay")
                    w.background["store_and_forward_replays"] += 1
                else:
                    use(w, x, tr, api, "meters")
            held.pop(idx, None)
        use(w, x, t, api, "meters")


def driver_app(w: World, s: float, cfg: dict[str, Any]) -> None:
    users = max(20, int(5000 * s))
    insts: list[Inst] = []
    owner: list[int] = []
    user_devs: list[list[int]] = []
    for u in range(users):
        region = "eu" if w.rng.random() < 0.75 else "us"
        devs = []
        for _ in range(w.rng.choice([1, 1, 1, 2, 2, 3])):
            r = w.rng.random()
            client = (
                "voltgrid-driver-ios" if r < 0.45 else ("voltgrid-driver-android" if r < 0.9 else "voltgrid-driver-web")
            )
            web = client.endswith("web")
            inst = Inst(
                client,
                "idp",
                region,
                f"drv-{u:06d}",
                ["app-gateway", "notify-api"],
                3600,
                "exp" if web else "expires_in",
                60,
            )
            inst.base_off = w.rng.gauss(0, 2 if not web else 20)
            inst.resume_race = 0.0 if web else 0.25
            if web and w.rng.random() < 0.03:
                inst.base_off -= w.rng.uniform(180, 1200)
            devs.append(len(insts))
            insts.append(inst)
            owner.append(u)
        user_devs.append(devs)
    w.background["driver_app_devices"] = len(insts)
    hook = cfg.get("driver")
    if hook:
        hook(insts)
    ev: list[tuple[float, int, str]] = []
    for tz in ("eu", "us"):
        us = [u for u in range(users) if insts[user_devs[u][0]].region == tz]
        ts = sample_times(w, 1.2 * len(us), tz, "home")
        for t in ts:
            u = us[int(w.np.integers(0, len(us)))]
            d = w.rng.choice(user_devs[u])
            tt = float(t)
            for _ in range(w.rng.randint(3, 8)):
                ev.append((tt, d, "app-gateway"))
                tt += w.rng.expovariate(1 / 40)
            for _ in range(w.rng.choice([0, 0, 1, 2])):
                ev.append((float(t) + w.rng.uniform(1, 300), d, "notify-api"))
            if w.rng.random() < 0.1:  # live view of a charging session: status polled every 30-60 s
                for _ in range(w.rng.randint(8, 35)):
                    tt += w.rng.uniform(30, 60)
                    ev.append((tt, d, "app-gateway"))
    run_pop(w, ev, insts, "driver-app")


def bank_app(w: World, s: float, cfg: dict[str, Any]) -> None:
    users = max(20, int(4000 * s))
    insts: list[Inst] = []
    for u in range(users):
        for _ in range(w.rng.choice([1, 1, 2])):
            client = "voltgrid-bank-ios" if w.rng.random() < 0.5 else "voltgrid-bank-android"
            inst = Inst(client, "bank", "eu", f"cust-{u:06d}", ["payments-api", "accounts-api"], 300, "expires_in", 30)
            inst.base_off = w.rng.gauss(0, 2)
            inst.resume_race = 0.2
            insts.append(inst)
    hook = cfg.get("bank")
    if hook:
        hook(insts)
    ev: list[tuple[float, int, str]] = []
    for t in sample_times(w, 0.8 * users, "eu", "home"):
        d = int(w.np.integers(0, len(insts)))
        tt = float(t)
        for _ in range(w.rng.randint(2, 6)):
            ev.append((tt, d, "accounts-api"))
            tt += w.rng.expovariate(1 / 25)
        for _ in range(w.rng.choice([0, 0, 1, 1, 2])):
            ev.append((tt, d, "payments-api"))
            tt += w.rng.expovariate(1 / 30)
    run_pop(w, ev, insts, "bank-app")


def aggregator(w: World, s: float, cfg: dict[str, Any]) -> None:
    n_acc = max(10, int(80 * s))
    inst = Inst("finlink-aggregator", "bank", "eu", "svc-finlink", "accounts-api", 300, "exp", 15)
    inst.base_off = 0.4
    hook = cfg.get("aggregator")
    if hook:
        hook([inst])
    t = w.start + w.rng.uniform(0, 300)
    cycles = 0
    while t < w.end:
        local_h = ((t / H) + TZ["eu"]) % 24
        if 5 <= local_h < 23:
            cycles += 1
            burst = w.rng.uniform(20, 45)
            for acc, ta in enumerate(sorted(t + w.rng.uniform(0, burst) for _ in range(n_acc))):
                use_agg(w, inst, ta, acc)
        t += 300 + w.rng.uniform(-8, 8)
    w.background["aggregator_cycles"] = cycles


def use_agg(w: World, inst: Inst, t: float, acc: int) -> bool:
    off, ctags = inst.off(t)
    own = t + off
    if inst.tok is None or own >= inst.tok.exp - inst.margin:
        stall = w.stalled("bank", "eu", t)
        if stall is None:
            new_token(w, inst, t)
        elif inst.tok is None:
            return False
        else:
            ctags += (stall,)
    tok = inst.tok
    assert tok is not None
    t = max(t, tok.iat + 0.05)
    w.emit(t, "accounts-api", "eu", tok, ctags, "aggregator")
    tr = t
    # transient gateway errors (not token related): retried with exponential backoff and jitter, same token
    attempt = 0
    while w.rng.random() < 0.025 and attempt < 3:
        tr += (2**attempt) * (1 + w.rng.random())
        attempt += 1
        w.emit(tr, "accounts-api", "eu", tok, ctags, "aggregator-retry")
        w.background["aggregator_retries"] += 1
    if predict_reject(tok, tr, "accounts-api"):
        if tr + off < tok.exp - inst.margin:
            # its token cache (on its own clock) says the token is still good: retried as it is, then dropped
            for attempt in range(2):
                tr += (2**attempt) * (1 + w.rng.random())
                w.emit(tr, "accounts-api", "eu", tok, ctags, "aggregator-retry")
            return True
        tr += (1 + w.rng.random()) * 2
        if w.stalled("bank", "eu", tr) is None:
            tok2 = new_token(w, inst, tr)
            w.emit(tr, "accounts-api", "eu", tok2, inst.off(tr)[1], "aggregator-retry")
    return True


def settlement(w: World) -> None:
    inst = Inst("settlement-batch", "bank", "eu", "svc-settlement", "payments-api", 300, "on401", 0)
    day = math.floor((w.start + TZ["eu"] * H) / 86400) * 86400 - TZ["eu"] * H
    while day < w.end + 86400:
        t0 = day  # 00:00 Europe/Berlin
        if w.start <= t0 < w.end:
            inst.tok = w.issue("bank", t0 - w.rng.uniform(120, 280), inst.client, inst.aud, inst.sub, "eu", 300)
            t = t0
            for _ in range(400):
                t += w.rng.uniform(0.6, 1.8)
                tok = inst.tok
                w.emit(t, "payments-api", "eu", tok, (), "settlement")
                if predict_reject(tok, t, "payments-api"):
                    t += 0.8
                    new_token(w, inst, t)
                    w.emit(t, "payments-api", "eu", inst.tok, (), "settlement")
            w.background["settlement_batches"] += 1
        day += 86400


def fleet(w: World, s: float, cfg: dict[str, Any]) -> None:
    insts: list[Inst] = []
    for u in range(max(10, int(400 * s))):
        inst = Inst("fleetops-web", "fleet", "eu", f"fm-{u:05d}", ["fleet-portal", "app-gateway"], 3600, "exp", 60)
        inst.base_off = w.rng.gauss(0, 20)
        if w.rng.random() < 0.02:
            inst.base_off -= w.rng.uniform(120, 900)
        insts.append(inst)
    n_web = len(insts)
    for o in range(max(4, int(25 * s))):
        inst = Inst("fleetops-api", "fleet", "eu", f"operator-{o:03d}", ["fleet-portal"], 3600, "exp", 60)
        inst.base_off = w.rng.gauss(0, 1)
        inst.retry401 = False  # the partner's SDK caches the token until exp, whatever the API answers
        insts.append(inst)
    hook = cfg.get("fleet")
    if hook:
        hook(insts)
    ev: list[tuple[float, int, str]] = []
    for t in sample_times(w, 2 * n_web, "eu", "business"):
        d = int(w.np.integers(0, n_web))
        tt = float(t)
        for _ in range(w.rng.randint(3, 8)):
            ev.append((tt, d, "fleet-portal"))
            tt += w.rng.expovariate(1 / 30)
        for _ in range(w.rng.choice([0, 1, 2])):
            ev.append((tt, d, "app-gateway"))
    for o in range(n_web, len(insts)):
        t = w.start + w.rng.uniform(0, 180)
        while t < w.end:
            lh = (t / H + TZ["eu"]) % 24
            if 7 <= lh < 19:
                ev.append((t, o, "fleet-portal"))
            t += 180 + w.rng.uniform(-5, 5)
    run_pop(w, ev, insts, "fleet")


PUBLIC = ["app-gateway", "payments-api", "accounts-api", "charge-api", "meter-ingest"]


def garbage(w: World, api: str) -> str:
    r = w.rng.random()
    iss = w.rng.choice(list(ISS_URL.values()))
    now = int(w.start)
    if r < 0.2:
        h = b64(json.dumps({"alg": w.rng.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
        p = b64(json.dumps({"sub": "admin", "iss": iss, "exp": now + 86400 * 365}).encode())
        return f"{h}.{p}."
    if r < 0.45:
        return jwt.encode(
            {"sub": w.rng.choice(["admin", "root", "test"]), "iss": iss, "aud": api, "exp": now + 86400},
            w.attacker_rsa,
            algorithm="RS256",
            headers={"kid": b64(w.rng.randbytes(8))},
        )
    if r < 0.65:
        return jwt.encode(
            {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}, "your-256-bit-secret-" * 2, algorithm="HS256"
        )
    if r < 0.85 and w.token_pool:
        src = w.rng.choice(w.token_pool)
        h, p, sig = src.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        claims["sub"] = "admin"
        claims["exp"] = claims.get("exp", now) + 86400 * 365
        claims.pop("client_id", None)
        claims.pop("azp", None)
        return f"{h}.{b64(json.dumps(claims).encode())}.{sig}"
    return w.rng.choice(
        [
            "undefined",
            "null",
            "Bearer",
            "eyJhbGciOiJIUzI1NiJ9",
            b64(w.rng.randbytes(40)),
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.",
            "' OR 1=1 --",
        ]
    )


def scanners(w: World) -> None:
    per_day = 2.0 * 1440
    ts = sample_times(w, per_day, "eu", "flat")
    for t in ts:
        api = w.rng.choice(PUBLIC)
        w.emit(float(t), api, w.rng.choice(["eu", "us"]), garbage(w, api), (), "scanner")
    w.background["scanner_requests"] = len(ts)


def attack(w: World, a: float, b: float, apis: list[str], per_min: float, inc: str) -> None:
    n = int(per_min * (b - a) / 60)
    for _ in range(n):
        t = w.rng.uniform(a, b)
        api = w.rng.choice(apis)
        r = w.rng.random()
        if r < 0.5:
            key = w.rng.choice(
                w.keys[
                    {
                        "payments-api": "bank",
                        "accounts-api": "bank",
                        "app-gateway": "idp",
                        "charge-api": "dev",
                        "meter-ingest": "dev",
                    }[api]
                ]
            )
            alg = ISS_ALG[key.issuer]
            priv = w.attacker_rsa if alg != "ES256" else ec.generate_private_key(ec.SECP256R1())
            tok = jwt.encode(
                {
                    "iss": ISS_URL[key.issuer],
                    "sub": f"acct-{w.rng.randint(1, 99999)}",
                    "aud": api,
                    "exp": int(t) + 600,
                    "iat": int(t),
                },
                priv,
                algorithm=alg,
                headers={"kid": key.kid, "typ": "at+jwt"},
            )
        else:
            tok = garbage(w, api)
        w.emit(t, api, w.rng.choice(["eu", "us"]), tok, (inc,), "attacker")


# --------------------------------------------------------------------------------------------- fleet


def base_lives(w: World) -> None:
    S, E = w.start, w.end
    rng = w.rng

    def life(api: str, rep: str, region: str, a: float, b: float, **kw: Any) -> Life:
        lf = Life(api, rep, region, a, b, **kw)
        w.lives.append(lf)
        return lf

    def rolling(api: str, reps: list[tuple[str, str]], at: float) -> None:
        for i, (rep, region) in enumerate(reps):
            t = at + i * 150
            life(api, rep, region, S, t)
            life(api, rep, region, t + rng.uniform(15, 40), E, why="rolling-restart")
        w.background["rolling_restarts"] += len(reps)

    day = (w.start // 86400) % 7
    roll_at = S + (E - S) * rng.uniform(0.3, 0.6)
    rolling("charge-api", [("eu-1", "eu"), ("eu-2", "eu"), ("us-1", "us")], w.cfg_get("charge_roll", roll_at))
    # autoscaling: charge-api evening peak, meter-ingest morning
    for d0 in np.arange(math.floor(S / 86400) * 86400, E, 86400):
        a = max(S, d0 + 16 * H)
        b = min(E, d0 + 21 * H)
        if a < b:
            life("charge-api", "eu-3", "eu", a, b, why="autoscale")
            w.background["autoscale_events"] += 1
        a = max(S, d0 + 5 * H)
        b = min(E, d0 + 8.5 * H)
        if a < b:
            life("meter-ingest", "eu-3", "eu", a, b, why="autoscale")
            w.background["autoscale_events"] += 1
    life("meter-ingest", "eu-1", "eu", S, E)
    # meter-ingest eu-2 crashes once a day
    tc = S + (E - S) * rng.uniform(0.2, 0.9)
    life("meter-ingest", "eu-2", "eu", S, tc)
    life("meter-ingest", "eu-2", "eu", tc + 20, E, why="crash-restart")
    w.background["crash_restarts"] += 1
    # payments-api blue/green with a canary
    sw = w.cfg_get("payments_switch", S + (E - S) * rng.uniform(0.35, 0.7))
    for r in ("blue-1", "blue-2"):
        life("payments-api", r, "eu", S, sw + 30)
    life("payments-api", "green-1", "eu", sw - 1.5 * H, sw, weight=0.12, cfg={"leeway": 5}, why="canary")
    for r in ("green-1", "green-2"):
        life("payments-api", r, "eu", sw, E, cfg={"leeway": 0 if day % 2 else 5}, why="blue-green")
    w.background["blue_green_switches"] += 1
    # accounts-api with a canary for part of the day
    life("accounts-api", "eu-1", "eu", S, E)
    life("accounts-api", "eu-2", "eu", S, E)
    ca = w.cfg_get("accounts_canary", S + (E - S) * rng.uniform(0.25, 0.6))
    life(
        "accounts-api",
        "canary",
        "eu",
        ca,
        ca + 2 * H,
        weight=0.15,
        cfg=w.cfg_get("accounts_canary_cfg", {}),
        why="canary",
    )
    w.background["canaries"] += 2
    # app-gateway: two regions, a crash of one replica
    tc = S + (E - S) * rng.uniform(0.1, 0.9)
    crash = rng.choice(["eu-1", "eu-2", "us-1", "us-2"])
    for r in ("eu-1", "eu-2", "us-1", "us-2"):
        region = r[:2]
        if r == crash:
            life("app-gateway", r, region, S, tc)
            life("app-gateway", r, region, tc + 25, E, why="crash-restart")
            w.background["crash_restarts"] += 1
        else:
            life("app-gateway", r, region, S, E)
    fs = w.cfg_get("fleet_switch", None)
    if fs is None:
        life("fleet-portal", "eu-1", "eu", S, E)
        life("fleet-portal", "eu-2", "eu", S, E)
    else:
        for r in ("blue-1", "blue-2"):
            life("fleet-portal", r, "eu", S, fs + 20)
        for r in ("green-1", "green-2"):
            life("fleet-portal", r, "eu", fs, E, why="blue-green")
    life("notify-api", "eu-1", "eu", S, E)


def route(w: World) -> dict[int, list[tuple[float, str, tuple[str, ...]]]]:
    by_api: dict[str, list[int]] = defaultdict(list)
    for i, lf in enumerate(w.lives):
        by_api[lf.api].append(i)
    out: dict[int, list[tuple[float, str, tuple[str, ...]]]] = defaultdict(list)
    dropped = 0
    for t, api, region, raw, tags, _pop in w.requests:
        cands = [i for i in by_api[api] if w.lives[i].start <= t < w.lives[i].end]
        reg = [i for i in cands if w.lives[i].region == region]
        cands = reg or cands
        if not cands:
            dropped += 1
            continue
        weights = [w.lives[i].weight for i in cands]
        i = w.rng.choices(cands, weights)[0]
        lf = w.lives[i]
        extra = tuple(inc for a, b, inc in lf.tags if a <= t < b)
        out[i].append((t, raw, tags + extra))
    w.background["requests_without_replica"] = dropped
    for v in out.values():
        v.sort(key=lambda r: r[0])
    return out


# ------------------------------------------------------------------------------------------ scenarios


def D(w: World, hh: float) -> float:
    """Absolute time hh hours after the timeline's day start (00:00Z)."""
    return math.floor(w.start / 86400) * 86400 + hh * H


def base_keys(w: World) -> None:
    S = w.start - 3 * 86400
    for iss in ISS_URL:
        w.new_key(iss, S - 86400, S)


def rotate(w: World, iss: str, pub_h: float, switch_h: float, remove_h: float, lag: float = 0.0) -> None:
    old = [k for k in w.keys[iss] if k.sign_to == math.inf]
    sw = D(w, switch_h)
    new = w.new_key(iss, {"eu": D(w, pub_h), "us": D(w, pub_h) + lag}, sw)
    for k in old:
        k.sign_to = sw
        k.unpub = {"eu": D(w, remove_h), "us": D(w, remove_h) + lag}
    w.background[f"rotation_{iss}"] += 1
    w.rotations.append(
        f"{iss}: {new.kid} published {iso(D(w, pub_h))} (+{lag:.0f}s in us), signs from "
        f"{iso(D(w, switch_h))}, previous key removed {iso(D(w, remove_h))}"
    )


def setup_quiet(w: World, idx: int) -> None:
    base_keys(w)
    rotate(w, "bank", 2.0, 4.0, 6.0)
    if idx in (1, 3):
        rotate(w, "idp", 9.0, 12.0, 15.0, lag=w.rng.uniform(4, 11) * M)
    if idx == 2:
        rotate(w, "dev", 2.0, 5.0, 9.0)
    if idx == 4:
        rotate(w, "fleet", 7.0, 10.0, 13.0)


def setup_incidents(w: World, idx: int) -> dict[str, Any]:
    base_keys(w)
    cfg: dict[str, Any] = {}
    rng = w.rng
    if idx == 1:
        rotate(w, "fleet", 7.0, 9.0, 12.0)  # a healthy rotation inside the window
        # 1. validator replica clock +1 h (bad NTP/DST config) on app-gateway eu-2
        a, b = D(w, 8.2), D(w, 9.1)
        inc = w.incident(
            "server_clock_skew",
            a,
            b,
            {"profile": "app-gateway"},
            "app-gateway replica eu-2 clock one hour ahead after a bad NTP/DST config",
        )
        w.pending_lives.append(("app-gateway", "eu-2", a, b, 3600.0, inc))
        # 2. bank signs with a kid 35 min before publishing it
        a = D(w, 10.0)
        k = w.new_key("bank", a + 35 * M, a)
        for old in w.keys["bank"]:
            if old is not k and old.sign_to == math.inf:
                old.sign_to = a
                old.unpub = {"eu": a + 3 * H, "us": a + 3 * H}
        inc = w.incident(
            "kid_before_publish",
            a,
            a + 35 * M,
            {"kid": k.kid},
            "bank IdP switched signing to a new key 35 min before publishing it",
        )
        w.kid_incidents[inc] = (k.kid, a, a + 35 * M, -math.inf, a + 35 * M + 300)
        # 3. accounts-api canary deployed with the wrong audience
        ca = D(w, 12.0)
        inc = w.incident(
            "audience_misconfig",
            ca,
            ca + 2 * H,
            {"profile": "accounts-api"},
            "accounts-api canary deployed expecting audience accounts-api-v2",
        )
        cfg["accounts_canary"] = ca
        cfg["accounts_canary_cfg"] = {"audience": "accounts-api-v2"}
        w.pending_tags.append(("accounts-api", "canary", ca, ca + 2 * H, inc))
        # 4. aggregator clock 7 min behind
        a, b = D(w, 13.5), D(w, 14.5)
        inc = w.incident(
            "clock_skew",
            a,
            b,
            {"client_id": "finlink-aggregator"},
            "finlink-aggregator's clock 7 min behind (its NTP server failed): 5-min tokens used past exp",
        )

        def agg(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            insts[0].clock.append((a, b, -420.0, inc))

        cfg["aggregator"] = agg
        # 5. forged tokens at payments-api
        a = D(w, 15.0)
        inc = w.incident("attack_burst", a, a + 25 * M, {}, "forged PS256/none/HS256 tokens at payments-api")
        w.attacks.append((a, a + 25 * M, ["payments-api"], 150.0, inc))
        # 6. devices JWKS (CDN eu edge) 502 for 50 min; charge-api rolling restart during it
        a, b = D(w, 16.0), D(w, 16.83)
        inc = w.incident("jwks_outage", a, b, {"issuer": DEV}, "devices IdP key set CDN edge (eu) answering 502")
        w.outages.append(("dev", "eu", a, b, 502))
        w.outage_tags.append(("dev", "eu", a, b + 120, inc))
        cfg["charge_roll"] = D(w, 16.3)
        # 7. android app release sends ID tokens to app-gateway
        a, b = D(w, 9.5), D(w, 11.0)
        inc = w.incident(
            "type_confusion",
            a,
            b,
            {"client_id": "voltgrid-driver-android"},
            "driver app Android 7.3 sends its ID token instead of the access token",
        )

        def drv(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "voltgrid-driver-android" and rng.random() < 0.35:
                    x.id_token.append((a, b, inc))

        cfg["driver"] = drv
    elif idx == 2:
        # 1. idp removes the old key 20 min after switching (tokens live 1 h)
        rotate(w, "idp", 7.0, 10.0, 13.0, lag=8 * M)  # a healthy rotation with regional lag
        sw = D(w, 11.0)
        old = next(k for k in w.keys["fleet"] if k.sign_to == math.inf)
        w.new_key("fleet", D(w, 8.0), sw)
        old.sign_to = sw
        old.unpub = {"eu": sw + 5 * M, "us": sw + 5 * M}
        inc = w.incident(
            "key_removed_early",
            sw + 5 * M,
            sw + H,
            {"kid": old.kid},
            "fleet SSO removed the previous key 5 min after the switch, its 1-h tokens still live",
        )
        w.kid_incidents[inc] = (old.kid, sw - 2 * H, sw, sw + 5 * M, math.inf)
        # 2. fleet SSO token endpoint stalls
        a, b = D(w, 9.0), D(w, 9.83)
        inc = w.incident("issuer_stalled", a, b, {"issuer": FLEET}, "fleet partner SSO token endpoint stalled")
        w.stalls.append(("fleet", "*", a, b, inc))
        # 3. bank signing node with wrong key material
        a, b = D(w, 10.5), D(w, 11.08)
        k = next(k for k in w.keys["bank"] if k.sign_to == math.inf)
        inc = w.incident(
            "signature_spike",
            a,
            b,
            {"kid": k.kid},
            "one of three bank IdP signing nodes deployed with the wrong key material",
        )
        w.badnode.append(("bank", a, b, 0.34, rsa.generate_private_key(public_exponent=65537, key_size=2048), inc))
        # 4. bank issuer clock 90 s ahead
        a, b = D(w, 12.0), D(w, 12.67)
        inc = w.incident(
            "server_clock_skew", a, b, {"issuer": BANK}, "bank IdP clock 90 s ahead: iat/nbf in the future"
        )
        w.issuer_skew.append(("bank", "*", a, b, 90.0, inc))
        # 5. charger firmware update resets clocks to the build date, NTP broken until rollback
        a, b = D(w, 13.0), D(w, 15.0)
        inc = w.incident(
            "clock_skew",
            a,
            b,
            {"client_id": "chg-dc150-eu"},
            "chg-dc150-eu firmware 4.2 resets the RTC to its build date and breaks NTP + 401 retry",
        )

        def chg(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "chg-dc150-eu" and rng.random() < 0.45:
                    ta = a + rng.uniform(0, 40 * M)
                    x.clock.append((ta, b, -150 * 86400.0, inc))
                    x.no_retry.append((ta, b))

        cfg["chargers"] = chg
        # 6. fleet SPA sends ID tokens
        a, b = D(w, 14.0), D(w, 15.5)
        inc = w.incident(
            "type_confusion",
            a,
            b,
            {"client_id": "fleetops-web"},
            "fleetops-web SPA release sends ID tokens to fleet-portal and app-gateway",
        )

        def flt(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "fleetops-web" and rng.random() < 0.6:
                    x.id_token.append((a, b, inc))

        cfg["fleet"] = flt
        # 7. credential-stuffing / forged burst at app-gateway
        a = D(w, 16.5)
        inc = w.incident("attack_burst", a, a + 20 * M, {}, "bot burst of forged and tampered tokens at app-gateway")
        w.attacks.append((a, a + 20 * M, ["app-gateway"], 120.0, inc))
    elif idx == 3:
        # 1. bank JWKS down; payments-api blue/green switch during it (cold green replicas)
        a, b = D(w, 7.67), D(w, 8.5)
        inc = w.incident("jwks_outage", a, b, {"issuer": BANK}, "bank IdP key set endpoint answering 503")
        w.outages.append(("bank", "*", a, b, 503))
        w.outage_tags.append(("bank", "*", a, b + 120, inc))
        cfg["payments_switch"] = D(w, 8.0)
        # 2. one charger client requests the wrong audience
        a, b = D(w, 9.0), D(w, 11.0)
        inc = w.incident(
            "audience_misconfig",
            a,
            b,
            {"client_id": "chg-ac11-us"},
            "re-provisioned chg-ac11-us chargers request tokens for audience charging-api",
        )
        # 3. devices IdP signs with a key before publishing it (CDN makes it worse)
        ka = D(w, 10.5)
        k = w.new_key("dev", ka + 30 * M, ka)
        for old in w.keys["dev"]:
            if old is not k and old.sign_to == math.inf:
                old.sign_to = ka
                old.unpub = {"eu": ka + 4 * H, "us": ka + 4 * H}
        inc3 = w.incident(
            "kid_before_publish",
            ka,
            ka + 30 * M,
            {"kid": k.kid},
            "devices IdP signs with a new key 30 min before its origin publishes it (CDN max-age 900)",
        )
        w.kid_incidents[inc3] = (k.kid, ka, ka + 30 * M, -math.inf, ka + 30 * M + 900)

        def chg(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "chg-ac11-us" and rng.random() < 0.3:
                    x.wrong_aud.append((a, b, "charging-api", inc))

        cfg["chargers"] = chg
        # 4. idp us region clock 3 min ahead
        a, b = D(w, 12.0), D(w, 14.5)
        inc = w.incident(
            "server_clock_skew",
            a,
            b,
            {"issuer": IDP},
            "driver IdP us-east signing nodes 3 min ahead (bad NTP pool): iat in the future",
        )
        w.issuer_skew.append(("idp", "us", a, b, 180.0, inc))
        # 5. fleet signing node wrong key material
        a, b = D(w, 14.0), D(w, 14.83)
        k = next(k for k in w.keys["fleet"] if k.sign_to == math.inf)
        inc = w.incident("signature_spike", a, b, {"kid": k.kid}, "a fleet SSO signing node with a stale key pair")
        w.badnode.append(("fleet", a, b, 0.5, rsa.generate_private_key(public_exponent=65537, key_size=2048), inc))
        # 6. devices IdP token endpoint stalled in us
        a, b = D(w, 15.0), D(w, 16.17)
        inc = w.incident("issuer_stalled", a, b, {"issuer": DEV}, "devices IdP token endpoint (us) stalled")
        w.stalls.append(("dev", "us", a, b, inc))
        # 7. fleetops-api partner server clock 15 min behind
        a, b = D(w, 11.0), D(w, 12.5)
        inc = w.incident(
            "clock_skew",
            a,
            b,
            {"client_id": "fleetops-api"},
            "fleetops-api integration host 15 min behind after a VM migration",
        )

        def flt(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "fleetops-api":
                    x.clock.append((a, b, -900.0, inc))

        cfg["fleet"] = flt
    elif idx == 4:
        # 1. devices IdP removes the old key 15 min after switching
        sw = D(w, 7.0)
        old = next(k for k in w.keys["dev"] if k.sign_to == math.inf)
        w.new_key("dev", D(w, 5.0), sw)
        old.sign_to = sw
        old.unpub = {"eu": sw + 15 * M, "us": sw + 15 * M}
        inc = w.incident(
            "key_removed_early",
            sw + 15 * M,
            sw + H,
            {"kid": old.kid},
            "devices IdP dropped the previous key 15 min after the switch (tokens live 1 h)",
        )
        w.kid_incidents[inc] = (old.kid, sw - 2 * H, sw, sw + 15 * M, math.inf)
        # 2. meter-ingest replica clock 10 min behind
        a, b = D(w, 8.5), D(w, 9.5)
        inc = w.incident(
            "server_clock_skew",
            a,
            b,
            {"profile": "meter-ingest"},
            "meter-ingest replica eu-1 clock 10 min behind: fresh tokens not yet valid",
        )
        w.pending_lives.append(("meter-ingest", "eu-1", a, b, -600.0, inc))
        # 3. idp us JWKS fails; app-gateway us replicas restart/scale during it
        a, b = D(w, 9.5), D(w, 10.33)
        inc = w.incident(
            "jwks_outage",
            a,
            b,
            {"issuer": IDP},
            "driver IdP eu-west key set endpoint answering 500 while app-gateway scales out",
        )
        w.outages.append(("idp", "eu", a, b, 500))
        w.outage_tags.append(("idp", "eu", a, b + 120, inc))
        w.extra_lives.append(("app-gateway", "eu-3", "eu", D(w, 9.75), D(w, 12.0), "autoscale"))
        w.extra_lives.append(("app-gateway", "eu-4", "eu", D(w, 10.0), D(w, 12.0), "autoscale"))
        # 4. fleet-portal deployed with the wrong audience (green)
        a = D(w, 11.0)
        cfg["fleet_switch"] = a
        inc = w.incident(
            "audience_misconfig",
            a,
            a + 40 * M,
            {"profile": "fleet-portal"},
            "fleet-portal green deployment expects audience fleet-portal-v2; rolled back after 40 min",
        )
        w.pending_cfg.append(("fleet-portal", "green", a, a + 40 * M, {"audience": "fleet-portal-v2"}, inc))
        # 5. bank token endpoint stalled
        a, b = D(w, 12.5), D(w, 13.08)
        inc = w.incident("issuer_stalled", a, b, {"issuer": BANK}, "bank IdP token endpoint stalled 35 min")
        w.stalls.append(("bank", "*", a, b, inc))
        # 6. scanner wave at device APIs
        a = D(w, 14.0)
        inc = w.incident("attack_burst", a, a + 30 * M, {}, "scanner wave with alg none and random kids at device APIs")
        w.attacks.append((a, a + 30 * M, ["charge-api", "meter-ingest"], 80.0, inc))
        # 7. bank iOS sends ID tokens
        a, b = D(w, 15.0), D(w, 16.5)
        inc = w.incident(
            "type_confusion",
            a,
            b,
            {"client_id": "voltgrid-bank-ios"},
            "bank app iOS 9.1 sends ID tokens to payments-api and accounts-api",
        )

        def bnk(insts: list[Inst], a: float = a, b: float = b, inc: str = inc) -> None:
            for x in insts:
                if x.client == "voltgrid-bank-ios" and rng.random() < 0.4:
                    x.id_token.append((a, b, inc))

        cfg["bank"] = bnk
        # 8. fleet SSO signs before publishing
        ka = D(w, 16.0)
        k = w.new_key("fleet", ka + 25 * M, ka)
        for o in w.keys["fleet"]:
            if o is not k and o.sign_to == math.inf:
                o.sign_to = ka
                o.unpub = {"eu": ka + 4 * H, "us": ka + 4 * H}
        inc = w.incident(
            "kid_before_publish",
            ka,
            ka + 25 * M,
            {"kid": k.kid},
            "fleet SSO switched signing keys 25 min before publishing the new one",
        )
        w.kid_incidents[inc] = (k.kid, ka, ka + 25 * M, -math.inf, ka + 25 * M + 300)
    return cfg


def plan(name: str, start: float, hours: float, seed: int, quiet: bool, idx: int, scale: float) -> World:
    w = World(name, start, start + hours * H, seed, quiet, scale)
    cfg = {} if quiet else setup_incidents(w, idx)
    if quiet:
        setup_quiet(w, idx)
    w.cfg = cfg
    base_lives(w)
    for api, rep, a, b, off, inc in w.pending_lives:
        for lf in w.lives:
            if lf.api == api and lf.replica == rep and lf.start < b and lf.end > a:
                lf.clock.append((a, b, off))
                lf.tags.append((a, b, inc))
    for api, rep, a, b, inc in w.pending_tags:
        for lf in w.lives:
            if lf.api == api and lf.replica == rep:
                lf.tags.append((a, b, inc))
    for api, prefix, a, b, cf, inc in w.pending_cfg:
        for lf in list(w.lives):
            if lf.api == api and lf.replica.startswith(prefix) and lf.start < b <= lf.end:
                # the misconfigured life ends at b (rollback: a restart with the right config)
                w.lives.append(Life(api, lf.replica, lf.region, b + 15, lf.end, why="rollback"))
                lf.end = b
                lf.cfg = dict(lf.cfg, **cf)
                lf.tags.append((a, b, inc))
    for api, rep, region, a, b, why in w.extra_lives:
        w.lives.append(Life(api, rep, region, a, b, why=why))
        w.background["autoscale_events"] += 1
    for iss, region, a, b, inc in w.outage_tags:
        for lf in w.lives:
            if api_uses(lf.api, iss) and (region in ("*", lf.region) or iss not in ("idp", "dev")):
                lf.tags.append((a, b, inc))
    t0 = time.time()
    chargers(w, scale, cfg)
    meters(w, scale, cfg)
    driver_app(w, scale, cfg)
    bank_app(w, scale, cfg)
    aggregator(w, scale, cfg)
    settlement(w)
    fleet(w, scale, cfg)
    scanners(w)
    for a, b, apis, per_min, inc in w.attacks:
        attack(w, a, b, apis, per_min * max(scale, 0.25), inc)
    w.plan_s = time.time() - t0
    return w


def api_uses(api: str, iss: str) -> bool:
    return (
        iss
        in {
            "charge-api": ("dev",),
            "meter-ingest": ("dev",),
            "payments-api": ("bank",),
            "accounts-api": ("bank",),
            "app-gateway": ("idp", "fleet"),
            "fleet-portal": ("fleet",),
            "notify-api": ("idp",),
        }[api]
    )


# ------------------------------------------------------------------------------------ replica process

WORLD: World | None = None
ROUTED: dict[int, list[tuple[float, str, tuple[str, ...]]]] = {}
SIM_NOW = [0.0]


def jwks_path(iss: str, region: str) -> str:
    if iss in ("idp", "dev"):
        return f"/{iss}-{region}/jwks.json"
    return f"/{iss}/jwks.json"


class JwksHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        w = WORLD
        assert w is not None
        now = SIM_NOW[0]
        parts = self.path.strip("/").split("/")[0].split("-")
        iss = parts[0]
        region = parts[1] if len(parts) > 1 else "eu"
        for i, r, a, b, status in w.outages:
            if i == iss and r in ("*", region) and a <= now < b:
                body = b'{"error":"upstream unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        age = 0
        at = now
        if iss == "dev":  # behind a CDN: the edge serves the origin's answer of the last 15-minute boundary
            at = math.floor(now / 900) * 900
            age = int(now - at)
        body = json.dumps({"keys": w.published(iss, region, at)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", f"public, max-age={MAX_AGE[iss]}")
        if age:
            self.send_header("Age", str(age))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OwnKeyCache:
    """A service's own key-set cache (TTL, forced refresh on an unknown kid with a cooldown); no
    last-known-good unless asked: an expired cache whose refresh fails raises the fetch error."""

    def __init__(self, url: str, ttl: float = 300, cooldown: float = 30, keep_last_good: bool = False):
        self.url, self.ttl, self.cooldown, self.keep = url, ttl, cooldown, keep_last_good
        self.doc: dict[str, Any] | None = None
        self.fetched = -math.inf
        self.forced = -math.inf
        self.version = 0

    def _fetch(self) -> None:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url, timeout=3) as r:
                doc = json.loads(r.read())
        except Exception:
            if self.keep and self.doc is not None:
                self.fetched = time.time() - self.ttl + self.cooldown
                return
            self.doc = None
            raise
        self.doc = doc
        self.fetched = time.time()
        self.version += 1

    def get(self, kid: str | None) -> dict[str, Any]:
        now = time.time()
        if self.doc is None or now >= self.fetched + self.ttl or now < self.fetched - 1:
            self._fetch()
        assert self.doc is not None
        if (
            kid is not None
            and kid not in {k.get("kid") for k in self.doc["keys"]}
            and now >= self.forced + self.cooldown
        ):
            self.forced = now
            self._fetch()
        assert self.doc is not None
        return self.doc


def unverified_kid(token: str) -> str | None:
    try:
        return jwt.get_unverified_header(token).get("kid")
    except Exception:
        return None


def build_validator(lf: Life, base: str) -> Any:
    import jwtobs

    api, cfg = lf.api, lf.cfg
    lw = cfg.get("leeway", LEEWAY[api])
    aud = cfg.get("audience", api)
    if api == "charge-api":
        src = jwtobs.JwksSource(base + jwks_path("dev", lf.region), clock=time.time, timeout=3)
        v = jwtobs.Verifier(
            jwtobs.Profile(name=api, issuer=DEV, audience=aud, algorithms=("ES256",), token_type=None, leeway=lw),
            keys=src,
            backend="pyjwt",
        )
        return v.verify
    if api == "payments-api":
        src = jwtobs.JwksSource(base + jwks_path("bank", lf.region), clock=time.time, timeout=3)
        v = jwtobs.Verifier(
            jwtobs.Profile(name=api, issuer=BANK, audience=aud, algorithms=("PS256",), token_type="at+jwt", leeway=lw),
            keys=src,
            backend="joserfc",
        )
        return v.verify
    if api == "app-gateway":
        v1 = jwtobs.Verifier(
            jwtobs.Profile(name=api, issuer=IDP, audience=aud, algorithms=("RS256",), token_type="at+jwt", leeway=lw),
            keys=jwtobs.JwksSource(base + jwks_path("idp", lf.region), clock=time.time),
            backend="authlib",
        )
        v2 = jwtobs.Verifier(
            jwtobs.Profile(name=api, issuer=FLEET, audience=aud, algorithms=("RS256",), token_type="at+jwt", leeway=lw),
            keys=jwtobs.JwksSource(base + jwks_path("fleet", lf.region), clock=time.time),
            backend="authlib",
        )
        return jwtobs.VerifierSet([v1, v2]).verify
    if api == "meter-ingest":
        client = jwt.PyJWKClient(base + jwks_path("dev", lf.region), lifespan=300, timeout=3)

        def meter_validate(token: str) -> Any:
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=["ES256"],
                audience=aud,
                issuer=DEV,
                leeway=lw,
                options={"require": ["exp", "iat", "sub"]},
            )

        return jwtobs.wrap(meter_validate, library="pyjwt", profile=api)
    if api == "accounts-api":
        from joserfc import jwt as rjwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        cache = OwnKeyCache(base + jwks_path("bank", lf.region), ttl=300)
        parsed: dict[int, Any] = {}
        registry = JWTClaimsRegistry(
            leeway=lw,
            iss={"essential": True, "value": BANK},
            aud={"essential": True, "value": aud},
            exp={"essential": True},
            sub={"essential": True},
        )

        def accounts_validate(token: str) -> Any:
            doc = cache.get(unverified_kid(token))
            ks = parsed.get(cache.version)
            if ks is None:
                parsed.clear()
                ks = parsed[cache.version] = KeySet.import_key_set(doc)
            tok = rjwt.decode(token, ks, algorithms=["PS256"])
            registry.validate(tok.claims)
            return tok

        return jwtobs.wrap(accounts_validate, library="joserfc", profile=api)
    if api == "fleet-portal":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        cache = OwnKeyCache(base + jwks_path("fleet", lf.region), ttl=600, keep_last_good=True)
        sets: dict[int, Any] = {}

        def fleet_validate(token: str) -> Any:
            doc = cache.get(unverified_kid(token))
            ks = sets.get(cache.version)
            if ks is None:
                sets.clear()
                ks = sets[cache.version] = cjwk.JWKSet.from_json(json.dumps(doc))
            t = cjwt.JWT(jwt=token, key=ks, algs=["RS256"], check_claims={"iss": FLEET, "aud": aud, "exp": None})
            return json.loads(t.claims)

        return jwtobs.wrap(fleet_validate, library="jwcrypto", profile=api)
    if api == "notify-api":
        from jose import jwt as jjwt

        cache = OwnKeyCache(base + jwks_path("idp", lf.region), ttl=300, keep_last_good=True)

        def notify_validate(token: str) -> Any:
            kid = unverified_kid(token)
            doc = cache.get(kid)
            key: Any = next((k for k in doc["keys"] if k.get("kid") == kid), doc)
            return jjwt.decode(
                token, key, algorithms=["RS256"], audience=aud, issuer=IDP, options={"leeway": lw, "require_exp": True}
            )

        return jwtobs.wrap(notify_validate, library="jose", profile=api)
    raise ValueError(api)


def _pyjwt_clock() -> None:
    """Point PyJWKClient's cache clocks (time.monotonic in its modules) at time.time (the simulated clock)."""
    import jwt.api_jwk
    import jwt.jwk_set_cache
    import jwt.jwks_client

    shim = types.SimpleNamespace(**{n: getattr(time, n) for n in dir(time) if not n.startswith("_")})
    shim.monotonic = time.time
    for mod in (jwt.api_jwk, jwt.jwk_set_cache, jwt.jwks_client):
        mod.time = shim  # type: ignore[attr-defined]


def run_life(out: str, li: int) -> None:
    import warnings

    import time_machine

    warnings.simplefilter("ignore")
    warnings.showwarning = lambda *a, **k: None  # authlib.jose re-enables its deprecation warning on import

    import jwtobs

    w = WORLD
    assert w is not None
    lf = w.lives[li]
    reqs = ROUTED.get(li, [])
    _pyjwt_clock()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    SIM_NOW[0] = lf.start
    trav = time_machine.travel(lf.start + lf.offset(lf.start), tick=False)
    coords = trav.start()
    path = os.path.join(out, w.name, "events", f"{lf.api}.{lf.replica}.jsonl")
    jwtobs.configure(events_path=path, service=lf.api, fingerprint_key=FP_KEY)
    validate = build_validator(lf, base)
    for i, (t, raw, _tags) in enumerate(reqs):
        SIM_NOW[0] = t
        coords.move_to(t + lf.offset(t))
        try:
            validate(raw)
        except Exception:  # rejections are the point
            pass
        if i % 5000 == 4999:
            jwtobs.flush()
    jwtobs.flush()
    trav.stop()
    srv.shutdown()


def run_fleet(w: World, out: str, workers: int) -> None:
    """Replica lives in processes, at most `workers` at once; lives of one replica in order (they append
    to one file)."""
    global WORLD, ROUTED
    WORLD = w
    ROUTED = route(w)
    chains: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, lf in enumerate(w.lives):
        chains[(lf.api, lf.replica)].append(i)
    for c in chains.values():
        c.sort(key=lambda i: w.lives[i].start)
    # biggest chains first
    order = sorted(chains, key=lambda k: -sum(len(ROUTED.get(i, [])) for i in chains[k]))
    pending = [list(chains[k]) for k in order]
    ctx = mp.get_context("fork")
    running: list[tuple[Any, list[int]]] = []
    os.makedirs(os.path.join(out, w.name, "events"), exist_ok=True)
    while pending or running:
        while pending and len(running) < workers:
            ch = pending.pop(0)
            p = ctx.Process(target=run_life, args=(out, ch[0]))
            p.start()
            running.append((p, ch))
        time.sleep(0.05)
        for item in list(running):
            p, ch = item
            if not p.is_alive():
                p.join()
                if p.exitcode != 0:
                    print(f"  replica life {ch[0]} exited {p.exitcode}", file=sys.stderr)
                running.remove(item)
                rest = ch[1:]
                if rest:
                    p2 = ctx.Process(target=run_life, args=(out, rest[0]))
                    p2.start()
                    running.append((p2, rest))


# --------------------------------------------------------------------------------------------- labels


def label(w: World, out: str, wall: float) -> dict[str, Any]:
    chains: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, lf in enumerate(w.lives):
        chains[(lf.api, lf.replica)].append(i)
    inc_by_id = {i.id: i for i in w.incidents}
    hits: dict[str, list[float]] = defaultdict(list)
    reasons: Counter[str] = Counter()
    by_profile: Counter[str] = Counter()
    n_val = n_rej = 0
    mismatched = []
    missing_fields: Counter[str] = Counter()
    for (api, rep), lives in chains.items():
        lives.sort(key=lambda i: w.lives[i].start)
        reqs = [r for i in lives for r in ROUTED.get(i, [])]
        path = os.path.join(out, w.name, "events", f"{api}.{rep}.jsonl")
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    rec = json.loads(line)
                    if "event" not in rec:
                        evs.append(rec)
        if len(evs) != len(reqs):
            mismatched.append(f"{api}.{rep}: {len(evs)} events / {len(reqs)} requests")
        for ev, (_t, _raw, tags) in zip(evs, reqs, strict=False):
            n_val += 1
            by_profile[f"{ev['profile']}:{ev['outcome']}"] += 1
            if ev["outcome"] != "rejected":
                for fld in ("client_id", "issuer", "kid"):
                    if ev.get(fld) is None:
                        missing_fields[f"accepted_without_{fld}"] += 1
                continue
            n_rej += 1
            reasons[ev["reason"]] += 1
            for tag in tags:
                inc = inc_by_id.get(tag)
                if inc is None:
                    continue
                ok = COUNTED[inc.kind]
                r = ev["reason"]
                if (
                    ok is None
                    or r in ok
                    or (
                        inc.kind in ("kid_before_publish", "key_removed_early")
                        and r == "JWT_BAD_SIGNATURE"
                        and ev["library"] == "jose"
                    )
                ):
                    hits[inc.id].append(ev_time(ev["time"]))
    labels = []
    empty = []
    inj = []
    for inc in w.incidents:
        h = sorted(hits.get(inc.id, []))
        scope = KIND_INFO[inc.kind].scope
        ent = {"issuer": None, "kid": None, "client_id": None, "profile": None}
        fieldname = SCOPE_FIELD[scope]
        if inc.kind == "audience_misconfig" or inc.kind == "server_clock_skew":
            for k, v in inc.entity.items():
                ent[k] = v
        elif fieldname:
            ent[fieldname] = inc.entity.get(fieldname)
        rec = {
            "id": inc.id,
            "kind": inc.kind,
            "start": iso(h[0]) if h else None,
            "end": iso(h[-1]) if h else None,
            "count": len(h),
            **ent,
            "detail": inc.detail,
        }
        inj.append(dict(rec, injected_window=[iso(inc.window[0]), iso(inc.window[1])]))
        if h:
            labels.append(rec)
        else:
            empty.append(inc.id)
    doc = {
        "timeline": w.name,
        "quiet": w.quiet,
        "seed": w.seed,
        "start": iso(w.start).replace(".000000", ""),
        "end": iso(w.end).replace(".000000", ""),
        "generator": GENERATOR,
        "incidents": labels,
    }
    with open(os.path.join(out, w.name, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1)
    summary = {
        "timeline": w.name,
        "quiet": w.quiet,
        "seed": w.seed,
        "scale": w.scale,
        "validations": n_val,
        "rejections": n_rej,
        "rejection_rate": round(n_rej / max(1, n_val), 4),
        "rejections_by_reason": dict(reasons.most_common()),
        "validations_by_profile_outcome": dict(sorted(by_profile.items())),
        "incidents_injected": inj,
        "incidents_without_counted_rejections": empty,
        "background_events": dict(w.background),
        "healthy_rotations": w.rotations,
        "replica_lives": len(w.lives),
        "replica_lives_detail": [f"{lf.api}.{lf.replica} {iso(lf.start)}..{iso(lf.end)} {lf.why}" for lf in w.lives],
        "event_request_mismatches": mismatched,
        "accepted_events_missing_fields": dict(missing_fields),
        "planning_s": round(w.plan_s, 1),
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(out, w.name, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def ev_time(s: str) -> float:
    s = s.rstrip("Zz")
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp()


# ----------------------------------------------------------------------------------------------- main

TIMELINES = [  # name, start (UTC), hours, quiet, index
    ("quiet-1", "2026-01-12T00:00:00", 24, True, 1),
    ("quiet-2", "2026-01-14T00:00:00", 24, True, 2),
    ("quiet-3", "2026-01-17T00:00:00", 24, True, 3),
    ("quiet-4", "2026-01-18T00:00:00", 24, True, 4),
    ("inc-1", "2026-01-19T06:00:00", 12, False, 1),
    ("inc-2", "2026-01-20T06:00:00", 12, False, 2),
    ("inc-3", "2026-01-22T06:00:00", 12, False, 3),
    ("inc-4", "2026-01-24T06:00:00", 12, False, 4),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=3800)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    args = ap.parse_args(argv)
    only = {x for x in args.only.split(",") if x}
    if args.score_only:
        return _score(args.out, only)
    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    for n, (name, start, hours, quiet, idx) in enumerate(TIMELINES):
        if only and name not in only:
            continue
        t0 = time.time()
        path = os.path.join(args.out, name)
        if os.path.isdir(os.path.join(path, "events")):
            for f in os.listdir(os.path.join(path, "events")):
                os.remove(os.path.join(path, "events", f))
        st = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC).timestamp()
        w = plan(name, st, hours, args.seed_base + n, quiet, idx, args.scale)
        print(
            f"{name}: planned {len(w.requests)} requests in {w.plan_s:.1f}s, {len(w.lives)} replica lives", flush=True
        )
        run_fleet(w, args.out, args.workers)
        s = label(w, args.out, time.time() - t0)
        print(
            f"{name}: {s['validations']} validations, {s['rejections']} rejections "
            f"({s['rejection_rate']:.2%}), {len(w.incidents)} incidents injected, "
            f"{len(s['incidents_without_counted_rejections'])} without counted rejections, "
            f"{s['wall_s']:.0f}s",
            flush=True,
        )
        if s["event_request_mismatches"]:
            print("  mismatches:", s["event_request_mismatches"], flush=True)
    print(f"total wall {time.time() - t_all:.0f}s")
    return _score(args.out, only) if args.score else 0


def _score(out: str, only: set[str]) -> int:
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, [t[0] for t in TIMELINES if not only or t[0] in only])


if __name__ == "__main__":
    sys.exit(main())
