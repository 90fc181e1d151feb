"""jwtobs.redact.sentry with the real sentry-sdk: every leak form of the redaction issue, carried by every way an
application hands data to Sentry (LoggingIntegration events, breadcrumbs and logs, capture_exception with chained
exceptions and frame variables, scope data, structured logs, transactions, a real Flask request), never reaches
the serialized envelope, and its fingerprint does.

A capturing transport (a ``sentry_sdk.transport.Transport`` subclass) keeps the envelopes' bytes; the DSN points at
127.0.0.1:9 and is never contacted. Tokens are signed with keys generated here (RSA, EC, Ed25519, HMAC) and
encrypted (JWE, RSA-OAEP + A256GCM) with joserfc. The control test runs the same matrix without the jwtobs hooks
and shows that the SDK alone leaks, so these tests can fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import logging
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

sentry_sdk = pytest.importorskip("sentry_sdk")

from sentry_sdk.integrations.logging import LoggingIntegration  # noqa: E402
from sentry_sdk.transport import Transport  # noqa: E402

import jwtobs  # noqa: E402
from jwtobs import config  # noqa: E402
from jwtobs.redact import sentry as jwtobs_sentry  # noqa: E402
from jwtobs.redact.scrub import FAILED  # noqa: E402

DSN = "http://public@127.0.0.1:9/1"
# sentry-sdk 2.75 deprecates send_default_pii in favour of data_collection; users still pass it
PII_DEPRECATED = pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated:DeprecationWarning")
LOGGER = "tests.redact.sentry.app"
# sentry-sdk 3.x (session 36): no transactions (spans are streamed: a segment span and its children), no
# send_default_pii / include_local_variables (data_collection), no enable_logs switch. The tests below run with
# either major; the few that test a 2.x-only API say so when skipped. (tests/redact/test_sentry_s36.py: 3.x.)
SDK3 = int(sentry_sdk.VERSION.split(".")[0]) >= 3
ROOT_TYPE = "span" if SDK3 else "transaction"  # the envelope item a root span / transaction is sent as
ONLY_SDK2 = "sentry-sdk 2.x API: "


def pii(on: bool) -> dict[str, Any]:
    """send_default_pii (2.x); its 3.x counterpart: data_collection with user data and cookies on or off."""
    if not SDK3:
        return {"send_default_pii": on}
    return {"data_collection": {"user_info": on, "cookies": {"mode": "denylist" if on else "off"}}}


def local_variables() -> dict[str, Any]:
    return {"data_collection": {"stack_frame_variables": True}} if SDK3 else {"include_local_variables": True}


@contextmanager
def root_span(name: str, op: str = "http.server") -> Iterator[Any]:
    """A transaction (2.x) or a segment span (3.x) named ``name``."""
    if SDK3:
        with sentry_sdk.start_span(name=name, attributes={"sentry.op": op}) as span:
            yield span
    else:
        with sentry_sdk.start_transaction(name=name, op=op, source="custom") as tx:
            yield tx


@contextmanager
def child_span(name: str, data: dict[str, Any]) -> Iterator[Any]:
    if SDK3:
        with sentry_sdk.start_span(name=name, attributes={"sentry.op": "http.client", **data}) as span:
            yield span
    else:
        with sentry_sdk.start_span(op="http.client", name=name) as span:
            for k, v in data.items():
                span.set_data(k, v)
            yield span


# -- capturing transport and SDK setup -------------------------------------------------------------------------
class CapturingTransport(Transport):
    """Keeps every envelope as the bytes the SDK would send; never touches the network."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope.serialize())

    def flush(self, timeout: float, callback: Any = None) -> None:
        return None

    def kill(self) -> None:
        return None


