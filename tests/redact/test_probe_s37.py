"""Session 37's redaction probe: real logs of types the corpus lacks (fail2ban's test logs of ~90 daemons, Zeek's TSV
and JSON logs, nginx ingress, ALB, CloudTrail, Suricata EVE), real signed tokens planted into copies of their lines.

Changed lines that hold no credential, each fixed by what the value or the words around it look like:

- Postfix's "lost connection after AUTH from unknown[192.0.2.23]" (one of its most frequent lines) read as Redis's
  "AUTH user password": "from" is a word of prose, no user name.
- Dovecot's "(SHA1 of given password: f638ff)" (``auth_verbose_passwords=sha1:6``): a digest of the password, as
  under ``password_hash``.
- Asterisk's security log 'SessionID="17a483d-eb8cc0-556164ab@1.2.3.4"' (a SIP Call-ID): under a weak name, an
  address ``local@host`` is no session's token.

A credential left in place: an XML element named by a capitalised attribute (Windows event XML's
'<Data Name="Password">x</Data>', '<Setting Key="ApiToken">x</Setting>'); "name"/"key" in lower case were read.

Every path: ``scrub`` (str and bytes), the stdlib logging redactor, the structlog processor, ``jwtobs scrub FILE`` and
``jwtobs scan FILE`` with every engine. Secrets are made here at run time.
"""

from __future__ import annotations

import random

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.redact.test_adversarial import SIZE, _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    _fixed_key,
    opaque,
    probe_suite,
)

_RND = random.Random(3737)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int = 40) -> str:
    return opaque(_RND, n, _ALNUM)


PASSWORD = "Wq7r-" + _opaque(10)
TOKEN = _opaque()
JWS = jwt.encode(
    {"sub": "alice", "iss": "https://idp.example.com", "exp": 4102444800},
    ec.generate_private_key(ec.SECP256R1()),
    algorithm="ES256",
)
_EVENT = '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><EventData>{}</EventData></Event>'

#: name -> (line, secret, what stays)
LEAKS: dict[str, tuple[str, str, str]] = {
    "windows_event_data_password": (
        _EVENT.format(f'<Data Name="TargetUserName">svc-backup</Data><Data Name="Password">{PASSWORD}</Data>'),
        PASSWORD,
        '<Data Name="TargetUserName">svc-backup</Data>',
    ),
    "windows_event_data_token": (
        _EVENT.format(f'<Data Name="AccessToken">{TOKEN}</Data><Data Name="LogonType">3</Data>'),
        TOKEN,
        '<Data Name="LogonType">3</Data>',
    ),
    "setting_key_capitalised": (
        f'<Settings><Setting Key="ApiToken">{TOKEN}</Setting><Setting Key="Region">eu-west-1</Setting></Settings>',
        TOKEN,
        '<Setting Key="Region">eu-west-1</Setting>',
    ),
    "event_data_signed_jwt": (_EVENT.format(f'<Data Name="IdToken">{JWS}</Data>'), JWS, '<Data Name="IdToken">'),
    # still redacted: Redis's "AUTH user password", a password after a strong name, a session's token
    "redis_auth_user_password": (f"1704189600.1 redis> AUTH alice {PASSWORD}", PASSWORD, "AUTH alice"),
    "password_not_a_digest": (f"auth: given password: {PASSWORD}", PASSWORD, "given password:"),
    "session_id_token": (f'SecurityEvent="InvalidPassword",SessionID="{TOKEN}",X="1"', TOKEN, 'X="1"'),
    "weak_name_userinfo": (f"proxy auth=alice:{PASSWORD}@proxy.example.com:3128", PASSWORD, "proxy "),
}

#: real lines (fail2ban's test logs of Postfix, Dovecot and Asterisk) that hold no credential: changed before
KEPT = (
    "Feb 18 09:48:04 xxx postfix/smtpd[23]: lost connection after AUTH from unknown[192.0.2.23]",
    "Feb 18 09:48:04 mx postfix/smtpd[23]: timeout after AUTH from mail.example.com[192.0.2.23]",
    "Jun 11 13:57:17 main dovecot: auth: ldap(user@server.org,192.168.178.25,<LZmGp6mZaMrAqLIZ>): unknown user "
    "(SHA1 of given password: f638ff)",
    "Jun 11 13:57:17 main dovecot: auth: ldap(user@server.org,192.168.178.25,<LZmGp6mZaMrAqLIZ>): Password mismatch "
    "(for LDAP bind) (SHA1 of given password: f638ff)",
    '[2015-05-24 08:42:16] SECURITY[4583] res_security_log.c: SecurityEvent="ChallengeResponseFailed",'
    'EventTV="2015-05-24T08:42:16.296+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="<unknown>",'
    'SessionID="17a483d-eb8cc0-556164ab@1.2.3.4",LocalAddress="IPV4/UDP/1.2.3.4/5060",'
    'RemoteAddress="IPV4/UDP/10.250.251.252/5060",Challenge="1432446136/6d16ccf29ff59d423c6d548af00bf9b4",'
    'Response="849dfcf133d8156f77ef11a9194119df",ExpectedResponse=""',
    'sid="a1b2c3d4e5f6a7b8@sip.example.com:5060"',
    '<EventData><Data Name="SubjectUserName">bob</Data><Data Name="SessionName">Console</Data>'
    '<Data Name="KeyLength">0</Data><Data Name="TokenElevationType">%%1936</Data></EventData>',
)


globals().update(probe_suite(LEAKS, KEPT))


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    "auth_prose": lambda: _repeat("AUTH from "),
    "auth_prose_lines": lambda: _repeat("after AUTH from x[1]\n"),
    "digest_of_names": lambda: _repeat("sha1 of given password: "),
    "digest_of_words": lambda: ("hash of " + "abc " * SIZE)[:SIZE],
    "addresses": lambda: _repeat('SessionID="a@b.'),
    "address_labels": lambda: ("session=a@" + "b." * SIZE)[:SIZE],
    "named_elements": lambda: _repeat('<Data Name="Password">'),
    "named_elements_closed": lambda: _repeat('<Data Name="Password">x</Data>'),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_input_is_linear(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])
