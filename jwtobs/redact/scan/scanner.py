"""The scanner (``jwtobs scan``) and the redacted copy (``jwtobs scrub``): blocks are prefiltered on worker
threads, candidate lines scrubbed by the real scrubber, long lines in windows."""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Final, Protocol

from jwtobs._atomic import replaceable, replaced_atomically
from jwtobs._compressed import compression
from jwtobs.redact import patterns as p
from jwtobs.redact.scan.fields import joined_lines_that_may_change
from jwtobs.redact.scan.prefilter import Buffer, Prefilter, numbered
from jwtobs.redact.scan.report import Finding, ScanProblem, ScanReport, new_markers
from jwtobs.redact.scan.walk import (
    SNIFF,
    STDIN,
    UTF16_BOMS,
    is_binary,
    iter_files,
    os_message,
    unreadable_compression,
    utf16,
)
from jwtobs.redact.scan.windowed import (
    BLOCK,
    CONTEXT,
    LONG_LINE,
    WINDOW,
    Item,
    Long,
    Reader,
    StreamItems,
    Windowed,
    decode,
    encode,
)
from jwtobs.redact.scrub import _FRAME_LINE, _SETTLE_MAX, _SOURCE_LINE_MAX, Scrubber


class Writer(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


# -- the scanner -----------------------------------------------------------------------------------------------
def _read_head(stream: IO[bytes]) -> bytes:
    """The first SNIFF bytes of a stream (fewer only at its end): a pipe's first write may be a single byte, and
    telling gzip or binary input from its first byte alone read compressed data as text (0 findings, exit 0)."""
    head = bytearray()
    read = getattr(stream, "read1", stream.read)
    while len(head) < SNIFF:
        chunk = read(SNIFF - len(head))
        if not chunk:
            break
        head += chunk
    return bytes(head)


class _HeadThenRest(io.RawIOBase):
    """A stream whose first bytes were read already (:func:`_read_head`): those, then the rest."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._read1 = getattr(rest, "read1", rest.read)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._read1(len(b))
        b[: len(data)] = data
        return len(data)


def _after_head(stream: IO[bytes], head: bytes) -> tuple[IO[bytes], bytes]:
    return io.BufferedReader(_HeadThenRest(head, stream), buffer_size=1 << 20), head


class Utf16Reader:
    """A UTF-16 file read as the UTF-8 the scanner reads: its byte order mark dropped, every line the same line,
    a lone surrogate kept (``surrogatepass`` both ways, so a copy writes it back), an odd last byte read as
    U+FFFD. ``read(n)`` returns at most ``n`` bytes (``b""`` at the end)."""

    def __init__(self, f: Reader, codec: str) -> None:
        self._f = f
        self.codec: str | None = codec
        self._decoder = codecs.getincrementaldecoder(codec)("surrogatepass")
        self._bom = True
        self._out = b""
        self._end = False

    def read(self, size: int = -1, /) -> bytes:
        if self._bom:
            self._bom = False
            self._f.read(2)
        while not self._end and (size < 0 or len(self._out) < size):
            raw = self._f.read(1 << 20)
            try:
                text = self._decoder.decode(raw, final=not raw)
            except UnicodeDecodeError:  # (only at the end: an odd byte left)
                text = "\ufffd"
            self._end = not raw
            self._out += text.encode("utf-8", "surrogatepass")
        if size < 0 or size >= len(self._out):
            data, self._out = self._out, b""
        else:
            data, self._out = self._out[:size], self._out[size:]
        return data


class Utf16Writer:
    """The scrubbed copy of a UTF-16 file: the UTF-8 written to it (what :class:`Utf16Reader` read, markers in
    place) written as the input's codec after its byte order mark."""

    def __init__(self, out: Writer, codec: str) -> None:
        self._out = out
        self._codec = codec
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        out.write(next(bom for bom, c in UTF16_BOMS.items() if c == codec))

    def write(self, data: bytes | memoryview, /) -> int:
        self._out.write(self._decoder.decode(data).encode(self._codec, "surrogatepass"))
        return len(data)


#: What a corrupt compressed stream raises (BadGzipFile is an OSError; bzip2's "Invalid data stream" too;
#: truncated streams raise EOFError)
_CORRUPT: Final = (OSError, zlib.error, lzma.LZMAError)


class _Salvaging:
    """A gzip (or bzip2, xz) stream whose ``read(n)`` returns what decompressed before a corruption: it collects
    ``read1`` pieces (at most 1 MiB each) and keeps an error met after some of them for the next call.
    ``GzipFile.read(16 MiB)`` raised on junk after a valid member and lost everything that member held (a token
    in it went unreported)."""

    def __init__(self, f: IO[bytes], fmt: str = "gzip") -> None:
        self._gz: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile = (
            bz2.BZ2File(f)
            if fmt == "bzip2"
            else lzma.LZMAFile(f)
            if fmt == "xz"
            else gzip.GzipFile(fileobj=f, mode="rb")
        )
        self._error: BaseException | None = None

    def read(self, size: int = -1, /) -> bytes:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        parts: list[bytes] = []
        got = 0
        while size < 0 or got < size:
            try:
                piece = self._gz.read1(min(1 << 20, size - got) if size >= 0 else 1 << 20)
            except (*_CORRUPT, EOFError) as exc:
                if not parts:
                    raise
                self._error = exc
                break
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)


