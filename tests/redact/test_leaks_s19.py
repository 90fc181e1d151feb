"""Session 19: leaks of keys named for their role, one-time codes and CAS tickets in queries, and passwords given to
Redis, IRC services and RDP/database clients on a command line; and the clean look-alikes those fixes must keep.

Each test runs over its fix's list of lines (real shapes: the issues and docs cited next to each list): the secret is
gone, one marker stands where it stood and the rest of the line is kept; then the look-alikes, unchanged.
"""

from __future__ import annotations

import re

import pytest

import jwtobs
from jwtobs.redact import scrub, scrub_value

MARKER = re.compile(r"\[REDACTED:([a-z_]+):([0-9a-z]{1,16}-[0-9a-f]{12})\]")


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-19-key", fingerprint_key_id="s")


def _redacted_in_place(text: str, secret: str) -> None:
    """``secret`` is gone from ``scrub(text)``, one marker stands in its place, the rest of the text is kept, and
    scrubbing again changes nothing."""
    out = scrub(text)
    assert isinstance(out, str) and secret not in out, out
    assert len(MARKER.findall(out)) == 1, out
    assert MARKER.sub(lambda _: secret, out) == text, out
    assert scrub(out) == out


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
