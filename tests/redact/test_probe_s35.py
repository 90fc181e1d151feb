"""Session 35's redaction probe (a helper, from public formats, not the tests): credentials left in logs.

- F01: a quoted value that is itself a secret's name hid the next field's credential ("{'grant_type': 'refresh_token',
  'refresh_token': '<token>'}", requests-oauthlib's own DEBUG line; JSON, Ruby, Go's url.Values, revocation and
  token-exchange bodies, "'grant_type': 'password', 'password': ..."): "'refresh_token', 'refresh_token'" was read as a
  ("name", "value") pair, turned down, and the search went on after the real name.
- F11: a token as a URL's user ("https://<token>:x-oauth-basic@github.com/...", "https://<token>@host/...") was kept,
  and GitHub's literal password "x-oauth-basic" redacted in its place.
- F03: a YAML block scalar under a secret's name ("password: |", "|-", "|2", ">-", ">+", a Secret's "stringData:",
  "helm get values"): the header "|" was redacted as the password and the password on the next line kept.
- F02: "+" as the blank after Bearer/Basic (form encoding: "authz=Bearer+<token>", urlencode's
  "Authorization%3A+Bearer+<token>"), as "%20" already was.
- F04: dotted names ("fs.s3a.secret.key=", "secret.key = ", Hadoop's ABFS "fs.azure.account.key.<account>.blob.core.
  windows.net=") and core-site.xml's "<name>…secret.key</name><value>…</value>".
- F08: SAMLResponse outside a query string: the POST binding's form body, its HTML input, a JSON copy.
- F12: MySQL's "SET PASSWORD FOR 'bob'@'%' = '<password>'" (a general log's statement).

Every path: ``scrub`` (str and bytes), the stdlib logging redactor, the structlog processor, ``jwtobs scrub FILE`` and
``jwtobs scan FILE`` with every engine. Secrets are synthetic, made here.
"""

from __future__ import annotations

import base64
import json
import random
import time
import urllib.parse
from pathlib import Path

import pytest

from jwtobs.cli import main
from jwtobs.redact import scan, scrub, scrub_value
from tests.redact.test_adversarial import BOUND_S, SIZE, _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    ENGINES,
    MARKER,
    _fixed_key,
    assert_logging_redacts,
    assert_scan_finds,
    assert_scrub_copies,
    assert_scrub_redacts,
    assert_structlog_redacts,
    log_of,
    opaque,
)

_RND = random.Random(3535)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int = 43, alphabet: str = _ALNUM + "-_") -> str:
    return opaque(_RND, n, alphabet)


def _hex(n: int) -> str:
    return "".join(_RND.choices("0123456789abcdef", k=n))


_SAML = base64.b64encode(
    (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_'
        + _opaque(40)
        + '"><saml:Assertion>'
        + _opaque(300)
        + "</saml:Assertion></samlp:Response>"
    ).encode()
).decode()

T = [_opaque() for _ in range(40)]
PW = [_opaque(20, _ALNUM) for _ in range(10)]
GH = _hex(40)
AZURE = _opaque(86, _ALNUM + "+/") + "=="
S3 = _opaque(40, _ALNUM + "+/")

