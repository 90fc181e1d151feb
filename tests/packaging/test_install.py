"""The package as a user installs it: build the wheel, install it into clean virtual environments, use it.

1. ``pip install jwtobs`` (no extras): ``import jwtobs`` loads nothing optional, ``redact.scrub`` works,
   ``jwtobs --help`` / ``jwtobs scan`` / ``jwtobs key new`` work, a JOSE library or command that needs an extra
   says which one, and the install stays within the core budget (<= 15 packages, <= 60 MB).
2. ``pip install "jwtobs[analysis]"``: ``jwtobs report`` on an events file written by the real wrapper.

The package count and sizes are printed (``-s`` not needed). Slowest test of the suite (two venvs and pip
installs from the local cache or the index): marked ``install``; ``-m "not install"`` skips it while iterating.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs

pytestmark = [pytest.mark.install, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
MAX_CORE_PACKAGES = 15
MAX_CORE_MB = 60.0
#: packages a fresh venv brings itself (not installed by jwtobs)
VENV_OWN = {"pip", "setuptools", "wheel"}
#: what `import jwtobs` / `import jwtobs.redact` must not load in a core install
OPTIONAL = ("jwt", "jose", "joserfc", "jwcrypto", "authlib", "cryptography", "pandas", "numpy", "pyarrow",
            "matplotlib", "duckdb", "structlog", "opentelemetry.sdk", "sentry_sdk", "hyperscan", "wrapt")  # fmt: skip

SIZE_SCRIPT = r"""
import json, os, sys
from importlib import metadata
own = set(sys.argv[1].split(","))
out = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name.lower() in own:
        continue
    size = 0
    for f in dist.files or ():
        try:
            size += os.path.getsize(f.locate())
        except OSError:
            pass
    out[name] = size
print(json.dumps(out))
"""


def _run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 600, ok: tuple[int, ...] = (0,),
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JWTOBS_"))}
    base.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**base, **(env or {})}
    )
    if proc.returncode not in ok:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-4000:]}")  # fmt: skip
    return proc


_REPORTER: list[object] = []


@pytest.fixture(scope="module", autouse=True)
def _terminal(pytestconfig: pytest.Config) -> None:
    pm = pytestconfig.pluginmanager
    _REPORTER[:] = [pm.get_plugin("terminalreporter"), pm.get_plugin("capturemanager")]


def _report(line: str) -> None:
    """Shown in the test run's output (the package count and sizes are the point of this test)."""
    tr, capman = _REPORTER if _REPORTER else (None, None)
    if tr is None or capman is None:  # pragma: no cover - terminal reporter or capture disabled
        print(f"[packaging] {line}")
        return
    with capman.global_and_fixture_disabled():  # type: ignore[attr-defined]
        tr.write_line(f"\n[packaging] {line}")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (no build artefacts left in the repository)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "jwtobs", src / "jwtobs", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src)
    (whl,) = dist.glob("jwtobs-*.whl")
    return whl


def _venv(path: Path) -> Path:
    _run(sys.executable, "-m", "venv", path)
    return path / "bin"


def _installed(bin_dir: Path) -> dict[str, int]:
    out = _run(bin_dir / "python", "-c", SIZE_SCRIPT, ",".join(VENV_OWN)).stdout
    return dict(json.loads(out))


def _summary(what: str, sizes: dict[str, int], seconds: float) -> tuple[int, float]:
    mb = sum(sizes.values()) / 1e6
    biggest = ", ".join(f"{n} {s / 1e6:.1f}" for n, s in sorted(sizes.items(), key=lambda kv: -kv[1])[:5])
    _report(f"{what}: {len(sizes)} packages, {mb:.1f} MB installed, pip {seconds:.0f} s (largest MB: {biggest})")
    return len(sizes), mb


