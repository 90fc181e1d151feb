"""Session 13 probe: the leak forms it found outside ``test_forms.py``'s one-value cases, through every sink.

* a credential at the start of a line of a multi-line string written escaped (``json.dumps``, ``repr``: the letter
  of ``\\n`` is the escape's, not glued to the prefix), through the stdlib and structlog redactors and Sentry's
  frame variables (reprs);
* values written with escapes (PHP's ``\\/``, .NET's ``\\u002B``, a percent-encoded query value) through the
  redactors, the gates and ``jwtobs scan``;
* PEM private key blocks whose lines share a prefix (an ExceptionGroup traceback's ``    | ``, ``> ``, ``# ``, a
  timestamp, ``[pod/x] ``) and PEM bodies with JSON value escapes: one marker, the key's own fingerprint;
* credential files (netrc, pgpass) and Go's MySQL DSN; and what these rules must not take.

Keys and passwords are made at run time (no credential in the source).
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import string
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import jwtobs
from jwtobs import config
from jwtobs.cli import main
from jwtobs.redact import LoggingRedactor, StructlogRedactor, scan, scrub, scrub_value
from jwtobs.redact import patterns as p
from jwtobs.redact import sentry as jsentry
from tests.redact.test_adversarial import SIZE, assert_scrub_linear

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")
ENGINES = ["hyperscan", "python"] if scan.default_engine() == "hyperscan" else ["python"]
AN = string.ascii_letters + string.digits
R = random.Random(2026_12_13)


def _r(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


PAT = "ghp_" + _r(AN, 36)
OPAQUE = _r(AN, 32)
PASSWORD = _r(AN, 12) + "!" + _r(AN, 4)
HOOK = (
    f"https://hooks.slack.com/services/T{_r(string.ascii_uppercase, 8)}/B{_r(string.ascii_uppercase, 10)}/{_r(AN, 24)}"
)
DSN = f"postgresql://app_user:{PASSWORD}@db.internal:5432/billing"
AWS_ID = "AKIA" + _r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
AWS_SECRET = "Jg" + _r(AN, 34) + "+a/9"
STD_OPAQUE = _r(AN, 12) + "/" + _r(AN, 12) + "+" + _r(AN, 14)  # an opaque token in the standard base64 alphabet
ACCOUNT_KEY = _r(AN, 82) + "+/x+" + "=="  # 86 base64 characters (with "+" and "/") and "=="


def _fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


@pytest.fixture(autouse=True)
def _fixed_key() -> None:
    jwtobs.configure(fingerprint_key="redact-s13-test-key-0123456789", fingerprint_key_id="t")


def _stdlib(msg: str, *args: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger(f"tests.redact.s13.{R.random()}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning(msg, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def _all_sinks(value: Any) -> dict[str, str]:
    """What each sink makes of ``value``: scrub (text) or scrub_value, the stdlib redactor (as an argument), the
    structlog redactor (as an event value) and Sentry's before_send (as an extra value)."""
    text = value if isinstance(value, str) else repr(value)
    return {
        "scrub": str(scrub(text)),
        "scrub_value": repr(scrub_value({"v": value})),
        "stdlib": _stdlib("result: %s", value),
        "structlog": repr(StructlogRedactor()(None, "info", {"event": "done", "v": value})),
        "sentry": json.dumps(jsentry.before_send({"extra": {"v": value}, "message": text}, {})),
    }


# -- 1. a credential at the start of a line of an escaped multi-line string ---------------------------------------
def _newline_values() -> dict[str, tuple[Any, str]]:
    """(value, the secret that must go) of the probe's forms: gh's token in a CompletedProcess, an HTTP request in a
    repr, JSON of a command's output."""
    return {
        "completed_process": (
            subprocess.CompletedProcess(["gh", "auth", "token"], 0, stdout=f"github.com\n{PAT}\n", stderr=""),
            PAT,
        ),
        "json_stdout": (json.dumps({"stdout": f"Logged in as ci-bot\n{PAT}\n"}), PAT),
        "repr_request_bearer": (repr(f"GET /v1/me HTTP/1.1\r\nHost: api\r\n\r\nBearer {OPAQUE}\r\n"), OPAQUE),
        "repr_tab_key": (repr(f"name\tvalue\nstripe\tsk_live_{OPAQUE}"), OPAQUE),
        "json_cookie_pair": (json.dumps({"req": f"GET / HTTP/1.1\nCookie: sid={OPAQUE}"}), OPAQUE),
        "repr_env_dump": (repr(f"HOME=/root\n{PAT}\n"), PAT),
    }


