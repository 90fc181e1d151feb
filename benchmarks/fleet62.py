"""fleet62: a blind benchmark fleet for jwtobs's incident detectors - a CI/CD and artifact SaaS.

Design note
===========

The platform ("devplat") serves CI runs, Kubernetes workloads of its customers, developers' laptops, enterprise
users and partner systems. Every event below is written by jwtobs itself, from a real validation of a real token
signed at run time (PyJWT, deterministic ECDSA where the issuer uses ES256, so a token presented to several
replicas is the same string everywhere), against key sets served by a real ``http.server`` on 127.0.0.1 whose
answers follow the simulated time (``time_machine``).

Issuers (each its own key set, key schedule and clock)
------------------------------------------------------
- ``https://token.actions.devplat.example`` (``ci``): workflow OIDC tokens, ES256, 5-10 min lifetimes, ``typ``
  JWT, ``azp`` = the customer organisation. Rotates keys with a 2 h publication overlap.
- ``https://oidc.<cluster>.k8s.devplat.example`` (``k8s-<cluster>``, six customer clusters): projected service
  account tokens, RS256, 1 h, refreshed by the kubelet at 80 %; cluster upgrades rotate the key.
- ``https://sts.cloudfed.example`` (``wif``): cloud workload-identity federation, RS256, 1 h.
- ``https://keys.devplat.example/deploy-keys`` (``deploykeys``): build-farm agents self-sign 5 min registry pull
  tokens with their deploy key (their own clock stamps ``iat``/``nbf``/``exp``), ES256, one kid per farm.
- ``https://auth.devplat.example`` (``cli``): device-flow access tokens of the CLI and IDE plugins, ES256, 1 h,
  ``typ`` at+jwt; laptops sleep, wake, roam on VPNs.
- ``https://sso.<tenant>.example`` (``sso-<tenant>``, five enterprise tenants, one IdP each): RS256, 1 h, at+jwt.
- ``https://hooks.partner-scm.example`` (``hooks``): webhook deliveries signed as JWTs, ES256, 5 min, one token
  per delivery, re-sent unchanged by the sender's retry schedule (1 min, 5 min, 30 min, 2 h).

APIs (one events file per replica; service = profile = the API name)
--------------------------------------------------------------------
=================  ======================================================  ======  ========
API                validator                                               leeway  replicas
=================  ======================================================  ======  ========
artifacts-api      ``jwtobs.VerifierSet`` (pyjwt backend) + ``JwksSource``   30 s    3 (#2 autoscaled)
registry-api       ``jwtobs.wrap`` around PyJWT + ``PyJWKClient``            0 s     3
deploy-api         ``jwtobs.wrap`` around python-jose                        60 s    2
console-api        ``jwtobs.wrap`` around joserfc decode + JWTClaimsRegistry 120 s   2
webhooks-ingest    ``jwtobs.wrap`` around Authlib decode + validate          10 s    2
secrets-api        ``jwtobs.wrap`` around jwcrypto ``JWT``                   45 s    2
audit-api          ``jwtobs.VerifierSet``, joserfc/jwcrypto/authlib/jose     5 s     2
=================  ======================================================  ======  ========

The wrapped libraries take their keys from a ``jwtobs.JwksSource`` per issuer (so an outage is a 503
``JWT_JWKS_UNAVAILABLE``); the PyJWT API uses ``PyJWKClient`` with a 15 min lifespan on simulated time, which (as
in production) fails every request once its cache is older than the lifespan and the endpoint is down.

Background (every timeline)
---------------------------
Weekday working hours across APAC/EU/US, quieter weekends, a release day; CI cron bursts at the top of the hour,
matrix builds, retried jobs presenting the same token minutes later; kubelet refresh; laptops and SPAs resumed
after sleep that present their stale token once (lazy refresh after the 401); pods replaying a cached token after
a restart; partner webhook retries; device clocks (most within seconds, some minutes off, some drifting, some
booting wrong until NTP); internet scanners (1-3 garbage tokens a minute); healthy key rotations; JWKS blips
(short 503s and connection resets); rolling deploys, crashes and an autoscaled replica (cold caches).

Incidents (``INCIDENTS``): each kind of ``jwtobs/kinds.py`` 2-4 times across four 12 h timelines, see the list.
Labels follow the brief: a rejection counts for an incident when its request carries the incident's tag and the
reason is one the kind causes (``REASONS_OF``).
"""

from __future__ import annotations

import argparse
import base64
import bisect
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
import zlib
from datetime import UTC, datetime
from typing import ClassVar

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
TOKEN_TAG_TAIL = 900.0

CLUSTERS = ["c-eu-7", "c-us-3", "c-ap-2", "c-eu-1", "c-us-9", "c-sa-4"]
TENANTS = ["globex", "initech", "umbrella", "hooli", "stark"]

ISSUERS: dict[str, dict] = {
    "ci": {"iss": "https://token.actions.devplat.example", "alg": "ES256", "life": (300, 600), "typ": "JWT"},
    "wif": {"iss": "https://sts.cloudfed.example", "alg": "RS256", "life": (3600, 3600), "typ": "JWT"},
    "deploykeys": {"iss": "https://keys.devplat.example/deploy-keys", "alg": "ES256", "life": (300, 300), "typ": "JWT"},
    "cli": {"iss": "https://auth.devplat.example", "alg": "ES256", "life": (3600, 3600), "typ": "at+jwt"},
    "hooks": {"iss": "https://hooks.partner-scm.example", "alg": "ES256", "life": (300, 300), "typ": "JWT"},
}
for _c in CLUSTERS:
    ISSUERS[f"k8s-{_c}"] = {
        "iss": f"https://oidc.{_c}.k8s.devplat.example",
        "alg": "RS256",
        "life": (3600, 3600),
        "typ": "JWT",
    }
for _t in TENANTS:
    ISSUERS[f"sso-{_t}"] = {"iss": f"https://sso.{_t}.example", "alg": "RS256", "life": (3600, 3600), "typ": "at+jwt"}
K8S = [f"k8s-{c}" for c in CLUSTERS]
SSO = [f"sso-{t}" for t in TENANTS]

APIS: dict[str, dict] = {
    "artifacts-api": {
        "kind": "verifier",
        "backends": ["pyjwt"],
        "leeway": 30,
        "replicas": 3,
        "aud": "artifacts-api",
        "issuers": ["ci", "deploykeys", "wif", *K8S],
        "max_stale": 3600,
    },
    "registry-api": {
        "kind": "pyjwt",
        "leeway": 0,
        "replicas": 3,
        "aud": "registry",
        "issuers": ["deploykeys", "ci", *K8S],
        "max_stale": 0,
    },
    "deploy-api": {
        "kind": "jose",
        "leeway": 60,
        "replicas": 2,
        "aud": "deploy-api",
        "issuers": ["ci", "wif", *K8S],
        "max_stale": 1800,
    },
    "console-api": {
        "kind": "joserfc",
        "leeway": 120,
        "replicas": 2,
        "aud": "console-api",
        "issuers": ["cli", *SSO],
        "max_stale": 1800,
    },
    "webhooks-ingest": {
        "kind": "authlib",
        "leeway": 10,
        "replicas": 2,
        "aud": "webhooks-ingest",
        "issuers": ["hooks"],
        "max_stale": 1800,
    },
    "secrets-api": {
        "kind": "jwcrypto",
        "leeway": 45,
        "replicas": 2,
        "aud": "secrets-api",
        "issuers": ["ci", "wif", *K8S],
        "max_stale": 1800,
    },
    "audit-api": {
        "kind": "verifier",
        "backends": ["joserfc", "jwcrypto", "authlib", "python-jose"],
        "leeway": 5,
        "replicas": 2,
        "aud": "audit-api",
        "issuers": ["cli", *SSO],
        "max_stale": 900,
    },
}

