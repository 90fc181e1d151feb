"""python-jose and jwcrypto adapters, one exception at a time: real tokens and keys, the real libraries.

Each case runs the bare library call and the ``jwtobs.wrap``-ped call on the same token: same return value or
same exception class and message, and the rejection is classified with the expected (reason, detail) on both
the exception (``jwtobs.reason_of``) and the recorded event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from jose import exceptions as je
from jose import jwe as jose_jwe
from jose import jws as jose_jws
from jose import jwt as jose_jwt
from jwcrypto import common, jwe, jwk, jws
from jwcrypto import jwt as cjwt

import jwtobs
from jwtobs import Reason
from jwtobs.adapters import jwcrypto as jwcrypto_adapter
from jwtobs.exceptions import detail_of
from jwtobs.header import peek

from .conftest import AUD, ISS, SUB, LibKeys, Recorded, b64, claims, mint, sign_raw, unsigned, with_header

Expected = tuple[Reason | None, str | None]


def hs256(header: dict[str, Any], payload: bytes, secret: bytes) -> str:
    """HS256 over any secret bytes, public keys included (PyJWT refuses those; attackers do not)."""
    signing_input = f"{b64(json.dumps(header))}.{b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def rawmint(keys: LibKeys, alg: str, claim_set: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """Like ``mint`` but without PyJWT's claim type checks (claims of any JSON type)."""
    hdr = {"alg": alg, "kid": keys.kid(alg), **(headers or {})}
    return sign_raw(alg, hdr, json.dumps(claim_set).encode(), keys.private(alg))


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # the library's own exception, compared by class and message
        return "exc", exc


def check(bare: Callable[[], Any], wrapped: Callable[[], Any], expected: Expected, rec: Recorded) -> Any:
    """Run both; assert the wrapper changed nothing and classified as expected. Returns the wrapped outcome."""
    rec.clear()
    b_kind, b_val = _outcome(bare)
    w_kind, w_val = _outcome(wrapped)
    assert b_kind == w_kind, (b_val, w_val)
    jwtobs.flush()
    assert len(rec.events) == 1
    event = rec.events[0]
    if b_kind == "ok":
        assert expected == (None, None), f"accepted, expected {expected}"
        assert event.outcome == "accepted"
        return w_val
    assert type(w_val) is type(b_val) and str(w_val) == str(b_val)
    got = (jwtobs.reason_of(w_val), detail_of(w_val))
    assert event.outcome == "rejected"
    assert (event.reason, event.detail) == (expected[0].value if expected[0] else None, expected[1]), (
        type(w_val).__name__,
        str(w_val)[:200],
    )
    assert got == expected
    return w_val


# ---------------------------------------------------------------------------------------------------------- jose


def jose_key(keys: LibKeys, alg: str) -> Any:
    pem = keys.public_pem(alg)
    return pem if alg.startswith("HS") else pem.decode()


