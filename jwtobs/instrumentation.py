"""``JwtInstrumentor``: observe every installed JOSE library's validation entry points, with no code change.

``opentelemetry-instrument python app.py`` loads it from the ``opentelemetry_instrumentor`` entry point
(``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=jwtobs`` turns it off); in code::

    from jwtobs.instrumentation import JwtInstrumentor
    JwtInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)   # providers optional

Each entry point is patched in place with :func:`wrapt.wrap_function_wrapper` and records through the same
recorder as :func:`jwtobs.wrap` (:func:`jwtobs.wrap.observer`): one :class:`~jwtobs.events.ValidationEvent`
per validation, classified by the library's adapter, the return value and exception untouched.

Entry points (:data:`TARGETS`):

- PyJWT: ``jwt.api_jwt.PyJWT.decode`` and ``decode_complete``. ``jwt.decode`` is a method of the module-level
  ``PyJWT`` instance bound at import time (so it keeps the original ``decode`` function), but that function
  calls ``self.decode_complete``, which is looked up at call time: every PyJWT decode path records once.
- python-jose: ``jose.jwt.decode``.
- jwcrypto: ``jwcrypto.jwt.JWT.deserialize`` (the ``JWT(jwt=..., key=...)`` constructor calls it) and
  ``JWT.validate`` (deserialize without a key, then ``validate(key)``). A deserialize without a key records
  only a failure (a token that does not parse); the ``validate`` that follows records the validation.
- joserfc: ``joserfc.jwt.decode`` + ``JWTClaimsRegistry.validate``; authlib: ``JsonWebToken.decode`` +
  ``JWTClaims.validate``. These libraries check no claims in ``decode``. A failed decode is recorded at once;
  a successful one waits (in this context) for the claims check of the claims it returned, and the two make
  one event: rejected with the claim's reason, or accepted. A decode whose claims are not validated within
  :data:`CLAIMS_GRACE_S` (or before the next decode in the same context) is recorded as accepted: what the
  library did. A claims check of claims that no instrumented decode returned (a copy, a later call) is not
  recorded.

PyJWT and python-jose decodes with ``options={"verify_signature": False}`` are peeks, not validations (an
application reading ``iss`` to choose a key): they are not recorded, so a forged token peeked at is never
counted as accepted. Calls made while ``opentelemetry.instrumentation.utils.suppress_instrumentation()`` is
active, and calls nested in another observed validation (a ``jwtobs.wrap``-ed function that calls
``jwt.decode``), are not recorded again. A function imported by name before ``instrument()`` (``from
jose.jwt import decode``) keeps the original; attributes looked up at call time (``jwt.decode``,
``jose.jwt.decode``) and names imported after ``instrument()`` (always, under ``opentelemetry-instrument``)
are covered.

Dependencies: ``instrumentation_dependencies()`` returns ``_instruments`` = ``()`` because jwtobs instruments
*any* of the five libraries, and ``BaseInstrumentor`` would refuse to run unless *all* of a non-empty list
were installed. ``_instruments_any`` lists the five; a direct ``instrument()`` reports a conflict only when
none is usable, ``_instrument`` checks each library's installed version against :data:`LIBRARIES` and
patches only those present and in range, and the package's ``instruments-any`` extra tells
``opentelemetry-instrument`` the same thing.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry import context as otel_context

from jwtobs import config, libraries
from jwtobs.exceptions import ConfigurationError
from jwtobs.libraries import Target
from jwtobs.wrap import ACTIVE, observer

try:
    import wrapt
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]  # mypy misreads it
        BaseInstrumentor,
    )
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled
except ImportError as exc:  # pragma: no cover - the extra is part of dev
    raise ImportError("jwtobs.instrumentation needs: pip install 'jwtobs[instruments]'") from exc

__all__ = ["JwtInstrumentor", "LIBRARIES", "TARGETS", "CLAIMS_GRACE_S", "settle_pending"]

_log = logging.getLogger(__name__)

#: library (canonical name, :mod:`jwtobs.libraries`) -> the requirement its installed version must meet
LIBRARIES: Final[dict[str, str]] = {lib.name: lib.requirement for lib in libraries.LIBRARIES}

#: What ``BaseInstrumentor`` requires *all* of: nothing (see :meth:`JwtInstrumentor.instrumentation_dependencies`).
_instruments: Final[tuple[str, ...]] = ()
#: Any one of these suffices; the package's ``instruments-any`` extra lists the same for opentelemetry-instrument.
_instruments_any: Final[tuple[str, ...]] = tuple(LIBRARIES.values())

#: Seconds a two-step decode (joserfc, authlib) waits for its claims check before it is recorded as accepted.
CLAIMS_GRACE_S: Final = 2.0
#: Waiting decodes beyond which the oldest is recorded at once (bounded memory when claims are never checked).
#: Only decodes still waiting count: those whose claims were checked leave at once.
MAX_PENDING: Final = 10_000


#: the patched entry points of every library (defined with the library in :mod:`jwtobs.libraries`)
TARGETS: Final[tuple[Target, ...]] = tuple(t for lib in libraries.LIBRARIES for t in lib.targets)

#: library -> the module whose import completes it (the patch is applied then: nothing imported early)
TRIGGERS: Final[dict[str, str]] = {lib.name: lib.trigger for lib in libraries.LIBRARIES}

_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns


# -- the wrappers (wrapt signature: wrapped, instance, args, kwargs) ------------------------------------------


def _unverified(options_at: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """``options={"verify_signature": False}``: the application peeks at the claims (to pick a key, say); not a
    validation, and recording it as accepted would count a forged token as accepted."""
    options = kwargs.get("options") if len(args) <= options_at else args[options_at]
    return type(options) is dict and options.get("verify_signature", True) is False


def _observe(
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    rejected: Callable[..., Any],
    token: object,
    t0: int,
    base_dt: int = 0,
) -> tuple[Any, int]:
    """Run one observed call with the context marked active (nested observed calls do not record); a raised
    exception is recorded as a rejection and re-raised unchanged. Returns the result and the duration so far."""
    ctx_token = ACTIVE.set(True)
    p0 = _perf_ns()
    try:
        result = wrapped(*args, **kwargs)
    except Exception as exc:
        rejected(token, exc, t0, base_dt + _perf_ns() - p0)
        raise
    finally:
        ACTIVE.reset(ctx_token)
    return result, base_dt + _perf_ns() - p0


def _call_wrapper(obs: Any, options_at: int | None = None) -> Callable[..., Any]:
    """One call is one validation: :func:`jwtobs.wrap`'s flow, for an entry point patched in place."""
    get_token, accepted, rejected = obs.get_token, obs.accepted, obs.rejected
    check_options = options_at is not None
    at = options_at or 0

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if ACTIVE.get() or not is_instrumentation_enabled() or (check_options and _unverified(at, args, kwargs)):
            return wrapped(*args, **kwargs)
        token, t0 = get_token(args, kwargs), _time_ns()
        result, dt = _observe(wrapped, args, kwargs, rejected, token, t0)
        accepted(token, result, t0, dt)
        return result

    return wrapper


