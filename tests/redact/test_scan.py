"""``jwtobs scan`` and ``jwtobs scrub`` through the real CLI entry, on files written to tmp_path.

Tokens are signed here with generated keys (RSA, EC, Ed25519, HMAC) by PyJWT; the fingerprint key is fixed
through ``JWTOBS_FINGERPRINT_KEY`` (what the CLI reads), so every reported fingerprint must equal
``config.current().fingerprinter.token(credential)`` — the ``token_fp`` of the token's validation event.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtobs import config
from jwtobs.cli import main
from jwtobs.redact import cli as redact_cli
from jwtobs.redact import patterns as p
from jwtobs.redact import scan
from jwtobs.redact import scrub as scrub_text
from jwtobs.redact.scan import hyperscan_engine as scan_hyperscan
from jwtobs.redact.scan import prefilter as scan_prefilter
from jwtobs.redact.scan import report as scan_report
from jwtobs.redact.scrub import Scrubber

KEY = "scan-test-fingerprint-key"
OPAQUE = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
QUERY_VALUE = "8xLOxBtZp8aQz9Y3vKcT-1wE_r2uN4sPq7"
API_KEY = "sk_live_51HqLyjWDarjtT1zdp7dcXYZ"
PASSWORD = "S3cr3t!pa55-w0rd"
COOKIE = "Qm9iLXNlc3Npb24tMTIzNDU2"
BASIC = "YWxpY2U6Y29ycmVjdCBob3JzZQ=="
DB_PASSWORD = "hunter2pass"

HAVE_HYPERSCAN = scan.default_engine() == "hyperscan"
ENGINES = ["hyperscan", "python"] if HAVE_HYPERSCAN else ["python"]


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()


def _claims(i: int) -> dict[str, Any]:
    return {"sub": f"user-{i}", "iss": "https://issuer.test", "aud": "billing-api", "exp": 4102444800}


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    toks = {
        "rs256": jwt.encode(_claims(1), rsa_key, algorithm="RS256", headers={"kid": "k-1"}),
        "es256": jwt.encode(_claims(2), ec_key, algorithm="ES256"),
        "eddsa": jwt.encode(_claims(3), ed_key, algorithm="EdDSA"),
        "hs256": jwt.encode(_claims(4), b"h" * 32, algorithm="HS256"),
    }
    # each really verifies with its key (real tokens, not look-alikes)
    assert jwt.decode(toks["rs256"], rsa_key.public_key(), algorithms=["RS256"], audience="billing-api")
    assert jwt.decode(toks["es256"], ec_key.public_key(), algorithms=["ES256"], audience="billing-api")
    assert jwt.decode(toks["eddsa"], ed_key.public_key(), algorithms=["EdDSA"], audience="billing-api")
    assert jwt.decode(toks["hs256"], b"h" * 32, algorithms=["HS256"], audience="billing-api")
    return toks


def fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


def _leaky_lines(t: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(log line, [(kind, credential)]) — the forms a real log holds."""
    return [
        (f'{{"event": "upstream call", "headers": {{"Authorization": "Bearer {t["rs256"]}"}}}}', [("jwt", t["rs256"])]),
        (
            f'10.0.0.7 - - [29/Nov/2026:01:02:03 +0000] "GET /cb?access_token={QUERY_VALUE}&x=1 HTTP/1.1" 200 12',
            [("query_token", QUERY_VALUE)],
        ),
        (f"2026-11-29 01:02:03 WARNING rejected token {t['es256']} (expired)", [("jwt", t["es256"])]),
        (f"authorization: bearer {OPAQUE}", [("bearer", OPAQUE)]),
        (f"AUTHORIZATION: BASIC {BASIC}", [("basic", BASIC)]),
        (f"X-API-Key: {API_KEY}", [("api_key", API_KEY)]),
        (f'{{"user": "alice", "password": "{PASSWORD}"}}', [("secret_field", PASSWORD)]),
        (f"Cookie: sid={COOKIE}", [("cookie", COOKIE)]),
        (f"connecting to postgres://app:{DB_PASSWORD}@db:5432/orders", [("url_password", DB_PASSWORD)]),
        (f"DEBUG token={t['eddsa']} and again {t['hs256']}", [("jwt", t["eddsa"]), ("jwt", t["hs256"])]),
    ]


CLEAN_LINES = [
    '{"timestamp": "2026-11-29T01:02:03Z", "level": "info", "event": "order shipped", "request_id": '
    '"4f9c1c2e-8b1d-4f7e-9a51-0c8a3c7e6d21", "duration_ms": 12.5}',
    '10.1.2.3 - - [29/Nov/2026:01:02:03 +0000] "GET /api/v1/orders?page=2 HTTP/1.1" 200 512 '
    '"https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"',
    '{"schema": 1, "outcome": "accepted", "library": "pyjwt", "token_fp": "t-0123456789ab", "token_bytes": 812}',
    "\tat com.example.orders.OrderService.process(OrderService.java:42)",
    "they say the key to every new view is money; eyes everywhere",
]


def _write_log(path: Path, t: dict[str, str], repeat: int = 1) -> list[tuple[int, str, str]]:
    """Writes clean and leaky lines; returns the expected findings (line, kind, credential)."""
    expected = []
    lines = []
    for _ in range(repeat):
        for i, (line, found) in enumerate(_leaky_lines(t)):
            lines.append(CLEAN_LINES[i % len(CLEAN_LINES)])
            lines.append(line)
            expected += [(len(lines), kind, cred) for kind, cred in found]
    path.write_text("\n".join(lines) + "\n")
    return expected


