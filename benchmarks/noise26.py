"""Sessions 26-27: background shapes no generator of the project writes, layered onto days of the others.

A day of ``fleet21.py`` / ``fleet22.py`` (``events/*.jsonl`` + ``labels.json``) is copied with one or more of these
shapes added; nothing is injected that a person would call an incident: on a quiet day every detection is a
false one, on an incident day its labels must still be found (and nothing else).

* ``probes``: load-balancer health checks without a token (``JWT_MISSING``, every 10 s per replica) and a
  front-end bug sending ``Bearer null`` / ``Bearer undefined`` (``JWT_MALFORMED``, the same two strings all day,
  no client id) on 0.3 % of one API's requests;
* ``stuck``: a report job replaying a token that expired three days ago every 5 min (a client id never
  accepted), a synthetic monitor presenting a deliberately expired token to each API every minute, and a
  busy client whose retry loop, after 3 of its 401s for an expired token, sends that token 30 more times in
  10 s before it renews;
* ``devices``: users with two or three devices of the same app, each with a life of its own: in each client id
  of over 20 subjects, half the subjects are joined in pairs and triples under one subject fingerprint (one
  user's tokens failing past ``exp`` on several devices, near each other or not);
* ``tabs``: browser tabs of one user, each with its own token: for a third of the subjects of each client id of
  over 20 subjects, every token that fails past ``exp`` gets one or two sibling tokens minted 1-10 min earlier
  (used until then) that fail within seconds of it when the user comes back;
* ``dups``: the log shipper's at-least-once delivery: twice a day per replica file, a block of 5-15 min of its
  lines is shipped again right after it (duplicate lines, same content);
* ``torn``: a few lines per file cut short (a process killed mid-write), and a last line without newline;
* ``onboard``: a new client id appearing at a random time between 08:00 and 16:00 UTC with the traffic of an
  existing busy client from then on (its own tokens and subjects: its expiries, retries and replays too; not
  a client an incident of the day is about, and not its rejections for a key set the replica could not fetch).

Session 27 added five more:

* ``herd``: a push notification waking a mobile app's devices twice a day: 200-1200 devices within two minutes,
  each presenting the token it stored when it went to sleep (1-72 h past ``exp``), then a fresh one;
* ``bursts``: page loads - for half of the client ids of over 20 subjects, every use is 1-8 calls with the same
  token within 0.4 s (a screen's parallel requests), its rejections too;
* ``surge``: a busy client id with 3-6 times its users for 30-60 min (copies of its tokens as other users'
  tokens, minted, used and failing 1-600 s later);
* ``deploy``: rolling deploys twice a day - every replica replaced one by one, the new pod writing its own file
  under a new name and loading the key sets cold;
* ``gap``: the log pipeline losing 5-20 min of a replica's lines twice a day (not within an hour of a labelled
  incident).

Session 28 added one more:

* ``iot``: a new client id of 150 devices without reliable clocks calling all day, 11 % of them (``--iot-off``)
  30 s-60 min behind: those present expired tokens past their margin every cycle, most renewing on the 401, the
  others keeping the token until their own clock says it is due (``--iot-arrive``: the devices come online within
  that many seconds of the day's start; 300 by default).

The injected events copy a real event of the same replica (issuer, key id, profile, library) and change what
the shape changes; fingerprints are fresh (prefix ``n26-``).

    python benchmarks/noise26.py --base /tmp/f22/q-mon --out /tmp/n26 [--shapes probes,stuck] [--seed 1]
    python benchmarks/noise26.py --base /tmp/f22/q-mon --base /tmp/f21/q-tue --out /tmp/n26 --each
"""

from __future__ import annotations

import argparse
import bisect
import copy
import hashlib
import json
import random
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Event = dict[str, Any]
Files = dict[str, list[Event | str]]  # per replica file: events (dicts) and raw lines (torn ones: str)


def _t(e: Event) -> float:
    return datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fp(rng: random.Random) -> str:
    return "n26-" + hashlib.blake2b(rng.randbytes(8), digest_size=6).hexdigest()


