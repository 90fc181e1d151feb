"""Session 29: two shapes of real logs outside the development corpus that read as secret fields (found on
Loghub's Android and Hadoop samples, https://github.com/logpai/loghub, which the tests do not ship): a type's repr
after a token-named field (Android's ``WindowManager``: ``wtoken = AppWindowToken{9f4ef63 token=Token{...}}``) and
a logger named after a class ``Token`` whose message starts with a label (Hadoop's
``org.apache.hadoop.security.token.Token: Kind: ...``), and Hadoop's ``Token: Token { kind: ContainerToken, ... }``;
and, from a probe of other systems' log shapes, a Kubernetes controller naming the Secret it reconciles
(``"secret":"default/registry-credentials"``). The lines below are written for these tests in those
shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

import jwtobs
from jwtobs.cli import main
from jwtobs.redact import patterns as p
from jwtobs.redact import scrub, scrub_value


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-precision-s29-key", fingerprint_key_id="t")


KEPT = [
    # a type's repr: a capitalised type name (letters only), its bracket closing on the line with fields inside
    "05-02 09:14:07.120  1211  1387 D WindowManager: relayout wtoken = AppWindowToken{3b7e1c0 token=Token{"
    "77d20aa ActivityRecord{5c1e9f2 u0 com.example.mail/.ui.InboxActivity t42}}}, visible=true",
    "05-02 09:14:07.121  1211  1387 V WindowManager: token=WindowToken{a1b2c3d null} hidden=false",
    "session = SessionImpl(id=42, user=alice)",
    # a blank before the bracket (Hadoop's RMContainerAllocator prints a container's token so)
    "Cannot assign container Container: [ContainerId: container_1714640000000_0007_01_000003, Priority: 20, "
    "Token: Token { kind: ContainerToken, service: 10.0.0.5:45454 }, ] for a map",
    "auth_token=BinderToken{5f0e1d2 pid=1211}",
    # the same after a blank, and Android's other token-named words: a method and its prose, a bracketed tag
    "W WindowManager: Attempted to add window with non-application token WindowToken{5a9e4b1 token=null}.  Aborting.",
    "D AccountManagerService: getAuthToken: caller's uid 10045, pid 3012, account=Account {name=<ELLIDED>, "
    "type=com.example}",
    "W Auth    : [GetToken] GetToken failed with status code: BadAuthentication",
    # a capitalised label as a weak name's value (Dovecot's auth process)
    "May  2 09:14:07 mail dovecot: auth: Debug: client passdb out: OK\t1\tuser=alice",
    # an HTTP status after a token's name (Go's golang.org/x/oauth2 error), a word of prose after an option (Docker's
    # warning on every "docker login -p")
    "[2024/05/02 09:14:07] [oauthproxy.go:798] Error redeeming code during OAuth2 callback: token exchange failed: "
    "oauth2: cannot fetch token: 400 Bad Request",
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
    "error: --token is required",
    # a value another redactor masked already (the Azure SDK's HTTP logging policy, kubectl -v=8, Rails)
    "2024-05-02 09:14:07,313 azure.core.pipeline.policies.http_logging_policy [INFO] Request headers: "
    "'Authorization': 'REDACTED', 'x-ms-client-request-id': '8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d'",
    "I0502 09:14:07.313   12345 round_trippers.go:473]     Authorization: Bearer <masked>",
    "Authorization: Bearer ***",
    "Cookie: _session=[FILTERED]",
    "DEBUG auth - UsernamePasswordAuthenticationToken [Principal=alice, Credentials=[PROTECTED], Authenticated=true, "
    "Details=WebAuthenticationDetails [RemoteIpAddress=10.0.0.1, SessionId=null], Granted Authorities=[ROLE_USER]]",
    # a reverse-DNS name ending in "Authorization": macOS's unified log subsystem and category
    "2024-05-02 09:14:07.314 Df authd[345:6789] [com.apple.Authorization:authd] Succeeded authorizing right "
    "'system.login.console' by client '/System/Library/CoreServices/loginwindow.app' [123]",
    # an API object's status after its kind (Kubernetes: kubelet events, kubectl errors)
    '2m  Warning  FailedMount  pod/app-5d8f7c9b4-x  MountVolume.SetUp failed for volume "secret-vol" : '
    'secret "app-secret" not found',
    'Error from server (Forbidden): secrets "default-token-x7k2p" is forbidden: User "bob" cannot get resource',
    # a namespaced object's name under a secret's name (a Kubernetes controller naming the Secret it reads)
    '{"level":"info","ts":1714640047.311,"logger":"controller","msg":"Reconciling",'
    '"secret":"default/registry-credentials","key":"default/app"}',
    "issuer ready: secret=cert-manager/letsencrypt-prod-key",
    # a label right after a token-named logger or field: the field has no value, the label's does
    "2024-05-02 09:14:07,311 INFO [main] org.apache.hadoop.security.token.Token: Kind: mapreduce.job, "
    "Service: job_1714640000000_0007, Ident: (org.apache.hadoop.mapreduce.security.token.JobTokenIdentifier@1f2e3d4c)",
    "2024-05-02 09:14:08,002 INFO [main] org.apache.hadoop.security.token.Token: Kind: YARN_AM_RM_TOKEN, Service: ",
    "Token: Kind: HDFS_DELEGATION_TOKEN, Service: ha-hdfs:cluster1, Ident: (token for etl: HDFS_DELEGATION_TOKEN)",
]


@pytest.mark.parametrize("line", KEPT)
def test_a_types_repr_or_a_label_after_a_secret_name_is_kept(line: str) -> None:
    assert scrub(line) == line
    assert scrub_value({"msg": line}) == {"msg": line}


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        # what the label or the repr holds is still judged
        ("Token: Kind: x, Password: hunter2", "hunter2"),
        ("token=AppWindowToken{9f4ef63 password=hunter2}", "hunter2"),
        ("Token: Token { kind: ContainerToken, password: hunter2 }", "hunter2"),
        # passwords with brackets, digits or capitals only are no type's repr
        ("password=Summer(2024)", "Summer(2024"),
        ("password=Reset(00", "Reset(00"),
        ("token=ABC{ab cd}", "ABC{ab"),
        ("password=Xk9(2]aP{z", "Xk9(2]aP{z"),
        # a secret with a "/" that is no namespaced name (digits first, mixed case)
        ("client_secret=a1b2c3/d4e5f6g7", "a1b2c3/d4e5f6g7"),
        ("password=summer/2024", "summer/2024"),
        ('{"secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', "wJalrXUtnFEMI"),
        # a word with digits or symbols after the contraction is no prose
        ("password: caller's2x", "caller's2x"),
        ("password=O'Brien99", "O'Brien99"),
        ("token WindowToken{5a9e4b1 password=hunter2}", "hunter2"),
        # a number alone, a number and a word that is no status's reason, a word that is no prose
        ("password: 400", "400"),
        ("password=4001 Bad", "4001"),
        ("docker login --password viaduct registry.example.com", "viaduct"),
        # a credential that only starts like a mask
        ("Authorization: Bearer redactedToken123", "redactedToken123"),
        ("Authorization: Bearer secret", "secret"),
        ("Authorization: xxxx-1234-abcd", "xxxx-1234-abcd"),
        ("password=Protected1", "Protected1"),
        # a value in that phrasing that is no object's name: hex, no "-" or ".", capitals
        ('token "abc123def" not found', "abc123def"),
        ('token "abcdef-123456" not found', "abcdef-123456"),
        ('secret "Xk9-abc" not found', "Xk9-abc"),
        # an Authorization header under a dotted name that is no reverse-DNS one, a scheme after one that is
        ("http.request.header.authorization: Sk9XaAbCdEf123456", "Sk9XaAbCdEf123456"),
        ("request.headers.Authorization=Xk9abcdef12345", "Xk9abcdef12345"),
        ("com.example.Authorization: Bearer Xk9abcdef12345", "Xk9abcdef12345"),
        # a lower-case word with a colon is not read as a label (a capitalised one is)
        ("token: kind: x", "kind:"),
        # a single capitalised word is a password as before
        ("password: Hunter", "Hunter"),
    ],
)
def test_the_narrow_rules_still_redact_credentials(line: str, secret: str) -> None:
    out = str(scrub(line))
    assert "[REDACTED:" in out and secret not in p.FINDING.sub("", out), out


@pytest.mark.parametrize("engine", ["python", "all"])
def test_the_scanner_finds_nothing_in_them(engine: str, tmp_path: Path) -> None:
    log = tmp_path / "kept.log"
    log.write_text("\n".join(KEPT) + "\n", encoding="utf-8")
    assert main(["scan", "--exit-code", "--engine", engine, str(log)]) == 0