#: name -> (one-line text, the secret it holds, text that must stay in the output)
LEAKS: dict[str, tuple[str, str, str]] = {
    # F01
    "f01_oauthlib_repr": (
        "Supplying headers {'Accept': 'application/json'} and data {'grant_type': 'refresh_token', "
        f"'refresh_token': '{T[0]}', 'allow_redirects': True}}",
        T[0],
        "'grant_type': 'refresh_token', 'refresh_token': '[REDACTED:",
    ),
    "f01_json_compact": (
        f'POST /oauth/token body={{"grant_type":"refresh_token","refresh_token":"{T[1]}","client_id":"web"}}',
        T[1],
        '"grant_type":"refresh_token","refresh_token":"[REDACTED:',
    ),
    "f01_json_spaced": (
        f'{{"grant_type": "refresh_token", "refresh_token": "{T[2]}"}}',
        T[2],
        '"grant_type": "refresh_token"',
    ),
    "f01_dict_repr": (
        f"payload={{'grant_type': 'refresh_token', 'refresh_token': '{T[3]}', 'client_id': 'web'}}",
        T[3],
        "'client_id': 'web'",
    ),
    "f01_ruby_hash": (f'{{"grant_type"=>"refresh_token", "refresh_token"=>"{T[4]}"}}', T[4], '"refresh_token"=>"'),
    "f01_go_url_values": (
        f'url.Values{{"grant_type":[]string{{"refresh_token"}}, "refresh_token":[]string{{"{T[5]}"}}}}',
        T[5],
        '"grant_type":[]string{"refresh_token"}',
    ),
    "f01_revocation_hint_first": (
        f"{{'token_type_hint': 'refresh_token', 'token': '{T[6]}'}}",
        T[6],
        "'token_type_hint': 'refresh_token'",
    ),
    "f01_token_exchange": (
        "{'grant_type': 'urn:ietf:params:oauth:grant-type:token-exchange', "
        f"'subject_token': '{T[7]}', 'subject_token_type': 'urn:ietf:params:oauth:token-type:access_token'}}",
        T[7],
        "'subject_token_type': 'urn:ietf:params:oauth:token-type:access_token'",
    ),
    "f01_password_grant": (
        f"{{'grant_type': 'password', 'password': '{PW[0]}', 'username': 'bob'}}",
        PW[0],
        "'grant_type': 'password'",
    ),
    "f01_type_secret": (f"{{'type': 'secret', 'secret': '{PW[1]}'}}", PW[1], "'type': 'secret'"),
    "f01_credential_type": (
        f'{{"credential_type": "password", "password": "{PW[2]}"}}',
        PW[2],
        '"credential_type": "password"',
    ),
    # F11
    "f11_token_x_oauth_basic": (
        f"git clone https://{GH}:x-oauth-basic@github.com/acme/api.git",
        GH,
        ":x-oauth-basic@github.com/acme/api.git",
    ),
    "f11_token_as_user": (
        f"Cloning into 'api'... remote: https://{T[8]}@git.example.com/acme/api.git",
        T[8],
        "@git.example.com/acme/api.git",
    ),
    "f11_token_as_user_netloc": (
        f"SplitResult(scheme='https', netloc='{T[9]}@github.com', path='/acme/api.git')",
        T[9],
        "@github.com'",
    ),
    # F02
    "f02_header_in_query": (f"GET /proxy?header=Authorization%3A+Bearer+{T[10]} HTTP/1.1", T[10], "Bearer+[REDACTED:"),
    "f02_authz_param": (f"GET /x?authz=Bearer+{T[11]}&pelican.timeout=3s HTTP/1.1", T[11], "&pelican.timeout=3s"),
    "f02_urlencode": (
        "redirect: https://relay.example.com/fwd?"
        + urllib.parse.urlencode({"hdr": f"Authorization: Bearer {T[12]}", "to": "https://api.example.com"}),
        T[12],
        "&to=https%3A%2F%2Fapi.example.com",
    ),
    "f02_basic": (f"h=Authorization%3A+Basic+{T[13]}", T[13], "Basic+[REDACTED:basic:"),
    # F04
    "f04_spark_conf": (f"spark.hadoop.fs.s3a.secret.key={S3}", S3, "spark.hadoop.fs.s3a.secret.key="),
    "f04_spark_submit": (
        f"spark-submit --conf spark.hadoop.fs.s3a.secret.key={T[14]} job.py",
        T[14],
        " job.py",
    ),
    "f04_core_site_xml": (
        f"<property><name>fs.s3a.secret.key</name><value>{S3}</value></property>",
        S3,
        "<name>fs.s3a.secret.key</name><value>[REDACTED:",
    ),
    "f04_aws_secret_key": (f"aws.secret.key={PW[3]}", PW[3], "aws.secret.key="),
    "f04_spaced": (f"secret.key = {PW[4]}", PW[4], "secret.key = "),
    "f04_abfs_account_key": (
        f"spark.hadoop.fs.azure.account.key.acmedata.blob.core.windows.net={AZURE}",
        AZURE,
        "account.key.acmedata.blob.core.windows.net=",
    ),
    "f04_abfs_account_key_upper_case": (  # (session 37: the name's gate was case-sensitive, its pattern not)
        f"FS.AZURE.ACCOUNT.KEY.ACMEDATA.BLOB.CORE.WINDOWS.NET={PW[5]}",
        PW[5],
        "ACCOUNT.KEY.ACMEDATA.BLOB.CORE.WINDOWS.NET=",
    ),
    "f04_abfs_account_key_mixed_case": (
        f"fs.azure.Account.Key.acmedata.dfs.core.windows.net={AZURE}",
        AZURE,
        "Account.Key.acmedata.dfs.core.windows.net=",
    ),
    # F08
    "f08_html_input": (
        f'<input type="hidden" name="SAMLResponse" value="{_SAML}"/>',
        _SAML,
        'name="SAMLResponse" value="[REDACTED:',
    ),
    "f08_html_input_single_quotes": (
        f"<input type='hidden' name='SAMLResponse' value='{_SAML}'>",
        _SAML,
        "name='SAMLResponse' value='[REDACTED:",
    ),
    "f08_json": (json.dumps({"SAMLResponse": _SAML, "RelayState": "/dashboard"}), _SAML, '"RelayState": "/dashboard"'),
    # F12
    "f12_set_password_for": (
        f"SET PASSWORD FOR 'bob'@'%' = '{PW[8]}'",
        PW[8],
        "SET PASSWORD FOR 'bob'@'%' = '[REDACTED:",
    ),
    "f12_general_log": (
        f"2024-10-10T13:55:36.012345Z\t   12 Query\tSET PASSWORD FOR 'app'@'10.%' = '{PW[9]}'",
        PW[9],
        "\tSET PASSWORD FOR 'app'@'10.%' = '",
    ),
    "f12_current_user": (f"SET PASSWORD FOR CURRENT_USER() = '{T[23]}'", T[23], "CURRENT_USER() = '"),
    "f08_form_body": (
        f"POST /saml/acs body=SAMLResponse={urllib.parse.quote(_SAML, safe='')}&RelayState=%2F",
        urllib.parse.quote(_SAML, safe="")[40:80],
        "&RelayState=%2F",
    ),
}

