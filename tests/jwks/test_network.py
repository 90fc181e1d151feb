"""Failure modes of the network and of HTTP that the fault matrix (test_fault_matrix.py) does not reach: a
resolver that does not answer, a host name whose first address drops packets, compressed bodies (and a
decompression bomb), 3xx statuses that are not redirects. Real servers on 127.0.0.1 (and 127.0.0.2, a
loopback address too); only the resolver is a stub, since no real DNS server can be put in front of the
system resolver without changing the machine. Real RSA keys and tokens, verified through ``jwtobs.Verifier``.
No assertion on elapsed time: the deadline shows as an ordering (the verdict came while the resolver was
still blocked) or as a verdict (the second address was reached in time).
"""

from __future__ import annotations

import gzip
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import jwtobs
from jwtobs import TokenRejected
from tests.jwks.faults import FaultServer
from tests.jwks.server import AUD, ISS, NOW, FakeClock, RsaKey, claims

PROFILE = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
KEY = RsaKey("k0")


def verdict(v: jwtobs.Verifier, token: str) -> str:
    try:
        v.verify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return "accepted"


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    s = FaultServer()
    s.publish({"keys": [KEY.jwk()]})
    yield s
    s.close()


@pytest.fixture
def resolve_localhost(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[..., Any]], None]:
    """Route ``getaddrinfo("localhost", ...)`` to a stub; every other name to the real resolver."""
    real = socket.getaddrinfo

    def install(stub: Callable[..., Any]) -> None:
        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "localhost":
                return stub(port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    return install


def _source(port: int, clock: FakeClock, timeout: float = 0.3) -> jwtobs.JwksSource:
    return jwtobs.JwksSource(
        f"http://localhost:{port}/jwks.json", clock=clock, timeout=timeout, cooldown=30, proxies={}
    )


# -- name resolution under the deadline ----------------------------------------------------------------------
def test_a_resolver_that_does_not_answer_is_under_the_deadline(
    srv: FaultServer, resolve_localhost: Callable[[Callable[..., Any]], None]
) -> None:
    """Before: getaddrinfo ran inline with no timeout; a resolver that did not answer for 3 s held a cold
    ``refresh()`` 3.03 s with ``timeout=0.3`` (glibc waits 5 s per attempt and name server: 10-30 s)."""
    release = threading.Event()
    calls: list[int] = []
    answered: list[int] = []

    def stalled(port: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(port)
        release.wait(5)  # a resolver that does not answer, until the test lets it
        answered.append(port)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    resolve_localhost(stalled)
    clock = FakeClock()
    v = jwtobs.Verifier(PROFILE, keys=_source(srv.port, clock))
    token = KEY.sign(claims())
    try:
        assert verdict(v, token) == "JWT_JWKS_UNAVAILABLE"
        assert answered == []  # the verdict came while the resolver was still blocked
        assert v.keys.last_error == "timeout"  # type: ignore[attr-defined]
        clock.advance(30)  # the retry after the cooldown waits for the same resolution: no second thread
        assert verdict(v, token) == "JWT_JWKS_UNAVAILABLE"
        assert calls == [srv.port] and answered == []
        assert srv.requests == 0
    finally:
        release.set()
    clock.advance(30)  # the resolver answers again: the next retry fetches the keys
    assert verdict(v, token) == "accepted"
    assert srv.requests == 1


def test_a_resolver_thread_that_cannot_start_leaves_nothing_behind(
    srv: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process is out of threads for one fetch: that fetch fails (``internal``), the next one resolves
    afresh instead of waiting on a resolution that never started."""
    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    clock = FakeClock()
    src = _source(srv.port, clock)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert not src.refresh()
    assert src.last_error == "internal"
    monkeypatch.setattr(threading.Thread, "start", start)
    clock.advance(30)
    assert src.refresh() and src.kids == {"k0"}


def test_a_name_that_does_not_resolve_is_a_dns_error(
    srv: FaultServer, resolve_localhost: Callable[[Callable[..., Any]], None]
) -> None:
    """Before: ``error.type=connection``, the same as a refused or unreachable address."""

    def nxdomain(port: int, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    resolve_localhost(nxdomain)
    src = _source(srv.port, FakeClock())
    assert not src.refresh()
    assert src.last_error == "dns" and src.errors == {"dns": 1}


def _blackhole(port: int) -> list[socket.socket]:
    """A listener on 127.0.0.2:``port`` whose accept queue is full: the kernel drops further SYNs, as a broken
    route (an IPv6 address of a host whose IPv6 does not work) does. The sockets to close afterwards."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", port))
    except OSError:
        listener.close()
        pytest.skip("127.0.0.2 is not a local address here")
    listener.listen(0)
    held = [listener]
    for _ in range(8):  # fill the queue until a connect is dropped
        probe = socket.socket()
        probe.settimeout(0.1)
        try:
            probe.connect(("127.0.0.2", port))
        except TimeoutError:
            probe.close()
            return held
        held.append(probe)
    for s in held:
        s.close()
    pytest.skip("this network stack accepts beyond the listen backlog")


def test_a_host_whose_first_address_drops_packets_is_reached_on_the_next(
    srv: FaultServer, resolve_localhost: Callable[[Callable[..., Any]], None]
) -> None:
    """Before: every address got the whole timeout (``socket.create_connection``), so the first, dropping
    SYNs, used all of it and the fetch failed as ``timeout`` although the second address answers: every fetch
    of such a host failed, a cold cache answered 503 to every valid token."""
    held = _blackhole(srv.port)
    try:
        resolve_localhost(
            lambda port, *a, **k: [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),  # drops packets
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),  # the JWKS server
            ]
        )
        src = _source(srv.port, FakeClock(), timeout=1.0)
        assert verdict(jwtobs.Verifier(PROFILE, keys=src), KEY.sign(claims())) == "accepted"
        assert src.errors == {} and srv.requests == 1
    finally:
        for s in held:
            s.close()


