"""A ``jwtobs.wrap``-ed library entry point that returns ``None`` (jwcrypto's ``JWT().deserialize``, which
without a key parses only: no validation, so the wrapper records nothing) as a BearerAuth authenticator: the
request is refused, and BearerAuth's refusal of a result it cannot read is an event of its own. Before session 37
BearerAuth took any wrapped authenticator's ``None`` for a refusal the wrapper had recorded (true of your own
functions only): the request was refused and no event said so. Real RS256 token signed with a key generated here,
real jwcrypto, FastAPI's test client."""

import time
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

import jwtobs
from jwtobs.integrations import BearerAuth, Principal
from jwtobs.integrations.fastapi import jwt_auth
from tests.integrations.harness import Stack

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_a_library_entry_point_returning_none_is_refused_with_an_event(stack: Stack) -> None:
    deserializer = jwcrypto_jwt.JWT(key=jwcrypto_jwk.JWK.from_pyca(KEY.public_key()), expected_type="JWS")
    app = FastAPI()
    dep = jwt_auth(BearerAuth(jwtobs.wrap(deserializer.deserialize), realm="api", redact=False))

    @app.get("/me")
    async def me(p: Annotated[Principal, Depends(dep)]) -> dict[str, Any]:
        return {"sub": p.subject}

    token = jwt.encode({"sub": "user-1", "exp": int(time.time()) + 300}, KEY, algorithm="RS256")
    r = TestClient(app).get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401  # fail closed: None names no identity
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in stack.events] == [
        ("rejected", "JWT_VALIDATOR_ERROR", "result"),  # BearerAuth could not read the result: its own event
    ]
