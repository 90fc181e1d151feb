"""Session 20: the header and the claims are UTF-8 JSON with unique names, decided by the Verifier (real keys,
real tokens, every backend).

- a protected header or a payload with a UTF-8 byte-order mark, or encoded as UTF-16/UTF-32 JSON, is
  JWT_MALFORMED (``header`` / ``payload``) on every backend (RFC 7515 §2 / RFC 7519 §7.2: UTF-8; RFC 8259 §8.1: no
  BOM). Before: accepted by the pyjwt and joserfc backends (``json.loads`` of bytes detects the encoding),
  JWT_MALFORMED ``signature`` (the wrong part) on jose, jwcrypto and authlib;
- a name given twice in the header or the claims, at any depth, is JWT_MALFORMED (``header`` / ``payload``) on
  every backend (RFC 7515 §4 / RFC 7519 §4 allow rejecting; a gateway keeping the first value would read another
  token). Before: accepted with the last value on all five.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from jwtobs import Reason
from jwtobs.header import _unique, peek, strict_json
from tests.verifier.test_strictness import ALGS, KEYS, _b64, _claims, _one_verdict, _signed

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def _header_json(kind: str) -> str:
    return json.dumps({"alg": ALGS[kind], "typ": "at+jwt", "kid": kind})


def _claims_json() -> str:
    return json.dumps(_claims())


def _token(kind: str, header: bytes, payload: bytes) -> str:
    """A token whose header and payload segments encode exactly these bytes, signed with ``kind``'s key."""
    return _signed(kind, _b64(header), _b64(payload))


def _encodings(text: str) -> dict[str, bytes]:
    """``text`` as JSON in the encodings RFC 7515/7519 do not allow (each one ``json.loads`` of bytes takes)."""
    return {
        "utf8_bom": b"\xef\xbb\xbf" + text.encode(),
        "utf16": text.encode("utf-16"),  # with its BOM
        "utf16_le": text.encode("utf-16-le"),
        "utf16_be": text.encode("utf-16-be"),
        "utf32": text.encode("utf-32"),
        "utf32_le": text.encode("utf-32-le"),
    }


ENCODINGS: Final = sorted(_encodings("{}"))


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_header_not_utf8_json_is_malformed_header(kind: str, encoding: str) -> None:
    header = _encodings(_header_json(kind))[encoding]
    _one_verdict(kind, _token(kind, header, _claims_json().encode()), (Reason.MALFORMED, "header"))


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_payload_not_utf8_json_is_malformed_payload(kind: str, encoding: str) -> None:
    payload = _encodings(_claims_json())[encoding]
    _one_verdict(kind, _token(kind, _header_json(kind).encode(), payload), (Reason.MALFORMED, "payload"))


def _dup_headers(kind: str) -> dict[str, str]:
    alg = ALGS[kind]
    return {
        # a gateway keeping the first alg reads an unsigned token; every backend read the last
        "alg_none_then_alg": f'{{"alg":"none","alg":"{alg}","typ":"at+jwt","kid":"{kind}"}}',
        "alg_then_alg_none": f'{{"alg":"{alg}","typ":"at+jwt","kid":"{kind}","alg":"{alg}"}}',
        "kid_twice": f'{{"alg":"{alg}","typ":"at+jwt","kid":"other","kid":"{kind}"}}',
        "typ_twice_spaced": f'{{"alg": "{alg}", "typ" : "JWT", "typ": "at+jwt", "kid": "{kind}"}}',
        "nested_twice": f'{{"alg":"{alg}","typ":"at+jwt","kid":"{kind}","x":{{"a":1,"a":2}}}}',
        "escaped_name_twice": f'{{"alg":"{alg}","typ":"at+jwt","kid":"{kind}","\\u0061lg":"{alg}"}}',
    }


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("case", sorted(_dup_headers("rsa")))
def test_header_name_twice_is_malformed_header(kind: str, case: str) -> None:
    header = _dup_headers(kind)[case].encode()
    _one_verdict(kind, _token(kind, header, _claims_json().encode()), (Reason.MALFORMED, "header"))


