"""Session 38's probe: public samples of formats the earlier probes had not used, and the leftovers of session 37.

Sources (the lines' shapes; every value here is made at run time): the Cowrie honeypot's sources and public honeypot
logs (cowrie/cowrie: AuthRandom's "login return, expect: [u/x]", the SSH proxy's "Will auth with backend: u/x"), the
Netscape cookie file curl and wget write (everything.curl.dev, "Cookie file format"), GitHub Actions' workflow
commands ("::add-mask::") and Azure Pipelines' logging commands ("##vso[task.setsecret]",
"##vso[task.setvariable ...;issecret=true]"), Docker's and Helm's "--password-stdin" logins, curl's "--proxy-user",
Windows' net command with a quoted password, mysqld's first start ("A temporary password is generated for
root@localhost: x", the MySQL manual's "Initializing the Data Directory").

Kept before by ``scrub`` (str and bytes), the stdlib logging redactor and ``jwtobs scan``/``jwtobs scrub``; the
Azure Pipelines line with ";issecret=true]" had its flag read as a secret's name ("issecret=[REDACTED…" took the
value and the rest of the line).
"""

from __future__ import annotations

import base64
import random

import pytest

from jwtobs.redact import patterns as p
from jwtobs.redact import scrub
from tests.redact.test_adversarial import _repeat, assert_scrub_linear
from tests.redact.test_leaks_s35 import (  # noqa: F401 (_fixed_key: an autouse fixture, the CLI and scrub() alike)
    _fixed_key,
    opaque,
    probe_suite,
)

_RND = random.Random(3838)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _opaque(n: int) -> str:
    return opaque(_RND, n, _ALNUM)


PASSWORD = "Vn4" + _opaque(11)
TOKEN = _opaque(40)
COOKIE = base64.urlsafe_b64encode(_RND.randbytes(30)).decode()
#: mysqld's generated password: 12 characters, punctuation among them
MYSQL_TMP = "k" + "".join(_RND.choices(_ALNUM + "#%;:<>_,&!", k=10)) + "9"
_COWRIE = "2024-01-10T02:03:08.600374Z [HoneyPotSSHTransport,119,198.51.100.7] "
_PROXY = "2023-08-14T15:15:31.100659Z [FrontendSSHTransport,0,198.51.100.7] "
_JAR_HEAD = ".example.com\tTRUE\t/\tTRUE\t1767225600\t"

#: name -> (line, secret, what stays)
LEAKS: dict[str, tuple[str, str, str]] = {
    # Cowrie: AuthRandom's expected pair, the SSH proxy's backend password (session 37 read "login attempt [...]" only)
    "cowrie_expect_bytes": (
        _COWRIE + f"login return, expect: [b'root'/b'{PASSWORD}']",
        PASSWORD,
        "expect: [b'root'/b'",
    ),
    "cowrie_expect": (_COWRIE + f"login return, expect: [admin/{PASSWORD}]", PASSWORD, "login return, expect: [admin/"),
    "cowrie_backend": (_PROXY + f"Will auth with backend: root/{PASSWORD}", PASSWORD, "Will auth with backend: root/"),
    # one line piped into passwd; a registry login reading its password from standard input
    "echo_passwd": (f"echo {PASSWORD} | passwd", PASSWORD, "| passwd"),
    "echo_sudo_passwd_user": (f'echo "{PASSWORD}" | sudo passwd root', PASSWORD, "| sudo passwd root"),
    "docker_password_stdin": (
        f"+ echo {PASSWORD} | docker login -u ci-bot --password-stdin registry.example.com",
        PASSWORD,
        "| docker login -u ci-bot --password-stdin registry.example.com",
    ),
    "helm_password_stdin": (
        f"echo '{PASSWORD}' | helm registry login ghcr.io -u bob --password-stdin",
        PASSWORD,
        "helm registry login ghcr.io -u bob --password-stdin",
    ),
    "podman_password_stdin": (
        f'printf "{PASSWORD}" | podman login quay.io --username bob --password-stdin',
        PASSWORD,
        "| podman login quay.io",
    ),
    # Windows' net command: cmd.exe quotes a password holding a blank
    "net_use_quoted_blank": (
        r'net use Z: \\fs01\share "blue moon" /user:CORP\bob',
        "blue moon",
        r"/user:CORP\bob",
    ),
    "net_user_quoted_blank": ('net user bob "my door key" /add', "my door key", "/add"),
    # CI logs: values the log's own commands declare secret
    "gha_add_mask": (f"+ echo ::add-mask::{TOKEN}", TOKEN, "+ echo ::add-mask::"),
    "ado_setsecret": (f"##vso[task.setsecret]{TOKEN}", TOKEN, "##vso[task.setsecret]"),
    "ado_setvariable_issecret": (
        f"##vso[task.setvariable variable=dbPassword;issecret=true]{PASSWORD}",
        PASSWORD,
        "variable=dbPassword;issecret=true]",
    ),
    "ado_setvariable_issecret_output": (
        f"##vso[task.setvariable variable=ApiKey;isSecret=true;isOutput=true]{TOKEN}",
        TOKEN,
        ";isOutput=true]",
    ),
    # a Netscape cookie file's lines (curl -c, wget --save-cookies; "cat cookies.txt" in a job's log)
    "cookie_jar": (_JAR_HEAD + f"sessionid\t{COOKIE}", COOKIE, ".example.com\tTRUE\t/\tTRUE\t1767225600\tsessionid\t"),
    "cookie_jar_httponly": (
        f"#HttpOnly_.example.com\tTRUE\t/\tTRUE\t0\t__Secure-next-auth.session-token\t{COOKIE}",
        COOKIE,
        "#HttpOnly_.example.com",
    ),
    "cookie_jar_localhost": (f"localhost\tFALSE\t/\tFALSE\t0\tsid\t{TOKEN}", TOKEN, "localhost\tFALSE\t/"),
    # curl's proxy credentials
    "curl_proxy_user": (
        f"+ curl --proxy-user bob:{PASSWORD} -x http://proxy:3128 https://example.com",
        PASSWORD,
        "-x http://proxy:3128 https://example.com",
    ),
    "curl_proxy_user_eq": (f"curl --proxy-user=bob:{PASSWORD} https://example.com", PASSWORD, "https://example.com"),
    # mysqld's first start
    "mysql_temporary_password": (
        "2024-05-01T12:00:00.123456Z 6 [Note] [MY-010454] [Server] A temporary password is generated for "
        f"root@localhost: {MYSQL_TMP}",
        MYSQL_TMP,
        "A temporary password is generated for root@localhost: ",
    ),
}

