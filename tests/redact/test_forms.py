"""Every leak form of issue 3's "What must be caught" list, one test case each, plus the false positives.

Tokens are real: signed (PyJWT: RS256, ES256, EdDSA, HS256, alg none) or encrypted (jwcrypto: RSA-OAEP-256 and
``dir`` JWE) with keys generated here, and checked with the same libraries before they are used. For every form:
the credential appears nowhere in the output, the marker has the expected kind, its fingerprint equals
``config.current().fingerprinter.token(credential)`` (for a JWS/JWE: the ``token_fp`` of its validation event),
and the input object is not mutated.
"""

from __future__ import annotations

import base64
import copy
import datetime
import http.cookiejar
import http.cookies
import json
import random
import re
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm

import jwtobs
from jwtobs import config
from jwtobs.events import ValidationEvent
from jwtobs.redact import scrub, scrub_value

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")
HS_KEY = b"k" * 32
CLAIMS = {"sub": "alice@example.com", "iss": "https://issuer.test", "aud": "billing-api", "scope": "read write"}


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Tokens:
    rs256: str
    es256: str
    eddsa: str
    hs256: str
    none: str
    dash_underscore: str
    padded: str
    ewogic: str
    ewoid: str
    jwe_rsa: str
    jwe_dir: str
    dpop_proof: str


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {**CLAIMS, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}


def _verbose(header: dict[str, Any], indent: int, key: rsa.RSAPrivateKey) -> str:
    """An RS256 token whose header is pretty-printed JSON (``ewogIC...`` for indent=2, ``ewoi...`` for 0)."""
    signing_input = b64u(json.dumps(header, indent=indent).encode()) + "." + b64u(json.dumps(_claims()).encode())
    sig = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    return signing_input + "." + b64u(sig)


def mint() -> Tokens:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rs256 = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    es256 = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    eddsa = jwt.encode(_claims(), ed_key, algorithm="EdDSA")
    hs256 = jwt.encode(_claims(), HS_KEY, algorithm="HS256")
    none = jwt.encode(_claims(), None, algorithm="none")
    assert none.endswith(".") and none.count(".") == 2
    # A header whose base64url holds both "-" and "_" (kid bytes chosen to produce them).
    dash_underscore = ""
    for i in range(8):
        cand = jwt.encode(_claims(), HS_KEY, algorithm="HS256", headers={"kid": "k" * i + "?>?>?>?>"})
        head = cand.split(".")[0]
        if "-" in head and "_" in head:
            dash_underscore = cand
            break
    assert dash_underscore, "no header with - and _ found"
    # Padded: every segment "="-padded to a multiple of 4, signed over the padded signing input.
    for i in range(64):
        header = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "p" * i}).encode())
        payload = b64u(json.dumps(_claims()).encode())
        if len(header) % 4 and len(payload) % 4:
            break
    pad = lambda seg: seg + "=" * (-len(seg) % 4)  # noqa: E731
    signing_input = pad(header) + "." + pad(payload)
    padded = signing_input + "." + pad(b64u(HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input.encode(), HS_KEY)))
    assert padded.count("=") >= 2
    ewogic = _verbose({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}, 2, rsa_key)
    ewoid = _verbose({"alg": "RS256", "typ": "JWT"}, 0, rsa_key)
    assert ewogic.startswith("ewogIC") and ewoid.startswith("ewoi")
    # JWE (jwcrypto): RSA-OAEP-256 (5 parts) and dir (empty encrypted key).
    rsa_jwk = jc_jwk.JWK.generate(kty="RSA", size=2048)
    e = jc_jwe.JWE(json.dumps(_claims()).encode(), protected=json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM"}))
    e.add_recipient(rsa_jwk)
    jwe_rsa = e.serialize(compact=True)
    oct_jwk = jc_jwk.JWK.generate(kty="oct", size=256)
    d = jc_jwe.JWE(json.dumps(_claims()).encode(), protected=json.dumps({"alg": "dir", "enc": "A256GCM"}))
    d.add_recipient(oct_jwk)
    jwe_dir = d.serialize(compact=True)
    assert jwe_dir.split(".")[1] == "" and len(jwe_rsa.split(".")) == 5
    # DPoP proof (RFC 9449): ES256 with the public key in the header.
    pub_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    dpop_proof = jwt.encode(
        {"htm": "GET", "htu": "https://api.test/x", "jti": uuid.uuid4().hex, "iat": int(time.time())},
        ec_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": pub_jwk},
    )
    # They are real: each verifies / decrypts with its library.
    opts = {"verify_aud": False}
    jwt.decode(rs256, rsa_key.public_key(), algorithms=["RS256"], options=opts)
    jwt.decode(es256, ec_key.public_key(), algorithms=["ES256"], options=opts)
    jwt.decode(eddsa, ed_key.public_key(), algorithms=["EdDSA"], options=opts)
    jwt.decode(hs256, HS_KEY, algorithms=["HS256"], options=opts)
    jwt.decode(dash_underscore, HS_KEY, algorithms=["HS256"], options=opts)
    jwt.decode(ewogic, rsa_key.public_key(), algorithms=["RS256"], options=opts)
    jwt.decode(ewoid, rsa_key.public_key(), algorithms=["RS256"], options=opts)
    for tok, key in ((jwe_rsa, rsa_jwk), (jwe_dir, oct_jwk)):
        dec = jc_jwe.JWE()
        dec.deserialize(tok, key=key)
        assert json.loads(dec.payload)["sub"] == CLAIMS["sub"]
    return Tokens(
        rs256, es256, eddsa, hs256, none, dash_underscore, padded, ewogic, ewoid, jwe_rsa, jwe_dir, dpop_proof
    )


_TOKENS: Tokens | None = None
_B64_PEMS: dict[str, str] = {}


def b64_pem(kind: str) -> str:
    """A PEM block made here, base64-encoded as a Kubernetes Secret or a kubeconfig holds it: "key" an EC private key
    (SEC1), "pkcs8" an Ed25519 one, "cert" a self-signed certificate (no secret)."""
    if kind not in _B64_PEMS:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        if kind == "key":
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
        elif kind == "pkcs8":
            pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        else:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redact.test")])
            now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            cert = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(key, hashes.SHA256())
            )  # fmt: skip
            pem = cert.public_bytes(serialization.Encoding.PEM)
        _B64_PEMS[kind] = base64.b64encode(pem).decode()
    return _B64_PEMS[kind]


def tokens() -> Tokens:
    global _TOKENS
    if _TOKENS is None:
        _TOKENS = mint()
    return _TOKENS


OPAQUE = "gho_16C7e42F292c6912E7710c838347Ae178B4a"  # opaque bearer (GitHub-style), not a JWT
OPAQUE2 = "8xLOxBtZp8aQz9Y3vKcT-1wE_r2uN4sPq7"
BASIC = base64.b64encode(b"alice:correct horse battery staple").decode()
PASSWORD = "S3cr3t!pa55-w0rd"
API_KEY = "sk_live_51HqLyjWDarjtT1zdp7dcXYZ"
COOKIE_VALUE = "s%3AQm9iLXNlc3Npb24tMTIz.x7Yq9Zz0AbCdEfGh"
CODE = "SplxlOBeZQQYbYS6WxSbIA"


@dataclass(frozen=True)
class Case:
    """One leak form: the input, the credentials that must vanish, and the expected markers
    (kind, credential the fingerprint is of — None when the marker covers more than the credential)."""

    value: Any
    secrets: tuple[str, ...]
    markers: tuple[tuple[str, str | None], ...]


def _one(value: Any, kind: str, secret: str) -> Case:
    """A form holding one credential, ``secret``, whose marker is of ``kind`` with its own fingerprint."""
    return Case(value, (secret,), ((kind, secret),))


def _jose(tok: str, kind: str = "jwt", fmt: str = "the token was {t} (rejected)") -> Case:
    return Case(fmt.format(t=tok), (tok,), ((kind, tok),))


def _b64(
    tok: str, kind: str = "jwt", fmt: str = "{b}", *, url: bool = False, before: str = "", after: str = ""
) -> Case:
    """A token stored base64-encoded (alone, or inside a larger blob: ``before``/``after`` it): the encoded run
    vanishes; the marker carries the token's own fingerprint when the run encodes the token alone."""
    raw = (before + tok + after).encode()
    enc = b64u(raw) if url else base64.b64encode(raw).decode()
    alone = not before and not after.strip()
    return Case(fmt.format(b=enc), (enc, tok), ((kind, tok if alone else None),))


