"""A principal one ``BearerAuth`` verified is never taken for another's: a router (or middleware, or
``before_request``) guarded by the users' issuer and a route guarded by the admins' issuer must refuse a user
token (another key, issuer and audience), as the admin route alone does. Before, the principal cached per request
was reused by any later authenticator: 200, the endpoint ran, one ``accepted`` event of the users' profile."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.integrations import BearerAuth, Principal
from jwtobs.integrations.common import remember_principal, verified_principal
from tests.integrations.harness import AUD, ISS, Keys, Stack
from tests.jwks.server import RsaKey

ADMIN_ISS, ADMIN_AUD = "https://admin-idp.test", "api://admin"


class TwoIssuers:
    def __init__(self, keys: Keys) -> None:
        self.admin_key = RsaKey("admin-1")
        users = jwtobs.Profile(name="users", issuer=ISS, audience=AUD)
        admins = jwtobs.Profile(name="admins", issuer=ADMIN_ISS, audience=ADMIN_AUD)
        self.users = BearerAuth(
            jwtobs.Verifier(users, keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()})).verify
        )
        self.admins = BearerAuth(
            jwtobs.Verifier(admins, keys=jwtobs.StaticKeys({"admin-1": self.admin_key.private.public_key()})).verify
        )
        self.user_token = keys.token()
        self.admin_token = self.admin_key.sign(keys.claims(iss=ADMIN_ISS, aud=ADMIN_AUD, sub="root"))


@pytest.fixture
def two(keys: Keys, stack: Stack) -> TwoIssuers:
    return TwoIssuers(keys)


def _outcomes(stack: Stack) -> list[tuple[str, str | None, str]]:
    jwtobs.flush()
    return [(e.outcome, e.reason, e.profile) for e in stack.events if isinstance(e, ValidationEvent)]


def _check(stack: Stack, send: Any, ran: list[str]) -> None:
    """The user token: accepted by the users' authenticator, then refused by the admins' (one event each)."""
    status = send()
    assert status == 401 and ran == []
    assert _outcomes(stack) == [("accepted", None, "users"), ("rejected", "JWT_UNKNOWN_KID", "admins")]


def test_fastapi_router_and_route_with_two_authenticators(two: TwoIssuers, stack: Stack) -> None:
    from fastapi import APIRouter, Depends, FastAPI
    from fastapi.testclient import TestClient

    from jwtobs.integrations.fastapi import jwt_auth

    ran: list[str] = []
    users, admins = jwt_auth(two.users), jwt_auth(two.admins)
    router = APIRouter(dependencies=[Depends(users)])

    @router.get("/admin")
    async def admin(p: Principal = Depends(admins)) -> dict[str, Any]:  # noqa: B008
        ran.append(str(p.subject))
        return {}

    @router.get("/me")
    async def me(p: Principal = Depends(users)) -> dict[str, Any]:  # noqa: B008
        return {"sub": p.subject}

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    _check(stack, lambda: client.get("/admin", headers={"Authorization": f"Bearer {two.user_token}"}).status_code, ran)
    # the same authenticator twice (router and route): verified once, one event
    stack.events.clear()
    r = client.get("/me", headers={"Authorization": f"Bearer {two.user_token}"})
    assert r.status_code == 200 and r.json() == {"sub": "user-123"}
    assert _outcomes(stack) == [("accepted", None, "users")]


def test_starlette_middleware_then_a_fastapi_dependency_of_another_authenticator(two: TwoIssuers, stack: Stack) -> None:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient
    from starlette.middleware import Middleware

    from jwtobs.integrations.fastapi import jwt_auth
    from jwtobs.integrations.starlette import JwtAuthMiddleware

    ran: list[str] = []
    app = FastAPI(middleware=[Middleware(JwtAuthMiddleware, auth=two.users)])

    @app.get("/admin")
    async def admin(p: Principal = Depends(jwt_auth(two.admins))) -> dict[str, Any]:  # noqa: B008
        ran.append(str(p.subject))
        return {}

    client = TestClient(app)
    _check(stack, lambda: client.get("/admin", headers={"Authorization": f"Bearer {two.user_token}"}).status_code, ran)


def test_flask_before_request_then_a_view_of_another_authenticator(two: TwoIssuers, stack: Stack) -> None:
    from flask import Flask

    from jwtobs.integrations.flask import JwtAuth

    ran: list[str] = []
    app = Flask(__name__)
    users, admins = JwtAuth(auth=two.users), JwtAuth(auth=two.admins)
    users.init_app(app)

    @app.before_request
    @users.required()
    def everyone_signed_in() -> None:
        return None

    @app.get("/admin")
    @admins.required()
    def admin() -> dict[str, Any]:
        ran.append("admin")
        return {}

    client = app.test_client()
    _check(stack, lambda: client.get("/admin", headers={"Authorization": f"Bearer {two.user_token}"}).status_code, ran)


def test_a_request_keeps_each_authenticators_principal_apart(two: TwoIssuers) -> None:
    """The store under every framework's request state: a mapping (ASGI scope) or an object (``g``, Django)."""
    p = Principal("u", "user", None, frozenset(), (), {})
    for holder in ({}, SimpleNamespace()):
        assert verified_principal(holder, two.users) is None
        remember_principal(holder, two.users, p)
        assert verified_principal(holder, two.users) is p
        assert verified_principal(holder, two.admins) is None
