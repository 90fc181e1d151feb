"""``jwtobs example``: validate a handful of good and bad tokens through ``jwtobs.wrap(jwt.decode)`` and show
what jwtobs records: the events, the spans and the metric series. Keys are generated on the spot."""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("example", help="validate a few good and bad tokens with PyJWT and print the events")
    p.add_argument("--events", default=None, help="also append the events to this JSONL file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ModuleNotFoundError as exc:  # one line naming both extras it needs, exit 3 (jwtobs.cli)
        from jwtobs.cli import missing_dependency

        raise missing_dependency(exc, "pyjwt,sdk") from None

    import jwtobs
    from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent

    if args.events:
        _check_events_path(args.events)
        # a write that fails anyway (a disk that fills up) is this command's one line below, not also the sink's
        logging.getLogger("jwtobs").addFilter(lambda r: not str(r.msg).startswith("jwtobs: cannot write events to"))
    from jwtobs.telemetry import ATTR_ALG, ATTR_KID, ATTR_OUTCOME, ATTR_REASON, VALIDATION_DURATION

    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    events: list[ValidationEvent] = []

    def keep(record: ValidationEvent | KeySetChange) -> None:
        if isinstance(record, ValidationEvent):  # sinks also receive key-set changes
            events.append(record)

    iss, aud = "https://login.example.com", "billing-api"
    state = jwtobs.configure(
        tracer_provider=tp,
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key=os.environ.get("JWTOBS_FINGERPRINT_KEY") or "jwtobs-example-fingerprint-key",
        sinks=[keep],
        events_path=args.events,
        issuers=[iss],
        service="example",
        from_env=False,
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())

    def token(signer: Any = key, alg: str = "RS256", **over: Any) -> str:
        claims = {"iss": iss, "aud": aud, "sub": "alice", "jti": os.urandom(6).hex(), "iat": now, "exp": now + 300}
        claims.update(over)
        return jwt.encode(claims, signer, algorithm=alg, headers={"kid": "2026-11"})

    cases = [
        ("a good token", token()),
        ("expired 10 minutes ago", token(exp=now - 600)),
        ("for another API", token(aud="admin-api")),
        ("signed by someone else", token(attacker)),
        ("alg none", jwt.encode({"iss": iss, "aud": aud, "exp": now + 60}, "", algorithm="none")),
        ("not a JWT", "Bearer hello"),
    ]
    decode = jwtobs.wrap(jwt.decode, profile="billing-api")
    print("Validating with jwtobs.wrap(jwt.decode):\n")
    for label, raw in cases:
        try:
            decode(raw, key.public_key(), algorithms=["RS256"], audience=aud, issuer=iss)
            verdict = "accepted"
        except jwt.PyJWTError as exc:
            verdict = f"{type(exc).__name__} -> {jwtobs.reason_of(exc)}"
        print(f"  {label:24} {verdict}")
    jwtobs.flush()
    lost = sum(s.dropped for s in state.sinks if isinstance(s, JsonlSink))
    if lost:  # (a disk that filled up meanwhile: the events asked for are not all there)
        from jwtobs.cli import fail

        fail(f"{args.events}: cannot write the events ({lost} of {len(cases)} lost)")
    print("\nValidation events (the one record; no token, no raw sub or jti):\n")
    for ev in events:
        d = ev.to_dict()
        shown = ("time", "outcome", "reason", "detail", "issuer", "alg", "kid", "token_fp", "sub_hash", "exp")
        print("  " + json.dumps({k: d[k] for k in shown}))
    print(
        f"\nSpans: {len(spans.get_finished_spans())} x '{spans.get_finished_spans()[0].name}', "
        "status ERROR with the reason code on rejections"
    )
    data = reader.get_metrics_data()
    print(f"Metric series of {VALIDATION_DURATION} (count per attribute set):")
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == VALIDATION_DURATION:
                    for dp in m.data.data_points:
                        a: dict[str, Any] = dict(dp.attributes or {})
                        print(
                            f"  {getattr(dp, 'count', '?')} x outcome={a[ATTR_OUTCOME]} "
                            f"reason={a.get(ATTR_REASON, '-')} alg={a[ATTR_ALG]} kid={a[ATTR_KID]}"
                        )
    if args.events:
        print(f"\nEvents appended to {Path(args.events).resolve()}")
    return 0


def _check_events_path(path: str) -> None:
    """``--events`` checked before anything runs: one line and exit 2 when the events could not be appended (a
    directory, a device such as /dev/full, a read-only or missing place, a gzip file that plain lines would
    corrupt). Before session 20 they were dropped with a logged warning and the command exited 0."""
    import stat

    from jwtobs.cli import fail

    if path.endswith(".gz"):
        fail(f"{path}: events are appended as plain JSON lines, not to a .gz file")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # (as the events sink does)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or type(exc).__name__}")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            fail(f"{path}: not a regular file (a device, pipe or socket): events are appended to regular files only")
    finally:
        os.close(fd)
