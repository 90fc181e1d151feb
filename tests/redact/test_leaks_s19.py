"""Session 19: leaks of keys named for their role, one-time codes and CAS tickets in queries, and passwords given to
Redis, IRC services and RDP/database clients on a command line; and the clean look-alikes those fixes must keep.

Each test runs over its fix's list of lines (real shapes: the issues and docs cited next to each list): the secret is
gone, one marker stands where it stood and the rest of the line is kept; then the look-alikes, unchanged.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import LoggingRedactor, patterns, scan, scrub, scrub_value

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-19-key", fingerprint_key_id="s")


def _redacted_in_place(text: str, secret: str) -> None:
    """``secret`` is gone from ``scrub(text)``, one marker stands in its place, the rest of the text is kept, and
    scrubbing again changes nothing; the log redactors' gate lets the text through."""
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    assert len(MARKER.findall(out)) == 1, out
    assert MARKER.sub(lambda _: secret, out) == text, out
    assert scrub(out) == out
    assert patterns.may_hold_secret(text)


# -- keys named for their role: shared, pre-shared, a cipher's, a license's ------------------------------------
_KEY = "Qx7m3nB2Zk9wLp4v"
_NR_LICENSE = "eu01xx66c637a29c3982469a3fe8d1a2FFFFNRAL"  # (a New Relic license key's shape: 40 characters)
KEY_ROLE_LEAKS = [
    # New Relic's agents logged the collector URL with the key in it (newrelic/newrelic-java-agent#1653,
    # newrelic/go-agent#353) and the key in their settings payload; their environment variable and config files
    ("2023-12-08T16:25:42,436-0800 [23116 44] com.newrelic.agent.deps.org.apache.http.impl.execchain.MainClientExec "
     f"DEBUG: Executing request POST /agent_listener/invoke_raw_method?method=connect&license_key={_NR_LICENSE}"
     "&marshal_format=json&protocol_version=17 HTTP/1.1", _NR_LICENSE),
    (f'with payload: [{{"settings":{{"app_name":"web","license_key":"{_NR_LICENSE}","host":"web-1"}}}}]', _NR_LICENSE),
    (f"NEW_RELIC_LICENSE_KEY={_NR_LICENSE}", _NR_LICENSE),
    (f"license_key = {_NR_LICENSE}", _NR_LICENSE),
    (f"  licenseKey: '{_NR_LICENSE}'", _NR_LICENSE),
    # MaxMind's GeoIP download URL
    ("curl -sSLo GeoLite2-City.tar.gz 'https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-City"
     f"&license_key={_KEY}&suffix=tar.gz'", _KEY),
    (f"license-key: {_KEY}", _KEY),
    (f"shared_key={_KEY} mode=hmac", _KEY),
    (f'{{"sharedKey": "{_KEY}", "peer": "10.0.0.2"}}', _KEY),
    (f"pre-shared-key {_KEY}", _KEY),
    # WireGuard's peer section (wg showconf)
    ("PresharedKey = /UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=", "/UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak="),
    (f"AES_KEY={_KEY}", _KEY),
    (f"cipher config: {{'aes_key': '{_KEY}', 'mode': 'GCM'}}", _KEY),
    (f"aesKey={_KEY}&iv=00000000", _KEY),
]  # fmt: skip
KEY_ROLE_KEPT = [
    # a key that names a record, an entry or a request is no secret; nor are an id, a public key, a size
    "primary_key=user_id sort_key=created_at partition_key=tenant-42",
    'DynamoDB: {"partition_key": "tenant#42", "sort_key": "order#2024-01-01"}',
    "foreign_key=orders.user_id on_delete=cascade",
    "idempotency_key=7f1c2a9e-1b2c-4d5e-8f90-abcdef012345 replayed=false",
    "Idempotency-Key: 7f1c2a9e-1b2c-4d5e-8f90-abcdef012345",
    "cache_key=user:42:profile cache_key_hash=9f8e7d6c5b4a3210",
    "key_id=abc123def456 kid=2011-04-29",
    "public_key_fingerprint=SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
    "keyboard=us monkey=patched",
    "shared_key_id=abc123 license_key_id=7 aes_key_size=256 aes_key_length: 32 license_key_status=valid",
    "licenseKeyExpiresAt=2025-01-01",
]


