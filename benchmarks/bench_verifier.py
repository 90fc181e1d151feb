"""Verifier benchmark: ``Verifier.verify`` (all profile checks + one recorded event) against the baseline of
``jwt.decode`` with the same key, algorithm, audience and issuer, measured in the same run.

    .venv/bin/python benchmarks/bench_verifier.py [--n 3000] [--rounds 3]

Prints µs per call for each and the ratio (median of the rounds); also the cost of an early rejection
(oversized, alg none) against the accepted path, since cheap checks run before any crypto; and the cost of
handing every peek its own copy of the cached header (#14 item 9) against handing out the shared dict,
alternated in the same rounds (the machine is shared: compare ratios, not absolute numbers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import header as header_mod


def per_call_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(200, n)):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key()
    jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False)
    now = int(time.time())
    claims = {"iss": "https://i", "sub": "u", "aud": "api", "exp": now + 3600, "iat": now}
    token = jwt.encode(claims, key, "RS256", headers={"kid": "k", "typ": "at+jwt"})
    unsigned = token.rsplit(".", 1)[0] + "."
    verifier = jwtobs.Verifier(jwtobs.Profile(name="api", issuer="https://i", audience="api"), keys={"k": pub})

    def reject(tok: str) -> Callable[[], object]:
        def call() -> object:
            try:
                return verifier.verify(tok)
            except jwtobs.TokenRejected as exc:
                return exc

        return call

    rows: dict[str, list[float]] = {
        "jwt.decode (baseline)": [],
        "Verifier.verify": [],
        "reject alg none": [],
        "peek, shared header": [],
        "peek, header copy": [],
    }
    copying = header_mod._Header.header_copy
    nested = jwt.encode(claims, key, "RS256", headers={"kid": "k", "typ": "at+jwt", "crit": ["exp"]})
    for _ in range(args.rounds):
        rows["jwt.decode (baseline)"].append(
            per_call_us(
                lambda: jwt.decode(token, pub, algorithms=["RS256"], audience="api", issuer="https://i"), args.n
            )
        )
        rows["Verifier.verify"].append(per_call_us(lambda: verifier.verify(token), args.n))
        rows["reject alg none"].append(per_call_us(reject(unsigned), args.n))
        header_mod._Header.header_copy = lambda self: self.header  # type: ignore[method-assign]
        rows["peek, shared header"].append(per_call_us(lambda: header_mod.peek(token), args.n * 10))
        header_mod._Header.header_copy = copying  # type: ignore[method-assign]
        rows["peek, header copy"].append(per_call_us(lambda: header_mod.peek(token), args.n * 10))
    deep = per_call_us(lambda: header_mod.peek(nested), args.n)
    print(f"(peek of a header with a nested value, deep copy: {deep:.2f} us)")
    base = statistics.median(rows["jwt.decode (baseline)"])
    for name, vals in rows.items():
        med = statistics.median(vals)
        print(f"{name:24s} {med:8.1f} us/call   ratio {med / base:5.2f}")


if __name__ == "__main__":
    main()
