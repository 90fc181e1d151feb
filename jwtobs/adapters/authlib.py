"""Authlib adapter: ``authlib.jose.errors`` (and the plain errors authlib raises) mapped to reasons.

Entry points: ``authlib.jose.JsonWebToken(algorithms).decode(s, key, claims_options=...)`` (also the module
instance ``authlib.jose.jwt``) verifies the signature, or decrypts a JWE, and checks *no* claim: it returns a
``JWTClaims`` (a dict) whose ``validate()`` checks them. Wrap one function of yours that does both, so a claim
failure is classified and recorded on the same event as the signature check::

    jwt = JsonWebToken(["RS256"])          # always an allowlist: without one a JWE is decrypted too

    @functools.partial(jwtobs.wrap, library="authlib")
    def validate(token: str) -> JWTClaims:
        claims = jwt.decode(token, keys, claims_options=OPTIONS)
        claims.validate()
        return claims

What Authlib does, and how it is classified:

- ``UnsupportedAlgorithmError`` carries no description, whatever the cause (``none``, an alg outside the
  allowlist, an unknown alg, a JWE's ``alg`` when only JWS algorithms are allowed): the header peek decides.
- Plain ``ValueError`` for "Key not found" / "Invalid JSON Web Key Set" (no key for the ``kid``),
  "Serialization is too long." and "Value of ... is too long" (size limits), "This key may not be safe to
  import" (a PEM public key as an HMAC secret) and other key-import failures. Only errors raised *inside*
  Authlib (the innermost traceback frame) are classified; the same class from the caller's code is not.
- A ``kid`` that names a key of another type than the token's ``alg`` needs escapes as ``KeyError``/
  ``ValueError`` from the algorithm's ``prepare_key`` → ``JWT_ALG_NOT_ALLOWED`` / ``key_mismatch``.
- ``MissingClaimError`` has no claim attribute (the name is in the fixed message); ``InvalidClaimError`` has
  ``claim_name`` and covers a wrong type, a blank essential claim and a value mismatch alike (the peeked
  claim's JSON type tells a wrong type apart); ``InvalidTokenError`` is ``nbf`` or ``iat`` in the future.
- A JWE that does not decrypt lets ``cryptography``'s ``InvalidTag`` or ``ValueError("Decryption failed")``
  escape → ``JWT_DECRYPTION_FAILED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from authlib.jose import errors as E
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from jwtobs.adapters import by_class as _by_class
from jwtobs.adapters import claim_detail as _claim
from jwtobs.adapters import form_reason as _form
from jwtobs.adapters import unsigned_reason as _unsigned
from jwtobs.header import TokenPeek
from jwtobs.reasons import Reason

__all__ = ["NAME", "BY_CLASS", "classify", "claims_from_result"]

NAME: Final = "authlib"

Result = tuple[Reason, "str | None"]

#: registered JWS/JWE algorithm names: a name outside the allowlist is "not_allowed", anything else "unsupported"
_JWA: Final = frozenset(
    {
        *(f"{f}{n}" for f in ("HS", "RS", "ES", "PS") for n in ("256", "384", "512")),
        "ES256K",
        "EdDSA",
        "Ed25519",
        "Ed448",
        "dir",
        "RSA1_5",
        "RSA-OAEP",
        "RSA-OAEP-256",
        *(f"A{n}KW" for n in ("128", "192", "256")),
        *(f"A{n}GCMKW" for n in ("128", "192", "256")),
        "ECDH-ES",
        *(f"ECDH-ES+A{n}KW" for n in ("128", "192", "256")),
        *(f"PBES2-HS{n}+A{k}KW" for n, k in (("256", "128"), ("384", "192"), ("512", "256"))),
    }
)
_MISSING_CLAIM: Final = re.compile(r"Missing '([A-Za-z0-9_]{1,32})' claim")
#: frames walked at most when asking where a plain exception was raised (bounded)
_MAX_FRAMES: Final = 64
#: functions in whose frames a KeyError/TypeError/ValueError means "this key does not fit this alg"
_KEY_FUNCTIONS: Final = frozenset({"prepare_key", "import_key", "load_raw_key", "check_required_fields"})
#: authlib's JWE algorithm steps: a ValueError raised there (by cryptography's native code) is a failed decryption
_JWE_FUNCTIONS: Final = frozenset({"unwrap", "decrypt", "agree_upon_key", "deliver"})


def claims_from_result(result: object) -> Mapping[str, Any] | None:
    """``decode`` returns ``JWTClaims`` (a dict of the claims); other mappings are the claims themselves."""
    return result if isinstance(result, dict) or isinstance(result, Mapping) else None  # (a dict: no ABC check)





def _frames(exc: BaseException) -> list[tuple[str, str]]:
    """(module, function) of each frame of ``exc``'s traceback, outermost first (bounded)."""
    out: list[tuple[str, str]] = []
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and len(out) < _MAX_FRAMES:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__")
        out.append((module if isinstance(module, str) else "", frame.f_code.co_name))
        tb = tb.tb_next
    return out


