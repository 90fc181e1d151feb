"""``load_events``: JSONL, Parquet and partitioned directories into a dtype-correct pandas DataFrame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from jwtobs.events import EVENT_FIELDS

__all__ = ["load_events", "load_keyset_changes", "EVENT_DTYPES"]

_STR: tuple[str, ...] = ("outcome", "reason", "detail", "library", "profile", "issuer", "alg", "kid", "typ")
_STR += ("client_id", "token_fp", "jti_hash", "sub_hash", "tenant", "trace_id", "span_id", "service")
EVENT_DTYPES: dict[str, str] = {
    "schema": "int16",
    **{k: "string" for k in _STR},
    "iat": "Int64",
    "nbf": "Int64",
    "exp": "Int64",
    "token_bytes": "int32",
    "duration_s": "float64",
}
_CATEGORIES = ("outcome", "reason", "detail", "library", "profile", "issuer", "alg", "typ", "service")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.suffix in (".jsonl", ".parquet", ".json") and p.is_file()]
        found = [p for p in found if p.name != "labels.json"]
        # a directory holding x.jsonl and x.parquet (the simulator's output): validations from the Parquet copy
        stems = {p.with_suffix("") for p in found if p.suffix == ".parquet"}
        return [p for p in found if not (p.suffix in (".jsonl", ".json") and p.with_suffix("") in stems)]
    if not path.exists():
        raise FileNotFoundError(path)
    return [path]


def _read_changes(path: Path) -> list[dict[str, Any]]:
    """Only the lines naming an ``event`` are parsed (validation lines have no such key)."""
    changes: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"event":' not in line:
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and "event" in d:
                changes.append(d)
    return changes


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue  # a torn last line of a file being written
            if not isinstance(d, dict):
                continue
            (changes if "event" in d else rows).append(d)
    return pd.DataFrame.from_records(rows, columns=list(EVENT_FIELDS)), changes


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    for col in EVENT_FIELDS:
        if col not in df.columns:
            df[col] = None
    df = df[list(EVENT_FIELDS)].copy()
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    df["schema"] = pd.to_numeric(df["schema"], errors="coerce").fillna(1)
    df["token_bytes"] = pd.to_numeric(df["token_bytes"], errors="coerce").fillna(0)
    df["duration_s"] = pd.to_numeric(df["duration_s"], errors="coerce").fillna(0.0)
    for c in ("iat", "nbf", "exp"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df.astype(EVENT_DTYPES)
    for c in _CATEGORIES:
        df[c] = df[c].astype("category")
    return df.sort_values("time", kind="stable").reset_index(drop=True)


def load_events(path: str | Path) -> pd.DataFrame:
    """Validation events from a JSONL file, a Parquet file or a directory of them (searched recursively,
    e.g. Hive-style partitions). ``time`` is a UTC timestamp; ``iat``/``nbf``/``exp`` nullable ints;
    low-cardinality strings are categoricals. Key-set change records are left out (see
    :func:`load_keyset_changes`)."""
    frames: list[pd.DataFrame] = []
    for f in _files(Path(path)):
        if f.suffix == ".parquet":
            part = pd.read_parquet(f)
            if "event" in part.columns:
                part = part[part["event"].isna()]
            part["time"] = (
                part["time"].astype(str) if not pd.api.types.is_datetime64_any_dtype(part["time"]) else part["time"]
            )
            frames.append(part)
        else:
            frames.append(_read_jsonl(f)[0])
    frames = [f for f in frames if len(f)]
    df = _normalise(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EVENT_FIELDS)))
    return df


def _changes_frame(changes: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["time", "issuer", "added", "removed", "keys", "service"]
    out = pd.DataFrame.from_records([c for c in changes if c.get("event") == "jwks.keyset_changed"], columns=cols)
    out["time"] = pd.to_datetime(out["time"], utc=True, format="ISO8601")
    out["added"] = [list(a) if isinstance(a, list) else [] for a in out["added"]]
    out["removed"] = [list(a) if isinstance(a, list) else [] for a in out["removed"]]
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def load_keyset_changes(path: str | Path) -> pd.DataFrame:
    """The ``jwks.keyset_changed`` records (time, issuer, added, removed, keys, service) of JSONL files."""
    changes: list[dict[str, Any]] = []
    p = Path(path)
    files = sorted(f for f in p.rglob("*.jsonl") if f.is_file()) if p.is_dir() else _files(p)
    for f in files:
        if f.suffix != ".parquet":
            changes.extend(_read_changes(f))
    return _changes_frame(changes)