class _Pending:
    """A successful first step (joserfc/authlib decode) waiting for the claims check of its claims."""

    __slots__ = ("claims", "ctx", "deadline", "dt", "obs", "result", "t0", "token")

    def __init__(self, obs: Any, token: object, result: object, claims: object, t0: int, dt: int) -> None:
        self.obs = obs
        self.token = token
        self.result = result
        self.claims = claims
        self.t0 = t0
        self.dt = dt
        self.ctx = otel_context.get_current()
        self.deadline = time.monotonic() + CLAIMS_GRACE_S


class _Waiting:
    """The waiting first steps: per context (the claims check looks there) and in time order (for expiry).

    ``pending`` (insertion-ordered, keyed by ``id``) holds only entries still waiting. Whoever removes an
    entry from it owns it: its claims check (which records the joined event), or :meth:`settle` (which records
    it as accepted: the next decode in the same context, the daemon thread after the grace period,
    :func:`settle_pending`, exit, or the bound). A single ``dict.pop`` decides, atomically under the GIL, so
    each entry is recorded exactly once without a lock on the request path.
    """

    def __init__(self) -> None:
        self.slot: ContextVar[_Pending | None] = ContextVar("jwtobs_pending_decode", default=None)
        self.pending: OrderedDict[int, _Pending] = OrderedDict()
        self.start_lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, p: _Pending) -> None:
        prev = self.slot.get()
        if prev is not None:
            self.settle(prev)
        self.slot.set(p)
        pending = self.pending
        pending[id(p)] = p
        if len(pending) > MAX_PENDING:
            try:
                _, oldest = pending.popitem(last=False)
            except KeyError:  # pragma: no cover - drained concurrently
                pass
            else:
                self._record(oldest)
        if self.thread is None:
            self._start()

    def take(self, claims: object) -> _Pending | None:
        """The waiting decode whose claims these are (same context, same object), now owned by the caller."""
        p = self.slot.get()
        if p is None or claims is None or p.claims is not claims:
            return None
        self.slot.set(None)
        # p is alive (referenced here), so no other entry can have its id
        return p if self.pending.pop(id(p), None) is not None else None

    def settle(self, p: _Pending) -> None:
        """Record ``p`` as accepted unless someone else (its claims check, the sweep) took it first."""
        if self.pending.pop(id(p), None) is not None:
            self._record(p)

    @staticmethod
    def _record(p: _Pending) -> None:
        token = otel_context.attach(p.ctx)
        try:
            p.obs.accepted(p.token, p.result, p.t0, p.dt)
        finally:
            otel_context.detach(token)
            p.token = p.result = p.claims = None

    def sweep(self, now: float | None = None) -> None:
        """Record the entries whose grace period ended before ``now`` (all of them when ``now`` is None)."""
        pending = self.pending
        while pending:
            try:
                p = next(iter(pending.values()))
            except (StopIteration, RuntimeError):  # emptied or changed by another thread: next round
                return
            if now is not None and p.deadline > now:
                return
            self.settle(p)

    def _start(self) -> None:
        with self.start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="jwtobs-claims-grace", daemon=True)
                self.thread.start()

    def _run(self) -> None:  # pragma: no cover - timing; exercised by the grace test
        while True:
            self.wake.wait(CLAIMS_GRACE_S / 4)
            self.wake.clear()
            try:
                self.sweep(time.monotonic())
            except Exception:
                _log.debug("jwtobs: claims-grace sweep failed", exc_info=True)

    def after_fork(self) -> None:
        self.pending = OrderedDict()
        self.start_lock = threading.Lock()
        self.wake = threading.Event()
        self.thread = None


