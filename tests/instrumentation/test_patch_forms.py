"""The patched entry points are compiled with the original's own parameter list (instrumentation._compile), and
a two-step validation keeps its state in one list in jwtobs.wrap.ACTIVE: binding, defaults, fallbacks, nesting."""

from __future__ import annotations

import inspect
from typing import Any

import authlib.jose
import joserfc.jwk
import joserfc.jwt
import jwt
import pytest

import jwtobs
from jwtobs import instrumentation
from jwtobs.instrumentation import _call_patch, _claims_patch, _decode_patch, _exact
from jwtobs.wrap import ACTIVE, observer, running

from .conftest import AUD, Keys, Recorder

_SENTINEL = object()


def _every_kind(token: Any, key: Any, /, algorithms: Any = None, options: Any = _SENTINEL, *rest: Any,
                leeway: Any = 0, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """An entry point with every kind of parameter; returns what it was called with."""
    return {"token": token, "key": key, "algorithms": algorithms, "rest": rest, "options": options,
            "leeway": leeway, "extra": extra}  # fmt: skip


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn, follow_wrapped=False).parameters.values()]


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("t1", "k"), {}),
    (("t2", "k", ["HS256"]), {}),
    (("t3", "k", ["HS256"], {"a": 1}, 1, 2), {"leeway": 5, "other": 7}),
    (("t3", "k", ["HS256"]), {"options": {"a": 1}, "leeway": 5, "other": 7}),
    (("t4", "k"), {"algorithms": ["RS256"], "options": None}),
]


def test_the_patched_function_has_the_originals_parameters_and_binds_the_same(recorder: Recorder) -> None:
    patched = _call_patch(_every_kind, observer("pyjwt"), 0, 3)
    assert _params(patched) == _params(_every_kind)
    assert patched.__code__.co_filename.startswith("<jwtobs patch")  # the exact form, not the *args fallback
    assert patched.__defaults__ is _every_kind.__defaults__
    assert patched.__kwdefaults__ is _every_kind.__kwdefaults__
    for args, kwargs in CALLS:
        assert patched(*args, **kwargs) == _every_kind(*args, **kwargs)
        assert patched(*args, **kwargs)["options"] is _every_kind(*args, **kwargs)["options"]  # the same default
    events = recorder.take()
    assert len(events) == 2 * len(CALLS) and all(e == ("pyjwt", "accepted", None) for e in events)
    # a call that does not bind raises what the original raises (the same message: the same __qualname__)
    patched.__qualname__ = _every_kind.__qualname__
    for bad_args, bad_kwargs in ((("t",), {}), (("t", "k", None, None), {"options": 1}), ((), {"key": "k"})):
        with pytest.raises(TypeError) as got:
            patched(*bad_args, **bad_kwargs)
        with pytest.raises(TypeError) as want:
            _every_kind(*bad_args, **bad_kwargs)
        assert str(got.value) == str(want.value)


def test_options_verify_signature_false_is_a_peek_in_both_forms(recorder: Recorder) -> None:
    exact = _call_patch(_every_kind, observer("pyjwt"), 0, 3)
    star = _call_patch(lambda *a, **kw: _every_kind(*a, **kw), observer("pyjwt"), 0, 3)
    for patched in (exact, star):
        patched("t", "k", None, {"verify_signature": False})
        patched("t", "k", options={"verify_signature": False})
    assert recorder.take() == []
    for patched in (exact, star):
        patched("t", "k", None, {"verify_signature": True})
    assert recorder.take() == [("pyjwt", "accepted", None)] * 2
    # the libraries' test is truthiness, in any mapping: every falsy value is a peek too
    from types import MappingProxyType

    for falsy in (0, None, "", 0.0, []):
        for patched in (exact, star):
            patched("t", "k", None, {"verify_signature": falsy})
            patched("t", "k", options=MappingProxyType({"verify_signature": falsy}))
    assert recorder.take() == []
    for patched in (exact, star):
        patched("t", "k", None, {"verify_signature": 1})
        patched("t", "k", None, {})
    assert recorder.take() == [("pyjwt", "accepted", None)] * 4


