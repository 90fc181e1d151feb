"""Known JWT attacks (jwt_tool style), built here with real keys, against each of the five libraries.

For every attack and library, an application validator written the way each library documents (allowlist,
issuer, audience) runs the forged token bare and wrapped:

- the wrapper never changes the outcome (same value, same exception class and message);
- the library-plus-wrapper rejects, classified with an attack-signal code (``Reason.X.attack_signal``), or
  with one of the codes listed in :data:`NOT_A_SIGNAL` for that attack (documented: the honest code there is
  not an attack signal in ``jwtobs/reasons.py``);
- where the library alone *accepts* (listed in :data:`LIBRARY_ACCEPTS`), the test says so, and the same token
  sent through :class:`jwtobs.Verifier` with that library as backend is rejected;
- every attack is also sent through the Verifier with each backend, which must reject it;
- nothing is fetched from a token-supplied URL (``jku``/``x5u`` point at a real server on 127.0.0.1 that must
  receive no request), and injected ``kid`` strings never become metric attribute values.

The table (attack -> library -> library alone, reason, Verifier reason) is written as JSON under the pytest
tmp folder (and ``$JWTOBS_ATTACK_REPORT`` when set) and printed; docs/libraries.md publishes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.exceptions import detail_of

from .conftest import AUD, ISS, JsonServer, LibKeys, Recorded, b64, claims, mint, sign_raw, unsigned

LIBRARIES: Final = ("pyjwt", "jose", "jwcrypto", "joserfc", "authlib")
BACKEND: Final = {
    "pyjwt": "pyjwt",
    "jose": "python-jose",
    "jwcrypto": "jwcrypto",
    "joserfc": "joserfc",
    "authlib": "authlib",
}
ATTACKER: Final = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_KID: Final = "attacker-1"
KID_INJECTIONS: Final = (
    "../../../../../../dev/null",
    "/dev/null",
    "' UNION SELECT 'secret' --",
    "x' OR '1'='1",
    "|cat /etc/passwd",
    "$(id)",
    "`id`",
    "kid\u0000null",
    "../../etc/passwd%00",
    "k" * 1000,
)


# ---------------------------------------------------------------------------------------------- the servers


class UrlTrap(JsonServer):
    """A real HTTP server on 127.0.0.1 serving the attacker's JWKS; counts every request it receives."""

    def __init__(self) -> None:
        pub = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER.public_key()))
        super().__init__({"keys": [{**pub, "kid": ATTACKER_KID, "alg": "RS256", "use": "sig"}]})


_TRAP: list[UrlTrap] = []


def trap() -> UrlTrap:
    if not _TRAP:
        _TRAP.append(UrlTrap())
    return _TRAP[0]


@pytest.fixture(scope="module", autouse=True)
def _trap_lifecycle() -> Iterator[None]:
    yield
    if _TRAP:
        _TRAP.pop().close()