class _Decompressed:
    """A decompressed stream read as what it holds: UTF-16 text with its byte order mark (a PowerShell log
    rotated with gzip) through :class:`Utf16Reader`, like a plain UTF-16 file, anything else as it is. ``codec``
    is known after the first read. Session 21: a gzipped UTF-16 log was read as UTF-8 (its NUL bytes between the
    characters of a token): "0 findings", exit 0."""

    def __init__(self, inner: Reader) -> None:
        self._inner = inner
        self._reader: Reader | None = None
        self.codec: str | None = None

    def read(self, size: int = -1, /) -> bytes:
        if self._reader is None:
            first = self._inner.read(4)
            self.codec = utf16(first)
            rest = _Prefixed(first, self._inner)
            self._reader = Utf16Reader(rest, self.codec) if self.codec else rest
        return self._reader.read(size)


class _Prefixed:
    """``first`` (bytes read already), then the rest of ``inner``."""

    def __init__(self, first: bytes, inner: Reader) -> None:
        self._first = first
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        if not self._first:
            return self._inner.read(size)
        if 0 <= size <= len(self._first):
            data, self._first = self._first[:size], self._first[size:]
            return data
        data, self._first = self._first, b""
        return data + self._inner.read(-1 if size < 0 else size - len(data))


class Scanner:
    """Scans files for credentials. One per run; ``engine`` and the sizes are decided here.

    ``threads`` > 1 prefilters blocks on that many worker threads (Hyperscan only) while this thread scrubs: one by
    default, because the fast path's judgement in the workers is Python and holds the GIL, so two threads cost 3-14 %
    more CPU and were no faster in wall time (benchmarks/bench_scan.py log, 8 alternating rounds: 0.485 vs 0.567 s
    CPU, 0.486 vs 0.521 s wall at load 1.9). ``--jobs N`` runs processes instead."""

    def __init__(
        self,
        engine: str | None = None,
        *,
        threads: int = 1,
        include_binary: bool = False,
        block: int = BLOCK,
        long_line: int = LONG_LINE,
        window: int = WINDOW,
        context: int = CONTEXT,
        sink: str = "scan",
    ) -> None:
        self.prefilter = Prefilter(engine)
        self.threads = threads if self.prefilter.engine == "hyperscan" else 1
        self.include_binary = include_binary
        self.block = block
        self.long_line = max(1, min(long_line, block))
        self.window = window
        self.context = context
        self._scrubber = Scrubber(sink)
        self.line_count = 0  # lines of the last file read by lines()
        self.byte_count = 0  # bytes of the last file read by lines()
        self._reader: Reader | None = None  # the reader of the last file opened by lines()

    def _scrub(self, text: str) -> str:
        out = self._scrubber.text(text, settled=self._settled)
        return out if isinstance(out, str) else p.FAILED

    def _scrub_lines(self, texts: list[str], keys: list[bool] | None = None) -> list[str]:
        """``[self._scrub(t) for t in texts]`` (lines, no newline in them), computed in batches: see
        :func:`scrub_batched`. ``keys`` (the Hyperscan engine's answer; None: unknown) marks the lines that hold a
        vendor-key prefix: they are batched apart, and the others are scrubbed without the search for a key
        (``Scrubber.text(keys=False)``; the scrubber reads a whole text for keys once one prefix is in it). The
        ``all`` engine, the exhaustive reference, scrubs line by line."""
        if self.prefilter.engine == "all" or len(texts) < 2:
            return [self._scrub(t) for t in texts]
        if keys is None or all(keys):
            return scrub_batched(self._scrubber, self.prefilter, texts, self._scrub)
        if not any(keys):
            return scrub_batched(self._scrubber, self.prefilter, texts, self._scrub, keys=False)
        out: list[str] = [""] * len(texts)
        for group in (True, False):
            idx = [i for i, k in enumerate(keys) if k is group]
            for i, o in zip(idx, self._scrub_lines([texts[i] for i in idx], [group] * len(idx)), strict=True):
                out[i] = o
        return out

    def _settled(self, first: str) -> bool:
        """The scrubber may skip its second pass over ``first`` (a line as its first pass left it) when the
        prefilter finds nothing a detector could act on there (:meth:`Prefilter.settled`; Hyperscan only)."""
        return self.prefilter.settled(encode(first))

    # -- opening ---------------------------------------------------------------------------------------------
    def _items(self, path: str, f: IO[bytes], head: bytes) -> tuple[Iterator[Item], Callable[[], int]]:
        """The items of an opened file and a function telling how many input bytes were consumed."""
        codec, fmt = utf16(head), compression(head)
        reader: Reader = _Decompressed(_Salvaging(f, fmt)) if fmt else Utf16Reader(f, codec) if codec else f
        self._reader = reader
        consumed: Callable[[], int] = (lambda: 0) if path == STDIN else f.tell
        return iter(StreamItems(reader, self.block, self.long_line)), consumed

    def text_codec(self) -> str | None:
        """The UTF-16 codec of the file :meth:`lines` reads (known for compressed input after its first item)."""
        return getattr(self._reader, "codec", None)

    @staticmethod
    def _size(path: str, f: IO[bytes], head: bytes) -> int | None:
        """The size of an opened plain (or UTF-16) file, to tell a file that shrank while it was read
        (:func:`_read_whole`); None for standard input and compressed files (read to the end of their stream)."""
        if path == STDIN or compression(head):
            return None
        try:
            return os.fstat(f.fileno()).st_size
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return None

    def open(self, path: str) -> tuple[IO[bytes], bytes]:
        if path == STDIN:  # not seekable: its head is read (up to SNIFF bytes or its end) and read again first
            stdin = sys.stdin.buffer
            return _after_head(stdin, _read_head(stdin))
        try:
            # unbuffered: blocks of 16 MiB are read straight into their bytes (buffered reading costs 0.026 instead
            # of 0.020 s CPU per 120 MB; gzip adds its own buffer)
            f = open(path, "rb", buffering=0)
        except OSError as e:
            raise ScanProblem(path, os_message(e)) from None
        try:
            head = f.read(SNIFF)
            f.seek(0)
        except OSError as e:
            f.close()
            raise ScanProblem(path, os_message(e)) from None
        return f, head

    # -- lines -----------------------------------------------------------------------------------------------
    def lines(
        self,
        path: str,
        f: IO[bytes],
        head: bytes,
        progress: Callable[[int], None] | None = None,
        *,
        changed_only: bool = False,
    ) -> Iterator[tuple[int, bytes | memoryview, str | None, list[tuple[str, str]]]]:
        """``(line number, raw line or piece, scrubbed text or None when unchanged, new markers)`` for every
        line (raw bytes include the newline). Long lines come as several tuples with the same number.
        ``changed_only`` (a scan, no copy): only the tuples with new markers, raw bytes empty; the bytes read
        are counted in :attr:`byte_count`."""
        items, consumed = self._items(path, f, head)
        line = 1
        open_line = False  # the last line read has no newline (yet)
        pem = False  # a PEM private key block is open: the lines that follow are its body
        self.byte_count = 0
        try:
            for kind, payload in self._pipeline(items):
                if kind == "long":
                    pem = False
                    long = payload
                    for item in self._long(line, long):
                        self.byte_count += len(item[1])
                        if not changed_only:
                            yield item
                        elif item[3]:
                            yield (item[0], b"", item[2], item[3])
                    line += 1  # (counted whether or not a newline ends it: the last line of a file may lack one)
                    open_line = False
                    continue
                buf, lo, hi, nls, cands, vendor = payload
                self.byte_count += hi - lo
                open_line = hi > lo and buf[hi - 1 : hi] != b"\n"
                view = memoryview(buf)
                pos = lo
                texts = [decode(buf[s:e]) for _, s, e in cands]
                # (the Hyperscan engine knows which lines hold a vendor-key prefix; another engine does not)
                keys = [s in vendor for _, s, _ in cands] if self.prefilter.engine == "hyperscan" else None
                outs = self._scrub_lines(texts, keys)
                if any(o != t and t[:1] in (" ", "\t") for t, o in zip(texts, outs, strict=True)):
                    outs = self._source_lines(buf, lo, cands, texts, outs)
                if pem or any(p.pem_open(t) for t in texts):
                    cands, texts, outs, pem = self._pem_bodies(buf, lo, hi, cands, texts, outs, pem)
                if any(p.b64_block_head(t) is not None for t in texts):
                    cands, texts, outs = self._b64_blocks(buf, hi, cands, texts, outs)
                for (idx, s, e), text, out in zip(cands, texts, outs, strict=True):
                    if s > pos and not changed_only:
                        yield (-1, view[pos:s], None, [])
                    raw_end = e + 1 if e < hi else e
                    if out != text:
                        raw = b"" if changed_only else buf[s:raw_end]
                        yield (line + idx, raw, out + ("\n" if raw_end > e else ""), new_markers(text, out))
                    elif not changed_only:
                        yield (-1, buf[s:raw_end], None, [])
                    pos = raw_end
                if pos < hi and not changed_only:
                    yield (-1, view[pos:hi], None, [])
                line += nls
                if progress is not None:
                    progress(consumed())
            self.line_count = line - 1 + (1 if open_line else 0)
        except EOFError:
            where = f"ends after line {line - 1}" if line > 1 else "before the first line"
            raise ScanProblem(path, f"truncated {compression(head)} file ({where})") from None
        except (gzip.BadGzipFile, zlib.error, lzma.LZMAError) as e:
            where = f"after line {line - 1}" if line > 1 else "before the first line"
            raise ScanProblem(path, f"corrupt {compression(head)} data {where} ({e})") from None
        except OSError as e:
            if compression(head) == "bzip2" and e.errno is None:  # (bz2's corrupt data: a plain OSError)
                where = f"after line {line - 1}" if line > 1 else "before the first line"
                raise ScanProblem(path, f"corrupt bzip2 data {where} ({e})") from None
            raise ScanProblem(path, f"read error after line {line - 1}: {os_message(e)}") from None

    def _pem_bodies(
        self,
        buf: Buffer,
        lo: int,
        hi: int,
        cands: list[tuple[int, int, int]],
        texts: list[str],
        outs: list[str],
        pem: bool,
    ) -> tuple[list[tuple[int, int, int]], list[str], list[str], bool]:
        """The candidate lines of a block with the body lines of PEM private key blocks added (scrubbed by
        :meth:`Scrubber.pem_body`): the lines after a line that ends inside a block (:func:`patterns.pem_open`),
        or from the block's start when ``pem`` (an earlier block ended inside one), as long as they read as body
        (:data:`patterns.PEM_BODY_LINE`). Also whether a PEM block is still open at the block's end."""
        out_c: list[tuple[int, int, int]] = []
        out_t: list[str] = []
        out_o: list[str] = []
        find = buf.find

        def follow(idx: int, pos: int) -> tuple[int, bool]:
            """Adds the body lines from line ``idx`` at ``pos``; (where they end, still open at the block's end)."""
            while pos < hi:
                e = find(b"\n", pos, hi)
                e = hi if e < 0 else e
                text = decode(buf[pos:e])
                if p.PEM_BODY_LINE.fullmatch(text) is None:
                    return pos, False
                out_c.append((idx, pos, e))
                out_t.append(text)
                out_o.append(self._scrubber.pem_body(text))
                idx, pos = idx + 1, e + 1
            return pos, True

        done = lo
        if pem:
            done, pem = follow(0, lo)
        for (idx, s, e), text, out in zip(cands, texts, outs, strict=True):
            if s < done:
                continue  # a body line already
            out_c.append((idx, s, e))
            out_t.append(text)
            out_o.append(out)
            if p.pem_open(text):
                done, pem = follow(idx + 1, e + 1)
        return out_c, out_t, out_o, pem

    def _source_lines(
        self, buf: Buffer, lo: int, cands: list[tuple[int, int, int]], texts: list[str], outs: list[str]
    ) -> list[str]:
        """The outputs of the changed lines that may be a traceback's source lines (indented) scrubbed again with
        the line before them, when that is a frame line ('  File "app.py", line 42, in f'): there the scrubber keeps
        an expression (``password=settings.DB_PASSWORD``, ``code=request.args["code"]``) as code, as it does when it
        redacts the log as it is written; alone, the line reads as a field. (A frame line in the block before is
        not read: such a line is scrubbed alone, as before.)"""
        out = list(outs)
        for i, ((_, s, _e), text, o) in enumerate(zip(cands, texts, outs, strict=True)):
            if o == text or text[:1] not in (" ", "\t") or s - 1 <= lo or buf[s - 1 : s] != b"\n":
                continue
            floor = max(lo, s - 1 - _SOURCE_LINE_MAX)
            start = buf.rfind(b"\n", floor, s - 1) + 1
            if start == 0 and floor > lo:
                continue  # (a longer line than any frame line)
            prev = decode(buf[max(start, lo) : s - 1])
            if _FRAME_LINE.match(prev) is None:
                continue
            head, sep, tail = self._scrub(prev + "\n" + text).partition("\n")
            if sep and head == prev and "\n" not in tail:
                out[i] = tail
        return out

    def _b64_blocks(
        self, buf: Buffer, hi: int, cands: list[tuple[int, int, int]], texts: list[str], outs: list[str]
    ) -> tuple[list[tuple[int, int, int]], list[str], list[str]]:
        """The candidate lines of a block with the lines of base64-wrapped tokens added (``base64`` without
        ``-w 0``): after a line ending in the start of a wrapped run, the lines that go on with it
        (:func:`patterns.b64_block_starts`); when the joined run holds a token (:meth:`Scrubber.b64_block`) every
        one of them gets the token's marker. (:class:`~jwtobs.redact.scan.windowed.StreamItems` never ends an item
        inside such a block.)"""
        out_c: list[tuple[int, int, int]] = []
        out_t: list[str] = []
        out_o: list[str] = []
        find = buf.find
        lines: list[tuple[int, int, str]] = []  # the lines read after a block's first one: (start, end, text)

        def following(pos: int) -> Iterator[str]:
            while pos < hi:
                end = find(b"\n", pos, hi)
                end = hi if end < 0 else end
                lines.append((pos, end, decode(buf[pos:end])))
                yield lines[-1][2]
                pos = end + 1

        done = read = 0  # (the end of the last block redacted, of the last block read: each line read once)
        for (idx, s, e), text, out in zip(cands, texts, outs, strict=True):
            if s < done:
                continue  # a line of a block already
            lines.clear()
            # (the first line alone may already be a marker: its part of the run may decode to a signing input)
            starts = p.b64_block_starts(text, following(e + 1)) if s >= read else None
            body = lines[: len(starts) - 1] if starts else []
            if starts is not None:
                read = body[-1][1] + 1 if body else e + 1
            marked = self._scrubber.b64_block([text, *(t for _, _, t in body)], starts) if body and starts else None
            if marked is None:
                out_c.append((idx, s, e))
                out_t.append(text)
                out_o.append(out)
                continue
            out_c += [(idx, s, e), *((idx + 1 + i, bs, be) for i, (bs, be, _) in enumerate(body))]
            out_t += [text, *(t for _, _, t in body)]
            out_o += marked
            done = body[-1][1] + 1
        return out_c, out_t, out_o

    def _long(
        self, line: int, long: Long
    ) -> Iterator[tuple[int, bytes | memoryview, str | None, list[tuple[str, str]]]]:
        w = Windowed(self._scrub, self.prefilter, self.window, self.context)
        dec = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        for piece in long.pieces:
            out, new = w.feed(dec.decode(piece))
            yield (line, piece, out, new)
        tail = dec.decode(b"", final=True)
        if tail:
            out, new = w.feed(tail)
            yield (line, b"", out, new)
        out, new = w.finish()
        nl = b"\n" if long.newline[0] else b""
        yield (line, nl, out + nl.decode(), new)

    def _pipeline(self, items: Iterator[Item]) -> Iterator[tuple[str, Any]]:
        """Prefilters blocks on worker threads (in order, a few ahead); long lines pass through in order."""

        def work(
            it: tuple[Buffer, int, int],
        ) -> tuple[Buffer, int, int, int, list[tuple[int, int, int]], set[int]]:
            buf, lo, hi = it
            classified = self.prefilter.classified(buf, lo, hi)
            vendor = self.prefilter.vendor_lines()  # (read at once: a later classification replaces it)
            nls, cands = numbered(buf, lo, hi, _to_scrub(buf, classified))
            return buf, lo, hi, nls, cands, vendor

        if self.threads <= 1:
            for it in items:
                yield ("long", it) if isinstance(it, Long) else ("block", work(it))
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="jwtobs-scan") as pool:
            pending: deque[Future[Any]] = deque()
            for it in items:
                if isinstance(it, Long):
                    while pending:
                        yield ("block", pending.popleft().result())
                    yield ("long", it)
                    continue
                pending.append(pool.submit(work, it))
                if len(pending) > self.threads:
                    yield ("block", pending.popleft().result())
            while pending:
                yield ("block", pending.popleft().result())

    # -- scan ------------------------------------------------------------------------------------------------
    def scan_file(
        self, path: str, report: ScanReport, progress: Callable[[int], None] | None = None
    ) -> Iterator[Finding]:
        """Findings of one file, in line order; problems are raised as :class:`ScanProblem` after the
        findings read so far."""
        f, head = self.open(path)
        with f if path != STDIN else contextlib.nullcontext(f):  # standard input stays open
            problem = unreadable_compression(path, head)
            if problem is not None:
                raise problem
            if is_binary(head) and not compression(head) and not self.include_binary:
                report.skipped.append((path, "binary file (use --binary to scan it)"))
                return
            report.files += 1
            size = self._size(path, f, head)
            for line, _raw, _out, new in self.lines(path, f, head, progress, changed_only=True):
                for kind, fp in new:
                    yield Finding(path, line, kind, fp)
            report.bytes += self.byte_count
            report.lines += self.line_count
            _read_whole(path, f, size, "scanned")
            if not self.byte_count:
                report.empty.append(path)

    def scan_range(self, path: str, start: int, end: int, report: ScanReport) -> Iterator[Finding]:
        """Findings of the bytes ``[start, end)`` of a plain file, which must begin and end at line starts (a
        chunk of :mod:`~jwtobs.redact.scan.parallel`); line numbers count from 1 at ``start``. ``report``
        gets the bytes and lines of the range."""
        try:
            f = open(path, "rb", buffering=0)
        except OSError as e:
            raise ScanProblem(path, os_message(e)) from None
        with f:
            try:
                f.seek(start)
            except OSError as e:
                raise ScanProblem(path, os_message(e)) from None
            part = _Range(f, end - start)
            for line, _raw, _out, new in self.lines(path, part, b"", changed_only=True):  # type: ignore[arg-type]
                for kind, fp in new:
                    yield Finding(path, line, kind, fp)
            report.bytes += self.byte_count
            report.lines += self.line_count

    def scan(
        self, paths: Iterable[str], report: ScanReport, progress: Callable[[int], None] | None = None
    ) -> Iterator[Finding]:
        for path in iter_files(paths, report.problems):
            try:
                yield from self.scan_file(path, report, progress)
            except ScanProblem as e:
                report.problems.append(e)