def _kept_and_scanned(kept: list[str], leaks: list[str], log: Path) -> None:
    """Each look-alike unchanged, and the scanner's triggers find every leaking line, with each engine."""
    for line in kept:
        assert scrub(line) == line
        assert scrub_value({"msg": line}) == {"msg": line}
    log.write_text("".join(text + "\n" for text in leaks))
    for engine in ["all", "python"] + (["hyperscan"] if scan.default_engine() == "hyperscan" else []):
        found = {f.line for f in scan.Scanner(engine).scan_file(str(log), scan.ScanReport())}
        assert found == set(range(1, len(leaks) + 1)), engine


def _redacting_logger(stream: io.StringIO) -> logging.Logger:
    """A logger writing to ``stream`` through a handler with the stdlib logging redactor."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.leaks")
    logger.propagate = False
    logger.handlers[:] = [handler]
    return logger


def _through_logging(text: str) -> str:
    stream = io.StringIO()
    _redacting_logger(stream).warning(text)
    return stream.getvalue()


def _each_redacted(leaks: list[tuple[str, str]], kept: list[str], log: Path) -> None:
    """Each leak's secret redacted in place, also by the stdlib logging redactor and in an event's value, then
    :func:`_kept_and_scanned`."""
    for text, secret in leaks:
        _redacted_in_place(text, secret)
        assert secret not in _through_logging(text)
        assert secret not in str(scrub_value({"msg": text}))
    _kept_and_scanned(kept, [text for text, _ in leaks], log)


def test_a_key_named_for_its_role_is_redacted() -> None:
    """Before: ``license_key``, ``shared_key``, ``PresharedKey``, ``aes_key`` (and their camelCase, kebab, JSON,
    ``name = value`` and spaced forms) kept their value in the clear; the roles are ``patterns._KEY_ROLES`` now."""
    for text, secret in KEY_ROLE_LEAKS:
        _redacted_in_place(text, secret)
    for name in ("license_key", "licenseKey", "shared-key", "AES_KEY", "PresharedKey"):
        assert scrub_value({name: _KEY})[name].startswith("[REDACTED:secret_field:")
    for line in KEY_ROLE_KEPT:
        assert scrub(line) == line
    kept = {"primary_key": "id", "idempotency_key": "k-1", "cache_key": "u:1", "sort_key": "ts"}
    assert scrub_value(kept) == kept


# -- one-time codes and PINs, CAS tickets, in queries and forms -------------------------------------------------
_CAS_ST = "ST-1764-1lAgfQwbrmpIsp5c2kcT-int-sso.example.com"
CODE_LEAKS = [
    # an access log's line (combined format) for a second factor sent in the query
    ('10.1.2.3 - - [12/Mar/2024:10:00:00 +0000] "GET /account/2fa/verify?user=bob&otp=492039 HTTP/1.1" 302 0 "-" '
     '"Mozilla/5.0"', "492039"),
    ("GET /login?user=bob&totp=492039 HTTP/1.1", "492039"),
    ("GET /confirm?MFA_CODE=123456&next=/home", "123456"),
    ("POST /unlock body=user=bob&pin=4821&remember=1", "4821"),
    ("GET /join?meeting=84512&passcode=839201 HTTP/1.1", "839201"),
    ("next=%2Fverify%3Fhotp%3D755224", "755224"),
    # CAS: a service ticket validated (apereo/cas#2860, its ticket), one redirected to the service
    # (apereo/cas#2297), the proxy callback's PGT IOU and PGT, a proxy request
    (f"GET /cas/p3/serviceValidate?service=https%3A%2F%2Fapp.example.com%2Flogin&ticket={_CAS_ST} HTTP/1.1", _CAS_ST),
    ('192.168.1.5 - - [11/Jan/2017:00:38:07 +0700] "GET /?ticket=ST-3-6mQccyA9fRKdRrF1H94j-cas01.example.org '
     'HTTP/1.1" 200 512', "ST-3-6mQccyA9fRKdRrF1H94j-cas01.example.org"),
    ("GET /cas/validate/?service=myapp.com&ticket=ST-1499890541-fFvDc3ATyrC6EaNMIpnWFlgvyYkwXsh6",
     "ST-1499890541-fFvDc3ATyrC6EaNMIpnWFlgvyYkwXsh6"),
    ("GET /proxycb?pgtIou=PGTIOU-84678-8a9d2sfa23casd8s7d6fa5s4d3 HTTP/1.1", "PGTIOU-84678-8a9d2sfa23casd8s7d6fa5s4d3"),
    ("GET /cas/proxy?targetService=https%3A%2F%2Fapi&pgt=PGT-330-CSdUmrZaDyakFGDWMWNx2ZQ89NBqwH5Je5QWfp8L25QRXbJNYvoU",
     "PGT-330-CSdUmrZaDyakFGDWMWNx2ZQ89NBqwH5Je5QWfp8L25QRXbJNYvoU"),
]  # fmt: skip
CODE_KEPT = [
    # no code's shape (fewer than 4 characters, or no digit): a GPIO pin, a pinned message, a flag
    "GET /gpio?pin=17&state=on HTTP/1.1",
    "GET /messages/42?pin=true HTTP/1.1",
    "GET /chat?pin=top&otp=off",
    "GET /x?otp=&pin=${PIN}&totp=******",
    "GET /settings?otp_enabled=true&pin_length=6&mfa_code_ttl=30 HTTP/1.1",
    "GET /x?shipping=2&mapping=a&ping=3",
    # a support ticket, an issue's key, a branch named after one: no CAS ticket
    "GET /support?ticket=12345 HTTP/1.1",
    "GET /jira/browse?ticket=ST-1234&pgt=PT-42",
    "GET /jira?ticket=PT-42-fix-login-form-validation",
    "GET /jira?ticket=ST-1234-refactorauthenticationmodule",
]


def test_a_one_time_code_or_a_cas_ticket_in_a_query_is_redacted() -> None:
    """Before: ``otp``, ``totp``, ``hotp``, ``pin``, ``mfa_code`` and ``passcode`` (with a percent-encoded "=" too)
    and CAS's ``ticket``, ``pgtIou``, ``pgtId``, ``pgt`` kept their value in a query or form; they are query names
    now whose value is redacted when it has the shape of a code (4 characters or more, a digit) or of a CAS ticket
    (``patterns.QUERY_SHAPES``)."""
    for text, secret in CODE_LEAKS:
        _redacted_in_place(text, secret)
        assert "[REDACTED:query_token:" in scrub(text)
    for line in CODE_KEPT:
        assert scrub(line) == line
    for name in ("otp", "totp", "mfa_code", "MFA_CODE", "pin"):  # (strong names: a mapping's values too)
        assert scrub_value({name: "492039"})[name].startswith("[REDACTED:secret_field:")


# -- passwords on command lines: Redis, IRC services, RDP and database clients ----------------------------------
_PW = "Xk9pQ2mZ7w"
COMMAND_LEAKS = [
    # redis.conf and CONFIG SET (redis/redis#7081 asked redis-cli to keep "config set requirepass" and
    # "masterauth" out of its history file)
    (f"masterauth {_PW}", _PW),
    (f'masterauth "{_PW}"', _PW),
    (f"127.0.0.1:6379> CONFIG SET masterauth {_PW}", _PW),
    (f"MASTERAUTH={_PW}", _PW),
    # IRC: the raw command a bot or a bouncer logs (cinchrb/cinch-identify#2), a client's command
    # (Akuli/mantaray#64: "/ns identify Akuli xyz" written to the log file)
    (f"-> irc.libera.chat PRIVMSG NickServ :IDENTIFY {_PW}", _PW),
    (f"PRIVMSG nickserv :identify berbot {_PW}", _PW),
    (f"/msg NickServ identify {_PW}", _PW),
    (f"/msg NickServ IDENTIFY Akuli {_PW}", _PW),
    (f"/ns identify Akuli {_PW}", _PW),
    (f"/nickserv identify {_PW}", _PW),
    (f"[12:00] >>> PRIVMSG NickServ@services.dal.net :IDENTIFY bot {_PW}\\r\\n", _PW),
    # FreeRDP's and rdesktop's password in a process listing, shell history, a launcher's log (FreeRDP/FreeRDP#3639,
    # its usage text's "/p:Pwd123!"; Thinstation/thinstation#780)
    (f"root  12345  0.0  0.1 123456 7890 ?  Sl 10:00  0:00 xfreerdp /v:10.0.0.5 /u:Administrator /p:{_PW} "
     "/cert:ignore", _PW),
    (f'xfreerdp /u:"CONTOSO\\JohnDoe" /p:"{_PW}" /v:rdp.contoso.com', _PW),
    (f" 1042  xfreerdp3 /v:192.168.1.100:4489 /u:JohnDoe /p:{_PW} /w:1366 /h:768", _PW),
    (f"sdl-freerdp /v:host /u:user /gp:{_PW} /g:gw.example.com", _PW),
    (f"xfreerdp -u admin -p {_PW} 10.0.0.5", _PW),
    (f"rdesktop -u admin -p {_PW} 10.0.0.5", _PW),
    # mysql's "-P" is the port: the password after it was kept (and the port redacted)
    (f"mysql -h db.internal -P 3306 -u root -p{_PW} app", _PW),
    (f"mariadb -h db -P3307 -u app -p'{_PW}' -e 'select 1'", _PW),
    # sshpass reads the password from its environment with -e
    (f"SSHPASS={_PW} sshpass -e ssh deploy@10.0.0.5", _PW),
]  # fmt: skip
COMMAND_KEPT = [
    "masteruser replica masterauth-ping 30",
    "# masterauth <master-password>",
    "Is there a shortcut to the `/msg NickServ identify` command?",
    ":NickServ!NickServ@services. NOTICE berbot :Password Incorrect",
    "NickServ identify failed for bob",
    "/msg NickServ IDENTIFY <password>",
    "-> irc.libera.chat PRIVMSG NickServ :IDENTIFY ****",
    "dns identify 10.0.0.1 as resolver",
    "xfreerdp /v:10.0.0.5 /u:admin /port:3389 /cert:ignore",
    "xfreerdp /v:host /u:user /from-stdin /p: ",
    "rdesktop -u admin -p - 10.0.0.5",
    "mysql -h db -P 3306 -u root app",
    "ssh -p 2222 deploy@10.0.0.5",
]


def test_a_password_given_to_redis_an_irc_service_or_an_rdp_client_is_redacted(tmp_path: Path) -> None:
    """Before: ``masterauth x`` (its ``auth`` stem is weak: no spaced form), NickServ's ``IDENTIFY [account] x`` in
    every client's form, FreeRDP's ``/p:x`` / ``/gp:x`` and rdesktop's ``-p x``, a mysql
    password after the port's ``-P``, and ``SSHPASS=x`` kept the password."""
    for text, secret in COMMAND_LEAKS:
        _redacted_in_place(text, secret)
    _kept_and_scanned(COMMAND_KEPT, [text for text, _ in COMMAND_LEAKS], tmp_path / "commands.log")