def _jose_cases(keys: LibKeys) -> dict[str, tuple[Callable[[], tuple[str, Any, dict[str, Any]]], Expected]]:
    rs = jose_key(keys, "RS256")
    now = int(time.time())
    kw = {"algorithms": ["RS256"], "audience": AUD, "issuer": ISS}
    jwks = {"keys": [keys.public_jwk("RS256")]}
    deep = b"[" * 3000 + b"]" * 3000

    def c(token: str, key: Any = rs, **over: Any) -> Callable[[], tuple[str, Any, dict[str, Any]]]:
        return lambda: (token, key, {**kw, **over})

    return {
        "valid": (c(mint("RS256")), (None, None)),
        "expired": (c(rawmint(keys, "RS256", claims(exp=now - 100))), (Reason.EXPIRED, "exp")),
        "nbf_future": (c(rawmint(keys, "RS256", claims(nbf=now + 3600))), (Reason.NOT_YET_VALID, "nbf")),
        "iat_not_number": (c(rawmint(keys, "RS256", claims(iat="soon"))), (Reason.CLAIM_INVALID, "iat")),
        "iat_list_typeerror": (c(rawmint(keys, "RS256", claims(iat=[1]))), (Reason.CLAIM_INVALID, "iat")),
        "exp_null_typeerror": (c(rawmint(keys, "RS256", {**claims(), "exp": None})), (Reason.CLAIM_INVALID, "exp")),
        "wrong_aud": (c(rawmint(keys, "RS256", claims(aud="other-api"))), (Reason.AUDIENCE_MISMATCH, "aud")),
        "aud_not_string": (c(rawmint(keys, "RS256", claims(aud=7))), (Reason.CLAIM_INVALID, "aud")),
        "wrong_iss": (c(rawmint(keys, "RS256", claims(iss="https://evil.test"))), (Reason.ISSUER_MISMATCH, "iss")),
        "wrong_sub": (c(mint("RS256"), subject="someone-else"), (Reason.CLAIM_MISMATCH, "sub")),
        "sub_not_string": (c(rawmint(keys, "RS256", claims(sub=5))), (Reason.CLAIM_INVALID, "sub")),
        "jti_not_string": (c(rawmint(keys, "RS256", claims(jti=5))), (Reason.CLAIM_INVALID, "jti")),
        "required_exp_missing": (
            c(rawmint(keys, "RS256", claims(exp=None)), options={"require_exp": True}),
            (Reason.MISSING_CLAIM, "exp"),
        ),
        "at_hash_mismatch": (
            c(rawmint(keys, "RS256", claims(at_hash="abc")), access_token="t"),
            (Reason.CLAIM_MISMATCH, "at_hash"),
        ),
        "bad_signature": (c(mint("RS256", key=keys.other_private("RS256"))), (Reason.BAD_SIGNATURE, None)),
        # python-jose ignores kid and tries every key: an unknown kid is a bad signature to it (documented)
        "unknown_kid_jwks": (
            c(mint("RS256", headers={"kid": "next"}, key=keys.other_private("RS256")), jwks),
            (Reason.BAD_SIGNATURE, None),
        ),
        "alg_none_allowlist": (c(unsigned("none")), (Reason.UNSIGNED, "alg_none")),
        "alg_none_no_allowlist_jwkerror": (c(unsigned("nOnE"), algorithms=None), (Reason.UNSIGNED, "alg_none")),
        "empty_signature": (c(mint("RS256").rsplit(".", 1)[0] + "."), (Reason.UNSIGNED, "empty_signature")),
        "alg_not_allowed": (c(mint("HS256"), keys.public_pem("HS256")), (Reason.ALG_NOT_ALLOWED, "not_allowed")),
        "no_alg": (c(with_header(mint("RS256"), {"typ": "JWT"})), (Reason.ALG_NOT_ALLOWED, "missing")),
        "eddsa_unsupported_jwkerror": (
            c(mint("EdDSA"), keys.public_pem("EdDSA").decode(), algorithms=["EdDSA"]),
            (Reason.ALG_NOT_ALLOWED, "unsupported"),
        ),
        "pem_public_key_as_hmac_secret": (
            c(sign_raw("HS256", {"alg": "HS256"}, json.dumps(claims()).encode(), b"x" * 32), rs, algorithms=["HS256"]),
            (Reason.KEY_INVALID, None),
        ),
        "alg_list_typeerror": (
            c(with_header(mint("RS256"), {"alg": ["RS256"]}), algorithms=None),
            (Reason.HEADER_INVALID, "alg"),
        ),
        "one_segment": (c("abc"), (Reason.MALFORMED, "segments")),
        "header_not_base64": (c("!!!." + mint("RS256").split(".", 1)[1]), (Reason.MALFORMED, "header")),
        "header_not_json": (c(b64("nope") + "." + mint("RS256").split(".", 1)[1]), (Reason.MALFORMED, "header")),
        "payload_not_json": (
            c(sign_raw("RS256", {"alg": "RS256"}, b"foo", keys.private("RS256"))),
            (Reason.MALFORMED, "payload"),
        ),
        "payload_array": (
            c(sign_raw("RS256", {"alg": "RS256"}, b"[1]", keys.private("RS256"))),
            (Reason.MALFORMED, "payload"),
        ),
        "payload_deep_recursionerror": (
            c(sign_raw("RS256", {"alg": "RS256"}, deep, keys.private("RS256"))),
            (Reason.MALFORMED, "payload"),
        ),
        "jwe_where_jws_expected": (
            c(jose_jwe.encrypt(b"{}", os.urandom(16), algorithm="dir", encryption="A128GCM").decode()),
            (Reason.UNEXPECTED_FORM, "jwe"),
        ),
        "audience_misuse": (c(mint("RS256"), audience=123), (Reason.VALIDATOR_ERROR, "jose.exceptions.JWTError")),
    }


