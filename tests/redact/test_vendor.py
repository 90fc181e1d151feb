"""Vendor-prefixed credentials of gitleaks' default rules and trufflehog's detectors (issue 13): each shape is
found by the scrubber, the structlog and stdlib redactors and ``jwtobs scan`` (every engine), and its near misses
(a body one character short, or one too long where the rule fixes the length; the prefix inside a word) are kept.
An AWS secret access key with no name is redacted on a line that holds its access key id.

Every sample is built at run time: a fixed prefix and a random body from the rule's alphabet (no credential in the
source)."""

from __future__ import annotations

import io
import json
import logging
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from jwtobs import config
from jwtobs.cli import main
from jwtobs.redact import LoggingRedactor, StructlogRedactor, scan, scrub
from jwtobs.redact import patterns as p
from tests.redact.test_adversarial import SIZE, assert_scrub_linear

KEY = "test-vendor-fingerprint-key"
ENGINES = ["hyperscan", "python"] if scan.default_engine() == "hyperscan" else ["python"]

AN = string.ascii_letters + string.digits
UP = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = AN + "+/"
URL = AN + "-_"
DIG = string.digits
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()
    yield
    config.reset()


Part = tuple[str, int] | str  # (alphabet, count) or a literal


@dataclass(frozen=True)
class Shape:
    """A rule's token: its parts (a part of a range of lengths at the shortest); ``short`` is the index of the part
    that is one character short in the near miss; ``exact``: the rule fixes that part's length (one character more
    is a near miss too)."""

    parts: tuple[Part, ...]
    short: int
    exact: bool = True

    def build(self, rnd: random.Random, delta: int = 0) -> str:
        out = []
        for i, part in enumerate(self.parts):
            if isinstance(part, str):
                out.append(part)
                continue
            alphabet, n = part
            out.append("".join(rnd.choice(alphabet) for _ in range(n + (delta if i == self.short else 0))))
        return "".join(out)


def _s(*parts: Part, short: int = -1, exact: bool = True) -> Shape:
    return Shape(parts, short % len(parts), exact)