def _forms() -> dict[str, Callable[[Tokens], Case]]:
    f: dict[str, Callable[[Tokens], Case]] = {
        # -- JWS / JWE anywhere in a string --------------------------------------------------------------
        "jws_rs256_text": lambda t: _jose(t.rs256),
        "jws_es256_text": lambda t: _jose(t.es256),
        "jws_eddsa_text": lambda t: _jose(t.eddsa),
        "jws_hs256_text": lambda t: _jose(t.hs256),
        "jws_alg_none_empty_signature": lambda t: _jose(t.none),
        "jws_header_dash_underscore": lambda t: _jose(t.dash_underscore),
        "jws_padded": lambda t: _jose(t.padded),
        "jws_verbose_ewogIC_header": lambda t: _jose(t.ewogic),
        "jws_verbose_ewoi_header": lambda t: _jose(t.ewoid),
        # a URL path segment (a verification or magic link): the "/" after a whole signature is the path's
        "jws_rs256_in_url_path": lambda t: _jose(t.rs256, fmt="GET /verify/{t}/confirm HTTP/1.1"),
        "jws_es256_in_url_path": lambda t: _jose(t.es256, fmt="https://app.example.com/magic/{t}/login?next=/"),
        "jws_hs256_in_url_path": lambda t: _jose(t.hs256, fmt="/reset/{t}/"),
        "jws_sentence_full_stop": lambda t: _jose(t.rs256, fmt="Rejected token {t}."),
        "jws_glued_to_words": lambda t: _jose(t.es256, fmt="jwt={t};next"),
        "jws_after_json_newline_escape": lambda t: _jose(t.hs256, fmt='{{"msg": "line one\\n{t}\\nline three"}}'),
        "jws_as_dict_key": lambda t: _one({t.rs256: "cached", "n": 1}, "jwt", t.rs256),
        "jwe_rsa_oaep_5_parts": lambda t: _jose(t.jwe_rsa, "jwe"),
        "jwe_dir_empty_encrypted_key": lambda t: _jose(t.jwe_dir, "jwe"),
        "jwe_in_json_log_line": lambda t: _jose(t.jwe_rsa, "jwe", '{{"event": "decrypt failed", "jwe": "{t}"}}'),
        # -- a JWS/JWE stored base64-encoded: no "." and no "eyJ" left -------------------------------------
        "jws_base64_kubernetes_secret": lambda t: _b64(t.rs256, fmt="kind: Secret\ndata:\n  token: {b}\n"),
        "jws_base64_echo_with_newline": lambda t: _b64(t.es256, fmt="TOKEN_B64={b}", after="\n"),
        "jws_base64url_unpadded": lambda t: _b64(t.hs256, fmt="state {b} end", url=True),
        "jws_verbose_header_base64": lambda t: _b64(t.ewogic, fmt='{{"value": "{b}"}}'),
        "jwe_base64": lambda t: _b64(t.jwe_rsa, "jwe", fmt="sealed={b}"),
        "jws_in_base64_json_session_cookie": lambda t: _b64(
            t.eddsa,
            fmt="Set-Cookie: sb-auth=base64-{b}; Path=/",
            url=True,
            before='{"access_token":"',
            after='","refresh_token":"r-8Kq2LmZ0xT4","expires_in":3600}',
        ),
        "jws_in_base64_json_one_byte_on": lambda t: _b64(t.rs256, fmt="blob {b}", before='{"t":"', after='"}'),
        "jws_base64_wrapped_at_76": lambda t: Case(
            f"$ echo $TOKEN | base64\n{base64.encodebytes(t.rs256.encode()).decode()}$ exit\n",
            (t.rs256, *base64.encodebytes(t.rs256.encode()).decode().split()),
            (("jwt", t.rs256),),
        ),
        "jws_in_base64_json_two_bytes_on": lambda t: _b64(t.rs256, fmt="blob {b}", before='{"tk":"', after='"}'),
        # -- Azure API Management and Functions keys (header, JSON, query parameter) ----------------------
        "azure_apim_subscription_key_header": lambda t: _one(
            f"Ocp-Apim-Subscription-Key: {HEX40[:32]}", "api_key", HEX40[:32]
        ),
        "azure_apim_subscription_key_json": lambda t: _one(
            {"headers": {"Ocp-Apim-Subscription-Key": HEX40[:32]}}, "api_key", HEX40[:32]
        ),
        "azure_apim_subscription_key_query": lambda t: Case(
            f"GET /echo/resource?subscription-key={HEX40[:32]}&param1=sample", (HEX40[:32],), (("query_token", None),)
        ),
        "azure_functions_key_header": lambda t: Case(
            f"x-functions-key: {SESSION_ID}{SESSION_ID}==", (SESSION_ID,), (("api_key", None),)
        ),
        # -- Authorization / Proxy-Authorization ---------------------------------------------------------
        "auth_bearer_jwt_text": lambda t: _jose(t.rs256, fmt="Authorization: Bearer {t}"),
        "auth_bearer_opaque_lowercase": lambda t: _one(f"authorization: bearer {OPAQUE}", "bearer", OPAQUE),
        "auth_basic_uppercase": lambda t: _one(f"AUTHORIZATION: BASIC {BASIC}", "basic", BASIC),
        "proxy_authorization_basic_mixed_case": lambda t: _one(f"Proxy-AuthoriZation: bAsIc {BASIC}", "basic", BASIC),
        "auth_dpop_jwt_and_proof": lambda t: Case(
            f"Authorization: DPoP {t.es256}\nDPoP: {t.dpop_proof}",
            (t.es256, t.dpop_proof),
            (("jwt", t.es256), ("jwt", t.dpop_proof)),
        ),
        "auth_dpop_opaque": lambda t: _one(f"Authorization: DPoP {OPAQUE2}", "dpop", OPAQUE2),
        "auth_digest": lambda t: Case(
            'Authorization: Digest username="alice", realm="api", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
            'uri="/x", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
            ("6629fae49393a05397450978507c4ef1", "dcd98b7102dd2f0e8b11d0f600bfb0c093"),
            (("digest", None),),
        ),
        "auth_opaque_without_scheme": lambda t: _one(f"authorization={API_KEY} status=401", "authorization", API_KEY),
        "auth_other_scheme_opaque": lambda t: _one(f"Authorization: Token {OPAQUE2}", "authorization", OPAQUE2),
        "auth_free_text_bearer_without_header": lambda t: _one(
            f"retrying with Bearer {OPAQUE} after 401", "bearer", OPAQUE
        ),
        "auth_dict_key": lambda t: _one({"Authorization": f"Bearer {OPAQUE}"}, "bearer", OPAQUE),
        "auth_dict_key_jwt_any_case": lambda t: _one(
            {"headers": {"AUTHORIZATION": f"bearer {t.eddsa}"}}, "jwt", t.eddsa
        ),
        "proxy_auth_dict_key": lambda t: _one({"Proxy-Authorization": f"Basic {BASIC}"}, "basic", BASIC),
        "auth_header_list_str_tuples": lambda t: _one(
            [("accept", "*/*"), ("Authorization", f"Bearer {OPAQUE}")], "bearer", OPAQUE
        ),
        "auth_header_list_bytes_tuples": lambda t: _one(
            {"type": "http", "headers": [(b"host", b"api.test"), (b"authorization", f"Bearer {t.rs256}".encode())]},
            "jwt",
            t.rs256,
        ),
        "auth_header_tuples_repr_text": lambda t: _one(
            repr([(b"authorization", f"Basic {BASIC}".encode())]), "basic", BASIC
        ),
        "otel_attribute_str": lambda t: _one(
            {"http.request.header.authorization": f"Bearer {OPAQUE}"}, "bearer", OPAQUE
        ),
        "otel_attribute_list": lambda t: _one(
            {"http.request.header.authorization": [f"Bearer {t.hs256}"]}, "jwt", t.hs256
        ),
        "otel_attribute_text": lambda t: _one(
            f"attributes={{'http.request.header.authorization': ('Bearer {OPAQUE}',)}}", "bearer", OPAQUE
        ),
        "wsgi_environ_http_authorization": lambda t: _one(
            f"{{'HTTP_AUTHORIZATION': 'Basic {BASIC}', 'PATH_INFO': '/x'}}", "basic", BASIC
        ),
        # -- Cookie / Set-Cookie -----------------------------------------------------------------------
        "cookie_header_text": lambda t: Case(
            f"Cookie: session={COOKIE_VALUE}; theme=dark; auth={t.hs256}",
            (COOKIE_VALUE, t.hs256),
            (("cookie", COOKIE_VALUE), ("jwt", t.hs256)),
        ),
        "set_cookie_header_text": lambda t: _one(
            f"set-cookie: sid={COOKIE_VALUE}; Path=/; Secure; HttpOnly", "cookie", COOKIE_VALUE
        ),
        "cookie_dict": lambda t: _one({"Cookie": f"sid={COOKIE_VALUE}"}, "cookie", COOKIE_VALUE),
        "cookie_bytes_tuple": lambda t: _one([(b"cookie", f"id_token={t.rs256}".encode())], "jwt", t.rs256),
        "set_cookie_otel_attribute": lambda t: _one(
            {"http.response.header.set-cookie": [f"sid={COOKIE_VALUE}; HttpOnly"]}, "cookie", COOKIE_VALUE
        ),
        # -- query strings and URL fragments, raw or percent-encoded -------------------------------------
        "query_access_token_jwt": lambda t: _jose(t.rs256, fmt="GET /cb?access_token={t}&x=1 HTTP/1.1"),
        "query_access_token_opaque": lambda t: _one(f"GET /cb?access_token={OPAQUE}&x=1", "query_token", OPAQUE),
        "fragment_id_token": lambda t: _jose(t.es256, fmt="redirect to https://app.test/cb#id_token={t}&state=xyz"),
        "query_refresh_token": lambda t: _one(
            f"POST /token?grant_type=refresh_token&refresh_token={OPAQUE2}", "query_token", OPAQUE2
        ),
        "query_code": lambda t: _one(f"/cb?code={CODE}&state=af0ifjsldkj", "query_token", CODE),
        "query_client_secret": lambda t: Case(
            f"body: grant_type=client_credentials&client_id=app&client_secret={PASSWORD}",
            (PASSWORD, quote(PASSWORD, safe="")),
            (("query_token", PASSWORD),),
        ),
        "form_body_code_first": lambda t: _one(f"code={CODE}&state=xyz", "query_token", CODE),
        "query_percent_encoded_3D_26": lambda t: _one(
            "next=https%3A%2F%2Fapp.test%2Fcb%3Fx%3D1%26access_token%3D" + OPAQUE, "query_token", OPAQUE
        ),
        "query_percent_encoded_2E_jwt": lambda t: Case(
            "return_to=%2Fcb%3Fid_token%3D" + t.rs256.replace(".", "%2E"),
            (t.rs256, t.rs256.replace(".", "%2E"), t.rs256.split(".")[2]),
            (("jwt", t.rs256),),
        ),
        "query_percent_encoded_2E_unnamed": lambda t: Case(
            "u=https%3A%2F%2Fx.test%2F%3Fq%3D" + t.hs256.replace(".", "%2E"),
            (t.hs256.split(".")[2],),
            (("jwt", t.hs256),),
        ),
        "query_html_escaped_amp": lambda t: _one(
            f'<a href="/cb?x=1&amp;access_token={OPAQUE}">', "query_token", OPAQUE
        ),
        # -- secret-named fields at any depth --------------------------------------------------------------
        "field_dict_top_level": lambda t: _one({"user": "alice", "password": PASSWORD}, "secret_field", PASSWORD),
        "field_nested_deep": lambda t: _one(
            {"a": {"b": [{"c": ({"client_secret": PASSWORD},)}]}}, "secret_field", PASSWORD
        ),
        "field_list_of_pairs": lambda t: _one([("x-api-key", API_KEY)], "api_key", API_KEY),
        "field_in_set": lambda t: _one({f"password={PASSWORD}", "ok"}, "secret_field", PASSWORD),
        "field_in_frozenset_tuple": lambda t: _one(frozenset({("api_key", API_KEY)}), "api_key", API_KEY),
        "field_bytes_value": lambda t: _one({"session": PASSWORD.encode()}, "secret_field", PASSWORD),
        "field_bytes_text": lambda t: _one(f'{{"api_key": "{API_KEY}"}}'.encode(), "api_key", API_KEY),
        "field_dataclass_repr_text": lambda t: Case(
            repr(_Creds("alice", PASSWORD, API_KEY)), (PASSWORD, API_KEY), (("secret_field", PASSWORD),)
        ),
        "field_dataclass_object": lambda t: Case(
            {"creds": _Creds("alice", PASSWORD, API_KEY)}, (PASSWORD, API_KEY), (("secret_field", PASSWORD),)
        ),
        "field_json_text_any_case": lambda t: Case(
            f'{{"Client_Secret":"{PASSWORD}","X-Api-Key": "{API_KEY}"}}',
            (PASSWORD, API_KEY),
            (("secret_field", PASSWORD), ("api_key", API_KEY)),
        ),
        "field_json_escaped_inside_json": lambda t: _one(
            json.dumps({"msg": json.dumps({"password": PASSWORD})}), "secret_field", PASSWORD
        ),
        "field_header_line_x_api_key": lambda t: _one(f"X-API-Key: {API_KEY}\nAccept: */*", "api_key", API_KEY),
        "field_key_value_log_line": lambda t: _one(f"login user=alice pwd={PASSWORD} ok", "secret_field", PASSWORD),
        "url_userinfo_password": lambda t: _one(
            f"connecting to postgres://app:{PASSWORD}@db.internal:5432/main", "url_password", PASSWORD
        ),
        "url_userinfo_percent_encoded": lambda t: Case(
            f"redis://:{quote(PASSWORD, safe='')}@cache:6379/0",
            (quote(PASSWORD, safe=""),),
            (("url_password", PASSWORD),),
        ),
        # -- exceptions, tracebacks ---------------------------------------------------------------------------
        "exception_message_object": lambda t: _one(ValueError(f"invalid token {t.rs256}"), "jwt", t.rs256),
        "exception_message_text": lambda t: _one(
            str(PermissionError(f"Authorization: Bearer {OPAQUE} rejected")), "bearer", OPAQUE
        ),
        "traceback_rendered": lambda t: _one(_traceback(t.es256), "jwt", t.es256),
        "bytes_log_line": lambda t: _one(f"Authorization: Bearer {t.eddsa}\r\n".encode(), "jwt", t.eddsa),
        # -- issue 13: forms that were missed ----------------------------------------------------------------
        "jws_unsigned_eyJ_eyJ_dot": lambda t: _jose(t.none, fmt="accepted unsigned {t} from client"),
        "jws_signing_input_two_segments": lambda t: Case(
            f"signing_input=b'{_signing_input(t.rs256)}' sig=b'...'",
            (_signing_input(t.rs256), t.rs256.split(".")[1]),
            (("signing_input", _signing_input(t.rs256)),),
        ),
        "go_escaped_query_code": lambda t: _one(
            f'msg="redirect to https://app.test/cb?state=xyz\\u0026code={CODE}\\u0026x=1"', "query_token", CODE
        ),
        "go_escaped_query_sig": lambda t: _one(
            f'{{"url":"/download?file=a.zip\\u0026sig={HEX_SIG}\\u0026exp=1733040000"}}', "query_token", HEX_SIG
        ),
        "xml_access_token_element": lambda t: _one(
            f"<auth><access-token>{VENDOR['github_pat']}</access-token></auth>", "api_key", VENDOR["github_pat"]
        ),
        "xml_password_element": lambda t: _one(
            f"<user name='bob'><password>{PASSWORD}</password></user>", "secret_field", PASSWORD
        ),
        "xml_secret_access_key": lambda t: Case(
            f"<Credentials><AccessKeyId>{VENDOR['aws_id']}</AccessKeyId><SecretAccessKey>{AWS_SECRET}"
            "</SecretAccessKey></Credentials>",
            (AWS_SECRET, VENDOR["aws_id"]),
            (("secret_field", AWS_SECRET), ("api_key", VENDOR["aws_id"])),
        ),
        "cli_long_flag_token": lambda t: _one(
            f"exec: docker swarm join --token {VENDOR['swarm']} 10.0.0.5:2377", "secret_field", VENDOR["swarm"]
        ),
        "cli_long_flag_quoted": lambda t: _one(
            f"running: vault login --client-secret '{PASSWORD}' --method=oidc", "secret_field", PASSWORD
        ),
        "cli_sshpass_p": lambda t: _one(
            f"sshpass -p '{PASSWORD}' ssh deploy@10.0.0.5 uptime", "secret_field", PASSWORD
        ),
        "cli_mysql_p_glued": lambda t: _one(
            "mysqldump -u root -pHunter2xYz --all-databases", "secret_field", "Hunter2xYz"
        ),
        "config_subscript_assignment": lambda t: _one(f"config[\"password\"] = '{PASSWORD}'", "secret_field", PASSWORD),
        "text_auth_name": lambda t: _one(f"proxy auth={BASIC} upstream=a", "secret_field", BASIC),
        "text_pass_name": lambda t: _one(f"user=bob pass={PASSWORD} host=db", "secret_field", PASSWORD),
        "text_sid_name": lambda t: _one(f"GET /home sid: {SESSION_ID}", "secret_field", SESSION_ID),
        "json_number_password_stays_json": lambda t: _one(
            '{"user": "bob", "password": 12345678}', "secret_field", "12345678"
        ),
        **{f"vendor_{name}": _vendor_case(key) for name, key in VENDOR.items() if name != "slack_webhook"},
        "vendor_slack_webhook": lambda t: Case(
            f"posting to {VENDOR['slack_webhook']}", (VENDOR["slack_webhook"].rsplit("/", 1)[1],), (("api_key", None),)
        ),
        # -- issue 13: two credentials glued by "?" or "&" (raw, percent-encoded or escaped), no blank between ------
        "glued_query_code_and_access_token": lambda t: Case(
            f"GET /cb?code={CODE}&access_token={OPAQUE2} HTTP/1.1",
            (CODE, OPAQUE2),
            (("query_token", CODE), ("query_token", OPAQUE2)),
        ),
        "glued_field_and_query_password": lambda t: Case(
            f"token=abc123XYZ789&password={PASSWORD}",
            ("abc123XYZ789", PASSWORD),
            (("secret_field", "abc123XYZ789"), ("query_token", PASSWORD)),
        ),
        "glued_sig_and_amz_signature": lambda t: Case(
            f"GET /o.bin?sig={HEX_SIG}&X-Amz-Signature={HEX_SIG[::-1] * 2}",
            (HEX_SIG, HEX_SIG[::-1] * 2),
            (("query_token", HEX_SIG), ("query_token", HEX_SIG[::-1] * 2)),
        ),
        # -- session 12: the reprs and dumps real libraries write (a probe of 133 sources) ---------------------------
        "cookiejar_repr": lambda t: _one(repr(_jar(OPAQUE2)), "cookie", OPAQUE2),
        "simplecookie_repr": lambda t: Case(
            repr(_simple_cookie(refresh=OPAQUE2, theme="dark")), (OPAQUE2,), (("cookie", OPAQUE2), ("cookie", "dark"))
        ),
        "splitresult_repr": lambda t: _one(
            repr(urlsplit(f"postgres://app:{PASSWORD}@127.0.0.1:5432/app")), "url_password", PASSWORD
        ),
        "json_indented_header_pairs": lambda t: _one(
            json.dumps([["host", "127.0.0.1"], ["x-api-key", OPAQUE2]], indent=2), "api_key", OPAQUE2
        ),
        "pydantic_validation_error_str": lambda t: Case(
            str(_validation_error(OPAQUE2, PASSWORD)), (OPAQUE2, PASSWORD), _TWO_FIELDS
        ),
        "pydantic_validation_errors_repr": lambda t: Case(
            repr(_validation_error(OPAQUE2, PASSWORD).errors()), (OPAQUE2, PASSWORD), _TWO_FIELDS
        ),
        "pydantic_validation_errors_value": lambda t: Case(
            _validation_error(OPAQUE2, PASSWORD).errors(), (OPAQUE2, PASSWORD), _TWO_FIELDS
        ),
        "fastapi_422_body": lambda t: _one(_fastapi_422(OPAQUE2), "secret_field", OPAQUE2),
        "splitresult_value": lambda t: _one(
            urlsplit(f"postgres://app:{PASSWORD}@127.0.0.1:5432/app"), "url_password", PASSWORD
        ),
        "gcs_v4_signed_url": lambda t: _one(
            "GET https://storage.googleapis.com/b/o.bin?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Date=20261203T000000Z"
            f"&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature={HEX_SIG * 8} 200",
            "query_token",
            HEX_SIG * 8,
        ),
        "glued_go_escaped_tokens": lambda t: Case(
            f'{{"msg":"redirect","url":"/cb?state=x\\u0026access_token={t.rs256}\\u0026id_token={t.es256}"}}',
            (t.rs256, t.es256),
            (("jwt", t.rs256), ("jwt", t.es256)),
        ),
        "glued_go_escaped_authorization": lambda t: _one(
            f'{{"headers":"Accept: */*\\u0026Authorization: Token {OPAQUE2}"}}', "authorization", OPAQUE2
        ),
        "glued_set_cookie_then_cookie": lambda t: Case(
            f"Set-Cookie: sid={SESSION_ID}; Path=/&Cookie: sid={OPAQUE2}",
            (SESSION_ID, OPAQUE2),
            (("cookie", SESSION_ID), ("cookie", OPAQUE2)),
        ),
        "glued_field_then_url_password": lambda t: Case(
            f"token: hunter2xyz9?https://deploy:{PASSWORD}@db.test/x",
            ("hunter2xyz9", PASSWORD),
            (("secret_field", None), ("url_password", PASSWORD)),
        ),
        "glued_basic_then_percent_escaped_dpop": lambda t: Case(
            f"authorization: Basic {BASIC}%26DPoP {OPAQUE2}", (BASIC, OPAQUE2), (("basic", None),)
        ),
        "glued_percent_escaped_verbose_token": lambda t: _one(f"GET /cb?x=1%26{t.ewogic} 200", "jwt", t.ewogic),
        "glued_escaped_vendor_key": lambda t: Case(
            f"POST /hook?x=1\\u0026{VENDOR['github_ghp']}", (VENDOR["github_ghp"],), (("api_key", None),)
        ),
        # tokens written in the standard base64 alphabet ("+", "/", "=" padding), from a leak-sample probe
        # (session 9): the part after the first "+" or "/" survived (the token's last 16 characters must go too)
        "std_alphabet_bearer": lambda t: Case(
            f"Authorization: Bearer {STD_TOKEN}", (STD_TOKEN, STD_TOKEN[-16:]), (("jwt", STD_TOKEN),)
        ),
        "std_alphabet_padded_bare": lambda t: Case(
            f"legacy client token {STD_PADDED} accepted", (STD_PADDED, STD_PADDED[-16:]), (("jwt", STD_PADDED),)
        ),
        "std_alphabet_signature_only": lambda t: Case(
            f"Authorization: Bearer {_std_signature(t.rs256)}",
            (_std_signature(t.rs256), _std_signature(t.rs256)[-16:]),
            (("jwt", _std_signature(t.rs256)),),
        ),
        "std_alphabet_in_url_path": lambda t: Case(
            f"GET https://x.test/verify/{STD_TOKEN}/confirm 200", (STD_TOKEN, STD_TOKEN[-16:]), (("jwt", None),)
        ),
        # Authorization schemes capitalised like header names (gitleaks' curl rule test cases)
        "authorization_hyphenated_scheme": lambda t: _one(
            f'curl -H "Authorization: Api-Token {HEX40}" --request PUT https://api.test/use/635', "authorization", HEX40
        ),
        "authorization_x_custom_scheme": lambda t: _one(
            f"Authorization: X-Custom-Token {HEX40}", "authorization", HEX40
        ),
        # curl's user:password in every spelling curl accepts
        "curl_user_double_quoted": lambda t: _one(
            f'curl -s -v --user "j.smith:{CLI_PW}" "https://api.test/user/me"', "secret_field", CLI_PW
        ),
        "curl_user_single_quoted": lambda t: _one(
            f"curl -s --user 'api:{CLI_PW}' https://api.test/v2/messages", "secret_field", CLI_PW
        ),
        "curl_u_empty_user": lambda t: _one(f'curl -u ":{CLI_PW}" https://localhost:9200', "secret_field", CLI_PW),
        "curl_user_equals": lambda t: _one(f"curl --user=deploy:{CLI_PW} https://x.test", "secret_field", CLI_PW),
        # an argument list's repr / JSON (sys.argv, subprocess args)
        "argv_repr_password": lambda t: _one(
            f"sys.argv=['manage.py', 'createsuperuser', '--password', '{CLI_PW}']", "secret_field", CLI_PW
        ),
        "argv_json_token": lambda t: _one(f'{{"args": ["deploy", "--token", "{CLI_PW}"]}}', "secret_field", CLI_PW),
        # "PASS" in capitals is a label before ": " only: assigned, it is a password
        "env_pass_assignment": lambda t: _one(f"PASS={CLI_PW} ./deploy.sh", "secret_field", CLI_PW),
        # an XML element with no separator character anywhere (the processors' fast path skipped it)
        "xml_without_separators": lambda t: _one(
            f"<datasource><user>app</user><password>{CLI_PW}</password></datasource>", "secret_field", CLI_PW
        ),
        # -- session 13 probe: a credential at the start of a line of a multi-line string written escaped (JSON,
        # repr): the letter of "\n" / "\t" / "\r" is the escape's, not glued to the prefix or scheme word ---------
        "s13_json_newline_then_vendor_key": lambda t: _vendor_case_in(
            VENDOR["github_ghp"], json.dumps({"stdout": f"Logged in as ci-bot\n{VENDOR['github_ghp']}\n"})
        ),
        "s13_repr_tab_then_vendor_key": lambda t: _vendor_case_in(
            VENDOR["stripe_sk_live"], repr(f"name\tvalue\nstripe\t{VENDOR['stripe_sk_live']}")
        ),
        "s13_json_twice_newline_then_vendor_key": lambda t: _vendor_case_in(
            VENDOR["npm"], json.dumps({"log": json.dumps({"out": f"ok\n{VENDOR['npm']}"})})
        ),
        "s13_json_crlf_then_bearer": lambda t: _one(
            json.dumps({"raw": f"POST /hook HTTP/1.1\r\n\r\nBearer {OPAQUE2}"}), "bearer", OPAQUE2
        ),
        "s13_repr_newline_then_basic": lambda t: _one(repr(f"GET / HTTP/1.1\nBasic {BASIC}\n"), "basic", BASIC),
        "s13_json_newline_then_cookie_header": lambda t: _one(
            json.dumps({"req": f"GET / HTTP/1.1\nCookie: sid={COOKIE_VALUE}"}), "cookie", COOKIE_VALUE
        ),
        "s13_json_newline_then_signing_input": lambda t: Case(
            json.dumps({"locals": f"signed over:\n{_signing_input(t.rs256)}"}),
            (t.rs256.split(".")[1],),
            (("signing_input", _signing_input(t.rs256)),),
        ),
        "s13_json_newline_then_session_field": lambda t: _one(
            json.dumps({"env": f"HOME=/root\nsession_id={SESSION_ID}"}), "secret_field", SESSION_ID
        ),
        "s13_repr_newline_then_cli_option": lambda t: _one(
            repr(f"$ deploy\n--password {CLI_PW}\n"), "secret_field", CLI_PW
        ),
        "s13_json_newline_then_aws_secret": lambda t: Case(
            json.dumps({"out": f"creds\n{VENDOR['aws_id']}\n{AWS_SECRET}"}),
            (VENDOR["aws_id"], AWS_SECRET),
            (("api_key", VENDOR["aws_id"]), ("api_key", AWS_SECRET)),
        ),
        # -- JSON with "/" escaped as "\/" (PHP's json_encode) ---------------------------------------------------
        "s13_php_json_slack_webhook": lambda t: _vendor_case_in(
            _url_key(VENDOR["slack_webhook"]), _php_json({"webhook": VENDOR["slack_webhook"]})
        ),
        "s13_php_json_discord_webhook": lambda t: _vendor_case_in(
            _url_key(S13["discord"]), _php_json({"hook": S13["discord"]})
        ),
        "s13_php_json_telegram_bot_url": lambda t: _vendor_case_in(
            _url_key(S13["telegram"]).rsplit("/", 1)[0], _php_json({"url": S13["telegram"]})
        ),
        "s13_php_json_url_password": lambda t: _one(_php_json({"dsn": S13["dsn"]}), "url_password", PASSWORD),
        # -- .NET's System.Text.Json: "+" as "\u002B" ("/" and "=" as "\u002F", "\u003D" in some encoders) ------
        "s13_dotnet_json_azure_account_key": lambda t: _vendor_case_in(
            "AccountKey=" + S13["account_key"], _dotnet_json({"ConnectionString": S13["storage"]})
        ),
        "s13_dotnet_json_azure_shared_access_key": lambda t: _vendor_case_in(
            "SharedAccessKey=" + S13["shared_key"],
            _dotnet_json({"ConnectionString": S13["servicebus"]}).replace("=", "\\u003D"),
        ),
        "s13_dotnet_json_aws_secret_beside_key_id": lambda t: Case(
            _dotnet_json({"Value": f"{VENDOR['aws_id']},{S13['aws_secret']}"}),
            (S13["aws_secret"], S13["aws_secret"].replace("+", "\\u002B")),
            (("api_key", S13["aws_secret"]),),
        ),
        "s13_dotnet_json_query_value": lambda t: Case(
            _dotnet_json({"RequestUri": f"https://api.test/cb?code=x&access_token={S13['sas']}"}),
            (S13["sas"].replace("+", "\\u002B"), S13["sas"].split("+")[-1]),
            (("query_token", S13["sas"]),),
        ),
        # -- a URL or key percent-encoded as the value of a query parameter whose name names no secret ------------
        "s13_query_value_percent_encoded_webhook": lambda t: _vendor_case_in(
            _url_key(VENDOR["slack_webhook"]),
            "POST /settings/integrations?webhook_url=" + quote(VENDOR["slack_webhook"], safe=""),
        ),
        "s13_query_value_percent_encoded_url_password": lambda t: Case(
            "GET /login?next=" + quote(S13["dsn"], safe=""), (PASSWORD, quote(PASSWORD)), (("url_password", PASSWORD),)
        ),
        "s13_query_value_percent_encoded_azure_key": lambda t: _vendor_case_in(
            "AccountKey=" + S13["account_key"], "GET /setup?cfg=" + quote(S13["storage"], safe="")
        ),
        "s13_entra_secret_after_percent_equals": lambda t: _vendor_case_in(
            S13["entra"], "redirect_uri=https%3A%2F%2Fapp%2Fcb%3Fv%3D" + S13["entra"]
        ),
        # -- secret-named keys and credential files (names_struct) --------------------------------------------------
        "s13_key_role_names_json": lambda t: Case(
            json.dumps({"signing_key": OPAQUE2, "encryption_key": CLI_PW, "hmac_key": SESSION_ID}),
            (OPAQUE2, CLI_PW, SESSION_ID),
            (("secret_field", OPAQUE2), ("secret_field", CLI_PW), ("secret_field", SESSION_ID)),
        ),
        "s13_key_role_names_dict": lambda t: Case(
            {"RAILS_MASTER_KEY": HEX40, "SECRET_KEY_BASE": HEX40 * 3, "APP_KEY": f"base64:{OPAQUE2}="},
            (HEX40, f"base64:{OPAQUE2}="),
            (("secret_field", HEX40), ("secret_field", HEX40 * 3), ("secret_field", f"base64:{OPAQUE2}=")),
        ),
        "s13_key_role_names_env_text": lambda t: Case(
            f"RAILS_MASTER_KEY={HEX40} laravel APP_KEY=base64:{OPAQUE2}=",
            (HEX40, OPAQUE2),
            (("secret_field", HEX40), ("secret_field", f"base64:{OPAQUE2}=")),
        ),
        "s13_netrc_line": lambda t: _one(
            f"machine api.example.com login bot password {CLI_PW}", "secret_field", CLI_PW
        ),
        "s13_netrc_lines_in_json": lambda t: _one(
            json.dumps({"netrc": f"machine api.example.com\n  login bot\n  password {CLI_PW}\n"}),
            "secret_field",
            CLI_PW,
        ),
        "s13_pgpass_line": lambda t: _one(
            json.dumps({"detail": f"db.internal:5432:billing:app:{OPAQUE2}"}), "secret_field", OPAQUE2
        ),
        "s13_go_mysql_dsn": lambda t: _one(
            f"dsn=app:{PASSWORD}@tcp(db:3306)/billing?parseTime=true", "url_password", PASSWORD
        ),
        # random runs of test_properties (2026-12-04): a secret name without quotes after "Cookie:" and two
        # blanks (the cookie detector took "password:" as the cookie value), and a weak name in capitals before
        # ": " whose value is an id (the label rule passed it as a heading)
        "s14_cookie_two_blanks_then_secret_name": lambda t: Case(
            f"Cookie:  password: {CLI_PW}?{t.hs256} ", (CLI_PW, t.hs256), (("jwt", t.hs256),)
        ),
        "s14_cookie_pair_then_secret_name": lambda t: Case(
            f" Cookie: sid={SESSION_ID}; Path=/?password: {CLI_PW},authorization: {t.es256}",
            (SESSION_ID, CLI_PW, t.es256),
            (("cookie", SESSION_ID), ("secret_field", CLI_PW), ("jwt", t.es256)),
        ),
        # and a path's last segment whose value is the next field's name (bytes in the fuzz run)
        "s14_path_segment_then_field": lambda t: _one(f'GET /api_key: "api_key": "{CLI_PW}"', "api_key", CLI_PW),
        # vendor keys cut short by a length limit before the redactor sees them (OpenTelemetry's
        # max_attribute_length at the end of a value, structlog's "'...'+N", Sentry's "...", a formatter's cut line)
        "s14_vendor_key_cut_at_the_end": lambda t: _one(
            f"upstream said: {VENDOR['github_ghp'][:30]}", "api_key", VENDOR["github_ghp"][:30]
        ),
        "s14_vendor_key_cut_in_a_locals_repr": lambda t: _one(
            "{'key': " + repr(VENDOR["google_aiza"][:26])[:-1] + "'+13}", "api_key", VENDOR["google_aiza"][:26]
        ),
        "s14_vendor_key_cut_with_an_ellipsis": lambda t: _one(
            json.dumps({"lines": f"npm token {VENDOR['npm'][:24]}...\nnext"}), "api_key", VENDOR["npm"][:24]
        ),
        "s14_session_label_value_then_pipe": lambda t: Case(
            f" SESSION: {LABEL_SESSION_ID}|next", (LABEL_SESSION_ID,), (("secret_field", None),)
        ),
        # an unclosed quote after a declined name ran to the end of the line: a long one was not read again
        "s14_unclosed_quote_then_field": lambda t: _one(
            f'tokenauthorization: b\' "token": "{CLI_PW}" ' + "x" * 80, "secret_field", CLI_PW
        ),
        # an Authorization value whose first word is no scheme name kept that word as the "scheme"
        "s14_authorization_value_token_then_colon": lambda t: Case(
            {"Authorization": f"{t.rs256}: {CLI_PW}", "other": []}, (t.rs256, CLI_PW), (("authorization", None),)
        ),
        # a URL cut before its "@" by a length limit (a formatter's "%(message).60s", OpenTelemetry's
        # max_attribute_length, Sentry's "..."): the password read so far
        "s15_url_cut_before_at_end_of_line": lambda t: _one(
            f"connecting to postgresql://billing:{PASSWORD[:9]}\nretrying", "url_password", PASSWORD[:9]
        ),
        "s15_url_cut_before_at_with_ellipsis": lambda t: _one(
            {"db.connection_string": f"redis://:{PASSWORD}...", "attempt": 3}, "url_password", PASSWORD
        ),
        "s15_url_cut_before_at_in_quotes": lambda t: _one(
            f"upstream='https://deploy:{CLI_PW}' failed", "url_password", CLI_PW
        ),
        # a Cookie header whose value is a structure of pairs: the detector took the first name for the cookie
        # string and left every value (the first from a random run of test_properties, 2026-12-04)
        "s15_cookie_header_python_pair_then_token": lambda t: Case(
            f"Cookie:  ('password', '{CLI_PW}')?{t.rs256} ",
            (CLI_PW, t.rs256),
            (("cookie", CLI_PW), ("jwt", t.rs256)),
        ),
        "s15_cookie_header_dict": lambda t: Case(
            f'Cookie: {{"theme": "dark", "sessionid": "{SESSION_ID}"}} sent',
            (SESSION_ID,),
            (("cookie", "dark"), ("cookie", SESSION_ID)),
        ),
        "s15_cookie_header_list_of_tuples": lambda t: Case(
            f"cookie=[('sessionid', '{SESSION_ID}'), ('csrftoken', '{CLI_PW}')]",
            (SESSION_ID, CLI_PW),
            (("cookie", SESSION_ID), ("cookie", CLI_PW)),
        ),
        "s15_cookie_header_dict_cut_short": lambda t: Case(
            f'Cookie: {{"theme": "dark", "sessionid": "{SESSION_ID[:20]}',
            (SESSION_ID[:20],),
            (("cookie", "dark"), ("cookie", None)),
        ),
        # random runs of test_properties (2026-12-04, session 15): a quoted value after a declined name that an
        # earlier pass's marker made longer than a name is (it was not read again), and a URL cut short whose
        # "password" ran over the next header's name (the cut-URL pass now runs last)
        "s15_quoted_value_made_long_by_a_marker": lambda t: Case(
            f"""abcsession:b' "session": "{LABEL_SESSION_ID}" Bearer {t.hs256}'""",
            (LABEL_SESSION_ID, t.hs256),
            (("secret_field", LABEL_SESSION_ID), ("jwt", t.hs256)),
        ),
        "s15_url_cut_over_a_header_name": lambda t: Case(
            f"://:,Authorization': 'Token {CLI_PW} ",
            (CLI_PW,),
            (("url_password", ",Authorization"), ("authorization", None)),
        ),
        # a SQL statement's password (a database's statement log, an ORM's echo, a migration's output)
        "s15_sql_postgres_statement_log": lambda t: _one(
            f"LOG:  statement: ALTER ROLE app WITH LOGIN PASSWORD '{PASSWORD}' VALID UNTIL 'infinity'",
            "secret_field",
            PASSWORD,
        ),
        "s15_sql_mysql_identified_with_plugin": lambda t: _one(
            f"Query\tCREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY '{CLI_PW}'",
            "secret_field",
            CLI_PW,
        ),
        "s15_sql_oracle_identified_by_bare": lambda t: _one(
            f"ALTER USER app IDENTIFIED BY {CLI_PW} ACCOUNT UNLOCK;", "secret_field", CLI_PW
        ),
        "s15_sql_password_function": lambda t: _one(
            f"SET PASSWORD FOR 'app'@'localhost' = PASSWORD('{CLI_PW}')", "secret_field", CLI_PW
        ),
        # a variable given as a name and a value (Kubernetes' and ECS's env lists, CloudFormation's parameters)
        "s15_k8s_env_json": lambda t: _one(
            json.dumps({"env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_PASSWORD", "value": PASSWORD}]}),
            "secret_field",
            PASSWORD,
        ),
        "s15_k8s_env_yaml": lambda t: _one(
            f"        env:\n        - name: GITHUB_TOKEN\n          value: {CLI_PW}\n", "secret_field", CLI_PW
        ),
        "s15_ecs_environment_dicts": lambda t: _one(
            [{"Name": "REGION", "Value": "eu-west-1"}, {"Name": "STRIPE_API_KEY", "Value": CLI_PW}], "api_key", CLI_PW
        ),
        "s15_cloudformation_parameter_shorthand": lambda t: _one(
            f"aws cloudformation create-stack --parameters ParameterKey=DbPassword,ParameterValue={CLI_PW} x",
            "secret_field",
            CLI_PW,
        ),
        # more public leak shapes (session 15): XML name/value attributes, Ruby's hash rocket, short options
        "s15_dotnet_app_settings": lambda t: _one(
            f'<appSettings><add key="LogLevel" value="Debug" /><add key="SmtpPassword" value="{CLI_PW}" />',
            "secret_field",
            CLI_PW,
        ),
        "s15_spring_xml_property": lambda t: _one(
            f'<property name="password" value="{PASSWORD}"/>', "secret_field", PASSWORD
        ),
        "s15_ruby_hash_rocket": lambda t: _one(
            f'Parameters: {{"user"=>{{"email"=>"a@b.c", "password"=>"{PASSWORD}"}}}}', "secret_field", PASSWORD
        ),
        "s15_ldapsearch_w": lambda t: _one(
            f"ldapsearch -x -H ldap://dc -D cn=admin,dc=x -w {CLI_PW} -b dc=x", "secret_field", CLI_PW
        ),
        "s15_openssl_passout": lambda t: _one(
            f"openssl pkcs12 -export -in c.pem -passout pass:{CLI_PW} -out c.p12", "secret_field", CLI_PW
        ),
        "s15_zip_password": lambda t: _one(f"zip -r -P {CLI_PW} backup.zip /srv", "secret_field", CLI_PW),
        "s15_7z_password": lambda t: _one(f"7z a -p{CLI_PW} -mhe=on backup.7z /srv", "secret_field", CLI_PW),
        "s15_smbclient_user_percent": lambda t: _one(
            f"smbclient //fs/share -U svc%{CLI_PW} -c 'ls'", "secret_field", CLI_PW
        ),
        # an XML element named by an attribute (Java's properties XML, .NET's settings)
        "s15_java_properties_xml_entry": lambda t: _one(
            f'<properties><entry key="db.url">jdbc:h2:mem</entry><entry key="db.password">{CLI_PW}</entry>',
            "secret_field",
            CLI_PW,
        ),
        "s15_dotnet_setting_by_name": lambda t: _one(
            f'<setting name="SmtpPassword" serializeAs="String">{PASSWORD}</setting>', "secret_field", PASSWORD
        ),
        # session 16: public leak shapes left by session 15, and passwords holding a bare value's end characters
        "s16_azure_account_key_of_another_length": lambda t: _one(
            f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CLI_PW}x9;EndpointSuffix=core.windows.net",
            "api_key",
            CLI_PW + "x9",
        ),
        "s16_servicebus_shared_access_key_short": lambda t: _one(
            f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={CLI_PW}",
            "api_key",
            CLI_PW,
        ),
        "s16_shared_access_key_snake_case": lambda t: _one(f"shared_access_key={CLI_PW}", "api_key", CLI_PW),
        "s16_spaced_apikey_header_in_quotes": lambda t: _one(
            f"curl -H 'apikey {CLI_PW}' https://api.test/x", "api_key", CLI_PW
        ),
        "s16_nginx_quoted_api_key_header": lambda t: _one(
            f'    proxy_set_header X-Api-Key "{CLI_PW}";', "api_key", CLI_PW
        ),
        "s16_spaced_bearer_token_setting": lambda t: _one(f"bearer_token {CLI_PW}", "secret_field", CLI_PW),
        "s16_redis_requirepass": lambda t: _one(f"requirepass {CLI_PW}", "secret_field", CLI_PW),
        "s16_spaced_password_with_brackets": lambda t: _one(f"password {SYMBOL_PW} for bob", "secret_field", SYMBOL_PW),
        "s16_field_password_with_brackets": lambda t: _one(f"password={SYMBOL_PW} user=bob", "secret_field", SYMBOL_PW),
        "s16_env_password_with_a_quote": lambda t: _one(f"DB_PASSWORD={QUOTE_PW}", "secret_field", QUOTE_PW),
        "s16_mysql_password_with_a_quote": lambda t: _one(f"mysql -u root -p{QUOTE_PW} db", "secret_field", QUOTE_PW),
        "s16_password_with_a_backslash": lambda t: _one(f"password: {BACKSLASH_PW} ok", "secret_field", BACKSLASH_PW),
        "s16_yaml_binary_tag": lambda t: Case(
            f"password: !!binary {B64_PW}", (B64_PW,), (("secret_field", f"!!binary {B64_PW}"),)
        ),
        "s16_yaml_custom_tag": lambda t: Case(
            f"token: !Secret {CLI_PW}", (CLI_PW,), (("secret_field", f"!Secret {CLI_PW}"),)
        ),
        "s16_vault_login_legacy_token": lambda t: _one(
            f"vault login -no-print {VAULT_TOKEN}", "secret_field", VAULT_TOKEN
        ),
        "s16_net_use_password_after_user": lambda t: _one(
            f"net use Z: \\\\fs01\\share /user:CORP\\svc {CLI_PW} /persistent:no", "secret_field", CLI_PW
        ),
        "s16_net_use_password_before_user": lambda t: _one(
            f'net use * "\\\\fs01\\share" {CLI_PW} /user:svc', "secret_field", CLI_PW
        ),
        "s16_requests_auth_tuple": lambda t: _one(
            f"requests.get(url, auth=('svc', '{CLI_PW}'), timeout=5)", "secret_field", CLI_PW
        ),
        "s16_http_basic_auth_call": lambda t: _one(
            f'session.auth = HTTPBasicAuth("svc", "{CLI_PW}")', "secret_field", CLI_PW
        ),
        "s16_smtplib_login": lambda t: _one(f"server.login('alerts@example.com', '{CLI_PW}')", "secret_field", CLI_PW),
        "s16_ldap_simple_bind": lambda t: _one(
            f'conn.simple_bind_s("cn=admin,dc=example,dc=org", "{CLI_PW}")', "secret_field", CLI_PW
        ),
        # smtplib's debug output (set_debuglevel(1)) of AUTH PLAIN, and an XOAUTH2 response holding a bearer token
        "s16_smtplib_debug_auth_plain": lambda t: _one(
            f"send: 'AUTH PLAIN {SASL_PLAIN}\\r\\n'", "secret_field", SASL_PLAIN
        ),
        "s16_sasl_plain_without_separators": lambda t: _one(
            f"AUTH PLAIN {SASL_PLAIN_BARE}", "secret_field", SASL_PLAIN_BARE
        ),
        "s16_imap_xoauth2": lambda t: _one(f"C: A1 AUTHENTICATE XOAUTH2 {SASL_XOAUTH2}", "secret_field", SASL_XOAUTH2),
        "s16_aiohttp_basic_auth": lambda t: _one(f"aiohttp.BasicAuth('svc', '{CLI_PW}')", "secret_field", CLI_PW),
        "s16_k8s_secret_tls_key_base64_pem": lambda t: Case(
            f"  tls.key: {b64_pem('key')}", (b64_pem("key")[16:60],), (("private_key", b64_pem("key")),)
        ),
        "s16_kubeconfig_client_key_data_json": lambda t: Case(
            json.dumps({"user": {"client-key-data": b64_pem("pkcs8")}}),
            (b64_pem("pkcs8")[16:60],),
            (("private_key", b64_pem("pkcs8")),),
        ),
        "s16_base64_pem_wrapped_in_a_message": lambda t: Case(
            "key material:\n" + base64.encodebytes(base64.b64decode(b64_pem("key"))).decode() + "done",
            tuple(base64.encodebytes(base64.b64decode(b64_pem("key"))).decode().splitlines()[1:]),
            (("private_key", None),),
        ),
        "s16_jdbc_oracle_thin": lambda t: _one(
            f"url=jdbc:oracle:thin:scott/{CLI_PW}@db01:1521:orcl", "url_password", CLI_PW
        ),
        "s16_sqlcmd_password": lambda t: _one(
            f"sqlcmd -S db01 -U sa -P {CLI_PW} -Q 'select 1'", "secret_field", CLI_PW
        ),
        "s16_mongodump_password": lambda t: _one(f"mongodump -u root -p {CLI_PW} --out /b", "secret_field", CLI_PW),
        "s16_lftp_user_comma": lambda t: _one(f"lftp -u bob,{CLI_PW} sftp://files", "secret_field", CLI_PW),
        "s16_htpasswd_batch": lambda t: _one(f"htpasswd -b /etc/nginx/.htpasswd bob {CLI_PW}", "secret_field", CLI_PW),
        "s16_rabbitmqctl_add_user": lambda t: _one(f"rabbitmqctl add_user bob {CLI_PW}", "secret_field", CLI_PW),
        "s16_minio_mc_alias": lambda t: _one(
            f"mc alias set s3 http://minio:9000 admin {CLI_PW}", "secret_field", CLI_PW
        ),
        "s16_wpa_passphrase": lambda t: _one(f'wpa_passphrase "Home Net" {CLI_PW}', "secret_field", CLI_PW),
        "s16_keytool_single_dash_options": lambda t: Case(
            f"keytool -importkeystore -srcstorepass {CLI_PW} -deststorepass changeit -noprompt",
            (CLI_PW, "changeit"),
            (("secret_field", CLI_PW), ("secret_field", "changeit")),
        ),
        "s16_go_flag_token": lambda t: _one(f"consul acl token list -token {CLI_PW}", "secret_field", CLI_PW),
        # logins sent in the clear, as protocol transcripts show them: poplib's debug output, redis-cli, Redis's
        # MONITOR, imaplib's debug output (user and password), a command log line without a transcript's quote
        "s17_poplib_debug_pass": lambda t: _one(f"*cmd* 'PASS {CLI_PW}'", "secret_field", CLI_PW),
        "s17_ftp_transcript_pass_crlf": lambda t: _one(f"*put* 'PASS {CLI_PW}\\r\\n'", "secret_field", CLI_PW),
        "s17_redis_cli_auth_user": lambda t: _one(f"127.0.0.1:6379> AUTH default {CLI_PW}", "secret_field", CLI_PW),
        "s17_redis_monitor_auth": lambda t: _one(
            f'1733400000.123456 [0 10.0.0.7:51422] "AUTH" "default" "{CLI_PW}"', "secret_field", CLI_PW
        ),
        "s17_imaplib_debug_login": lambda t: _one(
            f"  12:00.01 > b'KLIJ1 LOGIN alerts@example.com \"{CLI_PW}\"'", "secret_field", CLI_PW
        ),
        "s17_redis_command_log_auth": lambda t: _one(f"cmd=AUTH {CLI_PW}", "secret_field", CLI_PW),
        "s17_transcript_in_a_bytes_repr": lambda t: _one(
            f"send: b'USER bob\\r\\nPASS {CLI_PW}\\r\\n'", "secret_field", CLI_PW
        ),
        # names glued to "passwd" (the commands named so stay: CLEAN), pre-shared keys
        "s17_glued_passwd_name": lambda t: _one(f"DBPASSWD={CLI_PW} dbhost=db01", "secret_field", CLI_PW),
        "s17_glued_passwd_spaced": lambda t: _one(f"rootpasswd {CLI_PW}", "secret_field", CLI_PW),
        "s17_wpa_supplicant_psk": lambda t: _one(f'network={{ ssid="Home" psk="{CLI_PW}" }}', "secret_field", CLI_PW),
        "s17_ipsec_psk_field": lambda t: _one(f"ike_psk: {CLI_PW}", "secret_field", CLI_PW),
        # passphrases of words (diceware, xkcd's) under a strong name: a phrase that is no message
        "s17_json_passphrase": lambda t: _one(
            '{"user": "bob", "password": "correct horse battery staple"}', "secret_field", PASSPHRASE
        ),
        "s17_wpa_psk_passphrase": lambda t: _one('psk="orbit velvet canyon"', "secret_field", "orbit velvet canyon"),
        "s14_session_label_in_capitals": lambda t: _one(
            f"SESSION: {LABEL_SESSION_ID} started", "secret_field", LABEL_SESSION_ID
        ),
    }
    return f


