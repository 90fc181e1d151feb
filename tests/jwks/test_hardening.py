"""Issue #14 items 1, 2, 5, 7, 9 and #17's JwksSource items, one test each (the fault matrix is in
test_fault_matrix.py): any exception is a failed fetch, header caps, JSON content type, parsed loopback,
telemetry failures counted and logged once, header copies, VerifierSet with odd issuers and on asyncio,
jwks.py without a JOSE library."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

import jwtobs
from jwtobs import Reason, TokenRejected, config, jwks
from jwtobs.events import ValidationEvent
from jwtobs.header import peek
from jwtobs.integrations import BearerAuth, Principal
from jwtobs.integrations.fastapi import jwt_auth
from tests.jwks.faults import ERROR_TYPE, ConnectProxy, FaultServer
from tests.jwks.server import AUD, ISS, NOW, FakeClock, JwksServer, RsaKey, claims

PROFILE = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)


def verdict(v: Any, token: str) -> str:
    try:
        v.verify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return "accepted"


# -- item 7: loopback is the parsed host ------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://localhost.attacker.example/jwks",
        "http://127.0.0.1.nip.io/",
        "http://localhost@evil.example/",
        "http://user:pw@127.0.0.1/jwks",
        "http://127.0.0.1:99999/jwks",
        "http://10.0.0.1/jwks",
        "http://[::ffff:8.8.8.8]/jwks",
        "ftp://127.0.0.1/jwks",
        "https://user@idp.example/jwks",
        "https:///jwks",
    ],
)
def test_plain_http_only_to_a_parsed_loopback_host(url: str) -> None:
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.JwksSource(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://LOCALHOST:1/x",
        "http://[::1]:9/x",
        "http://127.9.9.9/",
    ],
)
def test_loopback_urls_accepted(url: str) -> None:
    jwtobs.JwksSource(url)


# -- item 1: content type, header caps, any exception ------------------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/jwk-set+json", True),
        ("Application/JSON; charset=utf-8", True),
        ("text/html", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_content_type_must_be_json(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], content_type: str | None, ok: bool
) -> None:
    server.publish(rsa_keys[0])
    server.content_type = content_type
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={})
    assert src.refresh() is ok
    assert src.last_error == (None if ok else "content_type")


def test_header_count_capped_below_the_stdlib_limit(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    server.publish(rsa_keys[0])
    server.headers = {f"X-Filler-{i}": "x" for i in range(70)}  # http.client allows 100
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={})
    assert not src.refresh()
    assert src.last_error == "too_many_headers"


class Exploding(jwtobs.JwksSource):
    """A source whose download raises what no one anticipated (a bug, a library change...)."""

    explode = False

    def _download(self) -> tuple[bytes, int | None]:
        if self.explode:
            raise RuntimeError("surprise")
        return super()._download()


def test_any_exception_is_a_failed_fetch(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any], caplog: Any
) -> None:
    server.publish(rsa_keys[0])
    src = Exploding(server.url, clock=clock, proxies={}, cooldown=30)
    v = jwtobs.Verifier(PROFILE, keys=src)
    token = rsa_keys[0].sign(claims())
    assert verdict(v, token) == "accepted"
    src.explode = True
    clock.advance(301)
    with caplog.at_level(logging.WARNING, logger="jwtobs.jwks"):
        for _ in range(20):
            assert verdict(v, token) == "accepted"  # last-known-good
    logged = [r.getMessage() for r in caplog.records if "JWKS fetch" in r.getMessage()]
    assert len(logged) == 1 and "RuntimeError" in logged[0] and "surprise" not in logged[0]
    assert (src.fetch_count, src.failure_count, src.last_error) == (2, 1, "internal")  # cooldown applied
    clock.advance(31)
    assert verdict(v, token) == "accepted"
    assert src.fetch_count == 3
    cold = Exploding(server.url, clock=clock, proxies={})
    cold.explode = True
    for _ in range(5):
        assert verdict(jwtobs.Verifier(PROFILE, keys=cold), token) == "JWT_JWKS_UNAVAILABLE"  # 503, not 401
    assert cold.fetch_count == 1


def test_failing_telemetry_is_counted_and_logged_once(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={}, cooldown=30)
    good = config.current

    def broken() -> Any:
        raise PermissionError("read-only events path")

    monkeypatch.setattr(config, "current", broken)
    with caplog.at_level(logging.WARNING, logger="jwtobs.jwks"):
        assert src.get("k0").kid == "k0"
        for i in range(3):  # unknown kids: suppressed-refresh telemetry fails too
            with pytest.raises(TokenRejected):
                src.get(f"x{i}")
    monkeypatch.setattr(config, "current", good)
    assert src.telemetry_failures >= 3
    warnings = [r for r in caplog.records if "JWKS telemetry" in r.getMessage()]
    assert len(warnings) == 1
    assert "PermissionError" in warnings[0].getMessage()


# -- item 9: peeked headers are copies ---------------------------------------------------------------------
def test_peeked_header_is_a_copy(rsa_keys: list[RsaKey], events: list[Any]) -> None:
    v = jwtobs.Verifier(PROFILE, keys=jwtobs.StaticKeys({"keys": [rsa_keys[0].jwk()]}))
    token = rsa_keys[0].sign(claims(), ext={"nested": [1]})
    verified = v.verify(token, now=NOW)
    verified.header["kid"] = "changed"  # type: ignore[index]
    verified.header["ext"]["nested"].append(2)  # type: ignore[index]
    p = peek(token)
    assert p.header is not None and p.header["kid"] == "k0" and p.header["ext"] == {"nested": [1]}
    p.header["alg"] = "none"
    assert peek(token).alg == "RS256" and peek(token).header["alg"] == "RS256"  # type: ignore[index]
    assert v.verify(token, now=NOW).kid == "k0"


# -- item 5: VerifierSet ------------------------------------------------------------------------------------
@pytest.mark.parametrize("iss", [["https://idp.example"], {"a": 1}, 7, True])
def test_verifier_set_non_string_iss_is_claim_invalid_with_event(
    rsa_keys: list[RsaKey], events: list[Any], iss: Any
) -> None:
    keys = jwtobs.StaticKeys({"keys": [rsa_keys[0].jwk()]})
    vs = jwtobs.VerifierSet([jwtobs.Verifier(PROFILE, keys=keys)])
    token = rsa_keys[0].sign(claims(iss=iss))
    with pytest.raises(TokenRejected) as ei:
        vs.verify(token, now=NOW)
    assert (ei.value.reason, ei.value.detail) == (Reason.CLAIM_INVALID, "iss")
    with pytest.raises(TokenRejected) as ei:
        asyncio.run(vs.averify(token, now=NOW))
    assert ei.value.reason is Reason.CLAIM_INVALID
    jwtobs.flush()
    got = [e for e in events if isinstance(e, ValidationEvent)]
    assert [e.reason for e in got] == ["JWT_CLAIM_INVALID"] * 2


def test_verifier_set_averify_keeps_fastapi_responsive(
    server: JwksServer, rsa_keys: list[RsaKey], events: list[Any]
) -> None:
    """/health answers while a protected request waits for a slow JWKS endpoint (it took 1.71 s before)."""
    server.publish(rsa_keys[0])
    server.delay = 1.0
    other = jwtobs.Profile(name="other", issuer="https://other.example", audience=AUD)
    vs = jwtobs.VerifierSet(
        [
            jwtobs.Verifier(PROFILE, keys=jwtobs.AsyncJwksSource(server.url, proxies={}, timeout=3)),
            jwtobs.Verifier(other, keys=jwtobs.StaticKeys({"keys": [rsa_keys[1].jwk()]})),
        ]
    )
    dep = jwt_auth(BearerAuth(vs.verify))
    app = FastAPI()

    @app.get("/items")
    async def items(p: Principal = Depends(dep)) -> dict[str, str]:  # noqa: B008
        return {"sub": p.subject or ""}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    token = rsa_keys[0].sign(claims(exp=int(time.time()) + 600, iat=int(time.time())))

    async def main() -> tuple[int, int, float, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:

            async def timed(path: str, **kw: Any) -> tuple[int, float]:
                t0 = time.monotonic()
                r = await c.get(path, **kw)
                return r.status_code, time.monotonic() - t0

            start = time.monotonic()
            protected = asyncio.create_task(timed("/items", headers={"Authorization": f"Bearer {token}"}))
            await asyncio.sleep(0.1)  # the JWKS fetch is in flight (a blocked loop wakes up only after it)
            health = await timed("/health")
            health_done = time.monotonic() - start  # from the moment both requests were wanted
            prot = await protected
            return prot[0], health[0], prot[1], health_done

    prot_status, health_status, prot_s, health_s = asyncio.run(main())
    assert (prot_status, health_status) == (200, 200)
    assert prot_s >= 0.9  # it did wait for the endpoint
    assert health_s < 0.5  # ... on a worker thread, not on the event loop


# -- #17: jwks.py without any JOSE library ------------------------------------------------------------------
def test_jwks_imports_without_jose_libraries() -> None:
    code = """
