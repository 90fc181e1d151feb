"""Session 35's probe of the integrations: a key set endpoint answering HTML, an oversized bearer token, and a
validator refusing by returning ``None``. Real RS256 tokens signed with a key generated here, real PyJWT and
``PyJWKClient`` against an HTTP server on 127.0.0.1, FastAPI's and Flask's own test clients."""

import time
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import jwtobs
from jwtobs.header import MAX_TOKEN_BYTES
from jwtobs.integrations import BearerAuth, Principal
from jwtobs.integrations.fastapi import jwt_auth
from tests.core.test_probe_s35 import html_jwks  # noqa: F401 (a fixture: a key set URL answering 200 with HTML)
from tests.integrations.harness import AUD, ISS, Stack

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(**over: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "user-123", "iat": now, "exp": now + 300, **over}
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def _app(validate: Any) -> TestClient:
    app = FastAPI()
    dep = jwt_auth(BearerAuth(jwtobs.wrap(validate, library="pyjwt", raise_as="jwtobs"), realm="api", redact=False))

    @app.get("/me")
    async def me(p: Annotated[Principal, Depends(dep)]) -> dict[str, Any]:
        return {"sub": p.subject}

    return TestClient(app)


def _decode(token: str) -> dict[str, Any]:
    return jwt.decode(token, KEY.public_key(), algorithms=["RS256"], audience=AUD, issuer=ISS)


def test_a_key_set_answered_with_html_is_503_with_retry_after(
    stack: Stack,
    html_jwks: str,  # noqa: F811
) -> None:
    client = jwt.PyJWKClient(html_jwks, timeout=5)

    def validate(token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=AUD, issuer=ISS)

    r = _app(validate).get("/me", headers={"Authorization": f"Bearer {_token()}"})
    assert (r.status_code, r.headers.get("retry-after")) == (503, "5")
    jwtobs.flush()
    assert [(e.reason, e.detail) for e in stack.events] == [("JWT_JWKS_UNAVAILABLE", "invalid_json")]


def test_one_oversized_bearer_token_is_jwt_oversized(stack: Stack) -> None:
    big = _token(pad="x" * (MAX_TOKEN_BYTES + 1000))
    r = _app(_decode).get("/me", headers={"Authorization": f"Bearer {big}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    jwtobs.flush()
    [event] = stack.events
    assert (event.reason, event.detail, event.token_bytes) == ("JWT_OVERSIZED", "token", len(big))
    assert jwtobs.Reason(event.reason).attack_signal
    assert event.token_fp is not None


def test_one_oversized_bearer_token_in_flask(stack: Stack) -> None:
    from flask import Flask

    from jwtobs.integrations.flask import JwtAuth

    app = Flask(__name__)
    guard = JwtAuth(app, auth=BearerAuth(jwtobs.wrap(_decode, library="pyjwt", raise_as="jwtobs"), redact=False))

    @app.get("/me")
    @guard.required()
    def me() -> dict[str, Any]:
        return {"ok": True}

    big = _token(pad="x" * (MAX_TOKEN_BYTES + 1000))
    r = app.test_client().get("/me", headers={"Authorization": f"Bearer {big}"})
    assert r.status_code == 401
    jwtobs.flush()
    assert [(e.reason, e.detail) for e in stack.events] == [("JWT_OVERSIZED", "token")]


def test_a_validator_returning_none_is_one_rejection(stack: Stack) -> None:
    def validate(token: str) -> dict[str, Any] | None:
        try:
            return _decode(token)
        except jwt.PyJWTError:
            return None

    client = _app(validate)
    forged = jwt.encode(
        {"iss": "https://attacker.example", "aud": AUD, "sub": "x", "exp": int(time.time()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "evil"},
    )
    r = client.get("/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    assert client.get("/me", headers={"Authorization": f"Bearer {_token()}"}).status_code == 200
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in stack.events] == [
        ("rejected", "JWT_VALIDATOR_ERROR", "returned_none"),  # one event: the wrapped validator's
        ("accepted", None, None),
    ]