def _in_authlib(module: str) -> bool:
    return module == "authlib" or module.startswith("authlib.")


def _algorithm(peek: TokenPeek) -> Result:
    """``UnsupportedAlgorithmError`` has no description: decide from the token's header."""
    if peek.unsigned:
        return _unsigned(peek)
    if peek.kind == "jwe":  # only JWS algorithms allowed (or a JWE algorithm outside the allowlist)
        return Reason.UNEXPECTED_FORM, "jwe"
    if "alg" in peek.bad_header_types:
        return Reason.HEADER_INVALID, "alg"
    if peek.alg is None:
        return Reason.ALG_NOT_ALLOWED, "missing"
    return Reason.ALG_NOT_ALLOWED, "not_allowed" if peek.alg in _JWA else "unsupported"


def _decode(exc: E.DecodeError, peek: TokenPeek) -> Result:
    form = _form(peek)
    if form is not None and form != (Reason.UNEXPECTED_FORM, "jwe"):
        return form
    desc = str(exc.error or "")
    if peek.kind == "jwe":
        if desc.startswith(("Invalid header", "Header must be")):
            return Reason.MALFORMED, "header"
        return Reason.DECRYPTION_FAILED, None
    if desc.startswith("Invalid input segments") or desc.startswith("Not enough segments"):
        return Reason.MALFORMED, "segments"
    if desc.startswith(("Invalid header", "Header must be")):
        return Reason.MALFORMED, "header"
    if desc.startswith("Invalid payload"):
        return Reason.MALFORMED, "payload"
    if desc.startswith("Invalid signature"):
        return Reason.MALFORMED, "signature"
    return Reason.MALFORMED, peek.bad_segment() or "segments"


def _claims(exc: E.JoseError, peek: TokenPeek) -> Result | None:
    if isinstance(exc, E.ExpiredTokenError):
        return Reason.EXPIRED, "exp"
    if isinstance(exc, E.InvalidTokenError):
        return Reason.NOT_YET_VALID, "iat" if "issued in the future" in str(exc.description) else "nbf"
    if isinstance(exc, E.MissingClaimError):
        m = _MISSING_CLAIM.search(str(exc.description))
        return Reason.MISSING_CLAIM, _claim(m.group(1)) if m else "other"
    if isinstance(exc, E.InsecureClaimError):
        return Reason.PROHIBITED_CLAIM, None
    if isinstance(exc, E.InvalidClaimError):
        name = _claim(getattr(exc, "claim_name", None))
        claims = peek.claims() or {}
        value = claims.get(name)
        if name in ("exp", "nbf", "iat"):
            return Reason.CLAIM_INVALID, name
        if name in ("iss", "sub", "jti") and value is not None and not isinstance(value, str):
            return Reason.CLAIM_INVALID, name
        if name == "aud" and value is not None and not isinstance(value, (str, list)):
            return Reason.CLAIM_INVALID, name
        if name == "iss":
            return Reason.ISSUER_MISMATCH, "iss"
        if name == "aud":
            return Reason.AUDIENCE_MISMATCH, "aud"
        return Reason.CLAIM_MISMATCH, name
    return None


