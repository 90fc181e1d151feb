"""FastAPI and Starlette served by uvicorn on 127.0.0.1, driven by real HTTP requests with real tokens."""

from __future__ import annotations

import pytest

from tests.integrations.asgi_apps import fastapi_app, starlette_app
from tests.integrations.harness import Authenticators, Keys, Stack, UvicornThread, check_span_parents, run_matrix

APPS = {"fastapi": fastapi_app, "starlette": starlette_app}


@pytest.mark.parametrize("framework", sorted(APPS))
def test_matrix(framework: str, keys: Keys, stack: Stack, auths: Authenticators) -> None:
    with UvicornThread(APPS[framework](auths, stack), log_level="warning") as server:
        failures = run_matrix(server.base, stack, keys)
    assert failures == []
    assert check_span_parents(stack) == []
