"""Command line: ``jwtobs <command>``.

Commands are contributed by the modules listed in :data:`COMMANDS`; each defines ``register(subparsers)``
adding its subcommands with ``set_defaults(func=...)``, where ``func(args) -> int`` is the exit code. A module
that needs an optional dependency which is not installed still shows its commands; running one says which
extra to install.

Bad input never shows a traceback: a command raises :class:`CommandError` (or calls :func:`fail`, or uses
:func:`input_path` / :func:`file_kind` to check a path), and :func:`main` prints one line,
``jwtobs <command>: <message>``, on stderr and exits with the error's code. Exit codes (all commands):

====  ==========================================================================================
0     done
1     the command's check failed (``scan --exit-code`` found something)
2     usage error or bad input (missing, unreadable, empty or wrong-kind file; bad configuration)
3     an optional dependency is not installed (the message names the extra: ``pip install 'jwtobs[...]'``)
4     internal error (a bug: one line; ``JWTOBS_DEBUG=1`` shows the traceback)
130   interrupted (Ctrl-C)
====  ==========================================================================================

Output that cannot be written is reported like bad input: standard output closed (``jwtobs scan ... >&-``) or a
write to it failing (disk full) is one line on stderr and exit 2 (the output is lost: a check must not pass).
A reader that goes away (``jwtobs scan ... | head -1``: a closed pipe) is not an error: exit 0, as with SIGPIPE.
When standard output cannot encode every character (``PYTHONIOENCODING=ascii``), the ones it cannot are
written as backslash escapes instead of failing.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import io
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

from jwtobs.exceptions import ConfigurationError
from jwtobs.extras import extra_for

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED_CHECK",
    "EXIT_BAD_INPUT",
    "EXIT_MISSING_EXTRA",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "CommandError",
    "fail",
    "require",
    "input_path",
    "file_kind",
    "main",
]

EXIT_OK: Final = 0
EXIT_FAILED_CHECK: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_MISSING_EXTRA: Final = 3
EXIT_INTERNAL: Final = 4
EXIT_INTERRUPTED: Final = 130

#: module -> (its commands, the extra it needs): the commands are listed even when the module cannot be imported
COMMANDS: Final[tuple[tuple[str, tuple[str, ...], str], ...]] = (
    ("jwtobs.cli", ("key",), ""),  # key new: print a fresh fingerprint key
    ("jwtobs.example", ("example",), "pyjwt,sdk"),  # validate a few good and bad tokens and print the events
    ("jwtobs.redact.cli", ("scan", "scrub"), ""),
    ("jwtobs.simulate.cli", ("simulate",), "pyjwt"),
    ("jwtobs.analysis.cli", ("report",), "analysis"),
    ("jwtobs.demo", ("demo",), "demo"),  # simulate + analysis: composed here, in the CLI layer
)


class CommandError(Exception):
    """Bad input or an unusable setup: :func:`main` prints ``jwtobs <command>: <message>`` and exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Stop the command with one line on stderr and exit ``code`` (default 2, bad input)."""
    raise CommandError(message, code)


def missing_dependency(exc: ImportError, extra: str | None = None) -> CommandError:
    """The error for an optional dependency that is not installed: names it and the extra to install."""
    name = getattr(exc, "name", None) or "a dependency"
    extra = extra or extra_for(name) or "all"
    return CommandError(f"needs {name}, which is not installed: pip install 'jwtobs[{extra}]'", EXIT_MISSING_EXTRA)


def require(module: str, extra: str | None = None) -> Any:
    """Import an optional dependency or stop with :data:`EXIT_MISSING_EXTRA` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if not isinstance(exc, ModuleNotFoundError) or _is_ours(exc):
            raise
        raise missing_dependency(exc, extra) from None


FileKind = Literal["empty", "gzip", "parquet", "text", "binary"]
_SNIFF_BYTES: Final = 8192