def _dup_payloads() -> dict[str, str]:
    c = _claims_json()[1:-1]  # the members of a good claim set
    return {
        "iss_twice": f'{{"iss":"https://evil.example",{c}}}',
        "sub_twice_last": f'{{{c},"sub":"admin"}}',
        "exp_twice": f'{{"exp":1,{c}}}',
        "spaced_colon": f'{{{c},"jti" :"a","jti":"b"}}',
        "tab_colon": f'{{{c},"jti"\t:"a","jti":"b"}}',
        "nested_cnf": f'{{{c},"cnf":{{"jkt":"a","jkt":"b"}}}}',
        "in_array": f'{{{c},"act":[{{"sub":"a","sub":"b"}}]}}',
        # a colon after an escaped quote in a value: counted once more, which must not hide the duplicate
        "escaped_quote_colon": f'{{{c},"note":"a\\":b","jti":"a","jti":"b"}}',
        "escaped_name": f'{{{c},"\\u0073ub":"admin"}}',
    }


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("case", sorted(_dup_payloads()))
def test_claim_name_twice_is_malformed_payload(kind: str, case: str) -> None:
    payload = _dup_payloads()[case].encode()
    _one_verdict(kind, _token(kind, _header_json(kind).encode(), payload), (Reason.MALFORMED, "payload"))


def _good_payloads() -> dict[str, str]:
    c = _claims_json()[1:-1]
    return {
        "compact": json.dumps(_claims(), separators=(",", ":")),
        "spaced_colons": f'{{{c}, "x" : 1, "y"\n:\t2}}',
        "nested": f'{{{c},"ext":{{"jkt":"a"}},"act":[{{"sub":"a"}},{{"sub":"b"}}],"r":{{"r":{{"r":1}}}}}}',
        "same_name_other_objects": f'{{{c},"a":{{"a":{{"a":1}}}},"b":[{{"a":1}},{{"a":2}}]}}',
        "escaped_quote_colon": f'{{{c},"note":"a\\":b\\":"}}',
        "value_like_a_name": f'{{{c},"note":":","n2":" :x"}}',
        "non_ascii": json.dumps(_claims(name="Zoë 名前"), ensure_ascii=False),
    }


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("case", sorted(_good_payloads()))
def test_utf8_json_with_unique_names_still_accepted(kind: str, case: str) -> None:
    payload = _good_payloads()[case].encode()
    _one_verdict(kind, _token(kind, _header_json(kind).encode(), payload), None)
    header = f'{{"alg" : "{ALGS[kind]}",\n"typ":"at+jwt", "kid":"{kind}", "x":{{"x":[{{"x":1}}]}}}}'
    _one_verdict(kind, _token(kind, header.encode(), payload), None)


_TEXTS: Final = [
    "{}",
    '{"a":1}',
    '{"a":1,"a":1}',
    '{"a":1,"b":{"a":1}}',
    '{"a":{"b":1,"b":1}}',
    '{"a" :1,"a":2}',
    '{"a":1,"a"  :2}',
    '{"a":"\\":","a":2}',
    '{"a":"x\\"","b":"\\":"}',
    '{"a":[{"b":1},{"b":1,"b":2}]}',
    '{"\\u0061":1,"a":2}',
    '[{"a":1,"a":2}]',
    '{"a":1}\n',
    ' {"a":1}',
    '{"a":"{","a":1}',
    '{"a":"{"}',
    '{"a":1,"b":2,"a":3}',
    '\ufeff{"a":1}',
    '"{"',
]


@pytest.mark.parametrize("text", _TEXTS)
def test_strict_json_agrees_with_a_full_duplicate_check(text: str) -> None:
    """The cheap path (one C parse and a count) decides as a parse refusing every duplicate would."""
    try:
        want: Any = json.loads(text, object_pairs_hook=_unique)
    except ValueError:
        want = None
    assert strict_json(text.encode()) == want


def test_peek_still_reads_a_lax_header_for_telemetry() -> None:
    """What the libraries accept stays readable for events of jwtobs.wrap (only the Verifier refuses it)."""
    header = _encodings(_header_json("rsa"))["utf8_bom"]
    p = peek(_token("rsa", header, _claims_json().encode()))
    assert p.kind == "jws" and p.alg == "RS256" and p.header_lax
    assert p.claims() is not None and not peek(_token("rsa", _header_json("rsa").encode(), b"{}")).header_lax
