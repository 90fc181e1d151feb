"""Session 31: log lines that real libraries write, not lines written for the redactor.

A probe ran requests/urllib3, httpx, aiohttp, oauthlib, requests-oauthlib, authlib, botocore/boto3, SQLAlchemy,
redis/kombu/celery/pika/pymongo, paramiko, google-auth, Flask/werkzeug, uvicorn, gunicorn and grpcio at DEBUG
against servers on 127.0.0.1, carrying real secrets everywhere real applications put them, through the stdlib
logging redactor installed on the root handler as docs/redaction.md says (1 803 log lines, 129 holding a secret).
14 lines leaked and 36 changed that hold none; fixed here:

* leaks: an OAuth authorization code as a dict's or a JSON object's ``'code'`` (requests-oauthlib's "Supplying
  headers {...} and data {'grant_type': 'authorization_code', 'code': ...}"); OAuth 1's access token as
  ``oauth_token`` percent-encoded in oauthlib's "signature base string" and as requests-oauthlib's
  ``resource_owner_key=`` in its Client's repr;
* changed, holding no secret: botocore's hook events of operations named for secrets ("Event
  before-call.secrets-manager.GetSecretValue: calling handler <...>", 12 lines a call), urllib3's request line of a
  path ending in "basic" ('"GET /api/basic HTTP/1.1" 200 34' read as Basic credentials "HTTP/1.1"), passwords the
  libraries had masked already (SQLAlchemy's "app:***@", kombu's "guest:**@", celery's "********"), aiohttp's
  deprecation advice ("headers={'Authorization': aiohttp.encode_basic_auth(login, password)}").

The lines below are written in those libraries' shapes; every secret is synthetic and assembled at run time.
"""

from __future__ import annotations

import importlib.util
import io
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

import jwtobs
from jwtobs.redact import scrub
from tests.redact.test_leaks_s19 import _each_redacted, _kept_and_scanned, _redacting_logger
from tests.redact.test_leaks_s22 import _run, _uuid


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-31-key", fingerprint_key_id="s")


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CODE = _run(_B64URL, 30, "oauth-code")
_KEYCLOAK_CODE = _uuid("kc-1") + "." + _uuid("kc-2") + "." + _uuid("kc-3")
_OAUTH1_TOKEN = _run(_B64URL[:62], 25, "oauth1-token")
_PREFIX = "2026-12-06 16:24:35,416 DEBUG [requests_oauthlib.oauth2_session] "

LEAKS = [
    (
        _PREFIX + "Supplying headers {'Accept': 'application/json', 'Content-Type': 'application/x-www-form-"
        f"urlencoded'}} and data {{'grant_type': 'authorization_code', 'code': '{_CODE}', 'redirect_uri': 'http://127.0.0.1:8/cb'}}",
        _CODE,
    ),
    (f'{{"grant_type": "authorization_code", "code": "{_KEYCLOAK_CODE}", "client_id": "web"}}', _KEYCLOAK_CODE),
    (f'{{"msg": "token request {{\\"grant_type\\": \\"authorization_code\\", \\"code\\": \\"{_CODE}\\"}}"}}', _CODE),
    (
        "2026-12-06 16:24:35,479 DEBUG [oauthlib.oauth1.rfc5849] Signing: signature base string: "
        "GET&http%3A%2F%2F127.0.0.1%3A41223%2Fapi%2Foauth1&oauth_consumer_key%3Dconsumer-key%26oauth_nonce%3D131744"
        f"93407969738191796574275%26oauth_signature_method%3DHMAC-SHA1%26oauth_token%3D{_OAUTH1_TOKEN}%26oauth_vers"
        "ion%3D1.0",
        _OAUTH1_TOKEN,
    ),
    (
        "2026-12-06 16:24:35,476 DEBUG [requests_oauthlib.oauth1_auth] Signing request <PreparedRequest [GET]> using "
        f"client <Client client_key=consumer-key, client_secret=****, resource_owner_key={_OAUTH1_TOKEN}, "
        "resource_owner_secret=****, signature_method=HMAC-SHA1, signature_type=AUTH_HEADER, callback_uri=None>",
        _OAUTH1_TOKEN,
    ),
]

# structlog's dict_tracebacks: a frame's locals as reprs; a copy of a token is the token
# (the marker stands for the repr, quotes and all)
LEAKS.append((f'{{"frames": [{{"locals": {{"token_copy": "\'{_OAUTH1_TOKEN}\'", "n": "3"}}}}]}}', f"'{_OAUTH1_TOKEN}'"))

