"""fleet34: an independent benchmark data generator for jwtobs's incident detectors.

What is modelled
----------------
A multi-tenant B2B SaaS platform for healthcare scheduling and freight logistics ("CareRoute"):

* Issuers: one IdP vendor with per-tenant issuer URLs (``https://authvault.example/t/<tenant>``: mercy-health,
  lakeside-clinic, northwind-logistics, orbit-freight; RS256), a partner issuer for machine-to-machine clients
  (``https://authvault.example/partners``, RS256) and an internal service-mesh CA (``https://mesh-ca.svc.internal``,
  ES256, 5-minute tokens). Every key has a ``kid``. Each issuer has its own rotation period and overlap (new key
  published hours before it signs, old key kept hours after it stops), with key history reaching back before the
  timeline so that days-old tokens carry kids that have since been retired. A staging IdP issuer exists too.
* Key-set servers: real HTTP servers on 127.0.0.1 (port 0), one per replica process, serving each issuer's JWKS as of
  the simulated true time (``Cache-Control: max-age``), with outages and short blips (HTTP 503).
* APIs, each on its own validator path, each replica a separate OS process (forked, run one at a time) writing its
  own event file through ``jwtobs.configure(events_path=..., service=...)``:
  - appointments-api: ``jwtobs.VerifierSet`` of four tenant ``Verifier``s (backend pyjwt) over ``JwksSource``.
  - records-api: ``jwtobs.wrap(validate, library="pyjwt")`` where validate routes by ``iss`` to a ``PyJWKClient``
    and calls ``jwt.decode`` (PyJWKClient's monotonic clock is pointed at the simulated clock).
  - dispatch-api: ``jwtobs.wrap(validate, library="joserfc")``, a home-grown JWKS cache + joserfc decode +
    ``JWTClaimsRegistry`` (two-step).
  - billing-api: ``jwtobs.wrap(validate, library="authlib")``, home-grown cache + authlib decode + claims.validate.
  - partner-api: ``VerifierSet`` (backend jwcrypto) over a ``JwksSource`` with a short ``max_stale``.
  - mesh-gateway: ``Verifier`` (backend joserfc, ES256) over ``JwksSource``.
  Replicas: 2-3 per API, rolling deploys (cold caches), autoscaled extra replicas at peak.
* Clients: per tenant SPAs with refresh (15-min access tokens, user sessions, laptops waking with old tokens),
  native mobile apps (thousands of devices sharing one client_id, 1-h tokens, resumed apps, a few % of devices with
  clocks minutes off either way), kiosks / shared terminals (overnight idle, one kiosk with a bad clock), label
  printers, partner M2M clients (24/7, one whose token endpoint occasionally refuses it, so it keeps its old token),
  batch jobs (worker pools that replay a cached token after a restart), mesh services, a decommissioned client
  (fax bridge) presenting a 3-week-old token, staging tokens hitting prod, misrouted requests (wrong audience),
  internet scanners (garbage, alg none, random kids, tampered real tokens, wrong typ, HS256, no client id) and
  pentests, marketing-mail and backfill traffic spikes, diurnal load with a timezone mix.
* Simulated time: time_machine (``tick=False``), moved before every validation; a validator replica with a wrong
  clock is moved to its own wrong time (its events carry that time).

Timelines: q1-q4 are quiet 24-h days (background only). i1-i4 are 12-h incident timelines that together inject every
kind of ``jwtobs/kinds.py`` with varied magnitudes, some overlapping in time.

Label rules
-----------
Every generated request is tagged with the incidents that could make it fail (e.g. a token signed with a kid before
it was published, a request routed to a replica with a wrong clock, a request of a skewed client in its window).
After validation, events are matched to requests by order within each replica's event file (one event per
validation; key-set-change records skipped). A rejection counts for an incident when it carries the incident's
tag and its reason is one the incident causes: UNKNOWN_KID (kid_before_publish, key_removed_early),
JWKS_UNAVAILABLE (jwks_outage), BAD_SIGNATURE (signature_spike), EXPIRED / NOT_YET_VALID (clock_skew,
server_clock_skew, issuer_stalled), AUDIENCE_MISMATCH (audience_misconfig), TYPE_MISMATCH or AUDIENCE_MISMATCH
(type_confusion), any rejection (attack_burst). ``start``/``end`` are the event times of the first/last such
rejection, ``count`` their number. Entity fields follow the kind's scope: kid kinds name issuer and kid, issuer kinds
the issuer, client kinds the client_id, audience_misconfig the profile (API side) or the client_id (client side),
server_clock_skew the issuer (issuer clock) or the profile (one validator replica's clock), attack_burst none.

CLI::

    python benchmarks/fleet34.py --out DIR [--only NAME[,NAME]] [--seed-base N] [--jobs N] [--scale F] [--score]
    python benchmarks/fleet34.py --out DIR --score-only      # score what is in DIR (jwtobs's detectors)

Written in session 33 by a helper given the issue's text and jwtobs's public API only (not the detectors, the
simulator, the other benchmarks or the analysis docs), generated once (8 timelines, 11.6 min on one core of a loaded
host, 676 MB), then scored. ``--score``/``--score-only`` were added afterwards, by someone who had read the
detectors: they score the timelines as ``benchmarks/fleet22.py`` does; nothing else here knows the detectors.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import math
import multiprocessing as mp
import os
import random
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, datetime

warnings.filterwarnings("ignore")

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

GEN = "fleet34"
FP_KEY = "fleet34-fingerprint-key-0123456789abcdef"
REASONS_FOR = {
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
H = 3600.0
M = 60.0
D = 86400.0


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------------------------
# timelines
# --------------------------------------------------------------------------------------------------------------

TIMELINES: dict[str, dict] = {
    "q1": dict(quiet=True, start="2026-12-01T00:00:00Z", hours=24, seed=1, extras=["deploys"]),
    "q2": dict(quiet=True, start="2026-12-02T00:00:00Z", hours=24, seed=2, extras=["pentest", "refusals"]),
    "q3": dict(quiet=True, start="2026-12-03T00:00:00Z", hours=24, seed=3, extras=["marketing", "deploys"]),
    "q4": dict(quiet=True, start="2026-12-05T00:00:00Z", hours=24, seed=4, extras=["backfill", "weekend", "pentest"]),
    "i1": dict(quiet=False, start="2026-12-08T06:00:00Z", hours=12, seed=11, extras=["backfill", "deploys"]),
    "i2": dict(quiet=False, start="2026-12-09T10:00:00Z", hours=12, seed=12, extras=["marketing", "refusals"]),
    "i3": dict(quiet=False, start="2026-12-10T00:00:00Z", hours=12, seed=13, extras=["pentest", "deploys"]),
    "i4": dict(quiet=False, start="2026-12-11T08:00:00Z", hours=12, seed=14, extras=["refusals"]),
}

# Incidents per incident timeline; offsets are hours after the timeline start.
INCIDENTS: dict[str, list[dict]] = {
    "i1": [
        dict(id="inc1-a", kind="kid_before_publish", issuer="nw", at=2.0, delay_min=25),
        dict(id="inc1-b", kind="clock_skew", client="partner-carrier-x", at=3.5, dur=2.0, offset_s=-270),
        dict(id="inc1-c", kind="attack_burst", at=5.0, dur=6 / 60, per_min=10, apis=["records-api"]),
        dict(id="inc1-d", kind="audience_misconfig", api="billing-api", at=4.2, dur=25 / 60, wrong="billing"),
        dict(id="inc1-e", kind="type_confusion", client="lc-web-portal", at=8.0, dur=0.5, frac=0.25),
    ],
    "i2": [
        dict(id="inc2-a", kind="jwks_outage", issuer="mh", at=3.5, dur=40 / 60, deploy="appointments-api"),
        dict(id="inc2-b", kind="jwks_outage", issuer="of", at=2.6, dur=4 / 60),
        dict(id="inc2-c", kind="signature_spike", issuer="lc", at=3.0, dur=25 / 60),
        dict(id="inc2-d", kind="type_confusion", client="mh-web-portal", at=4.4, dur=50 / 60, frac=0.3),
        dict(
            id="inc2-e",
            kind="server_clock_skew",
            side="validator",
            api="dispatch-api",
            pod=0,
            at=8.0,
            dur=1.5,
            offset_s=600,
        ),
    ],
    "i3": [
        dict(id="inc3-a", kind="key_removed_early", issuer="of", at=2.0, removed_after_min=10),
        dict(id="inc3-b", kind="server_clock_skew", side="issuer", issuer="nw", at=5.0, dur=1.0, offset_s=420),
        dict(id="inc3-c", kind="issuer_stalled", issuer="lc", at=7.0, dur=45 / 60),
        dict(
            id="inc3-d", kind="attack_burst", at=7.3, dur=20 / 60, per_min=300, apis=["partner-api", "appointments-api"]
        ),
        dict(id="inc3-e", kind="clock_skew", client="of-courier-app", at=9.0, dur=2.0, offset_s=-1200, frac=0.7),
    ],
    "i4": [
        dict(
            id="inc4-a",
            kind="audience_misconfig",
            side="client",
            client="partner-ehr-sync",
            at=1.0,
            dur=1.0,
            wrong="records-api",
        ),
        dict(id="inc4-b", kind="clock_skew", client="mh-checkin-kiosk", at=3.0, dur=3.0, drift_to_s=-900),
        dict(id="inc4-c", kind="kid_before_publish", issuer="mesh", at=2.5, delay_min=3),
        dict(id="inc4-d", kind="jwks_outage", issuer="pt", at=6.0, dur=12 / 60, deploy="partner-api"),
        dict(id="inc4-e", kind="server_clock_skew", side="issuer", issuer="mesh", at=8.0, dur=0.5, offset_s=-480),
        dict(id="inc4-f", kind="attack_burst", at=6.05, dur=15 / 60, per_min=40, apis=["dispatch-api", "billing-api"]),
        dict(id="inc4-g", kind="signature_spike", issuer="pt", at=9.5, dur=8 / 60),
    ],
}

# --------------------------------------------------------------------------------------------------------------
# world: issuers and keys
# --------------------------------------------------------------------------------------------------------------

ISSUER_DEFS = {
    # name: url, alg, rotation period (days), publish-before (h), keep-after (h), max-age, tz offset (h)
    "mh": dict(
        url="https://authvault.example/t/mercy-health", alg="RS256", period=7, pre=24, post=6, maxage=300, tz=-5
    ),
    "lc": dict(
        url="https://authvault.example/t/lakeside-clinic", alg="RS256", period=3, pre=6, post=3, maxage=600, tz=1
    ),
    "nw": dict(
        url="https://authvault.example/t/northwind-logistics", alg="RS256", period=5, pre=12, post=4, maxage=300, tz=-8
    ),
    "of": dict(url="https://authvault.example/t/orbit-freight", alg="RS256", period=2, pre=4, post=3, maxage=300, tz=8),
    "pt": dict(url="https://authvault.example/partners", alg="RS256", period=14, pre=48, post=12, maxage=900, tz=0),
    "mesh": dict(url="https://mesh-ca.svc.internal", alg="ES256", period=1, pre=2, post=1, maxage=120, tz=0),
    "stg": dict(
        url="https://authvault-staging.example/t/mercy-health", alg="RS256", period=30, pre=1, post=1, maxage=300, tz=-5
    ),
}


class Key:
    __slots__ = ("alg", "jwk", "kid", "priv", "pub_end", "pub_start", "sign_end", "sign_start")

    def __init__(self, kid, alg, sign_start, sign_end, pub_start, pub_end):
        self.kid, self.alg = kid, alg
        self.sign_start, self.sign_end, self.pub_start, self.pub_end = sign_start, sign_end, pub_start, pub_end
        self.priv = None
        self.jwk = None

    def materialise(self):
        if self.priv is not None:
            return
        if self.alg == "ES256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
            d = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.priv.public_key()))
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.priv.public_key()))
        d.update(kid=self.kid, use="sig", alg=self.alg)
        self.jwk = d


class Issuer:
    def __init__(self, name, d, t0, t1, rng):
        self.name, self.url, self.alg, self.tz = name, d["url"], d["alg"], d["tz"]
        self.maxage = d["maxage"]
        self.keys: list[Key] = []
        self.outages: list[tuple[float, float]] = []
        self.stalls: list[tuple[float, float]] = []
        self.clock: list[tuple[float, float, float]] = []  # (a, b, offset) issuer clock
        self.rogue: list[tuple[float, float, str]] = []  # (a, b, incident id) signing with wrong key material
        self.rogue_key = None
        period = d["period"] * D
        phase = rng.uniform(0, period)
        # rotation epochs covering [t0 - 25 days, t1 + period]
        e = t0 - 25 * D - phase
        epochs = []
        while e < t1 + period:
            epochs.append(e)
            e += period
        prefix = {"mh": "mh", "lc": "lc", "nw": "nwl", "of": "orbit", "pt": "ptn", "mesh": "mesh", "stg": "stg"}[name]
        for i, e in enumerate(epochs[:-1]):
            kid = f"{prefix}-{datetime.fromtimestamp(e, UTC):%Y%m%dT%H%M}-{rng.randrange(16**4):04x}"
            self.keys.append(Key(kid, self.alg, e, epochs[i + 1], e - d["pre"] * H, epochs[i + 1] + d["post"] * H))

    def signing_key(self, t) -> Key:
        best = None
        for k in self.keys:
            if k.sign_start <= t < k.sign_end:
                if best is None or k.sign_start > best.sign_start:
                    best = k
        if best is None:
            best = self.keys[-1]
        best.materialise()
        return best

    def published(self, t):
        return [k for k in self.keys if k.pub_start <= t < k.pub_end]

    def down(self, t):
        for a, b in self.outages:
            if a <= t < b:
                return True
        return False

    def stalled(self, t):
        for a, b in self.stalls:
            if a <= t < b:
                return True
        return False

    def clock_offset(self, t):
        for a, b, o in self.clock:
            if a <= t < b:
                return o
        return 0.0


# --------------------------------------------------------------------------------------------------------------
# APIs and clients
# --------------------------------------------------------------------------------------------------------------

APIS = {
    "appointments-api": dict(
        path="verifierset",
        issuers=["mh", "lc", "nw", "of"],
        backend="pyjwt",
        replicas=3,
        leeway=30,
        typ="at+jwt",
        autoscale=True,
    ),
    "records-api": dict(path="pyjwkclient", issuers=["mh", "lc"], replicas=3, leeway=60, autoscale=True),
    "dispatch-api": dict(path="joserfc", issuers=["nw", "of"], replicas=2, leeway=10),
    "billing-api": dict(path="authlib", issuers=["mh", "lc", "nw", "of"], replicas=2, leeway=0),
    "partner-api": dict(
        path="verifierset", issuers=["pt"], backend="jwcrypto", replicas=2, leeway=30, typ="at+jwt", max_stale=900
    ),
    "mesh-gateway": dict(
        path="verifier", issuers=["mesh"], backend="joserfc", replicas=2, leeway=5, typ=None, cooldown=10
    ),
}
PUBLIC_APIS = ["appointments-api", "records-api", "dispatch-api", "billing-api", "partner-api"]


def client_defs():
    """Client classes. shape: office (business hours local), mobile (evening-heavy), flat (24/7), clinic (kiosk)."""
    cs = []
    for t in ("mh", "lc"):
        cs.append(
            dict(
                cid=f"{t}-web-portal",
                iss=t,
                kind="spa",
                shape="office",
                life=900,
                actors=400,
                sess_peak=110,
                n=18,
                gap=45,
                apis={"appointments-api": 0.5, "records-api": 0.4, "billing-api": 0.1},
                stale_p=0.35,
                bad_clock=0.01,
            )
        )
        cs.append(
            dict(
                cid=f"{t}-patient-app",
                iss=t,
                kind="mobile",
                shape="mobile",
                life=3600,
                actors=3000,
                sess_peak=330,
                n=6,
                gap=15,
                apis={"appointments-api": 0.7, "records-api": 0.3},
                stale_p=0.25,
                bad_clock=0.03,
            )
        )
        cs.append(
            dict(
                cid=f"{t}-checkin-kiosk",
                iss=t,
                kind="kiosk",
                shape="clinic",
                life=1800,
                actors=25,
                per_actor=1 / 150,
                apis={"appointments-api": 1.0},
                stale_p=0.3,
                bad_clock=0.04,
            )
        )
    for t in ("nw", "of"):
        cs.append(
            dict(
                cid=f"{t}-dispatch-console",
                iss=t,
                kind="spa",
                shape="office",
                life=900,
                actors=200,
                sess_peak=70,
                n=25,
                gap=35,
                apis={"dispatch-api": 0.7, "appointments-api": 0.1, "billing-api": 0.2},
                stale_p=0.35,
                bad_clock=0.01,
            )
        )
        cs.append(
            dict(
                cid=f"{t}-courier-app",
                iss=t,
                kind="mobile",
                shape="mobile",
                life=3600,
                actors=2500,
                sess_peak=260,
                n=8,
                gap=20,
                apis={"dispatch-api": 0.9, "appointments-api": 0.1},
                stale_p=0.25,
                bad_clock=0.03,
            )
        )
        cs.append(
            dict(
                cid=f"{t}-label-printer",
                iss=t,
                kind="kiosk",
                shape="clinic",
                life=1800,
                actors=15,
                per_actor=1 / 90,
                apis={"dispatch-api": 1.0},
                stale_p=0.3,
                bad_clock=0.0,
            )
        )
    cs.append(
        dict(
            cid="partner-ehr-sync",
            iss="pt",
            kind="m2m",
            shape="flat",
            life=3600,
            actors=4,
            rate=0.25,
            apis={"partner-api": 1.0},
        )
    )
    cs.append(
        dict(
            cid="partner-carrier-x",
            iss="pt",
            kind="m2m",
            shape="flat",
            life=3600,
            actors=3,
            rate=0.18,
            apis={"partner-api": 1.0},
        )
    )
    cs.append(
        dict(
            cid="partner-payments",
            iss="pt",
            kind="m2m",
            shape="office",
            life=3600,
            actors=2,
            rate=0.12,
            apis={"partner-api": 1.0},
        )
    )
    for s in ("svc-scheduler", "svc-notifier", "svc-ledger"):
        cs.append(
            dict(
                cid=s, iss="mesh", kind="mesh", shape="flat", life=300, actors=3, rate=0.22, apis={"mesh-gateway": 1.0}
            )
        )
    return cs


def diurnal(shape, local_h, weekend=False):
    h = local_h % 24
    if shape == "flat":
        v = 0.8 + 0.2 * math.cos((h - 14) / 24 * 2 * math.pi)
    elif shape in ("office", "clinic"):
        v = 0.04 + 0.96 * math.exp(-(((h - 13.0) / 3.2) ** 2))
        if shape == "clinic" and not (7 <= h < 19):
            v = 0.01
    else:  # mobile
        v = 0.08 + 0.55 * math.exp(-(((h - 12.5) / 3.0) ** 2)) + 0.45 * math.exp(-(((h - 20.5) / 2.0) ** 2))
    if weekend and shape in ("office", "clinic"):
        v *= 0.25
    return v


# --------------------------------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------------------------------


class Tok:
    __slots__ = ("exp", "iat", "iss", "kid", "raw", "tags")

    def __init__(self, raw, iat, exp, kid, tags, iss):
        self.raw, self.iat, self.exp, self.kid, self.tags, self.iss = raw, iat, exp, kid, tags, iss


class Actor:
    __slots__ = ("idx", "inst", "last", "offset", "prev", "tok")

    def __init__(self, idx, offset):
        self.idx, self.offset, self.tok, self.prev, self.last, self.inst = idx, offset, None, None, None, None


class Planner:
    def __init__(self, name, spec, scale, seed):
        self.name, self.spec, self.scale = name, spec, scale
        self.rng = random.Random(seed * 7919 + 17)
        self.t0 = ts(spec["start"])
        self.t1 = self.t0 + spec["hours"] * H
        self.extras = set(spec["extras"])
        self.weekend = "weekend" in self.extras
        self.issuers = {n: Issuer(n, d, self.t0, self.t1, self.rng) for n, d in ISSUER_DEFS.items()}
        self.incidents = [dict(i) for i in INCIDENTS.get(name, [])]
        self.reqs: list[tuple] = []  # (t, api, raw, tags)
        self.recent: list[tuple[str, str]] = []
        self._junk_api = None
        self.attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.n_signed = 0
        self.client_skew: dict[str, list] = {}  # cid -> [(a, b, fn(t)->offset, inc id, frac)]
        self.type_conf: dict[str, list] = {}
        self.aud_client: dict[str, list] = {}
        self.refusals: dict[str, list] = {}  # cid -> [(a,b)]
        self.pod_mods: dict[str, list] = {}  # api -> list of mods
        self.deploys: dict[str, list[float]] = {a: [] for a in APIS}
        self.inc_by_id = {i["id"]: i for i in self.incidents}
        self.issuer_inc: dict[str, list] = {}
        self.kid_tags: list[tuple] = []  # (kid, fn(tok_iat, t, exp) -> bool, inc id)

    # ---- setup -------------------------------------------------------------------------------------------
    def setup(self):
        rng = self.rng
        t0, t1 = self.t0, self.t1
        # background JWKS blips: seconds-long 503s, 2-4 per issuer per day
        for iss in self.issuers.values():
            for _ in range(rng.randint(1, 2) * max(1, round((t1 - t0) / (12 * H)))):
                a = rng.uniform(t0, t1)
                iss.outages.append((a, a + rng.uniform(4, 35)))
        if "deploys" in self.extras:
            for api in APIS:
                if rng.random() < 0.6:
                    self.deploys[api].append(rng.uniform(t0 + 2 * H, t1 - 2 * H))
        else:
            api = rng.choice(list(APIS))
            self.deploys[api].append(rng.uniform(t0 + 2 * H, t1 - 2 * H))
        if "refusals" in self.extras or True:
            # partner-carrier-x's token endpoint access is rate limited now and then: it keeps its old token
            n = 3 if "refusals" in self.extras else 1
            self.refusals["partner-carrier-x"] = [
                (a, a + rng.uniform(240, 900)) for a in (rng.uniform(t0, t1) for _ in range(n))
            ]
        for inc in self.incidents:
            self.apply_incident(inc)

    def apply_incident(self, inc):
        k, t0 = inc["kind"], self.t0
        a = t0 + inc["at"] * H
        b = a + inc.get("dur", 0) * H
        inc["_a"], inc["_b"] = a, b
        iid = inc["id"]
        if k == "kid_before_publish":
            iss = self.issuers[inc["issuer"]]
            prev = iss.signing_key(a)
            nk = Key(
                f"{prev.kid.split('-')[0]}-{datetime.fromtimestamp(a, UTC):%Y%m%dT%H%M}-hot",
                iss.alg,
                a,
                prev.sign_end + 30 * D,
                a + inc["delay_min"] * M,
                prev.pub_end + 30 * D,
            )
            # keys after `prev` move later so the new key stays the signer for the rest of the timeline
            for kk in iss.keys:
                if kk.sign_start > prev.sign_start:
                    kk.sign_start += 40 * D
                    kk.sign_end += 40 * D
                    kk.pub_start += 40 * D
                    kk.pub_end += 40 * D
            prev.sign_end = a
            prev.pub_end = max(prev.pub_end, a + 4 * H)
            iss.keys.append(nk)
            pub = nk.pub_start
            self.kid_tags.append((nk.kid, lambda tok_iat, t, pub=pub: tok_iat < pub + 15 * M, iid))
            inc.update(_issuer=iss.url, _kid=nk.kid)
        elif k == "key_removed_early":
            iss = self.issuers[inc["issuer"]]
            old = iss.signing_key(a)
            for kk in iss.keys:
                if kk.sign_start > old.sign_start:
                    kk.sign_start += 40 * D
                    kk.sign_end += 40 * D
                    kk.pub_start += 40 * D
                    kk.pub_end += 40 * D
            nk = Key(
                f"{old.kid.split('-')[0]}-{datetime.fromtimestamp(a, UTC):%Y%m%dT%H%M}-n",
                iss.alg,
                a,
                a + 30 * D,
                a - 3 * H,
                a + 31 * D,
            )
            old.sign_end = a
            removed = a + inc["removed_after_min"] * M
            old.pub_end = removed
            iss.keys.append(nk)
            self.kid_tags.append((old.kid, lambda tok_iat, t, r=removed: t >= r - 60, iid))
            inc.update(_issuer=iss.url, _kid=old.kid, _needs_live=True)
        elif k == "jwks_outage":
            iss = self.issuers[inc["issuer"]]
            iss.outages.append((a, b))
            if inc.get("deploy"):
                self.deploys[inc["deploy"]].append(a + (b - a) * 0.45)
            self.issuer_inc.setdefault(inc["issuer"], []).append((a, b + 10 * M, iid))
            inc.update(_issuer=iss.url)
        elif k == "signature_spike":
            iss = self.issuers[inc["issuer"]]
            iss.rogue.append((a, b, iid))
            iss.rogue_key = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if iss.alg == "RS256"
                else ec.generate_private_key(ec.SECP256R1())
            )
            inc.update(_issuer=iss.url, _kid=iss.signing_key(a).kid)
        elif k == "clock_skew":
            if "drift_to_s" in inc:
                d = inc["drift_to_s"]

                def fn(t, a=a, b=b, d=d):
                    return d * min(1.0, max(0.0, (t - a) / (b - a)))
            else:

                def fn(t, o=inc["offset_s"]):
                    return o

            self.client_skew.setdefault(inc["client"], []).append((a, b, fn, iid, inc.get("frac", 1.0)))
            inc.update(_client=inc["client"])
        elif k == "server_clock_skew":
            if inc["side"] == "issuer":
                iss = self.issuers[inc["issuer"]]
                iss.clock.append((a, b, inc["offset_s"]))
                inc.update(_issuer=iss.url)
            else:
                self.pod_mods.setdefault(inc["api"], []).append(
                    dict(kind="clock", pod=inc["pod"], a=a, b=b, offset=inc["offset_s"], iid=iid)
                )
                inc.update(_profile=inc["api"])
        elif k == "issuer_stalled":
            iss = self.issuers[inc["issuer"]]
            iss.stalls.append((a, b))
            inc.update(_issuer=iss.url)
        elif k == "audience_misconfig":
            if inc.get("side") == "client":
                self.aud_client.setdefault(inc["client"], []).append((a, b, inc["wrong"], iid))
                inc.update(_client=inc["client"])
            else:
                self.deploys[inc["api"]].append(a)
                self.deploys[inc["api"]].append(b)
                self.pod_mods.setdefault(inc["api"], []).append(
                    dict(kind="audience", a=a, b=b, wrong=inc["wrong"], iid=iid)
                )
                inc.update(_profile=inc["api"])
        elif k == "type_confusion":
            self.type_conf.setdefault(inc["client"], []).append((a, b, inc["frac"], iid))
            inc.update(_client=inc["client"])
        elif k == "attack_burst":
            pass

    # ---- tokens ------------------------------------------------------------------------------------------
    def sign(self, iss: Issuer, t_true, cid, sub, life, aud, typ="at+jwt", idtoken=False, extra_tags=()):
        off = iss.clock_offset(t_true)
        iat = int(t_true + off)
        key = iss.signing_key(t_true)
        tags = list(extra_tags)
        if off:
            for a, b, _o in iss.clock:
                if a <= t_true < b:
                    tags.append(self._inc_for("server_clock_skew", issuer=iss.url))
        priv = key.priv
        for a, b, iid in iss.rogue:
            if a <= t_true < b:
                priv = iss.rogue_key
                tags.append(iid)
        claims = {
            "iss": iss.url,
            "sub": sub,
            "aud": aud,
            "iat": iat,
            "nbf": iat,
            "exp": iat + life,
            "jti": f"{self.rng.getrandbits(64):016x}",
        }
        if idtoken:
            claims.update(azp=cid, nonce=f"{self.rng.getrandbits(32):08x}", auth_time=iat - 5)
        elif iss.name == "mesh":
            claims["azp"] = cid
        else:
            claims.update(client_id=cid, scope="api")
            if iss.name not in ("pt", "stg"):
                claims["tenant_id"] = iss.name
        raw = jwt.encode(claims, priv, algorithm=iss.alg, headers={"kid": key.kid, "typ": typ})
        self.n_signed += 1
        for kid, _fn, iid in self.kid_tags:
            if kid == key.kid:
                tags.append(("kidtag", iid))
        return Tok(raw, iat, iat + life, key.kid, tuple(tags), iss.name)

    def _inc_for(self, kind, **kw):
        for inc in self.incidents:
            if inc["kind"] == kind and all(inc.get("_" + k) == v for k, v in kw.items()):
                return inc["id"]
        return None

    def emit(self, t, api, tok: Tok | str, tags=()):
        if isinstance(tok, Tok):
            raw = tok.raw
            tt = []
            for x in tok.tags:
                if isinstance(x, tuple):  # kid tag: decided at presentation time
                    iid = x[1]
                    for kid, fn, j in self.kid_tags:
                        if j == iid and kid == tok.kid and fn(tok.iat, t):
                            if not self.inc_by_id[iid].get("_needs_live") or tok.exp + 60 > t:
                                tt.append(iid)
                elif x:
                    inc = self.inc_by_id.get(x, {})
                    if inc.get("kind") == "signature_spike" and tok.exp + 60 <= t:
                        continue  # an expired token: it would be refused anyway
                    if inc.get("kind") == "server_clock_skew" and t > inc["_b"] + abs(inc["offset_s"]) + 5 * M:
                        continue  # a token stamped by the wrong clock, presented long after: a stale token
                    tt.append(x)
            for a, b, iid in self.issuer_inc.get(tok.iss, []):
                if a <= t < b:
                    tt.append(iid)
            tags = tuple(tt) + tuple(tags)
            if api != "mesh-gateway" and not tags and tok.exp > t:  # what scanners may have scraped (logs, proxies)
                if len(self.recent) < 200:
                    self.recent.append((raw, api))
                elif self.rng.random() < 0.01:
                    self.recent[self.rng.randrange(200)] = (raw, api)
        else:
            raw = tok
        if self.t0 <= t < self.t1:
            self.reqs.append((t, api, raw, tags))

    # ---- traffic -----------------------------------------------------------------------------------------
    def skew_of(self, cid, actor, t):
        o = actor.offset
        tags = ()
        for a, b, fn, iid, frac in self.client_skew.get(cid, ()):
            if a <= t < b and (frac >= 1.0 or (actor.idx * 2654435761 % 1000) / 1000 < frac):
                o += fn(t)
                tags = (iid,)
            elif b <= t < b + 5 * M and (frac >= 1.0 or (actor.idx * 2654435761 % 1000) / 1000 < frac):
                tags = (iid,)  # tokens taken while skewed are still in use
        return o, tags

    def pick_api(self, c):
        r = self.rng.random()
        acc = 0.0
        for api, w in c["apis"].items():
            acc += w
            if r < acc:
                return api
        return api

    def times(self, rate_fn, peak):
        """Non-homogeneous Poisson arrivals by thinning (rate in events/s, peak its bound)."""
        rng = self.rng
        out = []
        if peak <= 0:
            return out
        t = self.t0 - 2 * H  # warm-up: actors get tokens before the window
        while True:
            t += rng.expovariate(peak)
            if t >= self.t1:
                return out
            if rng.random() * peak < rate_fn(t):
                out.append(t)

    def local_h(self, iss, t):
        return ((t % D) / H + self.issuers[iss].tz) % 24

    def present(self, c, actor: Actor, t, api, resume=False):
        """The actor makes one request at true time t (maybe refreshing its token first)."""
        rng = self.rng
        iss = self.issuers[c["iss"]]
        cid = c["cid"]
        off, skew_tags = self.skew_of(cid, actor, t)
        p = t + off
        life = c["life"]
        tok = actor.tok
        # the first request after a long idle: an app resumed / a laptop woken presents the token it holds
        if resume and tok is not None and tok.exp < t and rng.random() < c.get("stale_p", 0):
            self.emit(t, api, tok)
            t += rng.uniform(0.2, 1.5)
        refused = iss.stalled(t) or any(a <= t < b for a, b in self.refusals.get(cid, ()))
        stall_tag = ()
        if iss.stalled(t):
            stall_tag = (self._inc_for("issuer_stalled", issuer=iss.url),)
        margin = actor.inst if actor.inst is not None else 60
        if tok is None or p >= tok.exp - margin:
            if refused or (rng.random() < 0.002):
                if tok is None or tok.exp < t - 2 * H:
                    return  # nothing usable: the user sees a login page, no API call
                # keeps the token it has
                self.emit(t, api, tok, skew_tags + stall_tag)
                actor.last = t
                return
            tags = ()
            idtok = False
            for a, b, frac, iid in self.type_conf.get(cid, ()):
                if a <= t < b and rng.random() < frac:
                    idtok, tags = True, (iid,)
            aud = [a for a in c["apis"]]
            for a, b, wrong, iid in self.aud_client.get(cid, ()):
                if a <= t < b:
                    aud = [wrong]
                    tags = (*tags, iid)
            if idtok:
                nt = self.sign(iss, t, cid, f"u{actor.idx}", life, cid, typ="JWT", idtoken=True, extra_tags=tags)
            else:
                nt = self.sign(
                    iss, t, cid, f"{cid[:3]}{actor.idx}", life, aud if len(aud) > 1 else aud[0], extra_tags=tags
                )
            actor.prev, actor.tok = tok, nt
            actor.inst = {"m2m": rng.uniform(120, 420), "mesh": rng.uniform(15, 45)}.get(
                c["kind"], rng.uniform(20, 120)
            )
            tok = nt
        # a concurrent request that raced the refresh still carries the previous token (seconds-minutes late)
        if actor.prev is not None and rng.random() < 0.003 and actor.prev.exp < t:
            self.emit(t + rng.uniform(0, 3), api, actor.prev, skew_tags)
        self.emit(t, api, tok, skew_tags + stall_tag)
        actor.last = t

    def make_actors(self, c):
        rng = self.rng
        n = max(1, int(c["actors"] * (self.scale if c["kind"] in ("mobile", "spa") else 1)))
        acts = []
        for i in range(n):
            off = rng.gauss(0, 1.5)
            if rng.random() < c.get("bad_clock", 0):
                off = rng.choice((-1, 1)) * rng.uniform(60, 600)
            acts.append(Actor(i, off))
        if c["kind"] == "kiosk" and c["cid"].endswith("checkin-kiosk") and c["iss"] == "lc":
            acts[3].offset = -150.0  # one kiosk with an old CMOS battery
        return acts

    def initial_token(self, c, actor, t):
        """A token held since the actor's last activity (before the timeline): minutes to days old."""
        rng = self.rng
        kind = c["kind"]
        ago = {
            "spa": rng.expovariate(1 / (1.5 * D)),
            "mobile": rng.expovariate(1 / (3 * D)),
            "kiosk": rng.uniform(8 * H, 16 * H),
        }.get(kind, 0)
        ago = min(ago, 12 * D)
        ti = t - ago - rng.uniform(0, c["life"])
        iss = self.issuers[c["iss"]]
        aud = list(c["apis"])
        tok = self.sign(iss, ti, c["cid"], f"{c['cid'][:3]}{actor.idx}", c["life"], aud if len(aud) > 1 else aud[0])
        actor.tok = tok
        actor.last = ti

    def gen_sessions(self, c, acts):
        rng = self.rng
        sc = self.scale
        mult = []
        if "marketing" in self.extras and c["cid"] == "mh-patient-app":
            a = self.t0 + (15.5 - self.t0 % D / H) % 24 * H
            mult.append((a, a + 50 * M, 4.0))
        peak = c["sess_peak"] * sc / H

        def rate(t):
            r = peak * diurnal(c["shape"], self.local_h(c["iss"], t), self.weekend)
            for a, b, m in mult:
                if a <= t < b:
                    r *= m
            return r

        weights = [1 / (i + 1) ** 0.6 for i in range(len(acts))]
        cum = []
        s = 0
        for w in weights:
            s += w
            cum.append(s)
        out = []
        for t in self.times(rate, peak * 4.0):
            a = acts[bisect.bisect(cum, rng.random() * s)]
            n = 1 + int(rng.expovariate(1 / c["n"]))
            tt = t
            for j in range(min(n, 200)):
                out.append((tt, a, j == 0))
                tt += rng.expovariate(1 / c["gap"])
        return out

    def gen_steady(self, c, acts):
        rng = self.rng
        out = []
        if c["kind"] == "kiosk":
            per = c["per_actor"]
            for a in acts:
                t = self.t0 - 1 * H
                last = t
                while t < self.t1:
                    t += rng.expovariate(per)
                    if rng.random() < diurnal("clinic", self.local_h(c["iss"], t), self.weekend):
                        out.append((t, a, t - last > 2 * H))
                        last = t
        else:
            rate = c["rate"] * self.scale
            for a in acts:

                def rf(t, c=c):
                    return rate / len(acts) * diurnal(c["shape"], self.local_h(c["iss"], t), self.weekend)

                for t in self.times(rf, rate / len(acts) * 1.05):
                    out.append((t, a, False))
        return out

    def plan(self):
        rng = self.rng
        self.setup()
        evs = []
        clients = client_defs()
        for c in clients:
            acts = self.make_actors(c)
            if c["kind"] in ("spa", "mobile"):
                evs += [(t, c, a, r) for t, a, r in self.gen_sessions(c, acts)]
            else:
                evs += [(t, c, a, r) for t, a, r in self.gen_steady(c, acts)]
        # batch backfill: a worker pool hammering billing-api for orbit-freight, restarted half way (cached token)
        if "backfill" in self.extras:
            c = dict(cid="of-batch-backfill", iss="of", kind="m2m", shape="flat", life=3600, apis={"billing-api": 1.0})
            workers = [Actor(i, rng.gauss(0, 1)) for i in range(6)]
            a0 = self.t0 + rng.uniform(1, 3) * H
            restart = a0 + 40 * M
            for w in workers:
                t = a0
                while t < a0 + 90 * M:
                    t += rng.expovariate(1.5 * self.scale)
                    evs.append((t, c, w, abs(t - restart) < 1.0))
            self.backfill_restart = restart
            self.backfill_workers = workers
        evs.sort(key=lambda e: e[0])
        for t, c, a, resume in evs:
            if a.tok is None and c["kind"] in ("spa", "mobile", "kiosk"):
                self.initial_token(c, a, t)
            if c["cid"] == "of-batch-backfill" and resume and a.tok is not None:
                # restarted workers read the token cached by the previous run (hours old)
                old = self.sign(
                    self.issuers["of"], t - rng.uniform(3, 20) * H, c["cid"], f"of-b{a.idx}", 3600, "billing-api"
                )
                for _ in range(rng.randint(1, 3)):
                    self.emit(t + rng.uniform(0, 2), "billing-api", old)
            if c["kind"] in ("spa", "mobile") and resume is False and a.last is not None and t - a.last > 30 * M:
                resume = True
            self.present(c, a, t, self.pick_api(c), resume)
            # misrouted request: the SPA calls an API its token is not for (wrong audience / untrusted issuer)
            if c["kind"] == "spa" and rng.random() < 0.0008 and a.tok is not None:
                self.emit(t + 0.1, rng.choice(PUBLIC_APIS), a.tok)
            # a rarely used page asks the IdP for a token of one audience and calls another API with it, or (an old
            # bug in one screen) sends the ID token: background AUDIENCE_MISMATCH / TYPE_MISMATCH with a client id
            if c["kind"] in ("spa", "mobile") and len(c["apis"]) > 1 and rng.random() < 0.0006:
                apis = list(c["apis"])
                iss = self.issuers[c["iss"]]
                if rng.random() < 0.3:
                    bad = self.sign(iss, t, c["cid"], f"u{a.idx}", c["life"], c["cid"], typ="JWT", idtoken=True)
                    self.emit(t + 0.2, rng.choice(apis), bad)
                else:
                    one = rng.choice(apis)
                    bad = self.sign(iss, t, c["cid"], f"{c['cid'][:3]}{a.idx}", c["life"], one)
                    self.emit(t + 0.2, rng.choice([x for x in apis if x != one]), bad)
        self.background_noise()
        for inc in self.incidents:
            if inc["kind"] == "attack_burst":
                self.attack(inc)
        self.reqs.sort(key=lambda r: r[0])

    def background_noise(self):
        rng = self.rng
        t0, t1 = self.t0, self.t1
        # internet scanners: 1-3 garbage tokens per minute, on the public APIs
        for t in self.times(lambda t: rng.uniform(1, 3) / 60, 3 / 60):
            self._junk_api = None
            j = self.junk(t)
            self.emit(t, self._junk_api or rng.choice(PUBLIC_APIS), j)
        # pentest: 1-2 h of 2-4/min from one tester, a mix of everything
        if "pentest" in self.extras:
            a = rng.uniform(t0 + 2 * H, t1 - 3 * H)
            r = rng.uniform(2, 4) / 60
            for t in self.times(lambda t: r if a <= t < a + 1.5 * H else 0, r):
                self.emit(t, rng.choice(PUBLIC_APIS[:3]), self.junk(t))
        # staging tokens reaching prod (developers, a misconfigured preview build)
        stg = self.issuers["stg"]
        for t in self.times(lambda t: 5 / H * diurnal("office", self.local_h("mh", t)), 5 / H):
            tok = self.sign(
                stg,
                t - rng.uniform(0, 600),
                "mh-web-portal",
                f"dev{rng.randrange(6)}",
                900,
                ["appointments-api", "records-api", "billing-api"],
            )
            self.emit(t, rng.choice(["appointments-api", "records-api"]), tok)
        # a decommissioned fax bridge still presenting the token it got three weeks ago
        old = self.sign(
            self.issuers["mh"], t0 - rng.uniform(18, 22) * D, "mh-legacy-fax-bridge", "fax-bridge", 3600, "records-api"
        )
        for t in self.times(lambda t: 3 / H, 3 / H):
            self.emit(t, "records-api", old)

    def junk(self, t, strong=False):
        rng = self.rng
        iss = rng.choice(["mh", "lc", "nw", "of", "pt"])
        url = self.issuers[iss].url
        kind = rng.random()
        now = int(t)
        base = {"iss": url, "sub": "admin", "aud": rng.choice(PUBLIC_APIS), "iat": now, "exp": now + 3600}
        if kind < 0.22:
            return rng.choice(
                [
                    "undefined",
                    "null",
                    "Bearer",
                    "eyJhbGciOi",
                    "' OR 1=1 --",
                    "a.b.c",
                    "x" * 40,
                    b64u(os.urandom(24)) + "." + b64u(os.urandom(30)) + "." + b64u(os.urandom(20)),
                    "eyJ0eXAiOiJKV1QifQ." + b64u(os.urandom(16)),
                ]
            )
        if kind < 0.40:  # alg none
            h = b64u(json.dumps({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
            return h + "." + b64u(json.dumps(base).encode()) + "."
        if kind < 0.60:  # random kid, attacker's RSA key
            return jwt.encode(
                base, self.attacker, algorithm="RS256", headers={"kid": f"{rng.getrandbits(40):010x}", "typ": "at+jwt"}
            )
        if kind < 0.75 and self.recent:  # tampered real token
            raw, api = rng.choice(self.recent)
            self._junk_api = api
            h, p, s = raw.split(".")
            try:
                cl = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            except Exception:
                cl = {}
            cl["sub"] = "admin"
            cl["scope"] = "admin api"
            return h + "." + b64u(json.dumps(cl).encode()) + "." + s
        if kind < 0.88:  # default typ, no client id, a real-looking kid
            kid = self.issuers[iss].signing_key(t).kid
            return jwt.encode(base, self.attacker, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})
        # HS256 with the issuer's name as secret
        return jwt.encode(
            base,
            "secret-" + iss + "-0123456789abcdef0123456789",
            algorithm="HS256",
            headers={"kid": self.issuers[iss].signing_key(t).kid},
        )

    def attack(self, inc):
        a, b = inc["_a"], inc["_b"]
        r = inc["per_min"] / 60 * max(0.5, min(1.0, self.scale * 1.5))
        for t in self.times(lambda t: r if a <= t < b else 0, r):
            if t >= a:
                self.emit(t, self.rng.choice(inc["apis"]), self.junk(t), (inc["id"],))

    # ---- pods ----------------------------------------------------------------------------------------------
    def pods(self):
        """Replica processes per API: (name, api, start, end, config), rolling deploys and autoscaling."""
        rng = self.rng
        out = []
        for api, d in APIS.items():
            mods = self.pod_mods.get(api, [])
            deps = sorted(self.deploys[api])
            bounds = [self.t0 - 3 * H, *deps, self.t1 + H]
            for g in range(len(bounds) - 1):
                for r in range(d["replicas"]):
                    s = bounds[g] + (r * 75.0 if g else 0)
                    e = bounds[g + 1] + (r * 75.0 if g + 1 < len(bounds) - 1 else 0)
                    cfg = {"aud": api, "clock": []}
                    for m in mods:
                        if m["kind"] == "audience" and m["a"] <= bounds[g] < m["b"]:
                            cfg["aud"] = m["wrong"]
                            cfg["aud_iid"] = m["iid"]
                        if m["kind"] == "clock" and m["pod"] == r:
                            cfg["clock"].append((m["a"], m["b"], m["offset"], m["iid"]))
                    out.append(dict(name=f"{api}-g{g}r{r}", api=api, start=s, end=e, cfg=cfg, rep=r))
            if d.get("autoscale"):
                # an extra replica at the busiest hours (UTC afternoon: Europe + US east overlap)
                day = self.t0 - self.t0 % D
                for dd in range(2):
                    a = day + dd * D + 14 * H + rng.uniform(-1, 1) * H
                    b = a + rng.uniform(3, 5) * H
                    if b > self.t0 and a < self.t1:
                        cfg = {"aud": api, "clock": []}
                        for m in mods:
                            if m["kind"] == "audience" and m["a"] <= a < m["b"]:
                                cfg["aud"] = m["wrong"]
                                cfg["aud_iid"] = m["iid"]
                        out.append(dict(name=f"{api}-as{dd}", api=api, start=a, end=b, cfg=cfg, rep=99))
        return out

    def route(self, pods):
        by_api: dict[str, list] = {}
        for p in pods:
            by_api.setdefault(p["api"], []).append(p)
            p["reqs"] = []
        rng = self.rng
        for t, api, raw, tags in self.reqs:
            live = [p for p in by_api[api] if p["start"] <= t < p["end"]]
            if not live:
                live = by_api[api][:1]
            p = live[rng.randrange(len(live))]
            extra = ()
            if p["cfg"].get("aud_iid"):
                extra += (p["cfg"]["aud_iid"],)
            for a, b, _o, iid in p["cfg"]["clock"]:
                if a <= t < b:
                    extra += (iid,)
            p["reqs"].append((t, raw, tags + extra))


# --------------------------------------------------------------------------------------------------------------
# replica process: key-set server + validator
# --------------------------------------------------------------------------------------------------------------

SIM_NOW = [0.0]


def start_jwks_server(issuers: dict):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cache: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a):
            pass

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1].split(".")[0]
            iss = issuers.get(name)
            now = SIM_NOW[0]
            if iss is None or iss.down(now):
                body = b'{"error":"unavailable"}'
                self.send_response(503 if iss else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            keys = [k for k in iss.published(now) if k.jwk is not None]
            sig = (name, tuple(k.kid for k in keys))
            body = cache.get(sig)
            if body is None:
                body = cache[sig] = json.dumps({"keys": [k.jwk for k in keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", f"public, max-age={iss.maxage}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
    th.start()
    return f"http://127.0.0.1:{srv.server_address[1]}/jwks/"


class _MonoShim:
    """PyJWKClient's cache reads time.monotonic, which time_machine does not move: give it the simulated clock."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def monotonic():
        return time.time()


def build_validator(pod, issuers, base):
    import jwtobs

    api = pod["api"]
    d = APIS[api]
    aud = pod["cfg"]["aud"]
    leeway = d["leeway"]
    urls = {issuers[i].url: base + i for i in d["issuers"]}
    path = d["path"]
    simclock = lambda: time.time()  # noqa: E731
    if path in ("verifierset", "verifier"):
        vs = []
        for i in d["issuers"]:
            iss = issuers[i]
            prof = jwtobs.Profile(
                name=api, issuer=iss.url, audience=aud, algorithms=(iss.alg,), token_type=d.get("typ"), leeway=leeway
            )
            src = jwtobs.JwksSource(
                base + i,
                timeout=2.0,
                cooldown=d.get("cooldown", 30),
                clock=simclock,
                max_stale=d.get("max_stale", 86400),
            )
            vs.append(jwtobs.Verifier(prof, keys=src, backend=d["backend"]))
        v = vs[0] if path == "verifier" else jwtobs.VerifierSet(vs)
        return v.verify
    if path == "pyjwkclient":
        import importlib

        importlib.import_module("jwt.jwk_set_cache").time = _MonoShim()
        importlib.import_module("jwt.jwks_client").time = _MonoShim()
        clients = {u: jwt.PyJWKClient(x, cache_keys=True, lifespan=300, timeout=2) for u, x in urls.items()}

        def validate(token):
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
            cl = clients.get(iss)
            if cl is None:
                raise jwt.InvalidIssuerError("Invalid issuer")
            key = cl.get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=aud, issuer=iss, leeway=leeway)

        return jwtobs.wrap(validate, library="pyjwt", profile=api)

    import urllib.request

    class HomeCache:
        """What many teams write: TTL cache, refetch on an unknown kid (bounded), stale for a while on failure."""

        def __init__(self, url, ttl, cooldown, stale):
            self.url, self.ttl, self.cooldown, self.stale = url, ttl, cooldown, stale
            self.doc = None
            self.kids = set()
            self.fetched = -1e18
            self.tried = -1e18
            self.parsed = None

        def _fetch(self):
            now = time.time()
            self.tried = now
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    doc = json.load(r)
            except Exception:
                return False
            self.doc = doc
            self.kids = {k.get("kid") for k in doc.get("keys", [])}
            self.fetched = now
            self.parsed = None
            return True

        def get(self, kid):
            now = time.time()
            if now < self.fetched - 1:  # clock set back
                self.fetched = self.tried = now - self.ttl
            if self.doc is None or now - self.fetched >= self.ttl:
                if now - self.tried >= 5 or self.doc is None:
                    self._fetch()
            elif kid not in self.kids and now - self.tried >= self.cooldown:
                self._fetch()
            if self.doc is None or now - self.fetched >= self.ttl + self.stale:
                raise jwtobs.TokenRejected(jwtobs.Reason.JWKS_UNAVAILABLE, "connection")
            return self.doc

    if path == "joserfc":
        from joserfc import jws as jjws
        from joserfc import jwt as jjwt
        from joserfc.errors import DecodeError, InvalidClaimError
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry

        caches = {u: HomeCache(x, 300, 60, 60) for u, x in urls.items()}
        algs = sorted({issuers[i].alg for i in d["issuers"]})

        def validate_jf(token):
            obj = jjws.extract_compact(token.encode() if isinstance(token, str) else token)
            try:
                claims = json.loads(obj.payload)
            except ValueError:
                raise DecodeError("payload") from None
            iss = claims.get("iss") if isinstance(claims, dict) else None
            cache = caches.get(iss)
            if cache is None:
                raise InvalidClaimError("iss")
            doc = cache.get(obj.headers().get("kid"))
            if cache.parsed is None:
                cache.parsed = KeySet.import_key_set(doc)
            tok = jjwt.decode(token, cache.parsed, algorithms=algs)
            JWTClaimsRegistry(
                now=int(time.time()),
                leeway=leeway,
                iss={"essential": True, "value": iss},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            ).validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate_jf, library="joserfc", profile=api)
    if path == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken

        caches = {u: HomeCache(x, 600, 120, 0) for u, x in urls.items()}
        jwt_al = JsonWebToken(["RS256"])

        def validate_al(token):
            try:
                iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
            except Exception:
                iss = None
            cache = caches.get(iss) or next(iter(caches.values()))
            hdr_kid = None
            try:
                hdr_kid = jwt.get_unverified_header(token).get("kid")
            except Exception:
                pass
            doc = cache.get(hdr_kid)
            if cache.parsed is None:
                cache.parsed = JsonWebKey.import_key_set(doc)
            c = jwt_al.decode(
                token,
                cache.parsed,
                claims_options={
                    "iss": {"essential": True, "values": list(urls)},
                    "aud": {"essential": True, "value": aud},
                    "exp": {"essential": True},
                },
            )
            c.validate(now=int(time.time()), leeway=leeway)
            return c

        return jwtobs.wrap(validate_al, library="authlib", profile=api)
    raise ValueError(path)


def run_pod(pod, issuers, events_path):
    import time_machine

    import jwtobs

    jwtobs.configure(events_path=events_path, service=pod["api"], fingerprint_key=FP_KEY)
    base = start_jwks_server(issuers)
    reqs = pod["reqs"]
    validator = build_validator(pod, issuers, base)
    clock = pod["cfg"]["clock"]
    with time_machine.travel(reqs[0][0], tick=False) as tr:
        for t, raw, _tags in reqs:
            SIM_NOW[0] = t
            off = 0.0
            for a, b, o, _ in clock:
                if a <= t < b:
                    off = o
            tr.move_to(t + off, tick=False)
            try:
                validator(raw)
            except Exception:
                pass
    jwtobs.flush()


def pod_main(pod, issuers, events_path):
    try:
        run_pod(pod, issuers, events_path)
    except BaseException as e:  # pragma: no cover
        print(f"pod {pod['name']} failed: {e!r}", file=sys.stderr)
        import traceback

        traceback.print_exc()
        os._exit(3)
    os._exit(0)


# --------------------------------------------------------------------------------------------------------------
# one timeline
# --------------------------------------------------------------------------------------------------------------


def generate(name, out, seed_base, scale):
    # import everything the replicas use before forking them (no jwtobs configuration in the parent)
    import authlib.jose  # noqa: F401
    import joserfc.jwt  # noqa: F401
    import time_machine  # noqa: F401

    import jwtobs  # noqa: F401

    spec = TIMELINES[name]
    seed = seed_base + spec["seed"]
    t_start = time.time()
    pl = Planner(name, spec, scale, seed)
    pl.plan()
    pods = [p for p in pl.pods()]
    pl.route(pods)
    pods = [p for p in pods if p["reqs"]]
    for iss in pl.issuers.values():  # public keys of every key that is ever published in the window
        for k in iss.keys:
            if k.pub_end > pl.t0 - 4 * H and k.pub_start < pl.t1:
                k.materialise()
    t_plan = time.time() - t_start
    d = os.path.join(out, name)
    ev_dir = os.path.join(d, "events")
    os.makedirs(ev_dir, exist_ok=True)
    for f in os.listdir(ev_dir):
        os.remove(os.path.join(ev_dir, f))
    ctx = mp.get_context("fork")
    for p in pods:
        path = os.path.join(ev_dir, f"{p['name']}.jsonl")
        proc = ctx.Process(target=pod_main, args=(p, pl.issuers, path))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"{name}: replica {p['name']} exited {proc.exitcode}")
    # labels: match events to requests by order within each replica's file
    incs = {i["id"]: dict(i, _times=[]) for i in pl.incidents}
    reasons: dict[str, int] = {}
    n_val = n_rej = 0
    expired_late = []
    for p in pods:
        path = os.path.join(ev_dir, f"{p['name']}.jsonl")
        evs = []
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if "event" in e:
                    continue
                evs.append(e)
        if len(evs) != len(p["reqs"]):
            raise SystemExit(f"{name}: {p['name']}: {len(evs)} events for {len(p['reqs'])} requests")
        for (t, _raw, tags), e in zip(p["reqs"], evs, strict=False):
            n_val += 1
            if e["outcome"] != "rejected":
                continue
            n_rej += 1
            r = e["reason"]
            reasons[r] = reasons.get(r, 0) + 1
            if r == "JWT_EXPIRED" and e.get("exp"):
                expired_late.append(t - e["exp"])
            for iid in tags:
                inc = incs.get(iid)
                if inc is None:
                    continue
                ok = REASONS_FOR[inc["kind"]]
                if ok is None or r in ok:
                    inc["_times"].append(ts(e["time"]))
    labels = []
    for iid, inc in incs.items():
        tt = sorted(inc["_times"])
        k = inc["kind"]
        ent = dict(
            issuer=inc.get("_issuer"), kid=inc.get("_kid"), client_id=inc.get("_client"), profile=inc.get("_profile")
        )
        detail = {
            "kid_before_publish": f"signing with the new kid {inc.get('delay_min')} min before it was published",
            "key_removed_early": (
                f"old kid removed {inc.get('removed_after_min')} min after the switch (tokens live 1 h)"
            ),
            "jwks_outage": f"key set endpoint 503 for {inc.get('dur', 0) * 60:.0f} min"
            + (f", {inc['deploy']} redeployed during it" if inc.get("deploy") else ""),
            "signature_spike": f"IdP signed with replaced key material under the current kid for "
            f"{inc.get('dur', 0) * 60:.0f} min",
            "clock_skew": (
                f"client clock drifting 0 -> {inc.get('drift_to_s')} s over {inc.get('dur')} h"
                if "drift_to_s" in inc
                else f"client clock {inc.get('offset_s')} s for {inc.get('dur')} h"
            ),
            "server_clock_skew": (
                f"issuer clock {inc.get('offset_s')} s for {inc.get('dur')} h"
                if inc.get("side") == "issuer"
                else f"one {inc.get('api')} replica's clock {inc.get('offset_s')} s for {inc.get('dur')} h"
            ),
            "issuer_stalled": f"token endpoint down {inc.get('dur', 0) * 60:.0f} min, key set up",
            "audience_misconfig": (
                f"client requests tokens for audience {inc.get('wrong')}"
                if inc.get("side") == "client"
                else f"API deployed with audience {inc.get('wrong')!r}, rolled back"
            ),
            "type_confusion": f"{int(inc.get('frac', 0) * 100)} % of sessions send ID tokens (new app release)",
            "attack_burst": f"{inc.get('per_min')}/min for {inc.get('dur', 0) * 60:.0f} min on {inc.get('apis')}",
        }[k]
        labels.append(
            dict(
                id=iid,
                kind=k,
                start=iso(tt[0]) if tt else None,
                end=iso(tt[-1]) if tt else None,
                count=len(tt),
                **ent,
                detail=detail,
            )
        )
    lab = dict(
        timeline=name,
        quiet=spec["quiet"],
        seed=seed,
        start=iso(pl.t0).replace(".000000", ""),
        end=iso(pl.t1).replace(".000000", ""),
        generator=GEN,
        incidents=labels,
    )
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(lab, f, indent=1)
    el = sorted(expired_late)
    q = (lambda f: round(el[int(f * (len(el) - 1))], 1)) if el else (lambda f: None)
    summ = dict(
        validations=n_val,
        rejections=n_rej,
        reasons=dict(sorted(reasons.items(), key=lambda x: -x[1])),
        replicas=len(pods),
        tokens_signed=pl.n_signed,
        expired_share=round(reasons.get("JWT_EXPIRED", 0) / max(1, n_val), 4),
        expired_lateness_s=dict(p10=q(0.1), p50=q(0.5), p90=q(0.9), p99=q(0.99)),
        incidents={x["id"]: dict(kind=x["kind"], count=x["count"]) for x in labels},
        plan_s=round(t_plan, 1),
        total_s=round(time.time() - t_start, 1),
    )
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
    print(
        f"{name}: {n_val} validations, {n_rej} rejections ({n_rej / max(1, n_val):.2%}), {len(pods)} replicas, "
        f"{pl.n_signed} tokens, {summ['total_s']} s",
        flush=True,
    )
    print(f"  reasons: {summ['reasons']}", flush=True)
    print(f"  expired lateness s: {summ['expired_lateness_s']}", flush=True)
    for x in labels:
        print(
            f"  {x['id']} {x['kind']}: count={x['count']} {x['start']} .. {x['end']} "
            f"iss={x['issuer']} kid={x['kid']} client={x['client_id']} profile={x['profile']}",
            flush=True,
        )
    return summ


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="comma-separated timeline names")
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--score", action="store_true", help="then score jwtobs's detectors on what is in --out")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    a = ap.parse_args(argv)
    if a.score_only:
        return _score(a.out, a.only.split(",") if a.only else None)
    names = a.only.split(",") if a.only else list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    if a.jobs > 1 and len(names) > 1:
        running: list = []
        todo = list(names)
        while todo or running:
            while todo and len(running) < a.jobs:
                n = todo.pop(0)
                running.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--out",
                            a.out,
                            "--only",
                            n,
                            "--seed-base",
                            str(a.seed_base),
                            "--scale",
                            str(a.scale),
                        ]
                    )
                )
            for p in list(running):
                if p.poll() is not None:
                    running.remove(p)
                    if p.returncode:
                        raise SystemExit(p.returncode)
            time.sleep(0.5)
    else:
        for n in names:
            generate(n, a.out, a.seed_base, a.scale)
    summary = {}
    for n in TIMELINES:
        f = os.path.join(a.out, n, "summary.json")
        if os.path.exists(f):
            with open(f) as fh:
                summary[n] = json.load(fh)
    with open(os.path.join(a.out, "fleet34-summary.json"), "w") as f:
        json.dump(
            dict(
                generator=GEN,
                scale=a.scale,
                seed_base=a.seed_base,
                timelines=summary,
                wall_s=round(time.time() - t0, 1),
            ),
            f,
            indent=1,
        )
    print(f"done in {time.time() - t0:.1f} s", flush=True)
    return _score(a.out, names) if a.score else 0


def _score(out: str, only: list[str] | None) -> int:
    """jwtobs's detectors over the generated timelines, scored as ``benchmarks/fleet22.py`` scores its own (a
    detection matches a label of its kind and entity overlapping it +-120 s; on a quiet day every detection is a
    false one). Added after the generator was written and run, by someone who had read the detectors."""
    from pathlib import Path

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    names = [n for n in TIMELINES if not only or n in only]
    fleet22.report([fleet22.score(Path(out) / n) for n in names if (Path(out) / n / "labels.json").exists()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
