"""fleet40: an airline / travel company's JWT fleet, validated for real through jwtobs, with labelled incidents.

Written blind to the detectors (only the README, docs/contract.md, core.md, verifier.md, jwks.md,
libraries.md, jwtobs/kinds.py and the public API were read). Every event line is written by jwtobs itself
from a real validation of a real signed token; this script only decides who sends which token when.

Usage::

    python benchmarks/fleet40.py --out DIR [--only quiet-1,inc-2] [--seed-base N] [--scale F] [--workers 2]

Mechanics
---------
* One OS process per timeline (a ``multiprocessing`` pool of ``--workers``, one task per child). In it:
  issuer keys generated at run time (RSA-2048, P-256), tokens signed with PyJWT, key sets served by a real
  ``http.server`` on 127.0.0.1 (port 0); what the server publishes (and whether it answers 5xx, or hangs past
  the clients' timeouts) is a function of the simulated "true" time the driver sets before each validation.
* Simulated time is ``time_machine.travel(start, tick=False)`` and ``move_to`` before each validation;
  ``JwksSource(clock=time.time)``; PyJWT's ``PyJWKClient`` cache clock (``time.monotonic`` in
  ``jwt.jwk_set_cache`` / ``jwt.jwks_client``) is pointed at ``time.time`` so it follows simulated time.
* Each API replica has lives (start, rolling deploy, crash, autoscaling); every life builds its validator and
  key caches cold, runs ``jwtobs.configure(events_path=OUT/<timeline>/events/<api>.<replica>.jsonl,
  service=<api>)`` and replays the requests routed to it in time order. Lives of one replica append to one file.
* Requests are matched to events by order within each file (records with an ``event`` key are skipped);
  the number of validation lines must equal the number of requests routed to the file (``summary.json``).

Issuers
-------
* ``workforce`` - Entra-like (``https://login.skyway.example/<tid>/v2.0``), RS256, typ ``JWT``, ``azp``,
  ``nbf`` = ``iat``, lifetime 60-90 min (random per token). Healthy rotation each timeline: the next key is
  published 6 h before it signs, the old key stays published to the end (weeks, as Entra does).
* ``skyway`` and ``breeze`` - customer IdP, one realm per brand (Auth0/Keycloak-like, RFC 9068 ``at+jwt``,
  ``azp``): skyway ES256, 15-min tokens; breeze RS256, 30-min tokens. Tokens carry both customer API
  audiences. ID tokens (typ ``JWT``, aud = client id, ``nonce``) exist too. Rotation: next key published 4 h
  ahead, old key removed 2 h after the switch.
* ``partner`` - B2B issuer for travel agencies and GDSs, client credentials, RS256, ``client_id`` claim,
  ``nbf``, lifetimes 5/10/15 min by partner. Rotation: published 3 h ahead, old removed 1 h after.
* ``mesh`` - service-to-service issuer (ES256, 5-min tokens, typ ``JWT``, ``client_id`` = SPIFFE id, ``nbf``).
  Tokens are minted by the node agent with the node's clock, renewed by the sidecar at 80 % of lifetime.
  Rotation twice a day: published 1 h ahead, old removed 30 min after the switch.
* Key sets served with ``Cache-Control: max-age=300``. JWKS blips every timeline: 1-3 per issuer, a few
  seconds of 500/503, sometimes a hang longer than the clients' timeouts.

APIs (service = profile) and how each validates
-----------------------------------------------
* crew-api: ``jwtobs.wrap`` of PyJWT + ``PyJWKClient`` (lifespan 300 s); workforce; leeway 60; 2 replicas
* ops-api: ``Verifier`` + ``JwksSource``, backend pyjwt; workforce; leeway 30; 2 replicas
* checkin-api: ``Verifier`` + ``JwksSource``, backend authlib; workforce; leeway 300; 2 replicas
* booking-api: ``VerifierSet`` + ``JwksSource``, backend joserfc, ``at+jwt``; skyway, breeze; leeway 30;
  3 replicas + a 4th autoscaled 07:00-21:00 UTC
* loyalty-api: ``jwtobs.wrap`` of joserfc, own key cache (TTL 600 s); skyway, breeze; leeway 0; 2 replicas
* agency-api: ``jwtobs.wrap`` of python-jose, own key cache (TTL 300 s); partner; leeway 0; 2 replicas
* fares-api: ``jwtobs.wrap`` of jwcrypto ``JWT``, own key cache (TTL 600 s); mesh; leeway 60; 2 replicas
* inventory-api: ``Verifier`` + ``JwksSource``, backend python-jose; mesh; leeway 0; 2 replicas

Own caches refetch on an unknown kid at most once a minute and fail hard (the fetch error propagates:
``JWT_JWKS_UNAVAILABLE``) when their TTL has run out and the key set cannot be fetched; the python-jose app
passes every key when the kid is not found (so an unknown kid there is ``JWT_BAD_SIGNATURE``). Every
replica restarts once a day in a rolling deploy (down 20-40 s each, 90 s apart), crashes now and then
(0.3/replica/day, down 10-60 s); booking-api scales out a fourth replica during the European/American day.

Background, in every timeline (quiet ones too)
----------------------------------------------
* Crew tablets (workforce): ``crew-ipad-cabin`` and ``crew-efb-cockpit`` tablets fly with their crews
  (flight groups of 6-14 tablets; 1-14 h offline; short/medium/long haul mix); on landing all tablets of a
  flight sync within minutes at the arrival airport with the token they held since departure (hours past
  ``exp`` for long flights: one ``JWT_EXPIRED`` each, then refresh and retry); ``crew-android-ground``
  devices work shifts at the hubs. Pre-flight syncs every 3-8 min.
* Kiosks (``kiosk-fleet`` -> checkin-api) and gate readers (``gate-reader`` -> ops-api) at FRA, JFK, SIN:
  clocks with constant offsets (sigma 20 s, a few at 2-4 min) and drift; 1-3 per hub a day reboot at local
  05:00 with the clock at the firmware date (2024-01-01) for 2-8 min, presenting yesterday's token (they
  trust their clock: no refresh) until NTP syncs. Ops portal agents (``ops-portal``) in business hours.
* Customer apps (``skyway-ios``/``skyway-android``/``skyway-web``, ``breeze-ios``/``breeze-web``), users in
  Europe / Americas / Asia (diurnal by region), 1-3 devices per user, sessions of 3-12 calls to booking-api
  and loyalty-api; 8 % of resumes send the stale token once (401, refresh, retry). Device clocks sigma 5 s.
* Travel agencies (24) and GDSs (3) polling agency-api every 45-180 s, diurnal; 3 % of polls retry with
  backoff 1/2/4 s with the same token (duplicates); 3 agencies refresh only after a 401.
* Mesh workloads (14 services, 2-3 pods each) calling inventory-api / fares-api; nightly batch jobs
  (``fare-sync`` 01:00 UTC -> fares-api, ``loyalty-accrual`` 02:30 UTC -> inventory-api) holding one cached
  token and refreshing only after a 401.
* Scanners: 1-3 garbage tokens a minute at the public APIs (booking, loyalty, agency, checkin): alg none,
  random kid signed by a foreign key, typ JWT without client id, tampered real tokens, truncated tokens, junk.
* Healthy rotations (above), JWKS blips, deploys, crashes, autoscaling. A token held across a healthy
  rotation after its key left the set (a resumed app, a landed tablet) is ``JWT_UNKNOWN_KID`` on the
  ``Verifier`` paths (key lookup comes before the claims): background, never labelled.
* Mesh sidecars' node clocks are within tens of milliseconds; ``nbf``/``iat`` are whole seconds (floored).

Incidents (inc-1..inc-4, 12 h each; quiet-1..quiet-4 are 24 h with none)
------------------------------------------------------------------------
See ``INCIDENTS`` below: every kind of ``jwtobs.kinds`` 2-4 times with varied sizes. kid_before_publish (an
issuer signs with a kid published 6-25 min later), key_removed_early (old key removed 2-5 min after the
switch), jwks_outage (503 for 5-15 min; hits PyJWKClient on TTL, own caches, cold replicas restarted during
it), signature_spike (the key material behind one kid replaced for 6-30 min), clock_skew (a mesh node +8 min
constant, gate readers of one hub drifting behind to -30 min, one agency -3 min (small), a mesh node drifting to
+15 min), server_clock_skew (issuer clock +-12/-20 min; one replica of inventory-api +4 min, of crew-api
-10 min), issuer_stalled (token endpoint down 12-30 min, key set up), audience_misconfig (an API deployed
with the wrong audience; a canary replica; one GDS requesting the wrong audience), type_confusion (a
customer app release sending ID tokens), attack_burst (40-200 garbage tokens a minute for 5-15 min).

Labels
------
Each request carries the ids of the incidents that could make it fail (token-level tags stop 15 min after the
token's ``exp``). A rejection counts when it carries the tag and its reason is one the kind causes
(``COUNTED_REASONS``). ``labels.json`` lists incidents with at least one counted rejection (start/end = event
times of the first/last one); ``summary.json`` lists the others, plus validations, rejections, reasons, wall
time and per-file count mismatches.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import string
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

UTC = dt.UTC
FIRMWARE_DATE = dt.datetime(2024, 1, 1, tzinfo=UTC).timestamp()
HUBS = {"FRA": 1, "JFK": -5, "SIN": 8}
REGIONS = {"eu": 1, "am": -5, "as": 8}
COUNTED_REASONS = {
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
# python-jose tries every key when the kid is unknown: only agency-api's JWT_BAD_SIGNATURE counts for kid kinds
KID_BAD_SIGNATURE_APIS = {"agency-api"}
TOKEN_TAG_GRACE = 900.0
H = 3600.0
M = 60.0

# --------------------------------------------------------------------------------------------------------------
# incident schedule: (timeline, kind, variant dict); hours from the timeline start
INCIDENTS: dict[str, list[dict]] = {
    "inc-1": [
        {"kind": "kid_before_publish", "issuer": "workforce", "at": 2.0, "delay_min": 25},
        {"kind": "type_confusion", "client": "breeze-ios", "at": 3.0, "dur_min": 120, "share": 0.3},
        {"kind": "jwks_outage", "issuer": "mesh", "at": 4.0, "dur_min": 12, "crash": "inventory-api"},
        {"kind": "clock_skew", "mesh_service": "pricing-engine", "at": 5.5, "dur_min": 90, "offset": 480},
        {"kind": "server_clock_skew", "issuer": "skyway", "at": 7.0, "dur_min": 25, "offset": -1200},
        {"kind": "audience_misconfig", "api": "booking-api", "at": 8.0, "dur_min": 20, "replicas": "all"},
        {"kind": "attack_burst", "at": 9.5, "dur_min": 15, "per_min": 200, "apis": ["booking-api", "agency-api"]},
        {"kind": "issuer_stalled", "issuer": "partner", "at": 10.5, "dur_min": 25},
    ],
    "inc-2": [
        {"kind": "clock_skew", "gate_hub": "FRA", "at": 1.5, "dur_min": 360, "drift_to": -1800},
        {"kind": "key_removed_early", "issuer": "partner", "at": 3.0, "after_min": 2},
        {"kind": "issuer_stalled", "issuer": "mesh", "at": 4.0, "dur_min": 12},
        {"kind": "signature_spike", "issuer": "partner", "at": 5.0, "dur_min": 30},
        {"kind": "server_clock_skew", "api": "inventory-api", "replica": 1, "at": 6.0, "dur_min": 30, "offset": 240},
        {"kind": "jwks_outage", "issuer": "workforce", "at": 8.0, "dur_min": 8, "crash": "ops-api"},
        {"kind": "audience_misconfig", "client": "gds-alpha", "at": 9.0, "dur_min": 60},
        {"kind": "attack_burst", "at": 10.5, "dur_min": 6, "per_min": 40, "apis": ["loyalty-api"]},
    ],
    "inc-3": [
        {"kind": "kid_before_publish", "issuer": "partner", "at": 2.5, "delay_min": 6},
        {"kind": "signature_spike", "issuer": "workforce", "at": 4.0, "dur_min": 18},
        {"kind": "jwks_outage", "issuer": "skyway", "at": 5.0, "dur_min": 15, "crash": "booking-api"},
        {"kind": "clock_skew", "agency": "agency-12", "at": 6.0, "dur_min": 150, "offset": -180},
        {"kind": "type_confusion", "client": "skyway-web", "at": 7.0, "dur_min": 60, "share": 0.5},
        {"kind": "server_clock_skew", "issuer": "partner", "at": 8.5, "dur_min": 60, "offset": 720},
        {"kind": "audience_misconfig", "api": "loyalty-api", "at": 10.0, "dur_min": 30, "replicas": "canary"},
        {"kind": "attack_burst", "at": 11.0, "dur_min": 10, "per_min": 120, "apis": ["agency-api", "checkin-api"]},
    ],
    "inc-4": [
        {"kind": "key_removed_early", "issuer": "workforce", "at": 2.0, "after_min": 5},
        {"kind": "signature_spike", "issuer": "breeze", "at": 3.0, "dur_min": 6},
        {"kind": "issuer_stalled", "issuer": "skyway", "at": 4.0, "dur_min": 30},
        {"kind": "clock_skew", "mesh_service": "seatmap", "at": 5.0, "dur_min": 180, "drift_to": 900},
        {"kind": "server_clock_skew", "api": "crew-api", "replica": 0, "at": 6.0, "dur_min": 30, "offset": -600},
        {"kind": "jwks_outage", "issuer": "partner", "at": 8.0, "dur_min": 9, "crash": None},
        {"kind": "kid_before_publish", "issuer": "mesh", "at": 9.0, "delay_min": 10},
        {"kind": "type_confusion", "client": "breeze-web", "at": 10.0, "dur_min": 20, "share": 0.6},
        {"kind": "audience_misconfig", "api": "fares-api", "at": 10.5, "dur_min": 12, "replicas": "all"},
        {"kind": "attack_burst", "at": 11.3, "dur_min": 5, "per_min": 60, "apis": ["booking-api"]},
    ],
}
TIMELINES = ["quiet-1", "quiet-2", "quiet-3", "quiet-4", "inc-1", "inc-2", "inc-3", "inc-4"]

# --------------------------------------------------------------------------------------------------------------
# issuers, keys, tokens


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Key:
    kid: str
    alg: str
    priv: object
    jwk: dict
    publish_from: float
    publish_until: float
    sign_from: float
    sign_until: float
    kbp_tag: str | None = None  # kid_before_publish incident id
    kre_tag: str | None = None  # key_removed_early incident id
    rogue: list = field(default_factory=list)  # [(start, end, private key, incident id)]


@dataclass
class Token:
    raw: str
    exp: float
    kid: str
    tags: tuple


def new_private(alg: str):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(priv, kid: str, alg: str) -> dict:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    algo = ECAlgorithm if alg == "ES256" else RSAAlgorithm
    jwk = json.loads(algo.to_jwk(priv.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": alg})
    return jwk


class Issuer:
    def __init__(self, name, iss, alg, life, typ, client_claim, nbf, rng):
        self.name, self.iss, self.alg, self.life, self.typ = name, iss, alg, life, typ
        self.client_claim, self.nbf, self.rng = client_claim, nbf, rng
        self.keys: list[Key] = []
        self.skews: list = []  # (start, end, offset_s, tag)
        self.stalls: list = []  # (start, end, tag)
        self.outages: list = []  # (start, end, tag)
        self.blips: list = []  # (start, end, mode)
        self.signed = 0
        self._n = 0

    def add_key(self, publish_from, sign_from, sign_until, publish_until, label):
        kid = f"{self.name[:2]}-{label}-{self.rng.getrandbits(24):06x}"
        priv = new_private(self.alg)
        k = Key(
            kid, self.alg, priv, public_jwk(priv, kid, self.alg), publish_from, publish_until, sign_from, sign_until
        )
        self.keys.append(k)
        return k

    def published(self, now):
        return [k.jwk for k in self.keys if k.publish_from <= now < k.publish_until]

    def signing_key(self, t):
        best = None
        for k in self.keys:
            if k.sign_from <= t < k.sign_until and (best is None or k.sign_from > best.sign_from):
                best = k
        return best

    def stalled(self, t):
        for s, e, tag in self.stalls:
            if s <= t < e:
                return tag
        return None

    def outage_tags(self, t):
        return [tag for s, e, tag in self.outages if s <= t < e + 120]

    def issue(self, t, h, *, id_token=False):
        """Sign a token for holder ``h`` at true time ``t`` (None when the token endpoint is stalled)."""
        if self.stalled(t):
            return None
        tags = []
        k = self.signing_key(t)
        priv = k.priv
        for s, e, rogue, tag in k.rogue:
            if s <= t < e:
                priv = rogue
                tags.append(tag)
        if k.kbp_tag and t < k.publish_from:
            tags.append(k.kbp_tag)
        if h.stamp is not None:
            stamp = t + h.stamp(t)
            tags.extend(h.skew_tags(t))
        else:
            stamp = t
            for s, e, off, tag in self.skews:
                if s <= t < e:
                    stamp = t + off
                    tags.append(tag)
        life = self.life(self.rng) if callable(self.life) else self.life
        if h.life:
            life = h.life
        iat = int(stamp)
        exp = iat + int(life)
        self._n += 1
        claims = {"iss": self.iss, "sub": h.sub, "iat": iat, "exp": exp, "jti": f"{self.name}-{self._n:x}"}
        if self.nbf:
            claims["nbf"] = iat
        typ = self.typ
        if id_token:
            claims.update({"aud": h.client_id, "nonce": b64u(os.urandom(9)), "auth_time": iat})
            typ = "JWT"
        else:
            aud = h.aud
            for s, e, wrong, tag in h.aud_windows:
                if s <= t < e:
                    aud = wrong
                    tags.append(tag)
            claims["aud"] = aud
            claims[self.client_claim] = h.client_id
            if h.scope:
                claims["scope"] = h.scope
        if k.kre_tag and exp > k.publish_until:
            tags.append(k.kre_tag)
        import jwt

        raw = jwt.encode(claims, priv, algorithm=self.alg, headers={"kid": k.kid, "typ": typ})
        self.signed += 1
        return Token(raw, float(exp), k.kid, tuple(tags))


class Holder:
    """A client's token cache: refreshes when its own clock says the token is within ``margin`` of exp."""

    __slots__ = (
        "aud",
        "aud_windows",
        "client_id",
        "dev",
        "id_windows",
        "iss",
        "lazy",
        "life",
        "margin",
        "scope",
        "skew_windows",
        "stall_tag",
        "stamp",
        "sub",
        "tok",
    )

    def __init__(self, iss, client_id, sub, aud, *, margin=60.0, dev=None, lazy=False, life=None, scope=None):
        self.iss, self.client_id, self.sub, self.aud = iss, client_id, sub, aud
        self.margin, self.dev, self.lazy, self.life, self.scope = margin, dev, lazy, life, scope
        self.stamp = None
        self.tok: Token | None = None
        self.stall_tag = None
        self.aud_windows: list = []
        self.skew_windows: list = []  # (start, end, tag): requests/tokens in these windows carry the tag
        self.id_windows: list = []  # (start, end, tag): mints ID tokens instead of access tokens

    def dev_now(self, t):
        return t + (self.dev(t) if self.dev else 0.0)

    def skew_tags(self, t):
        return [tag for s, e, tag in self.skew_windows if s <= t < e]

    def needs_refresh(self, t):
        return self.tok is None or self.dev_now(t) >= self.tok.exp - self.margin

    def refresh(self, t):
        id_tag = next((tag for s, e, tag in self.id_windows if s <= t < e), None)
        new = self.iss.issue(t, self, id_token=id_tag is not None)
        if new is None:
            self.stall_tag = self.iss.stalled(t)
            return self.tok
        if id_tag:
            new.tags = (*new.tags, id_tag)
        self.tok = new
        self.stall_tag = None
        return new

    def get(self, t):
        if not self.lazy and self.needs_refresh(t):
            return self.refresh(t)
        if self.tok is None:
            return self.refresh(t)
        return self.tok


