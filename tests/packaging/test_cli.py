"""The CLI framework (jwtobs/cli.py): one line on stderr and a documented exit code for bad input, missing
extras and bugs; ``jwtobs key new``; fingerprint keys that are too short are refused; the ephemeral-key
warning is given once per process and says how to fix it."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import jwtobs
from jwtobs import cli, fingerprint
from jwtobs.fingerprint import EphemeralKeyWarning, Fingerprinter


def run_cli(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_")}
    return subprocess.run(
        [sys.executable, "-m", "jwtobs", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def test_key_new_prints_a_strong_key_that_is_accepted(tmp_path: Path) -> None:
    proc = run_cli("key", "new")
    assert proc.returncode == 0 and proc.stderr == ""
    key = proc.stdout.strip()
    assert len(base64.urlsafe_b64decode(key + "=")) == 32  # 256 random bits, base64url
    assert key != run_cli("key", "new").stdout.strip()
    Fingerprinter(key)  # accepted as is
    (tmp_path / "a.log").write_text("ok\n")
    scan = run_cli("scan", tmp_path / "a.log", env={"JWTOBS_FINGERPRINT_KEY": key})
    assert scan.returncode == 0 and "JWTOBS_FINGERPRINT_KEY" not in scan.stderr


@pytest.mark.parametrize("key", ["abc", b"k" * 15, "é" * 7])  # 3, 15, 14 bytes
def test_short_key_is_refused(key: str | bytes) -> None:
    with pytest.raises(jwtobs.ConfigurationError, match=r"too short.*jwtobs key new") as info:
        Fingerprinter(key)
    assert (key if isinstance(key, str) else key.decode()) not in str(info.value)  # the key is never shown
    with pytest.raises(jwtobs.ConfigurationError, match="too short"):
        jwtobs.configure(fingerprint_key=key, from_env=False)
    Fingerprinter(b"k" * 16)  # 16 bytes: the minimum


def test_short_key_from_environment_is_one_clear_line() -> None:
    proc = run_cli("scan", "a.log", env={"JWTOBS_FINGERPRINT_KEY": "abc"})
    assert proc.returncode == cli.EXIT_BAD_INPUT
    assert proc.stderr.strip().splitlines() == [
        "jwtobs scan: JWTOBS_FINGERPRINT_KEY: fingerprint key too short (3 bytes; at least 16 are needed, 32 random "
        "bytes recommended): make one with `jwtobs key new`"
    ]


def test_ephemeral_key_warning_once_per_process_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWTOBS_FINGERPRINT_KEY", raising=False)
    monkeypatch.setattr(fingerprint, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            fingerprint.from_environment()
            jwtobs.config.reset()
            jwtobs.config.current()
    msgs = [str(w.message) for w in caught if issubclass(w.category, EphemeralKeyWarning)]
    assert len(msgs) == 1
    assert "jwtobs key new" in msgs[0] and "JWTOBS_FINGERPRINT_KEY" in msgs[0]


def test_scan_notes_a_missing_key_once(tmp_path: Path) -> None:
    """Fingerprints printed with a random key: the note (how to fix it) is given once, whatever the file count."""
    leak = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0\n"
    for name in ("a.log", "b.log"):
        (tmp_path / name).write_text(leak)
    proc = run_cli("scan", tmp_path / "a.log", tmp_path / "b.log")
    assert proc.returncode == 0 and proc.stdout.count(":jwt:") == 2
    assert proc.stderr.count("JWTOBS_FINGERPRINT_KEY is not set") == 1 and "jwtobs key new" in proc.stderr


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "dir").mkdir()
    (tmp / "empty.log").write_bytes(b"")
    (tmp / "bin.dat").write_bytes(bytes(range(256)) * 64)
    (tmp / "bad.gz").write_bytes(gzip.compress(b"INFO request ok\n" * 100_000)[:200])
    (tmp / "bad.parquet").write_bytes(b"PAR1" + b"\0" * 100)
    (tmp / "text.log").write_text("hello\n")
    return {p.name: p for p in tmp.iterdir()} | {"missing": tmp / "missing.jsonl"}


def test_input_path_and_file_kind(tmp_path: Path) -> None:
    paths = _bad_inputs(tmp_path)
    for name, why in (("missing", "no such file"), ("dir", "is a directory"), ("empty.log", "empty file")):
        with pytest.raises(cli.CommandError, match=why) as info:
            cli.input_path(paths[name])
        assert info.value.code == cli.EXIT_BAD_INPUT
    assert cli.input_path(paths["dir"], directory=True) == paths["dir"]
    assert cli.input_path(paths["empty.log"], empty=True) == paths["empty.log"]
    kinds = {name: cli.file_kind(p) for name, p in paths.items() if name not in ("missing", "dir")}
    assert kinds == {"empty.log": "empty", "bin.dat": "binary", "bad.gz": "gzip", "bad.parquet": "parquet",
                     "text.log": "text"}  # fmt: skip


def test_main_turns_errors_into_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """CommandError, ConfigurationError, OSError, a missing optional module and a bug: one line, documented code."""

    def raiser(exc: BaseException) -> object:
        def run(args: object) -> int:
            raise exc

        return run

    cases: list[tuple[BaseException, int, str]] = [
        (cli.CommandError("x.jsonl: not an events file"), 2, "jwtobs key: x.jsonl: not an events file"),
        (jwtobs.ConfigurationError("bad setting"), 2, "jwtobs key: bad setting"),
        (FileNotFoundError(2, "No such file or directory", "nope.jsonl"), 2, "jwtobs key: nope.jsonl: No such file"),
        (ModuleNotFoundError("No module named 'pandas'", name="pandas"), 3, "pip install 'jwtobs[analysis]'"),
        (ModuleNotFoundError("x", name="opentelemetry.sdk.trace"), 3, "pip install 'jwtobs[sdk]'"),
        (ValueError("secret eyJhbGciOiJIUzI1NiJ9.eyJ9.sig"), 4, "internal error (ValueError); run with JWTOBS_DEBUG=1"),
    ]
    for exc, code, line in cases:
        monkeypatch.setattr(cli, "_key_new", raiser(exc))
        assert cli.main(["key", "new"]) == code
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and line in err and "eyJ" not in err, err


def test_commands_of_a_missing_extra_are_listed_and_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    for mod in [m for m in sys.modules if m.startswith("jwtobs.analysis")]:
        monkeypatch.delitem(sys.modules, mod)
    parser = cli.build_parser()
    assert "report" in parser.format_help()
    code = cli.main(["report", "--out", "x.html", "events.jsonl"])
    assert code == cli.EXIT_MISSING_EXTRA


def test_help_of_a_command_whose_extra_is_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    for mod in [m for m in sys.modules if m.startswith("jwtobs.analysis")]:
        monkeypatch.delitem(sys.modules, mod)
    for argv in (["report", "--help"], ["report", "-h"], ["report", "events.jsonl", "--help"]):
        assert cli.main(argv) == cli.EXIT_OK, argv
        out, err = capsys.readouterr()
        assert out.startswith(f"usage: jwtobs {argv[0]}") and "pip install 'jwtobs[analysis]'" in out and not err


def test_usage_errors_exit_2() -> None:
    for argv in (["nosuch"], ["key"], ["key", "new", "--bogus"], []):
        proc = run_cli(*argv)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, argv


BAD_INPUT_TABLE = [
    # (command, input, expected exit code) - every row: one line on stderr naming the input, no traceback
    *[("scan --exit-code", name, 2) for name in ("missing", "dir", "bin.dat", "bad.gz", "bad.parquet")],
    *[("report", name, 2) for name in ("missing", "dir", "empty.log", "bin.dat", "bad.gz", "bad.parquet", "text.log")],
    *[("scrub", name, 2) for name in ("missing", "dir", "bin.dat", "bad.gz", "bad.parquet")],
]


@pytest.mark.parametrize(("command", "name", "code"), BAD_INPUT_TABLE)
def test_bad_input_table(
    command: str,
    name: str,
    code: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #15's table through the real commands (in process): missing path, directory, binary file, empty
    file, a file of the wrong kind, a corrupt gzip or Parquet file."""
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", "cli-table-fingerprint-key")
    monkeypatch.chdir(tmp_path)
    path = _bad_inputs(tmp_path)[name]
    argv = [*command.split(), str(path)]
    argv += ["--out", str(tmp_path / "r.html")] if command == "report" else []
    argv += [str(tmp_path / "out.log")] if command == "scrub" else []
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("jwtobs: note:")]
    assert len(lines) == 1 and lines[0].startswith(f"jwtobs {argv[0]}:"), err
    assert path.name in lines[0] or "nothing was scanned" in lines[0], err  # scan: an empty directory scans nothing
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "out.log").exists()
