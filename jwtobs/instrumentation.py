"""``JwtInstrumentor``: observe every installed JOSE library's validation entry points, with no code change.

``opentelemetry-instrument python app.py`` loads it from the ``opentelemetry_instrumentor`` entry point
(``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=jwtobs`` turns it off); in code::

    from jwtobs.instrumentation import JwtInstrumentor
    JwtInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)   # providers optional

Each entry point is replaced in place by a plain function (its ``__wrapped__`` is the original, which
``uninstrument()`` puts back) that records through the same recorder as :func:`jwtobs.wrap`
(:func:`jwtobs.wrap.observer`): one :class:`~jwtobs.events.ValidationEvent` per validation, classified by the
library's adapter, the return value and exception untouched. ``wrapt`` provides the post-import hooks; its
``FunctionWrapper`` is not used on the call path (it costs ~0.5 us more per call than a plain function).

Entry points (:data:`TARGETS`):

- PyJWT: ``jwt.api_jwt.PyJWT.decode`` and ``decode_complete``. ``jwt.decode`` is a method of the module-level
  ``PyJWT`` instance bound at import time (so it keeps the original ``decode`` function), but that function
  calls ``self.decode_complete``, which is looked up at call time: every PyJWT decode path records once.
- python-jose: ``jose.jwt.decode``.
- jwcrypto: ``jwcrypto.jwt.JWT.deserialize`` (the ``JWT(jwt=..., key=...)`` constructor calls it) and
  ``JWT.validate`` (deserialize without a key, then ``validate(key)``). A deserialize without a key records
  only a failure (a token that does not parse); the ``validate`` that follows records the validation.
- joserfc: ``joserfc.jwt.decode`` + ``JWTClaimsRegistry.validate``; authlib: ``JsonWebToken.decode`` +
  ``JWTClaims.validate``. These libraries check no claims in ``decode``. A failed decode is recorded at once.
  A successful one is remembered in the calling context (one context variable: no lock, no thread, nothing
  global that grows) until the claims check of the very claims object it returned, which records the one
  event: rejected with the claim's reason, or accepted, its duration the sum of both calls. A decode whose
  claims are never checked is **not** recorded: the library validated the signature only (joserfc and authlib
  check ``exp`` in the claims step), so counting it as accepted could count an expired token as accepted; the
  next decode in the same context replaces it. A claims check of claims no instrumented decode of this
  context returned (a copy, another thread) is not recorded either. Wrap your own function that does both
  steps (``jwtobs.wrap(fn, library=...)``) to record every call of it.

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

import functools
import importlib
import inspect
import logging
import sys
import textwrap
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import FunctionType
from typing import Any, Final

from jwtobs import _otel_compat, config, libraries, pipeline
from jwtobs.exceptions import _DETAIL_ATTR, _REASON_ATTR, ConfigurationError
from jwtobs.libraries import Target
from jwtobs.wrap import ACTIVE, TOKEN_KWARGS, observer
from jwtobs.wrap import unverified as _unverified  # noqa: F401 - named in the compiled patches ({peek})

try:
    import wrapt
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]  # mypy misreads it
        BaseInstrumentor,
    )
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled
except ImportError as exc:  # pragma: no cover - the extra is part of dev
    raise ImportError("jwtobs.instrumentation needs: pip install 'jwtobs[instruments]'") from exc

__all__ = ["JwtInstrumentor", "LIBRARIES", "TARGETS"]

_log = logging.getLogger(__name__)

#: library (canonical name, :mod:`jwtobs.libraries`) -> the requirement its installed version must meet
LIBRARIES: Final[dict[str, str]] = {lib.name: lib.requirement for lib in libraries.LIBRARIES}

#: What ``BaseInstrumentor`` requires *all* of: nothing (see :meth:`JwtInstrumentor.instrumentation_dependencies`).
_instruments: Final[tuple[str, ...]] = ()
#: Any one of these suffices; the package's ``instruments-any`` extra lists the same for opentelemetry-instrument.
_instruments_any: Final[tuple[str, ...]] = tuple(LIBRARIES.values())

#: the patched entry points of every library (defined with the library in :mod:`jwtobs.libraries`)
TARGETS: Final[tuple[Target, ...]] = tuple(t for lib in libraries.LIBRARIES for t in lib.targets)

#: library -> the module whose import completes it (the patch is applied then: nothing imported early)
TRIGGERS: Final[dict[str, str]] = {lib.name: lib.trigger for lib in libraries.LIBRARIES}

_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns
_exception = sys.exception  # the exception a ``finally`` clause runs for
_active_get = ACTIVE.get
_active_set = ACTIVE.set
_active_reset = ACTIVE.reset


def _suppressed_api() -> bool:
    return not is_instrumentation_enabled()


try:  # the keys suppress_instrumentation() sets, read from one lookup of the current context: ~4 calls less
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_KEY
    from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY_PLAIN as _SUPPRESS_PLAIN

    _current_context: Callable[[], Any] = _otel_compat.context_getter()  # (OTel internals live there)
except ImportError:  # pragma: no cover - an opentelemetry-api that names them otherwise: the public function
    _SUPPRESS_KEY = _SUPPRESS_PLAIN = "suppressed"

    def _current_context() -> Any:
        return {"suppressed": _suppressed_api()}


def _suppressed() -> bool:
    """``not is_instrumentation_enabled()`` (tested to agree with it; the patched functions inline it: an empty
    context suppresses nothing, and ``in`` before the item is cheaper than ``get`` for absent keys)."""
    ctx = _current_context()
    if not ctx:
        return False
    return bool((_SUPPRESS_KEY in ctx and ctx[_SUPPRESS_KEY]) or (_SUPPRESS_PLAIN in ctx and ctx[_SUPPRESS_PLAIN]))  # noqa: RUF019


_pipeline_accepted = pipeline.accepted
_pipeline_observed = pipeline.observed


def _waiting() -> tuple[Any, ...] | None:
    """The decode (joserfc, authlib) of this context whose claims check has not run yet:
    ``(observer, claims, token, t0, duration)``, or ``None``. It is kept in :data:`ACTIVE` as the list
    ``[False, observer, claims, token, t0, duration]``: one per context, the next decode replaces it."""
    value = _active_get()
    return tuple(value[1:]) if type(value) is list and value[0] is False else None


# -- the patched entry points ---------------------------------------------------------------------------------
# Each entry point is replaced by a plain function (a method when the owner is a class: ``self`` is then
# args[0], so ``at`` = 1 is where the token is). Measured: a wrapt FunctionWrapper costs ~0.5 us per call more
# than a plain Python pass-through (0.58-0.65 vs 0.16 us), and a validation goes through one or two of them.

#: what a ``begin`` returns for a call that is no validation to record (the original runs untouched)
_SKIP: Final = object()

# begin(args, kwargs) -> the call's state (the token) or _SKIP
# fail(state, exc, t0, dt): record a rejection; done(state, result, t0, dt, args, kwargs): what a success records
_Begin = Callable[[tuple[Any, ...], dict[str, Any]], Any]
_Fail = Callable[[Any, BaseException, int, int], Any]
_Done = Callable[[Any, Any, int, int, tuple[Any, ...], dict[str, Any]], None]


def _patched(original: Callable[..., Any], begin: _Begin, fail: _Fail, done: _Done) -> Callable[..., Any]:
    """The shape of jwcrypto's patched entry points (the others are one function each, see below): unless
    nested in another observed validation, skipped by ``begin`` or inside ``suppress_instrumentation()``, run
    the original with the context marked active, record a raised exception as a rejection (re-raised
    unchanged) and hand a result to ``done`` (returned unchanged)."""

    def patched(*args: Any, **kwargs: Any) -> Any:
        active = _active_get()
        if active is True or (active is not False and active[0] is True):  # running(active)
            return original(*args, **kwargs)
        state = begin(args, kwargs)
        if state is _SKIP or _suppressed():
            return original(*args, **kwargs)
        ctx = _active_set(True)
        t0 = _time_ns()
        p0 = _perf_ns()
        try:
            # (``f(*a, **kw)`` copies kw into a new dict on every call)
            result = original(*args, **kwargs) if kwargs else original(*args)
            dt = _perf_ns() - p0
        except Exception as exc:
            fail(state, exc, t0, _perf_ns() - p0)
            raise
        finally:
            _active_reset(ctx)
        done(state, result, t0, dt, args, kwargs)
        return result

    return patched


def _accepted(obs: Any, token: object, result: object, t0: int, dt: int) -> None:
    """Record ``obs``'s accepted validation of ``token`` (what :func:`_call_patch` does inline)."""
    try:
        _pipeline_accepted(obs, token, obs.claims_from_result(result), t0, t0 + dt)
    except Exception:  # pragma: no cover - a result the adapter cannot read; the pipeline never raises
        _log.debug("jwtobs: could not record an accepted validation", exc_info=True)


