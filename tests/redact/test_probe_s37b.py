"""Session 37's probe, second part: credentials the probe found kept, and the cost of CloudTrail records.

Kept before by ``scrub`` (str and bytes), the stdlib logging redactor and ``jwtobs scan``/``jwtobs scrub``:

- Windows' ``net use`` with its program's file name or path ("net.exe use Z: \\\\host\\share x /user:D\\u",
  '"C:\\...\\net.exe" use ...', "net1 use ..."): only "net use" was read.
- The Cowrie honeypot's "login attempt [root/x] failed" (and "succeeded", the older "[b'root'/b'x']"): the password
  has no name beside it, but the line's shape is Cowrie's own.
- A new password typed twice into passwd ('echo -e "x\\nx" | passwd bob', the current one first: "old\\nx\\nx"): the
  same word twice before "| passwd" (a shell history line, sudo's "COMMAND=").

Redacted before and pinned here: a SAML assertion (or a samlp:Response) under ``SAMLAssertion`` / ``samlAssertion`` /
``saml_assertion`` (AWS STS AssumeRoleWithSAML's parameter; a strong name now listed with SAMLResponse's).

Cost (no output changes): the key stem's field pattern starts with its roles ("api", "access", ...) and was tried at
every character of a text; the AWS secret's 40-character run was tried at every character of a base64 run; and the
scanner's batch of lines tested every AWS key id of the batch on every line (quadratic in the batch). Each now gives
the same matches as before, found faster (checked here against the patterns themselves).

Secrets are made here at run time.
"""

from __future__ import annotations

import base64
import importlib
import json
import random
import re
import time

import pytest

from jwtobs.redact import patterns as p
from jwtobs.redact import scrub
from tests.redact.test_adversarial import SIZE, _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    _fixed_key,
    opaque,
    probe_suite,
)

_S = importlib.import_module("jwtobs.redact.scrub")  # (the module: the package names its function scrub)
_RND = random.Random(3738)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int = 12) -> str:
    return opaque(_RND, n, _ALNUM)


PASSWORD = "Wq7r" + _opaque(10)
OLD = "0ld" + _opaque(9)


def _saml(response: bool) -> str:
    """The base64 of a signed SAML 2.0 assertion (or of a samlp:Response holding one), random signature and ids."""
    sig = base64.b64encode(_RND.randbytes(256)).decode()
    aid = "_" + _RND.randbytes(16).hex()
    xml = (
        f'<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0">'
        f"<saml2:Issuer>http://www.okta.com/exk{_RND.randbytes(8).hex()}</saml2:Issuer>"
        f"<ds:Signature><ds:SignatureValue>{sig}</ds:SignatureValue></ds:Signature>"
        "<saml2:Subject><saml2:NameID>bob@example.com</saml2:NameID></saml2:Subject>"
        '<saml2:AttributeStatement><saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">'
        "<saml2:AttributeValue>arn:aws:iam::123456789012:role/Admin</saml2:AttributeValue></saml2:Attribute>"
        "</saml2:AttributeStatement></saml2:Assertion>"
    )
    if response:
        xml = f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r{aid}">{xml}</samlp:Response>'
    return base64.b64encode(xml.encode()).decode()


SAML = _saml(False)
SAML_RESPONSE = _saml(True)
_COWRIE = "2026-12-07T10:00:00.123456Z [HoneyPotSSHTransport,12,203.0.113.5] "
_SUDO = "Dec  7 10:00:00 host sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash -c "
_CT = '{{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML","requestParameters":{{"roleArn":'
_CT += '"arn:aws:iam::123456789012:role/Admin","principalArn":"arn:aws:iam::123456789012:saml-provider/Okta",'
_CT += '"{name}":"{value}","durationSeconds":3600}}}}'

