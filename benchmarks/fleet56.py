"""fleet56: a blind benchmark fleet - a mobile network operator's 5G core and API exposure, validated through jwtobs.

Design note
===========

The operator runs a 5G standalone core in three data centres (dc1..dc3). Network functions (NFs) call each other
over the service-based interface (SBI) with OAuth2 access tokens from the NF repository function (NRF); roaming
partners' NFs reach the home UDM/AUSF through the SEPP with tokens signed by their own NRFs; a NEF / CAMARA
exposure gateway takes developer-app tokens from the API portal's IdP; a self-care app (Android, iOS, web) calls
the subscriber API; OSS/BSS back-office integrations use the corporate SSO.

Issuers (``ISSUERS``; keys generated at run time, served by a real ``http.server`` on 127.0.0.1 in every replica
process, the key set computed from the simulated time)

==========  ===============================================  =====  ========  ==================================
key         iss                                              alg    lifetime  notes
==========  ===============================================  =====  ========  ==================================
nrf         https://nrf.5gc.mnc020.mcc234.3gppnetwork.org    ES256  600 s     home NRF, two instances (dc1, dc2)
plmnA       https://nrf.5gc.mnc015.mcc262.3gppnetwork.org    RS256  900 s     roaming partner A's NRF
plmnB       https://nrf.5gc.mnc003.mcc208.3gppnetwork.org    ES256  600 s     roaming partner B's NRF
portal      https://id.developer.mno.example                 RS256  3600 s    API portal IdP (developer apps)
subs        https://login.mno.example                        ES256  900 s     subscriber IdP (self-care app)
corp        https://sso.corp.mno.example/realms/oss          RS256  300 s     corporate SSO (Keycloak-like)
==========  ===============================================  =====  ========  ==================================

APIs (``APIS``; profile = service name; one events file per replica)

======================  ===================================================  ======  ========================
API                     validator                                            leeway  replicas
======================  ===================================================  ======  ========================
nudm-sdm                Verifier(pyjwt) + JwksSource(max_stale 900 s)        0       3 (+1 autoscaled by day)
npcf-smpolicycontrol    wrap(PyJWT + PyJWKClient)                            30      2
namf-comm               wrap(jwcrypto JWT + JWKSet, own key cache)           5       2
nchf-convergedcharging  wrap(Authlib decode + validate, naive key cache)     60      2
nudr-dr                 wrap(joserfc decode + JWTClaimsRegistry)             10      2
sepp-n32f               VerifierSet(joserfc backend) for plmnA + plmnB       60      2
nef-camara              Verifier(authlib), at+jwt                            10      3 (+1 autoscaled by day)
selfcare-api            Verifier(jose), at+jwt                               120     2
oss-bss-api             wrap(python-jose, own key cache)                     30      2
======================  ===================================================  ======  ========================

Background (every timeline): traffic curves per population (signalling: busy hour late morning and evening,
subscribers: evening peak, developers: office hours, OSS: office hours plus a nightly batch at 01-03), weekends
lighter; signalling storms (an AMF restart makes its UEs re-register: nudm/npcf/namf bursts for ~10 min); NF
instances that restart (crashes, night upgrades in the 02-04 maintenance window) and reload a persisted token
cache that is hours old, presenting it 1-3 times before refreshing; NF consumers reading ``exp`` with their own
clock (hosts a few seconds to ~90 s off) or using ``expires_in``; OSS integrations and old app versions refreshing
only after a 401 (lateness from seconds to hours); devices waking / apps resumed with old tokens; device clocks
off by minutes, a few booting hours off until NTP fixes them; internet / IPX scanners (alg none, random kid,
typ JWT without client id, tampered, truncated, huge, HS256 with the public key, years-old tokens) at 1-1.6 a
minute on the exposed APIs (nef-camara, selfcare-api, sepp-n32f); healthy key rotations (publish, sign 1-2 h
later, remove after the last token expired); JWKS blips (short 503s and connection resets); rolling deploys,
crashes and autoscaling (cold key caches); validator hosts within a second or two.

Incidents (``INCIDENTS``): kid_before_publish (an NRF instance upgraded in the maintenance window signs with the
new kid before the key set publishes it; a partner rotating before the date announced by email),
key_removed_early (partner prunes the old key minutes after switching; home NRF admin prunes during a signalling
storm), jwks_outage (home NRF key endpoint down while the maintenance window restarts validators; partner's
endpoint unreachable over IPX during their rotation; home NRF again on a Sunday), signature_spike (an NRF instance
after an HSM failover signs with new key material under the current kid; partner re-keyed without changing the
kid), clock_skew (an SMF host whose chrony died, drifting; a UDM whose clock is 2.5 min behind - small; a group
of Android devices of one model booting 5 h behind after a firmware update), server_clock_skew (partner NRF
clock ahead: tokens stamped in the future; corporate SSO behind; one namf replica 4 min ahead; one nudm replica
90 s behind), issuer_stalled (portal IdP token endpoint down; home NRF token endpoint stalled 20 min;
subscriber IdP down on a Sunday morning),
audience_misconfig (nchf rolled out with a staging audience; a developer app requesting the sandbox audience;
nudr rolled out with the wrong NF type), type_confusion (iOS self-care release sending ID tokens from a fraction
of devices; a developer app sending its portal ID token to the NEF), attack_burst (forged-token bursts against
selfcare-api, the SEPP from the IPX side - small -, nef-camara).

Labels: requests carry the ids of the incidents that could make them fail (token-level tags until 15 min after
exp; window tags by issuer, client, api/replica); a rejection counts when tagged and its reason is one the kind
causes (``REASONS_OF``). Events are matched to requests by order within each replica file.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import http.server
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict

import numpy as np

UTC = dt.UTC
FP_KEY = "o7zKPcSUU9sxBmBXg7G8LBz2KekmmdVG1dGsro_yK0E"

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
ISSUER_SCOPED = {"kid_before_publish", "key_removed_early", "jwks_outage", "signature_spike", "issuer_stalled"}
KID_SCOPED = {"kid_before_publish", "key_removed_early", "signature_spike"}

ISSUERS = {
    "nrf": {"iss": "https://nrf.5gc.mnc020.mcc234.3gppnetwork.org", "alg": "ES256", "life": 600},
    "plmnA": {"iss": "https://nrf.5gc.mnc015.mcc262.3gppnetwork.org", "alg": "RS256", "life": 900},
    "plmnB": {"iss": "https://nrf.5gc.mnc003.mcc208.3gppnetwork.org", "alg": "ES256", "life": 600},
    "portal": {"iss": "https://id.developer.mno.example", "alg": "RS256", "life": 3600},
    "subs": {"iss": "https://login.mno.example", "alg": "ES256", "life": 900},
    "corp": {"iss": "https://sso.corp.mno.example/realms/oss", "alg": "RS256", "life": 300},
}
NEF_AUD = "https://api.mno.example/camara"
APIS = {
    "nudm-sdm": {
        "kind": "verifier",
        "backend": "pyjwt",
        "iss": ["nrf"],
        "aud": "nudm",
        "leeway": 0,
        "replicas": 3,
        "auto": 1,
        "typ": None,
        "max_stale": 900,
    },
    "npcf-smpolicycontrol": {"kind": "pyjwt", "iss": ["nrf"], "aud": "npcf", "leeway": 30, "replicas": 2},
    "namf-comm": {"kind": "jwcrypto", "iss": ["nrf"], "aud": "namf", "leeway": 5, "replicas": 2},
    "nchf-convergedcharging": {
        "kind": "authlib",
        "iss": ["nrf"],
        "aud": "nchf",
        "leeway": 60,
        "replicas": 2,
        "naive": True,
    },
    "nudr-dr": {"kind": "joserfc", "iss": ["nrf"], "aud": "nudr", "leeway": 10, "replicas": 2},
    "sepp-n32f": {
        "kind": "verifierset",
        "backend": "joserfc",
        "iss": ["plmnA", "plmnB"],
        "aud": ("nudm", "nausf"),
        "leeway": 60,
        "replicas": 2,
        "typ": None,
    },
    "nef-camara": {
        "kind": "verifier",
        "backend": "authlib",
        "iss": ["portal"],
        "aud": NEF_AUD,
        "leeway": 10,
        "replicas": 3,
        "auto": 1,
        "typ": "at+jwt",
    },
    "selfcare-api": {
        "kind": "verifier",
        "backend": "jose",
        "iss": ["subs"],
        "aud": "selfcare-api",
        "leeway": 120,
        "replicas": 2,
        "typ": "at+jwt",
    },
    "oss-bss-api": {"kind": "jose", "iss": ["corp"], "aud": "oss-bss", "leeway": 30, "replicas": 2},
}
EXPOSED = ["nef-camara", "selfcare-api", "sepp-n32f"]

H = 3600.0
# name -> (start, hours, quiet, storms (hour offsets), maintenance (start hour offset, or None))
TIMELINES = {
    "quiet-mon": ("2026-03-02T00:00:00", 24, True, [9.4], 2.0),
    "quiet-wed": ("2026-03-04T00:00:00", 24, True, [18.2], None),
    "quiet-sat": ("2026-03-07T00:00:00", 24, True, [], 2.5),
    "quiet-sun": ("2026-03-08T00:00:00", 24, True, [20.7], None),
    "inc-mon-maint": ("2026-03-09T18:00:00", 12, False, [3.1], 8.0),
    "inc-tue-busy": ("2026-03-10T08:00:00", 12, False, [4.6], None),
    "inc-fri-night": ("2026-03-13T16:00:00", 12, False, [5.3], 10.0),
    "inc-sun-storm": ("2026-03-15T06:00:00", 12, False, [6.0], None),
}

# start/end: hours from the timeline start
INCIDENTS = [
    # --- inc-mon-maint: evening peak, then the night maintenance window (02:00-04:00)
    {
        "id": "m1-jwks",
        "tl": "inc-mon-maint",
        "kind": "jwks_outage",
        "issuer": "nrf",
        "start": 8.15,
        "end": 8.9,
        "restart": {"nudm-sdm": [8.3, 8.4], "nchf-convergedcharging": [8.5], "namf-comm": [8.6]},
        "detail": "home NRF key endpoint down (LB misconfig in the upgrade) while rolling restarts empty caches",
    },
    {
        "id": "m2-kbp",
        "tl": "inc-mon-maint",
        "kind": "kid_before_publish",
        "issuer": "nrf",
        "start": 9.3,
        "publish": 9.8,
        "dc": "dc2",
        "detail": "NRF dc2 upgraded first signs with the new kid 30 min before the key set publishes it",
    },
    {
        "id": "m3-skew",
        "tl": "inc-mon-maint",
        "kind": "clock_skew",
        "client": "smf-dc3-04",
        "start": 1.5,
        "end": 10.0,
        "offset": (0, -420),
        "detail": "SMF host chrony died: clock drifting behind 0 -> 7 min, NF reads exp itself",
    },
    {
        "id": "m4-atk",
        "tl": "inc-mon-maint",
        "kind": "attack_burst",
        "api": "selfcare-api",
        "start": 3.5,
        "end": 4.15,
        "rate": 80,
        "detail": "forged-token burst on the self-care API during the evening peak",
    },
    {
        "id": "m5-type",
        "tl": "inc-mon-maint",
        "kind": "type_confusion",
        "client": "mno-selfcare-ios",
        "start": 4.0,
        "end": 12.0,
        "frac": 0.15,
        "detail": "iOS app 7.3 staged rollout sends the ID token instead of the access token",
    },
    {
        "id": "m6-aud",
        "tl": "inc-mon-maint",
        "kind": "audience_misconfig",
        "api": "nchf-convergedcharging",
        "start": 8.55,
        "end": 9.25,
        "aud": "nchf-staging",
        "detail": "CHF rolled out with the staging NF audience, rolled back after 40 min",
    },
    # --- inc-tue-busy: business day
    {
        "id": "t1-sig",
        "tl": "inc-tue-busy",
        "kind": "signature_spike",
        "issuer": "nrf",
        "dc": "dc1",
        "start": 3.08,
        "end": 3.65,
        "detail": "NRF dc1 HSM failover: new key material under the current kid",
    },
    {
        "id": "t2-kre",
        "tl": "inc-tue-busy",
        "kind": "key_removed_early",
        "issuer": "plmnA",
        "switch": 5.5,
        "remove": 5.51,
        "detail": "partner A removed the old key a minute after switching (email said 2 h)",
    },
    {
        "id": "t3-rskew",
        "tl": "inc-tue-busy",
        "kind": "server_clock_skew",
        "api": "namf-comm",
        "replica": 1,
        "start": 1.5,
        "end": 4.0,
        "offset": 240,
        "detail": "namf replica 1 host 4 min ahead (NTP server unreachable)",
    },
    {
        "id": "t4-stall",
        "tl": "inc-tue-busy",
        "kind": "issuer_stalled",
        "issuer": "portal",
        "start": 7.0,
        "end": 8.4,
        "detail": "portal IdP token endpoint down (DB failover), apps keep their 1 h tokens",
    },
    {
        "id": "t5-aud",
        "tl": "inc-tue-busy",
        "kind": "audience_misconfig",
        "client": "app-7f3a",
        "start": 2.25,
        "end": 5.0,
        "aud": "https://sandbox.api.mno.example/camara",
        "detail": "developer app deployed with the sandbox audience",
    },
    {
        "id": "t6-skew",
        "tl": "inc-tue-busy",
        "kind": "clock_skew",
        "client": "mno-selfcare-android",
        "group": 0.1,
        "start": 4.0,
        "end": 11.0,
        "offset": (-18000, -18000),
        "detail": "Android devices of one model (10 %) boot 5 h behind after a firmware update (local time as UTC)",
    },
    {
        "id": "t7-atk",
        "tl": "inc-tue-busy",
        "kind": "attack_burst",
        "api": "sepp-n32f",
        "start": 8.5,
        "end": 9.0,
        "rate": 12,
        "detail": "small forged-token probe from the IPX side during the afternoon",
    },
    # --- inc-fri-night
    {
        "id": "f1-jwks",
        "tl": "inc-fri-night",
        "kind": "jwks_outage",
        "issuer": "plmnB",
        "start": 3.0,
        "end": 4.2,
        "restart": {"sepp-n32f": [3.5]},
        "rotate": 3.3,
        "detail": "partner B key endpoint unreachable over IPX during their rotation; a SEPP pod restarts",
    },
    {
        "id": "f2-iskew",
        "tl": "inc-fri-night",
        "kind": "server_clock_skew",
        "issuer": "corp",
        "start": 1.0,
        "end": 2.5,
        "offset": -180,
        "detail": "corporate SSO node 3 min behind: 5 min tokens live 2 min",
    },
    {
        "id": "f3-stall",
        "tl": "inc-fri-night",
        "kind": "issuer_stalled",
        "issuer": "nrf",
        "start": 6.65,
        "end": 7.0,
        "detail": "NRF token endpoint stalled (DB lock) 20 min: NFs keep presenting the tokens they hold",
    },
    {
        "id": "f4-type",
        "tl": "inc-fri-night",
        "kind": "type_confusion",
        "client": "app-4c1d",
        "start": 1.5,
        "end": 5.0,
        "frac": 1.0,
        "detail": "developer app sends its portal ID token to the NEF",
    },
    {
        "id": "f5-kbp",
        "tl": "inc-fri-night",
        "kind": "kid_before_publish",
        "issuer": "plmnA",
        "start": 4.0,
        "publish": 4.4,
        "dc": None,
        "detail": "partner A signs with the new kid 25 min before publishing it",
    },
    {
        "id": "f6-skew",
        "tl": "inc-fri-night",
        "kind": "clock_skew",
        "client": "udm-dc2-01",
        "start": 2.0,
        "end": 10.0,
        "offset": (-150, -150),
        "detail": "UDM host 2.5 min behind, constant (small)",
    },
    {
        "id": "f7-sig",
        "tl": "inc-fri-night",
        "kind": "signature_spike",
        "issuer": "plmnB",
        "dc": None,
        "start": 9.0,
        "end": 9.75,
        "detail": "partner B re-keyed without changing the kid (night)",
    },
    # --- inc-sun-storm
    {
        "id": "s1-iskew",
        "tl": "inc-sun-storm",
        "kind": "server_clock_skew",
        "issuer": "plmnA",
        "start": 3.0,
        "end": 4.5,
        "offset": 480,
        "detail": "partner A NRF clock 8 min ahead: tokens stamped in the future",
    },
    {
        "id": "s2-rskew",
        "tl": "inc-sun-storm",
        "kind": "server_clock_skew",
        "api": "nudm-sdm",
        "replica": 2,
        "start": 5.0,
        "end": 8.0,
        "offset": -90,
        "detail": "nudm replica 2 host 90 s behind (leeway 0): fresh tokens' iat in the future",
    },
    {
        "id": "s3-kre",
        "tl": "inc-sun-storm",
        "kind": "key_removed_early",
        "issuer": "nrf",
        "switch": 6.0,
        "remove": 6.03,
        "detail": "NRF admin prunes the old key 2 min after the switch, during an AMF restart storm",
    },
    {
        "id": "s4-aud",
        "tl": "inc-sun-storm",
        "kind": "audience_misconfig",
        "api": "nudr-dr",
        "start": 7.5,
        "end": 8.2,
        "aud": "nudr-2",
        "detail": "UDR release rolled out with the wrong NF type audience",
    },
    {
        "id": "s5-atk",
        "tl": "inc-sun-storm",
        "kind": "attack_burst",
        "api": "nef-camara",
        "start": 9.0,
        "end": 9.4,
        "rate": 150,
        "detail": "forged-token flood on the CAMARA gateway",
    },
    {
        "id": "s6-stall",
        "tl": "inc-sun-storm",
        "kind": "issuer_stalled",
        "issuer": "subs",
        "start": 4.0,
        "end": 4.85,
        "detail": "subscriber IdP down Sunday morning: apps keep their access tokens",
    },
    {
        "id": "s7-jwks",
        "tl": "inc-sun-storm",
        "kind": "jwks_outage",
        "issuer": "nrf",
        "start": 10.0,
        "end": 10.45,
        "restart": {"nchf-convergedcharging": [10.1], "npcf-smpolicycontrol": [10.2]},
        "detail": "home NRF key endpoint down 27 min; charging and PCF pods restarted by autoscaler",
    },
]

# ----------------------------------------------------------------------------------------------------------------
# helpers


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def iso(ts):
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def t0_of(name):
    return dt.datetime.fromisoformat(TIMELINES[name][0]).replace(tzinfo=UTC).timestamp()


def curve(pop, ts):
    d = dt.datetime.fromtimestamp(ts, UTC)
    h = d.hour + d.minute / 60.0
    wknd = d.weekday() >= 5

    def g(mu, sd):
        x = min(abs(h - mu), 24 - abs(h - mu))
        return np.exp(-0.5 * (x / sd) ** 2)

    if pop == "sig":
        v = 0.22 + 0.6 * g(11.5, 3.0) + 0.7 * g(19.0, 3.0)
        return v * (0.85 if wknd else 1.0)
    if pop == "subs":
        v = 0.05 + 0.4 * g(12.5, 2.5) + 1.0 * g(20.5, 2.2)
        return v * (1.15 if wknd else 1.0)
    if pop == "dev":
        v = 0.25 + 0.75 * g(14.0, 3.5)
        return v * (0.5 if wknd else 1.0)
    if pop == "oss":
        v = 0.08 + (0.0 if wknd else 1.0 * g(11.0, 3.0)) + 0.6 * g(2.0, 0.8)
        return v
    return 1.0


# ----------------------------------------------------------------------------------------------------------------
# keys (generated at run time in the parent, shared with the replica processes by fork)

KEYS = {}  # (tl, issuer, name) -> private key


def new_key(alg):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pub_jwk(priv, kid, alg):
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    a = ECAlgorithm if alg == "ES256" else RSAAlgorithm
    d = a.to_jwk(priv.public_key(), as_dict=True)
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


# ----------------------------------------------------------------------------------------------------------------
# the plan: everything decided in the parent, deterministic given the seed


class Plan:
    def __init__(self, name, seed, scale):
        self.name, self.seed, self.scale = name, seed, scale
        _, hours, quiet, storms, maint = TIMELINES[name]
        self.t0 = t0_of(name)
        self.t1 = self.t0 + hours * H
        self.quiet = quiet
        self.storms = [self.t0 + s * H for s in storms]
        self.maint = None if maint is None else self.t0 + maint * H
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.incidents = [] if quiet else [dict(i) for i in INCIDENTS if i["tl"] == name]
        for inc in self.incidents:
            for k in ("start", "end", "publish", "switch", "remove", "rotate"):
                if k in inc:
                    inc[k] = self.t0 + inc[k] * H
            if "restart" in inc:
                inc["restart"] = {a: [self.t0 + x * H for x in v] for a, v in inc["restart"].items()}
        self.tokens = []  # token id -> spec
        self.reqs = defaultdict(list)  # (api, rep) -> [(t, tok)]
        self.tags = defaultdict(list)  # (api, rep) -> [tags]
        self.keysched = {}  # issuer -> [dict(kid, key, publish, remove)]
        self.outages = defaultdict(list)  # issuer -> [(start, end, mode)]
        self.restarts = defaultdict(list)  # (api, rep) -> [(t, cfg)]
        self.active = {}  # (api, rep) -> (start, end)
        self.rskew = defaultdict(list)  # (api, rep) -> [(start, end, offset)]
        self.rbase = {}  # (api, rep) -> small constant offset
        self.predicted_time_rejections = 0  # the generator's own guess of expired/not-yet-valid rejections

    # -- keys and rotations
    def build_keys(self):
        rng = self.rng
        for ik, info in ISSUERS.items():
            alg = info["alg"]
            life = info["life"]
            stamp = dt.datetime.fromtimestamp(self.t0, UTC).strftime("%Y%m%d")
            k0 = f"{ik}-{stamp}a" if ik.startswith("plmn") else f"{stamp}-{rng.randrange(16**4):04x}"
            sched = [
                {
                    "kid": k0,
                    "name": "k0",
                    "publish": self.t0 - 30 * 86400,
                    "remove": self.t1 + 86400,
                    "sign_from": self.t0 - 30 * 86400,
                    "sign_until": self.t1 + 86400,
                }
            ]
            KEYS[(self.name, ik, "k0")] = new_key(alg)
            rot = None
            # healthy rotation in some timelines
            if rng.random() < 0.5:
                rot = self.t0 + rng.uniform(0.15, 0.6) * (self.t1 - self.t0)
            for inc in self.incidents:
                if inc.get("issuer") == ik and inc["kind"] in ("kid_before_publish", "key_removed_early"):
                    rot = None
                if inc.get("issuer") == ik and inc.get("rotate"):
                    rot = inc["rotate"]
            if rot is not None:
                k1 = f"{ik}-{stamp}b" if ik.startswith("plmn") else f"{stamp}-{rng.randrange(16**4):04x}"
                KEYS[(self.name, ik, "k1")] = new_key(alg)
                switch = rot + rng.uniform(1.0, 2.0) * H
                sched[0]["sign_until"] = switch
                sched[0]["remove"] = switch + life + rng.uniform(1.0, 3.0) * H
                sched.append(
                    {
                        "kid": k1,
                        "name": "k1",
                        "publish": rot,
                        "remove": self.t1 + 86400,
                        "sign_from": switch,
                        "sign_until": self.t1 + 86400,
                    }
                )
            for inc in self.incidents:
                if inc.get("issuer") != ik:
                    continue
                if inc["kind"] == "kid_before_publish":
                    k1 = f"{ik}-{stamp}b" if ik.startswith("plmn") else f"{stamp}-{rng.randrange(16**4):04x}"
                    KEYS[(self.name, ik, "k1")] = new_key(alg)
                    # the new key: signed with by (one instance of) the issuer from start, published at publish
                    sched[0]["sign_until"] = inc["publish"] + 1.0 * H
                    sched[0]["remove"] = inc["publish"] + 1.0 * H + life + 2 * H
                    sched.append(
                        {
                            "kid": k1,
                            "name": "k1",
                            "publish": inc["publish"],
                            "remove": self.t1 + 86400,
                            "sign_from": inc["publish"] + 1.0 * H,
                            "sign_until": self.t1 + 86400,
                            "early_from": inc["start"],
                            "early_dc": inc["dc"],
                            "inc": inc["id"],
                        }
                    )
                    inc["kid"] = k1
                if inc["kind"] == "key_removed_early":
                    k1 = f"{ik}-{stamp}b" if ik.startswith("plmn") else f"{stamp}-{rng.randrange(16**4):04x}"
                    KEYS[(self.name, ik, "k1")] = new_key(alg)
                    sched[0]["sign_until"] = inc["switch"]
                    sched[0]["remove"] = inc["remove"]
                    sched[0]["inc"] = inc["id"]
                    sched.append(
                        {
                            "kid": k1,
                            "name": "k1",
                            "publish": inc["switch"] - 2 * H,
                            "remove": self.t1 + 86400,
                            "sign_from": inc["switch"],
                            "sign_until": self.t1 + 86400,
                        }
                    )
                    inc["kid"] = sched[0]["kid"]
                    inc["start"], inc["end"] = inc["remove"], inc["switch"] + life
                if inc["kind"] == "signature_spike":
                    KEYS[(self.name, ik, "rogue")] = new_key(alg)
                if inc["kind"] == "jwks_outage":
                    self.outages[ik].append((inc["start"], inc["end"], "503"))
            self.keysched[ik] = sched
            # background blips: short 503s / resets
            n = self.np.poisson((self.t1 - self.t0) / 86400 * 3)
            for _ in range(n):
                s = self.rng.uniform(self.t0, self.t1)
                self.outages[ik].append((s, s + self.rng.uniform(15, 100), self.rng.choice(["503", "reset"])))
            KEYS[(self.name, ik, "legacy")] = KEYS.get((self.name, ik, "legacy")) or new_key(alg)
        KEYS[(self.name, "attacker", "ec")] = new_key("ES256")

    def signing_key(self, ik, it, dc):
        """(kid, key name, incident tag or None) the issuer signs with at issuer time it."""
        sched = self.keysched[ik]
        for k in sched:
            if "early_from" in k and k["early_from"] <= it < k["sign_from"] and (k["early_dc"] in (None, dc)):
                tag = k["inc"] if it < k["publish"] else None
                return k["kid"], k["name"], tag
        best = sched[0]
        for k in sched:
            if k["sign_from"] <= it < k["sign_until"]:
                best = k
        tag = None
        if "inc" in best and best is sched[0]:  # key_removed_early: old key still signing near removal
            tag = best["inc"]
        name = best["name"]
        for inc in self.incidents:
            if (
                inc["kind"] == "signature_spike"
                and inc["issuer"] == ik
                and inc["start"] <= it < inc["end"]
                and inc["dc"] in (None, dc)
            ):
                inc["kid"] = best["kid"]
                return best["kid"], "rogue", inc["id"]
        return best["kid"], name, tag

    # -- validator replicas: active windows, restarts, skews
    def build_replicas(self):
        rng = self.rng
        for api, a in APIS.items():
            n = a["replicas"] + a.get("auto", 0)
            for r in range(n):
                key = (api, r)
                if r >= a["replicas"]:
                    # autoscaled by day: active 09:00-21:30 local of each day inside the timeline
                    self.active[key] = []
                    day = self.t0 - (self.t0 % 86400)
                    while day < self.t1:
                        s, e = day + 9 * H + rng.uniform(-1800, 1800), day + 21.5 * H + rng.uniform(-1800, 1800)
                        if e > self.t0 and s < self.t1:
                            self.active[key].append((max(s, self.t0), min(e, self.t1)))
                        day += 86400
                else:
                    self.active[key] = [(self.t0, self.t1)]
                self.rbase[key] = abs(rng.gauss(0, 0.6))  # hosts within a second (chrony), never behind iat
                rs = []
                # crashes
                for _ in range(self.np.poisson((self.t1 - self.t0) / 86400 * 0.7)):
                    rs.append((rng.uniform(self.t0, self.t1), None))
                # rolling deploy in the maintenance window
                if self.maint is not None and rng.random() < 0.6:
                    rs.append((self.maint + rng.uniform(0, 1.5 * H) + r * 300, None))
                self.restarts[key] = rs
        for inc in self.incidents:
            for api, ts in inc.get("restart", {}).items():
                for i, t in enumerate(ts):
                    self.restarts[(api, i % APIS[api]["replicas"])].append((t, None))
            if inc["kind"] == "audience_misconfig" and "api" in inc:
                api = inc["api"]
                for r in range(APIS[api]["replicas"] + APIS[api].get("auto", 0)):
                    s = inc["start"] + r * 240
                    self.restarts[(api, r)].append((s, {"aud": inc["aud"]}))
                    self.restarts[(api, r)].append((inc["end"] + r * 120, {}))
            if inc["kind"] == "server_clock_skew" and "api" in inc:
                self.rskew[(inc["api"], inc["replica"])].append((inc["start"], inc["end"], inc["offset"]))
        for key in self.restarts:
            self.restarts[key].sort(key=lambda x: x[0])

    def replica_offset(self, key, t):
        off = self.rbase[key]
        for s, e, o in self.rskew.get(key, ()):
            if s <= t < e:
                off += o
        return off

    def pick_replica(self, api, t):
        a = APIS[api]
        cands = []
        for r in range(a["replicas"] + a.get("auto", 0)):
            if any(s <= t < e for s, e in self.active[(api, r)]):
                # pod restarting: not in rotation for 20 s
                if not any(rt <= t < rt + 20 for rt, _ in self.restarts[(api, r)]):
                    cands.append(r)
        if not cands:
            cands = [0]
        return self.rng.choice(cands)

    # -- tokens
    def add_token(self, ik, keyname, kid, header, claims):
        self.tokens.append(("sign", ik, keyname, kid, header, claims))
        return len(self.tokens) - 1

    def add_raw(self, text):
        self.tokens.append(("raw", text))
        return len(self.tokens) - 1

    def iss_offset(self, ik, t):
        for inc in self.incidents:
            if inc["kind"] == "server_clock_skew" and inc.get("issuer") == ik and inc["start"] <= t < inc["end"]:
                return inc["offset"], inc["id"]
        return 0.0, None

    def stalled(self, ik, t):
        for inc in self.incidents:
            if inc["kind"] == "issuer_stalled" and inc["issuer"] == ik and inc["start"] <= t < inc["end"]:
                return True
        return False

    def issue(self, inst, api, t, kind="access"):
        """A token for inst towards api at true time t: (token id, exp, tags [(id, until)])."""
        ik = inst["iss"]
        info = ISSUERS[ik]
        off, skew_id = self.iss_offset(ik, t)
        it = t + off
        iat = int(it)
        exp = iat + info["life"]
        kid, keyname, ktag = self.signing_key(ik, it, inst.get("dc"))
        tags = []
        if ktag:
            tags.append(ktag)
        if skew_id:
            tags.append(skew_id)
        aud = inst["aud"][api]
        for inc in self.incidents:
            if (
                inc["kind"] == "audience_misconfig"
                and inc.get("client") == inst["cid"]
                and inc["start"] <= t < inc["end"]
            ):
                aud = inc["aud"]
                tags.append(inc["id"])
        n = len(self.tokens)
        if ik in ("nrf", "plmnA", "plmnB"):
            claims = {
                "iss": info["iss"],
                "sub": inst["sub"],
                "aud": aud,
                "scope": inst["scope"][api],
                "exp": exp,
                "iat": iat,
                "client_id": inst["cid"],
            }
            if ik == "plmnA":
                claims["nbf"] = iat
                claims["consumerPlmnId"] = {"mcc": "262", "mnc": "15"}
            header = {"typ": "JWT"}
        elif ik == "corp":
            claims = {
                "exp": exp,
                "iat": iat,
                "jti": f"{self.seed:x}-{n}",
                "iss": info["iss"],
                "aud": aud,
                "sub": inst["sub"],
                "typ": "Bearer",
                "azp": inst["cid"],
                "scope": "profile oss",
            }
            header = {"typ": "JWT"}
        else:
            claims = {
                "iss": info["iss"],
                "sub": inst["sub"],
                "aud": aud,
                "client_id": inst["cid"],
                "exp": exp,
                "iat": iat,
                "jti": f"{self.seed:x}-{n}",
                "scope": inst["scope"][api],
            }
            header = {"typ": "at+jwt"}
        if kind == "id":
            claims = {
                "iss": info["iss"],
                "sub": inst["sub"],
                "aud": inst["cid"],
                "exp": exp,
                "iat": iat,
                "nonce": f"n{n}",
                "auth_time": iat - 30,
                "at_hash": b64u(os.urandom(8)),
            }
            header = {"typ": "JWT"}
        header["kid"] = kid
        tid = self.add_token(ik, keyname, kid, header, claims)
        return tid, exp, [(x, exp + 900) for x in tags]

    # -- scanner / attack tokens
    def garbage_pool(self):
        import jwt

        atk = KEYS[(self.name, "attacker", "ec")]
        rng = self.rng
        pool = defaultdict(list)
        now = int(self.t0)
        for api in EXPOSED:
            ik = APIS[api]["iss"][0]
            iss = ISSUERS[ik]["iss"]
            aud = APIS[api]["aud"] if isinstance(APIS[api]["aud"], str) else APIS[api]["aud"][0]
            kid0 = self.keysched[ik][0]["kid"]
            for i in range(12):
                c = {"iss": iss, "sub": f"admin{i}", "aud": aud, "exp": now + 86400 * 365, "client_id": f"x{i}"}
                h = b64u(json.dumps({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
                pool[api].append(self.add_raw(f"{h}.{b64u(json.dumps(c).encode())}."))
                pool[api].append(
                    self.add_raw(jwt.encode(c, atk, algorithm="ES256", headers={"kid": b64u(os.urandom(6))}))
                )
                c2 = {"sub": f"user{i}", "exp": now + 3600, "iat": now, "scope": "admin"}
                pool[api].append(
                    self.add_raw(jwt.encode(c2, atk, algorithm="ES256", headers={"typ": "JWT", "kid": kid0}))
                )
                pub = KEYS[(self.name, ik, "k0")].public_key()
                from cryptography.hazmat.primitives import serialization

                pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                h = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid0}).encode())
                p = b64u(json.dumps(c).encode())
                sig = b64u(hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest())
                pool[api].append(self.add_raw(f"{h}.{p}.{sig}"))
                # years-expired, genuinely signed with a long-retired key
                old = jwt.encode(
                    {
                        "iss": iss,
                        "sub": f"u{i}",
                        "aud": aud,
                        "exp": now - 86400 * 900 - i,
                        "iat": now - 86400 * 900 - 3600,
                        "client_id": "legacy-portal",
                    },
                    KEYS[(self.name, ik, "legacy")],
                    algorithm=ISSUERS[ik]["alg"],
                    headers={"kid": "2023-legacy", "typ": APIS[api].get("typ") or "JWT"},
                )
                pool[api].append(self.add_raw(old))
                pool[api].append(self.add_raw(old[: rng.randrange(30, len(old) - 5)]))
                hh, pp, ss = old.split(".")
                d = json.loads(base64.urlsafe_b64decode(pp + "=="))
                d["exp"] = now + 86400 * 30
                d["sub"] = "admin"
                pool[api].append(self.add_raw(f"{hh}.{b64u(json.dumps(d).encode())}.{ss}"))
                pool[api].append(self.add_raw("eyJ" + b64u(os.urandom(rng.randrange(20, 200)))))
                if i < 3:
                    big = dict(c, pad="A" * 70000)
                    pool[api].append(self.add_raw(jwt.encode(big, atk, algorithm="ES256")))
        return pool

    # -- population
    def population(self):
        rng = self.rng
        insts = []
        nf_targets = {
            "amf": [("nudm-sdm", 0.012), ("npcf-smpolicycontrol", 0.003), ("namf-comm", 0.002)],
            "smf": [
                ("nudm-sdm", 0.005),
                ("npcf-smpolicycontrol", 0.008),
                ("nchf-convergedcharging", 0.01),
                ("namf-comm", 0.008),
            ],
            "ausf": [("nudm-sdm", 0.006)],
            "udm": [("nudr-dr", 0.012)],
            "pcf": [("nudr-dr", 0.004)],
        }
        counts = {"amf": 4, "smf": 4, "ausf": 2, "udm": 2, "pcf": 2}
        for nf, per_dc in counts.items():
            for dcn in (1, 2, 3):
                for k in range(1, per_dc + 1):
                    cid = f"{nf}-dc{dcn}-{k:02d}"
                    insts.append(
                        {
                            "cid": cid,
                            "sub": f"{rng.getrandbits(128):032x}",
                            "iss": "nrf",
                            "pop": "sig",
                            "dc": "dc1" if dcn == 1 else "dc2" if dcn == 2 else rng.choice(["dc1", "dc2"]),
                            "targets": nf_targets[nf],
                            "aud": {a: APIS[a]["aud"] for a, _ in nf_targets[nf]},
                            "scope": {a: a for a, _ in nf_targets[nf]},
                            "mode": "exp" if rng.random() < 0.5 else "expires_in",
                            "margin": rng.choice([30, 45, 60]),
                            "refresh": "proactive",
                            "clock": (
                                rng.gauss(0, 0.4) if rng.random() < 0.93 else rng.choice([-1, 1]) * rng.uniform(5, 90)
                            ),
                            "drift": 0.0,
                            "nf": True,
                            "retries": rng.choice([1, 1, 2, 3]),
                        }
                    )
        for ik, nfs in (("plmnA", 9), ("plmnB", 5)):
            for k in range(nfs):
                typ = rng.choice(["vsmf", "vamf", "vausf"])
                aud = "nausf" if typ in ("vausf", "vamf") else "nudm"
                insts.append(
                    {
                        "cid": f"{typ}-{ik}-{k:02d}",
                        "sub": f"{rng.getrandbits(128):032x}",
                        "iss": ik,
                        "pop": "sig",
                        "dc": None,
                        "targets": [("sepp-n32f", 0.012)],
                        "aud": {"sepp-n32f": aud},
                        "scope": {"sepp-n32f": "nudm-sdm" if aud == "nudm" else "nausf-auth"},
                        "mode": "expires_in",
                        "margin": 60,
                        "refresh": "proactive",
                        "clock": rng.gauss(0, 2),
                        "drift": 0.0,
                        "nf": True,
                        "retries": 1,
                    }
                )
        # developer apps (backend servers, client credentials, 1 h tokens)
        for k in range(28):
            cid = f"app-{rng.getrandbits(16):04x}"
            if k == 0:
                cid = "app-7f3a"
            if k == 1:
                cid = "app-4c1d"
            for _ in range(rng.choice([1, 1, 2, 3])):
                insts.append(
                    {
                        "cid": cid,
                        "sub": cid,
                        "iss": "portal",
                        "pop": "dev",
                        "dc": None,
                        "targets": [("nef-camara", rng.uniform(0.002, 0.02) * (3 if k < 2 else 1))],
                        "aud": {"nef-camara": NEF_AUD},
                        "scope": {
                            "nef-camara": rng.choice(["device-location", "sim-swap", "number-verification", "qod"])
                        },
                        "mode": "exp" if rng.random() < 0.6 else "expires_in",
                        "margin": rng.choice([0, 60, 300]),
                        "refresh": "lazy" if rng.random() < 0.45 else "proactive",
                        "clock": rng.gauss(0, 3),
                        "drift": 0.0,
                        "nf": False,
                        "retries": rng.choice([1, 2]),
                    }
                )
        # OSS/BSS integrations
        for name in (
            "crm-sync",
            "billing-mediation",
            "provisioning",
            "fault-mgmt",
            "inventory",
            "order-portal",
            "dunning-batch",
            "reporting",
        ):
            insts.append(
                {
                    "cid": name,
                    "sub": f"svc-{name}",
                    "iss": "corp",
                    "pop": "oss",
                    "dc": None,
                    "targets": [("oss-bss-api", rng.uniform(0.01, 0.05))],
                    "aud": {"oss-bss-api": "oss-bss"},
                    "scope": {"oss-bss-api": "oss"},
                    "mode": "expires_in",
                    "margin": 10,
                    "refresh": "lazy" if rng.random() < 0.6 else "proactive",
                    "clock": rng.gauss(0, 1),
                    "drift": 0.0,
                    "nf": False,
                    "retries": rng.choice([1, 1, 2]),
                }
            )
        # self-care devices (sessions)
        for _ in range(700):
            cid = rng.choice(["mno-selfcare-android"] * 6 + ["mno-selfcare-ios"] * 4 + ["mno-selfcare-web"] * 2)
            r = rng.random()
            clock = (
                rng.gauss(0, 4)
                if r < 0.9
                else rng.choice([-1, 1]) * rng.uniform(60, 900)
                if r < 0.985
                else -rng.uniform(1800, 4 * H)
            )
            insts.append(
                {
                    "cid": cid,
                    "sub": f"msisdn-{rng.getrandbits(40):010x}",
                    "iss": "subs",
                    "pop": "subs",
                    "dc": None,
                    "targets": [("selfcare-api", rng.uniform(0.2, 1.4))],
                    "aud": {"selfcare-api": "selfcare-api"},
                    "scope": {"selfcare-api": "usage billing"},
                    "mode": "exp",
                    "margin": 30,
                    "refresh": "lazy" if rng.random() < 0.3 else "proactive",
                    "clock": clock,
                    "drift": 0.0,
                    "nf": False,
                    "device": True,
                    "retries": 1,
                    "group": rng.random(),
                }
            )
        skewed = {i["client"] for i in self.incidents if i["kind"] == "clock_skew"}
        for inst in insts:
            if inst["cid"] in skewed:
                inst["mode"] = "exp"
        return insts

    def client_offset(self, inst, t):
        off = inst["clock"]
        tags = []
        for inc in self.incidents:
            if inc["kind"] != "clock_skew" or inc["client"] != inst["cid"]:
                continue
            if "group" in inc and inst.get("group", 1.0) >= inc["group"]:
                continue
            if inc["start"] <= t < inc["end"]:
                a, b = inc["offset"]
                f = (t - inc["start"]) / (inc["end"] - inc["start"])
                off += a + (b - a) * f
            if inc["start"] <= t < inc["end"] + 900:
                tags.append(inc["id"])
        return off, tags

    # -- arrivals
    def arrivals(self, insts):
        nbins = int((self.t1 - self.t0) // 60)
        mids = self.t0 + 60 * np.arange(nbins) + 30
        curves = {p: np.array([curve(p, m) for m in mids]) for p in ("sig", "subs", "dev", "oss")}
        storm = np.ones(nbins)
        for s in self.storms:
            i0 = int((s - self.t0) // 60)
            for j in range(i0, min(nbins, i0 + 12)):
                storm[j] = 4.0 - 0.25 * (j - i0)
        out = []
        k = 1.0 * self.scale
        for idx, inst in enumerate(insts):
            for api, rate in inst["targets"]:
                lam = (
                    curves[inst["pop"]]
                    * rate
                    * 60
                    * k
                    * (2.2 if inst["pop"] == "sig" else 0.7 if inst.get("device") else 1.0)
                )
                if inst["pop"] == "sig" and api in ("nudm-sdm", "npcf-smpolicycontrol", "namf-comm"):
                    lam = lam * storm
                if inst.get("device"):
                    # sessions: rate is sessions per hour at the peak; 3-15 calls a session
                    ns = self.np.poisson(lam / 3600)
                    for b in np.nonzero(ns)[0]:
                        for _ in range(ns[b]):
                            s = self.t0 + 60 * b + self.np.random() * 60
                            for j in range(int(self.np.integers(3, 16))):
                                out.append((s + j * float(self.np.uniform(2, 20)), idx, api))
                    continue
                ns = self.np.poisson(lam)
                for b in np.nonzero(ns)[0]:
                    for x in self.np.random(ns[b]):
                        out.append((self.t0 + 60 * b + 60 * float(x), idx, api))
        out = [o for o in out if o[0] < self.t1]
        out.sort()
        return out

    def build(self):
        self.build_keys()
        self.build_replicas()
        insts = self.population()
        arr = self.arrivals(insts)
        rng = self.rng
        state = {}  # (idx, api) -> dict(tok, exp, tags, c_issue, bad401, retries_left)
        history = defaultdict(list)
        # NF instance restarts (crashes and maintenance) -> stale persisted tokens replayed
        nf_restarts = defaultdict(list)
        for idx, inst in enumerate(insts):
            if inst.get("nf"):
                for _ in range(self.np.poisson((self.t1 - self.t0) / 86400 * 1.2)):
                    nf_restarts[idx].append(rng.uniform(self.t0, self.t1))
                if self.maint is not None and rng.random() < 0.5:
                    nf_restarts[idx].append(self.maint + rng.uniform(0, 2 * H))
                nf_restarts[idx].sort()
        next_restart = {idx: 0 for idx in nf_restarts}
        type_inc = [i for i in self.incidents if i["kind"] == "type_confusion"]
        for t, idx, api in arr:
            inst = insts[idx]
            ik = inst["iss"]
            key = (idx, api)
            st = state.get(key)
            leeway = APIS[api]["leeway"]
            # restart of the NF instance: reload a persisted token, maybe hours old
            if idx in nf_restarts:
                rl = nf_restarts[idx]
                while next_restart[idx] < len(rl) and rl[next_restart[idx]] <= t:
                    next_restart[idx] += 1
                    hist = [h for h in history[key] if h[1] < t - 1800]
                    if hist and rng.random() < 0.6:
                        old = rng.choice(hist[-6:])
                        state[key] = st = {
                            "tok": old[0],
                            "exp": old[1],
                            "tags": old[2],
                            "c_issue": old[3],
                            "force": False,
                            "left": inst["retries"],
                        }
                    else:
                        state.pop(key, None)
                        st = None
            c_off, c_tags = self.client_offset(inst, t)
            c = t + c_off
            need = st is None or st.get("force")
            if st is not None and not need and inst["refresh"] == "proactive":
                if inst["mode"] == "exp":
                    need = c >= st["exp"] - inst["margin"]
                else:
                    need = c >= st["c_issue"] + ISSUERS[ik]["life"] - inst["margin"]
            if need:
                if self.stalled(ik, t):
                    if st is None:
                        continue  # no token and none to be had: the call is not made
                else:
                    kind = "access"
                    for inc in type_inc:
                        if (
                            inc["client"] == inst["cid"]
                            and inc["start"] <= t < inc["end"]
                            and (not inst.get("device") or inst["group"] < inc["frac"])
                        ):
                            kind = "id"
                    tid, exp, tags = self.issue(inst, api, t, kind)
                    if kind == "id":
                        for inc in type_inc:
                            if inc["client"] == inst["cid"] and inc["start"] <= t < inc["end"]:
                                tags.append((inc["id"], exp + 900))
                    st = {"tok": tid, "exp": exp, "tags": tags, "c_issue": c, "force": False, "left": inst["retries"]}
                    state[key] = st
                    history[key].append((tid, exp, tags, c))
            rep = self.pick_replica(api, t)
            rkey = (api, rep)
            tags = [x for x, until in st["tags"] if t <= until]
            tags += c_tags
            for inc in self.incidents:
                kd = inc["kind"]
                if kd == "jwks_outage" and inc["issuer"] == ik and inc["start"] <= t <= inc["end"] + 120:
                    tags.append(inc["id"])
                elif kd == "issuer_stalled" and inc["issuer"] == ik and inc["start"] <= t <= inc["end"] + 900:
                    tags.append(inc["id"])
                elif (
                    kd == "server_clock_skew"
                    and inc.get("api") == api
                    and inc["replica"] == rep
                    and inc["start"] <= t <= inc["end"]
                ):
                    tags.append(inc["id"])
                elif kd == "audience_misconfig" and inc.get("api") == api and inc["start"] <= t <= inc["end"] + 600:
                    tags.append(inc["id"])
            self.reqs[rkey].append((t, st["tok"]))
            self.tags[rkey].append(tuple(sorted(set(tags))))
            # the client's view of the answer: an expired token gets a 401 and (after retries) a refresh
            r_off = self.replica_offset(rkey, t)
            if t + r_off > st["exp"] + leeway or t + r_off < st["exp"] - ISSUERS[ik]["life"] - leeway - 1:
                st["left"] -= 1
                self.predicted_time_rejections += 1
                if st["left"] <= 0:
                    st["force"] = True
        # scanners (1-3 garbage tokens a minute over the exposed APIs) and attack bursts
        pool = self.garbage_pool()
        t = self.t0
        rate = self.rng.uniform(1.0, 1.6) / 60
        for _ in range(10**7):
            t += self.rng.expovariate(rate)
            if t >= self.t1:
                break
            api = self.rng.choice(EXPOSED)
            self.put(api, t, self.rng.choice(pool[api]), ())
        for inc in self.incidents:
            if inc["kind"] != "attack_burst":
                continue
            api = inc["api"]
            t = inc["start"]
            inc["issuer"] = None
            for _ in range(10**6):
                t += self.rng.expovariate(inc["rate"] / 60)
                if t >= inc["end"]:
                    break
                self.put(api, t, self.rng.choice(pool[api]), (inc["id"],))
        # background ordering within each file
        for rkey in list(self.reqs):
            z = sorted(zip(self.reqs[rkey], self.tags[rkey], strict=True), key=lambda x: x[0][0])
            self.reqs[rkey] = [a for a, _ in z]
            self.tags[rkey] = [b for _, b in z]

    def put(self, api, t, tok, tags):
        rep = self.pick_replica(api, t)
        self.reqs[(api, rep)].append((t, tok))
        self.tags[(api, rep)].append(tags)


PLANS = {}

# ----------------------------------------------------------------------------------------------------------------
# replica process: key server, validators, the run

TRUE_NOW = [0.0]


class KeyServer:
    def __init__(self, plan):
        self.plan = plan
        self.cache = {}
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ik = self.path.strip("/").split("/")[0]
                now = TRUE_NOW[0]
                for s, e, mode in srv.plan.outages.get(ik, ()):
                    if s <= now < e:
                        if mode == "reset":
                            self.close_connection = True
                            return
                        self.send_response(503)
                        self.send_header("Retry-After", "30")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = srv.jwks(ik, now)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=300")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwks(self, ik, now):
        ks = (ik, *(k["name"] for k in self.plan.keysched[ik] if k["publish"] <= now < k["remove"]))
        if ks not in self.cache:
            alg = ISSUERS[ik]["alg"]
            keys = [
                pub_jwk(KEYS[(self.plan.name, ik, k["name"])], k["kid"], alg)
                for k in self.plan.keysched[ik]
                if k["name"] in ks
            ]
            self.cache[ks] = json.dumps({"keys": keys}).encode()
        return self.cache[ks]

    def url(self, ik):
        return f"http://127.0.0.1:{self.port}/{ik}/jwks.json"


class AppKeys:
    """The app's own key cache (wrapped-library APIs): TTL 300 s, refetch on an unknown kid at most once a
    minute, last good keys kept on failure unless ``naive``."""

    def __init__(self, url, build, naive=False):
        self.url, self.build, self.naive = url, build, naive
        self.doc = None
        self.obj = None
        self.kids = set()
        self.fetched = -1e18
        self.tried = -1e18

    def fetch(self):
        self.tried = TRUE_NOW[0]
        with urllib.request.urlopen(self.url, timeout=5) as r:
            doc = json.loads(r.read())
        self.doc = doc
        self.kids = {k.get("kid") for k in doc["keys"]}
        self.obj = self.build(doc)
        self.fetched = TRUE_NOW[0]

    def get(self, token):
        now = TRUE_NOW[0]
        try:
            kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")).get("kid")
        except Exception:
            kid = None
        stale = now - self.fetched > 300
        unknown = kid is not None and kid not in self.kids and now - self.tried > 60
        if self.doc is None or stale or unknown:
            try:
                self.fetch()
            except Exception:
                if self.doc is None or self.naive:
                    raise
        return self.obj


def make_validator(plan, server, api, cfg):
    import jwtobs

    a = APIS[api]
    aud = cfg.get("aud", a["aud"])
    leeway = a["leeway"]
    kind = a["kind"]
    if kind in ("verifier", "verifierset"):
        vs = []
        for ik in a["iss"]:
            prof = jwtobs.Profile(
                name=api,
                issuer=ISSUERS[ik]["iss"],
                audience=aud,
                algorithms=(ISSUERS[ik]["alg"],),
                token_type=a.get("typ"),
                leeway=leeway,
            )
            src = jwtobs.JwksSource(
                server.url(ik),
                issuer=ISSUERS[ik]["iss"],
                clock=lambda: TRUE_NOW[0],
                max_stale=a.get("max_stale", 86400),
                timeout=5.0,
            )
            vs.append(jwtobs.Verifier(prof, keys=src, backend=a["backend"], clock=time.time))
        v = vs[0] if kind == "verifier" else jwtobs.VerifierSet(vs)
        return v.verify
    ik = a["iss"][0]
    iss = ISSUERS[ik]["iss"]
    alg = ISSUERS[ik]["alg"]
    url = server.url(ik)
    if kind == "pyjwt":
        import jwt

        # PyJWKClient's cache runs on the real monotonic clock: its 300 s lifespan is kept in simulated time by
        # replacing the client (= a refetch) every 300 simulated seconds
        box = {"client": None, "t": -1e18}

        def validate(token):
            if TRUE_NOW[0] - box["t"] > 300:
                box["client"], box["t"] = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5), TRUE_NOW[0]
            key = box["client"].get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=[alg], audience=aud, issuer=iss, leeway=leeway)

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        keys = AppKeys(url, lambda doc: cjwk.JWKSet.from_json(json.dumps(doc)))

        def validate(token):
            ks = keys.get(token)
            t = cjwt.JWT(check_claims={"iss": iss, "aud": aud, "exp": None}, algs=[alg], expected_type="JWS")
            t.leeway = leeway
            t.deserialize(token, ks)
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    if kind == "authlib":
        from authlib.jose import JsonWebKey
        from authlib.jose import jwt as ajwt

        keys = AppKeys(url, lambda doc: JsonWebKey.import_key_set(doc), naive=a.get("naive", False))

        def validate(token):
            ks = keys.get(token)
            claims = ajwt.decode(
                token,
                ks,
                claims_options={"iss": {"essential": True, "value": iss}, "aud": {"essential": True, "value": aud}},
            )
            claims.validate(leeway=leeway)
            return dict(claims)

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "joserfc":
        from joserfc import jwt as fjwt
        from joserfc.jwk import KeySet

        keys = AppKeys(url, lambda doc: KeySet.import_key_set(doc))

        def validate(token):
            ks = keys.get(token)
            tok = fjwt.decode(token, ks, algorithms=[alg])
            reg = fjwt.JWTClaimsRegistry(
                leeway=leeway,
                iss={"essential": True, "value": iss},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            )
            reg.validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if kind == "jose":
        from jose import jwt as jjwt

        keys = AppKeys(url, lambda doc: doc)

        def validate(token):
            ks = keys.get(token)
            return jjwt.decode(token, ks, algorithms=[alg], audience=aud, issuer=iss, options={"leeway": leeway})

        return jwtobs.wrap(validate, library="jose", profile=api)
    raise ValueError(kind)


def sign(plan, spec):
    import jwt

    if spec[0] == "raw":
        return spec[1]
    _, ik, keyname, _kid, header, claims = spec
    return jwt.encode(claims, KEYS[(plan.name, ik, keyname)], algorithm=ISSUERS[ik]["alg"], headers=header)


def run_replica(job):
    import warnings

    warnings.filterwarnings("ignore")
    import time_machine

    import jwtobs

    name, api, rep, out = job
    plan = PLANS[name]
    rkey = (api, rep)
    reqs = plan.reqs.get(rkey, [])
    path = os.path.join(out, name, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    if not reqs:
        return name, api, rep, 0
    TRUE_NOW[0] = reqs[0][0]
    server = KeyServer(plan)
    jwtobs.configure(
        events_path=path, service=api, fingerprint_key=FP_KEY, issuers=[ISSUERS[ik]["iss"] for ik in ISSUERS]
    )
    restarts = plan.restarts.get(rkey, [])
    ri = 0
    cfg = {}
    signed = {}
    validate = None
    with time_machine.travel(reqs[0][0] + plan.replica_offset(rkey, reqs[0][0]), tick=False) as tm:
        for t, tok in reqs:
            TRUE_NOW[0] = t
            while ri < len(restarts) and restarts[ri][0] <= t:
                if restarts[ri][1] is not None:
                    cfg = restarts[ri][1]
                validate = None
                ri += 1
            tm.move_to(t + plan.replica_offset(rkey, t))
            if validate is None:
                validate = make_validator(plan, server, api, cfg)
            s = signed.get(tok)
            if s is None:
                s = signed[tok] = sign(plan, plan.tokens[tok])
            try:
                validate(s)
            except Exception:  # the rejection is recorded by jwtobs
                pass
    jwtobs.flush()
    server.httpd.shutdown()
    return name, api, rep, len(reqs)


# ----------------------------------------------------------------------------------------------------------------
# labels and summaries


def label(plan, out, wall):
    d = os.path.join(out, plan.name)
    counted = defaultdict(list)
    reasons = Counter()
    nval = nrej = 0
    mismatches = []
    for rkey in sorted(plan.reqs):
        api, rep = rkey
        path = os.path.join(d, "events", f"{api}-{rep}.jsonl")
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    e = json.loads(line)
                    if "event" in e:
                        continue
                    evs.append(e)
        tags = plan.tags[rkey]
        if len(evs) != len(tags):
            mismatches.append(f"{api}-{rep}: {len(evs)} events for {len(tags)} requests")
        for e, tg in zip(evs, tags, strict=False):
            nval += 1
            if e["outcome"] != "rejected":
                continue
            nrej += 1
            reasons[e["reason"]] += 1
            for iid in tg:
                inc = next((i for i in plan.incidents if i["id"] == iid), None)
                if inc is None:
                    continue
                ok = REASONS_OF[inc["kind"]]
                if ok is None or e["reason"] in ok:
                    counted[iid].append(e["time"])
    labels = []
    missing = []
    for inc in plan.incidents:
        ts = sorted(counted.get(inc["id"], []))
        if not ts:
            missing.append(inc["id"])
            continue
        kind = inc["kind"]
        issuer = None
        if kind in ISSUER_SCOPED or (kind == "server_clock_skew" and inc.get("issuer")):
            issuer = ISSUERS[inc["issuer"]]["iss"]
        client = inc.get("client") if kind in ("clock_skew", "audience_misconfig", "type_confusion") else None
        profile = inc.get("api") if kind in ("audience_misconfig", "server_clock_skew") and "api" in inc else None
        labels.append(
            {
                "id": inc["id"],
                "kind": kind,
                "start": ts[0],
                "end": ts[-1],
                "count": len(ts),
                "issuer": issuer,
                "kid": inc.get("kid") if kind in KID_SCOPED else None,
                "client_id": client,
                "profile": profile,
                "detail": inc["detail"],
            }
        )
    lab = {
        "timeline": plan.name,
        "quiet": plan.quiet,
        "seed": plan.seed,
        "start": iso(plan.t0),
        "end": iso(plan.t1),
        "generator": "fleet56",
        "incidents": labels,
    }
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(lab, f, indent=1)
    summ = {
        "timeline": plan.name,
        "validations": nval,
        "rejections": nrej,
        "rejection_rate": round(nrej / max(nval, 1), 5),
        "reasons": dict(reasons.most_common()),
        "incidents_injected": [i["id"] for i in plan.incidents],
        "incidents_labelled": [x["id"] for x in labels],
        "incidents_without_counted_rejection": missing,
        "counts": {x["id"]: x["count"] for x in labels},
        "event_mismatches": mismatches,
        "generator_predicted_time_rejections": plan.predicted_time_rejections,
        "wall_time_s": round(wall, 1),
    }
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
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
    ap.add_argument("--seed-base", type=int, default=5600)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    if args.score_only:
        print(json.dumps(_score(args.out, names), indent=1, default=str))
        return 0
    w0 = time.time()
    jobs = []
    for n in names:
        p0 = time.time()
        plan = Plan(n, args.seed_base + 17 * list(TIMELINES).index(n), args.scale)
        plan.build()
        PLANS[n] = plan
        os.makedirs(os.path.join(args.out, n, "events"), exist_ok=True)
        total = sum(len(v) for v in plan.reqs.values())
        print(f"[plan] {n}: {total} requests, {len(plan.tokens)} tokens ({time.time() - p0:.1f}s)", flush=True)
        for rkey in sorted(plan.reqs, key=lambda k: -len(plan.reqs[k])):
            jobs.append((n, rkey[0], rkey[1], args.out))
    jobs.sort(key=lambda j: -len(PLANS[j[0]].reqs[(j[1], j[2])]))
    ctx = mp.get_context("fork")
    done = Counter()
    with ctx.Pool(args.workers, maxtasksperchild=1) as pool:
        for n, _api, _rep, cnt in pool.imap_unordered(run_replica, jobs):
            done[n] += cnt
    wall = time.time() - w0
    for n in names:
        s = label(PLANS[n], args.out, wall)
        print(
            f"[done] {n}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, "
            f"labelled {len(s['incidents_labelled'])}/{len(s['incidents_injected'])} "
            f"{s['counts']} missing {s['incidents_without_counted_rejection']} {s['event_mismatches'][:3]}",
            flush=True,
        )
        print("   reasons", s["reasons"], flush=True)
    print(f"[wall] {wall:.1f}s", flush=True)
    if args.score:
        print(json.dumps(_score(args.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
