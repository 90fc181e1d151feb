"""Run a :class:`Scenario`: drive the fleet on a simulated clock and write events, key-set changes and labels."""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import jwtobs
from jwtobs import config
from jwtobs.events import KeySetChange, format_time
from jwtobs.simulate.fleet import Api, Cause, Client, Issuer, SimClock
from jwtobs.simulate.scenario import Incident, Scenario

__all__ = ["SimulationResult", "simulate"]

Progress = Callable[[float], None]


@dataclass
class _Label:
    id: int
    kind: str
    injected_at: float
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("injected_at", "start", "end"):
            d[k] = None if d[k] is None else format_time(d[k])
        return d


@dataclass
class SimulationResult:
    events_path: Path
    labels_path: Path
    parquet_path: Path | None
    validations: int
    labels: list[dict[str, Any]] = field(default_factory=list)


class _Sim:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.rng = random.Random(sc.seed)
        self.clock = SimClock(sc.start)
        self.cause = Cause()
        self.queue: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.labels: list[_Label] = []
        self.issuers = {
            f"https://idp{i}.example": Issuer(f"https://idp{i}.example", random.Random(sc.seed * 1000 + i))
            for i in range(sc.issuers)
        }
        self.apis = [
            Api(f"api-{n}", f"https://{n}.example/api", self.issuers, self.clock, sc.jwks_ttl, self.cause)
            for n in ("orders", "billing", "search", "profile", "ledger", "media")[: max(1, sc.apis)]
        ]
        self.validators = [jwtobs.wrap(a.validate, library="pyjwt", profile=a.name) for a in self.apis]
        self.clients: list[Client] = []
        iss_list = list(self.issuers.values())
        for i in range(sc.clients):
            apis = self.rng.sample(self.apis, k=min(len(self.apis), 1 + self.rng.randrange(2)))
            lifetime = sc.token_lifetime * self.rng.choice((0.5, 1.0, 1.0, 2.0))
            self.clients.append(Client(f"client-{i:02d}", iss_list[i % len(iss_list)], apis, lifetime))

    # -- scheduling --
    def at(self, t: float, what: str, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (t, self._seq, what, arg))

    def keyset_changed(self, iss: Issuer, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        change = KeySetChange(self.clock.t, iss.name, added, removed, len(iss.published), "jwtobs-simulation")
        for sink in config.current().sinks:
            try:
                sink(change)  # type: ignore[arg-type]
            except Exception:
                pass

    def label(self, inc: Incident, **kw: Any) -> _Label:
        lab = _Label(len(self.labels), inc.kind, self.clock.t, **kw)
        self.labels.append(lab)
        return lab

    # -- actions --
    def rotate(self, iss: Issuer) -> None:
        """A well-run rotation: publish, switch signing after 10 min, remove the old key once its tokens expired."""
        kid = iss.new_key()
        iss.publish(kid)
        self.keyset_changed(iss, (kid,), ())
        self.at(self.clock.t + 600, "switch", (iss, kid))
        self.at(self.clock.t + self.sc.rotation_every, "rotate", iss)

    def retire(self, iss: Issuer, kid: str) -> None:
        if kid in iss.published and kid != iss.signing_kid:
            iss.unpublish(kid)
            self.keyset_changed(iss, (), (kid,))

    def switch(self, iss: Issuer, kid: str) -> None:
        old = iss.signing_kid
        iss.signing_kid = kid
        if old:
            self.at(self.clock.t + 2 * self.sc.token_lifetime + 600, "retire", (iss, old))

    def inject(self, inc: Incident) -> None:
        rng = self.rng
        if inc.kind == "kid_before_publish":
            iss = self._issuer(inc.target)
            kid = iss.new_key()
            lab = self.label(inc, issuer=iss.name, kid=kid)
            iss.unpublished[kid] = lab.id
            old = iss.signing_kid
            iss.signing_kid = kid
            # clients renew onto the unpublished key
            for c in self.clients:
                if c.issuer is iss:
                    c.token = None
            self.at(self.clock.t + inc.duration, "publish", (iss, kid))
            self.at(self.clock.t + inc.duration + 2 * self.sc.token_lifetime + 600, "retire", (iss, old))
        elif inc.kind == "key_removed_early":
            iss = self._issuer(inc.target)
            old = iss.signing_kid
            lab = self.label(inc, issuer=iss.name, kid=old)
            kid = iss.new_key()
            iss.publish(kid)
            iss.signing_kid = kid
            iss.unpublish(old)
            iss.removed_early[old] = lab.id
            self.keyset_changed(iss, (kid,), (old,))
        elif inc.kind == "jwks_outage":
            iss = self._issuer(inc.target)
            lab = self.label(inc, issuer=iss.name)
            iss.down = lab.id
            self.at(self.clock.t + inc.duration, "restore_jwks", iss)
        elif inc.kind == "signature_spike":
            iss = self._issuer(inc.target)
            kid = iss.signing_kid
            lab = self.label(inc, issuer=iss.name, kid=kid)
            # the JWKS is redeployed with new material under the same kid, the signer still uses the old key
            iss.swapped[kid] = lab.id
            iss.published[kid] = Ed25519PrivateKey.generate().public_key()
            self.at(self.clock.t + inc.duration, "unswap", (iss, kid))
        elif inc.kind == "clock_skew":
            c = self._client(inc.target)
            lab = self.label(inc, client_id=c.client_id, issuer=c.issuer.name)
            c.clock_offset = -abs(inc.skew)
            c.skew_label = lab.id
            self.at(self.clock.t + inc.duration, "unskew", c)
        elif inc.kind == "audience_misconfig":
            api = self._api(inc.target)
            lab = self.label(inc, profile=api.name)
            api.misconfigured = lab.id
            self.at(self.clock.t + inc.duration, "fix_api", api)
        elif inc.kind == "type_confusion":
            c = self._client(inc.target)
            lab = self.label(inc, client_id=c.client_id, issuer=c.issuer.name)
            c.id_token_label = lab.id
            self.at(self.clock.t + inc.duration, "no_id_tokens", c)
        elif inc.kind == "attack_burst":
            lab = self.label(inc)
            end = self.clock.t + inc.duration
            t = self.clock.t
            while t < end:
                self.at(t, "attack", lab)
                t += rng.expovariate(2.0)

    def _issuer(self, name: str) -> Issuer:
        return self.issuers.get(name) or self.rng.choice(list(self.issuers.values()))

    def _api(self, name: str) -> Api:
        return next((a for a in self.apis if a.name == name), None) or self.rng.choice(self.apis)

    def _client(self, name: str) -> Client:
        return next((c for c in self.clients if c.client_id == name), None) or self.rng.choice(self.clients)

    # -- traffic --
    def request(self, c: Client) -> None:
        rng = self.rng
        now = self.clock.t
        api_i = self.apis.index(rng.choice(c.apis))
        label: int | None = None
        if c.id_token_label is not None:
            token = c.id_token(now, rng)
            label = c.id_token_label
        else:
            token = c.current_token(now, rng)
            if c.skew_label is not None and now > c.exp + 60:
                label = c.skew_label
            r = rng.random()
            if r < self.sc.malformed_rate:
                token = token[: rng.randrange(5, len(token))]  # truncated in transit
            elif r < self.sc.malformed_rate * 1.3:
                token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")  # corrupted signature
        self._validate(api_i, token, label)
        self.at(now + rng.expovariate(1.0 / self.sc.request_interval), "request", c)

    def attack(self, lab: _Label) -> None:
        rng = self.rng
        now = int(self.clock.t)
        iss = rng.choice(list(self.issuers.values()))
        api = rng.randrange(len(self.apis))
        claims = {
            "iss": iss.name,
            "sub": "admin",
            "client_id": f"x{rng.getrandbits(32):08x}",
            "aud": self.apis[api].audience,
            "iat": now,
            "exp": now + 3600,
        }
        kind = rng.randrange(4)
        if kind == 0:
            token = jwt.encode(claims, "", algorithm="none")
        elif kind == 1:
            headers = {"kid": f"{rng.getrandbits(48):012x}", "jku": "https://attacker.example/jwks.json"}
            token = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=headers)
        elif kind == 2:
            token = jwt.encode(
                claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": iss.signing_kid}
            )
        else:
            token = jwt.encode(
                claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": f"{rng.getrandbits(40):x}"}
            )
        self._validate(api, token, lab.id)

    def _validate(self, api_i: int, token: str, label: int | None) -> None:
        self.cause.label = None
        try:
            self.validators[api_i](token)
        except jwt.PyJWTError:
            lab = label if label is not None else self.cause.label
            if lab is not None:
                self.labels[lab].hit(self.clock.t)
                if self.labels[lab].profile is None and self.labels[lab].kind in ("attack_burst",):
                    pass
        self.validations += 1

    validations = 0

    def run(self, progress: Progress | None) -> None:
        sc = self.sc
        for iss in self.issuers.values():
            kid = iss.new_key()
            iss.publish(kid)
            iss.signing_kid = kid
            self.keyset_changed(iss, (kid,), ())
            self.at(sc.start + self.rng.uniform(0.2, 1.0) * sc.rotation_every, "rotate", iss)
        for c in self.clients:
            self.at(sc.start + self.rng.uniform(0, sc.request_interval), "request", c)
        for inc in sc.incidents:
            self.at(sc.start + inc.at, "inject", inc)
        end = sc.start + sc.duration
        next_tick = sc.start
        while self.queue:
            t, _, what, arg = heapq.heappop(self.queue)
            if t >= end:
                break
            self.clock.t = t
            if progress is not None and t >= next_tick:
                progress((t - sc.start) / sc.duration)
                next_tick = t + sc.duration / 100
            if what == "request":
                self.request(arg)
            elif what == "attack":
                self.attack(arg)
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
                iss.publish(kid)
                self.keyset_changed(iss, (kid,), ())
            elif what == "restore_jwks":
                arg.down = None
            elif what == "unswap":
                iss, kid = arg
                iss.swapped.pop(kid, None)
                if kid in iss.published:
                    iss.published[kid] = iss.keys[kid].public_key()
                    self.keyset_changed(iss, (), ())
            elif what == "unskew":
                arg.clock_offset = 0.0
                arg.skew_label = None
            elif what == "fix_api":
                arg.misconfigured = None
            elif what == "no_id_tokens":
                arg.id_token_label = None
        if progress is not None:
            progress(1.0)


