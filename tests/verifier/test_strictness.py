"""Session 13: what the Verifier decides itself, the same on every backend (real keys, real tokens).

- non-canonical base64url (``=`` padding, non-zero unused bits) in any segment → JWT_MALFORMED (the segment);
- an ECDSA signature that is not exactly R || S of its curve's size → JWT_BAD_SIGNATURE;
- NumericDates compared exactly (fractions are not truncated);
- ``sub``/``jti`` non-empty strings when present, ``iat``/``nbf``/``exp`` never ``null`` → JWT_CLAIM_INVALID;
- whitespace around the token → JWT_MALFORMED (``whitespace``), ``typ`` compared without stripping;
- a DER key written as base64/base64url/hex text is never an HMAC secret (ConfigurationError).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import jwtobs
from jwtobs import Reason, TokenRejected, backends, verifier
from jwtobs.backends import BACKENDS
from jwtobs.backends import jose as jose_backend
from jwtobs.events import ValidationEvent
from jwtobs.header import _is_b64url, b64url_decode, peek

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

ISS = "https://idp.example/t"
AUD = "billing-api"
NOW = 1_800_000_000
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC384_KEY = ec.generate_private_key(ec.SECP384R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
SECRET = os.urandom(32)
KEYS: dict[str, Any] = {"rsa": RSA_KEY, "ec": EC_KEY, "ed": ED_KEY, "hs": SECRET}
ALGS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA", "hs": "HS256"}
B64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    """Claims of a good token; ``over`` values are kept as given (``None`` is a JSON ``null``)."""
    return {"iss": ISS, "sub": "u", "aud": AUD, "exp": NOW + 600, "iat": NOW - 5} | over


def _sign(kind: str, signing_input: str, key: Any = None) -> bytes:
    algo = jwt.get_algorithm_by_name(ALGS[kind])
    return bytes(algo.sign(signing_input.encode(), algo.prepare_key(key if key is not None else KEYS[kind])))


def _segments(kind: str, claims: dict[str, Any] | None = None, **hdr: Any) -> tuple[str, str]:
    header = {"alg": ALGS[kind], "typ": "at+jwt", "kid": kind} | hdr
    return _b64(json.dumps(header).encode()), _b64(json.dumps(claims or _claims()).encode())


def _token(kind: str, claims: dict[str, Any] | None = None, **hdr: Any) -> str:
    h, p = _segments(kind, claims, **hdr)
    return f"{h}.{p}.{_b64(_sign(kind, f'{h}.{p}'))}"


def _verifier(kind: str, backend: str, **over: Any) -> jwtobs.Verifier:
    kw: dict[str, Any] = dict(name="billing-api", issuer=ISS, audience=AUD, algorithms=(ALGS[kind],))
    profile = jwtobs.Profile(**(kw | over))
    return jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({kind: KEYS[kind]}), backend=backend)


def _verdicts(kind: str, token: object, now: float = NOW, **over: Any) -> dict[str, tuple[str, str | None] | None]:
    """Every backend's verdict: ``None`` (accepted) or (reason, detail)."""
    out: dict[str, tuple[str, str | None] | None] = {}
    for backend in sorted(BACKENDS):
        if ALGS[kind] not in backends.get(backend).ALGORITHMS:
            continue  # (python-jose has no EdDSA: such a Verifier is a ConfigurationError)
        try:
            _verifier(kind, backend, **over).verify(token, now=now)
            out[backend] = None
        except TokenRejected as exc:
            out[backend] = (exc.reason.value, exc.detail)
    return out


def _one_verdict(kind: str, token: object, expected: tuple[Reason, str | None] | None, **kw: Any) -> None:
    got = _verdicts(kind, token, **kw)
    want = None if expected is None else (expected[0].value, expected[1])
    assert set(got.values()) == {want}, got


# -- 1. canonical base64url, decided before any backend runs -------------------------------------------------
def _flip_unused_bit(segment: str) -> str:
    """The same bytes with a non-zero unused bit in the last character (a second encoding of them)."""
    assert len(segment) % 4 in (2, 3), "no unused bits at this length"
    return segment[:-1] + B64URL[B64URL.index(segment[-1]) ^ 1]


