"""A seeded generator of realistic logs for ``jwtobs scan``: real system lines with planted credentials.

    .venv/bin/python benchmarks/scanlog.py OUT.log [--size-mb 120] [--seed 1] [--rate 0.005]

The lines are drawn (seeded) from the public real system logs in ``../shared/corpora/real-logs/*.gz``
(Loghub's 2k samples and an Apache access log; see SOURCES.md there): every file equally likely, then a line of
it. Those logs hold no credentials, so every finding on such a line is a false one. A fraction ``rate`` of
the lines (0.5 % by default) gets one credential planted, in one of the forms the redactor knows (see
:data:`FORMS`): appended to, or placed inside, a real line, with tokens signed by PyJWT with generated keys and
random secrets. The generator returns the planted line numbers and their kinds, so a benchmark or a test can
check that every planted line is found and that nothing else is.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _corpus() -> Path:
    """``../shared/corpora/real-logs`` next to the project (a git worktree sits one level deeper), or
    ``$JWTOBS_REAL_LOGS``."""
    env = os.environ.get("JWTOBS_REAL_LOGS")
    if env:
        return Path(env)
    for up in (ROOT.parent, ROOT.parent.parent):
        if (up / "shared" / "corpora" / "real-logs").is_dir():
            return up / "shared" / "corpora" / "real-logs"
    return ROOT.parent / "shared" / "corpora" / "real-logs"


CORPUS = _corpus()


def real_lines(corpus: Path = CORPUS) -> list[list[bytes]]:
    """The lines (without newline) of each real log, one list per file, in file-name order."""
    files = sorted(corpus.glob("*.gz"))
    if not files:
        raise SystemExit(f"no real logs in {corpus} (see the developers' guide)")
    out = []
    for f in files:
        lines = [ln for ln in gzip.decompress(f.read_bytes()).split(b"\n") if ln.strip()]
        out.append([ln.rstrip(b"\r") for ln in lines])
    return out


def _tokens(rnd: random.Random, n: int) -> list[str]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    out = []
    for i in range(n):
        claims = {"sub": f"user-{rnd.randrange(10**6)}", "iss": "https://idp.example.com", "aud": "api", "jti": i}
        if i % 3 == 0:
            out.append(jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": f"k{i % 4}"}))
        elif i % 3 == 1:
            out.append(jwt.encode(claims, ec_key, algorithm="ES256"))
        else:
            out.append(jwt.encode(claims, rnd.randbytes(32), algorithm="HS256"))
    return out


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _secret(rnd: random.Random, n: int = 18) -> str:
    return base64.urlsafe_b64encode(rnd.randbytes(n)).decode().rstrip("=")


#: (name, kind the scrubber reports, how the credential is placed) — one finding expected per planted line.
#: ``{t}`` is a signed JWT, ``{h}`` its signing input (header.payload), ``{s}`` a random secret (``{o}`` the same
#: as a command-line option's value: not starting with "-"), ``{b}`` base64
#: Basic credentials, ``{g}`` a GitHub-shaped token, ``{x}`` a Slack-shaped bot token.
FORMS: tuple[tuple[str, str, str], ...] = (
    ("auth_header", "bearer", " Authorization: Bearer {t}"),
    ("auth_json", "bearer", ' {{"headers": {{"authorization": "Bearer {t}"}}}}'),
    ("bare_jwt", "jwt", " invalid token {t} (signature expired)"),
    ("query_token", "jwt", "QUERY:access_token={t}"),
    ("query_secret", "query_token", "QUERY:api_key={s}"),
    ("cookie", "cookie", " Cookie: session={s}"),
    ("password_json", "secret_field", ' {{"user": "alice", "password": "{s}"}}'),
    ("password_kv", "secret_field", " login retry user=bob password={s}"),
    ("client_secret", "secret_field", " client_secret={s}&grant_type=client_credentials"),
    ("url_password", "url_password", " connecting to postgres://app:{s}@db.internal:5432/orders"),
    ("api_key_header", "api_key", " X-Api-Key: {s}"),
    ("basic", "basic", " proxy auth Basic {b}"),
    # forms of issue 13 the redactor is adding (kind "" = whatever kind the redactor gives them)
    ("signing_input", "", " verify failed for signing input {h}"),
    ("xml_password", "", " <credentials><password>{s}</password></credentials>"),
    ("cli_token", "", " exec docker swarm join --token {o} 10.0.0.1:2377"),
    ("sshpass", "", " exec sshpass -p '{s}' ssh deploy@10.0.0.7"),
    ("config_index", "", " config[\"password\"] = '{s}'"),
    ("go_escaped_code", "", ' "redirect":"https://app.example.com/cb?state=1\\u0026code={s}"'),
    ("github_token", "", " git push with {g}"),
    ("slack_token", "", " posting as {x}"),
)


@dataclass
class Planted:
    """What :func:`write` planted: line numbers (1-based) with their form name and expected kind."""

    lines: dict[int, tuple[str, str]] = field(default_factory=dict)
    total_lines: int = 0
    size: int = 0

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _form, kind in self.lines.values():
            out[kind] = out.get(kind, 0) + 1
        return dict(sorted(out.items()))


def _plant(rnd: random.Random, line: bytes, form: str, toks: list[str]) -> bytes:
    token, secret = rnd.choice(toks), _secret(rnd)
    value = form.format(
        t=token,
        s=secret,
        # an option's value never starts with "-" (a command line reads that as the next option)
        o="x" + secret[1:] if secret.startswith("-") else secret,
        b=base64.b64encode(f"user{rnd.randrange(100)}:{_secret(rnd, 9)}".encode()).decode(),
        h=rnd.choice(toks).rpartition(".")[0],
        g="ghp_" + "".join(rnd.choice(_ALNUM) for _ in range(36)),
        x=f"xoxb-{rnd.randrange(10**11, 10**12)}-{rnd.randrange(10**12, 10**13)}-"
        + "".join(rnd.choice(_ALNUM) for _ in range(24)),
    )
    if value.startswith("QUERY:"):  # in a request path when the line has one, else a URL appended
        param = value[len("QUERY:") :]
        i = line.find(b" HTTP/1.")
        if i > 0:
            sep = b"&" if b"?" in line[:i] else b"?"
            return line[:i] + sep + param.encode() + line[i:]
        return line + f" GET https://api.example.com/v1/callback?{param}".encode()
    return line + value.encode()


def write(
    path: Path,
    size: int,
    *,
    seed: int = 1,
    rate: float = 0.005,
    forms: tuple[tuple[str, str, str], ...] = FORMS,
    corpus: Path = CORPUS,
) -> Planted:
    """Write about ``size`` bytes of real lines to ``path`` with credentials planted in ``rate`` of them."""
    rnd = random.Random(seed)
    logs = real_lines(corpus)
    toks = _tokens(rnd, 60)
    planted = Planted()
    n = 0
    written = 0
    choose_file: Callable[[], list[bytes]] = lambda: logs[rnd.randrange(len(logs))]  # noqa: E731
    with path.open("wb") as f:
        while written < size:
            chunk = []
            for _ in range(4096):
                n += 1
                line = rnd.choice(choose_file())
                if rnd.random() < rate:
                    name, kind, form = forms[rnd.randrange(len(forms))]
                    line = _plant(rnd, line, form, toks)
                    planted.lines[n] = (name, kind)
                chunk.append(line)
            data = b"\n".join(chunk) + b"\n"
            f.write(data)
            written += len(data)
    planted.total_lines = n
    planted.size = written
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size-mb", type=float, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.005)
    a = ap.parse_args()
    p = write(Path(a.out), int(a.size_mb * 1e6), seed=a.seed, rate=a.rate)
    print(f"{a.out}: {p.size / 1e6:.1f} MB, {p.total_lines} lines, {len(p.lines)} planted {p.by_kind()}")


if __name__ == "__main__":
    sys.exit(main())
