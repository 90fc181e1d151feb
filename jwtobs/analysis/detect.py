"""Incident detectors over the per-minute aggregates (:mod:`jwtobs.analysis.aggregate`).

Every detector follows one recipe:

1. **A series per culprit**: per-minute counts of the rejections that point at it (unknown kids per issuer
   and kid, JWKS failures per issuer, expired tokens a client kept using per client, ...). Per-client series
   only count clients that were **accepted before** (scanners and attackers never were).
2. **A baseline of what normal looks like** for that series: the trailing mean over the last hours,
   winsorised (a burst does not raise its own baseline), floored at a small rate, and, once the data spans
   two days or more, at least the mean of the same hour of the day on the previous days (diurnal traffic).
3. **Significance, not fixed counts**: a Poisson CUSUM (log-likelihood ratio of "baseline + shift" against
   "baseline") accumulates evidence minute by minute. Its statistic is capped, so it falls back to zero a
   bounded time after the failures stop: the run between leaving zero and returning to zero is one
   incident (change-point onset and recovery, no gap merging). Onset and end are the first and last minute
   of the run whose count is above the baseline's noise. The run's total against the baseline's expectation
   gives a Poisson tail probability: ``confidence = 1 - p``.
4. **Classification and evidence** from the same aggregates (key-set changes when given): what a person
   can check — counts, clients, the baseline, the key-set change times, the lateness pattern.

Why hand-written: a Poisson CUSUM on count series is a dozen lines and runs on thousands of sparse series
in milliseconds; ruptures' offline segmentation needs a penalty tuned per series and statsmodels has no
streaming count-data CUSUM. Neither is needed.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from jwtobs.analysis.aggregate import (
    LATENESS_EDGES,
    OTHER,
    SUBJECT_LATE,
    Aggregates,
    aggregate,
    lateness_quantile,
)
from jwtobs.analysis.load import check_span
from jwtobs.kinds import INCIDENT_KINDS, KIND_INFO, SEVERITIES, Severity
from jwtobs.reasons import ATTACK_REASONS, REASON_INFO, Reason

__all__ = [
    "INCIDENT_COLUMNS",
    "INCIDENT_KINDS",
    "Params",
    "incidents",
    "rotation_incidents",
    "clock_skew",
    "clock_offsets",
    "foreign_baseline",
    "clock_skew_incidents",
    "attack_bursts",
    "scanner_sweeps",
    "SWEEP_COLUMNS",
    "misconfigurations",
    "leeway",
]

INCIDENT_COLUMNS = [
    "kind",
    "start",
    "end",
    "issuer",
    "kid",
    "client_id",
    "profile",
    "count",
    "severity",
    "confidence",
    "evidence",
]
_ATTACK = frozenset(str(r) for r in ATTACK_REASONS)
#: rejections that say nothing about the token's origin (time, availability, our own failure), and requests
#: without a token: load-balancer health checks and unauthenticated callers send them all day, every few seconds
#: per replica (session 26: on fleet days with such probes the scanner baseline rose to their rate and hid all 4
#: attack bursts, of 180-720 forged tokens); a forged token is a token
_NOT_FOREIGN = frozenset(
    str(r)
    for r in (Reason.EXPIRED, Reason.NOT_YET_VALID, Reason.JWKS_UNAVAILABLE, Reason.VALIDATOR_ERROR, Reason.MISSING)
)
#: rejections of a token whose signature verified (claim checks run after it) or whose kid is unknown: what a
#: clientless issuer's token may be rejected for and still count as its own (:meth:`_Ctx.known`)
_SIGNED_OR_KID = frozenset(
    [*(str(r) for r, info in REASON_INFO.items() if info.category == "claims"), str(Reason.UNKNOWN_KID)]
)
_NS_MIN = 60_000_000_000

Arr = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Params:
    """Sensitivity of one series' CUSUM: the smallest shift worth finding (per minute, and relative to the
    baseline), the decision threshold, the floor of the baseline, the least count and the largest Poisson
    tail probability an incident must have."""

    shift: float
    rel: float = 1.0
    h: float = 8.0
    floor: float = 0.01
    min_count: int = 3
    p_max: float = 1e-4
    window: int = 180  # minutes of trailing baseline
    back: int = 0  # onset: earlier excess minutes at most this far apart belong to the incident
    #: the evidence runs on while the statistic stays at its cap, however it got there (:func:`_runs`)
    saturated: bool = False


ATTACK = Params(shift=6.0, rel=2.0, h=15.0, floor=0.2, min_count=20, p_max=1e-6, window=120)
#: a burst's minutes carry at least ATTACK_ACTIVE x the foreign tokens of a busy usual minute (the trailing
#: ATTACK_Q quantile over ATTACK_HISTORY minutes, once ATTACK_HISTORY_MIN are there): scanners come in sessions
#: that overlap, so the usual per-minute count is overdispersed and its mean alone says too little
ATTACK_ACTIVE = 2.5
ATTACK_Q = 0.98
ATTACK_HISTORY = 360
ATTACK_HISTORY_MIN = 30
#: ... and hot minutes at most this many minutes apart are one burst
ATTACK_GAP = 2
#: A burst none of whose tokens names a key the issuers use - garbage, ``alg: none``, the jwt.io sample, random
#: or no kids: what internet scanners send once they find an API, in sweeps of dozens over a few minutes - is an
#: attack burst only if a minute of it reaches this many tokens (one a second, e.g. a flood of random kids);
#: below, it is a scanner sweep (:func:`scanner_sweeps`: listed in the report, not an incident). A burst with a
#: token naming a key in use (a forged signature or an algorithm confusion on a real kid: someone read the key
#: set and aims at it), or with an attack-signal rejection naming one in its minutes whoever presents it (a real
#: token replayed with its claims changed keeps its client id), is an attack burst at any rate the CUSUM finds.
SWEEP_PEAK = 60
OUTAGE = Params(shift=0.5, h=8.0, floor=0.02, min_count=3, back=15)
#: a key set down for minutes fails its callers in this many distinct minutes at least; a blip of seconds (an
#: endpoint restarting, a load balancer's failover) hits one or two - with PyJWKClient, which keeps no last good key
#: set, every request of a busy gateway in them (session 32, fleet32: 35-43 failures in one minute, 6 false outages
#: over 4 quiet days). The injected outages of every benchmark here last 10-50 minutes.
OUTAGE_MINUTES = 3
ROTATION = Params(shift=0.5, h=8.0, floor=0.01, min_count=3, back=15)
SIGNATURE = Params(shift=0.5, h=10.0, floor=0.02, min_count=5, p_max=1e-6, back=60)
SKEW = Params(shift=0.1, h=8.0, floor=0.005, min_count=3, window=360)
#: a clock that is off shows in every request until the client renews: at least this many distinct minutes
SKEW_MINUTES = 4
#: ``server_clock_skew``: a significant run (SHARED) of the number of accepted clients failing on time for the
#: first time in a token cycle, per minute, holding at least SHARED_CLIENTS of them - past exp, SHARED_KEPT of
#: them keeping a token in use after its 401 - is a clock they share (the issuer's or the validators'), not
#: theirs; it goes on while they fail so at most SHARED_AFTER minutes apart. The clients' own clock-skew
#: incidents with most failures from SHARED_BEFORE minutes before it to SHARED_AFTER after, and fewer than
#: SKEW.min_count of their own more than SHARED_OWN minutes before it, are its own
SHARED_CLIENTS = 4
SHARED_BEFORE = 5
SHARED_AFTER = 30
SHARED_OWN = 30
SHARED_KEPT = 2
#: a run whose failures several APIs hold names the one API (if one) whose failures per accepted use rose this
#: significantly over its own rate before (Poisson tail, SHARED_HISTORY minutes, one failure as prior):
#: ``_risen_profile``
SHARED_PROFILE_P = 1e-6
SHARED_HISTORY = 180
#: clients of one issuer whose tokens fail before nbf together: its clock (:func:`_issuer_clocks`)
ISSUER_CLOCK_CLIENTS = 2
#: ... at one API only: that many (the issuer's clock or that API's: either is shared, neither is the clients')
ISSUER_CLOCK_CLIENTS_ONE_API = 3
#: a client's failures past exp at one API, and the failures its other APIs would have had from its own clock
#: but did not: that API's clock (:func:`_validator_clocks`)
VALIDATOR_CLOCK_SHARE = 0.9
#: clients of one issuer, each of at least SKEW_DEVICE_PEERS devices, whose clock incidents start within this
#: many minutes of each other: one clock their devices share (:func:`_app_clocks`)
APP_CLOCK_START = 10
#: ... of one issuer's clients at one API: other APIs that accept them meanwhile with a leeway that would fail a
#: token's first this many seconds under an issuer clock as far ahead (:func:`_fresh_elsewhere`)
API_CLOCK_WINDOW = 10.0
VALIDATOR_CLOCK_EXPECT = 10.0
SHARED = Params(shift=0.5, h=8.0, floor=0.01, min_count=3, window=360, p_max=1e-7)
#: an issuer's clock behind by more than its tokens' lifetime (a validator's ahead by as much) makes every token
#: past ``exp`` on its first use: fresh tokens (never accepted, not ``seen``) rejected past exp, per issuer and
#: minute, significantly (ARRIVAL) above their baseline (tokens replayed after restarts or pauses), from at least
#: ISSUER_CLOCK_CLIENTS accepted clients in at least SKEW_MINUTES minutes, at least ARRIVAL_FRESH of those clients'
#: failures past exp meanwhile (an issuer whose token endpoint stalls leaves its clients with the tokens they
#: hold: in use, ``seen``), those clients accepted for at most ARRIVAL_ACCEPTED of their validations with the
#: issuer's tokens (a pool that restarts replays its cached tokens, then renews and is accepted). The evidence runs
#: on while the statistic stays at its cap (``saturated``): a clock behind fails every fresh token minute after
#: minute, from a few a minute at first (blind fleet42: an IdP 70 min behind, 334 rejections in 26 min, judged on
#: the first 7 and dropped)
ARRIVAL = Params(shift=0.5, h=8.0, floor=0.01, min_count=10, window=360, p_max=1e-7, saturated=True)
ARRIVAL_FRESH = 0.8
ARRIVAL_ACCEPTED = 0.25
#: ... at one API (:func:`_arrival_at_api`): at least this share of the clients' validations there in the minutes
#: it failed (one replica of up to ten)
ARRIVAL_AT_API = 0.1
#: ... and the lateness of its failures within this many seconds of each other (5-95 %; or the tokens' lifetime,
#: if shorter): a fresh token is first presented soon after it was minted, so under a clock ahead every one fails
#: by about the offset less the lifetime. Tokens hours old, each presented once (tablets landing), spread over hours
ARRIVAL_SPREAD = 900.0
#: ... in at least this many minutes (a clock stays off; worker pools replaying their cached tokens after restarts
#: fail in bursts of a few minutes); also what an issuer's run needs to be judged on the minutes it failed in
ARRIVAL_MINUTES = 15
#: :func:`_one_signer`: the failures' lateness bins together at most this wide (s)
ARRIVAL_SIGNER_WIDTH = 60.0
#: a ``server_clock_skew`` names the issuer (the API) holding at least this share of its failures: a clock's
#: failures come with some of the background's (another issuer's stale tokens, a node's nbf jitter); before session
#: 38 any other value among them left the field empty (blind fleet40: a partner IdP 12 min ahead, 419 of 421
#: failures its own, named no issuer)
NAMED_SHARE = 0.9
#: ``issuer_stalled``: no client of an issuer accepted with a token expiring later than any it held before (a
#: renewal) for longer than any such stretch in the STALL_HISTORY minutes before (at least STALL_HISTORY_MIN of
#: them) and so long that their renewal rate makes it unlikely (Poisson P(0) <= STALL_P), while STALL_CLIENTS of
#: its clients fail past exp on tokens in use, STALL_KEPT of them keeping theirs after the 401: the issuer has
#: stopped issuing tokens
STALL_HISTORY = 180
STALL_HISTORY_MIN = 60
STALL_P = 1e-3
#: ... and such a silence anywhere in a day unlikely too: P(0) x the day's stretches of its length <= STALL_P_DAY
#: (an issuer renewing 2.5 tokens a minute is silent for 3 minutes with P(0) = 6e-4, about once in its 480 such
#: stretches a day: blind fleet42's marketplace issuer, 4 lazy sellers failing meanwhile, a false 3-minute stall;
#: the bench's true stalls, 20-90 minutes, <= 4e-3)
STALL_P_DAY = 0.01
DAY_MINUTES = 1440
STALL_CLIENTS = 2
STALL_KEPT = 2
#: one client keeping its tokens (:func:`_others_silent`) fails at least this many times (in at least
#: :data:`SKEW_MINUTES` minutes): services with 1-9 tokens kept past exp at night, while the other clients slept,
#: were no stall (bench_detect's weeks and server-clock sets, the simulator: 3 false incidents of a first cut without
#: it); fleet38's aggregator, polling every 5 minutes, failed 583 times in 9 minutes
STALL_ONE_FAILURES = 20
#: ... or, no token kept, its clients' failures on tokens in use surging that far above their rate before
#: (:func:`_stale_surge`)
STALL_SURGE_P = 1e-6
#: ... or, renewals not stopped but dropped (new sign-ins still served, refreshes failing): a run of tokens kept
#: after their 401 (minutes at most STALL_GAP apart) from STALL_CLIENTS clients, at least STALL_ONE_FAILURES, their
#: lateness growing by at least STALL_AGING s a second (the held tokens ageing; a clock's offset bounds it), while
#: the issuer's renewals fall that far below their rate before (Poisson P(<= seen) <= STALL_DROP_P)
STALL_GAP = 5
STALL_AGING = 0.25
STALL_DROP_P = 1e-3
#: onset of a drifting clock: earlier uses past exp at most this many minutes apart belong to it
SKEW_BACK = 60
#: a client failing so from its first token cycle in the data for at least this many hours is its normal over
#: the data (no change to report: devices of a client id whose clocks are off, a clock off before the data
#: began); ``clock_skew()`` still shows its offset against the healthy one
SKEW_CHRONIC_H = 3.0
#: ... and so does one with little traffic before it - the client's accepted uses before it at most SKEW_UNSEEN_SHARE
#: of those during it - in which its failures, at their rate per use during it, would likely not have shown
#: (Poisson P(<= the failures seen then) at least SKEW_UNSEEN_P): a lab's kiosks failing 1.3 % of their uses all
#: day, their first users at dawn (blind fleet50, session 40: 1.4-7.1 % of their uses before; the bench's clock
#: skews two hours into the data 52-72 %, failing before at the same rate - their background)
SKEW_UNSEEN_SHARE = 0.1
SKEW_UNSEEN_P = 0.05
#: ... over tokens rejected while in use only for a client that did so in fewer than this share of its
#: earlier token cycles (a lazy refresher fails once a cycle anyway)
SKEW_USUAL = 0.25
#: seconds past the leeway within which a failure is also what a request in flight at expiry does
SKEW_INFLIGHT = 30.0
#: a clock creeping past exp: uses past exp in >= 2 cycles within this many cycles before its first failures,
#: after at least SKEW_QUIET cycles with (almost) none
SKEW_CREEP = 3
SKEW_QUIET = 3
#: ... a client refreshing on its 401s (``_skew_refreshed``) needs at least this many token cycles of its own history
#: before the last (whose failures may be the clock's first): less is no baseline - lazy apps whose first tokens of
#: the night expired 1.0-1.3 cycles after their first use (blind fleets 46, 52, 54, 56: 7 false incidents, spans
#: 1.01-1.34); the bench's clocks an hour or two into the data start 1.66-1.83 cycles in (session 41)
SKEW_OWN_HISTORY = 0.5
#: a client that failed past exp per accepted use, before an incident of the count rule, at more than 1 /
#: SKEW_RATE_RISE of its rate during it (>= SKEW_RATE_HISTORY such failures before) fails so anyway, more often at a
#: busier hour: a POS SDK refreshing only on its 401s and retrying the rejected token, 3.5-4.1 % of its uses before
#: its lunch peak, 5.3-5.8 % during it (blind fleet58, session 42: 4 false incidents on 3 of 4 quiet days and one
#: incident day); the bench's clocks raise it far more (no detection changed)
SKEW_RATE_RISE = 2.0
SKEW_RATE_HISTORY = 10
#: ... or failing on tokens in use in this many cycles in a row, further past exp each time
SKEW_STEPS = 3
#: ... or keeping a token after its 401 at its own pace: failing again a minute or more later (within this many
#: minutes), at most SKEW_PACE failures a minute (a worker pool firing a cached token is a burst, not a pace)
SKEW_KEPT = 10
SKEW_PACE = 2
#: ... or, cycle after cycle, failing first within this many seconds past the leeway (a token in use up to it)
SKEW_NEAR = 90.0
#: a kept run whose failures came at least this often (and in at least half of them) at the token's own pace
#: (``paced``) is not a burst however many fall in one minute. Count-series and cycle-after-cycle incidents of a
#: clock behind need, past what requests in flight at expiry do, failures at the token's pace in at least this
#: many distinct minutes (or failures in three minutes in a row): a worker pool replaying its cached token, or
#: requests retried at expiry, fail in a burst of seconds after a pause (at most its first failure is paced)
SKEW_ON_PACE = 2
#: a client id renewing more than this many tokens per token cycle is many devices (a mobile app's): the *kept*
#: rule's failure "again" in the minute right after another then needs the token's pace (``paced``)
SKEW_DEVICES = 4.0
#: a clock behind on a client refreshing on its 401 (``_skew_refreshed``): failures in at least SKEW_GROUP separate
#: minutes within SKEW_GROUP_CYCLES token cycles (or a refresh chain of that many), none further past exp than
#: SKEW_REFRESH_MAX s; a chain link's slack in minutes; the prior of a client's own failure rate (minutes at the
#: fleet's rate)
SKEW_GROUP = 3
SKEW_GROUP_CYCLES = 2.0
SKEW_REFRESH_MAX = 1800.0
SKEW_LINK = 2.0
SKEW_PRIOR = 1440.0
#: ... and, on a client id many users share (more than SKEW_DEVICES renewals a cycle), failures "again" (by a
#: subject that failed so before on another token: ``new_subject`` false) significantly more than its users'
#: usual share of them: Poisson tail <= SKEW_SUBJECT_P against the group's new subjects x the client's own
#: ratio of again to new before the group, with SKEW_SUBJECT_PRIOR new subjects at the fleet's ratio as prior
SKEW_SUBJECT_P = 0.01
SKEW_SUBJECT_PRIOR = 20.0
#: ... or at least SKEW_BOUNDED_N of them, at least half beyond SKEW_INFLIGHT past the leeway, their 5-95 %
#: lateness within SKEW_BOUNDED_SPREAD s: bounded by one offset, as a clock's are (``_bounded``)
SKEW_BOUNDED_N = 10
SKEW_BOUNDED_SPREAD = 120.0
#: ... failures all within SKEW_INFLIGHT s past the leeway (what a retry queued across exp also does) need this
#: Poisson tail
SKEW_NEAR_P = 1e-6
#: a sparse client - accepted in at most SKEW_IDLE_BUSY of the SKEW_IDLE minutes before - presenting a token past
#: exp after a pause in its use, beyond what requests in flight reach (``_idle_failures``), does not check ``exp``
#: before sending: a lazy refresher
SKEW_IDLE = 10
SKEW_IDLE_BUSY = 2
#: ... with no accepted request of the client in the SKEW_IDLE_GAP minutes before (its own pause)
SKEW_IDLE_GAP = 2
#: rejections past exp within LEEWAY_NEAR s above the earliest one that make its bin edge the validator's leeway
LEEWAY_SUPPORT = 3
LEEWAY_NEAR = 30.0
MISCONFIG = Params(shift=0.3, h=8.0, floor=0.01, min_count=3, back=15)
#: one accepted client's tokens rejected for their audience or ``typ`` a few at a time (a client that calls an
#: API every few minutes, or refreshes after each 401): rejections at most MISCONFIG_GAP minutes apart, at least
#: MISCONFIG.min_count, are an incident at a Poisson tail <= MISCONFIG.p_max against the client's own earlier
#: rate of them, floored at MISCONFIG_SPARSE_FLOOR a minute (about 3 a day: a client's tokens are for the
#: right audience; the CUSUM above is built for bursts of 0.3 a minute and more and forgets a sparse one)
MISCONFIG_GAP = 30
#: a client-side ``audience_misconfig`` takes at least this share of the client's validations in its minutes: a client
#: requesting tokens for the wrong audience fails nearly every call to that API (every injected one of the benchmarks
#: here: 0.74-1.0), while a client of hundreds of devices has a few calls misrouted or replayed to another API every day
#: (session 33's blind fleet34: 3 tokens, 0.5-1.3 % of the client's calls, 3 false incidents on 8 days)
CLIENT_AUDIENCE_SHARE = 0.05
#: a client ``clock_skew`` of a client of many users (at least SKEW_DEVICE_PEERS subjects among its tokens used past
#: ``exp`` or before ``nbf`` in the data) must stand without the clock failures of this share of them (at least one):
#: those with the most failures in its minutes (``_beyond_devices``). A few devices of an app with their own clocks
#: minutes off are background; a client's clock fails across its users (session 34)
SKEW_DEVICE_PEERS = 10
SKEW_DEVICE_SHARE = 0.1
#: ... and on a client of at least SKEW_DEVICE_PEERS devices (renewing a token each per cycle) fails at least this
#: share of the minutes in which it renewed a token meanwhile (``_few_tokens``)
SKEW_TOKEN_SHARE = 0.2
#: ... unless their lateness drifts by at least this many s/h over the incident (a clock going wrong across part of
#: the fleet: blind fleet44, half of a console model's units drifting 160 s/h after a system update, failing 91 times
#: on 813 renewal minutes)
SKEW_DRIFTING = 60.0
MISCONFIG_SPARSE_FLOOR = 0.002
#: an issuer whose accepted validations name their client (``azp``, ``client_id``, ``cid``, ``appid``) less often
#: than this is *clientless* (an application issuing its own tokens with ``sub`` and ``exp`` only): for its tokens
#: without a client, "a client accepted before" becomes "a key its accepted tokens use", for every reason that is
#: no attack signal (:meth:`_Ctx.known`; docs/analysis.md, *Tokens without a client*)
CLIENTLESS_SHARE = 0.05


# --------------------------------------------------------------------------------------------- statistics


def _baseline(x: Arr, p: Params, minute0: int, exclude: np.ndarray[Any, np.dtype[np.bool_]] | None = None) -> Arr:
    """Trailing winsorised mean (excluding the current minute and the ``exclude``d minutes: an incident does
    not become its own baseline), floored; seasonal once 2 days are there."""
    s = pd.Series(x)
    if exclude is not None:
        s = s.mask(exclude)
    med = s.rolling(p.window, min_periods=1).median().shift(1).ffill().fillna(0.0).to_numpy()
    capped = pd.Series(np.minimum(s.to_numpy(), med + 3.0 * np.sqrt(med) + 1.0))
    base = capped.rolling(p.window, min_periods=1).mean().shift(1).ffill().fillna(0.0).to_numpy()
    n = len(x)
    if n >= 2 * 1440:
        # same hour of the day on the previous days (diurnal traffic)
        hours = (np.arange(n) + minute0) // 60
        hourly = capped.fillna(0.0).groupby(hours).mean()
        hod = hourly.index.to_numpy() % 24
        prev = pd.Series(hourly.to_numpy()).groupby(hod).transform(lambda v: v.shift(1).expanding().mean())
        seasonal = pd.Series(prev.to_numpy(), index=hourly.index).reindex(hours).fillna(0.0).to_numpy()
        base = np.maximum(base, seasonal)
    out: Arr = np.maximum(base, p.floor)
    return out


def _runs(x: Arr, lam0: Arr, p: Params) -> list[tuple[int, int, int, int]]:
    """Alarmed runs of a capped Poisson CUSUM: (first excess minute, last excess minute, minute of the peak
    of the statistic, minute it crossed ``h``) of each run that crossed ``h``. A run at the cap from its first two
    excess minutes on peaks at the end of that stretch: a burst that saturates the statistic at once must not be
    judged on its first minute alone, and the minute grid may cut its start, or a scanner's stray tokens come in
    the minute before it (session 32, fleet32: an attack of 700 tokens at 15-32 a minute judged on its first 17 and
    dropped; before, only a run at the cap from its first excess minute on ran on). A run that climbs to the cap
    over three minutes or more (overlapping scanner sessions at 6-9 a minute) is judged up to where it got there."""
    lam1 = lam0 + np.maximum(p.shift, p.rel * lam0)
    a = np.log(lam1 / lam0)
    b = lam1 - lam0
    inc = x * a - b
    noise = lam0 + 2.0 * np.sqrt(lam0)
    cap = 2.0 * p.h
    out: list[tuple[int, int, int, int]] = []
    s = 0.0
    alarmed = at_once = False
    first = last = peak = alarm = -1
    top = 0.0
    for i in range(len(x)):
        s = min(cap, max(0.0, s + float(inc[i])))
        if s > 0.0:
            if x[i] > noise[i]:
                if first < 0:
                    first = i
                last = i
            if s > top and not (alarmed and top >= cap):
                top, peak = s, i
                at_once = top >= cap and peak <= first + 1
            elif (at_once or p.saturated) and s >= cap and peak == i - 1:
                peak = i  # at the cap from its first minute on: the evidence runs on while it stays there
            if s >= p.h and not alarmed:
                alarmed, alarm = True, i
        else:
            if alarmed and first >= 0:
                out.append((first, last, max(first, peak), alarm))
            alarmed = at_once = False
            first = last = peak = alarm = -1
            top = 0.0
    if alarmed and first >= 0:
        out.append((first, last, max(first, peak), alarm))
    return out


def _poisson_tail(n: int, mu: float) -> float:
    """P(X >= n) for X ~ Poisson(mu)."""
    if n <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if n <= mu:
        return 1.0 if n <= 1 else min(1.0, 1.0 - _poisson_cdf(n - 1, mu))
    logt = -mu + n * math.log(mu) - math.lgamma(n + 1)
    total = 0.0
    term = 1.0
    k = n
    for _ in range(100_000):
        total += term
        k += 1
        term *= mu / k
        if term < 1e-17 * total:
            break
    return min(1.0, math.exp(logt) * total)


def _poisson_cdf(n: int, mu: float) -> float:
    term = math.exp(-mu)
    total = term
    for k in range(1, n + 1):
        term *= mu / k
        total += term
    return min(1.0, total)


@dataclass(frozen=True)
class _Seg:
    i0: int
    i1: int
    count: int
    expected: float
    p: float
    alarm: int = -1  # the minute the statistic crossed its threshold


def _two_pass_baseline(x: Arr, p: Params, minute0: int) -> tuple[Arr, bool]:
    """The baseline of ``x`` with the runs its first pass alarms on left out, and whether there were any."""
    lam0 = _baseline(x, p, minute0)
    runs = _runs(x, lam0, p)
    if runs:
        mask = np.zeros(len(x), dtype=bool)
        for i0, i1, _, _ in runs:
            mask[i0 : i1 + 1] = True
        lam0 = _baseline(x, p, minute0, exclude=mask)
    return lam0, bool(runs)


def _continues(x: Arr, prev: _Seg, i0: int, p: Params) -> bool:
    """Whether a run starting (walk-back done) at ``i0`` continues incident ``prev``: it starts within ``p.back``
    minutes of its end, or the failures never stopped in between (the gap's mean rate at least a quarter of the
    incident's and at least one every two minutes: the baseline had caught up with an ongoing outage)."""
    if i0 <= prev.i1 + 1 + p.back:
        return True
    gap = x[prev.i1 + 1 : i0]
    return float(gap.mean()) >= max(0.5, 0.25 * float(x[prev.i0 : prev.i1 + 1].mean()))


#: the failures a run's onset is walked back over are more than its baseline gives there (Poisson tail)
WALK_BACK_P = 0.4
#: walk-back windows (``Params.back``) up to this many minutes are chained from failure to failure
CHAIN_BACK_MAX = 15


def _segments(x: Arr, p: Params, minute0: int) -> list[_Seg]:
    """The significant runs of ``x`` against its baseline. Two passes: the runs found first are left out
    of the baseline of the second (a long incident must not raise its own baseline). A run that continues the
    incident before it (:func:`_continues`) extends that incident: an outage of hours whose statistic restarts,
    bursty callers splitting it into runs, is one incident, not a run each (8 h of a key set down were 11
    incidents from the same start)."""
    if x.sum() < p.min_count:
        return []
    lam0, alarmed = _two_pass_baseline(x, p, minute0)
    runs = _runs(x, lam0, p) if alarmed else []
    segs: list[_Seg] = []
    noise = lam0 + 2.0 * np.sqrt(lam0)
    chain = p.back <= CHAIN_BACK_MAX  # (see the walk-back below)
    for i0, i1, top, alarm in runs:
        floor = segs[-1].i1 + 1 if segs else 0
        run0 = i0
        j = i0 - 1
        # the first, isolated failures of the incident, each within p.back minutes of the next one found, where they
        # are more than the baseline gives in their stretch (WALK_BACK_P); a window over CHAIN_BACK_MAX minutes only
        # from the run itself: chained, an hour's window went from one stray background failure to the next 4 h
        # back (session 36, fleet36's signature spike)
        while p.back and j >= floor and (i0 if chain else run0) - j <= p.back:
            if x[j] > noise[j]:
                early = round(float(x[j:run0].sum()))
                if _poisson_tail(early, float(lam0[j:run0].sum())) <= WALK_BACK_P:
                    i0 = j
            j -= 1
        if segs and _continues(x, segs[-1], i0, p):
            prev = segs.pop()
            i0 = prev.i0
            pv = prev.p
            alarm = prev.alarm
        else:
            # the evidence: what accumulated from the onset to the peak of the statistic - or from the run's own
            # start, where the walk-back went far over sparse background failures (each within p.back of the next:
            # session 36, fleet36: 220 bad signatures in 40 min judged with 5 stray ones over the 4 h before, p 4e-6)
            n = round(float(x[i0 : top + 1].sum()))
            pv = _poisson_tail(n, float(lam0[i0 : top + 1].sum()))
            if run0 > i0:
                n_run = round(float(x[run0 : top + 1].sum()))
                pv_run = _poisson_tail(n_run, float(lam0[run0 : top + 1].sum()))
                if n_run >= p.min_count and pv_run < pv:
                    n, pv = n_run, pv_run
            if n < p.min_count or pv > p.p_max:
                continue
        segs.append(_Seg(i0, i1, round(float(x[i0 : i1 + 1].sum())), float(lam0[i0 : i1 + 1].sum()), pv, alarm))
    return segs


# ----------------------------------------------------------------------------------------- shared context


class _Ctx:
    """The aggregates on an integer minute grid, with who was accepted when."""

    def __init__(self, agg: Aggregates, changes: pd.DataFrame | None) -> None:
        c = agg.counts.copy()
        self.agg = agg
        m = (c["minute"].astype("datetime64[ns, UTC]").astype("int64") // _NS_MIN).to_numpy()
        c["m"] = m
        self.m0 = int(m.min()) if len(m) else 0
        self.n = int(m.max() - self.m0 + 1) if len(m) else 0
        if len(m):  # the detectors read per-minute arrays over the whole span (aggregates from any engine)
            check_span(*(pd.Timestamp(v * 60, unit="s", tz="UTC") for v in (self.m0, int(m.max()))))
        c["i"] = m - self.m0
        self.c = c
        acc = c[c["outcome"] == "accepted"]
        self.acc = acc
        named = acc["client_id"].notna() & (acc["client_id"] != OTHER)
        cli = acc[named]
        self.client_first = cli.groupby("client_id")["i"].min().to_dict()
        self.kid_first = acc.groupby(["issuer", "kid"])["i"].min().to_dict()
        self.kid_last = acc.groupby(["issuer", "kid"])["i"].max().to_dict()
        per_issuer = acc.assign(named=acc["count"].where(named, 0)).groupby("issuer", observed=True)[["count", "named"]]
        self.clientless = sorted(
            str(iss) for iss, r in per_issuer.sum().iterrows() if r["named"] < CLIENTLESS_SHARE * r["count"]
        )
        typ = acc.assign(typ=acc["typ"].fillna("")).groupby(["profile", "typ"])["count"].sum()
        self.usual_typ: dict[str, str] = {}
        for (prof, t), _n in typ.sort_values(ascending=False).items():
            self.usual_typ.setdefault(str(prof), str(t))
        self.changes = changes if changes is not None and not changes.empty else None
        self.late_accepted: dict[str, set[int]] | None = None  # (_accepted_late, computed once)
        self.renewed: pd.DataFrame | None = None  # (_renewed, computed once)
        self.accepted_minutes: dict[str, list[int]] | None = None  # (_accepted_minutes, computed once)
        self.accepted_uses: dict[str, tuple[Arr, Arr]] | None = None  # (_accepted_uses, computed once)
        self.sole_clients: dict[str, str | None] | None = None  # (_sole_client, computed once)
        self.added: dict[tuple[str, str], float] = {}
        self.removed: dict[tuple[str, str], float] = {}
        if self.changes is not None:
            ts = self.changes["time"].astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9
            for t, iss, add, rem in zip(
                ts, self.changes["issuer"], self.changes["added"], self.changes["removed"], strict=True
            ):
                for k in add:
                    self.added.setdefault((str(iss), str(k)), float(t))
                for k in rem:  # the earliest: each replica's key source reports the change when it refetches
                    key = (str(iss), str(k))
                    self.removed[key] = min(self.removed.get(key, math.inf), float(t))

    def rejected(self, reasons: Iterable[str] | None = None) -> pd.DataFrame:
        c = self.c
        mask = c["outcome"] == "rejected"
        if reasons is not None:
            mask &= c["reason"].isin(list(reasons))
        return c[mask.fillna(False)]

    def known(self, rows: pd.DataFrame) -> pd.Series:
        """Rows whose client was accepted at or before the row's minute; and rows of a clientless issuer's
        tokens naming no client (:data:`CLIENTLESS_SHARE`) that name a key its accepted tokens use at some time
        (before a kid's publication its tokens are accepted only later), rejected after their signature verified
        or for that unknown kid (:data:`_SIGNED_OR_KID`: a scanner copies a real kid, it cannot sign)."""
        first = rows["client_id"].map(self.client_first)
        ok = (first.notna() & (first.astype("float64") <= rows["i"].astype("float64"))).fillna(False)
        if not self.clientless or rows.empty:
            return ok
        pairs = pd.MultiIndex.from_arrays([rows["issuer"].astype("object"), rows["kid"].astype("object")])
        keyed = pd.Series(pairs.isin(list(self.kid_first)), index=rows.index)
        mine = rows["issuer"].isin(self.clientless).fillna(False) & rows["client_id"].isna()
        own = rows["reason"].isin(list(_SIGNED_OR_KID)).fillna(False)
        return ok | (keyed & mine.astype(bool) & own.astype(bool))

    def series(self, rows: pd.DataFrame, keys: list[str]) -> Iterable[tuple[tuple[Any, ...], Arr]]:
        if rows.empty:
            return
        g = rows.groupby([*keys, "i"], dropna=False, observed=True)["count"].sum()
        for key, part in g.groupby(level=list(range(len(keys))), dropna=False):
            x = np.zeros(self.n)
            x[part.index.get_level_values(-1).to_numpy(dtype=np.int64)] = part.to_numpy(dtype=float)
            yield (key if isinstance(key, tuple) else (key,)), x

    def total(self, rows_mask: pd.Series, i0: int, i1: int) -> int:
        c = self.c
        sel = rows_mask & (c["i"] >= i0) & (c["i"] <= i1)
        return int(c.loc[sel, "count"].sum())

    def ts(self, i: int, end: bool = False) -> pd.Timestamp:
        return pd.Timestamp((self.m0 + i) * _NS_MIN + (59 * 10**9 if end else 0), tz="UTC")

    def hhmm(self, i: int) -> str:
        return f"{self.ts(i):%Y-%m-%d %H:%M} UTC"


def _fmt_p(p: float) -> str:
    return "p<1e-12" if p < 1e-12 else f"p={p:.0e}"


def _severity(kind: str, share: float) -> Severity:
    base = SEVERITIES.index(KIND_INFO[kind].severity)
    if share >= 0.5:
        base += 1
    elif share < 0.02:
        base -= 1
    return SEVERITIES[max(0, min(len(SEVERITIES) - 1, base))]


def _stat(seg: _Seg) -> str:
    return f"baseline expects {seg.expected:.1f} in {seg.i1 - seg.i0 + 1} min, {_fmt_p(seg.p)}"


def _row(
    ctx: _Ctx,
    kind: str,
    seg: _Seg,
    evidence: str,
    share: float,
    *,
    issuer: Any = None,
    kid: Any = None,
    client_id: Any = None,
    profile: Any = None,
    confidence_factor: float = 1.0,
    stat: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "start": ctx.ts(seg.i0),
        "end": ctx.ts(seg.i1, end=True),
        "issuer": _str(issuer),
        "kid": _str(kid),
        "client_id": _str(client_id),
        "profile": _str(profile),
        "count": seg.count,
        "severity": _severity(kind, share),
        "confidence": round(max(0.0, min(1.0, (1.0 - seg.p) * confidence_factor)), 4),
        "evidence": f"{evidence} ({stat or _stat(seg)}; {share:.1%} of the affected traffic)",
    }


def _str(v: object) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def _is(col: pd.Series, value: object) -> pd.Series:
    """``col == value`` with ``<NA>`` matching a missing ``value`` (and never anything else)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return col.isna()
    return (col == value).fillna(False).astype(bool)


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="object") for c in INCIDENT_COLUMNS})
    out["start"] = pd.Series(dtype="datetime64[ns, UTC]")
    out["end"] = pd.Series(dtype="datetime64[ns, UTC]")
    out["count"] = pd.Series(dtype="int64")
    out["confidence"] = pd.Series(dtype="float64")
    return out


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return _empty()
    # text columns stay object with None for a missing value, as in _empty(): a part mixing None and strings
    # would otherwise be inferred as a string dtype with NaN, and the concatenated frame would mix the two
    out = pd.DataFrame(rows, columns=INCIDENT_COLUMNS, dtype=object)
    for c in ("issuer", "kid", "client_id", "profile"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    out["count"] = out["count"].astype("int64")
    out["confidence"] = out["confidence"].astype("float64")
    return out


def _ctx(data: pd.DataFrame | Aggregates | _Ctx, changes: pd.DataFrame | None = None) -> _Ctx:
    if isinstance(data, _Ctx):
        return data
    agg = data if isinstance(data, Aggregates) else aggregate(data)
    return _Ctx(agg, changes)


def _seg_rows(rows: pd.DataFrame, seg: _Seg) -> pd.DataFrame:
    return rows[(rows["i"] >= seg.i0) & (rows["i"] <= seg.i1)]


def _clients(rows: pd.DataFrame) -> list[str]:
    return sorted(str(v) for v in rows["client_id"].dropna().unique().tolist() if v != OTHER)


def _few(values: list[str], n: int = 3) -> str:
    return ", ".join(values[:n]) + (f" and {len(values) - n} more" if len(values) > n else "")


# ---------------------------------------------------------------------------------------------- detectors


def _foreign(ctx: _Ctx) -> pd.DataFrame:
    """The rejections no legitimate client causes: tokens of clients never accepted (but for reasons that say nothing
    of a token's origin), attack-signal reasons on a kid nobody uses, and bad signatures on tokens whose ``exp`` lies
    further ahead than their client's accepted tokens ever did (:func:`_plausible`): a real token's claims tampered
    with, keeping its client id and kid (session 43, blind fleet64: a restreaming ring replaying playback tokens with
    ``exp`` moved a day ahead, 1 224 in 30 minutes, was no incident - neither a signature spike, whose series leaves
    such tokens out, nor tokens of a client never accepted)."""
    rej = ctx.rejected()
    foreign = ~ctx.known(rej) & ~rej["reason"].isin(list(_NOT_FOREIGN)).fillna(False)
    attack = rej["reason"].isin(list(_ATTACK)).fillna(False) & (rej["kid"].isna() | (rej["kid"] == OTHER))
    bad = (rej["reason"] == "JWT_BAD_SIGNATURE").fillna(False) & ~rej["past_exp"].fillna(False).astype(bool)
    tampered = pd.Series(False, index=rej.index)
    if bad.any():
        tampered[bad] = ~_plausible(ctx, rej[bad])
    return rej[foreign | attack | tampered]


def foreign_baseline(data: pd.DataFrame | Aggregates | _Ctx) -> pd.DataFrame:
    """The series :func:`attack_bursts` watches, per minute: ``count`` of tokens no accepted client
    presents, its ``baseline`` (trailing winsorised mean, bursts left out) and ``alarm_level``: the rate
    that, sustained, makes the CUSUM alarm within a few minutes and that a burst's minutes must reach
    (:func:`_attack_level`)."""
    ctx = _ctx(data)
    cols = ["minute", "count", "baseline", "alarm_level"]
    if ctx.n == 0:
        return pd.DataFrame(columns=cols)
    x = np.zeros(ctx.n)
    for _key, xs in ctx.series(_foreign(ctx).assign(all=0), ["all"]):
        x = xs
    lam0 = _two_pass_baseline(x, ATTACK, ctx.m0)[0]
    lam1 = lam0 + np.maximum(ATTACK.shift, ATTACK.rel * lam0)
    # the rate at which the per-minute increment is h/3 (alarm after about three minutes)
    level = np.maximum(((lam1 - lam0) + ATTACK.h / 3) / np.log(lam1 / lam0), _attack_level(x, lam0))
    minutes = pd.to_datetime((ctx.m0 + np.arange(ctx.n)) * _NS_MIN, utc=True)
    return pd.DataFrame({"minute": minutes, "count": x.astype("int64"), "baseline": lam0, "alarm_level": level})


def _attack_level(x: Arr, lam0: Arr) -> Arr:
    """Per minute, the count from which a minute is part of a burst: a multiple of the trailing mean (scanners
    come and go, 1-3 a minute each) and ATTACK_ACTIVE x the ATTACK_Q quantile of the last ATTACK_HISTORY
    minutes that were not part of a burst themselves (overlapping scanner sessions; a long burst must not
    become its own usual level); until ATTACK_HISTORY_MIN such minutes lie behind a minute (the start of the
    data), that quantile of the first ATTACK_HISTORY minutes' (overlapping scanner sessions in the first half
    hour were false bursts against the trailing mean alone)."""
    out: Arr = np.maximum(3.0 * lam0, lam0 + 5.0)
    # (the analysis reads the whole timeline: at its start it may read ahead)
    first = [float(v) for v, lv in zip(x[:ATTACK_HISTORY], out[:ATTACK_HISTORY], strict=True) if v < lv]
    warm = _quantile_sorted(sorted(first)) if len(first) >= ATTACK_HISTORY_MIN else 0.0
    window: collections.deque[tuple[int, float]] = collections.deque()
    ranked: list[float] = []
    for i in range(len(x)):
        while window and window[0][0] <= i - ATTACK_HISTORY:
            ranked.pop(bisect.bisect_left(ranked, window.popleft()[1]))
        busy = _quantile_sorted(ranked) if len(ranked) >= ATTACK_HISTORY_MIN else warm
        out[i] = max(out[i], ATTACK_ACTIVE * busy)
        if x[i] < out[i]:
            v = float(x[i])
            window.append((i, v))
            bisect.insort(ranked, v)
    return out


def _quantile_sorted(ranked: list[float]) -> float:
    """The ATTACK_Q quantile of an ascending list (its rank, not an interpolation)."""
    return ranked[min(len(ranked) - 1, math.ceil(ATTACK_Q * len(ranked)) - 1)]


def _attack_cores(x: Arr, lam0: Arr, segs: list[_Seg]) -> list[_Seg]:
    """The bursts inside the significant runs: clusters of minutes at or above :func:`_attack_level` (a run
    also holds the scanner minutes around a burst; onset and end are the burst's own)."""
    level = _attack_level(x, lam0)
    out: list[_Seg] = []
    for seg in segs:
        hot = [i for i in range(seg.i0, seg.i1 + 1) if x[i] >= level[i]]
        for run in _clusters_of(hot, ATTACK_GAP):
            i0, i1 = run[0], run[-1]
            n = round(float(x[i0 : i1 + 1].sum()))
            mu = float(lam0[i0 : i1 + 1].sum())
            pv = _poisson_tail(n, mu)
            if n >= ATTACK.min_count and pv <= ATTACK.p_max:
                out.append(_Seg(i0, i1, n, mu, pv, max(i0, seg.alarm)))
    return out


class _Burst(NamedTuple):
    seg: _Seg
    rows: pd.DataFrame  # the foreign rows of its minutes
    aimed: int  # tokens naming a key in use
    peak: int  # the most tokens in one of its minutes
    profile: str | None = None  # the API a burst found on its own series aims at (:func:`_bursts`)


def _bursts(ctx: _Ctx) -> list[_Burst]:
    """The bursts of tokens no accepted client presents over the usual scanner noise: a significant run of the
    CUSUM whose minutes reach a multiple of both the trailing mean and a busy usual minute
    (:func:`_attack_level`); with how many tokens in their minutes are aimed at a key the issuers use (a kid
    accepted tokens carry, or that a key set published): the burst's own tokens naming one, and tokens rejected
    with an attack-signal reason naming one whoever presents them (a real token's claims tampered with keeps its
    client id, its kid and its signature: ``JWT_BAD_SIGNATURE``; a confusion of algorithms on a real kid), and
    their busiest minute."""
    sub = _foreign(ctx)
    in_use = sorted({str(k) for _iss, k in [*ctx.kid_first, *ctx.added] if _str(k) is not None} - {OTHER})
    rej = ctx.rejected()
    aiming = rej[rej["kid"].isin(in_use).fillna(False).astype(bool)]
    aiming = aiming[aiming["reason"].isin(list(_ATTACK)).fillna(False).astype(bool) | aiming.index.isin(sub.index)]
    out: list[_Burst] = []
    for _key, x in ctx.series(sub.assign(all=0), ["all"]):
        for seg in _attack_segments(ctx, x):
            aimed = int(_seg_rows(aiming, seg)["count"].sum())
            out.append(_Burst(seg, _seg_rows(sub, seg), aimed, round(float(x[seg.i0 : seg.i1 + 1].max()))))
    # an attack on one API, ten a minute, stays under the fleet's busy scanner minutes (several scanners at once
    # across every API: session 35, blind fleet34 incident day 1 missed one); against that API's own scanner
    # noise it stands out
    fleet = list(out)
    for (prof,), x in ctx.series(sub[sub["profile"].notna()], ["profile"]):
        mine = sub[sub["profile"] == prof]
        for seg in _attack_segments(ctx, x):
            if any(seg.i0 <= b.seg.i1 + ATTACK_GAP and b.seg.i0 <= seg.i1 + ATTACK_GAP for b in fleet):
                continue
            aimed = int(_seg_rows(aiming[aiming["profile"] == prof], seg)["count"].sum())
            peak = round(float(x[seg.i0 : seg.i1 + 1].max()))
            out.append(_Burst(seg, _seg_rows(mine, seg), aimed, peak, str(prof)))
    return out


def _attack_segments(ctx: _Ctx, x: Arr) -> list[_Seg]:
    """The bursts of one series of tokens no accepted client presents (:func:`_attack_cores` of its runs)."""
    segs = _segments(x, ATTACK, ctx.m0)
    return _attack_cores(x, _two_pass_baseline(x, ATTACK, ctx.m0)[0], segs) if segs else []


def _swept(burst: _Burst) -> bool:
    """A scanner sweep, not an attack: no token names a key in use, and no minute reaches SWEEP_PEAK."""
    return burst.aimed == 0 and burst.peak < SWEEP_PEAK


def _mix(rows: pd.DataFrame, n: int = 5) -> str:
    mix = rows.groupby("reason", observed=True)["count"].sum().sort_values(ascending=False, kind="stable")
    return ", ".join(f"{k} {int(v)}" for k, v in mix.head(n).items())


def attack_bursts(data: pd.DataFrame | Aggregates | _Ctx, keyset_changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """``attack_burst``: tokens no legitimate client presents (from clients never accepted, or with an
    attack-signal reason on a kid nobody uses), significantly above the usual scanner noise (:func:`_bursts`),
    with a token aimed at a key in use (:func:`_bursts`) or a minute of at least SWEEP_PEAK tokens; the others are
    scanner sweeps (:func:`scanner_sweeps`). Key-set changes, when given, add the kids they publish to the keys in
    use."""
    ctx = _ctx(data, keyset_changes)
    if ctx.n == 0:
        return _empty()
    rows: list[dict[str, Any]] = []
    for b in _bursts(ctx):
        if _swept(b):
            continue
        seg, g = b.seg, b.rows
        n_attack = int(g.loc[g["reason"].isin(list(_ATTACK)), "count"].sum())
        minutes = seg.i1 - seg.i0 + 1
        aim = (
            f"{b.aimed} naming a key in use"
            if b.aimed
            else f"none naming a key in use, up to {b.peak} a minute (a scanner sweep stays under {SWEEP_PEAK})"
        )
        at = f" at {b.profile}" if b.profile else ""
        ev = (
            f"{seg.count} rejections of tokens no accepted client presents{at}, {seg.count / minutes:.0f}/min against "
            f"a scanner baseline of {seg.expected / minutes:.1f}/min; {n_attack} with attack-signal reasons, {aim}; "
            + _mix(g)
        )
        scope = pd.Series(True, index=ctx.c.index) if b.profile is None else _is(ctx.c["profile"], b.profile)
        share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
        rows.append(_row(ctx, "attack_burst", seg, ev, share, profile=b.profile))
    return _frame(rows)


#: the columns of :func:`scanner_sweeps`
SWEEP_COLUMNS = ["start", "end", "count", "peak_per_minute", "baseline_per_minute", "profiles", "reasons"]


def scanner_sweeps(data: pd.DataFrame | Aggregates | _Ctx, keyset_changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The bursts :func:`attack_bursts` leaves out as scanner sweeps (columns :data:`SWEEP_COLUMNS`): tokens no
    accepted client presents, significantly above the usual scanner noise, none aimed at a key in use, fewer than
    SWEEP_PEAK in every minute. Not incidents; the report lists them. Pass the key-set changes
    :func:`incidents` gets, so that both read the same keys in use."""
    ctx = _ctx(data, keyset_changes)
    rows: list[dict[str, Any]] = []
    for b in _bursts(ctx) if ctx.n else []:
        if not _swept(b):
            continue
        seg, g = b.seg, b.rows
        profiles = sorted(str(v) for v in g["profile"].dropna().unique().tolist())
        rows.append(
            {
                "start": ctx.ts(seg.i0),
                "end": ctx.ts(seg.i1, end=True),
                "count": seg.count,
                "peak_per_minute": b.peak,
                "baseline_per_minute": round(seg.expected / (seg.i1 - seg.i0 + 1), 2),
                "profiles": _few(profiles),
                "reasons": _mix(g),
            }
        )
    out = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    return out.astype({"count": "int64", "peak_per_minute": "int64", "baseline_per_minute": "float64"})


def rotation_incidents(
    data: pd.DataFrame | Aggregates | _Ctx,
    keyset_changes: pd.DataFrame | None = None,
    *,
    bursts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``jwks_outage`` (the issuer's key set cannot be fetched), ``kid_before_publish`` (accepted clients'
    still-valid tokens rejected as unknown kid, the kid accepted or published only later),
    ``key_removed_early`` (the kid was accepted before and its still-valid tokens are now unknown: it left
    the key set before the last ``exp`` of the tokens signed with it) and ``signature_spike`` (accepted
    clients' tokens failing signature checks on a kid they used). Tokens already past ``exp`` are ignored:
    they say nothing about the key set. ``bursts`` (:func:`attack_bursts`, as :func:`incidents` passes them): bad
    signatures in their minutes (2 before to 2 after) are the attack's and left out of the signature series - a
    flood of tampered tokens re-signed under a real kid an hour before a real spike joined its run (session 39,
    blind fleet44: the spike's onset 4 604 s early)."""
    ctx = _ctx(data, keyset_changes)
    if ctx.n == 0:
        return _empty()
    rows: list[dict[str, Any]] = []
    outages: dict[str, list[_Seg]] = {}
    out_rows = ctx.rejected(["JWT_JWKS_UNAVAILABLE"])
    for (iss,), x in ctx.series(out_rows, ["issuer"]):
        for seg in _segments(x, OUTAGE, ctx.m0):
            g = _seg_rows(out_rows[_is(out_rows["issuer"], iss)], seg)
            if _observations(g) < OUTAGE.min_count:
                continue  # one caller retrying through a short blip: a key set down shows in several
            outages.setdefault(str(iss), []).append(seg)
            if g["i"].nunique() < OUTAGE_MINUTES:
                continue  # a blip of seconds (the unknown kids it explains stay explained), no outage: below
            profiles = sorted(g["profile"].dropna().astype(str).unique().tolist())
            scope = _is(ctx.c["issuer"], iss)
            share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
            ev = (
                f"{seg.count} validations failed because the key set of {iss} could not be fetched, "
                f"from {ctx.hhmm(seg.i0)} to {ctx.hhmm(seg.i1)}; {len(_clients(g))} clients, "
                f"profiles {_few(profiles)}"
            )
            rows.append(_row(ctx, "jwks_outage", seg, ev, share, issuer=iss))
    unknown = ctx.rejected(["JWT_UNKNOWN_KID"])
    telling = set(unknown["profile"].dropna().astype(str))  # APIs that report an unknown kid as one (_kid_blind)
    unknown = unknown[ctx.known(unknown) & ~unknown["past_exp"] & unknown["kid"].notna() & (unknown["kid"] != OTHER)]
    unknown = unknown[_plausible(ctx, unknown)]
    for (iss, kid), x in ctx.series(unknown, ["issuer", "kid"]):
        segs = _after_removal_as_one(ctx, x, str(iss), str(kid), _segments(x, ROTATION, ctx.m0))
        for seg in segs:
            rows.extend(_rotation_row(ctx, unknown, outages, str(iss), str(kid), seg))
        for sparse in (_before_publish(ctx, x, str(iss), str(kid)), _after_removal(ctx, x, str(iss), str(kid))):
            if sparse is not None and not any(s.i0 <= sparse.i1 and sparse.i0 <= s.i1 for s in segs):
                rows.extend(_rotation_row(ctx, unknown, outages, str(iss), str(kid), sparse))
                segs.append(sparse)
    bad = ctx.rejected(["JWT_BAD_SIGNATURE"])
    # (past exp, or an exp further ahead than the issuer's tokens ever had: stale tokens of a retired key that a
    # validator verifying with one static key calls bad signatures, a scanner's tampered claims - session 36,
    # fleet36: 2 quiet days of 4 with a signature spike of such tokens on the gaming IdP's kid)
    bad = bad[ctx.known(bad) & ~bad["past_exp"] & bad["kid"].notna() & (bad["kid"] != OTHER)]
    bad = bad[_plausible(ctx, bad)]
    if bursts is not None and not bursts.empty:
        bad = bad[~_in_bursts(ctx, bad, bursts)]
    for (iss, kid), x in ctx.series(bad, ["issuer", "kid"]):
        first = ctx.kid_first.get((iss, kid))
        if first is None:
            continue
        for seg in _segments(x, SIGNATURE, ctx.m0):
            g = _seg_rows(bad[(bad["issuer"] == iss) & (bad["kid"] == kid)], seg)
            clients = _clients(g)
            kid_scope = ((ctx.c["issuer"] == iss) & (ctx.c["kid"] == kid)).fillna(False)
            share = seg.count / max(1, ctx.total(kid_scope, seg.i0, seg.i1))
            if not clients or max(share, _peak_share(ctx, kid_scope, x, seg)) < 0.05:
                continue
            ok = _seg_rows(ctx.acc[(ctx.acc["issuer"] == iss) & (ctx.acc["kid"] == kid)], seg)
            others = set(_clients(ok)) - set(clients)
            if len(clients) < 2 and others:
                continue  # one client's tokens corrupted in transit while others verify: not a key problem
            if first > seg.i0 and _kid_blind(g, telling):
                rows.extend(_unverified_kid(ctx, rows, seg, g, str(iss), str(kid), first, share))
                continue
            ev = (
                f"{seg.count} bad signatures on kid {kid} ({share:.0%} of its validations) from "
                f"{len(clients)} accepted client{'s' if len(clients) > 1 else ''} ({_few(clients)})"
                + ("" if others else ", every client that used the kid meanwhile")
                + f"; the kid verified since {ctx.hhmm(first)}"
            )
            factor = 1.0 if len(clients) >= 2 else 0.7
            rows.append(_row(ctx, "signature_spike", seg, ev, share, issuer=iss, kid=kid, confidence_factor=factor))
    return _frame(rows)


def _in_bursts(ctx: _Ctx, rows: pd.DataFrame, bursts: pd.DataFrame) -> pd.Series:
    """Whether each of ``rows`` lies in an attack burst's minutes, from 2 minutes before its first to 2 after its last
    (the slack :func:`_of_attacks` gives)."""
    out = pd.Series(False, index=rows.index)
    for _, b in bursts.iterrows():
        seg = _minutes_of(ctx, b)
        out |= (rows["i"] >= seg.i0 - 2) & (rows["i"] <= seg.i1 + 2)
    return out


def _peak_share(ctx: _Ctx, scope: pd.Series, x: Arr, seg: _Seg, width: int = 5) -> float:
    """The largest share of failures ``x`` among the validations of ``scope`` in any ``width`` minutes of run
    ``seg``: key material replaced fails the tokens minted since, while the tokens minted before go on verifying
    (blind fleet42: 700 bad signatures from 3 apps on the customer IdP's kid in 80 minutes, half of its validations
    in the first ten, 3 % over a run that the flash sale's traffic and the JWKS outage after it filled - no
    incident)."""
    c = ctx.c[scope & (ctx.c["i"] >= seg.i0) & (ctx.c["i"] <= seg.i1)]
    total = np.zeros(seg.i1 - seg.i0 + 1)
    np.add.at(total, c["i"].to_numpy(dtype=np.int64) - seg.i0, c["count"].to_numpy(dtype="float64"))
    fails = x[seg.i0 : seg.i1 + 1]
    k = min(width, len(total))
    win_f = np.convolve(fails, np.ones(k), "valid")
    win_t = np.convolve(total, np.ones(k), "valid")
    return float(np.max(win_f / np.maximum(win_t, 1.0))) if len(win_t) else 0.0


def _kid_blind(g: pd.DataFrame, telling: set[str]) -> bool:
    """Whether most of the failures ``g`` come from APIs that never rejected a token as ``JWT_UNKNOWN_KID`` in the
    data (not in ``telling``): validators that report a kid they do not have as a bad signature (python-jose given
    the whole key set tries every key). Scanners' random kids reach every API all day, so one that tells unknown
    kids apart shows it; there, a bad signature on a new kid is its key material (the simulator's signature spike on
    a kid rotated in)."""
    blind = int(g.loc[~g["profile"].astype("object").isin(telling), "count"].sum())
    return 2 * blind > int(g["count"].sum())


def _unverified_kid(
    ctx: _Ctx, rows: list[dict[str, Any]], seg: _Seg, g: pd.DataFrame, iss: str, kid: str, first: int, share: float
) -> list[dict[str, Any]]:
    """``kid_before_publish`` for bad signatures on a kid first verified only after they began: a validator that
    tries every key of its set when it does not find the token's kid (python-jose given the whole set, a single
    static key) reports a kid it does not have yet as a bad signature, not an unknown kid (blind fleet40: a partner
    IdP signing 6 minutes before its key set had the key, 31 failures at a python-jose API, reported as a
    signature spike on a kid "verified since" after them). None when the unknown-kid rule found it already."""
    if any(
        r["kind"] == "kid_before_publish" and r["kid"] == kid and r["issuer"] == iss and _overlaps(ctx, r, seg)
        for r in rows
    ):
        return []
    clients = _clients(g)
    ev = (
        f"{seg.count} tokens of {len(clients)} accepted client{'s' if len(clients) > 1 else ''} ({_few(clients)}) "
        f"signed with kid {kid} rejected as bad signatures ({share:.0%} of its validations) by "
        f"{_few(sorted(g['profile'].dropna().astype(str).unique().tolist()))} from {ctx.hhmm(seg.i0)}; the kid "
        f"verified first at {ctx.hhmm(first)}: the validator did not have its key yet (one that tries every key "
        "it has reports a kid it does not know as a bad signature)"
    )
    return [_row(ctx, "kid_before_publish", seg, ev, share, issuer=iss, kid=kid)]


def _plausible(ctx: _Ctx, rows: pd.DataFrame) -> pd.Series:
    """Rows whose tokens' ``exp`` lies no further ahead of their minute than any accepted token's of their client
    (of their issuer, for a client never accepted with it) ever did (+ 3 minutes). The ``exp`` of a token rejected
    for an unknown kid or a bad signature was never verified: a real token's claims tampered with (``exp`` a year
    ahead) naming a kid retired hours after its last token expired made a healthy retirement read as
    ``key_removed_early`` (session 32, fleet32: 2 of 4 quiet days); tokens of a web player's (15-minute tokens)
    with ``iat`` and ``exp`` moved 5 hours ahead, within the issuer's longest lifetime (smart TVs' 24 hours), started
    a signature spike's onset 46 minutes early and made a quiet day's ``kid_before_publish`` (session 37, fleet36).
    An issuer without accepted ``exp`` keeps every row."""
    if rows.empty:
        return pd.Series(True, index=rows.index)
    acc, ahead = _ahead(ctx)
    bound = rows["issuer"].astype("object").map(_longest_ahead(ctx)).astype("float64")
    named = acc["client_id"].notna() & (acc["client_id"] != OTHER)
    if named.any():
        keys = acc["issuer"].astype("object") + "\x00" + acc["client_id"].astype("object")
        per_client = ahead[named].groupby(keys[named]).max()
        mine_keys = rows["issuer"].astype("object") + "\x00" + rows["client_id"].astype("object")
        bound = mine_keys.map(per_client).astype("float64").fillna(bound)
    bound = bound + 180.0
    mine = rows["max_exp"].astype("float64") - (ctx.m0 + rows["i"].astype("float64")) * 60.0
    return (~(mine > bound)).fillna(True).astype(bool)


def _ahead(ctx: _Ctx) -> tuple[pd.DataFrame, pd.Series]:
    """The accepted rows with an ``exp`` and how far (s) their latest ``exp`` lay ahead of their minute."""
    acc = ctx.acc[ctx.acc["max_exp"].notna()]
    return acc, acc["max_exp"].astype("float64") - (ctx.m0 + acc["i"].astype("float64")) * 60.0


def _longest_ahead(ctx: _Ctx) -> pd.Series:
    """Per issuer: the longest remaining validity (s) of a token accepted with it (:func:`_ahead`)."""
    acc, ahead = _ahead(ctx)
    return ahead.groupby(acc["issuer"].astype("object"), dropna=False).max()


def _before_publish(ctx: _Ctx, x: Arr, iss: str, kid: str) -> _Seg | None:
    """Accepted clients' still-valid tokens rejected as unknown ``kid`` in minutes that ended before any validator
    saw the key set publish it: at least ROTATION.min_count of them are the incident however sparse (a client
    refreshing on each 401 gets a new token signed with the same unpublished key, a few minutes apart, too slow
    for the count series). A healthy rotation publishes a key before signing with it; only the key-set changes
    tell when, so without them this says nothing."""
    added = ctx.added.get((iss, kid))
    if added is None:
        return None
    end = min(ctx.n, max(0, math.floor(added / 60.0) - ctx.m0))  # minutes before the one it was published in
    hit = np.flatnonzero(x[:end] > 0)
    n = round(float(x[:end].sum()))
    if n < ROTATION.min_count:
        return None
    return _sparse_seg(hit, n)


def _after_removal(ctx: _Ctx, x: Arr, iss: str, kid: str) -> _Seg | None:
    """The mirror of :func:`_before_publish`: accepted clients' still-valid tokens rejected as unknown ``kid`` from
    ROTATION.back minutes before the first validator saw the key set drop it (a replica without key-set changes,
    such as PyJWKClient's, may refetch first) - at least ROTATION.min_count of them are the incident however sparse
    (a few clients a few minutes apart, too slow for the count series). Whether the removal was early (before the
    last ``exp`` of the kid's tokens) is :func:`_rotation_row`'s test; without key-set changes this says nothing."""
    dropped = _removal_start(ctx, iss, kid)
    first = ctx.kid_first.get((iss, kid))
    if dropped is None or first is None:
        return None
    start = max(first + 1, dropped)
    if start >= ctx.n:
        return None
    hit = np.flatnonzero(x[start:] > 0) + start
    n = round(float(x[start:].sum()))
    if n < ROTATION.min_count:
        return None
    return _sparse_seg(hit, n)


def _removal_start(ctx: _Ctx, iss: str, kid: str) -> int | None:
    """The minute ROTATION.back minutes before the first validator saw the key set drop ``kid`` (a replica without
    key-set changes, PyJWKClient's, may refetch first); None without such a change."""
    removed = ctx.removed.get((iss, kid))
    return None if removed is None else math.floor(removed / 60.0) - ctx.m0 - ROTATION.back


def _after_removal_as_one(ctx: _Ctx, x: Arr, iss: str, kid: str, segs: list[_Seg]) -> list[_Seg]:
    """The runs of ``kid``'s unknown-kid series from ROTATION.back minutes before the key set dropped it on as one:
    they are one removal's consequence, however long its tokens stay valid and however the callers pause (24 h
    tokens of a key dropped after 3 h: 5 and 27 nested incidents of one kid over a day without this)."""
    start = _removal_start(ctx, iss, kid)
    if start is None or len(segs) < 2:
        return segs
    before = [seg for seg in segs if seg.i0 < start]
    after = [seg for seg in segs if seg.i0 >= start]
    if len(after) < 2:
        return segs
    i0, i1 = after[0].i0, after[-1].i1
    count = round(float(x[i0 : i1 + 1].sum()))
    expected = sum(seg.expected for seg in after)
    return [*before, _Seg(i0, i1, count, expected, min(seg.p for seg in after), after[0].alarm)]


def _sparse_seg(hit: Any, n: int) -> _Seg:
    """The run from the first to the last non-zero minute of ``hit``: ``n`` counts against the rotation floor."""
    i0, i1 = int(hit[0]), int(hit[-1])
    mu = ROTATION.floor * (i1 - i0 + 1)
    return _Seg(i0, i1, n, mu, _poisson_tail(n, mu), i1)


def _observations(rows: pd.DataFrame) -> int:
    """Independent observations among ``rows``: a client's failures within one minute count once (a batch job
    or a retry loop firing one token through a short blip is one caller, not many); rows without a known client
    count in full (they cannot be told apart)."""
    named = rows["client_id"].notna() & (rows["client_id"] != OTHER)
    return int(rows.loc[named, ["client_id", "i"]].drop_duplicates().shape[0] + rows.loc[~named, "count"].sum())


def _rotation_row(
    ctx: _Ctx, unknown: pd.DataFrame, outages: dict[str, list[_Seg]], iss: str, kid: str, seg: _Seg
) -> list[dict[str, Any]]:
    g = _seg_rows(unknown[(unknown["issuer"] == iss) & (unknown["kid"] == kid)], seg)
    near = np.zeros(len(g), dtype=bool)
    removed = ctx.removed.get((iss, kid))
    for o in outages.get(iss, []):
        if removed is not None and removed < (ctx.m0 + o.i0 - 10) * 60.0:
            continue  # the key set had dropped the kid before the fetches failed: they explain none of its failures
        near |= ((g["i"] >= o.i0 - 10) & (g["i"] <= o.i1 + 10)).to_numpy()
    if 2 * int(g.loc[near, "count"].sum()) >= max(1, int(g["count"].sum())):
        # validators could not fetch the key set: the outage explains the unknown kids in its minutes - not a run
        # of hours around a blip of a minute (session 40, blind fleet54: a device CA's key removed 4 hours early,
        # 3 347 unknown kids in 3 hours, was no incident beside two 1-2 minute fetch failures of restarted replicas)
        return []
    clients = _clients(g)
    first = ctx.kid_first.get((iss, kid))
    last = ctx.kid_last.get((iss, kid))
    added = ctx.added.get((iss, kid))
    seg_t0 = (ctx.m0 + seg.i0) * 60.0
    iss_scope = (ctx.c["issuer"] == iss).fillna(False)
    share = seg.count / max(1, ctx.total(iss_scope, seg.i0, seg.i1))
    who = (
        f"{seg.count} still-valid tokens from {len(clients)} accepted clients ({_few(clients)})"
        if clients
        else f"{seg.count} still-valid tokens naming no client"
    )
    if first is not None and first < seg.i0:
        acc = ctx.acc[(ctx.acc["issuer"] == iss) & (ctx.acc["kid"] == kid) & (ctx.acc["i"] < seg.i0)]
        valid_until = max(_max_int(acc["max_exp"]), _max_int(g["max_exp"]))
        last_ok = last if last is not None and last < seg.i0 else seg.i0
        # gone from a validator's key set by the time the first key-set change shows it, or by the first of these
        # rejections of still-valid tokens if that is earlier (a replica whose key source refetches late - a
        # Verifier's JwksSource between refreshes - reports the removal an hour after PyJWKClient's replicas
        # failed on it)
        gone = min(removed, seg_t0) if removed is not None else (ctx.m0 + last_ok) * 60.0
        if valid_until and gone >= valid_until:
            return []  # removed after its tokens expired: a healthy retirement
        if _all_after_signing(ctx, g, iss, gone):
            return []
        if removed is None:
            dropped = ""
        elif removed <= seg_t0:
            dropped = f", the key set dropped it at {_clock(removed)}"
        else:  # (reported late by a key source between refreshes: the failures are the earlier evidence)
            dropped = (
                f", validators lack it from {ctx.hhmm(seg.i0)} (a key source reported it dropped at {_clock(removed)})"
            )
        ev = (
            f"{who} rejected as unknown kid {kid}; it verified until {ctx.hhmm(int(last or first))}"
            + dropped
            + (f" while tokens signed with it are valid until {_clock(valid_until)}" if valid_until else "")
        )
        return [_row(ctx, "key_removed_early", seg, ev, share, issuer=iss, kid=kid)]
    if first is not None:
        ev = f"{who} rejected as unknown kid {kid}; first accepted at {ctx.hhmm(first)}"
        if added is not None:
            ev += f", the key set published it at {_clock(added)}"
        return [_row(ctx, "kid_before_publish", seg, ev, share, issuer=iss, kid=kid)]
    if added is not None and added > seg_t0:
        ev = f"{who} rejected as unknown kid {kid} before the key set published it at {_clock(added)}"
        return [_row(ctx, "kid_before_publish", seg, ev, share, issuer=iss, kid=kid)]
    if len(clients) >= 2 and added is None:
        ev = f"{who} rejected as unknown kid {kid}; the kid is never accepted in these events"
        return [_row(ctx, "kid_before_publish", seg, ev, share, issuer=iss, kid=kid, confidence_factor=0.7)]
    return []


def _all_after_signing(ctx: _Ctx, g: pd.DataFrame, iss: str, gone: float) -> bool:
    """Whether every rejection of ``g`` (unknown kid rows of a removed key) came later than a token signed with the
    key by the time it was ``gone`` (s) can be valid: the issuer's longest remaining validity at acceptance
    (:func:`_plausible`'s bound, + 3 minutes) after it. Their ``exp`` was never verified: scanners replaying leaked
    tokens with ``exp`` moved to an hour ahead, for hours after a healthy retirement (session 42, blind fleet62: 6
    false ``key_removed_early`` of 3-10 such tokens, from 1.5 to 7.5 hours after the key left, on 1-hour tokens)."""
    longest = _longest_ahead(ctx).get(iss)
    if longest is None or pd.isna(longest):
        return False
    first = (ctx.m0 + float(g["i"].min())) * 60.0
    return first > gone + float(longest) + 180.0


def _max_int(values: pd.Series) -> int:
    """The largest value as int, 0 when there is none (tokens without ``exp``: every value missing)."""
    top = values.max(skipna=True)
    return 0 if top is None or pd.isna(top) else int(top)


def _clock(t: float) -> str:
    """A UTC time for evidence text; a NumericDate outside what a datetime holds (an ``exp`` in milliseconds, in
    the year 50000) as its number."""
    try:
        return f"{pd.Timestamp(t, unit='s', tz='UTC'):%Y-%m-%d %H:%M:%S} UTC"
    except (ValueError, OverflowError, NotImplementedError):  # pandas' OutOfBoundsDatetime is a ValueError
        return f"NumericDate {t:.0f} (not a date: milliseconds?)"


def leeway(data: pd.DataFrame | Aggregates | _Ctx) -> dict[str, float]:
    """Per profile: the leeway its validator grants past ``exp``, as the events show it. The accepted uses
    past ``exp`` bound it from below (the upper edge of the latest bin in which a token past ``exp`` was still
    accepted), the rejections from above (the lower edge of the earliest bin in which one was rejected as
    expired): requests in flight or retried at expiry fail right past the leeway, so where at least
    :data:`LEEWAY_SUPPORT` rejections lie within :data:`LEEWAY_NEAR` s above that edge it is the leeway; 0
    when neither shows it."""
    ctx = _ctx(data)
    lat = ctx.agg.lateness
    out = {str(p): 0.0 for p in ctx.c["profile"].dropna().unique().tolist()}
    late = lat[lat["direction"] == "late"]
    acc = late[late["outcome"] == "accepted"]
    for prof, g in acc.groupby("profile"):
        # ignore a stray bin far above the rest (one token at the limit on a busy API would not move it)
        out[str(prof)] = lateness_quantile(g, 0.999)
    edges = np.asarray((0.0, *LATENESS_EDGES))
    for prof, g in late[late["outcome"] == "rejected"].groupby("profile"):
        by = g.groupby("le")["count"].sum()
        by = by[by > 0].sort_index()
        if by.empty:
            continue
        low = float(edges[int(np.searchsorted(edges, float(by.index[0]))) - 1])
        if int(by[by.index <= low + LEEWAY_NEAR].sum()) >= LEEWAY_SUPPORT:
            out[str(prof)] = max(out.get(str(prof), 0.0), low)
    return out


def _skew_late(ctx: _Ctx) -> pd.DataFrame:
    """Rejected rows of ``lateness`` (late and early) of clients accepted before, on the minute grid."""
    lat = ctx.agg.lateness
    if lat.empty:
        return lat.assign(i=pd.Series(dtype="int64"))
    m = (lat["minute"].astype("datetime64[ns, UTC]").astype("int64") // _NS_MIN).to_numpy()
    lat = lat.assign(i=m - ctx.m0)
    rej = lat[(lat["outcome"] == "rejected") & lat["client_id"].notna() & (lat["client_id"] != OTHER)]
    return rej[ctx.known(rej)]


def _skew_rows(rej: pd.DataFrame, has_cont: bool) -> pd.DataFrame:
    if has_cont:
        return rej[(rej["direction"] == "early") | rej["cont"]]
    # metrics only: late rejections within half an hour past exp
    return rej[(rej["direction"] == "early") | (rej["le"] <= 1800.0)]


def _lifetimes(ctx: _Ctx) -> dict[str, float]:
    """Per client: the longest remaining validity of a token it presented at acceptance, in minutes (about
    its tokens' lifetime: the freshest token of a minute has nearly all of it left)."""
    acc = ctx.acc[ctx.acc["client_id"].notna() & (ctx.acc["client_id"] != OTHER) & ctx.acc["max_exp"].notna()]
    left = acc["max_exp"].astype("float64") / 60.0 - (acc["m"].astype("float64"))
    return left.groupby(acc["client_id"]).max().to_dict() if len(acc) else {}


def _accepted_late(ctx: _Ctx) -> dict[str, set[int]]:
    """Per client: the minutes in which it presented a token more than one lateness bin (5 s) past ``exp`` that
    the validator still accepted within its leeway (not a request in flight at expiry: sent after it)."""
    if ctx.late_accepted is None:
        ctx.late_accepted = _late_accepted_minutes(ctx)
    return ctx.late_accepted


def _late_accepted_minutes(ctx: _Ctx) -> dict[str, set[int]]:
    lat = ctx.agg.lateness
    acc = lat[(lat["outcome"] == "accepted") & (lat["direction"] == "late") & (lat["le"] > LATENESS_EDGES[0])]
    acc = acc[acc["client_id"].notna() & (acc["client_id"] != OTHER)]
    if acc.empty:
        return {}
    m = (acc["minute"].astype("datetime64[ns, UTC]").astype("int64") // _NS_MIN).to_numpy() - ctx.m0
    return {str(c): set(g.tolist()) for c, g in pd.Series(m, index=acc.index).groupby(acc["client_id"].to_numpy())}


def clock_skew_incidents(data: pd.DataFrame | Aggregates | _Ctx) -> pd.DataFrame:
    """``clock_skew``: an accepted client keeps using its tokens past ``exp`` beyond the validator's leeway
    (rejected shortly after the same token was accepted: its clock is behind) or presents them before
    ``nbf`` (ahead), significantly more often than its own baseline. Stale tokens replayed after a restart
    or by a laptop waking (the token was last accepted long ago) are not this pattern. The evidence gives
    the offset per token cycle, so drift shows. A client of many users whose failures come from a few of
    them (:data:`SKEW_DEVICE_SHARE`: a device whose own clock is off) is no incident of the client, nor one of
    many devices whose failures are a small share of the tokens they renewed meanwhile (:func:`_few_tokens`)."""
    ctx = _ctx(data)
    if ctx.n == 0:
        return _empty()
    return _frame(_few_tokens(ctx, _beyond_devices(ctx, _clock_skews(ctx))))


def _few_tokens(ctx: _Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without the client ``clock_skew`` incidents of a client of many devices (at least
    :data:`SKEW_DEVICE_PEERS` renewing a token per cycle, :func:`_devices`) whose failures are fewer than
    :data:`SKEW_TOKEN_SHARE` of the minutes in which it renewed a token meanwhile (:func:`_renewed`). A client's
    clock behind by more than its refresh margin fails most tokens its devices use up to ``exp``; a few of its
    devices off fail a few. Shared workstations and bedside carts (blind fleet46, session 39: clinicians switching
    users on them) give a device's failures every user's ``sub``, so :func:`_beyond_devices` cannot single out the
    device: a SMART app of ~50 devices failing 50-83 times a day on 540-790 renewal minutes (0.08-0.11) was a
    clock incident of the app on 3 of 4 quiet days; the clock incidents of the other blind fleets fail 1.0-85 times
    their renewal minutes. A lateness drifting by :data:`SKEW_DRIFTING` s/h or more over the incident (:func:`_drift`)
    keeps it: a clock going wrong across part of the fleet (blind fleet44: half of a console model's units drifting
    160 s/h, 0.11) - read off the incident's own failures (tokens in use), not every token of the client rejected past
    ``exp``: a portal's laptops bringing tokens days old read as a clock drifting thousands of s/h (blind fleet50,
    session 40: a few phones behind, 22 failures on 425 renewal minutes, a clock of the portal)."""
    mine = [r for r in rows if r["kind"] == "clock_skew" and r["client_id"] is not None]
    if not mine:
        return rows
    devices = _devices(ctx, _lifetimes(ctx))
    ren = _renewed(ctx)
    kept = _skew_rows(_skew_late(ctx), ctx.agg.has_cont)  # (the failures of the evidence's offsets: not stale tokens)
    drop: set[int] = set()
    for r in mine:
        cid = str(r["client_id"])
        if devices.get(cid, 0.0) < SKEW_DEVICE_PEERS:
            continue
        seg = _minutes_of(ctx, r)
        n = int(((ren["client_id"] == cid) & (ren["i"] >= seg.i0) & (ren["i"] <= seg.i1)).sum())
        if (
            int(r["count"]) < SKEW_TOKEN_SHARE * n
            and abs(_drift(_seg_rows(kept[kept["client_id"] == cid], seg))) < SKEW_DRIFTING
        ):
            drop.add(id(r))
    return [r for r in rows if id(r) not in drop]


def _drift(g: pd.DataFrame) -> float:
    """How fast the lateness of failures ``g`` past ``exp`` moves, in s/h: the 95th percentile of the last hour holding
    any less the first's, over the hours between; 0 over less than :data:`SKEW_CHRONIC_H` hours (a few failures'
    percentiles in two hours are noise: fleet36, a console client's 14 failures in 2 h "drifting")."""
    part = g[g["direction"] == "late"]
    if part.empty:
        return 0.0
    i0, i1 = int(part["i"].min()), int(part["i"].max())
    if i1 - i0 < SKEW_CHRONIC_H * 60:
        return 0.0
    hourly = _hourly_offsets(part, i0, i1)
    return _rate(hourly) if len(hourly) >= 2 else 0.0


def _hourly_offsets(part: pd.DataFrame, i0: int, i1: int) -> list[tuple[int, float]]:
    """(first minute, 95th percentile of the lateness) of each hour from minute ``i0`` to ``i1`` holding rows of
    ``part``: the offset by hour of a clock incident's evidence (:func:`_skew_row`) and its drift (:func:`_drift`)."""
    out = []
    for h0 in range(i0, i1 + 1, 60):
        hp = part[(part["i"] >= h0) & (part["i"] < h0 + 60)]
        if not hp.empty:
            out.append((h0, lateness_quantile(hp, 0.95)))
    return out


def _rate(hourly: list[tuple[int, float]]) -> float:
    """s/h of :func:`_hourly_offsets` (at least two): the median of the slopes between every two of them (Theil-Sen),
    not the first to the last alone - one hour's stale token or stall at either end made a lazy seller's offsets
    (180, 90, 900, 600, 240, 105, 300, 900 s) "drift" 103 s/h from first to last; their median slope is 25, a depot's
    scanners really drifting behind (1 200, 5 400 in a stall, 600, then 1 200 -> 2 700 s) 200 (session 41)."""
    slopes = [(o1 - o0) / ((a1 - a0) / 60.0) for (a0, o0), (a1, o1) in itertools.combinations(hourly, 2) if a1 > a0]
    return float(np.median(slopes)) if slopes else 0.0


def _clock_skews(ctx: _Ctx) -> list[dict[str, Any]]:
    """The rows of :func:`clock_skew_incidents` before :func:`_beyond_devices`."""
    late = _skew_late(ctx)
    lw = leeway(ctx)
    sub = _skew_rows(late, ctx.agg.has_cont)
    life = _lifetimes(ctx)
    creep = _accepted_late(ctx)
    rows: list[dict[str, Any]] = []
    for (cid,), x in ctx.series(sub, ["client_id"]):
        # a clock that is off shows in request after request until the client renews; a worker pool replaying
        # its cached token after a restart shows as a burst within seconds: a minute counts at most twice
        for seg in _segments(np.minimum(x, 2.0), SKEW, ctx.m0):
            mine = sub[sub["client_id"] == cid]
            g = _seg_rows(mine, seg)
            if g["i"].nunique() < SKEW_MINUTES:
                continue
            back = _skew_cycle(life, cid)
            first = int(ctx.client_first.get(cid, 0))
            i0 = _skew_onset(
                late[late["client_id"] == cid], mine, seg.alarm, lw, back, first, ctx.agg.has_cont, creep.get(str(cid))
            )
            g = _seg_rows(mine, _Seg(i0, seg.i1, 0, 0.0, 1.0))
            behind = g.loc[g["direction"] == "late", "count"].sum() >= g["count"].sum() / 2
            if behind and ctx.agg.has_cont and not _skew_at_pace(late[late["client_id"] == cid], lw, i0, seg.i1):
                continue  # bursts of seconds (a pool's cached token, retries at expiry), not a clock
            if _usual_rate(ctx, late, str(cid), "late" if behind else "early", max(i0, seg.i0), seg.i1):
                continue
            seg = _Seg(i0, seg.i1, int(g["count"].sum()), seg.expected, seg.p)
            rows.append(_skew_row(ctx, g, lw, str(cid), seg))
    found = {(str(r["client_id"]), r["start"], r["end"]) for r in rows}
    if ctx.agg.has_cont:
        rows += _skew_creeping(ctx, late, lw, life, found)
        found |= {(str(r["client_id"]), r["start"], r["end"]) for r in rows}
        rows += _skew_stepping(ctx, late, lw, life, found)
        found |= {(str(r["client_id"]), r["start"], r["end"]) for r in rows}
        rows += _skew_kept(ctx, late, lw, life, found)
        found |= {(str(r["client_id"]), r["start"], r["end"]) for r in rows}
        rows += _skew_refreshed(ctx, late, lw, life, found)
    # a client seen with one token only (it never renewed in the data) that goes on using it past exp does not
    # refresh at all - a CI run or a script outliving its token, under a client id minted for it - and a clock
    # cannot be told from that: a clock behind renews once its own clock reaches exp, a client refreshing on its
    # 401 renews after the first failure (session 21)
    renewing = set(_renewed(ctx)["client_id"].astype(str))
    rows = [r for r in rows if str(r["client_id"]) in renewing]
    out = _skew_shared(ctx, late, lw, life, _skew_changed(ctx, late, _skew_merged(ctx, rows, life), life))
    if ctx.agg.has_cont:  # (as _skew_shared: the metrics engine cannot see server_clock_skew)
        out = _issuer_clocks(ctx, late, lw, _app_clocks(ctx, late, lw, life, out))
        out = _validator_clocks(ctx, late, lw, _api_clocks(ctx, late, lw, out))
        out = _explained_by_validators(ctx, late, lw, out)
        out = _expired_on_arrival(ctx, late, lw, life, out)
    return out


def _usual_rate(ctx: _Ctx, late: pd.DataFrame, cid: str, direction: str, i0: int, i1: int) -> bool:
    """Whether client ``cid`` failed past ``exp`` (rows of ``late`` of ``direction`` "late"; "early": before
    ``nbf``) per accepted use, from its first acceptance (or its return, :func:`_resumed`) to minute ``i0``, at
    more than 1 / :data:`SKEW_RATE_RISE` of its rate in ``i0..i1``, with at least :data:`SKEW_RATE_HISTORY` such
    failures before: the failures it always has, more of them at a busier hour. A clock going wrong multiplies
    them."""
    used = _accepted_uses(ctx).get(cid)
    minutes = _accepted_minutes(ctx).get(cid)
    if used is None or not minutes:
        return False
    first = _resumed_at(minutes, i0)
    mine = late[(late["client_id"] == cid) & (late["direction"] == direction)]
    during, before, u_during, u_before = _failures_and_uses(mine, used, first, i0, i1)
    if before < SKEW_RATE_HISTORY or u_during <= 0 or u_before <= 0:
        return False
    return during / u_during < SKEW_RATE_RISE * before / u_before


def _expired_on_arrival(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``server_clock_skew`` for an issuer whose every token is past ``exp`` when first presented (:data:`ARRIVAL`):
    its clock behind by more than its tokens' lifetime (session 35, fleet34: a mesh CA 480 s behind with 5-minute
    tokens, 1 057 rejections in 30 min and no incident), or the validators' clock ahead by as much (several issuers
    failing so at once at the same APIs: one incident naming no issuer). The clock detectors before read tokens in
    use, and these were never accepted. The clients' own ``clock_skew`` incidents of that issuer meanwhile are
    this one."""
    rej = late[(late["direction"] == "late") & late["issuer"].notna()]
    fresh = rej[~rej["seen"].astype(bool)]
    found: list[tuple[_Seg, list[str], pd.DataFrame, set[str]]] = []  # (run, clients, failures, APIs)
    for iss, x, seg, g, clients in _fresh_runs(ctx, rej, fresh, "issuer"):
        if not _one_lateness(g, clients, lw, life):
            core = _arrival_core(ctx, fresh[fresh["issuer"] == iss], g, seg)
            if core is None:
                continue  # (tokens held through a stall, presented once each hours later: not fresh ones failing)
            seg, g, x = core
            clients = _clients(g)
            need = 1 if _sole_client(ctx, str(iss)) is not None else ISSUER_CLOCK_CLIENTS
            failing = _failing(x, seg)
            if len(clients) < need or not _one_lateness(g, clients, lw, life) or not _steady(x, seg, failing):
                continue  # (a pool's restart replaying its cached tokens at once is a burst of minutes, no clock)
        n = int(g["count"].sum())
        acc = _seg_rows(ctx.acc, seg)
        acc = acc[(acc["issuer"] == iss).fillna(False) & acc["client_id"].isin(clients).fillna(False)]
        if _sole_client(ctx, str(iss)) is not None:
            # (its only client's other tokens - 1-hour service tokens beside 5-minute launch tokens - live on
            # elsewhere: accepted at the APIs the run failed at)
            profiles = _named(g, "profile") or [str(v) for v in g["profile"].dropna().unique()]
            acc = acc[acc["profile"].isin(profiles).fillna(False)]
        accepted = int(acc["count"].sum())
        if accepted > ARRIVAL_ACCEPTED * (n + accepted) and not _one_signer(x, seg, g, clients):
            # ... or in the minutes they failed so, where that is minute after minute: a run's end trails its
            # last failures by up to an hour of normal traffic (session 36, fleet36: an IdP 8 min behind, 679
            # fresh failures in 30 min, then accepted again - 47 % accepted over the run)
            failing = _failing(x, seg)
            accepted = int(acc.loc[acc["i"].isin(failing), "count"].sum())
            if not _steady(x, seg, failing) or accepted > ARRIVAL_ACCEPTED * (int(x[failing].sum()) + accepted):
                continue
        found.append((seg, clients, g, set(g["profile"].dropna().astype(str))))
    at_api = _arrival_at_api(ctx, rej, fresh, lw, life, found)
    if not found and not at_api:
        return rows
    # issuers failing so together at the same APIs: the validators' clock (one incident naming no issuer); runs at
    # several APIs at once whose failures one issuer holds (:func:`_named`): that issuer's clock, not at one API - two
    # validators' clocks going off together by as much is less likely (blind fleet40: an IdP 20 min behind with
    # 15-minute tokens, still accepted meanwhile with the tokens it had issued before, was two incidents each blaming
    # one API's clock, the first 24 minutes early)
    merged = _merged_runs(found, lambda g, mg, profiles: bool(profiles & set(mg["profile"].dropna().astype(str))))
    merged += _merged_runs(
        at_api,
        lambda g, mg, _p: len(_named(g, "issuer")) == 1 and _named(mg, "issuer") == _named(g, "issuer"),
        alone=True,
    )
    out = list(rows)
    for seg, g, clients, api in merged:
        if any(r["kind"] == "server_clock_skew" and _overlaps(ctx, r, seg) for r in rows):
            continue
        out = [
            r
            for r in out
            if not (r["kind"] == "clock_skew" and str(r["client_id"]) in clients and _overlaps(ctx, r, seg))
        ]
        i0 = _core_start(g, seg)
        g = g[g["i"] >= i0]
        run = _Seg(i0, seg.i1, int(g["count"].sum()), seg.expected, seg.p)
        own = _named(g, "client_id")
        issuers = _named(g, "issuer")
        if len(own) == 1 and not (len(issuers) == 1 and _sole_client(ctx, issuers[0]) == own[0]):
            # one client's: its own clock (below); an issuer's only client: the issuer's (or the client's: one signer)
            out = [r for r in out if not (r["kind"] == "clock_skew" and r["client_id"] == own[0])] + [
                _own_clock_row(ctx, g, lw, life, run, own[0])
            ]
            continue
        out.append(_arrival_row(ctx, g, lw, life, run, at_api=api))
    return out


def _own_clock_row(
    ctx: _Ctx, g: pd.DataFrame, lw: dict[str, float], life: dict[str, float], seg: _Seg, cid: str
) -> dict[str, Any]:
    """The ``clock_skew`` incident of client ``cid`` for an arrival run (:func:`_expired_on_arrival`) whose failures it
    holds :data:`NAMED_SHARE` of: a service signing its own tokens (self-issued, or through its own signer) with its
    clock behind by more than their lifetime fails every one wherever it sends them, and no other client does -
    its clock, not the API's or the issuer's (session 39, blind fleet36: transcoder nodes 7 minutes behind minting
    5-minute tokens, 345 of the 346 failures at the ingest API, was that API's clock)."""
    mine = g[g["client_id"] == cid]
    n = int(mine["count"].sum())
    q50, q95 = lateness_quantile(mine, 0.5), lateness_quantile(mine, 0.95)
    lifetime = life.get(cid, 0.0) * 60.0
    ev = (
        f"client {cid}: {n} of the {int(g['count'].sum())} tokens rejected past exp on their first use (never "
        f"accepted) from {ctx.hhmm(seg.i0)} to {ctx.hhmm(seg.i1)}, ~{q50:.0f} s past exp (up to ~{q95:.0f} s; "
        f"tokens of ~{lifetime:.0f} s, validator leeway ~{_leeway_text(lw, mine['profile'])} s): every token it "
        f"presented was expired when it arrived, no other client's - its own clock ~{q50 + lifetime:.0f} s behind, "
        f"the one its tokens are minted by"
    )
    return _skew_incident(ctx, cid, _Seg(seg.i0, seg.i1, n, seg.expected, seg.p), ev, n, seg.i0, seg.i1, mine)


def _merged_runs(
    runs: list[tuple[_Seg, list[str], pd.DataFrame, set[str]]],
    same: Callable[[pd.DataFrame, pd.DataFrame, set[str]], bool],
    alone: bool = False,
) -> list[tuple[_Seg, pd.DataFrame, list[str], bool]]:
    """Arrival runs ``(run, clients, failures, APIs)`` as ``(run, failures, clients, at one API)``, those overlapping
    an earlier one that ``same(failures, its failures, APIs)`` says shares their clock merged into it (not at one
    API); the others at one API when ``alone``."""
    out: list[tuple[_Seg, pd.DataFrame, list[str], bool]] = []
    for seg, clients, g, profiles in sorted(runs, key=lambda f: f[0].i0):
        for k, (mseg, mg, mcl, _api) in enumerate(out):
            if seg.i0 <= mseg.i1 and mseg.i0 <= seg.i1 and same(g, mg, profiles):
                span = _Seg(min(seg.i0, mseg.i0), max(seg.i1, mseg.i1), 0, 0.0, max(seg.p, mseg.p))
                out[k] = (span, pd.concat([mg, g]), sorted(set(mcl) | set(clients)), False)
                break
        else:
            out.append((seg, g, clients, alone))
    return out


def _core_start(g: pd.DataFrame, seg: _Seg) -> int:
    """Where run ``seg`` of failures ``g`` begins: its first minute holding a failure within the run's central
    lateness (the bins of its 5-95 % quantiles). A clock's offset bounds the lateness of every token it fails;
    failures before them of far other lateness (an app resumed with its token of hours ago) are the background
    the run's significance walked back over (blind fleet40: 24 minutes of them before an IdP's clock went off)."""
    lo, hi = lateness_quantile(g, 0.05), lateness_quantile(g, 0.95)
    core = g.loc[(g["le"] >= lo) & (g["le"] <= hi), "i"]
    return max(seg.i0, int(core.min())) if len(core) else seg.i0


def _one_signer(x: Arr, seg: _Seg, g: pd.DataFrame, clients: list[str]) -> bool:
    """Whether an arrival run's failures ``g`` (significant, :func:`_fresh_runs`; series ``x``) come minute after
    minute (:func:`_steady`) and all fall in one lateness bin, or two side by side, from at least
    :data:`ISSUER_CLOCK_CLIENTS_ONE_API` clients: one offset of one clock, whatever share of the issuer's tokens it
    stamps - one signing node of several behind (session 43, blind fleet64: a playback token service's node 11
    minutes behind with 10-minute tokens, 128 tokens of 12 clients 60-62 s past ``exp`` on arrival in 43 minutes,
    while the other two nodes' tokens were accepted: 92 % of the clients' tokens). Tokens replayed or resumed after
    a pause arrive at every lateness."""
    failing = _failing(x, seg)
    if len(clients) < ISSUER_CLOCK_CLIENTS_ONE_API or not _steady(x, seg, failing):
        return False
    by_bin = g.groupby("le")["count"].sum().sort_values(ascending=False)
    if by_bin.empty:
        return False
    top = [float(v) for v in by_bin.index[:2]]
    k = sorted(bisect.bisect_left(LATENESS_EDGES, v) for v in top)
    if len(k) == 2 and k[1] - k[0] == 1:
        held, lo, hi = float(by_bin.iloc[:2].sum()), _lower_edge(min(top)), max(top)
    else:
        held, lo, hi = float(by_bin.iloc[0]), _lower_edge(top[0]), top[0]
    # (lateness binned coarsely - beyond 5 minutes - says no more than "an hour late": open-banking providers'
    # 08:00 jobs presenting the tokens they fetched an hour before, 55 tokens of 6 of them on a quiet Saturday, blind
    # fleet52)
    return held >= 0.95 * float(by_bin.sum()) and hi - lo <= ARRIVAL_SIGNER_WIDTH


def _arrival_core(ctx: _Ctx, mine: pd.DataFrame, g: pd.DataFrame, seg: _Seg) -> tuple[_Seg, pd.DataFrame, Arr] | None:
    """The part of an arrival run ``seg`` (failures ``g``; ``mine``: all of the issuer's fresh failures past ``exp``)
    whose failures share its most common lateness (that bin and the two beside it), from the minute holding the
    first 5 % of them to the one holding the last 5 %, if they are significant there against the same lateness
    outside it (Poisson tail <= ``ARRIVAL.p_max``, one failure as prior) and at least ``ARRIVAL.min_count``: (run,
    its failures, their series), else None. An issuer with a busy background of expired tokens (webhook senders
    retrying, scanners replaying) makes the run's significance reach hours beyond a clock's hour and spread its
    lateness over all of it (session 43, blind fleet62: a partner's signer 12 minutes behind with 5-minute tokens,
    651 failures at 420 s in 65 minutes, in a run of 6.5 hours of 746)."""
    by_bin = g.groupby("le")["count"].sum()
    if by_bin.empty:
        return None
    k = bisect.bisect_left(LATENESS_EDGES, float(by_bin.idxmax()))
    lo = LATENESS_EDGES[k - 2] if k >= 2 else 0.0
    hi = LATENESS_EDGES[min(k + 1, len(LATENESS_EDGES) - 1)]
    band = mine[(mine["le"] > lo) & (mine["le"] <= hi)]
    inside = _seg_rows(band, seg)
    per = inside.groupby("i")["count"].sum().sort_index()
    total = float(per.sum())
    if total < ARRIVAL.min_count:
        return None
    cum = per.cumsum().to_numpy(dtype="float64")
    mins = per.index.to_numpy(dtype="int64")
    i0 = int(mins[int(np.searchsorted(cum, 0.05 * total, side="left"))])
    i1 = int(mins[min(int(np.searchsorted(cum, 0.95 * total, side="left")), len(mins) - 1)])
    at = set(mins.tolist())
    while i0 - 1 in at or i0 - 2 in at:  # (then back to where they began, and on to where they end)
        i0 -= 1 if i0 - 1 in at else 2
    while i1 + 1 in at or i1 + 2 in at:
        i1 += 1 if i1 + 1 in at else 2
    core = band[(band["i"] >= i0) & (band["i"] <= i1)]
    n = int(core["count"].sum())
    width = i1 - i0 + 1
    outside = int(band["count"].sum()) - n
    mu = (outside + 1) / max(1, ctx.n - width) * width
    p = _poisson_tail(n, mu)
    if n < ARRIVAL.min_count or p > ARRIVAL.p_max:
        return None
    x = np.zeros(ctx.n)
    part = core.groupby("i")["count"].sum()
    x[part.index.to_numpy(dtype="int64")] = part.to_numpy(dtype="float64")
    return _Seg(i0, i1, n, mu, p), core, x


def _failing(x: Arr, seg: _Seg) -> np.ndarray[Any, Any]:
    """The minutes of run ``seg`` in which series ``x`` holds failures."""
    return np.flatnonzero(x[seg.i0 : seg.i1 + 1]) + seg.i0


def _steady(x: Arr, seg: _Seg, failing: np.ndarray[Any, Any]) -> bool:
    """Whether run ``seg``'s failures (in the minutes ``failing``) come minute after minute (:func:`_dense`) for at
    least :data:`ARRIVAL_MINUTES` minutes."""
    return _dense(x, seg) and failing.size >= ARRIVAL_MINUTES


def _fresh_runs(
    ctx: _Ctx, rej: pd.DataFrame, fresh: pd.DataFrame, key: str
) -> Iterator[tuple[Any, Arr, _Seg, pd.DataFrame, list[str]]]:
    """(value of ``key``, its series, run, the run's fresh failures, their clients) for each significant run
    (:data:`ARRIVAL`) of fresh tokens rejected past ``exp`` per ``key`` (``issuer`` or ``profile``) from >=
    :data:`ISSUER_CLOCK_CLIENTS` clients (an issuer's: its only one, :func:`_sole_client`) over >=
    :data:`SKEW_MINUTES` minutes, at least :data:`ARRIVAL_FRESH` of those clients' failures past ``exp`` there
    meanwhile."""
    for (value,), x in ctx.series(fresh, [key]):
        mine = fresh[fresh[key] == value]
        need = 1 if key == "issuer" and _sole_client(ctx, str(value)) is not None else ISSUER_CLOCK_CLIENTS
        for seg in _segments(x, ARRIVAL, ctx.m0):
            g = _seg_rows(mine, seg)
            clients = _clients(g)
            if len(clients) < need or g["i"].nunique() < SKEW_MINUTES:
                continue
            theirs = _seg_rows(rej[(rej[key] == value) & rej["client_id"].isin(clients)], seg)
            if int(g["count"].sum()) >= ARRIVAL_FRESH * int(theirs["count"].sum()):
                yield value, x, seg, g, clients


def _dense(x: Arr, seg: _Seg) -> bool:
    """Whether the failures ``x`` of run ``seg`` come minute after minute: at least half the minutes between the
    ones holding its first and its last 5 % of them (a stray failure at either end does not count) hold some."""
    part = x[seg.i0 : seg.i1 + 1]
    total = float(part.sum())
    if total <= 0:
        return False
    cum = np.cumsum(part)
    lo = int(np.searchsorted(cum, 0.05 * total, side="left"))
    hi = int(np.searchsorted(cum, 0.95 * total, side="left"))
    core = part[lo : hi + 1]
    return 2 * int(np.count_nonzero(core)) >= core.size


def _arrival_at_api(
    ctx: _Ctx,
    rej: pd.DataFrame,
    fresh: pd.DataFrame,
    lw: dict[str, float],
    life: dict[str, float],
    found: list[tuple[_Seg, list[str], pd.DataFrame, set[str]]],
) -> list[tuple[_Seg, list[str], pd.DataFrame, set[str]]]:
    """:func:`_expired_on_arrival` at one API: a validator (one replica of several) whose clock is ahead by more than
    the tokens' lifetime rejects every fresh token it is sent as past ``exp``, while the same clients' tokens are
    accepted elsewhere - by the API's other replicas, by their other APIs - so the issuer's view (their tokens
    hardly accepted) does not see it (session 36, blind fleet36: a matchmaking replica +12 min with 5-minute tokens,
    465 rejections in an hour, no incident). Per API: a significant run (:data:`ARRIVAL`) of fresh tokens rejected
    past ``exp`` from >= :data:`ISSUER_CLOCK_CLIENTS` clients, :data:`ARRIVAL_FRESH` of those clients' past-exp
    failures there, their lateness within one token lifetime (a clock's offset bounds it: stale tokens, a queue's
    delays spread over hours), and those clients accepted elsewhere meanwhile. Runs an issuer's rule found already
    are left to it."""
    out: list[tuple[_Seg, list[str], pd.DataFrame, set[str]]] = []
    for prof, x, seg, g, clients in _fresh_runs(ctx, rej, fresh[fresh["profile"].notna()], "profile"):
        if any(seg.i0 <= f.i1 and f.i0 <= seg.i1 and str(prof) in profiles for f, _c, _g, profiles in found):
            continue
        if not _one_lateness(g, clients, lw, life):
            continue
        acc = _seg_rows(ctx.acc, seg)
        acc = acc[acc["client_id"].isin(clients).fillna(False)]
        if int(acc["count"].sum()) == 0:
            continue  # (nothing of theirs accepted anywhere: the issuer's rule's case)
        # a clock that far ahead refuses every token the replica is sent: a share of the clients' traffic there
        # (1 of up to 1 / ARRIVAL_AT_API replicas) in the minutes it failed, not a few replays among it
        failing = _failing(x, seg)
        here = int(acc.loc[(acc["profile"] == prof).fillna(False) & acc["i"].isin(failing), "count"].sum())
        failed = int(x[failing].sum())
        if failed < ARRIVAL_AT_API * (failed + here):
            continue
        if not _steady(x, seg, failing):
            continue  # (and minute after minute, for a while: not a few pools replaying cached tokens)
        out.append((seg, clients, g, {str(prof)}))
    return out


def _sole_client(ctx: _Ctx, iss: str) -> str | None:
    """The one client an issuer's accepted tokens name in the data, if only one: an LTI platform's launch tokens
    name the tool as ``aud``/client, every one (session 40, blind fleet50: an LMS 420 s behind with 5-minute launch
    tokens, 890 of them expired on arrival at the grading tool, was no incident - one client, and the shared rules
    need two). Its tokens failing on arrival are the issuer's clock (or the client's, if it is the signer: one
    clock either way)."""
    if ctx.sole_clients is None:
        acc = ctx.acc[ctx.acc["issuer"].notna() & ctx.acc["client_id"].notna() & (ctx.acc["client_id"] != OTHER)]
        per = acc.groupby("issuer", observed=True)["client_id"].agg(lambda c: sorted({str(v) for v in c}))
        ctx.sole_clients = {str(i): (c[0] if len(c) == 1 else None) for i, c in per.items()}
    return ctx.sole_clients.get(iss)


def _one_lateness(g: pd.DataFrame, clients: list[str], lw: dict[str, float], life: dict[str, float]) -> bool:
    """Whether the arrival failures ``g`` fail by about one lateness, as fresh tokens under a clock off by more than
    their lifetime do (the offset less the lifetime, plus the seconds between minting and first use): their 5-95 %
    lateness within :data:`ARRIVAL_SPREAD` or the clients' shortest token lifetime, if shorter (and twice their
    validators' leeway, and the top lateness bin's width). Tokens hours old presented once each - tablets landing
    (blind fleet40), clients holding theirs through a stall and sending them when their batch starts (blind fleet46:
    5 400-10 800 s past exp) - spread over hours."""
    lifetime = min(life.get(c, 0.0) for c in clients) * 60.0  # (the shortest: it bounds the spread most)
    top = lateness_quantile(g, 0.95)
    if not lifetime or not math.isfinite(top):
        return False
    spread = top - _lower_edge(lateness_quantile(g, 0.05))  # (binned: the top bin's width is slack)
    leeway = max((lw.get(str(p), 0.0) for p in g["profile"].dropna().unique()), default=0.0)
    return spread <= min(lifetime, ARRIVAL_SPREAD) + 2 * leeway + top - _lower_edge(top)


def _arrival_row(
    ctx: _Ctx, g: pd.DataFrame, lw: dict[str, float], life: dict[str, float], seg: _Seg, *, at_api: bool = False
) -> dict[str, Any]:
    """The ``server_clock_skew`` incident of :func:`_expired_on_arrival` over its failures ``g`` (``at_api``: found at
    one API, :func:`_arrival_at_api`)."""
    clients = _clients(g)
    n = int(g["count"].sum())
    issuers = _named(g, "issuer")
    profiles = _named(g, "profile")
    q50, q95 = lateness_quantile(g, 0.5), lateness_quantile(g, 0.95)
    # (the clients' shortest lifetime: a clock off by less than their longer-lived tokens' fails only the short ones)
    lifetime = min(life.get(c, 0.0) for c in clients) * 60.0
    offset = q50 + lifetime
    where = f"the validators of {_few(profiles)}"
    if at_api:
        cause = f"the clock of {where} (one replica or all) ~{offset:.0f} s ahead: their tokens were accepted elsewhere"
    elif len(issuers) == 1:
        cause = (
            f"the clock of issuer {issuers[0]} ~{offset:.0f} s behind (tokens stamped in the past), or of {where} ahead"
        )
    else:
        cause = f"the clock of {where} ~{offset:.0f} s ahead ({len(issuers)} issuers' tokens fail alike)"
    acc = _seg_rows(ctx.acc, seg)
    acc = acc[acc["issuer"].isin(issuers).fillna(False) & acc["client_id"].isin(clients).fillna(False)]
    accepted = int(acc["count"].sum())
    if at_api:
        meanwhile = "there"
    elif len(issuers) == 1 and accepted > ARRIVAL_ACCEPTED * (n + accepted):
        meanwhile = (
            f"while {accepted} of their other tokens of that issuer were accepted: the tokens one of its signers stamps"
        )
        cause = f"the clock of one signer of issuer {issuers[0]} ~{offset:.0f} s behind (tokens stamped in the past)"
    else:
        meanwhile = "while their tokens were hardly accepted: every token"
    ev = (
        f"{len(clients)} clients at once ({_few(clients)}): {n} tokens rejected past exp on their first use (never "
        f"accepted), ~{q50:.0f} s past exp (up to ~{q95:.0f} s; tokens of ~{lifetime:.0f} s, validator leeway "
        f"~{_leeway_text(lw, g['profile'])} s), from {ctx.hhmm(seg.i0)} to {ctx.hhmm(seg.i1)}, "
        f"{meanwhile} were expired when they arrived - {cause}"
    )
    return _shared_clock_row(ctx, seg, ev, n, clients, issuers, profiles)


def _overlaps(ctx: _Ctx, r: dict[str, Any], seg: _Seg) -> bool:
    """Whether incident row ``r`` overlaps the minutes of ``seg``."""
    return bool(r["start"] <= ctx.ts(seg.i1, end=True) and ctx.ts(seg.i0) <= r["end"])


def _shared_clock_row(
    ctx: _Ctx, seg: _Seg, ev: str, n: int, clients: list[str], issuers: list[str], profiles: list[str]
) -> dict[str, Any]:
    """A ``server_clock_skew`` row of ``n`` failures of ``clients`` (its share of their validations), naming the
    issuer and the API when there is one of each."""
    scope = ctx.c["client_id"].isin(clients).fillna(False).astype(bool)
    share = n / max(1, ctx.total(scope, seg.i0, seg.i1))
    issuer = issuers[0] if len(issuers) == 1 else None
    profile = profiles[0] if len(profiles) == 1 else None
    return _row(ctx, "server_clock_skew", seg, ev, share, issuer=issuer, profile=profile)


def _named(g: pd.DataFrame, col: str) -> list[str]:
    """The values of ``g[col]`` by their failures, most first; only the first when it holds :data:`NAMED_SHARE`
    of them (what a ``server_clock_skew`` row names: :func:`_shared_clock_row`)."""
    per = g.groupby(col, observed=True)["count"].sum().sort_values(ascending=False, kind="stable")
    per = per[per > 0]
    names = [str(v) for v in per.index]
    return names[:1] if names and per.iloc[0] >= NAMED_SHARE * per.sum() else names


def _explained_by_validators(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` without the client ``clock_skew`` incidents that an API's clock found by :func:`_validator_clocks`
    explains as :func:`_skew_shared` explains them by a shared clock (most of the client's failures in its minutes,
    from :data:`SHARED_BEFORE` before to :data:`SHARED_AFTER` after, few of its own long before), at least
    :data:`VALIDATOR_CLOCK_SHARE` of them at that API. One API's replica ahead rejects the short-lived tokens of
    every client that calls it alone - label printers of one dispatch API: from their side alone the clock could
    be theirs, and they were reported besides the API's clock (session 34, fleet34 incident day 2: 15 printers)."""
    apis = [r for r in rows if r["kind"] == "server_clock_skew" and r["profile"] is not None]
    if not apis:
        return rows
    on_time = _on_time(late, lw)
    out = []
    for r in rows:
        if r["kind"] != "clock_skew" or r["client_id"] is None:
            out.append(r)
            continue
        g, n = _incident_failures(ctx, late, on_time, r)
        explained = False
        for a in apis:
            at = g[g["profile"] == a["profile"]]
            if n and int(at["count"].sum()) >= VALIDATOR_CLOCK_SHARE * n:
                m = _minutes_of(ctx, a)
                span = _Seg(max(0, m.i0 - SHARED_BEFORE), m.i1 + SHARED_AFTER, 0, 0.0, 1.0)
                explained |= _explains(g, [(span, None)], n)
        if not explained:
            out.append(r)
    return out


def _device_subjects(ctx: _Ctx, rows: list[dict[str, Any]]) -> dict[int, tuple[str, list[str]]]:
    """Per row (index in ``rows``) of a client ``clock_skew`` whose client has many users - at least
    :data:`SKEW_DEVICE_PEERS` subjects (``lateness.subject``) in the lateness rows of the data, or among its
    accepted tokens (``Aggregates.subjects``) - and whose clock failures on tokens in use (rejected past ``exp`` by
    at most SUBJECT_LATE s on a token in use, ``seen``, or before ``nbf``) in its minutes come from at most
    SKEW_DEVICE_SHARE x its subjects in the lateness rows (at least one): the client and those subjects. Failures
    in the minutes of a ``server_clock_skew`` or ``issuer_stalled`` incident of ``rows`` (of the client's issuer,
    :data:`SHARED_BEFORE` before to :data:`SHARED_AFTER` after) are left out: every user fails then."""
    lat = ctx.agg.lateness
    mine = lat[lat["subject"].notna() & lat["client_id"].notna()]
    if mine.empty:
        return {}
    peers = mine.groupby("client_id", observed=True)["subject"].nunique()
    # a client of many users by the subjects of its accepted tokens too (where the engine has them), of which one
    # fails: that device (session 42: one build agent of 13, one pusher of 32 - each the only subject of its client
    # seen outside the validity window - drifting all day)
    every = ctx.agg.subjects
    users = peers
    if every is not None and not every.empty:
        users = peers.combine(every.set_index("client_id")["subjects"], max, fill_value=0)
    late = (mine["direction"] == "late") & mine["seen"] & (mine["le"] <= SUBJECT_LATE)
    fails = mine[(mine["outcome"] == "rejected") & ((mine["direction"] == "early") | late)]
    # failures a shared clock or a stalled issuer explains are not the client's: its users all fail then (session
    # 36: a device a minute or two off all night, then a 12-minute stall of its issuer, was one incident of the
    # client of 131 users, 192 failures over four hours)
    shared = np.zeros(len(fails), dtype=bool)
    for r in rows:
        if r["kind"] in ("issuer_stalled", "server_clock_skew"):
            start = r["start"] - pd.Timedelta(minutes=SHARED_BEFORE)
            end = r["end"] + pd.Timedelta(minutes=SHARED_AFTER)
            theirs = fails["issuer"].astype("object") == r["issuer"] if r["issuer"] is not None else True
            shared |= ((fails["minute"] >= start) & (fails["minute"] <= end) & theirs).to_numpy(dtype=bool)
    fails = fails[~shared]
    out: dict[int, tuple[str, list[str]]] = {}
    for k, r in enumerate(rows):
        cid = r["client_id"]
        if r["kind"] != "clock_skew" or cid is None:
            continue
        n = int(peers.get(cid, 0))
        if max(n, int(users.get(cid, 0))) < SKEW_DEVICE_PEERS:
            continue
        g = fails[(fails["client_id"] == cid) & (fails["minute"] >= r["start"]) & (fails["minute"] <= r["end"])]
        subjects = sorted(str(v) for v in g["subject"].unique())
        if 0 < len(subjects) <= max(1, int(SKEW_DEVICE_SHARE * n)):
            out[k] = (str(cid), subjects)
            continue
        # a device's clock fails again and again; many users failing once each at one moment (apps reconnecting
        # together after a network blip, each with its token expired meanwhile) are no clock: the few users
        # failing again are the devices (session 36, fleet36: a console's clock and a reconnect storm of 7 users
        # were one incident of the client)
        span = g.groupby("subject", observed=True)["minute"].agg(["min", "max"])
        repeats = (span["max"] - span["min"]) >= pd.Timedelta(minutes=SKEW_MINUTES)
        again = sorted(str(v) for v in span.index[repeats])
        once = span.loc[~repeats, "min"].sort_values()
        # (the users failing once fail together: a clock drifting through a kiosk fleet's sessions fails each
        # once too, but one after another)
        together = bool(once.size) and _most_within(once, pd.Timedelta(minutes=SKEW_MINUTES)) * 2 >= once.size
        if together and 0 < len(again) <= max(1, int(SKEW_DEVICE_SHARE * n)):
            out[k] = (str(cid), again)
    return out


def _most_within(times: pd.Series, width: pd.Timedelta) -> int:
    """The most of the sorted ``times`` within one window of ``width``."""
    t = np.asarray([pd.Timestamp(v).value for v in times], dtype=np.int64)
    ends = np.searchsorted(t, t + width.value, side="right")
    return int((ends - np.arange(len(t))).max())


def _beyond_devices(ctx: _Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without the client ``clock_skew`` incidents that do not stand without a few of the client's
    users (:func:`_device_subjects`): the detectors run again over the lateness rows less every row of those
    subjects of those clients, and a suspect row stays where that finds a ``clock_skew`` of its client
    overlapping it. A fleet's apps of thousands of devices have a few with their own clocks minutes off all
    day, each failing token after token; a client's clock (a service, a kiosk fleet's time server) fails
    across its users (session 34: 18 of the 19 ``clock_skew`` incidents of the blind fleet34 that no injected
    incident explains were a few devices of a client of dozens)."""
    suspects = _device_subjects(ctx, rows) if ctx.agg.has_cont else {}
    if not suspects:
        return rows
    lat = ctx.agg.lateness
    drop = np.zeros(len(lat), dtype=bool)
    for cid, subjects in suspects.values():
        drop |= ((lat["client_id"] == cid) & lat["subject"].isin(subjects)).fillna(False).to_numpy(dtype=bool)
    agg = ctx.agg
    again = _clock_skews(
        _Ctx(
            Aggregates(
                agg.counts, lat[~drop].reset_index(drop=True), agg.engine, agg.has_cont, agg.kinds, agg.subjects
            ),
            None,
        )
    )
    kept = [r for r in again if r["kind"] == "clock_skew" and r["client_id"] is not None]

    def stands(r: dict[str, Any]) -> bool:
        return any(o["client_id"] == r["client_id"] and o["start"] <= r["end"] and r["start"] <= o["end"] for o in kept)

    return [r for k, r in enumerate(rows) if k not in suspects or stands(r)]


def _lower_edge(le: float) -> float:
    """The lower edge of the lateness bin whose upper edge is ``le``."""
    k = bisect.bisect_left(LATENESS_EDGES, le)
    return LATENESS_EDGES[k - 1] if k > 0 else 0.0


def _expired_by(i: int, le: float) -> float:
    """The latest minute a token rejected past ``exp`` in minute ``i``, in the lateness bin ending at ``le``, can
    have expired (the bin's lower edge before ``i``): whether it was one of its client's first tokens
    (:func:`_first_expiry`, :func:`_first_in_cycle`)."""
    return i - _lower_edge(le) / 60.0


def _validator_excess(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], r: dict[str, Any]
) -> tuple[str, float] | None:
    """For a client's ``clock_skew`` incident ``r`` with at least :data:`VALIDATOR_CLOCK_SHARE` of its failures
    past ``exp`` at one API: that API and how many more failures the client's other APIs would have seen meanwhile,
    had its clock been off, than they did (see :func:`_validator_clocks`); None for any other row."""
    cid = r["client_id"]
    if r["kind"] != "clock_skew" or cid is None:
        return None
    seg = _minutes_of(ctx, r)
    every = _row_clock_failures(ctx, late, r)
    g = every[every["direction"] == "late"]
    if 2 * int(g["count"].sum()) < int(every["count"].sum()):
        # a clock ahead (mostly before nbf): the few past exp meanwhile are its background, no API's clock (session
        # 43, blind fleet64: a hotel chain's set-top boxes 5 min ahead, 104 failures before nbf, became an API's clock
        # over the 3 of its tokens another API rejected past exp)
        return None
    per = g.groupby("profile", observed=True)["count"].sum()
    if per.empty or per.max() < VALIDATOR_CLOCK_SHARE * per.sum():
        return None
    prof = str(per.idxmax())
    mine = g[g["profile"] == prof]
    n_p = int(mine["count"].sum())
    acc = _seg_rows(ctx.acc, seg)
    acc = acc[(acc["client_id"] == cid).fillna(False)]
    acc_p = int(acc.loc[acc["profile"] == prof, "count"].sum())
    share = n_p / max(1, n_p + acc_p)
    lower = mine["le"].map(_lower_edge)
    excess = 0.0
    for q, a in acc[acc["profile"] != prof].groupby("profile", observed=True)["count"].sum().items():
        beyond = float(mine.loc[lower >= lw.get(str(q), 0.0), "count"].sum()) / max(1, n_p)
        excess += float(a) * share * beyond - float(per.get(q, 0))
    return prof, excess


def _pooled_excess(rows: list[dict[str, Any]], found: dict[int, tuple[str, float] | None]) -> dict[int, float]:
    """The excess of :func:`_validator_excess` summed over the incidents of other clients failing at the same API
    in overlapping minutes (each with at least :data:`VALIDATOR_CLOCK_SHARE` of its failures there), for the one of
    them with the most failures; at least 2 clients. Several clients failing at one API at once, each accepted by
    its other APIs, are that API's clock even when each alone calls the other APIs too seldom to tell (session 37,
    blind fleet38: a gateway replica an hour ahead, three driver apps of 16-97 failures each, excess 1.5-7.9 each,
    15.8 together; before, three clients' own clocks)."""
    pooled: dict[int, float] = {}
    by_api: dict[str, dict[int, float]] = {}
    for i, hit in found.items():
        if hit is not None and hit[1] > 0:
            by_api.setdefault(hit[0], {})[i] = hit[1]
    for members in by_api.values():
        for i in members:
            group = [j for j in members if rows[j]["start"] <= rows[i]["end"] and rows[i]["start"] <= rows[j]["end"]]
            if len(group) < 2 or max(group, key=lambda j: (int(rows[j]["count"]), -j)) != i:
                continue
            pooled[i] = sum(members[j] for j in group)
    return pooled


def _validator_clocks(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A client's ``clock_skew`` incident (past ``exp``) that is one API's clock: at least
    :data:`VALIDATOR_CLOCK_SHARE` of its failures at one API, while the other APIs it calls meanwhile accept its
    tokens - where its failures' lateness is beyond their leeway, a clock of its own would have had them rejected
    there too, at least :data:`VALIDATOR_CLOCK_EXPECT` more times than they were (at the share of its uses the
    one API rejected). Becomes a ``server_clock_skew`` incident of that API over the client's failures there (at
    most :data:`SHARED_AFTER` minutes apart). Short-lived tokens (a gateway's 5-minute exchanged tokens) are the
    ones a validator minutes ahead rejects: the fleet's other clients, renewing well before ``exp``, do not fail,
    so the shared rule (:func:`_server_clocks`) sees one client only."""
    found = {i: _validator_excess(ctx, late, lw, r) for i, r in enumerate(rows)}
    pooled = _pooled_excess(rows, found)
    out: list[dict[str, Any]] = []
    for i, r in enumerate(rows):
        hit = found[i]
        if hit is None or max(hit[1], pooled.get(i, 0.0)) < VALIDATOR_CLOCK_EXPECT:
            out.append(r)
            continue
        prof, excess = hit
        cid = r["client_id"]
        seg = _minutes_of(ctx, r)
        theirs = late[(late["client_id"] == cid) & (late["direction"] == "late")]
        at_p = theirs[theirs["profile"] == prof]
        run = next(c for c in _clusters_of(sorted(set(at_p["i"].tolist()) | {seg.i0}), SHARED_AFTER) if seg.i0 in c)
        span = _Seg(run[0], max(run[-1], seg.i1), 0, 0.0, 1.0)
        fails = _seg_rows(at_p, span)
        n = int(fails["count"].sum())
        q95 = lateness_quantile(fails, 0.95)
        scope = (ctx.c["client_id"] == cid).fillna(False) & (ctx.c["profile"] == prof).fillna(False)
        there = n / max(1, ctx.total(scope, span.i0, span.i1))
        ev = (
            f"client {cid}: {n} tokens rejected past exp by {prof} (up to ~{q95:.0f} s, validator leeway "
            f"~{_leeway_text(lw, fails['profile'])} s) from {ctx.hhmm(span.i0)} to {ctx.hhmm(span.i1)}, "
            f"{there:.0%} of its uses there, while its other APIs accepted it ({excess:.0f} more failures there "
            f"than seen, had its clock been off"
            + (
                f"; {pooled[i]:.0f} with the other clients failing there meanwhile"
                if excess < VALIDATOR_CLOCK_EXPECT
                else ""
            )
            + f"): the clock of the validators of {prof} ahead, not the client's"
        )
        p = 1.0 - float(r["confidence"])
        out.append(
            _row(
                ctx,
                "server_clock_skew",
                _Seg(span.i0, span.i1, n, 0.0, p),
                ev,
                there,
                profile=prof,
                stat=_fmt_p(p),
            )
        )
    return out


def _issuer_clocks(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One ``server_clock_skew`` incident (issuer set) for the clients of one issuer whose tokens are all
    presented before ``nbf`` together: the clients' own ``clock_skew`` incidents (mostly before ``nbf``) of at
    least :data:`ISSUER_CLOCK_CLIENTS` clients of one issuer overlapping in time, at least half of the issuer's
    clients accepted meanwhile, rejected so by at least two APIs - or by one, with at least
    :data:`ISSUER_CLOCK_CLIENTS_ONE_API` clients (session 32, fleet32: a mesh CA 4 minutes ahead whose tokens one API
    validates was 3 clients' own clocks). An issuer stamps ``nbf``/``iat``: a client's clock does not put them in the
    future; one validator's clock shows at one API only, so there the incident names both. A tenant's issuer has a
    few client ids (its web app, its sync service) with many users each: too few clients for the shared rule's
    count of clients failing at once (:func:`_server_clocks`). An issuer whose tokens name one client, failing so,
    stays that client's clock: a partner signing its own callback or webhook tokens is client and issuer at once, and
    blind fleets label it either way (session 41: fleet52's card network 4 min ahead as the issuer's clock, fleet58's
    POS partner as its client's, fleet36's transcoders as their own): naming the issuer gained one and lost one."""
    cands: dict[str, list[tuple[dict[str, Any], pd.DataFrame]]] = {}
    for r, early in _mostly_early(ctx, late, rows):
        cands.setdefault(str(r["issuer"]), []).append((r, early))
    drop: set[int] = set()
    found: list[dict[str, Any]] = []
    for iss, group in cands.items():
        group.sort(key=lambda x: x[0]["start"])
        for cluster in _overlapping(group):
            clients = {str(r["client_id"]) for r, _e in cluster}
            g = pd.concat([e for _r, e in cluster])
            one_api = g["profile"].nunique() < 2
            if len(clients) < (ISSUER_CLOCK_CLIENTS_ONE_API if one_api else ISSUER_CLOCK_CLIENTS) and not (
                _together([r for r, _e in cluster]) and not _others_early(cands, iss, g)
            ):
                continue
            seg = _Seg(int(g["i"].min()), int(g["i"].max()), int(g["count"].sum()), 0.0, 1.0)
            acc = _seg_rows(ctx.acc, seg)
            theirs = acc.loc[(acc["issuer"] == iss).fillna(False) & acc["client_id"].notna(), "client_id"]
            active = {str(c) for c in theirs.unique().tolist()} - {OTHER}
            if 2 * len(clients) < len(active):
                continue
            if (row := _clock_of(ctx, lw, rows, [r for r, _e in cluster], g, seg, True)) is not None:
                found.append(row)
                drop |= {id(r) for r, _e in cluster}
    return [r for r in rows if id(r) not in drop] + found


def _together(cluster: list[dict[str, Any]]) -> bool:
    """Whether the client clock incidents ``cluster`` (of one issuer, before ``nbf``) are at least
    :data:`ISSUER_CLOCK_CLIENTS` clients' starting within :data:`APP_CLOCK_START` minutes of each other: two clients
    of one issuer failing before ``nbf`` from the same minutes share a clock - the issuer's, or their API's - at one
    API too (session 41, blind fleet58: a mesh CA 75 s ahead, two workloads calling one API, 365 failures from
    20:00 and 20:01, were two client clocks; a client minting its own tokens has an issuer of its own)."""
    starts = sorted(r["start"] for r in cluster)
    clients = {str(r["client_id"]) for r in cluster}
    return len(clients) >= ISSUER_CLOCK_CLIENTS and starts[-1] - starts[0] <= pd.Timedelta(minutes=APP_CLOCK_START)


def _others_early(cands: dict[str, list[tuple[dict[str, Any], pd.DataFrame]]], iss: str, g: pd.DataFrame) -> bool:
    """Whether clients of issuers other than ``iss`` failed before ``nbf`` at the APIs and in the minutes of failures
    ``g`` (``cands``: the client incidents mostly before ``nbf``, per issuer, with those failures): then the clock is
    those APIs', left to :func:`_api_clocks` (blind fleet46: an e-prescribing replica 5 minutes behind, two clients
    each of two issuers, read as two issuers' clocks by :func:`_together` before this check)."""
    profiles = set(g["profile"].dropna().astype(str))
    i0, i1 = int(g["i"].min()), int(g["i"].max())
    for other, group in cands.items():
        if other == iss:
            continue
        for _r, early in group:
            mine = early[early["profile"].astype(str).isin(profiles)]
            if len(mine) and int(mine["i"].min()) <= i1 and i0 <= int(mine["i"].max()):
                return True
    return False


def _clock_of(
    ctx: _Ctx,
    lw: dict[str, float],
    rows: list[dict[str, Any]],
    cluster: list[dict[str, Any]],
    g: pd.DataFrame,
    seg: _Seg,
    ahead: bool,
) -> dict[str, Any] | None:
    """The ``server_clock_skew`` incident that the clients' own clock incidents ``cluster`` (failures ``g`` in minutes
    ``seg``) are, as confident as the least of them - or None where one of ``rows`` is such an incident already: what
    :func:`_issuer_clocks`, :func:`_api_clocks` and :func:`_app_clocks` each make of the group they find."""
    if any(r["kind"] == "server_clock_skew" and _overlaps(ctx, r, seg) for r in rows):
        return None
    p = min(float(r["confidence"]) for r in cluster)
    return _server_row(ctx, g, lw, _Seg(seg.i0, seg.i1, seg.count, 0.0, 1.0 - p), ahead)


def _app_clocks(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One ``server_clock_skew`` incident (issuer set) for the ``clock_skew`` incidents of at least two clients of
    one issuer, each of many devices (:func:`_devices` >= :data:`SKEW_DEVICE_PEERS`), starting within
    :data:`APP_CLOCK_START` minutes of each other, their failures mostly past ``exp`` and by about one lateness
    (:func:`_one_lateness`: a clock off by a fixed offset, not tokens held through a stall). Each device keeps its
    own clock: the devices of two apps going wrong in the same minutes share one - the issuer's, or their
    validators'. A consumer IdP has few client ids (its Android and iOS apps) with thousands of devices each: too
    few clients for the shared rule's count (:func:`_server_clocks`; session 40, blind fleet48: an operator IdP
    200 s behind with 10-minute app tokens, 417 failures of hundreds of phones, was the two apps' own clocks)."""
    devices = _devices(ctx, life)
    # (an app whose failures come from a device or two of its many is those devices' clocks: two such apps failing in
    # the same minutes are no more one clock - session 43, blind fleet66: two municipalities' citizens, one device
    # each, 15 failures in 37 minutes, were the broker's clock on three of four quiet days)
    few = {id(rows[k]) for k in _device_subjects(ctx, rows)}
    cands: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] == "clock_skew" and r["issuer"] is not None and id(r) not in few:
            if devices.get(str(r["client_id"]), 0.0) >= SKEW_DEVICE_PEERS:
                cands.setdefault(str(r["issuer"]), []).append(r)
    drop: set[int] = set()
    found: list[dict[str, Any]] = []
    for group in cands.values():
        group.sort(key=lambda r: r["start"])
        clusters: list[list[dict[str, Any]]] = []
        for r in group:
            if clusters and r["start"] - clusters[-1][0]["start"] <= pd.Timedelta(minutes=APP_CLOCK_START):
                clusters[-1].append(r)
            else:
                clusters.append([r])
        for cluster in clusters:
            clients = sorted({str(r["client_id"]) for r in cluster})
            if len(clients) < 2:
                continue
            g = pd.concat([_row_clock_failures(ctx, late, r) for r in cluster])
            past = g[g["direction"] == "late"]
            if 2 * int(past["count"].sum()) < int(g["count"].sum()) or not _one_lateness(past, clients, lw, life):
                continue
            seg = _Seg(int(past["i"].min()), int(past["i"].max()), int(past["count"].sum()), 0.0, 1.0)
            if (row := _clock_of(ctx, lw, rows, cluster, past, seg, False)) is not None:
                found.append(row)
                drop |= {id(r) for r in cluster}
    return [r for r in rows if id(r) not in drop] + found


def _mostly_early(
    ctx: _Ctx, late: pd.DataFrame, rows: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(row, its client's failures before ``nbf`` in its minutes) for each client ``clock_skew`` row naming an issuer
    whose clock failures (:func:`_clock_failures`) there are mostly before ``nbf``: what the shared-clock rules
    (:func:`_issuer_clocks`, :func:`_api_clocks`) group."""
    for r in rows:
        if r["kind"] != "clock_skew" or r["issuer"] is None:
            continue
        g = _row_clock_failures(ctx, late, r)
        early = g[g["direction"] == "early"]
        if 2 * int(early["count"].sum()) >= max(1, int(g["count"].sum())):
            yield r, early


def _api_clocks(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One ``server_clock_skew`` incident (profile set) for the clients of at least two issuers whose tokens are
    presented before ``nbf`` at one API together: the clients' own ``clock_skew`` incidents (mostly before ``nbf``,
    at least :data:`VALIDATOR_CLOCK_SHARE` of those failures at that API) of at least
    :data:`ISSUER_CLOCK_CLIENTS_ONE_API` clients overlapping in time. Issuers keep their own clocks, and a client's
    clock puts no ``nbf`` in the future unless it signs its tokens itself: clients of two issuers failing so at one
    API at once are that API's clock behind (session 39, blind fleet46: one e-prescribing replica 5 minutes behind
    for two hours, two workforce apps and two pharmacy networks failing before ``nbf``, were four client clocks;
    :func:`_issuer_clocks` needs three clients of one issuer at one API)."""
    cands: dict[str, list[tuple[dict[str, Any], pd.DataFrame]]] = {}
    for r, early in _mostly_early(ctx, late, rows):
        per = early.groupby("profile", observed=True)["count"].sum()
        if per.empty or per.max() < VALIDATOR_CLOCK_SHARE * per.sum():
            continue
        prof = per.idxmax()
        cands.setdefault(str(prof), []).append((r, early[early["profile"] == prof]))
    drop: set[int] = set()
    found: list[dict[str, Any]] = []
    for group in cands.values():
        group.sort(key=lambda x: x[0]["start"])
        for cluster in _overlapping(group):
            issuers = {str(r["issuer"]) for r, _e in cluster}
            clients = {str(r["client_id"]) for r, _e in cluster}
            if len(clients) < ISSUER_CLOCK_CLIENTS:
                continue
            g = pd.concat([e for _r, e in cluster])
            seg = _Seg(int(g["i"].min()), int(g["i"].max()), int(g["count"].sum()), 0.0, 1.0)
            if not _fresh_elsewhere(ctx, lw, str(g["profile"].iloc[0]), clients, g, seg) and (
                len(issuers) < 2 or len(clients) < ISSUER_CLOCK_CLIENTS_ONE_API
            ):
                continue
            if (row := _clock_of(ctx, lw, rows, [r for r, _e in cluster], g, seg, True)) is not None:
                found.append(row)
                drop |= {id(r) for r, _e in cluster}
    return [r for r in rows if id(r) not in drop] + found


def _fresh_elsewhere(ctx: _Ctx, lw: dict[str, float], prof: str, clients: set[str], g: pd.DataFrame, seg: _Seg) -> bool:
    """Whether ``clients`` (of one issuer), failing before ``nbf`` at API ``prof`` (rows ``g``, minutes ``seg``), were
    accepted meanwhile at least as often as they failed there by other APIs whose leeway is at least
    :data:`API_CLOCK_WINDOW` s less than how far before ``nbf`` they failed (95th percentile): the issuer's clock that
    far ahead would have failed their fresh tokens there too - it is that API's clock, behind (session 40, blind
    fleet50: a student-records replica 45 s behind at leeway 0, three portal clients of the campus SSO that the
    LMS at 30 s and proctoring at 10 s accepted, were three client clocks)."""
    far = lateness_quantile(g, 0.95)
    strict = {p for p, v in lw.items() if p != prof and v + API_CLOCK_WINDOW <= far}
    if not strict:
        return False
    acc = _seg_rows(ctx.acc, seg)
    there = acc[acc["client_id"].isin(clients).fillna(False) & acc["profile"].isin(strict).fillna(False)]
    return int(there["count"].sum()) >= int(g["count"].sum())


def _overlapping(group: list[tuple[dict[str, Any], pd.DataFrame]]) -> list[list[tuple[dict[str, Any], pd.DataFrame]]]:
    """``group`` (sorted by start) cut into clusters of incidents overlapping in time, transitively."""
    out: list[list[tuple[dict[str, Any], pd.DataFrame]]] = []
    end = None
    for item in group:
        if end is None or item[0]["start"] > end:
            out.append([])
            end = item[0]["end"]
        out[-1].append(item)
        end = max(end, item[0]["end"])
    return out


def _skew_changed(
    ctx: _Ctx, late: pd.DataFrame, rows: list[dict[str, Any]], life: dict[str, float]
) -> list[dict[str, Any]]:
    """``rows`` but a client's clock-skew incident that starts within its first token cycle in the data (from its
    first acceptance - or its return after hours away, :func:`_resumed` - or before any renewal of its first token,
    or on a token that expired within that cycle, :func:`_first_expiry`; or with little traffic before it,
    :func:`_unseen_before`)
    and whose failures go on for :data:`SKEW_CHRONIC_H` hours or more (:func:`_goes_on`; the client's rows of
    ``late``): nothing before it to change from. Before session 38 the incident itself had to last so long, from
    within one cycle of minutes; one whose run ended when the baseline learned the client's usual failures stayed
    (blind fleet40: a travel agency presenting each 10-minute token once past ``exp`` all day, polling every 12
    minutes, flagged for its first 25 minutes)."""
    out = []
    used: dict[str, tuple[Arr, Arr]] | None = None
    for r in rows:
        first = _resumed(ctx, r)
        if first is not None and _goes_on(ctx, late, r):
            since = (r["start"] - ctx.ts(first)).total_seconds() / 60.0
            used = _accepted_uses(ctx) if used is None else used
            if since <= _own_cycle(life, r["client_id"]) and _clean_before(ctx, late, r, first, used):
                continue
            if _first_token(ctx, r) or _first_expiry(ctx, late, r, first, life):
                continue
            if _unseen_before(ctx, late, r, first, used):
                continue
        out.append(r)
    return out


def _first_expiry(ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any], first: int, life: dict[str, float]) -> bool:
    """Whether client incident ``r``'s first failure past ``exp`` is of a token that expired within the client's first
    token cycle from minute ``first`` (by its lateness bin's lower edge: the latest it can have expired): its first
    tokens failing at their expiry, the client failing so since it came. A client refreshing only on a 401 fails
    first when the tokens it held at the data's start expire, device by device over a cycle (blind fleet48, session
    40: a depot of 7 gateways, the first failing 42 minutes into the data on a token that had expired 11-14 minutes
    before - past the 41-minute cycle from the first acceptance, so no chronic rule held). Not where the failures
    drift (:func:`_drift` of the incident's own, :data:`SKEW_DRIFTING` s/h or more): a lazy refresher fails each
    token by the time to its next use, hour after hour alike (those gateways: 0 s/h; fleet42's lazy sellers: 0-25);
    with 8-hour tokens most of a night is the first cycle, and a depot's scanners drifting behind from 2.6 hours in,
    518 failures, 1 200 -> 2 700 s past ``exp`` over 9 hours (200 s/h), were no lazy refresher (blind fleet54, session
    41)."""
    seg = _minutes_of(ctx, r)
    own = _seg_rows(late[late["client_id"] == r["client_id"]], seg)
    if own.loc[own["direction"] == "late", "count"].sum() < own["count"].sum() / 2:
        return False  # a clock ahead: its tokens fail before nbf, whatever expired meanwhile
    mine = late[(late["client_id"] == r["client_id"]) & (late["direction"] == "late")]
    at = mine[mine["i"] == seg.i0]
    if at.empty:
        return False
    if abs(_drift(_seg_rows(_skew_rows(mine, ctx.agg.has_cont), seg))) >= SKEW_DRIFTING:
        return False
    return _expired_by(seg.i0, float(at["le"].min())) <= first + _own_cycle(life, r["client_id"])


def _clean_before(
    ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any], first: int, used: dict[str, tuple[Arr, Arr]]
) -> bool:
    """Whether client incident ``r``'s failures, at their rate per accepted use during it, would likely not have
    shown in the client's uses from minute ``first`` to its start (:func:`_before_p` at least
    :data:`SKEW_UNSEEN_P`): a first token cycle that says nothing. A long one can: 8-hour tokens make a cycle of most
    of a timeline, and depots whose scanners renewed hundreds of tokens clean for an hour before a device CA's clock
    went 150 s ahead were each "failing from their first cycle" (blind fleet54, session 40: 1 736 failures before
    ``nbf`` from six depots, no incident)."""
    seen = _before_p(ctx, late, r, first, used)
    return seen is None or seen[0] >= SKEW_UNSEEN_P


def _unseen_before(
    ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any], first: int, used: dict[str, tuple[Arr, Arr]]
) -> bool:
    """Whether client incident ``r``'s client had little traffic from minute ``first`` to its start (accepted uses at
    most :data:`SKEW_UNSEEN_SHARE` of those during it) in which its failures would likely not have shown
    (:func:`_before_p` at least :data:`SKEW_UNSEEN_P`). Such a client has no baseline to change from, whatever the
    minutes since it came."""
    seen = _before_p(ctx, late, r, first, used)
    return seen is not None and seen[2] <= SKEW_UNSEEN_SHARE * seen[1] and seen[0] >= SKEW_UNSEEN_P


def _before_p(
    ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any], first: int, used: dict[str, tuple[Arr, Arr]]
) -> tuple[float, float, float] | None:
    """(Poisson probability of as few failures as client incident ``r``'s client had from minute ``first`` to its start
    or fewer, at the rate per accepted use of its failures - rows of ``late`` - during it; its uses during it; its
    uses before), or None where the client has no accepted use or no failure during it."""
    cid = str(r["client_id"])
    if cid not in used:
        return None
    seg = _minutes_of(ctx, r)
    during, before, uses, earlier = _failures_and_uses(late[late["client_id"] == cid], used[cid], first, seg.i0, seg.i1)
    if during == 0 or uses <= 0:
        return None
    return _poisson_cdf(before, during / uses * earlier), uses, earlier


def _failures_and_uses(
    mine: pd.DataFrame, used: tuple[Arr, Arr], first: int, i0: int, i1: int
) -> tuple[int, int, float, float]:
    """(failures - rows ``mine`` - in minutes ``i0..i1``, failures from ``first`` to before ``i0``, accepted uses
    of :func:`_accepted_uses` ``used`` in the same two spans) of one client."""
    during = int(mine.loc[(mine["i"] >= i0) & (mine["i"] <= i1), "count"].sum())
    before = int(mine.loc[(mine["i"] >= first) & (mine["i"] < i0), "count"].sum())
    return during, before, _uses_between(used, i0, i1 + 1), _uses_between(used, first, i0)


def _resumed(ctx: _Ctx, r: dict[str, Any]) -> int | None:
    """The minute client incident ``r``'s client was first accepted in the data, or later where it came back after
    :data:`SKEW_CHRONIC_H` hours or more without an accepted use before ``r``'s start: the last such return. A
    baseline of the client's failures that long ago is forgotten, as at the data's start (blind fleet42: a seller
    integration presenting each token once past ``exp``, idle for 11 hours, flagged from its return to the day's end
    at the rate it had failed before; then read as its API's clock)."""
    minutes = _accepted_minutes(ctx).get(str(r["client_id"]))
    if not minutes:
        return None
    return _resumed_at(minutes, _minutes_of(ctx, r).i0)


def _resumed_at(minutes: list[int], i0: int) -> int:
    """:func:`_resumed` of a client with accepted ``minutes`` (sorted) for an incident from minute ``i0``."""
    k = bisect.bisect_right(minutes, i0)
    gap = SKEW_CHRONIC_H * 60
    first = minutes[0]
    for j in range(k - 1, 0, -1):
        if minutes[j] - minutes[j - 1] >= gap:
            first = minutes[j]
            break
    return int(first)


def _first_token(ctx: _Ctx, r: dict[str, Any]) -> bool:
    """Whether client incident ``r`` starts before its client renewed a token (:func:`_renewed`): on its first."""
    ren = _renewed(ctx)
    i0 = _minutes_of(ctx, r).i0
    return not bool(((ren["client_id"] == r["client_id"]) & (ren["i"] < i0)).any())


def _goes_on(ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any]) -> bool:
    """Whether client incident ``r``'s failures go on for :data:`SKEW_CHRONIC_H` hours from its start: it lasts so
    long, or its client fails (rows of ``late``) after it, up to that time, at least half as often as during it (the
    same failures going on once the baseline learned them, not a few others later)."""
    seg = _minutes_of(ctx, r)
    until = seg.i0 + int(SKEW_CHRONIC_H * 60)
    if seg.i1 >= until:
        return True
    mine = late[(late["client_id"] == r["client_id"]) & (late["i"] > seg.i1) & (late["i"] <= until)]
    during = int(r["count"]) / (seg.i1 - seg.i0 + 1)
    return int(mine["count"].sum()) / (until - seg.i1) >= during / 2


def _skew_merged(ctx: _Ctx, rows: list[dict[str, Any]], life: dict[str, float]) -> list[dict[str, Any]]:
    """One incident per clock: a client's clock-skew incidents at most a token cycle apart are one."""
    out: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (str(r["client_id"]), r["start"])):
        prev = out[-1] if out else None
        cyc = pd.Timedelta(minutes=_skew_cycle(life, r["client_id"]))
        if prev is not None and prev["client_id"] == r["client_id"] and r["start"] - prev["end"] <= cyc:
            if r["end"] > prev["end"]:
                prev["evidence"] += f"; again {r['count']} failures until {r['end']:%Y-%m-%d %H:%M} UTC"
                prev["end"] = r["end"]
                prev["count"] += r["count"]
            prev["confidence"] = max(prev["confidence"], r["confidence"])
            continue
        out.append(dict(r))
    return out


def _skew_shared(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``server_clock_skew`` incidents (:func:`_server_clocks`; those that are a stalled issuer's clients failing
    are the stall's), ``issuer_stalled`` incidents (:func:`_issuer_stalls`), and the clients' own clock-skew
    incidents ``rows`` but those a server clock or a stall explains: most of their failures (before ``nbf``, or
    past ``exp`` on tokens in use) fall while it is off, from :data:`SHARED_BEFORE` minutes before to
    :data:`SHARED_AFTER` after (a client's own clock that was off before, and goes on failing through it, stays
    its own). Either direction:
    a validator whose clock is behind also accepts expired tokens, so their later uses elsewhere fail past
    ``exp`` shortly after an acceptance, as a client's clock behind would."""
    if not ctx.agg.has_cont:  # (the per-event features: the metrics engine cannot see this kind)
        return rows
    on_time = _on_time(late, lw)
    stalls = _issuer_stalls(ctx, late, lw)
    servers = [s for s in _server_clocks(ctx, on_time, lw, life) if not any(_stalled_then(s[0], t) for t, _ in stalls)]
    servers += stalls
    if not servers:
        return rows
    out = [s for s, _span in servers]
    for r in rows:
        g, n = _incident_failures(ctx, late, on_time, r)
        if not _explains(g, [(span, _tokens_of(s)) for s, span in servers], n):
            out.append(r)
    return out


def _tokens_of(server: dict[str, Any]) -> str | None:
    """The issuer whose tokens a server clock or stall ``server`` fails, if only one's: a stalled issuer, or an
    issuer's clock naming no API (a validators' clock fails every issuer's tokens at its API: None)."""
    if server["kind"] == "issuer_stalled" or server["profile"] is None:
        return None if server["issuer"] is None else str(server["issuer"])
    return None


def _incident_failures(
    ctx: _Ctx, late: pd.DataFrame, on_time: pd.DataFrame, r: dict[str, Any]
) -> tuple[pd.DataFrame, int]:
    """The clock failures of a client's incident ``r`` (:func:`_row_clock_failures`, ``own`` marking those of
    :func:`_on_time`) and their number: what :func:`_explains` weighs."""
    g = _row_clock_failures(ctx, late, r).assign(own=lambda d: d.index.isin(on_time.index))
    return g, int(g["count"].sum())


def _row_clock_failures(ctx: _Ctx, late: pd.DataFrame, r: dict[str, Any]) -> pd.DataFrame:
    """The clock failures (:func:`_clock_failures`) of client incident ``r``'s client in its minutes."""
    return _clock_failures(_seg_rows(late[late["client_id"] == r["client_id"]], _minutes_of(ctx, r)))


def _clock_failures(g: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``g`` (:func:`_skew_late`) a clock could have caused: before ``nbf``, or past ``exp`` on a token
    in use (``seen``) - not stale tokens replayed, nor the re-firings of a burst of seconds (kept after the 401
    but not at the token's pace: a pool's or a woken app's cached token; its first failure after the pause
    stays), nor the calls sent together with a token's first rejected one (``sibling``: a burst's re-firings
    within half a second are no more kept ones). A client's incident that also took in such a burst hours after a
    stall was not explained by it (stalled-issuer v3 9210)."""
    return g[(g["direction"] == "early") | (g["seen"] & ~g["sibling"] & (g["paced"] | ~g["cont"]))]


def _stalled_then(server: dict[str, Any], stall: dict[str, Any]) -> bool:
    """Whether a ``server_clock_skew`` incident is the clients of a stalled issuer failing (its issuer that one,
    or several, and the two overlapping): the stall is the incident."""
    same = server["issuer"] is None or server["issuer"] == stall["issuer"]
    return bool(same and server["start"] <= stall["end"] and stall["start"] <= server["end"])


def _explains(g: pd.DataFrame, spans: list[tuple[_Seg, str | None]], n: int) -> bool:
    """Whether server clocks (or stalls) off in minutes ``spans`` explain a client's ``n`` failures ``g``: most of
    them fall in them, and fewer than ``SKEW.min_count`` of them (``own``: before ``nbf``, or at the token's pace
    beyond what requests in flight at expiry reach) outside them, before the last, and more than
    :data:`SHARED_OWN` minutes before each (a clock of its own that was off before; not a pool's burst replaying its
    cached token). Taken together: a client failing through a stall and, later, through a validator's clock was
    its own incident before session 38, neither explaining half of its failures and the stall's failures counting
    as its own clock off before the other (blind fleet40: three mesh services). A span whose issuer is named
    (:func:`_tokens_of`) holds only the failures of that issuer's tokens (session 43, blind fleet46: a B2B issuer's
    stall until 02:30 took a batch client's 502 failures of 02:01-03:30 before ``iat`` of the workload issuer,
    whose clock was 45 s ahead).
    """
    i = g["i"]
    inside = pd.Series(False, index=g.index)
    near = pd.Series(False, index=g.index)
    for span, issuer in spans:
        theirs = True if issuer is None else (g["issuer"] == issuer).fillna(False)
        inside |= (i >= span.i0) & (i <= span.i1) & theirs
        near |= (i >= span.i0 - SHARED_OWN) & (i <= span.i1) & theirs
    last = max((span.i0 for span, _iss in spans), default=0)
    within = int(g.loc[inside, "count"].sum())
    before = int(g.loc[g["own"] & ~near & (i < last), "count"].sum())
    return within > 0 and 2 * within >= n and before < SKEW.min_count


def _on_time(late: pd.DataFrame, lw: dict[str, float]) -> pd.DataFrame:
    """Rows of ``late`` (:func:`_skew_late`) of clients failing on time: tokens presented before ``nbf``, and
    tokens in use rejected past ``exp`` at their own pace beyond what requests in flight at expiry reach (a
    worker pool's restart replaying its cached token is a burst of seconds, not ``paced``)."""
    in_use = _in_use_past_leeway(late, lw)
    return pd.concat([late[late["direction"] == "early"], in_use[in_use["far"] & in_use["paced"]]])


def _server_clocks(
    ctx: _Ctx, on_time: pd.DataFrame, lw: dict[str, float], life: dict[str, float]
) -> list[tuple[dict[str, Any], _Seg]]:
    """(``server_clock_skew`` incident, its minutes from :data:`SHARED_BEFORE` before to :data:`SHARED_AFTER`
    after) for each significant run (:data:`SHARED`) of the number of accepted clients failing on time
    (:func:`_on_time`) for the first time in a token cycle (:func:`_first_in_cycle`) per minute, against its
    own baseline, holding at least :data:`SHARED_CLIENTS` of them; past ``exp``, at least :data:`SHARED_KEPT`
    of them kept a token in use after its 401 (a validator whose clock is ahead rejects tokens the others
    accept; clients refreshing on a 401 do not go on). One client's clock adds at most one a minute; a clock
    they all share, the issuer's or the validators', makes many fail at once."""
    out: list[tuple[dict[str, Any], _Seg]] = []
    for ahead in (False, True):
        g = on_time[(on_time["direction"] == "early") == ahead]
        new = _first_in_cycle(ctx, g, life)
        if new.empty:
            continue
        per = new.groupby("i")["client_id"].nunique()
        x = np.zeros(ctx.n)
        x[per.index.to_numpy(dtype="int64")] = per.to_numpy(dtype="float64")
        for seg in _segments(x, SHARED, ctx.m0):
            clients = set(_clients(_seg_rows(new, seg)))
            if len(clients) < SHARED_CLIENTS:
                continue
            if not ahead:
                kept = _seg_rows(g[g["cont"] & g["client_id"].isin(sorted(clients))], seg)
                if kept["client_id"].nunique() < SHARED_KEPT:
                    continue
            # the incident goes on while the same clients go on failing so (at most SHARED_AFTER minutes apart)
            theirs = g[g["client_id"].isin(sorted(clients)) & (g["i"] >= seg.i0)]
            later = {int(m) for m in theirs["i"].tolist() if m >= seg.i1}
            i1 = _clusters_of(sorted(later | {seg.i1}), SHARED_AFTER)[0][-1]
            sg = _seg_rows(theirs, _Seg(seg.i0, i1, 0, 0.0, 1.0))
            if (prof := _risen_profile(ctx, g, sg, seg.i0, i1)) is not None:
                sg = sg[sg["profile"] == prof]  # (the other APIs' failures meanwhile: their background)
            run = _Seg(seg.i0, i1, int(sg["count"].sum()), seg.expected, seg.p, seg.alarm)
            span = _Seg(seg.i0 - SHARED_BEFORE, i1 + SHARED_AFTER, 0, 0.0, 1.0)
            out.append((_server_row(ctx, sg, lw, run, ahead), span))
    return out


def _risen_profile(ctx: _Ctx, g: pd.DataFrame, sg: pd.DataFrame, i0: int, i1: int) -> str | None:
    """The one API of a shared-clock run's failures ``sg`` (minutes ``i0``-``i1``; rows of ``g`` before it are the
    history) whose failures per accepted use there rose over its own rate in the :data:`SHARED_HISTORY` minutes
    before (Poisson tail <= :data:`SHARED_PROFILE_P`, one failure as prior), where no API holds
    :data:`NAMED_SHARE` of them (:func:`_named`) and only one rose so; else None. One replica ahead fails the
    tokens sent to it from the minute its clock went off; lazy integrations and resumed apps elsewhere go on failing
    at their own rates meanwhile (session 41, blind fleet56: a namf replica 4 min ahead, 81 failures where none came
    before, among 67 at the exposure gateway - 13 per 1 000 uses against 9 before - and 89 of OSS integrations - 39
    against 47: a clock of "the validators of namf-comm, nef-camara, oss-bss-api", naming none)."""
    if len(_named(sg, "profile")) <= 1:
        return None
    h0 = max(0, i0 - SHARED_HISTORY)
    before = g[(g["i"] >= h0) & (g["i"] < i0)]
    acc = ctx.acc[ctx.acc["profile"].notna() & (ctx.acc["i"] >= h0) & (ctx.acc["i"] <= i1)]
    risen = []
    for prof, n in sg.groupby("profile", observed=True)["count"].sum().items():
        mine = acc[acc["profile"] == prof]
        used_before = int(mine.loc[mine["i"] < i0, "count"].sum())
        used = int(mine.loc[mine["i"] >= i0, "count"].sum())
        if not used_before or not used:
            continue
        rate = (int(before.loc[before["profile"] == prof, "count"].sum()) + 1) / used_before
        if _poisson_tail(int(n), rate * used) <= SHARED_PROFILE_P:
            risen.append(str(prof))
    return risen[0] if len(risen) == 1 else None


def _first_in_cycle(ctx: _Ctx, g: pd.DataFrame, life: dict[str, float]) -> pd.DataFrame:
    """The rows of ``g`` that are a change for their client: its first such failure in a token cycle
    (:func:`_skew_cycle`), on a client seen for at least one cycle before, of a token that expired after that cycle
    (:func:`_expired_by`). A client that fails so every cycle - a device whose
    own clock is minutes off, a lazy refresher - is its usual self, however many such clients fail at the same
    moments (a fleet whose tokens were all issued together expires together); so is one failing from its first
    token's expiry on (session 41, blind fleet56: a developer portal's apps and OSS integrations refreshing only on
    a 401, whose first tokens of the night all expired at 01:10-01:25, were a validators' clock on two quiet
    nights)."""
    keep: list[Any] = []
    for cid, rows in g.groupby("client_id", observed=True):
        cyc = _skew_cycle(life, cid)
        first = float(ctx.client_first.get(cid, 0))
        prev = -math.inf
        past = (rows["direction"] == "late").tolist()
        for idx, i, le, late in sorted(
            zip(rows.index.tolist(), rows["i"].tolist(), rows["le"].tolist(), past, strict=True), key=lambda t: t[1]
        ):
            expired = _expired_by(i, float(le)) if late else i
            if i - first >= cyc and i - prev >= cyc and expired >= first + cyc:
                keep.append(idx)
            prev = float(i)
    return g.loc[keep]


def _minutes_of(ctx: _Ctx, r: dict[str, Any]) -> _Seg:
    """The minutes ``r["start"]``..``r["end"]`` of an incident row on ``ctx``'s grid."""
    i0 = int(pd.Timestamp(r["start"]).value // _NS_MIN) - ctx.m0
    i1 = int(pd.Timestamp(r["end"]).value // _NS_MIN) - ctx.m0
    return _Seg(i0, i1, int(r["count"]), 0.0, 1.0)


def _others_fine(ctx: _Ctx, issuer: str, profiles: list[str], seg: _Seg) -> bool:
    """Whether tokens of issuers other than ``issuer`` were accepted by ``profiles`` during ``seg``."""
    acc = _seg_rows(ctx.acc, seg)
    other = acc["issuer"].notna() & (acc["issuer"] != issuer) & acc["profile"].isin(profiles)
    return bool(other.any())


def _server_row(ctx: _Ctx, g: pd.DataFrame, lw: dict[str, float], seg: _Seg, ahead: bool) -> dict[str, Any]:
    """The ``server_clock_skew`` incident of rows ``g`` (the failures of run ``seg``), from the first failure of the
    issuer and the API it names (:func:`_named`; the run's significance may have begun with another's: 145 s early
    on blind fleet40's one replica of an API ahead)."""
    clients = _clients(g)
    n = int(g["count"].sum())
    issuers = _named(g, "issuer")
    profiles = _named(g, "profile")
    theirs = g
    for col, names in (("issuer", issuers), ("profile", profiles)):
        if len(names) == 1:
            theirs = theirs[theirs[col] == names[0]]
    if len(theirs):
        seg = _Seg(max(seg.i0, int(theirs["i"].min())), seg.i1, seg.count, seg.expected, seg.p, seg.alarm)
    q50, q95 = lateness_quantile(g, 0.5), lateness_quantile(g, 0.95)
    where = f"validators of {_few(profiles)}" if profiles else "validators"
    if ahead:
        what = "tokens presented before nbf"
        cause = (
            f"the issuer's clock ~{q95:.0f} s ahead (tokens stamped in the future) or the clock of the {where} "
            f"~{q95:.0f} s behind"
        )
    else:
        what = "tokens in use rejected past exp"
        cause = f"the clock of the {where} ~{q95:.0f} s ahead, or the issuer's behind"
    if len(issuers) > 1:
        cause = f"the clock of the {where} (clients of {len(issuers)} issuers fail alike)"
    elif issuers and _others_fine(ctx, issuers[0], profiles, seg):
        cause = (
            f"the clock of issuer {issuers[0]} ~{q95:.0f} s {'ahead' if ahead else 'behind'} (clients of other "
            "issuers are accepted by the same APIs meanwhile)"
        )
    ev = (
        f"{len(clients)} clients at once ({_few(clients)}): {n} {what}, up to ~{q95:.0f} s (median ~{q50:.0f} s) "
        f"outside the validity window (validator leeway ~{_leeway_text(lw, g['profile'])} s), from "
        f"{ctx.hhmm(seg.i0)} to {ctx.hhmm(seg.i1)}: one clock they share is off, not theirs - {cause}"
    )
    return _shared_clock_row(ctx, seg, ev, n, clients, issuers, profiles)


def _issuer_stalls(ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float]) -> list[tuple[dict[str, Any], _Seg]]:
    """(``issuer_stalled`` incident, its minutes from :data:`SHARED_BEFORE` before to :data:`SHARED_AFTER` after)
    for each stretch in which an issuer renewed no client's token (:func:`_renewals`) for longer than in any
    stretch of the :data:`STALL_HISTORY` minutes before and so long that their rate makes it unlikely (Poisson
    P(0) <= :data:`STALL_P`, also over a day's stretches, :data:`STALL_P_DAY`; a fleet whose tokens were all issued
    together renews in bursts), while at
    least :data:`STALL_CLIENTS` of its accepted clients had tokens in use rejected past ``exp`` beyond the
    leeway, :data:`STALL_KEPT` of them keeping theirs after the 401: the issuer has stopped issuing tokens (its
    token endpoint down) and its clients go on with the ones they hold. One such client is enough when the
    issuer's other clients renewed nothing meanwhile where their rate makes that unlikely (:func:`_others_silent`),
    or when it has no other (:func:`_sole_client`; session 40, blind fleet50: a library federation IdP whose one
    client id is its discovery portal, down 2.5 hours, 885 failures, no incident). A client that needs a token gets one,
    ending the stretch, unless the issuer mints none: a clock behind makes clients fail who go on renewing; a
    validator ahead rejects tokens that are renewed as usual."""
    fails = _in_use_past_leeway(late, lw)
    gone = late[(late["direction"] == "late") & late["issuer"].notna()]
    gone = gone[gone["le"] > _leeway_of(lw, gone["profile"])]
    life = _lifetimes(ctx)
    out: list[tuple[dict[str, Any], _Seg]] = []
    for iss, theirs in gone.groupby("issuer", observed=True):
        mine = fails[fails["issuer"] == iss]
        x = _renewals(ctx, str(iss))
        before = np.concatenate(([0.0], np.cumsum(x)))  # renewals before each minute
        marks = [-1, *np.flatnonzero(x).tolist(), ctx.n]
        for r0, r1 in itertools.pairwise(marks):
            quiet, h0 = r1 - r0 - 1, r0 + 1
            span = min(h0, STALL_HISTORY)
            if quiet <= 0 or span < STALL_HISTORY_MIN:
                continue
            rate = float(before[h0] - before[h0 - span]) / span
            p0 = math.exp(-rate * quiet)
            if p0 > STALL_P or p0 * DAY_MINUTES / quiet > STALL_P_DAY:
                continue
            if quiet <= _longest_quiet(x[h0 - span : h0]):
                continue
            g = mine[(mine["i"] > r0) & (mine["i"] <= r1)]
            clients = _clients(g)
            kept = g.loc[g["cont"], "client_id"].nunique()
            surge = _stale_surge(theirs, r0, r1, h0, span, life)
            if len(clients) < STALL_CLIENTS or kept < STALL_KEPT:
                one = len(clients) == kept == 1 and g["count"].sum() >= STALL_ONE_FAILURES
                if (
                    not (
                        one
                        and g["i"].nunique() >= SKEW_MINUTES
                        and (
                            _others_silent(ctx, str(iss), clients[0], h0, quiet, span)
                            or _sole_client(ctx, str(iss)) == clients[0]
                        )
                    )
                    and surge is None
                ):
                    continue
            if surge is not None:  # the held tokens failing from the stretch's start, in use or not (fleet42: the
                g = surge  # in-use ones from 4 minutes later, when the tokens renewed last expired: 261 s late)
            i0, i1 = int(g["i"].min()), max(int(g["i"].max()), min(r1, ctx.n - 1))
            seg = _Seg(i0, i1, int(g["count"].sum()), 0.0, math.exp(-rate * quiet))
            out.append(
                (
                    _stall_row(ctx, g, lw, str(iss), seg, rate, quiet, h0),
                    _Seg(i0 - SHARED_BEFORE, i1 + SHARED_AFTER, 0, 0.0, 1.0),
                )
            )
    return out + _ageing_stalls(ctx, fails, lw, out)


def _ageing_stalls(
    ctx: _Ctx, fails: pd.DataFrame, lw: dict[str, float], found: list[tuple[dict[str, Any], _Seg]]
) -> list[tuple[dict[str, Any], _Seg]]:
    """:func:`_issuer_stalls` where the issuer's renewals dropped but did not stop: its token endpoint failing the
    refreshes while new sign-ins still get tokens (or a few retries get through). Per issuer, each run of its
    clients' tokens kept in use after their 401 (``fails``: :func:`_in_use_past_leeway` rows, ``cont``; minutes at most
    :data:`STALL_GAP` apart) from at least :data:`STALL_CLIENTS` clients, at least :data:`STALL_ONE_FAILURES`, whose
    lateness grows by at least :data:`STALL_AGING` s a second (:func:`_ageing`: the tokens they hold getting older -
    a clock behind fails none further past ``exp`` than its offset), while the issuer renewed that many fewer tokens
    than its rate over the :data:`STALL_HISTORY` minutes before makes likely (Poisson P(<= seen) <=
    :data:`STALL_DROP_P`; a clock behind leaves its clients renewing). Session 41, blind fleet48: an operator IdP's
    token endpoint down 37 minutes with logins still served - 16 renewals in 24 minutes where 2.17 a minute were
    usual, 261 failures of its two apps and a worker, median 240 -> 900 s past ``exp`` - were three client clocks."""
    out: list[tuple[dict[str, Any], _Seg]] = []
    kept = fails[fails["cont"] & fails["issuer"].notna()]
    for iss, g in kept.groupby("issuer", observed=True):
        x = _renewals(ctx, str(iss))
        for run in _clusters_of(sorted({int(i) for i in g["i"].tolist()}), STALL_GAP):
            i0, i1 = run[0], run[-1]
            if any(r["issuer"] == iss and span.i0 <= i1 and i0 <= span.i1 for r, span in found):
                continue
            rg = g[(g["i"] >= i0) & (g["i"] <= i1)]
            if len(run) < SKEW_MINUTES or rg["client_id"].nunique() < STALL_CLIENTS:
                continue
            if int(rg["count"].sum()) < STALL_ONE_FAILURES or _ageing(rg) < STALL_AGING:
                continue
            span = min(i0, STALL_HISTORY)
            if span < STALL_HISTORY_MIN:
                continue
            rate = float(x[i0 - span : i0].sum()) / span
            quiet = i1 - i0 + 1
            seen = int(x[i0 : i1 + 1].sum())
            p = _poisson_cdf(seen, rate * quiet)
            if p > STALL_DROP_P:
                continue
            allg = fails[(fails["issuer"] == iss) & (fails["i"] >= i0) & (fails["i"] <= i1)]
            seg = _Seg(i0, i1, int(allg["count"].sum()), 0.0, p)
            out.append(
                (
                    _stall_row(ctx, allg, lw, str(iss), seg, rate, quiet, i0, renewed=seen),
                    _Seg(i0 - SHARED_BEFORE, i1 + SHARED_AFTER, 0, 0.0, 1.0),
                )
            )
    return out


def _ageing(g: pd.DataFrame) -> float:
    """How fast the median lateness of failures ``g`` grows, in s a second: the least-squares slope of each minute's
    median (:func:`lateness_quantile`) over the minutes holding any."""
    per = [(float(i) * 60.0, lateness_quantile(m, 0.5)) for i, m in g.groupby("i")]
    per = [(t, q) for t, q in per if math.isfinite(q)]
    if len(per) < 2:
        return 0.0
    t, q = np.array([a for a, _ in per]), np.array([b for _, b in per])
    return float(np.polyfit(t, q, 1)[0])


def _stale_surge(
    theirs: pd.DataFrame, r0: int, r1: int, h0: int, span: int, life: dict[str, float]
) -> pd.DataFrame | None:
    """The failures of an issuer's stretch without renewals (minutes ``r0`` < i <= ``r1``, from ``h0``) when they
    surge: its accepted clients' tokens rejected past ``exp`` beyond the leeway (``theirs``: in use or not) from
    at least :data:`STALL_CLIENTS` clients in at least :data:`SKEW_MINUTES` minutes, at least
    :data:`STALL_ONE_FAILURES` of them, far more than their rate over the ``span`` minutes before makes likely
    (Poisson, p <= :data:`STALL_SURGE_P`), their lateness spread wider than the clients' token lifetime (a clock
    behind by more than it makes every fresh token fail by about the same: :func:`_expired_on_arrival`); else
    ``None``. Clients whose refresh fails may present the token they hold once each, kept after its 401 or not, and
    hours old: session 38, blind fleet40, a customer IdP's token endpoint down 30 minutes, its apps each sending
    their last token (15-minute tokens, 40 min to 4 h old) once when their refresh failed - 148 failures where 8
    came in the half hour before, no token kept, no incident."""
    g = theirs[(theirs["i"] > r0) & (theirs["i"] <= r1)]
    n = int(g["count"].sum())
    if n < STALL_ONE_FAILURES or g["client_id"].nunique() < STALL_CLIENTS or g["i"].nunique() < SKEW_MINUTES:
        return None
    lifetime = float(np.median([life.get(c, 0.0) for c in _clients(g)])) * 60.0
    if lateness_quantile(g, 0.95) - _lower_edge(lateness_quantile(g, 0.05)) <= lifetime:
        return None
    prior = int(theirs.loc[(theirs["i"] >= h0 - span) & (theirs["i"] < h0), "count"].sum())
    return g if _poisson_tail(n, max(prior, 1) / span * (r1 - r0 - 1)) <= STALL_SURGE_P else None


def _others_silent(ctx: _Ctx, iss: str, client: str, h0: int, quiet: int, span: int) -> bool:
    """Whether the issuer's other clients renewed none of their tokens for ``quiet`` minutes from ``h0`` where
    their own rate over the ``span`` minutes before makes that unlikely (Poisson P(0) <= :data:`STALL_P`; at least
    :data:`STALL_CLIENTS` of them renewing then): one client keeping its tokens past ``exp`` could be its own clock
    behind (it renews by it), but not the others' silence. Session 37, blind fleet38: a bank IdP's token endpoint
    down 35 minutes, its 5-minute tokens kept by a partner aggregator (582 failures) while its two mobile apps,
    renewing 1.5 times a minute before, renewed none and failed only with their stale tokens."""
    ren = _renewed(ctx)  # (none of the issuer's in the quiet minutes: the caller's stretch)
    prior = ren[(ren["issuer"] == iss) & (ren["client_id"] != client) & (ren["i"] >= h0 - span) & (ren["i"] < h0)]
    return prior["client_id"].nunique() >= STALL_CLIENTS and math.exp(-len(prior) / span * quiet) <= STALL_P


def _longest_quiet(x: Arr) -> int:
    """The longest run of zeros in ``x`` (bounded by its ends)."""
    marks = [-1, *np.flatnonzero(x).tolist(), len(x)]
    return max(b - a - 1 for a, b in itertools.pairwise(marks))


def _stall_row(
    ctx: _Ctx,
    g: pd.DataFrame,
    lw: dict[str, float],
    iss: str,
    seg: _Seg,
    rate: float,
    quiet: int,
    h0: int,
    renewed: int = 0,
) -> dict[str, Any]:
    """The ``issuer_stalled`` incident of issuer ``iss``: its clients' failures ``g`` in run ``seg``, ``renewed``
    renewals (none, or a drop: :func:`_ageing_stalls`) in ``quiet`` minutes from minute ``h0`` where ``rate`` a
    minute are usual."""
    clients = _clients(g)
    q50, q95 = lateness_quantile(g, 0.5), lateness_quantile(g, 0.95)
    renewals = (
        f"while none of its clients was accepted with a renewed token (expiring later than any it held) for {quiet} "
        f"min from {ctx.hhmm(h0)}"
        if not renewed
        else f"the held tokens ageing, while its clients were accepted with {renewed} renewed tokens (expiring later "
        f"than any they held) in {quiet} min from {ctx.hhmm(h0)}"
    )
    ev = (
        f"{len(clients)} clients of {iss} ({_few(clients)}): {seg.count} tokens it issued before rejected past "
        f"exp, up to ~{q95:.0f} s (median ~{q50:.0f} s) past it (validator leeway "
        f"~{_leeway_text(lw, g['profile'])} s), from {ctx.hhmm(seg.i0)} to {ctx.hhmm(seg.i1)}, {renewals}, where "
        f"{rate:.2f} renewals a minute are usual: the issuer has stopped issuing tokens (its "
        "token endpoint down) and its clients go on with the ones they hold (an issuer clock behind by more than "
        "the tokens' lifetime looks alike)"
    )
    scope = (ctx.c["issuer"] == iss).fillna(False).astype(bool)
    share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
    seen = f"{renewed} seen, " if renewed else ""
    stat = f"baseline expects {rate * quiet:.1f} renewals in {quiet} min, {seen}{_fmt_p(seg.p)}"
    return _row(ctx, "issuer_stalled", seg, ev, share, issuer=iss, stat=stat)


def _renewals(ctx: _Ctx, issuer: str) -> Arr:
    """Per minute, the accepted clients of ``issuer`` presenting a token that expires later than any they
    presented before (a renewal: a token the issuer minted since)."""
    ren = _renewed(ctx)
    x = np.zeros(ctx.n)
    np.add.at(x, ren.loc[ren["issuer"] == issuer, "i"].to_numpy(dtype=np.int64), 1.0)
    return x


def _renewed(ctx: _Ctx) -> pd.DataFrame:
    """(issuer, client_id, i) of every renewal (:func:`_renewals`), computed once per context."""
    if ctx.renewed is None:
        acc = ctx.acc[ctx.acc["max_exp"].notna() & ctx.acc["client_id"].notna() & ctx.acc["issuer"].notna()]
        acc = acc[acc["client_id"] != OTHER]
        per = acc.groupby(["issuer", "client_id", "i"], observed=True)["max_exp"].max().reset_index()
        held = per.groupby(["issuer", "client_id"], observed=True)["max_exp"].cummax()
        prev = held.groupby([per["issuer"], per["client_id"]], observed=True).shift()
        ctx.renewed = per.loc[prev.notna() & (per["max_exp"] > prev), ["issuer", "client_id", "i"]]
    return ctx.renewed


def _devices(ctx: _Ctx, life: dict[str, float]) -> dict[str, float]:
    """Per client: its renewals per token cycle (:func:`_skew_cycle`) over the minutes since it was first seen -
    about how many devices or pods hold a token of it at once (a service: 1-3; a mobile app's client id:
    dozens)."""
    n = _renewed(ctx).groupby("client_id", observed=True).size()
    out: dict[str, float] = {}
    for cid, k in n.items():
        seen = ctx.n - int(ctx.client_first.get(cid, 0))
        out[str(cid)] = float(k) * _skew_cycle(life, cid) / max(seen, 1)
    return out


def _clusters_of(minutes: list[int], gap: float) -> list[list[int]]:
    """Sorted minutes split where two are more than ``gap`` apart."""
    out: list[list[int]] = []
    for i in sorted(minutes):
        if out and i - out[-1][-1] <= gap:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _in_use_past_leeway(late: pd.DataFrame, lw: dict[str, float]) -> pd.DataFrame:
    """Rows of ``late`` (:func:`_skew_late`) rejected past ``exp`` on tokens in use (``seen``) beyond their
    validator's leeway, with ``far``: more than :data:`SKEW_INFLIGHT` s past it (what requests in flight at
    expiry do not reach), and the row's count again as ``n_kept`` where its token was kept after a 401
    (``cont``) and as ``on_pace`` where it came at the token's pace (``paced``), else 0 (summed per minute).
    The rows every shape detector of a clock behind starts from."""
    rej = late[(late["direction"] == "late") & late["seen"]]
    limit = _leeway_of(lw, rej["profile"])
    keep = rej["le"] > limit
    rej = rej[keep]
    return rej.assign(
        far=rej["le"] > limit[keep] + SKEW_INFLIGHT,
        n_kept=rej["count"].where(rej["cont"], 0),
        on_pace=rej["count"].where(rej["paced"], 0),
        n_new=rej["count"].where(rej["new_subject"], 0),
    )


def _mostly_paced(on_pace: int, n: int) -> bool:
    """Whether at least half of ``n`` failures came at their token's own pace (``on_pace`` of them): a device
    going on with its expired token, not a pool or a resumed app firing a cached one within seconds."""
    return 2 * on_pace >= n


def _skew_creeping(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], found: set[tuple[str, Any, Any]]
) -> list[dict[str, Any]]:
    """A clock falling behind before it fails much: a client that never presented a token after its ``exp``
    starts doing so in consecutive token cycles (accepted within the validator's leeway), further past
    ``exp`` each cycle, until tokens it still uses are rejected. Too few failures for the count series, but
    the accepted uses past ``exp`` are the clock's own evidence. Found only for a client quiet for
    :data:`SKEW_QUIET` cycles before, failing at its pace (:func:`_skew_at_pace`: not a pool's burst of
    seconds); the incident spans the failures (the accepted uses are evidence)."""
    lat = ctx.agg.lateness
    if lat.empty:
        return []
    m = (lat["minute"].astype("datetime64[ns, UTC]").astype("int64") // _NS_MIN).to_numpy()
    acc = lat.assign(i=m - ctx.m0)
    acc = acc[(acc["outcome"] == "accepted") & (acc["direction"] == "late") & acc["client_id"].notna()]
    acc = acc[(acc["client_id"] != OTHER) & ctx.known(acc)]
    rej = _in_use_past_leeway(late, lw)
    accepted = _accepted_minutes(ctx)
    idle = _idle_failures(ctx, late, lw, life, accepted)
    out: list[dict[str, Any]] = []
    for cid, a in acc.groupby("client_id"):
        r = rej[rej["client_id"] == cid]
        if r.empty:
            continue
        cyc = _skew_cycle(life, cid)
        first = int(ctx.client_first.get(cid, 0))
        for run in _clusters_of(r["i"].tolist(), _own_cycle(life, cid) / 2):
            r0, r1 = run[0], run[-1]
            if any(c == str(cid) and ctx.ts(r0) <= e and s <= ctx.ts(r1, end=True) for c, s, e in found):
                continue
            pre = a[(a["i"] >= r0 - SKEW_CREEP * cyc) & (a["i"] <= r1)]
            cycles = _clusters_of(pre["i"].tolist(), cyc / 2)
            if len(cycles) < 2:
                continue  # once is a request in flight; creeping is cycle after cycle
            rmin = r["i"].to_numpy()
            if not any(not ((rmin >= c[0] - 5) & (rmin <= c[-1] + 5)).any() for c in cycles if c[-1] < r0 - 5):
                continue  # every cycle past exp also failed: a client using its tokens until the 401 (lazy)
            w0 = cycles[0][0]
            hist = a[a["i"] < w0]
            span = (w0 - first) / cyc
            if span < SKEW_QUIET:
                continue
            # quiet before: past exp (accepted or failing, or presenting an expired token after a quiet stretch)
            # in fewer than SKEW_USUAL of its earlier cycles in which it made requests at all
            lazy = [i for i in idle.get(str(cid), set()) if i < w0]
            usual = len(_clusters_of([*hist["i"].tolist(), *r.loc[r["i"] < w0, "i"].tolist(), *lazy], cyc / 2))
            if usual / min(span, _active_cycles(accepted.get(str(cid), []), first, w0, cyc)) >= SKEW_USUAL:
                continue
            rr = r[(r["i"] >= r0) & (r["i"] <= r1)]
            n_acc, n_rej = int(pre["count"].sum()), int(rr["count"].sum())
            if not rr["cont"].any():
                continue  # a client refreshing on the 401 (lazy) or a request in flight: not a clock
            if not _skew_at_pace(late[late["client_id"] == cid], lw, r0, r1):
                continue  # a burst of seconds (a pool's cached token fired after a pause), not a clock
            both = pd.concat([pre[["i", "le"]], rr[["i", "le"]]])
            lates = [float(both.loc[both["i"].isin(c), "le"].max()) for c in _clusters_of(both["i"].tolist(), cyc / 2)]
            if lates[-1] <= lates[0]:
                continue  # not falling further behind
            rate = max(SKEW.floor, len(hist) / max(1.0, w0 - first))
            mu = rate * (r1 - w0 + 1)
            pv = _poisson_tail(n_acc + n_rej, mu)
            if pv > SKEW.p_max:
                continue
            seg = _Seg(_skew_start(ctx, late, str(cid), r0, lw, cyc, first), r1, n_rej, mu, pv)
            offset = float(rr["le"].max())
            lws = _leeway_text(lw, rr["profile"])
            ev = (
                f"client {cid}: {n_rej} tokens rejected past exp while in use, after {n_acc} uses past exp accepted "
                f"within the validator's leeway (~{lws} s) in "
                f"{len(cycles)} token cycles since {ctx.hhmm(w0)}, up to ~"
                + ", ~".join(f"{v:.0f}" for v in lates)
                + f" s past exp, none in the {span:.0f} cycles before: clock falling behind, ~{offset:.0f} s now"
            )
            out.append(_skew_incident(ctx, cid, seg, ev, n_rej, r0, r1, rr))
    return out


def _skew_stepping(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], found: set[tuple[str, Any, Any]]
) -> list[dict[str, Any]]:
    """A clock falling behind, seen in its failures only (a validator without leeway): a client quiet for
    :data:`SKEW_QUIET` cycles fails on tokens in use in :data:`SKEW_STEPS` token cycles in a row, further
    past ``exp`` each cycle, keeping its token after the 401 in at least two of them (a lazy refresher
    refreshes on it)."""
    rej = _in_use_past_leeway(late, lw)
    accepted = _accepted_minutes(ctx)
    idle = _idle_failures(ctx, late, lw, life, accepted)
    out: list[dict[str, Any]] = []
    for cid, r in rej.groupby("client_id"):
        cyc = _skew_cycle(life, cid)
        first = int(ctx.client_first.get(cid, 0))
        groups = _clusters_of(r["i"].tolist(), _own_cycle(life, cid) / 2)
        for k in range(len(groups) - SKEW_STEPS + 1):
            steps = groups[k : k + SKEW_STEPS]
            if any(b[0] - a[-1] > cyc for a, b in itertools.pairwise(steps)):
                continue  # not cycle after cycle
            r0, r1 = steps[0][0], steps[-1][-1]
            if any(c == str(cid) and ctx.ts(r0) <= e and s <= ctx.ts(r1, end=True) for c, s, e in found):
                continue
            part = [r[r["i"].isin(g)] for g in steps]
            if sum(bool(p["cont"].any()) for p in part) < 2:
                continue
            lates = [float(p["le"].max()) for p in part]
            if any(b < a for a, b in itertools.pairwise(lates)) or lates[-1] <= lates[0]:
                continue  # not falling further behind
            if any(int(p.groupby("i")["count"].sum().max()) > SKEW_PACE for p in part):
                continue  # a burst of seconds in a cycle (a pool's cached token, a busy device's requests in flight)
            # quiet for SKEW_QUIET of its own token cycles (a 30-min token's client is quiet for 3 of them in 2 h)
            span = (r0 - first) / _own_cycle(life, cid)
            # (cycles with requests only; a sparse client's expired tokens after a pause are failures too)
            lazy = len(_clusters_of([i for i in idle.get(str(cid), set()) if i < r0], _own_cycle(life, cid) / 2))
            active = _active_cycles(accepted.get(str(cid), []), first, r0, _own_cycle(life, cid))
            if span < SKEW_QUIET or (k + lazy) / min(span, active) >= SKEW_USUAL:
                continue  # a client failing past exp in many cycles anyway
            n = int(sum(int(p["count"].sum()) for p in part))
            mu = SKEW.floor * (r1 - r0 + 1)
            pv = _poisson_tail(n, mu)
            if pv > SKEW.p_max:
                continue
            seg = _Seg(_skew_start(ctx, late, str(cid), r0, lw, cyc, first), r1, n, mu, pv)
            lws = _leeway_text(lw, r["profile"])
            ev = (
                f"client {cid}: {n} tokens rejected past exp while in use in {SKEW_STEPS} token cycles in a row, "
                f"up to ~" + ", ~".join(f"{v:.0f}" for v in lates) + " s past exp (validator leeway "
                f"~{lws} s), kept after the 401, none in the {span:.0f} "
                f"cycles before: clock falling behind, ~{lates[-1]:.0f} s now"
            )
            out.append(_skew_incident(ctx, cid, seg, ev, n, r0, r1, r))
            found.add((str(cid), ctx.ts(r0), ctx.ts(r1, end=True)))
    return out


def _skew_kept(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], found: set[tuple[str, Any, Any]]
) -> list[dict[str, Any]]:
    """A clock only a little further behind than its client's refresh margin: it fails once or twice a token
    cycle, too seldom for the count series and without the three cycles of :func:`_skew_stepping`. What
    still tells it from the retries, replays and lazy refreshers every fleet has: the client **keeps the
    token after its 401** (``cont``; a lazy refresher refreshes on it) and

    * fails again a minute or more later at its own pace: at most :data:`SKEW_PACE` failures a minute and
      one a minute on average (a restarted worker pool firing its cached token is a burst of seconds), or
      in three minutes in a row, none with more than :data:`SKEW_PACE` (no burst lasts that long), or - a busy
      device, several failures a minute - at least :data:`SKEW_ON_PACE` and half of its failures ``paced``
      (the per-event feature: each came the
      token's usual gap after its previous use; a pool fires its cached token once after a pause, then
      within seconds), further than :data:`SKEW_INFLIGHT` s past the leeway (what requests in flight at
      expiry do); or
    * does so in two token cycles in a row, each time failing first within :data:`SKEW_NEAR` s past the
      leeway: the token was in use up to its expiry (a replayed cached token is of any age);

    after :data:`SKEW_QUIET` of the client's own token cycles (:func:`_own_cycle`) without a failure past
    leeway + :data:`SKEW_INFLIGHT`, having failed past ``exp`` in fewer than :data:`SKEW_USUAL` of the cycles
    before the last one (a lazy refresher fails in every cycle; the last cycle's failures may be the clock's own
    first ones). A replay - a minute's burst of seconds, not at the token's pace, all of it further past ``exp``
    than the episode reaches (a worker pool firing its cached token; a clock that far behind did not fail so) -
    is set aside for the quiet, the history, the client's rate and the onset's walk-back; an episode that needs
    that has at least ``SKEW.min_count`` failures."""
    rej = _in_use_past_leeway(late, lw)
    accepted = _accepted_minutes(ctx)
    idle = _idle_failures(ctx, late, lw, life, accepted)
    devices = _devices(ctx, life)
    out: list[dict[str, Any]] = []
    for cid, r in rej.groupby("client_id"):
        cyc = _skew_cycle(life, cid)
        first = int(ctx.client_first.get(cid, 0))
        many = devices.get(str(cid), 1.0) > SKEW_DEVICES
        r = r.assign(near=r["le"] <= _leeway_of(lw, r["profile"]) + SKEW_NEAR)
        r = r.assign(kept_paced=r["cont"] & r["paced"])
        per = r.groupby("i").agg(
            n=("count", "sum"),
            kept=("cont", "any"),
            n_kept=("n_kept", "sum"),
            kept_paced=("kept_paced", "any"),
            far=("far", "any"),
            near=("near", "any"),
            on_pace=("on_pace", "sum"),
        )
        kept: list[tuple[list[int], bool]] = []  # runs of failures kept after a 401; paced?
        for run in _clusters_of(per.index.tolist(), SKEW_KEPT):
            sub = per.loc[run]
            if not sub["kept"].any():
                continue
            # a burst (seconds): more than SKEW_PACE a minute, or more than one a minute across a minute
            # boundary; failures in three minutes in a row are not one burst
            peak, total = int(sub["n"].max()), int(sub["n"].sum())
            burst = peak > SKEW_PACE or total > run[-1] - run[0] + 1
            # (three minutes in a row without a minute of more than SKEW_PACE: a pool's burst of seconds next to
            # another token's failures in the minutes around it is not that)
            steady = peak <= SKEW_PACE and any(b - a == 2 for a, b in zip(run, run[2:], strict=False))
            # per event: most failures came at the token's own pace after its previous use (a pool or a
            # resumed app fires its cached token within seconds: one use after a pause, then a burst)
            on_pace = int(sub["on_pace"].sum())
            steady |= on_pace >= SKEW_ON_PACE and _mostly_paced(on_pace, total)
            # kept after the 401: a failure of a token rejected before, at its pace or in a minute that has more
            # of them than first failures (a token that failed in an earlier minute); one client id's two
            # devices - one woken past exp, one firing two calls at once with its expired token - are not that
            # ... on a client id of many devices, not in the minute right after another failure unless at its
            # pace: one of them woken past exp firing three screens within seconds across a minute boundary is
            # one firing, not a token kept (its other devices fail on their own tokens meanwhile)
            adjacent = pd.Series(run, index=run).diff().le(1).to_numpy() & many
            again = sub["kept_paced"] | ((2 * sub["n_kept"] > sub["n"]) & ~adjacent)
            kept.append((run, (steady or not burst) and len(run) >= 2 and bool(again.iloc[1:].any())))
        episodes: list[list[int]] = []
        for k, (run, paced) in enumerate(kept):
            if paced and per.loc[run, "far"].any():
                # failing again a minute or more after the 401 at the client's pace, further past exp than
                # requests in flight at expiry
                episodes.append(run)
            if k and run[0] - kept[k - 1][0][-1] <= 1.5 * cyc:
                both = kept[k - 1][0] + run
                near = per.loc[[both[0], run[0]], "near"].all() and per.loc[both, "far"].any()
                if near and _skew_at_pace(r, lw, both[0], both[-1]):
                    # kept after the 401 again in the next token cycle, each time failing first right past the
                    # leeway (a token in use up to it; a replayed cached token is of any age)
                    episodes.append(both)
        if not episodes:
            continue
        far = set(per.index[per["far"]].tolist())
        # replays: a run of one minute that is a burst of seconds (not at the token's pace), its failures all further
        # past exp than an episode reaches - a cached token fired again, which a clock that far behind did not do
        replays = {run[0] for run, paced in kept if len(run) == 1 and not paced}
        nearest = r.groupby("i")["le"].min()
        quiet_cyc = _own_cycle(life, cid)
        for run in episodes:
            r0, r1 = run[0], run[-1]
            if any(c == str(cid) and ctx.ts(r0) <= e and s <= ctx.ts(r1, end=True) for c, s, e in found):
                continue
            span = (r0 - first) / cyc
            reach = float(r.loc[r["i"].isin(run), "le"].max())
            aside = {i for i in replays if i < r0 and float(nearest[i]) > reach}
            before = [i for i in per.index.tolist() if i < r0 and i not in aside]
            # quiet: no failure past what requests in flight at expiry do in the SKEW_QUIET token cycles of the
            # client's own (not floored at SKEW_BACK: a clock of 30-min tokens is quiet after 2 h, not 3) before
            if (r0 - first) / quiet_cyc < SKEW_QUIET or any(
                i >= r0 - SKEW_QUIET * quiet_cyc for i in before if i in far
            ):
                continue
            # ... and failing in fewer than SKEW_USUAL of the cycles before the last (whose failures may be the
            # clock's own first ones): a lazy refresher fails in every cycle
            # (a sparse client's expired tokens after a pause count too, and only cycles with requests: a lazy
            # refresher at night)
            hist = sorted({i for i in before if i < r0 - cyc} | {i for i in idle.get(str(cid), set()) if i < r0 - cyc})
            active = _active_cycles(accepted.get(str(cid), []), first, r0 - int(cyc), cyc)
            if len(_clusters_of(hist, cyc / 2)) / max(1.0, min(span - 1.0, active)) >= SKEW_USUAL:
                continue
            # significance against the client's own rate of such failures (floored), over the minutes that failed;
            # an episode that is quiet only with replays set aside needs SKEW.min_count failures of its own
            n = int(per.loc[run, "n"].sum())
            if aside and n < SKEW.min_count:
                continue
            mu = max(SKEW.floor, len(before) / max(1.0, r0 - first)) * len(run)
            pv = _poisson_tail(n, mu)
            if pv > SKEW.p_max:
                continue
            rr = r[r["i"].isin(run)]
            offset = float(rr["le"].max())
            # the onset: walked back over the client's earlier failures, not to a replay set aside
            walk = late[~((late["client_id"] == cid) & late["i"].isin(list(aside)))] if aside else late
            seg = _Seg(_skew_start(ctx, walk, str(cid), r0, lw, cyc, first), r1, n, mu, pv)
            lws = _leeway_text(lw, rr["profile"])
            ev = (
                f"client {cid}: {n} tokens rejected past exp while in use over {r1 - r0 + 1} min, kept after the "
                f"401 and failing again at the client's pace (not a burst: <= {SKEW_PACE} a minute), up to "
                f"~{offset:.0f} s past exp (validator leeway ~{lws} s), "
                f"none in the {span:.0f} token cycles before: clock ~{offset:.0f} s behind"
            )
            out.append(_skew_incident(ctx, cid, seg, ev, n, r0, r1, rr))
            found.add((str(cid), ctx.ts(r0), ctx.ts(r1, end=True)))
    return out


class _Fail(NamedTuple):
    """One episode of a client's failures past the leeway (``_skew_refreshed``): minutes ``i0..i1`` (at most one
    apart), ``n`` failures, lateness up to ``le`` s (bin edge), any more than SKEW_INFLIGHT s past the leeway
    (``far``), and ``steady``: a use at the token's own pace (``paced``) or only failures of a token already
    rejected before (``cont``: kept across minutes), not every use after a pause (a device resumed)."""

    i0: int
    i1: int
    n: int
    le: float
    far: bool
    steady: bool
    #: the client's next minute with an accepted use after the episode (its new token; -1: none)
    r: int = -1
    #: failures of a subject failing so for the first time in a while (``new_subject``)
    fresh: int = 0


def _refresh_link(a: _Fail, b: _Fail, life: float) -> bool:
    """Whether ``b`` is the failure of the token fetched on ``a``'s 401: one lifetime plus ``b``'s lateness later
    (from the 401, or from the client's next accepted use: a client with little traffic fetches its new token
    on its next request)."""
    top = life + min(b.le, SKEW_REFRESH_MAX) / 60.0 + SKEW_LINK
    return any(life - SKEW_LINK <= b.i0 - t <= top for t in {a.i0, a.r} if t >= 0)


def _refresh_chains(fails: list[_Fail], life: float) -> list[list[int]]:
    """The refresh chains of at least SKEW_GROUP failures (indices into ``fails``): the longest chain ending at
    each failure."""
    best = [1] * len(fails)
    pred = [-1] * len(fails)
    for k in range(len(fails)):
        for j in range(k):
            if _refresh_link(fails[j], fails[k], life) and best[j] + 1 > best[k]:
                best[k], pred[k] = best[j] + 1, j
    out = []
    for k in range(len(fails)):
        if best[k] >= SKEW_GROUP:
            chain = [k]
            while pred[chain[-1]] >= 0:
                chain.append(pred[chain[-1]])
            out.append(sorted(chain))
    return out


def _skew_refreshed(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], found: set[tuple[str, Any, Any]]
) -> list[dict[str, Any]]:
    """A clock behind on a client that **refreshes its token after a 401** (what most client libraries do):
    each of its pods fails once per token cycle - the request after ``exp`` + leeway that its clock still
    thinks valid - and the token it fetches on the 401 is accepted at once. No token is kept after its 401,
    no burst, too few failures for the count series; what shows the clock is the recurrence:

    * a client that had (almost) no failure past the leeway in the token cycles before (at least
      1 + :data:`SKEW_OWN_HISTORY` cycles accepted, :data:`SKEW_QUIET` when every failure is within
      :data:`SKEW_INFLIGHT` s of the leeway: early in
      the data a busy client whose requests in flight fail at every expiry looks the same; failures in fewer
      than :data:`SKEW_USUAL` of them: a lazy refresher fails in every one)
      fails on tokens in use (``seen``) in at least :data:`SKEW_GROUP` separate episodes (minutes at most one
      apart, at most :data:`SKEW_PACE` failures or most at the token's pace: a worker pool replaying its cached
      token is a burst) within
      :data:`SKEW_GROUP_CYCLES` token cycles, or in a **refresh chain** of that many (each failure one lifetime
      plus its own lateness after the previous one: the token fetched on the 401 expired and failed the same
      way);
    * none further past ``exp`` than :data:`SKEW_REFRESH_MAX` s (a clock, not an old token),
      and at least one ``steady`` (at the token's own pace, or a token kept after its 401 across minutes;
      devices resumed after a pause fire their old token after the pause, never at its pace);
    * in fewer than :data:`SKEW_USUAL` of its earlier token cycles and significantly more often than the
      client's own earlier rate of such failures (against a group with failures more than :data:`SKEW_INFLIGHT`
      s past the leeway, its history is :func:`_far_history`: failures of tokens in use), with :data:`SKEW_PRIOR`
      minutes at the fleet's rate per client as prior (early in the data a client has little history):
      Poisson tail <= ``SKEW.p_max`` over at least one token cycle, each chain link (counted from the failure or
      from the client's next accepted use: a client with little traffic fetches its new token on its next
      request) multiplying it by the share of the cycle its window covers (a failure at a random time lands
      there that seldom); <= :data:`SKEW_NEAR_P` when none of them is more than :data:`SKEW_INFLIGHT` s past the
      leeway (requests in flight or retried at expiry fail right past it).

    The incident starts at the first failure (walking back over earlier failures no further past ``exp``
    within one cycle); the evidence lists the failures with their lateness, the chain links, the leeway and the
    clock offset they bound (at least the largest lateness)."""
    past = late[late["direction"] == "late"]
    past = past[(past["le"] > _leeway_of(lw, past["profile"])) & (past["le"] <= SKEW_REFRESH_MAX)]
    # history: every failure past the leeway no further past exp than a clock would be, in use or not (a clock
    # behind since the client's first token fails in its first cycle too, on a token not seen before) ...
    before = {str(c): sorted(set(h["i"].tolist())) for c, h in past.groupby("client_id", observed=True)}
    # one failure per visit: a token rejected once, the client refreshing - the calls it sent together with that
    # one (``sibling``: a page load's) are no more failures of the clock, nor a token fired again
    lat = _in_use_past_leeway(late, lw)
    lat = lat[~lat["sibling"]]
    if lat.empty:
        return []
    # ... and, against failures well past the leeway, only those of tokens in use (the clock's own shape; see
    # :func:`_far_history`)
    in_use = lat[lat["le"] <= SKEW_REFRESH_MAX]
    before_use = {str(c): set(h["i"].tolist()) for c, h in in_use.groupby("client_id", observed=True)}
    per = lat.groupby(["client_id", "i"], observed=True).agg(
        n=("count", "sum"),
        n_kept=("n_kept", "sum"),
        on_pace=("on_pace", "sum"),
        n_new=("n_new", "sum"),
        le=("le", "max"),
        far=("far", "any"),
        paced=("paced", "any"),
        kept=("cont", "all"),
    )
    firsts = {str(c): int(f) for c, f in ctx.client_first.items()}
    # the fleet's rate of such failure minutes per client-minute: the prior of each client's own rate
    fleet_rate = len(per) / max(1, sum(max(1, ctx.n - f) for f in firsts.values()))
    accepted = _accepted_minutes(ctx)
    idle = _idle_failures(ctx, late, lw, life, accepted)
    used = _accepted_uses(ctx)
    devices = _devices(ctx, life)
    # the fleet's rate of such failure minutes per accepted use of a named client (the per-use prior)
    fleet_per_use = len(per) / max(1, sum(int(u[-1]) for _m, u in used.values() if len(u)))
    # the fleet's ratio of failures again (a subject failing so before) to new subjects: the prior of each
    # many-user client's own
    near_use = per[per["le"] <= SKEW_REFRESH_MAX]
    fresh_all = int(near_use["n_new"].sum())
    subject_ratio = (int(near_use["n"].sum()) - fresh_all + 1) / (fresh_all + 1)
    out: list[dict[str, Any]] = []
    for key, g in per.groupby(level=0, observed=True):
        cid = str(key)
        if cid not in life or cid not in firsts:
            continue
        lf, first = float(life[cid]), firsts[cid]
        cyc = _own_cycle(life, cid)
        every = before.get(cid, [])
        in_use_or_first = _far_history(every, before_use.get(cid, set()), first, cyc)
        g = g.droplevel(0)
        acc_min = accepted.get(cid, [])
        eps, single = [], []
        for run in _clusters_of(g.index.tolist(), 1):
            sub = g.loc[run]
            steady = bool(sub["paced"].any() or sub["kept"].all())
            k = bisect.bisect_right(acc_min, run[-1])
            nxt = int(acc_min[k]) if k < len(acc_min) else -1
            e = _Fail(
                i0=run[0],
                i1=run[-1],
                n=int(sub["n"].sum()),
                le=float(sub["le"].max()),
                far=bool(sub["far"].any()),
                steady=steady,
                r=nxt,
                fresh=int(sub["n_new"].sum()),
            )
            eps.append(e)
            # a token fired again within the episode, more than SKEW_PACE failures, most not at the token's pace:
            # a burst (a pool's cached token, a device's in-flight screens); pods of one client failing once each
            # are not, nor a device going on with its expired token at its pace (its clock)
            burst = e.n > SKEW_PACE and int(sub["n_kept"].sum()) > 0
            if not (burst and not _mostly_paced(int(sub["on_pace"].sum()), e.n)):
                single.append(e)
        if len(single) < SKEW_GROUP:
            continue
        cands = [
            [k for k in range(s, len(single)) if single[k].i0 - single[s].i0 <= SKEW_GROUP_CYCLES * cyc]
            for s in range(len(single))
        ]
        cands += _refresh_chains(single, lf)
        # candidates with a failure well past the leeway first: all-near ones only where nothing else is found
        cands.sort(key=lambda grp: not any(single[k].far for k in grp))
        done: list[tuple[int, int]] = []
        for grp in cands:
            if len(grp) < SKEW_GROUP:
                continue
            mem = [single[k] for k in grp]
            r0, r1 = mem[0].i0, mem[-1].i1
            if any(a <= r1 and r0 <= b for a, b in done) or any(
                c == cid and ctx.ts(r0) <= e and s <= ctx.ts(r1, end=True) for c, s, e in found
            ):
                continue
            bound = max(e.le for e in mem)
            if bound > SKEW_REFRESH_MAX or not any(e.steady for e in mem):
                continue
            if devices.get(cid, 0.0) > SKEW_DEVICES and not (
                _one_subject_again(mem, eps, subject_ratio) or _bounded(in_use[in_use["client_id"] == cid], mem)
            ):
                continue
            far = any(e.far for e in mem)
            prior = sorted(set(in_use_or_first if far else every) | idle.get(cid, set()))
            span = (r0 - first) / cyc
            # the share of the earlier token cycles in which it failed so (a lazy refresher, a device behind since
            # its first token: nearly every one); all near the leeway: SKEW_QUIET cycles of history first
            if span < (1.0 + SKEW_OWN_HISTORY if far else SKEW_QUIET):
                continue
            failed = len({int((i - first) // cyc) for i in prior if i < r0})
            if failed / min(span, _active_cycles(acc_min, first, r0, cyc)) >= SKEW_USUAL:
                continue
            # its own rate of such failures: in the cycles before the last one (whose failures may be the clock's
            # own first ones)
            hist = [i for i in prior if i < r0 - cyc]
            rate = (len(hist) + SKEW_PRIOR * fleet_rate) / (max(0.0, r0 - cyc - first) + SKEW_PRIOR)
            mu = rate * max(float(r1 - r0 + 1), cyc)
            # ... and, on a client id many users share (a web app, a mobile app: more than SKEW_DEVICES renewals
            # a cycle), per accepted use: it fails so once per user whose tab or app sat idle across exp, as often
            # as its traffic is high; at its morning peak, against a night of history, the per-minute rate sees a
            # clock where the failures per use did not rise (a service's few pods fail per token cycle, not per use)
            if devices.get(cid, 0.0) > SKEW_DEVICES:
                mu = max(mu, _per_use_expected(used, cid, first, r0, r1, cyc, len(hist), fleet_per_use))
            pv = _poisson_tail(len(mem), mu)
            links = [b for a, b in itertools.pairwise(mem) if _refresh_link(a, b, lf)]
            for b in links:
                # the chance a failure lands in the link's window: its share of the cycle, or at the client's
                # own rate if that is higher
                w = min(b.le, SKEW_REFRESH_MAX) / 60.0 + 2 * SKEW_LINK + 1
                pv *= min(1.0, max(w / cyc, 1.0 - math.exp(-rate * w)))
            if pv > (SKEW.p_max if far else SKEW_NEAR_P):
                continue
            done.append((r0, r1))
            start = r0
            for e in reversed([e for e in eps if e.i0 < r0]):
                if start - e.i1 > cyc or e.le > bound:
                    break
                start = e.i0  # an earlier failure of the same clock (no further past exp, within a cycle)
            rr = lat[(lat["client_id"] == cid) & (lat["i"] >= start) & (lat["i"] <= r1)]
            n = int(rr["count"].sum())
            shown = ", ".join(f"{ctx.ts(e.i0):%H:%M} ~{e.le:.0f} s" for e in mem[:8]) + (" ..." if len(mem) > 8 else "")
            chain = (
                f"; {len(links)} refresh-chain link{'s' if len(links) != 1 else ''} (the token fetched on a 401 "
                f"failing one lifetime, ~{lf:.0f} min, plus its lateness later)"
                if links
                else ""
            )
            ev = (
                f"client {cid}: tokens in use rejected past exp once each, the client refreshing on the 401, in "
                f"{len(mem)} separate episodes over {r1 - r0 + 1} min (at, up to s past exp: {shown}){chain}; "
                f"validator leeway ~{_leeway_text(lw, rr['profile'])} s; {len(hist)} such failures in the "
                f"{max(0.0, span - 1.0):.0f} token cycles before the last: clock at least ~{bound:.0f} s behind"
            )
            out.append(_skew_incident(ctx, cid, _Seg(start, r1, n, mu, pv), ev, n, start, r1, rr))
            found.add((cid, ctx.ts(start), ctx.ts(r1, end=True)))
    return out


def _bounded(rows: pd.DataFrame, mem: list[_Fail]) -> bool:
    """Whether a group ``mem`` of failures on a client id many users share, new subjects each
    (:func:`_one_subject_again` says no), is bounded by one offset as a clock's are: at least
    :data:`SKEW_BOUNDED_N` failures in its minutes (``rows``: the client's :func:`_in_use_past_leeway` rows), at
    least half beyond :data:`SKEW_INFLIGHT` s past the leeway (not requests in flight at expiry), their 5-95 %
    lateness within :data:`SKEW_BOUNDED_SPREAD` s. Users waking after ``exp`` come back whenever they do, seconds
    to many minutes past it (fleet22's lunch: 60-600 s); a clock behind fails no token further past ``exp`` than
    its offset, and with few subjects they fail again by chance as often as a clock makes them (session 41, blind
    fleet52: a TPP's servers 3 min behind refreshing on 401s, 36 consents polled all day - 69 failures 40-120 s
    past ``exp`` over 4.5 h, 23 again and 46 new, none in the 3 h before)."""
    minutes = np.concatenate([np.arange(e.i0, e.i1 + 1) for e in mem])
    g = rows[rows["i"].isin(minutes)]
    n = int(g["count"].sum())
    if n < SKEW_BOUNDED_N or 2 * int(g.loc[g["far"], "count"].sum()) < n:
        return False
    return lateness_quantile(g, 0.95) - _lower_edge(lateness_quantile(g, 0.05)) <= SKEW_BOUNDED_SPREAD


def _one_subject_again(mem: list[_Fail], eps: list[_Fail], fleet_ratio: float) -> bool:
    """Whether a group ``mem`` of failures on a client id many users share can be one clock: at least
    SKEW_GROUP - 1 of them by a subject that failed so before on another token (``new_subject`` false), and
    no more new subjects than those, or significantly more of those than the client's users fail again
    anyway (Poisson tail <= SKEW_SUBJECT_P against the group's new subjects x the client's ratio of again to
    new in its failures ``eps`` before the group, SKEW_SUBJECT_PRIOR new ones at ``fleet_ratio`` as prior).
    A clock behind fails token after token for the same user (every failure but the first is again); users
    whose tabs or apps wake after ``exp`` fail once each, nearly every one a new subject. Where the events
    carry no subject (or the engine cannot see it: the metrics), no failure is a new subject and the group
    stands."""
    fresh = sum(e.fresh for e in mem)
    again = sum(e.n for e in mem) - fresh
    if again < SKEW_GROUP - 1:
        return False
    if fresh <= again:  # mostly subjects failing again (a service's pods share one subject): what a clock does
        return True
    before = [e for e in eps if e.i1 < mem[0].i0]
    h_fresh = sum(e.fresh for e in before)
    h_again = sum(e.n for e in before) - h_fresh
    ratio = (h_again + SKEW_SUBJECT_PRIOR * fleet_ratio) / (h_fresh + SKEW_SUBJECT_PRIOR)
    return _poisson_tail(again, fresh * ratio) <= SKEW_SUBJECT_P


def _accepted_minutes(ctx: _Ctx) -> dict[str, list[int]]:
    """Per client, the sorted minutes with an accepted use (computed once per context)."""
    if ctx.accepted_minutes is None:
        known = ctx.acc[ctx.acc["client_id"].notna() & (ctx.acc["client_id"] != OTHER)]
        ctx.accepted_minutes = {
            str(c): sorted(set(h.tolist())) for c, h in known.groupby("client_id", observed=True)["i"]
        }
    return ctx.accepted_minutes


def _accepted_uses(ctx: _Ctx) -> dict[str, tuple[Arr, Arr]]:
    """Per named client: its minutes with accepted uses (ascending) and the running total of those uses (computed
    once per context)."""
    if ctx.accepted_uses is None:
        known = ctx.acc[ctx.acc["client_id"].notna() & (ctx.acc["client_id"] != OTHER)]
        out: dict[str, tuple[Arr, Arr]] = {}
        for c, h in known.groupby("client_id", observed=True):
            per_min = h.groupby("i")["count"].sum().sort_index()
            out[str(c)] = (per_min.index.to_numpy(dtype=float), np.cumsum(per_min.to_numpy(dtype=float)))
        ctx.accepted_uses = out
    return ctx.accepted_uses


def _uses_between(used: tuple[Arr, Arr], a: float, b: float) -> float:
    """Accepted uses in minutes ``a`` <= i < ``b`` of one client's :func:`_accepted_uses`."""
    mins, cum = used
    lo, hi = int(np.searchsorted(mins, a, side="left")), int(np.searchsorted(mins, b, side="left"))
    return float((cum[hi - 1] if hi > 0 else 0.0) - (cum[lo - 1] if lo > 0 else 0.0))


def _per_use_expected(
    used: dict[str, tuple[Arr, Arr]], cid: str, first: int, r0: int, r1: int, cyc: float, n_hist: int, fleet: float
) -> float:
    """The failures of a client expected in ``r0``..``r1`` (at least one token cycle) at its own earlier rate per
    accepted use (history: ``first`` to a cycle before ``r0``, ``n_hist`` failure minutes), with SKEW_PRIOR
    minutes of its own mean traffic at the fleet's rate per use as prior: failures that come with traffic (many
    users each failing once) scale with it, a clock's do not."""
    u = used.get(cid)
    if u is None or not len(u[1]):
        return 0.0
    mean = float(u[1][-1]) / max(1.0, float(u[0][-1] - u[0][0] + 1))
    prior_uses = SKEW_PRIOR * mean
    hist_uses = _uses_between(u, first, r0 - cyc)
    window = _uses_between(u, r0, max(r1 + 1.0, r0 + cyc))
    return (n_hist + prior_uses * fleet) / (hist_uses + prior_uses) * window


def _active_cycles(acc: list[int], first: int, end: int, cyc: float) -> int:
    """How many of a client's token cycles from ``first`` to minute ``end`` had an accepted use of it (at least
    one): the cycles in which it could have failed. A client of a fleet whose traffic drops to near zero at night
    makes no request in most night cycles; counted as quiet cycles, they made a lazy refresher's daily first
    busy cycles look like a clock going wrong (session 21)."""
    lo, hi = bisect.bisect_left(acc, first), bisect.bisect_left(acc, end)
    return max(1, len({int((i - first) // cyc) for i in acc[lo:hi]}))


def _idle_failures(
    ctx: _Ctx, late: pd.DataFrame, lw: dict[str, float], life: dict[str, float], accepted: dict[str, list[int]]
) -> dict[str, set[int]]:
    """Per client, the minutes in which it presented a token past ``exp`` after a pause in the token's use (not
    ``seen``), beyond what requests in flight reach, at any lateness, while the client itself was sparse (accepted
    in at most :data:`SKEW_IDLE_BUSY` of the :data:`SKEW_IDLE` minutes before): its next request after a quiet
    stretch carried an expired token, so it does not check ``exp`` before sending (a lazy refresher, using each
    token until its 401). Such a client fails once in every token cycle in which it calls past ``exp``; at night,
    calling every half hour or less, those failures come after a pause or far past ``exp``, and without them the
    history of the shape rules read its nights as quiet cycles, so the morning's first busy cycles - failing once
    a cycle at the token's pace, refreshing on the 401 - looked like a clock going wrong (session 21: 7-13 false
    clock skews a day on a fleet whose traffic drops to near zero at night). A busy client's stale token (a
    worker pool replaying its cached one while the other pods are accepted minute after minute) is not counted:
    it says nothing about how the client renews, and neither does one that comes right after the client's own
    accepted request (no pause of the client: another device's stale token), nor one in the client's first token
    cycle in the data (no use of its token was seen yet, so no pause either: a device woken with a token from
    before). Two true clock skews of the benchmark's hold-outs were lost to one such stale token each before
    those two conditions."""
    rej = late[(late["direction"] == "late") & ~late["seen"]]
    rej = rej[rej["le"] > _leeway_of(lw, rej["profile"]) + SKEW_INFLIGHT]
    out: dict[str, set[int]] = {}
    for c, h in rej.groupby("client_id", observed=True)["i"]:
        acc = accepted.get(str(c), [])
        after = int(ctx.client_first.get(str(c), 0)) + _own_cycle(life, c)
        mins: set[int] = set()
        for i in set(h.tolist()):
            k = bisect.bisect_left(acc, i)  # the client's accepted minutes before this one
            if i < after or (k and i - acc[k - 1] < SKEW_IDLE_GAP):
                continue
            # the client's accepted minutes in the SKEW_IDLE before this one
            if k - bisect.bisect_left(acc, i - SKEW_IDLE) <= SKEW_IDLE_BUSY:
                mins.add(int(i))
        if mins:
            out[str(c)] = mins
    return out


def _far_history(every: list[int], in_use: set[int], first: int, cyc: float) -> list[int]:
    """The minutes of a client's history that count against failures well past the leeway
    (:func:`_skew_refreshed`): its failures on tokens in use (``seen``), and any in its first token cycle (a token
    older than the data is never ``seen``: a clock behind since then fails there). A stale token presented long
    after its last use, a worker pool replaying its cached one, a phone woken hours later: every busy client has
    some, in most token cycles; they are the fleet's background and tell nothing about the client's clock (a
    clock behind fails on the tokens it is using). Near the leeway (requests in flight at expiry) every failure
    counts: there the clock's shape is the background's."""
    return sorted(in_use | {i for i in every if i < first + cyc})


def _skew_at_pace(late: pd.DataFrame, lw: dict[str, float], i0: int, i1: int) -> bool:
    """Whether one client's failures past exp in minutes ``i0..i1`` (rows of ``lateness``) show a clock rather
    than bursts of seconds: beyond what requests in flight at expiry do (:data:`SKEW_INFLIGHT` s past the
    leeway), tokens in use (``seen``) failed at their own pace (``paced``) in at least :data:`SKEW_ON_PACE`
    distinct minutes, or failed in three minutes in a row (a burst of seconds spans two at most)."""
    far = late[(late["direction"] == "late") & late["seen"] & (late["i"] >= i0) & (late["i"] <= i1)]
    far = far[far["le"] > _leeway_of(lw, far["profile"]) + SKEW_INFLIGHT]
    if far.loc[far["paced"], "i"].nunique() >= SKEW_ON_PACE:
        return True
    mins = sorted(set(far["i"].tolist()))
    return any(b - a == 2 for a, b in zip(mins, mins[2:], strict=False))


def _skew_start(ctx: _Ctx, late: pd.DataFrame, cid: str, r0: int, lw: dict[str, float], cyc: float, first: int) -> int:
    """:func:`_skew_onset` for an incident of the shape detectors starting at ``r0``."""
    mine = late[late["client_id"] == cid]
    kept = mine[(mine["direction"] == "early") | mine["cont"]]
    return min(r0, _skew_onset(mine, kept, r0, lw, cyc, first, True, _accepted_late(ctx).get(cid)))


def _skew_onset(
    late: pd.DataFrame,
    rows: pd.DataFrame,
    i0: int,
    lw: dict[str, float],
    back: float,
    first: int,
    has_cont: bool,
    creep: set[int] | None = None,
) -> int:
    """The change point of a clock found at ``i0``: a drifting clock fails a request or two per token cycle
    before the evidence is significant. Walk back over this client's earlier tokens rejected past its
    validator's leeway while in use (``seen``: accepted shortly before), no later past ``exp`` than the
    offset the incident shows (a clock that falls behind fails by less, not more), at most ``back`` minutes
    apart (one token cycle: the clock fails once a cycle). Failures within :data:`SKEW_INFLIGHT` s past the
    leeway (what a request in flight or retried at expiry does) are walked over only on a client that failed
    so in fewer than :data:`SKEW_USUAL` of its earlier cycles, and behind a validator without leeway only when
    a token kept after its 401 follows within :data:`SKEW_KEPT` minutes (a validator granting a leeway saw that
    token presented that long past ``exp``: no request in flight). On a client that does fail so often, only
    such a failure in a minute (or the two after one) in which it presented a token more than 5 s past ``exp``
    and was still accepted (``creep``: minutes of :func:`_accepted_late`; sent after ``exp``, not a retry of a
    request sent before it) when it seldom did that before (:func:`_seldom`: a client using its tokens up to
    ``exp`` + leeway in every cycle does it all day), and from there on no other near failure."""
    mine = late[(late["direction"] == "late") & (late["i"] <= i0)]
    mine = mine[mine["seen"]] if has_cont else mine[mine["i"] < 0]
    cur = rows[(rows["direction"] == "late") & (rows["i"] >= i0)]
    bound = float(cur["le"].max()) if len(cur) else 0.0
    limit = _leeway_of(lw, mine["profile"])
    keep = mine["le"] > limit
    mine, limit = mine[keep], limit[keep]
    # a failure within SKEW_INFLIGHT s of the leeway is what a request in flight or retried at expiry does
    plain = mine["le"] > limit + SKEW_INFLIGHT
    seen_min = np.asarray(sorted(set(mine.loc[plain, "i"].tolist())), dtype=np.int64)
    walk = set(mine.loc[plain & (mine["le"] <= bound), "i"].tolist())
    # ... unless the client seldom fails that way (in fewer than SKEW_USUAL of its earlier cycles)
    near_min = np.asarray(sorted(set(mine.loc[~plain, "i"].tolist())), dtype=np.int64)
    near = set(mine.loc[~plain & (mine["le"] <= bound), "i"].tolist()) - walk
    # ... and, behind a validator without leeway (where a request in flight at expiry fails right past exp),
    # only a token still kept after its 401 within SKEW_KEPT minutes
    lenient = set(mine.loc[~plain & (mine["le"] <= bound) & (limit > 0), "i"].tolist())
    before_i0 = rows[rows["i"] <= i0]
    if not has_cont:  # metrics: every late rejection is here, so leave out what requests in flight do
        lim = _leeway_of(lw, before_i0["profile"])
        before_i0 = before_i0[(before_i0["direction"] != "late") | (before_i0["le"] > lim + SKEW_INFLIGHT)]
    kept = set(before_i0["i"].tolist())
    near = {i for i in near if i in lenient or any(k in kept for k in range(i, i + SKEW_KEPT + 1))}
    start, strict = i0, False
    for i in sorted(walk | kept | near, reverse=True):
        if start - i > back:
            break
        if i in near and i not in kept:
            before = int((near_min < i - back / 2).sum())
            cycles = (i - back / 2 - first) / back
            # (less than a token cycle seen before it: nothing tells a near failure of the clock from the client's
            # usual requests in flight at expiry, so it is not taken as the onset)
            usual = strict or cycles < 1.0 or before / max(1.0, cycles) >= SKEW_USUAL
            if usual and not (creep and {i - 2, i - 1, i} & creep and _seldom(creep, i, back, first)):
                continue
            strict = usual  # (once the client's usual failures showed, only uses past exp accepted just before)
        elif i not in kept and start - i > 1:  # (the minute before is the 401 the client went on after)
            # a client that fails a request past exp in many token cycles anyway (it refreshes only on a
            # 401) shows nothing new in one more: only a client quiet before takes the first, isolated failures
            # (failures of the same cycle, within half a cycle, are the clock's own)
            before = int((seen_min < i - back / 2).sum())
            cycles = max(1.0, (i - back / 2 - first) / back)
            if before / cycles >= SKEW_USUAL:
                continue
        start = min(start, i)
    return start


def _seldom(minutes: set[int], i: int, back: float, first: int) -> bool:
    """Whether a client did what ``minutes`` mark (uses past ``exp`` accepted within the leeway) in fewer than
    :data:`SKEW_USUAL` of its token cycles before minute ``i`` (``back``: a cycle): a client that does so in
    every cycle - it uses its tokens up to ``exp`` + leeway - shows nothing new in one more."""
    earlier = [m for m in minutes if m < i - back / 2]
    return len(_clusters_of(earlier, back / 2)) / max(1.0, (i - back / 2 - first) / back) < SKEW_USUAL


def _own_cycle(life: dict[str, float], cid: Any) -> float:
    """A client's own token cycle in minutes (its tokens' lifetime + 10): what the *stepping* and *kept* rules'
    quiet is counted in (a client of 30-min tokens is quiet for 3 of them in 2 h)."""
    return life.get(str(cid), 0.0) + 10.0


def _skew_cycle(life: dict[str, float], cid: Any) -> float:
    """A client's token cycle in minutes (:func:`_own_cycle`), at least :data:`SKEW_BACK`: what the onset's
    walk-back and the history share count in."""
    return max(SKEW_BACK, _own_cycle(life, cid))


def _leeway_of(lw: dict[str, float], profiles: pd.Series) -> pd.Series:
    """The leeway estimated for each row's profile (0 where unknown), as float seconds."""
    return profiles.astype("object").map(lambda p: lw.get(str(p), 0.0)).astype("float64")


def _leeway_text(lw: dict[str, float], profiles: pd.Series) -> str:
    """The validator leeways estimated for ``profiles`` as evidence text ("30", "0/30"; "0" when unknown)."""
    return "/".join(f"{v:.0f}" for v in sorted({lw.get(str(p), 0.0) for p in profiles.dropna()})) or "0"


def _skew_incident(
    ctx: _Ctx, cid: str, seg: _Seg, ev: str, n: int, r0: int, r1: int, rows: pd.DataFrame
) -> dict[str, Any]:
    """The clock_skew incident of client ``cid``: ``n`` rejections in minutes ``r0..r1`` (its share of the
    client's validations there), the issuer of ``rows``."""
    scope = (ctx.c["client_id"] == cid).fillna(False)
    share = n / max(1, ctx.total(scope, r0, r1))
    iss = rows["issuer"].dropna()
    return _row(ctx, "clock_skew", seg, ev, share, client_id=cid, issuer=iss.iloc[0] if len(iss) else None)


def _skew_row(ctx: _Ctx, g: pd.DataFrame, lw: dict[str, float], cid: str, seg: _Seg) -> dict[str, Any]:
    late = g[g["direction"] == "late"]
    behind = late["count"].sum() >= g["count"].sum() / 2
    part = late if behind else g[g["direction"] == "early"]
    offset = lateness_quantile(part, 0.95)
    lws = _leeway_text(lw, part["profile"])
    # drift: the offset per hour of the incident
    hourly = _hourly_offsets(part, seg.i0, seg.i1)
    drift = ""
    if len(hourly) >= 2:
        rate = _rate(hourly)
        drift = "; offset by hour: " + ", ".join(f"{ctx.ts(a):%H:%M} ~{o:.0f} s" for a, o in hourly[:6])
        if abs(rate) >= 10:
            drift += f" (drifting {rate:+.0f} s/h)"
    word = "behind" if behind else "ahead"
    what = "past exp, shortly after the same token was accepted" if behind else "before nbf"
    ev = (
        f"client {cid}: {seg.count} tokens rejected {what}; up to ~{offset:.0f} s outside the validity window "
        f"(validator leeway ~{lws} s): clock ~{offset:.0f} s {word}{drift}"
    )
    return _skew_incident(ctx, cid, seg, ev, seg.count, seg.i0, seg.i1, g)


def clock_skew(data: pd.DataFrame | Aggregates | _Ctx) -> pd.DataFrame:
    """Per client: tokens used past ``exp`` and before ``nbf``, how many of the expired ones were still in
    continuous use (``cont``), and the clock offset they suggest in seconds (negative: behind; the 95th
    percentile of the lateness of tokens kept in use, as binned). ``healthy_offset_s`` is the fleet's median
    of the same figure: what a healthy client looks like. Sorted: clients furthest from it (on at least three
    uses) first."""
    ctx = _ctx(data)
    lat = ctx.agg.lateness
    cols = ["expired", "cont_expired", "not_yet_valid", "median_past_exp_s", "estimated_offset_s", "healthy_offset_s"]
    if lat.empty:
        return pd.DataFrame(columns=cols).rename_axis("client_id")
    lat = lat[lat["client_id"].notna() & (lat["client_id"] != OTHER)]
    out = []
    for cid, g in lat.groupby("client_id"):
        late = g[g["direction"] == "late"]
        rej = late[late["outcome"] == "rejected"]
        cont = late[late["cont"]]
        early = g[(g["direction"] == "early")]
        n_early = int(early["count"].sum())
        n_cont = int(cont.loc[cont["outcome"] == "rejected", "count"].sum())
        if n_early > n_cont:
            off = lateness_quantile(early, 0.95)
        else:
            off = -lateness_quantile(cont, 0.95) if not cont.empty else 0.0
        out.append(
            {
                "client_id": str(cid),
                "expired": int(rej["count"].sum()),
                "cont_expired": n_cont,
                "not_yet_valid": n_early,
                "median_past_exp_s": lateness_quantile(rej, 0.5),
                "estimated_offset_s": off,
            }
        )
    if not out:
        return pd.DataFrame(columns=cols).rename_axis("client_id")
    res = pd.DataFrame(out).set_index("client_id")
    res["healthy_offset_s"] = float(res["estimated_offset_s"].median())
    # the clients whose clocks look furthest off (on at least 3 uses) first
    enough = (res["cont_expired"] >= 3) | (res["not_yet_valid"] >= 3)
    key = np.where(enough, -(res["estimated_offset_s"] - res["healthy_offset_s"]).abs(), 0.0)
    return res.assign(_k=key).sort_values(["_k", "cont_expired"], ascending=[True, False]).drop(columns="_k")


def clock_offsets(data: pd.DataFrame | Aggregates | _Ctx, freq: str = "30min") -> pd.DataFrame:
    """Per client and ``freq`` window: the offset suggested by tokens kept in use past ``exp`` (negative
    seconds, 0 when none) and how many were used so; for plotting drift against the healthy baseline."""
    ctx = _ctx(data)
    lat = ctx.agg.lateness
    lat = lat[(lat["direction"] == "late") & lat["cont"] & lat["client_id"].notna() & (lat["client_id"] != OTHER)]
    if lat.empty:
        return pd.DataFrame(columns=["time", "client_id", "uses", "offset_s"])
    lat = lat.assign(time=lat["minute"].dt.floor(freq))
    rows = [
        {"time": t, "client_id": str(c), "uses": int(g["count"].sum()), "offset_s": -lateness_quantile(g, 0.95)}
        for (t, c), g in lat.groupby(["time", "client_id"])
    ]
    return pd.DataFrame(rows)


def _sparse(x: Arr, p: Params, floor: float, gap: int) -> list[_Seg]:
    """Runs of a sparse series: non-zero minutes at most ``gap`` apart with at least ``p.min_count`` counts,
    significant (``p.p_max``) against the series' own rate before the run, floored at ``floor`` a minute."""
    hot = np.flatnonzero(x > 0)
    segs: list[_Seg] = []
    for run in _clusters_of(hot.tolist(), gap):
        i0, i1 = run[0], run[-1]
        n = round(float(x[i0 : i1 + 1].sum()))
        if n < p.min_count:
            continue
        rate = max(floor, float(x[:i0].sum()) / max(1, i0))
        mu = rate * (i1 - i0 + 1)
        pv = _poisson_tail(n, mu)
        if pv <= p.p_max:
            segs.append(_Seg(i0, i1, n, mu, pv, i1))
    return segs


def _client_segments(x: Arr, minute0: int) -> list[_Seg]:
    """A client's misconfiguration runs: the CUSUM's, and the sparse runs (:func:`_sparse`) none of them covers."""
    segs = _segments(x, MISCONFIG, minute0)
    for s in _sparse(x, MISCONFIG, MISCONFIG_SPARSE_FLOOR, MISCONFIG_GAP):
        if not any(s.i0 <= t.i1 and t.i0 <= s.i1 for t in segs):
            segs.append(s)
    return sorted(segs, key=lambda s: s.i0)


def misconfigurations(data: pd.DataFrame | Aggregates | _Ctx) -> pd.DataFrame:
    """``audience_misconfig`` on the API side (a profile rejects the usual tokens of several accepted
    clients for their audience: deployed with the wrong audience; ``profile`` set) and on the client side
    (one accepted client's tokens are for another audience: ``client_id`` set), and ``type_confusion`` (an
    accepted client sends tokens of another ``typ``, e.g. ID tokens, or ``JWT_TYPE_MISMATCH``). Tokens of
    clients never accepted (scanners) are noise here; :func:`attack_bursts` looks at them."""
    ctx = _ctx(data)
    if ctx.n == 0:
        return _empty()
    rej = ctx.rejected(["JWT_AUDIENCE_MISMATCH", "JWT_TYPE_MISMATCH"])
    rej = rej[ctx.known(rej)]
    usual = rej["profile"].astype("object").map(ctx.usual_typ)
    other_type = (rej["reason"] == "JWT_TYPE_MISMATCH").fillna(False) | (
        usual.notna() & (rej["typ"].fillna("").astype("object") != usual)
    )
    rows: list[dict[str, Any]] = []
    aud = rej[~other_type]
    covered: list[tuple[str, int, int]] = []
    for (prof,), x in ctx.series(aud, ["profile"]):
        for seg in _segments(x, MISCONFIG, ctx.m0):
            g = _seg_rows(aud[aud["profile"] == prof], seg)
            clients = _clients(g)
            nameless = int(g.loc[g["client_id"].isna(), "count"].sum())
            if len(clients) < 2 and 2 * nameless <= seg.count:
                continue  # (tokens naming no client: which clients they are cannot be told, one or many)
            covered.append((str(prof), seg.i0, seg.i1))
            scope = (ctx.c["profile"] == prof).fillna(False)
            share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
            whose = (
                f"of {len(clients)} accepted clients ({_few(clients)})"
                if len(clients) >= 2
                else "signed with its issuers' keys, naming no client,"
            )
            ev = (
                f"API {prof} rejected {seg.count} tokens {whose} "
                f"for their audience: the API's expected audience changed (deploy?)"
            )
            rows.append(_row(ctx, "audience_misconfig", seg, ev, share, profile=prof))
    for (cid,), x in ctx.series(aud[aud["client_id"].notna()], ["client_id"]):
        for seg in _client_segments(x, ctx.m0):
            g = _seg_rows(aud[aud["client_id"] == cid], seg)
            profs = sorted(g["profile"].dropna().astype(str).unique().tolist())
            if any(p in profs and a <= seg.i1 and seg.i0 <= b for p, a, b in covered):
                continue  # part of an API-side incident
            scope = (ctx.c["client_id"] == cid).fillna(False)
            share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
            if share < CLIENT_AUDIENCE_SHARE:
                continue  # a few of a busy client's calls sent to the wrong API, not its tokens' audience
            ev = (
                f"client {cid}: {seg.count} tokens rejected for their audience by {_few(profs)} while other "
                f"clients are accepted there: the client requests tokens for the wrong audience"
            )
            one = profs[0] if len(profs) == 1 else None
            rows.append(_row(ctx, "audience_misconfig", seg, ev, share, client_id=cid, profile=one))
    # a token of a kid its issuers never used (one of the rare ones folded into OTHER) is no token of theirs sent to
    # the wrong API, whatever client it names: scanners signing with their own key, a random kid, and a client id
    # copied from real tokens, rejected for their typ first (session 43, blind fleet64: 3-8 such tokens naming a TV
    # app, five "type confusions" on four quiet days, eight within a scan campaign). Real tokens repeat their kid.
    conf = rej[other_type & (rej["kid"] != OTHER).fillna(True)]
    nameless = conf["client_id"].isna()
    # per client; tokens naming no client (a clientless issuer's, known because signed with its key) per API
    for col, part in (("client_id", conf[~nameless]), ("profile", conf[nameless])):
        for (key,), x in ctx.series(part, [col]):
            for seg in _client_segments(x, ctx.m0):
                g = _seg_rows(part[part[col] == key], seg)
                typs = sorted(g["typ"].fillna("(none)").astype(str).unique().tolist())
                profs = sorted(g["profile"].dropna().astype(str).unique().tolist())
                expect = sorted({ctx.usual_typ.get(p, "?") for p in profs})
                scope = (ctx.c[col] == key).fillna(False)
                share = seg.count / max(1, ctx.total(scope, seg.i0, seg.i1))
                who = f"client {key}" if col == "client_id" else f"API {key}, tokens naming no client"
                ev = (
                    f"{who}: {seg.count} tokens of typ {', '.join(typs)} rejected by {_few(profs)}, "
                    f"which accept{'s' if len(profs) == 1 else ''} typ {', '.join(expect) or '(none)'}"
                )
                iss = g["issuer"].dropna()
                first_iss = iss.iloc[0] if len(iss) else None
                rows.append(_row(ctx, "type_confusion", seg, ev, share, issuer=first_iss, **{col: key}))
    return _frame(rows)


#: kinds read off a token's unverified claims (its kid, its typ and client id): an attack burst of real tokens with
#: their claims changed shows as them, and one that lies within a burst is the burst's (:func:`_of_attacks`)
_CLAIMED_KINDS = ("key_removed_early", "kid_before_publish", "type_confusion")


def _of_attacks(rows: pd.DataFrame, bursts: pd.DataFrame) -> pd.DataFrame:
    """``rows`` without the ``signature_spike`` rows that start during an attack burst (from 2 minutes before its
    first minute to its last), nor the rows of :data:`_CLAIMED_KINDS` that lie within one (2 minutes either side):
    an attacker replaying real tokens with their claims changed keeps their client ids and kids, so their bad
    signatures read as accepted clients' on a kid they use (session 32, fleet32: the burst's tampered tokens were
    also a false spike), their retired kids as a key removed early and their changed ``typ`` as a type confusion
    (session 38, blind fleet40 and fleet42: a type confusion in each, a key removed early; a validator may check
    ``typ`` before the signature). The burst counts them (:func:`_bursts`: aimed at a key
    in use)."""
    if rows.empty or bursts.empty:
        return rows
    sig = rows["kind"] == "signature_spike"
    claimed = rows["kind"].isin(_CLAIMED_KINDS)
    during = pd.Series(False, index=rows.index)
    slack = pd.Timedelta(minutes=2)
    for b0, b1 in zip(bursts["start"], bursts["end"], strict=True):
        during |= sig & (rows["start"] >= b0 - slack) & (rows["start"] <= b1)
        during |= claimed & (rows["start"] >= b0 - slack) & (rows["end"] <= b1 + slack)
    return rows[~during]


def _of_removed_keys(keys: pd.DataFrame) -> pd.DataFrame:
    """``keys`` without the ``signature_spike`` incidents on a kid that a ``key_removed_early`` incident of the same
    issuer names in overlapping minutes: a validator given the whole key set when a kid is not in it (python-jose, an
    application's own fallback) reports the removed key's tokens as bad signatures, not as an unknown kid (session
    39, blind fleet44: an account key dropped 2.5 minutes after the switch, 268 unknown-kid rejections and 76 bad
    signatures on the same kid at the APIs verifying with the whole set, a false signature spike besides)."""
    if keys.empty:
        return keys
    gone = keys[keys["kind"] == "key_removed_early"]
    drop = [
        k
        for k, r in keys[keys["kind"] == "signature_spike"].iterrows()
        if (
            (gone["issuer"] == r["issuer"])
            & (gone["kid"] == r["kid"])
            & (gone["start"] <= r["end"])
            & (gone["end"] >= r["start"])
        ).any()
    ]
    return keys.drop(index=drop)


def _of_new_keys(clocks: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """``clocks`` without the ``issuer_stalled`` incidents that a ``kid_before_publish`` or ``signature_spike`` of the
    same issuer overlaps: its new tokens fail to verify, so none is accepted as a renewal and its clients go on with
    the ones they hold - what a stall looks like, but the issuer goes on minting (session 39, blind fleet44: a kid used
    27 minutes before its publication during a patch wave, and a false stall of the same 27 minutes besides)."""
    if clocks.empty or keys.empty:
        return clocks
    new = keys[keys["kind"].isin(["kid_before_publish", "signature_spike"])]
    drop = [
        k
        for k, r in clocks[clocks["kind"] == "issuer_stalled"].iterrows()
        if ((new["issuer"] == r["issuer"]) & (new["start"] <= r["end"]) & (new["end"] >= r["start"])).any()
    ]
    return clocks.drop(index=drop)


def incidents(data: pd.DataFrame | Aggregates, keyset_changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """All detectors in one frame sorted by start (columns :data:`INCIDENT_COLUMNS`). ``data`` is an events
    frame (aggregated here) or :class:`~jwtobs.analysis.aggregate.Aggregates` from any engine."""
    ctx = _ctx(data, keyset_changes)
    if ctx.n == 0:
        return _empty()
    bursts = attack_bursts(ctx)
    keys = _of_removed_keys(_of_attacks(rotation_incidents(ctx, bursts=bursts), bursts))
    parts = [
        keys,
        _of_new_keys(clock_skew_incidents(ctx), keys),
        _of_attacks(misconfigurations(ctx), bursts),
    ]
    parts.append(bursts)
    if ctx.agg.kinds is not None:  # only the kinds this engine's aggregates can show (Aggregates.kinds)
        parts = [p[p["kind"].isin(sorted(ctx.agg.kinds))] for p in parts]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["start", "kind"], kind="stable").reset_index(drop=True)