def _token_at(obs: Any, at: int) -> _Begin:
    """The token: positional ``at``, else where the observer's ``get_token`` finds it (:func:`jwtobs.wrap`'s
    ``token_arg``); a call with no token argument at all does not bind (a ``TypeError`` of the caller's, before
    any validation): not recorded (before session 13 jwcrypto's ``JWT().deserialize()`` was JWT_MISSING)."""
    get_token: _Begin = obs.get_token

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if len(args) > at:
            return args[at]
        if not any(name in kwargs for name in TOKEN_KWARGS):
            return _SKIP
        return get_token(args, kwargs)

    return begin


def _call_patch(
    original: Callable[..., Any], obs: Any, at: int, options_at: int | None, marks: bool = True
) -> Callable[..., Any]:
    """One call is one validation: :func:`jwtobs.wrap`'s flow, for an entry point patched in place (the
    request thread's cost of PyJWT and python-jose). With ``options_at``, a call whose
    ``options={"verify_signature": False}`` is skipped: the application peeks at the claims (to pick a key,
    say); not a validation, and recording it as accepted would count a forged token as accepted. ``marks``
    (:attr:`jwtobs.libraries.Target.marks`): the call sets :data:`ACTIVE` while it runs, so that validations
    nested in it record nothing; an entry point that runs no other validation code leaves it alone (a
    context-variable set and reset less: ~1.7k instructions per call)."""
    opt_at = None if options_at is None else options_at + at
    return _compile(
        _CALL_SRC, original, at, opt_at, obs, mark=_MARK_SRC if marks else "", unmark=_UNMARK_SRC if marks else ""
    )


