"""fleet58: a blind benchmark fleet for jwtobs's incident detectors - a food-delivery marketplace.

Written without reading the detectors (only the public API and its docs). Every event is written by jwtobs itself
from a real validation: keys generated at run time with ``cryptography``, tokens signed with PyJWT, key sets served
by a real ``http.server`` on 127.0.0.1 (port 0) whose answer depends on the simulated time (publication schedules,
outages), time moved with ``time_machine`` (``travel(tick=False)`` then ``move_to`` before each validation), one
events file per replica of each API (``<out>/<timeline>/events/<api>-<replica>.jsonl``), one process per replica
file (a fork pool of ``--workers`` processes).

Issuers
    customer IdP   https://id.forkful.example               RS256, at+jwt, 30 min, ios/android/web customer apps
    courier IdP    https://courier-id.forkful.example       ES256, at+jwt, 60 min, courier apps (long shifts)
    partner AS     https://partners.forkful.example/oauth2  RS256, at+jwt, client credentials: POS vendors 8-24 h,
                                                            restaurant tablets 12 h
    merchant SSO   https://login.bigchain-holdings.example/adfs  RS256, typ JWT, 60 min (an enterprise IdP)
    service mesh   https://mesh-ca.forkful.internal         ES256, at+jwt, 5 min workload tokens
    payments       https://callbacks.paystream.example      ES256, typ JWT, one 5 min token per callback
    POS webhooks   https://hooks.tillbox.example            RS256, typ JWT, one 10 min token per order webhook,
                                                            signed with the partner's own (skewed) clock

APIs (service = profile name; validator kind; leeway; replicas)
    orders-api      jwtobs.VerifierSet: customer (backend pyjwt) + courier (backend joserfc), JwksSource; 30 s;
                    4 replicas + 1 autoscaled at peaks
    tracking-api    jwtobs.wrap(jwt.decode) + PyJWKClient (courier location uploads); 60 s; 3 replicas
    session-api     python-jose (customer sessions, login refresh; credential stuffing lands here); 0 s; 2 replicas
    partner-api     joserfc decode + JWTClaimsRegistry (POS polling, tablets); 120 s; 2 replicas
    merchant-portal Authlib decode + validate (merchant SSO); 10 s; 2 replicas
    webhooks-gw     jwcrypto (payment callbacks, POS order webhooks); 5 s; 2 replicas
    dispatch-svc    jwtobs.Verifier backend authlib (mesh tokens); 15 s; 3 replicas
The wrapped apps fetch key sets themselves (TTL 300 s, unknown kid refetch after a 30 s cooldown, last-known-good
kept; no key set at all is raised as ``TokenRejected(JWKS_UNAVAILABLE)``). PyJWKClient's clocks read the
simulated time.

Background (every timeline): lunch and dinner peaks, Friday/Saturday nights, a promo surge; sessions of devices
drawn from pools per client id, each device with its own clock (most within 2 s, some minutes off, some drifting,
some booting with a wrong RTC until NTP fixes it); apps resumed with a token they held for minutes to days (one
401, then refresh), integrations that refresh only after a 401 (a few 401s), tablets and POS replaying a cached
token after a restart, payment callbacks retried with the same signed token minutes to hours later; scanners
(1-3 garbage tokens/min: alg none, random kid, typ JWT without client id, tampered, truncated, huge, HS256 with the
public key, years-expired); healthy key rotations with overlap; JWKS blips (short 503s / resets); rolling deploys,
crashes and autoscaled replicas (cold caches).

Incidents (``INCIDENTS``): all kinds of ``jwtobs.kinds.KIND_INFO``, 2-4 each over the four incident timelines,
including hard ones (small offsets, one device group, busy hours). Labels count only rejections of requests tagged
at generation with the incident (token tags end 15 min after the token's exp) whose reason the kind causes.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.server
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict

GENERATOR = "fleet58"
TAG_GRACE = 900.0

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

# ----------------------------------------------------------------------------------------------------- the world
CUST = "https://id.forkful.example"
COUR = "https://courier-id.forkful.example"
PART = "https://partners.forkful.example/oauth2"
MSSO = "https://login.bigchain-holdings.example/adfs"
MESH = "https://mesh-ca.forkful.internal"
PAY = "https://callbacks.paystream.example"
HOOK = "https://hooks.tillbox.example"

# issuer -> (slug, alg, typ, lifetime s, stamps nbf)
ISSUERS = {
    CUST: ("cust", "RS256", "at+jwt", 1800, False),
    COUR: ("cour", "ES256", "at+jwt", 3600, True),
    PART: ("part", "RS256", "at+jwt", 7200, False),
    MSSO: ("msso", "RS256", "JWT", 3600, True),
    MESH: ("mesh", "ES256", "at+jwt", 300, True),
    PAY: ("pay", "ES256", "JWT", 300, True),
    HOOK: ("hook", "RS256", "JWT", 600, True),
}

# api -> (kind, issuers, audience, leeway, replicas, autoscaled replicas)
APIS = {
    "orders-api": ("verifierset", (CUST, COUR), "orders-api", 30, 4, 1),
    "tracking-api": ("pyjwt", (COUR,), "tracking-api", 60, 3, 0),
    "session-api": ("jose", (CUST,), "session-api", 0, 2, 0),
    "partner-api": ("joserfc", (PART,), "partner-api", 120, 2, 0),
    "merchant-portal": ("authlib", (MSSO,), "merchant-portal", 10, 2, 0),
    "webhooks-gw": ("jwcrypto", (PAY, HOOK), "webhooks-gw", 5, 2, 0),
    "dispatch-svc": ("verifier", (MESH,), "dispatch-svc", 15, 3, 0),
}

# client types: client_id -> dict(issuer, apis (weights), devices, rate (sessions/h at 1.0), session (min, max s),
#   reqs (min, max per session), margin (refresh before exp, s), p_resume (stale token at session start),
#   p_retry401 (presents the same rejected token again), lazy (refresh only after a 401), offs (clock mix))
CLIENTS = {
    "ios-customer": dict(
        iss=CUST,
        apis={"orders-api": 0.75, "session-api": 0.25},
        devices=5000,
        rate=260,
        session=(120, 1500),
        reqs=(4, 22),
        margin=60,
        p_resume=0.312,
        p_retry401=0.05,
        lazy=False,
        offs="phone",
    ),
    "android-customer": dict(
        iss=CUST,
        apis={"orders-api": 0.75, "session-api": 0.25},
        devices=6000,
        rate=300,
        session=(120, 1500),
        reqs=(4, 22),
        margin=60,
        p_resume=0.374,
        p_retry401=0.10,
        lazy=False,
        offs="phone",
    ),
    "web-customer": dict(
        iss=CUST,
        apis={"orders-api": 0.8, "session-api": 0.2},
        devices=3000,
        rate=110,
        session=(60, 1200),
        reqs=(3, 15),
        margin=30,
        p_resume=0.25,
        p_retry401=0.02,
        lazy=False,
        offs="pc",
    ),
    "courier-android": dict(
        iss=COUR,
        apis={"tracking-api": 0.75, "orders-api": 0.25},
        devices=900,
        rate=70,
        session=(1800, 14400),
        reqs=(20, 90),
        margin=120,
        p_resume=0.468,
        p_retry401=0.35,
        lazy=False,
        offs="courier",
    ),
    "courier-ios": dict(
        iss=COUR,
        apis={"tracking-api": 0.75, "orders-api": 0.25},
        devices=500,
        rate=40,
        session=(1800, 14400),
        reqs=(20, 90),
        margin=120,
        p_resume=0.312,
        p_retry401=0.2,
        lazy=False,
        offs="phone",
    ),
    "pos-toastly": dict(
        iss=PART,
        apis={"partner-api": 1.0},
        devices=120,
        rate=30,
        session=(3600, 14400),
        reqs=(30, 80),
        margin=300,
        p_resume=0.156,
        p_retry401=0.1,
        lazy=False,
        offs="server",
    ),
    "pos-legacy": dict(
        iss=PART,
        apis={"partner-api": 1.0},
        devices=60,
        rate=12,
        session=(3600, 14400),
        reqs=(30, 80),
        margin=0,
        p_resume=0.5,
        p_retry401=0.5,
        lazy=True,
        offs="server",
    ),
    "tablet-fleet": dict(
        iss=PART,
        apis={"partner-api": 1.0},
        devices=400,
        rate=40,
        session=(1800, 10800),
        reqs=(10, 40),
        margin=120,
        p_resume=0.5,
        p_retry401=0.3,
        lazy=False,
        offs="tablet",
    ),
    "merchant-portal-spa": dict(
        iss=MSSO,
        apis={"merchant-portal": 1.0},
        devices=700,
        rate=45,
        session=(300, 3600),
        reqs=(5, 30),
        margin=60,
        p_resume=0.468,
        p_retry401=0.1,
        lazy=False,
        offs="pc",
    ),
    "franchise-bi": dict(
        iss=MSSO,
        apis={"merchant-portal": 1.0},
        devices=6,
        rate=3,
        session=(600, 3600),
        reqs=(20, 60),
        margin=0,
        p_resume=0.5,
        p_retry401=0.6,
        lazy=True,
        offs="server",
    ),
    "order-svc": dict(
        iss=MESH,
        apis={"dispatch-svc": 1.0},
        devices=60,
        rate=40,
        session=(600, 1800),
        reqs=(40, 140),
        margin=30,
        p_resume=0.0,
        p_retry401=0.0,
        lazy=False,
        offs="server",
    ),
    "eta-svc": dict(
        iss=MESH,
        apis={"dispatch-svc": 1.0},
        devices=40,
        rate=30,
        session=(600, 1800),
        reqs=(40, 140),
        margin=30,
        p_resume=0.0,
        p_retry401=0.0,
        lazy=False,
        offs="server",
    ),
}
MESH_CLIENTS = ("order-svc", "eta-svc")
EXP_CLAIM_CLOCKS = ("tablet", "courier", "pc")
EXP_CLAIM_CLIENTS = ("courier-ios",)
CALLBACK_CLIENTS = {"paystream-webhooks": PAY, "tillbox-orders": HOOK}
CUSTOMER_CLIENTS = ("ios-customer", "android-customer", "web-customer")

DAY = 86400.0
QUIET_HOURS = 24
INCIDENT_HOURS = 12

# timeline -> (start, hours, quiet, promo)
TIMELINES = {
    "quiet-mon": ("2026-11-02T00:00:00Z", QUIET_HOURS, True, False),
    "quiet-wed": ("2026-11-04T00:00:00Z", QUIET_HOURS, True, False),
    "quiet-fri": ("2026-11-06T00:00:00Z", QUIET_HOURS, True, False),
    "quiet-promo-sat": ("2026-11-07T00:00:00Z", QUIET_HOURS, True, True),
    "inc-tue": ("2026-11-10T10:00:00Z", INCIDENT_HOURS, False, False),
    "inc-thu": ("2026-11-12T10:00:00Z", INCIDENT_HOURS, False, False),
    "inc-fri-night": ("2026-11-13T10:00:00Z", INCIDENT_HOURS, False, False),
    "inc-sun-promo": ("2026-11-15T10:00:00Z", INCIDENT_HOURS, False, True),
}

# incidents: at / until in hours from the timeline start; params per kind
INCIDENTS = [
    # kid_before_publish: the IdP starts signing with a new kid before its key set publishes it
    dict(id="kbp-cust", timeline="inc-tue", kind="kid_before_publish", issuer=CUST, at=2.2, until=2.7),
    dict(id="kbp-part", timeline="inc-thu", kind="kid_before_publish", issuer=PART, at=5.0, until=6.5),
    dict(id="kbp-msso", timeline="inc-sun-promo", kind="kid_before_publish", issuer=MSSO, at=8.1, until=8.35),
    # key_removed_early: the old key leaves the key set while its tokens are still valid
    dict(id="kre-part", timeline="inc-tue", kind="key_removed_early", issuer=PART, at=6.0, switch=4.9),
    dict(id="kre-cour", timeline="inc-fri-night", kind="key_removed_early", issuer=COUR, at=3.3, switch=2.9),
    dict(id="kre-cust", timeline="inc-thu", kind="key_removed_early", issuer=CUST, at=9.05, switch=8.9),
    # jwks_outage: the key set endpoint answers 503 / resets; cold caches and new kids fail
    dict(id="jo-cust", timeline="inc-tue", kind="jwks_outage", issuer=CUST, at=8.5, until=9.3, deploy="orders-api"),
    dict(id="jo-cour", timeline="inc-thu", kind="jwks_outage", issuer=COUR, at=2.0, until=2.6, deploy="tracking-api"),
    dict(
        id="jo-mesh",
        timeline="inc-fri-night",
        kind="jwks_outage",
        issuer=MESH,
        at=7.6,
        until=7.9,
        deploy="dispatch-svc",
    ),
    # signature_spike: the key under a kid is replaced in the key set while the issuer signs with the old one
    dict(id="ss-hook", timeline="inc-thu", kind="signature_spike", issuer=HOOK, at=7.0, until=7.7),
    dict(id="ss-cour", timeline="inc-sun-promo", kind="signature_spike", issuer=COUR, at=3.0, until=3.4),
    # clock_skew: a client's (or a device group's) clock
    dict(
        id="cs-cour-grp",
        timeline="inc-tue",
        kind="clock_skew",
        client="courier-android",
        at=0.5,
        until=4.0,
        offset=-900,
        drift=0.0,
        share=0.08,
    ),
    dict(
        id="cs-hook",
        timeline="inc-thu",
        kind="clock_skew",
        client="tillbox-orders",
        at=3.5,
        until=5.0,
        offset=150,
        drift=0.0,
        share=1.0,
    ),
    dict(
        id="cs-tablet",
        timeline="inc-fri-night",
        kind="clock_skew",
        client="tablet-fleet",
        at=1.0,
        until=5.0,
        offset=-300,
        drift=-0.15,
        share=0.2,
    ),
    dict(
        id="cs-web",
        timeline="inc-sun-promo",
        kind="clock_skew",
        client="web-customer",
        at=5.5,
        until=7.5,
        offset=-420,
        drift=0.0,
        share=0.12,
    ),
    # server_clock_skew: an issuer's clock, or one validator replica's
    dict(id="scs-mesh", timeline="inc-tue", kind="server_clock_skew", issuer=MESH, at=10.0, until=10.6, offset=75),
    dict(
        id="scs-orders3",
        timeline="inc-thu",
        kind="server_clock_skew",
        api="orders-api",
        replica=2,
        at=8.0,
        until=8.8,
        offset=-240,
    ),
    dict(
        id="scs-cust", timeline="inc-fri-night", kind="server_clock_skew", issuer=CUST, at=9.0, until=9.5, offset=-420
    ),
    # issuer_stalled: token endpoint down, clients keep presenting what they hold
    dict(id="st-msso", timeline="inc-tue", kind="issuer_stalled", issuer=MSSO, at=4.5, until=6.0),
    dict(id="st-cour", timeline="inc-sun-promo", kind="issuer_stalled", issuer=COUR, at=9.0, until=9.6),
    dict(id="st-part", timeline="inc-fri-night", kind="issuer_stalled", issuer=PART, at=0.3, until=2.2),
    # audience_misconfig: an API deployed with the wrong audience, or one client asking for the wrong one
    dict(
        id="am-merchant",
        timeline="inc-thu",
        kind="audience_misconfig",
        api="merchant-portal",
        at=10.2,
        until=10.5,
        wrong="merchant-portal-v2",
        replicas=(0, 1),
    ),
    dict(
        id="am-tracking",
        timeline="inc-fri-night",
        kind="audience_misconfig",
        api="tracking-api",
        at=8.3,
        until=8.55,
        wrong="tracking",
        replicas=(1,),
    ),
    dict(
        id="am-pos",
        timeline="inc-sun-promo",
        kind="audience_misconfig",
        client="pos-toastly",
        at=1.5,
        until=4.0,
        wrong="partner-api-sandbox",
        share=0.3,
    ),
    # type_confusion: ID tokens sent to at+jwt APIs
    dict(id="tc-web", timeline="inc-tue", kind="type_confusion", client="web-customer", at=6.5, until=7.4, share=0.35),
    dict(
        id="tc-cour",
        timeline="inc-fri-night",
        kind="type_confusion",
        client="courier-ios",
        at=5.5,
        until=6.5,
        share=0.15,
    ),
    # attack_burst: credential stuffing / token forging waves
    dict(id="ab-session", timeline="inc-thu", kind="attack_burst", api="session-api", at=0.8, until=1.2, per_min=90),
    dict(
        id="ab-merchant",
        timeline="inc-sun-promo",
        kind="attack_burst",
        api="merchant-portal",
        at=6.2,
        until=6.5,
        per_min=12,
    ),
    dict(
        id="ab-orders", timeline="inc-fri-night", kind="attack_burst", api="orders-api", at=10.0, until=10.2, per_min=35
    ),
]


def _ts(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def _traffic(t, promo):
    """Relative demand at POSIX time t: breakfast, lunch and dinner peaks, late Friday/Saturday nights."""
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    h = d.hour + d.minute / 60.0
    base = 0.12 + 0.25 * math.exp(-((h - 8.5) ** 2) / 2.0) + 1.0 * math.exp(-((h - 12.6) ** 2) / 1.3)
    base += 0.35 * math.exp(-((h - 16.0) ** 2) / 3.0) + 1.25 * math.exp(-((h - 19.6) ** 2) / 2.0)
    wd = d.weekday()
    if wd in (4, 5):
        base *= 1.2
        base += 0.35 * math.exp(-((h - 23.0) ** 2) / 2.5)
    if wd == 6:
        base *= 1.1
    if promo and 11.0 <= h <= 14.5:
        base *= 1.45
    return base


# ----------------------------------------------------------------------------------------------------- keys
def _b64(n):
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _new_key(alg):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    k = rsa.generate_private_key(65537, 2048) if alg.startswith("RS") else ec.generate_private_key(ec.SECP256R1())
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _jwk(pem, kid, alg):
    from cryptography.hazmat.primitives import serialization

    pub = serialization.load_pem_private_key(pem, None).public_key()
    if alg.startswith("RS"):
        n = pub.public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": _b64(n.n), "e": _b64(n.e)}
    n = pub.public_numbers()
    return {
        "kty": "EC",
        "kid": kid,
        "use": "sig",
        "alg": alg,
        "crv": "P-256",
        "x": base64.urlsafe_b64encode(n.x.to_bytes(32, "big")).rstrip(b"=").decode(),
        "y": base64.urlsafe_b64encode(n.y.to_bytes(32, "big")).rstrip(b"=").decode(),
    }


# ----------------------------------------------------------------------------------------------------- the plan
class Plan:
    """Everything of one timeline decided in the parent: key schedules, outages, requests per shard, tags."""

    def __init__(self, name, seed, scale):
        start_s, hours, quiet, promo = TIMELINES[name]
        self.name, self.seed, self.scale = name, seed, scale
        self.start = _ts(start_s)
        self.end = self.start + hours * 3600
        self.quiet, self.promo = quiet, promo
        self.rng = random.Random(seed)
        self.incidents = [] if quiet else [dict(i) for i in INCIDENTS if i["timeline"] == name]
        self.keys = {}  # key name -> (issuer, alg) ; pem made later
        # per issuer: list of dict(kid, key, sign_from, sign_until, pub_from, pub_until, pub_key)
        self.sched = defaultdict(list)
        self.outages = defaultdict(list)  # issuer -> [(from, until, mode)]
        self.iss_off = defaultdict(list)  # issuer -> [(from, until, offset)]
        self.stalls = defaultdict(list)  # issuer -> [(from, until, id)]
        self.shards = defaultdict(list)  # (api, replica) -> [(t, tid, tags)]
        self.life = defaultdict(list)  # (api, replica) -> [(t, action, arg)]
        self.tokens = {}  # tid -> spec
        self.tok_tags = {}  # tid -> (tags, until)
        self.tid = 0
        self.injected = []

    # -- helpers
    def h(self, x):
        return self.start + x * 3600.0

    def key(self, issuer, name):
        self.keys[name] = (issuer, ISSUERS[issuer][1])
        return name

    def new_tid(self, spec, tags=(), tag_until=None):
        self.tid += 1
        self.tokens[self.tid] = spec
        if tags:
            self.tok_tags[self.tid] = (tuple(tags), tag_until)
        return self.tid

    def signing(self, issuer, t):
        """(kid, key) the issuer signs with at t."""
        for e in reversed(self.sched[issuer]):
            if e["sign_from"] <= t < e["sign_until"]:
                return e
        return self.sched[issuer][0]

    def replicas(self, api, t):
        _kind, _iss, _aud, _lw, n, auto = APIS[api]
        reps = list(range(n))
        if auto:
            d = dt.datetime.fromtimestamp(t, dt.UTC)
            h = d.hour + d.minute / 60.0
            if 11.5 <= h < 14.0 or 18.0 <= h < 22.0:
                reps += list(range(n, n + auto))
        return reps

    def route(self, api, t, sticky):
        reps = self.replicas(api, t)
        return api, reps[sticky % len(reps)] if self.rng.random() < 0.7 else self.rng.choice(reps)

    def add(self, api, rep, t, tid, tags=()):
        if self.start <= t < self.end:
            self.shards[(api, rep)].append((t, tid, tuple(tags)))

    # -- schedules
    def build_keys(self):
        r = self.rng
        for iss, (slug, _alg, _typ, _life, _nbf) in ISSUERS.items():
            cur = self.key(iss, f"{slug}-cur")
            self.sched[iss].append(
                dict(
                    kid=f"{slug}-{r.randrange(16**6):06x}",
                    key=cur,
                    sign_from=-1e18,
                    sign_until=1e18,
                    pub_from=-1e18,
                    pub_until=1e18,
                    pub_key=cur,
                )
            )
        # healthy rotations with overlap (published 1-3 h before use, old key kept past every token)
        busy = {
            i["issuer"]
            for i in self.incidents
            if i["kind"] in ("kid_before_publish", "key_removed_early", "signature_spike")
        }
        for iss in r.sample(sorted(set(ISSUERS) - busy), 3):
            _slug, _alg, _typ, life, _nbf = ISSUERS[iss]
            at = self.h(r.uniform(0.15, 0.8) * (self.end - self.start) / 3600)
            self._rotate(
                iss, at, publish=at - r.uniform(3600, 3 * 3600), remove=at + life + r.uniform(6 * 3600, 30 * 3600)
            )
        # JWKS blips: short 503s / resets (1-4 per timeline, 10-90 s)
        for _ in range(r.randint(1, 4)):
            iss = r.choice(sorted(ISSUERS))
            t0 = r.uniform(self.start, self.end - 600)
            self.outages[iss].append((t0, t0 + r.uniform(10, 90), r.choice(("503", "reset"))))

    def _rotate(self, iss, at, publish, remove, tag=None):
        slug = ISSUERS[iss][0]
        old = self.sched[iss][-1]
        name = self.key(iss, f"{slug}-k{len(self.sched[iss])}")
        new = dict(
            kid=f"{slug}-{self.rng.randrange(16**6):06x}",
            key=name,
            sign_from=at,
            sign_until=1e18,
            pub_from=publish,
            pub_until=1e18,
            pub_key=name,
            tag=tag,
        )
        old["sign_until"] = at
        old["pub_until"] = remove
        self.sched[iss].append(new)
        return old, new

    def lifecycle(self):
        r = self.rng
        for api, (_kind, _iss, _aud, _lw, n, auto) in APIS.items():
            # a rolling deploy of each API on most days; crashes now and then
            if r.random() < 0.8:
                t0 = r.uniform(self.start + 1800, self.end - 3600)
                for rep in range(n):
                    self.life[(api, rep)].append((t0 + rep * r.uniform(60, 180), "restart", None))
            for rep in range(n + auto):
                if r.random() < 0.25:
                    self.life[(api, rep)].append((r.uniform(self.start, self.end), "restart", None))

    # -- incidents
    def inject(self):
        for inc in self.incidents:
            k = inc["kind"]
            iid = inc["id"]
            a, u = self.h(inc["at"]), self.h(inc.get("until", inc["at"]))
            inc["_a"], inc["_u"] = a, u
            if k == "kid_before_publish":
                old, new = self._rotate(inc["issuer"], a, publish=u, remove=1e18, tag=iid)
                new["tag_mint_until"] = u + 600
            elif k == "key_removed_early":
                iss = inc["issuer"]
                sw = self.h(inc["switch"])
                old, new = self._rotate(iss, sw, publish=sw - 3 * 3600, remove=a)
                old["tag"] = iid
                old["tag_from"] = a
            elif k == "jwks_outage":
                self.outages[inc["issuer"]].append((a, u, "503"))
                api = inc["deploy"]
                _kind, iss, _aud, _lw, n, _auto = APIS[api]
                t0 = a + 0.35 * (u - a)
                for rep in range(n):  # a rolling deploy (cold caches) in the middle of the outage
                    self.life[(api, rep)].append((t0 + rep * 240, "restart", None))
            elif k == "signature_spike":
                e = self.signing(inc["issuer"], a)
                e.setdefault("swaps", []).append((a, u, self.key(inc["issuer"], f"{iid}-wrong"), iid))
            elif k == "server_clock_skew":
                if "issuer" in inc:
                    self.iss_off[inc["issuer"]].append((a, u, inc["offset"], iid))
                else:
                    key = (inc["api"], inc["replica"])
                    self.life[key].append((a, "clock", inc["offset"]))
                    self.life[key].append((u, "clock", 0))
            elif k == "issuer_stalled":
                self.stalls[inc["issuer"]].append((a, u, iid))
            elif k == "audience_misconfig" and "api" in inc:
                for rep in inc["replicas"]:
                    self.life[(inc["api"], rep)].append((a + rep * 90, "aud", inc["wrong"]))
                    self.life[(inc["api"], rep)].append((u + rep * 60, "aud", None))

    def issuer_offset(self, iss, t):
        for a, u, off, iid in self.iss_off.get(iss, ()):
            if a <= t < u:
                return off, iid
        return 0, None

    def stalled(self, iss, t):
        for a, u, iid in self.stalls.get(iss, ()):
            if a <= t < u:
                return iid
        return None

    def window_tags(self, client, iss, api, rep, t):
        tags = []
        for inc in self.incidents:
            k = inc["kind"]
            a, u = inc["_a"], inc["_u"]
            if k == "jwks_outage" and inc["issuer"] == iss and a <= t < u + 60:
                tags.append(inc["id"])
            elif k == "issuer_stalled" and inc["issuer"] == iss and a <= t < u + TAG_GRACE:
                tags.append(inc["id"])
            elif (
                k == "server_clock_skew" and "api" in inc and (inc["api"], inc["replica"]) == (api, rep) and a <= t < u
            ):
                tags.append(inc["id"])
            elif (
                k == "audience_misconfig"
                and "api" in inc
                and inc["api"] == api
                and rep in inc["replicas"]
                and a <= t < u + 300
            ):
                tags.append(inc["id"])
            elif k == "signature_spike" and inc["issuer"] == iss and a <= t < u + 600:
                tags.append(inc["id"])
        return tags

    # -- tokens
    def mint(self, client, iss, t, aud=None, typ=None, id_token=False, tags=(), extra_off=0.0, sub=None):
        _slug, _alg, dtyp, life, nbf = ISSUERS[iss]
        off, off_iid = self.issuer_offset(iss, t)
        stamp = t + off + extra_off
        e = self.signing(iss, t)
        key = e["key"]
        tags = list(tags)
        if e.get("tag") and e.get("tag_from") is None and t < e.get("tag_mint_until", 1e18):
            tags.append(e["tag"])  # signed with a kid not yet published
        if off_iid:
            tags.append(off_iid)
        claims = {
            "iss": iss,
            "sub": sub or f"{client}:{self.rng.randrange(10**9)}",
            "iat": int(stamp),
            "exp": int(stamp + life),
            "jti": f"{self.rng.getrandbits(64):016x}",
        }
        if nbf:
            claims["nbf"] = int(stamp)
        if id_token:
            claims.update(aud=client, azp=client, nonce=f"{self.rng.getrandbits(48):012x}", auth_time=int(t) - 60)
            typ = "JWT"
        else:
            claims["aud"] = aud if aud is not None else self._aud(iss)
            claims["client_id" if iss not in (MSSO,) else "appid"] = client
            if iss in (CUST, COUR):
                claims["scope"] = "openid orders"
        e_tag_from = e.get("tag_from")
        if e.get("tag") and e_tag_from is not None and claims["exp"] + 0 > e_tag_from:
            tags.append(e["tag"])  # still valid when its key leaves the key set
        spec = ("sign", key, e["kid"], typ or dtyp, claims)
        until = claims["exp"] + TAG_GRACE
        return self.new_tid(spec, tags, until), claims

    @staticmethod
    def _aud(iss):
        return {
            CUST: ["orders-api", "session-api"],
            COUR: ["orders-api", "tracking-api"],
            PART: "partner-api",
            MSSO: "merchant-portal",
            MESH: "dispatch-svc",
            PAY: "webhooks-gw",
            HOOK: "webhooks-gw",
        }[iss]

    def tags_of(self, tid, t):
        tt = self.tok_tags.get(tid)
        if tt and t <= tt[1]:
            return list(tt[0])
        return []

    # -- traffic
    def clock_mix(self, kind):
        """A device's clock: (offset s, drift s/h)."""
        r = self.rng
        x = r.random()
        if kind == "server":
            return (r.gauss(0, 0.3), 0.0)
        if kind == "pc":
            return (r.gauss(0, 1.5), 0.0) if x < 0.97 else (r.uniform(-300, 300), 0.0)
        if kind == "tablet":  # left on for months: drift
            if x < 0.85:
                return (r.gauss(0, 2), 0.0)
            return (r.uniform(-200, 60), r.uniform(-3, 1))
        if kind == "courier":
            if x < 0.9:
                return (r.gauss(0, 2), 0.0)
            if x < 0.97:
                return (r.uniform(-240, 240), 0.0)
            return (r.uniform(-1800, -120), r.uniform(-2, 0))
        if x < 0.95:  # phone
            return (r.gauss(0, 1.5), 0.0)
        return (r.uniform(-180, 180), 0.0)

    def sessions(self):
        r = self.rng
        span = self.end - self.start
        for cid, c in CLIENTS.items():
            devices = {}
            # the clock_skew / type_confusion / wrong-audience incidents of this client
            incs = [i for i in self.incidents if i.get("client") == cid]
            rate = c["rate"] * self.scale * (0.25 if cid in MESH_CLIENTS else 0.58)
            # session arrivals: thinning of a Poisson process by the traffic curve (bounded loop)
            peak = 2.6 * (1.45 if self.promo else 1.0)
            t = self.start - 1800
            n_max = int(rate * peak * (span + 1800) / 3600 * 3) + 10
            for _ in range(n_max):
                t += r.expovariate(rate * peak / 3600.0)
                if t >= self.end:
                    break
                w = _traffic(t, self.promo) if cid not in MESH_CLIENTS else 0.3 + 0.7 * _traffic(t, self.promo)
                if r.random() * peak > w:
                    continue
                for _try in range(4):  # a device in a session already does not start another
                    dev_id = r.randrange(c["devices"])
                    dev = devices.get(dev_id)
                    if dev is None or dev["busy"] <= t:
                        break
                else:
                    continue
                if dev is None:
                    off, drift = self.clock_mix(c["offs"])
                    # a token held from an earlier session (seconds to days old)
                    last = self.start - r.expovariate(1 / 20000.0) if r.random() < 0.85 else None
                    dev = devices[dev_id] = dict(
                        id=dev_id,
                        off=off,
                        drift=drift,
                        tid=None,
                        claims=None,
                        last_seen=last,
                        grp=r.random(),
                        sticky=r.randrange(1000),
                        busy=-1e18,
                    )
                self._session(cid, c, dev, t, incs)

    def _session(self, cid, c, dev, t0, incs):
        r = self.rng
        iss = c["iss"]
        life = ISSUERS[iss][3]
        dur = r.uniform(*c["session"])
        n = r.randint(*c["reqs"])
        times = sorted(t0 + r.random() * dur for _ in range(n))
        dev["busy"] = t0 + dur
        boot_wrong = c["offs"] in ("tablet", "courier") and r.random() < 0.03
        boot_len = r.uniform(60, 300)
        # an app resumed (a tablet rebooted) presents the token it held, however old, before refreshing
        resume = dev["tid"] is not None and r.random() < c["p_resume"]
        if dev["tid"] is None and dev["last_seen"] is not None and r.random() < c["p_resume"]:
            t_old = min(dev["last_seen"], t0) - r.uniform(0, life)
            tid, claims = self.mint(cid, iss, t_old, sub=f"{cid}:{dev['id']}")
            dev.update(tid=tid, claims=claims, bexp=t_old + life, bug=False)
            resume = True
        pending_401 = False
        for t in times:
            if t >= self.end:
                break
            dev_off = dev["off"] + dev["drift"] * (t - self.start) / 3600.0
            if boot_wrong and t - t0 < boot_len:
                dev_off -= 86400 * 30  # the RTC reset: NTP has not answered yet
            skew_tags, bug_tags = [], []
            wrong_aud = None
            id_tok = False
            for inc in incs:
                if inc["_a"] <= t < inc["_u"] and dev["grp"] < inc.get("share", 1.0):
                    if inc["kind"] == "clock_skew":
                        dev_off = inc["offset"] + inc.get("drift", 0.0) * (t - inc["_a"])
                        skew_tags.append(inc["id"])
                    elif inc["kind"] == "type_confusion":
                        id_tok = True
                        bug_tags.append(inc["id"])
                    elif inc["kind"] == "audience_misconfig":
                        wrong_aud = inc["wrong"]
                        bug_tags.append(inc["id"])
            dev_now = t + dev_off
            if dev["tid"] is None:
                need = True
            elif resume:
                need = False
            elif pending_401:
                need = r.random() >= c["p_retry401"]
            elif c["lazy"]:
                need = False
            else:
                exp_seen = (
                    dev["claims"]["exp"] if c["offs"] in EXP_CLAIM_CLOCKS or cid in EXP_CLAIM_CLIENTS else dev["bexp"]
                )
                need = dev_now >= exp_seen - c["margin"]
            bug_now = bool(bug_tags)
            if dev["tid"] is not None and bug_now != dev.get("bug", False):
                need = True  # the buggy release starts / is rolled back
            resume = False
            if need:
                if self.stalled(iss, t) is not None:
                    if dev["tid"] is None:
                        continue  # cannot log in at all: no request reaches an API
                else:
                    tid, claims = self.mint(
                        cid, iss, t, aud=wrong_aud, id_token=id_tok, sub=f"{cid}:{dev['id']}", tags=bug_tags
                    )
                    dev.update(tid=tid, claims=claims, bexp=t + life, bug=bug_now)
                    pending_401 = False
            tid = dev["tid"]
            api = self._pick(c["apis"])
            api, rep = self.route(api, t, dev["sticky"])
            tags = self.tags_of(tid, t) + self.window_tags(cid, iss, api, rep, t) + skew_tags
            self.add(api, rep, t, tid, tags)
            # the client's view of a 401 (approximately: past the token's exp)
            pending_401 = t > dev["claims"]["exp"] + APIS[api][3]
        dev["last_seen"] = times[-1] if times else t0

    def _pick(self, weights):
        x = self.rng.random()
        acc = 0.0
        for k, w in weights.items():
            acc += w
            if x < acc:
                return k
        return k

    def callbacks(self):
        """Payment callbacks and POS order webhooks: one fresh token per delivery, retries reuse it."""
        r = self.rng
        span = self.end - self.start
        for cid, iss in CALLBACK_CLIENTS.items():
            rate = (160 if iss == PAY else 50) * self.scale
            peak = 2.6 * (1.45 if self.promo else 1.0)
            incs = [i for i in self.incidents if i.get("client") == cid]
            t = self.start
            for _ in range(int(rate * peak * span / 3600 * 3) + 10):
                t += r.expovariate(rate * peak / 3600.0)
                if t >= self.end:
                    break
                if r.random() * peak > _traffic(t, self.promo):
                    continue
                off, ctags = r.gauss(0, 0.5), []
                for inc in incs:
                    if inc["_a"] <= t < inc["_u"] and inc["kind"] == "clock_skew":
                        off = inc["offset"]
                        ctags.append(inc["id"])
                tid, _claims = self.mint(cid, iss, t, extra_off=off, sub=f"{cid}:evt")
                api, rep = self.route("webhooks-gw", t, r.randrange(100))
                self.add(
                    api,
                    rep,
                    t + r.uniform(0.05, 2),
                    tid,
                    self.tags_of(tid, t) + ctags + self.window_tags(cid, iss, api, rep, t),
                )
                if r.random() < 0.012:  # delivery retried later with the same signed token
                    tr = t
                    for _k in range(r.randint(1, 4)):
                        tr += r.choice((60, 300, 1800, 3600 * 2, 3600 * 6)) * r.uniform(0.8, 1.3)
                        api, rep = self.route("webhooks-gw", tr, r.randrange(100))
                        self.add(api, rep, tr, tid, self.tags_of(tid, tr) + self.window_tags(cid, iss, api, rep, tr))

    def garbage(self):
        """Scanners (1-3/min all day) and the attack bursts."""
        r = self.rng
        t = self.start
        targets = ["session-api", "orders-api", "merchant-portal", "partner-api", "webhooks-gw", "tracking-api"]
        per_min = r.uniform(1.0, 2.0)
        for _ in range(int((self.end - self.start) / 60 * 6) + 10):
            t += r.expovariate(per_min / 60.0)
            if t >= self.end:
                break
            api = r.choice(targets)
            self._junk(api, t, ())
        for inc in self.incidents:
            if inc["kind"] != "attack_burst":
                continue
            t = inc["_a"]
            for _ in range(int((inc["_u"] - inc["_a"]) / 60 * inc["per_min"] * 3) + 10):
                t += r.expovariate(inc["per_min"] / 60.0)
                if t >= inc["_u"]:
                    break
                self._junk(inc["api"], t, (inc["id"],), burst=True)

    def _junk(self, api, t, tags, burst=False):
        r = self.rng
        iss = APIS[api][1][0]
        _slug, _alg, _typ, _life, _nbf = ISSUERS[iss]
        kinds = ["none", "random_kid", "typ_jwt_no_client", "tampered", "truncated", "huge", "hs_pub", "ancient"]
        if burst:
            kinds = ["random_kid", "tampered", "hs_pub", "none", "tampered", "random_kid", "ancient"]
        k = r.choice(kinds)
        claims = {
            "iss": iss,
            "sub": f"user-{r.randrange(10**7)}",
            "aud": self._aud(iss),
            "iat": int(t) - 30,
            "exp": int(t) + 3600,
            "client_id": r.choice(CUSTOMER_CLIENTS),
        }
        if r.random() < (0.3 if burst else 0.6):
            claims.pop("client_id", None)  # scanners rarely know a client id; stuffers copy the public app's
        if k == "typ_jwt_no_client":
            claims.pop("client_id", None)
        if k == "ancient":
            claims.update(iat=int(t - 3 * 365 * DAY), exp=int(t - 3 * 365 * DAY + 3600))
        spec = ("junk", k, iss, self.sched[iss][0]["kid"], claims, r.getrandbits(32))
        tid = self.new_tid(spec)
        reps = self.replicas(api, t)
        self.add(api, r.choice(reps), t, tid, tags)