KEPT = [
    # urllib3's request line: a path's last segment is no Authorization scheme
    '2026-12-06 16:24:27,985 DEBUG [urllib3.connectionpool] http://127.0.0.1:36953 "GET /api/basic HTTP/1.1" 200 34',
    '2026-12-06 16:24:27,985 DEBUG [urllib3.connectionpool] http://127.0.0.1:36953 "GET /v1/bearer HTTP/1.1" 401 0',
    # botocore's hook events: an operation's name, then the log's words
    "2026-12-06 16:24:38,716 DEBUG [botocore.hooks] Event before-parameter-build.secrets-manager.GetSecretValue: "
    "calling handler <function generate_idempotent_uuid at 0x7f3f8f5e8f40>",
    "2026-12-06 16:24:38,718 DEBUG [botocore.hooks] Event before-call.ecr.GetAuthorizationToken: calling handler "
    "<function add_recursion_detection_header at 0x7f3f8f5c3ce0>",
    "2026-12-06 16:24:38,720 DEBUG [botocore.hooks] Event choose-signer.sts.GetSessionToken: calling handler "
    "<function set_operation_specific_signer at 0x7f3f8f5e8c20>",
    # passwords masked by the library that logs the URL
    "2026-12-06 16:24:40,832 INFO [app] db url: postgresql+psycopg://app:***@127.0.0.1:36273/db",
    "2026-12-06 16:24:44,484 INFO [app] broker: amqp://guest:**@127.0.0.1:33157//",
    "2026-12-06 16:24:44,657 INFO [app] celery conf: broker_url: 'amqp://guest:********@127.0.0.1:42949//'",
    # aiohttp's deprecation advice: an ellipsis and a call where a header's value would be
    "WARNING [py.warnings] probe.py:158: DeprecationWarning: BasicAuth is deprecated and will be removed in aiohttp "
    "4.0; use aiohttp.encode_basic_auth() with headers={'Authorization': ...} instead",
    "WARNING [py.warnings] probe.py:162: DeprecationWarning: The 'auth' parameter is deprecated and will be removed "
    "in v4; pass headers={'Authorization': aiohttp.encode_basic_auth(login, password)} instead",
    # codes that are no authorization code: errors, languages, numbers
    '{"code": "ECONNREFUSED", "errno": -111, "syscall": "connect"}',
    "{'code': 'E11000', 'errmsg': 'duplicate key'}",
    '{"code": "InvalidClientTokenId", "message": "The security token included in the request is invalid."}',
    '{"code": "ERR_HTTP2_STREAM_ERROR"}',
    '{"msg": "failed {\\"code\\": \\"ERR_HTTP2_STREAM_ERROR\\"}"}',
    '{"code": "E_AUTH_0001_INVALID_TOKEN"}',
    '{"code": "auth.error.token-expired-401"}',
    '{"code": "0x8007000500000000"}',
    '{"code": "AADSTS700016", "lang": {"code": "en-GB"}}',
    '{"file_copy": "report-2024.pdf", "copy_count": 3}',
]


def test_what_libraries_log_keeps_no_secret_and_gains_no_marker(tmp_path: Path) -> None:
    """Before: each LEAKS line kept its secret (scrub, the logging redactor, the scanner) and each KEPT line was
    changed (botocore's hooks and urllib3's path as secret fields and Basic credentials, masked passwords
    fingerprinted, the deprecation advice as an Authorization value)."""
    _each_redacted(LEAKS, KEPT, tmp_path / "libraries.log")


def test_a_masked_password_is_kept_beside_percent_escapes() -> None:
    """The escaped-URL pass reads the whole text once a percent escape is in it: a masked password there is kept as
    on its own (the scanner, which scrubs lines in blocks, reported one because of an escape lines away)."""
    text = (
        "redirect=https%3A%2F%2Fapp%2Fcb%3Fx%3D1\n"
        "db url: postgresql+psycopg://app:***@127.0.0.1:36273/db\n"
        "result_backend: 'redis://:********@127.0.0.1:43373/1'"
    )
    assert scrub(text) == text
    secret = "Vq8k" + "ASAOsE1n"
    assert secret not in scrub(text + f"\npostgres://app:{secret}@db:5432/x")
    dollar = "$ecret" + "Pass1"  # (a password starting with "$" is no template's variable)
    for line in (f"postgres://app:{dollar}@db:5432/x", text + f"\npostgres://app:{dollar}@db:5432/x"):
        assert dollar not in scrub(line)


