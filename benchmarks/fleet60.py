"""fleet60: a blind benchmark fleet for jwtobs's incident detectors - a smart-home / IoT platform ("Hearthlink").

Written without reading the detectors. Every event is written by jwtobs itself from a real validation: keys are
generated at run time (``cryptography``), tokens are signed with PyJWT, key sets are served by a real
``http.server`` on 127.0.0.1 (port 0, one per worker process), simulated time is moved with ``time_machine``
(``travel(tick=False)`` then ``move_to`` before each validation), and each replica of each API writes its own events
file (``<out>/<timeline>/events/<api>-<replica>.jsonl``) from its own forked process.

Issuers (all ES256 but the consumer IdP, RS256)
- ``devices``  https://devices.hearthlink.example - device token service: at+jwt access tokens for thermostats,
  cameras, meters and locks, 1 h (client_id = device model: ``thermo-t3``, ``cam-c2``, ``meter-m1``, ``lock-l5``).
- ``attest``   https://attest.hearthlink.example - device self-signed assertions (one key per hardware model,
  ``typ: JWT``, 10 min): iat/nbf/exp come from the DEVICE's clock, so RTC-less boards booting with their firmware
  build date (or 1970) before NTP syncs present years-expired assertions, and a drifting RTC shows at once.
- ``app``      https://id.hearthlink.example - consumer IdP of the companion app (``hl-ios``, ``hl-android``,
  ``hl-web``), 15 min access tokens, also ID tokens (typ JWT, aud = client id).
- ``link``     https://link.hearthlink.example - OAuth account linking for voice clouds (``voice-alexa``,
  ``voice-google``, ``voice-siri``), 1 h, cached by the clouds and refreshed lazily after a 401.
- ``grid``     https://sts.gridpartner.example - the utility partner's STS (``gridco-dr``), 5 min tokens,
  demand-response pushes in bursts.
- ``internal`` https://sts.internal.hearthlink.example - internal services (``rules-engine``, ``ota-orchestrator``,
  ``billing-sync``), 10 min.

APIs (profile = service = API name; validator kind, leeway, replicas)
- ``mqtt-bridge``   jwtobs.VerifierSet(devices + attest, JwksSource, backend pyjwt), leeway 30, 3 replicas:
  re-validates at every (re)connect, reconnect storms after broker restarts.
- ``device-api``    jwtobs.wrap(own PyJWT + PyJWKClient, library="pyjwt"), leeway 60, 3 replicas.
- ``app-api``       jwtobs.wrap(joserfc decode + JWTClaimsRegistry), leeway 10, 2 replicas.
- ``voice-gateway`` jwtobs.wrap(python-jose), leeway 120, 2 replicas.
- ``dr-ingest``     jwtobs.wrap(Authlib decode + validate), leeway 5, 2 replicas.
- ``internal-api``  jwtobs.wrap(jwcrypto JWT), leeway 0, 1 replica.
- ``ota-service``   jwtobs.Verifier(devices + internal via VerifierSet, JwksSource, backend joserfc, short
  max_stale), leeway 15, 2 replicas.
The four library-based APIs other than PyJWT look keys up through a ``jwtobs.JwksSource`` of their own.

Background (every timeline, quiet ones too): diurnal and weekly curves per population (evening peaks for app and
voice, flat device chatter with an evening bump, business hours for internal services, demand-response bursts);
expired tokens from lazy refresh-after-401 clients (voice clouds, apps resumed), battery devices waking after
hours with cached tokens; devices with their own clocks (most within seconds, a few minutes behind, some
drifting), boards booting with the build date until NTP syncs, a few behind captive portals that never sync;
internet scanners (1-3 garbage tokens/min: alg none, random kid, typ JWT without client id, tampered, truncated,
huge, HS256 with the public key, years-expired); healthy key rotations with overlap; JWKS blips (1-3 min 503s or
connection resets); rolling deploys, crashes and autoscaling (cold caches); OTA waves (cohort reboots) and broker
restarts (reconnect storms).

Incidents (``INCIDENTS``, 4 incident timelines of 12 h): each kind of ``jwtobs/kinds.py`` 2-4 times.
- kid_before_publish: an emergency key signs before the key set carries it (devices, app, grid; 15-25 min).
- key_removed_early: a rotation whose old key leaves the key set minutes after signing switched (devices, link).
- jwks_outage: the key endpoint 503s / resets / 500s for 30-45 min, a rolling deploy (cold caches) inside it;
  PyJWKClient's 5 min TTL and the short max_stale of some APIs make it visible.
- signature_spike: one signing node reloads the wrong private key under the live kid (share 5-50 % of tokens).
- clock_skew: voice-siri's cloud 15 min behind; a camera firmware build 7 min ahead (self-signed assertions:
  JWT_NOT_YET_VALID); a lock model whose RTC drifts; 20 % of voice-alexa 5 min behind; meters drifting behind.
- server_clock_skew: the consumer IdP 3 min ahead, the utility STS 7 min behind, one device-api replica 4 min
  behind.
- issuer_stalled: the account-linking, device token and utility token endpoints down; clients keep presenting.
- audience_misconfig: app-api and ota-service deployed with a staging audience (rolled out and back replica by
  replica); voice-google requesting the legacy audience.
- type_confusion: an hl-android build sending ID tokens, some thermostats sending refresh tokens to the MQTT
  bridge, the OTA orchestrator sending refresh tokens.
- attack_burst: token forging / credential stuffing against app-api, device-api, voice-gateway (25-60 per min).
Labels follow the brief: a rejection is counted for an incident when its request carries the incident's tag and its
reason is one the kind causes (``REASONS_OF``); token tags stop 15 min after the token's exp.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import hashlib
import hmac
import http.server
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import threading
import time

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
FP_KEY = "fleet60-fingerprint-key-0123456789abcdef"

ISSUERS = {
    "devices": {"iss": "https://devices.hearthlink.example", "alg": "ES256", "ttl": 3600},
    "attest": {"iss": "https://attest.hearthlink.example", "alg": "ES256", "ttl": 600},
    "app": {"iss": "https://id.hearthlink.example", "alg": "RS256", "ttl": 900},
    "link": {"iss": "https://link.hearthlink.example", "alg": "ES256", "ttl": 3600},
    "grid": {"iss": "https://sts.gridpartner.example", "alg": "ES256", "ttl": 300},
    "internal": {"iss": "https://sts.internal.hearthlink.example", "alg": "ES256", "ttl": 600},
}
HW_MODELS = ("thermo-t3", "cam-c2", "meter-m1", "lock-l5")

APIS = {
    "mqtt-bridge": {"kind": "verifierset", "leeway": 30, "replicas": 3, "aud": "mqtt-bridge", "public": True},
    "device-api": {"kind": "pyjwt", "leeway": 60, "replicas": 3, "aud": "device-api", "public": True},
    "app-api": {"kind": "joserfc", "leeway": 10, "replicas": 2, "aud": "app-api", "public": True},
    "voice-gateway": {"kind": "jose", "leeway": 120, "replicas": 2, "aud": "voice-gateway", "public": True},
    "dr-ingest": {"kind": "authlib", "leeway": 5, "replicas": 2, "aud": "dr-ingest", "public": True},
    "internal-api": {"kind": "jwcrypto", "leeway": 0, "replicas": 1, "aud": "internal-api", "public": False},
    "ota-service": {"kind": "verifier", "leeway": 15, "replicas": 2, "aud": "ota-service", "public": False},
}
API_ISSUERS = {
    "mqtt-bridge": ("devices", "attest"),
    "device-api": ("devices",),
    "app-api": ("app",),
    "voice-gateway": ("link",),
    "dr-ingest": ("grid",),
    "internal-api": ("internal",),
    "ota-service": ("devices", "internal"),
}

# populations: client id, issuer, API, actors (scale 1), peak requests per actor per hour, curve, token use
# (margin: seconds before exp a client refreshes; lazy: share of actors that refresh only after a 401; sleepy:
# share of battery devices sleeping for hours), clock spread
COHORTS = [
    # mqtt reconnects: devices with issued tokens, and battery locks/cameras with self-signed assertions
    dict(
        client="thermo-t3",
        iss="devices",
        api="mqtt-bridge",
        n=420,
        rate=1.2,
        curve="device",
        margin=120,
        lazy=0.04,
        sleepy=0.0,
    ),
    dict(
        client="meter-m1",
        iss="devices",
        api="mqtt-bridge",
        n=300,
        rate=0.8,
        curve="meter",
        margin=300,
        lazy=0.02,
        sleepy=0.0,
    ),
    dict(
        client="lock-l5",
        iss="attest",
        api="mqtt-bridge",
        n=260,
        rate=0.9,
        curve="device",
        margin=60,
        lazy=0.0,
        sleepy=0.5,
    ),
    dict(
        client="cam-c2",
        iss="attest",
        api="mqtt-bridge",
        n=200,
        rate=1.5,
        curve="device",
        margin=60,
        lazy=0.0,
        sleepy=0.2,
    ),
    # REST device API
    dict(
        client="thermo-t3",
        iss="devices",
        api="device-api",
        n=500,
        rate=1.0,
        curve="device",
        margin=90,
        lazy=0.02,
        sleepy=0.0,
    ),
    dict(
        client="cam-c2",
        iss="devices",
        api="device-api",
        n=300,
        rate=1.6,
        curve="device",
        margin=60,
        lazy=0.02,
        sleepy=0.1,
    ),
    dict(
        client="lock-l5",
        iss="devices",
        api="device-api",
        n=260,
        rate=0.5,
        curve="device",
        margin=30,
        lazy=0.15,
        sleepy=0.6,
    ),
    dict(
        client="meter-m1",
        iss="devices",
        api="device-api",
        n=200,
        rate=0.6,
        curve="meter",
        margin=300,
        lazy=0.0,
        sleepy=0.0,
    ),
    # the companion app
    dict(client="hl-ios", iss="app", api="app-api", n=260, rate=3.0, curve="evening", margin=30, lazy=0.04, sleepy=0.3),
    dict(
        client="hl-android",
        iss="app",
        api="app-api",
        n=300,
        rate=3.0,
        curve="evening",
        margin=30,
        lazy=0.05,
        sleepy=0.3,
    ),
    dict(client="hl-web", iss="app", api="app-api", n=80, rate=2.0, curve="office", margin=60, lazy=0.05, sleepy=0.0),
    # voice clouds (account linking): they cache and refresh after a 401
    dict(
        client="voice-alexa",
        iss="link",
        api="voice-gateway",
        n=360,
        rate=1.6,
        curve="evening",
        margin=0,
        lazy=0.08,
        sleepy=0.2,
    ),
    dict(
        client="voice-google",
        iss="link",
        api="voice-gateway",
        n=300,
        rate=1.6,
        curve="evening",
        margin=60,
        lazy=0.05,
        sleepy=0.2,
    ),
    dict(
        client="voice-siri",
        iss="link",
        api="voice-gateway",
        n=100,
        rate=1.2,
        curve="evening",
        margin=120,
        lazy=0.1,
        sleepy=0.2,
    ),
    # the utility partner: a few pushers, many calls (bursts added per timeline)
    dict(
        client="gridco-dr", iss="grid", api="dr-ingest", n=12, rate=40.0, curve="meter", margin=30, lazy=0.0, sleepy=0.0
    ),
    # internal services
    dict(
        client="rules-engine",
        iss="internal",
        api="internal-api",
        n=12,
        rate=90.0,
        curve="evening",
        margin=60,
        lazy=0.0,
        sleepy=0.0,
    ),
    dict(
        client="billing-sync",
        iss="internal",
        api="internal-api",
        n=4,
        rate=60.0,
        curve="office",
        margin=60,
        lazy=0.0,
        sleepy=0.0,
    ),
    dict(
        client="ota-orchestrator",
        iss="internal",
        api="ota-service",
        n=6,
        rate=40.0,
        curve="office",
        margin=60,
        lazy=0.0,
        sleepy=0.0,
    ),
    dict(
        client="thermo-t3",
        iss="devices",
        api="ota-service",
        n=400,
        rate=0.25,
        curve="device",
        margin=120,
        lazy=0.03,
        sleepy=0.0,
    ),
    dict(
        client="cam-c2",
        iss="devices",
        api="ota-service",
        n=250,
        rate=0.25,
        curve="device",
        margin=120,
        lazy=0.03,
        sleepy=0.0,
    ),
]

TIMELINES = {
    # quiet days: 24 h, nothing injected (start days chosen for weekday/weekend variety)
    "quiet-mon": {"start": "2026-11-02T00:00:00Z", "hours": 24, "quiet": True, "seed": 1},
    "quiet-thu": {"start": "2026-11-05T00:00:00Z", "hours": 24, "quiet": True, "seed": 2},
    "quiet-sat": {"start": "2026-11-07T00:00:00Z", "hours": 24, "quiet": True, "seed": 3},
    "quiet-sun": {"start": "2026-11-08T00:00:00Z", "hours": 24, "quiet": True, "seed": 4},
    # incident timelines: 12 h
    "inc-weekday-evening": {"start": "2026-11-10T10:00:00Z", "hours": 12, "quiet": False, "seed": 5, "volume": 1.7},
    "inc-ota-wave": {"start": "2026-11-12T06:00:00Z", "hours": 12, "quiet": False, "seed": 6, "volume": 1.7},
    "inc-weekend": {"start": "2026-11-14T08:00:00Z", "hours": 12, "quiet": False, "seed": 7, "volume": 1.7},
    "inc-dr-event": {"start": "2026-11-17T12:00:00Z", "hours": 12, "quiet": False, "seed": 8, "volume": 1.5},
}

# at: hours from the timeline start; dur: hours
INCIDENTS = [
    # --- inc-weekday-evening
    dict(id="we-kbp", timeline="inc-weekday-evening", kind="kid_before_publish", at=2.0, dur=0.4, issuer="devices"),
    dict(
        id="we-outage",
        timeline="inc-weekday-evening",
        kind="jwks_outage",
        at=4.0,
        dur=0.75,
        issuer="devices",
        mode="503",
    ),
    dict(
        id="we-skew-behind",
        timeline="inc-weekday-evening",
        kind="clock_skew",
        at=1.0,
        dur=5.0,
        client="voice-siri",
        offset=-900,
        drift=0.0,
        share=1.0,
    ),
    dict(id="we-aud-api", timeline="inc-weekday-evening", kind="audience_misconfig", at=8.5, dur=0.5, api="app-api"),
    dict(
        id="we-typ",
        timeline="inc-weekday-evening",
        kind="type_confusion",
        at=6.0,
        dur=3.0,
        client="hl-android",
        api="app-api",
        share=0.25,
    ),
    dict(
        id="we-attack", timeline="inc-weekday-evening", kind="attack_burst", at=9.5, dur=0.4, api="app-api", per_min=60
    ),
    dict(id="we-stall", timeline="inc-weekday-evening", kind="issuer_stalled", at=5.5, dur=1.0, issuer="link"),
    # --- inc-ota-wave: a firmware build with a bad clock, a drifting RTC, OTA reboots, a broker restart
    dict(
        id="ota-skew-ahead",
        timeline="inc-ota-wave",
        kind="clock_skew",
        at=2.0,
        dur=4.0,
        client="cam-c2",
        offset=420,
        drift=0.0,
        share=0.3,
        attest=True,
    ),
    dict(
        id="ota-skew-drift",
        timeline="inc-ota-wave",
        kind="clock_skew",
        at=0.5,
        dur=10.0,
        client="lock-l5",
        offset=-60,
        drift=-0.04,
        share=0.15,
        attest=True,
    ),
    dict(id="ota-rm-early", timeline="inc-ota-wave", kind="key_removed_early", at=3.0, dur=0.25, issuer="devices"),
    dict(id="ota-sig", timeline="inc-ota-wave", kind="signature_spike", at=7.0, dur=1.0, issuer="internal", share=0.5),
    dict(
        id="ota-srv-replica",
        timeline="inc-ota-wave",
        kind="server_clock_skew",
        at=5.0,
        dur=2.0,
        api="device-api",
        replica=1,
        offset=-240,
    ),
    dict(
        id="ota-aud-client", timeline="inc-ota-wave", kind="audience_misconfig", at=8.0, dur=2.0, client="voice-google"
    ),
    dict(
        id="ota-outage", timeline="inc-ota-wave", kind="jwks_outage", at=9.0, dur=0.6, issuer="internal", mode="reset"
    ),
    dict(id="ota-attack", timeline="inc-ota-wave", kind="attack_burst", at=10.5, dur=0.3, api="device-api", per_min=40),
    # --- inc-weekend: evening peak, small offsets
    dict(
        id="wk-srv-issuer", timeline="inc-weekend", kind="server_clock_skew", at=3.0, dur=1.5, issuer="app", offset=180
    ),
    dict(
        id="wk-skew-small",
        timeline="inc-weekend",
        kind="clock_skew",
        at=6.0,
        dur=4.0,
        client="voice-alexa",
        offset=-300,
        drift=0.0,
        share=0.2,
    ),
    dict(id="wk-sig", timeline="inc-weekend", kind="signature_spike", at=9.0, dur=0.75, issuer="link", share=0.3),
    dict(id="wk-kbp", timeline="inc-weekend", kind="kid_before_publish", at=1.5, dur=0.25, issuer="app"),
    dict(id="wk-stall", timeline="inc-weekend", kind="issuer_stalled", at=7.0, dur=1.25, issuer="devices"),
    dict(
        id="wk-typ",
        timeline="inc-weekend",
        kind="type_confusion",
        at=4.5,
        dur=2.5,
        client="thermo-t3",
        api="mqtt-bridge",
        share=0.1,
    ),
    dict(
        id="wk-attack", timeline="inc-weekend", kind="attack_burst", at=10.0, dur=0.5, api="voice-gateway", per_min=25
    ),
    # --- inc-dr-event: the utility partner's demand-response day
    dict(
        id="dr-srv-issuer",
        timeline="inc-dr-event",
        kind="server_clock_skew",
        at=2.0,
        dur=1.0,
        issuer="grid",
        offset=-420,
    ),
    dict(id="dr-rm-early", timeline="inc-dr-event", kind="key_removed_early", at=5.0, dur=0.2, issuer="link"),
    dict(id="dr-sig", timeline="inc-dr-event", kind="signature_spike", at=4.0, dur=0.5, issuer="devices", share=0.05),
    dict(id="dr-aud-api", timeline="inc-dr-event", kind="audience_misconfig", at=7.0, dur=0.3, api="ota-service"),
    dict(id="dr-stall", timeline="inc-dr-event", kind="issuer_stalled", at=9.0, dur=0.6, issuer="grid"),
    dict(
        id="dr-typ",
        timeline="inc-dr-event",
        kind="type_confusion",
        at=6.0,
        dur=2.0,
        client="ota-orchestrator",
        api="ota-service",
        share=0.5,
    ),
    dict(id="dr-outage", timeline="inc-dr-event", kind="jwks_outage", at=8.0, dur=0.5, issuer="link", mode="500"),
    dict(id="dr-kbp", timeline="inc-dr-event", kind="kid_before_publish", at=10.0, dur=0.3, issuer="grid"),
    dict(
        id="dr-skew",
        timeline="inc-dr-event",
        kind="clock_skew",
        at=3.0,
        dur=3.0,
        client="meter-m1",
        offset=-240,
        drift=-0.02,
        share=0.3,
    ),
]

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


def _epoch(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# ----------------------------------------------------------------------------------------------- plans (parent)


def _keygen(alg: str):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(pub, kid: str, alg: str) -> dict:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    d = (RSAAlgorithm if alg == "RS256" else ECAlgorithm).to_jwk(pub, as_dict=True)
    d.update(kid=kid, alg=alg, use="sig")
    return d


class Key:
    def __init__(self, slug: str, kid: str, alg: str, publish: float, remove: float, sign_from: float | None):
        self.slug, self.kid, self.alg = slug, kid, alg
        self.priv = _keygen(alg)
        self.jwk = _jwk(self.priv.public_key(), kid, alg)
        self.publish, self.remove, self.sign_from = publish, remove, sign_from


def build_plan(name: str, seed_base: int, scale: float) -> dict:
    cfg = TIMELINES[name]
    rng = random.Random(seed_base * 1000 + cfg["seed"])
    t0 = _epoch(cfg["start"])
    t1 = t0 + cfg["hours"] * HOUR
    incs = [dict(i) for i in INCIDENTS if i["timeline"] == name]
    for i in incs:
        i["a"] = t0 + i["at"] * HOUR
        i["b"] = i["a"] + i["dur"] * HOUR
    keys: dict[str, list[Key]] = {}
    for slug, ic in ISSUERS.items():
        alg = ic["alg"]
        if slug == "attest":  # one key per hardware model, all published, never rotated here
            keys[slug] = [Key(slug, f"hw-{m}-2025", alg, t0 - 400 * DAY, t1 + DAY, None) for m in HW_MODELS]
            continue
        month = dt.datetime.fromtimestamp(t0, dt.UTC).strftime("%Y%m")
        cur = Key(slug, f"{slug}-{month}-{rng.randrange(16**4):04x}", alg, t0 - 40 * DAY, t1 + DAY, t0 - 30 * DAY)
        keys[slug] = [cur]
        # a healthy rotation in some timelines: publish, sign 2 h later, remove the old key after ttl + 1 h (not
        # for an issuer whose rotation goes wrong in this timeline)
        keyed = {i.get("issuer") for i in incs if i["kind"] in ("kid_before_publish", "key_removed_early")}
        if rng.random() < 0.5 and slug not in keyed:
            p = t0 + rng.uniform(0.1, 0.5) * (t1 - t0)
            new = Key(slug, f"{slug}-{month}-{rng.randrange(16**4):04x}", alg, p, t1 + DAY, p + 2 * HOUR)
            cur.remove = new.sign_from + ic["ttl"] + HOUR
            keys[slug].append(new)
    outages = {slug: [] for slug in ISSUERS}
    for slug in ISSUERS:  # blips: 1-3 min 503s or resets
        for _ in range(rng.randint(1, 3) * int(cfg["hours"] // 12)):
            a = t0 + rng.uniform(0, t1 - t0 - 600)
            outages[slug].append((a, a + rng.uniform(60, 180), rng.choice(["503", "reset"])))
    rogue: dict[str, object] = {}
    for i in incs:
        slug = i.get("issuer")
        ic = ISSUERS.get(slug, {})
        if i["kind"] == "kid_before_publish":
            new = Key(slug, f"{slug}-emerg-{rng.randrange(16**4):04x}", ic["alg"], i["b"], t1 + DAY, i["a"])
            keys[slug].append(new)
            i["kid"] = new.kid
        elif i["kind"] == "key_removed_early":
            old = max(
                (k for k in keys[slug] if k.sign_from is not None and k.sign_from <= i["a"]), key=lambda k: k.sign_from
            )
            new = Key(slug, f"{slug}-rot-{rng.randrange(16**4):04x}", ic["alg"], i["a"] - 3 * HOUR, t1 + DAY, i["a"])
            old.remove = i["b"]  # tokens signed with the old key still valid for up to ttl
            keys[slug].append(new)
            i["kid"] = old.kid
        elif i["kind"] == "signature_spike":
            rogue[i["id"]] = _keygen(ic["alg"])
        elif i["kind"] == "jwks_outage":
            outages[slug].append((i["a"], i["b"], i["mode"]))
    # validator restarts per api/replica: a rolling deploy a day, crashes, autoscaling, the outage-time deploy
    restarts: dict[str, list[float]] = {}
    for api, ac in APIS.items():
        deploy = t0 + rng.uniform(0.3, 0.8) * (t1 - t0)
        for r in range(ac["replicas"]):
            ts = [deploy + r * 240 + rng.uniform(0, 60)]
            ts += [t0 + rng.uniform(0, t1 - t0) for _ in range(rng.choice([0, 0, 1, 2]))]
            restarts[f"{api}-{r}"] = sorted(ts)
    for i in incs:
        if i["kind"] == "jwks_outage":  # a rolling deploy during the outage (cold caches)
            for api, iss in API_ISSUERS.items():
                if slug_of(i["issuer"]) in iss:
                    for r in range(APIS[api]["replicas"]):
                        restarts[f"{api}-{r}"].append(i["a"] + 300 + r * 420)
                        restarts[f"{api}-{r}"].sort()
        if i["kind"] == "audience_misconfig" and "api" in i:  # the bad deploy, rolled back at b
            for r in range(APIS[i["api"]]["replicas"]):
                restarts[f"{i['api']}-{r}"] += [i["a"] + r * 60, i["b"] + r * 60]
                restarts[f"{i['api']}-{r}"].sort()
    storms = [t0 + rng.uniform(0.1, 0.9) * (t1 - t0) for _ in range(rng.randint(1, 2))]  # broker restarts
    ota = [(t0 + rng.uniform(0.1, 0.8) * (t1 - t0), rng.choice(HW_MODELS)) for _ in range(rng.randint(1, 3))]
    if name == "inc-ota-wave":
        ota.append((t0 + 2.0 * HOUR, "cam-c2"))
    dr_bursts = [t0 + rng.uniform(0.05, 0.95) * (t1 - t0) for _ in range(rng.randint(2, 4))]
    if name == "inc-dr-event":
        dr_bursts += [t0 + h * HOUR for h in (2.2, 5.5, 9.2, 10.1)]
    return dict(
        name=name,
        t0=t0,
        t1=t1,
        quiet=cfg["quiet"],
        seed=seed_base * 1000 + cfg["seed"],
        scale=scale,
        volume=cfg.get("volume", 1.0),
        incs=incs,
        keys=keys,
        outages=outages,
        rogue=rogue,
        restarts=restarts,
        storms=storms,
        ota=ota,
        dr_bursts=dr_bursts,
    )


def slug_of(slug: str) -> str:
    return slug


# ------------------------------------------------------------------------------------------- the JWKS server

PLANS: dict[str, dict] = {}
CURRENT: dict[str, object] = {"plan": None}
SERVER: dict[str, object] = {}


class _Jwks(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        plan = CURRENT["plan"]
        slug = self.path.strip("/").split("/")[0]
        now = time.time()
        if plan is None or slug not in ISSUERS:
            self.send_response(404)
            self.end_headers()
            return
        for a, b, mode in plan["outages"][slug]:
            if a <= now < b:
                if mode == "reset":
                    self.close_connection = True
                    return
                self.send_response(int(mode))
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = json.dumps({"keys": [k.jwk for k in plan["keys"][slug] if k.publish <= now < k.remove]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server_port() -> int:
    if "port" not in SERVER:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        SERVER["port"] = srv.server_address[1]
        SERVER["srv"] = srv
    return int(SERVER["port"])


# ----------------------------------------------------------------------------------------------- validators


def _pem(pub) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _kid(token: str, exc):
    try:
        h = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return h.get("kid") if isinstance(h, dict) else None
    except Exception as e:
        raise exc("bad header") from e


def build_validator(api: str, port: int):
    """The app's own validation code, observed by jwtobs; returns validate(token) (raises on rejection)."""
    import jwtobs

    ac = APIS[api]
    aud, lw = ac["aud"], ac["leeway"]
    url = {s: f"http://127.0.0.1:{port}/{s}/jwks.json" for s in ISSUERS}
    kind = ac["kind"]
    if kind in ("verifierset", "verifier"):
        vs = []
        for s in API_ISSUERS[api]:
            ic = ISSUERS[s]
            src = jwtobs.JwksSource(
                url[s], timeout=2.0, cooldown=30.0, clock=time.time, max_stale=86400 if kind == "verifierset" else 900
            )
            prof = jwtobs.Profile(
                name=api,
                issuer=ic["iss"],
                audience=aud,
                algorithms=(ic["alg"],),
                token_type=None if s == "attest" else "at+jwt",
                leeway=lw,
                required_claims=("iss", "sub", "aud", "exp"),
            )
            vs.append(jwtobs.Verifier(prof, keys=src, backend="pyjwt" if kind == "verifierset" else "joserfc"))
        vset = jwtobs.VerifierSet(vs)
        return vset.verify
    ic = ISSUERS[API_ISSUERS[api][0]]
    iss, alg = ic["iss"], ic["alg"]
    if kind == "pyjwt":
        import jwt

        state = {"client": jwt.PyJWKClient(url["devices"], lifespan=10**9, timeout=2), "next": 0.0}

        def validate(token):
            now = time.time()
            if now >= state["next"]:  # our own TTL in (simulated) wall time: drop the cached set every 5 min
                state["client"].jwk_set_cache.put(None)
                state["next"] = now + 300
            key = state["client"].get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=[alg], audience=aud, issuer=iss, leeway=lw)

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    src = jwtobs.JwksSource(url[API_ISSUERS[api][0]], timeout=2.0, cooldown=30.0, clock=time.time, max_stale=3600)
    cache: dict = {}

    def key_for(token, exc, conv):
        k = src.get(_kid(token, exc))
        ck = (k.kid, id(k.key))
        if ck not in cache:
            cache[ck] = conv(k.key)
        return cache[ck]

    if kind == "jose":
        from jose import jwt as jose_jwt
        from jose.exceptions import JWTError

        def validate(token):
            pem = key_for(token, JWTError, lambda k: _pem(k).decode())
            return jose_jwt.decode(token, pem, algorithms=[alg], audience=aud, issuer=iss, options={"leeway": lw})

        return jwtobs.wrap(validate, library="jose", profile=api)
    if kind == "joserfc":
        from joserfc import jwt as rjwt
        from joserfc.errors import DecodeError
        from joserfc.jwk import ECKey, RSAKey

        registry = rjwt.JWTClaimsRegistry(
            leeway=lw,
            iss={"essential": True, "value": iss},
            aud={"essential": True, "value": aud},
            exp={"essential": True},
        )

        def validate(token):
            k = key_for(token, DecodeError, lambda k: (RSAKey if alg == "RS256" else ECKey).import_key(_pem(k)))
            tok = rjwt.decode(token, k, algorithms=[alg])
            registry.validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if kind == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken
        from authlib.jose.errors import DecodeError as ADecodeError

        ajwt = JsonWebToken([alg])
        opts = {
            "iss": {"essential": True, "value": iss},
            "aud": {"essential": True, "value": aud},
            "exp": {"essential": True},
        }

        def validate(token):
            k = key_for(token, ADecodeError, lambda k: JsonWebKey.import_key(_pem(k), {"kty": "EC"}))
            claims = ajwt.decode(token, k, claims_options=opts)
            claims.validate(leeway=lw)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if kind == "jwcrypto":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt
        from jwcrypto.jws import InvalidJWSObject

        def validate(token):
            k = key_for(token, InvalidJWSObject, lambda k: cjwk.JWK.from_pem(_pem(k)))
            t = cjwt.JWT(check_claims={"iss": iss, "aud": aud, "exp": None}, expected_type="JWS")
            t.leeway = lw
            t.deserialize(token, k)
            return t

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(kind)


