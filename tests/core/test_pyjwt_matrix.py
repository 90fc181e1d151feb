"""The seed's failure matrix through ``jwtobs.wrap(jwt.decode)`` with real tokens and real keys.

For every case: the exact reason (and detail), the original exception preserved (same class and message
as the bare call), the span (status, attributes), the metric point, the event fields, and that neither
the token, its signature, nor a raw identifying claim appears in any exported span, metric, event or log.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk
from opentelemetry.trace import StatusCode

import jwtobs
from jwtobs import Reason

from .conftest import AUD, ISS, Keys, Otel, claims


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def with_header(token: str, header: dict[str, Any]) -> str:
    _, p, s = token.split(".")
    return f"{b64(json.dumps(header))}.{p}.{s}"


@dataclass
class Case:
    name: str
    token: Callable[[Keys], Any]
    key: Callable[[Keys], Any]
    kwargs: dict[str, Any]
    reason: Reason | None  # None: accepted
    detail: str | None = None


def rs(k: Keys, **over: Any) -> str:
    return jwt.encode(claims(**over), k.rsa, algorithm="RS256", headers={"kid": "rsa-1"})


RSA_PUB = lambda k: k.rsa.public_key()  # noqa: E731
RS_KW: dict[str, Any] = {"algorithms": ["RS256"], "audience": AUD, "issuer": ISS}
JWE_KEY = jwcrypto_jwk.JWK.generate(kty="oct", size=256)


def make_jwe(k: Keys) -> str:
    token = jwcrypto_jwe.JWE(json.dumps(claims()).encode(), json.dumps({"alg": "dir", "enc": "A256GCM"}))
    token.add_recipient(JWE_KEY)
    return str(token.serialize(compact=True))


CASES = [
    Case("accepted_rs256", rs, RSA_PUB, RS_KW, None),
    Case(
        "accepted_es256",
        lambda k: jwt.encode(claims(), k.ec, algorithm="ES256"),
        lambda k: k.ec.public_key(),
        {"algorithms": ["ES256"], "audience": AUD},
        None,
    ),
    Case(
        "accepted_eddsa",
        lambda k: jwt.encode(claims(), k.ed, algorithm="EdDSA"),
        lambda k: k.ed.public_key(),
        {"algorithms": ["EdDSA"], "audience": AUD},
        None,
    ),
    Case(
        "accepted_hs256",
        lambda k: jwt.encode(claims(), k.hmac, algorithm="HS256"),
        lambda k: k.hmac,
        {"algorithms": ["HS256"], "audience": AUD},
        None,
    ),
    Case("missing_none", lambda k: None, RSA_PUB, RS_KW, Reason.MISSING),
    Case("missing_empty", lambda k: "", RSA_PUB, RS_KW, Reason.MISSING),
    Case("not_a_string", lambda k: 12345, RSA_PUB, RS_KW, Reason.MALFORMED, "type"),
    Case("one_segment", lambda k: "abcdef", RSA_PUB, RS_KW, Reason.MALFORMED, "segments"),
    Case("header_not_base64", lambda k: "%%%." + rs(k).split(".", 1)[1], RSA_PUB, RS_KW, Reason.MALFORMED, "header"),
    Case(
        "header_not_object",
        lambda k: b64("[1,2]") + "." + rs(k).split(".", 1)[1],
        RSA_PUB,
        RS_KW,
        Reason.MALFORMED,
        "header",
    ),
    Case(
        "payload_not_base64",
        lambda k: rs(k).split(".")[0] + ".%%%." + rs(k).split(".")[2],
        RSA_PUB,
        RS_KW,
        Reason.MALFORMED,
        "payload",
    ),
    Case(
        "payload_not_json",
        lambda k: jwt.api_jws.encode(b"nope", k.rsa, algorithm="RS256"),
        RSA_PUB,
        RS_KW,
        Reason.MALFORMED,
        "payload",
    ),
    Case(
        "payload_not_json_unsigned_match",
        lambda k: rs(k).split(".")[0] + "." + b64("nope") + "." + rs(k).split(".")[2],
        RSA_PUB,
        RS_KW,
        Reason.BAD_SIGNATURE,
    ),
    Case(
        "signature_not_base64",
        lambda k: rs(k).rsplit(".", 1)[0] + ".a$b",
        RSA_PUB,
        RS_KW,
        Reason.MALFORMED,
        "signature",
    ),
    *[
        Case(
            f"alg_{spelling}",
            lambda k, s=spelling: f"{b64(json.dumps({'alg': s}))}.{b64(json.dumps(claims()))}.",
            RSA_PUB,
            RS_KW,
            Reason.UNSIGNED,
            "alg_none",
        )
        for spelling in ("none", "None", "NONE", "nOnE")
    ],
    Case(
        "empty_signature_rs256",
        lambda k: rs(k).rsplit(".", 1)[0] + ".",
        RSA_PUB,
        RS_KW,
        Reason.UNSIGNED,
        "empty_signature",
    ),
    Case(
        "alg_not_allowed",
        lambda k: jwt.encode(claims(), k.hmac, algorithm="HS256"),
        RSA_PUB,
        RS_KW,
        Reason.ALG_NOT_ALLOWED,
        "not_allowed",
    ),
    Case(
        "alg_missing", lambda k: with_header(rs(k), {"kid": "rsa-1"}), RSA_PUB, RS_KW, Reason.ALG_NOT_ALLOWED, "missing"
    ),
    Case(
        "bad_signature_rsa",
        lambda k: jwt.encode(claims(), k.other_rsa, algorithm="RS256"),
        RSA_PUB,
        RS_KW,
        Reason.BAD_SIGNATURE,
    ),
    Case(
        "bad_signature_ec",
        lambda k: jwt.encode(claims(), k.ec, algorithm="ES256"),
        lambda k: jwt.get_algorithm_by_name("ES256").from_jwk(  # a different EC key
            jwt.get_algorithm_by_name("ES256").to_jwk(
                __import__("cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ec"])
                .generate_private_key(
                    __import__("cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ec"]).SECP256R1()
                )
                .public_key()
            )
        ),
        {"algorithms": ["ES256"], "audience": AUD},
        Reason.BAD_SIGNATURE,
    ),
    Case(
        "bad_signature_hmac",
        lambda k: jwt.encode(claims(), b"x" * 32, algorithm="HS256"),
        lambda k: k.hmac,
        {"algorithms": ["HS256"], "audience": AUD},
        Reason.BAD_SIGNATURE,
    ),
    Case(
        "tampered_payload",
        lambda k: rs(k).split(".")[0] + "." + b64(json.dumps(claims(sub="mallory"))) + "." + rs(k).split(".")[2],
        RSA_PUB,
        RS_KW,
        Reason.BAD_SIGNATURE,
    ),
    Case("wrong_issuer", lambda k: rs(k, iss="https://evil.test"), RSA_PUB, RS_KW, Reason.ISSUER_MISMATCH, "iss"),
    Case("wrong_audience", lambda k: rs(k, aud="other-api"), RSA_PUB, RS_KW, Reason.AUDIENCE_MISMATCH, "aud"),
    Case("audience_bad_format", lambda k: rs(k, aud=42), RSA_PUB, RS_KW, Reason.CLAIM_INVALID, "aud"),
    Case("expired", lambda k: rs(k, exp=int(time.time()) - 3600), RSA_PUB, RS_KW, Reason.EXPIRED, "exp"),
    Case(
        "not_yet_valid_nbf", lambda k: rs(k, nbf=int(time.time()) + 3600), RSA_PUB, RS_KW, Reason.NOT_YET_VALID, "nbf"
    ),
    Case("iat_in_future", lambda k: rs(k, iat=int(time.time()) + 3600), RSA_PUB, RS_KW, Reason.NOT_YET_VALID, "iat"),
    Case("exp_not_integer", lambda k: rs(k, exp="tomorrow"), RSA_PUB, RS_KW, Reason.CLAIM_INVALID, "exp"),
    *[
        Case(
            f"missing_{c}",
            lambda k, c=c: rs(k, **{c: None}),
            RSA_PUB,
            {**RS_KW, "options": {"require": ["exp", "sub", "aud", "iss"]}},
            Reason.MISSING_CLAIM,
            c,
        )
        for c in ("exp", "sub", "aud")
    ],
    Case(
        "kid_not_string",
        lambda k: with_header(rs(k), {"alg": "RS256", "kid": 7}),
        RSA_PUB,
        RS_KW,
        Reason.HEADER_INVALID,
        "kid",
    ),
    Case(
        "crit_unsupported",
        lambda k: jwt.encode(claims(), k.rsa, algorithm="RS256", headers={"crit": ["exp-ext"], "exp-ext": 1}),
        RSA_PUB,
        RS_KW,
        Reason.CRIT_UNSUPPORTED,
        "crit",
    ),
    Case("jwe_where_jws_expected", make_jwe, RSA_PUB, RS_KW, Reason.UNEXPECTED_FORM, "jwe"),
    Case("oversized_garbage", lambda k: "eyJ" + "A" * 200_000, RSA_PUB, RS_KW, Reason.OVERSIZED, "token"),
    Case("bytes_token_accepted", lambda k: rs(k).encode(), RSA_PUB, RS_KW, None),
]


def _bare(case: Case, token: Any, key: Any) -> tuple[type[BaseException] | None, str | None, Any]:
    try:
        return None, None, jwt.decode(token, key, **case.kwargs)
    except Exception as exc:
        return type(exc), str(exc), None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matrix(case: Case, keys: Keys, otel: Otel) -> None:
    token = case.token(keys)
    key = case.key(keys)
    bare_cls, bare_msg, bare_result = _bare(case, token, key)
    decode = jwtobs.wrap(jwt.decode)

    if case.reason is None:
        assert bare_cls is None, f"bare call rejected: {bare_cls} {bare_msg}"
        result = decode(token, key, **case.kwargs)
        assert result == bare_result
    else:
        assert bare_cls is not None, "bare call accepted a token the case expects rejected"
        with pytest.raises(bare_cls) as info:
            decode(token, key, **case.kwargs)
        assert type(info.value) is bare_cls and str(info.value) == bare_msg
        assert jwtobs.reason_of(info.value) is case.reason
        assert jwtobs.detail_of(info.value) == case.detail

    jwtobs.flush()
    # -- event --
    assert len(otel.events) == 1
    ev = otel.events[0]
    outcome = "accepted" if case.reason is None else "rejected"
    assert ev.outcome == outcome
    assert ev.reason == (None if case.reason is None else case.reason.value)
    assert ev.detail == case.detail
    assert ev.library == "pyjwt" and ev.profile == "default"
    assert ev.duration_s > 0
    text_token = token.decode() if isinstance(token, bytes) else token
    if isinstance(text_token, str) and text_token:
        assert ev.token_fp == jwtobs.config.current().fingerprinter.token(text_token)
        assert ev.token_bytes == len(text_token)
    else:
        assert ev.token_fp is None
    line = json.loads(otel.events_path.read_text().splitlines()[0])
    assert line == json.loads(ev.to_json())
    assert line["schema"] == 1 and line["outcome"] == outcome

    # -- span --
    spans = otel.spans()
    assert len(spans) == 1
    span = spans[0]
    assert span.name == "jwt.validate default"
    attrs = dict(span.attributes or {})
    assert attrs["jwtobs.outcome"] == outcome
    assert attrs["jwtobs.library"] == "pyjwt"
    if case.reason is None:
        assert span.status.status_code is StatusCode.UNSET
        assert "jwtobs.reason" not in attrs and "error.type" not in attrs
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == case.reason.value
        assert attrs["jwtobs.reason"] == case.reason.value == attrs["error.type"]
        assert not span.events, "no exception event (its message could carry claim values)"
    assert ev.trace_id == f"{span.context.trace_id:032x}" and ev.span_id == f"{span.context.span_id:016x}"

    # -- metric point --
    points = otel.metrics()["jwtobs.validation.duration"]
    assert len(points) == 1 and points[0].count == 1
    m_attrs = dict(points[0].attributes)
    assert m_attrs["jwtobs.outcome"] == outcome
    if case.reason is not None:
        assert m_attrs["jwtobs.reason"] == case.reason.value
    for name in ("jwtobs.issuer", "jwtobs.kid", "jwtobs.alg"):
        assert name in m_attrs

    # -- nothing secret anywhere --
    exported = otel.exported_text()
    if isinstance(text_token, str) and len(text_token) > 8:
        assert text_token not in exported
        sig = text_token.rsplit(".", 1)[-1]
        if len(sig) >= 16:
            assert sig not in exported
    assert "alice@example.com" not in exported  # sub only as a keyed hash
    payload = jwtobs.header.peek(token).claims() if case.reason is not None else bare_result
    if isinstance(payload, dict) and isinstance(payload.get("jti"), str):
        assert payload["jti"] not in exported
    # the rejection is logged at WARNING with the reason, acceptances at DEBUG
    levels = [r.levelname for r in otel.log_records]
    assert levels == (["DEBUG"] if case.reason is None else ["WARNING"])


def test_matrix_covers_the_issue_list() -> None:
    covered = {c.reason for c in CASES}
    for r in (
        Reason.MISSING,
        Reason.MALFORMED,
        Reason.UNSIGNED,
        Reason.ALG_NOT_ALLOWED,
        Reason.BAD_SIGNATURE,
        Reason.ISSUER_MISMATCH,
        Reason.AUDIENCE_MISMATCH,
        Reason.EXPIRED,
        Reason.NOT_YET_VALID,
        Reason.MISSING_CLAIM,
        Reason.OVERSIZED,
        Reason.HEADER_INVALID,
        Reason.CRIT_UNSUPPORTED,
        Reason.UNEXPECTED_FORM,
        Reason.CLAIM_INVALID,
    ):
        assert r in covered