@pytest.mark.parametrize("name", sorted(_newline_values()))
def test_a_credential_after_an_escaped_line_break_is_redacted_by_every_sink(name: str) -> None:
    value, secret = _newline_values()[name]
    for sink, out in _all_sinks(value).items():
        assert secret not in out, (name, sink, out)
        assert "[REDACTED:" in out, (name, sink, out)


def test_sentry_frame_variables_with_escaped_line_breaks() -> None:
    """Sentry sends frame variables as reprs: a multi-line local whose line starts with a credential."""
    event = {
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": "clone failed",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "sync_repo",
                                "module": "app.deploy",
                                "vars": {
                                    "git_stdout": repr(f"Cloning into 'deploy'...\n{PAT}\n"),
                                    "raw_request": repr(f"GET /v1/me HTTP/1.1\r\nHost: api\r\n\r\nBearer {OPAQUE}\r\n"),
                                },
                            }
                        ]
                    },
                }
            ]
        }
    }
    out = json.dumps(jsentry.before_send(event, {}))
    assert PAT not in out and OPAQUE not in out
    assert f"[REDACTED:api_key:{_fp(PAT)}]" in out and f"[REDACTED:bearer:{_fp(OPAQUE)}]" in out


def test_only_the_escapes_own_letter_is_no_word() -> None:
    """A prefix glued to other letters after the escape ("\\nxghp_...") stays a word's inside; a literal "n" before a
    prefix without a backslash too."""
    # (one character short inside text: at the end of a value it is read as a key cut short, patterns.VENDOR_CUT_AT)
    for text in (f'"a\\nx{PAT}"', f"an{PAT}", f"a\\\\n{PAT[:-1]} for upload"):
        assert scrub(text) == text, text
    assert scrub(f'"a\\\\n{PAT}"') == f'"a\\\\n[REDACTED:api_key:{_fp(PAT)}]"'  # escaped twice


