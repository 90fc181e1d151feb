"""Authlib signature backend: ``JsonWebSignature.deserialize_compact`` verifies the signature, nothing else."""

from __future__ import annotations

from typing import Final

# authlib.jose warns on import that it moves to joserfc (supported through 1.x; see also the joserfc backend)
from authlib.jose import JsonWebSignature, errors

from jwtobs.backends._pem import key_material
from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.profile import ASYMMETRIC_ALGS, HMAC_ALGS
from jwtobs.reasons import Reason

__all__ = ["NAME", "ALGORITHMS", "verify_signature"]

NAME: Final = "authlib"
#: what this library can verify (Authlib has no RFC 9864 ``Ed25519``: its EdDSA is ``EdDSA``); a Verifier
#: whose profile allows another is a ConfigurationError (tests/verifier/test_backends.py signs each for each)
ALGORITHMS: Final = frozenset((HMAC_ALGS | ASYMMETRIC_ALGS) - {"Ed25519"})


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    material = key_material(key)
    try:
        JsonWebSignature(algorithms=[alg]).deserialize_compact(token, material)
    except errors.BadSignatureError:
        raise TokenRejected(Reason.BAD_SIGNATURE) from None
    except (errors.UnsupportedAlgorithmError, errors.MissingAlgorithmError, errors.KeyMismatchError):
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch") from None
    except errors.InvalidCritHeaderParameterNameError:
        raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit") from None
    except errors.DecodeError:
        raise TokenRejected(Reason.MALFORMED, "signature") from None
    except errors.JoseError:
        raise TokenRejected(Reason.HEADER_INVALID) from None
    except (ValueError, TypeError):
        raise TokenRejected(Reason.KEY_INVALID) from None
