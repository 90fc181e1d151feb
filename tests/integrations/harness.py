"""Shared parts of the framework tests: real keys and tokens, a real JWKS endpoint, the request matrix every
framework must answer identically, real servers on 127.0.0.1, and capture of spans, events and log lines."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.integrations import BearerAuth
from tests.jwks.server import JwksServer, RsaKey

ISS = "https://issuer.test"
AUD = "api://items"
REALM = "jwtobs-test"
FP_KEY = "integration-tests-fingerprint-key-0123456789"
#: words a refusal must never show the client (the reason goes to telemetry only)
REVEALING = ("expired", "kid", "audience", "signature", "jwt_", "tenant", "issuer", "exp")


class Keys:
    """Keys generated for the test session: the trusted one (published), an impostor with the same kid."""

    def __init__(self) -> None:
        self.good = RsaKey("k1")
        self.impostor = RsaKey("k1")

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        c: dict[str, Any] = {
            "iss": ISS,
            "sub": "user-123",
            "aud": AUD,
            "iat": now,
            "exp": now + 600,
            "scope": "items:read",
            "tid": "acme",
            "client_id": "web-app",
        }
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, **over: Any) -> str:
        return self.good.sign(self.claims(**over))


@dataclass
class Stack:
    """One configured jwtobs with everything captured: events (sink), spans (in-memory exporter)."""

    events: list[ValidationEvent] = field(default_factory=list)
    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    provider: TracerProvider = field(default_factory=TracerProvider)
    #: also log every event through the ``jwtobs.events`` logger
    log_events: bool = False

    def __post_init__(self) -> None:
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        jwtobs.configure(
            tracer_provider=self.provider,
            sinks=[self.events.append],
            fingerprint_key=FP_KEY,
            fingerprint_key_id="it",
            issuers=[ISS],
            log_events=self.log_events,
            from_env=False,
        )

    @property
    def tracer(self) -> trace.Tracer:
        return self.provider.get_tracer("tests.integrations.server")

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


@dataclass
class Authenticators:
    """The three authenticators the test apps use: a Verifier on a live JWKS endpoint, one whose endpoint
    answers 500, and a PyJWT validator wrapped with jwtobs.wrap."""

    main: BearerAuth
    down: BearerAuth
    wrapped: BearerAuth
    servers: tuple[JwksServer, ...]

    def close(self) -> None:
        for s in self.servers:
            s.close()


def make_authenticators(keys: Keys) -> Authenticators:
    up, dead = JwksServer(), JwksServer()
    up.keys = [keys.good.jwk()]
    dead.status = 500
    profile = jwtobs.Profile(name="items", issuer=ISS, audience=AUD, tenant_claim="tid")
    verifier = jwtobs.Verifier(profile, keys=jwtobs.JwksSource(up.url, timeout=2.0), backend="pyjwt")
    down_profile = jwtobs.Profile(name="items-down", issuer=ISS, audience=AUD, tenant_claim="tid")
    down = jwtobs.Verifier(down_profile, keys=jwtobs.JwksSource(dead.url, timeout=2.0, cooldown=1.0))
    public = keys.good.private.public_key()

    def validate(token: str) -> dict[str, Any]:
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)  # type: ignore[no-any-return]

    wrapped = jwtobs.wrap(validate, library="pyjwt", profile="wrapped", raise_as="jwtobs")
    return Authenticators(
        BearerAuth(verifier.verify, realm=REALM),
        BearerAuth(down.verify, realm=REALM),
        BearerAuth(wrapped, realm=REALM, library="pyjwt", profile="wrapped", tenant_claim="tid"),
        (up, dead),
    )


# -- the matrix ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: tuple[tuple[str, str], ...]
    status: int
    challenge: str | None  # exact WWW-Authenticate value (None: header must be absent)
    reason: str | None  # the event's reason; "accepted"; None: no event at all


def matrix(keys: Keys) -> list[Case]:
    good = keys.token()
    other_tenant = keys.token(tid="globex")
    bearer = f"Bearer {good}"
    missing = f'Bearer realm="{REALM}"'
    bad_request = f'Bearer realm="{REALM}", error="invalid_request"'
    invalid = f'Bearer realm="{REALM}", error="invalid_token"'
    now = int(time.time())
    expired = keys.token(iat=now - 7200, exp=now - 3600)
    forged = keys.impostor.sign(keys.claims())
    wrong_aud = keys.token(aud="api://other")
    q = urllib.parse.quote(good, safe="")
    protected, payload, signature = good.split(".")
    json_jws = json.dumps({"payload": payload, "protected": protected, "signature": signature})  # RFC 7515 §7.2.2
    return [
        Case("valid", "/items", (("Authorization", bearer),), 200, None, "accepted"),
        Case("no token", "/items", (), 401, missing, "JWT_MISSING"),
        Case("other scheme", "/items", (("Authorization", "Basic dXNlcjpwYXNz"),), 401, missing, "JWT_MISSING"),
        Case(
            "two headers", "/items", (("Authorization", bearer), ("Authorization", bearer)), 400, bad_request,
            "JWT_AMBIGUOUS",
        ),
        Case("header and query", f"/items?access_token={q}", (("Authorization", bearer),), 400, bad_request,
             "JWT_AMBIGUOUS"),
        Case("query not allowed", f"/items?access_token={q}", (), 400, bad_request, "JWT_AMBIGUOUS"),
        Case("malformed header", "/items", (("Authorization", "Bearer a b"),), 400, bad_request, "JWT_AMBIGUOUS"),
        Case("tab after the scheme", "/items", (("Authorization", f"Bearer\t{good}"),), 400, bad_request,
             "JWT_AMBIGUOUS"),
        Case("empty bearer", "/items", (("Authorization", "Bearer"),), 400, bad_request, "JWT_AMBIGUOUS"),
        Case("expired", "/items", (("Authorization", f"Bearer {expired}"),), 401, invalid, "JWT_EXPIRED"),
        Case("bad signature", "/items", (("Authorization", f"Bearer {forged}"),), 401, invalid, "JWT_BAD_SIGNATURE"),
        Case("wrong audience", "/items", (("Authorization", f"Bearer {wrong_aud}"),), 401, invalid,
             "JWT_AUDIENCE_MISMATCH"),
        Case("not a jwt", "/items", (("Authorization", "Bearer abc.def"),), 401, invalid, "JWT_MALFORMED"),
        Case("JSON serialization", "/items", (("Authorization", f"Bearer {json_jws}"),), 401, invalid,
             "JWT_UNEXPECTED_FORM"),
        Case(
            "insufficient scope", "/admin", (("Authorization", bearer),), 403,
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="items:write"', "accepted",
        ),
        Case("tenant from path", "/tenants/acme/items", (("Authorization", bearer),), 200, None, "accepted"),
        Case("tenant mismatch (path)", "/tenants/globex/items", (("Authorization", bearer),), 401, invalid,
             "JWT_TENANT_MISMATCH"),
        Case("tenant from header", "/h/items", (("Authorization", bearer), ("X-Tenant", "acme")), 200, None,
             "accepted"),
        Case("tenant mismatch (header)", "/h/items", (("Authorization", f"Bearer {other_tenant}"),
                                                      ("X-Tenant", "acme")), 401, invalid, "JWT_TENANT_MISMATCH"),
        Case("tenant header absent", "/h/items", (("Authorization", bearer),), 401, invalid, "JWT_TENANT_MISMATCH"),
        Case("key set unavailable", "/down/items", (("Authorization", bearer),), 503, None, "JWT_JWKS_UNAVAILABLE"),
        Case("wrapped valid", "/wrapped/items", (("Authorization", bearer),), 200, None, "accepted"),
        Case("wrapped expired", "/wrapped/items", (("Authorization", f"Bearer {expired}"),), 401, invalid,
             "JWT_EXPIRED"),
        Case("wrapped bad signature", "/wrapped/items", (("Authorization", f"Bearer {forged}"),), 401, invalid,
             "JWT_BAD_SIGNATURE"),
        Case("public", "/public", (), 200, None, None),
        # another scheme is no bearer credential: a public route (DRF: its authentication class) lets it through
        Case("public, another scheme", "/public", (("Authorization", "Basic dXNlcjpwYXNzd29yZA=="),), 200, None,
             None),
    ]  # fmt: skip


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None


def request(base: str, path: str, headers: tuple[tuple[str, str], ...] = (), cookie: str | None = None) -> Reply:
    """One real HTTP request (http.client: repeated headers are sent as they are)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("GET", path)
        for k, v in headers:
            conn.putheader(k, v)
        if cookie is not None:
            conn.putheader("Cookie", cookie)
        conn.endheaders()
        r = conn.getresponse()
        return Reply(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def run_matrix(base: str, stack: Stack, keys: Keys, *, prefix: str = "", cookie: str | None = None) -> list[str]:
    """Run every case; return a list of failures (empty when all pass). Checks status, challenge, body,
    exactly one event per request with the expected reason, and the principal of accepted requests."""
    failures: list[str] = []
    for case in matrix(keys):
        before = len(stack.events)
        reply = request(base, prefix + case.path, case.headers, cookie)
        jwtobs.flush()
        new = [e for e in stack.events[before:] if isinstance(e, ValidationEvent)]  # not KeySetChange
        label = f"{prefix}{case.path} [{case.name}]"
        if reply.status != case.status:
            failures.append(f"{label}: status {reply.status} != {case.status}: {reply.body[:200]!r}")
        challenge = reply.header("WWW-Authenticate")
        if challenge != case.challenge:
            failures.append(f"{label}: WWW-Authenticate {challenge!r} != {case.challenge!r}")
        if case.status == 503 and reply.header("Retry-After") is None:
            failures.append(f"{label}: 503 without Retry-After")
        if reply.status >= 400:
            low = reply.body.lower().decode("utf-8", "replace")
            if any(w in low for w in REVEALING):
                failures.append(f"{label}: body reveals the reason: {reply.body[:200]!r}")
        expected_events = 0 if case.reason is None else 1
        if len(new) != expected_events:
            failures.append(f"{label}: {len(new)} events, expected {expected_events}")
        elif new:
            e = new[0]
            got = "accepted" if e.outcome == "accepted" else e.reason
            if got != case.reason:
                failures.append(f"{label}: event {got} != {case.reason}")
        if reply.status == 200 and case.reason == "accepted":
            body = json.loads(reply.body)
            if (
                body.get("subject") != "user-123"
                or body.get("tenant") != "acme"
                or "SCOPE_items:read" not in body.get("authorities", [])
            ):
                failures.append(f"{label}: principal {body}")
            if body.get("subject_kind") != "user":
                failures.append(f"{label}: subject kind {body.get('subject_kind')}")
    return failures


def check_span_parents(stack: Stack) -> list[str]:
    """Every jwtobs span has the framework's server span as its parent."""
    spans = stack.spans()
    servers = {s.context.span_id for s in spans if s.kind == SpanKind.SERVER}
    ours = [s for s in spans if s.name.startswith("jwt.validate")]
    problems = [f"{s.name} parent {s.parent}" for s in ours if s.parent is None or s.parent.span_id not in servers]
    if not ours:
        problems.append("no jwtobs spans")
    return problems


def principal_body(principal: Any) -> dict[str, Any]:
    d: dict[str, Any] = principal.as_dict()
    return d


# -- server spans: what an OTel server instrumentation does, for frameworks whose instrumentation is absent
class AsgiServerSpan:
    """ASGI middleware: a SERVER span current for the whole request (like opentelemetry-instrumentation-asgi)."""

    def __init__(self, app: Any, tracer: Callable[[], trace.Tracer]) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.tracer().start_as_current_span(f"{scope['method']} {scope['path']}", kind=SpanKind.SERVER):
            await self.app(scope, receive, send)


def wsgi_server_span(app: Any, tracer: Callable[[], trace.Tracer]) -> Any:
    """WSGI middleware: a SERVER span current for the whole request (like opentelemetry-instrumentation-wsgi)."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        with tracer().start_as_current_span(
            f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}", kind=SpanKind.SERVER
        ):
            return list(app(environ, start_response))

    return wrapped


# -- servers --------------------------------------------------------------------------------------------------
def free_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s


class UvicornThread:
    """uvicorn serving an ASGI app on 127.0.0.1 in a thread (its default logging config, access log on)."""

    def __init__(self, app: Any, *, log_level: str = "info") -> None:
        import uvicorn

        self.sock = free_socket()
        self.config = uvicorn.Config(app, log_level=log_level, access_log=True, lifespan="off")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class WsgiThread:
    """A WSGI server (Werkzeug's, or Django's runserver classes) serving in a thread on 127.0.0.1."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        host, port = server.server_address[:2]
        self.base = f"http://{host}:{port}"

    def __enter__(self) -> WsgiThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


# -- log capture ----------------------------------------------------------------------------------------------
class Capture(logging.Handler):
    """Keeps every formatted line (message and traceback) that reaches it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # pragma: no cover
            self.handleError(record)


@contextlib.contextmanager
def capture_logs(*names: str) -> Iterator[Capture]:
    """Attach one capturing handler at DEBUG to the root logger and to each named logger (frameworks'
    access loggers do not propagate)."""
    handler = Capture()
    targets = [logging.getLogger(), *(logging.getLogger(n) for n in names)]
    saved = [(lg, lg.level) for lg in targets]
    for lg in targets:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    return [s[:12] + "..." for s in secrets if s and s in text]