def _decode_patch(original: Callable[..., Any], obs: Any, at: int, claims_of: str) -> Callable[..., Any]:
    """First step of joserfc/authlib: a failure is recorded now; a success is remembered in this context for
    the claims check of the claims it returned, which records the one event (:func:`_claims_patch`). The
    success leaves ``(obs, claims, token, t0, duration)`` as :data:`ACTIVE`'s value in place of the ``True``
    that marked the call (one context-variable write, not a reset and a second variable's write)."""
    return _compile(_DECODE_SRC, original, at, None, obs, claims_of == "self", claims_of)


def _claims_patch(original: Callable[..., Any], at: int) -> Callable[..., Any]:
    """Second step of joserfc/authlib: the claims check of the claims this context's decode returned records
    the validation (rejected with the claim's reason, or accepted; the duration is both calls'); any other
    claims check is not recorded. ``at``: where the claims are (``JWTClaims.validate(self)``: 0;
    ``JWTClaimsRegistry.validate(self, claims)``: 1). The decode checked suppression: the check of its claims
    completes what it started. While it runs, :data:`ACTIVE` is ``True`` (the waiting decode is consumed:
    checked again, the same claims record nothing); then ``False``."""
    return _compile(_CLAIMS_SRC, original, at, None)


# The three patched functions as source, compiled per entry point with the original's own parameter list
# (:func:`_compile`): a call binds its arguments once and the original is called with them positionally. A
# ``def patched(*args, **kwargs)`` that calls ``original(*args, **kwargs)`` packs a tuple and a dict on every
# call and re-binds them in the original: measured 0.6-0.8 us more per patched call (timeit, same machine).
# Placeholders: {params} the parameter list, {call} the arguments passed on, {token} / {claims} / {options}
# the parameter holding the token / the claims / the options. Names of the body start with ``_j_`` (no
# library's parameter does: :func:`_compile` falls back to ``*args, **kwargs`` if one did).
_CALL_SRC: Final = """
def _j_factory(_j_original, _j_at, _j_opt_at, _j_obs):
    _j_get_token = _j_obs.get_token
    _j_claims_of = _j_obs.claims_from_result
    _j_rejected = _j_obs.rejected
    _j_by_class = _j_obs.adapter.BY_CLASS.get
    _j_max = _j_obs.max_bytes

    def patched({params}):
{enter}
{mark}        _j_t0 = _time_ns()
        _j_p0 = _perf_ns()
        _j_end = None
        try:
            _j_result = _j_original({call})
            _j_end = _j_t0 + _perf_ns() - _j_p0
        finally:  # (not ``except ... raise``: ~0.7k instructions less per rejection, ~0.1k more per success)
            if _j_end is None:  # raised: the exception goes on unchanged after this block
                _j_dt = _perf_ns() - _j_p0
                _j_exc = _exception()
                if isinstance(_j_exc, Exception):
                    _j_tok = {token}
{reject8}
                _j_exc = None  # no cycle frame -> exception -> traceback -> frame
{unmark}        try:
            _pipeline_accepted(_j_obs, {token}, _j_claims_of(_j_result), _j_t0, _j_end)
        except Exception:  # a result the adapter cannot read; the pipeline never raises
            _log.debug("jwtobs: could not record an accepted validation", exc_info=True)
        return _j_result

    return patched
"""