@contextmanager
def sentry(jwtobs_hooks: bool = True, **options: Any) -> Iterator[CapturingTransport]:
    """sentry_sdk initialised with the capturing transport (with jwtobs's hooks via init_options, or without);
    the client is closed and unbound afterwards."""
    transport = CapturingTransport()
    base: dict[str, Any] = {
        "dsn": DSN,
        "transport": transport,
        "release": "jwtobs-tests@1",
        "default_integrations": False,
        "auto_enabling_integrations": False,
        "integrations": [LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        "traces_sample_rate": 1.0,
    }
    if not SDK3:  # (3.x has no switch: logs are always sent)
        base["enable_logs"] = True
    base.update(options)
    kwargs = jwtobs_sentry.init_options(**base) if jwtobs_hooks else base
    sentry_sdk.init(**kwargs)
    try:
        with sentry_sdk.isolation_scope():
            yield transport
    finally:
        client = sentry_sdk.get_client()
        client.flush()
        client.close()
        sentry_sdk.get_global_scope().set_client(None)


def items(envelope: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an envelope (headers skipped)."""
    lines = envelope.split(b"\n")
    out = [json.loads(lines[0])]
    i = 1
    while i + 1 < len(lines):
        header = json.loads(lines[i])
        out.append(json.loads(lines[i + 1][: header.get("length", len(lines[i + 1]))]))
        i += 2
    return out


# -- tokens and leak forms -------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header_json: str, claims: dict[str, Any], key: bytes) -> str:
    signing_input = _b64(header_json.encode()) + "." + _b64(json.dumps(claims).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + _b64(sig)
    jwt.decode(token, key, algorithms=["HS256"], options={"verify_aud": False})  # a real, verifiable token
    return token


@dataclass(repr=False)
class Form:
    """A leak form: ``text`` is how it appears in a string (``prefix + shown + suffix``); ``secrets`` must never
    reach an envelope; ``fp_of`` is the credential whose fingerprint must. (Its repr is only its name: Sentry
    captures the vehicles' frame variables, and this test object is not what an application would hold.)"""

    name: str
    prefix: str
    shown: str
    suffix: str
    fp_of: str
    secrets: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.prefix + self.shown + self.suffix

    def __repr__(self) -> str:
        return f"Form({self.name})"


def _variants(secret: str) -> set[str]:
    out = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    out |= {base64.b64encode(raw).decode(), _b64(raw)}
    if secret.count(".") in (2, 4) and secret.startswith("e"):  # JOSE: payload, signature, ciphertext, tag
        out |= {part for part in secret.split(".")[1:] if len(part) >= 16}
    return {v for v in out if len(v) >= 8}


@dataclass
class Material:
    forms: list[Form]


def _opaque() -> str:
    # The first character is fixed: a bare value starting with "b" loses it to the scrubber's bytes-prefix
    # handling (password=b... -> password=b[REDACTED...], a one-character gap reported to the patterns owner),
    # which would make these tests fail at random instead of on a Sentry integration fault.
    return "s" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def material() -> Material:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    hmac_key = secrets.token_bytes(32)
    claims = {"sub": "user-4711", "iss": "https://issuer.example", "scope": "read write", "jti": _opaque()}

    rs256 = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    es256 = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    eddsa = jwt.encode(claims, ed_key, algorithm="EdDSA")
    hs256 = jwt.encode(claims, hmac_key, algorithm="HS256")
    none = jwt.encode(claims, None, algorithm="none")  # "header.payload." (empty signature)
    verbose = _hs256(json.dumps({"alg": "HS256", "typ": "JWT"}, indent=2), claims, hmac_key)  # "ewogIC..."
    assert verbose.startswith("ewog")
    dash = next(  # a token whose segments use "-" and "_"
        t
        for t in (jwt.encode({**claims, "n": i}, hmac_key, algorithm="HS256") for i in range(200))
        if "-" in t and "_" in t
    )
    h, pl, sg = hs256.split(".")
    padded = ".".join(s + "=" * (-len(s) % 4) for s in (h, pl, sg))
    dpop_proof = jwt.encode(
        {"htm": "GET", "htu": "https://api.example/x", "jti": _opaque(), "iat": 1_700_000_000},
        ec_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))},
    )

    from joserfc import jwe
    from joserfc.jwk import RSAKey

    jwe_key = RSAKey.generate_key(2048)
    jwe_token = jwe.encrypt_compact({"alg": "RSA-OAEP", "enc": "A256GCM"}, json.dumps(claims).encode(), jwe_key)
    assert jwe_token.count(".") == 4
    assert json.loads(jwe.decrypt_compact(jwe_token, jwe_key).plaintext or b"{}")["sub"] == "user-4711"

    bearer_opaque, x_auth, cookie, code, client_secret, api_key, password, proxy = (_opaque() for _ in range(8))
    basic = base64.b64encode(f"svc-client:{password}".encode()).decode()
    url_pw = _opaque()
    nonce, response = secrets.token_hex(16), secrets.token_hex(16)
    digest = f'username="svc", realm="api", nonce="{nonce}", uri="/items", qop=auth, response="{response}"'

    def jose(name: str, token: str, prefix: str = "rejected token ", suffix: str = " from client") -> Form:
        return Form(name, prefix, token, suffix, token, [token])

    forms = [
        jose("jws_rs256", rs256),
        jose("jws_es256", es256),
        jose("jws_eddsa", eddsa),
        jose("jws_hs256", hs256),
        jose("jws_alg_none", none),
        jose("jws_verbose_header", verbose),
        jose("jws_dash_underscore", dash),
        Form("jws_padded", "token ", padded, " end", padded, [padded, pl, sg]),
        jose("jwe", jwe_token),
        jose("authorization_bearer_jwt", rs256, "Authorization: Bearer ", ""),
        Form("authorization_bearer_opaque", "Authorization: Bearer ", bearer_opaque, "", bearer_opaque,
             [bearer_opaque]),
        Form("authorization_basic", "authorization: Basic ", basic, "", basic, [basic, password]),
        Form("authorization_dpop", "Authorization: DPoP ", es256, "", es256, [es256]),
        Form("authorization_digest", "Authorization: Digest ", digest, "", digest, [response, nonce]),
        Form("proxy_authorization", "Proxy-Authorization: Bearer ", proxy, "", proxy, [proxy]),
        Form("bearer_in_text", "upstream said: bearer ", bearer_opaque, " was rejected", bearer_opaque,
             [bearer_opaque]),
        Form("x_auth_token", "X-Auth-Token: ", x_auth, "", x_auth, [x_auth]),
        Form("dpop_header", "DPoP: ", dpop_proof, "", dpop_proof, [dpop_proof]),
        Form("cookie", "Cookie: session=", cookie, "; theme=dark", cookie, [cookie]),
        Form("set_cookie", "Set-Cookie: sid=", cookie, "; Path=/; HttpOnly", cookie, [cookie]),
        Form("query_code", "GET /callback?state=xyz&code=", code, "&iss=x HTTP/1.1", code, [code]),
        Form("query_access_token", "GET /items?access_token=", rs256, " HTTP/1.1", rs256, [rs256]),
        Form("fragment_access_token", "https://app.example/cb#access_token=", hs256, "&token_type=Bearer", hs256,
             [hs256]),
        Form("query_client_secret", "POST /token?client_id=svc&client_secret=", client_secret, "", client_secret,
             [client_secret]),
        Form("query_percent_encoded", "redirect=https%3A%2F%2Fapp%2Fcb%3Fid_token%3D", rs256.replace(".", "%2E"),
             "%26state%3Dx", rs256, [rs256, rs256.replace(".", "%2E")]),
        Form("query_percent_amp", "next=%2Fcb%3Fx%3D1%26refresh_token%3D", code, "%26y%3D2", code, [code]),
        Form("secret_field_password", "login failed password=", password, " user=bob", password, [password]),
        Form("secret_field_json", '{"client_secret": "', client_secret, '", "grant_type": "client_credentials"}',
             client_secret, [client_secret]),
        Form("secret_field_api_key", "x-api-key: ", api_key, "", api_key, [api_key]),
        Form("url_userinfo", "connecting to postgres://app:", url_pw, "@db.internal:5432/app", url_pw, [url_pw]),
    ]
    return Material(forms)


