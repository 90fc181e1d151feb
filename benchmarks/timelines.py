"""Independent timelines for the detector benchmark: validation events of a fleet, written without
``jwtobs.simulate`` (so the detectors are not judged only on the simulator they were developed with).

The generator models what the two validator paths do, request by request, and writes the events in the
contract's schema (docs/contract.md):

* ``wrap``: ``jwtobs.wrap`` around ``PyJWKClient`` + ``jwt.decode`` (leeway 0, ``typ`` not checked, the JWK
  set cached 300 s per replica and refetched on an unknown kid, a failed fetch is ``JWT_JWKS_UNAVAILABLE``);
* ``verifier``: ``jwtobs.Verifier`` + ``JwksSource`` (leeway 30 s, ``typ`` must be ``at+jwt``, a failed
  refresh serves the stale key set for 10 min, then ``JWT_JWKS_UNAVAILABLE``).

Background in every timeline (the realistic noise): diurnal traffic; 30-60 clients with 1-3 devices each,
every device with its own clock (a few seconds off, some up to 25 s); token lifetimes of 15 min to 2 h;
1-2 % of requests presenting an expired token (lateness log-uniform from a minute to 12 h; old kids of
retired keys become unknown-kid rejections); retries that cross ``exp`` by seconds; worker pools restarting
and replaying a cached token; internet scanners (1-3 garbage tokens/min: default ``typ``, random kids, alg
none, no or random client id); healthy rotations (publish, switch after 10-60 min, retire after the longest
lifetime); single JWKS fetch blips; tokens corrupted in transit; 2-3 replicas with their own caches.

Injected incidents are labelled with the span (first and last failure) and count of the rejections they
caused, as :func:`jwtobs.analysis.evaluate.load_labels` reads them.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Timeline", "Injected", "generate", "write"]

T0 = 1_796_000_000.0  # 2026-11-30T00:53:20Z


@dataclass(frozen=True)
class Injected:
    kind: str
    at: float  # seconds from the start
    duration: float = 1200.0
    skew: float = 900.0  # clock_skew: seconds behind; drift: the offset reached at the end
    drift: bool = False
    scope: str = "api"  # audience_misconfig: "api" or "client"
    rate: float = 2.0  # attack_burst: tokens per second


@dataclass(frozen=True)
class Timeline:
    seed: int
    hours: float = 24.0
    path: str = "wrap"  # or "verifier"
    replicas: int = 2
    clients: int = 40
    apis: int = 4
    issuers: int = 2
    interval: float = 60.0  # mean seconds between one device's requests (at the daily peak)
    expired_share: float = 0.015
    scanner_rate: float = 2.0  # per minute
    restarts_per_client_day: float = 2.0
    injected: tuple[Injected, ...] = field(default_factory=tuple)


@dataclass
class _Label:
    kind: str
    issuer: str | None = None
    kid: str | None = None
    client_id: str | None = None
    profile: str | None = None
    start: float | None = None
    end: float | None = None
    count: int = 0

    def hit(self, t: float) -> None:
        self.start = t if self.start is None else self.start
        self.end = t
        self.count += 1


@dataclass
class _Tok:
    fp: str
    iss: str
    kid: str
    exp: float
    iat: float
    typ: str = "at+jwt"
    aud_ok: bool = True
    label: int | None = None  # a wrong-audience token of an injected incident


class _Issuer:
    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        self.serial = 0
        self.published: dict[str, bool] = {}  # kid -> material is right (False: swapped)
        self.signing = self.new_kid()
        self.published[self.signing] = True
        self.down: int | None = None
        self.unpublished: dict[str, int] = {}  # kid -> label
        self.removed_early: dict[str, int] = {}
        self.swapped: dict[str, int] = {}
        self.blip_until = -1.0

    def new_kid(self) -> str:
        self.serial += 1
        return f"{self.name[8:12]}-{self.serial}-{self.rng.getrandbits(20):05x}"


class _Gen:
    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.rng = random.Random(tl.seed * 7919 + 13)
        rng = self.rng
        self.t = T0
        self.end = T0 + tl.hours * 3600
        self.ev: list[dict[str, Any]] = []
        self.labels: list[_Label] = []
        self.changes: list[dict[str, Any]] = []
        self.q: list[tuple[float, int, str, Any]] = []
        self.seq = 0
        self.issuers = [_Issuer(f"https://id{i}.example.test", rng) for i in range(tl.issuers)]
        self.apis = [f"api-{n}" for n in ("orders", "billing", "search", "profile", "ledger", "media")[: tl.apis]]
        self.api_bad: dict[str, int] = {}
        self.leeway = 0.0 if tl.path == "wrap" else 30.0
        self.ttl = 300.0
        # replica -> issuer -> (fetched_at, keys or None, last_miss_fetch)
        self.cache: list[dict[str, list[Any]]] = [{} for _ in range(tl.replicas)]
        self.clients: list[dict[str, Any]] = []
        for c in range(tl.clients):
            iss = self.issuers[c % len(self.issuers)]
            devs = []
            for _ in range(rng.choice((1, 1, 2, 3))):
                off = rng.gauss(0, 3) if rng.random() < 0.9 else rng.uniform(-25, 25)
                devs.append({"off": off, "tok": None, "prev": None})
            self.clients.append(
                {
                    "id": f"svc-{c:02d}-{rng.getrandbits(16):04x}",
                    "iss": iss,
                    "apis": rng.sample(self.apis, k=rng.choice((1, 1, 2, 3))),
                    "life": rng.choice((900.0, 1800.0, 3600.0, 3600.0, 3600.0, 7200.0)),
                    "margin": rng.choice((30.0, 60.0, 60.0, 120.0)),
                    "devs": devs,
                    "skew": None,  # (label, t_start, t_end, S, drift)
                    "idtok": None,
                    "wrongaud": None,
                    "weight": rng.lognormvariate(0, 0.6),
                }
            )
        self.max_life = max(c["life"] for c in self.clients)

    # scheduling
    def at(self, t: float, what: str, arg: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.q, (t, self.seq, what, arg))

    def fp(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def diurnal(self, t: float) -> float:
        hour = ((t - T0) / 3600.0 + 6.0) % 24.0  # the timeline starts at 06:00 local
        return 0.35 + 0.65 * math.sin(math.pi * max(0.0, min(1.0, (hour - 5.0) / 16.0))) ** 2

    def keyset(self, iss: _Issuer, added: list[str], removed: list[str]) -> None:
        self.changes.append(
            {
                "event": "jwks.keyset_changed",
                "time": _iso(self.t),
                "issuer": iss.name,
                "added": added,
                "removed": removed,
                "keys": len(iss.published),
                "service": "jwks",
            }
        )

    # the validator
    def keys(self, r: int, iss: _Issuer, kid: str | None) -> tuple[dict[str, bool] | None, str | None]:
        """The replica's view of the key set, refreshing like PyJWKClient / JwksSource; (keys, failure)."""
        entry = self.cache[r].setdefault(iss.name, [-1e18, None, -1e18])
        now = self.t
        need = entry[1] is None or now - entry[0] >= self.ttl
        miss = entry[1] is not None and kid is not None and kid not in entry[1] and now - entry[2] >= 5.0
        if miss:
            entry[2] = now
        if need or miss:
            if iss.down is not None or now < iss.blip_until:
                if self.tl.path == "verifier" and entry[1] is not None and now - entry[0] < self.ttl + 600:
                    return entry[1], None  # stale served
                return None, "JWT_JWKS_UNAVAILABLE"
            entry[0] = now
            entry[1] = dict(iss.published)
        return entry[1], None

    def validate(
        self, r: int, tok: _Tok | None, profile: str, client: str | None, **kw: Any
    ) -> tuple[str | None, int | None]:
        """(reason or None, label of the incident that caused it)."""
        now = self.t
        if tok is None:
            return kw["reason"], kw.get("label")
        iss = next(i for i in self.issuers if i.name == tok.iss)
        if self.tl.path == "verifier" and tok.typ != "at+jwt":
            return "JWT_TYPE_MISMATCH", tok.label
        keys, fail = self.keys(r, iss, tok.kid)
        if fail is not None:
            return fail, iss.down
        assert keys is not None
        if tok.kid not in keys:
            lab = iss.unpublished.get(tok.kid, iss.removed_early.get(tok.kid))
            return "JWT_UNKNOWN_KID", lab if tok.exp > now else None
        if not keys[tok.kid]:
            return "JWT_BAD_SIGNATURE", iss.swapped.get(tok.kid)
        if now >= tok.exp + self.leeway:
            return "JWT_EXPIRED", None
        if profile in self.api_bad:
            return "JWT_AUDIENCE_MISMATCH", self.api_bad[profile]
        if not tok.aud_ok:
            return "JWT_AUDIENCE_MISMATCH", tok.label
        return None, None

    def emit(self, r: int, tok: _Tok | None, profile: str, client: str | None, reason: str | None, **kw: Any) -> None:
        self.ev.append(
            {
                "schema": 1,
                "time": self.t,
                "outcome": "rejected" if reason else "accepted",
                "reason": reason,
                "detail": None,
                "library": "pyjwt" if self.tl.path == "wrap" else "jwtobs",
                "profile": profile,
                "issuer": tok.iss if tok else kw.get("iss"),
                "alg": kw.get("alg", "RS256"),
                "kid": tok.kid if tok else kw.get("kid"),
                "typ": tok.typ if tok else kw.get("typ", "JWT"),
                "client_id": client,
                "token_fp": tok.fp if tok else self.fp(),
                "jti_hash": None,
                "sub_hash": None,
                "tenant": None,
                "iat": int(tok.iat) if tok else None,
                "nbf": int(tok.iat) if tok else None,
                "exp": int(tok.exp) if tok else kw.get("exp"),
                "token_bytes": 900,
                "duration_s": 0.0004,
                "trace_id": None,
                "span_id": None,
                "service": f"api-replica-{r}",
            }
        )

    def request(
        self, c: dict[str, Any], dev: dict[str, Any], kind: str = "normal", arg_tok: _Tok | None = None
    ) -> None:
        rng = self.rng
        now = self.t
        iss: _Issuer = c["iss"]
        profile = rng.choice(c["apis"])
        r = rng.randrange(self.tl.replicas)
        skew = 0.0
        if c["skew"] is not None:
            _lab, ts, te, s, drift = c["skew"]
            skew = s * (now - ts) / (te - ts) if drift else s
        clock = now + dev["off"] - skew
        if c["idtok"] is not None:
            tok = _Tok(self.fp(), iss.name, iss.signing, now + 600, now, typ="JWT", aud_ok=False, label=c["idtok"])
        elif kind == "stale":
            lat = math.exp(rng.uniform(math.log(60), math.log(12 * 3600)))
            exp = now - lat
            kid = self.kid_at(iss, exp - c["life"])
            tok = _Tok(self.fp(), iss.name, kid, exp, exp - c["life"])
        elif kind in ("replay", "retry"):
            tok = dev["prev"] if kind == "replay" else arg_tok
            if tok is None:
                return
        else:
            tok = dev["tok"]
            if tok is None or clock >= tok.exp - c["margin"]:
                new = self.renew(c, dev)
                if new is None and tok is None:
                    return  # no token to call with
                if new is not None:
                    dev["prev"], dev["tok"], tok = tok, new, new
        reason, cause = self.validate(r, tok, profile, c["id"])
        if reason == "JWT_EXPIRED" and c["skew"] is not None and kind == "normal" and now > tok.exp + self.leeway:
            cause = c["skew"][0]
        if reason is not None and cause is not None:
            self.labels[cause].hit(now)
        self.emit(r, tok, profile, c["id"], reason)

    def renew(self, c: dict[str, Any], dev: dict[str, Any]) -> _Tok | None:
        """The token the issuer mints for device ``dev`` of client ``c`` now (None: it mints none; the device
        goes on with the token it holds, if any)."""
        iss: _Issuer = c["iss"]
        wrong = c["wrongaud"]
        return _Tok(self.fp(), iss.name, iss.signing, self.t + c["life"], self.t, aud_ok=wrong is None, label=wrong)

    def kid_at(self, iss: _Issuer, t: float) -> str:
        for when, kid in reversed(self.sign_hist[iss.name]):
            if when <= t:
                return kid
        return self.sign_hist[iss.name][0][1]

    def scanner(self, label: int | None = None) -> None:
        rng = self.rng
        r = rng.randrange(self.tl.replicas)
        profile = rng.choice(self.apis)
        iss = rng.choice(self.issuers)
        client = None if rng.random() < 0.7 else f"x{rng.getrandbits(32):08x}"
        k = rng.randrange(6)
        if k == 0:
            reason, kw = "JWT_UNSIGNED", {"alg": "none", "kid": None}
        elif k == 1:
            reason, kw = "JWT_MALFORMED", {"alg": None, "kid": None, "typ": None}
        elif k == 2:
            reason = "JWT_FORBIDDEN_HEADER" if self.tl.path == "verifier" else "JWT_UNKNOWN_KID"
            kw = {"kid": f"{rng.getrandbits(48):012x}"}
        elif k == 3:
            reason, kw = "JWT_BAD_SIGNATURE", {"kid": iss.signing}
        elif k == 4:
            reason, kw = "JWT_ALG_NOT_ALLOWED", {"alg": "HS256", "kid": iss.signing}
        else:
            reason, kw = "JWT_UNKNOWN_KID", {"kid": f"{rng.getrandbits(40):x}"}
        if self.tl.path == "verifier" and k in (2, 3, 5) and rng.random() < 0.5:
            reason = "JWT_TYPE_MISMATCH"  # default typ JWT, checked first
        if label is not None:
            self.labels[label].hit(self.t)
        self.emit(r, None, profile, client, reason, iss=iss.name, exp=int(self.t) + 3600, **kw)

    # world events
    def rotate(self, iss: _Issuer) -> None:
        kid = iss.new_kid()
        iss.published[kid] = True
        self.keyset(iss, [kid], [])
        self.at(self.t + self.rng.uniform(600, 3600), "switch", (iss, kid))
        self.at(self.t + self.rng.uniform(6, 12) * 3600, "rotate", iss)

    def switch(self, iss: _Issuer, kid: str) -> None:
        old = iss.signing
        iss.signing = kid
        self.sign_hist[iss.name].append((self.t, kid))
        self.at(self.t + self.max_life + self.rng.uniform(600, 3600), "retire", (iss, old))

    def retire(self, iss: _Issuer, kid: str) -> None:
        if kid in iss.published and kid != iss.signing:
            del iss.published[kid]
            self.keyset(iss, [], [kid])

    def inject(self, inj: Injected) -> None:
        rng = self.rng
        lab = _Label(inj.kind)
        li = len(self.labels)
        self.labels.append(lab)
        end = self.t + inj.duration
        if inj.kind in ("kid_before_publish", "key_removed_early", "jwks_outage", "signature_spike"):
            iss = rng.choice(self.issuers)
            lab.issuer = iss.name
            if inj.kind == "kid_before_publish":
                kid = iss.new_kid()
                lab.kid = kid
                iss.unpublished[kid] = li
                old = iss.signing
                iss.signing = kid
                self.sign_hist[iss.name].append((self.t, kid))
                self.at(end, "publish", (iss, kid))
                self.at(end + self.max_life + 1800, "retire", (iss, old))
            elif inj.kind == "key_removed_early":
                old = iss.signing
                lab.kid = old
                kid = iss.new_kid()
                iss.published[kid] = True
                iss.signing = kid
                self.sign_hist[iss.name].append((self.t, kid))
                del iss.published[old]
                iss.removed_early[old] = li
                self.keyset(iss, [kid], [old])
            elif inj.kind == "jwks_outage":
                iss.down = li
                self.at(end, "restore", iss)
            else:
                kid = iss.signing
                lab.kid = kid
                iss.published[kid] = False
                iss.swapped[kid] = li
                self.keyset(iss, [], [])
                self.at(end, "unswap", (iss, kid))
        elif inj.kind == "clock_skew":
            c = rng.choice(self.clients)
            lab.client_id, lab.issuer = c["id"], c["iss"].name
            c["skew"] = (li, self.t, end, inj.skew, inj.drift)
            self.at(end, "unskew", c)
        elif inj.kind == "type_confusion":
            c = rng.choice(self.clients)
            lab.client_id, lab.issuer = c["id"], c["iss"].name
            c["idtok"] = li
            self.at(end, "no_idtok", c)
        elif inj.kind == "audience_misconfig":
            if inj.scope == "api":
                busy = [a for a in self.apis if sum(a in c["apis"] for c in self.clients) >= 3] or self.apis
                api = rng.choice(busy)
                lab.profile = api
                self.api_bad[api] = li
                self.at(end, "fix_api", api)
            else:
                c = rng.choice(self.clients)
                lab.client_id = c["id"]
                c["wrongaud"] = li
                for d in c["devs"]:
                    d["tok"] = None  # the new deploy requests new tokens
                self.at(end, "fix_client", c)
        elif inj.kind == "attack_burst":
            t = self.t
            while t < end:
                self.at(t, "attack", li)
                t += rng.expovariate(inj.rate)
        else:
            raise ValueError(inj.kind)

    def run(self) -> None:
        tl, rng = self.tl, self.rng
        self.sign_hist: dict[str, list[tuple[float, str]]] = {i.name: [(T0 - 86400, i.signing)] for i in self.issuers}
        for iss in self.issuers:
            self.keyset(iss, [iss.signing], [])
            self.at(T0 + rng.uniform(1, 8) * 3600, "rotate", iss)
            t = T0
            while True:
                t += rng.expovariate(1 / (8 * 3600))
                if t >= self.end:
                    break
                self.at(t, "blip", iss)
        for c in self.clients:
            for d in c["devs"]:
                self.at(T0 + rng.uniform(0, tl.interval), "req", (c, d))
            t = T0
            while True:
                t += rng.expovariate(tl.restarts_per_client_day / 86400)
                if t >= self.end:
                    break
                self.at(t, "restart", c)
        t = T0
        while True:
            t += rng.expovariate(tl.scanner_rate / 60)
            if t >= self.end:
                break
            self.at(t, "scan", None)
        for inj in tl.injected:
            self.at(T0 + inj.at, "inject", inj)
        while self.q:
            t, _, what, arg = heapq.heappop(self.q)
            if t >= self.end:
                break
            self.t = t
            if what == "req":
                c, d = arg
                kind = "stale" if rng.random() < tl.expired_share * 0.8 else "normal"
                if kind == "normal" and rng.random() < tl.expired_share * 0.2 and d["tok"] is not None:
                    # a retry crossing exp by seconds: the same token, queued past its expiry (+ leeway)
                    when = d["tok"].exp + self.leeway + rng.uniform(0.5, 20)
                    if t < when < t + 900:
                        self.at(when, "retry", (c, d, d["tok"]))
                self.request(c, d, kind)
                gap = rng.expovariate(c["weight"] * self.diurnal(t) / tl.interval)
                self.at(t + gap, "req", arg)
            elif what == "retry":
                self.request(arg[0], arg[1], "retry", arg[2])
            elif what == "restart":
                d = rng.choice(arg["devs"])
                if d["tok"] is not None:
                    for _ in range(rng.randrange(3, 11)):
                        self.t = t + rng.uniform(0, 20)
                        self.request(arg, d, "replay")
                    self.t = t
                    d["prev"], d["tok"] = None, None
            elif what == "scan":
                self.scanner()
            elif what == "attack":
                self.scanner(arg)
            elif what == "inject":
                self.inject(arg)
            elif what == "rotate":
                self.rotate(arg)
            elif what == "switch":
                self.switch(*arg)
            elif what == "retire":
                self.retire(*arg)
            elif what == "publish":
                iss, kid = arg
                iss.published[kid] = True
                iss.unpublished.pop(kid, None)
                self.keyset(iss, [kid], [])
            elif what == "restore":
                arg.down = None
            elif what == "unswap":
                iss, kid = arg
                iss.published[kid] = True
                iss.swapped.pop(kid, None)
                self.keyset(iss, [], [])
            elif what == "unskew":
                arg["skew"] = None
            elif what == "no_idtok":
                arg["idtok"] = None
            elif what == "fix_api":
                self.api_bad.pop(arg, None)
            elif what == "fix_client":
                arg["wrongaud"] = None
                for d in arg["devs"]:
                    d["tok"] = None
            elif what == "blip":
                arg.blip_until = t + rng.uniform(1, 4)


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")