import sys
for name in ("jwt", "jose", "jwcrypto", "authlib", "joserfc"):
    sys.modules[name] = None  # import fails, as when the package is not installed
import jwtobs.jwks, jwtobs.verifier
from jwtobs.jwks import parse_jwks
by_kid, _ = parse_jwks(KEYS)
assert list(by_kid) == ["k0"], by_kid
assert jwtobs.jwks.StaticKeys({"s": b"q" * 40}).kids == {"s"}
loaded = [m for m in sys.modules if m.split(".")[0] in ("jwt", "jose", "jwcrypto", "authlib", "joserfc")]
assert all(sys.modules[m] is None for m in loaded), loaded
print("ok")
"""
    keys = json.dumps({"keys": [RsaKey("k0").jwk()]})
    out = subprocess.run(
        [sys.executable, "-c", code.replace("KEYS", keys)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


# -- #17: one base exception ---------------------------------------------------------------------------------
def test_one_base_exception_and_the_old_bases_kept() -> None:
    from rest_framework.exceptions import APIException
    from starlette.authentication import AuthenticationError

    from jwtobs.analysis.prometheus import PrometheusError
    from jwtobs.integrations.common import AuthDenied
    from jwtobs.integrations.drf import JwtDenied
    from jwtobs.integrations.starlette import DeniedError
    from jwtobs.redact.scan import ScanProblem

    for cls, old_base in [
        (TokenRejected, Exception),
        (jwtobs.ConfigurationError, ValueError),
        (AuthDenied, Exception),
        (DeniedError, AuthenticationError),
        (JwtDenied, APIException),
        (ScanProblem, Exception),
        (PrometheusError, RuntimeError),
    ]:
        assert issubclass(cls, jwtobs.JwtobsError), cls
        assert issubclass(cls, old_base), cls
    with pytest.raises(jwtobs.JwtobsError):
        jwtobs.Profile(name="", issuer=ISS, audience=AUD)


# -- the deadline over TLS and through chunk-size lines -------------------------------------------------------
@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only it): a self-signed certificate for 127.0.0.1."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwks test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "cert.pem", d / "key.pem")
    return server, ssl.create_default_context(cafile=str(d / "cert.pem"))


@pytest.mark.parametrize("fault", ["ok", "header_drip", "chunk_drip", "body_drip", "garbled_status", "slow_accept"])
def test_https_fetch_under_one_deadline(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext], fault: str) -> None:
    server_ctx, client_ctx = tls_pair
    srv = FaultServer(tls=server_ctx)
    try:
        key = RsaKey("k0")
        srv.publish({"keys": [key.jwk()]})
        srv.mode = fault
        src = jwtobs.JwksSource(srv.url, clock=FakeClock(), timeout=0.3, proxies={}, ssl_context=client_ctx)
        t0 = time.monotonic()
        ok = src.refresh()
        took = time.monotonic() - t0
        assert ok is (fault == "ok"), src.last_error
        assert src.last_error == (None if fault == "ok" else ERROR_TYPE.get(fault, "timeout"))
        assert took <= 0.3 + 0.25
        assert srv.requests == 1
    finally:
        srv.close()


def test_https_certificate_checked(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    srv = FaultServer(tls=tls_pair[0])
    try:
        srv.publish({"keys": [RsaKey("k0").jwk()]})
        src = jwtobs.JwksSource(srv.url, clock=FakeClock(), timeout=1, proxies={})  # system trust store
        assert not src.refresh()
        assert src.last_error == "tls"
    finally:
        srv.close()


def test_chunk_size_drip_bounded_over_http(clock: FakeClock) -> None:
    srv = FaultServer()
    try:
        srv.publish({"keys": [RsaKey("k0").jwk()]})
        srv.mode = "chunk_drip"
        src = jwtobs.JwksSource(srv.url, clock=clock, timeout=0.3, proxies={})
        t0 = time.monotonic()
        assert not src.refresh()
        assert time.monotonic() - t0 <= 0.3 + 0.25
        assert src.last_error == "timeout"
    finally:
        srv.close()


@pytest.mark.parametrize("drip", [False, True])
def test_https_through_a_connect_proxy(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch, drip: bool
) -> None:
    """``proxies=`` (and HTTPS_PROXY) keep working: CONNECT tunnel, TLS inside, the deadline over all of it."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    srv, proxy = FaultServer(tls=tls_pair[0]), ConnectProxy(drip=drip)
    try:
        srv.publish({"keys": [RsaKey("k0").jwk()]})
        src = jwtobs.JwksSource(
            srv.url, clock=FakeClock(), timeout=0.3, proxies={"https": proxy.url}, ssl_context=tls_pair[1]
        )
        t0 = time.monotonic()
        ok = src.refresh()
        assert time.monotonic() - t0 <= 0.3 + 0.25
        assert proxy.connects == [f"127.0.0.1:{srv.port}"]
        assert ok is not drip
        assert src.last_error == ("timeout" if drip else None)
        assert src.kids == (frozenset() if drip else {"k0"})
    finally:
        proxy.close()
        srv.close()


