"""fleet66: a blind benchmark fleet - a national government digital-services platform.

Design note
===========

Written without reading jwtobs's detectors: every event below is written by jwtobs itself from a real validation
(keys generated at run time with ``cryptography``, tokens signed with PyJWT, key sets served by a real
``http.server`` on 127.0.0.1, simulated time moved with ``time_machine``), one process per API replica writing
``<out>/<timeline>/events/<api>-<replica>.jsonl``.

Issuers
-------
- ``https://id.gov.example`` (citizen identity provider, RS256): web portal ``citizen-web``, mobile wallet app
  ``wallet-app``, kiosks in public offices ``kiosk-north`` / ``kiosk-south`` / ``kiosk-east``, and accredited
  intermediaries (tax accountants ``acct-NNN``, banks ``bank-NN``) with client-credential tokens of 60 min.
  Citizen access tokens live 10 min (web, kiosk) or 15 min (app), one audience per token (resource indicators).
- ``https://broker.municipalities.gov.example`` (municipal federation broker, ES256): re-issues 5-min tokens for the
  municipal portals ``muni-<town>``.
- ``https://sso.staff.gov.example`` (agency staff SSO, RS256): caseworker apps, 60-min tokens, office hours.
- ``https://s2s.gov.example`` (inter-agency service tokens, ES256): JWT-SVID-like tokens minted by the node agent
  of the calling host, stamped with that host's clock (so a host clock ahead gives ``nbf`` in the future);
  overnight batch jobs and the month-end benefit payment run.

APIs (profile = service; validator kind, leeway, replicas)
----------------------------------------------------------
- ``tax-filing-api``: ``jwtobs.VerifierSet`` (citizen IdP + s2s), backend pyjwt, leeway 30, 3 replicas
  (+2 autoscaled on the filing-deadline evening).
- ``benefits-api``: the app's own PyJWT + ``PyJWKClient`` under ``jwtobs.wrap(library="pyjwt")``, leeway 60, 3.
- ``vehicle-reg-api``: joserfc decode + ``JWTClaimsRegistry`` under ``wrap(library="joserfc")``, leeway 15, 2.
- ``health-records-api``: FAPI-style strict ``jwtobs.Verifier``, backend authlib, leeway 0, 2.
- ``municipal-services-api``: ``jwtobs.Verifier``, backend python-jose, leeway 30, 2 (broker tokens).
- ``staff-portal-api``: Authlib decode + ``claims.validate`` under ``wrap(library="authlib")``, leeway 45, 2.
- ``mainframe-gateway``: legacy gateway, python-jose under ``wrap(library="jose")``, generous leeway 120, key set
  cached an hour, 2 replicas.
- ``interagency-exchange``: jwcrypto code under ``wrap(library="jwcrypto")``, leeway 10, 2 (s2s tokens).

Background (every timeline)
---------------------------
Office hours with a lunch dip, Monday peaks, weekends low, evenings for citizens, overnight agency batch, month-end
payment run, a Saturday maintenance window; citizens' sessions (several requests, tokens refreshed by the device's
own clock, a minority only after a 401), wallet apps resumed hours or days later presenting what they hold, old app
versions refreshing only after a 401, intermediaries' services restarted and replaying a cached token, devices with
their own clocks (most exact, some minutes off, drifting, kiosks booting with a wrong clock until NTP), internet
scanners (1-3 garbage tokens/min: alg none, random kid, typ JWT without client, tampered, truncated, huge, HS256
with the public key, years-expired), healthy key rotations with overlap, JWKS blips (short 503s and resets),
rolling deploys, crashes and autoscaling (cold caches).

Incidents (``INCIDENTS``)
-------------------------
Each kind of ``jwtobs.kinds.KIND_INFO`` 2-3 times over the 4 incident timelines: a staff-SSO runbook signing with a
new key before publishing it, keys removed together with the switch, JWKS endpoints down while replicas restart,
HSM / signing-agent failovers to wrong key material, an accountant's drifting server clock, kiosks booted with a wrong
clock, an s2s host group ahead, the broker's clock ahead, validator replicas' clocks off (one by only 75 s at a
zero-leeway API), token endpoints down (clients present what they hold), an API rolled out with the staging
audience, a bank's integration requesting the wrong audience, ID tokens and refresh tokens sent to APIs, fraud bursts
during the filing deadline and an unannounced pentest.

Labels follow the brief: a rejection is counted for an incident when its request carries the incident's tag and its
reason is one of ``REASONS_OF[kind]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import types
import urllib.request
from datetime import UTC, datetime

GENERATOR = "fleet66"

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

H = 3600.0
M = 60.0

ISSUERS = {
    "idp": {"iss": "https://id.gov.example", "alg": "RS256", "typ": "at+jwt"},
    "broker": {"iss": "https://broker.municipalities.gov.example", "alg": "ES256", "typ": "at+jwt"},
    "sso": {"iss": "https://sso.staff.gov.example", "alg": "RS256", "typ": "at+jwt"},
    "s2s": {"iss": "https://s2s.gov.example", "alg": "ES256", "typ": "JWT"},
}

APIS = {
    "tax-filing-api": {"kind": "verifierset", "backend": "pyjwt", "issuers": ["idp", "s2s"], "leeway": 30,
                       "replicas": 3, "aud": "https://api.tax.gov.example"},
    "benefits-api": {"kind": "pyjwt", "issuers": ["idp", "broker"], "leeway": 60, "replicas": 3,
                     "aud": "https://api.benefits.gov.example"},
    "vehicle-reg-api": {"kind": "joserfc", "issuers": ["idp", "broker"], "leeway": 15, "replicas": 2,
                        "aud": "https://api.vehicles.gov.example"},
    "health-records-api": {"kind": "verifier", "backend": "authlib", "issuers": ["idp"], "leeway": 0, "replicas": 2,
                           "aud": "https://api.health.gov.example"},
    "municipal-services-api": {"kind": "verifier", "backend": "python-jose", "issuers": ["broker"], "leeway": 30,
                               "replicas": 2, "aud": "https://api.municipal.gov.example"},
    "staff-portal-api": {"kind": "authlib", "issuers": ["sso"], "leeway": 45, "replicas": 2,
                         "aud": "https://staff.gov.example/api"},
    "mainframe-gateway": {"kind": "jose", "issuers": ["sso", "s2s"], "leeway": 120, "replicas": 2,
                          "aud": "https://mainframe.gov.example"},
    "interagency-exchange": {"kind": "jwcrypto", "issuers": ["s2s"], "leeway": 10, "replicas": 2,
                             "aud": "https://exchange.gov.example"},
}
PUBLIC_APIS = ["tax-filing-api", "benefits-api", "vehicle-reg-api", "health-records-api", "municipal-services-api"]


def _ts(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()


# name -> (start, hours, volume at scale 1, flags)
TIMELINES = {
    "q_monday": {"start": _ts(2026, 3, 2), "hours": 24, "volume": 150_000, "quiet": True,
                 "rotation": ("idp", 4.0, 7.0, 30.0)},
    "q_midweek": {"start": _ts(2026, 3, 11), "hours": 24, "volume": 130_000, "quiet": True,
                  "rotation": ("sso", 2.0, 9.0, 20.0), "blips": [("broker", 14.2, 40, "503")]},
    "q_saturday": {"start": _ts(2026, 3, 14), "hours": 24, "volume": 80_000, "quiet": True,
                   "maintenance": ("mainframe-gateway", 1.0, 3.0), "blips": [("idp", 10.5, 25, "reset")]},
    "q_monthend": {"start": _ts(2026, 3, 31), "hours": 24, "volume": 140_000, "quiet": True, "monthend": True,
                   "blips": [("s2s", 21.3, 45, "reset")], "rotation": ("broker", 3.0, 6.0, 8.0)},
    "i_deadline": {"start": _ts(2026, 4, 30, 12), "hours": 12, "volume": 160_000, "quiet": False, "deadline": True},
    "i_rotation": {"start": _ts(2026, 3, 9, 6), "hours": 12, "volume": 120_000, "quiet": False},
    "i_monthend": {"start": _ts(2026, 3, 31, 18), "hours": 12, "volume": 100_000, "quiet": False, "monthend": True},
    "i_release": {"start": _ts(2026, 3, 18, 7), "hours": 12, "volume": 110_000, "quiet": False},
}

# times are hours from the timeline's start
INCIDENTS = [
    {"id": "D1", "timeline": "i_deadline", "kind": "attack_burst", "at": 7.66, "dur": 0.42, "rate": 120,
     "apis": ["tax-filing-api"], "mix": ["hs256_pub", "alg_none", "tampered", "random_kid"],
     "detail": "fraud ring: forged refund-claim tokens (HS256 with the public key, alg none, tampered) at the "
               "deadline"},
    {"id": "D2", "timeline": "i_deadline", "kind": "attack_burst", "at": 9.15, "dur": 0.75, "rate": 14,
     "apis": ["tax-filing-api", "benefits-api"], "mix": ["tampered", "expired_years", "random_kid"],
     "detail": "low-rate tampered citizen tokens during the evening peak (hard: ~14/min among the deadline rush)"},
    {"id": "D3", "timeline": "i_deadline", "kind": "clock_skew", "client": "acct-007", "at": 1.5, "dur": 10.4,
     "skew": ("drift", 0.0, -900.0),
     "detail": "accountant firm's filing server clock drifting behind (0 to -15 min), tokens used past exp"},
    {"id": "D4", "timeline": "i_deadline", "kind": "audience_misconfig", "client": "bank-03", "at": 4.5, "dur": 1.7,
     "wrong_aud": "https://api.benefits.gov.example", "calls": "tax-filing-api",
     "detail": "bank integration release requests benefits-api tokens and calls tax-filing-api"},
    {"id": "D5", "timeline": "i_deadline", "kind": "issuer_stalled", "issuer": "broker", "at": 8.5, "dur": 0.58,
     "detail": "municipal broker token endpoint down 35 min: portals keep presenting (and retrying) held 5-min "
               "tokens"},
    {"id": "D6", "timeline": "i_deadline", "kind": "signature_spike", "issuer": "idp", "at": 10.08, "dur": 0.33,
     "frac": 0.25, "detail": "one of four IdP HSM nodes fails over to wrong key material under the current kid"},
    {"id": "R1", "timeline": "i_rotation", "kind": "kid_before_publish", "issuer": "sso", "at": 3.0, "dur": 0.58,
     "detail": "staff SSO manual runbook: switched signing to the new key 35 min before publishing it"},
    {"id": "R2", "timeline": "i_rotation", "kind": "key_removed_early", "issuer": "sso", "at": 5.0,
     "detail": "staff SSO's next runbook step: the key signing since R1 removed as a newer one starts signing; "
               "60-min tokens in flight"},
    {"id": "R3", "timeline": "i_rotation", "kind": "jwks_outage", "issuer": "broker", "at": 7.33, "dur": 0.75,
     "mode": "503", "restarts": [("municipal-services-api", 7.55), ("benefits-api", 7.7)],
     "detail": "broker key set endpoint answering 503 for 45 min; a rolling deploy starts with cold caches"},
    {"id": "R4", "timeline": "i_rotation", "kind": "server_clock_skew", "api": "mainframe-gateway", "replica": 1,
     "at": 1.5, "dur": 2.67, "skew": ("const", 540.0),
     "detail": "mainframe gateway replica 1 host clock 9 min ahead after a VM restore"},
    {"id": "R5", "timeline": "i_rotation", "kind": "type_confusion", "client": "muni-riverton", "at": 9.0,
     "dur": 1.33, "token": "id", "detail": "municipal portal release sends the ID token as bearer"},
    {"id": "M1", "timeline": "i_monthend", "kind": "server_clock_skew", "issuer": "broker", "at": 1.0, "dur": 1.5,
     "skew": ("const", 150.0), "detail": "broker clock 150 s ahead: iat/nbf in the future at strict validators"},
    {"id": "M2", "timeline": "i_monthend", "kind": "clock_skew", "client": "svc-benefits-run", "at": 4.0,
     "dur": 3.5, "skew": ("drift", 20.0, 240.0),
     "detail": "payment-run host group clock drifting ahead (20 s to 4 min): nbf in the future"},
    {"id": "M3", "timeline": "i_monthend", "kind": "signature_spike", "issuer": "s2s", "at": 8.17, "dur": 0.5,
     "frac": 0.5, "detail": "s2s node agents in one data centre got a re-keyed signer under the old kid"},
    {"id": "M4", "timeline": "i_monthend", "kind": "jwks_outage", "issuer": "idp", "at": 6.5, "dur": 0.75,
     "mode": "reset", "restarts": [("tax-filing-api", 6.8), ("health-records-api", 6.9), ("vehicle-reg-api", 7.0)],
     "detail": "IdP key set endpoint resets connections during the payment run; crashed replicas restart cold"},
    {"id": "M5", "timeline": "i_monthend", "kind": "type_confusion", "client": "wallet-app", "at": 0.5, "dur": 2.5,
     "token": "refresh", "frac": 0.12, "detail": "old wallet-app version sends its refresh token to benefits-api"},
    {"id": "M6", "timeline": "i_monthend", "kind": "issuer_stalled", "issuer": "idp", "at": 11.0, "dur": 0.42,
     "detail": "citizen IdP token endpoint down 25 min in the early morning"},
    {"id": "M7", "timeline": "i_monthend", "kind": "kid_before_publish", "issuer": "broker", "at": 9.0, "dur": 0.33,
     "detail": "broker signs with a new key 20 min before publishing it, at night (few requests)"},
    {"id": "L1", "timeline": "i_release", "kind": "audience_misconfig", "api": "vehicle-reg-api", "at": 3.25,
     "dur": 0.62, "wrong_aud": "https://api.vehicles.test.gov.example",
     "detail": "vehicle-reg-api v5.3 rolled out with the staging audience, rolled back after ~37 min"},
    {"id": "L2", "timeline": "i_release", "kind": "server_clock_skew", "api": "health-records-api", "replica": 1,
     "at": 5.0, "dur": 5.0, "skew": ("const", -75.0),
     "detail": "health-records replica 1 clock 75 s behind (NTP lost after host migration), leeway 0"},
    {"id": "L3", "timeline": "i_release", "kind": "clock_skew", "client": "kiosk-south", "at": 1.17, "dur": 3.5,
     "skew": ("const", -1500.0), "frac": 0.35,
     "detail": "kiosks of one office booted 25 min behind after a power cut, no NTP"},
    {"id": "L4", "timeline": "i_release", "kind": "key_removed_early", "issuer": "idp", "at": 6.0,
     "detail": "IdP switched signing and removed the old key 2 min later (runbook step skipped)"},
    {"id": "L5", "timeline": "i_release", "kind": "signature_spike", "issuer": "broker", "at": 8.5, "dur": 0.33,
     "frac": 1.0, "detail": "broker key material replaced under the same kid after an HSM swap"},
    {"id": "L6", "timeline": "i_release", "kind": "attack_burst", "at": 7.0, "dur": 0.5, "rate": 60,
     "apis": PUBLIC_APIS, "mix": ["alg_none", "random_kid", "no_client", "truncated", "huge", "hs256_pub",
                                  "tampered", "expired_years"],
     "detail": "unannounced pentest: token fuzzing against every public API"},
    {"id": "L7", "timeline": "i_release", "kind": "issuer_stalled", "issuer": "idp", "at": 9.67, "dur": 0.33,
     "detail": "citizen IdP token endpoint down 20 min in the afternoon"},
]

SCANNER_MIX = ["alg_none", "random_kid", "no_client", "tampered", "truncated", "huge", "hs256_pub", "expired_years"]


# ------------------------------------------------------------------------------------------------- traffic shapes
def _office(h):
    if h < 7 or h >= 18.5:
        return 0.0
    if h < 9:
        return (h - 7) / 2
    if h < 12:
        return 1.0
    if h < 13:
        return 0.65
    if h < 16.5:
        return 0.95
    return 0.95 * (18.5 - h) / 2


def _intensity(cls, t, tl):
    dt = datetime.fromtimestamp(t, UTC)
    h = dt.hour + dt.minute / 60
    dow = dt.weekday()
    day = [1.3, 1.0, 1.0, 1.0, 0.9, 0.45, 0.4][dow]
    off = _office(h)
    if cls in ("citizen", "muni"):
        v = 0.03 + 0.9 * off + (0.45 if 18 <= h < 22 else 0.2 if 22 <= h < 23.5 else 0.0)
        v *= day if dow < 5 else day * 1.4
        if tl.get("deadline") and cls == "citizen":
            v *= 2.0 + (3.0 if h >= 18 else 0.0)
        if tl.get("monthend"):
            v *= 1.3
        return v
    if cls == "kiosk":
        return (0.0 if (h < 8 or h >= 16) else 1.0 * off + 0.05) * (1.0 if dow < 5 else 0.3 if dow == 5 else 0.0)
    if cls == "intermediary":
        v = 0.02 + off * day + (0.1 if 17 <= h < 20 else 0.0)
        if tl.get("deadline"):  # accountants file for their clients until midnight
            v = (v + (0.9 if h >= 17 else 0.0)) * 2.5
        return v
    if cls == "staff":
        return (0.01 + off) * (1.0 if dow < 5 else 0.04)
    if cls == "batch":
        v = 0.08 + (1.0 if 1 <= h < 5 else 0.0)
        if tl.get("monthend") and (h >= 20 or h < 4):
            v += 1.6
        return v
    raise ValueError(cls)


SHARES = {"citizen": 0.45, "kiosk": 0.05, "intermediary": 0.2, "muni": 0.11, "staff": 0.08, "batch": 0.11}
REQ_PER_ARRIVAL = {"citizen": 5.5, "kiosk": 4.0, "intermediary": 8.0, "muni": 5.5, "staff": 30.0, "batch": 40.0}


# ----------------------------------------------------------------------------------------------------- the plan
class Plan:
    """Everything one timeline needs: keys, key schedules, token specs, requests per replica, incident windows."""

    def __init__(self, name, seed, scale):
        self.name = name
        self.tl = TIMELINES[name]
        self.seed = seed
        self.rng = random.Random(seed)
        self.t0 = self.tl["start"]
        self.t1 = self.t0 + self.tl["hours"] * H
        self.incidents = [dict(i) for i in INCIDENTS if i["timeline"] == name]
        for inc in self.incidents:
            inc["ws"] = self.t0 + inc["at"] * H
            inc["we"] = inc["ws"] + inc.get("dur", 0.0) * H
        self.scale = scale
        self.tokens = []  # specs
        self.reqs = {}  # (api, replica) -> list of [t, token index, tags]
        self.changes = {}  # (api, replica) -> list of (t, overrides) (restarts, deploys)
        self.skews = {}  # (api, replica) -> list of (ws, we, skew)
        self.outages = {}  # issuer -> list of (ws, we, mode)
        self.stalls = {}  # issuer -> list of (ws, we)
        self.windows = []  # (inc id, field, value, ws, we): request-level tags
        self.issuer_skew = {}  # issuer -> list of (ws, we, skew, inc id)
        self.spikes = {}  # issuer -> list of (ws, we, frac, inc id)
        self.fp_key = hashlib.sha256(f"fleet66-{seed}".encode()).hexdigest()
        self._keys()
        self._incident_effects()
        self._background_ops()
        self._traffic()

    # ----------------------------------------------------------------------- keys
    def _keys(self):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        def new(alg):
            if alg == "RS256":
                return rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return ec.generate_private_key(ec.SECP256R1())

        self.keys = {}  # issuer -> list of dicts {kid, priv, rogue, sign_from, sign_to, pub_from, pub_to}
        month = datetime.fromtimestamp(self.t0, UTC).strftime("%Y-%m")
        for name, info in ISSUERS.items():
            cur = {"kid": f"{name}-{month}-a", "priv": new(info["alg"]), "rogue": new(info["alg"]),
                   "sign_from": -math.inf, "sign_to": math.inf, "pub_from": -math.inf, "pub_to": math.inf}
            self.keys[name] = [cur]
        rot = self.tl.get("rotation")
        if rot:  # healthy: publish, then sign hours later, then remove long after the last token expired
            iss, pub, sign, remove = rot
            self._rotate(iss, self.t0 + pub * H, self.t0 + sign * H, self.t0 + remove * H)
        for inc in self.incidents:
            k = inc["kind"]
            if k == "kid_before_publish":
                self._rotate(inc["issuer"], inc["we"], inc["ws"], math.inf)
                inc["kid"] = self.keys[inc["issuer"]][-1]["kid"]
            elif k == "key_removed_early":
                sign = inc["ws"] - (2 * M if inc["issuer"] == "idp" else 0.0)
                inc["kid"] = self.keys[inc["issuer"]][-1]["kid"]
                self._rotate(inc["issuer"], sign, sign, inc["ws"])
        self.attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def _rotate(self, iss, pub, sign, remove):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        alg = ISSUERS[iss]["alg"]

        def new():
            if alg == "RS256":
                return rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return ec.generate_private_key(ec.SECP256R1())

        old = self.keys[iss][-1]
        old["sign_to"] = sign
        old["pub_to"] = remove
        self.keys[iss].append({"kid": f"{iss}-{int(sign) % 10_000_000:07d}-b", "priv": new(), "rogue": new(),
                               "sign_from": sign, "sign_to": math.inf, "pub_from": pub, "pub_to": math.inf})

    def signing_key(self, iss, t):
        for k in self.keys[iss]:
            if k["sign_from"] <= t < k["sign_to"]:
                return k
        return self.keys[iss][-1]

    # ----------------------------------------------------------------------- incident effects and background ops
    def _incident_effects(self):
        for inc in self.incidents:
            k, iid = inc["kind"], inc["id"]
            if k == "jwks_outage":
                self.outages.setdefault(inc["issuer"], []).append((inc["ws"], inc["we"], inc["mode"]))
                self.windows.append((iid, "issuer", inc["issuer"], inc["ws"], inc["we"] + 300))
                for api, at in inc.get("restarts", []):
                    for r in range(APIS[api]["replicas"]):
                        self.changes.setdefault((api, r), []).append((self.t0 + at * H + r * 150, {}))
            elif k == "issuer_stalled":
                self.stalls.setdefault(inc["issuer"], []).append((inc["ws"], inc["we"]))
                self.windows.append((iid, "issuer", inc["issuer"], inc["ws"], inc["we"] + 900))
            elif k == "clock_skew":
                self.windows.append((iid, "client", inc["client"], inc["ws"], inc["we"] + 900))
            elif k == "server_clock_skew" and "api" in inc:
                key = (inc["api"], inc["replica"])
                self.skews.setdefault(key, []).append((inc["ws"], inc["we"], inc["skew"]))
                self.windows.append((iid, "replica", key, inc["ws"], inc["we"]))
            elif k == "server_clock_skew":
                self.issuer_skew.setdefault(inc["issuer"], []).append((inc["ws"], inc["we"], inc["skew"], iid))
            elif k == "signature_spike":
                self.spikes.setdefault(inc["issuer"], []).append((inc["ws"], inc["we"], inc["frac"], iid))
            elif k == "audience_misconfig" and "api" in inc:
                api = inc["api"]
                for r in range(APIS[api]["replicas"]):
                    on, off = inc["ws"] + r * 170, inc["we"] + r * 110
                    self.changes.setdefault((api, r), []).extend([(on, {"aud": inc["wrong_aud"]}), (off, {})])
                    self.windows.append((iid, "replica", (api, r), on, off))

    def _background_ops(self):
        rng = self.rng
        for api, cfg in APIS.items():  # one rolling deploy per API on some days, and rare crashes
            if rng.random() < 0.5:
                at = self.t0 + rng.uniform(0.1, 0.9) * (self.t1 - self.t0)
                for r in range(cfg["replicas"]):
                    self.changes.setdefault((api, r), []).append((at + r * rng.uniform(90, 240), {}))
            for r in range(cfg["replicas"]):
                if rng.random() < 0.25:
                    self.changes.setdefault((api, r), []).append((rng.uniform(self.t0, self.t1), {}))
        for iss, at, secs, mode in self.tl.get("blips", []):
            ws = self.t0 + at * H
            self.outages.setdefault(iss, []).append((ws, ws + secs, mode))
        for k in self.changes:
            self.changes[k].sort(key=lambda c: c[0])

    # ----------------------------------------------------------------------- helpers
    def stalled(self, iss, t):
        return any(a <= t < b for a, b in self.stalls.get(iss, ()))

    def replicas(self, api, t):
        n = APIS[api]["replicas"]
        if api == "tax-filing-api" and self.tl.get("deadline"):
            h = datetime.fromtimestamp(t, UTC).hour
            if h >= 17:
                n += 2  # autoscaled for the deadline evening
        return n

    def emit(self, t, api, tok, client, tags=()):
        if t < self.t0 or t >= self.t1:
            return
        maint = self.tl.get("maintenance")
        if maint and api == maint[0] and self.t0 + maint[1] * H <= t < self.t0 + maint[2] * H:
            return
        r = self.rng.randrange(self.replicas(api, t))
        tags = list(tags)
        spec = self.tokens[tok]
        if spec.get("tags") and t <= spec.get("exp", math.inf) + 900:
            tags.extend(spec["tags"])
        iss = spec.get("issuer")
        for iid, field, value, ws, we in self.windows:
            if ws <= t < we:
                if (field == "issuer" and value == iss) or (field == "client" and value == client) or (
                        field == "replica" and value == (api, r)):
                    tags.append(iid)
        self.reqs.setdefault((api, r), []).append([t, tok, tuple(sorted(set(tags)))])

    def issue(self, iss, t, sub, aud, client, lifetime, clock=None, typ=None, extra=None, tags=()):
        """A token issued at true time ``t`` (None if the issuer's token endpoint is down)."""
        if self.stalled(iss, t):
            return None
        info = ISSUERS[iss]
        tags = list(tags)
        stamp = t if clock is None else clock(t)
        for ws, we, skew, iid in self.issuer_skew.get(iss, ()):
            if ws <= t < we:
                stamp += _skew_at(skew, ws, we, t)
                tags.append(iid)
        key = self.signing_key(iss, t)
        rogue = False
        for ws, we, frac, iid in self.spikes.get(iss, ()):
            if ws <= t < we and self.rng.random() < frac:
                rogue = True
                tags.append(iid)
        for inc in self.incidents:
            if inc.get("issuer") != iss:
                continue
            if inc["kind"] == "kid_before_publish" and key["sign_from"] == inc["ws"] and t < inc["we"] + 600:
                tags.append(inc["id"])
            elif inc["kind"] == "key_removed_early" and key["pub_to"] == inc["ws"]:
                if stamp + lifetime > inc["ws"]:
                    tags.append(inc["id"])
        iat = int(stamp)
        claims = {"iss": info["iss"], "sub": sub, "aud": aud, "iat": iat, "nbf": iat, "exp": iat + int(lifetime),
                  "jti": f"{self.rng.getrandbits(64):016x}"}
        if client:
            claims["client_id"] = client
        if extra:
            claims.update(extra)
        spec = {"issuer": iss, "kid": key["kid"], "rogue": rogue, "typ": typ or info["typ"], "claims": claims,
                "exp": claims["exp"], "tags": tags, "t": t}
        self.tokens.append(spec)
        return len(self.tokens) - 1

    def garbage(self, kind, api):
        iss = self.rng.choice(APIS[api]["issuers"])
        self.tokens.append({"garbage": kind, "issuer": iss, "api": api, "seed": self.rng.getrandbits(32),
                            "t": None})
        return len(self.tokens) - 1

    def arrivals(self, cls):
        import numpy as np

        volume = self.tl["volume"] * self.scale * SHARES[cls] / REQ_PER_ARRIVAL[cls]
        minutes = int((self.t1 - self.t0) // M)
        w = [_intensity(cls, self.t0 + m * M + 30, self.tl) for m in range(minutes)]
        total = sum(w) or 1.0
        nrng = np.random.default_rng(self.rng.getrandbits(32))
        counts = nrng.poisson([volume * x / total for x in w])
        out = []
        for m, c in enumerate(counts):
            for _ in range(int(c)):
                out.append(self.t0 + m * M + self.rng.random() * M)
        out.sort()
        return out

    # ----------------------------------------------------------------------- traffic
    def _session(self, times, api, iss, client, sub, lifetime, clock, policy, margin, extra=None,
                 typ=None, held=None, tags=()):
        """One client presenting tokens for ``times``; ``policy``: proactive (own clock) / lazy (after a 401)
        / sticky (own clock, never refreshes on a 401)."""
        leeway = APIS[api]["leeway"]
        aud = APIS[api]["aud"] if not extra or "aud" not in extra else extra["aud"]
        ex = {k: v for k, v in (extra or {}).items() if k != "aud"}
        tok = held
        if tok is not None and times and self.tokens[tok]["t"] > times[0]:
            tok = None  # (a token this device obtained later in a concurrent session: not yet in hand)
        for t in times:
            if tok is not None:
                exp = self.tokens[tok]["exp"]
                if policy != "lazy" and clock(t) >= exp - margin:
                    new = self.issue(iss, t, sub, aud, client, lifetime, clock if iss == "s2s" else None, typ, ex,
                                     tags)
                    tok = new if new is not None else tok
            else:
                tok = self.issue(iss, t, sub, aud, client, lifetime, clock if iss == "s2s" else None, typ, ex, tags)
                if tok is None:
                    continue
            self.emit(t, api, tok, client)
            exp = self.tokens[tok]["exp"]
            if t > exp + leeway and policy != "sticky":
                new = self.issue(iss, t + 0.4, sub, aud, client, lifetime, clock if iss == "s2s" else None, typ,
                                 ex, tags)
                if new is not None:
                    tok = new
                    self.emit(t + 0.6, api, tok, client)
                elif self.stalled(iss, t + 0.4):  # refresh failed: the client's retry middleware tries again
                    self.emit(t + 2.0, api, tok, client)
                    self.emit(t + 5.0, api, tok, client)
        return tok

    def _clock(self, kind):
        """A device clock: t -> what the device believes the time is."""
        rng = self.rng
        u = rng.random()
        if kind == "kiosk":
            if u < 0.2:
                off = rng.choice([-1, 1]) * rng.uniform(60, 600)
                return lambda t, o=off: t + o
            if u < 0.3:  # boots with a wrong clock until NTP, 5-20 min after opening
                off, fix = rng.uniform(-900, -120), rng.uniform(300, 1200)
                boot = self.t0
                return lambda t, o=off, f=fix, b=boot: t + (o if (t - b) % 86400 < 8 * H + f else 0.0)
        if kind == "server":  # NTP-synced hosts: sub-second, a few drifting by seconds
            off = rng.gauss(0, 0.3) + (rng.uniform(-8, 8) if u < 0.1 else 0.0)
            return lambda t, o=off: t + o
        if u < 0.05:
            off = rng.choice([-1, 1]) * rng.uniform(60, 900)
            return lambda t, o=off: t + o
        if u < 0.08:
            drift = rng.uniform(-4e-3, 4e-3)
            t0 = self.t0
            return lambda t, d=drift, a=t0: t + d * (t - a)
        off = rng.gauss(0, 2)
        return lambda t, o=off: t + o

    def _traffic(self):
        rng = self.rng
        inc_by_kind = {}
        for inc in self.incidents:
            inc_by_kind.setdefault(inc["kind"], []).append(inc)
        skewed_clients = {i["client"]: i for i in inc_by_kind.get("clock_skew", [])}
        confused = {i["client"]: i for i in inc_by_kind.get("type_confusion", [])}
        wrong_aud = {i["client"]: i for i in inc_by_kind.get("audience_misconfig", []) if "client" in i}

        def incident_clock(client, base, frac=1.0):
            inc = skewed_clients.get(client)
            if inc is None or rng.random() >= frac:
                return base
            return lambda t, b=base, i=inc: b(t) + (_skew_at(i["skew"], i["ws"], i["we"], t)
                                                   if i["ws"] <= t < i["we"] else 0.0)

        def times_from(t0, n, gap):
            out, t = [], t0
            for _ in range(n):
                out.append(t)
                t += rng.expovariate(1.0 / gap)
            return out

        # citizens: web, wallet app
        api_w = {"tax-filing-api": 0.32, "benefits-api": 0.3, "vehicle-reg-api": 0.16, "health-records-api": 0.22}
        if self.tl.get("deadline"):
            api_w["tax-filing-api"] = 1.4
        apis, weights = list(api_w), list(api_w.values())
        for t0 in self.arrivals("citizen"):
            client = "wallet-app" if rng.random() < 0.48 else "citizen-web"
            api = rng.choices(apis, weights)[0]
            n = min(1 + int(rng.expovariate(1 / 4.5)), 60)
            gap = 45.0 if client == "citizen-web" else 70.0
            clock = self._clock("device")
            lifetime = 600 if client == "citizen-web" else 900
            old_app = client == "wallet-app" and rng.random() < 0.25
            policy = "lazy" if old_app else "proactive"
            sub = f"citizen:{rng.randrange(4_000_000):07d}"
            held = None
            if client == "wallet-app" and rng.random() < 0.15:  # resumed app presenting what it held
                late = math.exp(rng.uniform(math.log(5), math.log(3 * 86400)))
                iat = t0 - late - lifetime
                if iat > self.t0 - 86400 * 4:
                    held = self.issue("idp", iat, sub, APIS[api]["aud"], client, lifetime)
            elif client == "citizen-web" and rng.random() < 0.05:  # a tab left open over lunch
                late = rng.uniform(30, 5400)
                held = self.issue("idp", t0 - late - lifetime, sub, APIS[api]["aud"], client, lifetime)
            conf = confused.get(client)
            if conf and conf["ws"] <= t0 < conf["we"] and rng.random() < conf.get("frac", 1.0):
                self._confused(conf, times_from(t0, n, gap), "benefits-api", sub, client)
                continue
            self._session(times_from(t0, n, gap), api, "idp", client, sub, lifetime, clock, policy, 60,
                          held=held, extra={"scope": "openid citizen"})
        # kiosks in public offices: each device holds its own client-credential token (10 min), refreshed by its
        # own clock only (the kiosk software never refreshes after a 401)
        streams = {}  # (client, instance, token key) -> dict(times, api, ...): one token holder each
        kiosks = {}
        for region in ("north", "south", "east"):
            client = f"kiosk-{region}"
            frac = skewed_clients.get(client, {}).get("frac", 1.0)
            for d in range(4):
                kiosks[(client, d)] = incident_clock(client, self._clock("kiosk"), frac)
        kk = list(kiosks)
        for t0 in self.arrivals("kiosk"):
            client, d = rng.choice(kk)
            api = rng.choice(["tax-filing-api", "benefits-api", "vehicle-reg-api"])
            n = min(2 + int(rng.expovariate(1 / 3)), 40)
            st = streams.setdefault((client, d, api), {
                "times": [], "api": api, "iss": "idp", "client": client, "sub": f"device:{client}-{d:02d}",
                "lifetime": 600, "clock": kiosks[(client, d)], "policy": "sticky", "margin": 30, "extra": None,
                "tags": ()})
            st["times"].extend(times_from(t0, n, 50.0))
        # intermediaries: client credentials, 60-min tokens, a few server instances each
        inter = [f"acct-{i:03d}" for i in range(1, 41)] + [f"bank-{i:02d}" for i in range(1, 7)]
        iw = [1.0 / (i + 1) ** 0.8 for i in range(40)] + [0.35] * 6  # banks: few, large
        iw[6] = 0.45  # acct-007: a large accountancy firm
        inst = {}
        for c in inter:
            for k in range(1 + (int(c[-2:]) % 3 if c.startswith("bank") else 0) + (1 if c == "acct-007" else 0)):
                inst[(c, k)] = {"clock": incident_clock(c, self._clock("server")),
                                "policy": "sticky" if c == "acct-007" else "lazy" if rng.random() < 0.3 else
                                "proactive"}
        ninst = {c: sum(1 for x in inst if x[0] == c) for c in inter}
        for t0 in self.arrivals("intermediary"):
            c = rng.choices(inter, iw)[0]
            k = rng.randrange(ninst[c])
            if c.startswith("bank"):
                api = "benefits-api" if rng.random() < (0.3 if self.tl.get("deadline") else 0.6) else "tax-filing-api"
            else:
                api = "tax-filing-api" if rng.random() < 0.9 else "benefits-api"
            extra = {"scope": "filing:submit" if api == "tax-filing-api" else "benefits:verify"}
            tags = ()
            wa = wrong_aud.get(c)
            if wa and wa["ws"] <= t0 < wa["we"] and api == wa["calls"]:
                extra["aud"] = wa["wrong_aud"]
                tags = (wa["id"],)
                key = api + "#wrong"
            else:
                key = api
            n = min(3 + int(rng.expovariate(1 / 5)), 100)
            st = streams.setdefault((c, k, key), {
                "times": [], "api": api, "iss": "idp", "client": c, "sub": f"client:{c}", "lifetime": 3600,
                "clock": inst[(c, k)]["clock"], "policy": inst[(c, k)]["policy"], "margin": 120, "extra": extra,
                "tags": tags, "restart": rng.random() < 0.3})
            st["times"].extend(times_from(t0, n, 6.0))
        # inter-agency batch, tokens minted by each host's agent with the host's clock
        svcs = ["svc-tax-batch", "svc-benefits-run", "svc-vehicle-sync", "svc-health-exchange", "svc-registry"]
        hosts = {}
        for sv in svcs:
            for k in range(3):
                hosts[(sv, k)] = incident_clock(sv, self._clock("server"))
        sw = [1.0, 2.0 if self.tl.get("monthend") else 1.0, 0.6, 0.8, 0.5]
        for t0 in self.arrivals("batch"):
            sv = rng.choices(svcs, sw)[0]
            k = rng.randrange(3)
            r = rng.random()
            api = "interagency-exchange" if r < 0.5 else "mainframe-gateway" if r < 0.8 else "tax-filing-api"
            n = min(10 + int(rng.expovariate(1 / 30)), 200)
            st = streams.setdefault((sv, k, api), {
                "times": [], "api": api, "iss": "s2s", "client": sv, "sub": f"spiffe://gov.example/{sv}",
                "lifetime": 300, "clock": hosts[(sv, k)], "policy": "proactive", "margin": 60, "extra": None,
                "tags": ()})
            st["times"].extend(times_from(t0, n, 2.0))
        for key in sorted(streams, key=str):
            st = streams[key]
            times = sorted(st["times"])
            args = (st["api"], st["iss"], st["client"], st["sub"], st["lifetime"], st["clock"])
            if st.get("restart") and len(times) > 20:
                # the service goes down for 1-4 h, comes back and first replays the token cached on disk
                cut = rng.randrange(5, len(times) - 5)
                down = rng.uniform(3600, 4 * 3600)
                first, rest = times[:cut], [t for t in times[cut:] if t > times[cut - 1] + down]
                tok = self._session(first, *args, st["policy"], st["margin"], extra=st["extra"], tags=st["tags"])
                if rest:
                    tok = self._session(rest[:1], *args, "lazy", st["margin"], extra=st["extra"], held=tok,
                                        tags=st["tags"])
                    self._session(rest[1:], *args, st["policy"], st["margin"], extra=st["extra"], held=tok,
                                  tags=st["tags"])
            else:
                self._session(times, *args, st["policy"], st["margin"], extra=st["extra"], tags=st["tags"])
        # municipal portals through the broker
        towns = ["riverton", "lakeside", "hillcrest", "brookfield", "stonebridge", "westmoor", "ashford", "kingsbury"]
        for t0 in self.arrivals("muni"):
            client = "muni-" + rng.choice(towns)
            r = rng.random()
            api = "municipal-services-api" if r < 0.65 else "benefits-api" if r < 0.85 else "vehicle-reg-api"
            n = min(1 + int(rng.expovariate(1 / 4.5)), 50)
            sub = f"citizen:{rng.randrange(4_000_000):07d}"
            conf = confused.get(client)
            if conf and conf["ws"] <= t0 < conf["we"]:
                self._confused(conf, times_from(t0, n, 55.0), api, sub, client, iss="broker")
                continue
            policy = "lazy" if rng.random() < 0.3 else "proactive"
            self._session(times_from(t0, n, 55.0), api, "broker", client, sub, 300, self._clock("device"), policy,
                          20)
        # staff
        staff_apps = ["tax-backoffice", "benefits-caseworker", "vehicle-counter", "health-clerk"]
        for t0 in self.arrivals("staff"):
            client = rng.choice(staff_apps)
            api = "staff-portal-api" if rng.random() < 0.6 else "mainframe-gateway"
            n = min(5 + int(rng.expovariate(1 / 25)), 150)
            self._session(times_from(t0, n, 60.0), api, "sso", client, f"staff:{rng.randrange(30000):05d}", 3600,
                          self._clock("device"), "proactive", 300)
        # scanners: 1-3 garbage tokens a minute
        t = self.t0
        for _ in range(int((self.t1 - self.t0) / 10) + 10):
            rate = 2.0 + math.sin((t - self.t0) / 5400.0)
            t += rng.expovariate(rate / 60.0)
            if t >= self.t1:
                break
            api = rng.choice(PUBLIC_APIS)
            self.emit(t, api, self.garbage(rng.choice(SCANNER_MIX), api), None)
        # attack bursts
        for inc in inc_by_kind.get("attack_burst", []):
            t = inc["ws"]
            for _ in range(int(inc["rate"] * inc["dur"] * 60 * 3) + 10):
                t += rng.expovariate(inc["rate"] / 60.0)
                if t >= inc["we"]:
                    break
                api = rng.choice(inc["apis"])
                self.emit(t, api, self.garbage(rng.choice(inc["mix"]), api), None, tags=(inc["id"],))

    def _confused(self, inc, times, api, sub, client, iss="idp"):
        """A client sending an ID token (or its refresh token) as the bearer token."""
        if inc["token"] == "id":
            tok = self.issue(iss, times[0], sub, client, None, 300, typ="JWT",
                             extra={"nonce": f"{self.rng.getrandbits(48):012x}", "at_hash": "x" * 22},
                             tags=(inc["id"],))
        else:
            tok = self.issue(iss, times[0] - self.rng.uniform(0, 86400), sub, ISSUERS[iss]["iss"], client,
                             30 * 86400, typ="refresh+jwt", extra={"token_use": "refresh"}, tags=(inc["id"],))
        if tok is None:
            return
        for t in times:
            self.emit(t, api, tok, client)


def _skew_at(skew, ws, we, t):
    if skew[0] == "const":
        return skew[1]
    a, b = skew[1], skew[2]
    return a + (b - a) * min(max((t - ws) / max(we - ws, 1.0), 0.0), 1.0)


# ------------------------------------------------------------------------------------------------------ signing
_PLAN = None
_SIGNED = None


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign_spec(spec, plan):
    import jwt
    from cryptography.hazmat.primitives import serialization

    if "garbage" in spec:
        return _garbage(spec, plan)
    keys = {k["kid"]: k for k in plan.keys[spec["issuer"]]}
    k = keys[spec["kid"]]
    priv = k["rogue"] if spec["rogue"] else k["priv"]
    _ = serialization
    return jwt.encode(spec["claims"], priv, algorithm=ISSUERS[spec["issuer"]]["alg"],
                      headers={"kid": spec["kid"], "typ": spec["typ"]})


def _garbage(spec, plan):
    import jwt
    from cryptography.hazmat.primitives import serialization

    rng = random.Random(spec["seed"])
    kind, iss = spec["garbage"], spec["issuer"]
    info = ISSUERS[iss]
    now = int(plan.t0 + rng.uniform(0, plan.t1 - plan.t0))
    aud = APIS[spec["api"]]["aud"]
    claims = {"iss": info["iss"], "sub": f"citizen:{rng.randrange(4_000_000):07d}", "aud": aud, "iat": now,
              "exp": now + 900, "client_id": "citizen-web", "scope": "openid citizen"}
    real = plan.signing_key(iss, now)
    if kind == "alg_none":
        claims["role"] = "admin"
        return _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
    if kind == "random_kid":
        return jwt.encode(claims, plan.attacker, algorithm="RS256",
                          headers={"kid": f"{rng.getrandbits(32):08x}", "typ": "at+jwt"})
    if kind == "no_client":
        del claims["client_id"]
        return jwt.encode(claims, plan.attacker, algorithm="RS256", headers={"kid": real["kid"], "typ": "JWT"})
    if kind in ("tampered", "truncated", "huge"):
        tok = jwt.encode(claims, real["priv"], algorithm=info["alg"], headers={"kid": real["kid"], "typ": info["typ"]})
        h, _p, s = tok.split(".")
        if kind == "tampered":
            claims["sub"] = f"citizen:{rng.randrange(4_000_000):07d}"
            claims["refund_account"] = f"NO{rng.randrange(10**13):013d}"
            return h + "." + _b64(json.dumps(claims).encode()) + "." + s
        if kind == "truncated":
            return tok[: rng.randrange(20, len(tok) - 5)]
        claims["pad"] = "A" * rng.randrange(70_000, 90_000)
        return h + "." + _b64(json.dumps(claims).encode()) + "." + s
    if kind == "hs256_pub":
        pem = real["priv"].public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": real["kid"]}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = hmac.new(pem, (head + "." + body).encode(), hashlib.sha256).digest()
        return head + "." + body + "." + _b64(sig)
    if kind == "expired_years":
        claims["iat"] = now - rng.randrange(2, 6) * 365 * 86400
        claims["exp"] = claims["iat"] + 3600
        return jwt.encode(claims, real["priv"], algorithm=info["alg"], headers={"kid": real["kid"], "typ": info["typ"]})
    raise ValueError(kind)


def _sign_range(bounds):
    a, b = bounds
    return [_sign_spec(_PLAN.tokens[i], _PLAN) for i in range(a, b)]


# ------------------------------------------------------------------------------------------------ JWKS server
def _jwk(k):
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    pub = k["priv"].public_key()
    if hasattr(pub, "curve"):
        d = ECAlgorithm.to_jwk(pub, as_dict=True)
        d["alg"] = "ES256"
    else:
        d = RSAAlgorithm.to_jwk(pub, as_dict=True)
        d["alg"] = "RS256"
    d["kid"] = k["kid"]
    d["use"] = "sig"
    return d


def _serve(plan):
    jwks = {iss: [(k["pub_from"], k["pub_to"], _jwk(k)) for k in ks] for iss, ks in plan.keys.items()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            iss = self.path.strip("/").split("/")[0]
            now = time.time()
            for ws, we, mode in plan.outages.get(iss, ()):
                if ws <= now < we:
                    if mode == "reset":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            if iss not in jwks:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"keys": [j for a, b, j in jwks[iss] if a <= now < b]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=300")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


# ------------------------------------------------------------------------------------------------- validators
class AppJwks:
    """The app's own key-set cache (for the jose / joserfc / authlib / jwcrypto services): TTL in the process's
    clock, one refresh per cooldown on an unknown kid, last-known-good kept when a fetch fails."""

    def __init__(self, url, convert, ttl=300.0, cooldown=30.0):
        self.url, self.convert, self.ttl, self.cooldown = url, convert, ttl, cooldown
        self.doc, self.obj, self.kids, self.fetched, self.last_try = None, None, set(), -math.inf, -math.inf

    def _fetch(self):
        self.last_try = time.time()
        try:
            with urllib.request.urlopen(self.url, timeout=3) as resp:
                doc = json.loads(resp.read())
        except Exception:
            if self.doc is None:
                raise
            return
        self.doc, self.obj = doc, self.convert(doc)
        self.kids = {k.get("kid") for k in doc.get("keys", [])}
        self.fetched = time.time()

    def get(self, kid):
        now = time.time()
        if self.doc is None or now - self.fetched > self.ttl:
            if self.doc is None or now - self.last_try > self.cooldown:
                self._fetch()
        elif kid not in self.kids and now - self.last_try > self.cooldown:
            self._fetch()
        return self.obj


def _build(api, base, aud_override=None):
    import jwtobs

    cfg = APIS[api]
    aud = aud_override or cfg["aud"]
    leeway = cfg["leeway"]
    kind = cfg["kind"]
    urls = {ISSUERS[i]["iss"]: f"{base}/{i}/jwks.json" for i in cfg["issuers"]}
    algs = {ISSUERS[i]["iss"]: ISSUERS[i]["alg"] for i in cfg["issuers"]}
    if kind in ("verifier", "verifierset"):
        verifiers = []
        for i in cfg["issuers"]:
            info = ISSUERS[i]
            prof = jwtobs.Profile(name=api, issuer=info["iss"], audience=aud, algorithms=(info["alg"],),
                                  token_type="at+jwt" if info["typ"] == "at+jwt" else None, leeway=leeway)
            src = jwtobs.JwksSource(urls[info["iss"]], issuer=info["iss"], clock=time.time, cooldown=30.0,
                                    timeout=3.0)
            verifiers.append(jwtobs.Verifier(prof, keys=src, backend=cfg["backend"]))
        if len(verifiers) == 1:
            return verifiers[0].verify
        return jwtobs.VerifierSet(verifiers).verify
    if kind == "pyjwt":
        import jwt

        clients = {iss: jwt.PyJWKClient(u, lifespan=300, timeout=3) for iss, u in urls.items()}

        def validate(token):
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if iss not in clients:
                raise jwt.InvalidIssuerError("Invalid issuer")
            key = clients[iss].get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=[algs[iss]], audience=aud, issuer=iss, leeway=leeway,
                              options={"require": ["exp", "iss", "aud"]})

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if kind == "joserfc":
        from joserfc import jws, jwt
        from joserfc.errors import InvalidClaimError
        from joserfc.jwk import KeySet

        caches = {iss: AppJwks(u, KeySet.import_key_set) for iss, u in urls.items()}

        def validate(token):
            obj = jws.extract_compact(token.encode() if isinstance(token, str) else token)
            iss = json.loads(obj.payload).get("iss")
            if iss not in caches:
                raise InvalidClaimError("iss")
            keys = caches[iss].get(obj.headers().get("kid"))
            tok = jwt.decode(token, keys, algorithms=[algs[iss]])
            jwt.JWTClaimsRegistry(leeway=leeway, iss={"essential": True, "value": iss},
                                  aud={"essential": True, "value": aud}, exp={"essential": True}).validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if kind == "authlib":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, jwt
        (iss, url), = urls.items()
        cache = AppJwks(url, JsonWebKey.import_key_set)

        def validate(token):
            head = token.split(".")[0] if isinstance(token, str) else ""
            try:
                kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid")
            except Exception:
                kid = None
            claims = jwt.decode(token, cache.get(kid), claims_options={"iss": {"essential": True, "value": iss},
                                                                       "aud": {"essential": True, "value": aud},
                                                                       "exp": {"essential": True}})
            claims.validate(leeway=leeway)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "jose":
        from jose import jwt

        caches = {iss: AppJwks(u, lambda d: d, ttl=3600.0, cooldown=300.0) for iss, u in urls.items()}

        def validate(token):
            iss = jwt.get_unverified_claims(token).get("iss")
            if iss not in caches:
                raise jwt.JWTClaimsError("Invalid issuer")
            kid = jwt.get_unverified_header(token).get("kid")
            return jwt.decode(token, caches[iss].get(kid), algorithms=[algs[iss]], audience=aud, issuer=iss,
                              options={"leeway": leeway})

        return jwtobs.wrap(validate, library="jose", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk
        from jwcrypto import jwt as jjwt

        (iss, url), = urls.items()
        cache = AppJwks(url, lambda d: jwk.JWKSet.from_json(json.dumps(d)))

        def validate(token):
            head = token.split(".")[0] if isinstance(token, str) else ""
            try:
                kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid")
            except Exception:
                kid = None
            t = jjwt.JWT(algs=[algs[iss]], check_claims={"iss": iss, "aud": aud, "exp": None})
            t.leeway = leeway
            t.deserialize(token, cache.get(kid))
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


def _sim_time_for_pyjwt():
    """PyJWKClient's cache and cooldown read time.monotonic, which time_machine leaves alone: give them the
    (simulated) process clock, as a long-running process would see it."""
    import jwt.api_jwk as c0
    import jwt.jwk_set_cache as c1
    import jwt.jwks_client as c2

    shim = types.SimpleNamespace(monotonic=lambda: time.time(), time=lambda: time.time())
    c0.time = shim
    c1.time = shim
    c2.time = shim


def _run_replica(task):
    import time_machine

    import jwtobs

    api, rep, out_dir = task
    plan = _PLAN
    reqs = plan.reqs[(api, rep)]
    path = os.path.join(out_dir, f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(events_path=path, service=api, fingerprint_key=plan.fp_key, defer=False)
    _sim_time_for_pyjwt()
    srv, base = _serve(plan)
    changes = list(plan.changes.get((api, rep), ()))
    skews = plan.skews.get((api, rep), ())
    ci = 0
    overrides = {}
    try:
        with time_machine.travel(reqs[0][0], tick=False) as traveller:
            validator = None
            for t, tok, _tags in reqs:
                while ci < len(changes) and changes[ci][0] <= t:
                    overrides = changes[ci][1]
                    validator = None  # restart: a new process, cold caches
                    ci += 1
                off = 0.0
                for ws, we, sk in skews:
                    if ws <= t < we:
                        off = _skew_at(sk, ws, we, t)
                traveller.move_to(t + off)
                if validator is None:
                    validator = _build(api, base, overrides.get("aud"))
                try:
                    validator(_SIGNED[tok])
                except Exception:  # rejections are the point
                    pass
        jwtobs.flush()
    finally:
        srv.shutdown()
        srv.server_close()
    # read back, match by order
    events = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if "event" in rec:
                continue
            events.append(rec)
    result = {"api": api, "replica": rep, "requests": len(reqs), "events": len(events), "reasons": {},
              "rejections": 0, "counted": {}}
    if len(events) != len(reqs):
        result["mismatch"] = True
        return result
    kinds = {i["id"]: i["kind"] for i in plan.incidents}
    for (_t, _tok, tags), ev in zip(reqs, events, strict=True):
        if ev["outcome"] != "rejected":
            continue
        result["rejections"] += 1
        result["reasons"][ev["reason"]] = result["reasons"].get(ev["reason"], 0) + 1
        for iid in tags:
            ok = REASONS_OF[kinds[iid]]
            if ok is None or ev["reason"] in ok:
                c = result["counted"].setdefault(iid, [0, None, None, None, None])
                c[0] += 1
                if c[1] is None or ev["time"] < c[1]:
                    c[1] = ev["time"]
                if c[2] is None or ev["time"] > c[2]:
                    c[2] = ev["time"]
                c[3] = c[3] or ev.get("kid")
    return result


# ---------------------------------------------------------------------------------------------------- driver
def _iso(t):
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _preload():
    """Import what the replicas use before forking, so each replica process starts warm."""
    import warnings

    import jwt  # noqa: F401
    import time_machine  # noqa: F401
    from jose import jwt as _jose  # noqa: F401
    from joserfc import jwt as _joserfc  # noqa: F401
    from jwcrypto import jwt as _jwcrypto  # noqa: F401

    import jwtobs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.jose import jwt as _authlib  # noqa: F401

        from jwtobs import backends

        for b in ("pyjwt", "authlib", "python-jose", "joserfc", "jwcrypto"):
            backends.get(b)
    _ = jwtobs


def generate(name, out, seed, scale, workers):
    global _PLAN, _SIGNED
    _preload()
    wall = time.time()
    plan = Plan(name, seed, scale)
    for k in plan.reqs:
        plan.reqs[k].sort(key=lambda r: r[0])
    _PLAN = plan
    ctx = multiprocessing.get_context("fork")
    n = len(plan.tokens)
    step = max(1, n // (workers * 8) + 1)
    with ctx.Pool(workers) as pool:
        signed = []
        for part in pool.map(_sign_range, [(a, min(a + step, n)) for a in range(0, n, step)]):
            signed.extend(part)
    _SIGNED = signed
    ev_dir = os.path.join(out, name, "events")
    os.makedirs(ev_dir, exist_ok=True)
    for f in os.listdir(ev_dir):
        os.remove(os.path.join(ev_dir, f))
    tasks = sorted(plan.reqs, key=lambda k: -len(plan.reqs[k]))
    with ctx.Pool(workers, maxtasksperchild=1) as pool:
        results = pool.map(_run_replica, [(a, r, ev_dir) for a, r in tasks], chunksize=1)
    validations = sum(r["events"] for r in results)
    rejections = sum(r["rejections"] for r in results)
    reasons = {}
    counted = {}
    for r in results:
        for k, v in r["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
        for iid, (c, a, b, kid, _) in r["counted"].items():
            cur = counted.setdefault(iid, [0, None, None, None])
            cur[0] += c
            cur[1] = a if cur[1] is None or a < cur[1] else cur[1]
            cur[2] = b if cur[2] is None or b > cur[2] else cur[2]
            cur[3] = cur[3] or kid
    labels = []
    missing = []
    for inc in plan.incidents:
        k = inc["kind"]
        c = counted.get(inc["id"])
        if not c or c[0] == 0:
            missing.append(inc["id"])
            continue
        iss = inc.get("issuer")
        kid = None
        if k in ("kid_before_publish", "key_removed_early"):
            kid = inc["kid"]
        elif k == "signature_spike":
            kid = plan.signing_key(iss, inc["ws"])["kid"]
        profile = inc.get("api") if k in ("audience_misconfig", "server_clock_skew") else None
        client = inc.get("client") if k in ("clock_skew", "audience_misconfig", "type_confusion") else None
        labels.append({"id": inc["id"], "kind": k, "start": c[1], "end": c[2], "count": c[0],
                       "issuer": ISSUERS[iss]["iss"] if iss else None, "kid": kid, "client_id": client,
                       "profile": profile, "detail": inc["detail"]})
    doc = {"timeline": name, "quiet": plan.tl["quiet"], "seed": seed, "start": _iso(plan.t0), "end": _iso(plan.t1),
           "generator": GENERATOR, "incidents": labels}
    with open(os.path.join(out, name, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1)
    summary = {"timeline": name, "validations": validations, "requests": sum(r["requests"] for r in results),
               "rejections": rejections, "rejection_rate": round(rejections / max(validations, 1), 5),
               "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
               "incidents_injected": [i["id"] for i in plan.incidents], "incidents_labelled": [x["id"] for x in labels],
               "injected_without_counted_rejection": missing, "tokens_signed": len(plan.tokens),
               "replica_files": len(results), "mismatched_files": [f"{r['api']}-{r['replica']}" for r in results
                                                                    if r.get("mismatch")],
               "wall_seconds": round(time.time() - wall, 1)}
    with open(os.path.join(out, name, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
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
    ap.add_argument("--seed-base", type=int, default=6600)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n!r}")
    if not args.score_only:
        t = time.time()
        for n in names:
            s = generate(n, args.out, args.seed_base + 101 * list(TIMELINES).index(n), args.scale, args.workers)
            print(f"{n}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, labelled "
                  f"{s['incidents_labelled']}, missing {s['injected_without_counted_rejection']}, "
                  f"{s['wall_seconds']} s", flush=True)
        print(f"total wall time {time.time() - t:.1f} s")
    if args.score or args.score_only:
        print(json.dumps(_score(args.out, names), indent=1, default=str))


if __name__ == "__main__":
    main()
