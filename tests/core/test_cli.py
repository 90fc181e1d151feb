"""The README's first command falls back to ``jwtobs example`` until the demo exists; it must work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_example_command(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    out = subprocess.run(
        [sys.executable, "-m", "jwtobs.cli", "example", "--events", str(events)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for reason in ("JWT_EXPIRED", "JWT_AUDIENCE_MISMATCH", "JWT_BAD_SIGNATURE", "JWT_UNSIGNED", "JWT_MALFORMED"):
        assert reason in out
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["outcome"] for e in lines].count("accepted") == 1 and len(lines) == 6
    assert "eyJ" not in events.read_text() and "eyJ" not in out


def test_cli_without_command_prints_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "jwtobs.cli"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "example" in proc.stdout