def _odd_json(obj: dict[str, Any]) -> bytes:
    """``obj`` as JSON whose length is not a multiple of 3 (so its base64url has unused bits / padding)."""
    raw = json.dumps(obj).encode()
    return raw if len(raw) % 3 else raw[:-1] + b" }"


def _signed(kind: str, h: str, p: str) -> str:
    return f"{h}.{p}.{_b64(_sign(kind, f'{h}.{p}'))}"


def _padded(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4) if len(segment) % 4 else segment + "=="


def _impossible_length(segment: str) -> str:
    """``segment`` cut or extended to a length of 1 mod 4, which no byte string encodes to."""
    return segment + "A" if len(segment) % 4 == 0 else segment[: len(segment) - len(segment) % 4 + 1]


def _canonical_cases(kind: str) -> dict[str, tuple[str, str]]:
    """Non-canonical variants of a valid token, each with the segment that makes it so."""
    header = {"alg": ALGS[kind], "typ": "at+jwt", "kid": kind}
    h, p = _b64(_odd_json(header)), _b64(_odd_json(_claims()))
    good = _signed(kind, h, p)
    s = good.rsplit(".", 1)[1]
    return {
        # the issuer signed the padded text (pyjwt, python-jose and authlib accepted; joserfc and jwcrypto did not)
        "header_padded_signed": (_signed(kind, _padded(h), p), "header"),
        # '=' added after signing: jwcrypto verified the text as given, the others the stripped text
        "header_padded_after_signing": (f"{_padded(h)}.{p}.{s}", "header"),
        "payload_padded_signed": (_signed(kind, h, _padded(p)), "payload"),
        # Wycheproof #374/#375: a signature over a payload encoded with a non-zero unused bit
        "payload_unused_bits_signed": (_signed(kind, h, _flip_unused_bit(p)), "payload"),
        "header_unused_bits_signed": (_signed(kind, _flip_unused_bit(h), p), "header"),
        # the same signature bytes, another encoding (python-jose, jwcrypto and authlib accepted an HS256 MAC)
        "signature_unused_bits": (f"{h}.{p}.{_flip_unused_bit(s)}", "signature"),
        "signature_padded": (f"{h}.{p}.{_padded(s)}", "signature"),
        "signature_impossible_length": (f"{h}.{p}.{_impossible_length(s)}", "signature"),
    }


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize(
    "case",
    [
        "header_padded_signed",
        "header_padded_after_signing",
        "payload_padded_signed",
        "payload_unused_bits_signed",
        "header_unused_bits_signed",
        "signature_unused_bits",
        "signature_padded",
        "signature_impossible_length",
    ],
)
def test_non_canonical_base64url_one_verdict(kind: str, case: str) -> None:
    token, segment = _canonical_cases(kind)[case]
    # (python-jose has no EdDSA, but this is decided before any backend runs: MALFORMED there too)
    _one_verdict(kind, token, (Reason.MALFORMED, segment))


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_canonical_tokens_still_accepted(kind: str) -> None:
    header = json.dumps({"alg": ALGS[kind], "typ": "at+jwt", "kid": kind})
    claims = json.dumps(_claims())
    for n in range(3):  # every header and payload length mod 3 (JSON may end with blanks)
        for m in range(3):
            h, p = _b64((header + " " * n).encode()), _b64((claims + " " * m).encode())
            _one_verdict(kind, _signed(kind, h, p), None)