FORM_NAMES = [
    "jws_rs256", "jws_es256", "jws_eddsa", "jws_hs256", "jws_alg_none", "jws_verbose_header", "jws_dash_underscore",
    "jws_padded", "jwe", "authorization_bearer_jwt", "authorization_bearer_opaque", "authorization_basic",
    "authorization_dpop", "authorization_digest", "proxy_authorization", "bearer_in_text", "x_auth_token",
    "dpop_header", "cookie", "set_cookie", "query_code", "query_access_token", "fragment_access_token",
    "query_client_secret", "query_percent_encoded", "query_percent_amp", "secret_field_password",
    "secret_field_json", "secret_field_api_key", "url_userinfo",
]  # fmt: skip


def form(material: Material, name: str) -> Form:
    return next(f for f in material.forms if f.name == name)


def fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


@pytest.fixture(autouse=True)
def _fingerprint_key() -> None:
    jwtobs.configure(fingerprint_key=b"k" * 32)


# -- vehicles: every way the form's text reaches Sentry --------------------------------------------------------
def _raise_with_local(text: str, api_key: str) -> None:
    detail = text  # noqa: F841 (frame variables Sentry captures)
    headers = [("x-api-key", api_key), (b"authorization", b"Bearer " + api_key.encode())]  # noqa: F841
    raise RuntimeError("request failed")


def _chained(text: str) -> None:
    try:
        raise KeyError(text)
    except KeyError as exc:
        raise PermissionError(f"authentication failed for {text}") from exc


class Span:
    def __init__(self, text: str) -> None:
        self.text = text


def _esc(s: str) -> str:
    return s.replace("%", "%%")


def _brace(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


VEHICLES: dict[str, Callable[[Form], None]] = {}


def vehicle(fn: Callable[[Form], None]) -> Callable[[Form], None]:
    VEHICLES[fn.__name__] = fn
    return fn


@vehicle
def log_message(f: Form) -> None:  # event (logentry.message) + structured log body; no args: no %-formatting
    logging.getLogger(LOGGER).error(f.text)


@vehicle
def log_args(f: Form) -> None:  # logentry.params + formatted; log attribute sentry.message.parameter.0
    logging.getLogger(LOGGER).error("request failed: %s", f.text)


@vehicle
def log_split_args(f: Form) -> None:  # the credential alone as an argument: only the formatted text shows it
    logging.getLogger(LOGGER).error(_esc(f.prefix) + "%s" + _esc(f.suffix), f.shown)


@vehicle
def log_extra(f: Form) -> None:  # extra -> event extra and log attributes
    logging.getLogger(LOGGER).error("request failed", extra={"detail": f.text, "request_headers": [("x", f.text)]})


@vehicle
def log_exception(f: Form) -> None:  # logger.exception: exception value, chained exception, frame vars
    try:
        _chained(f.text)
    except PermissionError:
        logging.getLogger(LOGGER).exception("authentication failed")


@vehicle
def log_breadcrumb(f: Form) -> None:  # below event_level: a breadcrumb (and a log), sent with the next event
    logging.getLogger(LOGGER).warning("upstream: %s", f.text)
    sentry_sdk.capture_message("after a warning")


@vehicle
def capture_exception_chained(f: Form) -> None:
    try:
        _chained(f.text)
    except PermissionError as exc:
        sentry_sdk.capture_exception(exc)


@vehicle
def capture_exception_local(f: Form) -> None:
    try:
        _raise_with_local(f.text, f.shown)
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)


@vehicle
def capture_message(f: Form) -> None:
    sentry_sdk.capture_message(f.text)


@vehicle
def breadcrumb(f: Form) -> None:
    sentry_sdk.add_breadcrumb(category="auth", message=f.text, data={"detail": f.text}, level="info")
    sentry_sdk.capture_message("after a breadcrumb")


@vehicle
def scope_data(f: Form) -> None:
    sentry_sdk.set_tag("detail", f.text)
    sentry_sdk.set_extra("detail", f.text)
    sentry_sdk.set_user({"id": "user-4711", "username": f.text})
    sentry_sdk.set_context("auth", {"detail": f.text, "nested": {"list": [f.text]}})
    sentry_sdk.capture_message("with scope data")


@vehicle
def sentry_logger(f: Form) -> None:  # enable_logs: body, template parameters, attributes
    sentry_sdk.logger.error("auth failed: {detail}", detail=f.text, attributes={"request.detail": f.text})


@vehicle
def sentry_logger_split(f: Form) -> None:
    sentry_sdk.logger.error(_brace(f.prefix) + "{cred}" + _brace(f.suffix), cred=f.shown)


@vehicle
def transaction(f: Form) -> None:  # transaction name, span description and data, tags (3.x: span name, attributes)
    with root_span("GET /callback"):
        sentry_sdk.set_tag("detail", f.text)
        with child_span(f"GET {f.text}", {"detail": f.text}):
            pass


def run_vehicle(transport: CapturingTransport, name: str, f: Form) -> list[bytes]:
    start = len(transport.envelopes)
    with sentry_sdk.isolation_scope():
        VEHICLES[name](f)
    sentry_sdk.flush()
    return transport.envelopes[start:]


def leaks(envelopes: list[bytes], f: Form) -> list[str]:
    """Each leaked variant with the envelope text around it."""
    blob = b"\n".join(envelopes)
    out = set()
    for v in {v for s in f.secrets for v in _variants(s)}:
        i = blob.find(v.encode())
        if i >= 0:
            out.add(f"{v[:12]}... in ...{blob[max(0, i - 120) : i + len(v) + 40].decode(errors='replace')}...")
    return sorted(out)


# -- the matrix ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form_name", FORM_NAMES)
def test_no_leak_form_reaches_the_envelope(material: Material, form_name: str) -> None:
    f = form(material, form_name)
    assert f.text.count(f.shown) == 1
    marker_fp = fp(f.fp_of)
    with sentry() as transport:
        for name in VEHICLES:
            envelopes = run_vehicle(transport, name, f)
            assert envelopes, f"{name}: nothing was sent"
            assert leaks(envelopes, f) == [], f"{name} leaked {form_name}"
            blob = b"\n".join(envelopes)
            assert marker_fp.encode() in blob, f"{name}: no fingerprint {marker_fp} for {form_name}"
            assert FAILED.encode() not in blob, name


