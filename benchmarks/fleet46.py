"""fleet46: a blind benchmark fleet for jwtobs - a regional hospital network.

Design note
===========

Every event in the output is written by jwtobs itself from a real validation: RSA / EC keys are generated at run
time with ``cryptography``, tokens are signed with PyJWT, key sets are served by a real ``http.server`` on
127.0.0.1 (port 0, one per worker process), simulated time is moved with ``time_machine`` (``travel(...,
tick=False)`` then ``move_to`` before each validation) and each replica of each API writes its own events file
(``<out>/<timeline>/events/<api>-<replica>.jsonl``) through ``jwtobs.configure(events_path=..., service=<api>)``.
The generator itself never looks at how the detectors work (written blind from the public docs only).

Issuers
-------
* ``smart``      EHR SMART on FHIR authorization server, ``https://ehr.hospital.example/smart``, RS256,
  ``typ at+jwt``, 5-60 min access tokens with launch context (``patient``, ``fhirUser``), refresh tokens held by
  the apps (the ``rt+jwt`` tokens some broken apps send to the API), ID tokens (``typ JWT``, ``aud`` = the app).
* ``workforce``  Entra-like workforce IdP, v2 issuer ``https://login.hospital.example/<tid>/v2.0`` (``azp``,
  ``tid``, 60-90 min randomised lifetimes, ``typ JWT``) and a v1 issuer ``https://sts.hospital.example/<tid>/``
  (``appid``) sharing one key set; clinicians on shared workstations with fast user switching, kiosks.
* ``portal``     patient portal / mobile app issuer ``https://myhealth.hospital.example``, ES256, 15 min tokens.
* ``b2b``        B2B authorization server ``https://b2b.hospital.example/oauth2`` (insurers, labs: private_key_jwt
  client credentials, 30 min access tokens; some partners refresh lazily, after a 401).
* ``partners``   partner-minted JWT bearer tokens (pharmacy networks, reference labs sign their own 5 min tokens
  with keys registered at ``https://partners.hospital.example``): their ``iat``/``nbf``/``exp`` are the
  partner's own clock.
* ``mesh``       the service mesh's JWT-SVID issuer ``spiffe://hospital.example`` (ES256, 5 min SVIDs).

APIs (validator kind, leeway, replicas)
---------------------------------------
* ``fhir-api``          ``jwtobs.VerifierSet`` (smart / workforce / b2b verifiers, PyJWT backend,
  ``JwksSource``), leeway 30 s, 4 replicas + 1 autoscaled during the day.
* ``scheduling``        ``jwtobs.wrap(..., library="pyjwt")`` around the app's PyJWT + ``PyJWKClient`` (workforce +
  portal), leeway 60 s, 2 replicas.
* ``imaging-gateway``   jwcrypto code (``JWT().deserialize`` with a ``JWKSet``), leeway 90 s, 2 replicas
  (+1 autoscaled).
* ``lab-results``       joserfc ``jwt.decode`` + ``JWTClaimsRegistry`` (smart + b2b), leeway 0, 3 replicas.
* ``e-prescribing``     Authlib ``JsonWebToken.decode`` + ``claims.validate`` (workforce + partners), leeway 10 s,
  2 replicas.
* ``interface-engine``  python-jose ``jwt.decode`` (mesh + partners + b2b), leeway 120 s, 2 replicas.
* ``portal-bff``        ``jwtobs.Verifier`` (joserfc backend, ES256), leeway 45 s, 3 replicas.
* ``analytics-export``  ``jwtobs.VerifierSet`` (b2b: authlib backend, mesh: jwcrypto backend), leeway 5 s,
  2 replicas.

Background (every timeline, quiet days too)
-------------------------------------------
Diurnal and weekly curves (clinical day with shift changes at 07:00/19:00 where every shared workstation
switches user and fetches new tokens, evening peaks on the patient portal, night batch exports, partners polling
on schedules); per-device clocks (most within a second or two, some minutes off, some drifting, bedside
devices and kiosks booting with a wrong clock until NTP); clients that compare ``exp`` with their own clock and
others that use ``expires_in``; lazy refresh-after-401 partner integrations; apps resumed with a cached token,
workstations woken, services restarted that replay a stale cached token; downtime procedures (a ward network
segment drops for 10-40 min, then flushes its queued requests with the tokens it held); retries after 401/503;
internet scanners on the public APIs (1-1.5 garbage tokens a minute: alg none, random kid, typ JWT without client id,
tampered, truncated, huge, HS256 with the public key, years-expired); healthy key rotations (published a day
ahead, removed after overlap); JWKS blips (short 503s and connection resets); rolling deploys, crashes and
autoscaling (cold key caches).

Incidents
---------
Four 12 h timelines, ~30 incidents (see ``INCIDENTS``): signing keys used before publication (all token nodes,
or one of three SPIRE servers), keys removed early, key set outages coinciding with deploys or rotations,
signature spikes after an HSM failover or a restore from backup, client clocks behind (drifting device group,
one insurer) or ahead (one pharmacy network), issuer clocks off (small offsets only strict APIs see) and one
replica's clock off after a VM migration, stalled token endpoints (EHR downtime, SPIRE server down, B2B AS
down during the night export), wrong audiences (a canary deploy, a new lab feed), ID / refresh tokens sent to
APIs, and attack bursts (fast and slow).

Labels: ``<out>/<timeline>/labels.json`` as specified in the brief (``start``/``end``/``count`` from the counted
rejections, matched to requests by order within each replica file); ``summary.json`` per timeline.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import hashlib
import http.server
import json
import math
import multiprocessing
import os
import random
import shutil
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
import zlib

warnings.filterwarnings("ignore")

UTC = dt.UTC
GEN = "fleet46"
TID = "7d1c2b9e-4a51-4f0e-9c3a-2b8f5e6a1d40"

ISS = {
    "smart": "https://ehr.hospital.example/smart",
    "workforce": f"https://login.hospital.example/{TID}/v2.0",
    "workforce_v1": f"https://sts.hospital.example/{TID}/",
    "portal": "https://myhealth.hospital.example",
    "b2b": "https://b2b.hospital.example/oauth2",
    "partners": "https://partners.hospital.example",
    "mesh": "spiffe://hospital.example",
}
KEYSET_OF = {
    "smart": "smart",
    "workforce": "workforce",
    "workforce_v1": "workforce",
    "portal": "portal",
    "b2b": "b2b",
    "partners": "partners",
    "mesh": "mesh",
}
ALG_OF = {
    "smart": "RS256",
    "workforce": "RS256",
    "portal": "ES256",
    "b2b": "RS256",
    "partners": "RS256",
    "mesh": "ES256",
}

# api -> (base replicas, autoscaled extra replicas, leeway, issuers accepted, public facing)
APIS = {
    "fhir-api": (4, 1, 30, ("smart", "workforce", "b2b"), True),
    "scheduling": (2, 0, 60, ("workforce", "portal"), True),
    "imaging-gateway": (2, 1, 90, ("workforce", "workforce_v1"), False),
    "lab-results": (3, 0, 0, ("smart", "b2b"), False),
    "e-prescribing": (2, 0, 10, ("workforce", "partners"), False),
    "interface-engine": (2, 0, 120, ("mesh", "partners", "b2b"), False),
    "portal-bff": (3, 0, 45, ("portal",), True),
    "analytics-export": (2, 0, 5, ("b2b", "mesh"), False),
}
AUD = {a: a for a in APIS}
AUD["fhir-api"] = "https://fhir.hospital.example/r4"
AUD["scheduling"] = "api://scheduling"
AUD["imaging-gateway"] = "api://pacs-gateway"
AUD["e-prescribing"] = "api://erx"

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
VOLUME = 0.75  # requests per device scaled so that the 8 timelines run in < 15 min on 2 cores
M = 60.0


def ts(s: str) -> float:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------------------------------------------
# timelines and incidents
# --------------------------------------------------------------------------------------------------------------

TIMELINES = {
    # volume: the network's size that day (a weekday in the smaller winter rota, the Saturday night the ED and
    # the regional HIE run at several times their usual load during a flu surge)
    "quiet-tue": {"start": "2026-11-03T00:00:00", "hours": 24, "quiet": True, "seed": 11, "volume": 0.8},
    "quiet-thu": {"start": "2026-11-05T00:00:00", "hours": 24, "quiet": True, "seed": 12, "volume": 0.8},
    "quiet-sat": {"start": "2026-11-07T00:00:00", "hours": 24, "quiet": True, "seed": 13, "volume": 0.9},
    "quiet-sun": {"start": "2026-11-08T00:00:00", "hours": 24, "quiet": True, "seed": 14, "volume": 0.9},
    "inc-weekday": {"start": "2026-11-10T07:00:00", "hours": 12, "quiet": False, "seed": 21, "volume": 0.95},
    "inc-night": {"start": "2026-11-14T19:00:00", "hours": 12, "quiet": False, "seed": 22, "volume": 2.3},
    "inc-monday": {"start": "2026-11-16T06:00:00", "hours": 12, "quiet": False, "seed": 23, "volume": 1.0},
    "inc-friday": {"start": "2026-11-20T12:00:00", "hours": 12, "quiet": False, "seed": 24, "volume": 1.12},
}

# offsets are hours from the timeline start
INCIDENTS = [
    # ---- inc-weekday: a busy Tuesday
    {
        "id": "wd-kbp-smart",
        "timeline": "inc-weekday",
        "kind": "kid_before_publish",
        "at": 3.08,
        "dur": 0.42,
        "issuer": "smart",
        "share": 1.0,
        "detail": "SMART AS rotated its signing key 25 min before the key set "
        "published it (publication job queued behind a DB migration)",
    },
    {
        "id": "wd-sig-workforce",
        "timeline": "inc-weekday",
        "kind": "signature_spike",
        "at": 6.33,
        "dur": 0.58,
        "issuer": "workforce",
        "share": 0.25,
        "detail": "one of four token nodes came back from an HSM failover signing with a new key under the old kid",
    },
    {
        "id": "wd-skew-cow",
        "timeline": "inc-weekday",
        "kind": "clock_skew",
        "at": 1.0,
        "dur": 3.0,
        "client": "smart-bedside-gw",
        "devices": 0.35,
        "offset": 0.0,
        "drift": -200.0,
        "detail": "ward 7 bedside device gateway units lost NTP: clock drifting behind (0 to -10 min over 3 h)",
    },
    {
        "id": "wd-jwks-b2b",
        "timeline": "inc-weekday",
        "kind": "jwks_outage",
        "at": 8.17,
        "dur": 0.83,
        "issuer": "b2b",
        "mode": "503",
        "deploy": ["lab-results", "analytics-export"],
        "detail": "B2B AS key set behind a WAF rule returning 503 while lab-results was being redeployed",
    },
    {
        "id": "wd-aud-sched",
        "timeline": "inc-weekday",
        "kind": "audience_misconfig",
        "at": 9.5,
        "dur": 0.42,
        "api": "scheduling",
        "replicas": [0, 1],
        "wrong_aud": "api://scheduling-staging",
        "detail": "scheduling v2.14 rolled out with the staging audience, rolled back after 25 min",
    },
    {
        "id": "wd-attack-portal",
        "timeline": "inc-weekday",
        "kind": "attack_burst",
        "at": 11.17,
        "dur": 0.33,
        "apis": ["portal-bff"],
        "rate": 120.0,
        "detail": "forged-token wave against the patient portal BFF",
    },
    {
        "id": "wd-stall-mesh",
        "timeline": "inc-weekday",
        "kind": "issuer_stalled",
        "at": 4.67,
        "dur": 0.5,
        "issuer": "mesh",
        "detail": "SPIRE server unavailable: workloads keep presenting their last JWT-SVID",
    },
    # ---- inc-night: Saturday night
    {
        "id": "nt-kre-workforce",
        "timeline": "inc-night",
        "kind": "key_removed_early",
        "at": 4.0,
        "issuer": "workforce",
        "detail": "old workforce signing key dropped from the key set at the rotation instead of after the overlap",
    },
    {
        "id": "nt-iskew-mesh",
        "timeline": "inc-night",
        "kind": "server_clock_skew",
        "at": 7.0,
        "dur": 1.5,
        "issuer": "mesh",
        "offset": 45.0,
        "detail": "SPIRE server clock 45 s ahead: SVIDs stamped in the future (only strict validators notice)",
    },
    {
        "id": "nt-type-kiosk",
        "timeline": "inc-night",
        "kind": "type_confusion",
        "at": 1.0,
        "dur": 1.0,
        "client": "patient-web",
        "share": 0.2,
        "token": "id",
        "detail": "portal web release sends the ID token instead of the access token from some browsers",
    },
    {
        "id": "nt-skew-rx",
        "timeline": "inc-night",
        "kind": "clock_skew",
        "at": 2.0,
        "dur": 4.0,
        "client": "rx-network-01",
        "devices": 1.0,
        "offset": 240.0,
        "drift": 0.0,
        "detail": "pharmacy network's signing hosts 4 min ahead: their tokens are not yet valid",
    },
    {
        "id": "nt-jwks-portal",
        "timeline": "inc-night",
        "kind": "jwks_outage",
        "at": 8.0,
        "dur": 0.67,
        "issuer": "portal",
        "mode": "reset",
        "rotate": True,
        "detail": "portal key set resets connections during a scheduled rotation: the new kid cannot be fetched",
    },
    {
        "id": "nt-attack-fhir",
        "timeline": "inc-night",
        "kind": "attack_burst",
        "at": 6.0,
        "dur": 1.0,
        "apis": ["fhir-api"],
        "rate": 10.0,
        "detail": "slow enumeration of the public FHIR endpoint",
    },
    {
        "id": "nt-stall-b2b",
        "timeline": "inc-night",
        "kind": "issuer_stalled",
        "at": 5.5,
        "dur": 2.0,
        "issuer": "b2b",
        "detail": "B2B AS token endpoint down during the night export window",
    },
    # ---- inc-monday: Monday morning shift
    {
        "id": "mo-kbp-mesh",
        "timeline": "inc-monday",
        "kind": "kid_before_publish",
        "at": 5.0,
        "dur": 0.17,
        "issuer": "mesh",
        "share": 0.33,
        "detail": "one of three SPIRE servers signing with a key its peers had not bundled yet",
    },
    {
        "id": "mo-kre-smart",
        "timeline": "inc-monday",
        "kind": "key_removed_early",
        "at": 3.5,
        "issuer": "smart",
        "detail": "SMART AS key removed 15 min after rotation; 30-60 min tokens still in use",
    },
    {
        "id": "mo-sig-portal",
        "timeline": "inc-monday",
        "kind": "signature_spike",
        "at": 9.0,
        "dur": 0.33,
        "issuer": "portal",
        "share": 1.0,
        "detail": "portal issuer restored from backup with an older private key under the current kid",
    },
    {
        "id": "mo-rskew-fhir",
        "timeline": "inc-monday",
        "kind": "server_clock_skew",
        "at": 2.0,
        "dur": 4.0,
        "api": "fhir-api",
        "replica": 2,
        "offset": 180.0,
        "detail": "fhir-api replica 2's VM migrated to a host with a broken NTP: clock 3 min ahead",
    },
    {
        "id": "mo-aud-quest",
        "timeline": "inc-monday",
        "kind": "audience_misconfig",
        "at": 4.0,
        "dur": 3.0,
        "client": "quest-lab-feed",
        "wrong_aud": "lab-api",
        "detail": "reference lab feed reconfigured: requests tokens for audience 'lab-api'",
    },
    {
        "id": "mo-type-cardio",
        "timeline": "inc-monday",
        "kind": "type_confusion",
        "at": 6.5,
        "dur": 1.5,
        "client": "smart-cardio-app",
        "share": 0.3,
        "token": "refresh",
        "detail": "cardiology SMART app upgrade sends its refresh token as bearer after silent refresh",
    },
    {
        "id": "mo-skew-insurer",
        "timeline": "inc-monday",
        "kind": "clock_skew",
        "at": 1.0,
        "dur": 5.0,
        "client": "insurer-aetna-elig",
        "devices": 1.0,
        "offset": -900.0,
        "drift": 0.0,
        "detail": "insurer eligibility poller's clock 15 min behind: keeps using tokens past exp",
    },
    # ---- inc-friday: Friday afternoon/evening
    {
        "id": "fr-jwks-workforce",
        "timeline": "inc-friday",
        "kind": "jwks_outage",
        "at": 2.0,
        "dur": 0.42,
        "issuer": "workforce",
        "mode": "reset",
        "deploy": ["imaging-gateway", "scheduling"],
        "detail": "workforce IdP key endpoint resetting connections while imaging-gateway autoscaled",
    },
    {
        "id": "fr-iskew-smart",
        "timeline": "inc-friday",
        "kind": "server_clock_skew",
        "at": 3.0,
        "dur": 1.0,
        "issuer": "smart",
        "offset": 90.0,
        "detail": "SMART AS clock 90 s ahead after a hypervisor pause",
    },
    {
        "id": "fr-rskew-erx",
        "timeline": "inc-friday",
        "kind": "server_clock_skew",
        "at": 6.0,
        "dur": 2.0,
        "api": "e-prescribing",
        "replica": 1,
        "offset": -300.0,
        "detail": "e-prescribing replica 1 clock 5 min behind",
    },
    {
        "id": "fr-stall-smart",
        "timeline": "inc-friday",
        "kind": "issuer_stalled",
        "at": 5.0,
        "dur": 1.17,
        "issuer": "smart",
        "detail": "EHR downtime: SMART AS token endpoint down, apps keep their tokens",
    },
    {
        "id": "fr-aud-analytics",
        "timeline": "inc-friday",
        "kind": "audience_misconfig",
        "at": 8.0,
        "dur": 0.67,
        "api": "analytics-export",
        "replicas": [0, 1],
        "wrong_aud": "analytics",
        "detail": "analytics-export deployed with audience 'analytics'",
    },
    {
        "id": "fr-type-desktop",
        "timeline": "inc-friday",
        "kind": "type_confusion",
        "at": 4.0,
        "dur": 2.0,
        "client": "erx-desktop",
        "share": 0.5,
        "token": "id",
        "detail": "new e-prescribing desktop client sends workforce ID tokens",
    },
    {
        "id": "fr-attack-multi",
        "timeline": "inc-friday",
        "kind": "attack_burst",
        "at": 9.5,
        "dur": 0.25,
        "apis": ["scheduling", "portal-bff"],
        "rate": 200.0,
        "detail": "alg-none / HS256 confusion wave",
    },
    {
        "id": "fr-kbp-b2b",
        "timeline": "inc-friday",
        "kind": "kid_before_publish",
        "at": 1.0,
        "dur": 0.25,
        "issuer": "b2b",
        "share": 1.0,
        "detail": "B2B AS new key used before the key set was republished",
    },
    {
        "id": "fr-sig-mesh",
        "timeline": "inc-friday",
        "kind": "signature_spike",
        "at": 10.0,
        "dur": 0.25,
        "issuer": "mesh",
        "share": 0.33,
        "detail": "one SPIRE server signing with a regenerated key under the old kid",
    },
]

# --------------------------------------------------------------------------------------------------------------
# client population
# --------------------------------------------------------------------------------------------------------------
# name: (issuer, client claim, apis {api: weight}, devices, req/h/device at peak, curve, lifetime (s),
#        margin (s), exp mode, lazy, clock profile, resume prob)
GROUPS = {
    "smart-cardio-app": (
        "smart",
        "azp",
        {"fhir-api": 0.8, "lab-results": 0.2},
        30,
        40,
        "clinical",
        900,
        60,
        "claim",
        False,
        "desk",
        0.10,
    ),
    "smart-sepsis-cds": (
        "smart",
        "client_id",
        {"fhir-api": 1.0},
        3,
        300,
        "flat",
        300,
        30,
        "expires_in",
        False,
        "server",
        0.0,
    ),
    "smart-med-rec": (
        "smart",
        "client_id",
        {"fhir-api": 0.7, "lab-results": 0.3},
        25,
        20,
        "clinical",
        3600,
        120,
        "expires_in",
        False,
        "desk",
        0.15,
    ),
    "smart-bedside-gw": (
        "smart",
        "client_id",
        {"fhir-api": 0.6, "lab-results": 0.4},
        20,
        30,
        "flat",
        1800,
        60,
        "claim",
        False,
        "bedside",
        0.05,
    ),
    "clinician-desktop": (
        "workforce",
        "azp",
        {"scheduling": 0.35, "imaging-gateway": 0.15, "e-prescribing": 0.2, "fhir-api": 0.3},
        90,
        24,
        "clinical",
        4500,
        300,
        "expires_in",
        False,
        "desk",
        0.15,
    ),
    "erx-desktop": (
        "workforce",
        "azp",
        {"e-prescribing": 1.0},
        15,
        20,
        "clinical",
        4500,
        300,
        "expires_in",
        False,
        "desk",
        0.1,
    ),
    "pacs-viewer": (
        "workforce_v1",
        "appid",
        {"imaging-gateway": 1.0},
        20,
        50,
        "clinical",
        4500,
        300,
        "expires_in",
        False,
        "desk",
        0.1,
    ),
    "registration-kiosk": (
        "workforce",
        "azp",
        {"scheduling": 1.0},
        12,
        12,
        "clinical",
        3600,
        120,
        "claim",
        False,
        "kiosk",
        0.2,
    ),
    "patient-ios": (
        "portal",
        "client_id",
        {"portal-bff": 0.85, "scheduling": 0.15},
        250,
        3,
        "portal",
        900,
        60,
        "claim",
        False,
        "phone",
        0.08,
    ),
    "patient-android": (
        "portal",
        "client_id",
        {"portal-bff": 0.85, "scheduling": 0.15},
        250,
        3,
        "portal",
        900,
        60,
        "claim",
        False,
        "phone",
        0.08,
    ),
    "patient-web": (
        "portal",
        "client_id",
        {"portal-bff": 1.0},
        120,
        6,
        "portal",
        900,
        60,
        "expires_in",
        False,
        "phone",
        0.1,
    ),
    "insurer-bluecross": (
        "b2b",
        "client_id",
        {"fhir-api": 1.0},
        2,
        30,
        "poll",
        1800,
        0,
        "expires_in",
        True,
        "server",
        0.0,
    ),
    "insurer-aetna-elig": (
        "b2b",
        "client_id",
        {"fhir-api": 0.7, "analytics-export": 0.3},
        2,
        40,
        "poll",
        1800,
        60,
        "claim",
        False,
        "server",
        0.0,
    ),
    "quest-lab-feed": (
        "b2b",
        "client_id",
        {"lab-results": 1.0},
        2,
        90,
        "poll",
        1800,
        60,
        "expires_in",
        False,
        "server",
        0.0,
    ),
    "regional-hie": (
        "b2b",
        "client_id",
        {"analytics-export": 0.6, "interface-engine": 0.4},
        2,
        40,
        "batch",
        1800,
        60,
        "expires_in",
        True,
        "server",
        0.0,
    ),
    "rx-network-01": (
        "partners",
        "client_id",
        {"e-prescribing": 1.0},
        4,
        60,
        "clinical",
        300,
        60,
        "claim",
        False,
        "partner",
        0.0,
    ),
    "pharmacy-cvs-12": (
        "partners",
        "client_id",
        {"e-prescribing": 1.0},
        2,
        40,
        "clinical",
        300,
        60,
        "claim",
        False,
        "partner",
        0.0,
    ),
    "labcorp-hl7": (
        "partners",
        "client_id",
        {"interface-engine": 1.0},
        2,
        120,
        "flat",
        300,
        60,
        "claim",
        False,
        "partner",
        0.0,
    ),
    "svc-fhir-facade": (
        "mesh",
        "sub",
        {"interface-engine": 0.6, "analytics-export": 0.4},
        4,
        80,
        "clinical",
        300,
        150,
        "expires_in",
        False,
        "server",
        0.0,
    ),
    "svc-hl7-router": (
        "mesh",
        "sub",
        {"interface-engine": 1.0},
        3,
        160,
        "clinical",
        300,
        150,
        "expires_in",
        False,
        "server",
        0.0,
    ),
    "svc-etl-batch": (
        "mesh",
        "sub",
        {"analytics-export": 1.0},
        2,
        200,
        "batch",
        300,
        150,
        "expires_in",
        False,
        "server",
        0.0,
    ),
}


def curve(kind: str, t: float) -> float:
    d = dt.datetime.fromtimestamp(t, UTC)
    h = d.hour + d.minute / 60.0
    weekend = d.weekday() >= 5
    if kind == "clinical":
        if 8 <= h < 12 or 13 <= h < 17:
            v = 1.0
        elif 12 <= h < 13:
            v = 0.75
        elif 6 <= h < 8:
            v = 0.35 + 0.65 * (h - 6) / 2
        elif 17 <= h < 21:
            v = 1.0 - 0.6 * (h - 17) / 4
        else:
            v = 0.25
        if 6.75 <= h < 7.25 or 18.75 <= h < 19.25:
            v *= 1.3  # shift change handover
        return v * (0.55 if weekend else 1.0)
    if kind == "portal":
        v = 0.04 if h < 6 else 0.45 if h < 9 else 0.6 if h < 18 else 1.0 if h < 22 else 0.3
        return v * (1.15 if weekend else 1.0)
    if kind == "batch":
        return 1.0 if 1 <= h < 4 else 0.08
    if kind == "poll":
        return (1.0 if 7 <= h < 19 else 0.3) * (0.5 if weekend else 1.0)
    return 0.8 + 0.2 * math.sin(h / 24 * 2 * math.pi)


# --------------------------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------------------------

KEYS: dict = {}  # name -> (private key, public jwk dict, alg)
PLANS: dict = {}  # timeline -> plan
ATTACKER: dict = {}


def _mk_key(alg: str):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    if alg == "RS256":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(priv.public_key(), as_dict=True)
    else:
        priv = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(priv.public_key(), as_dict=True)
    return priv, jwk


def add_key(name: str, kid: str, alg: str) -> None:
    priv, jwk = _mk_key(alg)
    jwk = dict(jwk, kid=kid, use="sig", alg=alg)
    KEYS[name] = (priv, jwk, alg)


# --------------------------------------------------------------------------------------------------------------
# the plan: key schedules, JWKS state, requests
# --------------------------------------------------------------------------------------------------------------


class Plan:
    def __init__(self, name: str, cfg: dict, seed: int, scale: float):
        self.name = name
        self.cfg = cfg
        self.seed = seed
        self.rng = random.Random(seed)
        self.t0 = ts(cfg["start"])
        self.t1 = self.t0 + cfg["hours"] * H
        self.scale = scale
        self.incidents = [dict(i) for i in INCIDENTS if i["timeline"] == name]
        for inc in self.incidents:
            inc["t_start"] = self.t0 + inc["at"] * H
            inc["t_end"] = inc["t_start"] + inc.get("dur", 0.0) * H
        # keyset -> list of key entries {name, kid, publish, sign_from, sign_to, remove}
        self.keysched: dict[str, list[dict]] = {}
        self.outages: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)
        self.tokens: list[tuple] = []  # (keyset, signing key name, header, claims)
        self.requests: dict[tuple[str, int], list[tuple]] = collections.defaultdict(list)
        self.restarts: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
        self.replica_skew: dict[tuple[str, int], list[tuple[float, float, float]]] = collections.defaultdict(list)
        self.wrong_aud: dict[tuple[str, int], list[tuple[float, float, str]]] = collections.defaultdict(list)
        self.active: dict[tuple[str, int], tuple[float, float]] = {}
        self.jti = 0
        self.signed: list[str] = []

    # ---- keys ---------------------------------------------------------------------------------------------
    def keys(self) -> None:
        rng = self.rng
        day = 86400.0
        for ks in ("smart", "workforce", "portal", "b2b", "partners", "mesh"):
            alg = ALG_OF[ks]
            entries = []
            if ks == "partners":
                for p in ("rx-network-01", "pharmacy-cvs-12", "labcorp-hl7"):
                    kid = f"{p}-2026"
                    name = f"{self.name}/{ks}/{kid}"
                    add_key(name, kid, alg)
                    entries.append(
                        {
                            "name": name,
                            "kid": kid,
                            "publish": self.t0 - 90 * day,
                            "sign_from": self.t0 - 90 * day,
                            "sign_to": self.t1 + day,
                            "remove": self.t1 + 30 * day,
                            "owner": p,
                        }
                    )
                self.keysched[ks] = entries
                continue
            # a healthy rotation inside some timelines (monthly per issuer; mesh every few hours)
            rot = None
            if ks == "mesh":
                rot = self.t0 + rng.uniform(0.3, 0.7) * (self.t1 - self.t0)
            elif rng.random() < 0.3:
                rot = self.t0 + rng.uniform(0.15, 0.85) * (self.t1 - self.t0)
            old_kid = f"{ks}-{hashlib.sha1(f'{self.seed}{ks}a'.encode()).hexdigest()[:8]}"
            new_kid = f"{ks}-{hashlib.sha1(f'{self.seed}{ks}b'.encode()).hexdigest()[:8]}"
            add_key(f"{self.name}/{ks}/{old_kid}", old_kid, alg)
            add_key(f"{self.name}/{ks}/{new_kid}", new_kid, alg)
            lead = 3 * H if ks == "mesh" else day
            overlap = 2 * H if ks == "mesh" else 2 * day
            if rot is None:
                rot = self.t1 + 5 * day  # the next rotation is after this timeline; new key already published?
                pub_new = rot - lead if rng.random() < 0.5 else self.t1 + day
            else:
                pub_new = rot - lead
            entries.append(
                {
                    "name": f"{self.name}/{ks}/{old_kid}",
                    "kid": old_kid,
                    "publish": self.t0 - 20 * day,
                    "sign_from": self.t0 - 20 * day,
                    "sign_to": rot,
                    "remove": rot + overlap,
                }
            )
            entries.append(
                {
                    "name": f"{self.name}/{ks}/{new_kid}",
                    "kid": new_kid,
                    "publish": pub_new,
                    "sign_from": rot,
                    "sign_to": self.t1 + 30 * day,
                    "remove": self.t1 + 60 * day,
                }
            )
            self.keysched[ks] = entries
        # incidents touching keys
        for inc in self.incidents:
            k = inc["kind"]
            if k == "kid_before_publish":
                ks = inc["issuer"]
                kid = f"{ks}-{hashlib.sha1(f'{self.seed}{ks}early'.encode()).hexdigest()[:8]}"
                name = f"{self.name}/{ks}/{kid}"
                add_key(name, kid, ALG_OF[ks])
                publish = inc["t_end"]
                if inc["share"] >= 1.0:
                    # the issuer switched: every token node signs with it from t_start
                    for e in self.keysched[ks]:
                        if e["sign_from"] <= inc["t_start"] < e["sign_to"]:
                            e["sign_to"] = inc["t_start"]
                            e["remove"] = max(e["remove"], inc["t_start"] + 2 * day)
                    self.keysched[ks].append(
                        {
                            "name": name,
                            "kid": kid,
                            "publish": publish,
                            "sign_from": inc["t_start"],
                            "sign_to": self.t1 + day,
                            "remove": self.t1 + 60 * day,
                        }
                    )
                    inc["sign_key"] = None
                else:
                    self.keysched[ks].append(
                        {
                            "name": name,
                            "kid": kid,
                            "publish": publish,
                            "sign_from": self.t1 + 90 * day,
                            "sign_to": self.t1 + 91 * day,
                            "remove": self.t1 + 92 * day,
                        }
                    )
                    inc["sign_key"] = (name, kid)  # one node signs with it in [t_start, t_end]
                inc["kid"] = kid
            elif k == "key_removed_early":
                ks = inc["issuer"]
                ents = self.keysched[ks]
                old, new = ents[0], ents[1]
                rot = inc["t_start"] - (15 * M if ks == "smart" else 10 * M)
                old["sign_to"] = rot
                old["remove"] = inc["t_start"]
                new["sign_from"] = rot
                new["publish"] = min(new["publish"], rot - day)
                inc["kid"] = old["kid"]
            elif k == "signature_spike":
                ks = inc["issuer"]
                cur = self.current_key(ks, inc["t_start"])
                rogue = f"{self.name}/{ks}/rogue-{cur['kid']}"
                add_key(rogue, cur["kid"], ALG_OF[ks])
                inc["kid"] = cur["kid"]
                inc["sign_key"] = (rogue, cur["kid"])
            elif k == "jwks_outage":
                self.outages[inc["issuer"]].append((inc["t_start"], inc["t_end"], inc["mode"]))
                if inc.get("rotate"):
                    ks = inc["issuer"]
                    ents = self.keysched[ks]
                    old, new = ents[0], ents[1]
                    rot = inc["t_start"] + 5 * M
                    old["sign_to"] = rot
                    old["remove"] = max(old["remove"], rot + 2 * day)
                    new["sign_from"] = rot
                    new["publish"] = rot  # published during the outage: no cache has seen it
                    inc["kid_new"] = new["kid"]
        # JWKS blips: short 503s / resets on random issuers
        for _ in range(int(self.rng.uniform(3, 7) * (self.t1 - self.t0) / (24 * H))):
            ks = self.rng.choice(list(self.keysched))
            s = self.rng.uniform(self.t0, self.t1)
            self.outages[ks].append((s, s + self.rng.uniform(5, 90), self.rng.choice(["503", "reset"])))

    def current_key(self, ks: str, t: float) -> dict:
        best = None
        for e in self.keysched[ks]:
            if e["sign_from"] <= t < e["sign_to"] and "owner" not in e:
                best = e
        return best or self.keysched[ks][0]

    # ---- helpers ------------------------------------------------------------------------------------------
    def inc_of(self, kind: str):
        return [i for i in self.incidents if i["kind"] == kind]

    def issuer_skew(self, ks: str, t: float) -> tuple[float, str | None]:
        for inc in self.incidents:
            if inc["kind"] == "server_clock_skew" and inc.get("issuer") == ks and inc["t_start"] <= t < inc["t_end"]:
                return inc["offset"], inc["id"]
        return 0.0, None

    def stalled(self, ks: str, t: float):
        for inc in self.incidents:
            if inc["kind"] == "issuer_stalled" and inc["issuer"] == ks and inc["t_start"] <= t < inc["t_end"]:
                return inc
        return None

    def mint(
        self,
        group: str,
        dev: int,
        t_issue: float,
        api_aud: str | tuple,
        tags: list,
        kind: str = "at",
        rng: random.Random | None = None,
        partner_now: float | None = None,
    ) -> int:
        """Create one token; returns its index. tags: token-level incident tags."""
        rng = rng or self.rng
        g = GROUPS[group]
        iss_name, claim = g[0], g[1]
        ks = KEYSET_OF[iss_name]
        life = g[6]
        if ks == "workforce":
            life = rng.uniform(3600, 5400)
        if iss_name == "smart" and group == "smart-sepsis-cds":
            life = 300
        skew, skew_id = self.issuer_skew(ks, t_issue)
        now_i = (partner_now if partner_now is not None else t_issue) + skew
        if skew_id:
            tags = [*tags, skew_id]
        key = self.current_key(ks, t_issue)
        if ks == "partners":
            key = next(e for e in self.keysched[ks] if e["owner"] == group)
        sign_name, kid = key["name"], key["kid"]
        for inc in self.incidents:
            if inc.get("issuer") != ks or not (inc["t_start"] <= t_issue < inc.get("t_end", 0)):
                continue
            if inc["kind"] in ("kid_before_publish", "signature_spike") and inc.get("sign_key"):
                if rng.random() < inc["share"]:
                    sign_name, kid = inc["sign_key"]
                    tags = [*tags, inc["id"]]
        for inc in self.incidents:
            if (
                inc["kind"] == "kid_before_publish"
                and inc.get("issuer") == ks
                and not inc.get("sign_key")
                and kid == inc["kid"]
            ):
                if t_issue < inc["t_end"] + 30 * M:
                    tags = [*tags, inc["id"]]
            if (
                inc["kind"] == "key_removed_early"
                and inc.get("issuer") == ks
                and kid == inc["kid"]
                and t_issue + life > inc["t_start"]
            ):
                tags = [*tags, inc["id"]]
            if inc["kind"] == "jwks_outage" and inc.get("kid_new") == kid and inc["issuer"] == ks:
                tags = [*tags, inc["id"]]
        self.jti += 1
        iat = int(now_i)
        iss = ISS[iss_name]
        sub_user = f"{group}:{dev}:{rng.randrange(40)}"
        c = {"iss": iss, "iat": iat, "exp": iat + int(life), "jti": f"{self.seed}-{self.jti}"}
        typ = "at+jwt"
        if ks == "smart":
            c.update(
                sub=f"Practitioner/{hashlib.md5(sub_user.encode()).hexdigest()[:10]}",
                aud=api_aud,
                scope="user/*.read launch",
                fhirUser="Practitioner/x",
            )
            c[claim] = group
            if group != "smart-sepsis-cds":
                c["patient"] = f"Patient/{rng.randrange(100000)}"
        elif ks == "workforce":
            typ = "JWT"
            c.update(
                sub=hashlib.md5(sub_user.encode()).hexdigest()[:22],
                aud=api_aud,
                tid=TID,
                nbf=iat,
                oid=hashlib.md5((sub_user + "o").encode()).hexdigest()[:32],
                ver="2.0",
                scp="user_impersonation",
            )
            if iss_name == "workforce_v1":
                c["ver"] = "1.0"
            c[claim] = group
        elif ks == "portal":
            c.update(
                sub=hashlib.md5(sub_user.encode()).hexdigest()[:16],
                aud=api_aud,
                client_id=group,
                scope="patient/*.read",
            )
        elif ks == "b2b":
            c.update(sub=group, aud=api_aud, client_id=group, nbf=iat, scope="system/*.read")
        elif ks == "partners":
            typ = "JWT"
            c.update(sub=group, aud=api_aud, client_id=group, nbf=iat)
        elif ks == "mesh":
            typ = "JWT"
            c.update(sub=f"spiffe://hospital.example/ns/clinical/sa/{group}", aud=api_aud)
            c["azp"] = group
        if kind == "id":
            typ = "JWT"
            c["aud"] = group
            c["nonce"] = hashlib.md5(c["jti"].encode()).hexdigest()[:12]
            c.pop("scope", None)
            c.pop("scp", None)
        elif kind == "refresh":
            typ = "rt+jwt"
            c["exp"] = iat + 30 * 86400
        if ks == "portal" and kind == "at":
            c["exp"] = iat + int(life)
        header = {"kid": kid, "typ": typ}
        if iss_name == "workforce_v1":
            tags = [x for x in tags if x == skew_id and False]
        self.tokens.append((ks, sign_name, header, c, tuple(tags)))
        return len(self.tokens) - 1


# --------------------------------------------------------------------------------------------------------------
# request generation
# --------------------------------------------------------------------------------------------------------------

SCAN_KINDS = ("none", "randkid", "noclient", "tampered", "truncated", "hs256pub", "ancient", "garbage") * 6 + ("huge",)


def device_offset(profile: str, rng: random.Random):
    """(base offset s, drift s/h, boot-wrong windows)"""
    r = rng.random()
    if profile == "server":
        return (rng.gauss(0, 0.3), 0.0)
    if profile == "partner":
        return (rng.gauss(0, 2) if r < 0.9 else rng.uniform(-8, 8), 0.0)
    if r < 0.80:
        return (rng.gauss(0, 1.5), 0.0)
    if r < 0.92:
        return (rng.uniform(-60, 60), 0.0)
    if r < 0.97:
        return (rng.choice([-1, 1]) * rng.uniform(120, 420), 0.0)
    return (rng.uniform(-20, 20), rng.uniform(-40, 40))  # drifting (s/h)


def build_requests(plan: Plan) -> None:
    rng = plan.rng
    t0, t1 = plan.t0, plan.t1
    # replicas, autoscaling, deploys, crashes
    for api, (base, extra, _lw, _iss, _pub) in APIS.items():
        for r in range(base):
            plan.active[(api, r)] = (t0, t1 + 1)
        for r in range(base, base + extra):
            d0 = dt.datetime.fromtimestamp(t0, UTC).replace(hour=8, minute=30, second=0)
            s = max(t0, d0.timestamp() + rng.uniform(-1800, 1800))
            e = min(t1, s + rng.uniform(6, 9) * H)
            if e - s > H:
                plan.active[(api, r)] = (s, e)
        # rolling deploy (once per timeline per API with prob), crashes
        if rng.random() < 0.6:
            s = rng.uniform(t0 + H, t1 - H)
            for r in range(base):
                plan.restarts[(api, r)].append(s + r * rng.uniform(60, 180))
        for r in range(base):
            if rng.random() < 0.25:
                plan.restarts[(api, r)].append(rng.uniform(t0, t1))
    for inc in plan.incidents:
        if inc["kind"] == "jwks_outage":
            for api in inc.get("deploy", []):
                base = APIS[api][0]
                s = inc["t_start"] + rng.uniform(5, 15) * M
                for r in range(base):
                    plan.restarts[(api, r)].append(s + r * 4 * M)
                if APIS[api][1]:
                    # autoscaled replica starts cold during the outage
                    plan.active[(api, base)] = (inc["t_start"] + 10 * M, t1)
        if inc["kind"] == "server_clock_skew" and "api" in inc:
            plan.replica_skew[(inc["api"], inc["replica"])].append((inc["t_start"], inc["t_end"], inc["offset"]))
        if inc["kind"] == "audience_misconfig" and "api" in inc:
            for i, r in enumerate(inc["replicas"]):
                s = inc["t_start"] + i * 3 * M
                plan.wrong_aud[(inc["api"], r)].append(
                    (s, inc["t_end"] - (len(inc["replicas"]) - 1 - i) * 2 * M, inc["wrong_aud"])
                )
                plan.restarts[(inc["api"], r)].append(s)
                plan.restarts[(inc["api"], r)].append(inc["t_end"] - (len(inc["replicas"]) - 1 - i) * 2 * M)
    for k in plan.restarts:
        plan.restarts[k].sort()

    # downtime procedures: a network segment (share of some groups' devices) drops
    downtimes = []
    for _ in range(rng.choice([0, 1, 1, 2])):
        s = rng.uniform(t0 + H, t1 - 2 * H)
        downtimes.append((s, s + rng.uniform(10, 40) * M, rng.randrange(1000)))

    def in_downtime(group: str, dev: int, t: float):
        if GROUPS[group][10] not in ("desk", "bedside", "kiosk"):
            return None
        for s, e, seg in downtimes:
            if s <= t < e and zlib.crc32(f"{group}/{dev}/{seg}".encode()) % 7 == 0:
                return e
        return None

    reqs: list[tuple] = []  # (t, api, token idx or -1, scan kind or None, tags, client group)

    def pick_api(apis: dict, r: random.Random) -> str:
        x = r.random() * sum(apis.values())
        for a, w in apis.items():
            x -= w
            if x <= 0:
                return a
        return a

    scale = plan.scale
    for gname, g in GROUPS.items():
        iss_name, _claim, apis, ndev, rate, ckind, _life, margin, exp_mode, lazy, clock_prof, resume = g
        ks = KEYSET_OF[iss_name]
        grng = random.Random(f"{plan.seed}-{gname}")
        skew_incs = [i for i in plan.incidents if i["kind"] == "clock_skew" and i["client"] == gname]
        aud_incs = [i for i in plan.incidents if i["kind"] == "audience_misconfig" and i.get("client") == gname]
        type_incs = [i for i in plan.incidents if i["kind"] == "type_confusion" and i["client"] == gname]
        rate_max = rate * scale * VOLUME * plan.cfg.get("volume", 1.0) / H * 1.3
        for dev in range(ndev):
            base_off, drift = device_offset(clock_prof, grng)
            boot_wrong = None
            if clock_prof in ("bedside", "kiosk") and grng.random() < 0.15:
                bt = grng.uniform(t0, t1)
                boot_wrong = (bt, bt + grng.uniform(2, 10) * M, -grng.uniform(1, 8) * H)
            dev_skew = [i for i in skew_incs if grng.random() < i["devices"]]

            def offset(t: float) -> tuple[float, str | None]:
                o = base_off + drift * (t - t0) / H  # noqa: B023 - called within the same device loop
                if boot_wrong and boot_wrong[0] <= t < boot_wrong[1]:  # noqa: B023 - called within the same device loop
                    o += boot_wrong[2]  # noqa: B023 - called within the same device loop
                for i in dev_skew:  # noqa: B023 - called within the same device loop
                    if i["t_start"] <= t < i["t_end"]:
                        return o + i["offset"] + i["drift"] * (t - i["t_start"]) / H, i["id"]
                return o, None

            held: dict[str, tuple[int, float, float]] = {}  # aud -> (token idx, iat_local, exp)
            t = t0 - grng.uniform(0, 600)
            last_t = None
            n_loop = 0
            while n_loop < 200000:
                n_loop += 1
                t += grng.expovariate(rate_max)
                if t >= t1:
                    break
                if grng.random() > curve(ckind, t) / 1.3:
                    continue
                api = pick_api(apis, grng)
                aud = AUD[api]
                tags_req: list[str] = []
                off, skew_id = offset(t)
                local = t + off
                dl = in_downtime(gname, dev, t)
                # type confusion: this client sends an ID / refresh token
                tc = None
                for i in type_incs:
                    if i["t_start"] <= t < i["t_end"] and grng.random() < i["share"]:
                        tc = i
                # wrong audience requested by this client
                want_aud = aud
                aud_tag = None
                for i in aud_incs:
                    if i["t_start"] <= t < i["t_end"]:
                        want_aud, aud_tag = i["wrong_aud"], i["id"]
                cur = held.get(want_aud)
                # shift change: shared workstations switch user -> new token
                if cur and ckind == "clinical" and clock_prof == "desk":
                    h_ = dt.datetime.fromtimestamp(t, UTC)
                    for sh in (7, 19):
                        sct = h_.replace(hour=sh, minute=0, second=0).timestamp()
                        if cur[1] - off < sct <= t and grng.random() < 0.9:
                            cur = None
                            break
                # resumed app / woken workstation / restarted integration: first request replays a stale token
                stale_first = None
                if cur and last_t is not None and t - last_t > 1200 and grng.random() < resume:
                    if t > cur[2] + APIS[api][2]:
                        stale_first = cur[0]
                last_t = t
                need = cur is None
                if cur and not lazy:
                    if exp_mode == "claim":
                        need = local >= cur[2] - margin
                    else:
                        need = (t - cur[1]) >= (cur[2] - cur[1]) - margin  # expires_in at receipt
                    if ks == "partners":
                        need = local >= cur[2] - margin
                stall = plan.stalled(ks, t)
                stall_tag = None
                if need and stall is not None and cur is not None:
                    need = False
                    stall_tag = stall["id"]
                elif need and stall is not None and ks != "partners":
                    continue  # nothing to present: the app shows an error page
                if dl is not None:
                    need = False
                if stale_first is not None and not need:
                    stale_first = None
                if stale_first is not None:
                    reqs.append((t, api, stale_first, None, tuple(tags_req), gname))
                    t += grng.uniform(0.3, 3)
                if need:
                    ttags = [aud_tag] if aud_tag else []
                    pn = local if ks == "partners" else None
                    if skew_id and ks == "partners":
                        ttags.append(skew_id)
                    idx = plan.mint(gname, dev, t, want_aud, ttags, rng=grng, partner_now=pn)
                    tok = plan.tokens[idx][3]
                    cur = (idx, t + off if ks == "partners" else t, tok["exp"])
                    if ks != "partners":
                        cur = (idx, t, tok["exp"])
                    held[want_aud] = cur
                if cur is None:
                    continue  # segment down and nothing cached: the request waits for the downtime form
                tidx = cur[0]
                if skew_id and not (need and ks == "partners"):
                    tags_req.append(skew_id)
                st_now = plan.stalled(ks, t)
                if (
                    st_now is not None
                    and ks != "partners"
                    and plan.tokens[tidx][3]["iat"] < st_now["t_start"] + plan.issuer_skew(ks, t)[0] + 1
                ):
                    tags_req.append(st_now["id"])
                elif stall_tag:
                    tags_req.append(stall_tag)
                if tc is not None:
                    tidx = plan.mint(gname, dev, t, want_aud, [], kind=tc["token"], rng=grng)
                    tags_req.append(tc["id"])
                t_send = t
                if dl is not None:
                    t_send = dl + grng.uniform(1, 120)  # flushed when the segment comes back
                exp = plan.tokens[tidx][3]["exp"]
                reqs.append((t_send, api, tidx, None, tuple(tags_req), gname))
                lw = APIS[api][2]
                expired_pred = t_send > exp + lw
                if expired_pred and tc is None and exp_mode == "claim" and local < exp:
                    # its own clock says the token is still good: retries it once or twice before refreshing
                    for k in range(grng.choice([1, 1, 2])):
                        reqs.append((t_send + (k + 1) * grng.uniform(1, 6), api, tidx, None, tuple(tags_req), gname))
                    t_send += 15
                if expired_pred and tc is None:
                    # 401 -> refresh and retry (if the issuer answers)
                    if plan.stalled(ks, t_send) is None:
                        pn = t_send + off if ks == "partners" else None
                        ttags = [aud_tag] if aud_tag else []
                        if skew_id and ks == "partners":
                            ttags.append(skew_id)
                        idx = plan.mint(gname, dev, t_send, want_aud, ttags, rng=grng, partner_now=pn)
                        held[want_aud] = (idx, t_send, plan.tokens[idx][3]["exp"])
                        rt = t_send + grng.uniform(0.2, 2.5)
                        reqs.append((rt, api, idx, None, tuple(t_ for t_ in tags_req if t_ != stall_tag), gname))
                        if dl is None:
                            t = max(t, rt)
                    elif grng.random() < 0.5:
                        reqs.append((t_send + grng.uniform(2, 30), api, tidx, None, tuple(tags_req), gname))
                elif tags_req or plan.tokens[tidx][4]:
                    # incident-tagged request: clients retry once or twice
                    for k in range(grng.choice([0, 1, 1, 2])):
                        reqs.append((t_send + (k + 1) * grng.uniform(1, 8), api, tidx, None, tuple(tags_req), gname))

    # internet scanners on public APIs, and attack bursts
    pub = [a for a, v in APIS.items() if v[4]]
    srng = random.Random(f"{plan.seed}-scan")
    t = t0
    n = 0
    while n < 10**6:
        n += 1
        t += srng.expovariate(srng.uniform(1.0, 1.5) / M)  # 1-1.5 a minute
        if t >= t1:
            break
        reqs.append((t, srng.choice(pub), -1, srng.choice(SCAN_KINDS), (), "scanner"))
    for inc in plan.incidents:
        if inc["kind"] != "attack_burst":
            continue
        t = inc["t_start"]
        kinds = ("none", "hs256pub", "forged", "tampered", "randkid", "noclient")
        n = 0
        while n < 10**6:
            n += 1
            t += srng.expovariate(inc["rate"] / M)
            if t >= inc["t_end"]:
                break
            reqs.append((t, srng.choice(inc["apis"]), -1, srng.choice(kinds), (inc["id"],), "attacker"))
    # audience misconfig of an API: window tags by api/replica are added at routing
    # server clock skew of a replica, the same
    # jwks_outage window tags by issuer
    reqs.sort(key=lambda r: r[0])
    rrng = random.Random(f"{plan.seed}-route")
    skew_kind = {i["id"]: i["kind"] == "server_clock_skew" for i in plan.incidents}
    for t, api, tidx, scan, tags, gname in reqs:
        if t < t0 or t >= t1:
            continue
        reps = [
            r
            for r in range(APIS[api][0] + APIS[api][1])
            if (api, r) in plan.active and plan.active[(api, r)][0] <= t < plan.active[(api, r)][1]
        ]
        r = rrng.choice(reps)
        tags = list(tags)
        if tidx >= 0:
            tok = plan.tokens[tidx]
            if tok[4] and t <= tok[3]["exp"] + 900:
                for tg in tok[4]:
                    # an issuer's clock ahead/behind shows while the token is young (iat, nbf); later failures
                    # of the same token (expiry during a stall, say) are not this incident's
                    if skew_kind.get(tg) and t > tok[3]["iat"] + 300:
                        continue
                    tags.append(tg)
            ks = tok[0]
            for inc in plan.incidents:
                if (
                    inc["kind"] == "jwks_outage"
                    and inc["issuer"] == ks
                    and inc["t_start"] <= t < inc["t_end"] + 5 * M
                    and inc["id"] not in tags
                ):
                    tags.append(inc["id"])
        for s, e, _off in plan.replica_skew.get((api, r), ()):
            if s <= t < e:
                tags.extend(
                    i["id"]
                    for i in plan.incidents
                    if i["kind"] == "server_clock_skew" and i.get("api") == api and i.get("replica") == r
                )
        for s, e, _aud in plan.wrong_aud.get((api, r), ()):
            if s <= t < e:
                tags.extend(
                    i["id"] for i in plan.incidents if i["kind"] == "audience_misconfig" and i.get("api") == api
                )
        plan.requests[(api, r)].append((t, tidx, scan, tuple(dict.fromkeys(tags)), gname))


# --------------------------------------------------------------------------------------------------------------
# worker: one replica file
# --------------------------------------------------------------------------------------------------------------

SIM = {"now": 0.0, "plan": None}


def jwks_doc(plan: Plan, ks: str, now: float) -> dict:
    keys = []
    for e in plan.keysched[ks]:
        if e["publish"] <= now < e["remove"]:
            keys.append(KEYS[e["name"]][1])
    return {"keys": keys}


class JwksHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a, **k):
        pass

    def do_GET(self):
        plan = SIM["plan"]
        now = SIM["now"]
        ks = self.path.strip("/").split("/")[0]
        if ks not in plan.keysched:
            self.send_error(404)
            return
        for s, e, mode in plan.outages.get(ks, ()):
            if s <= now < e:
                if mode == "503":
                    self.send_error(503)
                    return
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
        body = json.dumps(jwks_doc(plan, ks, now)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class KeyCache:
    """The apps' own key-set caching (for validators that are not PyJWKClient / JwksSource)."""

    def __init__(self, url: str, ttl: float, strict: bool):
        self.url, self.ttl, self.strict = url, ttl, strict
        self.doc = None
        self.next = 0.0
        self.last_forced = -1e18

    def fetch(self):
        with urllib.request.urlopen(self.url, timeout=3) as r:
            return json.loads(r.read())

    def get(self, kid):
        now = time.time()
        if self.doc is None or now >= self.next:
            try:
                self.doc = self.fetch()
                self.next = now + self.ttl
            except Exception:
                self.next = now + 30
                if self.doc is None or self.strict:
                    raise
        if kid is not None and not any(k.get("kid") == kid for k in self.doc["keys"]) and now - self.last_forced >= 60:
            self.last_forced = now
            self.doc = self.fetch()  # a failure here propagates: the key set could not be fetched
            self.next = now + self.ttl
        return self.doc


