"""The scanner's fast path for lines where only a secret-stem field name matched (``CBS Session: 30546173_42``,
``sessionid: 0x34ede65503f0039``, ``[SessionTracker:ZooKeeperServer@325]``): on real system logs these are
nine in ten candidate lines and almost never hold a credential.

On such a line (the prefilter's ``field`` trigger matched and no other trigger did) no detector of the
scrubber but the secret-named-field one (``patterns.TEXT_FIELDS``) can match: every other detector's match
contains a match of its own trigger (:mod:`~jwtobs.redact.scan.rules`). That detector changes a field only when
its whole name has a strength (:func:`patterns.name_strength`) and its value is judged a credential
(:func:`patterns.is_credential_value`). :func:`may_change` runs the detector's own expressions and the
redactor's own judgements of names and values, and says "unchanged" only when every field match is

* a name that names no secret (``SessionTracker``, ``input_userauth_request``, ``session_reuses``), or
* a weak name (``session``, ``sid``, ``auth``...) whose value is no credential, with nothing after the value
  or at its end that could make the scrubber read on into the next word (a separator, a label, a scheme
  word: then the full scrubber decides).

Anything else (a strong name, a credential-shaped value, a name that is a header, a character whose lower
case changes the length) goes to the full scrubber. ``tests/redact/test_scan_fast.py`` checks
``may_change(line) or scrub(line) == line`` on every line of the real corpora, every pinned leak form and
generated mixes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import Final

from jwtobs.redact import patterns as p

#: Before a field value's end: a separator, or the comma of a ("name", value) pair, may follow (the scrubber
#: then reads whether the value's last word names a secret and takes the next value too).
_SEP_AFTER: Final = re.compile(r"""\\?["']?[ \t]*+[:=,]""")
#: At the value's end: a label (``x=password:``) or an Authorization scheme word (``Bearer``).
_LABEL_END: Final = (":", "=", ",", "bearer", "basic", "dpop", "digest", "negotiate", "token")


def may_change(text: str) -> bool:
    """False only when scrubbing ``text`` (a line on which the prefilter matched only secret-stem field names)
    cannot change it; True when the full scrubber has to decide."""
    return bool(lines_that_may_change([text]))


def lines_that_may_change(lines: list[str]) -> set[int]:
    """The indices of ``lines`` (each as for :func:`may_change`) that scrubbing may change, found in one pass of
    each expression over the lines joined by newlines (no field match spans a newline: names, separators and
    values exclude it), so the per-line cost is the work per field match, not a dozen calls per line."""
    if not lines:
        return set()
    text = "\n".join(lines)
    low = text.lower()
    if len(low) != len(text):  # the scrubber then lower-cases ASCII letters only: it decides those lines
        return {i for i, line in enumerate(lines) if len(line.lower()) != len(line) or may_change(line)}
    starts = [0, *accumulate(len(line) + 1 for line in lines[:-1])]
    out: set[int] = set()
    name_before, strength_of, header_kind, is_credential = (
        p.name_before,
        p.name_strength,
        p.header_kind,
        p.is_credential_value,
    )
    weak, sep_after = p.WEAK, _SEP_AFTER.match
    for word, _words, pattern in p.TEXT_FIELDS:
        if word not in low:
            continue
        for m in pattern.finditer(low):
            start = m.start()
            name = text[start - len(name_before(low, start)) : m.end("suffix")]
            strength = strength_of(name)
            if not strength:
                continue  # names no secret: SessionTracker, input_userauth_request, session_reuses
            if strength == weak and header_kind(name) is None:
                # the value: the last group of the match (dq, sq, eq or bare)
                v_start, v_end = m.span(m.lastgroup or 0)
                value = text[v_start:v_end]
                if (
                    not is_credential(value, weak)
                    and not value.lower().rstrip(" \t").endswith(_LABEL_END)
                    and sep_after(text, v_end) is None
                ):
                    continue  # session: 30546173_4261722401, sessionid: 0x34ede65503f0039, sid:2
            out.add(bisect_right(starts, start) - 1)
    return out