JOSE_CASES = sorted(_jose_cases(LibKeys.generate()))


@pytest.mark.parametrize("case", JOSE_CASES)
def test_jose_decode(case: str, lib_keys: LibKeys, recorded: Recorded) -> None:
    build, expected = _jose_cases(lib_keys)[case]
    token, key, kw = build()
    wrapped = jwtobs.wrap(jose_jwt.decode)
    out = check(lambda: jose_jwt.decode(token, key, **kw), lambda: wrapped(token, key, **kw), expected, recorded)
    if expected == (None, None):
        assert out["sub"] == SUB
        assert recorded.events[0].issuer == ISS and recorded.events[0].library == "jose"


def test_jose_wraps_jws_errors_and_lets_jwkerror_escape(lib_keys: LibKeys) -> None:
    """The facts the adapter relies on (python-jose 3.x)."""
    with pytest.raises(je.JWTError) as info:
        jose_jwt.decode(mint("RS256", key=lib_keys.other_private("RS256")), jose_key(lib_keys, "RS256"), ["RS256"])
    assert isinstance(info.value.args[0], je.JWSError)
    with pytest.raises(je.JWKError):
        jose_jwt.decode(mint("HS256"), jose_key(lib_keys, "RS256"), algorithms=["HS256"])


def test_jose_accepts_a_der_public_key_as_hmac_secret(lib_keys: LibKeys, recorded: Recorded) -> None:
    """Documented weakness: a DER public key is taken as an HMAC secret (the PEM form is refused)."""
    from cryptography.hazmat.primitives import serialization

    der = lib_keys.public("RS256").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = hs256({"alg": "HS256"}, json.dumps(claims()).encode(), der)
    wrapped = jwtobs.wrap(jose_jwt.decode)
    out = check(
        lambda: jose_jwt.decode(forged, der, algorithms=["RS256", "HS256"], audience=AUD),
        lambda: wrapped(forged, der, algorithms=["RS256", "HS256"], audience=AUD),
        (None, None),
        recorded,
    )
    assert out["iss"] == ISS  # the library alone accepts the forgery; the wrapper does not change that


def test_jose_jws_verify_entry_point(lib_keys: LibKeys, recorded: Recorded) -> None:
    pem = jose_key(lib_keys, "ES256")
    verify = jwtobs.wrap(jose_jws.verify)
    good = mint("ES256")
    assert check(
        lambda: jose_jws.verify(good, pem, ["ES256"]), lambda: verify(good, pem, ["ES256"]), (None, None), recorded
    )
    assert recorded.events[0].issuer == ISS  # claims read from the verified token
    bad = mint("ES256", key=lib_keys.other_private("ES256"))
    check(
        lambda: jose_jws.verify(bad, pem, ["ES256"]),
        lambda: verify(bad, pem, ["ES256"]),
        (Reason.BAD_SIGNATURE, None),
        recorded,
    )
    none = unsigned("None")
    check(
        lambda: jose_jws.verify(none, pem, ["ES256"]),
        lambda: verify(none, pem, ["ES256"]),
        (Reason.UNSIGNED, "alg_none"),
        recorded,
    )


