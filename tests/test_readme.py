"""The README is the contract: its Python blocks run as written, its commands and extras exist.

The Python blocks run in order as one script (as the README says), in a fresh interpreter in an empty
directory with no jwtobs/OTel/Sentry environment: only what the README itself sets up. Lines of the form
``print(...)  # <expected>`` are checked against what was printed (a fingerprint stands for any fingerprint).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
FINGERPRINT = r"[0-9a-z]{1,16}-[0-9a-f]{12}"


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README) if kind == lang]


def expected_prints(code: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^\s*print\(.*\)\s+#\s*(.+)$", code, re.M)]


def test_python_blocks_run_as_written(tmp_path: Path) -> None:
    code = blocks("python")
    assert len(code) >= 5
    for body in code:
        compile(body, "README.md", "exec")  # each block is valid Python by itself
        assert "..." not in body and "…" not in body
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n\n".join(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWTOBS_", "OTEL_", "SENTRY_", "PYTHON"))}
    proc = subprocess.run(
        [sys.executable, "-W", "error::SyntaxWarning", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout.splitlines()
    expected = [e for body in code for e in expected_prints(body)]
    assert len(printed) == len(expected), (printed, expected)
    for got, want in zip(printed, expected, strict=True):
        pattern = re.escape(re.sub(FINGERPRINT, "\0", want)).replace("\0", FINGERPRINT)
        assert re.fullmatch(pattern, got), (got, want)
    assert "eyJ" not in proc.stdout + proc.stderr  # nothing printed a token
    assert (tmp_path / "jwt-events.jsonl").is_file()


def test_install_lines_name_real_extras() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    docs = README + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    named = {e.strip() for m in re.finditer(r"jwtobs\[([a-z0-9,\- ]+)\]", docs) for e in m.group(1).split(",")}
    assert named and named <= extras, named - extras
    table = README[README.index("## Install") :]
    for extra in extras:
        assert f"`{extra}`" in table, extra  # every extra is in the README's table


def test_first_two_commands_exist() -> None:
    first = blocks("bash")[0].splitlines()
    assert first[0].startswith("bash scripts/demo") and first[1].startswith("bash scripts/test")
    for script in ("scripts/demo", "scripts/test", "scripts/bootstrap"):
        assert (ROOT / script).is_file()