def test_every_vehicle_sends_the_expected_items(material: Material) -> None:
    """The vehicles really produce events, logs and transactions (so the matrix above checks something)."""
    f = form(material, "jws_rs256")
    kinds: dict[str, set[str]] = {}
    with sentry() as transport:
        for name in VEHICLES:
            envs = run_vehicle(transport, name, f)
            kinds[name] = {
                json.loads(line)["type"] for env in envs for line in env.split(b"\n")[1::2] if line.strip()
            }
    assert kinds["log_message"] == {"event", "log"}
    assert kinds["log_breadcrumb"] == {"event", "log"}
    assert kinds["sentry_logger"] == {"log"}
    assert kinds["transaction"] == {ROOT_TYPE}
    assert kinds["capture_exception_chained"] == {"event"}


def _control_counts(material: Material, jwtobs_hooks: bool) -> tuple[int, int]:
    """(leaking (form, vehicle) pairs, total pairs)."""
    leaked = total = 0
    with sentry(jwtobs_hooks=jwtobs_hooks) as transport:
        for f in material.forms:
            for name in VEHICLES:
                total += 1
                leaked += bool(leaks(run_vehicle(transport, name, f), f))
    return leaked, total


def test_control_the_sdk_alone_leaks(material: Material, capsys: pytest.CaptureFixture[str]) -> None:
    """The same matrix without jwtobs's hooks: Sentry's EventScrubber catches few of these forms."""
    without, total = _control_counts(material, jwtobs_hooks=False)
    with_hooks, _ = _control_counts(material, jwtobs_hooks=True)
    with capsys.disabled():
        print(f"\nsentry-sdk {sentry_sdk.VERSION}: leaking (form, vehicle) pairs without jwtobs {without}/{total}, "
              f"with jwtobs {with_hooks}/{total}")
    assert with_hooks == 0
    assert without >= total * 0.8  # the SDK's default scrubber misses nearly all of them


# -- structured data -------------------------------------------------------------------------------------------
def _envelope_blob(transport: CapturingTransport) -> bytes:
    return b"\n".join(transport.envelopes)


@pytest.mark.parametrize("send_default_pii", [True, False])
@PII_DEPRECATED
def test_flask_request_headers_cookies_query_and_body(material: Material, send_default_pii: bool) -> None:
    """A real Flask request through FlaskIntegration: headers, cookies, query string, form and JSON bodies."""
    flask = pytest.importorskip("flask")
    from sentry_sdk.integrations.flask import FlaskIntegration

    rs = form(material, "jws_rs256").shown
    es = form(material, "jws_es256").shown
    dpop = form(material, "dpop_header").shown
    x_auth, cookie, secret, code = _opaque(), _opaque(), _opaque(), _opaque()
    app = flask.Flask("sentry_leaks")

    @app.route("/cb", methods=["POST"])
    def cb() -> str:
        raise RuntimeError("callback failed")

    @app.route("/json", methods=["POST"])
    def json_route() -> str:
        raise RuntimeError("json failed")

    with sentry(**pii(send_default_pii), integrations=[FlaskIntegration()]) as transport:
        client = app.test_client()
        client.set_cookie("session", cookie)
        headers = {"Authorization": f"Bearer {rs}", "X-Auth-Token": x_auth, "DPoP": dpop, "X-Api-Key": secret}
        r = client.post(
            f"/cb?code={code}&access_token={quote(es)}&page=2",
            data={"client_secret": secret, "id_token": es, "note": f"token={x_auth}"},
            headers=headers,
        )
        assert r.status_code == 500
        r = client.post("/json", json={"refresh_token": rs, "nested": {"password": secret}}, headers=headers)
        assert r.status_code == 500
    blob = _envelope_blob(transport)
    events = [i for env in transport.envelopes for i in items(env)[1:] if i.get("request")]
    assert len(events) >= 2  # error events (and transactions) carry the request
    for secret_value in (rs, es, dpop, x_auth, cookie, secret, code, quote(es)):
        assert secret_value.encode() not in blob
    for value in (rs, es, dpop, x_auth):
        assert fp(value).encode() in blob, value
    request = next(e for e in events if e.get("exception"))["request"]
    assert "[REDACTED:" in request["query_string"] and "page=2" in request["query_string"]
    # (3.x's data_collection filters header names with "auth"/"token" itself, before jwtobs)
    allowed = {f"[REDACTED:api_key:{fp(x_auth)}]"} | ({"[Filtered]"} if SDK3 else set())
    assert request["headers"]["X-Auth-Token"] in allowed
    if send_default_pii:
        assert request["cookies"]["session"] in (f"[REDACTED:cookie:{fp(cookie)}]", "[Filtered]")


