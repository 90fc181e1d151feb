"""Misbehaving JWKS endpoints beyond the fault matrix (tests/jwks/test_fault_matrix.py), on 127.0.0.1: framing
(endless drips, bad chunks, short bodies, conflicting lengths), codings, redirects off the host or to other
schemes, statuses (429 with odd Retry-After, 304, 204, 206, 101), hostile JSON (huge numbers, deep nesting,
``keys`` not a list) and hostile keys (wrong ``kty``, off-curve points, even RSA moduli, huge exponents).

Each probe: 50 threads verify at once on a cold cache (JWT_JWKS_UNAVAILABLE, one request, nothing but
TokenRejected raised, no call past the timeout), then on an expired TTL (the last-known-good key answers, one
request). Every loop is bounded; the holding probes are bounded by the server's ``stop`` event.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import jwtobs
from jwtobs import TokenRejected
from jwtobs.jwks import MAX_RSA_EXPONENT_BITS, parse_jwks
from tests.jwks.faults import FaultServer
from tests.jwks.server import AUD, ISS, NOW, FakeClock, RsaKey, claims

TIMEOUT = 0.3
MARGIN = 0.5  # 50 threads verifying RSA signatures on 2 shared cores
KEY = RsaKey("k0")
GOOD = json.dumps({"keys": [KEY.jwk()]}).encode()
PROFILE = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)

Respond = Callable[["ProbeServer", socket.socket], None]


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")).rstrip(b"=").decode()


def _head(status: str = "200 OK", ctype: str = "application/json", extra: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", "Connection: close", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")  # (as a server sends a header's bytes)


def _send(status: str = "200 OK", body: bytes = b"{}", ctype: str = "application/json", *extra: str) -> Respond:
    data = _head(status, ctype, (*extra, f"Content-Length: {len(body)}")) + body
    return lambda srv, conn: conn.sendall(data)


def _keys(*jwks: dict[str, Any]) -> Respond:
    return _send(body=json.dumps({"keys": list(jwks)}).encode())


def _jwk(**over: Any) -> dict[str, Any]:
    return KEY.jwk() | over


def _drip(srv: ProbeServer, conn: socket.socket, head: bytes, unit: bytes) -> None:
    conn.sendall(head)
    for _ in range(10_000):  # bounded; each byte well within any socket timeout, the whole far beyond the deadline
        if srv.stop.wait(0.01):
            return
        conn.sendall(unit)


def _hold(data: bytes) -> Respond:
    """Sends ``data`` and keeps the connection open (until the test ends)."""

    def respond(srv: ProbeServer, conn: socket.socket) -> None:
        conn.sendall(data)
        srv.stop.wait(5)

    return respond


def _continue_flood(srv: ProbeServer, conn: socket.socket) -> None:
    for _ in range(5000):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")


CHUNKED = ("Transfer-Encoding: chunked",)
#: probe -> (response, the error.type of the failed fetch)
PROBES: dict[str, tuple[Respond, str]] = {
    # framing
    "body_drips_forever": (lambda s, c: _drip(s, c, _head(extra=("Content-Length: 100000",)), b" "), "timeout"),
    "chunks_drip_forever": (lambda s, c: _drip(s, c, _head(extra=CHUNKED), b"1\r\n \r\n"), "timeout"),
    "bad_chunk_size": (
        lambda s, c: c.sendall(_head(extra=CHUNKED) + b"zz\r\n" + GOOD + b"\r\n0\r\n\r\n"),
        "incomplete_body",
    ),
    "huge_chunk_extension": (
        lambda s, c: c.sendall(_head(extra=CHUNKED) + b"10;" + b"a" * 100_000 + b"\r\n"),
        "header_too_long",
    ),
    "no_last_chunk": (
        lambda s, c: c.sendall(_head(extra=CHUNKED) + f"{len(GOOD):x}\r\n".encode() + GOOD + b"\r\n"),
        "incomplete_body",
    ),
    "length_beyond_body_then_close": (
        lambda s, c: c.sendall(_head(extra=(f"Content-Length: {len(GOOD) + 100}",)) + GOOD),
        "incomplete_body",
    ),
    "length_beyond_body_then_hold": (_hold(_head(extra=(f"Content-Length: {len(GOOD) + 100}",)) + GOOD), "timeout"),
    "no_length_never_closed": (_hold(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + GOOD), "timeout"),
    "two_lengths_that_differ": (
        lambda s, c: c.sendall(_head(extra=(f"Content-Length: {len(GOOD)}", "Content-Length: 5")) + GOOD),
        "bad_response",
    ),
    "length_not_ascii_digits": (lambda s, c: c.sendall(_head(extra=("Content-Length: \xb2",)) + GOOD), "bad_response"),
    "continue_flood": (_continue_flood, "headers_too_large"),
    "switching_protocols": (
        lambda s, c: c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + GOOD),
        "http_1xx",
    ),
    "http_0_9": (lambda s, c: c.sendall(GOOD), "bad_status_line"),
    "closed_without_answer": (lambda s, c: None, "disconnected"),
    # codings
    "gzip_garbage": (
        _send("200 OK", b"\x1f\x8b\x08\x00garbage" * 10, "application/json", "Content-Encoding: gzip"),
        "content_encoding",
    ),
    "gzip_then_trailing_json": (
        _send("200 OK", gzip.compress(GOOD) + b"{}", "application/json", "Content-Encoding: gzip"),
        "content_encoding",
    ),
    # redirects (none is followed)
    "redirect_off_host": (
        _send("301 Moved Permanently", b"", "text/html", "Location: https://evil.example/jwks"),
        "redirect",
    ),
    "redirect_to_file": (_send("307 Temporary Redirect", b"", "text/html", "Location: file:///etc/passwd"), "redirect"),
    "redirect_to_ftp": (
        _send("308 Permanent Redirect", b"", "text/html", "Location: ftp://127.0.0.1/jwks"),
        "redirect",
    ),
    # statuses
    "429_retry_after_huge": (
        _send("429 Too Many Requests", b"{}", "application/json", "Retry-After: 9" * 20),
        "http_429",
    ),
    "429_retry_after_negative": (
        _send("429 Too Many Requests", b"{}", "application/json", "Retry-After: -5"),
        "http_429",
    ),
    "503_retry_after_date": (
        _send("503 Service Unavailable", b"{}", "application/json", "Retry-After: Wed, 21 Oct 2099 07:28:00 GMT"),
        "http_503",
    ),
    "304_without_cache_headers": (_send("304 Not Modified", b""), "http_3xx"),
    "204_no_content": (_send("204 No Content", b""), "http_2xx"),
    "206_partial": (_send("206 Partial Content", GOOD), "http_2xx"),
    # bodies
    "html_as_json": (_send(body=b"<!doctype html><html><body>Sign in</body></html>"), "invalid_json"),
    "json_as_text_plain": (_send("200 OK", GOOD, "text/plain"), "content_type"),
    "empty_body": (_send(body=b""), "invalid_json"),
    "integer_of_5000_digits": (_send(body=b'{"keys": [1' + b"0" * 5000 + b"]}"), "invalid_json"),
    "infinite_floats": (_send(body=b'{"keys": [1e999999, -1e999999, NaN]}'), "no_keys"),
    "nesting_200000_deep": (_send(body=b'{"keys": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"), "invalid_json"),
    "nesting_inside_a_jwk": (
        _send(body=json.dumps({"keys": [_jwk(x=None)]}).replace("null", "[" * 100_000 + "]" * 100_000).encode()),
        "invalid_json",
    ),
    "keys_an_object": (_send(body=b'{"keys": {"k0": {}}}'), "invalid_jwks"),
    "keys_null": (_send(body=b'{"keys": null}'), "invalid_jwks"),
    "a_list_of_key_sets": (_send(body=b"[" + GOOD + b"]"), "invalid_jwks"),
    "keys_twice_last_empty": (_send(body=b'{"keys": ' + GOOD[9:-1] + b', "keys": []}'), "no_keys"),
    # keys
    "duplicate_kid": (_keys(KEY.jwk(), KEY.jwk()), "no_keys"),
    "rsa_members_as_ec": (_keys(_jwk(kty="EC")), "no_keys"),
    "modulus_as_hmac_secret": (_keys(_jwk(kty="oct", k=KEY.jwk()["n"])), "no_keys"),
    "ec_point_off_the_curve": (
        _keys({"kty": "EC", "crv": "P-256", "kid": "k0", "x": _b64(1).rjust(43, "A"), "y": _b64(2).rjust(43, "A")}),
        "no_keys",
    ),
    "ec_point_at_zero": (_keys({"kty": "EC", "crv": "P-256", "kid": "k0", "x": "A" * 43, "y": "A" * 43}), "no_keys"),
    "rsa_1024_bits": (_keys(_jwk(n=RsaKey("t", bits=1024).jwk()["n"])), "no_keys"),
    "rsa_exponent_1": (_keys(_jwk(e=_b64(1))), "no_keys"),
    "rsa_exponent_even": (_keys(_jwk(e=_b64(65536))), "no_keys"),
    # before: kept, each verification with it ~30 times as costly; and an even modulus (no RSA modulus) was a key
    "rsa_exponent_of_2041_bits": (_keys(_jwk(e=_b64((1 << 2040) + 1))), "no_keys"),
    "rsa_modulus_even": (_keys(_jwk(n=_b64(KEY.private.public_key().public_numbers().n + 1))), "no_keys"),
}


class ProbeServer(FaultServer):
    """A FaultServer whose response is ``respond`` (any of :data:`PROBES`, or a good key set)."""

    def __init__(self) -> None:
        super().__init__()
        self.respond: Respond = _send(body=GOOD)

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            self._read_request(conn)
            self.respond(self, conn)
        except OSError:
            pass  # the client gave up (its deadline)
        finally:
            conn.close()


@pytest.fixture
def psrv() -> Iterator[ProbeServer]:
    s = ProbeServer()
    yield s
    s.close()


def _storm(v: jwtobs.Verifier, token: str, n: int = 50) -> tuple[Counter[str], float]:
    """``n`` threads verify ``token`` at once: the verdicts (an exception other than TokenRejected is counted by its
    type) and the longest call."""
    out: Counter[str] = Counter()
    worst = 0.0
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def call() -> None:
        nonlocal worst
        barrier.wait(10)
        start = time.monotonic()
        try:
            v.verify(token, now=NOW)
            r = "accepted"
        except TokenRejected as exc:
            r = exc.reason.value
        except BaseException as exc:  # what the test looks for
            r = type(exc).__name__
        with lock:
            out[r] += 1
            worst = max(worst, time.monotonic() - start)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    return out, worst


@pytest.mark.parametrize("state", ["cold", "expired"])
@pytest.mark.parametrize("probe", list(PROBES))
def test_a_misbehaving_endpoint_fails_closed_with_one_request(psrv: ProbeServer, probe: str, state: str) -> None:
    respond, error_type = PROBES[probe]
    clock = FakeClock()
    src = jwtobs.JwksSource(psrv.url, clock=clock, timeout=TIMEOUT, cooldown=30, proxies={})
    v = jwtobs.Verifier(PROFILE, keys=src)
    token = KEY.sign(claims())
    if state == "expired":
        v.verify(token, now=NOW)
        clock.advance(301)
        psrv.reset_count()
    psrv.respond = respond

    verdicts, worst = _storm(v, token)
    for _ in range(20):  # within the cooldown: no further request
        with pytest.raises(TokenRejected) if state == "cold" else _no_raise():
            v.verify(token, now=NOW)

    assert verdicts == {"JWT_JWKS_UNAVAILABLE" if state == "cold" else "accepted": 50}
    assert psrv.requests == 1
    assert (src.last_error, src.errors) == (error_type, {error_type: 1})
    assert worst < TIMEOUT + MARGIN, worst
    assert src.kids == (frozenset() if state == "cold" else {"k0"})


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        (("max-age=0",), 60.0),  # min_ttl
        (("max-age=999999999999999999999999",), 3600.0),  # max_ttl
        (("max-age=-100",), 300.0),  # not a max-age: default_ttl
        (("max-age=86400", "no-store"), 60.0),  # before: the second line was ignored (TTL 3600)
        (("public", "max-age=120"), 120.0),  # before: only the first line was read (default_ttl)
        (("max-age=3600", "Age: 3000"), 600.0),  # held 3000 s by a cache: 600 s left (before: 3600)
        (("max-age=3600", "Age: 3590"), 60.0),  # 10 s left: min_ttl
        (("max-age=3600", "Age: 9000"), 60.0),  # already stale in the cache: min_ttl
        (("max-age=3600", "Age: -5"), 3600.0),  # not delta-seconds: ignored
        (("max-age=3600", "Age: 100", "Age: 200"), 3600.0),  # two differing ages: ignored
        (("max-age=1800", "Age: 1\u00b2"), 1800.0),  # "1²" (str.isdigit, int() raises): ignored
    ],
)
def test_cache_control_lines_all_count_and_the_ttl_stays_within_bounds(
    psrv: ProbeServer, cache_control: tuple[str, ...], ttl: float
) -> None:
    lines = (c if c.startswith("Age:") else f"Cache-Control: {c}" for c in cache_control)
    psrv.respond = _send("200 OK", GOOD, "application/json", *lines)
    clock = FakeClock()
    src = jwtobs.JwksSource(psrv.url, clock=clock, timeout=TIMEOUT, min_ttl=60, max_ttl=3600, proxies={})
    v = jwtobs.Verifier(PROFILE, keys=src)
    verdicts, _ = _storm(v, KEY.sign(claims()))
    assert verdicts == {"accepted": 50} and psrv.requests == 1
    clock.advance(ttl - 0.5)
    v.verify(KEY.sign(claims()), now=NOW)
    assert psrv.requests == 1
    clock.advance(1)
    v.verify(KEY.sign(claims()), now=NOW)
    assert psrv.requests == 2


def test_rsa_exponents_up_to_256_bits_are_kept() -> None:
    """FIPS 186-5's bound: an exponent under 2^256 is a key (65537, 3, a random 256-bit one), a longer one not."""
    e_max = (1 << MAX_RSA_EXPONENT_BITS) - 1
    kept = [parse_jwks({"keys": [_jwk(kid=str(e), e=_b64(e))]})[0] for e in (3, 65537, e_max, e_max + 2)]
    assert [sorted(k) for k in kept] == [["3"], ["65537"], [str(e_max)], []]


