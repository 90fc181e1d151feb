"""The detectors on timelines written independently of jwtobs.simulate (benchmarks/timelines.py): a quiet
day with the full background yields at most one incident, and every injected kind is found, on both
validator paths. (The full benchmark: benchmarks/bench_detect.py.)"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D
from jwtobs.analysis.evaluate import match_incidents
from jwtobs.kinds import INCIDENT_KINDS, SEVERITIES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from timelines import Injected, Timeline, generate


def _labels(labels: list[dict[str, Any]]) -> pd.DataFrame:
    lab = pd.DataFrame(labels)
    for c in ("start", "end"):
        lab[c] = pd.to_datetime(lab[c], utc=True, format="ISO8601")
    return lab


def test_quiet_day_has_at_most_one_incident() -> None:
    events, changes, labels = generate(Timeline(seed=31, hours=24, path="wrap", replicas=3))
    assert not labels
    rej = events[events["outcome"] == "rejected"]
    # the background is there: expired tokens, retired kids, scanners
    assert {"JWT_EXPIRED", "JWT_UNKNOWN_KID", "JWT_UNSIGNED"} <= set(rej["reason"].astype(str))
    assert len(changes) > 2  # healthy rotations: published, switched, retired
    inc = A.incidents(events, changes)
    assert len(inc) <= 1, inc[["kind", "start", "evidence"]]


_INJECT = {
    "wrap": (
        Injected("kid_before_publish", 1.5 * 3600, duration=1200),
        Injected("clock_skew", 4.0 * 3600, duration=2 * 3600, skew=900),
        Injected("audience_misconfig", 7.0 * 3600, duration=1500, scope="api"),
        Injected("attack_burst", 9.0 * 3600, duration=240, rate=1.0),
    ),
    "verifier": (
        Injected("key_removed_early", 1.5 * 3600),
        Injected("jwks_outage", 3.5 * 3600, duration=1500),
        Injected("signature_spike", 5.5 * 3600, duration=1200),
        Injected("type_confusion", 7.5 * 3600, duration=1800),
        Injected("audience_misconfig", 9.5 * 3600, duration=1800, scope="client"),
    ),
}


@pytest.mark.parametrize("path", sorted(_INJECT))
def test_each_injected_kind_is_found(path: str) -> None:
    events, changes, labels = generate(Timeline(seed=41, hours=11, path=path, injected=_INJECT[path]))
    lab = _labels(labels)
    assert sorted(lab["kind"]) == sorted(i.kind for i in _INJECT[path])
    inc = A.incidents(events, changes)
    score = match_incidents(inc, lab)
    assert score.recall == 1.0, (score.table, inc[["kind", "start", "evidence"]])
    assert score.precision >= 0.9, inc[["kind", "start", "evidence"]]
    assert max(score.onset_errors_s) <= 120, score.table
    assert set(inc["kind"]) <= set(INCIDENT_KINDS)
    assert set(inc["severity"]) <= set(SEVERITIES)
    assert inc["confidence"].between(0, 1).all() and inc["evidence"].str.len().gt(40).all()
    # the same incidents from the aggregates (what the DuckDB and PromQL engines hand over)
    again = A.incidents(A.aggregate(events), changes)
    pd.testing.assert_frame_equal(inc, again)


def test_audience_sides_and_scanners() -> None:
    inj = (Injected("audience_misconfig", 3 * 3600, duration=1800, scope="client"),)
    events, changes, labels = generate(Timeline(seed=43, hours=8, path="verifier", injected=inj))
    inc = A.incidents(events, changes)
    aud = inc[inc["kind"] == "audience_misconfig"]
    assert len(aud) == 1 and aud["client_id"].iloc[0] == labels[0]["client_id"]
    # scanners' typ: JWT tokens (no client id) are rejected as JWT_TYPE_MISMATCH all day: not type confusion
    assert (events["reason"] == "JWT_TYPE_MISMATCH").sum() > 100
    assert "type_confusion" not in set(inc["kind"])


def test_clock_skew_offset_and_drift() -> None:
    inj = (Injected("clock_skew", 2 * 3600, duration=3 * 3600, skew=600),)
    events, _changes, labels = generate(Timeline(seed=47, hours=8, path="wrap", injected=inj))
    table = A.clock_skew(events)
    skewed = labels[0]["client_id"]
    assert table.index[0] == skewed
    assert -900 <= table.loc[skewed, "estimated_offset_s"] <= -420  # binned: the 600 s offset
    assert abs(table.loc[skewed, "healthy_offset_s"]) <= 30
    offsets = A.clock_offsets(events)
    assert (offsets.loc[offsets["client_id"] == skewed, "offset_s"] <= -300).any()


def _uses(client: str, fp: str, iat: int, exp: int, uses: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Event rows of one token ``fp`` of ``client`` used at ``(time, outcome)`` (a rejection: expired)."""
    return [
        {
            "time": t,
            "outcome": o,
            "reason": None if o == "accepted" else "JWT_EXPIRED",
            "client_id": client,
            "token_fp": fp,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
        }
        for t, o in uses
    ]


def _cycles(
    client: str,
    fails: list[list[int]] | list[list[tuple[int, str]]],
    t0: int = 1_800_000_000,
    step: int = 60,
    life: int = 3600,
) -> list[dict[str, Any]]:
    """One client's tokens (hourly, or every ``life`` s): accepted every ``step`` s until 60 s before ``exp``,
    then the uses past ``exp`` of cycle ``k`` at ``fails[k]`` seconds (rejected; or ``(seconds, outcome)``)."""
    rows: list[dict[str, Any]] = []
    for k, late in enumerate(fails):
        iat, exp, fp = t0 + life * k, t0 + life * (k + 1), f"{client}-{k}"
        past = [(s, "rejected") if isinstance(s, int) else s for s in late]
        uses = [(t, "accepted") for t in range(iat, exp - 59, step)] + [(exp + s, o) for s, o in past]
        rows += _uses(client, fp, iat, exp, uses)
    return rows


def _frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    from jwtobs.analysis.load import EVENT_DTYPES
    from jwtobs.events import EVENT_FIELDS

    df = pd.DataFrame(rows)
    for c in EVENT_FIELDS:
        if c not in df:
            df[c] = None
    df["issuer"], df["profile"], df["kid"], df["typ"] = "https://id.test", "api", "k1", "at+jwt"
    df["token_bytes"], df["duration_s"], df["schema"], df["library"] = 500, 0.001, 1, "pyjwt"
    df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
    return df[list(EVENT_FIELDS)].astype(EVENT_DTYPES).sort_values("time", kind="stable").reset_index(drop=True)


def test_clock_skew_onset_is_the_first_failure_of_a_quiet_client() -> None:
    """A drifting clock fails one request in its first cycle (not significant alone), then keeps its tokens
    for minutes after their 401s: the incident starts at that first failure, one token cycle earlier. A lazy
    refresher failing once in every cycle anyway gets no such walk-back: its onset is the kept tokens."""
    kept = [40, 100, 160, 220, 280, 340, 400, 460]
    drifting = _cycles("drifting", [[], [], [], [70], kept, kept])
    lazy = _cycles("lazy", [[70], [70], [70], [70], kept, kept])
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])  # a validator without leeway: 401s right past exp
    inc = A.clock_skew_incidents(_frame_of(drifting + lazy + inflight))
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    start = dict(zip(inc["client_id"], inc["start"], strict=True))
    assert set(start) == {"drifting", "lazy"}, inc
    assert start["drifting"] == (t0 + pd.Timedelta(seconds=4 * 3600 + 70)).floor("min")
    assert start["lazy"] == (t0 + pd.Timedelta(seconds=5 * 3600 + 40)).floor("min")


def test_a_clock_first_failing_right_past_a_leeway_starts_there() -> None:
    """Leeway 30 s: a quiet client's first failure is 15 s past the leeway, a cycle before it keeps its tokens
    after their 401s. A token presented 45 s past ``exp`` is no request in flight at expiry: the incident
    starts at that failure. Not walked back to: the same failure on a client that fails so in most earlier
    cycles, and, behind a validator without leeway (requests in flight fail right past ``exp``), one that no
    token kept after its 401 follows within minutes."""
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    kept = [100, 160, 220, 280, 340, 400, 460]
    # each client's clock in hours of its own (four clients failing together are a clock they share)
    off = {"drifting": 0, "usual": 6 * 3600, "strict": 12 * 3600, "strict-kept": 18 * 3600}
    rows = _cycles("drifting", [[], [], [], [45], kept, kept])
    rows += _cycles("usual", [[40], [45], [35], [45], kept, kept], t0=1_800_000_000 + off["usual"])
    rows += _cycles("lenient", [[(20, "accepted"), (28, "accepted")]] * 24)
    strict = _cycles("strict", [[], [], [], [15], kept, kept], t0=1_800_000_000 + off["strict"]) + _cycles(
        "strict-kept", [[], [], [], [], [15, *kept], kept], t0=1_800_000_000 + off["strict-kept"]
    )
    df = _frame_of(rows + strict + _cycles("inflight", [[3], [], [4], [], [2], []] * 4))
    df["profile"] = df["client_id"].map(lambda c: "api-0" if c.startswith(("strict", "inflight")) else "api-30")
    df["profile"] = df["profile"].astype("category")
    assert A.leeway(df) == {"api-0": 0.0, "api-30": 30.0}
    inc = A.clock_skew_incidents(df)
    start = dict(zip(inc["client_id"], inc["start"], strict=True))
    assert set(start) == {"drifting", "usual", "strict", "strict-kept"}, inc
    at = {
        c: (t0 + pd.Timedelta(seconds=s)).floor("min") for c, s in (("first", 4 * 3600 + 45), ("kept", 5 * 3600 + 100))
    }
    assert start["drifting"] == at["first"]
    assert start["usual"] == at["kept"] + pd.Timedelta(seconds=off["usual"])
    assert start["strict"] == at["kept"] + pd.Timedelta(seconds=off["strict"])
    assert start["strict-kept"] == (t0 + pd.Timedelta(seconds=off["strict-kept"] + 5 * 3600 + 15)).floor("min")


