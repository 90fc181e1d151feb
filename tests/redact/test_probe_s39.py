"""Session 39's probe: public formats the earlier probes had not used, and session 38's leftovers.

Sources (the lines' shapes; every value here is made at run time): HashiCorp's command references (developer.
hashicorp.com: "consul acl bootstrap" / "consul acl token create" output, "SecretID: <uuid>", and the ACL API's JSON;
"nomad acl bootstrap" / "nomad acl token info", "Secret ID = <uuid>"; "vault operator init", "Unseal Key 1: <base64>",
"Initial Root Token: hvs..."; "vault operator unseal <key>"; AppRole's "secret_id"), OpenSSL's passwd(1), Spring Boot
Actuator's /env endpoint with its values shown, "terraform output -json", CloudTrail's PutParameter records, Dovecot's
authentication debug log (doc.dovecot.org, "Debugging Authentication": "client in: AUTH 1 PLAIN ... resp=<base64>")
and its passdb/passwd-file "{PLAIN}" scheme, python-ldap's call trace (trace_level), OpenLDAP's slapd.conf/cn=config,
nslcd.conf, Postfix's LDAP tables and SSSD's password settings, LDIF's base64 values ("userPassword:: <base64>").

Kept before by ``scrub`` (str and bytes), the stdlib logging redactor and ``jwtobs scan``/``jwtobs scrub`` with every
engine (the JSON list of Vault's keys: its first element only).
"""

from __future__ import annotations

import base64
import random
import uuid

import pytest

from jwtobs.redact import patterns as p
from jwtobs.redact import scrub
from tests.redact.test_adversarial import SIZE, _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    _fixed_key,
    opaque,
    probe_suite,
)

_RND = random.Random(3939)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int) -> str:
    return opaque(_RND, n, _ALNUM)


def _uuid() -> str:
    return str(uuid.UUID(int=_RND.getrandbits(128), version=4))


PASSWORD = "Qx7" + _opaque(11)
TOKEN = _opaque(40)
ACL_TOKEN = _uuid()
ACCESSOR = _uuid()
#: a share of Vault's root key: 33 bytes, base64 (44 characters) and hex (66)
UNSEAL = base64.b64encode(_RND.randbytes(33)).decode()
UNSEAL_2 = base64.b64encode(_RND.randbytes(33)).decode()
UNSEAL_HEX = _RND.randbytes(33).hex()
PLAIN_RESP = base64.b64encode(b"\0bob@example.com\0" + PASSWORD.encode()).decode()
B64_PASSWORD = base64.b64encode(PASSWORD.encode()).decode()
#: a hashed userPassword in an LDIF: base64 of "{SSHA}<digest>" (a hash, kept)
B64_SSHA = base64.b64encode(b"{SSHA}" + base64.b64encode(_RND.randbytes(24))).decode()
_DOVECOT = "Dec  7 12:00:00 mx dovecot: auth: Debug: client in: "

