"""fleet44: a blind benchmark fleet for jwtobs - a multiplayer game platform ("Ashfall", a game publisher).

Written without reading jwtobs's detectors (only the public docs and API). Every event is written by jwtobs from a
real validation: keys are generated at run time with ``cryptography``, tokens are signed with PyJWT (RS256, ES256)
or by hand (forgeries), key sets are served by a real ``http.server`` on 127.0.0.1 (port 0) in each worker, the
clock is moved with ``time_machine`` before every validation, and each replica of each API writes its own events
file through ``jwtobs.configure(events_path=<out>/<timeline>/events/<api>-<replica>.jsonl, service=<api>)``.

Issuers
-------
- ``https://accounts.ashfall.example`` - the platform account service. RS256, ``typ: at+jwt``, 1 h access tokens
  (aud = the first-party APIs the client may call), ID tokens (``typ: JWT``, aud = client id, nonce) and refresh
  tokens as JWTs (``typ: refresh+jwt``, 30 d). Clients: ``pc-launcher`` (the PC game), ``companion-ios`` /
  ``companion-android`` (the mobile companion app; half of them refresh only after a 401), ``partner-stats-bot``
  (a third-party stats site, client credentials, refreshes when its own clock says the token expired),
  ``tournament-ops-console``.
- ``https://federation.ashfall.example/console`` - console-network partner federation: console tokens exchanged for
  platform tokens, ES256, 30 min. Clients ``console-a-title`` and ``console-b-title``; consoles resume from rest
  mode with tokens many hours old and a wrong clock until NTP syncs.
- ``https://gs.ashfall.example/<region>`` (eu-west, us-east, ap-northeast) - the dedicated game-server fleet:
  each host mints 10 min match session tokens (ES256) with its own key (kid = host) and its own host clock, the
  region registry publishes the hosts' keys; hosts restart between matches, are re-imaged with new keys now and
  then (published before use: healthy rotations).
- ``https://anticheat.ashfall.example`` - anti-cheat attestation tokens (RS256, ``typ: ac-attest+jwt``, 30 min)
  kept by the PC client and presented at every queue join.

APIs (validator kind, leeway, replicas)
---------------------------------------
- matchmaking: ``jwtobs.VerifierSet`` (accounts + federation + anti-cheat) over ``JwksSource``, backend pyjwt,
  leeway 30 s, 3 replicas (+1 autoscaled at peak).
- player-profile: ``jwtobs.wrap(fn, library="pyjwt")`` around the app's PyJWT with ``PyJWKClient`` per issuer
  (its cache follows the simulated clock), leeway 60 s, 3 replicas.
- store: ``jwtobs.Verifier`` (accounts only), backend joserfc, leeway 0, 2 replicas.
- leaderboards: python-jose wrapped (app's own key cache, keys chosen by kid), leeway 10 s, 2 replicas.
- chat-gateway: joserfc ``jwt.decode`` + ``JWTClaimsRegistry`` wrapped (accounts + game servers), leeway 5 s,
  3 replicas (+1 autoscaled).
- telemetry-ingest: Authlib ``decode`` + ``validate`` wrapped (accounts, federation, game servers), leeway 120 s,
  3 replicas (+1 autoscaled).
- cdn-edge-auth: jwcrypto ``JWT(jwt=, key=JWKSet)`` wrapped (accounts + federation), leeway 45 s, 3 replicas.
- tournament-admin: ``jwtobs.Verifier`` (accounts only), backend authlib, leeway 0, 2 replicas.
The wrapped apps keep their own key caches (TTL 10 min, unknown kid -> refetch at most once a minute, some keep
the last good set on errors, some do not), so a key-set outage shows where a real app would show it.

Background (every timeline)
---------------------------
Player sessions start along per-region evening peaks (eu-west UTC+1, us-east UTC-5, ap-northeast UTC+9), with
a weekend factor. Each session is a device with its own clock (most within a second or two, some minutes off,
a few drifting, some consoles booting hours off until NTP syncs after 1-3 min). Clients present what they hold:
stored tokens from the last session (hours old: 401, refresh, retry), proactive refresh by the device clock, lazy
refresh-after-401 integrations and mobile apps, late post-match telemetry uploads with the match session token.
Matches: queue (matchmaking + attestation), 12-25 min on a host of the region with chat and telemetry on the
host's session token. Internet scanners, 1-3 a minute fleet-wide (alg none, random kid, typ JWT without client,
tampered, truncated, huge, HS256 with the public key, years-expired). Healthy key rotations with overlap (accounts
or federation or anti-cheat on some days, host re-images every day). JWKS blips (503s and resets of seconds).
Rolling deploys, crashes, autoscaled replicas (cold caches). Patch days (a wave of clients waking with old tokens,
CDN download surge) and esports tournament bursts (legitimate) on some days.

Incidents (``INCIDENTS``, 30 over the four 12 h timelines, every kind 2-4 times) are injected the way they happen
on such a platform; see each entry's ``detail``. Hard ones on purpose: a single game-server host's kid (rotated
before publication, evicted early, regenerated under the old kid) among 90 hosts; a signer node with stale key
material failing 12% of tokens; a replica whose VM clock is 5 min behind (its events carry its own clock); a 40 s
issuer clock step that only the leeway-0 APIs see; a stats bot 75 s behind; ops laptops 200 s behind;
one CDN node with the wrong audience; a client requesting the wrong audience on 30% of its devices; consoles
drifting behind during an evening where rest-mode consoles already present hours-old tokens; an issuer stall
during the tournament. Hard negatives in the quiet days: patch-day waves of clients presenting hours-old tokens,
esports spectator bursts, healthy rotations after which hours-old tokens of the retired kid are UNKNOWN_KID,
scanners replaying tampered copies of tokens seen earlier, consoles booting hours off until NTP.

Volume and cost: 75-125 k validations per timeline at ``--scale 1.0`` (about 740 k in all, 150 k tokens signed);
the whole run takes about 10 min with ``--workers 2`` on a 2-core host.

Labels: ``<out>/<timeline>/labels.json``; a rejection counts for an incident when its request carries the
incident's tag and its reason is one the kind causes (``REASONS_OF``). Requests are matched to events by order
within each replica file.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
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
import types
import urllib.request
import warnings
from datetime import UTC, datetime
from typing import ClassVar

DOMAIN = "ashfall.example"
ISS_ACCT = f"https://accounts.{DOMAIN}"
ISS_FED = f"https://federation.{DOMAIN}/console"
ISS_AC = f"https://anticheat.{DOMAIN}"
REGIONS = {"eu-west": 1, "us-east": -5, "ap-northeast": 9}  # local UTC offset (h)
ISS_GS = {r: f"https://gs.{DOMAIN}/{r}" for r in REGIONS}
GS_ISSUERS = tuple(ISS_GS.values())
HOSTS_PER_REGION = 30

FIRST_PARTY = ["matchmaking", "player-profile", "store", "leaderboards", "chat-gateway", "telemetry-ingest", "cdn-edge"]
# api -> (aud, leeway, replicas, autoscaled extra replica?, issuers accepted)
APIS = {
    "matchmaking": ("matchmaking", 30, 3, True, (ISS_ACCT, ISS_FED, ISS_AC)),
    "player-profile": ("player-profile", 60, 3, False, (ISS_ACCT, ISS_FED)),
    "store": ("store", 0, 2, False, (ISS_ACCT,)),
    "leaderboards": ("leaderboards", 10, 2, False, (ISS_ACCT,)),
    "chat-gateway": ("chat-gateway", 5, 3, True, (ISS_ACCT, *GS_ISSUERS)),
    "telemetry-ingest": ("telemetry-ingest", 120, 3, True, (ISS_ACCT, ISS_FED, *GS_ISSUERS)),
    "cdn-edge-auth": ("cdn-edge", 45, 3, False, (ISS_ACCT, ISS_FED)),
    "tournament-admin": ("tournament-admin", 0, 2, False, (ISS_ACCT,)),
}
LEEWAY = {a: v[1] for a, v in APIS.items()}

# client -> (issuer, access lifetime, lazy share, api weights, req/min while active, stale-token share at start)
CLIENTS = {
    "pc-launcher": (
        ISS_ACCT,
        3600,
        0.05,
        {
            "matchmaking": 10,
            "player-profile": 14,
            "store": 6,
            "leaderboards": 8,
            "chat-gateway": 8,
            "telemetry-ingest": 22,
            "cdn-edge-auth": 12,
        },
        0.9,
        0.12,
    ),
    "console-a-title": (
        ISS_FED,
        1800,
        0.03,
        {"matchmaking": 14, "player-profile": 22, "telemetry-ingest": 24, "cdn-edge-auth": 14},
        0.8,
        0.35,
    ),
    "console-b-title": (
        ISS_FED,
        1800,
        0.03,
        {"matchmaking": 14, "player-profile": 22, "telemetry-ingest": 24, "cdn-edge-auth": 14},
        0.8,
        0.35,
    ),
    "companion-ios": (
        ISS_ACCT,
        3600,
        0.45,
        {"player-profile": 45, "store": 15, "leaderboards": 30, "chat-gateway": 10},
        1.2,
        0.5,
    ),
    "companion-android": (
        ISS_ACCT,
        3600,
        0.55,
        {"player-profile": 45, "store": 15, "leaderboards": 30, "chat-gateway": 10},
        1.2,
        0.5,
    ),
}
CLIENT_AUD = {
    "pc-launcher": FIRST_PARTY,
    "companion-ios": ["player-profile", "store", "leaderboards", "chat-gateway"],
    "companion-android": ["player-profile", "store", "leaderboards", "chat-gateway"],
    "console-a-title": ["matchmaking", "player-profile", "telemetry-ingest", "cdn-edge"],
    "console-b-title": ["matchmaking", "player-profile", "telemetry-ingest", "cdn-edge"],
    "partner-stats-bot": ["leaderboards", "player-profile"],
    "tournament-ops-console": ["tournament-admin", "leaderboards"],
}
PLAYER_CLIENT_MIX = [
    ("pc-launcher", 42),
    ("console-a-title", 18),
    ("console-b-title", 14),
    ("companion-ios", 12),
    ("companion-android", 14),
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

TIMELINES = {
    "quiet-tue": dict(
        quiet=True, start="2026-11-03T00:00:00Z", hours=24, weekend=False, patch=None, cup=None, rotate={ISS_ACCT: 9.5}
    ),
    "quiet-patch-day": dict(
        quiet=True, start="2026-11-11T00:00:00Z", hours=24, weekend=False, patch=8.0, cup=None, rotate={ISS_FED: 15.0}
    ),
    "quiet-sat-cup": dict(
        quiet=True,
        start="2026-11-14T00:00:00Z",
        hours=24,
        weekend=True,
        patch=None,
        cup=(13.0, 19.0),
        rotate={ISS_AC: 4.0},
    ),
    "quiet-sun": dict(
        quiet=True,
        start="2026-11-22T00:00:00Z",
        hours=24,
        weekend=True,
        patch=None,
        cup=None,
        rotate={ISS_ACCT: 3.0, ISS_FED: 20.0},
    ),
    "inc-patch-night": dict(
        quiet=False, start="2026-11-19T12:00:00Z", hours=12, weekend=False, patch=2.0, cup=None, rotate={}
    ),
    "inc-eu-evening": dict(
        quiet=False, start="2026-11-24T12:00:00Z", hours=12, weekend=False, patch=None, cup=None, rotate={}
    ),
    "inc-cup-final": dict(
        quiet=False, start="2026-11-28T08:00:00Z", hours=12, weekend=True, patch=None, cup=(5.0, 10.5), rotate={}
    ),
    "inc-sunday": dict(
        quiet=False, start="2026-11-29T06:00:00Z", hours=12, weekend=True, patch=None, cup=None, rotate={}
    ),
}

# start/dur in hours from the timeline's start
INCIDENTS = [
    # --- inc-patch-night (Thu, 12:00-24:00 UTC; patch goes live 14:00) ---
    dict(
        id="pn-kbp-acct",
        timeline="inc-patch-night",
        kind="kid_before_publish",
        start=2.3,
        dur=0.45,
        iss=ISS_ACCT,
        detail="patch-day deploy of the account service switched signing to a new kid; the key-set publisher job "
        "ran 27 min later (all APIs, patch-wave traffic)",
    ),
    dict(
        id="pn-jwks-acct",
        timeline="inc-patch-night",
        kind="jwks_outage",
        start=6.1,
        dur=0.4,
        iss=ISS_ACCT,
        mode="503",
        detail="CDN origin for the accounts key set misrouted after the patch: 503 for 24 min; apps whose "
        "cache expired and cold replicas fail",
    ),
    dict(
        id="pn-kre-gs",
        timeline="inc-patch-night",
        kind="key_removed_early",
        start=8.0,
        dur=0.25,
        iss=ISS_GS["eu-west"],
        host=1,
        detail="registry evicted a draining eu-west host's key while its last match "
        "(tokens valid 10 min) was still running",
    ),
    dict(
        id="pn-aud-lb",
        timeline="inc-patch-night",
        kind="audience_misconfig",
        start=7.2,
        dur=0.6,
        api="leaderboards",
        aud="leaderboard",
        detail="leaderboards rolled out with audience 'leaderboard' (typo), replica by replica, "
        "rolled back after 36 min",
    ),
    dict(
        id="pn-skew-android",
        timeline="inc-patch-night",
        kind="clock_skew",
        start=3.0,
        dur=5.0,
        client="companion-android",
        offset=-900,
        frac=0.5,
        drift=0,
        detail="companion-android build for one OEM ships with NTP off: half the devices 15 min behind, the SDK "
        "trusts "
        "its local expiry and keeps retrying expired tokens",
    ),
    dict(
        id="pn-attack-store",
        timeline="inc-patch-night",
        kind="attack_burst",
        start=9.1,
        dur=0.35,
        api="store",
        rate=45,
        detail="forged-token burst at the store after the patch notes (alg none, HS256 with the public key, "
        "random kids)",
    ),
    dict(
        id="pn-scs-gs",
        timeline="inc-patch-night",
        kind="server_clock_skew",
        start=4.2,
        dur=1.6,
        iss=ISS_GS["ap-northeast"],
        offset=95,
        detail="the patched ap-northeast host image had chrony disabled: hosts' clocks 95 s ahead; session tokens "
        "not yet valid at the chat gateway (leeway 5 s)",
    ),
    # --- inc-eu-evening (Tue, 12:00-24:00 UTC) ---
    dict(
        id="ev-kre-acct",
        timeline="inc-eu-evening",
        kind="key_removed_early",
        start=5.0,
        dur=1.0,
        iss=ISS_ACCT,
        detail="account key rotation: the previous kid was dropped from the key set 2.5 min after signing switched, "
        "while 1 h access tokens were out",
    ),
    dict(
        id="ev-jwks-gs",
        timeline="inc-eu-evening",
        kind="jwks_outage",
        start=8.3,
        dur=0.25,
        iss=ISS_GS["eu-west"],
        mode="reset",
        detail="eu-west host registry key set resets connections for 15 min at the evening peak",
    ),
    dict(
        id="ev-sig-fed",
        timeline="inc-eu-evening",
        kind="signature_spike",
        start=3.1,
        dur=0.35,
        iss=ISS_FED,
        frac=1.0,
        detail="federation HSM failover: the standby signs with different key material under the same kid for 21 min",
    ),
    dict(
        id="ev-skew-consoleb",
        timeline="inc-eu-evening",
        kind="clock_skew",
        start=1.5,
        dur=9.0,
        client="console-b-title",
        offset=0,
        frac=0.5,
        drift=-160,
        detail="console-b system update breaks time sync: half the consoles drift behind ~160 s per hour",
    ),
    dict(
        id="ev-aud-ios",
        timeline="inc-eu-evening",
        kind="audience_misconfig",
        start=6.0,
        dur=4.0,
        client="companion-ios",
        aud=["profile-api", "store", "leaderboards", "chat-gateway"],
        frac=0.3,
        detail="companion-ios 7.4 (30% of devices updated) requests tokens with audience 'profile-api' instead of "
        "'player-profile'",
    ),
    dict(
        id="ev-type-pc",
        timeline="inc-eu-evening",
        kind="type_confusion",
        start=8.5,
        dur=2.5,
        client="pc-launcher",
        api="store",
        what="id",
        frac=0.5,
        detail="launcher hotfix sends the ID token instead of the access token to the store (half of the launchers)",
    ),
    dict(
        id="ev-scs-replica",
        timeline="inc-eu-evening",
        kind="server_clock_skew",
        start=2.0,
        dur=1.5,
        api="player-profile",
        replica=1,
        offset=-300,
        detail="player-profile replica 1 on a VM whose clock is 5 min behind: fresh tokens 'issued in the future'",
    ),
    # --- inc-cup-final (Sat 08:00-20:00 UTC, esports final 13:00-18:30) ---
    dict(
        id="cf-kbp-gs",
        timeline="inc-cup-final",
        kind="kid_before_publish",
        start=5.4,
        dur=0.25,
        iss=ISS_GS["ap-northeast"],
        host=2,
        detail="one ap-northeast host re-imaged mid-tournament mints with its new key before the registry lists it",
    ),
    dict(
        id="cf-jwks-fed",
        timeline="inc-cup-final",
        kind="jwks_outage",
        start=6.2,
        dur=0.45,
        iss=ISS_FED,
        mode="reset",
        detail="federation key-set endpoint resets connections for 27 min during the final: every app cache "
        "expires inside the outage; the JwksSource replicas ride it out on their last good keys",
    ),
    dict(
        id="cf-stall-fed",
        timeline="inc-cup-final",
        kind="issuer_stalled",
        start=2.0,
        dur=0.85,
        iss=ISS_FED,
        detail="console token exchange down 51 min (partner API quota); consoles keep presenting what they hold",
    ),
    dict(
        id="cf-sig-acct",
        timeline="inc-cup-final",
        kind="signature_spike",
        start=8.0,
        dur=0.7,
        iss=ISS_ACCT,
        frac=0.12,
        detail="one of eight account signer nodes came up with stale key material under the current kid: "
        "12% of tokens minted for 42 min fail",
    ),
    dict(
        id="cf-type-ops",
        timeline="inc-cup-final",
        kind="type_confusion",
        start=5.5,
        dur=3.0,
        client="tournament-ops-console",
        api="tournament-admin",
        what="refresh",
        frac=0.6,
        detail="tournament ops console build sends its refresh token as bearer to tournament-admin",
    ),
    dict(
        id="cf-skew-partner",
        timeline="inc-cup-final",
        kind="clock_skew",
        start=0.5,
        dur=11.0,
        client="partner-stats-bot",
        offset=-75,
        frac=1.0,
        drift=0,
        detail="the partner stats site's servers run 75 s behind; it refreshes only when it thinks the token expired",
    ),
    dict(
        id="cf-attack-mm",
        timeline="inc-cup-final",
        kind="attack_burst",
        start=7.0,
        dur=0.3,
        api="matchmaking",
        rate=80,
        detail="bot flood on matchmaking with tampered and re-signed tokens during the final",
    ),
    dict(
        id="cf-aud-cdn",
        timeline="inc-cup-final",
        kind="audience_misconfig",
        start=3.0,
        dur=1.2,
        api="cdn-edge-auth",
        replica=2,
        aud="cdn",
        detail="one new CDN edge auth node deployed with audience 'cdn' instead of 'cdn-edge'",
    ),
    # --- inc-sunday (Sun 06:00-18:00 UTC) ---
    dict(
        id="su-kbp-fed",
        timeline="inc-sunday",
        kind="kid_before_publish",
        start=4.0,
        dur=0.6,
        iss=ISS_FED,
        detail="federation rotated its signing kid; publication delayed 36 min by a stuck change request",
    ),
    dict(
        id="su-kre-ac",
        timeline="inc-sunday",
        kind="key_removed_early",
        start=7.0,
        dur=0.3,
        iss=ISS_AC,
        detail="anti-cheat operator cleanup removed the previous attestation key right after the switch",
    ),
    dict(
        id="su-sig-gs",
        timeline="inc-sunday",
        kind="signature_spike",
        start=9.0,
        dur=0.8,
        iss=ISS_GS["us-east"],
        host=0,
        frac=1.0,
        detail="a us-east host regenerated its key on restart but kept advertising the old kid",
    ),
    dict(
        id="su-stall-acct",
        timeline="inc-sunday",
        kind="issuer_stalled",
        start=5.2,
        dur=0.55,
        iss=ISS_ACCT,
        detail="account token endpoint down 33 min (database failover); clients cannot refresh",
    ),
    dict(
        id="su-scs-acct",
        timeline="inc-sunday",
        kind="server_clock_skew",
        start=8.5,
        dur=0.7,
        iss=ISS_ACCT,
        offset=40,
        detail="account signer clock 40 s ahead: iat/nbf in the future at the leeway-0 APIs",
    ),
    dict(
        id="su-skew-ops",
        timeline="inc-sunday",
        kind="clock_skew",
        start=1.0,
        dur=9.0,
        client="tournament-ops-console",
        offset=-200,
        frac=1.0,
        drift=0,
        detail="tournament ops laptops 200 s behind (a misconfigured domain time source)",
    ),
    dict(
        id="su-type-android",
        timeline="inc-sunday",
        kind="type_confusion",
        start=2.5,
        dur=4.0,
        client="companion-android",
        api="chat-gateway",
        what="id",
        frac=0.6,
        detail="companion-android sends its ID token to the chat gateway",
    ),
    dict(
        id="su-attack-ta",
        timeline="inc-sunday",
        kind="attack_burst",
        start=10.0,
        dur=0.6,
        api="tournament-admin",
        rate=14,
        detail="low-and-slow scan of tournament-admin with years-expired and random-kid tokens",
    ),
]

MAX_AGE = {ISS_ACCT: 300, ISS_FED: 600, ISS_AC: 300}  # key-set Cache-Control; the game-server registries 120 s
FP_KEY = "fleet44-fingerprint-key-0123456789abcdef"
_G: dict = {}  # state inherited by forked workers


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


# ----------------------------------------------------------------------------------------------------------- keys
def _gen(alg):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(kid, priv, alg):
    pub = priv.public_key().public_numbers()
    if alg == "RS256":
        n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": _b64(n), "e": _b64(pub.e.to_bytes(3, "big"))}
    return {
        "kty": "EC",
        "kid": kid,
        "use": "sig",
        "alg": alg,
        "crv": "P-256",
        "x": _b64(pub.x.to_bytes(32, "big")),
        "y": _b64(pub.y.to_bytes(32, "big")),
    }


class Issuer:
    def __init__(self, iss, alg):
        self.iss, self.alg = iss, alg
        self.publish = {}  # kid -> [t_pub, t_rm]
        self.signing = []  # (t_from, kid, signer)
        self.outages = []  # (t0, t1, mode)
        self.stalls = []  # (t0, t1, inc)
        self.skews = []  # (t0, t1, offset, inc)
        self.spikes = []  # (t0, t1, kid, frac, signer, inc)
        self.kbp = []  # (kid, t_pub, inc)
        self.kre = []  # (kid, t_rm, inc)

    def signer_at(self, t):
        cur = self.signing[0]
        for s in self.signing:
            if s[0] <= t:
                cur = s
        return cur[1], cur[2]

    def down(self, t):
        return any(a <= t < b for a, b, _ in self.outages)

    def stalled(self, t):
        return any(a <= t < b for a, b, _ in self.stalls)

    def skew(self, t):
        for a, b, off, inc in self.skews:
            if a <= t < b:
                return off, inc
        return 0, None


# ----------------------------------------------------------------------------------------------------------- plan
def _tt(tok, t):
    """A token's own incident tags, which stop 15 min after its exp."""
    return tok[2] if t <= tok[1] + 900 else ()