# -- Content-Encoding ---------------------------------------------------------------------------------------
def _response(body: bytes, *headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Cache-Control: max-age=300", "Connection: close"]
    head += [f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "deflate (zlib)": ("deflate", zlib.compress),
    "deflate (raw)": ("deflate", lambda b: _deflate(b, -zlib.MAX_WBITS)),
    "GZIP, identity": ("GZIP, identity", gzip.compress),
}


@pytest.mark.parametrize("name", ENCODERS)
def test_a_compressed_key_set_is_decoded(srv: FaultServer, name: str) -> None:
    """Before: the body was parsed as it came, so a compressed key set was ``invalid_json`` on every fetch (a
    cold cache: 503 for every valid token). The request sent no ``Accept-Encoding``, which lets a server use any
    coding (RFC 9110 §12.5.3), and an S3 object stored with ``Content-Encoding: gzip`` is served so anyway."""
    header, encode = ENCODERS[name]
    srv.raw, srv.mode = _response(encode(srv.body), f"Content-Encoding: {header}"), "raw"
    src = _source(srv.port, FakeClock())
    assert verdict(jwtobs.Verifier(PROFILE, keys=src), KEY.sign(claims())) == "accepted"
    assert src.errors == {} and src.kids == {"k0"}
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in srv.last_request


@pytest.mark.parametrize(
    "header, body",
    [
        ("gzip", b"\x1f\x8b" + b"x" * 40),  # corrupt
        ("gzip", gzip.compress(b'{"keys": []}' * 50)[:-12]),  # truncated
        ("gzip", gzip.compress(b'{"keys": []}') + b"{}"),  # something after the compressed data
        ("deflate", b"not deflate at all"),
        ("br", b'{"keys": []}'),  # a coding this client does not decode (and did not ask for)
        ("gzip, gzip", gzip.compress(gzip.compress(b'{"keys": []}'))),  # layered codings are not decoded
    ],
    ids=["corrupt", "truncated", "trailing_data", "not_deflate", "br", "layered"],
)
def test_a_body_that_does_not_decode_is_a_content_encoding_error(srv: FaultServer, header: str, body: bytes) -> None:
    """Before: ``invalid_json`` (or, for ``br`` over a plain body, parsed as if the header were not there)."""
    srv.raw, srv.mode = _response(body, f"Content-Encoding: {header}"), "raw"
    src = _source(srv.port, FakeClock())
    assert not src.refresh()
    assert src.errors == {"content_encoding": 1}


def test_a_decompression_bomb_is_too_large_without_being_inflated(srv: FaultServer) -> None:
    """64 MiB of zeros in a 62 KiB gzip body: ``too_large`` once ``max_bytes`` + 1 bytes are inflated; the fetch's
    memory stays within a few ``max_bytes`` (never the 64 MiB)."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(64)) + bomb.flush()
    assert len(body) < 128 * 1024
    srv.raw, srv.mode = _response(body, "Content-Encoding: gzip"), "raw"
    src = _source(srv.port, FakeClock())
    tracemalloc.start()
    try:
        assert not src.refresh()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert src.errors == {"too_large": 1}
    assert peak < 4 * src.max_bytes


# -- 3xx statuses -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, error_type",
    [
        ("301 Moved Permanently", "redirect"),
        ("302 Found", "redirect"),
        ("303 See Other", "redirect"),
        ("307 Temporary Redirect", "redirect"),
        ("308 Permanent Redirect", "redirect"),
        ("300 Multiple Choices", "http_3xx"),
        ("304 Not Modified", "http_3xx"),
        ("305 Use Proxy", "http_3xx"),
    ],
)
def test_only_redirect_statuses_are_redirects(srv: FaultServer, status: str, error_type: str) -> None:
    """Before: every 3xx was ``redirect``; a CDN answering ``304 Not Modified`` to a request that was not
    conditional (the client keeps no validators) sent the operator looking for a redirect that was not there."""
    head = f"HTTP/1.1 {status}\r\nLocation: {srv.url}?next\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    srv.raw, srv.mode = head.encode(), "raw"
    src = _source(srv.port, FakeClock())
    assert verdict(jwtobs.Verifier(PROFILE, keys=src), KEY.sign(claims())) == "JWT_JWKS_UNAVAILABLE"
    assert src.errors == {error_type: 1} and srv.requests == 1  # never followed
