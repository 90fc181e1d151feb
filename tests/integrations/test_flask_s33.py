"""Flask fixes of session 33, each with real keys, real signed tokens and a real Flask app.

- The principal belongs to the request, not to the app context: with an app context pushed around the requests (a
  test's ``with app.app_context():``, ``app.app_context().push()`` at import under gunicorn's sync worker) a request
  without a token, with garbage or with another user's expired token was served 200 as the previous caller.
- ``init_app`` on a second app kept the first app's authenticator (the second app's config was ignored).
- ``@jwt.required()`` on an ``async def`` view answered 500 to every valid token (the event said accepted).
- ``jwt = JwtAuth()`` + ``@jwt.required()`` before ``init_app`` (app factory) raised at import.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g
from werkzeug.serving import make_server

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations import BearerAuth, tenant_from_path
from jwtobs.integrations.flask import JwtAuth, current_principal
from tests.integrations.harness import AUD, ISS, Keys, Stack, WsgiThread, request
from tests.jwks.server import RsaKey

OTHER_ISS, OTHER_AUD = "https://other-idp.test", "api://other"


def _verifier(keys: Keys, name: str = "items") -> jwtobs.Verifier:
    profile = jwtobs.Profile(name=name, issuer=ISS, audience=AUD, tenant_claim="tid")
    return jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()}))


def _outcomes(stack: Stack) -> list[tuple[str, str | None]]:
    jwtobs.flush()
    out: list[tuple[str, str | None]] = [(e.outcome, e.reason) for e in stack.events if isinstance(e, ValidationEvent)]
    stack.events.clear()
    return out


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me_app(jwt: JwtAuth, seen: list[Any]) -> Flask:
    app = Flask("s33_me")

    @app.get("/me")
    @jwt.required(scopes=["items:read"])
    def me() -> Any:
        p = current_principal()
        assert p is not None and p is g.principal
        return {"sub": p.subject}

    @app.get("/public")
    def public() -> Any:
        seen.append((g.get("principal"), current_principal()))
        return {"ok": True}

    return app


# -- 1. the principal is the request's -------------------------------------------------------------------------
@pytest.mark.parametrize("init", [True, False], ids=["init_app", "auth-only"])
def test_an_outer_app_context_never_lends_a_principal_to_the_next_request(keys: Keys, stack: Stack, init: bool) -> None:
    auth = BearerAuth(_verifier(keys).verify)
    jwt = JwtAuth(auth=auth)
    seen: list[Any] = []
    app = _me_app(jwt, seen)
    if init:
        jwt.init_app(app)
    client = app.test_client()
    alice, bob_expired = keys.token(sub="alice"), keys.token(sub="bob", exp=1, iat=0)
    with app.app_context():  # the common pytest fixture; every request below shares this context's g
        _outcomes(stack)
        r = client.get("/me", headers=_bearer(alice))
        assert (r.status_code, r.get_json()) == (200, {"sub": "alice"})
        # before session 33: 200 {"sub": "alice"} for each of these three, one "accepted" event for all four
        r = client.get("/me")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="api"'
        assert client.get("/me", headers=_bearer("garbage")).status_code == 401
        r = client.get("/me", headers=_bearer(bob_expired))
        assert r.status_code == 401 and r.get_json() == {"error": "invalid_token"}
        assert _outcomes(stack) == [
            ("accepted", None),
            ("rejected", "JWT_MISSING"),
            ("rejected", "JWT_MALFORMED"),
            ("rejected", "JWT_EXPIRED"),
        ]
        # a public view after a verified request sees no principal, through g or current_principal()
        assert client.get("/me", headers=_bearer(alice)).status_code == 200
        assert client.get("/public").status_code == 200
        assert seen == [(None, None)]
        # nor does the app context once the request is over
        assert "principal" not in g and current_principal() is None
        r = client.get("/me", headers=_bearer(keys.token(sub="carol")))
        assert r.get_json() == {"sub": "carol"}


class _ServerInPushedContext(WsgiThread):
    """Werkzeug's single-threaded server, serving in a thread that pushed the app context first: as gunicorn's sync
    worker serves an app that ran ``app.app_context().push()`` at import (every request in that thread's context)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(make_server("127.0.0.1", 0, app, threaded=False))
        self.app = app
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.app.app_context().push()
        self.server.serve_forever(poll_interval=0.05)


@pytest.fixture
def pushed_server(keys: Keys, stack: Stack) -> Iterator[_ServerInPushedContext]:
    jwt = JwtAuth(auth=BearerAuth(_verifier(keys).verify))
    app = _me_app(jwt, [])
    jwt.init_app(app)
    with _ServerInPushedContext(app) as server:
        yield server


def test_a_real_server_in_a_pushed_app_context(keys: Keys, stack: Stack, pushed_server: _ServerInPushedContext) -> None:
    base = pushed_server.base
    assert request(base, "/me").status == 401
    alice = request(base, "/me", (("Authorization", f"Bearer {keys.token(sub='alice')}"),))
    assert (alice.status, alice.body) == (200, b'{"sub":"alice"}\n')
    # before session 33: 200 {"sub":"alice"} for both
    assert request(base, "/me").status == 401
    assert request(base, "/me", (("Authorization", "Bearer garbage"),)).status == 401


# -- 6. each app its own authenticator -------------------------------------------------------------------------
def test_one_extension_on_two_apps_keeps_each_apps_authenticator(keys: Keys, stack: Stack) -> None:
    other_key = RsaKey("o1")
    other = jwtobs.Verifier(
        jwtobs.Profile(name="other", issuer=OTHER_ISS, audience=OTHER_AUD, tenant_claim="tid"),
        keys=jwtobs.StaticKeys({"o1": other_key.private.public_key()}),
    )
    jwt = JwtAuth()

    def create_app(authenticator: Any, init: bool = True) -> Flask:
        app = Flask("s33_two")
        app.config["JWTOBS_AUTH"] = authenticator
        if init:
            jwt.init_app(app)

        @app.get("/me")
        @jwt.required()
        def me() -> Any:
            return {"sub": g.principal.subject}

        return app

    first, second = create_app(_verifier(keys).verify), create_app(other.verify)
    t1 = keys.token(sub="first-user")
    t2 = other_key.sign(keys.claims(iss=OTHER_ISS, aud=OTHER_AUD, sub="second-user"))
    c1, c2 = first.test_client(), second.test_client()
    assert c1.get("/me", headers=_bearer(t1)).get_json() == {"sub": "first-user"}
    assert c1.get("/me", headers=_bearer(t2)).status_code == 401
    # before session 33: 401 and 200 (the first app's verifier)
    assert c2.get("/me", headers=_bearer(t2)).get_json() == {"sub": "second-user"}
    assert c2.get("/me", headers=_bearer(t1)).status_code == 401
    _outcomes(stack)
    # an app the extension was never initialised for, without auth=: refused (500, the view never runs), never
    # served with another app's authenticator (before: the first app's, 200)
    third = create_app(other.verify, init=False)
    third.testing = True
    with pytest.raises(ConfigurationError, match="not initialised for the app"):
        third.test_client().get("/me", headers=_bearer(t1))
    # jwt.auth in an app context is that app's
    with second.app_context():
        assert jwt.auth.authenticator == other.verify


# -- 8b. async views -------------------------------------------------------------------------------------------
def test_async_view(keys: Keys, stack: Stack) -> None:
    app = Flask("s33_async")
    jwt = JwtAuth(app, auth=BearerAuth(_verifier(keys).verify))
    ran: list[str] = []

    @app.get("/tenants/<tenant>/me")
    @jwt.required(scopes=["items:read"], tenant=tenant_from_path("tenant"))
    async def me(tenant: str) -> Any:
        ran.append(tenant)
        return {"sub": g.principal.subject, "tenant": current_principal().tenant}  # type: ignore[union-attr]

    client = app.test_client()
    _outcomes(stack)
    r = client.get("/tenants/acme/me", headers=_bearer(keys.token(sub="alice")))
    # before session 33: 500 (a coroutine returned to Flask's sync dispatch), after an "accepted" event
    assert (r.status_code, r.get_json()) == (200, {"sub": "alice", "tenant": "acme"})
    assert inspect.iscoroutinefunction(app.view_functions["me"])  # still one, for decorators stacked above
    assert client.get("/tenants/acme/me").status_code == 401
    assert client.get("/tenants/globex/me", headers=_bearer(keys.token())).status_code == 401
    r = client.get("/tenants/acme/me", headers=_bearer(keys.token(scope="other")))
    assert r.status_code == 403 and "insufficient_scope" in r.headers["WWW-Authenticate"]
    assert ran == ["acme"]
    assert _outcomes(stack) == [
        ("accepted", None),
        ("rejected", "JWT_MISSING"),
        ("rejected", "JWT_TENANT_MISMATCH"),
        ("accepted", None),
    ]


# -- 13. the app factory pattern -------------------------------------------------------------------------------
def test_decorating_before_init_app(keys: Keys, stack: Stack) -> None:
    jwt = JwtAuth()  # extensions.py
    # views decorated at import, before any app exists (before session 33: ConfigurationError right here)
    ran: list[str] = []

    def items(tenant: str) -> Any:
        ran.append(tenant)
        return {"sub": g.principal.subject}

    guarded = jwt.required(scopes=["items:read"], tenant=tenant_from_path("tenant"))(items)
    with pytest.raises(ConfigurationError, match="scope-token"):  # a bad scope is still said at once
        jwt.required(scopes=["bad scope\x00"])

    def create_app(config: dict[str, Any]) -> Flask:
        app = Flask("s33_factory")
        app.config.update(config)
        jwt.init_app(app)
        app.add_url_rule("/tenants/<tenant>/items", view_func=guarded)
        return app

    # configuration errors come at init_app, with what to do
    with pytest.raises(ConfigurationError, match=r"JWTOBS_AUTH'\] is not set"):
        create_app({})

    def no_tenant(token: str) -> Any:  # cannot bind the route's tenant
        return _verifier(keys).verify(token)

    with pytest.raises(ConfigurationError, match="tenant binding"):
        create_app({"JWTOBS_AUTH": no_tenant})

    client = create_app({"JWTOBS_AUTH": _verifier(keys).verify, "JWTOBS_REALM": "factory"}).test_client()
    r = client.get("/tenants/acme/items", headers=_bearer(keys.token(sub="alice")))
    assert (r.status_code, r.get_json()) == (200, {"sub": "alice"})
    r = client.get("/tenants/acme/items")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="factory"'
    assert client.get("/tenants/acme/items", headers=_bearer(keys.token(scope="x"))).status_code == 403
    assert ran == ["acme"]


# -- 11. a principal reused by a nested, tenant-bound check ----------------------------------------------------
def test_a_nested_tenant_bound_check_records_its_refusal(keys: Keys, stack: Stack) -> None:
    app = Flask("s33_nested")
    jwt = JwtAuth(app, auth=BearerAuth(_verifier(keys).verify))
    ran: list[str] = []

    @app.get("/tenants/<tenant>/items")
    @jwt.required()
    @jwt.required(scopes=["items:read"], tenant=tenant_from_path("tenant"))
    def items(tenant: str) -> Any:
        ran.append(tenant)
        return {"tenant": tenant}

    client = app.test_client()
    _outcomes(stack)
    assert client.get("/tenants/acme/items", headers=_bearer(keys.token())).status_code == 200
    assert _outcomes(stack) == [("accepted", None)]  # verified once for both decorators
    r = client.get("/tenants/globex/items", headers=_bearer(keys.token()))
    assert r.status_code == 401 and r.get_json() == {"error": "invalid_token"}
    # before session 33: the same 401, but the only event said accepted
    assert _outcomes(stack) == [("accepted", None), ("rejected", "JWT_TENANT_MISMATCH")]
    assert client.get("/tenants/acme/items", headers=_bearer(keys.token(scope="x"))).status_code == 403
    assert ran == ["acme"]