_DECODE_SRC: Final = """
def _j_factory(_j_original, _j_at, _j_opt_at, _j_obs, _j_of_self, _j_claims_of):
    _j_get_token = _j_obs.get_token
    _j_rejected = _j_obs.rejected
    _j_by_class = _j_obs.adapter.BY_CLASS.get
    _j_max = _j_obs.max_bytes

    def patched({params}):
{enter}
        _j_state = [True]
        _j_mark = _active_set(_j_state)
        _j_t0 = _time_ns()
        _j_p0 = _perf_ns()
        try:
            _j_result = _j_original({call})
        except Exception as _j_exc:
            _j_dt = _perf_ns() - _j_p0
            _active_reset(_j_mark)
            _j_tok = {token}
{reject}
            raise
        except BaseException:
            _active_reset(_j_mark)
            raise
        _j_dt = _perf_ns() - _j_p0
        try:
            _j_claims = _j_result if _j_of_self else getattr(_j_result, _j_claims_of, None)
        except Exception:  # a result whose attribute raises: nothing to join
            _active_reset(_j_mark)
            return _j_result
        _j_state[:] = (False, _j_obs, _j_claims, {token}, _j_t0, _j_dt)  # waiting for its claims check
        return _j_result

    return patched
"""

_CLAIMS_SRC: Final = """
def _j_factory(_j_original, _j_at, _j_opt_at):
    def patched({params}):
        _j_state = _active_get()
        if _j_state is True or _j_state is False or _j_state[0] is not False:  # no decode waiting
            return _j_original({call})
        if {claims} is not _j_state[2]:  # the claims of another decode, or a copy
            return _j_original({call})
        _j_state[0] = True  # running: nested observations record nothing; the waiting decode is consumed
        _j_p0 = _perf_ns()
        _j_p1 = None
        try:
            _j_result = _j_original({call})
            _j_p1 = _perf_ns()
        finally:  # (as in the call kind: not ``except ... raise``)
            if _j_p1 is None:  # raised: the exception goes on unchanged after this block
                _j_p1 = _perf_ns()
                _j_done, _j_obs, _j_claims, _j_tok, _j_t0, _j_dt = _j_state
                _j_state[:] = (None,)
                _j_exc = _exception()
                if isinstance(_j_exc, Exception):
                    _j_dt += _j_p1 - _j_p0
                    _j_rejected = _j_obs.rejected
                    _j_by_class = _j_obs.adapter.BY_CLASS.get
                    _j_max = _j_obs.max_bytes
{reject8}
                _j_exc = None  # no cycle frame -> exception -> traceback -> frame
        _j_done, _j_obs, _j_claims, _j_token, _j_t0, _j_dt0 = _j_state
        _j_state[:] = (None,)  # done (and no longer holding the token or the claims)
        # the claims the decode returned (joserfc Token.claims, authlib JWTClaims: dicts); anything else: the
        # claims of the token, read when the event is built
        _pipeline_accepted(
            _j_obs, _j_token, _j_claims if isinstance(_j_claims, dict) else None, _j_t0, _j_t0 + _j_dt0 + _j_p1 - _j_p0
        )
        return _j_result

    return patched
"""

