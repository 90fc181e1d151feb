from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jwks.server import FakeClock, JwksServer, RsaKey


@pytest.fixture(scope="session")
def rsa_keys() -> list[RsaKey]:
    return [RsaKey(f"k{i}") for i in range(3)]


@pytest.fixture
def server() -> Iterator[JwksServer]:
    s = JwksServer()
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
