"""Session 20: leaks of Artifactory's API key header, passwords given to twine and to net-snmp's tools, AWS
signatures outside an Authorization header, CAS service tickets outside a query, auditd arguments split into
chunks, a password cut at a parenthesis; and sudoers' NOPASSWD/PASSWD tags, which were redacted as passwords.

Each test runs over its fix's list of lines: the secret is gone, one marker stands where it stood and the rest of
the line is kept; the scanner finds every leaking line with each engine; then the look-alikes, unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import patterns, scrub, scrub_value
from tests.redact.test_leaks_s19 import (
    _EXECVE,
    _PW,
    MARKER,
    _each_redacted,
    _hex,
    _kept_and_scanned,
)


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-20-key", fingerprint_key_id="s")


_PW2 = "Pz8oW1nY6v"
_KEY = "Qx7m3nB2Zk9wLp4vRt5yUi8oPa1sDf3g"  # (no vendor prefix: an Artifactory API key of an older shape)


# -- Artifactory's API key header ---------------------------------------------------------------------------------
ARTIFACTORY_LEAKS = [
    (f"X-JFrog-Art-Api: {_KEY}", _KEY),
    (f'curl -H "X-JFrog-Art-Api: {_KEY}" -T app.jar https://art.example.com/artifactory/libs/app.jar', _KEY),
    (f"curl -sSf -H 'X-JFrog-Art-Api:{_KEY}' https://art.example.com/artifactory/api/repositories", _KEY),
    (f"send: b'GET /artifactory/api/storage/libs HTTP/1.1\\r\\nHost: art\\r\\nX-JFrog-Art-Api: {_KEY}\\r\\n'", _KEY),
    (f"request headers: {{'User-Agent': 'python-requests/2.31.0', 'X-JFrog-Art-Api': '{_KEY}'}}", _KEY),
    (f'{{"headers": {{"X-JFrog-Art-Api": "{_KEY}", "Accept": "*/*"}}}}', _KEY),
    (f"> x-jfrog-art-api: {_KEY}", _KEY),
]
ARTIFACTORY_KEPT = [
    "GET /artifactory/api/system/ping HTTP/1.1",
    "X-JFrog-Version: Artifactory/7.71.5 77105900",
    "X-Artifactory-Id: 3c8f2a1b4d5e6f70",
    "art-api started on port 8081; smart api=v2",
    "X-JFrog-Art-Api: ${ARTIFACTORY_API_KEY}",
]


def test_artifactory_api_key_header_is_redacted(tmp_path: Path) -> None:
    """Before: Artifactory's ``X-JFrog-Art-Api`` header kept a key without a vendor prefix (its name holds no secret
    stem) in header dumps, curl's ``-H``, a request's repr; 7 of 7 lines leaked."""
    _each_redacted(ARTIFACTORY_LEAKS, ARTIFACTORY_KEPT, tmp_path / "art.log")
    for name in ("X-JFrog-Art-Api", "x-jfrog-art-api", "HTTP_X_JFROG_ART_API"):
        assert scrub_value({name: _KEY})[name].startswith("[REDACTED:api_key:"), name
    assert patterns.header_kind("X-JFrog-Art-Api") == patterns.API_KEY


# -- twine and net-snmp's command lines -------------------------------------------------------------------------
COMMAND_LEAKS = [
    (f"+ twine upload -u deploy -p {_PW} dist/*", _PW),
    (f"$ python -m twine upload --repository testpypi -u __token__ -p {_PW} dist/pkg-1.0.tar.gz", _PW),
    (f"twine upload --repository-url https://pypi.example.com/ -u deploy --password {_PW} dist/*", _PW),
    (f"twine upload -u deploy -p'{_PW}' dist/*", _PW),
    # net-snmp: v3's authentication and privacy passphrases (-A, -X; -a and -x name the protocols), a v1/v2c
    # community that is not a default one
    (f"snmpwalk -v3 -l authPriv -u monitor -a SHA -A {_PW} -x AES 10.0.0.1 system", _PW),
    (f"snmpwalk -v3 -l authPriv -u monitor -a SHA -x AES -X {_PW} 10.0.0.1 system", _PW),
    (f"snmpget -v3 -u monitor -l authNoPriv -a MD5 -A '{_PW}' 10.0.0.1 sysDescr.0", _PW),
    (f"snmpwalk -v2c -c {_PW} 10.0.0.1 system", _PW),
    (f"/usr/bin/snmpbulkwalk -v2c -c{_PW} -Cr25 10.0.0.1 ifTable", _PW),
    (f"snmpset -v 1 -c {_PW} 10.0.0.1 sysContact.0 s ops@example.com", _PW),
    (f"check_snmp: running snmpget -t 5 -r 2 -m '' -v 2c -c '{_PW}' 10.0.0.1:161 sysUpTime.0", _PW),
]
SNMP_BOTH = f"snmpwalk -v3 -l authPriv -u monitor -a SHA -A {_PW} -x AES -X {_PW2} 10.0.0.1"
COMMAND_KEPT = [
    # the default communities are no secret (net-snmp's and every vendor's "public", "private")
    "snmpwalk -v2c -c public 10.0.0.1 system",
    "snmpget -v1 -c public localhost sysDescr.0",
    "snmpset -v2c -c private 10.0.0.1 sysContact.0 s ops",
    "snmpwalk -v3 -l noAuthNoPriv -u monitor 10.0.0.1",
    "snmpwalk -v3 -l authPriv -u monitor -a SHA -x AES 10.0.0.1",
    # -c of other programs: a configuration file, a command, a count
    "snmpd -c /etc/snmp/snmpd.conf -Lsd -f",
    "snmptrapd -c /etc/snmp/snmptrapd.conf -f -Lo",
    "bash -c 'echo hello world'",
    "ping -c 4 10.0.0.1",
    "cut -c 1-10 file.txt; gcc -c main.c -o main.o; tar -c -f a.tar dir",
    "twine check dist/*",
    "twine upload dist/*",
    "twine upload -u __token__ dist/*",
    "twine upload --password-stdin < token.txt",
]


def test_a_password_given_to_twine_or_an_snmp_tool_is_redacted(tmp_path: Path) -> None:
    """Before: twine's ``-p x`` (its ``--password x`` was redacted already), net-snmp's ``-A x``, ``-X x`` and
    ``-c community`` kept the secret; 10 of the 11 lines leaked (and both secrets of the line with ``-A`` and
    ``-X``)."""
    _each_redacted(COMMAND_LEAKS, COMMAND_KEPT, tmp_path / "commands.log")
    out = scrub(SNMP_BOTH)
    assert _PW not in out and _PW2 not in out and len(MARKER.findall(out)) == 2 and scrub(out) == out, out


# -- AWS signatures outside an Authorization header -------------------------------------------------------------
_SIG = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
_SIG1 = "5d672d79c15b13162d9279b0855cfba6789a8edb"
SIGNATURE_LEAKS = [
    # botocore's auth module at DEBUG ('Signature:\n%s' on one line as an escaped message, or the header's parts)
    (f"2024-01-09 10:12:01,123 botocore.auth [DEBUG] Signature:\\n{_SIG}", _SIG),
    (f"Signature: {_SIG}", _SIG),
    (f"DEBUG:botocore.auth:Signature={_SIG}", _SIG),
    (f"signature = {_SIG1}", _SIG1),
    (f'{{"Signature": "{_SIG}", "Region": "us-east-1"}}', _SIG),
]  # fmt: skip
# (the header's parts without its name: the Credential's key id is a secret field's value too, as before)
SIGNATURE_PARTS = (
    "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, "
    f"Signature={_SIG}"
)
SIGNATURE_MULTILINE = f"2024-01-09 10:12:01,123 - botocore.auth - DEBUG - Signature:\n{_SIG}"
SIGNATURE_ALREADY = [
    # (redacted before: the Authorization header whole, the presigned URL's signature, the session token)
    f"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    f"SignedHeaders=host;range;x-amz-date, Signature={_SIG}",
    "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z"
    f"&X-Amz-SignedHeaders=host&X-Amz-Signature={_SIG}",
    f"GET https://b.s3.amazonaws.com/k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2FwEaCXVz&X-Amz-Signature={_SIG}",
    "'X-Amz-Security-Token': 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample'",
]
SIGNATURE_KEPT = [
    "The signature verification failed. Signature: invalid",
    "Signature: none; Signature=unsigned; signature: missing",
    "the Signature field is required (Signature version 4)",
    "Signature: 5d672d79",  # (a short id, no digest)
    "Signature: Windows Defender Antivirus signature version 1.403.123.0",
    "SignatureVersion=4 SignatureMethod=HmacSHA256",
    "Code signature: valid (Developer ID Application: Example Inc)",
    "signature_hash=sha256 signature-algorithm: ecdsa-with-SHA384",
]


def test_an_aws_signature_outside_an_authorization_header_is_redacted(tmp_path: Path) -> None:
    """Before: a request signature as botocore's DEBUG log writes it ("Signature:" and the hex digest), or as the
    Authorization header's parts without the header's name, kept its digest: 6 of the 7 lines leaked (the other,
    "DEBUG:botocore.auth:Signature=<hex>", was redacted whole as the value of the logger name's "auth", the
    "Signature=" with it)."""
    _each_redacted(SIGNATURE_LEAKS, SIGNATURE_KEPT, tmp_path / "sig.log")
    for text in (SIGNATURE_MULTILINE, SIGNATURE_PARTS):
        out = scrub(text)
        assert _SIG not in out and scrub(out) == out and patterns.may_hold_secret(text), out
        assert "Signature=[REDACTED:secret_field:" in out or "Signature:\n[REDACTED:secret_field:" in out, out
    for text in SIGNATURE_ALREADY:
        assert _SIG not in scrub(text) and "IQoJb3" not in scrub(text)


# -- CAS service tickets outside a query -----------------------------------------------------------------------
_ST = "ST-1764-1lAgfQwbrmpIsp5c2kcT-int-sso.example.com"
_ST2 = "ST-1499890541-fFvDc3ATyrC6EaNMIpnWFlgvyYkwXsh6"
CAS_LEAKS = [
    (f"2024-01-09 10:00:00 INFO [org.apereo.cas] Granted ticket [{_ST}] for service [https://app.example.com]", _ST),
    (f"Validating service ticket {_ST2} for https://app.example.com/login", _ST2),
    (f"GET /cas/login/{_ST} HTTP/1.1", _ST),
    (f'10.0.0.5 - - [09/Jan/2024:10:00:00 +0000] "GET /sso/callback/{_ST2} HTTP/1.1" 302 0', _ST2),
    (f"ticket {_ST2} expired", _ST2),
    ("proxy granting ticket PGT-330-CSdUmrZaDyakFGDWMWNx2ZQ89NBqwH5Je5QWfp8L25QRXbJNYvoU issued",
     "PGT-330-CSdUmrZaDyakFGDWMWNx2ZQ89NBqwH5Je5QWfp8L25QRXbJNYvoU"),
]  # fmt: skip
CAS_KEPT = [
    "ST-1234 fixed the login bug",
    "branch ST-42-refactor-authentication-module merged",
    "ST-1234-refactorauthenticationmodule",
    "ST-2 ST-3 ST-4 tickets closed; see PT-42-fix-login-form-validation",
    "TEST-1234-AbCdEfGhIjKlMnOpQrSt is a test id",
    "FIRST-12-AbCdEfGhIjKlMnOpQr",
    "Mounted /dev/sdb1 ST-4000DM004-2CV104 disk",
]


def test_a_cas_ticket_outside_a_query_is_redacted(tmp_path: Path) -> None:
    """Before: a CAS ticket was redacted only as a query's ``ticket=`` (``pgt=``...) value; in a message, a
    URL's path or a bracket it was kept: 6 of 6 lines leaked."""
    _each_redacted(CAS_LEAKS, CAS_KEPT, tmp_path / "cas.log")


