"""fleet64: an independent benchmark fleet for jwtobs - a video streaming service (SVOD + live sport).

Design note
===========

Every event is written by jwtobs itself from a real validation: keys are generated at run time
(``cryptography``), tokens signed with PyJWT, key sets served by a real ``http.server`` on 127.0.0.1 (one per
worker process, port 0), time moved with ``time_machine`` (``travel(tick=False)`` then ``move_to`` before each
validation) and each replica of each API writes its own events file
(``<out>/<timeline>/events/<api>-<replica>.jsonl``, ``jwtobs.configure(service=<api>)``), one fork-pool task per
replica file.

Issuers
-------
* ``https://id.streamco.tv`` (``id``): the service's own identity provider, ES256 access tokens (``at+jwt``, 1 h),
  audiences ``catalog profiles entitlements playback live``; client ids ``tv-tizen``, ``tv-webos``,
  ``tv-androidtv``, ``stb-streamco`` (cheap set-top boxes), ``mobile-ios``, ``mobile-android``, ``web-player``,
  ``hotel-iptv`` (a B2B hotel integration).
* ``https://playback.streamco.tv`` (``pb``): the playback-token service (three signing nodes), ES256, 10 min
  tokens for the CDN edge and the DRM licence server; issued by ``playback-session`` on each start/heartbeat.
  Live streams carry ``nbf`` = the player's own "start_at" minus 30 s (a client clock enters the token).
* ``https://auth.telcoa.example/oauth2`` (``telcoa``): a telco partner bundle, RS256, 30 min tokens
  (``telcoa-stb``, ``telcoa-app``).
* ``https://sso.paytvb.example`` (``paytvb``): a pay-TV operator, ES256, 2 h tokens (``paytvb-stb``, ``paytvb-go``).

APIs (validator kind, leeway, replicas)
---------------------------------------
* ``catalog-api``: ``jwtobs.wrap`` of the app's PyJWT code with one ``PyJWKClient`` per issuer; 30 s; 3 (+1 autoscaled).
  The other wrapped apps fetch the whole key set through a ``PyJWKClient`` (cached 300 s, refetched at most
  every 30 s for a kid it lacks) and let their own library pick the key by kid.
* ``profiles-api``: python-jose; 120 s; 2.
* ``entitlements-api``: Authlib ``jwt.decode`` + ``claims.validate``; 60 s; 2 (+1).
* ``partner-bridge``: jwcrypto ``JWT`` (partner issuers only); 30 s; 2.
* ``drm-licence``: joserfc ``decode`` + ``JWTClaimsRegistry``; 10 s; 3 (+1).
* ``playback-session``: ``jwtobs.VerifierSet`` (id, telcoa, paytvb) with ``JwksSource``, backend pyjwt; 60 s; 3 (+2).
* ``cdn-edge``: ``jwtobs.Verifier`` (pb) with ``JwksSource(max_stale=1200)``, backend joserfc; 0 s; 4 (+2).
* ``live-events-api``: ``jwtobs.VerifierSet`` (id, paytvb), backend jwcrypto; 30 s; 2 (+1).

Background (every timeline)
---------------------------
Two regions (EU UTC+1, US-East UTC-5) with an evening prime-time curve, overnight lull and weekend factor; live
matches / premieres multiply session arrivals 5-10x within minutes (login storm: every TV refreshing at once).
Each session: catalog/profile/entitlement calls, a playback-session call (which mints a playback token), then
CDN manifest requests every 1-2.5 min, DRM licence renewals, heartbeats. ~2.5 k devices per client mix, each with
its own clock (most within seconds, some minutes off, some drifting, cheap boards booting on their build date until
NTP answers); TV/STB apps compare ``exp`` with their own wall clock, mobile/web apps use elapsed time. Lazy
integrations present what they hold and refresh after the 401 (stale cached tokens after restarts, TVs waking from
standby with tokens days old); a few firmware builds retry the same token without refreshing. Scanners (1-3/min):
alg none, random kid, typ JWT without client id, tampered, truncated, huge, HS256 with the public key, years-old
tokens of a retired kid. Healthy key rotations with overlap, JWKS blips (20-60 s of 503 or connection resets),
rolling deploys, crashes and autoscaled replicas (cold caches).

Incidents (``INCIDENTS``)
-------------------------
kid_before_publish (telcoa signs before publishing, 25 min; pb's new key 4 min early), key_removed_early (paytvb
and id remove the old key while its tokens live), jwks_outage (id 40 min 503 during a derby with a rolling deploy;
pb 30 min resets; telcoa 25 min, few requests), signature_spike (telcoa's HSM re-keyed under the same kid; one of
pb's three signing nodes with stale key material), clock_skew (a Tizen firmware wave booting on its build date and
retrying the same token; telco STBs whose RTC drifts behind; hotel-iptv boxes 5 min ahead making live playback
tokens not yet valid), server_clock_skew (one drm-licence replica 4 min ahead; paytvb's clock 7 min ahead; one pb
signing node 11 min behind), issuer_stalled (telcoa and paytvb token endpoints down), audience_misconfig
(entitlements-api rolled out with audience ``entitlement``; mobile-android 9.3 requesting tokens without
``playback``), type_confusion (telcoa-app sends ID tokens; web-player sends ID tokens to live-events), attack_burst
(a restreaming ring hammering the CDN with forged playback tokens; a scanner campaign; a small stuffing burst).

Labels follow the brief: a rejection counts for an incident when its request carries the incident's tag and its
reason is one the kind causes (``REASONS_OF``). Keys are random per run (cryptography cannot be seeded); every
other choice is seeded from ``--seed-base``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import hmac
import http.server
import itertools
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import typing
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

H = 3600.0
M = 60.0

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

ISSUERS = {
    "id": {"iss": "https://id.streamco.tv", "alg": "ES256", "ttl": 3600},
    "pb": {"iss": "https://playback.streamco.tv", "alg": "ES256", "ttl": 600},
    "telcoa": {"iss": "https://auth.telcoa.example/oauth2", "alg": "RS256", "ttl": 1800},
    "paytvb": {"iss": "https://sso.paytvb.example", "alg": "ES256", "ttl": 7200},
}
ID_AUD = ["catalog", "profiles", "entitlements", "playback", "live"]
PARTNER_AUD = ["catalog", "entitlements", "playback", "partner-bridge", "live"]

# client id -> issuer, weight, platform
CLIENTS = {
    "tv-tizen": ("id", 0.15, "tv"),
    "tv-webos": ("id", 0.11, "tv"),
    "tv-androidtv": ("id", 0.07, "tv"),
    "stb-streamco": ("id", 0.06, "stb"),
    "mobile-ios": ("id", 0.14, "mobile"),
    "mobile-android": ("id", 0.16, "mobile"),
    "web-player": ("id", 0.12, "web"),
    "hotel-iptv": ("id", 0.015, "stb"),
    "telcoa-stb": ("telcoa", 0.06, "stb"),
    "telcoa-app": ("telcoa", 0.03, "mobile"),
    "paytvb-stb": ("paytvb", 0.04, "stb"),
    "paytvb-go": ("paytvb", 0.02, "mobile"),
}

# api -> (kind, leeway, base replicas, autoscaled replicas, accepted issuers, audience)
APIS = {
    "catalog-api": ("pyjwt", 30, 3, 1, ("id", "telcoa", "paytvb"), "catalog"),
    "profiles-api": ("jose", 120, 2, 0, ("id",), "profiles"),
    "entitlements-api": ("authlib", 60, 2, 1, ("id", "telcoa", "paytvb"), "entitlements"),
    "partner-bridge": ("jwcrypto", 30, 2, 0, ("telcoa", "paytvb"), "partner-bridge"),
    "drm-licence": ("joserfc", 10, 3, 1, ("pb",), "drm"),
    "playback-session": ("verifierset", 60, 3, 2, ("id", "telcoa", "paytvb"), "playback"),
    "cdn-edge": ("verifier", 0, 4, 2, ("pb",), "cdn"),
    "live-events-api": ("verifierset-jwcrypto", 30, 2, 1, ("id", "paytvb"), "live"),
}
#: apps with live start-over: the player's own clock gives the playback token's nbf (minus 30 s)
START_OVER_CLIENTS = {"web-player", "mobile-ios", "mobile-android", "hotel-iptv"}
VERIFIER_APIS = {"playback-session", "cdn-edge", "live-events-api"}  # check typ

# timelines: quiet flag, start, hours, weekend, live events [(offset_h, peak, dur_h, kind)], target sessions
TIMELINES = {
    "quiet-mon": {
        "quiet": True,
        "start": "2026-11-02T00:00:00Z",
        "hours": 24,
        "weekend": False,
        "events": [],
        "sessions": 3700,
    },
    "quiet-fri": {
        "quiet": True,
        "start": "2026-11-06T00:00:00Z",
        "hours": 24,
        "weekend": False,
        "events": [(19.0, 6.0, 2.0, "match")],
        "sessions": 3900,
    },
    "quiet-sat": {
        "quiet": True,
        "start": "2026-11-07T00:00:00Z",
        "hours": 24,
        "weekend": True,
        "events": [(20.0, 5.0, 1.2, "premiere")],
        "sessions": 3900,
    },
    "quiet-sun": {
        "quiet": True,
        "start": "2026-11-08T00:00:00Z",
        "hours": 24,
        "weekend": True,
        "events": [],
        "sessions": 3700,
    },
    "inc-derby": {
        "quiet": False,
        "start": "2026-11-14T10:00:00Z",
        "hours": 12,
        "weekend": True,
        "events": [(9.0, 8.0, 2.0, "match")],
        "sessions": 3400,
    },
    "inc-premiere": {
        "quiet": False,
        "start": "2026-11-20T10:00:00Z",
        "hours": 12,
        "weekend": False,
        "events": [(10.0, 6.0, 1.2, "premiere")],
        "sessions": 3300,
    },
    "inc-weeknight": {
        "quiet": False,
        "start": "2026-11-24T10:00:00Z",
        "hours": 12,
        "weekend": False,
        "events": [],
        "sessions": 3000,
    },
    "inc-final": {
        "quiet": False,
        "start": "2026-11-28T10:00:00Z",
        "hours": 12,
        "weekend": True,
        "events": [(8.5, 10.0, 2.0, "match")],
        "sessions": 3500,
    },
}

# Incidents: start/dur in hours from the timeline's start.
INCIDENTS = [
    # --- inc-derby (live derby at 19:00 UTC = +9 h)
    {
        "id": "derby-kbp-telcoa",
        "timeline": "inc-derby",
        "kind": "kid_before_publish",
        "start": 8.6,
        "dur": 25 / 60,
        "issuer": "telcoa",
        "detail": "telco partner starts signing with a new kid 25 min before publishing it",
    },
    {
        "id": "derby-jwks-id",
        "timeline": "inc-derby",
        "kind": "jwks_outage",
        "start": 8.9,
        "dur": 40 / 60,
        "issuer": "id",
        "mode": "503",
        "detail": "id key set behind a CDN answering 503 for 40 min at kick-off, rolling deploy of playback-session",
    },
    {
        "id": "derby-fw-clock",
        "timeline": "inc-derby",
        "kind": "clock_skew",
        "start": 6.0,
        "dur": 4.0,
        "client": "tv-tizen",
        "group": "fw-2611",
        "mode": "build_date",
        "detail": "Tizen firmware wave 2611.3: clock reset to its build date, no NTP, 401 handler retries same token",
    },
    {
        "id": "derby-drm-replica",
        "timeline": "inc-derby",
        "kind": "server_clock_skew",
        "start": 8.5,
        "dur": 1.5,
        "api": "drm-licence",
        "replica": 2,
        "offset": 240.0,
        "detail": "drm-licence replica 2 clock 4 min ahead (NTP daemon died after host migration)",
    },
    {
        "id": "derby-aud-android",
        "timeline": "inc-derby",
        "kind": "audience_misconfig",
        "start": 8.0,
        "dur": 2.0,
        "client": "mobile-android",
        "frac": 0.2,
        "detail": "mobile-android 9.3 staged rollout (20 %) requests tokens without the playback audience",
    },
    {
        "id": "derby-restream",
        "timeline": "inc-derby",
        "kind": "attack_burst",
        "start": 9.3,
        "dur": 0.5,
        "rate": 40.0,
        "style": "restream",
        "detail": "restreaming ring replays forged playback tokens at the CDN",
    },
    # --- inc-premiere (season premiere at 20:00 UTC = +10 h)
    {
        "id": "prem-kre-paytvb",
        "timeline": "inc-premiere",
        "kind": "key_removed_early",
        "start": 9.0,
        "dur": 0.0,
        "issuer": "paytvb",
        "detail": "pay-TV operator removes its old key 10 min after switching (tokens live 2 h)",
    },
    {
        "id": "prem-sig-pb",
        "timeline": "inc-premiere",
        "kind": "signature_spike",
        "start": 10.1,
        "dur": 20 / 60,
        "issuer": "pb",
        "nodes": 1,
        "detail": "one of three playback signing nodes with stale key material (same kid)",
    },
    {
        "id": "prem-issuer-clock",
        "timeline": "inc-premiere",
        "kind": "server_clock_skew",
        "start": 7.5,
        "dur": 1.0,
        "issuer": "paytvb",
        "offset": 420.0,
        "detail": "pay-TV operator's token service clock 7 min ahead",
    },
    {
        "id": "prem-stall-telcoa",
        "timeline": "inc-premiere",
        "kind": "issuer_stalled",
        "start": 9.5,
        "dur": 1.5,
        "issuer": "telcoa",
        "detail": "telco token endpoint down 90 min over the premiere, key set up",
    },
    {
        "id": "prem-idtok-telcoa",
        "timeline": "inc-premiere",
        "kind": "type_confusion",
        "start": 5.0,
        "dur": 2.5,
        "client": "telcoa-app",
        "apis": ("playback-session", "catalog-api"),
        "detail": "telcoa-app update sends its OIDC ID token as bearer",
    },
    {
        "id": "prem-stuffing",
        "timeline": "inc-premiere",
        "kind": "attack_burst",
        "start": 2.5,
        "dur": 20 / 60,
        "rate": 7.0,
        "style": "stuffing",
        "detail": "small burst of re-signed stolen tokens at playback-session",
    },
    # --- inc-weeknight
    {
        "id": "wk-kre-id",
        "timeline": "inc-weeknight",
        "kind": "key_removed_early",
        "start": 3.0,
        "dur": 0.0,
        "issuer": "id",
        "detail": "id removes the previous key 20 min after the switch (tokens live 1 h)",
    },
    {
        "id": "wk-sig-telcoa",
        "timeline": "inc-weeknight",
        "kind": "signature_spike",
        "start": 8.0,
        "dur": 0.5,
        "issuer": "telcoa",
        "nodes": 3,
        "detail": "telco HSM re-keyed under the same kid, key set not updated",
    },
    {
        "id": "wk-jwks-telcoa",
        "timeline": "inc-weeknight",
        "kind": "jwks_outage",
        "start": 1.5,
        "dur": 25 / 60,
        "issuer": "telcoa",
        "mode": "reset",
        "detail": "telco key set endpoint resets connections (off-peak)",
    },
    {
        "id": "wk-stb-drift",
        "timeline": "inc-weeknight",
        "kind": "clock_skew",
        "start": 5.0,
        "dur": 6.0,
        "client": "telcoa-stb",
        "group": "rtc-b",
        "mode": "drift",
        "offset": -600.0,
        "detail": "telco STB batch whose RTC drifts behind (0 to 10 min), middleware retries the same token",
    },
    {
        "id": "wk-aud-entitlements",
        "timeline": "inc-weeknight",
        "kind": "audience_misconfig",
        "start": 8.7,
        "dur": 35 / 60,
        "api": "entitlements-api",
        "detail": "entitlements-api v4.2 rolled out with audience "
        "'entitlement' replica by replica, rolled back after 35 min",
    },
    {
        "id": "wk-scan-campaign",
        "timeline": "inc-weeknight",
        "kind": "attack_burst",
        "start": 6.0,
        "dur": 0.75,
        "rate": 15.0,
        "style": "scan",
        "detail": "scanner campaign: alg none, kid injection, HS256 with public key",
    },
    # --- inc-final (cup final at 18:30 UTC = +8.5 h)
    {
        "id": "final-kbp-pb",
        "timeline": "inc-final",
        "kind": "kid_before_publish",
        "start": 8.4,
        "dur": 4 / 60,
        "issuer": "pb",
        "detail": "new playback key signs 4 min before the key set publishes it (busy period)",
    },
    {
        "id": "final-jwks-pb",
        "timeline": "inc-final",
        "kind": "jwks_outage",
        "start": 10.0,
        "dur": 0.5,
        "issuer": "pb",
        "mode": "reset",
        "detail": "playback key set resets connections for 30 min",
    },
    {
        "id": "final-hotel-ahead",
        "timeline": "inc-final",
        "kind": "clock_skew",
        "start": 7.5,
        "dur": 2.5,
        "client": "hotel-iptv",
        "group": None,
        "mode": "ahead",
        "offset": 300.0,
        "detail": "hotel chain NTP server 5 min ahead: live playback tokens not yet valid",
    },
    {
        "id": "final-pb-node-clock",
        "timeline": "inc-final",
        "kind": "server_clock_skew",
        "start": 5.0,
        "dur": 0.75,
        "issuer": "pb",
        "offset": -660.0,
        "nodes": 1,
        "detail": "one pb signing node's clock 11 min behind",
    },
    {
        "id": "final-stall-paytvb",
        "timeline": "inc-final",
        "kind": "issuer_stalled",
        "start": 7.8,
        "dur": 1.25,
        "issuer": "paytvb",
        "detail": "pay-TV operator token endpoint down 75 min before the final",
    },
    {
        "id": "final-idtok-web",
        "timeline": "inc-final",
        "kind": "type_confusion",
        "start": 8.2,
        "dur": 0.75,
        "client": "web-player",
        "apis": ("live-events-api",),
        "detail": "web-player feature flag sends the ID token to live-events",
    },
]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _compact(header: dict, payload: dict, sig: bytes | None = None, key: bytes | None = None) -> str:
    h = _b64(json.dumps(header, separators=(",", ":")).encode())
    p = _b64(json.dumps(payload, separators=(",", ":")).encode())
    if key is not None:
        sig = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{_b64(sig or b'')}"


# ---------------------------------------------------------------------------------------------------- keys
@dataclass
class Key:
    kid: str
    priv: object
    jwk: dict
    publish: float
    unpublish: float
    sign_from: float
    sign_to: float
    pem_pub: bytes = b""


def _new_key(alg: str, kid: str, publish: float, unpublish: float, sign_from: float, sign_to: float) -> Key:
    if alg == "RS256":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(priv.public_key(), as_dict=True)
    else:
        priv = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(priv.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig", "alg": alg})
    pem = priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key(kid, priv, jwk, publish, unpublish, sign_from, sign_to, pem)


@dataclass
class Tok:
    s: str
    issuer: str
    kid: str
    iat: float
    nbf: float
    exp: float
    aud: tuple
    typ: str
    client: str
    tags: frozenset
    got: float  # true time the device received it


@dataclass
class Device:
    did: int
    client: str
    issuer: str
    platform: str
    region: int
    off: float
    drift: float  # s per hour
    naive: bool
    lazy: bool
    on401: bool
    bad_boot: bool
    group: str | None
    weight: float
    busy_until: float = 0.0
    tok: Tok | None = None
    idtok: Tok | None = None
    overrides: list = field(default_factory=list)  # (start, end, mode, value, tag)

    def clock(self, t: float, t0: float) -> float:
        c = t + self.off + self.drift * (t - t0) / H
        for s, e, mode, val, _tag in self.overrides:
            if s <= t < e:
                if mode == "build_date":
                    return val + (t - s)
                if mode == "drift":
                    c += val * (t - s) / (e - s)
                else:
                    c += val
        return c

    def skew_tags(self, t: float) -> tuple:
        return tuple(tag for s, e, _m, _v, tag in self.overrides if tag and s <= t < e + 900)


def _diurnal(h: float) -> float:
    pts = [
        (0, 0.35),
        (2, 0.12),
        (5, 0.06),
        (7, 0.2),
        (9, 0.3),
        (12, 0.45),
        (15, 0.5),
        (17, 0.7),
        (19, 1.2),
        (20.5, 1.6),
        (22, 1.3),
        (23, 0.8),
        (24, 0.35),
    ]
    h %= 24
    for (a, va), (b, vb) in itertools.pairwise(pts):
        if a <= h <= b:
            return va + (vb - va) * (h - a) / (b - a)
    return 0.35


REGIONS = [(1.0, 0.65), (-5.0, 0.35)]


# ---------------------------------------------------------------------------------------------------- planner
class Planner:
    """Builds one timeline: keys, devices, sessions -> per-replica request lists with incident tags."""

    def __init__(self, name: str, seed: int, scale: float):
        self.name = name
        self.cfg = TIMELINES[name]
        self.rng = random.Random(seed)
        self.seed = seed
        self.scale = scale
        self.t0 = _parse(self.cfg["start"])
        self.t1 = self.t0 + self.cfg["hours"] * H
        self.incs = [dict(i) for i in INCIDENTS if i["timeline"] == name]
        for i in self.incs:
            i["t_start"] = self.t0 + i["start"] * H
            i["t_end"] = i["t_start"] + i["dur"] * H
        self.reqs: dict[tuple[str, int], list] = {}
        self.keys: dict[str, list[Key]] = {}
        self.alt: dict[str, list] = {}  # signature spike: (start, end, nodes, Key material)
        self.iss_skew: dict[str, list] = {}  # (start, end, offset, nodes, tag)
        self.jwks_down: dict[str, list] = {k: [] for k in ISSUERS}
        self.stalls: dict[str, list] = {k: [] for k in ISSUERS}
        self.restarts: dict[tuple[str, int], list] = {}
        self.replica_skew: dict[tuple[str, int], list] = {}
        self.window_tags: list = []  # (issuer|None, api|None, replica|None, start, end, tag)
        self.aud_deploy: dict[tuple[str, int], list] = {}  # (start, end, wrong audience)
        self.minted = 0
        self.attacker = ec.generate_private_key(ec.SECP256R1())
        self.n_sessions = 0

    # ------------------------------------------------------------ setup
    def setup_keys(self) -> None:
        far = self.t1 + 30 * 24 * H
        for slug, info in ISSUERS.items():
            alg = info["alg"]
            a = _new_key(alg, f"{slug}-2026a", self.t0 - 90 * 24 * H, far, self.t0 - 60 * 24 * H, far)
            self.keys[slug] = [a]
        # retired kid, for scanners' years-old tokens
        self.retired = _new_key("ES256", "id-2023", 0, 0, 0, 0)
        # healthy rotations (background)
        healthy = {
            "quiet-fri": ("id", 6.0),
            "quiet-sun": ("telcoa", 9.0),
            "inc-weeknight": ("pb", 4.5),
            "quiet-mon": ("pb", 14.0),
        }
        if self.name in healthy:
            slug, at = healthy[self.name]
            self._rotate(slug, self.t0 + at * H, overlap=2 * H, keep=ISSUERS[slug]["ttl"] + 2 * H)
        for inc in self.incs:
            k, slug = inc["kind"], inc.get("issuer")
            if k == "kid_before_publish":
                new = self._rotate(slug, inc["t_start"], overlap=0.0, keep=ISSUERS[slug]["ttl"] + 2 * H)
                new.publish = inc["t_end"]
                inc["kid"] = new.kid
            elif k == "key_removed_early":
                ttl = ISSUERS[slug]["ttl"]
                switch = inc["t_start"] - (10 * M if slug == "paytvb" else 20 * M)
                pub = switch - 2 * H
                old = self.keys[slug][-1]
                new = _new_key(
                    ISSUERS[slug]["alg"], f"{slug}-2026b", pub, self.t1 + 30 * 24 * H, switch, self.t1 + 30 * 24 * H
                )
                old.sign_to = switch
                old.unpublish = inc["t_start"]
                self.keys[slug].append(new)
                inc["kid"] = old.kid
                inc["_ttl"] = ttl
            elif k == "signature_spike":
                cur = self.keys[slug][-1]
                alt = _new_key(ISSUERS[slug]["alg"], cur.kid, 0, 0, 0, 0)
                self.alt.setdefault(slug, []).append(
                    (inc["t_start"], inc["t_end"], inc.get("nodes", 3), alt, inc["id"])
                )
                inc["kid"] = cur.kid
            elif k == "jwks_outage":
                self.jwks_down[slug].append((inc["t_start"], inc["t_end"], inc["mode"]))
                self.window_tags.append((slug, None, None, inc["t_start"], inc["t_end"] + 600, inc["id"]))
            elif k == "server_clock_skew" and slug:
                self.iss_skew.setdefault(slug, []).append(
                    (inc["t_start"], inc["t_end"], inc["offset"], inc.get("nodes", 3), inc["id"])
                )
            elif k == "issuer_stalled":
                self.stalls[slug].append((inc["t_start"], inc["t_end"]))
                self.window_tags.append((slug, None, None, inc["t_start"], inc["t_end"] + 900, inc["id"]))
        # JWKS blips (background): 2-4 per timeline, 20-60 s
        for _ in range(self.rng.randint(2, 4)):
            slug = self.rng.choice(list(ISSUERS))
            s = self.t0 + self.rng.uniform(0.5, self.cfg["hours"] - 0.5) * H
            self.jwks_down[slug].append((s, s + self.rng.uniform(20, 60), self.rng.choice(["503", "reset"])))

    def _rotate(self, slug: str, at: float, overlap: float, keep: float) -> Key:
        old = self.keys[slug][-1]
        suffix = "bcdefg"[len(self.keys[slug]) - 1]
        new = _new_key(
            ISSUERS[slug]["alg"], f"{slug}-2026{suffix}", at - overlap, self.t1 + 30 * 24 * H, at, self.t1 + 30 * 24 * H
        )
        old.sign_to = at
        old.unpublish = at + keep
        self.keys[slug].append(new)
        return new

    def setup_fleet(self) -> None:
        rng = self.rng
        self.replicas: dict[str, int] = {}
        for api, (_k, _l, base, extra, _i, _a) in APIS.items():
            n = base + extra
            self.replicas[api] = n
            for r in range(n):
                self.reqs[(api, r)] = []
                self.restarts[(api, r)] = []
                self.replica_skew[(api, r)] = []
                self.aud_deploy[(api, r)] = []
            # rare crash of one replica
            if rng.random() < 0.5:
                r = rng.randrange(base)
                self.restarts[(api, r)].append(self.t0 + rng.uniform(1, self.cfg["hours"] - 1) * H)
        # rolling deploys: two APIs per timeline, replicas restarting 3 min apart
        deploys = rng.sample(sorted(APIS), 2)
        for api in deploys:
            at = self.t0 + rng.uniform(2, self.cfg["hours"] - 2) * H
            for r in range(APIS[api][2]):
                self.restarts[(api, r)].append(at + r * 180)
        for inc in self.incs:
            if inc["id"] == "derby-jwks-id":  # a deploy during the outage
                for r in range(APIS["playback-session"][2]):
                    self.restarts[("playback-session", r)].append(inc["t_start"] + 12 * M + r * 240)
                for r in range(APIS["catalog-api"][2]):
                    self.restarts[("catalog-api", r)].append(inc["t_start"] + 20 * M + r * 200)
            if inc["kind"] == "server_clock_skew" and inc.get("api"):
                key = (inc["api"], inc["replica"])
                self.replica_skew[key].append((inc["t_start"], inc["t_end"], inc["offset"]))
                self.window_tags.append((None, inc["api"], inc["replica"], inc["t_start"], inc["t_end"], inc["id"]))
            if inc["kind"] == "audience_misconfig" and inc.get("api"):
                api = inc["api"]
                for r in range(self.replicas[api]):
                    s = inc["t_start"] + r * 150
                    self.aud_deploy[(api, r)].append((s, inc["t_end"], "entitlement"))
                    self.restarts[(api, r)].extend([s, inc["t_end"]])
                    self.window_tags.append((None, api, r, s, inc["t_end"], inc["id"]))
        for k in self.restarts:
            self.restarts[k].sort()
        # devices
        self.devices: dict[str, list[Device]] = {}
        n_dev = int(2600 * max(self.scale, 0.05))
        did = 0
        for cid, (slug, w, plat) in CLIENTS.items():
            lst = []
            for _ in range(max(8, int(n_dev * w))):
                off = rng.gauss(0, 1.5)
                drift = 0.0
                if plat in ("tv", "stb"):
                    u = rng.random()
                    if u < 0.06:
                        off = rng.choice([-1, 1]) * rng.uniform(30, 600)
                    elif u < 0.12:
                        drift = rng.uniform(-6, 6)
                    off += rng.gauss(0, 4)
                elif rng.random() < 0.01:
                    off = rng.uniform(-300, 300)
                lazy_p = {"tv": 0.15, "stb": 0.2, "mobile": 0.05, "web": 0.15}[plat]
                if slug != "id":
                    lazy_p += 0.08
                group = None
                if cid == "tv-tizen" and rng.random() < 0.25:
                    group = "fw-2611"
                if cid == "telcoa-stb" and rng.random() < 0.35:
                    group = "rtc-b"
                d = Device(
                    did,
                    cid,
                    slug,
                    plat,
                    0 if rng.random() < 0.65 else 1,
                    off,
                    drift,
                    plat in ("tv", "stb"),
                    rng.random() < lazy_p,
                    rng.random() > 0.02,
                    plat == "stb" and rng.random() < 0.3,
                    group,
                    rng.paretovariate(1.6),
                )
                did += 1
                lst.append(d)
            self.devices[cid] = lst
        for inc in self.incs:
            if inc["kind"] == "clock_skew":
                for d in self.devices[inc["client"]]:
                    if inc["group"] is None or d.group == inc["group"]:
                        if inc["mode"] == "build_date":
                            d.overrides.append(
                                (inc["t_start"], inc["t_end"], "build_date", _parse("2025-03-01T00:00:00Z"), inc["id"])
                            )
                        else:
                            d.overrides.append((inc["t_start"], inc["t_end"], inc["mode"], inc["offset"], inc["id"]))
        # initial tokens: TVs on standby for days, phones from earlier today
        for lst in self.devices.values():
            for d in lst:
                if rng.random() < 0.7:
                    age = (
                        rng.uniform(1, 21 * 24)
                        if d.platform in ("tv", "stb") and rng.random() < 0.4
                        else rng.uniform(0.1, 10)
                    ) * H
                    d.tok = self.mint(d, self.t0 - age, initial=True)

    # ------------------------------------------------------------ minting
    def _signing(self, slug: str, t: float, node: int) -> tuple[Key, object, tuple]:
        ks = self.keys[slug]
        key = ks[0]
        for k in ks:
            if k.sign_from <= t < k.sign_to:
                key = k
        material, tags = key.priv, ()
        for s, e, nodes, alt, tag in self.alt.get(slug, []):
            if s <= t < e and node < nodes and alt.kid == key.kid:
                material, tags = alt.priv, (tag,)
        return key, material, tags

    def issuer_now(self, slug: str, t: float, node: int) -> tuple[float, tuple]:
        for s, e, off, nodes, tag in self.iss_skew.get(slug, []):
            if s <= t < e and node < nodes:
                return t + off, (tag,)
        return t, ()

    def stalled(self, slug: str, t: float) -> bool:
        return any(s <= t < e for s, e in self.stalls[slug])

    def mint(
        self,
        d: Device,
        t: float,
        *,
        kind: str = "access",
        initial: bool = False,
        nbf_client: float | None = None,
        aud: list | None = None,
        extra_tags: tuple = (),
    ) -> Tok:
        slug = "pb" if kind == "playback" else d.issuer
        info = ISSUERS[slug]
        node = self.rng.randrange(3)
        now, tags = self.issuer_now(slug, t, node) if not initial else (t, ())
        key, material, stags = self._signing(slug, t, node)
        tags = tags + stags + extra_tags
        for inc in self.incs:
            if inc["kind"] == "kid_before_publish" and inc.get("kid") == key.kid and t < inc["t_end"]:
                tags += (inc["id"],)
            if inc["kind"] == "key_removed_early" and inc.get("kid") == key.kid and now + info["ttl"] > inc["t_start"]:
                tags += (inc["id"],)
        iat = int(now)
        exp = iat + info["ttl"]
        nbf = iat
        typ = "at+jwt"
        if kind == "playback":
            if nbf_client is not None:
                nbf = int(min(nbf_client - 30, iat + 600)) if nbf_client - 30 > iat else iat
            aud_v = ["cdn", "drm"]
        elif kind == "id":
            typ = "JWT"
            aud_v = d.client
        else:
            aud_v = aud or (ID_AUD if slug == "id" else PARTNER_AUD)
        payload = {
            "iss": info["iss"],
            "sub": f"acct-{d.did // 3}",
            "aud": aud_v,
            "iat": iat,
            "nbf": nbf,
            "exp": exp,
            "jti": f"{self.seed:x}-{self.minted:x}",
        }
        if kind == "id":
            payload.update({"azp": d.client, "nonce": f"n{self.minted}", "auth_time": iat - 5})
        else:
            payload["client_id"] = d.client
            if kind == "playback":
                payload.update({"sid": f"s{self.minted}", "ent": "hd"})
            else:
                payload["scope"] = "openid profile playback"
        self.minted += 1
        s = jwt.encode(payload, material, algorithm=info["alg"], headers={"kid": key.kid, "typ": typ})
        aud_t = tuple(aud_v) if isinstance(aud_v, list) else (aud_v,)
        return Tok(s, slug, key.kid, iat, nbf, exp, aud_t, typ, d.client, frozenset(tags), t)

    # ------------------------------------------------------------ traffic
    def rate_shape(self, t: float) -> float:
        h = (t - self.t0) / H + int(self.cfg["start"][11:13])
        wk = 1.2 if self.cfg["weekend"] else 1.0
        base = sum(w * _diurnal(h + tz) for tz, w in REGIONS) * wk
        return base * self.live_mult(t)

    def live_mult(self, t: float) -> float:
        m = 1.0
        for off, peak, dur, _k in self.cfg["events"]:
            s = self.t0 + off * H - 10 * M
            if s <= t < s + 8 * M:
                m = max(m, 1 + (peak - 1) * (t - s) / (8 * M))
            elif s + 8 * M <= t < s + dur * H:
                m = max(m, peak * (1.0 if t < s + 30 * M else 0.6))
            elif s + dur * H <= t < s + dur * H + 15 * M:
                m = max(m, 1 + (peak * 0.6 - 1) * (1 - (t - s - dur * H) / (15 * M)))
        return m

    def live_end(self, t: float) -> float | None:
        for off, _peak, dur, _k in self.cfg["events"]:
            s = self.t0 + off * H - 10 * M
            if s <= t < s + dur * H:
                return s + dur * H + self.rng.uniform(0, 15 * M)
        return None

    def active_replicas(self, api: str, t: float) -> int:
        base, extra = APIS[api][2], APIS[api][3]
        return base + extra if self.live_mult(t) > 2.5 or self.rate_shape(t) > 2.2 else base

    def route(self, d: Device, api: str, t: float) -> int:
        n = self.active_replicas(api, t)
        return (d.did * 7 + int(t // 900)) % n if api == "cdn-edge" else self.rng.randrange(n)

    def win_tags(self, slug: str | None, api: str, rep: int, t: float) -> tuple:
        out = ()
        for iss, a, r, s, e, tag in self.window_tags:
            if s <= t < e and (iss is None or iss == slug) and (a is None or a == api) and (r is None or r == rep):
                out += (tag,)
        return out

    def predicted_reject(self, api: str, tok: Tok, t: float, rep: int) -> bool:
        _kind, leeway, _b, _e, issuers, aud = APIS[api]
        if tok.issuer not in issuers:
            return True
        wrong = [w for s, e, w in self.aud_deploy[(api, rep)] if s <= t < e]
        want = wrong[0] if wrong else aud
        if want not in tok.aud:
            return True
        if api in VERIFIER_APIS and tok.typ != "at+jwt":
            return True
        skew = sum(o for s, e, o in self.replica_skew[(api, rep)] if s <= t < e)
        now = t + skew
        if now > tok.exp + leeway or tok.nbf > now + leeway:
            return True
        for tag in tok.tags:
            w = self.key_windows.get(tag)
            if w is not None and w[0] <= t < w[1]:
                return True
        return False

    def send(self, d: Device, api: str, t: float, tok: Tok) -> bool:
        """One request; returns True when predicted accepted."""
        if t >= self.t1 or t < self.t0:
            return True
        rep = self.route(d, api, t)
        tags = tuple(tok.tags) if t <= tok.exp + 900 else ()
        tags += self.win_tags(tok.issuer, api, rep, t) + d.skew_tags(t)
        self.reqs[(api, rep)].append((t, tok.s, tags))
        return not self.predicted_reject(api, tok, t, rep)

    def believes_fresh(self, d: Device, tok: Tok, t: float, margin: float) -> bool:
        if d.naive:
            return d.clock(t, self.t0) < tok.exp - margin
        return t - tok.got < (tok.exp - tok.iat) - margin

    def ensure_access(self, d: Device, t: float) -> None:
        if d.tok is not None and (d.lazy or self.believes_fresh(d, d.tok, t, 60)):
            return
        self.refresh(d, t)

    def refresh(self, d: Device, t: float) -> bool:
        if self.stalled(d.issuer, t):
            return False
        aud = None
        for inc in self.incs:
            if (
                inc["kind"] == "audience_misconfig"
                and inc.get("client") == d.client
                and inc["t_start"] <= t < inc["t_end"]
                and (d.did % 100) < inc["frac"] * 100
            ):
                aud = [a for a in ID_AUD if a != "playback"]
                d.tok = self.mint(d, t, aud=aud, extra_tags=(inc["id"],))
                return True
        d.tok = self.mint(d, t)
        return True

    def call(self, d: Device, api: str, t: float, kind: str = "access") -> tuple[bool, float]:
        """A call with the device's access token, retrying after a 401 the way the device does."""
        tok = d.tok
        for inc in self.incs:
            if (
                inc["kind"] == "type_confusion"
                and inc["client"] == d.client
                and api in inc["apis"]
                and inc["t_start"] <= t < inc["t_end"]
            ):
                if d.idtok is None or d.idtok.exp < t + 60 or inc["id"] not in d.idtok.tags:
                    if self.stalled(d.issuer, t):
                        break
                    d.idtok = self.mint(d, t, kind="id", extra_tags=(inc["id"],))
                tok = d.idtok
        if tok is None:
            return False, t
        ok = self.send(d, api, t, tok)
        tries = 0
        while not ok and tries < 3:
            tries += 1
            t += self.rng.uniform(0.5, 2.0) if tries == 1 else self.rng.uniform(4, 20)
            if d.on401 and tok is d.tok and not (d.overrides and d.skew_tags(t)):
                self.refresh(d, t)
                tok = d.tok
            ok = self.send(d, api, t, tok)
        return ok, t

    def session(self, d: Device, t: float) -> None:
        rng = self.rng
        live_end = self.live_end(t)
        live = live_end is not None and rng.random() < 0.75
        dur = (live_end - t) if live else min(3 * H, rng.lognormvariate(math.log(22 * M), 0.9))
        end = min(t + max(dur, 2 * M), self.t1)
        d.busy_until = end + 60
        if d.bad_boot and rng.random() < 0.5:  # booted on its build date until NTP answers
            d.overrides = [o for o in d.overrides if o[4] is not None]
            d.overrides.append((t, t + rng.uniform(20, 120), "build_date", _parse("2024-06-01T00:00:00Z"), None))
        self.ensure_access(d, t)
        if d.tok is None:
            return
        if d.lazy and d.tok.exp + 30 < t:
            # app start fires its first calls in parallel with what it holds, then refreshes after the 401s
            first = ["catalog-api"] * rng.randint(1, 3) + [
                "profiles-api" if d.issuer == "id" else "partner-bridge",
                "entitlements-api",
            ]
            for api in first:
                self.send(d, api, t + rng.uniform(0, 0.8), d.tok)
            t += rng.uniform(1.0, 2.5)
            for _ in range(rng.choice([0, 0, 1, 2])):  # retry middleware: same token again
                self.send(d, "catalog-api", t, d.tok)
                t += rng.uniform(1, 4)
            self.refresh(d, t)
            t += 0.5
        for _ in range(rng.randint(1, 4)):
            ok, t = self.call(d, "catalog-api", t + rng.uniform(0.2, 3))
            if not ok:
                return
        if d.issuer == "id":
            self.call(d, "profiles-api", t + rng.uniform(0.2, 2))
        else:
            self.call(d, "partner-bridge", t + rng.uniform(0.2, 2))
        self.call(d, "entitlements-api", t + rng.uniform(0.2, 2))
        if live and d.issuer in APIS["live-events-api"][4]:
            for _ in range(rng.randint(1, 2)):
                self.call(d, "live-events-api", t + rng.uniform(0.5, 5))
        # stream
        pbt = None
        t += rng.uniform(1, 4)
        next_drm = t
        next_hb = t
        fails = 0
        while t < end and fails < 4:
            if pbt is None or t >= next_hb or not self.believes_fresh(d, pbt, t, 120):
                self.ensure_access(d, t)
                ok, t = self.call(d, "playback-session", t)
                if not ok:
                    return
                nbf_c = d.clock(t, self.t0) if live and d.client in START_OVER_CLIENTS else None
                pbt = self.mint(d, t + 0.2, kind="playback", nbf_client=nbf_c)
                next_hb = t + 8 * M
            t += rng.uniform(0.3, 1.5)
            if t >= next_drm:
                ok = self.send(d, "drm-licence", t, pbt)
                if not ok:
                    pbt = None
                    fails += 1
                    t += rng.uniform(2, 8)
                    continue
                next_drm = t + rng.uniform(12, 20) * M
            ok = self.send(d, "cdn-edge", t, pbt)
            if not ok:
                pbt = None  # player asks for a new playback token
                fails += 1
                t += rng.uniform(1, 5)
                continue
            fails = 0
            t += rng.uniform(60, 150)
        d.busy_until = t + 30

    # ------------------------------------------------------------ garbage
    def garbage(self, t: float, style: str, tag: tuple) -> None:
        rng = self.rng
        real = self._signing("id", t, 0)[0]  # the kid scanners copy from tokens they saw
        now = int(t)
        base = {
            "iss": ISSUERS["id"]["iss"],
            "sub": f"acct-{rng.randrange(99999)}",
            "aud": ID_AUD,
            "iat": now,
            "exp": now + 3600,
            "client_id": rng.choice(list(CLIENTS)),
        }
        choice = (
            style
            if style in ("restream", "stuffing")
            else rng.choice(["none", "randkid", "nocid", "tamper", "trunc", "huge", "hs256", "old", "inject"])
        )
        if style == "restream":
            d = rng.choice(self.devices["mobile-android"])
            pb = self.mint(d, t - rng.uniform(0, 3000), kind="playback")
            h, p, sg = pb.s.split(".")
            claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            claims["exp"] = now + 86400
            claims["sid"] = f"x{rng.randrange(10**6)}"
            tok = f"{h}.{_b64(json.dumps(claims).encode())}.{sg}"
            api = "cdn-edge"
        elif choice == "stuffing":
            d = rng.choice(self.devices["web-player"])
            base.update({"client_id": d.client, "exp": now + 3000})
            tok = jwt.encode(
                base,
                self.attacker,
                algorithm="ES256",
                headers={"kid": f"id-2026{rng.choice('abcxyz')}", "typ": "at+jwt"},
            )
            api = "playback-session"
        else:
            api = rng.choice(["catalog-api", "playback-session", "cdn-edge", "live-events-api"])
            hdr = {"alg": "ES256", "typ": "at+jwt", "kid": real.kid}
            if choice == "none":
                tok = _compact({"alg": "none", "typ": "JWT"}, base)
            elif choice == "randkid":
                tok = jwt.encode(base, self.attacker, algorithm="ES256", headers={"kid": rng.randbytes(6).hex()})
            elif choice == "nocid":
                b = dict(base)
                b.pop("client_id")
                tok = jwt.encode(b, self.attacker, algorithm="ES256", headers={"typ": "JWT", "kid": real.kid})
            elif choice == "tamper":
                d = rng.choice(self.devices["web-player"])
                src = d.tok.s if d.tok else self.mint(d, t).s
                h, p, sg = src.split(".")
                tok = f"{h}.{p[:-4]}{'AAAA' if p[-4:] != 'AAAA' else 'BBBB'}.{sg}"
            elif choice == "trunc":
                tok = jwt.encode(base, self.attacker, algorithm="ES256", headers=hdr)[: rng.randint(20, 120)]
            elif choice == "huge":
                b = dict(base, pad="A" * rng.randint(9000, 70000))
                tok = _compact(hdr, b, sig=rng.randbytes(64))
            elif choice == "hs256":
                tok = _compact({"alg": "HS256", "typ": "at+jwt", "kid": real.kid}, base, key=real.pem_pub)
            elif choice == "old":
                b = dict(base, iat=1546300800, exp=1546304400)
                tok = jwt.encode(b, self.retired.priv, algorithm="ES256", headers={"kid": "id-2019", "typ": "at+jwt"})
            else:  # kid injection
                inj = rng.choice(["../../../../dev/null", "' OR 1=1 --", "|cat /etc/passwd", "x" * 300])
                tok = _compact({"alg": "HS256", "typ": "at+jwt", "kid": inj}, base, key=b"")
        n = self.active_replicas(api, t)
        rep = rng.randrange(n)
        self.reqs[(api, rep)].append((t, tok, tag))

    # ------------------------------------------------------------ build
    def build(self) -> None:
        rng = self.rng
        self.setup_keys()
        self.setup_fleet()
        # when a kid-tagged token is expected to fail (the planner's guess; jwtobs decides)
        self.key_windows = {}
        for i in self.incs:
            if i["kind"] == "kid_before_publish":
                self.key_windows[i["id"]] = (i["t_start"], i["t_end"])
            elif i["kind"] == "key_removed_early":
                self.key_windows[i["id"]] = (i["t_start"] + 300, self.t1)
            elif i["kind"] == "signature_spike":
                self.key_windows[i["id"]] = (i["t_start"], self.t1)
        # session arrivals, minute by minute
        minutes = int(self.cfg["hours"] * 60)
        shape = [self.rate_shape(self.t0 + m * M + 30) for m in range(minutes)]
        k = self.cfg["sessions"] * self.scale / sum(shape)
        starts = []
        for m in range(minutes):
            lam = shape[m] * k
            n = min(10_000, _poisson(rng, lam))
            starts.extend(self.t0 + m * M + rng.uniform(0, M) for _ in range(n))
        starts.sort()
        cids = list(CLIENTS)
        cw = [CLIENTS[c][1] for c in cids]
        cum = {c: _cum([d.weight for d in self.devices[c]]) for c in cids}
        for t in starts:
            cid = rng.choices(cids, cw)[0]
            lst = self.devices[cid]
            for _ in range(6):
                i = bisect.bisect_left(cum[cid], rng.random() * cum[cid][-1])
                d = lst[min(i, len(lst) - 1)]
                if d.busy_until <= t:
                    self.n_sessions += 1
                    self.session(d, t)
                    break
        # scanners: 1-3 per minute, Poisson
        for m in range(minutes):
            lam = min(1.0, self.scale) * rng.uniform(0.9, 1.5)
            for _ in range(_poisson(rng, lam)):
                self.garbage(self.t0 + m * M + rng.uniform(0, M), "scan", ())
        for inc in self.incs:
            if inc["kind"] == "attack_burst":
                mins = int(inc["dur"] * 60)
                for m in range(mins):
                    for _ in range(_poisson(rng, inc["rate"])):
                        self.garbage(inc["t_start"] + m * M + rng.uniform(0, M), inc["style"], (inc["id"],))
        for key in self.reqs:
            self.reqs[key].sort(key=lambda r: r[0])
        # published keys, served by the worker's http server
        self.jwks_plan = {slug: [(k.publish, k.unpublish, k.jwk) for k in ks] for slug, ks in self.keys.items()}

    def export(self) -> dict:
        return {
            "name": self.name,
            "t0": self.t0,
            "t1": self.t1,
            "reqs": self.reqs,
            "restarts": self.restarts,
            "replica_skew": self.replica_skew,
            "aud_deploy": self.aud_deploy,
            "jwks": self.jwks_plan,
            "jwks_down": self.jwks_down,
        }


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, 1.0
    while k < 1000:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
    return k