# ------------------------------------------------------------------------------------------- traffic (worker)


def curve(kind: str, t: float) -> float:
    d = dt.datetime.fromtimestamp(t, dt.UTC)
    h = d.hour + d.minute / 60.0
    weekend = d.weekday() >= 5
    local = (h - 6) % 24  # the fleet is mostly in US time zones
    if kind == "evening":
        v = 0.15 + 0.35 * math.exp(-((local - 8) ** 2) / 6) + 1.0 * math.exp(-((local - 20) ** 2) / 5)
        v *= 1.2 if weekend else 1.0
    elif kind == "office":
        v = 0.1 + (0.9 if 8 <= local <= 18 else 0.0)
        v *= 0.3 if weekend else 1.0
    elif kind == "meter":
        v = 0.6 + 0.4 * math.exp(-((local - 18) ** 2) / 8)
    else:  # device chatter: flat with an evening bump (people at home), more on weekends
        v = 0.55 + 0.45 * math.exp(-((local - 19) ** 2) / 10)
        v *= 1.1 if weekend else 1.0
    return min(v, 1.3) / 1.3


class Tok:
    __slots__ = ("exp", "iat", "kid", "s", "tags")

    def __init__(self, s, exp, tags, kid, iat):
        self.s, self.exp, self.tags, self.kid, self.iat = s, exp, tags, kid, iat


