"""Incident kinds: the one table of what the detectors report and what the simulator injects.

``jwtobs.analysis.detect`` reports these kinds; ``jwtobs.simulate`` labels its injected incidents with them;
``docs/analysis.md`` describes them. Everything else imports :data:`INCIDENT_KINDS` (or :data:`KIND_INFO`)
from here. Pure standard library, so the simulator and the core can import it without pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Severity", "KindInfo", "KIND_INFO", "INCIDENT_KINDS", "SIMULATED_KINDS", "SEVERITIES"]

Severity = Literal["low", "medium", "high", "critical"]
#: in increasing order
SEVERITIES: Final[tuple[Severity, ...]] = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class KindInfo:
    """One incident kind: its scope (which incident column names the culprit), the severity it gets when
    it touches a small part of the traffic, a one-line summary, and whether ``jwtobs.simulate`` injects it
    (``simulated``; the others are injected by the benchmarks' own generators)."""

    scope: Literal["issuer", "kid", "client", "profile", "fleet"]
    severity: Severity
    summary: str
    simulated: bool = True


KIND_INFO: Final[dict[str, KindInfo]] = {
    "kid_before_publish": KindInfo("kid", "high", "tokens signed with a kid the key set does not publish yet"),
    "key_removed_early": KindInfo("kid", "high", "a key left the key set while tokens signed with it were still valid"),
    "jwks_outage": KindInfo("issuer", "high", "the issuer's key set could not be fetched"),
    "signature_spike": KindInfo(
        "kid", "high", "legitimate clients' tokens fail signature checks on one kid (key material replaced)"
    ),
    "clock_skew": KindInfo(
        "client", "medium", "a client keeps using tokens past exp (or before nbf): its clock is off"
    ),
    "server_clock_skew": KindInfo(
        "issuer",
        "high",
        "many clients' tokens fail on time at once: the issuer's clock (tokens stamped in the future or past) or "
        "the validators' is off, not the clients' (issuer set when they share one, profile when one API fails)",
        simulated=False,  # benchmarks/clockfaults.py injects it
    ),
    "issuer_stalled": KindInfo(
        "issuer",
        "high",
        "the issuer stopped issuing tokens (its token endpoint down, its key set up): its clients go on with the "
        "tokens they hold, past exp",
        simulated=False,  # benchmarks/stalls.py injects it
    ),
    "audience_misconfig": KindInfo(
        "profile",
        "high",
        "tokens for the wrong audience: an API deployed with the wrong audience (many clients, profile set) "
        "or one client requesting tokens for the wrong audience (client_id set)",
    ),
    "type_confusion": KindInfo("client", "medium", "a known client sends tokens of another type (e.g. ID tokens)"),
    "attack_burst": KindInfo(
        "fleet", "medium", "tokens no legitimate client presents, well above the usual scanner noise"
    ),
}
INCIDENT_KINDS: Final[tuple[str, ...]] = tuple(KIND_INFO)
#: the kinds ``jwtobs.simulate`` can inject (scenario files, the demo, its benchmark suite)
SIMULATED_KINDS: Final[tuple[str, ...]] = tuple(k for k, info in KIND_INFO.items() if info.simulated)
