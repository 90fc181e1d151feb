"""Rejections the fail-closed probe of session 13 found classified JWT_VALIDATOR_ERROR although the token shows
the cause: each library, bare and wrapped, the same exception, and the reason the token deserves."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import pytest

import jwtobs
from jwtobs import Reason

from .conftest import AUD, ISS, Recorded, b64, claims

SECRET = b"s" * 32


def _pyjwt(token: Any) -> Any:
    return pyjwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS)


def _joserfc(token: Any) -> Any:
    from joserfc import jwt as jjwt
    from joserfc.jwk import OctKey

    return jjwt.decode(token, OctKey.import_key(SECRET), algorithms=["HS256"]).claims


def _jose(token: Any) -> Any:
    from jose import jwt as jose_jwt

    return jose_jwt.decode(token, SECRET.decode(), algorithms=["HS256"], audience=AUD, issuer=ISS)


def _authlib(token: Any) -> Any:
    from authlib.jose import JsonWebToken

    c = JsonWebToken(["HS256"]).decode(token, SECRET)
    c.validate()
    return dict(c)


VALIDATORS: dict[str, Callable[[Any], Any]] = {"pyjwt": _pyjwt, "joserfc": _joserfc, "jose": _jose, "authlib": _authlib}


def _rejection(lib: str, validate: Callable[[Any], Any], token: Any) -> tuple[Reason | None, str | None]:
    with pytest.raises(Exception) as bare:
        validate(token)
    with pytest.raises(Exception) as wrapped:
        jwtobs.wrap(validate, library=lib)(token)
    assert type(wrapped.value) is type(bare.value) and str(wrapped.value) == str(bare.value)
    return jwtobs.reason_of(wrapped.value), jwtobs.exceptions.detail_of(wrapped.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("lib", sorted(VALIDATORS))
@pytest.mark.parametrize("where", [10, -5])
def test_a_lone_surrogate_in_the_token_is_malformed(lib: str, where: int, recorded: Recorded) -> None:
    good = pyjwt.encode(claims(), SECRET, algorithm="HS256")
    token = good[:where] + "\ud800" + good[where:]
    reason, detail = _rejection(lib, VALIDATORS[lib], token)
    assert (reason, detail) == (Reason.MALFORMED, "header" if where == 10 else "signature")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_joserfc_signed_payload_nested_too_deep_is_malformed(recorded: Recorded) -> None:
    """Arrays nested 20,000 deep: past json's recursion limit on every interpreter (Python 3.13's C decoder parses
    5,000 levels, 3.11's stops at 1,000), so joserfc raises and the wrapper classifies it."""
    deep = json.dumps(claims())[:-1] + ', "x": ' + "[" * 20000 + "]" * 20000 + "}"
    algo: Any = pyjwt.get_algorithm_by_name("HS256")
    signing_input = f"{b64(json.dumps({'alg': 'HS256'}))}.{b64(deep)}".encode()
    token = f"{signing_input.decode()}.{b64(algo.sign(signing_input, SECRET))}"
    assert _rejection("joserfc", _joserfc, token) == (Reason.MALFORMED, "payload")


def test_pyjwt_hs256_against_an_asymmetric_key_object_is_key_invalid(recorded: Recorded) -> None:
    """An app allowing RS256, ES256 and HS256 with a key object: an HS256 token (signed with the public key's
    PEM, the classic confusion) makes PyJWT raise TypeError in prepare_key; the same as InvalidKeyError gives
    for the PEM bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    for private in (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    ):
        public = private.public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        algo: Any = pyjwt.get_algorithm_by_name("HS256")
        signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{b64(json.dumps(claims()))}".encode()
        forged = f"{signing_input.decode()}.{b64(algo.sign(signing_input, pem))}"

        def lax(token: Any, key: Any = public) -> Any:
            return pyjwt.decode(token, key, algorithms=["RS256", "ES256", "HS256"], audience=AUD, issuer=ISS)

        assert _rejection("pyjwt", lax, forged) == (Reason.KEY_INVALID, None)

    def own_type_error(token: Any) -> Any:  # the caller's own TypeError stays a validator error
        raise TypeError("Expected a string or bytes value")

    assert _rejection("pyjwt", own_type_error, "a.b.c")[0] is Reason.VALIDATOR_ERROR
