"""Suite-wide: every test starts from an unconfigured jwtobs (configuration is process-global).

Tests read events right after a validation, so they run with synchronous events (``JWTOBS_DEFER=0``, also
inherited by the subprocesses they start); tests of the deferred default pass ``defer=True`` explicitly.

Property tests (hypothesis) draw the same examples on every run (``derandomize``), so a test run, CI's
included, passes or fails the same way each time; ``JWTOBS_FUZZ=1`` draws new random examples on each run (and
more of them where a test has a fuzz profile): the way to look for new failures, whose examples then become
pinned tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from jwtobs import config

os.environ["JWTOBS_DEFER"] = "0"

# (loaded before the test modules are imported: the profiles and @settings they make inherit it)
settings.register_profile("jwtobs-repeatable", derandomize=True, database=None)
if os.environ.get("JWTOBS_FUZZ") != "1":
    settings.load_profile("jwtobs-repeatable")


@pytest.fixture(autouse=True)
def _reset_jwtobs_config() -> Iterator[None]:
    config.reset()
    yield
    config.reset()
