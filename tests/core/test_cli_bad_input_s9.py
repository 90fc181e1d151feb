"""Bad input on the command line, run for real (subprocesses, real files): one line on stderr and exit 2,
never an internal error (exit 4), a run that never ends, output silently lost, a forged or unparsable line.

* ``simulate``/``demo`` ``--hours`` and a scenario's ``duration`` (0, negative, NaN, inf, over 31 days), seeds
  out of the 64-bit range;
* standard output closed (``>&-``) or failing (``/dev/full`` with buffered output), standard error closed;
* ``scan`` file names: non-ASCII under ``PYTHONIOENCODING=ascii``, a newline that would forge a finding line,
  bytes that are not UTF-8 (text and JSON output);
* ``report --out`` on a filesystem that fills up (a 64 KiB tmpfs as root; a file size limit otherwise): no
  partial report, an existing one left as it was.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

JWT = (
    "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAiYWxpY2UiLCAiZXhwIjogMTkwMDAwMDAwMH0."
    "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg"
)
LOG_LINE = f"GET /api Authorization: Bearer {JWT}\n"
KEY_ENV = {"JWTOBS_FINGERPRINT_KEY": "s9-test-key-s9-test-key-s9-test-key-0123"}
FINDING = re.compile(r":\d+:jwt:[0-9a-f]{4}-[0-9a-f]{12}$")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JWTOBS_DEBUG", "PYTHONIOENCODING")}
    env.update(KEY_ENV)
    env.update(extra)
    return env


def jwtobs(*args: str, cwd: Path | None = None, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``jwtobs ARGS`` in a child process (``kw``: more ``subprocess.run`` arguments)."""
    options: dict[str, Any] = {"capture_output": True, "env": _env(), **kw}
    return subprocess.run(
        [sys.executable, "-m", "jwtobs", *args],
        text=True,
        errors="surrogateescape",
        timeout=timeout,
        cwd=cwd,
        **options,
    )


