"""``wrap(fn)``: observe a validator you already use, without changing what it returns or raises.

The wrapped callable has the same signature, return value, exception class, message and traceback as
``fn``. On every call it produces one :class:`~jwtobs.events.ValidationEvent` (accepted, or rejected with a
:class:`~jwtobs.reasons.Reason` from the library's adapter) and emits it as a span, metrics and sink
records. The reason of a raised exception is readable with :func:`jwtobs.reason_of`.

Nested observed validations (a wrapped function that calls an instrumented ``jwt.decode``) record once:
the outermost call owns the event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final, Literal, ParamSpec, TypeVar, cast, overload

from jwtobs import adapters, libraries, pipeline
from jwtobs.exceptions import ConfigurationError, TokenRejected, annotate
from jwtobs.header import MAX_TOKEN_BYTES, as_text, padded, peek_later, settled
from jwtobs.reasons import Reason

__all__ = ["wrap", "active", "observer", "running", "refusal", "ACTIVE", "RETURNED_NONE", "RETURNED_FALSE", "CANCELLED"]

classify = adapters.classify
record = pipeline.observed

P = ParamSpec("P")
R = TypeVar("R")

#: Whether an observed validation runs in this context: ``True`` while one does (code that patches entry points
#: in place, :mod:`jwtobs.instrumentation`, sets and resets it around its calls too, so nested observations
#: record once), ``False`` when none does, or the list :mod:`jwtobs.instrumentation` keeps for a two-step
#: library's decode (joserfc, authlib), whose first item is ``True`` while that decode or its claims check
#: runs (``False`` while the decode waits for its claims check, ``None`` once done): one context variable
#: and one write per two-step validation. Test it with :func:`running`.
ACTIVE: Final[ContextVar[Any]] = ContextVar("jwtobs_validation_active", default=False)


def running(value: Any) -> bool:
    """Whether ``value`` (:data:`ACTIVE`'s) says an observed validation runs (what the hot paths test inline:
    ``value is True or (value is not False and value[0] is True)``)."""
    return value is True or (value is not False and value[0] is True)


#: keyword names under which validators take the token
TOKEN_KWARGS: Final = ("token", "jwt", "value", "s", "raw", "raw_token", "jws", "jwe", "data")

RaiseAs = Literal["native", "jwtobs"]

#: the ``detail`` of a validation whose validator returned ``None`` (the ``try: return jwt.decode(...) except
#: PyJWTError: return None`` idiom) or ``False``: a refusal that raised nothing, recorded as JWT_VALIDATOR_ERROR
#: with this detail (session 35: before, recorded as accepted, with the peeked - unverified - claims, and the
#: cardinality guard learned the token's issuer and kid)
RETURNED_NONE: Final = "returned_none"
RETURNED_FALSE: Final = "returned_false"
#: the ``detail`` of an awaited validation cancelled before its verdict (``asyncio.wait_for``'s timeout, a client
#: that went away): JWT_VALIDATOR_ERROR (session 35: before, no event)
CANCELLED: Final = "cancelled"


def refusal(result: object) -> str | None:
    """The detail of a validator's result that refuses the token (``None``: :data:`RETURNED_NONE`, ``False``:
    :data:`RETURNED_FALSE`), or ``None`` for any other result. Identity, not truthiness: an empty claims dict
    or ``0`` is a result like any other."""
    if result is None:
        return RETURNED_NONE
    if result is False:
        return RETURNED_FALSE
    return None


def active() -> bool:
    """True while an observed validation is running in this context (used to avoid double recording)."""
    return running(ACTIVE.get())


def _token_getter(
    token_arg: int | str | None, fn: Callable[..., Any] | None = None
) -> Callable[[tuple[Any, ...], dict[str, Any]], object]:
    """Where a call's token is: ``args[token_arg]`` (default 0), else the first of :data:`TOKEN_KWARGS` given;
    for a parameter name, that keyword or, passed positionally, the argument at the parameter's position in
    ``fn``'s signature (found once, here; session 35: before, the keyword only, and a positional call was
    recorded as JWT_MISSING). Without a readable signature, the keyword only."""
    if isinstance(token_arg, str):
        name = token_arg
        at = None if fn is None else _param_at(fn, name)
        if at is None:
            return lambda args, kwargs: kwargs.get(name)
        position = at

        def named(args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
            return args[position] if len(args) > position else kwargs.get(name)

        return named
    index = 0 if token_arg is None else token_arg

    def get(args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        if len(args) > index:
            return args[index]
        for k in TOKEN_KWARGS:
            if k in kwargs:
                return kwargs[k]
        return None

    return get


#: libraries whose ``options={"verify_signature": False}`` turns a decode into a peek (no signature checked): those
#: with an entry point taking such options (:attr:`jwtobs.libraries.Target.options_at`)
PEEK_LIBRARIES: Final = frozenset(
    t.library for lib in libraries.LIBRARIES for t in lib.targets if t.options_at is not None
)


def unverified(options: Any) -> bool:
    """Whether a PyJWT / python-jose ``options`` argument makes the call a peek: the libraries' own test, a
    falsy ``verify_signature`` (``False``, ``0``, ``None``, ``""``) in any mapping (the instrumentor tested only
    ``... is False`` in a ``dict`` before session 13: ``{"verify_signature": 0}`` recorded a forged token as
    accepted, and the cardinality guard learned its issuer and kid). Options it cannot read are no peek (the call
    is recorded)."""
    try:
        return not options.get("verify_signature", True)
    except Exception:
        return False


def _param_at(fn: Callable[..., Any], name: str) -> int | None:
    """The positional index of ``fn``'s parameter ``name`` (a keyword-only one: an index no call reaches), or
    ``None`` when it has none or its signature cannot be read."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    for i, p in enumerate(params):
        if p.name == name:
            positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            return i if positional else 1 << 30  # (keyword-only: never positional)
    return None


