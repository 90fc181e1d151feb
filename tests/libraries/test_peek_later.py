"""The request thread peeks at a rejected token only when its reason needs the header (issue #16).

``jwtobs.header.peek_later`` returns a peek that is done when one of its fields is first read; the adapters
classify with it, so an expired token (whose reason needs nothing of the token) is not peeked on the request
thread, and the event builder peeks it later. Every field must equal :func:`jwtobs.header.peek`'s, for any
input, and every reason stays what it was (the matrix in test_matrix.py runs every library through it).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jwtobs
from jwtobs import header
from jwtobs.header import is_later, peek, peek_later
from jwtobs.reasons import Reason


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HS = b64(b'{"alg":"HS256","typ":"JWT"}')


@pytest.fixture
def hmac_key() -> bytes:
    return os.urandom(32)


def fields(p: header.TokenPeek) -> tuple[Any, ...]:
    return (
        p.kind,
        p.token_bytes,
        p.header,
        p.alg,
        p.kid,
        p.typ,
        p.bad_header_types,
        p.unsigned,
        p.malformed_part,
        p.safe,
        p.claims(),
        p.bad_segment(),
        p.segments(),
    )


SEGMENTS = [HS, b64(b'{"alg":"none"}'), b64(b'{"alg":" NoNe "}'), b64(b'{"alg":5,"kid":[1]}'), "e30", "!!", "", "{"]


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        b"",
        7,
        "x" * 70_000,
        HS + ".e30.sig",
        HS + ".e30.",
        HS + ".e30",
        HS + ".e30.sig.",
        HS + ".a.b.c.d",
        HS + ".a.b.c.d.e",
        HS + "....",
        ".....",
        "..",
        "...",
        "a.b",
        "  " + HS + ".e30.sig\n",
        '{"payload":"x"}',
        "é" + HS + ".e30.sig",
        (HS + ".e30.sig").encode(),
        b64(b'{"alg":"nOnE","kid":5}') + ".e30.",
    ],
)
def test_later_peek_equals_peek(token: object) -> None:
    assert fields(peek_later(token)) == fields(peek(token))


def test_dots_are_found_exactly_as_counted() -> None:
    """2 dots is a JWS, 4 a JWE, any other count malformed (``str.find`` replaced ``str.count``)."""
    for n in range(9):
        for seg in SEGMENTS:
            token = ".".join([seg] + ["e30"] * n)
            if not token or token.startswith("{"):  # empty, JSON serialization
                continue
            dots = token.count(".")
            p = peek(token)
            if dots == 2:
                assert p.kind in ("jws", "malformed") and p.malformed_part != "segments", token
            elif dots == 4:
                assert p.kind in ("jwe", "malformed") and p.malformed_part != "segments", token
            else:
                assert (p.kind, p.malformed_part) == ("malformed", "segments"), token


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="eyJhbGciOiJ0123456789-_.=AQ{} \t", max_size=120),
        st.lists(st.sampled_from(SEGMENTS), max_size=7).map(".".join),
        st.binary(max_size=40),
    )
)
def test_later_peek_equals_peek_on_any_input(token: object) -> None:
    assert fields(peek_later(token)) == fields(peek(token))


def test_only_a_sized_text_waits() -> None:
    assert is_later(peek_later(HS + ".e30.sig"))
    for token in (None, "", 5, b"x.y.z", "é.x.y", "x" * 70_000):
        assert not is_later(peek_later(token))
    assert not is_later(peek_later("x" * 11, max_bytes=10))


@pytest.fixture
def peeked(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The tokens header._peek is called with from now on."""
    calls: list[object] = []
    real = header._peek

    def counting(token: object, max_bytes: int) -> header.TokenPeek:
        calls.append(token)
        return real(token, max_bytes)

    monkeypatch.setattr(header, "_peek", counting)
    return calls


def test_a_later_peek_is_done_once_and_only_when_read(peeked: list[object]) -> None:
    calls = peeked
    p = peek_later(HS + ".e30.sig")
    assert calls == []
    assert p.alg == "HS256" and p.kind == "jws" and p.unsigned is False
    assert len(calls) == 1
    with pytest.raises(AttributeError):
        p.no_such_field  # noqa: B018
    assert len(calls) == 1


def test_settled_is_none_only_for_an_unread_later_peek() -> None:
    p = peek_later(HS + ".e30.sig")
    assert header.settled(p) is None
    assert p.alg == "HS256"
    assert header.settled(p) is p and p.kind == "jws"
    q = peek(HS + ".e30.sig")
    assert header.settled(q) is q
    r = peek_later(None)
    assert header.settled(r) is r and r.kind == "missing"


def test_expired_token_is_not_peeked_on_the_request_thread(hmac_key: bytes, peeked: list[object]) -> None:
    """Deferred: an expired token's reason comes from the exception alone; the builder peeks it (its event
    still carries the header's alg and the payload's claims)."""
    events: list[Any] = []
    jwtobs.configure(defer=True, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    token = jwt.encode({"exp": 1, "iss": "https://issuer.test", "sub": "u"}, hmac_key, algorithm="HS256")
    decode = jwtobs.wrap(jwt.decode)
    with pytest.raises(jwt.ExpiredSignatureError) as info:
        decode(token, hmac_key, algorithms=["HS256"])
    assert jwtobs.reason_of(info.value) is Reason.EXPIRED
    assert peeked == []  # nothing peeked on the request thread
    jwtobs.flush()
    (event,) = events
    assert (event.outcome, event.reason, event.alg, event.issuer, event.exp) == (
        "rejected",
        "JWT_EXPIRED",
        "HS256",
        "https://issuer.test",
        1,
    )
    assert peeked == [token]  # once, by the builder


def test_a_reason_that_needs_the_header_still_gets_it(hmac_key: bytes) -> None:
    """An unsigned token (alg none) is JWT_UNSIGNED: the adapter reads the peek, which is then done."""
    events: list[Any] = []
    jwtobs.configure(defer=False, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    token = b64(json.dumps({"alg": "none"}).encode()) + "." + b64(b'{"sub":"u"}') + "."
    with pytest.raises(jwt.PyJWTError) as info:
        jwtobs.wrap(jwt.decode)(token, hmac_key, algorithms=["HS256"])
    assert jwtobs.reason_of(info.value) is Reason.UNSIGNED
    assert events[0].reason == "JWT_UNSIGNED" and events[0].alg == "none"