def _skew_starts_behind_leeway_30(rows: list[dict[str, Any]]) -> dict[str, pd.Timestamp]:
    """The clock-skew incidents' starts by client, for events whose validator's leeway reads as 30 s."""
    df = _frame_of(rows)
    assert A.leeway(df) == {"api": 30.0}
    inc = A.clock_skew_incidents(df)
    return dict(zip(inc["client_id"], inc["start"], strict=True))


def test_a_near_failure_in_a_clients_first_token_cycle_is_not_the_onset() -> None:
    """Leeway 30 s: a client seen for less than a token cycle fails 15 s past the leeway (a request in flight at
    expiry, or a clock starting to drift: nothing before it tells which), and a cycle later keeps its tokens
    after their 401s. With no cycle of its own to compare with, that near failure is not taken as the onset:
    the incident starts at the kept tokens (before: one cycle early, hours early on the benchmark's timelines,
    whose clock faults start as a step). The same failure after three quiet cycles still starts the incident
    (``test_a_clock_first_failing_right_past_a_leeway_starts_there``)."""
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    kept = [100, 160, 220, 280, 340, 400, 460]
    rows = _cycles("young", [[45], kept, kept])
    rows += _cycles("seen", [[], [], [], [45], kept, kept], t0=1_800_000_000 + 8 * 3600)
    rows += _cycles("lenient", [[(20, "accepted"), (28, "accepted")]] * 16)
    start = _skew_starts_behind_leeway_30(rows)
    assert set(start) == {"young", "seen"}, start
    assert start["young"] == (t0 + pd.Timedelta(seconds=2 * 3600 + 100)).floor("min")
    assert start["seen"] == (t0 + pd.Timedelta(seconds=8 * 3600 + 4 * 3600 + 45)).floor("min")


def test_a_first_failure_right_past_the_leeway_after_uses_accepted_past_exp_starts_the_clock() -> None:
    """Leeway 30 s: a client whose requests retried across expiry fail 5-15 s past the leeway in most token
    cycles - such a failure alone says nothing, so the onset does not walk back to them - presents its token
    10 and 20 s past ``exp`` (still accepted: sent after ``exp``, no retry of a request sent before) and then
    fails right past the leeway, a cycle before it keeps its tokens after their 401s: the incident starts at
    that failure, and walks no further back over the client's usual failures."""
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    kept = [100, 160, 220, 280, 340, 400, 460]
    creep = [(10, "accepted"), (20, "accepted"), 45]
    rows = _cycles("clock", [[40], [45], [35], [45], creep, kept, kept])
    rows += _cycles("retries", [[40], [45], [35], [45], [45], kept, kept])
    rows += _cycles("lenient", [[(20, "accepted"), (28, "accepted")]] * 7)
    start = _skew_starts_behind_leeway_30(rows)
    assert set(start) == {"clock", "retries"}, start
    assert start["clock"] == (t0 + pd.Timedelta(seconds=5 * 3600 + 45)).floor("min")
    assert start["retries"] == (t0 + pd.Timedelta(seconds=6 * 3600 + 100)).floor("min")


def test_a_clock_creeping_past_exp_is_found_from_its_accepted_uses() -> None:
    """Leeway 30 s: a client that never used a token past ``exp`` presents them 10-25 s past it (accepted)
    in one cycle, then fails twice in the next, keeping its token after the 401: too few failures for the
    count series, but the accepted uses past exp are the clock's evidence. The incident starts at the first
    failure. A lazy refresher (past exp and a 401 in every cycle) is not flagged."""
    t0 = 1_800_000_000
    ok, acc, rej = "accepted", [(10, "accepted"), (25, "accepted")], [(20, "accepted"), (90, "rejected")]
    # (a failure within the leeway estimated from the events: a validator with a shorter leeway)
    creeping = _cycles("creeping", [[], [], [15], [], acc, [*rej, (150, "rejected")], []])
    lazy = _cycles("lazy", [[(20, ok), (50, "rejected")]] * 4 + [acc, [*rej, (150, "rejected")], []])
    inc = A.clock_skew_incidents(_frame_of(creeping + lazy))
    assert list(inc["client_id"]) == ["creeping"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 6 * 3600 + 90, unit="s", tz="UTC").floor("min")
    assert "accepted within the validator's leeway" in inc["evidence"].iloc[0]


def _signature_rows(
    t0: int, hours: int, clients: tuple[str, ...], fails: Callable[[str, int], bool]
) -> list[dict[str, Any]]:
    """Each client validating every 30 s for ``hours`` on kid k1, a new token each hour, rejected for a bad
    signature where ``fails(client, t)``."""
    rows: list[dict[str, Any]] = []
    for t in range(t0, t0 + hours * 3600, 30):
        for client in clients:
            bad = fails(client, t)
            rows.append(
                {
                    "time": t,
                    "outcome": "rejected" if bad else "accepted",
                    "reason": "JWT_BAD_SIGNATURE" if bad else None,
                    "client_id": client,
                    "token_fp": f"{client}-{(t - t0) // 3600}",
                    "iat": t0,
                    "nbf": t0,
                    "exp": t0 + (hours + 1) * 3600,
                }
            )
    return rows


def test_signature_spike_of_the_only_client_of_a_kid() -> None:
    """A kid used by a single client: its tokens failing signature checks is a key problem (every client of
    the kid fails), while the same failures from one client of a kid others verify on is not."""
    t0 = 1_800_000_000

    def fails(client: str, t: int) -> bool:
        return t0 + 3 * 3600 <= t < t0 + 3 * 3600 + 900 and client in ("solo", "a")

    df = _frame_of(_signature_rows(t0, 4, ("solo", "a", "b"), fails))
    df["kid"] = df["client_id"].map({"solo": "k-solo", "a": "k-shared", "b": "k-shared"}).astype("string")
    inc = A.rotation_incidents(df)
    assert list(inc["kind"]) == ["signature_spike"], inc
    assert inc["kid"].iloc[0] == "k-solo"
    assert "every client that used the kid" in inc["evidence"].iloc[0]


def test_a_signature_spikes_onset_is_its_first_failure_minutes_before_the_rest() -> None:
    """Key material replaced under the same kid (an HSM migration): the first client to renew fails once, the
    others only as they renew 24 minutes later (fleet30's incident-5 of seeds 30200: found 1 396 s late). Bad
    signatures of accepted clients on a kid they verify on do not happen in the background of any timeline
    benchmarked (0 outside the spikes over the hold-outs' 480 scenarios), so the onset walks back over such a
    lone failure up to an hour; one two hours before is not the incident's."""
    t0 = 1_800_000_000
    change, bulk = t0 + 3 * 3600, t0 + 3 * 3600 + 24 * 60

    def fails(client: str, t: int) -> bool:
        return bulk <= t < bulk + 1800 or (client == "a" and t in (change, t0 + 3600))

    inc = A.rotation_incidents(_frame_of(_signature_rows(t0, 5, ("a", "b", "c"), fails)))
    assert list(inc["kind"]) == ["signature_spike"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(change, unit="s", tz="UTC").floor("min"), inc


def test_a_clock_stepping_behind_is_found_from_few_failures() -> None:
    """Leeway 0: a client quiet for 4 token cycles fails in 3 cycles in a row, further past exp each time and
    keeping its token after the 401 - 6 failures, too few for the count series. A lazy refresher failing
    in every cycle, and a client whose failures do not grow, are not flagged."""
    steps = [[], [], [], [], [40], [20, 100], [60, 200, 260], []]
    flat = [[], [], [], [], [200], [20, 100], [60, 90, 110], []]
    lazy = [[50]] * 4 + [[40], [20, 100], [60, 200, 260], []]
    frame = _frame_of(_cycles("steps", steps) + _cycles("flat", flat) + _cycles("lazy", lazy))
    inc = A.clock_skew_incidents(frame)
    assert list(inc["client_id"]) == ["steps"], inc
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    assert inc["start"].iloc[0] == (t0 + pd.Timedelta(seconds=5 * 3600 + 40)).floor("min")
    assert "3 token cycles in a row" in inc["evidence"].iloc[0]


def test_a_clock_stepping_behind_on_a_client_with_short_tokens_is_found_after_three_of_its_cycles() -> None:
    """30-min tokens: a client quiet for 4 token cycles (2 h: three cycles of its own, not three hours) fails
    right past ``exp`` in one cycle, then keeps its token after the 401 in the next two, further past ``exp``
    each time (leeway 0): a clock falling behind, found by the stepping rule. The same steps with a burst of
    seconds in one cycle (a worker pool's cached token, a busy device's requests in flight) are not."""
    short = _cycles("short", [[], [], [], [], [5], [10, 40], [15, 60], []], life=1800)
    pool = _cycles("pool", [[], [], [], [], [5], [10, 25], [15, 16, 17, 18, 60], []], life=1800)
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])
    inc = A.clock_skew_incidents(_frame_of(short + pool + inflight))
    assert list(inc["client_id"]) == ["short"], inc
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    assert inc["start"].iloc[0] == (t0 + pd.Timedelta(seconds=5 * 1800 + 5)).floor("min")
    assert "3 token cycles in a row" in inc["evidence"].iloc[0]


