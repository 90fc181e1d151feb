"""Session 16: a password holding the characters that end a bare value (generated passwords carry brackets,
quotes, punctuation and backslashes), values after a secret name and blanks, and what these rules must keep.

Before: ``password=Xk9(2]aP{z`` kept ``(2]aP{z``, ``mysql -pab"cd1e`` kept ``"cd1e``, ``apikey 9f8e7d6c5b4a`` and
``requirepass x`` kept everything. The property below draws such passwords in every bare form; its assertion is
the leak that was seen: any tail of the password that starts at one of those characters."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import jwtobs
from jwtobs.redact import LoggingRedactor, StructlogRedactor, scrub
from tests.redact.test_properties import PROFILE

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")
#: what ends a bare value (the scrubber's bare class): a password may hold them
_STOPS = ",;&\"'\\[]{}()<>"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# what is structure after a bare value, by design (documented in scrub._glued and scrub._field): a quote next to
# another end character, an escape's backslash, a closing tag, an end character before a name and a separator, and
# a capitalised word right before an opening bracket (a type's repr: "token=Token{a64f992, expired=false}")
_STRUCTURE = re.compile(
    r"""[,;&"'\\\[\]{}()<>]*["'][,;&"'\\\[\]{}()<>]|[,;&"'\[\]{}()<>]*["'][,;&"'\\\[\]{}()<>]"""
    r"""|\\[ntrbfux0,;&"'\\\[\]{}()<>]|<$|</|[,;&"'\\\[\]{}()<>][A-Za-z_][A-Za-z0-9_.\-]*["']?[:=]"""
    r"""|^[A-Z][A-Za-z]*[{(\[<]"""
)


def _symbol_password(draw: st.DrawFn) -> str:
    head = draw(st.text(_LETTERS, min_size=2, max_size=6))
    rest = draw(st.lists(st.tuples(st.sampled_from(_STOPS), st.text(_LETTERS, min_size=1, max_size=5)), min_size=1,
                         max_size=4))  # fmt: skip
    value = head + "".join(a + b for a, b in rest)
    assume(len(value) >= 8 and any(c.isdigit() for c in value) and _STRUCTURE.search(value) is None)
    return value


@st.composite
def bare_form(draw: st.DrawFn) -> tuple[str, str]:
    """A password with end characters in one of the bare forms, followed by a blank and more text."""
    pw = _symbol_password(draw)
    fmt = draw(
        st.sampled_from(
            [
                "password={v}",
                "password: {v}",
                "DB_PASSWORD={v}",
                "client_secret={v}",
                "--password {v}",
                "mysql -u root -p{v}",
                "sshpass -p {v}",
                "password {v}",
                "api_key {v}",
                "requirepass {v}",
                "x-api-key: {v}",
            ]
        )
    )
    after = draw(st.sampled_from(["", " ok", " user=bob", "\nnext line"]))
    return fmt.format(v=pw) + after, pw


def _tails(pw: str) -> list[str]:
    """The password's tails that start at an end character (4 characters or more): what a cut value leaves."""
    return [pw[i:] for i, c in enumerate(pw) if c in _STOPS and len(pw) - i >= 4]


@PROFILE
@given(bare_form())
@example(("password=Xk9(2]aP{z", "Xk9(2]aP{z"))
@example(('mysql -u root -pab"cd1eF ok', 'ab"cd1eF'))
@example(("password ab\\cd1e user=bob", "ab\\cd1e"))
@example(("password Qx7)m(n3 ok", "Qx7)m(n3"))
def test_passwords_holding_end_characters_never_leak(case: tuple[str, str]) -> None:
    jwtobs.configure(fingerprint_key="redact-session-16-key", fingerprint_key_id="s")
    text, pw = case
    out = scrub(text)
    assert isinstance(out, str)
    assert pw not in out, out
    for tail in _tails(pw):
        assert tail not in out, (tail, out)
    assert scrub(out) == out  # idempotent


KEPT = [
    # (text, the credential, what stays around it): structure after a bare value is not the value's
    ("f(password=abc123x)", "abc123x", "f(password=", ")"),
    ("Creds(password=abc123x,user=bob)", "abc123x", "Creds(password=", ",user=bob)"),
    ('["password=abc123x","x"]', "abc123x", '["password=', '","x"]'),
    ("<b>password=abc123x</b> ok", "abc123x", "<b>password=", "</b> ok"),
    ("password=abc123x;Host=db", "abc123x", "password=", ";Host=db"),
    ('{"password":abc123x,"user":"x"}', "abc123x", '{"password":"', '","user":"x"}'),  # (a JSON string now)
    ("password=abc123x\\nuser=bob", "abc123x", "password=", "\\nuser=bob"),
    ("curl -H 'apikey 9f8e7d6c5b4a' https://api.test", "9f8e7d6c5b4a", "curl -H 'apikey ", "' https://api.test"),
    ("password Xk9(2]aP{z for bob", "Xk9(2]aP{z", "password ", " for bob"),
    ("auth=HTTPBasicAuth('svc', 'Qx7m3nB2')", "Qx7m3nB2", "auth=HTTPBasicAuth('svc', '", "')"),
    ("net use Z: \\\\fs\\share Qx7m3nB2 /user:svc", "Qx7m3nB2", "net use Z: \\\\fs\\share ", " /user:svc"),
    ("vault login -no-print s.Qh7mB2xRk9TzW4vLp0sYc8Nd; ls", "s.Qh7mB2xRk9TzW4vLp0sYc8Nd;", "vault login -no-print ",
     " ls"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "secret", "before", "after"), KEPT)
def test_one_marker_in_place_of_the_credential(text: str, secret: str, before: str, after: str) -> None:
    """The marker stands exactly where the credential stood: the text's own structure is kept."""
    jwtobs.configure(fingerprint_key="redact-session-16-key", fingerprint_key_id="s")
    out = scrub(text)
    assert isinstance(out, str)
    markers = MARKER.findall(out)
    assert len(markers) == 1, out
    m = MARKER.search(out)
    assert m is not None and out[: m.start()] == before and out[m.end() :] == after, out
    assert secret not in out


def test_the_logging_and_structlog_redactors_take_them_too() -> None:
    """The redactors' cheap paths (no separator, one line) send these texts to the detectors: "apikey x" and
    "requirepass x" hold no ":", "=", ",", "." or "%"."""
    import logging

    jwtobs.configure(fingerprint_key="redact-session-16-key", fingerprint_key_id="s")
    for text, secret in (("apikey 9f8e7d6c5b4a", "9f8e7d6c5b4a"), ("requirepass Qx7m3nB2", "Qx7m3nB2"),
                         ("vault login Qh7mB2xRk9TzW4vLp0sYc8Nd", "Qh7mB2xRk9TzW4vLp0sYc8Nd")):  # fmt: skip
        event = StructlogRedactor()(None, "info", {"event": text, "msg": f"got {text}"})
        assert secret not in repr(event), event
        for msg, args in ((text, ()), ("%s", (text,)), ("got %s", (text,))):
            record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, None)
            LoggingRedactor().filter(record)
            assert secret not in record.getMessage(), record.getMessage()
