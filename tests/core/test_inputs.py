"""Bad input never crashes: header peek, fingerprints, sanitising, events. Property tests included."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jwtobs
from jwtobs import header
from jwtobs.fingerprint import FINGERPRINT_RE, Fingerprinter
from jwtobs.header import MAX_JSON_DEPTH, peek
from jwtobs.reasons import REASON_INFO, Reason
from jwtobs.sanitize import sanitize

from .conftest import AUD, Keys, Otel, claims


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        (None, "missing"),
        ("", "empty"),
        (b"", "empty"),
        (12, "invalid_type"),
        (["a"], "invalid_type"),
        ("x" * 70_000, "oversized"),
        ("a.b", "malformed"),
        ("a.b.c.d", "malformed"),
        ('{"payload":"x","signatures":[]}', "json"),
        (b64(b'{"alg":"dir","enc":"A256GCM"}') + ".a.b.c.d", "jwe"),
        (b64(b'{"alg":"HS256"}') + ".e30.sig", "jws"),
        ((b64(b'{"alg":"HS256"}') + ".e30.sig").encode(), "jws"),
        (bytearray((b64(b'{"alg":"HS256"}') + ".e30.sig").encode()), "jws"),
        ("  " + b64(b'{"alg":"HS256"}') + ".e30.sig\n", "jws"),
        ("\udcff.a.b", "malformed"),  # lone surrogate
        ("é" + b64(b'{"alg":"HS256"}') + ".e30.sig", "malformed"),
        (b"\xff\xfe.a.b", "malformed"),
    ],
)
def test_peek_kinds(token: object, kind: str) -> None:
    assert peek(token).kind == kind


def test_peek_deep_json_is_not_parsed() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    assert peek(b64(deep) + ".e30.s").kind == "malformed"
    nested = b'{"alg":"HS256","x":' + b"[" * (MAX_JSON_DEPTH + 5) + b"]" * (MAX_JSON_DEPTH + 5) + b"}"
    assert peek(b64(nested) + ".e30.s").kind == "malformed"
    shallow = b'{"alg":"HS256","x":[[["{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"]]]}'  # brackets inside a string
    assert peek(b64(shallow) + ".e30.s").alg == "HS256"
    deep_payload = b64(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert peek(b64(b'{"alg":"HS256"}') + "." + deep_payload + ".s").claims() is None


def test_peek_header_types_and_unsigned() -> None:
    p = peek(b64(json.dumps({"alg": "nOnE", "kid": 5, "typ": ["x"]}).encode()) + ".e30.")
    assert p.unsigned and p.alg == "nOnE" and p.kid is None and set(p.bad_header_types) == {"kid", "typ"}
    p = peek(b64(b'{"alg":"RS256","kid":"k\\u0000\\n\\u202e1"}') + ".e30.c2ln")
    assert p.kid == "k\x00\n\u202e1" and p.safe[1] == "k1"  # raw for classification, sanitised for output


def test_header_cache_is_bounded() -> None:
    for i in range(header._HEADER_CACHE_MAX * 3):
        peek(b64(json.dumps({"alg": "HS256", "kid": f"k{i}"}).encode()) + ".e30.s")
    assert len(header._HEADER_CACHE) <= header._HEADER_CACHE_MAX


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.text(max_size=300),
        st.binary(max_size=300),
        st.integers(),
        st.floats(),
        st.lists(st.text(max_size=5), max_size=3),
        st.text(alphabet='eyJhbGciOiJ0123456789-_.=AQ{}"', max_size=300),
    )
)
def test_peek_never_raises(token: object) -> None:
    p = peek(token)
    p.claims()
    p.bad_segment()


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.none(), st.text(max_size=400), st.integers(), st.binary(max_size=50), st.dictionaries(st.text(), st.text())
    )
)
def test_sanitize_output_is_printable_and_bounded(value: object) -> None:
    out = sanitize(value)
    if value is None:
        assert out is None
        return
    assert out is not None and len(out) <= 128
    assert all(c.isprintable() for c in out)
    out.encode("utf-8")  # no lone surrogates


def test_fingerprints() -> None:
    a, b = Fingerprinter(b"key-a" * 4), Fingerprinter(b"key-b" * 4)
    assert a.token("tok") == a.token(" tok\n") == a.token(b"tok")
    assert a.token("tok") != b.token("tok")
    assert a.key_id != b.key_id
    assert FINGERPRINT_RE.fullmatch(a.token("tok"))
    assert a.claim("sub", "tok") != a.token("tok") != a.claim("jti", "tok")
    assert a.claim("sub", "alice") != a.claim("email", "alice")
    assert Fingerprinter(b"k" * 16, key_id="prod1").token("x").startswith("prod1-")
    with pytest.raises(ValueError, match="key_id"):
        Fingerprinter(b"k" * 16, key_id="Bad Id")
    assert Fingerprinter(b"x" * 100).token("t")  # long keys are compressed, not rejected
    # unset: a random key per process, so no two unconfigured fingerprinters agree
    assert Fingerprinter(None).token("t") != Fingerprinter(None).token("t")


def test_fingerprint_key_from_environment(monkeypatch: pytest.MonkeyPatch, keys: Keys) -> None:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", "from-env-fingerprint-key")
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY_ID", "env1")
    jwtobs.config.reset()
    fp = jwtobs.config.current().fingerprinter
    assert fp.token("t") == Fingerprinter("from-env-fingerprint-key", key_id="env1").token("t")


def test_reason_metadata_is_complete() -> None:
    assert len(Reason) == 29 and set(REASON_INFO) == set(Reason)
    assert Reason.EXPIRED == "JWT_EXPIRED" and str(Reason.EXPIRED) == "JWT_EXPIRED"
    assert Reason.AMBIGUOUS.http_status == 400 and Reason.JWKS_UNAVAILABLE.http_status == 503
    assert {r.http_status for r in Reason} == {400, 401, 503}
    assert Reason.AMBIGUOUS.oauth_error == "invalid_request" and Reason.EXPIRED.oauth_error == "invalid_token"
    assert Reason.UNSIGNED.attack_signal and not Reason.EXPIRED.attack_signal
    assert Reason.JWKS_UNAVAILABLE.category == "dependency"
    assert {r.category for r in Reason} == {
        "structure",
        "crypto",
        "claims",
        "policy",
        "state",
        "dependency",
        "internal",
    }


def test_odd_claims_are_sanitised_in_events(keys: Keys, otel: Otel) -> None:
    evil = claims(
        iss="https://i\n\x1b[31mFAKE LOG LINE" + "x" * 500,
        azp={"nested": ["x"]},
        exp=float("nan"),
        iat=True,
        nbf="soon",
    )
    token = jwt.encode(evil, keys.hmac, algorithm="HS256", headers={"kid": "k\r\nInjected: yes"})
    with pytest.raises(jwt.InvalidIssuerError):
        jwtobs.wrap(jwt.decode)(
            token,
            keys.hmac,
            algorithms=["HS256"],
            audience=AUD,
            issuer="https://i",
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    jwtobs.flush()
    ev = otel.events[0]
    assert ev.issuer is not None and "\n" not in ev.issuer and "\x1b" not in ev.issuer and len(ev.issuer) <= 128
    assert ev.kid == "kInjected: yes"
    assert ev.client_id == "<dict>"
    assert ev.exp is None and ev.iat is None and ev.nbf is None
    line = otel.events_path.read_text()
    assert line.count("\n") == 1  # one event, one line