def _options_at(fn: Callable[..., Any], library: str) -> int | None:
    """The positional index of ``fn``'s ``options`` parameter when its calls can be peeks (PyJWT's and
    python-jose's decodes, or a function of yours with an ``options`` parameter that validates with them), else
    ``None``."""
    return _param_at(fn, "options") if library in PEEK_LIBRARIES else None


def _is_async(fn: Callable[..., Any]) -> bool:
    """``fn`` is an ``async def`` function, or an object whose ``__call__`` is one (before session 32 such an object
    was wrapped as a plain function: its coroutine was recorded as accepted before anything was checked)."""
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return False
    return inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004 - the method, not callability


def _key_at(fn: Callable[..., Any], library: str) -> int | None:
    """For jwcrypto, the positional index of ``fn``'s ``key`` parameter (``JWT(jwt=..., key=...)``,
    ``JWT().deserialize(token, key=None)``): a call without a key parses and verifies nothing, so it is no
    validation (as :func:`unverified` for PyJWT's peeks; the instrumentor records such a call's parse failures
    only). ``None`` for the other libraries and for functions of yours without such a parameter."""
    return _param_at(fn, "key") if library == "jwcrypto" else None


def _keyless(args: tuple[Any, ...], kwargs: dict[str, Any], at: int) -> bool:
    key = args[at] if len(args) > at else kwargs.get("key")
    try:
        return not key  # (what jwcrypto tests: "if key:")
    except Exception:
        return False  # a key that cannot say: the call is recorded