#: F03, YAML block scalars (several lines: the whole-text paths see the block) -> (text, secret, kept text)
BLOCKS: dict[str, tuple[str, str, str]] = {
    "f03_literal": (f"database:\n  password: |\n    {PW[5]}\n  user: app", PW[5], "  password: |\n    [REDACTED:"),
    "f03_folded_strip": (f"smtp:\n  password: >-\n    {PW[6]}", PW[6], "password: >-\n"),
    "f03_literal_strip": (
        f"oidc:\n  client_id: web\n  client_secret: |-\n    {T[15]}",
        T[15],
        "client_id: web\n  client_secret: |-\n",
    ),
    "f03_k8s_string_data": (
        f"apiVersion: v1\nkind: Secret\nstringData:\n  api-token: |\n    {T[16]}\n  mode: prod",
        T[16],
        "\n  mode: prod",
    ),
    "f03_folded_keep": (f"token: >+\n  {T[17]}\n", T[17], "token: >+\n  [REDACTED:"),
    "f03_indentation_digit": (f"password: |2\n    {T[18]}", T[18], "password: |2\n"),
    "f03_helm_values": (
        f"USER-SUPPLIED VALUES:\nauth:\n  rootPassword: |\n    {T[19]}",
        T[19],
        "rootPassword: |\n",
    ),
    "f03_two_lines_and_comment": (
        f"secrets:\n  - name: x\n    password: |  # rotated monthly\n      {T[20]}\n\n      {T[21]}\n  - name: y",
        T[21],
        "password: |  # rotated monthly\n",
    ),
}

