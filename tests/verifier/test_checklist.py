"""The production checklist, one test per check: real RSA/EC/HMAC keys, real tokens, a real JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.events import ValidationEvent
from jwtobs.jwks import Key, KeySource
from tests.jwks.server import FakeClock, JwksServer, RsaKey

ISS = "https://idp.example/tenant-a"
AUD = "billing-api"
NOW = 1_800_000_000


def claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "iss": ISS,
        "sub": "user-1",
        "aud": AUD,
        "exp": NOW + 600,
        "iat": NOW - 10,
        "tenant_id": "acme",
        "jti": "j1",
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def profile(**over: Any) -> jwtobs.Profile:
    kw: dict[str, Any] = dict(
        name="billing-api",
        issuer=ISS,
        audience=AUD,
        algorithms=("RS256",),
        token_type="at+jwt",
        required_claims=("iss", "sub", "aud", "exp"),
        leeway=30,
        max_age=None,
        max_token_bytes=8192,
        forbidden_headers=("jku", "x5u", "x5c", "jwk"),
        tenant_claim="tenant_id",
    )
    kw.update(over)
    return jwtobs.Profile(**kw)


@pytest.fixture
def events() -> list[ValidationEvent]:
    out: list[ValidationEvent] = []
    jwtobs.configure(sinks=[out.append], fingerprint_key=b"k" * 32, from_env=False)
    return out


@pytest.fixture
def env(server: JwksServer, rsa_keys: list[RsaKey], clock: FakeClock, events: list[ValidationEvent]) -> Any:
    server.publish(rsa_keys[0], rsa_keys[1])
    source = jwtobs.JwksSource(server.url, clock=clock, proxies={})
    verifier = jwtobs.Verifier(profile(), keys=source, backend="pyjwt")
    return verifier, rsa_keys[0], server, events


def reject(verifier: jwtobs.Verifier, token: object, reason: Reason, events: list[Any], **kw: Any) -> TokenRejected:
    n = len([e for e in events if isinstance(e, ValidationEvent)])
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, now=kw.pop("now", NOW), **kw)
    assert info.value.reason == reason, info.value
    vs = [e for e in events if isinstance(e, ValidationEvent)]
    assert len(vs) == n + 1 and vs[-1].outcome == "rejected" and vs[-1].reason == reason.value
    return info.value


def b64(obj: Any) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_accepts_a_good_token_with_one_event(env: Any) -> None:
    verifier, key, _, events = env
    v = verifier.verify(key.sign(claims()), tenant="acme", now=NOW)
    assert v.claims["sub"] == "user-1" and v.kid == "k0" and v.alg == "RS256" and v.tenant == "acme"
    assert [e.outcome for e in events if isinstance(e, ValidationEvent)] == ["accepted"]
    assert events[-1].profile == "billing-api" and events[-1].library == "pyjwt"


def test_size_limit(env: Any) -> None:
    verifier, key, server, events = env
    big = key.sign(claims(pad="x" * 9000))
    reject(verifier, big, Reason.OVERSIZED, events)
    assert server.requests == 0  # rejected before any key lookup


@pytest.mark.parametrize("token", [None, "", b""])
def test_missing(env: Any, token: object) -> None:
    verifier, _, _, events = env
    reject(verifier, token, Reason.MISSING, events)


@pytest.mark.parametrize("token", [12, ["a"], "abc", "a.b", "a.b.c", "\u00e9.x.y"])
def test_malformed(env: Any, token: object) -> None:
    verifier, _, _, events = env
    reject(verifier, token, Reason.MALFORMED, events)


def test_jwe_is_unexpected_form(env: Any) -> None:
    verifier, _, _, events = env
    jwe = ".".join([b64({"alg": "RSA-OAEP", "enc": "A256GCM"}), "a", "b", "c", "d"])
    reject(verifier, jwe, Reason.UNEXPECTED_FORM, events)


def test_json_serialization_is_unexpected_form(env: Any) -> None:
    verifier, _, _, events = env
    reject(verifier, json.dumps({"payload": "x", "signatures": []}), Reason.UNEXPECTED_FORM, events)


@pytest.mark.parametrize("name", ["jku", "x5u", "x5c", "jwk"])
def test_forbidden_headers_never_fetched(env: Any, name: str) -> None:
    verifier, key, server, events = env
    value: Any = server.url + "?attacker" if name in ("jku", "x5u") else (["AAAA"] if name == "x5c" else key.jwk())
    token = key.sign(claims(), **{name: value})
    before = server.requests
    reject(verifier, token, Reason.FORBIDDEN_HEADER, events)
    assert server.requests == before


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_any_case_is_unsigned(env: Any, alg: str) -> None:
    verifier, _, _, events = env
    token = f"{b64({'alg': alg, 'typ': 'at+jwt', 'kid': 'k0'})}.{b64(claims())}."
    reject(verifier, token, Reason.UNSIGNED, events)


def test_empty_signature_is_unsigned(env: Any) -> None:
    verifier, key, _, events = env
    token = key.sign(claims()).rsplit(".", 1)[0] + "."
    reject(verifier, token, Reason.UNSIGNED, events)


def test_alg_not_in_allowlist(env: Any) -> None:
    verifier, _, _, events = env
    token = jwt.encode(claims(), "s" * 32, algorithm="HS256", headers={"kid": "k0", "typ": "at+jwt"})
    reject(verifier, token, Reason.ALG_NOT_ALLOWED, events)


def test_alg_missing(env: Any) -> None:
    verifier, _, _, events = env
    token = f"{b64({'typ': 'at+jwt', 'kid': 'k0'})}.{b64(claims())}.{b64(b'sig')}"
    reject(verifier, token, Reason.ALG_NOT_ALLOWED, events)


def test_hmac_with_public_key_as_secret_is_refused(server: JwksServer, rsa_keys: list[RsaKey], events: Any) -> None:
    # algorithm confusion: a key set entry of kty RSA cannot verify HS256 even if the profile allowed it
    from cryptography.hazmat.primitives import serialization

    pem = (
        rsa_keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    keys = jwtobs.StaticKeys({"k0": rsa_keys[0].private.public_key()})
    # refused at configuration: an HMAC profile never gets an asymmetric key
    with pytest.raises(jwtobs.ConfigurationError, match="asymmetric key is never an HMAC secret"):
        jwtobs.Verifier(profile(algorithms=("HS256",)), keys=keys)
    # ... and the PEM itself is refused as a secret (whatever the backend would do with it)
    with pytest.raises(jwtobs.ConfigurationError, match="PEM key material"):
        jwtobs.StaticKeys({"k0": pem})

    class Custom(KeySource):  # a key source jwtobs cannot inspect at configuration: checked per token
        def get(self, kid: str | None) -> Key:
            return keys.get(kid)

    v = jwtobs.Verifier(profile(algorithms=("HS256",)), keys=Custom())
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'k0'})}.{b64(claims())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()  # the classic confusion forgery
    token = f"{signing_input}.{b64(mac)}"
    reject(v, token, Reason.ALG_NOT_ALLOWED, events)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_accepted_spellings(env: Any, typ: str) -> None:
    verifier, key, _, _ = env
    verifier.verify(key.sign(claims(), typ=typ), now=NOW)


@pytest.mark.parametrize("typ", ["JWT", "id+jwt", "application/jwt", None])
def test_typ_mismatch(env: Any, typ: str | None) -> None:
    verifier, key, _, events = env
    token = key.sign(claims(), typ=typ) if typ else jwt.encode(claims(), key.private, "RS256", headers={"kid": "k0"})
    if typ is None:
        # PyJWT adds typ=JWT by default; drop it explicitly
        token = jwt.encode(claims(), key.private, "RS256", headers={"kid": "k0", "typ": None})
    reject(verifier, token, Reason.TYPE_MISMATCH, events)


def test_unknown_kid(env: Any) -> None:
    verifier, _, _, events = env
    other = RsaKey("not-published")
    reject(verifier, other.sign(claims()), Reason.UNKNOWN_KID, events)


def test_jwks_unavailable_with_no_keys(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: Any
) -> None:
    server.status = 500
    v = jwtobs.Verifier(profile(), keys=jwtobs.JwksSource(server.url, clock=clock, proxies={}))
    exc = reject(v, rsa_keys[0].sign(claims()), Reason.JWKS_UNAVAILABLE, events)
    assert exc.http_status == 503


def test_bad_signature(env: Any) -> None:
    verifier, _, _, events = env
    forged = RsaKey("k0")  # same kid, different key
    reject(verifier, forged.sign(claims()), Reason.BAD_SIGNATURE, events)


def test_tampered_payload(env: Any) -> None:
    verifier, key, _, events = env
    h, _, s = key.sign(claims()).split(".")
    reject(verifier, f"{h}.{b64(claims(sub='admin'))}.{s}", Reason.BAD_SIGNATURE, events)


def test_key_type_must_match_alg(server: JwksServer, events: Any) -> None:
    eck = ec.generate_private_key(ec.SECP256R1())
    keys = jwtobs.StaticKeys({"k0": eck.public_key()})
    v = jwtobs.Verifier(profile(algorithms=("RS256", "ES256")), keys=keys)
    reject(v, RsaKey("k0").sign(claims()), Reason.ALG_NOT_ALLOWED, events)


def test_ec_and_hmac_backends_accept(events: Any) -> None:
    eck = ec.generate_private_key(ec.SECP256R1())
    v = jwtobs.Verifier(profile(algorithms=("ES256",)), keys=jwtobs.StaticKeys({"e1": eck}))
    v.verify(jwt.encode(claims(), eck, "ES256", headers={"kid": "e1", "typ": "at+jwt"}), now=NOW)
    secret = b"s" * 32
    h = jwtobs.Verifier(profile(algorithms=("HS256",)), keys=jwtobs.StaticKeys({"h1": secret}))
    h.verify(jwt.encode(claims(), secret, "HS256", headers={"kid": "h1", "typ": "at+jwt"}), now=NOW)


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"iss": "https://idp.example/tenant-a/"}, Reason.ISSUER_MISMATCH),
        ({"iss": "https://IDP.example/tenant-a"}, Reason.ISSUER_MISMATCH),
        ({"iss": None}, Reason.MISSING_CLAIM),
        ({"iss": 5}, Reason.CLAIM_INVALID),
        ({"aud": "other-api"}, Reason.AUDIENCE_MISMATCH),
        ({"aud": ["other-api", "x"]}, Reason.AUDIENCE_MISMATCH),
        ({"aud": None}, Reason.MISSING_CLAIM),
        ({"aud": [1]}, Reason.CLAIM_INVALID),
        ({"exp": None}, Reason.MISSING_CLAIM),
        ({"exp": "soon"}, Reason.CLAIM_INVALID),
        ({"exp": NOW - 31}, Reason.EXPIRED),
        ({"nbf": NOW + 31}, Reason.NOT_YET_VALID),
        ({"iat": NOW + 31}, Reason.NOT_YET_VALID),
        ({"nbf": NOW + 700}, Reason.CLAIM_INVALID),  # nbf > exp
        ({"sub": None}, Reason.MISSING_CLAIM),
        ({"tenant_id": "globex"}, Reason.TENANT_MISMATCH),
        ({"tenant_id": None}, Reason.TENANT_MISMATCH),
    ],
)
def test_claims(env: Any, over: dict[str, Any], reason: Reason) -> None:
    verifier, key, _, events = env
    reject(verifier, key.sign(claims(**over)), reason, events, tenant="acme")


def test_leeway_is_applied_and_bounded(env: Any) -> None:
    verifier, key, _, _ = env
    verifier.verify(key.sign(claims(exp=NOW - 29)), now=NOW)
    verifier.verify(key.sign(claims(nbf=NOW + 29, iat=NOW + 29)), now=NOW)
    with pytest.raises(jwtobs.ConfigurationError):
        profile(leeway=3600)


def test_aud_list_containing_this_api(env: Any) -> None:
    verifier, key, _, _ = env
    verifier.verify(key.sign(claims(aud=["other", AUD])), now=NOW)


def test_max_age(server: JwksServer, rsa_keys: list[RsaKey], events: Any) -> None:
    v = jwtobs.Verifier(profile(max_age=300), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    reject(v, rsa_keys[0].sign(claims(iat=NOW - 400)), Reason.EXPIRED, events)
    reject(v, rsa_keys[0].sign(claims(iat=None)), Reason.MISSING_CLAIM, events)
    v.verify(rsa_keys[0].sign(claims(iat=NOW - 100)), now=NOW)


def test_issuer_tenant_binding(rsa_keys: list[RsaKey], events: Any) -> None:
    v = jwtobs.Verifier(profile(issuer_tenant="acme"), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    reject(v, rsa_keys[0].sign(claims(tenant_id="globex")), Reason.TENANT_MISMATCH, events, tenant="globex")
    assert v.verify(rsa_keys[0].sign(claims()), now=NOW).tenant == "acme"


def test_prohibited_claims(rsa_keys: list[RsaKey], events: Any) -> None:
    v = jwtobs.Verifier(profile(prohibited_claims=("nonce",)), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    reject(v, rsa_keys[0].sign(claims(nonce="n")), Reason.PROHIBITED_CLAIM, events)


def test_crit_header(env: Any) -> None:
    verifier, key, _, events = env
    reject(verifier, key.sign(claims(), crit=["exp"]), Reason.CRIT_UNSUPPORTED, events)


def test_kid_of_wrong_type(env: Any) -> None:
    verifier, _, _, events = env
    token = f"{b64({'alg': 'RS256', 'typ': 'at+jwt', 'kid': 7})}.{b64(claims())}.{b64(b'x')}"
    reject(verifier, token, Reason.HEADER_INVALID, events)


def test_profile_refuses_none_and_mixing() -> None:
    for algs in (("none",), ("RS256", "HS256"), ()):
        with pytest.raises(jwtobs.ConfigurationError):
            profile(algorithms=algs)


def test_id_token_at_an_api_is_never_accepted(env: Any) -> None:
    verifier, key, _, events = env
    id_token = jwt.encode(claims(aud="web-client", nonce="n"), key.private, "RS256", headers={"kid": "k0"})
    reject(verifier, id_token, Reason.TYPE_MISMATCH, events)
    lax = jwtobs.Verifier(profile(token_type=None), keys=verifier.keys)
    reject(lax, id_token, Reason.AUDIENCE_MISMATCH, events)


def test_clock_defaults_to_wall_time(rsa_keys: list[RsaKey], events: Any) -> None:
    v = jwtobs.Verifier(profile(), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    t = int(time.time())
    v.verify(rsa_keys[0].sign(claims(exp=t + 60, iat=t)))
    reject(v, rsa_keys[0].sign(claims()), Reason.EXPIRED, events, now=NOW + 10_000)


def test_verifier_set_selects_from_configuration(rsa_keys: list[RsaKey], events: Any) -> None:
    a = jwtobs.Verifier(profile(), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    b = jwtobs.Verifier(
        profile(name="b", issuer="https://other.example"), keys=jwtobs.StaticKeys({"k1": rsa_keys[1].private})
    )
    vs = jwtobs.VerifierSet([a, b])
    vs.verify(rsa_keys[0].sign(claims()), now=NOW)
    vs.verify(rsa_keys[1].sign(claims(iss="https://other.example")), now=NOW)
    # a token claiming issuer b but signed with a's key: b's source does not hold k0
    with pytest.raises(TokenRejected) as info:
        vs.verify(rsa_keys[0].sign(claims(iss="https://other.example")), now=NOW)
    assert info.value.reason == Reason.UNKNOWN_KID
    with pytest.raises(TokenRejected) as info:
        vs.verify(rsa_keys[0].sign(claims(iss="https://evil.example")), now=NOW)
    assert info.value.reason == Reason.ISSUER_MISMATCH


def test_subject_kind_and_client(rsa_keys: list[RsaKey], events: Any) -> None:
    keys = jwtobs.StaticKeys({"k0": rsa_keys[0].private})
    v = jwtobs.Verifier(profile(subject_pattern=r"user-[0-9]+", allowed_clients=("web",)), keys=keys)
    v.verify(rsa_keys[0].sign(claims(azp="web")), now=NOW)
    reject(v, rsa_keys[0].sign(claims(sub="svc-reports", azp="web")), Reason.CLAIM_MISMATCH, events)
    reject(v, rsa_keys[0].sign(claims(azp="mobile")), Reason.CLAIM_MISMATCH, events)
    reject(v, rsa_keys[0].sign(claims()), Reason.CLAIM_MISMATCH, events)
    with pytest.raises(jwtobs.ConfigurationError):
        profile(subject_pattern="(")


@pytest.mark.parametrize(
    ("client", "shown"),
    [
        ({"client_id": "web"}, "web"),  # RFC 9068 (Cognito, Ping)
        ({"cid": "web"}, "web"),  # Okta
        ({"appid": "web"}, "web"),  # Microsoft identity platform v1
        ({"azp": "web", "client_id": "other"}, "web"),
        ({"azp": "", "client_id": "web"}, "web"),  # an empty azp names no client
        ({"azp": "mobile", "cid": "web"}, "mobile"),  # azp first
        ({"cid": ["web"]}, "<list>"),
        ({"appid": None}, None),
    ],
)
def test_allowed_clients_read_the_client_the_event_shows(
    rsa_keys: list[RsaKey], events: Any, client: dict[str, Any], shown: str | None
) -> None:
    """One rule for the token's client (pipeline.client_of), for every common issuer's claim: the allowlist
    accepts exactly the tokens whose event shows an allowed client."""
    v = jwtobs.Verifier(profile(allowed_clients=("web",)), keys=jwtobs.StaticKeys({"k0": rsa_keys[0].private}))
    token = rsa_keys[0].sign(claims(**client))
    if shown == "web":
        v.verify(token, now=NOW)
    else:
        reject(v, token, Reason.CLAIM_MISMATCH, events)
    jwtobs.flush()
    assert [e for e in events if isinstance(e, ValidationEvent)][-1].client_id == shown
