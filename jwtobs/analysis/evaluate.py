"""Score detected incidents against the simulator's ground-truth labels (``labels.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["LabelsError", "Score", "load_labels", "match_incidents"]

#: a detection counts when its kind matches and its span overlaps the label's span widened by this (s)
SLACK = 120.0


@dataclass(frozen=True)
class Score:
    labels: int
    detected: int
    true_positives: int
    matched_labels: int
    onset_errors_s: tuple[float, ...]
    table: pd.DataFrame  # one row per label: kind, start, detected_start, onset_error_s, matched

    @property
    def recall(self) -> float:
        return self.matched_labels / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 1.0


class LabelsError(ValueError):
    """A labels file that cannot be read or is not a simulator ``labels.json``; the message names the file."""


#: the fields of a label that scoring reads
_LABEL_FIELDS = ("kind", "start", "end", "count")


def load_labels(path: str | Path) -> pd.DataFrame:
    """The incidents of a simulator ``labels.json`` (labels without any failure are dropped: nothing to find).

    Raises :class:`LabelsError` naming the file when it cannot be read or is not one (before session 20 an
    events file, an empty, truncated or binary file given as ``--labels`` was ``jwtobs report``'s internal error)."""
    p = Path(path)
    if p.is_dir():
        p = p / "labels.json"
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LabelsError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise LabelsError(f"{p}: is a directory, expected a labels.json file") from None
    except OSError as exc:
        raise LabelsError(f"{p}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise LabelsError(f"{p}: not a simulator labels.json (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LabelsError(
            f"{p}: not a simulator labels.json (invalid JSON: {str(exc).splitlines()[0][:120]})"
        ) from None
    incidents = data.get("incidents", []) if isinstance(data, dict) else None
    if not isinstance(incidents, list) or not all(isinstance(i, dict) for i in incidents):
        raise LabelsError(f"{p}: not a simulator labels.json (expected an object with a list of incidents)")
    for n, inc in enumerate(incidents):
        missing = [f for f in _LABEL_FIELDS if f not in inc]
        if missing:
            raise LabelsError(f"{p}: incident {n}: no {', '.join(missing)} (not a simulator labels.json?)")
        count = inc["count"]
        if isinstance(count, bool) or not isinstance(count, (int, float)):
            raise LabelsError(f"{p}: incident {n}: count is not a number")
        if not isinstance(inc["kind"], str):
            raise LabelsError(f"{p}: incident {n}: kind is not a string")
    lab = pd.DataFrame(incidents)
    if lab.empty:
        return pd.DataFrame(columns=["id", "kind", "start", "end", "count"])
    lab = lab[lab["count"] > 0].copy()
    for c in ("injected_at", "start", "end"):
        if c not in lab.columns:
            continue
        try:
            lab[c] = pd.to_datetime(lab[c], utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
        except (ValueError, TypeError, OverflowError) as exc:
            raise LabelsError(f"{p}: bad incident time in {c!r} ({str(exc).splitlines()[0][:120]})") from None
    return lab.reset_index(drop=True)


def match_incidents(detected: pd.DataFrame, labels: pd.DataFrame, slack: float = SLACK) -> Score:
    """Match each label to the detection of the same kind overlapping it (greedy, earliest first)."""
    slack_td = pd.Timedelta(seconds=slack)
    used: set[int] = set()
    tp_det: set[int] = set()
    rows = []
    onsets: list[float] = []
    for _, lab in labels.iterrows():
        cand = detected[
            (detected["kind"] == lab["kind"])
            & (detected["start"] <= lab["end"] + slack_td)
            & (detected["end"] >= lab["start"] - slack_td)
        ]
        best = None
        for idx, det in cand.iterrows():
            tp_det.add(int(idx))
            if best is None and idx not in used:
                best = (int(idx), det)
        if best is not None:
            used.add(best[0])
            err = abs((best[1]["start"] - lab["start"]).total_seconds())
            onsets.append(err)
            rows.append(
                {
                    "kind": lab["kind"],
                    "start": lab["start"],
                    "detected_start": best[1]["start"],
                    "onset_error_s": err,
                    "matched": True,
                }
            )
        else:
            rows.append(
                {
                    "kind": lab["kind"],
                    "start": lab["start"],
                    "detected_start": pd.NaT,
                    "onset_error_s": float("nan"),
                    "matched": False,
                }
            )
    return Score(len(labels), len(detected), len(tp_det), len(used), tuple(onsets), pd.DataFrame(rows))
