"""One library registry (jwtobs/libraries.py): the same canonical name and aliases in wrap(), Verifier, the
instrumentor, telemetry and the package extras."""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import adapters, backends, instrumentation, libraries
from jwtobs.events import ValidationEvent

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
ISS, AUD = "https://idp.example.test", "orders"


def names_of(lib: libraries.Library) -> list[str]:
    return [lib.name, lib.distribution, lib.name.upper(), *lib.aliases]


def test_registry_is_the_one_table() -> None:
    assert libraries.NAMES == ("pyjwt", "joserfc", "jose", "jwcrypto", "authlib")
    assert list(adapters.LIBRARIES) == list(libraries.NAMES)
    assert list(backends.BACKENDS) == list(libraries.NAMES)
    assert list(instrumentation.LIBRARIES) == list(libraries.NAMES)
    assert list(instrumentation.TRIGGERS) == list(libraries.NAMES)
    assert {t.library for t in instrumentation.TARGETS} == set(libraries.NAMES)


@pytest.mark.parametrize("lib", libraries.LIBRARIES, ids=lambda lib: lib.name)
def test_every_name_and_alias_means_the_same_library(lib: libraries.Library) -> None:
    for name in names_of(lib):
        assert libraries.resolve(name) == lib.name, name
        assert adapters.get(name).NAME == lib.name, name  # the wrap() telemetry label
        assert backends.get(name).NAME == lib.name, name  # the Verifier telemetry label
    assert lib.name in libraries.from_module(lib.trigger + ".x").name  # type: ignore[union-attr]


@pytest.mark.parametrize("lib", libraries.LIBRARIES, ids=lambda lib: lib.name)
def test_extra_installs_the_library(lib: libraries.Library) -> None:
    reqs = " ".join(EXTRAS[lib.extra]).lower()
    assert lib.distribution.lower() in reqs
    # the version range the instrumentor checks is the one the extras install
    assert lib.requirement.split(">=")[1].strip() in " ".join(EXTRAS["instruments-any"])
    assert lib.extra in EXTRAS["libraries"][0]


@pytest.mark.parametrize("bad", ["nope", "", None, 3, "jose " * 100, "pyjwt\x00"])
def test_unknown_name_is_a_configuration_error(bad: Any) -> None:
    with pytest.raises(jwtobs.ConfigurationError, match="unknown library") as info:
        libraries.get(bad)
    assert len(str(info.value)) < 200
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.wrap(lambda t: t, library=bad or "nope")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: rsa.RSAPrivateKey, **over: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "u1", "iat": now, "exp": now + 300, **over}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_wrap_and_verifier_report_the_same_label(rsa_key: rsa.RSAPrivateKey) -> None:
    """python-jose through wrap(library='python-jose') and Verifier(backend='jose') is 'jose' in both events."""
    from jose import jwt as jose_jwt

    events: list[ValidationEvent] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key="libraries-test-key", from_env=False)
    pem = rsa_key.public_key()
    good = _token(rsa_key)

    pem_text = pem.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def mine_pem(token: str) -> object:
        return jose_jwt.decode(token, pem_text, algorithms=["RS256"], audience=AUD, issuer=ISS)

    jwtobs.wrap(mine_pem, library="python-jose")(good)
    profile = jwtobs.Profile(name="orders", issuer=ISS, audience=AUD, algorithms=("RS256",), token_type="JWT")
    for backend in ("jose", "python-jose", "Python_Jose"):
        verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": pem}), backend=backend)
        assert verifier.library == "jose"
        verifier.verify(good)
    jwtobs.flush()
    assert [e.library for e in events] == ["jose"] * 4


@pytest.mark.parametrize("lib", libraries.LIBRARIES, ids=lambda lib: lib.name)
def test_missing_library_names_the_extra(lib: libraries.Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the library not importable, wrap()/Verifier raise ConfigurationError naming the extra to install."""
    for mod in list(sys.modules):
        if mod == lib.package or mod.startswith(lib.package + "."):
            monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, lib.package, None)
    for mod in (lib.adapter, lib.backend):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    hint = f"pip install 'jwtobs[{lib.extra}]'"
    with pytest.raises(jwtobs.ConfigurationError) as info:
        jwtobs.wrap(lambda t: t, library=lib.name)
    assert hint in str(info.value)
    profile = jwtobs.Profile(name="p", issuer=ISS, audience=AUD, algorithms=("HS256",))
    with pytest.raises(jwtobs.ConfigurationError) as info:
        backend = lib.aliases[0] if lib.aliases else lib.name
        jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": b"s" * 32}), backend=backend)
    assert hint in str(info.value)


def test_instrumentor_accepts_the_aliases() -> None:
    inst = instrumentation.JwtInstrumentor()
    try:
        inst.instrument(libraries=["python-jose", "PyJWT"], profile="alias-test")
        assert set(inst.instrumented_libraries) <= {"jose", "pyjwt"}
    finally:
        inst.uninstrument()
    with pytest.raises(ValueError, match="unknown libraries"):
        inst.instrument(libraries=["jose4j"])
