"""fleet48: a blind benchmark fleet for jwtobs - an EV charging network.

Design note
===========

Issuers (keys generated at run time, key sets served by a real ``http.server`` on 127.0.0.1 in every worker
process, whose answers follow the simulated clock):

- ``https://id.voltway.example`` (OP, RS256): the operator's own IdP. Client-credentials tokens for backend
  services (csms-core pods, billing workers, 1 h), PKCE tokens for the driver app (``voltway-ios`` /
  ``voltway-android``, thousands of phones per client id, 10 min), staff tokens for the admin console (15 min).
  Rotates its key once a day with a proper overlap (published 2 h before use, removed hours after).
- ``https://pki.voltway.example/chargers`` (DEV, ES256): device tokens of the chargers (8 h), one client id per
  site (``cpo-site-NN``, ~15 chargers each). Chargers have cheap RTCs (reset to 2020-01-01 after a power cut until
  they reach NTP) and cellular modems that drop for hours and then flush queued requests with the token they held.
- ``https://auth.fleetlink.example`` (FLEET, RS256): the fleet-management partner; corporate fleets' depot systems,
  many vehicles/depot gateways per client id (``fleet-NNN``), 30 min tokens, some integrations only refresh after
  a 401.
- ``https://hub.eroam.example`` (HUB1, ES256) and ``https://ocpi.chargex.example`` (HUB2, RS256): OCPI-style
  roaming hubs signing their own tokens (HUB1 5 min, HUB2 15 min; client id = the downstream party), rotating keys on
  their own schedules.

APIs (service = profile = API name; replicas are separate event files, one worker process each):

=================  ====================================================  ======  ========
API                validator                                             leeway  replicas
=================  ====================================================  ======  ========
charger-gw         ``jwtobs.VerifierSet``: DEV (backend pyjwt) + OP       120 s   3
                   (backend authlib), ``jwtobs.JwksSource`` each
session-billing    ``jwtobs.wrap`` around joserfc decode +                30 s    3
                   ``JWTClaimsRegistry`` (OP + FLEET)
driver-api         ``jwtobs.wrap`` around PyJWT + ``PyJWKClient`` (OP)    0 s     3 (+1 autoscaled at the evening peak)
roaming-api        ``jwtobs.wrap`` around jwcrypto ``JWT`` (HUB1, HUB2)   60 s    2
tariff-api         ``jwtobs.wrap`` around python-jose (OP + FLEET)        10 s    2
admin-console      ``jwtobs.wrap`` around Authlib decode + validate (OP)  0 s     2
=================  ====================================================  ======  ========

Background (every timeline): weekday/weekend diurnal curves (evening commute peak 16-19 UTC, depot traffic on
weekdays), chargers heartbeating all day; expired tokens from lazy refresh-after-401 integrations, phones resuming
the app with a cached token, chargers flushing queued requests after a modem drop, pods replaying a disk-cached
token after a restart, phones whose clocks are behind; device clocks off by seconds to minutes, some drifting,
small power cuts resetting a few RTCs for minutes; 1-3 scanner tokens a minute (alg none, random kid, typ JWT
without client id, tampered, truncated, huge, HS256 with the public key, years expired); a daily healthy rotation
of OP, rotations of the hubs; short JWKS blips (503 for a minute or two); rolling deploys around midday, random
crashes (cold key caches), and an autoscaled driver-api replica at the evening peak.

Incidents (``INCIDENTS``, 4 timelines of 12 h): see the entries; hard ones include a site-wide power cut resetting
one site's chargers (device-group clock skew, 2020 RTC until NTP), a roaming hub whose clock drifts ahead, a hub
rotating its key before publishing it, a session-billing replica whose clock is ahead, a slow token-stuffing scan
on the driver app under the scanner noise and a loud burst, a fleet IdP token endpoint outage, an HSM failover
signing with other key material under the same kid.

Labels: requests are tagged at generation with the ids of the incidents that could make them fail; events are
matched to requests by order within each replica file, and a rejection is counted when its request carries the
incident's tag and its reason is one the kind causes (``REASONS_OF``).
"""

from __future__ import annotations

import argparse
import base64
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
import warnings
import zlib
from datetime import UTC, datetime

GENERATOR = "fleet48"
warnings.filterwarnings("ignore", message=".*authlib.jose module is deprecated.*")
H = 3600.0
M = 60.0

OP = "https://id.voltway.example"
DEV = "https://pki.voltway.example/chargers"
FLEET = "https://auth.fleetlink.example"
HUB1 = "https://hub.eroam.example"
HUB2 = "https://ocpi.chargex.example"
ISSUERS = {
    OP: ("op", "RS256"),
    DEV: ("dev", "ES256"),
    FLEET: ("fleet", "RS256"),
    HUB1: ("hub1", "ES256"),
    HUB2: ("hub2", "RS256"),
}

