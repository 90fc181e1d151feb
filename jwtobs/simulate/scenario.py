"""Scenario: what the simulated fleet looks like, its background noise, and which incidents are injected.

Scenarios are TOML (stdlib ``tomllib``): top-level keys of :class:`Scenario`, a ``[background]`` table with
the keys of :class:`Background`, and ``[[incident]]`` tables with the keys of :class:`Incident`. Every key
is optional; the defaults describe a small, realistic fleet (see ``docs/analysis.md``). A scenario that
cannot be simulated raises :class:`~jwtobs.exceptions.ConfigurationError` (a ``ValueError``): the CLI prints
one line and exits 2. The duration is finite, more than 0 and at most :data:`MAX_DURATION` (31 days).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from jwtobs.exceptions import ConfigurationError
from jwtobs.kinds import SIMULATED_KINDS

__all__ = [
    "Background",
    "SIMULATED_KINDS",
    "Incident",
    "MAX_DURATION",
    "Scenario",
    "VALIDATOR_PATHS",
    "default_scenario",
    "load_scenario",
    "scenario_from_dict",
    "scenario_to_dict",
]

#: how a simulated API validates: ``pyjwt`` = ``jwtobs.wrap`` around ``PyJWKClient`` + ``jwt.decode``;
#: ``verifier`` = ``jwtobs.Verifier`` with a ``JwksSource`` (both fetch the JWKS over loopback HTTP)
VALIDATOR_PATHS = ("pyjwt", "verifier")

#: the longest simulated run (s): 31 days (``jwtobs simulate/demo --hours`` at most 744)
MAX_DURATION = 31 * 86_400.0
#: seeds are 64-bit signed integers (the range of a TOML integer)
_SEED_RANGE = range(-(2**63), 2**63)


def check_duration(duration: object) -> float:
    """``duration`` (simulated seconds) if it is a finite number, more than 0 and at most :data:`MAX_DURATION`;
    else :class:`ConfigurationError` saying so (an infinite or huge duration would run for ever)."""
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not math.isfinite(duration)
        or not 0 < duration <= MAX_DURATION
    ):
        raise ConfigurationError(
            f"scenario duration must be more than 0 and at most 31 days ({MAX_DURATION:.0f} s = "
            f"{MAX_DURATION / 3600:.0f} hours); got {duration!r} s"
        )
    return float(duration)


def check_seed(seed: object) -> int:
    """``seed`` if it is a 64-bit signed integer, else :class:`ConfigurationError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed not in _SEED_RANGE:
        big = isinstance(seed, int) and not -(10**40) < seed < 10**40
        shown = "an integer of more than 40 digits" if big else repr(seed)
        raise ConfigurationError(f"scenario seed must be an integer in [-2**63, 2**63 - 1]; got {shown}")
    return seed


@dataclass(frozen=True)
class Incident:
    """One injected incident: ``kind`` (one of :data:`SIMULATED_KINDS`), ``at`` and ``duration`` in simulated
    seconds from the scenario start, and ``target`` (an issuer, API or client name; chosen by the
    simulator when empty). ``skew`` is the clock offset of a ``clock_skew`` incident (seconds behind);
    ``ramp`` > 0 makes it a drift: the offset grows linearly from 0 to ``skew`` over ``ramp`` seconds.
    ``rate`` is the tokens per second of an ``attack_burst``."""

    kind: str
    at: float
    duration: float = 1200.0
    target: str = ""
    skew: float = 900.0
    ramp: float = 0.0
    rate: float = 2.0


@dataclass(frozen=True)
class Background:
    """What real fleets do all day, injected in every scenario unless switched off (rates are per simulated
    second/day as named; ``(a, b)`` pairs are uniform ranges)."""

    #: traffic follows the time of day: rate x (1 + a sin(...)), peak at ``peak_hour`` UTC
    diurnal_amplitude: float = 0.6
    peak_hour: float = 14.0
    #: devices (hosts, worker processes, phones, laptops) per client_id, each with its own clock and token
    devices: tuple[int, int] = (1, 6)
    #: standard deviation of a device's clock offset (s), clipped to half the validators' leeway
    device_clock_sd: float = 4.0
    #: share of clients that are user-facing apps (devices sleep and resume); the rest are services
    #: (worker pools that restart)
    app_share: float = 0.5
    #: share of devices that refresh only after a rejection (present the expired token once per lifetime)
    lazy_refresh: float = 0.5
    #: proactive devices refresh this many seconds before ``exp`` by their own clock
    refresh_margin: float = 60.0
    #: app devices: sleeps per device per day (laptop lid, app backgrounded); duration log-normal
    sleeps_per_day: float = 4.0
    sleep_median: float = 3600.0
    sleep_sigma: float = 1.4
    #: requests an app fires with its cached token when it resumes, before refreshing
    resume_burst: tuple[int, int] = (1, 4)
    #: share of requests retried later with the same token, delay log-uniform in ``retry_delay``
    retry_rate: float = 0.01
    retry_delay: tuple[float, float] = (1.0, 900.0)
    #: service clients: restarts per client per day; the worker pool reads its cached token
    restarts_per_day: float = 1.0
    #: share of restarts whose cached token is stale, and how long past ``exp`` (log-uniform)
    restart_stale: float = 0.6
    restart_stale_age: tuple[float, float] = (60.0, 86_400.0)
    #: seconds until the workers pick up the refreshed token after the first rejection
    restart_settle: tuple[float, float] = (2.0, 20.0)
    #: internet scanners: garbage tokens per minute (the rate is redrawn every hour within the range)
    scanners_per_min: tuple[float, float] = (1.0, 3.0)
    #: tokens truncated or corrupted in transit
    malformed_rate: float = 0.0005
    #: rolling deploys per API per day: each replica restarts in turn with empty JWKS caches
    api_deploys_per_day: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            if any(x < 0 or not math.isfinite(x) for x in vals):
                raise ConfigurationError(f"background {f.name} must be finite and not negative: {v!r}")
            if isinstance(v, tuple) and v[0] > v[1]:
                raise ConfigurationError(f"background {f.name}: the range {v!r} is reversed")
        if self.devices[0] < 1 or max(self.app_share, self.lazy_refresh, self.restart_stale) > 1:
            raise ConfigurationError(
                "background: devices start at 1; app_share, lazy_refresh, restart_stale are shares"
            )

    @classmethod
    def none(cls) -> Background:
        """No background at all: flat traffic, one device per client with a correct clock, nothing
        expired, no scanners (to look at an incident in isolation; real fleets never look like this)."""
        return cls(
            diurnal_amplitude=0.0,
            devices=(1, 1),
            device_clock_sd=0.0,
            lazy_refresh=0.0,
            sleeps_per_day=0.0,
            retry_rate=0.0,
            restarts_per_day=0.0,
            scanners_per_min=(0.0, 0.0),
            malformed_rate=0.0,
            api_deploys_per_day=0.0,
        )


@dataclass(frozen=True)
class Scenario:
    seed: int = 1
    start: float = 1_795_000_000.0  # 2026-11-18T09:46:40Z: a fixed epoch keeps runs comparable
    duration: float = 86_400.0
    issuers: int = 2
    apis: int = 3
    clients: int = 12
    request_interval: float = 30.0  # mean seconds between one client's requests (all its devices)
    token_lifetime: float = 3600.0
    jwks_ttl: float = 300.0  # PyJWKClient's lifespan (its default; it ignores Cache-Control)
    jwks_max_age: float = 3600.0  # the endpoint's Cache-Control max-age (JwksSource honours it)
    rotation_every: float = 6 * 3600.0
    rotation_lead: float = 900.0  # a new key is published this long before signing switches to it
    leeway: int = 60  # clock leeway of every validator (s)
    replicas: int = 2  # replicas per API, each with its own JWKS caches and event file
    validators: tuple[str, ...] = VALIDATOR_PATHS  # cycled over the APIs
    background: Background = field(default_factory=Background)
    incidents: tuple[Incident, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_duration(self.duration)
        positive = ("duration", "request_interval", "token_lifetime", "jwks_ttl", "jwks_max_age", "rotation_every")
        for name in positive:
            if not getattr(self, name) > 0 or not math.isfinite(getattr(self, name)):
                raise ConfigurationError(f"scenario {name} must be positive and finite")
        if self.issuers < 1 or self.apis < 1 or self.replicas < 1 or self.clients < 0:
            raise ConfigurationError("scenario: at least one issuer, API and replica; clients >= 0")
        if not 0 <= self.leeway <= 300 or self.rotation_lead < 0:
            raise ConfigurationError("scenario leeway must be in [0, 300] s and rotation_lead >= 0")
        if not self.validators or any(v not in VALIDATOR_PATHS for v in self.validators):
            raise ConfigurationError(f"scenario validators: a list of {VALIDATOR_PATHS}, got {self.validators!r}")
        for inc in self.incidents:
            if inc.kind not in SIMULATED_KINDS:
                raise ConfigurationError(f"unknown incident kind {inc.kind!r}; expected one of {SIMULATED_KINDS}")
            numbers = (inc.at, inc.duration, inc.skew, inc.ramp, inc.rate)
            if not (inc.at >= 0 and inc.duration > 0 and inc.rate > 0 and inc.ramp >= 0) or not all(
                math.isfinite(x) for x in numbers
            ):
                raise ConfigurationError(
                    f"incident {inc.kind}: at >= 0, duration > 0, rate > 0, ramp >= 0 (all finite)"
                )

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


def default_scenario(seed: int = 1, duration: float = 86_400.0) -> Scenario:
    """The demo: a day of the default fleet and background with one incident of every kind, spread out so
    they do not overlap."""
    seed, duration = check_seed(seed), check_duration(duration)
    gap = duration / (len(SIMULATED_KINDS) + 1)
    durations = {"attack_burst": 300.0, "clock_skew": 7200.0}
    jitter = (seed * 97.0) % min(600.0, gap / 4)
    incs = tuple(
        Incident(kind=k, at=gap * (i + 0.5) + jitter, duration=min(durations.get(k, 1200.0), gap * 0.6))
        for i, k in enumerate(SIMULATED_KINDS)
    )
    return Scenario(seed=seed, duration=duration, incidents=incs)


def _pairs(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Check keys against the dataclass and turn TOML arrays into tuples (with the right length)."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigurationError(f"unknown {where} keys: {sorted(unknown)}")
    out: dict[str, Any] = {}
    proto = cls(kind="", at=0.0) if cls is Incident else cls()
    for k, v in data.items():
        default = getattr(proto, k)
        if isinstance(v, list):
            v = tuple(v)
            if isinstance(default, tuple) and k != "validators" and len(v) != len(default):
                raise ConfigurationError(f"{where} key {k!r} takes {len(default)} values, got {len(v)}")
        if not _same_type(v, default):
            raise ConfigurationError(f"{where} key {k!r}: expected {_kind(default)}, got {v!r}")
        out[k] = v
    return out


def _kind(v: object) -> str:
    if isinstance(v, tuple):
        return "a list of strings" if v and isinstance(v[0], str) else "a list of numbers"
    return "a number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__


def _same_type(v: object, default: object) -> bool:
    if isinstance(default, tuple):
        return isinstance(v, tuple) and all(_same_type(x, default[0]) for x in v) if default else True
    if isinstance(default, bool) or isinstance(v, bool):
        return isinstance(v, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(v, (int, float)) and v == v  # NaN
    return type(v) is type(default)


def scenario_to_dict(sc: Scenario) -> dict[str, Any]:
    """The TOML/JSON form of ``sc`` (``scenario_from_dict`` reads it back)."""
    d = asdict(sc)
    d["incident"] = d.pop("incidents")
    return d


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """A :class:`Scenario` from the parsed TOML mapping (raises ``ValueError`` on unknown keys or kinds)."""
    data = dict(data)
    raw_incs = data.pop("incident", [])
    raw_bg = data.pop("background", {})
    if "incidents" in data or not isinstance(raw_bg, dict) or not isinstance(raw_incs, list):
        raise ConfigurationError("incidents are [[incident]] tables and the background a [background] table")
    top = _pairs(Scenario, data, "scenario")
    incs = []
    for item in raw_incs:
        if not isinstance(item, dict) or item.get("kind") not in SIMULATED_KINDS:
            kind = item.get("kind") if isinstance(item, dict) else item
            raise ConfigurationError(f"unknown incident kind {kind!r}; expected one of {SIMULATED_KINDS}")
        incs.append(Incident(**_pairs(Incident, item, "incident")))
    return Scenario(**top, background=Background(**_pairs(Background, raw_bg, "background")), incidents=tuple(incs))


def load_scenario(path: str | Path) -> Scenario:
    """Read a TOML scenario (see the module docstring)."""
    with open(path, "rb") as f:
        try:
            data: dict[str, Any] = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # (not UTF-8: the message named no file)
            raise ConfigurationError(f"{path}: not a TOML scenario ({exc})") from None
    return scenario_from_dict(data)