#: name -> (line, secret, what stays)
LEAKS: dict[str, tuple[str, str, str]] = {
    # HashiCorp's ACL tokens under their "secret id": a UUID there is the token (session 38 left them)
    "consul_pretty": (f"SecretID:         {ACL_TOKEN}", ACL_TOKEN, "SecretID:         "),
    "consul_json": (
        f'{{"AccessorID":"{ACCESSOR}","SecretID":"{ACL_TOKEN}","Description":"Bootstrap Token (Global Management)"}}',
        ACL_TOKEN,
        f'"AccessorID":"{ACCESSOR}","SecretID":"',
    ),
    "nomad": (f"Secret ID    = {ACL_TOKEN}", ACL_TOKEN, "Secret ID    = "),
    "approle_login": (
        f"+ vault write auth/approle/login role_id={ACCESSOR} secret_id={ACL_TOKEN}",
        ACL_TOKEN,
        f"role_id={ACCESSOR} secret_id=",
    ),
    "approle_table": (f"secret_id             {ACL_TOKEN}", ACL_TOKEN, "secret_id             "),
    # Vault's unseal and recovery keys (the root token was redacted already: "Initial Root Token: hvs...")
    "vault_unseal_key": (f"Unseal Key 1: {UNSEAL}", UNSEAL, "Unseal Key 1: "),
    "vault_recovery_key": (f"Recovery Key 3: {UNSEAL}", UNSEAL, "Recovery Key 3: "),
    "vault_init_json": (
        f'{{"unseal_keys_b64":["{UNSEAL}","{UNSEAL_2}"],"unseal_keys_hex":["{UNSEAL_HEX}"],"unseal_shares":5}}',
        UNSEAL_2,
        '"unseal_shares":5}',
    ),
    "vault_operator_unseal": (f"+ vault operator unseal {UNSEAL}", UNSEAL, "+ vault operator unseal "),
    "vault_unseal_legacy": (f"vault unseal {UNSEAL}", UNSEAL, "vault unseal "),
    # OpenSSL's passwd: the argument is the password
    "openssl_passwd_6": (f"openssl passwd -6 {PASSWORD}", PASSWORD, "openssl passwd -6 "),
    "openssl_passwd_salt": (f"openssl passwd -1 -salt x {PASSWORD}", PASSWORD, "openssl passwd -1 -salt x "),
    "openssl_passwd_quoted": (f"+ openssl passwd -6 -salt Xz91kd '{PASSWORD}'", PASSWORD, "-salt Xz91kd '"),
    "openssl_passwd_apr1": (f"openssl passwd -apr1 {PASSWORD}", PASSWORD, "openssl passwd -apr1 "),
    # a secret's value in an object under its name: Spring Boot Actuator's /env, Terraform's outputs
    "actuator_env": (
        f'"spring.datasource.password":{{"value":"{PASSWORD}",'
        '"origin":"class path resource [application.yml] - 7:17"}',
        PASSWORD,
        '"origin":"class path resource [application.yml] - 7:17"}',
    ),
    "actuator_env_variable": (
        f'"SPRING_DATASOURCE_PASSWORD":{{"value":"{PASSWORD}","origin":"System Environment Property"}}',
        PASSWORD,
        '"SPRING_DATASOURCE_PASSWORD":{"value":"',
    ),
    "actuator_client_secret": (
        f'"spring.security.oauth2.client.registration.github.client-secret":{{"value":"{TOKEN}"}}',
        TOKEN,
        'client-secret":{"value":"',
    ),
    "terraform_output_json": (
        f'{{"db_password": {{"sensitive": true, "type": "string", "value": "{PASSWORD}"}}}}',
        PASSWORD,
        '"sensitive": true, "type": "string", "value": "',
    ),
    # an SSM parameter's value under its path (CloudTrail's PutParameter)
    "cloudtrail_put_parameter": (
        f'"requestParameters":{{"name":"/prod/db/password","value":"{PASSWORD}","type":"SecureString"}}',
        PASSWORD,
        '"name":"/prod/db/password","value":"',
    ),
    # Dovecot: the SASL response of its auth protocol, a password under a clear scheme
    "dovecot_auth_resp": (
        _DOVECOT
        + f"AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\trip=198.51.100.7\tsecured\tresp={PLAIN_RESP}",
        PLAIN_RESP,
        "\tsecured\tresp=",
    ),
    "dovecot_passdb_plain": (
        "Dec  7 12:00:00 mx dovecot: auth: Debug: client passdb out: OK\t1\t"
        f"user=bob@example.com\tpassword={{PLAIN}}{PASSWORD}",
        PASSWORD,
        "\tpassword={PLAIN}",
    ),
    "dovecot_passwd_file": (f"bob@example.com:{{PLAIN}}{PASSWORD}::::::", PASSWORD, "bob@example.com:{PLAIN}"),
    # LDAP: python-ldap's trace of a bind, the servers' and clients' own password settings, LDIF's base64
    "python_ldap_trace": (
        "*** <ldap.ldapobject.SimpleLDAPObject object at 0x7f3a> ldap://ldap.example.com - "
        f"SimpleLDAPObject.simple_bind(('cn=admin,dc=example,dc=com', '{PASSWORD}', None, None),{{}})",
        PASSWORD,
        "simple_bind(('cn=admin,dc=example,dc=com', '",
    ),
    "olc_root_pw": (f"olcRootPW: {PASSWORD}", PASSWORD, "olcRootPW: "),
    "slapd_rootpw": (f"rootpw {PASSWORD}", PASSWORD, "rootpw "),
    "nslcd_bindpw": (f"bindpw {PASSWORD}", PASSWORD, "bindpw "),
    "postfix_bind_pw": (f"bind_pw = {PASSWORD}", PASSWORD, "bind_pw = "),
    "sssd_authtok": (f"ldap_default_authtok = {PASSWORD}", PASSWORD, "ldap_default_authtok = "),
    "ldif_user_password_b64": (f"userPassword:: {B64_PASSWORD}", B64_PASSWORD, "userPassword:: "),
    "ldif_olc_root_pw_b64": (f"olcRootPW:: {B64_PASSWORD}", B64_PASSWORD, "olcRootPW:: "),
}