def test_verifier_set_unsigned_token_with_list_iss(rsa_keys: list[RsaKey], events: list[Any]) -> None:
    """The issue's case: an unsigned token with ``"iss": [...]`` raised TypeError (no event). Now it is a
    rejection with an event; the cheaper check decides the reason (unsigned, before any claim is read)."""
    import base64

    def b64(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims(iss=[ISS, 'https://other']))}."
    vs = jwtobs.VerifierSet([jwtobs.Verifier(PROFILE, keys=jwtobs.StaticKeys({"keys": [rsa_keys[0].jwk()]}))])
    for call in (lambda: vs.verify(token, now=NOW), lambda: asyncio.run(vs.averify(token, now=NOW))):
        with pytest.raises(TokenRejected) as ei:
            call()
        assert ei.value.reason is Reason.UNSIGNED
    jwtobs.flush()
    assert [e.reason for e in events if isinstance(e, ValidationEvent)] == ["JWT_UNSIGNED"] * 2


# -- session 9: key sets a probe served from 127.0.0.1 that the fault matrix did not have ---------------------
def _ec_jwks(n: int) -> list[dict[str, Any]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    out = []
    for i in range(n):
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
        jwk["kid"] = f"ec-{i}"
        out.append(jwk)
    return out


def test_a_token_signed_with_the_last_of_400_keys_verifies(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any], caplog: Any
) -> None:
    """A key set of 399 EC keys, then the key that signed the token: every key up to jwks.MAX_KEYS is kept for
    verification (only the first 100 were, and the token was JWT_UNKNOWN_KID with no error anywhere); the metric
    guard trusts only the set's first TRUSTED_KIDS_PER_SET kids."""
    from jwtobs import jwks

    server.keys = [*_ec_jwks(399), rsa_keys[0].jwk()]
    v = jwtobs.Verifier(PROFILE, keys=jwtobs.JwksSource(server.url, clock=clock, proxies={}))
    assert verdict(v, rsa_keys[0].sign(claims())) == "accepted"
    guard = config.current().guard
    assert "ec-0" in guard.known_kids and f"ec-{jwks.TRUSTED_KIDS_PER_SET}" not in guard.known_kids
    server.keys = [*_ec_jwks(jwks.MAX_KEYS), rsa_keys[1].jwk()]  # past the bound: said, not silent
    with caplog.at_level(logging.WARNING, logger="jwtobs.jwks"):
        jwks.parse_jwks({"keys": server.keys})
    assert any("only the first 1000" in r.getMessage() for r in caplog.records)