def test_the_exact_form_is_not_used_where_it_cannot_find_the_token() -> None:
    def starred(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    def reserved(token: Any, _j_result: Any = None) -> Any:
        return token, _j_result

    def keyword_token(*, token: Any) -> Any:
        return token

    assert _exact(_every_kind, 0, 3) is not None
    assert _exact(starred, 0, None) is None
    assert _exact(reserved, 0, None) is None  # a parameter named like the body's locals
    assert _exact(keyword_token, 0, None) is None
    assert _exact(_every_kind, 0, 4) is None  # options beyond the positional parameters
    for fn, at in ((starred, 0), (reserved, 0), (keyword_token, 0)):
        patched = _call_patch(fn, observer("pyjwt"), at, None)
        assert patched.__code__.co_varnames[:2] == ("_j_args", "_j_kwargs")


def test_the_star_fallback_finds_the_token_by_keyword(recorder: Recorder) -> None:
    seen: list[Any] = []

    def starred(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append((args, kwargs))
        return {"sub": "s"}

    patched = _call_patch(starred, observer("pyjwt"), 0, None)
    assert patched(token="abc", key="k") == {"sub": "s"}
    assert patched("abc", "k") == {"sub": "s"}
    assert seen == [((), {"token": "abc", "key": "k"}), (("abc", "k"), {})]
    assert recorder.take() == [("pyjwt", "accepted", None)] * 2


def test_two_step_patches_in_both_forms_join_and_record_once(keys: Keys, recorder: Recorder) -> None:
    jkey = joserfc.jwk.RSAKey.import_key(keys.pem)
    registry = joserfc.jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD})
    obs = observer("joserfc")
    decode_exact = _decode_patch(joserfc.jwt.decode, obs, 0, "claims")
    decode_star = _decode_patch(lambda *a, **kw: joserfc.jwt.decode(*a, **kw), obs, 0, "claims")
    check_exact = _claims_patch(joserfc.jwt.JWTClaimsRegistry.validate, 1)
    check_star = _claims_patch(lambda *a, **kw: joserfc.jwt.JWTClaimsRegistry.validate(*a, **kw), 1)
    for decode in (decode_exact, decode_star):
        for check in (check_exact, check_star):
            tok = decode(keys.token(), jkey, algorithms=["RS256"])
            check(registry, tok.claims)
            check(registry, tok.claims)  # checked again: consumed, not a second event
            expired = decode(value=keys.token(exp_in=-600), key=jkey, algorithms=["RS256"])
            with pytest.raises(joserfc.errors.ExpiredTokenError):
                check(registry, claims=expired.claims)
    assert recorder.take() == [("joserfc", "accepted", None), ("joserfc", "rejected", "JWT_EXPIRED")] * 4
    assert ACTIVE.get() is False or not running(ACTIVE.get())


def test_validations_nested_in_a_two_step_validation_are_not_recorded(keys: Keys, instrumented: Recorder) -> None:
    jkey = joserfc.jwk.RSAKey.import_key(keys.pem)
    registry = joserfc.jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD})

    def inner() -> None:  # an instrumented PyJWT decode inside the two-step validation
        jwt.decode(keys.token(), keys.public, algorithms=["RS256"], audience=AUD)

    def resolve(_obj: Any) -> Any:  # joserfc calls a key function during its decode
        inner()
        return jkey

    tok = joserfc.jwt.decode(keys.token(), resolve, algorithms=["RS256"])
    registry.validate(tok.claims)
    assert instrumented.take() == [("joserfc", "accepted", None)]

    def check_sub(_claims: Any, _value: Any) -> bool:  # authlib calls a claim's validate during the claims check
        inner()
        return True

    claims = authlib.jose.jwt.decode(keys.token(), keys.pem, claims_options={"sub": {"validate": check_sub}})
    claims.validate()
    assert instrumented.take() == [("authlib", "accepted", None)]
    inner()  # outside: recorded
    assert instrumented.take() == [("pyjwt", "accepted", None)]


def test_a_validation_between_a_decode_and_its_claims_check_records_both(keys: Keys, instrumented: Recorder) -> None:
    jkey = joserfc.jwk.RSAKey.import_key(keys.pem)
    registry = joserfc.jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD})
    observed = jwtobs.wrap(lambda t: jwt.decode(t, keys.public, algorithms=["RS256"], audience=AUD), library="pyjwt")
    tok = joserfc.jwt.decode(keys.token(), jkey, algorithms=["RS256"])
    assert instrumentation._waiting() is not None and not running(ACTIVE.get())
    observed(keys.token())  # a wrapped validation while the decode waits
    jwt.decode(keys.token(), keys.public, algorithms=["RS256"], audience=AUD)  # an instrumented one
    registry.validate(tok.claims)  # still joins its decode
    assert instrumented.take() == [("pyjwt", "accepted", None)] * 2 + [("joserfc", "accepted", None)]
    assert instrumentation._waiting() is None


def test_running_reads_every_value_active_takes() -> None:
    assert running(True) and not running(False)
    assert running([True]) and not running([False, 1, 2, 3, 4, 5]) and not running([None])
    assert jwtobs.wrap.__module__ == "jwtobs.wrap"
