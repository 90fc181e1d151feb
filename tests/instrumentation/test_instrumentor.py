"""JwtInstrumentor: real tokens through each library's instrumented entry points (real keys, no mocks)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import authlib.jose
import jose.jwt
import joserfc.jwk
import joserfc.jwt
import jwcrypto.jwk
import jwcrypto.jwt
import jwt
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs import config, instrumentation
from jwtobs.instrumentation import TARGETS, JwtInstrumentor

from .conftest import AUD, ISS, Keys, Recorder

# -- one validation per library, through the entry point applications call --------------------------------


def v_pyjwt(k: Keys, token: str) -> Any:
    return jwt.decode(token, k.public, algorithms=["RS256"], audience=AUD)


def v_pyjwt_complete(k: Keys, token: str) -> Any:
    return jwt.PyJWT().decode_complete(token, k.public, algorithms=["RS256"], audience=AUD)["payload"]


def v_jose(k: Keys, token: str) -> Any:
    return jose.jwt.decode(token, k.pem.decode(), algorithms=["RS256"], audience=AUD)


def v_jwcrypto(k: Keys, token: str) -> Any:
    t = jwcrypto.jwt.JWT(
        jwt=token, key=jwcrypto.jwk.JWK.from_pem(k.pem), algs=["RS256"], check_claims={"aud": AUD, "exp": None}
    )
    return t.claims


def v_jwcrypto_two_phase(k: Keys, token: str) -> Any:
    t = jwcrypto.jwt.JWT(algs=["RS256"], check_claims={"aud": AUD, "exp": None})
    t.deserialize(token)
    t.validate(jwcrypto.jwk.JWK.from_pem(k.pem))
    return t.claims


def v_joserfc(k: Keys, token: str) -> Any:
    tok = joserfc.jwt.decode(token, joserfc.jwk.RSAKey.import_key(k.pem), algorithms=["RS256"])
    joserfc.jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD}).validate(tok.claims)
    return (tok.header, tok.claims)


def v_authlib(k: Keys, token: str) -> Any:
    claims = authlib.jose.jwt.decode(token, k.pem, claims_options={"aud": {"essential": True, "value": AUD}})
    claims.validate()
    return (type(claims), dict(claims), dict(claims.header))


VALIDATORS: dict[str, tuple[str, Callable[[Keys, str], Any]]] = {
    "pyjwt": ("pyjwt", v_pyjwt),
    "pyjwt-decode_complete": ("pyjwt", v_pyjwt_complete),
    "jose": ("jose", v_jose),
    "jwcrypto": ("jwcrypto", v_jwcrypto),
    "jwcrypto-deserialize+validate": ("jwcrypto", v_jwcrypto_two_phase),
    "joserfc": ("joserfc", v_joserfc),
    "authlib": ("authlib", v_authlib),
}

CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "valid": ({}, None),
    "expired": ({"exp_in": -600}, "JWT_EXPIRED"),
    "bad_signature": ({"key": "other"}, "JWT_BAD_SIGNATURE"),
    "wrong_audience": ({"aud": "someone-else"}, "JWT_AUDIENCE_MISMATCH"),
}


def _token(k: Keys, case: str) -> str:
    spec = dict(CASES[case][0])
    if spec.get("key") == "other":
        spec["key"] = k.other
    return k.token(**spec)


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gave: its return value, or its exception's class and message, with the current time in the
    message (jwcrypto's "Expired at 1796512962, time: 1796513563") as ``<now>``: the bare and the instrumented call
    may fall in different seconds (seen once in a full run: 1796513562 against 1796513563)."""
    try:
        return "ok", fn()
    except Exception as exc:
        now = int(time.time())
        message = re.sub(r"\b\d{10}\b", lambda m: "<now>" if abs(int(m[0]) - now) <= 2 else m[0], str(exc))
        return "raised", (type(exc), message)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", list(VALIDATORS))