def _vendor_case_in(key: str, text: str) -> Case:
    """A vendor-shaped key written somewhere in ``text`` (maybe escaped): its marker has the key's own fingerprint."""
    tail = key.rsplit("/", 1)[-1]
    return Case(text, (key, quote(key, safe=""), *([tail] if len(tail) >= 8 else [])), (("api_key", key),))


def _url_key(url: str) -> str:
    """The part of a webhook URL that its vendor shape matches (the URL without its scheme)."""
    return url.split("://", 1)[1]


def _php_json(obj: Any) -> str:
    """JSON as PHP's json_encode writes it: every "/" escaped."""
    return json.dumps(obj).replace("/", "\\/")


def _dotnet_json(obj: Any) -> str:
    """JSON as .NET's System.Text.Json writes it with its default encoder: "+", "&", "<", ">", "'" escaped."""
    out = json.dumps(obj, separators=(",", ":"))
    for c in "+&'<>":
        out = out.replace(c, f"\\u{ord(c):04X}")
    return out


def _s13_keys() -> dict[str, str]:
    """The keys of the session 13 probe's forms, random with a fixed seed (no credential in the source)."""
    r = random.Random(1313)
    b64 = _ALNUM + "+/"

    def with_plus(n: int) -> str:  # a base64 run holding "+" and "/"
        return _key(r, b64, n - 2) + "+/"

    account_key = with_plus(86) + "=="
    shared_key = with_plus(43) + "="
    return {
        "discord": f"https://discord.com/api/webhooks/{_key(r, '0123456789', 18)}/{_key(r, _ALNUM + '-_', 68)}",
        "telegram": f"https://api.telegram.org/bot{_key(r, '0123456789', 10)}:AA{_key(r, _ALNUM + '-_', 33)}/getMe",
        "dsn": f"postgresql://app_user:{PASSWORD}@db.internal:5432/billing",
        "account_key": account_key,
        "storage": "DefaultEndpointsProtocol=https;AccountName=acmeprod;"
        f"AccountKey={account_key};EndpointSuffix=core.windows.net",
        "shared_key": shared_key,
        "servicebus": "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={shared_key}",
        "aws_secret": "Jg" + with_plus(38),
        "sas": "Qz3x" + _key(r, _ALNUM, 20) + "+" + _key(r, _ALNUM, 12),
        "entra": "DDi8Q~" + _key(r, _ALNUM + "_~.-", 34),
    }


