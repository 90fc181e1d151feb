"""jwcrypto adapter: jwcrypto's exceptions mapped to reasons, from the library's own objects first.

Entry points: the ``jwcrypto.jwt.JWT(jwt=..., key=..., check_claims=...)`` constructor (wrap the class:
``jwtobs.wrap(jwcrypto.jwt.JWT)`` returns a function that builds and validates a ``JWT``), ``JWT.deserialize``,
``jwcrypto.jws.JWS.deserialize``/``verify`` and ``jwcrypto.jwe.JWE.deserialize``/``decrypt``.

jwcrypto reports several causes with one class: a JWS whose verification fails for *any* reason (alg not
allowed, no ``alg``, unknown critical header, bad signature) raises ``InvalidJWSSignature("Verification failed
for all signatures...")``, and with a ``JWKSet`` an unknown ``kid`` and a key that does not verify both raise
``JWTMissingKey``. The inner errors survive only as ``repr`` strings in the object's ``verifylog``. So the
adapter decides from structured information first:

1. the objects jwcrypto was working with, found in the exception's traceback (the ``JWT``, its ``JWS``/``JWE``
   token with its ``allowed_algs`` and header registry, the ``JWKSet`` that was searched, ``check_claims``);
2. the header and claims of the token (the peek), checked against those objects in jwcrypto's own order
   (critical headers, then ``alg`` presence, then the allowlist, then the key);
3. only when neither decides, the class names and fixed messages in the exception/verify log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from numbers import Number
from types import TracebackType
from typing import Any, Final

from jwcrypto import common, jwe, jwk, jws
from jwcrypto import jwt as jjwt

from jwtobs.adapters import REGISTERED_CLAIMS as _REGISTERED
from jwtobs.adapters import by_class as _by_class
from jwtobs.adapters import raised_by
from jwtobs.adapters import unsigned_reason as _unsigned
from jwtobs.header import TokenPeek
from jwtobs.reasons import Reason

__all__ = ["NAME", "BY_CLASS", "classify", "claims_from_result", "classify_verify_failure"]

NAME: Final = "jwcrypto"

Result = tuple[Reason, "str | None"]

#: frames at most walked per exception chain (bounded)
_MAX_FRAMES: Final = 64
_CLAIM_NAME: Final = re.compile(r"(?:Claim |Invalid ')([A-Za-z0-9_]{1,32})")


def claims_from_result(result: object) -> Mapping[str, Any] | None:
    """A ``JWT`` object's ``claims`` (a JSON string) as a mapping; a mapping result as is."""
    if isinstance(result, Mapping):
        return result
    if isinstance(result, jjwt.JWT):
        try:
            obj = common.json_decode(result.claims)
        except Exception:  # claims not set, or not JSON (check_claims=False accepts any payload)
            return None
        return obj if isinstance(obj, dict) else None
    return None


# --------------------------------------------------------------------------------------------------------------
# structured context: what jwcrypto was working with


class _Context:
    """The jwcrypto objects involved in a failed validation, found in the exception chain's frames."""

    __slots__ = ("jwt", "key", "token")

    def __init__(self) -> None:
        self.jwt: jjwt.JWT | None = None
        self.token: jws.JWS | jwe.JWE | None = None
        self.key: jwk.JWK | jwk.JWKSet | None = None

    def allowed_algs(self) -> list[str]:
        tok = self.token
        if tok is not None:
            try:
                algs = tok.allowed_algs
            except Exception:
                algs = None
            if isinstance(algs, list):
                return [a for a in algs if isinstance(a, str)]
        if self.jwt is not None and isinstance(getattr(self.jwt, "_algs", None), list):
            return list(self.jwt._algs)
        return list(jws.default_allowed_algs)

    def check_claims(self) -> Mapping[str, Any] | None:
        cc = getattr(self.jwt, "_check_claims", None) if self.jwt is not None else None
        return cc if isinstance(cc, Mapping) else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(seen) < 8:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _frames(tb: TracebackType | None) -> Iterator[dict[str, Any]]:
    """The locals of the traceback's frames, except jwtobs's own (the wrapper or patched function that is
    classifying: reading a running frame's ``f_locals`` stores a snapshot holding the exception in that frame,
    a cycle frame -> exception -> traceback -> frame that kept all of them until a garbage collection)."""
    n = 0
    while tb is not None and n < _MAX_FRAMES:
        n += 1
        try:
            frame = tb.tb_frame
            if frame.f_globals.get("__name__", "").partition(".")[0] != "jwtobs":
                yield frame.f_locals
        except Exception:  # pragma: no cover - f_locals cannot fail on CPython; defensive
            pass
        tb = tb.tb_next