def test_each_library_records_one_event_and_keeps_the_outcome(
    name: str, case: str, keys: Keys, recorder: Recorder
) -> None:
    library, validate = VALIDATORS[name]
    token = _token(keys, case)
    bare = _outcome(lambda: validate(keys, token))
    assert recorder.take() == []  # not instrumented: nothing recorded
    expected_reason = CASES[case][1]
    assert (bare[0] == "ok") == (expected_reason is None), bare

    inst = JwtInstrumentor()
    inst.instrument()
    try:
        observed = _outcome(lambda: validate(keys, token))
        events = recorder.take()
    finally:
        inst.uninstrument()
    assert observed == bare  # same return value, or same exception class and message
    outcome = "accepted" if expected_reason is None else "rejected"
    assert events == [(library, outcome, expected_reason)]
    spans = recorder.exporter.get_finished_spans()
    assert [s.name for s in spans] == ["jwt.validate default"]
    assert spans[0].attributes is not None and spans[0].attributes["jwtobs.library"] == library


def test_reason_of_reads_the_classification_of_the_native_exception(keys: Keys, instrumented: Recorder) -> None:
    with pytest.raises(jwt.ExpiredSignatureError) as info:
        v_pyjwt(keys, keys.token(exp_in=-600))
    assert jwtobs.reason_of(info.value) == jwtobs.Reason.EXPIRED
    with pytest.raises(joserfc.errors.ExpiredTokenError) as info2:
        v_joserfc(keys, keys.token(exp_in=-600))
    assert jwtobs.reason_of(info2.value) == jwtobs.Reason.EXPIRED


def _attr(owner: Any, attr: str) -> Any:
    return vars(owner).get(attr)


def _owners() -> list[tuple[Any, str]]:
    out = []
    for t in TARGETS:
        owner: Any = sys.modules[t.module]
        *path, attr = t.name.split(".")
        for p in path:
            owner = getattr(owner, p)
        out.append((owner, attr))
    return out


def test_uninstrument_restores_the_original_objects(recorder: Recorder) -> None:
    original_decode = jwt.api_jwt.PyJWT.decode
    original_complete = jwt.api_jwt.PyJWT.decode_complete
    before = [(o, a, a in vars(o), _attr(o, a)) for o, a in _owners()]
    inst = JwtInstrumentor()
    inst.instrument()
    assert set(inst.instrumented_libraries) == {"pyjwt", "joserfc", "jose", "jwcrypto", "authlib"}
    for owner, attr, _had, orig in before:
        patched = _attr(owner, attr)
        assert patched is not orig and hasattr(patched, "__wrapped__"), (owner, attr)
    inst.uninstrument()
    assert jwt.api_jwt.PyJWT.decode is original_decode
    assert jwt.api_jwt.PyJWT.decode_complete is original_complete
    for owner, attr, had, orig in before:
        assert (attr in vars(owner)) == had, (owner, attr)  # inherited ones (JWTClaimsRegistry.validate) removed
        assert _attr(owner, attr) is orig
    assert "validate" not in vars(joserfc.jwt.JWTClaimsRegistry)


def test_uninstrumented_calls_record_nothing(keys: Keys, recorder: Recorder) -> None:
    inst = JwtInstrumentor()
    inst.instrument()
    inst.uninstrument()
    for _lib, validate in VALIDATORS.values():
        validate(keys, keys.token())
    assert recorder.take() == []


def test_double_instrument_is_a_noop(keys: Keys, recorder: Recorder) -> None:
    inst = JwtInstrumentor()
    inst.instrument()
    try:
        patched = [_attr(o, a) for o, a in _owners()]
        JwtInstrumentor().instrument()  # the same (singleton) instrumentor: BaseInstrumentor warns and returns
        assert [_attr(o, a) for o, a in _owners()] == patched
        assert all(p is q for p, q in zip(patched, [_attr(o, a) for o, a in _owners()], strict=True))
        v_pyjwt(keys, keys.token())
        v_joserfc(keys, keys.token())
        assert recorder.take() == [("pyjwt", "accepted", None), ("joserfc", "accepted", None)]
    finally:
        inst.uninstrument()
    inst.uninstrument()  # second uninstrument: a warning, nothing else
    assert jwt.api_jwt.PyJWT.decode.__qualname__ == "PyJWT.decode"


