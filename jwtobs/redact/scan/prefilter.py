"""Finds the lines of a block of raw bytes that may hold a credential (the engines: Hyperscan, pure Python, or
every line), and where those lines are."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from jwtobs.redact import _regex
from jwtobs.redact.scan.fields import (
    MARKED_JUDGEMENTS,
    field_hit_unchanged,
    judged_hit_unchanged,
    unsettled_field_hits,
    xml_hit_unchanged,
)
from jwtobs.redact.scan.hyperscan_engine import have_hyperscan, hyperscan_db
from jwtobs.redact.scan.rules import (
    BLOCK_TRIGGERS,
    FIELD_TRIGGER,
    JUDGED_TRIGGERS,
    VENDOR_TRIGGER,
    XML_TRIGGER,
    block_finders,
    compiled,
    keyword_triggers,
    triggers,
)

#: a block of the input (whole lines read from a file)
Buffer = bytes


ENGINES: Final = ("hyperscan", "python", "all")


def default_engine() -> str:
    return "hyperscan" if have_hyperscan() else "python"


class Prefilter:
    """Finds the lines of a block that may hold a credential.

    ``engine``: ``"hyperscan"`` (fast, optional dependency), ``"python"`` (stdlib only) or ``"all"`` (every
    line is a candidate: slow, the reference the others are checked against). Chosen at construction. Both
    real engines evaluate the same trigger expressions (:func:`~jwtobs.redact.scan.rules.triggers`), so they
    find the same candidate lines, but for one thing: Hyperscan reports where each match ends, so it judges the
    field trigger's hits there (:func:`~jwtobs.redact.scan.fields.field_hit_unchanged`), and a line whose only
    hits are settled field hits (``CBS Session: 30546173_4261722401``) is no candidate; the Python engine leaves
    such a line to the fast path, which passes it over.
    """

    def __init__(self, engine: str | None = None) -> None:
        asked = engine
        engine = engine or default_engine()
        if engine not in ENGINES:
            raise ValueError(f"unknown prefilter engine {engine!r} (one of {', '.join(ENGINES)})")
        self.engine = engine
        self._local = threading.local()
        trig = triggers()
        self._keywords = keyword_triggers()
        # each keyword's triggers in checking order: the others before the judged ones (a line one of the others
        # matches is a plain candidate at once)
        self._order = {
            kw: tuple(sorted(names, key=lambda n: (n in JUDGED_TRIGGERS, n))) for kw, names in self._keywords.items()
        }
        exprs = compiled(trig)
        self._finders = tuple(
            (_regex.compile(finder.encode()), tuple(exprs[n] for n in names if n in exprs))
            for finder, names in block_finders()
        )
        # caseless ones on the lower-cased line (without re.IGNORECASE they keep their literal-prefix search)
        self._line_exprs = {t.name: (exprs[t.name], t.caseless) for t in trig if t.name not in BLOCK_TRIGGERS}
        # by expression id: 0 a plain trigger, 1 a judged one, 2 the field trigger (its hits judged where they are),
        # 3 the XML one (judged too), 4 the vendor-key one (plain, its lines remembered: see vendor_lines), 5 and up
        # the header, cookie, userinfo and command-line ones (plain, but settled where a marker is their value:
        # fields.MARKED_JUDGEMENTS, in that order)
        special = {FIELD_TRIGGER: 2, XML_TRIGGER: 3, VENDOR_TRIGGER: 4}
        special.update({name: 5 + i for i, name in enumerate(MARKED_JUDGEMENTS)})
        self._hit_kinds = tuple(special.get(t.name, 1 if t.name in JUDGED_TRIGGERS else 0) for t in trig)
        self._marked = tuple(MARKED_JUDGEMENTS.values())
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
                self._hyperscan: Any = hyperscan

    def candidates(self, buf: Buffer, lo: int, hi: int) -> list[tuple[int, int]]:
        """``[(start, end), ...]`` of the candidate lines of ``buf[lo:hi]`` in order (``end`` excludes the
        newline; ``lo`` is the start of a line)."""
        return [(s, e) for s, e, _ in self.classified(buf, lo, hi)]

    def classified(self, buf: Buffer, lo: int, hi: int) -> list[tuple[int, int, bool]]:
        """``[(start, end, judged), ...]`` of the candidate lines: ``judged`` when only triggers of
        :data:`~jwtobs.redact.scan.rules.JUDGED_TRIGGERS` matched the line (secret-stem field names, ``code=``,
        query parameter names: :mod:`~jwtobs.redact.scan.fields` judges those lines before the scrubber)."""
        if self.engine == "hyperscan":
            return self._hyperscan_lines(buf, lo, hi)
        if self.engine == "all":
            return [(s, e, False) for s, e in all_lines(buf, lo, hi)]
        return self._python_lines(buf, lo, hi)

    def _thread_scratch(self) -> Any:
        """This thread's Hyperscan scratch space (cloned on first use: a scratch serves one scan at a time)."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        return scratch

    def _hyperscan_lines(self, buf: Buffer, lo: int, hi: int) -> list[tuple[int, int, bool]]:
        scratch = self._thread_scratch()
        hits: list[int] = []
        judged: list[int] = []
        field_hits: list[int] = []
        xml_hits: list[int] = []
        vendor_hits: list[int] = []
        marked: tuple[list[int], ...] = tuple([] for _ in self._marked)
        adds: tuple[Callable[[int], None], ...] = (hits.append, judged.append, field_hits.append, xml_hits.append)
        adds = (*adds, vendor_hits.append, *(m.append for m in marked))
        kinds = self._hit_kinds
        base = lo - 1  # a match's end offset minus one: its last byte, on the line it belongs to

        def on_match(_id: int, _frm: int, to: int, _flags: int, _ctx: object) -> None:
            adds[kinds[_id]](base + to)

        self._db.scan(memoryview(buf)[lo:hi], on_match, 0, None, scratch)  # (positional: cheaper in the binding)
        # a field hit the scrubber cannot act on (``CBS Session: 30546173_42``) makes no candidate line by itself
        judged_hits = [h for h in judged if not judged_hit_unchanged(buf, h, hi)]
        judged_hits += unsettled_field_hits(buf, field_hits, lo, hi)
        if xml_hits:  # an element whose text is a marker (a scrubbed line) neither
            hits += [h for h in xml_hits if not xml_hit_unchanged(buf, h, lo)]
        for found, unchanged in zip(marked, self._marked, strict=True):  # nor a header... valued by a marker
            if found:
                hits += [h for h in found if not unchanged(buf, h, lo, hi)]
        rfind, find = buf.rfind, buf.find
        self._local.vendor = {max(lo, rfind(b"\n", lo, h) + 1) for h in vendor_hits}
        hits += vendor_hits
        lines: dict[int, tuple[int, int, bool]] = {}
        for found, only in ((hits, False), (judged_hits, True)):  # others first: a line they hit is not judged
            found.sort()
            end = lo - 1  # hits up to here are on the last line found
            for h in found:
                if h <= end:
                    continue
                s = rfind(b"\n", lo, h) + 1
                if s < lo:  # (a comparison, not max(): one call less per line)
                    s = lo
                e = find(b"\n", h, hi)
                end = e = hi if e < 0 else e
                if not only or s not in lines:
                    lines[s] = (s, e, only)
        return [lines[s] for s in sorted(lines)]

    def vendor_lines(self) -> set[int]:
        """The starts of the lines a vendor-key prefix hit in the last block this thread classified (Hyperscan;
        empty with another engine): the scanner batches them apart (:func:`~jwtobs.redact.scan.scanner.scrub_batched`),
        since the scrubber reads a whole text for keys once one prefix is in it."""
        return getattr(self._local, "vendor", set()) if self.engine == "hyperscan" else set()

    def settled(self, data: bytes) -> bool:
        """True when no detector of the scrubber can act on ``data`` (one text, as the scrubber's first pass left
        it): every trigger match on it is a field, query-parameter, ``code=`` or XML hit the hit judgements
        settle (:func:`~jwtobs.redact.scan.fields.field_hit_unchanged` and the others: markers are read as the
        detectors read them). One Hyperscan pass that stops at the first other hit; False with another engine."""
        if self.engine != "hyperscan":
            return False
        scratch = self._thread_scratch()
        kinds, end, marked = self._hit_kinds, len(data), self._marked

        def unsettled(_id: int, _frm: int, to: int, _flags: int, _ctx: object) -> bool:  # True stops the scan
            kind, last = kinds[_id], to - 1
            if kind == 2:
                return not field_hit_unchanged(data, last, 0, end)
            if kind == 1:
                return not judged_hit_unchanged(data, last, end)
            if kind == 3:
                return not xml_hit_unchanged(data, last, 0)
            if kind >= 5:
                return not marked[kind - 5](data, last, 0, end)
            return True

        try:
            self._db.scan(data, unsettled, 0, None, scratch)
        except self._hyperscan.ScanTerminated:
            return False
        return True

    def _python_lines(self, buf: Buffer, lo: int, hi: int) -> list[tuple[int, int, bool]]:
        low = buf[lo:hi].lower()  # keyword positions; offsets relative to lo
        n = len(low)
        lines: dict[int, tuple[int, bool]] = {}  # start -> (end, judged triggers only so far) of candidate lines
        checked: dict[int, frozenset[str]] = {}  # start -> triggers a line holding keywords was checked against
        exprs = self._line_exprs
        order = self._order
        for kw, names in self._keywords.items():
            pos = low.find(kw)
            while pos >= 0:
                s = low.rfind(b"\n", 0, pos) + 1
                e = low.find(b"\n", pos)
                e = n if e < 0 else e
                found = lines.get(s)
                if found is None or found[1]:  # not a candidate yet, or by judged triggers only so far
                    done = checked.get(s, frozenset())
                    todo = names - done
                    if todo:
                        raw, low_line = buf[lo + s : lo + e], low[s:e]
                        for name in order[kw]:
                            if name in done:
                                continue
                            judged = name in JUDGED_TRIGGERS
                            if judged and found is not None:
                                break  # a judged candidate already: only the others (checked first) matter
                            rx, caseless = exprs[name]
                            if rx.search(low_line if caseless else raw):
                                lines[s] = (e, judged)
                                break  # a plain candidate; or judged, and the rest of the order is judged too
                        checked[s] = done | todo
                pos = low.find(kw, e)
        for finder, verify in self._finders:
            for m in finder.finditer(buf, lo, hi):
                pos = m.end() - 1 - lo
                s = low.rfind(b"\n", 0, pos) + 1
                found = lines.get(s)
                if found is None or found[1]:
                    e = low.find(b"\n", pos)
                    e = n if e < 0 else e
                    raw = buf[lo + s : lo + e]
                    if any(rx.search(raw) for rx in verify):
                        lines[s] = (e, False)
        return [(lo + s, lo + lines[s][0], lines[s][1]) for s in sorted(lines)]

    def any(self, data: bytes) -> bool:
        """Whether ``data`` holds any candidate at all."""
        return self.engine == "all" or bool(self.candidates(data, 0, len(data)))


def numbered(buf: Buffer, lo: int, hi: int, spans: list[tuple[int, int]]) -> tuple[int, list[tuple[int, int, int]]]:
    """``(newlines in [lo, hi), [(line index in the block, start, end), ...])`` for lines ``spans`` of the
    block (in order): newlines are counted once, up to each line and then to the end."""
    out: list[tuple[int, int, int]] = []
    line = 0
    last = lo
    count = buf.count
    for s, e in spans:
        line += count(b"\n", last, s)
        last = s
        out.append((line, s, e))
    return line + count(b"\n", last, hi), out


def all_lines(buf: Buffer, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    pos = lo
    while pos < hi:
        nl = buf.find(b"\n", pos, hi)
        if nl < 0:
            out.append((pos, hi))
            break
        out.append((pos, nl))
        pos = nl + 1
    return out
