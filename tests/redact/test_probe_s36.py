"""Session 36's redaction probe (the leak families the session 35 probe listed under Known limits): credentials left in
logs.

- F10: an Azure DevOps personal access token (or any "PAT") under a name whose last word is "pat"
  ("AZURE_DEVOPS_EXT_PAT=", "ado_pat:", '"pat":', "adoPat=", R's "GITHUB_PAT"): "pat" was no secret's word ("path",
  "pattern", "compat" still are none).
- F13: a webhook's signature in its header (GitHub's "X-Hub-Signature-256: sha256=<hex>", Stripe's "t=...,v1=<hex>",
  Slack's "v0=<hex>", Standard Webhooks' "v1,<base64>", Shopify's "X-Shopify-Hmac-Sha256: <base64>"): only the bare
  "Signature: <hex>" was redacted.
- F09: a page's anti-forgery token in a meta element ('<meta name="csrf-token" content="...">', Spring's "_csrf"): the
  form's hidden input was redacted already, the meta element was not.
- F15: Composer's "github-oauth" (also "gitlab-oauth", "gitlab-token", "bearer") token for a host, in auth.json, in
  COMPOSER_AUTH and given to "composer config"; "http-basic.<host> <user> <password>" on the command line.
- F05: Redis MONITOR's '"CONFIG" "SET" "requirepass" "<pw>"' (and masterauth) and MIGRATE's '"AUTH2" "user" "<pw>"';
  MIGRATE's '"AUTH" "<pw>" "KEYS" ...' redacted "KEYS" and kept the password.
- F07: PHP's print_r ("[password] => x", "[password:protected] => x") and var_dump ('["password"]=> string(6) "x"',
  one line or, in a whole text, the value on the next line).
- F06: Erlang's header tuples of binaries ('{<<"x-api-key">>, <<"x">>}', '#{<<"token">> => <<"x">>}').

Every path: ``scrub`` (str and bytes), the stdlib logging redactor, the structlog processor, ``jwtobs scrub FILE`` and
``jwtobs scan FILE`` with every engine. Secrets are synthetic, made here at run time.
"""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

import pytest

from jwtobs.redact import scan, scrub, scrub_value
from tests.redact.test_adversarial import BOUND_S, SIZE, _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    ENGINES,
    _fixed_key,
    assert_logging_redacts,
    assert_scan_finds,
    assert_scrub_copies,
    assert_scrub_redacts,
    assert_structlog_redacts,
    log_of,
    opaque,
)

_RND = random.Random(3636)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int = 40, alphabet: str = _ALNUM) -> str:
    return opaque(_RND, n, alphabet)


def _hex(n: int) -> str:
    return "".join(_RND.choices("0123456789abcdef", k=n))


def _b64(nbytes: int) -> str:
    while True:
        out = base64.b64encode(_RND.randbytes(nbytes)).decode()
        if any(c.isupper() for c in out) and any(c.islower() for c in out) and any(c.isdigit() for c in out):
            return out


def _ado() -> str:  # an Azure DevOps PAT: 52 characters of base32, lower case
    return "".join(_RND.choices("abcdefghijklmnopqrstuvwxyz234567", k=52))


T = [_opaque() for _ in range(20)]
PW = [_opaque(16) for _ in range(20)]
ADO = [_ado() for _ in range(8)]
HX = [_hex(64) for _ in range(8)]
B64 = [_b64(32) for _ in range(6)]
TW = _b64(20)  # an HMAC-SHA1 in base64 (Twilio's)
M = "1700000000.123456 [0 127.0.0.1:6379]"  # a MONITOR line's time and client