def test_private_keys_posing_as_hmac_secrets_cost_no_key_check(clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    """``oct`` members whose ``k`` is an RSA-4096 private key in DER are refused as HMAC secrets (a key is no
    secret) without checking the key's primes: ~0.3 s each, which a key set within ``max_bytes`` multiplied
    outside the fetch's deadline (160 of them: a cold ``get`` took 48 s at ``timeout=1``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    der = rsa.generate_private_key(65537, 4096).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert jwks._key_material_kind(der) == "DER"
    k = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
    body = json.dumps({"keys": [rsa_keys[0].jwk()] + [{"kty": "oct", "kid": f"o{i}", "k": k} for i in range(20)]})
    server = JwksServer()
    try:
        server.body = body.encode()
        src = jwtobs.JwksSource(server.url, clock=clock, proxies={}, timeout=1.0)
        t0 = time.monotonic()
        assert src.get(rsa_keys[0].kid).kid == rsa_keys[0].kid
        assert time.monotonic() - t0 < 2.5  # the deadline (1 s) and slack; 20 checked keys took ~6 s
        assert src.kids == {rsa_keys[0].kid}
    finally:
        server.close()


@pytest.mark.parametrize("kty", [["RSA"], {"a": 1}, 1, None])
def test_a_jwk_with_a_member_of_the_wrong_type_is_skipped_not_the_whole_set(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any], kty: Any
) -> None:
    """``"kty": ["RSA"]`` raised TypeError (unhashable) in the set lookup: the whole fetch failed as internal and,
    cold, every valid token became JWT_JWKS_UNAVAILABLE. It is one unusable key, skipped like the others."""
    server.keys = [{"kty": kty, "kid": "weird", "n": "AQAB", "e": "AQAB"}, rsa_keys[0].jwk()]
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={})
    assert verdict(jwtobs.Verifier(PROFILE, keys=src), rsa_keys[0].sign(claims())) == "accepted"
    assert src.last_error is None


def test_key_set_kids_trusted_as_metric_values_are_bounded_over_time() -> None:
    """A key set whose kids change on every fetch (a misbehaving IdP) adds at most telemetry.MAX_TRUSTED_KIDS
    trusted kids over the process's life; after that a new kid is UNKNOWN until learned from an accepted token."""
    from jwtobs.telemetry import MAX_TRUSTED_KIDS, UNKNOWN, CardinalityGuard

    guard = CardinalityGuard()
    for fetch in range(3 * MAX_TRUSTED_KIDS // 100):
        guard.trust_kids([f"kid-{fetch}-{i}" for i in range(100)])
    assert len(guard.known_kids) == MAX_TRUSTED_KIDS
    assert guard.kid("kid-29-99") == UNKNOWN
    guard.learn(None, "kid-29-99")
    assert guard.kid("kid-29-99") == "kid-29-99"


def test_informational_responses_before_the_key_set_are_skipped(clock: FakeClock, events: list[Any]) -> None:
    """A CDN sends ``103 Early Hints`` (then ``102``) before the 200: the stdlib skips only ``100 Continue``, so
    every fetch failed as ``http_1xx`` and a cold cache answered 503 to every valid token. Skipped now, with their
    headers; an endless stream of them is a failed fetch (``bad_response``) within the deadline."""
    srv = FaultServer()
    key = RsaKey("k0")
    try:
        srv.publish({"keys": [key.jwk()]})
        srv.mode = "early_hints"
        src = jwtobs.JwksSource(srv.url, clock=clock, timeout=1.0, proxies={})
        assert verdict(jwtobs.Verifier(PROFILE, keys=src), key.sign(claims())) == "accepted"
        assert src.last_error is None
        srv.mode = "hints_flood"
        flood = jwtobs.JwksSource(srv.url, clock=clock, timeout=1.0, proxies={})
        t0 = time.monotonic()
        assert not flood.refresh()
        assert time.monotonic() - t0 <= 1.25
        assert flood.last_error == "bad_response"
    finally:
        srv.close()