#: lines without a credential, unchanged
KEPT = (
    _COWRIE + "login attempt: 23",
    _PROXY + "Initialized emulated server as architecture: linux-x64-lsb",
    "cat /etc/passwd | grep root",
    "echo hello | grep passwd",
    'echo "$CR_PAT" | docker login ghcr.io -u USERNAME --password-stdin',
    "aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin 1234.dkr.ecr.aws",
    r'net use Z: "\\fs01\my share" /persistent:yes',
    r"net use Z: \\fs01\share /delete",
    "+ echo ::add-mask::$TOKEN",
    "##vso[task.setvariable variable=version;]1.2.3",
    "##vso[task.setvariable variable=isSecretRotated]true",
    "##[group]Run actions/checkout@v4",
    "# Netscape HTTP Cookie File",
    '{"isSecret": true, "has_password": false, "name": "db"}',
    "is_token_valid=false has_secret=true",
    "[Warning] [MY-010453] [Server] root@localhost is created with an empty password !",
    "curl -x http://proxy:3128 --proxy-user bob:${PROXY_PASSWORD} https://example.com",
)


globals().update(probe_suite(LEAKS, KEPT))


def test_a_cookie_files_value_is_a_cookie_marker() -> None:
    out = scrub(LEAKS["cookie_jar"][0])
    assert out.startswith(_JAR_HEAD + "sessionid\t[REDACTED:cookie:"), out


def test_a_flag_about_a_secret_names_none() -> None:
    for name in ("isSecret", "issecret", "is_secret", "has_password", "haspassword", "is_token_valid"):
        assert p.name_strength(name) == p.NOT_SECRET_NAME, name
    for name in ("secret", "client_secret", "this_secret", "hashed_password"):
        assert p.name_strength(name) != p.NOT_SECRET_NAME, name


# -- linear time (tests/redact/test_adversarial.py's bound and approach) -------------------------------------------
ADVERSARIAL = {
    "add_mask": lambda: _repeat("::add-mask::a "),
    "vso_issecret": lambda: _repeat("##vso[task.setvariable variable=x;issecret=true;"),
    "cookie_jar_tabs": lambda: _repeat(".a\tTRUE\t/\tTRUE\t0\t"),
    "cowrie_backend": lambda: _repeat("will auth with backend: a/"),
    "password_stdin": lambda: _repeat("echo a | docker login a login --password-stdin "),
    "passwd_users": lambda: _repeat("echo a | passwd a "),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_the_new_forms_scrub_in_linear_time(name: str) -> None:
    assert_scrub_linear(name, ADVERSARIAL[name]())