def _plain(exc: BaseException, peek: TokenPeek) -> Result | None:
    """``ValueError``/``KeyError``/``TypeError`` raised inside Authlib, never one from the caller's own code."""
    if not isinstance(
        exc, (ValueError, KeyError, TypeError, AttributeError, InvalidTag, InvalidUnwrap, RecursionError)
    ):
        return None
    frames = _frames(exc)
    if not any(_in_authlib(module) for module, _ in frames):
        return None
    if isinstance(exc, RecursionError):  # JSON nested deeper than Python's recursion limit
        return Reason.MALFORMED, peek.bad_segment() or "payload"
    innermost, function = frames[-1]
    if peek.kind == "jwe" and (
        isinstance(exc, (InvalidTag, InvalidUnwrap))
        or (isinstance(exc, ValueError) and (innermost.startswith("cryptography") or function in _JWE_FUNCTIONS))
    ):
        # authlib lets cryptography's failures escape from a JWE decryption (wrong key, tampered ciphertext)
        return Reason.DECRYPTION_FAILED, None
    if not _in_authlib(innermost):
        return None
    if isinstance(exc, TypeError) and peek.bad_header_types:
        # a header value of the wrong JSON type (alg: [] is unhashable in the algorithm registry lookup)
        return Reason.HEADER_INVALID, peek.bad_header_types[0]
    msg = str(exc) if isinstance(exc, ValueError) else ""
    if msg in ("Key not found", "Invalid JSON Web Key Set"):
        # the key lookup runs before the signature check: an unsigned token is still unsigned
        if peek.unsigned:
            return _unsigned(peek)
        if "kid" in peek.bad_header_types:
            return Reason.HEADER_INVALID, "kid"
        return Reason.UNKNOWN_KID, None
    if msg == "Serialization is too long." or (msg.startswith("Value of ") and msg.endswith(" is too long")):
        return Reason.OVERSIZED, "token"
    if msg.startswith("Decompressed string exceeds"):
        return Reason.OVERSIZED, "decompressed"
    if peek.unsigned:
        return _unsigned(peek)
    if msg in ("This key may not be safe to import", "oct key material must not be empty") or msg.startswith(
        "Unsupported key_op"  # the key's key_ops do not allow verify/decrypt (e.g. ["encrypt"])
    ):
        return Reason.KEY_INVALID, None
    if msg.startswith(('Missing "', 'Invalid "iv"', "Invalid 'iv'")) and peek.kind == "jwe":
        return Reason.HEADER_INVALID, None
    if any(_in_authlib(mod) and fn in _KEY_FUNCTIONS for mod, fn in frames):
        # the key found for the token (by kid, or the only one) is of another type or curve than alg needs
        return Reason.ALG_NOT_ALLOWED, "key_mismatch"
    if msg.startswith(("Invalid key", "A key of size")):
        return Reason.KEY_INVALID, None
    return None


def classify(exc: BaseException, peek: TokenPeek) -> Result | None:
    """Authlib's exception -> (reason, detail); ``None`` for a failure that is not about the token."""
    if not isinstance(exc, E.JoseError):
        return _plain(exc, peek)
    claims = _claims(exc, peek)
    if claims is not None:
        return claims
    if isinstance(exc, E.BadSignatureError):
        return _unsigned(peek) if peek.unsigned else (Reason.BAD_SIGNATURE, None)
    if isinstance(exc, E.UnsupportedAlgorithmError):
        return _algorithm(peek)
    if isinstance(exc, E.MissingAlgorithmError):
        if peek.header is None:
            return _form(peek) or (Reason.MALFORMED, "header")
        return Reason.ALG_NOT_ALLOWED, "missing"
    if isinstance(exc, E.DecodeError):
        return _decode(exc, peek)
    if isinstance(exc, E.InvalidCritHeaderParameterNameError):
        return Reason.CRIT_UNSUPPORTED, "crit"
    if isinstance(exc, E.InvalidHeaderParameterNameError):
        return Reason.HEADER_INVALID, None
    if isinstance(exc, E.KeyMismatchError):
        return Reason.DECRYPTION_FAILED, None
    if isinstance(exc, E.InvalidUseError):
        return Reason.KEY_INVALID, None
    if isinstance(exc, E.MissingEncryptionAlgorithmError):
        return Reason.HEADER_INVALID, "enc"
    if isinstance(exc, E.UnsupportedEncryptionAlgorithmError):
        return Reason.ALG_NOT_ALLOWED, "unsupported"
    if isinstance(exc, E.UnsupportedCompressionAlgorithmError):
        return Reason.HEADER_INVALID, "zip"
    if isinstance(
        exc, (E.InvalidAlgorithmForMultipleRecipientsMode, E.InvalidEncryptionAlgorithmForECDH1PUWithKeyWrappingError)
    ):
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    return None


#: the exception classes ``classify`` decides from the class alone (:func:`jwtobs.adapters.by_class`)
BY_CLASS: Final = _by_class(classify, E.ExpiredTokenError)