class Plan:
    def __init__(self, name, cfg, seed, scale):
        self.name, self.cfg, self.seed, self.scale = name, cfg, seed, scale
        self.rng = random.Random(seed)
        self.t0 = _parse(cfg["start"])
        self.t1 = self.t0 + cfg["hours"] * 3600
        self.keys = {}  # signer name -> (alg, priv)
        self.issuers = {}
        self.tokens = []  # (signer, alg, header, claims, post)
        self.reqs = []  # (t, api, token idx, tags tuple, replica or None)
        self.incs = [dict(i) for i in INCIDENTS if i["timeline"] == name]
        self.hosts = {}  # (region, host) -> dict(kid, signer, clock, pub)
        self.replica_restarts = collections.defaultdict(list)  # (api, r) -> [t]
        self.replica_clock = collections.defaultdict(list)  # (api, r) -> [(t0, t1, off)]
        self.replica_aud = collections.defaultdict(list)  # (api, r) -> [(t0, t1, aud)]
        self.replica_live = {}  # (api, r) -> (t0, t1)
        self.api_tags = []  # (api, replica or None, t0, t1, inc)
        self.client_tags = []  # (client, device predicate id set or None, t0, t1, inc)

    def H(self, h):
        return self.t0 + h * 3600

    def key(self, name, alg):
        if name not in self.keys:
            self.keys[name] = (alg, _gen(alg))
        return name

    # -- issuers ------------------------------------------------------------------------------------------------
    def build_issuers(self):
        rng = self.rng
        day = self.cfg["start"][:10].replace("-", "")
        for iss, alg, pfx in ((ISS_ACCT, "RS256", "acct"), (ISS_FED, "ES256", "fed"), (ISS_AC, "RS256", "ac")):
            st = Issuer(iss, alg)
            old = f"{pfx}-{day}-a"
            self.key(old, alg)
            st.publish[old] = [self.t0 - 30 * 86400, self.t1 + 86400]
            st.signing.append((self.t0 - 30 * 86400, old, old))
            rot = self.cfg["rotate"].get(iss)
            if rot is not None:  # healthy rotation: publish, sign 2 h later, remove long after
                new = f"{pfx}-{day}-b"
                self.key(new, alg)
                tp = self.H(rot)
                st.publish[new] = [tp, self.t1 + 86400]
                st.signing.append((tp + 7200, new, new))
                st.publish[old][1] = tp + 7200 + 3600 * 2 + 900
            self.issuers[iss] = st
        for region in REGIONS:
            st = Issuer(ISS_GS[region], "ES256")
            for h in range(HOSTS_PER_REGION):
                kid = f"gs-{region}-{h:03d}-k1"
                self.key(kid, "ES256")
                st.publish[kid] = [self.t0 - 86400, self.t1 + 86400]
                clk = rng.gauss(0, 0.6) + (rng.choice([-3, -2, 2, 3]) if rng.random() < 0.05 else 0)
                self.hosts[(region, h)] = dict(kid=kid, signer=kid, clock=clk, segments=[(self.t0 - 86400, kid, kid)])
            # healthy re-images: a few hosts get a new key, published 5-15 min before use
            busy = {i.get("host") for i in self.incs if i.get("iss") == st.iss}
            for _ in range(3):
                h = rng.randrange(HOSTS_PER_REGION)
                hd = self.hosts[(region, h)]
                if len(hd["segments"]) > 1 or h in busy:
                    continue
                t = self.t0 + rng.uniform(0.1, 0.9) * (self.t1 - self.t0)
                kid = f"gs-{region}-{h:03d}-k2"
                self.key(kid, "ES256")
                st.publish[kid] = [t - rng.uniform(300, 900), self.t1 + 86400]
                hd["segments"].append((t, kid, kid))
                st.publish[hd["kid"]][1] = t + 3600
            self.issuers[st.iss] = st
        # JWKS blips: short 503s / resets
        for st in self.issuers.values():
            for _ in range(rng.randint(2, 4) if self.cfg["hours"] > 12 else rng.randint(1, 3)):
                t = rng.uniform(self.t0, self.t1)
                st.outages.append((t, t + rng.uniform(4, 40), rng.choice(["503", "reset"])))

    def host_signer(self, region, h, t):
        seg = self.hosts[(region, h)]["segments"]
        cur = seg[0]
        for s in seg:
            if s[0] <= t:
                cur = s
        return cur[1], cur[2]

    # -- incidents --------------------------------------------------------------------------------------------
    def apply_incidents(self):
        rng = self.rng
        for inc in self.incs:
            k, a, b = inc["kind"], self.H(inc["start"]), self.H(inc["start"] + inc["dur"])
            inc["t0"], inc["t1"] = a, b
            st = self.issuers.get(inc.get("iss"))
            if k == "kid_before_publish":
                if "host" in inc:
                    region = inc["iss"].rsplit("/", 1)[1]
                    hd = self.hosts[(region, inc["host"])]
                    kid = f"gs-{region}-{inc['host']:03d}-k9"
                    self.key(kid, "ES256")
                    hd["segments"] = [s for s in hd["segments"] if s[0] < a] + [(a, kid, kid)]
                    st.publish[kid] = [b, self.t1 + 86400]
                    st.publish[hd["kid"]][1] = self.t1 + 86400
                else:
                    kid = f"{st.signing[0][1].rsplit('-', 1)[0]}-n"
                    self.key(kid, st.alg)
                    st.signing.append((a, kid, kid))
                    st.publish[kid] = [b, self.t1 + 86400]
                st.kbp.append((kid, b, inc["id"]))
                inc["kid"] = kid
            elif k == "key_removed_early":
                if "host" in inc:
                    region = inc["iss"].rsplit("/", 1)[1]
                    hd = self.hosts[(region, inc["host"])]
                    kid = hd["kid"]
                    st.publish[kid][1] = a
                    hd["drain"] = (a - 60, b)  # host serves its last match, then stops
                else:
                    old = st.signing[-1][1]
                    new = f"{old.rsplit('-', 1)[0]}-r"
                    self.key(new, st.alg)
                    st.publish[new] = [a - 3600, self.t1 + 86400]
                    st.signing.append((a - 150, new, new))
                    st.publish[old][1] = a
                    kid = old
                st.kre.append((kid, a, inc["id"]))
                inc["kid"] = kid
            elif k == "jwks_outage":
                st.outages.append((a, b, inc["mode"]))
            elif k == "signature_spike":
                if "host" in inc:
                    region = inc["iss"].rsplit("/", 1)[1]
                    hd = self.hosts[(region, inc["host"])]
                    kid = hd["kid"]
                    bad = self.key(f"{kid}-regen", "ES256")
                    hd["segments"] = [s for s in hd["segments"] if s[0] < a] + [(a, kid, bad), (b, kid, kid)]
                else:
                    kid = st.signer_at(a)[0]
                    bad = self.key(f"{kid}-stale", st.alg)
                st.spikes.append((a, b, kid, inc["frac"], bad, inc["id"]))
                inc["kid"] = kid
            elif k == "issuer_stalled":
                st.stalls.append((a, b, inc["id"]))
            elif k == "server_clock_skew":
                if st is not None:
                    st.skews.append((a, b, inc["offset"], inc["id"]))
                else:
                    self.replica_clock[(inc["api"], inc["replica"])].append((a, b, inc["offset"]))
                    self.api_tags.append((inc["api"], inc["replica"], a, b + 60, inc["id"]))
            elif k == "audience_misconfig" and "api" in inc:
                n = APIS[inc["api"]][2]
                reps = [inc["replica"]] if "replica" in inc else list(range(n))
                for j, r in enumerate(reps):
                    ra = a + j * rng.uniform(120, 300)
                    self.replica_aud[(inc["api"], r)].append((ra, b, inc["aud"]))
                    self.replica_restarts[(inc["api"], r)] += [ra, b + j * 30]
                    self.api_tags.append((inc["api"], r, ra, b + j * 30 + 5, inc["id"]))
        # healthy blips/outages never hit the incident windows twice; fine either way

    # -- token minting ----------------------------------------------------------------------------------------
    def mint(self, t, iss, sub, azp, aud, typ="at+jwt", life=None, extra=None, region_host=None):
        """A token minted at true time t, or None if the issuer cannot issue now. Returns (idx, exp, tags)."""
        st = self.issuers[iss]
        tags = []
        if region_host is not None:
            region, h = region_host
            kid, signer = self.host_signer(region, h, t)
            clk = self.hosts[(region, h)]["clock"]
            off, sinc = st.skew(t)
            clk += off
            if sinc:
                tags.append(sinc)
        else:
            if st.stalled(t):
                return None
            kid, signer = st.signer_at(t)
            clk, sinc = st.skew(t)
            if sinc:
                tags.append(sinc)
        for a, b, skid, frac, bad, inc in st.spikes:
            if a <= t < b and kid == skid:
                if region_host is not None or self.rng.random() < frac:
                    signer = bad
                    tags.append(inc)
                else:
                    pass
        if region_host is not None and signer != kid:
            for _a, _b, skid, _frac, _bad, inc in st.spikes:
                if skid == kid and inc not in tags:
                    tags.append(inc)
        iat = int(t + clk)
        life = life or {ISS_ACCT: 3600, ISS_FED: 1800, ISS_AC: 1800}.get(iss, 600)
        exp = iat + life
        for kid2, tpub, inc in st.kbp:
            if kid == kid2 and t < tpub:
                tags.append(inc)
        for kid2, trm, inc in st.kre:
            if kid == kid2 and exp > trm - 60:
                tags.append(inc)
        claims = {
            "iss": iss,
            "sub": sub,
            "aud": aud,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": f"{self.rng.getrandbits(64):016x}",
        }
        if azp:
            claims["azp"] = azp
        if extra:
            claims.update(extra)
        self.tokens.append((signer, st.alg, {"kid": kid, "typ": typ}, claims, None))
        return len(self.tokens) - 1, exp, tuple(tags)

    def garbage(self, t, rng, kind=None):
        """An internet scanner's token."""
        kind = kind or rng.choice(["none", "randkid", "nocid", "tamper", "trunc", "huge", "hspub", "ancient", "junk"])
        att = self.key("attacker", "RS256")
        now = int(t)
        base = {
            "iss": rng.choice([ISS_ACCT, ISS_ACCT, ISS_FED, "https://accounts.ashfa11.example"]),
            "sub": f"user:{rng.randrange(10**8)}",
            "aud": FIRST_PARTY,
            "iat": now - 60,
            "exp": now + 3000,
            "azp": "pc-launcher",
        }
        if kind == "none":
            self.tokens.append(("none", "none", {"alg": "none", "typ": "JWT"}, base, "none"))
        elif kind == "randkid":
            self.tokens.append((att, "RS256", {"kid": f"{rng.getrandbits(40):010x}", "typ": "at+jwt"}, base, None))
        elif kind == "nocid":
            c = {k: v for k, v in base.items() if k != "azp"}
            self.tokens.append((att, "RS256", {"typ": "JWT"}, c, None))
        elif kind in ("tamper", "trunc"):  # a token seen earlier (leaked in a log, a screenshot, a mod forum)
            j = bisect.bisect_right(self.by_iat, (t - 120, -1)) if self.by_iat else 0
            if j < 50:
                return self.garbage(t, rng, "randkid")
            src = self.tokens[self.by_iat[rng.randrange(max(0, j - 3000), j)][1]]
            self.tokens.append((src[0], src[1], dict(src[2]), dict(src[3]), kind))
        elif kind == "huge":
            c = dict(base, pad="A" * 70000)
            self.tokens.append((att, "RS256", {"kid": "acct-admin", "typ": "at+jwt"}, c, None))
        elif kind == "hspub":
            self.tokens.append(
                ("acct-pub", "HS256", {"kid": self.issuers[ISS_ACCT].signing[0][1], "typ": "at+jwt"}, base, "hspub")
            )
        elif kind == "ancient":
            c = dict(base, iat=1600000000, exp=1600003600)
            self.tokens.append((att, "RS256", {"kid": "acct-2020-a", "typ": "at+jwt"}, c, None))
        else:
            self.tokens.append(
                ("junk", "none", {}, {"v": rng.choice(["Bearer null", "undefined", "eyJhbGciOi"])}, "junk")
            )
        return len(self.tokens) - 1

    # -- traffic ----------------------------------------------------------------------------------------------
    def activity(self, t, region):
        loc = ((t - self.t0) / 3600 + int(self.cfg["start"][11:13]) + REGIONS[region]) % 24
        d = min(abs(loc - 20.5), 24 - abs(loc - 20.5))
        a = 0.12 + 0.88 * math.exp(-((d / 3.2) ** 2)) + 0.25 * math.exp(-(((loc - 13) / 2.5) ** 2))
        if self.cfg["weekend"]:
            a *= 1.25 + 0.3 * math.exp(-(((loc - 15) / 4) ** 2))
        p = self.cfg["patch"]
        if p is not None and self.H(p) <= t < self.H(p) + 3 * 3600:
            a *= 1.0 + 1.2 * math.exp(-(t - self.H(p)) / 3600)
        return a

    def add(self, t, api, idx, tags, replica=None):
        if self.t0 <= t < self.t1:
            self.reqs.append((t, api, idx, tags, replica))

    def predicted_reject(self, api, exp, t, tags=()):
        return t > exp + LEEWAY[api]

    def run_sessions(self):
        rng = self.rng
        base = 68 * self.scale * (1.4 if self.cfg["hours"] <= 12 else 0.75)  # session starts/h/region at activity 1
        for region in REGIONS:
            amax = 3.0
            t = self.t0 - 3 * 3600
            for _ in range(200000):
                t += rng.expovariate(base * amax / 3600)
                if t >= self.t1:
                    break
                if rng.random() * amax < self.activity(max(t, self.t0), region):
                    self.session(t, region)

    def session(self, t_start, region):
        rng = self.rng
        cid = rng.choices([c for c, _ in PLAYER_CLIENT_MIX], [w for _, w in PLAYER_CLIENT_MIX])[0]
        iss, life, lazy_p, weights, rate, stale_p = CLIENTS[cid]
        mobile = cid.startswith("companion")
        dur = rng.lognormvariate(math.log(8 * 60 if mobile else 55 * 60), 0.7)
        t_end = t_start + min(dur, 6 * 3600)
        lazy = rng.random() < lazy_p
        sub = f"user:{rng.randrange(10**9)}"
        # device clock
        r = rng.random()
        off0 = rng.gauss(0, 1.5)
        drift = 0.0
        boot_wrong = None
        if r < 0.04:
            off0 = rng.choice([-1, 1]) * rng.uniform(60, 900)
        elif r < 0.06:
            drift = rng.choice([-1, 1]) * rng.uniform(5, 60) / 3600
        elif r < 0.09 and not mobile:
            boot_wrong = (-rng.uniform(3, 30) * 3600, t_start + rng.uniform(60, 200))
        dev_tags = []
        aud = list(CLIENT_AUD[cid])
        aud_tags = []
        for inc in self.incs:
            if inc.get("client") != cid:
                continue
            if (
                inc["kind"] == "clock_skew"
                and inc["t0"] - 3600 < t_end
                and t_start < inc["t1"]
                and rng.random() < inc["frac"]
            ):
                dev_tags.append(inc)
            if inc["kind"] == "audience_misconfig" and inc["t0"] <= t_start < inc["t1"] and rng.random() < inc["frac"]:
                aud, aud_tags = inc["aud"], [inc["id"]]
        confusion = [
            inc
            for inc in self.incs
            if inc["kind"] == "type_confusion"
            and inc.get("client") == cid
            and inc["t0"] <= t_start < inc["t1"]
            and rng.random() < inc["frac"]
        ]

        def dev_off(t):
            o = off0 + drift * (t - t_start)
            if boot_wrong and t < boot_wrong[1]:
                o += boot_wrong[0]
            for inc in dev_tags:
                if inc["t0"] <= t < inc["t1"]:
                    o += inc["offset"] + inc["drift"] * (t - inc["t0"]) / 3600
            return o

        def skew_tags(t):
            return tuple(inc["id"] for inc in dev_tags if inc["t0"] <= t < inc["t1"] + 600)

        margin = rng.uniform(60, 300)
        patch = self.cfg["patch"]
        wave = patch is not None and self.H(patch) <= t_start < self.H(patch) + 10800

        def refresh(t):
            m = self.mint(t, iss, sub, cid, aud)
            return (m[0], m[1], m[2] + tuple(aud_tags)) if m else None

        # the token held at start: hours old (resumed from rest mode / after a patch, presented blindly first),
        # from an earlier session today (checked against the device clock), or none (fresh login)
        tok = None
        r = rng.random()
        stale = False
        if r < stale_p * (2.2 if wave else 1):
            age = rng.lognormvariate(math.log(6 * 3600), 0.9) + life
            m = self.mint(t_start - age, iss, sub, cid, aud)
            if m:
                tok = (m[0], m[1], m[2] + tuple(aud_tags))
                stale = True
        elif r < stale_p + 0.45:
            age = rng.uniform(0, life * 2.5)
            m = self.mint(t_start - age, iss, sub, cid, aud)
            if m and (lazy or t_start + dev_off(t_start) < m[1] - margin):
                tok = (m[0], m[1], m[2] + tuple(aud_tags))
        if tok is None:
            tok = refresh(t_start)
            if tok is None:  # issuer stalled at login: the player gives up for now
                return
        api_names, api_w = list(weights), list(weights.values())
        if stale:  # the resumed app fires its queued calls with the old token before it notices
            for j in range(rng.randint(1, 4)):
                tt = t_start + j * rng.uniform(0.05, 0.8)
                self.add(
                    tt,
                    rng.choices(api_names, api_w)[0],
                    tok[0],
                    _tt(tok, tt) + skew_tags(tt) + self.stall_tags(iss, tt) + self.window_tags(iss, tt),
                )
            if lazy or t_start + dev_off(t_start) >= tok[1] - margin:
                tok = refresh(t_start + 1.5) or tok
        id_tok = None
        ac = [None]
        t = t_start + 2
        next_match = t_start + rng.uniform(60, 600) if not mobile else None
        for _ in range(3000):
            t += rng.expovariate(rate / 60)
            if t >= t_end or t >= self.t1:
                break
            dt = t + dev_off(t)
            # proactive refresh by the device clock
            if not lazy and dt >= tok[1] - margin:
                nt = refresh(t)
                if nt:
                    tok = nt
            api = rng.choices(api_names, api_w)[0]
            st_tags = self.stall_tags(iss, t)
            tags = _tt(tok, t) + skew_tags(t) + st_tags + self.window_tags(iss, t)
            idx = tok[0]
            for inc in confusion:
                if inc["api"] == api and inc["t0"] <= t < inc["t1"] + 600:
                    if id_tok is None or id_tok[1] < t:
                        kind = inc["what"]
                        if kind == "id":
                            m = self.mint(
                                t, iss, sub, None, cid, typ="JWT", extra={"nonce": f"{rng.getrandbits(32):x}"}
                            )
                        else:
                            m = self.mint(t, iss, sub, cid, iss, typ="refresh+jwt", life=30 * 86400)
                        id_tok = (m[0], min(m[1], t + 3600), (inc["id"],)) if m else None
                    if id_tok:
                        idx, tags = id_tok[0], id_tok[2] + tags
            self.add(t, api, idx, tags)
            if self.predicted_reject(api, tok[1], t) and idx == tok[0]:
                # 401: lazy clients refresh and retry; SDKs trusting the local clock keep the token
                if lazy or t + dev_off(t) >= tok[1] - 30:
                    nt = refresh(t + 0.3)
                    if nt:
                        tok = nt
                        self.add(t + rng.uniform(0.4, 2.0), api, tok[0], _tt(tok, t) + self.window_tags(iss, t))
                elif rng.random() < 0.5:
                    self.add(t + rng.uniform(1, 6), api, idx, tags)
            if next_match is not None and t >= next_match:
                t = self.match(
                    t, region, cid, sub, tok, lambda tt, tok=tok: self.window_tags(iss, tt) + _tt(tok, tt), ac
                )
                next_match = t + rng.uniform(30, 400)

    def stall_tags(self, iss, t):
        st = self.issuers[iss]
        return tuple(inc for a, b, inc in st.stalls if a <= t < b + 600)

    def window_tags(self, iss, t):
        st = self.issuers.get(iss)
        if st is None:
            return ()
        out = []
        for inc in self.incs:
            if inc["kind"] == "jwks_outage" and inc["iss"] == iss and inc["t0"] <= t < inc["t1"] + 180:
                out.append(inc["id"])
        return tuple(out)

    def match(self, t, region, cid, sub, tok, acct_tags, ac):
        rng = self.rng
        pc = cid == "pc-launcher"
        # queue: matchmaking with the access token (and attestation for PC)
        self.add(t, "matchmaking", tok[0], acct_tags(t))
        if pc:  # the attestation is kept for its lifetime and presented at every queue join
            if ac[0] is None or t + 120 >= ac[0][1]:
                ac[0] = self.mint(t, ISS_AC, sub, cid, "matchmaking", typ="ac-attest+jwt") or ac[0]
            if ac[0]:
                self.add(t + 0.5, "matchmaking", ac[0][0], _tt(ac[0], t) + self.window_tags(ISS_AC, t))
        t += rng.uniform(20, 150)
        self.add(t, "matchmaking", tok[0], acct_tags(t))
        hosts = [
            h
            for h in range(HOSTS_PER_REGION)
            if not ("drain" in self.hosts[(region, h)] and self.hosts[(region, h)]["drain"][0] <= t)
        ]
        h = rng.choices(hosts, [1 / (1 + 0.3 * x) for x in hosts])[0]  # the allocator packs low-numbered hosts
        iss = ISS_GS[region]
        dur = rng.uniform(12, 25) * 60
        t_end = t + dur
        gt = None
        t_mint = -1.0
        for _ in range(400):
            if gt is None or t >= t_mint + 480:
                m = self.mint(
                    t,
                    iss,
                    sub,
                    cid,
                    ["chat-gateway", "telemetry-ingest"],
                    life=600,
                    region_host=(region, h),
                    extra={"match": f"m-{rng.getrandbits(32):08x}"},
                )
                gt, t_mint = m, t
            tags = _tt(gt, t) + self.window_tags(iss, t)
            r = rng.random()
            if r < 0.55:
                self.add(t, "telemetry-ingest", gt[0], tags)
            elif r < 0.8:
                self.add(t, "chat-gateway", gt[0], tags)
            t += rng.expovariate(0.75 / 60)
            if t >= t_end:
                break
        # post-match telemetry flush (late when the client went to sleep)
        r = rng.random()
        delay = rng.uniform(1, 30) if r < 0.86 else rng.uniform(30, 400) if r < 0.96 else rng.uniform(1800, 30000)
        tags = _tt(gt, t_end + delay) + self.window_tags(iss, t_end + delay)
        self.add(t_end + delay, "telemetry-ingest", gt[0], tags)
        return t_end

    def run_services(self):
        """partner-stats-bot (refresh-after-401 only) and tournament ops consoles."""
        rng = self.rng
        # partner bot: 2 workers, steady every ~20 s
        for _w in range(2):
            inc = next((i for i in self.incs if i["kind"] == "clock_skew" and i["client"] == "partner-stats-bot"), None)
            t = self.t0 - rng.uniform(0, 3600)
            tok = self.mint(t, ISS_ACCT, "svc:partner-stats", "partner-stats-bot", CLIENT_AUD["partner-stats-bot"])
            for _ in range(20000):
                t += rng.expovariate(1 / 25)
                if t >= self.t1:
                    break
                skewed = inc is not None and inc["t0"] <= t < inc["t1"]
                off = inc["offset"] if skewed else rng.gauss(0, 1)
                tags = (
                    self.window_tags(ISS_ACCT, t)
                    + self.stall_tags(ISS_ACCT, t)
                    + ((inc["id"],) if inc is not None and inc["t0"] <= t < inc["t1"] + 600 else ())
                )
                if t + off >= tok[1] - 5:  # refreshes when its own clock says expired
                    nt = self.mint(
                        t, ISS_ACCT, "svc:partner-stats", "partner-stats-bot", CLIENT_AUD["partner-stats-bot"]
                    )
                    tok = nt or tok
                api = "leaderboards" if rng.random() < 0.7 else "player-profile"
                self.add(t, api, tok[0], _tt(tok, t) + tags)
        # tournament ops: 3-6 operators during work hours, many during a cup
        cup = self.cfg["cup"]
        n_ops = 10 if cup else 4
        for o in range(n_ops):
            skew = [i for i in self.incs if i["kind"] == "clock_skew" and i["client"] == "tournament-ops-console"]
            conf = [i for i in self.incs if i["kind"] == "type_confusion" and i["client"] == "tournament-ops-console"]
            if cup:
                a, b = self.H(cup[0]) - rng.uniform(0, 3600), self.H(cup[1]) + rng.uniform(0, 1800)
            else:
                a = self.t0 + rng.uniform(0.05, 0.5) * (self.t1 - self.t0)
                b = a + rng.uniform(2, 5) * 3600
            sub = f"staff:{o}"
            tok = self.mint(a, ISS_ACCT, sub, "tournament-ops-console", CLIENT_AUD["tournament-ops-console"])
            if tok is None:
                continue
            confused = [i for i in conf if rng.random() < i["frac"]]
            rtok = None
            t = a
            for _ in range(5000):
                t += rng.expovariate((3.0 if cup else 0.8) / 60)
                if t >= b or t >= self.t1:
                    break
                off = sum(i["offset"] for i in skew if i["t0"] <= t < i["t1"]) + rng.gauss(0, 0.5)
                if t + off >= tok[1] - 60:
                    tok = (
                        self.mint(t, ISS_ACCT, sub, "tournament-ops-console", CLIENT_AUD["tournament-ops-console"])
                        or tok
                    )
                tags = (
                    _tt(tok, t)
                    + self.window_tags(ISS_ACCT, t)
                    + self.stall_tags(ISS_ACCT, t)
                    + tuple(i["id"] for i in skew if i["t0"] <= t < i["t1"] + 600)
                )
                api = "tournament-admin" if rng.random() < 0.8 else "leaderboards"
                idx = tok[0]
                for i in confused:
                    if api == "tournament-admin" and i["t0"] <= t < i["t1"] and rng.random() < 0.7:
                        if rtok is None:
                            rtok = self.mint(
                                i["t0"],
                                ISS_ACCT,
                                sub,
                                "tournament-ops-console",
                                ISS_ACCT,
                                typ="refresh+jwt",
                                life=30 * 86400,
                            )
                        idx, tags = rtok[0], rtok[2] + (i["id"],) + tags
                self.add(t, api, idx, tags)
        # legitimate tournament burst: spectators hammering leaderboards from the companion app and launcher
        if cup:
            for _ in range(int(4000 * self.scale)):
                t = rng.uniform(self.H(cup[0]), self.H(cup[1]))
                cid = rng.choice(["companion-ios", "companion-android", "pc-launcher"])
                m = self.mint(t - rng.uniform(0, 3000), ISS_ACCT, f"user:{rng.randrange(10**9)}", cid, CLIENT_AUD[cid])
                if m:
                    for k in range(rng.randint(1, 4)):
                        tt = t + k * rng.uniform(5, 40)
                        self.add(tt, "leaderboards", m[0], _tt(m, tt) + self.window_tags(ISS_ACCT, tt))

    def run_scanners(self):
        rng = self.rng
        self.by_iat = sorted(
            (c["iat"], i)
            for i, (sg, _a, _h, c, post) in enumerate(self.tokens)
            if post is None and sg != "attacker" and "iat" in c
        )
        edge = [
            "cdn-edge-auth",
            "store",
            "player-profile",
            "matchmaking",
            "leaderboards",
            "chat-gateway",
            "telemetry-ingest",
            "tournament-admin",
        ]
        w = [5, 4, 4, 3, 2, 2, 2, 1]
        t = self.t0
        for _ in range(100000):
            t += rng.expovariate(rng.uniform(0.7, 1.6) / 60)
            if t >= self.t1:
                break
            self.add(t, rng.choices(edge, w)[0], self.garbage(t, rng), ())
        for inc in self.incs:
            if inc["kind"] != "attack_burst":
                continue
            t = inc["t0"]
            for _ in range(100000):
                t += rng.expovariate(inc["rate"] / 60)
                if t >= inc["t1"]:
                    break
                kinds = (
                    ["none", "hspub", "randkid", "tamper"]
                    if inc["api"] != "tournament-admin"
                    else ["ancient", "randkid", "nocid"]
                )
                self.add(t, inc["api"], self.garbage(t, rng, rng.choice(kinds)), (inc["id"],))

    def run_replicas(self):
        """Deploys, crashes, autoscaling; assign each request to a live replica."""
        rng = self.rng
        for api, (_a, _l, n, auto, _i) in APIS.items():
            for r in range(n):
                self.replica_live[(api, r)] = (self.t0, self.t1)
                for _ in range(rng.randint(0, 2)):  # crashes
                    self.replica_restarts[(api, r)].append(rng.uniform(self.t0, self.t1))
            td = rng.uniform(self.t0 + 1800, self.t1 - 3600)  # rolling deploy
            for r in range(n):
                self.replica_restarts[(api, r)].append(td + r * rng.uniform(90, 240))
            if auto:  # autoscaled replica during the evening peak (eu-west)
                a = max(self.t0, self.t0 + ((17 - int(self.cfg["start"][11:13])) % 24) * 3600)
                if a < self.t1 - 1800:
                    self.replica_live[(api, n)] = (a, min(self.t1, a + rng.uniform(3, 5) * 3600))
        self.reqs.sort(key=lambda q: q[0])
        out = collections.defaultdict(list)
        live = list(self.replica_live.items())
        for t, api, idx, tags, rep in self.reqs:
            if rep is None:
                cands = [k[1] for k, (a, b) in live if k[0] == api and a <= t < b]
                rep = rng.choice(cands)
            tags = tags + tuple(i for (a2, r2, a, b, i) in self.api_tags if a2 == api and r2 == rep and a <= t < b)
            out[(api, rep)].append((t, idx, tags))
        self.by_replica = dict(out)
        for k in self.replica_restarts:
            self.replica_restarts[k].sort()

    def build(self):
        self.build_issuers()
        self.apply_incidents()
        self.run_sessions()
        self.run_services()
        self.run_scanners()
        self.run_replicas()
        return self