def _cum(ws: list[float]) -> list[float]:
    out, s = [], 0.0
    for w in ws:
        s += w
        out.append(s)
    return out


# ---------------------------------------------------------------------------------------------------- worker
PLANS: dict[str, dict] = {}
CUR = [0.0]
OUT = [""]


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    plan: typing.ClassVar[dict] = {}

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:
        slug = self.path.strip("/").split("/")[0]
        t = CUR[0]
        for s, e, mode in self.plan["jwks_down"].get(slug, []):
            if s <= t < e:
                if mode == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                body = b"<html>503 Service Unavailable</html>"
                self.send_response(503)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        keys = [jwk for pub, unpub, jwk in self.plan["jwks"].get(slug, []) if pub <= t < unpub]
        body = json.dumps({"keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _patch_pyjwt_clock() -> None:
    """PyJWKClient's cache uses time.monotonic, which time_machine does not move: use the simulated wall clock."""
    import types

    import jwt.jwk_set_cache
    import jwt.jwks_client

    shim = types.SimpleNamespace(monotonic=lambda: time.time(), time=lambda: time.time())
    jwt.jwk_set_cache.time = shim
    jwt.jwks_client.time = shim


def _build_validator(api: str, base: str, wrong_aud: str | None):
    import jwtobs

    kind, leeway, _b, _e, issuers, aud = APIS[api]
    aud = wrong_aud or aud
    urls = {slug: f"{base}/{slug}/jwks.json" for slug in issuers}
    by_iss = {ISSUERS[s]["iss"]: s for s in issuers}
    algs = sorted({ISSUERS[s]["alg"] for s in issuers})

    if kind in ("verifier", "verifierset", "verifierset-jwcrypto"):
        backend = {"verifier": "joserfc", "verifierset": "pyjwt", "verifierset-jwcrypto": "jwcrypto"}[kind]
        vs = []
        for slug in issuers:
            prof = jwtobs.Profile(
                name=api,
                issuer=ISSUERS[slug]["iss"],
                audience=aud,
                algorithms=(ISSUERS[slug]["alg"],),
                token_type="at+jwt",
                leeway=leeway,
                required_claims=("iss", "sub", "aud", "exp"),
            )
            src = jwtobs.JwksSource(
                urls[slug], timeout=2.0, cooldown=30.0, clock=time.time, max_stale=1200 if api == "cdn-edge" else 86400
            )
            vs.append(jwtobs.Verifier(prof, keys=src, backend=backend))
        v = vs[0] if len(vs) == 1 else jwtobs.VerifierSet(vs)
        return v.verify

    clients = {slug: jwt.PyJWKClient(urls[slug], lifespan=300, timeout=2) for slug in issuers}
    first = issuers[0]
    forced: dict[str, float] = {}

    def slug_of(token: str) -> str:
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except Exception:
            iss = None
        return by_iss.get(iss, first) if isinstance(iss, str) else first

    if kind == "pyjwt":  # the PyJWT app: PyJWKClient picks the key by kid

        def app(token: str):
            slug = slug_of(token)
            try:
                jwt.get_unverified_header(token)
            except Exception:
                key = ""
            else:
                key = clients[slug].get_signing_key_from_jwt(token).key
            return jwt.decode(
                token,
                key,
                algorithms=algs,
                audience=aud,
                issuer=ISSUERS[slug]["iss"],
                leeway=leeway,
                options={"require": ["exp", "iss", "aud"]},
            )

        return jwtobs.wrap(app, library="pyjwt", profile=api)

    def key_set(token: str) -> tuple[str, dict]:
        """The other apps: the whole key set (PyJWKClient as the fetcher, cached 300 s), refreshed at most every
        30 s when the token names a kid it lacks; the app's own library then selects the key."""
        slug = slug_of(token)
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except Exception:
            kid = None
        ks = clients[slug].get_jwk_set()
        if (
            isinstance(kid, str)
            and all(k.key_id != kid for k in ks.keys)
            and time.time() - forced.get(slug, -1e18) >= 30
        ):
            forced[slug] = time.time()
            ks = clients[slug].get_jwk_set(refresh=True)
        return slug, {"keys": [k._jwk_data for k in ks.keys]}

    if kind == "jose":
        from jose import jwt as jose_jwt

        def app(token: str):
            slug, jwks = key_set(token)
            return jose_jwt.decode(
                token, jwks, algorithms=algs, audience=aud, issuer=ISSUERS[slug]["iss"], options={"leeway": leeway}
            )

        return jwtobs.wrap(app, library="jose", profile=api)

    if kind == "authlib":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey
            from authlib.jose import jwt as authlib_jwt

        def app(token: str):
            slug, jwks = key_set(token)
            claims = authlib_jwt.decode(
                token,
                JsonWebKey.import_key_set(jwks),
                claims_options={
                    "iss": {"essential": True, "value": ISSUERS[slug]["iss"]},
                    "aud": {"essential": True, "value": aud},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=leeway)
            return claims

        return jwtobs.wrap(app, library="authlib", profile=api)

    if kind == "joserfc":
        from joserfc import jwt as jrfc_jwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        def app(token: str):
            slug, jwks = key_set(token)
            tok = jrfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=algs)
            JWTClaimsRegistry(
                leeway=leeway,
                iss={"essential": True, "value": ISSUERS[slug]["iss"]},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            ).validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(app, library="joserfc", profile=api)

    if kind == "jwcrypto":
        from jwcrypto import jwk as jc_jwk
        from jwcrypto import jwt as jc_jwt

        def app(token: str):
            slug, jwks = key_set(token)
            t = jc_jwt.JWT(
                check_claims={"iss": ISSUERS[slug]["iss"], "aud": aud, "exp": None}, expected_type="JWS", algs=algs
            )
            t.leeway = leeway
            t.deserialize(token, jc_jwk.JWKSet.from_json(json.dumps(jwks)))
            return json.loads(t.claims)

        return jwtobs.wrap(app, library="jwcrypto", profile=api)

    raise ValueError(kind)


def _run_replica(task: tuple[str, str, int]) -> tuple[str, str, int, int, float]:
    import time_machine

    import jwtobs

    tl, api, rep = task
    plan = PLANS[tl]
    reqs = plan["reqs"][(api, rep)]
    path = os.path.join(OUT[0], tl, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    w0 = time.perf_counter()
    if not reqs:
        open(path, "w").close()
        return tl, api, rep, 0, 0.0
    warnings.simplefilter("ignore")
    _patch_pyjwt_clock()
    handler = type("H", (_JwksHandler,), {"plan": plan})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{server.server_port}"
    jwtobs.configure(
        events_path=path,
        service=api,
        fingerprint_key=b"fleet64-fingerprint-key-0123456789",
        defer=False,
        from_env=False,
    )
    traveller = time_machine.travel(reqs[0][0], tick=False)
    coords = traveller.start()
    restarts = list(plan["restarts"][(api, rep)])
    skew = plan["replica_skew"][(api, rep)]
    deploys = plan["aud_deploy"][(api, rep)]

    def wrong_at(t: float) -> str | None:
        for s, e, w in deploys:
            if s <= t < e:
                return w
        return None

    try:
        ri = 0
        while ri < len(restarts) and restarts[ri] <= reqs[0][0]:
            ri += 1
        CUR[0] = reqs[0][0]
        validate = _build_validator(api, base, wrong_at(reqs[0][0]))
        for t, tok, _tags in reqs:
            if ri < len(restarts) and restarts[ri] <= t:
                while ri < len(restarts) and restarts[ri] <= t:
                    ri += 1
                CUR[0] = t
                validate = _build_validator(api, base, wrong_at(t))
            off = 0.0
            for s, e, o in skew:
                if s <= t < e:
                    off += o
            CUR[0] = t
            coords.move_to(t + off)
            try:
                validate(tok)
            except Exception:
                pass
        jwtobs.flush()
    finally:
        traveller.stop()
        jwtobs.configure(from_env=False, fingerprint_key=b"fleet64-fingerprint-key-0123456789")
        server.shutdown()
        server.server_close()
    return tl, api, rep, len(reqs), time.perf_counter() - w0


# ---------------------------------------------------------------------------------------------------- labels
def _label(out: str, planner_meta: dict, wall: float, run_wall: float, scale: float) -> dict:
    tl = planner_meta["name"]
    incs = planner_meta["incs"]
    kinds = {i["id"]: i["kind"] for i in incs}
    counted: dict[str, list[str]] = {i["id"]: [] for i in incs}
    reasons: dict[str, int] = {}
    n = rej = 0
    mismatch = []
    for (api, rep), reqs in planner_meta["reqs"].items():
        path = os.path.join(out, tl, "events", f"{api}-{rep}.jsonl")
        evs = []
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if "event" in e:
                    continue
                evs.append(e)
        if len(evs) != len(reqs):
            mismatch.append(f"{api}-{rep}: {len(evs)} events for {len(reqs)} requests")
        for (_t, _tok, tags), e in zip(reqs, evs, strict=False):
            n += 1
            if e["outcome"] != "rejected":
                continue
            rej += 1
            r = e["reason"]
            reasons[r] = reasons.get(r, 0) + 1
            for tag in tags:
                allowed = REASONS_OF[kinds[tag]]
                if allowed is None or r in allowed:
                    counted[tag].append(e["time"])
    labels = []
    missing = []
    for i in incs:
        times = sorted(counted[i["id"]])
        if not times:
            missing.append(i["id"])
            continue
        info = ISSUERS.get(i.get("issuer") or "", {})
        kind = i["kind"]
        issuer = (
            info.get("iss")
            if kind
            in (
                "kid_before_publish",
                "key_removed_early",
                "jwks_outage",
                "signature_spike",
                "server_clock_skew",
                "issuer_stalled",
            )
            else None
        )
        kid = i.get("kid") if kind in ("kid_before_publish", "key_removed_early", "signature_spike") else None
        client = i.get("client") if kind in ("clock_skew", "audience_misconfig", "type_confusion") else None
        profile = i.get("api") if kind in ("audience_misconfig", "server_clock_skew") else None
        labels.append(
            {
                "id": i["id"],
                "kind": kind,
                "start": times[0],
                "end": times[-1],
                "count": len(times),
                "issuer": issuer,
                "kid": kid,
                "client_id": client,
                "profile": profile,
                "detail": i.get("detail"),
            }
        )
    cfg = TIMELINES[tl]
    t0 = _parse(cfg["start"])
    doc = {
        "timeline": tl,
        "quiet": cfg["quiet"],
        "seed": planner_meta["seed"],
        "start": _iso(t0),
        "end": _iso(t0 + cfg["hours"] * H),
        "generator": "fleet64",
        "incidents": labels,
    }
    with open(os.path.join(out, tl, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1)
    summary = {
        "timeline": tl,
        "validations": n,
        "rejections": rej,
        "rejection_rate": round(rej / max(n, 1), 5),
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "sessions": planner_meta["sessions"],
        "tokens_minted": planner_meta["minted"],
        "incidents_injected": [i["id"] for i in incs],
        "incidents_labelled": {lab["id"]: lab["count"] for lab in labels},
        "injected_without_counted_rejection": missing,
        "event_mismatches": mismatch,
        "wall_s": round(wall, 1),
        "run_wall_s": round(run_wall, 1),
        "scale": scale,
    }
    with open(os.path.join(out, tl, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=6400)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    warnings.filterwarnings("ignore", module="authlib")
    warnings.filterwarnings("ignore", message=".*authlib.jose.*")
    if a.score_only:
        print(json.dumps(_score(a.out, names), indent=1, default=str))
        return 0
    w_all = time.perf_counter()
    metas = {}
    for idx, n in enumerate(names):
        w0 = time.perf_counter()
        seed = a.seed_base + 1000 * list(TIMELINES).index(n)
        p = Planner(n, seed, a.scale)
        p.build()
        PLANS[n] = p.export()
        metas[n] = {
            "name": n,
            "incs": p.incs,
            "reqs": p.reqs,
            "seed": seed,
            "sessions": p.n_sessions,
            "minted": p.minted,
            "plan_s": time.perf_counter() - w0,
        }
        os.makedirs(os.path.join(a.out, n, "events"), exist_ok=True)
        print(
            f"[plan] {n}: {sum(len(v) for v in p.reqs.values())} requests, {p.n_sessions} sessions, "
            f"{p.minted} tokens, {time.perf_counter() - w0:.1f}s",
            flush=True,
        )
        del idx
    OUT[0] = a.out
    tasks = [(n, api, rep) for n in names for (api, rep) in PLANS[n]["reqs"]]
    tasks.sort(key=lambda k: -len(PLANS[k[0]]["reqs"][(k[1], k[2])]))
    walls: dict[str, float] = {n: metas[n]["plan_s"] for n in names}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(max(1, a.workers)) as pool:
        for tl, _api, _rep, _cnt, w in pool.imap_unordered(_run_replica, tasks):
            walls[tl] += w
    for n in names:
        s = _label(a.out, metas[n], walls[n], time.perf_counter() - w_all, a.scale)
        print(
            f"[done] {n}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, "
            f"labelled {len(s['incidents_labelled'])}/{len(s['incidents_injected'])} "
            f"{s['incidents_labelled']} missing={s['injected_without_counted_rejection']} "
            f"mismatch={s['event_mismatches'][:3]}",
            flush=True,
        )
    print(f"[total] wall {time.perf_counter() - w_all:.1f}s", flush=True)
    if a.score:
        print(json.dumps(_score(a.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
