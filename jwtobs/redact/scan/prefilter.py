"""Finds the lines of a block of raw bytes that may hold a credential (the engines: Hyperscan, pure Python, or
every line), and where those lines are."""

from __future__ import annotations

import threading
from typing import Any, Final, Protocol

from jwtobs.redact.scan.hyperscan_engine import have_hyperscan, hyperscan_db
from jwtobs.redact.scan.rules import NAME_RUN, RAW_JOSE, STEM_WORDS, benign_words, keywords, triggers


class Buffer(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def __getitem__(self, key: slice) -> bytes: ...
    def __len__(self) -> int: ...


ENGINES: Final = ("hyperscan", "python", "all")


def default_engine() -> str:
    return "hyperscan" if have_hyperscan() else "python"


class Prefilter:
    """Finds the lines of a block that may hold a credential.

    ``engine``: ``"hyperscan"`` (fast, optional dependency), ``"python"`` (stdlib only) or ``"all"`` (every
    line is a candidate: slow, the reference the others are checked against). Chosen at construction.
    """

    def __init__(self, engine: str | None = None) -> None:
        asked = engine
        engine = engine or default_engine()
        if engine not in ENGINES:
            raise ValueError(f"unknown prefilter engine {engine!r} (one of {', '.join(ENGINES)})")
        self.engine = engine
        self._local = threading.local()
        trig = triggers()
        self._keywords = keywords()
        self._stem_keywords = frozenset(STEM_WORDS)
        self._benign = frozenset(w.encode() for w in benign_words())
        self._db: Any = None
        #: why the default engine could not be used (the CLI prints it), or None
        self.note: str | None = None
        if engine == "hyperscan":
            import hyperscan

            try:
                self._db = hyperscan_db(trig)
            except Exception as e:  # an expression Hyperscan cannot compile (a detector changed shape)
                if asked is not None:
                    raise
                self.engine = "python"
                self.note = f"hyperscan could not compile the triggers ({e}); using the slower Python prefilter"
            else:
                self._scratch = hyperscan.Scratch(self._db)

    # Offsets (within [lo, hi)) at which a trigger matched; for "python", any offset of each candidate line.
    def _hits(self, buf: Buffer, lo: int, hi: int) -> list[int]:
        if self.engine == "hyperscan":
            scratch = getattr(self._local, "scratch", None)
            if scratch is None:
                scratch = self._local.scratch = self._scratch.clone()
            hits: list[int] = []
            add = hits.append

            base = lo - 1

            def on_match(_id: int, _frm: int, to: int, _flags: int, _ctx: object) -> None:
                add(base + to)

            self._db.scan(memoryview(buf)[lo:hi], match_event_handler=on_match, scratch=scratch)  # type: ignore[arg-type]
            hits.sort()
            return hits
        if self.engine == "all":
            return all_lines(buf, lo, hi)
        return self._python_hits(buf, lo, hi)

    def _python_hits(self, buf: Buffer, lo: int, hi: int) -> list[int]:
        low = buf[lo:hi].lower()
        lines: dict[int, int] = {}  # start -> end of candidate lines
        stems, benign_tail = self._stem_keywords, self._benign_tail
        for kw in self._keywords:
            stem = kw in stems
            pos = low.find(kw)
            while pos >= 0:
                s = low.rfind(b"\n", 0, pos) + 1
                e = low.find(b"\n", pos)
                e = len(low) if e < 0 else e
                if s not in lines and stem and benign_tail(low, pos + len(kw), e):
                    pos = low.find(kw, pos + len(kw))  # "token_fp": look at the next one
                    continue
                lines[s] = e
                pos = low.find(kw, e)
        for m in RAW_JOSE.finditer(buf[lo:hi]):
            pos = m.start()
            s = low.rfind(b"\n", 0, pos) + 1
            if s not in lines:
                e = low.find(b"\n", pos)
                lines[s] = len(low) if e < 0 else e
        return [lo + s for s in sorted(lines)]

    def _benign_tail(self, low: bytes, pos: int, end: int) -> bool:
        """The field name going on at ``pos`` (just after a secret stem) ends in a benign part ("_fp",
        "_type"...): the field trigger's condition, so such a hit makes no line a candidate."""
        m = NAME_RUN.match(low, pos, end)
        tail = m.group(0) if m else b""
        k = max(tail.rfind(b"_"), tail.rfind(b"-"))
        return k >= 0 and tail[k + 1 :] in self._benign

    def lines(self, buf: Buffer, lo: int, hi: int) -> tuple[int, list[tuple[int, int, int]]]:
        """``(newlines in [lo, hi), [(line index in the block, start, end), ...])`` for candidate lines
        (``end`` excludes the newline)."""
        hits = self._hits(buf, lo, hi)
        out: list[tuple[int, int, int]] = []
        line = 0
        last = lo
        end = lo - 1
        for h in hits:
            if h < end or h >= hi:
                continue
            s = buf.rfind(b"\n", lo, h) + 1 if h > lo else lo
            s = max(s, lo)
            e = buf.find(b"\n", h, hi)
            e = hi if e < 0 else e
            line += count_nl(buf, last, s)
            last = s
            out.append((line, s, e))
            end = e + 1
        total = line + count_nl(buf, last, hi)
        return total, out

    def any(self, data: bytes) -> bool:
        """Whether ``data`` holds any candidate at all."""
        if self.engine == "all":
            return True
        if self.engine == "python":
            return bool(self._python_hits(data, 0, len(data)))
        return bool(self._hits(data, 0, len(data)))


def all_lines(buf: Buffer, lo: int, hi: int) -> list[int]:
    out = []
    pos = lo
    while pos < hi:
        out.append(pos)
        nl = buf.find(b"\n", pos, hi)
        if nl < 0:
            break
        pos = nl + 1
    return out


def count_nl(buf: Buffer, lo: int, hi: int) -> int:
    if hi - lo < 65536:
        return buf[lo:hi].count(b"\n")
    import numpy as np

    arr = np.frombuffer(memoryview(buf)[lo:hi], dtype=np.uint8)  # type: ignore[arg-type]
    return int(np.count_nonzero(arr == 10))