def test_a_clock_keeping_its_token_after_the_401_is_found_from_two_failures() -> None:
    """A clock a little further behind than the refresh margin: a client quiet for 4 token cycles fails
    twice in one cycle, 80 s apart, keeping its token after the 401 (leeway 0, shown by requests in flight
    failing right past exp). Not flagged: a worker pool firing a cached token in a burst across a minute
    boundary, and a lazy refresher that fails once in every cycle anyway."""
    t0 = 1_800_000_000
    kept = _cycles("kept", [[], [], [], [], [70, 150], []])
    burst = _cycles("burst", [[], [], [], [], [58, 61, 66], []])
    lazy = _cycles("lazy", [[50], [50], [50], [50], [70, 150], []])
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])
    inc = A.clock_skew_incidents(_frame_of(kept + burst + lazy + inflight))
    assert list(inc["client_id"]) == ["kept"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 5 * 3600 + 70, unit="s", tz="UTC").floor("min")
    assert "kept after the 401" in inc["evidence"].iloc[0]


def test_a_clock_keeping_its_token_on_a_client_with_short_tokens_is_found_after_three_of_its_cycles() -> None:
    """30-min tokens: a client quiet for 4 token cycles (2 h: more than three cycles of its own, less than the
    three hours of the 60-min floor the walk-back uses) fails twice in one cycle, 80 s apart, keeping its token
    after the 401: found by the *kept* rule. The same two failures in its third cycle (1 h of history) are not."""
    t0 = 1_800_000_000
    kept = _cycles("kept", [[], [], [], [], [70, 150], [], []], life=1800)
    early = _cycles("early", [[], [], [70, 150], [], [], [], []], life=1800)
    inflight = _cycles("inflight", [[3], [], [4], [], [2], [], []])
    inc = A.clock_skew_incidents(_frame_of(kept + early + inflight))
    assert list(inc["client_id"]) == ["kept"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 5 * 1800 + 70, unit="s", tz="UTC").floor("min")


def test_a_replayed_cached_token_far_past_exp_does_not_hide_a_clock_behind() -> None:
    """A client calling every 5 min: two cycles before its clock falls 190 s behind and it keeps its token
    after three 401s, a worker pool fires its cached token in a burst of seconds 400 s past ``exp`` (leeway 0,
    the token in use 11 min before). The replay is no failure of that clock (further past exp than it reaches):
    it neither breaks the client's quiet nor becomes the incident's onset. A burst within the clock's reach
    (150 s past exp) is not set aside, and two failures alone are not enough once a replay is."""
    t0 = 1_800_000_000
    pool = [400, 401, 402, 404, 405]
    replayed = _cycles("replayed", [[], [], [], pool, [], [70, 130, 190], []], step=300)
    near = _cycles("near", [[], [], [], [150, 151, 152, 154, 155], [], [70, 130, 190], []], step=300)
    two = _cycles("two", [[], [], [], pool, [], [70, 150], []], step=300)
    inflight = _cycles("inflight", [[3], [], [4], [], [2], [], []])
    inc = A.clock_skew_incidents(_frame_of(replayed + near + two + inflight))
    assert list(inc["client_id"]) == ["replayed"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 6 * 3600 + 70, unit="s", tz="UTC").floor("min")


def test_a_clock_failing_in_one_burst_at_its_devices_pace_is_found() -> None:
    """A busy device (a request every 15 s) whose clock is a little behind fails 5 times in one token cycle,
    4 of them within a minute - at minute resolution a worker pool's burst - but keeps its token after the
    401 at its own pace (3 uses 15-18 s apart: ``paced``). Not flagged: a worker pool firing the cached
    token of a busy device or of a slow one (a use after a pause, then uses seconds apart), and a lazy
    refresher failing in every cycle anyway."""
    t0 = 1_800_000_000
    fails = [62, 75, 90, 108, 125]
    clock = _cycles("clock", [[], [], [], [], fails, []], step=15)
    busy_pool = _cycles("busy-pool", [[], [], [], [], [170, 172, 175, 179, 183], []], step=15)
    slow_pool = _cycles("slow-pool", [[], [], [], [], [100, 103, 107, 112, 118, 125], []])
    lazy = _cycles("lazy", [[50], [50], [50], [50], fails, []], step=15)
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])
    inc = A.clock_skew_incidents(_frame_of(clock + busy_pool + slow_pool + lazy + inflight))
    assert list(inc["client_id"]) == ["clock"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 5 * 3600 + 62, unit="s", tz="UTC").floor("min")
    assert "kept after the 401" in inc["evidence"].iloc[0]


def test_leeway_is_bounded_by_the_rejections_right_past_it() -> None:
    """No token was accepted past exp, but requests in flight at expiry are rejected 31-40 s past it: the
    validator grants 30 s. Rejections only long past exp (stale tokens) say nothing about the leeway."""
    rows = _cycles("a", [[31], [33], [40], [300]]) + _cycles("b", [[400], [900], [3000], []])
    df = _frame_of(rows)
    df["profile"] = df["client_id"].map({"a": "api-30", "b": "api-stale"}).astype("string")
    assert A.leeway(df) == {"api-30": 30.0, "api-stale": 0.0}


def test_a_clock_failing_in_bursts_is_found_when_it_does_so_cycle_after_cycle() -> None:
    """Three failures within a minute look like a worker pool firing a cached token; the same right past
    ``exp`` in two token cycles in a row (the token in use up to its expiry, then kept) is a clock. Bursts of
    old tokens (minutes past ``exp``) in two cycles in a row, and failures in three minutes in a row kept
    after the 401 (a pace, not a burst), are told apart."""
    t0 = 1_800_000_000
    clock = _cycles("clock", [[], [], [], [], [35, 40, 45], [40, 45, 52], []])
    replays = _cycles("replays", [[], [], [], [], [600, 603, 606], [900, 902, 905], []])
    steady = _cycles("steady", [[], [], [], [], [70, 100, 130, 150, 170, 190], []])
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])
    inc = A.clock_skew_incidents(_frame_of(clock + replays + steady + inflight))
    assert sorted(inc["client_id"]) == ["clock", "steady"], inc
    start = dict(zip(inc["client_id"], inc["start"], strict=True))
    assert start["clock"] == pd.Timestamp(t0 + 5 * 3600 + 35, unit="s", tz="UTC").floor("min")
    assert start["steady"] == pd.Timestamp(t0 + 5 * 3600 + 70, unit="s", tz="UTC").floor("min")


def _devices(client: str, n: int, fails: list[list[int]], step: int, spread: int) -> list[dict[str, Any]]:
    """``n`` devices of one client, each with its own hourly tokens (:func:`_cycles`), ``spread`` s apart."""
    rows = []
    for d in range(n):
        for r in _cycles(client, fails, t0=1_800_000_000 + d * spread, step=step):
            rows.append({**r, "token_fp": f"{r['token_fp']}-d{d}"})
    return rows