# -- an auditd record's command line: EXECVE's arguments one field each, PROCTITLE's in hex -----------------------
def _hex(text: str) -> str:
    return text.encode().hex().upper()


_EXECVE = "type=EXECVE msg=audit(1700000000.123:456): "
AUDIT_LEAKS = [
    # an option and its value split into fields (the zshellcheck rules afadesigns/zshellcheck#609 and #654 name the
    # audit log among the places "sshpass -p x" and "mysql -px" show; EXECVE's shape as in wazuh/wazuh#9065)
    (_EXECVE + f'argc=5 a0="sshpass" a1="-p" a2="{_PW}" a3="ssh" a4="deploy@10.0.0.5"', _PW),
    (_EXECVE + f'argc=6 a0="mysql" a1="-h" a2="db" a3="-u" a4="root" a5="-p{_PW}"', _PW),
    (_EXECVE + f'argc=5 a0="mysql" a1="-u" a2="root" a3="--password" a4="{_PW}"', _PW),
    (_EXECVE + f'argc=3 a0="redis-cli" a1="-a" a2="{_PW}"', _PW),
    (f'node=web-1 type=EXECVE msg=audit(1624393730.580:9623): argc=4 a0="vault" a1="login" a2="{_PW}" a3="-"', _PW),
    # an argument holding a blank or a quote is written in hex, whole ("s3cr3t pw!")
    (_EXECVE + f'argc=4 a0="sshpass" a1="-p" a2={_hex("s3cr3t pw!")} a3="ssh"', _hex("s3cr3t pw!")),
    (_EXECVE + f'argc=3 a0="mysql" a1="--password" a2={_hex("pa ss")}', _hex("pa ss")),
]  # fmt: skip
AUDIT_LEAKS_REWRITTEN = [
    # a hex argument holding the secret and more: the scrubbed argument, quoted; PROCTITLE's line the same
    (_EXECVE + f'argc=3 a0="bash" a1="-c" a2={_hex(f"mysql -u root -p{_PW} app")}',
     _EXECVE + 'argc=3 a0="bash" a1="-c" a2="mysql -u root -p[REDACTED] app"'),
    ("type=PROCTITLE msg=audit(1700000000.123:456): proctitle=" + _hex(f"sshpass\0-p\0{_PW}\0ssh\0deploy@10.0.0.5"),
     'type=PROCTITLE msg=audit(1700000000.123:456): proctitle="sshpass -p [REDACTED] ssh deploy@10.0.0.5"'),
]  # fmt: skip
AUDIT_KEPT = [
    _EXECVE + 'argc=2 a0="ps" a1="ax"',
    _EXECVE + 'argc=3 a0="ssh" a1="-p" a2="2222"',
    _EXECVE + 'argc=4 a0="mysql" a1="-P" a2="3306" a3="app"',
    _EXECVE + f'argc=3 a0="echo" a1={_hex("hello world")} a2="-p"',
    _EXECVE + 'argc=3 a0="sh" a1="-c" a2_len=15496 a2[0]=6563686F20276D345F',
    "type=PROCTITLE msg=audit(1700000000.123:456): proctitle=" + _hex("ls\0-la\0/tmp"),
    'type=PROCTITLE msg=audit(1700000000.123:456): proctitle="/opt/antivirus/avz/libexec/avz"',
    "type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 a0=1957300 a1=195c370 "
    'a2=194f380 a3=7ffcc23d77a0 items=2 ppid=4462 pid=6145 comm="ps" exe="/usr/bin/ps"',
]