def _std_token() -> tuple[str, str]:
    """An HS256 JWT (PyJWT, key made here) in the standard base64 alphabet, bare and with "=" padding per segment;
    its payload and signature hold "+" or "/" (asserted)."""
    claims = {"sub": "u70", "n": "\u00ff\u00fe>>>???0", "exp": 1796278534}
    token = jwt.encode(claims, b"std-alphabet-key-0123456789abcdef", algorithm="HS256")
    std = token.translate(str.maketrans("-_", "+/"))
    head, payload, sig = std.split(".")
    assert set(payload) & {"+", "/"}, payload
    padded = ".".join(seg + "=" * (-len(seg) % 4) for seg in (head, payload, sig))
    return std, padded


def _std_signature(token: str) -> str:
    """``token`` with only its signature in the standard alphabet."""
    head, payload, sig = token.split(".")
    std = sig.translate(str.maketrans("-_", "+/"))
    assert std != sig
    return f"{head}.{payload}.{std}"


def _vendor_case(key: str) -> Callable[[Tokens], Case]:
    return lambda t: _one(f"using key {key} for upload", "api_key", key)


def _signing_input(token: str) -> str:
    return token.rsplit(".", 1)[0]


_TWO_FIELDS: tuple[tuple[str, str | None], ...] = (("secret_field", OPAQUE2), ("secret_field", PASSWORD))


