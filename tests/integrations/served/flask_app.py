"""Flask app for Werkzeug's development server, gunicorn and waitress."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

from jwtobs.integrations.flask import JwtAuth
from tests.integrations import served

header_auth, query_auth = served.setup()
app = Flask("served")
jwt = JwtAuth(app, auth=header_auth)
jwt_query = JwtAuth(auth=query_auth)


@app.route("/items", methods=["GET", "POST"])
@jwt.required()
def items() -> Any:
    return {"sub": g.principal.subject}


@app.get("/q/items")
@jwt_query.required()
def q_items() -> Any:
    return {"sub": g.principal.subject}


@app.get("/public")
def public() -> Any:
    return {"ok": True}


@app.get("/boom")
@jwt.required()
def boom() -> Any:
    served.boom(dict(request.headers))
    return {}