APIS = {  # api: (replicas, leeway, issuers)
    "charger-gw": (3, 120, (DEV, OP)),
    "session-billing": (3, 30, (OP, FLEET)),
    "driver-api": (4, 0, (OP,)),
    "roaming-api": (2, 60, (HUB1, HUB2)),
    "tariff-api": (2, 10, (OP, FLEET)),
    "admin-console": (2, 0, (OP,)),
}

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
    return datetime.strptime(s, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp()


# timelines: name -> (start, hours, quiet); 2026-11-02 is a Monday
TIMELINES = {
    "quiet_mon": ("2026-11-02T00:00", 24, True),
    "quiet_thu": ("2026-11-05T00:00", 24, True),
    "quiet_sat": ("2026-11-07T00:00", 24, True),
    "quiet_sun": ("2026-11-08T00:00", 24, True),
    "inc_tue": ("2026-11-10T08:00", 12, False),
    "inc_wed": ("2026-11-11T10:00", 12, False),
    "inc_fri": ("2026-11-13T09:00", 12, False),
    "inc_sat": ("2026-11-14T10:00", 12, False),
}

# Incidents. Times are hours after the timeline start. Parameters by kind:
#   kid_before_publish: iss, delay (s between first signature and publication)
#   key_removed_early: iss (the old key of the rotation at `at` leaves the set at `at`+removed_after)
#   jwks_outage: iss, dur (s); signature_spike: iss, dur (s), frac (share of tokens signed by the wrong material)
#   clock_skew: client (or site), offset (s, negative = behind), drift (s per hour), dur
#   server_clock_skew: iss (issuer clock) or api+replica (validator clock), offset, drift, dur
#   issuer_stalled: iss, dur; audience_misconfig: api (+replica) or client; type_confusion: client, what
#   attack_burst: api, dur, rate (per min), style
INCIDENTS = [
    # ---- inc_tue (08:00-20:00)
    dict(id="tue-kbp-hub2", timeline="inc_tue", kind="kid_before_publish", at=2.3, iss=HUB2, delay=25 * M),
    dict(id="tue-outage-fleet", timeline="inc_tue", kind="jwks_outage", at=4.0, iss=FLEET, dur=50 * M),
    dict(
        id="tue-site-powercut",
        timeline="inc_tue",
        kind="clock_skew",
        at=5.5,
        site=7,
        dur=3.0 * H,
        detail="site-wide power cut: RTCs reset to 2020-01-01 until NTP",
    ),
    dict(
        id="tue-billing-replica-ahead",
        timeline="inc_tue",
        kind="server_clock_skew",
        at=8.2,
        api="session-billing",
        replica=1,
        offset=150,
        drift=0,
        dur=1.5 * H,
    ),
    dict(
        id="tue-slow-scan",
        timeline="inc_tue",
        kind="attack_burst",
        at=1.0,
        api="driver-api",
        dur=6 * H,
        rate=1.2,
        style="stuffing",
    ),
    dict(
        id="tue-idtoken-android",
        timeline="inc_tue",
        kind="type_confusion",
        at=9.0,
        client="voltway-android",
        what="id_token",
        dur=1.2 * H,
        frac=0.15,
    ),
    dict(
        id="tue-tariff-aud",
        timeline="inc_tue",
        kind="audience_misconfig",
        at=6.5,
        api="tariff-api",
        replica=None,
        dur=35 * M,
    ),
    dict(id="tue-fleet-stall", timeline="inc_tue", kind="issuer_stalled", at=10.0, iss=FLEET, dur=80 * M),
    # ---- inc_wed (10:00-22:00)
    dict(
        id="wed-hub1-drift",
        timeline="inc_wed",
        kind="server_clock_skew",
        at=2.0,
        iss=HUB1,
        offset=20,
        drift=50,
        dur=3.5 * H,
        detail="roaming hub clock drifting ahead",
    ),
    dict(id="wed-removed-dev", timeline="inc_wed", kind="key_removed_early", at=3.0, iss=DEV, removed_after=40 * M),
    dict(
        id="wed-spike-op",
        timeline="inc_wed",
        kind="signature_spike",
        at=7.3,
        iss=OP,
        dur=20 * M,
        frac=0.5,
        detail="HSM failover signs with replaced key material under the same kid",
    ),
    dict(
        id="wed-fleet-behind",
        timeline="inc_wed",
        kind="clock_skew",
        at=1.0,
        client="fleet-007",
        offset=-240,
        drift=0,
        dur=5 * H,
    ),
    dict(
        id="wed-loud-burst",
        timeline="inc_wed",
        kind="attack_burst",
        at=7.8,
        api="driver-api",
        dur=12 * M,
        rate=90,
        style="loud",
    ),
    dict(
        id="wed-fleet-wrong-aud", timeline="inc_wed", kind="audience_misconfig", at=5.0, client="fleet-012", dur=2 * H
    ),
    dict(id="wed-op-stall", timeline="inc_wed", kind="issuer_stalled", at=9.0, iss=OP, dur=25 * M),
    dict(
        id="wed-refresh-gw",
        timeline="inc_wed",
        kind="type_confusion",
        at=4.0,
        client="csms-core",
        what="refresh_token",
        dur=40 * M,
        frac=0.35,
    ),
    # ---- inc_fri (09:00-21:00)
    dict(id="fri-kbp-op", timeline="inc_fri", kind="kid_before_publish", at=3.0, iss=OP, delay=6 * M),
    dict(id="fri-outage-hub1", timeline="inc_fri", kind="jwks_outage", at=5.0, iss=HUB1, dur=35 * M),
    dict(
        id="fri-op-behind",
        timeline="inc_fri",
        kind="server_clock_skew",
        at=8.0,
        iss=OP,
        offset=-200,
        drift=0,
        dur=50 * M,
        detail="operator IdP clock behind",
    ),
    dict(
        id="fri-charger-drift",
        timeline="inc_fri",
        kind="clock_skew",
        at=1.5,
        site=21,
        offset=-240,
        drift=-150,
        dur=4 * H,
        frac=1.0,
        detail="a charger firmware batch with a drifting RTC, no NTP",
    ),
    dict(
        id="fri-admin-aud",
        timeline="inc_fri",
        kind="audience_misconfig",
        at=2.0,
        api="admin-console",
        replica=0,
        dur=50 * M,
    ),
    dict(
        id="fri-loud-burst",
        timeline="inc_fri",
        kind="attack_burst",
        at=9.1,
        api="roaming-api",
        dur=15 * M,
        rate=50,
        style="loud",
    ),
    dict(id="fri-spike-hub1", timeline="inc_fri", kind="signature_spike", at=10.0, iss=HUB1, dur=15 * M, frac=0.9),
    dict(id="fri-removed-hub2", timeline="inc_fri", kind="key_removed_early", at=6.5, iss=HUB2, removed_after=2 * M),
    # ---- inc_sat (10:00-22:00)
    dict(
        id="sat-site-powercut",
        timeline="inc_sat",
        kind="clock_skew",
        at=7.0,
        site=33,
        dur=2.0 * H,
        detail="site-wide power cut at the evening peak: RTCs reset to 2020-01-01",
    ),
    dict(id="sat-hub2-rotate-early", timeline="inc_sat", kind="kid_before_publish", at=4.0, iss=HUB2, delay=70 * M),
    dict(id="sat-outage-op", timeline="inc_sat", kind="jwks_outage", at=6.0, iss=OP, dur=30 * M),
    dict(
        id="sat-tariff-replica-behind",
        timeline="inc_sat",
        kind="server_clock_skew",
        at=2.0,
        api="tariff-api",
        replica=0,
        offset=-95,
        drift=0,
        dur=2 * H,
    ),
    dict(id="sat-removed-op", timeline="inc_sat", kind="key_removed_early", at=1.5, iss=OP, removed_after=20 * M),
    dict(id="sat-spike-dev", timeline="inc_sat", kind="signature_spike", at=9.5, iss=DEV, dur=25 * M, frac=0.3),
    dict(
        id="sat-hub1-idtoken",
        timeline="inc_sat",
        kind="type_confusion",
        at=3.0,
        client="hub1:DE-XYZ",
        what="id_token",
        dur=50 * M,
        frac=0.6,
    ),
    dict(id="sat-fleet-stall", timeline="inc_sat", kind="issuer_stalled", at=8.5, iss=FLEET, dur=2.0 * H),
    dict(
        id="sat-slow-scan",
        timeline="inc_sat",
        kind="attack_burst",
        at=0.5,
        api="driver-api",
        dur=8 * H,
        rate=1.5,
        style="stuffing",
    ),
]

TAG_GRACE = 15 * M


# ----------------------------------------------------------------------------------------------------------------
# key material (generated in the parent, inherited by forked workers)


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return _b64(n.to_bytes(size, "big"))


def _gen_key(alg):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _pub_jwk(kid, alg, priv):
    pub = priv.public_key().public_numbers()
    if alg == "RS256":
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": _int_b64(pub.n), "e": _int_b64(pub.e)}
    return {
        "kty": "EC",
        "kid": kid,
        "use": "sig",
        "alg": alg,
        "crv": "P-256",
        "x": _int_b64(pub.x, 32),
        "y": _int_b64(pub.y, 32),
    }


# ----------------------------------------------------------------------------------------------------------------
# traffic shape


def _daily(t, weekend_kind):
    """Relative traffic of a population at POSIX time t (1.0 ~ mean weekday daytime)."""
    d = datetime.fromtimestamp(t, UTC)
    h = d.hour + d.minute / 60.0
    weekend = d.weekday() >= 5
    if weekend_kind == "driver":
        base = 0.15 + 0.55 * math.exp(-(((h - 12.5) / 3.5) ** 2)) + 1.1 * math.exp(-(((h - 17.6) / 1.7) ** 2))
        base += 0.35 * math.exp(-(((h - 8.0) / 1.2) ** 2)) * (0.3 if weekend else 1.0)
        return base * (0.85 if weekend else 1.0)
    if weekend_kind == "depot":
        base = 0.08 + 0.9 * math.exp(-(((h - 11.0) / 4.0) ** 2)) + 0.5 * math.exp(-(((h - 19.5) / 1.5) ** 2))
        return base * (0.3 if weekend else 1.0)
    if weekend_kind == "roam":
        return (0.2 + 0.5 * math.exp(-(((h - 13) / 4.0) ** 2)) + 0.9 * math.exp(-(((h - 17.5) / 1.8) ** 2))) * (
            1.1 if weekend else 1.0
        )
    if weekend_kind == "staff":
        return (0.03 + math.exp(-(((h - 11.5) / 3.0) ** 2))) * (0.15 if weekend else 1.0)
    if weekend_kind == "charger":
        return 0.55 + 0.25 * math.exp(-(((h - 13) / 4.0) ** 2)) + 0.5 * math.exp(-(((h - 17.5) / 2.0) ** 2))
    return 1.0


def _poisson_times(rng, start, end, rate_per_h, shape, cap):
    """Times of an inhomogeneous Poisson process (thinning; bounded by cap)."""
    peak = 2.2 * rate_per_h / H
    out = []
    t = start
    for _ in range(cap * 4):
        t += rng.expovariate(peak) if peak > 0 else end
        if t >= end or len(out) >= cap:
            break
        if rng.random() * 2.2 < _daily(t, shape):
            out.append(t)
    return out


# ----------------------------------------------------------------------------------------------------------------
# the plan: issuers' key schedules, actors, tokens, requests


class Plan:
    def __init__(self, name, seed, scale):
        self.name = name
        self.seed = seed
        self.scale = scale
        start_s, hours, quiet = TIMELINES[name]
        self.start = _ts(start_s)
        self.end = self.start + hours * H
        self.quiet = quiet
        self.incidents = [] if quiet else [dict(i) for i in INCIDENTS if i["timeline"] == name]
        for inc in self.incidents:
            inc["t0"] = self.start + inc["at"] * H
            inc["t1"] = inc["t0"] + inc.get("dur", 0)
        self.rng = random.Random(seed)
        self.tokens = []  # (iss, kid, alg, typ, claims, mode, tags)
        self.believed = []  # the client's idea of each token's expiry (receive time + expires_in)
        self.requests = {}  # (api, rep) -> list of (t, tok, tags)
        self.keys = {}  # kid -> (alg, private key)
        self.rogue = {}  # kid -> private key (replaced material)
        self.publish = {iss: [] for iss in ISSUERS}  # iss -> [kid, from, until]
        self.signing = {iss: [] for iss in ISSUERS}  # iss -> [kid, from, until]
        self.outages = {iss: [] for iss in ISSUERS}
        self.restarts = {}  # (api, rep) -> sorted times
        self.rep_skew = {}  # (api, rep) -> list of (t0, t1, offset, drift, incid)
        self.misaud_api = {}  # (api, rep or None) -> list of (t0, t1, incid)
        self.issuer_skew = {iss: [] for iss in ISSUERS}
        self.stalls = {iss: [] for iss in ISSUERS}
        self.notes = []

    # ---- keys
    def _key(self, iss, tag):
        alg = ISSUERS[iss][1]
        kid = f"{ISSUERS[iss][0]}-{tag}"
        if kid not in self.keys:
            self.keys[kid] = (alg, _gen_key(alg))
        return kid

    def build_keys(self):
        r = self.rng
        S, E = self.start, self.end
        for iss in ISSUERS:
            short = ISSUERS[iss][0]
            # one rotation inside the timeline for OP (daily), the hubs on their own schedules, DEV/FLEET maybe
            rot = {"op": 1.0, "hub1": 0.6, "hub2": 0.5, "dev": 0.15, "fleet": 0.25}[short]
            old = self._key(iss, f"{datetime.fromtimestamp(S, UTC):%m%d}a{r.randrange(100, 999)}")
            if r.random() < rot:
                tr = S + r.uniform(0.2, 0.8) * (E - S)
                new = self._key(iss, f"{datetime.fromtimestamp(tr, UTC):%m%d}b{r.randrange(100, 999)}")
                self.publish[iss] += [[old, S - 30 * 24 * H, tr + 10 * H], [new, tr - 2 * H, E + 30 * 24 * H]]
                self.signing[iss] += [[old, S - 30 * 24 * H, tr], [new, tr, E + 30 * 24 * H]]
            else:
                self.publish[iss] += [[old, S - 30 * 24 * H, E + 30 * 24 * H]]
                self.signing[iss] += [[old, S - 30 * 24 * H, E + 30 * 24 * H]]
            # JWKS blips: short 503s
            for _ in range(r.randint(0, 3)):
                a = r.uniform(S, E)
                self.outages[iss].append((a, a + r.uniform(20, 150)))
        for inc in self.incidents:
            k, iss, t0 = inc["kind"], inc.get("iss"), inc["t0"]
            if k in ("kid_before_publish", "key_removed_early"):
                old = self.signing[iss][-1][0]
                new = self._key(iss, f"{datetime.fromtimestamp(t0, UTC):%m%d}x{r.randrange(100, 999)}")
                # the incident rotation replaces any scheduled later rotation
                self.signing[iss] = [s for s in self.signing[iss] if s[1] < t0]
                self.publish[iss] = [p for p in self.publish[iss] if p[1] < t0 - 2 * H]
                old = self.signing[iss][-1][0]
                self.signing[iss][-1][2] = t0
                self.signing[iss].append([new, t0, E + 30 * 24 * H])
                for p in self.publish[iss]:
                    if p[0] == old:
                        p[2] = t0 + inc["removed_after"] if k == "key_removed_early" else t0 + 12 * H
                pub_from = t0 + inc["delay"] if k == "kid_before_publish" else t0 - 2 * H
                self.publish[iss].append([new, pub_from, E + 30 * 24 * H])
                inc["kid"] = new if k == "kid_before_publish" else old
                inc["pub_at"] = pub_from
                if k == "key_removed_early":
                    inc["t1"] = t0 + 12 * H
                    inc["removed_at"] = t0 + inc["removed_after"]
            elif k == "jwks_outage":
                self.outages[iss].append((t0, inc["t1"]))
            elif k == "signature_spike":
                kid = self.kid_at(iss, t0)
                inc["kid"] = kid
                self.rogue[kid] = _gen_key(ISSUERS[iss][1])
            elif k == "server_clock_skew" and iss:
                self.issuer_skew[iss].append((t0, inc["t1"], inc["offset"], inc["drift"], inc["id"]))
            elif k == "server_clock_skew":
                self.rep_skew.setdefault((inc["api"], inc["replica"]), []).append(
                    (t0, inc["t1"], inc["offset"], inc["drift"], inc["id"])
                )
            elif k == "issuer_stalled":
                self.stalls[iss].append((t0, inc["t1"], inc["id"]))
            elif k == "audience_misconfig" and inc.get("api"):
                self.misaud_api.setdefault(inc["api"], []).append((t0, inc["t1"], inc.get("replica"), inc["id"]))

    def kid_at(self, iss, t):
        for kid, a, b in self.signing[iss]:
            if a <= t < b:
                return kid
        return self.signing[iss][-1][0]

    def iss_clock(self, iss, t):
        off, ids = 0.0, ()
        for a, b, o, d, iid in self.issuer_skew[iss]:
            if a <= t < b:
                off += o + d * (t - a) / H
                ids += (iid,)
        return t + off, ids

    def stalled(self, iss, t):
        for a, b, iid in self.stalls[iss]:
            if a <= t < b:
                return iid
        return None

    # ---- tokens
    def issue(self, iss, t, sub, client, aud, life, typ="at+jwt", extra=None, tags=(), mode=None):
        ti, skew_ids = self.iss_clock(iss, t)
        kid = self.kid_at(iss, t)
        claims = {
            "iss": iss,
            "sub": sub,
            "aud": aud,
            "iat": int(ti),
            "exp": int(ti + life),
            "jti": f"{len(self.tokens):x}-{self.seed % 9973}",
        }
        if iss in (OP, HUB1, HUB2):
            claims["nbf"] = int(ti)
        if client:
            claims["client_id" if iss != OP else "azp"] = client
        if extra:
            claims.update(extra)
        tags = tuple(tags) + (skew_ids if mode is None else ())
        for inc in self.incidents if mode is None else ():
            if (
                inc["kind"] == "kid_before_publish"
                and inc["iss"] == iss
                and inc["kid"] == kid
                and t < inc["pub_at"] + 120
            ):
                tags += (inc["id"],)
            elif inc["kind"] == "signature_spike" and inc["iss"] == iss and inc["t0"] <= t < inc["t1"]:
                if self.rng.random() < inc["frac"]:
                    mode, tags = "rogue", (*tags, inc["id"])
            elif inc["kind"] == "key_removed_early" and inc["iss"] == iss and inc["kid"] == kid:
                tags += (inc["id"],)
        self.tokens.append((iss, kid, ISSUERS[iss][1], typ, claims, mode, tags))
        self.believed.append(t + life)
        return len(self.tokens) - 1

    def tok_exp(self, i):
        return self.tokens[i][4].get("exp", 0)

    def tok_end(self, i):
        return self.believed[i]

    # ---- requests
    def add(self, t, api, rep, tok, tags=()):
        if not (self.start <= t < self.end):
            return
        toks = self.tokens[tok]
        ttags = tuple(x for x in toks[6] if t <= toks[4].get("exp", t) + TAG_GRACE or self._keep_tag(x, t))
        self.requests.setdefault((api, rep), []).append((t, tok, ttags + tuple(tags)))

    def _keep_tag(self, iid, t):
        inc = self.inc_by_id.get(iid)
        return inc is not None and inc["kind"] == "attack_burst"

    def replica(self, api, t, key=None):
        n = APIS[api][0]
        active = n - 1 if api == "driver-api" else n
        if api == "driver-api":
            h = datetime.fromtimestamp(t, UTC).hour
            if 16 <= h < 21:
                active = n  # autoscaled at the evening peak
        if key is not None:
            return zlib.crc32(f"{key}/{api}".encode()) % active if api == "charger-gw" else self.rng.randrange(active)
        return self.rng.randrange(active)

    def window_tags(self, t, api, rep, iss):
        tags = ()
        for a, b, r, iid in self.misaud_api.get(api, ()):
            if a <= t < b + 60 and (r is None or r == rep):
                tags += (iid,)
        for a, b, _o, _d, iid in self.rep_skew.get((api, rep), ()):
            if a <= t < b:
                tags += (iid,)
        for inc in self.incidents:
            if (
                inc.get("iss") == iss
                and inc["kind"] in ("jwks_outage", "issuer_stalled")
                and inc["t0"] <= t < inc["t1"] + TAG_GRACE
            ):
                tags += (inc["id"],)
        return tags

    def rep_clock(self, api, rep, t):
        off = 0.0
        for a, b, o, d, _ in self.rep_skew.get((api, rep), ()):
            if a <= t < b:
                off += o + d * (t - a) / H
        return t + off


def _build(name, seed, scale):
    p = Plan(name, seed, scale)
    p.inc_by_id = {i["id"]: i for i in p.incidents}
    p.build_keys()
    r = p.rng
    S, E = p.start, p.end
    hours = (E - S) / H
    inc_of = {}
    for inc in p.incidents:
        inc_of.setdefault(inc["kind"], []).append(inc)

    # restarts: rolling deploys around midday (weekdays), random crashes
    for api, (n, _, _) in APIS.items():
        for rep in range(n):
            ts = []
            for day0 in range(int(S // 86400), int(E // 86400) + 1):
                d = day0 * 86400
                if datetime.fromtimestamp(d, UTC).weekday() < 5 and r.random() < 0.7:
                    ts.append(d + 11 * H + zlib.crc32(api.encode()) % 7 * 600 + rep * 300)
                for _ in range(r.choice((0, 0, 1))):
                    ts.append(d + r.uniform(0, 24 * H))
            p.restarts[(api, rep)] = sorted(x for x in ts if S < x < E)

    # ---- every request goes through `send`, which adds the window tags
    def send(t, api, tok, key=None, tags=()):
        rep = p.replica(api, t, key)
        iss = p.tokens[tok][0]
        p.add(t, api, rep, tok, p.window_tags(t, api, rep, iss) + tuple(tags))

    def misaud_client(client, t):
        for inc in inc_of.get("audience_misconfig", ()):
            if inc.get("client") == client and inc["t0"] <= t < inc["t1"]:
                return inc
        return None

    def typeconf(client, t):
        for inc in inc_of.get("type_confusion", ()):
            if inc["client"] == client and inc["t0"] <= t < inc["t1"]:
                return inc
        return None

    # ================================ chargers (DEV issuer, charger-gw)
    n_sites = 48
    per_site = 14
    site_skew = {}
    for inc in inc_of.get("clock_skew", ()):
        if "site" in inc:
            site_skew[inc["site"]] = inc
    ch_rate = 2.7 * scale  # requests per charger per hour (mean)
    for site in range(n_sites):
        client = f"cpo-site-{site:02d}"
        # small background power cuts: a few chargers reset for minutes
        bg_cut = None
        if r.random() < 0.08:
            a = r.uniform(S, E)
            bg_cut = (a, a + r.uniform(5, 25) * M)
        for c in range(per_site):
            dev = f"CH{site:02d}{c:02d}"
            off = r.gauss(0, 4) if r.random() < 0.85 else r.uniform(-240, 240)
            drift = r.gauss(0, 2) if r.random() < 0.2 else 0.0  # s per hour
            lazy = r.random() < 0.04
            life = 2 * H
            tok = None
            # initial token, issued some time before start
            t_iss = S - r.uniform(0, life * 0.8)
            tok = p.issue(DEV, t_iss, dev, client, "charger-gw", life)
            flagged = False
            times = _poisson_times(r, S, E, ch_rate, "charger", int(ch_rate * hours * 3) + 10)
            # modem drop: queue, then flush
            drops = []
            if r.random() < 0.12:
                a = r.uniform(S, E)
                drops.append((a, a + r.uniform(0.5, 5) * H))
            inc = site_skew.get(site)
            member = inc is not None and r.random() < inc.get("frac", 1.0)
            queue = []
            for t in times:
                # local clock
                local = t + off + drift * (t - S) / H
                tags = ()
                if bg_cut and bg_cut[0] <= t < bg_cut[1] and c < 3:
                    local = _ts("2020-01-01T00:00") + (t - bg_cut[0])
                if member and inc["t0"] <= t < inc["t1"]:
                    tags = (inc["id"],)
                    if "offset" in inc:
                        local = t + inc["offset"] + inc["drift"] * (t - inc["t0"]) / H
                    else:
                        local = _ts("2020-01-01T00:00") + (t - inc["t0"])
                elif member and inc["t1"] <= t < inc["t1"] + TAG_GRACE:
                    tags = (inc["id"],)
                dropped = any(a <= t < b for a, b in drops)
                if dropped:
                    if len(queue) < 40:
                        queue.append((tok, tags))
                    continue
                if queue:  # the modem is back: flush what was queued, with the tokens held then
                    for j, (qt, qtags) in enumerate(queue):
                        # an incident's tag stays on a queued request only while the incident can explain it
                        qtags = tuple(x for x in qtags if t < p.inc_by_id[x]["t1"] + TAG_GRACE)
                        send(t + j * 0.3, "charger-gw", qt, key=dev, tags=qtags)
                    t += len(queue) * 0.3
                    queue = []
                exp = p.tok_exp(tok)
                if lazy:
                    if t > exp and not flagged:
                        flagged = True
                    elif t > exp:
                        tok, flagged = p.issue(DEV, t, dev, client, "charger-gw", life), False
                elif local >= p.tok_end(tok) - 60 and not p.stalled(DEV, t):
                    tok = p.issue(DEV, t - 0.5, dev, client, "charger-gw", life)
                send(t, "charger-gw", tok, key=dev, tags=tags)

    # ================================ backend services (OP client credentials)
    services = [
        ("csms-core", 6, ("charger-gw", "session-billing"), 700),
        ("billing-worker", 3, ("tariff-api", "session-billing"), 500),
        ("roaming-bridge", 2, ("tariff-api",), 150),
    ]
    for client, pods, apis, rate in services:
        for _pod in range(pods):
            toks = {}
            off = r.gauss(0, 3)
            times = _poisson_times(r, S, E, rate * scale / pods, "charger", int(rate * scale * hours) + 10)
            rs = set(r.uniform(S, E) for _ in range(r.randint(0, 2)))  # pod restarts: disk-cached token replay
            for t in times:
                api = r.choice(apis)
                aud = api
                tok = toks.get(aud)
                replay = None
                for x in list(rs):
                    if t > x:
                        rs.discard(x)
                        if tok is not None and r.random() < 0.6:
                            replay = tok  # stale cached token read back after the restart
                if replay is not None:
                    send(t, api, replay)
                    t += 0.4
                tc = typeconf(client, t)
                if tc and api == "charger-gw" and r.random() < tc["frac"]:
                    rt = p.issue(OP, t - 30, f"svc:{client}", client, OP, 30 * 24 * H, typ="rt+jwt", tags=(tc["id"],))
                    send(t, api, rt)
                    continue
                if tok is None or t + off >= p.tok_end(tok) - 300:
                    if not p.stalled(OP, t) or tok is None:
                        tok = p.issue(OP, t - 0.3, f"svc:{client}", client, aud, H, extra={"scope": "svc"})
                        toks[aud] = tok
                send(t, api, tok)

    # ================================ driver app (OP, PKCE, 10 min tokens)
    n_users = int(4300 * scale) + 20
    sess_per_user = 1.3 * hours / 24
    for u in range(n_users):
        client = "voltway-android" if u % 5 < 3 else "voltway-ios"
        off = 0.0 if r.random() < 0.97 else -r.uniform(20, 150)
        tok = None
        nsess = min(6, int(r.expovariate(1 / sess_per_user) + 0.5))
        starts = sorted(_poisson_times(r, S, E, nsess / hours * 1.0, "driver", nsess) if nsess else [])
        t_last = S
        for s0 in starts:
            s0 = max(s0, t_last + 60)  # sessions of one phone never overlap
            t = s0
            length = r.choice((3, 5, 8, 15, 30, 45)) * M
            if tok is not None and r.random() < 0.16:
                send(t, "driver-api", tok)  # resumed app presents its cached token once
                t += r.uniform(0.5, 2)
                tok = None
            n_req = 0
            while t < s0 + length and n_req < 60:
                n_req += 1
                local = t + off
                if tok is None or local >= p.tok_end(tok) - 20:
                    if not p.stalled(OP, t) or tok is None:
                        tok = p.issue(
                            OP,
                            t - 0.2,
                            f"user:{u}",
                            client,
                            ["driver-api", "session-billing", "tariff-api"],
                            10 * M,
                            extra={"scope": "driver"},
                        )
                        tc = typeconf(client, t)
                        if tc and r.random() < tc["frac"]:
                            tok = p.issue(
                                OP,
                                t - 0.2,
                                f"user:{u}",
                                None,
                                client,
                                10 * M,
                                typ="JWT",
                                extra={"nonce": f"n{u}", "at_hash": "x"},
                                tags=(tc["id"],),
                            )
                    elif tok is not None:
                        pass  # token endpoint down: keep presenting what is held
                api = r.choices(("driver-api", "session-billing", "tariff-api"), (0.8, 0.08, 0.12))[0]
                send(t, api, tok)
                t_last = t
                t += r.uniform(30, 120)

    # ================================ admin console staff (OP, 15 min tokens)
    for u in range(25):
        tok = None
        times = _poisson_times(r, S, E, 12 * scale, "staff", int(50 * hours) + 10)
        for t in times:
            if tok is None or t >= p.tok_end(tok) - 30:
                if not p.stalled(OP, t) or tok is None:
                    tok = p.issue(OP, t - 0.3, f"staff:{u}", "voltway-admin", "admin-console", 15 * M)
            send(t, "admin-console", tok)

    # ================================ fleet depots (FLEET, 30 min tokens)
    for f in range(40):
        client = f"fleet-{f:03d}"
        lazy = f % 5 == 0
        skew_inc = next((i for i in inc_of.get("clock_skew", ()) if i.get("client") == client), None)
        depots = r.randint(2, 12)
        for d in range(depots):
            tok = None
            flagged = False
            off = r.gauss(0, 5)
            times = _poisson_times(r, S, E, 8 * scale, "depot", int(60 * hours) + 10)
            for t in times:
                local = t + off
                tags = ()
                if skew_inc and skew_inc["t0"] <= t < skew_inc["t1"] + TAG_GRACE:
                    tags = (skew_inc["id"],)
                    if t < skew_inc["t1"]:
                        local = t + skew_inc["offset"] + skew_inc.get("drift", 0) * (t - skew_inc["t0"]) / H
                mi = misaud_client(client, t)
                aud = ["session-billing", "tariff-api"]
                if tok is None:
                    need = True
                elif lazy:
                    need = False
                    if t > p.tok_exp(tok):
                        need = flagged
                        flagged = True
                else:
                    need = local >= p.tok_end(tok) - 60
                if need and (not p.stalled(FLEET, t) or tok is None):
                    if mi:
                        tok = p.issue(FLEET, t - 0.3, f"depot:{f}:{d}", client, "billing", 30 * M, tags=(mi["id"],))
                    else:
                        tok = p.issue(FLEET, t - 0.3, f"depot:{f}:{d}", client, aud, 30 * M)
                    flagged = False
                api = "session-billing" if r.random() < 0.75 else "tariff-api"
                send(t, api, tok, tags=tags)

    # ================================ roaming hubs (self-signed 5 min tokens)
    parties = {
        HUB1: ["NL-ABC", "DE-XYZ", "FR-EVC", "BE-CHG", "AT-SMA", "NL-GRN", "DE-ION"],
        HUB2: ["ES-IBR", "IT-ENL", "NL-ALL", "DE-EWE", "PL-GRE"],
    }
    for iss, plist in parties.items():
        short = ISSUERS[iss][0]
        for party in plist:
            client = f"{short}:{party}"
            tok = None
            life = 5 * M if iss == HUB1 else 15 * M
            times = _poisson_times(r, S, E, 120 * scale, "roam", int(400 * hours) + 10)
            for t in times:
                if tok is None or t >= p.tok_end(tok) - 30:
                    tok = p.issue(iss, t - 0.5, f"party:{party}", client, "roaming-api", life)
                    tc = typeconf(client, t)
                    if tc and r.random() < tc["frac"]:
                        tok = p.issue(
                            iss,
                            t - 0.5,
                            f"party:{party}",
                            None,
                            client,
                            5 * M,
                            typ="JWT",
                            extra={"nonce": "n", "token_use": "id"},
                            tags=(tc["id"],),
                        )
                send(t, "roaming-api", tok)

    # ================================ scanners and attacks
    styles = ("none", "randkid", "notyp", "tamper", "trunc", "huge", "hs256pub", "ancient", "garbage")
    for t in _poisson_times(r, S, E, 80, "flat", int(150 * hours) + 10):
        api = r.choices(
            ("driver-api", "roaming-api", "admin-console", "session-billing", "charger-gw", "tariff-api"),
            (0.35, 0.2, 0.03, 0.14, 0.14, 0.14),
        )[0]
        iss = r.choice(APIS[api][2])
        tok = p.issue(iss, t - r.uniform(0, 3600), f"x{r.randrange(10**6)}", None, api, 3600, mode=r.choice(styles))
        send(t, api, tok)
    for inc in inc_of.get("attack_burst", ()):
        api = inc["api"]
        n = int(inc["rate"] * inc["dur"] / M)
        for _ in range(n):
            t = r.uniform(inc["t0"], inc["t1"])
            iss = APIS[api][2][0]
            if inc["style"] == "stuffing":  # harvested/forged app tokens with plausible claims
                mode = r.choice(("forged", "forged", "ancient", "tamper"))
                tok = p.issue(
                    iss,
                    t - r.uniform(0, 900),
                    f"user:{r.randrange(10**5)}",
                    "voltway-android",
                    ["driver-api", "session-billing", "tariff-api"],
                    600,
                    mode=mode,
                    tags=(inc["id"],),
                )
            else:
                tok = p.issue(
                    iss,
                    t - r.uniform(0, 60),
                    f"x{r.randrange(10**6)}",
                    None,
                    api,
                    600,
                    mode=r.choice((*styles, "forged")),
                    tags=(inc["id"],),
                )
            send(t, api, tok)

    for k in p.requests:
        p.requests[k].sort(key=lambda x: x[0])
    return p


# ----------------------------------------------------------------------------------------------------------------
# worker side: signing, JWKS server, validators


PLAN = None


def _sign(p, i, cache):
    tok = cache.get(i)
    if tok is not None:
        return tok
    import jwt

    iss, kid, alg, typ, claims, mode, _ = p.tokens[i]
    rnd = random.Random(i * 7919 + p.seed)
    hdr = {"kid": kid, "typ": typ}
    if mode == "rogue":
        tok = jwt.encode(claims, p.rogue[kid], algorithm=alg, headers=hdr)
    elif mode is None:
        tok = jwt.encode(claims, p.keys[kid][1], algorithm=alg, headers=hdr)
    else:
        body = dict(claims)
        fake_kid = f"{ISSUERS[iss][0]}-{rnd.randrange(16**6):06x}"
        if mode == "none":
            h = _b64(json.dumps({"alg": rnd.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
            tok = h + "." + _b64(json.dumps(body).encode()) + "."
        elif mode in ("randkid", "forged"):
            k = _FORGE_KEYS[alg]
            tok = jwt.encode(
                body, k, algorithm=alg, headers={"kid": fake_kid if mode == "randkid" else kid, "typ": typ}
            )
        elif mode == "notyp":
            body.pop("azp", None), body.pop("client_id", None)
            tok = jwt.encode(body, _FORGE_KEYS[alg], algorithm=alg, headers={"kid": fake_kid, "typ": "JWT"})
        elif mode == "tamper":
            good = jwt.encode(claims, p.keys[kid][1], algorithm=alg, headers=hdr)
            h, _, s = good.split(".")
            body["sub"] = "admin"
            body["scope"] = "admin"
            tok = h + "." + _b64(json.dumps(body).encode()) + "." + s
        elif mode == "trunc":
            good = jwt.encode(claims, p.keys[kid][1], algorithm=alg, headers=hdr)
            tok = good[: rnd.randrange(20, len(good) - 10)]
        elif mode == "huge":
            body["pad"] = "A" * rnd.randrange(9000, 30000)
            tok = jwt.encode(body, _FORGE_KEYS[alg], algorithm=alg, headers={"kid": kid, "typ": typ})
        elif mode == "hs256pub":
            pem = json.dumps(_pub_jwk(kid, alg, p.keys[kid][1])).encode()
            h = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": typ}).encode())
            b = _b64(json.dumps(body).encode())
            import hmac

            tok = h + "." + b + "." + _b64(hmac.new(pem, (h + "." + b).encode(), hashlib.sha256).digest())
        elif mode == "ancient":
            body["iat"] = body["iat"] - 3 * 365 * 86400
            body["exp"] = body["iat"] + 3600
            body.pop("nbf", None)
            tok = jwt.encode(body, _FORGE_KEYS[alg], algorithm=alg, headers={"kid": kid, "typ": typ})
        else:  # garbage
            junk = "eyJ" + _b64(rnd.randbytes(30)) + "." + _b64(rnd.randbytes(50)) + "." + _b64(rnd.randbytes(32))
            tok = rnd.choice(["Bearer", "null", "eyJhbGciOiJIUzI1NiJ9", "a.b.c", _b64(rnd.randbytes(40)), junk])
    if len(cache) > 200000:
        cache.clear()
    cache[i] = tok
    return tok


_FORGE_KEYS = {}


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        p = PLAN
        now = time.time()
        iss = next((i for i in ISSUERS if self.path == f"/{ISSUERS[i][0]}/jwks.json"), None)
        if iss is None:
            self.send_response(404)
            self.end_headers()
            return
        if any(a <= now < b for a, b in p.outages[iss]):
            body = b'{"error":"service unavailable"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        keys = [_JWKS_PUB[kid] for kid, a, b in p.publish[iss] if a <= now < b]
        body = json.dumps({"keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


_JWKS_PUB = {}


def _peek(token):
    try:
        h, b, _ = token.split(".")
        hdr = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
        body = json.loads(base64.urlsafe_b64decode(b + "=" * (-len(b) % 4)))
        return hdr if isinstance(hdr, dict) else {}, body if isinstance(body, dict) else {}
    except Exception:
        return {}, {}


class _KeyCache:
    """An application's own JWKS cache: TTL 300 s, refetch on an unknown kid at most once a minute, last-known-good
    for `lkg` seconds after the TTL (0: an expired cache whose refresh fails raises)."""

    def __init__(self, url, lkg):
        self.url, self.lkg = url, lkg
        self.doc, self.fetched, self.tried, self.version = None, -1e18, -1e18, 0

    def _fetch(self):
        self.tried = time.time()
        with urllib.request.urlopen(self.url, timeout=5) as resp:
            self.doc = json.loads(resp.read())
        self.fetched = time.time()
        self.version += 1

    def get(self, kid):
        now = time.time()
        if now - self.fetched > 300 and now - self.tried > 30:
            try:
                self._fetch()
            except Exception:
                if self.doc is None or now - self.fetched > 300 + self.lkg:
                    raise
        elif self.doc is None or now - self.fetched > 300 + self.lkg:
            self._fetch()
        if kid and not any(k.get("kid") == kid for k in self.doc["keys"]) and now - self.tried > 60:
            try:
                self._fetch()
            except Exception:
                if now - self.fetched > 300 + self.lkg:
                    raise
        return self.doc


WRONG_AUD = {
    "tariff-api": "tariffs-api",
    "admin-console": "https://admin.voltway.example",
    "session-billing": "billing",
    "driver-api": "voltway-driver",
    "roaming-api": "roaming",
}


def _make_validator(api, base, wrong=False):
    import jwtobs

    _n, leeway, issuers = APIS[api]
    urls = {iss: f"{base}/{ISSUERS[iss][0]}/jwks.json" for iss in issuers}
    aud = WRONG_AUD[api] if wrong else api

    if api == "charger-gw":
        vs = []
        for iss, backend in ((DEV, "pyjwt"), (OP, "authlib")):
            prof = jwtobs.Profile(
                name=api,
                issuer=iss,
                audience=aud,
                algorithms=(ISSUERS[iss][1],),
                token_type="at+jwt",
                required_claims=("iss", "sub", "aud", "exp"),
                leeway=leeway,
            )
            src = jwtobs.JwksSource(urls[iss], clock=time.time, cooldown=30, max_stale=1800, min_ttl=60, timeout=5)
            vs.append(jwtobs.Verifier(prof, keys=src, backend=backend))
        vset = jwtobs.VerifierSet(vs)
        return lambda tok: vset.verify(tok)

    if api == "driver-api":
        import jwt

        state = {"c": None, "at": -1e18}

        def validate_driver(token):
            if state["c"] is None or time.time() - state["at"] > 300:
                state["c"] = jwt.PyJWKClient(urls[OP], cache_keys=False, lifespan=300, timeout=5)
                state["at"] = time.time()
            key = state["c"].get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=aud,
                issuer=OP,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub"]},
            )

        return jwtobs.wrap(validate_driver, library="pyjwt", profile=api)

    caches = {iss: _KeyCache(urls[iss], lkg=900 if api != "tariff-api" else 600) for iss in issuers}

    def pick(token):
        hdr, body = _peek(token)
        iss = body.get("iss") if body.get("iss") in caches else issuers[0]
        return iss, hdr.get("kid") if isinstance(hdr.get("kid"), str) else None

    if api == "session-billing":
        from joserfc import jwt as jjwt
        from joserfc.jwk import KeySet

        ks_cache = {}

        def validate_billing(token):
            iss, kid = pick(token)
            c = caches[iss]
            doc = c.get(kid)
            ks = ks_cache.get((iss, c.version))
            if ks is None:
                ks = ks_cache[(iss, c.version)] = KeySet.import_key_set(doc)
            tok = jjwt.decode(token, ks, algorithms=["RS256", "ES256"])
            reg = jjwt.JWTClaimsRegistry(
                leeway=leeway,
                iss={"essential": True, "value": iss},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            )
            reg.validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate_billing, library="joserfc", profile=api)

    if api == "tariff-api":
        from jose import jwt as jose_jwt

        def validate_tariff(token):
            iss, kid = pick(token)
            doc = caches[iss].get(kid)
            return jose_jwt.decode(
                token, doc, algorithms=["RS256", "ES256"], audience=aud, issuer=iss, options={"leeway": leeway}
            )

        return jwtobs.wrap(validate_tariff, library="jose", profile=api)

    if api == "admin-console":
        from authlib.jose import JsonWebKey
        from authlib.jose import jwt as ajwt

        ks_cache = {}

        def validate_admin(token):
            iss, kid = pick(token)
            c = caches[iss]
            doc = c.get(kid)
            ks = ks_cache.get(c.version)
            if ks is None:
                ks = ks_cache[c.version] = JsonWebKey.import_key_set(doc)
            claims = ajwt.decode(
                token,
                ks,
                claims_options={
                    "iss": {"essential": True, "value": iss},
                    "aud": {"essential": True, "value": aud},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=leeway)
            return dict(claims)

        return jwtobs.wrap(validate_admin, library="authlib", profile=api)

    if api == "roaming-api":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        ks_cache = {}

        def validate_roaming(token):
            iss, kid = pick(token)
            c = caches[iss]
            doc = c.get(kid)
            ks = ks_cache.get((iss, c.version))
            if ks is None:
                ks = ks_cache[(iss, c.version)] = cjwk.JWKSet.from_json(json.dumps(doc))
            t = cjwt.JWT(check_claims={"iss": iss, "aud": aud, "exp": None, "nbf": None}, expected_type="JWS")
            t.leeway = leeway
            t.deserialize(token, ks)
            return json.loads(t.claims)

        return jwtobs.wrap(validate_roaming, library="jwcrypto", profile=api)
    raise ValueError(api)


def _run_replica(task):
    api, rep, outdir = task
    import time_machine

    import jwtobs

    p = PLAN
    reqs = p.requests.get((api, rep), [])
    path = os.path.join(outdir, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(events_path=path, service=api, fingerprint_key="fleet48-fingerprint-key-" + "x" * 16, defer=False)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    cache = {}
    restarts = list(p.restarts.get((api, rep), []))
    ri = 0
    t0 = time.perf_counter()
    with time_machine.travel(p.start, tick=False) as tm:
        wrong = False
        validator = _make_validator(api, base)
        for t, tok, _ in reqs:
            w = any(a <= t < b and (r is None or r == rep) for a, b, r, _ in p.misaud_api.get(api, ()))
            if w != wrong:  # a deploy with the wrong audience, or its rollback
                wrong = w
                tm.move_to(p.rep_clock(api, rep, t))
                validator = _make_validator(api, base, wrong)
            while ri < len(restarts) and restarts[ri] <= t:
                ri += 1
                tm.move_to(p.rep_clock(api, rep, restarts[ri - 1]))
                validator = _make_validator(api, base, wrong)  # cold caches after a restart
            token = _sign(p, tok, cache)
            tm.move_to(p.rep_clock(api, rep, t))
            try:
                validator(token)
            except Exception:
                pass
    jwtobs.flush()
    srv.shutdown()
    srv.server_close()
    return api, rep, len(reqs), time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------------------------
# labels


def _read_events(path):
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line)
            if "event" in ev:
                continue
            out.append(ev)
    return out


def _label(p, outdir, wall):
    counted = {i["id"]: [] for i in p.incidents}
    inc_by_id = {i["id"]: i for i in p.incidents}
    validations = rejections = 0
    reasons = {}
    mismatch = 0
    for (api, rep), reqs in sorted(p.requests.items()):
        evs = _read_events(os.path.join(outdir, "events", f"{api}-{rep}.jsonl"))
        if len(evs) != len(reqs):
            mismatch += abs(len(evs) - len(reqs))
        for (_t, _tok, tags), ev in zip(reqs, evs, strict=False):
            validations += 1
            if ev["outcome"] != "rejected":
                continue
            rejections += 1
            reasons[ev["reason"]] = reasons.get(ev["reason"], 0) + 1
            for iid in set(tags):
                inc = inc_by_id.get(iid)
                if inc is None:
                    continue
                allowed = REASONS_OF[inc["kind"]]
                if allowed is None or ev["reason"] in allowed:
                    counted[iid].append(ev["time"])
    labels = []
    missing = []
    for inc in p.incidents:
        times = sorted(counted[inc["id"]])
        if not times:
            missing.append(inc["id"])
            continue
        k = inc["kind"]
        iss_scoped = k in (
            "kid_before_publish",
            "key_removed_early",
            "jwks_outage",
            "signature_spike",
            "issuer_stalled",
        ) or (k == "server_clock_skew" and inc.get("iss"))
        client = None
        if k == "clock_skew":
            client = inc.get("client") or f"cpo-site-{inc['site']:02d}"
        elif k in ("audience_misconfig", "type_confusion") and inc.get("client"):
            client = inc["client"]
        profile = inc.get("api") if k in ("audience_misconfig", "server_clock_skew") and inc.get("api") else None
        detail = inc.get("detail") or ", ".join(
            f"{a}={inc[a]}"
            for a in ("offset", "drift", "delay", "dur", "frac", "what", "style", "replica", "rate")
            if inc.get(a) is not None
        )
        labels.append(
            {
                "id": inc["id"],
                "kind": k,
                "start": times[0],
                "end": times[-1],
                "count": len(times),
                "issuer": inc.get("iss") if iss_scoped else None,
                "kid": inc.get("kid") if k in ("kid_before_publish", "key_removed_early", "signature_spike") else None,
                "client_id": client,
                "profile": profile,
                "detail": detail,
            }
        )
    iso = lambda x: datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    doc = {
        "timeline": p.name,
        "quiet": p.quiet,
        "seed": p.seed,
        "start": iso(p.start),
        "end": iso(p.end),
        "generator": GENERATOR,
        "incidents": labels,
    }
    with open(os.path.join(outdir, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1)
    summary = {
        "timeline": p.name,
        "validations": validations,
        "rejections": rejections,
        "rejection_rate": round(rejections / max(validations, 1), 5),
        "reasons": dict(sorted(reasons.items(), key=lambda x: -x[1])),
        "incidents_injected": [i["id"] for i in p.incidents],
        "incidents_labelled": {lab["id"]: lab["count"] for lab in labels},
        "incidents_without_counted_rejection": missing,
        "event_request_mismatch": mismatch,
        "tokens": len(p.tokens),
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def generate(out, name, seed, scale, workers):
    global PLAN
    t0 = time.perf_counter()
    p = _build(name, seed, scale)
    PLAN = p
    _JWKS_PUB.clear()
    for kid, (alg, priv) in p.keys.items():
        _JWKS_PUB[kid] = _pub_jwk(kid, alg, priv)
    if not _FORGE_KEYS:
        _FORGE_KEYS["RS256"] = _gen_key("RS256")
        _FORGE_KEYS["ES256"] = _gen_key("ES256")
    outdir = os.path.join(out, name)
    os.makedirs(os.path.join(outdir, "events"), exist_ok=True)
    tasks = [(api, rep, outdir) for api, (n, _, _) in APIS.items() for rep in range(n)]
    tasks.sort(key=lambda x: -len(p.requests.get((x[0], x[1]), [])))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, maxtasksperchild=1) as pool:
        for _api, _rep, _n, _dt in pool.imap_unordered(_run_replica, tasks):
            pass
    summary = _label(p, outdir, time.perf_counter() - t0)
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
    ap.add_argument("--seed-base", type=int, default=4800)
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
        os.environ.setdefault("PYTHONHASHSEED", "0")
        t0 = time.perf_counter()
        for _i, n in enumerate(names):
            s = generate(a.out, n, a.seed_base + list(TIMELINES).index(n), a.scale, a.workers)
            print(
                f"{n}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, "
                f"labelled {len(s['incidents_labelled'])}/{len(s['incidents_injected'])}, "
                f"missing {s['incidents_without_counted_rejection']}, wall {s['wall_s']} s",
                flush=True,
            )
        print(f"total wall {time.perf_counter() - t0:.1f} s")
    if a.score or a.score_only:
        print(json.dumps(_score(a.out, names), indent=1, default=str))


if __name__ == "__main__":
    main()
