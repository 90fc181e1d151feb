"""Auditing existing logs for credentials (``jwtobs scan``) and writing redacted copies (``jwtobs scrub``).

Both run the real scrubber (:mod:`jwtobs.redact.scrub`) on every line that might hold a credential, and
only on those: a prefilter finds the candidate lines in large blocks of raw bytes first.

* **Prefilter.** The trigger expressions below are a superset of every detector of
  :mod:`jwtobs.redact.patterns`: a line the scrubber would change always matches one of them (the test suite
  checks it against scrubbing every line). They are built from the detectors' own name lists (secret stems,
  query parameter names) and keep only the benign field names that ``patterns.NOT_SECRET`` still excludes,
  so a change there can only make the prefilter looser, never miss a detection. With the optional
  ``hyperscan`` package (``pip install 'jwtobs[scan]'``) they run as one multi-pattern automaton over
  16 MiB blocks on two threads (the engine releases the GIL); without it a pure-Python engine looks for
  keywords in each block and then runs the same expressions, with Python's ``re``, on the lines containing
  one (correct, about an order of magnitude slower).
* **Findings.** A candidate line is scrubbed; each *new* redaction marker in the output (one not already in
  the input line) is a finding ``file:line:kind:fingerprint``. The fingerprint is the keyed token
  fingerprint of the current configuration (``JWTOBS_FINGERPRINT_KEY``), so it equals the ``token_fp`` of
  the validation event of the same token. Neither the token nor the line is ever printed.
* **Long lines.** A line longer than ``long_line`` (16 MiB) is never held whole: it is scrubbed in windows
  of 1 MiB with 64 KiB of context on each side. A window is committed only up to a cut just after whitespace
  (or, in text without any, after ``, ; & } >``) where scrubbing the text before the cut gives a prefix of
  scrubbing the window, i.e. no credential (nor its header name) spans the cut. When no such cut exists (a
  credential longer than the context) the window fails closed: ``[REDACTION_FAILED]`` up to the next
  whitespace, reported as a finding of kind ``redaction_failed``; the text is never emitted.
* **Input.** Plain files and gzip (by magic bytes), read in 16 MiB blocks (read, not memory-mapped: a log
  truncated while it is scanned cannot kill the process), directories (recursively, following symlinks to
  directories once each: loops end), invalid UTF-8 (decoded with surrogateescape, so a scrubbed copy is
  byte-identical outside the markers). Binary files are skipped unless asked for. Every problem (missing
  path, permission, truncated or corrupt gzip, symlink loop) is a :class:`ScanProblem` with a clear message,
  never a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import re
import stat
import sys
import threading
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, Final, Protocol

from jwtobs.redact import patterns as p
from jwtobs.redact.scrub import Scrubber

__all__ = [
    "ENGINES",
    "Finding",
    "Prefilter",
    "ScanProblem",
    "ScanReport",
    "Scanner",
    "default_engine",
    "iter_files",
    "scrub_file",
]

BLOCK: Final = 16 << 20  # bytes prefiltered at once
LONG_LINE: Final = 16 << 20  # lines longer than this are scrubbed in windows
WINDOW: Final = 1 << 20  # characters committed per window of a long line
CONTEXT: Final = 64 << 10  # characters of context before and lookahead after each window
_PIECE: Final = 1 << 20  # bytes read at once from a long line
_SNIFF: Final = 8192  # bytes looked at to tell binary files
_MAX_DEPTH: Final = 64  # directory recursion bound
FAILED_KIND: Final = "redaction_failed"
STDIN: Final = "-"  # the path that reads standard input (scan only)



# -- the prefilter's trigger expressions (valid for Hyperscan and for Python's re) ----------------------------
_NAME: Final = r"[A-Za-z0-9_\-]"
# JWS/JWE: a header of 8+ base64url characters starting "ew"/"ey" (the only starts of a JSON object header,
# see patterns.is_header), then two more dot-separated segments; padding and dots possibly percent-encoded.
# Case-sensitive; no condition on what precedes (tokens glued to words or escapes are found too).
_PAD: Final = r"(?:=|%3[dD]){0,2}"
_DOT: Final = r"(?:\.|%2[eE])"
_T_JOSE: Final = r"e[wy]" + _NAME + r"{6,}" + _PAD + _DOT + _NAME + r"*" + _PAD + _DOT
# "Name: value" forms: the separator of patterns._SEP up to the value.
_T_SEP: Final = r"""(?:\\?["'])?[ \t]*(?:[:=]|,)"""
_T_AUTH: Final = r"authorization" + _T_SEP
_T_COOKIE: Final = r"cookie" + _T_SEP
_T_SCHEME: Final = r"(?:bearer|basic|dpop)[ \t]+[A-Za-z0-9\-._~+/]{8}"
# URL userinfo: ":password@" (a URL_USERINFO match always holds one). Without the "://" it needs: that literal
# is in every referrer and issuer URL and made this the costliest expression (a third of the automaton's time).
_T_USERINFO: Final = r""":[^\s/@"'<>]*@"""
# An OAuth code in a form body ("code=..." outside a query string).
_T_FORM_CODE: Final = r"code(?:=|%3[dD])"
# The Kelvin sign lower-cases to an ASCII "k" ("TO\u212aEN", "COO\u212aIE"): any line holding one is scrubbed.
_T_KELVIN: Final = r"\xe2\x84\xaa"
# Last components of field names that name no secret ("token_fp", "session_state"...). Only those that
# patterns.NOT_SECRET still excludes are used (checked when the expressions are built).
_BENIGN_CANDIDATES: Final = (
    "fp fingerprint hash type types count len length bytes ttl expire expires expire_in expires_in expire_at "
    "expires_at exp iat nbf kind sink reason outcome endpoint endpoints url uri path method methods alg algs "
    "algorithm algorithms supported format name names header headers limit max min size lifetime timeout "
    "scheme schemes required enabled mode status state"
).split()


def _complement(words: Iterable[str]) -> str:
    """A regex matching any ``[A-Za-z0-9]*`` word that is not one of ``words`` (lower case, caseless use)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node["$"] = True
    any_tail = "[A-Za-z0-9]*"

    def rec(node: dict[str, Any]) -> str:
        kids = sorted(k for k in node if k != "$")
        alts = [] if "$" in node else [""]  # the word may end here unless it is one of the words
        other = "".join(re.escape(k) + re.escape(k.upper()) if k.isalpha() else re.escape(k) for k in kids)
        alts.append(f"[^{other}\\W_]{any_tail}" if other else f"[A-Za-z0-9]{any_tail}")
        for k in kids:
            alts.append(f"[{k}{k.upper()}]" + rec(node[k]) if k.isalpha() else re.escape(k) + rec(node[k]))
        return "(?:" + "|".join(alts) + ")"

    return rec(trie)


def _benign_words() -> list[str]:
    return [w for w in _BENIGN_CANDIDATES if "_" not in w and p.NOT_SECRET.match("x_" + w)]


def _field_trigger(stem: str) -> str:
    benign = _benign_words()
    tail = r"(?:(?:[_\-][A-Za-z0-9]*)*[_\-]" + _complement(benign) + ")?"
    return stem + r"[A-Za-z0-9]*" + tail + _T_SEP


def _query_trigger(names: str) -> str:
    # (without the delimiter before the name, which makes the automaton 20x slower to build)
    return names + r"(?:=|%3[dD])"


@dataclass(frozen=True)
class Trigger:
    name: str
    expr: str
    caseless: bool
    multiline: bool = False


def triggers() -> tuple[Trigger, ...]:
    """The prefilter's expressions, built from the current detectors' name lists."""
    stem, names = p._SECRET_STEM, p._QUERY_NAMES
    return (
        Trigger("jose", _T_JOSE, caseless=False),
        Trigger("authorization", _T_AUTH, caseless=True),
        Trigger("cookie", _T_COOKIE, caseless=True),
        Trigger("scheme", _T_SCHEME, caseless=True),
        Trigger("userinfo", _T_USERINFO, caseless=False),
        Trigger("query", _query_trigger(names), caseless=True),
        Trigger("field", _field_trigger(stem), caseless=True),
        Trigger("form_code", _T_FORM_CODE, caseless=True),
        Trigger("kelvin", _T_KELVIN, caseless=False),
    )


# The pure-Python engine's first pass: lower-case keywords, one of which every line matching a header, scheme,
# query or field trigger contains (every secret stem alternative contains one of _STEM_WORDS; each query name
# is followed by "=" or "%3d"; URL userinfo holds "@"), plus an expression on the raw bytes for JOSE headers.
# A stem hit inside a name whose last part is benign ("token_fp") makes no candidate, as in the field trigger.
_BASE_KEYWORDS: Final = (
    b"authorization",
    b"cookie",
    b"bearer",
    b"basic",
    b"dpop",
    b"code=",
    b"%3d",
    b"@",  # URL userinfo
    b"\xe2\x84\xaa",
)
#: words one of which every secret-stem match of patterns._STEMS contains (each entry's gate words hold one;
#: tests/redact/test_scan.py's engine-equivalence test fails when a new stem is not covered)
_STEM_WORDS: Final = (b"token", b"secret", b"pass", b"pwd", b"key", b"session", b"credential", b"dpop", b"assertion")
_NAME_RUN: Final = re.compile(rb"[a-z0-9_\-]*")
# (one expression each: an alternation would lose the literal-prefix search of Python's re, 7x slower)
_RAW_JOSE: Final = re.compile(rb"e[wy][A-Za-z0-9_\-]{6}")


def _keywords() -> tuple[bytes, ...]:
    names = p._QUERY_NAMES
    stems = _STEM_WORDS
    words = set(_BASE_KEYWORDS) | set(stems)
    for name in names.lower().removeprefix("(?:").removesuffix(")").split("|"):
        if any(w.decode() in name for w in stems):
            continue
        if not re.fullmatch(r"[a-z_\-]+", name):  # not a plain name: its longest word alone
            name = max(re.findall(r"[a-z]+", name) or [name], key=len)
            words.add(name.encode())
            continue
        words.update((name.encode() + b"=", b"%3d"))
    # a keyword holding another (non-stem) keyword adds nothing: one pass over the block fewer
    plain = words - set(stems)
    return tuple(sorted(w for w in words if not any(o != w and o in w for o in plain)))


class _Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Writer(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


class _Buffer(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def rfind(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def __getitem__(self, key: slice) -> bytes: ...
    def __len__(self) -> int: ...


# -- prefilter engines -----------------------------------------------------------------------------------------
def _have_hyperscan() -> bool:
    try:
        import hyperscan  # noqa: F401
    except Exception:  # not installed, or no build for this CPU
        return False
    return True


ENGINES: Final = ("hyperscan", "python", "all")


def default_engine() -> str:
    return "hyperscan" if _have_hyperscan() else "python"


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
        self._keywords = _keywords()
        self._stem_keywords = frozenset(_STEM_WORDS)
        self._benign = frozenset(w.encode() for w in _benign_words())
        self._db: Any = None
        #: why the default engine could not be used (the CLI prints it), or None
        self.note: str | None = None
        if engine == "hyperscan":
            import hyperscan

            try:
                self._db = _hyperscan_db(trig)
            except Exception as e:  # an expression Hyperscan cannot compile (a detector changed shape)
                if asked is not None:
                    raise
                self.engine = "python"
                self.note = f"hyperscan could not compile the triggers ({e}); using the slower Python prefilter"
            else:
                self._scratch = hyperscan.Scratch(self._db)

    # Offsets (within [lo, hi)) at which a trigger matched; for "python", any offset of each candidate line.
    def _hits(self, buf: _Buffer, lo: int, hi: int) -> list[int]:
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
            return _all_lines(buf, lo, hi)
        return self._python_hits(buf, lo, hi)

    def _python_hits(self, buf: _Buffer, lo: int, hi: int) -> list[int]:
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
        for m in _RAW_JOSE.finditer(buf[lo:hi]):
            pos = m.start()
            s = low.rfind(b"\n", 0, pos) + 1
            if s not in lines:
                e = low.find(b"\n", pos)
                lines[s] = len(low) if e < 0 else e
        return [lo + s for s in sorted(lines)]

    def _benign_tail(self, low: bytes, pos: int, end: int) -> bool:
        """The field name going on at ``pos`` (just after a secret stem) ends in a benign part ("_fp",
        "_type"...): the field trigger's condition, so such a hit makes no line a candidate."""
        m = _NAME_RUN.match(low, pos, end)
        tail = m.group(0) if m else b""
        k = max(tail.rfind(b"_"), tail.rfind(b"-"))
        return k >= 0 and tail[k + 1 :] in self._benign

    def lines(self, buf: _Buffer, lo: int, hi: int) -> tuple[int, list[tuple[int, int, int]]]:
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
            line += _count_nl(buf, last, s)
            last = s
            out.append((line, s, e))
            end = e + 1
        total = line + _count_nl(buf, last, hi)
        return total, out

    def any(self, data: bytes) -> bool:
        """Whether ``data`` holds any candidate at all."""
        if self.engine == "all":
            return True
        if self.engine == "python":
            return bool(self._python_hits(data, 0, len(data)))
        return bool(self._hits(data, 0, len(data)))


_DB_CACHE: dict[str, Any] = {}


def _hyperscan_db(trig: tuple[Trigger, ...]) -> Any:
    """The compiled database of ``trig``: built once per process, and kept serialized in the user's cache
    directory (building it takes ~0.3 s, loading it ~1 ms). Any cache problem just means building it."""
    import hashlib

    import hyperscan

    flags = [
        (hyperscan.HS_FLAG_CASELESS if t.caseless else 0) | (hyperscan.HS_FLAG_MULTILINE if t.multiline else 0)
        for t in trig
    ]
    exprs = [t.expr.encode() for t in trig]
    version = getattr(hyperscan, "__version__", "")
    key = hashlib.sha256(repr((exprs, flags, version)).encode()).hexdigest()[:24]
    db = _DB_CACHE.get(key)
    if db is not None:
        return db
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "jwtobs", f"scan-{key}.hsdb")
    try:
        with open(path, "rb") as f:
            db = hyperscan.loadb(f.read(), hyperscan.HS_MODE_BLOCK)
    except Exception:
        db = None
    if db is None:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=list(range(len(trig))), flags=flags)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(hyperscan.dumpb(db))
            os.replace(tmp, path)
        except OSError:
            pass
    _DB_CACHE[key] = db
    return db