def _raw_deflate_jwe(secret: bytes) -> str:
    """A standard RFC 7516 ``zip: DEF`` JWE (raw DEFLATE), produced by jwcrypto."""
    key = jwk.JWK(kty="oct", k=b64(secret))
    token = jwe.JWE(json.dumps(claims()).encode(), json.dumps({"alg": "dir", "enc": "A256GCM", "zip": "DEF"}))
    token.add_recipient(key)
    return str(token.serialize(compact=True))


@pytest.mark.parametrize(
    "case",
    ["valid", "wrong_key", "tampered_tag", "raw_deflate_zlib_error", "jws_given", "unsupported_enc", "missing_enc"],
)
def test_jose_jwe_decrypt(case: str, recorded: Recorded) -> None:
    secret = os.urandom(32)
    good = jose_jwe.encrypt(b'{"a": 1}', secret, algorithm="dir", encryption="A256GCM").decode()
    rest = good.split(".", 1)[1]
    token, key, expected = {
        "valid": (good, secret, (None, None)),
        "wrong_key": (good, os.urandom(32), (Reason.DECRYPTION_FAILED, None)),
        "tampered_tag": (
            good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB"),
            secret,
            (Reason.DECRYPTION_FAILED, None),
        ),
        "raw_deflate_zlib_error": (_raw_deflate_jwe(secret), secret, (Reason.DECRYPTION_FAILED, "zip")),
        "jws_given": (mint("HS256"), secret, (Reason.UNEXPECTED_FORM, "jws")),
        "unsupported_enc": (
            b64(json.dumps({"alg": "dir", "enc": "X1"})) + "." + rest,
            secret,
            (Reason.ALG_NOT_ALLOWED, "unsupported"),
        ),
        "missing_enc": (b64(json.dumps({"alg": "dir"})) + "." + rest, secret, (Reason.ALG_NOT_ALLOWED, "missing")),
    }[case]
    decrypt = jwtobs.wrap(jose_jwe.decrypt)
    out = check(lambda: jose_jwe.decrypt(token, key), lambda: decrypt(token, key), expected, recorded)
    if case == "raw_deflate_zlib_error":
        import zlib

        assert isinstance(out, zlib.error)  # python-jose inflates with the zlib wrapper, not raw DEFLATE
    if case == "valid":
        assert out == b'{"a": 1}'


# ---------------------------------------------------------------------------------------------------- jwcrypto


def cjwk(keys: LibKeys, alg: str) -> jwk.JWK:
    return jwk.JWK(**keys.public_jwk(alg))


def keyset(*keys: jwk.JWK) -> jwk.JWKSet:
    ks = jwk.JWKSet()
    for k in keys:
        ks.add(k)
    return ks


