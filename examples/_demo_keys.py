"""Shared by the example apps: a signing key generated at startup and a demo token minted with it.

Real deployments verify tokens from their identity provider with ``jwtobs.JwksSource(url)``; the examples
generate their own key so they run offline.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs

ISSUER = "https://demo-issuer.local"
AUDIENCE = "api://demo"
KID = "demo-" + uuid.uuid4().hex[:8]


class DemoIssuer:
    """An RSA key generated now; mints tokens and builds the Verifier that trusts it."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, *, scope: str = "items:read", tenant: str = "acme", ttl: int = 3600, **extra: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "demo-user", "aud": AUDIENCE, "iat": now, "exp": now + ttl}
        claims.update(scope=scope, tid=tenant, client_id="demo-client", **extra)
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": KID, "typ": "at+jwt"})

    def verifier(self) -> jwtobs.Verifier:
        profile = jwtobs.Profile(name="demo", issuer=ISSUER, audience=AUDIENCE, tenant_claim="tid")
        keys = jwtobs.StaticKeys({KID: self.private.public_key()})
        return jwtobs.Verifier(profile, keys=keys, backend="pyjwt")


def usage(base: str, issuer: DemoIssuer) -> str:
    token = issuer.token()
    return "\n".join(
        [
            f"jwtobs example on {base}  (demo token below, valid 1 hour, minted with a key generated at startup)",
            f"  curl -i {base}/items -H 'Authorization: Bearer {token}'          # 200",
            f"  curl -i {base}/items                                              # 401, no error code",
            f"  curl -i {base}/admin -H 'Authorization: Bearer {token}'          # 403 insufficient_scope",
            f"  curl -i {base}/tenants/globex/items -H 'Authorization: Bearer {token}'   # 401 invalid_token",
            f"  curl -i {base}/items -H 'Authorization: Bearer {token}' -H 'Authorization: Bearer {token}'  # 400",
        ]
    )
