"""Session 22: leaks of secrets in forms that public secret scanners' rule sets (gitleaks' rules, trufflehog's
detectors) and real tools' logs hold but the scrubber did not redact: Honeycomb's ``X-Honeycomb-Team`` header,
commands that take a password as a positional argument or a property's value (ssh-keygen's ``-N``/``-P``, nmcli's
``wifi-sec.psk``, ejabberdctl, prosodyctl, mosquitto_passwd, poetry), Redis's lower-case ``"auth"`` in MONITOR's
output and ``ACL SETUSER ... >password``, vendor keys of known shapes (HubSpot, Replicate, OpenRouter, Langfuse,
SonarQube, Honeycomb, Axiom, Neon, Contentful, Bitbucket, Buildkite, Figma, Render, Alibaba Cloud), JSON nested in
JSON strings two or three levels deep (a container runtime's log line of an application's JSON log of a request
body) and query parameters percent-encoded twice (a redirect URL inside a redirect URL).

Each test runs over its fix's list of lines: the secret is gone, one marker stands where it stood and the rest of
the line is kept, the stdlib logging redactor and an event's value lose it too; the scanner finds every leaking line
with each engine; then the look-alikes, unchanged. Every secret is synthetic and assembled at run time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import LoggingRedactor, StructlogRedactor, scan, scrub, scrub_value
from tests.redact.test_leaks_s19 import MARKER, _each_redacted, _kept_and_scanned, _through_logging


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-22-key", fingerprint_key_id="s")


def _run(alphabet: str, n: int, seed: str) -> str:
    """``n`` characters of ``alphabet``, fixed by ``seed`` (a synthetic key's body)."""
    out = ""
    counter = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return out[:n]


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER_NUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
_PW = "Vq8k" + "ASAOsE1n"
_PW2 = "Tr4n" + "quil9x"


def _uuid(seed: str) -> str:
    return str(uuid.UUID(hashlib.md5(seed.encode()).hexdigest()))


# -- Honeycomb's API key header -----------------------------------------------------------------------------------
# X-Honeycomb-Team (Honeycomb's events API, the OpenTelemetry exporters' headers): classic keys have no vendor
# prefix (22 characters, or 32 hex).
_HC = _run(_ALNUM, 22, "honeycomb-classic")
_HC_HEX = _run(_HEX, 32, "honeycomb-hex")
HONEYCOMB_LEAKS = [
    (f"> X-Honeycomb-Team: {_HC}", _HC),
    (f"curl -H 'X-Honeycomb-Team: {_HC}' https://api.honeycomb.io/1/events/prod", _HC),
    (f'headers={{"X-Honeycomb-Team": "{_HC}", "Content-Type": "application/json"}}', _HC),
    (f"2024-03-01T10:00:00Z debug otlphttpexporter headers: map[x-honeycomb-team:{_HC_HEX}]", _HC_HEX),
    (f'-H "x-honeycomb-team: {_HC_HEX}"', _HC_HEX),
    (f"[('content-type', 'application/json'), ('x-honeycomb-team', '{_HC_HEX}')]", _HC_HEX),
]
HONEYCOMB_KEPT = [
    "x-honeycomb-dataset: prod",
    "honeycomb team: acme-observability",
    "X-Honeycomb-Team header missing: 401",
    "X-Honeycomb-Team: ${HONEYCOMB_API_KEY}",
]


def test_honeycomb_team_header_is_redacted(tmp_path: Path) -> None:
    """Before: X-Honeycomb-Team's value (no secret stem in the name, no vendor prefix in the key) was kept in header
    dumps, curl's -H, request dicts, the OTLP exporter's debug map and header tuples; 6 of 6 lines leaked."""
    _each_redacted(HONEYCOMB_LEAKS, HONEYCOMB_KEPT, tmp_path / "honeycomb.log")
    for name in ("X-Honeycomb-Team", "x-honeycomb-team"):
        assert scrub_value({name: _HC})[name].startswith("[REDACTED:")
    event = StructlogRedactor()(None, "info", {"event": "export", "headers": {"x-honeycomb-team": _HC_HEX}})
    assert _HC_HEX not in str(event)


# -- commands that take a password as a positional argument or a property's value ---------------------------------
COMMAND_LEAKS = [
    # OpenSSH's ssh-keygen: -N the new passphrase, -P the old one
    (f"ssh-keygen -t ed25519 -N '{_PW}' -f /home/deploy/.ssh/id_ed25519", _PW),
    (f"ssh-keygen -q -t rsa -b 4096 -N {_PW} -C deploy@ci -f key", _PW),
    (f"ssh-keygen -p -N {_PW2} -f id_rsa", _PW2),
    (f"ssh-keygen -o -a 100 -t ed25519 -N {_PW} -f deploy_key", _PW),
    (f"ssh-keygen -y -P {_PW} -f id_rsa > id_rsa.pub", _PW),
    (f'RUN ssh-keygen -t rsa -b 4096 -C "ci@example.com" -N "{_PW}" -f /root/.ssh/id_rsa', _PW),
    # NetworkManager's nmcli: a connection's secret properties
    (f"nmcli connection modify home-wifi wifi-sec.key-mgmt wpa-psk wifi-sec.psk {_PW}", _PW),
    (
        "nmcli con add type wifi ifname wlan0 con-name office ssid Office wifi-sec.key-mgmt wpa-psk "
        f'wifi-sec.psk "{_PW}"',
        _PW,
    ),
    (f"nmcli con mod eduroam 802-1x.password {_PW} 802-1x.identity alice", _PW),
    (f"nmcli c m home 802-11-wireless-security.psk '{_PW}'", _PW),
    (f"nmcli con add type wifi con-name old ssid Old wifi-sec.key-mgmt none wifi-sec.wep-key0 {_PW}", _PW),
    # XMPP servers' control commands: user, host, password
    (f"ejabberdctl register alice example.org {_PW}", _PW),
    (f"ejabberdctl change_password alice example.org {_PW}", _PW),
    (f"docker exec ejabberd ejabberdctl register admin localhost {_PW}", _PW),
    (f"ejabberdctl check_password bob example.org {_PW}", _PW),
    (f"prosodyctl register bob chat.example.org {_PW}", _PW),
    (f"sudo prosodyctl register admin example.com '{_PW}'", _PW),
    # Mosquitto's password file in batch mode, Poetry's repository credentials
    (f"mosquitto_passwd -b /etc/mosquitto/passwd alice {_PW}", _PW),
    (f"mosquitto_passwd -c -b /etc/mosquitto/users sensor01 {_PW}", _PW),
    (f"poetry config http-basic.internal ci {_PW}", _PW),
]
COMMAND_KEPT = [
    'ssh-keygen -t ed25519 -N "" -f /tmp/k',
    "ssh-keygen -s ca_key -I deploy -n alice,bob -V +52w user_key.pub",
    "ssh-keygen -l -f ~/.ssh/id_ed25519.pub",
    "ssh-keygen -f /etc/app.token -N; mc alias list",
    "ssh-keygen -R 10.0.0.5",
    "nmcli con mod home wifi-sec.key-mgmt wpa-psk wifi-sec.psk-flags 1",
    "nmcli -f NAME,UUID,TYPE con show --active",
    "nmcli dev wifi list ifname wlan0",
    "ejabberdctl status",
    "ejabberdctl registered_users example.org",
    "ejabberdctl unregister alice example.org",
    "prosodyctl status",
    "prosodyctl adduser alice@example.org",
    "mosquitto_passwd -U /etc/mosquitto/passwd",
    "mosquitto_passwd -D /etc/mosquitto/passwd alice",
    "poetry config --list",
    "poetry config virtualenvs.in-project true",
]


def test_a_password_given_to_a_command_as_an_argument_is_redacted(tmp_path: Path) -> None:
    """Before: ssh-keygen's ``-N``/``-P``, nmcli's ``wifi-sec.psk``/``802-1x.password``/``wep-key0``,
    ``ejabberdctl register|change_password|check_password``, ``prosodyctl register``, ``mosquitto_passwd -b`` and
    ``poetry config http-basic.<repo>`` kept the password; 20 of 20 lines leaked."""
    _each_redacted(COMMAND_LEAKS, COMMAND_KEPT, tmp_path / "commands.log")
    both = f"ssh-keygen -p -P {_PW} -N {_PW2} -f id_rsa"
    out = scrub(both)
    assert _PW not in out and _PW2 not in out and len(MARKER.findall(out)) == 2 and scrub(out) == out, out


# -- Redis: MONITOR's lower-case AUTH, ACL SETUSER's password rule ---------------------------------------------------
REDIS_LEAKS = [
    (f'1709287200.123456 [0 10.0.0.7:51234] "auth" "default" "{_PW}"', _PW),
    (f'1709287200.123456 [0 10.0.0.7:51234] "auth" "{_PW}"', _PW),
    (f'1709287200.123456 [0 10.0.0.7:51234] "hello" "3" "auth" "default" "{_PW}"', _PW),
    (f'1709287200.123456 [0 10.0.0.7:51234] "ACL" "SETUSER" "alice" "on" ">{_PW}" "~*" "+@all"', _PW),
    (f"127.0.0.1:6379> ACL SETUSER alice on >{_PW} ~cached:* +get", _PW),
    (f"ACL SETUSER svc on >{_PW}", _PW),
]
REDIS_KEPT = [
    '1709287200.123456 [0 10.0.0.7:51234] "get" "auth"',
    '1709287200.123456 [0 10.0.0.7:51234] "auth" "default"',
    "ACL SETUSER alice on nopass ~* +@all",
    "ACL SETUSER bob on #9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ~*",
    "ACL SETUSER alice resetpass",
    "ACL SETUSER carol on ~cache:* &events +get >",
]


def test_a_redis_password_in_monitor_output_or_acl_setuser_is_redacted(tmp_path: Path) -> None:
    """Before: MONITOR's '"auth" ...' as a client sent it in lower case, HELLO's AUTH in lower case, and ACL
    SETUSER's ``>password`` rule kept the password; 6 of 6 lines leaked (upper-case "AUTH" was redacted already)."""
    _each_redacted(REDIS_LEAKS, REDIS_KEPT, tmp_path / "redis.log")
    two = f"ACL SETUSER alice on >{_PW} >{_PW2} ~*"
    assert _PW not in scrub(two)


# -- vendor keys of known shapes --------------------------------------------------------------------------------
_HUBSPOT = "pat-" + "na1-" + _uuid("hubspot-na1")
_HUBSPOT_EU = "pat-" + "eu1-" + _uuid("hubspot-eu1")
_REPLICATE = "r8" + "_" + _run(_ALNUM, 37, "replicate")
_OPENROUTER = "sk-or-" + "v1-" + _run(_HEX, 64, "openrouter")
_LANGFUSE = "sk-" + "lf-" + _uuid("langfuse")
_SONAR_P = "sq" + "p_" + _run(_HEX, 40, "sonar-p")
_SONAR_U = "sq" + "u_" + _run(_HEX, 40, "sonar-u")
_HC_INGEST = "hcaik" + "_" + _run(_LOWER_NUM, 58, "honeycomb-ingest")
_HC_INGEST2 = "hcxik" + "_" + _run(_LOWER_NUM, 58, "honeycomb-ingest-2")
_AXIOM = "xaat" + "-" + _uuid("axiom")
_NEON = "napi" + "_" + _run(_LOWER_NUM, 64, "neon")
_CONTENTFUL = "CFPAT" + "-" + _run(_ALNUM + "_-", 43, "contentful")
_BITBUCKET = "ATBB" + _run(_ALNUM, 32, "bitbucket")
_BUILDKITE = "bkua" + "_" + _run(_HEX, 40, "buildkite")
_FIGMA = "figd" + "_" + _run(_ALNUM + "_-", 40, "figma")
_RENDER = "rnd" + "_" + _run(_ALNUM, 32, "render")
_ALIBABA = "LTAI" + _run(_ALNUM, 20, "alibaba")
VENDOR_LEAKS = [
    (f"requests.get(url, headers={{'x-hs': '{_HUBSPOT_EU}'}})", _HUBSPOT_EU),
    (f"curl https://api.hubapi.com/crm/v3/objects/contacts -H 'x-hs: {_HUBSPOT}'", _HUBSPOT),
    (f"token in env: {_REPLICATE}", _REPLICATE),
    (f"replicate: 401 Unauthorized ({_REPLICATE})", _REPLICATE),
    (f"openrouter: 401 for key {_OPENROUTER}", _OPENROUTER),
    (f"Langfuse({_LANGFUSE!r})", _LANGFUSE),
    (f"mvn sonar:sonar -Dsonar.l={_SONAR_P}", _SONAR_P),
    (f"sonar-scanner run with {_SONAR_U}", _SONAR_U),
    (f"OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team={_HC_INGEST},x-honeycomb-dataset=prod", _HC_INGEST),
    (f"libhoney: sending batch with {_HC_INGEST}", _HC_INGEST),
    (f'honeycomb: {{"wk": "{_HC_INGEST2}"}}', _HC_INGEST2),
    (f"axiom: ingest failed for {_AXIOM}", _AXIOM),
    (f"neonctl --api {_NEON} projects list", _NEON),
    (f"contentful space list --mt {_CONTENTFUL}", _CONTENTFUL),
    (f"git push https://bitbucket.org/w/r.git using {_BITBUCKET}", _BITBUCKET),
    (f"buildkite-agent start --with {_BUILDKITE}", _BUILDKITE),
    (f"figma export failed: {_FIGMA}", _FIGMA),
    (f"render deploy --k {_RENDER}", _RENDER),
    (f"aliyun: using {_ALIBABA}", _ALIBABA),
]
VENDOR_KEPT = [
    "pat-na1- keys replace the legacy hapikey; pat-na1-short",
    "pat-na1-12345678-1234-1234-1234 truncated",
    "r8_ prefix; r8_abc; r8_" + "a" * 36 + "_suffix",
    "sk-or-v1- keys are 64 hex; sk-lf-prefix",
    "sqp_1234 and squ_ and sqa_abcdef",
    "hcaik_ ingest keys are 64 characters",
    "xaat- and xapt- prefixes",
    "napi_ keys; napi_version=9",
    "CFPAT- tokens",
    "ATBBCCDD build step",
    "bkua_ prefix, figd_ prefix, rnd_seed=42",
    "LTAIR sensor; LTAI5 short",
]


def test_a_vendor_key_of_a_known_shape_is_redacted(tmp_path: Path) -> None:
    """Before: HubSpot's ``pat-na1-``/``pat-eu1-``, Replicate's ``r8_``, OpenRouter's ``sk-or-v1-``, Langfuse's
    ``sk-lf-``, SonarQube's ``sqp_``/``squ_``, Honeycomb's ``hcaik_``/``hcxik_``, Axiom's ``xaat-``, Neon's
    ``napi_``, Contentful's ``CFPAT-``, Bitbucket's ``ATBB``, Buildkite's ``bkua_``, Figma's ``figd_``, Render's
    ``rnd_`` and Alibaba Cloud's ``LTAI`` keys outside a secret-named field kept the key; 19 of 19 lines leaked."""
    _each_redacted(VENDOR_LEAKS, VENDOR_KEPT, tmp_path / "vendor.log")


# -- JSON nested in JSON strings, query parameters percent-encoded twice ---------------------------------------------
_TOK = "tok_" + _run(_ALNUM, 32, "nested")
NESTED_LEAKS = [
    # a container runtime's JSON line of an application's JSON log of a request body (three levels)
    (
        '{"log":"{\\"msg\\":\\"request\\",\\"body\\":\\"{\\\\\\"password\\\\\\":\\\\\\"'
        + _PW
        + '\\\\\\"}\\"}\\n","stream":"stdout"}',
        _PW,
    ),
    (
        '{"log":"{\\"body\\":\\"{\\\\\\"client_secret\\\\\\": \\\\\\"'
        + _PW
        + '\\\\\\", \\\\\\"grant_type\\\\\\": \\\\\\"client_credentials\\\\\\"}\\"}"}',
        _PW,
    ),
    ('"{\\\\\\"access_token\\\\\\":\\\\\\"' + _TOK + '\\\\\\",\\\\\\"expires_in\\\\\\":3600}"', _TOK),
    ('{"log":"{\\\\\\"api_key\\\\\\":\\\\\\"' + _TOK + '\\\\\\"}"}', _TOK),
    # a redirect URL inside a redirect URL: "?" "=" "&" percent-encoded twice
    (f"GET /r?u=https%253A%252F%252Fapp.example.com%252Fcb%253Ftoken%253D{_TOK} HTTP/1.1", _TOK),
    (f"location: /sso?RelayState=%252Fhome%253Fapi_key%253D{_TOK}", _TOK),
    (f"GET /cb?next=%2Fapi%3Fapi_key%253D{_TOK}%2526x%253D1", _TOK),
    (f"redirect_uri=https%253A%252F%252Fapp%252Fcb%253Faccess_token%253D{_TOK}", _TOK),
]
NESTED_KEPT = [
    '{"log":"{\\"body\\":\\"{\\\\\\"password_length\\\\\\":12,\\\\\\"token_type\\\\\\":\\\\\\"Bearer\\\\\\"}\\"}"}',
    '{"log":"{\\"body\\":\\"{\\\\\\"user\\\\\\":\\\\\\"alice\\\\\\"}\\"}"}',
    "GET /r?u=https%253A%252F%252Fapp.example.com%252Flist%253Fpage%253D2%2526sort%253Dname HTTP/1.1",
    "GET /r?u=%252Fsearch%253Fq%253Dtoken%252520limits",
]


def test_a_secret_in_nested_json_or_twice_encoded_query_is_redacted(tmp_path: Path) -> None:
    """Before: a field of JSON nested two or three levels in JSON strings (its quotes escaped as ``\\\\\\"``) and a
    query parameter percent-encoded twice (``%253F``, ``%253D``) kept the value; 8 of 8 lines leaked."""
    _each_redacted(NESTED_LEAKS, NESTED_KEPT, tmp_path / "nested.log")
    # the scrubbed JSON stays JSON, its nested strings too
    out = scrub(NESTED_LEAKS[0][0])
    inner = json.loads(json.loads(json.loads(out)["log"])["body"])
    assert MARKER.fullmatch(inner["password"]), inner


# -- look-alikes of every kind: identifiers, digests, encodings ----------------------------------------------------
_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
LOOK_ALIKES = [
    f"sha256:{hashlib.sha256(b'layer').hexdigest()} pulled",
    f"commit {hashlib.sha1(b'c').hexdigest()} (HEAD -> main)",
    f"request_id={_uuid('request')} status=200",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    f'ETag: "{hashlib.md5(b"e").hexdigest()}"',
    f'<img src="data:image/png;base64,{_PNG}">',
    "x-amz-request-id: 4442587FB7D0A2F9 x-amz-id-2: " + base64.b64encode(hashlib.sha256(b"id2").digest()).decode(),
    "ssh-keygen: generating new host keys: RSA ECDSA ED25519",
    "nmcli general status: connected (site only)",
    'ACL LOG reason "auth" object "AUTH" username "default"',
    "GET /static/app.9f8e7d6c.js?v=%253D HTTP/1.1",
]


def test_look_alikes_are_unchanged(tmp_path: Path) -> None:
    """Identifiers, digests, trace ids, a base64 image and the commands' benign forms stay as they are, through
    scrub(), an event's value and the stdlib logging redactor; the scanner finds nothing in them."""
    _kept_and_scanned(LOOK_ALIKES, [], tmp_path / "kept.log")
    every = [*LOOK_ALIKES, *HONEYCOMB_KEPT, *COMMAND_KEPT, *REDIS_KEPT, *VENDOR_KEPT, *NESTED_KEPT]
    for line in every:
        assert line in _through_logging(line)
    log = tmp_path / "all_kept.log"
    log.write_text("".join(line + "\n" for line in every))
    for engine in ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else []):
        assert list(scan.Scanner(engine).scan_file(str(log), scan.ScanReport())) == [], engine


def test_bad_input_never_raises() -> None:
    """bytes, None, odd unicode and long lines of the new forms come back without a traceback."""
    for value in (
        b"ssh-keygen -N \xff\xfe -f k",
        "nmcli wifi-sec.psk \udcff",
        "ACL SETUSER \u0130 >\u212a" * 3,
        '"auth" "\x00"',
        "%253F" * 10_000 + "token%253D",
    ):
        out = scrub(value)
        assert isinstance(out, type(value))
    assert scrub_value(None) is None
    record_filter = LoggingRedactor()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", (b"ejabberdctl register a b \xff",), None)
    assert record_filter.filter(record)