def _cj_cases(keys: LibKeys) -> dict[str, tuple[Callable[[], dict[str, Any]], Expected]]:
    pub = cjwk(keys, "RS256")
    other = keys.other_private("RS256")
    now = int(time.time())
    cc = {"iss": ISS, "aud": AUD, "exp": None}

    def c(token: str, key: Any = pub, check_claims: Any = cc, **more: Any) -> Callable[[], dict[str, Any]]:
        return lambda: {"jwt": token, "key": key, "check_claims": check_claims, **more}

    oct_key = jwk.JWK.generate(kty="oct", size=256)
    enc = jwe.JWE(json.dumps(claims()).encode(), json.dumps({"alg": "A256KW", "enc": "A256GCM"}))
    enc.add_recipient(oct_key)
    jwe_token = str(enc.serialize(compact=True))
    jws_json = jws.JWS(json.dumps(claims()).encode())
    jws_json.add_signature(jwk.JWK(**keys.private_jwk("RS256")), alg="RS256", protected={"alg": "RS256"})
    return {
        "valid": (c(mint("RS256")), (None, None)),
        "valid_keyset": (c(mint("RS256"), keyset(pub)), (None, None)),
        "expired": (c(rawmint(keys, "RS256", claims(exp=now - 600))), (Reason.EXPIRED, "exp")),
        # check_claims given without "exp": jwcrypto skips its default exp check, an expired token passes
        "expired_unchecked_when_check_claims_omits_exp": (
            c(rawmint(keys, "RS256", claims(exp=now - 3600)), check_claims={"iss": ISS}),
            (None, None),
        ),
        "expired_within_default_leeway_accepted": (c(rawmint(keys, "RS256", claims(exp=now - 20))), (None, None)),
        "nbf_future": (
            c(rawmint(keys, "RS256", claims(nbf=now + 3600)), check_claims={**cc, "nbf": None}),
            (Reason.NOT_YET_VALID, "nbf"),
        ),
        "nbf_future_default_checks": (
            c(rawmint(keys, "RS256", claims(nbf=now + 3600)), check_claims=None),
            (Reason.NOT_YET_VALID, "nbf"),
        ),
        # check_claims given without "nbf": jwcrypto skips its default nbf check (documented)
        "nbf_future_unchecked_accepted": (c(rawmint(keys, "RS256", claims(nbf=now + 3600))), (None, None)),
        "missing_iss": (c(rawmint(keys, "RS256", claims(iss=None))), (Reason.MISSING_CLAIM, "iss")),
        "missing_custom": (c(mint("RS256"), check_claims={**cc, "tenant": None}), (Reason.MISSING_CLAIM, "other")),
        "wrong_iss": (c(rawmint(keys, "RS256", claims(iss="https://evil.test"))), (Reason.ISSUER_MISMATCH, "iss")),
        "wrong_aud": (c(rawmint(keys, "RS256", claims(aud="other-api"))), (Reason.AUDIENCE_MISMATCH, "aud")),
        "wrong_sub": (c(mint("RS256"), check_claims={**cc, "sub": "x"}), (Reason.CLAIM_MISMATCH, "sub")),
        "wrong_typ": (
            c(rawmint(keys, "RS256", claims(typ="id+jwt")), check_claims={"typ": "at+jwt"}),
            (Reason.TYPE_MISMATCH, "typ"),
        ),
        "missing_scope": (
            c(rawmint(keys, "RS256", claims(scope="read")), check_claims={"scope": "write"}),
            (Reason.CLAIM_MISMATCH, "scope"),
        ),
        "exp_not_integer": (c(rawmint(keys, "RS256", claims(exp="later"))), (Reason.CLAIM_INVALID, "exp")),
        "exp_list_typeerror": (c(rawmint(keys, "RS256", claims(exp=[1]))), (Reason.CLAIM_INVALID, "exp")),
        "iss_not_string": (c(rawmint(keys, "RS256", claims(iss=42))), (Reason.CLAIM_INVALID, "iss")),
        "payload_not_json": (
            c(sign_raw("RS256", {"alg": "RS256", "kid": keys.kid("RS256")}, b"foo", keys.private("RS256"))),
            (Reason.MALFORMED, "payload"),
        ),
        "bad_signature": (c(mint("RS256", key=other)), (Reason.BAD_SIGNATURE, None)),
        "keyset_unknown_kid": (
            c(mint("RS256", headers={"kid": "next"}, key=other), keyset(pub)),
            (Reason.UNKNOWN_KID, None),
        ),
        "keyset_known_kid_wrong_key": (c(mint("RS256", key=other), keyset(pub)), (Reason.BAD_SIGNATURE, None)),
        "keyset_no_kid_wrong_key": (
            c(mint("RS256", headers={"kid": None}, key=other), keyset(pub)),
            (Reason.BAD_SIGNATURE, None),
        ),
        "keyset_alg_not_allowed": (
            c(mint("RS256"), keyset(pub), algs=["ES256"]),
            (Reason.ALG_NOT_ALLOWED, "not_allowed"),
        ),
        "alg_not_allowed": (c(mint("RS256"), algs=["PS256"]), (Reason.ALG_NOT_ALLOWED, "not_allowed")),
        "alg_none": (c(unsigned("none")), (Reason.UNSIGNED, "alg_none")),
        "alg_NONE_keyset": (c(unsigned("NONE"), keyset(pub)), (Reason.UNSIGNED, "alg_none")),
        "no_alg": (c(with_header(mint("RS256"), {"kid": keys.kid("RS256")})), (Reason.ALG_NOT_ALLOWED, "missing")),
        "unknown_crit": (
            c(mint("RS256", headers={"crit": ["exp-x"], "exp-x": 1})),
            (Reason.CRIT_UNSUPPORTED, "crit"),
        ),
        "crit_names_absent_header": (c(mint("RS256", headers={"crit": ["b64"]})), (Reason.CRIT_UNSUPPORTED, "crit")),
        "rs256_to_hs256_confusion": (
            c(hs256({"alg": "HS256"}, json.dumps(claims()).encode(), keys.public_pem("RS256"))),
            (Reason.BAD_SIGNATURE, None),
        ),
        "jwe_where_jws_expected": (c(jwe_token), (Reason.UNEXPECTED_FORM, "jwe")),
        "jwe_wrong_key": (
            c(jwe_token, jwk.JWK.generate(kty="oct", size=256), expected_type="JWE"),
            (Reason.DECRYPTION_FAILED, None),
        ),
        "jwe_valid": (c(jwe_token, oct_key, expected_type="JWE"), (None, None)),
        "two_segments": (c("abc.def"), (Reason.MALFORMED, "segments")),
        "garbage_three_segments": (c("a.b.c"), (Reason.MALFORMED, "header")),
        "json_serialization_strict": (
            c(jws_json.serialize(), strict_serialization=True),
            (Reason.UNEXPECTED_FORM, "json"),
        ),
    }


