"""Before/after A/B of ``Verifier.verify`` in ONE process: jwtobs of another commit vs this checkout.

Run: ``.venv/bin/python benchmarks/ab_verifier.py --base 297ed11 [--n 400] [--repeat 11]``

The ``jwtobs`` package of ``--base`` is loaded next to this checkout's as ``jwtobs_base`` (``ab_wrap.base_package``);
both are configured as ``bench_verifier.py`` configures jwtobs and verify the same fresh tokens (distinct ``jti``,
one header) with a Verifier of the same profile and key. Per repeat, before and after alternate in chunks of 50
tokens, the order swapped every chunk, so load from other processes falls on both. Cases: HS256 (the signature
is cheap, so the Verifier's own checks are most of the time), RS256, and RS256 with nested claims (objects and
an array of objects, as Keycloak's ``realm_access`` / ``resource_access``). Reported: µs per call (median and
minimum of the repeats) and after/before as the median of the per-repeat ratios and of the per-chunk ratios
(each chunk of 50 tokens verified by both, back to back).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jwt
from ab_wrap import import_base
from cryptography.hazmat.primitives.asymmetric import rsa

CHUNK = 50


def _tokens(alg: str, key: Any, n: int, nested: bool) -> list[str]:
    now = int(time.time())
    out = []
    for i in range(n):
        claims: dict[str, Any] = {"iss": "https://i", "sub": f"u{i}", "aud": "api", "exp": now + 3600, "iat": now}
        claims |= {"jti": f"j-{i}-{os.urandom(4).hex()}", "scope": "read write", "azp": "web"}
        if nested:
            claims["realm_access"] = {"roles": ["a", "b"]}
            claims["resource_access"] = {"api": {"roles": ["r"]}, "web": {"roles": ["w"]}}
            claims["groups"] = [{"id": "g1", "name": "ops"}, {"id": "g2", "name": "dev"}]
        out.append(jwt.encode(claims, key, alg, headers={"kid": "k", "typ": "at+jwt"}))
    return out


def _run(verify: Any, tokens: list[str]) -> float:
    t = time.perf_counter()
    for tok in tokens:
        verify(tok)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="git revision whose jwtobs is 'before'")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=11)
    args = ap.parse_args()
    jwtobs_base = import_base(args.base)
    import jwtobs

    for pkg in (jwtobs_base, jwtobs):
        pkg.configure(fingerprint_key=b"k" * 32, from_env=False)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    secret = os.urandom(32)
    cases = {
        "HS256": ("HS256", secret, secret, False),
        "RS256": ("RS256", rsa_key, rsa_key.public_key(), False),
        "RS256 nested claims": ("RS256", rsa_key, rsa_key.public_key(), True),
    }
    for name, (alg, private, public, nested) in cases.items():
        tokens = _tokens(alg, private, args.n, nested)
        verifiers = []
        for pkg in (jwtobs_base, jwtobs):
            profile = pkg.Profile(name="api", issuer="https://i", audience="api", algorithms=(alg,))
            verifiers.append(pkg.Verifier(profile, keys={"k": public}).verify)
        for v in verifiers:  # both accept every token (and warm up)
            for tok in tokens[:CHUNK]:
                v(tok)
        before: list[float] = []
        after: list[float] = []
        chunk_ratios: list[float] = []
        for r in range(args.repeat):
            spent = [0.0, 0.0]
            for c, start in enumerate(range(0, len(tokens), CHUNK)):
                chunk = tokens[start : start + CHUNK]
                order = (0, 1) if (c + r) % 2 == 0 else (1, 0)
                pair = [0.0, 0.0]
                for i in order:
                    pair[i] = _run(verifiers[i], chunk)
                    spent[i] += pair[i]
                chunk_ratios.append(pair[1] / pair[0])
            before.append(spent[0] / len(tokens) * 1e6)
            after.append(spent[1] / len(tokens) * 1e6)
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        print(
            f"{name:20s} before {statistics.median(before):7.1f} us (min {min(before):6.1f})  "
            f"after {statistics.median(after):7.1f} us (min {min(after):6.1f})  "
            f"after/before: repeats {statistics.median(ratios):.3f}, chunks {statistics.median(chunk_ratios):.3f} "
            f"({len(chunk_ratios)} pairs)"
        )


if __name__ == "__main__":
    main()
