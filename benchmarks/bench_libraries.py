"""Bare vs observed validation for all five libraries, measured in the same run, reported as ratios.

Run: ``.venv/bin/python benchmarks/bench_libraries.py [--n 2000] [--block 25] [--rounds 3] [--libs ...] [--algs ...]``
(``--bytecodes``: Python bytecodes executed per validation instead of CPU time, see :func:`bytecodes`;
``--base REV``: also ``wrap`` and ``instrumented`` with jwtobs of git revision REV loaded next to this checkout
as ``jwtobs_base`` (``ab_wrap.py``'s loader), in the same blocks: a before/after A/B in one process)

PyJWT, joserfc, python-jose, jwcrypto and authlib (``bench_wrap.py``'s ``mint`` and ``configure_bench`` are
reused), algorithms HS256, RS256, ES256 and EdDSA (python-jose has none), accepted and rejected (expired)
tokens. Telemetry as in the wrap benchmark: spans not sampled (TracerProvider ALWAYS_OFF), metrics on
(MeterProvider + InMemoryMetricReader), every event to a JSONL file; the default (deferred) mode and
``configure(defer=False)`` (sync).

Three variants of the same application ``validate(token)`` per row, on the same tokens:
  bare          the library as installed
  wrap          ``jwtobs.wrap(validate, library=...)``: the application's function (decode, plus the claims
                check for joserfc/authlib) wrapped once
  instrumented  the same bare function while ``JwtInstrumentor`` is on
``JwtInstrumentor().instrument()`` runs once per row; between blocks the benchmark swaps the library's entry
points between the originals (each patched function's ``__wrapped__``) and the patched functions, and it does
the same swap (plus one untimed warm-up call) before *every* block, the bare ones included, so no variant pays
for another's set-up (instrumenting per loop charged its package-metadata scan to the instrumented loop).

request     the request thread's CPU per call (``time.thread_time``): ``--n`` tokens in blocks of ``--block``,
            the variants in random order in each block; per block, the variant's per-call CPU over the bare
            block's of the same round (a pair run within a few milliseconds: load drift, frequency changes and
            the host's steal time hit both alike), and the median of those paired ratios over the blocks (a
            block hit by a full garbage collection or a preemption does not decide the row); ``95 % CI`` the
            order statistics that bound that median with ~95 % confidence (sign test); ``+µs`` the difference
            of the variant's and bare's median per-call CPU; ``request (ratio of medians)`` the previous
            estimator (median per-call CPU over bare's), ``request (mean)`` the ratio of the sums over all
            blocks, outliers included. Defaults 2000 tokens in blocks of 25 (80 pairs per row): between three
            runs the paired median moved by <= 0.02 at load 2 and <= 0.04 (mean 0.02) at load 5 (the ratio of
            medians of the same blocks <= 0.054, mean 0.03), where 20 blocks of 50 moved cells by +- 0.15.
total CPU   CPU of every thread of the process (``time.process_time``) over a loop of ``--n / --rounds``
            tokens plus everything still owed for it (events built and written, metric measurements recorded
            by a collection), against the bare loop's; ``--rounds`` rounds alternating the variants, median.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_wrap import AUD, ISS, configure_bench, mint

import jwtobs
from jwtobs import config
from jwtobs.instrumentation import TARGETS, JwtInstrumentor

LIBS = ("pyjwt", "joserfc", "jose", "jwcrypto", "authlib")
ALGS = ("HS256", "RS256", "ES256", "EdDSA")
UNSUPPORTED = {("jose", "EdDSA")}  # python-jose implements no EdDSA


def make_keys() -> dict[str, tuple[Any, Any, bytes]]:
    """alg -> (signing key for PyJWT, verification key for PyJWT, public PEM or the HMAC secret)."""
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = ec.generate_private_key(ec.SECP256R1())
    d = ed25519.Ed25519PrivateKey.generate()
    secret = os.urandom(32)

    def pem(k: Any) -> bytes:
        return bytes(k.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    return {
        "HS256": (secret, secret, secret),
        "RS256": (r, r.public_key(), pem(r.public_key())),
        "ES256": (e, e.public_key(), pem(e.public_key())),
        "EdDSA": (d, d.public_key(), pem(d.public_key())),
    }


def validator(lib: str, alg: str, pub: Any, material: bytes) -> Callable[[str], Any]:
    """The application's validate(token) for one library: decode + claims (exp, iss, aud), keys prepared once.

    Raises the library's own "expired" exception for an expired token; anything else propagates (a
    benchmark that silently measures errors is worthless).
    """
    if lib == "pyjwt":
        import jwt

        def v_pyjwt(token: str) -> Any:
            return jwt.decode(token, pub, algorithms=[alg], audience=AUD, issuer=ISS)

        return v_pyjwt
    if lib == "jose":
        from jose import jwt as jose_jwt

        key = material if alg == "HS256" else material.decode()

        def v_jose(token: str) -> Any:
            return jose_jwt.decode(token, key, algorithms=[alg], audience=AUD, issuer=ISS)

        return v_jose
    if lib == "jwcrypto":
        from jwcrypto import jwk
        from jwcrypto import jwt as jwc_jwt

        if alg == "HS256":
            k = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(material).rstrip(b"=").decode())
        else:
            k = jwk.JWK.from_pem(material)
        checks = {"iss": ISS, "aud": AUD, "exp": None}

        def v_jwcrypto(token: str) -> Any:
            return jwc_jwt.JWT(jwt=token, key=k, algs=[alg], check_claims=checks).claims

        return v_jwcrypto
    if lib == "joserfc":
        from joserfc import jwk as jrfc_jwk
        from joserfc import jwt as jrfc_jwt

        kcls = {"HS256": jrfc_jwk.OctKey, "RS256": jrfc_jwk.RSAKey, "ES256": jrfc_jwk.ECKey, "EdDSA": jrfc_jwk.OKPKey}
        jkey = kcls[alg].import_key(material)
        registry = jrfc_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISS}, aud={"essential": True, "value": AUD}, exp={"essential": True}
        )

        def v_joserfc(token: str) -> Any:
            tok = jrfc_jwt.decode(token, jkey, algorithms=[alg])
            registry.validate(tok.claims)
            return tok.claims

        return v_joserfc
    if lib == "authlib":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, JsonWebToken

        akey = JsonWebKey.import_key(material, {"kty": "oct"} if alg == "HS256" else None)
        ajwt = JsonWebToken([alg])
        options = {"iss": {"essential": True, "value": ISS}, "aud": {"essential": True, "value": AUD}}

        def v_authlib(token: str) -> Any:
            claims = ajwt.decode(token, akey, claims_options=options)
            claims.validate()
            return claims

        return v_authlib
    raise ValueError(lib)


def expired_errors() -> tuple[type[BaseException], ...]:
    import jose.exceptions
    import joserfc.errors
    import jwcrypto.jwt
    import jwt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import authlib.jose.errors

    return (
        jwt.ExpiredSignatureError,
        jose.exceptions.ExpiredSignatureError,
        jwcrypto.jwt.JWTExpired,
        joserfc.errors.ExpiredTokenError,
        authlib.jose.errors.ExpiredTokenError,
    )


def entry_points(lib: str) -> list[tuple[Any, str]]:
    """(owner, attribute) of each entry point the instrumentor patches for ``lib``."""
    out = []
    for t in TARGETS:
        if t.library == lib:
            owner: Any = importlib.import_module(t.module)
            *path, attr = t.name.split(".")
            for part in path:
                owner = getattr(owner, part)
            out.append((owner, attr))
    return out


def snapshot(points: list[tuple[Any, str]]) -> list[tuple[Any, str, Any]]:
    """The owners' own attributes now (``None``: inherited, nothing of the owner's own)."""
    return [(owner, attr, vars(owner).get(attr)) for owner, attr in points]


def apply(snap: list[tuple[Any, str, Any]]) -> None:
    for owner, attr, value in snap:
        if value is not None:
            setattr(owner, attr, value)
        elif attr in vars(owner):
            delattr(owner, attr)


def load_base(rev: str) -> Any:
    """jwtobs of another commit, loaded next to this checkout's as ``jwtobs_base`` (``ab_wrap.base_package``)."""
    from ab_wrap import base_package

    tmp = tempfile.mkdtemp(prefix="jwtobs-base-")
    base_package(rev, tmp)
    sys.path.insert(0, tmp)
    return importlib.import_module("jwtobs_base")


