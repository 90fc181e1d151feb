"""Auditing existing logs for credentials (``jwtobs scan``) and writing redacted copies (``jwtobs scrub``).

Both run the real scrubber (:mod:`jwtobs.redact.scrub`) on every line that might hold a credential, and
only on those: a prefilter finds the candidate lines in large blocks of raw bytes first.

* **Prefilter.** The trigger expressions below are a superset of every detector of
  :mod:`jwtobs.redact.patterns`: a line the scrubber would change always matches one of them (the test suite
  checks it against scrubbing every line). They are built from the detectors' own name lists (secret stems,
  query parameter names) and keep only the benign field names that ``patterns.NOT_SECRET`` still excludes,
  so a change there can only make the prefilter looser, never miss a detection. With the optional
  ``hyperscan`` package (``pip install 'jwtobs[scan]'``) they run as one multi-pattern automaton over
  16 MiB blocks (``Scanner(threads=N)`` runs it on worker threads); without it a pure-Python engine looks for
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
* **Input.** Plain files, gzip, bzip2 and xz (by magic bytes), read in 16 MiB blocks (read, not memory-mapped: a log
  truncated while it is scanned cannot kill the process), directories (recursively, following symlinks to
  directories once each: loops end), invalid UTF-8 (decoded with surrogateescape, so a scrubbed copy is
  byte-identical outside the markers). Binary files are skipped unless asked for. Every problem (missing
  path, permission, truncated or corrupt compressed data, a compression it does not read, symlink loop) is a
  :class:`ScanProblem` with a clear message, never a traceback.

The modules, one concern each:

* :mod:`~jwtobs.redact.scan.rules` — the trigger expressions and keywords (built from the detectors);
* :mod:`~jwtobs.redact.scan.prefilter` — the engines that find candidate lines in a block of bytes, and
  :mod:`~jwtobs.redact.scan.hyperscan_engine` — the optional Hyperscan automaton;
* :mod:`~jwtobs.redact.scan.windowed` — reading blocks of whole lines, long lines in windows;
* :mod:`~jwtobs.redact.scan.walk` — files, directories, standard input, file kinds, OS errors;
* :mod:`~jwtobs.redact.scan.report` — findings, problems, the summary;
* :mod:`~jwtobs.redact.scan.scanner` — the scanner and the redacted copy.
"""

from __future__ import annotations

from jwtobs.redact.scan.prefilter import ENGINES, Prefilter, default_engine
from jwtobs.redact.scan.report import FAILED_KIND, Finding, ScanProblem, ScanReport
from jwtobs.redact.scan.rules import Trigger, triggers
from jwtobs.redact.scan.scanner import Scanner, scrub_file
from jwtobs.redact.scan.walk import STDIN, iter_files
from jwtobs.redact.scan.windowed import BLOCK, CONTEXT, LONG_LINE, WINDOW

__all__ = [
    "BLOCK",
    "CONTEXT",
    "ENGINES",
    "FAILED_KIND",
    "LONG_LINE",
    "STDIN",
    "WINDOW",
    "Finding",
    "Prefilter",
    "ScanProblem",
    "ScanReport",
    "Scanner",
    "Trigger",
    "default_engine",
    "iter_files",
    "scrub_file",
    "triggers",
]
