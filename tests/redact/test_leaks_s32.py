"""Session 32: a traceback's source lines in log files, as ``jwtobs scan`` and ``jwtobs redact`` read them.

Session 31 taught the scrubber that on a line after a frame line ('  File "app.py", line 42, in f') an expression
(``password=form.password``, ``api_key=get_api_key()``) is code, not a secret. The scanner scrubs a file's candidate
lines one by one, so it read such a line without its frame line and reported the expression as a credential (a
finding holding no secret, which a reader must check by hand); a redacted copy replaced it. Now a changed indented
line is scrubbed again with the frame line before it. Also: an OAuth code passed as ``code=request.args["code"]`` on
such a line was redacted (the form-code detector took ``request.args`` for the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtobs.redact import scan, scrub
from tests.redact.test_leaks_s31 import _LITERAL, _traceback_of

_ENGINES = ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else [])
_EXPRESSIONS = ["by_subscript", "by_attribute", "by_call", "in_fstring_urls", "in_fstring_header"]


def _log(tmp_path: Path, traceback_text: str) -> Path:
    """A service log with the traceback between ordinary lines, as logging's default format writes it."""
    path = tmp_path / "app.log"
    before = "".join(f"2026-12-06 10:00:{n:02d},120 INFO app: GET /orders/{n} 200\n" for n in range(40))
    after = "".join(f"2026-12-06 10:01:{n:02d},480 INFO app: GET /health 200\n" for n in range(40))
    path.write_text(before + "2026-12-06 10:00:59,001 ERROR app: request failed\n" + traceback_text + after)
    return path


def _found(path: Path, engine: str) -> set[int]:
    return {f.line for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())}


@pytest.mark.parametrize("engine", _ENGINES)
def test_the_scanner_reads_a_source_line_with_its_frame_line(engine: str, tmp_path: Path) -> None:
    """Before: 1-2 findings per traceback (the expressions), with every engine; a redacted copy changed them."""
    for name in _EXPRESSIONS:
        text = _traceback_of(name, tmp_path)
        log = _log(tmp_path, text)
        assert _found(log, engine) == set(), (name, text)
        copy = tmp_path / "copy.log"
        scan.scrub_file(str(log), str(copy), engine=engine, force=True)
        assert copy.read_text() == log.read_text(), name


@pytest.mark.parametrize("engine", _ENGINES)
def test_a_literal_on_a_source_line_is_still_found_and_redacted(engine: str, tmp_path: Path) -> None:
    text = _traceback_of("by_literal", tmp_path)
    log = _log(tmp_path, text)
    lines = log.read_text().splitlines()
    source = next(n for n, line in enumerate(lines, 1) if _LITERAL in line)
    assert _found(log, engine) == {source}
    copy = tmp_path / "copy.log"
    scan.scrub_file(str(log), str(copy), engine=engine, force=True)
    assert _LITERAL not in copy.read_text()
    # an expression on an indented line after anything but a frame line is a field as before (fails closed)
    plain = tmp_path / "plain.log"
    plain.write_text("config:\n    password=settings.DB_PASSWORD\n")
    assert _found(plain, engine) == {2}


def test_an_oauth_code_read_from_the_request_on_a_source_line_is_code() -> None:
    """``fetch_token(code=request.args["code"])`` in a traceback: before, ``code=[REDACTED:query_token:...]["code"]``
    (and ``request.args.get(`` taken as the code); a code written in the line is still redacted, and so is a code
    outside a source line."""
    frame = 'Traceback (most recent call last):\n  File "/srv/app/auth.py", line 17, in callback\n'
    for value in ('request.args["code"])', 'request.args.get("code"))', "code)", "self.code, state=s)"):
        text = frame + f"    token = oauth.fetch_token(url, code={value}\nOAuthError: invalid_grant\n"
        assert scrub(text) == text, value
    code = "4/0AX4XfWh7mYk2QpLzT0aBcDeFgHiJkLmNoPqR"
    assert code not in scrub(frame + f"    token = oauth.fetch_token(url, code={code})\n")
    assert code not in scrub(f"POST /token grant_type=authorization_code code={code}")
