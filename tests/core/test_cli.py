"""The README's first command falls back to ``jwtobs example`` until the demo exists; it must work."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any


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


def _example(events: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jwtobs", "example", "--events", events],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def _one_line(proc: subprocess.CompletedProcess[str], start: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
    assert lines[0].startswith(f"jwtobs example: {start}"), lines


def test_example_events_that_cannot_be_written_are_one_line_and_exit_2(tmp_path: Path) -> None:
    """``--events`` where the events cannot be appended (session 20: each of these dropped them with the sink's
    logged warning and exited 0, and a ``.gz`` file got plain lines appended to its compressed data)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x\n")
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00")
    cases = {str(tmp_path): "cannot write: ", str(a_file / "events.jsonl"): "cannot write: ", str(gz): "events are"}
    if Path("/dev/full").exists():
        cases["/dev/full"] = "not a regular file"
    for events, start in cases.items():
        _one_line(_example(events), f"{events}: {start}")
    assert gz.read_bytes() == b"\x1f\x8b\x08\x00"
    # a write that fails once running (the file size limit standing in for a full disk): one line, exit 2
    out = tmp_path / "limited.jsonl"
    limited = _example(str(out), preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200)))
    _one_line(limited, f"{out}: cannot write the events (6 of 6 lost)")


def test_a_scenario_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    """``simulate --scenario`` with bytes that are not UTF-8 (a UTF-16 file from an editor): the one line names the
    file (before session 20 it was the codec's message alone: "'utf-8' codec can't decode byte 0xff ...")."""
    toml = tmp_path / "scenario.toml"
    toml.write_bytes("seed = 1\n".encode("utf-16"))
    proc = subprocess.run(
        [sys.executable, "-m", "jwtobs", "simulate", "--scenario", str(toml), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"jwtobs simulate: {toml}: not a TOML scenario ("), lines