class Gen:
    """Generates the requests of one replica of one API."""

    def __init__(self, plan: dict, api: str, replica: int):
        self.plan, self.api, self.replica = plan, api, replica
        self.rng = random.Random(f"{plan['seed']}-{api}-{replica}")
        self.reqs: list[tuple[float, int, str, frozenset]] = []
        self.seq = 0
        self.incs = plan["incs"]

    def signing_key(self, slug: str, t: float) -> Key:
        ks = [k for k in self.plan["keys"][slug] if k.sign_from is not None and k.sign_from <= t]
        return max(ks, key=lambda k: k.sign_from)

    def issuer_skew(self, slug: str, t: float) -> tuple[float, set]:
        for i in self.incs:
            if i["kind"] == "server_clock_skew" and i.get("issuer") == slug and i["a"] <= t < i["b"]:
                return float(i["offset"]), {i["id"]}
        return 0.0, set()

    def stalled(self, slug: str, t: float) -> str | None:
        for i in self.incs:
            if i["kind"] == "issuer_stalled" and i["issuer"] == slug and i["a"] <= t < i["b"]:
                return i["id"]
        return None

    def mint(
        self,
        slug: str,
        client: str,
        sub: str,
        t: float,
        *,
        aud: str,
        typ: str = "at+jwt",
        local: float | None = None,
        kid_model: str | None = None,
        extra: dict | None = None,
    ) -> Tok:
        import jwt

        ic = ISSUERS[slug]
        tags: set = set()
        if slug == "attest":  # stamped by the device's own clock
            stamp = local if local is not None else t
            key = next(k for k in self.plan["keys"]["attest"] if k.kid == f"hw-{kid_model}-2025")
            priv, kid = key.priv, key.kid
        else:
            off, tg = self.issuer_skew(slug, t)
            tags |= tg
            stamp = t + off
            key = self.signing_key(slug, t)
            priv, kid = key.priv, key.kid
            for i in self.incs:
                if i["kind"] == "signature_spike" and i["issuer"] == slug and i["a"] <= t < i["b"]:
                    i["kid"] = kid
                    if self.rng.random() < i["share"]:
                        priv = self.plan["rogue"][i["id"]]
                        tags.add(i["id"])
                elif i["kind"] in ("kid_before_publish", "key_removed_early") and i.get("kid") == kid:
                    tags.add(i["id"])
        iat = int(stamp)
        exp = iat + ic["ttl"]
        claims = {
            "iss": ic["iss"],
            "sub": sub,
            "aud": aud,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": f"{self.seq:x}-{self.rng.randrange(1 << 40):x}",
            "client_id": client,
        }
        if extra:
            claims.update(extra)
        self.seq += 1
        s = jwt.encode(claims, priv, algorithm=ic["alg"], headers={"kid": kid, "typ": typ})
        return Tok(s, exp, frozenset(tags), kid, iat)

    def add(self, t: float, tok: Tok | str, tags=frozenset()):
        if isinstance(tok, Tok):
            tt = tok.tags if t <= tok.exp + 900 else frozenset()
            self.reqs.append((t, len(self.reqs), tok.s, frozenset(tags) | tt))
        else:
            self.reqs.append((t, len(self.reqs), tok, frozenset(tags)))

    # ------------------------------------------------------------------------------------------ populations
    def cohorts(self):
        p, rng = self.plan, self.rng
        t0, t1, scale = p["t0"], p["t1"], p["scale"]
        reps = APIS[self.api]["replicas"]
        for ci, c in enumerate(COHORTS):
            if c["api"] != self.api:
                continue
            n = max(1, round(c["n"] * 1.6 * p["volume"] * scale / reps))
            for a in range(n):
                self.actor(c, f"{c['client']}-{self.replica}-{a}", rng, t0, t1, ci)

    def actor(self, c, aid, rng, t0, t1, ci):
        slug, client = c["iss"], c["client"]
        attest = slug == "attest"
        model = client
        off = rng.gauss(0, 4)
        if rng.random() < 0.02:
            off += rng.choice([-1, 1]) * rng.uniform(60, 400)  # a few minutes off
        drift = rng.gauss(0, 2e-5) if rng.random() < 0.1 else 0.0
        captive = attest and rng.random() < 0.004  # never syncs NTP: build date for ever
        build = _epoch("2025-03-01T00:00:00Z") if rng.random() < 0.7 else 0.0
        lazy = rng.random() < c["lazy"]
        sleepy = rng.random() < c["sleepy"]
        rate = c["rate"] / HOUR
        aud = APIS[c["api"]]["aud"]
        sub = f"{'dev' if slug in ('devices', 'attest') else 'u'}-{hashlib.sha1(aid.encode()).hexdigest()[:10]}"
        # incidents touching this actor (client clocks, wrong audience, type confusion)
        skew_incs = [
            i
            for i in self.incs
            if i["kind"] == "clock_skew"
            and i["client"] == client
            and bool(i.get("attest")) == attest
            and rng.random() < i["share"]
        ]
        aud_incs = [i for i in self.incs if i["kind"] == "audience_misconfig" and i.get("client") == client]
        typ_incs = [
            i
            for i in self.incs
            if i["kind"] == "type_confusion"
            and i["client"] == client
            and i["api"] == self.api
            and rng.random() < i["share"]
        ]
        reboots = [a + rng.uniform(0, 1800) for a, m in self.plan["ota"] if m == model and rng.random() < 0.6]
        reboots += [t0 + rng.uniform(0, t1 - t0)] if rng.random() < 0.02 else []
        ntp_delay = rng.uniform(20, 240)
        times = []
        t = t0 + rng.uniform(0, 1 / rate)
        for _ in range(100000):
            t += rng.expovariate(rate)
            if t >= t1:
                break
            if sleepy and rng.random() < 0.8:  # battery: most wake-ups skipped, long sleeps
                continue
            if rng.random() < curve(c["curve"], t):
                times.append(t)
        times += reboots
        if self.api == "mqtt-bridge":  # reconnect storms after broker restarts
            times += [s + rng.uniform(0, 240) for s in self.plan["storms"] if rng.random() < 0.9]
        if self.api == "dr-ingest":  # demand-response pushes: bursts of calls
            for b in self.plan["dr_bursts"]:
                times += [b + rng.uniform(0, 600) for _ in range(int(rng.uniform(30, 90)))]
        times.sort()
        tok: Tok | None = None
        for t in times:
            local = t + off + drift * (t - t0)
            wtags: set = set()
            for i in skew_incs:
                if i["a"] <= t < i["b"]:
                    local += i["offset"] + i["drift"] * (t - i["a"])
                if i["a"] <= t < i["b"] + 900:
                    wtags.add(i["id"])
            if attest:
                booted = [r for r in reboots if r <= t]
                if captive or (booted and t - booted[-1] < ntp_delay):
                    local = build + (t - (booted[-1] if booted else t0))
                if tok is None or local >= tok.exp - c["margin"] or local < tok.iat - 60:
                    tok = self.mint("attest", client, sub, t, aud=aud, typ="JWT", local=local, kid_model=model)
                self.add(t, tok, wtags)
                continue
            st = self.stalled(slug, t)
            if st:
                wtags.add(st)
            for i in self.incs:
                if i["kind"] == "jwks_outage" and i["issuer"] == slug and i["a"] <= t < i["b"] + 600:
                    wtags.add(i["id"])
            need = tok is None or (local >= tok.exp - c["margin"] if not lazy else t > tok.exp)
            if need and tok is not None and lazy:
                self.add(t, tok, wtags)  # presented until the 401, then refreshed
                t += rng.uniform(0.2, 2.0)
            if need and not st:
                ttags, a2, extra = set(), aud, None
                for i in aud_incs:
                    if i["a"] <= t < i["b"]:
                        a2 = "https://api.hearthlink.example/v1"  # the legacy audience requested by the cloud
                        ttags.add(i["id"])
                tok = self.mint(slug, client, sub, t, aud=a2, extra=extra)
                if ttags:
                    tok.tags = tok.tags | ttags
            elif need and st and tok is None:
                continue  # cold device, nothing to present
            if tok is None:
                continue
            sent = tok
            for i in typ_incs:
                if i["a"] <= t < i["b"]:
                    # the wrong token: an ID token (typ JWT, aud = client) or the refresh token
                    if slug == "app":
                        sent = self.mint(
                            slug, client, sub, t, aud=client, typ="JWT", extra={"nonce": "n", "at_hash": "x"}
                        )
                    else:
                        sent = self.mint(slug, client, sub, t, aud=aud, typ="refresh+jwt")
                    sent.tags = sent.tags | {i["id"]}
            self.add(t, sent, wtags)

    # ------------------------------------------------------------------------------------- scanners, attacks
    def garbage_pool(self):
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec

        rng = self.rng
        slugs = API_ISSUERS[self.api]
        k = self.plan["keys"][slugs[0]][0]
        ic = ISSUERS[slugs[0]]
        bad = ec.generate_private_key(ec.SECP256R1())
        now = int(self.plan["t0"])
        pool = []
        body = {"iss": ic["iss"], "sub": "admin", "aud": APIS[self.api]["aud"], "exp": now + 10**6, "iat": now}
        h = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        pool.append(("none", f"{h}.{_b64(json.dumps(body).encode())}."))
        pool.append(
            ("randkid", jwt.encode(body, bad, algorithm="ES256", headers={"kid": f"{rng.randrange(1 << 32):08x}"}))
        )
        pool.append(
            ("noclient", jwt.encode({**body, "sub": "x"}, bad, algorithm="ES256", headers={"kid": k.kid, "typ": "JWT"}))
        )
        good = jwt.encode({**body, "client_id": "hl-web"}, bad, algorithm="ES256", headers={"kid": k.kid})
        hh, _pp, ss = good.split(".")
        pool.append(("tampered", f"{hh}.{_b64(json.dumps({**body, 'sub': 'root'}).encode())}.{ss}"))
        pool.append(("truncated", good[: len(good) // 2]))
        pool.append(("huge", jwt.encode({**body, "pad": "A" * 20000}, bad, algorithm="ES256", headers={"kid": k.kid})))
        hs_h = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": k.kid}).encode())
        hs_p = _b64(json.dumps(body).encode())
        sig = hmac.new(_pem(k.priv.public_key()), f"{hs_h}.{hs_p}".encode(), hashlib.sha256).digest()
        pool.append(("hs256pub", f"{hs_h}.{hs_p}.{_b64(sig)}"))
        pool.append(
            (
                "old",
                jwt.encode(
                    {**body, "exp": 1500000000, "iat": 1499990000}, bad, algorithm="ES256", headers={"kid": k.kid}
                ),
            )
        )
        pool.append(("garbage", "eyJhbGciOiJIUzI1NiJ9.bm9wZQ"))
        return pool, bad, body, k

    def noise(self):
        import jwt

        p, rng = self.plan, self.rng
        pool, bad, body, k = self.garbage_pool()
        n_pub = sum(a["replicas"] for a in APIS.values() if a["public"])
        if APIS[self.api]["public"]:
            per_sec = rng.uniform(1, 3) / MIN / n_pub  # 1-3 per minute across the public replicas
            t = p["t0"]
            for _ in range(10**6):
                t += rng.expovariate(per_sec)
                if t >= p["t1"]:
                    break
                name, tok = rng.choice(pool)
                if name == "randkid":
                    tok = jwt.encode(body, bad, algorithm="ES256", headers={"kid": f"{rng.randrange(1 << 32):08x}"})
                self.add(t, tok)
        for i in self.incs:
            if i["kind"] != "attack_burst" or i["api"] != self.api:
                continue
            per_sec = i["per_min"] / MIN / APIS[self.api]["replicas"]
            t = i["a"]
            for _ in range(10**6):
                t += rng.expovariate(per_sec)
                if t >= i["b"]:
                    break
                r = rng.random()
                if r < 0.5:  # token forging: sub spray, random kids, alg confusion
                    tok = jwt.encode(
                        {**body, "sub": f"u-{rng.randrange(10**6)}", "client_id": "hl-ios"},
                        bad,
                        algorithm="ES256",
                        headers={"kid": rng.choice([k.kid, f"{rng.randrange(1 << 32):08x}"])},
                    )
                else:
                    tok = rng.choice(pool)[1]
                self.add(t, tok, {i["id"]})


def validator_skew(plan: dict, api: str, replica: int, t: float) -> tuple[float, set]:
    for i in plan["incs"]:
        if (
            i["kind"] == "server_clock_skew"
            and i.get("api") == api
            and i["replica"] == replica
            and i["a"] <= t < i["b"]
        ):
            return float(i["offset"]), {i["id"]}
    return 0.0, set()


def aud_override(plan: dict, api: str, replica: int, t: float) -> tuple[str | None, set]:
    for i in plan["incs"]:
        if (
            i["kind"] == "audience_misconfig"
            and i.get("api") == api
            and i["a"] + replica * 60 <= t < i["b"] + replica * 60
        ):
            return f"{api}-staging", {i["id"]}
    return None, set()


def run_task(task: tuple) -> dict:
    name, api, replica, out = task
    wall0 = time.time()
    import time_machine

    import jwtobs

    plan = PLANS[name]
    CURRENT["plan"] = plan
    port = _server_port()
    g = Gen(plan, api, replica)
    g.cohorts()
    g.noise()
    g.reqs.sort()
    path = os.path.join(out, name, "events", f"{api}-{replica}.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    jwtobs.configure(
        events_path=path, service=api, fingerprint_key=FP_KEY, defer=False, issuers=[i["iss"] for i in ISSUERS.values()]
    )
    restarts = plan["restarts"].get(f"{api}-{replica}", [])
    ri = 0
    tags_of = []
    with time_machine.travel(plan["t0"], tick=False) as tm:
        validate = build_validator(api, port)
        cur_aud = APIS[api]["aud"]
        for t, _, token, tags in g.reqs:
            while ri < len(restarts) and restarts[ri] <= t:
                ri += 1
                tm.move_to(restarts[ri - 1])
                validate = build_validator(api, port)
            wrong, atags = aud_override(plan, api, replica, t)
            want = wrong or APIS[api]["aud"]
            if want != cur_aud:  # the (mis)configured deploy
                saved = APIS[api]["aud"]
                APIS[api]["aud"] = want
                validate = build_validator(api, port)
                APIS[api]["aud"] = saved
                cur_aud = want
            off, stags = validator_skew(plan, api, replica, t)
            tm.move_to(t + off)
            try:
                validate(token)
            except Exception:
                pass
            tags_of.append(tags | atags | stags)
    jwtobs.flush()
    CURRENT["plan"] = None
    kinds = {i["id"]: i["kind"] for i in plan["incs"]}
    counted: dict[str, list] = {}
    reasons: collections.Counter = collections.Counter()
    n = rej = 0
    with open(path) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    evs = [e for e in lines if "event" not in e]
    for e, tags in zip(evs, tags_of, strict=False):
        n += 1
        if e.get("outcome") != "rejected":
            continue
        rej += 1
        r = e.get("reason")
        reasons[r] += 1
        for tg in tags:
            allowed = REASONS_OF[kinds[tg]]
            if allowed is None or r in allowed:
                c = counted.setdefault(tg, [0, None, None])
                c[0] += 1
                c[1] = e["time"] if c[1] is None or e["time"] < c[1] else c[1]
                c[2] = e["time"] if c[2] is None or e["time"] > c[2] else c[2]
    kid_of = {i["id"]: i.get("kid") for i in plan["incs"]}
    return dict(
        name=name,
        api=api,
        replica=replica,
        n=n,
        requests=len(tags_of),
        rej=rej,
        reasons=dict(reasons),
        counted=counted,
        wall=time.time() - wall0,
        kids=kid_of,
    )


# --------------------------------------------------------------------------------------------------- driver


def _score(out, names):
    """jwtobs's detectors over the generated timelines (``benchmarks/fleet22.py``'s scorer). Added after the
    generator was written and run, by someone who had read the detectors."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fleet22

    return fleet22.score_all(out, names)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=60)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score", action="store_true")
    ap.add_argument("--score-only", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(TIMELINES)
    if args.score_only:
        print(json.dumps(_score(args.out, names), indent=1, default=str))
        return 0
    w0 = time.time()
    for n in names:
        PLANS[n] = build_plan(n, args.seed_base, args.scale)
        shutil.rmtree(os.path.join(args.out, n), ignore_errors=True)
    tasks = [(n, api, r, args.out) for n in names for api, ac in APIS.items() for r in range(ac["replicas"])]
    tasks.sort(key=lambda x: -APIS[x[1]]["replicas"])
    results: dict[str, list] = collections.defaultdict(list)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.workers, maxtasksperchild=20) as pool:
        for res in pool.imap_unordered(run_task, tasks):
            results[res["name"]].append(res)
    for n in names:
        plan = PLANS[n]
        rs = results[n]
        tot = sum(r["n"] for r in rs)
        rej = sum(r["rej"] for r in rs)
        reasons: collections.Counter = collections.Counter()
        merged: dict[str, list] = {}
        kids: dict = {}
        for r in rs:
            reasons.update(r["reasons"])
            kids.update({k: v for k, v in r["kids"].items() if v})
            for tg, (c, a, b) in r["counted"].items():
                m = merged.setdefault(tg, [0, None, None])
                m[0] += c
                m[1] = a if m[1] is None or a < m[1] else m[1]
                m[2] = b if m[2] is None or b > m[2] else m[2]
        labels, missing = [], []
        for i in plan["incs"]:
            if i["id"] not in merged:
                missing.append(i["id"])
                continue
            c, a, b = merged[i["id"]]
            k = i["kind"]
            issuer = None
            if k in ISSUER_SCOPED or (k == "server_clock_skew" and "issuer" in i):
                issuer = ISSUERS[i["issuer"]]["iss"]
            client = i.get("client") if k in ("clock_skew", "audience_misconfig", "type_confusion") else None
            profile = (
                i.get("api")
                if (k == "audience_misconfig" and "api" in i) or (k == "server_clock_skew" and "api" in i)
                else None
            )
            detail = {x: y for x, y in i.items() if x not in ("a", "b", "timeline", "id", "kind", "kid")}
            detail.update(injected_start=_iso(i["a"]), injected_end=_iso(i["b"]))
            labels.append(
                dict(
                    id=i["id"],
                    kind=k,
                    start=a,
                    end=b,
                    count=c,
                    issuer=issuer,
                    kid=kids.get(i["id"]) if k in KID_SCOPED else None,
                    client_id=client,
                    profile=profile,
                    detail=detail,
                )
            )
        d = os.path.join(args.out, n)
        with open(os.path.join(d, "labels.json"), "w") as f:
            json.dump(
                dict(
                    timeline=n,
                    quiet=plan["quiet"],
                    seed=plan["seed"],
                    start=_iso(plan["t0"]),
                    end=_iso(plan["t1"]),
                    generator="fleet60",
                    incidents=labels,
                ),
                f,
                indent=1,
            )
        summ = dict(
            timeline=n,
            validations=tot,
            rejections=rej,
            rejection_rate=round(rej / max(tot, 1), 5),
            reasons=dict(reasons.most_common()),
            incidents_injected=len(plan["incs"]),
            incidents_labelled=len(labels),
            injected_without_counted_rejection=missing,
            counted={k: v[0] for k, v in merged.items()},
            events_requests_mismatch=[f"{r['api']}-{r['replica']}" for r in rs if r["n"] != r["requests"]],
            wall_s=round(sum(r["wall"] for r in rs), 1),
            run_wall_s=round(time.time() - w0, 1),
        )
        with open(os.path.join(d, "summary.json"), "w") as f:
            json.dump(summ, f, indent=1)
        print(
            f"{n}: {tot} validations, rejection rate {summ['rejection_rate']:.4f}, labelled {len(labels)}/"
            f"{len(plan['incs'])} missing={missing} top={reasons.most_common(4)}",
            flush=True,
        )
    print(f"wall {time.time() - w0:.1f} s", flush=True)
    if args.score:
        print(json.dumps(_score(args.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