def _context(exc: BaseException) -> _Context:
    ctx = _Context()
    for e in _chain(exc):
        for local in _frames(e.__traceback__):
            owner = local.get("self")
            if ctx.jwt is None and isinstance(owner, jjwt.JWT):
                ctx.jwt = owner
            if isinstance(owner, (jws.JWS, jwe.JWE)):
                ctx.token = owner
            key = local.get("key")
            if ctx.key is None and isinstance(key, (jwk.JWK, jwk.JWKSet)):
                ctx.key = key
    if ctx.token is None and ctx.jwt is not None:
        tok = getattr(ctx.jwt, "_token", None)
        if isinstance(tok, (jws.JWS, jwe.JWE)):
            ctx.token = tok
    return ctx


# --------------------------------------------------------------------------------------------------------------
# classification helpers


def _form(peek: TokenPeek) -> Result | None:
    if peek.kind == "malformed" and not peek.header_deep:  # (a header too deep to parse: the library decides)
        return Reason.MALFORMED, peek.malformed_part
    return None


def _crit(peek: TokenPeek, token: object) -> Result | None:
    """jwcrypto's crit rules (``JWS._merge_check_headers``): every name known to the registry, supported and
    present."""
    header = peek.header
    if header is None or "crit" not in header:
        return None
    crit = header["crit"]
    registry = getattr(token, "header_registry", None)
    if registry is None:
        registry = jws.JWSHeaderRegistry if peek.kind != "jwe" else jwe.JWEHeaderRegistry
    if not isinstance(crit, list) or not crit:
        return Reason.CRIT_UNSUPPORTED, "crit"
    for name in crit:
        if not isinstance(name, str) or name not in header:
            return Reason.CRIT_UNSUPPORTED, "crit"
        try:
            param = registry[name]
        except Exception:
            return Reason.CRIT_UNSUPPORTED, "crit"
        if not getattr(param, "supported", False):
            return Reason.CRIT_UNSUPPORTED, "crit"
    return None


def _alg(peek: TokenPeek, ctx: _Context) -> Result | None:
    header = peek.header
    if header is None:
        return None
    if peek.unsigned:
        return _unsigned(peek)
    if "alg" not in header:
        return Reason.ALG_NOT_ALLOWED, "missing"
    if "alg" in peek.bad_header_types:
        return Reason.HEADER_INVALID, "alg"
    if peek.alg not in ctx.allowed_algs():
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    return None


def _keyset_kid(peek: TokenPeek, ctx: _Context) -> Result | None:
    """With a JWKSet, jwcrypto selects keys by ``kid``: no key with the token's kid is an unknown kid."""
    keyset = ctx.key
    if not isinstance(keyset, jwk.JWKSet) or peek.header is None or "kid" not in peek.header:
        return None
    if "kid" in peek.bad_header_types:
        return Reason.HEADER_INVALID, "kid"
    try:
        found = keyset.get_keys(peek.kid)
    except Exception:
        return None
    return (Reason.UNKNOWN_KID, None) if not found else None


def _log_hint(exc: BaseException, ctx: _Context) -> Result | None:
    """Last resort: jwcrypto's verify log (``repr`` of the inner exceptions) and the exception's message."""
    parts = [str(exc)]
    log = getattr(ctx.token, "verifylog", None) or getattr(ctx.token, "decryptlog", None)
    if isinstance(log, list):
        parts.extend(str(x) for x in log[:16])
    text = " ".join(parts)[:4096]
    if "Algorithm not allowed" in text:
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    if 'No "alg"' in text:
        return Reason.ALG_NOT_ALLOWED, "missing"
    if "critical header" in text:
        return Reason.CRIT_UNSUPPORTED, "crit"
    if "Failed header check" in text or "must be protected" in text or "Duplicate header" in text:
        return Reason.HEADER_INVALID, None
    if '"alg" mismatch' in text:
        return Reason.ALG_NOT_ALLOWED, "key_mismatch"
    if "not in key set" in text:
        return Reason.UNKNOWN_KID, None
    return None


def classify_verify_failure(exc: BaseException, peek: TokenPeek, *, keyset: bool = False) -> Result:
    """A JWS that did not verify (``InvalidJWSSignature`` or, with a JWKSet, ``JWKeyNotFound``/``JWTMissingKey``).

    Also used by :mod:`jwtobs.backends.jwcrypto`. The order is jwcrypto's (crit, alg present, allowlist, key),
    except that with a ``JWKSet`` jwcrypto looks the kid up before the allowlist: here a disallowed alg wins over
    an unknown kid (the attack signal over the rotation signal, as in every adapter).
    """
    ctx = _context(exc)
    if peek.kind == "jwe":
        return Reason.DECRYPTION_FAILED, None
    form = _form(peek)
    if form is not None:
        return form
    result = _crit(peek, ctx.token) or _alg(peek, ctx)
    if result is not None:
        return result
    if keyset or isinstance(ctx.key, jwk.JWKSet):
        kid = _keyset_kid(peek, ctx)
        if kid is not None:
            return kid
    return _log_hint(exc, ctx) or (Reason.BAD_SIGNATURE, None)