CJ_CASES = sorted(_cj_cases(LibKeys.generate()))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case", CJ_CASES)
def test_jwcrypto_jwt_class(case: str, lib_keys: LibKeys, recorded: Recorded) -> None:
    build, expected = _cj_cases(lib_keys)[case]
    kw = build()
    JWT = jwtobs.wrap(cjwt.JWT, library="jwcrypto")
    out = check(lambda: cjwt.JWT(**kw), lambda: JWT(**kw), expected, recorded)
    if expected == (None, None):
        assert isinstance(out, cjwt.JWT)
        assert recorded.events[0].library == "jwcrypto"
        if case != "jwe_valid":
            assert json.loads(out.claims)["sub"] == SUB and recorded.events[0].issuer == ISS


def test_jwcrypto_class_library_is_inferred(lib_keys: LibKeys, recorded: Recorded) -> None:
    JWT = jwtobs.wrap(cjwt.JWT)
    token = mint("ES256")
    out = JWT(jwt=token, key=cjwk(lib_keys, "ES256"))
    assert json.loads(out.claims)["iss"] == ISS
    assert jwcrypto_adapter.claims_from_result(out) == json.loads(out.claims)
    jwtobs.flush()
    assert recorded.events[0].library == "jwcrypto" and recorded.events[0].issuer == ISS


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_jwcrypto_deserialize_and_jws_entry_points(lib_keys: LibKeys, recorded: Recorded) -> None:
    pub = cjwk(lib_keys, "PS256")
    good, bad = mint("PS256"), mint("PS256", key=lib_keys.other_private("PS256"))
    t = cjwt.JWT()
    deserialize = jwtobs.wrap(t.deserialize)
    check(lambda: cjwt.JWT().deserialize(good, pub), lambda: deserialize(good, pub), (None, None), recorded)
    check(
        lambda: cjwt.JWT().deserialize(bad, pub), lambda: deserialize(bad, pub), (Reason.BAD_SIGNATURE, None), recorded
    )
    obj = jws.JWS()
    verify_jws = jwtobs.wrap(obj.deserialize)
    check(lambda: jws.JWS().deserialize(bad, pub), lambda: verify_jws(bad, pub), (Reason.BAD_SIGNATURE, None), recorded)
    other = jws.JWS()
    other.allowed_algs = ["ES256"]
    restricted = jwtobs.wrap(other.deserialize)

    def bare() -> None:
        o = jws.JWS()
        o.allowed_algs = ["ES256"]
        o.deserialize(good, pub)

    check(bare, lambda: restricted(good, pub), (Reason.ALG_NOT_ALLOWED, "not_allowed"), recorded)