@PII_DEPRECATED
def test_set_user_context_extra_with_secret_named_fields(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    pw, key = _opaque(), _opaque()
    with sentry(**pii(True)) as transport:
        sentry_sdk.set_user({"id": rs, "email": "bob@example.com", "ip_address": "127.0.0.1"})
        sentry_sdk.set_context("oauth", {"client_secret": pw, "grant": {"refresh_token": rs}, "tries": 2})
        sentry_sdk.set_extra("headers", [("authorization", f"Bearer {rs}"), ("x-api-key", key)])
        sentry_sdk.set_extra("raw", b"Authorization: Bearer " + rs.encode())
        sentry_sdk.set_tag("jwt", rs)
        sentry_sdk.capture_message("scope data")
    blob = _envelope_blob(transport)
    for s in (rs, pw, key):
        assert s.encode() not in blob
    event = items(transport.envelopes[0])[1]
    assert event["user"]["id"] == f"[REDACTED:jwt:{fp(rs)}]"
    assert event["user"]["email"] == "bob@example.com"  # no credential, kept
    assert event["contexts"]["oauth"]["tries"] == 2
    assert event["tags"]["jwt"] == f"[REDACTED:jwt:{fp(rs)}]"


def _asgi_app(scope: dict[str, Any]) -> None:
    headers = dict(scope["headers"])  # what ASGI apps log: bytes names and values
    sentry_sdk.set_extra("request_headers", headers)
    raise RuntimeError(f"upstream 401 from {len(headers)} headers")


def test_bytes_keyed_header_dict_in_extra_and_frame_vars(material: Material) -> None:
    """``dict(scope["headers"])`` of an ASGI app: Sentry sends its keys as reprs (``"b'authorization'"``); the
    name is read through the quotes (before session 13 ``Token <opaque>`` under that key reached the envelope
    from set_extra and from the frame's local variables)."""
    opaque = _opaque()
    scope = {
        "type": "http",
        "headers": [(b"host", b"api.example.com"), (b"authorization", b"Token " + opaque.encode())],
    }
    with sentry(**local_variables()) as transport:
        try:
            _asgi_app(scope)
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
    event = items(transport.envelopes[0])[1]
    assert event["extra"]["request_headers"]["b'host'"] == "api.example.com"
    assert event["extra"]["request_headers"]["b'authorization'"].startswith("Token [REDACTED:authorization:")
    frame = next(f for f in event["exception"]["values"][0]["stacktrace"]["frames"] if f["function"] == "_asgi_app")
    assert frame["vars"]["headers"]["b'authorization'"].startswith("b'Token [REDACTED:authorization:")
    assert opaque not in json.dumps(event["extra"]) + json.dumps(frame["vars"])  # (this test's own frame holds it)


def test_http_client_breadcrumb_and_span_query(material: Material) -> None:
    """StdlibIntegration records outgoing requests (url, http.query, http.fragment) as breadcrumbs and spans."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from sentry_sdk.integrations.stdlib import StdlibIntegration

    rs = form(material, "jws_rs256").shown

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        with sentry(integrations=[StdlibIntegration()]) as transport:
            with root_span("outgoing", op="task"):
                conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
                # (3.x's data_collection filters a query parameter named like "token" itself: one it keeps)
                conn.request("GET", f"/userinfo?{'next' if SDK3 else 'access_token'}={rs}&x=1")
                assert conn.getresponse().status == 204
                conn.close()
            sentry_sdk.capture_message("after the call")
    finally:
        thread.join(5)
        server.server_close()
    blob = _envelope_blob(transport)
    assert rs.encode() not in blob
    assert fp(rs).encode() in blob
    assert (b"url.query" if SDK3 else b"http.query") in blob  # the SDK did record the query


def test_structured_log_attributes_and_metrics(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    key = _opaque()
    with sentry() as transport:
        sentry_sdk.logger.warning(
            "login {user} with {token}", user="bob", token=key, attributes={"auth.header": f"Bearer {rs}", "n": 3}
        )
        sentry_sdk.metrics.count("auth.failures", 1, attributes={"authorization": f"Bearer {rs}", "route": "/x"})
        sentry_sdk.flush()
    blob = _envelope_blob(transport)
    assert leaks(transport.envelopes, Form("log", "", rs, "", rs, [rs, key])) == []
    logs = [i for env in transport.envelopes for i in items(env)[1:] if "items" in i and "body" in i["items"][0]]
    attrs = logs[0]["items"][0]["attributes"]
    assert attrs["sentry.message.parameter.user"]["value"] == "bob"
    assert attrs["sentry.message.parameter.token"]["value"].startswith("[REDACTED:secret_field:")
    assert attrs["auth.header"]["value"] == f"Bearer [REDACTED:jwt:{fp(rs)}]"
    assert attrs["n"]["value"] == 3
    metrics = [i for env in transport.envelopes for i in items(env)[1:] if "items" in i and "value" in i["items"][0]]
    assert metrics and metrics[0]["items"][0]["attributes"]["route"]["value"] == "/x"
    assert fp(rs).encode() in blob


# -- composition and fail-closed -------------------------------------------------------------------------------
def test_user_hook_runs_first_and_cannot_reintroduce_a_token(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    seen: list[str] = []

    def user_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        seen.append(event["logentry"]["formatted"])
        event.setdefault("extra", {})["added_by_user"] = f"Authorization: Bearer {rs}"
        return event

    with sentry(before_send=user_before_send) as transport:
        logging.getLogger(LOGGER).error("token %s", rs)
    assert seen == [f"token {rs}"]  # the user's hook saw the event first
    blob = _envelope_blob(transport)
    assert rs.encode() not in blob
    event = items(transport.envelopes[0])[1]
    assert event["extra"]["added_by_user"] == f"Authorization: Bearer [REDACTED:jwt:{fp(rs)}]"


def test_user_hook_that_drops_still_drops(material: Material) -> None:
    crumbs: list[Any] = []
    with sentry(
        before_send=lambda e, h: None,
        before_breadcrumb=lambda c, h: crumbs.append(c),  # returns None: drops every breadcrumb
        before_send_log=lambda log, h: None,
    ) as transport:
        logging.getLogger(LOGGER).warning("warning %s", form(material, "jws_rs256").shown)
        logging.getLogger(LOGGER).error("dropped")
        sentry_sdk.logger.info("dropped too")
        with root_span("kept"):
            pass
    types = {json.loads(line)["type"] for env in transport.envelopes for line in env.split(b"\n")[1::2] if line}
    assert types == {ROOT_TYPE}  # no event, no log; the transaction (span) hook was not the user's
    assert len(crumbs) == 2  # the user's breadcrumb hook ran (warning + error)


def test_user_hook_that_raises_drops_without_raising(material: Material) -> None:
    rs = form(material, "jws_rs256").shown

    def broken(item: Any, hint: Any) -> Any:
        raise ValueError(f"bug in user hook {rs}")

    root_hook = {"before_send_span": broken} if SDK3 else {"before_send_transaction": broken}
    with sentry(before_send=broken, before_send_log=broken, before_breadcrumb=broken, **root_hook) as transport:
        logging.getLogger(LOGGER).error("boom %s", rs)  # must not raise
        sentry_sdk.capture_message(f"direct {rs}")
        sentry_sdk.logger.error("log {t}", t=rs)
        with root_span(f"t {rs}"):
            pass
    assert transport.envelopes == [] or rs.encode() not in _envelope_blob(transport)
    types = {json.loads(line)["type"] for env in transport.envelopes for line in env.split(b"\n")[1::2] if line}
    # 3.x: a span cannot be dropped; the SDK would send the original when the hook raises, jwtobs the scrubbed one
    assert types <= ({"client_report", "span"} if SDK3 else {"client_report"})


def test_value_that_cannot_be_scrubbed_becomes_redaction_failed(
    material: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An internal scrubbing error on one value: that value becomes [REDACTION_FAILED], the rest is sent."""
    scrub = importlib.import_module("jwtobs.redact.scrub")
    rs = form(material, "jws_rs256").shown
    real_text = scrub._Pass.text

    def failing_text(self: Any, s: str) -> str:
        if "poison" in s:
            raise RuntimeError("detector bug")
        return real_text(self, s)

    monkeypatch.setattr(scrub._Pass, "text", failing_text)
    with sentry() as transport:
        sentry_sdk.set_extra("bad", f"poison {rs}")
        sentry_sdk.set_extra("good", f"Bearer {rs}")
        sentry_sdk.capture_message("partial failure")
    event = items(transport.envelopes[0])[1]
    assert event["extra"]["bad"] == FAILED
    assert event["extra"]["good"] == f"Bearer [REDACTED:jwt:{fp(rs)}]"
    assert rs.encode() not in _envelope_blob(transport)


def test_unrepresentable_breadcrumb_value_fails_closed(material: Material) -> None:
    rs = form(material, "jws_rs256").shown

    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        def __str__(self) -> str:
            return rs

    with sentry() as transport:
        sentry_sdk.add_breadcrumb(message="obj", data={"obj": Opaque(), "fine": "ok"})
        sentry_sdk.capture_message("after")
    event = items(transport.envelopes[0])[1]
    data = event["breadcrumbs"]["values"][0]["data"]
    assert data == {"obj": FAILED, "fine": "ok"}
    assert rs.encode() not in _envelope_blob(transport)


def test_event_that_cannot_be_scrubbed_is_dropped(material: Material, monkeypatch: pytest.MonkeyPatch) -> None:
    rs = form(material, "jws_rs256").shown

    def broken_entry(*args: Any) -> Any:
        raise RecursionError("walker bug")

    monkeypatch.setattr(jwtobs_sentry._Walk, "entry", broken_entry)
    with sentry() as transport:
        logging.getLogger(LOGGER).error("token %s", rs)  # does not raise
        sentry_sdk.capture_exception(ValueError(rs))
    assert rs.encode() not in _envelope_blob(transport)
    types = {json.loads(line)["type"] for env in transport.envelopes for line in env.split(b"\n")[1::2] if line}
    assert "event" not in types


def test_hooks_on_malformed_input_never_raise() -> None:
    for hook in (jwtobs_sentry.before_send, jwtobs_sentry.before_send_transaction, jwtobs_sentry.before_breadcrumb,
                 jwtobs_sentry.before_send_log, jwtobs_sentry.before_send_metric):
        for bad in (None, [], "eyJ.x.y", 3, {"attributes": 5}):
            out = hook(bad, {})
            assert out is None or isinstance(out, dict)
    span = jwtobs_sentry.before_send_span({"name": "x", "attributes": 5}, {})
    assert span["name"] == FAILED and span["attributes"] == {}


def test_hooks_never_mutate_the_input(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    event = {"extra": {"a": f"Bearer {rs}"}, "logentry": {"message": "%s", "params": [rs], "formatted": rs}}
    snapshot = json.dumps(event)
    out = jwtobs_sentry.before_send(event, {})
    assert json.dumps(event) == snapshot
    assert out is not None and rs not in json.dumps(out)


# -- init_options ----------------------------------------------------------------------------------------------
@PII_DEPRECATED
@pytest.mark.skipif(SDK3, reason=ONLY_SDK2 + "before_send_transaction, send_default_pii, enable_logs, event_scrubber "
                    "(3.x: test_sentry_s36.py::test_init_options_for_3x_wires_every_hook)")
def test_init_options_wires_every_hook_and_keeps_user_options() -> None:
    opts = jwtobs_sentry.init_options(dsn=DSN, send_default_pii=False, enable_logs=True)
    assert opts["dsn"] == DSN and opts["send_default_pii"] is False and opts["enable_logs"] is True
    assert opts["before_send"] is jwtobs_sentry.before_send
    assert opts["before_send_transaction"] is jwtobs_sentry.before_send_transaction
    assert opts["before_breadcrumb"] is jwtobs_sentry.before_breadcrumb
    assert opts["before_send_log"] is jwtobs_sentry.before_send_log
    assert "event_scrubber" not in opts  # the SDK's default EventScrubber stays
    assert "send_default_pii" not in jwtobs_sentry.init_options(dsn=DSN)
    assert "before_send_span" not in opts  # only with span streaming
    sentry_sdk.init(**opts, transport=CapturingTransport(), default_integrations=False)
    try:
        client = sentry_sdk.get_client()
        assert client.options["event_scrubber"] is not None
        assert client.options["before_send_log"] is jwtobs_sentry.before_send_log
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.skipif(SDK3, reason=ONLY_SDK2 + "older 2.x releases took enable_logs/before_send_log in _experiments")
def test_init_options_for_an_sdk_with_logs_under_experiments(
    material: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older 2.x took enable_logs/before_send_log only in _experiments: they go there, composed with the user's
    hook given under either name, and the installed SDK (which reads both places) scrubs logs that way."""
    rs = form(material, "jws_rs256").shown
    real = jwtobs_sentry._accepted_options()
    monkeypatch.setattr(
        jwtobs_sentry, "_accepted_options",
        lambda: real - {"enable_logs", "before_send_log", "before_send_metric", "enable_metrics"},
    )
    seen: list[str] = []

    def user_log_hook(log: dict[str, Any], hint: Any) -> dict[str, Any]:
        seen.append(log["body"])
        return log

    opts = jwtobs_sentry.init_options(dsn=DSN, enable_logs=True, _experiments={"before_send_log": user_log_hook})
    assert "enable_logs" not in opts and "before_send_log" not in opts
    assert opts["_experiments"]["enable_logs"] is True
    assert opts["_experiments"]["before_send_log"] is not user_log_hook
    transport = CapturingTransport()
    sentry_sdk.init(**opts, transport=transport, default_integrations=False)
    try:
        sentry_sdk.logger.error("token {t}", t=rs)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
    assert seen == [f"token {rs}"]
    blob = _envelope_blob(transport)
    assert fp(rs).encode() in blob and rs.encode() not in blob


def test_init_options_wires_span_streaming_hook(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    transport = CapturingTransport()
    opts = jwtobs_sentry.init_options(dsn=DSN, trace_lifecycle="stream", traces_sample_rate=1.0, transport=transport)
    assert opts["before_send_span"] is jwtobs_sentry.before_send_span
    sentry_sdk.init(**opts, default_integrations=False)
    try:
        with sentry_sdk.traces.start_span(name=f"GET /x?access_token={rs}", attributes={"auth": f"Bearer {rs}"}):
            pass
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
    blob = _envelope_blob(transport)
    assert transport.envelopes, "no span was sent"
    assert rs.encode() not in blob and fp(rs).encode() in blob


def test_compose_with_user_hooks_for_each_kind(material: Material) -> None:
    rs = form(material, "jws_rs256").shown
    calls: list[str] = []

    def mk(name: str) -> Callable[[Any, Any], Any]:
        def hook(item: Any, hint: Any) -> Any:
            calls.append(name)
            return item

        return hook

    root_hook = {"before_send_span" if SDK3 else "before_send_transaction": mk("transaction")}
    with sentry(before_send=mk("event"), before_breadcrumb=mk("crumb"), before_send_log=mk("log"),
                **root_hook) as transport:
        logging.getLogger(LOGGER).warning("w %s", rs)
        logging.getLogger(LOGGER).error("e %s", rs)
        with root_span(f"tx {rs}"):
            pass
        sentry_sdk.flush()
    assert {"event", "crumb", "log", "transaction"} <= set(calls)
    assert rs.encode() not in _envelope_blob(transport)


def test_module_imports_without_sentry_sdk_and_init_options_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['sentry_sdk'] = None; sys.modules['sentry_sdk.consts'] = None\n"
        "import jwtobs.redact.sentry as s\n"
        "assert s.before_send({'message': 'x'}, {}) == {'message': 'x'}\n"
        "try:\n    s.init_options(dsn='x')\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'jwtobs[sentry]'" in out.stdout
    check = "import sys, jwtobs.redact.sentry; print('sentry_sdk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_envelope_header_trace_context_is_scrubbed(material: Material) -> None:
    """The dynamic sampling context (envelope header "trace") carries the transaction name; the SDK builds it
    from the event's trace context after before_send, so a token in a transaction name stays out of it too.
    (3.x: the span envelope's header comes from the segment span, frozen by the event inside it before
    before_send_span renames the segment: init_options's transport wrapper scrubs it.)"""
    rs = form(material, "jws_rs256").shown
    with sentry() as transport:
        if SDK3:  # (a fresh trace: an earlier test's frozen propagation context would carry no transaction name)
            sentry_sdk.new_trace()
        with root_span(f"GET /userinfo?access_token={rs}"):
            sentry_sdk.capture_message("inside the transaction")
    headers = [items(env)[0] for env in transport.envelopes]
    names = [h["trace"]["transaction"] for h in headers if "transaction" in h.get("trace", {})]
    assert len(names) == 2  # the error event and the transaction
    assert all(n == f"GET /userinfo?access_token=[REDACTED:jwt:{fp(rs)}]" for n in names)
    assert rs.encode() not in _envelope_blob(transport)


def test_sentry_marker_joins_the_validation_event() -> None:
    """The fingerprint in the Sentry event is the ``token_fp`` of the validation that rejected the token."""
    events: list[Any] = []
    jwtobs.configure(fingerprint_key=b"k" * 32, sinks=[events.append])
    key = ec.generate_private_key(ec.SECP256R1())
    expired = jwt.encode({"sub": "user-4711", "exp": 1_000_000_000}, key, algorithm="ES256")
    decode = jwtobs.wrap(jwt.decode)
    with sentry() as transport:
        try:
            decode(expired, key.public_key(), algorithms=["ES256"])
        except jwt.ExpiredSignatureError:
            logging.getLogger(LOGGER).exception("token %s rejected", expired)
    jwtobs.flush()
    assert len(events) == 1 and events[0].reason == "JWT_EXPIRED"
    event = items(transport.envelopes[0])[1]
    assert event["logentry"]["formatted"] == f"token [REDACTED:jwt:{events[0].token_fp}] rejected"
    assert expired.encode() not in _envelope_blob(transport)


def test_command_line_secrets_in_sys_argv(material: Material, monkeypatch: pytest.MonkeyPatch) -> None:
    """ArgvIntegration (a default integration) sends sys.argv with every event."""
    from sentry_sdk.integrations.argv import ArgvIntegration

    rs = form(material, "jws_rs256").shown
    secret = _opaque()
    argv = ["app.py", "--client-secret", secret, f"--token={rs}", "--session", "--verbose", "-H", f"DPoP: {rs}"]
    monkeypatch.setattr(sys, "argv", argv)
    with sentry(integrations=[ArgvIntegration()]) as transport:
        sentry_sdk.capture_message("cli failed")
    sent = items(transport.envelopes[0])[1]["extra"]["sys.argv"]
    assert sent[0] == "app.py" and sent[1] == "--client-secret" and sent[5] == "--verbose"
    assert sent[2] == f"[REDACTED:secret_field:{fp(secret)}]"
    assert sent[3] == f"--token=[REDACTED:jwt:{fp(rs)}]"
    assert secret.encode() not in _envelope_blob(transport) and rs.encode() not in _envelope_blob(transport)


def test_message_templates_keep_their_placeholders(material: Material) -> None:
    """Sentry groups log events by the template: "password=%s" must not become a marker (which would also
    change with the fingerprint key), while a credential written into the template itself is still redacted."""
    rs = form(material, "jws_rs256").shown
    pw, literal = _opaque(), _opaque()
    # 3.x attaches the stack, with this test's locals, to every event: pw and literal are opaque values under plain
    # names, which no detector recognizes in an event that does not name them (docs/redaction.md, Not covered)
    with sentry(**({"attach_stacktrace": False} if SDK3 else {})) as transport:
        log = logging.getLogger(LOGGER)
        log.error("login failed password=%s user=%s", pw, "bob")
        log.error("retry with %(hdr)s and secret=%(s)r", {"hdr": f"Bearer {rs}", "s": pw})
        log.error(f"static secret={literal} for %s", "bob")
        sentry_sdk.logger.error("login failed password={pw} token=%s", pw=pw)
        sentry_sdk.flush()
    entries = [items(env)[1]["logentry"] for env in transport.envelopes if b'"logentry"' in env]
    assert [e["message"] for e in entries] == [
        "login failed password=%s user=%s",
        "retry with %(hdr)s and secret=%(s)r",
        f"static secret=[REDACTED:secret_field:{fp(literal)}] for %s",
    ]
    assert entries[0]["params"] == [f"[REDACTED:secret_field:{fp(pw)}]", "bob"]
    assert entries[1]["params"]["hdr"] == f"Bearer [REDACTED:jwt:{fp(rs)}]"
    logs = [i for env in transport.envelopes for i in items(env)[1:] if "items" in i]
    templates = [item["attributes"]["sentry.message.template"]["value"] for log_ in logs for item in log_["items"]]
    assert "login failed password={pw} token=%s" in templates
    assert "login failed password=%s user=%s" in templates
    blob = _envelope_blob(transport)
    assert not any(s.encode() in blob for s in (rs, pw, literal))


# -- property: any event shape ---------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_KEYS = ["extra", "contexts", "tags", "user", "request", "headers", "data", "vars", "values", "frames", "message",
         "logentry", "params", "formatted", "breadcrumbs", "spans", "description", "query_string", "cookies",
         "http.query", "sys.argv", "detail", "id", "name", "value", "x"]  # fmt: skip
_WRAPS = ["{} ", " {}", "Bearer {}", "Authorization: Bearer {}", "'{}'", "b'{}'", "?access_token={}&x=1",
          "https://app.example/cb#id_token={}", "token={}", '{{"refresh_token": "{}"}}', "(('authorization', '{}'),)",
          "failed for {}: expired", "DPoP {}"]  # fmt: skip


@pytest.fixture(scope="module")
def property_token() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode({"sub": "user-4711", "jti": _opaque()}, key, algorithm="ES256")


def _event_shape(token: str) -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        st.sampled_from(_WRAPS).map(lambda w: w.format(token)),
        st.text(max_size=12),
        st.integers(),
        st.booleans(),
        st.none(),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)), inner, max_size=5),
        ),
        max_leaves=25,
    )


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_any_event_shape_is_scrubbed(property_token: str, data: st.DataObject) -> None:
    """Tokens anywhere in any nesting of dicts and lists, under any key (event keys, "vars", "cookies",
    "query_string", secret names...), in the shapes Sentry serializes: never in the output, never a raise,
    never None for a dict event, and the input is not modified."""
    jwtobs.configure(fingerprint_key=b"k" * 32)
    body = data.draw(st.dictionaries(st.sampled_from(_KEYS), _event_shape(property_token), min_size=1, max_size=6))
    snapshot = json.dumps(body, sort_keys=True)
    for hook in (jwtobs_sentry.before_send, jwtobs_sentry.before_send_transaction, jwtobs_sentry.before_breadcrumb):
        out = hook(body, {})
        assert out is not None
        text = json.dumps(out)
        assert property_token not in text
        assert property_token.split(".")[2] not in text
    log = jwtobs_sentry.before_send_log({"body": property_token, "attributes": body}, {})
    assert log is not None and property_token not in json.dumps(log)
    assert json.dumps(body, sort_keys=True) == snapshot


