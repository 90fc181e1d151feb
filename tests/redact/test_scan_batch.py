"""The scanner scrubs a block's candidate lines in batches (:func:`jwtobs.redact.scan.scanner.scrub_batched`): the
lines joined by ``BATCH_SEP``, one scrubber pass, split again, a second batched pass over the changed lines the
prefilter still hits. It must give, line for line, what scrubbing each line alone gives: checked on every line of
the real corpora, every pinned leak form, thousands of mixes of them (raw and scrubbed, in shuffled batches),
texts a detector would read across a newline, noise, and when a batch fails."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwtobs import config
from jwtobs.redact import scan
from jwtobs.redact import scrub as scrub_text
from jwtobs.redact.scan import scanner as scanner_mod
from jwtobs.redact.scan.scanner import scrub_batched
from jwtobs.redact.scrub import FAILED, Scrubber
from tests.redact.test_properties import noise
from tests.redact.test_scan import ENGINES, _form_lines, _scanlog
from tests.redact.test_scan_fast import NEEDS_SECOND, _mixes

KEY = "scan-batch-test-fingerprint-key"


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()


def _batched(sc: scan.Scanner, texts: list[str]) -> list[str]:
    return scrub_batched(sc._scrubber, sc.prefilter, texts, sc._scrub)


def _differences(sc: scan.Scanner, texts: list[str]) -> list[tuple[str, str, str]]:
    """(line, alone, in the batch) of every line whose batched scrub differs from its scrub alone."""
    alone = [sc._scrub(t) for t in texts]
    together = _batched(sc, texts)
    assert len(together) == len(texts)
    return [(t, a, b) for t, a, b in zip(texts, alone, together, strict=True) if a != b]


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    scanlog = _scanlog()
    return [line.decode("utf-8", "surrogateescape") for lines in scanlog.real_lines() for line in lines]


@pytest.mark.parametrize("engine", ENGINES)
def test_batched_equals_alone_on_every_real_line(real_lines: list[str], engine: str) -> None:
    sc = scan.Scanner(engine)
    assert _differences(sc, real_lines) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_batched_equals_alone_on_forms_and_mixes(real_lines: list[str], engine: str) -> None:
    """Every pinned form, texts whose second pass changes them, mixes of forms and real lines joined by many
    separators, and the scrubbed copies of all these, in shuffled batches of real lines (so each line has many
    different neighbours)."""
    forms = [line.replace("\n", " ") for line in _form_lines()]
    pool = forms + random.Random(4).sample(real_lines, 300)
    texts = forms + NEEDS_SECOND + _mixes(3000 if engine == "hyperscan" else 1000, 7, pool)
    texts += [str(scrub_text(t)) for t in texts[::5]]
    texts += random.Random(8).sample(real_lines, 3000)
    sc = scan.Scanner(engine)
    changed = 0
    for seed in range(2):
        batch = list(texts)
        random.Random(seed).shuffle(batch)
        assert _differences(sc, batch) == []
        changed = sum(scrub_text(t) != t for t in batch)
    assert changed > 500  # the batches did redact


def test_nothing_is_read_across_the_lines_of_a_batch() -> None:
    """Lines that a detector would read as one text if they were joined by a newline alone: an XML element whose
    attributes or text run over the line end (the one detector class that takes a newline), names at a line's end
    and values at the next one's start, a lower case longer than its character (U+0130) next to a name that
    lower-cases to ASCII (the Kelvin sign): each line is scrubbed as it is alone."""
    pairs = [
        ["<password a", "b>S3cr3t!pa55-w0rd</password>"],
        ["<password>", "S3cr3t!pa55-w0rd</password>"],
        ["<client_secret>S3cr3t", "pa55-w0rd</client_secret>"],
        ["Authorization:", "Bearer abcdefghijklmnop1234"],
        ["password =", "hunter2-S3cr3t"],
        ['{"password":', '"S3cr3t!pa55-w0rd"}'],
        ["Cookie:", "session=abcdef0123456789"],
        ["Bearer", "abcdefghijklmnop1234"],
        ["sshpass -p", "S3cr3t!pa55 ssh host"],
        ["GET /cb?access_token=", "abcdefghijklmnop1234"],
        ["eyJhbGciOiJIUzI1NiJ9.", "eyJzdWIiOiJ4In0.c2lnbmF0dXJlX2J5dGVz"],
        ["\u0130stanbul office", "Coo\u212aie: a=bcdefghijkl1234"],  # (U+212A KELVIN SIGN lower-cases to "k")
        ["\u0130stanbul office", "GET /cb?access_to\u212aen=S3cr3tpa55w0rdvalue1"],
        ["user=İlker passwd=S3cr3t!pa55-w0rd", "x"],
    ]
    for engine in ENGINES:
        sc = scan.Scanner(engine)
        for pair in pairs:
            assert _differences(sc, pair) == [], pair
            assert _differences(sc, [*pair, "token=S3cr3tpa55w0rdvalue1", *pair]) == [], pair
    # the reason for the "<" in the separator: joined by a newline alone, an element runs over the line end
    joined = str(scrub_text("<password a\nb>S3cr3t!pa55-w0rd</password>"))
    assert joined.split("\n")[1] != "b>S3cr3t!pa55-w0rd</password>"
    assert scrub_text("b>S3cr3t!pa55-w0rd</password>") == "b>S3cr3t!pa55-w0rd</password>"


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(noise, st.text()), min_size=2, max_size=12))
def test_batched_equals_alone_on_noise(texts: list[str]) -> None:
    """Any lines (the redaction property tests' noise of keywords, separators, quotes and half markers)."""
    lines = [t.replace("\n", " ") for t in texts]
    for sc in _SCANNERS:
        assert _differences(sc, lines) == []


_SCANNERS = [scan.Scanner(engine) for engine in ENGINES]


def test_a_failing_batch_is_scrubbed_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose pass fails (the scrubber's ``[REDACTION_FAILED]``) or does not split into its lines is
    scrubbed line by line: the same lines, a failure confined to the line that fails."""
    lines = ["password=S3cr3t!pa55-w0rd", "nothing here", "Authorization: Bearer abcdefghijklmnop1234"] * 3
    sc = scan.Scanner(ENGINES[0])
    alone = [sc._scrub(t) for t in lines]
    real_text = Scrubber.text

    def failing(self: Scrubber, text: Any, **kw: Any) -> Any:
        if isinstance(text, str) and scanner_mod.BATCH_SEP in text:
            return FAILED
        return real_text(self, text, **kw)

    monkeypatch.setattr(Scrubber, "text", failing)
    assert _batched(sc, lines) == alone

    def merging(self: Scrubber, text: Any, **kw: Any) -> Any:
        out = real_text(self, text, **kw)
        return out.replace(scanner_mod.BATCH_SEP, " ", 1) if isinstance(out, str) else out

    monkeypatch.setattr(Scrubber, "text", merging)
    assert _batched(sc, lines) == alone


def test_long_lines_and_newlines_are_scrubbed_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line longer than BATCH_LINE_MAX, or one holding a newline (never a scanned line), is scrubbed alone."""
    monkeypatch.setattr(scanner_mod, "BATCH_LINE_MAX", 40)
    lines = ["x" * 50 + " password=S3cr3t!pa55-w0rd", "a\npassword=S3cr3t!pa55-w0rd", "token=S3cr3tpa55w0rdvalue1"]
    sc = scan.Scanner(ENGINES[0])
    calls: list[str] = []
    real = sc._scrub
    monkeypatch.setattr(sc, "_scrub", lambda t: calls.append(t) or real(t))
    out = scrub_batched(sc._scrubber, sc.prefilter, lines * 2, sc._scrub)
    assert out == [real(t) for t in lines * 2]
    assert sorted(calls) == sorted(lines[:2] * 2)


def test_vendor_key_lines_are_batched_apart(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hyperscan remembers the lines a vendor-key prefix hit (the scanner batches them apart, since the scrubber
    reads a whole text for keys once a prefix is in it); the scan's findings are those of every line scrubbed
    alone."""
    key = "ghp_QSr6rz24LpOqJ3OpuLIEi2NvSBbI1rmAR1JF"
    lines = [
        f"push with {key} ok",
        "password=S3cr3t!pa55-w0rd",
        "nothing",
        f"xoxb-no token={key}",
        "token=abcdef0123456",
    ]
    data = ("\n".join(lines * 3) + "\n").encode()
    if "hyperscan" in ENGINES:
        pf = scan.Prefilter("hyperscan")
        pf.classified(data, 0, len(data))
        assert pf.vendor_lines() == {pf_start(data, i) for i in range(15) if (lines * 3)[i].count("ghp_")}
    assert scan.Prefilter("python").vendor_lines() == set()
    path = tmp_path / "v.log"
    path.write_bytes(data)
    groups: list[list[str]] = []
    real = scan.Scanner._scrub_lines

    def spy(self: scan.Scanner, texts: list[str], keys: list[bool] | None = None) -> list[str]:
        groups.append(list(texts))
        return real(self, texts, keys)

    monkeypatch.setattr(scan.Scanner, "_scrub_lines", spy)
    reference = [(f.line, f.kind, f.fingerprint) for f in scan.Scanner("all").scan_file(str(path), scan.ScanReport())]
    assert len(reference) >= 9
    for engine in ENGINES:
        groups.clear()
        found = [(f.line, f.kind, f.fingerprint) for f in scan.Scanner(engine).scan_file(str(path), scan.ScanReport())]
        assert found == reference
        if engine == "hyperscan":  # the block, then its vendor lines and the others apart
            assert sorted(map(len, groups[1:])) == [6, 6], groups


def test_lines_without_a_key_prefix_skip_the_key_search(real_lines: list[str]) -> None:
    """Lines on which Hyperscan found no vendor-key prefix are scrubbed without the scrubber's search for one
    (``keys=False``): the same output as the full scrubber, alone and in batches, on every pinned form, mixes,
    their scrubbed copies and real lines; scrubbing never makes a prefix (markers hold none, and none holds a
    character a redaction puts next to a marker); and the flag does skip the search (a key is then kept)."""
    from jwtobs.redact import patterns as p
    from jwtobs.redact.scrub import _marker

    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
    assert set("".join(p.VENDOR_PREFIXES)) <= set(chars + "/")
    rnd = random.Random(11)
    for kind in p.KINDS:
        for _ in range(50):
            credential = "".join(rnd.choice(chars) for _ in range(30))
            assert p.VENDOR_PREFIX_SEARCH.search(_marker(kind, credential)) is None
    forms = [line.replace("\n", " ") for line in _form_lines()]
    pool = forms + random.Random(4).sample(real_lines, 300)
    texts = forms + NEEDS_SECOND + _mixes(3000, 9, pool) + random.Random(10).sample(real_lines, 2000)
    texts += [str(scrub_text(t)) for t in texts[::3]]
    free = [t for t in texts if p.VENDOR_PREFIX_SEARCH.search(t) is None]
    assert len(free) > 3000 and len(free) < len(texts)  # (keys in some of them)
    scrubber = Scrubber("scan")
    alone = [scrubber.text(t) for t in free]
    assert [scrubber.text(t, keys=False) for t in free] == alone
    assert [o for o in alone if p.VENDOR_PREFIX_SEARCH.search(str(o))] == []
    for engine in ENGINES:
        sc = scan.Scanner(engine)
        assert scrub_batched(sc._scrubber, sc.prefilter, free, sc._scrub, keys=False) == [sc._scrub(t) for t in free]
    key = "ghp_QSr6rz24LpOqJ3OpuLIEi2NvSBbI1rmAR1JF"
    assert scrubber.text(f"push {key}", keys=False) == f"push {key}" != scrubber.text(f"push {key}")


def pf_start(data: bytes, i: int) -> int:
    """Offset of line ``i`` of ``data``."""
    pos = 0
    for _ in range(i):
        pos = data.index(b"\n", pos) + 1
    return pos
