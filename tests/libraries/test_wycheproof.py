"""Wycheproof JWS/JWK/JWE vectors through the five libraries, bare and wrapped.

For every vector and every library that supports the vector's algorithm:

- the wrapped call accepts exactly when the bare call accepts, with the same return value or the same
  exception class and message (the wrapper never changes an outcome);
- every rejection is classified with a code other than ``JWT_VALIDATOR_ERROR``, except the library failures
  listed in :data:`VALIDATOR_ERRORS` (each with the reason it is not the token's fault).

Each library runs as an application would use it: a small validator function that imports the vector's JWK
(or key set) and verifies (or decrypts) with an allowlist made of the keys' algorithms, wrapped with
``jwtobs.wrap(fn, library=...)``. Per library the test reports vectors run, accepted-invalid (the library's
own weakness), rejected-valid and classification coverage, writes the table to JSON under the pytest tmp
folder (and ``$JWTOBS_WYCHEPROOF_REPORT`` when set) and prints it; docs/libraries.md publishes it.

Vectors: ``../shared/wycheproof/`` next to the repository when present, else the Apache-2.0 copy vendored in
``tests/libraries/wycheproof/``; skipped with the reason when neither exists.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

import jwtobs
from jwtobs import Reason
from jwtobs.exceptions import detail_of

from .conftest import JsonServer, Recorded

ROOT: Final = Path(__file__).resolve().parents[2]
CANDIDATES: Final = (ROOT.parent / "shared" / "wycheproof", Path(__file__).with_name("wycheproof"))
FILES: Final = (
    "json_web_signature_test.json",
    "json_web_key_test.json",
    "json_web_crypto_test.json",
    "json_web_encryption_test.json",
)
LIBRARIES: Final = ("pyjwt", "jose", "jwcrypto", "joserfc", "authlib")


def vector_dir() -> Path | None:
    for d in CANDIDATES:
        if all((d / f).is_file() for f in FILES):
            return d
    return None


# ---------------------------------------------------------------------------------------------- the vectors


@dataclass(frozen=True)
class Vector:
    file: str
    tc_id: int
    group: str
    kind: str  # "jws" or "jwe"
    token: str
    valid: bool
    keys: dict[str, Any]  # a JWK, or {"keys": [...]}
    algs: tuple[str, ...]  # the allowlist an application would configure from its keys
    plaintext: bytes | None
    flags: tuple[str, ...]

    @property
    def ident(self) -> str:
        return f"{self.file.split('_test')[0].replace('json_web_', '')}#{self.tc_id}"


_DEFAULT_ALG: Final = {"RSA": "RS256", "oct": "HS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
#: RFC 7520's ES512 keys say "ES521" (a known quirk of the vectors): an application would configure ES512
_ALG_FIX: Final = {"ES521": "ES512"}


def _allowlist(keys: dict[str, Any], kind: str, enc: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for k in keys.get("keys", [keys]):
        alg = k.get("alg") or _DEFAULT_ALG.get(k.get("crv") or k.get("kty"), "")
        alg = _ALG_FIX.get(alg, alg)
        if alg and alg not in out:
            out.append(alg)
        if kind == "jwe" and alg.endswith(("GCM", "-HS256", "-HS384", "-HS512")) and "dir" not in out:
            out.append("dir")  # a key declared for a content encryption is a direct key (RFC 7520 5.6)
    if kind == "jwe" and enc and enc not in out:
        out.append(enc)
    return tuple(out)


def _token_header(token: str) -> dict[str, Any]:
    """The protected header of a compact token (the enc an application would have configured)."""
    try:
        seg = token.split(".", 1)[0]
        obj = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def load_vectors(folder: Path) -> list[Vector]:
    out: list[Vector] = []
    for name in FILES:
        data = json.loads((folder / name).read_text())
        for group in data["testGroups"]:
            for test in group["tests"]:
                kind = "jwe" if "jwe" in test else "jws"
                keys = group["private"] if kind == "jwe" or "public" not in group else group["public"]
                pt = test.get("pt")
                raw = test[kind]
                token = raw if isinstance(raw, str) else json.dumps(raw)  # JSON serialization given as an object
                enc = test.get("enc") or (_token_header(token).get("enc") if kind == "jwe" else None)
                out.append(
                    Vector(
                        file=name,
                        tc_id=int(test["tcId"]),
                        group=str(group.get("comment", "")),
                        kind=kind,
                        token=token,
                        valid=test["result"] == "valid",
                        keys=keys,
                        algs=_allowlist(keys, kind, enc),
                        plaintext=binascii.unhexlify(pt) if isinstance(pt, str) else None,
                        flags=tuple(test.get("flags", ())),
                    )
                )
    return out


# ------------------------------------------------------------------------------- what each library supports

_JWS_COMMON: Final = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
JWS_SUPPORT: Final[dict[str, frozenset[str]]] = {
    "pyjwt": _JWS_COMMON | {"EdDSA"},
    "jose": _JWS_COMMON - {"PS256", "PS384", "PS512"},  # python-jose 3.x: no RSASSA-PSS, no EdDSA
    "jwcrypto": _JWS_COMMON | {"EdDSA"},
    "joserfc": _JWS_COMMON | {"EdDSA"},
    "authlib": _JWS_COMMON | {"EdDSA"},
}
_KW: Final = {"A128KW", "A192KW", "A256KW", "dir", "RSA1_5", "RSA-OAEP", "RSA-OAEP-256"}
_ENC: Final = {"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM"}
_ECDH: Final = {"ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"}
_GCMKW: Final = {"A128GCMKW", "A192GCMKW", "A256GCMKW"}
JWE_SUPPORT: Final[dict[str, frozenset[str]]] = {
    "pyjwt": frozenset(),  # PyJWT has no JWE
    "jose": frozenset(_KW | _ENC),  # no ECDH-ES, no AES-GCM key wrap
    "jwcrypto": frozenset(_KW | _ENC | _ECDH | _GCMKW),
    "joserfc": frozenset(_KW | _ENC | _ECDH | _GCMKW),
    "authlib": frozenset(_KW | _ENC | _ECDH | _GCMKW),
}


def supports(lib: str, v: Vector) -> bool:
    algs = set(v.algs)
    table = JWS_SUPPORT if v.kind == "jws" else JWE_SUPPORT
    return bool(algs) and algs <= table[lib] | {"ES521"}


def adapter_missing(lib: str) -> str | None:
    if importlib.util.find_spec(f"jwtobs.adapters.{lib}") is None:
        return f"jwtobs.adapters.{lib} does not exist yet (another change adds it)"
    if importlib.util.find_spec({"jose": "jose", "pyjwt": "jwt"}.get(lib, lib)) is None:
        return f"{lib} is not installed"
    return None


# ---------------------------------------------------------------------------------- the validators (bare)


class JwksServer(JsonServer):
    """A JWKS endpoint on 127.0.0.1 for PyJWKClient (PyJWT's way to use a key set); set ``jwks`` per vector."""

    def __init__(self) -> None:
        super().__init__({"keys": []}, path="/jwks")


def pyjwt_validator(server: JwksServer) -> Callable[[str, Vector], Any]:
    import jwt

    def validate(token: str, v: Vector) -> Any:
        if "keys" in v.keys:
            # PyJWKClient's selection without its fetch (its get_signing_key_from_jwt also parses the payload
            # as JSON, which these vectors' payload "foo" is not)
            kid = jwt.get_unverified_header(token).get("kid")
            found = [k for k in jwt.PyJWKSet.from_dict(v.keys).keys if k.key_id == kid]
            if not found:
                raise jwt.PyJWKClientError(f"Unable to find a signing key that matches: {kid!r}")
            key: Any = found[0].key
        else:
            key = jwt.PyJWK(v.keys).key
        return jwt.PyJWS().decode_complete(token, key, algorithms=list(v.algs))["payload"]

    return validate


def jose_validator(_: JwksServer) -> Callable[[str, Vector], Any]:
    from jose import jwe, jws

    def validate(token: str, v: Vector) -> Any:
        if v.kind == "jwe":
            key = v.keys
            if key.get("kty") == "oct":  # python-jose takes a symmetric JWE key as its bytes
                key = base64.urlsafe_b64decode(str(key.get("k", "")) + "==")
            return jwe.decrypt(token, key)
        return jws.verify(token, v.keys, algorithms=list(v.algs))

    return validate


def jwcrypto_validator(_: JwksServer) -> Callable[[str, Vector], Any]:
    from jwcrypto import jwe, jwk, jws

    def validate(token: str, v: Vector) -> Any:
        key: Any = jwk.JWKSet.from_json(json.dumps(v.keys)) if "keys" in v.keys else jwk.JWK(**v.keys)
        obj: Any = jwe.JWE() if v.kind == "jwe" else jws.JWS()
        obj.allowed_algs = list(v.algs)
        obj.deserialize(token, key)
        return obj.payload if v.kind == "jws" else obj.plaintext

    return validate


def joserfc_validator(_: JwksServer) -> Callable[[str, Vector], Any]:
    from joserfc import jwe, jws
    from joserfc.jwk import JWKRegistry, KeySet

    def validate(token: str, v: Vector) -> Any:
        key: Any = KeySet.import_key_set(v.keys) if "keys" in v.keys else JWKRegistry.import_key(v.keys)
        algs = list(v.algs)
        obj: Any = None
        if token.lstrip().startswith("{"):  # joserfc takes the JSON serialization parsed; else the compact form
            try:
                obj = json.loads(token)
            except ValueError:
                obj = None
        if v.kind == "jwe":
            if isinstance(obj, dict):
                return jwe.decrypt_json(obj, key, algorithms=algs).plaintext
            return jwe.decrypt_compact(token, key, algorithms=algs).plaintext
        if isinstance(obj, dict):
            return jws.deserialize_json(obj, key, algorithms=algs).payload
        return jws.deserialize_compact(token, key, algorithms=algs).payload

    return validate


def authlib_validator(_: JwksServer) -> Callable[[str, Vector], Any]:
    from authlib.jose import JsonWebEncryption, JsonWebKey, JsonWebSignature

    def validate(token: str, v: Vector) -> Any:
        key: Any = JsonWebKey.import_key_set(v.keys) if "keys" in v.keys else JsonWebKey.import_key(v.keys)
        if v.kind == "jwe":
            return JsonWebEncryption(algorithms=list(v.algs)).deserialize(token, key)["payload"]
        return JsonWebSignature(algorithms=list(v.algs)).deserialize(token, key)["payload"]

    return validate


VALIDATORS: Final[dict[str, Callable[[JwksServer], Callable[[str, Vector], Any]]]] = {
    "pyjwt": pyjwt_validator,
    "jose": jose_validator,
    "jwcrypto": jwcrypto_validator,
    "joserfc": joserfc_validator,
    "authlib": authlib_validator,
}

#: Invalid vectors a library (used as above) accepts: its own weaknesses, published in docs/libraries.md.
#: The test fails when a library accepts an invalid vector not listed here (a new weakness, or a regression).
_BASE64_LAX: Final = ("signature#367", "signature#370")  # bad base64 padding (header/payload) accepted
_KEY_CHECKS: Final = ("crypto#46", "crypto#47", "key#1", "key#7", "key#8")  # ROCA, 1024-bit RSA, mixed key set
KNOWN_ACCEPTED_INVALID: Final[dict[str, frozenset[str]]] = {
    "pyjwt": frozenset(
        {*_BASE64_LAX, *_KEY_CHECKS, "signature#353", "signature#354", "signature#355", "signature#356"}
        | {"key#4", "key#10", "key#11", "key#12", "key#21"}
    ),
    "jose": frozenset(
        {*_BASE64_LAX, *_KEY_CHECKS, "signature#353", "signature#354", "signature#355", "signature#356"}
        | {"signature#360", "signature#365", "signature#366", "signature#368", "signature#369", "signature#375"}
        | {"key#4", "key#10", "key#11", "key#12", "key#16", "key#17", "key#18", "key#21"}
        | {"encryption#110", "encryption#111"}
    ),
    "jwcrypto": frozenset(
        {*_BASE64_LAX, *_KEY_CHECKS, "signature#360", "signature#374", "signature#379", "signature#385"}
        | {"key#4", "crypto#17"}
    ),
    "joserfc": frozenset({*_BASE64_LAX, *_KEY_CHECKS, "key#10", "key#11", "key#12"}),
    "authlib": frozenset(
        {*_BASE64_LAX, "crypto#17", "crypto#46", "signature#360", "signature#365", "signature#366"}
        | {"signature#368", "signature#369", "signature#375"}
    ),
}
#: Valid vectors a library rejects. Common to all: tcId 346/350 (token PS384, key PS256) and 372/373 ('?' in
#: base64) are quirks of the vectors (see their README); 347/351 carry the key alg "ES521".
_QUIRKS: Final = ("signature#346", "signature#350", "signature#372", "signature#373")
KNOWN_REJECTED_VALID: Final[dict[str, frozenset[str]]] = {
    "pyjwt": frozenset(_QUIRKS),
    "jose": frozenset({*_QUIRKS, "encryption#135"}),  # zip DEF: python-jose inflates with the zlib wrapper
    "jwcrypto": frozenset(_QUIRKS),
    "joserfc": frozenset({*_QUIRKS, "signature#347", "signature#351", "encryption#135"}),
    "authlib": frozenset({*_QUIRKS, "encryption#135", "key#2", "key#5", "key#13", "key#14", "key#15", "crypto#48"}),
}

#: (library, vector) -> why JWT_VALIDATOR_ERROR is the honest classification (the library failed, not the token)
VALIDATOR_ERRORS: Final[dict[tuple[str, str], str]] = {
    ("authlib", "crypto#66"): "Authlib's JWE deserialize_json assumes the general form: KeyError('recipients')",
    ("authlib", "encryption#22"): "Authlib's JWE deserialize_json assumes the general form: KeyError('recipients')",
}


# ------------------------------------------------------------------------------------------------ running


@dataclass
class LibraryReport:
    library: str
    run: int = 0
    unsupported: int = 0
    accepted_valid: int = 0
    rejected_invalid: int = 0
    accepted_invalid: list[str] = field(default_factory=list)
    rejected_valid: list[str] = field(default_factory=list)
    classified: int = 0
    validator_error: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        rejected = self.rejected_invalid + len(self.rejected_valid)
        return {
            "library": self.library,
            "vectors_run": self.run,
            "unsupported_alg": self.unsupported,
            "accepted_valid": self.accepted_valid,
            "rejected_invalid": self.rejected_invalid,
            "accepted_invalid": self.accepted_invalid,
            "rejected_valid": self.rejected_valid,
            "rejections": rejected,
            "classified": self.classified,
            "classification_coverage": round(self.classified / rejected, 4) if rejected else 1.0,
            "validator_error": self.validator_error,
            "reasons": dict(sorted(self.reasons.items())),
        }


#: Calls of each validator when a rejection's message differs between the bare and the wrapped call (bounded).
_RETRIES: Final = 1500


def _outcome(fn: Callable[[str, Vector], Any], v: Vector) -> str:
    ok, val = _call(fn, v)
    return "accepted" if ok else f"{type(val).__name__}: {val}"


def _wrapped_differs(
    bare: Callable[[str, Vector], Any], wrapped: Callable[[str, Vector], Any], v: Vector, b_val: Any, w_val: Any
) -> str | None:
    """Why the wrapped rejection differs from the bare one, or None when the library itself answers this vector
    in more than one way and the wrapped call gave nothing the bare library does not give too.

    Some libraries are not deterministic on purpose: on a JWE whose encrypted key does not decrypt, python-jose
    (like RFC 7516 section 11.5 asks) goes on with a random content key, so the padding check fails ("Invalid
    padding bytes.") or, about 0.6 % of the time, passes and the tag check fails ("Invalid JWE Auth Tag")."""
    bare_seen = {_outcome(bare, v)} | {f"{type(b_val).__name__}: {b_val}"}
    wrapped_seen = {f"{type(w_val).__name__}: {w_val}"}
    for _ in range(_RETRIES):
        if wrapped_seen <= bare_seen and len(bare_seen) > 1:
            return None
        bare_seen.add(_outcome(bare, v))
        wrapped_seen.add(_outcome(wrapped, v))
    if wrapped_seen <= bare_seen and len(bare_seen) > 1:
        return None
    return f"wrapped {sorted(wrapped_seen - bare_seen)} never from the bare library ({sorted(bare_seen)})"


def _call(fn: Callable[[str, Vector], Any], v: Vector) -> tuple[bool, Any]:
    try:
        return True, fn(v.token, v)
    except Exception as exc:  # the library's own failure, compared by class and message
        return False, exc


def run_library(lib: str, vectors: list[Vector], server: JwksServer) -> LibraryReport:
    rep = LibraryReport(lib)
    bare = VALIDATORS[lib](server)
    wrapped = jwtobs.wrap(bare, library=lib, profile="wycheproof")
    for v in vectors:
        if not supports(lib, v):
            rep.unsupported += 1
            continue
        rep.run += 1
        b_ok, b_val = _call(bare, v)
        w_ok, w_val = _call(wrapped, v)
        if b_ok != w_ok:
            rep.mismatches.append(f"{v.ident}: bare {'accepts' if b_ok else 'rejects'}, wrapped differs")
            continue
        if b_ok:
            if b_val != w_val:
                rep.mismatches.append(f"{v.ident}: return values differ")
            accepted_ok = v.plaintext is None or v.kind != "jwe" or w_val == v.plaintext
            if v.valid and accepted_ok:
                rep.accepted_valid += 1
            else:
                rep.accepted_invalid.append(v.ident)
            continue
        if type(b_val) is not type(w_val) or str(b_val) != str(w_val):
            differs = _wrapped_differs(bare, wrapped, v, b_val, w_val)
            if differs:
                rep.mismatches.append(f"{v.ident}: {differs}")
        if v.valid:
            rep.rejected_valid.append(v.ident)
        else:
            rep.rejected_invalid += 1
        reason = jwtobs.reason_of(w_val)
        key = f"{reason.value if reason else None}/{detail_of(w_val)}"
        rep.reasons[key] = rep.reasons.get(key, 0) + 1
        if reason is None or reason is Reason.VALIDATOR_ERROR:
            rep.validator_error.append(f"{v.ident}: {type(w_val).__module__}.{type(w_val).__qualname__}")
        else:
            rep.classified += 1
    return rep


# ------------------------------------------------------------------------------------------------- tests

_REPORTS: dict[str, LibraryReport] = {}


@pytest.fixture(scope="module")
def vectors() -> list[Vector]:
    folder = vector_dir()
    if folder is None:
        pytest.skip("Wycheproof vectors absent: neither ../shared/wycheproof nor tests/libraries/wycheproof")
    return load_vectors(folder)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    srv = JwksServer()
    yield srv
    srv.close()


def test_vector_counts(vectors: list[Vector]) -> None:
    counts = {f: sum(1 for v in vectors if v.file == f) for f in FILES}
    assert counts == {
        "json_web_signature_test.json": 401,
        "json_web_key_test.json": 26,
        "json_web_crypto_test.json": 83,
        "json_web_encryption_test.json": 139,
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("lib", LIBRARIES)
def test_library(lib: str, vectors: list[Vector], jwks_server: JwksServer, recorded: Recorded) -> None:
    missing = adapter_missing(lib)
    if missing is not None:
        pytest.skip(missing)
    rep = run_library(lib, vectors, jwks_server)
    _REPORTS[lib] = rep
    assert rep.run > 0
    assert rep.mismatches == [], rep.mismatches[:10]
    unexplained = [e for e in rep.validator_error if (lib, e.split(":")[0]) not in VALIDATOR_ERRORS]
    assert unexplained == [], unexplained[:20]
    assert set(rep.accepted_invalid) <= KNOWN_ACCEPTED_INVALID[lib], "new accepted-invalid vectors"
    assert set(rep.rejected_valid) <= KNOWN_REJECTED_VALID[lib], "new rejected-valid vectors"


def test_report(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Writes and prints the per-library table (runs after the library tests in file order)."""
    if not _REPORTS:
        pytest.skip("no library ran (vectors absent or adapters missing)")
    table = {lib: rep.as_json() for lib, rep in _REPORTS.items()}
    out = tmp_path_factory.mktemp("wycheproof") / "wycheproof_report.json"
    out.write_text(json.dumps(table, indent=2))
    extra = os.environ.get("JWTOBS_WYCHEPROOF_REPORT")
    if extra:
        Path(extra).write_text(json.dumps(table, indent=2))
    print(f"\nWycheproof report: {out}")
    print(f"{'library':10} {'run':>4} {'acc-invalid':>11} {'rej-valid':>9} {'classified':>10} {'coverage':>8}")
    for lib, row in table.items():
        print(
            f"{lib:10} {row['vectors_run']:>4} {len(row['accepted_invalid']):>11} {len(row['rejected_valid']):>9}"
            f" {row['classified']:>10} {row['classification_coverage']:>8.1%}"
        )
    assert all(row["classification_coverage"] == 1.0 or row["validator_error"] for row in table.values())


def test_vendored_copy_is_complete_and_unmodified() -> None:
    """The Apache-2.0 copy in tests/libraries/wycheproof runs where ../shared is absent; it must equal it."""
    vendored = CANDIDATES[1]
    assert (vendored / "LICENSE").is_file() and (vendored / "NOTICE.md").is_file()
    assert len(load_vectors(vendored)) == 649
    shared = CANDIDATES[0]
    if shared.is_dir():
        for name in FILES:
            assert (vendored / name).read_bytes() == (shared / name).read_bytes(), name