def test_suppress_instrumentation_suppresses(keys: Keys, instrumented: Recorder) -> None:
    with suppress_instrumentation():
        for _lib, validate in VALIDATORS.values():
            validate(keys, keys.token())
        with pytest.raises(jwt.ExpiredSignatureError):
            v_pyjwt(keys, keys.token(exp_in=-600))
        with pytest.raises(joserfc.errors.ExpiredTokenError):
            v_joserfc(keys, keys.token(exp_in=-600))
    assert instrumented.take() == []
    v_jose(keys, keys.token())
    assert instrumented.take() == [("jose", "accepted", None)]


def test_nested_in_a_wrapped_function_records_once(keys: Keys, instrumented: Recorder) -> None:
    def my_validate(token: str) -> Any:
        claims = jwt.decode(token, keys.public, algorithms=["RS256"], audience=AUD)
        jwt.decode(token, keys.public, algorithms=["RS256"], audience=AUD)  # a second inner call
        return claims

    observed = jwtobs.wrap(my_validate, library="pyjwt", profile="outer")
    observed(keys.token())
    with pytest.raises(jwt.ExpiredSignatureError):
        observed(keys.token(exp_in=-600))
    assert instrumented.take() == [("pyjwt", "accepted", None), ("pyjwt", "rejected", "JWT_EXPIRED")]
    assert {s.name for s in instrumented.exporter.get_finished_spans()} == {"jwt.validate outer"}
    # jwt.decode -> PyJWT.decode -> PyJWT.decode_complete: both patched, one event
    jwt.decode(keys.token(), keys.public, algorithms=["RS256"], audience=AUD)
    assert instrumented.take() == [("pyjwt", "accepted", None)]


def test_two_step_decode_without_claims_check_is_not_recorded_as_accepted(keys: Keys, instrumented: Recorder) -> None:
    # joserfc and authlib check exp in the claims step: a decode alone let this expired token through, and
    # counting it as accepted would count an expired token as accepted
    expired = keys.token(exp_in=-600)
    jkey = joserfc.jwk.RSAKey.import_key(keys.pem)
    tok = joserfc.jwt.decode(expired, jkey, algorithms=["RS256"])
    claims = authlib.jose.jwt.decode(expired, keys.pem)
    assert tok.claims["sub"] == claims["sub"] == "user-1"
    assert instrumented.take() == []
    # the claims check of the first decode after another decode in the same context: not joined, not recorded
    with pytest.raises(joserfc.errors.ExpiredTokenError):
        joserfc.jwt.JWTClaimsRegistry().validate(tok.claims)
    assert instrumented.take() == []
    # the claims check of a copy is not the instrumented decode's: not recorded
    tok2 = joserfc.jwt.decode(expired, jkey, algorithms=["RS256"])
    with pytest.raises(joserfc.errors.ExpiredTokenError):
        joserfc.jwt.JWTClaimsRegistry().validate(dict(tok2.claims))
    assert instrumented.take() == []
    # ... while the check of the decode's own claims is the validation, recorded once
    with pytest.raises(joserfc.errors.ExpiredTokenError):
        joserfc.jwt.JWTClaimsRegistry().validate(tok2.claims)
    with pytest.raises(joserfc.errors.ExpiredTokenError):  # checked again: not a new event
        joserfc.jwt.JWTClaimsRegistry().validate(tok2.claims)
    with pytest.raises(authlib.jose.errors.ExpiredTokenError):
        claims.validate()  # authlib's decode was replaced by joserfc's in this context
    assert instrumented.take() == [("joserfc", "rejected", "JWT_EXPIRED")]


def test_two_step_signature_failure_is_recorded_at_decode(keys: Keys, instrumented: Recorder) -> None:
    forged = keys.token(key=keys.other)
    with pytest.raises(joserfc.errors.BadSignatureError):
        joserfc.jwt.decode(forged, joserfc.jwk.RSAKey.import_key(keys.pem), algorithms=["RS256"])
    with pytest.raises(authlib.jose.errors.BadSignatureError):
        authlib.jose.jwt.decode(forged, keys.pem)
    assert instrumented.take() == [
        ("joserfc", "rejected", "JWT_BAD_SIGNATURE"),
        ("authlib", "rejected", "JWT_BAD_SIGNATURE"),
    ]


