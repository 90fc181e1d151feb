"""Shared key conversion for the non-PyJWT backends: a trusted :class:`Key` as PEM (or raw HMAC bytes)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from jwtobs.exceptions import TokenRejected
from jwtobs.jwks import Key
from jwtobs.reasons import Reason

__all__ = ["key_material"]


def key_material(key: Key) -> bytes:
    """PEM SubjectPublicKeyInfo of an asymmetric key, or the secret bytes of an ``oct`` key."""
    if isinstance(key.key, bytes):
        return key.key
    try:
        pem: bytes = key.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    except Exception:
        raise TokenRejected(Reason.KEY_INVALID) from None
    return pem
