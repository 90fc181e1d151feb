"""python-jose signature backend: ``jose.jws.verify`` checks the signature, nothing else.

python-jose has no EdDSA and no RSASSA-PSS (3.x: ``jose.constants.ALGORITHMS.RSA_DS`` is RS256/384/512 only):
a Verifier whose profile allows them with this backend is a ConfigurationError naming the backends that can.
"""

from __future__ import annotations

from typing import Final

from jose import exceptions as je
from jose import jws

from jwtobs.backends._pem import key_material
from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.reasons import Reason

__all__ = ["NAME", "ALGORITHMS", "verify_signature"]

NAME: Final = "jose"  # the canonical name in jwtobs.libraries
#: what this library can verify; a Verifier whose profile allows another is a ConfigurationError (before session
#: 13 such tokens were rejected per request, JWT_ALG_NOT_ALLOWED/``backend``: kept for a direct call)
ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"})


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    if alg not in ALGORITHMS:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "backend")
    material = key_material(key)
    try:
        jws.verify(token, material if key.kty == "oct" else material.decode("ascii"), algorithms=[alg])
    except je.JWSSignatureError:
        raise TokenRejected(Reason.BAD_SIGNATURE) from None
    except je.JWSAlgorithmError:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch") from None
    except je.JWKError:
        raise TokenRejected(Reason.KEY_INVALID) from None
    except je.JWSError as exc:
        if "signature" in str(exc).lower():
            raise TokenRejected(Reason.BAD_SIGNATURE) from None
        raise TokenRejected(Reason.MALFORMED, "signature") from None
    except (ValueError, TypeError):
        raise TokenRejected(Reason.MALFORMED, "signature") from None