# -- auditd's EXECVE arguments split into chunks --------------------------------------------------------------
AUDIT_SPLIT_LEAKS = [
    # an argument longer than the kernel's chunk: its length, then its chunks ("a2_len=... a2[0]=... a2[1]=...")
    (_EXECVE + f'argc=4 a0="sshpass" a1="-p" a2_len=10 a2[0]={_hex(_PW[:6])} a2[1]={_hex(_PW[6:])} a3="ssh"', _PW),
    (_EXECVE + f'argc=3 a0="mysql" a1="--password" a2_len=10 a2[0]="{_PW[:4]}" a2[1]="{_PW[4:]}"', _PW),
    (_EXECVE + f'argc=3 a0="sh" a1="-c" a2_len=40 a2[0]={_hex("mysql -u root -p" + _PW[:3])} '
     f'a2[1]={_hex(_PW[3:] + " app")}', _PW),
]  # fmt: skip
AUDIT_SPLIT_KEPT = [
    _EXECVE + f'argc=3 a0="sh" a1="-c" a2_len=26 a2[0]={_hex("echo hello ")} a2[1]={_hex("world and more")}',
    _EXECVE + 'argc=3 a0="sh" a1="-c" a2_len=15496 a2[0]=6563686F20276D345F',
    _EXECVE + 'argc=4 a0="ssh" a1="-p" a2_len=4 a2[0]="22" a2[1]="22" a3="host"',
]


