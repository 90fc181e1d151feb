"""Redaction tests start from logging without jwtobs's filters: earlier tests (the web integrations) call
``redact.install()``, which would otherwise scrub records before the code under test (or the control runs that
must see raw leaks) gets them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jwtobs import redact


@pytest.fixture(autouse=True)
def _no_installed_redaction() -> Iterator[None]:
    redact.uninstall()
    yield
    redact.uninstall()