def _validations(lines: list[Event | str]) -> list[Event]:
    return [e for e in lines if isinstance(e, dict) and "outcome" in e]


def _event(template: Event, t: float, **changes: Any) -> Event:
    e = copy.copy(template)
    e.update(time=_iso(t), trace_id=None, span_id=None, **changes)
    return e


def _reject(template: Event, t: float, reason: str, detail: str | None, **changes: Any) -> Event:
    return _event(template, t, outcome="rejected", reason=reason, detail=detail, **changes)


def _span(files: Files) -> tuple[float, float]:
    times = [_t(e) for lines in files.values() for e in _validations(lines)]
    return min(times), max(times)


_ACCEPTED: dict[int, tuple[list[float], list[Event]]] = {}
_LABELLED: set[str] = set()  # the client ids the day's incidents name
_SPANS: list[tuple[float, float]] = []  # the labelled incidents' spans (start, end)


def _dates_moved(e: Event, d: float) -> dict[str, int | None]:
    """``e``'s token dates (``iat``, ``nbf``, ``exp``) ``d`` seconds later (whole seconds; a missing one stays so)."""
    return {k: None if e[k] is None else int(e[k] + d) for k in ("iat", "nbf", "exp")}


def _template(lines: list[Event | str], at: float | None = None) -> Event:
    """An accepted validation of this replica (the first at or after ``at``; the file as it was first asked)."""
    key = id(lines)
    if key not in _ACCEPTED:
        acc = [e for e in _validations(lines) if e["outcome"] == "accepted"]
        _ACCEPTED[key] = ([_t(e) for e in acc], acc)
    times, acc = _ACCEPTED[key]
    i = 0 if at is None else min(bisect.bisect_left(times, at), len(acc) - 1)
    return acc[i]


def probes(rng: random.Random, files: Files) -> None:
    t0, t1 = _span(files)
    for lines in files.values():
        tpl = _template(lines)
        missing = dict.fromkeys(
            ("issuer", "alg", "kid", "typ", "client_id", "token_fp", "jti_hash", "sub_hash", "iat", "nbf", "exp")
        )
        t = t0 + rng.uniform(0, 10)
        while t < t1:
            lines.append(_reject(tpl, t, "JWT_MISSING", None, token_bytes=0, **missing))
            t += 10 + rng.uniform(-0.05, 0.05)
    # the front-end bug: one API, two constant garbage strings
    names = sorted(files)
    target = rng.choice(names)
    profile = _template(files[target])["profile"]
    nulls = {"null": _fp(rng), "undefined": _fp(rng)}
    for name in names:
        lines = files[name]
        if _template(lines)["profile"] != profile:
            continue
        for e in _validations(lines):
            if e["outcome"] == "accepted" and rng.random() < 0.003:
                word = rng.choice(sorted(nulls))
                garbage = dict.fromkeys(
                    ("issuer", "alg", "kid", "typ", "client_id", "jti_hash", "sub_hash", "iat", "nbf", "exp")
                )
                lines.append(
                    _reject(
                        e,
                        _t(e) + 0.2,
                        "JWT_MALFORMED",
                        "segments",
                        token_fp=nulls[word],
                        token_bytes=len(word),
                        **garbage,
                    )
                )


def _old_token(rng: random.Random, client: str, exp: float, life: int) -> dict[str, Any]:
    """The fields of a token of ``client`` that expired at ``exp`` (``life`` s after it was minted)."""
    fps = {"token_fp": _fp(rng), "jti_hash": _fp(rng), "sub_hash": _fp(rng)}
    return {"client_id": client, **fps, "iat": int(exp - life), "nbf": int(exp - life), "exp": int(exp)}