def test_a_password_split_across_auditd_argument_chunks_is_redacted(tmp_path: Path) -> None:
    """Before: an EXECVE argument split into chunks (``a2_len=N a2[0]=... a2[1]=...``) was not joined: a password
    spanning the chunks was kept, 3 of 3 lines leaked. Now the chunks are one argument: the first holds the scrubbed
    argument, the others are dropped."""
    for text, secret in AUDIT_SPLIT_LEAKS:
        out = scrub(text)
        pieces = (secret[:3], secret[3:], _hex(secret[:3]), _hex(secret[3:]))
        assert not any(piece in out for piece in pieces), out
        assert len(MARKER.findall(out)) == 1 and scrub(out) == out, out
        assert out.startswith(_EXECVE + "argc=") and 'a0="' in out, out
        assert patterns.may_hold_secret(text)
    assert scrub(AUDIT_SPLIT_LEAKS[0][0]).endswith(' a3="ssh"')
    _kept_and_scanned(AUDIT_SPLIT_KEPT, [text for text, _ in AUDIT_SPLIT_LEAKS], tmp_path / "audit.log")


# -- passphrases, a password holding a parenthesis --------------------------------------------------------------
VALUE_LEAKS = [
    (f"passphrase: {_PW}", _PW),
    (f"passphrase={_PW}", _PW),
    (f"ssl_passphrase = {_PW}", _PW),
    ("password=Reset(00", "Reset(00"),
    ("password=Reset(00 user=bob", "Reset(00"),
    ("login failed: password: Reset(00, user: bob", "Reset(00"),
    ("password=Summer(2024", "Summer(2024"),
    ("db password=Welcome{1 host=db", "Welcome{1"),
]
VALUE_KEPT = [
    "passphrase: required",
    "passphrase=",
    "password=(none)",
    "token=Token{a64f992, expired=false}",
    "token=Token(value=abc, expired=true)",
    "pam_unix(passwd:chauthtok): password changed for root",
]