def _claim_value(exc: BaseException, peek: TokenPeek) -> Result:
    """``JWTInvalidClaimValue``: the first ``check_claims`` entry the token does not satisfy."""
    ctx = _context(exc)
    expected = ctx.check_claims()
    claims = peek.claims()
    name: str | None = None
    if expected is not None and claims is not None:
        for n, want in expected.items():
            if want is None or n not in claims:
                continue
            got = claims[n]
            if n == "aud":
                have = got if isinstance(got, list) else [got]
                wants = want if isinstance(want, list) else [want]
                if not any(w in have for w in wants):
                    name = n
                    break
            elif n in ("exp", "nbf"):
                continue  # explicit exp/nbf comparisons raise JWTExpired / JWTNotYetValid
            elif n == "scope":
                if not isinstance(got, str) or want not in got.split():
                    name = n
                    break
            elif n == "typ":
                if not isinstance(got, str) or _norm_typ(got) != _norm_typ(str(want)):
                    name = n
                    break
            elif got != want:
                name = n
                break
    if name is None:
        m = _CLAIM_NAME.search(str(exc))
        name = m.group(1) if m else None
    if name == "iss":
        return Reason.ISSUER_MISMATCH, "iss"
    if name == "aud":
        return Reason.AUDIENCE_MISMATCH, "aud"
    if name == "typ":
        return Reason.TYPE_MISMATCH, "typ"
    return Reason.CLAIM_MISMATCH, name if name in _REGISTERED else "other"


def _norm_typ(val: str) -> str:
    lc = val.lower()
    return lc if "/" in lc else "application/" + lc


def _claim_format(peek: TokenPeek) -> Result | None:
    """The first registered claim of the wrong JSON type, in jwcrypto's checking order."""
    claims = peek.claims()
    if claims is None:
        return None
    for name in ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "typ"):
        value = claims.get(name)
        if value is None:
            continue
        if name == "aud":
            ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        elif name in ("exp", "nbf", "iat"):
            ok = isinstance(value, Number) and not isinstance(value, bool)
            ok = ok and not (isinstance(value, float) and not math.isfinite(value))  # JSON Infinity overflows int()
        else:
            ok = isinstance(value, str)
        if not ok:
            return Reason.CLAIM_INVALID, name
    return None


def _null_time_claim(peek: TokenPeek) -> Result | None:
    """``exp``/``nbf``/``iat`` present as JSON null: jwcrypto's format check skips it, its clock comparison then
    raises ``TypeError`` (``None < float``)."""
    claims = peek.claims()
    if claims is None:
        return None
    for name in ("exp", "nbf", "iat"):
        if name in claims and claims[name] is None:
            return Reason.CLAIM_INVALID, name
    return None


def _missing_claim(exc: BaseException, peek: TokenPeek) -> Result:
    expected = _context(exc).check_claims()
    claims = peek.claims()
    name: str | None = None
    if expected is not None and claims is not None:
        name = next((n for n in expected if n not in claims), None)
    if name is None:
        m = _CLAIM_NAME.search(str(exc))
        name = m.group(1) if m else None
    return Reason.MISSING_CLAIM, name if name in _REGISTERED else "other"


def _jwe_failure(exc: BaseException, peek: TokenPeek) -> Result:
    if peek.kind == "jws":
        return Reason.UNEXPECTED_FORM, "jws"
    form = _form(peek)
    if form is not None:
        return form
    ctx = _context(exc)
    crit = _crit(peek, ctx.token)
    if crit is not None:
        return crit
    header = peek.header or {}
    if "alg" not in header or "enc" not in header:
        return Reason.ALG_NOT_ALLOWED, "missing"
    allowed = list(jwe.default_allowed_algs)
    tok = ctx.token
    if isinstance(tok, jwe.JWE):
        try:
            allowed = list(tok.allowed_algs)
        except Exception:
            pass
    if header.get("alg") not in allowed or header.get("enc") not in allowed:
        return Reason.ALG_NOT_ALLOWED, "not_allowed"
    if isinstance(ctx.key, jwk.JWKSet):
        kid = _keyset_kid(peek, ctx)
        if kid is not None:
            return kid
    text = str(exc)
    if "exceeds maximum allowed" in text:
        return Reason.OVERSIZED, "decompressed"
    if "Invalid format" in text:
        return Reason.MALFORMED, None
    return Reason.DECRYPTION_FAILED, None