def peek(token):
    try:
        h, p, _ = token.split(".", 2)
        hd = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
        cl = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        return (hd if isinstance(hd, dict) else {}), (cl if isinstance(cl, dict) else {})
    except Exception:
        return {}, {}


def make_validator(api: str, base_url: str, plan: Plan, aud_of):
    import jwtobs

    lw = APIS[api][2]
    issuers = APIS[api][3]
    url = {ks: f"{base_url}/{ks}/jwks.json" for ks in ("smart", "workforce", "portal", "b2b", "partners", "mesh")}

    if api == "fhir-api":
        vs = []
        for ks in ("smart", "workforce", "b2b"):
            prof = jwtobs.Profile(
                name=api,
                issuer=ISS[ks],
                audience=aud_of(),
                algorithms=("RS256",),
                token_type="JWT" if ks == "workforce" else "at+jwt",
                leeway=lw,
            )
            vs.append(jwtobs.Verifier(prof, keys=jwtobs.JwksSource(url[ks], clock=time.time), backend="pyjwt"))
        vset = jwtobs.VerifierSet(vs)
        return vset.verify
    if api == "portal-bff":
        prof = jwtobs.Profile(
            name=api, issuer=ISS["portal"], audience=aud_of(), algorithms=("ES256",), token_type="at+jwt", leeway=lw
        )
        return jwtobs.Verifier(prof, keys=jwtobs.JwksSource(url["portal"], clock=time.time), backend="joserfc").verify
    if api == "analytics-export":
        p1 = jwtobs.Profile(
            name=api, issuer=ISS["b2b"], audience=aud_of(), algorithms=("RS256",), token_type="at+jwt", leeway=lw
        )
        p2 = jwtobs.Profile(
            name=api, issuer=ISS["mesh"], audience=aud_of(), algorithms=("ES256",), token_type=None, leeway=lw
        )
        vset = jwtobs.VerifierSet(
            [
                jwtobs.Verifier(p1, keys=jwtobs.JwksSource(url["b2b"], clock=time.time), backend="authlib"),
                jwtobs.Verifier(
                    p2, keys=jwtobs.JwksSource(url["mesh"], clock=time.time, cooldown=15), backend="jwcrypto"
                ),
            ]
        )
        return vset.verify
    if api == "scheduling":
        import jwt

        clients = {}
        state = {}
        for name in issuers:
            ks = KEYSET_OF[name]
            clients[ISS[name]] = jwt.PyJWKClient(
                url[ks], cache_jwk_set=True, lifespan=10**9, cooldown_duration=0, timeout=3
            )
            state[ISS[name]] = [0.0]

        def validate(token):
            unverified = jwt.decode(token, options={"verify_signature": False})
            iss = unverified.get("iss")
            client = clients.get(iss) if isinstance(iss, str) else None
            if client is None:
                raise jwt.InvalidIssuerError("Invalid issuer")
            now = time.time()
            if now >= state[iss][0]:
                try:
                    client.fetch_data()
                    state[iss][0] = now + 600
                except jwt.PyJWKClientConnectionError:
                    state[iss][0] = now + 30
            key = client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=aud_of(),
                issuer=iss,
                leeway=lw,
                options={"require": ["exp", "iat", "sub"]},
            )

        return jwtobs.wrap(validate, library="pyjwt", profile=api)
    if api == "lab-results":
        from joserfc import jwt as fjwt
        from joserfc.jwk import KeySet

        caches = {ISS[n]: KeyCache(url[KEYSET_OF[n]], 900, strict=False) for n in issuers}
        imported = {}

        def validate(token):
            hd, cl = peek(token)
            iss = cl.get("iss")
            cache = caches.get(iss) if isinstance(iss, str) else None
            if cache is None:
                cache = caches[ISS["smart"]]
            doc = cache.get(hd.get("kid") if isinstance(hd.get("kid"), str) else None)
            ident = id(doc)
            if imported.get(iss, (None,))[0] != ident:
                imported[iss] = (ident, KeySet.import_key_set(doc))
            tok = fjwt.decode(token, imported[iss][1], algorithms=["RS256"])
            reg = fjwt.JWTClaimsRegistry(
                leeway=lw,
                iss={"essential": True, "value": iss if iss in caches else ISS["smart"]},
                aud={"essential": True, "value": aud_of()},
                exp={"essential": True},
                sub={"essential": True},
            )
            reg.validate(tok.claims)
            return tok

        return jwtobs.wrap(validate, library="joserfc", profile=api)
    if api == "e-prescribing":
        from authlib.jose import JsonWebKey, JsonWebToken

        ajwt = JsonWebToken(["RS256"])
        caches = {ISS[n]: KeyCache(url[KEYSET_OF[n]], 600, strict=False) for n in issuers}
        imported = {}

        def validate(token):
            hd, cl = peek(token)
            iss = cl.get("iss")
            if not isinstance(iss, str) or iss not in caches:
                iss = ISS["workforce"]
            doc = caches[iss].get(hd.get("kid") if isinstance(hd.get("kid"), str) else None)
            if imported.get(iss, (None,))[0] != id(doc):
                imported[iss] = (id(doc), JsonWebKey.import_key_set(doc))
            opts = {
                "iss": {"essential": True, "value": iss},
                "aud": {"essential": True, "value": aud_of()},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }
            claims = ajwt.decode(token, imported[iss][1], claims_options=opts)
            claims.validate(leeway=lw)
            return claims

        return jwtobs.wrap(validate, library="authlib", profile=api)
    if api == "interface-engine":
        from jose import jwt as jjwt

        caches = {ISS[n]: KeyCache(url[KEYSET_OF[n]], 300, strict=True) for n in issuers}

        def validate(token):
            hd, cl = peek(token)
            iss = cl.get("iss")
            if not isinstance(iss, str) or iss not in caches:
                iss = ISS["mesh"]
            kid = hd.get("kid") if isinstance(hd.get("kid"), str) else None
            doc = caches[iss].get(kid)
            ks = [k for k in doc["keys"] if k.get("kid") == kid]
            key = ks[0] if ks else doc
            alg = "ES256" if iss == ISS["mesh"] else "RS256"
            return jjwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=aud_of(),
                issuer=iss,
                options={"leeway": lw, "require_exp": True, "verify_at_hash": False},
            )

        return jwtobs.wrap(validate, library="jose", profile=api)
    if api == "imaging-gateway":
        from jwcrypto import jwk as cjwk
        from jwcrypto import jwt as cjwt

        cache = KeyCache(url["workforce"], 1800, strict=False)
        imported = {}

        def validate(token):
            hd, cl = peek(token)
            iss = cl.get("iss")
            if iss not in (ISS["workforce"], ISS["workforce_v1"]):
                iss = ISS["workforce"]
            doc = cache.get(hd.get("kid") if isinstance(hd.get("kid"), str) else None)
            if imported.get("k", (None,))[0] != id(doc):
                imported["k"] = (id(doc), cjwk.JWKSet.from_json(json.dumps(doc)))
            t = cjwt.JWT(algs=["RS256"], check_claims={"iss": iss, "aud": aud_of(), "exp": None})
            t.leeway = lw
            t.deserialize(token, key=imported["k"][1])
            return json.loads(t.claims)

        return jwtobs.wrap(validate, library="jwcrypto", profile=api)
    raise ValueError(api)