_waiting = _Waiting()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_waiting.after_fork)
# registered after jwtobs.events / jwtobs.pipeline (imported above), so it runs before they flush at exit
atexit.register(lambda: _waiting.sweep())


def settle_pending() -> None:
    """Record now every decode still waiting for its claims check (as accepted). Tests and shutdown."""
    _waiting.sweep()


def _decode_wrapper(obs: Any, claims_of: str) -> Callable[..., Any]:
    """First step of joserfc/authlib: a failure is recorded now, a success waits for its claims check."""
    get_token, rejected = obs.get_token, obs.rejected
    waiting = _waiting

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if ACTIVE.get() or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        token, t0 = get_token(args, kwargs), _time_ns()
        result, dt = _observe(wrapped, args, kwargs, rejected, token, t0)
        try:
            claims = result if claims_of == "self" else getattr(result, claims_of, None)
            waiting.add(_Pending(obs, token, result, claims, t0, dt))
        except Exception:  # pragma: no cover - defensive: never break the caller
            _log.debug("jwtobs: could not queue a decode", exc_info=True)
        return result

    return wrapper


def _claims_wrapper() -> Callable[..., Any]:
    """Second step of joserfc/authlib: completes the waiting decode's event (accepted or the claim's reason)."""
    waiting = _waiting

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if ACTIVE.get():
            return wrapped(*args, **kwargs)
        # JWTClaims.validate(self): the claims are the instance; JWTClaimsRegistry.validate(claims)
        claims = instance if isinstance(instance, dict) else (args[0] if args else kwargs.get("claims"))
        p = waiting.take(claims)
        if p is None:
            return wrapped(*args, **kwargs)
        result, dt = _observe(wrapped, args, kwargs, p.obs.rejected, p.token, p.t0, p.dt)
        p.obs.accepted(p.token, p.result, p.t0, dt)
        return result

    return wrapper


