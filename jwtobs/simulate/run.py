"""Run a :class:`Scenario`: drive the fleet on a simulated clock and write events, key-set changes and labels.

Output directory layout::

    events/<api>-<n>.jsonl     one file per API replica (validations, and the key-set changes its JwksSource saw)
    events/<api>-<n>.parquet   the validations of the same file (unless ``parquet=False``)
    events/issuers.jsonl       the key-set changes as each issuer published them
    labels.json                ground truth: injected incidents (kind, onset, resolved, entity, span of the
                               rejections they caused) and counts of the background's rejections

``jwtobs.analysis.load_events(out_dir)`` reads the whole directory.
"""

from __future__ import annotations

import heapq
import importlib.util
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
from jwt import exceptions as E

import jwtobs
from jwtobs import config
from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent, format_time
from jwtobs.simulate.fleet import (
    FETCH_TIMEOUT,
    Api,
    Client,
    Device,
    Issuer,
    Replica,
    SimClock,
    SimPyJWKClient,
    check_times,
    new_key,
)
from jwtobs.simulate.jwks_server import JwksServer
from jwtobs.simulate.scenario import Incident, Scenario, scenario_to_dict

__all__ = ["SIMULATOR_VERSION", "SimulationResult", "simulate"]

#: bumped whenever the same scenario would produce different events (cached runs are then redone)
SIMULATOR_VERSION = 3

Progress = Callable[[float], None]
_API_NAMES = ("orders", "billing", "search", "profile", "ledger", "media", "payments", "catalog")
_ALGS = ["EdDSA"]
#: the token of jwt.io's debugger, the one scanners send first
_JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@dataclass
class _Label:
    id: int
    kind: str
    injected_at: float
    entity: str | None = None
    issuer: str | None = None
    kid: str | None = None
    client_id: str | None = None
    profile: str | None = None
    resolved: float | None = None
    start: float | None = None
    end: float | None = None
    count: int = 0

    def hit(self, t: float) -> None:
        self.start = t if self.start is None else self.start
        self.end = t
        self.count += 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["onset"] = d["injected_at"]
        for k in ("injected_at", "onset", "resolved", "start", "end"):
            d[k] = None if d[k] is None else format_time(d[k])
        return d


@dataclass
class SimulationResult:
    #: the events directory (one file per replica; ``load_events`` reads it)
    events_path: Path
    labels_path: Path
    parquet_path: Path | None
    validations: int
    labels: list[dict[str, Any]] = field(default_factory=list)
    #: rejections of the background by cause (``expired_lazy``, ``resume``, ``restart``, ``retry``,
    #: ``scanner``, ``transit``, ``other``) and reason code
    background: dict[str, dict[str, int]] = field(default_factory=dict)


class _Router:
    """The one jwtobs sink of the run: hands each record to the file of the replica being called and
    stamps it with the replica's name as ``service``. It relies on sinks being called during the validation
    (``defer=False``): a deferred event would land in whichever replica is current when it is built."""

    def __init__(self) -> None:
        self.sink: JsonlSink | None = None
        self.service: str | None = None

    def __call__(self, event: ValidationEvent | KeySetChange) -> None:
        if self.sink is not None:
            event.service = self.service
            self.sink(event)


def _loguniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(max(lo, 1e-3)), math.log(max(hi, lo, 1e-3))))