def test_worker_pools_replaying_expired_tokens_in_bursts_are_not_a_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart-heavy client: the worker pools of its three busy devices (a request every 15 s) each replay
    their cached token 3-4 min past ``exp`` in a burst of seconds, after a pause, in two token cycles - eight
    bursts within 40 min, each past the leeway and kept after the 401: enough for the count series. None of
    the failures came at the token's own pace and no burst spans three minutes: not a clock. The same
    fleet's clock 300 s behind, failing at its devices' pace, is found; the rule is what tells them apart."""
    burst = [200, 201, 203, 206, 210, 212]
    pools = _devices("pools", 3, [[], [], [], [], burst, burst, []], step=15, spread=800)
    late = [10 + 15 * k for k in range(16)]  # 10..235 s past exp, at the device's pace
    clock = _devices("clock", 3, [[], [], [], [], late, late, []], step=15, spread=800)
    inflight = _cycles("inflight", [[3], [], [4], [], [2], [], []])
    frame = _frame_of(pools + clock + inflight)
    inc = A.clock_skew_incidents(frame)
    assert list(inc["client_id"]) == ["clock"], inc
    monkeypatch.setattr(D, "_skew_at_pace", lambda *a: True)
    assert "pools" in set(A.clock_skew_incidents(frame)["client_id"])  # what the rule removes


def test_a_clock_behind_on_a_client_refreshing_after_each_401_is_found_from_its_recurrence() -> None:
    """A client that refreshes its token after a 401 never keeps one: a clock behind makes it fail once per
    token cycle (the request its clock still thinks valid), 150-200 s past exp, the fresh token accepted at once.
    Found from the recurrence - three single failures in three cycles in a row, each one lifetime plus its
    lateness after the previous (a refresh chain), at the client's pace, after four clean cycles - starting at
    the first. Not flagged: a device firing its old token after each pause (never at its pace), a lazy
    refresher failing in every cycle from its first, and requests in flight at expiry (within 30 s of the
    leeway). The fleet's other clients are clean (the prior of each client's own rate)."""
    t0 = 1_800_000_000
    fails: list[list[int]] = [[], [], [], [], [150], [200], [170], []]
    clock = _cycles("clock", fails)
    resumed = _cycles("resumed", fails, step=15)  # each failure 209+ s after the token's last use: a pause
    lazy = _cycles("lazy", [[150]] * 8)
    near = _cycles("near", [[], [], [], [], [20], [25], [15], []])
    inflight = _cycles("inflight", [[3], [], [4], [], [2], [], [3], []])
    clean = [r for k in range(8) for r in _cycles(f"clean-{k}", [[]] * 8, step=300)]
    inc = A.clock_skew_incidents(_frame_of(clock + resumed + lazy + near + inflight + clean))
    assert list(inc["client_id"]) == ["clock"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 5 * 3600 + 150, unit="s", tz="UTC").floor("min")
    assert inc["end"].iloc[0] == pd.Timestamp(t0 + 7 * 3600 + 170, unit="s", tz="UTC").floor("min") + pd.Timedelta(
        seconds=59
    )
    ev = inc["evidence"].iloc[0]
    assert "refreshing on the 401" in ev and "2 refresh-chain links" in ev, ev
    assert "~180 s" in ev and "~240 s" in ev and "clock at least ~240 s behind" in ev, ev  # lateness bins
    assert inc["count"].iloc[0] == 3 and 0.999 <= inc["confidence"].iloc[0] <= 1.0
    # the same failures from a client that failed in most earlier cycles too are its usual
    assert A.clock_skew_incidents(_frame_of(_cycles("clock", [[150]] * 5 + fails[4:]) + clean)).empty


def test_stale_tokens_a_client_presents_do_not_hide_its_clock_behind() -> None:
    """A busy client also presents old tokens now and then - a worker pool replaying its cached one, a phone
    woken 10 min past ``exp``: never accepted in their chain, rejected 600 s past ``exp`` in three of its four
    clean cycles. Those are the fleet's background, not failures of the tokens it uses: the same recurrence as
    above (150-200 s past ``exp`` on tokens in use, refreshing on the 401) is still its clock. Failures on
    tokens in use in the earlier cycles are still its usual, and so is anything in its first cycle (a token
    older than the data is never seen in use)."""
    t0 = 1_800_000_000
    fails: list[list[int]] = [[], [], [], [], [150], [200], [170], []]
    clean = [r for k in range(8) for r in _cycles(f"clean-{k}", [[]] * 8, step=300)]

    def stale(cycles: list[int]) -> list[dict[str, Any]]:
        return [
            r
            for k in cycles
            for r in _uses("clock", f"old-{k}", t0 - 7200, t0 + 3600 * k + 400, [(t0 + 3600 * k + 1000, "rejected")])
        ]

    inc = A.clock_skew_incidents(_frame_of(_cycles("clock", fails) + stale([1, 2, 3]) + clean))
    assert list(inc["client_id"]) == ["clock"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 5 * 3600 + 150, unit="s", tz="UTC").floor("min")
    # ... while failures of tokens in use in most earlier cycles are still its usual
    lazy = _cycles("clock", [[150]] * 5 + fails[4:]) + stale([1, 2, 3])
    assert A.clock_skew_incidents(_frame_of(lazy + clean)).empty
    # the history against failures well past the leeway: tokens in use, and anything in the first token cycle
    assert D._far_history([5, 100, 200, 300], {200, 300}, first=0, cyc=70.0) == [5, 200, 300]


def test_a_device_going_on_at_its_pace_with_its_expired_token_is_no_burst() -> None:
    """The recurrence above, but in one cycle the device goes on with its token after the 401 at its own pace
    (60, 120 and 180 s past ``exp``, a minute apart like its accepted uses): three failures of one token in
    one episode, which as a pool's burst would be left out (leaving two episodes: nothing). At its pace they
    are the clock; the same three within two seconds are a burst still."""
    fails: list[list[int]] = [[], [], [], [], [150], [60, 120, 180], [170], []]
    clean = [r for k in range(8) for r in _cycles(f"clean-{k}", [[]] * 8, step=300)]
    inc = A.clock_skew_incidents(_frame_of(_cycles("clock", fails) + clean))
    assert list(inc["client_id"]) == ["clock"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(1_800_000_000 + 5 * 3600 + 150, unit="s", tz="UTC").floor("min")
    burst = [[], [], [], [], [150], [150, 151, 152], [170], []]
    assert A.clock_skew_incidents(_frame_of(_cycles("clock", burst) + clean)).empty


def test_a_pool_burst_next_to_another_tokens_failure_is_not_three_minutes_of_a_clock() -> None:
    """A token kept after its 401 failing in three minutes in a row is a clock (no burst of seconds lasts that
    long) - but not when the three minutes are one token's request in flight at expiry (20 s past ``exp``)
    followed by another token's burst: a worker pool firing its cached token, in use until 10 s before its
    ``exp``, 332 s past it and then five times within five seconds. The same token failing once a minute for
    three minutes is still a clock."""
    t0 = 1_800_000_000
    clean = [r for k in range(8) for r in _cycles(f"clean-{k}", [[]] * 10, step=300)]
    pool = _cycles("pool", [[]] * 8 + [[20]], step=60)
    t1 = t0 + 9 * 3600 + 20 + 60  # the minute after the request in flight
    exp_y = t1 - 332

    def cached(fails: list[int]) -> list[dict[str, Any]]:
        uses = [(t, "accepted") for t in range(exp_y - 3600, exp_y - 240, 240)] + [(exp_y - 10, "accepted")]
        return _uses("pool", "pool-cached", exp_y - 3600, exp_y, uses + [(t, "rejected") for t in fails])

    burst = cached([t1] + [t1 + 60 + j for j in range(5)])
    assert A.clock_skew_incidents(_frame_of(pool + burst + clean)).empty
    paced = cached([t1, t1 + 60, t1 + 120])
    assert list(A.clock_skew_incidents(_frame_of(pool + paced + clean))["client_id"]) == ["pool"]


def _refreshing(client: str, fails: list[bool], t0: int = 1_800_000_000, step: int = 300) -> list[dict[str, Any]]:
    """A client with little traffic (a request every ``step`` s) and tokens valid 3 530 s: a clock in time
    fetches a new token at its first request less than 60 s before ``exp``; one behind (``fails[k]``) still
    presents token ``k`` at its next request, 78 s past ``exp``, is rejected, and fetches its new token at its
    next request 480 s later (a batch job, not a retry loop)."""
    rows: list[dict[str, Any]] = []
    t = t0
    for k, fail in enumerate(fails):
        iat, exp, fp = t, t + 3530, f"{client}-{k}"
        uses = [(u, "accepted") for u in range(iat, exp - 59, step)]
        t = uses[-1][0] + step
        if fail:
            uses.append((exp + 78, "rejected"))
            t = exp + 78 + 480
        rows += _uses(client, fp, iat, exp, uses)
    return rows


def test_a_clock_behind_on_a_client_with_little_traffic_is_found_from_a_refresh_chain_right_past_the_leeway() -> None:
    """Leeway 70 s: a sync job fails once per token cycle 78 s past ``exp`` - within 30 s of the leeway, what a
    retry queued across ``exp`` does too - and fetches its next token on its next request, 8 min later: each
    failure comes one lifetime plus its lateness after the client's next accepted use (not after the 401), in
    three cycles in a row after six clean ones. Such a chain is the clock; its Poisson tail must be
    <= ``SKEW_NEAR_P``."""
    clock = _refreshing("sync", [False] * 6 + [True] * 3 + [False])
    clean = [r for k in range(8) for r in _refreshing(f"clean-{k}", [False] * 10, t0=1_800_000_000 + 37 * k)]
    df = _frame_of(clock + clean)
    assert A.leeway(df) == {"api": 70.0}
    inc = A.clock_skew_incidents(df)
    assert list(inc["client_id"]) == ["sync"], inc
    first = next(r["time"] for r in clock if r["outcome"] == "rejected")
    assert inc["start"].iloc[0] == pd.Timestamp(first, unit="s", tz="UTC").floor("min")
    assert "2 refresh-chain links" in inc["evidence"].iloc[0], inc["evidence"].iloc[0]


def test_a_refresh_chain_right_past_the_leeway_early_in_the_data_is_not_yet_a_clock() -> None:
    """The same chain as above in the client's 2nd-4th token cycles: early in the data nothing tells a clock
    from a busy client whose requests in flight at every expiry fail right past the leeway (it goes on doing
    so all day); a chain that close to the leeway needs SKEW_QUIET cycles of the client's history first."""
    clean = [r for k in range(8) for r in _refreshing(f"clean-{k}", [False] * 10, t0=1_800_000_000 + 37 * k)]
    early = _refreshing("sync", [False, True, True, True] + [False] * 6)
    assert A.clock_skew_incidents(_frame_of(early + clean)).empty
    later = _refreshing("sync", [False] * 3 + [True] * 3 + [False] * 4)
    assert list(A.clock_skew_incidents(_frame_of(later + clean))["client_id"]) == ["sync"]


