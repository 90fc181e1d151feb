"""Session 37's probe of the running pipeline: processes that end without ``atexit``, disks that fill, limits that
bite, and configurations that could only be misread.

Real HS256 tokens signed with keys generated here, real PyJWT ``jwt.decode`` inside ``jwtobs.wrap``; the processes
are real (``multiprocessing`` with ``fork`` and ``forkserver``, resource limits set in a child). Each test failed
before session 37 (see docs/core.md for the behaviour before)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs.events import JsonlSink
from jwtobs.exceptions import ConfigurationError
from jwtobs.rolling import RollingJsonlSink

_ROOT = str(Path(__file__).resolve().parents[2])

#: the tokens of the child scripts: a key made per run, one in three expired (the verdicts are checked too)
_TOKENS = """
import os, sys, time, jwt, jwtobs
KEY = os.urandom(32)
decode = jwtobs.wrap(jwt.decode)
def run(n):
    for i in range(n):
        exp = int(time.time()) + (-100 if i % 3 == 0 else 300)
        token = jwt.encode({"sub": "alice", "exp": exp}, KEY, algorithm="HS256")
        try:
            assert decode(token, KEY, algorithms=["HS256"])["sub"] == "alice" and i % 3
        except jwt.ExpiredSignatureError:
            assert i % 3 == 0