def _all_lines(buf: _Buffer, lo: int, hi: int) -> list[int]:
    out = []
    pos = lo
    while pos < hi:
        out.append(pos)
        nl = buf.find(b"\n", pos, hi)
        if nl < 0:
            break
        pos = nl + 1
    return out


def _count_nl(buf: _Buffer, lo: int, hi: int) -> int:
    if hi - lo < 65536:
        return buf[lo:hi].count(b"\n")
    import numpy as np

    arr = np.frombuffer(memoryview(buf)[lo:hi], dtype=np.uint8)  # type: ignore[arg-type]
    return int(np.count_nonzero(arr == 10))


# -- findings, problems, report --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    kind: str
    fingerprint: str

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.kind}:{self.fingerprint}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "kind": self.kind, "fingerprint": self.fingerprint}


class ScanProblem(Exception):
    """A path that could not be (fully) read; the message says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass
class ScanReport:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_file: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return sum(self.by_kind.values())

    def add(self, f: Finding) -> None:
        self.by_kind[f.kind] += 1
        self.by_file[f.path] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "lines": self.lines,
            "findings": self.findings,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_file": dict(sorted(self.by_file.items())),
            "skipped": [{"path": a, "reason": b} for a, b in self.skipped],
            "errors": [{"path": e.path, "message": e.message} for e in self.problems],
        }


def _new_markers(before: str, after: str) -> list[tuple[str, str]]:
    """Markers in ``after`` that are not in ``before`` (``(kind, fingerprint)``, in order)."""
    if "[REDACT" not in after:
        return []
    old = Counter(m.group(0) for m in p.FINDING.finditer(before)) if "[REDACT" in before else Counter[str]()
    out = []
    for m in p.FINDING.finditer(after):
        if old[m.group(0)] > 0:
            old[m.group(0)] -= 1
            continue
        out.append((m.group(1), m.group(2)) if m.group(1) else (FAILED_KIND, "-"))
    return out


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_WHITESPACE = re.compile(r"\s")


# -- long lines ------------------------------------------------------------------------------------------------
class _Windowed:
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
        if not text or not self._pf.any(_encode(text)):
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
        return out, _new_markers(rest, out)

    def _skip_failed(self, limit: int) -> bool:
        """Drop the rest of a failed region up to the next whitespace before ``limit``; True when it ended."""
        ws = _WHITESPACE.search(self._buf, self._commit, limit)
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
        full = self._scrub(buf[: target + self.context])
        for cut in self._cuts(buf, commit, target):
            pre = self._scrub(buf[:cut])
            if pre.startswith(self._prefix_out) and full.startswith(pre):
                out = pre[len(self._prefix_out) :]
                break
        else:  # no clean cut: never emit the text, up to the next whitespace (the rest of the credential)
            ws = _WHITESPACE.search(buf, target, target + self.context)
            cut = ws.start() if ws else target + self.context
            out = p.FAILED
            self._failing = ws is None
        new = _new_markers(buf[commit:cut], out)
        start = max(0, cut - self.context)
        self._buf = buf[start:]
        self._commit = cut - start
        self._prefix_out = self._scrub(self._buf[: self._commit])
        return out, new

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
class _Long:
    """A line too long to hold whole: ``pieces`` yields its bytes (without the newline) in bounded pieces."""

    pieces: Iterator[bytes]
    newline: list[bool]  # set to [True] once the line's newline was seen


Item = tuple[_Buffer, int, int] | _Long


class _StreamItems:
    """Blocks of whole lines read from a binary stream (a file, gzip) as ``(bytes, lo, hi)`` items, without
    copying a block to join lines: the line split by a block boundary comes as a small item of its own. A
    line longer than ``long_line`` comes as a :class:`_Long` whose pieces must be consumed before the next
    item is asked for. Reading (not memory-mapping) keeps a file truncated while it is scanned (logrotate's
    copytruncate) from killing the process with SIGBUS."""

    def __init__(self, f: _Reader, block: int, long_line: int) -> None:
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
        while True:
            data = self._read()
            if not data:
                if carry:
                    yield (carry, 0, len(carry))
                return
            start = 0
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
                    yield _Long(self._long_pieces(parts, flag, more=nl < 0), flag)
                    carry = b""
                    continue
                head = carry + data[: nl + 1]
                carry = b""
                yield (head, 0, len(head))
                start = nl + 1
            last = data.rfind(b"\n", start)
            if last < 0:
                carry = data[start:]
                continue
            yield (data, start, last + 1)
            carry = data[last + 1 :]

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


def _is_gzip(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b"


def _is_binary(head: bytes) -> bool:
    return b"\0" in head


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
            problems.append(ScanProblem(d, _os_message(e)))
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
            problems.append(ScanProblem(d, _os_message(e)))
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
                problems.append(ScanProblem(entry.path, _os_message(e)))

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
            problems.append(ScanProblem(path, _os_message(e)))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from walk(path, 0)
        elif stat.S_ISREG(st.st_mode):
            if once(path, st):
                yield path
        else:
            problems.append(ScanProblem(path, "not a regular file or directory"))


def _os_message(e: OSError) -> str:
    import errno

    if e.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop)"
    if e.errno == errno.ENOENT:
        return "no such file or directory"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return e.strerror or str(e)


# -- the scanner -----------------------------------------------------------------------------------------------
class Scanner:
    """Scans files for credentials. One per run; ``engine`` and the sizes are decided here."""

    def __init__(
        self,
        engine: str | None = None,
        *,
        threads: int = 2,
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
        self.line_count = 0  # newline-terminated lines of the last file read by lines()

    def _scrub(self, text: str) -> str:
        out = self._scrubber.text(text)
        return out if isinstance(out, str) else p.FAILED

    # -- opening ---------------------------------------------------------------------------------------------
    def _items(self, path: str, f: IO[bytes], head: bytes) -> tuple[Iterator[Item], Callable[[], int]]:
        """The items of an opened file and a function telling how many input bytes were consumed."""
        reader: _Reader = gzip.GzipFile(fileobj=f, mode="rb") if _is_gzip(head) else f
        consumed: Callable[[], int] = (lambda: 0) if path == STDIN else f.tell
        return iter(_StreamItems(reader, self.block, self.long_line)), consumed

    def open(self, path: str) -> tuple[IO[bytes], bytes]:
        if path == STDIN:  # not seekable: peek at the head
            stdin = sys.stdin.buffer
            peek = getattr(stdin, "peek", None)
            data = peek(_SNIFF)[:_SNIFF] if callable(peek) else b""
            return stdin, data
        try:
            f = open(path, "rb")
        except OSError as e:
            raise ScanProblem(path, _os_message(e)) from None
        try:
            head = f.read(_SNIFF)
            f.seek(0)
        except OSError as e:
            f.close()
            raise ScanProblem(path, _os_message(e)) from None
        return f, head

    # -- lines -----------------------------------------------------------------------------------------------
    def lines(
        self, path: str, f: IO[bytes], head: bytes, progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[int, bytes | memoryview, str | None, list[tuple[str, str]]]]:
        """``(line number, raw line or piece, scrubbed text or None when unchanged, new markers)`` for every
        line (raw bytes include the newline). Long lines come as several tuples with the same number."""
        items, consumed = self._items(path, f, head)
        line = 1
        open_line = False  # the last line read has no newline (yet)
        try:
            for kind, payload in self._pipeline(items):
                if kind == "long":
                    long = payload
                    yield from self._long(line, long)
                    line += 1
                    open_line = not long.newline[0]
                    continue
                buf, lo, hi, nls, cands = payload
                open_line = hi > lo and buf[hi - 1 : hi] != b"\n"
                view = memoryview(buf)
                pos = lo
                for idx, s, e in cands:
                    if s > pos:
                        yield (-1, view[pos:s], None, [])
                    raw_end = e + 1 if e < hi else e
                    raw = buf[s:raw_end]
                    text = _decode(buf[s:e])
                    out = self._scrub(text)
                    if out == text:
                        yield (-1, raw, None, [])
                    else:
                        yield (line + idx, raw, out + ("\n" if raw_end > e else ""), _new_markers(text, out))
                    pos = raw_end
                if pos < hi:
                    yield (-1, view[pos:hi], None, [])
                line += nls
                if progress is not None:
                    progress(consumed())
            self.line_count = line - 1 + (1 if open_line else 0)
        except EOFError:
            raise ScanProblem(path, f"truncated gzip stream (ends after line {line - 1})") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise ScanProblem(path, f"corrupt gzip data after line {line - 1}: {e}") from None
        except OSError as e:
            raise ScanProblem(path, f"read error after line {line - 1}: {_os_message(e)}") from None

    def _long(
        self, line: int, long: _Long
    ) -> Iterator[tuple[int, bytes | memoryview, str | None, list[tuple[str, str]]]]:
        w = _Windowed(self._scrub, self.prefilter, self.window, self.context)
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

        def work(it: tuple[_Buffer, int, int]) -> tuple[_Buffer, int, int, int, list[tuple[int, int, int]]]:
            buf, lo, hi = it
            nls, cands = self.prefilter.lines(buf, lo, hi)
            return buf, lo, hi, nls, cands

        if self.threads <= 1:
            for it in items:
                yield ("long", it) if isinstance(it, _Long) else ("block", work(it))
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="jwtobs-scan") as pool:
            pending: deque[Future[Any]] = deque()
            for it in items:
                if isinstance(it, _Long):
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
            if _is_binary(head) and not _is_gzip(head) and not self.include_binary:
                report.skipped.append((path, "binary file (use --binary to scan it)"))
                return
            report.files += 1
            for line, raw, _out, new in self.lines(path, f, head, progress):
                report.bytes += len(raw)
                for kind, fp in new:
                    yield Finding(path, line, kind, fp)
            report.lines += self.line_count

    def scan(
        self, paths: Iterable[str], report: ScanReport, progress: Callable[[int], None] | None = None
    ) -> Iterator[Finding]:
        for path in iter_files(paths, report.problems):
            try:
                yield from self.scan_file(path, report, progress)
            except ScanProblem as e:
                report.problems.append(e)


def scrub_file(
    src: str,
    dst: str,
    *,
    force: bool = False,
    engine: str | None = None,
    scanner: Scanner | None = None,
    include_binary: bool = False,
) -> ScanReport:
    """Write a redacted copy of ``src`` to ``dst`` (gzip when ``dst`` ends with ``.gz``); never in place.

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
        raise ScanProblem(src, _os_message(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise ScanProblem(src, "is a directory (scrub copies one file; use scan for directories)")
    if not stat.S_ISREG(st.st_mode):
        raise ScanProblem(src, "not a regular file")
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
        if not force:
            raise ScanProblem(dst, "exists (use --force to overwrite)")
    out_dir = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(out_dir):
        raise ScanProblem(dst, "the output directory does not exist")
    f, head = sc.open(src)
    with f:
        if _is_binary(head) and not _is_gzip(head) and not sc.include_binary:
            raise ScanProblem(src, "binary file, not copied (use --binary to scrub it anyway)")
        tmp = os.path.join(out_dir, f".{os.path.basename(dst)}.jwtobs-{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as raw_out:
                out: _Writer = raw_out
                gz: gzip.GzipFile | None = None
                if dst.endswith(".gz"):
                    gz = gzip.GzipFile(filename=os.path.basename(dst)[:-3], mode="wb", fileobj=raw_out, mtime=0)
                    out = gz
                report.files = 1
                for line, raw, text, new in sc.lines(src, f, head):
                    report.bytes += len(raw)
                    out.write(raw if text is None else _encode(text))
                    for kind, fp in new:
                        report.add(Finding(src, line, kind, fp))
                if gz is not None:
                    gz.close()
            os.replace(tmp, dst)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    return report