SHAPES: dict[str, Shape] = {
    "1password_service_account": _s("ops_eyJ", (B64, 250), exact=False),
    "age_secret_key": _s("AGE-SECRET-KEY-1", (BECH32, 58)),
    "artifactory_api_key": _s("AKCp", (AN, 69)),
    "artifactory_reference": _s("cmVmd", (AN, 59)),
    "atlassian": _s("ATATT3", (AN + "_-=", 186)),
    "clojars": _s("CLOJARS_", (AN, 60)),
    "easypost": _s("EZAK", (AN, 54)),
    "easypost_test": _s("EZTK", (AN, 54)),
    "facebook_page": _s("EAAM", (AN, 100), exact=False),
    "flutterwave_secret": _s("FLWSECK_TEST-", ("abcdefgh" + DIG, 32), "-X", short=1, exact=False),
    "flutterwave_live": _s("FLWSECK-", ("abcdefgh" + DIG, 32), "-X", short=1, exact=False),
    "flutterwave_encryption": _s("FLWSECK_TEST-", ("abcdefgh" + DIG, 12), exact=False),
    "flyio": _s("fm2_", (B64, 100), exact=False),
    "frameio": _s("fio-u-", (URL + "=", 64)),
    "grafana_cloud": _s("glc_", (B64, 32), exact=False),
    "grafana_api_key": _s("eyJrIjoi", (AN, 70), exact=False),
    "gitlab_feed": _s("glft-", (URL, 20)),
    "gitlab_feature_flag": _s("glffct-", (URL, 20)),
    "gitlab_incoming_mail": _s("glimt-", (URL, 25)),
    "gitlab_agent": _s("glagent-", (URL, 50)),
    "gitlab_oauth_secret": _s("gloas-", (URL, 64)),
    "vault_service": _s("hvs.", (URL, 90), exact=False),
    "vault_batch": _s("hvb.", (URL, 138), exact=False),
    "heroku": _s("HRKU-AA", (URL, 58)),
    "linear": _s("lin_api_", (AN, 40)),
    "new_relic_user": _s("NRAK-", (AN, 27)),
    "new_relic_insert": _s("NRII-", (AN + "-", 32)),
    "notion": _s("ntn_", (DIG, 11), (AN, 35)),
    "planetscale_token": _s("pscale_tkn_", (AN + "_", 32), exact=False),
    "planetscale_password": _s("pscale_pw_", (AN + "_", 32), exact=False),
    "planetscale_oauth": _s("pscale_oauth_", (AN + "_", 32), exact=False),
    "postman": _s("PMAK-", (HEX, 24), "-", (HEX, 34)),
    "prefect": _s("pnu_", (AN, 36)),
    "perplexity": _s("pplx-", (AN, 48)),
    "readme": _s("rdme_", (string.ascii_lowercase + DIG, 70)),
    "rubygems": _s("rubygems_", (HEX, 48)),
    "scalingo": _s("tk-us-", (URL, 48)),
    "sendinblue": _s("xkeysib-", (HEX, 64), "-", (AN, 16)),
    "brevo_smtp": _s("xsmtpsib-", (HEX, 64), "-", (AN, 16)),
    "sentry_user": _s("sntryu_", (HEX, 64)),
    "sentry_org": _s("sntrys_eyJ", (B64, 120), "_", (B64, 43)),
    "settlemint": _s("sm_pat_", (AN, 16)),
    "shippo": _s("shippo_live_", (HEX, 40)),
    "slack_app": _s("xapp-1-A", (UP, 10), "-", (DIG, 13), "-", (HEX, 32), exact=False),
    "sourcegraph": _s("sgp_", (HEX, 40)),
    "sourcegraph_instance": _s("sgp_", (HEX, 16), "_", (HEX, 40)),
    "sourcegraph_local": _s("sgp_local_", (HEX, 40)),
    "square_oauth": _s("sq0atp-", (URL, 22), exact=False),
    "square_secret": _s("sq0csp-", (URL, 22), exact=False),
    "webhook_signing_secret": _s("whsec_", (AN, 32), exact=False),
    "supabase": _s("sbp_", (HEX, 40)),
    "typeform": _s("tfp_", (URL + "=", 59), exact=False),
    "mailgun": _s("key-", (HEX, 32)),
    "telegram_bot_url": _s("api.telegram.org/bot", (DIG, 10), ":AA", (URL, 33)),
    # (anchored inside: 3 characters, a digit and "Q~" first)
    "azure_ad_client_secret": _s((AN + "_~.", 3), (DIG, 1), "Q~", (AN + "_~.-", 31), exact=False),
    "tailscale": _s("tskey-auth-k", (AN, 10), "CNTRL-", (AN, 16), exact=False),
    "google_oauth_access_token": _s("ya29.", (URL, 30), exact=False),
}


def _sample(name: str, delta: int = 0, seed: int = 0) -> str:
    return SHAPES[name].build(random.Random(f"{name}/{seed}/{delta}"), delta)


#: shapes anchored inside the key, not at a word start: like gitleaks, a key glued after an escape's hex digit
#: ("\\u0026<key>") is not one
INFIX = {"azure_ad_client_secret"}


def _contexts(key: str, name: str) -> list[str]:
    out = [
        f"using key {key} for upload",
        key,
        f'{{"msg": "deploy", "detail": "{key}"}}',
        # (session 13) at the start of a line of a multi-line string written escaped: the letter of "\\n", "\\t" is
        # the escape's, not glued to the prefix
        json.dumps({"stdout": f"Logged in as ci-bot\n{key}\n"}),
        repr(f"name\tvalue\r\n{key}"),
        # with value escapes: PHP's json_encode ("\\/"), .NET's System.Text.Json ("\\u002B"), percent-encoded as the
        # value of a query parameter whose name names nothing
        json.dumps({"detail": key}).replace("/", "\\/"),
        json.dumps({"detail": key}).replace("+", "\\u002B"),
        "GET /cb?next=" + quote(key, safe="") + "&x=1",
    ]
    return out if name in INFIX else [*out, f"POST /hook?x=1\\u0026{key} 200"]


