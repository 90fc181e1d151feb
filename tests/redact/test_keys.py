"""Private keys and the vendor/CLI shapes of the lead's leak run (issue 13): PEM private key blocks, private JWK
members, Docker Hub PATs, Discord webhooks, Azure connection-string keys, ``-p <password>`` of login commands.

Keys are real: generated here with ``cryptography`` (RSA, EC, Ed25519; PKCS#1, SEC1, PKCS#8, OpenSSH, encrypted
PKCS#8 and legacy encrypted PEM with Proc-Type/DEK-Info headers) and exported as JWKs by PyJWT
(``Algorithm.to_jwk``) and jwcrypto. Every form goes through ``scrub``/``scrub_value``, the structlog and stdlib
redactors (message, arguments, ``extra``, ``exc_info``), Sentry's hooks with the real SDK (frame variables), and
``jwtobs scan``/``scrub`` with every prefilter engine (a PEM block spans lines: its BEGIN line and every body line
are findings). Public keys, certificates and public JWKs are not secrets and stay as they are.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import random
import secrets
import string
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwk as jc_jwk
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

import jwtobs
from jwtobs import config
from jwtobs.redact import LoggingRedactor, StructlogRedactor, scrub, scrub_value
from jwtobs.redact import patterns as p
from jwtobs.redact.scan import ENGINES, Scanner, ScanReport, scrub_file
from jwtobs.redact.scan import report as scan_report
from tests.redact.test_adversarial import SIZE, assert_scrub_linear

MARKER = p.FINDING


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key=b"k" * 32, fingerprint_key_id="keys")


def fp(credential: str) -> str:
    return config.current().fingerprinter.token(credential)


# -- material ----------------------------------------------------------------------------------------------------
class Keys:
    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        nenc = ser.NoEncryption()
        pw = ser.BestAvailableEncryption(secrets.token_bytes(16))
        pkcs8, trad, openssh = ser.PrivateFormat.PKCS8, ser.PrivateFormat.TraditionalOpenSSL, ser.PrivateFormat.OpenSSH
        pem = ser.Encoding.PEM
        self.pems = {
            "rsa_pkcs1": self.rsa.private_bytes(pem, trad, nenc).decode(),
            "rsa_pkcs8": self.rsa.private_bytes(pem, pkcs8, nenc).decode(),
            "ec_sec1": self.ec.private_bytes(pem, trad, nenc).decode(),
            "ed25519_openssh": self.ed.private_bytes(pem, openssh, nenc).decode(),
            "rsa_encrypted_pkcs8": self.rsa.private_bytes(pem, pkcs8, pw).decode(),
            "ec_legacy_encrypted": self.ec.private_bytes(pem, trad, pw).decode(),
        }
        pub = ser.PublicFormat.SubjectPublicKeyInfo
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwtobs.test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ec.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.ec, hashes.SHA256())
        )
        self.public_pems = {
            "rsa_public": self.rsa.public_key().public_bytes(pem, pub).decode(),
            "rsa_public_pkcs1": self.rsa.public_key().public_bytes(pem, ser.PublicFormat.PKCS1).decode(),
            "ec_public": self.ec.public_key().public_bytes(pem, pub).decode(),
            "certificate": cert.public_bytes(pem).decode(),
        }
        hmac_key = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secrets.token_bytes(32))
        jc = jc_jwk.JWK.generate(kty="RSA", size=2048, kid="jc-1")
        self.jwks: dict[str, dict[str, Any]] = {
            "rsa": RSAAlgorithm.to_jwk(self.rsa, as_dict=True),
            "ec": ECAlgorithm.to_jwk(self.ec, as_dict=True),
            "okp": OKPAlgorithm.to_jwk(self.ed, as_dict=True),
            "oct": HMACAlgorithm.to_jwk(hmac_key, as_dict=True),
            "jwcrypto_rsa": json.loads(jc.export_private()),
        }
        for name_, d in self.jwks.items():
            d.setdefault("kid", f"{name_}-1")
        self.public_jwks = {
            "rsa": RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True),
            "ec": ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True),
            "okp": OKPAlgorithm.to_jwk(self.ed.public_key(), as_dict=True),
            "jwcrypto_rsa": json.loads(jc.export_public()),
        }


_KEYS: list[Keys] = []


def keys() -> Keys:
    if not _KEYS:
        _KEYS.append(Keys())
    return _KEYS[0]


def armour(label: str, which: int = 0) -> str:
    """The BEGIN (``which`` 0) or END (-1) armour line of the generated PEM ``label`` (no key text in the source)."""
    return keys().pems[label].splitlines()[which]


def random_b64(n: int) -> str:
    """``n`` random base64url characters: generated key-member values."""
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).decode()[:n]


def body_lines(pem: str) -> list[str]:
    """The lines of a PEM block's body that are key material (base64, not armour or headers)."""
    return [ln for ln in pem.splitlines() if ln and not ln.startswith("-----") and ":" not in ln]