def test_a_clock_behind_on_a_few_pods_failing_right_past_a_long_leeway_is_found_at_a_stricter_tail() -> None:
    """Leeway 60 s: three pods of one service (tokens 28 min apart) each fail once 10 s past the leeway - what a
    retry queued across ``exp`` also does -, within one token cycle, after 8 clean cycles: no failure further
    past the leeway, no refresh chain. Against a fleet that fails so that seldom (30 clean clients) it is a
    clock (Poisson tail <= SKEW_NEAR_P); in a fleet of 4 the same three failures are not rare enough."""
    pods = _devices("pods", 3, [[]] * 8 + [[70]] + [[]], step=60, spread=1700)
    lenient = _cycles("lenient", [[(50, "accepted"), (58, "accepted")]] * 10)
    first = pd.Timestamp(1_800_000_000 + 9 * 3600 + 70, unit="s", tz="UTC").floor("min")
    for n, found in ((30, True), (4, False)):
        clean = [r for k in range(n) for r in _cycles(f"clean-{k}", [[]] * 10, t0=1_800_000_000 + 41 * k, step=300)]
        df = _frame_of(pods + lenient + clean)
        assert A.leeway(df) == {"api": 60.0}
        inc = A.clock_skew_incidents(df)
        assert list(inc["client_id"]) == (["pods"] if found else []), (n, inc)
        assert not found or inc["start"].iloc[0] == first


def _traffic(t0: int, minutes: int, clients: tuple[str, ...] = ("a", "b", "c")) -> list[dict[str, Any]]:
    """Accepted clients' requests every 20 s each, tokens valid for the whole timeline."""
    return [
        {"time": t, "outcome": "accepted", "client_id": c, "token_fp": c, "iat": t0, "nbf": t0, "exp": t0 + 86400}
        for t in range(t0, t0 + 60 * minutes, 20)
        for c in clients
    ]


def _forged(t0: int, per_minute: list[int], kid: str | None = "k1") -> pd.DataFrame:
    """Accepted traffic, and ``per_minute[m]`` tokens of no accepted client in minute ``m``, naming ``kid``: the
    key in use by default (an attacker who read the key set), ``None`` (a scanner's generic probes)."""
    rows = _traffic(t0, len(per_minute))
    for m, n in enumerate(per_minute):
        rows += [
            {"time": t0 + 60 * m + 60 * k // n, "outcome": "rejected", "reason": "JWT_UNSIGNED", "exp": t0 + 86400}
            for k in range(n)
        ]
    df = _frame_of(rows)
    df.loc[df["outcome"] == "rejected", "kid"] = kid
    return df


def test_a_burst_that_saturates_at_once_is_judged_on_all_its_minutes() -> None:
    """A scanner drizzle (about one forged token every two minutes), then a burst of 16-25 forged tokens a
    minute for 5 minutes: the CUSUM hits its cap in the burst's first minute, which alone holds fewer tokens
    than a burst needs. The burst is judged on every minute it stays at the cap, and found from its onset."""
    t0 = 1_800_000_000
    forged = [1 if m % 3 == 0 else 0 for m in range(180)] + [16, 18, 20, 25, 7] + [m % 2 for m in range(55)]
    inc = A.attack_bursts(_forged(t0, forged))
    assert list(inc["kind"]) == ["attack_burst"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 180 * 60, unit="s", tz="UTC")
    assert inc["count"].iloc[0] >= 16 + 18 + 20 + 25


def test_scanner_sessions_overlapping_at_the_start_of_the_data_are_no_burst() -> None:
    """Scanner sessions overlap to 8-12 tokens a minute in the data's first half hour, then come and go at 0-6 a
    minute for 6 h: before 30 usual minutes lie behind it, the start has only the trailing mean to compare with
    (a false burst on the fresh real-fleet v6, twice); the analysis reads the whole timeline, so the busy level
    of the first 6 h's usual minutes applies there too. A real burst (40 a minute for 4 minutes) in the same
    place is still one."""
    t0 = 1_800_000_000
    usual = [(m * 3) % 7 for m in range(360)]
    start = [1, 0, 2, 1, 0, 1, 2, 3, 2, 4, 3, 5, 8, 6, 9, 12, 7, 11, 10, 12, 9, 8, 5, 4, 3, 2, 2, 1, 1, 0]
    assert A.attack_bursts(_forged(t0, start + usual)).empty
    attack = [*start[:12], 40, 42, 38, 41, *start[16:]]
    inc = A.attack_bursts(_forged(t0, attack + usual))
    assert list(inc["kind"]) == ["attack_burst"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 12 * 60, unit="s", tz="UTC")


def test_health_checks_without_a_token_do_not_hide_a_burst() -> None:
    """Six replicas' load-balancer health checks, each every 10 s without a token (``JWT_MISSING``, no client
    id, no issuer: 36 a minute), a scanner drizzle, and at night a burst of 60 forged tokens a minute for 3
    minutes: found from its first minute. Requests without a token are no forged tokens: counted with them,
    the checks' steady rate became the baseline and the burst was missed (all 4 bursts of the fleet days with
    such checks, ``benchmarks/noise26.py``); the checks alone are no burst."""
    t0 = 1_800_000_000

    def day(forged: list[int]) -> pd.DataFrame:
        rows = _traffic(t0, len(forged))
        for m, n in enumerate(forged):
            rows += [
                {"time": t0 + 60 * m + 60 * k // n, "outcome": "rejected", "reason": "JWT_UNSIGNED", "exp": t0 + 86400}
                for k in range(n)
            ]
        rows += [
            {"time": t0 + 10 * k + r, "outcome": "rejected", "reason": "JWT_MISSING"}
            for k in range(len(forged) * 6)
            for r in range(6)
        ]
        df = _frame_of(rows)
        df.loc[df["outcome"] == "rejected", "kid"] = None
        df.loc[df["reason"] == "JWT_MISSING", ["issuer", "typ"]] = None
        return df

    drizzle = [1 if m % 3 == 0 else 0 for m in range(300)]
    inc = A.attack_bursts(day([*drizzle, 60, 60, 60, *(m % 2 for m in range(117))]))
    assert list(inc["kind"]) == ["attack_burst"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 300 * 60, unit="s", tz="UTC")
    assert A.attack_bursts(day(drizzle + drizzle[:120])).empty


def test_one_caller_retrying_through_a_short_blip_is_not_a_jwks_outage() -> None:
    """A batch job fires one cached token 26 times in 22 s while its API cannot fetch the key set for a moment:
    one caller, one observation a minute, not an outage. Three clients failing for ten minutes are one."""
    t0 = 1_800_000_000
    rows = _traffic(t0, 300)
    blip = t0 + 120 * 60 + 43
    rows += [
        {
            "time": blip + 22 * k / 25,
            "outcome": "rejected",
            "reason": "JWT_JWKS_UNAVAILABLE",
            "client_id": "job",
            "token_fp": "job",
            "iat": t0,
            "nbf": t0,
            "exp": t0 + 86400,
        }
        for k in range(26)
    ]
    rows += [
        {
            "time": t0,
            "outcome": "accepted",
            "client_id": "job",
            "token_fp": "job",
            "iat": t0,
            "nbf": t0,
            "exp": t0 + 86400,
        }
    ]
    down = t0 + 240 * 60
    for r in rows:
        if r["outcome"] == "accepted" and down <= r["time"] < down + 600:
            r["outcome"], r["reason"] = "rejected", "JWT_JWKS_UNAVAILABLE"
    inc = A.rotation_incidents(_frame_of(rows))
    assert list(inc["kind"]) == ["jwks_outage"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(down, unit="s", tz="UTC")


def test_a_few_tokens_signed_with_a_kid_before_its_key_set_publishes_it() -> None:
    """A client refreshing on each 401 gets a new token signed with a key its issuer has not published yet, three
    times in ten minutes: too sparse for the count series. The key set publishing the kid only afterwards is the
    evidence; without the key-set changes nothing says so."""
    t0 = 1_800_000_000
    rows = _traffic(t0, 180, ("a", "b", "x"))
    fails = [t0 + 60 * m + 59 for m in (60, 68, 69)]
    rows += [
        {
            "time": t,
            "outcome": "rejected",
            "reason": "JWT_UNKNOWN_KID",
            "client_id": "x",
            "token_fp": f"x-new-{k}",
            "iat": t - 1,
            "nbf": t - 1,
            "exp": t + 3600,
        }
        for k, t in enumerate(fails)
    ]
    df = _frame_of(rows)
    late = (df["client_id"] == "x") & (df["time"] >= pd.Timestamp(t0 + 75 * 60, unit="s", tz="UTC"))
    df.loc[(df["outcome"] == "rejected") | late, "kid"] = "k2"
    changes = pd.DataFrame(
        {
            "time": pd.to_datetime([t0, t0 + 74 * 60], unit="s", utc=True),
            "issuer": ["https://id.test"] * 2,
            "added": [["k1"], ["k2"]],
            "removed": [[], []],
        }
    )
    assert A.rotation_incidents(df).empty
    inc = A.rotation_incidents(df, changes)
    assert list(inc["kind"]) == ["kid_before_publish"], inc
    assert inc["kid"].iloc[0] == "k2"
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 60 * 60, unit="s", tz="UTC")
    assert inc["count"].iloc[0] == 3


def test_a_few_still_valid_tokens_after_the_key_set_dropped_their_kid() -> None:
    """The mirror of the test above (realfleet v8, seed 82007): an issuer drops key k1 from its key set at minute
    62 while tokens signed with it are valid until minute 100; three clients present one each over four minutes
    (one through a replica that refetched before any replica reporting key-set changes did): too sparse for the
    count series. The key set dropping the kid before those tokens' ``exp`` is the evidence; the same removal
    after the last ``exp`` is a healthy retirement, and without the key-set changes nothing says so."""
    t0 = 1_800_000_000
    rows = _traffic(t0, 180, ("a", "b", "c", "d"))
    for r in rows:  # tokens are valid for 40 min
        r["exp"] = r["time"] + 2400
    fails = [(t0 + 61 * 60 + 59, "a"), (t0 + 62 * 60 + 53, "b"), (t0 + 65 * 60 + 46, "c")]
    rows += [
        {
            "time": t,
            "outcome": "rejected",
            "reason": "JWT_UNKNOWN_KID",
            "client_id": cid,
            "kid": "k1",
            "token_fp": f"{cid}-k1-last",
            "iat": t0 + 58 * 60,
            "nbf": t0 + 58 * 60,
            "exp": t0 + 100 * 60,
        }
        for t, cid in fails
    ]
    df = _frame_of(rows)  # (every token signed with k1 ...)
    df.loc[(df["outcome"] == "accepted") & (df["time"] >= pd.Timestamp(t0 + 3600, unit="s", tz="UTC")), "kid"] = "k2"

    def changes(removed_at: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "time": pd.to_datetime([t0, t0 + 55 * 60, removed_at], unit="s", utc=True),
                "issuer": ["https://id.test"] * 3,
                "added": [["k1"], ["k2"], []],
                "removed": [[], [], ["k1"]],
            }
        )

    assert A.rotation_incidents(df).empty
    inc = A.rotation_incidents(df, changes(t0 + 62 * 60 + 53))
    assert list(inc["kind"]) == ["key_removed_early"], inc
    assert inc["kid"].iloc[0] == "k1"
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 61 * 60, unit="s", tz="UTC")
    assert inc["count"].iloc[0] == 3
    assert A.rotation_incidents(df, changes(t0 + 101 * 60)).empty  # dropped after the last exp: healthy


