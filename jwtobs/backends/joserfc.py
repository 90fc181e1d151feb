"""joserfc signature backend: ``joserfc.jws.deserialize_compact`` verifies the signature, nothing else."""

from __future__ import annotations

from typing import Any, Final

from joserfc import errors, jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from jwtobs.backends._pem import key_material
from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.profile import ASYMMETRIC_ALGS, HMAC_ALGS
from jwtobs.reasons import Reason

__all__ = ["NAME", "ALGORITHMS", "verify_signature"]

NAME: Final = "joserfc"
#: what this library can verify (every algorithm a Profile allows); a Verifier whose profile allows another is a
#: ConfigurationError (tests/verifier/test_backends.py signs every algorithm for every backend)
ALGORITHMS: Final = frozenset(HMAC_ALGS | ASYMMETRIC_ALGS)
_KEY_CLASSES: Final[dict[str, Any]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey, "oct": OctKey}


class _Registry(jws.JWSRegistry):
    """joserfc's registry for one ``alg``, without what only joserfc refuses: a header parameter it has not
    registered (``nonce``, an application's own: the other four backends accept them; the Verifier checked the
    header before) and a header over 512 or a payload over 128 000 bytes (the Verifier's ``max_token_bytes``
    bounds the token). Before session 13 a valid token with such a header was JWT_HEADER_INVALID with this
    backend only."""

    max_header_length = 1 << 30
    max_payload_length = 1 << 30
    max_signature_length = 1 << 30


_REGISTRIES: dict[str, jws.JWSRegistry] = {}


def _registry(alg: str) -> jws.JWSRegistry:
    registry = _REGISTRIES.get(alg)
    if registry is None:
        registry = _REGISTRIES[alg] = _Registry(algorithms=[alg], strict_check_header=False)
    return registry


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    try:
        jkey = _KEY_CLASSES[key.kty].import_key(key_material(key))
    except TokenRejected:
        raise
    except Exception:
        raise TokenRejected(Reason.KEY_INVALID) from None
    try:
        jws.deserialize_compact(token, jkey, registry=_registry(alg))
    except errors.BadSignatureError:
        raise TokenRejected(Reason.BAD_SIGNATURE) from None
    except (errors.UnsupportedAlgorithmError, errors.MissingAlgorithmError, errors.ConflictAlgorithmError):
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch") from None
    except errors.UnsupportedKeyAlgorithmError:
        raise TokenRejected(Reason.KEY_INVALID) from None
    except errors.DecodeError:
        raise TokenRejected(Reason.MALFORMED, "signature") from None
    except errors.JoseError as exc:
        if "crit" in str(exc).lower():
            raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit") from None
        raise TokenRejected(Reason.HEADER_INVALID) from None
    except (ValueError, TypeError):
        raise TokenRejected(Reason.MALFORMED, "signature") from None
