# ruff: noqa: B007, B905, E501, E731  (a blind generator, kept as its author wrote it: docs/analysis.md, session 40)
"""fleet54: a blind benchmark fleet for jwtobs - a parcel logistics company.

Design note
===========

Issuers (keys generated at run time; key sets served by a real ``http.server`` on 127.0.0.1 in every replica process,
answering from the simulated clock):

- ``corp``  https://login.parcelco.example/corp - corporate IdP (RS256, 60 min access tokens). Clients:
  ``dispatch-desktop`` (dispatchers), ``wh-supervisor-app`` (warehouse supervisors), ``billing-batch`` (service),
  ``finance-portal``, ``admin-portal``. Rotates its key (publish, sign 1 h later, remove hours later).
- ``device`` https://devices.parcelco.example - device-management CA (ES256, 8 h shift tokens) for ~2 000 handheld
  scanners and ~300 truck telematics units; ONE client id per depot (``depot-ham``, ``depot-ber``...). Scanner
  firmware trusts its own clock (renews when its local clock says exp-5 min, on a 401 it retries with the same
  token); trucks go out of coverage for hours and upload queued telematics with the token they hold.
- ``customer`` https://id.parcelco.example/customer - customer IdP (ES256, 10 min tokens): tracking apps
  (``tracking-app-ios``, ``tracking-app-android``, ``tracking-web``); apps resumed from background present their
  stale token first and refresh after the 401.
- ``swiftlast`` https://auth.swiftlast.example - partner carrier A (RS256, 5 min tokens, clients
  ``swiftlast-north`` / ``swiftlast-south``, one signing host each).
- ``kuriermax`` https://sso.kuriermax.example - partner carrier B (RS256, 5 min tokens, one integration client id
  ``kuriermax-integration`` for all its traffic).

APIs (service = profile = API name; every replica writes ``events/<api>-<replica>.jsonl``):

| API | validator | leeway | replicas | issuers |
|---|---|---|---|---|
| sorting-api | ``jwtobs.VerifierSet`` (pyjwt backend, ``JwksSource`` max_stale 30 min) | 60 | 4 (r4 autoscaled for the night shift) | device, corp |
| dispatch-api | ``jwtobs.wrap`` around PyJWT + ``PyJWKClient`` (app-level cache) | 30 | 2 | corp, device |
| tracking-api | ``jwtobs.wrap`` around joserfc decode + JWTClaimsRegistry | 10 | 3 | customer |
| handover-api | ``jwtobs.wrap`` around python-jose | 30 | 2 | swiftlast, kuriermax |
| billing-api | ``jwtobs.wrap`` around Authlib decode + validate | 0 | 2 | corp |
| telematics-ingest | ``jwtobs.wrap`` around jwcrypto | 120 | 2 | device |
| admin-console | ``jwtobs.Verifier`` (authlib backend, ``JwksSource``) | 30 | 2 | corp |

Background (every timeline): diurnal curves (night sorting shift 22-04 peak, morning truck departures, afternoon
deliveries, weekend dip); expired tokens from lazy refreshers, resumed apps, trucks uploading after coverage gaps,
scanners with clocks minutes off (some drifting, some booting with a wrong clock until NTP); stale tokens replayed
after desktop restarts; internet scanners on the public APIs (tracking, handover: 1-3 garbage tokens/min);
healthy rotations with overlap; short JWKS 503 blips; rolling deploys/crashes (cold caches) and the autoscaled
night replica.

Incidents: see ``INCIDENTS`` (4 incident timelines of 12 h). Labels follow the brief (counted rejections only).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import sys
import threading
import time
import warnings
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

warnings.filterwarnings("ignore")

H = 3600.0
GEN = "fleet54"
ISS = {
    "corp": "https://login.parcelco.example/corp",
    "device": "https://devices.parcelco.example",
    "customer": "https://id.parcelco.example/customer",
    "swiftlast": "https://auth.swiftlast.example",
    "kuriermax": "https://sso.kuriermax.example",
}
ALG = {"corp": "RS256", "device": "ES256", "customer": "ES256", "swiftlast": "RS256", "kuriermax": "RS256"}
LIFE = {"corp": 3600, "device": 8 * 3600, "customer": 600, "swiftlast": 300, "kuriermax": 300}
TTL = {"corp": 300, "device": 600, "customer": 300, "swiftlast": 300, "kuriermax": 600}
APIS = {  # name: (kind, leeway, replicas, issuers)
    "sorting-api": ("verifierset", 60, 4, ("device", "corp")),
    "dispatch-api": ("pyjwt", 30, 2, ("corp", "device")),
    "tracking-api": ("joserfc", 10, 3, ("customer",)),
    "handover-api": ("jose", 30, 2, ("swiftlast", "kuriermax")),
    "billing-api": ("authlib", 0, 2, ("corp",)),
    "telematics-ingest": ("jwcrypto", 120, 2, ("device",)),
    "admin-console": ("verifier", 30, 2, ("corp",)),
}
DEPOTS = {"depot-ham": 420, "depot-ber": 380, "depot-lei": 330, "depot-dus": 300, "depot-muc": 340, "depot-fra": 230}

TIMELINES = {
    "quiet-mon": {"start": "2026-11-02T00:00:00Z", "hours": 24, "quiet": True},
    "quiet-wed": {"start": "2026-11-04T00:00:00Z", "hours": 24, "quiet": True},
    "quiet-sat": {"start": "2026-11-07T00:00:00Z", "hours": 24, "quiet": True},
    "quiet-sun": {"start": "2026-11-08T00:00:00Z", "hours": 24, "quiet": True},
    "inc-night-shift": {"start": "2026-11-09T18:00:00Z", "hours": 12, "quiet": False},
    "inc-morning": {"start": "2026-11-10T04:00:00Z", "hours": 12, "quiet": False},
    "inc-afternoon": {"start": "2026-11-12T12:00:00Z", "hours": 12, "quiet": False},
    "inc-weekend": {"start": "2026-11-14T20:00:00Z", "hours": 12, "quiet": False},
}

# at/until: hours after the timeline start
INCIDENTS = [
    # --- night shift (Mon 18:00 - Tue 06:00)
    {
        "id": "n-stall",
        "timeline": "inc-night-shift",
        "kind": "issuer_stalled",
        "issuer": "device",
        "at": 3.65,
        "until": 4.6,
        "detail": "device CA token endpoint down over the 22:00 shift change; scanners dock without tokens",
    },
    {
        "id": "n-ntp",
        "timeline": "inc-night-shift",
        "kind": "clock_skew",
        "client": "depot-lei",
        "at": 0.5,
        "until": 12.0,
        "drift_per_h": -210.0,
        "detail": "firmware update breaks NTP on depot-lei scanners: clocks drift behind",
    },
    {
        "id": "n-keyrm",
        "timeline": "inc-night-shift",
        "kind": "key_removed_early",
        "issuer": "corp",
        "at": 7.0,
        "remove_after": 300,
        "detail": "corporate IdP rotates at 01:00 and removes the old key 5 min later",
    },
    {
        "id": "n-scrape",
        "timeline": "inc-night-shift",
        "kind": "attack_burst",
        "api": "tracking-api",
        "at": 5.2,
        "until": 5.4,
        "rate": 5.0,
        "detail": "scraping burst on the tracking API (forged / replayed tokens)",
    },
    # --- morning (Tue 04:00 - 16:00)
    {
        "id": "m-vmclock",
        "timeline": "inc-morning",
        "kind": "server_clock_skew",
        "api": "sorting-api",
        "replica": 2,
        "at": 1.15,
        "until": 11.0,
        "skew": 120.0,
        "detail": "sorting-api r2 clock 2 min ahead after a VM migration",
    },
    {
        "id": "m-kurier",
        "timeline": "inc-morning",
        "kind": "server_clock_skew",
        "issuer": "kuriermax",
        "at": 8.5,
        "until": 10.2,
        "skew": -360.0,
        "detail": "kuriermax signing host 6 min behind with 5 min tokens",
    },
    {
        "id": "m-aud",
        "timeline": "inc-morning",
        "kind": "audience_misconfig",
        "api": "tracking-api",
        "at": 6.08,
        "until": 6.42,
        "detail": "tracking-api deployed with audience 'tracking-api-v2' for 20 min",
    },
    {
        "id": "m-refresh",
        "timeline": "inc-morning",
        "kind": "type_confusion",
        "client": "tracking-app-android",
        "at": 4.0,
        "until": 12.0,
        "frac": 0.12,
        "detail": "android app update sends refresh tokens as bearer tokens",
    },
    {
        "id": "m-kbp",
        "timeline": "inc-morning",
        "kind": "kid_before_publish",
        "issuer": "device",
        "at": 2.0,
        "publish_after": 1500,
        "detail": "device CA signs with its new kid 25 min before publishing it",
    },
    {
        "id": "m-jwks",
        "timeline": "inc-morning",
        "kind": "jwks_outage",
        "issuer": "corp",
        "at": 9.0,
        "until": 9.85,
        "restarts": [("dispatch-api", 1, 9.3), ("admin-console", 2, 9.5), ("billing-api", 1, 9.6)],
        "detail": "corporate IdP key set 503 for 50 min during a rolling deploy (cold caches)",
    },
    # --- afternoon (Thu 12:00 - 24:00)
    {
        "id": "a-sig",
        "timeline": "inc-afternoon",
        "kind": "signature_spike",
        "issuer": "swiftlast",
        "at": 2.0,
        "until": 3.3,
        "detail": "swiftlast HSM re-keyed under the same kid, key set not updated",
    },
    {
        "id": "a-audcl",
        "timeline": "inc-afternoon",
        "kind": "audience_misconfig",
        "client": "swiftlast-north",
        "at": 4.0,
        "until": 5.5,
        "detail": "swiftlast-north requests tokens for 'handover-api-staging'",
    },
    {
        "id": "a-kbp",
        "timeline": "inc-afternoon",
        "kind": "kid_before_publish",
        "issuer": "corp",
        "at": 6.0,
        "publish_after": 720,
        "detail": "corporate IdP signs with a new kid 12 min before publishing",
    },
    {
        "id": "a-custstall",
        "timeline": "inc-afternoon",
        "kind": "issuer_stalled",
        "issuer": "customer",
        "at": 7.0,
        "until": 7.42,
        "detail": "customer IdP token endpoint down 25 min",
    },
    {
        "id": "a-idtok",
        "timeline": "inc-afternoon",
        "kind": "type_confusion",
        "client": "wh-supervisor-app",
        "at": 9.5,
        "until": 12.0,
        "frac": 1.0,
        "detail": "supervisor app release sends ID tokens to sorting-api",
    },
    {
        "id": "a-devjwks",
        "timeline": "inc-afternoon",
        "kind": "jwks_outage",
        "issuer": "device",
        "at": 10.05,
        "until": 10.8,
        "restarts": [("sorting-api", 1, 10.3), ("telematics-ingest", 2, 10.2)],
        "detail": "device CA key set down at night shift start; autoscaled replica and restarts start cold",
    },
    {
        "id": "a-ahead",
        "timeline": "inc-afternoon",
        "kind": "clock_skew",
        "client": "swiftlast-south",
        "at": 0.5,
        "until": 4.5,
        "const": 200.0,
        "detail": "swiftlast-south signing host 200 s ahead (nbf/iat in the future)",
    },
    # --- weekend (Sat 20:00 - Sun 08:00)
    {
        "id": "w-devrm",
        "timeline": "inc-weekend",
        "kind": "key_removed_early",
        "issuer": "device",
        "at": 4.0,
        "remove_after": 14400,
        "detail": "device CA removes its old key 4 h after rotating (8 h tokens)",
    },
    {
        "id": "w-devskew",
        "timeline": "inc-weekend",
        "kind": "server_clock_skew",
        "issuer": "device",
        "at": 1.0,
        "until": 7.0,
        "skew": 150.0,
        "detail": "device CA clock 150 s ahead (tokens stamped in the future)",
    },
    {
        "id": "w-pstall",
        "timeline": "inc-weekend",
        "kind": "issuer_stalled",
        "issuer": "swiftlast",
        "at": 10.3,
        "until": 11.1,
        "detail": "swiftlast token service down before the morning handover",
    },
    {
        "id": "w-attack",
        "timeline": "inc-weekend",
        "kind": "attack_burst",
        "api": "handover-api",
        "at": 7.0,
        "until": 7.13,
        "rate": 4.0,
        "detail": "alg-none / HS256-with-public-key burst on the handover API",
    },
    {
        "id": "w-sig",
        "timeline": "inc-weekend",
        "kind": "signature_spike",
        "issuer": "corp",
        "at": 9.5,
        "until": 9.85,
        "detail": "botched HSM migration: corporate IdP signs with new material under the current kid",
    },
    {
        "id": "m-trucks",
        "timeline": "inc-morning",
        "kind": "clock_skew",
        "client": "depot-dus",
        "group": "truck",
        "at": 0.0,
        "until": 12.0,
        "const": -1500.0,
        "detail": "depot-dus telematics units 25 min behind (GPS rollover)",
    },
]

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


def _ts(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# ---------------------------------------------------------------- keys and issuer state


class Key:
    def __init__(self, issuer, kid, priv, publish, sign_from, sign_until, remove, inc=None, public_of=None):
        self.issuer, self.kid, self.priv = issuer, kid, priv
        self.publish, self.sign_from, self.sign_until, self.remove = publish, sign_from, sign_until, remove
        self.inc = inc  # token-level tag of tokens signed with it
        self.public_of = public_of  # key whose public part is published under this kid (signature spike)


def _newkey(rng, issuer):
    if ALG[issuer] == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(key):
    d = json.loads(jwt.algorithms.get_default_algorithms()[ALG[key.issuer]].to_jwk(key.priv.public_key()))
    d.update(kid=key.kid, use="sig", alg=ALG[key.issuer])
    return d


def build_keys(rng, t0, t1, incs):
    """Per issuer: keys with publish/sign/remove times; healthy rotations plus incident changes."""
    keys = {i: [] for i in ISS}
    for i in ISS:
        life = LIFE[i]
        first = Key(
            i,
            f"{i[:4]}-{rng.randrange(16**6):06x}",
            _newkey(rng, i),
            t0 - 30 * 86400,
            t0 - 30 * 86400,
            math.inf,
            math.inf,
        )
        keys[i].append(first)
        rot = None
        for inc in incs:
            if inc["kind"] in ("kid_before_publish", "key_removed_early") and inc["issuer"] == i:
                rot = inc
        if rot is None and rng.random() < 0.5:  # healthy rotation somewhere in the window
            at = t0 + rng.uniform(0.2, 0.6) * (t1 - t0)
            new = Key(i, f"{i[:4]}-{rng.randrange(16**6):06x}", _newkey(rng, i), at, at + 3600, math.inf, math.inf)
            first.sign_until = new.sign_from
            first.remove = new.sign_from + life + 3600
            keys[i].append(new)
        elif rot is not None:
            at = t0 + rot["at"] * H
            if rot["kind"] == "kid_before_publish":
                new = Key(
                    i,
                    f"{i[:4]}-{rng.randrange(16**6):06x}",
                    _newkey(rng, i),
                    at + rot["publish_after"],
                    at,
                    math.inf,
                    math.inf,
                    inc=rot["id"],
                )
                first.sign_until = at
                first.remove = at + life + 7200
            else:
                new = Key(i, f"{i[:4]}-{rng.randrange(16**6):06x}", _newkey(rng, i), at - 1800, at, math.inf, math.inf)
                first.sign_until = at
                first.remove = at + rot["remove_after"]
                first.inc = rot["id"]
            keys[i].append(new)
        for inc in incs:
            if inc["kind"] == "signature_spike" and inc["issuer"] == i:
                a, b = t0 + inc["at"] * H, t0 + inc["until"] * H
                cur = [k for k in keys[i] if k.sign_from <= a < k.sign_until][-1]
                keys[i].append(Key(i, cur.kid, _newkey(rng, i), math.inf, a, b, math.inf, inc=inc["id"]))
    return keys


def signing_key(keys, t):
    best = None
    for k in keys:
        if k.sign_from <= t < k.sign_until and (best is None or k.sign_from >= best.sign_from):
            best = k
    return best


# ---------------------------------------------------------------- traffic curves


def hour_of(t):
    return (t % 86400) / 3600.0


def weekday(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).weekday()


def curve(kind, t):
    h = hour_of(t)
    wk = 0.55 if weekday(t) >= 5 else 1.0
    if kind == "sorting":  # night sorting shift peak 22-04, smaller day shift
        v = 1.0 if (h >= 22 or h < 4) else 0.55 if 4 <= h < 6 else 0.35 if 6 <= h < 14 else 0.3 if h < 20 else 0.6
        return v * (0.8 if weekday(t) >= 5 else 1.0)
    if kind == "trucks":  # departures 5-8, deliveries until 18
        return wk * (0.05 if h < 5 else 1.0 if h < 8 else 0.7 if h < 18 else 0.15 if h < 21 else 0.05)
    if kind == "office":
        return wk * (0.08 if h < 6 else 0.6 if h < 8 else 1.0 if h < 18 else 0.35 if h < 22 else 0.15)
    if kind == "public":  # tracking app: evenings and lunch
        return (0.7 if weekday(t) >= 5 else 1.0) * (
            0.05
            + 0.95 * max(0.0, math.sin(math.pi * (h - 6) / 17)) ** 1.2
            + (0.3 if 11 <= h < 14 or 18 <= h < 21 else 0)
        )
    if kind == "partner":  # afternoon handovers + early morning
        return wk * (0.05 if h < 5 else 0.6 if h < 9 else 0.4 if h < 12 else 1.0 if h < 19 else 0.2)
    return 1.0


def poisson_times(rng, t0, t1, rate_h, kind, cap=4000):
    """Thinned Poisson process, rate_h per hour at curve peak (bounded)."""
    out = []
    if rate_h <= 0:
        return out
    t = t0
    for _ in range(cap * 6):
        t += rng.expovariate(rate_h / H)
        if t >= t1 or len(out) >= cap:
            break
        if rng.random() < curve(kind, t):
            out.append(t)
    return out


# ---------------------------------------------------------------- planning


class Plan:
    def __init__(self, name, seed, scale):
        cfg = TIMELINES[name]
        self.name, self.seed, self.scale = name, seed, scale
        self.t0 = _ts(cfg["start"])
        self.t1 = self.t0 + cfg["hours"] * H
        self.quiet = cfg["quiet"]
        self.incs = [dict(i) for i in INCIDENTS if i["timeline"] == name]
        self.rng = random.Random(seed)
        self.keys = build_keys(self.rng, self.t0, self.t1, self.incs)
        self.tokens = []  # (issuer, header, claims, Key, tags)
        self.requests = {}  # (api, replica) -> list of (t, tokref, tags)
        self.restarts = {}
        self.active = {}
        self.srv_skew = {}
        self.outages = {i: [] for i in ISS}
        self._setup_infra()

    def W(self, kind, key):
        """Incidents of a kind matching a field value."""
        return [i for i in self.incs if i["kind"] == kind and i.get(key[0]) == key[1]]

    def _setup_infra(self):
        rng = self.rng
        for api, (_k, _lw, n, _iss) in APIS.items():
            for r in range(1, n + 1):
                rs = sorted(rng.uniform(self.t0, self.t1) for _ in range(rng.randint(0, 2)))
                dep = self.t0 + rng.uniform(0.3, 0.9) * (self.t1 - self.t0)  # rolling deploy
                rs.append(dep + r * 240)
                self.restarts[(api, r)] = rs
                self.active[(api, r)] = None
                self.srv_skew[(api, r)] = [(self.t0, self.t1, rng.uniform(-0.25, 0.25))]
        # autoscaled night replica of sorting-api: up 21:30-05:30 (cold start each night)
        self.active[("sorting-api", 4)] = "night"
        for i in ISS:  # JWKS blips: short 503s
            for _ in range(rng.randint(1, 3)):
                a = rng.uniform(self.t0, self.t1)
                self.outages[i].append((a, a + rng.uniform(10, 70)))
        for inc in self.incs:
            a, b = self.t0 + inc["at"] * H, self.t0 + inc.get("until", inc["at"]) * H
            if inc["kind"] == "jwks_outage":
                self.outages[inc["issuer"]].append((a, b))
                for api, r, at in inc["restarts"]:
                    self.restarts[(api, r)].append(self.t0 + at * H)
                    self.restarts[(api, r)].sort()
            if inc["kind"] == "server_clock_skew" and "api" in inc:
                self.srv_skew[(inc["api"], inc["replica"])].insert(0, (a, b, inc["skew"]))

    def is_active(self, api, r, t):
        if self.active[(api, r)] == "night":
            h = hour_of(t)
            return h >= 21.5 or h < 5.5
        return True

    def pick_replica(self, api, t, rng):
        n = APIS[api][2]
        cands = [r for r in range(1, n + 1) if self.is_active(api, r, t)]
        return rng.choice(cands)

    def iss_skew(self, issuer, t):
        for inc in self.W("server_clock_skew", ("issuer", issuer)):
            if self.t0 + inc["at"] * H <= t < self.t0 + inc["until"] * H:
                return inc["skew"], inc["id"]
        return 0.0, None

    def stalled(self, issuer, t):
        for inc in self.W("issuer_stalled", ("issuer", issuer)):
            if self.t0 + inc["at"] * H <= t < self.t0 + inc["until"] * H:
                return inc["id"]
        return None

    def mint(self, issuer, client, sub, t, aud, typ="at+jwt", extra=None, tags=(), life=None):
        skew, sid = self.iss_skew(issuer, t)
        tags = set(tags)
        if sid:
            tags.add(sid)
        it = int(t + skew)
        k = signing_key(self.keys[issuer], it)
        if k.inc:
            tags.add(k.inc)
        claims = {
            "iss": ISS[issuer],
            "sub": sub,
            "aud": aud,
            "iat": it,
            "nbf": it,
            "exp": it + (life or LIFE[issuer]),
            "jti": b64(self.rng.randbytes(12)),
            "client_id": client,
            "scope": "api",
        }
        if extra:
            claims.update(extra)
        self.tokens.append((issuer, {"kid": k.kid, "typ": typ}, claims, k))
        return {
            "id": len(self.tokens) - 1,
            "exp": claims["exp"],
            "iat": it,
            "tags": frozenset(tags),
            "issuer": issuer,
            "client": client,
        }

    def emit(self, api, t, tok, tags=(), replica=None):
        if not (self.t0 <= t < self.t1):
            return
        r = replica or self.pick_replica(api, t, self.rng)
        if not self.is_active(api, r, t):
            r = self.pick_replica(api, t, self.rng)
        tg = set(tags)
        if isinstance(tok, dict):
            if t <= tok["exp"] + 900:
                tg |= tok["tags"]
            tg |= self.window_tags(api, r, t, tok)
            ref = tok["id"]
        else:
            ref = tok
        self.requests.setdefault((api, r), []).append((t, ref, tuple(sorted(tg))))

    def window_tags(self, api, r, t, tok):
        out = set()
        for inc in self.incs:
            a = self.t0 + inc["at"] * H
            b = self.t0 + inc.get("until", inc["at"]) * H + 900
            if not a <= t < b:
                continue
            k = inc["kind"]
            if k == "jwks_outage" and ISS[inc["issuer"]] == ISS[tok["issuer"]]:
                out.add(inc["id"])
            elif k == "server_clock_skew" and inc.get("api") == api and inc.get("replica") == r:
                out.add(inc["id"])
            elif k == "audience_misconfig" and inc.get("api") == api:
                out.add(inc["id"])
        return out

    # ------------------------------------------------ actors

    def run_actor(self, a):
        """One device / user / integration: requests over the window, token renewal by its own clock."""
        rng = self.rng
        tok = a.get("initial")
        pending_retry = 0
        times = a["times"]
        for t in times:
            local = t + a["clock"](t)
            need = tok is None or local >= tok["exp"] - a["margin"] or pending_retry
            held = None
            if need:
                st = self.stalled(a["issuer"], t)
                if st is None:
                    tok = a["mint"](t)
                    pending_retry = 0
                else:
                    held = st
            if tok is None:
                continue
            api = a["api"](t) if callable(a["api"]) else a["api"]
            tags = set(a["tags"](t)) if a.get("tags") else set()
            if held:
                tags.add(held)
            self.emit(api, t, tok, tags)
            lw = APIS[api][1]
            if t > tok["exp"] + lw and a["on401"]:  # lazy refresh after 401, then retry
                st = self.stalled(a["issuer"], t)
                if st is None and rng.random() < 0.9:
                    tok = a["mint"](t + 0.4)
                    self.emit(api, t + 0.8, tok, set(a["tags"](t)) if a.get("tags") else set())
                else:
                    pending_retry = 1

    def plan(self):
        s = self.scale
        rng = self.rng
        t0, t1 = self.t0, self.t1
        self._scanners(s)
        self._trucks(s)
        self._corp(s)
        self._tracking(s)
        self._partners(s)
        self._garbage(s)
        self._attacks()
        for k in self.requests:
            self.requests[k].sort(key=lambda x: x[0])
        del rng, t0, t1

    def _clock(self, kind, inc=None):
        """A device clock: offset (local - true) in seconds as a function of true time."""
        rng = self.rng
        u = rng.random()
        if u < 0.85:
            off = rng.gauss(0, 1.5)
            base = lambda t: off
        elif u < 0.95:
            off = rng.choice([-1, 1]) * rng.uniform(30, 240)
            base = lambda t: off
        elif u < 0.98:  # drifting slowly
            d = rng.uniform(-20, 20) / H
            base = lambda t: d * (t - self.t0)
        else:  # boots with a wrong clock until NTP
            off = rng.choice([-1, 1]) * rng.uniform(600, 7200)
            fix = self.t0 + rng.uniform(0, 3) * H
            base = lambda t: off if t < fix else 0.5
        if inc is None:
            return base
        a = self.t0 + inc["at"] * H
        b = self.t0 + inc["until"] * H
        if "drift_per_h" in inc:
            rate = inc["drift_per_h"] * rng.uniform(0.6, 1.4) / H
            return lambda t: base(t) + (rate * (min(t, b) - a) if t > a else 0.0)
        c = inc["const"] * rng.uniform(0.9, 1.1)
        return lambda t: base(t) + (c if a <= t < b else 0.0)

    def _client_skew(self, client, group=None):
        for inc in self.W("clock_skew", ("client", client)):
            if inc.get("group", None) in (None, group):
                return inc
        return None

    def _scanners(self, s):
        rng = self.rng
        n_total = int(sum(DEPOTS.values()) * min(1.0, s))
        ratio = n_total / sum(DEPOTS.values())
        for depot, n in DEPOTS.items():
            inc = self._client_skew(depot, "scanner")
            for d in range(int(n * ratio)):
                sub = f"scanner-{depot[6:]}-{d:04d}"
                shift = rng.random()
                rate = 3.0 * max(s, 0.05) * (1.6 if shift < 0.5 else 1.0)
                times = poisson_times(rng, self.t0, self.t1, rate, "sorting", cap=600)
                uses_dispatch = rng.random() < 0.05
                clk = self._clock("scanner", inc)
                tags_fn = lambda t, i=inc: (
                    [i["id"]] if i and self.t0 + i["at"] * H <= t < self.t0 + i["until"] * H + 900 else []
                )
                # initial token from before the window (8h tokens issued at dock)
                ini_iat = self.t0 - rng.uniform(0, 7.5 * H)
                a = {
                    "issuer": "device",
                    "times": times,
                    "clock": clk,
                    "margin": 300,
                    "on401": False,
                    "api": (lambda t, u=uses_dispatch: "dispatch-api" if u and rng.random() < 0.3 else "sorting-api"),
                    "tags": tags_fn,
                }
                a["mint"] = lambda t, sub=sub, depot=depot: self.mint(
                    "device", depot, sub, t, ["sorting-api", "dispatch-api"]
                )
                a["initial"] = self.mint("device", depot, sub, ini_iat, ["sorting-api", "dispatch-api"])
                if rng.random() < 0.3:  # lazy firmware: renews only after the 401
                    a["margin"] = -60
                    a["on401"] = True
                self.run_actor(a)

    def _trucks(self, s):
        rng = self.rng
        for depot, n in DEPOTS.items():
            inc = self._client_skew(depot, "truck")
            for d in range(max(1, int(n / 7 * min(1.0, s)))):
                sub = f"truck-{depot[6:]}-{d:03d}"
                clk = self._clock("truck", inc)
                tags_fn = lambda t, i=inc: (
                    [i["id"]] if i and self.t0 + i["at"] * H <= t < self.t0 + i["until"] * H + 900 else []
                )
                mint = lambda t, sub=sub, depot=depot: self.mint(
                    "device", depot, sub, t, ["telematics-ingest", "dispatch-api"]
                )
                tok = mint(self.t0 - rng.uniform(0, 7 * H))
                # uploads every ~3 min while in coverage; coverage gaps of 0.5-4 h queue uploads
                t = self.t0 + rng.uniform(0, 600)
                for _ in range(3000):
                    if t >= self.t1:
                        break
                    if rng.random() < 0.012 * max(curve("trucks", t), 0.1):  # coverage gap
                        gap = rng.uniform(0.5, 4) * H
                        t += gap
                        if t >= self.t1:
                            break
                        # back in coverage: upload the queue with the token held
                        if tok["exp"] + 120 < t:
                            self.emit("telematics-ingest", t, tok, tags_fn(t))
                        local = t + clk(t)
                    else:
                        local = t + clk(t)
                    if local >= tok["exp"] - 600:
                        if self.stalled("device", t) is None:
                            tok = mint(t)
                        else:
                            self.emit("telematics-ingest", t, tok, set(tags_fn(t)) | {self.stalled("device", t)})
                            t += 180 / max(s, 0.05)
                            continue
                    if rng.random() < curve("trucks", t) * min(1.0, s * 1.2):
                        api = "dispatch-api" if rng.random() < 0.12 else "telematics-ingest"
                        self.emit(api, t, tok, tags_fn(t))
                    t += rng.uniform(300, 900)

    def _corp(self, s):
        rng = self.rng
        specs = [  # client, users, rate/h per user, apis, curve, kind
            (
                "dispatch-desktop",
                70,
                18,
                [("dispatch-api", 0.85), ("admin-console", 0.05), ("billing-api", 0.1)],
                "office",
            ),
            ("wh-supervisor-app", 40, 12, [("sorting-api", 0.8), ("dispatch-api", 0.2)], "sorting"),
            ("finance-portal", 15, 10, [("billing-api", 1.0)], "office"),
            ("admin-portal", 8, 8, [("admin-console", 1.0)], "office"),
            ("billing-batch", 2, 40, [("billing-api", 1.0)], "flat"),
        ]
        for client, users, rate, apis, kind in specs:
            tc = [i for i in self.W("type_confusion", ("client", client))]
            for u in range(max(1, int(users * min(1.0, s)))):
                sub = f"{client[:4]}-u{u:03d}"
                aud = sorted({a for a, _ in apis})
                times = poisson_times(rng, self.t0, self.t1, rate * max(s, 0.05), kind, cap=800)
                clk = self._clock("desk")
                lazy = client in ("dispatch-desktop", "finance-portal") and rng.random() < 0.5
                if (
                    times and client != "billing-batch" and rng.random() < 0.35
                ):  # desktop restart replays a cached token
                    tr = rng.choice(times)
                    old = self.mint("corp", client, sub, tr - rng.uniform(1.2 * H, 20 * H), aud)
                    self.emit(rng.choice(apis)[0], tr - 1.0, old)

                def api_of(t, apis=apis):
                    x = rng.random()
                    for a, w in apis:
                        x -= w
                        if x <= 0:
                            return a
                    return apis[-1][0]

                def mint(t, sub=sub, client=client, aud=aud, tc=tc):
                    for i in tc:
                        if self.t0 + i["at"] * H <= t < self.t0 + i["until"] * H and rng.random() < i["frac"]:
                            return self.mint(
                                "corp",
                                client,
                                sub,
                                t,
                                client,
                                typ="JWT",
                                extra={"nonce": b64(rng.randbytes(8)), "client_id": None},
                                tags=[i["id"]],
                            )
                    return self.mint("corp", client, sub, t, aud)

                ini = mint(self.t0 - rng.uniform(0, 3 * H)) if rng.random() < 0.5 else None
                a = {
                    "issuer": "corp",
                    "times": times,
                    "clock": clk,
                    "margin": -1 if lazy else 120,
                    "on401": True,
                    "api": api_of,
                    "mint": mint,
                    "initial": ini,
                }
                self.run_actor(a)

    def _tracking(self, s):
        rng = self.rng
        tcs = self.W("type_confusion", ("client", "tracking-app-android"))
        n_users = int(1500 * s)
        for u in range(n_users):
            client = rng.choices(["tracking-app-ios", "tracking-app-android", "tracking-web"], [0.45, 0.4, 0.15])[0]
            sub = f"cust-{u:05d}"
            clk = self._clock("phone")
            sessions = poisson_times(rng, self.t0, self.t1, rng.uniform(0.08, 0.5), "public", cap=40)
            tok = None
            if rng.random() < 0.4:
                tok = self.mint("customer", client, sub, self.t0 - rng.uniform(60, 20 * H), "tracking-api")
            proactive = rng.random() < 0.7
            polls = sorted(st + rng.uniform(0, 15 * 60) for st in sessions for _ in range(rng.randint(1, 8)))
            if polls:
                for t in polls:
                    tags = set()
                    for i in tcs:  # refresh token sent as bearer
                        if (
                            client == "tracking-app-android"
                            and self.t0 + i["at"] * H <= t < self.t0 + i["until"] * H
                            and rng.random() < i["frac"]
                        ):
                            rt = self.mint(
                                "customer",
                                client,
                                sub,
                                t - rng.uniform(0, 3 * H),
                                ISS["customer"] + "/token",
                                typ="JWT",
                                life=30 * 86400,
                                extra={"scope": "offline_access"},
                                tags=[i["id"]],
                            )
                            self.emit("tracking-api", t, rt)
                            t += 0.5
                    local = t + clk(t)
                    if tok is None or (proactive and local >= tok["exp"] - 60):
                        sid = self.stalled("customer", t)
                        if sid is None:
                            tok = self.mint("customer", client, sub, t, "tracking-api")
                        elif tok is None:
                            continue
                        else:
                            tags.add(sid)
                    self.emit("tracking-api", t, tok, tags)
                    if t > tok["exp"] + 10:  # 401: refresh and retry
                        sid = self.stalled("customer", t)
                        if sid is None:
                            tok = self.mint("customer", client, sub, t + 0.3, "tracking-api")
                            self.emit("tracking-api", t + 0.6, tok)

    def _partners(self, s):
        rng = self.rng
        for issuer, client, rate in (
            ("swiftlast", "swiftlast-north", 160),
            ("swiftlast", "swiftlast-south", 120),
            ("kuriermax", "kuriermax-integration", 220),
        ):
            inc = self._client_skew(client)
            aud_incs = self.W("audience_misconfig", ("client", client))
            clk = self._clock("host")
            times = poisson_times(rng, self.t0, self.t1, rate * s, "partner", cap=20000)
            skew_inc = inc

            def mint(t, issuer=issuer, client=client, skew_inc=skew_inc, aud_incs=aud_incs):
                tags = []
                tt = t
                if skew_inc and self.t0 + skew_inc["at"] * H <= t < self.t0 + skew_inc["until"] * H:
                    tt = t + skew_inc["const"]  # this client's signing host stamps with its own clock
                    tags.append(skew_inc["id"])
                aud = "handover-api"
                for i in aud_incs:
                    if self.t0 + i["at"] * H <= t < self.t0 + i["until"] * H:
                        aud = "handover-api-staging"
                        tags.append(i["id"])
                tok = self.mint(issuer, client, f"{client}-svc", tt, aud, tags=tags)
                return tok

            a = {
                "issuer": issuer,
                "times": times,
                "clock": clk,
                "margin": 30,
                "on401": True,
                "api": "handover-api",
                "mint": mint,
                "initial": None,
            }
            # token cache of the integration: 5 min tokens, re-used across calls
            self.run_actor(a)

    # ------------------------------------------------ garbage and attacks

    def garbage(self, kind, rng):
        now = int(self.t0)
        iss = ISS[rng.choice(list(ISS))]
        if kind == "none":
            hdr = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{hdr}.{b64(json.dumps({'sub': 'admin', 'iss': iss}).encode())}."
        if kind == "randkid":
            return (
                "forge",
                {"kid": b64(rng.randbytes(6)), "typ": "at+jwt"},
                {"iss": iss, "sub": "x", "aud": "tracking-api", "exp": now + 86400},
            )
        if kind == "noclient":
            return ("forge", {"typ": "JWT"}, {"iss": iss, "sub": "u1", "exp": now + 3600})
        if kind == "tampered":
            return ("tamper", rng.randrange(len(self.tokens))) if self.tokens else "a.b.c"
        if kind == "truncated":
            return ("trunc", rng.randrange(len(self.tokens))) if self.tokens else "eyJhbGciOiJ"
        if kind == "huge":
            return ("forge", {"typ": "JWT"}, {"iss": iss, "pad": "A" * rng.randint(70000, 90000), "exp": now})
        if kind == "hs256":
            return ("hs256", iss)
        if kind == "old":
            return ("forge", {"kid": "2019-01", "typ": "JWT"}, {"iss": iss, "sub": "u", "exp": 1546300800})
        return "not-a-jwt"

    def _garbage(self, s):
        rng = self.rng
        kinds = ["none", "randkid", "noclient", "tampered", "truncated", "huge", "hs256", "old", "junk"]
        for api in ("tracking-api", "handover-api"):
            for t in poisson_times(rng, self.t0, self.t1, 32 * max(s, 0.1), "flat", cap=3000):
                self.emit(api, t, self.garbage(rng.choice(kinds), rng))

    def _attacks(self):
        rng = self.rng
        for inc in self.W("attack_burst", ("kind", "attack_burst")):
            a, b = self.t0 + inc["at"] * H, self.t0 + inc["until"] * H
            t = a
            kinds = (
                ["randkid", "tampered", "old", "noclient", "junk"]
                if inc["api"] == "tracking-api"
                else ["none", "hs256", "randkid", "tampered"]
            )
            for _ in range(20000):
                t += rng.expovariate(inc["rate"])
                if t >= b:
                    break
                self.emit(inc["api"], t, self.garbage(rng.choice(kinds), rng), [inc["id"]])

    # ------------------------------------------------ signing

    def sign_all(self):
        attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        out = []
        for issuer, header, claims, k in self.tokens:
            c = {kk: v for kk, v in claims.items() if v is not None}
            out.append(jwt.encode(c, k.priv, algorithm=ALG[issuer], headers=header))
        self.signed = out
        pubs = {i: self.keys[i][0].priv.public_key() for i in ISS}
        pem = {
            i: pubs[i].public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            for i in ISS
        }
        inv = {v: k for k, v in ISS.items()}
        for key, reqs in self.requests.items():
            for n, (t, ref, tags) in enumerate(reqs):
                if isinstance(ref, int) or isinstance(ref, str):
                    continue
                if ref[0] == "forge":
                    s = jwt.encode(ref[2], attacker, algorithm="RS256", headers=ref[1])
                elif ref[0] == "tamper":
                    h, p, sg = out[ref[1]].split(".")
                    pl = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                    pl["sub"] = "admin"
                    s = f"{h}.{b64(json.dumps(pl).encode())}.{sg}"
                elif ref[0] == "trunc":
                    s = out[ref[1]][: -self.rng.randint(5, 60)]
                else:  # HS256 with the issuer's public key PEM as the secret
                    hh = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
                    pp = b64(json.dumps({"iss": ref[1], "sub": "admin", "exp": int(t) + 3600}).encode())
                    sig = hmac.new(pem[inv[ref[1]]], f"{hh}.{pp}".encode(), hashlib.sha256).digest()
                    s = f"{hh}.{pp}.{b64(sig)}"
                reqs[n] = (t, s, tags)


# ---------------------------------------------------------------- worker side

PLAN: Plan | None = None


def _serve(plan):
    jwks_json = {i: [(k, _jwk(k.public_of or k)) for k in plan.keys[i] if k.publish != math.inf] for i in ISS}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            now = time.time()
            i = self.path.strip("/").split("/")[0]
            if i not in ISS or any(a <= now < b for a, b in plan.outages[i]):
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"keys": [j for k, j in jwks_json[i] if k.publish <= now < k.remove]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", f"max-age={TTL[i]}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


class AppKeys:
    """The app's own key cache (simulated time) over PyJWKClient's fetch."""

    def __init__(self, url, ttl, cooldown=30.0):
        self.client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=3)
        self.ttl, self.cooldown = ttl, cooldown
        self.data, self.fetched, self.last_try, self.libkeys = None, -1e18, -1e18, {}

    def get(self, kid):
        now = time.time()
        kids = {k.get("kid") for k in self.data["keys"]} if self.data else set()
        due = self.data is None or now - self.fetched >= self.ttl
        if (due or kid not in kids) and now - self.last_try >= self.cooldown:
            self.last_try = now
            try:
                self.data = self.client.fetch_data()
                self.fetched = now
                self.libkeys = {}
            except jwt.PyJWKClientConnectionError:
                if self.data is None or kid not in kids:
                    raise
        if self.data is None:
            raise jwt.PyJWKClientConnectionError("key set not fetched yet (cooldown after a failure)")
        return self.data

    def lib(self, kid, name, build):
        data = self.get(kid)
        if name not in self.libkeys:
            self.libkeys[name] = build(data)
        return self.libkeys[name]


def _peek(token):
    try:
        h, p, _ = token.split(".")
        return (
            json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))),
            json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))),
        )
    except Exception:
        return {}, {}


def build_validator(plan, api, base):
    import jwtobs

    kind, lw, _n, issuers = APIS[api]
    urls = {i: f"{base}/{i}/jwks.json" for i in issuers}
    if kind in ("verifierset", "verifier"):
        vs = []
        for i in issuers:
            prof = jwtobs.Profile(name=api, issuer=ISS[i], audience=api, algorithms=(ALG[i],), leeway=lw)
            src = jwtobs.JwksSource(
                urls[i], timeout=3.0, cooldown=30.0, max_stale=1800, min_ttl=60, clock=lambda: time.time()
            )
            vs.append(
                jwtobs.Verifier(
                    prof, keys=src, backend="pyjwt" if kind == "verifierset" else "authlib", clock=lambda: time.time()
                )
            )
        v = jwtobs.VerifierSet(vs) if len(vs) > 1 else vs[0]
        return lambda tok: v.verify(tok)
    caches = {ISS[i]: AppKeys(urls[i], TTL[i]) for i in issuers}
    algs = sorted({ALG[i] for i in issuers})

    def cache_for(claims):
        c = caches.get(claims.get("iss")) if isinstance(claims, dict) else None
        return c if c is not None else next(iter(caches.values()))

    if kind == "pyjwt":

        def validate(token):
            hdr = jwt.get_unverified_header(token)
            cl = jwt.decode(token, options={"verify_signature": False})
            ak = cache_for(cl)
            data = ak.get(hdr.get("kid"))
            for k in data["keys"]:
                if k.get("kid") == hdr.get("kid"):
                    key = jwt.PyJWK(k).key
                    break
            else:
                raise jwt.PyJWKClientError(f'Unable to find a signing key that matches: "{hdr.get("kid")}"')
            return jwt.decode(token, key, algorithms=algs, audience=api, issuer=list(caches), leeway=lw)

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if kind == "joserfc":
        from joserfc import jwt as jj
        from joserfc.jwk import KeySet

        aud = {"v": api}

        def validate(token):
            hdr, cl = _peek(token)
            ak = cache_for(cl)
            ks = ak.lib(hdr.get("kid"), "joserfc", KeySet.import_key_set)
            t = jj.decode(token, ks, algorithms=algs)
            reg = jj.JWTClaimsRegistry(
                leeway=lw,
                iss={"essential": True, "value": ISS[issuers[0]]},
                aud={"essential": True, "value": aud["v"]},
                exp={"essential": True},
            )
            reg.validate(t.claims)
            return t.claims

        f = jwtobs.wrap(validate, library="joserfc", profile=api)
        f.aud = aud
        return f
    if kind == "jose":
        from jose import jwt as jose_jwt

        def validate(token):
            hdr, cl = _peek(token)
            ak = cache_for(cl)
            data = ak.get(hdr.get("kid"))
            return jose_jwt.decode(
                token, data, algorithms=algs, audience=api, issuer=cl.get("iss"), options={"leeway": lw}
            )

        return jwtobs.wrap(validate, library="jose", profile=api)
    if kind == "authlib":
        from authlib.jose import JsonWebKey
        from authlib.jose import jwt as ajwt

        def validate(token):
            hdr, cl = _peek(token)
            ak = cache_for(cl)
            ks = ak.lib(hdr.get("kid"), "authlib", JsonWebKey.import_key_set)
            claims = ajwt.decode(
                token,
                ks,
                claims_options={
                    "iss": {"essential": True, "values": list(caches)},
                    "aud": {"essential": True, "value": api},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=lw)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        def validate(token):
            hdr, cl = _peek(token)
            ak = cache_for(cl)
            ks = ak.lib(hdr.get("kid"), "jwcrypto", lambda d: cjwk.JWKSet.from_json(json.dumps(d)))
            t = cjwt.JWT(algs=algs, check_claims={"iss": ISS[issuers[0]], "aud": api, "exp": None})
            t.leeway = lw
            t.deserialize(token, key=ks)
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


def run_replica(args):
    import time_machine

    import jwtobs

    api, r, out = args
    plan = PLAN
    reqs = plan.requests.get((api, r), [])
    path = os.path.join(out, plan.name, "events", f"{api}-{r}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(
        events_path=path, service=api, defer=False, fingerprint_key="fleet54-" + plan.name * 2, from_env=False
    )
    skews = plan.srv_skew[(api, r)]
    restarts = list(plan.restarts[(api, r)])
    with time_machine.travel(plan.t0 - 60, tick=False) as tr:
        srv, base = _serve(plan)
        fn = None
        was_active = True
        ri = 0
        aud_incs = [i for i in plan.incs if i["kind"] == "audience_misconfig" and i.get("api") == api]
        for t, tok, _tags in reqs:
            sk = next((v for a, b, v in skews if a <= t < b), 0.0)
            tr.move_to(t + sk)
            while ri < len(restarts) and restarts[ri] <= t:
                fn = None
                ri += 1
            act = plan.is_active(api, r, t)
            if fn is None or (act and not was_active):
                fn = build_validator(plan, api, base)
            was_active = act
            if aud_incs and hasattr(fn, "aud"):
                wrong = any(plan.t0 + i["at"] * H <= t < plan.t0 + i["until"] * H for i in aud_incs)
                fn.aud["v"] = "tracking-api-v2" if wrong else api
            if isinstance(tok, int):
                tok = plan.signed[tok]
            try:
                fn(tok)
            except Exception:
                pass
        jwtobs.flush()
        srv.shutdown()
    jwtobs.flush()
    return api, r, len(reqs)


# ---------------------------------------------------------------- labels


def label(plan, out, wall):
    kinds = {i["id"]: i["kind"] for i in plan.incs}
    hits = {i["id"]: [] for i in plan.incs}
    val = rej = 0
    reasons = Counter()
    for (api, r), reqs in sorted(plan.requests.items()):
        path = os.path.join(out, plan.name, "events", f"{api}-{r}.jsonl")
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    e = json.loads(line)
                    if "event" not in e:
                        evs.append(e)
        if len(evs) != len(reqs):
            print(f"WARNING {plan.name} {api}-{r}: {len(evs)} events for {len(reqs)} requests", file=sys.stderr)
        for (t, _tok, tags), e in zip(reqs, evs):
            val += 1
            if e["outcome"] != "rejected":
                continue
            rej += 1
            reasons[e["reason"]] += 1
            for tg in tags:
                ok = REASONS_OF[kinds[tg]]
                if ok is None or e["reason"] in ok:
                    hits[tg].append(e["time"])
    labels, missing = [], []
    for inc in plan.incs:
        h = sorted(hits[inc["id"]], key=_ts)
        if not h:
            missing.append(inc["id"])
            continue
        k = inc["kind"]
        iss_scoped = k in (
            "kid_before_publish",
            "key_removed_early",
            "jwks_outage",
            "signature_spike",
            "issuer_stalled",
        ) or (k == "server_clock_skew" and "issuer" in inc)
        client_scoped = k == "clock_skew" or (k in ("audience_misconfig", "type_confusion") and "client" in inc)
        labels.append(
            {
                "id": inc["id"],
                "kind": k,
                "start": h[0],
                "end": h[-1],
                "count": len(h),
                "issuer": ISS[inc["issuer"]] if iss_scoped else None,
                "kid": next((kk.kid for kk in plan.keys[inc["issuer"]] if kk.inc == inc["id"]), None)
                if k in ("kid_before_publish", "key_removed_early", "signature_spike")
                else None,
                "client_id": inc["client"] if client_scoped else None,
                "profile": inc["api"] if (k in ("audience_misconfig", "server_clock_skew") and "api" in inc) else None,
                "detail": inc["detail"],
            }
        )
    iso = lambda x: dt.datetime.fromtimestamp(x, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(os.path.join(out, plan.name, "labels.json"), "w") as f:
        json.dump(
            {
                "timeline": plan.name,
                "quiet": plan.quiet,
                "seed": plan.seed,
                "start": iso(plan.t0),
                "end": iso(plan.t1),
                "generator": GEN,
                "incidents": labels,
            },
            f,
            indent=1,
        )
    summ = {
        "timeline": plan.name,
        "validations": val,
        "rejections": rej,
        "rejection_rate": round(rej / max(val, 1), 4),
        "reasons": dict(reasons.most_common()),
        "incidents_injected": len(plan.incs),
        "incidents_labelled": len(labels),
        "injected_without_counted_rejection": missing,
        "tokens_signed": len(plan.tokens),
        "counts": {lb["id"]: lb["count"] for lb in labels},
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(out, plan.name, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
    return summ


def generate(name, out, seed, scale, workers):
    global PLAN
    t = time.time()
    plan = Plan(name, seed, scale)
    plan.plan()
    plan.sign_all()
    os.makedirs(os.path.join(out, name, "events"), exist_ok=True)
    PLAN = plan
    jobs = sorted(plan.requests, key=lambda k: -len(plan.requests[k]))
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        list(pool.imap_unordered(run_replica, [(a, r, out) for a, r in jobs]))
    PLAN = None
    summ = label(plan, out, time.time() - t)
    print(
        json.dumps(
            {
                k: summ[k]
                for k in (
                    "timeline",
                    "validations",
                    "rejection_rate",
                    "incidents_labelled",
                    "injected_without_counted_rejection",
                    "wall_s",
                )
            }
        ),
        flush=True,
    )
    return summ


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=5400)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    if not a.score_only:
        t = time.time()
        for k, n in enumerate(names):
            d = os.path.join(a.out, n)
            if os.path.isdir(d):
                shutil.rmtree(d)
            generate(n, a.out, a.seed_base + list(TIMELINES).index(n), a.scale, a.workers)
        print(f"total wall {time.time() - t:.1f}s", flush=True)
    if a.score or a.score_only:
        print(json.dumps(_score(a.out, names), indent=1, default=str))


if __name__ == "__main__":
    main()