# ----------------------------------------------------------------------------------------------------- the worker
_W = {}  # per process: the JWKS server and the current timeline's view of the world


class _Jwks(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        world = _W.get("world")
        slug = self.path.strip("/").split("/")[0]
        iss = next((i for i, v in ISSUERS.items() if v[0] == slug), None)
        now = time.time()
        if world is None or iss is None:
            self.send_error(404)
            return
        for a, u, mode in world["outages"].get(iss, ()):
            if a <= now < u:
                if mode == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                body = b'{"error":"temporarily_unavailable"}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        keys = []
        for e in world["sched"][iss]:
            if e["pub_from"] <= now < e["pub_until"]:
                pk = e["pub_key"]
                for a, u, wrong, _iid in e.get("swaps", ()):
                    if a <= now < u:
                        pk = wrong
                keys.append(world["jwks"][(pk, e["kid"])])
        body = json.dumps({"keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server():
    if "port" not in _W:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _W["port"] = srv.server_address[1]
    return _W["port"]


class _SimMonotonic:
    """``time`` for PyJWKClient's modules: its cache lifespan and cooldown read the simulated clock."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def monotonic():
        return time.time()


class AppKeys:
    """How the wrapped apps hold a key set: TTL 300 s, refetch for an unknown kid after a 30 s cooldown,
    last-known-good kept on a failed fetch."""

    def __init__(self, url):
        self.url, self.doc, self.fetched, self.tried = url, None, -1e18, -1e18

    def _fetch(self, now):
        self.tried = now
        try:
            with urllib.request.urlopen(self.url, timeout=2) as resp:
                self.doc = json.loads(resp.read())
                self.fetched = now
        except (OSError, ValueError):
            pass

    def get(self, kid):
        import jwtobs

        now = time.time()
        if self.doc is None or now - self.fetched > 300:
            if now - self.tried >= 30 or (self.doc is None and now - self.tried >= 5):
                self._fetch(now)
        if self.doc is None:
            raise jwtobs.TokenRejected(jwtobs.Reason.JWKS_UNAVAILABLE, "connection")
        if kid not in {k.get("kid") for k in self.doc["keys"]} and now - self.tried >= 30:
            self._fetch(now)
        return self.doc


def _unverified(token, part):
    """The app's own unverified peek at a header or the claims (to pick a key set); ``{}`` when unreadable."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.split(".")[part] + "=="))
    except (ValueError, IndexError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _validator(api, aud_override, port):
    """The API's own validation code, observed by jwtobs."""
    import jwtobs

    kind, issuers, aud, leeway, _n, _auto = APIS[api]
    aud = aud_override or aud
    url = {i: f"http://127.0.0.1:{port}/{ISSUERS[i][0]}/jwks.json" for i in issuers}
    if kind in ("verifierset", "verifier"):
        backends = {CUST: "pyjwt", COUR: "joserfc", MESH: "authlib"}
        vs = []
        for i in issuers:
            prof = jwtobs.Profile(
                name=api, issuer=i, audience=aud, algorithms=(ISSUERS[i][1],), token_type="at+jwt", leeway=leeway
            )
            src = jwtobs.JwksSource(url[i], clock=time.time, timeout=2.0, cooldown=30.0)
            vs.append(jwtobs.Verifier(prof, keys=src, backend=backends[i]))
        v = jwtobs.VerifierSet(vs) if kind == "verifierset" else vs[0]
        return v.verify
    iss = issuers[0]
    if kind == "pyjwt":
        import jwt

        client = jwt.PyJWKClient(url[iss], lifespan=300, cooldown_duration=30, timeout=2)
        decode = jwtobs.wrap(jwt.decode, library="pyjwt", profile=api)

        def validate(token):
            key = client.get_signing_key_from_jwt(token)
            return decode(
                token,
                key.key,
                algorithms=[ISSUERS[iss][1]],
                audience=aud,
                issuer=iss,
                leeway=leeway,
                options={"require": ["exp", "iss", "sub"]},
            )

        # the key lookup is part of the app's validation: wrap the whole function
        validate = jwtobs.wrap(validate, library="pyjwt", profile=api)
        return validate
    if kind == "jose":
        from jose import jwt as jjwt

        keys = AppKeys(url[iss])

        def validate(token):
            hdr = _unverified(token, 0)
            doc = keys.get(hdr.get("kid"))
            if not hdr:
                return jjwt.decode(token, doc, algorithms=[ISSUERS[iss][1]], audience=aud, issuer=iss)
            match = [k for k in doc["keys"] if k.get("kid") == hdr.get("kid")]
            if not match:
                raise jwtobs.TokenRejected(jwtobs.Reason.UNKNOWN_KID)
            return jjwt.decode(
                token,
                match[0],
                algorithms=[ISSUERS[iss][1]],
                audience=aud,
                issuer=iss,
                options={"leeway": leeway, "require_exp": True},
            )

        return jwtobs.wrap(validate, library="jose", profile=api)
    if kind == "joserfc":
        from joserfc import jwt as rjwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        keys = AppKeys(url[iss])
        registry = JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": iss},
            aud={"essential": True, "value": aud},
            sub={"essential": True},
            exp={"essential": True},
        )
        cache = {}

        def validate(token):
            kid = _unverified(token, 0).get("kid")
            doc = keys.get(kid)
            hit = cache.get("k")
            if hit is None or hit[0] is not doc:
                hit = cache["k"] = (doc, KeySet.import_key_set(doc))
            ks = hit[1]
            tok = rjwt.decode(token, ks, algorithms=[ISSUERS[iss][1]])
            registry.validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if kind == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken

        keys = AppKeys(url[iss])
        ajwt = JsonWebToken([ISSUERS[iss][1]])
        opts = {
            "iss": {"essential": True, "value": iss},
            "aud": {"essential": True, "value": aud},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }
        cache = {}

        def validate(token):
            kid = _unverified(token, 0).get("kid")
            doc = keys.get(kid)
            hit = cache.get("k")
            if hit is None or hit[0] is not doc:
                hit = cache["k"] = (doc, JsonWebKey.import_key_set(doc))
            ks = hit[1]
            claims = ajwt.decode(token, ks, claims_options=opts)
            claims.validate(leeway=leeway)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        stores = {i: AppKeys(url[i]) for i in issuers}
        cache = {}

        def validate(token):
            claims = _unverified(token, 1)
            iss_ = claims.get("iss") if claims.get("iss") in stores else issuers[0]  # the library decides
            kid = _unverified(token, 0).get("kid")
            doc = stores[iss_].get(kid)
            hit = cache.get(iss_)
            if hit is None or hit[0] is not doc:
                hit = cache[iss_] = (doc, cjwk.JWKSet.from_json(json.dumps(doc)))
            ks = hit[1]
            tok = cjwt.JWT(algs=[ISSUERS[iss_][1]], check_claims={"iss": iss_, "aud": aud, "exp": None, "nbf": None})
            tok.leeway = leeway
            tok.deserialize(token, ks)
            return tok

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


def _make_token(spec, pems, cache_keys):
    import jwt

    def key(name):
        k = cache_keys.get(name)
        if k is None:
            from cryptography.hazmat.primitives import serialization

            k = cache_keys[name] = serialization.load_pem_private_key(pems[name], None)
        return k

    if spec[0] == "sign":
        _, kname, kid, typ, claims = spec
        alg = ISSUERS[claims["iss"]][1]
        return jwt.encode(claims, key(kname), alg, headers={"kid": kid, "typ": typ})
    _, k, iss, kid, claims, salt = spec
    r = random.Random(salt)
    alg = ISSUERS[iss][1]
    if k == "none":
        h = base64.urlsafe_b64encode(json.dumps({"alg": r.choice(["none", "None", "nOnE"]), "typ": "JWT"}).encode())
        p = base64.urlsafe_b64encode(json.dumps(claims).encode())
        return (h.rstrip(b"=") + b"." + p.rstrip(b"=") + b".").decode()
    if k == "hs_pub":
        from cryptography.hazmat.primitives import serialization

        pub = (
            key(f"{ISSUERS[iss][0]}-cur")
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        import hmac

        h = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode()).rstrip(b"=")
        p = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        sig = base64.urlsafe_b64encode(hmac.new(pub, h + b"." + p, hashlib.sha256).digest()).rstrip(b"=")
        return (h + b"." + p + b"." + sig).decode()
    if k in ("random_kid", "typ_jwt_no_client", "ancient"):
        kid2 = f"{r.getrandbits(40):010x}" if k != "ancient" else f"{ISSUERS[iss][0]}-2023a"
        return jwt.encode(
            claims,
            key("attacker-" + alg[:2]),
            alg,
            headers={"kid": kid2, "typ": "JWT" if k != "random_kid" else "at+jwt"},
        )
    good = jwt.encode(claims, key("attacker-" + alg[:2]), alg, headers={"kid": kid, "typ": "at+jwt"})
    h, p, s = good.split(".")
    if k == "tampered":
        return f"{h}.{p}.{s}"  # the attacker's own signature over a real kid: does not verify
    if k == "truncated":
        return good[: r.randrange(20, len(good) - 10)]
    if k == "huge":
        pad = base64.urlsafe_b64encode(os.urandom(0) + b"A" * r.choice((9000, 70000))).rstrip(b"=").decode()
        return f"{h}.{p}{pad}.{s}"
    return good


def _run_shard(task):
    (outdir, name, api, rep, _seed, world, pems, reqs, life, fp_key) = task
    import jwt.api_jwk
    import jwt.jwk_set_cache
    import jwt.jwks_client
    import time_machine

    import jwtobs

    for m in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        m.time = _SimMonotonic()
    _W["world"] = world
    port = _server()
    path = os.path.join(outdir, name, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(events_path=path, service=api, fingerprint_key=fp_key, defer=False, from_env=False)
    tokens = {}
    keyobjs = {}
    life = sorted(life)
    li = 0
    aud_override = None
    clock_off = 0.0
    validate = None
    n_ok = 0
    if not reqs:
        jwtobs.flush()
        return (name, api, rep, 0)
    with time_machine.travel(reqs[0][0], tick=False) as tm:
        for t, tid, spec in reqs:
            while li < len(life) and life[li][0] <= t:
                _t, action, arg = life[li]
                li += 1
                if action == "restart":
                    validate = None
                elif action == "aud":
                    aud_override = arg
                    validate = None
                elif action == "clock":
                    clock_off = float(arg)
            if validate is None:
                tm.move_to(t + clock_off)
                validate = _validator(api, aud_override, port)
            tok = tokens.get(tid)
            if tok is None:
                tok = _make_token(spec, pems, keyobjs)
                if len(tokens) > 50000:
                    tokens.clear()
                tokens[tid] = tok
            tm.move_to(t + clock_off)
            try:
                validate(tok)
                n_ok += 1
            except Exception:  # every rejection is recorded by jwtobs
                pass
    jwtobs.flush()
    return (name, api, rep, len(reqs))


# ----------------------------------------------------------------------------------------------------- driver
def _iso(t):
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(name, seed, scale):
    p = Plan(name, seed, scale)
    p.build_keys()
    p.lifecycle()
    p.inject()
    p.sessions()
    p.callbacks()
    p.garbage()
    return p


def _tasks(plan, outdir, pems, jwks):
    world = {
        "outages": dict(plan.outages),
        "sched": {i: [dict(e) for e in es] for i, es in plan.sched.items()},
        "jwks": jwks,
    }
    fp_key = hashlib.sha256(f"fleet58-{plan.seed}".encode()).hexdigest()
    tasks = []
    for (api, rep), reqs in plan.shards.items():
        reqs.sort(key=lambda x: x[0])
        rq = [(t, tid, plan.tokens[tid]) for t, tid, _tags in reqs]
        tasks.append((outdir, plan.name, api, rep, plan.seed, world, pems, rq, plan.life.get((api, rep), []), fp_key))
    tasks.sort(key=lambda x: -len(x[7]))
    return tasks


def _keys(plan):
    pems, jwks = {}, {}
    for name, (_iss, alg) in plan.keys.items():
        pems[name] = _new_key(alg)
    pems["attacker-RS"] = _new_key("RS256")
    pems["attacker-ES"] = _new_key("ES256")
    for iss, es in plan.sched.items():
        alg = ISSUERS[iss][1]
        for e in es:
            jwks[(e["pub_key"], e["kid"])] = _jwk(pems[e["pub_key"]], e["kid"], alg)
            for _a, _u, wrong, _iid in e.get("swaps", ()):
                jwks[(wrong, e["kid"])] = _jwk(pems[wrong], e["kid"], alg)
    return pems, jwks


def label(plan, outdir, wall):
    per = {i["id"]: dict(id=i["id"], kind=i["kind"], times=[], count=0) for i in plan.incidents}
    by_reason = Counter()
    total = rejected = 0
    for (api, rep), reqs in plan.shards.items():
        path = os.path.join(outdir, plan.name, "events", f"{api}-{rep}.jsonl")
        events = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                ev = json.loads(line)
                if "event" in ev:
                    continue
                events.append(ev)
        if len(events) != len(reqs):
            raise SystemExit(f"{path}: {len(events)} events for {len(reqs)} requests")
        for (_t, _tid, tags), ev in zip(reqs, events, strict=True):
            total += 1
            if ev["outcome"] != "rejected":
                continue
            rejected += 1
            by_reason[ev["reason"]] += 1
            for iid in tags:
                inc = per.get(iid)
                if inc is None:
                    continue
                ok = REASONS_OF[inc["kind"]]
                if ok is None or ev["reason"] in ok:
                    inc["count"] += 1
                    inc["times"].append(ev["time"])
    labels = []
    missing = []
    for i in plan.incidents:
        st = per[i["id"]]
        k = i["kind"]
        iss = i.get("issuer")
        if k == "server_clock_skew" and "api" in i:
            iss = None
        kid = None
        if k in ("kid_before_publish", "key_removed_early", "signature_spike"):
            es = plan.sched[i["issuer"]]
            if k == "kid_before_publish":
                kid = next(e["kid"] for e in es if e.get("tag") == i["id"])
            elif k == "key_removed_early":
                kid = next(e["kid"] for e in es if e.get("tag") == i["id"])
            else:
                kid = next(e["kid"] for e in es if any(s[3] == i["id"] for s in e.get("swaps", ())))
        client = i.get("client") if k in ("clock_skew", "audience_misconfig", "type_confusion") else None
        profile = i.get("api") if k in ("audience_misconfig", "server_clock_skew") and "api" in i else None
        detail = {
            x: i[x]
            for x in (
                "at",
                "until",
                "offset",
                "drift",
                "share",
                "wrong",
                "per_min",
                "switch",
                "replica",
                "replicas",
                "deploy",
            )
            if x in i
        }
        if k == "attack_burst":
            detail["target"] = i["api"]
            profile = None
        if not st["count"]:
            missing.append(i["id"])
            continue
        ts = sorted(st["times"])
        labels.append(
            dict(
                id=i["id"],
                kind=k,
                start=ts[0],
                end=ts[-1],
                count=st["count"],
                issuer=iss,
                kid=kid,
                client_id=client,
                profile=profile,
                detail=detail,
            )
        )
    labels.sort(key=lambda x: x["start"])
    doc = {
        "timeline": plan.name,
        "quiet": plan.quiet,
        "seed": plan.seed,
        "start": _iso(plan.start),
        "end": _iso(plan.end),
        "generator": GENERATOR,
        "incidents": labels,
    }
    with open(os.path.join(outdir, plan.name, "labels.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    summary = {
        "timeline": plan.name,
        "validations": total,
        "rejections": rejected,
        "rejection_rate": round(rejected / max(total, 1), 5),
        "reasons": dict(by_reason.most_common()),
        "incidents_injected": [i["id"] for i in plan.incidents],
        "incidents_labelled": [x["id"] for x in labels],
        "injected_without_counted_rejection": missing,
        "counts": {x["id"]: x["count"] for x in labels},
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(outdir, plan.name, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    return summary


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
    ap.add_argument("--seed-base", type=int, default=5800)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    if not args.score_only:
        t_all = time.time()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.workers, maxtasksperchild=None) as pool:
            for _idx, name in enumerate(names):
                t0 = time.time()
                plan = build(name, args.seed_base + list(TIMELINES).index(name), args.scale)
                os.makedirs(os.path.join(args.out, name, "events"), exist_ok=True)
                pems, jwks = _keys(plan)
                tasks = _tasks(plan, args.out, pems, jwks)
                for _r in pool.imap_unordered(_run_shard, tasks):
                    pass
                s = label(plan, args.out, time.time() - t0)
                print(
                    f"{name}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, "
                    f"labelled {len(s['incidents_labelled'])}/{len(s['incidents_injected'])} "
                    f"({s['wall_s']} s)",
                    flush=True,
                )
        print(f"total wall {time.time() - t_all:.1f} s", flush=True)
    if args.score or args.score_only:
        print(json.dumps(_score(args.out, names), indent=1, default=str))


if __name__ == "__main__":
    main()
