"""BearerAuth without a framework: RFC 6750 parsing edge cases, responses, principal, one event per call."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.integrations import AuthDenied, BearerAuth, RouteRule, principal_from, tenant_from_header
from tests.integrations.harness import AUD, ISS, Keys, Stack


def _wrapped(keys: Keys, raise_as: Any = "jwtobs") -> Any:
    public = keys.good.private.public_key()

    def validate(token: str) -> dict[str, Any]:
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)  # type: ignore[no-any-return]

    return jwtobs.wrap(validate, library="pyjwt", raise_as=raise_as)


def _events(stack: Stack) -> list[ValidationEvent]:
    return [e for e in stack.events if isinstance(e, ValidationEvent)]


def _denied(auth: BearerAuth, headers: list[str], query: list[str] | None = None, **kw: Any) -> AuthDenied:
    with pytest.raises(AuthDenied) as info:
        auth.authenticate(headers, query or [], **kw)
    return info.value


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer {t}", True),
        ("bearer {t}", True),  # the scheme is case-insensitive (RFC 7235)
        ("BEARER   {t}  ", True),
        ("Bearer {t},Bearer {t}", False),  # a server joined two headers
        ("Bearer {t} extra", False),
        ("Bearer {t}\u00e9", False),
        # ("Bearer " + "a" * 70000) was here: since session 35 one credential over the size limit is 401
        # JWT_OVERSIZED (tests/integrations/test_probe_s35.py), no longer 400 JWT_AMBIGUOUS
        ("Bearer\t{t}", False),  # RFC 7235: one or more SP; a tab is malformed (before: another scheme, 401)
        # "Bearer" glued to a character no scheme holds (session 21; before: another scheme, 401 JWT_MISSING): an
        # obs-fold that Django's runserver (wsgiref) passes on as it came, a vertical tab, a no-break space
        ("Bearer\r\n {t}", False),
        ("Bearer\x0b{t}", False),
        ("Bearer\u00a0{t}", False),
        ("Bearer, Basic dXNlcjpwYXNz", False),  # an empty bearer header joined with another scheme's
    ],
)
def test_header_forms(header: str, ok: bool, keys: Keys, stack: Stack) -> None:
    auth = BearerAuth(_wrapped(keys), redact=False)
    value = header.format(t=keys.token())
    if ok:
        assert auth.authenticate([value]).subject == "user-123"
    else:
        d = _denied(auth, [value]).denial
        assert (d.status, d.error, d.reason) == (400, "invalid_request", jwtobs.Reason.AMBIGUOUS)
    assert len(_events(stack)) == 1


@pytest.mark.parametrize(
    "joined",
    [
        ", Bearer {t}",  # an empty Authorization header, then the bearer one
        ",Bearer {t}",
        "Basic dXNlcjpwYXNz, Bearer {t}",  # another scheme's header, then the bearer one
        'Digest username="u", realm="r", Bearer {t}',
    ],
)
def test_joined_headers_with_a_bearer_credential_are_two_credentials(joined: str, keys: Keys, stack: Stack) -> None:
    """Werkzeug and Django's server join repeated headers with ","; uvicorn keeps them apart. A bearer credential
    joined after an empty header or another scheme's is two credentials (400) on every server (before session 20:
    401 JWT_MISSING on the joining servers, 400 on the others: the matrix said 400)."""
    auth = BearerAuth(_wrapped(keys), redact=False)
    d = _denied(auth, [joined.format(t=keys.token())]).denial
    assert (d.status, d.error, d.reason, d.detail) == (400, "invalid_request", jwtobs.Reason.AMBIGUOUS, "headers")
    # another scheme alone, with commas of its own (Digest), is still no bearer credential
    digest = _denied(auth, ['Digest username="bearer x", realm="r"']).denial
    assert (digest.status, digest.reason) == (401, jwtobs.Reason.MISSING)
    assert len(_events(stack)) == 2


def test_query_allowed_only_when_enabled(keys: Keys, stack: Stack) -> None:
    token = keys.token()
    assert BearerAuth(_wrapped(keys), allow_query=True, redact=False).authenticate([], [token]).subject == "user-123"
    d = _denied(BearerAuth(_wrapped(keys), allow_query=True, redact=False), [], [token, token]).denial
    assert d.status == 400
    assert [e.reason for e in _events(stack)] == [None, "JWT_AMBIGUOUS"]


def test_native_exceptions_and_unobserved_authenticators(keys: Keys, stack: Stack) -> None:
    now_expired = keys.token(iat=1, exp=2)
    d = _denied(BearerAuth(_wrapped(keys, "native"), redact=False), [f"Bearer {now_expired}"]).denial
    assert (d.status, d.reason) == (401, jwtobs.Reason.EXPIRED)

    def raw(token: str) -> Any:  # not observed by jwtobs: the integration records the event, fail closed
        raise ValueError("no")

    d = _denied(BearerAuth(raw, redact=False), [f"Bearer {keys.token()}"]).denial
    assert (d.status, d.error, d.reason) == (401, "invalid_token", jwtobs.Reason.VALIDATOR_ERROR)
    assert [e.reason for e in _events(stack)] == ["JWT_EXPIRED", "JWT_VALIDATOR_ERROR"]

    def no_claims(token: str) -> Any:
        return object()

    d = _denied(BearerAuth(no_claims, redact=False), [f"Bearer {keys.token()}"]).denial
    assert d.status == 401


def test_configuration_errors(keys: Keys) -> None:
    auth = BearerAuth(_wrapped(keys), redact=False)
    with pytest.raises(jwtobs.ConfigurationError):
        auth.rule(tenant=tenant_from_header())  # the wrapped validator takes no tenant=
    with pytest.raises(jwtobs.ConfigurationError):
        RouteRule.of(['bad"scope'])
    with pytest.raises(jwtobs.ConfigurationError):
        BearerAuth(_wrapped(keys), realm='a"b')
    with pytest.raises(jwtobs.ConfigurationError):
        BearerAuth("not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [["acme", "globex"], ["acme,globex"], ["ac\nme"], ["x" * 200], []])
def test_tenant_header_values(values: list[str], keys: Keys, stack: Stack) -> None:
    def validate(token: str, *, tenant: str | None = None) -> dict[str, Any]:
        raise AssertionError("never reached")

    auth = BearerAuth(validate, redact=False)
    rule = auth.rule(tenant=tenant_from_header("X-Tenant"))
    with pytest.raises(AuthDenied) as info:
        auth.tenant_of(rule, {}, lambda name: values)
    assert info.value.denial.status in (400, 401)
    assert len(_events(stack)) == 1


def test_every_refusal_has_its_event_and_no_refusal_has_two(keys: Keys, stack: Stack) -> None:
    """The events say what the response says: a refusal the authenticator decided on its own (a TokenRejected of
    its own code, after a Verifier accepted or without one) and a result without claims each get a rejected event;
    a refusal jwtobs already recorded (Verifier, wrap with raise_as="jwtobs" or native) gets no second one.
    Before: 401 JWT_REVOKED with only an accepted event, 401 with no event, 401 JWT_VALIDATOR_ERROR with only an
    accepted event."""
    verifier = jwtobs.Verifier(
        jwtobs.Profile(name="items", issuer=ISS, audience=AUD, token_type=None),
        keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()}),
    )

    def revoking(token: str) -> Any:
        verified = verifier.verify(token)
        if verified.claims.get("jti") == "revoked":
            raise jwtobs.TokenRejected(jwtobs.Reason.REVOKED, "jti")
        return verified

    def own(token: str) -> Any:
        raise jwtobs.TokenRejected(jwtobs.Reason.REVOKED, "jti")

    public = keys.good.private.public_key()
    no_claims = jwtobs.wrap(lambda t: jwt.PyJWS().decode(t, public, algorithms=["RS256"]), library="pyjwt")
    cases = [
        (revoking, keys.token(jti="revoked"), "JWT_REVOKED", [("accepted", None), ("rejected", "JWT_REVOKED")]),
        (own, keys.token(), "JWT_REVOKED", [("rejected", "JWT_REVOKED")]),
        (no_claims, keys.token(), "JWT_VALIDATOR_ERROR", [("accepted", None), ("rejected", "JWT_VALIDATOR_ERROR")]),
        (verifier.verify, keys.token(exp=1), "JWT_EXPIRED", [("rejected", "JWT_EXPIRED")]),
        (_wrapped(keys), keys.token(exp=1), "JWT_EXPIRED", [("rejected", "JWT_EXPIRED")]),
        (_wrapped(keys, "native"), keys.token(exp=1), "JWT_EXPIRED", [("rejected", "JWT_EXPIRED")]),
    ]
    for authenticator, token, reason, want in cases:
        stack.events.clear()
        denied = _denied(BearerAuth(authenticator), [f"Bearer {token}"])
        assert denied.denial.status == 401 and denied.denial.reason is not None
        assert denied.denial.reason.value == reason
        jwtobs.flush()
        assert [(e.outcome, e.reason) for e in _events(stack)] == want, authenticator


def test_principal() -> None:
    p = principal_from(
        {"sub": "svc", "client_id": "svc", "scp": ["a", "b"], "roles": ["admin"], "org": "acme"}, tenant_claim="org"
    )
    assert (p.subject, p.subject_kind, p.tenant) == ("svc", "client", "acme")
    assert p.authorities == ("SCOPE_a", "SCOPE_b", "ROLE_admin")
    assert principal_from({"scope": "x y"}).subject_kind == "none"
    # the token's client is pipeline.client_of's: azp, else client_id, cid (Okta), appid (Microsoft v1)
    assert principal_from({"sub": "svc", "cid": "svc"}).subject_kind == "client"
    assert principal_from({"sub": "svc", "appid": "svc"}).subject_kind == "client"
    assert principal_from({"sub": "svc", "azp": "web", "client_id": "svc"}).subject_kind == "user"
    assert principal_from({"payload": {"sub": "u"}, "header": {}, "signature": b""}).subject == "u"


@pytest.mark.parametrize("raise_as", ["jwtobs", "native"])
def test_claims_named_header_and_payload_are_claims(raise_as: Any, keys: Keys, stack: Stack) -> None:
    """A signed token whose claims include ``header`` and ``payload`` (a webhook's, an issuer passing
    application data through) is not ``jwt.decode_complete``'s result: before session 20 the principal was read
    from the ``payload`` claim, so a token with scope ``items:read`` passed a route requiring ``admin`` as the
    subject the claim named (a refusal turned into an acceptance). decode_complete's own result (its signature
    is bytes, which no JSON claim is) is still read from its payload."""
    auth = BearerAuth(_wrapped(keys, raise_as), redact=False)
    smuggled = {"sub": "root", "scope": "admin", "tid": "globex"}
    for extra in ({"header": {"typ": "x"}, "payload": smuggled}, {"header": 1, "payload": smuggled, "signature": "x"}):
        token = keys.token(**extra)
        denied = _denied(auth, [f"Bearer {token}"], rule=RouteRule.of("admin")).denial
        assert (denied.status, denied.error) == (403, "insufficient_scope")
        principal = auth.authenticate([f"Bearer {token}"])
        assert (principal.subject, principal.scopes) == ("user-123", frozenset({"items:read"}))
        assert principal.claims["payload"] == smuggled
    public = keys.good.private.public_key()
    complete = jwtobs.wrap(
        lambda t: jwt.decode_complete(t, public, algorithms=["RS256"], audience=AUD), library="pyjwt"
    )
    assert BearerAuth(complete, redact=False).authenticate([f"Bearer {keys.token()}"]).subject == "user-123"


@pytest.mark.parametrize("defer", [True, False])
def test_denial_log_carries_the_token_fingerprint_deferred_or_not(
    defer: bool, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """Events are built off the request thread by default: the denial log line still names the token's
    fingerprint (the join key between a log line and the rejection's event), computed on the request thread;
    for a rejection jwtobs observed (bad signature) and one it records itself (an unobserved validator error)."""
    good = keys.token()
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")

    def broken(token: str) -> dict[str, Any]:
        raise RuntimeError("validator bug")

    with jwtobs.config.override(fingerprint_key=b"k" * 32, defer=defer) as state:
        fps = {t: state.fingerprinter.token(t) for t in (good, forged)}
        with caplog.at_level("INFO", logger="jwtobs"):
            _denied(BearerAuth(_wrapped(keys), redact=False), ["Bearer " + forged])
            _denied(BearerAuth(broken, redact=False), ["Bearer " + good])
        jwtobs.flush()
    lines = [r.getMessage() for r in caplog.records if "reason=" in r.getMessage()]
    (bad,) = [line for line in lines if "reason=JWT_BAD_SIGNATURE" in line]
    (err,) = [line for line in lines if "reason=JWT_VALIDATOR_ERROR" in line]
    assert f"token_fp={fps[forged]}" in bad
    assert f"token_fp={fps[good]}" in err