# ---------------------------------------------------------------------------------------------- the forgeries


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 with any secret bytes, public keys included (what an attacker does; PyJWT would refuse)."""
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(payload))}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def der_public(keys: LibKeys) -> bytes:
    pub = keys.public("RS256")
    return bytes(pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def attacker_signed(headers: dict[str, Any], payload: dict[str, Any] | None = None) -> str:
    hdr = {"alg": "RS256", "typ": "JWT", **headers}
    return sign_raw("RS256", hdr, json.dumps(payload or claims()).encode(), ATTACKER)


def _attacker_jwk() -> dict[str, Any]:
    pub: dict[str, Any] = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER.public_key()))
    return {**pub, "kid": ATTACKER_KID}


def _jwe(keys: LibKeys) -> str:
    """A real JWE (RSA-OAEP + A256GCM) encrypted to the API's own RSA public key, where a JWS is expected."""
    from jwcrypto import jwe, jwk

    token = jwe.JWE(json.dumps(claims()).encode(), json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rsa-1"}))
    pub = {k: v for k, v in keys.public_jwk("RS256").items() if k not in ("use", "alg", "key_ops")}
    token.add_recipient(jwk.JWK(**pub))
    return str(token.serialize(compact=True))


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def attacker_signed_raw(header_json: str, payload_json: str) -> str:
    """Signed by the attacker over arbitrary JSON text (nesting Python's json cannot even produce)."""
    algo: Any = pyjwt.get_algorithm_by_name("RS256")
    signing_input = f"{b64(header_json)}.{b64(payload_json)}"
    return f"{signing_input}.{b64(algo.sign(signing_input.encode(), ATTACKER))}"


@dataclass(frozen=True)
class Attack:
    name: str
    app: str  # which application validator receives it: "rs", "hs", "es", "keyset", "rs_hs", "der"
    build: Callable[[LibKeys], str]


def _kid_attacks() -> list[Attack]:
    out = []
    for i, kid in enumerate(KID_INJECTIONS):
        # the /dev/null trick: an HS256 token signed with the empty content the path would yield
        out.append(
            Attack(
                f"kid_injection_{i}_hs_empty",
                "keyset",
                lambda k, kid=kid: hs256({"alg": "HS256", "kid": kid}, claims(), b""),
            )
        )
        out.append(Attack(f"kid_injection_{i}_rs_attacker", "keyset", lambda k, kid=kid: attacker_signed({"kid": kid})))
    return out


ATTACKS: Final[list[Attack]] = [
    *[Attack(f"alg_{s}", "rs", lambda k, s=s: unsigned(s)) for s in ("none", "None", "NONE", "nOnE")],
    Attack(
        "alg_none_with_kid",
        "keyset",
        lambda k: f"{b64(json.dumps({'alg': 'none', 'kid': 'rsa-1'}))}.{b64(json.dumps(claims()))}.",
    ),
    Attack("null_signature", "rs", lambda k: mint("RS256").rsplit(".", 1)[0] + "."),
    Attack(
        "rs256_to_hs256_public_pem",
        "rs",
        lambda k: hs256({"alg": "HS256", "kid": "rsa-1"}, claims(), k.public_pem("RS256")),
    ),
    Attack(
        "rs256_to_hs256_public_pem_lax_app",
        "rs_hs",
        lambda k: hs256({"alg": "HS256", "kid": "rsa-1"}, claims(), k.public_pem("RS256")),
    ),
    Attack("rs256_to_hs256_public_der_lax_app", "der", lambda k: hs256({"alg": "HS256"}, claims(), der_public(k))),
    Attack("blank_hmac_secret", "hs", lambda k: hs256({"alg": "HS256", "kid": "hmac-1"}, claims(), b"")),
    *_kid_attacks(),
    Attack("embedded_jwk", "rs", lambda k: attacker_signed({"kid": ATTACKER_KID, "jwk": _attacker_jwk()})),
    Attack("jku_elsewhere", "rs", lambda k: attacker_signed({"kid": ATTACKER_KID, "jku": trap().base + "/jwks.json"})),
    Attack("x5u_elsewhere", "rs", lambda k: attacker_signed({"kid": ATTACKER_KID, "x5u": trap().base + "/cert.pem"})),
    Attack(
        "jku_elsewhere_keyset", "keyset", lambda k: attacker_signed({"kid": "rsa-1", "jku": trap().base + "/jwks.json"})
    ),
    Attack(
        "psychic_es256_raw",
        "es",
        lambda k: f"{b64(json.dumps({'alg': 'ES256', 'kid': 'ec-1'}))}.{b64(json.dumps(claims()))}.{b64(bytes(64))}",
    ),
    Attack(
        "psychic_es256_der",
        "es",
        lambda k: f"{b64(json.dumps({'alg': 'ES256', 'kid': 'ec-1'}))}.{b64(json.dumps(claims()))}.MAYCAQACAQA",
    ),
    Attack("jwe_where_jws_expected", "rs", _jwe),
    Attack("token_1mb", "rs", lambda k: attacker_signed({"kid": "rsa-1"}, claims(pad="A" * 1_000_000))),
    Attack(
        "deep_json_header",
        "rs",
        lambda k: attacker_signed_raw('{"alg":"RS256","kid":"rsa-1","x":' + _deep(5000) + "}", json.dumps(claims())),
    ),
    Attack(
        "deep_json_payload",
        "rs",
        lambda k: attacker_signed_raw(
            '{"alg":"RS256","kid":"rsa-1"}', json.dumps(claims())[:-1] + ',"x":' + _deep(5000) + "}"
        ),
    ),
]
ATTACK_NAMES: Final = [a.name for a in ATTACKS]
_BY_NAME: Final = {a.name: a for a in ATTACKS}

#: attack -> codes that are the honest classification but not attack signals in jwtobs/reasons.py (and why)
NOT_A_SIGNAL: Final[dict[str, tuple[frozenset[Reason], str]]] = {
    "jwe_where_jws_expected": (
        frozenset({Reason.UNEXPECTED_FORM}),
        "JWT_UNEXPECTED_FORM (JWE where JWS expected) carries no attack flag in reasons.py",
    ),
    "deep_json_header": (
        frozenset({Reason.MALFORMED}),
        "a header nested deeper than the peek's limit is JWT_MALFORMED (header), not flagged",
    ),
    "deep_json_payload": (
        frozenset({Reason.MALFORMED}),
        "a library that parses the payload before verifying (Authlib) fails on it: JWT_MALFORMED (payload)",
    ),
    **{
        a.name: (
            frozenset({Reason.UNKNOWN_KID}),
            "a kid outside the trusted key set is JWT_UNKNOWN_KID (a rotation signal, not flagged as an attack)",
        )
        for a in ATTACKS
        if a.name.startswith("kid_injection")
    },
}
#: (attack, library) the library alone accepts when the application is configured as in that attack
LIBRARY_ACCEPTS: Final[dict[tuple[str, str], str]] = {
    ("rs256_to_hs256_public_der_lax_app", "jose"): "python-jose takes a DER public key as an HMAC secret",
    ("rs256_to_hs256_public_der_lax_app", "authlib"): "Authlib takes a DER public key as an HMAC secret",
}


# ------------------------------------------------------------------------------------------ the applications


def app(lib: str, kind: str, keys: LibKeys) -> Callable[[str], Any] | None:
    """The application validator of ``lib`` for an app of ``kind``; None when such an app cannot exist."""
    alg = {"rs": "RS256", "hs": "HS256", "es": "ES256", "keyset": "RS256", "rs_hs": "RS256", "der": "RS256"}[kind]
    algs = ["RS256", "HS256"] if kind in ("rs_hs", "der") else [alg]
    jwks = {"keys": [keys.public_jwk("RS256")]}
    pem = keys.public_pem(alg)
    key_material: Any = der_public(keys) if kind == "der" else pem
    if lib == "pyjwt":
        if kind == "keyset":
            kset = pyjwt.PyJWKSet.from_dict(jwks)

            def pyjwt_keyset(token: str) -> Any:
                kid = pyjwt.get_unverified_header(token).get("kid")
                found = [k for k in kset.keys if k.key_id == kid]
                if not found:
                    raise pyjwt.PyJWKClientError(f"Unable to find a signing key that matches: {kid!r}")
                return pyjwt.decode(token, found[0].key, algorithms=algs, audience=AUD, issuer=ISS)

            return pyjwt_keyset
        return lambda token: pyjwt.decode(token, key_material, algorithms=algs, audience=AUD, issuer=ISS)
    if lib == "jose":
        from jose import jwt as jose_jwt

        jkey: Any = jwks if kind == "keyset" else (key_material if alg == "HS256" or kind == "der" else pem.decode())
        return lambda token: jose_jwt.decode(token, jkey, algorithms=algs, audience=AUD, issuer=ISS)
    if lib == "jwcrypto":
        from jwcrypto import jwk
        from jwcrypto import jwt as cjwt

        if kind == "der":
            return None  # jwcrypto keys are JWK objects, never raw DER bytes
        ckey: Any = jwk.JWKSet.from_json(json.dumps(jwks)) if kind == "keyset" else jwk.JWK(**keys.public_jwk(alg))

        def jwcrypto_app(token: str) -> Any:
            return cjwt.JWT(jwt=token, key=ckey, algs=algs, check_claims={"iss": ISS, "aud": AUD, "exp": None})

        return jwcrypto_app
    if lib == "joserfc":
        from joserfc import jwk as fjwk
        from joserfc import jwt as fjwt

        fkey: Any = fjwk.KeySet.import_key_set(jwks) if kind == "keyset" else fjwk.import_key(keys.public_jwk(alg))
        if kind == "der":
            fkey = key_material  # joserfc takes raw key bytes too
        registry = fjwt.JWTClaimsRegistry(iss={"essential": True, "value": ISS}, aud={"essential": True, "value": AUD})

        def joserfc_app(token: str) -> Any:
            tok = fjwt.decode(token, fkey, algorithms=algs)
            registry.validate(tok.claims)
            return tok.claims

        return joserfc_app
    if lib == "authlib":
        from authlib.jose import JsonWebKey, JsonWebToken

        akey: Any = JsonWebKey.import_key_set(jwks) if kind == "keyset" else key_material
        options = {"iss": {"essential": True, "value": ISS}, "aud": {"essential": True, "value": AUD}}

        def authlib_app(token: str) -> Any:
            c = JsonWebToken(algs).decode(token, akey, claims_options=options)
            c.validate()
            return dict(c)

        return authlib_app
    raise AssertionError(lib)


def verifier(lib: str, kind: str, keys: LibKeys) -> jwtobs.Verifier:
    alg = {"hs": "HS256", "es": "ES256"}.get(kind, "RS256")
    profile = jwtobs.Profile(name="attacks", issuer=ISS, audience=AUD, algorithms=(alg,), token_type=None)
    kid = keys.kid(alg)
    return jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({kid: keys.public(alg)}), backend=BACKEND[lib])