def input_path(path: str | os.PathLike[str], *, directory: bool = False, empty: bool = False) -> Path:
    """``path`` checked as an input: it exists, is readable, is a regular file (or, with ``directory``, a
    directory) and is not empty (unless ``empty``). Raises :class:`CommandError` (exit 2) saying what is wrong."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        fail(f"{path}: no such file or directory")
    except PermissionError:
        fail(f"{path}: permission denied")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or type(exc).__name__}")
    if stat.S_ISDIR(st.st_mode):
        if not directory:
            fail(f"{path}: is a directory, expected a file")
        if not os.access(p, os.R_OK | os.X_OK):
            fail(f"{path}: permission denied")
        return p
    if not stat.S_ISREG(st.st_mode):
        fail(f"{path}: not a regular file")
    if not os.access(p, os.R_OK):
        fail(f"{path}: permission denied")
    if st.st_size == 0 and not empty:
        fail(f"{path}: empty file")
    return p


def file_kind(path: str | os.PathLike[str]) -> FileKind:
    """What a file holds, from its first bytes: ``gzip``, ``parquet``, ``text`` (UTF-8, no NUL), ``binary``
    or ``empty``. Raises :class:`CommandError` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or type(exc).__name__}")
    if not head:
        return "empty"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"PAR1":
        return "parquet"
    if b"\0" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a character cut at the end of the sample is still text
            return "binary"
    return "text"


# -- jwtobs key ----------------------------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    k = subparsers.add_parser(
        "key",
        help="fingerprint keys: 'jwtobs key new' prints a fresh one",
        description="Fingerprint keys (JWTOBS_FINGERPRINT_KEY). Give every service and the scanner the same key "
        "so that fingerprints in events, redacted logs and scans match.",
    )
    ks = k.add_subparsers(dest="key_command", metavar="KEY_COMMAND", required=True)
    new = ks.add_parser(
        "new",
        help="print a fresh fingerprint key (32 random bytes, base64url)",
        description='Print a fresh fingerprint key on stdout: export JWTOBS_FINGERPRINT_KEY="$(jwtobs key new)"',
    )
    new.set_defaults(func=_key_new)


def _key_new(args: argparse.Namespace) -> int:
    from jwtobs.fingerprint import new_key

    print(new_key())
    return EXIT_OK


# -- the parser and main -------------------------------------------------------------------------------------
def _is_ours(exc: ImportError) -> bool:
    name = getattr(exc, "name", None) or ""
    return name == "jwtobs" or name.startswith("jwtobs.")


def _unavailable(extra: str, exc: ImportError) -> Any:
    def run(args: argparse.Namespace) -> int:
        raise missing_dependency(exc, extra or None)

    return run


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, modules after the one registering its command are not imported (start-up)."""
    parser = argparse.ArgumentParser(
        prog="jwtobs",
        description="Observable JWT validation and token-free logs",
        epilog="Exit codes: 0 done, 1 check failed (scan --exit-code found something), 2 usage error or bad input, "
        "3 optional dependency missing (the message names the extra), 4 internal error, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    want = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for modname, commands, extra in COMMANDS:
        if want is not None and want not in commands and want in _all_commands():
            continue  # only the module of the command asked for is imported
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            if _is_ours(exc) and exc.name == modname:
                continue  # not part of this installation
            if _is_ours(exc):
                raise
            for command in commands:
                p = sub.add_parser(command, help=f"(needs: pip install 'jwtobs[{extra}]')", add_help=False)
                needs = missing_dependency(exc, extra or None).message
                p.set_defaults(func=_unavailable(extra, exc), unavailable=needs)
            continue
        module.register(sub)
    return parser


def _all_commands() -> set[str]:
    return {c for _, commands, _ in COMMANDS for c in commands}


def _error(command: str | None, message: str) -> None:
    prefix = f"jwtobs {command}" if command else "jwtobs"
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(f"{prefix}: {first}\n")


class _ClosedOutput(io.TextIOBase):
    """Stands in for standard output when the command was started with it closed (``>&-``; Python then sets
    ``sys.stdout`` to ``None`` and ``print`` drops its text): the first write stops the command with one line
    and exit 2 instead of an internal error or output silently lost."""

    def writable(self) -> bool:
        return True

    def write(self, s: str, /) -> int:
        raise CommandError("cannot write the output: standard output is closed")


def _standard_streams() -> None:
    """Standard streams a command can always write to: a closed stdout fails on the first write (exit 2), a
    closed stderr discards the messages (the exit status still tells), and characters that stdout's encoding
    cannot write come out as backslash escapes instead of a ``UnicodeEncodeError``."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # (open for the life of the process)
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and out.errors == "strict":
        try:
            utf8 = codecs.lookup(out.encoding).name == "utf-8"
        except LookupError:
            utf8 = False
        if not utf8:
            out.reconfigure(errors="backslashreplace")


