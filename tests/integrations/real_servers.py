"""Real servers in their own processes, started as users start them (``uvicorn app:app``, ``gunicorn -k ...``,
``flask run``, ``waitress-serve``, ``django-admin runserver``...), on 127.0.0.1 with an ephemeral port, and the raw
HTTP that reaches them (bytes over a socket: odd headers, pipelining, ``Expect: 100-continue``, a client that goes
away). The apps are in :mod:`tests.integrations.served`. Used by ``tests/integrations/test_real_servers.py``."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
ASGI = "tests.integrations.served.asgi:app"
FLASK = "tests.integrations.served.flask_app:app"
DJANGO_WSGI = "tests.integrations.served.django_wsgi:application"
DJANGO_SETTINGS = "tests.integrations.served.django_settings"


@dataclass(frozen=True)
class Server:
    name: str
    needs: str  # the module the server comes from (the test is skipped without it)
    argv: Callable[[int], list[str]]
    #: how an orchestrator stops it: SIGTERM to the main process (docker stop, Kubernetes), or SIGINT (Ctrl-C)
    #: for the development servers and waitress, which leave SIGTERM to its default (the process dies at once)
    stop: signal.Signals = signal.SIGTERM
    #: answers more than one request per connection (the development servers close after each)
    keep_alive: bool = True
    #: more environment for the app (``SERVED_NO_LOGGING=1``: an app that configures no logging)
    env: tuple[tuple[str, str], ...] = ()
    #: the stop signal goes to the whole process group (systemd's default ``KillMode=control-group``)
    stop_group: bool = False


def _flask_run(*extra: str) -> Callable[[int], list[str]]:
    """``flask run`` of the served Flask app on 127.0.0.1:port, with ``extra`` options."""
    return lambda p: [PY, "-m", "flask", "--app", FLASK, "run", *extra, "--host", "127.0.0.1", "--port", str(p)]


def _gunicorn(app: str, *extra: str) -> Callable[[int], list[str]]:
    return lambda port: [PY, "-m", "gunicorn", *extra, "-b", f"127.0.0.1:{port}", "--access-logfile", "-", app]


SERVERS: tuple[Server, ...] = (
    Server("uvicorn", "uvicorn", lambda p: [PY, "-m", "uvicorn", ASGI, "--host", "127.0.0.1", "--port", str(p)]),
    Server(
        "hypercorn",
        "hypercorn",
        lambda p: [
            PY,
            "-m",
            "hypercorn",
            ASGI,
            "-b",
            f"127.0.0.1:{p}",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ],
    ),
    Server("gunicorn+uvicorn", "gunicorn", _gunicorn(ASGI, "-k", "uvicorn.workers.UvicornWorker", "-w", "2")),
    Server(
        "flask run",
        "flask",
        _flask_run(),
        signal.SIGINT,
        keep_alive=False,
    ),
    # an access log format that prints the Authorization and Cookie headers (gunicorn's %({header}i)s atoms)
    Server(
        "gunicorn+flask",
        "gunicorn",
        _gunicorn(
            FLASK,
            "-w",
            "2",
            "--threads",
            "4",
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s auth=%({authorization}i)s cookie=%({cookie}i)s',
        ),
    ),
    Server("waitress", "waitress", lambda p: [PY, "-m", "waitress", f"--listen=127.0.0.1:{p}", FLASK], signal.SIGINT),
    Server(
        "django runserver",
        "django",
        lambda p: [PY, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{p}"],
        signal.SIGINT,
        keep_alive=False,
    ),
    Server("gunicorn+django", "gunicorn", _gunicorn(DJANGO_WSGI, "-w", "2", "--threads", "4")),
)

#: Flask apps whose view's exception reaches output that is not the app's configured logging: Werkzeug's debugger
#: (``flask run --debug``: the traceback to the request's ``wsgi.errors``), and Flask's own handler of
#: ``app.logger`` in an app that configures no logging (``SERVED_NO_LOGGING=1``), under each WSGI server
NO_LOGGING = (("SERVED_NO_LOGGING", "1"),)
FLASK_EXCEPTIONS: tuple[Server, ...] = (
    Server(
        "flask run --debug",
        "flask",
        _flask_run("--debug", "--no-reload"),
        signal.SIGINT,
        keep_alive=False,
    ),
    Server(
        "flask run, no logging config",
        "flask",
        _flask_run(),
        signal.SIGINT,
        keep_alive=False,
        env=NO_LOGGING,
    ),
    Server("gunicorn+flask, no logging config", "gunicorn", _gunicorn(FLASK, "-w", "1"), env=NO_LOGGING),
    Server("waitress, no logging config", "waitress",
           lambda p: [PY, "-m", "waitress", f"--listen=127.0.0.1:{p}", FLASK], signal.SIGINT, env=NO_LOGGING),
)  # fmt: skip

#: ``uvicorn.run(app, log_config=...)`` from a script: logging configured after the app's module ran
#: ``redact.install()``. With :class:`~jwtobs.integrations.starlette.JwtobsLifespan` (which installs again at the
#: lifespan startup), and without it but with the ``LoggingRedactor`` declared in the config (the docs' snippet).
LOG_CONFIGS: tuple[Server, ...] = (
    Server("uvicorn.run(log_config=...), JwtobsLifespan", "uvicorn",
           lambda p: [PY, "-m", "tests.integrations.served.run_uvicorn", str(p), "user"]),
    Server("uvicorn.run(log_config=... with the filter)", "uvicorn",
           lambda p: [PY, "-m", "tests.integrations.served.run_uvicorn", str(p), "docs"],
           env=(("SERVED_NO_LIFESPAN", "1"),)),
)  # fmt: skip


def available(server: Server) -> bool:
    return importlib.util.find_spec(server.needs) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- raw HTTP -------------------------------------------------------------------------------------------------
def request_bytes(
    path: str,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    method: str = "GET",
    version: str = "1.1",
    body: bytes = b"",
    close: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = bytearray()
        deadline = time.monotonic() + timeout
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        return bytes(out)


def send_and_leave(port: int, data: bytes) -> None:
    """A client that sends ``data`` and goes away without reading the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)