def simulate(
    scenario: Scenario, out_dir: str | Path, *, parquet: bool = True, progress: Progress | None = None
) -> SimulationResult:
    """Run ``scenario`` and write ``events.jsonl`` (validations and key-set changes), ``events.parquet``
    (validations) and ``labels.json`` (the injected incidents with the span of the failures they caused)
    into ``out_dir``. jwtobs is configured for the run (simulated clock, deterministic fingerprint key) and
    the previous configuration is restored afterwards."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events_path = out / "events.jsonl"
    events_path.unlink(missing_ok=True)
    previous = config._state
    sim = _Sim(scenario)
    jwtobs.configure(
        events_path=events_path,
        clock=sim.clock.now,
        fingerprint_key=f"jwtobs-simulation-{scenario.seed}",
        service="jwtobs-simulation",
        issuers=list(sim.issuers),
        from_env=False,
    )
    try:
        sim.run(progress)
    finally:
        config._flush_state(config.current(), close=True)
        config._state = previous
    labels = [lab.to_dict() for lab in sim.labels]
    labels_path = out / "labels.json"
    labels_path.write_text(json.dumps({"seed": scenario.seed, "incidents": labels}, indent=1) + "\n")
    pq: Path | None = None
    if parquet:
        from jwtobs.analysis.load import load_events

        pq = out / "events.parquet"
        load_events(events_path).to_parquet(pq, index=False)
    return SimulationResult(events_path, labels_path, pq, sim.validations, labels)