#: the same formats without a credential, unchanged
KEPT = (
    f"AccessorID:       {ACCESSOR}",
    "SecretID:         <hidden>",
    '"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"',
    '"requestParameters":{"secretId":"prod/db/password"}',
    "SecretId: prod/app/api-key",
    f"Accessor ID  = {ACCESSOR}",
    f"secret_id_accessor    {ACCESSOR}",
    "secret_id_num_uses    0",
    f"Unseal Nonce: {_uuid()}",
    "Unseal Progress: 2/3",
    "Recovery Key Shares: 5",
    "Unseal Key (will be hidden):",
    '{"unseal_shares":5,"unseal_threshold":3,"recovery_keys_b64":[],"recovery_keys_hex":[]}',
    "+ vault operator unseal",
    "+ vault operator unseal -reset",
    "openssl passwd -6 -stdin",
    "openssl passwd -6 -in passwords.txt",
    'openssl passwd -6 "$PASSWORD"',
    "openssl passwd -6 -salt abc -stdin < pw.txt",
    '"spring.datasource.password":{"value":"******","origin":"class path resource [application.yml] - 7:17"}',
    '"spring.datasource.url":{"value":"jdbc:postgresql://db:5432/app","origin":"x"}',
    '"password_policy":{"value":"strict"}',
    '{"name":"/prod/db/host","value":"db.internal"}',
    '{"name": "/oauth/token", "value": 42}',
    '{"name": "/oauth/token", "value": "POST"}',
    '"requestParameters":{"name":"/prod/db/password","withDecryption":true}',
    _DOVECOT + "AUTH\t1\tPLAIN\tservice=imap\tsecured",
    _DOVECOT + f"AUTH\t1\tLOGIN\tservice=smtp\tresp={base64.b64encode(b'bob').decode()}",
    "default_pass_scheme = PLAIN",
    "password={SHA512-CRYPT}$6$rounds=5000$abc$def",
    "userPassword: {SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
    f"userPassword:: {B64_SSHA}",
    "jpegPhoto:: /9j/4AAQSkZJRgABAQ==",
    'conn=1000 op=0 BIND dn="cn=admin,dc=example,dc=com" method=128',
    "ldap_default_authtok_type = password",
    "auth required pam_unix.so use_authtok",
    'rootdn "cn=admin,dc=example,dc=com"',
    "SimpleLDAPObject.search_ext(('dc=example,dc=com', 2, '(uid=bob)', None, 0),{})",
)


globals().update(probe_suite(LEAKS, KEPT))


def test_every_vault_key_of_a_list_is_a_marker() -> None:
    out = scrub(LEAKS["vault_init_json"][0])
    assert isinstance(out, str)
    assert UNSEAL not in out and UNSEAL_2 not in out and UNSEAL_HEX not in out, out
    assert out.count("[REDACTED:secret_field:") == 3, out


def test_a_hashicorp_token_is_a_uuid_under_secret_id() -> None:
    # (an AWS Secrets Manager "SecretId" names a secret: a name or an ARN, no UUID; a "_accessor" is no token)
    assert scrub(f"SecretId={ACL_TOKEN}") != f"SecretId={ACL_TOKEN}"
    for line in (f"SecretIdentifier: {ACL_TOKEN}", f"secret_id_accessor: {ACL_TOKEN}", "SecretId: prod/db"):
        assert scrub(line) == line


def test_the_names_of_listed_keys_and_ldap_passwords() -> None:
    for name in ("unseal_keys_b64", "recovery_keys_hex", "unseal_key", "olcRootPW", "bindpw", "bind_pw", "authtok"):
        assert p.name_strength(name) == p.STRONG, name
    for name in (
        "unseal_shares",
        "unseal_nonce",
        "recovery_key_id",
        "keys_b64",
        "api_keys",
        "ldap_default_authtok_type",
    ):
        assert p.name_strength(name) != p.STRONG, name


def test_an_ldif_value_that_is_a_hash_is_kept() -> None:
    assert not p.ldif_b64_secret(B64_SSHA)
    assert p.ldif_b64_secret(B64_PASSWORD)
    assert p.ldif_b64_secret(base64.b64encode(b"{CLEARTEXT}" + PASSWORD.encode()).decode())


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    "secret_id": lambda: _repeat("secret id = "),
    "secret_ids_blanks": lambda: _repeat("SecretID "),
    "vault_key_lines": lambda: _repeat("unseal key 1: "),
    "vault_key_run": lambda: ("Unseal Key 1: " + "A" * SIZE)[:SIZE],
    "vault_key_lists": lambda: _repeat('"unseal_keys_b64":["a",'),
    "vault_unseal": lambda: _repeat("vault operator unseal -x "),
    "openssl_passwd": lambda: _repeat("openssl passwd -salt "),
    "named_objects": lambda: _repeat('"password":{"a":"b",'),
    "named_objects_values": lambda: _repeat('"password":{"value":'),
    "named_object_names": lambda: ('"' + "a" * SIZE)[: SIZE - 14] + '":{"value":"x"',
    "dovecot_resp": lambda: _repeat("auth\t1\tplain\tresp="),
    "dovecot_fields": lambda: "auth\t1\tplain\t" + _repeat("a\t"),
    "clear_scheme": lambda: _repeat("{plain}"),
    "ldif_b64": lambda: _repeat("userpassword:: "),
    "ldif_names": lambda: _repeat("a;b;c;"),
    "name_value_paths": lambda: '{"name":"' + _repeat("/a") + '"',
    "ldap_trace": lambda: _repeat("simple_bind(("),
    "ldap_names": lambda: _repeat("bindpw rootpw "),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_the_new_forms_scrub_in_linear_time(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]()[:SIZE])
