"""joserfc adapter: ``joserfc.errors`` (and the few plain errors joserfc raises) mapped to reasons.

Entry points: ``joserfc.jwt.decode`` (returns a ``Token`` with ``.header`` and ``.claims``) verifies the
signature (or decrypts, with a ``JWERegistry``) and checks *no* claim; claims are checked by
``JWTClaimsRegistry.validate(token.claims)``. Wrap one function of yours that does both, so a claim failure is
classified and recorded on the same event as the signature check::

    registry = JWTClaimsRegistry(iss={"essential": True, "value": ISS}, aud={"essential": True, "value": AUD})

    @functools.partial(jwtobs.wrap, library="joserfc")
    def validate(token: str) -> Token:
        tok = jwt.decode(token, keys, algorithms=["RS256"])
        registry.validate(tok.claims)
        return tok

What joserfc does, and how it is classified:

- Errors carry a short ``error`` code per class and, for claims, the claim name (``exc.claim``): both are
  used before any message. Claim errors share ``InvalidClaimError``; its description distinguishes a wrong
  type ("must be ..."), ``nbf``/``iat`` in the future, and a value mismatch (the default description).
- ``jwt.decode`` without a ``JWERegistry`` rejects a JWE as "Invalid JSON Web Signature" (``DecodeError``);
  with one, a JWS is a plain ``ValueError("Invalid JSON Web Encryption")`` and a failed decryption a
  ``DecodeError`` caused by ``cryptography``'s ``InvalidTag``.
- A ``KeySet`` looks keys up by ``kid`` *and* by the key type the token's ``alg`` needs: a ``kid`` naming a key
  of another type is "No key for kid" (``InvalidKeyIdError``) → ``JWT_UNKNOWN_KID``, like an unknown kid.
- The JWS header registry is strict: an unregistered header parameter, critical or not, raises
  ``UnsupportedHeaderError``; a listed ``crit`` parameter → ``JWT_CRIT_UNSUPPORTED``, any other →
  ``JWT_HEADER_INVALID``. A header value of the wrong type (``kid: 7``) is ``InvalidHeaderValueError``.
- Values over joserfc's own limits raise ``ExceededSizeError`` → ``JWT_OVERSIZED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from joserfc import errors as E
from joserfc.jwt import Token

from jwtobs.adapters import REGISTERED_CLAIMS as _REGISTERED
from jwtobs.adapters import by_class as _by_class
from jwtobs.adapters import claim_detail as _claim
from jwtobs.adapters import form_reason as _form
from jwtobs.adapters import raised_by
from jwtobs.adapters import unsigned_reason as _unsigned
from jwtobs.header import TokenPeek
from jwtobs.reasons import Reason

__all__ = ["NAME", "BY_CLASS", "classify", "claims_from_result"]

NAME: Final = "joserfc"

Result = tuple[Reason, "str | None"]

#: header parameters named in a detail (anything else: no detail, the name is attacker-chosen)
_HEADER_PARAMS: Final = frozenset(
    {"alg", "kid", "typ", "cty", "crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "enc", "zip"}
)
#: frames walked at most when asking where a plain exception was raised (bounded)
_MAX_FRAMES: Final = 64
#: key errors: the key exists but does not fit the token's alg
_KEY_MISMATCH: Final = (E.InvalidKeyTypeError, E.InvalidKeyCurveError, E.UnsupportedKeyAlgorithmError)
#: key errors: the key itself cannot be used
_KEY_INVALID: Final = (
    E.KeyParameterError,
    E.InvalidKeyLengthError,
    E.InvalidExchangeKeyError,
    E.MissingKeyError,
)


def claims_from_result(result: object) -> Mapping[str, Any] | None:
    """A joserfc ``Token``'s ``claims``; a mapping result (the claims themselves) as is."""
    if isinstance(result, Token):
        claims = result.claims
        return claims if type(claims) is dict or isinstance(claims, Mapping) else None
    return result if type(result) is dict or isinstance(result, Mapping) else None  # (a dict: no ABC check)