def test_a_password_in_an_auditd_record_of_a_command_is_redacted(tmp_path: Path) -> None:
    """Before: an EXECVE record's arguments, one field each (``a1="-p" a2="x"``, a hex ``a2=...`` for an argument
    holding a blank), and PROCTITLE's hex command line kept the password: no command-line pattern saw an option beside
    its value. Now the scrubber joins each record's arguments into one command line (``patterns.audit_commands``),
    scrubs it and writes back each argument it changed."""
    for text, secret in AUDIT_LEAKS:
        _redacted_in_place(text, secret)
        assert patterns.may_hold_secret(text)  # (the log redactors' gate lets it through)
    for text, expected in AUDIT_LEAKS_REWRITTEN:
        assert patterns.may_hold_secret(text)
        out = scrub(text)
        assert MARKER.sub("[REDACTED]", out) == expected, out
        assert _PW not in out and _hex(_PW) not in out and scrub(out) == out
    _kept_and_scanned(
        AUDIT_KEPT,
        [text for text, _ in AUDIT_LEAKS] + [text for text, _ in AUDIT_LEAKS_REWRITTEN],
        tmp_path / "audit.log",
    )


# -- NickServ's other commands that take a password: REGISTER (first argument), GHOST/RECOVER/RELEASE/REGAIN (last) -
NICKSERV_LEAKS = [
    # Atheme's and Anope's REGISTER <password> [<email>] (atheme/atheme#578: the password echoed back, logged by the
    # client), as the raw command, a client's command, the alias
    (f"-> irc.libera.chat PRIVMSG NickServ :REGISTER {_PW} bob@example.com", _PW),
    (f"/msg NickServ REGISTER {_PW} bob@example.com", _PW),
    (f"/msg nickserv register {_PW}", _PW),
    (f"/ns register {_PW} bob@example.com", _PW),
    (f'/msg NickServ REGISTER "{_PW}" bob@example.com', _PW),
    # GHOST <nick> <password> (w8tvi/dircproxy#40's "PRIVMSG nickserv :ghost <my nick> <my passwd>"; flackr/circ#269:
    # "/msg nickserv ghost myotherusername mypassword" was not starred out like identify), and its successors
    (f"PRIVMSG nickserv :ghost bob {_PW}", _PW),
    (f"/msg nickserv ghost bob {_PW}", _PW),
    (f"/msg NickServ RECOVER bob {_PW}", _PW),
    (f"/msg NickServ RELEASE bob {_PW}", _PW),
    (f"-> irc.libera.chat PRIVMSG NickServ :REGAIN bob {_PW}\\r\\n", _PW),
    (f"/ns ghost bob {_PW}", _PW),
]  # fmt: skip
NICKSERV_KEPT = [
    "Please /msg NickServ REGISTER <password> <email>",
    "/msg NickServ REGISTER password email",
    "/msg NickServ register ******** bob@example.com",
    "/msg NickServ GHOST bob",
    "/msg NickServ RELEASE bob",
    "/msg NickServ help register",
    ":NickServ!NickServ@services. NOTICE bob :bob has been ghosted.",
    "NickServ: register your nick first",
    "the ns ghost bob was killed",
    "ns register",
]


