"""jwcrypto signature backend: ``jwcrypto.jws.JWS.verify`` checks the signature, nothing else."""

from __future__ import annotations

from typing import Final

from jwcrypto import common, jwk, jws

from jwtobs.adapters.jwcrypto import classify_verify_failure
from jwtobs.backends._pem import key_material
from jwtobs.exceptions import TokenRejected
from jwtobs.header import peek
from jwtobs.jwks import Key
from jwtobs.profile import ASYMMETRIC_ALGS, HMAC_ALGS
from jwtobs.reasons import Reason

__all__ = ["NAME", "ALGORITHMS", "verify_signature"]

NAME: Final = "jwcrypto"
#: what this library can verify (every algorithm a Profile allows); a Verifier whose profile allows another is a
#: ConfigurationError (tests/verifier/test_backends.py signs every algorithm for every backend)
ALGORITHMS: Final = frozenset(HMAC_ALGS | ASYMMETRIC_ALGS)


def _jwk(key: Key) -> jwk.JWK:
    material = key_material(key)
    if key.kty == "oct":
        return jwk.JWK(kty="oct", k=common.base64url_encode(material))
    return jwk.JWK.from_pem(material)


def verify_signature(token: str, key: Key, alg: str) -> None:
    """Verify the JWS signature of ``token`` with ``key`` using exactly ``alg``. Raises TokenRejected."""
    try:
        jkey = _jwk(key)
    except TokenRejected:
        raise
    except Exception:
        raise TokenRejected(Reason.KEY_INVALID) from None
    obj = jws.JWS()
    obj.allowed_algs = [alg]
    try:
        obj.deserialize(token)
    except Exception:
        raise TokenRejected(Reason.MALFORMED, "signature") from None
    try:
        obj.verify(jkey, alg=alg)
    except jws.InvalidJWSSignature as exc:
        # jwcrypto hides the cause; the adapter decides from the JWS object and the header (crit first)
        reason, _ = classify_verify_failure(exc, peek(token))
        if reason is Reason.CRIT_UNSUPPORTED:
            raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit") from None
        raise TokenRejected(Reason.BAD_SIGNATURE) from None
    except jws.InvalidJWSOperation:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch") from None
    except Exception:
        raise TokenRejected(Reason.HEADER_INVALID) from None
