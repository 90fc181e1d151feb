"""Library adapters: one module per JOSE library, each mapping that library's exceptions to a Reason.

Every adapter module defines the same four names:

``NAME``                         the library name used in telemetry (``jwtobs.library``)
``classify(exc, peek)``          ``(Reason, detail)`` for an exception raised while validating, or ``None``
                                 when the exception is not one the library raises for a bad token (the
                                 caller then records JWT_VALIDATOR_ERROR)
``claims_from_result(result)``   the claims mapping inside the validator's return value, or ``None``
``BY_CLASS``                     :func:`by_class` of the exception classes ``classify`` decides from the class
                                 alone (an expired token): the instrumentor's request thread reads the reason
                                 of such an exception from this dict instead of classifying it

Common facts every library shares (no token, wrong type, oversized) are classified in
:func:`classify` before the adapter is asked.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, cast

from jwtobs import libraries
from jwtobs.exceptions import TokenRejected
from jwtobs.header import LaterPeek, TokenPeek
from jwtobs.reasons import Reason

__all__ = ["Adapter", "get", "infer_library", "classify", "by_class", "Known", "LIBRARIES"]
# helpers shared by the adapter modules: claim_detail, form_reason, unsigned_reason, raised_by, REGISTERED_CLAIMS

#: library name -> adapter module (derived from the registry, :mod:`jwtobs.libraries`)
LIBRARIES: Final[dict[str, str]] = {lib.name: lib.adapter for lib in libraries.LIBRARIES}

Classification = tuple[Reason, "str | None"]

#: claim names that may appear as an event ``detail``; any other claim name becomes ``"other"``
REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "typ", "azp", "scope", "nonce"})
#: modules a library calls into that may raise on its behalf (see :func:`raised_by`)
HELPER_MODULES: Final = frozenset(
    {"json", "base64", "binascii", "zlib", "cryptography", "_json", "codecs", "encodings"}
)
_MAX_FRAMES: Final = 64


#: what :func:`by_class` maps an exception class to: ``(reason, detail, reason.value)``
Known = tuple[Reason, "str | None", str]


class Adapter(Protocol):
    NAME: str
    BY_CLASS: Mapping[type, Known]

    def classify(self, exc: BaseException, peek: TokenPeek) -> Classification | None: ...

    def claims_from_result(self, result: object) -> Mapping[str, Any] | None: ...


def get(library: str) -> Adapter:
    """The adapter module for a library name or alias (``pyjwt``, ``joserfc``, ``jose``/``python-jose``,
    ``jwcrypto``, ``authlib``); :class:`~jwtobs.ConfigurationError` naming the extra when it is not installed."""
    return cast(Adapter, libraries.load_adapter(library))


def infer_library(fn: Callable[..., Any]) -> str | None:
    """The library a callable belongs to, from its module (or its bound object's class module)."""
    candidates = [getattr(fn, "__module__", None)]
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        candidates.append(type(owner).__module__)
        candidates.append(getattr(owner, "__name__", None))  # a module's function bound oddly
    for mod in candidates:
        if isinstance(mod, str):
            lib = libraries.from_module(mod)
            if lib is not None:
                return lib.name
    return None


def classify(adapter: Adapter, exc: BaseException, peek: TokenPeek, token_type: type | None = None) -> Classification:
    """The reason for a rejection: shared facts about the token first, then the library's exception.
    ``token_type``: the type of the token as presented; a token other than a ``str`` (``bytes`` to jwcrypto, a
    ``memoryview`` to python-jose) that the library failed on with a ``TypeError``/``AttributeError`` it does not
    classify is a token of a type the library does not take (``JWT_MALFORMED``, ``type``), as any other object
    is."""
    if type(peek) is not LaterPeek:  # (a later peek is of a non-empty text within the size limit: none of these)
        kind = peek.kind
        if kind in ("missing", "empty"):
            return Reason.MISSING, None
        if kind == "invalid_type":
            return Reason.MALFORMED, "type"
        if kind == "oversized":
            return Reason.OVERSIZED, "token"
    if isinstance(exc, TokenRejected):  # jwtobs's own (a Verifier called inside a wrapped function): its reason
        return exc.reason, exc.detail
    try:
        result = adapter.classify(exc, peek)
        if result is None and isinstance(exc, UnicodeError):
            # a token that is not ASCII (a lone surrogate) failed the library's encode: the segment that is not
            # base64url, where the character is (before session 13: JWT_VALIDATOR_ERROR/UnicodeEncodeError)
            segment = peek.bad_segment()
            if segment is not None:
                result = Reason.MALFORMED, segment
    except Exception:  # an adapter bug must not break the caller: fail closed
        result = None
    if result is None:
        if token_type is not None and token_type is not str and isinstance(exc, (TypeError, AttributeError)):
            return Reason.MALFORMED, "type"  # (python-jose and a memoryview: "... has no attribute 'rsplit'")
        keys = _pyjwt_key_source(exc, peek)
        if keys is not None:
            return keys
        fetch = key_fetch_failure(exc)
        if fetch is not None:
            return Reason.JWKS_UNAVAILABLE, fetch
        return Reason.VALIDATOR_ERROR, _exc_name(exc)
    return result


def _pyjwt_key_source(exc: BaseException, peek: TokenPeek) -> Classification | None:
    """What an error of PyJWT's key set classes means under any library's adapter (:func:`jwtobs.adapters.pyjwt.
    key_source`): "Unable to find a signing key" from a ``PyJWKClient`` that picks the key for python-jose or Authlib
    is ``JWT_UNKNOWN_KID`` as under PyJWT's (session 43, blind fleet64: ``JWT_VALIDATOR_ERROR`` before, against
    docs/core.md). PyJWT is imported only when the exception is one of its own."""
    cls = type(exc)
    if not cls.__name__.startswith("PyJWK") or cls.__module__.split(".")[0] != "jwt":
        return None
    from jwtobs.adapters import pyjwt as _pyjwt  # (PyJWT is installed: it raised this)

    return _pyjwt.key_source(exc, peek)


def key_fetch_failure(exc: BaseException) -> str | None:
    """The detail of a network failure escaping a validator - a key set fetched by the application's own code
    (``urllib``, ``http.client``, a socket; ``requests``/``httpx`` errors derive from neither and stay
    ``JWT_VALIDATOR_ERROR``) - or None: ``http_<status>``, ``timeout``, ``dns`` or ``connection``. Such a failure is
    the key source's (``JWT_JWKS_UNAVAILABLE``, 503: retry), not the token's; before session 33 only PyJWT's
    ``PyJWKClientConnectionError`` under ``library="pyjwt"`` was, and a home-grown key cache's ``URLError`` under
    joserfc or Authlib was ``JWT_VALIDATOR_ERROR``. Also ``invalid_json``: a key set body that is no JSON (an HTML
    error or login page answered with 200, a cut body), whose ``JSONDecodeError`` PyJWT's ``PyJWKClient`` lets
    escape - told by where it was raised (:data:`JWKS_CLIENT_MODULE` in its traceback), never by its message
    (session 35: before, ``JWT_VALIDATOR_ERROR``, a 401 in the integrations instead of a 503)."""
    cls = type(exc)
    if cls.__name__ == "PyJWKClientConnectionError" and cls.__module__.split(".")[0] == "jwt":
        return "connection"  # (PyJWT's PyJWKClient inside a validator wrapped for another library)
    if isinstance(exc, json.JSONDecodeError) and passed_through(exc, JWKS_CLIENT_MODULE):
        return "invalid_json"
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        return f"http_{code}" if isinstance(code, int) and 100 <= code <= 599 else "connection"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, BaseException) and reason is not exc:
            return key_fetch_failure(reason) or "connection"
        return "connection"
    if isinstance(exc, TimeoutError):  # (socket.timeout is TimeoutError)
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, (ConnectionError, http.client.HTTPException)):
        return "connection"
    return None