def test_a_passphrase_and_a_password_cut_at_a_parenthesis_are_redacted(tmp_path: Path) -> None:
    """Before: the passphrases were redacted already (3 lines); a password that starts with a word and holds an
    opening bracket ("password=Reset(00") was read as a type's repr ("Token{a64f992, ...}") and kept whole: 3 of
    the 8 lines leaked (the other brackets, "Summer(2024", "Welcome{1", were read as a password's already)."""
    _each_redacted(VALUE_LEAKS, VALUE_KEPT, tmp_path / "values.log")


# -- sudoers' tags: NOPASSWD and PASSWD name no password ----------------------------------------------------------
SUDOERS_KEPT = [
    "deploy ALL=(ALL) NOPASSWD: ALL",
    "%wheel ALL=(ALL) NOPASSWD:ALL",
    "%admin ALL=(ALL:ALL) PASSWD: ALL",
    "%admin ALL=(ALL:ALL) PASSWD: /usr/bin/apt",
    "jenkins ALL=(root) NOPASSWD: SETENV: /usr/bin/systemctl restart app",
    "ops ALL=(ALL) NOEXEC: NOPASSWD: SERVICES, PASSWD: SHUTDOWN_CMDS",
    "Defaults:deploy !requiretty, NOPASSWD: /usr/bin/systemctl",
    "/etc/sudoers.d/90-cloud-init-users: ubuntu ALL=(ALL) NOPASSWD:ALL",
    "Dec  5 06:00:01 host sudo: deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/ls",
]


def test_sudoers_tags_are_kept() -> None:
    """Before: "NOPASSWD: ALL" was redacted as a password named "NOPASSWD" (2 of 9 lines changed); a sudoers tag
    names no secret."""
    for line in SUDOERS_KEPT:
        assert scrub(line) == line, scrub(line)
    assert scrub("PASSWD=hunter22") != "PASSWD=hunter22"
    assert scrub("passwd: hunter22 ") != "passwd: hunter22 "