#: name -> (one-line text, the secret it holds, text that must stay in the output)
LEAKS: dict[str, tuple[str, str, str]] = {
    # F10
    "f10_azure_devops_pat": (f"AZURE_DEVOPS_PAT={ADO[0]}", ADO[0], "AZURE_DEVOPS_PAT=[REDACTED:"),
    "f10_az_cli_export": (f"export AZURE_DEVOPS_EXT_PAT={ADO[1]}", ADO[1], "export AZURE_DEVOPS_EXT_PAT="),
    "f10_yaml": (f"ado_pat: {ADO[2]}", ADO[2], "ado_pat: [REDACTED:"),
    "f10_yaml_quoted": (f'  ado_pat: "{ADO[3]}"', ADO[3], '  ado_pat: "[REDACTED:'),
    "f10_json": (f'{{"organization": "acme", "pat": "{ADO[4]}"}}', ADO[4], '{"organization": "acme", "pat": "'),
    "f10_env_repr": (f"environ={{'MY_ORG_PAT': '{ADO[5]}', 'HOME': '/root'}}", ADO[5], "'HOME': '/root'"),
    "f10_camel": (f'adoPat="{ADO[6]}"', ADO[6], 'adoPat="'),
    "f10_option": (f"--ado-pat={ADO[7]} --org acme", ADO[7], " --org acme"),
    "f10_github_pat": (f"GITHUB_PAT={T[0]}", T[0], "GITHUB_PAT="),
    # F13
    "f13_github_256": (f"X-Hub-Signature-256: sha256={HX[0]}", HX[0], "X-Hub-Signature-256: sha256=[REDACTED:"),
    "f13_github_sha1": (f"X-Hub-Signature: sha1={HX[1][:40]}", HX[1][:40], "X-Hub-Signature: sha1=[REDACTED:"),
    "f13_github_json": (
        f'headers={{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256={HX[2]}"}}',
        HX[2],
        '"X-GitHub-Event": "push"',
    ),
    "f13_asgi_repr": (f"[(b'x-hub-signature-256', b'sha256={HX[3]}')]", HX[3], "(b'x-hub-signature-256', b'sha256="),
    "f13_stripe": (f"Stripe-Signature: t=1700000000,v1={HX[4]},v0={HX[5]}", HX[4], "t=1700000000,v1=[REDACTED:"),
    "f13_slack": (f"X-Slack-Signature: v0={HX[6]}", HX[6], "X-Slack-Signature: v0=[REDACTED:"),
    "f13_standard_webhooks": (
        f"webhook-signature: v1,{B64[0]} v1,{B64[1]}",
        B64[1],
        "webhook-signature: v1,[REDACTED:",
    ),
    "f13_shopify": (f"X-Shopify-Hmac-Sha256: {B64[2]}", B64[2], "X-Shopify-Hmac-Sha256: [REDACTED:"),
    "f13_shopify_json": (f'{{"x-shopify-hmac-sha256": "{B64[3]}"}}', B64[3], '{"x-shopify-hmac-sha256": "'),
    "f13_twilio": (f"X-Twilio-Signature: {TW}", TW, "X-Twilio-Signature: [REDACTED:"),
    "f13_go_header_map": (f"map[X-Hub-Signature-256:[sha256={HX[7]}]]", HX[7], "map[X-Hub-Signature-256:[sha256="),
    # F09
    "f09_rails_meta": (
        f'<meta name="csrf-param" content="authenticity_token" /><meta name="csrf-token" content="{T[1]}-_x" />',
        T[1],
        '<meta name="csrf-param" content="authenticity_token" /><meta name="csrf-token" content="[REDACTED:',
    ),
    "f09_spring_meta": (f'<meta name="_csrf" content="{T[2]}"/>', T[2], '<meta name="_csrf" content="'),
    "f09_xsrf_single_quotes": (f"<meta name='xsrf-token' content='{T[3]}'>", T[3], "<meta name='xsrf-token' content='"),
    "f09_django_input": (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{T[4]}">',
        T[4],
        'name="csrfmiddlewaretoken" value="[REDACTED:',
    ),
    # F15
    "f15_auth_json": (
        f'{{"github-oauth": {{"github.com": "{HX[0][:40]}"}}}}',
        HX[0][:40],
        '{"github-oauth": {"github.com": "',
    ),
    "f15_two_hosts": (
        f'{{"gitlab-token": {{"gitlab.example.org": "{T[5]}", "gitlab.example.com:8443": "{T[6]}"}}}}',
        T[6],
        '"gitlab.example.com:8443": "[REDACTED:',
    ),
    "f15_composer_auth_env": (
        f"""COMPOSER_AUTH='{{"github-oauth":{{"github.com":"{HX[1][:40]}"}}}}'""",
        HX[1][:40],
        "COMPOSER_AUTH='",
    ),
    "f15_config_cli": (
        f"composer config -g github-oauth.github.com {HX[2][:40]}",
        HX[2][:40],
        "composer config -g github-oauth.github.com [REDACTED:",
    ),
    "f15_http_basic_cli": (
        f"composer config --global http-basic.repo.example.org deploy {PW[0]}",
        PW[0],
        "http-basic.repo.example.org deploy [REDACTED:",
    ),
    "f15_bearer_json": (f'{{"bearer": {{"repo.example.org": "{T[7]}"}}}}', T[7], '{"bearer": {"repo.example.org": "'),
    # F05
    "f05_requirepass": (f'{M} "CONFIG" "SET" "requirepass" "{PW[1]}"', PW[1], '"CONFIG" "SET" "requirepass" "'),
    "f05_masterauth_lower": (f'{M} "config" "set" "masterauth" "{PW[2]}"', PW[2], '"config" "set" "masterauth" "'),
    "f05_migrate_auth_keys": (
        f'{M} "MIGRATE" "10.0.0.2" "6379" "" "0" "5000" "AUTH" "{PW[3]}" "KEYS" "a" "b"',
        PW[3],
        '" "KEYS" "a" "b"',
    ),
    "f05_migrate_auth2": (
        f'{M} "MIGRATE" "10.0.0.2" "6379" "k" "0" "5000" "AUTH2" "app" "{PW[4]}"',
        PW[4],
        '"AUTH2" "app" "[REDACTED:',
    ),
    "f05_hello": (f'{M} "HELLO" "3" "AUTH" "app" "{PW[5]}" "SETNAME" "c1"', PW[5], '"AUTH" "app" "[REDACTED:'),
    "f05_hset_password": (f'{M} "HSET" "user:1" "password" "{PW[6]}"', PW[6], '"HSET" "user:1" "password" "'),
    # F07
    "f07_print_r": (f"    [password] => {PW[7]}", PW[7], "    [password] => [REDACTED:"),
    "f07_print_r_inline": (
        f"Array ( [user] => bob [api_key] => {T[8]} [remember] => 1 )",
        T[8],
        " [remember] => 1 )",
    ),
    "f07_print_r_protected": (f"    [password:protected] => {PW[8]}", PW[8], "[password:protected] => [REDACTED:"),
    "f07_print_r_private": (
        f"    [secret:App\\Config:private] => {PW[9]}",
        PW[9],
        "[secret:App\\Config:private] => [REDACTED:",
    ),
    "f07_var_dump_one_line": (
        f'array(2) {{ ["user"]=> string(3) "bob" ["password"]=> string(16) "{PW[10]}" }}',
        PW[10],
        '["password"]=> string(16) "[REDACTED:',
    ),
    "f07_var_dump_protected": (
        f'["password":protected]=> string(16) "{PW[11]}"',
        PW[11],
        '["password":protected]=> string(16) "',
    ),
    "f07_var_export": (f"  'db_password' => '{PW[12]}',", PW[12], "  'db_password' => '"),
    "f07_form_array": (f"POST /login user[name]=bob&user[password]={PW[13]}", PW[13], "user[name]=bob&user[password]="),
    # F06
    "f06_erlang_tuple": (f'{{<<"x-api-key">>, <<"{T[9]}">>}}', T[9], '{<<"x-api-key">>, <<"'),
    "f06_erlang_list": (
        f'[{{<<"host">>,<<"api">>}},{{<<"x-auth-token">>,<<"{T[10]}">>}}]',
        T[10],
        '[{<<"host">>,<<"api">>},{<<"x-auth-token">>,<<"',
    ),
    "f06_erlang_map": (f'#{{<<"token">> => <<"{T[11]}">>}}', T[11], '#{<<"token">> => <<"'),
    # (already redacted before: the scheme's credential wherever the header's name is)
    "f06_node_raw_headers": (
        f"rawHeaders: [ 'Host', 'api', 'Authorization', 'Bearer {T[12]}', 'Cookie', 'session={T[13]}' ]",
        T[13],
        "rawHeaders: [ 'Host', 'api', 'Authorization', 'Bearer [REDACTED:",
    ),
    "f06_erlang_bearer": (f'{{<<"authorization">>, <<"Bearer {T[14]}">>}}', T[14], '<<"Bearer [REDACTED:'),
}