#: RFC 3526's 4096-bit MODP group (a DH private key needs no parameter generation with it)
_MODP_4096 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B"
    "302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE6"
    "49286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7D"
    "B3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D788719A10BDBA5B26"
    "99C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA993B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199"
    "FFFFFFFFFFFFFFFF",
    16,
)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_secrets_in_a_fetched_key_set_cost_no_key_check(psrv: ProbeServer) -> None:
    """``oct`` members of a fetched key set are skipped unread: no HMAC verifier takes keys from a URL, and checking
    that a secret is no key material parses it as DER. Before, each ``k`` holding a DH-4096 private key (a 4000-bit
    exponent: loading it computes the public value) cost ~60 ms after the fetch's deadline: 40 of them held a cold
    ``verify`` ~2.5 s at ``timeout=0.3`` (247 fit in 512 KiB: 15 s), every other caller waiting for it timed out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dh

    from jwtobs import jwks

    x = (1 << 3999) | 12345
    params = dh.DHParameterNumbers(_MODP_4096, 2)
    private = dh.DHPrivateNumbers(x, dh.DHPublicNumbers(pow(2, x, _MODP_4096), params)).private_key()
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert jwks._key_material_kind(der) == "DER"  # (StaticKeys still refuses it as a secret)
    k = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
    psrv.respond = _keys(KEY.jwk(), *({"kty": "oct", "kid": f"o{i}", "k": k} for i in range(40)))
    src = jwtobs.JwksSource(psrv.url, clock=FakeClock(), timeout=TIMEOUT, proxies={})
    v = jwtobs.Verifier(PROFILE, keys=src)

    verdicts, worst = _storm(v, KEY.sign(claims()), n=10)

    assert verdicts == {"accepted": 10} and psrv.requests == 1
    assert worst < TIMEOUT + MARGIN, worst  # before: ~2.5 s, and the 9 others JWT_JWKS_UNAVAILABLE
    assert src.kids == {"k0"}
