"""The request thread's record of a deferred validation (issue #16): what it keeps, and that it keeps no
GC-tracked object per validation (a tuple per waiting record made the request thread pay generation-0/1
collections: 0.7-1.8 µs per call on HS256)."""

from __future__ import annotations

import gc
import os
import typing
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs import pipeline
from jwtobs.events import KeySetChange, ValidationEvent

ISS = "https://issuer.record.test"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def _token(key: bytes, **claims: Any) -> str:
    return jwt.encode({"iss": ISS, "sub": "u", "exp": 2_000_000_000, **claims}, key, algorithm="HS256")


def test_record_width_is_the_pending_tuple() -> None:
    assert len(typing.get_args(pipeline.Pending)) == pipeline.RECORD_WIDTH


def test_waiting_validations_hold_no_gc_tracked_record(key: bytes) -> None:
    events: list[Any] = []
    jwtobs.configure(defer=True, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    tokens = [_token(key, jti=str(i)) for i in range(2000)]
    expired = [_token(key, jti=f"x{i}", exp=1) for i in range(1000)]
    decode(tokens[0], key, algorithms=["HS256"])  # the builder thread exists
    jwtobs.flush()
    events.clear()
    with pipeline._queue.lock:  # the builder cannot drain meanwhile
        gc.collect()
        before = len(gc.get_objects())
        for t in tokens:
            decode(t, key, algorithms=["HS256"])
        for t in expired:
            with pytest.raises(jwt.ExpiredSignatureError):
                decode(t, key, algorithms=["HS256"])
        grown = len(gc.get_objects()) - before
        assert pipeline.queued() == len(tokens) + len(expired)
    # was >= one tuple per waiting validation (and a peek object per rejection)
    assert grown < (len(tokens) + len(expired)) // 20, grown
    jwtobs.flush()
    assert [e.outcome for e in events] == ["accepted"] * len(tokens) + ["rejected"] * len(expired)
    assert len({e.jti_hash for e in events}) == len(events)  # each record's own token, in order, none lost
    assert {e.reason for e in events[len(tokens) :]} == {"JWT_EXPIRED"}


def test_key_set_changes_keep_their_place_behind_validations(key: bytes) -> None:
    seen: list[ValidationEvent | KeySetChange] = []
    jwtobs.configure(defer=True, sinks=[seen.append], fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    with pipeline._queue.lock:
        decode(_token(key), key, algorithms=["HS256"])
        pipeline.emit_keyset_change(issuer=ISS, added=("k2",), removed=(), keys=2)
        with pytest.raises(jwt.ExpiredSignatureError):
            decode(_token(key, exp=1), key, algorithms=["HS256"])
        assert pipeline.queued() == 3
    jwtobs.flush()
    kinds = [type(r).__name__ if isinstance(r, KeySetChange) else r.outcome for r in seen]
    assert kinds == ["accepted", "KeySetChange", "rejected"]
    assert pipeline.queued() == 0


class _Claims(dict[str, Any]):
    """A library's claims object that is a dict subclass (as Authlib's JWTClaims is)."""


def test_claims_changed_after_return_do_not_change_the_event(key: bytes) -> None:
    """The record keeps a plain copy of the returned claims (of a dict subclass too): what the application does
    with its claims after the call does not reach the event built later."""
    events: list[Any] = []
    jwtobs.configure(defer=True, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    reference: list[Any] = []

    for wrap_result in (dict, _Claims):
        decode = jwtobs.wrap(lambda t, r=wrap_result: r(jwt.decode(t, key, algorithms=["HS256"])), library="pyjwt")
        with pipeline._queue.lock:
            claims = decode(_token(key, sub="alice", jti="j1"))
            claims["sub"] = "mallory"
            del claims["iss"]
            claims.clear()
        jwtobs.flush()
        reference.append(events.pop())
    plain, subclass = reference
    for event in (plain, subclass):
        assert event.issuer == ISS and event.jti_hash is not None and event.exp == 2_000_000_000
    assert plain.sub_hash == subclass.sub_hash  # both the hash of "alice"
    jwtobs.configure(defer=False, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    jwtobs.wrap(jwt.decode)(_token(key, sub="alice", jti="j1"), key, algorithms=["HS256"])
    assert events[-1].sub_hash == plain.sub_hash