def generate(tl: Timeline, gen: type[_Gen] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """(events as :func:`jwtobs.analysis.load_events` returns them, key-set changes, labels); ``gen``: a
    subclass of the generator (``clockfaults.FaultGen``)."""
    from jwtobs.analysis.load import EVENT_DTYPES
    from jwtobs.events import EVENT_FIELDS

    g = (gen or _Gen)(tl)
    g.run()
    ev = pd.DataFrame(g.ev, columns=list(EVENT_FIELDS))
    ev["time"] = pd.to_datetime(ev["time"], unit="s", utc=True)
    events = ev.astype(EVENT_DTYPES).sort_values("time", kind="stable").reset_index(drop=True)
    changes = pd.DataFrame(g.changes, columns=["time", "issuer", "added", "removed", "keys", "service"])
    changes["time"] = pd.to_datetime(changes["time"], utc=True, format="ISO8601")
    return events, changes, _labels(g)


def _labels(g: _Gen) -> list[dict[str, Any]]:
    labels = []
    for i, lab in enumerate(g.labels):
        if lab.count == 0:
            continue
        d = {
            "id": i,
            "kind": lab.kind,
            "issuer": lab.issuer,
            "kid": lab.kid,
            "client_id": lab.client_id,
            "profile": lab.profile,
            "injected_at": _iso(lab.start or 0),
            "start": _iso(lab.start or 0),
            "end": _iso(lab.end or 0),
            "count": lab.count,
        }
        labels.append(d)
    return labels


def write(tl: Timeline, out: Path) -> Path:
    """Write ``events.jsonl`` (validations and key-set changes) and ``labels.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    g = _Gen(tl)
    g.run()
    labels = _labels(g)
    with open(out / "events.jsonl", "w", encoding="utf-8") as f:
        for e in g.ev:
            f.write(json.dumps({**e, "time": _iso(e["time"])}) + "\n")
        for c in g.changes:
            f.write(json.dumps(c) + "\n")
    (out / "labels.json").write_text(json.dumps({"seed": tl.seed, "incidents": labels}, indent=1))
    return out