def _fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


def test_every_new_prefix_is_a_shape_of_the_patterns() -> None:
    """The samples use the prefixes the patterns hold (a shape dropped from the patterns fails here)."""
    for name, shape in SHAPES.items():
        fixed = next(part for part in shape.parts if isinstance(part, str))
        anchors = p.INFIX_ANCHORS if name in INFIX else p.VENDOR_PREFIXES
        assert any(fixed.startswith(v) or v.startswith(fixed) for v in anchors), name


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_is_redacted_by_the_scrubber(name: str) -> None:
    for seed in range(3):
        key = _sample(name, seed=seed)
        for text in _contexts(key, name):
            out = scrub(text)
            assert isinstance(out, str)
            assert key not in out, (name, out)
            assert f"[REDACTED:api_key:{_fp(key)}]" in out, (name, text, out)
            assert scrub(out) == out


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_near_misses_are_kept(name: str) -> None:
    shape = SHAPES[name]
    short = _sample(name, -1)
    misses = []
    if shape.exact:
        misses.append(_sample(name, +1))
    key = _sample(name)
    misses.append("x" + key)  # the prefix inside a word
    misses.append("9" + key)
    misses.append("\\nx" + key)  # (after a control escape too: only the escape's own letter is no word)
    for miss in misses:
        for text in (f"using key {miss} for upload", miss):
            assert scrub(text) == text, (name, text)
    # one character short: kept inside text; where the value ends, it may be a key cut short by a length limit
    # (patterns.VENDOR_CUT: test_forms' s14_vendor_key_cut_* cases)
    text = f"using key {short} for upload"
    assert scrub(text) == text, (name, text)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_is_redacted_by_the_structlog_and_stdlib_redactors(name: str) -> None:
    key = _sample(name, seed=7)
    processor = StructlogRedactor()
    for _ in range(2):  # (the second call goes through the redactor's caches)
        event = {"event": "uploading", "token_hint": key, "detail": f"using key {key} for upload", "n": 3}
        out = processor(None, "info", event)
        assert key not in json.dumps(out), name
        assert out["detail"] == f"using key [REDACTED:api_key:{_fp(key)}] for upload"
        assert out["n"] == 3
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger(f"tests.redact.vendor.{name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("using key %s for upload", key)
        logger.info(f"message {key}")
        logger.info("%s", key, extra={"detail": key})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert key not in text, name
    assert text.count(f"[REDACTED:api_key:{_fp(key)}]") == 3, text


def _findings(out: str) -> list[dict[str, Any]]:
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [o for o in objs if o["type"] == "finding"]


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scan_finds_every_shape_and_nothing_on_near_misses(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    expected: list[tuple[int, str]] = []
    for name in sorted(SHAPES):
        key = _sample(name, seed=11)
        for text in _contexts(key, name):
            lines.append(text)
            expected.append((len(lines), _fp(key)))
        lines.append(f"using key {_sample(name, -1)} for upload")
        lines.append(f"using key x{key} for upload")
    log = tmp_path / "vendor.log"
    log.write_text("\n".join(lines) + "\n")
    assert main(["scan", "--format", "json", "--engine", engine, str(log)]) == 0
    captured = capsys.readouterr()
    got = [(f["line"], f["fingerprint"]) for f in _findings(captured.out) if f["kind"] == "api_key"]
    assert got == expected
    assert {f["kind"] for f in _findings(captured.out)} == {"api_key"}
    for name in SHAPES:
        assert _sample(name, seed=11) not in captured.out + captured.err


# -- an AWS secret access key beside its key id ------------------------------------------------------------------
def _aws_pair(seed: int, prefix: str = "AKIA") -> tuple[str, str]:
    rnd = random.Random(f"aws/{seed}")
    key_id = prefix + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    while True:  # (a random secret has upper and lower case letters and a digit, "+" or "/": redrawn otherwise)
        secret = "".join(rnd.choice(B64) for _ in range(40))
        if p.aws_secret_runs(f"{key_id} {secret}"):
            return key_id, secret


def _aws_texts(key_id: str, secret: str) -> list[str]:
    return [
        f"creds {key_id} {secret}",
        f"{key_id}:{secret}",
        f"aws configure set {key_id} {secret} --profile ci",
        f'{{"AccessKeyId": "{key_id}", "Value": "{secret}"}}',
        f"access_key={key_id} {secret}",  # (the id taken by the field detector first)
        f"{secret} belongs to {key_id}",
        f"export AWS_ACCESS_KEY_ID={key_id} && run --with {secret}",
    ]


@pytest.mark.parametrize("prefix", p.AWS_KEY_ID_PREFIXES)
def test_aws_secret_beside_its_key_id_is_redacted(prefix: str) -> None:
    for seed in range(4):
        key_id, secret = _aws_pair(seed, prefix)
        for text in _aws_texts(key_id, secret):
            out = scrub(text)
            assert isinstance(out, str)
            assert secret not in out and key_id not in out, (text, out)
            assert _fp(secret) in out
            assert scrub(out) == out
        multi = f"line one {key_id}\nline two {secret} again {secret}"
        assert scrub(multi) == f"line one [REDACTED:api_key:{_fp(key_id)}]\nline two {secret} again {secret}"
        # (the same run on another line is kept: what the scanner finds on a line never depends on other lines)
        two = f"id {key_id} then {secret}\nrepeated {secret}"
        assert (
            scrub(two)
            == f"id [REDACTED:api_key:{_fp(key_id)}] then [REDACTED:api_key:{_fp(secret)}]\nrepeated {secret}"
        )


def test_forty_character_runs_are_kept_without_a_key_id_or_when_not_a_secret() -> None:
    key_id, secret = _aws_pair(99)
    sha = "".join(random.Random(5).choice(HEX) for _ in range(40))
    path = "/var/lib/docker/overlay2/" + "a" * 15
    kept = [  # (text, the run that stays)
        (f"commit {secret} pushed", secret),  # no key id
        (f"{key_id[:-1]} {secret}", secret),  # no key id: one character short
        (f"x{key_id} {secret}", secret),  # the id inside a word
        (f"{key_id}\n{secret}", secret),  # another line
        (f"{key_id} commit {sha}", sha),  # a hex digest
        (f"{key_id} digest {sha.upper()}", sha.upper()),
        (f"{key_id} {path}", path),  # no upper-case letter
        (f"{key_id} {'Ab1' * 13}Ab", "Ab1" * 13 + "Ab"),  # 41 characters
        (f"{key_id} {secret[:-1]}", secret[:-1]),  # 39 characters
        (f"{key_id} {secret}=", secret),  # followed by padding: a longer base64 value
    ]
    for text, run in kept:
        assert run in str(scrub(text)), text


def test_aws_secret_is_redacted_by_the_redactors_and_the_scanner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id, secret = _aws_pair(3, "ASIA")
    out = StructlogRedactor()(None, "info", {"event": "s3", "detail": f"creds {key_id} {secret}"})
    assert out["detail"] == f"creds [REDACTED:api_key:{_fp(key_id)}] [REDACTED:api_key:{_fp(secret)}]"
    # (in one message, one argument, or two arguments: an argument that changed sends the message rebuilt from
    # the scrubbed arguments to the probe, and an id and its secret in two arguments are paired on the original)
    for msg, args in (
        (f"creds {key_id} {secret}", ()),
        ("creds %s", (f"{key_id} {secret}",)),
        ("creds %s %s", (key_id, secret)),
        ("id=%s, then %s", (key_id, secret)),
    ):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, None)
        LoggingRedactor().filter(record)
        assert secret not in record.getMessage() and _fp(secret) in record.getMessage()
    log = tmp_path / "aws.log"
    texts = _aws_texts(key_id, secret)
    other = _sample("sentry_user")  # (a line with another key: batched with the id lines, scrubbed as alone)
    log.write_text("\n".join([*texts, f"no id here {secret}", f"with {other} {secret}"]) + "\n")
    for engine in ENGINES:
        assert main(["scan", "--format", "json", "--engine", engine, str(log)]) == 0
        captured = capsys.readouterr()
        found = _findings(captured.out)
        assert {f["line"] for f in found if f["fingerprint"] == _fp(secret)} == set(range(1, len(texts) + 1))
        assert [f["fingerprint"] for f in found if f["line"] > len(texts)] == [_fp(other)]


def test_aws_secret_runs_with_many_ids_on_one_line() -> None:
    key_id, secret = _aws_pair(1)
    text = " ".join([key_id, secret] * 2000)
    assert p.aws_secret_runs(text) == {secret}


# -- linear time on hostile input (as tests/redact/test_adversarial.py) ------------------------------------------
def _hostile(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


HOSTILE = {
    "aws_ids_and_runs_one_line": lambda: _hostile("AKIA" + "A" * 16 + " " + "Ab1/" * 10 + " "),
    "aws_ids_and_runs_lines": lambda: _hostile("ASIA" + "B" * 16 + " " + "Ab1+" * 10 + "\n"),
    "aws_ids_glued": lambda: _hostile("AKIA" + "A" * 16 + "Ab1/" * 10),
    "suffix_prefix": lambda: _hostile("tskey-"),
    "mailgun_short": lambda: _hostile("key-" + "a" * 31 + " "),
    "base64_prefix_run": lambda: "ops_eyJ" + _hostile("A")[7:],
    "sentry_org_run": lambda: _hostile("sntrys_eyJ" + "A" * 1100),
    "flutterwave_group": lambda: _hostile("FLWSECK_TEST-" + "a" * 31 + "-"),
    "telegram_url": lambda: _hostile("api.telegram.org/bot1234567:AA"),
    "slack_app": lambda: _hostile("xapp-1-A-1-"),
    "sentry_user_suffix": lambda: _hostile("xsntryu_"),
    # one vendor prefix, then characters that end many prefixes: 3.8 s a MB each before the lead-character
    # dispatch (a lead tried every group that ends in it), 0.16 s after
    "prefix_then_dashes": lambda: ("sk-proj-x " + _hostile("-"))[:SIZE],
    "prefix_then_dash_lines": lambda: ("xapp-1-x " + _hostile("-" * 79 + "\n"))[:SIZE],
    "prefix_then_underscores": lambda: ("ghp_x " + _hostile("_"))[:SIZE],
    "prefix_then_snake_case": lambda: ("xoxp-x " + _hostile("user_id_field_"))[:SIZE],
    "prefix_then_p_dash": lambda: ("xoxp-x " + _hostile("p-1-"))[:SIZE],
    "azure_anchor": lambda: _hostile("Q~"),
    "azure_lead": lambda: _hostile("ab1Q~"),
    "azure_long_run": lambda: _hostile("ab1Q~" + "x" * 30 + " "),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_4mb_hostile_vendor_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, HOSTILE[name]())


def test_azure_ad_secret_needs_its_lead_and_length() -> None:
    rnd = random.Random(5)
    body = "".join(rnd.choice(AN) for _ in range(31))
    key = f"aBc3Q~{body}"  # (3 characters and a digit before "Q~")
    assert scrub(f"secret {key} set") == f"secret [REDACTED:api_key:{_fp(key)}] set"
    assert key not in str(scrub(f"AZURE_CLIENT_SECRET={key}"))
    kept = (
        f"aB3Q~{body}",
        f"aBcdQ~{body}",
        f"aBc3Q~{body[:-1]}",
        f"aBc3Q~{body}1234",
        f"xaBc3Q~{body}",
        f"aBc3Q{body}",
    )
    for text in kept:
        assert scrub(f"value {text} set") == f"value {text} set", text
