"""The background builder: every field of a built event, batches handed to sinks in order, remembered
fingerprints, and JsonlSink.extend (what the builder hands a batch to)."""

from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs import fingerprint, pipeline
from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent
from jwtobs.fingerprint import Fingerprinter

from .conftest import AUD, ISS, Keys, claims


def test_the_event_field_order_is_pinned() -> None:
    """pipeline.build passes the fields by position (a keyword call of the dataclass costs ~3 µs more): a new or
    moved field must be placed there too."""
    assert [f.name for f in fields(ValidationEvent)] == [
        "time",
        "outcome",
        "reason",
        "detail",
        "library",
        "profile",
        "issuer",
        "alg",
        "kid",
        "typ",
        "client_id",
        "token_fp",
        "jti_hash",
        "sub_hash",
        "tenant",
        "iat",
        "nbf",
        "exp",
        "token_bytes",
        "duration_s",
        "trace_id",
        "span_id",
        "service",
        "schema",
    ]


@pytest.mark.parametrize("defer", [True, False])
def test_every_field_of_a_built_event_comes_from_its_source(keys: Keys, defer: bool) -> None:
    events: list[ValidationEvent] = []
    jwtobs.configure(
        defer=defer,
        sinks=[events.append],
        fingerprint_key="f" * 16,
        service="billing-api",
        tenant_claim="org",
        clock=lambda: 1_800_000_000.5,
        from_env=False,
    )
    now = int(time.time())
    payload = claims(iat=now - 7, nbf=now - 6, exp=now + 600, azp="web-app", org="acme", sub="bob", jti="j-1")
    token = jwt.encode(payload, keys.hmac, algorithm="HS256", headers={"kid": "hk-1"})
    t0 = time.time()
    jwtobs.wrap(jwt.decode, profile="billing")(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    jwtobs.flush()
    fp = Fingerprinter("f" * 16)
    (event,) = events
    assert 0 < event.duration_s < time.time() - t0 + 1
    assert event.to_dict() | {"duration_s": None} == {
        "schema": 1,
        "time": "2027-01-15T08:00:00.500000Z",
        "outcome": "accepted",
        "reason": None,
        "detail": None,
        "library": "pyjwt",
        "profile": "billing",
        "issuer": ISS,
        "alg": "HS256",
        "kid": "hk-1",
        "typ": "JWT",
        "client_id": "web-app",
        "token_fp": fp.token(token),
        "jti_hash": fp.claim("jti", "j-1"),
        "sub_hash": fp.claim("sub", "bob"),
        "tenant": "acme",
        "iat": now - 7,
        "nbf": now - 6,
        "exp": now + 600,
        "token_bytes": len(token),
        "duration_s": None,
        "trace_id": None,
        "span_id": None,
        "service": "billing-api",
    }


def test_a_batch_reaches_every_sink_in_order_with_key_set_changes_in_place(keys: Keys, tmp_path: Path) -> None:
    seen: list[Any] = []
    failing_calls = 0

    def failing(record: object) -> None:
        nonlocal failing_calls
        failing_calls += 1
        if failing_calls % 3 == 0:
            raise RuntimeError("sink down")

    path = tmp_path / "events.jsonl"
    state = jwtobs.configure(
        defer=True, events_path=path, sinks=[seen.append, failing], fingerprint_key="f" * 16, from_env=False
    )
    decode = jwtobs.wrap(jwt.decode)
    tokens = [jwt.encode(claims(sub=f"u{i}"), keys.hmac, algorithm="HS256", headers={"kid": f"k{i}"}) for i in range(7)]
    with pipeline._queue.lock:  # nothing is built until the flush: one batch with a key-set change inside
        for i, token in enumerate(tokens):
            decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
            if i == 3:
                pipeline.emit_keyset_change(issuer=ISS, added=("k9",), removed=(), keys=2)
        assert seen == []
    jwtobs.flush()
    kinds = ["change" if isinstance(r, KeySetChange) else r.kid for r in seen]
    assert kinds == ["k0", "k1", "k2", "k3", "change", "k4", "k5", "k6"]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line.get("event", line.get("kid")) for line in lines] == [
        "k0",
        "k1",
        "k2",
        "k3",
        "jwks.keyset_changed",
        "k4",
        "k5",
        "k6",
    ]
    # the failing sink lost its every third record only, each counted; the others got everything
    assert failing_calls == 8 and state.telemetry.events_dropped() == 2
    assert state.telemetry.failures() == {"sink": 2}


