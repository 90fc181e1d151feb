"""fleet50: a blind benchmark fleet for jwtobs - a university.

Design note
===========

Written without reading jwtobs's detectors: every event below comes from a real validation (keys generated at
run time, tokens signed with PyJWT, key sets served by a real ``http.server`` on 127.0.0.1, simulated time moved
with ``time_machine``), one process per replica file, and the labels come from the events themselves.

Issuers
-------
- ``https://sso.uni.example/realms/campus`` (campus SSO, OIDC, ES256): access tokens (``at+jwt``, 15 min, ``azp``)
  for laptops, phones, lab PCs, staff desktops, proctoring clients; ID tokens (``JWT``, 5 min, ``nonce``) for the
  relying parties; ``Refresh`` tokens. The lab PCs' kiosk broker asks for tokens whose validity starts at the
  PC's own clock (``nbf``/``iat`` stamped from the request), so a PC booting with a wrong clock makes tokens that
  are not yet valid.
- ``https://lms.uni.example`` (LMS as LTI 1.3 platform, RS256, keys rotate monthly): launch id_tokens (5 min) to
  the grading tool, LTI Advantage service tokens (``at+jwt``, 1 h) for the tool's backend calling the LMS API.
- ``https://idp.hpc.uni.example`` (research computing, ES256): 8 h tokens for Slurm batch jobs (refresh only after a
  401), 1 h tokens for JupyterHub.
- ``https://fed.library.example/idp`` (library/publisher federation, RS256): 1 h tokens for the discovery UI.

APIs (profile = service name, replicas, validator, leeway)
----------------------------------------------------------
- ``lms-api``: 4 replicas (the 4th autoscaled 07:30-19:00), ``jwtobs.VerifierSet`` (SSO + LMS profiles,
  ``JwksSource`` each, backend pyjwt, ``at+jwt``), leeway 30.
- ``grading-tool`` (LTI tool): 2 replicas, ``jwtobs.wrap(validate, library="pyjwt")`` around PyJWT +
  ``PyJWKClient`` (client recreated every 300 s), leeway 60.
- ``proctoring``: 3 replicas, joserfc ``jwt.decode`` + ``JWTClaimsRegistry`` with an app key cache, leeway 10.
- ``library-proxy``: 2 replicas, python-jose with an app key cache (15 min last-known-good), leeway 120.
- ``research-data``: 2 replicas, Authlib ``JsonWebToken.decode`` + ``claims.validate``, leeway 60.
- ``student-records``: 2 replicas, ``jwtobs.Verifier`` backend joserfc, leeway 0 (strict).
- ``mobile-backend``: 2 replicas, jwcrypto ``JWT.deserialize`` in the app's function, leeway 30.

Background (every timeline)
---------------------------
Diurnal/weekly curves (8-10 am lecture peak, dorm evenings, exam nights, flat HPC); sessions per device; devices
with their own clocks (most within seconds, a few minutes off, some drifting); proactive refreshers and lazy ones
(refresh after a 401: one expired token per token lifetime), laptops and phones resuming with tokens hours or days
old, LTI launches re-posted with the browser's back button, dorm Wi-Fi outages flushing queued requests, Slurm
jobs holding 8 h tokens; lab PCs reimaged nightly booting with a clock seconds off until NTP; scanners (1-3
garbage tokens/min: alg none, random kid, typ JWT without client, forged/tampered, truncated, huge, HS256 with the
public key, years-expired); healthy key rotations with overlap; JWKS blips (short 503s / resets); rolling
deploys, crashes and autoscaling (cold caches).

Incidents (``INCIDENTS``; 26 over the four 12 h timelines, each kind 2-3 times)
--------------------------------------------------------------------------------
- clock_skew: the lab's 300 PCs (one client id, ``lab-pc-kiosk``) booting 4 min ahead until NTP (monday morning
  peak; not-yet-valid tokens at the strict APIs); a testing centre's 40 proctoring PCs 6 min behind (exam
  night); 120 iPhones of a buggy build drifting 0 -> 15 min behind over 4 h (dorm friday).
- server_clock_skew: one proctoring replica drifting 0 -> +200 s (exam night, leeway 10); the LMS's clock 7 min
  behind (launch tokens born expired); one student-records replica 45 s behind at leeway 0.
- kid_before_publish: the LMS switches its signer 45 min before publishing the key; the SSO 7 min before, at the
  8-10 am peak.
- key_removed_early: the SSO removes its old key 5 min after the switch (15 min tokens); the LMS 12 min after
  (1 h service tokens held by the tool's lazy backend).
- signature_spike: the LMS signs with replaced key material under the current kid (45 min); half of the
  federation's nodes sign with a regenerated key under the same kid.
- jwks_outage: the federation's key set 503 for 54 min (+ a library-proxy restart with a 15 min last-known-good
  cache); the SSO's 40 min at night (+ a mobile-backend cold start); the HPC IdP's 66 min (+ a research-data
  restart).
- issuer_stalled: the research IdP's token endpoint down 5 h in the batch window (8 h tokens, refresh on 401);
  the federation's 2.5 h; the SSO's 30 min on a friday evening.
- audience_misconfig: the grading tool rolled out with the staging audience (profile); JupyterHub requesting
  tokens for ``research-data-dev`` (client); mobile-backend rolled out with ``mobile-api`` (profile).
- type_confusion: a quarter of the Android app's devices sending ID tokens to the LMS API; the records admin web
  app sending its ``Refresh`` tokens to student-records.
- attack_burst: a scanner at 12/s on the LMS API and student records (monday), a password-spraying burst at 8/s on
  exam night, a smaller one at 3/s on the mobile backend (friday).
Labels follow the brief: a rejection counts for an incident when its request carries the incident's tag and its
reason is one the kind causes (``REASONS_OF``).
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import hmac
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import warnings
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GENERATOR = "fleet50"
FP_KEY = "fleet50-fingerprint-key-0123456789abcdef"

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
    "sso": {"iss": "https://sso.uni.example/realms/campus", "alg": "ES256"},
    "lms": {"iss": "https://lms.uni.example", "alg": "RS256"},
    "hpc": {"iss": "https://idp.hpc.uni.example", "alg": "ES256"},
    "fed": {"iss": "https://fed.library.example/idp", "alg": "RS256"},
}

APIS = {
    "lms-api": {
        "kind": "verifierset",
        "backend": "pyjwt",
        "leeway": 30,
        "replicas": 4,
        "issuers": ("sso", "lms"),
        "aud": "lms-api",
    },
    "grading-tool": {"kind": "pyjwt", "leeway": 60, "replicas": 2, "issuers": ("lms",), "aud": "tool-gradebook-7f3a"},
    "proctoring": {"kind": "joserfc", "leeway": 10, "replicas": 3, "issuers": ("sso",), "aud": "proctoring"},
    "library-proxy": {"kind": "jose", "leeway": 120, "replicas": 2, "issuers": ("fed",), "aud": "library-proxy"},
    "research-data": {"kind": "authlib", "leeway": 60, "replicas": 2, "issuers": ("hpc",), "aud": "research-data"},
    "student-records": {
        "kind": "verifier",
        "backend": "joserfc",
        "leeway": 0,
        "replicas": 2,
        "issuers": ("sso",),
        "aud": "student-records",
    },
    "mobile-backend": {"kind": "jwcrypto", "leeway": 30, "replicas": 2, "issuers": ("sso",), "aud": "mobile-backend"},
}

# client key -> share of requests, mean requests per session, mean gap (s), devices, issuer, token lifetime,
# API mix, fraction of lazy (refresh-after-401) devices, traffic curve, client id, token kind
CLIENTS = {
    "portal-web": dict(
        share=0.30,
        m=25,
        gap=60,
        devices=3000,
        iss="sso",
        life=900,
        apis={"lms-api": 0.7, "student-records": 0.2, "proctoring": 0.1},
        lazy=0.08,
        curve="student",
        cid="campus-portal-web",
    ),
    "app-ios": dict(
        share=0.10,
        m=20,
        gap=45,
        devices=900,
        iss="sso",
        life=900,
        apis={"mobile-backend": 0.8, "lms-api": 0.2},
        lazy=0.5,
        curve="student",
        cid="student-app-ios",
    ),
    "app-android": dict(
        share=0.10,
        m=15,
        gap=40,
        devices=1100,
        iss="sso",
        life=900,
        apis={"mobile-backend": 0.8, "lms-api": 0.2},
        lazy=0.5,
        curve="student",
        cid="student-app-android",
    ),
    "lab-kiosk": dict(
        share=0.10,
        m=30,
        gap=50,
        devices=300,
        iss="sso",
        life=900,
        apis={"lms-api": 0.5, "proctoring": 0.25, "student-records": 0.25},
        lazy=0,
        curve="lab",
        cid="lab-pc-kiosk",
    ),
    "staff": dict(
        share=0.08,
        m=30,
        gap=90,
        devices=500,
        iss="sso",
        life=900,
        apis={"lms-api": 0.5, "student-records": 0.5},
        lazy=0.2,
        curve="office",
        cid="staff-desktop",
    ),
    "proctor": dict(
        share=0.05,
        m=120,
        gap=30,
        devices=250,
        iss="sso",
        life=900,
        apis={"proctoring": 1.0},
        lazy=0,
        curve="exam",
        cid="proctor-client",
    ),
    "records-admin": dict(
        share=0.03,
        m=20,
        gap=60,
        devices=60,
        iss="sso",
        life=900,
        apis={"student-records": 1.0},
        lazy=0,
        curve="office",
        cid="records-admin-web",
    ),
    "lti-launch": dict(
        share=0.04,
        m=1,
        gap=1,
        devices=2000,
        iss="lms",
        life=300,
        apis={"grading-tool": 1.0},
        lazy=0,
        curve="student",
        cid="tool-gradebook-7f3a",
        kind="launch",
    ),
    "lti-services": dict(
        share=0.04,
        m=150,
        gap=6,
        devices=4,
        iss="lms",
        life=3600,
        apis={"lms-api": 1.0},
        lazy=1.0,
        curve="office",
        cid="tool-gradebook-7f3a",
    ),
    "slurm": dict(
        share=0.06,
        m=60,
        gap=120,
        devices=150,
        iss="hpc",
        life=28800,
        apis={"research-data": 1.0},
        lazy=1.0,
        curve="flat",
        cid="slurm-batch",
    ),
    "jupyter": dict(
        share=0.03,
        m=40,
        gap=45,
        devices=80,
        iss="hpc",
        life=3600,
        apis={"research-data": 1.0},
        lazy=0,
        curve="office",
        cid="jupyterhub",
    ),
    "discovery": dict(
        share=0.05,
        m=12,
        gap=50,
        devices=1200,
        iss="fed",
        life=3600,
        apis={"library-proxy": 1.0},
        lazy=0.2,
        curve="student",
        cid="library-discovery",
    ),
}

H = 3600.0

TIMELINES = {
    "quiet-mon-semester": dict(
        start="2026-10-05T00:00:00Z", hours=24, quiet=True, volume=120000, seed=11, rotation=None, dorm=None
    ),
    "quiet-wed-rotation": dict(
        start="2026-10-14T00:00:00Z",
        hours=24,
        quiet=True,
        volume=120000,
        seed=12,
        rotation=("sso", 2, 10, 20),
        dorm=(21.0, 21.4),
    ),
    "quiet-sat-weekend": dict(
        start="2026-10-17T00:00:00Z", hours=24, quiet=True, volume=80000, seed=13, rotation=None, dorm=(23.2, 23.5)
    ),
    "quiet-thu-examweek": dict(
        start="2026-12-10T00:00:00Z",
        hours=24,
        quiet=True,
        volume=130000,
        seed=14,
        rotation=("lms", 0, 6, 18),
        dorm=None,
        exam=True,
    ),
    "inc-mon-lectures": dict(
        start="2026-11-02T06:00:00Z", hours=12, quiet=False, volume=120000, seed=21, rotation=None, dorm=None
    ),
    "inc-tue-exam-night": dict(
        start="2026-12-08T18:00:00Z",
        hours=12,
        quiet=False,
        volume=90000,
        seed=22,
        rotation=None,
        dorm=(4.0, 4.5),
        exam=True,
    ),
    "inc-wed-midterms": dict(
        start="2026-10-21T06:00:00Z", hours=12, quiet=False, volume=130000, seed=23, rotation=None, dorm=None, exam=True
    ),
    "inc-fri-dorms": dict(
        start="2026-11-13T12:00:00Z", hours=12, quiet=False, volume=100000, seed=24, rotation=None, dorm=(8.0, 8.6)
    ),
}

# Incidents: (timeline, id, kind, spec).  Offsets are hours from the timeline's start.
INCIDENTS = [
    # --- Monday of lectures, 06:00-18:00 ---
    (
        "inc-mon-lectures",
        "mon-lab-clock",
        "clock_skew",
        dict(
            client="lab-kiosk", offset=240, t0=0.5, t1=2.6, boot=True, note="lab image boots 4 min ahead, NTP blocked"
        ),
    ),
    (
        "inc-mon-lectures",
        "mon-lms-kid-late",
        "kid_before_publish",
        dict(iss="lms", t0=3.15, publish=3.9, note="LMS switched signer, publishes the new key 45 min late"),
    ),
    (
        "inc-mon-lectures",
        "mon-grading-aud",
        "audience_misconfig",
        dict(api="grading-tool", aud="tool-gradebook-staging", t0=7.0, t1=7.7, rolling=300),
    ),
    (
        "inc-mon-lectures",
        "mon-app-idtokens",
        "type_confusion",
        dict(client="app-android", api="lms-api", frac=0.25, t0=4.0, t1=6.5, tok="id"),
    ),
    (
        "inc-mon-lectures",
        "mon-fed-jwks",
        "jwks_outage",
        dict(iss="fed", t0=5.0, t1=5.9, restart=("library-proxy", 1, 5.35)),
    ),
    (
        "inc-mon-lectures",
        "mon-scan-burst",
        "attack_burst",
        dict(t0=9.0, t1=9.17, rate=12, apis=("lms-api", "student-records")),
    ),
    # --- Tuesday exam night, 18:00-06:00 ---
    (
        "inc-tue-exam-night",
        "tue-spray",
        "attack_burst",
        dict(t0=3.5, t1=3.85, rate=8, apis=("proctoring", "lms-api", "student-records")),
    ),
    (
        "inc-tue-exam-night",
        "tue-proctor-drift",
        "server_clock_skew",
        dict(api="proctoring", replica=2, t0=1.0, t1=5.0, drift=(0, 200)),
    ),
    ("inc-tue-exam-night", "tue-sso-removed", "key_removed_early", dict(iss="sso", switch=1.5, remove=1.58)),
    ("inc-tue-exam-night", "tue-hpc-stalled", "issuer_stalled", dict(iss="hpc", t0=4.0, t1=9.0)),
    (
        "inc-tue-exam-night",
        "tue-testing-center-clock",
        "clock_skew",
        dict(client="proctor", devices=40, offset=-360, t0=0.0, t1=5.0),
    ),
    (
        "inc-tue-exam-night",
        "tue-sso-jwks",
        "jwks_outage",
        dict(iss="sso", t0=8.0, t1=8.67, restart=("mobile-backend", 0, 8.2)),
    ),
    # --- Wednesday of midterms, 06:00-18:00 ---
    ("inc-wed-midterms", "wed-lms-badkey", "signature_spike", dict(iss="lms", t0=4.5, t1=5.25, frac=1.0)),
    ("inc-wed-midterms", "wed-sso-kid-early", "kid_before_publish", dict(iss="sso", t0=2.67, publish=2.79)),
    (
        "inc-wed-midterms",
        "wed-jupyter-aud",
        "audience_misconfig",
        dict(client="jupyter", aud="research-data-dev", t0=6.0, t1=8.0),
    ),
    ("inc-wed-midterms", "wed-fed-stalled", "issuer_stalled", dict(iss="fed", t0=3.0, t1=5.5)),
    ("inc-wed-midterms", "wed-lms-clock", "server_clock_skew", dict(iss="lms", offset=-420, t0=8.0, t1=10.0)),
    (
        "inc-wed-midterms",
        "wed-admin-refresh",
        "type_confusion",
        dict(client="records-admin", api="student-records", frac=0.4, t0=7.0, t1=8.5, tok="refresh"),
    ),
    (
        "inc-wed-midterms",
        "wed-hpc-jwks",
        "jwks_outage",
        dict(iss="hpc", t0=9.5, t1=10.6, restart=("research-data", 0, 10.0)),
    ),
    # --- Friday of the dorms, 12:00-24:00 ---
    (
        "inc-fri-dorms",
        "fri-ios-drift",
        "clock_skew",
        dict(client="app-ios", devices=120, drift=(0, -900), t0=1.0, t1=5.0, note="iOS build with a broken time sync"),
    ),
    ("inc-fri-dorms", "fri-lms-removed", "key_removed_early", dict(iss="lms", switch=2.0, remove=2.2)),
    ("inc-fri-dorms", "fri-fed-badkey", "signature_spike", dict(iss="fed", t0=2.0, t1=2.67, frac=0.5)),
    (
        "inc-fri-dorms",
        "fri-mobile-aud",
        "audience_misconfig",
        dict(api="mobile-backend", aud="mobile-api", t0=5.0, t1=5.42, rolling=240),
    ),
    (
        "inc-fri-dorms",
        "fri-records-clock",
        "server_clock_skew",
        dict(api="student-records", replica=1, offset=-45, t0=3.0, t1=6.0),
    ),
    ("inc-fri-dorms", "fri-mobile-burst", "attack_burst", dict(t0=10.0, t1=10.25, rate=3, apis=("mobile-backend",))),
    ("inc-fri-dorms", "fri-sso-stalled", "issuer_stalled", dict(iss="sso", t0=6.0, t1=6.5)),
]

CURVES_H = {  # hourly weight 0..23 (UTC = campus time)
    "student": [
        0.25,
        0.15,
        0.08,
        0.05,
        0.04,
        0.05,
        0.12,
        0.45,
        1.0,
        1.0,
        0.85,
        0.8,
        0.75,
        0.8,
        0.8,
        0.75,
        0.7,
        0.6,
        0.55,
        0.6,
        0.65,
        0.6,
        0.5,
        0.35,
    ],
    "lab": [0, 0, 0, 0, 0, 0, 0, 0.6, 1.0, 1.0, 0.9, 0.85, 0.8, 0.9, 0.9, 0.85, 0.7, 0.5, 0.4, 0.35, 0.3, 0.25, 0.1, 0],
    "office": [
        0.03,
        0.02,
        0.02,
        0.02,
        0.02,
        0.03,
        0.1,
        0.5,
        0.95,
        1.0,
        1.0,
        0.9,
        0.7,
        0.9,
        0.95,
        0.9,
        0.75,
        0.4,
        0.15,
        0.08,
        0.06,
        0.05,
        0.04,
        0.03,
    ],
    "exam": [
        0.1,
        0.05,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.3,
        1.0,
        1.0,
        0.9,
        0.5,
        0.3,
        1.0,
        1.0,
        0.8,
        0.4,
        0.2,
        0.5,
        0.9,
        1.0,
        0.8,
        0.3,
        0.15,
    ],
    "flat": [
        0.8,
        0.85,
        0.9,
        0.9,
        0.9,
        0.85,
        0.8,
        0.75,
        0.7,
        0.7,
        0.7,
        0.7,
        0.7,
        0.7,
        0.7,
        0.7,
        0.75,
        0.8,
        0.85,
        0.9,
        0.95,
        0.95,
        0.9,
        0.85,
    ],
}


def _ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _curve(name, t, weekend, exam):
    h = datetime.fromtimestamp(t, UTC)
    hh = h.hour + h.minute / 60.0
    c = CURVES_H[name]
    i = int(hh) % 24
    f = hh - int(hh)
    v = c[i] * (1 - f) + c[(i + 1) % 24] * f
    if weekend and name != "flat":
        v *= 0.35 if name in ("office", "lab") else 0.6
    if name == "exam" and not exam:
        v *= 0.25
    return v


# ----------------------------------------------------------------------------------------------------------------
# Keys (generated at run time)
# ----------------------------------------------------------------------------------------------------------------


def _new_key(alg):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(key, kid, alg):
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    pub = key.public_key()
    d = (RSAAlgorithm if alg == "RS256" else ECAlgorithm).to_jwk(pub, as_dict=True)
    d.update(kid=kid, use="sig", alg=alg)
    return d


# ----------------------------------------------------------------------------------------------------------------
# Plan building (main process)
# ----------------------------------------------------------------------------------------------------------------


class Plan:
    pass


def build_plan(name, seed_base, scale):
    cfg = TIMELINES[name]
    rng = random.Random(seed_base * 1000 + cfg["seed"])
    P = Plan()
    P.name = name
    P.start = _ts(cfg["start"])
    P.end = P.start + cfg["hours"] * H
    P.quiet = cfg["quiet"]
    P.seed = seed_base * 1000 + cfg["seed"]
    P.scale = scale
    wd = datetime.fromtimestamp(P.start, UTC).weekday()
    weekend = wd >= 5
    exam = cfg.get("exam", False)
    S, E = P.start, P.end
    incs = [(i, k, s) for (tl, i, k, s) in INCIDENTS if tl == name]
    P.incidents = {i: {"id": i, "kind": k, "spec": s} for i, k, s in incs}

    # --- keys: schedules of publication and signing per issuer ---------------------------------------------------
    # pubs[iss] = list of (kid, variant, t_pub, t_rem); signers[iss] = list of (t_from, kid, variant)
    P.keys = {}  # (iss, kid, variant) -> private key
    P.jwk = {}
    P.pubs, P.signers = {}, {}
    for ik, info in ISSUERS.items():
        k0 = f"{ik}-2026-{rng.randint(10, 99)}a"
        P.keys[(ik, k0, 0)] = _new_key(info["alg"])
        P.pubs[ik] = [[k0, 0, -1e18, 1e18]]
        P.signers[ik] = [(-1e18, k0, 0)]
    rot = cfg.get("rotation")
    if rot:  # healthy rotation: publish, switch signer hours later, remove long after the last token expired
        ik, tp, ts_, tr = rot
        new = f"{ik}-2026-{rng.randint(10, 99)}b"
        P.keys[(ik, new, 0)] = _new_key(ISSUERS[ik]["alg"])
        P.pubs[ik][0][3] = S + tr * H
        P.pubs[ik].append([new, 0, S + tp * H, 1e18])
        P.signers[ik].append((S + ts_ * H, new, 0))
    for _i, k, s in incs:
        ik = s.get("iss")
        if k == "kid_before_publish":
            new = f"{ik}-2026-{rng.randint(10, 99)}n"
            P.keys[(ik, new, 0)] = _new_key(ISSUERS[ik]["alg"])
            P.pubs[ik][0][3] = S + (s["publish"] + 6) * H  # old one kept well after
            P.pubs[ik].append([new, 0, S + s["publish"] * H, 1e18])
            P.signers[ik].append((S + s["t0"] * H, new, 0))
            s["kid"] = new
        elif k == "key_removed_early":
            old = P.pubs[ik][0][0]
            new = f"{ik}-2026-{rng.randint(10, 99)}r"
            P.keys[(ik, new, 0)] = _new_key(ISSUERS[ik]["alg"])
            P.pubs[ik].append([new, 0, S + (s["switch"] - 3) * H, 1e18])
            P.signers[ik].append((S + s["switch"] * H, new, 0))
            P.pubs[ik][0][3] = S + s["remove"] * H
            s["kid"] = old
        elif k == "signature_spike":
            # key material replaced under the same kid (botched HSM / node migration); frac of the signing nodes
            cur = P.signers[ik][-1][1]
            P.keys[(ik, cur, 1)] = _new_key(ISSUERS[ik]["alg"])
            s["kid"] = cur
    for ik in ISSUERS:
        P.signers[ik].sort()
        for kid, var, _a, _b in P.pubs[ik]:
            P.jwk[(ik, kid)] = _jwk(P.keys[(ik, kid, var)], kid, ISSUERS[ik]["alg"])
    P.signer_t = {ik: [x[0] for x in P.signers[ik]] for ik in ISSUERS}

    # --- JWKS availability: blips (background) and outages (incidents) --------------------------------------------
    P.down = {ik: [] for ik in ISSUERS}  # (t0, t1, mode)
    for ik in ISSUERS:
        for _ in range(rng.randint(2, 4)):
            t0 = rng.uniform(S, E - 120)
            P.down[ik].append((t0, t0 + rng.uniform(15, 90), rng.choice(["503", "reset"])))
    for _i, k, s in incs:
        if k == "jwks_outage":
            P.down[s["iss"]].append((S + s["t0"] * H, S + s["t1"] * H, "503"))

    # --- replicas: alive windows, restarts, clocks, audience overrides --------------------------------------------
    P.restarts = {}
    P.alive = {}
    P.rclock = {}
    P.aud_over = {}
    for api, a in APIS.items():
        for r in range(a["replicas"]):
            P.restarts[(api, r)] = []
            P.alive[(api, r)] = [(S, E)]
            P.rclock[(api, r)] = (rng.uniform(-0.05, 0.05), None)
            P.aud_over[(api, r)] = []
    # autoscaling: lms-api's 4th replica only in the day, proctoring's 3rd only in exam periods or the day
    P.alive[("lms-api", 3)] = _day_windows(S, E, 7.5, 19.0)
    if not exam:
        P.alive[("proctoring", 2)] = _day_windows(S, E, 8.0, 17.0)
    # rolling deploys and crashes
    for api, a in APIS.items():
        if rng.random() < 0.6:
            td = S + rng.uniform(0.15, 0.85) * (E - S)
            for r in range(a["replicas"]):
                P.restarts[(api, r)].append(td + r * 90)
        for _ in range(rng.randint(0, 2)):
            P.restarts[(api, rng.randrange(a["replicas"]))].append(rng.uniform(S, E))
    for _i, k, s in incs:
        if k == "jwks_outage" and s.get("restart"):
            api, r, th = s["restart"]
            P.restarts[(api, r)].append(S + th * H)
        if k == "server_clock_skew" and s.get("api"):
            key = (s["api"], s["replica"])
            P.rclock[key] = (P.rclock[key][0], (S + s["t0"] * H, S + s["t1"] * H, s.get("drift"), s.get("offset")))
            if s["api"] == "proctoring" and s["replica"] == 2:
                P.alive[key] = [(S, E)]
        if k == "audience_misconfig" and s.get("api"):
            for r in range(APIS[s["api"]]["replicas"]):
                t0 = S + s["t0"] * H + r * s.get("rolling", 0)
                t1 = S + s["t1"] * H + r * s.get("rolling", 0)
                P.aud_over[(s["api"], r)].append((t0, t1, s["aud"]))
                P.restarts[(s["api"], r)].append(t0)
                P.restarts[(s["api"], r)].append(t1)
    for key in P.restarts:
        P.restarts[key].sort()

    # --- issuer clocks & stalls ----------------------------------------------------------------------------------
    P.iclock = {ik: [] for ik in ISSUERS}  # (t0, t1, offset, inc)
    P.stall = {ik: [] for ik in ISSUERS}
    for i, k, s in incs:
        if k == "server_clock_skew" and s.get("iss"):
            P.iclock[s["iss"]].append((S + s["t0"] * H, S + s["t1"] * H, s["offset"], i))
        if k == "issuer_stalled":
            P.stall[s["iss"]].append((S + s["t0"] * H, S + s["t1"] * H, i))

    # --- traffic -------------------------------------------------------------------------------------------------
    P.tokens = []  # specs: (iss_key, kid, variant, headers, claims)
    P.tok_tags = []  # per token: list of (inc, until)
    P.garbage = []
    P.reqs = {key: [] for key in P.restarts}
    _gen_garbage(P, rng)
    V = cfg["volume"] * scale
    for ck, c in CLIENTS.items():
        _gen_client(P, rng, ck, c, V, weekend, exam, cfg, incs)
    _gen_scanners(P, rng, incs)
    for key in P.reqs:
        P.reqs[key].sort(key=lambda r: r[0])
    return P


def _day_windows(S, E, h0, h1):
    out = []
    d0 = S - (S % 86400)
    d = d0
    while d < E:
        a, b = max(S, d + h0 * H), min(E, d + h1 * H)
        if a < b:
            out.append((a, b))
        d += 86400
    return out


def _alive(P, key, t):
    return any(a <= t < b for a, b in P.alive[key])


def _pick_replica(P, rng, api, t):
    n = APIS[api]["replicas"]
    reps = [r for r in range(n) if _alive(P, (api, r), t)]
    if not reps:
        reps = [0]
    return reps[rng.randrange(len(reps))]


def _signer(P, ik, t):
    i = bisect.bisect_right(P.signer_t[ik], t) - 1
    _t, kid, var = P.signers[ik][max(i, 0)]
    return kid, var


def _iss_offset(P, ik, t):
    for t0, t1, off, inc in P.iclock[ik]:
        if t0 <= t < t1:
            return off, inc
    return 0.0, None


def _stalled(P, ik, t):
    for t0, t1, inc in P.stall[ik]:
        if t0 <= t < t1:
            return inc
    return None


def _issue(P, rng, ck, c, dev, t, dev_off, kind="at", aud=None, extra_tags=()):
    """Sign (later) a token for a device at true time t. Returns token id."""
    ik = c["iss"]
    info = ISSUERS[ik]
    off, clock_inc = _iss_offset(P, ik, t)
    it = t + off
    kid, var = _signer(P, ik, it)
    tags = list(extra_tags)
    for inc_id, inc in P.incidents.items():
        s = inc["spec"]
        if s.get("iss") != ik:
            continue
        if inc["kind"] == "signature_spike" and P.start + s["t0"] * H <= t < P.start + s["t1"] * H:
            if rng.random() < s["frac"]:
                var = 1
                tags.append(inc_id)
        elif inc["kind"] in ("kid_before_publish", "key_removed_early") and kid == s["kid"]:
            tags.append(inc_id)
    if clock_inc:
        tags.append(clock_inc)
    if c.get("kiosk"):  # lab kiosk broker: validity starts at the PC's clock
        it = t + dev_off
    iat = int(it)
    life = c["life"]
    cid = c["cid"]
    sub = "u" + hashlib.sha256(f"{ck}/{dev}".encode()).hexdigest()[:10]
    if kind == "id":
        claims = {
            "iss": info["iss"],
            "sub": sub,
            "aud": cid,
            "exp": iat + 300,
            "iat": iat,
            "auth_time": iat - 40,
            "nonce": _b64(rng.randbytes(9)),
        }
        hdr = {"typ": "JWT"}
    elif kind == "refresh":
        claims = {
            "iss": info["iss"],
            "sub": sub,
            "aud": info["iss"],
            "azp": cid,
            "exp": iat + 1800,
            "iat": iat,
            "typ": "Refresh",
            "sid": _b64(rng.randbytes(6)),
        }
        hdr = {"typ": "Refresh"}
    elif kind == "launch":
        claims = {
            "iss": info["iss"],
            "sub": sub,
            "aud": cid,
            "azp": cid,
            "exp": iat + life,
            "iat": iat,
            "nonce": _b64(rng.randbytes(9)),
            "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-17",
        }
        hdr = {"typ": "JWT"}
    else:
        target = aud or (c.get("aud_all") or "")
        claims = {
            "iss": info["iss"],
            "sub": sub,
            "aud": target,
            "azp": cid,
            "client_id": cid,
            "exp": iat + life,
            "iat": iat,
            "nbf": iat,
            "jti": _b64(rng.randbytes(9)),
            "scope": "openid profile",
        }
        hdr = {"typ": "at+jwt"}
    hdr["kid"] = kid
    P.tokens.append((ik, kid, var, hdr, claims))
    until = claims["exp"] + 900
    P.tok_tags.append([(x, until) for x in tags])
    return len(P.tokens) - 1


def _dev_offset(dv, t):
    base, drift = dv["off"], dv.get("drift")
    v = base
    if drift:
        t0, t1, a, b = drift
        if t0 <= t < t1:
            v += a + (b - a) * (t - t0) / (t1 - t0)
        elif t >= t1:
            v += 0  # fixed (NTP / patched build)
    ov = dv.get("over")
    if ov:
        for t0, t1, off in ov:
            if t0 <= t < t1:
                v += off
    return v


def _gen_client(P, rng, ck, c, V, weekend, exam, cfg, incs):
    c = dict(c, kiosk=(ck == "lab-kiosk"))
    S, E = P.start, P.end
    nsess = max(1, round(c["share"] * V / c["m"]))
    ndev = c["devices"]
    devs = []
    for _d in range(ndev):
        r = rng.random()
        if r < 0.9:
            off = rng.gauss(0, 2)
        elif r < 0.97:
            off = rng.uniform(-25, 25)
        else:
            off = rng.choice([-1, 1]) * rng.uniform(60, 240)
        dv = {
            "off": off,
            "lazy": rng.random() < c["lazy"],
            "tok": None,
            "exp": 0,
            "last": None,
            "dorm": ck in ("portal-web", "app-ios", "app-android") and rng.random() < 0.35,
            "over": [],
        }
        if ck == "lab-kiosk":
            dv["off"] = rng.gauss(0, 1)
        devs.append(dv)
    # per-device overrides from incidents and lab boots
    my = [(i, k, s) for i, k, s in incs if s.get("client") == ck]
    clock_tags = []  # (t0, t1, inc, set(devices) or None)
    for i, k, s in my:
        t0, t1 = S + s["t0"] * H, S + s["t1"] * H
        if k == "clock_skew":
            nd = s.get("devices") or ndev
            # the affected devices: a group among the busier ones (a testing centre, early adopters of a build)
            chosen = set(rng.sample(range(min(ndev, 3 * nd)), nd)) if nd < ndev else set(range(ndev))
            for d in chosen:
                devs[d]["lazy"] = False  # the affected build refreshes by its own clock
                if s.get("drift"):
                    a, b = s["drift"]
                    devs[d]["drift"] = (t0, t1, a, b)
                else:
                    devs[d]["over"].append((t0, t1, s["offset"]))
            clock_tags.append((t0, t1 + 900, i, chosen))
    # lab PCs: reimaged nightly; boot 06:30-07:45 with a clock a few seconds off until NTP (2-6 min)
    if ck == "lab-kiosk":
        inc_boot = [(i, s) for i, k, s in my if k == "clock_skew" and s.get("boot")]
        day = S - (S % 86400)
        while day < E:
            for dv in devs:
                b = day + 6.5 * H + rng.uniform(0, 4500)
                if inc_boot and b < S + inc_boot[0][1]["t1"] * H and b >= S + inc_boot[0][1]["t0"] * H - 3600:
                    s = inc_boot[0][1]
                    ntp = min(b + rng.uniform(1500, 2700), S + s["t1"] * H)
                    dv["over"].append((b, ntp, s["offset"]))
                else:
                    dv["over"].append((b, b + rng.uniform(120, 360), rng.uniform(-20, 20)))
            day += 86400
    # tokens held from before the timeline (laptops / phones sleeping)
    for d, dv in enumerate(devs):
        if rng.random() < 0.5 and c["life"] < 20000:
            ago = rng.choice([rng.uniform(1, 10) * H, rng.uniform(10, 96) * H])
            dv["tok"] = _issue(P, rng, ck, c, d, S - ago, dv["off"], kind=c.get("kind", "at"), aud=_first_api_aud(c))
            dv["exp"] = P.tokens[dv["tok"]][4]["exp"]
    apis = list(c["apis"].items())
    acum = []
    tot = 0
    for _a, w in apis:
        tot += w
        acum.append(tot)
    zipf = [1.0 / (1 + d) ** 0.6 for d in range(ndev)]
    zc = []
    tot2 = 0
    for z in zipf:
        tot2 += z
        zc.append(tot2)
    dorm = cfg.get("dorm")
    dorm_w = (S + dorm[0] * H, S + dorm[1] * H) if dorm else None
    # incidents on this client: type confusion, audience misconfig (client side)
    tc = [(i, s) for i, k, s in my if k == "type_confusion"]
    am = [(i, s) for i, k, s in my if k == "audience_misconfig"]
    tc_dev = {}
    for i, s in tc:
        tc_dev[i] = set(rng.sample(range(ndev), max(1, int(ndev * s["frac"]))))
    sessions = []
    for _ in range(nsess):
        for _try in range(200):
            t = rng.uniform(S - 1800, E)
            if rng.random() < _curve(c["curve"], t, weekend, exam):
                break
        d = min(bisect.bisect_left(zc, rng.random() * tot2), ndev - 1)
        sessions.append((t, d))
    sessions.sort()
    times = []  # every request of every session, processed in time order (devices keep one token state)
    for t0s, d in sessions:
        n = max(1, int(rng.expovariate(1.0 / c["m"]))) if c["m"] > 1 else 1
        n = min(n, 400)
        t = t0s
        for j in range(n):
            if j:
                t += rng.expovariate(1.0 / c["gap"])
            if t >= E:
                break
            if t >= S:
                times.append((t, d, j))
    times.sort()
    for t, d, j in times:
        dv = devs[d]
        resumed = dv["last"] is None or t - dv["last"] > 2 * H
        dv["last"] = t
        if True:
            api = apis[bisect.bisect_left(acum, rng.random() * tot)][0] if len(apis) > 1 else apis[0][0]
            leeway = APIS[api]["leeway"]
            local = t + _dev_offset(dv, t)
            kind = c.get("kind", "at")
            ctags = [inc for (a, b, inc, ds) in clock_tags if a <= t < b and d in ds]
            # token choice
            if kind == "launch":
                tok = _issue(P, rng, ck, c, d, t, _dev_offset(dv, t), kind="launch")
                _emit(P, rng, api, t, tok, ctags)
                if rng.random() < 0.025:  # re-posted from the browser's back button later
                    t2 = t + rng.choice([rng.uniform(20, 600), rng.uniform(600, 7200)])
                    if t2 < E:
                        _emit(P, rng, api, t2, tok, ctags)
                continue
            special = None
            for i, s in tc:
                if S + s["t0"] * H <= t < S + s["t1"] * H and d in tc_dev[i] and api == s["api"]:
                    special = (i, s["tok"])
            if special:
                tk = _issue(P, rng, ck, c, d, t, _dev_offset(dv, t), kind=special[1])
                _emit(P, rng, api, t, tk, [*ctags, special[0]])
                continue
            aud_inc = None
            for i, s in am:
                if S + s["t0"] * H <= t < S + s["t1"] * H:
                    aud_inc = (i, s["aud"])
            stall = _stalled(P, c["iss"], t)
            use_old = resumed and j == 0 and dv["tok"] is not None and rng.random() < 0.4
            need = dv["tok"] is None or (not dv["lazy"] and not use_old and local >= dv["exp"] - 60)
            if aud_inc and dv["tok"] is not None and P.tokens[dv["tok"]][4].get("aud") != aud_inc[1]:
                need = True
            if need and stall is None:
                dv["tok"] = _issue(
                    P,
                    rng,
                    ck,
                    c,
                    d,
                    t,
                    _dev_offset(dv, t),
                    aud=aud_inc[1] if aud_inc else _first_api_aud(c),
                    extra_tags=[aud_inc[0]] if aud_inc else [],
                )
                dv["exp"] = P.tokens[dv["tok"]][4]["exp"]
            if dv["tok"] is None:
                continue
            tags = list(ctags)
            if stall is not None:
                tags.append(stall)
            tt = t
            if dorm_w and dv["dorm"] and dorm_w[0] <= t < dorm_w[1]:
                tt = dorm_w[1] + rng.uniform(0, 25)  # queued while the Wi-Fi was down, flushed when it came back
            _emit(P, rng, api, tt, dv["tok"], tags)
            # a rejected expired token makes lazy devices (and resumed ones) refresh and retry
            if tt > dv["exp"] + leeway and (dv["lazy"] or use_old):
                st2 = _stalled(P, c["iss"], tt + 0.5)
                if st2 is None and tt + 0.5 < E:
                    dv["tok"] = _issue(P, rng, ck, c, d, tt + 0.4, _dev_offset(dv, tt), aud=_first_api_aud(c))
                    dv["exp"] = P.tokens[dv["tok"]][4]["exp"]
                    _emit(P, rng, api, tt + 0.5, dv["tok"], ctags)


def _first_api_aud(c):
    # access tokens name every API of the client (resource indicators of the SSO's client scope)
    auds = [APIS[a]["aud"] for a in c["apis"]]
    return auds if len(auds) > 1 else auds[0]


def _emit(P, rng, api, t, tokref, tags):
    r = _pick_replica(P, rng, api, t)
    tg = list(tags)
    if tokref >= 0:
        for inc, until in P.tok_tags[tokref]:
            if t <= until:
                tg.append(inc)
        iss = P.tokens[tokref][0]
        for inc_id, inc in P.incidents.items():
            s = inc["spec"]
            k = inc["kind"]
            if k == "jwks_outage" and s["iss"] == iss and P.start + s["t0"] * H <= t < P.start + s["t1"] * H + 600:
                tg.append(inc_id)
            elif k == "issuer_stalled" and s["iss"] == iss and P.start + s["t0"] * H <= t < P.start + s["t1"] * H + 900:
                tg.append(inc_id)
    for inc_id, inc in P.incidents.items():
        s = inc["spec"]
        if inc["kind"] == "server_clock_skew" and s.get("api") == api and s["replica"] == r:
            if P.start + s["t0"] * H <= t < P.start + s["t1"] * H:
                tg.append(inc_id)
        elif inc["kind"] == "audience_misconfig" and s.get("api") == api:
            for t0, t1, _a in P.aud_over[(api, r)]:
                if t0 <= t < t1:
                    tg.append(inc_id)
    P.reqs[(api, r)].append((t, tokref, tuple(sorted(set(tg)))))


# ----------------------------------------------------------------------------------------------------------------
# Scanners and attack bursts
# ----------------------------------------------------------------------------------------------------------------


def _raw(header, claims, sig=b""):
    h = _b64(json.dumps(header, separators=(",", ":")).encode())
    p = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{p}.{_b64(sig)}"


def _gen_garbage(P, rng):
    import jwt
    from cryptography.hazmat.primitives import serialization

    atk_rsa = _new_key("RS256")
    atk_ec = _new_key("ES256")
    real_kids = {ik: P.pubs[ik][0][0] for ik in ISSUERS}
    isslist = [v["iss"] for v in ISSUERS.values()]
    now = int(P.start)
    out = []
    for n in range(400):
        kind = n % 10
        iss = rng.choice([*isslist, "https://login.example.com", "http://localhost:8080"])
        ik = next((k for k, v in ISSUERS.items() if v["iss"] == iss), "sso")
        claims = {
            "iss": iss,
            "sub": rng.choice(["admin", "root", "1", "test", "student"]),
            "aud": rng.choice(["lms-api", "account", "api", "student-records", "mobile-backend"]),
            "exp": now + rng.randint(600, 10**7),
            "iat": now - rng.randint(0, 999),
        }
        if kind == 0:  # alg none
            tok = _raw({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}, claims)
        elif kind == 1:  # random kid, attacker key
            tok = jwt.encode(claims, atk_rsa, algorithm="RS256", headers={"kid": _b64(rng.randbytes(8))})
        elif kind == 2:  # typ JWT, no client id, real kid, attacker key
            tok = jwt.encode(
                claims,
                atk_ec if ISSUERS[ik]["alg"] == "ES256" else atk_rsa,
                algorithm=ISSUERS[ik]["alg"],
                headers={"kid": real_kids[ik], "typ": "JWT"},
            )
        elif kind == 3:  # tampered: real-looking token, payload swapped
            base = jwt.encode(claims, atk_ec, algorithm="ES256", headers={"kid": real_kids["sso"], "typ": "at+jwt"})
            h, _p, s = base.split(".")
            claims2 = dict(claims, sub="admin", scope="admin")
            tok = f"{h}.{_b64(json.dumps(claims2).encode())}.{s}"
        elif kind == 4:  # truncated
            t = jwt.encode(claims, atk_rsa, algorithm="RS256", headers={"kid": real_kids["lms"]})
            tok = t[: rng.randint(20, len(t) - 5)]
        elif kind == 5:  # huge
            tok = jwt.encode(dict(claims, pad="A" * rng.choice([9000, 70000])), atk_ec, algorithm="ES256")
        elif kind == 6:  # HS256 with the issuer's public key as secret
            pub = (
                P.keys[(ik, real_kids[ik], 0)]
                .public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            )
            h = {"alg": "HS256", "typ": "JWT", "kid": real_kids[ik]}
            si = _raw(h, claims).rsplit(".", 1)[0]
            tok = si + "." + _b64(hmac.new(pub, si.encode(), hashlib.sha256).digest())
        elif kind == 7:  # years-expired leaked token from an old key
            c2 = dict(claims, exp=now - rng.randint(2, 5) * 365 * 86400, iat=now - 6 * 365 * 86400)
            tok = jwt.encode(c2, atk_rsa, algorithm="RS256", headers={"kid": f"{ik}-20{rng.randint(19, 23)}-01"})
        elif kind == 8:  # not even a JWT
            tok = rng.choice(
                ["null", "undefined", "Bearer", "eyJhbGciOiJIUzI1NiJ9", "' OR 1=1 --", _b64(rng.randbytes(40))]
            )
        else:  # HS256 with guessed secrets
            tok = jwt.encode(
                claims,
                rng.choice(["secret", "changeme", "password123", "uni"]) * 8,
                algorithm="HS256",
                headers={"typ": "JWT"},
            )
        out.append(tok)
    P.garbage = out


def _gen_scanners(P, rng, incs):
    S, E = P.start, P.end
    api_list = list(APIS)
    t = S
    for _ in range(200000):
        t += rng.expovariate(rng.uniform(1, 2.2) / 60.0)
        if t >= E:
            break
        api = rng.choice(api_list)
        g = rng.randrange(len(P.garbage))
        P.reqs[(api, _pick_replica(P, rng, api, t))].append((t, -1 - g, ()))
    for i, k, s in incs:
        if k != "attack_burst":
            continue
        t = S + s["t0"] * H
        t1 = S + s["t1"] * H
        for _ in range(500000):
            t += rng.expovariate(s["rate"] * max(P.scale, 0.05))
            if t >= t1:
                break
            api = rng.choice(s["apis"])
            g = rng.randrange(len(P.garbage))
            P.reqs[(api, _pick_replica(P, rng, api, t))].append((t, -1 - g, (i,)))


# ----------------------------------------------------------------------------------------------------------------
# Signing (pool)
# ----------------------------------------------------------------------------------------------------------------

_PLAN = None


def _sign_chunk(bounds):
    import jwt

    a, b = bounds
    out = []
    for ik, kid, var, hdr, claims in _PLAN.tokens[a:b]:
        out.append(jwt.encode(claims, _PLAN.keys[(ik, kid, var)], algorithm=ISSUERS[ik]["alg"], headers=hdr))
    return out


# ----------------------------------------------------------------------------------------------------------------
# The fleet (one process per replica file)
# ----------------------------------------------------------------------------------------------------------------

_CUR = [0.0]
_SERVER = [None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_GET(self):
        P = _PLAN
        t = _CUR[0]
        ik = self.path.strip("/").split("/")[0]
        if ik not in ISSUERS:
            self.send_response(404)
            self.end_headers()
            return
        for t0, t1, mode in P.down[ik]:
            if t0 <= t < t1:
                if mode == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self.send_response(503)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html>Service Unavailable</html>")
                return
        keys = [P.jwk[(ik, kid)] for kid, _v, a, b in P.pubs[ik] if a <= t < b]
        body = json.dumps({"keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server():
    if _SERVER[0] is None:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _SERVER[0] = srv
    return _SERVER[0].server_address[1]


def _kid_of(token):
    try:
        h = token.split(".", 1)[0]
        return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))).get("kid")
    except Exception:
        return None


class KeyCache:
    """The app's own key-set cache: TTL 300 s, refetch on an unknown kid at most every 30 s, last-known-good for
    max_stale seconds; with nothing usable the fetch error propagates (urllib's)."""

    def __init__(self, url, parse, max_stale=3600):
        self.url, self.parse, self.max_stale = url, parse, max_stale
        self.doc, self.parsed, self.kids = None, None, set()
        self.fetched = -1e18
        self.last_try = -1e18
        self.err = None

    def get(self, kid):
        import urllib.error
        import urllib.request

        now = time.time()
        stale = now - self.fetched > 300
        missing = kid is not None and self.doc is not None and kid not in self.kids
        wait = 30 if (self.err is not None or missing) else 0
        if (self.doc is None or stale or missing) and now - self.last_try >= wait:
            self.last_try = now
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    doc = json.loads(r.read())
                self.doc, self.parsed = doc, self.parse(doc)
                self.kids = {k.get("kid") for k in doc.get("keys", [])}
                self.fetched, self.err = now, None
            except Exception as e:
                self.err = e
        if self.doc is None or now - self.fetched > self.max_stale:
            raise self.err if self.err is not None else urllib.error.URLError("no keys")
        return self.parsed


def _make_app(api, port, aud):
    import jwtobs

    a = APIS[api]
    lw = a["leeway"]
    urls = {ik: f"http://127.0.0.1:{port}/{ik}/jwks.json" for ik in ISSUERS}
    iss0 = a["issuers"][0]
    ISS = ISSUERS[iss0]["iss"]
    alg = ISSUERS[iss0]["alg"]
    k = a["kind"]
    if k in ("verifier", "verifierset"):
        vs = []
        for ik in a["issuers"]:
            prof = jwtobs.Profile(
                name=api,
                issuer=ISSUERS[ik]["iss"],
                audience=aud,
                algorithms=(ISSUERS[ik]["alg"],),
                token_type="at+jwt",
                leeway=lw,
            )
            src = jwtobs.JwksSource(urls[ik], clock=time.time, cooldown=30, timeout=2.0)
            vs.append(jwtobs.Verifier(prof, keys=src, backend=a["backend"], clock=time.time))
        v = jwtobs.VerifierSet(vs) if len(vs) > 1 else vs[0]
        return v.verify
    if k == "pyjwt":
        import jwt

        state = {"client": None, "made": -1e18}

        def validate(token):
            now = time.time()
            if state["client"] is None or now - state["made"] > 300:
                state["client"] = jwt.PyJWKClient(urls[iss0], cache_jwk_set=True, lifespan=300, timeout=2)
                state["made"] = now
            sk = state["client"].get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                sk.key,
                algorithms=[alg],
                audience=aud,
                issuer=ISS,
                leeway=lw,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if k == "jose":
        from jose import jwt as jjwt

        cache = KeyCache(urls[iss0], lambda d: d, max_stale=900)

        def validate(token):
            keys = cache.get(_kid_of(token))
            return jjwt.decode(token, keys, algorithms=[alg], audience=aud, issuer=ISS, options={"leeway": lw})

        return jwtobs.wrap(validate, library="jose", profile=api)
    if k == "joserfc":
        from joserfc import jwt as rjwt
        from joserfc.jwk import KeySet

        cache = KeyCache(urls[iss0], KeySet.import_key_set)

        def validate(token):
            ks = cache.get(_kid_of(token))
            tok = rjwt.decode(token, ks, algorithms=[alg])
            reg = rjwt.JWTClaimsRegistry(
                leeway=lw,
                iss={"essential": True, "value": ISS},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            )
            reg.validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if k == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken

        ajwt = JsonWebToken([alg])
        cache = KeyCache(urls[iss0], JsonWebKey.import_key_set)
        opts = {
            "iss": {"essential": True, "value": ISS},
            "aud": {"essential": True, "value": aud},
            "exp": {"essential": True},
        }

        def validate(token):
            ks = cache.get(_kid_of(token))
            claims = ajwt.decode(token, ks, claims_options=opts)
            claims.validate(leeway=lw)
            return dict(claims)

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if k == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        cache = KeyCache(urls[iss0], lambda d: cjwk.JWKSet.from_json(json.dumps(d)))

        def validate(token):
            ks = cache.get(_kid_of(token))
            j = cjwt.JWT(
                algs=[alg], check_claims={"iss": ISS, "aud": aud, "exp": None, "nbf": None}, expected_type="JWS"
            )
            j.leeway = lw
            j.deserialize(token, ks)
            return json.loads(j.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(k)


def _rclock(P, key, t):
    base, inc = P.rclock[key]
    if inc:
        t0, t1, drift, off = inc
        if t0 <= t < t1:
            if drift:
                return base + drift[0] + (drift[1] - drift[0]) * (t - t0) / (t1 - t0)
            return base + off
    return base


def _run_replica(args):
    out, api, r = args
    import time_machine

    import jwtobs

    P = _PLAN
    key = (api, r)
    reqs = P.reqs[key]
    path = os.path.join(out, P.name, "events", f"{api}-{r}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(events_path=path, service=api, fingerprint_key=FP_KEY)
    port = _server()
    restarts = P.restarts[key]
    ri = 0
    app, app_aud = None, None
    with time_machine.travel(P.start, tick=False) as tr:
        for t, tokref, _tags in reqs:
            while ri < len(restarts) and restarts[ri] <= t:
                app = None
                ri += 1
            aud = APIS[api]["aud"]
            for t0, t1, a2 in P.aud_over[key]:
                if t0 <= t < t1:
                    aud = a2
            if app is None or aud != app_aud:
                app, app_aud = _make_app(api, port, aud), aud
            _CUR[0] = t
            tr.move_to(t + _rclock(P, key, t))
            token = TOKENS[tokref] if tokref >= 0 else P.garbage[-1 - tokref]
            try:
                app(token)
            except Exception:
                pass
    jwtobs.flush()
    return key, len(reqs)


TOKENS = []


# ----------------------------------------------------------------------------------------------------------------
# Labels
# ----------------------------------------------------------------------------------------------------------------


def _labels(P, out, wall):
    inc = {i: {"n": 0, "first": None, "last": None} for i in P.incidents}
    reasons = {}
    n_val = n_rej = 0
    mism = []
    for key, reqs in P.reqs.items():
        path = os.path.join(out, P.name, "events", f"{key[0]}-{key[1]}.jsonl")
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    e = json.loads(line)
                    if "event" in e:
                        continue
                    evs.append(e)
        if len(evs) != len(reqs):
            mism.append([f"{key[0]}-{key[1]}", len(reqs), len(evs)])
        for (_t, _tok, tags), e in zip(reqs, evs, strict=False):
            n_val += 1
            if e["outcome"] != "rejected":
                continue
            n_rej += 1
            reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
            for i in tags:
                rs = REASONS_OF[P.incidents[i]["kind"]]
                if rs is None or e["reason"] in rs:
                    x = inc[i]
                    x["n"] += 1
                    if x["first"] is None or e["time"] < x["first"]:
                        x["first"] = e["time"]
                    if x["last"] is None or e["time"] > x["last"]:
                        x["last"] = e["time"]
    labels = []
    missing = []
    for i, d in P.incidents.items():
        k, s = d["kind"], d["spec"]
        if inc[i]["n"] == 0:
            missing.append(i)
            continue
        iss = ISSUERS[s["iss"]]["iss"] if s.get("iss") else None
        scope_kid = k in ("kid_before_publish", "key_removed_early", "signature_spike")
        client = CLIENTS[s["client"]]["cid"] if s.get("client") else None
        profile = s.get("api") if k in ("audience_misconfig", "server_clock_skew") and s.get("api") else None
        labels.append(
            {
                "id": i,
                "kind": k,
                "start": inc[i]["first"],
                "end": inc[i]["last"],
                "count": inc[i]["n"],
                "issuer": iss
                if k
                in (
                    "kid_before_publish",
                    "key_removed_early",
                    "jwks_outage",
                    "signature_spike",
                    "server_clock_skew",
                    "issuer_stalled",
                )
                else None,
                "kid": s.get("kid") if scope_kid else None,
                "client_id": client if k in ("clock_skew", "audience_misconfig", "type_confusion") else None,
                "profile": profile,
                "detail": {kk: v for kk, v in s.items() if kk not in ("note",) and not callable(v)}
                | ({"note": s["note"]} if s.get("note") else {}),
            }
        )
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    doc = {
        "timeline": P.name,
        "quiet": P.quiet,
        "seed": P.seed,
        "start": datetime.fromtimestamp(P.start, UTC).strftime(fmt),
        "end": datetime.fromtimestamp(P.end, UTC).strftime(fmt),
        "generator": GENERATOR,
        "incidents": sorted(labels, key=lambda x: x["start"]),
    }
    with open(os.path.join(out, P.name, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)
    summ = {
        "timeline": P.name,
        "validations": n_val,
        "rejections": n_rej,
        "rejection_rate": round(n_rej / max(n_val, 1), 5),
        "reasons": dict(sorted(reasons.items(), key=lambda x: -x[1])),
        "incidents_injected": len(P.incidents),
        "incidents_labelled": len(labels),
        "injected_without_counted_rejection": missing,
        "counts": {i: inc[i]["n"] for i in P.incidents},
        "event_count_mismatch": mism,
        "tokens_signed": len(TOKENS),
        "wall_s": round(wall, 1),
    }
    with open(os.path.join(out, P.name, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
    return summ


def run_timeline(name, out, seed_base, scale, workers):
    global _PLAN, TOKENS
    t0 = time.time()
    P = build_plan(name, seed_base, scale)
    _PLAN = P
    os.makedirs(os.path.join(out, name, "events"), exist_ok=True)
    ctx = mp.get_context("fork")
    n = len(P.tokens)
    step = max(1, math.ceil(n / (workers * 4)))
    with ctx.Pool(workers) as pool:
        chunks = pool.map(_sign_chunk, [(a, min(n, a + step)) for a in range(0, n, step)])
    TOKENS = [x for ch in chunks for x in ch]
    jobs = sorted(P.reqs, key=lambda k: -len(P.reqs[k]))
    with ctx.Pool(workers, maxtasksperchild=1) as pool:
        list(pool.imap_unordered(_run_replica, [(out, a, r) for a, r in jobs]))
    s = _labels(P, out, time.time() - t0)
    print(
        f"{name}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, "
        f"labelled {s['incidents_labelled']}/{s['incidents_injected']}, {s['wall_s']} s",
        flush=True,
    )
    return s


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def main(argv=None):
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=50)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    a = ap.parse_args(argv)
    names = [x for x in a.only.split(",") if x] or list(TIMELINES)
    for x in names:
        if x not in TIMELINES:
            ap.error(f"unknown timeline {x}")
    if not a.score_only:
        t0 = time.time()
        for x in names:
            run_timeline(x, a.out, a.seed_base, a.scale, a.workers)
        print(f"total wall time {time.time() - t0:.1f} s")
    if a.score or a.score_only:
        print(json.dumps(_score(a.out, names), indent=1, default=str))


if __name__ == "__main__":
    main()
