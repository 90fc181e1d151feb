"""Framework-free core of the web integrations: RFC 6750 bearer extraction, responses, principal, scopes, tenant.

Every framework module (:mod:`~jwtobs.integrations.starlette`, :mod:`~jwtobs.integrations.fastapi`,
:mod:`~jwtobs.integrations.flask`, :mod:`~jwtobs.integrations.django`) hands the request's
``Authorization`` values, its ``access_token`` query values and the route's tenant to :class:`BearerAuth`, and
turns an :class:`AuthDenied` into the framework's response. The responses are the same everywhere:

=============================================  ======  ==========================================================
situation                                      status  ``WWW-Authenticate``
=============================================  ======  ==========================================================
no credentials                                 401     ``Bearer realm="api"`` (no error code, RFC 6750 §3.1)
two credentials, header + query, bad header    400     ``Bearer realm="api", error="invalid_request"``
any token fault (expired, signature, aud...)   401     ``Bearer realm="api", error="invalid_token"``
token valid, a required scope missing          403     ``Bearer realm="api", error="insufficient_scope", scope=..``
key set unavailable (JWT_JWKS_UNAVAILABLE)     503     none; ``Retry-After`` instead, so clients retry
=============================================  ======  ==========================================================

No response says *why* a token was refused: the reason code goes to the
:class:`~jwtobs.events.ValidationEvent` (span, metrics, event file) and to the ``jwtobs.integrations`` logger,
with the token's fingerprint, never the token.

An *authenticator* is any callable ``(raw_token, *, tenant=None) -> result`` that raises
:class:`~jwtobs.TokenRejected` on rejection: :meth:`jwtobs.Verifier.verify` (bound method), or a validator of
yours wrapped with ``jwtobs.wrap(fn, raise_as="jwtobs")``. It records the request's one event; requests that
never reach it (no credentials, two credentials) are recorded here, so every request has exactly one event.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

from jwtobs import config, pipeline
from jwtobs.exceptions import ConfigurationError, JwtobsError, detail_of, reason_of, was_recorded
from jwtobs.header import MAX_TOKEN_BYTES
from jwtobs.reasons import Reason
from jwtobs.sanitize import detail_label
from jwtobs.wrap import refusal

__all__ = [
    "AuthDenied",
    "Authenticator",
    "BearerAuth",
    "Denial",
    "Principal",
    "RouteRule",
    "TenantSource",
    "exit_on_sigterm",
    "install_redaction",
    "principal_from",
    "auth_scheme",
    "joined_bearer",
    "remember_principal",
    "scopes_of",
    "tenant_from_header",
    "tenant_from_path",
    "verified_principal",
]

log = logging.getLogger("jwtobs.integrations")

Authenticator = Callable[..., Any]

#: RFC 6750 §2.1 b64token
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: RFC 6749 §3.3 scope-token; RFC 7235 quoted-string content without quote/backslash
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_REALM: Final = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}")
#: a request tenant (from the path or a header) must look like an identifier before it reaches telemetry
_TENANT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@\-]{0,127}")
_MAX_SCOPES: Final = 256
_RETRY_AFTER: Final = "5"


# -- route configuration --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TenantSource:
    """Where a route's tenant comes from: a path parameter or a request header (see :func:`tenant_from_path`)."""

    kind: Literal["path", "header"]
    name: str

    def __post_init__(self) -> None:
        if self.kind not in ("path", "header") or not isinstance(self.name, str) or not self.name:
            raise ConfigurationError("TenantSource needs kind 'path' or 'header' and a non-empty name")


def tenant_from_path(name: str = "tenant") -> TenantSource:
    """The request tenant is the path parameter ``name`` (``/tenants/{tenant}/...``)."""
    return TenantSource("path", name)


def tenant_from_header(name: str = "X-Tenant") -> TenantSource:
    """The request tenant is the header ``name``; its absence is a rejection (JWT_TENANT_MISMATCH)."""
    return TenantSource("header", name)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """What one route requires: scopes (all of them) and, optionally, a tenant bound to the token's tenant."""

    scopes: frozenset[str] = frozenset()
    tenant: TenantSource | None = None

    @classmethod
    def of(cls, scopes: Iterable[str] | str = (), tenant: TenantSource | None = None) -> RouteRule:
        items = scopes.split() if isinstance(scopes, str) else list(scopes)
        for s in items:
            if not isinstance(s, str) or not _SCOPE_TOKEN.fullmatch(s):
                raise ConfigurationError(f"scope {s!r} is not an RFC 6749 scope-token")
        if tenant is not None and not isinstance(tenant, TenantSource):
            raise ConfigurationError("tenant must be tenant_from_path(...) or tenant_from_header(...)")
        return cls(frozenset(items), tenant)