def body(pem: str) -> str:
    return "".join(body_lines(pem))


def private_values(jwk: dict[str, Any]) -> list[str]:
    return [str(v) for k, v in jwk.items() if k in p.JWK_PRIVATE_NAMES]


def public_values(jwk: dict[str, Any]) -> list[str]:
    return [str(v) for k, v in jwk.items() if k not in p.JWK_PRIVATE_NAMES and isinstance(v, str)]


def public_text() -> str:
    """The public material: a private key's PEM body holds public parts too (PKCS#1 the modulus, base64-aligned as
    the public JWK's "n"; SEC1 the public point, as the public key's PEM), and those lines are no secret."""
    k = keys()
    return " ".join([*(v for j in k.public_jwks.values() for v in public_values(j)), *k.public_pems.values()])


def assert_no_pem(out: str, pem: str) -> None:
    public = public_text()
    for line in body_lines(pem):
        if line in public:
            continue
        assert line not in out, f"body line {line[:16]}... leaked"
        assert line[8:40] not in out or line[8:40] in public


def kinds(out: str) -> list[str]:
    return [m.group(1) for m in MARKER.finditer(out)]


# -- PEM blocks ----------------------------------------------------------------------------------------------------
def pem_forms(pem: str) -> dict[str, str]:
    """How a PEM block reaches a log: in a message, escaped in JSON (under a name that names no secret), JSON in a
    JSON string, a repr, flattened onto one line, indented, with CRLF, in a traceback."""
    try:
        raise ValueError(f"could not load signing key {pem}")
    except ValueError as exc:
        tb = "".join(traceback.format_exception(exc))
    return {
        "message": f"loaded key: {pem.rstrip()} (from vault)",
        "json": json.dumps({"event": "config loaded", "config": pem}),
        "json_in_json": json.dumps({"log": json.dumps({"cfg": pem})}),
        "repr": repr({"cfg": pem, "ok": True}),
        "flattened": "KEY=" + pem.replace("\n", " ").strip(),
        "indented": "config:\n  key: |\n" + "".join(f"    {ln}\n" for ln in pem.splitlines()),
        "crlf": pem.replace("\n", "\r\n"),
        "traceback": tb,
    }


@pytest.mark.parametrize("label", ["rsa_pkcs1", "rsa_pkcs8", "ec_sec1", "ed25519_openssh", "rsa_encrypted_pkcs8",
                                   "ec_legacy_encrypted"])  # fmt: skip
def test_pem_private_key_forms(label: str) -> None:
    pem = keys().pems[label]
    assert "PRIVATE KEY-----" in pem
    marker = f"[REDACTED:private_key:{fp(body(pem))}]"
    for name, text in pem_forms(pem).items():
        out = scrub(text)
        assert isinstance(out, str)
        assert_no_pem(out, pem)
        assert "-----BEGIN" not in out.replace("-----BEGIN CERT", ""), (name, out[:200])
        assert kinds(out) == ["private_key"], (name, out[:300])
        if name not in ("traceback",):  # (the traceback holds the key twice: message and frame source)
            assert marker in out, (name, out[:300])
        assert scrub(out) == out, name  # idempotent
        if name in ("json", "json_in_json"):
            json.loads(out)  # still JSON