#: Joins the lines of a batch: a newline (every detector's value, name and separator stops at one, and every
#: lookbehind and lookahead reads it as the start or end of the text) and "<" (the classes of the detectors that
#: take a newline, the XML element's attributes and text, ``[^<>]``/``[^<]``, a JWK object's ``[^{}[]<]``, stop
#: there, and a PEM block's line breaks must be followed by base64, a header or its END; an element name cannot
#: start with a newline), so no detector reads across two lines of a batch.
BATCH_SEP: Final = "\n<\n"
#: Lines per batch and characters per batched line (a longer line is scrubbed alone)
BATCH_LINES: Final = 4096
BATCH_LINE_MAX: Final = 16384


def _yes(_first: str) -> bool:
    return True


def scrub_batched(
    scrubber: Scrubber, prefilter: Prefilter, texts: list[str], scrub_one: Callable[[str], str], *, keys: bool = True
) -> list[str]:
    """``[scrub_one(t) for t in texts]`` for lines ``texts`` (``scrub_one`` is the scrubber's two passes over one
    text: :meth:`Scanner._scrub`), with the scrubber called once per batch of lines instead of once per line (the
    scrubber's fixed cost per call and per detector is most of its time on a log line).

    A batch is its lines joined by :data:`BATCH_SEP`, scrubbed by one first pass (``settled`` always true: the
    scrubber's own second pass is left out) and split again. A line's first pass is the same alone or in a batch:
    the detectors read no separator (all their separators, values and names stop at a newline, the XML element at
    "<"), every lookaround reads the newline as it reads the text's start or end, the keyword checks that decide
    which detectors run are only faster on a line that lacks the keyword (each detector needs its keyword), and
    a marker depends on the credential alone. Lower-casing is the same unless a character's lower case is longer
    (U+0130): such lines are scrubbed alone. The second pass, which the scrubber runs over a changed text whose
    output a detector may still act on, runs over the changed lines the prefilter finds such a hit on (the hit
    judgements the scan itself relies on to leave a line unscrubbed), again as one batch; on a line whose first
    pass redacted JOSE tokens only, which the scrubber does not pass again, it changes nothing (those tokens are
    replaced before every other detector ran). A batch whose output does not split into its lines (an internal
    error's ``[REDACTION_FAILED]``, a separator redacted) is scrubbed line by line.
    ``keys=False``: no line holds a vendor-key prefix (``Scrubber.text(keys=False)``; nor does a scrubbed line).
    ``tests/redact/test_scan_batch.py`` checks equality with ``scrub_one`` line by line."""
    out: list[str] = []
    for i in range(0, len(texts), BATCH_LINES):
        out += _batch(scrubber, prefilter, texts[i : i + BATCH_LINES], scrub_one, keys)
    return out