def scan_token(kind: str, api: str, rng: random.Random, plan: Plan, sign) -> str:
    import jwt

    iss_name = APIS[api][3][0]
    iss = ISS[iss_name]
    ks = KEYSET_OF[iss_name]
    now = int(time.time())
    c = {"iss": iss, "sub": f"admin{rng.randrange(1000)}", "aud": AUD[api], "iat": now, "exp": now + 3600}
    apriv = ATTACKER["key"]
    if kind == "none":
        h = b64u(json.dumps({"alg": rng.choice(["none", "None", "NONE"]), "typ": "JWT"}).encode())
        return h + "." + b64u(json.dumps(c).encode()) + "."
    if kind == "randkid":
        return jwt.encode(c, apriv, algorithm="RS256", headers={"kid": b64u(os.urandom(8))})
    if kind == "noclient":
        return jwt.encode(c, apriv, algorithm="RS256", headers={"typ": "JWT"})
    cur = plan.current_key(ks, time.time())
    if kind in ("tampered", "forged"):
        real = sign(cur["name"], {"kid": cur["kid"], "typ": "at+jwt"}, dict(c, client_id="x"))
        h, p, s = real.split(".")
        if kind == "forged":
            s = b64u(os.urandom(256 if ALG_OF[ks] == "RS256" else 64))
        else:
            p = b64u(json.dumps(dict(c, sub="admin", scope="system/*.*")).encode())
        return f"{h}.{p}.{s}"
    if kind == "truncated":
        real = jwt.encode(c, apriv, algorithm="RS256", headers={"kid": cur["kid"]})
        return real[: rng.randrange(10, len(real) - 5)]
    if kind == "huge":
        return jwt.encode(dict(c, pad="A" * 70000), apriv, algorithm="RS256")
    if kind == "hs256pub":
        from cryptography.hazmat.primitives import serialization

        pub = (
            KEYS[cur["name"]][0]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        hdr = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": cur["kid"]}).encode())
        pl = b64u(json.dumps(c).encode())
        import hmac

        sig = hmac.new(pub, f"{hdr}.{pl}".encode(), "sha256").digest()
        return f"{hdr}.{pl}.{b64u(sig)}"
    if kind == "ancient":
        c2 = dict(c, iat=now - 6 * 365 * 86400, exp=now - 6 * 365 * 86400 + 3600)
        return jwt.encode(c2, apriv, algorithm="RS256", headers={"kid": cur["kid"]})
    return rng.choice(["undefined", "null", "Bearer", b64u(os.urandom(40)), "eyJhbGciOi.xxx.yyy"])


def sign_chunk(task):
    """Phase 1: every token signed once (PyJWT), before the replicas validate them."""
    import jwt

    tl, lo, hi = task
    plan = PLANS[tl]
    out = []
    for _ks, kname, header, claims, _tags in plan.tokens[lo:hi]:
        priv, _jwk, alg = KEYS[kname]
        out.append(jwt.encode(claims, priv, algorithm=alg, headers=header))
    return tl, lo, out


def run_replica(task):
    tl, api, rep, out = task
    import jwt
    import time_machine

    import jwtobs

    plan = PLANS[tl]
    reqs = plan.requests[(api, rep)]
    path = os.path.join(out, tl, "events", f"{api}-{rep}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    if not reqs:
        return (tl, api, rep, [], 0, 0.0)
    SIM["plan"] = plan
    srv = Server(("127.0.0.1", 0), JwksHandler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    jwtobs.configure(
        events_path=path,
        service=api,
        fingerprint_key="fleet46-benchmark-fingerprint-key-0001",
        issuers=sorted(set(ISS.values())),
    )
    signed: dict[int, str] = {}

    def sign(keyname, header, claims):
        priv, _jwk, alg = KEYS[keyname]
        return jwt.encode(claims, priv, algorithm=alg, headers=header)

    current_aud = [AUD[api]]
    restarts = list(plan.restarts.get((api, rep), ()))
    skews = plan.replica_skew.get((api, rep), ())
    wrong = plan.wrong_aud.get((api, rep), ())
    rng = random.Random(f"{plan.seed}-{api}-{rep}")
    wall = time.time()
    traveller = time_machine.travel(reqs[0][0], tick=False)
    coord = traveller.start()
    try:
        validate = make_validator(api, base_url, plan, lambda: current_aud[0])
        ri = 0
        for t, tidx, scan, _tags, _g in reqs:
            aud = AUD[api]
            for s, e, a in wrong:
                if s <= t < e:
                    aud = a
            current_aud[0] = aud
            while ri < len(restarts) and restarts[ri] <= t:
                ri += 1
                SIM["now"] = t
                coord.move_to(t)
                validate = make_validator(api, base_url, plan, lambda: current_aud[0])
            vt = t
            for s, e, off in skews:
                if s <= t < e:
                    vt = t + off
            SIM["now"] = t
            coord.move_to(vt)
            if tidx >= 0:
                tok = plan.signed[tidx] if plan.signed else signed.get(tidx)
                if tok is None:
                    _ks, kname, header, claims, _tt = plan.tokens[tidx]
                    tok = sign(kname, header, claims)
                    if len(signed) > 50000:
                        signed.clear()
                    signed[tidx] = tok
            else:
                tok = scan_token(scan, api, rng, plan, sign)
            try:
                validate(tok)
            except Exception:
                pass
        jwtobs.flush()
    finally:
        traveller.stop()
        srv.shutdown()
        srv.server_close()
    jwtobs.flush()
    # read the events back, match by order
    rej = []
    n = 0
    with open(path, "rb") as f:
        for line in f:
            ev = json.loads(line)
            if "event" in ev:
                continue
            if ev["outcome"] == "rejected":
                rej.append((n, ev["reason"], ev["time"]))
            n += 1
    return (tl, api, rep, rej, n, time.time() - wall)


# --------------------------------------------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------------------------------------------


def write_labels(tl: str, plan: Plan, results, out: str, wall: float) -> dict:
    incs = {i["id"]: i for i in plan.incidents}
    counted = collections.defaultdict(list)
    reasons = collections.Counter()
    validations = 0
    rejections = 0
    mismatched = []
    for _tl, api, rep, rej, n, _w in results:
        reqs = plan.requests[(api, rep)]
        validations += n
        rejections += len(rej)
        if n != len(reqs):
            mismatched.append(f"{api}-{rep}: {n} events for {len(reqs)} requests")
        for i, reason, tstr in rej:
            reasons[reason] += 1
            if i >= len(reqs):
                continue
            for tag in reqs[i][3]:
                inc = incs.get(tag)
                if inc is None:
                    continue
                ok = REASONS_OF[inc["kind"]]
                if ok is None or reason in ok:
                    counted[tag].append(tstr)
    labels = []
    for inc in plan.incidents:
        c = counted.get(inc["id"])
        if not c:
            continue
        c.sort()
        kind = inc["kind"]
        issuer = kid = client = profile = None
        if kind in ("kid_before_publish", "key_removed_early", "jwks_outage", "signature_spike", "issuer_stalled"):
            issuer = ISS[inc["issuer"]]
        if kind in ("kid_before_publish", "key_removed_early", "signature_spike"):
            kid = inc["kid"]
        if kind == "server_clock_skew":
            if "issuer" in inc:
                issuer = ISS[inc["issuer"]]
            else:
                profile = inc["api"]
        if kind in ("clock_skew", "type_confusion"):
            client = inc["client"]
        if kind == "audience_misconfig":
            if "client" in inc:
                client = inc["client"]
            else:
                profile = inc["api"]
        labels.append(
            {
                "id": inc["id"],
                "kind": kind,
                "start": c[0],
                "end": c[-1],
                "count": len(c),
                "issuer": issuer,
                "kid": kid,
                "client_id": client,
                "profile": profile,
                "detail": inc["detail"],
            }
        )
    doc = {
        "timeline": tl,
        "quiet": plan.cfg["quiet"],
        "seed": plan.seed,
        "start": iso(plan.t0),
        "end": iso(plan.t1),
        "generator": GEN,
        "incidents": labels,
    }
    d = os.path.join(out, tl)
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(doc, f, indent=1)
    summary = {
        "timeline": tl,
        "validations": validations,
        "rejections": rejections,
        "rejection_rate": round(rejections / max(1, validations), 5),
        "reasons": dict(reasons.most_common()),
        "incidents_injected": len(plan.incidents),
        "incidents_labelled": len(labels),
        "injected_without_counted_rejection": [i["id"] for i in plan.incidents if i["id"] not in counted],
        "counts": {k: len(v) for k, v in counted.items()},
        "event_request_mismatch": mismatched,
        "tokens_minted": len(plan.tokens),
        "wall_time_s": round(wall, 1),
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed-base", type=int, default=4600)
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
    wall0 = time.time()
    from cryptography.hazmat.primitives.asymmetric import rsa

    ATTACKER["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    plan_t = {}
    for n in names:
        t_ = time.time()
        cfg = TIMELINES[n]
        plan = Plan(n, cfg, a.seed_base + cfg["seed"], a.scale)
        plan.keys()
        build_requests(plan)
        PLANS[n] = plan
        plan_t[n] = time.time() - t_
        d = os.path.join(a.out, n)
        if os.path.isdir(os.path.join(d, "events")):
            shutil.rmtree(os.path.join(d, "events"))
        os.makedirs(os.path.join(d, "events"), exist_ok=True)
        print(
            f"[plan] {n}: {sum(len(v) for v in plan.requests.values())} requests, {len(plan.tokens)} tokens, "
            f"{plan_t[n]:.1f}s",
            flush=True,
        )
    ctx = multiprocessing.get_context("fork")
    chunks = [
        (n, lo, min(lo + 2000, len(PLANS[n].tokens))) for n in names for lo in range(0, len(PLANS[n].tokens), 2000)
    ]
    parts = collections.defaultdict(dict)
    with ctx.Pool(a.workers) as pool:
        for tl, lo, toks in pool.imap_unordered(sign_chunk, chunks):
            parts[tl][lo] = toks
    for n in names:
        PLANS[n].signed = [tok for lo in sorted(parts[n]) for tok in parts[n][lo]]
    print(f"[sign] {sum(len(PLANS[n].signed) for n in names)} tokens signed, {time.time() - wall0:.1f}s", flush=True)
    tasks = []
    for n in names:
        for key, _reqs in PLANS[n].requests.items():
            tasks.append((n, key[0], key[1], a.out))
    tasks.sort(key=lambda x: -len(PLANS[x[0]].requests[(x[1], x[2])]))
    results = collections.defaultdict(list)
    walls = collections.Counter()
    with ctx.Pool(a.workers, maxtasksperchild=4) as pool:
        for res in pool.imap_unordered(run_replica, tasks):
            results[res[0]].append(res)
            walls[res[0]] += res[5]
    for n in names:
        s = write_labels(n, PLANS[n], results[n], a.out, plan_t[n] + walls[n])
        print(
            f"[done] {n}: {s['validations']} validations, rate {s['rejection_rate']:.4f}, "
            f"labelled {s['incidents_labelled']}/{s['incidents_injected']} "
            f"missing {s['injected_without_counted_rejection']} mismatch {s['event_request_mismatch']}",
            flush=True,
        )
    print(f"[total] wall {time.time() - wall0:.1f}s", flush=True)
    if a.score:
        print(json.dumps(_score(a.out, names), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
