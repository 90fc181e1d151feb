"""Bad input never crashes the Verifier and is never accepted: always TokenRejected, always one event."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jwtobs
from jwtobs import TokenRejected
from jwtobs.events import ValidationEvent

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EVENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _sink() -> None:
    EVENTS.clear()
    jwtobs.configure(sinks=[EVENTS.append], fingerprint_key=b"k" * 32, from_env=False)


def _verifier() -> jwtobs.Verifier:
    prof = jwtobs.Profile(name="api", issuer="https://i", audience="api", max_token_bytes=4096)
    return jwtobs.Verifier(prof, keys={"k": KEY.public_key()})


def _b64(obj: Any) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
tokens = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.builds(lambda h, p, s: f"{_b64(h)}.{_b64(p)}.{s}", json_values, json_values, st.text(max_size=40)),
    st.builds(
        lambda h, p: f"{_b64({'alg': 'RS256', 'typ': 'at+jwt', 'kid': 'k', **h})}.{_b64(p)}.{_b64(b'x' * 256)}",
        st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jku", "b64"]), json_values, max_size=3),
        st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub"]), json_values, max_size=6),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens)
def test_any_input_is_a_clean_rejection(token: object) -> None:
    v = _verifier()
    before = len(EVENTS)
    with pytest.raises(TokenRejected) as info:
        v.verify(token, now=1_800_000_000)
    assert info.value.reason.value.startswith("JWT_") and info.value.reason.value != "JWT_VALIDATOR_ERROR"
    events = [e for e in EVENTS[before:] if isinstance(e, ValidationEvent)]
    assert len(events) == 1 and events[0].outcome == "rejected"