_RAW_ATTR: Final = "_jwtobs_raw_token"


def _jwcrypto_deserialize_wrapper(obs: Any) -> Callable[..., Any]:
    """``JWT.deserialize(jwt, key=None)``: with a key it is the validation; without, only a parse failure is."""
    get_token, accepted, rejected = obs.get_token, obs.accepted, obs.rejected

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if ACTIVE.get() or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        key = args[1] if len(args) > 1 else kwargs.get("key")
        try:
            validating = bool(key)  # what jwcrypto tests ("if key:")
        except Exception:
            validating = False
        token, t0 = get_token(args, kwargs), _time_ns()
        result, dt = _observe(wrapped, args, kwargs, rejected, token, t0)
        if validating:
            accepted(token, instance, t0, dt)
        else:
            try:  # for the validate(key) that follows: jwcrypto keeps no raw token (serialize needs a verified one)
                vars(instance)[_RAW_ATTR] = token
            except Exception:  # pragma: no cover - a JWT subclass with __slots__
                pass
        return result

    return wrapper


def _jwcrypto_validate_wrapper(obs: Any) -> Callable[..., Any]:
    """``JWT.validate(key)`` after a keyless deserialize: the validation of the token that deserialize saw."""
    accepted, rejected = obs.accepted, obs.rejected

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if ACTIVE.get() or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        token = getattr(instance, _RAW_ATTR, None)
        if token is None:  # not a token this process deserialized (e.g. one it just signed): not a validation
            return wrapped(*args, **kwargs)
        t0 = _time_ns()
        result, dt = _observe(wrapped, args, kwargs, rejected, token, t0)
        accepted(token, instance, t0, dt)
        return result

    return wrapper


def _wrapper_for(target: Target, obs: Any) -> Callable[..., Any]:
    kind = target.kind
    if kind == "call":
        return _call_wrapper(obs, target.options_at)
    if kind == "decode":
        return _decode_wrapper(obs, target.claims_of)
    if kind == "claims":
        return _claims_wrapper()
    if kind == "jwcrypto_deserialize":
        return _jwcrypto_deserialize_wrapper(obs)
    if kind == "jwcrypto_validate":
        return _jwcrypto_validate_wrapper(obs)
    raise ValueError(f"unknown target kind {kind!r}")  # pragma: no cover


# -- patching ------------------------------------------------------------------------------------------------


@dataclass
class _Patch:
    owner: Any
    attr: str
    had_own: bool
    original: Any  # the raw attribute (function, descriptor) when the owner had its own


def _resolve(module: Any, dotted: str) -> tuple[Any, str]:
    parts = dotted.split(".")
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


def _version_ok(library: str) -> bool:
    """Whether the library is installed at a version jwtobs instruments (package metadata; nothing imported)."""
    try:
        conflict = get_dependency_conflicts([LIBRARIES[library]])
    except Exception:  # pragma: no cover - broken metadata
        return False
    if conflict is not None:
        _log.debug("jwtobs: not instrumenting %s: %s", library, conflict)
        return False
    return True


class JwtInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patch the validation entry points of every installed JOSE library jwtobs supports (see module doc).

    ``instrument(**kwargs)``:
      tracer_provider, meter_provider: OpenTelemetry providers for jwtobs (``jwtobs.config.use_providers``:
          the rest of the configuration is kept). Without them jwtobs's own configuration is untouched.
      libraries: restrict to these library names (default: all installed of ``pyjwt``, ``joserfc``, ``jose``,
          ``jwcrypto``, ``authlib``).
      profile: the profile name of the recorded events (default ``default``).

    A library is patched when the application imports it (a post-import hook; at once if already imported),
    so instrumenting never imports a library the application does not use (authlib.jose, for one, warns on
    import). ``uninstrument()`` restores the original attributes (the same objects); hooks of libraries not
    imported by then do nothing.
    """

    _patches: list[_Patch]
    _generation = 0
    #: libraries patched so far
    instrumented_libraries: tuple[str, ...] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        # Any one of LIBRARIES suffices; a non-empty list here would require all of them (checked per library).
        return _instruments

    def _check_dependency_conflicts(self) -> Any:
        """For a direct ``instrument()``: a conflict only when none of the five libraries is usable."""
        try:
            return get_dependency_conflicts(_instruments, _instruments_any)
        except TypeError:  # pragma: no cover - opentelemetry-instrumentation without "any" dependencies
            return None

    def _instrument(self, **kwargs: Any) -> None:
        tp, mp = kwargs.get("tracer_provider"), kwargs.get("meter_provider")
        wanted: list[str] = []
        unknown: list[object] = []
        for w in kwargs.get("libraries") or LIBRARIES:
            try:
                wanted.append(libraries.resolve(w))
            except ConfigurationError:
                unknown.append(w)
        if unknown:
            raise ValueError(f"unknown libraries {unknown}; expected some of {sorted(LIBRARIES)}")
        if tp is not None or mp is not None:
            config.use_providers(tracer_provider=tp, meter_provider=mp)
        profile = str(kwargs.get("profile") or "default")
        self._patches = []
        self.instrumented_libraries = ()
        self._generation += 1
        for library in LIBRARIES:
            if library in wanted and _version_ok(library):
                wrapt.register_post_import_hook(self._hook(library, profile, self._generation), TRIGGERS[library])

    def _hook(self, library: str, profile: str, generation: int) -> Callable[[Any], None]:
        def patch_library(_module: Any) -> None:
            if generation != self._generation:  # uninstrumented (or re-instrumented) since registration
                return
            try:
                obs = observer(library, profile=profile)
                for target in TARGETS:
                    if target.library == library:
                        self._patch(target, obs)
            except Exception:
                _log.warning("jwtobs: could not instrument %s", library, exc_info=True)
                return
            self.instrumented_libraries = (*self.instrumented_libraries, library)
            _log.debug("jwtobs: instrumented %s", library)

        return patch_library

    def _patch(self, target: Target, obs: Any) -> None:
        module = importlib.import_module(target.module)
        owner, attr = _resolve(module, target.name)
        own = vars(owner)
        had_own = attr in own
        current = own.get(attr)
        if isinstance(current, wrapt.ObjectProxy) and getattr(current, "_self_jwtobs", False):
            return  # already ours
        self._patches.append(_Patch(owner, attr, had_own, current))
        wrapt.wrap_function_wrapper(owner, attr, _wrapper_for(target, obs))
        vars(owner)[attr]._self_jwtobs = True

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1  # hooks of libraries imported later do nothing
        settle_pending()
        for p in reversed(getattr(self, "_patches", [])):
            try:
                if p.had_own:
                    setattr(p.owner, p.attr, p.original)
                else:
                    delattr(p.owner, p.attr)
            except Exception:  # pragma: no cover
                _log.warning("jwtobs: could not restore %s.%s", p.owner, p.attr, exc_info=True)
        self._patches = []
        self.instrumented_libraries = ()