def _batch(
    scrubber: Scrubber, prefilter: Prefilter, texts: list[str], scrub_one: Callable[[str], str], keys: bool
) -> list[str]:
    alone = [
        i
        for i, t in enumerate(texts)
        if len(t) > BATCH_LINE_MAX or "\n" in t or (not t.isascii() and len(t.lower()) != len(t))
    ]
    if alone:
        done = {i: scrub_one(texts[i]) for i in alone}
        rest = [i for i in range(len(texts)) if i not in done]
        batched = _batch(scrubber, prefilter, [texts[i] for i in rest], scrub_one, keys) if rest else []
        done.update(zip(rest, batched, strict=True))
        return [done[i] for i in range(len(texts))]
    if len(texts) < 2:
        return [scrub_one(t) for t in texts]
    first = _pass(scrubber, texts, keys)
    if first is None:
        return [scrub_one(t) for t in texts]
    changed = [i for i, (t, f) in enumerate(zip(texts, first, strict=True)) if f != t and len(f) <= _SETTLE_MAX]
    if not changed:
        return first
    data = encode("\n".join([first[i] for i in changed]))
    _, hit = numbered(data, 0, len(data), prefilter.candidates(data, 0, len(data)))
    again = [changed[idx] for idx, _, _ in hit]
    if again:
        second = _pass(scrubber, [first[i] for i in again], keys)
        if second is None:
            return [scrub_one(t) for t in texts]
        for i, s in zip(again, second, strict=True):
            first[i] = s
    return first