#: whole texts of several lines (the whole-text paths see the value below its name)
BLOCKS: dict[str, tuple[str, str, str]] = {
    "f07_var_dump": (
        f'array(2) {{\n  ["user"]=>\n  string(3) "bob"\n  ["password"]=>\n  string(16) "{PW[14]}"\n}}',
        PW[14],
        '  ["password"]=>\n  string(16) "[REDACTED:',
    ),
    "f07_print_r": (f"Array\n(\n    [user] => bob\n    [password] => {PW[15]}\n)", PW[15], "    [user] => bob\n"),
}

#: the same formats holding no credential (and near misses): unchanged by every path
KEPT = [
    # F10
    "path=/x",
    "PATTERN=abc",
    "pattern: ^[a-z]+$",
    "PAT_COUNT=3",
    "pat_expiry=2026-01-01",
    "spatial_index=enabled",
    "patch=0001-fix.patch",
    "compat=1",
    "PATH=/usr/local/bin:/usr/bin:/bin",
    'url_pattern="/api/v1/*"',
    "AZURE_DEVOPS_EXT_PAT=${AZURE_DEVOPS_EXT_PAT}",
    "SYSTEM_ACCESSTOKEN=$(System.AccessToken)",
    "ado_pat: <your PAT here>",
    "pat: true",
    "GITHUB_PAT is not set",
    # F13 (a hash after a name that is no signature's is a file's or a body's digest)
    f"Collecting requests==2.31.0 --hash=sha256:{_hex(64)}",
    f"sha256={_hex(64)}  requirements.txt",
    f"Downloading pkg-1.0.tar.gz sha256={_hex(64)}",
    f"X-Amz-Content-Sha256: {_hex(64)}",
    f"Digest: sha-256={_b64(32)}",
    f'<script src="app.js" integrity="sha384-{_b64(48)}"></script>',
    f"layer sha256:{_hex(64)} already exists",
    f"content_sha256={_hex(64)} file_hash sha256={_hex(64)}",
    # (no header's name: whether it is a signature cannot be told)
    f'10.1.2.3 - - [01/Jan/2026:00:00:00 +0000] "POST /hook HTTP/1.1" 200 2 "-" "Hookshot/1" "sha256={_hex(64)}"',
    "X-Hub-Signature-256 header missing",
    "signature verification failed for webhook",
    "signature_algorithm=sha256",
    "Stripe-Signature: t=1700000000",
    "webhook-signature: v1,",
    "X-Shopify-Hmac-Sha256: missing",
    "X-Slack-Signature: v0=verification_failed_for_request_42",
    "hmac: sha256",
    # F09
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="csrf-param" content="authenticity_token" />',
    '<meta name="_csrf_header" content="X-CSRF-TOKEN"/>',
    '<meta name="description" content="A page about CSRF tokens and authenticity tokens">',
    '<input type="hidden" name="authenticity_token" value="">',
    '<input type="hidden" name="csrfmiddlewaretoken" value="{{ csrf_token }}">',
    '<meta name="csrf-token" content="{{ csrf_token() }}">',
    '<meta name="theme-color" content="#ffffff">',
    "Forbidden (CSRF token missing or incorrect.): /login/",
    "csrf: true",
    # F15
    '{"require": {"php": ">=8.1", "monolog/monolog": "^3.0"}}',
    '{"github-oauth": {}}',
    '"github-protocols": ["https", "ssh"]',
    "composer config -g github-oauth.github.com",
    "composer config repositories.foo vcs https://github.com/acme/foo",
    '{"config": {"github-domains": ["github.com", "github.example.org"]}}',
    '{"http-basic": {"repo.example.org": {"username": "u"}}}',
    "Reading ./auth.json (github-oauth for github.com)",
    '{"github-oauth": {"github.com": "${GITHUB_TOKEN}"}}',
    '{"bearer": {"type": "jwt"}}',
    # F05
    f'{M} "GET" "user:42"',
    f'{M} "SET" "session:count" "3"',
    f'{M} "CONFIG" "GET" "requirepass"',
    f'{M} "CONFIG" "SET" "maxmemory" "2gb"',
    f'{M} "HELLO" "3"',
    f'{M} "CLIENT" "SETNAME" "worker-1"',
    f'{M} "MIGRATE" "10.0.0.2" "6379" "k" "0" "5000" "COPY"',
    f'{M} "HGET" "user:1" "password"',
    "redis-cli -h cache.internal ping",
    "127.0.0.1:6379> INFO replication",
    "AUTH failed: WRONGPASS invalid username-password pair",
    'the "password" "field" is required',
    # F07
    "    [name] => bob",
    "[user] => bob",
    "    [id] => 42",
    "  'name' => 'bob',",
    "[password] => ",
    "[password] => *****",
    "  'password' => '',",
    '["name"]=> string(3) "bob"',
    '["password"]=> string(0) ""',
    "[password_hash] => $2y$10$" + _opaque(53),
    "[password_changed_at] => 2024-01-01 10:00:00",
    "[remember_token] => ",
    '  "password" => null,',
    "[token_type] => Bearer",
    "[session] => 1",
    # F06
    "rawHeaders: [ 'Host', 'localhost:3000', 'Accept', '*/*', 'Connection', 'keep-alive' ]",
    "rawHeaders: [ 'Authorization', 'Bearer', 'Host', 'x' ]",
    '[{<<"host">>,<<"api">>},{<<"content-type">>,<<"application/json">>}]',
    '{<<"authorization">>, <<"">>}',
    '#{<<"token_type">> => <<"bearer">>}',
    "Authorization,required",
]
KEPT_BLOCKS = [
    'array(1) {\n  ["name"]=>\n  string(3) "bob"\n}',
    'array(1) {\n  ["password"]=>\n  NULL\n}',
    "Array\n(\n    [name] => bob\n    [password] => \n)",
]


