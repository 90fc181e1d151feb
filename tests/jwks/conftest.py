from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import jwtobs
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


@pytest.fixture
def events() -> list[Any]:
    """Every record jwtobs emits during the test (validation events and key-set changes)."""
    out: list[Any] = []
    jwtobs.configure(sinks=[out.append], fingerprint_key=b"k" * 32, from_env=False)
    return out