def test_a_password_given_to_nickserv_register_or_ghost_is_redacted(tmp_path: Path) -> None:
    """Before: NickServ's ``REGISTER x [email]`` and ``GHOST|RECOVER|RELEASE|REGAIN nick x`` kept the password (only
    IDENTIFY was known); they are ``patterns.NICKSERV_FIRST`` and ``NICKSERV_LAST`` now."""
    _each_redacted(NICKSERV_LEAKS, NICKSERV_KEPT, tmp_path / "irc.log")


# -- Oracle's clients given their logon "user/password@connect" --------------------------------------------------
ORACLE_LEAKS = [
    # an Oracle XE container's session (gvenzl/oci-oracle-xe#156): sqlplus and expdp with the logon, SQL*Plus' CONNECT
    (f"bash-4.4$ sqlplus sys/{_PW}@xepdb1 as sysdba", _PW),
    (f"bash-4.4$ expdp system/{_PW}@xepdb1 schemas=gerald dumpfile=gerald.dmp logfile=gerald_exp.log", _PW),
    (f"SQL> conn gerald/{_PW}@xepdb1", _PW),
    (f"SQL> connect scott/{_PW}@orcl", _PW),
    # a tool's failed command (yugabyte/yb-voyager#1579 masked it: a TNS descriptor after "@"), a CI step's trace
    (f"command failed: sqlplus -S 'admin/{_PW}@(DESCRIPTION = (ADDRESS = (PROTOCOL = TCP)(HOST = db)(PORT = 1521)))' "
     "@/etc/yb-voyager/index-to-table-mapping.sqlplus PARTITIONS_SCHEMA", _PW),
    (f'+ /u01/app/oracle/product/19c/bin/sqlplus -L "app/{_PW}@db.example.com:1521/ORCLPDB1" @run.sql', _PW),
    (f"sqlplus -s system/{_PW}@//db:1521/XE", _PW),
    (f"sqlldr userid=scott/{_PW}@orcl control=load.ctl log=load.log", _PW),
    (f"impdp 'sys/{_PW}@XE as sysdba' full=y directory=DATA_PUMP_DIR", _PW),
    (f"rman target sys/{_PW}@prod catalog rman/{_PW}@rcat", _PW),
    (f"rman target / catalog rman/{_PW}@rcat", _PW),
]  # fmt: skip
ORACLE_KEPT = [
    "sqlplus / as sysdba",
    "SQL> conn / as sysdba",
    "sqlplus /nolog @script.sql",
    "sqlplus scott@orcl",
    "command failed: sqlplus -S 'admin/*****@(DESCRIPTION = (ADDRESS = (PROTOCOL = TCP)(HOST = db)))' @x.sqlplus",
    "SQL> grant connect, resource to gerald;",
    "expdp directory=DATA_PUMP_DIR dumpfile=x.dmp",
    "- uses: actions/checkout@v4",
    "imp github.com/foo/bar@v1.2.3",
    "connect to db/app@server failed",
]


