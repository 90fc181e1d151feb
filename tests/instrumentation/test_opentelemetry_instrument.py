"""A real ``opentelemetry-instrument python app.py`` run: the entry point loads JwtInstrumentor, no code change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OTEL_INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"

# The app knows nothing about jwtobs: it validates with PyJWT and joserfc as any service would.
APP = """
import time
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import ExpiredTokenError
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry, decode as joserfc_decode  # a name imported by the app: patched too

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
now = int(time.time())
good = jwt.encode({"sub": "u1", "iss": "https://idp.app.test", "exp": now + 600}, key, algorithm="RS256")
expired = jwt.encode({"sub": "u1", "iss": "https://idp.app.test", "exp": now - 600}, key, algorithm="RS256")

results = []
print(jwt.decode(good, key.public_key(), algorithms=["RS256"])["sub"])
try:
    jwt.decode(expired, key.public_key(), algorithms=["RS256"])
except jwt.ExpiredSignatureError:
    results.append("pyjwt expired")

rsa_key = RSAKey.import_key(pem)
registry = JWTClaimsRegistry(exp={"essential": True})
registry.validate(joserfc_decode(good, rsa_key, algorithms=["RS256"]).claims)
try:
    registry.validate(joserfc_decode(expired, rsa_key, algorithms=["RS256"]).claims)
except ExpiredTokenError:
    results.append("joserfc expired")
print(results)
"""


def _run(tmp_path: Path, events: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "JWTOBS_"))
    }  # nothing inherited from the test run
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "OTEL_SERVICE_NAME": "instrumented-app",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "JWTOBS_EVENTS_PATH": str(events),
            "JWTOBS_FINGERPRINT_KEY": "subprocess-test-key",
            **extra_env,
        }
    )
    return subprocess.run(
        [str(OTEL_INSTRUMENT), sys.executable, str(app)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.skipif(not OTEL_INSTRUMENT.exists(), reason="opentelemetry-instrument not installed (jwtobs[instruments])")
def test_opentelemetry_instrument_enables_and_disables_jwtobs(tmp_path: Path) -> None:
    events_path = tmp_path / "events.jsonl"
    out = _run(tmp_path, events_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "['pyjwt expired', 'joserfc expired']" in out.stdout  # the app's own outcome is unchanged
    lines = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert [(e["library"], e["outcome"], e["reason"]) for e in lines] == [
        ("pyjwt", "accepted", None),
        ("pyjwt", "rejected", "JWT_EXPIRED"),
        ("joserfc", "accepted", None),
        ("joserfc", "rejected", "JWT_EXPIRED"),
    ]
    assert {e["service"] for e in lines} == {"instrumented-app"}
    assert all(e["token_fp"] and e["trace_id"] for e in lines)
    # the console span exporter installed by opentelemetry-instrument received jwtobs's spans
    assert out.stdout.count('"name": "jwt.validate default"') == 4
    assert "JWT_EXPIRED" in out.stdout
    assert "eyJ" not in events_path.read_text()  # no token in the event file

    disabled_events = tmp_path / "disabled.jsonl"
    out2 = _run(tmp_path, disabled_events, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="jwtobs")
    assert out2.returncode == 0, out2.stderr[-3000:]
    assert "['pyjwt expired', 'joserfc expired']" in out2.stdout
    assert not disabled_events.exists() or disabled_events.read_text() == ""
    assert "jwt.validate" not in out2.stdout
