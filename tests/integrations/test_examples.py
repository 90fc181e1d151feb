"""The example apps run: each is started as a user would (``python examples/...``), on a free 127.0.0.1 port,
and answers its printed demo token with 200 and a request without one with the RFC 6750 401."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integrations.harness import free_socket, request

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "fastapi": ROOT / "examples" / "fastapi_app.py",
    "flask": ROOT / "examples" / "flask_app.py",
    "django": ROOT / "examples" / "django_app" / "run.py",
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name: str) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES[name]), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        # the jwtobs of this tree (a script's own folder comes first on sys.path, not the working directory: an
        # editable install of another checkout was imported instead)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        m = re.search(r"Authorization: Bearer ([A-Za-z0-9._-]+)'", second)
        assert m, second
        token = m.group(1)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = request(base, "/items", (("Authorization", f"Bearer {token}"),))
                break
            except OSError:
                assert time.monotonic() < deadline, "example did not start"
                time.sleep(0.1)
        assert reply.status == 200, reply.body
        missing = request(base, "/items")
        assert (missing.status, missing.header("WWW-Authenticate")) == (401, 'Bearer realm="demo"')
        other = request(base, "/tenants/globex/items", (("Authorization", f"Bearer {token}"),))
        assert other.status == 401
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