@pytest.fixture(scope="module")
def core(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    bin_dir = _venv(tmp_path_factory.mktemp("venv") / "core")
    t0 = time.monotonic()
    _run(bin_dir / "python", "-m", "pip", "install", "-q", wheel)
    count, mb = _summary("pip install jwtobs", _installed(bin_dir), time.monotonic() - t0)
    assert count <= MAX_CORE_PACKAGES and mb <= MAX_CORE_MB
    yield bin_dir


LEAK = (
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)

CORE_SCRIPT = f"""
import sys, warnings
import jwtobs, jwtobs.redact
from jwtobs import redact
from importlib import metadata, resources
loaded = sorted(m for m in {OPTIONAL!r} if m in sys.modules)
assert not loaded, loaded
assert jwtobs.__version__ == metadata.version("jwtobs"), jwtobs.__version__
assert resources.files("jwtobs").joinpath("py.typed").is_file()
out = redact.scrub({LEAK!r})
assert out.startswith("Authorization: Bearer [REDACTED:") and "eyJ" not in out, out
print("core ok")
"""

MISSING_SCRIPT = f"""
import sys
import jwtobs
for lib in ("pyjwt", "python-jose", "joserfc", "jwcrypto", "authlib"):
    try:
        jwtobs.wrap(lambda t: t, library=lib)
    except jwtobs.ConfigurationError as exc:
        assert "pip install 'jwtobs[" in str(exc), exc
    else:
        raise AssertionError(lib)
    profile = jwtobs.Profile(name="p", issuer="https://idp.test", audience="a", algorithms=("HS256",))
    try:
        jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({{"k": b"s" * 32}}), backend=lib)
    except jwtobs.ConfigurationError as exc:
        assert "pip install 'jwtobs[" in str(exc), exc
    else:
        raise AssertionError(lib)
loaded = sorted(m for m in {OPTIONAL!r} if m in sys.modules)
assert not loaded, loaded
print("missing ok")
"""


def test_core_install_missing_library_names_the_extra(core: Path, tmp_path: Path) -> None:
    """wrap(library=...) and Verifier(backend=...) for a JOSE library that is not installed: ConfigurationError
    with the pip line of its extra (every name and alias)."""
    assert "missing ok" in _run(core / "python", "-W", "ignore", "-c", MISSING_SCRIPT, cwd=tmp_path).stdout


def test_core_install_imports_redacts_and_scans(core: Path, tmp_path: Path) -> None:
    assert "core ok" in _run(core / "python", "-W", "ignore", "-c", CORE_SCRIPT, cwd=tmp_path).stdout
    jwtobs_cli = core / "jwtobs"
    help_text = _run(jwtobs_cli, "--help").stdout
    for command in ("scan", "scrub", "key", "report", "demo"):
        assert command in help_text
    key = _run(jwtobs_cli, "key", "new").stdout.strip()
    assert len(key) >= 43
    log = tmp_path / "app.log"
    log.write_text("".join(f"INFO request {i} ok\n" for i in range(20_000)) + f"WARN {LEAK}\n")  # > 64 KB
    env = {"JWTOBS_FINGERPRINT_KEY": key}
    scan = _run(jwtobs_cli, "scan", "--exit-code", "--progress", log, ok=(1,), env=env)
    assert f"{log}:20001:" in scan.stdout and "eyJ" not in scan.stdout + scan.stderr
    scrubbed = tmp_path / "app.scrubbed.log"
    _run(jwtobs_cli, "scrub", log, scrubbed, env=env)
    assert "eyJ" not in scrubbed.read_text() and "[REDACTED:" in scrubbed.read_text()
    # an extra that is not installed: one line naming it, exit 3, no traceback (example: both of its extras;
    # --engine hyperscan: was exit 2 with "No module named 'hyperscan'" before session 13)
    for argv, extra in (
        (("report", log), "analysis"),
        (("example",), "pyjwt,sdk"),
        (("scan", "--engine", "hyperscan", log), "scan"),
        (("scrub", "--engine", "hyperscan", log, tmp_path / "x.log"), "scan"),
    ):
        proc = _run(jwtobs_cli, *argv, ok=(3,))
        assert f"jwtobs[{extra}]" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    # a module of an extra that is not installed: its ImportError names the extra (was a bare "No module named")
    for module, extra in (
        ("jwtobs.integrations.fastapi", "fastapi"),
        ("jwtobs.integrations.starlette", "fastapi"),
        ("jwtobs.integrations.flask", "flask"),
        ("jwtobs.integrations.django", "django"),
        ("jwtobs.integrations.drf", "django"),
        ("jwtobs.analysis", "analysis"),
        ("jwtobs.redact.otel", "sdk"),
        ("jwtobs.simulate", "pyjwt"),
    ):
        code = f"import {module}"
        proc = _run(core / "python", "-c", code, ok=(1,), cwd=tmp_path)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError: ") and f"pip install 'jwtobs[{extra}]'" in last, last


def _write_events(path: Path) -> int:
    """Events of real validations (the real wrapper around PyJWT): accepted, expired, bad signature, unknown kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwtobs.configure(events_path=str(path), fingerprint_key=b"packaging-test-key" * 2, service="api", from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    now = int(time.time())
    n = 0
    for i in range(300):
        signer, exp = (other, now + 300) if i % 10 == 3 else (key, now - 60 if i % 7 == 1 else now + 300)
        token = jwt.encode({"sub": f"u{i % 13}", "aud": "api", "exp": exp, "iat": now - 5}, signer, "RS256",
                           headers={"kid": "k1"})  # fmt: skip
        try:
            decode(token, key.public_key(), algorithms=["RS256"], audience="api")
        except jwt.PyJWTError:
            pass
        n += 1
    jwtobs.flush()
    return n


def test_analysis_extra_runs_report(wheel: Path, core: Path, tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "analysis")
    t0 = time.monotonic()
    _run(bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[analysis]", timeout=800)
    _summary('pip install "jwtobs[analysis]"', _installed(bin_dir), time.monotonic() - t0)
    events = tmp_path / "events.jsonl"
    assert _write_events(events) == len(events.read_text().splitlines())
    html = tmp_path / "report.html"
    proc = _run(bin_dir / "jwtobs", "report", events, "--out", html, cwd=tmp_path, timeout=300)
    assert html.is_file() and html.stat().st_size > 1000
    assert "JWT_EXPIRED" in proc.stdout + html.read_text()
    assert "Traceback" not in proc.stderr


_LINK = re.compile(r"\]\((?![a-z]+:|#)([^)#\s]+)")


def test_sdist_holds_what_the_docs_refer_to(tmp_path: Path) -> None:
    """``python -m build --sdist`` from the tracked files (as a clean clone has them): the source distribution
    holds every file README.md and docs/*.md link to, every tracked file of docs/ and dashboards/ (the alert
    rules and dashboards the docs describe), LICENSE and py.typed, no bytecode; and a wheel builds from it."""
    src = tmp_path / "src"
    tracked = [f for f in _run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0") if f]
    for name in tracked:
        if (ROOT / name).is_file():  # (a file deleted in the working tree and not yet committed: not there)
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--sdist", "-o", dist, src, timeout=600)
    (sdist,) = dist.glob("jwtobs-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and "/" in m.name}
        if hasattr(tarfile, "data_filter"):  # (extraction filters: 3.11.4 on; CI's Debian python3 is 3.11.2)
            tar.extractall(tmp_path / "unpacked", filter="data")
        else:  # pragma: no cover - our own archive, built just now
            tar.extractall(tmp_path / "unpacked")
    _report(f"sdist: {len(members)} files, {sdist.stat().st_size / 1e6:.1f} MB")
    wanted = {"README.md", "LICENSE", "pyproject.toml", "jwtobs/py.typed"}
    wanted |= {f for f in tracked if f.startswith(("docs/", "dashboards/", "examples/", "notebooks/"))}
    for doc in ["README.md", *(f for f in tracked if f.startswith("docs/") and f.endswith(".md"))]:
        for target in _LINK.findall((ROOT / doc).read_text(encoding="utf-8")):
            wanted.add(os.path.normpath(os.path.join(os.path.dirname(doc), target)))
    assert not wanted - members, sorted(wanted - members)
    assert not [m for m in members if m.endswith((".pyc", ".pyo")) or "__pycache__" in m]
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, unpacked, timeout=600)
    (whl,) = wheels.glob("jwtobs-*.whl")
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
    assert "jwtobs/py.typed" in names and "jwtobs/redact/_regex.py" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/"))], "the wheel is the package only"
