"""Django (plain middleware) and DRF served by Django's own server classes on 127.0.0.1, driven by real HTTP
requests with real tokens."""

from __future__ import annotations

import pytest

from tests.integrations.harness import Authenticators, Keys, Stack, check_span_parents, run_matrix

pytest.importorskip("rest_framework")


@pytest.mark.parametrize("prefix", ["", "/drf"], ids=["django", "drf"])
def test_matrix(prefix: str, keys: Keys, stack: Stack, auths: Authenticators) -> None:
    from tests.integrations.django_server import serve

    with serve(auths, stack) as server:
        failures = run_matrix(server.base, stack, keys, prefix=prefix)
    assert failures == []
    assert check_span_parents(stack) == []