"""


def _child(
    tmp_path: Path, script: str, *args: str, timeout: float = 60, **variables: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (after :data:`_TOKENS`) as a file (``forkserver`` children import the main module from it),
    with the ``JWTOBS_*`` environment ``variables`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_")}
    env.update(variables)
    env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
    main = tmp_path / "child_main.py"
    main.write_text(_TOKENS + textwrap.dedent(script))
    return subprocess.run(
        [sys.executable, str(main), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "a cut line was left in the file"
    return [json.loads(line) for line in data.splitlines()]


# -- 1. a multiprocessing child ends with os._exit: no atexit handler runs there ------------------------------------
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_children_write_their_events(tmp_path: Path, method: str) -> None:
    """Processes and a pool's workers started with ``fork`` or ``forkserver`` validate, never flush, and end: every
    event is in the file. Before: only the parent's 30 of 300 (the children's 270 lost, counted nowhere)."""
    path = tmp_path / "events.jsonl"
    result = _child(
        tmp_path,
        f"""
        import multiprocessing as mp
        def task(n):
            run(n)
        if __name__ == "__main__":  # (configured by the environment: forkserver's children start afresh)
            ctx = mp.get_context({method!r})
            procs = [ctx.Process(target=task, args=(90,)) for _ in range(2)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(30)
            assert [p.exitcode for p in procs] == [0, 0]
            pool = ctx.Pool(2)
            pool.map(task, [45, 45])
            pool.close()
            pool.join()
            run(30)
        """,
        JWTOBS_EVENTS_PATH=str(path),
        JWTOBS_FINGERPRINT_KEY="k" * 16,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    events = _lines(path)
    assert len(events) == 300
    assert sum(e["outcome"] == "rejected" for e in events) == 30 + 15 * 2 + 30 + 10  # one in three of each run


# -- 2. a write that a full disk or RLIMIT_FSIZE cuts keeps its whole lines -----------------------------------------
_FSIZE = """
import resource
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))   # (Python ignores SIGXFSZ: writes fail with EFBIG)
where = sys.argv[1]
state = jwtobs.configure(fingerprint_key="k" * 16, from_env=False, **{sys.argv[2]: where})
run(200)
jwtobs.flush()
(sink,) = state.sinks
print(json.dumps([sink.written, sink.dropped]))
"""


@pytest.mark.parametrize("option", ["events_path", "events_dir"])
def test_a_write_stopped_by_the_file_size_limit_keeps_the_whole_lines_that_fit(tmp_path: Path, option: str) -> None:
    """A batch of 200 events (about 100 KB) meets a 20 000-byte file size limit: the lines that fit stay, counted as
    written, the rest dropped and counted; no cut line. Before: the whole batch was taken back, 0 written, 200
    dropped (with a disk 100 KiB from full, a 150 KiB batch wrote nothing)."""
    where = tmp_path / ("events.jsonl" if option == "events_path" else "events")
    result = _child(tmp_path, "import json\n" + _FSIZE, str(where), option)
    assert result.returncode == 0, result.stderr[-2000:]
    written, dropped = json.loads(result.stdout.strip().splitlines()[-1])
    files = [where] if option == "events_path" else sorted(where.rglob("*.jsonl"))
    events = [e for f in files for e in _lines(f)]
    assert written + dropped == 200
    assert 30 <= written == len(events)  # a line is about 480 bytes: 41 fit
    assert sum(f.stat().st_size for f in files) <= 20_000 * len(files)


def test_whole_lines_are_kept_after_the_newline_ending_a_cut_line(tmp_path: Path) -> None:
    """The bookkeeping of a write stopped part way when it starts by ending a line cut earlier: that newline is no
    record; whole lines after it are."""
    sink = JsonlSink(tmp_path / "e.jsonl")
    sink._cut_in = (1, 2)
    data = b"\n" + b'{"a":1}\n' * 3
    assert sink._keep_whole(data, 1 + 8 * 2 + 3, True) == (2, 17)
    assert sink._cut_in is None
    sink._cut_in = (1, 2)
    assert sink._keep_whole(data, 1, True) == (0, 1)  # only the newline: the cut line is ended, nothing written
    assert sink._keep_whole(b'{"a":1}\n' * 2, 5, False) == (0, 0)
    sink.close()


# -- 3. a relative events path is where it was when configured ------------------------------------------------------
def test_a_relative_events_path_does_not_follow_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: after a ``chdir`` (a daemon's ``chdir("/")``) the events went to a second file under the new working
    directory (100 in each of two files)."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    key = os.urandom(32)
    jwtobs.configure(events_path="events.jsonl", fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    token = jwt.encode({"sub": "alice"}, key, algorithm="HS256")
    decode(token, key, algorithms=["HS256"])
    jwtobs.flush()
    monkeypatch.chdir(second)
    decode(token, key, algorithms=["HS256"])
    jwtobs.flush()
    assert len(_lines(first / "events.jsonl")) == 2
    assert not (second / "events.jsonl").exists()


def test_a_path_under_the_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "~/events.jsonl" made a directory named "~" in the working directory."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    jwtobs.configure(events_path="~/events.jsonl", events_dir="~/rolled", fingerprint_key="k" * 16, from_env=False)
    key = os.urandom(32)
    jwtobs.wrap(jwt.decode)(jwt.encode({"sub": "alice"}, key, algorithm="HS256"), key, algorithms=["HS256"])
    jwtobs.flush()
    assert len(_lines(home / "events.jsonl")) == 1
    assert (home / "rolled").is_dir() and not (cwd / "~").exists()


# -- 4. configure() refuses what it could only misread ---------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"event_path": "x.jsonl"},  # a typo: ignored before
        {"service": 5},  # written as a number into every event before
        {"tenant_claim": 5},
        {"defer": "no"},  # deferred before
        {"clock": "time"},  # every record lost before (counted)
        {"log_events": "yes"},  # a sink failing on every record before
        {"sinks": print},  # a bare TypeError before
        {"kids": 5},
        {"issuers": [1]},
        {"events_path": 5},
        {"fingerprint_key": 32},  # 32 zero bytes before: a key anyone knows
        {"fingerprint_key_id": 5},
    ],
    ids=lambda o: next(iter(o)),
)
def test_configure_refuses_options_it_could_only_misread(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        jwtobs.configure(from_env=False, **{"fingerprint_key": "k" * 16, **options})


def test_configure_reads_one_string_as_one_value_and_none_as_nothing(tmp_path: Path) -> None:
    """``issuers="https://idp"`` trusted each character before, not the issuer; ``issuers=None``/``sinks=None``
    raised ``TypeError``; a ``bytes`` ``events_dir`` raised ``TypeError`` (an ``events_path`` was taken)."""
    state = jwtobs.configure(
        issuers="https://idp.example",
        kids="k1",
        sinks=None,
        events_dir=os.fsencode(tmp_path / "dir"),
        fingerprint_key="k" * 16,
        from_env=False,
    )
    assert state.guard.issuer("https://idp.example") == "https://idp.example"
    assert state.guard.issuer("h") == "_unknown"
    assert state.guard.kid("k1") == "k1"
    (sink,) = state.sinks
    assert isinstance(sink, RollingJsonlSink) and sink.directory == str(tmp_path / "dir")
    jwtobs.configure(issuers=None, kids=None, fingerprint_key="k" * 16, from_env=False)


# -- 5. no descriptor left when configure() runs -------------------------------------------------------------------
def test_configure_with_an_events_dir_and_no_descriptor_left_does_not_raise(tmp_path: Path) -> None:
    """Before: ``configure(events_dir=...)`` raised ``OSError`` (EMFILE) from the lazy import of its sink; now the
    records are dropped and counted, and the validations go on."""
    result = _child(
        tmp_path,
        """
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        held = []
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        state = jwtobs.configure(events_dir=sys.argv[1], fingerprint_key="k" * 16, from_env=False, defer=False)
        run(9)
        for fd in held:
            os.close(fd)
        print(state.telemetry.events_dropped())
        """,
        str(tmp_path / "events"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "9"


def test_an_environment_flag_with_an_unknown_value_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: ``JWTOBS_DEFER=maybe`` (and ``JWTOBS_LOG_EVENTS=2``) was ignored without a word."""
    monkeypatch.setenv("JWTOBS_DEFER", "maybe")
    monkeypatch.setattr(jwtobs.config, "_ENV_WARNED", set(), raising=False)
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        for _ in range(2):
            state = jwtobs.configure(fingerprint_key="k" * 16)
    assert state.defer is True  # the default, as before
    assert caplog.text.count("JWTOBS_DEFER='maybe' is none of") == 1