def _validation_error(refresh_token: str, password: str) -> Any:
    """pydantic's ValidationError for a request whose refresh token and password fail their length checks (the
    error echoes each input under its field's name)."""
    import pydantic

    class TokenRequest(pydantic.BaseModel):
        username: str = pydantic.Field(max_length=64)
        refresh_token: str = pydantic.Field(max_length=20)
        password: str = pydantic.Field(min_length=64)

    try:
        TokenRequest(username="alice", refresh_token=refresh_token, password=password)
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def _fastapi_422(refresh_token: str) -> str:
    """The body FastAPI answers a request whose query parameter failed validation with."""
    from fastapi import FastAPI, Query
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/token")
    def token(refresh_token: str = Query(max_length=20)) -> dict[str, str]:
        return {}

    response = TestClient(app).get("/token", params={"refresh_token": refresh_token})
    assert response.status_code == 422
    return response.text


def _jar(value: str) -> http.cookiejar.CookieJar:
    """A cookie jar as requests' and httpx's hold one (http.cookiejar), with one session cookie."""
    jar = http.cookiejar.CookieJar()
    jar.set_cookie(
        http.cookiejar.Cookie(
            0,
            "__Host-session",
            value,
            None,
            False,
            "127.0.0.1",
            False,
            False,
            "/",
            True,
            True,
            None,
            False,
            None,
            None,
            {"HttpOnly": ""},
        )
    )
    return jar