def adapter_missing(lib: str) -> str | None:
    import importlib.util

    if importlib.util.find_spec(f"jwtobs.adapters.{lib}") is None:
        return f"jwtobs.adapters.{lib} does not exist yet"
    return None


# ------------------------------------------------------------------------------------------------- tests

_TABLE: dict[str, dict[str, dict[str, Any]]] = {}


def _outcome(fn: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, fn()
    except Exception as exc:  # compared by class and message
        return False, exc


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_attack(attack: str, lib: str, lib_keys: LibKeys, recorded: Recorded) -> None:
    missing = adapter_missing(lib)
    if missing:
        pytest.skip(missing)
    a = _BY_NAME[attack]
    bare = app(lib, a.app, lib_keys)
    if bare is None:
        pytest.skip(f"{lib} takes key objects only: no application passes it raw DER bytes")
    token = a.build(lib_keys)
    wrapped = jwtobs.wrap(bare, library=lib, profile="attacks")
    requests_before = trap().requests
    b_ok, b_val = _outcome(lambda: bare(token))
    w_ok, w_val = _outcome(lambda: wrapped(token))
    assert trap().requests == requests_before, "a library fetched a token-supplied URL"
    assert b_ok == w_ok
    row: dict[str, Any] = {"library_alone": "accepts" if b_ok else "rejects"}

    # the Verifier with this library as backend rejects every attack
    try:
        verifier(lib, a.app, lib_keys).verify(token)
    except TokenRejected as exc:
        row["verifier"] = exc.reason.value
        assert exc.reason.attack_signal or exc.reason in NOT_A_SIGNAL.get(attack, (frozenset(),))[0], exc.reason
    else:
        pytest.fail(f"the Verifier ({BACKEND[lib]}) accepted {attack}")
    assert trap().requests == requests_before

    if b_ok:
        assert (attack, lib) in LIBRARY_ACCEPTS, f"{lib} alone accepts {attack}"
        assert w_val == b_val
        row.update(reason=None, detail=None, note=LIBRARY_ACCEPTS[(attack, lib)])
    else:
        assert (attack, lib) not in LIBRARY_ACCEPTS, f"{lib} now rejects {attack}: update LIBRARY_ACCEPTS and docs"
        assert type(w_val) is type(b_val) and str(w_val) == str(b_val)
        reason = jwtobs.reason_of(w_val)
        assert reason is not None and reason is not Reason.VALIDATOR_ERROR, (type(w_val), str(w_val)[:200])
        allowed = NOT_A_SIGNAL.get(attack, (frozenset(),))[0]
        assert reason.attack_signal or reason in allowed, (reason, detail_of(w_val), type(w_val).__name__)
        row.update(reason=reason.value, detail=detail_of(w_val), signal=reason.attack_signal)
    _TABLE.setdefault(attack, {})[lib] = row

    if attack.startswith("kid_injection"):  # attacker kids never become metric attribute values
        data = recorded.reader.get_metrics_data()
        text = data.to_json() if data is not None else ""
        kid = json.loads(json.dumps(pyjwt.get_unverified_header(token)))["kid"]
        assert json.dumps(kid)[1:-1] not in text


def test_no_url_was_fetched() -> None:
    assert trap().requests == 0


def test_report(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Writes and prints the attack table (runs after the attack tests in file order)."""
    if not _TABLE:
        pytest.skip("no attack ran")
    out = tmp_path_factory.mktemp("attacks") / "attack_report.json"
    out.write_text(json.dumps(_TABLE, indent=2))
    extra = os.environ.get("JWTOBS_ATTACK_REPORT")
    if extra:
        Path(extra).write_text(json.dumps(_TABLE, indent=2))
    print(f"\nattack report: {out}")
    for attack, libs in _TABLE.items():
        cells = [f"{lib}={row['reason'] or 'ACCEPTED'}" for lib, row in libs.items()]
        print(f"{attack:40} {' '.join(cells)}")
    accepted = {
        (a, lib) for a, libs in _TABLE.items() for lib, row in libs.items() if row["library_alone"] == "accepts"
    }
    assert accepted <= set(LIBRARY_ACCEPTS)