TIMELINES: dict[str, dict] = {
    "quiet-mon": {"start": "2026-11-02T00:00:00Z", "hours": 24, "quiet": True, "n": 105_000},
    "quiet-release-tue": {"start": "2026-11-03T00:00:00Z", "hours": 24, "quiet": True, "n": 115_000, "release": True},
    "quiet-sat": {"start": "2026-11-07T00:00:00Z", "hours": 24, "quiet": True, "n": 80_000},
    "quiet-sun": {"start": "2026-11-08T00:00:00Z", "hours": 24, "quiet": True, "n": 80_000},
    "incident-wed": {"start": "2026-11-04T06:00:00Z", "hours": 12, "quiet": False, "n": 85_000},
    "incident-thu": {"start": "2026-11-05T06:00:00Z", "hours": 12, "quiet": False, "n": 85_000},
    "incident-fri": {"start": "2026-11-06T06:00:00Z", "hours": 12, "quiet": False, "n": 85_000, "release": True},
    "incident-mon": {"start": "2026-11-09T06:00:00Z", "hours": 12, "quiet": False, "n": 85_000},
}

# Incidents: at / dur in hours from the timeline's start. ``p`` holds the kind-specific parameters.
INCIDENTS: list[dict] = [
    # -- incident-wed
    {
        "id": "wed-kbp-globex",
        "timeline": "incident-wed",
        "kind": "kid_before_publish",
        "issuer": "sso-globex",
        "at": 3.2,
        "dur": 0.66,
        "detail": "tenant IdP rotated and signed with the new kid 40 min before publishing it",
    },
    {
        "id": "wed-outage-ci",
        "timeline": "incident-wed",
        "kind": "jwks_outage",
        "issuer": "ci",
        "at": 7.3,
        "dur": 1.15,
        "p": {"mode": "503", "restart": [("artifacts-api", 2), ("deploy-api", 1)]},
        "detail": "CI OIDC JWKS behind a broken CDN config: 503 for 70 min at the US morning peak",
    },
    {
        "id": "wed-skew-runner",
        "timeline": "incident-wed",
        "kind": "clock_skew",
        "client": "acme-corp",
        "at": 2.0,
        "dur": 5.0,
        "p": {"offset": -1080, "drift": 0, "devices": "self-hosted"},
        "detail": "self-hosted runner image with a broken RTC, 18 min behind: jobs reuse expired OIDC tokens",
    },
    {
        "id": "wed-srvskew-c-eu-7",
        "timeline": "incident-wed",
        "kind": "server_clock_skew",
        "issuer": "k8s-c-eu-7",
        "at": 4.0,
        "dur": 2.0,
        "p": {"offset": 420},
        "detail": "cluster control plane clock 7 min ahead: SA tokens stamped in the future",
    },
    {
        "id": "wed-typeconf-vscode",
        "timeline": "incident-wed",
        "kind": "type_confusion",
        "client": "devplat-vscode",
        "at": 5.0,
        "dur": 3.0,
        "p": {"what": "id", "share": 0.6},
        "detail": "IDE extension release sends the OIDC ID token instead of the access token",
    },
    {
        "id": "wed-attack-scrape",
        "timeline": "incident-wed",
        "kind": "attack_burst",
        "at": 9.08,
        "dur": 0.33,
        "p": {"rate": 60, "apis": ["artifacts-api", "registry-api"], "mix": "scrape"},
        "detail": "tokens scraped from public CI logs replayed and tampered, 60/min",
    },
    {
        "id": "wed-aud-deploy",
        "timeline": "incident-wed",
        "kind": "audience_misconfig",
        "api": "deploy-api",
        "at": 5.5,
        "dur": 0.37,
        "p": {"replicas": [0, 1], "stagger": 240},
        "detail": "deploy-api rolled out with the staging audience, replica by replica, then rolled back",
    },
    # -- incident-thu
    {
        "id": "thu-kre-c-us-3",
        "timeline": "incident-thu",
        "kind": "key_removed_early",
        "issuer": "k8s-c-us-3",
        "at": 2.66,
        "dur": 1.0,
        "p": {"remove_after": 300},
        "detail": "cluster upgrade removed the old SA key 5 min after switching; pods hold 1 h tokens",
    },
    {
        "id": "thu-sig-initech",
        "timeline": "incident-thu",
        "kind": "signature_spike",
        "issuer": "sso-initech",
        "at": 8.0,
        "dur": 0.75,
        "p": {"share": 0.33},
        "detail": "tenant IdP HSM failover: one of three signing nodes uses replaced key material under the kid",
    },
    {
        "id": "thu-stall-cli",
        "timeline": "incident-thu",
        "kind": "issuer_stalled",
        "issuer": "cli",
        "at": 6.0,
        "dur": 1.66,
        "detail": "device-flow token endpoint down 100 min; laptops keep sending what they hold",
    },
    {
        "id": "thu-skew-farm",
        "timeline": "incident-thu",
        "kind": "clock_skew",
        "client": "farm-umbrella",
        "at": 3.0,
        "dur": 4.0,
        "p": {"offset": 240, "drift": 0, "devices": 3},
        "detail": "three build-farm agents 4 min ahead (self-signed pull tokens not yet valid)",
    },
    {
        "id": "thu-aud-hooli",
        "timeline": "incident-thu",
        "kind": "audience_misconfig",
        "client": "hooli",
        "at": 3.5,
        "dur": 3.0,
        "p": {"aud": "artifacts.devplat.example"},
        "detail": "one org's pipeline requests its OIDC token for the wrong audience",
    },
    {
        "id": "thu-srvskew-secrets",
        "timeline": "incident-thu",
        "kind": "server_clock_skew",
        "api": "secrets-api",
        "replica": 1,
        "at": 4.25,
        "dur": 1.75,
        "p": {"offset": 540},
        "detail": "one secrets-api replica 9 min ahead after a host migration broke NTP",
    },
    {
        "id": "thu-attack-scan",
        "timeline": "incident-thu",
        "kind": "attack_burst",
        "at": 10.5,
        "dur": 0.2,
        "p": {"rate": 150, "apis": list(APIS), "mix": "scan"},
        "detail": "scanner burst of forged tokens across every API",
    },
    # -- incident-fri
    {
        "id": "fri-kbp-ci",
        "timeline": "incident-fri",
        "kind": "kid_before_publish",
        "issuer": "ci",
        "at": 9.97,
        "dur": 0.2,
        "detail": "CI signer switched kid 12 min before the key set published it, at the 16:00 cron burst",
    },
    {
        "id": "fri-outage-globex",
        "timeline": "incident-fri",
        "kind": "jwks_outage",
        "issuer": "sso-globex",
        "at": 4.08,
        "dur": 0.75,
        "p": {"mode": "reset", "restart": [("audit-api", 0), ("console-api", 1)]},
        "detail": "tenant IdP JWKS endpoint resets connections for 45 min during an audit-api deploy",
    },
    {
        "id": "fri-sig-c-ap-2",
        "timeline": "incident-fri",
        "kind": "signature_spike",
        "issuer": "k8s-c-ap-2",
        "at": 1.33,
        "dur": 0.5,
        "p": {"share": 1.0},
        "detail": "cluster restored from backup signs with the old key material under the current kid",
    },
    {
        "id": "fri-stall-wif",
        "timeline": "incident-fri",
        "kind": "issuer_stalled",
        "issuer": "wif",
        "at": 7.5,
        "dur": 1.33,
        "detail": "federation STS stopped issuing for 80 min",
    },
    {
        "id": "fri-typeconf-portal",
        "timeline": "incident-fri",
        "kind": "type_confusion",
        "client": "initech-portal",
        "at": 3.0,
        "dur": 4.0,
        "p": {"what": "refresh", "share": 1.0},
        "detail": "a tenant portal integration sends its refresh token as bearer token",
    },
    {
        "id": "fri-skew-cli-office",
        "timeline": "incident-fri",
        "kind": "clock_skew",
        "client": "devplat-cli",
        "at": 2.0,
        "dur": 6.0,
        "p": {"offset": 0, "drift": -0.05, "devices": 12},
        "detail": "one office's laptops drift behind (VPN client blocks NTP): CLI presents expired tokens",
    },
    {
        "id": "fri-srvskew-hooks",
        "timeline": "incident-fri",
        "kind": "server_clock_skew",
        "issuer": "hooks",
        "at": 5.0,
        "dur": 1.0,
        "p": {"offset": -720},
        "detail": "partner SCM signer 12 min behind: webhook tokens expired when sent",
    },
    # -- incident-mon
    {
        "id": "mon-kre-globex",
        "timeline": "incident-mon",
        "kind": "key_removed_early",
        "issuer": "sso-globex",
        "at": 4.5,
        "dur": 1.0,
        "p": {"remove_after": 600},
        "detail": "tenant IdP deleted the old key 10 min into a rotation",
    },
    {
        "id": "mon-outage-c-eu-7",
        "timeline": "incident-mon",
        "kind": "jwks_outage",
        "issuer": "k8s-c-eu-7",
        "at": 2.0,
        "dur": 2.0,
        "p": {"mode": "503", "rotate": 0.5, "restart": [("secrets-api", 0)]},
        "detail": "cluster upgrade: OIDC discovery down 2 h while the new SA key is already in use",
    },
    {
        "id": "mon-sig-ci",
        "timeline": "incident-mon",
        "kind": "signature_spike",
        "issuer": "ci",
        "at": 3.0,
        "dur": 0.42,
        "p": {"share": 0.2},
        "detail": "one CI signer region deployed with the wrong key for the current kid (20 % of tokens)",
    },
    {
        "id": "mon-aud-registry",
        "timeline": "incident-mon",
        "kind": "audience_misconfig",
        "api": "registry-api",
        "at": 6.0,
        "dur": 0.66,
        "p": {"replicas": [2], "stagger": 0},
        "detail": "registry-api canary replica with the wrong audience for 40 min",
    },
    {
        "id": "mon-stall-umbrella",
        "timeline": "incident-mon",
        "kind": "issuer_stalled",
        "issuer": "sso-umbrella",
        "at": 8.0,
        "dur": 1.0,
        "detail": "a small tenant's IdP token endpoint stalled for an hour",
    },
    {
        "id": "mon-attack-slow",
        "timeline": "incident-mon",
        "kind": "attack_burst",
        "at": 7.0,
        "dur": 0.66,
        "p": {"rate": 12, "apis": ["registry-api"], "mix": "scrape"},
        "detail": "low and slow replay of scraped CI tokens at the busiest hour",
    },
    {
        "id": "mon-srvskew-c-us-3",
        "timeline": "incident-mon",
        "kind": "server_clock_skew",
        "issuer": "k8s-c-us-3",
        "at": 1.0,
        "dur": 3.0,
        "p": {"offset": -1500},
        "detail": "cluster clock 25 min behind: SA tokens expire early",
    },
    {
        "id": "mon-typeconf-cli",
        "timeline": "incident-mon",
        "kind": "type_confusion",
        "client": "devplat-cli",
        "at": 9.0,
        "dur": 1.5,
        "p": {"what": "id", "share": 0.25},
        "detail": "CLI 3.2 regression: a quarter of laptops send ID tokens",
    },
    {
        "id": "mon-skew-drift",
        "timeline": "incident-mon",
        "kind": "clock_skew",
        "client": "stark-industries",
        "at": 0.5,
        "dur": 7.0,
        "p": {"offset": 0, "drift": -0.06, "devices": "self-hosted"},
        "detail": "self-hosted runners drifting behind (0 to -25 min over 7 h)",
    },
]