def _simple_cookie(**pairs: str) -> http.cookies.SimpleCookie:
    cookie = http.cookies.SimpleCookie()
    for name, value in pairs.items():
        cookie[name] = value
    return cookie


def _key(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _vendor_keys() -> dict[str, str]:
    """One key of each vendor shape (gitleaks/trufflehog token shapes), random with a fixed seed."""
    r = random.Random(13)
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    return {
        "github_ghp": "ghp_" + _key(r, _ALNUM, 36),
        "github_gho": "gho_" + _key(r, _ALNUM, 36),
        "github_ghs": "ghs_" + _key(r, _ALNUM, 36),
        "github_ghr": "ghr_" + _key(r, _ALNUM, 36),
        "github_ghu": "ghu_" + _key(r, _ALNUM, 36),
        "github_pat": "github_pat_11" + _key(r, _ALNUM, 20) + "_" + _key(r, _ALNUM, 59),
        "gitlab_glpat": "glpat-" + _key(r, _ALNUM + "-_", 20),
        "slack_xoxb": f"xoxb-{_key(r, '0123456789', 12)}-{_key(r, '0123456789', 13)}-{_key(r, _ALNUM, 24)}",
        "slack_xoxp": f"xoxp-{_key(r, '0123456789', 12)}-{_key(r, '0123456789', 13)}-{_key(r, lower, 32)}",
        "slack_webhook": f"https://hooks.slack.com/services/T{_key(r, _ALNUM[:26], 8)}/B{_key(r, _ALNUM[:26], 8)}/"
        + _key(r, _ALNUM, 24),
        "stripe_sk_live": "sk_live_" + _key(r, _ALNUM, 24),
        "stripe_rk_live": "rk_live_" + _key(r, _ALNUM, 24),
        "openai_proj": "sk-proj-" + _key(r, _ALNUM + "-_", 48),
        "openai_svcacct": "sk-svcacct-" + _key(r, _ALNUM + "-_", 48),
        "google_aiza": "AIza" + _key(r, _ALNUM + "-_", 35),
        "npm": "npm_" + _key(r, _ALNUM, 36),
        "pypi": "pypi-AgEIcHlwaS5vcmc" + _key(r, _ALNUM + "-_", 70),
        "huggingface": "hf_" + _key(r, _ALNUM[:52], 34),
        "sendgrid": f"SG.{_key(r, _ALNUM + '-_', 22)}.{_key(r, _ALNUM + '-_', 43)}",
        "aws_id": "AKIA" + _key(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "swarm": f"SWMTKN-1-{_key(r, lower, 50)}-{_key(r, lower, 25)}",
    }


VENDOR = _vendor_keys()
S13 = _s13_keys()
HEX_SIG = "a8f5f167f44f4964e6c998dee827110c"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_ID = "s8Kq2LmZ0xT4vB7nR1cW"
HEX40 = "2cf1d6bd88b630fdee26fa45ab9cfb4089c12485"
CLI_PW = "flTh2aGF49pe"
PASSPHRASE = "correct horse battery staple"
SYMBOL_PW = "Xk9(2]aP{z"  # a generated password holding a bare value's end characters
QUOTE_PW = 'ab"cd1eF'
BACKSLASH_PW = "Qz7\\cd1eW"
B64_PW = "aHVudGVyMmh1bnRlcjI="
SASL_PLAIN = base64.b64encode(b"\0alerts@example.com\0" + CLI_PW.encode()).decode()
SASL_PLAIN_BARE = base64.b64encode(b"\0bobb\0" + CLI_PW.encode()).decode()  # (18 bytes: no "=" padding)
SASL_XOAUTH2 = base64.b64encode(
    b"user=bob@example.com\x01auth=Bearer ya29.vFk9" + CLI_PW.encode() + b"\x01\x01"
).decode()
VAULT_TOKEN = "s.Qh7mB2xRk9TzW4vLp0sYc8Nd"  # Vault's legacy service token: "s." and 24 characters
LABEL_SESSION_ID = "9f3kd93jf02kD93kf0A7"
STD_TOKEN, STD_PADDED = _std_token()


@dataclass
class _Creds:
    user: str
    password: str
    api_key: str


def _traceback(token: str) -> str:
    def validate(tok: str) -> None:
        raise RuntimeError(f"signature check failed for {tok!r}")

    try:
        validate(token)
    except RuntimeError as exc:
        return "".join(traceback.format_exception(exc))
    raise AssertionError("unreachable")


FORMS = _forms()


def _render(out: Any) -> str:
    """Everything a sink could print of ``out``: its repr (str/bytes/containers/objects) and its str."""
    if isinstance(out, bytes):
        return out.decode("latin-1")
    if isinstance(out, str):
        return out
    return repr(out) + str(out)


def _scrub_any(value: Any) -> Any:
    return scrub(value) if isinstance(value, (str, bytes)) else scrub_value(value)


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-forms-test-key", fingerprint_key_id="t")


def test_at_least_35_forms() -> None:
    assert len(FORMS) >= 35


@pytest.mark.parametrize("name", sorted(FORMS))
def test_form_is_redacted(name: str) -> None:
    case = FORMS[name](tokens())
    before = copy.deepcopy(case.value) if not isinstance(case.value, BaseException) else None
    out = _scrub_any(case.value)
    text = _render(out)
    for secret in case.secrets:
        assert secret not in text, f"{name}: credential leaked in {text!r}"
        if secret.count(".") >= 2:  # no part of a token survives either
            for part in secret.split("."):
                if len(part) >= 16:
                    assert part not in text, f"{name}: token segment leaked"
    found = MARKER.findall(text)
    fp = config.current().fingerprinter
    for kind, credential in case.markers:
        assert any(k == kind for k, _ in found), f"{name}: no {kind} marker in {text!r}"
        if credential is not None:
            assert (kind, fp.token(credential)) in found, f"{name}: fingerprint of the {kind} marker differs"
    if before is not None:
        assert case.value == before, "input mutated"
        assert type(case.value) is type(before)


def test_exception_object_not_mutated() -> None:
    t = tokens()
    exc = ValueError(f"bad {t.rs256}")
    scrub_value({"error": exc})
    assert exc.args == (f"bad {t.rs256}",)


def test_jws_fingerprint_equals_validation_event_token_fp() -> None:
    """The marker of a token in a log line is the token_fp of the event that validated it."""
    t = tokens()
    events: list[ValidationEvent] = []
    jwtobs.configure(fingerprint_key="redact-forms-test-key", fingerprint_key_id="t", sinks=[events.append])
    decode = jwtobs.wrap(jwt.decode)
    with pytest.raises(jwt.InvalidTokenError):
        decode(t.hs256, b"wrong-key-wrong-key-wrong-key-wrong", algorithms=["HS256"])
    jwtobs.flush()
    assert len(events) == 1 and events[0].token_fp
    out = scrub(f"Authorization: Bearer {t.hs256}")
    assert out == f"Authorization: Bearer [REDACTED:jwt:{events[0].token_fp}]"


def test_same_token_same_marker_everywhere() -> None:
    t = tokens()
    a = scrub(f"x {t.rs256} y")
    b = scrub_value({"authorization": f"Bearer {t.rs256}"})["authorization"]
    c = scrub(f"/cb?access_token={t.rs256}")
    marker = MARKER.search(a)
    assert marker is not None
    assert marker.group(0) in b and marker.group(0) in c


def test_input_structures_copied_not_mutated() -> None:
    t = tokens()
    headers = [(b"authorization", f"Bearer {t.rs256}".encode())]
    inner = {"password": PASSWORD, "list": [t.es256], "set": {t.eddsa}}
    value = {"headers": headers, "inner": inner}
    snapshot = copy.deepcopy(value)
    out = scrub_value(value)
    assert value == snapshot
    assert out["inner"] is not inner and out["headers"] is not headers
    assert t.es256 not in repr(out) and t.eddsa not in repr(out)


# -- false positives -----------------------------------------------------------------------------------------
CLEAN = {
    "uuid": f"request {uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF)} done",
    "uuid_key_value": "request_id=3f2b8c1e-9d4a-4c7e-8b1f-2a6d5e9c0b7a trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "hex_request_ids": "x-request-id: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "base64_blob": "payload="
    + base64.b64encode(bytes(range(256))).decode()
    + " sha256="
    + base64.b64encode(b"\x01" * 32).decode(),
    "base64url_dotted_non_token": "etag=W1siYSIsMV0sWzIsM11d.ZXhhbXBsZQ.c2ln",
    "java_class_names": "at com.example.auth.TokenValidator.validate(TokenValidator.java:42)",
    "java_exception": "java.lang.IllegalStateException: eyeball.eyewear.eyelash not ready",
    "ey_words": "eyes.eyebrows.eyelids and eyeglasses.eyesight.eyewitness",
    "ey_words_long": "eyebrowsandlashes.eyewitnessaccounts.eyeopeningstories",
    "version_strings": "python 3.11.7, openssl 3.0.13, jwtobs 0.1.0, v1.2.3-rc.1+build.5",
    "file_paths": "/var/log/app/2024.01.02.log C:\\Users\\eve\\tokens\\readme.txt ./src/session/store.py",
    "email_addresses": "contact alice.smith@example.com or bob+tag@mail.example.org",
    "prose_token_password_secret": "token expired; the password field is required; keep it secret, keep it safe",
    "prose_token_comma": "invalid token, please retry. Set a cookie, then reload. basic authentication, bearer tokens",
    "prose_bearer_words": "Bearer authentication uses the Bearer scheme; Basic auth is deprecated",
    "status_code": "request failed code=500 exit code=1 status_code=404",
    "ipv4_and_ports": "listening on 127.0.0.1:8080 and 10.0.0.12:443",
    "timestamps": "2024-01-02T03:04:05.678Z 12:34:56.789",
    "urls_without_secrets": "GET https://api.example.com/v1/users?page=2&limit=50#section-3",
    "authorization_endpoint": '{"authorization_endpoint": "https://idp.test/authorize", "token_endpoint": "https://idp.test/token"}',
    "token_metadata_fields": "token_type=Bearer expires_in=3600 token_fp=c0de-3f9a0c1b7d2e max_tokens=100",
    "json_nulls": '{"password": null, "token": null, "session": false}',
    "code_comparison": "if token == expected and password != '':",
    # test-run status labels (DejaGnu, automake): "PASS" is a weak secret name only as a field, not as a label
    "dejagnu_pass_label": "PASS: gdb.base/inferior-args.exp: method=start: stop at main",
    "automake_pass_label": "PASS: tests/t-basic",
    "prose_quoted_name_then_comma": "rg -c -i 'bearer|eyJ|authorization', alternating rounds",
    # base64 runs holding the base64 of a header start but no token: a JSON object, a dotted non-token
    "base64_json_without_token": "data: " + base64.b64encode(b'{"eyJ": "not a token", "n": [1, 2, 3]}').decode(),
    "base64_dotted_non_token": base64.b64encode(b"eyJzdWIiOiJ4In0 and eyes.eyebrows.eyelids").decode(),
    "subscription_prose_and_counts": "subscription key rotated for tenant 7; subscription_key_count=3; "
    "functions key: none",
    "camel_case_hint_words": "handleUpdateRequestForTheCurrentSession ZXSpectrumEmulatorConfigurationLoaded V5SeriesX",
    # validation errors of fields that name no secret keep their input (the name decides, as for any field)
    "validation_errors_of_a_plain_field": "[{'type': 'string_too_long', 'loc': ('body', 'username'), 'msg': 'String "
    "should have at most 8 characters', 'input': 'alice-the-admin'}]",
    # a secret name and a word after blanks: a word, an option, a file's name, a weak name's id, a short value
    "spaced_names_followed_by_words": "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2; token "
    "expired; assertion failed: x; Password reset for bob; api_key rotation done; secret 2 of 3 loaded",
    "spaced_names_followed_by_options": "rsync --password-file=/etc/rsyncd.secret --timeout 30 src/ dst/; passwd -l "
    "deploy; ssh-keygen -t ed25519 -f /etc/app.token 2048",
    "spaced_weak_names": "Expiring session 0x14f05578bd8001c; auth 1000 ok; sid 44 closed",
    "http_client_auth_from_variables": "auth=HTTPBasicAuth(user, pw) and auth=(user, password)",
    "logins_without_a_literal_password": "server.login(user, password); login('%s', '%s'); login attempt for bob",
    "sasl_without_credentials": "S: 250-AUTH PLAIN LOGIN XOAUTH2; S: 250 AUTH PLAIN LOGIN; C: AUTH LOGIN Ym9i; "
    "auth plain text is disabled",
    "commands_without_a_secret": "net use Z: /delete; vault login -method=oidc; vault login -",
    # words of protocol logins (PROTOCOL_LOGIN) in test runners' output, prose, masked transcripts
    "protocol_test_pass": "--- PASS: TestLogin (0.00s)",
    "protocol_pass_alone": "PASS",
    "protocol_jest_pass": " PASS  src/app.test.js",
    "protocol_pass_path": "PASS tests/unit",
    "protocol_pass_path_in_json": '{"output": "ok 12 tests\\nPASS tests/unit\\n"}',
    "protocol_auth_word": "SMTP AUTH disabled",
    "protocol_auth_prose": "AUTH failed for bob",
    "protocol_masked_pass": "*cmd* 'PASS ****'",
    "protocol_login_words": "A1 LOGIN bob alice",
    "protocol_sasl_mechanisms": "250-AUTH PLAIN LOGIN CRAM-MD5",
    "phrases_under_secret_names": '{"password": "is too short"}, passwd: all authentication tokens updated, '
    'password="Failed to connect", {"password": "reset link sent"}, passphrase="my dog has fleas", '
    '{"token": "token has expired"}, password: "this field is required"',
    "passwd_commands_and_psk_names": "chpasswd: 3 users updated; htpasswd=/etc/nginx/.htpasswd; smbpasswd -a bob; "
    "cipher TLS_PSK_WITH_AES_128_CBC_SHA psk_identity=client1 use_psk=true",
    # bare values ending where structure starts
    "bare_values_before_structure": "f(password=None) Creds(password=None,user=bob) <b>password=</b>",
    "base64_certificate": f"    client-certificate-data: {b64_pem('cert')}",
    "more_commands_without_a_secret": "htpasswd -c .htpasswd bob; rabbitmqctl list_users; app -tokenfile /run/tok; "
    "ssh-keygen -f /etc/app.token -N; mc alias list; jdbc:oracle:thin:@db01:1521:orcl",
}


def test_a_validation_error_of_a_plain_field_keeps_its_input() -> None:
    """pydantic's str() form (the field's path on the line before the error): only a secret name redacts."""
    import pydantic

    class Order(pydantic.BaseModel):
        sku: str = pydantic.Field(max_length=8)
        api_key: str = pydantic.Field(max_length=8)

    try:
        Order(sku="SKU-12345678", api_key=OPAQUE2)
    except pydantic.ValidationError as exc:
        text = str(exc)
    out = scrub(text)
    assert "input_value='SKU-12345678'" in out and OPAQUE2 not in out
    assert out.count("[REDACTED:api_key:") == 1


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_no_false_positive(name: str) -> None:
    text = CLEAN[name]
    assert scrub(text) == text


def test_no_false_positive_bytes() -> None:
    raw = uuid.uuid4().bytes + b" com.example.Foo eyes.eyebrows.eyelids"
    assert scrub(raw) == raw


def test_own_event_json_kept() -> None:
    """jwtobs's validation event (token_fp, jti_hash, sub_hash...) passes through unchanged."""
    t = tokens()
    events: list[ValidationEvent] = []
    jwtobs.configure(fingerprint_key="redact-forms-test-key", fingerprint_key_id="t", sinks=[events.append])
    decode = jwtobs.wrap(jwt.decode)
    decode(t.hs256, HS_KEY, algorithms=["HS256"], audience="billing-api")
    with pytest.raises(jwt.InvalidTokenError):
        decode(t.rs256, HS_KEY, algorithms=["HS256"])
    jwtobs.flush()
    assert len(events) == 2
    for event in events:
        line = event.to_json()
        assert event.token_fp and event.jti_hash and event.token_fp in line and event.jti_hash in line
        assert scrub(line) == line
        d = event.to_dict()
        assert scrub_value(d) == d


@pytest.mark.parametrize("name", sorted(FORMS))
def test_idempotent(name: str) -> None:
    value = FORMS[name](tokens()).value
    once = _scrub_any(value)
    twice = _scrub_any(once)
    assert twice == once


def test_already_redacted_line_not_double_redacted() -> None:
    fp = config.current().fingerprinter.token("x")
    for kind in (
        "jwt",
        "jwe",
        "bearer",
        "basic",
        "dpop",
        "cookie",
        "query_token",
        "api_key",
        "secret_field",
        "url_password",
        "authorization",
        "digest",
    ):
        line = (
            f"Authorization: Bearer [REDACTED:{kind}:{fp}] Cookie: sid=[REDACTED:{kind}:{fp}] "
            f"password=[REDACTED:{kind}:{fp}] https://u:[REDACTED:{kind}:{fp}]@h/?code=[REDACTED:{kind}:{fp}] "
            f"[REDACTED:{kind}:{fp}]"
        )
        assert scrub(line) == line, kind


# -- fail closed -------------------------------------------------------------------------------------------
class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


def test_value_whose_repr_raises_becomes_failed_marker() -> None:
    out = scrub_value({"ok": "fine", "obj": _BadRepr(), "list": [_BadRepr()]})
    assert out == {"ok": "fine", "obj": "[REDACTION_FAILED]", "list": ["[REDACTION_FAILED]"]}


def test_detector_error_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal error while scrubbing never returns the original text."""
    from jwtobs.redact import patterns

    t = tokens()

    def boom(token: str) -> list[tuple[str, str | None]]:
        raise ValueError("detector bug")

    monkeypatch.setattr(patterns, "split_jose", boom)
    assert scrub(f"Authorization: Bearer {t.rs256}") == "[REDACTION_FAILED]"
    assert scrub(f"Bearer {t.rs256}".encode()) == b"[REDACTION_FAILED]"
    assert scrub_value({"msg": f"token {t.rs256}"}) == "[REDACTION_FAILED]"
    assert scrub("nothing to see here") == "nothing to see here"  # clean text never reaches the detector


# -- cookie headers: what stands before "=" ----------------------------------------------------------------------
@pytest.mark.parametrize("header", ["cookie", "set-cookie", "Cookie", "Set-Cookie"])
@pytest.mark.parametrize(
    "shape",
    ["{t} access_token=", "{t} a=1", "{t}=1", "a=1; {t} access_token=", "a=1; {t} x=1; b=2", "{t} x=; Path=/"],
)
def test_cookie_header_name_part_is_read_as_text(header: str, shape: str) -> None:
    """A cookie header value is not scanned as text elsewhere, so a token glued before a pair's "=" (found by the
    property test: ``{"set-cookie": "<JWT> access_token="}`` kept the JWT) is redacted where it stands."""
    t = tokens()
    value = shape.format(t=t.rs256)
    for out in (scrub_value({header: value}), scrub_value({"headers": {header: value}})):
        assert t.rs256 not in str(out)
        assert "[REDACTED:jwt:" in str(out)
        assert scrub_value(out) == out  # idempotent
    assert scrub_value({header: "sid=abc; Path=/; HttpOnly"})[header].startswith("sid=[REDACTED:cookie:")
    assert scrub_value({header: "a=; b="}) == {header: "a=; b="}


@pytest.mark.parametrize("label", ["myapi_key: ", "myapi_key=", "cache_key: [", "x_token: "])
@pytest.mark.parametrize("name", ["api_key", "password", "access_token"])
def test_a_pair_after_a_declined_field_is_read(label: str, name: str) -> None:
    """A field whose value is the quoted name of a pair ("myapi_key: ('api_key', 'x')", found by a property test)
    is declined, and the search resumes at that name, so the pair's value is redacted."""
    secret = "Zq7" + uuid.uuid4().hex[:9]
    text = f"{label}('{name}', '{secret}')"
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    if label != "x_token: ":  # (a secret-named field takes the whole pair as its value)
        assert f"('{name}', '[REDACTED:" in out
    assert scrub(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "://,?access_token=00000000?https://user:000000@host.test/path ",  # (found by a property test)
        "://?access_token=0a1b2c?https://u:p4ss@h",
        "see :// then ?token=abc123&x=https://u:pw0rd@h/x",
    ],
)
def test_userinfo_over_earlier_markers_is_idempotent(text: str) -> None:
    """A URL-userinfo match that runs from an earlier "://" over markers only is kept: a second scrub changes
    nothing (it re-marked "[REDACTED:query_token:...][REDACTED:url_password:...]" as one password)."""
    out = scrub(text)
    assert isinstance(out, str) and "[REDACTED:url_password:" in out
    assert scrub(out) == out


@pytest.mark.parametrize("value", ["000000", "hunter22x"])
@pytest.mark.parametrize("after", ["", "?{t}", " {t}"])
def test_a_quoted_name_after_cookie_is_a_field(value: str, after: str) -> None:
    """'Cookie: "password": "000000"' (found by a property test with a token after it) is a field, not a cookie
    string: the cookie detector leaves a name followed by a separator to the field detectors."""
    t = tokens()
    text = f'Cookie:  "password": "{value}"' + after.format(t=t.rs256)
    out = scrub(text)
    assert isinstance(out, str) and f'"{value}"' not in out and t.rs256 not in out, out
    assert scrub(out) == out
