"""python-jose adapter: ``jose.exceptions`` (and what python-jose lets escape) mapped to reasons.

Entry points: ``jose.jwt.decode`` (returns the claims), ``jose.jws.verify`` (returns the payload bytes) and
``jose.jwe.decrypt`` (returns the plaintext bytes).

What python-jose does, and how it is classified:

- ``jwt.decode`` wraps every ``JWSError`` in a ``JWTError`` whose first argument *is* the ``JWSError``
  (also its ``__context__``): the inner error is classified.
- ``JWSError`` has no subclasses in use for verification: its fixed messages are the only information, so
  they are matched (the vocabulary of :data:`_JWS_MESSAGES`), after the token's shape from the header peek.
- ``JWKError`` escapes ``decode``/``verify`` when the key cannot be built for the token's ``alg``: an
  unsupported alg (EdDSA, ``none`` with no allowlist) or a PEM public key given as an HMAC secret.
- python-jose ignores ``kid``: it tries every key it is given, so an unknown kid and a wrong signature are
  the same "Signature verification failed." to it. The honest code is ``JWT_BAD_SIGNATURE``; use
  :class:`jwtobs.Verifier` with a :class:`jwtobs.JwksSource` to get ``JWT_UNKNOWN_KID``.
- Claims of the wrong JSON type can escape as ``TypeError`` (``int([1])`` for ``iat``/``nbf``/``exp``) and
  deep JSON as ``RecursionError``; both are classified from the peeked token.
- ``jwe.decrypt`` inflates ``zip: DEF`` with the zlib *wrapper* format, so a standard raw-DEFLATE JWE (RFC
  7516) escapes as ``zlib.error``: classified ``JWT_DECRYPTION_FAILED`` / ``zip``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from numbers import Number
from typing import Any, Final

from jose import exceptions as je
from jose.backends.base import Key

from jwtobs.adapters import by_class as _by_class
from jwtobs.adapters import form_reason as _form
from jwtobs.adapters import raised_by
from jwtobs.adapters import unsigned_reason as _unsigned
from jwtobs.header import TokenPeek
from jwtobs.reasons import Reason

__all__ = ["NAME", "BY_CLASS", "classify", "claims_from_result", "classify_jws_error"]

NAME: Final = "jose"

Result = tuple[Reason, "str | None"]

_REGISTERED: Final = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "typ", "azp", "scope", "nonce", "at_hash"}
)
#: JWTClaimsError messages (python-jose 3.x) -> reason; matched by prefix
_CLAIM_MESSAGES: Final[tuple[tuple[str, Reason, str], ...]] = (
    ("Issued At claim (iat) must be", Reason.CLAIM_INVALID, "iat"),
    ("Not Before claim (nbf) must be", Reason.CLAIM_INVALID, "nbf"),
    ("Expiration Time claim (exp) must be", Reason.CLAIM_INVALID, "exp"),
    ("The token is not yet valid (nbf)", Reason.NOT_YET_VALID, "nbf"),
    ("Invalid claim format in token", Reason.CLAIM_INVALID, "aud"),
    ("Invalid audience", Reason.AUDIENCE_MISMATCH, "aud"),
    ("Invalid issuer", Reason.ISSUER_MISMATCH, "iss"),
    ("Subject must be a string", Reason.CLAIM_INVALID, "sub"),
    ("Invalid subject", Reason.CLAIM_MISMATCH, "sub"),
    ("JWT ID must be a string", Reason.CLAIM_INVALID, "jti"),
    ("No access_token provided", Reason.CLAIM_MISMATCH, "at_hash"),
    ("Unable to calculate at_hash", Reason.CLAIM_INVALID, "at_hash"),
    ("at_hash claim does not match", Reason.CLAIM_MISMATCH, "at_hash"),
)


def claims_from_result(result: object) -> Mapping[str, Any] | None:
    """``jwt.decode`` returns the claims; ``jws.verify``/``jwe.decrypt`` return bytes (claims then come from the
    verified token itself)."""
    if type(result) is dict:  # jwt.decode's (an ABC check less per call)
        return result
    return result if isinstance(result, Mapping) else None




def _bad_claim_type(peek: TokenPeek) -> Result | None:
    """A NumericDate claim that python-jose's ``int()`` cannot take (list, dict, null, bool...)."""
    claims = peek.claims()
    if claims is None:
        return None
    for name in ("iat", "nbf", "exp"):
        if name in claims:
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, (Number, str)):
                return Reason.CLAIM_INVALID, name
            if isinstance(value, float) and not math.isfinite(value):  # JSON Infinity: int() overflows
                return Reason.CLAIM_INVALID, name
    for name in ("aud", "sub", "jti", "iss"):
        value = claims.get(name)
        if value is not None and not isinstance(value, (str, list)):
            return Reason.CLAIM_INVALID, name
    return None