def test_jwcrypto_hides_causes_in_one_class(lib_keys: LibKeys) -> None:
    """The facts the adapter works around (jwcrypto 1.6): several causes, one exception class."""
    pub = cjwk(lib_keys, "RS256")
    causes = {
        "not_allowed": (mint("RS256"), {"algs": ["ES256"]}),
        "no_alg": (with_header(mint("RS256"), {"kid": "rsa-1"}), {}),
        "crit": (mint("RS256", headers={"crit": ["zz"], "zz": 1}), {}),
        "bad_sig": (mint("RS256", key=lib_keys.other_private("RS256")), {}),
    }
    for token, kw in causes.values():
        with pytest.raises(jws.InvalidJWSSignature):
            cjwt.JWT(jwt=token, key=pub, **kw)
    ks = keyset(pub)
    for token in (mint("RS256", headers={"kid": "zz"}), mint("RS256", key=lib_keys.other_private("RS256"))):
        with pytest.raises(cjwt.JWTMissingKey):
            cjwt.JWT(jwt=token, key=ks)


def test_jwcrypto_structured_context_beats_the_message(lib_keys: LibKeys) -> None:
    """The JWS's own allowlist decides, even though the message only says 'Verification failed'."""
    token = mint("RS256")
    try:
        cjwt.JWT(jwt=token, key=cjwk(lib_keys, "RS256"), algs=["RS384"])
    except jws.InvalidJWSSignature as exc:
        assert jwcrypto_adapter.classify(exc, peek(token)) == (Reason.ALG_NOT_ALLOWED, "not_allowed")
        ctx = jwcrypto_adapter._context(exc)
        assert ctx.allowed_algs() == ["RS384"] and isinstance(ctx.jwt, cjwt.JWT)
    else:  # pragma: no cover
        pytest.fail("jwcrypto accepted an alg outside algs")


def test_jwcrypto_message_is_the_last_resort() -> None:
    """Without the objects (an exception re-raised elsewhere, no traceback), the verify log's text decides."""
    token = mint("RS256")
    log = "Verification failed for all signatures[\"Failed: [InvalidJWSOperation('Algorithm not allowed')]\"]"
    assert jwcrypto_adapter.classify(jws.InvalidJWSSignature(log), peek(token)) == (
        Reason.ALG_NOT_ALLOWED,
        "not_allowed",
    )
    plain = jws.InvalidJWSSignature("Verification failed for all signatures[]")
    assert jwcrypto_adapter.classify(plain, peek(token)) == (Reason.BAD_SIGNATURE, None)
    missing = common.JWKeyNotFound("Key ID zz not in key set")
    assert jwcrypto_adapter.classify(missing, peek(token)) == (Reason.UNKNOWN_KID, None)