def _ecdsa_variants(key: ec.EllipticCurvePrivateKey, kind_alg: str) -> dict[str, str]:
    h = _b64(json.dumps({"alg": kind_alg, "typ": "at+jwt", "kid": "ec"}).encode())
    p = _b64(json.dumps(_claims()).encode())
    algo = jwt.get_algorithm_by_name(kind_alg)
    sig = bytes(algo.sign(f"{h}.{p}".encode(), key))
    r, s = sig[: len(sig) // 2], sig[len(sig) // 2 :]
    signatures = {
        "good": sig,
        # Wycheproof #379 (SignatureTooLong) / #385: R and S each with leading zero bytes (jwcrypto accepted)
        "leading_zeros": bytes(1) + r + bytes(1) + s,
        "leading_zeros_r_s_4": bytes(4) + r + bytes(4) + s,
        "trailing_zeros": sig + bytes(2),  # Wycheproof #380
        "short": sig[:-1],
    }
    return {name: f"{h}.{p}.{_b64(value)}" for name, value in signatures.items()}


@pytest.mark.parametrize(("alg", "key"), [("ES256", EC_KEY), ("ES384", EC384_KEY)])
@pytest.mark.parametrize("case", ["good", "leading_zeros", "leading_zeros_r_s_4", "trailing_zeros", "short"])
def test_ecdsa_signature_size_one_verdict(alg: str, key: ec.EllipticCurvePrivateKey, case: str) -> None:
    token = _ecdsa_variants(key, alg)[case]
    profile = jwtobs.Profile(name="billing-api", issuer=ISS, audience=AUD, algorithms=(alg,))
    got: dict[str, str | None] = {}
    for backend in sorted(BACKENDS):
        v = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"ec": key.public_key()}), backend=backend)
        try:
            v.verify(token, now=NOW)
            got[backend] = None
        except TokenRejected as exc:
            got[backend] = exc.reason.value
    assert set(got.values()) == {None if case == "good" else Reason.BAD_SIGNATURE.value}, got


# Wycheproof JOSE vectors through the Verifier's own checks and each backend -----------------------------------
_ROOT: Final = Path(__file__).resolve().parents[2]
_VECTORS: Final = (_ROOT.parent / "shared" / "wycheproof", _ROOT / "tests" / "libraries" / "wycheproof")
#: vectors whose expected result the token cannot show (docs: /work/shared/wycheproof/README.md): 346/347/350/351
#: are signed with an alg their key does not name (refused: JWT_ALG_NOT_ALLOWED); 367/370 are byte for byte the
#: valid token of 372/373 without the '?' (the padding they are named after is not in the token), so accepted;
#: 372/373 insert '?' into base64url (refused: JWT_MALFORMED)
_QUIRKS: Final = frozenset({346, 347, 350, 351, 367, 370, 372, 373})


def _signature_path(backend: str, token: str, keys: jwtobs.StaticKeys) -> str | None:
    """The Verifier's checks up to and including the signature, in :meth:`Verifier._verify`'s order, with the
    vector's alg allowed (the payloads are not claim sets: they need only decode, which ``bad_segment`` checks for
    a claim set the same way)."""
    p = peek(token, max_bytes=1 << 20)
    try:
        header = verifier._check_form(p, token)
        verifier._check_header(header, p, ("jku", "x5u", "x5c", "jwk"))
        alg = verifier._check_alg(p, frozenset({p.alg or "RS256"}))
        verifier._check_encoding(p)
        segments = p.segments()
        if b64url_decode(segments[1]) is None:
            raise TokenRejected(Reason.MALFORMED, "payload")
        if not _is_b64url(segments[2]):
            raise TokenRejected(Reason.MALFORMED, "signature")
        key = keys.get(p.kid)
        verifier._check_key(key, alg)
        verifier._check_signature_size(p, alg, key)
        backends.get(backend).verify_signature(token, key, alg)
    except TokenRejected as exc:
        return exc.reason.value
    return None


def test_wycheproof_jws_one_verdict_every_backend() -> None:
    folder = next((d for d in _VECTORS if (d / "json_web_signature_test.json").is_file()), None)
    if folder is None:
        pytest.skip("Wycheproof vectors not found (../shared/wycheproof or tests/libraries/wycheproof)")
    data = json.loads((folder / "json_web_signature_test.json").read_text())
    seen: dict[int, str | None] = {}
    disagree: list[str] = []
    for group in data["testGroups"]:
        public = group.get("public") or group["private"]
        jwk = public if public.get("kty") != "oct" else group["private"]
        try:
            keys = jwtobs.StaticKeys(jwk)
        except jwtobs.ConfigurationError:  # an unusable key (short HMAC secret, ...): refused at configuration
            continue
        for test in group["tests"]:
            token = test["jws"] if isinstance(test["jws"], str) else json.dumps(test["jws"])
            got = {b: _signature_path(b, token, keys) for b in sorted(BACKENDS)}
            if peek(token).alg not in jose_backend.ALGORITHMS and got["jose"] == Reason.ALG_NOT_ALLOWED.value:
                del got["jose"]  # python-jose has no EdDSA, no PS*: refused (detail backend), never accepted
            verdicts = set(got.values())
            if len(verdicts) != 1:
                disagree.append(f"#{test['tcId']} {test['comment']}: {got}")
                continue
            seen[test["tcId"]] = verdict = verdicts.pop()
            if test["tcId"] not in _QUIRKS:
                assert (verdict is None) == (test["result"] == "valid"), (test["tcId"], test["comment"], verdict)
    assert not disagree, "\n".join(disagree)
    assert seen[374] == seen[375] == Reason.MALFORMED.value  # non-canonical payload (unused bits)
    assert seen[379] == seen[385] == Reason.BAD_SIGNATURE.value  # ES256 signature of 66 bytes
    assert len(seen) > 300