def test_a_removal_reported_late_by_a_slow_key_source_is_still_early() -> None:
    """fleet30 incident-2 (benchmarks/fleet30.py): the issuer drops k1 at minute 62 while its tokens are valid
    until minute 100; replicas whose PyJWKClient refetches on an unknown kid fail on it at once (three clients,
    a few a minute), but the only replica reporting key-set changes - a Verifier whose JwksSource honours the
    issuer's four-hour max-age - sees the removal at minute 130, after the last ``exp``. The failures of
    still-valid tokens are the earlier evidence: one key_removed_early from minute 62 (before: read as a healthy
    retirement, because the one reported removal came after the tokens expired)."""
    t0 = 1_800_000_000
    rows = _traffic(t0, 180, ("a", "b", "c", "d"))
    for r in rows:
        r["exp"] = r["time"] + 2400
    rows += [
        {
            "time": t0 + 60 * m + 7 * j,
            "outcome": "rejected",
            "reason": "JWT_UNKNOWN_KID",
            "client_id": "abc"[(m + j) % 3],
            "kid": "k1",
            "token_fp": f"k1-{m}-{j}",
            "iat": t0 + 58 * 60,
            "nbf": t0 + 58 * 60,
            "exp": t0 + 100 * 60,
        }
        for m in range(62, 98)
        for j in range(3)
    ]
    df = _frame_of(rows)
    df.loc[(df["outcome"] == "accepted") & (df["time"] >= pd.Timestamp(t0 + 3600, unit="s", tz="UTC")), "kid"] = "k2"
    changes = pd.DataFrame(
        {
            "time": pd.to_datetime([t0, t0 + 55 * 60, t0 + 130 * 60], unit="s", utc=True),
            "issuer": ["https://id.test"] * 3,
            "added": [["k1"], ["k2"], []],
            "removed": [[], [], ["k1"]],
        }
    )
    inc = A.rotation_incidents(df, changes)
    assert list(inc["kind"]) == ["key_removed_early"], inc
    assert inc["kid"].iloc[0] == "k1"
    assert abs(inc["start"].iloc[0] - pd.Timestamp(t0 + 62 * 60, unit="s", tz="UTC")) <= pd.Timedelta(minutes=2)
    assert "validators lack it from" in inc["evidence"].iloc[0] and "reported it dropped at" in inc["evidence"].iloc[0]
    # the same failures of tokens already past exp say nothing of the key set
    late = df.copy()
    late.loc[late["reason"] == "JWT_UNKNOWN_KID", "exp"] = t0 + 30 * 60
    assert A.rotation_incidents(late, changes).empty


def test_an_outage_of_hours_with_bursty_callers_is_one_incident() -> None:
    """8 h of a key set down: a steady 2-6 failures a minute and a cron burst every 25 min. The statistic restarts
    as the baseline catches up, so the first pass split it into runs that each walked back to the same onset:
    11 nested incidents from one start (a probe's 8 h outage on the real-fleet generator). One now, from the
    onset to the last failure; a second outage after the failures stopped for hours is a second incident."""
    from jwtobs.analysis import detect as D

    rng = np.random.default_rng(3)
    x = rng.poisson(0.02, 24 * 60).astype(float)
    for lo, hi in ((360, 840), (1200, 1260)):
        x[lo:hi] = rng.poisson(4, hi - lo)
        x[lo:hi:25] += 40
    x[840:1200] = 0.0
    segs = D._segments(x, D.OUTAGE, 0)
    assert [s.i0 for s in segs] == [360, 1200], segs
    assert 839 <= segs[0].i1 < 900 and 1259 <= segs[1].i1 < 1320, segs  # (the statistic's own recovery)


def test_a_key_dropped_hours_before_its_tokens_expire_is_one_incident() -> None:
    """Tokens live 24 h; the key set drops their kid 3 h in; clients that pause for up to an hour (cron jobs)
    fail in runs hours apart for the rest of the day: one key_removed_early, not one per run (a probe: 5 and 27
    incidents of one kid)."""
    t0 = 1_800_000_000
    rows = _traffic(t0, 24 * 60, ("a", "b", "c"))
    for r in rows:
        r["exp"] = t0 + 2 * 86400
    removed = t0 + 180 * 60
    for k, start in enumerate(range(200, 1380, 70)):  # a 10-min batch of a cron job every 70 min
        for m in range(start, start + 10):
            rows += [
                {
                    "time": t0 + 60 * m + 5 * j,
                    "outcome": "rejected",
                    "reason": "JWT_UNKNOWN_KID",
                    "client_id": "abc"[(k + j) % 3],
                    "token_fp": f"job-{k}",
                    "iat": t0,
                    "nbf": t0,
                    "exp": t0 + 86400,
                }
                for j in range(6)
            ]
    df = _frame_of(rows)
    changes = pd.DataFrame(
        {
            "time": pd.to_datetime([t0, t0 + 120 * 60, removed], unit="s", utc=True),
            "issuer": ["https://id.test"] * 3,
            "added": [["k1"], ["k2"], []],
            "removed": [[], [], ["k1"]],
        }
    )
    df.loc[(df["outcome"] == "accepted") & (df["time"] >= pd.Timestamp(removed, unit="s", tz="UTC")), "kid"] = "k2"
    inc = A.rotation_incidents(df, changes)
    assert list(inc["kind"]) == ["key_removed_early"], inc
    assert inc["start"].iloc[0] == pd.Timestamp(t0 + 200 * 60, unit="s", tz="UTC")
    assert inc["end"].iloc[0] >= pd.Timestamp(t0 + 1300 * 60, unit="s", tz="UTC")


def test_renewals_are_the_minutes_a_client_presents_a_later_expiring_token() -> None:
    """``_renewals``: per minute, the accepted clients presenting a token that expires later than any they presented
    before - a token the issuer minted since. Reuses of a held token, and an older token presented after a newer
    one (a second device), are not renewals."""
    t0 = 1_800_000_000
    rows = _uses("a", "a-0", t0, t0 + 3600, [(t0 + 60 * m, "accepted") for m in range(0, 50, 5)])
    rows += _uses("a", "a-1", t0 + 3000, t0 + 6600, [(t0 + 3000, "accepted"), (t0 + 3300, "accepted")])
    rows += _uses("a", "a-0", t0, t0 + 3600, [(t0 + 3400, "accepted")])  # the older token, from another device
    rows += _uses("b", "b-0", t0 + 600, t0 + 4200, [(t0 + 600, "accepted"), (t0 + 1200, "accepted")])
    x = D._renewals(D._ctx(_frame_of(rows)), "https://id.test")
    assert np.flatnonzero(x).tolist() == [50] and x.sum() == 1  # b's first token is no renewal: nothing before it
    assert D._renewals(D._ctx(_frame_of(rows)), "https://other.test").sum() == 0


