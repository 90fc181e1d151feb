"""Reading a log as blocks of whole lines (plain or gzip), and scrubbing a line too long to hold whole in
windows whose cuts are consistency-checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from jwtobs.redact import _regex
from jwtobs.redact import patterns as p
from jwtobs.redact.scan.prefilter import Buffer, Prefilter
from jwtobs.redact.scan.report import new_markers

BLOCK: Final = 16 << 20  # bytes prefiltered at once
LONG_LINE: Final = 16 << 20  # lines longer than this are scrubbed in windows
WINDOW: Final = 1 << 20  # characters committed per window of a long line
CONTEXT: Final = 64 << 10  # characters of context before and lookahead after each window
_PIECE: Final = 1 << 20  # bytes read at once from a long line


class Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


WHITESPACE = _regex.compile(r"\s")


# -- long lines ------------------------------------------------------------------------------------------------
class Windowed:
    """Scrubs one line from successive text pieces in windows; :meth:`feed` / :meth:`finish` return the
    committed output and the new markers in it. Memory stays within ``window + 2 * context`` plus a piece."""

    def __init__(
        self,
        scrub: Callable[[str], str],
        prefilter: Prefilter,
        window: int = WINDOW,
        context: int = CONTEXT,
    ) -> None:
        self._scrub_fn = scrub
        self._pf = prefilter
        self.window = window
        self.context = context
        self._buf = ""  # input text from the start of the current context
        self._commit = 0  # self._buf[:self._commit] is context whose output was already emitted
        self._prefix_out = ""  # scrub of self._buf[:self._commit]
        self._failing = False  # a [REDACTION_FAILED] region goes on until the next whitespace

    def _scrub(self, text: str) -> str:
        if not text or not self._pf.any(encode(text)):
            return text
        return self._scrub_fn(text)

    def feed(self, piece: str) -> tuple[str, list[tuple[str, str]]]:
        self._buf += piece
        outs: list[str] = []
        found: list[tuple[str, str]] = []
        while len(self._buf) - self._commit >= self.window + self.context:
            out, new = self._step()
            outs.append(out)
            found += new
        return "".join(outs), found

    def finish(self) -> tuple[str, list[tuple[str, str]]]:
        if self._failing and not self._skip_failed(len(self._buf)):
            self._buf, self._commit, self._prefix_out, self._failing = "", 0, "", False
            return "", []
        full = self._scrub(self._buf)
        rest = self._buf[self._commit :]
        if full.startswith(self._prefix_out):
            out = full[len(self._prefix_out) :]
        else:  # the context reads differently with the rest of the line: fail closed for the rest
            out = p.FAILED
        self._buf, self._commit, self._prefix_out = "", 0, ""
        return out, new_markers(rest, out)

    def _skip_failed(self, limit: int) -> bool:
        """Drop the rest of a failed region up to the next whitespace before ``limit``; True when it ended."""
        ws = WHITESPACE.search(self._buf, self._commit, limit)
        cut = ws.start() if ws else limit
        start = max(0, cut - self.context)
        self._buf = self._buf[start:]
        self._commit = cut - start
        self._prefix_out = self._scrub(self._buf[: self._commit])
        self._failing = ws is None
        return ws is not None

    def _step(self) -> tuple[str, list[tuple[str, str]]]:
        if self._failing:
            self._skip_failed(self._commit + self.window)
            return "", []
        buf, commit = self._buf, self._commit
        target = commit + self.window
        ahead = buf[: target + self.context]
        full = self._scrub(ahead)
        if full is ahead:
            # no trigger of the prefilter in the window nor its lookahead (_scrub returned the text itself): any cut
            # is clean, even in text without a place to cut (a 200 MB base64 "data:" URI was reported as a
            # redaction failure, and replaced whole by scrub). A trigger there (the start of a token longer than the
            # lookahead) still takes the path below, which fails closed.
            cut = target
            out = buf[commit:target]
        else:
            for cut in self._cuts(buf, commit, target):
                pre = self._scrub(buf[:cut])
                if pre.startswith(self._prefix_out) and full.startswith(pre):
                    out = pre[len(self._prefix_out) :]
                    break
            else:
                cut, out = self._failed_cut(buf, target)
        new = new_markers(buf[commit:cut], out)
        start = max(0, cut - self.context)
        self._buf = buf[start:]
        self._commit = cut - start
        self._prefix_out = self._scrub(self._buf[: self._commit])
        return out, new

    def _failed_cut(self, buf: str, target: int) -> tuple[int, str]:
        """No clean cut: the text is never emitted, up to the next whitespace (the rest of the credential)."""
        ws = WHITESPACE.search(buf, target, target + self.context)
        self._failing = ws is None
        return (ws.start() if ws else target + self.context), p.FAILED

    def _cuts(self, buf: str, commit: int, target: int) -> Iterator[int]:
        """Cut candidates, nearest the target first: just after whitespace (no single-word credential holds
        any, so a token longer than the lookahead is never cut), then, for text without whitespace (minified
        JSON), just after , ; & } > (bounded tries each)."""
        lo = max(commit + 1, target - self.context)
        for seps in _CUT_SEPS:
            pos = target
            for _ in range(16):
                found = max(buf.rfind(sep, lo, pos) for sep in seps)
                if found < lo:
                    break
                yield found + 1
                pos = found


_CUT_SEPS: Final = ((" ", "\t"), (",", ";", "&", "}", ">"))


# -- reading ---------------------------------------------------------------------------------------------------
@dataclass
class Long:
    """A line too long to hold whole: ``pieces`` yields its bytes (without the newline) in bounded pieces."""

    pieces: Iterator[bytes]
    newline: list[bool]  # set to [True] once the line's newline was seen


Item = tuple[Buffer, int, int] | Long


#: whole lines kept back at an item's end, at most (a longer run of such lines is read from where that ends)
B64_HOLD: Final = 64 << 10
_B64_TAIL: Final = _regex.compile(rb"={0,2}[A-Za-z0-9+/_\-]*")  # (reversed: padding first)


def b64_tail_width(line: bytes) -> int:
    """The length of the base64 run (its padding included) that ends ``line`` (without its newline; a CR before it
    left out)."""
    m = _B64_TAIL.match(line.rstrip(b"\r")[::-1])
    return m.end() if m is not None else 0


def _b64_block_tail(data: bytes, start: int, last: int) -> int:
    """Where to end the item of ``data[start:last + 1]`` (whole lines): before the lines at its end that may be
    a base64 block wrapped over lines (``echo $TOKEN | base64``: each ends in a run of the same width, at least
    :data:`patterns.B64_WRAP_MIN` and a multiple of 4), so that the scanner reads the block whole in the next
    item (:meth:`Scanner._b64_blocks` reads a block within one item); ``last + 1`` when there are none, or when
    the last line is shorter than the ones before it (a block's last line: the block is whole)."""
    cut, pos, width, held = last + 1, last, 0, 0
    floor = max(start, last + 1 - B64_HOLD)
    while pos >= floor:
        begin = max(data.rfind(b"\n", start, pos) + 1, start)
        if begin < floor:
            break  # (more than B64_HOLD kept back: the block is read from here on)
        n = b64_tail_width(data[begin:pos])
        if not p.b64_wrap_width(n) or (width and n != width):
            if held == 1 and p.b64_wrap_width(n) and n > width:
                return last + 1  # (the item ends with a block's shorter last line: the block is whole)
            break
        cut, pos, width, held = begin, begin - 1, n, held + 1
        if begin == start:
            break
    return cut


class StreamItems:
    """Blocks of whole lines read from a binary stream (a file, gzip) as ``(bytes, lo, hi)`` items, without
    copying a block to join lines: the line split by a block boundary comes as a small item of its own. A
    line longer than ``long_line`` comes as a :class:`Long` whose pieces must be consumed before the next
    item is asked for. Reading (not memory-mapping) keeps a file truncated while it is scanned (logrotate's
    copytruncate) from killing the process with SIGBUS."""

    def __init__(self, f: Reader, block: int, long_line: int) -> None:
        self.f = f
        self.block = block
        self.long_line = long_line
        self._pending = b""  # data read by a long line's pieces beyond its newline

    def _read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self.f.read(self.block)

    def __iter__(self) -> Iterator[Item]:
        carry = b""  # the start of a line whose newline is not read yet
        held = b""  # whole lines kept back for the next item: a base64 block the read cut (_b64_block_tail)
        while True:
            data = self._read()
            if not data:
                if held or carry:
                    yield (held + carry, 0, len(held) + len(carry))
                return
            start = 0
            if held:
                nl = data.find(b"\n")
                if len(carry) + (nl if nl >= 0 else len(data)) > self.long_line:  # a long line: no block line
                    yield (held, 0, len(held))
                    held = b""
                elif nl < 0:
                    carry += data
                    continue
                else:  # (rare: one copy of the read)
                    data, carry, held = held + carry + data, b"", b""
            if carry:
                nl = data.find(b"\n")
                if nl < 0 and len(carry) + len(data) <= self.long_line:
                    carry += data
                    continue
                if nl < 0 or len(carry) + nl > self.long_line:
                    flag = [False]
                    parts = [carry, data] if nl < 0 else [carry, data[:nl]]
                    if nl >= 0:
                        flag[0] = True
                        self._pending = data[nl + 1 :]
                    yield Long(self._long_pieces(parts, flag, more=nl < 0), flag)
                    carry = b""
                    continue
                head = carry + data[: nl + 1]
                carry = b""
                cut = _b64_block_tail(head, 0, len(head) - 1)
                if cut == len(head):
                    yield (head, 0, len(head))
                    start = nl + 1
                else:  # (its last line may begin a base64 block: read on with it, one copy of the read)
                    if cut:
                        yield (head, 0, cut)
                    data = head[cut:] + data[nl + 1 :]
            last = data.rfind(b"\n", start)
            if last < 0:
                carry = data[start:]
                continue
            cut = _b64_block_tail(data, start, last)
            if cut > start:
                yield (data, start, cut)
            held, carry = data[cut : last + 1], data[last + 1 :]

    def _long_pieces(self, parts: list[bytes], flag: list[bool], *, more: bool) -> Iterator[bytes]:
        for part in parts:
            for p0 in range(0, len(part), _PIECE):
                yield part[p0 : p0 + _PIECE]
        while more:
            data = self.f.read(_PIECE)
            if not data:
                return
            nl = data.find(b"\n")
            if nl >= 0:
                flag[0] = True
                self._pending = data[nl + 1 :]
                yield data[:nl]
                return
            yield data