def test_two_step_claims_check_in_another_thread_is_not_joined(keys: Keys, instrumented: Recorder) -> None:
    tok = joserfc.jwt.decode(keys.token(exp_in=-600), joserfc.jwk.RSAKey.import_key(keys.pem), algorithms=["RS256"])
    errors: list[BaseException] = []

    def check() -> None:
        try:
            joserfc.jwt.JWTClaimsRegistry().validate(tok.claims)
        except Exception as exc:
            errors.append(exc)

    th = threading.Thread(target=check)
    th.start()
    th.join(10)
    assert type(errors[0]).__name__ == "ExpiredTokenError"
    assert instrumented.take() == []  # the decode alone is no validation, the other thread's check no decode's


def test_providers_passed_to_instrument_keep_the_users_configuration(keys: Keys) -> None:
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key="mine" * 4, service="billing", from_env=False)
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    inst = JwtInstrumentor()
    inst.instrument(tracer_provider=tp, meter_provider=mp, libraries=["python-jose"], profile="auto")
    try:
        assert inst.instrumented_libraries == ("jose",)
        with pytest.raises(jose.exceptions.ExpiredSignatureError):
            v_jose(keys, keys.token(exp_in=-600))
        v_pyjwt(keys, keys.token())  # PyJWT not selected: not recorded
        config.flush()
    finally:
        inst.uninstrument()
    assert [(e.library, e.reason, e.service, e.profile) for e in events] == [("jose", "JWT_EXPIRED", "billing", "auto")]
    assert events[0].token_fp is not None and events[0].token_fp.startswith(config.current().fingerprinter.key_id)
    assert [s.name for s in exporter.get_finished_spans()] == ["jwt.validate auto"]
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "jwtobs.validation.duration" in names


def test_unknown_library_name_is_a_clear_error(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="unknown libraries"):
        JwtInstrumentor().instrument(libraries=["pyjwt", "nope"])
    assert not JwtInstrumentor().is_instrumented_by_opentelemetry


def test_instrument_imports_no_library_and_patches_on_import() -> None:
    # jwtobs itself imports no JOSE library (jwks.py and the Verifier load a backend only when used); each of
    # the five is patched when the app imports it
    code = (
        "import sys, warnings\n"
        "from jwtobs.instrumentation import JwtInstrumentor\n"
        "inst = JwtInstrumentor(); inst.instrument()\n"
        "assert not {'jwt', 'jose', 'joserfc', 'jwcrypto', 'authlib'} & set(sys.modules)\n"
        "assert inst.instrumented_libraries == (), inst.instrumented_libraries\n"
        "import jwt\n"
        "assert inst.instrumented_libraries == ('pyjwt',), inst.instrumented_libraries\n"
        "import jwcrypto.jwt\n"
        "assert inst.instrumented_libraries == ('pyjwt', 'jwcrypto'), inst.instrumented_libraries\n"
        "assert hasattr(vars(jwcrypto.jwt.JWT)['deserialize'], '__wrapped__')\n"
        "inst.uninstrument()\n"
        "assert not hasattr(vars(jwcrypto.jwt.JWT)['deserialize'], '__wrapped__')\n"
        "warnings.simplefilter('ignore')\n"
        "import authlib.jose\n"
        "assert inst.instrumented_libraries == (), inst.instrumented_libraries\n"
        "assert not hasattr(vars(authlib.jose.JsonWebToken)['decode'], '__wrapped__')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_hmac_and_bytes_tokens(keys: Keys, instrumented: Recorder) -> None:
    token = keys.token(alg="HS256")
    assert jwt.decode(token.encode(), keys.hmac, algorithms=["HS256"], audience=AUD)["sub"] == "user-1"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, b"x" * 32, algorithms=["HS256"], audience=AUD)
    with pytest.raises(jwt.DecodeError):
        jwt.decode("not-a-token", keys.hmac, algorithms=["HS256"])
    assert instrumented.take() == [
        ("pyjwt", "accepted", None),
        ("pyjwt", "rejected", "JWT_BAD_SIGNATURE"),
        ("pyjwt", "rejected", "JWT_MALFORMED"),
    ]


