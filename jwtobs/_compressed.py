"""Compressed files told by their first bytes (magic numbers), whatever their names: one table for the log
scanner (``jwtobs scan``/``scrub``) and the events loader (``jwtobs report``)."""

from __future__ import annotations

from typing import Final

__all__ = ["compression", "decompress_hint"]

#: magic bytes -> format, for the formats that are no gzip, bzip2 or xz
_OTHERS: Final = {b"\x28\xb5\x2f\xfd": "zstd", b"\x04\x22\x4d\x18": "lz4", b"\x1f\x9d": "compress", b"LZIP": "lzip"}


def compression(head: bytes) -> str | None:
    """The compressed format of a file whose first bytes are ``head`` (gzip, bzip2, xz, zstd, lz4, compress,
    lzip), or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return next((name for magic, name in _OTHERS.items() if head.startswith(magic)), None)


def decompress_hint(fmt: str) -> str:
    """The command that decompresses a file of format ``fmt`` (``xz -d FILE``)."""
    return "uncompress FILE" if fmt == "compress" else f"{fmt} -d FILE"