def _pass(scrubber: Scrubber, texts: list[str], keys: bool) -> list[str] | None:
    """One scrubber pass over each of ``texts`` as one text, or None when its output does not split into them."""
    out = scrubber.text(BATCH_SEP.join(texts), settled=_yes, keys=keys)
    if not isinstance(out, str):
        return None
    lines = out.split(BATCH_SEP)
    return lines if len(lines) == len(texts) else None


def _to_scrub(buf: Buffer, cands: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    """The candidate lines the scrubber has to see: lines hit only by name=value triggers go through
    :func:`~jwtobs.redact.scan.fields.lines_that_may_change` first (all of a block's at once)."""
    judged = [(s, e) for s, e, j in cands if j]
    if not judged:
        return [(s, e) for s, e, _ in cands]
    # joined as bytes and decoded once: a line's invalid UTF-8 ends at its newline, so this is the lines decoded
    # one by one and joined
    maybe = joined_lines_that_may_change(decode(b"\n".join([buf[s:e] for s, e in judged])))
    keep = {judged[i][0] for i in maybe}
    return [(s, e) for s, e, j in cands if not j or s in keep]


class _Range:
    """At most ``size`` bytes of a file from its current position (a chunk scanned on its own)."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self._f = f
        self._left = size
        self._read = 0

    def read(self, size: int = -1, /) -> bytes:
        n = self._left if size < 0 else min(size, self._left)
        data = self._f.read(n) if n > 0 else b""
        self._left -= len(data)
        self._read += len(data)
        return data

    def tell(self) -> int:
        return self._read


def _text_writer(out: Writer, codec: str | None) -> Writer:
    return out if codec is None else Utf16Writer(out, codec)


def _read_whole(path: str, f: IO[bytes], size: int | None, verb: str) -> None:
    """Raise when fewer bytes were read from a plain file than it held when it was opened: it was truncated while it
    was read (``copytruncate`` log rotation), so the rest went unread. Session 21: ``jwtobs scan`` reported such a
    file as a complete scan ("0 findings in 1 file (67.1 MB)" of 213 MB, exit 0), as ``--jobs`` already did not."""
    if size is None:
        return
    try:
        read = f.tell()
        shrank = read < size and os.fstat(f.fileno()).st_size < size
    except (OSError, ValueError):
        return
    if shrank:  # (not a file whose size is no length: sysfs says 4096 for its files, whatever they hold)
        raise ScanProblem(path, f"the file shrank while it was {verb} ({read} of {size} bytes read)")


def scrub_file(
    src: str,
    dst: str,
    *,
    force: bool = False,
    engine: str | None = None,
    scanner: Scanner | None = None,
    include_binary: bool = False,
) -> ScanReport:
    """Write a redacted copy of ``src`` to ``dst`` (gzip, bzip2, xz when ``dst`` ends with ``.gz``, ``.bz2``,
    ``.xz``); never in place.

    The copy is written to a temporary file next to ``dst`` and renamed when complete, so an input error
    (truncated gzip...) leaves no partial output. Raises :class:`ScanProblem` with a clear message.
    """
    sc = scanner or Scanner(engine, include_binary=include_binary, sink="scrub")
    report = ScanReport()
    if src == STDIN:
        raise ScanProblem(src, "scrub copies a file; standard input is for scan")
    try:
        st = os.stat(src)
    except OSError as e:
        raise ScanProblem(src, os_message(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise ScanProblem(src, "is a directory (scrub copies one file; use scan for directories)")
    if not stat.S_ISREG(st.st_mode):
        raise ScanProblem(src, "not a regular file")
    if not dst:  # (session 21: "error: IsADirectoryError: [Errno 21] is a directory (...): '.'")
        raise ScanProblem("OUT", "empty file name (give the file to write)")
    if dst == "-":  # (before session 33 a file named "-" was written in the current directory: "wrote -")
        raise ScanProblem("-", "scrub writes a file, not standard output (a file named -: give ./-)")
    if os.path.lexists(dst):
        same = False
        try:
            same = os.path.samefile(src, dst)
        except OSError:
            pass
        if same or os.path.realpath(dst) == os.path.realpath(src):
            raise ScanProblem(dst, "is the input file: scrub never writes in place")
        if os.path.isdir(dst):
            raise ScanProblem(dst, "is a directory")
        if not replaceable(dst):
            raise ScanProblem(dst, "not a regular file (a device, pipe or socket): scrub writes regular files only")
        if not force:
            raise ScanProblem(dst, "exists (use --force to overwrite)")
    out_dir = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(out_dir):
        raise ScanProblem(dst, "the output directory does not exist")
    f, head = sc.open(src)
    with f:
        problem = unreadable_compression(src, head)
        if problem is not None:
            raise problem
        if is_binary(head) and not compression(head) and not sc.include_binary:
            raise ScanProblem(src, "binary file, not copied (use --binary to scrub it anyway)")
        with replaced_atomically(dst, "wb") as raw_out:
            out: Writer = raw_out
            gz: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | None = None
            if dst.endswith(".gz"):
                gz = gzip.GzipFile(filename=os.path.basename(dst)[:-3], mode="wb", fileobj=raw_out, mtime=0)
            elif dst.endswith(".bz2"):
                gz = bz2.BZ2File(raw_out, "wb")
            elif dst.endswith(".xz"):
                gz = lzma.LZMAFile(raw_out, "wb")
            if gz is not None:
                out = gz
            # written back as it was read: UTF-16 with its byte order mark (inside compressed input: known once
            # its first bytes are read)
            writer: Writer | None = None if compression(head) else _text_writer(out, utf16(head))
            report.files = 1
            size = sc._size(src, f, head)
            for line, raw, text, new in sc.lines(src, f, head):
                if writer is None:
                    writer = _text_writer(out, sc.text_codec())
                report.bytes += len(raw)
                writer.write(raw if text is None else encode(text))
                for kind, fp in new:
                    report.add(Finding(src, line, kind, fp))
            if writer is None:  # no line: a UTF-16 input held its byte order mark only, which the writer writes
                _text_writer(out, sc.text_codec())
            _read_whole(src, f, size, "copied")
            if gz is not None:
                gz.close()
    return report