def _claims(exc: E.ClaimError, peek: TokenPeek) -> Result:
    if isinstance(exc, E.ExpiredTokenError):
        return Reason.EXPIRED, "exp"
    if isinstance(exc, E.MissingClaimError):
        # several missing essential claims are reported together, sorted and comma-joined
        names = str(exc.claim).split(",")
        registered = [n for n in names if n in _REGISTERED]
        return Reason.MISSING_CLAIM, registered[0] if registered else "other"
    if isinstance(exc, E.InsecureClaimError):
        return Reason.PROHIBITED_CLAIM, _claim(exc.claim)
    claim = _claim(exc.claim)
    desc = exc.description
    if "must be" in desc:
        return Reason.CLAIM_INVALID, claim
    if claim == "nbf" and "not yet valid" in desc:
        return Reason.NOT_YET_VALID, "nbf"
    if claim == "iat" and "in the future" in desc:
        return Reason.NOT_YET_VALID, "iat"
    # the default description: the value is blank or not the one the registry asked for
    if claim == "iss":
        return Reason.ISSUER_MISMATCH, "iss"
    if claim == "aud":
        return Reason.AUDIENCE_MISMATCH, "aud"
    if claim in ("exp", "nbf", "iat"):
        return Reason.CLAIM_INVALID, claim
    return Reason.CLAIM_MISMATCH, claim


def _header(exc: E.JoseError, peek: TokenPeek) -> Result:
    header = peek.header or {}
    if isinstance(exc, E.MissingCritHeaderError) or (
        isinstance(exc, E.UnsupportedHeaderError) and header.get("crit") is not None
    ):
        return Reason.CRIT_UNSUPPORTED, "crit"
    if peek.bad_header_types:
        name = peek.bad_header_types[0]
        return Reason.HEADER_INVALID, name if name in _HEADER_PARAMS else None
    if isinstance(exc, E.MissingHeaderError):
        for name in ("enc", "alg", "kid"):
            if f"'{name}'" in exc.description:
                return Reason.HEADER_INVALID, name
    return Reason.HEADER_INVALID, None


def _algorithm(exc: E.JoseError, peek: TokenPeek) -> Result:
    if peek.unsigned:
        return _unsigned(peek)
    if isinstance(exc, E.MissingAlgorithmError):
        if peek.header is None:  # a header that is not a JSON object has no 'alg' either
            return _form(peek) or (Reason.MALFORMED, "header")
        if "alg" in peek.bad_header_types:
            return Reason.HEADER_INVALID, "alg"
        return Reason.ALG_NOT_ALLOWED, "missing"
    if isinstance(exc, E.ConflictAlgorithmError):
        return Reason.ALG_NOT_ALLOWED, "key_mismatch"
    if "alg" in peek.bad_header_types:
        return Reason.HEADER_INVALID, "alg"
    return Reason.ALG_NOT_ALLOWED, "unsupported" if "not supported" in exc.description else "not_allowed"


def _decode(exc: E.DecodeError, peek: TokenPeek) -> Result:
    desc = exc.description
    if peek.kind == "jwe":
        if "JSON Web Signature" in desc:  # decoded as a JWS: a JWE where a JWS was expected
            return Reason.UNEXPECTED_FORM, "jwe"
        if "header" in desc:
            return Reason.MALFORMED, "header"
        return Reason.DECRYPTION_FAILED, None
    form = _form(peek)
    if form is not None:
        return form
    if desc.startswith("Invalid header"):
        return Reason.MALFORMED, "header"
    if desc.startswith("Invalid payload"):
        return Reason.MALFORMED, "payload"
    return Reason.MALFORMED, peek.bad_segment() or "segments"


def _through_joserfc(exc: BaseException) -> list[str] | None:
    """The joserfc functions ``exc`` passed through, when the innermost frame that is not a helper joserfc calls
    (cryptography, base64, binascii) is joserfc's own; ``None`` otherwise (the caller's code raised it)."""
    tb: TracebackType | None = exc.__traceback__
    functions: list[str] = []
    innermost = ""
    for _ in range(_MAX_FRAMES):
        if tb is None:
            break
        module = tb.tb_frame.f_globals.get("__name__")
        module = module if isinstance(module, str) else ""
        if module == "joserfc" or module.startswith("joserfc."):
            functions.append(tb.tb_frame.f_code.co_name)
        if module.split(".", 1)[0] not in ("cryptography", "base64", "binascii"):
            innermost = module
        tb = tb.tb_next
    return functions if innermost == "joserfc" or innermost.startswith("joserfc.") else None


def _plain(exc: BaseException, peek: TokenPeek) -> Result | None:
    """A ``ValueError``/``TypeError`` raised inside joserfc (never one raised by the caller's own code); JSON
    nested deeper than Python's recursion limit (a signed payload 5000 deep)."""
    if isinstance(exc, RecursionError):
        return (Reason.MALFORMED, peek.bad_segment() or "payload") if raised_by(exc, "joserfc") else None
    if not isinstance(exc, (ValueError, TypeError)):
        return None
    result = _plain_known(exc, peek) if raised_by(exc, "joserfc", through_helpers=False) else None
    return result if result is not None else _escaped(exc, peek)


