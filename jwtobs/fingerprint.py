"""Keyed fingerprints of tokens and identifying claims.

A fingerprint lets an incident be correlated (the same token in a validation event and in a redacted log
line) without storing the token. It is a keyed BLAKE2b hash, so a guessable value (a ``sub`` such as an
e-mail address) cannot be confirmed by hashing candidates, and it carries the id of the key that made it,
so fingerprints made with different keys are never confused::

    c0de-3f9a0c1b7d2e
    ^^^^ key id (derived from the key, or set explicitly)
         ^^^^^^^^^^^^ 48-bit keyed hash, hex

The key comes from ``jwtobs.configure(fingerprint_key=...)`` or ``JWTOBS_FINGERPRINT_KEY``; ``jwtobs key new``
prints a fresh one (32 random bytes, base64url). A key shorter than :data:`MIN_KEY_BYTES` is refused with
:class:`~jwtobs.ConfigurationError`: a short key can be guessed and every fingerprint then confirmed. Without a
key a random per-process key is generated and a warning saying how to set one is issued once per process:
fingerprints then only correlate within one process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import warnings
from typing import Final

from jwtobs import _forksafe
from jwtobs.exceptions import ConfigurationError

__all__ = ["Fingerprinter", "FINGERPRINT_RE", "MIN_KEY_BYTES", "new_key", "EPHEMERAL_KEY_HINT"]

#: Shortest fingerprint key accepted (bytes; a str key counts its UTF-8 bytes).
MIN_KEY_BYTES: Final = 16
#: Bytes of randomness in a key made by :func:`new_key` / ``jwtobs key new``.
NEW_KEY_BYTES: Final = 32
#: How to fix a missing key (the ephemeral-key warning, and the CLI's note).
EPHEMERAL_KEY_HINT: Final = (
    "JWTOBS_FINGERPRINT_KEY is not set (nor configure(fingerprint_key=...)): a random per-process key is used, "
    "so fingerprints will not match across processes (events, redacted logs, scans). Give all services one key: "
    'export JWTOBS_FINGERPRINT_KEY="$(jwtobs key new)"'
)

#: What a fingerprint looks like (for parsers of events and redaction markers).
FINGERPRINT_RE = re.compile(r"[0-9a-z]{1,16}-[0-9a-f]{12}")

_KEY_ID_RE = re.compile(r"[0-9a-z]{1,16}")


class EphemeralKeyWarning(UserWarning):
    """No fingerprint key was configured; a random per-process key is used."""


def new_key() -> str:
    """A fresh fingerprint key: 32 random bytes from the OS, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(os.urandom(NEW_KEY_BYTES)).rstrip(b"=").decode("ascii")


def check_key(key: bytes | str) -> bytes:
    """The key's bytes; :class:`ConfigurationError` (never showing the key) if it is shorter than 16 bytes."""
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray, memoryview)):
        raw = bytes(key)
    else:  # session 37: bytes(32) made a key of 32 zero bytes (anyone could compute its fingerprints), silently
        raise ConfigurationError(f"fingerprint key must be str or bytes, not {type(key).__name__}")
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"fingerprint key too short ({len(raw)} bytes; at least {MIN_KEY_BYTES} are needed, 32 random bytes "
            f"recommended): make one with `jwtobs key new`"
        )
    return raw