def sh_jwtobs(redirect: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``jwtobs ARGS`` started by a shell with ``redirect`` applied (``>&-``: standard output closed)."""
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "jwtobs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=_env(),
    )


def one_line_error(proc: subprocess.CompletedProcess[str], command: str) -> str:
    """The run failed as bad input: exit 2, exactly one line on stderr, ``jwtobs <command>: ...``."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"jwtobs {command}: "), lines
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    return lines[0]


# -- 1. simulated hours and durations -------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["simulate", "demo"])
@pytest.mark.parametrize("hours", ["0", "-1", "nan", "inf", "-inf", "745", "1e300"])
def test_hours_out_of_range_is_bad_input(tmp_path: Path, command: str, hours: str) -> None:
    if command == "demo":
        pytest.importorskip("pandas")
    pytest.importorskip("jwt")
    out = tmp_path / "out"
    proc = jwtobs(command, f"--hours={hours}", "--out", str(out), timeout=30)
    line = one_line_error(proc, command)
    assert "31 days" in line
    assert not out.exists()  # stopped before anything was written


def test_largest_hours_accepted_is_documented() -> None:
    from jwtobs.simulate.scenario import MAX_DURATION, check_duration, default_scenario

    assert MAX_DURATION == 31 * 86_400
    assert check_duration(MAX_DURATION) == MAX_DURATION
    assert default_scenario(duration=0.01 * 3600).duration == 36.0
    docs = (Path(__file__).resolve().parents[2] / "docs" / "analysis.md").read_text()
    assert "at most 744 (31 days)" in docs


@pytest.mark.parametrize(
    "toml",
    [
        "duration = inf\n",
        "duration = -inf\n",
        "duration = 1e12\n",
        "duration = 0.0\n",
        "seed = 9223372036854775807\nduration = inf\n",
    ],
)
def test_scenario_duration_out_of_range_is_bad_input(tmp_path: Path, toml: str) -> None:
    pytest.importorskip("jwt")
    scenario = tmp_path / "s.toml"
    scenario.write_text(toml)
    proc = jwtobs("simulate", "--scenario", str(scenario), "--out", str(tmp_path / "out"), timeout=30)
    assert "scenario duration must be more than 0 and at most 31 days" in one_line_error(proc, "simulate")


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_seed_beyond_64_bits_is_bad_input(tmp_path: Path, command: str) -> None:
    if command == "demo":
        pytest.importorskip("pandas")
    pytest.importorskip("jwt")
    proc = jwtobs(command, "--seed", "1" + "0" * 40, "--hours", "0.01", "--out", str(tmp_path / "o"), timeout=30)
    assert "seed must be an integer in [-2**63, 2**63 - 1]" in one_line_error(proc, command)


def test_scenario_with_infinite_rates_is_bad_input(tmp_path: Path) -> None:
    pytest.importorskip("jwt")
    for toml in (
        'duration = 3600.0\n[[incident]]\nkind = "attack_burst"\nat = 60.0\nrate = inf\n',
        "duration = 3600.0\n[background]\nsleeps_per_day = inf\n",
    ):
        scenario = tmp_path / "s.toml"
        scenario.write_text(toml)
        proc = jwtobs("simulate", "--scenario", str(scenario), "--out", str(tmp_path / "out"), timeout=30)
        assert "finite" in one_line_error(proc, "simulate")


# -- 2. standard output closed or failing -----------------------------------------------------------------------
@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "app.log"
    p.write_text(LOG_LINE)
    return p


@pytest.mark.parametrize("args", [("scan", "app.log"), ("scan", "--format", "json", "app.log"), ("key", "new")])
def test_closed_stdout_is_one_line_and_exit_2(log: Path, args: Sequence[str]) -> None:
    proc = sh_jwtobs(">&-", *args, cwd=log.parent)
    line = one_line_error(proc, args[0])
    assert line.endswith("cannot write the output: standard output is closed")


def test_closed_stderr_does_not_change_the_result(log: Path) -> None:
    proc = sh_jwtobs("2>&-", "scan", "app.log", cwd=log.parent)
    assert proc.returncode == 0  # not an error escaping with no stderr to report it
    assert re.search(r"^app\.log:1:jwt:", proc.stdout, re.M)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("scan", "app.log"), ("key", "new")])
def test_buffered_output_to_a_full_device_is_one_line_and_exit_2(log: Path, args: Sequence[str]) -> None:
    env = _env()
    env.pop("PYTHONUNBUFFERED", None)  # block-buffered: the write fails when Python flushes at the end
    with open("/dev/full", "w") as full:
        proc = jwtobs(*args, cwd=log.parent, env=env, capture_output=False, stdout=full, stderr=subprocess.PIPE)
    line = one_line_error(proc, args[0])
    assert "No space left on device" in line


# -- 2/3. file names in scan output ----------------------------------------------------------------------------
FORGED = b"nl\nfake.log:9:jwt:0000-000000000000\n.log"  # would print a fake finding line of its own


def _names(tmp_path: Path, *, undecodable: bool = True) -> Path:
    """A directory of logs, each with one token, whose names are not plain ASCII text."""
    d = tmp_path / "logs"
    d.mkdir()
    raw = os.fsencode(d)
    for name in (b"caf\xc3\xa9.log", FORGED, b"b\\s.log") + ((b"uni\xe9\xff.log",) if undecodable else ()):
        with open(os.path.join(raw, name), "wb") as f:
            f.write(LOG_LINE.encode())
    return d


def test_scan_names_under_an_ascii_stdout(tmp_path: Path) -> None:
    d = _names(tmp_path)
    proc = jwtobs("scan", "--exit-code", "logs", cwd=tmp_path, env=_env(PYTHONIOENCODING="ascii"))
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    found = sorted(line.rsplit(":", 3)[0] for line in proc.stdout.splitlines() if FINDING.search(line))
    assert found == sorted(
        [
            "logs/b\\\\s.log",
            "logs/caf\\u00e9.log",
            "logs/nl\\nfake.log:9:jwt:0000-000000000000\\n.log",
            "logs/uni\\xe9\\xff.log",
        ]
    )
    assert proc.stdout.isascii() and d.is_dir()


