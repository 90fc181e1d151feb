"""Session 43: a ``PyJWKClient`` that picks the key for another library inside a wrapped function. "Unable to find a
signing key" (a kid the key set does not hold) is ``JWT_UNKNOWN_KID`` under every library's adapter, as under
PyJWT's and as docs/core.md says; before, python-jose, Authlib, joserfc and jwcrypto wrappers recorded
``JWT_VALIDATOR_ERROR`` (reported by blind fleet64's author). Real keys, a real key set on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from tests.core.conftest import loopback


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with loopback(Keys) as url:
        yield url + "/jwks"


def _token(key: rsa.RSAPrivateKey, kid: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "a", "iat": now, "exp": now + 60}, key, algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize("library", ["jose", "authlib", "joserfc", "jwcrypto", "pyjwt"])
def test_an_unknown_kid_from_a_pyjwk_client_is_unknown_kid_under_every_adapter(
    library: str, key: rsa.RSAPrivateKey, jwks_url: str
) -> None:
    client = jwt.PyJWKClient(jwks_url)
    seen: list[str] = []

    def validate(token: str) -> Any:
        signing = client.get_signing_key_from_jwt(token)  # the app picks the key; its library would verify
        seen.append(signing.key_id)
        return {"sub": "a"}

    wrapped = jwtobs.wrap(validate, library=library)
    assert wrapped(_token(key, "k1")) == {"sub": "a"} and seen == ["k1"]  # the key set is served
    with pytest.raises(jwt.PyJWKClientError) as info:
        wrapped(_token(key, "k9"))
    assert type(info.value) is jwt.PyJWKClientError  # the exception goes on unchanged
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.UNKNOWN_KID
    with pytest.raises(jwtobs.TokenRejected) as rejected:
        jwtobs.wrap(validate, library=library, raise_as="jwtobs")(_token(key, "k9"))
    assert rejected.value.reason is jwtobs.Reason.UNKNOWN_KID


def test_other_pyjwk_errors_keep_their_key_source_reason_under_another_adapter() -> None:
    def validate(token: str) -> Any:
        raise jwt.PyJWKClientError("The JWKS endpoint did not contain any signing keys")

    with pytest.raises(jwt.PyJWKClientError) as info:
        jwtobs.wrap(validate, library="authlib")("a.b.c")
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.JWKS_UNAVAILABLE
    assert jwtobs.detail_of(info.value) == "no_keys"