def run(
    lib: str,
    alg: str,
    keys: dict[str, tuple[Any, Any, bytes]],
    tokens: list[str],
    defer: bool | None,
    expired: bool,
    block: int,
    rounds: int,
    base: Any = None,
) -> dict[str, dict[str, Any]]:
    _priv, pub, material = keys[alg]
    validate = validator(lib, alg, pub, material)
    errors = expired_errors()
    # sanity: the tokens give the intended outcome through the bare validator
    try:
        validate(tokens[0])
        assert not expired, f"{lib} {alg} accepted an expired token"
    except errors:
        assert expired, f"{lib} {alg} rejected a valid token"

    with tempfile.TemporaryDirectory() as tmp:
        tp = TracerProvider(sampler=ALWAYS_OFF)
        reader = configure_bench(tmp, tp, len(tokens), defer)
        points = entry_points(lib)
        bare_attrs = snapshot(points)
        inst = JwtInstrumentor()
        inst.instrument(libraries=[lib])
        patched_attrs = snapshot(points)
        apply(bare_attrs)
        wrapped = jwtobs.wrap(validate, library=lib)
        if base is not None:  # the same, with jwtobs of --base (configured alike, its own instrumentor)
            base_reader = _configure_base(base, tmp, tp, defer)
            base_inst = importlib.import_module(base.__name__ + ".instrumentation").JwtInstrumentor()
            base_inst.instrument(libraries=[lib])
            base_attrs = snapshot(points)
            apply(bare_attrs)
            base_wrapped = base.wrap(validate, library=lib)

        def call(fn: Callable[[str], Any]) -> Callable[[str], None]:
            def one(t: str) -> None:
                try:
                    fn(t)
                except errors:
                    pass

            return one

        variants = {
            "bare": (bare_attrs, call(validate)),
            "wrap": (bare_attrs, call(wrapped)),
            "instrumented": (patched_attrs, call(validate)),
        }
        if base is not None:
            variants["wrap@base"] = (bare_attrs, call(base_wrapped))
            variants["instrumented@base"] = (base_attrs, call(validate))

        def owed() -> None:
            config.flush()
            reader.get_metrics_data()
            if base is not None:
                base.flush()
                base_reader.get_metrics_data()

        try:
            request = dict.fromkeys(variants, 0.0)
            blocks: dict[str, list[float]] = {name: [] for name in variants}  # per-call CPU of each block
            rng = random.Random(1)
            for k in range(0, len(tokens), block):
                blk = tokens[k : k + block]
                order = list(variants)
                rng.shuffle(order)
                for name in order:
                    attrs, fn = variants[name]
                    apply(attrs)
                    fn(blk[0])  # warm-up after the swap, untimed
                    t0 = time.thread_time()
                    for t in blk:
                        fn(t)
                    spent = time.thread_time() - t0
                    request[name] += spent
                    blocks[name].append(spent / len(blk))
                apply(bare_attrs)
            owed()
            total: dict[str, list[float]] = {name: [] for name in variants}
            per = max(1, len(tokens) // rounds)
            for r in range(rounds):
                chunk = tokens[r * per : (r + 1) * per]
                order = list(variants)
                rng.shuffle(order)
                for name in order:
                    attrs, fn = variants[name]
                    apply(attrs)
                    fn(chunk[0])
                    owed()
                    t0 = time.process_time()
                    for t in chunk:
                        fn(t)
                    owed()
                    total[name].append((time.process_time() - t0) / len(chunk))
                apply(bare_attrs)
        finally:
            if base is not None:
                apply(base_attrs)
                base_inst.uninstrument()
            apply(patched_attrs)  # as instrument() left them: uninstrument() restores the originals
            inst.uninstrument()
            tp.shutdown()
        bare_total = statistics.median(total["bare"])
        out: dict[str, dict[str, Any]] = {}
        for name in variants:
            # paired: each block of this variant against the bare block of the same round (load drift, frequency
            # changes and the host's steal time hit both of a pair alike); the median over the rounds, and the
            # order statistics around it that bound the median with ~95 % confidence (binomial, sign test)
            pairs = sorted(v / b for v, b in zip(blocks[name], blocks["bare"], strict=True))
            m = len(pairs)
            half = 0.98 * m**0.5  # 1.96 / 2 * sqrt(m) ranks either side of the middle
            out[name] = {
                "request_us": statistics.median(blocks[name]) * 1e6,
                "request": statistics.median(pairs),
                "request_lo": pairs[max(0, math.floor(m / 2 - half) - 1)],  # (ranks counted from 1)
                "request_hi": pairs[min(m - 1, math.ceil(1 + m / 2 + half) - 1)],
                "request_of_medians": statistics.median(blocks[name]) / statistics.median(blocks["bare"]),
                "request_mean": request[name] / request["bare"],
                "total_us": statistics.median(total[name]) * 1e6,
                "total": statistics.median(total[name]) / bare_total,
                "blocks": blocks[name],
            }
        return out


def _configure_base(base: Any, tmp: str, tp: TracerProvider, defer: bool | None) -> Any:
    """``configure_bench`` for the ``--base`` package (its own meter provider and event file)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    options: dict[str, Any] = {} if defer is None else {"defer": defer}
    base.configure(
        tracer_provider=tp,
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key="bench-fingerprint-key",
        events_path=os.path.join(tmp, "events-base.jsonl"),
        issuers=[ISS],
        from_env=False,
        **options,
    )
    return reader


def bytecodes(lib: str, alg: str, keys: dict[str, tuple[Any, Any, bytes]], tokens: list[str]) -> dict[str, float]:
    """Python bytecodes executed per validation on the calling thread (``sys.settrace`` opcode events), bare,
    wrapped and instrumented: the request thread's work without the machine's load in it (C work such as the
    crypto is not counted). Events are built synchronously off the count (``config.flush`` between variants)."""
    _priv, pub, material = keys[alg]
    validate = validator(lib, alg, pub, material)
    errors = expired_errors()
    points = entry_points(lib)
    bare_attrs = snapshot(points)
    inst = JwtInstrumentor()
    inst.instrument(libraries=[lib])
    patched_attrs = snapshot(points)
    wrapped = jwtobs.wrap(validate, library=lib)
    counted = [0]

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counted[0] += 1
        return trace

    out: dict[str, float] = {}
    try:
        for name, attrs, fn in (
            ("bare", bare_attrs, validate),
            ("wrap", bare_attrs, wrapped),
            ("instrumented", patched_attrs, validate),
        ):
            apply(attrs)
            for t in tokens[:2]:  # warm
                try:
                    fn(t)
                except errors:
                    pass
            counted[0] = 0
            sys.settrace(trace)
            try:
                for t in tokens:
                    try:
                        fn(t)
                    except errors:
                        pass
            finally:
                sys.settrace(None)
            out[name] = counted[0] / len(tokens)
            config.flush()
    finally:
        apply(patched_attrs)
        inst.uninstrument()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="tokens per row (request: all of them; total: split in rounds)")
    ap.add_argument("--block", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--algs", default=",".join(ALGS))
    ap.add_argument("--modes", default="default,sync")
    ap.add_argument("--bytecodes", action="store_true", help="count Python bytecodes per validation instead")
    ap.add_argument("--base", help="also run wrap and instrumented with jwtobs of this git revision (A/B)")
    args = ap.parse_args()
    base = load_base(args.base) if args.base else None
    # joserfc warns on every EdDSA decode (RFC 9864 deprecates the name); the warning machinery would be timed
    warnings.simplefilter("ignore")
    keys = make_keys()
    libs, algs, modes = args.libs.split(","), args.algs.split(","), args.modes.split(",")
    if args.bytecodes:  # configured as the timed rows are (deferred, spans not sampled, metrics + JSONL)
        tmp = tempfile.TemporaryDirectory()
        configure_bench(tmp.name, TracerProvider(sampler=ALWAYS_OFF), 20, None)
        print("| library | alg | outcome | bare bytecodes | wrap | instrumented |\n|---|---|---|---|---|---|")
        for alg in algs:
            for expired in (False, True):
                tokens = mint(alg, keys[alg][0], 20, expired=expired)
                for lib in libs:
                    if (lib, alg) not in UNSUPPORTED:
                        c = bytecodes(lib, alg, keys, tokens)
                        print(
                            f"| {lib} | {alg} | {'rejected' if expired else 'accepted'} | {c['bare']:.0f} "
                            f"| +{c['wrap'] - c['bare']:.0f} | +{c['instrumented'] - c['bare']:.0f} |",
                            flush=True,
                        )
        config.reset()
        tmp.cleanup()
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f} at start")
    extra = f" | wrap request @{args.base} | instrumented request @{args.base} | instrumented +µs @{args.base}"
    print(
        "| library | alg | outcome | mode | bare µs | wrap request | wrap total CPU "
        "| instrumented request | instrumented request 95 % CI | instrumented +µs | instrumented request "
        "(ratio of medians) | instrumented request (mean) | instrumented total CPU"
        + (extra if base else "")
        + " |\n|"
        + "---|" * (16 if base else 13),
        flush=True,
    )
    for alg in algs:
        priv = keys[alg][0]
        for expired in (False, True):
            tokens = mint(alg, priv, args.n, expired=expired)
            for lib in libs:
                if (lib, alg) in UNSUPPORTED:
                    continue
                for mode in modes:
                    defer = None if mode == "default" else False
                    r = run(lib, alg, keys, tokens, defer, expired, args.block, args.rounds, base)
                    b, w, i = r["bare"], r["wrap"], r["instrumented"]
                    ab = ""
                    if base is not None:
                        wb, ib = r["wrap@base"], r["instrumented@base"]
                        ab = f" {wb['request']:.2f} | {ib['request']:.2f} | {ib['request_us'] - b['request_us']:.1f} |"
                    print(
                        f"| {lib} | {alg} | {'rejected' if expired else 'accepted'} | {mode} | {b['request_us']:.1f} "
                        f"| {w['request']:.2f} | {w['total']:.2f} | {i['request']:.2f} "
                        f"| {i['request_lo']:.2f}–{i['request_hi']:.2f} | {i['request_us'] - b['request_us']:.1f} "
                        f"| {i['request_of_medians']:.2f} | {i['request_mean']:.2f} | {i['total']:.2f} |{ab}",
                        flush=True,
                    )
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")
    config.reset()


if __name__ == "__main__":
    main()
