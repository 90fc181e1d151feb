"""The scanner's fast path (:mod:`jwtobs.redact.scan.fields`): a candidate line hit only by name=value triggers
(secret-stem field names, ``code=``, query parameter names) is scrubbed only when :func:`fields.may_change` says
the scrubber may change it. It must never skip a line the scrubber changes: checked against ``scrub()`` on every
line of the real corpora, on every pinned leak form and on generated lines of weak, strong and benign names,
codes and query parameters with every kind of value, separator and follower.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtobs import config
from jwtobs.redact import scan
from jwtobs.redact import scrub as scrub_text
from jwtobs.redact.scan import fields
from jwtobs.redact.scan.prefilter import all_lines
from jwtobs.redact.scrub import Scrubber
from tests.redact.test_properties import noise
from tests.redact.test_scan import ENGINES, HAVE_HYPERSCAN, _findings, _form_lines, _scanlog

KEY = "scan-fast-test-fingerprint-key"


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()


def _judged(lines: list[str], engine: str) -> list[str]:
    """The lines the prefilter of ``engine`` hits with name=value triggers only (the fast path's lines)."""
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    out = []
    for s, e, judged in scan.Prefilter(engine).classified(data, 0, len(data)):
        if judged:
            out.append(data[s:e].decode("utf-8", "surrogateescape"))
    return out


def _skipped(lines: list[str], engine: str) -> list[str]:
    """The lines a scan with ``engine`` never hands to the scrubber: no candidate line at all (for Hyperscan also
    the lines whose every trigger hit is a settled field hit), or judged and passed over by the fast path."""
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    cands = {s: judged for s, _e, judged in scan.Prefilter(engine).classified(data, 0, len(data))}
    spans = all_lines(data, 0, len(data))
    judged = [(s, e) for s, e in spans if cands.get(s)]
    maybe = fields.lines_that_may_change([data[s:e].decode("utf-8", "surrogateescape") for s, e in judged])
    kept = {judged[i][0] for i in maybe}
    return [
        data[s:e].decode("utf-8", "surrogateescape") for s, e in spans if s not in cands or (cands[s] and s not in kept)
    ]


def _misses(lines: list[str]) -> list[str]:
    """Lines the fast path would skip although scrubbing changes them (must be none)."""
    maybe = fields.lines_that_may_change(lines)
    return [line for i, line in enumerate(lines) if i not in maybe and scrub_text(line) != line]


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    scanlog = _scanlog()
    return [line.decode("utf-8", "surrogateescape") for lines in scanlog.real_lines() for line in lines]


def test_fast_path_never_skips_a_real_line_the_scrubber_changes(real_lines: list[str]) -> None:
    only = _judged(real_lines, "python")  # (Hyperscan settles most of these at the trigger hit, see below)
    assert len(only) > 500  # the corpora hold many (Windows "CBS Session: 3054_42", Zookeeper "sessionid: 0x..")
    assert _misses(only) == []
    skipped = len(only) - len(fields.lines_that_may_change(only))
    assert skipped > 0.9 * len(only)  # and the fast path does skip most of them


@pytest.mark.parametrize("engine", ENGINES)
def test_no_real_line_a_scan_skips_is_changed_by_the_scrubber(real_lines: list[str], engine: str) -> None:
    """Whatever the engine leaves out (no candidate, a settled field hit, the fast path's judgement), scrubbing
    the line changes nothing."""
    skipped = _skipped(real_lines, engine)
    assert len(skipped) > 0.9 * len(real_lines)
    assert [line for line in skipped if scrub_text(line) != line] == []


def test_fast_path_never_skips_a_pinned_form() -> None:
    lines = _form_lines()
    rnd = random.Random(11)
    weak = ["session: 30546173_4261722401 ", "sid:2 ", "CBS Session: 1 ", "sessionid: 0x34ede65503f0039 "]
    # each form alone and behind a weak field name (the line then has a field hit and maybe nothing else)
    lines += [rnd.choice(weak) + line for line in lines]
    for engine in ENGINES:
        judged = _judged(lines, engine)
        assert len(judged) > 20  # the field, code and query forms
        assert _misses(judged) == []


_NAMES = [
    # weak: the value decides
    "session",
    "Session",
    "SESSION",
    "sid",
    "SID",
    "sessionid",
    "sessionId",
    "session_id",
    "jsessionid",
    "auth",
    "AUTH",
    "pass",
    "sessid",
    "x-session",
    "user.session",
    "prompt_tokens",
    "secrets",
    "passwords",
    "sessions",
    "auth_key",
    "session_key",
    "session-id-value",
    # strong: always the full scrubber
    "password",
    "passwd",
    "pwd",
    "client_secret",
    "accessToken",
    "api_key",
    "X-Api-Key",
    "session_token",
    "privateKey",
    "credential",
    "assertion",
    "newPassword",
    "db_pass_b64",
    "passphrase",
    # names that name no secret
    "SessionTracker",
    "input_userauth_request",
    "AuthFail",
    "session_reuses",
    "token_fp",
    "session_state",
    "chpasswd",
    "DeauthInd",
    "authority",
    "sessionCount",
    "auth_time",
    # OAuth codes and query parameters (FORM_CODE, QUERY_PARAM)
    "code",
    "Code",
    "error code",
    "device_code",
    "?code",
    "&state=1&code",
    "cb?x=1\\u0026code",
    "?sid",
    "&sig",
    "%3Fcode",
    ";jsessionid",
    "exit_code",
    "(code",
]
_SEPARATORS = [": ", "=", ":", " = ", '": "', "': '", '\\": \\"', "\"]= '", "': ", '", "', "', b'", ":\t", '="', "%3D"]
_VALUES = [
    "30546173_4261722401",
    "0x34ede65503f0039",
    "2",
    "-50",
    "0,",
    "12345678",
    "1.5ms",
    "Already running",
    "ZooKeeperServer@325",
    "com.apple.xpc.activity",
    "/home/ubuntu",
    "null",
    "true",
    "${TOKEN}",
    "***",
    "<hidden>",
    "s8Kq2LmZ0xT4vB7nR1cW",
    "Qm9iLXNlc3Npb24tMTIz",
    "dXNlcjpwYXNzd29yZA==",
    "a64f992e0b1c",
    "hunter2",
    "abc",
    "AbCdEfGh12",
    "x=",
    "abc:",
    "Bearer",
    "token",
    "password:",
    "re-used-id",
    "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    "",
    "sk_live_like_but_not",
    "AKIA-not-a-key",
    "SplxlOBeZQQYbYS6WxSbIA",
    "1035",
    "ECONNREFUSED",
]
_FOLLOWERS = [
    "",
    " initialized by client WindowsUpdateAgent.",
    " password: hunter2xyz",
    ", password: hunter2xyz",
    '", "x": 1}',
    "', 'S3cr3tpa55')",
    " = S3cr3tpa55",
    ":S3cr3tpa55",
    "=S3cr3tpa55",
    " Bearer abcdefgh12345678",
    '", "token": "s8Kq2LmZ0xT4vB7nR1cW"}',
    " token=abc",
    ") cport:-1",
    "&sid=s8Kq2LmZ0xT4vB7nR1cW",
    ";",
]


_OPENERS = ["", "x ", '{"', "(", "[", "- "]


def _generated(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for name, sep, value, follow in itertools.product(_NAMES, _SEPARATORS, _VALUES[:8], _FOLLOWERS[:3]):
        lines.append(rnd.choice(_OPENERS) + f"{name}{sep}{value}{follow}")
    for _ in range(n):
        parts = []
        for _ in range(rnd.randint(1, 3)):
            parts.append(rnd.choice(_NAMES) + rnd.choice(_SEPARATORS) + rnd.choice(_VALUES) + rnd.choice(_FOLLOWERS))
        lines.append(rnd.choice([" ", "", "; ", ", ", '", "']).join(parts))
    return lines


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_path_never_skips_a_generated_line(engine: str) -> None:
    lines = _generated(6000, seed=3)
    only = _judged(lines, engine)
    assert len(only) > 2000
    assert _misses(only) == []
    maybe = fields.lines_that_may_change(only)
    changed = sum(1 for line in only if scrub_text(line) != line)
    assert changed > 200 and len(only) - len(maybe) > 500  # both paths are exercised


def test_batches_judge_like_single_lines() -> None:
    lines = [*_generated(1500, seed=5), "K\u212aelvin session: s8Kq2LmZ0xT4vB7nR1cW", "\u0130 sid:2"]
    maybe = fields.lines_that_may_change(lines)
    assert maybe == {i for i, line in enumerate(lines) if fields.may_change(line)}
    assert fields.lines_that_may_change([]) == set()


def test_scanner_with_the_fast_path_equals_scrubbing_every_line(tmp_path: Any, real_lines: list[str]) -> None:
    """End to end: real lines with generated field lines among them, every engine against engine "all"."""
    rnd = random.Random(9)
    lines = rnd.sample(real_lines, 4000) + _generated(1500, seed=9)
    rnd.shuffle(lines)
    log = tmp_path / "fields.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    reference = _findings(log, "all")
    assert len(reference) > 100
    for engine in ENGINES:
        assert _findings(log, engine) == reference, engine


def test_engines_classify_lines_alike_but_hyperscan_settles_field_hits(real_lines: list[str]) -> None:
    """Both engines evaluate the same triggers and classify a line alike, except that Hyperscan drops the lines
    whose every trigger hit is a field hit :func:`fields.field_hit_unchanged` settles: those are lines the
    Python engine judges and the fast path passes over (and the scrubber leaves as they are)."""
    if not HAVE_HYPERSCAN:
        pytest.skip("hyperscan not installed")
    lines = real_lines[::3] + _generated(500, seed=1) + _form_lines()
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    py = scan.Prefilter("python").classified(data, 0, len(data))
    hs = scan.Prefilter("hyperscan").classified(data, 0, len(data))
    assert set(hs) <= set(py)
    dropped = [data[s:e].decode("utf-8", "surrogateescape") for s, e, judged in sorted(set(py) - set(hs))]
    assert all(judged for _s, _e, judged in set(py) - set(hs))
    assert len(dropped) > 1000  # CBS Session ids, SessionTracker, input_userauth_request...
    assert fields.lines_that_may_change(dropped) == set()
    assert [line for line in dropped if scrub_text(line) != line] == []


# Field hits of every shape next to the settled ones: names of every reading and length around the 48 characters
# read, blanks before the ":" up to past the window, values a bare value reads and values it does not (quotes,
# "b'", brackets, control, non-ASCII and Unicode blank characters after them), followers that make the scrubber read
# on, and line ends (CRLF, none).
_HIT_NAMES = [
    "Session",
    "CBS Session",
    "session",
    "SID",
    "sessionid",
    "x.session",
    "/session",
    "a/session",
    "xsession",
    "user_session",
    "SessionTracker",
    "input_userauth_request",
    "AuthFail",
    "session_reuses",
    "password",
    "client_secret",
    "Cookie-session",
    "set-cookie",
    "authorization",
    "X" * 40 + "_session",
    "X" * 41 + "_session",
    "x" * 44 + "_sid",
    "x" * 45 + "_sid",
    "x" * 60 + "_session",
    "sessionTracker" + "x" * 34,
    "sessionTracker" + "x" * 35,
    # the scrubber reads all of a run up to 64 characters before a stem: the last 48 would name a session id,
    # the whole run a secret's
    "secret_" + "x" * 40 + "_session_id",
    "secret_" + "x" * 30 + "_session_id",
]
_HIT_SEPS = [":", ": ", " : ", "\t:\t", ":" + " " * 30, " " * 22 + ":", " " * 23 + ": ", " " * 30 + ":", '":', "]:"]
_HIT_VALUES = [
    "30546173_4261722401",
    "0x34ede65503f0039",
    "2",
    "s8Kq2LmZ0xT4vB7nR1cW",
    "hunter2xyz",
    "b'S3cr3tpa55'",
    'b"S3cr3tpa55"',
    "b",
    "(s8Kq2LmZ0xT4vB7nR1cW)",
    "[s8Kq2LmZ0xT4vB7nR1cW]",
    "Already running",
    "abc:",
    "Bearer",
    "x=",
    "1\x1cs8Kq2LmZ0xT4vB7nR1cW",
    "1\x7fs8Kq2LmZ0xT4vB7nR1cW",
    "1\u00a0s8Kq2LmZ0xT4vB7nR1cW",
    "1\u2028s8Kq2LmZ0xT4vB7nR1cW",
    "1\u00e9s8Kq2LmZ0xT4vB7nR1cW",
    "Qm9iLXNlc3Npb24tMTIz",
    '"s8Kq2LmZ0xT4vB7nR1cW"',
    "",
]
_HIT_FOLLOWERS = [
    "",
    " initialized by client WindowsUpdateAgent.",
    " = S3cr3tpa55",
    " :S3cr3tpa55",
    ", password: hunter2xyz",
    " Bearer abcdefgh12345678",
    "\r",
    "\t\tx",
    " token=abc",
]


def _hit_lines() -> list[str]:
    rnd = random.Random(21)
    out = [
        rnd.choice(["", "x ", "[", "- ", "2016-09-28 04:30:30, Info  CBS    "]) + f"{n}{s}{v}{f}"
        for n, s, v, f in itertools.product(_HIT_NAMES, _HIT_SEPS, _HIT_VALUES, _HIT_FOLLOWERS)
    ]
    # two and three fields on a line, settled and not
    for _ in range(3000):
        parts = [
            rnd.choice(_HIT_NAMES) + rnd.choice(_HIT_SEPS) + rnd.choice(_HIT_VALUES) + rnd.choice(_HIT_FOLLOWERS)
            for _ in range(rnd.randint(2, 3))
        ]
        out.append(rnd.choice([" ", "; ", " | "]).join(parts))
    return out


def test_settled_field_hits_never_hide_a_change() -> None:
    """No line Hyperscan drops for settled field hits is changed by the scrubber, at any block size (a line at
    the start of a block, names the 72-byte window may cut)."""
    if not HAVE_HYPERSCAN:
        pytest.skip("hyperscan not installed")
    lines = _hit_lines()
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    pf = scan.Prefilter("hyperscan")
    py = {s for s, _e in scan.Prefilter("python").candidates(data, 0, len(data))}
    hs = {s for s, _e in pf.candidates(data, 0, len(data))}
    dropped = [(s, e) for s, e in all_lines(data, 0, len(data)) if s in py and s not in hs]
    texts = [data[s:e].decode("utf-8", "surrogateescape") for s, e in dropped]
    changed = [line for line in lines if scrub_text(line) != line]
    assert len(texts) > 3000 and len(changed) > 3000  # both sides are exercised
    assert [line for line in texts if scrub_text(line) != line] == []
    # a block per line (each line starts its block; the window cut at the block's start)
    for s, e in all_lines(data, 0, len(data))[:3000]:
        if s in py and not pf.candidates(data, s, e + 1):
            line = data[s:e].decode("utf-8", "surrogateescape")
            assert scrub_text(line) == line, line


def test_field_hit_judgement_reads_names_and_values_as_the_scrubber() -> None:
    """One by one: the shapes real logs are full of are settled at the hit (the line is no candidate); names the
    scrubber reads as a secret or may read differently (too long, cut by the window) and values it may read on
    from are not."""
    settled = [
        "2016-09-28 04:30:30, Info  CBS    Session: 30546173_4261722401 initialized by client WindowsUpdateAgent.",
        "INFO  [SessionTracker:ZooKeeperServer@325] - Expiring session 0x14f05578bd8001c",
        "Dec 10 07:51:15 LabSZ sshd[24206]: input_userauth_request: invalid user test9 [preauth]",
        "sid: 2",
        "x" * 44 + "_sid: 1 x",
        " " * 80 + "Session" + " " * 30 + ": 1 x",
        "Session: 1\r",
        '{"connections_active":2,"session_reuses":18122,"requests":99}',  # a quoted name naming no secret
    ]
    unsettled = [
        "Session: s8Kq2LmZ0xT4vB7nR1cW initialized",
        "Session: 30546173 = S3cr3tpa55",
        "Session: b'S3cr3tpa55'",
        "Session: (30546173)",
        "session_token: 1 x",
        "x" * 45 + "_sid: 1 x",
        "x" * 44 + "_sid" + " " * 30 + ": 1 x",
        "secret_" + "x" * 40 + "_session_id: 1 x",
        "Session: 1\u00a0s8Kq2LmZ0xT4vB7nR1cW",
        "Session: 1\x1cs8Kq2LmZ0xT4vB7nR1cW",
        'Session": 1 x',
        "Session=1 x",
        '{"session": 1}',  # a quoted weak name: its value is left to the fast path
    ]
    field = re.compile(rb"(?i)(?:session|sid|auth)[A-Za-z0-9_\-]*\"?[ \t]*[:=]")
    for line in settled + unsettled:
        raw = line.encode("utf-8") + b"\n"
        m = field.search(raw)
        assert m is not None, line
        assert fields.field_hit_unchanged(raw, m.end() - 1, 0, len(raw)) == (line in settled), line
        if line in settled:
            assert scrub_text(line) == line
        if HAVE_HYPERSCAN:
            assert (scan.Prefilter("hyperscan").candidates(raw, 0, len(raw)) == []) == (line in settled), line


def test_header_cookie_userinfo_and_option_hits_valued_by_a_marker_are_settled() -> None:
    """What the scrubber leaves after an Authorization header, a cookie, a URL password or a command-line secret (a
    marker) settles those triggers' hits, so such a line needs no second pass and a scrubbed copy is no
    candidate; a value that is more (or other) than a marker, or read differently (quotes, "=", non-ASCII,
    another option) is not settled. Each settled line is one the scrubber leaves unchanged."""
    mk = "[REDACTED:jwt:c5f4-8bd885625e13]"
    settled = [
        f"reverse mapping failed - POSSIBLE BREAK-IN ATTEMPT! Authorization: Bearer {mk}",
        f"Authorization: {mk}",
        f"authorization: Token {mk} next",
        f"Proxy-Authorization: Basic {mk}",
        f"Cookie: session={mk}",
        f"Cookie: a={mk}; b={mk};",
        f"Set-Cookie: {mk}",
        f'"Cookie: sid={mk}"',
        f"postgres://app:{mk}@db.internal:5432/orders",
        f"amqp://:{mk}@mq",
        f"exec docker swarm join --token {mk} 10.0.0.1:2377",
        f"run --password '{mk}' x",
        f'run --token "{mk}"',
        f"exec sshpass -p '{mk}' ssh deploy@10.0.0.7",
        f"sshpass -P{mk} ssh",
        f"mysql -h db1 -p{mk} db",
        f"redis-cli -h x -a {mk} ping",
        f"curl -s -X POST -u admin:{mk} https://x",
        f"curl --user admin:{mk} https://x",
        "curl -s -o out https://x",
        "exec app --config /etc/app.conf --log-level info",  # options that name no secret
    ]
    settled += [  # (AUTH_HEADER's credential is the word; a marker after it: declined, whatever follows)
        f"Authorization: Bearer {mk}x",
        f"Authorization: Bearer {mk}; secret",
        f'Authorization: "Bearer {mk}"',
        f'{{"headers": {{"authorization": "Bearer {mk}", "x": 1}}}}',
        f'{{"cookie": "sid={mk}"}}',
        # session 16: a value after a secret name and blanks, an option of one dash, a (user, password) pair
        f"apikey {mk}",
        f'proxy_set_header X-Api-Key "{mk}";',
        f"keytool -list -storepass '{mk}' -v",
        f"aiohttp.BasicAuth('svc', '{mk}')",  # (not "auth=(": the query trigger's "auth=" is judged apart)
        f'HTTPBasicAuth("svc", "{mk}")',
    ]
    unsettled = [
        "apikey 9f8e7d6c5b4a",
        "password Xk9(2]aP{z for bob",
        "keytool -list -storepass changeit",
        "requests.get(u, auth=('svc', 'S3cr3tpa55w0rd'))",
        f"requests.get(u, auth=('svc', '{mk}x'))",
        f"Authorization: realm=a {mk}",
        "Authorization: Bearer abcdefghijklmnop1234",
        f"Authorization: +_zmRO6myRy0xT4vB7nR1cW {mk}",  # a credential-like word before a marker is a credential
        f"Authorization: abc1 {mk}",
        f"Authorization: 'Bearer \"{mk}",
        '{"password": "S3cr3tpa55w0rd", "authorization": 1}',
        '{"session": "s8Kq2LmZ0xT4vB7nR1cW", "cookie": 1}',
        f"Cookie: a=b={mk}",
        f"Cookie: a={mk}; b=S3cr3tpa55w0rd",
        f"Cookie: a={mk}x",
        f"Cookie: a={mk}\u00a0b=1",
        f"postgres://app:{mk}x@db",
        f"postgres://app:x{mk}@db",
        "postgres://app:S3cr3tpa55w0rd@db",
        f"run --token {mk}\\x",
        f"run --token '{mk}",
        f"run --token {mk}\x1cx",
        "run --token S3cr3tpa55w0rd",
        f"sshpass -p '{mk}x' ssh",
        f"sshpass -p {mk}\u00a0x ssh",
        "sshpass -pS3cr3tpa55w0rd ssh",
        f"curl -u {mk} https://x",
        "curl -u admin:S3cr3tpa55w0rd https://x",
        "curl --username admin:S3cr3tpa55w0rd https://x",
        "x--config S3cr3tpa55w0rd",  # (no "--" of its own: CLI_FLAG does not match; left to the scrubber)
        "--" + "config" * 12 + " S3cr3tpa55w0rd",
        "run --client-secret S3cr3tpa55w0rd",
    ]
    pf = scan.Prefilter("hyperscan") if HAVE_HYPERSCAN else None
    for line in settled + unsettled:
        raw = line.encode("utf-8")
        marked = []
        for name, judge in fields.MARKED_JUDGEMENTS.items():
            for m in re.finditer(rules_expr(name), raw, re.IGNORECASE):
                marked.append(judge(raw, m.end() - 1, 0, len(raw)))
        assert marked, line
        assert all(marked) == (line in settled), (line, marked)
        if line in settled:
            assert scrub_text(line) == line, line
            if pf is not None:
                assert pf.settled(raw), line
        elif pf is not None:
            assert not pf.settled(raw), line


def rules_expr(name: str) -> bytes:
    from jwtobs.redact.scan import rules

    return next(t.expr for t in rules.triggers() if t.name == name).encode()


def test_field_hits_judged_in_a_loop_with_the_name_cache_as_one_by_one() -> None:
    """:func:`fields.unsettled_field_hits` (one loop, names remembered by the 16 bytes before the ":") settles the
    same hits as judging each hit with empty caches (the name read back every time): names of every length
    around the cache key's size, preceded by a blank, a bracket, a name character or the line start (same key
    bytes, different names), weak, secret and benign names, values cleared or not, markers."""
    rnd = random.Random(21)
    names = ["Session", "sid", "auth", "sessionid", "SessionTracker", "input_userauth_request", "session_token"]
    names += ["x" * k + "session" for k in range(4, 14)] + ["Session" + "y" * k for k in range(4, 14)]
    # 16 characters (the key's size) that name a weak secret alone, nothing after a name character
    names += ["auth_tracker_key", "session_user_key", "xauth_tracker_key", "xsession_user_key"]
    values = [" 30546173_4261722401", " 1", " s8Kq2LmZ0xT4vB7nR1cW", " [REDACTED:secret_field:c5f4-0123456789ab]", ""]
    lines = []
    for name in names:
        for before in ("", " ", "[", "(", "a", "_", "-", "=", "Info  CBS   ", "abcdefghijklmnop"):
            for value in values:
                lines.append(f"{before}{name}:{value} {rnd.choice(['x', 'initialized', '= y', ''])}")
                lines.append(f'{before}"{name}":{value} {rnd.choice(["x", "= y"])}')  # quoted names
    rnd.shuffle(lines)
    data = ("\n".join(lines * 2) + "\n").encode()
    hits = [m.end() - 1 for m in re.finditer(rb"(?i)(?:session|sid|auth)[A-Za-z0-9_\-]*[ \t]*:", data)]
    assert len(hits) > 2000
    fields._HIT_KEYS.clear()
    alone = []
    for h in hits:
        fields._HIT_KEYS.clear()
        alone += fields.unsettled_field_hits(data, [h], 0, len(data))
    assert fields.unsettled_field_hits(data, hits, 0, len(data)) == alone  # (the cache fills)
    assert fields.unsettled_field_hits(data, hits, 0, len(data)) == alone  # (with a full cache)
    assert 100 < len(alone) < len(hits) - 1000, (len(alone), len(hits))
    assert len(fields._HIT_KEYS) > 50


def test_name_chars_are_what_name_before_reads() -> None:
    """The fast path reads the name before a stem only when a name character precedes it."""
    from jwtobs.redact import patterns as p

    text = "".join(chr(c) for c in range(32, 127)) + "x_session-id.sid:auth\tpass(token)"
    low = text.lower()
    for i in range(1, len(low) + 1):
        assert (p.name_before(low, i) != "") == (low[i - 1] in fields._NAME_CHARS), repr(low[i - 1])


def test_joined_judgement_is_per_line_judgement() -> None:
    """The scanner judges a block's lines joined (indices ascending, each once) as the per-line judgement."""
    lines = [*_generated(800, seed=13), "sid:2 session: s8Kq2LmZ0xT4vB7nR1cW session: s8Kq2LmZ0xT4vB7nR1cW", ""]
    joined = fields.joined_lines_that_may_change("\n".join(lines))
    assert joined == sorted(set(joined))
    assert joined == sorted(i for i, line in enumerate(lines) if fields.may_change(line))


def test_value_judgements_are_remembered_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path remembers weak values' judgements; the same value gives the same answer, also after the
    bounded memory is cleared."""
    from jwtobs.redact import patterns as p

    monkeypatch.setattr(fields, "_WEAK_VALUES_MAX", 50)
    fields._WEAK_VALUES.clear()
    values = [line.rpartition(" ")[2] for line in _generated(400, seed=17)] + ["30546173_4261722401", "-50", ""]
    for _ in range(2):
        for v in values:
            assert fields._weak_credential(v) == p.is_credential_value(v, p.WEAK), v
    assert len(fields._WEAK_VALUES) <= 50
    fields._WEAK_VALUES.clear()


def test_invalid_utf8_lines_joined_decode_alike(tmp_path: Any) -> None:
    """The scanner decodes a block's judged lines joined: invalid UTF-8 at a line's end or inside it decodes as
    in the line alone, and the scan equals scrubbing every line."""
    from jwtobs.redact.scan.windowed import decode

    raw = [
        b"session: s8Kq2LmZ0xT4vB7nR1cW\xe2\x82",
        b"\xff\xfe sid:2 \xe2",
        b"CBS Session: 30546173_4261722401 \xf0\x9f\x98",
        b"sessionid=\xc3\xa9t\xc3\xa9\xed\xa0\x80zQ9vK2mL8xR4tY7wB1nC",
        b"\xe2\x82\xac session=abcdefgh12345678XYZ",
    ]
    assert decode(b"\n".join(raw)) == "\n".join(decode(line) for line in raw)
    log = tmp_path / "bad-utf8.log"
    log.write_bytes(b"\n".join(raw * 3) + b"\n")
    reference = _findings(log, "all")
    assert reference
    for engine in ENGINES:
        assert _findings(log, engine) == reference, engine


def test_new_markers() -> None:
    """Markers of the scrubbed line that were not in the line: all of them when it held none (findall), else
    those beyond the ones it held (a repeated marker counts)."""
    from jwtobs.redact.scan.report import FAILED_KIND, new_markers

    m1, m2 = "[REDACTED:jwt:ab-0123456789ab]", "[REDACTED:secret_field:c-0123456789ac]"
    assert new_markers("x", "x") == []
    assert new_markers("x", f"a {m1} b {m2} {m1} [REDACTION_FAILED]") == [
        ("jwt", "ab-0123456789ab"),
        ("secret_field", "c-0123456789ac"),
        ("jwt", "ab-0123456789ab"),
        (FAILED_KIND, "-"),
    ]
    assert new_markers(f"{m1} [REDACTION_FAILED]", f"{m1} {m2} {m1} [REDACTION_FAILED]") == [
        ("secret_field", "c-0123456789ac"),
        ("jwt", "ab-0123456789ab"),
    ]
    assert new_markers("[REDACTED:jwt", f"[REDACTED:jwt {m1}") == [("jwt", "ab-0123456789ab")]


def test_name_readings_are_remembered_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path remembers how it read a field name (no secret or an Authorization/Cookie header / weak, no
    header / scrubber decides): the same answer as name_strength and header_kind, also after the bounded memory is
    cleared."""
    from jwtobs.redact import patterns as p

    monkeypatch.setattr(fields, "_NAMES_MAX", 40)
    fields._NAMES.clear()
    names = [line.partition(" ")[0].rstrip(":=\"',") for line in _generated(300, seed=19)]
    names += ["SessionTracker", "input_userauth_request", "session_reuses", "sid", "Authorization", "x_api_key",
              "password", "CBS Session", "sessionid", "auth", "token_fp"]  # fmt: skip
    for _ in range(2):
        for name in names:
            strength = p.name_strength(name)
            want = (
                fields._NO_SECRET
                if not strength or p.header_kind(name) in (p.AUTHORIZATION, p.COOKIE)  # (_field declines these)
                else fields._WEAK_FIELD
                if strength == p.WEAK and p.header_kind(name) is None
                else fields._SCRUB
            )
            got = fields._NAMES.get(name)
            assert (got if got is not None else fields._name_reading(name)) == want, name
    assert len(fields._NAMES) <= 40
    assert {fields._name_reading(n) for n in names} == {fields._NO_SECRET, fields._WEAK_FIELD, fields._SCRUB}
    fields._NAMES.clear()


def test_prefilter_threads_scan_like_one_thread(tmp_path: Any, real_lines: list[str]) -> None:
    """Worker threads for the prefilter (small blocks, so many are in flight) give the one-thread findings."""
    if not HAVE_HYPERSCAN:
        pytest.skip("hyperscan not installed")
    rnd = random.Random(21)
    lines = rnd.sample(real_lines, 3000) + _generated(800, seed=21) + _form_lines()
    rnd.shuffle(lines)
    log = tmp_path / "threads.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    one = _findings(log, "hyperscan", block=4096)
    assert len(one) > 50
    assert _findings(log, "hyperscan", block=4096, threads=3) == one
    assert _findings(log, "hyperscan") == one


# -- scrubbed text: what jwtobs scrub (or a first pass) leaves ----------------------------------------------------
_MIX_SEPS = [" ", ", ", "&", "; ", " | ", "", "=", ":", "?", "\t", ";", ",", "\\u0026", "%26", " - ", "'", '"', "("]


def _mixes(n: int, seed: int, pool: list[str]) -> list[str]:
    """``n`` texts of 2-4 pinned forms (and real lines) joined by one separator each (one line each)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rnd.sample(pool, rnd.randint(2, 4))
        out.append(rnd.choice(_MIX_SEPS).join(parts).replace("\n", " "))
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_no_scrubbed_line_a_scan_skips_is_changed_by_the_scrubber(real_lines: list[str], engine: str) -> None:
    """Lines holding markers (a scrubbed copy scanned again, idempotence): the hit judgements and the fast path
    read a marker as the scrubber does, and skip no line the scrubber would change. Every pinned form and
    thousands of mixes of them and of real lines joined by many separators, scrubbed once (plus the raw
    mixes, for lines where markers and credentials meet)."""
    forms = [line.replace("\n", " ") for line in _form_lines()]
    pool = forms + random.Random(4).sample(real_lines, 300)
    mixes = forms + _mixes(3000 if engine == "hyperscan" else 600, 5, pool)
    scrubbed = [str(scrub_text(t)) for t in mixes]
    lines = scrubbed + [f"{a} {b}" for a, b in zip(scrubbed[::2], mixes[1::2], strict=False)]
    skipped = _skipped(lines, engine)
    assert len([line for line in skipped if "[REDACTED:" in line]) > 200  # markers do get skipped
    assert [line for line in skipped if scrub_text(line) != line] == []


def test_marker_left_by_scrubbing_settles_a_hit() -> None:
    """The hit judgements read what scrubbing leaves: a value that is a marker (or a field value that cannot
    start at one), a hit inside a marker, an XML element whose text is a marker, a query value starting with "[",
    a cookie or URL password that is a marker; such a line is no candidate. A marker with more in the same value,
    a broken marker: still candidates."""
    mark = "[REDACTED:secret_field:t-0123456789ab]"
    settled = [
        f"password={mark} x",
        f"password={mark}x hunter2",
        f"password: {mark}",
        f'{{"password": "{mark}"}}',
        f"{{'password': '{mark}'}}",
        f"x {mark} y",
        f"<password>{mark}</password>",
        f"<password> {mark} </password>",
        f"GET /cb?access_token={mark}&x=1",
        f"body: code={mark}",
        f"Cookie: session={mark}",  # (the header, cookie, userinfo and option judgements)
        f"connecting to postgres://app:{mark}@db:5432/x",
    ]
    candidates = [
        f'{{"password": "{mark} hunter2"}}',
        "password: [REDACTED:secret_field:t-0123456789ab hunter2",
        f"<password>{mark} hunter2</password>",
        f"<password>\x1c{mark}</password>",
        "GET /cb?access_token=[x]S3cr3tpa55&x=1",
        f"Cookie: session={mark}; b=S3cr3tpa55",
        f"connecting to postgres://app:{mark}hunter2@db:5432/x",
        f"{mark} pwd: hunter2xyz",  # (a marker just before a field is no marker around it)
    ]
    for text in settled:
        assert scrub_text(text) == text, text
    if not HAVE_HYPERSCAN:
        return
    pf = scan.Prefilter("hyperscan")
    for text in settled + candidates:
        raw = text.encode() + b"\n"
        assert (pf.candidates(raw, 0, len(raw)) == []) == (text in settled), text


# -- the scrubber's second pass, skipped when the prefilter settles the first pass's output ----------------------
#: texts whose first pass leaves what a second pass changes (a Cookie value read differently next to its own
#: markers, a phrase read across a vendor key's marker)
NEEDS_SECOND = [
    # ("Cookie: Cookie: =s8Kq2LmZ0xT4vB7nR1cW" needed one until session 15: a match starting inside a marker's
    # "[REDACTED:" was not seen as inside it)
    "Set-Cookie: --token ,code=",
    "Cookie: :\\=.password",
    "x access_token= using key ghp_QSr6rz24LpOqJ3OpuLIEi2NvSBbI1rmAR1JF for upload",
]


def _first_pass(text: str) -> str:
    """The scrubber's first pass alone (its second one refused)."""
    seen: list[str] = []
    Scrubber("test").text(text, settled=lambda first: seen.append(first) is None)
    return seen[0] if seen else str(scrub_text(text))


def test_second_pass_is_skipped_only_when_it_would_change_nothing(real_lines: list[str]) -> None:
    """Prefilter.settled(first pass's output) says no detector can act on it: then scrubbing that output changes
    nothing. On every pinned form, thousands of mixes of them and of real lines joined by many separators, and
    texts scrubbed already; the scanner's scrub (which skips the pass) equals the scrubber's and is idempotent;
    both answers are exercised (the mixes include the Cookie values a second pass does change)."""
    if not HAVE_HYPERSCAN:
        pytest.skip("hyperscan not installed")
    forms = [line.replace("\n", " ") for line in _form_lines()]
    pool = forms + random.Random(4).sample(real_lines, 300)
    needs_second = NEEDS_SECOND
    texts = forms + needs_second + _mixes(4000, 6, pool)
    texts += [str(scrub_text(t)) for t in texts[::7]]
    sc = scan.Scanner("hyperscan")
    settled = unsettled = changed_again = 0
    for text in texts:
        first = _first_pass(text)
        if first == text:
            continue
        again = scrub_text(first)
        changed_again += again != first
        if sc._settled(first):
            settled += 1
            assert again == first, (text, first)
        else:
            unsettled += 1
        once = sc._scrub(text)
        assert once == scrub_text(text), text
        assert sc._scrub(once) == once, text
    assert settled > 1000 and unsettled > 500 and changed_again >= len(needs_second)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(noise, st.text()))
def test_scanner_scrub_is_idempotent_and_equals_the_scrubber(text: str) -> None:
    """Any text (the redaction property tests' noise of keywords, separators, quotes and half markers): the
    scanner's scrub, which may skip the second pass, gives what the scrubber gives, and is idempotent."""
    line = text.replace("\n", " ")
    for sc in _SCANNERS:
        once = sc._scrub(line)
        assert once == scrub_text(line)
        assert sc._scrub(once) == once


_SCANNERS = [scan.Scanner(engine) for engine in ENGINES]