class _Observer:
    """Construction-time decisions for one wrapped callable; ``accepted``/``rejected`` are the hot path."""

    __slots__ = ("adapter", "claims_from_result", "get_token", "library", "max_bytes", "none_refuses", "profile")

    def __init__(
        self,
        adapter: adapters.Adapter,
        profile: str,
        token_arg: int | str | None,
        fn: Callable[..., Any] | None = None,
    ) -> None:
        self.adapter = adapter
        self.library = adapter.NAME
        self.profile = profile
        self.get_token = _token_getter(token_arg, fn)
        self.claims_from_result = adapter.claims_from_result
        self.max_bytes = MAX_TOKEN_BYTES
        #: a result of ``None``/``False`` is a refusal (:func:`refusal`) for a function of yours; a library's own
        #: entry point raises on a bad token, and some return ``None`` when they accept (jwcrypto's
        #: ``JWT().deserialize``, joserfc's ``JWTClaimsRegistry.validate``): decided once, from ``fn``'s module
        self.none_refuses = fn is not None and adapters.infer_library(fn) is None

    def accepted(self, token: object, result: object, t0: int, dt: int) -> None:
        """Record a validator's result: accepted, unless the result is a refusal (:func:`refusal`)."""
        if self.none_refuses and (result is None or result is False):
            self.refused(token, RETURNED_NONE if result is None else RETURNED_FALSE, t0, dt)
            return
        try:
            # No peek here: the event builder peeks (on the background thread by default), and claims None
            # means "the peeked claims". t0 is wall-clock ns (time.time_ns).
            pipeline.accepted(self, token, self.claims_from_result(result), t0, t0 + dt)
        except Exception as exc:  # a result the adapter cannot read (a mapping whose get() raises): counted
            _lost(exc)

    def refused(self, token: object, detail: str, t0: int, dt: int) -> None:
        """Record a rejection that raised nothing (a result of ``None``/``False``, a cancelled validation):
        JWT_VALIDATOR_ERROR with ``detail``; no claims, so the cardinality guard learns nothing from it. Never
        raises (:func:`jwtobs.pipeline.observed` does not)."""
        record(self, token, None, t0, t0 + dt, "rejected", None, Reason.VALIDATOR_ERROR._value_, detail)

    def settle(self, token: object, t0: int, p0: int, future: Any) -> None:
        """``add_done_callback`` of a future a plain validator returned (an ``asyncio`` or a
        ``concurrent.futures`` one): record its verdict when it comes. The exception is read from the future's
        ``_exception`` where it has one (both kinds do): ``asyncio``'s ``exception()`` would mark it retrieved and
        silence asyncio's "exception was never retrieved" for the application. Never raises."""
        try:
            dt = time.perf_counter_ns() - p0
            if future.cancelled():
                self.refused(token, CANCELLED, t0, dt)
                return
            exc = getattr(future, "_exception", _NO_ATTRIBUTE)
            if exc is _NO_ATTRIBUTE:
                exc = future.exception()
            if isinstance(exc, BaseException):
                self.rejected(token, exc, t0, dt)
            else:
                self.accepted(token, future.result(), t0, dt)
        except Exception as exc:  # a future that breaks when read: the record is lost, and counted
            _lost(exc)

    def rejected(self, token: object, exc: BaseException, t0: int, dt: int) -> tuple[Any, str | None]:
        try:
            # the token is peeked only if the adapter needs its header for this exception (an expired token's
            # reason needs nothing of it); otherwise the event builder peeks, off the request thread
            p = peek_later(token, max_bytes=self.max_bytes)
            reason, detail = classify(self.adapter, exc, p, type(token))
            if reason in _SPACE_BROKEN and detail != "type" and _spaced(token):
                reason, detail = Reason.MALFORMED, "whitespace"
            annotate(exc, reason, detail)
            record(self, token, None, t0, t0 + dt, "rejected", settled(p), reason._value_, detail)
            return reason, detail
        except Exception as exc:  # a token or an exception that breaks when read (a str subclass, __setattr__)
            _lost(exc)
            return Reason.VALIDATOR_ERROR, None


def _itself(awaitable: Awaitable[Any]) -> Awaitable[Any]:
    return awaitable


_NO_ATTRIBUTE: Final = object()
_isfuture = asyncio.isfuture
_ThreadFuture = concurrent.futures.Future