class Fingerprinter:
    """Computes keyed fingerprints. Build one per key; calls are cheap and thread-safe.

    ``token(raw)`` fingerprints a whole token (any credential string), ``claim(name, value)`` a claim
    value with domain separation, so ``sub`` "abc" and a token "abc" never share a fingerprint.
    """

    __slots__ = ("_hashers", "_jti_hasher", "_key", "_prefix", "_remembered", "_token_hasher", "ephemeral", "key_id")

    def __init__(self, key: bytes | str | None = None, *, key_id: str | None = None) -> None:
        self.ephemeral = not key
        raw_key = check_key(key) if key else os.urandom(32)
        if len(raw_key) > 64:  # BLAKE2b keys are at most 64 bytes: compress longer keys
            raw_key = hashlib.blake2b(raw_key, digest_size=64).digest()
        if key_id is None:
            key_id = hashlib.blake2b(raw_key, digest_size=2, person=b"jwtobs-keyid").hexdigest()
        elif type(key_id) is not str or not _KEY_ID_RE.fullmatch(key_id):
            raise ConfigurationError("fingerprint key_id must be 1-16 characters of [0-9a-z]")
        self.key_id = key_id
        self._key = raw_key
        self._prefix = key_id + "-"
        # One template hasher per domain; .copy() is cheaper than re-keying per call.
        self._hashers = {
            domain: hashlib.blake2b(key=raw_key, digest_size=6, person=domain.encode()[:16].ljust(16, b"\0"))
            for domain in ("token", "jti", "sub", "claim")
        }
        self._token_hasher = self._hashers["token"]
        self._jti_hasher = self._hashers["jti"]
        #: str value -> fingerprint, for the claims whose values repeat from token to token (a user's ``sub``);
        #: bounded (emptied when full), never for ``jti`` (unique per token by design)
        self._remembered: dict[str, dict[str, str]] = {"sub": {}}

    def token(self, raw: str | bytes) -> str:
        """Fingerprint of a credential (JWS, JWE, opaque bearer value). Whitespace around it is ignored."""
        data = raw.strip().encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw).strip()
        h = self._token_hasher.copy()
        h.update(data)
        return self._prefix + h.hexdigest()

    def jti(self, value: object) -> str:
        """``claim("jti", value)``: the builder's call for every token that has a ``jti`` (unique per token, so
        never remembered), a str value hashed without the general path's lookups."""
        if type(value) is not str:
            return self._claim("jti", value)
        h = self._jti_hasher.copy()
        h.update(value.encode("utf-8", "surrogatepass"))
        return self._prefix + h.hexdigest()

    def claim(self, name: str, value: object) -> str:
        """Fingerprint of a claim value (``jti``, ``sub``, ...), separated by claim name."""
        if type(value) is str:
            remembered = self._remembered.get(name)
            if remembered is not None:
                known = remembered.get(value)
                if known is None:
                    known = self._claim(name, value)
                    if len(value) <= _MAX_REMEMBERED_LEN:
                        if len(remembered) >= _MAX_REMEMBERED:
                            remembered.clear()
                        remembered[value] = known
                return known
        return self._claim(name, value)

    def _claim(self, name: str, value: object) -> str:
        hasher = self._hashers.get(name)
        if hasher is None:
            h = self._hashers["claim"].copy()
            h.update(name.encode("utf-8", "surrogatepass") + b"\0")
        else:
            h = hasher.copy()
        h.update(str(value).encode("utf-8", "surrogatepass"))
        return self._prefix + h.hexdigest()


#: Values remembered per claim name (see ``Fingerprinter._remembered``) and the longest value remembered.
_MAX_REMEMBERED: Final = 4096
_MAX_REMEMBERED_LEN: Final = 256


_warned = False
_warn_lock = _forksafe.Lock()


def from_environment(*, use_env: bool = True, key_id: str | None = None) -> Fingerprinter:
    """Build the fingerprinter from ``JWTOBS_FINGERPRINT_KEY`` (and ``JWTOBS_FINGERPRINT_KEY_ID``).

    A key shorter than 16 bytes raises :class:`ConfigurationError` (naming the variable). Without a key, a random
    per-process key is used and an :class:`EphemeralKeyWarning` saying how to set one is issued, once per process.
    """
    key = (os.environ.get("JWTOBS_FINGERPRINT_KEY") or None) if use_env else None
    if key_id is None and use_env:
        key_id = os.environ.get("JWTOBS_FINGERPRINT_KEY_ID") or None
    try:
        fp = Fingerprinter(key, key_id=key_id)
    except ConfigurationError as exc:
        raise ConfigurationError(f"JWTOBS_FINGERPRINT_KEY{'_ID' if 'key_id' in str(exc) else ''}: {exc}") from None
    if fp.ephemeral:
        global _warned
        with _warn_lock:
            first, _warned = not _warned, True
        if first:
            try:
                warnings.warn(f"jwtobs: {EPHEMERAL_KEY_HINT}", EphemeralKeyWarning, stacklevel=4)
            except Warning:  # warnings turned into errors (-W error): the application asked for that
                raise
            except Exception:  # the warning could not be shown (sys.stderr closed: ValueError): the key is still fine
                pass
    return fp