#: the same formats holding no credential: unchanged by every path
KEPT = [
    # F01
    "{'grant_type': 'refresh_token', 'scope': 'openid'}",
    '{"grant_type":"password","username":"bob"}',
    "{'token_type_hint': 'refresh_token'}",
    '{"type": "secret", "name": "db"}',
    "{'grant_type': 'urn:ietf:params:oauth:grant-type:token-exchange', "
    "'subject_token_type': 'urn:ietf:params:oauth:token-type:access_token'}",
    'url.Values{"grant_type":[]string{"refresh_token"}, "scope":[]string{"openid"}}',
    '{"grant_type": "refresh_token", "refresh_token": null}',
    # F11
    "git clone git@github.com:acme/api.git",
    "ssh://git@github.com/acme/api.git",
    "https://alice@example.com/",
    "https://deploy-bot-2019@git.example.com/acme/api.git",
    "https://ci-runner-prod-eu-west-1@git.example.com/x.git",
    "sentry_sdk.init(dsn='https://0123456789abcdef0123456789abcdef@o123.ingest.sentry.io/456')",
    "https://user:x-oauth-basic@github.com/acme/api.git",
    "https://x-access-token:${GITHUB_TOKEN}@github.com/acme/api",
    "https://build-AbCdEf123456.example.com:8443/x@y",
    # F03 (one line, or a block under a name that is no secret's, or an empty block)
    "password: |",
    "  password: |-  # the database password",
    # F02
    "GET /search?q=basic+authentication+setup HTTP/1.1",
    "GET /search?q=bearer+token+expired HTTP/1.1",
    "GET /plans?plan=basic+monthly2024 HTTP/1.1",
    "Content-Type: application/dpop+jwt",
    "GET /docs?topic=Bearer+Authentication&lang=en HTTP/1.1",
    # F04
    "<property><name>fs.s3a.endpoint</name><value>s3.amazonaws.com</value></property>",
    "<property><name>fs.s3a.secret.key</name><value>${env.S3_SECRET}</value></property>",
    "dfs.block.access.token.enable=true",
    "hadoop.security.token.service.use_ip=true",
    "spark.hadoop.fs.s3a.secret.key=${S3_SECRET_KEY}",
    "token.expiry=3600",
    "secret.name=db-credentials",
    "fs.azure.account.auth.type=SharedKey",
    "Event before-parameter-build.secrets-manager.GetSecretValue: calling handler <function f at 0x7f3f8f5e8f40>",
    # F08
    '<input type="hidden" name="RelayState" value="/dashboard"/>',
    "SAMLResponse received from IdP for user bob",
    '{"SAMLResponse": null, "RelayState": "/"}',
    "saml_response_status=success",
    # F12
    "SET PASSWORD FOR 'bob'@'%' = ?",
    "SET PASSWORD FOR bob@localhost = '%s'",
    "SET PASSWORD FOR 'bob'@'%' = ''",
    "the password for bob is set",
    'password="Failed to connect" password for bob',  # (a field's phrase: judged as a field, not as SQL)
]
KEPT_BLOCKS = [
    "database:\n  password: |\n  user: app",  # an empty block: nothing below it is indented more
    "description: |\n  Some text\n  and more",
    "script: |\n  echo $PASSWORD\n  make deploy",
    "password: |\n  [REDACTED:secret_field:t-0123456789ab]",  # a scrubbed copy
]


# -- scrub() ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*LEAKS, *BLOCKS])
def test_scrub_redacts_the_credential_and_keeps_the_rest(name: str) -> None:
    """Before: each text kept its credential (and F03/F11 had the wrong span redacted)."""
    assert_scrub_redacts(*(LEAKS.get(name) or BLOCKS[name]))


@pytest.mark.parametrize("text", KEPT + KEPT_BLOCKS)
def test_the_same_formats_without_a_credential_are_unchanged(text: str) -> None:
    assert scrub(text) == text
    assert scrub_value({"msg": text}) == {"msg": text}


def test_the_block_header_is_never_the_value() -> None:
    """The "|" or ">" of a block stays, and a one-line "password: |" (a line reader's view) is no credential."""
    for text, _, _ in BLOCKS.values():
        out = str(scrub(text)).split("\n")
        headers = [line for line in text.split("\n") if ": |" in line or ": >" in line]
        assert headers and all(line in out for line in headers), (headers, out)
    assert "password: |\n    [REDACTED:secret_field:" in str(scrub(BLOCKS["f03_literal"][0]))


def test_a_token_user_and_its_password_are_one_marker_each() -> None:
    token, password = T[22], PW[7]
    out = str(scrub(f"https://{token}:{password}@git.example.com/a.git"))
    assert token not in out and password not in out and len(MARKER.findall(out)) == 2, out
    assert out == scrub(out)


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
    """Before: no finding for these lines (F11's x-oauth-basic line was found for its literal password), and now
    none for the kept lines either."""
    path, leak_lines = _log(tmp_path)
    assert main(["scan", "--format", "json", "--engine", engine, str(path)]) == 0
    rows = [json.loads(row) for row in capsys.readouterr().out.splitlines() if row.strip()]
    found = [r["line"] for r in rows if r["type"] == "finding"]
    assert found == leak_lines, found


