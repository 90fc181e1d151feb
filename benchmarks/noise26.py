"""Session 26: background shapes no generator of the project writes, layered onto quiet days of the others.

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
    counts: dict[str, int] = {}
    for name in names:
        for e in _validations(files[name]):
            if e["client_id"] and e["outcome"] == "accepted":
                counts[e["client_id"]] = counts.get(e["client_id"], 0) + 1
    busy = sorted((c for c in counts if counts[c] > 200), key=lambda c: (-counts[c], c))[:10]
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

    def moved(v: int | None, d: float) -> int | None:
        return None if v is None else int(v + d)

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
                        iat=moved(e["iat"], d),
                        nbf=moved(e["nbf"], d),
                        exp=moved(e["exp"], d),
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


SHAPES: dict[str, Callable[[random.Random, Files], None]] = {
    "probes": probes,
    "stuck": stuck,
    "onboard": onboard,
    "devices": devices,
    "tabs": tabs,
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
    for name in SHAPES:
        if name in shapes:
            before = {k: len(v) for k, v in files.items()}
            SHAPES[name](rng, files)
            if name in ("probes", "stuck", "onboard", "tabs"):  # appended: back in time order within each file
                for k, v in files.items():
                    if len(v) != before[k]:
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
    args = ap.parse_args(argv)
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
