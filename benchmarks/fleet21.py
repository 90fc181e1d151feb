"""Session 21: an independent fleet generator for the detectors (shares no code with ``jwtobs.simulate``,
``benchmarks/realfleet.py`` or ``benchmarks/timelines.py``).

Each timeline is one simulated UTC day of a fleet whose traffic has shapes the earlier generators did not model:

* weekly and diurnal traffic: weekdays peak 10:00-16:00 and drop to near zero at night (about 1 % of the peak
  at 03:00), weekends run at a quarter of that; mobile traffic peaks in the evening and on weekends;
* a batch job (``batch-reconcile``) firing 5 000 validations in 2 minutes every hour with one token, cached on
  disk across runs and refreshed only after a 401 (so some runs start with one rejection a few seconds past
  ``exp``);
* a CI system whose every run mints a fresh ``client_id`` (``ci-<hex>``; 200-1 500 runs a day, each seen once),
  10-minute tokens, 5 % of the runs overrunning their token and failing 2-10 requests before they stop;
* a mobile app (one ``client_id``, 500 devices) that checks ``exp`` against the device clock; 3 % of the devices
  have a clock 5-40 minutes off, constant, from the start (half behind: they present tokens up to 40 min past
  ``exp`` once per session and token, then refresh on the 401; half ahead: they only refresh early). This is the
  app's usual traffic, not an incident: the detectors should report nothing for it;
* a load-balancer health checker sending one fixed token every 10 s to each API (a gateway token copied into
  its configuration months ago: expired, signed with a key long rotated out);
* a canary deploy where 1 of the 6 replicas of ``orders`` validates with the wrong audience (an incident);
* an IdP that rotates its signing key every 24 h: the new key is published 1 h before the switch, the old one
  is removed 65 min after it (its tokens live at most 1 h); 24 h tokens come from another issuer;
* IdP 5xx outages: clients that cannot renew back off exponentially (1 s doubling to 60 s) and then renew all at
  once; a replica restarted during a key-set outage answers 503 and its callers retry with backoff;
* token lifetimes from 5 min (services) to 24 h (partners);
* one replica whose clock drifts (a server, not a client: it stamps its events with its own clock);
* events out of order across and within replica files (a shipper flushing batches of 500 lines on two threads
  swaps neighbouring batches) and duplicated lines (the shipper re-sends 1 % of its batches).

Events are written in the contract's schema v1 (``docs/contract.md``) by a model of a ``jwtobs.Verifier`` (check
order: form, algorithm, ``typ``, issuer, key, signature, ``exp``, ``nbf``, audience), one JSON-lines file per
replica (``events/<api>-<n>.jsonl``) holding its key-set changes too. With ``--real`` every validation is
instead a real one: Ed25519 tokens signed with PyJWT, verified by one ``jwtobs.Verifier`` per replica and
issuer (keys from a key source that follows the replica's modelled JWKS cache, claim checks on the replica's
clock), events written by jwtobs's own pipeline through ``jwtobs.configure(sinks=..., clock=...)``; the model's
verdict is kept only to attribute rejections to labels, and the run counts where the two disagree.

Labels (``labels.json``): ``kind``, the entity, ``onset`` (when injected), and ``start``/``end``/``count`` of
the rejections the incident caused (as stamped in the events), known from the model, not read back.

    python benchmarks/fleet21.py --out /tmp/f21                  # the whole set (15 timelines), then score it
    python benchmarks/fleet21.py --out /tmp/f21 --jobs 2         # the same, two timelines at a time
    python benchmarks/fleet21.py --out /tmp/f21 --only q-mon,i-canary   # some timelines
    python benchmarks/fleet21.py --out /tmp/f21 --score-only     # score timelines written before
    python benchmarks/fleet21.py --list
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
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

MONDAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday; day d of a scenario starts MONDAY + d days
DAY = 86400.0
CORP = "https://id.fleet21.example"
MOBILE = "https://mobile-id.fleet21.example"
PARTNER = "https://partners.fleet21.example"
ISSUERS = (CORP, MOBILE, PARTNER)
# APIs: name, audience, leeway (s), replicas, Verifier (typ checked) or a bare library call (no typ check)
APIS = (
    ("orders", "orders-api", 30, 6, True),
    ("ledger", "ledger-api", 0, 3, True),
    ("files", "files-api", 60, 2, False),
)


def _h(seed: int, kind: str, value: str) -> str:
    """A stand-in keyed fingerprint (48 bits, stable across runs: Python's own ``hash`` of text is not)."""
    return "f21a-" + hashlib.blake2b(f"{seed}/{kind}/{value}".encode(), digest_size=6).hexdigest()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- traffic shapes --------------------------------------------------------------------------------------------
# fmt: off
_WORK = [0.012, 0.008, 0.006, 0.005, 0.006, 0.012, 0.04, 0.15, 0.45, 0.8, 1.0, 1.0,
         0.9, 0.95, 1.0, 0.95, 0.85, 0.6, 0.35, 0.2, 0.12, 0.07, 0.04, 0.02]
_EVENING = [0.15, 0.08, 0.04, 0.03, 0.03, 0.05, 0.12, 0.3, 0.45, 0.5, 0.5, 0.55,
            0.6, 0.55, 0.55, 0.6, 0.65, 0.75, 0.9, 1.0, 1.0, 0.9, 0.6, 0.3]
# fmt: on


def _curve(table: list[float], t: float) -> float:
    h = ((t - MONDAY) % DAY) / 3600.0
    i = int(h)
    f = h - i
    return table[i] * (1 - f) + table[(i + 1) % 24] * f


def _weekend(t: float) -> bool:
    return int((t - MONDAY) // DAY) % 7 >= 5


def work(t: float) -> float:
    return _curve(_WORK, t) * (0.25 if _weekend(t) else 1.0)


def evening(t: float) -> float:
    return _curve(_EVENING, t) * (1.3 if _weekend(t) else 1.0)


# -- model of the IdPs and the validators ----------------------------------------------------------------------
@dataclass
class Tok:
    fp: str
    iss: str | None
    kid: str | None
    cid: str | None
    sub: str | None
    jti: str | None
    iat: int | None
    nbf: int | None
    exp: int | None
    aud: str | tuple[str, ...] | None
    typ: str | None = "at+jwt"
    alg: str | None = "EdDSA"
    nbytes: int = 0
    forged: bool = False  # signed by a key nobody trusts (bad signature on a real kid)
    garbage: bool = False
    label: int | None = None  # every rejection of this token belongs to this label (attack tokens)


@dataclass
class Issuer:
    url: str
    keys: list[list[Any]] = field(default_factory=list)  # [kid, published_from, published_until]
    signing: list[tuple[float, str]] = field(default_factory=list)  # (from, kid), sorted
    jwks_down: list[tuple[float, float, int | None]] = field(default_factory=list)  # (from, to, label)
    token_down: list[tuple[float, float, int | None]] = field(default_factory=list)
    replaced: list[tuple[str, float, float, int | None]] = field(default_factory=list)  # kid's material replaced
    early: dict[str, int] = field(default_factory=dict)  # kid -> label: published late / removed early

    def published(self, t: float) -> dict[str, int]:
        out = {}
        for kid, a, b in self.keys:
            if a <= t < b:
                out[kid] = 1 if any(k == kid and x <= t < y for k, x, y, _ in self.replaced) else 0
        return out

    def signer(self, t: float) -> str:
        kid = self.signing[0][1]
        for a, k in self.signing:
            if a <= t:
                kid = k
        return kid

    def down(self, what: list[tuple[float, float, int | None]], t: float) -> tuple[bool, int | None]:
        for a, b, lab in what:
            if a <= t < b:
                return True, lab
        return False, None


class Replica:
    def __init__(self, w: World, api: str, n: int) -> None:
        self.w = w
        self.api = api
        self.name = f"{api}-{n}"
        self.aud, self.leeway, self.typ_check = w.api_aud[api], w.api_leeway[api], w.api_typ[api]
        self.cache: dict[str, dict[str, int]] = {}
        self.fetched: dict[str, float] = {}
        self.wrong_aud: list[tuple[float, float, int]] = []
        self.drift: tuple[float, float, float, float, int] | None = None  # t0, t1 (full), offset, fixed_at, label
        self.restarts: list[float] = []

    def offset(self, t: float) -> float:
        if self.drift is None:
            return 0.0
        t0, t1, off, fix, _ = self.drift
        if t < t0 or t >= fix:
            return 0.0
        return off * min(1.0, (t - t0) / (t1 - t0))

    def restart(self, t: float) -> None:
        self.cache.clear()
        self.fetched.clear()

    def keys(self, iss: Issuer, t: float, kid: str | None) -> tuple[dict[str, int] | None, int | None]:
        c = self.cache.get(iss.url)
        last = self.fetched.get(iss.url, -1e18)
        need = c is None or t - last >= 300 or (kid not in c and t - last >= 30)
        if not need:
            return c, None
        down, lab = iss.down(iss.jwks_down, t)
        if down:
            self.fetched[iss.url] = t - 300 + 15  # retried 15 s later
            return c, lab  # last known good, or nothing on a cold replica
        new = iss.published(t)
        if c is None or set(new) != set(c):
            old = set(c or {})
            self.w.write(
                self,
                t,
                {
                    "schema": 1,
                    "event": "jwks.keyset_changed",
                    "time": _iso(t + self.offset(t)),
                    "issuer": iss.url,
                    "added": sorted(set(new) - old),
                    "removed": sorted(old - set(new)),
                    "keys": len(new),
                    "service": self.name,
                },
            )
        self.cache[iss.url] = new
        self.fetched[iss.url] = t
        return new, None


class World:
    def __init__(self, name: str, seed: int, day: int, real: bool = False) -> None:
        self.name, self.seed, self.rng = name, seed, random.Random(seed)
        self.t0 = MONDAY + day * DAY
        self.t1 = self.t0 + DAY
        self.api_aud = {a: aud for a, aud, _, _, _ in APIS}
        self.api_leeway = {a: lw for a, _, lw, _, _ in APIS}
        self.api_typ = {a: v for a, _, _, _, v in APIS}
        self.replicas = {a: [Replica(self, a, i + 1) for i in range(n)] for a, _, _, n, _ in APIS}
        self.issuers = {u: Issuer(u) for u in ISSUERS}
        self.lines: dict[str, list[tuple[float, str]]] = {}
        self.labels: list[dict[str, Any]] = []
        self.heap: list[tuple[float, int, Callable[[float], None]]] = []
        self.seq = 0
        self.validations = 0
        self.rejections = 0
        self.real = RealPath(self) if real else None
        self.quiet = True
        self._rr: dict[str, int] = {}

    # scheduling
    def at(self, t: float, fn: Callable[[float], None]) -> None:
        if t < self.t1:
            self.seq += 1
            heapq.heappush(self.heap, (t, self.seq, fn))

    def run(self) -> None:
        n = 0
        while self.heap and n < 50_000_000:
            n += 1
            t, _, fn = heapq.heappop(self.heap)
            fn(t)

    def fp(self) -> str:
        return f"f21a-{self.rng.getrandbits(48):012x}"

    def label(self, kind: str, onset: float, **entity: Any) -> int:
        self.quiet = False
        self.labels.append(
            {
                "id": len(self.labels),
                "kind": kind,
                **entity,
                "onset": _iso(onset),
                "start": None,
                "end": None,
                "count": 0,
            }
        )
        return len(self.labels) - 1

    def hit(self, lab: int, t: float) -> None:
        d = self.labels[lab]
        d["count"] += 1
        s = _iso(t)
        d["start"] = s if d["start"] is None or s < d["start"] else d["start"]
        d["end"] = s if d["end"] is None or s > d["end"] else d["end"]

    def write(self, rep: Replica, t: float, rec: dict[str, Any]) -> None:
        self.lines.setdefault(rep.name, []).append((t, json.dumps(rec, separators=(",", ":"))))

    # tokens
    def mint(
        self,
        iss: str,
        cid: str | None,
        sub: str,
        life: float,
        t: float,
        aud: str | tuple[str, ...],
        typ: str = "at+jwt",
    ) -> Tok:
        i = self.issuers[iss]
        it = int(t)
        return Tok(
            self.fp(),
            iss,
            i.signer(t),
            cid,
            sub,
            f"j{self.rng.getrandbits(40):x}",
            it,
            it,
            int(it + life),
            aud,
            typ,
            "EdDSA",
            480 + self.rng.randrange(0, 160),
        )

    def pick(self, api: str) -> Replica:
        reps = self.replicas[api]
        return reps[self.rng.randrange(len(reps))]

    def next_replica(self, api: str) -> Replica:
        k = self._rr.get(api, 0)
        self._rr[api] = k + 1
        reps = self.replicas[api]
        return reps[k % len(reps)]

    # the validation: the model's verdict, attribution to a label, the event
    def validate(self, rep: Replica, tok: Tok, t: float, cause: int | None = None) -> str | None:
        now = t + rep.offset(t)
        reason, detail, lab = self._verdict(rep, tok, t, now)
        if lab is None and reason is not None:
            lab = tok.label if tok.label is not None else cause
            if lab is not None and self.labels[lab]["kind"] == "clock_skew" and reason != "JWT_EXPIRED":
                lab = None
            if lab is not None and self.labels[lab]["kind"] == "issuer_stalled" and reason != "JWT_EXPIRED":
                lab = None
        self.validations += 1
        if self.real is not None:
            reason, detail, rec = self.real.validate(rep, tok, t, now, reason, detail)
        else:
            rec = {
                "schema": 1,
                "time": _iso(now),
                "outcome": "accepted" if reason is None else "rejected",
                "reason": reason,
                "detail": detail,
                "library": "pyjwt",
                "profile": rep.api,
                "issuer": tok.iss,
                "alg": tok.alg,
                "kid": tok.kid,
                "typ": tok.typ,
                "client_id": tok.cid,
                "token_fp": tok.fp,
                "jti_hash": None if tok.jti is None else _h(self.seed, "jti", tok.jti),
                "sub_hash": None if tok.sub is None else _h(self.seed, "sub", tok.sub),
                "tenant": None,
                "iat": tok.iat,
                "nbf": tok.nbf,
                "exp": tok.exp,
                "token_bytes": tok.nbytes,
                "duration_s": round(0.0002 + self.rng.random() * 0.0004, 6),
                "trace_id": None,
                "span_id": None,
                "service": rep.name,
            }
        if reason is not None:
            self.rejections += 1
            if lab is not None:
                self.hit(lab, now)
        self.write(rep, t, rec)
        return reason

    def _verdict(self, rep: Replica, tok: Tok, t: float, now: float) -> tuple[str | None, str | None, int | None]:
        if tok.garbage:
            return "JWT_MALFORMED", "segments", None
        if tok.alg == "none":
            return "JWT_UNSIGNED", "alg_none", None
        if tok.alg != "EdDSA":
            return "JWT_ALG_NOT_ALLOWED", "not_allowed", None
        if rep.typ_check and tok.typ != "at+jwt":
            return "JWT_TYPE_MISMATCH", "typ", None
        iss = self.issuers.get(tok.iss or "")
        if iss is None:
            return "JWT_ISSUER_MISMATCH", "iss", None
        keys, lab = rep.keys(iss, t, tok.kid)
        if keys is None:
            return "JWT_JWKS_UNAVAILABLE", "connection", lab
        if tok.kid not in keys:
            lab = iss.early.get(tok.kid or "")
            if lab is not None and tok.exp is not None and tok.exp > now and not tok.forged:
                return "JWT_UNKNOWN_KID", None, lab
            return "JWT_UNKNOWN_KID", None, None
        if tok.forged:
            return "JWT_BAD_SIGNATURE", "signature", None
        if keys[tok.kid]:
            labs = [lb for k, a, b, lb in iss.replaced if k == tok.kid]
            return "JWT_BAD_SIGNATURE", "signature", labs[0] if labs else None
        auds = (tok.aud,) if isinstance(tok.aud, str) else tuple(tok.aud or ())
        wrong = [lb for a, b, lb in rep.wrong_aud if a <= t < b and rep.aud in auds]
        if rep.typ_check or self.real is not None:  # a Verifier checks the audience before the times
            if wrong:
                return "JWT_AUDIENCE_MISMATCH", "aud", wrong[0]
            if rep.aud not in auds:
                return "JWT_AUDIENCE_MISMATCH", "aud", None
        lw = rep.leeway
        if tok.exp is not None and now > tok.exp + lw:
            lab = None
            if rep.drift is not None and t <= tok.exp + lw:
                lab = rep.drift[4]
            return "JWT_EXPIRED", "exp", lab
        if tok.nbf is not None and tok.nbf > now + lw:
            lab = rep.drift[4] if rep.drift is not None and tok.nbf <= t + lw else None
            return "JWT_NOT_YET_VALID", "nbf", lab
        if wrong:
            return "JWT_AUDIENCE_MISMATCH", "aud", wrong[0]
        if rep.aud not in auds:
            return "JWT_AUDIENCE_MISMATCH", "aud", None
        return None, None, None

    # output: per replica file, flushed by a shipper in batches (some swapped, some sent twice)
    def save(self, out: Path) -> dict[str, Any]:
        ev = out / "events"
        ev.mkdir(parents=True, exist_ok=True)
        dups = swaps = 0
        for name, lines in sorted(self.lines.items()):
            lines.sort(key=lambda x: x[0])
            batches = [lines[i : i + 500] for i in range(0, len(lines), 500)]
            for i in range(len(batches) - 1):
                if self.rng.random() < 0.1:
                    batches[i], batches[i + 1] = batches[i + 1], batches[i]
                    swaps += 1
            with open(ev / f"{name}.jsonl", "w", encoding="utf-8") as f:
                for b in batches:
                    f.write("".join(s + "\n" for _, s in b))
                    if self.rng.random() < 0.01:
                        f.write("".join(s + "\n" for _, s in b))
                        dups += len(b)
        labels = list(self.labels)
        meta = {
            "seed": self.seed,
            "timeline": self.name,
            "quiet": self.quiet,
            "validations": self.validations,
            "rejections": self.rejections,
            "duplicated_lines": dups,
            "swapped_batches": swaps,
            "incidents": labels,
        }
        if self.real is not None:
            meta["real"] = self.real.summary()
        (out / "labels.json").write_text(json.dumps(meta, indent=1))
        return meta


# -- the real path: real tokens through jwtobs.Verifier ---------------------------------------------------------
class RealPath:
    """Validate every request for real: Ed25519 keys per (issuer, kid, material), tokens signed with PyJWT,
    one ``jwtobs.Verifier`` per replica and issuer whose key source follows the replica's modelled cache."""

    def __init__(self, w: World) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ed25519

        import jwtobs
        from jwtobs.exceptions import TokenRejected
        from jwtobs.jwks import KeySource, StaticKeys
        from jwtobs.reasons import Reason

        self.w, self.jwt, self.jwtobs, self.TokenRejected, self.Reason = w, jwt, jwtobs, TokenRejected, Reason
        self.ed25519, self.StaticKeys = ed25519, StaticKeys
        self._keys: dict[tuple[str, str, int], Any] = {}
        self._static: dict[tuple[str, str, int], Any] = {}
        self._tokens: dict[str, str] = {}
        self._verifiers: dict[tuple[str, str, int], Any] = {}
        self.now = 0.0
        self.pending: list[Any] = []
        self.agree = 0
        self.disagree: dict[str, int] = {}
        outer = self

        class ReplicaKeys(KeySource):
            def __init__(self, rep: Replica, iss: Issuer) -> None:
                self.rep, self.iss_ = rep, iss
                self.t = 0.0
                self.kid: str | None = None

            def get(self, kid: str | None) -> Any:
                keys, _ = outer._view
                if keys is None:
                    raise TokenRejected(Reason.JWKS_UNAVAILABLE, "connection")
                if kid not in keys:
                    raise TokenRejected(Reason.UNKNOWN_KID, None)
                return outer.static(self.iss_.url, kid, keys[kid]).get(kid)

        self.ReplicaKeys = ReplicaKeys
        self._view: tuple[dict[str, int] | None, int | None] = (None, None)
        jwtobs.configure(
            sinks=[self.pending.append],
            clock=lambda: self.now,
            defer=False,
            service="fleet21",
            fingerprint_key=f"fleet21-{w.seed}-key-material-000000000000",
            from_env=False,
        )

    def key(self, iss: str, kid: str, version: int) -> Any:
        k = (iss, kid, version)
        if k not in self._keys:
            seed = random.Random(f"{self.w.seed}/{iss}/{kid}/{version}").getrandbits(256).to_bytes(32, "big")
            self._keys[k] = self.ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        return self._keys[k]

    def static(self, iss: str, kid: str, version: int) -> Any:
        k = (iss, kid, version)
        if k not in self._static:
            self._static[k] = self.StaticKeys({kid: self.key(iss, kid, version).public_key()})
        return self._static[k]

    def token(self, tok: Tok) -> str:
        s = self._tokens.get(tok.fp)
        if s is not None:
            return s
        if tok.garbage:
            s = "garbage." + tok.fp
        else:
            claims = {
                k: v
                for k, v in (
                    ("iss", tok.iss),
                    ("sub", tok.sub),
                    ("aud", list(tok.aud) if isinstance(tok.aud, tuple) else tok.aud),
                    ("azp", tok.cid),
                    ("jti", tok.jti),
                    ("iat", tok.iat),
                    ("nbf", tok.nbf),
                    ("exp", tok.exp),
                )
                if v is not None
            }
            hdr = {"kid": tok.kid, "typ": tok.typ}
            if tok.alg == "none":
                s = self.jwt.encode(claims, None, algorithm="none", headers=hdr)
            elif tok.alg == "HS256":
                s = self.jwt.encode(claims, "x" * 40, algorithm="HS256", headers=hdr)
            else:
                version = 0
                if tok.forged:
                    version = 99
                key = self.key(tok.iss or CORP, tok.kid or "none", version)
                s = self.jwt.encode(claims, key, algorithm="EdDSA", headers=hdr)
        self._tokens[tok.fp] = s
        return s

    def verifier(self, rep: Replica, iss: Issuer, t: float) -> Any:
        aud = rep.aud
        wrong = any(a <= t < b for a, b, _ in rep.wrong_aud)
        k = (rep.name, iss.url, int(wrong))
        v = self._verifiers.get(k)
        if v is None:
            prof = self.jwtobs.Profile(
                name=rep.api,
                issuer=iss.url,
                audience=("canary-" + aud) if wrong else aud,
                algorithms=("EdDSA",),
                token_type="at+jwt" if rep.typ_check else None,
                leeway=rep.leeway,
                required_claims=("iss", "exp"),
            )
            v = self.jwtobs.Verifier(prof, keys=self.ReplicaKeys(rep, iss), backend="pyjwt")
            self._verifiers[k] = v
        return v

    def validate(
        self, rep: Replica, tok: Tok, t: float, now: float, reason: str | None, detail: str | None
    ) -> tuple[str | None, str | None, dict[str, Any]]:
        iss = self.w.issuers.get(tok.iss or "", self.w.issuers[CORP])
        # the key view the model used for this request (it fetched already, if it had to)
        self._view = (rep.cache.get(iss.url), None)
        self.now = now
        v = self.verifier(rep, iss, t)
        got: str | None = None
        try:
            v.verify(self.token(tok), now=now)
        except self.TokenRejected as exc:
            got = exc.reason.value
        self.jwtobs.flush()
        ev = self.pending.pop()
        while self.pending:  # key-set changes of no interest here (the model writes them)
            self.pending.pop()
        rec = ev.to_dict()
        rec["service"] = rep.name
        if got == reason:
            self.agree += 1
        else:
            key = f"{reason}->{got}"
            self.disagree[key] = self.disagree.get(key, 0) + 1
        return got, rec.get("detail"), rec

    def summary(self) -> dict[str, Any]:
        return {"agree": self.agree, "disagree": self.disagree}


# -- the fleet's traffic -----------------------------------------------------------------------------------------
class Fleet:
    """The background every timeline has; incidents are injected on top (``inject_*``)."""

    def __init__(self, w: World, scale: float = 1.0) -> None:
        self.w = w
        self.rng = random.Random(w.seed * 7 + 1)
        self.scale = scale
        r = self.rng
        w0 = w.t0
        # the corporate IdP: a new key every 24 h at 05:00-08:00, published 1 h before the switch, the old one
        # removed 65 min after it; yesterday's key signs until today's switch
        corp = w.issuers[CORP]
        self.rot = w0 + r.uniform(5, 8) * 3600
        self.kid_old, self.kid_new = f"corp-{int(w0 // DAY) - 1}", f"corp-{int(w0 // DAY)}"
        corp.keys = [[self.kid_old, w0 - DAY, self.rot + 3900], [self.kid_new, self.rot - 3600, w0 + 3 * DAY]]
        corp.signing = [(w0 - DAY, self.kid_old), (self.rot, self.kid_new)]
        mob = w.issuers[MOBILE]
        mob.keys = [["mob-2026a", w0 - 90 * DAY, w0 + 90 * DAY]]
        mob.signing = [(w0 - 90 * DAY, "mob-2026a")]
        par = w.issuers[PARTNER]
        par.keys = [["p-7", w0 - 30 * DAY, w0 + 30 * DAY]]
        par.signing = [(w0 - 30 * DAY, "p-7")]

    # services: pods of a client id, tokens of 5 min-1 h, refresh by their own clock or lazily after a 401
    def services(self) -> None:
        r, w = self.rng, self.w
        names = [
            "gateway",
            "billing",
            "search",
            "catalog",
            "payments",
            "reports",
            "notify",
            "auth-proxy",
            "inventory",
            "pricing",
            "shipping",
            "analytics",
            "audit",
            "profile",
        ]
        self.svc: dict[str, list[dict[str, Any]]] = {}
        for i, n in enumerate(names):
            cid = f"svc-{n}"
            life = r.choice([300, 900, 900, 1800, 3600, 3600])
            apis = r.sample(["orders", "ledger", "files"], r.choice([1, 1, 2]))
            peak = 0.4 / (i + 1) ** 0.7 * self.scale  # Zipf: a few busy services, a long tail
            pods = []
            for p in range(r.randint(1, 5)):
                pod = {
                    "cid": cid,
                    "life": life,
                    "apis": apis,
                    "rate": peak / 2,
                    "lazy": r.random() < 0.35,
                    "margin": r.uniform(30, 120),
                    "off": r.gauss(0, 2.0),
                    "tok": None,
                    "skew": None,
                    "stalled": None,
                    "retry": 0,
                    "name": f"{cid}/{p}",
                }
                pods.append(pod)
                w.at(w.t0 + r.uniform(0, 60), lambda t, pod=pod: self.pod_req(pod, t))
            self.svc[cid] = pods

    def auds(self, pod: dict[str, Any]) -> tuple[str, ...]:
        return tuple(self.w.api_aud[a] for a in pod["apis"])

    def pod_clock(self, pod: dict[str, Any], t: float) -> float:
        off = pod["off"]
        if pod["skew"] is not None:
            a, b, s, _ = pod["skew"]
            if a <= t < b:
                off += s
        return t + off

    def renew(self, iss: str, t: float) -> tuple[bool, int | None]:
        return self.w.issuers[iss].down(self.w.issuers[iss].token_down, t)

    def pod_req(self, pod: dict[str, Any], t: float, again: bool = False) -> None:
        w, r = self.w, self.rng
        if not again:
            rate = pod["rate"] * max(work(t), 0.004)
            w.at(t + r.expovariate(rate), lambda t2: self.pod_req(pod, t2))
        tok: Tok | None = pod["tok"]
        clock = self.pod_clock(pod, t)
        if tok is None or (not pod["lazy"] and clock >= tok.exp - pod["margin"]):
            down, _ = self.renew(CORP, t)
            if not down:
                tok = pod["tok"] = w.mint(CORP, pod["cid"], pod["cid"], pod["life"], t, self.auds(pod))
                pod["stalled"] = None
            elif tok is None:
                return  # no token yet: the request waits for the IdP
        api = r.choice(pod["apis"])
        cause = None
        if (
            pod["skew"] is not None
            and pod["skew"][0] <= t < pod["skew"][1]
            and t + pod["off"] >= tok.exp - pod["margin"]
        ):
            cause = pod["skew"][3]  # its own clock would have renewed
        down, slab = self.renew(CORP, t)
        if down and t + pod["off"] >= tok.exp - pod["margin"]:
            cause = slab
        tok = self._per_api(pod, tok, api)
        reason = w.validate(w.pick(api), tok, t, cause)
        if reason is not None and reason != "JWT_JWKS_UNAVAILABLE":  # a 401: renew and retry once
            down, _ = self.renew(CORP, t)
            if down:  # cannot renew: retry with backoff with the token it holds
                pod["retry"] = min(60.0, max(1.0, pod["retry"] * 2))
                w.at(t + pod["retry"] * r.uniform(0.8, 1.2), lambda t2: self.pod_req(pod, t2, again=True))
            else:
                pod["retry"] = 0
                pod["tok"] = w.mint(CORP, pod["cid"], pod["cid"], pod["life"], t, self.auds(pod))
                t2 = t + r.uniform(0.15, 0.5)
                w.at(t2, lambda t3: self._retry(pod, t3, api))
        elif reason == "JWT_JWKS_UNAVAILABLE":
            pod["retry"] = min(60.0, max(1.0, pod["retry"] * 2))
            if pod["retry"] < 60:
                w.at(t + pod["retry"] * r.uniform(0.8, 1.2), lambda t2: self.pod_req(pod, t2, again=True))
        else:
            pod["retry"] = 0
            if r.random() < 0.01:  # a network retry of the same request with the same token
                w.at(t + r.uniform(1, 30), lambda t2: w.validate(w.pick(api), tok, t2))

    def _per_api(self, pod: dict[str, Any], tok: Tok, api: str) -> Tok:
        ti = pod.get("idtok")
        if ti is not None and ti[0] <= tok.iat < ti[1]:  # ID tokens sent to the API (type confusion)
            return Tok(
                tok.fp + "i",
                tok.iss,
                tok.kid,
                tok.cid,
                tok.sub,
                tok.jti,
                tok.iat,
                tok.nbf,
                tok.exp,
                tok.cid,
                "JWT",
                tok.alg,
                tok.nbytes + 90,
                label=ti[2],
            )
        return tok

    def _retry(self, pod: dict[str, Any], t: float, api: str) -> None:
        tok = pod["tok"]
        self.w.validate(self.w.pick(api), self._per_api(pod, tok, api), t)

    # the hourly batch job: 5 000 validations in 2 minutes, one token cached across runs, renewed after a 401
    def batch(self) -> None:
        w, r = self.w, self.rng
        job: dict[str, Any] = {"tok": None}
        n = max(50, int(5000 * self.scale))
        for h in range(24):
            start = w.t0 + h * 3600 + 300 + r.uniform(-30, 30)
            w.at(start, lambda t, job=job: self.batch_run(job, t, n))

    def batch_run(self, job: dict[str, Any], t: float, n: int) -> None:
        w, r = self.w, self.rng
        if job["tok"] is None:
            job["tok"] = w.mint(CORP, "batch-reconcile", "batch-reconcile", 3600, t, "ledger-api")

        def one(t2: float) -> None:
            rep = w.next_replica("ledger")
            fp = job["tok"].fp
            reason = w.validate(rep, job["tok"], t2)
            if reason is not None and reason != "JWT_JWKS_UNAVAILABLE" and job["tok"].fp == fp:
                down, _ = self.renew(CORP, t2)
                if not down:
                    job["tok"] = w.mint(CORP, "batch-reconcile", "batch-reconcile", 3600, t2, "ledger-api")
                    w.validate(w.next_replica("ledger"), job["tok"], t2 + 0.3)

        for _ in range(n):
            w.at(t + r.uniform(0, 120), one)

    # CI: every run a fresh client id; 10-minute tokens; some runs overrun their token and fail until they stop
    def ci(self) -> None:
        w, r = self.w, self.rng
        runs = int((200 if _weekend(w.t0) else 1500) * self.scale)
        for _ in range(runs):
            for _k in range(10_000):  # rejection sampling of the time of day (bounded)
                t = w.t0 + r.uniform(0, DAY)
                if r.random() < work(t) / (0.25 if _weekend(t) else 1.0):
                    break
            w.at(t, self.ci_run)

    def ci_run(self, t: float) -> None:
        w, r = self.w, self.rng
        cid = f"ci-{r.getrandbits(40):010x}"
        api = r.choice(["orders", "files"])
        tok = w.mint(CORP, cid, cid, 600, t, w.api_aud[api])
        n = r.randint(5, 60)
        span = r.uniform(60, 540)
        if r.random() < 0.05:
            span = 600 + w.api_leeway[api] + r.uniform(60, 300)  # overruns its token
        times = sorted(t + r.uniform(0, span) for _ in range(n))
        fails = 0
        for t2 in times:
            if w.validate(w.pick(api), tok, t2) is not None:
                fails += 1
                if fails >= 10:
                    break

    # the mobile app: 500 devices, 1-h tokens checked against the device clock; 3 % of clocks 5-40 min off
    def mobile(self) -> None:
        w, r = self.w, self.rng
        self.devices = []
        for d in range(500):
            off = r.gauss(0, 3.0)
            if r.random() < 0.03:
                off = r.choice([-1, 1]) * r.uniform(300, 2400)
            dev = {"off": off, "tok": None, "sub": f"user-{d}", "api": r.choice(["orders", "files"])}
            self.devices.append(dev)
            # a token from yesterday, used at the first session (apps resumed)
            if r.random() < 0.7:
                ti = w.t0 - r.uniform(0, 20 * 3600)
                dev["tok"] = w.mint(MOBILE, "mobile-app", dev["sub"], 3600, ti, w.api_aud[dev["api"]])
            sessions = max(1, int(r.uniform(2, 7) * self.scale * (1.3 if _weekend(w.t0) else 1.0)))
            for _ in range(sessions):
                for _k in range(10_000):
                    t = w.t0 + r.uniform(0, DAY)
                    if r.random() < evening(t) / 1.3:
                        break
                w.at(t, lambda t, dev=dev: self.session(dev, t))

    def session(self, dev: dict[str, Any], t: float) -> None:
        w, r = self.w, self.rng
        if t < dev.get("busy", 0.0):  # one device runs one session at a time
            w.at(dev["busy"] + r.uniform(5, 60), lambda t2: self.session(dev, t2))
            return
        n = r.randint(3, 25)
        resume = r.random() < 0.3  # the first request goes out with the cached token before any check
        for k in range(n):
            tok = dev["tok"]
            if tok is None or (not (resume and k == 0) and t + dev["off"] >= tok.exp - 60):
                down, _ = self.renew(MOBILE, t)
                if down and tok is None:
                    return
                if not down:
                    tok = dev["tok"] = w.mint(MOBILE, "mobile-app", dev["sub"], 3600, t, w.api_aud[dev["api"]])
            reason = w.validate(w.pick(dev["api"]), tok, t)
            if reason is not None and reason != "JWT_JWKS_UNAVAILABLE":
                down, _ = self.renew(MOBILE, t)
                if down:
                    return
                tok = dev["tok"] = w.mint(MOBILE, "mobile-app", dev["sub"], 3600, t + 0.3, w.api_aud[dev["api"]])
                w.validate(w.pick(dev["api"]), tok, t + r.uniform(0.4, 0.9))
            t += r.expovariate(1 / 12.0)
        dev["busy"] = t

    # partners: 24-h tokens from another issuer, around the clock, renewed 5 min before exp
    def partners(self) -> None:
        w, r = self.w, self.rng
        for i in range(3):
            p = {"cid": f"partner-{i}", "tok": None, "gap": r.uniform(20, 90), "api": r.choice(["orders", "ledger"])}
            w.at(w.t0 + r.uniform(0, 60), lambda t, p=p: self.partner_req(p, t))

    def partner_req(self, p: dict[str, Any], t: float) -> None:
        w, r = self.w, self.rng
        w.at(t + r.expovariate(1 / p["gap"]), lambda t2: self.partner_req(p, t2))
        tok = p["tok"]
        if tok is None or t >= tok.exp - 300:
            if self.renew(PARTNER, t)[0] is False:
                tok = p["tok"] = w.mint(
                    PARTNER,
                    p["cid"],
                    p["cid"],
                    86400,
                    t - r.uniform(0, 80000) if tok is None else t,
                    w.api_aud[p["api"]],
                )
        if tok is not None:
            w.validate(w.pick(p["api"]), tok, t)

    # the load balancer's health check: one fixed token, every 10 s, to each API (replicas in turn)
    def health(self) -> None:
        w = self.w
        old = w.t0 - 41 * DAY
        tok = Tok(
            "f21a-0000hea17h00",
            CORP,
            "corp-2026-09",
            "svc-gateway",
            "svc-gateway",
            "health",
            int(old),
            int(old),
            int(old + 900),
            ("orders-api", "ledger-api", "files-api"),
            nbytes=512,
        )
        for api in ("orders", "ledger", "files"):
            t = w.t0 + self.rng.uniform(0, 10)

            def tick(t: float, api: str = api) -> None:
                w.validate(w.next_replica(api), tok, t)
                w.at(t + 10.0, lambda t2: tick(t2, api))

            w.at(t, tick)

    # internet scanners: sessions of 1-3 garbage tokens a minute, no client id
    def scanners(self) -> None:
        w, r = self.w, self.rng
        for _ in range(int(r.uniform(20, 40))):
            a = w.t0 + r.uniform(0, DAY)
            dur = r.uniform(300, 5400)
            per_min = r.uniform(0.3, 2.0)
            t = a
            for _k in range(10_000):
                t += r.expovariate(per_min / 60)
                if t > a + dur:
                    break
                w.at(t, lambda t2: w.validate(w.pick(r.choice(["orders", "ledger", "files"])), self.junk(), t2))

    def junk(self, label: int | None = None) -> Tok:
        w, r = self.w, self.rng
        k = r.random()
        now = int(w.t0)
        tok = Tok(
            w.fp(),
            CORP,
            f"k{r.getrandbits(32):08x}",
            None,
            "admin",
            None,
            now,
            None,
            now + 3600,
            "orders-api",
            "JWT",
            "EdDSA",
            300 + r.randrange(200),
            label=label,
        )
        if k < 0.25:
            tok.alg = "none"
        elif k < 0.45:
            tok.alg = "HS256"
        elif k < 0.6:
            tok.garbage = True
            tok.iss = tok.kid = tok.alg = tok.typ = None
        elif k < 0.8:
            tok.kid = self.kid_old  # a real kid, a forged signature
            tok.forged = True
            tok.typ = "at+jwt"
        else:
            tok.typ = "at+jwt"  # a random kid
        return tok

    # rolling deploys: each API once a day, replicas restarting 90 s apart with empty key caches
    def deploys(self, avoid: tuple[float, float] | None = None) -> None:
        w, r = self.w, self.rng
        for reps in w.replicas.values():
            t = w.t0 + r.uniform(9, 17) * 3600
            if avoid is not None and avoid[0] - 3600 < t < avoid[1] + 3600:
                t += 3 * 3600
            for k, rep in enumerate(reps):
                w.at(t + 90 * k, rep.restart)

    def token_blip(self, t: float, dur: float) -> None:
        for u in (CORP, MOBILE):
            self.w.issuers[u].token_down.append((t, t + dur, None))

    def background(self, avoid: tuple[float, float] | None = None) -> None:
        self.services()
        self.batch()
        self.ci()
        self.mobile()
        self.partners()
        self.health()
        self.scanners()
        self.deploys(avoid)


# -- incidents ---------------------------------------------------------------------------------------------------
def canary(f: Fleet, t: float, dur: float) -> None:
    w = f.w
    rep = w.replicas["orders"][5]
    lab = w.label("audience_misconfig", t, entity="profile", profile="orders", replica=rep.name)
    rep.wrong_aud.append((t, t + dur, lab))
    w.at(t, rep.restart)


def attack(f: Fleet, t: float, dur: float, rate: float) -> None:
    w, r = f.w, f.rng
    lab = w.label("attack_burst", t, entity="fleet", rate=rate)
    n = int(dur * rate)
    for _ in range(n):
        t2 = t + r.uniform(0, dur)
        w.at(t2, lambda t3: w.validate(w.pick(r.choice(["orders", "ledger", "files"])), f.junk(lab), t3))


def removed_early(f: Fleet) -> None:
    w = f.w
    corp = w.issuers[CORP]
    lab = w.label("key_removed_early", f.rot, entity="kid", issuer=CORP, kid=f.kid_old)
    corp.keys[0][2] = f.rot  # removed at the switch, its 5-60 min tokens still valid
    corp.early[f.kid_old] = lab


def before_publish(f: Fleet, lead: float) -> None:
    w = f.w
    corp = w.issuers[CORP]
    lab = w.label("kid_before_publish", f.rot, entity="kid", issuer=CORP, kid=f.kid_new)
    corp.keys[1][1] = f.rot + lead  # signs with it from the switch, published only later
    corp.early[f.kid_new] = lab


def idp_outage(f: Fleet, t: float, dur: float) -> None:
    w = f.w
    corp = w.issuers[CORP]
    lj = w.label("jwks_outage", t, entity="issuer", issuer=CORP)
    ls = w.label("issuer_stalled", t, entity="issuer", issuer=CORP)
    corp.jwks_down.append((t, t + dur, lj))
    corp.token_down.append((t, t + dur, ls))
    for k, rep in enumerate(w.replicas["ledger"]):  # a rolling deploy during the outage: cold caches
        w.at(t + 300 + 120 * k, rep.restart)


def server_drift(f: Fleet, api: str, n: int, t0: float, t1: float, off: float, fix: float) -> None:
    w = f.w
    rep = w.replicas[api][n]
    lab = w.label("server_clock_skew", t0, entity="issuer", profile=api, replica=rep.name, offset=off)
    rep.drift = (t0, t1, off, fix, lab)


def client_skew(f: Fleet, cid: str, t0: float, t1: float, off: float) -> None:
    w = f.w
    lab = w.label("clock_skew", t0, entity="client_id", client_id=cid, offset=off)
    for pod in f.svc[cid]:
        pod["skew"] = (t0, t1, off, lab)


def id_tokens(f: Fleet, cid: str, t0: float, t1: float) -> None:
    w = f.w
    lab = w.label("type_confusion", t0, entity="client_id", client_id=cid)
    for pod in f.svc[cid]:
        pod["idtok"] = (t0, t1, lab)


def sig_spike(f: Fleet, t0: float, dur: float) -> None:
    w = f.w
    lab = w.label("signature_spike", t0, entity="kid", issuer=MOBILE, kid="mob-2026a")
    w.issuers[MOBILE].replaced.append(("mob-2026a", t0, t0 + dur, lab))


# -- the set -----------------------------------------------------------------------------------------------------
H = 3600.0


def _quiet(day: int, blip: bool = False) -> Callable[[Fleet], None]:
    def build(f: Fleet) -> None:
        f.background()
        if blip:
            f.token_blip(f.w.t0 + f.rng.uniform(9, 16) * H, 90.0)

    return build


def _i_canary(f: Fleet) -> None:
    f.background()
    canary(f, f.w.t0 + 9.7 * H, 35 * 60)
    attack(f, f.w.t0 + 15.3 * H, 8 * 60, 1.5)


def _i_removed(f: Fleet) -> None:
    f.background()
    removed_early(f)


def _i_outage(f: Fleet) -> None:
    t = f.w.t0 + 13.5 * H
    f.background(avoid=(t, t + 1500))
    idp_outage(f, t, 25 * 60)


def _i_drift(f: Fleet) -> None:
    f.background()
    server_drift(f, "ledger", 1, f.w.t0 + 8 * H, f.w.t0 + 14 * H, 900.0, f.w.t0 + 16 * H)
    client_skew(f, "svc-billing", f.w.t0 + 18 * H, f.w.t0 + 20 * H, -420.0)


def _i_weekend(f: Fleet) -> None:
    f.background()
    sig_spike(f, f.w.t0 + 11 * H, 40 * 60)
    id_tokens(f, "svc-search", f.w.t0 + 14 * H, f.w.t0 + 15 * H)


def _i_publish(f: Fleet) -> None:
    f.background()
    before_publish(f, 25 * 60)
    attack(f, f.w.t0 + 3.2 * H, 6 * 60, 0.5)


def _i_real(f: Fleet) -> None:
    f.background()
    canary(f, f.w.t0 + 11.2 * H, 30 * 60)
    client_skew(f, "svc-gateway", f.w.t0 + 14 * H, f.w.t0 + 16 * H, -600.0)


@dataclass(frozen=True)
class Case:
    name: str
    day: int  # days after the Monday 2026-11-02 (0 Monday ... 6 Sunday)
    seed: int
    build: Callable[[Fleet], None]
    real: bool = False
    scale: float = 1.0


def suite() -> list[Case]:
    q = [
        Case(f"q-{d}", i, 21000 + i, _quiet(i, blip=i in (2, 4)))
        for i, d in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    ]
    inc = [
        Case("i-canary", 8, 21101, _i_canary),
        Case("i-removed-early", 9, 21102, _i_removed),
        Case("i-idp-outage", 10, 21103, _i_outage),
        Case("i-server-drift", 11, 21104, _i_drift),
        Case("i-weekend", 12, 21105, _i_weekend),
        Case("i-publish-night-attack", 13, 21106, _i_publish),
    ]
    real = [
        Case("r-quiet", 14, 21200, _quiet(0), real=True, scale=0.15),
        Case("r-canary-skew", 15, 21201, _i_real, real=True, scale=0.15),
    ]
    return q + inc + real


def _generate_named(name: str, out: Path) -> dict[str, Any]:
    """:func:`generate` of the suite's timeline ``name`` (what a worker process receives: the cases hold closures)."""
    return generate(next(c for c in suite() if c.name == name), out)


def generate(case: Case, out: Path) -> dict[str, Any]:
    t = time.process_time()
    w = World(case.name, case.seed, case.day, real=case.real)
    f = Fleet(w, case.scale)
    case.build(f)
    w.run()
    meta = w.save(out)
    meta["cpu_s"] = round(time.process_time() - t, 1)
    return meta


# -- scoring: the detectors as `jwtobs report` runs them ---------------------------------------------------------
def score(out: Path) -> dict[str, Any]:
    import pandas as pd

    from jwtobs.analysis import incidents, load_events, load_keyset_changes
    from jwtobs.analysis.evaluate import load_labels

    ev = load_events(out / "events")
    ch = load_keyset_changes(out / "events")
    det = incidents(ev, ch)
    lab = load_labels(out / "labels.json")
    # evaluate.match_incidents matches on kind and time; a label naming a client (or an API) is matched here
    # only by a detection naming the same one (another client's false clock skew is no find)
    onsets: list[float] = []
    matched: list[bool] = []
    used: set[int] = set()
    true: set[int] = set()
    slack = pd.Timedelta(seconds=120)
    for _, lb in lab.iterrows():
        cand = det[
            (det["kind"] == lb["kind"]) & (det["start"] <= lb["end"] + slack) & (det["end"] >= lb["start"] - slack)
        ]
        for col in ("client_id", "profile"):
            if isinstance(lb.get(col), str):
                cand = cand[cand[col].astype("object") == lb[col]]
        true |= set(int(k) for k in cand.index)
        free = [int(k) for k in cand.index if int(k) not in used]
        matched.append(bool(free))
        if free:
            used.add(free[0])
            onsets.append(abs((cand.loc[free[0], "start"] - lb["start"]).total_seconds()))
    meta = json.loads((out / "labels.json").read_text())
    det_rows = [
        {
            "kind": d.kind,
            "start": str(d.start),
            "end": str(d.end),
            "client_id": d.client_id,
            "profile": d.profile,
            "issuer": d.issuer,
            "kid": d.kid,
            "count": int(d["count"]),
        }
        for _, d in det.iterrows()
    ]
    return {
        "timeline": meta["timeline"],
        "quiet": meta["quiet"],
        "events": len(ev),
        "labels": len(lab),
        "found": sum(matched),
        "detections": len(det),
        "false": len(det) - len(true),
        "onsets": [round(x) for x in onsets],
        "missed": [lb["kind"] for (_, lb), m in zip(lab.iterrows(), matched, strict=True) if not m],
        "detected": det_rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/fleet21"), help="root directory: <out>/<timeline>/")
    ap.add_argument("--only", help="comma-separated timeline names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the timelines and exit")
    ap.add_argument("--score-only", action="store_true", help="do not generate: score what is in --out")
    ap.add_argument("--no-score", action="store_true", help="generate only")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    ap.add_argument("--jobs", type=int, default=1, help="timelines generated in parallel processes (default 1)")
    a = ap.parse_args(argv)
    cases = suite()
    if a.list:
        for c in cases:
            print(f"{c.name:26} day {c.day:2} seed {c.seed} {'real path' if c.real else 'model'} scale {c.scale}")
        return 0
    if a.only:
        want = set(a.only.split(","))
        unknown = want - {c.name for c in cases}
        if unknown:
            print(f"fleet21: unknown timeline(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.name in want]
    if not a.score_only:
        t0 = time.time()
        if a.jobs > 1:
            with ProcessPoolExecutor(max_workers=a.jobs) as pool:
                metas = list(pool.map(_generate_named, [c.name for c in cases], [a.out / c.name for c in cases]))
        else:
            metas = [generate(c, a.out / c.name) for c in cases]
        for c, m in zip(cases, metas, strict=True):
            extra = f", real path: {m['real']}" if "real" in m else ""
            print(
                f"{c.name}: {m['validations']} validations, {m['rejections']} rejected, "
                f"{len(m['incidents'])} labels {[(d['kind'], d['count']) for d in m['incidents']]}, "
                f"{m['cpu_s']} s CPU{extra}",
                flush=True,
            )
        print(f"generated in {time.time() - t0:.1f} s wall")
    if a.no_score:
        return 0
    rows = []
    for c in cases:
        s = score(a.out / c.name)
        rows.append(s)
        print(
            f"{s['timeline']}: {s['events']} events, labels {s['labels']}, found {s['found']}, "
            f"false {s['false']}, onsets {s['onsets']}, missed {s['missed']}",
            flush=True,
        )
        for d in s["detected"]:
            print(
                f"    {d['kind']:18} {d['start'][:19]} .. {d['end'][11:19]} n={d['count']} "
                f"client={d['client_id']} profile={d['profile']} kid={d['kid']}"
            )
    quiet = [r for r in rows if r["quiet"]]
    inc = [r for r in rows if not r["quiet"]]
    lab = sum(r["labels"] for r in inc)
    found = sum(r["found"] for r in inc)
    det = sum(r["detections"] for r in inc)
    fp = sum(r["false"] for r in inc)
    print(
        f"quiet days: {len(quiet)}, false incidents {sum(r['false'] for r in quiet)} "
        f"({sum(r['false'] for r in quiet) / max(1, len(quiet)):.2f} a day)"
    )
    print(
        f"incident days: {len(inc)}, recall {found}/{lab} = {found / max(1, lab):.3f}, precision "
        f"{det - fp}/{det} = {(det - fp) / max(1, det):.3f}, onsets {sorted(x for r in inc for x in r['onsets'])}"
    )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