#: ``{enter}``, the start of the call and decode kinds: the original alone when a validation runs already
#: (:func:`jwtobs.wrap.running`), for a peek (``{peek}``), or inside ``suppress_instrumentation()``
#: (:func:`_suppressed`: an empty context suppresses nothing)
_ENTER_SRC: Final = '''\
        _j_active = _active_get()
        if _j_active is True or (_j_active is not False and _j_active[0] is True):  # running(_j_active)
            return _j_original({call})
        if {peek}:  # options={{"verify_signature": False}}: a peek, not a validation
            return _j_original({call})
        _j_ctx = _current_context()
        if _j_ctx and (
            (_SUPPRESS_KEY in _j_ctx and _j_ctx[_SUPPRESS_KEY])
            or (_SUPPRESS_PLAIN in _j_ctx and _j_ctx[_SUPPRESS_PLAIN])
        ):
            return _j_original({call})'''

#: ``{reject}``: a rejection recorded (the exception re-raised unchanged after it). The exception of a class the
#: adapter decides from the class alone (:func:`jwtobs.adapters.by_class`: an expired token), raised for a
#: token whose peek would wait (:func:`jwtobs.header.peek_later`: a non-empty ASCII ``str`` within the size
#: limit), takes its reason from that dict: what ``_j_obs.rejected`` records and attaches for it (tested to
#: agree), without the peek object, the classification calls and the settled check; any other goes through
#: ``rejected``. Never raises (as ``rejected``).
_REJECT_SRC: Final = f'''\
            try:
                _j_known = _j_by_class(type(_j_exc))
                if _j_known is not None and type(_j_tok) is str and 0 < len(_j_tok) <= _j_max and _j_tok.isascii():
                    _pipeline_observed(
                        _j_obs, _j_tok, None, _j_t0, _j_t0 + _j_dt, "rejected", None, _j_known[2], _j_known[1]
                    )
                    _j_exc.{_REASON_ATTR} = _j_known[0]  # annotate(_j_exc, reason, detail), inline
                    _j_exc.{_DETAIL_ATTR} = _j_known[1]
                else:
                    _j_rejected(_j_tok, _j_exc, _j_t0, _j_dt)
            except Exception:  # pragma: no cover - the recorder never raises, nor setattr on an exception
                pass'''

#: ``{reject8}``: the same, 8 columns deeper (inside a ``finally`` clause's checks)
_REJECT8_SRC: Final = textwrap.indent(_REJECT_SRC, " " * 8)

#: ``{mark}`` / ``{unmark}`` of the call kind: :data:`ACTIVE` set while the original runs (``Target.marks``)
_MARK_SRC: Final = "        _j_mark = _active_set(True)\n"
_UNMARK_SRC: Final = "            _active_reset(_j_mark)\n"

#: what the placeholders are for an original taking ``*args, **kwargs`` (or one whose parameters do not allow
#: the exact form): the token / options / claims looked up as :func:`jwtobs.wrap` does
_STAR: Final = {
    "params": "*_j_args, **_j_kwargs",
    "call": "*_j_args, **_j_kwargs",
    "token": "(_j_args[_j_at] if len(_j_args) > _j_at else _j_get_token(_j_args, _j_kwargs))",
    "claims": "(_j_args[_j_at] if len(_j_args) > _j_at else _j_kwargs.get('claims'))",
    "options": "(_j_kwargs.get('options') if len(_j_args) <= _j_opt_at else _j_args[_j_opt_at])",
}