# -- the principal --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for. ``claims`` are the verified claims (treat them as personal data)."""

    subject: str | None
    #: ``"user"``, ``"client"`` (client-credentials token: ``sub`` equals ``pipeline.client_of``), or ``"none"``
    subject_kind: str
    tenant: str | None
    scopes: frozenset[str]
    #: ``SCOPE_<scope>`` for each scope, then ``ROLE_<role>`` for each entry of a ``roles`` claim
    authorities: tuple[str, ...]
    claims: Mapping[str, Any] = field(repr=False)
    #: keyed fingerprint of the token (the same as in the event and in redaction markers)
    token_fp: str | None = None

    def has_scopes(self, required: Iterable[str]) -> bool:
        return self.scopes.issuperset(required)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary without the claims (for ``/me`` style endpoints and logs)."""
        return {
            "subject": self.subject,
            "subject_kind": self.subject_kind,
            "tenant": self.tenant,
            "scopes": sorted(self.scopes),
            "authorities": list(self.authorities),
        }


def _str_list(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (RFC 9068/8693: space-separated) and ``scp`` (string or list), bounded."""
    found = _str_list(claims.get("scope")) + _str_list(claims.get("scp"))
    return frozenset(s for s in found[:_MAX_SCOPES] if len(s) <= 256)


def default_subject_kind(claims: Mapping[str, Any]) -> str:
    """RFC 9068 §2.2: a client-credentials token has ``sub`` equal to the client id."""
    sub = claims.get("sub")
    if not isinstance(sub, str):
        return "none"
    client = pipeline.client_of(claims)
    return "client" if isinstance(client, str) and client == sub else "user"


def _claims_of(result: object) -> Mapping[str, Any] | None:
    if isinstance(result, Mapping):
        payload = result.get("payload")
        # jwt.decode_complete: its "signature" is bytes, which no claim decoded from JSON can be. (A claims set
        # with "header" and "payload" claims, e.g. a webhook token's, was read as decode_complete's before
        # session 20: the principal's subject and scopes came from the "payload" claim, so a token with scope
        # "read" and a claim {"payload": {"scope": "admin"}} passed a route requiring "admin".)
        if isinstance(payload, Mapping) and "header" in result and isinstance(result.get("signature"), bytes):
            return payload
        return result
    claims = getattr(result, "claims", None)  # VerifiedToken, joserfc Token, authlib JWTClaims...
    if isinstance(claims, Mapping):
        return claims
    return None