#: name -> (line, secret, what stays)
LEAKS: dict[str, tuple[str, str, str]] = {
    "net_exe_use": (rf"net.exe use Z: \\fileserver\share {PASSWORD} /user:CORP\bob", PASSWORD, r"/user:CORP\bob"),
    "net_exe_use_ipc": (rf"net.exe use \\host\ipc$ {PASSWORD} /user:admin", PASSWORD, r"\\host\ipc$"),
    "net_exe_path": (
        rf"C:\Windows\System32\net.exe use Z: \\fileserver\share {PASSWORD} /user:CORP\bob",
        PASSWORD,
        r"C:\Windows\System32\net.exe use Z: \\fileserver\share ",
    ),
    "net_exe_quoted_path": (
        rf'"C:\Windows\system32\net.exe" use \\10.0.0.5\C$ {PASSWORD} /user:CORP\admin',
        PASSWORD,
        r"/user:CORP\admin",
    ),
    "net1_use": (rf"net1 use Z: \\fileserver\share {PASSWORD} /user:CORP\bob", PASSWORD, "net1 use Z:"),
    "net_exe_use_json": (
        json.dumps({"CommandLine": rf"net.exe use \\host\ipc$ {PASSWORD} /user:admin"}),
        PASSWORD,
        '{"CommandLine": "net.exe use',
    ),
    "cowrie_failed": (_COWRIE + f"login attempt [root/{PASSWORD}] failed", PASSWORD, "login attempt [root/"),
    "cowrie_succeeded": (_COWRIE + f"login attempt [admin/{PASSWORD}] succeeded", PASSWORD, "] succeeded"),
    "cowrie_bytes": (_COWRIE + f"login attempt [b'root'/b'{PASSWORD}'] failed", PASSWORD, "[b'root'/b'"),
    "passwd_twice": (f'echo -e "{PASSWORD}\\n{PASSWORD}" | passwd bob', PASSWORD, "| passwd bob"),
    "passwd_twice_sudo_line": (_SUDO + f'echo -e "{PASSWORD}\\n{PASSWORD}" | passwd bob', PASSWORD, "COMMAND="),
    "passwd_twice_printf": (f"printf '{PASSWORD}\\n{PASSWORD}\\n' | sudo passwd", PASSWORD, "| sudo passwd"),
    "passwd_old_new_new": (f'echo -e "{OLD}\\n{PASSWORD}\\n{PASSWORD}" | passwd', PASSWORD, "| passwd"),
    "passwd_old_too": (f'echo -e "{OLD}\\n{PASSWORD}\\n{PASSWORD}" | passwd', OLD, "echo -e"),
    # (redacted before: pinned)
    "saml_assertion_cloudtrail": (_CT.format(name="SAMLAssertion", value=SAML), SAML, '"durationSeconds":3600'),
    "saml_assertion_camel": (json.dumps({"samlAssertion": SAML}), SAML, '{"samlAssertion": "'),
    "saml_assertion_snake": (f"saml_assertion={SAML} relay=x", SAML, " relay=x"),
    "saml_response_under_assertion": (_CT.format(name="SAMLAssertion", value=SAML_RESPONSE), SAML_RESPONSE, "roleArn"),
    "saml_assertion_repr": (repr({"body": {"SAMLAssertion": SAML}}), SAML, "{'body': {'SAMLAssertion': '"),
}

#: lines without a credential, unchanged
KEPT = (
    r"net.exe use Z: /delete",
    r"net.exe use * /delete /y",
    r"net.exe use Z: \\fileserver\share /persistent:yes",
    r"C:\Windows\System32\net.exe use",
    _COWRIE + "login attempt [admin/] failed",
    _COWRIE + "Remote SSH version: SSH-2.0-libssh2_1.8.0",
    _COWRIE + "Connection lost after 2 seconds",
    'echo -e "hello\\nworld" | passwd',
    'echo -e "yes\\nyes" | passwd',
    "echo -e 'a\\nb' | passwd --help",
    "see the login attempt [1/3] above",
    '{"eventName":"AssumeRoleWithSAML","requestParameters":{"sAMLAssertionID":"_a1b2c3d4e5f6"}}',
)


globals().update(probe_suite(LEAKS, KEPT))


def test_both_typed_passwords_are_one_marker() -> None:
    out = scrub(LEAKS["passwd_twice"][0])
    markers = re.findall(r"\[REDACTED:[^\]]+\]", out)
    assert len(markers) == 2 and markers[0] == markers[1], out


# -- the same matches, found faster --------------------------------------------------------------------------------
_FRAGMENTS = ["api", "key", "_", "-", ".", "signing", "resource_owner", "preshared", "shared", "aes", "app", "=",
              ": ", '"', "x", "1", " ", "\n", "verifier", "code", "oauth", "keykey", "apikey", "ey"]  # fmt: skip


def test_word_anchored_search_finds_what_the_pattern_finds() -> None:
    anchored = [pat for _, _, pat in (*p.TEXT_FIELDS, *p.SPACED_FIELDS) if isinstance(pat, p.WordAnchored)]
    assert len(anchored) == 4  # (the key and verifier stems, field and spaced)
    rnd = random.Random(1)
    for _ in range(4000):
        text = "".join(rnd.choices(_FRAGMENTS, k=rnd.randint(1, 30)))
        pos = rnd.randint(0, len(text))
        for pat in anchored:
            a, b = pat.search(text, pos), pat.regex.search(text, pos)
            assert (a and (a.span(), a.groupdict())) == (b and (b.span(), b.groupdict())), (text, pos)