# -- scrub() ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*LEAKS, *BLOCKS])
def test_scrub_redacts_the_credential_and_keeps_the_rest(name: str) -> None:
    """Before: each text kept its credential (F06's node and bearer forms were redacted already: checked here too)."""
    assert_scrub_redacts(*(LEAKS.get(name) or BLOCKS[name]))


@pytest.mark.parametrize("text", KEPT + KEPT_BLOCKS)
def test_the_same_formats_without_a_credential_are_unchanged(text: str) -> None:
    assert scrub(text) == text
    assert scrub_value({"msg": text}) == {"msg": text}


def test_every_mac_of_a_signature_is_its_own_marker_and_the_labels_stay() -> None:
    out = str(scrub(LEAKS["f13_stripe"][0]))
    assert HX[4] not in out and HX[5] not in out and out.count("[REDACTED:") == 2, out
    assert out.startswith("Stripe-Signature: t=1700000000,v1=[REDACTED:") and ",v0=[REDACTED:" in out
    out = str(scrub(LEAKS["f13_standard_webhooks"][0]))
    assert B64[0] not in out and out.count(" v1,[REDACTED:") == 2 and out.count("[REDACTED:") == 2, out


def test_a_mapping_or_a_header_pair_named_as_a_signature_is_redacted() -> None:
    """structlog's and logging's dict values: the key is the header's name, the value its labelled MAC."""
    sig = _hex(64)
    out = scrub_value({"X-Hub-Signature-256": f"sha256={sig}", "X-GitHub-Event": "push"})
    assert sig not in json.dumps(out) and out["X-GitHub-Event"] == "push", out
    assert out["X-Hub-Signature-256"].startswith("sha256=[REDACTED:")
    b64 = _b64(32)
    pair = scrub_value((b"x-shopify-hmac-sha256", b64.encode()))
    assert isinstance(pair, tuple) and b64.encode() not in pair[1] and pair[0] == b"x-shopify-hmac-sha256", pair
    assert scrub_value({"X-Hub-Signature-256": "missing"}) == {"X-Hub-Signature-256": "missing"}
    assert scrub_value({"ado_pat": ADO[0]}) != {"ado_pat": ADO[0]}
    assert scrub_value({"path": "/x", "pattern": "abc"}) == {"path": "/x", "pattern": "abc"}