def test_logging_redactor_keeps_what_sentry_groups_by() -> None:
    """A clean %-args record that went through LoggingRedactor (which hands the formatter the message it formatted
    instead of formatting it again) reaches Sentry as logged: logentry.message is the template (Sentry groups
    events by it), params the arguments, formatted the message; the structured log keeps the template and the
    parameters."""
    import io
    import time

    from jwtobs.redact import LoggingRedactor, processors

    deadline = time.monotonic() + 30  # (the trigger database is built in a background thread on first use)
    while processors._trigger_gate.check("x" * 80) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    template = "request %s %s from %s failed with %d after %.1f ms"
    args = ("GET", "/api/v1/items?page=2", "10.1.2.3", 503, 12.25)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(LoggingRedactor())
    seen: list[type] = []
    handler.addFilter(lambda record: bool(seen.append(type(record))) or True)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        with sentry() as transport:
            logger.error(template, *args)
            sentry_sdk.flush()
    finally:
        logger.removeHandler(handler)
    assert buf.getvalue() == template % args + "\n"
    if processors._trigger_gate.check("x" * 80) is not None:
        assert seen == [processors._CheckedRecord]  # (the formatter reused the filter's message)
    payloads = [i for env in transport.envelopes for i in items(env)[1:]]
    events = [i for i in payloads if "logentry" in i]
    assert len(events) == 1
    assert events[0]["logentry"] == {"message": template, "formatted": template % args, "params": list(args)}
    logs = [i["items"][0] for i in payloads if "items" in i and "body" in i["items"][0]]
    assert logs and logs[0]["body"] == template % args
    attrs = logs[0]["attributes"]
    assert attrs["sentry.message.template"]["value"] == template
    assert [attrs[f"sentry.message.parameter.{k}"]["value"] for k in range(5)] == list(args)