@pytest.mark.parametrize("library", ["jose", "jwcrypto"])
def test_plain_errors_from_the_callers_code_are_not_the_library_s(
    library: str, lib_keys: LibKeys, recorded: Recorded
) -> None:
    """A TypeError raised by the caller's function (not inside the library) is JWT_VALIDATOR_ERROR, even when the
    token has a claim of the wrong type that the library would have failed on the same way."""
    token = rawmint(lib_keys, "RS256", claims(iat=[1]))

    def my_validator(tok: str) -> Any:
        raise TypeError("int() argument must be a string, a bytes-like object or a real number, not 'list'")

    wrapped = jwtobs.wrap(my_validator, library=library)
    with pytest.raises(TypeError) as info:
        wrapped(token)
    assert jwtobs.reason_of(info.value) is Reason.VALIDATOR_ERROR
    # the same failure inside the library is the token's fault
    if library == "jose":
        inside = jwtobs.wrap(jose_jwt.decode)
        with pytest.raises(TypeError) as info:
            inside(token, jose_key(lib_keys, "RS256"), algorithms=["RS256"], audience=AUD)
    else:
        JWT = jwtobs.wrap(cjwt.JWT)
        # (jwcrypto >= 1.6.2 checks the claim's type itself: JWTInvalidClaimFormat; before, int() raised TypeError)
        with pytest.raises((TypeError, cjwt.JWTInvalidClaimFormat)) as info:
            JWT(jwt=rawmint(lib_keys, "RS256", claims(exp=[1])), key=cjwk(lib_keys, "RS256"))
    assert jwtobs.reason_of(info.value) is Reason.CLAIM_INVALID


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_jwcrypto_backend_shares_the_adapter_s_crit_decision(lib_keys: LibKeys) -> None:
    """jwtobs.backends.jwcrypto uses classify_verify_failure: unknown crit -> CRIT_UNSUPPORTED, else BAD_SIGNATURE."""
    from jwtobs.backends import jwcrypto as backend
    from jwtobs.jwks import Key

    key = Key("rsa-1", "RSA", "RS256", lib_keys.public("RS256"))
    backend.verify_signature(mint("RS256"), key, "RS256")  # a good signature passes
    cases = {
        mint("RS256", headers={"crit": ["x-unknown"], "x-unknown": 1}): Reason.CRIT_UNSUPPORTED,
        mint("RS256", headers={"crit": ["b64"]}): Reason.CRIT_UNSUPPORTED,  # listed but absent
        mint("RS256", key=lib_keys.other_private("RS256")): Reason.BAD_SIGNATURE,
    }
    for token, expected in cases.items():
        with pytest.raises(jwtobs.TokenRejected) as info:
            backend.verify_signature(token, key, "RS256")
        assert info.value.reason is expected


# ------------------------------------------------------------------------------------ any input (property)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SECRET = b"p" * 32
_edge_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**400, -(2**63), 2**64, 1e308, -0.0])
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _edge_numbers | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_claim_sets = st.dictionaries(
    st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "jti", "typ", "at_hash", "scope"]),
    _json_values,
    max_size=7,
)
_headers = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jku", "cty"]), _json_values, max_size=3
)


def _signed(header: dict[str, Any], claim_set: Any) -> str:
    """HS256-signed with the validator's secret, so the library gets past the signature to the claims."""
    return hs256({"alg": "HS256", **header}, json.dumps(claim_set).encode(), _SECRET)


_any_token = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda h, p, s: f"{b64(json.dumps(h))}.{b64(json.dumps(p))}.{s}",
        _json_values,
        _json_values,
        st.text(max_size=30),
    ),
    st.builds(_signed, st.just({}), _claim_sets),
    st.builds(_signed, _headers, _claim_sets),
    st.builds(_signed, st.just({}), _json_values),
    # a valid claim set with one or two claims replaced: the checks after iss/aud are reached too
    st.builds(lambda over: _signed({}, {**claims(), **over}), _claim_sets.filter(lambda d: len(d) <= 2)),
)


def _jose_validate(token: str) -> Any:
    return jose_jwt.decode(token, _SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS)


def _jwcrypto_validate(token: str) -> Any:
    key = jwk.JWK(kty="oct", k=b64(_SECRET))
    return cjwt.JWT(jwt=token, key=key, algs=["HS256"], check_claims={"iss": ISS, "aud": AUD, "exp": None})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("library", ["jose", "jwcrypto"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=_any_token)
def test_any_token_is_classified_never_a_validator_error(library: str, token: str) -> None:
    """Whatever the token (garbage, odd JSON types in a correctly signed header or claims), the wrapper keeps the
    outcome and every rejection gets a reason other than JWT_VALIDATOR_ERROR."""
    bare = _jose_validate if library == "jose" else _jwcrypto_validate
    wrapped = jwtobs.wrap(bare, library=library)
    b_kind, b_val = _outcome(lambda: bare(token))
    w_kind, w_val = _outcome(lambda: wrapped(token))
    assert b_kind == w_kind
    if w_kind == "exc":
        assert type(w_val) is type(b_val) and str(w_val) == str(b_val)
        reason = jwtobs.reason_of(w_val)
        assert reason is not None and reason is not Reason.VALIDATOR_ERROR, (type(w_val), str(w_val)[:160], token[:200])