def test_dependencies_any_of_the_five_as_declared_in_the_package_metadata() -> None:
    from importlib.metadata import distribution

    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    from packaging.requirements import Requirement

    inst = JwtInstrumentor()
    assert tuple(inst.instrumentation_dependencies()) == ()  # "all of": nothing
    assert inst._check_dependency_conflicts() is None
    dist = distribution("jwtobs")
    declared = {
        str(Requirement(r).name).lower(): str(Requirement(r).specifier)
        for r in dist.requires or []
        if 'extra == "instruments-any"' in r
    }
    expected = {
        str(Requirement(r).name).lower(): str(Requirement(r).specifier) for r in instrumentation.LIBRARIES.values()
    }
    assert declared == expected  # pyproject's instruments-any extra == what _instrument checks per library
    # what opentelemetry-instrument's loader checks before loading the entry point
    assert get_dist_dependency_conflicts(dist) is None


@pytest.mark.parametrize("backend", ["pyjwt", "joserfc", "jwcrypto", "authlib", "python-jose"])
def test_verifier_under_instrumentation_records_once(backend: str, keys: Keys, instrumented: Recorder) -> None:
    # the Verifier records its own event; its signature backends must not trip an instrumented entry point
    profile = jwtobs.Profile(name="orders", issuer=ISS, audience=AUD, algorithms=("RS256",), token_type="JWT")
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": keys.public}), backend=backend)
    verifier.verify(keys.token())
    with pytest.raises(jwtobs.TokenRejected):
        verifier.verify(keys.token(exp_in=-600))
    assert [(e.outcome, e.reason, e.profile) for e in instrumented.events] == [
        ("accepted", None, "orders"),
        ("rejected", "JWT_EXPIRED", "orders"),
    ]
    assert instrumented.take() == [(verifier.library, "accepted", None), (verifier.library, "rejected", "JWT_EXPIRED")]


def test_unverified_peek_is_not_a_validation(keys: Keys, instrumented: Recorder) -> None:
    # an app reading iss to pick a key: a forged token must not show up as accepted
    forged = keys.token(key=keys.other, iss="https://attacker.example")
    assert jwt.decode(forged, options={"verify_signature": False})["iss"] == "https://attacker.example"
    assert jwt.PyJWT().decode_complete(forged, None, None, {"verify_signature": False})["payload"]["sub"] == "user-1"
    assert jose.jwt.decode(forged, "", options={"verify_signature": False, "verify_aud": False})["sub"] == "user-1"
    # falsy values the libraries also read as "do not verify" (before session 13: recorded as accepted)
    assert jwt.decode(forged, options={"verify_signature": 0})["iss"] == "https://attacker.example"
    assert jose.jwt.decode(forged, "", options={"verify_signature": None, "verify_aud": False})["sub"] == "user-1"
    assert instrumented.take() == []
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, keys.public, algorithms=["RS256"], audience=AUD)
    with pytest.raises(jose.exceptions.JWTError):
        jose.jwt.decode(forged, keys.pem.decode(), algorithms=["RS256"], audience=AUD)
    assert instrumented.take() == [
        ("pyjwt", "rejected", "JWT_BAD_SIGNATURE"),
        ("jose", "rejected", "JWT_BAD_SIGNATURE"),
    ]


def test_two_step_join_is_per_task(keys: Keys, instrumented: Recorder) -> None:
    import asyncio

    jkey = joserfc.jwk.RSAKey.import_key(keys.pem)
    registry = joserfc.jwt.JWTClaimsRegistry(exp={"essential": True})

    async def validate(token: str, started: asyncio.Event, other: asyncio.Event) -> str:
        tok = joserfc.jwt.decode(token, jkey, algorithms=["RS256"])
        started.set()
        await other.wait()  # the other task decodes in between: each task's claims check joins its own decode
        try:
            registry.validate(tok.claims)
        except joserfc.errors.ExpiredTokenError:
            return "expired"
        return "ok"

    async def main() -> list[str]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(validate(keys.token(), a, b), validate(keys.token(exp_in=-600), b, a)))

    assert asyncio.run(main()) == ["ok", "expired"]
    assert sorted(instrumented.take(), key=str) == [
        ("joserfc", "accepted", None),
        ("joserfc", "rejected", "JWT_EXPIRED"),
    ]


