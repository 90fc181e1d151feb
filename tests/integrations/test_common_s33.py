"""BearerAuth and the Verifier on what session 33's integration probe found (real keys, real tokens, no framework:
the framework files have tests of their own).

- An application's own ``TokenRejected(reason, detail)`` (the documented revocation check) had its detail written
  verbatim: a sentence with the subject's e-mail address and the raw token in the event, the span and the log line.
- A route binding the request tenant on a Verifier whose profile has no ``tenant_claim`` bound nothing: a token of
  tenant ``acme`` was accepted on ``/tenants/globex`` and the principal's tenant said ``globex``.
- An authenticator that takes ``tenant=`` and returns a token of another tenant was believed.
- A principal verified earlier in the request and refused by a later tenant-bound check left only an ``accepted``
  event (``BearerAuth.reused`` records the refusal).
- The events BearerAuth records itself (no credential, two) of a VerifierSet or a wrapped validator were labelled
  ``library="unknown"``."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.integrations import AuthDenied, BearerAuth, tenant_from_path
from jwtobs.sanitize import OTHER_DETAIL, detail_label
from tests.integrations.harness import AUD, ISS, Keys, Stack


def _verifier(keys: Keys, **profile: Any) -> jwtobs.Verifier:
    return jwtobs.Verifier(
        jwtobs.Profile(name="items", issuer=ISS, audience=AUD, **profile),
        keys=jwtobs.StaticKeys({keys.good.kid: keys.good.private.public_key()}),
    )


def _events(stack: Stack) -> list[ValidationEvent]:
    jwtobs.flush()
    return [e for e in stack.events if isinstance(e, ValidationEvent)]


def _denied(auth: BearerAuth, token: str, **kw: Any) -> AuthDenied:
    with pytest.raises(AuthDenied) as info:
        auth.authenticate([f"Bearer {token}"], **kw)
    return info.value


@pytest.mark.parametrize(
    ("detail", "written"),
    [
        ("subject alice@example.com revoked; token {t}", OTHER_DETAIL),
        ("{t}", OTHER_DETAIL),
        ("alice@example.com", OTHER_DETAIL),
        ("x" * 65, OTHER_DETAIL),
        ("revoked_subject", "revoked_subject"),
        ("jti", "jti"),
        (None, None),
    ],
)
def test_an_applications_own_detail_is_written_only_as_a_vocabulary_word(
    detail: str | None, written: str | None, keys: Keys, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = _verifier(keys)
    token = keys.token()

    def authenticate(t: str) -> jwtobs.VerifiedToken:
        verifier.verify(t)
        raise jwtobs.TokenRejected(jwtobs.Reason.REVOKED, None if detail is None else detail.format(t=t))

    auth = BearerAuth(authenticate, redact=False)
    with caplog.at_level(logging.INFO, logger="jwtobs"):
        denial = _denied(auth, token).denial
    assert (denial.status, denial.reason, denial.detail) == (401, jwtobs.Reason.REVOKED, written)
    revoked = [e for e in _events(stack) if e.reason == "JWT_REVOKED"]
    assert [e.detail for e in revoked] == [written]
    spans = [s for s in stack.spans() if s.attributes and s.attributes.get("jwtobs.reason") == "JWT_REVOKED"]
    assert all(s.attributes is not None and s.attributes.get("jwtobs.detail") == written for s in spans)
    text = caplog.text + repr([e.to_dict() for e in _events(stack)]) + repr([dict(s.attributes or {}) for s in spans])
    assert token not in text and "alice@example.com" not in text


def test_detail_label_keeps_every_detail_jwtobs_writes() -> None:
    for word in ("exp", "aud", "alg_none", "http_503", "x5t#S256", "no_kid", "ZeroDivisionError", "segments"):
        assert detail_label(word) == word
    for bad in ("", " exp", "a b", "a/b", "é", "a@b", "x" * 65, 7, b"exp"):
        assert detail_label(bad) == OTHER_DETAIL


def test_a_profile_without_a_tenant_claim_refuses_a_request_tenant(keys: Keys, stack: Stack) -> None:
    token = keys.token(tid="acme")
    with pytest.raises(jwtobs.TokenRejected) as info:
        _verifier(keys).verify(token, tenant="globex")
    assert (info.value.reason, info.value.detail) == (jwtobs.Reason.TENANT_MISMATCH, "unbound")
    assert _verifier(keys).verify(token).tenant is None  # no request tenant: nothing to bind
    single = _verifier(keys, issuer_tenant="acme")  # an issuer serving one tenant binds to it
    assert single.verify(token, tenant="acme").tenant == "acme"
    with pytest.raises(jwtobs.TokenRejected) as info:
        single.verify(token, tenant="globex")
    assert info.value.reason is jwtobs.Reason.TENANT_MISMATCH
    bound = _verifier(keys, tenant_claim="tid")
    assert bound.verify(token, tenant="acme").tenant == "acme"


@pytest.mark.parametrize("as_set", [False, True])
def test_binding_a_route_on_a_verifier_that_cannot_bind_is_a_configuration_error(
    as_set: bool, keys: Keys, stack: Stack
) -> None:
    verifier = _verifier(keys)
    fn = jwtobs.VerifierSet([verifier]).verify if as_set else verifier.verify
    for auth in (BearerAuth(fn, redact=False), BearerAuth(fn, tenant_claim="tid", redact=False)):
        with pytest.raises(jwtobs.ConfigurationError, match="tenant_claim"):
            auth.rule(tenant=tenant_from_path("tenant"))
        assert auth.rule(scopes=["items:read"]).tenant is None  # no binding: fine
    bound = _verifier(keys, tenant_claim="tid")
    fn = jwtobs.VerifierSet([bound]).verify if as_set else bound.verify
    auth = BearerAuth(fn, redact=False)
    rule = auth.rule(tenant=tenant_from_path("tenant"))
    assert auth.authenticate([f"Bearer {keys.token(tid='acme')}"], rule=rule, tenant="acme").tenant == "acme"
    assert _denied(auth, keys.token(tid="acme"), rule=rule, tenant="globex").denial.status == 401


def test_an_authenticator_that_ignores_tenant_is_not_believed(keys: Keys, stack: Stack) -> None:
    verifier = _verifier(keys)

    def authenticate(token: str, *, tenant: str | None = None) -> jwtobs.VerifiedToken:
        return verifier.verify(token)  # takes tenant= and binds nothing

    auth = BearerAuth(authenticate, tenant_claim="tid", redact=False)
    rule = auth.rule(tenant=tenant_from_path("tenant"))
    assert auth.authenticate([f"Bearer {keys.token(tid='acme')}"], rule=rule, tenant="acme").tenant == "acme"
    stack.events.clear()
    d = _denied(auth, keys.token(tid="acme"), rule=rule, tenant="globex").denial
    assert (d.status, d.reason, d.detail) == (401, jwtobs.Reason.TENANT_MISMATCH, "request")
    assert [(e.outcome, e.reason) for e in _events(stack)] == [("accepted", None), ("rejected", "JWT_TENANT_MISMATCH")]
    stack.events.clear()
    d = _denied(auth, keys.token(tid=None), rule=rule, tenant="globex").denial  # a token naming no tenant
    assert (d.reason, d.detail) == (jwtobs.Reason.TENANT_MISMATCH, "missing")
    # without a tenant claim named the authenticator's binding is trusted, as documented
    plain = BearerAuth(authenticate, redact=False)
    assert plain.authenticate([f"Bearer {keys.token(tid=None)}"], rule=rule, tenant="globex").subject == "user-123"


def test_a_reused_principal_refused_for_another_tenant_is_recorded(keys: Keys, stack: Stack) -> None:
    auth = BearerAuth(_verifier(keys, tenant_claim="tid").verify, redact=False)
    principal = auth.authenticate([f"Bearer {keys.token(tid='acme')}"])
    rule = auth.rule(tenant=tenant_from_path("tenant"))
    assert auth.reused(principal, rule, "acme") is principal
    stack.events.clear()
    with pytest.raises(AuthDenied) as info:
        auth.reused(principal, rule, "globex")
    assert (info.value.denial.status, info.value.denial.reason) == (401, jwtobs.Reason.TENANT_MISMATCH)
    assert [(e.outcome, e.reason, e.tenant) for e in _events(stack)] == [("rejected", "JWT_TENANT_MISMATCH", "globex")]
    with pytest.raises(AuthDenied) as info:
        auth.reused(principal, auth.rule(scopes=["items:admin"]), None)
    assert info.value.denial.status == 403


def test_events_recorded_here_carry_the_validators_labels(keys: Keys, stack: Stack) -> None:
    import jwt

    verifier = _verifier(keys)
    public = keys.good.private.public_key()

    def validate(token: str) -> dict[str, Any]:
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)  # type: ignore[no-any-return]

    for fn, labels in (
        (verifier.verify, ("pyjwt", "items")),
        (jwtobs.VerifierSet([verifier]).verify, ("pyjwt", "items")),
        (jwtobs.wrap(validate, library="jose", profile="gateway", raise_as="jwtobs"), ("jose", "gateway")),
    ):
        stack.events.clear()
        auth = BearerAuth(fn, redact=False)
        with pytest.raises(AuthDenied):
            auth.authenticate([])
        assert [(e.reason, e.library, e.profile) for e in _events(stack)] == [("JWT_MISSING", *labels)]


@pytest.mark.parametrize("char", ["\u00a0", "\u0085", "\x1c", "\x0b", "\u2003", "\u3000"])
def test_a_space_http_does_not_know_around_the_token_is_no_whitespace(char: str, keys: Keys, stack: Stack) -> None:
    """HTTP's whitespace is SP and HTAB (RFC 9110 §5.6.3); before session 33 any Unicode space after the token or
    before the scheme was stripped and the token accepted (real uvicorn: 200)."""
    auth = BearerAuth(_verifier(keys).verify, redact=False)
    token = keys.token()
    d = _denied(auth, token + char).denial
    assert (d.status, d.reason) == (400, jwtobs.Reason.AMBIGUOUS)
    with pytest.raises(AuthDenied) as info:
        auth.authenticate([f"{char}Bearer {token}"])
    assert info.value.denial.status in (400, 401)
    assert auth.authenticate([f" \tBearer {token} \t"]).subject == "user-123"  # SP and HTAB stay blanks


def test_joined_headers_are_read_a_bounded_number_of_parts(keys: Keys, stack: Stack) -> None:
    auth = BearerAuth(_verifier(keys).verify, redact=False)
    token = keys.token()
    assert _denied(auth, "," * 65536).denial.reason is jwtobs.Reason.AMBIGUOUS  # ("Bearer ,,,,": two credentials)
    with pytest.raises(AuthDenied) as info:
        auth.authenticate(["," * 65536])
    assert info.value.denial.reason is jwtobs.Reason.MISSING
    with pytest.raises(AuthDenied) as info:
        auth.authenticate(["Basic dXNlcjpwYXNz, Bearer " + token])
    assert info.value.denial.reason is jwtobs.Reason.AMBIGUOUS
    with pytest.raises(AuthDenied) as info:  # a bearer part past the ones read: never a credential accepted
        auth.authenticate(["Basic dXNlcjpwYXNz" + ", x" * 64 + ", Bearer " + token])
    assert info.value.denial.reason in (jwtobs.Reason.MISSING, jwtobs.Reason.AMBIGUOUS)


@pytest.mark.parametrize("form", ["object", "jwk_without_kid", "list_of_one"])
def test_one_key_without_a_kid_verifies_tokens_that_name_one(form: str, keys: Keys, stack: Stack) -> None:
    """Before session 33 every token carrying a kid was JWT_UNKNOWN_KID on such a source (an IdP stamps kids)."""
    from jwt.algorithms import RSAAlgorithm

    public = keys.good.private.public_key()
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    given: Any = {"object": public, "jwk_without_kid": jwk, "list_of_one": [public]}[form]
    verifier = jwtobs.Verifier(jwtobs.Profile(name="items", issuer=ISS, audience=AUD), keys=jwtobs.StaticKeys(given))
    assert verifier.verify(keys.token()).subject == "user-123"  # (the token names kid "k1")
    with pytest.raises(jwtobs.TokenRejected) as info:
        verifier.verify(keys.impostor.sign(keys.claims()))  # the signature still decides
    assert info.value.reason is jwtobs.Reason.BAD_SIGNATURE
    two = jwtobs.Verifier(
        jwtobs.Profile(name="items", issuer=ISS, audience=AUD),
        keys=jwtobs.StaticKeys([public, keys.impostor.private.public_key()]),
    )
    with pytest.raises(jwtobs.TokenRejected) as info:  # two keys without kids: no kid selects one
        two.verify(keys.token())
    assert info.value.reason is jwtobs.Reason.UNKNOWN_KID
