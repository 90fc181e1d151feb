"""Score detected incidents against the simulator's ground-truth labels (``labels.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Score", "load_labels", "match_incidents"]

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


def load_labels(path: str | Path) -> pd.DataFrame:
    """The incidents of a simulator ``labels.json`` (labels without any failure are dropped: nothing to find)."""
    p = Path(path)
    if p.is_dir():
        p = p / "labels.json"
    data: dict[str, Any] = json.loads(p.read_text())
    lab = pd.DataFrame(data.get("incidents", []))
    if lab.empty:
        return pd.DataFrame(columns=["id", "kind", "start", "end", "count"])
    lab = lab[lab["count"] > 0].copy()
    for c in ("injected_at", "start", "end"):
        lab[c] = pd.to_datetime(lab[c], utc=True, format="ISO8601")
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