class _Sim:
    def __init__(self, sc: Scenario, server: JwksServer, events_dir: Path) -> None:
        self.sc = sc
        self.bg = sc.background
        seed = sc.seed
        # independent streams: adding background does not move what the fleet or the incidents draw
        self.rng = random.Random(f"{seed}/fleet")
        self.traffic = random.Random(f"{seed}/traffic")
        self.noise = random.Random(f"{seed}/background")
        self.scan_rng = random.Random(f"{seed}/scanners")
        self.inc_rng = random.Random(f"{seed}/incidents")
        self.clock = SimClock(sc.start)
        self.server = server
        self.queue: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.labels: list[_Label] = []
        self.background: Counter[tuple[str, str]] = Counter()
        self.validations = 0
        self.skews: dict[str, tuple[float, Incident]] = {}
        self.scan_rate = 0.0
        self.router = _Router()
        self.sinks: list[JsonlSink] = []
        self.issuer_sink = JsonlSink(events_dir / "issuers.jsonl", max_buffer=4096)
        self.issuers = {}
        for i in range(max(1, sc.issuers)):
            name = f"https://idp{i}.example"
            self.issuers[name] = Issuer(name, f"idp{i}", random.Random(f"{seed}/issuer{i}"), server.publish)
        iss_list = list(self.issuers.values())
        self.apis: list[Api] = []
        self.replicas: list[tuple[Api, Replica, JsonlSink]] = []
        for i, n in enumerate(_API_NAMES[: max(1, min(sc.apis, len(_API_NAMES)))]):
            path = sc.validators[i % len(sc.validators)]
            api = Api(f"api-{n}", f"https://{n}.example/api", path)
            for r in range(max(1, sc.replicas)):
                rep = Replica(f"{api.name}-{r}", self._validator(api))
                api.replicas.append(rep)
                sink = JsonlSink(events_dir / f"{rep.name}.jsonl", max_buffer=4096)
                self.sinks.append(sink)
                self.replicas.append((api, rep, sink))
            self.apis.append(api)
        self.rep_sink = {id(rep): sink for _, rep, sink in self.replicas}
        self.max_lifetime = 2.0 * sc.token_lifetime
        self.clients: list[Client] = []
        bg = self.bg
        lo, hi = bg.devices
        spread = min(bg.device_clock_sd, sc.leeway / 4)
        for i in range(sc.clients):
            rng = self.rng
            apis = rng.sample(self.apis, k=min(len(self.apis), 1 + rng.randrange(2)))
            lifetime = sc.token_lifetime * rng.choice((0.5, 1.0, 1.0, 2.0))
            kind = "app" if rng.random() < bg.app_share else "service"
            c = Client(f"client-{i:02d}", kind, iss_list[i % len(iss_list)], apis, lifetime)
            for d in range(rng.randint(max(1, lo), max(1, lo, hi))):
                off = max(-sc.leeway / 2, min(sc.leeway / 2, rng.gauss(0.0, spread)))
                c.devices.append(Device(c, d, off, lazy=rng.random() < bg.lazy_refresh))
            self.clients.append(c)

    # -- validators ---------------------------------------------------------------------------------------
    def _validator(self, api: Api) -> Callable[[str], Any]:
        sc, clock = self.sc, self.clock
        leeway = sc.leeway
        if api.path == "verifier":
            sources = {
                iss.name: jwtobs.JwksSource(
                    self.server.url(iss.slug),
                    issuer=iss.name,
                    clock=clock.now,
                    default_ttl=sc.jwks_max_age,
                    timeout=FETCH_TIMEOUT,
                )
                for iss in self.issuers.values()
            }

            def verifiers(aud: str) -> jwtobs.VerifierSet:
                return jwtobs.VerifierSet(
                    [
                        jwtobs.Verifier(
                            jwtobs.Profile(name=api.name, issuer=n, audience=aud, algorithms=("EdDSA",), leeway=leeway),
                            keys=src,
                            clock=clock.now,
                        )
                        for n, src in sources.items()
                    ]
                )

            good, bad = verifiers(api.audience), verifiers(api.wrong_audience)

            def verify(token: str) -> Any:
                return (good if api.misconfigured is None else bad).verify(token)

            return verify

        jwks = {
            iss.name: SimPyJWKClient(self.server.url(iss.slug), lifespan=sc.jwks_ttl, clock=clock.now)
            for iss in self.issuers.values()
        }
        dummy = new_key(random.Random(0)).public_key()

        def validate(token: str) -> dict[str, Any]:
            # what PyJWT's documentation shows: the issuer's PyJWKClient, then jwt.decode
            unverified = jwt.decode_complete(token, options={"verify_signature": False})
            header = unverified["header"]
            if header.get("alg") not in _ALGS:
                jwt.decode(token, dummy, algorithms=_ALGS)  # PyJWT rejects the algorithm itself
                raise E.InvalidAlgorithmError("The specified alg value is not allowed")
            iss = unverified["payload"].get("iss")
            client = jwks.get(iss) if isinstance(iss, str) else None
            if client is None:
                raise E.InvalidIssuerError("Invalid issuer")
            key = client.get_signing_key(header.get("kid"))
            aud = api.audience if api.misconfigured is None else api.wrong_audience
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=_ALGS,
                audience=aud,
                issuer=iss,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["exp", "iss"]},
            )
            check_times(claims, clock.t, leeway)
            return claims

        return jwtobs.wrap(validate, library="pyjwt", profile=api.name)

    # -- scheduling ---------------------------------------------------------------------------------------
    def at(self, t: float, what: str, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (t, self._seq, what, arg))

    def rate_factor(self, t: float) -> float:
        """Diurnal traffic: mean 1 over a day, peak at ``peak_hour`` UTC."""
        hour = (t % 86_400.0) / 3600.0
        return 1.0 + self.bg.diurnal_amplitude * math.cos(2 * math.pi * (hour - self.bg.peak_hour) / 24.0)

    def next_request(self, d: Device, now: float) -> None:
        per_device = 1.0 / (self.sc.request_interval * len(d.client.devices))
        rate = max(per_device * self.rate_factor(now), 1e-6)
        self.at(now + self.traffic.expovariate(rate), "request", d)

    def keyset_changed(self, iss: Issuer, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        self.issuer_sink(KeySetChange(self.clock.t, iss.name, added, removed, len(iss.published), f"{iss.slug}-jwks"))

    def label(self, inc: Incident, **kw: Any) -> _Label:
        lab = _Label(len(self.labels), inc.kind, self.clock.t, **kw)
        self.labels.append(lab)
        return lab

    # -- key management -----------------------------------------------------------------------------------
    def rotate(self, iss: Issuer) -> None:
        """A well-run rotation: publish, switch signing after ``rotation_lead``, remove the old key once every
        token it signed has expired (plus 10 min)."""
        kid = iss.new_key()
        iss.publish(kid)
        self.keyset_changed(iss, (kid,), ())
        self.at(self.clock.t + max(self.sc.rotation_lead, 2 * self.sc.jwks_ttl), "switch", (iss, kid))
        self.at(self.clock.t + self.sc.rotation_every, "rotate", iss)

    def switch(self, iss: Issuer, kid: str) -> None:
        old = iss.signing_kid
        iss.switch(kid, self.clock.t)
        if old:
            self.at(self.clock.t + self.max_lifetime + 600, "retire", (iss, old))

    def retire(self, iss: Issuer, kid: str) -> None:
        if kid in iss.published and kid != iss.signing_kid:
            iss.unpublish(kid)
            self.keyset_changed(iss, (), (kid,))

    # -- incidents ----------------------------------------------------------------------------------------
    def inject(self, inc: Incident) -> None:
        now = self.clock.t
        if inc.kind == "kid_before_publish":
            iss = self._issuer(inc.target)
            kid = iss.new_key()
            lab = self.label(inc, issuer=iss.name, kid=kid, entity=iss.name, resolved=now + inc.duration)
            iss.unpublished[kid] = lab.id
            old = iss.signing_kid
            iss.switch(kid, now)
            for c in self.clients:  # the clients renew onto the unpublished key
                if c.issuer is iss:
                    for d in c.devices:
                        d.token = None
            self.at(now + inc.duration, "publish", (iss, kid))
            self.at(now + inc.duration + self.max_lifetime + 600, "retire", (iss, old))
        elif inc.kind == "key_removed_early":
            iss = self._issuer(inc.target)
            old = iss.signing_kid
            lab = self.label(inc, issuer=iss.name, kid=old, entity=iss.name)
            kid = iss.new_key()
            iss.publish(kid)
            iss.switch(kid, now)
            iss.unpublish(old)
            iss.removed_early[old] = lab.id
            self.keyset_changed(iss, (kid,), (old,))
        elif inc.kind == "jwks_outage":
            iss = self._issuer(inc.target)
            lab = self.label(inc, issuer=iss.name, entity=iss.name, resolved=now + inc.duration)
            iss.down = lab.id
            self.server.down(iss.slug, True)
            self.at(now + inc.duration, "restore_jwks", iss)
        elif inc.kind == "signature_spike":
            iss = self._issuer(inc.target)
            kid = iss.signing_kid
            lab = self.label(inc, issuer=iss.name, kid=kid, entity=iss.name, resolved=now + inc.duration)
            # the JWKS is redeployed with new material under the same kid, the signer still uses the old key
            iss.swapped[kid] = lab.id
            iss.publish(kid, new_key(self.inc_rng).public_key())
            self.at(now + inc.duration, "unswap", (iss, kid))
        elif inc.kind == "clock_skew":
            c = self._client(inc.target, proactive=True)
            lab = self.label(
                inc, client_id=c.client_id, issuer=c.issuer.name, entity=c.client_id, resolved=now + inc.duration
            )
            c.skew_label = lab.id
            self.skews[c.client_id] = (now, inc)
            self.at(now + inc.duration, "unskew", c)
        elif inc.kind == "audience_misconfig":
            api = self._api(inc.target)
            lab = self.label(inc, profile=api.name, entity=api.name, resolved=now + inc.duration)
            api.misconfigured = lab.id
            self.at(now + inc.duration, "fix_api", api)
        elif inc.kind == "type_confusion":
            c = self._client(inc.target)
            lab = self.label(
                inc, client_id=c.client_id, issuer=c.issuer.name, entity=c.client_id, resolved=now + inc.duration
            )
            c.id_token_label = lab.id
            self.at(now + inc.duration, "no_id_tokens", c)
        elif inc.kind == "attack_burst":
            lab = self.label(inc, resolved=now + inc.duration)
            end = now + inc.duration
            t = now
            while t < end:
                self.at(t, "attack", lab)
                t += self.inc_rng.expovariate(max(inc.rate, 1e-3))

    def skew_of(self, c: Client, now: float) -> float:
        got = self.skews.get(c.client_id)
        if got is None or c.skew_label is None:
            return 0.0
        t0, inc = got
        frac = 1.0 if inc.ramp <= 0 else min(1.0, (now - t0) / inc.ramp)
        return abs(inc.skew) * frac

    def _issuer(self, name: str) -> Issuer:
        return self.issuers.get(name) or self.inc_rng.choice(list(self.issuers.values()))

    def _api(self, name: str) -> Api:
        return next((a for a in self.apis if a.name == name), None) or self.inc_rng.choice(self.apis)

    def _client(self, name: str, proactive: bool = False) -> Client:
        found = next((c for c in self.clients if c.client_id == name), None)
        if found is not None:
            return found
        pool = [c for c in self.clients if not proactive or c.lifetime <= self.sc.token_lifetime]
        return self.inc_rng.choice(pool or self.clients)

    # -- traffic ------------------------------------------------------------------------------------------
    def request(self, d: Device) -> None:
        """One ordinary request of a device (and its next one scheduled)."""
        now = self.clock.t
        if d.asleep_until > now:  # asleep or restarting: the chain resumes when it is back
            self.at(d.asleep_until + self.traffic.expovariate(1.0), "request", d)
            return
        self.next_request(d, now)
        c = d.client
        api = self.traffic.choice(c.apis)
        if c.id_token_label is not None:
            self.send(api, c.id_token(now, self.traffic), c.id_token_label, None)
            return
        skew = self.skew_of(c, now)
        refresh_at = d.exp - self.bg.refresh_margin
        if d.token is None or ((not d.lazy or skew) and now + d.clock_offset - skew >= refresh_at):
            c.issue(d, now, self.traffic)
        token = d.token
        assert token is not None
        label = c.skew_label if skew and now > d.exp + self.sc.leeway else None
        tag = "expired_lazy" if d.lazy else "other"
        r = self.noise.random()
        if r < self.bg.malformed_rate:
            token = token[: self.noise.randrange(5, len(token))]  # truncated in transit
            tag = "transit"
        elif r < self.bg.malformed_rate * 1.3:
            token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")  # corrupted signature
            tag = "transit"
        elif r < self.bg.malformed_rate * 1.3 + self.bg.retry_rate:
            lo, hi = self.bg.retry_delay
            self.at(now + _loguniform(self.noise, lo, hi), "send", (api, token, None, "retry", None))
        reason = self.send(api, token, label, tag)
        if reason is not None and d.lazy and not skew and tag != "transit":
            c.issue(d, now, self.traffic)  # refresh after the 401 and retry once, at once
            self.at(now + self.noise.uniform(0.05, 0.5), "send", (api, d.token, None, "other", None))

    def wake(self, d: Device, tag: str) -> None:
        """An app resumed or a worker pool restarted: fire the cached token in parallel, then refresh."""
        now = self.clock.t
        c = d.client
        if d.token is None:
            return
        lo, hi = self.bg.resume_burst
        for _ in range(self.noise.randint(max(1, lo), max(1, lo, hi))):
            api = self.noise.choice(c.apis)
            self.at(now + self.noise.uniform(0.0, 1.5), "send", (api, d.token, None, tag, None))

    def sleep(self, d: Device) -> None:
        now = self.clock.t
        bg = self.bg
        self.at(now + self.noise.expovariate(bg.sleeps_per_day / 86_400.0), "sleep", d)
        if d.asleep_until > now:
            return
        d.asleep_until = now + bg.sleep_median * math.exp(self.noise.gauss(0.0, bg.sleep_sigma))
        self.at(d.asleep_until, "wake", (d, "resume"))

    def restart(self, c: Client) -> None:
        now = self.clock.t
        bg = self.bg
        self.at(now + self.noise.expovariate(bg.restarts_per_day / 86_400.0), "restart", c)
        back = now + 60.0 * math.exp(self.noise.gauss(0.0, 1.0))  # deploys take a minute or so
        if self.noise.random() < bg.restart_stale:
            lo, hi = bg.restart_stale_age
            exp = back - _loguniform(self.noise, lo, hi)
            cached: str | None = c.old_token(exp, self.noise)
        else:
            exp, cached = (c.devices[0].exp, c.devices[0].token)
        settle = self.noise.uniform(*bg.restart_settle)
        for d in c.devices:
            d.asleep_until = back
            d.token, d.exp = cached, exp
            self.at(back, "wake", (d, "restart"))
            self.at(back + settle, "settled", d)

    def scan(self, _: Any) -> None:
        """An internet scanner: garbage tokens with no client id (alg none, default typ, random kids...)."""
        now = self.clock.t
        rng = self.scan_rng
        self.at(now + rng.expovariate(max(self.scan_rate, 1e-6) / 60.0), "scan", None)
        api = rng.choice(self.apis)
        iss = rng.choice(list(self.issuers.values()))
        k = rng.randrange(6)
        claims = {"sub": rng.choice(("admin", "1", "root", "test")), "iat": int(now), "admin": True}
        if k == 0:
            token = _JWT_IO
        elif k == 1:
            token = jwt.encode(claims, "", algorithm="none", headers={"typ": "JWT"})
        elif k == 2:
            kid = rng.choice(("1", "default", "../../../../dev/null", f"{rng.getrandbits(32):08x}"))
            token = jwt.encode({**claims, "iss": iss.name}, rng.randbytes(32), algorithm="HS256", headers={"kid": kid})
        elif k == 3:
            claims |= {"iss": iss.name, "aud": api.audience, "exp": int(now) + 3600}
            token = jwt.encode(claims, new_key(rng), algorithm="EdDSA", headers={"kid": f"{rng.getrandbits(48):012x}"})
        elif k == 4:
            token = "eyJhbGciOiJIUzI1NiJ9." + _b64ish(rng, rng.randrange(8, 60)) + "." + _b64ish(rng, 43)
        else:
            token = rng.choice(("null", "undefined", "Bearer", "eyJ", "{}", "' OR 1=1 --"))
        self.send(api, token, None, "scanner")

    def attack(self, lab: _Label) -> None:
        rng = self.inc_rng
        now = int(self.clock.t)
        iss = rng.choice(list(self.issuers.values()))
        api = rng.choice(self.apis)
        claims = {
            "iss": iss.name,
            "sub": "admin",
            "client_id": f"x{rng.getrandbits(32):08x}",
            "aud": api.audience,
            "iat": now,
            "exp": now + 3600,
        }
        kind = rng.randrange(4)
        if kind == 0:
            token = jwt.encode(claims, "", algorithm="none")
        elif kind == 1:
            headers = {"kid": f"{rng.getrandbits(48):012x}", "jku": "https://attacker.example/jwks.json"}
            token = jwt.encode(claims, new_key(rng), algorithm="EdDSA", headers=headers)
        elif kind == 2:
            token = jwt.encode(claims, new_key(rng), algorithm="EdDSA", headers={"kid": iss.signing_kid})
        else:
            token = jwt.encode(claims, new_key(rng), algorithm="EdDSA", headers={"kid": f"{rng.getrandbits(40):x}"})
        self.send(api, token, lab.id, None)

    def send(self, api: Api, token: str | None, label: int | None, tag: str | None) -> str | None:
        """One validation at a random replica of ``api``; the rejection reason (None when accepted) is
        attributed to an injected incident or counted as background."""
        rep = api.replicas[self.traffic.randrange(len(api.replicas))] if len(api.replicas) > 1 else api.replicas[0]
        self.router.sink = self.rep_sink[id(rep)]
        self.router.service = rep.name
        self.validations += 1
        try:
            rep.validate(token)  # type: ignore[arg-type]
            return None
        except Exception as exc:
            reason = jwtobs.reason_of(exc)
            code = reason.value if reason is not None else "JWT_VALIDATOR_ERROR"
        lab = label if label is not None else self._cause(api, token, code)
        if lab is not None:
            self.labels[lab].hit(self.clock.t)
        else:
            self.background[(tag or "other", code)] += 1
        return code

    def _cause(self, api: Api, token: str | None, code: str) -> int | None:
        """Which injected incident (if any) made this token fail with ``code``."""
        if code == "JWT_AUDIENCE_MISMATCH":
            return api.misconfigured
        if code not in ("JWT_JWKS_UNAVAILABLE", "JWT_UNKNOWN_KID", "JWT_BAD_SIGNATURE") or not token:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        iss = self.issuers.get(str(claims.get("iss")))
        if iss is None or not isinstance(kid, str):
            return None
        if code == "JWT_JWKS_UNAVAILABLE":
            return iss.down
        if code == "JWT_BAD_SIGNATURE":
            return iss.swapped.get(kid)
        if kid in iss.unpublished:
            return iss.unpublished[kid]
        if kid in iss.removed_early and int(claims.get("exp", 0)) > self.clock.t - self.sc.leeway:
            return iss.removed_early[kid]  # tokens already past exp are background, not the incident
        return None

    # -- main loop ----------------------------------------------------------------------------------------
    def run(self, progress: Progress | None) -> None:
        sc, bg = self.sc, self.bg
        for iss in self.issuers.values():
            kid = iss.new_key()
            iss.publish(kid)
            iss.switch(kid, sc.start - self.max_lifetime - 600)
            self.keyset_changed(iss, (kid,), ())
            self.at(sc.start + self.rng.uniform(0.2, 1.0) * sc.rotation_every, "rotate", iss)
        for c in self.clients:
            for d in c.devices:
                self.at(sc.start + self.traffic.uniform(0, sc.request_interval * len(c.devices)), "request", d)
                if c.kind == "app" and bg.sleeps_per_day > 0:
                    self.at(sc.start + self.noise.expovariate(bg.sleeps_per_day / 86_400.0), "sleep", d)
            if c.kind == "service" and bg.restarts_per_day > 0:
                self.at(sc.start + self.noise.expovariate(bg.restarts_per_day / 86_400.0), "restart", c)
        if bg.api_deploys_per_day > 0:
            for api in self.apis:
                self.at(sc.start + self.noise.expovariate(bg.api_deploys_per_day / 86_400.0), "deploy", api)
        if bg.scanners_per_min[1] > 0:
            self.at(sc.start, "scan_rate", None)
            self.at(sc.start + 1.0, "scan", None)
        for inc in sc.incidents:
            self.at(sc.start + inc.at, "inject", inc)
        end = sc.start + sc.duration
        next_tick = sc.start
        handlers: dict[str, Callable[[Any], None]] = {
            "request": self.request,
            "send": self._send,
            "sleep": self.sleep,
            "wake": lambda a: self.wake(*a),
            "settled": self._settled,
            "restart": self.restart,
            "scan": self.scan,
            "deploy": self.deploy,
            "restart_replica": self._restart_replica,
            "scan_rate": self._scan_rate,
            "attack": self.attack,
            "inject": self.inject,
            "rotate": self.rotate,
            "switch": lambda a: self.switch(*a),
            "retire": lambda a: self.retire(*a),
            "publish": self._publish,
            "restore_jwks": self._restore,
            "unswap": self._unswap,
            "unskew": self._unskew,
            "fix_api": self._fix_api,
            "no_id_tokens": self._no_id_tokens,
        }
        while self.queue:
            t, _, what, arg = heapq.heappop(self.queue)
            if t >= end:
                break
            self.clock.t = t
            if progress is not None and t >= next_tick:
                progress((t - sc.start) / sc.duration)
                next_tick = t + sc.duration / 100
            handlers[what](arg)
        if progress is not None:
            progress(1.0)

    def _send(self, arg: tuple[Api, str, int | None, str | None, None]) -> None:
        self.send(*arg[:4])

    def deploy(self, api: Api) -> None:
        """A rolling deploy of ``api``: its replicas restart one after the other with empty JWKS caches."""
        now = self.clock.t
        self.at(now + self.noise.expovariate(self.bg.api_deploys_per_day / 86_400.0), "deploy", api)
        t = now
        for rep in api.replicas:
            t += self.noise.uniform(30.0, 90.0)
            self.at(t, "restart_replica", (api, rep))

    def _restart_replica(self, arg: tuple[Api, Replica]) -> None:
        api, rep = arg
        rep.validate = self._validator(api)

    def _settled(self, d: Device) -> None:
        """The workers picked up the token refreshed after the restart's first rejection."""
        if d.token is not None and d.exp <= self.clock.t:
            d.client.issue(d, self.clock.t, self.noise)

    def _scan_rate(self, _: Any) -> None:
        lo, hi = self.bg.scanners_per_min
        self.scan_rate = self.scan_rng.uniform(lo, hi)
        self.at(self.clock.t + 3600.0, "scan_rate", None)

    def _publish(self, arg: tuple[Issuer, str]) -> None:
        iss, kid = arg
        if kid in iss.removed_early:  # a later incident removed it meanwhile
            return
        iss.publish(kid)
        self.keyset_changed(iss, (kid,), ())

    def _restore(self, iss: Issuer) -> None:
        iss.down = None
        self.server.down(iss.slug, False)

    def _unswap(self, arg: tuple[Issuer, str]) -> None:
        iss, kid = arg
        iss.swapped.pop(kid, None)
        if kid in iss.published:
            iss.publish(kid)

    def _unskew(self, c: Client) -> None:
        c.skew_label = None
        self.skews.pop(c.client_id, None)

    def _fix_api(self, api: Api) -> None:
        api.misconfigured = None

    def _no_id_tokens(self, c: Client) -> None:
        c.id_token_label = None

    def close(self) -> None:
        for sink in (*self.sinks, self.issuer_sink):
            sink.close()


def _b64ish(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _clean(events_dir: Path) -> None:
    """Remove the files a previous run left (only the kinds this function writes)."""
    if events_dir.is_dir():
        for p in events_dir.iterdir():
            if p.is_file() and p.suffix in (".jsonl", ".parquet"):
                p.unlink()


def parquet_available() -> bool:
    """Whether the Parquet copies can be written (pandas and pyarrow: the ``analysis`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("pandas", "pyarrow"))


def simulate(
    scenario: Scenario, out_dir: str | Path, *, parquet: bool = True, progress: Progress | None = None
) -> SimulationResult:
    """Run ``scenario`` and write the replicas' event files, the issuers' key-set changes and
    ``labels.json`` into ``out_dir`` (layout in the module docstring). jwtobs is configured for the run
    (simulated clock, deterministic fingerprint key, no-op OpenTelemetry providers) and the previous
    configuration is restored afterwards. ``parquet=True`` needs the ``analysis`` extra: without it this raises
    ``ModuleNotFoundError`` before simulating anything."""
    from opentelemetry import metrics, trace

    if parquet:
        from jwtobs.analysis.load import load_events  # (checked before the run, not after it)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events_dir = out / "events"
    events_dir.mkdir(exist_ok=True)
    _clean(events_dir)
    for legacy in (out / "labels.json", out / "events.jsonl", out / "events.parquet"):  # and the old layout's
        legacy.unlink(missing_ok=True)
    with JwksServer(max_age=int(scenario.jwks_max_age)) as server:
        sim = _Sim(scenario, server, events_dir)
        try:
            with config.override(
                sinks=[sim.router],
                clock=sim.clock.now,
                fingerprint_key=f"jwtobs-simulation-{scenario.seed}",
                service="jwtobs-simulation",
                issuers=list(sim.issuers),
                tracer_provider=trace.NoOpTracerProvider(),
                meter_provider=metrics.NoOpMeterProvider(),
                defer=False,  # every event in the files, in order (a full deferred queue would drop)
                from_env=False,
            ):
                sim.run(progress)
        finally:
            sim.close()
    pq: Path | None = None
    if parquet:
        for _, rep, _ in sim.replicas:
            src = events_dir / f"{rep.name}.jsonl"
            if src.exists():
                load_events(src).to_parquet(src.with_suffix(".parquet"), index=False)
        pq = events_dir
    labels = [lab.to_dict() for lab in sim.labels]
    background: dict[str, dict[str, int]] = {}
    for (cause, code), n in sorted(sim.background.items()):
        background.setdefault(cause, {})[code] = n
    labels_path = out / "labels.json"
    doc = {
        "simulator": SIMULATOR_VERSION,
        "seed": scenario.seed,
        "scenario": scenario_to_dict(scenario),
        "validations": sim.validations,
        "incidents": labels,
        "background": background,
    }
    labels_path.write_text(json.dumps(doc, indent=1) + "\n")  # last: a complete run has labels.json
    return SimulationResult(events_dir, labels_path, pq, sim.validations, labels, background)
