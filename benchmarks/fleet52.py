# ruff: noqa: B007, B905, RUF046  (a blind generator, kept as its author wrote it: docs/analysis.md, session 40)
"""fleet52: a blind benchmark fleet for jwtobs - a retail bank with an open-banking (PSD2/FAPI-style) platform.

Design note
===========

Every event in the output is written by jwtobs from a real validation: keys are generated at run time
(cryptography), tokens are signed with PyJWT, key sets are served by a real ``http.server`` on 127.0.0.1 (port 0)
in each worker process, simulated time is moved with ``time_machine`` (``travel(tick=False)`` + ``move_to`` before
each validation; a replica with a wrong clock is simply moved to ``t + offset``), and every replica of every API
writes its own events file (``<out>/<timeline>/events/<api>-<replica>.jsonl``, ``configure(service=<api>)``).

Issuers
-------
* ``https://login.bank.example/customer`` - customer IdP (ES256). Mobile apps (``mobile-ios``,
  ``mobile-android``; 5-minute access tokens, apps read ``exp`` with the phone's own clock) and web banking
  (``web-banking``, 15 minutes, a BFF that refreshes by ``expires_in``).
* ``https://ob.bank.example/as`` - open-banking authorization server (PS256), ~120 licensed TPPs (``tpp-*``),
  one client id per TPP and one token per (TPP, end customer) consent; 15-minute tokens. Most TPPs refresh
  proactively, ~12 % only after a 401; most poll every 1-6 hours on the hour (rate-limited: their customers are
  spread over a few minutes), a few (``tpp-budgetly``) poll every 10 minutes for balance alerts.
* ``https://sts.corp.bank.example`` - workforce IdP (RS256, nbf set): branch terminals per region
  (``branch-term-<region>``, 10 min), call-centre desktops (``callcentre-desktop``), internal services
  (``payments-svc``, ``cards-svc``, 15 min) and batch jobs (``batch-statements``, 1 hour tokens, runs longer).
* ``https://tokens.cardnet.example`` - card-network partner, signs its own 2-minute tokens (ES256, nbf=iat) for
  tokenized-card callbacks, one fresh token per callback; failed deliveries are retried later with the same token.

APIs (validator kind, leeway, replicas)
---------------------------------------
* ``accounts-api``: ``jwtobs.VerifierSet`` (customer IdP + OB AS), ``JwksSource`` (max_stale 15 min), backend
  pyjwt, leeway 30 s, 3 replicas.
* ``payments-api``: ``jwtobs.VerifierSet`` (customer IdP + OB AS), backend joserfc, leeway 0, 3 replicas.
* ``consents-api``: ``jwtobs.wrap`` around the app's PyJWT + ``PyJWKClient`` (a new client once on an
  unknown kid), leeway 60 s, 2 replicas.
* ``card-callback-api``: ``jwtobs.wrap(library="jose")`` around python-jose with the app's own key cache
  (urllib, 10 min TTL, no stale fallback), leeway 10 s, 2 replicas.
* ``branch-api``: ``jwtobs.wrap(library="joserfc")`` (decode + ``JWTClaimsRegistry``), own key cache, leeway
  120 s, 2 replicas.
* ``fraud-scoring``: ``jwtobs.wrap(library="authlib")`` (decode + ``claims.validate``), leeway 5 s, 2 replicas.
* ``statements-batch``: ``jwtobs.wrap(library="jwcrypto")`` (``JWT(...).deserialize`` with a ``JWKSet``),
  leeway 60 s, 2 replicas.

Background (every timeline)
---------------------------
Diurnal/weekly curves (mobile peaks at lunch and evening, branch opening hours, salary-day factor, midnight
statement batch, TPP polling bursts on the hour); per-device clocks (most within 2 s, some off by seconds to
minutes, a few drifting; branch terminals sometimes boot minutes off until NTP); apps resumed after a while that
first present their stale token; lazy TPPs that refresh only after a 401 (lateness minutes to hours); batch jobs
outliving their token; card callbacks retried minutes later; internet scanners (1-3 garbage tokens a minute:
alg none, random kid, typ JWT without client id, tampered, truncated, huge, HS256 with the public key,
years-expired); healthy key rotations (published an hour before use, removed hours after); short JWKS blips
(503 / connection reset); rolling deploys and crashes (validators rebuilt: cold caches).

Incidents (``INCIDENTS``), four 12 h timelines
---------------------------------------------
``inc_salary_day``: payments replica 2 clock +90 s (server_clock_skew, profile); tpp-budgetly servers 3 min behind
(clock_skew); credential-stuffing bots against the mobile accounts API (attack_burst); card partner rotates and
publishes the key 10 min late (kid_before_publish).
``inc_hourly_poll``: OB AS token endpoint down across the 10:00 poll (issuer_stalled); customer IdP JWKS down
while accounts/payments autoscale (jwks_outage); tpp-finlytics sends ID tokens to accounts (type_confusion);
customer IdP signing node with replaced key material (signature_spike).
``inc_branch_morning``: north-region branch terminals boot an hour behind (clock_skew); consents-api deployed with
the pre-rename audience (audience_misconfig, profile); OB AS removes the old key 5 min after rotating before the
hourly poll (key_removed_early); card partner clock 4 min ahead (server_clock_skew, issuer); an iOS build sends
refresh tokens to payments (type_confusion); customer IdP signs with a new kid 6 min before publishing it
(kid_before_publish).
``inc_midnight_batch``: workforce JWKS down during the statement batch (jwks_outage); workforce removes the old key
10 min after rotation while 1 h batch tokens live (key_removed_early); tpp-paynow requests accounts-only tokens
for payments (audience_misconfig, client); card partner HSM failover signs with other key material
(signature_spike); a small scanner sweep (attack_burst); a group of Android phones drifting behind (clock_skew);
customer IdP signing clock 2 min behind (server_clock_skew, issuer); customer IdP token endpoint down 20 min
(issuer_stalled).

Labels follow the brief: requests are tagged at generation (token tags until exp + 15 min, window tags by issuer,
client, api/replica); a rejection counts for an incident when its request carries the tag and its reason is one
the kind causes.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

GEN = "fleet52"
H = 3600.0
CUST = "https://login.bank.example/customer"
OB = "https://ob.bank.example/as"
WF = "https://sts.corp.bank.example"
CARD = "https://tokens.cardnet.example"
ISS_KEY = {CUST: "cust", OB: "ob", WF: "wf", CARD: "card"}
ISS_ALG = {CUST: "ES256", OB: "PS256", WF: "RS256", CARD: "ES256"}

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

APIS = {
    # name: (replicas, leeway, issuers)
    "accounts-api": (3, 30, (CUST, OB)),
    "payments-api": (3, 0, (CUST, OB)),
    "consents-api": (2, 60, (OB,)),
    "card-callback-api": (2, 10, (CARD,)),
    "branch-api": (2, 120, (WF,)),
    "fraud-scoring": (2, 5, (WF,)),
    "statements-batch": (2, 60, (WF,)),
}


def _ts(y, mo, d, h=0):
    return datetime(y, mo, d, h, tzinfo=UTC).timestamp()


# name: (start, hours, quiet, kind of day, volume factor)
TIMELINES = {
    "quiet_monday": (_ts(2026, 3, 2), 24, True, "weekday", 1.0),
    "quiet_saturday": (_ts(2026, 3, 7), 24, True, "weekend", 1.0),
    "quiet_salary_day": (_ts(2026, 3, 25), 24, True, "salary", 1.0),
    "quiet_wednesday": (_ts(2026, 4, 8), 24, True, "weekday", 1.0),
    "inc_salary_day": (_ts(2026, 4, 24, 6), 12, False, "salary", 1.25),
    "inc_hourly_poll": (_ts(2026, 5, 5, 6), 12, False, "weekday", 1.4),
    "inc_branch_morning": (_ts(2026, 5, 12, 6), 12, False, "weekday", 1.4),
    "inc_midnight_batch": (_ts(2026, 5, 20, 18), 12, False, "weekday", 1.7),
}

# offsets in hours from the timeline start
INCIDENTS = [
    # inc_salary_day (06:00-18:00)
    dict(
        timeline="inc_salary_day",
        id="sal-payrep-clock",
        kind="server_clock_skew",
        start=3.0,
        end=5.5,
        api="payments-api",
        replica=2,
        offset=90,
        detail="payments-api replica 2 clock 90 s ahead (leeway 0)",
    ),
    dict(
        timeline="inc_salary_day",
        id="sal-budgetly-clock",
        kind="clock_skew",
        start=3.2,
        end=8.0,
        client="tpp-budgetly",
        offset=-180,
        detail="tpp-budgetly servers 3 min behind; refresh on their clock, then on 401",
    ),
    dict(
        timeline="inc_salary_day",
        id="sal-stuffing",
        kind="attack_burst",
        start=6.3,
        end=6.75,
        api="accounts-api",
        rate=110,
        detail="credential-stuffing bots replaying forged/harvested tokens at the mobile accounts API",
    ),
    dict(
        timeline="inc_salary_day",
        id="sal-card-kid",
        kind="kid_before_publish",
        start=8.5,
        end=8.5 + 10 / 60,
        issuer=CARD,
        detail="card partner rotates its key, publishes it 10 minutes late",
    ),
    # inc_hourly_poll (06:00-18:00)
    dict(
        timeline="inc_hourly_poll",
        id="poll-ob-stalled",
        kind="issuer_stalled",
        start=3.9,
        end=4.6,
        issuer=OB,
        detail="OB AS token endpoint down across the 10:00 TPP poll",
    ),
    dict(
        timeline="inc_hourly_poll",
        id="poll-cust-jwks",
        kind="jwks_outage",
        start=6.1,
        end=6.75,
        issuer=CUST,
        apis=("accounts-api", "payments-api"),
        detail="customer IdP JWKS down at lunch while replicas autoscale "
        "(cold caches); warm ones serve stale keys for 15 min (accounts) / 1 h (payments)",
    ),
    dict(
        timeline="inc_hourly_poll",
        id="poll-finlytics-idtok",
        kind="type_confusion",
        start=8.0,
        end=9.6,
        client="tpp-finlytics",
        p=0.5,
        detail="tpp-finlytics release sends ID tokens to the accounts API",
    ),
    dict(
        timeline="inc_hourly_poll",
        id="poll-cust-sig",
        kind="signature_spike",
        start=10.2,
        end=10.55,
        issuer=CUST,
        frac=0.25,
        detail="one of four customer IdP signing nodes uses replaced key material under the current kid",
    ),
    # inc_branch_morning (06:00-18:00)
    dict(
        timeline="inc_branch_morning",
        id="br-north-tz",
        kind="clock_skew",
        start=2.0,
        end=3.0,
        client="branch-term-north",
        offset=-3600,
        detail="north-region branch terminals boot with a wrong timezone offset (1 h behind) until the fix",
    ),
    dict(
        timeline="inc_branch_morning",
        id="br-consents-aud",
        kind="audience_misconfig",
        start=3.5,
        end=4.2,
        api="consents-api",
        detail="consents-api deployed with the audience from before the rename (ob-consents)",
    ),
    dict(
        timeline="inc_branch_morning",
        id="br-ob-keyrm",
        kind="key_removed_early",
        start=4.87,
        end=5.3,
        issuer=OB,
        removal_delay=120,
        detail="OB AS rotation script removes the old key 2 min after rotating (10:52), before the 11:00 poll",
    ),
    dict(
        timeline="inc_branch_morning",
        id="br-card-clock",
        kind="server_clock_skew",
        start=6.5,
        end=7.5,
        issuer=CARD,
        offset=240,
        detail="card partner signing clock 4 min ahead (iat/nbf in the future)",
    ),
    dict(
        timeline="inc_branch_morning",
        id="br-ios-rt",
        kind="type_confusion",
        start=9.0,
        end=10.0,
        client="mobile-ios",
        frac=0.15,
        detail="an iOS build sends its refresh token to the payments API",
    ),
    dict(
        timeline="inc_branch_morning",
        id="br-cust-kid",
        kind="kid_before_publish",
        start=11.0,
        end=11.1,
        issuer=CUST,
        detail="customer IdP signs with the new kid 6 min before the JWKS publishes it",
    ),
    # inc_midnight_batch (18:00-06:00)
    dict(
        timeline="inc_midnight_batch",
        id="mid-wf-jwks",
        kind="jwks_outage",
        start=6.15,
        end=6.7,
        issuer=WF,
        apis=("statements-batch", "branch-api", "fraud-scoring"),
        detail="workforce JWKS down during the batch",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-wf-keyrm",
        kind="key_removed_early",
        start=7.0,
        end=7.5,
        issuer=WF,
        removal_delay=600,
        detail="workforce IdP removes the old key 10 min after rotating; 1 h batch tokens live",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-paynow-aud",
        kind="audience_misconfig",
        start=1.0,
        end=3.0,
        client="tpp-paynow",
        detail="tpp-paynow requests accounts-only tokens and calls the payments API",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-card-sig",
        kind="signature_spike",
        start=3.3,
        end=3.8,
        issuer=CARD,
        frac=0.7,
        detail="card partner HSM failover signs with other key material under the same kid",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-scan",
        kind="attack_burst",
        start=9.0,
        end=9.2,
        api="card-callback-api",
        rate=35,
        detail="scanner sweep against the card callback endpoint",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-android-drift",
        kind="clock_skew",
        start=0.5,
        end=4.0,
        client="mobile-android",
        frac=0.12,
        offset=-200,
        drift=-60,
        detail="a group of Android phones with a broken time sync, 2.5 min behind and drifting 1 min/h",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-cust-clock",
        kind="server_clock_skew",
        start=4.5,
        end=5.5,
        issuer=CUST,
        offset=-150,
        detail="customer IdP signing clock 2.5 min behind (tokens expire early)",
    ),
    dict(
        timeline="inc_midnight_batch",
        id="mid-cust-stalled",
        kind="issuer_stalled",
        start=10.5,
        end=10.85,
        issuer=CUST,
        detail="customer IdP token endpoint down 20 min at the morning commute",
    ),
]

# ---------------------------------------------------------------------------------------------------------------
# plan: keys and key schedules per timeline (made in the main process, keys generated at run time)


def _gen_key(alg):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    k = ec.generate_private_key(ec.SECP256R1()) if alg.startswith("ES") else rsa.generate_private_key(65537, 2048)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_plan(name, seed):
    start, hours, quiet, day, vol = TIMELINES[name]
    rng = random.Random(seed)
    end = start + hours * H
    incs = []
    for inc in INCIDENTS:
        if inc["timeline"] == name:
            d = dict(inc)
            d["start"] = start + inc["start"] * H
            d["end"] = start + inc["end"] * H
            incs.append(d)
    keys = {}  # iss -> list of dict(kid, pem, publish, use_from, use_until, remove)
    blips = {}
    for iss in (CUST, OB, WF, CARD):
        alg = ISS_ALG[iss]
        k0 = dict(
            kid=f"{ISS_KEY[iss]}-{rng.getrandbits(32):08x}",
            pem=_gen_key(alg),
            publish=start - 30 * H,
            use_from=start - 20 * H,
            use_until=end + 10 * H,
            remove=end + 40 * H,
        )
        ks = [k0]
        rot = None
        if quiet and rng.random() < 0.55:  # healthy rotation: published 1 h before use, old removed 6 h later
            rot = dict(at=start + rng.uniform(0.15, 0.8) * hours * H, publish_lead=H, removal=6 * H)
        for inc in incs:
            if inc.get("issuer") == iss and inc["kind"] == "kid_before_publish":
                rot = dict(at=inc["start"], publish_lead=-(inc["end"] - inc["start"]), removal=6 * H)
            if inc.get("issuer") == iss and inc["kind"] == "key_removed_early":
                rot = dict(at=inc["start"], publish_lead=H, removal=inc["removal_delay"])
        if rot:
            k1 = dict(
                kid=f"{ISS_KEY[iss]}-{rng.getrandbits(32):08x}",
                pem=_gen_key(alg),
                publish=rot["at"] - rot["publish_lead"],
                use_from=rot["at"],
                use_until=end + 10 * H,
                remove=end + 40 * H,
            )
            k0["use_until"] = rot["at"]
            k0["remove"] = rot["at"] + rot["removal"]
            ks.append(k1)
        keys[iss] = ks
        bl = []
        for _ in range(rng.randint(1, 3)):  # short blips: 503 or connection reset
            b = start + rng.uniform(0, hours * H)
            bl.append((b, b + rng.uniform(15, 70), rng.choice(("503", "reset"))))
        blips[iss] = bl
    rogue = {}
    for inc in incs:
        if inc["kind"] == "signature_spike":
            rogue[inc["id"]] = _gen_key(ISS_ALG[inc["issuer"]])
        if inc["kind"] == "jwks_outage":
            blips[inc["issuer"]].append((inc["start"], inc["end"], "503"))
    return dict(
        name=name,
        seed=seed,
        start=start,
        end=end,
        quiet=quiet,
        day=day,
        vol=vol,
        incs=incs,
        keys=keys,
        blips=blips,
        rogue=rogue,
        attacker=_gen_key("RS256"),
    )


# ---------------------------------------------------------------------------------------------------------------
# the JWKS server (one per worker process, a thread; state from the simulated clock)

_SERVER = {"plan": None, "port": None, "jwk": {}}


def _jwk_of(pem, kid, alg):
    import jwt
    from cryptography.hazmat.primitives import serialization

    cache = _SERVER["jwk"]
    if kid not in cache:
        priv = serialization.load_pem_private_key(pem, None)
        algo = jwt.get_algorithm_by_name(alg)
        d = json.loads(algo.to_jwk(priv.public_key()))
        d.update(kid=kid, alg=alg, use="sig")
        cache[kid] = d
    return cache[kid]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        plan = _SERVER["plan"]
        now = time.time()
        parts = self.path.strip("/").split("/")
        iss = next((i for i, k in ISS_KEY.items() if len(parts) > 1 and parts[1] == k), None)
        if plan is None or iss is None or parts[0] != plan["name"]:
            self.send_error(404)
            return
        for b0, b1, mode in plan["blips"][iss]:
            if b0 <= now < b1:
                if mode == "reset":
                    self.close_connection = True
                    return
                self.send_error(503)
                return
        keys = [
            _jwk_of(k["pem"], k["kid"], ISS_ALG[iss]) for k in plan["keys"][iss] if k["publish"] <= now < k["remove"]
        ]
        body = json.dumps({"keys": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _ensure_server():
    if _SERVER["port"] is None:
        srv = HTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        _SERVER["port"] = srv.server_address[1]
    return _SERVER["port"]


def _jwks_url(plan, iss):
    return f"http://127.0.0.1:{_SERVER['port']}/{plan['name']}/{ISS_KEY[iss]}/jwks.json"


# ---------------------------------------------------------------------------------------------------------------
# validators (one factory per API; called again at every restart: cold caches)


class _OwnKeyCache:
    """The app's own key cache: fetch with urllib, TTL in simulated seconds, refetch on unknown kid (cooldown),
    no stale fallback (an expired cache during an outage fails)."""

    def __init__(self, url, ttl=600, cooldown=60):
        self.url, self.ttl, self.cooldown = url, ttl, cooldown
        self.jwks, self.at, self.tried = None, -1e18, -1e18

    def _fetch(self):
        self.tried = time.time()
        with urllib.request.urlopen(self.url, timeout=3) as r:
            self.jwks = json.loads(r.read())
        self.at = time.time()

    def get(self, kid):
        now = time.time()
        if self.jwks is None or now - self.at > self.ttl:
            self._fetch()
        if (
            kid is not None
            and not any(k.get("kid") == kid for k in self.jwks["keys"])
            and now - self.tried > self.cooldown
        ):
            self._fetch()
        return self.jwks


def _kid_of(token):
    try:
        h = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))).get("kid")
    except Exception:
        return None


def build_validator(plan, api, stale_aud=False):
    import jwtobs

    lw = APIS[api][1]
    if api in ("accounts-api", "payments-api"):
        backend = "pyjwt" if api == "accounts-api" else "joserfc"
        stale = 900 if api == "accounts-api" else 3600
        vs = []
        for iss in APIS[api][2]:
            prof = jwtobs.Profile(
                name=api, issuer=iss, audience=api, algorithms=(ISS_ALG[iss],), token_type="at+jwt", leeway=lw
            )
            src = jwtobs.JwksSource(_jwks_url(plan, iss), clock=time.time, cooldown=30, max_stale=stale)
            vs.append(jwtobs.Verifier(prof, keys=src, backend=backend))
        vset = jwtobs.VerifierSet(vs)
        return vset.verify
    if api == "consents-api":
        import jwt

        holder = [jwt.PyJWKClient(_jwks_url(plan, OB), cache_keys=False, lifespan=300)]
        aud = "ob-consents" if stale_aud else "consents-api"

        def validate(token):
            try:
                key = holder[0].get_signing_key_from_jwt(token)
            except jwt.PyJWKClientError as exc:
                if "Unable to find" not in str(exc):
                    raise
                holder[0] = jwt.PyJWKClient(
                    _jwks_url(plan, OB), cache_keys=False, lifespan=300
                )  # ops' fix: a new client
                key = holder[0].get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["PS256"], audience=aud, issuer=OB, leeway=lw)

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if api == "card-callback-api":
        from jose import jwt as jjwt

        cache = _OwnKeyCache(_jwks_url(plan, CARD), ttl=600)

        def validate(token):
            kid = _kid_of(token)
            ks = cache.get(kid)
            match = [k for k in ks["keys"] if k.get("kid") == kid]
            key = match[0] if match else ks
            return jjwt.decode(token, key, algorithms=["ES256"], audience=api, issuer=CARD, options={"leeway": lw})

        return jwtobs.wrap(validate, library="jose", profile=api)
    if api == "branch-api":
        from joserfc import jwt as fjwt
        from joserfc.jwk import KeySet

        cache = _OwnKeyCache(_jwks_url(plan, WF), ttl=600)

        def validate(token):
            ks = KeySet.import_key_set(cache.get(_kid_of(token)))
            tok = fjwt.decode(token, ks, algorithms=["RS256"])
            reg = fjwt.JWTClaimsRegistry(
                leeway=lw, iss={"essential": True, "value": WF}, aud={"essential": True, "value": api}
            )
            reg.validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if api == "fraud-scoring":
        from authlib.jose import JsonWebKey
        from authlib.jose import jwt as ajwt

        cache = _OwnKeyCache(_jwks_url(plan, WF), ttl=900)

        def validate(token):
            ks = JsonWebKey.import_key_set(cache.get(_kid_of(token)))
            claims = ajwt.decode(
                token,
                ks,
                claims_options={"iss": {"essential": True, "value": WF}, "aud": {"essential": True, "value": api}},
            )
            claims.validate(leeway=lw)
            return dict(claims)

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if api == "statements-batch":
        from jwcrypto import jwk
        from jwcrypto import jwt as cjwt

        cache = _OwnKeyCache(_jwks_url(plan, WF), ttl=600)

        def validate(token):
            ks = jwk.JWKSet.from_json(json.dumps(cache.get(_kid_of(token))))
            t = cjwt.JWT(check_claims={"iss": WF, "aud": api, "exp": None}, algs=["RS256"], expected_type="JWS")
            t.leeway = lw
            t.deserialize(token, ks)
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(api)


# ---------------------------------------------------------------------------------------------------------------
# traffic


def curve(kind, t, plan):
    """Relative rate (about 1 at the peak) of a cohort at time t."""
    h = (t % 86400) / H
    day = plan["day"]
    wk = day == "weekend"
    sal = 1.35 if day == "salary" else 1.0
    if kind == "mobile":
        v = (
            0.06
            + 0.5 * math.exp(-(((h - 12.7) / 1.6) ** 2))
            + 0.6 * math.exp(-(((h - 20.0) / 2.0) ** 2))
            + 0.35 * math.exp(-(((h - 8.3) / 1.2) ** 2))
            + (0.25 if 9 <= h <= 18 else 0)
        )
        return v * sal * (0.85 if wk else 1.0)
    if kind == "web":
        v = 0.05 + 0.7 * math.exp(-(((h - 11) / 2.5) ** 2)) + 0.4 * math.exp(-(((h - 20.5) / 1.5) ** 2))
        return v * sal * (0.6 if wk else 1.0)
    if kind == "pis":
        return (0.05 + 0.8 * math.exp(-(((h - 12) / 4) ** 2))) * (1.8 if day == "salary" else 1.0) * (0.5 if wk else 1)
    if kind == "branch":
        if wk:
            return 0.7 if 9 <= h < 13 else 0.0
        return 1.0 if 8 <= h < 18 else (0.02 if 7 <= h < 8 else 0.0)
    if kind == "callcentre":
        return 0.1 if (h < 7 or h >= 22) else 0.8
    if kind == "batch":
        return 1.0 if h < 2.5 else (0.03 if 8 <= h < 18 else 0.005)
    if kind == "card":
        return 0.15 + 0.85 * math.exp(-(((h - 14) / 4.5) ** 2))
    return 1.0


class Tok:
    __slots__ = ("cid", "exp", "iat", "iss", "kid", "recv", "s", "tags")

    def __init__(self, s, iss, kid, cid, iat, exp, tags, recv):
        self.s, self.iss, self.kid, self.cid, self.iat, self.exp, self.tags, self.recv = (
            s,
            iss,
            kid,
            cid,
            iat,
            exp,
            tags,
            recv,
        )


class Dev:
    __slots__ = (
        "boot_off",
        "boot_until",
        "cid",
        "cohort",
        "drift",
        "incs",
        "last",
        "lazy",
        "margin",
        "off",
        "sub",
        "tok",
        "ttl",
        "uses_exp",
    )

    def __init__(self):
        self.tok = None
        self.last = -1e18
        self.incs = ()
        self.boot_until = -1e18
        self.boot_off = 0.0


class Gen:
    """Generates one API's request stream (all replicas) for one timeline."""

    def __init__(self, plan, api, scale):
        self.plan, self.api, self.scale = plan, api, scale
        self.rng = random.Random(f"{plan['seed']}-{api}")
        self.t0 = plan["start"]
        self.nrep, self.leeway, _ = APIS[api]
        self.incs = plan["incs"]
        import jwt
        from cryptography.hazmat.primitives import serialization

        self.jwt = jwt
        self.privs = {}
        for iss, ks in plan["keys"].items():
            for k in ks:
                self.privs[k["kid"]] = serialization.load_pem_private_key(k["pem"], None)
        self.rogue = {i: serialization.load_pem_private_key(p, None) for i, p in plan["rogue"].items()}
        self.attacker = serialization.load_pem_private_key(plan["attacker"], None)
        self.reqs = []  # (t, replica, token, tags)
        self.nsub = 0

    # -- incidents ------------------------------------------------------------------------------------------
    def active(self, kind, t, **match):
        for inc in self.incs:
            if (
                inc["kind"] == kind
                and inc["start"] <= t <= inc["end"]
                and all(inc.get(k) == v for k, v in match.items())
            ):
                yield inc

    def rep_offset(self, rep, t):
        for inc in self.active("server_clock_skew", t, api=self.api, replica=rep):
            return inc["offset"]
        return 0.0

    def stalled(self, iss, t):
        return any(True for _ in self.active("issuer_stalled", t, issuer=iss))

    # -- issuing -------------------------------------------------------------------------------------------
    def signing_kid(self, iss, t):
        ks = self.plan["keys"][iss]
        for k in reversed(ks):
            if k["use_from"] <= t < k["use_until"]:
                return k
        return ks[-1]

    def issue(self, iss, cid, t, ttl, aud, dev=None, typ="at+jwt", extra=None, fresh_tags=()):
        tags = list(fresh_tags)
        it = t
        for inc in self.active("server_clock_skew", t, issuer=iss):
            it += inc["offset"]
            tags.append(inc["id"])
        k = self.signing_kid(iss, t)
        for inc in self.incs:
            if inc["kind"] == "kid_before_publish" and inc["issuer"] == iss and k["use_from"] <= t < k["publish"]:
                tags.append(inc["id"])
        key = self.privs[k["kid"]]
        for inc in self.active("signature_spike", t, issuer=iss):
            if self.rng.random() < inc["frac"]:
                key = self.rogue[inc["id"]]
                tags.append(inc["id"])
        if isinstance(aud, str):
            aud = [aud]
        for inc in self.active("audience_misconfig", t, client=cid):
            aud = ["accounts-api"]
            tags.append(inc["id"])
        iat = int(it)
        claims = {
            "iss": iss,
            "sub": f"u{dev.sub if dev else self.rng.getrandbits(40)}",
            "aud": aud if len(aud) > 1 else aud[0],
            "exp": iat + ttl,
            "iat": iat,
            "jti": f"{self.rng.getrandbits(64):016x}",
            "client_id": cid,
            "scope": "accounts payments" if iss in (CUST, OB) else "internal",
        }
        if iss in (WF, CARD):
            claims["nbf"] = iat
        if extra:
            claims.update(extra)
        s = self.jwt.encode(claims, key, algorithm=ISS_ALG[iss], headers={"kid": k["kid"], "typ": typ})
        return Tok(s, iss, k["kid"], cid, iat, iat + ttl, tuple(tags), t)

    # -- presenting ----------------------------------------------------------------------------------------
    def window_tags(self, tok, t, rep, dev):
        tags = list(tok.tags) if t <= tok.exp + 900 else []
        for inc in self.incs:
            kd = inc["kind"]
            if kd == "jwks_outage":
                if tok.iss == inc["issuer"] and self.api in inc["apis"] and inc["start"] <= t <= inc["end"] + 120:
                    tags.append(inc["id"])
            elif kd == "key_removed_early":
                if (
                    tok.iss == inc["issuer"]
                    and tok.kid == self.plan["keys"][tok.iss][0]["kid"]
                    and t >= inc["start"]
                    and t <= tok.exp + 900
                ):
                    tags.append(inc["id"])
            elif kd == "clock_skew":
                if dev is not None and inc["id"] in dev.incs and inc["start"] <= t <= inc["end"] + 600:
                    tags.append(inc["id"])
            elif kd == "server_clock_skew" and inc.get("api") == self.api:
                if rep == inc["replica"] and inc["start"] <= t <= inc["end"]:
                    tags.append(inc["id"])
            elif kd == "issuer_stalled":
                if tok.iss == inc["issuer"] and inc["start"] <= t <= inc["end"] + 900:
                    tags.append(inc["id"])
            elif kd == "audience_misconfig" and inc.get("api") == self.api:
                if inc["start"] <= t <= inc["end"]:
                    tags.append(inc["id"])
        return tuple(tags)

    def emit(self, t, s, tags, rep=None):
        if rep is None:
            rep = self.rng.randrange(self.nrep)
        self.reqs.append((t, rep, s, tags))
        return rep

    def present(self, dev, tok, t):
        rep = self.rng.randrange(self.nrep)
        self.emit(t, tok.s, self.window_tags(tok, t, rep, dev), rep)
        tsrv = t + self.rep_offset(rep, t)
        return tsrv > tok.exp + self.leeway or tsrv < tok.iat - self.leeway

    # -- devices -------------------------------------------------------------------------------------------
    def dev_clock(self, dev, t):
        off = dev.off + dev.drift * (t - self.t0) / H
        if t < dev.boot_until:
            off += dev.boot_off
        for inc in self.incs:
            if inc["kind"] == "clock_skew" and inc["id"] in dev.incs and inc["start"] <= t <= inc["end"]:
                off += inc["offset"] + inc.get("drift", 0) * (t - inc["start"]) / H
        return t + off

    def make_devs(self, n, cohort, clients, lazy_p=0.0, uses_exp=True, margin=30, ttl=300, bad_clock=0.03):
        devs = []
        for i in range(n):
            d = Dev()
            d.cohort = cohort
            d.cid = clients[i % len(clients)] if isinstance(clients, list) else clients
            r = self.rng.random()
            if r < 0.88:
                d.off = self.rng.gauss(0, 1.0)
            elif r < 1 - bad_clock:
                d.off = self.rng.uniform(-60, 60)
            else:
                d.off = self.rng.choice((-1, 1)) * self.rng.uniform(60, 600)
            d.drift = self.rng.uniform(-30, 30) if self.rng.random() < 0.01 else 0.0
            self.nsub += 1
            d.sub = f"{self.api[:3]}{self.nsub}"
            d.lazy = self.rng.random() < lazy_p
            d.uses_exp = uses_exp
            d.margin = margin
            d.ttl = ttl
            incs = []
            for inc in self.incs:
                if (
                    inc["kind"] in ("clock_skew", "type_confusion")
                    and inc["client"] == d.cid
                    and self.rng.random() < inc.get("frac", 1.0)
                ):
                    incs.append(inc["id"])
            d.incs = tuple(incs)
            devs.append(d)
        return devs

    def needs_refresh(self, dev, t):
        tok = dev.tok
        if tok is None:
            return True
        if dev.lazy:
            return False
        if dev.uses_exp:
            return self.dev_clock(dev, t) >= tok.exp - dev.margin
        return t >= tok.recv + dev.ttl - dev.margin

    def serve(self, dev, t, iss, aud, calls=1, gap=0.7, resume_p=0.0):
        """One visit (session) of a device: before each call refresh if it thinks it must (its own clock, or
        expires_in), present its token, refresh on a predicted 401 and retry."""
        tok = dev.tok
        if (
            self.needs_refresh(dev, t)
            and tok is not None
            and resume_p
            and t - dev.last > 1800
            and self.rng.random() < resume_p
        ):
            self.present(dev, tok, t)  # app resumed: the cached token goes out before the refresh
            t += 0.4
        dev.last = t
        tc = t
        for _ in range(calls):
            if self.needs_refresh(dev, tc) and not self.stalled(iss, tc):
                dev.tok = self.issue(iss, dev.cid, tc, dev.ttl, aud, dev)
            if dev.tok is None:
                return
            conf = self.confusion(dev, tc, iss, aud)
            if conf is not None:
                self.emit(tc, conf[0], conf[1])
            elif self.present(dev, dev.tok, tc) and not self.stalled(iss, tc):
                dev.tok = self.issue(iss, dev.cid, tc + 0.3, dev.ttl, aud, dev)
                self.present(dev, dev.tok, tc + 0.6)
            tc += gap * self.rng.uniform(0.5, 1.5)

    def confusion(self, dev, t, iss, aud):
        for inc in self.incs:
            if inc["kind"] == "type_confusion" and inc["id"] in dev.incs and inc["start"] <= t <= inc["end"]:
                if inc["client"] == "mobile-ios" and self.api == "payments-api":
                    tok = self.issue(iss, dev.cid, t - 5, 86400 * 30, iss, dev, typ="rt+jwt")
                    return tok.s, (inc["id"],)
                if inc["client"].startswith("tpp") and self.api == "accounts-api" and self.rng.random() < inc["p"]:
                    tok = self.issue(
                        iss,
                        dev.cid,
                        t - 2,
                        3600,
                        dev.cid,
                        dev,
                        typ="JWT",
                        extra={"nonce": f"{self.rng.getrandbits(48):x}", "auth_time": int(t) - 30},
                    )
                    return tok.s, (inc["id"],)
        return None

    # -- cohorts -------------------------------------------------------------------------------------------
    def poisson_times(self, kind, rate_per_min):
        out = []
        start, end = self.plan["start"], self.plan["end"]
        m = start
        f = self.scale * self.plan["vol"]
        while m < end:
            lam = rate_per_min * f * curve(kind, m + 30, self.plan)
            n = self._poisson(lam)
            out.extend(m + self.rng.random() * 60 for _ in range(n))
            m += 60
        out.sort()
        return out

    def _poisson(self, lam):
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, int(round(self.rng.gauss(lam, math.sqrt(lam)))))
        L, k, p = math.exp(-lam), 0, 1.0
        while k < 1000:
            p *= self.rng.random()
            if p <= L:
                return k
            k += 1
        return k

    def visits(self, kind, rate, devs, zipf=1.1):
        w = [1.0 / (i + 1) ** zipf for i in range(len(devs))]
        cum = list(_accum(w))
        tot = cum[-1]
        for t in self.poisson_times(kind, rate):
            yield t, devs[bisect.bisect_left(cum, self.rng.random() * tot)]

    def tpp_polls(self, n_tpp, aud):
        """(t, dev) visits of TPP customers: polls on the hour (spread by rate limits), a few frequent pollers."""
        ev = []
        start, end = self.plan["start"], self.plan["end"]
        f = self.scale * self.plan["vol"]
        names = ["tpp-budgetly", "tpp-finlytics", "tpp-paynow"] + [f"tpp-{i:04d}" for i in range(n_tpp - 3)]
        for j, cid in enumerate(names):
            ncust = max(1, int(round((60 if j == 0 else 2 + 140 / (j + 2) ** 0.9) * f)))
            lazy = self.rng.random() < 0.12 and j > 2
            devs = self.make_devs(
                ncust,
                "tpp",
                cid,
                lazy_p=1.0 if lazy else 0.0,
                uses_exp=self.rng.random() < 0.6,
                margin=self.rng.choice((30, 60, 120)),
                ttl=900,
                bad_clock=0.0,
            )
            toff = self.rng.gauss(0, 1.5)
            if j > 2 and self.rng.random() < 0.04:
                toff = self.rng.uniform(-40, 40)
            for d in devs:
                d.off = toff  # one clock per TPP (its servers)
            if j == 0:
                period, spread, phase = 600, 300, self.rng.uniform(0, 600)
            else:
                period = self.rng.choice((3600, 3600, 7200, 10800, 14400, 21600))
                spread = self.rng.uniform(120, 900)
                phase = self.rng.uniform(0, 240) + 3600 * self.rng.randrange(int(period // 3600))
            p = start - (start % 3600) + phase
            while p < end:
                if p >= start:
                    for d in devs:
                        ev.append((p + self.rng.uniform(0, spread), d))
                p += period
        return ev

    def build(self):
        api = self.api
        rng = self.rng
        visits = []  # (t, dev, iss, aud, calls, resume_p)
        cust_aud = ["accounts-api", "payments-api"]
        ob_aud = ["accounts-api", "payments-api", "consents-api"]
        if api in ("accounts-api", "payments-api"):
            r = 1.0 if api == "accounts-api" else 0.35
            mob = self.make_devs(int(6000 * r), "mobile", ["mobile-ios", "mobile-android"], ttl=300, margin=20)
            for d in mob:  # half the app versions schedule the refresh from expires_in, half read exp
                d.uses_exp = rng.random() < 0.5
            web = self.make_devs(int(1500 * r), "web", "web-banking", uses_exp=False, ttl=900, margin=60)
            for t, d in self.visits("mobile", 17 * r, mob, 0.6):
                visits.append((t, d, CUST, cust_aud, rng.randint(1, 6), 0.12, 50.0))
            for t, d in self.visits("web", 4 * r, web, 0.6):
                visits.append((t, d, CUST, cust_aud, rng.randint(1, 5), 0.08, 90.0))
            if api == "accounts-api":
                for t, d in self.tpp_polls(60, ob_aud):
                    visits.append((t, d, OB, ob_aud, rng.randint(2, 3), 0.0))
            else:
                tdevs = self.make_devs(
                    900,
                    "tpp",
                    ["tpp-paynow"] * 4 + ["tpp-budgetly"] + [f"tpp-{i:04d}" for i in range(40)],
                    lazy_p=0.1,
                    ttl=900,
                    margin=30,
                    bad_clock=0.0,
                )
                for t, d in self.visits("pis", 5, tdevs, 0.3):
                    visits.append((t, d, OB, ob_aud, rng.randint(1, 2), 0.0))
        elif api == "consents-api":
            tdevs = self.make_devs(
                1500,
                "tpp",
                ["tpp-budgetly", "tpp-finlytics", "tpp-paynow"] + [f"tpp-{i:04d}" for i in range(57)],
                lazy_p=0.1,
                ttl=900,
                margin=30,
                bad_clock=0.0,
            )
            for t, d in self.visits("web", 9, tdevs, 0.4):
                visits.append((t, d, OB, ob_aud, rng.randint(1, 3), 0.0))
        elif api == "branch-api":
            devs = []
            for region in ("north", "south", "east", "west"):
                ds = self.make_devs(60, "branch", f"branch-term-{region}", ttl=600, margin=30, bad_clock=0.01)
                for d in ds:  # terminals boot at opening; some run minutes off until NTP syncs
                    if rng.random() < 0.05:
                        d.boot_off = rng.choice((-1, 1)) * rng.uniform(120, 1200)
                        d.boot_until = self.t0 - (self.t0 % 86400) + 8 * H + rng.uniform(300, 1500)
                devs += ds
            cc = self.make_devs(120, "callcentre", "callcentre-desktop", ttl=600, margin=30, bad_clock=0.02)
            for t, d in self.visits("branch", 12, devs, 0.2):
                visits.append((t, d, WF, "branch-api", rng.randint(1, 3), 0.1))
            for t, d in self.visits("callcentre", 5, cc, 0.2):
                visits.append((t, d, WF, "branch-api", rng.randint(1, 2), 0.05))
        elif api == "fraud-scoring":
            devs = self.make_devs(
                12, "svc", ["payments-svc", "cards-svc"], uses_exp=False, ttl=900, margin=60, bad_clock=0.0
            )
            for t, d in self.visits("pis", 18, devs, 0.0):
                visits.append((t, d, WF, "fraud-scoring", 1, 0.0))
        elif api == "statements-batch":
            devs = self.make_devs(8, "batch", "batch-statements", uses_exp=False, ttl=3600, margin=0, bad_clock=0.0)
            for d in devs:
                d.lazy = True  # a batch worker takes a token at start and refreshes only after a 401
            for t, d in self.visits("batch", 55, devs, 0.0):
                visits.append((t, d, WF, "statements-batch", 1, 0.0))
            staff = self.make_devs(30, "staff", "callcentre-desktop", ttl=600, margin=30)
            for t, d in self.visits("callcentre", 1.5, staff, 0.3):
                visits.append((t, d, WF, "statements-batch", 1, 0.0))
        elif api == "card-callback-api":
            self.card_callbacks()
        visits.sort(key=lambda v: v[0])
        for v in visits:
            self.serve(v[1], v[0], v[2], v[3], v[4], gap=v[6] if len(v) > 6 else 0.7, resume_p=v[5])
        self.scanners()
        self.attacks()
        self.reqs.sort(key=lambda r: r[0])
        return self.reqs

    def card_callbacks(self):
        nodes = [self.rng.gauss(0, 0.8) for _ in range(8)]
        retries = []
        for t in self.poisson_times("card", 9):
            node = self.rng.randrange(len(nodes))
            tok = self.issue(CARD, "cardnet-callbacks", t + nodes[node], 120, "card-callback-api")
            rep = self.rng.randrange(self.nrep)
            self.emit(t, tok.s, self.window_tags(tok, t, rep, None), rep)
            if self.rng.random() < 0.012:  # delivery failed downstream: retried later with the same token
                retries.append((t + self.rng.choice((60, 300, 900, 1800, 3600)) * self.rng.uniform(0.8, 1.2), tok))
        for t, tok in retries:
            if t < self.plan["end"]:
                rep = self.rng.randrange(self.nrep)
                self.emit(t, tok.s, self.window_tags(tok, t, rep, None), rep)

    # -- garbage -------------------------------------------------------------------------------------------
    def garbage(self):
        rng, jwt = self.rng, self.jwt
        now = int(self.plan["start"])
        iss = APIS[self.api][2][0]
        real = self.issue(iss, "probe", self.plan["start"], 300, self.api)
        kind = rng.randrange(10)
        base = {"iss": iss, "sub": "admin", "aud": self.api, "exp": now + 86400 * 365, "iat": now}
        if kind == 0:
            h = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            p = base64.urlsafe_b64encode(json.dumps(base).encode()).rstrip(b"=").decode()
            return f"{h}.{p}."
        if kind == 1:
            return jwt.encode(base, self.attacker, algorithm="RS256", headers={"kid": f"{rng.getrandbits(40):x}"})
        if kind == 2:
            return jwt.encode(base, self.attacker, algorithm="RS256", headers={"typ": "JWT"})
        if kind == 3:
            h, p, s = real.s.split(".")
            c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            c["sub"] = "admin"
            c["exp"] = now + 86400 * 30
            p2 = base64.urlsafe_b64encode(json.dumps(c).encode()).rstrip(b"=").decode()
            return f"{h}.{p2}.{s}"
        if kind == 4:
            return real.s[: rng.randint(10, len(real.s) - 5)]
        if kind == 5:
            return jwt.encode(
                dict(base, pad="A" * rng.randint(9000, 70000)),
                self.attacker,
                algorithm="RS256",
                headers={"kid": real.kid},
            )
        if kind == 6:
            import hmac

            h = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": real.kid, "typ": "at+jwt"}).encode())
            p = base64.urlsafe_b64encode(json.dumps(base).encode())
            si = h.rstrip(b"=") + b"." + p.rstrip(b"=")
            sig = hmac.new(b"-----BEGIN PUBLIC KEY-----fake", si, hashlib.sha256).digest()
            return si.decode() + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
        if kind == 7:
            old = dict(base, exp=now - 86400 * 365 * 3, iat=now - 86400 * 365 * 3 - 300)
            return jwt.encode(old, self.attacker, algorithm="RS256", headers={"kid": real.kid, "typ": "at+jwt"})
        if kind == 8:
            return "Bearer " + "".join(rng.choice("abcdefXYZ0123456789") for _ in range(40))
        return real.s[:-6] + "AAAAAA"

    def scanners(self):
        if self.api not in ("accounts-api", "payments-api", "consents-api", "card-callback-api"):
            return
        pool = [self.garbage() for _ in range(40)]  # scanners, not scaled
        share = {"accounts-api": 0.9, "payments-api": 0.5, "consents-api": 0.4, "card-callback-api": 0.3}[self.api]
        t = self.plan["start"]
        while t < self.plan["end"]:
            t += self.rng.expovariate(share / 60.0)
            self.emit(t, self.rng.choice(pool), ())

    def attacks(self):
        for inc in self.incs:
            if inc["kind"] != "attack_burst" or inc["api"] != self.api:
                continue
            pool = [self.garbage() for _ in range(60)]
            t = inc["start"]
            while t < inc["end"]:
                t += self.rng.expovariate(inc["rate"] * self.scale / 60.0)
                self.emit(t, self.rng.choice(pool), (inc["id"],))


def _accum(w):
    s = 0.0
    for x in w:
        s += x
        yield s


# ---------------------------------------------------------------------------------------------------------------
# running one API of one timeline (a worker task)


def _restarts(rng, plan, nrep):
    """Per replica, sorted restart times: a rolling deploy, crashes, autoscaling (cold caches)."""
    out = {r: [] for r in range(nrep)}
    start, end = plan["start"], plan["end"]
    d = start + rng.uniform(0.2, 0.8) * (end - start)
    for r in range(nrep):
        out[r].append(d + r * rng.uniform(120, 300))
        for _ in range(rng.randint(0, 2)):
            out[r].append(rng.uniform(start, end))
    for inc in plan["incs"]:
        if inc["kind"] == "jwks_outage":
            for r in range(nrep):
                out[r].append(inc["start"] + rng.uniform(300, inc["end"] - inc["start"]))
    for r in out:
        out[r].sort()
    return out


def run_task(args):
    plan, api, out, scale = args
    import time_machine

    import jwtobs

    wall = time.time()
    _ensure_server()
    _SERVER["plan"] = plan
    _SERVER["jwk"] = {}
    gen = Gen(plan, api, scale)
    reqs = gen.build()
    nrep = APIS[api][0]
    rng = random.Random(f"{plan['seed']}-{api}-restarts")
    restarts = _restarts(rng, plan, nrep)
    evdir = os.path.join(out, plan["name"], "events")
    os.makedirs(evdir, exist_ok=True)
    stale_win = [
        (i["start"], i["end"]) for i in plan["incs"] if i["kind"] == "audience_misconfig" and i.get("api") == api
    ]
    res = {"api": api, "validations": 0, "rejections": 0, "reasons": {}, "inc": {}}
    for rep in range(nrep):
        path = os.path.join(evdir, f"{api}-{rep}.jsonl")
        if os.path.exists(path):
            os.remove(path)
        jwtobs.configure(events_path=path, service=api, fingerprint_key=f"fleet52-{plan['seed']}-fingerprint-key")
        mine = [r for r in reqs if r[1] == rep]
        rs = list(restarts[rep])
        # the consents deploy with the stale audience reaches the replicas one after another
        deploy = [(a + rep * 240, b) for a, b in stale_win]
        with time_machine.travel(plan["start"] - 60, tick=False) as tr:
            state = None
            validator = None
            for t, _, tok, _tags in mine:
                stale = any(a <= t <= b for a, b in deploy)
                if validator is None or (rs and t >= rs[0]) or stale != state:
                    while rs and t >= rs[0]:
                        rs.pop(0)
                    tr.move_to(t + gen.rep_offset(rep, t))
                    validator = build_validator(plan, api, stale_aud=stale)
                    state = stale
                tr.move_to(t + gen.rep_offset(rep, t))
                try:
                    validator(tok)
                except Exception:
                    pass
        jwtobs.flush()
        # read back: one event per request, in order
        evs = []
        with open(path) as fh:
            for line in fh:
                e = json.loads(line)
                if "event" in e:
                    continue
                evs.append(e)
        if len(evs) != len(mine):
            raise RuntimeError(f"{path}: {len(evs)} events for {len(mine)} requests")
        for (t, _, _, tags), e in zip(mine, evs):
            res["validations"] += 1
            if e["outcome"] != "rejected":
                continue
            res["rejections"] += 1
            res["reasons"][e["reason"]] = res["reasons"].get(e["reason"], 0) + 1
            for tag in tags:
                kind = next(i["kind"] for i in plan["incs"] if i["id"] == tag)
                ok = REASONS_OF[kind]
                if ok is None or e["reason"] in ok:
                    c = res["inc"].setdefault(tag, {"count": 0, "start": None, "end": None, "t0": None, "t1": None})
                    c["count"] += 1
                    if c["t0"] is None or t < c["t0"]:
                        c["t0"], c["start"] = t, e["time"]
                    if c["t1"] is None or t >= c["t1"]:
                        c["t1"], c["end"] = t, e["time"]
    res["wall"] = time.time() - wall
    return res


# ---------------------------------------------------------------------------------------------------------------


def _iso(t):
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=5200)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or list(TIMELINES)
    for n in names:
        if n not in TIMELINES:
            ap.error(f"unknown timeline {n}")
    if a.score_only:
        print(json.dumps(_score(a.out, names), indent=2, default=str))
        return 0
    t_all = time.time()
    plans = {n: make_plan(n, a.seed_base + i) for i, n in enumerate(TIMELINES) if n in names}
    tasks = [(plans[n], api, a.out, a.scale) for n in names for api in APIS]
    # heavy tasks first
    tasks.sort(key=lambda x: -{"accounts-api": 5, "payments-api": 3}.get(x[1], 1))
    ctx = mp.get_context("fork")
    results = {n: [] for n in names}
    with ctx.Pool(a.workers, maxtasksperchild=None) as pool:
        for r, task in zip(pool.imap(run_task, tasks), tasks):
            results[task[0]["name"]].append(r)
            print(f"{task[0]['name']:22s} {r['api']:18s} {r['validations']:7d} {r['wall']:6.1f}s", flush=True)
    for n in names:
        plan = plans[n]
        rs = results[n]
        agg = {}
        for r in rs:
            for k, c in r["inc"].items():
                g = agg.setdefault(k, {"count": 0, "start": None, "end": None, "t0": None, "t1": None})
                g["count"] += c["count"]
                if g["t0"] is None or c["t0"] < g["t0"]:
                    g["t0"], g["start"] = c["t0"], c["start"]
                if g["t1"] is None or c["t1"] > g["t1"]:
                    g["t1"], g["end"] = c["t1"], c["end"]
        labels = []
        missing = []
        for inc in plan["incs"]:
            g = agg.get(inc["id"])
            if not g or g["count"] == 0:
                missing.append(inc["id"])
                continue
            kind = inc["kind"]
            iss_scoped = kind in (
                "kid_before_publish",
                "key_removed_early",
                "jwks_outage",
                "signature_spike",
                "issuer_stalled",
            ) or (kind == "server_clock_skew" and inc.get("issuer"))
            kid = None
            if kind in ("kid_before_publish", "signature_spike"):
                ks = plan["keys"][inc["issuer"]]
                kid = (
                    ks[-1]["kid"]
                    if kind == "kid_before_publish"
                    else next(k["kid"] for k in ks if k["use_from"] <= inc["start"] < k["use_until"])
                )
            if kind == "key_removed_early":
                kid = plan["keys"][inc["issuer"]][0]["kid"]
            labels.append(
                {
                    "id": inc["id"],
                    "kind": kind,
                    "start": g["start"],
                    "end": g["end"],
                    "count": g["count"],
                    "issuer": inc.get("issuer") if iss_scoped else None,
                    "kid": kid,
                    "client_id": inc.get("client")
                    if kind in ("clock_skew", "audience_misconfig", "type_confusion")
                    else None,
                    "profile": inc.get("api") if kind in ("audience_misconfig", "server_clock_skew") else None,
                    "detail": inc["detail"],
                }
            )
        d = os.path.join(a.out, n)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "labels.json"), "w") as fh:
            json.dump(
                {
                    "timeline": n,
                    "quiet": plan["quiet"],
                    "seed": plan["seed"],
                    "start": _iso(plan["start"]),
                    "end": _iso(plan["end"]),
                    "generator": GEN,
                    "incidents": labels,
                },
                fh,
                indent=2,
            )
        val = sum(r["validations"] for r in rs)
        rej = sum(r["rejections"] for r in rs)
        reasons = {}
        for r in rs:
            for k, v in r["reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        summ = {
            "timeline": n,
            "validations": val,
            "rejections": rej,
            "rejection_rate": round(rej / max(val, 1), 4),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "incidents_injected": [i["id"] for i in plan["incs"]],
            "incidents_labelled": [x["id"] for x in labels],
            "kinds_labelled": sorted({x["kind"] for x in labels}),
            "incidents_without_counted_rejection": missing,
            "counts": {x["id"]: x["count"] for x in labels},
            "wall_s_tasks": round(sum(r["wall"] for r in rs), 1),
            "wall_s_run": round(time.time() - t_all, 1),
        }
        with open(os.path.join(d, "summary.json"), "w") as fh:
            json.dump(summ, fh, indent=2)
        print(
            f"{n}: {val} validations, rejection rate {summ['rejection_rate']:.2%}, labelled {len(labels)}, "
            f"missing {missing}; {dict(list(summ['reasons'].items())[:6])}",
            flush=True,
        )
    print(f"wall {time.time() - t_all:.1f}s")
    if a.score:
        print(json.dumps(_score(a.out, names), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
