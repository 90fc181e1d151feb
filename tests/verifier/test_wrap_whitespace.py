"""Session 20: ``jwtobs.wrap`` classifies whitespace around a token as the contract and the Verifier do,
JWT_MALFORMED ``whitespace``, on all five libraries, and leaves the library's verdict alone (same return value,
same exception class and message as the bare call).

Before: JWT_MALFORMED ``header`` (leading), ``signature`` or ``segments`` (trailing), by library, and
JWT_BAD_SIGNATURE for joserfc with a trailing newline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import Reason, TokenRejected

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:authlib.jose module is deprecated")

ISS: Final = "https://idp.example/w"
AUD: Final = "orders-api"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUB = KEY.public_key()
PEM = PUB.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _validators() -> dict[str, Callable[[Any], Any]]:
    from authlib.jose import JsonWebToken
    from jose import jwt as jose_jwt
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import RSAKey
    from jwcrypto import jwk
    from jwcrypto import jwt as jwcrypto_jwt

    return {
        "pyjwt": lambda t: jwt.decode(t, PUB, algorithms=["RS256"], audience=AUD, issuer=ISS),
        "joserfc": lambda t: joserfc_jwt.decode(t, RSAKey.import_key(PEM), algorithms=["RS256"]).claims,
        "jose": lambda t: jose_jwt.decode(t, PEM.decode(), algorithms=["RS256"], audience=AUD, issuer=ISS),
        "jwcrypto": lambda t: jwcrypto_jwt.JWT(jwt=t, key=jwk.JWK.from_pem(PEM), algs=["RS256"]).claims,
        "authlib": lambda t: dict(JsonWebToken(["RS256"]).decode(t, PEM)),
    }


def _token(**over: Any) -> str:
    now = int(time.time())
    # (a day: GOOD is signed when the module is collected, and a full test run takes more than 10 min)
    claims = {"iss": ISS, "aud": AUD, "sub": "u", "exp": now + 86400, "iat": now} | over
    return jwt.encode(claims, KEY, "RS256", headers={"kid": "k", "typ": "at+jwt"})


GOOD: Final = _token()
SPACED: Final[dict[str, Callable[[str], str]]] = {
    "leading_space": lambda t: " " + t,
    "trailing_newline": lambda t: t + "\n",
    "both_sides": lambda t: "  " + t + "  ",
    "trailing_crlf": lambda t: t + "\r\n",
    "leading_tab": lambda t: "\t" + t,
    "leading_nbsp": lambda t: "\u00a0" + t,
    "trailing_nbsp": lambda t: t + "\u00a0",
    "leading_vertical_tab": lambda t: "\x0b" + t,
}
LIBRARIES: Final = ("pyjwt", "joserfc", "jose", "jwcrypto", "authlib")


def _outcome(fn: Callable[[Any], Any], token: object) -> tuple[str, Any]:
    try:
        return "returned", fn(token)
    except Exception as exc:
        return "raised", (type(exc), str(exc))


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("case", sorted(SPACED))
def test_wrap_classifies_whitespace_as_the_verifier_does(lib: str, case: str) -> None:
    bare = _validators()[lib]
    token = SPACED[case](GOOD)
    wrapped = jwtobs.wrap(bare, library=lib)
    assert _outcome(wrapped, token) == _outcome(bare, token)  # wrap never changes the verdict
    with pytest.raises(Exception) as caught:
        wrapped(token)
    assert (jwtobs.reason_of(caught.value), jwtobs.detail_of(caught.value)) == (Reason.MALFORMED, "whitespace")
    verifier = jwtobs.Verifier(jwtobs.Profile(name="w", issuer=ISS, audience=AUD), keys={"k": PUB}, backend=lib)
    with pytest.raises(TokenRejected) as by_verifier:
        verifier.verify(token)
    assert (by_verifier.value.reason, by_verifier.value.detail) == (Reason.MALFORMED, "whitespace")


@pytest.mark.parametrize("lib", LIBRARIES)
def test_wrap_other_reasons_of_a_spaced_token_and_unspaced_tokens_unchanged(lib: str) -> None:
    """Only what whitespace breaks is relabelled: a clean malformed token keeps its segment, a clean token is
    accepted, and a wrapped function's own exception for a spaced token keeps its reason."""
    bare = _validators()[lib]
    wrapped = jwtobs.wrap(bare, library=lib)
    assert _outcome(wrapped, GOOD) == _outcome(bare, GOOD)
    assert _outcome(wrapped, GOOD)[0] == "returned"
    h, p, s = GOOD.split(".")
    with pytest.raises(Exception) as caught:
        wrapped(f"{h}.{p}.{s}!")
    assert jwtobs.detail_of(caught.value) != "whitespace"

    def raises_jwtobs(token: str) -> None:
        raise TokenRejected(Reason.EXPIRED, "exp")

    with pytest.raises(TokenRejected) as own:
        jwtobs.wrap(raises_jwtobs, library=lib)(" " + GOOD)
    assert (jwtobs.reason_of(own.value), jwtobs.detail_of(own.value)) == (Reason.EXPIRED, "exp")