# ------------------------------------------------------------------------------------------------------- signing
def _sign_one(spec, keys, acct_pub_pem):
    import jwt

    signer, alg, header, claims, post = spec
    if post == "junk":
        return claims["v"]
    if post == "none":
        h = _b64(json.dumps(header, separators=(",", ":")).encode())
        return f"{h}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}."
    if post == "hspub":
        h = _b64(json.dumps({"alg": "HS256", **header}, separators=(",", ":")).encode())
        p = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(acct_pub_pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
        return f"{h}.{p}.{_b64(sig)}"
    tok = jwt.encode(claims, keys[signer][1], algorithm=alg, headers=header)
    if post == "tamper":
        h, p, s = tok.split(".")
        c = dict(claims, sub="user:1", scope="admin store:grant")
        return f"{h}.{_b64(json.dumps(c, separators=(',', ':')).encode())}.{s}"
    if post == "trunc":
        return tok[: len(tok) - 17]
    return tok


def _sign_chunk(args):
    name, lo, hi = args
    plan = _G["plans"][name]
    pem = _G["acct_pem"][name]
    return name, lo, [_sign_one(plan.tokens[i], plan.keys, pem) for i in range(lo, hi)]


# ------------------------------------------------------------------------------------------------------- workers
_NOW = [0.0]


def _jwks_doc(plan, iss, now):
    st = plan.issuers[iss]
    keys = [plan.jwks_cache[k] for k, (a, b) in st.publish.items() if a <= now < b]
    return json.dumps({"keys": keys}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    plan = None
    slugs: ClassVar[dict] = {}

    def log_message(self, *a):
        pass

    def do_GET(self):
        iss = self.slugs.get(self.path)
        now = _NOW[0]
        st = self.plan.issuers.get(iss) if iss else None
        if st is None:
            self.send_response(404)
            self.end_headers()
            return
        for a, b, mode in st.outages:
            if a <= now < b:
                if mode == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self.send_response(503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"unavailable")
                return
        body = _jwks_doc(self.plan, iss, now)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", f"max-age={MAX_AGE.get(iss, 120)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _peek(token):
    try:
        h, p, _ = token.split(".", 2)
        hd = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
        c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        return hd if isinstance(hd, dict) else {}, c if isinstance(c, dict) else {}
    except Exception:
        return {}, {}


class AppKeys:
    """An app's own key cache: TTL, refetch on unknown kid at most once a minute, optional last-known-good."""

    def __init__(self, url, ttl=900, cooldown=60, keep_stale=False):
        self.url, self.ttl, self.cooldown, self.keep_stale = url, ttl, cooldown, keep_stale
        self.doc, self.expires, self.last = None, -1.0, -1e18
        self.version = 0

    def _fetch(self):
        self.last = time.time()
        try:
            with urllib.request.urlopen(self.url, timeout=2) as resp:
                self.doc = json.loads(resp.read())
            self.version += 1
            self.expires = time.time() + self.ttl
        except Exception:
            if self.keep_stale and self.doc is not None:
                self.expires = time.time() + 30
                return
            self.doc, self.expires = None, -1.0
            raise

    def get(self, kid):
        now = time.time()
        if self.doc is None or now >= self.expires:
            self._fetch()
        known = kid is None or any(k.get("kid") == kid for k in self.doc["keys"])
        if not known and now - self.last >= self.cooldown:
            try:
                self._fetch()
            except Exception:
                if self.doc is None:
                    raise
        return self.doc


def _make_validator(api, base, aud):
    import jwt as pyjwt

    import jwtobs

    _a, leeway, _n, _auto, issuers = APIS[api]
    url = {iss: f"{base}/{_slug(iss)}" for iss in issuers}
    if api in ("matchmaking", "store", "tournament-admin"):
        backend = {"matchmaking": "pyjwt", "store": "joserfc", "tournament-admin": "authlib"}[api]
        vs = []
        for iss in issuers:
            alg = "ES256" if iss == ISS_FED or iss in GS_ISSUERS else "RS256"
            prof = jwtobs.Profile(
                name=api,
                issuer=iss,
                audience=aud,
                algorithms=(alg,),
                leeway=leeway,
                token_type="ac-attest+jwt" if iss == ISS_AC else "at+jwt",
                required_claims=("iss", "sub", "aud", "exp", "iat"),
            )
            src = jwtobs.JwksSource(url[iss], cooldown=30, clock=time.time, timeout=2.0)
            vs.append(jwtobs.Verifier(prof, keys=src, backend=backend))
        v = jwtobs.VerifierSet(vs) if len(vs) > 1 else vs[0]
        return v.verify
    if api == "player-profile":
        clients = {iss: pyjwt.PyJWKClient(u, cache_keys=True, lifespan=600, timeout=2) for iss, u in url.items()}

        def validate(token):
            _h, c = _peek(token)
            iss = c.get("iss")
            client = clients.get(iss, clients[ISS_ACCT])
            key = client.get_signing_key_from_jwt(token)
            return pyjwt.decode(
                token,
                key,
                algorithms=["RS256", "ES256"],
                audience=aud,
                issuer=iss if iss in clients else ISS_ACCT,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub"]},
            )

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    caches = {iss: AppKeys(u, keep_stale=api in ("telemetry-ingest",)) for iss, u in url.items()}
    if api == "leaderboards":
        from jose import jwt as jjwt

        def validate(token):
            h, _c = _peek(token)
            doc = caches[ISS_ACCT].get(h.get("kid"))
            sel = [k for k in doc["keys"] if k.get("kid") == h.get("kid")] or doc["keys"]
            return jjwt.decode(
                token, {"keys": sel}, algorithms=["RS256"], audience=aud, issuer=ISS_ACCT, options={"leeway": leeway}
            )

        return jwtobs.wrap(validate, library="jose", profile=api)
    if api == "chat-gateway":
        from joserfc import jwt as rjwt
        from joserfc.jwk import KeySet

        ks_cache = {}

        def validate(token):
            h, c = _peek(token)
            iss = c.get("iss") if c.get("iss") in caches else ISS_ACCT
            cache = caches[iss]
            doc = cache.get(h.get("kid"))
            k = (iss, cache.version)
            if k not in ks_cache:
                ks_cache.clear()
                ks_cache[k] = KeySet.import_key_set(doc)
            tok = rjwt.decode(token, ks_cache[k], algorithms=["RS256", "ES256"])
            reg = rjwt.JWTClaimsRegistry(
                leeway=leeway,
                iss={"essential": True, "value": iss},
                aud={"essential": True, "value": aud},
                exp={"essential": True},
            )
            reg.validate(tok.claims)
            return tok.claims

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if api == "telemetry-ingest":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, JsonWebToken
        ajwt = JsonWebToken(["RS256", "ES256"])
        ks_cache = {}

        def validate(token):
            h, c = _peek(token)
            iss = c.get("iss") if c.get("iss") in caches else ISS_ACCT
            cache = caches[iss]
            doc = cache.get(h.get("kid"))
            k = (iss, cache.version)
            if k not in ks_cache:
                ks_cache.clear()
                ks_cache[k] = JsonWebKey.import_key_set(doc)
            claims = ajwt.decode(
                token,
                ks_cache[k],
                claims_options={
                    "iss": {"essential": True, "value": iss},
                    "aud": {"essential": True, "value": aud},
                    "exp": {"essential": True},
                },
            )
            claims.validate(leeway=leeway)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if api == "cdn-edge-auth":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        ks_cache = {}

        def validate(token):
            h, c = _peek(token)
            iss = c.get("iss") if c.get("iss") in caches else ISS_ACCT
            cache = caches[iss]
            doc = cache.get(h.get("kid"))
            k = (iss, cache.version)
            if k not in ks_cache:
                ks_cache.clear()
                ks_cache[k] = cjwk.JWKSet.from_json(json.dumps(doc))
            t = cjwt.JWT(algs=["RS256", "ES256"], check_claims={"iss": iss, "aud": aud, "exp": None})
            t.leeway = leeway
            t.deserialize(token, ks_cache[k])
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(api)


def _slug(iss):
    return "/" + iss.split("://", 1)[1].replace("/", "_") + "/jwks.json"


def _run_replica(args):
    import time_machine

    import jwtobs

    name, api, rep, out = args
    warnings.simplefilter("ignore")
    plan = _G["plans"][name]
    toks = _G["tokstr"][name]
    reqs = plan.by_replica.get((api, rep), [])
    path = os.path.join(out, name, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    if not reqs:
        return name, api, rep, 0
    # PyJWKClient follows the simulated clock (the app's cache would, in production, follow real time)
    import jwt.jwk_set_cache
    import jwt.jwks_client

    shim = types.SimpleNamespace(monotonic=lambda: time.time(), time=lambda: time.time())
    jwt.jwks_client.time = shim
    jwt.jwk_set_cache.time = shim
    _Handler.plan = plan
    _Handler.slugs = {_slug(iss): iss for iss in plan.issuers}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    jwtobs.configure(events_path=path, service=api, fingerprint_key=FP_KEY)
    restarts = list(plan.replica_restarts.get((api, rep), []))
    clocks = plan.replica_clock.get((api, rep), [])
    auds = plan.replica_aud.get((api, rep), [])

    def aud_at(t):
        for a, b, aud in auds:
            if a <= t < b:
                return aud
        return APIS[api][0]

    ri = 0
    warnings.simplefilter("ignore")
    with time_machine.travel(reqs[0][0], tick=False) as tm:
        validate = _make_validator(api, base, aud_at(reqs[0][0]))
        for t, idx, _tags in reqs:
            while ri < len(restarts) and restarts[ri] <= t:
                validate = _make_validator(api, base, aud_at(restarts[ri] + 1e-3))
                ri += 1
            off = 0.0
            for a, b, o in clocks:
                if a <= t < b:
                    off = o
            _NOW[0] = t
            tm.move_to(t + off)
            try:
                validate(toks[idx])
            except Exception:
                pass
        jwtobs.flush()
    srv.shutdown()
    srv.server_close()
    return name, api, rep, len(reqs)


# ---------------------------------------------------------------------------------------------------- labelling
def _label(out, name, plan, wall):
    per_inc = collections.defaultdict(list)  # id -> [(time, reason)]
    reasons = collections.Counter()
    n = rej = 0
    for (api, rep), reqs in sorted(plan.by_replica.items()):
        path = os.path.join(out, name, "events", f"{api}-{rep}.jsonl")
        evs = []
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if "event" in e:
                    continue
                evs.append(e)
        if len(evs) != len(reqs):
            raise RuntimeError(f"{path}: {len(evs)} events for {len(reqs)} requests")
        for (_t, _idx, tags), e in zip(reqs, evs, strict=True):
            n += 1
            if e["outcome"] != "rejected":
                continue
            rej += 1
            reasons[e["reason"]] += 1
            for inc in tags:
                kind = plan.kind_of[inc]
                ok = REASONS_OF[kind]
                if ok is None or e["reason"] in ok:
                    per_inc[inc].append(e["time"])
    labels, missing = [], []
    for inc in plan.incs:
        ts = sorted(per_inc.get(inc["id"], []))
        if not ts:
            missing.append(inc["id"])
            continue
        k = inc["kind"]
        iss_scoped = k in (
            "kid_before_publish",
            "key_removed_early",
            "jwks_outage",
            "signature_spike",
            "issuer_stalled",
        ) or (k == "server_clock_skew" and "iss" in inc)
        labels.append(
            {
                "id": inc["id"],
                "kind": k,
                "start": ts[0],
                "end": ts[-1],
                "count": len(ts),
                "issuer": inc["iss"] if iss_scoped else None,
                "kid": inc.get("kid") if k in ("kid_before_publish", "key_removed_early", "signature_spike") else None,
                "client_id": inc.get("client")
                if k in ("clock_skew", "audience_misconfig", "type_confusion")
                and "client" in inc
                and not (k == "audience_misconfig" and "api" in inc)
                else None,
                "profile": inc["api"]
                if (k == "audience_misconfig" and "api" in inc and "client" not in inc)
                or (k == "server_clock_skew" and "iss" not in inc)
                else None,
                "detail": inc["detail"],
            }
        )
    d = os.path.join(out, name)
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(
            {
                "timeline": name,
                "quiet": plan.cfg["quiet"],
                "seed": plan.seed,
                "start": _ts(plan.t0),
                "end": _ts(plan.t1),
                "generator": "fleet44",
                "incidents": labels,
            },
            f,
            indent=1,
        )
    summary = {
        "timeline": name,
        "validations": n,
        "rejections": rej,
        "rejection_rate": round(rej / max(n, 1), 5),
        "reasons": dict(reasons.most_common()),
        "incidents_injected": [i["id"] for i in plan.incs],
        "incidents_labelled": {x["id"]: x["count"] for x in labels},
        "injected_without_rejection": missing,
        "wall_s": round(wall, 1),
        "tokens": len(plan.tokens),
        "replica_files": len(plan.by_replica),
    }
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


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
    ap.add_argument("--seed-base", type=int, default=4400)
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
        print(json.dumps(_score(a.out, names), indent=1, default=str))
        return 0
    t_all = time.time()
    plans = {}
    for n in names:
        t = time.time()
        p = Plan(n, TIMELINES[n], a.seed_base + list(TIMELINES).index(n), a.scale).build()
        p.kind_of = {inc["id"]: inc["kind"] for inc in p.incs}
        p.jwks_cache = {}
        for st in p.issuers.values():
            for kid in st.publish:
                p.jwks_cache[kid] = _jwk(kid, p.keys[kid][1], p.keys[kid][0])
        plans[n] = p
        print(f"planned {n}: {len(p.reqs)} requests, {len(p.tokens)} tokens ({time.time() - t:.1f}s)", flush=True)
    from cryptography.hazmat.primitives import serialization

    _G["plans"] = plans
    _G["acct_pem"] = {}
    for n, p in plans.items():
        kid = p.issuers[ISS_ACCT].signing[0][1]
        _G["acct_pem"][n] = (
            p.keys[kid][1]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    ctx = multiprocessing.get_context("fork")
    t = time.time()
    chunks = [(n, lo, min(lo + 2000, len(p.tokens))) for n, p in plans.items() for lo in range(0, len(p.tokens), 2000)]
    tokstr = {n: [None] * len(p.tokens) for n, p in plans.items()}
    with ctx.Pool(a.workers) as pool:
        for n, lo, strs in pool.imap_unordered(_sign_chunk, chunks):
            tokstr[n][lo : lo + len(strs)] = strs
    _G["tokstr"] = tokstr
    print(f"signed {sum(len(v) for v in tokstr.values())} tokens ({time.time() - t:.1f}s)", flush=True)
    for n in names:
        d = os.path.join(a.out, n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "events"))
    tasks = []
    for n, p in plans.items():
        for (api, rep), reqs in p.by_replica.items():
            tasks.append((len(reqs), n, api, rep))
    tasks.sort(reverse=True)
    t_start = {n: time.time() for n in names}
    with ctx.Pool(a.workers) as pool:
        done = collections.Counter()
        work = [(n, api, rep, a.out) for _c, n, api, rep in tasks]
        for n, _api, _rep, cnt in pool.imap_unordered(_run_replica, work):
            done[n] += cnt
    summaries = []
    for n in names:
        s = _label(a.out, n, plans[n], time.time() - t_start[n])
        summaries.append(s)
        print(
            f"{n}: {s['validations']} validations, rejection rate {s['rejection_rate']:.4f}, labelled "
            f"{s['incidents_labelled']}, missing {s['injected_without_rejection']}",
            flush=True,
        )
    print(f"total wall {time.time() - t_all:.1f}s", flush=True)
    with open(os.path.join(a.out, "run.json"), "w") as f:
        json.dump(
            {
                "wall_s": round(time.time() - t_all, 1),
                "workers": a.workers,
                "scale": a.scale,
                "seed_base": a.seed_base,
                "timelines": summaries,
            },
            f,
            indent=1,
        )
    if a.score:
        print(json.dumps(_score(a.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