def test_a_password_in_an_oracle_logon_is_redacted(tmp_path: Path) -> None:
    """Before: a logon given to sqlplus, expdp/impdp, sqlldr, rman, dgmgrl or SQL*Plus' CONNECT kept its password
    (only the thin JDBC URL's was known); ``patterns.ORACLE_LOGON`` now."""
    for text, secret in ORACLE_LEAKS:
        if text.count(secret) == 1:
            _redacted_in_place(text, secret)
        out = scrub(text)
        assert secret not in out and "[REDACTED:url_password:" in out and scrub(out) == out, out
        assert patterns.may_hold_secret(text)
    _kept_and_scanned(ORACLE_KEPT, [text for text, _ in ORACLE_LEAKS], tmp_path / "oracle.log")


# -- IPMI tools' passwords (ipmitool -P, FreeIPMI -p) and smbclient's quoted user%password --------------------------
IPMI_LEAKS = [
    # CloudStack's out-of-band management logged the command (apache/cloudstack#8526, its fix apache/cloudstack#10428)
    ("2025-02-20 06:09:29,963 DEBUG [o.a.c.o.d.i.IpmitoolOutOfBandManagementDriver] (API-Job-Executor-39:ctx-2e0eb985 "
     "job-55) (logid:5b7d3af5) The command [/usr/bin/ipmitool -I lanplus -R 1 -v -H localhost -p 623 -U ADMIN "
     f"-P {_PW} chassis power status] was successful and got the result [Chassis Power is on].", _PW),
    # a Home Assistant add-on's error (ateodorescu/home-assistant-addons#4), a shell session (openbmc/ipmitool#6)
    (f'PHP message: Error occurred when running "ipmitool -H 10.0.0.9 -p 623 -U admin -P {_PW} -I open bmc info".',
     _PW),
    (f"xiuzhi@xiuzhi:$ ipmitool -I lanplus -H 192.168.200.132 -P {_PW} raw 0x2e 0x32 0x79 0x2b 0x00 0x1 0x1", _PW),
    # FreeIPMI's tools: a monitoring plugin's failure output (thomas-krenn/check_ipmi_sensor_v3#35), ipmiconsole's -p
    # (chu11/freeipmi-mirror#64), ipmipower
    (f"   /usr/sbin/ipmi-sensors -h 127.0.0.1 -u someuser -p {_PW} -l user --quiet-cache --sdr-cache-recreate", _PW),
    (f"ipmiconsole -h bmc01 -u admin -p {_PW}", _PW),
    (f"ipmipower -h node[01-10]-bmc -u admin -p {_PW} --stat", _PW),
    # smbclient's -U with the user%password pair quoted
    (f"+ smbclient -U 'bob%{_PW}' //server/share -c ls", _PW),
    (f'+ smbclient //server/share -U "DOMAIN\\bob%{_PW}"', _PW),
]  # fmt: skip
IPMI_KEPT = [
    "ipmitool -I lanplus -H 10.0.0.9 -p 623 -U admin -E chassis status",
    "ipmitool -H 10.0.0.9 -U admin -f /etc/ipmi.pass power status",
    "ipmitool -I lanplus -H bmc -U admin -P - sel list",
    "root@palmetto:~# ipmitool lan print",
    "ipmi-sensors -h 127.0.0.1 -u someuser -P -l user",
    "smbclient -L //server -U bob",
    "smbclient -N -L //server",
]


