"""jwtobs._atomic.replaced_atomically: the one temp-and-rename of every command that writes an output file
(jwtobs report --out, jwtobs scrub, the simulator's labels)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from jwtobs._atomic import replaced_atomically


def test_a_complete_write_replaces_and_a_failed_one_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    with replaced_atomically(out) as f:
        f.write("new")
    assert out.read_text() == "new"
    with pytest.raises(RuntimeError), replaced_atomically(out) as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_device_pipe_or_socket_is_never_replaced(tmp_path: Path) -> None:
    """Renaming over a device node put a regular file in its place (as root: /dev/null)."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info, replaced_atomically(fifo) as f:
        f.write("x")
    assert info.value.errno == errno.EINVAL and "not a regular file" in str(info.value)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and [p.name for p in tmp_path.iterdir()] == ["out.fifo"]
    # a symlink is replaced (the link, not what it points at), as before
    target, link = tmp_path / "target", tmp_path / "link"
    target.write_text("t")
    link.symlink_to(target)
    with replaced_atomically(link) as f:
        f.write("x")
    assert link.read_text() == "x" and not link.is_symlink() and target.read_text() == "t"


def test_a_name_at_the_length_limit_leaves_room_for_the_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / ("r" * 250 + ".html")  # 255 bytes: legal; ".<name>.<hex>.tmp" of it would not be
    with replaced_atomically(out) as f:
        f.write("ok")
    assert out.read_text() == "ok"