ORGS = [
    "acme-corp",
    "hooli",
    "stark-industries",
    "wayne-ent",
    "initech-dev",
    "globex-eng",
    "umbrella-ci",
    "cyberdyne",
    "tyrell",
    "soylent",
] + [f"org-{i:04d}" for i in range(190)]
FARMS = ["farm-umbrella", "farm-acme", "farm-wayne", "farm-tyrell"]


# ----------------------------------------------------------------------------------------------------------------
# helpers


def _ts(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _weekday_shape(t: float, human: bool) -> float:
    d = datetime.fromtimestamp(t, UTC)
    h = d.hour + d.minute / 60.0
    wk = d.weekday() >= 5

    def bump(c: float, w: float) -> float:
        x = min(abs(h - c), 24 - abs(h - c))
        return math.exp(-((x / w) ** 2))

    work = 0.55 * bump(3.5, 3.5) + 1.0 * bump(12.0, 4.0) + 1.1 * bump(18.5, 4.0)
    if human:
        v = 0.08 + work
        return v * (0.25 if wk else 1.0)
    return (0.5 + 0.5 * work) * (0.6 if wk else 1.0)


class _Cdf:
    """Inverse-CDF sampler of an intensity on a 1-minute grid."""

    def __init__(self, t0: float, t1: float, fn):
        self.t0 = t0
        n = int((t1 - t0) // 60)
        acc, self.cum = 0.0, []
        for i in range(n):
            acc += max(fn(t0 + 60 * i + 30), 0.0)
            self.cum.append(acc)
        self.total = acc

    def sample(self, rng: random.Random) -> float:
        u = rng.random() * self.total
        i = bisect.bisect_left(self.cum, u)
        return self.t0 + 60 * i + rng.random() * 60


# ----------------------------------------------------------------------------------------------------------------
# plan: keys, schedules, devices, requests


class Plan:
    def __init__(self, name: str, spec: dict, seed: int, scale: float):
        self.name, self.spec, self.seed = name, spec, seed
        self.rng = random.Random(seed)
        self.t0 = _ts(spec["start"])
        self.t1 = self.t0 + spec["hours"] * 3600
        self.quiet = spec["quiet"]
        self.incidents = [dict(i) for i in INCIDENTS if i["timeline"] == name] if not self.quiet else []
        for inc in self.incidents:
            inc["a"] = self.t0 + inc["at"] * 3600
            inc["b"] = inc["a"] + inc["dur"] * 3600
            inc.setdefault("p", {})
        self.n_target = spec["n"] * scale
        self.tokens: list[dict] = []
        self.reqs: dict[tuple[str, int], list] = {(a, r): [] for a, c in APIS.items() for r in range(c["replicas"])}
        self.keys: dict[str, dict] = {}  # kid -> {issuer, alg, bad(bool)}
        self.sched: dict[str, list[dict]] = {}
        self.outages: dict[str, list[tuple[float, float, str]]] = {i: [] for i in ISSUERS}
        self.restarts: dict[tuple[str, int], list[float]] = {k: [] for k in self.reqs}
        self.bad_aud: dict[tuple[str, int], list[tuple[float, float, str]]] = {k: [] for k in self.reqs}
        self.rclock: dict[tuple[str, int], list[tuple[float, float, float, str]]] = {k: [] for k in self.reqs}
        self._kidn = 0

    # -- keys
    def _new_kid(self, issuer: str, label: str) -> str:
        self._kidn += 1
        h = hashlib.sha256(f"{self.seed}-{issuer}-{label}-{self._kidn}".encode()).hexdigest()[:10]
        kid = f"{label}-{h}"
        self.keys[kid] = {"issuer": issuer, "alg": ISSUERS[issuer]["alg"]}
        return kid

    def build_keys(self) -> None:
        rng = self.rng
        far = 10 * 86400
        for iss in ISSUERS:
            if iss == "deploykeys":
                sched = []
                for f in FARMS:
                    kid = self._new_kid(iss, f)
                    sched.append(
                        {
                            "kid": kid,
                            "publish": self.t0 - far,
                            "sign_from": self.t0 - far,
                            "sign_to": self.t1 + far,
                            "remove": self.t1 + far,
                            "owner": f,
                        }
                    )
                self.sched[iss] = sched
                continue
            k1 = self._new_kid(iss, "k1")
            self.sched[iss] = [
                {
                    "kid": k1,
                    "publish": self.t0 - far,
                    "sign_from": self.t0 - far,
                    "sign_to": self.t1 + far,
                    "remove": self.t1 + far,
                }
            ]
            # healthy rotations: about one issuer in four rotates in a timeline, with a 2 h overlap
            if rng.random() < 0.3 and not any(i.get("issuer") == iss for i in self.incidents):
                r = self.t0 + rng.uniform(0.1, 0.6) * (self.t1 - self.t0)
                self._rotate(iss, publish=r, sign_from=r + 7200, remove_after=ISSUERS[iss]["life"][1] + 3600)
        for inc in self.incidents:
            k, iss = inc["kind"], inc.get("issuer")
            if k == "kid_before_publish":
                delay = inc["dur"] * 3600
                kid = self._rotate(
                    iss, publish=inc["a"] + delay, sign_from=inc["a"], remove_after=ISSUERS[iss]["life"][1] + 3600
                )
                inc["kid"] = kid
            elif k == "key_removed_early":
                old = self.sched[iss][-1]["kid"]
                self._rotate(iss, publish=inc["a"] - 1800, sign_from=inc["a"], remove_after=inc["p"]["remove_after"])
                inc["kid"] = old
            elif k == "signature_spike":
                inc["kid"] = self._current(iss, inc["a"])["kid"]
                bad = f"{inc['kid']}#bad"
                self.keys[bad] = {"issuer": iss, "alg": ISSUERS[iss]["alg"], "bad_of": inc["kid"]}
            elif k == "jwks_outage":
                self.outages[iss].append((inc["a"], inc["b"], inc["p"]["mode"]))
                if "rotate" in inc["p"]:
                    r = inc["a"] + inc["p"]["rotate"] * 3600
                    self._rotate(iss, publish=r, sign_from=r + 60, remove_after=ISSUERS[iss]["life"][1] + 3600)
                for api, rep in inc["p"].get("restart", []):
                    self.restarts[(api, rep)].append(inc["a"] + rng.uniform(0.2, 0.7) * (inc["b"] - inc["a"]))
            elif k == "audience_misconfig" and inc.get("api"):
                for j, rep in enumerate(inc["p"]["replicas"]):
                    a = inc["a"] + j * inc["p"]["stagger"]
                    self.bad_aud[(inc["api"], rep)].append((a, inc["b"], inc["id"]))
                    self.restarts[(inc["api"], rep)] += [a, inc["b"]]
            elif k == "server_clock_skew" and inc.get("api"):
                self.rclock[(inc["api"], inc["replica"])].append((inc["a"], inc["b"], inc["p"]["offset"], inc["id"]))
        # JWKS blips: short 503s / resets, a few per issuer and day
        for iss in ISSUERS:
            n = sum(1 for _ in range(3) if rng.random() < 0.5 * (self.t1 - self.t0) / 86400)
            for _ in range(n):
                a = rng.uniform(self.t0, self.t1)
                self.outages[iss].append((a, a + rng.uniform(15, 90), rng.choice(["503", "reset"])))
        # rolling deploys (release days: every API), crashes, the autoscaled replica
        for api, rep in self.restarts:
            if rng.random() < 0.15 * (self.t1 - self.t0) / 86400:
                self.restarts[(api, rep)].append(rng.uniform(self.t0, self.t1))
        deploys = 3 if self.spec.get("release") else 1
        for _ in range(deploys):
            for api, cfg in APIS.items():
                if rng.random() < 0.6:
                    t = rng.uniform(self.t0 + 3600, self.t1 - 3600)
                    for rep in range(cfg["replicas"]):
                        self.restarts[(api, rep)].append(t + rep * rng.uniform(60, 180))
        for k in self.restarts:
            self.restarts[k].sort()

    def _current(self, iss: str, t: float) -> dict:
        cur = None
        for k in self.sched[iss]:
            if k["sign_from"] <= t < k["sign_to"]:
                cur = k
        return cur or self.sched[iss][-1]

    def _rotate(self, iss: str, publish: float, sign_from: float, remove_after: float) -> str:
        old = self._current(iss, sign_from)
        kid = self._new_kid(iss, "k" + str(len(self.sched[iss]) + 1))
        old["sign_to"] = sign_from
        old["remove"] = sign_from + remove_after
        self.sched[iss].append(
            {
                "kid": kid,
                "publish": publish,
                "sign_from": sign_from,
                "sign_to": self.t1 + 864000,
                "remove": self.t1 + 864000,
            }
        )
        return kid

    # -- incidents queried while generating
    def inc(self, kind: str) -> list[dict]:
        c = self.__dict__.setdefault("_inc_cache", {})
        if kind not in c:
            c[kind] = [i for i in self.incidents if i["kind"] == kind]
        return c[kind]

    def issuer_off(self, iss: str, t: float) -> tuple[float, str | None]:
        for i in self.inc("server_clock_skew"):
            if i.get("issuer") == iss and i["a"] <= t < i["b"]:
                return i["p"]["offset"], i["id"]
        return 0.0, None

    def stalled(self, iss: str, t: float) -> dict | None:
        for i in self.inc("issuer_stalled"):
            if i["issuer"] == iss and i["a"] <= t < i["b"]:
                return i
        return None

    # -- tokens
    def mint(
        self,
        iss: str,
        t: float,
        sub: str,
        client: str,
        aud,
        *,
        stamp: float | None = None,
        life: float | None = None,
        typ: str | None = None,
        extra: dict | None = None,
        owner: str | None = None,
        tags: tuple = (),
    ) -> dict:
        info = ISSUERS[iss]
        off, skew_id = self.issuer_off(iss, t)
        now = int((t + off) if stamp is None else stamp)
        if life is None:
            lo, hi = info["life"]
            life = lo if lo == hi else self.rng.choice(range(lo, hi + 1, 60))
        if owner is not None:
            key = next(k for k in self.sched[iss] if k.get("owner") == owner)
        else:
            key = self._current(iss, t)
        kid = key["kid"]
        tags = list(tags)
        if skew_id:
            tags.append(skew_id)
        sign_kid = kid
        for i in self.incidents:
            if i.get("issuer") != iss:
                continue
            if i["kind"] == "kid_before_publish" and kid == i["kid"] and t < i["b"] + 600:
                tags.append(i["id"])
            elif i["kind"] == "key_removed_early" and kid == i["kid"] and now + life > i["a"] + i["p"]["remove_after"]:
                tags.append(i["id"])
            elif i["kind"] == "signature_spike" and kid == i["kid"] and i["a"] <= t < i["b"]:
                if self.rng.random() < i["p"]["share"]:
                    sign_kid = f"{kid}#bad"
                    tags.append(i["id"])
        claims = {
            "iss": info["iss"],
            "sub": sub,
            "aud": aud,
            "iat": now,
            "nbf": now,
            "exp": now + int(life),
            "jti": f"{self.seed:x}-{len(self.tokens):x}",
        }
        if client:
            claims["azp"] = client
        if extra:
            claims.update(extra)
        tok = {
            "id": len(self.tokens),
            "iss": iss,
            "kid": kid,
            "sign_kid": sign_kid,
            "alg": info["alg"],
            "typ": typ or info["typ"],
            "claims": claims,
            "tags": tuple(tags),
            "exp": claims["exp"],
        }
        self.tokens.append(tok)
        return tok

    def garbage(self, kind: str, tags: tuple = (), base: dict | None = None) -> dict:
        tok = {
            "id": len(self.tokens),
            "garbage": kind,
            "tags": tuple(tags),
            "exp": None,
            "iss": None,
            "base": None,
            "seed": self.rng.getrandbits(48),
        }
        if base is not None:
            tok["base"] = base["id"]
        self.tokens.append(tok)
        return tok

    # -- requests
    def pick_replica(self, api: str, t: float) -> int:
        n = APIS[api]["replicas"]
        if api == "artifacts-api":
            d = datetime.fromtimestamp(t, UTC)
            if not (13 <= d.hour < 22 and d.weekday() < 5):
                n = 2  # replica 2 exists only while autoscaled out
        return self.rng.randrange(n)

    def emit(
        self, t: float, api: str, tok: dict, *, client: str | None = None, dev: str | None = None, rtags: tuple = ()
    ) -> None:
        if not (self.t0 <= t < self.t1):
            return
        rep = self.pick_replica(api, t)
        tags = set(rtags)
        if tok.get("tags") and (tok["exp"] is None or t <= tok["exp"] + TOKEN_TAG_TAIL):
            tags.update(tok["tags"])
        iss = tok.get("iss")
        for i in self.incidents:
            k = i["kind"]
            if k == "jwks_outage" and iss == i["issuer"] and i["a"] <= t < i["b"] + 600:
                tags.add(i["id"])
            elif k == "issuer_stalled" and iss == i["issuer"] and i["a"] <= t < i["b"] + 300:
                tags.add(i["id"])
            elif k == "clock_skew" and dev is not None and dev in i.get("devs", ()) and i["a"] <= t < i["b"] + 900:
                tags.add(i["id"])
        for a, b, iid in self.bad_aud[(api, rep)]:
            if a <= t < b:
                tags.add(iid)
        for a, b, _, iid in self.rclock[(api, rep)]:
            if a <= t < b:
                tags.add(iid)
        self.reqs[(api, rep)].append((t, tok["id"], tuple(sorted(tags))))

    def leeway(self, api: str) -> int:
        return APIS[api]["leeway"]


class Device:
    """A token holder with its own clock: eager (refreshes before exp by its clock) or lazy (after a 401)."""

    def __init__(
        self,
        plan: Plan,
        dev_id: str,
        client: str,
        iss: str,
        apis: list[tuple[str, float]],
        *,
        lazy: float,
        margin: float,
        off=None,
        aud=None,
        sub=None,
        owner=None,
    ):
        self.p, self.id, self.client, self.iss = plan, dev_id, client, iss
        self.apis, self.api_w = [a for a, _ in apis], [w for _, w in apis]
        self.lazy = plan.rng.random() < lazy
        self.margin = margin
        self.off = off or (lambda t: 0.0)
        self.aud = aud or [a for a in self.apis]
        self.aud = [APIS[a]["aud"] for a in self.aud]
        self.sub = sub or f"{client}/{dev_id}"
        self.owner = owner
        self.tok: dict | None = None
        self.failed = False
        self.refresh_age: float | None = 2880.0 if iss.startswith("k8s-") else None  # kubelet: 80 % of 1 h
        self.acq_local = 0.0

    def clock(self, t: float) -> float:
        off = self.off(t)
        for i in self.p.inc("clock_skew"):
            if self.id in i.get("devs", ()) and i["a"] <= t < i["b"]:
                off += i["p"]["offset"] + i["p"]["drift"] * (t - i["a"])
        return t + off

    def acquire(self, t: float) -> bool:
        if self.p.stalled(self.iss, t):
            return False
        stamp = self.clock(t) - 30 if self.iss == "deploykeys" else None  # agents backdate iat by 30 s
        aud = self.aud
        typ = None
        extra = None
        tags = []
        for i in self.p.incidents:
            if i.get("client") != self.client or not (i["a"] <= t < i["b"]):
                continue
            if i["kind"] == "audience_misconfig":
                aud = [i["p"]["aud"]]
                tags.append(i["id"])
            elif i["kind"] == "type_confusion" and (zlib.crc32(self.id.encode()) % 1000) / 1000 < i["p"]["share"]:
                tags.append(i["id"])
                if i["p"]["what"] == "id":
                    typ, aud, extra = "JWT", self.client, {"nonce": f"n{self.p.rng.getrandbits(32):x}"}
                else:
                    typ, aud, extra = "refresh+jwt", ISSUERS[self.iss]["iss"], {"token_use": "refresh"}
        life = 300 if self.iss == "deploykeys" else None
        aud = aud if isinstance(aud, str) else (aud[0] if len(aud) == 1 else list(aud))
        self.tok = self.p.mint(
            self.iss,
            t,
            self.sub,
            self.client,
            aud,
            stamp=stamp,
            life=life,
            typ=typ,
            extra=extra,
            owner=self.owner,
            tags=tuple(tags),
        )
        self.failed = False
        self.acq_local = self.clock(t)
        return True

    def request(self, t: float, api: str | None = None) -> None:
        p = self.p
        if api is None:
            api = p.rng.choices(self.apis, self.api_w)[0]
        need = self.tok is None or self.failed
        if not self.lazy and self.tok is not None:
            if self.refresh_age is not None:
                need = need or self.clock(t) - self.acq_local >= self.refresh_age
            elif self.clock(t) >= self.tok["exp"] - self.margin:
                need = True
        if self.tok is not None and self.tok.get("tags") and p.rng.random() < 0.02:
            need = True  # a human restarts the tool
        if need and not self.acquire(t) and self.tok is None:
            return
        tok = self.tok
        p.emit(t, api, tok, client=self.client, dev=self.id)
        if t > tok["exp"] + p.leeway(api):
            self.failed = True
            if self.lazy and not p.stalled(self.iss, t):
                t2 = t + p.rng.uniform(0.3, 3)
                if self.acquire(t2):
                    p.emit(t2, api, self.tok, client=self.client, dev=self.id)


def _offset_fn(rng: random.Random, t0: float):
    r = rng.random()
    if r < 0.9:
        c = rng.gauss(0, 2)
        return lambda t: c
    if r < 0.96:
        c = rng.choice([-1, 1]) * rng.uniform(60, 400)
        return lambda t: c
    if r < 0.985:
        d = rng.uniform(-0.004, 0.004)
        return lambda t: d * (t - t0)
    # boots with a wrong clock until NTP syncs, every morning
    c = rng.uniform(-900, 900)
    return lambda t: c if (t % 86400) < 8 * 3600 + 300 and (t % 86400) > 8 * 3600 else 0.0


def build_plan(name: str, seed: int, scale: float) -> Plan:
    p = Plan(name, TIMELINES[name], seed, scale)
    rng = p.rng
    p.build_keys()
    N = p.n_target
    human = _Cdf(p.t0, p.t1, lambda t: _weekday_shape(t, True))
    machine = _Cdf(p.t0, p.t1, lambda t: _weekday_shape(t, False))
    release = 1.3 if p.spec.get("release") else 1.0
    # clock_skew incidents pick their devices
    skew_sets = {}
    for i in p.inc("clock_skew"):
        skew_sets[i["id"]] = i

    # ---- CI jobs: ~4.5 requests per job
    ci_share = 0.33 * release
    n_jobs = int(N * ci_share / 4.5)
    ci_apis = [("artifacts-api", 0.4), ("registry-api", 0.25), ("deploy-api", 0.15), ("secrets-api", 0.2)]
    org_w = [1.0 / (k + 1) ** 0.9 for k in range(len(ORGS))]
    pools: dict[str, list] = {}
    for org in ORGS:
        pools[org] = [_offset_fn(rng, p.t0) for _ in range(rng.randint(1, 4))]
    for i in skew_sets.values():
        if i["p"]["devices"] == "self-hosted":
            i["devs"] = set()
    job = 0
    while job < n_jobs:
        cron = rng.random() < 0.22
        if cron:
            ts = machine.sample(rng)
            ts = ts - (ts % 3600) + rng.expovariate(1 / 40.0)
        else:
            ts = human.sample(rng) if rng.random() < 0.75 else machine.sample(rng)
        org = rng.choices(ORGS, org_w)[0]
        legs = rng.randint(3, 12) if rng.random() < 0.15 else 1
        self_hosted = rng.random() < 0.35
        pool = rng.randrange(len(pools[org]))
        for leg in range(legs):
            job += 1
            dev_id = f"{org}/run-{job}"
            off = pools[org][pool] if self_hosted else (lambda t: 0.0)
            for i in skew_sets.values():
                if i["client"] == org and i["p"]["devices"] == "self-hosted" and self_hosted:
                    i["devs"].add(dev_id)
            d = Device(
                p,
                dev_id,
                org,
                "ci",
                ci_apis,
                lazy=0.0,
                margin=60,
                off=off,
                sub=f"repo:{org}/app{rng.randrange(40)}:ref:refs/heads/main",
            )
            st = ts + leg * rng.uniform(0, 20)
            dur = rng.uniform(60, 1500)
            n = max(1, int(rng.expovariate(1 / 4.5)))
            times = sorted(st + rng.random() * dur for _ in range(n))
            for t in times:
                d.request(t)
            if rng.random() < 0.03 and d.tok is not None:  # job re-run presents the same token minutes later
                tr = times[-1] + rng.uniform(120, 2400)
                for k in range(rng.randint(1, 3)):
                    p.emit(tr + k * rng.uniform(2, 30), rng.choices(d.apis, d.api_w)[0], d.tok, client=org, dev=dev_id)

    # ---- long-lived token holders
    def population(n_dev, share, iss_of, client_of, apis, lazy, margin, cdf, prefix, owner_of=None, sub_of=None):
        devs = []
        for k in range(n_dev):
            iss = iss_of(k)
            client = client_of(k)
            devs.append(
                Device(
                    p,
                    f"{prefix}-{k}",
                    client,
                    iss,
                    apis,
                    lazy=lazy,
                    margin=margin,
                    off=_offset_fn(rng, p.t0),
                    owner=owner_of(k) if owner_of else None,
                    sub=sub_of(k) if sub_of else None,
                )
            )
        w = [rng.paretovariate(1.5) for _ in devs]
        n = int(N * share)
        times: list[list[float]] = [[] for _ in devs]
        cw = list(__import__("itertools").accumulate(w))
        for _ in range(n):
            times[bisect.bisect_left(cw, rng.random() * cw[-1])].append(cdf.sample(rng))
        return devs, times

    groups = []
    groups.append(
        population(
            90,
            0.20,
            lambda k: K8S[k % 6],
            lambda k: f"system:serviceaccount:ns{k % 7}:app{k}",
            [("artifacts-api", 0.3), ("registry-api", 0.3), ("deploy-api", 0.2), ("secrets-api", 0.2)],
            0.06,
            720,
            machine,
            "pod",
        )
    )
    groups.append(
        population(
            24,
            0.07,
            lambda k: "wif",
            lambda k: f"projects/cust-{k % 9}/wl-{k}",
            [("artifacts-api", 0.4), ("deploy-api", 0.3), ("secrets-api", 0.3)],
            0.1,
            300,
            machine,
            "wl",
        )
    )
    groups.append(
        population(
            48,
            0.10,
            lambda k: "deploykeys",
            lambda k: FARMS[k % 4],
            [("registry-api", 0.75), ("artifacts-api", 0.25)],
            0.0,
            60,
            machine,
            "agent",
            owner_of=lambda k: FARMS[k % 4],
        )
    )
    cli_clients = ["devplat-cli"] * 8 + ["devplat-vscode"] * 3 + ["devplat-jetbrains"]
    groups.append(
        population(
            320,
            0.08,
            lambda k: "cli",
            lambda k: cli_clients[k % len(cli_clients)],
            [("console-api", 0.6), ("audit-api", 0.4)],
            0.08,
            60,
            human,
            "laptop",
            sub_of=lambda k: f"user-{k}",
        )
    )
    sso_clients = ["{t}-console", "{t}-portal", "{t}-integration"]
    groups.append(
        population(
            300,
            0.12,
            lambda k: SSO[k % 5],
            lambda k: (
                sso_clients[(k // 5) % 3].format(t=TENANTS[k % 5])
                if (k // 5) % 3 != 2
                else f"{TENANTS[k % 5]}-integration"
            ),
            [("console-api", 0.6), ("audit-api", 0.4)],
            0.08,
            120,
            human,
            "user",
            sub_of=lambda k: f"{TENANTS[k % 5]}:u{k}",
        )
    )
    for i in p.incidents:  # device groups of clock_skew incidents among the long-lived holders
        if i["kind"] == "clock_skew" and isinstance(i["p"]["devices"], int):
            cand = [d.id for devs, _ in groups for d in devs if d.client == i["client"]]
            rng.shuffle(cand)
            i["devs"] = set(cand[: i["p"]["devices"]])
    for devs, times in groups:
        for d, ts in zip(devs, times, strict=True):
            if d.client.endswith("-integration") and rng.random() < 0.4:
                d.lazy = True  # refresh-after-401 integrations
            for t in sorted(ts):
                d.request(t)

    # ---- webhook deliveries: one token each, retried unchanged
    n_del = int(N * 0.08 / 1.05)
    partners = [f"scm-app-{k}" for k in range(25)]
    for _ in range(n_del):
        t = human.sample(rng) if rng.random() < 0.7 else machine.sample(rng)
        client = rng.choice(partners)
        tok = p.mint("hooks", t, f"delivery:{rng.getrandbits(40):x}", client, "webhooks-ingest")
        p.emit(t, "webhooks-ingest", tok, client=client)
        if rng.random() < 0.04:
            tr = t
            for back in (60, 300, 1800, 7200):
                tr += back * rng.uniform(0.9, 1.1)
                p.emit(tr, "webhooks-ingest", tok, client=client)
                if rng.random() < 0.5:
                    break

    # ---- scanners: 1-3 garbage tokens per minute
    api_names = list(APIS)
    minutes = int((p.t1 - p.t0) / 60)
    sample_tokens = sorted((t for t in p.tokens[::7] if "claims" in t), key=lambda t: t["claims"]["iat"])
    sample_iat = [t["claims"]["iat"] for t in sample_tokens]

    def leaked(t):  # a token leaked at least an hour before t (public CI logs, pastebins)
        k = bisect.bisect_left(sample_iat, t - 3600)
        return sample_tokens[rng.randrange(k)] if k else None

    for m in range(minutes):
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            t = p.t0 + 60 * m + rng.random() * 60
            kind = rng.choice(["none", "randkid", "nocid", "tamper", "trunc", "huge", "hs256pub", "oldexp", "junk"])
            base = leaked(t)
            p.emit(t, rng.choice(api_names), p.garbage(kind, base=base))

    # ---- attack bursts
    for i in p.inc("attack_burst"):
        n = int(i["p"]["rate"] * i["dur"] * 60)
        ci_toks = [t for t in p.tokens if t.get("iss") == "ci" and t["exp"] < i["a"] - 600]
        for _ in range(n):
            t = rng.uniform(i["a"], i["b"])
            api = rng.choice(i["p"]["apis"])
            if i["p"]["mix"] == "scrape" and ci_toks:
                base = rng.choice(ci_toks)
                kind = rng.choice(["replay", "replay", "replay", "tamper", "none"])
                tok = base if kind == "replay" else p.garbage(kind, base=base)
            else:
                kind = rng.choice(["none", "randkid", "tamper", "hs256pub", "junk", "trunc", "huge"])
                tok = p.garbage(kind, base=leaked(t))
            p.emit(t, api, tok, rtags=(i["id"],))
    for k in p.reqs:
        p.reqs[k].sort(key=lambda r: r[0])
    return p


# ----------------------------------------------------------------------------------------------------------------
# worker: keys, JWKS server, validators

_KEYS: dict[str, object] = {}


def _gen_keys(plan: Plan) -> dict[str, dict]:
    """Private keys (PEM) and public JWKs for every kid of the plan, generated now."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    out = {}
    for kid, info in plan.keys.items():
        if info["alg"] == "RS256":
            k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = json.loads(RSAAlgorithm.to_jwk(k.public_key()))
        else:
            k = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(ECAlgorithm.to_jwk(k.public_key()))
        real_kid = info.get("bad_of", kid)
        jwk.update({"kid": real_kid, "use": "sig", "alg": info["alg"]})
        pem = k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        out[kid] = {"pem": pem, "jwk": jwk, "alg": info["alg"], "issuer": info["issuer"]}
    return out


def _sign(tok: dict, keys: dict) -> str:
    import jwt
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    kid = tok["sign_kid"]
    k = _KEYS.get(kid)
    if k is None:
        k = _KEYS[kid] = serialization.load_pem_private_key(keys[kid]["pem"], None)
    header = {"alg": tok["alg"], "kid": tok["kid"], "typ": tok["typ"]}
    msg = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(tok["claims"], separators=(",", ":")).encode())
    )
    if tok["alg"] == "RS256":
        return jwt.encode(tok["claims"], k, algorithm="RS256", headers={"kid": tok["kid"], "typ": tok["typ"]})
    der = k.sign(msg.encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    _ = padding
    return msg + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _garbage(tok: dict, tokens: dict, keys: dict) -> str:
    rng = random.Random(tok["seed"])
    kind = tok["garbage"]
    base = tokens.get(tok["base"]) if tok.get("base") is not None else None
    claims = (
        dict(base["claims"])
        if base
        else {"iss": "https://token.actions.devplat.example", "sub": "x", "aud": "artifacts-api", "exp": 1700000000}
    )

    def enc(h, c, sig=b""):
        return _b64(json.dumps(h).encode()) + "." + _b64(json.dumps(c).encode()) + "." + _b64(sig)

    now = int(time.time())
    if kind == "none":
        claims["exp"] = now + 3600
        return enc({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}, claims)
    if kind == "randkid":
        if rng.random() < 0.7:
            claims = {
                "iss": rng.choice(["https://example.com", "http://localhost", "admin"]),
                "sub": "admin",
                "aud": claims.get("aud"),
            }
        claims["exp"] = now + 3600
        return enc({"alg": "RS256", "kid": f"{rng.getrandbits(64):016x}"}, claims, rng.randbytes(256))
    if kind == "nocid":
        return enc({"alg": "RS256", "typ": "JWT"}, {"sub": "admin", "exp": now + 600}, rng.randbytes(256))
    if kind in ("tamper", "trunc", "huge") and base is not None:
        raw = _sign(base, keys)
        h, _pl, s = raw.split(".")
        if kind == "tamper":
            c = dict(base["claims"])
            c["sub"] = "admin"
            c["exp"] = now + 3600
            return h + "." + _b64(json.dumps(c, separators=(",", ":")).encode()) + "." + s
        if kind == "trunc":
            return raw[: rng.randrange(20, len(raw) - 5)]
        return raw + "." + "A" * rng.randrange(9000, 80000)
    if kind == "hs256pub" and base is not None:
        pub = json.dumps(keys[base["kid"]]["jwk"]).encode()
        claims["exp"] = now + 3600
        msg = (
            _b64(json.dumps({"alg": "HS256", "kid": base["kid"], "typ": "JWT"}).encode())
            + "."
            + _b64(json.dumps(claims).encode())
        )
        return msg + "." + _b64(hmac.new(pub, msg.encode(), hashlib.sha256).digest())
    if kind == "oldexp" and base is not None:
        claims["exp"] = now - rng.randint(2, 6) * 365 * 86400
        return enc({"alg": base["alg"], "kid": base["kid"]}, claims, rng.randbytes(64))
    return rng.choice(
        ["undefined", "null", "Bearer", "eyJhbGciOiJIUzI1NiJ9", "x.y.z", "' OR 1=1 --", _b64(rng.randbytes(40))]
    )


class _Jwks(http.server.BaseHTTPRequestHandler):
    sched: ClassVar[dict] = {}
    keys: ClassVar[dict] = {}
    outages: ClassVar[dict] = {}

    def log_message(self, *a):
        pass

    def do_GET(self):
        iss = self.path.strip("/").split("/")[0]
        now = time.time()
        for a, b, mode in self.outages.get(iss, ()):
            if a <= now < b:
                if mode == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self.send_response(503)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "20")
                self.end_headers()
                self.wfile.write(b"<h1>503 upstream</h1>")
                return
        ks = [self.keys[k["kid"]]["jwk"] for k in self.sched.get(iss, ()) if k["publish"] <= now < k["remove"]]
        body = json.dumps({"keys": ks}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _peek(token):
    try:
        h, p, _ = token.split(".")
        h, p = json.loads(_b64d(h)), json.loads(_b64d(p))
        return (h if isinstance(h, dict) else {}), (p if isinstance(p, dict) else {})
    except Exception:
        return {}, {}


class Site:
    """One replica's validator, built fresh at every (re)start: cold caches."""

    def __init__(self, api: str, base_url: str, keys: dict):
        import jwtobs

        cfg = APIS[api]
        self.api, self.cfg, self.keys = api, cfg, keys
        self.L = cfg["leeway"]
        self.iss_of = {ISSUERS[i]["iss"]: i for i in cfg["issuers"]}
        self.first = ISSUERS[cfg["issuers"][0]]["iss"]
        self.jwk_by_kid = {v["jwk"]["kid"]: v["jwk"] for k, v in keys.items() if "#" not in k}
        self._lib_keys: dict = {}
        kind = cfg["kind"]
        ms = max(cfg["max_stale"], 600)
        self.sources = (
            {
                ISSUERS[i]["iss"]: jwtobs.JwksSource(
                    f"{base_url}/{i}/jwks.json", clock=time.time, timeout=2.0, max_stale=ms, issuer=ISSUERS[i]["iss"]
                )
                for i in cfg["issuers"]
            }
            if kind != "pyjwt"
            else {}
        )
        if kind == "verifier":

            def vset(aud):
                vs = []
                for n, i in enumerate(cfg["issuers"]):
                    info = ISSUERS[i]
                    prof = jwtobs.Profile(
                        name=api,
                        issuer=info["iss"],
                        audience=aud,
                        algorithms=(info["alg"],),
                        token_type="at+jwt" if info["typ"] == "at+jwt" else None,
                        leeway=self.L,
                    )
                    vs.append(
                        jwtobs.Verifier(
                            prof, keys=self.sources[info["iss"]], backend=cfg["backends"][n % len(cfg["backends"])]
                        )
                    )
                return jwtobs.VerifierSet(vs)

            good, bad = vset(cfg["aud"]), vset(cfg["aud"] + "-staging")
            self.fn = lambda token, bad_aud: (bad if bad_aud else good).verify(token)
            return
        if kind == "pyjwt":
            import jwt
            from jwt import PyJWKClient, PyJWKSet

            class SimClient(PyJWKClient):
                def get_jwk_set(self, refresh=False):
                    now = time.time()
                    if refresh or self._sim is None or now - self._sim_at > 900:
                        self._sim = None
                        data = self.fetch_data()
                        self._sim, self._sim_at = PyJWKSet.from_dict(data), now
                    return self._sim

            clients = {}
            for i in cfg["issuers"]:
                c = SimClient(f"{base_url}/{i}/jwks.json", cache_jwk_set=False, cache_keys=False, timeout=2)
                c._sim, c._sim_at = None, 0.0
                clients[ISSUERS[i]["iss"]] = c
            algs = {ISSUERS[i]["iss"]: ISSUERS[i]["alg"] for i in cfg["issuers"]}

            def validate(token, aud):
                _, p = _peek(token)
                iss = p.get("iss") if p.get("iss") in clients else self.first
                key = clients[iss].get_signing_key_from_jwt(token).key
                return jwt.decode(
                    token,
                    key,
                    algorithms=[algs[iss]],
                    audience=aud,
                    issuer=iss,
                    leeway=self.L,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
        elif kind == "jose":
            from jose import jwt as jjwt

            def validate(token, aud):
                iss, alg, jwk = self._key(token)
                return jjwt.decode(
                    token,
                    jwk,
                    algorithms=[alg],
                    audience=aud,
                    issuer=iss,
                    options={"leeway": self.L, "require_exp": True, "require_sub": True, "verify_at_hash": False},
                )
        elif kind == "joserfc":
            from joserfc import jwk as fjwk
            from joserfc import jwt as fjwt
            from joserfc.jwt import JWTClaimsRegistry

            def validate(token, aud):
                iss, alg, jwk = self._key(token)
                k = self._lib("joserfc", jwk, fjwk.import_key)
                tok = fjwt.decode(token, k, algorithms=[alg])
                JWTClaimsRegistry(
                    leeway=self.L,
                    iss={"essential": True, "value": iss},
                    aud={"essential": True, "value": aud},
                    exp={"essential": True},
                    sub={"essential": True},
                ).validate(tok.claims)
                return tok
        elif kind == "authlib":
            from authlib.jose import JsonWebKey, JsonWebToken

            def validate(token, aud):
                iss, alg, jwk = self._key(token)
                k = self._lib("authlib", jwk, JsonWebKey.import_key)
                claims = JsonWebToken([alg]).decode(
                    token,
                    k,
                    claims_options={
                        "iss": {"essential": True, "value": iss},
                        "aud": {"essential": True, "value": aud},
                        "sub": {"essential": True},
                        "exp": {"essential": True},
                    },
                )
                claims.validate(leeway=self.L)
                return claims
        else:  # jwcrypto
            from jwcrypto import jwk as cjwk
            from jwcrypto import jwt as cjwt

            def validate(token, aud):
                iss, alg, jwk = self._key(token)
                k = self._lib("jwcrypto", jwk, lambda d: cjwk.JWK(**d))
                t = cjwt.JWT(algs=[alg], check_claims={"iss": iss, "aud": aud, "exp": None})
                t.leeway = self.L
                t.deserialize(token, k)
                return t

        lib = {"pyjwt": "pyjwt", "jose": "jose", "joserfc": "joserfc", "authlib": "authlib", "jwcrypto": "jwcrypto"}[
            kind
        ]
        wrapped = jwtobs.wrap(validate, library=lib, profile=api)
        self.fn = lambda token, bad_aud: wrapped(token, cfg["aud"] + "-staging" if bad_aud else cfg["aud"])

    def _lib(self, lib, jwk, imp):
        key = (lib, jwk["kid"])
        if key not in self._lib_keys:
            self._lib_keys[key] = imp(dict(jwk))
        return self._lib_keys[key]

    def _key(self, token):
        h, p = _peek(token)
        iss = p.get("iss") if p.get("iss") in self.iss_of else self.first
        alg = ISSUERS[self.iss_of[iss]]["alg"]
        kid = h.get("kid") if isinstance(h.get("kid"), str) else None
        if h.get("alg") == alg:
            self.sources[iss].get(kid)  # JWT_UNKNOWN_KID / JWT_JWKS_UNAVAILABLE as TokenRejected
            jwk = self.jwk_by_kid.get(kid)
        else:
            jwk = None
        if jwk is None:  # let the library decide (alg none, alg confusion...)
            jwk = next(v for v in self.jwk_by_kid.values() if v["alg"] == alg)
        return iss, alg, jwk

    def validate(self, token, bad_aud):
        return self.fn(token, bad_aud)


def _run_job(job: dict) -> dict:
    import warnings

    import time_machine

    import jwtobs

    warnings.simplefilter("ignore")
    wall = time.time()
    api, rep, reqs = job["api"], job["replica"], job["reqs"]
    tokens, keys = job["tokens"], job["keys"]
    path = job["path"]
    if os.path.exists(path):
        os.remove(path)
    tr = time_machine.travel(job["t0"], tick=False)
    traveller = tr.start()
    _Jwks.sched, _Jwks.keys, _Jwks.outages = job["sched"], keys, job["outages"]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    jwtobs.configure(events_path=path, service=api, fingerprint_key=job["fp_key"], defer=False)
    site = Site(api, base_url, keys)
    restarts = list(job["restarts"])
    cache: dict[int, str] = {}
    outcomes = []
    for t, tid, _tags in reqs:
        while restarts and restarts[0] <= t:
            restarts.pop(0)
            site = Site(api, base_url, keys)
        off = 0.0
        for a, b, o, _ in job["rclock"]:
            if a <= t < b:
                off = o
        traveller.move_to(t + off)
        tok = tokens[tid]
        raw = cache.get(tid)
        if raw is None:
            raw = _garbage(tok, tokens, keys) if "garbage" in tok else _sign(tok, keys)
            cache[tid] = raw
        bad_aud = any(a <= t < b for a, b, _ in job["bad_aud"])
        try:
            site.validate(raw, bad_aud)
            outcomes.append(None)
        except Exception as exc:
            outcomes.append(str(jwtobs.reason_of(exc)))
    jwtobs.flush()
    jwtobs.configure(events_path=None, service=None, defer=False, fingerprint_key=job["fp_key"])
    srv.shutdown()
    tr.stop()
    if not os.path.exists(path):  # a replica that served nothing (the autoscaled one on a weekend)
        open(path, "w").close()
    events = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if "event" in e:
                continue
            events.append((e["time"], e["outcome"], e["reason"]))
    res = {
        "api": api,
        "replica": rep,
        "n": len(reqs),
        "n_events": len(events),
        "reasons": {},
        "tagged": [],
        "wall": time.time() - wall,
    }
    for (_t, _tid, tags), ev in zip(reqs, events, strict=False):
        if ev[1] == "rejected":
            res["reasons"][ev[2]] = res["reasons"].get(ev[2], 0) + 1
            if tags:
                res["tagged"].append((tags, ev[2], ev[0]))
    return res


# ----------------------------------------------------------------------------------------------------------------
# driver


def _jobs_for(plan: Plan, out: str) -> list[dict]:
    keys = _gen_keys(plan)
    tl_dir = os.path.join(out, plan.name, "events")
    os.makedirs(tl_dir, exist_ok=True)
    tokmap = {t["id"]: t for t in plan.tokens}
    jobs = []
    for (api, rep), reqs in plan.reqs.items():
        need = {}
        for _, tid, _ in reqs:
            if tid not in need:
                tk = tokmap[tid]
                need[tid] = tk
                if tk.get("base") is not None:
                    need[tk["base"]] = tokmap[tk["base"]]
        jobs.append(
            {
                "api": api,
                "replica": rep,
                "reqs": reqs,
                "tokens": need,
                "keys": keys,
                "t0": plan.t0,
                "path": os.path.join(tl_dir, f"{api}-{rep}.jsonl"),
                "sched": plan.sched,
                "outages": plan.outages,
                "restarts": plan.restarts[(api, rep)],
                "rclock": plan.rclock[(api, rep)],
                "bad_aud": plan.bad_aud[(api, rep)],
                "fp_key": hashlib.sha256(b"fleet62").hexdigest(),
                "timeline": plan.name,
            }
        )
    return jobs


def _finish(plan: Plan, results: list[dict], out: str, wall: float) -> dict:
    by_inc = {i["id"]: {"count": 0, "times": []} for i in plan.incidents}
    kinds = {i["id"]: i["kind"] for i in plan.incidents}
    reasons: dict[str, int] = {}
    n = rej = 0
    for r in results:
        n += r["n_events"]
        for k, v in r["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
            rej += v
        for tags, reason, t in r["tagged"]:
            for iid in tags:
                ok = REASONS_OF[kinds[iid]]
                if ok is None or reason in ok:
                    by_inc[iid]["count"] += 1
                    by_inc[iid]["times"].append(t)
    labels, missing = [], []
    for i in plan.incidents:
        c = by_inc[i["id"]]
        if not c["count"]:
            missing.append(i["id"])
            continue
        k = i["kind"]
        iss = i.get("issuer")
        labels.append(
            {
                "id": i["id"],
                "kind": k,
                "start": min(c["times"]),
                "end": max(c["times"]),
                "count": c["count"],
                "issuer": ISSUERS[iss]["iss"] if iss and (k in ISSUER_SCOPED or k == "server_clock_skew") else None,
                "kid": i.get("kid") if k in KID_SCOPED else None,
                "client_id": i.get("client"),
                "profile": i.get("api"),
                "detail": i["detail"],
            }
        )
    labels.sort(key=lambda x: x["start"])
    tl_dir = os.path.join(out, plan.name)

    def iso(t):
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    with open(os.path.join(tl_dir, "labels.json"), "w") as f:
        json.dump(
            {
                "timeline": plan.name,
                "quiet": plan.quiet,
                "seed": plan.seed,
                "start": iso(plan.t0),
                "end": iso(plan.t1),
                "generator": "fleet62",
                "incidents": labels,
            },
            f,
            indent=1,
        )
    summary = {
        "timeline": plan.name,
        "validations": n,
        "rejections": rej,
        "rejection_rate": round(rej / max(n, 1), 5),
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "incidents_injected": len(plan.incidents),
        "incidents_labelled": len(labels),
        "injected_without_counted_rejection": missing,
        "counts": {i["id"]: by_inc[i["id"]]["count"] for i in plan.incidents},
        "wall_s": round(wall, 1),
        "replica_mismatch": [r["api"] + str(r["replica"]) for r in results if r["n"] != r["n_events"]],
    }
    with open(os.path.join(tl_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=6200)
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
        t_all = time.time()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(a.workers) as pool:
            pending = []
            for name in names:
                t = time.time()
                plan = build_plan(name, a.seed_base + 101 * list(TIMELINES).index(name), a.scale)
                jobs = _jobs_for(plan, a.out)
                jobs.sort(key=lambda j: -len(j["reqs"]))
                pending.append((plan, pool.map_async(_run_job, jobs, chunksize=1), t))
                print(
                    f"[fleet62] planned {name}: {sum(len(j['reqs']) for j in jobs)} requests ({time.time() - t:.1f}s)",
                    flush=True,
                )
            for plan, res, t in pending:
                s = _finish(plan, res.get(), a.out, time.time() - t)
                print(
                    f"[fleet62] {plan.name}: {s['validations']} validations, rate {s['rejection_rate']:.4f}, "
                    f"{s['incidents_labelled']}/{s['incidents_injected']} labelled, missing "
                    f"{s['injected_without_counted_rejection']}, {time.time() - t_all:.0f}s",
                    flush=True,
                )
        print(f"[fleet62] total wall {time.time() - t_all:.0f}s", flush=True)
    if a.score or a.score_only:
        print(json.dumps(_score(a.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