def test_missing_text_values_of_incidents_are_none_whatever_the_mix() -> None:
    """A detector's part mixing rows with and without a client id (a stall and a client's clock) keeps ``None``
    for the missing ones, as every other part and the empty frame do; pandas would infer a string column with
    NaN there, so ``row.client_id is None`` held for some incidents and not others."""
    rows = [
        {"kind": "issuer_stalled", "start": 0, "end": 60e9, "issuer": "https://id.test", "count": 3, "confidence": 1.0},
        {"kind": "clock_skew", "start": 0, "end": 60e9, "client_id": "a", "count": 3, "confidence": 1.0},
    ]
    frame = D._frame(rows)
    assert frame["client_id"].tolist() == [None, "a"] and frame["issuer"].tolist() == ["https://id.test", None]
    assert frame["kid"].tolist() == [None, None] and frame.dtypes["client_id"] == D._empty().dtypes["client_id"]


def test_what_a_shared_clock_or_a_stall_explains_is_what_a_clock_could_cause() -> None:
    """``_clock_failures``: a client's failures a shared clock or a stall may explain are those before ``nbf`` and
    those past ``exp`` on tokens in use - not stale tokens replayed (not ``seen``), nor the re-firings of a burst
    (kept after the 401, not ``paced``); a burst's first failure stays. Stalled-issuer v3 9210: a client's
    incident took in 9 re-firings of a worker pool 2.5 h after the stall, outweighing the stall's failures, and
    stayed a false ``clock_skew``."""
    rows = pd.DataFrame(
        {
            "direction": ["late", "late", "late", "late", "early", "late"],
            "seen": [True, True, True, False, False, True],
            "cont": [False, True, True, False, False, False],
            "paced": [False, True, False, False, False, False],
            "sibling": [False, False, False, False, False, True],  # sent with row 0's call: the burst's too
            "count": [1, 1, 9, 1, 1, 3],
        }
    )
    assert D._clock_failures(rows).index.tolist() == [0, 1, 4]


def _stall(path: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from stalls import generate as generate_stall

    fault = Injected("issuer_stalled", 4 * 3600, duration=40 * 60)
    tl = Timeline(seed=seed, hours=8, path=path, replicas=3, clients=30, injected=(fault,))
    events, changes, labels = generate_stall(tl)
    return events, changes, _labels(labels)


@pytest.mark.parametrize(("path", "seed"), [("wrap", 4100), ("verifier", 4101)])
def test_an_issuer_that_stops_issuing_tokens_is_one_issuer_stalled(path: str, seed: int) -> None:
    """The issuer's token endpoint down for 40 min (benchmarks/stalls.py: its key set up, no clock off): its
    clients go on with the tokens they hold, past ``exp``, and keep them after the 401. One ``issuer_stalled``
    naming the issuer, at the first failure; no clock blamed - before the kind, such a stall was a
    ``server_clock_skew`` blaming the issuer's clock, or a ``clock_skew`` per client (6-7 on two of 12 fleets)."""
    events, changes, lab = _stall(path, seed)
    assert list(lab["kind"]) == ["issuer_stalled"] and int(lab["count"].iloc[0]) > 20
    inc = A.incidents(events, changes)
    assert list(inc["kind"]) == ["issuer_stalled"], inc[["kind", "start", "client_id", "evidence"]]
    score = match_incidents(inc, lab)
    assert score.recall == 1.0 and max(score.onset_errors_s) <= 120, score.table
    row = inc.iloc[0]
    assert row["issuer"] == lab["issuer"].iloc[0] and row["client_id"] is None
    assert "renewed token" in row["evidence"] and "stopped issuing" in row["evidence"]
    assert re.search(r"baseline expects [0-9.]+ renewals in [0-9]+ min, p", row["evidence"]), row["evidence"]
    pd.testing.assert_frame_equal(inc, A.incidents(A.aggregate(events), changes))
    from jwtobs.analysis.prometheus import CANNOT_SEE

    assert "issuer_stalled" in CANNOT_SEE


def _short_stall(kept: int) -> pd.DataFrame:
    """60 clients renewing hourly tokens one a minute (client ``k`` at minutes ``k`` + 60 n), each token used every
    2 min until a minute before ``exp``; from minute 200 to 212 the issuer mints nothing: the two clients due
    first fail past ``exp`` with the token they hold, ``kept`` of them going on with it after the 401, the other
    stopping; the ones due later make no call until it is back."""
    t0, rows = 1_800_000_000, []
    for k in range(60):
        for m in range(k - 60, 300, 60):  # the minutes client k is minted a token
            iat = t0 + 60 * m
            if 200 <= m < 212:
                continue  # nothing minted
            if 200 <= m + 60 < 212:  # the token held through the stall
                if k - 20 in range(kept):
                    past = [(iat + 3600 + 60 + 120 * j, "rejected") for j in range(6)]
                else:
                    past = [(iat + 3600 + 60, "rejected")] if k in (20, 21) else []
            else:
                past = []
            uses = [(t, "accepted") for t in range(max(t0, iat), iat + 3600 - 60, 120)]
            rows += _uses(f"c{k}", f"c{k}-{m}", iat, iat + 3600, uses + past)
    return _frame_of(rows)


def test_a_short_stall_is_seen_through_two_clients_keeping_their_tokens() -> None:
    """A stall of 12 min seen through two failing clients: when both go on with the token they hold, one
    ``issuer_stalled`` (two clients suffice where the renewal gap is unlikely; four, the shared clock's floor,
    missed two night stalls of small fleets); when only one does, nothing - a floor of one kept client was tried
    (a session 10 probe's 8-min outage on the real-fleet generator left one client keeping its token, reported
    as that client's clock) and gave 8 false stalls on the benchmark's hold-outs (quiet stretches at night with
    one client's token in use past exp) and turned two issuer-ahead faults into stalls."""
    inc = A.incidents(_short_stall(kept=2))
    assert list(inc["kind"]) == ["issuer_stalled"], inc[["kind", "start", "client_id", "evidence"]]
    assert inc["evidence"].iloc[0].startswith("2 clients of https://id.test")
    assert "issuer_stalled" not in set(A.incidents(_short_stall(kept=1))["kind"])
    assert "issuer_stalled" not in set(A.incidents(_short_stall(kept=0))["kind"])


def test_clients_failing_while_their_issuer_renews_tokens_are_no_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same failures as a stall, but with the issuer renewing tokens as usual meanwhile (as a validator whose
    clock is ahead sees it: clients fail there and go on renewing): no ``issuer_stalled``. The renewal gap is
    what tells a stall (``_renewals``)."""
    events, changes, _lab = _stall("wrap", 4100)
    real = D._renewals
    monkeypatch.setattr(D, "_renewals", lambda *a: np.maximum(real(*a), 1.0))  # a renewal every minute
    inc = A.incidents(events, changes)
    assert "issuer_stalled" not in set(inc["kind"]), inc[["kind", "start", "evidence"]]
    assert not inc.empty  # (the failures are still seen: as a shared clock, or clients' own)


def test_a_client_using_its_tokens_up_to_the_leeway_every_cycle_does_not_move_the_onset_back() -> None:
    """A client that uses its tokens up to ``exp`` + leeway in every cycle (accepted 25-40 s past ``exp``) and
    fails right past the leeway once a cycle does both all day: when its clock then falls 5-10 min behind, the
    onset is the clock's first failure, not the routine failure of the cycle before (``jwtobs demo``'s
    client-09 was put 19 min early so)."""
    t0 = 1_800_000_000
    routine: list[list[int] | list[tuple[int, str]]] = [[(25, "accepted"), (75, "rejected")] for _ in range(7)]
    behind = [[105, 300, 360, 420, 480, 600, 720, 900], [150, 420, 480, 600, 900]]
    clock = _cycles("lazy", [*routine, [(40, "accepted"), (90, "rejected")], *behind, []])
    inc = A.clock_skew_incidents(_frame_of(clock))
    assert list(inc["client_id"]) == ["lazy"], inc
    exp8 = pd.Timestamp(t0 + 9 * 3600, unit="s", tz="UTC")  # the clock's first cycle ends
    assert exp8 <= inc["start"].iloc[0] <= exp8 + pd.Timedelta(seconds=300), inc["start"].iloc[0]


def _woken_devices(devices: int) -> pd.DataFrame:
    """One client id, ``devices`` devices with hourly tokens (staggered by 3 min), each used at an uneven pace
    (a 25-min pause in every cycle); in the 7th cycle device 1 wakes 10 min past ``exp`` and calls once, and 9
    min later device 2 (or, with one device, device 1 again) wakes 16 min past ``exp`` and fires three calls
    within two seconds across a minute boundary - the session 9 probe's mobile app id on the real-fleet
    generator (its phones woke 626-1085 s past ``exp``)."""
    t0, rows = 1_800_000_000, []
    pace = [0, 40, 100, 160, 1660, 1700, 1760, 2700, 3000]
    fail1 = t0 + 180 + 7 * 3600 + 600  # device 1's 7th token: exp + 600
    burst = (fail1 + 540) // 60 * 60 + 58.5
    for d in range(1, devices + 1):
        for n in range(8):
            iat = t0 + 180 * d + 3600 * n
            uses: list[tuple[Any, str]] = [(iat + s, "accepted") for s in pace]
            if n == 6 and d == 1:
                uses.append((fail1, "rejected"))
                if devices == 1:
                    uses += [(burst + s, "rejected") for s in (0, 1, 2)]
            if n == 6 and d == 2:
                uses += [(burst + s, "rejected") for s in (0, 1, 2)]
            rows += _uses("app", f"app-{d}-{n}", iat, iat + 3600, uses)
    return _frame_of(rows)


def test_a_client_id_of_many_devices_waking_past_exp_is_not_a_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client id whose 20 devices each renew hourly (``_devices``: 20 renewals a token cycle): one device woken
    past ``exp`` calling once, another firing three calls in two seconds across a minute boundary 9 min later.
    The *kept* rule saw a client failing "again" a minute later, kept after the 401, at <= 2 a minute: a clock 16
    min behind (1 false ``clock_skew`` in 5.3 quiet real-fleet days of the session 9 probe). On a client id of
    many devices a failure in the minute right after another counts as kept only at the token's pace. One device
    doing the same - failing 10 min past ``exp``, then again 9 min later on the same token - is still a clock."""
    many = _woken_devices(20)
    assert D._devices(D._ctx(many), D._lifetimes(D._ctx(many)))["app"] > D.SKEW_DEVICES
    assert A.clock_skew_incidents(many).empty
    monkeypatch.setattr(D, "SKEW_DEVICES", float("inf"))
    assert list(A.clock_skew_incidents(many)["client_id"]) == ["app"]  # what the rule removes
    monkeypatch.undo()
    one = _woken_devices(1)
    assert D._devices(D._ctx(one), D._lifetimes(D._ctx(one)))["app"] <= D.SKEW_DEVICES
    assert list(A.clock_skew_incidents(one)["client_id"]) == ["app"]