def _flush_stdout(command: str | None, code: int) -> int:
    """Flush standard output before exiting, so that a write that fails (disk full) is one line and exit 2
    rather than Python's own message at exit; a closed pipe keeps ``code`` (the reader stopped reading)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
    except OSError as exc:
        _quiet_stdout()  # (the text that could not be written: not again at exit)
        if code not in (EXIT_OK, EXIT_FAILED_CHECK):
            return code  # the run failed already, with its one line (often this same write error)
        _error(command, f"cannot write the output: {exc.strerror or type(exc).__name__}")
        return EXIT_BAD_INPUT
    except (ValueError, AttributeError):  # closed by the command, or not a stream
        pass
    return code


def main(argv: Sequence[str] | None = None) -> int:
    _standard_streams()
    command, code = _main(argv)
    return _flush_stdout(command, code)


def _main(argv: Sequence[str] | None) -> tuple[str | None, int]:
    """``(command, exit code)`` of one run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("JWTOBS_DEBUG", "") not in ("", "0")
    command: str | None = None
    try:
        parser = build_parser(argv)
        args, rest = parser.parse_known_args(argv)
        if rest and not getattr(args, "unavailable", False):
            args = parser.parse_args(argv)  # argparse's own message for the unknown arguments
        command = getattr(args, "command", None)
        needs = getattr(args, "unavailable", None)
        if needs and any(a in ("-h", "--help") for a in rest):  # the help of a command whose extra is missing
            print(f"usage: jwtobs {command} ...\n\n{needs}\n(its options are listed once that is installed)")
            return command, EXIT_OK
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return command, EXIT_BAD_INPUT
        return command, int(func(args))
    except CommandError as exc:
        _error(command, exc.message)
        return command, exc.code
    except ConfigurationError as exc:
        _error(command, str(exc))
        return command, EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return command, EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return command, EXIT_OK
    except ModuleNotFoundError as exc:
        if debug or _is_ours(exc):
            raise
        _error(command, missing_dependency(exc).message)
        return command, EXIT_MISSING_EXTRA
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _error(command, f"{where}{exc.strerror or type(exc).__name__}")
        return command, EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line, never a traceback (which could show input) unless asked for
        if _interrupted(exc):
            return command, EXIT_INTERRUPTED
        if debug:
            raise
        _error(command, f"internal error ({type(exc).__name__}); run with JWTOBS_DEBUG=1 for the traceback")
        return command, EXIT_INTERNAL


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C reaching a DuckDB query: DuckDB stops it and raises its own exception (``InterruptException``, or a
    ``RuntimeError`` "Query interrupted" on the path that re-raises it), not ``KeyboardInterrupt`` (before session 33:
    exit 4, internal error, instead of 130)."""
    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        cls = type(e)
        if cls.__name__ == "InterruptException" or (
            isinstance(e, RuntimeError) and "query interrupted" in str(e).lower()
        ):
            return True
    return False


def _quiet_stdout() -> None:
    """After a closed pipe (``jwtobs scan ... | head``): no second error when Python flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # python -m jwtobs.cli: run the imported module, so its CommandError is the one raised
    from jwtobs import cli

    sys.exit(cli.main())
