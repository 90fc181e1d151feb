"""Bare vs observed validation for all five libraries, measured in the same run, reported as ratios.

Run: ``.venv/bin/python benchmarks/bench_libraries.py [--n 500] [--repeat 5] [--libs ...] [--algs ...]``

Extends ``bench_wrap.py`` (PyJWT only; its ``mint`` and ``timed`` helpers are reused) to PyJWT, joserfc,
python-jose, jwcrypto and authlib, algorithms HS256, RS256, ES256 and EdDSA (python-jose has none), accepted
and rejected (expired) tokens. Telemetry as in the Core benchmark: span not sampled (TracerProvider
ALWAYS_OFF), metrics on (MeterProvider + InMemoryMetricReader), every event to a JSONL file; the default
(deferred) and ``configure(defer=False)`` (sync).

Two observed forms, each against its own bare run interleaved with it (median of the repeats):
  wrap          ``jwtobs.wrap(validate, library=...)``: the application's validate function (decode, plus the
                claims check for joserfc/authlib) wrapped once
  instrumented  the same bare function while ``JwtInstrumentor`` is on (entry points patched with wrapt;
                toggled off for each bare run)
"request" is what the request thread pays; "total CPU" adds, in the same timed loop, the work moved off it
(events built and written, metric measurements replayed at collection): the total CPU per validation.
Every repeat validates tokens not seen in the previous repeat (one pool per algorithm and outcome).

Clock (``--clock``) of the request column: ``wall`` (default; ``time.perf_counter`` on the request thread, so
it includes any time jwtobs's background threads hold the GIL during the loop) or ``cpu``
(``time.thread_time``, the request thread's own CPU; steadier on a shared machine). The total column is
always ``time.process_time``: CPU of every thread, the background event builder and writer and the metric
collection included, against the bare run's.
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
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
from bench_wrap import AUD, ISS, configure_bench, mint, timed

import jwtobs
from jwtobs import config
from jwtobs.instrumentation import JwtInstrumentor

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


def timed_cpu(
    fn: Callable[[str], None], tokens: list[str], after: Callable[[], None] | None = None, *, total: bool = False
) -> float:
    """Seconds of CPU per call: the calling thread's, or (``total``) the whole process's."""
    clock = time.process_time if total else time.thread_time
    t0 = clock()
    for t in tokens:
        fn(t)
    if after is not None:
        after()
    return (clock() - t0) / len(tokens)


def run(
    lib: str,
    alg: str,
    keys: dict[str, tuple[Any, Any, bytes]],
    pools: list[list[str]],
    form: str,
    defer: bool | None,
    expired: bool,
    clock: str = "cpu",
) -> dict[str, float]:
    _priv, pub, material = keys[alg]
    validate = validator(lib, alg, pub, material)
    errors = expired_errors()
    # sanity: the token pool gives the intended outcome through the bare validator
    try:
        validate(pools[0][0])
        assert not expired, f"{lib} {alg} accepted an expired token"
    except errors:
        assert expired, f"{lib} {alg} rejected a valid token"

    with tempfile.TemporaryDirectory() as tmp:
        tp = TracerProvider(sampler=ALWAYS_OFF)
        reader = configure_bench(tmp, tp, len(pools[0]), defer)
        inst = JwtInstrumentor()
        observed_fn = jwtobs.wrap(validate, library=lib) if form == "wrap" else validate

        def bare(t: str) -> None:
            try:
                validate(t)
            except errors:
                pass

        def observed(t: str) -> None:
            try:
                observed_fn(t)
            except errors:
                pass

        def deferred() -> None:
            config.flush()
            reader.get_metrics_data()

        t_req: Callable[..., float] = timed if clock == "wall" else timed_cpu
        t_all: Callable[..., float] = functools.partial(timed_cpu, total=True)  # CPU of every thread
        bare_t, hot_t, amort_t = [], [], []
        for toks in pools:
            bare_t.append(t_req(bare, toks))
            if form == "instrumented":
                inst.instrument(libraries=[lib])
            try:
                hot_t.append(t_req(observed, toks))
                deferred()
                amort_t.append(t_all(observed, toks, deferred))
            finally:
                if form == "instrumented":
                    inst.uninstrument()
        tp.shutdown()
        b, h, a = statistics.median(bare_t), statistics.median(hot_t), statistics.median(amort_t)
        return {"bare_us": b * 1e6, "hot_us": h * 1e6, "hot": h / b, "amortised": a / b}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--algs", default=",".join(ALGS))
    ap.add_argument("--forms", default="wrap,instrumented")
    ap.add_argument("--modes", default="default,sync")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    args = ap.parse_args()
    # joserfc warns on every EdDSA decode (RFC 9864 deprecates the name); the warning machinery would be timed
    warnings.simplefilter("ignore")
    keys = make_keys()
    libs, algs = args.libs.split(","), args.algs.split(",")
    forms, modes = args.forms.split(","), args.modes.split(",")
    print(
        "| library | alg | outcome | mode | bare µs | "
        + " | ".join(f"{f} request | {f} total CPU" for f in forms)
        + " |\n|"
        + "---|" * (5 + 2 * len(forms)),
        flush=True,
    )
    for alg in algs:
        priv = keys[alg][0]
        for expired in (False, True):
            pools = [mint(alg, priv, args.n, expired=expired) for _ in range(args.repeat)]
            for lib in libs:
                if (lib, alg) in UNSUPPORTED:
                    continue
                for mode in modes:
                    cells, bare_us = [], 0.0
                    for form in forms:
                        r = run(lib, alg, keys, pools, form, None if mode == "default" else False, expired, args.clock)
                        bare_us = bare_us or r["bare_us"]
                        cells.append(f"{r['hot']:.2f} | {r['amortised']:.2f}")
                    print(
                        f"| {lib} | {alg} | {'rejected' if expired else 'accepted'} | {mode} | {bare_us:.1f} | "
                        + " | ".join(cells)
                        + " |",
                        flush=True,
                    )
    config.reset()


if __name__ == "__main__":
    main()