# -- stdlib logging and structlog -----------------------------------------------------------------------------------
def test_the_logging_redactor_redacts_every_form() -> None:
    """Before: the message, an argument and an ``extra`` value reached the stream with the credential."""
    leaks = [(text, secret) for text, secret, _ in (*LEAKS.values(), *BLOCKS.values())]
    assert_logging_redacts(leaks, KEPT + KEPT_BLOCKS)


def test_the_structlog_processor_redacts_every_form() -> None:
    leaks = [(text, secret) for text, secret, _ in (*LEAKS.values(), *BLOCKS.values())]
    assert_structlog_redacts(leaks, KEPT + KEPT_BLOCKS)


# -- jwtobs scan and jwtobs scrub, every engine ----------------------------------------------------------------------
def _log(tmp_path: Path) -> tuple[Path, list[int]]:
    return log_of(tmp_path / "probe.log", list(KEPT), [text for text, _, _ in LEAKS.values()])


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scan_finds_every_line(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: no finding for these lines (but F06's node and bearer forms), and now none for the kept lines."""
    assert_scan_finds(*_log(tmp_path), engine, capsys)


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scrub_writes_a_copy_without_the_credentials(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_scrub_copies(*_log(tmp_path), [secret for _, secret, _ in LEAKS.values()], engine, capsys)


@pytest.mark.parametrize("engine", ENGINES)
def test_line_readers_cannot_see_var_dumps_value_below_its_name(engine: str, tmp_path: Path) -> None:
    """``jwtobs scan``/``scrub`` read a file line by line: var_dump's '["password"]=>' alone names no value, and the
    line below it ('  string(16) "<pw>"') has no name: not found (docs/redaction.md, Known limits). print_r's lines
    are found one by one."""
    path = tmp_path / "dump.log"
    path.write_text(BLOCKS["f07_var_dump"][0] + "\n", encoding="utf-8")
    assert list(scan.Scanner(engine).scan_file(str(path), scan.ScanReport())) == []
    path.write_text(BLOCKS["f07_print_r"][0] + "\n", encoding="utf-8")
    assert [f.line for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())] == [4]


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    # F10
    "pat_names": lambda: _repeat("ado_pat_"),
    "pat_fields": lambda: _repeat("_pat=x"),
    "pat_words": lambda: _repeat("pat pat "),
    # F13
    "signature_names": lambda: _repeat("signature: "),
    "signature_labels": lambda: _repeat("x-hub-signature-256: sha256="),
    "signature_label_chain": lambda: ("signature: " + "v1,a " * SIZE)[:SIZE],
    "signature_runs": lambda: ("signature: v1," + "Ab1+" * SIZE)[:SIZE],
    "hmac_names": lambda: _repeat("hmac-sha256="),
    # F09
    "meta_names": lambda: _repeat('<meta name="csrf-token" '),
    "meta_contents": lambda: _repeat('name="a" content="'),
    # F15
    "composer_objects": lambda: _repeat('"github-oauth": {'),
    "composer_entries": lambda: ('"bearer": {' + '"a.b": "c", ' * SIZE)[:SIZE],
    "composer_configs": lambda: _repeat("config -g "),
    "composer_hosts": lambda: ("config github-oauth." + "a." * SIZE)[:SIZE],
    # F05
    "monitor_quoted_names": lambda: _repeat('"requirepass" '),
    "monitor_auth2": lambda: _repeat('"AUTH2" "'),
    # F07
    "print_r_names": lambda: _repeat("[password] => "),
    "php_members": lambda: _repeat("[password:"),
    "php_private_members": lambda: ("[secret:" + "a\\" * SIZE)[:SIZE],
    "var_dump_strings": lambda: _repeat('["token"]=>\n  string(1) '),
    # F06
    "erlang_binaries": lambda: _repeat('<<"token">>, <<'),
    "erlang_open": lambda: _repeat('{<<"'),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])


def test_long_structured_values_are_linear() -> None:
    start = time.thread_time()
    scrub_value({"X-Hub-Signature-256": _repeat("sha256=")})
    scrub_value({"headers": [("x-hub-signature-256", "sha256=" + "a" * 64)] * 20_000})
    assert time.thread_time() - start < 4 * BOUND_S