# -- 2. NumericDates compared exactly -----------------------------------------------------------------------
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_fractional_numeric_dates_compared_exactly(backend: str) -> None:
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    v = _verifier("rsa", backend, leeway=0)
    now = NOW + 0.5
    for claim, reason in (("nbf", Reason.NOT_YET_VALID), ("iat", Reason.NOT_YET_VALID)):
        with pytest.raises(TokenRejected) as info:  # before: int(now + 0.4) == int(now): accepted
            v.verify(_token("rsa", _claims(**{claim: now + 0.4})), now=now)
        assert (info.value.reason, info.value.detail) == (reason, claim)
    v.verify(_token("rsa", _claims(exp=now + 0.4)), now=now)  # before: JWT_EXPIRED
    v.verify(_token("rsa", _claims(nbf=now - 0.1, iat=now)), now=now)
    with pytest.raises(TokenRejected) as info:
        v.verify(_token("rsa", _claims(exp=now)), now=now)
    assert info.value.reason == Reason.EXPIRED
    aged = _verifier("rsa", backend, leeway=0, max_age=300)
    aged.verify(_token("rsa", _claims(iat=NOW - 299.4)), now=now)  # 299.9 s old (before: iat truncated, 300.5)
    with pytest.raises(TokenRejected) as info:
        aged.verify(_token("rsa", _claims(iat=NOW - 299.6)), now=now)  # 300.1 s old
    assert (info.value.reason, info.value.detail) == (Reason.EXPIRED, "max_age")
    # the event still records the NumericDates as ints (its fields come from the pipeline)
    jwtobs.flush()
    accepted = [e for e in events if isinstance(e, ValidationEvent) and e.outcome == "accepted"]
    assert accepted[0].exp == int(now + 0.4) and accepted[-1].iat == int(NOW - 299.4)


# -- 3. claim types -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 5),
        ("sub", ["a", "b"]),
        ("sub", True),
        ("sub", ""),
        ("sub", {"id": "u"}),
        ("sub", None),
        ("jti", {"x": 1}),
        ("jti", 7),
        ("jti", ""),
        ("jti", None),
        ("iat", None),
        ("nbf", None),
        ("exp", None),
    ],
)
def test_claims_of_the_wrong_type_are_claim_invalid(claim: str, value: object) -> None:
    _one_verdict("rsa", _token("rsa", _claims(**{claim: value})), (Reason.CLAIM_INVALID, claim))


def test_absent_sub_and_jti_still_accepted() -> None:
    claims = {k: v for k, v in _claims().items() if k != "sub"}
    _one_verdict("rsa", _token("rsa", claims), None, required_claims=("iss", "aud", "exp"))
    _one_verdict("rsa", _token("rsa", claims), (Reason.MISSING_CLAIM, "sub"))  # required by default
    _one_verdict("rsa", _token("rsa", _claims(jti="j-1")), None)
    exp_missing = {k: v for k, v in _claims().items() if k != "exp"}
    _one_verdict("rsa", _token("rsa", exp_missing), (Reason.MISSING_CLAIM, "exp"))


# -- 4. whitespace ------------------------------------------------------------------------------------------
_GOOD = _token("rsa")
_SPACED: Final[dict[str, Callable[[str], object]]] = {
    "leading_space": lambda t: " " + t,
    "trailing_newline": lambda t: t + "\n",
    "trailing_crlf": lambda t: t + "\r\n",
    "leading_tab": lambda t: "\t" + t,
    "leading_nbsp": lambda t: "\u00a0" + t,
    "trailing_nbsp_newline": lambda t: t + "\u00a0\n",
    "leading_space_nel": lambda t: " \x85" + t,
    "leading_vertical_tab": lambda t: "\x0b" + t,
    "bytes_trailing_newline": lambda t: t.encode() + b"\n",
}


