"""Session 18: leaks of real log lines and vendors' documented formats that the redactor let through, and the clean
look-alikes those fixes must keep.

Before: an Authorization value whose scheme is a vendor's name of capitalised words ("Authorization: GenieKey
eb243592-...", Opsgenie's API docs; "DeepL-Auth-Key 279a2e9d-...:fx", DeepL's) had the scheme redacted, read as a
mixed-case credential, and the key after it kept in the clear.
"""

from __future__ import annotations

import re

import pytest

import jwtobs
from jwtobs.redact import scrub, scrub_value

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-18-key", fingerprint_key_id="s")


# -- Authorization schemes named by capitalised words ------------------------------------------------------------
_OPSGENIE = "eb243592-faa2-4ba2-a551q-1afdf565c889"
_DEEPL = "279a2e9d-83b3-c416-7e2d-f721593e42a0:fx"
CAMEL_SCHEME_LEAKS = [
    # (text, the credential, the scheme that stays)
    (f'curl -H "Authorization: GenieKey {_OPSGENIE}" https://api.opsgenie.com/v2/alerts', _OPSGENIE, "GenieKey"),
    (f"Authorization: DeepL-Auth-Key {_DEEPL}", _DEEPL, "DeepL-Auth-Key"),
    (f"headers={{'Authorization': 'GenieKey {_OPSGENIE}', 'Accept': '*/*'}}", _OPSGENIE, "GenieKey"),
    ('{"Authorization": "ApiToken 7f3c9a2b1d8e4f60a5b7c3d9"}', "7f3c9a2b1d8e4f60a5b7c3d9", "ApiToken"),
    ("Authorization: AccessKey Qm9vM2x2dkRzW1pX4b7c", "Qm9vM2x2dkRzW1pX4b7c", "AccessKey"),
    ("Authorization: GoogleLogin auth=DQAAAGgA7Zg8CTN0k", "auth=DQAAAGgA7Zg8CTN0k", "GoogleLogin"),
]


@pytest.mark.parametrize(("text", "secret", "scheme"), CAMEL_SCHEME_LEAKS)
def test_a_vendor_scheme_of_capitalised_words_is_kept_and_its_credentials_redacted(
    text: str, secret: str, scheme: str
) -> None:
    out = scrub(text)
    assert isinstance(out, str)
    assert secret not in out and secret.split("=")[-1] not in out, out
    assert re.search(re.escape(scheme) + r" \[REDACTED:", out), out
    assert len(MARKER.findall(out)) == 1, out
    assert scrub(out) == out  # the scheme before a marker stays a scheme


def test_a_vendor_scheme_in_a_header_value_keeps_its_name() -> None:
    out = scrub_value({"headers": {"Authorization": f"GenieKey {_OPSGENIE}"}})
    value = out["headers"]["Authorization"]
    assert value.startswith("GenieKey [REDACTED:authorization:") and _OPSGENIE not in value
    # a value that is one word, or a plain word after the camel-case one: the first word is the credential, as before
    for text in ("GenieKey", "SuperSecret failed"):
        assert "[REDACTED:" in scrub_value({"Authorization": text})["Authorization"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        # a mixed-case word is no scheme when it is not capitalised words, or when what follows is no credential
        ("Authorization: xYzAbCdEfGhQ 401", "xYzAbCdEfGhQ"),
        ("authorization=SecretValue status=ok", "SecretValue"),
        ("Authorization: MySecretPassPhrase", "MySecretPassPhrase"),
    ],
)
def test_a_mixed_case_credential_is_still_the_credential(text: str, secret: str) -> None:
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out


@pytest.mark.parametrize(
    "line",
    [
        "unsupported authorization scheme: GenieKey",
        "authorization_scheme=GenieKey header=Authorization",
        'WWW-Authenticate: GenieKey realm="opsgenie"',
        "configure the DeepL-Auth-Key scheme in the Authorization header",
    ],
)
def test_camel_scheme_look_alikes_are_kept(line: str) -> None:
    assert scrub(line) == line


# -- a scheme and its credentials with the blank percent-encoded -------------------------------------------------
_OPAQUE = "Zk9xQ2mR7vLp3sT8wYc1Nd"
PERCENT_GAP_LEAKS = [
    # XRootD's opaque info carrying an Authorization value (xrootd/xrootd#2343, with an opaque token for its JWT)
    (f"Pss_Stat: url=pelican://p0@host.local:61631//ns/test1171569942?&authz=Bearer%20{_OPAQUE}&pelican.timeout=3s",
     _OPAQUE),
    (f"GET /x?header=Authorization%3A%20Bearer%20{_OPAQUE} HTTP/1.1", _OPAQUE),
    ("proxy=1&h=basic%20dXNlcjpwYXNzd29yZA%3D%3D&x=2", "dXNlcjpwYXNzd29yZA"),
    (f"upstream said: DPoP%20{_OPAQUE}", _OPAQUE),
]  # fmt: skip


@pytest.mark.parametrize(("text", "secret"), PERCENT_GAP_LEAKS)
def test_a_scheme_before_a_percent_encoded_blank_is_followed_by_credentials(text: str, secret: str) -> None:
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    assert re.search(r"(?i)(?:bearer|basic|dpop)%20\[REDACTED:(?:bearer|basic|dpop):", out), out
    assert scrub(out) == out


@pytest.mark.parametrize(
    "line",
    [
        "GET /search?q=bearer%20market%20analysis HTTP/1.1",  # a word after it: prose, as after a blank
        "GET /docs/basic%20auth%20setup.html HTTP/1.1",
        "q=Bearer%20abc&page=2",  # shorter than a credential (8 characters)
        "GET /files/annual%20report%202023.pdf HTTP/1.1",
    ],
)
def test_percent_encoded_blank_look_alikes_are_kept(line: str) -> None:
    assert scrub(line) == line