def classify(exc: BaseException, peek: TokenPeek) -> Result | None:
    """jwcrypto's exception -> (reason, detail); ``None`` for a failure that is not about the token."""
    # -- claims (JWT) --
    if isinstance(exc, jjwt.JWTExpired):
        return Reason.EXPIRED, "exp"
    if isinstance(exc, jjwt.JWTNotYetValid):
        return Reason.NOT_YET_VALID, "nbf"
    if isinstance(exc, jjwt.JWTMissingClaim):
        return _missing_claim(exc, peek)
    if isinstance(exc, jjwt.JWTInvalidClaimValue):
        return _claim_value(exc, peek)
    if isinstance(exc, jjwt.JWTInvalidClaimFormat):
        if "not a json dict" in str(exc):
            return Reason.MALFORMED, "payload"
        return _claim_format(peek) or (Reason.CLAIM_INVALID, None)
    # -- keys and signatures --
    if isinstance(exc, common.JWKeyNotFound):  # JWTMissingKey is a subclass
        if peek.kind == "jwe":
            return _jwe_failure(exc, peek)
        return classify_verify_failure(exc, peek, keyset=True)
    if isinstance(exc, jws.InvalidJWSSignature):
        return classify_verify_failure(exc, peek)
    if isinstance(exc, jws.InvalidJWSObject):
        if peek.kind == "jwe":
            return Reason.UNEXPECTED_FORM, "jwe"
        form = _form(peek)
        if form is not None:
            return form
        crit = _crit(peek, _context(exc).token)
        if crit is not None:
            return crit
        if "b64" in str(exc):
            return Reason.HEADER_INVALID, "b64"
        return Reason.MALFORMED, peek.bad_segment() or "segments"
    if isinstance(exc, jws.InvalidJWSOperation):
        if "Algorithm not allowed" in str(exc):
            return _unsigned(peek) if peek.unsigned else (Reason.ALG_NOT_ALLOWED, "not_allowed")
        return None
    if isinstance(exc, (common.InvalidJWEData, common.InvalidJWEOperation, common.InvalidCEKeyLength)):
        if isinstance(exc, common.InvalidJWEOperation) and "Algorithm not allowed" not in str(exc):
            if peek.kind != "jwe":
                return _jwe_failure(exc, peek)
            return None  # e.g. "Plaintext not available": the caller's misuse
        return _jwe_failure(exc, peek)
    if isinstance(exc, (common.InvalidJWEKeyType, common.InvalidJWEKeyLength)):
        return Reason.KEY_INVALID, None
    if isinstance(exc, (jwk.InvalidJWKType, jwk.InvalidJWKValue, jwk.InvalidJWKUsage, jwk.InvalidJWKOperation)):
        return _unsigned(peek) if peek.unsigned else (Reason.KEY_INVALID, None)
    if isinstance(exc, common.InvalidJWAAlgorithm):
        return _unsigned(peek) if peek.unsigned else (Reason.ALG_NOT_ALLOWED, "unsupported")
    # -- what jwcrypto lets escape --
    if not raised_by(exc, "jwcrypto"):
        return None  # the caller's own code failed: a validator error, whatever the class
    if isinstance(exc, RecursionError):
        return Reason.MALFORMED, peek.bad_segment() or "payload"
    if isinstance(exc, OverflowError):  # int() of a JSON Infinity claim
        return _claim_format(peek) or _null_time_claim(peek)
    if isinstance(exc, TypeError):
        msg = str(exc)
        if msg.startswith("Expected JWS, got JWE"):
            return Reason.UNEXPECTED_FORM, "jwe"
        if msg.startswith("Expected JWE, got JWS"):
            return Reason.UNEXPECTED_FORM, "jws"
        return _claim_format(peek) or _null_time_claim(peek)
    if isinstance(exc, ValueError):
        msg = str(exc)
        if msg.startswith("Only the JWS/JWE Compact Serialization"):
            return Reason.UNEXPECTED_FORM, "json"
        if msg.startswith("Token format unrecognized"):
            if peek.kind == "json":
                return Reason.UNEXPECTED_FORM, "json"
            return _form(peek) or (Reason.MALFORMED, "segments")
        if "b64 header" in msg:
            return Reason.HEADER_INVALID, "b64"
        return _form(peek) or _claim_format(peek)
    return None


#: the exception classes ``classify`` decides from the class alone (:func:`jwtobs.adapters.by_class`)
BY_CLASS: Final = _by_class(classify, jjwt.JWTExpired, jjwt.JWTNotYetValid)
