"""PyJWT signature backend: ``jwt.PyJWS`` verifies the signature; claims are not looked at here."""

from __future__ import annotations

from typing import Final

import jwt
from jwt import exceptions as E

from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.profile import ASYMMETRIC_ALGS, HMAC_ALGS
from jwtobs.reasons import Reason

__all__ = ["NAME", "ALGORITHMS", "verify_signature"]

NAME: Final = "pyjwt"
#: what this library can verify (PyJWT 2.x has no RFC 9864 ``Ed25519``: its EdDSA is ``EdDSA``); a Verifier
#: whose profile allows another is a ConfigurationError (tests/verifier/test_backends.py signs each for each)
ALGORITHMS: Final = frozenset((HMAC_ALGS | ASYMMETRIC_ALGS) - {"Ed25519"})
_JWS: Final = jwt.PyJWS()


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    try:
        _JWS.decode_complete(token, key=key.key, algorithms=[alg])
    except E.InvalidSignatureError:
        raise TokenRejected(Reason.BAD_SIGNATURE) from None
    except E.InvalidAlgorithmError:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch") from None
    except (E.InvalidKeyError, E.PyJWKError, TypeError, ValueError):
        raise TokenRejected(Reason.KEY_INVALID) from None
    except E.DecodeError:
        raise TokenRejected(Reason.MALFORMED, "signature") from None
    except E.InvalidTokenError as exc:
        msg = str(exc)
        if "crit" in msg.lower():
            raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit") from None
        raise TokenRejected(Reason.HEADER_INVALID) from None
