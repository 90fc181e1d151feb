"""Session 21: ``jwtobs scan`` / ``jwtobs scrub`` on files earlier sessions did not try (other compressions)."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwtobs import config
from jwtobs.cli import main
from jwtobs.redact.scan import Scanner, ScanProblem, ScanReport, default_engine, scrub_file

KEY = "scan-odd-files-fingerprint-key"
TOKEN = jwt.encode({"sub": "alice", "exp": 2_000_000_000}, "k" * 32, algorithm="HS256")
ENGINES = ["hyperscan", "python"] if default_engine() == "hyperscan" else ["python"]
LOG = f"start\nGET /api Authorization: Bearer {TOKEN}\nend\n".encode()


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", KEY)
    config.reset()


def _findings(out: str) -> list[tuple[int, str, str]]:
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [(r["line"], r["kind"], r["fingerprint"]) for r in rows if r["type"] == "finding"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bzip2_and_xz_logs_are_decompressed_like_gzip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    """Before: a bzip2 or xz log (logrotate's compresscmd) was "binary file (use --binary to scan it)", and with
    --binary its compressed bytes were scanned: 0 findings, exit 0, while the token was in it."""
    expected = [(2, "jwt", config.current().fingerprinter.token(TOKEN))]
    for name, data in (
        ("app.log.1.bz2", bz2.compress(LOG)),
        ("app.log.2.xz", lzma.compress(LOG)),
        ("x", bz2.compress(LOG)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert main(["scan", "--exit-code", "--format", "json", "-j", jobs, str(path)]) == 1
        captured = capsys.readouterr()
        assert _findings(captured.out) == expected, name
        assert TOKEN not in captured.out + captured.err


def test_truncated_or_corrupt_xz_and_bzip2_are_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = b"".join(b"line %d Authorization: Bearer %s\n" % (i, TOKEN.encode()) for i in range(5000))
    for name, data, fmt in (("cut.xz", lzma.compress(big), "xz"), ("cut.bz2", bz2.compress(big), "bzip2")):
        path = tmp_path / name
        path.write_bytes(data[: len(data) // 2])
        assert main(["scan", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{name}: truncated {fmt} file" in err and "Traceback" not in err
    for name, data, fmt in (
        ("bad.bz2", b"BZh91AY&SY" + b"\xff" * 16, "bzip2"),
        ("bad.xz", b"\xfd7zXZ\x00" + b"\xff" * 16, "xz"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert main(["scan", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{name}: corrupt {fmt} data before the first line" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("magic", "fmt"),
    [(b"\x28\xb5\x2f\xfd", "zstd"), (b"\x04\x22\x4d\x18", "lz4"), (b"\x1f\x9d\x90", "compress"), (b"LZIP\x01", "lzip")],
)
def test_other_compressions_are_named_not_skipped_as_binary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], magic: bytes, fmt: str
) -> None:
    """Before: "binary file (use --binary to scan it)" (exit 0 without --exit-code), and --binary scanned the
    compressed bytes (0 findings, exit 0: a false clean). Now a problem naming the format, even with --binary."""
    path = tmp_path / "app.log.1"
    path.write_bytes(magic + bytes(range(1, 200)))  # (no NUL in the first bytes: it was even read as text)
    for extra in ([], ["--binary"]):
        assert main(["scan", *extra, str(path)]) == 2
        err = capsys.readouterr().err
        assert f"app.log.1: {fmt}-compressed file: jwtobs reads gzip, bzip2 and xz only" in err, err
    out = tmp_path / "out.log"
    assert main(["scrub", "--binary", str(path), str(out)]) == 2
    assert f"{fmt}-compressed file" in capsys.readouterr().err
    assert not out.exists()


def test_scrub_reads_and_writes_bzip2_and_xz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "app.log.bz2"
    src.write_bytes(bz2.compress(LOG))
    marker = f"[REDACTED:jwt:{config.current().fingerprinter.token(TOKEN)}]"
    want = LOG.replace(TOKEN.encode(), marker.encode())
    for name, read in (("out.log.xz", lzma.decompress), ("out.log.bz2", bz2.decompress), ("out.log", bytes)):
        assert main(["scrub", str(src), str(tmp_path / name)]) == 0
        assert "1 credential redacted" in capsys.readouterr().err
        assert read((tmp_path / name).read_bytes()) == want, name


class _TruncatingScanner(Scanner):
    """Truncates the file it reads after its first block (``copytruncate`` rotation in the middle of a scan)."""

    def lines(self, path: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for i, item in enumerate(super().lines(path, *args, **kwargs)):
            if i == 0:
                os.truncate(path, 0)
            yield item


def test_a_file_truncated_while_it_is_read_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the serial scan reported what it read before the truncation as a complete scan (213 MB log emptied
    after 67 MB: "0 findings in 1 file (67.1 MB)", exit 0), and scrub wrote the partial copy; --jobs already said
    "the file shrank"."""
    path = tmp_path / "app.log"
    body = LOG + b"".join(b"INFO request %d ok\n" % i for i in range(20_000))  # (scan yields at a finding)
    for engine in ENGINES:
        path.write_bytes(body)
        report = ScanReport()
        sc = _TruncatingScanner(engine, block=4096, long_line=4096)
        with pytest.raises(
            ScanProblem, match=r"app.log: the file shrank while it was scanned \(\d+ of \d+ bytes read\)"
        ):
            list(sc.scan_file(str(path), report))
        path.write_bytes(body)
        out = tmp_path / "out.log"
        sc = _TruncatingScanner(engine, block=4096, long_line=4096)
        with pytest.raises(ScanProblem, match=r"the file shrank while it was copied"):
            scrub_file(str(path), str(out), scanner=sc)
        assert not out.exists()
    # a file read whole (and one that grew meanwhile) is no problem
    path.write_bytes(body)
    assert main(["scan", "--exit-code", str(path)]) == 1
    assert "shrank" not in capsys.readouterr().err
    # nor a file whose size is no length and stays so (sysfs says 4096 bytes; it held 23: a false "shrank")
    sysfs = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if sysfs.is_file() and os.access(sysfs, os.R_OK) and sysfs.stat().st_size > len(sysfs.read_bytes()):
        assert main(["scan", str(sysfs)]) == 0
        assert "shrank" not in capsys.readouterr().err


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_compressed_utf16_logs_are_read_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    """Before: a gzipped UTF-16 log (PowerShell's ``>``, then rotated) was read as UTF-8, its NUL bytes between the
    token's characters: "0 findings in 0 of 1 file", exit 0. Now as the same file uncompressed (session 14)."""
    bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
    raw = bom + LOG.decode().replace("\n", "\r\n").encode(codec)
    expected = [(2, "jwt", config.current().fingerprinter.token(TOKEN))]
    for name, data in (
        ("a.log.gz", gzip.compress(raw)),
        ("a.log.bz2", bz2.compress(raw)),
        ("a.log.xz", lzma.compress(raw)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert main(["scan", "--exit-code", "--format", "json", str(path)]) == 1
        assert _findings(capsys.readouterr().out) == expected, name
        out = tmp_path / f"out-{name}"
        assert main(["scrub", str(path), str(out)]) == 0
        marker = f"[REDACTED:jwt:{expected[0][2]}]"
        want = bom + LOG.decode().replace("\n", "\r\n").replace(TOKEN, marker).encode(codec)
        got = out.read_bytes()
        assert {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}[out.suffix](got) == want
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(raw))))
    assert main(["scan", "--format", "json", "-"]) == 0
    assert _findings(capsys.readouterr().out) == expected


def test_scrub_to_an_empty_name_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``jwtobs scrub app.log ""`` said ``error: IsADirectoryError: [Errno 21] is a directory (give the file
    name to write): '.'`` (the empty name read as the current directory)."""
    path = tmp_path / "app.log"
    path.write_bytes(LOG)
    assert main(["scrub", str(path), ""]) == 2
    assert capsys.readouterr().err == "jwtobs scrub: error: OUT: empty file name (give the file to write)\n"
