from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.harness import Authenticators, Keys, Stack, make_authenticators


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def stack() -> Stack:
    """jwtobs configured with an event list and an in-memory span exporter (reset after each test)."""
    return Stack()


@pytest.fixture
def auths(keys: Keys, stack: Stack) -> Iterator[Authenticators]:
    a = make_authenticators(keys)
    yield a
    a.close()