def _json_findings(out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert objs[-1]["type"] == "summary"
    assert all(o["type"] == "finding" for o in objs[:-1])
    return objs[:-1], objs[-1]


def _secrets(t: dict[str, str]) -> list[str]:
    return [*t.values(), OPAQUE, QUERY_VALUE, API_KEY, PASSWORD, COOKIE, BASIC, DB_PASSWORD]


# -- scan ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_scan_findings_per_kind_with_event_fingerprints(
    tmp_path: Path, tokens: dict[str, str], engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    expected = _write_log(log, tokens, repeat=3)
    assert main(["scan", "--format", "json", "--engine", engine, str(log)]) == 0
    captured = capsys.readouterr()
    findings, summary = _json_findings(captured.out)
    got = [(f["line"], f["kind"], f["fingerprint"]) for f in findings]
    assert got == [(line, kind, fp(cred)) for line, kind, cred in expected]
    assert all(f["path"] == str(log) for f in findings)
    assert summary["findings"] == len(expected)
    assert summary["by_kind"] == {
        kind: sum(1 for _, k, _ in expected if k == kind) for kind in {k for _, k, _ in expected}
    }
    assert summary["by_file"] == {str(log): len(expected)}
    assert summary["lines"] == 2 * len(_leaky_lines(tokens)) * 3
    assert summary["errors"] == []
    for secret in _secrets(tokens):
        assert secret not in captured.out and secret not in captured.err
    assert "order shipped" not in captured.out  # no line content either


def test_jws_fingerprint_equals_validation_event_token_fp(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import jwtobs

    events: list[Any] = []
    jwtobs.configure(sinks=[events.append])  # key from JWTOBS_FINGERPRINT_KEY, as the CLI
    decode = jwtobs.wrap(jwt.decode)
    with pytest.raises(jwt.InvalidSignatureError):
        decode(tokens["hs256"], b"x" * 32, algorithms=["HS256"], audience="billing-api")
    jwtobs.flush()
    (tmp_path / "a.log").write_text(f"rejected Authorization: Bearer {tokens['hs256']}\n")
    config.reset()
    assert main(["scan", "--format", "json", str(tmp_path / "a.log")]) == 0
    findings, _ = _json_findings(capsys.readouterr().out)
    assert [f["fingerprint"] for f in findings] == [events[0].token_fp]


def test_text_format_and_summary_table(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    exp_a = _write_log(a, tokens)
    b.write_text(f"ok\nAuthorization: Bearer {tokens['rs256']}\n")
    assert main(["scan", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    finding_lines = [ln for ln in lines if ln.startswith(str(tmp_path))]
    want = [f"{a}:{line}:{kind}:{fp(cred)}" for line, kind, cred in exp_a] + [f"{b}:2:jwt:{fp(tokens['rs256'])}"]
    assert finding_lines == want
    total = len(want)
    assert f"{total} findings in 2 of 2 files" in out
    table = out[out.index("kind") :]
    assert table.startswith("kind")
    counts = {
        ln.split()[0]: int(ln.split()[1])
        for ln in table.splitlines()[1:]
        if len(ln.split()) == 2 and ln.split()[1].isdigit()
    }
    assert counts["jwt"] == sum(1 for _, k, _ in exp_a if k == "jwt") + 1
    assert counts[str(a)] == len(exp_a) and counts[str(b)] == 1
    for secret in _secrets(tokens):
        assert secret not in out


def test_exit_codes(tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text("\n".join(CLEAN_LINES) + "\n")
    leaky = tmp_path / "leaky.log"
    _write_log(leaky, tokens)
    assert main(["scan", "--exit-code", str(clean)]) == 0
    assert main(["scan", str(leaky)]) == 0
    assert main(["scan", "--exit-code", str(leaky)]) == 1
    capsys.readouterr()
    assert main(["scan", "--exit-code", str(clean), str(tmp_path / "missing.log")]) == 2
    err = capsys.readouterr().err
    assert "missing.log: no such file or directory" in err
    with pytest.raises(SystemExit) as e:  # usage error: argparse's exit 2
        main(["scan", "--format", "xml", str(clean)])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["scan"])
    assert e.value.code == 2


def test_directories_recursive_symlink_loop_and_dangling(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "logs"
    (root / "svc" / "old").mkdir(parents=True)
    (root / "svc" / "app.log").write_text(f"Authorization: Bearer {tokens['rs256']}\n")
    with gzip.open(root / "svc" / "old" / "app.log.1.gz", "wt") as g:
        g.write(f"ok\nok\nrejected {tokens['es256']}\n")
    (root / "svc" / "loop").symlink_to(root)  # a directory loop
    (root / "self").symlink_to(root / "self")  # a symlink to itself (ELOOP)
    (root / "gone").symlink_to(root / "nowhere")
    assert main(["scan", "--format", "json", str(root)]) == 2  # the broken links are reported
    captured = capsys.readouterr()
    findings, summary = _json_findings(captured.out)
    assert sorted((Path(f["path"]).name, f["line"], f["fingerprint"]) for f in findings) == sorted(
        [("app.log", 1, fp(tokens["rs256"])), ("app.log.1.gz", 3, fp(tokens["es256"]))]
    )
    assert summary["files"] == 2
    assert "symlink loop" in captured.err and "self" in captured.err
    assert "gone: no such file or directory" in captured.err
    # a file named twice (directly and inside a directory, or through a link) is scanned once
    (root / "svc" / "again.log").symlink_to(root / "svc" / "app.log")
    app, again = str(root / "svc" / "app.log"), str(root / "svc" / "again.log")
    assert main(["scan", "--format", "json", app, again, app]) == 0
    findings, summary = _json_findings(capsys.readouterr().out)
    assert len(findings) == 1 and summary["files"] == 1


def test_gzip_and_truncated_gzip(tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "app.log"
    expected = _write_log(plain, tokens, repeat=2)
    gz = tmp_path / "app.log.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert main(["scan", "--format", "json", str(gz)]) == 0
    findings, _ = _json_findings(capsys.readouterr().out)
    assert [(f["line"], f["kind"], f["fingerprint"]) for f in findings] == [
        (line, kind, fp(cred)) for line, kind, cred in expected
    ]
    # truncated: what was read is reported, then a clear error and exit 2
    big = "\n".join(f"line {i} Authorization: Bearer {tokens['rs256']}" for i in range(20000)) + "\n"
    data = gzip.compress(big.encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["scan", "--format", "json", str(cut)]) == 2
    captured = capsys.readouterr()
    assert "cut.log.gz: truncated gzip file" in captured.err
    assert "Traceback" not in captured.err
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 64)
    assert main(["scan", str(corrupt)]) == 2
    assert "corrupt.gz: corrupt gzip data" in capsys.readouterr().err


def test_a_gzip_member_followed_by_junk_keeps_its_findings(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid gzip member holding tokens, then junk bytes (a log rotated while being appended to): the member's
    findings are reported, then the corruption (exit 2). GzipFile.read of a 16 MiB block raised on the junk and
    lost every line the member held (a probe's token went unreported)."""
    plain = tmp_path / "app.log"
    expected = _write_log(plain, tokens, repeat=2)
    bad = tmp_path / "trail.log.gz"
    bad.write_bytes(gzip.compress(plain.read_bytes()) + b"garbage after the member\n")
    assert main(["scan", "--format", "json", str(bad)]) == 2
    captured = capsys.readouterr()
    findings, _ = _json_findings(captured.out)
    assert [(f["line"], f["kind"], f["fingerprint"]) for f in findings] == [
        (line, kind, fp(cred)) for line, kind, cred in expected
    ]
    assert "trail.log.gz: corrupt gzip data after line" in captured.err and "Traceback" not in captured.err


def test_bad_input_binary_invalid_utf8_empty(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x00\x00\x01" + f" Bearer {tokens['rs256']} ".encode() + bytes(range(256)))
    latin = tmp_path / "latin.log"
    latin.write_bytes(b"caf\xe9 \xff\xfe r\xe9sum\xe9 Authorization: Bearer " + tokens["es256"].encode() + b"\nlast")
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert main(["scan", "--format", "json", str(binary), str(latin), str(empty)]) == 0
    captured = capsys.readouterr()
    findings, summary = _json_findings(captured.out)
    assert [(Path(f["path"]).name, f["line"], f["fingerprint"]) for f in findings] == [
        ("latin.log", 1, fp(tokens["es256"]))
    ]
    assert summary["skipped"] == [{"path": str(binary), "reason": "binary file (use --binary to scan it)"}]
    assert summary["lines"] == 2 and summary["files"] == 2  # the last line without newline counts
    assert "skipped" in captured.err and "core.bin" in captured.err
    assert main(["scan", "--binary", "--format", "json", str(binary)]) == 0
    findings, _ = _json_findings(capsys.readouterr().out)
    assert [f["fingerprint"] for f in findings] == [fp(tokens["rs256"])]
    # a directory and a FIFO given as scrub input: clear errors
    assert main(["scrub", str(tmp_path), str(tmp_path / "x.log")]) == 2
    assert "is a directory" in capsys.readouterr().err
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["scan", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_progress_bar_only_when_asked_or_tty(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.log"
    _write_log(log, tokens)
    monkeypatch.setattr(redact_cli, "PROGRESS_DELAY", 0.0)
    assert main(["scan", str(log)]) == 0
    assert "scanning" not in capsys.readouterr().err  # stderr is no terminal here
    assert main(["scan", "--progress", str(log)]) == 0
    err = capsys.readouterr().err
    assert "scanning" in err and "100%" in err


def test_cli_script_in_subprocess(tmp_path: Path, tokens: dict[str, str]) -> None:
    log = tmp_path / "app.log"
    log.write_text(f"ok\nAuthorization: Bearer {tokens['eddsa']}\n")
    script = shutil.which("jwtobs", path=os.path.dirname(sys.executable))
    cmd = [script] if script else [sys.executable, "-c", "import sys; from jwtobs.cli import main; sys.exit(main())"]
    env = {**os.environ, "JWTOBS_FINGERPRINT_KEY": KEY}
    r = subprocess.run(
        [*cmd, "scan", "--exit-code", str(log)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert r.returncode == 1, r.stderr
    assert f"{log}:2:jwt:{fp(tokens['eddsa'])}" in r.stdout.splitlines()
    assert tokens["eddsa"] not in r.stdout + r.stderr
    assert "JWTOBS_FINGERPRINT_KEY is not set" not in r.stderr
    env.pop("JWTOBS_FINGERPRINT_KEY")
    r = subprocess.run([*cmd, "scan", str(log)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert r.returncode == 0 and "JWTOBS_FINGERPRINT_KEY is not set" in r.stderr


# -- the prefilter never misses what the scrubber finds ---------------------------------------------------------
def _form_lines() -> list[str]:
    """Every leak form of the redaction tests, as the text a log line would hold (str forms as they are,
    other values as their repr), plus the clean lines."""
    from tests.redact import test_forms as forms

    config.reset()
    lines = []
    toks = forms.tokens()
    for name in sorted(forms.FORMS):
        value = forms.FORMS[name](toks).value
        text = value if isinstance(value, str) else value.decode("latin-1") if isinstance(value, bytes) else repr(value)
        lines += text.splitlines() or [""]
    extra = [  # forms the prefilter has to think about: glued, escaped, percent-encoded, Kelvin sign
        f"x{toks.rs256}",
        "msg\\n" + toks.hs256,
        toks.es256.replace(".", "%2E"),
        "COO\u212aIE: sid=Qm9iLXNlc3Npb24tMTIz",
        "TO\u212aEN=abcdefgh12345678",
        "exit code=1 and code=SplxlOBeZQQYbYS6WxSbIA",
        'run --token "-S3cr3tpa55w0rd" x',  # quoted option values starting with "-" or a blank
        "run --password '  S3cr3tpa55w0rd' x",
    ]
    return lines + extra + CLEAN_LINES + [str(v) for v in getattr(forms, "CLEAN", {}).values()]


@pytest.mark.parametrize("engine", ENGINES)
def test_prefilter_finds_everything_the_scrubber_finds(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _form_lines()
    rnd = random.Random(7)
    # every form alone, then shuffled among each other and glued to neighbours with varied separators
    mixed = lines + [rnd.choice(["", " ", "\t", "x=", '"', "; "]).join(rnd.sample(lines, 3)) for _ in range(200)]
    log = tmp_path / "forms.log"
    log.write_text("\n".join(mixed) + "\n")
    ref = scan_findings(log, "all", capsys)
    assert len(ref) > len(lines)  # the forms are found at all
    assert scan_findings(log, engine, capsys) == ref
    # and the reference is the scrubber itself, line by line (a base64-wrapped token's block as one)
    want = []
    for i, line, out in _scrubbed_lines(mixed):
        want += [(i, m[0], m[1]) for m in scan_report.new_markers(line, out)]
    assert ref == want


def _scrubbed_lines(lines: list[str]) -> list[tuple[int, str, str]]:
    """``(line number, line, scrubbed)``: each line scrubbed alone, but the lines of a base64 block that holds a
    token (a first line ending in its start, then lines of that width, the last one shorter) as
    ``Scrubber.b64_block`` makes them."""
    out: list[tuple[int, str, str]] = []
    i = 0
    while i < len(lines):
        starts = p.b64_block_starts(lines[i], lines[i + 1 :])
        block = Scrubber("scan").b64_block(lines[i : i + len(starts)], starts) if starts and len(starts) > 1 else None
        if block is not None:
            out += [(i + 1 + k, lines[i + k], b) for k, b in enumerate(block)]
            i += len(block)
            continue
        scrubbed = scrub_text(lines[i])
        assert isinstance(scrubbed, str)
        out.append((i + 1, lines[i], scrubbed))
        i += 1
    return out


def scan_findings(path: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str, str]]:
    assert main(["scan", "--format", "json", "--engine", engine, str(path)]) == 0
    findings, _ = _json_findings(capsys.readouterr().out)
    return [(f["line"], f["kind"], f["fingerprint"]) for f in findings]


def test_no_hyperscan_engine_is_a_clear_error_when_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # as if not installed
    assert scan.default_engine() == "python"
    (tmp_path / "a.log").write_text("ok\n")
    # exit 3 naming the extra, as for every missing extra (exit 2 "No module named 'hyperscan'" before session 13)
    assert main(["scan", "--engine", "hyperscan", str(tmp_path / "a.log")]) == 3
    assert "jwtobs scan: needs hyperscan, which is not installed: pip install 'jwtobs[scan]'" in capsys.readouterr().err
    assert main(["scrub", "--engine", "hyperscan", str(tmp_path / "a.log"), str(tmp_path / "b.log")]) == 3
    assert "jwtobs scrub: needs hyperscan" in capsys.readouterr().err and not (tmp_path / "b.log").exists()
    assert main(["scan", str(tmp_path / "a.log")]) == 0  # the default falls back to python


# -- scrub -----------------------------------------------------------------------------------------------------
def test_scrub_redacts_and_keeps_everything_else(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "app.log"
    _write_log(src, tokens, repeat=2)
    with src.open("ab") as f:  # invalid UTF-8 and a last line without newline survive byte for byte
        f.write(b"caf\xe9 \xff ok\nlast Authorization: Bearer " + tokens["hs256"].encode())
    dst = tmp_path / "clean.log"
    assert main(["scrub", str(src), str(dst)]) == 0
    assert "credentials redacted" in capsys.readouterr().err
    raw_in, raw_out = src.read_bytes(), dst.read_bytes()
    for secret in _secrets(tokens):
        assert secret.encode() not in raw_out
    in_lines, out_lines = raw_in.split(b"\n"), raw_out.split(b"\n")
    assert len(in_lines) == len(out_lines)
    for a, b in zip(in_lines, out_lines, strict=True):
        text = a.decode("utf-8", "surrogateescape")
        assert b == scrub_text(text).encode("utf-8", "surrogateescape")  # type: ignore[union-attr]
        if b"[REDACTED:" not in b:
            assert a == b  # untouched lines are byte-identical
    assert b"caf\xe9 \xff ok\n" in raw_out and not raw_out.endswith(b"\n")


def test_scrub_gzip_and_refusals(tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "app.log"
    _write_log(plain, tokens)
    src = tmp_path / "app.log.gz"
    src.write_bytes(gzip.compress(plain.read_bytes()))
    dst = tmp_path / "out.log.gz"
    assert main(["scrub", str(src), str(dst)]) == 0
    out = gzip.decompress(dst.read_bytes())
    assert b"[REDACTED:jwt:" in out
    assert all(s.encode() not in out and s.encode() not in dst.read_bytes() for s in _secrets(tokens))
    plain_out = tmp_path / "out.log"
    assert main(["scrub", str(src), str(plain_out)]) == 0
    assert plain_out.read_bytes() == out  # .gz only when OUT asks for it
    # never in place, never over an existing file without --force
    before = plain.read_bytes()
    capsys.readouterr()
    assert main(["scrub", str(plain), str(plain)]) == 2
    assert "never writes in place" in capsys.readouterr().err
    assert main(["scrub", "--force", str(plain), str(plain)]) == 2
    link = tmp_path / "link.log"
    link.symlink_to(plain)
    assert main(["scrub", "--force", str(plain), str(link)]) == 2
    hard = tmp_path / "hard.log"
    os.link(plain, hard)
    assert main(["scrub", "--force", str(plain), str(hard)]) == 2
    assert plain.read_bytes() == before
    assert main(["scrub", str(plain), str(plain_out)]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    assert main(["scrub", "--force", str(plain), str(plain_out)]) == 0
    assert tokens["rs256"].encode() not in plain_out.read_bytes()
    assert main(["scrub", str(tmp_path / "missing.log"), str(tmp_path / "m.out")]) == 2
    assert main(["scrub", str(plain), str(tmp_path / "no" / "dir" / "x.log")]) == 2
    # OUT a device, pipe or socket: refused, even with --force (before, the rename put a regular file in the
    # place of the node: "jwtobs scrub --force x.log /dev/null" as root replaced /dev/null)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    capsys.readouterr()
    assert main(["scrub", "--force", str(plain), str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # a legal OUT name of 250 bytes (its temporary file's name used to pass the 255-byte limit)
    long_out = tmp_path / ("o" * 246 + ".log")
    assert main(["scrub", str(plain), str(long_out)]) == 0 and long_out.is_file()
    # a truncated gzip input leaves no partial output behind
    cut = tmp_path / "cut.gz"
    data = gzip.compress(("\n".join(f"Bearer {tokens['rs256']} {i}" for i in range(20000)) + "\n").encode())
    cut.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert main(["scrub", str(cut), str(tmp_path / "cut.out")]) == 2
    assert "truncated gzip file" in capsys.readouterr().err
    assert not (tmp_path / "cut.out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- long lines ------------------------------------------------------------------------------------------------
def _long_line(tokens: dict[str, str], cut_every: int, n: int) -> tuple[str, list[str]]:
    """A long line with credentials placed across every cut position (just before, on and after it)."""
    rnd = random.Random(3)
    parts: list[str] = []
    creds: list[str] = []
    size = 0
    forms = [
        lambda: (f" Authorization: Bearer {OPAQUE}{len(creds)} ", f"{OPAQUE}{len(creds)}"),
        lambda: (f' "password": "{PASSWORD}{len(creds)}", ', f"{PASSWORD}{len(creds)}"),
        lambda: (f" {tokens['rs256']} ", tokens["rs256"]),
        lambda: (f" Cookie: sid={COOKIE}{len(creds)}", f"{COOKIE}{len(creds)}"),
        lambda: (f"&access_token={QUERY_VALUE}{len(creds)}&", f"{QUERY_VALUE}{len(creds)}"),
    ]
    for k in range(1, n):
        target = k * cut_every + rnd.randint(-120, 40)
        filler = "lorem ipsum dolor sit amet " * ((target - size) // 27 + 1)
        parts.append(filler[: max(0, target - size)])
        size += len(parts[-1])
        text, cred = forms[k % len(forms)]()
        parts.append(text)
        creds.append(cred)
        size += len(text)
    return "".join(parts) + " end", creds


@pytest.mark.parametrize("engine", ENGINES)
def test_long_line_windows_never_lose_a_token_at_a_cut(tmp_path: Path, tokens: dict[str, str], engine: str) -> None:
    line, creds = _long_line(tokens, cut_every=4096, n=40)
    src = tmp_path / "long.log"
    src.write_text(f"first\n{line}\nlast Authorization: Bearer {OPAQUE}\n")
    scanner = scan.Scanner(engine, block=64 << 10, long_line=8192, window=4096, context=1024, sink="scrub")
    dst = tmp_path / "long.out"
    report = scan.scrub_file(str(src), str(dst), scanner=scanner)
    out = dst.read_text()
    for cred in creds:
        assert cred not in out
    assert "[REDACTION_FAILED]" not in out
    # windowed, the line scrubs exactly as it does whole
    assert out.split("\n")[1] == scrub_text(line)
    assert out.split("\n")[0] == "first"
    assert report.findings == len(creds) + 1 + out.split("\n")[1].count("[REDACTED:cookie:") - sum(
        1 for c in creds if c.startswith(COOKIE)
    )
    # scanning reports each credential once, all on line 2
    rep = scan.ScanReport()
    found = list(scanner.scan_file(str(src), rep))
    assert [f.line for f in found].count(2) == len(found) - 1
    assert {f.fingerprint for f in found if f.line == 2} >= {fp(c) for c in creds if not c.startswith(COOKIE)}


def test_line_longer_than_16_mib_through_the_cli(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Default sizes: a 17 MiB line is read in 1 MiB windows; tokens sit on window boundaries."""
    chunk = "x" * 1023 + " "
    parts = []
    creds = []
    for k in range(17):
        parts.append(chunk * 1024)  # 1 MiB
        if k % 4 == 1:
            parts[-1] = parts[-1][: -(len(tokens["rs256"]) // 2) - 24]
            parts.append(f" Authorization: Bearer {tokens['rs256']} ")
            creds.append(tokens["rs256"])
    line = "".join(parts)
    assert len(line) > scan.LONG_LINE
    src = tmp_path / "huge.log"
    src.write_text(f"a\n{line}\nb\n")
    assert main(["scan", "--format", "json", str(src)]) == 0
    findings, summary = _json_findings(capsys.readouterr().out)
    assert [(f["line"], f["fingerprint"]) for f in findings] == [(2, fp(c)) for c in creds]
    assert summary["lines"] == 3
    dst = tmp_path / "huge.out"
    assert main(["scrub", str(src), str(dst)]) == 0
    data = dst.read_bytes()
    assert tokens["rs256"].encode() not in data
    assert data.count(b"[REDACTED:jwt:") == len(creds)
    assert len(data) == len(src.read_bytes()) - sum(len(c) for c in creds) + sum(
        len(f"[REDACTED:jwt:{fp(c)}]") for c in creds
    )


def test_gzip_long_line_streams_in_windows(tmp_path: Path, tokens: dict[str, str]) -> None:
    """The streamed (gzip) reader hands a long line over in pieces too; findings equal the plain file's."""
    line, creds = _long_line(tokens, cut_every=3000, n=30)
    text = f"first\n{line}\nsecond Authorization: Bearer {OPAQUE}\n" + "filler line\n" * 50
    plain, gz = tmp_path / "a.log", tmp_path / "a.log.gz"
    plain.write_text(text)
    gz.write_bytes(gzip.compress(text.encode()))
    scanner = scan.Scanner(block=8192, long_line=4096, window=2048, context=512)
    found = {}
    for path in (plain, gz):
        rep = scan.ScanReport()
        found[path.name] = [(f.line, f.kind, f.fingerprint) for f in scanner.scan_file(str(path), rep)]
    assert found["a.log"] == found["a.log.gz"]
    assert {print_ for line_no, _, print_ in found["a.log"] if line_no == 2} >= {
        fp(c) for c in creds if not c.startswith(COOKIE)
    }
    assert (3, "bearer", fp(OPAQUE)) in found["a.log"]
    dst = tmp_path / "a.out.gz"
    scan.scrub_file(str(gz), str(dst), scanner=scanner)
    out = gzip.decompress(dst.read_bytes()).decode()
    assert out.split("\n")[1] == scrub_text(line)
    assert out.count("\n") == text.count("\n")


_FRAGMENTS = [
    "Authorization: ",
    "Bearer ",
    "basic ",
    "Cookie: ",
    "sid=",
    "?access_token=",
    "&code=",
    "%3D",
    "%2E",
    '"password": "',
    "token_fp",
    "x-api-key: ",
    "://user:",
    "@host/",
    "\\n",
    " ",
    ".",
    '"',
    ";",
    "=",
    ":",
    "e",
    "ey",
    "abc",
    "Qm9iLXNlc3Npb24tMTIz",
    OPAQUE,
    "\u212a",
]


@settings(
    max_examples=2000 if os.environ.get("JWTOBS_FUZZ") == "1" else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.lists(st.integers(0, len(_FRAGMENTS) + 3), min_size=1, max_size=14), min_size=1, max_size=12))
def test_property_engines_agree_with_scrubbing_every_line(
    tmp_path: Path, tokens: dict[str, str], picks: list[list[int]]
) -> None:
    pool = [*_FRAGMENTS, tokens["rs256"], tokens["es256"], tokens["hs256"], tokens["eddsa"]]
    lines = ["".join(pool[i] for i in row) for row in picks]
    log = tmp_path / "prop.log"
    log.write_text("\n".join(lines) + "\n")
    results = {}
    for engine in ["all", *ENGINES]:
        rep = scan.ScanReport()
        results[engine] = [(f.line, f.kind, f.fingerprint) for f in scan.Scanner(engine).scan_file(str(log), rep)]
    for engine in ENGINES:
        assert results[engine] == results["all"], engine


def test_a_token_glued_after_another_s_padding_is_found(tmp_path: Path, tokens: dict[str, str]) -> None:
    """ "<JWS>%3D<JWS>" (hypothesis found it): the first run takes "%3D" as its padding, so neither JOSE expression
    starts at the second token in the same pass (its character before is the run's, then the marker's "]"); the
    pass is then no JOSE-only pass, and the second pass finds it, alone, in a batch and with every engine."""
    glued = [
        tokens["rs256"] + "%3D" + tokens["rs256"],
        tokens["es256"] + "==" + tokens["hs256"],
        "Bearer " + tokens["eddsa"] + "%3d" + tokens["es256"] + " x",
    ]
    for text in glued:
        out = str(scrub_text(text))
        assert "eyJ" not in out and out.count("[REDACTED:jwt:") == 2, out
        assert scrub_text(out) == out
    log = tmp_path / "glued.log"
    log.write_text("\n".join(["ok", *glued, *glued]) + "\n")
    results = {}
    for engine in ["all", *ENGINES]:
        rep = scan.ScanReport()
        results[engine] = [(f.line, f.kind) for f in scan.Scanner(engine).scan_file(str(log), rep)]
    assert len(results["all"]) == 12
    for engine in ENGINES:
        assert results[engine] == results["all"], engine


@pytest.mark.parametrize("block", [7, 64, 333, 1000, 4096])
def test_block_boundaries_do_not_move_or_lose_findings(tmp_path: Path, tokens: dict[str, str], block: int) -> None:
    """Tiny blocks split lines (and tokens) everywhere; findings and line numbers equal one-block reading,
    and the scrubbed copy is identical."""
    log = tmp_path / "a.log"
    expected = _write_log(log, tokens, repeat=2)
    with log.open("a") as f:  # base64-wrapped tokens (blocks a read may cut), under a CI timestamp or not
        for i, tok in enumerate((tokens["rs256"], tokens["eddsa"], tokens["hs256"])):
            stamp = f"2026-12-03T10:00:0{i}.1234567Z " if i % 2 else ""
            f.write("".join(f"{stamp}{line}\n" for line in base64.encodebytes(tok.encode()).decode().splitlines()))
        f.write("no newline at the end " + tokens["es256"])
    ref = scan.Scanner(block=1 << 20)
    small = scan.Scanner(block=block, long_line=1 << 20)  # lines split over many blocks, never windowed
    got = {}
    for name, sc in (("ref", ref), ("small", small)):
        rep = scan.ScanReport()
        got[name] = [(f.line, f.kind, f.fingerprint) for f in sc.scan_file(str(log), rep)]
        scan.scrub_file(str(log), str(tmp_path / f"{name}.out"), scanner=sc)
    assert got["small"] == got["ref"]
    assert got["ref"][: len(expected)] == [(line, kind, fp(cred)) for line, kind, cred in expected]
    assert {f for _, _, f in got["ref"][len(expected) :]} >= {fp(tokens[k]) for k in ("rs256", "eddsa", "hs256")}
    assert (tmp_path / "small.out").read_bytes() == (tmp_path / "ref.out").read_bytes()


def test_credential_longer_than_the_context_fails_closed(tmp_path: Path, tokens: dict[str, str]) -> None:
    """With a context smaller than a token (never the case with the defaults: 64 KiB), no clean cut exists:
    the window is replaced by [REDACTION_FAILED] up to the end of the token, and nothing of it is emitted."""
    tok = tokens["rs256"]
    line = ("lorem ipsum " * 30)[:250] + f" rejected {tok} " + "dolor sit amet " * 40
    src = tmp_path / "a.log"
    src.write_text(line + "\n")
    sc = scan.Scanner(block=512, long_line=300, window=256, context=64)  # the line is read in pieces
    dst = tmp_path / "a.out"
    report = scan.scrub_file(str(src), str(dst), scanner=sc)
    out = dst.read_text()
    assert "[REDACTION_FAILED]" in out
    assert report.by_kind[scan.FAILED_KIND] >= 1
    for i in range(0, len(tok) - 16):
        assert tok[i : i + 16] not in out
    assert out.endswith("dolor sit amet \n")
    rep = scan.ScanReport()
    assert [f.kind for f in sc.scan_file(str(src), rep)].count(scan.FAILED_KIND) >= 1


def test_a_long_clean_line_without_a_place_to_cut_is_clean(tmp_path: Path, tokens: dict[str, str]) -> None:
    """A line longer than the long-line limit with no whitespace nor , ; & } > (a base64 "data:" URI) and no
    trigger: before, every window failed to find a clean cut and the line was a redaction failure (scan: a
    finding; scrub: the line replaced whole). A token in such a line is still found, and one longer than the
    lookahead still fails closed."""
    import base64 as b64

    blob = b64.b64encode(bytes(range(256)) * 40).decode().replace("+", "A").replace("/", "B")
    src = tmp_path / "blob.log"
    src.write_text(f"upload data:image/png;base64,{blob}\nnext\n")
    sc = scan.Scanner(block=4096, long_line=300, window=256, context=64)
    assert list(sc.scan_file(str(src), scan.ScanReport())) == []
    dst = tmp_path / "blob.out"
    scan.scrub_file(str(src), str(dst), scanner=sc)
    assert dst.read_bytes() == src.read_bytes()
    src.write_text(f"data:{blob[:3000]} Authorization: Bearer {tokens['es256']} {blob[:3000]}\n")
    assert [f.kind for f in sc.scan_file(str(src), scan.ScanReport())] == ["jwt"]


def test_a_long_last_line_without_a_newline_is_one_line(tmp_path: Path) -> None:
    """The summary's line count: a long line (read in windows) that ends the file without a newline was counted
    twice (18.9 MB of "x " gave "2 lines")."""
    sc = scan.Scanner(block=512, long_line=300, window=256, context=64)
    for data, lines in ((b"x " * 2000, 1), (b"x " * 2000 + b"\n", 1), (b"a\n" + b"x " * 2000 + b"\nb", 3)):
        src = tmp_path / "long.log"
        src.write_bytes(data)
        report = scan.ScanReport()
        assert list(sc.scan_file(str(src), report)) == []
        assert report.lines == lines, data[-4:]


def test_scan_standard_input_plain_and_gzip(
    tmp_path: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jwtobs scan -`` reads a pipe (``kubectl logs ... | jwtobs scan -``), gzip included."""
    text = f"ok\nAuthorization: Bearer {tokens['es256']}\n".encode()
    env = {**os.environ, "JWTOBS_FINGERPRINT_KEY": KEY}
    cmd = [sys.executable, "-c", "import sys; from jwtobs.cli import main; sys.exit(main())", "scan", "--exit-code"]
    for data in (text, gzip.compress(text)):
        r = subprocess.run([*cmd, "-"], input=data, capture_output=True, env=env, timeout=120, check=False)
        assert r.returncode == 1, r.stderr
        assert f"-:2:jwt:{fp(tokens['es256'])}" in r.stdout.decode().splitlines()
    r = subprocess.run([*cmd, "-"], input=b"", capture_output=True, env=env, timeout=120, check=False)
    assert r.returncode == 0
    assert main(["scrub", "-", str(tmp_path / "x.log")]) == 2
    # a pipe whose first write is one byte (a slow producer): the head is read up to 8 KiB before deciding gzip
    # or binary (before: the gzip read as text from its first byte, 0 findings, exit 0)
    for data in (text, gzip.compress(text), b"ok\n" * 5000 + text):
        r_fd, w_fd = os.pipe()
        os.write(w_fd, data[:1])

        def rest(w_fd: int = w_fd, data: bytes = data) -> None:
            time.sleep(0.3)
            with os.fdopen(w_fd, "wb") as w:
                w.write(data[1:])

        writer = threading.Thread(target=rest)
        writer.start()
        with os.fdopen(r_fd, "rb") as pipe:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(pipe))
            found = list(scan.Scanner().scan_file("-", scan.ScanReport()))
        writer.join()
        assert [f.kind for f in found] == ["jwt"], data[:10]


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan not installed")
def test_default_engine_falls_back_when_a_trigger_cannot_compile(
    tmp_path: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A detector change that Hyperscan cannot compile (a lookbehind) must not break jwtobs scan."""
    broken = (*scan.triggers(), scan.Trigger("broken", r"(?<=x)y", caseless=False))
    monkeypatch.setattr(scan_prefilter, "triggers", lambda: broken)
    monkeypatch.setattr(scan_hyperscan, "_DB_CACHE", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    log = tmp_path / "a.log"
    log.write_text(f"Authorization: Bearer {tokens['rs256']}\n")
    assert main(["scan", "--format", "json", str(log)]) == 0
    captured = capsys.readouterr()
    assert "using the slower Python prefilter" in captured.err
    findings, _ = _json_findings(captured.out)
    assert [f["fingerprint"] for f in findings] == [fp(tokens["rs256"])]
    assert main(["scan", "--engine", "hyperscan", str(log)]) == 2  # asked for explicitly: a clear error


# -- real system lines with planted credentials (benchmarks/scanlog.py) ------------------------------------------
def _scanlog() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import scanlog
    finally:
        sys.path.pop(0)
    if not any(scanlog.CORPUS.glob("*.gz")):
        pytest.skip(f"real logs not found at {scanlog.CORPUS} (set JWTOBS_REAL_LOGS)")
    return scanlog


@pytest.fixture(scope="module")
def real_mix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """1.3 MB of real system lines, a fifth of them with a credential planted in one of the generator's forms."""
    scanlog = _scanlog()
    path = tmp_path_factory.mktemp("real") / "mix.log"
    planted = scanlog.write(path, 1_200_000, seed=7, rate=0.2)
    return path, planted


def _findings(path: Path, engine: str, **kw: Any) -> list[tuple[int, str, str]]:
    report = scan.ScanReport()
    return [(f.line, f.kind, f.fingerprint) for f in scan.Scanner(engine, **kw).scan_file(str(path), report)]


@pytest.mark.parametrize("engine", ENGINES)
def test_prefilter_misses_nothing_the_scrubber_redacts_on_real_lines(real_mix: tuple[Path, Any], engine: str) -> None:
    """On real system lines with every planted form, each engine reports exactly what scrubbing every line
    reports, and every planted line the scrubber detects is found."""
    path, planted = real_mix
    reference = _findings(path, "all")
    assert _findings(path, engine) == reference
    found = {line for line, _, _ in reference}
    known = {n for n, (_form, kind) in planted.lines.items() if kind}  # forms the redactor has long known
    assert known <= found


def test_xml_element_on_a_line_without_separators_is_found(tmp_path: Path) -> None:
    """HPC/BGL-style lines hold no ":", "=", "," nor "%": an XML element with a password there was missed."""
    secret = "AB91-gh89YbGqPMo_O6pxCau"
    line = f"87621 Interconnect-1N01 switch_module error 1 <credentials><password>{secret}</password></credentials>"
    log = tmp_path / "hpc.log"
    log.write_text(f"{line}\n")
    for engine in ["all", *ENGINES]:
        assert _findings(log, engine) == [(1, "secret_field", fp(secret))], engine


def test_python_engine_candidates_equal_hyperscan_candidates(real_mix: tuple[Path, Any]) -> None:
    """Both engines evaluate the same trigger expressions: the same candidate lines (not only findings), but for
    the lines Hyperscan drops because their only trigger hits are field hits it settles where they are reported
    (``CBS Session: 30546173_4261722401``): the scrubber leaves those lines as they are."""
    if not HAVE_HYPERSCAN:
        pytest.skip("hyperscan not installed")
    data = real_mix[0].read_bytes()
    py = scan.Prefilter("python").candidates(data, 0, len(data))
    hs = scan.Prefilter("hyperscan").candidates(data, 0, len(data))
    assert set(hs) <= set(py)
    dropped = [data[s:e].decode("utf-8", "surrogateescape") for s, e in sorted(set(py) - set(hs))]
    assert dropped
    assert [line for line in dropped if scrub_text(line) != line] == []


# -- --jobs: worker processes, large files by chunks ------------------------------------------------------------
def test_parallel_chunks_give_the_serial_findings(
    tmp_path: Path, tokens: dict[str, str], real_mix: tuple[Path, Any]
) -> None:
    """Files cut into chunks of a few KB (boundaries inside lines and tokens, moved to line starts) scanned by
    two worker processes: the same findings, line numbers and summary as one serial scan, in the same order;
    a gzip file, a binary file and a missing path keep their place and their message."""
    from jwtobs.redact.scan import parallel

    log = tmp_path / "a.log"
    _write_log(log, tokens, repeat=6)
    with log.open("a") as f:  # base64-wrapped tokens: blocks a chunk boundary would cut
        for i in range(12):
            tok = tokens[("rs256", "eddsa", "hs256")[i % 3]]
            f.write(f"step {i}\n" + base64.encodebytes(tok.encode()).decode())
        f.write("no newline at the end " + tokens["es256"])
    gz = tmp_path / "b.log.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    (tmp_path / "c.bin").write_bytes(b"\0\1\2" * 100)
    paths = [str(log), str(real_mix[0]), str(gz), str(tmp_path / "c.bin"), str(tmp_path / "missing.log")]

    def run(fn: Any) -> tuple[list[tuple[str, int, str, str]], dict[str, Any]]:
        report = scan.ScanReport()
        found = [(f.path, f.line, f.kind, f.fingerprint) for f in fn(report)]
        return found, report.to_dict()

    serial = run(lambda r: scan.Scanner().scan(paths, r))
    size = log.stat().st_size
    assert len(parallel.units(str(log), size, 2, chunk=997)) > 10
    for chunk in (997, 65536):
        assert run(lambda r, c=chunk: parallel.scan_parallel(paths, r, jobs=2, chunk=c)) == serial
    blocks = {fp(tokens[k]) for k in ("rs256", "eddsa", "hs256")}
    assert sum(f[3] in blocks and f[2] == "jwt" for f in serial[0] if f[0] == str(log)) > 12 * 5
    assert serial[1]["errors"] == [{"path": str(tmp_path / "missing.log"), "message": "no such file or directory"}]


def test_line_starts_never_split_a_line(tmp_path: Path) -> None:
    from jwtobs.redact.scan import parallel

    log = tmp_path / "a.log"
    data = b"".join(b"x" * n + b"\n" for n in (5, 3000, 1, 7000, 0, 20, 4095, 4096, 4097, 3))
    log.write_bytes(data)
    for chunk in (1, 100, 4096, 5000):
        starts = parallel.line_starts(str(log), len(data), chunk)
        assert starts[0] == 0 and starts == sorted(set(starts))
        assert all(data[s - 1 : s] == b"\n" for s in starts[1:])


def test_a_chunk_of_a_file_that_shrank_is_a_problem(tmp_path: Path) -> None:
    """--jobs N plans chunks from the file's size; truncated meanwhile, a chunk past the new end read nothing and
    the scan reported itself complete (exit 0/1). Now that chunk is a problem: exit 2."""
    from jwtobs.redact.scan import parallel

    log = tmp_path / "a.log"
    data = b"".join(f"line {i} nothing here\n".encode() for i in range(5000))
    log.write_bytes(data)
    units = parallel.units(str(log), len(data), 2, chunk=20_000)
    assert len(units) > 3
    parallel._init(None, False)
    assert all(parallel._work(u).problem is None for u in units)
    with open(log, "r+b") as f:
        f.truncate(len(data) // 2)
    results = [parallel._work(u) for u in units]
    assert results[0].problem is None and "shrank while it was scanned" in str(results[-1].problem)


def test_cli_jobs_same_output_and_one_key_for_all_workers(
    tmp_path: Path, tokens: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """jwtobs scan --jobs 2 prints what the serial scan prints; without JWTOBS_FINGERPRINT_KEY the workers
    share the run's random key, so the same token in two chunks has one fingerprint."""
    from jwtobs.redact.scan import parallel

    log = tmp_path / "a.log"
    _write_log(log, tokens, repeat=8)
    assert main(["scan", "--format", "json", str(log)]) == 0
    serial = _json_findings(capsys.readouterr().out)[0]
    monkeypatch.setattr(parallel, "CHUNK", 2048)
    assert main(["scan", "--format", "json", "--jobs", "2", str(log)]) == 0
    assert _json_findings(capsys.readouterr().out)[0] == serial
    monkeypatch.delenv("JWTOBS_FINGERPRINT_KEY")
    config.reset()
    assert main(["scan", "--format", "json", "-j", "2", str(log)]) == 0
    captured = capsys.readouterr()
    assert "JWTOBS_FINGERPRINT_KEY is not set" in captured.err
    found = _json_findings(captured.out)[0]
    assert [(f["line"], f["kind"]) for f in found] == [(f["line"], f["kind"]) for f in serial]
    # the same token (same fingerprint in the serial scan) in the first and the last chunk: one fingerprint
    by_line = {f["line"]: f["fingerprint"] for f in serial}
    same_token = [f for f in found if by_line[f["line"]] == by_line[found[0]["line"]]]
    assert same_token[-1]["line"] > found[-1]["line"] // 2  # (chunks of 2 KB: far apart)
    assert len({f["fingerprint"] for f in same_token}) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--jobs", "x", str(log)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_input_table_one_line_and_documented_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """Each bad input: exactly one line on stderr, naming the path, the documented exit code, no traceback
    (also without a fingerprint key: the key note is only for runs that print fingerprints)."""
    monkeypatch.delenv("JWTOBS_FINGERPRINT_KEY")
    config.reset()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "bin.dat").write_bytes(b"\0\1\2 binary")
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(b"hello\n" * 1000)[:30])
    (tmp_path / "corrupt.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    scan_table = {  # path: (exit code with --exit-code, words of the one stderr line)
        "nope.log": (2, "error: nope.log: no such file or directory"),
        "emptydir": (2, "error: nothing was scanned (no file under the paths given)"),
        "bin.dat": (2, "error: nothing was scanned: bin.dat: binary file (use --binary to scan it)"),
        "empty.log": (0, "note: empty.log is empty"),
        "cut.gz": (2, "error: cut.gz: truncated gzip file"),
        "corrupt.gz": (2, "error: corrupt.gz: corrupt gzip data before the first line"),
    }
    for path, (code, words) in scan_table.items():
        assert main(["scan", "--exit-code", "-j", jobs, path]) == code, path
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("jwtobs scan: ") and words in err[0], (path, err)
    scrub_table = {
        "nope.log": "error: nope.log: no such file or directory",
        "emptydir": "error: emptydir: is a directory",
        "bin.dat": "error: bin.dat: binary file, not copied",
        "cut.gz": "error: cut.gz: truncated gzip file",
        "corrupt.gz": "error: corrupt.gz: corrupt gzip data",
    }
    for path, words in scrub_table.items():
        assert main(["scrub", path, "out.log"]) == 2, path
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and words in err[0], (path, err)
        assert not (tmp_path / "out.log").exists()
    assert main(["scrub", "empty.log", "out.log"]) == 0
    assert capsys.readouterr().err == "jwtobs scrub: wrote out.log: 0 credentials redacted (empty.log is empty)\n"


@pytest.mark.parametrize("engine", [*ENGINES, "all"])
def test_a_base64_wrapped_token_is_found_on_every_line_of_its_block(
    tmp_path: Path, tokens: dict[str, str], engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``echo $TOKEN | base64`` wraps at 76 characters: no line alone decodes to a token, the block does. Every
    line of it gets the token's marker (its event fingerprint); base64 blocks of other data are left alone."""
    rs = base64.encodebytes(tokens["rs256"].encode()).decode().splitlines()
    ed = base64.encodebytes(tokens["eddsa"].encode()).decode().splitlines()
    other = base64.encodebytes(b'{"note": "eyJ is how a token starts", "pad": "' + b"x" * 200 + b'"}').decode()
    lines = [
        "+ echo $TOKEN | base64",
        *rs,
        "+ next step",
        "token: " + ed[0] + "\r",  # CRLF lines, a label before the block
        *(line + "\r" for line in ed[1:]),
        *other.splitlines(),
        rs[0],  # a block's first line followed by a line of another width: no block
        "short line",
    ]
    src = tmp_path / "ci.log"
    src.write_bytes(("\n".join(lines) + "\n").encode())
    found = scan_findings(src, engine, capsys)
    rs_lines = list(range(2, 2 + len(rs)))
    ed_lines = list(range(3 + len(rs), 3 + len(rs) + len(ed)))
    assert found == [(n, "jwt", fp(tokens["rs256"])) for n in rs_lines] + [
        (n, "jwt", fp(tokens["eddsa"])) for n in ed_lines
    ]
    dst = tmp_path / "clean.log"
    assert main(["scrub", str(src), str(dst)]) == 0
    out = dst.read_bytes().decode().split("\n")
    assert len(out) == len(lines) + 1
    for n in [*rs_lines, *ed_lines]:
        assert lines[n - 1].rstrip("\r") not in out[n - 1]
    assert out[ed_lines[0] - 1].startswith("token: [REDACTED:jwt:") and out[ed_lines[0] - 1].endswith("]\r")
    assert out[len(lines) - 2 :] == [*lines[-2:], ""]  # the unpaired first line and what follows: unchanged
    assert all(line in out for line in other.splitlines())


@pytest.mark.parametrize("engine", [*ENGINES, "all"])
def test_a_base64_pem_private_key_wrapped_over_lines_is_redacted_on_every_line(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``base64 key.pem`` (76 characters a line) or ``openssl base64`` (64) in a log: the scanner reads line by
    line, and each line after the first is a bare base64 run. Every line of a private key's block gets the key's
    marker (the first line alone: session 16 left the others); a wrapped certificate stays, as does a line of
    another width after a key's first line."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(os.urandom(600)) + b"-----END CERTIFICATE-----\n"
    at76 = base64.encodebytes(pem).decode().splitlines()
    one = base64.b64encode(pem).decode()
    at64 = [one[i : i + 64] for i in range(0, len(one), 64)]
    cert = base64.encodebytes(cert_pem).decode().splitlines()
    lines = ["+ base64 tls.key", *at76, "+ openssl base64 -in tls.key", "  tls.key: " + at64[0], *at64[1:], "+ cert"]
    lines += [*cert, at76[0], "not base64 at all", "done"]
    src = tmp_path / "deploy.log"
    src.write_text("\n".join(lines) + "\n")
    found = scan_findings(src, engine, capsys)
    key_lines = [*range(2, 2 + len(at76)), *range(3 + len(at76), 3 + len(at76) + len(at64))]
    assert [n for n, kind, _ in found] == [*key_lines, len(lines) - 2]
    assert {kind for _, kind, _ in found} == {"private_key"}
    dst = tmp_path / "clean.log"
    assert main(["scrub", str(src), str(dst)]) == 0
    out = dst.read_text().split("\n")
    assert len(out) == len(lines) + 1
    for n in key_lines:
        assert lines[n - 1].split()[-1] not in out[n - 1] and "[REDACTED:private_key:" in out[n - 1]
    assert out[3 + len(at76) - 1] == "  tls.key: " + out[3 + len(at76) - 1].split()[-1]  # the label kept
    assert all(line in out for line in cert)  # a certificate is no secret
    assert out[-4:] == ["[REDACTED:private_key:" + out[-4].split(":", 2)[2], "not base64 at all", "done", ""]
    blob = dst.read_text()
    assert all(part not in blob for part in at76[1:] + at64[1:])


@pytest.mark.parametrize("engine", [*ENGINES, "all"])
def test_a_base64_wrapped_token_under_a_ci_timestamp_on_every_line(
    tmp_path: Path, tokens: dict[str, str], engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CI runner writes its timestamp before every line of a step's output: the block's lines are the base64
    runs after it. A block whose last line is full (the encoding a multiple of 76 characters) does not take the
    next line's last word with it."""
    key = b"h" * 32
    pad = ""
    while len(base64.b64encode(jwt.encode({"sub": "ci", "pad": pad}, key, algorithm="HS256").encode())) % 76:
        pad += "x"
    whole = jwt.encode({"sub": "ci", "pad": pad}, key, algorithm="HS256")  # its base64 fills every line
    lines = []
    for n, tok in enumerate((tokens["rs256"], whole)):
        stamp = f"2026-12-03T10:0{n}:00.1234567Z "
        lines += [stamp + "+ echo $TOKEN | base64"]
        lines += [stamp + line for line in base64.encodebytes(tok.encode()).decode().splitlines()]
        lines += [stamp + "+ next"]
    src = tmp_path / "runner.log"
    src.write_text("\n".join(lines) + "\n")
    found = scan_findings(src, engine, capsys)
    n_rs = len(base64.encodebytes(tokens["rs256"].encode()).decode().splitlines())
    n_whole = len(base64.encodebytes(whole.encode()).decode().splitlines())
    want = [(2 + i, "jwt", fp(tokens["rs256"])) for i in range(n_rs)]
    want += [(2 + n_rs + 2 + i, "jwt", fp(whole)) for i in range(n_whole)]
    assert found == want
    dst = tmp_path / "clean.log"
    assert main(["scrub", str(src), str(dst)]) == 0
    out = dst.read_text().splitlines()
    assert [line for line in out if "+ " in line] == [line for line in lines if "+ " in line]  # commands kept
    assert all(line.startswith("2026-12-03T10:0") for line in out)  # every timestamp kept


# -- UTF-16 text (Windows PowerShell 5's ">" and Out-File write UTF-16LE with a byte order mark) ------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("codec", "bom"), [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_files_are_scanned_and_scrubbed_as_text(
    tmp_path: Path, tokens: dict[str, str], engine: str, codec: str, bom: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UTF-16 file with its byte order mark was skipped as binary ("0 findings"). Now it is read as text: the
    same findings (lines, fingerprints) as the same text in UTF-8, serially and with --jobs, and the scrubbed copy
    is UTF-16 with the same mark, equal to the UTF-8 copy's text. Non-ASCII text (accents, CJK, a surrogate pair)
    and CRLF line ends; a pair and a token straddle the reader's 1 MiB reads; a lone surrogate is kept."""
    filler = "é漢字😀 PS C:\\> Get-Process | Out-File\r\n" * 14_000  # 1.1 MB of UTF-16: 1 MiB reads end inside
    lines = [
        "2026-12-01 INFO login ok é",
        f"Authorization: Bearer {tokens['rs256']}",
        filler + f"x-api-key: {API_KEY}",
        "😀" * 3 + f" password={PASSWORD}",
        f"lone \ud800 surrogate then Bearer {tokens['es256']}",
        "last line without a newline",
    ]
    text = "\r\n".join(lines)
    utf8 = tmp_path / "utf8.log"
    utf8.write_bytes(text.encode("utf-8", "surrogatepass"))
    wide = tmp_path / "wide.log"
    wide.write_bytes(bom + text.encode(codec, "surrogatepass"))
    assert wide.stat().st_size > 1 << 20
    expected = _findings(utf8, engine)
    assert len(expected) == 4
    assert _findings(wide, engine) == expected
    assert main(["scan", "--format", "json", "--jobs", "2", str(wide)]) == 0
    found, summary = _json_findings(capsys.readouterr().out)
    assert [(f["line"], f["kind"], f["fingerprint"]) for f in found] == expected
    assert summary["skipped"] == []
    out8, out16 = tmp_path / "utf8.out", tmp_path / "wide.out"
    assert main(["scrub", str(utf8), str(out8)]) == 0
    assert main(["scrub", str(wide), str(out16)]) == 0
    data = out16.read_bytes()
    assert data.startswith(bom)
    assert data[2:].decode(codec, "surrogatepass") == out8.read_bytes().decode("utf-8", "surrogatepass")
    copy = data.decode("utf-16", "surrogatepass")
    assert tokens["rs256"] not in copy and "é漢字😀" in copy and "\ud800" in copy


def test_utf16_odd_last_byte_and_utf32_stays_binary(tmp_path: Path, tokens: dict[str, str]) -> None:
    odd = tmp_path / "odd.log"
    odd.write_bytes(b"\xff\xfe" + f"Bearer {tokens['hs256']}\n".encode("utf-16-le") + b"A")
    assert [f[2] for f in _findings(odd, "python")] == [fp(tokens["hs256"])]
    utf32 = tmp_path / "utf32.log"
    utf32.write_bytes(b"\xff\xfe\x00\x00" + f"Bearer {tokens['hs256']}\n".encode("utf-32-le"))
    report = scan.ScanReport()
    assert list(scan.Scanner("python").scan_file(str(utf32), report)) == []
    assert report.skipped == [(str(utf32), "binary file (use --binary to scan it)")]


@pytest.mark.parametrize("engine", ENGINES)
def test_lone_cr_line_ends_count_as_grep_counts_them(tmp_path: Path, tokens: dict[str, str], engine: str) -> None:
    """Lines end at "\\n" (``grep -n``, ``wc -l``): a file whose lines end with a lone "\\r" is one line, and
    every credential on it is still found and redacted; CRLF lines are numbered as LF lines."""
    lines = ["boot", f"Authorization: Bearer {tokens['rs256']}", "idle", f"password={PASSWORD}", "end"]
    cr, crlf = tmp_path / "cr.log", tmp_path / "crlf.log"
    cr.write_bytes("\r".join(lines).encode())
    crlf.write_bytes("\r\n".join(lines).encode())
    assert [f[0] for f in _findings(cr, engine)] == [1, 1]
    assert [f[0] for f in _findings(crlf, engine)] == [2, 4]
    out = tmp_path / "cr.out"
    assert main(["scrub", str(cr), str(out)]) == 0
    copy = out.read_bytes().decode()
    assert tokens["rs256"] not in copy and PASSWORD not in copy and copy.count("\r") == 4
