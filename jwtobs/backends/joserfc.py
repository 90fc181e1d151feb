"""joserfc signature backend: ``joserfc.jws.deserialize_compact`` verifies the signature, nothing else."""

from __future__ import annotations

from typing import Any, Final

from joserfc import errors, jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from jwtobs.backends._pem import key_material
from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.reasons import Reason

__all__ = ["NAME", "verify_signature"]

NAME: Final = "joserfc"
_KEY_CLASSES: Final[dict[str, Any]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey, "oct": OctKey}


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    try:
        jkey = _KEY_CLASSES[key.kty].import_key(key_material(key))
    except TokenRejected:
        raise
    except Exception:
        raise TokenRejected(Reason.KEY_INVALID) from None
    try:
        jws.deserialize_compact(token, jkey, algorithms=[alg])
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
