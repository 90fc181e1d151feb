"""The instrumentor's request-thread shortcuts, each against the full path it skips, on real tokens:

- a rejection whose exception class decides the reason (an adapter's ``BY_CLASS``: an expired token) takes the
  reason from that dict instead of the peek and classification: the same event, the same ``reason_of``, the
  library's exception object unchanged;
- ``call`` entry points that run no other validation code (``Target.marks`` False: PyJWT ``decode_complete``,
  python-jose ``decode``) do not set ``jwtobs.wrap.ACTIVE``: still one event per validation, nested or not.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import jose.jwt
import joserfc.jwt
import jwcrypto.jwk
import jwcrypto.jwt
import jwt
import pytest
from joserfc.jwk import RSAKey

import jwtobs
from jwtobs import adapters, instrumentation, libraries
from jwtobs.instrumentation import JwtInstrumentor
from jwtobs.reasons import Reason
from jwtobs.wrap import ACTIVE, running
from tests.libraries.conftest import AUD, ISS, LibKeys, Recorded, claims, mint

#: the module (``jwtobs.wrap`` the attribute is the function): its ``classify`` is the full path's
wrap_module = importlib.import_module("jwtobs.wrap")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebToken


def _validator(lib: str, pem: bytes) -> Callable[[str], Any]:
    """The application's validate(token) for one library (RS256, exp/nbf checked)."""
    if lib == "pyjwt":
        return lambda t: jwt.decode(t, pem, algorithms=["RS256"], audience=AUD, issuer=ISS)
    if lib == "jose":
        return lambda t: jose.jwt.decode(t, pem.decode(), algorithms=["RS256"], audience=AUD, issuer=ISS)
    if lib == "joserfc":
        key = RSAKey.import_key(pem)
        registry = joserfc.jwt.JWTClaimsRegistry(exp={"essential": True}, aud={"essential": True, "value": AUD})

        def v_joserfc(t: str) -> Any:
            tok = joserfc.jwt.decode(t, key, algorithms=["RS256"])
            registry.validate(tok.claims)
            return tok.claims

        return v_joserfc
    if lib == "jwcrypto":
        jkey = jwcrypto.jwk.JWK.from_pem(pem)
        checks = {"exp": None, "nbf": None}
        return lambda t: jwcrypto.jwt.JWT(jwt=t, key=jkey, algs=["RS256"], check_claims=checks).claims
    if lib == "authlib":
        ajwt = JsonWebToken(["RS256"])

        def v_authlib(t: str) -> Any:
            c = ajwt.decode(t, pem)
            c.validate()
            return c

        return v_authlib
    raise ValueError(lib)


@pytest.fixture
def instrumented(recorded: Recorded) -> Iterator[Recorded]:
    inst = JwtInstrumentor()
    inst.instrument()
    try:
        yield recorded
    finally:
        inst.uninstrument()