def test_pem_truncated_or_without_end_fails_closed() -> None:
    pem = keys().pems["rsa_pkcs1"]
    lines = body_lines(pem)
    for text in (pem[: len(pem) // 2], pem.rsplit("-----END", 1)[0], pem.splitlines()[0], pem.splitlines()[0] + "\n"):
        out = scrub(f"boom {text}")
        assert isinstance(out, str)
        assert kinds(out) == ["private_key"]
        for line in lines:
            assert line not in out
    # a BEGIN line alone (the scanner reads lines one by one) is a finding
    begin = armour("rsa_pkcs1")
    assert scrub(begin) == f"[REDACTED:private_key:{fp(begin)}]"


def test_public_keys_and_certificates_stay() -> None:
    for name, pem in keys().public_pems.items():
        for form, text in pem_forms(pem).items():
            if form == "traceback":
                continue
            assert scrub(text) == text, (name, form)
    both = keys().public_pems["certificate"] + keys().pems["ec_sec1"]  # a chain file: cert kept, key redacted
    out = scrub(both)
    assert isinstance(out, str)
    assert keys().public_pems["certificate"] in out and kinds(out) == ["private_key"]


# -- JWKs ----------------------------------------------------------------------------------------------------------
def jwk_forms(jwk: dict[str, Any], public: dict[str, Any] | None) -> dict[str, str]:
    jwks = {"keys": [jwk] + ([public] if public else [])}
    return {
        "json": json.dumps(jwk),
        "compact_json": json.dumps(jwk, separators=(",", ":")),
        "pretty_json": json.dumps(jwk, indent=2),
        "repr": repr(jwk),
        "jwks": json.dumps(jwks),
        "jwks_repr": repr(jwks),
        "escaped_in_json": json.dumps({"msg": "signing with " + json.dumps(jwk)}),
        "message": f"loaded signing key {json.dumps(jwk)} from vault",
    }


@pytest.mark.parametrize("name", ["rsa", "ec", "okp", "oct", "jwcrypto_rsa"])
def test_private_jwk_members_are_redacted_public_ones_kept(name: str) -> None:
    jwk = keys().jwks[name]
    public = keys().public_jwks.get(name)
    secret = private_values(jwk)
    assert secret
    for form, text in jwk_forms(jwk, public).items():
        out = scrub(text)
        assert isinstance(out, str)
        for v in secret:
            assert v not in out, (form, v[:10])
        for v in public_values(jwk) + (public_values(public) if public else []):
            assert v in out, (form, v[:10])
        assert set(kinds(out)) == {"private_key"}
        assert f"[REDACTED:private_key:{fp(jwk.get('d') or jwk['k'])}]" in out
        assert scrub(out) == out, form
        if form.endswith("json") or form == "jwks":
            assert json.loads(out)  # markers replace string values: still JSON
    # as a value: a dict, a JWKS, nested in an event
    for value in (jwk, {"keys": [jwk]}, {"jwk": jwk, "ok": 1}, [jwk]):
        out_v = scrub_value(value)
        text = repr(out_v)
        assert all(v not in text for v in secret)
        assert all(v in text for v in public_values(jwk))
    assert jwk == keys().jwks[name]  # not mutated


def test_public_jwks_stay() -> None:
    pub = keys().public_jwks
    texts = [json.dumps({"keys": list(pub.values())}), repr(pub["ec"]), json.dumps(pub["rsa"], indent=2)]
    for text in texts:
        assert scrub(text) == text
    assert scrub_value({"keys": list(pub.values())}) == {"keys": list(pub.values())}
    # "d" outside a JWK is nobody's private key
    for text in ('{"d": "2026-12-02", "p": "page-2"}', "{'k': 'v', 'q': 'search words'}"):
        assert scrub(text) == text


def test_jwk_oth_multi_prime_member_redacted() -> None:
    r, d, t = random_b64(16), random_b64(16), random_b64(16)
    jwk = {**keys().jwks["rsa"], "oth": [{"r": r, "d": d, "t": t}]}
    out = scrub(json.dumps(jwk))
    assert isinstance(out, str)
    for v in (r, d, t, jwk["d"], jwk["p"]):
        assert v not in out
    assert json.loads(out)["n"] == jwk["n"]


# -- vendor shapes and command lines -------------------------------------------------------------------------------
def _rnd(alphabet: str, n: int, seed: int) -> str:
    return "".join(random.Random(seed).choice(alphabet) for _ in range(n))


_URLSAFE = string.ascii_letters + string.digits + "_-"
DOCKER_PAT = "dckr_pat_" + _rnd(_URLSAFE, 27, 1)
DISCORD_TOKEN = _rnd(_URLSAFE, 68, 2)
AZURE_KEY = base64.b64encode(random.Random(3).randbytes(64)).decode()
AZURE_SB_KEY = base64.b64encode(random.Random(4).randbytes(32)).decode()

VENDOR_FORMS = [  # (text, the secret that must go)
    (f"docker login: using token {DOCKER_PAT}", DOCKER_PAT),
    (f'{{"registry_auth": "{DOCKER_PAT}"}}', DOCKER_PAT),
    (f"POST https://discord.com/api/webhooks/123456789012345678/{DISCORD_TOKEN} 204", DISCORD_TOKEN),
    (f"webhook=https://discordapp.com/api/webhooks/1234567890123456789/{DISCORD_TOKEN}", DISCORD_TOKEN),
    (f"DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
     AZURE_KEY),
    (f'{{"conn": "AccountName=x;AccountKey={AZURE_KEY}"}}', AZURE_KEY),
    (f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
     f"SharedAccessKey={AZURE_SB_KEY}", AZURE_SB_KEY),
    ("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl"
     "&se=2026-12-31T00:00:00Z&spr=https&sig=q8Zp0Wc1kR%2BxS9vYt3uJm6aLd4e%2FhN7oBzGfTiKwU5s%3D",
     "q8Zp0Wc1kR%2BxS9vYt3uJm6aLd4e%2FhN7oBzGfTiKwU5s%3D"),
    ("+ docker login -u deploy -p Zx9-secretPass registry.example.com", "Zx9-secretPass"),
    ("podman login --username deploy -p 'quoted pass 1' quay.io", "quoted pass 1"),
    ('exec: helm registry login ghcr.io -u bot -p "s3cr3t!x"', "s3cr3t!x"),
    ("az login -u ops@example.com -p Hunter2Hunter2", "Hunter2Hunter2"),
    ("oc login https://api.example.com:6443 -u admin -p r3dhatP4ss", "r3dhatP4ss"),
    ("running: mysql -h db -u root -p S3cretPw shop", "S3cretPw"),
    ("running: mysql -h db -u root -pS3cretPw shop", "S3cretPw"),
    ("mysqldump -u root --password S3cretPw shop", "S3cretPw"),
    ("docker login --password S3cretPw registry", "S3cretPw"),
    ("sshpass -p S3cretPw ssh deploy@host", "S3cretPw"),
]  # fmt: skip

CLEAN_COMMANDS = [
    "docker run -p 8080:80 nginx",
    "docker login -u deploy --password-stdin registry.example.com",
    "ssh -p 2222 deploy@host",
    "mysql -u root -p",
    "mysql -u root -p -h db",
    "systemd-logind[812]: New session 4 of user root; login -p",
    "scp -P 2222 -p file host:",
    "pid=123 discord.com/api/webhooks/ not configured",
    "AccountKey= (unset)",
]


@pytest.mark.parametrize("i", range(len(VENDOR_FORMS)))
def test_vendor_shapes_and_login_passwords(i: int) -> None:
    text, secret = VENDOR_FORMS[i]
    out = scrub(text)
    assert isinstance(out, str)
    assert secret not in out, out
    assert kinds(out), out
    assert scrub(out) == out


@pytest.mark.parametrize("text", CLEAN_COMMANDS)
def test_commands_without_a_password_stay(text: str) -> None:
    assert scrub(text) == text


# -- the log redactors -----------------------------------------------------------------------------------------------
def _all_secrets() -> list[str]:
    """Every private value of the material (without the PEM body lines that are public: see :func:`public_text`)."""
    k = keys()
    public = public_text()
    return [*(ln for pem in k.pems.values() for ln in body_lines(pem) if ln not in public),
            *(v for j in k.jwks.values() for v in private_values(j)), *(s for _, s in VENDOR_FORMS)]  # fmt: skip


@pytest.fixture()
def stdlib_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(detail)s"))
    handler.addFilter(LoggingRedactor())
    logger = logging.getLogger("tests.redact.keys")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_stdlib_message_args_extra_and_exc_info(stdlib_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stdlib_log
    k = keys()
    pem, jwk = k.pems["rsa_pkcs8"], k.jwks["ec"]
    logger.info("loaded key: " + pem.replace("%", "%%"), extra={"detail": "-"})
    logger.info("key %s kid=%s", pem, "rsa-1", extra={"detail": "-"})
    logger.info("jwk %s", jwk, extra={"detail": json.dumps(jwk)})
    logger.info("jwks", extra={"detail": {"keys": [k.jwks["oct"]]}})
    for text, _ in VENDOR_FORMS:
        logger.info("%s", text, extra={"detail": "-"})
    try:
        raise RuntimeError(f"bad key {k.pems['ed25519_openssh']}")
    except RuntimeError:
        logger.exception("failed", extra={"detail": "-"})
    out = stream.getvalue()
    for secret in _all_secrets():
        if secret in str(k.pems["rsa_encrypted_pkcs8"]) or secret in str(k.pems["ec_legacy_encrypted"]):
            continue  # (not logged here)
        if secret in body(k.pems["rsa_pkcs1"]) or secret in body(k.pems["ec_sec1"]):
            continue
        if any(secret in v for v in (*private_values(k.jwks["rsa"]), *private_values(k.jwks["okp"]),
                                     *private_values(k.jwks["jwcrypto_rsa"]))):  # fmt: skip
            continue
        assert secret not in out, secret[:16]
    assert out.count("[REDACTED:private_key:") >= 5
    assert public_values(jwk)[0] in out


def test_structlog_values_and_exc_info() -> None:
    k = keys()
    red = StructlogRedactor()
    pem, jwk = k.pems["ec_sec1"], k.jwks["rsa"]
    event = {"event": "startup", "config": pem, "jwk": jwk, "jwks": json.dumps({"keys": [k.jwks["okp"]]}),
             "cmd": VENDOR_FORMS[8][0], "exc_info": True}  # fmt: skip
    try:
        raise ValueError("cannot parse " + k.pems["rsa_pkcs1"])
    except ValueError:
        out = red(None, "info", event)  # exc_info=True: rendered and scrubbed by the redactor
        rendered = structlog.processors.format_exc_info(None, "error", {"event": "x", "exc_info": True})
    assert "ValueError: cannot parse [REDACTED:private_key:" in out["exception"]
    rendered_out = red(None, "error", rendered)  # the documented chain: format_exc_info, then the redactor
    assert_no_pem(rendered_out["exception"], k.pems["rsa_pkcs1"])
    text = json.dumps(out, default=str)
    assert_no_pem(text, pem)
    assert_no_pem(text, k.pems["rsa_pkcs1"])
    for v in private_values(jwk) + private_values(k.jwks["okp"]):
        assert v not in text
    assert VENDOR_FORMS[8][1] not in text
    assert out["jwk"]["n"] == jwk["n"] and event["jwk"] is jwk and "d" in jwk
    # a clean event with public keys is passed on as it is
    clean = {"event": "jwks refreshed", "jwks": {"keys": list(k.public_jwks.values())},
             "cert": k.public_pems["certificate"]}  # fmt: skip
    assert red(None, "info", dict(clean)) == clean


def test_sentry_frame_variables_and_messages() -> None:
    pytest.importorskip("sentry_sdk")
    import sentry_sdk

    from tests.redact.test_sentry import sentry

    k = keys()
    pem, jwk = k.pems["rsa_pkcs1"], k.jwks["ec"]

    def load(signing_pem: str, signing_jwk: dict[str, Any]) -> None:
        key_text = signing_pem  # noqa: F841 (frame variables Sentry captures)
        key_json = json.dumps(signing_jwk)  # noqa: F841
        raise ValueError("bad key " + signing_pem[:120])

    with sentry() as transport:
        try:
            load(pem, jwk)
        except ValueError as exc:
            sentry_sdk.capture_exception(exc)
        logging.getLogger("tests.redact.sentry.app").error("key %s", json.dumps(k.jwks["oct"]))
        sentry_sdk.flush()
    blob = b"\n".join(transport.envelopes).decode("utf-8", "replace").replace("\\n", "\n")
    assert transport.envelopes
    assert_no_pem(blob, pem)
    for v in private_values(jwk) + private_values(k.jwks["oct"]):
        assert v not in blob, v[:10]
    assert "private_key" in blob


# -- jwtobs scan / scrub -----------------------------------------------------------------------------------------
def _log_lines() -> tuple[list[str], dict[int, str]]:
    """A log with every form, and which lines (1-based) must be findings."""
    k = keys()
    lines: list[str] = ["2026-12-02T08:00:00Z INFO starting"]
    want: dict[int, str] = {}

    def add(text: str, finding: bool) -> None:
        for ln in text.split("\n"):
            lines.append(ln)
            if finding:
                want[len(lines)] = ln

    for pem in k.pems.values():  # raw multi-line: the BEGIN line and each body line
        add("2026-12-02T08:00:01Z ERROR loaded key: " + pem.splitlines()[0], True)
        for ln in pem.splitlines()[1:-1]:
            add(ln, bool(ln) and ":" not in ln)
        add(pem.splitlines()[-1], False)
        add("2026-12-02T08:00:02Z INFO next line", False)
    for pem in k.pems.values():  # one line each
        add(json.dumps({"cfg": pem}), True)
    for jwk in k.jwks.values():
        add(json.dumps({"event": "key", "jwk": jwk}), True)
        add(repr({"keys": [jwk]}), True)
    for text, _ in VENDOR_FORMS:
        add(text, True)
    for pem in k.public_pems.values():
        add(pem.rstrip("\n"), False)
    add(json.dumps({"keys": list(k.public_jwks.values())}), False)
    for text in CLEAN_COMMANDS:
        add(text, False)
    return lines, want


def _scan(path: Path, engine: str, **kw: Any) -> list[tuple[int, str, str]]:
    sc = Scanner(engine, **kw)
    return [(f.line, f.kind, f.fingerprint) for f in sc.scan([str(path)], ScanReport())]


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_finds_pem_begin_and_body_lines_and_every_form(tmp_path: Path, engine: str) -> None:
    lines, want = _log_lines()
    log = tmp_path / "keys.log"
    log.write_text("\n".join(lines) + "\n")
    found = _scan(log, engine)
    assert sorted({line for line, _, _ in found}) == sorted(want)
    assert found == _scan(log, "all")  # the engines agree
    # and small blocks (a PEM block split between blocks) change nothing
    assert _scan(log, engine, block=4096) == found


def test_scrubbed_copy_holds_no_key_material(tmp_path: Path) -> None:
    lines, want = _log_lines()
    log = tmp_path / "keys.log"
    log.write_text("\n".join(lines) + "\n")
    dst = tmp_path / "keys.scrubbed.log"
    report = scrub_file(str(log), str(dst))
    out = dst.read_text()
    for secret in _all_secrets():
        assert secret not in out, secret[:16]
    assert report.findings >= len(want)
    kept = out.splitlines()
    for i, line in enumerate(lines, 1):
        if i not in want:
            assert kept[i - 1] == line
    # scanning the copy finds nothing new
    assert _scan(dst, "hyperscan" if "hyperscan" in ENGINES else "python") == []
    assert scan_report.new_markers(out, out) == []


def test_scan_batches_equal_lines_scrubbed_alone() -> None:
    """The scanner scrubs candidate lines in batches (joined by "\\n<\\n"): a PEM block's breaks and a JWK object,
    which may span lines in one text, never read across two lines of a batch."""
    from jwtobs.redact.scan.scanner import scrub_batched

    lines, _ = _log_lines()
    jwk = json.dumps(keys().jwks["ec"], indent=2).splitlines()
    pkcs8 = body_lines(keys().pems["rsa_pkcs8"])[0][:28]
    halves = [f'{{"kty": "oct", "k": "{random_b64(18)}"', '"x": 1}', "{", '"kty": "EC",', f'"d": "{random_b64(14)}"}}',
              armour("rsa_pkcs8"), pkcs8, armour("rsa_pkcs8", -1)]  # fmt: skip
    texts = lines + jwk + halves
    rnd = random.Random(5)
    for engine in ENGINES:
        sc = Scanner(engine)
        for _ in range(3):
            rnd.shuffle(texts)
            assert scrub_batched(sc._scrubber, sc.prefilter, texts, sc._scrub) == [sc._scrub(t) for t in texts]


# -- gates and linear time -------------------------------------------------------------------------------------------
def test_redactor_gates_send_every_form_to_the_scrubber() -> None:
    k = keys()
    texts = [*(t for pem in k.pems.values() for t in pem_forms(pem).values()),
             *(t for j in k.jwks.values() for t in jwk_forms(j, None).values()), *(t for t, _ in VENDOR_FORMS),
             *(pem.splitlines()[0] for pem in k.pems.values())]  # fmt: skip
    for text in texts:
        assert scrub(text) != text
        assert p.may_hold_secret(text) and p.may_hold_secret_re(text)
        for line in text.splitlines():
            if scrub(line) != line:
                assert p.may_hold_secret(line), line[:60]


ADVERSARIAL = {  # units repeated to 4 MB; "BEGIN:<label>" = that generated PEM's BEGIN armour
    "begin_without_end": "BEGIN:rsa_pkcs1",
    "begin_newline": "BEGIN:rsa_pkcs8\n",
    "begin_label_words": "-----BEGIN A B C D E ",
    "begin_header": "BEGIN:rsa_pkcs8\nProc-Type: ",
    "escaped_breaks": "\\n\\\\n-----END ",
    "kty_members": '{"kty":"EC","d":"',
    "kty_open_objects": '{"kty": [{',
    "braces": "{[{",
    "quoted_d": '"d":"A",',
}


def adversarial_unit(name: str) -> str:
    unit = ADVERSARIAL[name]
    if unit.startswith("BEGIN:"):
        label, _, rest = unit[len("BEGIN:") :].partition("\n")
        return armour(label) + ("\n" + rest if _ else "")
    return unit


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_4mb_adversarial_key_input_is_linear(name: str) -> None:
    unit = adversarial_unit(name)
    assert_scrub_linear(name, (unit * (SIZE // len(unit) + 1))[:SIZE])


def test_long_base64_run_after_begin_is_linear_and_redacted() -> None:
    text = armour("rsa_pkcs8") + "\n" + "A" * SIZE + "\n" + armour("rsa_pkcs8", -1) + " tail"
    start = time.thread_time()
    out = scrub(text)
    assert time.thread_time() - start < 8.0  # (~0.05 s: one possessive run)
    assert out == f"[REDACTED:private_key:{fp('A' * SIZE)}] tail"