def _header_type(peek: TokenPeek) -> Result | None:
    if "alg" in peek.bad_header_types:
        return Reason.HEADER_INVALID, "alg"
    if peek.bad_header_types:
        return Reason.HEADER_INVALID, peek.bad_header_types[0]
    return None


def classify_jws_error(exc: BaseException, peek: TokenPeek) -> Result:
    """Classify a ``JWSError`` (raised by ``jws.verify``, or wrapped in ``jwt.decode``'s ``JWTError``)."""
    msg = str(exc)
    if peek.kind in ("jwe", "json"):  # a JWE (or JSON) given to a JWS entry point fails on any of the checks
        return Reason.UNEXPECTED_FORM, peek.kind
    if isinstance(exc, je.JWSSignatureError) or msg.startswith("Signature verification failed"):
        return _unsigned(peek) if peek.unsigned else (Reason.BAD_SIGNATURE, None)
    if isinstance(exc, je.JWSAlgorithmError):
        return _unsigned(peek) if peek.unsigned else (Reason.ALG_NOT_ALLOWED, "not_allowed")
    if msg.startswith("No algorithm was specified"):
        return Reason.ALG_NOT_ALLOWED, "missing"
    if msg.startswith("The specified alg value is not allowed"):
        if peek.unsigned:
            return _unsigned(peek)
        return _header_type(peek) or (Reason.ALG_NOT_ALLOWED, "not_allowed")
    if msg.startswith("Invalid or unsupported algorithm"):
        return _unsigned(peek) if peek.unsigned else (Reason.ALG_NOT_ALLOWED, "unsupported")
    # the remaining messages are about the token's shape: the peek knows it better
    form = _form(peek)
    if form is not None:
        return form
    if msg.startswith("Not enough segments"):
        return Reason.MALFORMED, "segments"
    if msg.startswith(("Invalid header padding", "Invalid header string")):
        return Reason.MALFORMED, "header"
    if msg.startswith("Invalid payload padding"):
        return Reason.MALFORMED, "payload"
    if msg.startswith("Invalid crypto padding"):
        return Reason.MALFORMED, "signature"
    return Reason.MALFORMED, peek.bad_segment() or "segments"


def _jwe(exc: je.JWEError, peek: TokenPeek) -> Result:
    msg = str(exc)
    if peek.kind == "jws":
        return Reason.UNEXPECTED_FORM, "jws"
    if msg.startswith("JWE string") and "exceeds" in msg:
        return Reason.OVERSIZED, "token"
    if msg.startswith("Decompressed JWE string exceeds"):
        return Reason.OVERSIZED, "decompressed"
    if isinstance(exc, je.JWEParseError):
        if msg.startswith("alg and enc headers are required"):
            return Reason.ALG_NOT_ALLOWED, "missing"
        form = _form(peek)
        if form is not None and form[1] != "jwe":
            return form
        return Reason.MALFORMED, "header" if "header" in msg else "segments"
    if msg.startswith("Algorithm") and "not supported" in msg:
        return Reason.ALG_NOT_ALLOWED, "unsupported"
    if "is not implemented" in msg:
        return Reason.ALG_NOT_ALLOWED, "unsupported"
    return Reason.DECRYPTION_FAILED, None


