"""Flask served by the Werkzeug server on 127.0.0.1, driven by real HTTP requests with real tokens."""

from __future__ import annotations

from werkzeug.serving import make_server

from tests.integrations.flask_app import flask_app
from tests.integrations.harness import Authenticators, Keys, Stack, WsgiThread, check_span_parents, run_matrix


def test_matrix(keys: Keys, stack: Stack, auths: Authenticators) -> None:
    app = flask_app(auths, stack)
    with WsgiThread(make_server("127.0.0.1", 0, app, threaded=True)) as server:
        failures = run_matrix(server.base, stack, keys)
    assert failures == []
    assert check_span_parents(stack) == []