def stuck(rng: random.Random, files: Files) -> None:
    t0, t1 = _span(files)
    names = sorted(files)
    # a report job with a token that expired three days ago, every 5 min, on any replica
    job = _old_token(rng, "reports-cron", t0 - 3 * 86400, 3600)
    t = t0 + rng.uniform(0, 300)
    while t < t1:
        name = rng.choice(names)
        files[name].append(_reject(_template(files[name], t), t, "JWT_EXPIRED", "exp", **job))
        t += 300 + rng.uniform(-2, 2)
    # a synthetic monitor: a deliberately expired token to each API (one replica of it) every minute
    by_profile: dict[str, list[str]] = {}
    for name in names:
        by_profile.setdefault(_template(files[name])["profile"], []).append(name)
    mon = _old_token(rng, "synthetic-monitor", t0 - 86400, 900)
    for replicas in by_profile.values():
        t = t0 + rng.uniform(0, 60)
        while t < t1:
            name = rng.choice(replicas)
            files[name].append(_reject(_template(files[name], t), t, "JWT_EXPIRED", "exp", **mon))
            t += 60 + rng.uniform(-0.5, 0.5)
    # a service client's retry loop: on 3 of its 401s for an expired token, 30 more tries of that token in the
    # 10 s after (the replica that rejected it rejects them too: past exp, past its leeway), then it renews
    seen = _clients(files)
    busy = sorted((c for c in seen if seen[c]["n"] > 200), key=lambda c: (-seen[c]["n"], c))[:10]
    rejected = [
        (name, e)
        for name in names
        for e in _validations(files[name])
        if e["reason"] == "JWT_EXPIRED" and e["client_id"] in busy
    ]
    if rejected:
        client = rng.choice(sorted({e["client_id"] for _, e in rejected}))
        mine = [(name, e) for name, e in rejected if e["client_id"] == client]
        for name, e in rng.sample(mine, min(3, len(mine))):
            for k in range(30):
                files[name].append(_reject(e, _t(e) + (k + 1) * 10 / 30, "JWT_EXPIRED", "exp"))


def dups(rng: random.Random, files: Files) -> None:
    for name, lines in files.items():
        n = len(lines)
        for _ in range(2):
            vals = [i for i, e in enumerate(lines) if isinstance(e, dict) and "outcome" in e]
            i = rng.choice(vals[: max(1, len(vals) - 1)])
            start = _t(lines[i])  # type: ignore[arg-type]
            length = rng.uniform(300, 900)
            j = i
            while j < len(lines) and (not isinstance(lines[j], dict) or _t(lines[j]) < start + length):  # type: ignore[arg-type]
                j += 1
            lines[j:j] = [copy.copy(e) for e in lines[i:j]]
        assert len(lines) >= n, name