# --------------------------------------------------------------------------------------------------------------
# the world: requests


class Plan:
    def __init__(self, rng, t0, t1, scale):
        self.rng, self.t0, self.t1, self.scale = rng, t0, t1, scale
        self.reqs: list = []  # (t, api, raw, tags)
        self.incidents: list = []  # dicts
        self.recent: dict = collections.defaultdict(list)  # api -> sample of real tokens (for tampering)

    def send(self, t, api, tok, extra=(), h=None):
        if tok is None or not (self.t0 <= t < self.t1):
            return
        tags = list(extra)
        if t <= tok.exp + TOKEN_TAG_GRACE:
            tags.extend(tok.tags)
        if h is not None:
            if h.stall_tag and t > tok.exp:
                tags.append(h.stall_tag)
            tags.extend(h.skew_tags(t))
        tags.extend(h.iss.outage_tags(t) if h is not None else ())
        self.reqs.append((t, api, tok.raw, tuple(dict.fromkeys(tags))))
        rec = self.recent[api]
        if api in PUBLIC_APIS and len(rec) < 400 and self.rng.random() < 0.02:
            rec.append(tok.raw)

    def garbage(self, t, api, tags=()):
        self.reqs.append((t, api, self._junk(api), tuple(tags)))

    def _junk(self, api):
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            hdr = b64u(json.dumps({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
            body = b64u(json.dumps({"sub": "admin", "role": "admin", "exp": 4102444800}).encode())
            return f"{hdr}.{body}."
        if r < 0.4:
            import jwt

            kid = b64u(os.urandom(rng.randint(4, 16)))
            claims = {"sub": "".join(rng.choices(string.ascii_lowercase, k=8)), "exp": 4102444800, "iss": "x"}
            return jwt.encode(claims, ATTACKER_KEY[0], algorithm="RS256", headers={"kid": kid})
        if r < 0.55:
            import jwt

            claims = {"sub": "test", "iat": 1516239022, "name": "John Doe"}
            return jwt.encode(claims, "secret" * 6, algorithm="HS256")  # the jwt.io default, typ JWT
        pool = self.recent.get(api) or []  # tokens a scanner could have captured from this public API
        if r < 0.75 and pool:
            raw = rng.choice(pool)
            h, p, s = raw.split(".")
            claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            claims["sub"] = "admin"
            claims["exp"] = int(claims.get("exp", 0)) + 86400 * 365
            return f"{h}.{b64u(json.dumps(claims).encode())}.{s}"
        if r < 0.88 and pool:
            raw = rng.choice(pool)
            return raw[: rng.randint(10, len(raw) - 5)]
        return rng.choice(["undefined", "null", "Bearer", "' OR 1=1 --", "../../etc/passwd", b64u(os.urandom(40))])


ATTACKER_KEY: list = []
PUBLIC_APIS = ("booking-api", "loyalty-api", "agency-api")


def diurnal(t, off_h):
    h = (t / H + off_h) % 24.0
    return 0.08 + 0.92 * (0.5 - 0.5 * math.cos(2 * math.pi * (h - 4.0) / 24.0)) ** 1.6


def arrivals(rng, t0, t1, rate_max, shape, cap=200000):
    """Poisson arrivals with rate rate_max * shape(t), by thinning; bounded."""
    out = []
    if rate_max <= 0:
        return out
    t = t0
    for _ in range(cap):
        t += rng.expovariate(rate_max)
        if t >= t1:
            break
        if rng.random() < shape(t):
            out.append(t)
    return out


def build_issuers(rng, t0, t1):
    day = 86400.0
    iss = {
        "workforce": Issuer(
            "workforce",
            "https://login.skyway.example/6f1c0d2e-4b7a-4c1e-9d3f-skyway/v2.0",
            "RS256",
            lambda r: r.randint(3600, 5400),
            "JWT",
            "azp",
            True,
            rng,
        ),
        "skyway": Issuer(
            "skyway", "https://id.skyway.example/realms/skyway", "ES256", 900, "at+jwt", "azp", False, rng
        ),
        "breeze": Issuer(
            "breeze", "https://id.skyway.example/realms/breeze", "RS256", 1800, "at+jwt", "azp", False, rng
        ),
        "partner": Issuer("partner", "https://partners.skyway.example", "RS256", 600, "at+jwt", "client_id", True, rng),
        "mesh": Issuer("mesh", "https://mesh.skyway.internal", "ES256", 300, "JWT", "client_id", True, rng),
    }
    far = t1 + 30 * day
    past = t0 - 30 * day
    span = t1 - t0
    # workforce: pre-published 6 h ahead, old kept to the end
    sw = t0 + rng.uniform(0.3, 0.7) * span
    iss["workforce"].add_key(past, past, sw, far, "a")
    iss["workforce"].add_key(sw - 6 * H, sw, far, far, "b")
    for name, ahead, keep in (("skyway", 4 * H, 2 * H), ("breeze", 4 * H, 2 * H), ("partner", 3 * H, 1 * H)):
        s = t0 + rng.uniform(0.2, 0.8) * span
        iss[name].add_key(past, past, s, s + keep, "a")
        iss[name].add_key(s - ahead, s, far, far, "b")
    # mesh: two rotations a day (one in a 12 h timeline)
    n = 2 if span > 13 * H else 1
    prev = past
    label = "a"
    for i in range(n):
        s = t0 + (i + rng.uniform(0.25, 0.75)) * span / n
        iss["mesh"].add_key(prev - 1 * H if i else past, prev, s, s + 30 * M, label)
        prev = s
        label = chr(ord(label) + 1)
    iss["mesh"].add_key(prev - 1 * H, prev, far, far, label)
    # blips
    for i in iss.values():
        for _ in range(rng.randint(1, 3)):
            s = rng.uniform(t0, t1)
            mode = "hang" if rng.random() < 0.25 else rng.choice(["500", "503"])
            i.blips.append((s, s + rng.uniform(2, 20), mode))
    return iss


# ---- replicas ------------------------------------------------------------------------------------------------

APIS = {
    "crew-api": {"path": "pyjwt", "issuers": ["workforce"], "aud": "api://crew", "leeway": 60, "replicas": 2},
    "ops-api": {"path": "verifier", "backend": "pyjwt", "issuers": ["workforce"], "aud": "api://ops", "leeway": 30,
                "replicas": 2, "typ": None},
    "checkin-api": {"path": "verifier", "backend": "authlib", "issuers": ["workforce"], "aud": "api://checkin",
                    "leeway": 300, "replicas": 2, "typ": None},
    "booking-api": {"path": "verifier", "backend": "joserfc", "issuers": ["skyway", "breeze"],
                    "aud": "https://api.skyway.example/booking", "leeway": 30, "replicas": 3, "typ": "at+jwt"},
    "loyalty-api": {"path": "joserfc", "issuers": ["skyway", "breeze"], "aud": "https://api.skyway.example/loyalty",
                    "leeway": 0, "replicas": 2},
    "agency-api": {"path": "jose", "issuers": ["partner"], "aud": "agency-api", "leeway": 0, "replicas": 2},
    "fares-api": {"path": "jwcrypto", "issuers": ["mesh"], "aud": "fares-api", "leeway": 60, "replicas": 2},
    "inventory-api": {"path": "verifier", "backend": "python-jose", "issuers": ["mesh"], "aud": "inventory-api",
                      "leeway": 0, "replicas": 2, "typ": None},
}  # fmt: skip
CUSTOMER_AUD = [APIS["booking-api"]["aud"], APIS["loyalty-api"]["aud"]]


@dataclass
class Life:
    api: str
    replica: int
    start: float
    end: float
    aud: str
    aud_tag: str | None = None
    skews: list = field(default_factory=list)  # (start, end, offset, tag)
    reqs: list = field(default_factory=list)


KEEP = object()


def build_lives(rng, t0, t1, plan_incidents):
    lives: dict[str, list[Life]] = {}
    for api, cfg in APIS.items():
        n = cfg["replicas"]
        downs = {r: [] for r in range(n)}
        dep = rng.uniform(t0 + 0.5 * H, t1 - 1 * H)
        # downs: (start, end, config after the restart): None = the right audience, a tag = the wrong one,
        # KEEP = a crash (restarts with the config it had)
        for r in range(n):
            s = dep + r * 90
            downs[r].append((s, s + rng.uniform(20, 40), None))
            for _ in range(20):
                if rng.random() >= 0.3 * (t1 - t0) / 86400 / 1.0:
                    break
                c = rng.uniform(t0, t1)
                downs[r].append((c, c + rng.uniform(10, 60), KEEP))
                if rng.random() < 0.5:
                    break
        for inc in plan_incidents:
            if inc.get("api") == api and inc["kind"] == "audience_misconfig":
                targets = range(n) if inc["replicas"] == "all" else [0]
                for r in targets:
                    s = inc["s"] + r * 45
                    downs[r].append((s, s + 20, inc["id"]))
                    downs[r].append((inc["e"] + r * 45, inc["e"] + r * 45 + 20, None))
            if inc.get("crash") == api:
                c = inc["s"] + 0.4 * (inc["e"] - inc["s"])
                downs[0].append((c, c + 15, KEEP))
        out = []
        for r in range(n):
            cur_start, wrong = t0 - 2 * H, None
            for s, e, conf in sorted(downs[r], key=lambda d: d[0]):
                if s <= cur_start:
                    continue
                out.append(Life(api, r, cur_start, s, cfg["aud"] if not wrong else "wrong", wrong))
                cur_start = e
                wrong = wrong if conf is KEEP else conf
            out.append(Life(api, r, cur_start, t1 + H, cfg["aud"] if not wrong else "wrong", wrong))
        for lf in out:
            if lf.aud_tag:
                lf.aud = cfg["aud"] + "-staging" if api != "loyalty-api" else "https://api.skyway.example/rewards"
        if api == "booking-api":  # autoscaling: a fourth replica during the European/American day
            for day0 in range(int((t0 - 86400) // 86400), int(t1 // 86400) + 1):
                s, e = day0 * 86400 + 7 * H, day0 * 86400 + 21 * H
                if e > t0 and s < t1:
                    out.append(Life(api, 3, max(s, t0), min(e, t1), cfg["aud"]))
        for inc in plan_incidents:
            if inc["kind"] == "server_clock_skew" and inc.get("api") == api:
                for lf in out:
                    if lf.replica == inc["replica"]:
                        lf.skews.append((inc["s"], inc["e"], inc["offset"], inc["id"]))
        lives[api] = sorted(out, key=lambda lf: (lf.start, lf.replica))
    return lives


# ---- populations ---------------------------------------------------------------------------------------------


def clock_fn(rng, sigma=5.0, big_p=0.0, big=(120, 240), drift_ppm=0.0, t0=0.0):
    off = rng.gauss(0, sigma)
    if rng.random() < big_p:
        off = rng.choice([-1, 1]) * rng.uniform(*big)
    drift = rng.gauss(0, drift_ppm) * 1e-6
    if drift == 0:
        return lambda t: off
    return lambda t: off + drift * (t - t0)


def pop_customers(p: Plan, iss, inc):
    rng, t0, t1 = p.rng, p.t0, p.t1
    n_users = int(2600 * p.scale)
    clients = [("skyway-ios", "skyway", 0.3), ("skyway-android", "skyway", 0.3), ("skyway-web", "skyway", 0.15),
               ("breeze-ios", "breeze", 0.15), ("breeze-web", "breeze", 0.1)]  # fmt: skip
    tc = [i for i in inc if i["kind"] == "type_confusion"]
    stalls = [i for i in inc if i["kind"] == "issuer_stalled" and i["issuer"] in ("skyway", "breeze")]
    for u in range(n_users):
        region = rng.choice(list(REGIONS))
        off_h = REGIONS[region]
        sub = f"cust-{region}-{u:06d}"
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            cid, realm, _w = rng.choices(clients, weights=[c[2] for c in clients])[0]
            h = Holder(iss[realm], cid, sub, CUSTOMER_AUD, margin=30, dev=clock_fn(rng, 5.0, 0.01))
            for i in tc:
                if i["client"] == cid and rng.random() < i["share"]:
                    h.id_windows.append((i["s"], i["e"], i["id"]))
            sessions = arrivals(rng, t0 - 1800, t1, 1.4 / 86400 * 2.2, lambda t, o=off_h: diurnal(t, o))
            for ts in sessions:
                tok = h.tok
                if tok is not None and h.needs_refresh(ts) and rng.random() < 0.08:
                    p.send(ts, "booking-api", tok, h=h)  # stale token once after resume
                    ts += rng.uniform(0.3, 1.5)
                n = rng.randint(3, 12)
                t = ts
                for _ in range(n):
                    tok = h.get(t)
                    if tok is None:
                        break
                    api = "booking-api" if rng.random() < 0.7 else "loyalty-api"
                    p.send(t, api, tok, h=h)
                    if h.stall_tag and any(s["id"] == h.stall_tag for s in stalls):
                        t += rng.uniform(20, 90)  # the app keeps trying with what it holds
                    else:
                        t += rng.expovariate(1 / 25)


def pop_crew(p: Plan, iss, inc):
    rng, t0, t1 = p.rng, p.t0, p.t1
    wf = iss["workforce"]
    aud = APIS["crew-api"]["aud"]
    n_flights = int(85 * p.scale * (t1 - t0 + 14 * H) / 86400)
    ports = [*HUBS, "LHR", "ORD", "NRT", "DXB", "GRU", "BCN", "YYZ", "HKG"]
    for f in range(n_flights):
        origin = rng.choice(ports)
        off_h = HUBS.get(origin, 0)
        dep = None
        for _ in range(50):
            c = rng.uniform(t0 - 14 * H, t1)
            if rng.random() < diurnal(c, off_h):
                dep = c
                break
        if dep is None:
            continue
        r = rng.random()
        dur = rng.uniform(1, 3) * H if r < 0.6 else rng.uniform(3, 7) * H if r < 0.85 else rng.uniform(8, 14) * H
        tablets = []
        for j in range(rng.randint(4, 12)):
            tablets.append(("crew-ipad-cabin", f"crew-{f:04d}-c{j}"))
        tablets += [("crew-efb-cockpit", f"crew-{f:04d}-fd{j}") for j in range(2)]
        for cid, sub in tablets:
            h = Holder(wf, cid, sub, aud, margin=300, dev=clock_fn(rng, 3.0))
            t = dep - rng.uniform(60, 90) * M
            while t < dep - 10 * M:
                p.send(t, "crew-api", h.get(t), h=h)
                t += rng.uniform(3, 8) * M
            h.get(dep - 12 * M)  # token held through the flight
            t = dep + dur + rng.uniform(0, 12) * M
            tok = h.tok
            if tok is not None and t > tok.exp:
                p.send(t, "crew-api", tok, h=h)  # stale after landing: 401, refresh, retry
                t += rng.uniform(0.5, 3)
                h.refresh(t)
            end = t + rng.uniform(20, 40) * M
            while t < end:
                p.send(t, "crew-api", h.get(t), h=h)
                t += rng.uniform(4, 8) * M
    # ground crew: shifts at the hubs
    for d in range(int(60 * p.scale)):
        hub = rng.choice(list(HUBS))
        h = Holder(wf, "crew-android-ground", f"ground-{hub}-{d:03d}", aud, margin=300, dev=clock_fn(rng, 4.0))
        shift_local = rng.choice([6, 14, 22])
        for day0 in range(int(t0 // 86400) - 1, int(t1 // 86400) + 1):
            s = day0 * 86400 + (shift_local - HUBS[hub]) * H
            t = max(s, t0)
            while t < min(s + 8 * H, t1):
                p.send(t, "crew-api", h.get(t), h=h)
                t += rng.uniform(3, 7) * M


def device_fleet(p: Plan, iss, inc, api, client_id, n, rate_h, calls, open_h=(5, 23)):
    """Kiosks / gate readers: clocks with offsets and drift, firmware-date reboots, trust-own-clock tokens."""
    rng, t0, t1 = p.rng, p.t0, p.t1
    wf = iss["workforce"]
    aud = APIS[api]["aud"]
    skew_incs = [i for i in inc if i["kind"] == "clock_skew" and i.get("gate_hub") and client_id == "gate-reader"]
    for d in range(int(n * p.scale)):
        hub = list(HUBS)[d % len(HUBS)]
        off_h = HUBS[hub]
        base = clock_fn(rng, 20.0, 0.05, (120, 240), 30.0, t0)
        windows = []  # (start, end, fn(t) -> offset, tag)
        # firmware-date reboots: 1-3 devices per hub a day
        if rng.random() < 2.0 / (n / len(HUBS)) * (t1 - t0) / 86400:
            day0 = rng.randint(int(t0 // 86400), int(t1 // 86400))
            s = day0 * 86400 + (5 - off_h) * H
            if t0 <= s < t1:
                windows.append((s, s + rng.uniform(2, 8) * M, lambda t: FIRMWARE_DATE - t, None))
        for i in skew_incs:
            if i["gate_hub"] == hub:
                s, e, to = i["s"], i["e"], i["drift_to"]
                windows.append((s, e, lambda t, s=s, e=e, to=to: to * (t - s) / (e - s), i["id"]))

        def dev(t, base=base, windows=windows):
            for s, e, fn, _tag in windows:
                if s <= t < e:
                    return base(t) + fn(t)
            return base(t)

        h = Holder(wf, client_id, f"device-{client_id}-{hub}-{d:03d}", aud, margin=300, dev=dev)
        h.skew_windows = [(s, e + 30 * M, tag) for s, e, _fn, tag in windows if tag]
        h.refresh(t0 - rng.uniform(0, 50) * M)
        ts = arrivals(
            rng,
            t0,
            t1,
            rate_h / H,
            lambda t, o=off_h: diurnal(t, o) if open_h[0] <= (t / H + o) % 24 < open_h[1] else 0.0,
        )
        # heartbeats during firmware windows (the device keeps presenting what it holds)
        for s, e, _fn, tag in windows:
            if tag is None:
                ts.extend(s + k * 60.0 for k in range(int((e - s) // 60) + 1))
        ts.sort()
        last_401 = -1e18
        for t in ts:
            tok = h.get(t)
            for k in range(calls if t - last_401 > 1 else 1):
                p.send(t + 2.0 * k, api, tok, h=h)
            if tok is not None and t > tok.exp + APIS[api]["leeway"]:
                last_401 = t  # the device trusts its clock: retries later with the same token


def pop_ops_portal(p: Plan, iss, inc):
    rng, t0, t1 = p.rng, p.t0, p.t1
    aud = APIS["ops-api"]["aud"]
    for a in range(int(80 * p.scale)):
        hub = list(HUBS)[a % 3]
        h = Holder(iss["workforce"], "ops-portal", f"agent-{hub}-{a:03d}", aud, margin=300, dev=clock_fn(rng, 2.0))
        for day0 in range(int(t0 // 86400) - 1, int(t1 // 86400) + 1):
            s = day0 * 86400 + (rng.uniform(7, 11) - HUBS[hub]) * H
            e = s + rng.uniform(0.5, 2.0) * H
            t = s
            while t < e:
                if t0 <= t < t1:
                    p.send(t, "ops-api", h.get(t), h=h)
                t += rng.uniform(20, 100)


def pop_partners(p: Plan, iss, inc):
    rng, t0, t1 = p.rng, p.t0, p.t1
    pi = iss["partner"]
    aud = APIS["agency-api"]["aud"]
    wrong = [i for i in inc if i["kind"] == "audience_misconfig" and i.get("client")]
    skew = [i for i in inc if i["kind"] == "clock_skew" and i.get("agency")]
    lazy = set(rng.sample(range(24), 3))
    parts = [(f"agency-{k:02d}", rng.choice(list(REGIONS)), rng.uniform(60, 180)) for k in range(24)]
    parts += [(g, None, rng.uniform(45, 90)) for g in ("gds-alpha", "gds-sabre-like", "gds-travelport-like")]
    for k, (cid, region, every) in enumerate(parts):
        dev = clock_fn(rng, 3.0)
        for i in skew:
            if i["agency"] == cid:
                s, e, o = i["s"], i["e"], i["offset"]
                dev = lambda t, d=dev, s=s, e=e, o=o: d(t) + (o if s <= t < e else 0.0)  # noqa: E731
        h = Holder(pi, cid, cid, aud, margin=60, dev=dev, lazy=k in lazy, life=rng.choice([300, 600, 600, 900]),
                   scope="fares:read bookings:write")  # fmt: skip
        for i in wrong:
            if i["client"] == cid:
                h.aud_windows.append((i["s"], i["e"], "agency-api-v2", i["id"]))
        for i in skew:
            if i["agency"] == cid:
                h.skew_windows.append((i["s"], i["e"] + 20 * M, i["id"]))
        shape = (lambda t: 1.0) if region is None else (lambda t, o=REGIONS[region]: 0.2 + 0.8 * diurnal(t, o))
        t = t0 + rng.uniform(0, every)
        for _ in range(200000):
            if t >= t1:
                break
            if rng.random() < shape(t):
                tok = h.get(t)
                if tok is not None:
                    p.send(t, "agency-api", tok, h=h)
                    if h.lazy and t > tok.exp:  # 401, then refresh and retry (same token when stalled)
                        h.refresh(t + 0.4)
                        p.send(t + 0.5, "agency-api", h.tok, h=h)
                    elif rng.random() < 0.03:  # upstream 503: retries with backoff, same token
                        for b in (1, 2, 4)[: rng.randint(1, 3)]:
                            p.send(t + b + rng.random() * 0.2, "agency-api", tok, h=h)
            t += every * rng.uniform(0.9, 1.1) if not h.stall_tag else rng.uniform(20, 40)


MESH_SERVICES = ["booking-core", "pricing-engine", "seatmap", "pnr-store", "checkin-core", "bag-tracking",
                 "crew-sync", "ops-dashboard", "notif", "payments", "loyalty-core", "ancillaries", "ndc-gateway",
                 "schedule-sync"]  # fmt: skip


def pop_mesh(p: Plan, iss, inc):
    rng, t0, t1 = p.rng, p.t0, p.t1
    mi = iss["mesh"]
    skew = {i["mesh_service"]: i for i in inc if i["kind"] == "clock_skew" and i.get("mesh_service")}
    total_rate = {"inventory-api": 21000 / 86400 * p.scale, "fares-api": 10000 / 86400 * p.scale}
    weights = [rng.uniform(0.3, 2.0) for _ in MESH_SERVICES]
    wsum = sum(weights)
    for svc, w in zip(MESH_SERVICES, weights, strict=True):
        sid = f"spiffe://skyway.internal/ns/prod/sa/{svc}"
        pods = rng.randint(2, 3)
        for pod in range(pods):
            node_off = rng.gauss(0, 0.02)
            inc_i = skew.get(svc) if pod == 0 else None  # the pod on the node with the bad clock

            def node_clock(t, inc_i=inc_i, node_off=node_off):
                if inc_i and inc_i["s"] <= t < inc_i["e"]:
                    if "drift_to" in inc_i:
                        return node_off + inc_i["drift_to"] * (t - inc_i["s"]) / (inc_i["e"] - inc_i["s"])
                    return node_off + inc_i["offset"]
                return node_off

            for api, rate in total_rate.items():
                if rng.random() < 0.35 and not inc_i:
                    continue
                h = Holder(mi, sid, sid, api, margin=60, dev=node_clock)
                h.stamp = node_clock
                if inc_i:
                    h.skew_windows.append((inc_i["s"], inc_i["e"] + 10 * M, inc_i["id"]))
                r = 2.3 * rate * w / wsum / pods
                for t in arrivals(rng, t0, t1, r * 1.2, lambda t: (0.35 + 0.65 * diurnal(t, 1)) / 1.2):
                    p.send(t, api, h.get(t), h=h)
    # nightly batch jobs with cached tokens, refreshed only after a 401
    for job, api, start_h, dur_h, rate in (("fare-sync", "fares-api", 1.0, 1.3, 0.5),
                                           ("loyalty-accrual", "inventory-api", 2.5, 0.75, 0.4)):  # fmt: skip
        sid = f"spiffe://skyway.internal/ns/batch/sa/{job}"
        h = Holder(mi, sid, sid, api, lazy=True)
        h.stamp = lambda t: 0.0
        for day0 in range(int(t0 // 86400), int(t1 // 86400) + 1):
            s = day0 * 86400 + start_h * H + rng.uniform(0, 300)
            for t in arrivals(rng, s, s + dur_h * H, rate * p.scale, lambda t: 1.0):
                tok = h.get(t)
                p.send(t, api, tok, h=h)
                if tok is not None and t > tok.exp + APIS[api]["leeway"]:
                    h.refresh(t + 0.2)
                    p.send(t + 0.3, api, h.tok, h=h)


def pop_scanners(p: Plan, inc):
    rng = p.rng
    public = ["booking-api", "loyalty-api", "agency-api", "checkin-api"]
    rate = rng.uniform(1, 3) / 60
    for t in arrivals(rng, p.t0, p.t1, rate, lambda t: 1.0):
        p.garbage(t, rng.choice(public))
    for i in inc:
        if i["kind"] == "attack_burst":
            for t in arrivals(rng, i["s"], i["e"], i["per_min"] / 60, lambda t: 1.0):
                p.garbage(t, rng.choice(i["apis"]), (i["id"],))


# --------------------------------------------------------------------------------------------------------------
# incidents wired into issuers


def wire_incidents(rng, iss, t0, specs):
    out = []
    for n, spec in enumerate(specs):
        i = dict(spec)
        i["id"] = f"{i['kind']}-{n + 1}"
        i["s"] = t0 + i["at"] * H
        i["e"] = i["s"] + i.get("dur_min", 0) * M
        kind = i["kind"]
        if kind == "kid_before_publish":
            ix = iss[i["issuer"]]
            cur = ix.signing_key(i["s"])
            cur.sign_until = i["s"]
            k = ix.add_key(i["s"] + i["delay_min"] * M, i["s"], t0 + 40 * 86400, t0 + 40 * 86400, "z")
            k.kbp_tag = i["id"]
            i["kid"] = k.kid
            i["e"] = i["s"] + i["delay_min"] * M
        elif kind == "key_removed_early":
            ix = iss[i["issuer"]]
            cur = ix.signing_key(i["s"])
            cur.sign_until = i["s"]
            cur.publish_until = i["s"] + i["after_min"] * M
            cur.kre_tag = i["id"]
            ix.add_key(i["s"] - 2 * H, i["s"], t0 + 40 * 86400, t0 + 40 * 86400, "y")
            i["kid"] = cur.kid
        elif kind == "signature_spike":
            ix = iss[i["issuer"]]
            k = ix.signing_key(i["s"])
            k.rogue.append((i["s"], i["e"], new_private(ix.alg), i["id"]))
            i["kid"] = k.kid
        elif kind == "jwks_outage":
            iss[i["issuer"]].outages.append((i["s"], i["e"], i["id"]))
        elif kind == "issuer_stalled":
            iss[i["issuer"]].stalls.append((i["s"], i["e"], i["id"]))
        elif kind == "server_clock_skew" and "issuer" in i:
            iss[i["issuer"]].skews.append((i["s"], i["e"], i["offset"], i["id"]))
        out.append(i)
    return out


def label_entity(i):
    kind = i["kind"]
    ent = {"issuer": None, "kid": None, "client_id": None, "profile": None}
    if kind in ("kid_before_publish", "key_removed_early", "signature_spike"):
        ent["kid"] = i["kid"]
    elif kind in ("jwks_outage", "issuer_stalled"):
        ent["issuer"] = i["iss_url"]
    elif kind == "server_clock_skew":
        if "issuer" in i:
            ent["issuer"] = i["iss_url"]
        else:
            ent["profile"] = i["api"]
    elif kind == "audience_misconfig":
        if "api" in i:
            ent["profile"] = i["api"]
        else:
            ent["client_id"] = i["client"]
    elif kind in ("clock_skew", "type_confusion"):
        if i.get("mesh_service"):
            ent["client_id"] = f"spiffe://skyway.internal/ns/prod/sa/{i['mesh_service']}"
        elif i.get("gate_hub"):
            ent["client_id"] = "gate-reader"
        elif i.get("agency"):
            ent["client_id"] = i["agency"]
        else:
            ent["client_id"] = i["client"]
    return ent


def describe(i):
    keys = ("issuer", "api", "client", "agency", "mesh_service", "gate_hub", "offset", "drift_to", "delay_min",
            "after_min", "dur_min", "per_min", "share", "replicas", "replica", "crash", "apis")  # fmt: skip
    return ", ".join(f"{k}={i[k]}" for k in keys if k in i and i[k] is not None)


# --------------------------------------------------------------------------------------------------------------
# the key-set server

NOW = [0.0]


def start_server(iss):
    by_slug = {f"/{name}/jwks.json": ix for name, ix in iss.items()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            ix = by_slug.get(self.path)
            now = NOW[0]
            if ix is None:
                self.send_error(404)
                return
            if any(s <= now < e for s, e, _tag in ix.outages):
                self._answer(503, b'{"error":"unavailable"}')
                return
            for s, e, mode in ix.blips:
                if s <= now < e:
                    if mode == "hang":
                        time.sleep(1.2)
                        self._answer(504, b"{}")
                    else:
                        self._answer(int(mode), b'{"error":"upstream"}')
                    return
            self._answer(200, json.dumps({"keys": ix.published(now)}).encode())

        def _answer(self, code, body):
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=300")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


# --------------------------------------------------------------------------------------------------------------
# validators (built cold for each replica life)


def peek(raw, part):
    """The app's unverified look at a segment (to pick the key); {} when it does not parse."""
    try:
        seg = raw.split(".")[part]
        out = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    except (ValueError, IndexError, TypeError, AttributeError):
        return {}
    return out if isinstance(out, dict) else {}


class OwnCache:
    """An application's own key-set cache: TTL, refetch on unknown kid at most once a minute, fails hard."""

    def __init__(self, url, ttl=600.0, cooldown=60.0):
        self.url, self.ttl, self.cooldown = url, ttl, cooldown
        self.doc = None
        self.fetched = -1e18
        self.tried = -1e18

    def _fetch(self):
        self.tried = time.time()
        with urllib.request.urlopen(self.url, timeout=1.0) as r:  # loopback only
            self.doc = json.loads(r.read())
        self.fetched = time.time()

    def jwks(self, kid):
        now = time.time()
        if self.doc is None or now - self.fetched >= self.ttl:
            self._fetch()
        elif kid not in {k.get("kid") for k in self.doc["keys"]} and now - self.tried >= self.cooldown:
            try:
                self._fetch()
            except OSError:
                pass
        return self.doc


def make_validator(life: Life, iss, base):
    import jwtobs

    cfg = APIS[life.api]
    name, aud, leeway = life.api, life.aud, cfg["leeway"]
    ixs = [iss[n] for n in cfg["issuers"]]
    urls = {ix.iss: f"{base}/{ix.name}/jwks.json" for ix in ixs}
    path = cfg["path"]
    if path == "verifier":
        verifiers = []
        for ix in ixs:
            prof = jwtobs.Profile(name=name, issuer=ix.iss, audience=aud, algorithms=(ix.alg,),
                                  token_type=cfg["typ"], leeway=leeway)  # fmt: skip
            src = jwtobs.JwksSource(urls[ix.iss], issuer=ix.iss, timeout=0.5, clock=time.time)
            verifiers.append(jwtobs.Verifier(prof, keys=src, backend=cfg["backend"]))
        v = verifiers[0] if len(verifiers) == 1 else jwtobs.VerifierSet(verifiers)
        return v.verify
    if path == "pyjwt":
        import jwt

        ix = ixs[0]
        client = jwt.PyJWKClient(urls[ix.iss], cache_jwk_set=True, lifespan=300, timeout=1)

        def validate(token):
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=aud, issuer=ix.iss, leeway=leeway,
                              options={"require": ["exp", "iat", "iss", "aud"]})  # fmt: skip

        return jwtobs.wrap(validate, library="pyjwt", profile=name)
    if path == "joserfc":
        from joserfc import jwt as jjwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        caches = {ix.iss: OwnCache(urls[ix.iss]) for ix in ixs}
        regs = {ix.iss: JWTClaimsRegistry(leeway=leeway, iss={"essential": True, "value": ix.iss},
                                          aud={"essential": True, "value": aud}, exp={"essential": True})
                for ix in ixs}  # fmt: skip
        algs = sorted({ix.alg for ix in ixs})
        sets: dict = {}

        def validate(token):
            iss_ = peek(token, 1).get("iss")
            cache = caches.get(iss_) or next(iter(caches.values()))
            doc = cache.jwks(peek(token, 0).get("kid"))
            ks = sets.get(id(doc))
            if ks is None:
                ks = sets[id(doc)] = KeySet.import_key_set(doc)
            tok = jjwt.decode(token, ks, algorithms=algs)
            (regs.get(iss_) or next(iter(regs.values()))).validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=name)
    if path == "jose":
        from jose import jwt as jose_jwt

        ix = ixs[0]
        cache = OwnCache(urls[ix.iss], ttl=300.0)

        def validate(token):
            kid = peek(token, 0).get("kid")
            doc = cache.jwks(kid)
            keys = [k for k in doc["keys"] if k.get("kid") == kid] or doc["keys"]
            key = keys[0] if len(keys) == 1 else {"keys": keys}
            return jose_jwt.decode(token, key, algorithms=["RS256"], audience=aud, issuer=ix.iss,
                                   options={"leeway": leeway, "require_exp": True})  # fmt: skip

        return jwtobs.wrap(validate, library="jose", profile=name)
    if path == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        ix = ixs[0]
        cache = OwnCache(urls[ix.iss])
        sets = {}

        def validate(token):
            doc = cache.jwks(peek(token, 0).get("kid"))
            ks = sets.get(id(doc))
            if ks is None:
                ks = sets[id(doc)] = cjwk.JWKSet.from_json(json.dumps(doc))
            t = cjwt.JWT(jwt=token, key=ks, algs=["ES256"],
                         check_claims={"iss": ix.iss, "aud": aud, "exp": None, "nbf": None})  # fmt: skip
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=name)
    raise ValueError(path)


# --------------------------------------------------------------------------------------------------------------
# one timeline


class _MonotonicShim:
    """``time`` as seen by PyJWT's key-set cache: monotonic follows the simulated wall clock."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def monotonic():
        return time.time()


def iso(t):
    return dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_timeline(args):
    name, out, seed, scale = args
    wall0 = time.perf_counter()
    import warnings

    warnings.filterwarnings("ignore")
    import jwt
    import jwt.jwk_set_cache
    import jwt.jwks_client
    import time_machine
    from cryptography.hazmat.primitives.asymmetric import rsa

    import jwtobs

    jwt.jwk_set_cache.time = _MonotonicShim()
    jwt.jwks_client.time = _MonotonicShim()
    ATTACKER_KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    rng = random.Random(seed)
    quiet = name.startswith("quiet")
    idx = int(name.split("-")[1])
    if quiet:
        t0 = dt.datetime(2026, 5, idx, tzinfo=UTC).timestamp()
        t1 = t0 + 24 * H
    else:
        t0 = dt.datetime(2026, 5, 10 + idx, 5, tzinfo=UTC).timestamp()
        t1 = t0 + 12 * H
    iss = build_issuers(rng, t0, t1)
    inc = [] if quiet else wire_incidents(rng, iss, t0, INCIDENTS[name])
    for i in inc:
        if i.get("issuer") in iss:
            i["iss_url"] = iss[i["issuer"]].iss
    plan = Plan(rng, t0, t1, scale)
    pop_mesh(plan, iss, inc)
    pop_partners(plan, iss, inc)
    pop_customers(plan, iss, inc)
    pop_crew(plan, iss, inc)
    device_fleet(plan, iss, inc, "checkin-api", "kiosk-fleet", 120, 4.0, 2)
    device_fleet(plan, iss, inc, "ops-api", "gate-reader", 60, 7.0, 1)
    pop_ops_portal(plan, iss, inc)
    pop_scanners(plan, inc)
    plan_s = time.perf_counter() - wall0

    lives = build_lives(rng, t0, t1, inc)
    # route
    plan.reqs.sort(key=lambda r: r[0])
    for t, api, raw, tags in plan.reqs:
        live = [lf for lf in lives[api] if lf.start <= t < lf.end] or lives[api][:1]
        lf = live[0] if len(live) == 1 else live[rng.randrange(len(live))]
        extra = ()
        if lf.aud_tag:
            extra += (lf.aud_tag,)
        for s, e, _off, tag in lf.skews:
            if s <= t < e:
                extra += (tag,)
        lf.reqs.append((t, raw, tags + extra if extra else tags))

    tdir = Path(out) / name
    edir = tdir / "events"
    edir.mkdir(parents=True, exist_ok=True)
    for f in edir.glob("*.jsonl"):
        f.unlink()
    srv, base = start_server(iss)
    per_file: dict[str, list] = collections.defaultdict(list)
    fp_key = b64u(random.Random(seed ^ 0x5EED).randbytes(32))
    all_lives = sorted((lf for v in lives.values() for lf in v), key=lambda lf: (lf.start, lf.api, lf.replica))
    with time_machine.travel(t0, tick=False) as trav:
        for lf in all_lives:
            if not lf.reqs:
                continue
            fname = f"{lf.api}.{lf.replica}.jsonl"
            jwtobs.flush()
            jwtobs.configure(events_path=str(edir / fname), service=lf.api, fingerprint_key=fp_key)
            NOW[0] = lf.reqs[0][0]
            trav.move_to(lf.reqs[0][0])
            validate = make_validator(lf, iss, base)
            for t, raw, tags in lf.reqs:
                NOW[0] = t
                off = 0.0
                for s, e, o, _tag in lf.skews:
                    if s <= t < e:
                        off = o
                trav.move_to(t + off)
                try:
                    validate(raw)
                except Exception:  # rejections are what we record
                    pass
                per_file[fname].append(tags)
        jwtobs.flush()
    srv.shutdown()

    # labels
    incs = {i["id"]: i for i in inc}
    stats = {i: {"count": 0, "first": None, "last": None} for i in incs}
    reasons: collections.Counter = collections.Counter()
    mismatches = {}
    n_val = n_rej = 0
    for fname, tag_list in per_file.items():
        api = fname.split(".")[0]
        rows = []
        with open(edir / fname, "rb") as fh:
            for line in fh:
                ev = json.loads(line)
                if "event" not in ev:
                    rows.append(ev)
        if len(rows) != len(tag_list):
            mismatches[fname] = {"events": len(rows), "requests": len(tag_list)}
        for ev, tags in zip(rows, tag_list, strict=False):
            n_val += 1
            if ev["outcome"] != "rejected":
                continue
            n_rej += 1
            reasons[ev["reason"]] += 1
            for tag in tags:
                kind = incs[tag]["kind"]
                ok = COUNTED_REASONS[kind]
                r = ev["reason"]
                if ok is not None and r not in ok:
                    continue
                if r == "JWT_BAD_SIGNATURE" and kind in ("kid_before_publish", "key_removed_early"):
                    if api not in KID_BAD_SIGNATURE_APIS:
                        continue
                st = stats[tag]
                st["count"] += 1
                st["first"] = ev["time"] if st["first"] is None or ev["time"] < st["first"] else st["first"]
                st["last"] = ev["time"] if st["last"] is None or ev["time"] > st["last"] else st["last"]
    labelled, missing = [], []
    for i in inc:
        st = stats[i["id"]]
        row = {"id": i["id"], "kind": i["kind"], "start": st["first"], "end": st["last"], "count": st["count"]}
        row.update(label_entity(i))
        row["detail"] = describe(i)
        (labelled if st["count"] else missing).append(row)
    labels = {"timeline": name, "quiet": quiet, "seed": seed, "start": iso(t0), "end": iso(t1),
              "generator": "fleet40", "incidents": labelled}  # fmt: skip
    (tdir / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    summary = {
        "timeline": name,
        "seed": seed,
        "scale": scale,
        "validations": n_val,
        "requests": sum(len(v) for v in per_file.values()),
        "rejections": n_rej,
        "rejection_rate": round(n_rej / max(n_val, 1), 4),
        "reasons": dict(reasons.most_common()),
        "files": len(per_file),
        "lives": sum(1 for lf in all_lives if lf.reqs),
        "tokens_signed": sum(ix.signed for ix in iss.values()),
        "incidents_injected": len(inc),
        "incidents_labelled": len(labelled),
        "incidents_without_counted_rejection": missing,
        "count_mismatches": mismatches,
        "plan_seconds": round(plan_s, 1),
        "wall_seconds": round(time.perf_counter() - wall0, 1),
    }
    (tdir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=4000)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or TIMELINES
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n!r}; one of {', '.join(TIMELINES)}")
    if a.score_only:
        return _score(a.out, names)
    tasks = [(n, a.out, a.seed_base + TIMELINES.index(n), a.scale) for n in names]
    tasks.sort(key=lambda x: not x[0].startswith("quiet"))  # the long ones first
    wall0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    results = []
    with ctx.Pool(max(1, a.workers), maxtasksperchild=1) as pool:
        for s in pool.imap_unordered(run_timeline, tasks):
            results.append(s)
            print(
                f"{s['timeline']}: {s['validations']} validations, {s['rejection_rate']:.2%} rejected, "
                f"{s['incidents_labelled']}/{s['incidents_injected']} incidents labelled, "
                f"mismatches {len(s['count_mismatches'])}, {s['wall_seconds']} s",
                flush=True,
            )
    total = round(time.perf_counter() - wall0, 1)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "summary.json").write_text(
        json.dumps(
            {"wall_seconds": total, "workers": a.workers, "timelines": sorted(results, key=lambda s: s["timeline"])},
            indent=1,
        )
        + "\n"
    )
    print(f"total wall {total} s")
    return _score(a.out, names) if a.score else 0


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


if __name__ == "__main__":
    sys.exit(main())
