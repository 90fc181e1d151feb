"""Session 33: a JWT whose dots are percent-encoded twice (``%252E``: a URL carried in another URL's parameter, a
redirect's ``return_to``) or written as JSON ``\\u002e`` escapes was left whole by the logging redactor, ``scrub``
and every ``jwtobs scan`` engine (an integration probe's access-log lines). Single ``%2E`` was handled. Real RS256
tokens signed here; the marker's fingerprint is the plain token's."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jwtobs.redact import LoggingRedactor, scan, scrub
from jwtobs.redact.patterns import may_hold_secret_re, plain_separators

_ENGINES = ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else [])
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token() -> str:
    claims = {"iss": "https://id.example", "sub": "alice", "exp": int(time.time()) + 600}
    return jwt.encode(claims, _KEY, algorithm="RS256", headers={"kid": "k1"})


def _lines(token: str) -> dict[str, str]:
    return {
        "double_percent": "GET /login?return_to=%2Fcb%3Ft%3D" + token.replace(".", "%252E") + " HTTP/1.1",
        "double_percent_lower": "GET /cb?t=" + token.replace(".", "%252e") + "&x=1",
        "json_escape": '{"event":"call","token":"' + token.replace(".", "\\u002e") + '"}',
        "json_escape_upper": '{"t":"' + token.replace(".", "\\u002E") + '"}',
    }


@pytest.mark.parametrize("form", list(_lines("a.b.c")))
def test_the_redactor_finds_a_token_with_escaped_dots(form: str) -> None:
    token = _token()
    line = _lines(token)[form]
    out = scrub(line)
    assert isinstance(out, str)
    assert "[REDACTED:jwt:" in out and token.split(".")[2] not in out, out
    assert token.split(".")[0] not in out, out
    plain = scrub("x " + token)
    assert isinstance(plain, str)
    assert plain.split("[REDACTED:jwt:")[1][:17] == out.split("[REDACTED:jwt:")[1][:17]  # the same fingerprint
    assert may_hold_secret_re(line)


def test_the_logging_redactor_too(caplog: pytest.LogCaptureFixture) -> None:
    token = _token()
    log = logging.getLogger("tests.redact.s33")
    f = LoggingRedactor()
    log.addFilter(f)
    try:
        with caplog.at_level(logging.INFO, logger="tests.redact.s33"):
            for line in _lines(token).values():
                log.info("%s", line)
    finally:
        log.removeFilter(f)
    assert token.split(".")[2] not in caplog.text and caplog.text.count("[REDACTED:jwt:") == 4


@pytest.mark.parametrize("engine", _ENGINES)
def test_every_scan_engine_finds_them(engine: str, tmp_path: Path) -> None:
    token = _token()
    path = tmp_path / "access.log"
    clean = "".join(f"10.0.0.{n} - - GET /health 200 1.2.3\n" for n in range(50))
    path.write_text(clean + "\n".join(_lines(token).values()) + "\n" + clean)
    found = {f.line for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())}
    assert found == {51, 52, 53, 54}, found
    copy = tmp_path / "copy.log"
    scan.scrub_file(str(path), str(copy), engine=engine, force=True)
    text = copy.read_text()
    assert token.split(".")[2] not in text and text.count("[REDACTED:jwt:") == 4
    assert text.startswith(clean) and text.endswith(clean)


def test_plain_separators() -> None:
    assert plain_separators("a%252Eb%252ec%253D%2Ed\\u002ee\\u003D") == "a.b.c=.d.e="
    assert plain_separators("no escapes here") == "no escapes here"