# -- 2-4. values written with escapes -------------------------------------------------------------------------------
def _escaped_texts() -> dict[str, tuple[str, str, str]]:
    """(text, the secret that must go, the marker it must get) of the probe's escaped forms."""
    conn = f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
    hook_key = HOOK.split("://")[1]
    entra = "DDi8Q~" + _r(AN + "_~.-", 34)
    return {
        "php_webhook": (json.dumps({"webhook": HOOK}).replace("/", "\\/"), hook_key[-24:], f"api_key:{_fp(hook_key)}"),
        "php_url_password": (json.dumps({"dsn": DSN}).replace("/", "\\/"), PASSWORD, f"url_password:{_fp(PASSWORD)}"),
        "dotnet_account_key": (
            json.dumps({"ConnectionString": conn}, separators=(",", ":")).replace("+", "\\u002B"),
            ACCOUNT_KEY[:40],
            f"api_key:{_fp('AccountKey=' + ACCOUNT_KEY)}",
        ),
        "dotnet_equals_and_slash": (
            json.dumps({"c": conn}).replace("=", "\\u003D").replace("/", "\\u002F"),
            ACCOUNT_KEY[:40],
            f"api_key:{_fp('AccountKey=' + ACCOUNT_KEY)}",
        ),
        "dotnet_aws_pair": (
            json.dumps({"Value": f"{AWS_ID},{AWS_SECRET}"}).replace("+", "\\u002B"),
            AWS_SECRET[:30],
            f"api_key:{_fp(AWS_SECRET)}",
        ),
        "php_bearer": (
            json.dumps({"raw": f"GET /me HTTP/1.1\nBearer {STD_OPAQUE}"}).replace("/", "\\/"),
            STD_OPAQUE.split("/")[-1],
            f"bearer:{_fp(STD_OPAQUE)}",
        ),
        "dotnet_basic": (
            json.dumps({"h": f"Basic {STD_OPAQUE}=="}).replace("+", "\\u002B").replace("=", "\\u003D"),
            STD_OPAQUE.split("+")[-1],
            f"basic:{_fp(STD_OPAQUE + '==')}",
        ),
        "percent_webhook": (
            "POST /settings/integrations?webhook_url=" + quote(HOOK, safe=""),
            hook_key[-24:],
            f"api_key:{_fp(hook_key)}",
        ),
        "percent_url_password": (
            "GET /login?next=" + quote(DSN, safe="") + "&lang=en",
            quote(PASSWORD, safe=""),
            f"url_password:{_fp(PASSWORD)}",
        ),
        "percent_aws_pair": (
            f"GET /export?upstream={AWS_ID}%2C{quote(AWS_SECRET, safe='')} HTTP/1.1",
            quote(AWS_SECRET, safe="")[:30],
            f"api_key:{_fp(AWS_SECRET)}",
        ),
        "percent_entra_after_equals": (
            "redirect_uri=https%3A%2F%2Fapp%2Fcb%3Fv%3D" + entra,
            entra[6:],
            f"api_key:{_fp(entra)}",
        ),
    }


@pytest.mark.parametrize("name", sorted(_escaped_texts()))
def test_values_with_escapes_are_redacted_by_every_sink(name: str) -> None:
    text, secret, marker = _escaped_texts()[name]
    assert p.may_hold_secret(text) and p.may_hold_secret_re(text)
    for sink, out in _all_sinks(text).items():
        assert secret not in out, (name, sink, out)
        assert f"[REDACTED:{marker}]" in out, (name, sink, out)
    once = scrub(text)
    assert scrub(once) == once


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scan_finds_the_escaped_values(tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    texts = _escaped_texts()
    log = tmp_path / "escaped.log"
    log.write_text("".join(text + "\n" for text, _, _ in texts.values()))
    assert main(["scan", "--format", "json", "--engine", engine, str(log)]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    got = {(f["line"], f"{f['kind']}:{f['fingerprint']}") for f in found if f["type"] == "finding"}
    for i, (_, _, marker) in enumerate(texts.values(), start=1):
        assert (i, marker) in got, (i, marker, sorted(got))


def test_a_raw_url_keeps_its_own_reading_beside_escapes() -> None:
    """A raw URL's password holding "%40" is the raw URL's (not split at the decoded "@"); a percent-encoded URL's
    "&" ends it (the query string's next parameter); JSON's "%40" is no "@"."""
    out = scrub(f"https://user:{PASSWORD[:6]}%40{PASSWORD[7:]}@host/x?y=1%2F2")
    assert str(out).startswith("https://user:[REDACTED:url_password:") and PASSWORD[7:] not in str(out)
    kept = "GET /x?next=https%3A%2F%2Fuser%3Axyz&b=c%40d"
    assert scrub(kept) == kept
    kept = json.dumps({"u": "https://host/a%40b"}).replace("/", "\\/")
    assert scrub(kept) == kept


# -- 5. PEM blocks whose lines share a prefix, PEM bodies with JSON value escapes -----------------------------------
def _pems() -> dict[str, str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    none = serialization.NoEncryption()
    pem = serialization.Encoding.PEM
    return {
        "pkcs8_rsa": rsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none).decode(),
        "sec1_ec": ec_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none).decode(),
        "openssh_ed25519": ed_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none).decode(),
    }


PEMS = _pems()
PREFIXES = {
    "exception_group": lambda i: "    | ",
    "quote": lambda i: "> ",
    "comment": lambda i: "# ",
    "timestamp": lambda i: f"2026-12-02T10:00:{i % 60:02d}Z ",
    "pod": lambda i: "[pod/api-7f9c/app] ",
}