_SCHEME_SPLIT: Final = re.compile(r"([^ \t]*)([ \t]*)(.*)", re.DOTALL)
#: "Bearer" followed by a character that no auth-scheme holds (RFC 9110 token characters) nor SP/HTAB: a broken
#: bearer header (an obs-fold a server passed on as it came, CR LF and all; a vertical tab; a no-break space)
_BROKEN_BEARER: Final = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr][^!#$%&'*+\-.^_`|~0-9A-Za-z]")


def auth_scheme(value: str) -> tuple[str, str, str]:
    """An ``Authorization`` value as (scheme, the blanks after it, the rest), its ends stripped of SP and HTAB (HTTP's
    whitespace, RFC 9110 §5.6.3; before session 33 of every Unicode space, so a no-break space, NEL, a vertical tab or
    a file separator after the token was dropped and the token accepted, while ``Bearer\xa0token`` was 400)."""
    m = _SCHEME_SPLIT.fullmatch(value.strip(" \t"))
    assert m is not None  # (every text matches)
    return m.group(1), m.group(2), m.group(3)


def broken_bearer(scheme: str) -> bool:
    """Whether the scheme part of an ``Authorization`` value (:func:`auth_scheme`) is ``Bearer`` glued to a character
    that no scheme holds: a malformed bearer header, not another scheme."""
    return _BROKEN_BEARER.match(scheme) is not None


#: the parts of joined ``Authorization`` headers looked at (a later bearer part is another scheme's text: no credential)
_MAX_JOINED: Final = 32


def joined_bearer(value: str) -> bool:
    """Whether an ``Authorization`` value of another scheme (or none) is joined headers of which one is a bearer
    credential: a comma, then a part that starts with the ``Bearer`` scheme and a space."""
    if "," not in value or "bearer" not in value.lower():
        return False
    for part in value.split(",", _MAX_JOINED)[1:]:  # (64 KB of commas: 65 536 parts cost 45 ms before)
        scheme, gap, _ = auth_scheme(part)
        if scheme.lower() == "bearer" and gap:
            return True
    return False


#: where a request keeps the principals verified so far, with the authenticator (BearerAuth) of each
_VERIFIED: Final = "_jwtobs_verified"


def _verified_list(holder: Any, create: bool) -> list[tuple[Any, Principal]] | None:
    if isinstance(holder, MutableMapping):
        found = holder.get(_VERIFIED)
        if not isinstance(found, list) and create:
            found = holder[_VERIFIED] = []
    else:
        found = getattr(holder, _VERIFIED, None)
        if not isinstance(found, list) and create:
            found = []
            setattr(holder, _VERIFIED, found)
    return found if isinstance(found, list) else None


def verified_principal(holder: Any, auth: BearerAuth) -> Principal | None:
    """The principal ``auth`` itself verified earlier in this request, or None. ``holder``: the request's own
    state (the ASGI scope, Flask's ``g``, Django's request). A principal one authenticator verified is never taken
    for another's: another issuer, key set or audience may refuse its token (a router's user token reused for an
    admin route's authenticator let it through)."""
    for owner, principal in _verified_list(holder, create=False) or ():
        if owner is auth:
            return principal
    return None


def remember_principal(holder: Any, auth: BearerAuth, principal: Principal) -> None:
    """Keep ``principal`` as verified by ``auth`` for the rest of the request (:func:`verified_principal`)."""
    verified = _verified_list(holder, create=True)
    if verified is not None:
        verified.append((auth, principal))


def principal_from(
    result: object,
    *,
    tenant: str | None = None,
    tenant_claim: str | None = None,
    subject_kind: Callable[[Mapping[str, Any]], str] = default_subject_kind,
    token_fp: str | None = None,
) -> Principal:
    """The :class:`Principal` of an authenticator's result (claims mapping, ``decode_complete``, VerifiedToken).

    Raises :class:`ConfigurationError` when the result carries no claims mapping.
    """
    claims = _claims_of(result)
    if claims is None:
        raise ConfigurationError(f"cannot read claims from a {type(result).__name__} returned by the authenticator")
    sub = claims.get("sub")
    token_tenant = getattr(result, "tenant", None)
    if token_tenant is None and tenant_claim is not None:
        value = claims.get(tenant_claim)
        token_tenant = value if isinstance(value, str) else None
    scopes = scopes_of(claims)
    roles = _str_list(claims.get("roles"))[:_MAX_SCOPES]
    authorities = tuple(f"SCOPE_{s}" for s in sorted(scopes)) + tuple(f"ROLE_{r}" for r in roles)
    return Principal(
        subject=sub if isinstance(sub, str) else None,
        subject_kind=subject_kind(claims),
        tenant=token_tenant if token_tenant is not None else tenant,
        scopes=scopes,
        authorities=authorities,
        claims=claims,
        token_fp=token_fp,
    )


# -- responses ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Denial:
    """The response for a refused request. ``reason``/``detail`` are for telemetry only, never rendered."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: str | None
    reason: Reason | None = None
    detail: str | None = None

    content_type = "application/json"

    @property
    def www_authenticate(self) -> str | None:
        for k, v in self.headers:
            if k == "WWW-Authenticate":
                return v
        return None

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers)

    def with_reason(self, reason: Reason | None, detail: str | None) -> Denial:
        # (an application's own TokenRejected may carry any text: the log line gets the vocabulary's word or "other")
        return Denial(self.status, self.headers, self.body, self.error, reason, detail_label(detail))


class AuthDenied(JwtobsError):
    """Raised by :class:`BearerAuth` when a request is refused; the integrations render ``.denial``."""

    def __init__(self, denial: Denial) -> None:
        self.denial = denial
        # generic on purpose: exception messages end up in logs and error pages
        super().__init__(f"request refused ({denial.status} {denial.error or 'unauthorized'})")


def _challenge(realm: str, error: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{realm}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def _body(obj: Mapping[str, str]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# -- redaction ------------------------------------------------------------------------------------------------
_redaction_warned = False


def install_redaction(*loggers: str) -> bool:
    """Install :mod:`jwtobs.redact` for stdlib logging (called by every integration's setup). Never raises.

    ``loggers``: more logger names to cover whatever handlers they get later (``redact.install(loggers=...)``).
    Returns whether redaction is installed. Without it a warning is logged once: the integrations themselves
    never log tokens, but the framework's access log (a token in a query string) and your own logging of
    headers or exception messages can.
    """
    global _redaction_warned
    try:
        module = importlib.import_module("jwtobs.redact")
        install = getattr(module, "install", None)
        if not callable(install):
            raise ImportError("jwtobs.redact has no install()")
        if loggers:
            install(loggers=loggers)
        else:
            install()
        return True
    except Exception as exc:
        if not _redaction_warned:
            _redaction_warned = True
            log.warning("jwtobs: log redaction not installed (%s); framework logs are not scrubbed", type(exc).__name__)
        return False


def exit_on_sigterm() -> bool:
    """Let SIGTERM end the process through ``sys.exit`` (so ``atexit`` runs, and jwtobs writes its buffered events)
    where nothing handles it: call it where the app is loaded, in the main thread. Returns whether it was set.

    waitress, ``flask run`` and Django's ``runserver`` leave SIGTERM at its default, which ends the process at once,
    and so do hypercorn's worker processes (a SIGTERM to the whole process group, systemd's default): the events of
    the last second or two were lost (tests/integrations/test_real_servers.py: 0 of 50 written when each was stopped
    right after 50 requests; 50 of 50 with this). It changes nothing where the signal is handled already (gunicorn's
    workers and uvicorn install their handlers before they load the app) or ignored, nor outside the main thread.
    ``uvicorn.run(app)`` from a script that called this first raises SIGTERM again, once it has shut down, into this
    handler, which exits cleanly."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False

        def _exit(signum: int, frame: Any) -> None:
            sys.exit(128 + signum)

        signal.signal(signal.SIGTERM, _exit)
    except (ValueError, OSError, AttributeError):  # no SIGTERM here, or not allowed: leave it
        return False
    return True


# -- the authenticator wrapper --------------------------------------------------------------------------------
def _accepts_tenant(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return True
        if p.name == "tenant" and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return True
    return False


def _async_variant(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]] | None:
    """``Verifier.averify`` for a bound ``Verifier.verify``; the function itself when it is a coroutine."""
    if inspect.iscoroutinefunction(fn):
        return fn
    owner = getattr(fn, "__self__", None)
    if owner is not None and getattr(fn, "__name__", None) == "verify":
        averify = getattr(owner, "averify", None)
        if averify is not None and inspect.iscoroutinefunction(averify):
            return averify  # type: ignore[no-any-return]
    return None


async def _run_sync(call: Callable[[], Any]) -> Any:
    """``call()`` in a worker thread with the caller's context (the current span stays the parent).

    anyio's pool when it is there (Starlette and FastAPI use it, and it runs under trio too), else asyncio's.
    """
    try:
        from anyio import to_thread
    except ImportError:  # pragma: no cover - every Starlette has anyio
        return await asyncio.to_thread(call)
    return await to_thread.run_sync(call)


class BearerAuth:
    """Bearer-token authentication shared by the framework integrations.

    authenticator: ``(raw_token, *, tenant=None) -> result`` raising :class:`~jwtobs.TokenRejected`: a bound
        :meth:`jwtobs.Verifier.verify` (used through ``averify`` on asyncio frameworks), or a validator wrapped
        with ``jwtobs.wrap(..., raise_as="jwtobs")``. A wrapped validator with ``raise_as="native"`` works too
        (its exceptions carry their reason).
    realm: the ``realm`` of every ``WWW-Authenticate`` challenge.
    query_param: the RFC 6750 §2.3 URI query parameter. A token there together with a header is always
        JWT_AMBIGUOUS; alone it is accepted only with ``allow_query=True`` (URLs end up in access logs).
    tenant_claim: claim holding the token's tenant, for :attr:`Principal.tenant` when the authenticator's
        result does not carry one (a :class:`~jwtobs.VerifiedToken` does).
    subject_kind: ``claims -> kind`` (default: ``"client"`` when ``sub`` equals the token's client:
        ``azp``, else ``client_id``, ``cid``, ``appid``).
    library, profile: labels of the events recorded here (missing/ambiguous credentials); taken from a
        ``Verifier`` when the authenticator is its bound ``verify``.
    redact: install :mod:`jwtobs.redact` for logging at construction.
    threadpool: on asyncio frameworks, call a synchronous authenticator (one without an async variant, e.g. a
        wrapped ``PyJWKClient`` + ``jwt.decode``, whose key-set fetch blocks) in a worker thread, as FastAPI runs
        a synchronous dependency, so a slow fetch never stalls the event loop; ``False`` calls it on the loop
        (saves the thread hop, ~90 µs of CPU, for a validator that never blocks).
    """

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        realm: str = "api",
        query_param: str | None = "access_token",
        allow_query: bool = False,
        tenant_claim: str | None = None,
        subject_kind: Callable[[Mapping[str, Any]], str] = default_subject_kind,
        library: str | None = None,
        profile: str | None = None,
        redact: bool = True,
        threadpool: bool = True,
    ) -> None:
        if not callable(authenticator):
            raise ConfigurationError("BearerAuth needs a callable authenticator (e.g. verifier.verify)")
        if not isinstance(realm, str) or not _REALM.fullmatch(realm):
            raise ConfigurationError("realm must be 1-128 printable ASCII characters without '\"' or '\\'")
        self.authenticator = authenticator
        self.realm = realm
        self.query_param = query_param
        self.allow_query = bool(allow_query) and query_param is not None
        self.tenant_claim = tenant_claim
        self.subject_kind = subject_kind
        self.accepts_tenant = _accepts_tenant(authenticator)
        self._async = _async_variant(authenticator)
        self.threadpool = bool(threadpool)
        owner = getattr(authenticator, "__self__", None)
        owner_profile = getattr(owner, "profile", None)
        site_library, site_profile = _site_labels(authenticator, owner)
        #: a ``jwtobs.wrap``-ed function of yours records a result of ``None``/``False`` as its own rejection
        #: (``jwtobs.wrap.refusal``): refused here without a second event; a wrapped library entry point does not
        #: (``none_refuses``: some return ``None`` when they accept), so its ``None`` is refused with an event here
        self._records_refusals = bool(getattr(getattr(authenticator, "__jwtobs_site__", None), "none_refuses", False))
        self.library = library or site_library
        self.profile = profile or site_profile
        if tenant_claim is None and isinstance(getattr(owner_profile, "tenant_claim", None), str):
            self.tenant_claim = owner_profile.tenant_claim  # type: ignore[union-attr]
        #: whether the authenticator binds a request tenant: False for a Verifier (or a VerifierSet with one) whose
        #: profile has neither ``tenant_claim`` nor ``issuer_tenant``; None when it cannot be told (your validator)
        self._binds = _binds_tenant(owner)
        # the fixed responses, built once
        self.missing = Denial(
            401,
            (("WWW-Authenticate", _challenge(realm)),),
            _body({"detail": "authentication required"}),
            None,
            Reason.MISSING,
        )
        self.invalid_request = Denial(
            400,
            (("WWW-Authenticate", _challenge(realm, "invalid_request")),),
            _body({"error": "invalid_request"}),
            "invalid_request",
            Reason.AMBIGUOUS,
        )
        self.invalid_token = Denial(
            401,
            (("WWW-Authenticate", _challenge(realm, "invalid_token")),),
            _body({"error": "invalid_token"}),
            "invalid_token",
        )
        self.unavailable = Denial(
            503,
            (("Retry-After", _RETRY_AFTER),),
            _body({"error": "temporarily_unavailable"}),
            "temporarily_unavailable",
            Reason.JWKS_UNAVAILABLE,
        )
        self._forbidden: dict[frozenset[str], Denial] = {}
        self._rules: dict[tuple[Any, Any], RouteRule] = {}
        if redact:
            install_redaction()

    # -- routes -----------------------------------------------------------------------------------------------
    def rule(self, scopes: Iterable[str] | str = (), tenant: TenantSource | None = None) -> RouteRule:
        """A :class:`RouteRule`, checked against this authenticator (tenant binding needs ``tenant=``). Kept per
        declaration (bounded): the frameworks that read a view's requirements on each request (DRF, Flask's
        tenant-bound routes) ask again and get the rule checked once."""
        try:
            key = (scopes if isinstance(scopes, str) else tuple(scopes), tenant)
            cached = self._rules.get(key)
        except TypeError:  # (unhashable: RouteRule.of says what is wrong with it)
            key, cached = None, None
        if cached is not None:
            return cached
        r = self._checked_rule(scopes, tenant)
        if key is not None and len(self._rules) < 1024:
            self._rules[key] = r
        return r

    def _checked_rule(self, scopes: Iterable[str] | str, tenant: TenantSource | None) -> RouteRule:
        r = RouteRule.of(scopes, tenant)
        if r.tenant is not None and not self.accepts_tenant:
            raise ConfigurationError(
                "tenant binding needs an authenticator that takes tenant= (Verifier.verify, or your validator "
                "with a keyword-only tenant parameter)"
            )
        if r.tenant is not None and self._binds is False:
            raise ConfigurationError(
                "tenant binding needs a Profile with tenant_claim= (the claim holding the token's tenant) or "
                "issuer_tenant=: this Verifier's profile has neither, so it cannot tell a token's tenant"
            )
        return r

    def insufficient_scope(self, required: frozenset[str]) -> Denial:
        denial = self._forbidden.get(required)
        if denial is None:
            scope = " ".join(sorted(required))
            denial = Denial(
                403,
                (("WWW-Authenticate", _challenge(self.realm, "insufficient_scope", scope)),),
                _body({"error": "insufficient_scope", "scope": scope}),
                "insufficient_scope",
            )
            if len(self._forbidden) < 1024:
                self._forbidden[required] = denial
        return denial

    def denial_for(self, reason: Reason, detail: str | None = None) -> Denial:
        """The response for a rejection reason: 400, 401 (no code for JWT_MISSING) or 503."""
        if reason is Reason.MISSING:
            base = self.missing
        elif reason is Reason.JWKS_UNAVAILABLE:
            base = self.unavailable
        elif reason.http_status == 400:
            base = self.invalid_request
        else:
            base = self.invalid_token
        return base.with_reason(reason, detail)

    # -- extraction -------------------------------------------------------------------------------------------
    def credential(self, authorization: Sequence[str], query: Sequence[str] = ()) -> str:
        """The one bearer credential of a request, or raises :class:`AuthDenied` (and records the event).

        authorization: every ``Authorization`` header value (servers that join repeated headers with ``,``
        are handled: a comma never occurs in a token).
        query: every value of the ``access_token`` query parameter.
        """
        start = time.perf_counter_ns()
        reason: Reason | None = None
        detail: str | None = None
        token: str | None = None
        oversized: str | None = None
        headers = [v for v in authorization if v is not None]
        if len(headers) > 1:
            reason, detail = Reason.AMBIGUOUS, "headers"
        elif headers:
            scheme, gap, rest = auth_scheme(headers[0])
            if not scheme:
                headers = []  # an empty Authorization header is no credential
            elif scheme.lower() != "bearer":
                if joined_bearer(headers[0]):
                    # two headers a server joined, one of them bearer (an empty one first: ", Bearer x"; another
                    # scheme first: "Basic x, Bearer y"): two credentials, as on servers that keep them apart
                    # (before session 20 these were "no credential", 401 JWT_MISSING, on Werkzeug and Django only)
                    reason, detail = Reason.AMBIGUOUS, "headers"
                elif broken_bearer(scheme):
                    # "Bearer" glued to a character no scheme holds: a malformed bearer header, as a tab is (before
                    # session 21 another scheme, 401 JWT_MISSING: an obs-fold on Django's runserver, which passes
                    # the folded value on, while servers that unfold it answered 200)
                    reason, detail = Reason.AMBIGUOUS, "header"
                else:
                    headers = []  # another scheme (Basic, DPoP...) is not a bearer credential
            elif "\t" in gap:
                reason, detail = Reason.AMBIGUOUS, "header"  # a bearer credential after a tab: malformed (RFC 7235: SP)
            else:
                cred = rest.strip(" ")
                if cred.startswith("{"):  # a JWS/JWE in the JSON serialization (RFC 7515 §7.2): a token, not two
                    reason, detail = Reason.UNEXPECTED_FORM, "json"
                elif "," in cred:
                    reason, detail = Reason.AMBIGUOUS, "headers"
                elif len(cred) > MAX_TOKEN_BYTES:
                    # one credential over the size limit every wrapped validator applies (jwtobs.header's): an
                    # oversized token, an attack signal, 401 as from the validator (session 35: before, 400
                    # JWT_AMBIGUOUS "header", not an attack signal, no size in the event)
                    reason, detail, oversized = Reason.OVERSIZED, "token", cred
                elif not cred or not _B64TOKEN.fullmatch(cred):
                    reason, detail = Reason.AMBIGUOUS, "header"
                else:
                    token = cred
        if reason is None:
            if query:
                if headers:
                    reason, detail = Reason.AMBIGUOUS, "header_and_query"
                elif len(query) > 1:
                    reason, detail = Reason.AMBIGUOUS, "query"
                elif not self.allow_query:
                    reason, detail = Reason.AMBIGUOUS, "query_not_allowed"
                else:
                    token = query[0]
            elif not headers:
                reason = Reason.MISSING
        if reason is not None:
            self.reject(reason, detail, token=oversized, start_ns=start)
        assert token is not None
        return token

    def reject(
        self,
        reason: Reason,
        detail: str | None = None,
        *,
        tenant: str | None = None,
        token: str | None = None,
        start_ns: int | None = None,
    ) -> NoReturn:
        """Record the event of a request refused before reaching the authenticator, and raise AuthDenied."""
        start = time.perf_counter_ns() if start_ns is None else start_ns
        event = pipeline.record(
            outcome="rejected",
            reason=reason.value,
            detail=detail,
            library=self.library,
            profile=self.profile,
            token=token,
            peek=None,
            claims=None,
            start_ns=start,
            end_ns=time.perf_counter_ns(),
            tenant=tenant,
        )
        denial = self.denial_for(reason, detail)
        # events are built off the request thread by default (event is None then): fingerprint the token here
        fp = event.token_fp if event is not None else (None if token is None else _fingerprint(token))
        self._log_denial(denial, fp)
        raise AuthDenied(denial)

    def tenant_of(
        self, rule: RouteRule, path_params: Mapping[str, Any], header: Callable[[str], Sequence[str]]
    ) -> str | None:
        """The request tenant for ``rule`` (``None`` when the route binds none); raises AuthDenied when the
        route binds one and the request has none, several, or one that is not an identifier."""
        src = rule.tenant
        if src is None:
            return None
        if src.kind == "path":
            raw = path_params.get(src.name)
            values = [] if raw is None else [str(raw)]
        else:
            values = [v.strip() for v in header(src.name) for v in v.split(",")]
        if len(set(values)) > 1:
            self.reject(Reason.AMBIGUOUS, "tenant")
        if not values or not values[0]:
            self.reject(Reason.TENANT_MISMATCH, "missing")
        value = values[0]
        if not _TENANT.fullmatch(value):
            self.reject(Reason.TENANT_MISMATCH, "request")
        return value

    # -- authentication ---------------------------------------------------------------------------------------
    def authenticate(
        self,
        authorization: Sequence[str],
        query: Sequence[str] = (),
        *,
        rule: RouteRule | None = None,
        tenant: str | None = None,
    ) -> Principal:
        """Extract the credential, run the authenticator, check the rule's scopes. Raises AuthDenied."""
        token = self.credential(authorization, query)
        try:
            result = self.authenticator(token, tenant=tenant) if tenant is not None else self.authenticator(token)
        except Exception as exc:
            self._rejected(exc, token, tenant)
        return self._accepted(result, token, tenant, rule)

    async def aauthenticate(
        self,
        authorization: Sequence[str],
        query: Sequence[str] = (),
        *,
        rule: RouteRule | None = None,
        tenant: str | None = None,
    ) -> Principal:
        """:meth:`authenticate` for asyncio (a Verifier's ``averify`` keeps JWKS fetches off the loop)."""
        token = self.credential(authorization, query)
        try:
            afn = self._async
            if afn is not None:
                result = await (afn(token, tenant=tenant) if tenant is not None else afn(token))
            elif self.threadpool:
                call = functools.partial(self.authenticator, token)
                if tenant is not None:
                    call = functools.partial(self.authenticator, token, tenant=tenant)
                result = await _run_sync(call)
            else:
                result = self.authenticator(token, tenant=tenant) if tenant is not None else self.authenticator(token)
        except Exception as exc:
            self._rejected(exc, token, tenant)
        return self._accepted(result, token, tenant, rule)

    def check(self, principal: Principal, rule: RouteRule | None) -> Principal:
        """Raise AuthDenied (403 insufficient_scope) unless ``principal`` has every scope of ``rule``."""
        if rule is not None and rule.scopes and not principal.scopes.issuperset(rule.scopes):
            denial = self.insufficient_scope(rule.scopes)
            log.info(
                "jwtobs: 403 insufficient_scope profile=%s required=%s token_fp=%s",
                self.profile,
                " ".join(sorted(rule.scopes)),
                principal.token_fp,
            )
            raise AuthDenied(denial)
        return principal

    def _accepted(self, result: object, token: str, tenant: str | None, rule: RouteRule | None) -> Principal:
        fp = _fingerprint(token)
        if self._records_refusals:
            refused = refusal(result)
            if refused is not None:  # the wrapped validator's rejection (JWT_VALIDATOR_ERROR returned_none): its event
                denial = self.denial_for(Reason.VALIDATOR_ERROR, refused)
                self._log_denial(denial, fp)
                raise AuthDenied(denial)
        try:
            principal = principal_from(
                result, tenant=tenant, tenant_claim=self.tenant_claim, subject_kind=self.subject_kind, token_fp=fp
            )
            token_tenant = _token_tenant(result, principal, self.tenant_claim) if tenant is not None else None
        except Exception as exc:  # fail closed: a result we cannot read is not an identity
            log.error("jwtobs: authenticator result unusable (%s); request refused", type(exc).__name__)
            # (the validator's own event, if any, says accepted: this refusal is an event of its own)
            self.reject(Reason.VALIDATOR_ERROR, "result", tenant=tenant, token=token)
        if tenant is not None and token_tenant != tenant and (token_tenant is not None or self.tenant_claim):
            # the authenticator took tenant= and still returned a token of another tenant (or, with a tenant claim
            # named, of none): refused here too, an event of its own after the authenticator's accepted one
            self.reject(
                Reason.TENANT_MISMATCH, "request" if token_tenant is not None else "missing", tenant=tenant, token=token
            )
        return self.check(principal, rule)

    def reused(self, principal: Principal, rule: RouteRule | None, tenant: str | None) -> Principal:
        """``principal``, which this authenticator verified earlier in the request (a router's dependency, an outer
        decorator), for a route whose ``rule`` may bind the request ``tenant``: a tenant other than the
        principal's is refused (401 ``JWT_TENANT_MISMATCH``, recorded: the earlier event said accepted), never
        widened; then the rule's scopes (403)."""
        if rule is not None and rule.tenant is not None and tenant != principal.tenant:
            self.reject(Reason.TENANT_MISMATCH, "request" if principal.tenant is not None else "missing", tenant=tenant)
        return self.check(principal, rule)

    def _rejected(self, exc: Exception, token: str, tenant: str | None) -> NoReturn:
        reason = reason_of(exc)
        if reason is None:
            # not observed by jwtobs (no event exists yet): record it, and fail closed
            self.reject(Reason.VALIDATOR_ERROR, type(exc).__name__[:64], tenant=tenant, token=token)
        if not was_recorded(exc):
            # a TokenRejected the authenticator raised itself (a revocation check after verify): its event
            self.reject(reason, detail_of(exc), tenant=tenant, token=token)
        denial = self.denial_for(reason, detail_of(exc))
        event = getattr(exc, "event", None)
        fp = getattr(event, "token_fp", None) or _fingerprint(token)
        self._log_denial(denial, fp)
        raise AuthDenied(denial) from None

    def _log_denial(self, denial: Denial, fp: str | None) -> None:
        log.info(
            "jwtobs: %d %s reason=%s detail=%s profile=%s token_fp=%s",
            denial.status,
            denial.error or "unauthenticated",
            None if denial.reason is None else denial.reason.value,
            denial.detail,
            self.profile,
            fp,
        )