@pytest.mark.parametrize("case", sorted(_SPACED))
def test_whitespace_around_the_token_is_malformed(case: str) -> None:
    _one_verdict("rsa", _SPACED[case](_GOOD), (Reason.MALFORMED, "whitespace"))


@pytest.mark.parametrize("typ", [" at+jwt", "at+jwt\t", "application/at+jwt ", "\u00a0at+jwt", "at+jwt\n"])
def test_typ_with_whitespace_is_another_type(typ: str) -> None:
    _one_verdict("rsa", _token("rsa", typ=typ), (Reason.TYPE_MISMATCH, "typ"), token_type="at+jwt")
    _one_verdict("rsa", _token("rsa", typ=typ), None, token_type=None)  # no typ check: not looked at


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_documented_spellings_still_accepted(typ: str) -> None:
    _one_verdict("rsa", _token("rsa", typ=typ), None)


def test_token_without_whitespace_accepted_as_str_and_bytes() -> None:
    _one_verdict("rsa", _GOOD, None)
    _one_verdict("rsa", _GOOD.encode(), None)


# -- 5. a DER key as text is never an HMAC secret -------------------------------------------------------------
def _spki(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _pkcs1() -> bytes:
    return bytes(RSA_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))


def _pkcs8() -> bytes:
    return bytes(
        EC_KEY.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


DER_TEXT: Final[dict[str, Callable[[], str | bytes]]] = {
    "rsa_base64_str": lambda: base64.b64encode(_spki(RSA_KEY)).decode(),  # as Keycloak's console shows it
    "rsa_base64_bytes": lambda: base64.b64encode(_spki(RSA_KEY)),
    "rsa_base64url_unpadded": lambda: _b64(_spki(RSA_KEY)),
    "rsa_hex": lambda: _spki(RSA_KEY).hex(),
    "rsa_hex_upper_colons": lambda: _spki(RSA_KEY).hex(":").upper(),
    "rsa_pem_body_without_armour": lambda: base64.encodebytes(_spki(RSA_KEY)).decode(),
    "rsa_pem_body_one_line_spaced": lambda: "  " + base64.b64encode(_spki(RSA_KEY)).decode() + "\n",
    "rsa_pkcs1_base64": lambda: base64.b64encode(_pkcs1()).decode(),
    "ec_base64": lambda: base64.b64encode(_spki(EC_KEY)).decode(),
    "ed25519_base64": lambda: base64.b64encode(_spki(ED_KEY)).decode(),
    "ec_private_pkcs8_base64": lambda: base64.b64encode(_pkcs8()).decode(),
}


@pytest.mark.parametrize("material", sorted(DER_TEXT))
def test_der_key_as_text_refused_as_hmac_secret(material: str) -> None:
    """Before: accepted as an HS256 secret, so a token HMAC'd with the (public) text was accepted."""
    secret = DER_TEXT[material]()
    profile = jwtobs.Profile(name="billing-api", issuer=ISS, audience=AUD, algorithms=("HS256",))
    with pytest.raises(jwtobs.ConfigurationError, match="DER key material given as an HMAC secret"):
        jwtobs.StaticKeys({"k": secret})
    for backend in sorted(BACKENDS):
        with pytest.raises(jwtobs.ConfigurationError, match="DER key material"):
            jwtobs.Verifier(profile, keys={"k": secret}, backend=backend)
    # an oct JWK whose bytes are that text is not a usable key either
    raw = secret.encode() if isinstance(secret, str) else secret
    with pytest.raises(jwtobs.ConfigurationError, match="no usable key"):
        jwtobs.StaticKeys({"keys": [{"kty": "oct", "kid": "k", "k": _b64(raw)}]})


def test_random_secrets_as_text_still_accepted() -> None:
    for _ in range(50):
        raw = os.urandom(48)
        for secret in (base64.b64encode(raw).decode(), _b64(raw), raw.hex(), b"\x30" + raw, base64.encodebytes(raw)):
            jwtobs.StaticKeys({"k": secret})
