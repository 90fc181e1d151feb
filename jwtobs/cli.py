"""Command line: ``jwtobs <command>``.

Commands are contributed by the modules listed in ``_COMMAND_MODULES``; each defines
``register(subparsers)`` adding its subcommands with ``set_defaults(func=...)``, where ``func(args) -> int``
is the exit code. A module that is not present in this installation is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

_COMMAND_MODULES = (
    "jwtobs.example",  # example: validate a few good and bad tokens and print the events
    "jwtobs.redact.cli",  # scan, scrub
    "jwtobs.simulate.cli",  # simulate
    "jwtobs.analysis.cli",  # report
    "jwtobs.demo",  # demo (simulate + analysis: composed here, in the CLI layer)
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, modules after the one registering its command are not imported (start-up)."""
    parser = argparse.ArgumentParser(prog="jwtobs", description="Observable JWT validation and token-free logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    want = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name in _COMMAND_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except ModuleNotFoundError:  # the parent package is not part of this installation
            continue
        importlib.import_module(name).register(sub)
        if want is not None and want in sub.choices:
            break
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