def _body_lines(pem: str) -> list[str]:
    return pem.strip().splitlines()[1:-1]


_EC_ARMOUR = PEMS["sec1_ec"].strip().splitlines()[0]
_EC_BODY = _body_lines(PEMS["sec1_ec"])[0]


def _pem_marker(pem: str) -> str:
    """The marker of ``pem`` written plainly (its fingerprint is the body's)."""
    found = MARKER.findall(str(scrub(pem)))
    assert len(found) == 1
    return f"[REDACTED:{found[0][0]}:{found[0][1]}]"


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
@pytest.mark.parametrize("kind", sorted(PEMS))
@pytest.mark.parametrize("newline", ["\n", "\r\n", "json"])
def test_a_pem_block_whose_lines_share_a_prefix_is_one_marker(prefix: str, kind: str, newline: str) -> None:
    pem = PEMS[kind]
    lines = [PREFIXES[prefix](i) + line for i, line in enumerate(pem.strip().splitlines())]
    block = "\n".join(["key reload failed:", *lines, PREFIXES[prefix](99) + "done"])
    text = json.dumps({"exception": block}) if newline == "json" else block.replace("\n", newline)
    out = str(scrub(text))
    for line in _body_lines(pem):
        assert line not in out and line[8:40] not in out, (prefix, out)
    assert out.count("[REDACTED:private_key:") == 1
    assert _pem_marker(pem) in out  # the key's own fingerprint
    assert "key reload failed:" in out and out.rstrip('"}').endswith("done")
    assert scrub(out) == out


@pytest.mark.parametrize("kind", sorted(PEMS))
def test_a_pem_body_with_json_value_escapes_is_one_marker(kind: str) -> None:
    pem = PEMS[kind]
    for text in (
        json.dumps({"key": pem}).replace("/", "\\/"),  # PHP's json_encode
        json.dumps({"key": pem}).replace("+", "\\u002B"),  # .NET's System.Text.Json
        json.dumps({"key": pem}).replace("+", "\\u002b").replace("/", "\\u002F").replace("=", "\\u003D"),
    ):
        out = str(scrub(text))
        assert out == f'{{"key": "{_pem_marker(pem)}\\n"}}', out


