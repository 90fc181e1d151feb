"""PyJWT adapter: PyJWT's exceptions (``jwt.exceptions``) mapped to reasons.

Order matters: subclasses are tested before their parents (``InvalidSignatureError`` before
``DecodeError``), and ``InvalidKeyError``/``PyJWKClientError`` are not ``InvalidTokenError`` subclasses.
Messages are consulted only where PyJWT uses one class for several causes; the detail vocabulary is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jwt
from jwt import exceptions as E

from jwtobs.adapters import REGISTERED_CLAIMS as _REGISTERED
from jwtobs.adapters import by_class as _by_class
from jwtobs.adapters import form_reason as _form
from jwtobs.adapters import unsigned_reason as _unsigned
from jwtobs.header import TokenPeek
from jwtobs.reasons import Reason

NAME: Final = "pyjwt"


def claims_from_result(result: object) -> Mapping[str, Any] | None:
    """``jwt.decode`` returns the claims; ``jwt.decode_complete`` a dict with a ``payload``, a ``header`` and a
    ``signature`` that is ``bytes`` (no claim decoded from JSON is: claims named ``header``, ``payload`` and
    ``signature`` are still claims)."""
    if type(result) is dict:  # (the same as below, without the ABC checks)
        signature = result.get("signature")
        if signature is None or type(signature) is not bytes:
            return result
        payload = result.get("payload")
        if type(payload) is dict:  # decode_complete's (an ABC check less per call)
            return payload if "header" in result else result
        return payload if isinstance(payload, Mapping) and "header" in result else result
    if isinstance(result, Mapping):
        payload = result.get("payload")
        if isinstance(payload, Mapping) and "header" in result and isinstance(result.get("signature"), bytes):
            return payload
        return result
    return None


def classify(exc: BaseException, peek: TokenPeek) -> tuple[Reason, str | None] | None:
    if type(exc) is E.ExpiredSignatureError:  # the most common rejection, first (it is nothing else below)
        return Reason.EXPIRED, "exp"
    return key_source(exc, peek)


def key_source(exc: BaseException, peek: TokenPeek) -> tuple[Reason, str | None] | None:
    """The reason for an error of PyJWT's key set classes (``PyJWKClient``, ``PyJWKSet``), or None: also what
    :func:`jwtobs.adapters.classify` makes of one escaping a function wrapped for another library (a ``PyJWKClient``
    picking the key for python-jose or Authlib)."""
    msg = str(exc) if isinstance(exc, E.PyJWTError) else ""
    if isinstance(exc, E.PyJWKClientConnectionError):
        return Reason.JWKS_UNAVAILABLE, "connection"
    if isinstance(exc, E.PyJWKClientError):
        if msg.startswith("Unable to find a signing key"):
            # the key lookup runs before any algorithm check: an unsigned token is still unsigned
            return _unsigned(peek) if peek.unsigned else (Reason.UNKNOWN_KID, None)
        if "did not contain any signing keys" in msg:
            return Reason.JWKS_UNAVAILABLE, "no_keys"
        if "JSON object" in msg:
            return Reason.JWKS_UNAVAILABLE, "invalid_json"
        if msg.startswith("Invalid JWKS URI scheme"):
            return Reason.JWKS_UNAVAILABLE, "config"
        return Reason.JWKS_UNAVAILABLE, None
    if isinstance(exc, E.PyJWKSetError):
        return Reason.JWKS_UNAVAILABLE, "invalid_jwks"
    if isinstance(exc, (E.InvalidKeyError, E.PyJWKError)):
        if peek.unsigned:
            return _unsigned(peek)
        return Reason.KEY_INVALID, None
    if isinstance(exc, TypeError) and _in_prepare_key(exc):
        # the application's key cannot be the token's alg's: an asymmetric key *object* where the token says
        # HS256 (an algorithm-confusion attempt on an app allowing both), as InvalidKeyError says for its PEM
        return _unsigned(peek) if peek.unsigned else (Reason.KEY_INVALID, None)
    if not isinstance(exc, E.InvalidTokenError):
        return None
    # -- structure --
    if isinstance(exc, E.InvalidSignatureError):
        return _unsigned(peek) if peek.unsigned else (Reason.BAD_SIGNATURE, None)
    if isinstance(exc, E.InvalidAlgorithmError):
        if peek.unsigned:
            return _unsigned(peek)
        if "not specified" in msg:
            return Reason.ALG_NOT_ALLOWED, "missing"
        if "not supported" in msg:
            return Reason.ALG_NOT_ALLOWED, "unsupported"
        if "does not match the key" in msg:
            return Reason.ALG_NOT_ALLOWED, "key_mismatch"
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    # -- claims --
    if isinstance(exc, E.ExpiredSignatureError):
        return Reason.EXPIRED, "exp"
    if isinstance(exc, E.ImmatureSignatureError):
        return Reason.NOT_YET_VALID, "iat" if "(iat)" in msg else "nbf"
    if isinstance(exc, E.InvalidIssuedAtError):
        return Reason.CLAIM_INVALID, "iat"
    if isinstance(exc, E.MissingRequiredClaimError):
        claim = exc.claim if exc.claim in _REGISTERED else "other"
        return Reason.MISSING_CLAIM, claim
    if isinstance(exc, E.InvalidAudienceError):
        return (Reason.CLAIM_INVALID, "aud") if "format" in msg else (Reason.AUDIENCE_MISMATCH, "aud")
    if isinstance(exc, E.InvalidIssuerError):
        return (Reason.CLAIM_INVALID, "iss") if "must be a string" in msg else (Reason.ISSUER_MISMATCH, "iss")
    if isinstance(exc, E.InvalidSubjectError):
        return (Reason.CLAIM_INVALID, "sub") if "must be a string" in msg else (Reason.CLAIM_MISMATCH, "sub")
    if isinstance(exc, E.InvalidJTIError):
        return Reason.CLAIM_INVALID, "jti"
    if isinstance(exc, E.DecodeError):
        if peek.unsigned and peek.kind == "jws" and "Signature" in msg:
            return _unsigned(peek)
        if "Token must be a" in msg:
            return Reason.MALFORMED, "type"
        if "(exp) must be an integer" in msg:
            return Reason.CLAIM_INVALID, "exp"
        if "(nbf) must be an integer" in msg:
            return Reason.CLAIM_INVALID, "nbf"
        if "b64" in msg or "detached_payload" in msg:
            return Reason.HEADER_INVALID, "b64"
        if '"algorithms" argument' in msg:
            return None  # the caller's misuse of decode(): a validator error, not the token's fault
        form = _form(peek)
        if form is not None:
            return form
        if "header" in msg:
            return Reason.MALFORMED, "header"
        if "payload" in msg:
            return Reason.MALFORMED, "payload"
        if "crypto" in msg or "signature" in msg.lower():
            return Reason.MALFORMED, "signature"
        return Reason.MALFORMED, peek.bad_segment() or "segments"
    # plain InvalidTokenError: header checks
    if "Key ID header" in msg:
        return Reason.HEADER_INVALID, "kid"
    if "crit" in msg.lower() or "Critical extension" in msg:
        return Reason.CRIT_UNSUPPORTED, "crit"
    if "'b64'" in msg:
        return Reason.HEADER_INVALID, "b64"
    form = _form(peek)
    if form is not None:
        return form
    return Reason.CLAIM_INVALID, None


def _in_prepare_key(exc: BaseException) -> bool:
    """Whether ``exc`` came out of a PyJWT algorithm's ``prepare_key`` (``jwt.algorithms``), walking at most 64
    frames of its traceback."""
    tb, n = exc.__traceback__, 0
    while tb is not None and n < 64:
        code = tb.tb_frame.f_code
        if code.co_name == "prepare_key" and tb.tb_frame.f_globals.get("__name__") == "jwt.algorithms":
            return True
        tb, n = tb.tb_next, n + 1
    return False


#: the exception classes ``classify`` decides from the class alone (:func:`jwtobs.adapters.by_class`)
BY_CLASS: Final = _by_class(classify, E.ExpiredSignatureError)

__all__ = ["NAME", "BY_CLASS", "classify", "claims_from_result", "jwt"]