def test_the_guard_learns_in_order_within_a_batch(keys: Keys) -> None:
    """A rejection queued before the first acceptance of a new issuer is labelled _unknown, one after it with
    the issuer, as on the synchronous path (each event is built and labelled before the next is built)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    def labels(defer: bool) -> list[tuple[str, str]]:
        reader = InMemoryMetricReader()
        jwtobs.configure(
            defer=defer, fingerprint_key="f" * 16, meter_provider=MeterProvider(metric_readers=[reader]), from_env=False
        )
        decode = jwtobs.wrap(jwt.decode)
        iss = "https://new.example"
        expired = jwt.encode(claims(iss=iss, exp=int(time.time()) - 600), keys.hmac, algorithm="HS256")
        good = jwt.encode(claims(iss=iss), keys.hmac, algorithm="HS256")
        with pipeline._queue.lock:
            for token in (expired, good, expired):
                try:
                    decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
                except jwt.ExpiredSignatureError:
                    pass
        jwtobs.flush()
        data = reader.get_metrics_data()
        assert data is not None
        return sorted(
            (str(p.attributes["jwtobs.outcome"]), str(p.attributes["jwtobs.issuer"]))
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == "jwtobs.validation.duration"
            for p in m.data.data_points
        )

    expected = [("accepted", "https://new.example"), ("rejected", "_unknown"), ("rejected", "https://new.example")]
    assert labels(True) == labels(False) == expected


# -- remembered claim fingerprints --------------------------------------------------------------------------------


def test_remembered_sub_fingerprints_equal_computed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "_MAX_REMEMBERED", 8)
    fp, fresh = Fingerprinter("r" * 16), Fingerprinter("r" * 16)
    values = [f"user-{i % 11}" for i in range(60)] + ["x" * 300, "é-unicode", "\ud800-lone"]
    for v in values:
        assert fp.claim("sub", v) == fresh._claim("sub", v)
        assert fp.claim("jti", v) == fresh._claim("jti", v) == fp.jti(v)
    remembered = fp._remembered["sub"]
    assert 0 < len(remembered) <= 8  # bounded: emptied when full
    assert "x" * 300 not in remembered  # long values are not remembered
    assert "jti" not in fp._remembered  # unique per token: never remembered
    # values that are not strings are fingerprinted as before (str(value)), never remembered
    assert fp.claim("sub", 12345) == fresh._claim("sub", 12345) == fresh.claim("sub", "12345")
    assert 12345 not in remembered
    # another key: other fingerprints, its own memory
    assert Fingerprinter("s" * 16).claim("sub", "user-1") != fp.claim("sub", "user-1")


def test_fingerprints_are_unchanged() -> None:
    """Fixed vectors: the same key gives the same fingerprints as before the remembered values and the prefix."""
    fp = Fingerprinter("fixed-fingerprint-key-0123")
    key_id = fp.key_id
    import hashlib

    raw = b"fixed-fingerprint-key-0123"

    def blake(domain: str, data: bytes) -> str:
        h = hashlib.blake2b(key=raw, digest_size=6, person=domain.encode().ljust(16, b"\0"))
        h.update(data)
        return f"{key_id}-{h.hexdigest()}"

    assert fp.token(" eyJ.a.b \n") == blake("token", b"eyJ.a.b")
    assert fp.claim("sub", "alice") == fp.claim("sub", "alice") == blake("sub", b"alice")
    assert fp.claim("jti", "j-1") == fp.jti("j-1") == blake("jti", b"j-1")
    assert fp.jti(17) == fp.claim("jti", 17) == blake("jti", b"17")  # a number: str(value), as claim() does
    assert fp.claim("client_id", "c") == blake("claim", b"client_id\0c")
    assert fp.claim("token", "t") == blake("token", b"t")  # a claim named like a domain keeps that domain


# -- JsonlSink.extend ------------------------------------------------------------------------------------------


def _ev(kid: str) -> ValidationEvent:
    return ValidationEvent(
        1795000000.25, "accepted", None, None, "pyjwt", "p", "https://i", "RS256", kid, "JWT", None, None, None, None,
        None, None, None, None, 10, 0.0001,
    )  # fmt: skip


def test_jsonl_extend_writes_in_order_and_wakes_the_writer(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=16, flush_interval=60.0)
    sink.extend([_ev(f"k{i}") for i in range(10)])  # below max_buffer: buffered, the writer sleeps
    assert sink._thread is not None and not sink._wake.is_set()
    sink.extend([_ev(f"k{i}") for i in range(10, 40)])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sink.written < 40:
        time.sleep(0.01)
    assert sink.written == 40  # woken past max_buffer, wrote everything
    sink.close()
    kids = [json.loads(line)["kid"] for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert kids == [f"k{i}" for i in range(40)]


def test_jsonl_extend_drops_and_counts_past_max_pending(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=5, max_pending=12, flush_interval=60)
    sink._start = lambda: None  # type: ignore[method-assign]  # no writer: the buffer only fills
    sink.extend([_ev(f"a{i}") for i in range(8)])
    sink.extend([_ev(f"b{i}") for i in range(8)])
    sink.extend([_ev("c")])
    assert sink.waiting == 12 and sink.dropped == 5
    assert len(sink._buffer) == 2  # each batch one entry: its JSON lines (no event object kept)
    sink.close()
    kids = [json.loads(line)["kid"] for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert kids == [f"a{i}" for i in range(8)] + ["b0", "b1", "b2", "b3"]
    assert sink.written == 12 and sink.waiting == 0


def test_jsonl_records_and_extended_batches_are_written_in_arrival_order(tmp_path: Path) -> None:
    """Records called in one at a time (a key-set change, a synchronous configuration) and the builder's
    encoded batches keep their order; the counts add up."""
    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=10_000, flush_interval=60)
    change = KeySetChange(time=1795000001.0, issuer="https://i", added=("k2",), removed=(), keys=2)
    sink(_ev("one"))
    sink.extend([_ev("b0"), _ev("b1")])
    sink(change)
    sink(_ev("two"))
    sink.extend([_ev("c0")])
    sink.extend([_ev("d0"), _ev("d1"), _ev("d2")])
    sink(_ev("three"))
    assert sink.waiting == 10
    sink.flush()
    assert sink.written == 10 and sink.waiting == 0 and sink.dropped == 0
    sink.close()
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [d.get("kid", d.get("event")) for d in lines] == [
        "one", "b0", "b1", "jwks.keyset_changed", "two", "c0", "d0", "d1", "d2", "three"
    ]  # fmt: skip


def test_jsonl_extend_keeps_no_event_object_for_the_garbage_collector(tmp_path: Path) -> None:
    import gc

    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=10_000, flush_interval=60)
    batch = [_ev(f"k{i}") for i in range(2000)]
    sink.extend(batch[:10])  # (the writer thread started)
    gc.collect()
    before = len(gc.get_objects())
    sink.extend(batch)
    del batch
    assert len(gc.get_objects()) - before < 50  # the 2000 events are not kept: their JSON lines are
    sink.close()
    assert sink.written == 2010


def test_rolling_sink_extend_still_partitions_by_event_time(tmp_path: Path) -> None:
    from jwtobs.rolling import RollingJsonlSink

    sink = RollingJsonlSink(tmp_path / "dir", flush_interval=60)
    early, late = _ev("early"), _ev("late")
    late.time += 7200
    sink.extend([early, late])
    sink.close()
    files = sorted((tmp_path / "dir").rglob("*.jsonl"))
    assert len(files) == 2 and sink.written == 2
    assert [json.loads(f.read_text())["kid"] for f in files] == ["early", "late"]


@pytest.mark.parametrize(
    ("client", "shown"),
    [
        ({"azp": "spa"}, "spa"),  # OpenID Connect: Auth0, Keycloak, Google, Microsoft v2
        ({"client_id": "svc"}, "svc"),  # RFC 9068: Cognito, Ping
        ({"cid": "0oa1b2c3"}, "0oa1b2c3"),  # Okta
        ({"appid": "11111111-2222"}, "11111111-2222"),  # Microsoft identity platform v1
        ({"azp": "spa", "client_id": "svc", "cid": "c", "appid": "a"}, "spa"),
        ({"azp": "", "cid": "c"}, "c"),
        ({"client_id": None, "appid": "a"}, "a"),
        ({}, None),
    ],
)
@pytest.mark.parametrize("defer", [True, False])
def test_the_client_id_comes_from_every_common_issuers_claim(
    keys: Keys, client: dict[str, Any], shown: str | None, defer: bool
) -> None:
    events: list[ValidationEvent] = []
    jwtobs.configure(defer=defer, sinks=[events.append], fingerprint_key="f" * 16, from_env=False)
    token = jwt.encode(claims(**({"azp": None} | client)), keys.hmac, algorithm="HS256")
    jwtobs.wrap(jwt.decode)(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    jwtobs.flush()
    assert [e.client_id for e in events] == [shown]
    assert pipeline.client_of(client) == shown


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        ({"nonce": "n-0s9d"}, "web-storefront"),  # Auth0's ID token: aud is the client, no azp
        ({"at_hash": "x1", "aud": ["web-storefront"]}, "web-storefront"),  # one audience in a list
        ({"token_use": "id"}, "web-storefront"),  # Cognito's ID token
        ({"nonce": "n", "azp": "spa"}, "spa"),  # azp first, as ever
        ({"nonce": "n", "aud": ["web-storefront", "api"]}, None),  # several audiences: which is the client?
        ({"token_use": "access"}, None),  # an access token naming no client: its aud is an API
        ({}, None),
    ],
)
def test_an_id_token_naming_no_client_shows_its_audience_as_the_client(
    keys: Keys, extra: dict[str, Any], shown: str | None
) -> None:
    """An OpenID Connect ID token without ``azp`` (Auth0, Cognito) sent to an API is labelled with its one ``aud``,
    the relying party's client id; the policy's client (``pipeline.client_of``) stays none."""
    events: list[ValidationEvent] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key="f" * 16, from_env=False)
    body = claims(azp=None, aud="web-storefront") | extra
    token = jwt.encode(body, keys.hmac, algorithm="HS256")
    aud = body["aud"][-1] if isinstance(body["aud"], list) else body["aud"]
    jwtobs.wrap(jwt.decode)(token, keys.hmac, algorithms=["HS256"], audience=aud)
    jwtobs.flush()
    assert [e.client_id for e in events] == [shown]
    assert pipeline.event_client(body) == shown
    assert pipeline.client_of(body) == body.get("azp")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_800_000_000, 1_800_000_000),
        (1_800_000_000.9, 1_800_000_000),
        (True, None),
        ("1800000000", None),
        (float("nan"), None),
        (1 << 60, None),
        (-(1 << 60), None),
        (None, None),
    ],
)
def test_dates_and_labels_of_odd_claims(keys: Keys, value: object, expected: int | None) -> None:
    """build's inline common cases (int dates in range, a clean str issuer) agree with claim_int and _label."""
    state = jwtobs.configure(defer=False, fingerprint_key="f" * 16, from_env=False)
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    odd_issuers = [ISS, "x" * 129, "tab\there", "ü-issuer", {"a": 1}, None, 7]
    for iss in odd_issuers:
        payload = {"iss": iss, "exp": value, "iat": value, "nbf": value, "sub": "s"}
        site = pipeline._Labels("pyjwt", "p")
        record = (state, site, token, payload, 1, 2, 1.5, None, "accepted", None, None, None, None)
        event = pipeline.build(record)
        assert (event.exp, event.iat, event.nbf) == (expected,) * 3 == (pipeline.claim_int(value),) * 3
        assert event.issuer == pipeline._label(iss)


