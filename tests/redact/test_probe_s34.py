"""Session 34's redaction probe (a helper, from the docs and public material, not the tests):

- ``jwtobs scan``/``scrub`` with the Hyperscan engine were quadratic on logs where every line holds a spaced secret
  field ("apikey <id>", "kubectl get secret <name>"): each trigger hit's judgement searched back for a tab to the
  start of its block, not of its line (128 000 lines: 278 s; the pure-Python engine 5.5 s). Now 8 s; measured by
  ``benchmarks/bench_scan.py`` (its dense logs), here the engines' agreement on such blocks.
- Maven/Gradle coordinates of JWT libraries ("io.jsonwebtoken:jjwt-api:jar:0.12.5", "com.auth0:java-jwt:4.4.0") were
  read as "name: value" fields and the artifact redacted in every build log of a project using them.
- A shell's or CI file's expression after Bearer, token or --password ("Bearer ${ACCESS_TOKEN}", "${{ secrets.X }}",
  "$(gcloud auth print-access-token)") had its "$" redacted alone, the rest kept and the line mangled.
- "secret" followed by a Kubernetes object's name ("kubectl get secret db-credentials -o yaml", "Mounted secret
  volume-7f9c") had the name redacted: CI/CD and ops logs are full of them. The word alone before a lower-case
  name with a "-" or "." and a letter past "f" (no hex, no random run) is kept; a secret's value after it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtobs.redact import scan, scrub

_ENGINES = ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else [])

KEPT = [
    # Maven/Gradle coordinates of JWT libraries: a group id whose last segment holds a secret's name, ":", the artifact
    "[INFO] +- io.jsonwebtoken:jjwt-api:jar:0.12.5:compile",
    "implementation 'io.jsonwebtoken:jjwt-jackson:0.12.5'",
    "com.auth0:java-jwt:4.4.0",
    "<dependency>io.jsonwebtoken:jjwt-impl:0.11.5</dependency>",
    # a script's or a CI file's expression where the credential would be: only the "$" was redacted, and the line
    # mangled ("Bearer [REDACTED:bearer:...]{ACCESS_TOKEN}")
    'curl -H "Authorization: Bearer ${ACCESS_TOKEN}" https://api.example',
    "Authorization: Bearer ${{ secrets.API_TOKEN }}",
    "Authorization: token ${GITHUB_TOKEN}",
    "Bearer $(gcloud auth print-access-token)",
    "gh api -H 'token ${GITHUB_TOKEN}' /user",
    "deploy --password ${{ secrets.DB_PASSWORD }} --host db",
    "kubectl get secret db-credentials -o yaml",
    "kubectl describe secret default-token-x7k2p -n kube-system",
    "kubectl delete secret my-tls-cert -n prod",
    "Mounted secret volume-7f9c for pod api-0",
    "Secret app.config.v2 synced",
]
REDACTED = [
    ("secret Xk9f2-aQ7zL", "Xk9f2-aQ7zL"),  # upper case: no object's name
    ("secret 4f9a-8b2c-11aa", "4f9a-8b2c-11aa"),  # hex: a key's
    ("client_secret db-credentials", "db-credentials"),  # a field named for a secret, not the word
    ("apikey a1b2c3d4e5f6000123", "a1b2c3d4e5f6000123"),
    ("password my-dog-rex-2019", "my-dog-rex-2019"),
    ("com.acme.password:hunter2-x", "hunter2-x"),  # no version or packaging after it: a field
    ("io.token:Xk9f2aQ7zLmN", "Xk9f2aQ7zLmN"),
    ("token:abc123def456", "abc123def456"),
]


@pytest.mark.parametrize("line", KEPT)
def test_an_object_named_after_the_word_secret_or_a_coordinate_is_kept(line: str, tmp_path: Path) -> None:
    assert scrub(line) == line
    path = tmp_path / "build.log"
    path.write_text(line + "\n")
    for engine in _ENGINES:
        assert list(scan.Scanner(engine).scan_file(str(path), scan.ScanReport())) == [], engine


@pytest.mark.parametrize(("line", "value"), REDACTED)
def test_a_secret_after_it_is_still_redacted(line: str, value: str) -> None:
    out = scrub(line)
    assert isinstance(out, str) and value not in out and "[REDACTED:" in out, out


@pytest.mark.parametrize("engine", _ENGINES)
def test_every_engine_agrees_on_blocks_of_spaced_fields(engine: str, tmp_path: Path) -> None:
    """Blocks of thousands of lines each holding a spaced field (the quadratic case): every "apikey" line found and
    scrubbed, no kubectl line, whatever the engine."""
    path = tmp_path / "ci.log"
    lines = []
    for i in range(3000):
        lines.append(f"2024-05-01T12:00:{i % 60:02d}Z INFO apikey a1b2c3d4e5f6{i:06d} accepted for tenant acme")
        lines.append(f"2024-05-01T12:00:{i % 60:02d}Z run:\tkubectl get secret app-{i}-creds -o yaml")
    path.write_text("\n".join(lines) + "\n")
    found = {f.line for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())}
    assert found == set(range(1, 6001, 2)), sorted(found)[:10]
    copy = tmp_path / "copy.log"
    scan.scrub_file(str(path), str(copy), engine=engine, force=True)
    out = copy.read_text().splitlines()
    assert all("a1b2c3d4e5f6" not in x and "[REDACTED:api_key:" in x for x in out[::2])
    assert out[1::2] == lines[1::2]


def _verbose_token() -> str:
    """A JWS whose header JSON is pretty-printed ("ewog..."), HMAC-signed here."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(b'{\n  "alg": "HS256",\n  "typ": "JWT"\n}')
    body = b64(json.dumps({"sub": "alice", "iss": "https://id.example"}).encode())
    sig = b64(hmac.new(b"k" * 32, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


@pytest.mark.parametrize(
    "form",
    ["\x1b[32mINFO\x1b[0m Authorization: Bearer \x1b[33m{t}\x1b[0m", "token=\x1b[1m{t}\x1b[0m", "\x1b[1;31m{t}\x1b[0m"],
)
def test_a_colour_code_before_a_verbose_header_token_hides_it_no_more(form: str, tmp_path: Path) -> None:
    """A coloured console log (structlog's ConsoleRenderer, colorlog) saved to a file: the colour code glued the
    token to the "m" before it, and a token whose header is no "eyJ" was left whole (an "eyJ" one was found)."""
    token = _verbose_token()
    line = form.format(t=token)
    out = scrub(line)
    assert isinstance(out, str) and token.split(".")[2] not in out and "[REDACTED:jwt:" in out, out
    path = tmp_path / "console.log"
    path.write_text(line + "\n")
    for engine in _ENGINES:
        assert {f.line for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())} == {1}, engine