#: PyJWT's key set client (``PyJWKClient.fetch_data`` parses the body with ``json.load``)
JWKS_CLIENT_MODULE: Final = "jwt.jwks_client"


def passed_through(exc: BaseException, module: str) -> bool:
    """Whether a frame of ``module`` is in ``exc``'s traceback (the exception was raised in it, or passed through
    it on its way out), walking at most 64 frames."""
    tb = exc.__traceback__
    n = 0
    while tb is not None and n < _MAX_FRAMES:
        if tb.tb_frame.f_globals.get("__name__") == module:
            return True
        tb = tb.tb_next
        n += 1
    return False


class _Unread:
    """A peek that must not be read (:func:`by_class`): any field read raises."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the classification reads the peek ({name})")


def by_class(
    classify: Callable[[BaseException, TokenPeek], Classification | None], *classes: type[BaseException]
) -> dict[type, Known]:
    """Exception class -> its classification, for classes an adapter's ``classify`` decides from the class alone
    (its first ``isinstance`` tests): computed here by that ``classify`` itself, on an instance made without
    arguments and a peek that raises if read, so the reason lives in ``classify`` only. Exact classes only (a
    subclass is classified as usual). :func:`classify` returns the same for a token whose peek waits
    (:func:`jwtobs.header.peek_later`: none of the shared facts applies): what the instrumentor relies on."""
    out: dict[type, Known] = {}
    for cls in classes:
        result = classify(cls.__new__(cls), cast(TokenPeek, _Unread()))
        if result is None:  # pragma: no cover - a programming error, caught by the adapter tests at import
            raise AssertionError(f"{cls.__qualname__} is not classified")
        out[cls] = (result[0], result[1], result[0].value)
    return out


def _exc_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"[:128]


def claims_mapping(result: object) -> Mapping[str, Any] | None:
    """Helper for adapters: the result itself when it is a mapping."""
    return result if isinstance(result, Mapping) else None


# -- helpers for adapter modules ---------------------------------------------------------------------------------
def claim_detail(name: object, registered: frozenset[str] = REGISTERED_CLAIMS) -> str:
    """A claim name as a low-cardinality ``detail``: registered names as is, anything else ``"other"``."""
    return name if isinstance(name, str) and name in registered else "other"


def form_reason(peek: TokenPeek) -> Classification | None:
    """The reason when the token is not a compact JWS at all (JWE, JSON serialization, malformed), else None."""
    if peek.kind == "jwe":
        return Reason.UNEXPECTED_FORM, "jwe"
    if peek.kind == "json":
        return Reason.UNEXPECTED_FORM, "json"
    if peek.kind == "malformed" and not peek.header_deep:  # (a header too deep to parse: the library decides)
        return Reason.MALFORMED, peek.malformed_part
    return None


def unsigned_reason(peek: TokenPeek) -> Classification:
    """JWT_UNSIGNED with ``alg_none`` (any spelling of ``none``) or ``empty_signature``."""
    alg = peek.alg
    return Reason.UNSIGNED, "alg_none" if alg is not None and alg.strip().lower() == "none" else "empty_signature"


def raised_by(exc: BaseException, package: str, *, through_helpers: bool = True) -> bool:
    """True when ``exc`` was raised by ``package``'s own code, not the caller's: the innermost frame of its
    traceback (with ``through_helpers``, the innermost one outside :data:`HELPER_MODULES`) is in ``package``.
    Walks at most 64 frames."""
    tb = exc.__traceback__
    module = ""
    n = 0
    while tb is not None and n < _MAX_FRAMES:
        n += 1
        name = tb.tb_frame.f_globals.get("__name__")
        if isinstance(name, str) and not (through_helpers and name.split(".", 1)[0] in HELPER_MODULES):
            module = name
        elif not through_helpers:
            module = ""
        tb = tb.tb_next
    return module == package or module.startswith(package + ".")