def test_a_weak_operation_name_still_takes_a_credential(tmp_path: Path) -> None:
    """An operation's name is weak, not benign: a credential after it is still one, a word is not."""
    secret = _run(_B64URL[:62], 24, "op-name")
    leaks = [(f"getPassword: {secret}", secret), (f"GetSecretValue={secret}", secret)]
    kept = ["GetSecretValue: calling handler", "getPassword: called"]
    _kept_and_scanned(kept, [text for text, _ in leaks], tmp_path / "ops.log")
    for text, secret_ in leaks:
        assert secret_ not in scrub(text)


# -- source lines of code in tracebacks ----------------------------------------------------------------------------
# Both probes' largest class of lines changed holding no secret (7 of 16, 19 of 24 in a second probe of SDKs): a
# traceback prints each frame's source line, where an expression stands in a secret-named value's place.
_SOURCE = """
S = {"password": "p", "jwt": "j", "api_key": "k", "url_pw": "u"}


class Form:
    password = "p"


form = Form()


def connect(**kw):
    raise ConnectionError("connection refused")


def get_api_key():
    raise KeyError("API_KEY")


def by_subscript():
    connect(host="db", password=S["password"], timeout=5)


def by_attribute():
    connect(host="db", password=form.password)


def by_call():
    return dict(api_key=get_api_key(), timeout=5)


def in_fstring_urls():
    connect(url=f"postgresql://alice:{S['url_pw']}@db/x", token_url=f"http://h/x?token={S['jwt']}&a=1")


def in_fstring_header():
    connect(auth={"Authorization": f"Bearer {S['jwt']}"})


def by_literal():
    connect(host="db", password="LITERAL_SECRET")
"""


def _failing(name: str, tmp_path: Path) -> Callable[[], object]:
    """``name`` of _SOURCE, loaded from a file (a traceback prints the file's lines)."""
    path = tmp_path / "app_code.py"
    path.write_text(_SOURCE.replace("LITERAL_SECRET", _LITERAL))
    spec = importlib.util.spec_from_file_location(f"app_code_s31_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Callable[[], object], getattr(module, name))


def _traceback_of(name: str, tmp_path: Path) -> str:
    try:
        _failing(name, tmp_path)()
    except Exception:
        return traceback.format_exc()
    raise AssertionError(name)


def _through_logging_exception(name: str, tmp_path: Path) -> str:
    stream = io.StringIO()
    try:
        _failing(name, tmp_path)()
    except Exception:
        _redacting_logger(stream).exception("request failed")
    return stream.getvalue()


_LITERAL = "Summer" + "2024-hard-coded"


@pytest.mark.parametrize("name", ["by_subscript", "by_attribute", "by_call", "in_fstring_urls", "in_fstring_header"])
def test_an_expression_on_a_tracebacks_source_line_is_code(name: str, tmp_path: Path) -> None:
    """Before: ``password=[REDACTED...]["password"]``, ``api_key=[REDACTED...]()``, the f-strings' fields, the
    Authorization value's ``f`` prefix. A traceback as Python prints it, scrubbed whole (as the logging redactor
    scrubs a record's exception text) and through logger.exception."""
    text = _traceback_of(name, tmp_path)
    assert scrub(text) == text
    assert "[REDACTED" not in _through_logging_exception(name, tmp_path)


def test_a_literal_on_a_tracebacks_source_line_is_still_a_secret(tmp_path: Path) -> None:
    """A hard-coded credential in the source line is one; so is a bare word at a line's end (a SyntaxError prints
    whatever the line holds) and any value outside a source line."""
    text = _traceback_of("by_literal", tmp_path)
    secret = _LITERAL
    assert secret in text and secret not in scrub(text)
    assert secret not in _through_logging_exception("by_literal", tmp_path)
    syntax = '  File "settings.py", line 12\n    PASSWORD = Summer2024\n               ^^^^^^^^^^\nSyntaxError: x'
    assert "Summer2024" not in scrub(syntax)
    assert "form.password" not in scrub("connect(host='db', password=form.password)")  # no frame line before it


def test_a_traceback_in_a_json_string_is_read_as_one(tmp_path: Path) -> None:
    """A JSON renderer's "exception" field (structlog's JSONRenderer, python-json-logger) escapes the traceback's
    newlines and quotes: its source lines are read as source lines there too, its literals still redacted."""
    import json

    for name in ("by_subscript", "by_call", "in_fstring_urls"):
        line = json.dumps({"event": "call failed", "exception": _traceback_of(name, tmp_path)})
        assert scrub(line) == line
    line = json.dumps({"event": "call failed", "exception": _traceback_of("by_literal", tmp_path)})
    assert _LITERAL in line and _LITERAL not in scrub(line)