def test_uses_accepted_past_exp_then_a_pool_firing_its_cached_token_are_not_a_creeping_clock() -> None:
    """Leeway 30 s: uses past ``exp`` accepted within the leeway in two cycles, then a worker pool firing the
    token it cached 4-5 min earlier, six times within 15 s, 3 min past ``exp``: a burst of seconds after a
    pause, not a clock falling behind (a false creeping clock on a development timeline of the issue's
    small-drift row before). The creeping clock of the test above is still found."""
    acc, rej = [(10, "accepted"), (25, "accepted")], [(20, "accepted"), (90, "rejected")]
    creeping = _cycles("creeping", [[], [], [15], [], acc, [*rej, (150, "rejected")], []])
    pool = _cycles("pool", [[], [], [15], [], acc, [(5, "accepted"), (15, "accepted")], [], []], step=5)
    # the pool's last token: used every 5 s until 100 s before exp, then fired at +183..+198
    last = [r for r in pool if r["token_fp"] == "pool-6"]
    keep = [r for r in pool if r["token_fp"] != "pool-6" or r["time"] <= r["exp"] - 100]
    fired = [
        {**last[0], "time": last[0]["exp"] + s, "outcome": "rejected", "reason": "JWT_EXPIRED"}
        for s in (183, 191, 193, 195, 197, 198)
    ]
    inc = A.clock_skew_incidents(_frame_of(creeping + keep + fired))
    assert list(inc["client_id"]) == ["creeping"], inc


@pytest.mark.parametrize(
    ("variant", "path"), [("issuer_ahead", "wrap"), ("replica_ahead", "verifier"), ("replica_behind", "wrap")]
)
def test_a_clock_many_clients_share_is_one_server_clock_skew(variant: str, path: str) -> None:
    """The issuer's clock 400 s ahead (tokens minted in the future: not yet valid for their first minutes) or
    one validator replica's clock 400 s ahead (tokens expire early there) or behind (fresh tokens not yet
    valid there), for 2 h: every client fails, and none of their clocks is off. One ``server_clock_skew`` at
    the first failure, naming the issuer when it is the issuer's; no client blamed. Before it, each client was
    a ``clock_skew`` incident of its own (12-24 per fault on these fleets)."""
    from clockfaults import generate as generate_faults

    fault = Injected("server_clock_skew", 3 * 3600, duration=2 * 3600, skew=400, scope=variant)
    tl = Timeline(seed=3900 + len(variant), hours=8, path=path, replicas=3, clients=30, injected=(fault,))
    events, changes, labels = generate_faults(tl)
    lab = _labels(labels)
    assert list(lab["kind"]) == ["server_clock_skew"] and int(lab["count"].iloc[0]) > 20
    inc = A.incidents(events, changes)
    assert "clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "evidence"]]
    srv = inc[inc["kind"] == "server_clock_skew"]
    assert len(srv) == 1 and "issuer_stalled" not in set(inc["kind"]), inc[["kind", "start", "evidence"]]
    score = match_incidents(inc, lab)
    assert score.recall == 1.0 and max(score.onset_errors_s) <= 120, score.table
    row = srv.iloc[0]
    assert row["client_id"] is None and "clients at once" in row["evidence"]
    if variant == "issuer_ahead":
        # (two issuers: the other one's clients are accepted by the same APIs meanwhile - the issuer's clock)
        assert row["issuer"] == lab["issuer"].iloc[0] and f"the clock of issuer {row['issuer']}" in row["evidence"]
    else:
        assert "clock of the validators" in row["evidence"]
    # the same from the aggregates; a metrics-only engine cannot see it (no client ids)
    pd.testing.assert_frame_equal(inc, A.incidents(A.aggregate(events), changes))
    from jwtobs.analysis.prometheus import CANNOT_SEE

    assert "server_clock_skew" in CANNOT_SEE


def test_pools_of_several_clients_replaying_at_night_are_no_server_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight clients' worker pools each replay a cached token 200-240 s past ``exp`` in bursts of seconds across a
    minute boundary, within half an hour of a quiet night, each after hours of clean use: eight accepted clients
    failing on time at once, each in two minutes, each keeping its token after the 401. Not a clock they share:
    no failure came at the token's own pace. The rule that tells them apart is ``paced``."""
    rows: list[dict[str, Any]] = []
    for n, name in enumerate("abcdefgh"):
        t0 = 1_800_000_000 + 3600 + n * 180 + 20  # (bursts from second 40 of minutes 3 min apart)
        burst = [(t0 + 3600 + 200 + s, "rejected") for s in (0, 3, 5, 30, 34, 37)]
        rows += _uses(name, f"{name}-0", t0 - 7200, t0, [(t0 - 7200 + k * 60, "accepted") for k in range(120)])
        rows += _uses(name, f"{name}-1", t0, t0 + 3600, [(t0 + k * 60, "accepted") for k in range(60)] + burst)
    frame = _frame_of(rows)
    assert A.incidents(frame).query("kind == 'server_clock_skew'").empty
    real = D._in_use_past_leeway
    monkeypatch.setattr(D, "_in_use_past_leeway", lambda *a: real(*a).assign(paced=True))
    assert not A.incidents(frame).query("kind == 'server_clock_skew'").empty  # what the rule removes


def test_lazy_refreshers_failing_together_are_no_server_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight clients whose tokens were issued together (a fleet deployed at once) and whose devices refresh only
    on a 401: after two clean cycles each presents its expired token once, 200 s past ``exp`` at its pace, all
    in the same minute - and again a cycle later. Many accepted clients failing on time at once, but each
    refreshes on the 401: a validator whose clock is off rejects tokens the other validators accept, so its
    clients go on using them (``cont``); these do not. The rule that tells them apart is ``SHARED_KEPT``."""
    rows: list[dict[str, Any]] = []
    for name in "abcdefgh":
        rows += _cycles(name, [[], [], [200], [], [200], []])
    frame = _frame_of(rows)
    assert A.incidents(frame).query("kind == 'server_clock_skew'").empty
    monkeypatch.setattr(D, "SHARED_KEPT", 0)
    assert not A.incidents(frame).query("kind == 'server_clock_skew'").empty  # what the rule removes


def test_a_client_failing_so_from_its_first_token_cycle_all_day_is_its_normal_not_an_incident() -> None:
    """A client keeping its tokens 40-460 s past ``exp`` after their 401s in every hourly cycle from its first one
    in the data, for 13 h (devices of a client id whose clocks are off, or a clock off before the data began):
    nothing changed, so no incident - ``clock_skew()`` still ranks it first, about 460 s behind. The same failures
    after four healthy cycles are one incident at the first of them (a change), and from the first cycle for 2 h
    only (shorter than SKEW_CHRONIC_H: an incident at the start of the data) one too."""
    from jwtobs.analysis.detect import SKEW_CHRONIC_H

    kept = [40, 100, 160, 220, 280, 340, 400, 460]
    always = _cycles("always", [kept] * 13)  # (from the first expiry, an hour after its first use, to the end)
    changed = _cycles("changed", [[]] * 5 + [kept] * 8)
    early = _cycles("early", [kept] * 2 + [[]] * 11)
    assert SKEW_CHRONIC_H == 3.0
    frame = _frame_of(always + changed + early)
    inc = A.clock_skew_incidents(frame)
    t0 = pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    start = dict(zip(inc["client_id"], inc["start"], strict=True))
    assert set(start) == {"changed", "early"}, inc[["client_id", "start", "end", "evidence"]]
    assert start["changed"] == (t0 + pd.Timedelta(hours=6, seconds=40)).floor("min")  # its first failure
    table = A.clock_skew(frame)
    assert table.index[0] in {"always", "changed"} and table.loc["always", "estimated_offset_s"] <= -400, table