def _jwk(exc: je.JWKError, peek: TokenPeek) -> Result:
    if peek.unsigned:
        return _unsigned(peek)
    msg = str(exc)
    if msg.startswith("Unable to find an algorithm for key"):
        return _header_type(peek) or (Reason.ALG_NOT_ALLOWED, "unsupported")
    return Reason.KEY_INVALID, None  # a PEM public key as HMAC secret, a key of the wrong type or size


def _from_key_construction(exc: BaseException) -> bool:
    """True when the error escaped while python-jose built a key object (``jose.backends`` ``Key.__init__`` or
    its ``_process_*`` helpers): cryptography's ``ValueError`` for an RSA exponent of 1 or an EC point off the
    curve, ``TypeError`` for a key of a type the algorithm cannot take. Found from the traceback's frames."""
    tb = exc.__traceback__
    n = 0
    while tb is not None and n < 64:
        n += 1
        frame = tb.tb_frame
        name = frame.f_code.co_name
        if (name == "__init__" or name.startswith("_process")) and isinstance(frame.f_locals.get("self"), Key):
            return True
        tb = tb.tb_next
    return False





def classify(exc: BaseException, peek: TokenPeek) -> Result | None:
    """python-jose's exception -> (reason, detail); ``None`` for a failure that is not about the token."""
    if isinstance(exc, je.ExpiredSignatureError):
        return Reason.EXPIRED, "exp"
    if isinstance(exc, je.JWTClaimsError):
        msg = str(exc)
        for prefix, reason, detail in _CLAIM_MESSAGES:
            if msg.startswith(prefix):
                return reason, detail
        return Reason.CLAIM_INVALID, None
    if isinstance(exc, je.JWTError):
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], je.JOSEError) else exc.__context__
        if isinstance(inner, je.JWSError):
            return classify_jws_error(inner, peek)
        if isinstance(inner, je.JWKError):
            return _jwk(inner, peek)
        msg = str(exc)
        if msg.startswith("missing required key"):
            name = msg.split('"')[1] if msg.count('"') >= 2 else "other"
            return Reason.MISSING_CLAIM, name if name in _REGISTERED else "other"
        if msg.startswith("audience must be"):
            return None  # the caller's misuse of decode(): a validator error, not the token's fault
        if msg.startswith("Invalid payload string"):
            return _form(peek) or (Reason.MALFORMED, "payload")
        return _form(peek) or (Reason.MALFORMED, None)
    if isinstance(exc, je.JWSError):
        return classify_jws_error(exc, peek)
    if isinstance(exc, je.JWKError):
        return _jwk(exc, peek)
    if isinstance(exc, je.JWEError):
        return _jwe(exc, peek)
    if not raised_by(exc, "jose"):
        return None  # the caller's own code failed: a validator error, whatever the class
    if isinstance(exc, zlib.error) and peek.kind == "jwe":
        return Reason.DECRYPTION_FAILED, "zip"
    if isinstance(exc, RecursionError):
        return Reason.MALFORMED, peek.bad_segment() or "payload"
    if isinstance(exc, (TypeError, ValueError, AttributeError, OverflowError)):
        if _from_key_construction(exc):
            return _unsigned(peek) if peek.unsigned else (Reason.KEY_INVALID, None)
        # python-jose's own checks let some wrong JSON types escape; name them only when the token shows one
        return _header_type(peek) or _bad_claim_type(peek)
    return None


#: the exception classes ``classify`` decides from the class alone (:func:`jwtobs.adapters.by_class`)
BY_CLASS: Final = _by_class(classify, je.ExpiredSignatureError)
