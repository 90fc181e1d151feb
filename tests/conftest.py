"""Suite-wide: every test starts from an unconfigured jwtobs (configuration is process-global).

Tests read events right after a validation, so they run with synchronous events (``JWTOBS_DEFER=0``, also
inherited by the subprocesses they start); tests of the deferred default pass ``defer=True`` explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from jwtobs import config

os.environ["JWTOBS_DEFER"] = "0"


@pytest.fixture(autouse=True)
def _reset_jwtobs_config() -> Iterator[None]:
    config.reset()
    yield
    config.reset()
