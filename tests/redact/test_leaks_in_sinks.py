"""Every leak line of the sessions' leak tests (``test_leaks_s*.py``: ``*_LEAKS`` lists of ``(line, secret)``) that
``scrub()`` redacts is redacted by the log redactors too: the stdlib ``LoggingRedactor`` (the message) and the
``StructlogRedactor`` (an event's value). Their cheap gates run before the scrubber and must let each line through;
before session 20 the lines of 13 of them - NickServ's commands, Oracle's logons, SQL's ``IDENTIFIED BY x`` - held
none of the trigger characters ``.:=,%`` and were passed on unscrubbed, though ``scrub()`` redacted them.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import jwtobs
import tests.redact
from jwtobs.redact import StructlogRedactor, scrub
from tests.redact.test_leaks_s19 import _through_logging

_PW = "Xk9pQ2mZ7w"


def _leak_lines() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for info in pkgutil.iter_modules(tests.redact.__path__):
        if not info.name.startswith("test_leaks_s"):
            continue
        module = importlib.import_module(f"tests.redact.{info.name}")
        for name, value in sorted(vars(module).items()):
            if not (name.endswith("LEAKS") and isinstance(value, list)):
                continue
            for k, item in enumerate(value):
                if isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
                    out.append((f"{info.name}.{name}[{k}]", *item))
    return out


LINES = _leak_lines()
# lines the sessions' own tests show scrub() redacting (a few lists hold lines a test expects kept in part)
REDACTED = [(where, text, secret) for where, text, secret in LINES if secret not in scrub(text)]
# ... and the trigger-free forms this file was written for, by name
EXTRA = [
    ("sql", f"CREATE USER bob IDENTIFIED BY {_PW}", _PW),
    ("sql", f'ALTER USER bob IDENTIFIED BY "{_PW}"', _PW),
    ("oracle", f"rman target sys/{_PW}@prod", _PW),
    ("oracle", f"SQL> conn gerald/{_PW}@xepdb1", _PW),
    ("nickserv", f"/msg nickserv identify {_PW}", _PW),
    ("nickserv", f"/ns ghost bob {_PW}", _PW),
]


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="leaks-in-sinks-key", fingerprint_key_id="s")


def test_the_leak_lists_are_found() -> None:
    assert len(REDACTED) >= 140, len(REDACTED)


@pytest.mark.parametrize(("where", "text", "secret"), REDACTED + EXTRA, ids=lambda v: v if "[" in str(v) else None)
def test_a_redacted_leak_line_is_redacted_by_the_log_redactors(where: str, text: str, secret: str) -> None:
    assert secret not in scrub(text), where
    assert secret not in _through_logging(text), where
    event = StructlogRedactor()(None, "info", {"event": text, "detail": text})
    assert secret not in str(event), where
