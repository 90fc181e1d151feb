"""Session 18: leaks of real log lines and vendors' documented formats that the redactor let through, and the clean
look-alikes those fixes must keep.

Before: an Authorization value whose scheme is a vendor's name of capitalised words ("Authorization: GenieKey
eb243592-...", Opsgenie's API docs; "DeepL-Auth-Key 279a2e9d-...:fx", DeepL's) had the scheme redacted, read as a
mixed-case credential, and the key after it kept in the clear. "Bearer%20<token>" (an Authorization value carried in a
URL) kept the token; PHP stack frames kept the password argument of PDO/mysqli/ftp/ldap calls. And a precision fix:
MySQL's "Access denied ... (using password: YES)" had its YES redacted as a one-word password.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import scan, scrub, scrub_value

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


CAMEL_SCHEME_KEPT = [
    "unsupported authorization scheme: GenieKey",
    "authorization_scheme=GenieKey header=Authorization",
    'WWW-Authenticate: GenieKey realm="opsgenie"',
    "configure the DeepL-Auth-Key scheme in the Authorization header",
]


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


PERCENT_GAP_KEPT = [
    "GET /search?q=bearer%20market%20analysis HTTP/1.1",  # a word after it: prose, as after a blank
    "GET /docs/basic%20auth%20setup.html HTTP/1.1",
    "q=Bearer%20abc&page=2",  # shorter than a credential (8 characters)
    "GET /files/annual%20report%202023.pdf HTTP/1.1",
]


# -- the password argument of a PHP stack frame ------------------------------------------------------------------
# (the first line as Apache's error log holds it: lucasfrag/kali-linux-tools-interface#4, its escaped line breaks
# included; the trace frames of PHP's connect and login functions, as PHP renders their arguments)
PHP_APACHE_LINE = (
    "[Sun Jul 26 00:01:14.874623 2020] [php7:error] [pid 10474] [client 192.168.0.102:51825] PHP Fatal error:  "
    "Uncaught PDOException: SQLSTATE[HY000] [1698] Access denied for user 'root'@'localhost' in "
    "/var/www/html/kaligui/assets/includes/config.php:6\\nStack trace:\\n#0 /var/www/html/kaligui/assets/includes/"
    "config.php(6): PDO->__construct('mysql:host=127....', 'root', 'toor', Array)\\n#1 /var/www/html/kaligui/index.php"
    "(35): getConnectionDB()\\n#2 {main}\\n  thrown in /var/www/html/kaligui/assets/includes/config.php on line 6"
)
PHP_FRAME_LEAKS = [
    (PHP_APACHE_LINE, "'toor'"),
    ("#1 /app/vendor/laravel/framework/src/Illuminate/Database/Connectors/Connector.php(70): Illuminate\\Database\\"
     "Connectors\\Connector->createPdoConnection('mysql:host=127....', 'forge', 'Qx7m3nB2', Array)", "Qx7m3nB2"),
    ("#0 /app/vendor/doctrine/dbal/lib/Doctrine/DBAL/Driver/PDOConnection.php(39): Doctrine\\DBAL\\Driver\\"
     "PDOConnection->__construct('mysql:host=db;d...', 'app', 'Qx7m3nB2', Array)", "Qx7m3nB2"),
    ("#1 /var/www/html/index.php(5): mysqli->__construct('localhost', 'root', 'hunter', 'app')", "hunter"),
    ("#0 /var/www/html/inc/db.php(8): mysqli_connect('localhost', 'root', 'Qx7m3nB2', 'wordpress')", "Qx7m3nB2"),
    ("#0 db.php(8): mysqli_real_connect(Object(mysqli), 'db', 'app', 'Qx7m3nB2', 'app', 3306)", "Qx7m3nB2"),
    ("#2 /app/lib/Ftp.php(33): ftp_login(Resource id #12, 'deploy', 'Qx7m3nB2')", "Qx7m3nB2"),
    ("#3 /app/lib/Ldap.php(40): ldap_bind(Object(LDAP\\Connection), 'cn=admin,dc=ex...', 'Qx7m3nB2')", "Qx7m3nB2"),
    ("#0 /app/db.php(4): oci_connect('scott', 'tiger', '//db:1521/XE')", "'tiger'"),
    ("#0 /app/db.php(4): PDO->__construct('mysql:host=db', 'app', 'Qx7m3nB2Zk9xQ2m...', Array)", "Qx7m3nB2Zk9xQ2m"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "secret"), PHP_FRAME_LEAKS)
def test_the_password_argument_of_a_php_frame_is_redacted(text: str, secret: str) -> None:
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    assert "'[REDACTED:secret_field:" in out and len(MARKER.findall(out)) == 1, out
    password = "'" + secret.strip("'")
    assert out[: out.index("'[REDACTED:")] == text[: text.index(password)], out  # the other arguments kept
    assert scrub(out) == out


PHP_FRAME_KEPT = [
    # no password given, PHP 8.2's SensitiveParameter, a placeholder, fewer arguments, other constructors
    "#0 /app/db.php(39): PDO->__construct('mysql:host=db;d...', 'app', NULL, Array)",
    "#0 /app/db.php(39): PDO->__construct('mysql:host=db', 'app', Object(SensitiveParameterValue), Array)",
    "#0 /app/db.php(39): PDO->__construct('mysql:host=db', 'app', '')",
    "#0 /app/db.php(39): PDO->__construct('sqlite:/tmp/app.db')",
    "#0 /awmdplem/class/database.php(8): PDO->__construct()",
    "#0 /app/src/App.php(54): E2\\Database->__construct(NULL, 'myapp', 'root', NULL, 'utf8mb4')",
    "#0 /app/x.php(1): App\\Redis\\Connection->__construct('cache', 6379, 'prefix')",
    "Connection refused: failed to connect('db', 5432, 'tcp') after 3 retries",
]


# -- a yes or a no after a password's name is no password ---------------------------------------------------------
YES_NO_KEPT = [
    # MySQL's and MariaDB's error 1045 (Nereziel/cs2-WeaponPaints#295, susanBuck/e2-fall19#77, Attendize#439)
    "PDOException: SQLSTATE[HY000] [1045] Access denied for user 'root'@'localhost' (using password: NO) in "
    "/home/awmdplem/domains/cheathunt.x10.mx/public_html/class/database.php:8",
    "SQLSTATE[28000] [1045] Access denied for user 'tickets'@'localhost' (using password: YES)",
    "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.5' (using password: yes)",
    "password_auth: yes\npassword: no",
]


@pytest.mark.parametrize(("line", "secret"), [("password: yesyes", "yesyes"), ("password=Yes1", "Yes1"),
                                              ("password=nope", "nope"), ("password: noway", "noway")])  # fmt: skip
def test_words_beginning_with_yes_or_no_are_still_passwords(line: str, secret: str) -> None:
    out = scrub(line)
    assert isinstance(out, str) and secret not in out, out


# -- what redeems or stands for an OAuth/SAML grant in a query or form ------------------------------------------
_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636's example code_verifier
_SAML = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6cHJvdG9jb2wi"
GRANT_LEAKS = [
    # PKCE (RFC 7636): with the authorization code, the verifier gets the tokens
    (f"POST /token grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&code_verifier={_VERIFIER}", _VERIFIER),
    (f"GET /cb?code=SplxlOBeZQQYbYS6WxSbIA&code_verifier={_VERIFIER} HTTP/1.1", _VERIFIER),
    # OAuth 1.0a's verifier, returned to the callback
    ("GET /oauth/callback?oauth_token=hh5s93j4hdidpola&oauth_verifier=hfdp7dh39dks9884 HTTP/1.1", "hfdp7dh39dks9884"),
    # a SAML response posted to the service provider's ACS: a signed assertion, a bearer credential while valid
    (f"POST /saml/acs body=x&SAMLResponse={_SAML}&RelayState=abc", _SAML),
    (f"POST /saml/acs?SAMLResponse={_SAML}%2B&RelayState=abc", _SAML),
]


@pytest.mark.parametrize(("text", "secret"), GRANT_LEAKS)
def test_a_grant_s_verifier_or_saml_response_is_redacted(text: str, secret: str, tmp_path: Path) -> None:
    """Before, each value stayed in the clear (their names were no query parameter of a credential); the scanner
    finds them too, with each engine."""
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    assert "[REDACTED:query_token:" in out
    log = tmp_path / "grant.log"
    log.write_text(text + "\n")
    engines = ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else [])
    for engine in engines:
        found = list(scan.Scanner(engine).scan_file(str(log), scan.ScanReport()))
        assert [f.kind for f in found] and all(f.line == 1 for f in found), engine


GRANT_KEPT = [
    # the challenge is public (a hash of the verifier), a name as a value is no parameter
    "GET /authorize?response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    "&code_challenge_method=S256",
    "see https://docs.example.com/oauth?topic=code_verifier&lang=en",
    "SAML response rejected: signature invalid (saml_response_id=_8e8dc5f69a98cc4c1ff3427e5ce34606fd672f91e6)",
]


@pytest.mark.parametrize(
    "text",
    [
        f'DEBUG token request: {{"grant_type": "authorization_code", "code_verifier": "{_VERIFIER}"}}',
        f"DEBUG params={{'code_verifier': '{_VERIFIER}'}}",
        f"codeVerifier={_VERIFIER} state=af0ifjsldkj",
        f"oauth_verifier: {_VERIFIER}",
    ],
)
def test_a_verifier_named_field_is_redacted(text: str) -> None:
    """The field forms of the grant verifiers (a logged token request body, a params dict): strong names."""
    out = scrub(text)
    assert isinstance(out, str) and _VERIFIER not in out, out
    assert scrub_value({"pkce_code_verifier": _VERIFIER}) != {"pkce_code_verifier": _VERIFIER}


VERIFIER_KEPT = [
    "verifier=JwtVerifier(issuer=https://idp) ready",
    "generated code_verifier of length 43",
    "code_verifier: null",
    "jwt_verifier=RS256Verifier",
]


@pytest.mark.parametrize(
    "line",
    [
        *CAMEL_SCHEME_KEPT,
        *PERCENT_GAP_KEPT,
        *PHP_FRAME_KEPT,
        *YES_NO_KEPT,
        *GRANT_KEPT,
        *VERIFIER_KEPT,
    ],
)
def test_look_alikes_are_kept(line: str) -> None:
    """The clean lines next to each fix (its look-alikes): unchanged."""
    assert scrub(line) == line
