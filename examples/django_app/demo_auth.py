"""The example's issuer (a key generated at startup) and the Verifier that ``settings.JWTOBS`` points at."""

from __future__ import annotations

from _demo_keys import DemoIssuer

ISSUER = DemoIssuer()
VERIFIER = ISSUER.verifier()  # JWTOBS["AUTHENTICATOR"] = "demo_auth.VERIFIER"