@pytest.mark.parametrize("engine", ENGINES)
def test_jwtobs_scrub_writes_a_copy_without_the_credentials(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_scrub_copies(*_log(tmp_path), [secret for _, secret, _ in LEAKS.values()], engine, capsys)


@pytest.mark.parametrize("engine", ENGINES)
def test_line_readers_keep_a_block_header_and_cannot_see_the_block(engine: str, tmp_path: Path) -> None:
    """``jwtobs scan``/``scrub`` read a file line by line: "password: |" alone is no credential (before, the "|" was
    redacted and the line reported while the password below it was kept), and the block's lines below it have no
    name: not found (docs/redaction.md, Known limits)."""
    path = tmp_path / "values.yaml"
    path.write_text(BLOCKS["f03_literal"][0] + "\n", encoding="utf-8")
    assert list(scan.Scanner(engine).scan_file(str(path), scan.ScanReport())) == []
    copy = tmp_path / "values.redacted.yaml"
    scan.scrub_file(str(path), str(copy), engine=engine, force=True)
    assert copy.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    # F01: quoted names as values, the value re-read as the next name
    "pairs_of_names": lambda: _repeat("'refresh_token', "),
    "name_as_value_chain": lambda: _repeat("'grant_type': 'refresh_token', "),
    "json_name_as_value_chain": lambda: _repeat('"grant_type": "refresh_token", "refresh_token": '),
    "json_compact_chain": lambda: _repeat('"grant_type":"refresh_token",'),
    "repr_name_as_value_chain": lambda: _repeat("'token', 'token': "),
    "urn_values": lambda: _repeat("'a': 'urn:x:token', "),
    "go_slices": lambda: _repeat('"token":[]string{'),
    "go_slices_quoted": lambda: _repeat('"token":[]string{"'),
    # F11
    "url_users": lambda: _repeat("://AbCdEfGhIjKlMnOpQrSt12"),
    "url_users_colon": lambda: _repeat("://AbCdEfGhIjKlMnOpQrSt12:"),
    "url_user_one_run": lambda: ("https://" + "Ab1" * SIZE)[:SIZE],
    "url_users_at": lambda: _repeat("://AbCdEfGhIjKlMnOpQrSt12@"),
    # F03
    "block_headers": lambda: _repeat("password: |\n"),
    "block_headers_no_newline": lambda: _repeat("password: |-"),
    "one_long_block": lambda: ("password: |\n" + "    x\n" * SIZE)[:SIZE],
    "blocks_and_values": lambda: _repeat("password: >+\n  x\n"),
    "nested_blocks": lambda: _repeat("a:\n  token: |\n    b: |\n      c\n"),
    "block_blank_lines": lambda: ("token: |\n" + "\n" * SIZE)[:SIZE],
    # F02
    "bearer_plus": lambda: _repeat("Bearer+"),
    "bearer_plus_run": lambda: ("Bearer+" + "a" * SIZE)[:SIZE],
    "bearer_plus_words": lambda: _repeat("bearer+aaaaaaaaaaaaaaaa+"),
    # F04
    "dotted_stems": lambda: _repeat("secret."),
    "dotted_names": lambda: _repeat("secret.key="),
    "account_keys": lambda: _repeat("account.key."),
    "abfs_names": lambda: _repeat("fs.azure.account.key.a.blob.core."),
    "xml_names": lambda: _repeat("<name>secret.key</name><value>"),
    "xml_names_lines": lambda: _repeat("<name>a</name>\n<value>x"),
    # F08
    "saml_fields": lambda: _repeat("samlresponse="),
    "saml_inputs": lambda: _repeat('name="SAMLResponse" value="'),
    # F12
    "set_password_for": lambda: _repeat("set password for "),
    "set_password_for_accounts": lambda: _repeat("set password for 'a'@'%' = "),
    "set_password_one_account": lambda: ("set password for " + "a" * SIZE)[:SIZE],
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])


def test_long_structured_values_are_linear() -> None:
    start = time.thread_time()
    scrub_value({"config": _repeat("password: |\n  x\n")})
    scrub_value({"urls": ["https://AbCdEfGhIjKlMnOpQrSt12@h"] * 20_000})
    assert time.thread_time() - start < 4 * BOUND_S
