"""Session 22: a third independent fleet generator for the detectors (shares no code with ``jwtobs.simulate``,
``benchmarks/realfleet.py``, ``benchmarks/timelines.py`` or ``benchmarks/fleet21.py``).

Each timeline is one simulated UTC day of a multi-tenant SaaS whose traffic has shapes the other generators do
not model:

* 28 tenants, one issuer each (``https://tNN.login.fleet22.example``), sizes from a Zipf law (the largest sends
  about a fifth of the traffic, the smallest a few requests an hour); each rotates its signing key on its own
  schedule (every 1 to 30 days, the new key published 10 min to 12 h ahead, the old one removed an hour after
  its last token expired) and issues tokens of its own lifetime (15, 30 or 60 min);
* tenants in eleven time zones (their traffic peaks shifted), one region moving its clocks back an hour at
  01:00 UTC on the second day (a DST-like shift);
* browser sessions with sliding refresh: a tab renews its token when a request finds it in its last fifth; a
  tab left in the background wakes with an expired token (minutes to hours past ``exp``), gets a 401 and
  renews;
* service clients (``tNN-sync``, 1-3 instances) renewing at 80 % of the lifetime; a third of them retry every
  401 three times with the same token within a second before they renew; nightly ETL jobs (``tNN-etl``) that
  outlive their one token and renew on the 401;
* token exchange: a gateway (``gw-exchange``) swaps users' tokens for 5-minute tokens of an internal STS whose
  client id is the gateway's, one per user and downstream API;
* a mobile app (``app-ios-7.3``) releasing ``app-ios-7.4`` at 10:00 UTC on every day: the new client id ramps
  up, the old one decays; the app renews on any 401 and wakes from the background with expired tokens;
* a legacy gateway that strips the ``kid`` (the validators try every published key);
* API replicas with slightly different leeways (0 to 120 s) and a typ check on all but one API;
* a Kubernetes rollout each day restarting one API's replicas one by one (cold key caches, 0.5 % of their
  first fetches failing, for 10 s);
* a long tail of clients seen once (``cli-<hex>``: scripts with a pasted token, a quarter of them going on a
  few requests past ``exp`` before they renew), and a little scanner noise (about one token in three minutes);
* logs shipped with minutes of delay: every replica's file is in shipping order (batches of a minute held back
  up to 7 min), not in event order.

Quiet days carry all of this and nothing injected. Incident days inject 1-2 incidents each; labels come from the
model (the rejections the incident caused, as stamped by the replica that validated), never from the events.
The validators are a model of a ``jwtobs.Verifier`` (check order: form, algorithm, ``typ``, issuer, key,
signature, ``exp``, ``nbf``, ``iat``, audience) with a key cache per issuer (10 min time to live, refetch on an
unknown kid after 60 s, stale keys used up to 15 min when the key set cannot be fetched). A replica stamps its
events with its own clock.

    python benchmarks/fleet22.py --out /tmp/f22 --jobs 2          # the whole set (13 timelines), then score it
    python benchmarks/fleet22.py --out /tmp/f22 --only q-mon,i-server-ahead
    python benchmarks/fleet22.py --out /tmp/f22 --score-only     # score timelines written before
    python benchmarks/fleet22.py --list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the jwtobs of this checkout

from jwtobs.kinds import INCIDENT_KINDS
from jwtobs.reasons import Reason


def _kind(name: str) -> str:
    """An incident kind, checked against the one table of them."""
    if name not in INCIDENT_KINDS:
        raise ValueError(f"fleet22: unknown incident kind {name!r}")
    return name


SERVER_SKEW = _kind("server_clock_skew")
CLIENT_SKEW = _kind("clock_skew")
AUDIENCE = _kind("audience_misconfig")
ATTACK = _kind("attack_burst")
OUTAGE = _kind("jwks_outage")
REMOVED = _kind("key_removed_early")
BEFORE = _kind("kid_before_publish")
TYPE = _kind("type_confusion")

EPOCH = datetime(2026, 11, 30, tzinfo=UTC).timestamp()  # a Monday; day d of a timeline starts EPOCH + d days
DAY = 86400.0
STS = "https://sts.fleet22.example"
CONSUMER = "https://id.fleet22.example"
N_TENANTS = 28
# the time zones tenants are in (hours from UTC); region "eu" (+1) moves back to 0 at 01:00 UTC on day 1
ZONES = (-8.0, -6.0, -5.0, -3.0, 0.0, 1.0, 1.0, 2.0, 5.5, 8.0, 9.0)
DST_DAY = 1
# APIs: name -> (audience, leeway of each replica (s), typ checked)
APIS: dict[str, tuple[str, tuple[int, ...], bool]] = {
    "orders": ("orders-api", (30, 30, 60, 30), True),
    "billing": ("billing-api", (0, 0, 0), True),
    "search": ("search-api", (30, 30, 30, 30), True),
    "reports": ("reports-api", (120, 120), True),
    "profile": ("profile-api", (30, 60, 30), False),
}
TTL = 600.0
KID_COOLDOWN = 60.0
FAIL_COOLDOWN = 10.0
MAX_STALE = 900.0
SHIP_DELAY = 420.0  # a replica's shipper holds batches back up to this long (s)

# fmt: off
_WORK = [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.06, 0.2, 0.55, 0.9, 1.0, 0.95,
         0.8, 0.9, 1.0, 0.95, 0.8, 0.55, 0.3, 0.18, 0.1, 0.06, 0.04, 0.03]
_HOME = [0.2, 0.1, 0.05, 0.03, 0.03, 0.05, 0.15, 0.35, 0.45, 0.4, 0.4, 0.45,
         0.55, 0.5, 0.45, 0.5, 0.6, 0.75, 0.9, 1.0, 1.0, 0.85, 0.6, 0.35]
# fmt: on


def _curve(table: list[float], local_hour: float) -> float:
    h = local_hour % 24.0
    i = int(h)
    f = h - i
    return table[i] * (1 - f) + table[(i + 1) % 24] * f


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Label:
    kind: str
    onset: float
    entity: dict[str, str]
    count: int = 0
    start: float = math.inf
    end: float = -math.inf

    def hit(self, stamped: float) -> None:
        self.count += 1
        self.start = min(self.start, stamped)
        self.end = max(self.end, stamped)


@dataclass(slots=True)
class Token:
    fp: str
    iss: str
    kid: str | None  # as presented (None: stripped by a gateway)
    signer: str  # the key that signed it
    cid: str | None
    sub: str | None
    jti: str | None
    iat: int
    exp: int
    aud: str
    typ: str = "at+jwt"
    alg: str = "EdDSA"
    forged: bool = False
    garbage: bool = False
    label: Label | None = None  # every rejection of this token is this incident's


@dataclass
class Idp:
    """An issuer: its keys as (kid, published from, published until, signs from, signs until)."""

    url: str
    life: int
    keys: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    clock: list[tuple[float, float, float, Label]] = field(default_factory=list)  # (from, to, offset, label)
    jwks_down: list[tuple[float, float, Label | None]] = field(default_factory=list)
    kid_label: dict[str, Label] = field(default_factory=dict)  # rejections naming this kid belong to the label

    def offset(self, t: float) -> tuple[float, Label | None]:
        for a, b, off, lab in self.clock:
            if a <= t < b:
                return off, lab
        return 0.0, None

    def signer(self, t: float) -> str:
        for kid, _pa, _pb, sa, sb in self.keys:
            if sa <= t < sb:
                return kid
        raise ValueError(f"{self.url}: no signing key at {_iso(t)}")

    def published(self, t: float) -> frozenset[str]:
        return frozenset(k for k, pa, pb, _sa, _sb in self.keys if pa <= t < pb)

    def down(self, t: float) -> tuple[bool, Label | None]:
        for a, b, lab in self.jwks_down:
            if a <= t < b:
                return True, lab
        return False, None


@dataclass
class Replica:
    name: str
    api: str
    aud: str
    leeway: int
    typ_check: bool
    clock: list[tuple[float, float, float, Label]] = field(default_factory=list)
    aud_change: list[tuple[float, float, str, Label]] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    booted: float = -math.inf  # the last restart whose cold cache is in place
    cache: dict[str, list[Any]] = field(default_factory=dict)  # issuer -> [kids | None, fetched, last try]
    lines: list[tuple[float, str]] = field(default_factory=list)  # (stamped time, JSON line)

    def offset(self, t: float) -> tuple[float, Label | None]:
        for a, b, off, lab in self.clock:
            if a <= t < b:
                return off, lab
        return 0.0, None

    def audience(self, t: float) -> tuple[str, Label | None]:
        for a, b, aud, lab in self.aud_change:
            if a <= t < b:
                return aud, lab
        return self.aud, None


@dataclass
class Holder:
    """One token holder: a browser tab, a device, a service instance, a gateway's user slot."""

    sub: str = ""
    tok: dict[str, Token] = field(default_factory=dict)  # per audience
    last: float = -math.inf
    clock: list[tuple[float, float, float, Label]] = field(default_factory=list)

    def offset(self, t: float) -> tuple[float, Label | None]:
        for a, b, off, lab in self.clock:
            if a <= t < b:
                return off, lab
        return 0.0, None