def test_an_exception_group_traceback_with_a_pem_through_the_stdlib_redactor() -> None:
    pem = PEMS["sec1_ec"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.s13.group")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ExceptionGroup("2 loaders failed", [ValueError(f"unsupported key format:\n{pem}"), KeyError("kid")])
        except ExceptionGroup:
            logger.exception("key reload failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for line in _body_lines(pem):
        assert line not in out
    assert "    | " + _pem_marker(pem) in out
    assert "KeyError: 'kid'" in out  # (the lines after the block are kept)


def test_prefixed_pem_lines_stop_at_another_prefix_or_text() -> None:
    pem = PEMS["sec1_ec"]
    body = _body_lines(pem)
    # a BEGIN line whose next lines have another prefix: only what the expression reads (the armour)
    text = "| " + pem.strip().splitlines()[0] + "\n> " + "\n> ".join(body)
    out = str(scrub(text))
    assert out.count("[REDACTED:private_key:") == 1 and body[0] in out
    # a truncated block: up to its last body line; the line after it is no body
    text = "    | " + "\n    | ".join(pem.strip().splitlines()[:-1]) + "\n    | KeyError: 'kid'"
    out = str(scrub(text))
    assert all(line not in out for line in body) and out.endswith("\n    | KeyError: 'kid'")


# -- 8. credential files, Go's MySQL DSN, names -----------------------------------------------------------------------
def test_credential_files_and_go_dsn_in_every_sink() -> None:
    for value in (
        f"machine api.example.com login bot password {OPAQUE}",
        {"detail": f"machine api.example.com\nlogin bot\npassword {OPAQUE}\n"},
        f"db.internal:5432:billing:app:{OPAQUE}",
        f"localhost:*:*:postgres:{OPAQUE}",
        f"10.0.0.12:5432:billing:app:{OPAQUE}",
        {"detail": f"app:{OPAQUE}@tcp(db:3306)/billing"},
        f"dsn=app:{OPAQUE}@unix(/run/mysqld/mysqld.sock)/billing",
    ):
        for sink, out in _all_sinks(value).items():
            assert OPAQUE not in out, (value, sink, out)


@pytest.mark.parametrize(
    "text",
    [
        "kernel[0]: en0: BSSID changed to 5c:50:15:4c:18:13",  # a MAC address
        "MDNS: IPV6 Addr: 2607:f140:400:a01b:c6b3:1ff:fecd:467f",
        "v6(en0:2607:f140:6000:8:c6b3:1ff:fecd:467f) DNS! Proxy SMB",
        "20171223-22:15:29:615|Step_LSC|30002312|onExtend:1514038530000 14 0 4",
        "quorum peers 10.10.34.11:2888:3888 and zk-1:2888:3888",
        "listening on db:5432:billing:app:short",  # (a password of fewer than 8 characters: no pgpass line)
        "the machine password is required by default",
        "machine learning model: default password policy",
        "user:pw@host without a network",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/billing/db-AbCdEf",
        "urn:ietf:params:oauth:token-type:jwt",
    ],
)
def test_shapes_the_new_rules_must_not_take(text: str) -> None:
    assert scrub(text) == text
    assert scrub_value({"detail": text}) == {"detail": text}


@pytest.mark.parametrize(
    ("name", "strength"),
    [
        ("signing_key", p.STRONG),
        ("encryption_key", p.STRONG),
        ("hmacKey", p.STRONG),
        ("RAILS_MASTER_KEY", p.STRONG),
        ("SECRET_KEY_BASE", p.STRONG),
        ("APP_KEY", p.STRONG),
        ("laravel_app_key", p.STRONG),
        ("signing_key_id", p.NOT_SECRET_NAME),  # an identifier
        ("key_base", p.NOT_SECRET_NAME),
        ("mapp_key", p.NOT_SECRET_NAME),
    ],
)
def test_key_names_say_what_the_key_is_for(name: str, strength: int) -> None:
    assert p.name_strength(name) == strength


# -- linear time on hostile input (as tests/redact/test_adversarial.py) ---------------------------------------------
def _hostile(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


HOSTILE = {
    "escaped_newline_prefix": lambda: _hostile("\\nghp_"),
    "escaped_newline_bearer": lambda: _hostile("\\r\\nBearer "),
    "php_slack_prefix": lambda: _hostile("hooks.slack.com\\/services\\/"),
    "percent_slack_prefix": lambda: _hostile("hooks.slack.com%2Fservices%2F"),
    "json_url_passwords": lambda: _hostile(":\\/\\/u:p@"),
    "percent_url_passwords": lambda: _hostile("%3A%2F%2Fu%3Ap%40"),
    "go_dsn": lambda: _hostile("a:b@tcp("),
    "pgpass_lines": lambda: _hostile("h:1:a:b:cccccccc "),
    "pgpass_hints": lambda: _hostile("h.x:5432:db:u:"),
    "netrc_default": lambda: _hostile("default login u password "),
    # (the armour and the body's first characters of the key generated for this run: no key text in the sources)
    "pem_prefixed_begins": lambda: _hostile(f"    | {_EC_ARMOUR}\n    | {_EC_BODY[:4]}\n"),
    "pem_prefixed_body": lambda: f"    | {_EC_ARMOUR}\n" + _hostile(f"    | {_EC_BODY[:16]}\n"),
    "account_key_escapes": lambda: "AccountKey=" + _hostile("\\u002B"),
    "aws_secret_percent_escapes": lambda: f"{AWS_ID} " + _hostile("Ab1%2B"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_4mb_hostile_input_of_the_new_rules_is_linear(name: str) -> None:
    assert_scrub_linear(name, HOSTILE[name]()[:SIZE])
