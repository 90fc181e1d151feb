"""Suite-wide: every test starts from an unconfigured jwtobs (configuration is process-global)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jwtobs import config


@pytest.fixture(autouse=True)
def _reset_jwtobs_config() -> Iterator[None]:
    config.reset()
    yield
    config.reset()