def _deferred(result: object) -> Literal["future", "awaitable", "generator"] | None:
    """What a plain validator's result is when its verdict is not known yet: a future (``asyncio``'s - a
    ``Task`` too - or ``concurrent.futures``'): returned as it is, its verdict recorded when it is done; another
    awaitable (a coroutine): recorded when it is awaited; a generator (sync or async): its code has not run, no
    verdict exists, so the call is not recorded (session 35: before, recorded as accepted at once); ``None`` for
    a verdict."""
    kind = type(result)
    if kind in _VERDICTS:
        return None
    if _isfuture(result) or isinstance(result, _ThreadFuture):
        return "future"
    if inspect.isawaitable(result):
        return "awaitable"
    if inspect.isgenerator(result) or inspect.isasyncgen(result):
        return "generator"
    if len(_VERDICTS) < _VERDICT_TYPES:
        _VERDICTS.add(kind)
    return None


#: the result types found to be verdicts (a library's token or claims class): each one's checks are made once (four
#: of them cost ~0.4 us a call, against ~0.05 us for this lookup), up to _VERDICT_TYPES types
_VERDICTS: set[type] = set()
_VERDICT_TYPES: Final = 64


def _lost(exc: BaseException) -> None:
    """A validation whose record could not be made: counted as lost (``jwtobs.events.dropped``), never raised
    (before session 32, a result or an exception that raised when read lost its event silently)."""
    pipeline._failed(None, "event", exc, lost=1)


#: what a library makes of whitespace around a token: a segment that does not decode (``header`` when leading,
#: ``signature`` or ``segments`` when trailing, by library) or, joserfc with a trailing newline, a signature that
#: does not verify. Such a rejection gets the contract's classification (docs/contract.md), the Verifier's:
#: JWT_MALFORMED ``whitespace`` (before session 20: the segment, or JWT_BAD_SIGNATURE). Any other reason (an
#: expired token, a key set that cannot be fetched, a token type the library does not take) stays.
_SPACE_BROKEN: Final = frozenset({Reason.MALFORMED, Reason.BAD_SIGNATURE})


def _spaced(token: object) -> bool:
    """Whitespace before or after the token, a ``str`` or ASCII bytes (:func:`jwtobs.header.padded`, the
    Verifier's test)."""
    text = as_text(token)
    return text is not None and padded(text)


def _recorded_rejection(reason: Any, detail: str | None) -> TokenRejected:
    """``raise_as="jwtobs"``'s exception, annotated as the library's was: its event is recorded
    (:func:`jwtobs.exceptions.was_recorded`)."""
    rejected = TokenRejected(reason, detail)
    annotate(rejected, reason, detail)
    return rejected


def observer(library: str, *, profile: str = "default", token_arg: int | str | None = None) -> _Observer:
    """The recorder :func:`wrap` builds for one validator: ``accepted(token, result, t0, dt)`` and
    ``rejected(token, exc, t0, dt)`` (classify, annotate, record). For code that patches entry points in place
    (:mod:`jwtobs.instrumentation`); it marks its calls with the same context variable, so nesting with
    wrapped functions records once."""
    return _Observer(adapters.get(library), str(profile), token_arg)


@overload
def wrap(
    fn: Callable[P, Awaitable[R]],
    *,
    library: str | None = ...,
    profile: str = ...,
    raise_as: RaiseAs = ...,
    token_arg: int | str | None = ...,
) -> Callable[P, Awaitable[R]]: ...
@overload
def wrap(
    fn: Callable[P, R],
    *,
    library: str | None = ...,
    profile: str = ...,
    raise_as: RaiseAs = ...,
    token_arg: int | str | None = ...,
) -> Callable[P, R]: ...