# -- encode: the label fields' JSON remembered --------------------------------------------------------------------


def _reference_encode(ev: ValidationEvent | KeySetChange) -> bytes:
    """encode as it was: orjson of to_dict(), the stdlib (non-finite floats as null) for what orjson refuses."""
    import math

    import orjson

    data = ev.to_dict()
    try:
        return orjson.dumps(data)
    except TypeError:
        data = {k: None if type(v) is float and not math.isfinite(v) else v for k, v in data.items()}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def test_encode_gives_the_same_bytes_as_encoding_to_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from jwtobs import events

    monkeypatch.setattr(events, "_LABELS_JSON", {})  # (earlier tests in the session filled the real one)
    monkeypatch.setattr(events, "_MAX_LABELS_JSON", 50)  # also past the bound: not remembered, still right
    rng = random.Random(16)
    made: list[ValidationEvent] = []
    texts = [None, "", "a", 'q"uote\\', "ü-é", "\u2028", "tab\t", "\ud800", "x" * 300, "RS256", "_unknown", "0"]
    nums = [None, 0, -1, 1 << 53, 1_800_000_000, 2.5, float("nan"), float("inf")]
    for _ in range(3000):
        t = rng.choice([texts, nums])
        ev = ValidationEvent(
            rng.choice([1_800_000_000.0, 0.999, 1_795_000_000.25, 1e9 + 0.0005]),
            rng.choice(["accepted", "rejected"]),  # type: ignore[arg-type]
            *(rng.choice(texts) for _ in range(3)),  # type: ignore[arg-type]
            *(rng.choice(texts) for _ in range(9)),  # type: ignore[arg-type]
            rng.choice(texts),
            rng.choice(t),  # type: ignore[arg-type]
            rng.choice(nums),  # type: ignore[arg-type]
            rng.choice(nums),  # type: ignore[arg-type]
            rng.choice([0, 10, 1 << 20]),
            rng.choice([0.0001, 0.0, float("nan"), 1e-9]),
            rng.choice(texts),
            rng.choice(texts),
            rng.choice(texts),
        )
        assert events.encode(ev) == _reference_encode(ev)
        made.append(ev)
    assert len(events._LABELS_JSON) <= 50
    # many at once (the builder's batches): the same lines, also across seconds and with repeated labels
    for size in (1, 2, 7, 500):
        for start in range(0, len(made), 701):
            part = made[start : start + size]
            assert events.encode_lines(part) == b"".join(_reference_encode(e) + b"\n" for e in part)
    odd = _ev("k")
    odd.detail = {"unhashable": ["x"]}  # type: ignore[assignment]  # a caller's own event: the general path
    assert events.encode(odd) == _reference_encode(odd)
    other = _ev("k")
    other.schema = 2
    assert events.encode(other) == _reference_encode(other) and b'"schema":2' in events.encode(other)
    change = KeySetChange(time=1795000001.5, issuer="https://i", added=("k2",), removed=("k1",), keys=1)
    mixed = [odd, other, change, _ev("a"), made[0]]
    assert events.encode_lines(mixed) == b"".join(_reference_encode(e) + b"\n" for e in mixed)
