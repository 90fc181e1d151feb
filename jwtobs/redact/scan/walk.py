"""Which files a scan reads: paths, directories (recursively, symlink loops ended, each file once), standard
input; what a file is (gzip, bzip2 or xz, another compression, UTF-16 text, binary); OS errors as clear messages."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from typing import Final

from jwtobs._compressed import compression, decompress_hint
from jwtobs.redact.scan.report import ScanProblem

SNIFF: Final = 8192  # bytes looked at to tell binary files
_MAX_DEPTH: Final = 64  # directory recursion bound
STDIN: Final = "-"  # the path that reads standard input (scan only)


#: Compressed formats the scanner decompresses (by magic bytes, whatever the file's name; :func:`compression`);
#: the others it names (session 21: a zstd log holding a token was "binary file (use --binary to scan it)", and
#: with --binary 0 findings, exit 0)
READ_COMPRESSED: Final = ("gzip", "bzip2", "xz")


def unreadable_compression(path: str, head: bytes) -> ScanProblem | None:
    """The problem of a file compressed in a format the scanner does not read (one line naming the format and
    the command that reads it), else None."""
    fmt = compression(head)
    if fmt is None or fmt in READ_COMPRESSED:
        return None
    return ScanProblem(
        path,
        f"{fmt}-compressed file: jwtobs reads gzip, bzip2 and xz only (decompress it first: {decompress_hint(fmt)})",
    )


#: Byte order marks of UTF-16 text and the codec after them (Windows PowerShell 5's ``>`` and ``Out-File`` write
#: UTF-16LE with one): such a file is text, read as UTF-8 (:class:`~jwtobs.redact.scan.scanner.Utf16Reader`)
UTF16_BOMS: Final = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def utf16(head: bytes) -> str | None:
    """The codec of a file whose first bytes ``head`` are a UTF-16 byte order mark (not UTF-32's), else None."""
    if head[:4] == b"\xff\xfe\0\0":  # UTF-32-LE's mark starts with UTF-16-LE's
        return None
    return UTF16_BOMS.get(head[:2])


def is_binary(head: bytes) -> bool:
    """NUL bytes in the first bytes of a file that is no UTF-16 text with its byte order mark."""
    return b"\0" in head and utf16(head) is None


def iter_files(paths: Iterable[str], problems: list[ScanProblem]) -> Iterator[str]:
    """Regular files under ``paths`` (directories recursively, sorted; symlinked directories once each; a file
    reached twice, through two arguments or a link, once)."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def once(path: str, st: os.stat_result) -> bool:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return False
        seen_files.add(key)
        return True

    def walk(d: str, depth: int) -> Iterator[str]:
        try:
            st = os.stat(d)
        except OSError as e:
            problems.append(ScanProblem(d, os_message(e)))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            return  # a symlink loop or a directory reached twice
        if depth > _MAX_DEPTH:
            problems.append(ScanProblem(d, f"more than {_MAX_DEPTH} directory levels; not descending further"))
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            problems.append(ScanProblem(d, os_message(e)))
            return
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=True):
                    yield from walk(entry.path, depth + 1)
                elif entry.is_file(follow_symlinks=True):
                    if once(entry.path, entry.stat(follow_symlinks=True)):
                        yield entry.path
                elif entry.is_symlink():
                    os.stat(entry.path)  # raises for dangling links and loops: report them
            except OSError as e:
                problems.append(ScanProblem(entry.path, os_message(e)))

    stdin_seen = False
    for path in paths:
        if path == STDIN:
            if not stdin_seen:
                stdin_seen = True
                yield path
            continue
        try:
            st = os.stat(path)
        except OSError as e:
            problems.append(ScanProblem(path, os_message(e)))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from walk(path, 0)
        elif stat.S_ISREG(st.st_mode):
            if once(path, st):
                yield path
        else:
            problems.append(ScanProblem(path, "not a regular file or directory"))


def os_message(e: OSError) -> str:
    import errno

    if e.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop)"
    if e.errno == errno.ENOENT:
        return "no such file or directory"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return e.strerror or str(e)