def test_scan_text_names_cannot_forge_a_finding(tmp_path: Path) -> None:
    _names(tmp_path, undecodable=False)
    proc = jwtobs("scan", "logs", cwd=tmp_path, env=_env(PYTHONIOENCODING="utf-8"))
    assert proc.returncode == 0, proc.stderr
    findings = [line for line in proc.stdout.splitlines() if FINDING.search(line)]
    assert len(findings) == 3  # one per file, each on one line
    assert not any(line.startswith(("fake.log", ".log")) for line in proc.stdout.splitlines())
    assert "logs/nl\\nfake.log:9:jwt:0000-000000000000\\n.log:1:jwt:" in proc.stdout
    assert "logs/café.log:1:jwt:" in proc.stdout  # printable Unicode is shown as it is on a UTF-8 stdout
    table = [line for line in proc.stdout.splitlines() if line.startswith("  logs/")]
    assert len(table) == 3  # the per-file summary too


def test_scan_stderr_lines_are_one_line_per_name(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "empty\nfake.log").write_bytes(b"")
    proc = jwtobs("scan", "logs", cwd=tmp_path)
    notes = [line for line in proc.stderr.splitlines() if line.startswith("jwtobs scan: note: logs/")]
    assert notes == ["jwtobs scan: note: logs/empty\\nfake.log is empty"]
    assert not any(line.startswith("fake.log") for line in proc.stderr.splitlines())


def test_scan_json_is_valid_utf8_json(tmp_path: Path) -> None:
    _names(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "jwtobs", "scan", "--format", "json", "logs"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    objects = []
    for raw in proc.stdout.splitlines():
        obj = json.loads(raw.decode("utf-8"))
        # every string is real Unicode: a strict parser (or an encoder) would reject a lone surrogate
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
        objects.append(obj)
    findings = {o["path"]: o for o in objects if o["type"] == "finding"}
    assert set(findings) == {
        "logs/café.log",
        "logs/uni\\xe9\\xff.log",
        "logs/nl\nfake.log:9:jwt:0000-000000000000\n.log",
        "logs/b\\s.log",
    }
    assert findings["logs/uni\\xe9\\xff.log"]["path_escaped"] is True
    assert "path_escaped" not in findings["logs/café.log"] and "path_escaped" not in findings["logs/b\\s.log"]
    summary = objects[-1]
    assert summary["type"] == "summary" and "logs/uni\\xe9\\xff.log" in summary["by_file"]


# -- 4. report --out on a filesystem that fills up --------------------------------------------------------------
@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pandas")
    pytest.importorskip("jwt")
    out = tmp_path_factory.mktemp("sim")
    proc = jwtobs("simulate", "--hours", "1", "--no-parquet", "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out / "events"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (the report is some 300 KB): mounting needs root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))


def _check_failed_report(proc: subprocess.CompletedProcess[str], out: Path, old: bytes) -> None:
    line = one_line_error(proc, "report")
    assert line.startswith(f"jwtobs report: {out}: cannot write: "), line
    assert out.read_bytes() == old  # the existing report as it was: no truncated HTML
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left behind


def test_report_on_a_full_filesystem_leaves_no_partial_file(events: Path, small_tmpfs: Path) -> None:
    out = small_tmpfs / "report.html"
    old = b"<html>the previous report</html>\n"
    out.write_bytes(old)
    proc = jwtobs("report", str(events), "--out", str(out), timeout=300)
    _check_failed_report(proc, out, old)
    assert "No space left on device" in proc.stderr


def test_report_over_the_file_size_limit_leaves_no_partial_file(events: Path, tmp_path: Path) -> None:
    d = tmp_path / "reports"
    d.mkdir()
    out = d / "report.html"
    old = b"<html>the previous report</html>\n"
    out.write_bytes(old)
    proc = jwtobs("report", str(events), "--out", str(out), timeout=300, preexec_fn=_limit_file_size)
    _check_failed_report(proc, out, old)
