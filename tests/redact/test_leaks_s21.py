"""Session 21: leaks of passwords on Windows command lines (a process-creation event's command line: Security event
4688, Sysmon's event 1) and of API keys whose vendors' shapes gitleaks' and trufflehog's rules (and other public
scanners' rule sets) know but the scrubber did not: Groq, LangSmith, Pinecone, CircleCI, xAI, Anthropic's
OAuth tokens, OpenAI's legacy keys (the ``T3BlbkFJ`` infix), Slack's browser-session tokens.

Each test runs over its fix's list of lines: the secret is gone, one marker stands where it stood and the rest of
the line is kept; the scanner finds every leaking line with each engine; then the look-alikes, unchanged.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import scrub, scrub_value
from tests.redact.test_leaks_s19 import MARKER, _each_redacted


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-21-key", fingerprint_key_id="s")


_PW = "Vq8kASAOsE1n"
_PW2 = "Tr4nquil!ty9"

# -- Windows command lines --------------------------------------------------------------------------------------
# The forms public tools search process-creation events for (NetExec's eventlog_creds module: net user, net use,
# schtasks /U /P, wmic /user: /password:, psexec -u -p; wevtutil's /u: /p: in a write-up of event 4688), cmdkey's
# /pass: (a test framework's CmdKeyRunner), schtasks' /RP (the run-as user's password).
WINDOWS_LEAKS = [
    (f'Process Command Line: "C:\\Windows\\system32\\net.exe" user /add svc_backup {_PW} /domain', _PW),
    (f"CommandLine: C:\\windows\\system32\\net1 user /add svc_backup {_PW}", _PW),
    (f"net user svc_sql {_PW} /add /domain", _PW),
    (f"cmd.exe /c net user Administrator {_PW}", _PW),
    (f'net user "Backup Operator" "{_PW}" /add /fullname:"Backup"', _PW),
    (f"CommandLine: net.exe user helpdesk {_PW} /active:yes", _PW),
    (f'schtasks.exe /CREATE /S 10.0.20.5 /RU SYSTEM /U CORP\\admin /P "{_PW}" /SC ONCE /ST 20:05 /TN T /TR x', _PW),
    (f"schtasks /create /tn Backup /tr backup.cmd /sc daily /ru CORP\\svc /rp {_PW}", _PW),
    (f"wmic.exe /node:10.0.20.5 /user:CORP\\admin /password:{_PW} computersystem get", _PW),
    (f'WMIC /NODE:web01 /USER:admin /PASSWORD:"{_PW}" process call create cmd.exe', _PW),
    (f"PsExec.exe \\\\10.0.20.5 -u CORP\\admin -p {_PW} hostname", _PW),
    (f'psexec64 \\\\web01 -accepteula -u admin -p "{_PW}" -s cmd.exe', _PW),
    (f"PAExec.exe \\\\web01 -u admin -p {_PW} ipconfig", _PW),
    (f"cmdkey /add:fs01.corp.local /user:CORP\\svc /pass:{_PW}", _PW),
    (f"wevtutil qe Security /rd:true /f:text /r:share01 /u:julie.clay /p:{_PW}", _PW),
    (f"winrs -r:web01 -u:CORP\\admin -p:{_PW} ipconfig", _PW),
]
WINDOWS_KEPT = [
    "net user",
    "net user bob",
    "net user bob /domain",
    "net user bob * /add",
    "net user bob /delete",
    "net user bob /active:no",
    "Run net user bob to see the account, then net user bob /times:all",
    "net use Z: \\\\fs01\\share /persistent:no",
    "schtasks /query /fo LIST /v",
    "schtasks /create /tn Backup /tr backup.cmd /sc daily /ru CORP\\svc /rp *",
    "wmic /node:web01 process list brief",
    "psexec \\\\web01 -s -i cmd.exe",
    "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p -s PlugPlay",
    "cmdkey /list",
    "wevtutil qe Security /c:10 /rd:true /f:text",
    "GET /pass:through/index.html HTTP/1.1",
    "mount /etc/passwd:ro into the container",
]


def test_a_password_on_a_windows_command_line_is_redacted(tmp_path: Path) -> None:
    """Before: ``net user <name> <password>``, schtasks' ``/P``, ``/RP``, wmic's ``/password:``, PsExec's and
    PAExec's ``-p``, cmdkey's ``/pass:``, wevtutil's and winrs' ``/p:``/``-p:`` kept the password; 16 of 16 lines
    leaked (net use's password was redacted already)."""
    _each_redacted(WINDOWS_LEAKS, WINDOWS_KEPT, tmp_path / "windows.log")
    both = f"schtasks /create /s web01 /u CORP\\admin /p {_PW} /ru CORP\\svc /rp {_PW2} /tn T /tr x"
    out = scrub(both)
    assert _PW not in out and _PW2 not in out and len(MARKER.findall(out)) == 2 and scrub(out) == out, out


# -- vendor keys --------------------------------------------------------------------------------------------------
_GROQ = "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"
_LANGSMITH = "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"
_LANGSMITH_SK = "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"
_PINECONE = "pcsk_YBLwHy_kIuekobMFGjLDQovP2JJkdvGl3slTwnSaxr6dmAKftkAGEdoXPYuUV37hD8Sjrv"
_CIRCLECI = "CCIPAT_8hA3rV2WoRLTPHcQtDXFsC_ce9dc04c89b887188c3307c85e72488f8df3445a"
_XAI = "xai-1vlYVnDwDVci7IjmxR5ZxjUEoD1Yi1ib38XDEl0aaoC89jGyzxONPC9dRf8jmLo4RYbwdNnvitT9Up3K"
_ANTHROPIC_OAT = (
    "sk-ant-oat01-4pifTynpI3bGLUAzk7m_ZnFO8eOgV10HQkWtx_KWX1rXn4erL9ghpxTBvA34V9PWftBEygrhbZf_1mTp1psuydIrm2n3WAA"
)
_OPENAI_LEGACY = "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"
_XOXC = "xoxc-402571819162-219445287231-3232721158958-8fa4236b3d7227728254cd359c4e8e9fe6c872ebb53443045fa2a1e2dbb94388"
_XOXD = "xoxd-0Ck0gzOM0QmjaQ618khY9CrBpjWZXwAzY0mTVdls%2F0piz5gqxIGdnPOzwjW9Foyd4Krw3Ez%2B76n7bhbvMMkwzeqh4F0M%3D"
VENDOR_LEAKS = [
    (f"groq.AuthenticationError: invalid key {_GROQ}", _GROQ),
    (f'client = Groq(base_url="https://api.groq.com/openai/v1", {_GROQ!r})', _GROQ),
    (f"Tracing enabled with {_LANGSMITH}", _LANGSMITH),
    (f"langsmith: 403 Forbidden for {_LANGSMITH_SK}", _LANGSMITH_SK),
    (f'Pinecone("{_PINECONE}").Index("docs")', _PINECONE),
    (f"circleci setup: {_CIRCLECI}", _CIRCLECI),
    (f"curl -u {_CIRCLECI}: https://circleci.com/api/v2/me", _CIRCLECI),
    (f"xai_sdk.Client({_XAI!r}) failed: 401", _XAI),
    (f"claude: refreshing {_ANTHROPIC_OAT} (expires in 28800 s)", _ANTHROPIC_OAT),
    (f"openai.error.AuthenticationError: Incorrect API key provided: {_OPENAI_LEGACY}.", _OPENAI_LEGACY),
    (f'OpenAI("{_OPENAI_LEGACY}")', _OPENAI_LEGACY),
    (f"slackdump: workspace acme via {_XOXC}", _XOXC),
    (f"loaded d={_XOXD} from the browser's store", _XOXD),
]
VENDOR_KEPT = [
    "gsk_test fixture loaded; gsk_1234 short",
    "lsv2_pt_ prefix expected for personal tokens",
    "pcsk_abc_def is not a key",
    "CCIPAT_ tokens replace the legacy 40-hex ones",
    "xai-grok-2-1212 model selected; xai-sdk 1.0.2",
    "sk-ant-oat01- prefix and sk-learn 1.4.2",
    "task-20240101T3BlbkFJ01 retried",
    "disk-abcdefghij0123456789T3BlbkFJabcdefghij0123456789 mounted",
    "xoxc- and xoxd- tokens come from a browser session",
]


def test_a_vendor_key_of_a_known_shape_is_redacted(tmp_path: Path) -> None:
    """Before: Groq's ``gsk_``, LangSmith's ``lsv2_pt_``/``lsv2_sk_``, Pinecone's ``pcsk_``, CircleCI's
    ``CCIPAT_``, xAI's ``xai-``, Anthropic's OAuth ``sk-ant-oat01-``, OpenAI's legacy
    ``sk-…T3BlbkFJ…`` and Slack's ``xoxc-``/``xoxd-`` keys outside a secret-named field kept the key; 13 of 13 lines
    leaked."""
    _each_redacted(VENDOR_LEAKS, VENDOR_KEPT, tmp_path / "vendor.log")


# -- a Docker client configuration in base64 --------------------------------------------------------------------
def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_AUTH = _b64(f"deploy:{_PW}")
_DOCKER_COMPACT = _b64(
    f'{{"auths":{{"registry.example.com":{{"username":"deploy","password":"{_PW}","auth":"{_AUTH}"}}}}}}'
)
_DOCKER_LOGIN = _b64(f'{{\n\t"auths": {{\n\t\t"registry.example.com": {{\n\t\t\t"auth": "{_AUTH}"\n\t\t}}\n\t}}\n}}')
_DOCKER_HELM = _b64(f'{{\n  "auths": {{\n    "ghcr.io": {{\n      "auth": "{_AUTH}"\n    }}\n  }}\n}}')
_CREDS_STORE = _b64('{"credsStore": "desktop", "currentContext": "default"}')
DOCKER_CONFIG_LEAKS = [
    (f"  .dockerconfigjson: {_DOCKER_COMPACT}", _DOCKER_COMPACT),
    (
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","requestObject":{"kind":"Secret",'
        f'"type":"kubernetes.io/dockerconfigjson","data":{{".dockerconfigjson":"{_DOCKER_COMPACT}"}}}}}}',
        _DOCKER_COMPACT,
    ),
    (f"+ echo {_DOCKER_LOGIN} | base64 -d > /root/.docker/config.json", _DOCKER_LOGIN),
    (f"imagePullSecret rendered: dockerconfigjson={_DOCKER_HELM}", _DOCKER_HELM),
]
DOCKER_CONFIG_KEPT = [
    "type: kubernetes.io/dockerconfigjson",
    "  .dockerconfigjson: eyJhdXRocyI6e319",  # ('{"auths":{}}': no registry)
    f"  .dockerconfigjson: {_CREDS_STORE}",  # (a credential store's name, no credentials)
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
]


def test_a_docker_configuration_in_base64_is_redacted(tmp_path: Path) -> None:
    """Before: a Kubernetes Secret's ``.dockerconfigjson`` (its name holds no secret stem) and ``base64`` of
    ``~/.docker/config.json`` kept the registries' credentials, base64-encoded once; 4 of 4 lines leaked."""
    _each_redacted(DOCKER_CONFIG_LEAKS, DOCKER_CONFIG_KEPT, tmp_path / "docker.log")


# -- message broker and database shells' short options ---------------------------------------------------------
CLIENT_LEAKS = [
    (f"mosquitto_pub -h broker.example.com -p 8883 --cafile ca.crt -u sensor -P {_PW} -t 'home/temp' -m 21", _PW),
    (f"mosquitto_sub -h broker -u bob -P '{_PW}' -t '#' -v", _PW),
    (f"/usr/bin/mosquitto_rr -h broker -u bob -P {_PW} -t req -e resp -m ping", _PW),
    (f"cqlsh 10.0.0.1 9042 -u cassandra -p {_PW} -e 'DESCRIBE KEYSPACES'", _PW),
    (f"influx setup -u admin -p {_PW} -o acme -b metrics -f", _PW),
    (f"influx -host db -username admin -password '{_PW}' -execute 'SHOW DATABASES'", _PW),
]
CLIENT_KEPT = [
    "mosquitto_sub -h broker -p 1883 -t 'sensors/#'",
    "mosquitto -c /etc/mosquitto/mosquitto.conf -p 1883",
    "cqlsh -e 'DESCRIBE KEYSPACES' --request-timeout 30",
    "influx -host db -port 8086 -precision rfc3339",
    "influxd run --http-bind-address :8086",
]


def test_a_password_given_to_a_broker_or_database_client_is_redacted(tmp_path: Path) -> None:
    """Before: Mosquitto's clients' ``-P x`` (``-p`` is the port), cqlsh's ``-p x`` and influx's ``-p x`` kept the
    password; 5 of the 6 lines leaked (1.x's ``-password x`` was redacted already, a password's name and a blank)."""
    _each_redacted(CLIENT_LEAKS, CLIENT_KEPT, tmp_path / "clients.log")


# -- keys named for an application or an ingest API --------------------------------------------------------------
_DD_APP = "7c499f31a9962a6b2ad322e0efcc2701fb6e87ff"  # (a Datadog application key's shape: 40 hex)
_NR_INSERT = "Qx7m3nB2Zk9wLp4vRt5yUi8oPa1sDf3g"  # (an older insert key: 32 characters, no "NRII-" prefix)
ROLE_LEAKS = [
    (
        f"curl -X GET https://api.datadoghq.com/api/v1/validate -H 'DD-API-KEY: ${{DD_API_KEY}}' "
        f"-H 'DD-APPLICATION-KEY: {_DD_APP}'",
        _DD_APP,
    ),
    (f"DD_APPLICATION_KEY={_DD_APP}", _DD_APP),
    (f'{{"datadog": {{"applicationKey": "{_DD_APP}", "site": "datadoghq.eu"}}}}', _DD_APP),
    (f"application_key: {_DD_APP}", _DD_APP),
    (f"send: b'POST /v1/accounts/1/events HTTP/1.1\\r\\nX-Insert-Key: {_NR_INSERT}\\r\\n'", _NR_INSERT),
    (f"NEW_RELIC_INSERT_KEY={_NR_INSERT}", _NR_INSERT),
]
ROLE_KEPT = [
    "application key rotated by ops",
    "insert key (primary) violated on table users",
    "insert_key=None",
    "application_key: ${DD_APP_KEY}",
]


def test_a_key_named_for_an_application_or_an_ingest_api_is_redacted(tmp_path: Path) -> None:
    """Before: Datadog's ``DD-APPLICATION-KEY`` (``application_key``, ``applicationKey``) and New Relic's
    ``X-Insert-Key`` (``insert_key``) kept their value (``app_key`` and ``license_key`` were redacted); 6 of 6 lines
    leaked."""
    _each_redacted(ROLE_LEAKS, ROLE_KEPT, tmp_path / "roles.log")
    for name in ("DD-APPLICATION-KEY", "X-Insert-Key", "application_key", "insertKey"):
        assert scrub_value({name: _DD_APP})[name].startswith("[REDACTED:secret_field:"), name


# -- a password fed to a program's standard input ----------------------------------------------------------------
STDIN_LEAKS = [
    (f"+ echo {_PW} | passwd --stdin deploy", _PW),
    (f'RUN echo "{_PW}" | sudo passwd --stdin app', _PW),
    (f'echo -e "{_PW}" | /usr/bin/smbpasswd -a -s backup', _PW),
    (f"echo {_PW} | vncpasswd -f > /home/bob/.vnc/passwd", _PW),
    (f"ftpasswd --passwd --name bob --uid 1000 --home /srv/ftp --shell /bin/false --stdin <<< {_PW}", _PW),
]
STDIN_KEPT = [
    "cat /etc/passwd | grep bob",
    "passwd: all authentication tokens updated successfully.",
    "echo done | tee /tmp/passwd.log",
    "passwd --stdin deploy < /run/secrets/password",
    "smbpasswd -a backup",
]


def test_a_password_fed_to_a_programs_standard_input_is_redacted(tmp_path: Path) -> None:
    """Before: ``echo x | passwd --stdin``, ``| smbpasswd -s``, ``| vncpasswd -f`` and ftpasswd's ``--stdin <<< x``
    kept the password (chpasswd's ``echo 'u:x' |`` was redacted already); 5 of 5 lines leaked."""
    _each_redacted(STDIN_LEAKS, STDIN_KEPT, tmp_path / "stdin.log")