def test_aws_secret_matches_are_the_patterns_matches() -> None:
    rnd = random.Random(2)
    parts = ["A", "b", "7", "+", "/", "=", " ", "%2B", "\\u002B", "\\x2F", "\\n", "AKIA", "-", '"', "ABCDEFGHIJ",
             "abcdefghij0123456789", "\n", "%", "\\"]  # fmt: skip
    for _ in range(4000):
        text = "".join(rnd.choices(parts, k=rnd.randint(1, 60)))
        got = [(m.span(), m.group()) for m in p.aws_secret_matches(text)]
        assert got == [(m.span(), m.group()) for m in p.AWS_SECRET_RUN.finditer(text)], text


def test_key_id_tags_are_found_as_substrings() -> None:
    rnd = random.Random(3)
    for _ in range(4000):
        ids = {rnd.choice(p.AWS_KEY_ID_PREFIXES) + "".join(rnd.choices("AB27", k=16)) for _ in range(rnd.randint(0, 3))}
        ends = {"k1-" + "".join(rnd.choices("ab", k=3)) + "]" for _ in range(rnd.randint(0, 3))}
        pool = [*ids, *ends, "AKIA", "ASIA", "]", "x", "k1-", "ab", "A2B7", "ASIAASIA"]
        line = "".join(rnd.choices(pool, k=rnd.randint(0, 12)))
        if line and rnd.random() < 0.5:
            cut = rnd.randrange(len(line))
            line = line[:cut] + line[cut + 1 :]
        assert _S._Tags(ids, ends).held(line) == any(t in line for t in (*ids, *ends)), (ids, ends, line)


def _record(rnd: random.Random) -> str:
    key_id = "ASIA" + "".join(rnd.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16))
    secret = "".join(rnd.choices(_ALNUM + "+/", k=40))
    token = "IQoJb3JpZ2luX2Vj" + base64.b64encode(rnd.randbytes(300)).decode()
    return json.dumps(
        {
            "eventName": "AssumeRole",
            "responseElements": {
                "credentials": {"accessKeyId": key_id, "sessionToken": token, "secretAccessKey": secret}
            },
            "userIdentity": {"accessKeyId": key_id},
        }
    )


def test_a_batch_of_cloudtrail_records_costs_linear_time() -> None:
    """The scanner scrubs up to 4096 lines as one text: each AWS key id of the batch was tested on every line."""
    rnd = random.Random(4)
    records = [_record(rnd) for _ in range(1600)]

    def cpu(n: int) -> float:
        text = "\n<\n".join(records[:n])
        best = 1e9
        for _ in range(2):
            start = time.thread_time()
            out = scrub(text)
            best = min(best, time.thread_time() - start)
        assert "secretAccessKey" in out and "IQoJb3JpZ2luX2Vj" not in out
        return best

    small, large = cpu(400), cpu(1600)
    assert large < 8 * small, (small, large)  # (linear: ~4x; quadratic: ~16x)


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    "cowrie_open": lambda: _repeat("login attempt [a/"),
    "cowrie_bytes_open": lambda: _repeat("login attempt [b'a'/b'"),
    "cowrie_long_password": lambda: ("login attempt [a/" + "x" * SIZE)[:SIZE],
    "cowrie_brackets": lambda: "login attempt [a/" + _repeat("] faile"),
    "passwd_twice_open": lambda: _repeat('echo -e "a\\na\\n'),
    "passwd_twice_words": lambda: 'echo -e "' + _repeat("ab\\n"),
    "passwd_twice_pipes": lambda: _repeat('echo "a\\na" | '),
    "net_exe_use": lambda: _repeat("net.exe use \\\\h\\s "),
    "net_exe_use_options": lambda: "net.exe use " + _repeat("/x "),
    "key_stems": lambda: _repeat("apikey"),
    "key_words": lambda: _repeat("keykey"),
    "key_roles_far": lambda: _repeat("resource_owner_key"),
    "b64_runs": lambda: _repeat("A" * 39 + "+"),
    "b64_one_run_with_id": lambda: ("AKIAABCDEFGHIJKLMNOP " + "A" * SIZE)[:SIZE],
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])
