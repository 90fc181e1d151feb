"""Files written whole or not at all: one temp-and-rename for every command that writes an output file."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["replaced_atomically", "replaceable"]


def replaceable(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` may be replaced by a file: absent, a regular file or a symlink (the link is replaced), never
    a device, pipe or socket (renaming over one puts a regular file in its place: ``/dev/null`` as root)."""
    try:
        kind = os.lstat(path).st_mode
    except FileNotFoundError:
        return True
    return stat.S_ISREG(kind) or stat.S_ISLNK(kind)


@contextmanager
def replaced_atomically(path: str | os.PathLike[str], mode: str = "w", **open_kw: Any) -> Iterator[IO[Any]]:
    """An open file that becomes ``path`` when the block ends without an exception: written to a temporary file
    in the same directory and renamed over ``path`` only once complete. A failed write (disk full, an error in the
    block) removes the temporary file and leaves an existing ``path`` as it was. The temporary file is created new
    (``O_EXCL``: never another file) with mode 0o666 less the umask, as a plain ``open()`` would."""
    out = Path(path)
    if not replaceable(out):
        if stat.S_ISDIR(
            os.lstat(out).st_mode
        ):  # (was "not a regular file (a device, pipe or socket)" before session 20)
            raise OSError(errno.EISDIR, "is a directory (give the file name to write)", str(out))
        raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket): not replaced", str(out))
    # (the name's first 40 characters: a legal name of 242-255 bytes must still leave room for the suffix)
    tmp = out.with_name(f".{out.name[:40]}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **open_kw) as f:
            yield f
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