def _token_tenant(result: object, principal: Principal, tenant_claim: str | None) -> str | None:
    """The tenant the token itself names (a VerifiedToken's, else ``tenant_claim``'s value), never the request's."""
    value = getattr(result, "tenant", None)
    if isinstance(value, str):
        return value
    if tenant_claim is not None:
        claim = principal.claims.get(tenant_claim)
        return claim if isinstance(claim, str) else None
    return None


def _site_labels(authenticator: object, owner: object) -> tuple[str, str]:
    """The library and profile labels of the events recorded here: a Verifier's; a VerifierSet's when its
    verifiers share them (its one profile's name, else ``default``); a ``jwtobs.wrap``-ed validator's; else
    ``unknown``/``default`` (before session 33 a VerifierSet and a wrapped validator were ``unknown`` too)."""
    site = getattr(authenticator, "__jwtobs_site__", None)
    if site is not None:
        return str(getattr(site, "library", None) or "unknown"), str(getattr(site, "profile", None) or "default")
    verifiers = getattr(owner, "verifiers", None)
    if isinstance(verifiers, tuple) and verifiers:
        libraries = {str(getattr(v, "library", None) or "unknown") for v in verifiers}
        names = {str(getattr(getattr(v, "profile", None), "name", None) or "default") for v in verifiers}
        return (libraries.pop() if len(libraries) == 1 else "unknown"), (names.pop() if len(names) == 1 else "default")
    profile = getattr(owner, "profile", None)
    return str(getattr(owner, "library", None) or "unknown"), str(getattr(profile, "name", None) or "default")


def _binds_tenant(owner: object) -> bool | None:
    """Whether a Verifier (every verifier of a VerifierSet) can bind a request tenant; None for anything else."""
    from jwtobs.verifier import Verifier, VerifierSet

    if isinstance(owner, VerifierSet):
        verifiers: tuple[Any, ...] = owner.verifiers
    elif isinstance(owner, Verifier):
        verifiers = (owner,)
    else:
        return None
    return all(v.profile.tenant_claim is not None or v.profile.issuer_tenant is not None for v in verifiers)


def _fingerprint(token: str) -> str | None:
    try:
        return config.current().fingerprinter.token(token)
    except Exception:  # pragma: no cover - a fingerprint is a convenience, never a reason to fail
        return None