def statuses(response: bytes) -> list[int]:
    """The final status of every response in ``response`` (interim 1xx responses left out)."""
    found = []
    for part in response.split(b"HTTP/1.")[1:]:
        try:
            code = int(part[2:5])
        except ValueError:
            continue
        if code >= 200:
            found.append(code)
    return found


# -- a running server -----------------------------------------------------------------------------------------
@dataclass
class Running:
    server: Server
    port: int
    log: Path
    events: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@contextlib.contextmanager
def serve(server: Server, workdir: Path, public_pem: Path, *, start_timeout: float = 30.0) -> Iterator[Running]:
    """Start ``server`` in its own process group (stdout and stderr to ``workdir/server.log``), wait until it
    answers, yield it; then stop it as its orchestrator would (:attr:`Server.stop` to the main process) and wait
    for it to exit (killing the group after 20 s)."""
    log, events = workdir / "server.log", workdir / "events.jsonl"
    env = {
        **os.environ,
        "SERVED_PUBKEY": str(public_pem),
        "SERVED_EVENTS": str(events),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": DJANGO_SETTINGS,
        **dict(server.env),
    }
    for attempt in range(3):  # the port was free a moment ago; another process may take it meanwhile
        port = free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                server.argv(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + start_timeout
            up = False
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    up = statuses(exchange(port, request_bytes("/public"), timeout=2)) == [200]
                except OSError:
                    up = False
                if up:
                    break
                time.sleep(0.1)
            if up:
                yield Running(server, port, log, events, proc)
                return
            if attempt == 2 or "address already in use" not in log.read_text(errors="replace").lower():
                raise RuntimeError(f"{server.name} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        finally:
            stop(proc, server.stop, group=server.stop_group)


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals, *, group: bool = False) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