@pytest.fixture
def classified(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """The exception classes that went through the full classification (``jwtobs.wrap.classify``), in order."""
    seen: list[type] = []
    real_classify = wrap_module.classify

    def counting(a: Any, exc: BaseException, peek: Any, *rest: Any) -> Any:
        seen.append(type(exc))
        return real_classify(a, exc, peek, *rest)

    monkeypatch.setattr(wrap_module, "classify", counting)
    return seen


def _comparable(ev: Any) -> dict[str, Any]:
    d = dataclasses.asdict(ev)
    for name in ("time", "duration_s", "trace_id", "span_id"):
        d.pop(name)
    return d


def _reject(validate: Callable[[str], Any], token: str) -> BaseException:
    with pytest.raises(Exception) as info:
        validate(token)
    return info.value


CASES = [
    (lib, name, over)
    for lib in libraries.NAMES
    for name, over in (("expired", {"exp": -600}), ("not_yet_valid", {"nbf": 600}))
    if name == "expired" or lib == "jwcrypto"  # jwcrypto's JWTNotYetValid is decided by its class too
]


@pytest.mark.parametrize(("lib", "name", "over"), CASES)
def test_a_rejection_decided_by_its_class_records_what_the_full_path_records(
    lib: str,
    name: str,
    over: dict[str, int],
    lib_keys: LibKeys,
    instrumented: Recorded,
    monkeypatch: pytest.MonkeyPatch,
    classified: list[type],
) -> None:
    validate = _validator(lib, lib_keys.public_pem("RS256"))
    now = int(time.time())
    token = mint("RS256", claims(**{k: now + v for k, v in over.items()}))
    adapter = adapters.get(lib)
    short = _reject(validate, token)
    assert type(short) in adapter.BY_CLASS and classified == []  # the shortcut, no classification
    jwtobs.flush()
    (ev_short,) = instrumented.events
    instrumented.clear()

    monkeypatch.delitem(adapter.BY_CLASS, type(short))  # the full path (peek, adapter, annotate) for the same class
    full = _reject(validate, token)
    assert classified == [type(full)]
    jwtobs.flush()
    (ev_full,) = instrumented.events

    assert type(short) is type(full)  # the library's own exception (jwcrypto's message carries the time)
    assert adapters.raised_by(short, libraries.get(lib).package)  # raised inside the library
    assert (jwtobs.reason_of(short), jwtobs.detail_of(short)) == (jwtobs.reason_of(full), jwtobs.detail_of(full))
    assert jwtobs.reason_of(short) is (Reason.EXPIRED if name == "expired" else Reason.NOT_YET_VALID)
    assert ev_short.outcome == "rejected" and ev_short.reason == jwtobs.reason_of(short).value
    assert _comparable(ev_short) == _comparable(ev_full)
    assert ev_short.token_fp is not None and ev_short.alg == "RS256"  # peeked by the builder instead


def test_a_rejection_of_a_token_the_shortcut_cannot_vouch_for_is_classified(
    lib_keys: LibKeys, instrumented: Recorded, classified: list[type]
) -> None:
    """The class-alone reason needs a token whose shared facts (type, size) cannot apply: a bytes token is
    classified in full (same reason here)."""
    token = mint("RS256", claims(exp=int(time.time()) - 600)).encode()
    exc = _reject(lambda t: jwt.decode(t, lib_keys.public_pem("RS256"), algorithms=["RS256"], audience=AUD), token)  # type: ignore[arg-type]
    assert classified == [jwt.ExpiredSignatureError] and jwtobs.reason_of(exc) is Reason.EXPIRED
    jwtobs.flush()
    assert [(e.outcome, e.reason) for e in instrumented.events] == [("rejected", "JWT_EXPIRED")]


def test_unmarked_entry_points_are_the_ones_that_call_no_other_validation_code() -> None:
    unmarked = {(t.library, t.name) for t in libraries.LIBRARIES for t in t.targets if not t.marks}
    assert unmarked == {("pyjwt", "PyJWT.decode_complete"), ("jose", "decode")}
    assert all(t.kind == "call" for lib in libraries.LIBRARIES for t in lib.targets if not t.marks)


@pytest.mark.parametrize("lib", ["pyjwt", "jose"])
def test_unmarked_calls_record_once_alone_nested_or_nesting(
    lib: str, lib_keys: LibKeys, instrumented: Recorded
) -> None:
    validate = _validator(lib, lib_keys.public_pem("RS256"))
    expired = mint("RS256", claims(exp=int(time.time()) - 600))
    before = ACTIVE.get()
    validate(mint("RS256"))
    _reject(validate, expired)
    assert ACTIVE.get() is before  # nothing set, nothing left
    wrapped = jwtobs.wrap(validate, library=lib)  # outer wrap: the patched call inside records nothing
    wrapped(mint("RS256"))
    _reject(wrapped, expired)
    if lib == "pyjwt":  # PyJWT.decode (marked) calls decode_complete (unmarked, nested): one event
        pem = lib_keys.public_pem("RS256")

        def via_instance(t: str) -> Any:
            return jwt.PyJWT().decode(t, pem, algorithms=["RS256"], audience=AUD)

        via_instance(mint("RS256"))
        _reject(via_instance, expired)
    jwtobs.flush()
    got = [(e.library, e.outcome, e.reason) for e in instrumented.events]
    rounds = 3 if lib == "pyjwt" else 2
    assert got == [(lib, "accepted", None), (lib, "rejected", "JWT_EXPIRED")] * rounds


def _caught(validate: Callable[[str], Any], token: str) -> tuple[Callable[[], BaseException | None], Any]:
    """A weak reference to the exception ``validate(token)`` raised, after the caller dropped it, and its reason."""
    try:
        validate(token)
    except Exception as exc:
        return weakref.ref(exc), jwtobs.reason_of(exc)
    raise AssertionError("accepted")


REJECTIONS = [
    (lib, case)
    for lib in libraries.NAMES
    for case in ("expired", "forged", "audience")
    if case != "audience" or lib in ("pyjwt", "jose", "joserfc")  # (the validators above check aud there)
]


@pytest.mark.parametrize(("lib", "case"), REJECTIONS)
def test_a_recorded_rejection_keeps_no_reference_cycle(
    lib: str, case: str, lib_keys: LibKeys, recorded: Recorded
) -> None:
    """The patched frames record a rejection in a ``finally`` clause (instead of ``except ...: raise``) and drop
    the exception they read there: with the cyclic garbage collector off, the library's exception is freed as
    soon as the caller drops it, as with the bare library (a frame holding it would keep exception, traceback
    and frames alive in a cycle until a collection)."""
    validate = _validator(lib, lib_keys.public_pem("RS256"))
    now = int(time.time())
    token = {
        "expired": lambda: mint("RS256", claims(exp=now - 600)),  # class-alone reason (the shortcut)
        "forged": lambda: mint("RS256", key=lib_keys.other_private("RS256")),  # full classification
        "audience": lambda: mint("RS256", claims(aud="https://elsewhere.example")),
    }[case]()
    inst = JwtInstrumentor()
    gc.collect()
    gc.disable()
    try:
        bare, bare_reason = _caught(validate, token)
        assert bare() is None and bare_reason is None  # the bare library leaves no cycle either
        inst.instrument(libraries=[lib])
        try:
            ref, reason = _caught(validate, token)
        finally:
            inst.uninstrument()
        assert ref() is None
    finally:
        gc.enable()
    expected = {"expired": Reason.EXPIRED, "forged": Reason.BAD_SIGNATURE, "audience": Reason.AUDIENCE_MISMATCH}
    assert reason is expected[case]
    jwtobs.flush()
    assert [(e.library, e.outcome, e.reason) for e in recorded.events] == [(lib, "rejected", reason.value)]


class _Interrupting(str):
    """An HMAC secret whose encoding raises ``KeyboardInterrupt`` (PyJWT encodes a ``str`` key in its decode)."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise KeyboardInterrupt


def test_a_base_exception_passes_through_unrecorded(lib_keys: LibKeys, instrumented: Recorded) -> None:
    """Not an ``Exception`` (an interrupt): re-raised unchanged, nothing recorded, the observing flag and a
    waiting two-step decode cleared, in the call kind (PyJWT) and in the claims check (Authlib's claim callback)."""
    before = ACTIVE.get()
    token = jwt.encode(claims(), "s" * 32, algorithm="HS256")
    with pytest.raises(KeyboardInterrupt):
        jwt.decode(token, _Interrupting("s" * 32), algorithms=["HS256"], audience=AUD)
    assert ACTIVE.get() is before

    def interrupt(_claims: Any, _value: Any) -> bool:
        raise KeyboardInterrupt

    pem = lib_keys.public_pem("RS256")
    decoded = JsonWebToken(["RS256"]).decode(mint("RS256"), pem, claims_options={"sub": {"validate": interrupt}})
    with pytest.raises(KeyboardInterrupt):
        decoded.validate()
    assert instrumentation._waiting() is None and not running(ACTIVE.get())
    decoded = JsonWebToken(["RS256"]).decode(mint("RS256"), pem)
    decoded.validate()  # the next two-step validation records as usual
    jwtobs.flush()
    assert [(e.library, e.outcome) for e in instrumented.events] == [("authlib", "accepted")]