def test_a_password_given_to_an_ipmi_tool_or_quoted_to_smbclient_is_redacted(tmp_path: Path) -> None:
    """Before: ipmitool's ``-P x`` (its ``-p`` is the port), FreeIPMI's ``-p x`` and smbclient's ``-U 'user%x'`` (the
    pair quoted) kept the password; ipmitool and FreeIPMI are one ``patterns.CLI_SHORT`` entry now, its pattern run on
    the original text (``patterns.CLI_SHORT_CASED``)."""
    _each_redacted(IPMI_LEAKS, IPMI_KEPT, tmp_path / "ipmi.log")


# -- a password set with chpasswd, or turned into a SecureString by PowerShell -------------------------------------
SHELL_SET_LEAKS = [
    # an image build's step and its failure (streamnsight/docker-flink#2, SeleniumHQ/docker-selenium#98)
    (f"Step 5 : RUN echo 'root:{_PW}' | chpasswd  ---> Running in 3e912902a146", _PW),
    (f"2015/08/04 05:15:50 The command [/bin/sh -c echo 'root:{_PW}' | chpasswd] returned a non-zero code: 1", _PW),
    (f"Step 5 : RUN sudo useradd seluser --shell /bin/bash --create-home  && echo 'seluser:{_PW}' | chpasswd", _PW),
    (f'+ echo -e "deploy:{_PW}\\n" | sudo chpasswd', _PW),
    (f"+ chpasswd <<< 'deploy:{_PW}'", _PW),
    # PowerShell: a remote session's logged launch command (rzander/sccmclictr#176), a script scanner's finding
    # (techspence/ScriptSentry#3), module logging's event 4103 (microsoft/azure-pipelines-tasks#15485)
    ('"powershell.exe" -NoExit -Command $creds = New-Object System.Management.Automation.PSCredential '
     f"('CONTOSO\\admin', (ConvertTo-SecureString '{_PW}' -AsPlainText -Force));Enter-PSSession host1", _PW),
    (f"ConvertTo-SecureString -AsPlainText -Force -String {_PW}", _PW),
    (f'ParameterBinding(ConvertTo-SecureString): name="String"; value="{_PW}"', _PW),
]  # fmt: skip
# (a field's name before the cmdlet: the field takes the cmdlet's name for its value, as before - two markers)
SHELL_SET_LEAKS_AFTER_FIELD = [f'$password = ConvertTo-SecureString -String "{_PW}" -AsPlainText -Force']
SHELL_SET_KEPT = [
    "chpasswd: (line 1, user root) password not changed",
    "echo 'root:x' >> /etc/shadow.log",
    "ConvertTo-SecureString $Secret -AsPlainText -Force",
    'ConvertTo-SecureString "$pw" -AsPlainText -Force',
    "ConvertTo-SecureString -String $env:PW -AsPlainText -Force",
    'ParameterBinding(ConvertTo-SecureString): name="AsPlainText"; value="True"',
    'CommandInvocation(ConvertTo-SecureString): "ConvertTo-SecureString"',
]


def test_a_password_set_with_chpasswd_or_made_a_securestring_is_redacted(tmp_path: Path) -> None:
    """Before: ``echo 'user:x' | chpasswd`` (and ``chpasswd <<< 'user:x'``), ``ConvertTo-SecureString 'x'
    -AsPlainText`` (or ``-String x``) and module logging's ``ParameterBinding(ConvertTo-SecureString): name="String";
    value="x"`` kept the password: ``patterns.CHPASSWD``, a ``patterns.CLI_SHORT`` entry and
    ``patterns.PS_SECURESTRING_BINDING`` now."""
    for text, secret in SHELL_SET_LEAKS:
        _redacted_in_place(text, secret)
        assert patterns.may_hold_secret(text)
    for text in SHELL_SET_LEAKS_AFTER_FIELD:
        out = scrub(text)
        assert _PW not in out and out.endswith(" -AsPlainText -Force") and scrub(out) == out, out
    _kept_and_scanned(
        SHELL_SET_KEPT, [text for text, _ in SHELL_SET_LEAKS] + SHELL_SET_LEAKS_AFTER_FIELD, tmp_path / "set.log"
    )