def _escaped(exc: BaseException, peek: TokenPeek) -> Result | None:
    """What else escapes joserfc's own steps (found by the Wycheproof vectors): cryptography's ``ValueError`` while
    decrypting a JWE (short tag, an ephemeral key off the curve), ``binascii.Error`` for a segment or a key that is
    not base64url, cryptography's ``ValueError`` for an invalid key being imported."""
    through = _through_joserfc(exc)
    if through is None or not isinstance(exc, ValueError):
        return None
    if peek.kind == "jwe" and "extract_compact" in through:
        return Reason.MALFORMED, "segments"
    if peek.kind == "jwe" and ("decrypt_compact" in through or "decrypt_json" in through):
        return Reason.DECRYPTION_FAILED, None
    if "import_key" in through or "import_key_set" in through:
        return Reason.KEY_INVALID, None
    return None


def _plain_known(exc: BaseException, peek: TokenPeek) -> Result | None:
    """The plain errors joserfc raises itself, by their fixed messages."""
    msg = str(exc)
    if msg == "Invalid JSON Web Encryption":  # a JWERegistry was given: JWE expected
        if peek.kind == "jws":
            return Reason.UNEXPECTED_FORM, "jws"
        return _form(peek) or (Reason.MALFORMED, "segments")
    if "oct key" in msg or "Asymmetric public keys" in msg or msg == "Invalid key":
        return Reason.KEY_INVALID, None
    if msg == "Invalid 'iv' size":
        return Reason.HEADER_INVALID, None
    return _bad_header(peek)


def _bad_header(peek: TokenPeek) -> Result | None:
    """A header value of a JSON type joserfc does not expect can escape as ``TypeError`` (``crit: 5``)."""
    header = peek.header
    if header is None:
        return None
    crit = header.get("crit")
    if "crit" in header and not (isinstance(crit, list) and all(isinstance(c, str) for c in crit)):
        return Reason.CRIT_UNSUPPORTED, "crit"
    if peek.bad_header_types:
        name = peek.bad_header_types[0]
        return Reason.HEADER_INVALID, name if name in _HEADER_PARAMS else None
    return None


def classify(exc: BaseException, peek: TokenPeek) -> Result | None:
    """joserfc's exception -> (reason, detail); ``None`` for a failure that is not about the token."""
    if not isinstance(exc, E.JoseError):
        return _plain(exc, peek)
    # -- claims (JWTClaimsRegistry.validate) --
    if isinstance(exc, E.ClaimError):
        return _claims(exc, peek)
    if isinstance(exc, E.InvalidPayloadError):
        return _form(peek) or (Reason.MALFORMED, "payload")
    if isinstance(exc, E.ExceededSizeError):
        return Reason.OVERSIZED, "token"
    # -- keys --
    if isinstance(exc, E.InvalidKeyIdError):
        # the key lookup runs before the signature check: an unsigned token is still unsigned
        if peek.unsigned:
            return _unsigned(peek)
        if "kid" in peek.bad_header_types:
            return Reason.HEADER_INVALID, "kid"
        return Reason.UNKNOWN_KID, None
    if isinstance(exc, _KEY_MISMATCH):
        return _unsigned(peek) if peek.unsigned else (Reason.ALG_NOT_ALLOWED, "key_mismatch")
    if isinstance(exc, _KEY_INVALID):
        return _unsigned(peek) if peek.unsigned else (Reason.KEY_INVALID, None)
    # -- signature, algorithm, structure --
    if isinstance(exc, E.BadSignatureError):
        if peek.unsigned:
            return _unsigned(peek)
        if peek.bad_segment() == "signature":
            return Reason.MALFORMED, "signature"
        return Reason.BAD_SIGNATURE, None
    if isinstance(exc, (E.UnsupportedAlgorithmError, E.MissingAlgorithmError, E.ConflictAlgorithmError)):
        return _algorithm(exc, peek)
    if isinstance(exc, E.DecodeError):
        return _decode(exc, peek)
    if isinstance(exc, (E.UnsupportedHeaderError, E.MissingCritHeaderError, E.InvalidHeaderValueError)):
        return _header(exc, peek)
    if isinstance(exc, (E.MissingHeaderError, E.MissingEncryptionError)):
        if isinstance(exc, E.MissingEncryptionError):
            return Reason.HEADER_INVALID, "enc"
        return _header(exc, peek)
    if isinstance(exc, E.InvalidEncryptionAlgorithmError):
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    if isinstance(exc, E.InvalidEncryptedKeyError):
        return Reason.DECRYPTION_FAILED, None
    return None


#: the exception classes ``classify`` decides from the class alone (:func:`jwtobs.adapters.by_class`)
BY_CLASS: Final = _by_class(classify, E.ExpiredTokenError)