def _exact(original: Callable[..., Any], at: int, opt_at: int | None) -> dict[str, str] | None:
    """The placeholders for ``original``'s own parameter list (defaults are set from the original's after
    compiling); ``None`` when the exact form does not apply: the token (or claims, options) position is not a
    named positional parameter, or a parameter name starts with ``_j_``."""
    try:
        params = list(inspect.signature(original, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - every Python function has a signature
        return None
    kinds = inspect.Parameter
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    if at >= len(positional) or (opt_at is not None and opt_at >= len(positional)):
        return None
    if any(p.name.startswith("_j_") for p in params):
        return None
    spec: list[str] = []
    call: list[str] = []
    slash = star = False
    for p in params:
        default = "=None" if p.default is not p.empty else ""
        if p.kind is kinds.POSITIONAL_ONLY:
            slash = True
        elif slash:
            spec.append("/")
            slash = False
        if p.kind is kinds.VAR_POSITIONAL:
            spec.append(f"*{p.name}")
            call.append(f"*{p.name}")
            star = True
        elif p.kind is kinds.KEYWORD_ONLY:
            if not star:
                spec.append("*")
                star = True
            spec.append(f"{p.name}{default}")
            call.append(f"{p.name}={p.name}")
        elif p.kind is kinds.VAR_KEYWORD:
            spec.append(f"**{p.name}")
            call.append(f"**{p.name}")
        else:
            spec.append(f"{p.name}{default}")
            call.append(p.name)
    if slash:
        spec.append("/")
    return {
        "params": ", ".join(spec),
        "call": ", ".join(call),
        "token": positional[at].name,
        "claims": positional[at].name,
        "options": positional[opt_at].name if opt_at is not None else "None",
    }


def _compile(
    source: str,
    original: Callable[..., Any],
    at: int,
    opt_at: int | None,
    *extra: Any,
    mark: str = "",
    unmark: str = "",
) -> Callable[..., Any]:
    """``source``'s ``patched`` for ``original``: with the original's own parameters where :func:`_exact`
    allows it, else ``*args, **kwargs``."""
    exact = _exact(original, at, opt_at)
    fill = exact if exact is not None else _STAR
    peek = "False" if opt_at is None else f"{fill['options']} is not None and _unverified({fill['options']})"
    namespace: dict[str, Any] = {}
    text = source.format(
        enter=_ENTER_SRC.format(peek=peek, **fill), reject=_REJECT_SRC, reject8=_REJECT8_SRC, mark=mark,
        unmark=unmark, **fill
    )
    code = compile(text, f"<jwtobs patch of {original.__qualname__}>", "exec")
    exec(code, globals(), namespace)  # the body reads this module's globals (_active_get, _pipeline_accepted, ...)
    patched: Callable[..., Any] = namespace["_j_factory"](original, at, opt_at, *extra)
    if exact is not None:
        patched.__defaults__ = original.__defaults__
        patched.__kwdefaults__ = original.__kwdefaults__
    return patched


_RAW_ATTR: Final = "_jwtobs_raw_token"


def _two_dots(text: str) -> bool:
    """Exactly two dots (a compact JWS), found with ``str.find`` (memchr) rather than counting every character."""
    second = text.find(".", text.find(".") + 1)
    return second >= 0 and text.find(".", second + 1) < 0


def _jwcrypto_accepted(obs: Any, token: object, jwt: object, t0: int, dt: int) -> None:
    """jwcrypto keeps the claims as JSON text: for a compact JWS the event builder reads them from the token
    itself (the payload jwcrypto verified), off the request thread, instead of a second parse here."""
    if type(token) is str and _two_dots(token):
        _pipeline_accepted(obs, token, None, t0, t0 + dt)
    else:
        _accepted(obs, token, jwt, t0, dt)


_REJECTER_SRC: Final = """
def _j_factory(_j_obs):
    _j_rejected = _j_obs.rejected
    _j_by_class = _j_obs.adapter.BY_CLASS.get
    _j_max = _j_obs.max_bytes

    def rejected(_j_tok, _j_exc, _j_t0, _j_dt):
{reject}

    return rejected
"""


_REJECTER_CODE: Final = compile(_REJECTER_SRC.format(reject=_REJECT_SRC), "<jwtobs rejection>", "exec")


def _rejecter(obs: Any) -> _Fail:
    """``obs.rejected`` with the templates' class-alone path first (``{reject}``), for jwcrypto's entry points."""
    namespace: dict[str, Any] = {}
    exec(_REJECTER_CODE, globals(), namespace)
    fail: _Fail = namespace["_j_factory"](obs)
    return fail


def _jwcrypto_deserialize_patch(original: Callable[..., Any], obs: Any) -> Callable[..., Any]:
    """``JWT.deserialize(self, jwt, key=None)``: with a key it is the validation; without, only a parse failure
    is (the ``validate(key)`` that follows records the validation)."""

    def done(token: Any, result: Any, t0: int, dt: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        instance = args[0]
        key = args[2] if len(args) > 2 else kwargs.get("key")
        try:
            validating = bool(key)  # what jwcrypto tests ("if key:")
        except Exception:
            validating = False
        if validating:
            _jwcrypto_accepted(obs, token, instance, t0, dt)
            return
        try:  # for the validate(key) that follows: jwcrypto keeps no raw token (serialize needs a verified one)
            vars(instance)[_RAW_ATTR] = token
        except Exception:  # pragma: no cover - a JWT subclass with __slots__
            pass

    return _patched(original, _token_at(obs, 1), _rejecter(obs), done)


def _jwcrypto_validate_patch(original: Callable[..., Any], obs: Any) -> Callable[..., Any]:
    """``JWT.validate(self, key)`` after a keyless deserialize: the validation of the token deserialize saw; a
    JWT this process did not deserialize (e.g. one it just signed) is not a validation."""

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        token = getattr(args[0], _RAW_ATTR, None) if args else None
        return _SKIP if token is None else token

    def done(token: Any, result: Any, t0: int, dt: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _jwcrypto_accepted(obs, token, args[0], t0, dt)

    return _patched(original, begin, _rejecter(obs), done)


def _patch_for(target: Target, original: Callable[..., Any], profile: str, method: bool) -> Callable[..., Any]:
    """The replacement of one entry point; ``method``: the owner is a class (``self`` is args[0])."""
    kind, at = target.kind, 1 if method else 0
    if kind == "claims":
        # JWTClaims.validate(self): the claims are the instance; JWTClaimsRegistry.validate(self, claims)
        return _claims_patch(original, 0 if target.claims_of == "self" else at)
    obs = observer(target.library, profile=profile, token_arg=at)
    if kind == "call":
        return _call_patch(original, obs, at, target.options_at, target.marks)
    if kind == "decode":
        return _decode_patch(original, obs, at, target.claims_of)
    if kind == "jwcrypto_deserialize":
        return _jwcrypto_deserialize_patch(original, obs)
    if kind == "jwcrypto_validate":
        return _jwcrypto_validate_patch(original, obs)
    raise ValueError(f"unknown target kind {kind!r}")  # pragma: no cover


# -- patching ------------------------------------------------------------------------------------------------


#: set on every patched function (``uninstrument`` restores the original, kept in ``__wrapped__`` too)
_MARK: Final = "__jwtobs_patch__"


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
                for target in TARGETS:
                    if target.library == library:
                        self._patch(target, profile)
            except Exception:
                _log.warning("jwtobs: could not instrument %s", library, exc_info=True)
                return
            self.instrumented_libraries = (*self.instrumented_libraries, library)
            _log.debug("jwtobs: instrumented %s", library)

        return patch_library

    def _patch(self, target: Target, profile: str) -> None:
        module = importlib.import_module(target.module)
        owner, attr = _resolve(module, target.name)
        own = vars(owner)
        had_own = attr in own
        current = own.get(attr)
        if getattr(current, _MARK, False):
            return  # already ours
        original = inspect.getattr_static(owner, attr)
        if not isinstance(original, FunctionType):  # a staticmethod, a builtin...: not what TARGETS describes
            raise TypeError(f"{target.module}.{target.name} is a {type(original).__name__}, not a function")
        patched = functools.update_wrapper(_patch_for(target, original, profile, isinstance(owner, type)), original)
        setattr(patched, _MARK, True)
        self._patches.append(_Patch(owner, attr, had_own, current))
        setattr(owner, attr, patched)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1  # hooks of libraries imported later do nothing
        for p in reversed(getattr(self, "_patches", [])):
            try:
                if p.had_own:
                    setattr(p.owner, p.attr, p.original)
                elif p.attr in vars(p.owner):  # (someone may have removed it already)
                    delattr(p.owner, p.attr)
            except Exception:  # pragma: no cover
                _log.warning("jwtobs: could not restore %s.%s", p.owner, p.attr, exc_info=True)
        self._patches = []
        self.instrumented_libraries = ()