def test_a_decode_waits_per_context_and_nothing_global_grows(keys: Keys, instrumented: Recorder) -> None:
    import contextvars

    token = keys.token()
    before = instrumentation.ACTIVE.get()
    contexts = [contextvars.copy_context() for _ in range(6)]
    for ctx in contexts:  # six contexts decode, none checks its claims: nothing recorded, nothing kept globally
        ctx.run(authlib.jose.jwt.decode, token, keys.pem)
    assert instrumentation.ACTIVE.get() is before  # each decode stayed in its own context
    assert instrumented.take() == []
    claims = contexts[2].run(instrumentation._waiting)[1]
    contexts[2].run(claims.validate)  # that context's own check still joins its decode
    assert instrumented.take() == [("authlib", "accepted", None)]
    assert contexts[2].run(instrumentation._waiting) is None


def test_the_suppression_check_agrees_with_opentelemetry() -> None:
    from opentelemetry import context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    assert instrumentation._suppressed() is (not is_instrumentation_enabled()) is False
    with suppress_instrumentation():
        assert instrumentation._suppressed() is (not is_instrumentation_enabled()) is True
    for key in (_SUPPRESS_INSTRUMENTATION_KEY, "suppress_instrumentation"):  # either key alone suppresses
        token = context.attach(context.set_value(key, True))
        try:
            assert instrumentation._suppressed() is (not is_instrumentation_enabled()) is True
        finally:
            context.detach(token)
    assert instrumentation._suppressed() is False


@pytest.mark.parametrize("name", list(VALIDATORS))
def test_accepted_events_carry_the_tokens_claims_on_every_entry_point(
    name: str, keys: Keys, instrumented: Recorder
) -> None:
    # jwcrypto's claims are read from the token by the event builder, the others' from the library's result:
    # the same token gives the same claim-derived fields either way
    token = keys.token(jti="jti-claims-test")
    jwtobs.wrap(lambda t: jwt.decode(t, keys.public, algorithms=["RS256"], audience=AUD), library="pyjwt")(token)
    VALIDATORS[name][1](keys, token)
    config.flush()
    reference, event = instrumented.events
    fields = ("issuer", "alg", "kid", "token_fp", "jti_hash", "sub_hash", "iat", "exp", "token_bytes")
    assert event.outcome == "accepted" and event.library == VALIDATORS[name][0]
    assert event.sub_hash is not None and event.jti_hash is not None and event.issuer == ISS
    assert [getattr(event, f) for f in fields] == [getattr(reference, f) for f in fields]
    instrumented.take()


@pytest.mark.parametrize("text", ["", ".", "..", "...", "a.b.c", "a.b", "a.b.c.d", "abc", ".a.", "a..b", "a.b.c.d.e"])
def test_compact_jws_check_counts_dots_exactly(text: str) -> None:
    assert instrumentation._two_dots(text) is (text.count(".") == 2)


def test_jwcrypto_deserialize_that_does_not_bind_is_not_recorded(instrumented: Recorder) -> None:
    """``JWT().deserialize()`` without a token is the caller's TypeError, before any validation: no event (was
    JWT_MISSING). With the token by keyword it is still a validation."""
    for call in (lambda: jwcrypto.jwt.JWT().deserialize(), lambda: jwcrypto.jwt.JWT().deserialize(key=None)):
        with pytest.raises(TypeError):
            call()
    assert instrumented.take() == []
    with pytest.raises(Exception):  # noqa: B017 - jwcrypto's own parse error
        jwcrypto.jwt.JWT().deserialize(jwt="x.y.z")
    assert [(lib, outcome) for lib, outcome, _ in instrumented.take()] == [("jwcrypto", "rejected")]
