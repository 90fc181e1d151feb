"""Session 22: the application's logging fails while jwtobs reports a failure of its own.

A logging handler whose ``emit`` raises (a log shipper that is down, a closed stream a custom handler writes to):
``logging`` catches only what its own handlers catch, so such a handler's exception reaches whoever called
``log.warning``. jwtobs reports its first failure of each kind through logging; before, that report carried the
handler's exception into the request, the JWKS fetch or the event builder thread. Real keys, real tokens, a real
JWKS server on 127.0.0.1; every wait bounded, no assertion on elapsed time."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs import config, jwks
from tests.jwks.server import JwksServer, RsaKey

from .conftest import AUD, ISS, Keys, claims
from .test_defer import SinkRaisingOnce


class _BrokenHandler(logging.Handler):
    """A handler of the application's whose destination is down: every record raises."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.calls += 1
        raise RuntimeError("log service down")


@pytest.fixture
def broken_logging() -> Iterator[_BrokenHandler]:
    handler = _BrokenHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_a_raising_log_handler_changes_no_verdict_of_the_verifier(keys: Keys, broken_logging: _BrokenHandler) -> None:
    """A sink that raises (its failure is logged once) and a log handler that raises, ``defer=False``. Before: the
    first ``verify`` of a valid token raised the handler's RuntimeError (not a TokenRejected, not a result). After:
    3 of 3 accepted, the 3 sink failures counted, the report attempted once."""

    def sink(record: object) -> None:
        raise OSError("sink down")

    jwtobs.configure(sinks=[sink], fingerprint_key=b"k" * 32, from_env=False, defer=False)
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD, algorithms=("RS256",))
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": keys.rsa.public_key()}), backend="pyjwt")
    token = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k1", "typ": "at+jwt"})
    verdicts = [verifier.verify(token).claims["sub"] for _ in range(3)]
    assert verdicts == ["alice@example.com"] * 3
    assert config.current().telemetry.failures()["sink"] == 3
    assert broken_logging.calls == 1


def test_a_raising_log_handler_does_not_end_the_event_builder(broken_logging: _BrokenHandler) -> None:
    """A sink raises a BaseException once on the builder thread (a gevent Timeout, a CancelledError); the builder
    warns about it, through the broken handler. Before: the warning's exception ended the thread, and the 5
    validations that followed were never built (0 of 5 delivered within 10 s; only an explicit flush() built them).
    After: the thread goes on and delivers them within its interval (1 s)."""

    sink = SinkRaisingOnce()
    got = sink.got
    jwtobs.configure(sinks=[sink], fingerprint_key=b"k" * 32, from_env=False, defer=True)
    secret = b"s" * 32
    token = jwt.encode({"sub": "a"}, secret, algorithm="HS256")
    decode = jwtobs.wrap(jwt.decode)
    decode(token, secret, algorithms=["HS256"])
    deadline = time.monotonic() + 10
    while sink.calls == 0 and time.monotonic() < deadline:  # the builder thread reached the sink (and raised)
        time.sleep(0.01)
    assert sink.calls == 1
    for _ in range(5):
        decode(token, secret, algorithms=["HS256"])
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:  # no flush(): the builder thread's own pass
        time.sleep(0.02)
    assert len(got) == 5
    assert any(t.name == "jwtobs-events" and t.is_alive() for t in threading.enumerate())
    assert broken_logging.calls >= 1


def test_a_raising_log_handler_does_not_fail_a_large_key_set(broken_logging: _BrokenHandler) -> None:
    """A key set of more entries than ``jwks.MAX_KEYS`` (a warning says only the first are kept) while a log handler
    raises. Before: the warning's exception made the fetch an ``internal`` failure, whose own report raised again out
    of ``get()``: the first call raised RuntimeError, and no fetch ever loaded the keys (every later call
    JWT_JWKS_UNAVAILABLE). After: the key is found, one request, no error."""
    jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
    key = RsaKey("k0")
    server = JwksServer()
    try:
        filler = [{"kty": "oct"}] * (jwks.MAX_KEYS + 100)  # unusable entries: skipped, only counted
        server.body = json.dumps({"keys": [key.jwk(), *filler]}).encode()
        source = jwtobs.JwksSource(server.url, timeout=2)
        assert source.get("k0").kid == "k0"
        assert source.errors == {} and server.requests == 1
        assert broken_logging.calls == 1  # the warning was attempted
    finally:
        server.close()


def test_a_closed_stderr_does_not_fail_configure() -> None:
    """No fingerprint key (the one-time EphemeralKeyWarning) and ``sys.stderr`` closed (a daemonised process): the
    warning cannot be shown, ``warnings`` raises ValueError ("I/O operation on closed file", not the OSError it
    catches). Before: ``configure()`` raised it and the sinks it was given were never installed (3 validations, 0
    events); a log record to a closed stderr did the same through ``logging.lastResort``. After: configure returns,
    3 validations, 3 events. In a subprocess: pytest shows warnings itself, not on stderr."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = """
import io, json, os, sys
import jwt, jwtobs
events = []
closed = io.StringIO()
closed.close()
sys.stderr = closed
out = {}
try:
    jwtobs.configure(sinks=[events.append], defer=False, from_env=False)
    out["configure"] = "ok"
except Exception as exc:
    out["configure"] = type(exc).__name__
secret = b"s" * 32
decode = jwtobs.wrap(jwt.decode)
token = jwt.encode({"sub": "a"}, secret, algorithm="HS256")
out["verdicts"] = [decode(token, secret, algorithms=["HS256"])["sub"] for _ in range(3)]
jwtobs.flush()
out["events"] = len(events)
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("JWTOBS_FINGERPRINT_KEY", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"configure": "ok", "verdicts": ["a", "a", "a"], "events": 3}


_FORK_SCRIPT = """
import json, os, sys, threading, time
import jwt, jwtobs
from cryptography.hazmat.primitives.asymmetric import rsa
from jwtobs import config

which = sys.argv[1]
jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
st = config.current()
lock = {
    "configure": config._lock,  # a configure() running in another thread
    "guard": st.guard._lock,  # the cardinality guard learning an issuer (a request thread)
    "counters": st.telemetry._counts_lock,  # the metric reader reading the counters
    "measurements": st.telemetry._pending_lock,  # the metric reader replaying buffered measurements
}[which]
held, release = threading.Event(), threading.Event()

def holder():  # another thread of the parent, inside the lock when the main thread forks
    with lock:
        held.set()
        release.wait(30)

threading.Thread(target=holder, daemon=True).start()
assert held.wait(10)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    steps = []
    try:
        if which == "configure":  # (otherwise the parent's configuration, with the locks it had at the fork)
            jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
            steps.append("configure")
        profile = jwtobs.Profile(name="api", issuer="https://fresh.example", audience="api", algorithms=("RS256",))
        verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": key.public_key()}), backend="pyjwt")
        now = int(time.time())
        claims = {"iss": "https://fresh.example", "aud": "api", "sub": "u", "exp": now + 600, "iat": now}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1", "typ": "at+jwt"})
        verifier.verify(token)  # the guard learns the issuer; a measurement is buffered
        steps.append("verify")
        config.current().telemetry.count("jwtobs.jwks.refresh.suppressed", (("why", "cooldown"),))
        steps.append("count")
        jwtobs.flush()  # replays the buffered measurements
        steps.append("flush")
    except Exception as exc:
        steps.append(repr(exc)[:200])
    finally:
        os.write(w, json.dumps(steps).encode())
        os._exit(0)
os.close(w)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)  # the child hangs: what it reported so far is lost with it
    os.waitpid(pid, 0)
print(os.read(r, 4096).decode() or "hung")
release.set()
"""


@pytest.mark.parametrize("lock", ["configure", "guard", "counters", "measurements"])
def test_a_fork_while_another_thread_holds_a_lock_leaves_the_child_running(lock: str) -> None:
    """A thread of the parent is inside one of jwtobs's locks when the main thread forks (a preforking server, a
    worker forking with ``multiprocessing``). Before: that lock stayed held in the child for ever, and the child hung
    at the first step taking it (``configure()``, a verification whose issuer the guard learns, a JWKS counter, the
    flush replaying measurements: killed after 20 s, 4 of 4 cases). After: every step runs. With a real
    ``MeterProvider`` so that the metric path takes its locks."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    prelude = (
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from opentelemetry import metrics\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run(
        [sys.executable, "-c", prelude + _FORK_SCRIPT, lock], capture_output=True, text=True, timeout=90, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = ["verify", "count", "flush"] if lock != "configure" else ["configure", "verify", "count", "flush"]
    assert done.stdout.strip() != "hung", "the child hung on a lock held at the fork"
    assert json.loads(done.stdout) == expected


def test_a_sink_that_cannot_take_records_is_a_configuration_error() -> None:
    """An ``async def`` sink (or an object with an async ``__call__``, or a partial of one) returns a coroutine that
    nobody awaits. Before: configure() took it, and every record was lost without a trace (3 validations: 0
    delivered, 0 dropped, 0 failures counted; a RuntimeWarning per record). A non-callable failed on every record.
    After: configure() says so, and the configuration in force stays."""
    import functools

    got: list[Any] = []

    async def async_sink(record: object) -> None:
        got.append(record)

    class AsyncCall:
        async def __call__(self, record: object) -> None:
            got.append(record)

    async def two(record: object, where: str) -> None:
        got.append(record)

    kept = jwtobs.configure(sinks=[got.append], fingerprint_key=b"k" * 32, from_env=False, defer=False)
    for bad in (async_sink, AsyncCall(), functools.partial(two, where="x"), "events.jsonl"):
        with pytest.raises(jwtobs.ConfigurationError, match=r"configure\(sinks=\.\.\.\)"):
            jwtobs.configure(sinks=[bad], fingerprint_key=b"k" * 32, from_env=False, defer=False)
        assert config.current() is kept
    secret = b"s" * 32
    decode = jwtobs.wrap(jwt.decode)
    decode(jwt.encode({"sub": "a"}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
    assert len(got) == 1