def wrap(
    fn: Callable[P, Any],
    *,
    library: str | None = None,
    profile: str = "default",
    raise_as: RaiseAs = "native",
    token_arg: int | str | None = None,
) -> Callable[P, Any]:
    """Return an observed version of the validator ``fn``.

    fn: ``jwt.decode``, ``jwt.PyJWT().decode``, a joserfc/python-jose/jwcrypto/authlib entry point, or any
        function of yours that validates with one of them inside (then pass ``library=``).
    library: ``pyjwt``, ``joserfc``, ``jose``, ``jwcrypto`` or ``authlib`` (or an alias such as
        ``python-jose``, see :mod:`jwtobs.libraries`); inferred from ``fn``'s module when omitted. Raises
        :class:`ConfigurationError` when it cannot be inferred or the library is not installed.
    profile: name of this validation site, used in span names and metric attributes (keep it a constant).
    raise_as: ``"native"`` re-raises the library's exception unchanged; ``"jwtobs"`` raises
        :class:`TokenRejected` chained ``from`` it.
    token_arg: where the token is: a positional index (default 0, falling back to the keywords ``token``,
        ``jwt``, ``value``, ``s``...) or a parameter name (its keyword, or its position in ``fn``'s signature).
    """
    if getattr(fn, "__jwtobs_wrapped__", False):
        return fn
    if raise_as not in ("native", "jwtobs"):
        raise ConfigurationError("raise_as must be 'native' or 'jwtobs'")
    if not callable(fn):
        raise ConfigurationError("wrap() needs a callable")
    lib = library or adapters.infer_library(fn)
    if lib is None:
        raise ConfigurationError(
            f"cannot infer the JOSE library of {getattr(fn, '__qualname__', fn)!r}; pass library='pyjwt' "
            f"(or one of {', '.join(libraries.NAMES)})"
        )
    if token_arg is None and lib == "jwcrypto" and (_param_at(fn, "jwt") or 0) > 0:
        # jwcrypto's JWT(header=None, claims=None, jwt=None, key=None, ...): the token is its third parameter, by
        # keyword or by position (session 35: before, args[0] - the header - was taken for the token)
        token_arg = "jwt"
    obs = _Observer(adapters.get(lib), str(profile), token_arg, fn)
    as_jwtobs = raise_as == "jwtobs"
    get_token = obs.get_token
    claims_of = obs.claims_from_result
    first = token_arg is None or token_arg == 0  # the token is args[0] when there is one
    # A peek - options={"verify_signature": False}, to read iss or kid before choosing a key - is not a
    # validation: not recorded, as the instrumentor does (before session 20 jwtobs.wrap(jwt.decode) recorded a
    # forged token peeked at as accepted, and the cardinality guard learned its issuer and kid)
    opt_at = _options_at(fn, lib)
    time_ns = time.time_ns
    perf_ns = time.perf_counter_ns

    async def observed_await(
        call: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        token: object,
        t0: int,
        p0: int,
    ) -> Any:
        """The verdict of an awaited validation (an ``async def`` validator, or a function returning an awaitable):
        ``call(*args, **kwargs)`` awaited (called inside: a call that raises is recorded too), recorded when it
        comes, the awaited code marked as observing (nested observed validations record once)."""
        ctx_token = ACTIVE.set(True)
        try:
            result = await call(*args, **kwargs)
        except asyncio.CancelledError:
            # cancelled before its verdict (asyncio.wait_for's timeout during a slow key-set fetch, a client gone):
            # one rejection recorded, the CancelledError propagates unchanged (session 35: before, no event).
            # KeyboardInterrupt, SystemExit and the like pass through unrecorded and unchanged.
            obs.refused(token, CANCELLED, t0, perf_ns() - p0)
            raise
        except Exception as exc:
            reason, detail = obs.rejected(token, exc, t0, perf_ns() - p0)
            if as_jwtobs:
                raise _recorded_rejection(reason, detail) from exc
            raise
        finally:
            ACTIVE.reset(ctx_token)
        obs.accepted(token, result, t0, perf_ns() - p0)
        return result

    if _is_async(fn):
        afn = cast(Callable[..., Awaitable[Any]], fn)

        @functools.wraps(fn)
        async def awrapped(*args: Any, **kwargs: Any) -> Any:
            active_now = ACTIVE.get()
            if active_now is True or (active_now is not False and active_now[0] is True):
                return await afn(*args, **kwargs)
            if opt_at is not None:
                opts = args[opt_at] if len(args) > opt_at else kwargs.get("options")
                if opts is not None and unverified(opts):
                    return await afn(*args, **kwargs)  # a peek
            return await observed_await(afn, args, kwargs, get_token(args, kwargs), time_ns(), perf_ns())

        awrapped.__jwtobs_wrapped__ = True  # type: ignore[attr-defined]
        awrapped.__jwtobs_site__ = obs  # type: ignore[attr-defined]  # (its library and profile: BearerAuth's labels)
        return awrapped

    active_get, active_set, active_reset = ACTIVE.get, ACTIVE.set, ACTIVE.reset
    rejected = obs.rejected
    refused = obs.refused
    settle = obs.settle
    none_refuses = obs.none_refuses
    accepted = pipeline.accepted
    key_at = _key_at(fn, lib)

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        active_now = active_get()
        if active_now is True or (active_now is not False and active_now[0] is True):  # running(active_now)
            return fn(*args, **kwargs)
        if opt_at is not None:  # (no call unless options are given)
            opts = args[opt_at] if len(args) > opt_at else kwargs.get("options")
            if opts is not None and unverified(opts):
                return fn(*args, **kwargs)  # a peek
        token = args[0] if first and args else get_token(args, kwargs)  # (reads the arguments only: never raises)
        ctx_token = active_set(True)
        t0 = time_ns()
        p0 = perf_ns()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            dt = perf_ns() - p0
            reason, detail = rejected(token, exc, t0, dt)
            if as_jwtobs:
                raise _recorded_rejection(reason, detail) from exc
            raise
        finally:
            active_reset(ctx_token)
        if type(result) is not dict:
            if none_refuses and (result is None or result is False):
                # a refusal that raised nothing (``except PyJWTError: return None``): a rejection, returned as is
                refused(token, RETURNED_NONE if result is None else RETURNED_FALSE, t0, perf_ns() - p0)
                return result
            later = None if type(result) in _VERDICTS else _deferred(result)  # (a known verdict type: no call)
            if later is not None:
                if later == "future":
                    # the very object returned (a Task keeps cancel/done/add_done_callback; asyncio.wait takes it),
                    # its verdict recorded when it is done (session 35: before, a Task came back as a bare
                    # coroutine and a concurrent.futures.Future was recorded as accepted at once)
                    try:
                        result.add_done_callback(functools.partial(settle, token, t0, p0))
                    except Exception as exc:  # a future that refuses callbacks: its record is lost, and counted
                        _lost(exc)
                    return result
                if later == "awaitable":
                    # a coroutine: the verdict comes when it is awaited (before session 32 it was recorded as
                    # accepted at once, forged tokens too)
                    return observed_await(_itself, (result,), {}, token, t0, p0)
                return result  # a generator: no verdict exists yet, nothing recorded (see _deferred)
        if key_at is not None and (_keyless(args, kwargs, key_at) or token is None):
            # jwcrypto without a key, or without a token (JWT(jwt=None, key=k) builds an empty JWT: session 35,
            # before recorded as an accepted validation of no token), parses and verifies nothing: no validation
            return result
        # obs.accepted inlined (two Python calls less per request); the recorder never raises
        try:
            end = t0 + perf_ns() - p0
            accepted(obs, token, claims_of(result), t0, end)
        except Exception as exc:  # a result the adapter cannot read (a mapping whose get() raises): counted
            _lost(exc)
        return result

    wrapped.__jwtobs_wrapped__ = True  # type: ignore[attr-defined]
    wrapped.__jwtobs_site__ = obs  # type: ignore[attr-defined]  # (its library and profile: BearerAuth's labels)
    return wrapped