@dataclass
class Client:
    cid: str
    iss: str
    apis: tuple[str, ...]
    rate: Callable[[float], float]  # requests per minute at time t
    holders: list[Holder]
    life: int
    style: str  # "tab", "device", "service", "gateway", "oneoff"
    retry3: bool = False
    renew_on_401: bool = True
    strip_kid: bool = False
    bad_aud: list[tuple[float, str, Label]] = field(default_factory=list)  # from t: tokens for this audience
    bad_typ: list[tuple[float, Label]] = field(default_factory=list)  # from t: ID tokens


class World:
    def __init__(self, name: str, seed: int, day: int) -> None:
        self.name = name
        self.seed = seed
        self.day = day
        self.t0 = EPOCH + day * DAY
        self.t1 = self.t0 + DAY
        self.rng = random.Random(seed)
        self.labels: list[Label] = []
        self.n_tok = 0
        self.validations = 0
        self.rejections = 0
        self.replicas: dict[str, list[Replica]] = {}
        for api, (aud, leeways, typ) in APIS.items():
            self.replicas[api] = [Replica(f"{api}-{i + 1}", api, aud, lw, typ) for i, lw in enumerate(leeways)]
        self.idps: dict[str, Idp] = {}
        self.clients: list[Client] = []
        self.bursts: list[tuple[float, float, float, Label]] = []
        self._build()
        for c in self.clients:
            for i, h in enumerate(c.holders):
                h.sub = h.sub or self._fp("sub", f"{c.cid}/{i}")

    # -- the fleet --------------------------------------------------------------------------------------------
    def _fp(self, kind: str, value: str) -> str:
        return "f22b-" + hashlib.blake2b(f"{self.seed}/{kind}/{value}".encode(), digest_size=6).hexdigest()

    def _rotation(self, idp: Idp, prefix: str, period_days: float, phase: float, pre: float) -> None:
        """Keys from three periods before the day to one after; the old key leaves an hour after the switch."""
        period = period_days * DAY
        n0 = math.floor((self.t0 - EPOCH - phase) / period) - 3
        for n in range(n0, n0 + int(DAY / period) + 6):
            sa = EPOCH + phase + n * period
            idp.keys.append((f"{prefix}-k{n + 100}", sa - pre, sa + period + idp.life + 3600, sa, sa + period))

    def _build(self) -> None:
        # fixed per fleet (same on every day), drawn from a fleet seed
        fr = random.Random(22)
        zipf = [1 / (i + 1) ** 1.1 for i in range(N_TENANTS)]
        tot = sum(zipf)
        self.tenants: list[tuple[str, float, float]] = []  # (name, weight, zone)
        for i in range(N_TENANTS):
            name = f"t{i:02d}"
            w = zipf[i] / tot
            zone = fr.choice(ZONES)
            life = fr.choice((900, 1800, 1800, 3600))
            idp = Idp(f"https://{name}.login.fleet22.example", life)
            self._rotation(
                idp,
                name,
                fr.choice((1, 2, 3, 7, 7, 14, 30, 30)),
                fr.uniform(0, 30 * DAY),
                fr.choice((600.0, 3600.0, 6 * 3600.0, 12 * 3600.0)),
            )
            self.idps[idp.url] = idp
            self.tenants.append((name, w, zone))
        sts = Idp(STS, 300)
        self._rotation(sts, "sts", 7, 2.5 * DAY + 5 * 3600, 24 * 3600)
        self.idps[STS] = sts
        cons = Idp(CONSUMER, 1800)
        self._rotation(cons, "id", 14, 9 * DAY + 9 * 3600, 48 * 3600)
        self.idps[CONSUMER] = cons

        def zone_of(zone: float) -> Callable[[float], float]:
            def hours(t: float) -> float:
                z = zone
                if zone == 1.0 and t >= EPOCH + DST_DAY * DAY + 3600:
                    z = 0.0
                return (t - EPOCH) / 3600.0 + z

            return hours

        def weekend(t: float) -> bool:
            return int((t - EPOCH) // DAY) % 7 >= 5

        for name, w, zone in self.tenants:
            iss = f"https://{name}.login.fleet22.example"
            life = self.idps[iss].life
            loc = zone_of(zone)

            def web_rate(t: float, w: float = w, loc: Callable[[float], float] = loc) -> float:
                return 220.0 * w * _curve(_WORK, loc(t)) * (0.2 if weekend(t) else 1.0) + 0.002

            users = [Holder() for _ in range(max(3, int(2500 * w)))]
            self.clients.append(
                Client(f"{name}-web", iss, ("orders", "search", "profile"), web_rate, users, life, "tab")
            )

            def sync_rate(t: float, w: float = w, loc: Callable[[float], float] = loc) -> float:
                return (0.5 + 12.0 * w) * (0.6 + 0.4 * _curve(_WORK, loc(t)))

            n_inst = 1 + int(fr.random() * 3)
            self.clients.append(
                Client(
                    f"{name}-sync",
                    iss,
                    ("orders", "billing", "reports"),
                    sync_rate,
                    [Holder() for _ in range(n_inst)],
                    3600 if life >= 1800 else 1800,
                    "service",
                    retry3=fr.random() < 0.33,
                    renew_on_401=True,
                )
            )
            if int(name[1:]) % 4 == 0:
                start_local = 2.0 + fr.random()

                def etl_rate(t: float, loc: Callable[[float], float] = loc, s: float = start_local) -> float:
                    h = loc(t) % 24.0
                    return 40.0 if s <= h < s + 0.75 else 0.0

                self.clients.append(
                    Client(f"{name}-etl", iss, ("reports", "billing"), etl_rate, [Holder()], 1800, "batch")
                )

        def gw_rate(t: float) -> float:
            hrs = (t - EPOCH) / 3600.0
            s = 0.5 * _curve(_WORK, hrs + 1) + 0.3 * _curve(_WORK, hrs - 5) + 0.2 * _curve(_WORK, hrs + 8)
            return 90.0 * s * (0.3 if weekend(t) else 1.0)

        self.clients.append(
            Client(
                "gw-exchange",
                STS,
                tuple(APIS),
                gw_rate,
                [Holder() for _ in range(1500)],
                300,
                "gateway",
            )
        )

        def release(t: float) -> float:
            x = (t - (self.t0 + 10 * 3600)) / 3600.0
            return 0.0 if x < 0 else 0.75 * (1 - math.exp(-x / 4.0))

        def ios_old(t: float) -> float:
            return 70.0 * _curve(_HOME, (t - EPOCH) / 3600.0 + 1) * (1 - release(t))

        def ios_new(t: float) -> float:
            return 70.0 * _curve(_HOME, (t - EPOCH) / 3600.0 + 1) * release(t)

        def android(t: float) -> float:
            return 45.0 * _curve(_HOME, (t - EPOCH) / 3600.0 - 5)

        devices = [Holder() for _ in range(2500)]
        mob_apis = ("orders", "search", "profile")
        self.clients.append(Client("app-ios-7.3", CONSUMER, mob_apis, ios_old, devices[:1500], 1800, "device"))
        self.clients.append(Client("app-ios-7.4", CONSUMER, mob_apis, ios_new, devices[:1500], 1800, "device"))
        self.clients.append(Client("app-android-7.3", CONSUMER, mob_apis, android, devices[1500:], 1800, "device"))
        legacy_iss = f"https://{self.tenants[1][0]}.login.fleet22.example"
        self.clients.append(
            Client(
                "partner-legacy",
                legacy_iss,
                ("orders",),
                lambda t: 4.0,
                [Holder()],
                self.idps[legacy_iss].life,
                "service",
                strip_kid=True,
            )
        )
        # a long tail of clients seen once
        r = self.rng
        for k in range(int(r.uniform(150, 300))):
            name, _w, _z = r.choice(self.tenants[: N_TENANTS // 2])
            iss = f"https://{name}.login.fleet22.example"
            a = r.uniform(self.t0, self.t1 - 3600)
            b = a + r.uniform(5, 50) * 60
            per_min = r.uniform(0.3, 3.0)

            def once(t: float, a: float = a, b: float = b, pm: float = per_min) -> float:
                return pm if a <= t < b else 0.0

            self.clients.append(
                Client(
                    f"cli-{self._fp('cli', str(k))[5:13]}",
                    iss,
                    (r.choice(tuple(APIS)),),
                    once,
                    [Holder()],
                    self.idps[iss].life,
                    "oneoff",
                    renew_on_401=False,
                )
            )
        # a rollout: one API's replicas restarted one by one, 2 minutes apart
        api = r.choice(tuple(APIS))
        at = self.t0 + r.uniform(9, 17) * 3600
        for i, rep in enumerate(self.replicas[api]):
            rep.restarts.append(at + 120 * i)
        self.rollout = (api, at)

    def tenant_iss(self, i: int) -> str:
        return f"https://{self.tenants[i][0]}.login.fleet22.example"

    def client(self, cid: str) -> Client:
        return next(c for c in self.clients if c.cid == cid)

    def label(self, kind: str, onset: float, **entity: str) -> Label:
        lab = Label(kind, onset, dict(entity))
        self.labels.append(lab)
        return lab

    # -- tokens -----------------------------------------------------------------------------------------------
    def issue(self, c: Client, t: float, aud: str, sub: str) -> Token:
        idp = self.idps[c.iss]
        off, lab = idp.offset(t)
        now = t + off
        self.n_tok += 1
        signer = idp.signer(t)
        tok = Token(
            fp=self._fp("tok", str(self.n_tok)),
            iss=c.iss,
            kid=None if c.strip_kid else signer,
            signer=signer,
            cid=c.cid,
            sub=sub,
            jti=self._fp("jti", str(self.n_tok)),
            iat=int(now),
            exp=int(now) + c.life,
            aud=aud,
            label=lab,
        )
        for at, bad, blab in c.bad_aud:
            if t >= at and aud == APIS["reports"][0]:
                tok.aud = bad
                tok.label = blab
        for at, blab in c.bad_typ:
            if t >= at:
                tok.typ = "JWT"
                tok.aud = c.cid
                tok.label = blab
        return tok

    # -- validation -------------------------------------------------------------------------------------------
    def _keys(self, rep: Replica, iss: str, t: float, kid: str | None) -> tuple[frozenset[str] | None, Label | None]:
        idp = self.idps[iss]
        c = rep.cache.get(iss)
        if c is None:
            c = rep.cache[iss] = [None, -math.inf, -math.inf]
        kids: frozenset[str] | None = c[0]
        fetched: float = c[1]
        due = kids is None or t - fetched > TTL or (kid is not None and kid not in kids)
        cooldown = FAIL_COOLDOWN if kids is None else KID_COOLDOWN if t - fetched <= TTL else FAIL_COOLDOWN
        down_lab: Label | None = None
        if due and t - c[2] >= cooldown:
            c[2] = t
            down, down_lab = idp.down(t)
            cold_fail = kids is None and self.rng.random() < 0.005
            if not down and not cold_fail:
                new = idp.published(t)
                if new != kids:
                    stamped = t + rep.offset(t)[0]
                    added = sorted(new - (kids or frozenset()))
                    removed = sorted((kids or frozenset()) - new)
                    rec = {
                        "schema": 1,
                        "event": "jwks.keyset_changed",
                        "time": _iso(stamped),
                        "issuer": iss,
                        "added": added,
                        "removed": removed,
                        "keys": len(new),
                        "service": rep.name,
                    }
                    rep.lines.append((stamped, json.dumps(rec, separators=(",", ":"))))
                c[0] = kids = new
                c[1] = fetched = t
        if kids is None or t - fetched > TTL + MAX_STALE:
            return None, idp.down(t)[1] or down_lab
        return kids, None

    def validate(self, rep: Replica, tok: Token, t: float, holder: Holder) -> str | None:
        """Validate ``tok`` at true time ``t`` on ``rep``: write the event, return the rejection reason."""
        off, clock_lab = rep.offset(t)
        now = t + off
        reason: Reason | None = None
        detail: str | None = None
        cause: Label | None = tok.label
        if tok.garbage:
            reason, detail = Reason.MALFORMED, "segments"
        elif tok.alg == "none":
            reason, detail = Reason.UNSIGNED, "alg_none"
        elif rep.typ_check and tok.typ != "at+jwt":
            reason, detail = Reason.TYPE_MISMATCH, "type"
        elif tok.iss not in self.idps:
            reason, detail = Reason.ISSUER_MISMATCH, "iss"
        else:
            kids, unavailable = self._keys(rep, tok.iss, t, tok.kid)
            if kids is None:
                reason, detail = Reason.JWKS_UNAVAILABLE, "connection"
                cause = cause or unavailable
            elif (tok.kid if tok.kid is not None else tok.signer) not in kids:
                reason = Reason.UNKNOWN_KID if tok.kid is not None else Reason.BAD_SIGNATURE
                cause = cause or self.idps[tok.iss].kid_label.get(tok.signer)
            elif tok.forged:
                reason, detail = Reason.BAD_SIGNATURE, "signature"
            elif now > tok.exp + rep.leeway:
                reason, detail = Reason.EXPIRED, "exp"
                if clock_lab is not None and t <= tok.exp + rep.leeway:
                    cause = clock_lab
                else:
                    h_off, h_lab = holder.offset(t)
                    if h_lab is not None and h_off < 0:
                        cause = h_lab
            elif now < tok.iat - rep.leeway:
                reason, detail = Reason.NOT_YET_VALID, "nbf"
                if clock_lab is not None and t >= tok.iat - rep.leeway:
                    cause = clock_lab
            else:
                aud, aud_lab = rep.audience(t)
                if tok.aud != aud:
                    reason, detail = Reason.AUDIENCE_MISMATCH, "aud"
                    cause = cause or aud_lab
        self.validations += 1
        ev = {
            "schema": 1,
            "time": _iso(now),
            "outcome": "accepted" if reason is None else "rejected",
            "reason": None if reason is None else str(reason),
            "detail": detail,
            "library": "pyjwt",
            "profile": rep.api,
            "issuer": tok.iss,
            "alg": tok.alg,
            "kid": tok.kid,
            "typ": tok.typ,
            "client_id": tok.cid,
            "token_fp": tok.fp,
            "jti_hash": tok.jti,
            "sub_hash": tok.sub,
            "tenant": None,
            "iat": tok.iat,
            "nbf": tok.iat,
            "exp": tok.exp,
            "token_bytes": 180 if tok.garbage else 640,
            "duration_s": round(0.00018 + self.rng.random() * 0.0002, 6),
            "trace_id": None,
            "span_id": None,
            "service": rep.name,
        }
        rep.lines.append((now, json.dumps(ev, separators=(",", ":"))))
        if reason is None:
            return None
        self.rejections += 1
        if cause is not None:
            cause.hit(now)
        return str(reason)

    def route(self, api: str, t: float) -> Replica:
        """A live replica of ``api`` (a restarting one is out for 20 s and comes back with a cold key cache)."""
        live = []
        for rep in self.replicas[api]:
            down = False
            for r in rep.restarts:
                if r <= t < r + 20:
                    down = True
                elif r + 20 <= t and rep.booted < r:
                    rep.cache.clear()
                    rep.booted = r
            if not down:
                live.append(rep)
        return self.rng.choice(live)

    # -- client behaviour -------------------------------------------------------------------------------------
    def request(self, c: Client, h: Holder, t: float) -> None:
        r = self.rng
        api = r.choice(c.apis)
        aud = APIS[api][0]
        off, _lab = h.offset(t)
        ct = t + off  # the client's own clock
        tok = h.tok.get(aud)
        idle = t - h.last
        h.last = t
        renew = tok is None or ct >= tok.exp - 0.2 * c.life
        if tok is not None and renew and c.style in ("tab", "device") and idle > 120 and ct > tok.exp:
            # a background tab / an app resuming: the stale token goes out first
            if r.random() < 0.35:
                renew = False
        if tok is not None and c.style == "oneoff" and tok.exp <= t < tok.exp + 180 and r.random() < 0.25:
            renew = False  # a pasted token, used on for a while past exp
        if c.style == "oneoff" and tok is not None and t > tok.exp + 180:
            renew = True
        if c.style == "batch":
            renew = tok is None  # a job holds one token and renews only on a 401
        if renew or tok is None:
            tok = h.tok[aud] = self.issue(c, t, aud, h.sub)
        rep = self.route(api, t)
        why = self.validate(rep, tok, t, h)
        if why is None:
            return
        if c.retry3:
            for k in range(3):
                self.validate(self.route(api, t + 0.2 + 0.25 * k), tok, t + 0.2 + 0.25 * k, h)
        if c.renew_on_401 or c.style in ("tab", "device"):
            tok = h.tok[aud] = self.issue(c, t + 1.0, aud, h.sub)
            self.validate(self.route(api, t + 1.2), tok, t + 1.2, h)

    def scanner(self, t: float, lab: Label | None) -> None:
        """A token no client of this fleet sends: garbage, alg none, a forged signature on a real kid."""
        r = self.rng
        self.n_tok += 1
        iss = self.tenant_iss(r.randrange(N_TENANTS))
        x = r.random()
        tok = Token(
            fp=self._fp("scan", str(self.n_tok)),
            iss=iss if x > 0.15 else "https://evil.example",
            kid=self.idps[iss].signer(t) if x > 0.3 else f"k{r.randrange(1000)}",
            signer="?",
            cid=None if r.random() < 0.5 else f"x{r.randrange(10**6)}",
            sub=None,
            jti=None,
            iat=int(t) - 60,
            exp=int(t) + 3600,
            aud=r.choice(tuple(a for a, _l, _t in APIS.values())),
            alg="none" if 0.15 < x < 0.3 else "EdDSA",
            forged=x > 0.3,
            garbage=x < 0.08,
            label=lab,
        )
        self.validate(self.route(r.choice(tuple(APIS)), t), tok, t, Holder())

    def run(self) -> None:
        reqs: list[tuple[float, int, int]] = []
        r = self.rng
        for ci, c in enumerate(self.clients):
            for m in range(1440):
                tm = self.t0 + 60 * m
                lam = c.rate(tm + 30)
                if lam <= 0:
                    continue
                n = _poisson(r, lam)
                nh = len(c.holders)
                # people come in sessions: in each half hour an eighth of a client's users is active
                active = max(1, nh // 8) if c.style in ("tab", "device", "gateway") else nh
                first = ((m // 30) * 7919 + ci * 104729) % nh
                for _ in range(n):
                    reqs.append((tm + 60 * r.random(), ci, (first + r.randrange(active)) % nh))
        for m in range(1440):
            if r.random() < 0.35:
                reqs.append((self.t0 + 60 * m + 60 * r.random(), -1, 0))
        for a, b, rate, _lab in self.bursts:
            t = a
            for _ in range(int((b - a) * rate) + 1):
                t += r.expovariate(rate)
                if t >= b:
                    break
                reqs.append((t, -2 - self.bursts.index((a, b, rate, _lab)), 0))
        reqs.sort()
        for t, ci, hi in reqs:
            if ci == -1:
                self.scanner(t, None)
            elif ci <= -2:
                self.scanner(t, self.bursts[-2 - ci][3])
            else:
                c = self.clients[ci]
                self.request(c, c.holders[hi], t)

    def write(self, out: Path, quiet: bool, cpu: float) -> dict[str, Any]:
        ev_dir = out / "events"
        ev_dir.mkdir(parents=True, exist_ok=True)
        for old in ev_dir.glob("*.jsonl"):
            old.unlink()
        r = random.Random(self.seed + 1)
        for reps in self.replicas.values():
            for rep in reps:
                # shipped in batches of a minute, each held back 0..SHIP_DELAY s: the file is in shipping order
                delay: dict[int, float] = {}
                keyed = []
                for stamped, line in sorted(rep.lines, key=lambda x: x[0]):
                    b = int(stamped // 60)
                    if b not in delay:
                        delay[b] = r.uniform(0, SHIP_DELAY) if r.random() < 0.3 else r.uniform(0, 20)
                    keyed.append((stamped + delay[b], line))
                keyed.sort(key=lambda x: x[0])
                (ev_dir / f"{rep.name}.jsonl").write_text("".join(line + "\n" for _s, line in keyed))
        incidents = []
        for i, lab in enumerate(self.labels):
            d: dict[str, Any] = {"id": i, "kind": lab.kind, **lab.entity, "onset": _iso(lab.onset)}
            d["entity"] = next(iter(lab.entity), "fleet")
            d["count"] = lab.count
            d["start"] = _iso(lab.start) if lab.count else _iso(lab.onset)
            d["end"] = _iso(lab.end) if lab.count else _iso(lab.onset)
            incidents.append(d)
        meta = {
            "seed": self.seed,
            "timeline": self.name,
            "quiet": quiet,
            "validations": self.validations,
            "rejections": self.rejections,
            "rollout": [self.rollout[0], _iso(self.rollout[1])],
            "cpu_s": round(cpu, 1),
            "incidents": incidents,
        }
        (out / "labels.json").write_text(json.dumps(meta, indent=1))
        return meta


def _poisson(r: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal above 30)."""
    if lam > 30:
        return max(0, round(r.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k = 0
    p = r.random()
    while p > limit and k < 200:
        k += 1
        p *= r.random()
    return k


# -- the incidents ---------------------------------------------------------------------------------------------
H = 3600.0


def _server_ahead(w: World) -> None:
    """Two of billing's three replicas share a node whose clock jumps 6 min ahead at 14:10 for 75 min (NTP
    stepped by a bad source); every client renews its token on a 401."""
    lab = w.label(SERVER_SKEW, w.t0 + 14 * H + 600, profile="billing")
    for rep in w.replicas["billing"][:2]:
        rep.clock.append((w.t0 + 14 * H + 600, w.t0 + 15 * H + 1500, 360.0, lab))
    w.bursts.append((w.t0 + 3 * H + 1200, w.t0 + 3 * H + 1680, 0.9, w.label(ATTACK, w.t0 + 3 * H + 1200)))


def _orders_behind(w: World) -> None:
    """Replica orders-3 (leeway 60 s) restarts on a node whose clock is 4 min behind from 11:00 to 12:30: fresh
    tokens look issued in the future; the gateway and the apps renew on the 401 and get another fresh one."""
    rep = w.replicas["orders"][2]
    lab = w.label(SERVER_SKEW, w.t0 + 11 * H, profile="orders")
    rep.clock.append((w.t0 + 11 * H, w.t0 + 12.5 * H, -240.0, lab))


def _idp_clock(w: World) -> None:
    """Tenant t03's IdP clock runs 5 min ahead from 09:15 to 10:05: its tokens' iat/nbf are in the future at every
    API (every leeway is under 5 min); its clients renew on the 401 and get another such token. Also tenant t06
    removes its old key at the switch instead of an hour after it."""
    idp = w.idps[w.tenant_iss(3)]
    lab = w.label(SERVER_SKEW, w.t0 + 9.25 * H, issuer=idp.url)
    idp.clock.append((w.t0 + 9.25 * H, w.t0 + 10 * H + 300, 300.0, lab))
    _remove_early(w, 6, 13 * H)


def _remove_early(w: World, tenant: int, when: float) -> None:
    idp = w.idps[w.tenant_iss(tenant)]
    at = w.t0 + when
    old = idp.signer(at - 1)
    i = next(k for k, key in enumerate(idp.keys) if key[0] == old)
    kid, pa, _pb, sa, _sb = idp.keys[i]
    idp.keys[i] = (kid, pa, at + 120, sa, at)
    nxt = idp.keys[i + 1]
    idp.keys[i + 1] = (nxt[0], min(nxt[1], at - 3600), nxt[2], at, nxt[4])
    idp.kid_label[kid] = w.label(REMOVED, at + 120, kid=kid)


def _client_skew(w: World) -> None:
    """One instance of t05-sync loses NTP at 09:40 and falls 20 min behind (it renews when its own clock says its
    token expires, and keeps retrying on 401s without renewing); t02-sync deploys a config that asks its reports
    tokens for the wrong audience at 13:05."""
    c = w.client("t05-sync")
    c.renew_on_401 = False
    c.retry3 = False
    lab = w.label(CLIENT_SKEW, w.t0 + 9 * H + 2400, client_id=c.cid)
    c.holders[0].clock.append((w.t0 + 9 * H + 2400, w.t1, -1200.0, lab))
    c2 = w.client("t02-sync")
    c2.bad_aud.append((w.t0 + 13 * H + 300, "report-api", w.label(AUDIENCE, w.t0 + 13 * H + 300, client_id=c2.cid)))


def _search_canary(w: World) -> None:
    """search's rolling deploy at 10:30 ships a wrong audience, one replica every 3 minutes, rolled back at 11:02;
    tenant t02's key set endpoint answers 500 from 15:00 to 15:50."""
    lab = w.label(AUDIENCE, w.t0 + 10.5 * H, profile="search")
    for i, rep in enumerate(w.replicas["search"]):
        rep.aud_change.append((w.t0 + 10.5 * H + 180 * i, w.t0 + 11 * H + 120, "search-api-v2", lab))
    _outage(w, 2, 15 * H, 50 * 60)


def _outage(w: World, tenant: int, when: float, dur: float) -> None:
    idp = w.idps[w.tenant_iss(tenant)]
    idp.jwks_down.append((w.t0 + when, w.t0 + when + dur, w.label(OUTAGE, w.t0 + when, issuer=idp.url)))


def _publish_late(w: World) -> None:
    """Tenant t01's IdP switches to its new key at 08:00 but publishes it only at 08:25; t08-web's frontend
    release at 16:00 sends ID tokens to the APIs."""
    idp = w.idps[w.tenant_iss(1)]
    at = w.t0 + 8 * H
    i = next(k for k, key in enumerate(idp.keys) if key[3] <= at - 1 < key[4])
    kid, pa, pb, sa, _sb = idp.keys[i]
    idp.keys[i] = (kid, pa, max(pb, at + 4 * H), sa, at)
    nxt = idp.keys[i + 1]
    idp.keys[i + 1] = (nxt[0], at + 1500, nxt[2], at, nxt[4])
    idp.kid_label[nxt[0]] = w.label(BEFORE, at, kid=nxt[0])
    c = w.client("t08-web")
    c.bad_typ.append((w.t0 + 16 * H, w.label(TYPE, w.t0 + 16 * H, client_id=c.cid)))


def _weekend(w: World) -> None:
    """Saturday: an attack at 22:10 (8 min, about 50 tokens a minute) and tenant t00 removing its old key early."""
    w.bursts.append((w.t0 + 22 * H + 600, w.t0 + 22 * H + 1080, 0.8, w.label(ATTACK, w.t0 + 22 * H + 600)))
    _remove_early(w, 0, 11 * H)


def _quiet(w: World) -> None:
    """Nothing injected."""


@dataclass(frozen=True)
class Case:
    name: str
    day: int
    seed: int
    inject: Callable[[World], None]


def suite() -> list[Case]:
    quiet = [("q-mon", 0), ("q-tue-dst", 1), ("q-wed", 2), ("q-thu", 3), ("q-sat", 5), ("q-sun", 6)]
    return [
        *(Case(n, d, 22000 + d, _quiet) for n, d in quiet),
        Case("i-server-ahead", 7, 22101, _server_ahead),
        Case("i-idp-clock", 8, 22102, _idp_clock),
        Case("i-client-skew", 9, 22103, _client_skew),
        Case("i-search-canary", 10, 22104, _search_canary),
        Case("i-publish-late", 11, 22105, _publish_late),
        Case("i-weekend", 12, 22106, _weekend),
        Case("i-orders-behind", 14, 22107, _orders_behind),
    ]


def generate(case: Case, out: Path) -> dict[str, Any]:
    c0 = time.process_time()
    w = World(case.name, case.seed, case.day)
    case.inject(w)
    w.run()
    return w.write(out, case.inject is _quiet, time.process_time() - c0)


def _generate_named(name: str, out: Path) -> dict[str, Any]:
    return generate(next(c for c in suite() if c.name == name), out)


# -- scoring ---------------------------------------------------------------------------------------------------
def score(out: Path) -> dict[str, Any]:
    import pandas as pd

    from jwtobs.analysis import incidents, load_events, load_keyset_changes
    from jwtobs.analysis.evaluate import load_labels

    ev = load_events(out / "events")
    det = incidents(ev, load_keyset_changes(out / "events"))
    lab = load_labels(out / "labels.json")
    slack = pd.Timedelta(seconds=120)
    used: set[int] = set()
    true: set[int] = set()
    rows = []
    for _, lb in lab.iterrows():
        cand = det[
            (det["kind"] == lb["kind"]) & (det["start"] <= lb["end"] + slack) & (det["end"] >= lb["start"] - slack)
        ]
        for col in ("client_id", "profile", "issuer", "kid"):
            want = lb.get(col)
            if isinstance(want, str):
                cand = cand[cand[col].astype("object") == want]
        true |= {int(k) for k in cand.index}
        free = [int(k) for k in cand.index if int(k) not in used]
        onset = None
        if free:
            used.add(free[0])
            onset = abs((cand.loc[free[0], "start"] - lb["start"]).total_seconds())
        rows.append({"kind": lb["kind"], "found": bool(free), "onset": onset})
    meta = json.loads((out / "labels.json").read_text())
    detected = [
        {
            "kind": d.kind,
            "start": str(d.start),
            "end": str(d.end),
            "client_id": d.client_id,
            "profile": d.profile,
            "issuer": d.issuer,
            "kid": d.kid,
            "count": int(d["count"]),
            "true": int(k) in true,
        }
        for k, d in det.iterrows()
    ]
    return {
        "timeline": meta["timeline"],
        "quiet": meta["quiet"],
        "events": len(ev),
        "labels": rows,
        "detected": detected,
    }


def score_all(out: str, names: list[str]) -> int:
    """:func:`score` and :func:`report` over the timelines ``names`` under ``out`` that have labels: what the blind
    generators' ``--score`` / ``--score-only`` run (fleet38, fleet40, fleet42; a detection matches a label of its
    kind and entity overlapping it +-120 s; on a quiet day every detection is a false one)."""
    report([score(Path(out) / n) for n in names if (Path(out) / n / "labels.json").exists()])
    return 0


def report(rows: list[dict[str, Any]]) -> None:
    """Print each timeline's labels (found, onset error) and detections (true or false), then :func:`summary`."""
    for s in rows:
        found = [(lb["kind"], lb["found"], lb["onset"] and round(lb["onset"])) for lb in s["labels"]]
        print(f"{s['timeline']}: {s['events']} events, labels {found}", flush=True)
        for d in s["detected"]:
            print(
                f"    {'TRUE ' if d['true'] else 'false'} {d['kind']:18} {d['start'][:19]} .. {d['end'][11:19]} "
                f"n={d['count']} client={d['client_id']} profile={d['profile']} issuer={d['issuer']} kid={d['kid']}"
            )
    print(summary(rows))


def summary(rows: list[dict[str, Any]]) -> str:
    """Per kind: false detections per quiet day, recall, precision (incident days), worst onset."""
    quiet = [r for r in rows if r["quiet"]]
    inc = [r for r in rows if not r["quiet"]]
    kinds = sorted({d["kind"] for r in rows for d in r["detected"]} | {lb["kind"] for r in inc for lb in r["labels"]})
    out = [f"{'kind':20} {'false/quiet day':>15} {'recall':>9} {'precision':>10} {'onset max':>9}"]
    for k in kinds:
        fq = sum(1 for r in quiet for d in r["detected"] if d["kind"] == k)
        lab = [lb for r in inc for lb in r["labels"] if lb["kind"] == k]
        found = [lb for lb in lab if lb["found"]]
        det = [d for r in inc for d in r["detected"] if d["kind"] == k]
        tp = [d for d in det if d["true"]]
        on = max((lb["onset"] for lb in found), default=None)
        out.append(
            f"{k:20} {fq / max(1, len(quiet)):15.2f} {len(found):4}/{len(lab):<4} {len(tp):5}/{len(det):<4}"
            f" {'-' if on is None else round(on):>9}"
        )
    fq = sum(len(r["detected"]) for r in quiet)
    lab_all = [lb for r in inc for lb in r["labels"]]
    det_all = [d for r in inc for d in r["detected"]]
    out.append(
        f"all: quiet days {len(quiet)}, false {fq} ({fq / max(1, len(quiet)):.2f} a day); incident days {len(inc)}: "
        f"recall {sum(lb['found'] for lb in lab_all)}/{len(lab_all)}, "
        f"precision {sum(d['true'] for d in det_all)}/{len(det_all)}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/fleet22"), help="root directory: <out>/<timeline>/")
    ap.add_argument("--only", help="comma-separated timeline names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the timelines and exit")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    ap.add_argument("--no-score", action="store_true", help="generate only")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    ap.add_argument("--jobs", type=int, default=1, help="timelines generated and scored in parallel (default 1)")
    a = ap.parse_args(argv)
    cases = suite()
    if a.list:
        for c in cases:
            print(f"{c.name:18} day {c.day:2} seed {c.seed} {(c.inject.__doc__ or '').split(chr(10))[0]}")
        return 0
    if a.only:
        want = set(a.only.split(","))
        unknown = want - {c.name for c in cases}
        if unknown:
            print(f"fleet22: unknown timeline(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.name in want]
    t0 = time.time()
    if not a.score_only:
        with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
            metas = list(pool.map(_generate_named, [c.name for c in cases], [a.out / c.name for c in cases]))
        for c, m in zip(cases, metas, strict=True):
            print(
                f"{c.name}: {m['validations']} validations, {m['rejections']} rejected, rollout {m['rollout']}, "
                f"labels {[(d['kind'], d['count']) for d in m['incidents']]}, {m['cpu_s']} s CPU",
                flush=True,
            )
        print(f"generated in {time.time() - t0:.1f} s wall", flush=True)
    if a.no_score:
        return 0
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        rows = list(pool.map(score, [a.out / c.name for c in cases]))
    report(rows)
    print(f"total {time.time() - t0:.1f} s wall")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