def torn(rng: random.Random, files: Files) -> None:
    for lines in files.values():
        for _ in range(3):
            i = rng.randrange(len(lines))
            line = lines[i] if isinstance(lines[i], str) else json.dumps(lines[i], separators=(",", ":"))
            lines[i] = line[: rng.randrange(5, max(6, len(line) - 5))]
        last = lines[-1] if isinstance(lines[-1], str) else json.dumps(lines[-1], separators=(",", ":"))
        lines[-1] = "\x00" + last[: len(last) // 2]  # (written without newline below)


def onboard(rng: random.Random, files: Files) -> None:
    t0, _t1 = _span(files)
    day = t0 - (t0 % 86400)
    start = day + rng.uniform(8 * 3600, 16 * 3600)
    counts: dict[str, int] = {}
    for lines in files.values():
        for e in _validations(lines):
            if e["client_id"] and _t(e) >= start:
                counts[e["client_id"]] = counts.get(e["client_id"], 0) + 1
    # (not a client an incident of the day is about: its copy would be a second incident, unlabelled)
    model = rng.choice(sorted((c for c in counts if c not in _LABELLED), key=lambda c: (-counts[c], c))[:5])
    fresh: dict[str, str] = {}

    def new(v: str | None) -> str | None:
        if v is None:
            return None
        if v not in fresh:
            fresh[v] = _fp(rng)
        return fresh[v]

    shift: dict[str | None, float] = {}  # per token: its copy minted, used and failing that much later

    for lines in files.values():
        for e in _validations(lines):
            # (not a key set the replica could not fetch: a state of the replica then, not of the client's token)
            if e["client_id"] == model and _t(e) >= start and e["reason"] != "JWT_JWKS_UNAVAILABLE":
                d = shift.setdefault(e["token_fp"], float(rng.randrange(1, 31)))
                lines.append(
                    _event(
                        e,
                        _t(e) + d,
                        client_id="newco-prod",
                        token_fp=new(e["token_fp"]),
                        jti_hash=new(e["jti_hash"]),
                        sub_hash=new(e["sub_hash"]),
                        **_dates_moved(e, d),
                    )
                )


def devices(rng: random.Random, files: Files) -> None:
    """Users with two or three devices of the same app, each device with a life of its own: in each client id of
    over 20 subjects, subjects are joined in pairs and triples (half of them) under one subject fingerprint,
    their tokens, uses and failures as they were."""
    subjects: dict[str, set[str]] = {}
    for lines in files.values():
        for e in _validations(lines):
            if e["client_id"] and e["sub_hash"]:
                subjects.setdefault(e["client_id"], set()).add(e["sub_hash"])
    owner: dict[tuple[str, str], str] = {}
    for client in sorted(subjects):
        subs = sorted(subjects[client])
        if len(subs) <= 20:
            continue
        rng.shuffle(subs)
        joined = subs[: len(subs) // 2]
        i = 0
        while i + 1 < len(joined):
            n = 3 if rng.random() < 0.3 and i + 2 < len(joined) else 2
            for other in joined[i + 1 : i + n]:
                owner[client, other] = joined[i]
            i += n
    for lines in files.values():
        for e in _validations(lines):
            sub = owner.get((e["client_id"], e["sub_hash"]))
            if sub is not None:
                e["sub_hash"] = sub


def tabs(rng: random.Random, files: Files) -> None:
    """Browser tabs of one user, each holding its own token: for a third of the subjects of each client id of over
    20 subjects, each token that fails past ``exp`` gets one or two sibling tokens minted 1-10 min earlier (used
    by the other tabs until then) that fail within seconds of it, when the user comes back and every tab
    resumes."""
    subjects: dict[str, set[str]] = {}
    for lines in files.values():
        for e in _validations(lines):
            if e["client_id"] and e["sub_hash"]:
                subjects.setdefault(e["client_id"], set()).add(e["sub_hash"])
    chosen = {
        sub
        for client in sorted(subjects)
        if len(subjects[client]) > 20
        for sub in sorted(subjects[client])
        if rng.random() < 1 / 3
    }
    failed = {
        e["token_fp"]
        for lines in files.values()
        for e in _validations(lines)
        if e["reason"] == "JWT_EXPIRED" and e["sub_hash"] in chosen and e["iat"] is not None
    }
    sib: dict[str, list[tuple[str, float]]] = {
        fp: [(_fp(rng), rng.uniform(60, 600)) for _ in range(1 if rng.random() < 0.7 else 2)] for fp in sorted(failed)
    }
    for lines in files.values():
        for e in _validations(lines):
            for fp, d in sib.get(e["token_fp"], ()):
                moved = {"token_fp": fp, "jti_hash": _fp(rng), "iat": e["iat"] - int(d), "exp": e["exp"] - int(d)}
                if e["nbf"] is not None:
                    moved["nbf"] = e["nbf"] - int(d)
                at = _t(e) - d if e["outcome"] == "accepted" else _t(e) + rng.uniform(0.2, 20)
                lines.append(_event(e, at, **moved))


def _clients(files: Files) -> dict[str, dict[str, Any]]:
    """Per client id: its accepted validations' count, distinct subjects, token life (median) and replicas."""
    seen: dict[str, dict[str, Any]] = {}
    for name in sorted(files):
        for e in _validations(files[name]):
            if not e["client_id"] or e["outcome"] != "accepted":
                continue
            c = seen.setdefault(e["client_id"], {"n": 0, "subs": set(), "lives": [], "replicas": set()})
            c["n"] += 1
            c["subs"].add(e["sub_hash"])
            c["replicas"].add(name)
            if e["iat"] is not None and e["exp"] is not None and len(c["lives"]) < 200:
                c["lives"].append(e["exp"] - e["iat"])
    for c in seen.values():
        c["life"] = sorted(c["lives"])[len(c["lives"]) // 2] if c["lives"] else 3600
    return seen


def _day(files: Files) -> float:
    t0, _t1 = _span(files)
    return t0 - (t0 % 86400)


def herd(rng: random.Random, files: Files) -> None:
    """A push notification waking a mobile app's devices: twice a day (07:00-21:00 UTC), 200-1200 devices of
    the client id with the most users (token life >= 15 min, not a client an incident names) call within two
    minutes, each with the token it stored when it went to sleep, 1-72 h past ``exp`` (rejected), and again
    0.5-4 s later with a fresh token (accepted)."""
    seen = _clients(files)
    apps = [c for c in seen if seen[c]["life"] >= 900 and c not in _LABELLED]
    if not apps:
        return
    app = max(sorted(apps), key=lambda c: len(seen[c]["subs"]))
    life = int(seen[app]["life"])
    mine = {  # the app's own accepted validations per replica: its issuer, key id and API at that time
        name: [e for e in _validations(files[name]) if e["client_id"] == app and e["outcome"] == "accepted"]
        for name in sorted(seen[app]["replicas"])
    }
    times = {name: [_t(e) for e in acc] for name, acc in mine.items()}
    replicas = sorted(mine)

    def like(name: str, t: float) -> Event:
        return mine[name][min(bisect.bisect_left(times[name], t), len(mine[name]) - 1)]

    day = _day(files)
    for _ in range(2):
        push = day + rng.uniform(7 * 3600, 21 * 3600)
        for _device in range(rng.randint(200, 1200)):
            t = push + min(120.0, rng.expovariate(1 / 25))
            name = rng.choice(replicas)
            old = _old_token(rng, app, t - 3600 * 10 ** rng.uniform(0, 1.857), life)
            files[name].append(_reject(like(name, t), t, "JWT_EXPIRED", "exp", **old))
            t2 = t + rng.uniform(0.5, 4)
            fresh = {"token_fp": _fp(rng), "jti_hash": _fp(rng), "sub_hash": old["sub_hash"]}
            minted = int(t2 - rng.uniform(0.2, 1.0))
            name = rng.choice(replicas)
            files[name].append(
                _event(
                    like(name, t2),
                    t2,
                    iat=minted,
                    nbf=minted if old["nbf"] is not None else None,
                    exp=minted + life,
                    **fresh,
                )
            )


def bursts(rng: random.Random, files: Files) -> None:
    """Page loads: a screen of a web or mobile app fires several API calls at once with the token it holds. For
    half of the client ids of over 20 subjects, every validation of theirs is one of 1-8 calls within 0.4 s (the
    others in the 0.4 s before an acceptance - the token was valid then too - and after a rejection)."""
    seen = _clients(files)
    apps = sorted(c for c in seen if len(seen[c]["subs"]) > 20)
    chosen = {c for c in apps if rng.random() < 0.5}
    for lines in files.values():
        for e in _validations(lines):
            if e["client_id"] not in chosen or e["reason"] == "JWT_JWKS_UNAVAILABLE":
                continue
            t = _t(e)
            for _ in range(min(7, int(rng.expovariate(1 / 1.5)))):
                lines.append(
                    _event(
                        e, t - rng.uniform(0.005, 0.4) if e["outcome"] == "accepted" else t + rng.uniform(0.005, 0.4)
                    )
                )


def surge(rng: random.Random, files: Files) -> None:
    """A busy client id (not one an incident names) with 3-6 times its users for 30-60 min between 09:00 and 18:00
    UTC (a campaign, a sale): its tokens used in that window are joined by 2-5 copies each - other users' tokens,
    minted, used, failing and renewed 1-600 s later than the one copied, as the copied one was."""
    seen = _clients(files)
    busy = sorted(
        (c for c in seen if c not in _LABELLED and len(seen[c]["subs"]) > 20), key=lambda c: (-seen[c]["n"], c)
    )[:5]
    if not busy:
        return
    client = rng.choice(busy)
    start = _day(files) + rng.uniform(9 * 3600, 18 * 3600)
    end = start + rng.uniform(1800, 3600)
    copies: dict[str, list[tuple[float, dict[str, str]]]] = {}
    subs: dict[str, str] = {}

    for lines in files.values():
        for e in _validations(lines):
            t = _t(e)
            if e["client_id"] != client or not start <= t < end or e["reason"] == "JWT_JWKS_UNAVAILABLE":
                continue
            if e["token_fp"] not in copies:
                copies[e["token_fp"]] = [
                    (
                        float(rng.randrange(1, 601)),
                        {"token_fp": _fp(rng), "jti_hash": _fp(rng), "sub_hash": f"{e['sub_hash']}/{k}"},
                    )
                    for k in range(rng.randint(2, 5))
                ]
            for d, fps in copies[e["token_fp"]]:
                sub = subs.setdefault(fps["sub_hash"], _fp(rng))
                lines.append(
                    _event(
                        e,
                        t + d,
                        **dict(fps, sub_hash=sub),
                        **_dates_moved(e, d),
                    )
                )


def deploy(rng: random.Random, files: Files) -> None:
    """Rolling deploys: twice a day (10:00-12:00 and 15:00-17:00 UTC) every replica of each API is replaced, one
    every 45-90 s; the new pod writes its own file under a new name, its key sources load the key sets cold (a
    ``jwks.keyset_changed`` adding every key the old pod held, at its first validation of each issuer)."""
    day = _day(files)
    by_profile: dict[str, list[str]] = {}
    for name in sorted(files):
        by_profile.setdefault(_template(files[name])["profile"], []).append(name)
    for window in ((10, 12), (15, 17)):
        for profile, names in sorted(by_profile.items()):
            t = day + rng.uniform(window[0] * 3600, window[1] * 3600)
            for old_name in names:
                t += rng.uniform(45, 90)
                lines = files[old_name]
                cut = bisect.bisect_left([_sort_key(x) for x in lines], t)
                keys: dict[str, list[str]] = {}
                for x in lines[:cut]:
                    if isinstance(x, dict) and x.get("event") == "jwks.keyset_changed":
                        held = keys.setdefault(x["issuer"], [])
                        held[:] = [k for k in held if k not in x["removed"]] + [k for k in x["added"] if k not in held]
                pod = f"{profile}-{hashlib.blake2b(rng.randbytes(6), digest_size=4).hexdigest()}"
                moved: list[Event | str] = []
                loaded: set[str] = set()
                for x in lines[cut:]:
                    if not isinstance(x, dict):
                        moved.append(x)
                        continue
                    x = dict(x, service=pod)
                    iss = x.get("issuer")
                    if "outcome" in x and iss in keys and iss not in loaded and keys[iss]:
                        loaded.add(iss)
                        moved.append(
                            {
                                "schema": x["schema"],
                                "event": "jwks.keyset_changed",
                                "time": x["time"],
                                "issuer": iss,
                                "added": list(keys[iss]),
                                "removed": [],
                                "keys": len(keys[iss]),
                                "service": pod,
                            }
                        )
                    elif x.get("event") == "jwks.keyset_changed":
                        loaded.add(x["issuer"])
                    moved.append(x)
                del lines[cut:]
                files[f"{pod}.jsonl"] = moved
                _ACCEPTED.pop(id(lines), None)
                if not any(isinstance(x, dict) and "outcome" in x for x in lines):
                    del files[old_name]
            by_profile[profile] = [n for n in files if n.startswith(f"{profile}-") and n not in names] or names


def gap(rng: random.Random, files: Files) -> None:
    """The log pipeline losing 5-20 min of one replica's lines, twice a day per file (not within an hour of a
    labelled incident's span: that would remove what the labels count)."""
    for lines in files.values():
        for _ in range(2):
            times = [_sort_key(x) for x in lines]
            valid = [t for t in times if t != float("inf")]
            if len(valid) < 100:
                continue
            for _try in range(20):
                start = rng.uniform(valid[0], valid[-1])
                end = start + rng.uniform(300, 1200)
                if not any(a - 3600 < end and start < b + 3600 for a, b in _SPANS):
                    break
            else:
                continue
            i, j = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
            del lines[i:j]
        _ACCEPTED.pop(id(lines), None)


#: ``iot``: the share of the devices whose clock is off (behind); ``--iot-off``
IOT_OFF = 0.11
#: ``iot``: the devices come online within this many seconds of the day's start; ``--iot-arrive``
IOT_ARRIVE = 300.0


def iot(rng: random.Random, files: Files) -> None:
    """A fleet of devices without reliable clocks under one client id (``iot-sensors``), from the start of the day
    to its end: 150 devices, each calling every 2-6 min with a 1 h token it renews when its own clock says 5 min
    are left. Most clocks are right; :data:`IOT_OFF` of them (11 %) are behind - seven in ten of those by 30 s-10
    min, the others by 10-60 min (no NTP, a drained RTC battery): past their margin those present an expired token
    until they renew - 70 % of them on the first 401, the others only when their own clock says so (failing at
    their pace meanwhile). Every request goes to a
    random replica file of one API, copying that replica's accepted event of the moment (issuer, key id, profile,
    library)."""
    t0, t1 = _span(files)
    names = sorted(files)
    profiles = {n: str(_template(files[n])["profile"]) for n in names}
    profile = rng.choice(sorted(set(profiles.values())))
    replicas = [n for n in names if profiles[n] == profile]
    leeway = {}  # per replica: the least lateness it rejected a token with (its leeway is below; none: 0)
    for n in replicas:
        late = [_t(e) - e["exp"] for e in _validations(files[n]) if e["reason"] == "JWT_EXPIRED" and e["exp"]]
        leeway[n] = min((x for x in late if x > 0), default=0.0)
    for _dev in range(150):
        u = rng.random()
        behind = 0.0 if u >= IOT_OFF else rng.uniform(30, 600) if u < 0.7 * IOT_OFF else rng.uniform(600, 3600)
        on_401 = rng.random() < 0.7
        sub = _fp(rng)
        t = t0 + rng.uniform(0, IOT_ARRIVE)
        tok: dict[str, Any] | None = None
        for _ in range(2000):  # (bounded: a day of calls every >= 2 min is at most 720)
            if t >= t1:
                break
            own = t - behind
            if tok is None or own >= tok["exp"] - 300:
                tok = {"token_fp": _fp(rng), "jti_hash": _fp(rng), "iat": int(t), "nbf": int(t), "exp": int(t) + 3600}
            name = rng.choice(replicas)
            tpl = _template(files[name], t)
            fields = dict(tok, client_id="iot-sensors", sub_hash=sub, typ=tpl["typ"])
            if t - tok["exp"] > leeway[name]:
                files[name].append(_reject(tpl, t, "JWT_EXPIRED", "exp", **fields))
                if on_401:
                    tok = None
                    t += rng.uniform(0.2, 2.0)
                    continue
            else:
                files[name].append(_event(tpl, t, **fields))
            t += rng.uniform(120, 360)


SHAPES: dict[str, Callable[[random.Random, Files], None]] = {
    "probes": probes,
    "stuck": stuck,
    "onboard": onboard,
    "devices": devices,
    "tabs": tabs,
    "herd": herd,
    "bursts": bursts,
    "surge": surge,
    "deploy": deploy,
    "gap": gap,
    "iot": iot,
    "dups": dups,
    "torn": torn,  # last: it turns lines into text
}


def _sort_key(line: Event | str) -> float:
    return _t(line) if isinstance(line, dict) else float("inf")


def layer(base: Path, out: Path, shapes: list[str], seed: int) -> dict[str, Any]:
    """Copy the quiet day ``base`` to ``out`` with ``shapes`` added (seeded); returns its labels.json."""
    meta = json.loads((base / "labels.json").read_text())
    files: Files = {}
    for path in sorted((base / "events").glob("*.jsonl")):
        files[path.name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    _ACCEPTED.clear()
    _LABELLED.clear()
    _LABELLED.update(i["client_id"] for i in meta.get("incidents", []) if isinstance(i.get("client_id"), str))
    _SPANS.clear()
    _SPANS.extend(
        (
            datetime.fromisoformat(i["start"].replace("Z", "+00:00")).timestamp(),
            datetime.fromisoformat(i["end"].replace("Z", "+00:00")).timestamp(),
        )
        for i in meta.get("incidents", [])
        if i.get("start") and i.get("end")
    )
    for name in SHAPES:
        if name in shapes:
            before = {k: len(v) for k, v in files.items()}
            SHAPES[name](rng, files)
            if name in (
                "probes",
                "stuck",
                "onboard",
                "tabs",
                "herd",
                "surge",
                "iot",
            ):  # appended: back in time order within each file
                for k, v in files.items():
                    if len(v) != before.get(k):
                        v.sort(key=_sort_key)
    if out.exists():
        shutil.rmtree(out)
    (out / "events").mkdir(parents=True)
    for name, lines in files.items():
        text = [line if isinstance(line, str) else json.dumps(line, separators=(",", ":")) for line in lines]
        body = "\n".join(text)
        if not (text and text[-1].startswith("\x00")):
            body += "\n"
        (out / "events" / name).write_text(body.replace("\x00", ""))
    meta = dict(meta, noise26={"base": str(base), "shapes": shapes, "seed": seed})
    (out / "labels.json").write_text(json.dumps(meta, indent=1))
    return meta


def score(out: Path) -> dict[str, Any]:
    """The detections on a layered day, matched to its labels as ``fleet22.py`` matches them (the shapes add no
    label: on a quiet day every detection is a false one)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fleet22

    return fleet22.score(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, action="append", required=True, help="a quiet day (repeatable)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--each", action="store_true", help="each shape alone, then all of them")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--iot-off", type=float, default=IOT_OFF, help="iot: the share of devices whose clock is behind")
    ap.add_argument("--iot-arrive", type=float, default=IOT_ARRIVE, help="iot: devices come online within this (s)")
    args = ap.parse_args(argv)
    globals()["IOT_OFF"] = args.iot_off
    globals()["IOT_ARRIVE"] = args.iot_arrive
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        ap.error(f"unknown shapes {unknown}; known: {sorted(SHAPES)}")
    runs = [[s] for s in shapes] + [shapes] if args.each else [shapes]
    total = 0
    for base in args.base:
        before = score(base)
        print(
            f"{base.parent.name}/{base.name} as generated: {sum(not d['true'] for d in before['detected'])} false"
            + (
                ""
                if before["quiet"]
                else f", found {sum(lb['found'] for lb in before['labels'])}/{len(before['labels'])}"
            )
        )
        for run in runs:
            out = args.out / f"{base.parent.name}-{base.name}-{'+'.join(run)}"
            layer(base, out, run, args.seed)
            r = score(out)
            false = [d for d in r["detected"] if not d["true"]]
            total += len(false)
            found = sum(lb["found"] for lb in r["labels"])
            onsets = [round(lb["onset"]) for lb in r["labels"] if lb["found"]]
            print(
                f"{base.parent.name}/{base.name} {'+'.join(run)}: {len(false)} false"
                + ("" if r["quiet"] else f", found {found}/{len(r['labels'])}, onsets {onsets}")
            )
            for d in r["detected"]:
                print("   ", "true " if d["true"] else "FALSE", d)
    print(f"false incidents in all (layered days): {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
